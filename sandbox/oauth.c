/* oauth.c: the partner's side (protocol §2): RFC 8414 metadata, the /device page, device
 * authorization (RFC 8628), the token endpoint (device code and refresh) and revocation (RFC 7009). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oauth.h"
#include "sandbox.h"
#include "util.h"

#define GRANT_DEVICE "urn:ietf:params:oauth:grant-type:device_code"
#define TOKEN_BYTES 32 /* 256 bits */
#define TOKEN_LEN 44   /* base64url of 32 bytes + NUL */
#define USER_CODE_MAX 64
#define SLOW_DOWN_STEP 5 /* RFC 8628 §3.5 */

int oauth_init(struct sandbox *sb)
{
	/* grants by customer: the links list (§4.12) reads one customer's, not every grant */
	return db_exec(&sb->db, "CREATE INDEX IF NOT EXISTS tokens_by_grant ON tokens(grant_id);"
				"CREATE INDEX IF NOT EXISTS grants_by_customer ON grants(customer);");
}

/* --- answers ------------------------------------------------------------------------------ */

static void oauth_error(struct http_resp *resp, int status, const char *error, const char *desc)
{
	cJSON *j = cJSON_CreateObject();

	if (j) {
		cJSON_AddStringToObject(j, "error", error);
		if (desc)
			cJSON_AddStringToObject(j, "error_description", desc);
	}
	http_json(resp, status, j);
	http_header(resp, "Pragma", "no-cache");
}

static void server_error(struct sandbox *sb, struct http_resp *resp)
{
	db_rollback(&sb->db);
	oauth_error(resp, 500, "server_error", "The server failed; nothing was changed.");
}

static void method_not_allowed(struct http_resp *resp, const char *allow)
{
	http_problem(resp, 405, "method-not-allowed", "This method is not allowed here.", NULL);
	http_header(resp, "Allow", allow);
}

/* Parse a form body. Returns false (resp filled with invalid_request) when it is not one. */
static bool read_form(const struct http_req *req, struct sb_form *f, struct http_resp *resp)
{
	if (!sb_media_type_is(req->content_type, "application/x-www-form-urlencoded")) {
		oauth_error(resp, 400, "invalid_request", "Content-Type must be application/x-www-form-urlencoded.");
		return false;
	}
	if (sb_form_parse(req->body, req->body_len, f) != 0) {
		oauth_error(resp, 400, "invalid_request", "Malformed form body.");
		return false;
	}
	return true;
}

/* A parameter: NULL when absent or empty (RFC 6749 §3.1); *dup set when it appears twice. */
static const char *param(const struct sb_form *f, const char *name, bool *dup)
{
	size_t n;
	const char *v = sb_form_get(f, name, &n);

	if (n > 1)
		*dup = true;
	return v && *v ? v : NULL;
}

/* --- metadata and the /device page ------------------------------------------------------- */

static void metadata(struct sandbox *sb, const struct http_req *req, struct http_resp *resp)
{
	char iss[256], url[320];
	cJSON *j = cJSON_CreateObject(), *a;

	sb_request_issuer(sb, req, iss, sizeof(iss));
	cJSON_AddStringToObject(j, "issuer", iss);
	snprintf(url, sizeof(url), "%s/oauth/device_authorization", iss);
	cJSON_AddStringToObject(j, "device_authorization_endpoint", url);
	snprintf(url, sizeof(url), "%s/oauth/token", iss);
	cJSON_AddStringToObject(j, "token_endpoint", url);
	snprintf(url, sizeof(url), "%s/oauth/revoke", iss);
	cJSON_AddStringToObject(j, "revocation_endpoint", url);
	a = cJSON_AddArrayToObject(j, "grant_types_supported");
	cJSON_AddItemToArray(a, cJSON_CreateString(GRANT_DEVICE));
	cJSON_AddItemToArray(a, cJSON_CreateString("refresh_token"));
	a = cJSON_AddArrayToObject(j, "scopes_supported");
	for (size_t i = 0; i < sb->sc->nscopes; i++)
		cJSON_AddItemToArray(a, cJSON_CreateString(sb->sc->scopes[i].id));
	a = cJSON_AddArrayToObject(j, "token_endpoint_auth_methods_supported");
	cJSON_AddItemToArray(a, cJSON_CreateString("none"));
	a = cJSON_AddArrayToObject(j, "revocation_endpoint_auth_methods_supported");
	cJSON_AddItemToArray(a, cJSON_CreateString("none"));
	snprintf(url, sizeof(url), "%s/consent/v1", iss);
	cJSON_AddStringToObject(j, "consent_endpoint", url);
	http_json(resp, 200, j);
}

