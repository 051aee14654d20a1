/* test_sb_oauth.c: the OAuth and resource endpoints through http_dispatch (no TLS, built-in demo
 * scenario, state in memory); the consent side's approval is played by writing its rows directly. */
#include "sb_fixture.h"
#include "util.h"

static int setup(void **state)
{
	*state = fixture_new();
	return 0;
}

static void call(struct fixture *f, const char *method, const char *path, const char *ctype, const char *body,
		 const char *authorization, struct answer *a)
{
	struct http_req req;

	memset(&req, 0, sizeof(req));
	req.method = method;
	req.path = path;
	req.content_type = ctype;
	req.body = body;
	req.body_len = body ? strlen(body) : 0;
	req.authorization = authorization;
	dispatch(f, &req, a);
}

static const char *str(const struct answer *a, const char *name)
{
	const cJSON *v = a->json ? cJSON_GetObjectItemCaseSensitive(a->json, name) : NULL;
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static bool has_header(const struct answer *a, const char *line)
{
	for (int i = 0; i < 4; i++)
		if (a->headers[i] && strcmp(a->headers[i], line) == 0)
			return true;
	return false;
}

static void expect_error(struct fixture *f, const char *path, const char *body, int status, const char *error)
{
	struct answer a;
	call(f, "POST", path, FORM, body, NULL, &a);
	if (a.status != status || !str(&a, "error") || strcmp(str(&a, "error"), error) != 0)
		fail_msg("POST %s %s: want %d %s, got %d %s", path, body, status, error, a.status, a.body);
	done(&a);
}

/* method path with "Authorization: Bearer token" (no Authorization when token is NULL): want status. */
static void expect_bearer(struct fixture *f, const char *method, const char *path, const char *token, int status)
{
	struct answer a;
	char auth[128];

	snprintf(auth, sizeof(auth), "Bearer %s", token ? token : "");
	call(f, method, path, NULL, NULL, token ? auth : NULL, &a);
	if (a.status != status)
		fail_msg("%s %s (Bearer %s): want %d, got %d %s", method, path, token ? token : "none", status,
			 a.status, a.body);
	done(&a);
}

static long long sql_int(struct fixture *f, const char *sql, const char *arg)
{
	sqlite3_stmt *st;
	long long v = -1;
	assert_int_equal(sqlite3_prepare_v2(f->sb.db.h, sql, -1, &st, NULL), SQLITE_OK);
	if (arg)
		sqlite3_bind_text(st, 1, arg, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* A device authorization; device_code and the normalized user_code copied out. */
static void authorize(struct fixture *f, const char *body, char *dc, size_t dclen, char *uc)
{
	struct answer a;
	call(f, "POST", "/oauth/device_authorization", FORM, body, NULL, &a);
	assert_int_equal(a.status, 200);
	assert_non_null(str(&a, "device_code"));
	assert_true(strlen(str(&a, "device_code")) >= 43);
	snprintf(dc, dclen, "%s", str(&a, "device_code"));
	assert_true(sandbox_normalize_user_code(f->sb.sc, str(&a, "user_code"), uc, 65));
	done(&a);
}

static void poll_token(struct fixture *f, const char *client, const char *dc, struct answer *a)
{
	char body[512];
	snprintf(body, sizeof(body), DEVICE_GRANT "&client_id=%s&device_code=%s", client, dc);
	call(f, "POST", "/oauth/token", FORM, body, NULL, a);
}

static void metadata(void **state)
{
	struct fixture *f = *state;
	struct answer a;
	call(f, "GET", "/.well-known/oauth-authorization-server", NULL, NULL, NULL, &a);
	assert_int_equal(a.status, 200);
	assert_string_equal(str(&a, "issuer"), "https://127.0.0.1:8443");
	assert_string_equal(str(&a, "token_endpoint"), "https://127.0.0.1:8443/oauth/token");
	assert_string_equal(str(&a, "device_authorization_endpoint"),
			    "https://127.0.0.1:8443/oauth/device_authorization");
	assert_string_equal(str(&a, "revocation_endpoint"), "https://127.0.0.1:8443/oauth/revoke");
	assert_string_equal(str(&a, "consent_endpoint"), "https://127.0.0.1:8443/consent/v1");
	done(&a);
	call(f, "POST", "/.well-known/oauth-authorization-server", NULL, NULL, NULL, &a);
	assert_int_equal(a.status, 405);
	done(&a);
	call(f, "GET", "/device", NULL, NULL, NULL, &a);
	assert_int_equal(a.status, 200);
	assert_non_null(strstr(a.body, "renkei"));
	done(&a);
	call(f, "GET", "/no/such/thing", NULL, NULL, NULL, &a);
	assert_int_equal(a.status, 404);
	assert_string_equal(str(&a, "type"), "urn:renkei:problem:not-found");
	done(&a);
}

static void device_authorization(void **state)
{
	struct fixture *f = *state;
	struct answer a;

	call(f, "POST", "/oauth/device_authorization", FORM, "client_id=kakeibo-demo&scope=balance+transactions", NULL,
	     &a);
	assert_int_equal(a.status, 200);
	const char *uc = str(&a, "user_code");
	assert_non_null(uc);
	assert_int_equal(strlen(uc), 9);
	assert_int_equal(uc[4], '-');
	assert_int_equal(strspn(uc, "BCDFGHJKLMNPQRSTVWXZ-"), 9);
	assert_string_equal(str(&a, "verification_uri"), "https://127.0.0.1:8443/device");
	assert_int_equal(cJSON_GetObjectItem(a.json, "expires_in")->valueint, 600);
	assert_int_equal(cJSON_GetObjectItem(a.json, "interval")->valueint, 5);
	/* Stored hashed: the device code itself is nowhere in the table. */
	char h[65];
	db_hash(str(&a, "device_code"), h);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM device_auth WHERE device_code_hash = ?", h), 1);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM device_auth WHERE device_code_hash = ?", str(&a, "device_code")),
			 0);
	done(&a);

	/* Scope left out: every scope of the partner, in the partner's order. */
	char dc[64], code[65];
	authorize(f, "client_id=kakeibo-demo", dc, sizeof(dc), code);
	sqlite3_stmt *st;
	char uch[65];
	/* the user code is stored hashed like the other secrets (§6 rule 9), never in clear */
	assert_int_equal(sql_int(f, "SELECT count(*) FROM device_auth WHERE user_code = ?", code), 0);
	sandbox_user_code_hash(code, uch);
	assert_int_equal(sqlite3_prepare_v2(f->sb.db.h, "SELECT scopes FROM device_auth WHERE user_code = ?", -1, &st,
					    NULL),
			 SQLITE_OK);
	sqlite3_bind_text(st, 1, uch, -1, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "balance transactions");
	sqlite3_finalize(st);

	expect_error(f, "/oauth/device_authorization", "client_id=nobody", 401, "invalid_client");
	expect_error(f, "/oauth/device_authorization", "scope=balance", 400, "invalid_request");
	expect_error(f, "/oauth/device_authorization", "client_id=kakeibo-demo&scope=balance%20savings", 400,
		     "invalid_scope");
	expect_error(f, "/oauth/device_authorization", "client_id=kakeibo-demo&client_id=mieru-demo", 400,
		     "invalid_request");
	expect_error(f, "/oauth/device_authorization", "client_id=kakeibo%zz", 400, "invalid_request");
	call(f, "POST", "/oauth/device_authorization", "application/json", "{\"client_id\":\"kakeibo-demo\"}", NULL, &a);
	assert_int_equal(a.status, 400);
	assert_string_equal(str(&a, "error"), "invalid_request");
	done(&a);
	call(f, "GET", "/oauth/device_authorization", NULL, NULL, NULL, &a);
	assert_int_equal(a.status, 405);
	assert_true(has_header(&a, "Allow: POST"));
	done(&a);
}

static void polling(void **state)
{
	struct fixture *f = *state;
	struct answer a;
	char dc[64], code[65], h[65];

	authorize(f, "client_id=kakeibo-demo&scope=balance", dc, sizeof(dc), code);
	db_hash(dc, h);
	poll_token(f, "kakeibo-demo", dc, &a);
	assert_int_equal(a.status, 400);
	assert_string_equal(str(&a, "error"), "authorization_pending");
	done(&a);
	/* At once again: too fast, and the interval grows by 5 s each time. */
	poll_token(f, "kakeibo-demo", dc, &a);
	assert_string_equal(str(&a, "error"), "slow_down");
	done(&a);
	assert_int_equal(sql_int(f, "SELECT interval FROM device_auth WHERE device_code_hash = ?", h), 10);
	poll_token(f, "kakeibo-demo", dc, &a);
	assert_string_equal(str(&a, "error"), "slow_down");
	done(&a);
	assert_int_equal(sql_int(f, "SELECT interval FROM device_auth WHERE device_code_hash = ?", h), 15);
	/* Long enough after the previous poll: pending again. */
	sql(f, "UPDATE device_auth SET last_poll = last_poll - 15 WHERE device_code_hash = '%s'", h);
	poll_token(f, "kakeibo-demo", dc, &a);
	assert_string_equal(str(&a, "error"), "authorization_pending");
	done(&a);

	poll_token(f, "mieru-demo", dc, &a);
	assert_string_equal(str(&a, "error"), "invalid_grant");
	done(&a);
	poll_token(f, "kakeibo-demo", "not-a-device-code", &a);
	assert_string_equal(str(&a, "error"), "invalid_grant");
	done(&a);
	poll_token(f, "nobody", dc, &a);
	assert_int_equal(a.status, 401);
	assert_string_equal(str(&a, "error"), "invalid_client");
	done(&a);
	expect_error(f, "/oauth/token", "client_id=kakeibo-demo&device_code=x", 400, "invalid_request");
	expect_error(f, "/oauth/token", "grant_type=password&client_id=kakeibo-demo", 400, "unsupported_grant_type");
	expect_error(f, "/oauth/token", DEVICE_GRANT "&client_id=kakeibo-demo", 400, "invalid_request");
	/* %-escaped colons decode to the same grant type. */
	expect_error(f, "/oauth/token",
		     "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code&client_id=kakeibo-demo"
		     "&device_code=unknown",
		     400, "invalid_grant");

	/* Expiry without a decision. */
	sql(f, "UPDATE device_auth SET expires_at = 0 WHERE device_code_hash = '%s'", h);
	poll_token(f, "kakeibo-demo", dc, &a);
	assert_string_equal(str(&a, "error"), "expired_token");
	done(&a);

	/* A denial. */
	authorize(f, "client_id=mieru-demo", dc, sizeof(dc), code);
	db_hash(dc, h);
	sql(f, "UPDATE device_auth SET status = 'denied' WHERE device_code_hash = '%s'", h);
	poll_token(f, "mieru-demo", dc, &a);
	assert_string_equal(str(&a, "error"), "access_denied");
	done(&a);
}

/* Approve as consent.c does: a grant row, the device authorization approved and pointing at it. */
static void approve(struct fixture *f, const char *dc, const char *client, const char *scopes, const char *accounts)
{
	char h[65];
	long long now = sandbox_now();
	db_hash(dc, h);
	sql(f,
	    "INSERT INTO grants (client_id, customer, scopes, accounts, created_at, expires_at)"
	    " VALUES ('%s', 'yamada01', '%s', '%s', %lld, %lld)",
	    client, scopes, accounts, now, now + 365LL * 86400);
	sql(f, "UPDATE device_auth SET status = 'approved', grant_id = last_insert_rowid() WHERE device_code_hash = '%s'",
	    h);
}

static void tokens_and_resources(void **state)
{
	struct fixture *f = *state;
	struct answer a;
	char dc[64], code[65], at[64], rt[64], auth[128], body[256], h[65];

	authorize(f, "client_id=kakeibo-demo", dc, sizeof(dc), code);
	approve(f, dc, "kakeibo-demo", "balance", "acc-001-2000002");
	poll_token(f, "kakeibo-demo", dc, &a);
	assert_int_equal(a.status, 200);
	assert_string_equal(str(&a, "token_type"), "Bearer");
	assert_string_equal(str(&a, "scope"), "balance");
	assert_int_equal(cJSON_GetObjectItem(a.json, "expires_in")->valueint, 3600);
	snprintf(at, sizeof(at), "%s", str(&a, "access_token"));
	snprintf(rt, sizeof(rt), "%s", str(&a, "refresh_token"));
	assert_int_equal(strlen(at), 43);
	assert_int_equal(strlen(rt), 43);
	assert_true(has_header(&a, "Pragma: no-cache"));
	done(&a);
	db_hash(at, h);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM tokens WHERE hash = ?", h), 1);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM tokens WHERE hash = ?", at), 0);

	snprintf(auth, sizeof(auth), "Bearer %s", at);
	call(f, "GET", "/v1/accounts", NULL, NULL, auth, &a);
	assert_int_equal(a.status, 200);
	cJSON *accs = cJSON_GetObjectItem(a.json, "accounts");
	assert_int_equal(cJSON_GetArraySize(accs), 1);
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(accs, 0), "id")->valuestring, "acc-001-2000002");
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(accs, 0), "type")->valuestring, "ordinary");
	done(&a);
	call(f, "GET", "/v1/accounts/acc-001-2000002/balances", NULL, NULL, auth, &a);
	assert_int_equal(a.status, 200);
	assert_string_equal(str(&a, "account"), "acc-001-2000002");
	assert_true(cJSON_GetArraySize(cJSON_GetObjectItem(a.json, "balances")) >= 1);
	done(&a);
	call(f, "GET", "/v1/accounts/acc-001-2000002/transactions", NULL, NULL, auth, &a);
	assert_int_equal(a.status, 403);
	assert_string_equal(str(&a, "type"), "urn:renkei:problem:scope-insufficient");
	assert_string_equal(str(&a, "scope"), "transactions");
	assert_true(has_header(&a, "WWW-Authenticate: Bearer error=\"insufficient_scope\", scope=\"transactions\""));
	done(&a);
	call(f, "GET", "/v1/accounts/acc-001-1111111/balances", NULL, NULL, auth, &a);
	assert_int_equal(a.status, 404);
	assert_string_equal(str(&a, "type"), "urn:renkei:problem:not-found");
	done(&a);
	call(f, "GET", "/v1/accounts", NULL, NULL, NULL, &a);
	assert_int_equal(a.status, 401);
	assert_string_equal(str(&a, "type"), "urn:renkei:problem:token-invalid");
	assert_true(has_header(&a, "WWW-Authenticate: Bearer error=\"invalid_token\""));
	done(&a);
	expect_bearer(f, "GET", "/v1/accounts", "AAAA", 401);
	expect_bearer(f, "GET", "/v1/accounts", "x y", 401);
	expect_bearer(f, "GET", "/v1/accounts", rt, 401); /* the refresh token is no access token */
	expect_bearer(f, "DELETE", "/v1/accounts", at, 405);
	expect_bearer(f, "GET", "/v1/elsewhere", at, 404);

	/* Refresh (§2.3): a new access token and a new refresh token; the old access token is retired. */
	snprintf(body, sizeof(body), "grant_type=refresh_token&client_id=mieru-demo&refresh_token=%s", rt);
	expect_error(f, "/oauth/token", body, 400, "invalid_grant"); /* another client's: nothing changes */
	snprintf(body, sizeof(body), "grant_type=refresh_token&client_id=kakeibo-demo&refresh_token=%s", rt);
	call(f, "POST", "/oauth/token", FORM, body, NULL, &a);
	assert_int_equal(a.status, 200);
	assert_string_not_equal(str(&a, "refresh_token"), rt);
	assert_string_not_equal(str(&a, "access_token"), at);
	char at2[64], rt2[64];
	snprintf(at2, sizeof(at2), "%s", str(&a, "access_token"));
	snprintf(rt2, sizeof(rt2), "%s", str(&a, "refresh_token"));
	done(&a);
	expect_bearer(f, "GET", "/v1/accounts", at, 401);
	expect_bearer(f, "GET", "/v1/accounts", at2, 200);
	snprintf(body, sizeof(body), "grant_type=refresh_token&client_id=mieru-demo&refresh_token=%s", rt2);
	expect_error(f, "/oauth/token", body, 400, "invalid_grant");
	snprintf(body, sizeof(body), "grant_type=refresh_token&client_id=kakeibo-demo&refresh_token=%s", at);
	expect_error(f, "/oauth/token", body, 400, "invalid_grant");
	snprintf(body, sizeof(body), "grant_type=refresh_token&client_id=kakeibo-demo&refresh_token=%s&scope=transactions",
		 rt2);
	expect_error(f, "/oauth/token", body, 400, "invalid_scope");

	/* Revocation by another client changes nothing; by the right one ends the whole grant. */
	snprintf(body, sizeof(body), "client_id=mieru-demo&token=%s", at2);
	call(f, "POST", "/oauth/revoke", FORM, body, NULL, &a);
	assert_int_equal(a.status, 200);
	done(&a);
	expect_bearer(f, "GET", "/v1/accounts", at2, 200);
	snprintf(body, sizeof(body), "client_id=kakeibo-demo&token=%s&token_type_hint=access_token", at2);
	call(f, "POST", "/oauth/revoke", FORM, body, NULL, &a);
	assert_int_equal(a.status, 200);
	assert_int_equal(a.body[0], '\0');
	done(&a);
	expect_bearer(f, "GET", "/v1/accounts", at2, 401);
	snprintf(body, sizeof(body), "grant_type=refresh_token&client_id=kakeibo-demo&refresh_token=%s", rt2);
	expect_error(f, "/oauth/token", body, 400, "invalid_grant");
	call(f, "POST", "/oauth/revoke", FORM, "client_id=kakeibo-demo&token=unknown", NULL, &a);
	assert_int_equal(a.status, 200);
	done(&a);
	expect_error(f, "/oauth/revoke", "client_id=kakeibo-demo", 400, "invalid_request");
	expect_error(f, "/oauth/revoke", "client_id=nobody&token=x", 401, "invalid_client");
	/* The device code gives a token once only (redeemed again it also revokes its grant, protocol
	 * §2.3: tests/sandbox/test_oauth.py). */
	poll_token(f, "kakeibo-demo", dc, &a);
	assert_string_equal(str(&a, "error"), "invalid_grant");
	done(&a);
}

