/* test_flow.c: the consent state machine fed with canned answers of docs/protocol.md (no curses,
 * no curl, no network): steps, data, request bodies, kept input, wiped secrets, bad answers;
 * and the redacted trace. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app.h"
#include "flow.h"
#include "problem_spec.h"
#include "trace.h"

#define JSON "application/json"
#define PROB "application/problem+json"

/* ---- canned answers (shapes of protocol.md §4) ---------------------------------------------- */

#define PARTNER_KAKEIBO                                                                      \
	"\"partner\":{\"client_id\":\"kakeibo-demo\",\"name\":{\"ja\":\"デモ家計簿株式会社\","  \
	"\"en\":\"Demo Kakeibo Inc.\"}},"                                                    \
	"\"request\":{\"scopes\":[{\"id\":\"balance\",\"name\":{\"ja\":\"残高照会\",\"en\":" \
	"\"Balance inquiry\"}},{\"id\":\"transactions\",\"name\":{\"ja\":\"入金出金照会\","  \
	"\"en\":\"Transaction inquiry\"}}],\"scope_choice\":true,\"period_days\":365}"

#define PARTNER_MIERU                                                                        \
	"\"partner\":{\"client_id\":\"mieru-demo\",\"name\":{\"ja\":\"ミエル会計株式会社\"}},"  \
	"\"request\":{\"scopes\":[{\"id\":\"balance\",\"name\":{\"ja\":\"残高照会\"}},"       \
	"{\"id\":\"transactions\",\"name\":{\"ja\":\"入金出金照会\"}}],\"scope_choice\":false," \
	"\"period_days\":90}"

#define ENV(step, data) "{\"step\":\"" step "\",\"session_expires_in\":600," PARTNER_KAKEIBO ",\"data\":" data "}"

#define ACC_2000002_UNREG                                                                    \
	"{\"id\":\"acc-001-2000002\",\"branch\":{\"name\":{\"ja\":\"インターネット支店\","     \
	"\"en\":\"Internet Branch\"},\"code\":\"001\"},\"type\":\"ordinary\",\"number\":"   \
	"\"2000002\",\"memo\":\"生活費\",\"pin\":\"unregistered\",\"pin_locked\":false,"      \
	"\"tries_left\":3}"
#define ACC_2000002_PENDING                                                                  \
	"{\"id\":\"acc-001-2000002\",\"branch\":{\"name\":{\"ja\":\"インターネット支店\","     \
	"\"en\":\"Internet Branch\"},\"code\":\"001\"},\"type\":\"ordinary\",\"number\":"   \
	"\"2000002\",\"memo\":\"生活費\",\"pin\":\"pending\",\"pin_locked\":false,"           \
	"\"tries_left\":3}"
#define ACC_1111111(pin, tries)                                                              \
	"{\"id\":\"acc-001-1111111\",\"branch\":{\"name\":{\"ja\":\"インターネット支店\","     \
	"\"en\":\"Internet Branch\"},\"code\":\"001\"},\"type\":\"ordinary\",\"number\":"   \
	"\"1111111\",\"memo\":null,\"pin\":\"" pin "\",\"pin_locked\":false,"                 \
	"\"tries_left\":" tries "}"
#define ACC_1000014                                                                          \
	"{\"id\":\"acc-454-1000014\",\"branch\":{\"name\":{\"ja\":\"豊洲支店\",\"en\":"       \
	"\"Toyosu Branch\"},\"code\":\"454\"},\"type\":\"ordinary\",\"number\":\"1000014\"," \
	"\"memo\":\"給与\",\"pin\":\"registered\",\"pin_locked\":false,\"tries_left\":3}"

static const char start_201[] =
	"{\"session\":\"sess-token-0123456789abcdef\",\"step\":\"login\",\"session_expires_in\":600,"
	PARTNER_KAKEIBO ",\"data\":{\"methods\":[\"password\",\"certificate\"]}}";
static const char question_200[] =
	ENV("question", "{\"question\":{\"ja\":\"証券名を入力してください\",\"en\":\"Enter the name "
			"of your securities company\"},\"masked\":false,\"max_length\":64,"
			"\"tries_left\":3}");
static const char scopes_200[] =
	ENV("scopes", "{\"scopes\":[{\"id\":\"balance\",\"name\":{\"ja\":\"残高照会\",\"en\":"
		      "\"Balance inquiry\"},\"selected\":true},{\"id\":\"transactions\",\"name\":"
		      "{\"ja\":\"入金出金照会\",\"en\":\"Transaction inquiry\"},\"selected\":true}]}");
static const char pins_200[] =
	ENV("pins", "{\"pin_length\":4,\"accounts\":[" ACC_2000002_UNREG "," ACC_1111111(
			    "unregistered", "3") "," ACC_1000014 "]}");
static const char pin_result_200[] =
	ENV("pin_result", "{\"accounts\":[" ACC_2000002_PENDING "," ACC_1111111("pending", "3") ","
				ACC_1000014 "]}");
static const char permission_200[] =
	ENV("permission", "{\"scopes\":[{\"id\":\"balance\",\"name\":{\"ja\":\"残高照会\"}},{\"id\":"
			  "\"transactions\",\"name\":{\"ja\":\"入金出金照会\"}}],\"accounts\":["
			  ACC_2000002_PENDING "," ACC_1111111("pending", "3") "," ACC_1000014 "],"
			  "\"period\":{\"from\":\"2026-11-25\",\"to\":\"2027-11-25\"},"
			  "\"terms\":{\"ja\":\"規約\\n第1条\",\"en\":\"Terms\\nArticle 1\"},"
			  "\"back\":\"pin_result\"}");
static const char done_200[] =
	ENV("done", "{\"scopes\":[{\"id\":\"balance\",\"name\":{\"ja\":\"残高照会\"}}],"
		    "\"period\":{\"from\":\"2026-11-25\",\"to\":\"2027-11-25\"}}");
static const char denied_200[] = ENV("denied", "{}");

/* ---- helpers ------------------------------------------------------------------------------- */

static void apply(struct flow *f, long status, const char *ct, const char *body)
{
	flow_apply(f, status, ct, body, body ? strlen(body) : 0);
}

/* Wiped: empty and every byte of the buffer zero. */
static void assert_wiped(const struct secret *s)
{
	assert_int_equal(s->len, 0);
	for (size_t i = 0; s->buf && i < s->cap; i++)
		assert_int_equal(s->buf[i], 0);
}

static void set(struct secret *s, const char *v)
{
	assert_int_equal(secret_set(s, v, strlen(v)), 0);
}

/* Build action a (must succeed) and return its body parsed (NULL for GET/DELETE). */
static cJSON *build(struct flow *f, enum flow_action a, struct flow_req *r)
{
	assert_int_equal(flow_build(f, a, r), 0);
	if (!r->body)
		return NULL;
	assert_int_equal(strlen(r->body), r->body_len);
	cJSON *j = cJSON_Parse(r->body);
	assert_non_null(j);
	return j;
}

static const char *jstr(const cJSON *o, const char *name)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, name);
	assert_true(cJSON_IsString(m));
	return m->valuestring;
}

/* Build action a (must succeed) and let the request go; no answer applied yet. */
static void send_only(struct flow *f, enum flow_action a)
{
	struct flow_req r;
	cJSON_Delete(build(f, a, &r));
	flow_req_free(&r);
}

static void send_and_apply(struct flow *f, enum flow_action a, long st, const char *ct,
			   const char *body)
{
	send_only(f, a);
	apply(f, st, ct, body);
}

/* A new flow with code typed and the start request sent (no answer yet). */
static void start_code(struct flow *f, const char *code)
{
	flow_init(f);
	set(&f->user_code, code);
	send_only(f, FLOW_ACT_START);
}

/* A flow in step login (partner confirmed). */
static void to_login(struct flow *f)
{
	start_code(f, "wdjb-mjht");
	apply(f, 201, JSON, start_201);
	assert_int_equal(f->step, FLOW_PARTNER);
	flow_confirm_partner(f);
	assert_int_equal(f->step, FLOW_LOGIN);
}

/* A flow in step login with the login ID and the password typed (nothing sent). */
static void login_typed(struct flow *f, const char *login_id, const char *password)
{
	to_login(f);
	set(&f->login.login_id, login_id);
	set(&f->login.password, password);
}

static void to_pins(struct flow *f)
{
	login_typed(f, "yamada01", "Sakura-2026");
	send_and_apply(f, FLOW_ACT_LOGIN, 200, JSON, pins_200);
	assert_int_equal(f->step, FLOW_PINS);
}

/* On the PIN table: tick row i and type its PIN; the rows left without a PIN are unticked (the
 * rows start ticked, as in the seed: the customer unticks the ones not meant). */
static void tick_pin(struct flow *f, size_t i, const char *pin)
{
	f->accounts[i].selected = true;
	set(&f->accounts[i].pin_input, pin);
	for (size_t k = 0; k < f->n_accounts; k++)
		if (f->accounts[k].pin_input.len == 0)
			f->accounts[k].selected = false;
}

/* ---- linked services (a manage session, protocol §4.12) ------------------------------------- */

#define MENV(step, data) "{\"purpose\":\"manage\",\"step\":\"" step "\",\"session_expires_in\":600,\"data\":" data "}"
#define LINK(id, client, name)                                                                  \
	"{\"id\":\"" id "\",\"partner\":{\"client_id\":\"" client "\",\"name\":{\"ja\":\"" name "\"}}," \
	"\"scopes\":[{\"id\":\"balance\",\"name\":{\"ja\":\"残高照会\"}}],\"accounts\":[" ACC_1000014 "]," \
	"\"authorized_on\":\"2026-12-03\",\"valid_until\":\"2027-12-03\"}"