static void device_page(struct http_resp *resp)
{
	static const char page[] =
		"API連携認証（利用登録）\n"
		"\n"
		"提携サービスの画面に表示されたコード（例: WDJB-MJHT）を、\n"
		"窓口または端末の renkei で入力してください。\n"
		"このページではお手続きできません。\n"
		"\n"
		"API consent (registration)\n"
		"\n"
		"Type the code the partner's app shows you (e.g. WDJB-MJHT) into renkei\n"
		"at the counter or at a kiosk. Nothing can be done on this page.\n";
	char *body = strdup(page);

	if (!body) {
		http_problem(resp, 500, "internal", NULL, NULL);
		return;
	}
	free(resp->body);
	resp->status = 200;
	resp->content_type = "text/plain; charset=utf-8";
	resp->body = body;
	resp->body_len = strlen(body);
}

/* --- device authorization ---------------------------------------------------------------- */

/* A uniformly random code from the scenario's charset. */
static int random_user_code(const struct scenario *sc, char *out)
{
	size_t n = strlen(sc->user_code_charset), len = (size_t)sc->user_code_length, o = 0;
	unsigned limit = 256 - 256 % (unsigned)n;
	unsigned char buf[64];

	while (o < len) {
		if (db_random_bytes(buf, sizeof(buf)) != 0)
			return -1;
		for (size_t i = 0; i < sizeof(buf) && o < len; i++)
			if (buf[i] < limit)
				out[o++] = sc->user_code_charset[buf[i] % n];
	}
	out[o] = '\0';
	return 0;
}

/* 1 = the code is free (no row), 0 = taken by a live row, 2 = taken by a dead row (expired and not
 * waiting to be picked up) that may be replaced, -1 = error. */
static int user_code_state(struct sandbox *sb, const char *code, long long now)
{
	sqlite3_stmt *st;
	int ret = -1;
	char h[65];

	sandbox_user_code_hash(code, h);
	if (!(st = db_stmt(&sb->db, "SELECT expires_at, status FROM device_auth WHERE user_code = ?")))
		return -1;
	sqlite3_bind_text(st, 1, h, -1, SQLITE_TRANSIENT);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		ret = 1;
	} else if (rc == SQLITE_ROW) {
		long long exp = sqlite3_column_int64(st, 0);
		const char *status = (const char *)sqlite3_column_text(st, 1);
		ret = (exp <= now && status && strcmp(status, "approved") != 0) ? 2 : 0;
	}
	db_stmt_done(&sb->db, st);
	return ret;
}

/* A user code unique among all rows; a dead row's code is reused only when the space is crowded. */
static int new_user_code(struct sandbox *sb, long long now, char *out)
{
	char dead[USER_CODE_MAX + 1] = "";

	for (int tries = 0; tries < 64; tries++) {
		if (random_user_code(sb->sc, out) != 0)
			return -1;
		int s = user_code_state(sb, out, now);
		if (s < 0)
			return -1;
		if (s == 1)
			return 0;
		if (s == 2 && !dead[0])
			snprintf(dead, sizeof(dead), "%s", out);
	}
	if (!dead[0])
		return 1; /* every code tried is live: the space is full */
	sqlite3_stmt *st;
	char h[65];
	sandbox_user_code_hash(dead, h);
	if (!(st = db_stmt(&sb->db, "DELETE FROM device_auth WHERE user_code = ?")))
		return -1;
	sqlite3_bind_text(st, 1, h, -1, SQLITE_TRANSIENT);
	int rc = sqlite3_step(st);
	db_stmt_done(&sb->db, st);
	if (rc != SQLITE_DONE)
		return -1;
	snprintf(out, USER_CODE_MAX + 1, "%s", dead);
	return 0;
}

