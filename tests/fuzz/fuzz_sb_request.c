/* fuzz_sb_request.c: libFuzzer target for the sandbox's handling of request bodies from clients: the
 * JSON bodies of the consent protocol and the form-urlencoded bodies of the OAuth endpoints (protocol
 * §2, §4), through http_dispatch as renkei-sandbox runs it (no TLS), on the built-in demo scenario
 * with its state in memory (as tests/unit/sb_fixture.h).
 *
 * Input: byte 0 chooses the endpoint (bits 0-4, modulo the list below) and the method (bits 5-7:
 * 0-4 the endpoint's own, 5 GET, 6 POST, 7 PUT); byte 1 the credential (bits 0-3: 0 none, 1-13 the
 * Bearer token of session 1-13 below, 14 the access token of sato02's grant, 15 the Authorization
 * header is the body's first line, up to '\n'), the client certificate (bits 4-5: 0 none, 1
 * suzuki03's, 2 presented but not verified, 3 verified but nobody's) and the Content-Type (bits 6-7:
 * 0 the endpoint's, 1 the same with a charset parameter, 2 the other kind, 3 none); the rest is the
 * body (none when empty).
 *
 * State: made once (and again after TEMPLATE_SECONDS, before its sessions expire) by real requests.
 * Sessions: 1 login, 2 question, 3 scopes, 4 pins, 5 pin_result, 6 permission (kakeibo-demo,
 * yamada01), 7 scopes (kakeibo-demo, suzuki03 by certificate, bound to it), 8 login (mieru-demo),
 * 9 permission (mieru-demo, sato02), 10 done (its tokens picked up), 11 done (not yet), 12 locked
 * (tanaka04), 13 denied (cancelled).
 *
 * Fixed values that seeds can name: user codes BBBB-BBBB (kakeibo-demo, not started), BBBB-BBBC
 * (mieru-demo, not started), BBBB-BBBD (kakeibo-demo, expired), BBBB-CB.. for the sessions
 * (code_of); device codes fuzz-device-N (N = session; 0 and 14 not started, 15 expired); tokens
 * fuzz-access-token and fuzz-refresh-token (client mieru-demo, the grant of session 10).
 *
 * Before every input the whole database is copied back from that template (sqlite3 backup): one
 * input is one request on the same state, nothing carries over to the next.
 *
 * Checked: no crash, no leak, no 500 (the state is in memory: a failure there is a bug), a status
 * from 200 to 503, a JSON object whenever the answer says JSON (or says nothing).
 *
 * FUZZ_SB_TRACE=1 in the environment prints each request and the start of its answer.
 * Seeds: tests/fuzz/corpus/sb_request/ (docs/protocol.md's example bodies, each behind its 2 bytes).
 * Run:   build/fuzz/fuzz_sb_request -max_total_time=60 build/fuzz/corpus/fuzz_sb_request
 *        tests/fuzz/corpus/sb_request   (or: make fuzz) */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <sqlite3.h>

#include "consent.h"
#include "db.h"
#include "http.h"
#include "oauth.h"
#include "resource.h"
#include "sandbox.h"

#define TEMPLATE_SECONDS 240 /* the demo's sessions and device codes live 600 s */
#define BODY_MAX 65536       /* what the server reads at most */
#define JSON "application/json"
#define FORM "application/x-www-form-urlencoded"
#define NSESS 14 /* sessions 1..13 (0 unused) */

enum kind { K_NONE, K_JSON, K_FORM };