static void manage_list_detail_and_stop_two(void **state)
{
	(void)state;
	struct flow f;
	struct flow_req r;
	flow_init(&f);
	cJSON *j = build(&f, FLOW_ACT_MANAGE, &r);
	assert_string_equal(jstr(j, "purpose"), "manage");
	assert_null(cJSON_GetObjectItemCaseSensitive(j, "user_code"));
	const char *key = jstr(j, "idempotency_key");
	char k1[40];
	snprintf(k1, sizeof k1, "%s", key);
	cJSON_Delete(j);
	flow_req_free(&r);
	/* lost answer: the same key again */
	flow_net_error(&f, PROBLEM_NET_OTHER);
	j = build(&f, FLOW_ACT_MANAGE, &r);
	assert_string_equal(jstr(j, "idempotency_key"), k1);
	cJSON_Delete(j);
	flow_req_free(&r);
	apply(&f, 201, JSON, "{\"session\":\"sess-manage-0123456789abcd\",\"purpose\":\"manage\",\"step\":"
			     "\"login\",\"session_expires_in\":600,\"data\":{\"methods\":[\"password\"]}}");
	assert_int_equal(f.error.kind, PROBLEM_NONE);
	assert_int_equal(f.step, FLOW_PARTNER); /* how to log in */
	assert_null(f.partner.client_id);
	assert_int_equal(flow_choose_method(&f, FLOW_LOGIN_PASSWORD), 0);
	set(&f.login.login_id, "sato02");
	set(&f.login.password, "Momiji-2026");
	send_and_apply(&f, FLOW_ACT_LOGIN, 200, JSON,
		       MENV("links", "{\"links\":[" LINK("7", "kakeibo-demo", "デモ家計簿株式会社") ","
				     LINK("3", "mieru-demo", "ミエル会計株式会社") "]}"));
	assert_int_equal(f.step, FLOW_LINKS);
	assert_wiped(&f.login.password);
	assert_int_equal(f.n_links, 2);
	assert_string_equal(f.links[0].id, "7");
	assert_string_equal(f.links[1].partner.client_id, "mieru-demo");
	assert_int_equal(f.links[0].n_accounts, 1);
	assert_string_equal(f.links[0].to, "2027-12-03");
	/* nothing ticked: no details, no confirmation, no request */
	assert_int_equal(flow_links_detail(&f), -1);
	assert_int_equal(f.error.kind, PROBLEM_INPUT_REQUIRED);
	assert_int_equal(f.error.field, FLOW_FIELD_LINKS);
	assert_int_equal(flow_build(&f, FLOW_ACT_REVOKE, &r), -1); /* not from the list itself */
	f.links[0].selected = f.links[1].selected = true;
	assert_int_equal(flow_links_detail(&f), 0);
	assert_int_equal(f.step, FLOW_LINK_DETAIL);
	flow_links_back(&f);
	assert_int_equal(f.step, FLOW_LINKS);
	assert_true(f.links[0].selected); /* ticks kept */
	assert_int_equal(flow_links_confirm(&f), 0);
	/* the first ticked one; the answer keeps the other's tick: stay on the confirmation */
	j = build(&f, FLOW_ACT_REVOKE, &r);
	assert_string_equal(jstr(j, "link"), "7");
	assert_non_null(cJSON_GetObjectItemCaseSensitive(j, "idempotency_key"));
	cJSON_Delete(j);
	flow_req_free(&r);
	apply(&f, 200, JSON, MENV("links", "{\"links\":[" LINK("3", "mieru-demo", "ミエル会計株式会社") "],"
					   "\"revoked\":" LINK("7", "kakeibo-demo", "デモ家計簿株式会社") "}"));
	assert_int_equal(f.step, FLOW_LINK_CONFIRM);
	assert_int_equal(f.n_stopped, 1);
	assert_string_equal(f.stopped[0].partner.client_id, "kakeibo-demo");
	assert_int_equal(f.n_links, 1);
	assert_true(f.links[0].selected);
	send_and_apply(&f, FLOW_ACT_REVOKE, 200, JSON,
		       MENV("links", "{\"links\":[],\"revoked\":" LINK("3", "mieru-demo", "ミエル会計株式会社") "}"));
	assert_int_equal(f.step, FLOW_LINK_STOPPED);
	assert_int_equal(f.n_stopped, 2);
	flow_links_back(&f);
	assert_int_equal(f.step, FLOW_LINKS);
	assert_int_equal(f.n_stopped, 0);
	assert_int_equal(f.n_links, 0);
	/* end: step ended, final, exit 0 */
	send_and_apply(&f, FLOW_ACT_CANCEL, 200, JSON, MENV("ended", "{}"));
	assert_int_equal(f.step, FLOW_ENDED);
	assert_true(flow_is_final(&f));
	assert_int_equal(flow_exit_code(&f), EXIT_ALLOWED);
	flow_free(&f);
}

static void manage_answers_checked(void **state)
{
	(void)state;
	struct flow f;
	/* a consent answer to a manage start, and a manage step in a consent session: bad answers */
	flow_init(&f);
	send_and_apply(&f, FLOW_ACT_MANAGE, 201, JSON, start_201);
	assert_int_equal(f.error.kind, PROBLEM_BAD_ANSWER);
	flow_free(&f);
	start_code(&f, "wdjb-mjht");
	apply(&f, 201, JSON, "{\"session\":\"sess-x-0123456789abcdef01\",\"purpose\":\"manage\",\"step\":\"links\","
			     "\"session_expires_in\":600,\"data\":{\"links\":[]}}");
	assert_int_equal(f.error.kind, PROBLEM_BAD_ANSWER);
	flow_free(&f);
	/* duplicate link ids, a link without partner */
	flow_init(&f);
	send_and_apply(&f, FLOW_ACT_MANAGE, 201, JSON,
		       "{\"session\":\"sess-manage-0123456789abcd\",\"purpose\":\"manage\",\"step\":"
		       "\"login\",\"session_expires_in\":600,\"data\":{\"methods\":[\"password\"]}}");
	flow_choose_method(&f, FLOW_LOGIN_PASSWORD);
	set(&f.login.login_id, "sato02");
	set(&f.login.password, "x");
	send_and_apply(&f, FLOW_ACT_LOGIN, 200, JSON,
		       MENV("links", "{\"links\":[" LINK("7", "a", "A") "," LINK("7", "b", "B") "]}"));
	assert_int_equal(f.error.kind, PROBLEM_BAD_ANSWER);
	send_and_apply(&f, FLOW_ACT_REFRESH, 200, JSON, MENV("links", "{\"links\":[{\"id\":\"1\"}]}"));
	assert_int_equal(f.error.kind, PROBLEM_BAD_ANSWER);
	send_and_apply(&f, FLOW_ACT_REFRESH, 200, JSON, MENV("links", "{\"links\":[" LINK("7", "a", "A") "]}"));
	assert_int_equal(f.step, FLOW_LINKS);
	/* stopped elsewhere meanwhile: link-unknown drops it, the list shows the message */
	f.links[0].selected = true;
	flow_links_confirm(&f);
	send_and_apply(&f, FLOW_ACT_REVOKE, 404, PROB, "{\"type\":\"urn:renkei:problem:link-unknown\",\"status\":404}");
	assert_int_equal(f.error.kind, PROBLEM_LINK_UNKNOWN);
	assert_int_equal(f.step, FLOW_LINKS);
	assert_int_equal(f.n_links, 0);
	flow_free(&f);
}

/* ---- the whole path of yamada01 ------------------------------------------------------------ */

/* steps[], actions[] (flow.c) and screens[] (app.c) are whole: a step or an action without its
 * handler is found here and at start, never as a silent fall-through. */
static void tables_are_whole(void **state)
{
	(void)state;
	assert_null(flow_tables_check());
	assert_null(app_screens_check());
	for (int s = FLOW_NONE; s < FLOW__NSTEPS; s++)
		assert_string_not_equal(flow_step_name((enum flow_step)s), "") ;
	assert_string_equal(flow_step_name(FLOW_PIN_RESULT), "pin_result");
	assert_string_equal(flow_step_name(FLOW__NSTEPS), "none");
	for (int a = FLOW_ACT_NONE + 1; a < FLOW_ACT__COUNT; a++)
		assert_string_not_equal(flow_action_name((enum flow_action)a), "none");
	assert_string_equal(flow_action_name(FLOW_ACT_PIN_CONFIRM), "pin-confirm");
	assert_string_equal(flow_method_name(FLOW_DELETE), "DELETE");
}