/* "WDJBMJHT" -> "WDJB-MJHT" (a hyphen in the middle of codes of 6 or more characters). */
static void display_user_code(const char *code, char *out, size_t outlen)
{
	size_t n = strlen(code);

	if (n < 6) {
		snprintf(out, outlen, "%s", code);
		return;
	}
	size_t half = (n + 1) / 2;
	snprintf(out, outlen, "%.*s-%s", (int)half, code, code + half);
}

static bool partner_may(const struct sc_partner *p, const char *scope)
{
	for (size_t i = 0; i < p->nscopes; i++)
		if (strcmp(p->scopes[i], scope) == 0)
			return true;
	return false;
}

static void device_authorization(struct sandbox *sb, const struct http_req *req, struct http_resp *resp)
{
	struct sb_form f;
	bool dup = false;
	const struct sc_partner *partner;
	char scopes[1024] = "", code[USER_CODE_MAX + 1], shown[USER_CODE_MAX + 2], dc[TOKEN_LEN], dch[65];
	char iss[256], uri[300];
	long long now = sandbox_now();

	if (!read_form(req, &f, resp))
		return;
	const char *client_id = param(&f, "client_id", &dup);
	const char *scope = param(&f, "scope", &dup);
	if (dup) {
		oauth_error(resp, 400, "invalid_request", "A parameter appears more than once.");
		goto out;
	}
	if (!client_id) {
		oauth_error(resp, 400, "invalid_request", "client_id is required.");
		goto out;
	}
	partner = scenario_partner(sb->sc, client_id);
	if (!partner) {
		oauth_error(resp, 401, "invalid_client", "Unknown client_id.");
		goto out;
	}
	if (scope) {
		/* Every listed scope must be one the partner may ask for (RFC 6749 §3.3: space-separated). */
		size_t n;
		for (const char *w = scope; (n = sb_next_word(&w)) != 0; w += n) {
			char word[128];
			if (n >= sizeof(word)) {
				oauth_error(resp, 400, "invalid_scope", "Unknown scope.");
				goto out;
			}
			memcpy(word, w, n);
			word[n] = '\0';
			if (!partner_may(partner, word)) {
				oauth_error(resp, 400, "invalid_scope", "A requested scope is not available to this client.");
				goto out;
			}
		}
	}
	/* Requested set in the partner's order, each once. */
	for (size_t i = 0; i < partner->nscopes; i++) {
		const char *s = partner->scopes[i];
		if (scope && !sb_word_in(scope, s, strlen(s)))
			continue;
		if (strlen(scopes) + strlen(s) + 2 > sizeof(scopes))
			break;
		if (scopes[0])
			strcat(scopes, " ");
		strcat(scopes, s);
	}
	if (!scopes[0]) {
		oauth_error(resp, 400, "invalid_scope", "No scope requested.");
		goto out;
	}
	if (sb->sc->user_code_length <= 0 || sb->sc->user_code_length > USER_CODE_MAX ||
	    !sb->sc->user_code_charset || !sb->sc->user_code_charset[0] || strlen(sb->sc->user_code_charset) > 128) {
		server_error(sb, resp);
		goto out;
	}

	if (db_begin(&sb->db) != 0) {
		server_error(sb, resp);
		goto out;
	}
	int uc = new_user_code(sb, now, code);
	if (uc != 0) {
		db_rollback(&sb->db);
		if (uc > 0)
			oauth_error(resp, 503, "temporarily_unavailable", "No user code is free; try again later.");
		else
			server_error(sb, resp);
		goto out;
	}
	if (db_random_token(dc, sizeof(dc), TOKEN_BYTES) != 0) {
		server_error(sb, resp);
		goto out;
	}
	db_hash(dc, dch);
	sqlite3_stmt *st;
	if (!(st = db_stmt(&sb->db,
			       "INSERT INTO device_auth (device_code_hash, user_code, client_id, scopes, created_at,"
			       " expires_at, interval) VALUES (?, ?, ?, ?, ?, ?, ?)"))) {
		server_error(sb, resp);
		goto wipe;
	}
	sqlite3_bind_text(st, 1, dch, -1, SQLITE_STATIC);
	char uch[65];
	sandbox_user_code_hash(code, uch);
	sqlite3_bind_text(st, 2, uch, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 3, client_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, scopes, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, now);
	sqlite3_bind_int64(st, 6, now + sb->sc->expires_in);
	sqlite3_bind_int(st, 7, sb->sc->interval);
	int rc = sqlite3_step(st);
	db_stmt_done(&sb->db, st);
	if (rc != SQLITE_DONE || db_commit(&sb->db) != 0) {
		server_error(sb, resp);
		goto wipe;
	}

	cJSON *j = cJSON_CreateObject();
	display_user_code(code, shown, sizeof(shown));
	sb_request_issuer(sb, req, iss, sizeof(iss));
	snprintf(uri, sizeof(uri), "%s/device", iss);
	cJSON_AddStringToObject(j, "device_code", dc);
	cJSON_AddStringToObject(j, "user_code", shown);
	cJSON_AddStringToObject(j, "verification_uri", uri);
	cJSON_AddNumberToObject(j, "expires_in", sb->sc->expires_in);
	cJSON_AddNumberToObject(j, "interval", sb->sc->interval);
	http_json(resp, 200, j);
	http_header(resp, "Pragma", "no-cache");
wipe:
	explicit_bzero(dc, sizeof(dc));
out:
	sb_form_free(&f);
}