static const struct endpoint {
	const char *method;
	const char *path;
	enum kind kind;
} endpoints[] = {
    {"POST", "/oauth/device_authorization", K_FORM},
    {"POST", "/oauth/token", K_FORM},
    {"POST", "/oauth/revoke", K_FORM},
    {"GET", "/.well-known/oauth-authorization-server", K_NONE},
    {"GET", "/device", K_NONE},
    {"POST", "/consent/v1/sessions", K_JSON},
    {"GET", "/consent/v1/session", K_NONE},
    {"DELETE", "/consent/v1/session", K_NONE},
    {"POST", "/consent/v1/session/login", K_JSON},
    {"POST", "/consent/v1/session/answer", K_JSON},
    {"POST", "/consent/v1/session/scopes", K_JSON},
    {"POST", "/consent/v1/session/pins", K_JSON},
    {"POST", "/consent/v1/session/pin-result", K_JSON},
    {"POST", "/consent/v1/session/back", K_JSON},
    {"POST", "/consent/v1/session/decision", K_JSON},
    {"GET", "/v1/accounts", K_NONE},
    {"GET", "/v1/accounts/acc-002-2222222/balances", K_NONE},
    {"GET", "/v1/accounts/acc-002-2222222/transactions", K_NONE},
    {"GET", "/v1/accounts/acc-001-2000002/balances", K_NONE},
    {"GET", "/consent/v1", K_NONE},
};
#define NENDPOINTS (sizeof(endpoints) / sizeof(endpoints[0]))

static struct state {
	struct sandbox tmpl; /* the state every input starts from */
	struct sandbox work; /* same scenario, its own database: what the request changes */
	char session[NSESS][64];
	time_t made;
	bool ready;
	bool trace; /* FUZZ_SB_TRACE set: every request and the start of its answer on stderr */
} S;

static void die(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz_sb_request: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
	abort();
}

/* One request on the template; the answer's status, and its JSON (caller frees) when want_json. */
static int req(const char *method, const char *path, const char *body, const char *auth, const char *cert,
               cJSON **json)
{
	struct http_req r;
	struct http_resp resp;
	char authz[128];

	memset(&r, 0, sizeof(r));
	memset(&resp, 0, sizeof(resp));
	r.method = method;
	r.path = path;
	r.body = body;
	r.body_len = body ? strlen(body) : 0;
	r.content_type = !body ? NULL : path[1] == 'o' ? FORM : JSON;
	if (auth) {
		snprintf(authz, sizeof(authz), "Bearer %s", auth);
		r.authorization = authz;
	}
	if (cert) {
		r.client_cert_sha256 = cert;
		r.client_cert_subject = "CN=鈴木花子,O=Renkei Demo Bank,C=JP";
		r.client_cert_serial = "1003";
	}
	r.host = "127.0.0.1:8443";
	r.peer_addr = "127.0.0.1";
	http_dispatch(&S.tmpl, &r, &resp);
	if (json)
		*json = resp.body ? cJSON_ParseWithLength(resp.body, resp.body_len) : NULL;
	int status = resp.status;
	http_resp_free(&resp);
	return status;
}

static void expect(const char *what, int got, int want)
{
	if (got != want) {
		char buf[64];
		snprintf(buf, sizeof(buf), "status %d, want %d", got, want);
		die(what, buf);
	}
}

static const char *jstr(const cJSON *j, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, name);
	if (!cJSON_IsString(v))
		die("no string member", name);
	return v->valuestring;
}