static void yamada_whole_path(void **state)
{
	(void)state;
	struct flow f;
	struct flow_req r;
	cJSON *b;
	flow_init(&f);
	assert_int_equal(f.step, FLOW_CODE);

	/* 0: the code, normalized, with an idempotency key */
	set(&f.user_code, " wdjb-mjht ");
	b = build(&f, FLOW_ACT_START, &r);
	assert_int_equal(r.method, FLOW_POST);
	assert_string_equal(r.path, "/consent/v1/sessions");
	assert_null(r.bearer);
	assert_true(r.idempotent);
	assert_false(r.secret_body);
	assert_string_equal(jstr(b, "user_code"), "WDJBMJHT");
	const char *key = jstr(b, "idempotency_key");
	assert_int_equal(strlen(key), 32);
	char key1[33];
	strcpy(key1, key);
	cJSON_Delete(b);
	flow_req_free(&r);
	assert_null(r.body);
	apply(&f, 201, "application/json; charset=utf-8", start_201);
	assert_int_equal(f.error.kind, PROBLEM_NONE);
	assert_int_equal(f.step, FLOW_PARTNER);
	assert_string_equal(f.session.buf, "sess-token-0123456789abcdef");
	assert_int_equal(f.session_expires_in, 600);
	assert_string_equal(f.partner.client_id, "kakeibo-demo");
	assert_string_equal(l10n_get(&f.partner.name, LANG_JA), "デモ家計簿株式会社");
	assert_string_equal(l10n_get(&f.partner.name, LANG_EN), "Demo Kakeibo Inc.");
	assert_int_equal(f.request.n_scopes, 2);
	assert_string_equal(f.request.scopes[1].id, "transactions");
	assert_string_equal(l10n_get(&f.request.scopes[1].name, LANG_JA), "入金出金照会");
	assert_true(f.request.scope_choice);
	assert_int_equal(f.request.period_days, 365);
	assert_true(f.login.offer_password);
	assert_true(f.login.offer_certificate);
	/* a lost answer: the same code keeps its key */
	assert_string_equal(f.idem_key, key1);

	/* 1-2: login */
	flow_confirm_partner(&f);
	assert_int_equal(f.step, FLOW_LOGIN);
	set(&f.login.login_id, "yamada01");
	set(&f.login.password, "Sakura-2026");
	b = build(&f, FLOW_ACT_LOGIN, &r);
	assert_string_equal(r.path, "/consent/v1/session/login");
	assert_string_equal(r.bearer, "sess-token-0123456789abcdef");
	assert_true(r.secret_body);
	assert_false(r.idempotent);
	assert_string_equal(jstr(b, "method"), "password");
	assert_string_equal(jstr(b, "login_id"), "yamada01");
	assert_string_equal(jstr(b, "password"), "Sakura-2026");
	/* protocol §4.2: every session POST carries an idempotency key, 32 hex digits */
	char subkey1[33];
	snprintf(subkey1, sizeof subkey1, "%s", jstr(b, "idempotency_key"));
	assert_int_equal(strlen(subkey1), 32);
	assert_int_equal(cJSON_GetArraySize(b), 4);
	cJSON_Delete(b);
	/* the answer is lost: sent again (the customer's はい), with the same key; a new
	 * submission gets a new one */
	flow_net_error(&f, PROBLEM_NET_OTHER);
	flow_req_free(&r);
	assert_int_equal(flow_build_retry(&f, &r), 0);
	b = cJSON_Parse(r.body);
	assert_string_equal(jstr(b, "idempotency_key"), subkey1);
	cJSON_Delete(b);
	flow_net_error(&f, PROBLEM_NET_OTHER);
	flow_req_free(&r);
	b = build(&f, FLOW_ACT_LOGIN, &r);
	assert_string_not_equal(jstr(b, "idempotency_key"), subkey1);
	cJSON_Delete(b);
	/* not wiped before an answer came back */
	assert_string_equal(f.login.password.buf, "Sakura-2026");
	apply(&f, 200, JSON, question_200);
	flow_req_free(&r);
	assert_wiped(&f.login.password);
	assert_int_equal(f.step, FLOW_QUESTION);
	assert_string_equal(l10n_get(&f.question.text, LANG_JA), "証券名を入力してください");
	assert_false(f.question.masked);
	assert_int_equal(f.question.max_length, 64);
	assert_int_equal(f.question.tries_left, 3);

	/* 2: the answer */
	set(&f.question.answer, "ひまわり証券");
	b = build(&f, FLOW_ACT_ANSWER, &r);
	assert_string_equal(r.path, "/consent/v1/session/answer");
	assert_true(r.secret_body);
	assert_string_equal(jstr(b, "answer"), "ひまわり証券");
	assert_int_equal(cJSON_GetArraySize(b), 2); /* and its idempotency key */
	cJSON_Delete(b);
	flow_req_free(&r);
	apply(&f, 200, JSON, scopes_200);
	assert_wiped(&f.question.answer);
	assert_int_equal(f.step, FLOW_SCOPES);
	assert_int_equal(f.n_scopes, 2);
	assert_true(f.scopes[0].selected && f.scopes[1].selected);

	/* 3: scopes */
	b = build(&f, FLOW_ACT_SCOPES, &r);
	assert_string_equal(r.path, "/consent/v1/session/scopes");
	assert_false(r.secret_body);
	cJSON *sc = cJSON_GetObjectItemCaseSensitive(b, "scopes");
	assert_int_equal(cJSON_GetArraySize(sc), 2);
	assert_string_equal(cJSON_GetArrayItem(sc, 0)->valuestring, "balance");
	assert_string_equal(cJSON_GetArrayItem(sc, 1)->valuestring, "transactions");
	cJSON_Delete(b);
	flow_req_free(&r);
	apply(&f, 200, JSON, pins_200);

	/* 4: pins */
	assert_int_equal(f.step, FLOW_PINS);
	assert_int_equal(f.pin_length, 4);
	assert_int_equal(f.n_accounts, 3);
	struct flow_account *a0 = &f.accounts[0];
	assert_string_equal(a0->id, "acc-001-2000002");
	assert_string_equal(l10n_get(&a0->branch_name, LANG_JA), "インターネット支店");
	assert_string_equal(a0->branch_code, "001");
	assert_int_equal(a0->type, FLOW_ACCT_ORDINARY);
	assert_string_equal(a0->number, "2000002");
	assert_string_equal(a0->memo, "生活費");
	assert_int_equal(a0->pin, FLOW_PIN_UNREGISTERED);
	assert_true(flow_account_selectable(a0));
	assert_null(f.accounts[1].memo);
	assert_int_equal(f.accounts[2].pin, FLOW_PIN_REGISTERED);
	assert_false(flow_account_selectable(&f.accounts[2]));
	/* the seed's table: every row that can get a PIN starts ticked, the others not */
	assert_true(a0->selected && f.accounts[1].selected);
	assert_false(f.accounts[2].selected);
	f.accounts[2].selected = true; /* not selectable: never sent */
	set(&f.accounts[0].pin_input, "1234");
	set(&f.accounts[1].pin_input, "5678");
	b = build(&f, FLOW_ACT_PINS, &r);
	assert_string_equal(r.path, "/consent/v1/session/pins");
	assert_true(r.secret_body);
	cJSON *pins = cJSON_GetObjectItemCaseSensitive(b, "pins");
	assert_int_equal(cJSON_GetArraySize(pins), 2);
	assert_string_equal(jstr(cJSON_GetArrayItem(pins, 0), "account"), "acc-001-2000002");
	assert_string_equal(jstr(cJSON_GetArrayItem(pins, 0), "pin"), "1234");
	assert_string_equal(jstr(cJSON_GetArrayItem(pins, 1), "account"), "acc-001-1111111");
	assert_string_equal(jstr(cJSON_GetArrayItem(pins, 1), "pin"), "5678");
	cJSON_Delete(b);
	struct secret *p0 = &f.accounts[0].pin_input, *p1 = &f.accounts[1].pin_input;
	apply(&f, 200, JSON, pin_result_200);
	flow_req_free(&r);
	(void)p0;
	(void)p1;
	assert_int_equal(f.step, FLOW_PIN_RESULT);
	for (size_t i = 0; i < f.n_accounts; i++)
		assert_wiped(&f.accounts[i].pin_input);
	assert_int_equal(f.accounts[0].pin, FLOW_PIN_PENDING);
	assert_int_equal(f.accounts[1].pin, FLOW_PIN_PENDING);

	/* 5: confirm */
	/* nothing left to add: the server refuses in this very step; no refresh, error kept */
	send_and_apply(&f, FLOW_ACT_PIN_ADD, 409, PROB,
		       "{\"type\":\"urn:renkei:problem:wrong-step\",\"status\":409,"
		       "\"step\":\"pin_result\"}");
	assert_int_equal(f.error.kind, PROBLEM_WRONG_STEP);
	assert_int_equal(f.error.step, FLOW_PIN_RESULT);
	assert_false(f.refresh);
	assert_int_equal(f.step, FLOW_PIN_RESULT);
	b = build(&f, FLOW_ACT_PIN_CONFIRM, &r);
	assert_string_equal(r.path, "/consent/v1/session/pin-result");
	assert_string_equal(jstr(b, "action"), "confirm");
	cJSON_Delete(b);
	flow_req_free(&r);
	apply(&f, 200, JSON, permission_200);

	/* 6: permission */
	assert_int_equal(f.step, FLOW_PERMISSION);
	assert_int_equal(f.perm.n_scopes, 2);
	assert_int_equal(f.perm.n_accounts, 3);
	assert_string_equal(f.perm.from, "2026-11-25");
	assert_string_equal(f.perm.to, "2027-11-25");
	assert_string_equal(l10n_get(&f.perm.terms, LANG_JA), "規約\n第1条");
	assert_string_equal(l10n_get(&f.perm.terms, LANG_EN), "Terms\nArticle 1");
	assert_int_equal(f.perm.back, FLOW_PIN_RESULT);
	assert_false(f.perm.intent);
	assert_int_equal(flow_build(&f, FLOW_ACT_ALLOW, &r), -1);
	assert_int_equal(f.error.kind, PROBLEM_INTENT_REQUIRED);
	assert_int_equal(f.error.field, FLOW_FIELD_INTENT);
	assert_null(r.body);
	f.perm.intent = true;
	b = build(&f, FLOW_ACT_ALLOW, &r);
	assert_int_equal(f.error.kind, PROBLEM_NONE);
	assert_string_equal(r.path, "/consent/v1/session/decision");
	assert_string_equal(jstr(b, "decision"), "allow");
	assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(b, "intent_confirmed")));
	cJSON_Delete(b);
	flow_req_free(&r);
	apply(&f, 200, JSON, done_200);
	assert_int_equal(f.step, FLOW_DONE);
	assert_true(flow_is_final(&f));
	assert_int_equal(flow_exit_code(&f), EXIT_ALLOWED);
	assert_int_equal(f.perm.n_scopes, 1);
	assert_string_equal(f.perm.to, "2027-11-25");

	/* GET after the decision answers the final step */
	b = build(&f, FLOW_ACT_REFRESH, &r);
	assert_null(b);
	assert_int_equal(r.method, FLOW_GET);
	assert_string_equal(r.path, "/consent/v1/session");
	assert_true(r.idempotent);
	flow_req_free(&r);
	assert_int_equal(flow_build(&f, FLOW_ACT_CANCEL, &r), -1); /* final: no cancel */
	flow_free(&f);
}

