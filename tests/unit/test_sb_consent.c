/* test_sb_consent.c: the consent endpoints (protocol §4–§6) through http_dispatch: no TLS, the built-in
 * demo scenario, state in memory. Expiry is played by ageing rows, never by sleeping. */
#include "sb_fixture.h"
#include "util.h"

#define JSON "application/json"
#define CERT_SUZUKI "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a"
#define CERT_OTHER "6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b"

/* suzuki03's certificate is whatever the demo PKI made: map it here by a fingerprint of our own. */
static void map_suzuki_cert(struct scenario *sc)
{
	for (size_t i = 0; i < sc->ncustomers; i++) {
		struct sc_customer *cu = &sc->customers[i];
		if (strcmp(cu->login_id, "suzuki03") != 0)
			continue;
		struct sc_certificate *n = realloc(cu->certificates, (cu->ncertificates + 1) * sizeof(*n));
		assert_non_null(n);
		cu->certificates = n;
		memset(&n[cu->ncertificates], 0, sizeof(*n));
		n[cu->ncertificates].sha256 = strdup(CERT_SUZUKI);
		cu->ncertificates++;
	}
}

static int setup(void **state)
{
	struct fixture *f = fixture_new();

	map_suzuki_cert(f->sb.sc);
	f->sb.client_certs = true;
	f->sb.sc->interval = 0; /* the partner may poll at once */
	*state = f;
	return 0;
}

struct opts {
	const char *auth;   /* session token (Bearer added) */
	const char *cert;   /* client certificate sha256 */
	const char *ctype;  /* default application/json when a body is given */
	const char *peer;
	bool bad_cert;      /* a certificate was presented but did not verify */
};

static void call(struct fixture *f, const char *method, const char *path, const char *body, const struct opts *o,
		 struct answer *a)
{
	struct http_req req;
	char auth[256];

	memset(&req, 0, sizeof(req));
	req.method = method;
	req.path = path;
	req.body = body;
	req.body_len = body ? strlen(body) : 0;
	req.content_type = o && o->ctype ? o->ctype : body ? JSON : NULL;
	if (o && o->auth) {
		snprintf(auth, sizeof(auth), "Bearer %s", o->auth);
		req.authorization = auth;
	}
	if (o && o->cert) {
		req.client_cert_sha256 = o->cert;
		req.client_cert_subject = "CN=test";
		req.client_cert_serial = "1";
	}
	req.client_cert_present_but_invalid = o && o->bad_cert;
	req.peer_addr = o ? o->peer : NULL;
	dispatch(f, &req, a);
}

/* A member by a slash path ("data/accounts/0/pin"). */
static const cJSON *jget(const cJSON *j, const char *path)
{
	char buf[256];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *save = NULL, *p = strtok_r(buf, "/", &save); p && j; p = strtok_r(NULL, "/", &save)) {
		if (cJSON_IsArray(j))
			j = cJSON_GetArrayItem(j, atoi(p));
		else
			j = cJSON_GetObjectItemCaseSensitive(j, p);
	}
	return j;
}