#if defined(__GNUC__)
static void sql(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#endif
static void sql(const char *fmt, ...)
{
	char q[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(q, sizeof(q), fmt, ap);
	va_end(ap);
	if (db_exec(&S.tmpl.db, q) != 0)
		die("sql", q);
}

/* User code of device authorization n: "BBBBBBBB" + a letter; n >= 1 get "BBBBCB" + two. */
static void code_of(int n, char out[9])
{
	static const char cs[] = "BCDFGHJKLMNPQRSTVWXZ";
	if (n == 0 || n == 14 || n == 15)
		snprintf(out, 9, "BBBBBBB%c", n == 0 ? 'B' : n == 14 ? 'C' : 'D');
	else
		snprintf(out, 9, "BBBBCB%c%c", cs[n / 20], cs[n % 20]);
}

/* A device authorization for client; its device code and user code renamed to fuzz-device-n and
 * code_of(n). The user code (display form) out. */
static void device(const char *client, int n, char *user_code)
{
	cJSON *j;
	char body[128], old[65], new[65], dc[32], uc[9];

	snprintf(body, sizeof(body), "client_id=%s", client);
	expect("device_authorization", req("POST", "/oauth/device_authorization", body, NULL, NULL, &j), 200);
	db_hash(jstr(j, "device_code"), old);
	cJSON_Delete(j);
	snprintf(dc, sizeof(dc), "fuzz-device-%d", n);
	db_hash(dc, new);
	code_of(n, uc);
	char uch[65];
	sandbox_user_code_hash(uc, uch);
	sql("UPDATE device_auth SET device_code_hash = '%s', user_code = '%s' WHERE device_code_hash = '%s'",
	    new, uch, old);
	snprintf(user_code, 10, "%.4s-%.4s", uc, uc + 4);
}

/* Session n for client: started (step login), token kept. */
static const char *session(const char *client, int n)
{
	char uc[16], body[64];
	cJSON *j;

	device(client, n, uc);
	snprintf(body, sizeof(body), "{\"user_code\":\"%s\"}", uc);
	expect("start", req("POST", "/consent/v1/sessions", body, NULL, NULL, &j), 201);
	snprintf(S.session[n], sizeof(S.session[n]), "%s", jstr(j, "session"));
	cJSON_Delete(j);
	return S.session[n];
}

#define CERT_SUZUKI "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a"
#define CERT_NOBODY "6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b"
#define YAMADA_LOGIN "{\"method\":\"password\",\"login_id\":\"yamada01\",\"password\":\"Sakura-2026\"}"
#define YAMADA_ANSWER "{\"answer\":\"ひまわり証券\"}"
#define YAMADA_SCOPES "{\"scopes\":[\"balance\",\"transactions\"]}"
#define YAMADA_PIN "{\"pins\":[{\"account\":\"acc-001-2000002\",\"pin\":\"1234\"}]}"
#define SATO_LOGIN "{\"method\":\"password\",\"login_id\":\"sato02\",\"password\":\"Momiji-2026\"}"
#define ALLOW "{\"decision\":\"allow\",\"intent_confirmed\":true}"

/* A step: POST path body on session t with want as the status. */
static void step(const char *t, const char *path, const char *body, const char *cert, int want)
{
	char p[64];
	snprintf(p, sizeof(p), "/consent/v1/session/%s", path);
	expect(path, req("POST", p, body, t, cert, NULL), want);
}

static void yamada_to(const char *t, int last)
{
	step(t, "login", YAMADA_LOGIN, NULL, 200); /* question */
	if (last >= 3)
		step(t, "answer", YAMADA_ANSWER, NULL, 200); /* scopes */
	if (last >= 4)
		step(t, "scopes", YAMADA_SCOPES, NULL, 200); /* pins */
	if (last >= 5)
		step(t, "pins", YAMADA_PIN, NULL, 200); /* pin_result */
	if (last >= 6)
		step(t, "pin-result", "{\"action\":\"confirm\"}", NULL, 200); /* permission */
}

static void template_free(void)
{
	if (!S.ready)
		return;
	db_close(&S.work.db);
	db_close(&S.tmpl.db);
	scenario_free(S.tmpl.sc);
	memset(&S, 0, sizeof(S));
}

static void template_make(void)
{
	char err[512];

	template_free();
	S.tmpl.sc = scenario_builtin(err, sizeof(err));
	if (!S.tmpl.sc)
		die("scenario", err);
	if (db_open(&S.tmpl.db, NULL, err, sizeof(err)) != 0 ||
	    db_open(&S.work.db, NULL, err, sizeof(err)) != 0)
		die("db_open", err);
	/* the modules as renkei-sandbox's main.c registers them, in its order */
	static const struct http_route routes[] = {
		{"oauth", oauth_handle}, {"resource", resource_handle}, {"consent", consent_handle}};
	if (oauth_init(&S.tmpl) != 0 || resource_init(&S.tmpl) != 0 || consent_init(&S.tmpl) != 0 ||
	    !http_set_routes(&S.tmpl, routes, sizeof(routes) / sizeof(routes[0]), err, sizeof(err)))
		die("init", err);
	S.tmpl.client_certs = true; /* certificate login offered */
	strcpy(S.tmpl.issuer, "https://127.0.0.1:8443");

	char uc[16];
	device("kakeibo-demo", 0, uc);  /* not started */
	device("mieru-demo", 14, uc);   /* not started */
	device("kakeibo-demo", 15, uc); /* expired */
	sql("UPDATE device_auth SET created_at = created_at - 900, expires_at = expires_at - 900"
	    " WHERE user_code = 'BBBBBBBD'");

	session("kakeibo-demo", 1);  /* login */
	for (int n = 2; n <= 6; n++) /* question, scopes, pins, pin_result, permission */
		yamada_to(session("kakeibo-demo", n), n);
	step(session("kakeibo-demo", 7), "login", "{\"method\":\"certificate\",\"password\":\"Kaede-2026\"}",
	     CERT_SUZUKI, 200);                                         /* bound to suzuki03's certificate */
	session("mieru-demo", 8);                                       /* login */
	step(session("mieru-demo", 9), "login", SATO_LOGIN, NULL, 200); /* permission */
	for (int n = 10; n <= 11; n++) { /* done; 10's tokens picked up, 11's not yet */
		const char *t = session("mieru-demo", n);
		step(t, "login", SATO_LOGIN, NULL, 200);
		step(t, "decision", ALLOW, NULL, 200);
	}
	cJSON *j;
	expect("token",
	       req("POST", "/oauth/token",
	           "grant_type=urn:ietf:params:oauth:grant-type:device_code&client_id=mieru-demo"
	           "&device_code=fuzz-device-10",
	           NULL, NULL, &j),
	       200);
	char h[65], fixed[65];
	db_hash(jstr(j, "access_token"), h);
	db_hash("fuzz-access-token", fixed);
	sql("UPDATE tokens SET hash = '%s' WHERE hash = '%s'", fixed, h);
	db_hash(jstr(j, "refresh_token"), h);
	db_hash("fuzz-refresh-token", fixed);
	sql("UPDATE tokens SET hash = '%s' WHERE hash = '%s'", fixed, h);
	cJSON_Delete(j);
	step(session("kakeibo-demo", 12), "login",
	     "{\"method\":\"password\",\"login_id\":\"tanaka04\",\"password\":\"Ume-2026\"}", NULL,
	     403); /* locked */
	expect("cancel", req("DELETE", "/consent/v1/session", NULL, session("kakeibo-demo", 13), NULL, NULL),
	       200); /* denied */

	/* The working copy: the same scenario and options, its own database. */
	S.work.sc = S.tmpl.sc;
	S.work.client_certs = S.tmpl.client_certs;
	S.work.routes = S.tmpl.routes;
	S.work.nroutes = S.tmpl.nroutes;
	strcpy(S.work.issuer, S.tmpl.issuer);
	S.made = time(NULL);
	S.ready = true;
}

static void restore(void)
{
	sqlite3_backup *b = sqlite3_backup_init(S.work.db.h, "main", S.tmpl.db.h, "main");
	if (!b || sqlite3_backup_step(b, -1) != SQLITE_DONE || sqlite3_backup_finish(b) != SQLITE_OK)
		die("backup", sqlite3_errmsg(S.work.db.h));
}

static const char *json_ct(int v)
{
	static const char *const t[] = {JSON, "application/json; charset=utf-8", FORM, NULL};
	return t[v];
}

static const char *form_ct(int v)
{
	static const char *const t[] = {FORM, "Application/X-WWW-Form-Urlencoded ; charset=UTF-8", JSON,
	                                NULL};
	return t[v];
}

static bool says_json(const char *ct)
{
	return !ct || strncmp(ct, "application/json", 16) == 0 ||
	       strncmp(ct, "application/problem+json", 24) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2 || size - 2 > BODY_MAX)
		return 0;
	if (!S.ready || time(NULL) - S.made > TEMPLATE_SECONDS) {
		template_make();
		S.trace = getenv("FUZZ_SB_TRACE") != NULL;
	}
	restore();

	const struct endpoint *e = &endpoints[(data[0] & 0x1f) % NENDPOINTS];
	static const char *const methods[] = {"GET", "POST", "PUT"};
	int m = data[0] >> 5, cred = data[1] & 15, cert = (data[1] >> 4) & 3, ct = data[1] >> 6;
	const char *body = (const char *)data + 2;
	size_t len = size - 2;
	char auth[128], *authz = NULL;

	if (cred == 15) { /* the Authorization header from the input */
		const char *nl = memchr(body, '\n', len);
		size_t n = nl ? (size_t)(nl - body) : len;
		if (!(authz = malloc(n + 1)))
			return 0;
		memcpy(authz, body, n);
		authz[n] = '\0';
		if (strlen(authz) != n) { /* a header has no NUL */
			free(authz);
			return 0;
		}
		body += nl ? n + 1 : n;
		len -= nl ? n + 1 : n;
	}

	struct http_req r;
	memset(&r, 0, sizeof(r));
	r.method = m < 5 ? e->method : methods[m - 5];
	r.path = e->path;
	r.host = "127.0.0.1:8443";
	r.peer_addr = "127.0.0.1";
	char *copy = NULL;
	if (len) { /* the server hands over a NUL-terminated copy */
		if (!(copy = malloc(len + 1))) {
			free(authz);
			return 0;
		}
		memcpy(copy, body, len);
		copy[len] = '\0';
		r.body = copy;
		r.body_len = len;
	}
	r.content_type = e->kind == K_FORM ? form_ct(ct) : json_ct(ct);
	if (cred == 15) {
		r.authorization = authz;
	} else if (cred == 14) {
		r.authorization = "Bearer fuzz-access-token";
	} else if (cred > 0) {
		snprintf(auth, sizeof(auth), "Bearer %s", S.session[cred]);
		r.authorization = auth;
	}
	if (cert == 1 || cert == 3) {
		r.client_cert_sha256 = cert == 1 ? CERT_SUZUKI : CERT_NOBODY;
		r.client_cert_subject = cert == 1 ? "CN=鈴木花子,O=Renkei Demo Bank,C=JP"
		                                  : "CN=名無し太郎,O=Renkei Demo Bank,C=JP";
		r.client_cert_serial = cert == 1 ? "1003" : "1005";
	}
	r.client_cert_present_but_invalid = cert == 2;

	struct http_resp resp;
	memset(&resp, 0, sizeof(resp));
	http_dispatch(&S.work, &r, &resp);
	if (S.trace)
		fprintf(stderr, "fuzz_sb_request: %s %s -> %d %.*s\n", r.method, r.path, resp.status,
		        resp.body_len > 200 ? 200 : (int)resp.body_len, resp.body ? resp.body : "");
	if (resp.status < 200 || resp.status > 503 || resp.status == 500) {
		fprintf(stderr, "fuzz_sb_request: %s %s answered %d: %.*s\n", r.method, r.path, resp.status,
		        (int)resp.body_len, resp.body ? resp.body : "");
		abort();
	}
	if (resp.body && says_json(resp.content_type)) {
		cJSON *j = cJSON_ParseWithLength(resp.body, resp.body_len);
		if (!cJSON_IsObject(j)) {
			fprintf(stderr, "fuzz_sb_request: %s %s answered %d, not a JSON object: %.*s\n",
			        r.method, r.path, resp.status, (int)resp.body_len, resp.body);
			abort();
		}
		cJSON_Delete(j);
	}
	http_resp_free(&resp);
	free(copy);
	free(authz);
	return 0;
}