/* sato02: login straight to permission (no question, no scopes choice, no pins); back is null. */
static void sato_straight_to_permission(void **state)
{
	(void)state;
	struct flow f;
	struct flow_req r;
	login_typed(&f, "sato02", "Momiji-2026");
	send_and_apply(&f, FLOW_ACT_LOGIN, 200, JSON,
		       "{\"step\":\"permission\",\"session_expires_in\":599," PARTNER_MIERU
		       ",\"data\":{\"scopes\":[{\"id\":\"balance\",\"name\":{\"ja\":\"残高照会\"}},"
		       "{\"id\":\"transactions\",\"name\":{\"ja\":\"入金出金照会\"}}],\"accounts\":["
		       "{\"id\":\"acc-002-2222222\",\"branch\":{\"name\":{\"ja\":\"インターネット支店\"},"
		       "\"code\":\"002\"},\"type\":\"ordinary\",\"number\":\"2222222\",\"memo\":null,"
		       "\"pin\":\"registered\",\"pin_locked\":false,\"tries_left\":3}],"
		       "\"period\":{\"from\":\"2026-11-25\",\"to\":\"2027-02-23\"},"
		       "\"terms\":{\"ja\":\"規約\"},\"back\":null}}");
	assert_int_equal(f.error.kind, PROBLEM_NONE);
	assert_int_equal(f.step, FLOW_PERMISSION);
	assert_wiped(&f.login.password);
	assert_string_equal(f.partner.client_id, "mieru-demo");
	/* en missing: falls back to ja */
	assert_string_equal(l10n_get(&f.partner.name, LANG_EN), "ミエル会計株式会社");
	assert_string_equal(l10n_get(&f.perm.terms, LANG_EN), "規約");
	assert_false(f.request.scope_choice);
	assert_int_equal(f.perm.back, FLOW_NONE);
	assert_int_equal(f.perm.n_accounts, 1);
	/* 「戻る」 with back null is a cancel */
	assert_null(build(&f, FLOW_ACT_BACK, &r));
	assert_int_equal(r.method, FLOW_DELETE);
	assert_string_equal(r.path, "/consent/v1/session");
	assert_int_equal(r.action, FLOW_ACT_CANCEL);
	flow_req_free(&r);
	apply(&f, 200, JSON, "{\"step\":\"denied\",\"session_expires_in\":600," PARTNER_MIERU ",\"data\":{}}");
	assert_int_equal(f.step, FLOW_DENIED);
	assert_int_equal(flow_exit_code(&f), EXIT_DENIED);
	flow_free(&f);
}

static void wrong_password_keeps_id(void **state)
{
	(void)state;
	struct flow f;
	login_typed(&f, "yamada01", "wrong");
	send_and_apply(&f, FLOW_ACT_LOGIN, 401, PROB,
		       "{\"type\":\"urn:renkei:problem:wrong-credentials\",\"title\":\"Wrong login ID "
		       "or password\",\"status\":401,\"detail\":\"x\",\"tries_left\":2}");
	assert_int_equal(f.step, FLOW_LOGIN);
	assert_int_equal(f.error.kind, PROBLEM_WRONG_CREDENTIALS);
	assert_int_equal(f.error.status, 401);
	assert_int_equal(f.error.tries_left, 2);
	assert_int_equal(f.error.field, FLOW_FIELD_PASSWORD);
	assert_false(f.error.can_retry);
	assert_string_equal(f.login.login_id.buf, "yamada01");
	assert_wiped(&f.login.password);
	/* the password must be typed again before the next try */
	struct flow_req r;
	assert_int_equal(flow_build(&f, FLOW_ACT_LOGIN, &r), -1);
	assert_int_equal(f.error.kind, PROBLEM_INPUT_REQUIRED);
	assert_int_equal(f.error.field, FLOW_FIELD_PASSWORD);
	/* unknown login id: no tries_left */
	set(&f.login.password, "x");
	send_and_apply(&f, FLOW_ACT_LOGIN, 401, PROB,
		       "{\"type\":\"urn:renkei:problem:wrong-credentials\",\"status\":401}");
	assert_int_equal(f.error.tries_left, -1);
	flow_free(&f);
}

static void login_locked(void **state)
{
	(void)state;
	struct flow f;
	login_typed(&f, "tanaka04", "Ume-2026");
	send_and_apply(&f, FLOW_ACT_LOGIN, 403, PROB,
		       "{\"type\":\"urn:renkei:problem:login-locked\",\"status\":403,\"title\":\"t\"}");
	assert_int_equal(f.step, FLOW_LOCKED);
	assert_int_equal(f.error.kind, PROBLEM_LOGIN_LOCKED);
	assert_false(f.error.can_retry);
	assert_true(flow_is_final(&f));
	assert_int_equal(flow_exit_code(&f), EXIT_LOCKED);
	assert_wiped(&f.login.password);
	struct flow_req r;
	assert_int_equal(flow_build(&f, FLOW_ACT_LOGIN, &r), -1);
	flow_free(&f);
}

/* protocol §4.5: the last wrong password (tries_left 0) and too many logins (429 at login) are
 * told as such, not as "0 tries left" nor as a user-code problem. */
static void login_limits_in_words(void **state)
{
	(void)state;
	struct flow f;
	char buf[512];
	login_typed(&f, "yamada01", "nope");
	send_and_apply(&f, FLOW_ACT_LOGIN, 401, PROB,
		       "{\"type\":\"urn:renkei:problem:wrong-credentials\",\"status\":401,\"tries_left\":0}");
	app_error_text(&f, buf, sizeof buf);
	assert_non_null(strstr(buf, "ログインがロックされた可能性があります。"));
	assert_null(strstr(buf, "あと0回"));
	set(&f.login.password, "again");
	send_and_apply(&f, FLOW_ACT_LOGIN, 429, PROB,
		       "{\"type\":\"urn:renkei:problem:rate-limited\",\"status\":429,\"retry_after\":42}");
	assert_int_equal(f.error.field, FLOW_FIELD_PASSWORD);
	app_error_text(&f, buf, sizeof buf);
	assert_non_null(strstr(buf, "ログインの試行が続いたため"));
	assert_non_null(strstr(buf, "42秒後"));
	assert_null(strstr(buf, "コード"));
	flow_free(&f);
}

static void wrong_answer_tries(void **state)
{
	(void)state;
	struct flow f;
	login_typed(&f, "yamada01", "Sakura-2026");
	send_and_apply(&f, FLOW_ACT_LOGIN, 200, JSON, question_200);
	set(&f.question.answer, "ちがう証券");
	send_and_apply(&f, FLOW_ACT_ANSWER, 401, PROB,
		       "{\"type\":\"urn:renkei:problem:wrong-answer\",\"status\":401,\"tries_left\":1}");
	assert_int_equal(f.step, FLOW_QUESTION);
	assert_int_equal(f.error.kind, PROBLEM_WRONG_ANSWER);
	assert_int_equal(f.error.tries_left, 1);
	assert_int_equal(f.question.tries_left, 1);
	assert_int_equal(f.error.field, FLOW_FIELD_ANSWER);
	assert_wiped(&f.question.answer);
	/* the question itself stays */
	assert_string_equal(l10n_get(&f.question.text, LANG_EN),
			    "Enter the name of your securities company");
	/* third wrong answer: locked */
	set(&f.question.answer, "x");
	send_and_apply(&f, FLOW_ACT_ANSWER, 403, PROB,
		       "{\"type\":\"urn:renkei:problem:login-locked\",\"status\":403}");
	assert_int_equal(f.step, FLOW_LOCKED);
	flow_free(&f);
}

/* One wrong PIN of two rows: per-row results, the right one registered, the wrong one cleared
 * with its tries, a row not submitted keeps what was typed. */