/* --- tokens -------------------------------------------------------------------------------- */

static int insert_token(struct sandbox *sb, const char *token, long long grant_id, const char *kind,
			long long expires_at)
{
	sqlite3_stmt *st;
	char h[65];
	int rc;

	db_hash(token, h);
	if (!(st = db_stmt(&sb->db, "INSERT INTO tokens (hash, grant_id, kind, expires_at) VALUES (?, ?, ?, ?)")))
		return -1;
	sqlite3_bind_text(st, 1, h, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, grant_id);
	sqlite3_bind_text(st, 3, kind, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, expires_at);
	rc = sqlite3_step(st);
	db_stmt_done(&sb->db, st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* Issue an access token and a new refresh token for a grant and answer with them (the refresh token
 * rotates on every use, §2.3). Runs inside the caller's transaction and commits it. */
static void issue(struct sandbox *sb, struct http_resp *resp, long long grant_id, const char *scopes,
		  long long grant_end, long long now)
{
	char access[TOKEN_LEN], refresh[TOKEN_LEN];
	long long exp = now + sb->sc->access_token_ttl;

	if (exp > grant_end)
		exp = grant_end;
	if (db_random_token(access, sizeof(access), TOKEN_BYTES) != 0 ||
	    insert_token(sb, access, grant_id, "access", exp) != 0) {
		server_error(sb, resp);
		goto wipe;
	}
	if (db_random_token(refresh, sizeof(refresh), TOKEN_BYTES) != 0 ||
	    insert_token(sb, refresh, grant_id, "refresh", grant_end) != 0) {
		server_error(sb, resp);
		goto wipe;
	}
	if (db_commit(&sb->db) != 0) {
		server_error(sb, resp);
		goto wipe;
	}
	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "access_token", access);
	cJSON_AddStringToObject(j, "token_type", "Bearer");
	cJSON_AddNumberToObject(j, "expires_in", (double)(exp - now));
	cJSON_AddStringToObject(j, "refresh_token", refresh);
	cJSON_AddStringToObject(j, "scope", scopes);
	http_json(resp, 200, j);
	http_header(resp, "Pragma", "no-cache");
wipe:
	explicit_bzero(access, sizeof(access));
	explicit_bzero(refresh, sizeof(refresh));
}

/* Grant columns; false when there is no such grant. */
struct grant_row {
	char client_id[128];
	char scopes[1024];
	long long expires_at;
	bool revoked;
};

static int load_grant(struct sandbox *sb, long long id, struct grant_row *g)
{
	sqlite3_stmt *st;
	int ret = -1;

	if (!(st = db_stmt(&sb->db, "SELECT client_id, scopes, expires_at, revoked FROM grants WHERE id = ?")))
		return -1;
	sqlite3_bind_int64(st, 1, id);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		snprintf(g->client_id, sizeof(g->client_id), "%s", (const char *)sqlite3_column_text(st, 0));
		snprintf(g->scopes, sizeof(g->scopes), "%s", (const char *)sqlite3_column_text(st, 1));
		g->expires_at = sqlite3_column_int64(st, 2);
		g->revoked = sqlite3_column_int(st, 3) != 0;
		ret = 1;
	} else if (rc == SQLITE_DONE) {
		ret = 0;
	}
	db_stmt_done(&sb->db, st);
	return ret;
}