static void period_end(void **state)
{
	struct fixture *f = *state;
	struct answer a;
	char dc[64], code[65], at[64], rt[64], auth[128], body[256];

	authorize(f, "client_id=mieru-demo", dc, sizeof(dc), code);
	approve(f, dc, "mieru-demo", "balance transactions", "acc-001-2000002 acc-001-1111111");
	poll_token(f, "mieru-demo", dc, &a);
	assert_int_equal(a.status, 200);
	snprintf(at, sizeof(at), "%s", str(&a, "access_token"));
	snprintf(rt, sizeof(rt), "%s", str(&a, "refresh_token"));
	done(&a);
	snprintf(auth, sizeof(auth), "Bearer %s", at);
	call(f, "GET", "/v1/accounts/acc-001-1111111/transactions", NULL, NULL, auth, &a);
	assert_int_equal(a.status, 200);
	assert_string_equal(str(&a, "account"), "acc-001-1111111");
	done(&a);
	/* The authorization period ends: the access token and the refresh token stop working. */
	sql(f, "UPDATE grants SET expires_at = %lld WHERE client_id = 'mieru-demo'", sandbox_now());
	expect_bearer(f, "GET", "/v1/accounts", at, 401);
	snprintf(body, sizeof(body), "grant_type=refresh_token&client_id=mieru-demo&refresh_token=%s", rt);
	expect_error(f, "/oauth/token", body, 400, "invalid_grant");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(metadata, setup, teardown),
		cmocka_unit_test_setup_teardown(device_authorization, setup, teardown),
		cmocka_unit_test_setup_teardown(polling, setup, teardown),
		cmocka_unit_test_setup_teardown(tokens_and_resources, setup, teardown),
		cmocka_unit_test_setup_teardown(period_end, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