static void one_wrong_pin_of_two(void **state)
{
	(void)state;
	struct flow f;
	struct flow_req r;
	login_typed(&f, "yamada01", "Sakura-2026");
	static const char pins4[] =
		ENV("pins", "{\"pin_length\":4,\"accounts\":[" ACC_2000002_UNREG "," ACC_1111111(
				    "unregistered", "3") "," ACC_1000014 ","
				    "{\"id\":\"acc-x\",\"branch\":{\"name\":{\"ja\":\"本店\"},\"code\":"
				    "\"100\"},\"type\":\"savings\",\"number\":\"9\",\"pin\":"
				    "\"unregistered\",\"pin_locked\":false}]}");
	send_and_apply(&f, FLOW_ACT_LOGIN, 200, JSON, pins4);
	assert_int_equal(f.step, FLOW_PINS);
	assert_int_equal(f.n_accounts, 4);
	assert_int_equal(f.accounts[3].type, FLOW_ACCT_SAVINGS);
	assert_null(f.accounts[3].memo); /* absent memo */
	assert_int_equal(f.accounts[3].tries_left, -1);
	f.accounts[0].selected = f.accounts[1].selected = true;
	set(&f.accounts[0].pin_input, "1234");
	set(&f.accounts[1].pin_input, "0000");
	set(&f.accounts[3].pin_input, "42"); /* typed but not ticked: not sent, kept */
	f.accounts[3].selected = false;       /* (rows start ticked: the customer unticked it) */
	cJSON *b = build(&f, FLOW_ACT_PINS, &r);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(b, "pins")), 2);
	cJSON_Delete(b);
	apply(&f, 422, PROB,
	      "{\"type\":\"urn:renkei:problem:pin-wrong\",\"status\":422,\"title\":\"t\","
	      "\"results\":[{\"account\":\"acc-001-2000002\",\"result\":\"registered\"},"
	      "{\"account\":\"acc-001-1111111\",\"result\":\"wrong_pin\",\"tries_left\":2}],"
	      "\"accounts\":[" ACC_2000002_PENDING "," ACC_1111111("unregistered", "2") ","
	      ACC_1000014 ",{\"id\":\"acc-x\",\"branch\":{\"name\":{\"ja\":\"本店\"},\"code\":"
	      "\"100\"},\"type\":\"savings\",\"number\":\"9\",\"pin\":\"unregistered\","
	      "\"pin_locked\":false}]}");
	flow_req_free(&r);
	assert_int_equal(f.step, FLOW_PINS);
	assert_int_equal(f.error.kind, PROBLEM_PIN_WRONG);
	assert_int_equal(f.error.field, FLOW_FIELD_PINS);
	assert_int_equal(f.n_accounts, 4);
	assert_int_equal(f.accounts[0].pin, FLOW_PIN_PENDING);
	assert_int_equal(f.accounts[0].result, FLOW_ROW_REGISTERED);
	assert_false(f.accounts[0].selected);
	assert_wiped(&f.accounts[0].pin_input);
	assert_int_equal(f.accounts[1].result, FLOW_ROW_WRONG);
	assert_int_equal(f.accounts[1].result_tries_left, 2);
	assert_int_equal(f.accounts[1].tries_left, 2);
	assert_true(f.accounts[1].selected);
	assert_wiped(&f.accounts[1].pin_input);
	assert_int_equal(f.accounts[2].result, FLOW_ROW_NONE);
	assert_int_equal(f.accounts[3].result, FLOW_ROW_NONE);
	assert_string_equal(f.accounts[3].pin_input.buf, "42");

	/* retype only the wrong row; the next request sends only it */
	set(&f.accounts[1].pin_input, "5678");
	b = build(&f, FLOW_ACT_PINS, &r);
	cJSON *pins = cJSON_GetObjectItemCaseSensitive(b, "pins");
	assert_int_equal(cJSON_GetArraySize(pins), 1);
	assert_string_equal(jstr(cJSON_GetArrayItem(pins, 0), "account"), "acc-001-1111111");
	cJSON_Delete(b);
	/* the row goes to lock on the third wrong one */
	apply(&f, 422, PROB,
	      "{\"type\":\"urn:renkei:problem:pin-wrong\",\"status\":422,"
	      "\"results\":[{\"account\":\"acc-001-1111111\",\"result\":\"locked\"}],"
	      "\"accounts\":[" ACC_2000002_PENDING ",{\"id\":\"acc-001-1111111\",\"branch\":"
	      "{\"name\":{\"ja\":\"インターネット支店\"},\"code\":\"001\"},\"type\":\"ordinary\","
	      "\"number\":\"1111111\",\"memo\":null,\"pin\":\"unregistered\",\"pin_locked\":true,"
	      "\"tries_left\":0}," ACC_1000014 "]}");
	flow_req_free(&r);
	assert_int_equal(f.n_accounts, 3);
	assert_int_equal(f.accounts[0].result, FLOW_ROW_REGISTERED); /* earlier result stands */
	assert_int_equal(f.accounts[1].result, FLOW_ROW_LOCKED);
	assert_true(f.accounts[1].pin_locked);
	assert_false(flow_account_selectable(&f.accounts[1]));
	assert_false(f.accounts[1].selected);
	flow_free(&f);
}

static void pin_format_and_local_checks(void **state)
{
	(void)state;
	struct flow f;
	struct flow_req r;
	to_pins(&f);
	/* nothing ticked (the customer unticked both rows) */
	f.accounts[0].selected = f.accounts[1].selected = false;
	assert_int_equal(flow_build(&f, FLOW_ACT_PINS, &r), -1);
	assert_int_equal(f.error.kind, PROBLEM_PIN_REQUIRED);
	/* ticked, one empty, one too short: local, nothing sent */
	f.accounts[0].selected = f.accounts[1].selected = true;
	set(&f.accounts[1].pin_input, "12a");
	assert_int_equal(flow_build(&f, FLOW_ACT_PINS, &r), -1);
	assert_int_equal(f.error.kind, PROBLEM_INPUT_FORMAT);
	assert_int_equal(f.accounts[0].result, FLOW_ROW_EMPTY);
	assert_int_equal(f.accounts[1].result, FLOW_ROW_FORMAT);
	assert_string_equal(f.accounts[1].pin_input.buf, "12a"); /* nothing lost */
	assert_null(r.body);
	/* server-side format problem */
	set(&f.accounts[0].pin_input, "1234");
	set(&f.accounts[1].pin_input, "5678");
	send_and_apply(&f, FLOW_ACT_PINS, 422, PROB,
		       "{\"type\":\"urn:renkei:problem:pin-format\",\"status\":422,"
		       "\"results\":[{\"account\":\"acc-001-2000002\",\"result\":\"format\"},"
		       "{\"account\":\"acc-001-1111111\",\"result\":\"registered\"}],"
		       "\"accounts\":[" ACC_2000002_UNREG "," ACC_1111111("pending", "3") ","
		       ACC_1000014 "]}");
	assert_int_equal(f.error.kind, PROBLEM_PIN_FORMAT);
	assert_int_equal(f.accounts[0].result, FLOW_ROW_FORMAT);
	assert_true(f.accounts[0].selected);
	assert_int_equal(f.accounts[1].result, FLOW_ROW_REGISTERED);
	assert_wiped(&f.accounts[0].pin_input);
	assert_wiped(&f.accounts[1].pin_input);
	/* a pin-wrong whose results name an unknown account is a bad answer */
	set(&f.accounts[0].pin_input, "1234");
	send_and_apply(&f, FLOW_ACT_PINS, 422, PROB,
		       "{\"type\":\"urn:renkei:problem:pin-wrong\",\"status\":422,"
		       "\"results\":[{\"account\":\"nope\",\"result\":\"registered\"}],"
		       "\"accounts\":[" ACC_2000002_UNREG "]}");
	assert_int_equal(f.error.kind, PROBLEM_BAD_ANSWER);
	assert_int_equal(f.n_accounts, 3); /* table unchanged */
	assert_wiped(&f.accounts[0].pin_input); /* but it was answered: wiped */
	flow_free(&f);
}

static void pin_result_add_and_permission_back(void **state)
{
	(void)state;
	struct flow f;
	struct flow_req r;
	to_pins(&f);
	tick_pin(&f, 0, "1234");
	send_and_apply(&f, FLOW_ACT_PINS, 200, JSON,
		       ENV("pin_result", "{\"accounts\":[" ACC_2000002_PENDING "," ACC_1111111(
						 "unregistered", "3") "," ACC_1000014 "]}"));
	assert_int_equal(f.step, FLOW_PIN_RESULT);
	cJSON *b = build(&f, FLOW_ACT_PIN_ADD, &r);
	assert_string_equal(jstr(b, "action"), "add");
	cJSON_Delete(b);
	flow_req_free(&r);
	apply(&f, 200, JSON,
	      ENV("pins", "{\"pin_length\":4,\"accounts\":[" ACC_2000002_PENDING "," ACC_1111111(
				  "unregistered", "3") "," ACC_1000014 "]}"));
	assert_int_equal(f.step, FLOW_PINS);
	assert_false(flow_account_selectable(&f.accounts[0]));
	assert_true(flow_account_selectable(&f.accounts[1]));
	tick_pin(&f, 1, "5678");
	send_and_apply(&f, FLOW_ACT_PINS, 200, JSON, pin_result_200);
	send_and_apply(&f, FLOW_ACT_PIN_CONFIRM, 200, JSON, permission_200);
	assert_int_equal(f.step, FLOW_PERMISSION);
	f.perm.intent = true;
	/* GET while on permission keeps the checkbox */
	send_and_apply(&f, FLOW_ACT_REFRESH, 200, JSON, permission_200);
	assert_true(f.perm.intent);
	/* 戻る */
	b = build(&f, FLOW_ACT_BACK, &r);
	assert_int_equal(r.method, FLOW_POST);
	assert_string_equal(r.path, "/consent/v1/session/back");
	assert_int_equal(cJSON_GetArraySize(b), 1); /* the idempotency key only */
	assert_non_null(jstr(b, "idempotency_key"));
	assert_true(cJSON_IsObject(b));
	cJSON_Delete(b);
	flow_req_free(&r);
	apply(&f, 200, JSON, pin_result_200);
	assert_int_equal(f.step, FLOW_PIN_RESULT);
	send_and_apply(&f, FLOW_ACT_PIN_CONFIRM, 200, JSON, permission_200);
	assert_false(f.perm.intent); /* a new visit starts unticked */
	flow_free(&f);
}

static void intent_required_from_server(void **state)
{
	(void)state;
	struct flow f;
	to_pins(&f);
	tick_pin(&f, 0, "1234");
	send_and_apply(&f, FLOW_ACT_PINS, 200, JSON, pin_result_200);
	send_and_apply(&f, FLOW_ACT_PIN_CONFIRM, 200, JSON, permission_200);
	f.perm.intent = true;
	send_and_apply(&f, FLOW_ACT_ALLOW, 422, PROB,
		       "{\"type\":\"urn:renkei:problem:intent-required\",\"status\":422}");
	assert_int_equal(f.step, FLOW_PERMISSION);
	assert_int_equal(f.error.kind, PROBLEM_INTENT_REQUIRED);
	assert_int_equal(f.error.field, FLOW_FIELD_INTENT);
	assert_int_equal(f.perm.n_accounts, 3);
	/* deny */
	struct flow_req r;
	cJSON *b = build(&f, FLOW_ACT_DENY, &r);
	assert_string_equal(jstr(b, "decision"), "deny");
	assert_null(cJSON_GetObjectItemCaseSensitive(b, "intent_confirmed"));
	cJSON_Delete(b);
	flow_req_free(&r);
	apply(&f, 200, JSON, denied_200);
	assert_int_equal(f.step, FLOW_DENIED);
	assert_int_equal(flow_exit_code(&f), EXIT_DENIED);
	flow_free(&f);
}