static int set_device_status(struct sandbox *sb, const char *hash, const char *status)
{
	sqlite3_stmt *st;
	int rc;

	if (!(st = db_stmt(&sb->db, "UPDATE device_auth SET status = ? WHERE device_code_hash = ?")))
		return -1;
	sqlite3_bind_text(st, 1, status, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, hash, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	db_stmt_done(&sb->db, st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* Begin a transaction and look up the row of a secret stored hashed (sql binds the hash as ?1).
 * 1: *st is on the row (the caller finalizes it and ends the transaction); 0: no such row, answered
 * invalid_grant (unknown) and rolled back; -1: a server error, answered and rolled back. */
static int find_hashed(struct sandbox *sb, struct http_resp *resp, const char *secret, const char *sql,
		       const char *unknown, sqlite3_stmt **st, char h[65])
{
	db_hash(secret, h);
	if (db_begin(&sb->db) != 0) {
		server_error(sb, resp);
		return -1;
	}
	if (!(*st = db_stmt(&sb->db, sql))) {
		server_error(sb, resp);
		return -1;
	}
	sqlite3_bind_text(*st, 1, h, -1, SQLITE_TRANSIENT);
	int rc = sqlite3_step(*st);
	if (rc == SQLITE_ROW)
		return 1;
	db_stmt_done(&sb->db, *st);
	*st = NULL;
	if (rc != SQLITE_DONE) {
		server_error(sb, resp);
		return -1;
	}
	db_rollback(&sb->db);
	oauth_error(resp, 400, "invalid_grant", unknown);
	return 0;
}

static void device_code_reused(struct sandbox *sb, struct http_resp *resp, long long grant_id);

static void device_code_grant(struct sandbox *sb, struct http_resp *resp, const char *client_id,
			      const char *device_code, long long now)
{
	sqlite3_stmt *st;
	char h[65];
	int rc;

	if (find_hashed(sb, resp, device_code,
			"SELECT client_id, expires_at, interval, last_poll, status, grant_id FROM device_auth"
			" WHERE device_code_hash = ?",
			"Unknown device_code.", &st, h) <= 0)
		return;
	bool same_client = strcmp((const char *)sqlite3_column_text(st, 0), client_id) == 0;
	long long expires_at = sqlite3_column_int64(st, 1);
	long long interval = sqlite3_column_int64(st, 2);
	bool polled = sqlite3_column_type(st, 3) != SQLITE_NULL;
	long long last_poll = sqlite3_column_int64(st, 3);
	char status[16];
	snprintf(status, sizeof(status), "%s", (const char *)sqlite3_column_text(st, 4));
	bool has_grant = sqlite3_column_type(st, 5) != SQLITE_NULL;
	long long grant_id = sqlite3_column_int64(st, 5);
	db_stmt_done(&sb->db, st);

	if (same_client && strcmp(status, "issued") == 0 && has_grant) {
		device_code_reused(sb, resp, grant_id);
		return;
	}
	if (!same_client || strcmp(status, "issued") == 0) {
		db_rollback(&sb->db);
		oauth_error(resp, 400, "invalid_grant",
			    same_client ? "The device_code was already used." : "Unknown device_code.");
		return;
	}
	if (strcmp(status, "denied") == 0) {
		db_rollback(&sb->db);
		oauth_error(resp, 400, "access_denied", "The customer did not allow the request.");
		return;
	}
	if (strcmp(status, "approved") == 0) {
		struct grant_row g;
		int gr = has_grant ? load_grant(sb, grant_id, &g) : 0;
		if (gr < 0) {
			server_error(sb, resp);
			return;
		}
		if (set_device_status(sb, h, "issued") != 0) {
			server_error(sb, resp);
			return;
		}
		if (gr == 0 || g.revoked || g.expires_at <= now) {
			/* Approved, but the grant is gone: spend the code. */
			if (db_commit(&sb->db) != 0) {
				server_error(sb, resp);
				return;
			}
			oauth_error(resp, 400, "invalid_grant", "The authorization is no longer valid.");
			return;
		}
		issue(sb, resp, grant_id, g.scopes, g.expires_at, now);
		return;
	}
	/* Pending (or anything unknown: treated as pending). */
	if (now >= expires_at) {
		db_rollback(&sb->db);
		oauth_error(resp, 400, "expired_token", "The device_code has expired.");
		return;
	}
	bool too_soon = polled && now - last_poll < interval;
	if (!(st = db_stmt(&sb->db,
			       "UPDATE device_auth SET last_poll = ?, interval = interval + ? WHERE device_code_hash = ?"))) {
		server_error(sb, resp);
		return;
	}
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_int(st, 2, too_soon ? SLOW_DOWN_STEP : 0);
	sqlite3_bind_text(st, 3, h, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	db_stmt_done(&sb->db, st);
	if (rc != SQLITE_DONE || db_commit(&sb->db) != 0) {
		server_error(sb, resp);
		return;
	}
	if (too_soon)
		oauth_error(resp, 400, "slow_down", "Polling too fast: wait 5 seconds more between requests.");
	else
		oauth_error(resp, 400, "authorization_pending", "The customer has not decided yet.");
}

/* Every word of the space-separated list a is in list b. */
static bool all_words_in(const char *a, const char *b)
{
	size_t n;

	for (const char *w = a; (n = sb_next_word(&w)) != 0; w += n)
		if (!sb_word_in(b, w, n))
			return false;
	return true;
}

/* The requested scope equals the granted set (narrowing on refresh is not offered). */
static bool same_scope_set(const char *asked, const char *granted)
{
	return all_words_in(asked, granted) && all_words_in(granted, asked);
}

/* One statement binding (?1 int64 id, ?2 text or NULL); 0, or -1. */
static int exec_grant(struct sandbox *sb, const char *sql, long long id, const char *text)
{
	sqlite3_stmt *st;
	int rc;

	if (!(st = db_stmt(&sb->db, sql)))
		return -1;
	sqlite3_bind_int64(st, 1, id);
	if (text)
		sqlite3_bind_text(st, 2, text, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	db_stmt_done(&sb->db, st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* Revoke the whole grant (every access and refresh token of it), log why, and answer invalid_grant. */
static void revoke_grant_invalid(struct sandbox *sb, struct http_resp *resp, long long grant_id,
				 const char *what, const char *description)
{
	if (exec_grant(sb, "UPDATE grants SET revoked = 1 WHERE id = ?1", grant_id, NULL) != 0 ||
	    db_commit(&sb->db) != 0) {
		server_error(sb, resp);
		return;
	}
	fprintf(stderr, "renkei-sandbox: %s came back: grant %lld revoked\n", what, grant_id);
	oauth_error(resp, 400, "invalid_grant", description);
}

/* A spent device code comes back (the answer of its redemption lost, or the code stolen): as for a
 * reused authorization code (RFC 6749 §4.1.2), the grant issued on it is revoked, so that no grant
 * stays live that its partner never received. Protocol §2.3. */
static void device_code_reused(struct sandbox *sb, struct http_resp *resp, long long grant_id)
{
	revoke_grant_invalid(sb, resp, grant_id, "a spent device_code",
			     "The device_code was already used: the authorization is revoked.");
}

/* A refresh token already used once comes back (stolen, or replayed): RFC 9700 §4.14.2, the whole
 * grant is revoked, every access and refresh token of it. */
static void refresh_reused(struct sandbox *sb, struct http_resp *resp, long long grant_id)
{
	revoke_grant_invalid(sb, resp, grant_id, "a used refresh token",
			     "This refresh_token was used before: the authorization is revoked.");
}

static void refresh_grant(struct sandbox *sb, struct http_resp *resp, const char *client_id,
			  const char *refresh, const char *scope, long long now)
{
	sqlite3_stmt *st;
	char h[65];

	if (find_hashed(sb, resp, refresh,
			"SELECT t.grant_id, t.expires_at, g.client_id, g.scopes, g.expires_at, g.revoked, t.kind"
			" FROM tokens t JOIN grants g ON g.id = t.grant_id"
			" WHERE t.hash = ? AND t.kind IN ('refresh', 'refresh-used')",
			"Unknown refresh_token.", &st, h) <= 0)
		return;
	long long grant_id = sqlite3_column_int64(st, 0);
	long long texp = sqlite3_column_int64(st, 1);
	bool same_client = strcmp((const char *)sqlite3_column_text(st, 2), client_id) == 0;
	char scopes[1024];
	snprintf(scopes, sizeof(scopes), "%s", (const char *)sqlite3_column_text(st, 3));
	long long gexp = sqlite3_column_int64(st, 4);
	bool revoked = sqlite3_column_int(st, 5) != 0;
	bool used = strcmp((const char *)sqlite3_column_text(st, 6), "refresh-used") == 0;
	db_stmt_done(&sb->db, st);
	if (same_client && used && !revoked) {
		refresh_reused(sb, resp, grant_id);
		return;
	}
	if (!same_client || used || revoked || texp <= now || gexp <= now) {
		db_rollback(&sb->db);
		oauth_error(resp, 400, "invalid_grant",
			    !same_client ? "Unknown refresh_token."
				     : revoked || used ? "The authorization was revoked."
						       : "The authorization period has ended.");
		return;
	}
	if (scope && !same_scope_set(scope, scopes)) {
		db_rollback(&sb->db);
		oauth_error(resp, 400, "invalid_scope", "scope must be left out or equal the granted scope.");
		return;
	}
	/* Rotation: this refresh token is spent (kept to recognise a reuse), the access tokens it
	 * replaces stop working, and a new pair is issued. */
	if (exec_grant(sb, "UPDATE tokens SET kind = 'refresh-used' WHERE grant_id = ?1 AND hash = ?2", grant_id,
		       h) != 0 ||
	    exec_grant(sb, "DELETE FROM tokens WHERE grant_id = ?1 AND kind = 'access'", grant_id, NULL) != 0) {
		server_error(sb, resp);
		return;
	}
	issue(sb, resp, grant_id, scopes, gexp, now);
}

static void token(struct sandbox *sb, const struct http_req *req, struct http_resp *resp)
{
	struct sb_form f;
	bool dup = false;
	long long now = sandbox_now();

	if (!read_form(req, &f, resp))
		return;
	const char *grant_type = param(&f, "grant_type", &dup);
	const char *client_id = param(&f, "client_id", &dup);
	const char *device_code = param(&f, "device_code", &dup);
	const char *refresh = param(&f, "refresh_token", &dup);
	const char *scope = param(&f, "scope", &dup);
	if (dup) {
		oauth_error(resp, 400, "invalid_request", "A parameter appears more than once.");
	} else if (!grant_type) {
		oauth_error(resp, 400, "invalid_request", "grant_type is required.");
	} else if (strcmp(grant_type, GRANT_DEVICE) != 0 && strcmp(grant_type, "refresh_token") != 0) {
		oauth_error(resp, 400, "unsupported_grant_type", "Unsupported grant_type.");
	} else if (!client_id) {
		oauth_error(resp, 400, "invalid_request", "client_id is required.");
	} else if (!scenario_partner(sb->sc, client_id)) {
		oauth_error(resp, 401, "invalid_client", "Unknown client_id.");
	} else if (strcmp(grant_type, GRANT_DEVICE) == 0) {
		if (!device_code)
			oauth_error(resp, 400, "invalid_request", "device_code is required.");
		else
			device_code_grant(sb, resp, client_id, device_code, now);
	} else {
		if (!refresh)
			oauth_error(resp, 400, "invalid_request", "refresh_token is required.");
		else
			refresh_grant(sb, resp, client_id, refresh, scope, now);
	}
	sb_form_free(&f);
}

/* --- revocation ---------------------------------------------------------------------------- */

static void revoke(struct sandbox *sb, const struct http_req *req, struct http_resp *resp)
{
	struct sb_form f;
	bool dup = false;
	char h[65];
	sqlite3_stmt *st;

	if (!read_form(req, &f, resp))
		return;
	const char *tok = param(&f, "token", &dup);
	const char *client_id = param(&f, "client_id", &dup);
	(void)param(&f, "token_type_hint", &dup); /* a hint only: every kind is looked up */
	if (dup) {
		oauth_error(resp, 400, "invalid_request", "A parameter appears more than once.");
		goto out;
	}
	if (!tok || !client_id) {
		oauth_error(resp, 400, "invalid_request", tok ? "client_id is required." : "token is required.");
		goto out;
	}
	if (!scenario_partner(sb->sc, client_id)) {
		oauth_error(resp, 401, "invalid_client", "Unknown client_id.");
		goto out;
	}
	db_hash(tok, h);
	if (db_begin(&sb->db) != 0) {
		server_error(sb, resp);
		goto out;
	}
	/* Another client's token, or an unknown one: nothing happens, and the answer is the same. */
	if (!(st = db_stmt(&sb->db,
			       "UPDATE grants SET revoked = 1 WHERE client_id = ?1 AND id ="
			       " (SELECT grant_id FROM tokens WHERE hash = ?2)"))) {
		server_error(sb, resp);
		goto out;
	}
	sqlite3_bind_text(st, 1, client_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, h, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	db_stmt_done(&sb->db, st);
	if (rc != SQLITE_DONE || db_commit(&sb->db) != 0) {
		server_error(sb, resp);
		goto out;
	}
	free(resp->body);
	resp->body = NULL;
	resp->body_len = 0;
	resp->status = 200;
	resp->content_type = NULL;
out:
	sb_form_free(&f);
}

/* --- routing ------------------------------------------------------------------------------- */

static const struct route {
	const char *path;
	const char *method;
	void (*fn)(struct sandbox *, const struct http_req *, struct http_resp *);
} routes[] = {
	{"/oauth/device_authorization", "POST", device_authorization},
	{"/oauth/token", "POST", token},
	{"/oauth/revoke", "POST", revoke},
};

bool oauth_handle(struct sandbox *sb, const struct http_req *req, struct http_resp *resp)
{
	if (strcmp(req->path, "/.well-known/oauth-authorization-server") == 0 || strcmp(req->path, "/device") == 0) {
		if (strcmp(req->method, "GET") != 0)
			method_not_allowed(resp, "GET, HEAD");
		else if (req->path[1] == '.')
			metadata(sb, req, resp);
		else
			device_page(resp);
		return true;
	}
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (strcmp(req->path, routes[i].path) != 0)
			continue;
		if (strcmp(req->method, routes[i].method) != 0)
			method_not_allowed(resp, routes[i].method);
		else
			routes[i].fn(sb, req, resp);
		return true;
	}
	return false;
}