static const char *jstr(const struct answer *a, const char *path)
{
	const cJSON *v = jget(a->json, path);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int jint(const struct answer *a, const char *path)
{
	const cJSON *v = jget(a->json, path);
	if (!cJSON_IsNumber(v))
		fail_msg("%s: not a number in %s", path, a->body);
	return v->valueint;
}

static bool has_header(const struct answer *a, const char *prefix)
{
	for (int i = 0; i < 4; i++)
		if (a->headers[i] && strncmp(a->headers[i], prefix, strlen(prefix)) == 0)
			return true;
	return false;
}

/* Status and (for problems) the type's short name, or (for envelopes) the step. */
static void expect(struct answer *a, int status, const char *what)
{
	const char *type = jstr(a, "type"), *step = jstr(a, "step");
	bool ok = a->status == status;
	if (what && type)
		ok = ok && strncmp(type, "urn:renkei:problem:", 19) == 0 && strcmp(type + 19, what) == 0;
	else if (what)
		ok = ok && step && strcmp(step, what) == 0;
	if (!ok)
		fail_msg("want %d %s, got %d %s", status, what ? what : "", a->status, a->body);
}

static void req_expect(struct fixture *f, const char *method, const char *path, const char *body,
		       const struct opts *o, int status, const char *what)
{
	struct answer a;
	call(f, method, path, body, o, &a);
	expect(&a, status, what);
	done(&a);
}

/* The partner asks: user_code (display form) and device_code out. */
static void device_auth(struct fixture *f, const char *client_id, char *user_code, char *device_code)
{
	struct answer a;
	char body[128];
	struct opts o = {.ctype = FORM};

	snprintf(body, sizeof(body), "client_id=%s", client_id);
	call(f, "POST", "/oauth/device_authorization", body, &o, &a);
	assert_int_equal(a.status, 200);
	strcpy(user_code, jstr(&a, "user_code"));
	strcpy(device_code, jstr(&a, "device_code"));
	done(&a);
}

static void poll_token(struct fixture *f, const char *client_id, const char *device_code, int status,
		       const char *error, char *access)
{
	struct answer a;
	char body[256];
	struct opts o = {.ctype = FORM};

	snprintf(body, sizeof(body), DEVICE_GRANT "&client_id=%s&device_code=%s", client_id, device_code);
	call(f, "POST", "/oauth/token", body, &o, &a);
	if (a.status != status || (error && (!jstr(&a, "error") || strcmp(jstr(&a, "error"), error) != 0)))
		fail_msg("token: want %d %s, got %d %s", status, error ? error : "", a.status, a.body);
	if (access)
		strcpy(access, jstr(&a, "access_token"));
	done(&a);
}

/* Start a session for a fresh device authorization; token out. */
static void start(struct fixture *f, const char *client_id, char *token, char *device_code, char *user_code)
{
	struct answer a;
	char uc[32], dc[128], body[128];

	device_auth(f, client_id, uc, dc);
	snprintf(body, sizeof(body), "{\"user_code\":\"%s\"}", uc);
	call(f, "POST", "/consent/v1/sessions", body, NULL, &a);
	expect(&a, 201, "login");
	strcpy(token, jstr(&a, "session"));
	if (device_code)
		strcpy(device_code, dc);
	if (user_code)
		strcpy(user_code, uc);
	done(&a);
}

#define YAMADA_LOGIN "{\"method\":\"password\",\"login_id\":\"yamada01\",\"password\":\"Sakura-2026\"}"
#define YAMADA_ANSWER "{\"answer\":\"ひまわり証券\"}"
#define BOTH_PINS                                                                                          \
	"{\"pins\":[{\"account\":\"acc-001-2000002\",\"pin\":\"1234\"},"                                   \
	"{\"account\":\"acc-001-1111111\",\"pin\":\"5678\"}]}"

/* yamada01 logs in and answers the question: the session o->auth is in step scopes. */
static void yamada_to_scopes(struct fixture *f, const struct opts *o)
{
	req_expect(f, "POST", "/consent/v1/session/login", YAMADA_LOGIN, o, 200, "question");
	req_expect(f, "POST", "/consent/v1/session/answer", YAMADA_ANSWER, o, 200, "scopes");
}

/* --- tests ------------------------------------------------------------------------------------ */

static void full_flow_yamada(void **state)
{
	struct fixture *f = *state;
	char tok[128], dc[128], uc[32], access[128];
	struct opts o = {0};
	struct answer a;

	start(f, "kakeibo-demo", tok, dc, uc);
	o.auth = tok;
	poll_token(f, "kakeibo-demo", dc, 400, "authorization_pending", NULL);

	call(f, "GET", "/consent/v1/session", NULL, &o, &a);
	expect(&a, 200, "login");
	assert_null(jget(a.json, "session"));
	assert_string_equal(jstr(&a, "partner/client_id"), "kakeibo-demo");
	assert_string_equal(jstr(&a, "partner/name/ja"), "デモ家計簿株式会社");
	assert_string_equal(jstr(&a, "request/scopes/0/id"), "balance");
	assert_string_equal(jstr(&a, "request/scopes/1/id"), "transactions");
	assert_true(cJSON_IsTrue(jget(a.json, "request/scope_choice")));
	assert_int_equal(jint(&a, "request/period_days"), 365);
	assert_int_equal(jint(&a, "session_expires_in"), 600);
	assert_string_equal(jstr(&a, "data/methods/0"), "password");
	assert_string_equal(jstr(&a, "data/methods/1"), "certificate");
	done(&a);

	call(f, "POST", "/consent/v1/session/login", YAMADA_LOGIN, &o, &a);
	expect(&a, 200, "question");
	assert_string_equal(jstr(&a, "data/question/ja"), "証券名を入力してください");
	assert_int_equal(jint(&a, "data/tries_left"), 3);
	assert_int_equal(jint(&a, "data/max_length"), 64);
	done(&a);

	call(f, "POST", "/consent/v1/session/answer", "{\"answer\":\"  ひまわり証券 \"}", &o, &a);
	expect(&a, 200, "scopes");
	assert_true(cJSON_IsTrue(jget(a.json, "data/scopes/0/selected")));
	assert_true(cJSON_IsTrue(jget(a.json, "data/scopes/1/selected")));
	done(&a);

	call(f, "POST", "/consent/v1/session/scopes", "{\"scopes\":[\"balance\",\"transactions\"]}", &o, &a);
	expect(&a, 200, "pins");
	assert_int_equal(jint(&a, "data/pin_length"), 4);
	assert_int_equal(cJSON_GetArraySize(jget(a.json, "data/accounts")), 3);
	assert_string_equal(jstr(&a, "data/accounts/0/id"), "acc-001-2000002");
	assert_string_equal(jstr(&a, "data/accounts/0/pin"), "unregistered");
	assert_string_equal(jstr(&a, "data/accounts/0/memo"), "生活費");
	assert_true(cJSON_IsNull(jget(a.json, "data/accounts/1/memo")));
	assert_string_equal(jstr(&a, "data/accounts/2/pin"), "registered");
	assert_true(cJSON_IsFalse(jget(a.json, "data/accounts/0/pin_locked")));
	assert_int_equal(jint(&a, "data/accounts/0/tries_left"), 3);
	done(&a);

	call(f, "POST", "/consent/v1/session/pins", BOTH_PINS, &o, &a);
	expect(&a, 200, "pin_result");
	assert_string_equal(jstr(&a, "data/accounts/0/pin"), "pending");
	assert_string_equal(jstr(&a, "data/accounts/1/pin"), "pending");
	done(&a);

	/* Nothing left to register. */
	req_expect(f, "POST", "/consent/v1/session/pin-result", "{\"action\":\"add\"}", &o, 409, "wrong-step");
	call(f, "POST", "/consent/v1/session/pin-result", "{\"action\":\"confirm\"}", &o, &a);
	expect(&a, 200, "permission");
	assert_int_equal(cJSON_GetArraySize(jget(a.json, "data/accounts")), 3);
	assert_int_equal(cJSON_GetArraySize(jget(a.json, "data/scopes")), 2);
	assert_string_equal(jstr(&a, "data/back"), "pin_result");
	assert_non_null(jstr(&a, "data/terms/ja"));
	assert_int_equal((int)strlen(jstr(&a, "data/period/from")), 10);
	done(&a);

	/* back and forth */
	req_expect(f, "POST", "/consent/v1/session/back", "{}", &o, 200, "pin_result");
	req_expect(f, "POST", "/consent/v1/session/pin-result", "{\"action\":\"confirm\"}", &o, 200, "permission");

	req_expect(f, "POST", "/consent/v1/session/decision", "{\"decision\":\"allow\"}", &o, 422, "intent-required");
	req_expect(f, "POST", "/consent/v1/session/decision", "{\"decision\":\"allow\",\"intent_confirmed\":false}",
		   &o, 422, "intent-required");
	call(f, "POST", "/consent/v1/session/decision", "{\"decision\":\"allow\",\"intent_confirmed\":true}", &o, &a);
	expect(&a, 200, "done");
	assert_int_equal(cJSON_GetArraySize(jget(a.json, "data/scopes")), 2);
	assert_non_null(jstr(&a, "data/period/to"));
	done(&a);

	/* Final: GET answers, anything else is wrong-step. */
	req_expect(f, "GET", "/consent/v1/session", NULL, &o, 200, "done");
	req_expect(f, "DELETE", "/consent/v1/session", NULL, &o, 409, "wrong-step");
	req_expect(f, "POST", "/consent/v1/session/decision", "{\"decision\":\"deny\"}", &o, 409, "wrong-step");

	/* The partner gets its token; the grant covers three accounts. */
	poll_token(f, "kakeibo-demo", dc, 200, NULL, access);
	struct opts r = {.auth = access};
	call(f, "GET", "/v1/accounts", NULL, &r, &a);
	assert_int_equal(a.status, 200);
	assert_int_equal(cJSON_GetArraySize(jget(a.json, "accounts")), 3);
	done(&a);

	/* The code is used; a new session for yamada01 skips the PIN steps now. */
	char body[128];
	snprintf(body, sizeof(body), "{\"user_code\":\"%s\"}", uc);
	req_expect(f, "POST", "/consent/v1/sessions", body, NULL, 409, "user-code-used");
	start(f, "kakeibo-demo", tok, NULL, NULL);
	yamada_to_scopes(f, &o);
	call(f, "POST", "/consent/v1/session/scopes", "{\"scopes\":[\"transactions\"]}", &o, &a);
	expect(&a, 200, "permission");
	assert_string_equal(jstr(&a, "data/back"), "scopes");
	assert_int_equal(cJSON_GetArraySize(jget(a.json, "data/scopes")), 1);
	assert_string_equal(jstr(&a, "data/accounts/0/pin"), "registered");
	done(&a);
	call(f, "POST", "/consent/v1/session/back", "{}", &o, &a);
	expect(&a, 200, "scopes");
	assert_true(cJSON_IsFalse(jget(a.json, "data/scopes/0/selected")));
	assert_true(cJSON_IsTrue(jget(a.json, "data/scopes/1/selected")));
	done(&a);
}

static void no_choice_no_pins(void **state)
{
	struct fixture *f = *state;
	char tok[128], dc[128];
	struct opts o = {0};
	struct answer a;

	start(f, "mieru-demo", tok, dc, NULL);
	o.auth = tok;
	call(f, "POST", "/consent/v1/session/login",
	     "{\"method\":\"password\",\"login_id\":\"sato02\",\"password\":\"Momiji-2026\"}", &o, &a);
	expect(&a, 200, "permission");
	assert_true(cJSON_IsNull(jget(a.json, "data/back")));
	assert_int_equal(cJSON_GetArraySize(jget(a.json, "data/accounts")), 1);
	assert_int_equal(jint(&a, "request/period_days"), 90);
	assert_true(cJSON_IsFalse(jget(a.json, "request/scope_choice")));
	done(&a);
	req_expect(f, "POST", "/consent/v1/session/back", "{}", &o, 409, "wrong-step");
	req_expect(f, "POST", "/consent/v1/session/decision", "{\"decision\":\"deny\"}", &o, 200, "denied");
	poll_token(f, "mieru-demo", dc, 400, "access_denied", NULL);
	req_expect(f, "GET", "/consent/v1/session", NULL, &o, 200, "denied");
}

static void wrong_password_locks(void **state)
{
	struct fixture *f = *state;
	char tok[128], dc[128];
	struct opts o = {0};
	struct answer a;
	const char *bad = "{\"method\":\"password\",\"login_id\":\"sato02\",\"password\":\"nope\"}";

	start(f, "mieru-demo", tok, dc, NULL);
	o.auth = tok;
	call(f, "POST", "/consent/v1/session/login", "{\"method\":\"password\",\"login_id\":\"ghost\",\"password\":\"x\"}",
	     &o, &a);
	expect(&a, 401, "wrong-credentials");
	assert_int_equal(jint(&a, "tries_left"), 2); /* an unknown ID answers as a known one (§4.5) */
	done(&a);
	call(f, "POST", "/consent/v1/session/login", bad, &o, &a);
	expect(&a, 401, "wrong-credentials");
	assert_int_equal(jint(&a, "tries_left"), 2);
	assert_null(strstr(a.body, "nope"));
	done(&a);
	call(f, "POST", "/consent/v1/session/login", bad, &o, &a);
	assert_int_equal(jint(&a, "tries_left"), 1);
	done(&a);
	req_expect(f, "DELETE", "/consent/v1/session", NULL, &o, 200, "denied");
	poll_token(f, "mieru-demo", dc, 400, "access_denied", NULL);

	/* A right password resets the count. */
	start(f, "mieru-demo", tok, dc, NULL);
	req_expect(f, "POST", "/consent/v1/session/login",
		   "{\"method\":\"password\",\"login_id\":\"sato02\",\"password\":\"Momiji-2026\"}", &o, 200,
		   "permission");
	req_expect(f, "DELETE", "/consent/v1/session", NULL, &o, 200, "denied");

	start(f, "mieru-demo", tok, dc, NULL);
	call(f, "POST", "/consent/v1/session/login", bad, &o, &a);
	assert_int_equal(jint(&a, "tries_left"), 2);
	done(&a);
	req_expect(f, "POST", "/consent/v1/session/login", bad, &o, 401, "wrong-credentials");
	/* The third locks the login but says only tries_left 0, as for an unknown ID (§4.5). */
	call(f, "POST", "/consent/v1/session/login", bad, &o, &a);
	expect(&a, 401, "wrong-credentials");
	assert_int_equal(jint(&a, "tries_left"), 0);
	done(&a);
	req_expect(f, "GET", "/consent/v1/session", NULL, &o, 200, "login");
	/* The lock is told to the one who knows the password: the session ends. */
	req_expect(f, "POST", "/consent/v1/session/login",
		   "{\"method\":\"password\",\"login_id\":\"sato02\",\"password\":\"Momiji-2026\"}", &o, 403,
		   "login-locked");
	req_expect(f, "GET", "/consent/v1/session", NULL, &o, 200, "locked");
	req_expect(f, "DELETE", "/consent/v1/session", NULL, &o, 409, "wrong-step");
	poll_token(f, "mieru-demo", dc, 400, "access_denied", NULL);

	/* Locked for limits.lock_seconds, in a new session too. */
	start(f, "mieru-demo", tok, dc, NULL);
	req_expect(f, "POST", "/consent/v1/session/login",
		   "{\"method\":\"password\",\"login_id\":\"sato02\",\"password\":\"Momiji-2026\"}", &o, 403,
		   "login-locked");
	poll_token(f, "mieru-demo", dc, 400, "access_denied", NULL);
}

static void tanaka_locked(void **state)
{
	struct fixture *f = *state;
	char tok[128], dc[128];
	struct opts o = {0};

	start(f, "kakeibo-demo", tok, dc, NULL);
	o.auth = tok;
	req_expect(f, "POST", "/consent/v1/session/login",
		   "{\"method\":\"password\",\"login_id\":\"tanaka04\",\"password\":\"Ume-2026\"}", &o, 403,
		   "login-locked");
	req_expect(f, "GET", "/consent/v1/session", NULL, &o, 200, "locked");
	poll_token(f, "kakeibo-demo", dc, 400, "access_denied", NULL);
}

static void wrong_answers_lock(void **state)
{
	struct fixture *f = *state;
	char tok[128], dc[128];
	struct opts o = {0};
	struct answer a;

	start(f, "kakeibo-demo", tok, dc, NULL);
	o.auth = tok;
	req_expect(f, "POST", "/consent/v1/session/login", YAMADA_LOGIN, &o, 200, "question");
	call(f, "POST", "/consent/v1/session/answer", "{\"answer\":\"ばら証券\"}", &o, &a);
	expect(&a, 401, "wrong-answer");
	assert_int_equal(jint(&a, "tries_left"), 2);
	assert_null(strstr(a.body, "ばら"));
	done(&a);
	call(f, "GET", "/consent/v1/session", NULL, &o, &a);
	assert_int_equal(jint(&a, "data/tries_left"), 2);
	done(&a);
	req_expect(f, "POST", "/consent/v1/session/answer", "{\"answer\":\"x\"}", &o, 401, "wrong-answer");
	req_expect(f, "POST", "/consent/v1/session/answer", "{\"answer\":\"y\"}", &o, 403, "login-locked");
	req_expect(f, "GET", "/consent/v1/session", NULL, &o, 200, "locked");
	poll_token(f, "kakeibo-demo", dc, 400, "access_denied", NULL);
}

static void pins_per_account(void **state)
{
	struct fixture *f = *state;
	char tok[128], dc[128];
	struct opts o = {0};
	struct answer a;

	start(f, "kakeibo-demo", tok, dc, NULL);
	o.auth = tok;
	yamada_to_scopes(f, &o);
	req_expect(f, "POST", "/consent/v1/session/scopes", "{\"scopes\":[]}", &o, 422, "scope-required");
	call(f, "POST", "/consent/v1/session/scopes", "{\"scopes\":[\"transfer\"]}", &o, &a);
	expect(&a, 422, "scope-unknown");
	assert_string_equal(jstr(&a, "scope"), "transfer");
	done(&a);
	req_expect(f, "POST", "/consent/v1/session/scopes", "{\"scopes\":[\"balance\"]}", &o, 200, "pins");

	req_expect(f, "POST", "/consent/v1/session/pins", "{\"pins\":[]}", &o, 422, "pin-required");
	/* Unknown, repeated or registered accounts: 400, nothing registered. */
	req_expect(f, "POST", "/consent/v1/session/pins",
		   "{\"pins\":[{\"account\":\"acc-001-2000002\",\"pin\":\"1234\"},{\"account\":\"acc-x\",\"pin\":\"1\"}]}",
		   &o, 400, "bad-request");
	req_expect(f, "POST", "/consent/v1/session/pins",
		   "{\"pins\":[{\"account\":\"acc-001-2000002\",\"pin\":\"1234\"},"
		   "{\"account\":\"acc-001-2000002\",\"pin\":\"1234\"}]}",
		   &o, 400, "bad-request");
	call(f, "POST", "/consent/v1/session/pins", "{\"pins\":[{\"account\":\"acc-454-1000014\",\"pin\":\"1234\"}]}",
	     &o, &a);
	expect(&a, 400, "bad-request");
	assert_string_equal(jstr(&a, "pointer"), "/pins/0/account");
	done(&a);
	call(f, "GET", "/consent/v1/session", NULL, &o, &a);
	assert_string_equal(jstr(&a, "data/accounts/0/pin"), "unregistered");
	done(&a);

	/* Only a format error. */
	call(f, "POST", "/consent/v1/session/pins", "{\"pins\":[{\"account\":\"acc-001-2000002\",\"pin\":\"12a4\"}]}",
	     &o, &a);
	expect(&a, 422, "pin-format");
	assert_string_equal(jstr(&a, "results/0/result"), "format");
	assert_int_equal(jint(&a, "accounts/0/tries_left"), 3);
	assert_null(strstr(a.body, "12a4"));
	done(&a);

	/* One right, one wrong: the right one is registered, the session stays in pins. */
	call(f, "POST", "/consent/v1/session/pins",
	     "{\"pins\":[{\"account\":\"acc-001-2000002\",\"pin\":\"1234\"},"
	     "{\"account\":\"acc-001-1111111\",\"pin\":\"9753\"}]}",
	     &o, &a);
	expect(&a, 422, "pin-wrong");
	assert_string_equal(jstr(&a, "results/0/account"), "acc-001-2000002");
	assert_string_equal(jstr(&a, "results/0/result"), "registered");
	assert_string_equal(jstr(&a, "results/1/result"), "wrong_pin");
	assert_int_equal(jint(&a, "results/1/tries_left"), 2);
	assert_string_equal(jstr(&a, "accounts/0/pin"), "pending");
	assert_string_equal(jstr(&a, "accounts/1/pin"), "unregistered");
	assert_int_equal(jint(&a, "accounts/1/tries_left"), 2);
	assert_null(strstr(a.body, "9753"));
	assert_null(strstr(a.body, "1234"));
	done(&a);
	req_expect(f, "GET", "/consent/v1/session", NULL, &o, 200, "pins");
	/* The pending one cannot be listed again. */
	req_expect(f, "POST", "/consent/v1/session/pins", "{\"pins\":[{\"account\":\"acc-001-2000002\",\"pin\":\"1234\"}]}",
		   &o, 400, "bad-request");
	req_expect(f, "POST", "/consent/v1/session/pins", "{\"pins\":[{\"account\":\"acc-001-1111111\",\"pin\":\"9754\"}]}",
		   &o, 422, "pin-wrong");
	call(f, "POST", "/consent/v1/session/pins", "{\"pins\":[{\"account\":\"acc-001-1111111\",\"pin\":\"9755\"}]}", &o,
	     &a);
	expect(&a, 422, "pin-wrong");
	assert_string_equal(jstr(&a, "results/0/result"), "locked");
	assert_true(cJSON_IsTrue(jget(a.json, "accounts/1/pin_locked")));
	assert_int_equal(jint(&a, "accounts/1/tries_left"), 0);
	done(&a);
	/* Already locked: result locked, no 400. */
	call(f, "POST", "/consent/v1/session/pins", "{\"pins\":[{\"account\":\"acc-001-1111111\",\"pin\":\"5678\"}]}", &o,
	     &a);
	expect(&a, 422, "pin-wrong");
	assert_string_equal(jstr(&a, "results/0/result"), "locked");
	done(&a);

	/* Cancel: the pending PIN is undone, the lock stays. */
	req_expect(f, "DELETE", "/consent/v1/session", NULL, &o, 200, "denied");
	poll_token(f, "kakeibo-demo", dc, 400, "access_denied", NULL);
	start(f, "kakeibo-demo", tok, dc, NULL);
	yamada_to_scopes(f, &o);
	call(f, "POST", "/consent/v1/session/scopes", "{\"scopes\":[\"balance\"]}", &o, &a);
	expect(&a, 200, "pins");
	assert_string_equal(jstr(&a, "data/accounts/0/pin"), "unregistered");
	assert_true(cJSON_IsTrue(jget(a.json, "data/accounts/1/pin_locked")));
	done(&a);
	req_expect(f, "POST", "/consent/v1/session/pins", "{\"pins\":[{\"account\":\"acc-001-2000002\",\"pin\":\"1234\"}]}",
		   &o, 200, "pin_result");
	req_expect(f, "POST", "/consent/v1/session/pin-result", "{\"action\":\"add\"}", &o, 409, "wrong-step");
	call(f, "POST", "/consent/v1/session/pin-result", "{\"action\":\"confirm\"}", &o, &a);
	expect(&a, 200, "permission");
	assert_int_equal(cJSON_GetArraySize(jget(a.json, "data/accounts")), 2);
	done(&a);
}

static void start_errors_and_rate_limit(void **state)
{
	struct fixture *f = *state;
	struct answer a;
	char uc[32], dc[128], body[160];
	struct opts other = {.peer = "192.0.2.7"};

	req_expect(f, "POST", "/consent/v1/sessions", "{\"user_code\":\"BCDF-GHJK\"}", NULL, 404, "user-code-unknown");
	req_expect(f, "POST", "/consent/v1/sessions", "{\"user_code\":\"AAAA\"}", NULL, 404, "user-code-unknown");
	req_expect(f, "POST", "/consent/v1/sessions", "{\"user_code\":\"BCDFGHJKLM\"}", NULL, 404, "user-code-unknown");
	req_expect(f, "POST", "/consent/v1/sessions", "{\"user_code\":\"bcdf ghjl\"}", NULL, 404, "user-code-unknown");
	/* Not counted: bad requests. */
	req_expect(f, "POST", "/consent/v1/sessions", "{\"user_code\":5}", NULL, 400, "bad-request");
	req_expect(f, "POST", "/consent/v1/sessions", "{\"user_code\":\"BCDFGHJK\",\"x\":1}", NULL, 400, "bad-request");
	req_expect(f, "POST", "/consent/v1/sessions", "{\"user_code\":\"BCDFGHJK\"", NULL, 400, "bad-request");
	struct opts text = {.ctype = "text/plain"};
	req_expect(f, "POST", "/consent/v1/sessions", "{\"user_code\":\"BCDFGHJK\"}", &text, 415,
		   "unsupported-media-type");
	struct opts latin = {.ctype = "application/json; charset=iso-8859-1"};
	req_expect(f, "POST", "/consent/v1/sessions", "{\"user_code\":\"BCDFGHJK\"}", &latin, 415,
		   "unsupported-media-type");
	req_expect(f, "GET", "/consent/v1/sessions", NULL, NULL, 405, "method-not-allowed");
	req_expect(f, "GET", "/consent/v1/nothing", NULL, NULL, 404, "not-found");

	/* A valid code still works as the 5th try... */
	device_auth(f, "kakeibo-demo", uc, dc);
	for (char *p = uc; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	snprintf(body, sizeof(body), "{\"user_code\":\" %.4s %s\",\"idempotency_key\":\"k-1\"}", uc, uc + 5);
	call(f, "POST", "/consent/v1/sessions", body, NULL, &a);
	expect(&a, 201, "login");
	char tok[128];
	strcpy(tok, jstr(&a, "session"));
	done(&a);
	/* ...the same start again gives the same session; another one is busy. */
	call(f, "POST", "/consent/v1/sessions", body, NULL, &a);
	expect(&a, 201, "login");
	assert_string_equal(jstr(&a, "session"), tok);
	done(&a);
	snprintf(body, sizeof(body), "{\"user_code\":\"%s\",\"idempotency_key\":\"k-2\"}", uc);
	req_expect(f, "POST", "/consent/v1/sessions", body, NULL, 409, "user-code-busy");
	snprintf(body, sizeof(body), "{\"user_code\":\"%s\"}", uc);
	req_expect(f, "POST", "/consent/v1/sessions", body, NULL, 409, "user-code-busy");
	req_expect(f, "POST", "/consent/v1/sessions", "{\"user_code\":\"BCDFGHJK\",\"idempotency_key\":\"\"}", NULL, 400,
		   "bad-request");

	req_expect(f, "POST", "/consent/v1/sessions", "{\"user_code\":\"BCDFGHJK\"}", NULL, 404, "user-code-unknown");
	/* Limited (§4.3): unknown codes are refused, and not counted ... */
	call(f, "POST", "/consent/v1/sessions", "{\"user_code\":\"BCDFGHJL\"}", NULL, &a);
	expect(&a, 429, "rate-limited");
	assert_true(jint(&a, "retry_after") >= 1 && jint(&a, "retry_after") <= 60);
	assert_true(has_header(&a, "Retry-After: "));
	done(&a);
	/* ... but a valid code still goes through (here to its live session's 409). */
	req_expect(f, "POST", "/consent/v1/sessions", body, NULL, 409, "user-code-busy");
	/* Another address is not limited. */
	req_expect(f, "POST", "/consent/v1/sessions", "{\"user_code\":\"BCDFGHJL\"}", &other, 404, "user-code-unknown");
	/* The window passes. */
	sql(f, "UPDATE consent_rate SET at = at - 61");
	req_expect(f, "POST", "/consent/v1/sessions", "{\"user_code\":\"BCDFGHJM\"}", NULL, 404, "user-code-unknown");
}

static void session_auth_and_steps(void **state)
{
	struct fixture *f = *state;
	char tok[128];
	struct opts o = {0}, bogus = {.auth = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"};
	struct answer a;

	req_expect(f, "GET", "/consent/v1/session", NULL, NULL, 401, "session-unknown");
	req_expect(f, "GET", "/consent/v1/session", NULL, &bogus, 401, "session-unknown");
	start(f, "kakeibo-demo", tok, NULL, NULL);
	o.auth = tok;
	req_expect(f, "POST", "/consent/v1/session/pins", "{\"pins\":[]}", &o, 409, "wrong-step");
	call(f, "POST", "/consent/v1/session/decision", "{\"decision\":\"allow\",\"intent_confirmed\":true}", &o, &a);
	expect(&a, 409, "wrong-step");
	assert_string_equal(jstr(&a, "step"), "login");
	done(&a);
	call(f, "POST", "/consent/v1/session/login", "{\"method\":\"password\",\"password\":\"x\"}", &o, &a);
	expect(&a, 400, "bad-request");
	assert_string_equal(jstr(&a, "pointer"), "/login_id");
	done(&a);
	call(f, "POST", "/consent/v1/session/login", "{\"method\":\"password\",\"login_id\":1,\"password\":\"x\"}", &o,
	     &a);
	assert_string_equal(jstr(&a, "pointer"), "/login_id");
	done(&a);
	call(f, "POST", "/consent/v1/session/login",
	     "{\"method\":\"password\",\"login_id\":\"a\",\"password\":\"x\",\"x/y\":1}", &o, &a);
	assert_string_equal(jstr(&a, "pointer"), "/x~1y");
	done(&a);
	call(f, "POST", "/consent/v1/session/login",
	     "{\"method\":\"password\",\"login_id\":\"a\",\"login_id\":\"b\",\"password\":\"x\"}", &o, &a);
	expect(&a, 400, "bad-request");
	done(&a);
	req_expect(f, "POST", "/consent/v1/session/login", "[1]", &o, 400, "bad-request");
	req_expect(f, "POST", "/consent/v1/session/login", "{\"method\":\"password\",\"login_id\":\"\\u00e9\xff\"}",
		   &o, 400, "bad-request");
	req_expect(f, "PUT", "/consent/v1/session", NULL, &o, 405, "method-not-allowed");
	/* Still in login, nothing counted. */
	req_expect(f, "GET", "/consent/v1/session", NULL, &o, 200, "login");
}

static void certificate_login(void **state)
{
	struct fixture *f = *state;
	char tok[128], dc[128];
	struct opts o = {0}, c1 = {.cert = CERT_SUZUKI}, c2 = {.cert = CERT_OTHER};
	const char *body = "{\"method\":\"certificate\",\"password\":\"Kaede-2026\"}";
	struct answer a;

	start(f, "kakeibo-demo", tok, dc, NULL);
	o.auth = c1.auth = c2.auth = tok;
	req_expect(f, "POST", "/consent/v1/session/login", body, &o, 401, "certificate-required");
	req_expect(f, "POST", "/consent/v1/session/login", body, &c2, 401, "certificate-unknown");
	struct opts bad = {.auth = tok, .bad_cert = true};
	req_expect(f, "POST", "/consent/v1/session/login", body, &bad, 401, "certificate-invalid");
	req_expect(f, "POST", "/consent/v1/session/login",
		   "{\"method\":\"certificate\",\"login_id\":\"suzuki03\",\"password\":\"Kaede-2026\"}", &c1, 400,
		   "bad-request");
	f->sb.client_certs = false;
	req_expect(f, "POST", "/consent/v1/session/login", body, &c1, 400, "method-unavailable");
	call(f, "GET", "/consent/v1/session", NULL, &o, &a);
	assert_int_equal(cJSON_GetArraySize(jget(a.json, "data/methods")), 1);
	done(&a);
	f->sb.client_certs = true;
	call(f, "POST", "/consent/v1/session/login", "{\"method\":\"certificate\",\"password\":\"x\"}", &c1, &a);
	expect(&a, 401, "wrong-credentials");
	assert_int_equal(jint(&a, "tries_left"), 2);
	done(&a);
	call(f, "POST", "/consent/v1/session/login", body, &c1, &a);
	expect(&a, 200, "scopes");
	done(&a);
	/* Bound to the certificate now. */
	req_expect(f, "GET", "/consent/v1/session", NULL, &o, 403, "certificate-mismatch");
	req_expect(f, "GET", "/consent/v1/session", NULL, &c2, 403, "certificate-mismatch");
	req_expect(f, "POST", "/consent/v1/session/scopes", "{\"scopes\":[\"balance\"]}", &o, 403,
		   "certificate-mismatch");
	req_expect(f, "GET", "/consent/v1/session", NULL, &c1, 200, "scopes");
	req_expect(f, "POST", "/consent/v1/session/scopes", "{\"scopes\":[\"balance\"]}", &c1, 200, "pins");
	req_expect(f, "POST", "/consent/v1/session/pins", "{\"pins\":[{\"account\":\"acc-100-3000003\",\"pin\":\"2468\"}]}",
		   &c1, 200, "pin_result");
	req_expect(f, "POST", "/consent/v1/session/pin-result", "{\"action\":\"confirm\"}", &c1, 200, "permission");
	req_expect(f, "POST", "/consent/v1/session/decision", "{\"decision\":\"allow\",\"intent_confirmed\":true}", &c1,
		   200, "done");
	poll_token(f, "kakeibo-demo", dc, 200, NULL, NULL);
}

static void expiry(void **state)
{
	struct fixture *f = *state;
	char tok[128], dc[128], uc[32], body[128];
	struct opts o = {0};
	struct answer a;

	/* Idle: the session expires, its pending PIN is undone, the code can start again. */
	start(f, "kakeibo-demo", tok, dc, uc);
	o.auth = tok;
	yamada_to_scopes(f, &o);
	req_expect(f, "POST", "/consent/v1/session/scopes", "{\"scopes\":[\"balance\"]}", &o, 200, "pins");
	req_expect(f, "POST", "/consent/v1/session/pins", "{\"pins\":[{\"account\":\"acc-001-2000002\",\"pin\":\"1234\"}]}",
		   &o, 200, "pin_result");
	sql(f, "UPDATE consent_sessions SET last_activity = last_activity - 600");
	req_expect(f, "GET", "/consent/v1/session", NULL, &o, 401, "session-expired");
	req_expect(f, "DELETE", "/consent/v1/session", NULL, &o, 401, "session-expired");
	poll_token(f, "kakeibo-demo", dc, 400, "authorization_pending", NULL);
	snprintf(body, sizeof(body), "{\"user_code\":\"%s\"}", uc);
	call(f, "POST", "/consent/v1/sessions", body, NULL, &a);
	expect(&a, 201, "login");
	strcpy(tok, jstr(&a, "session"));
	done(&a);
	yamada_to_scopes(f, &o);
	call(f, "POST", "/consent/v1/session/scopes", "{\"scopes\":[\"balance\"]}", &o, &a);
	expect(&a, 200, "pins");
	assert_string_equal(jstr(&a, "data/accounts/0/pin"), "unregistered");
	done(&a);

	/* The device authorization expires during the session. */
	sql(f, "UPDATE device_auth SET expires_at = expires_at - 600");
	req_expect(f, "GET", "/consent/v1/session", NULL, &o, 401, "session-expired");
	req_expect(f, "POST", "/consent/v1/sessions", body, NULL, 410, "user-code-expired");
	poll_token(f, "kakeibo-demo", dc, 400, "expired_token", NULL);

	/* After a decision the session answers GET until it is idle too long. */
	start(f, "mieru-demo", tok, dc, NULL);
	req_expect(f, "DELETE", "/consent/v1/session", NULL, &o, 200, "denied");
	req_expect(f, "GET", "/consent/v1/session", NULL, &o, 200, "denied");
	sql(f, "UPDATE consent_sessions SET last_activity = last_activity - 600");
	req_expect(f, "GET", "/consent/v1/session", NULL, &o, 401, "session-expired");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(full_flow_yamada, setup, teardown),
		cmocka_unit_test_setup_teardown(no_choice_no_pins, setup, teardown),
		cmocka_unit_test_setup_teardown(wrong_password_locks, setup, teardown),
		cmocka_unit_test_setup_teardown(tanaka_locked, setup, teardown),
		cmocka_unit_test_setup_teardown(wrong_answers_lock, setup, teardown),
		cmocka_unit_test_setup_teardown(pins_per_account, setup, teardown),
		cmocka_unit_test_setup_teardown(start_errors_and_rate_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(session_auth_and_steps, setup, teardown),
		cmocka_unit_test_setup_teardown(certificate_login, setup, teardown),
		cmocka_unit_test_setup_teardown(expiry, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