/* Every problem type of protocol §5 maps to its enum, with its extras. */
static void every_problem_type(void **state)
{
	(void)state;
	for (size_t i = 0; i < PROBLEM_SPEC_COUNT; i++) {
		const struct problem_spec *t = &problem_spec[i];
		struct flow f;
		char body[2048];
		to_pins(&f);
		tick_pin(&f, 0, "1234");
		if (t->kind == PROBLEM_PIN_WRONG || t->kind == PROBLEM_PIN_FORMAT)
			snprintf(body, sizeof body,
				 "{\"type\":\"urn:renkei:problem:%s\",\"status\":%d,\"title\":\"T\","
				 "\"results\":[{\"account\":\"acc-001-2000002\",\"result\":\"%s\"}],"
				 "\"accounts\":[" ACC_2000002_UNREG "]}",
				 t->name, t->status,
				 t->kind == PROBLEM_PIN_WRONG ? "wrong_pin" : "format");
		else
			snprintf(body, sizeof body,
				 "{\"type\":\"urn:renkei:problem:%s\",\"status\":%d,\"title\":\"T\","
				 "\"detail\":\"D\",\"tries_left\":1,\"retry_after\":30,"
				 "\"scope\":\"balance\",\"step\":\"permission\"}",
				 t->name, t->status);
		send_and_apply(&f, FLOW_ACT_PINS, t->status, PROB, body);
		assert_int_equal(f.error.kind, t->kind);
		assert_int_equal(f.error.status, t->status);
		assert_wiped(&f.accounts[0].pin_input);
		switch (t->kind) {
		case PROBLEM_LOGIN_LOCKED: assert_int_equal(f.step, FLOW_LOCKED); break;
		case PROBLEM_SESSION_EXPIRED:
		case PROBLEM_SESSION_UNKNOWN:
			assert_int_equal(f.step, FLOW_FATAL);
			assert_int_equal(flow_exit_code(&f), EXIT_ERROR);
			assert_wiped(&f.session);
			break;
		case PROBLEM_WRONG_STEP:
			assert_int_equal(f.error.step, FLOW_PERMISSION);
			assert_true(f.refresh);
			assert_int_equal(f.step, FLOW_PINS);
			break;
		case PROBLEM_RATE_LIMITED:
			assert_int_equal(f.error.retry_after, 30);
			assert_true(f.error.can_retry);
			break;
		case PROBLEM_SCOPE_UNKNOWN:
		case PROBLEM_SCOPE_INSUFFICIENT:
			assert_string_equal(f.error.scope, "balance");
			break;
		case PROBLEM_WRONG_CREDENTIALS:
		case PROBLEM_WRONG_ANSWER: assert_int_equal(f.error.tries_left, 1); break;
		case PROBLEM_INTERNAL: assert_true(f.error.can_retry); break;
		default: assert_int_equal(f.step, FLOW_PINS); break;
		}
		flow_free(&f);
	}
	/* an unknown type is not a bad answer but is not guessed either */
	struct flow f;
	login_typed(&f, "a", "b");
	send_and_apply(&f, FLOW_ACT_LOGIN, 418, PROB, "{\"type\":\"urn:renkei:problem:teapot\"}");
	assert_int_equal(f.error.kind, PROBLEM_UNKNOWN_TYPE);
	assert_int_equal(f.step, FLOW_LOGIN);
	flow_free(&f);
}

/* wrong-step after a retried POST: refresh (GET) and show the server's step. */
static void wrong_step_then_refresh(void **state)
{
	(void)state;
	struct flow f;
	struct flow_req r;
	login_typed(&f, "yamada01", "Sakura-2026");
	/* the answer was lost: everything typed stays, retry offered */
	assert_int_equal(flow_build(&f, FLOW_ACT_LOGIN, &r), 0);
	flow_net_error(&f, PROBLEM_NET_TIMEOUT);
	flow_req_free(&r);
	assert_int_equal(f.error.kind, PROBLEM_NET_TIMEOUT);
	assert_true(f.error.can_retry);
	assert_string_equal(f.login.password.buf, "Sakura-2026");
	assert_string_equal(f.login.login_id.buf, "yamada01");
	assert_int_equal(f.step, FLOW_LOGIN);
	cJSON *b;
	assert_int_equal(flow_build_retry(&f, &r), 0);
	b = cJSON_Parse(r.body);
	assert_string_equal(jstr(b, "password"), "Sakura-2026");
	cJSON_Delete(b);
	/* the first one had gone through */
	apply(&f, 409, PROB,
	      "{\"type\":\"urn:renkei:problem:wrong-step\",\"status\":409,\"step\":\"question\"}");
	flow_req_free(&r);
	assert_true(f.refresh);
	assert_int_equal(f.error.step, FLOW_QUESTION);
	assert_wiped(&f.login.password);
	assert_null(build(&f, FLOW_ACT_REFRESH, &r));
	assert_false(f.refresh);
	assert_int_equal(f.error.kind, PROBLEM_NONE);
	apply(&f, 200, JSON, question_200);
	flow_req_free(&r);
	assert_int_equal(f.step, FLOW_QUESTION);
	flow_free(&f);
}

/* A cancel whose answer was lost is resent (idempotent); if the first one had been taken, the
 * resent one meets wrong-step naming the final step, the refresh reads it: denied. */
static void cancel_resent_after_it_was_taken(void **state)
{
	(void)state;
	struct flow f;
	struct flow_req r;
	login_typed(&f, "yamada01", "Sakura-2026");
	assert_null(build(&f, FLOW_ACT_CANCEL, &r));
	assert_int_equal(r.method, FLOW_DELETE);
	assert_true(r.idempotent);
	flow_req_free(&r);
	/* the resent DELETE: the session is already denied */
	assert_null(build(&f, FLOW_ACT_CANCEL, &r));
	apply(&f, 409, PROB,
	      "{\"type\":\"urn:renkei:problem:wrong-step\",\"status\":409,\"step\":\"denied\"}");
	flow_req_free(&r);
	assert_true(f.refresh);
	assert_null(build(&f, FLOW_ACT_REFRESH, &r));
	assert_true(r.idempotent);
	apply(&f, 200, JSON, denied_200);
	flow_req_free(&r);
	assert_int_equal(f.step, FLOW_DENIED);
	assert_int_equal(flow_exit_code(&f), EXIT_DENIED);
	assert_wiped(&f.login.password);
	/* final: nothing more to cancel */
	assert_int_equal(flow_build(&f, FLOW_ACT_CANCEL, &r), -1);
	flow_free(&f);
}

static void start_errors_and_keys(void **state)
{
	(void)state;
	struct flow f;
	struct flow_req r;
	flow_init(&f);
	/* local checks */
	assert_int_equal(flow_build(&f, FLOW_ACT_START, &r), -1);
	assert_int_equal(f.error.kind, PROBLEM_INPUT_REQUIRED);
	assert_int_equal(f.error.field, FLOW_FIELD_USER_CODE);
	assert_int_equal(flow_exit_code(&f), EXIT_DENIED);
	set(&f.user_code, " - ");
	assert_int_equal(flow_build(&f, FLOW_ACT_START, &r), -1);
	assert_int_equal(f.error.kind, PROBLEM_INPUT_REQUIRED);
	set(&f.user_code, "WDJB_MJHT");
	assert_int_equal(flow_build(&f, FLOW_ACT_START, &r), -1);
	assert_int_equal(f.error.kind, PROBLEM_INPUT_FORMAT);
	/* only start is allowed before a session */
	assert_int_equal(flow_build(&f, FLOW_ACT_LOGIN, &r), -1);
	assert_int_equal(f.error.kind, PROBLEM_WRONG_STEP);
	assert_int_equal(flow_build(&f, FLOW_ACT_CANCEL, &r), -1);
	assert_int_equal(flow_build(&f, FLOW_ACT_REFRESH, &r), -1);

	set(&f.user_code, "wdjbmjht");
	send_only(&f, FLOW_ACT_START);
	char k1[33];
	strcpy(k1, f.idem_key);
	apply(&f, 404, PROB, "{\"type\":\"urn:renkei:problem:user-code-unknown\",\"status\":404}");
	assert_int_equal(f.step, FLOW_CODE);
	assert_int_equal(f.error.kind, PROBLEM_USER_CODE_UNKNOWN);
	assert_int_equal(f.error.field, FLOW_FIELD_USER_CODE);
	assert_string_equal(f.user_code.buf, "wdjbmjht"); /* kept for correction */
	assert_int_equal(flow_exit_code(&f), EXIT_ERROR);
	/* same code (differently typed): same key; another code: a new key */
	set(&f.user_code, "WDJB-MJHT");
	send_only(&f, FLOW_ACT_START);
	assert_string_equal(f.idem_key, k1);
	flow_net_error(&f, PROBLEM_NET_CONNECT);
	set(&f.user_code, "BCDF-GHJK");
	send_only(&f, FLOW_ACT_START);
	assert_string_not_equal(f.idem_key, k1);
	apply(&f, 429, PROB,
	      "{\"type\":\"urn:renkei:problem:rate-limited\",\"status\":429,\"retry_after\":42}");
	assert_int_equal(f.error.retry_after, 42);
	assert_true(f.error.can_retry);
	assert_int_equal(f.step, FLOW_CODE);

	/* session-expired later: fatal, then restart keeps the code with a new key */
	strcpy(k1, f.idem_key);
	send_only(&f, FLOW_ACT_START);
	apply(&f, 201, JSON, start_201);
	flow_confirm_partner(&f);
	assert_null(build(&f, FLOW_ACT_REFRESH, &r));
	flow_req_free(&r);
	apply(&f, 401, PROB, "{\"type\":\"urn:renkei:problem:session-expired\",\"status\":401}");
	assert_int_equal(f.step, FLOW_FATAL);
	flow_restart(&f);
	assert_int_equal(f.step, FLOW_CODE);
	assert_string_equal(f.user_code.buf, "BCDF-GHJK");
	assert_int_equal(f.session.len, 0);
	assert_null(f.partner.client_id);
	send_only(&f, FLOW_ACT_START);
	assert_string_not_equal(f.idem_key, k1);
	flow_reset(&f);
	assert_int_equal(f.user_code.len, 0);
	flow_free(&f);
}

