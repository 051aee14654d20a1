/* fuzz_envelope.c: libFuzzer target for flow_apply (answers from the server are outside input).
 * The first byte picks the flow's step (0x80: a consent logged in; 0x40 without 0x80: a manage session), the request in flight, the HTTP status and the content
 * type; the rest is the body. Whatever comes, the flow must stay consistent (no crash, no leak). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "flow.h"

static const char start_201[] =
	"{\"session\":\"s\",\"step\":\"login\",\"partner\":{\"client_id\":\"p\",\"name\":{\"ja\":"
	"\"P\"}},\"request\":{\"scopes\":[{\"id\":\"balance\",\"name\":{\"ja\":\"b\"}}],"
	"\"scope_choice\":true,\"period_days\":1},\"data\":{\"methods\":[\"password\"]}}";
static const char pins_200[] =
	"{\"step\":\"pins\",\"data\":{\"pin_length\":4,\"accounts\":[{\"id\":\"a\",\"branch\":"
	"{\"name\":{\"ja\":\"x\"},\"code\":\"1\"},\"type\":\"ordinary\",\"number\":\"1\",\"memo\":"
	"null,\"pin\":\"unregistered\",\"pin_locked\":false,\"tries_left\":3},{\"id\":\"b\","
	"\"branch\":{\"name\":{\"ja\":\"y\"},\"code\":\"2\"},\"type\":\"savings\",\"number\":\"2\","
	"\"pin\":\"unregistered\",\"pin_locked\":false}]}}";

/* linked services (a manage session, protocol §4.12) */
static const char manage_201[] =
	"{\"session\":\"s\",\"purpose\":\"manage\",\"step\":\"login\",\"data\":{\"methods\":[\"password\"]}}";
static const char links_200[] =
	"{\"purpose\":\"manage\",\"step\":\"links\",\"data\":{\"links\":[{\"id\":\"1\",\"partner\":{"
	"\"client_id\":\"p\",\"name\":{\"ja\":\"P\"}},\"scopes\":[{\"id\":\"balance\",\"name\":{\"ja\":"
	"\"b\"}}],\"accounts\":[],\"authorized_on\":\"2026-12-03\",\"valid_until\":\"2027-12-03\"},{\"id\":"
	"\"2\",\"partner\":{\"client_id\":\"q\",\"name\":{\"ja\":\"Q\"}},\"scopes\":[{\"id\":\"balance\","
	"\"name\":{\"ja\":\"b\"}}],\"accounts\":[],\"authorized_on\":\"2026-12-03\",\"valid_until\":"
	"\"2027-12-03\"}]}}";

static void feed(struct flow *f, enum flow_action a, long st, const char *ct, const char *b, size_t n)
{
	struct flow_req r;
	if (flow_build(f, a, &r) == 0) {
		flow_apply(f, st, ct, b, n);
		flow_req_free(&r);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const long statuses[] = {200, 201, 401, 403, 409, 422, 429, 500};
	static const char *const cts[] = {"application/json", "application/problem+json",
					  "application/json; charset=utf-8", "text/html"};
	if (size < 1)
		return 0;
	uint8_t sel = data[0];
	const char *body = (const char *)data + 1;
	size_t len = size - 1;

	struct flow f;
	flow_init(&f);
	secret_set(&f.user_code, "WDJBMJHT", 8);
	enum flow_action act = FLOW_ACT_START;
	if (!(sel & 0x80) && (sel & 0x40)) { /* a manage session: login, then (0x20) a revocation */
		feed(&f, FLOW_ACT_MANAGE, 201, cts[0], manage_201, sizeof manage_201 - 1);
		flow_choose_method(&f, FLOW_LOGIN_PASSWORD);
		secret_set(&f.login.login_id, "u", 1);
		secret_set(&f.login.password, "p", 1);
		act = FLOW_ACT_LOGIN;
		if (sel & 0x20) {
			feed(&f, FLOW_ACT_LOGIN, 200, cts[0], links_200, sizeof links_200 - 1);
			for (size_t i = 0; i < f.n_links; i++)
				f.links[i].selected = true;
			flow_links_confirm(&f);
			act = FLOW_ACT_REVOKE;
		}
	} else if (sel & 0x80) {
		feed(&f, FLOW_ACT_START, 201, cts[0], start_201, sizeof start_201 - 1);
		flow_confirm_partner(&f);
		secret_set(&f.login.login_id, "u", 1);
		secret_set(&f.login.password, "p", 1);
		act = FLOW_ACT_LOGIN;
		if (sel & 0x40) {
			feed(&f, FLOW_ACT_LOGIN, 200, cts[0], pins_200, sizeof pins_200 - 1);
			for (size_t i = 0; i < f.n_accounts; i++) {
				f.accounts[i].selected = true;
				secret_set(&f.accounts[i].pin_input, "1234", 4);
			}
			act = (sel & 0x20) ? FLOW_ACT_PINS : FLOW_ACT_REFRESH;
		}
	}
	feed(&f, act, statuses[sel & 7], cts[(sel >> 3) & 3], body, len);
	/* and whatever step that left: a second answer, the same bytes */
	if (f.session.len)
		feed(&f, FLOW_ACT_REFRESH, 200, cts[0], body, len);
	flow_free(&f);
	return 0;
}