/* The start answer with only a certificate method; a GET while confirming stays on the partner. */
static void login_methods_and_partner(void **state)
{
	(void)state;
	struct flow f;
	struct flow_req r;
	start_code(&f, "WDJBMJHT");
	apply(&f, 201, JSON,
	      "{\"session\":\"s1\",\"step\":\"login\"," PARTNER_KAKEIBO
	      ",\"data\":{\"methods\":[\"certificate\",\"fido\"]}}");
	assert_int_equal(f.step, FLOW_PARTNER);
	assert_false(f.login.offer_password);
	assert_true(f.login.offer_certificate);
	assert_int_equal(f.login.method, FLOW_LOGIN_CERTIFICATE);
	assert_int_equal(f.session_expires_in, -1);
	send_and_apply(&f, FLOW_ACT_REFRESH, 200, JSON,
		       "{\"step\":\"login\",\"data\":{\"methods\":[\"certificate\"]}}");
	assert_int_equal(f.step, FLOW_PARTNER);
	/* cancel from the partner screen */
	assert_null(build(&f, FLOW_ACT_CANCEL, &r));
	assert_int_equal(r.method, FLOW_DELETE);
	assert_string_equal(r.bearer, "s1");
	flow_req_free(&r);
	apply(&f, 200, JSON, "{\"step\":\"denied\"}"); /* partner/request kept from before */
	assert_int_equal(f.step, FLOW_DENIED);
	flow_free(&f);

	to_login(&f);
	f.login.method = FLOW_LOGIN_CERTIFICATE;
	set(&f.login.password, "Kaede-2026");
	cJSON *b = build(&f, FLOW_ACT_LOGIN, &r);
	assert_string_equal(jstr(b, "method"), "certificate");
	assert_null(cJSON_GetObjectItemCaseSensitive(b, "login_id"));
	assert_string_equal(jstr(b, "password"), "Kaede-2026");
	cJSON_Delete(b);
	flow_req_free(&r);
	apply(&f, 401, PROB, "{\"type\":\"urn:renkei:problem:certificate-required\"}");
	assert_int_equal(f.error.kind, PROBLEM_CERTIFICATE_REQUIRED);
	assert_int_equal(f.step, FLOW_LOGIN);
	flow_free(&f);
}

/* Malformed answers: bad-answer error, step and data unchanged, no crash. */
static void malformed_answers(void **state)
{
	(void)state;
	static const struct {
		long status;
		const char *ct;
		const char *body;
	} t[] = {
		{200, JSON, ""},
		{200, JSON, NULL},
		{200, JSON, "not json"},
		{200, JSON, "[]"},
		{200, JSON, "\"pins\""},
		{200, JSON, "{}"},
		{200, JSON, "{\"step\":1}"},
		{200, JSON, "{\"step\":\"nowhere\",\"data\":{}}"},
		{200, JSON, "{\"step\":null,\"data\":{}}"},
		{200, JSON, "{\"step\":\"pins\"}"},
		{200, JSON, "{\"step\":\"pins\",\"data\":[]}"},
		{200, JSON, "{\"step\":\"pins\",\"data\":{\"pin_length\":4}}"},
		{200, JSON, "{\"step\":\"pins\",\"data\":{\"pin_length\":\"4\",\"accounts\":[]}}"},
		{200, JSON, "{\"step\":\"pins\",\"data\":{\"pin_length\":1e308,\"accounts\":["
			    ACC_2000002_UNREG "]}}"},
		{200, JSON, "{\"step\":\"pins\",\"data\":{\"pin_length\":-4,\"accounts\":["
			    ACC_2000002_UNREG "]}}"},
		{200, JSON, "{\"step\":\"pins\",\"data\":{\"pin_length\":4.5,\"accounts\":["
			    ACC_2000002_UNREG "]}}"},
		{200, JSON, "{\"step\":\"pins\",\"data\":{\"pin_length\":4,\"accounts\":{}}}"},
		{200, JSON, "{\"step\":\"pins\",\"data\":{\"pin_length\":4,\"accounts\":[1]}}"},
		{200, JSON, "{\"step\":\"pins\",\"data\":{\"pin_length\":4,\"accounts\":[{}]}}"},
		{200, JSON, "{\"step\":\"pins\",\"data\":{\"pin_length\":4,\"accounts\":["
			    ACC_2000002_UNREG "," ACC_2000002_UNREG "]}}"},
		{200, JSON, "{\"step\":\"pins\",\"data\":{\"pin_length\":4,\"accounts\":[{\"id\":"
			    "\"a\",\"branch\":{\"name\":{\"ja\":\"x\"},\"code\":\"1\"},\"type\":"
			    "\"ordinary\",\"number\":\"1\",\"pin\":\"maybe\",\"pin_locked\":false}]}}"},
		{200, JSON, "{\"step\":\"pins\",\"data\":{\"pin_length\":4,\"accounts\":[{\"id\":"
			    "\"a\",\"branch\":{\"name\":{\"en\":\"x\"},\"code\":\"1\"},\"type\":"
			    "\"ordinary\",\"number\":\"1\",\"pin\":\"registered\",\"pin_locked\":false}]}}"},
		{200, JSON, "{\"step\":\"pins\",\"data\":{\"pin_length\":4,\"accounts\":[{\"id\":"
			    "\"a\",\"branch\":{\"name\":{\"ja\":\"x\"},\"code\":\"1\"},\"type\":"
			    "\"ordinary\",\"number\":\"1\",\"pin\":\"registered\",\"pin_locked\":0}]}}"},
		{200, JSON, "{\"step\":\"pins\",\"data\":{\"pin_length\":4,\"accounts\":[{\"id\":"
			    "\"a\",\"branch\":{\"name\":{\"ja\":\"x\"},\"code\":\"1\"},\"type\":"
			    "\"ordinary\",\"number\":\"1\",\"pin\":\"registered\",\"pin_locked\":false,"
			    "\"tries_left\":1e400}]}}"},
		{200, JSON, "{\"step\":\"question\",\"data\":{\"question\":\"plain string\","
			    "\"masked\":false,\"max_length\":64}}"},
		{200, JSON, "{\"step\":\"question\",\"data\":{\"question\":{\"ja\":\"q\"},"
			    "\"masked\":false,\"max_length\":99999999999999999999}}"},
		{200, JSON, "{\"step\":\"scopes\",\"data\":{\"scopes\":[{\"id\":\"b\",\"name\":"
			    "{\"ja\":\"b\"}}]}}"},
		{200, JSON, "{\"step\":\"scopes\",\"data\":{\"scopes\":[]}}"},
		{200, JSON, "{\"step\":\"login\",\"data\":{\"methods\":[]}}"},
		{200, JSON, "{\"step\":\"login\",\"data\":{\"methods\":[\"fido\"]}}"},
		{200, JSON, "{\"step\":\"login\",\"data\":{\"methods\":[7]}}"},
		{200, JSON, "{\"step\":\"permission\",\"data\":{\"scopes\":[{\"id\":\"b\",\"name\":"
			    "{\"ja\":\"b\"}}],\"accounts\":[" ACC_1000014 "],\"period\":{\"from\":"
			    "\"a\",\"to\":\"b\"},\"terms\":{\"ja\":\"t\"},\"back\":\"login\"}}"},
		{200, JSON, "{\"step\":\"permission\",\"data\":{\"scopes\":[{\"id\":\"b\",\"name\":"
			    "{\"ja\":\"b\"}}],\"accounts\":[" ACC_1000014 "],\"period\":\"x\","
			    "\"terms\":{\"ja\":\"t\"},\"back\":null}}"},
		{200, JSON, "{\"step\":\"done\",\"data\":{\"scopes\":7}}"},
		{200, JSON, "{\"step\":\"pin_result\",\"data\":{\"accounts\":[" ACC_1000014 "]},"
			    "\"partner\":7}"},
		{200, JSON, "{\"step\":\"pin_result\",\"data\":{\"accounts\":[" ACC_1000014 "]},"
			    "\"session_expires_in\":\"soon\"}"},
		{200, JSON, "{\"step\":\"pin_result\",\"data\":{\"accounts\":[" ACC_1000014 "]},"
			    "\"session\":\"bad token\"}"},
		{200, "text/plain", pins_200},
		{200, NULL, pins_200},
		{200, "application/jsonx", pins_200},
		{204, JSON, ""},
		{302, "text/html", "<html>moved</html>"},
		{502, "text/html", "<html><body><h1>502 Bad Gateway</h1></body></html>"},
		{500, "text/plain", "oops"},
		{401, PROB, "{\"title\":\"no type\"}"},
		{401, PROB, "{\"type\":7}"},
		{401, PROB, "[1,2]"},
		{401, PROB, "{\"type\":\"urn:renkei:problem:wrong-credentials\""},
		{100, JSON, pins_200},
		{0, JSON, pins_200},
		{-1, JSON, pins_200},
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		struct flow f;
		to_pins(&f);
		tick_pin(&f, 1, "12");
		send_and_apply(&f, FLOW_ACT_REFRESH, t[i].status, t[i].ct, t[i].body);
		if (f.error.kind != PROBLEM_BAD_ANSWER)
			fail_msg("case %zu: kind %d", i, f.error.kind);
		assert_int_equal(f.step, FLOW_PINS);
		assert_int_equal(f.n_accounts, 3);
		assert_int_equal(f.pin_length, 4);
		assert_string_equal(f.accounts[0].id, "acc-001-2000002");
		assert_string_equal(f.accounts[1].pin_input.buf, "12"); /* GET sent no secret */
		assert_string_equal(f.partner.client_id, "kakeibo-demo");
		flow_free(&f);
	}
	/* the start answer must carry a session and the partner */
	struct flow f;
	start_code(&f, "WDJBMJHT");
	apply(&f, 201, JSON, "{\"step\":\"login\"," PARTNER_KAKEIBO ",\"data\":{\"methods\":[\"password\"]}}");
	assert_int_equal(f.error.kind, PROBLEM_BAD_ANSWER);
	assert_int_equal(f.step, FLOW_CODE);
	send_only(&f, FLOW_ACT_START);
	apply(&f, 201, JSON, "{\"session\":\"s\",\"step\":\"login\",\"data\":{\"methods\":[\"password\"]}}");
	assert_int_equal(f.error.kind, PROBLEM_BAD_ANSWER);
	assert_int_equal(f.step, FLOW_CODE);
	assert_int_equal(f.session.len, 0);
	flow_free(&f);
}

/* Server text with terminal control characters is cleaned before any screen sees it. */
static void control_characters_dropped(void **state)
{
	(void)state;
	struct flow f;
	login_typed(&f, "yamada01", "p");
	send_and_apply(&f, FLOW_ACT_LOGIN, 200, JSON,
		       "{\"step\":\"question\",\"data\":{\"question\":{\"ja\":\"a\\u001b[2Jb\\tc\\nd"
		       "\\u0085e\\u007f\"},\"masked\":true,\"max_length\":8}}");
	assert_int_equal(f.step, FLOW_QUESTION);
	assert_string_equal(f.question.text.ja, "a[2Jb c\nde");
	assert_true(f.question.masked);
	assert_int_equal(f.question.tries_left, -1);
	flow_free(&f);
	/* bidi controls and invisible format characters: U+202E, U+2066, U+200B, U+FEFF, U+2028 go;
	 * the Japanese around them (also E2 80/81 lead bytes: 「」 are E3) stays */
	login_typed(&f, "yamada01", "p");
	send_and_apply(&f, FLOW_ACT_LOGIN, 200, JSON,
		       "{\"step\":\"question\",\"data\":{\"question\":{\"ja\":\"\u300c\u8a3c\u202e"
		       "\u5238\u2066\u300d\u200bx\ufeffy\u2028z\u2010\"},\"masked\":false,\"max_length\":8}}");
	assert_int_equal(f.step, FLOW_QUESTION);
	assert_string_equal(f.question.text.ja, "「証券」xyz\u2010");
	flow_free(&f);
}

/* ---- trace ----------------------------------------------------------------------------------- */

/* A garbled answer (bytes that are not UTF-8, a NUL, controls) still makes a valid JSON line of
 * UTF-8 (docs/trace.md), so that a replay can read it back. */
static void trace_garbled_body_is_utf8(void **state)
{
	(void)state;
	char path[] = "/tmp/renkei-trace-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	unlink(path);
	struct trace *tr = trace_open(path);
	assert_non_null(tr);
	static const char garbled[] = "\xfe\xff<html>\x01\xc3\x28ok\xe3\x81\x82\xed\xa0\x80\x00tail";
	trace_response(tr, 502, "text/html", garbled, sizeof garbled - 1, 12, PROBLEM_NONE);
	trace_close(tr);
	FILE *in = fopen(path, "r");
	assert_non_null(in);
	char line[8192];
	assert_non_null(fgets(line, sizeof line, in));
	fclose(in);
	unlink(path);
	cJSON *j = cJSON_Parse(line);
	assert_non_null(j);
	const char *txt = jstr(j, "body_text");
	/* U+FFFD for each bad byte, the control dropped, あ kept, the text after the NUL kept */
	assert_string_equal(txt, "\xef\xbf\xbd\xef\xbf\xbd<html>\xef\xbf\xbd(ok\xe3\x81\x82\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdtail");
	cJSON_Delete(j);
}

static void trace_redacts(void **state)
{
	(void)state;
	char path[] = "/tmp/renkei-trace-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	unlink(path);
	struct trace *tr = trace_open(path);
	assert_non_null(tr);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);

	struct flow f;
	struct flow_req r;
	flow_init(&f);
	set(&f.user_code, "WDJBMJHT");
	assert_int_equal(flow_build(&f, FLOW_ACT_START, &r), 0);
	apply(&f, 201, JSON, start_201);
	trace_request(tr, &r, &f, 201, 5);
	flow_req_free(&r);
	flow_confirm_partner(&f);
	set(&f.login.login_id, "yamada01");
	set(&f.login.password, "Sakura-2026");
	assert_int_equal(flow_build(&f, FLOW_ACT_LOGIN, &r), 0);
	apply(&f, 401, PROB,
	      "{\"type\":\"urn:renkei:problem:wrong-credentials\",\"status\":401,\"tries_left\":2}");
	trace_request(tr, &r, &f, 401, 7);
	flow_req_free(&r);
	set(&f.login.password, "Sakura-2026");
	assert_int_equal(flow_build(&f, FLOW_ACT_LOGIN, &r), 0);
	flow_net_error(&f, PROBLEM_NET_TIMEOUT);
	trace_request(tr, &r, &f, 0, 30000);
	flow_req_free(&r);
	trace_event(tr, "app-exit");
	trace_close(tr);

	FILE *in = fopen(path, "r");
	assert_non_null(in);
	char line[4096];
	int n = 0;
	while (fgets(line, sizeof line, in)) {
		n++;
		assert_null(strstr(line, "Sakura"));
		assert_null(strstr(line, "yamada01"));
		assert_null(strstr(line, "sess-token"));
		assert_null(strstr(line, f.idem_key));
		cJSON *j = cJSON_Parse(line);
		assert_non_null(j);
		if (n == 1) {
			assert_string_equal(jstr(j, "method"), "POST");
			assert_string_equal(jstr(j, "path"), "/consent/v1/sessions");
			assert_string_equal(jstr(j, "step"), "partner");
			cJSON *b = cJSON_GetObjectItemCaseSensitive(j, "body");
			assert_string_equal(jstr(b, "user_code"), "[redacted]");
			assert_null(strstr(line, "WDJBMJHT"));
			assert_string_equal(jstr(b, "idempotency_key"), "[redacted]");
			assert_non_null(cJSON_GetObjectItemCaseSensitive(j, "time"));
		} else if (n == 2) {
			assert_string_equal(jstr(j, "problem"), "wrong-credentials");
			assert_int_equal(cJSON_GetObjectItemCaseSensitive(j, "tries_left")->valueint, 2);
			assert_int_equal(cJSON_GetObjectItemCaseSensitive(j, "status")->valueint, 401);
			assert_null(cJSON_GetObjectItemCaseSensitive(j, "body"));
		} else if (n == 3) {
			assert_string_equal(jstr(j, "problem"), "net-timeout");
			assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(j, "status")));
		} else {
			assert_string_equal(jstr(j, "event"), "app-exit");
		}
		cJSON_Delete(j);
	}
	assert_int_equal(n, 4);
	fclose(in);
	unlink(path);
	flow_free(&f);

	/* redaction by name at any depth */
	cJSON *o = cJSON_Parse("{\"a\":{\"Password\":\"x\",\"list\":[{\"pin\":\"1234\"}]},"
			       "\"pins\":[1],\"session\":\"s\",\"keep\":\"k\"}");
	trace_redact(o);
	char *s = cJSON_PrintUnformatted(o);
	assert_string_equal(s, "{\"a\":{\"Password\":\"[redacted]\",\"list\":[{\"pin\":\"[redacted]\"}]},"
			       "\"pins\":\"[redacted]\",\"session\":\"[redacted]\",\"keep\":\"k\"}");
	cJSON_free(s);
	cJSON_Delete(o);
	/* a symlink is refused */
	char link[] = "/tmp/renkei-trace-lnk-XXXXXX";
	fd = mkstemp(link);
	close(fd);
	unlink(link);
	assert_int_equal(symlink("/tmp/renkei-nowhere", link), 0);
	assert_null(trace_open(link));
	unlink(link);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(tables_are_whole),
		cmocka_unit_test(yamada_whole_path),
		cmocka_unit_test(sato_straight_to_permission),
		cmocka_unit_test(wrong_password_keeps_id),
		cmocka_unit_test(login_locked),
		cmocka_unit_test(login_limits_in_words),
		cmocka_unit_test(wrong_answer_tries),
		cmocka_unit_test(one_wrong_pin_of_two),
		cmocka_unit_test(pin_format_and_local_checks),
		cmocka_unit_test(pin_result_add_and_permission_back),
		cmocka_unit_test(intent_required_from_server),
		cmocka_unit_test(every_problem_type),
		cmocka_unit_test(wrong_step_then_refresh),
		cmocka_unit_test(cancel_resent_after_it_was_taken),
		cmocka_unit_test(start_errors_and_keys),
		cmocka_unit_test(login_methods_and_partner),
		cmocka_unit_test(malformed_answers),
		cmocka_unit_test(control_characters_dropped),
		cmocka_unit_test(trace_redacts),
		cmocka_unit_test(trace_garbled_body_is_utf8),
		cmocka_unit_test(manage_list_detail_and_stop_two),
		cmocka_unit_test(manage_answers_checked),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
