/* consent.c: the customer's side of the protocol (§4–§6): consent sessions, login by password or
 * certificate, additional authentication, scope choice, inquiry PINs, permission, decision, cancel. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <crypt.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <pthread.h>

#include "consent.h"
#include "record.h"
#include "hexdigit.h"
#include "sandbox.h"
#include "util.h"

#define PREFIX "/consent/v1"
#define TOKEN_BYTES 32      /* session tokens: 256 bits, base64url (43 characters) */
#define TOKEN_MAX 128       /* longest Bearer value looked at */
#define IDEM_MAX 64         /* idempotency_key: 1-64 printable ASCII characters */
#define ANSWER_MAX_LENGTH 64
#define LIST_MAX 32         /* scopes per request */
#define WORD_MAX 64

/* Private state. The scenario gives each customer's and account's starting point; only changes are
 * stored here. Session tokens are stored as SHA-256; the token itself is kept only wrapped under the
 * idempotency key (see idem_wrap), so that a repeated start can answer with the same token. */
#define CONSENT_SCHEMA \
	"CREATE TABLE IF NOT EXISTS consent_sessions (" \
	"  token_hash TEXT PRIMARY KEY," \
	"  device_code_hash TEXT NOT NULL,"   /* the device authorization it belongs to */ \
	"  client_id TEXT NOT NULL," \
	"  requested TEXT NOT NULL,"          /* requested scopes, space-separated */ \
	"  customer TEXT,"                    /* login id, after login */ \
	"  step TEXT NOT NULL," \
	"  scopes TEXT,"                      /* chosen scopes; NULL = every requested one */ \
	"  cert_sha256 TEXT,"                 /* bound client certificate (certificate login) */ \
	"  idem_hash TEXT,"                   /* SHA-256 of the idempotency key (with the device code) */ \
	"  idem_wrap TEXT,"                   /* the token XOR a key stream derived from that key */ \
	"  back TEXT,"                        /* permission: the step 'back' returns to, or NULL */ \
	"  created_at INTEGER NOT NULL," \
	"  last_activity INTEGER NOT NULL,"   /* an ended one: when it ended (keep_ended_seconds) */ \
	"  registered_here INTEGER NOT NULL DEFAULT 0," /* PINs were registered in this session */ \
	"  pin_result_reached INTEGER NOT NULL DEFAULT 0," \
	"  decided_at INTEGER,"               /* allow / deny / cancel / lockout time */ \
	"  final INTEGER NOT NULL DEFAULT 0," /* done, denied or locked */ \
	"  expired INTEGER NOT NULL DEFAULT 0," /* idle too long or device authorization expired (2: just now, \
						   not yet recorded) */ \
	"  purpose TEXT NOT NULL DEFAULT 'consent'" /* consent | manage (§4.12; no device code, partner) */ \
	");" \
	"CREATE INDEX IF NOT EXISTS consent_sessions_by_device ON consent_sessions(device_code_hash);" \
	/* the sweep on every request reads only the live and the just-expired sessions: the ended ones \
	 * (every grant leaves one) are never scanned again */ \
	"CREATE INDEX IF NOT EXISTS consent_sessions_live ON consent_sessions(last_activity)" \
	"  WHERE final = 0 AND expired = 0;" \
	"CREATE INDEX IF NOT EXISTS consent_sessions_unrecorded ON consent_sessions(purpose) WHERE expired = 2;" \
	"CREATE INDEX IF NOT EXISTS consent_sessions_ended ON consent_sessions(last_activity)" \
	"  WHERE final = 1 OR expired = 1;" \
	"CREATE INDEX IF NOT EXISTS device_auth_by_expiry ON device_auth(expires_at);" \
	"CREATE TABLE IF NOT EXISTS consent_logins (" \
	"  customer TEXT PRIMARY KEY," \
	"  wrong_passwords INTEGER NOT NULL DEFAULT 0," \
	"  wrong_answers INTEGER NOT NULL DEFAULT 0," \
	"  locked INTEGER NOT NULL DEFAULT 0" \
	");" \
	"CREATE TABLE IF NOT EXISTS consent_pins (" \
	"  account TEXT PRIMARY KEY," \
	"  registered INTEGER,"               /* NULL = as the scenario says */ \
	"  wrong INTEGER NOT NULL DEFAULT 0," \
	"  locked INTEGER NOT NULL DEFAULT 0" \
	");" \
	"CREATE TABLE IF NOT EXISTS consent_pending (" /* PINs registered in a session, not yet effective */ \
	"  session TEXT NOT NULL," \
	"  account TEXT NOT NULL," \
	"  PRIMARY KEY (session, account)" \
	");" \
	"CREATE TABLE IF NOT EXISTS consent_rate (" /* one row per unknown user code, per client address */ \
	"  addr TEXT NOT NULL," \
	"  at INTEGER NOT NULL" \
	");" \
	"CREATE INDEX IF NOT EXISTS consent_rate_by_addr ON consent_rate(addr, at);" \
	"CREATE TABLE IF NOT EXISTS consent_login_state (" /* wrong tries and locks, per login (§4.5) */ \
	"  key TEXT PRIMARY KEY,"             /* the login id, or '?' + SHA-256 of an unknown one */ \
	"  wrong_passwords INTEGER NOT NULL DEFAULT 0," \
	"  wrong_answers INTEGER NOT NULL DEFAULT 0," \
	"  locked_until INTEGER NOT NULL DEFAULT 0," /* 0: not locked */ \
	"  updated_at INTEGER NOT NULL DEFAULT 0" \
	");" \
	"CREATE TABLE IF NOT EXISTS consent_login_fail (" /* one row per wrong login: session and address */ \
	"  session TEXT NOT NULL," \
	"  addr TEXT NOT NULL," \
	"  at INTEGER NOT NULL" \
	");" \
	"CREATE INDEX IF NOT EXISTS consent_login_fail_by_addr ON consent_login_fail(addr, at);" \
	"CREATE INDEX IF NOT EXISTS consent_login_fail_by_session ON consent_login_fail(session);" \
	"CREATE TABLE IF NOT EXISTS consent_idem (" /* answers kept for a retried request (§4.2) */ \
	"  session TEXT NOT NULL," \
	"  key_hash TEXT NOT NULL,"           /* HMAC(session token, path and idempotency_key) */ \
	"  body_hash TEXT NOT NULL,"          /* HMAC(session token, the body without the key) */ \
	"  status INTEGER NOT NULL," \
	"  problem INTEGER NOT NULL,"         /* answered application/problem+json */ \
	"  body TEXT NOT NULL," \
	"  PRIMARY KEY (session, key_hash)" \
	");"

enum step { ST_LOGIN, ST_QUESTION, ST_SCOPES, ST_PINS, ST_PIN_RESULT, ST_PERMISSION, ST_DONE, ST_DENIED,
	    ST_LOCKED, ST_LINKS, ST_ENDED, ST_COUNT, ST_ANY = -1, ST_LIVE = -2 };

static const char *const step_names[ST_COUNT] = {
	"login", "question", "scopes", "pins", "pin_result", "permission", "done", "denied", "locked",
	"links", "ended",
};

static int step_from_name(const char *s)
{
	for (int i = 0; i < ST_COUNT; i++)
		if (s && strcmp(s, step_names[i]) == 0)
			return i;
	return -1;
}

#define LOCKED_FOR_EVER 9000000000000000000LL /* locked_until when lock_seconds is 0 */

/* A state file of an older sandbox: its permanent locks become locks until staff unlock. */
#define CONSENT_MIGRATE \
	"INSERT OR IGNORE INTO consent_login_state (key, wrong_passwords, wrong_answers, locked_until)" \
	" SELECT customer, wrong_passwords, wrong_answers, CASE WHEN locked != 0 THEN 9000000000000000000 ELSE 0 END" \
	" FROM consent_logins;" \
	"DELETE FROM consent_logins;"

/* crypt(3) of phrase under setting (a "$6$..." salt or a whole hash), into a new string; NULL on
 * failure. A whole struct crypt_data (32 KiB) per call: logins are one at a time under db_lock. */
static char *crypt_phrase(const char *phrase, const char *setting)
{
	struct crypt_data *cd = calloc(1, sizeof(*cd));
	char *out = NULL;

	if (!cd)
		return NULL;
	const char *h = crypt_r(phrase, setting, cd);
	if (h && h[0] != '*')
		out = strdup(h);
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	return out;
}

static char *password_hash(const char *phrase)
{
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];

	/* SHA-crypt, 1000 rounds: the same cost for every login, known or not (§4.5); a sandbox's
	 * passwords are demo data, so no more is spent on it. */
	if (!crypt_gensalt_rn("$6$", 1000, NULL, 0, salt, sizeof(salt)))
		return NULL;
	return crypt_phrase(phrase, salt);
}

/* The hash an unknown login ID's password is checked against, so that it costs what a known one's
 * does; made once per process (a random phrase nobody knows). */
static char *dummy;

static void make_dummy_hash(void)
{
	char phrase[48];

	if (db_random_token(phrase, sizeof(phrase), 32) == 0)
		dummy = password_hash(phrase);
	explicit_bzero(phrase, sizeof(phrase));
}

static const char *dummy_hash(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, make_dummy_hash);
	return dummy;
}

/* Staff unlock (a scenario's "unlock": true): the customer's wrong tries and lock are forgotten. */
static int unlock_customer(struct sandbox *sb, const char *login_id)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(sb->db.h, "DELETE FROM consent_login_state WHERE key = ?", -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, login_id, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* A state file of a sandbox without manage sessions (§4.12) gets the purpose column. */
static int add_purpose(struct db *db)
{
	sqlite3_stmt *st;
	bool has = false;

	if (sqlite3_prepare_v2(db->h, "SELECT 1 FROM pragma_table_info('consent_sessions') WHERE name = 'purpose'", -1,
			       &st, NULL) != SQLITE_OK)
		return -1;
	has = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return has ? 0
		   : db_exec(db, "ALTER TABLE consent_sessions ADD COLUMN purpose TEXT NOT NULL DEFAULT 'consent'");
}

int consent_init(struct sandbox *sb)
{
	if (db_exec(&sb->db, CONSENT_SCHEMA) != 0 || db_exec(&sb->db, CONSENT_MIGRATE) != 0 ||
	    add_purpose(&sb->db) != 0 || db_exec(&sb->db, RECORD_SCHEMA) != 0)
		return -1;
	for (size_t i = 0; i < sb->sc->ncustomers; i++) {
		struct sc_customer *cu = &sb->sc->customers[i];
		if (!cu->password_hash) {
			if (!(cu->password_hash = password_hash(cu->password)))
				return -1;
			sb_wipe_free(cu->password);
			cu->password = NULL;
		}
		if (cu->unlock && unlock_customer(sb, cu->login_id) != 0)
			return -1;
	}
	return dummy_hash() ? 0 : -1;
}

/* --- request context, database helpers ----------------------------------------------------- */

struct ctx {
	struct sandbox *sb;
	const struct scenario *sc;
	const struct http_req *req;
	struct http_resp *resp;
	long long now;
	bool failed; /* database or memory error: roll back, answer 500 */
	cJSON *body;
	cJSON *revoked; /* manage: the link just stopped, for the answer's data.revoked */
};

/* Bind by a format string: 's' text (NULL binds NULL), 'i' long long. */
static sqlite3_stmt *prepv(struct ctx *c, const char *sql, const char *fmt, va_list ap)
{
	sqlite3_stmt *st = NULL;

	if (c->failed)
		return NULL;
	if (!(st = db_stmt(&c->sb->db, sql))) {
		fprintf(stderr, "renkei-sandbox: consent: sqlite: %s\n", sqlite3_errmsg(c->sb->db.h));
		c->failed = true;
		return NULL;
	}
	for (int i = 0; fmt && fmt[i]; i++) {
		int rc = SQLITE_MISUSE;
		if (fmt[i] == 's') {
			const char *v = va_arg(ap, const char *);
			rc = v ? sqlite3_bind_text(st, i + 1, v, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(st, i + 1);
		} else if (fmt[i] == 'i') {
			rc = sqlite3_bind_int64(st, i + 1, va_arg(ap, long long));
		}
		if (rc != SQLITE_OK) {
			db_stmt_done(&c->sb->db, st);
			c->failed = true;
			return NULL;
		}
	}
	return st;
}

static sqlite3_stmt *prep(struct ctx *c, const char *sql, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sqlite3_stmt *st = prepv(c, sql, fmt, ap);
	va_end(ap);
	return st;
}

/* Step a query; SQLITE_ROW, SQLITE_DONE, or anything else = failure (recorded). */
static int step_row(struct ctx *c, sqlite3_stmt *st)
{
	if (!st)
		return SQLITE_ERROR;
	int rc = sqlite3_step(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		fprintf(stderr, "renkei-sandbox: consent: sqlite: %s\n", sqlite3_errmsg(c->sb->db.h));
		c->failed = true;
	}
	return rc;
}

/* Run a statement with no result; the number of rows changed, or -1. */
static int run(struct ctx *c, const char *sql, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sqlite3_stmt *st = prepv(c, sql, fmt, ap);
	va_end(ap);
	if (!st)
		return -1;
	int rc = step_row(c, st);
	db_stmt_done(&c->sb->db, st);
	return rc == SQLITE_DONE ? sqlite3_changes(c->sb->db.h) : -1;
}

static void copy_col(sqlite3_stmt *st, int col, char *out, size_t outlen)
{
	const unsigned char *t = sqlite3_column_text(st, col);

	snprintf(out, outlen, "%s", t ? (const char *)t : "");
}

/* --- secrets ---------------------------------------------------------------------------------- */

/* Equal secrets, compared in constant time (over their SHA-256, so lengths do not leak either). */
static bool secret_equal(const char *a, const char *b)
{
	unsigned char da[32], dbuf[32];
	unsigned diff = 0;

	if (!a || !b)
		return false;
	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, a, strlen(a), da) < 0 ||
	    gnutls_hash_fast(GNUTLS_DIG_SHA256, b, strlen(b), dbuf) < 0)
		return false;
	for (size_t i = 0; i < sizeof(da); i++)
		diff |= (unsigned)(da[i] ^ dbuf[i]);
	explicit_bzero(da, sizeof(da));
	explicit_bzero(dbuf, sizeof(dbuf));
	return diff == 0;
}

/* Wipe every string of a parsed request (passwords, answers, PINs) before it is freed. */
static void json_wipe(cJSON *j)
{
	for (; j; j = j->next) {
		if (j->valuestring)
			explicit_bzero(j->valuestring, strlen(j->valuestring));
		if (j->child)
			json_wipe(j->child);
	}
}

/* Idempotency: the hash that finds the session, and a key stream that wraps its token. Both are
 * derived from the key and the device authorization, so a database alone does not give the token. */
static void idem_hash(const char *key, const char *device, char out[65])
{
	char buf[256];

	snprintf(buf, sizeof(buf), "renkei-consent-idem|%s|%s", device, key);
	db_hash(buf, out);
	explicit_bzero(buf, sizeof(buf));
}

static int idem_stream(const char *key, const char *device, unsigned char ks[64])
{
	char msg[128];
	int rc = 0;

	for (int i = 0; i < 2 && rc == 0; i++) {
		snprintf(msg, sizeof(msg), "renkei-consent-wrap-%d|%s", i + 1, device);
		rc = gnutls_hmac_fast(GNUTLS_MAC_SHA256, key, strlen(key), msg, strlen(msg), ks + 32 * i);
	}
	return rc < 0 ? -1 : 0;
}

/* token (at most 63 characters) -> hex of token XOR stream. */
static int idem_wrap(const char *key, const char *device, const char *token, char *out, size_t outlen)
{
	unsigned char ks[64], x[64];
	size_t n = strlen(token);

	if (n >= sizeof(ks) || outlen < 2 * n + 1 || idem_stream(key, device, ks) != 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		x[i] = (unsigned char)token[i] ^ ks[i];
	sb_hex(x, n, out);
	explicit_bzero(ks, sizeof(ks));
	explicit_bzero(x, sizeof(x));
	return 0;
}

static int idem_unwrap(const char *key, const char *device, const char *hex, char *out, size_t outlen)
{
	unsigned char ks[64];
	size_t n = strlen(hex) / 2;

	if (strlen(hex) % 2 || n >= sizeof(ks) || outlen < n + 1 || idem_stream(key, device, ks) != 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int h = hex_digit((unsigned char)hex[2 * i]), l = hex_digit((unsigned char)hex[2 * i + 1]);
		if (h < 0 || l < 0) {
			explicit_bzero(ks, sizeof(ks));
			return -1;
		}
		out[i] = (char)((h * 16 + l) ^ ks[i]);
	}
	out[n] = '\0';
	explicit_bzero(ks, sizeof(ks));
	return 0;
}

/* --- problems ----------------------------------------------------------------------------------- */

static void problem(struct ctx *c, int status, const char *type, const char *detail)
{
	http_problem(c->resp, status, type, detail, NULL);
}

static void bad_request(struct ctx *c, const char *pointer, const char *detail)
{
	cJSON *ext = cJSON_CreateObject();

	if (ext)
		cJSON_AddStringToObject(ext, "pointer", pointer);
	http_problem(c->resp, 400, "bad-request", detail, ext);
}

static void session_problem(struct ctx *c, const char *type, const char *detail)
{
	sb_token_problem(c->resp, type, detail);
}

/* --- request bodies ------------------------------------------------------------------------- */

/* Content-Type is application/json, with at most a charset=utf-8 parameter. */
static bool json_media_type(const char *ct)
{
	if (!sb_media_type_is(ct, "application/json"))
		return false;
	const char *p = strchr(ct, ';');
	while (p) {
		p++;
		while (*p == ' ' || *p == '\t')
			p++;
		const char *end = strchr(p, ';');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		if (n == 0 && !end)
			break; /* a trailing ';' */
		if (n == 13 && strncasecmp(p, "charset=utf-8", 13) == 0)
			;
		else if (n == 15 && strncasecmp(p, "charset=\"utf-8\"", 15) == 0)
			;
		else
			return false;
		p = end;
	}
	return true;
}

/* Valid UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF). */
static bool utf8_valid(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		unsigned c = *p;
		int n;
		unsigned cp, min;
		if (c < 0x80) {
			p++;
			continue;
		} else if ((c & 0xe0) == 0xc0) {
			n = 1, cp = c & 0x1f, min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			n = 2, cp = c & 0x0f, min = 0x800;
		} else if ((c & 0xf8) == 0xf0) {
			n = 3, cp = c & 0x07, min = 0x10000;
		} else {
			return false;
		}
		for (int i = 1; i <= n; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (p[i] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		p += n + 1;
	}
	return true;
}

static size_t utf8_chars(const char *s)
{
	size_t n = 0;

	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if ((*p & 0xc0) != 0x80)
			n++;
	return n;
}

/* JSON pointer of base + "/" + name (RFC 6901 escapes). */
static void pointer_join(char *out, size_t outlen, const char *base, const char *name)
{
	size_t o = strlen(base);

	snprintf(out, outlen, "%s/", base);
	o++;
	for (const char *p = name; *p && o + 3 < outlen; p++) {
		if (*p == '~') {
			out[o++] = '~';
			out[o++] = '0';
		} else if (*p == '/') {
			out[o++] = '~';
			out[o++] = '1';
		} else {
			out[o++] = *p;
		}
	}
	if (o < outlen)
		out[o] = '\0';
}

/* Every string valid UTF-8, no member twice in an object; else a 400 with the pointer. */
static bool json_check_tree(struct ctx *c, const cJSON *j, const char *base)
{
	char ptr[256];
	int idx = 0;

	for (const cJSON *m = j->child; m; m = m->next, idx++) {
		if (cJSON_IsObject(j)) {
			if (!m->string || !utf8_valid(m->string)) {
				bad_request(c, base[0] ? base : "", "A member name is not valid UTF-8.");
				return false;
			}
			pointer_join(ptr, sizeof(ptr), base, m->string);
			for (const cJSON *o = j->child; o != m; o = o->next)
				if (strcmp(o->string, m->string) == 0) {
					bad_request(c, ptr, "A member appears more than once.");
					return false;
				}
		} else {
			snprintf(ptr, sizeof(ptr), "%s/%d", base, idx);
		}
		if (cJSON_IsString(m) && !utf8_valid(m->valuestring)) {
			bad_request(c, ptr, "A string is not valid UTF-8.");
			return false;
		}
		if ((cJSON_IsObject(m) || cJSON_IsArray(m)) && !json_check_tree(c, m, ptr))
			return false;
	}
	return true;
}

/* The body as a JSON object; a request without a body counts as {}. NULL with the problem set. */
static cJSON *read_body(struct ctx *c)
{
	const struct http_req *req = c->req;
	const char *end = NULL;
	cJSON *j;

	if (!req->body || req->body_len == 0) {
		j = cJSON_CreateObject();
		if (!j)
			c->failed = true;
		return j;
	}
	if (!json_media_type(req->content_type)) {
		problem(c, 415, "unsupported-media-type", "Content-Type must be application/json.");
		return NULL;
	}
	j = cJSON_ParseWithLengthOpts(req->body, req->body_len, &end, 0);
	if (j && end) {
		while (end < req->body + req->body_len && (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n'))
			end++;
	}
	if (!j || !end || end != req->body + req->body_len) {
		json_wipe(j);
		cJSON_Delete(j);
		bad_request(c, "", "The body is not a JSON text.");
		return NULL;
	}
	if (!cJSON_IsObject(j)) {
		json_wipe(j);
		cJSON_Delete(j);
		bad_request(c, "", "The body must be a JSON object.");
		return NULL;
	}
	if (!json_check_tree(c, j, "")) {
		json_wipe(j);
		cJSON_Delete(j);
		return NULL;
	}
	return j;
}

enum jtype { J_STRING, J_BOOL, J_ARRAY, J_OBJECT };

struct member {
	const char *name;
	enum jtype type;
	bool required;
};

static bool type_is(const cJSON *j, enum jtype t)
{
	switch (t) {
	case J_STRING:
		return cJSON_IsString(j);
	case J_BOOL:
		return cJSON_IsBool(j);
	case J_ARRAY:
		return cJSON_IsArray(j);
	case J_OBJECT:
		return cJSON_IsObject(j);
	}
	return false;
}

/* obj has exactly the listed members (optional ones may be absent), each of its type. */
static bool members_ok(struct ctx *c, const cJSON *obj, const char *base, const struct member *ms, size_t n)
{
	char ptr[256];

	if (!cJSON_IsObject(obj)) {
		bad_request(c, base, "An object is expected here.");
		return false;
	}
	for (const cJSON *m = obj->child; m; m = m->next) {
		size_t i;
		for (i = 0; i < n; i++)
			if (strcmp(ms[i].name, m->string) == 0)
				break;
		if (i == n) {
			pointer_join(ptr, sizeof(ptr), base, m->string);
			bad_request(c, ptr, "Unknown member.");
			return false;
		}
	}
	for (size_t i = 0; i < n; i++) {
		const cJSON *m = cJSON_GetObjectItemCaseSensitive(obj, ms[i].name);
		pointer_join(ptr, sizeof(ptr), base, ms[i].name);
		if (!m) {
			if (ms[i].required) {
				bad_request(c, ptr, "Missing member.");
				return false;
			}
			continue;
		}
		if (!type_is(m, ms[i].type)) {
			bad_request(c, ptr, "Wrong JSON type for this member.");
			return false;
		}
	}
	return true;
}

static const char *str_member(const cJSON *obj, const char *name)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(obj, name);

	return cJSON_IsString(m) ? m->valuestring : NULL;
}

/* --- space-separated lists ---------------------------------------------------------------- */

struct words {
	size_t n;
	char w[LIST_MAX][WORD_MAX];
};

static void split_words(const char *s, struct words *w)
{
	size_t n;

	w->n = 0;
	for (const char *p = s ? s : ""; (n = sb_next_word(&p)) != 0; p += n) {
		if (n < WORD_MAX && w->n < LIST_MAX) {
			memcpy(w->w[w->n], p, n);
			w->w[w->n][n] = '\0';
			w->n++;
		}
	}
}

static bool words_has(const struct words *w, const char *s)
{
	for (size_t i = 0; i < w->n; i++)
		if (strcmp(w->w[i], s) == 0)
			return true;
	return false;
}

/* --- sessions --------------------------------------------------------------------------------- */

struct sess {
	char hash[65];
	char device[65];
	char client_id[128];
	char requested[512];
	char customer[128];
	enum step step;
	char scopes[512]; /* chosen; "" = every requested one */
	char cert[65];
	char back[16];
	long long last_activity;
	long long decided_at;
	bool registered_here;
	bool final;
	bool expired;
	bool manage;      /* purpose manage (§4.12): no device code, no partner */
	const struct sc_partner *partner;
	const struct sc_customer *cust;
};

/* Sessions idle too long, or whose device authorization expired (or was decided elsewhere), end:
 * their pending PINs are undone. Old rate-limit rows go. */
static void sweep(struct ctx *c)
{
	run(c,
	    "UPDATE consent_sessions SET expired = 2, last_activity = ?2 WHERE final = 0 AND expired = 0 AND"
	    " (last_activity + ?1 <= ?2 OR (purpose = 'consent' AND NOT EXISTS (SELECT 1 FROM device_auth d WHERE"
	    "  d.device_code_hash = consent_sessions.device_code_hash AND d.status = 'pending'"
	    "  AND d.expires_at > ?2)))",
	    "ii", (long long)c->sc->session_idle_seconds, c->now);
	if (!c->failed && record_expired(c->sb->db.h, c->now) != 0)
		c->failed = true;
	/* pending PINs and kept answers exist only for sessions that were live at the last sweep: look
	 * each one's session up (a scan of the sessions would grow with every ended one) */
	run(c,
	    "DELETE FROM consent_pending WHERE EXISTS (SELECT 1 FROM consent_sessions s"
	    " WHERE s.token_hash = consent_pending.session AND s.expired = 1)",
	    "");
	run(c, "DELETE FROM consent_rate WHERE at <= ?", "i", c->now - (long long)c->sc->rate_limit_window);
	long long keep = c->sc->address_login_window > c->sc->session_idle_seconds ? c->sc->address_login_window
										    : c->sc->session_idle_seconds;
	run(c, "DELETE FROM consent_login_fail WHERE at <= ?", "i", c->now - keep);
	/* unknown login IDs' counts, a day after their last try (a known one's stay) */
	run(c, "DELETE FROM consent_login_state WHERE key LIKE '?%' AND locked_until <= ?1 AND updated_at <= ?1 - 86400",
	    "i", c->now);
	run(c,
	    "DELETE FROM consent_idem WHERE EXISTS (SELECT 1 FROM consent_sessions s"
	    " WHERE s.token_hash = consent_idem.session AND (s.expired = 1 OR s.final = 1))",
	    "");
	/* limits.keep_ended_seconds after a session ended (its record stays in decisions) and after a
	 * device code expired (then unknown: invalid_grant), they leave the state: it stays bounded */
	long long before = c->now - (long long)c->sc->keep_ended_seconds;
	run(c, "DELETE FROM consent_sessions WHERE (final = 1 OR expired = 1) AND last_activity <= ?", "i", before);
	run(c,
	    "DELETE FROM device_auth WHERE expires_at <= ? AND NOT EXISTS (SELECT 1 FROM consent_sessions s"
	    " WHERE s.device_code_hash = device_auth.device_code_hash)",
	    "i", before);
}

/* 1 found, 0 none, -1 error. */
static int load_by_hash(struct ctx *c, const char *hash, struct sess *s)
{
	sqlite3_stmt *st = prep(c,
				"SELECT device_code_hash, client_id, requested, customer, step, scopes, cert_sha256,"
				" back, last_activity, decided_at, registered_here, final, expired, purpose"
				" FROM consent_sessions WHERE token_hash = ?",
				"s", hash);
	int rc = step_row(c, st), ret = rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;

	memset(s, 0, sizeof(*s));
	if (ret == 1) {
		snprintf(s->hash, sizeof(s->hash), "%s", hash);
		copy_col(st, 0, s->device, sizeof(s->device));
		copy_col(st, 1, s->client_id, sizeof(s->client_id));
		copy_col(st, 2, s->requested, sizeof(s->requested));
		copy_col(st, 3, s->customer, sizeof(s->customer));
		char step[32];
		copy_col(st, 4, step, sizeof(step));
		int k = step_from_name(step);
		s->step = k < 0 ? ST_DENIED : (enum step)k;
		copy_col(st, 5, s->scopes, sizeof(s->scopes));
		copy_col(st, 6, s->cert, sizeof(s->cert));
		copy_col(st, 7, s->back, sizeof(s->back));
		s->last_activity = sqlite3_column_int64(st, 8);
		s->decided_at = sqlite3_column_int64(st, 9);
		s->registered_here = sqlite3_column_int(st, 10) != 0;
		s->final = sqlite3_column_int(st, 11) != 0;
		s->expired = sqlite3_column_int(st, 12) != 0;
		const unsigned char *purpose = sqlite3_column_text(st, 13);
		s->manage = purpose && strcmp((const char *)purpose, "manage") == 0;
		s->partner = s->manage ? NULL : scenario_partner(c->sc, s->client_id);
		s->cust = s->customer[0] ? scenario_customer(c->sc, s->customer) : NULL;
		if ((!s->manage && !s->partner) || (s->customer[0] && !s->cust)) {
			/* The state file was written with another scenario. */
			fprintf(stderr, "renkei-sandbox: consent: session refers to a partner or customer the"
					" scenario does not have\n");
			c->failed = true;
			ret = -1;
		}
	}
	db_stmt_done(&c->sb->db, st);
	return ret;
}

static void save_step(struct ctx *c, struct sess *s, enum step step, const char *back)
{
	s->step = step;
	snprintf(s->back, sizeof(s->back), "%s", back ? back : "");
	run(c, "UPDATE consent_sessions SET step = ?, back = ? WHERE token_hash = ?", "sss", step_names[step], back,
	    s->hash);
	if (step == ST_PIN_RESULT)
		run(c, "UPDATE consent_sessions SET pin_result_reached = 1 WHERE token_hash = ?", "s", s->hash);
}

/* --- customers and accounts ---------------------------------------------------------------- */

/* A login's wrong tries and lock (§4.5), by key: the login id, or for a login id no customer has
 * "?" and its SHA-256, counted the same way so that the answers cannot tell the two apart. */
struct login_state {
	char key[72];
	int wrong_passwords;
	int wrong_answers;
	long long locked_until; /* 0: not locked; a lock that has run out is cleared on reading */
	bool staff_locked;      /* the scenario's "locked": true */
};

static void login_key(const char *login_id, const struct sc_customer *cu, char out[72])
{
	char h[65];

	if (cu) {
		snprintf(out, 72, "%s", cu->login_id);
		return;
	}
	db_hash(login_id, h);
	snprintf(out, 72, "?%s", h);
}

static void get_login_key(struct ctx *c, const char *key, struct login_state *ls)
{
	sqlite3_stmt *st = prep(c,
				"SELECT wrong_passwords, wrong_answers, locked_until FROM consent_login_state WHERE key = ?",
				"s", key);

	memset(ls, 0, sizeof(*ls));
	snprintf(ls->key, sizeof(ls->key), "%s", key);
	if (step_row(c, st) == SQLITE_ROW) {
		ls->wrong_passwords = sqlite3_column_int(st, 0);
		ls->wrong_answers = sqlite3_column_int(st, 1);
		ls->locked_until = sqlite3_column_int64(st, 2);
	}
	db_stmt_done(&c->sb->db, st);
	if (ls->locked_until && ls->locked_until <= c->now) { /* the lock has run out: a fresh start */
		ls->locked_until = 0;
		ls->wrong_passwords = ls->wrong_answers = 0;
	}
}

static void get_login(struct ctx *c, const struct sc_customer *cu, struct login_state *ls)
{
	get_login_key(c, cu->login_id, ls);
	ls->staff_locked = cu->locked;
}

static bool login_locked(const struct login_state *ls)
{
	return ls->staff_locked || ls->locked_until != 0;
}

static void put_login(struct ctx *c, const struct login_state *ls)
{
	run(c,
	    "INSERT INTO consent_login_state (key, wrong_passwords, wrong_answers, locked_until, updated_at)"
	    " VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT(key) DO UPDATE SET wrong_passwords = ?2,"
	    " wrong_answers = ?3, locked_until = ?4, updated_at = ?5",
	    "siiii", ls->key, (long long)ls->wrong_passwords, (long long)ls->wrong_answers, ls->locked_until,
	    c->now);
}

/* Start a lock of limits.lock_seconds (0: until staff unlock). */
static void start_lock(struct ctx *c, struct login_state *ls)
{
	ls->locked_until = c->sc->lock_seconds ? c->now + c->sc->lock_seconds : LOCKED_FOR_EVER;
}

struct pin_state {
	bool registered; /* effective */
	bool pending;    /* registered in this session, not yet effective */
	bool locked;
	int wrong;
};

static void get_pin(struct ctx *c, const struct sess *s, const struct sc_account *a, struct pin_state *p)
{
	sqlite3_stmt *st = prep(c,
				"SELECT p.registered, p.wrong, p.locked,"
				" EXISTS (SELECT 1 FROM consent_pending WHERE session = ?1 AND account = ?2)"
				" FROM (SELECT 1) LEFT JOIN consent_pins p ON p.account = ?2",
				"ss", s->hash, a->id);

	memset(p, 0, sizeof(*p));
	p->registered = a->registered;
	if (step_row(c, st) == SQLITE_ROW) {
		if (sqlite3_column_type(st, 0) != SQLITE_NULL)
			p->registered = sqlite3_column_int(st, 0) != 0;
		p->wrong = sqlite3_column_int(st, 1);
		p->locked = sqlite3_column_int(st, 2) != 0;
		p->pending = !p->registered && sqlite3_column_int(st, 3) != 0;
	}
	db_stmt_done(&c->sb->db, st);
}

static bool selectable(const struct pin_state *p)
{
	return !p->registered && !p->pending && !p->locked;
}

static bool covered(const struct pin_state *p)
{
	return p->registered || p->pending;
}

static size_t count_accounts(struct ctx *c, const struct sess *s, bool (*pred)(const struct pin_state *))
{
	size_t n = 0;

	for (size_t i = 0; s->cust && i < s->cust->naccounts; i++) {
		struct pin_state p;
		get_pin(c, s, &s->cust->accounts[i], &p);
		if (pred(&p))
			n++;
	}
	return n;
}

static int tries_left(int limit, int used)
{
	return used >= limit ? 0 : limit - used;
}

static cJSON *account_json(struct ctx *c, const struct sess *s, const struct sc_account *a)
{
	struct pin_state p;
	cJSON *o = sb_account_json(a);

	get_pin(c, s, a, &p);
	if (a->memo)
		cJSON_AddStringToObject(o, "memo", a->memo);
	else
		cJSON_AddNullToObject(o, "memo");
	cJSON_AddStringToObject(o, "pin", p.registered ? "registered" : p.pending ? "pending" : "unregistered");
	cJSON_AddBoolToObject(o, "pin_locked", p.locked);
	cJSON_AddNumberToObject(o, "tries_left", tries_left(c->sc->pin_tries, p.wrong));
	return o;
}

/* The customer's accounts in the bank's order (only the covered ones when covered_only). */
static cJSON *accounts_json(struct ctx *c, const struct sess *s, bool covered_only)
{
	cJSON *a = cJSON_CreateArray();

	for (size_t i = 0; s->cust && i < s->cust->naccounts; i++) {
		if (covered_only) {
			struct pin_state p;
			get_pin(c, s, &s->cust->accounts[i], &p);
			if (!covered(&p))
				continue;
		}
		cJSON_AddItemToArray(a, account_json(c, s, &s->cust->accounts[i]));
	}
	return a;
}

/* --- the envelope ------------------------------------------------------------------------------ */

static cJSON *scope_json(struct ctx *c, const char *id)
{
	const struct sc_scope *sc = scenario_scope(c->sc, id);
	struct l10n fallback = {(char *)id, NULL};
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "id", id);
	cJSON_AddItemToObject(o, "name", sb_l10n_json(sc ? &sc->name : &fallback));
	return o;
}

static const char *chosen_scopes(const struct sess *s)
{
	return s->scopes[0] ? s->scopes : s->requested;
}

static cJSON *scopes_json(struct ctx *c, const char *list)
{
	struct words w;
	cJSON *a = cJSON_CreateArray();

	split_words(list, &w);
	for (size_t i = 0; i < w.n; i++)
		cJSON_AddItemToArray(a, scope_json(c, w.w[i]));
	return a;
}

/* Start of the bank's day containing t. */
static long long day_start(const struct scenario *sc, long long t)
{
	long long off = (long long)sc->utc_offset_minutes * 60, local = t + off;
	long long d = local / 86400;

	if (local < 0 && local % 86400)
		d--;
	return d * 86400 - off;
}

static cJSON *period_json(struct ctx *c, const struct sess *s, long long from)
{
	char a[11], b[11];
	cJSON *o = cJSON_CreateObject();

	sb_date(from, c->sc->utc_offset_minutes, a);
	sb_date(from + (long long)s->partner->period_days * 86400, c->sc->utc_offset_minutes, b);
	cJSON_AddStringToObject(o, "from", a);
	cJSON_AddStringToObject(o, "to", b);
	return o;
}

static cJSON *links_json(struct ctx *c, const struct sess *s);

static cJSON *step_data(struct ctx *c, const struct sess *s)
{
	cJSON *d = cJSON_CreateObject(), *a;
	struct login_state ls;

	switch (s->step) {
	case ST_LOGIN:
		a = cJSON_AddArrayToObject(d, "methods");
		cJSON_AddItemToArray(a, cJSON_CreateString("password"));
		if (c->sb->client_certs)
			cJSON_AddItemToArray(a, cJSON_CreateString("certificate"));
		break;
	case ST_QUESTION:
		get_login(c, s->cust, &ls);
		cJSON_AddItemToObject(d, "question", sb_l10n_json(&s->cust->question));
		cJSON_AddBoolToObject(d, "masked", s->cust->answer_masked);
		cJSON_AddNumberToObject(d, "max_length", ANSWER_MAX_LENGTH);
		cJSON_AddNumberToObject(d, "tries_left", tries_left(c->sc->answer_tries, ls.wrong_answers));
		break;
	case ST_SCOPES: {
		struct words req, chosen;
		split_words(s->requested, &req);
		split_words(chosen_scopes(s), &chosen);
		a = cJSON_AddArrayToObject(d, "scopes");
		for (size_t i = 0; i < req.n; i++) {
			cJSON *o = scope_json(c, req.w[i]);
			cJSON_AddBoolToObject(o, "selected", words_has(&chosen, req.w[i]));
			cJSON_AddItemToArray(a, o);
		}
		break;
	}
	case ST_PINS:
		cJSON_AddNumberToObject(d, "pin_length", c->sc->pin_length);
		cJSON_AddItemToObject(d, "accounts", accounts_json(c, s, false));
		break;
	case ST_PIN_RESULT:
		cJSON_AddItemToObject(d, "accounts", accounts_json(c, s, false));
		break;
	case ST_PERMISSION: {
		const struct l10n *terms = s->partner->terms.ja ? &s->partner->terms : &c->sc->terms;
		cJSON_AddItemToObject(d, "scopes", scopes_json(c, chosen_scopes(s)));
		cJSON_AddItemToObject(d, "accounts", accounts_json(c, s, true));
		cJSON_AddItemToObject(d, "period", period_json(c, s, c->now));
		cJSON_AddItemToObject(d, "terms", sb_l10n_json(terms));
		if (s->back[0])
			cJSON_AddStringToObject(d, "back", s->back);
		else
			cJSON_AddNullToObject(d, "back");
		break;
	}
	case ST_DONE:
		cJSON_AddItemToObject(d, "scopes", scopes_json(c, chosen_scopes(s)));
		cJSON_AddItemToObject(d, "period", period_json(c, s, s->decided_at));
		break;
	case ST_LINKS:
		cJSON_AddItemToObject(d, "links", links_json(c, s));
		if (c->revoked)
			cJSON_AddItemToObject(d, "revoked", c->revoked), c->revoked = NULL;
		break;
	default:
		break;
	}
	return d;
}

static cJSON *envelope(struct ctx *c, const struct sess *s, const char *token)
{
	cJSON *e = cJSON_CreateObject(), *p, *r;
	long long left = s->last_activity + c->sc->session_idle_seconds - c->now;
	struct words req;

	if (token)
		cJSON_AddStringToObject(e, "session", token);
	cJSON_AddStringToObject(e, "step", step_names[s->step]);
	cJSON_AddNumberToObject(e, "session_expires_in", (double)(left < 0 ? 0 : left));
	if (s->manage) {
		cJSON_AddStringToObject(e, "purpose", "manage");
		cJSON_AddItemToObject(e, "data", step_data(c, s));
		return e;
	}
	p = cJSON_AddObjectToObject(e, "partner");
	cJSON_AddStringToObject(p, "client_id", s->partner->client_id);
	cJSON_AddItemToObject(p, "name", sb_l10n_json(&s->partner->name));
	r = cJSON_AddObjectToObject(e, "request");
	split_words(s->requested, &req);
	cJSON *a = cJSON_AddArrayToObject(r, "scopes");
	for (size_t i = 0; i < req.n; i++)
		cJSON_AddItemToArray(a, scope_json(c, req.w[i]));
	cJSON_AddBoolToObject(r, "scope_choice", s->partner->scope_choice);
	cJSON_AddNumberToObject(r, "period_days", s->partner->period_days);
	cJSON_AddItemToObject(e, "data", step_data(c, s));
	return e;
}

static void answer(struct ctx *c, const struct sess *s, int status, const char *token)
{
	if (c->failed)
		return;
	http_json(c->resp, status, envelope(c, s, token));
}

static void wrong_step(struct ctx *c, const struct sess *s, const char *detail)
{
	cJSON *ext = cJSON_CreateObject();

	cJSON_AddStringToObject(ext, "step", step_names[s->step]);
	http_problem(c->resp, 409, "wrong-step", detail ? detail : "This request is not valid in the current step.",
		     ext);
}

/* --- transitions -------------------------------------------------------------------------------- */

/* Enter the step that follows `done` (login, question, scopes or pin_result), skipping the steps
 * the server does not show (§4.1, §6). */
static void advance(struct ctx *c, struct sess *s, enum step done)
{
	enum step shown = done;

	if (s->manage) {
		save_step(c, s, done == ST_LOGIN && s->cust->question_required ? ST_QUESTION : ST_LINKS, NULL);
		return;
	}
	if (done == ST_LOGIN) {
		if (s->cust->question_required) {
			save_step(c, s, ST_QUESTION, NULL);
			return;
		}
		done = ST_QUESTION;
	}
	if (done == ST_QUESTION) {
		if (s->partner->scope_choice) {
			save_step(c, s, ST_SCOPES, NULL);
			return;
		}
		done = ST_SCOPES;
	}
	if (done == ST_SCOPES) {
		/* pins: while an account can still be registered, or when no account would be covered
		 * (the customer must register one first; only cancel is left if none can be). */
		if (count_accounts(c, s, selectable) > 0 || count_accounts(c, s, covered) == 0) {
			save_step(c, s, ST_PINS, NULL);
			return;
		}
		if (s->registered_here) {
			save_step(c, s, ST_PIN_RESULT, NULL);
			return;
		}
		save_step(c, s, ST_PERMISSION, shown == ST_SCOPES ? "scopes" : NULL);
		return;
	}
	/* after pin_result */
	if (count_accounts(c, s, covered) == 0)
		save_step(c, s, ST_PINS, NULL);
	else
		save_step(c, s, ST_PERMISSION, "pin_result");
}

/* The bank's record of a consent session's decision (§4.12 "Records"). */
static void record_session(struct ctx *c, const struct sess *s, const char *result, const char *accounts,
			   long long grant_id)
{
	struct record r = {
		.at = c->now, .token_hash = s->hash, .event = "consent", .client_id = s->client_id,
		.customer = s->customer, .result = result, .scopes = chosen_scopes(s), .accounts = accounts,
		.grant_id = grant_id,
	};
	if (!c->failed && !s->manage && record_write(c->sb->db.h, &r) != 0)
		c->failed = true;
}

/* End the session without a grant: deny or cancel (step denied; result says which), or lockout
 * (step locked). A manage session's cancel ends it in step ended instead (§4.12). */
static void end_denied(struct ctx *c, struct sess *s, enum step final_step, const char *result)
{
	if (s->manage && final_step == ST_DENIED)
		final_step = ST_ENDED;
	record_session(c, s, result, "", 0);
	s->step = final_step;
	s->final = true;
	s->decided_at = c->now;
	run(c, "UPDATE consent_sessions SET step = ?, final = 1, decided_at = ?, back = NULL WHERE token_hash = ?",
	    "sis", step_names[final_step], c->now, s->hash);
	run(c, "DELETE FROM consent_pending WHERE session = ?", "s", s->hash);
	run(c, "UPDATE device_auth SET status = 'denied' WHERE device_code_hash = ? AND status = 'pending'", "s",
	    s->device);
}

/* The customer proved who they are (right password, or logged in and at the question) and the login
 * is locked, or just became so: the session ends in step locked (§4.5). */
static void lock_login(struct ctx *c, struct sess *s, struct login_state *ls)
{
	if (!login_locked(ls))
		start_lock(c, ls);
	put_login(c, ls);
	end_denied(c, s, ST_LOCKED, "locked");
	problem(c, 403, "login-locked", "The login is locked; the customer must contact the bank.");
}

/* --- POST /consent/v1/sessions ---------------------------------------------------------------- */

static bool printable_ascii(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			return false;
	return true;
}

/* Seconds until the nth newest row of the window is out of it (sql selects `at`, newest first, with
 * its OFFSET bound last), or 0 when there are fewer rows. */
static long long window_retry(struct ctx *c, sqlite3_stmt *st, int window)
{
	long long retry = 0;

	if (step_row(c, st) == SQLITE_ROW) {
		retry = sqlite3_column_int64(st, 0) + window - c->now;
		if (retry < 1)
			retry = 1;
	}
	db_stmt_done(&c->sb->db, st);
	return retry;
}

/* Is this address (limits.wrong_codes unknown codes in the window), or every address
 * (limits.wrong_codes_global from all of them), limited? The seconds until it is not, or 0. */
static long long codes_limited(struct ctx *c, const char *addr)
{
	const struct scenario *sc = c->sc;
	long long since = c->now - (long long)sc->rate_limit_window, retry = 0;

	if (sc->rate_limit_codes > 0)
		retry = window_retry(c,
				     prep(c,
					  "SELECT at FROM consent_rate WHERE addr = ? AND at > ? ORDER BY at DESC"
					  " LIMIT 1 OFFSET ?",
					  "sii", addr, since, (long long)(sc->rate_limit_codes - 1)),
				     sc->rate_limit_window);
	if (!retry && sc->rate_limit_codes_global > 0)
		retry = window_retry(c,
				     prep(c, "SELECT at FROM consent_rate WHERE at > ? ORDER BY at DESC LIMIT 1 OFFSET ?",
					  "ii", since, (long long)(sc->rate_limit_codes_global - 1)),
				     sc->rate_limit_window);
	return retry;
}

/* An unknown (or malformed) user code: 404 and counted, or while limited 429 and not counted. */
static void unknown_code(struct ctx *c, const char *addr, long long limited)
{
	if (limited) {
		char buf[32];
		snprintf(buf, sizeof(buf), "%lld", limited);
		cJSON *ext = cJSON_CreateObject();
		cJSON_AddNumberToObject(ext, "retry_after", (double)limited);
		http_problem(c->resp, 429, "rate-limited", "Too many unknown user codes; try again later.", ext);
		http_header(c->resp, "Retry-After", buf);
		return;
	}
	run(c, "INSERT INTO consent_rate (addr, at) VALUES (?, ?)", "si", addr, c->now);
	if (!c->failed)
		problem(c, 404, "user-code-unknown", "No such user code.");
}

/* A start whose answer was lost comes again with its idempotency key (§4.3): answer with the same
 * session and token. True when answered (or on failure). device: the device code's hash, "" for a
 * manage session (§4.12). */
static bool start_again(struct ctx *c, const char *key, const char *device)
{
	char ih[65], tok[TOKEN_MAX];
	struct sess s;

	idem_hash(key, device, ih);
	sqlite3_stmt *st = prep(c,
				"SELECT token_hash, idem_wrap FROM consent_sessions WHERE device_code_hash = ? AND"
				" idem_hash = ? AND final = 0 AND expired = 0",
				"ss", device, ih);
	int rc = step_row(c, st);
	char th[65] = "", w[160] = "";
	if (rc == SQLITE_ROW) {
		copy_col(st, 0, th, sizeof(th));
		copy_col(st, 1, w, sizeof(w));
	}
	db_stmt_done(&c->sb->db, st);
	if (c->failed)
		return true;
	if (rc != SQLITE_ROW)
		return false;
	char h[65];
	if (idem_unwrap(key, device, w, tok, sizeof(tok)) != 0) {
		c->failed = true;
		return true;
	}
	db_hash(tok, h);
	if (strcmp(h, th) == 0 && load_by_hash(c, th, &s) == 1) {
		run(c, "UPDATE consent_sessions SET last_activity = ? WHERE token_hash = ?", "is", c->now, th);
		s.last_activity = c->now;
		answer(c, &s, 201, tok);
		explicit_bzero(tok, sizeof(tok));
		return true;
	}
	explicit_bzero(tok, sizeof(tok));
	/* Cannot happen unless the row was tampered with: treat it as another session. */
	return c->failed;
}

/* A new session with a new token, answered 201 (§4.3, §4.12). */
static void create_session(struct ctx *c, const char *key, const char *device, const char *client_id,
			   const char *requested, const char *purpose)
{
	char tok[TOKEN_MAX], th[65], ih[65], wrap[160];
	struct sess s;

	if (db_random_token(tok, sizeof(tok), TOKEN_BYTES) != 0) {
		c->failed = true;
		return;
	}
	db_hash(tok, th);
	if (key) {
		idem_hash(key, device, ih);
		if (idem_wrap(key, device, tok, wrap, sizeof(wrap)) != 0) {
			explicit_bzero(tok, sizeof(tok));
			c->failed = true;
			return;
		}
	}
	run(c,
	    "INSERT INTO consent_sessions (token_hash, device_code_hash, client_id, requested, step, idem_hash,"
	    " idem_wrap, created_at, last_activity, purpose) VALUES (?, ?, ?, ?, 'login', ?, ?, ?, ?, ?)",
	    "ssssssiis", th, device, client_id, requested, key ? ih : NULL, key ? wrap : NULL, c->now, c->now,
	    purpose);
	if (!c->failed && load_by_hash(c, th, &s) == 1)
		answer(c, &s, 201, tok);
	explicit_bzero(tok, sizeof(tok));
	explicit_bzero(wrap, sizeof(wrap));
}

/* A manage session (§4.12): no user code; nothing about a customer before the login. */
static void start_manage(struct ctx *c, const char *key)
{
	if (key && start_again(c, key, ""))
		return;
	create_session(c, key, "", "", "", "manage");
}

static void start(struct ctx *c)
{
	static const struct member ms[] = {
		{"user_code", J_STRING, false},
		{"idempotency_key", J_STRING, false},
		{"purpose", J_STRING, false},
	};
	const char *addr = c->req->peer_addr ? c->req->peer_addr : "-";
	const struct scenario *sc = c->sc;
	char code[128], device[65], client_id[128], requested[512];
	long long expires_at = 0;

	/* Rate limit (§4.3): while limited, only unknown codes are refused; valid ones go through. */
	long long limited = codes_limited(c, addr);
	if (c->failed)
		return;

	if (!(c->body = read_body(c)) || !members_ok(c, c->body, "", ms, 3))
		return;
	const char *user_code = str_member(c->body, "user_code");
	const char *key = str_member(c->body, "idempotency_key");
	const char *purpose = str_member(c->body, "purpose");
	if (key && (!key[0] || strlen(key) > IDEM_MAX || !printable_ascii(key))) {
		bad_request(c, "/idempotency_key", "idempotency_key must be 1-64 printable ASCII characters.");
		return;
	}
	if (purpose && strcmp(purpose, "consent") != 0 && strcmp(purpose, "manage") != 0) {
		bad_request(c, "/purpose", "purpose must be \"consent\" or \"manage\".");
		return;
	}
	bool manage = purpose && strcmp(purpose, "manage") == 0;
	if (manage != !user_code) {
		bad_request(c, "/user_code", manage ? "A manage session takes no user_code." : "Missing member.");
		return;
	}
	if (manage) {
		start_manage(c, key);
		return;
	}
	if (!sandbox_normalize_user_code(sc, user_code, code, sizeof(code))) {
		unknown_code(c, addr, limited);
		return;
	}
	char uch[65];
	sandbox_user_code_hash(code, uch);
	sqlite3_stmt *st = prep(c,
				"SELECT device_code_hash, client_id, scopes, expires_at, status FROM device_auth"
				" WHERE user_code = ?",
				"s", uch);
	int rc = step_row(c, st);
	char status[16] = "";
	if (rc == SQLITE_ROW) {
		copy_col(st, 0, device, sizeof(device));
		copy_col(st, 1, client_id, sizeof(client_id));
		copy_col(st, 2, requested, sizeof(requested));
		expires_at = sqlite3_column_int64(st, 3);
		copy_col(st, 4, status, sizeof(status));
	}
	db_stmt_done(&c->sb->db, st);
	if (c->failed)
		return;
	if (rc != SQLITE_ROW) {
		unknown_code(c, addr, limited);
		return;
	}
	if (strcmp(status, "pending") != 0) {
		problem(c, 409, "user-code-used", "A decision was already made for this user code.");
		return;
	}
	if (expires_at <= c->now) {
		problem(c, 410, "user-code-expired", "The device authorization has expired.");
		return;
	}
	if (!scenario_partner(sc, client_id)) {
		c->failed = true;
		return;
	}

	/* The same start again (its answer was lost): the same session and token. */
	if (key && start_again(c, key, device))
		return;
	st = prep(c, "SELECT 1 FROM consent_sessions WHERE device_code_hash = ? AND final = 0 AND expired = 0",
		  "s", device);
	rc = step_row(c, st);
	db_stmt_done(&c->sb->db, st);
	if (c->failed)
		return;
	if (rc == SQLITE_ROW) {
		problem(c, 409, "user-code-busy", "Another consent session is live for this user code.");
		return;
	}

	create_session(c, key, device, client_id, requested, "consent");
}

/* --- the session's requests ----------------------------------------------------------------- */

/* The session of the Authorization header, checked (certificate binding, expiry) and touched. */
static bool session_auth(struct ctx *c, struct sess *s)
{
	char h[65];

	if (!sb_bearer_hash(c->req->authorization, TOKEN_MAX, h)) {
		session_problem(c, "session-unknown", "A consent session token is required (Authorization: Bearer).");
		return false;
	}
	int rc = load_by_hash(c, h, s);
	if (rc < 0)
		return false;
	if (rc == 0) {
		session_problem(c, "session-unknown", "No such consent session.");
		return false;
	}
	/* protocol §4.5: bound to the login certificate; only a cancel (which can only deny) is taken
	 * without it, so a client whose card was pulled can still end the request */
	bool cancel = strcmp(c->req->method, "DELETE") == 0;
	if (s->cert[0] && !cancel &&
	    (!c->req->client_cert_sha256 || !secret_equal(c->req->client_cert_sha256, s->cert))) {
		problem(c, 403, "certificate-mismatch",
			"This session is bound to the client certificate it logged in with.");
		return false;
	}
	if (s->expired || s->last_activity + c->sc->session_idle_seconds <= c->now) {
		session_problem(c, "session-expired", "The consent session has expired.");
		return false;
	}
	run(c, "UPDATE consent_sessions SET last_activity = ? WHERE token_hash = ?", "is", c->now, s->hash);
	s->last_activity = c->now;
	return !c->failed;
}

static void get_session(struct ctx *c, struct sess *s)
{
	answer(c, s, 200, NULL);
}

static void cancel(struct ctx *c, struct sess *s)
{
	end_denied(c, s, ST_DENIED, "cancelled");
	answer(c, s, 200, NULL);
}

/* Wrong logins are limited per session and per client address (§4.5): past either limit a login is
 * refused with 429 before any password is looked at. */
static bool login_rate_ok(struct ctx *c, struct sess *s)
{
	const struct scenario *sc = c->sc;
	sqlite3_stmt *st = prep(c, "SELECT COUNT(*) FROM consent_login_fail WHERE session = ?", "s", s->hash);
	long long n = step_row(c, st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0, retry = 0;

	db_stmt_done(&c->sb->db, st);
	if (n >= sc->session_login_tries) {
		retry = s->last_activity + sc->session_idle_seconds - c->now;
	} else if (sc->address_login_tries > 0) {
		const char *addr = c->req->peer_addr ? c->req->peer_addr : "-";
		st = prep(c, "SELECT at FROM consent_login_fail WHERE addr = ? AND at > ? ORDER BY at DESC LIMIT 1 OFFSET ?",
			  "sii", addr, c->now - (long long)sc->address_login_window,
			  (long long)(sc->address_login_tries - 1));
		if (step_row(c, st) == SQLITE_ROW)
			retry = sqlite3_column_int64(st, 0) + sc->address_login_window - c->now;
		db_stmt_done(&c->sb->db, st);
		if (!retry && !c->failed)
			return true;
	} else {
		return !c->failed;
	}
	if (c->failed)
		return false;
	if (retry < 1)
		retry = 1;
	char ra[24];
	cJSON *ext = cJSON_CreateObject();
	cJSON_AddNumberToObject(ext, "retry_after", (double)retry);
	http_problem(c->resp, 429, "rate-limited",
		     n >= sc->session_login_tries ? "Too many wrong logins in this session."
						  : "Too many wrong logins from this address.",
		     ext);
	snprintf(ra, sizeof(ra), "%lld", retry);
	http_header(c->resp, "Retry-After", ra);
	return false;
}

/* The password, checked against the customer's hash or, for a login ID no customer has, against a
 * dummy one at the same cost; known and unknown IDs answer alike, and a lock is told only after the
 * right password (§4.5). */
static void check_password(struct ctx *c, struct sess *s, const struct sc_customer *cu, const char *login_id,
			   const char *password, bool by_cert)
{
	struct login_state ls;
	char key[72];
	char *h = crypt_phrase(password, cu ? cu->password_hash : dummy_hash());
	bool right = cu && h && secret_equal(h, cu->password_hash);

	sb_wipe_free(h);
	login_key(login_id, cu, key);
	get_login_key(c, key, &ls);
	ls.staff_locked = cu && cu->locked;
	if (c->failed)
		return;
	if (right && login_locked(&ls)) {
		lock_login(c, s, &ls);
		return;
	}
	if (!right) {
		run(c, "INSERT INTO consent_login_fail (session, addr, at) VALUES (?, ?, ?)", "ssi", s->hash,
		    c->req->peer_addr ? c->req->peer_addr : "-", c->now);
		if (!ls.locked_until && ++ls.wrong_passwords >= c->sc->password_tries)
			start_lock(c, &ls); /* told only to the one who then knows the password */
		put_login(c, &ls);
		cJSON *ext = cJSON_CreateObject();
		cJSON_AddNumberToObject(ext, "tries_left",
					ls.locked_until ? 0 : tries_left(c->sc->password_tries, ls.wrong_passwords));
		http_problem(c->resp, 401, "wrong-credentials", "Wrong login ID or password.", ext);
		return;
	}
	ls.wrong_passwords = 0;
	put_login(c, &ls);
	snprintf(s->customer, sizeof(s->customer), "%s", cu->login_id);
	s->cust = cu;
	run(c, "UPDATE consent_sessions SET customer = ? WHERE token_hash = ?", "ss", cu->login_id, s->hash);
	if (by_cert) {
		snprintf(s->cert, sizeof(s->cert), "%s", c->req->client_cert_sha256);
		run(c, "UPDATE consent_sessions SET cert_sha256 = ? WHERE token_hash = ?", "ss", s->cert, s->hash);
	}
	advance(c, s, ST_LOGIN);
	answer(c, s, 200, NULL);
}

static void login(struct ctx *c, struct sess *s)
{
	static const struct member pw[] = {
		{"method", J_STRING, true}, {"login_id", J_STRING, true}, {"password", J_STRING, true}};
	static const struct member cert[] = {{"method", J_STRING, true}, {"password", J_STRING, true}};
	const struct sc_customer *cu;
	const char *login_id = NULL;
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(c->body, "method");
	bool by_cert;

	if (!m) {
		bad_request(c, "/method", "Missing member.");
		return;
	}
	if (!cJSON_IsString(m) || (strcmp(m->valuestring, "password") != 0 && strcmp(m->valuestring, "certificate") != 0)) {
		bad_request(c, "/method", "method must be \"password\" or \"certificate\".");
		return;
	}
	by_cert = strcmp(m->valuestring, "certificate") == 0;
	if (!(by_cert ? members_ok(c, c->body, "", cert, 2) : members_ok(c, c->body, "", pw, 3)))
		return;
	const char *password = str_member(c->body, "password");
	if (by_cert && !c->sb->client_certs) {
		problem(c, 400, "method-unavailable", "This server does not offer certificate login.");
		return;
	}
	if (!password[0]) {
		bad_request(c, "/password", "The password is empty.");
		return;
	}
	if (by_cert) {
		if (c->req->client_cert_present_but_invalid) {
			problem(c, 401, "certificate-invalid",
				"The client certificate did not verify against the bank's client CA "
				"(expired, not yet valid, or from another issuer).");
			return;
		}
		if (!c->req->client_cert_sha256) {
			problem(c, 401, "certificate-required",
				"Certificate login needs a client certificate on the connection.");
			return;
		}
		cu = scenario_customer_by_cert(c->sc, c->req->client_cert_subject, c->req->client_cert_serial,
					       c->req->client_cert_sha256);
		if (!cu) {
			problem(c, 401, "certificate-unknown", "The certificate belongs to no customer.");
			return;
		}
	} else {
		login_id = str_member(c->body, "login_id");
		if (!login_id[0]) {
			bad_request(c, "/login_id", "The login ID is empty.");
			return;
		}
		cu = scenario_customer(c->sc, login_id);
	}
	if (!login_rate_ok(c, s))
		return;
	check_password(c, s, cu, login_id, password, by_cert);
}

/* ASCII spaces trimmed from both ends, into a new (wiped later) buffer. */
static char *trim_spaces(const char *s)
{
	size_t n = strlen(s);

	while (*s == ' ')
		s++, n--;
	while (n && s[n - 1] == ' ')
		n--;
	return strndup(s, n);
}

static void answer_question(struct ctx *c, struct sess *s)
{
	static const struct member ms[] = {{"answer", J_STRING, true}};
	struct login_state ls;

	if (!members_ok(c, c->body, "", ms, 1))
		return;
	char *given = trim_spaces(str_member(c->body, "answer"));
	char *want = trim_spaces(s->cust->answer ? s->cust->answer : "");
	if (!given || !want) {
		c->failed = true;
		goto out;
	}
	if (!given[0] || utf8_chars(given) > ANSWER_MAX_LENGTH) {
		bad_request(c, "/answer", given[0] ? "The answer is too long." : "The answer is empty.");
		goto out;
	}
	get_login(c, s->cust, &ls);
	if (c->failed)
		goto out;
	if (login_locked(&ls)) { /* locked meanwhile, by another session */
		lock_login(c, s, &ls);
		goto out;
	}
	if (!secret_equal(given, want)) {
		ls.wrong_answers++;
		if (ls.wrong_answers >= c->sc->answer_tries) {
			lock_login(c, s, &ls);
			goto out;
		}
		put_login(c, &ls);
		cJSON *ext = cJSON_CreateObject();
		cJSON_AddNumberToObject(ext, "tries_left", tries_left(c->sc->answer_tries, ls.wrong_answers));
		http_problem(c->resp, 401, "wrong-answer", "Wrong answer to the additional question.", ext);
		goto out;
	}
	ls.wrong_answers = 0;
	put_login(c, &ls);
	advance(c, s, ST_QUESTION);
	answer(c, s, 200, NULL);
out:
	sb_wipe_free(given);
	sb_wipe_free(want);
}

static void choose_scopes(struct ctx *c, struct sess *s)
{
	static const struct member ms[] = {{"scopes", J_ARRAY, true}};
	struct words req;
	bool chosen[LIST_MAX] = {false};
	char ptr[64], list[512] = "";
	int i = 0;

	if (!members_ok(c, c->body, "", ms, 1))
		return;
	split_words(s->requested, &req);
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(c->body, "scopes");
	for (const cJSON *e = arr->child; e; e = e->next, i++) {
		snprintf(ptr, sizeof(ptr), "/scopes/%d", i);
		if (!cJSON_IsString(e)) {
			bad_request(c, ptr, "Scopes are strings.");
			return;
		}
	}
	if (!arr->child) {
		problem(c, 422, "scope-required", "Choose at least one scope.");
		return;
	}
	for (const cJSON *e = arr->child; e; e = e->next) {
		size_t k;
		for (k = 0; k < req.n; k++)
			if (strcmp(req.w[k], e->valuestring) == 0)
				break;
		if (k == req.n) {
			cJSON *ext = cJSON_CreateObject();
			cJSON_AddStringToObject(ext, "scope", e->valuestring);
			http_problem(c->resp, 422, "scope-unknown", "The partner did not request this scope.", ext);
			return;
		}
		chosen[k] = true;
	}
	/* In the requested order, each once. */
	for (size_t k = 0; k < req.n; k++) {
		if (!chosen[k])
			continue;
		if (list[0])
			strcat(list, " ");
		strcat(list, req.w[k]);
	}
	snprintf(s->scopes, sizeof(s->scopes), "%s", list);
	run(c, "UPDATE consent_sessions SET scopes = ? WHERE token_hash = ?", "ss", list, s->hash);
	advance(c, s, ST_SCOPES);
	answer(c, s, 200, NULL);
}

static bool pin_format_ok(const char *pin, int len)
{
	int n = 0;

	for (; pin[n]; n++)
		if (pin[n] < '0' || pin[n] > '9')
			return false;
	return n == len;
}

static void register_pins(struct ctx *c, struct sess *s)
{
	static const struct member ms[] = {{"pins", J_ARRAY, true}};
	static const struct member item[] = {{"account", J_STRING, true}, {"pin", J_STRING, true}};
	const struct sc_customer *cu = s->cust;
	char ptr[64];
	int i = 0, n = 0;

	if (!members_ok(c, c->body, "", ms, 1))
		return;
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(c->body, "pins");
	/* Check the whole request before anything is registered. */
	for (const cJSON *e = arr->child; e; e = e->next, i++) {
		snprintf(ptr, sizeof(ptr), "/pins/%d", i);
		if (!members_ok(c, e, ptr, item, 2))
			return;
		const char *id = str_member(e, "account");
		snprintf(ptr, sizeof(ptr), "/pins/%d/account", i);
		const struct sc_account *a = NULL;
		for (size_t k = 0; k < cu->naccounts; k++)
			if (strcmp(cu->accounts[k].id, id) == 0)
				a = &cu->accounts[k];
		if (!a) {
			bad_request(c, ptr, "Not one of the customer's accounts.");
			return;
		}
		for (const cJSON *o = arr->child; o != e; o = o->next)
			if (strcmp(str_member(o, "account"), id) == 0) {
				bad_request(c, ptr, "The account is listed more than once.");
				return;
			}
		struct pin_state p;
		get_pin(c, s, a, &p);
		if (c->failed)
			return;
		if (covered(&p)) {
			bad_request(c, ptr, "The account's inquiry PIN is already registered.");
			return;
		}
		n++;
	}
	if (n == 0) {
		problem(c, 422, "pin-required", "Submit at least one account.");
		return;
	}

	cJSON *results = cJSON_CreateArray();
	bool any_wrong = false, all_ok = true;
	for (const cJSON *e = arr->child; e; e = e->next) {
		const char *id = str_member(e, "account"), *pin = str_member(e, "pin");
		const struct sc_account *a = NULL;
		for (size_t k = 0; k < cu->naccounts; k++)
			if (strcmp(cu->accounts[k].id, id) == 0)
				a = &cu->accounts[k];
		struct pin_state p;
		cJSON *r = cJSON_CreateObject();
		get_pin(c, s, a, &p);
		cJSON_AddStringToObject(r, "account", id);
		if (p.locked) {
			cJSON_AddStringToObject(r, "result", "locked");
			any_wrong = true;
			all_ok = false;
		} else if (!pin_format_ok(pin, c->sc->pin_length)) {
			cJSON_AddStringToObject(r, "result", "format");
			all_ok = false;
		} else if (secret_equal(pin, a->pin)) {
			run(c, "INSERT OR IGNORE INTO consent_pending (session, account) VALUES (?, ?)", "ss", s->hash,
			    id);
			cJSON_AddStringToObject(r, "result", "registered");
			s->registered_here = true;
		} else {
			p.wrong++;
			p.locked = p.wrong >= c->sc->pin_tries;
			run(c,
			    "INSERT INTO consent_pins (account, wrong, locked) VALUES (?1, ?2, ?3)"
			    " ON CONFLICT(account) DO UPDATE SET wrong = ?2, locked = ?3",
			    "sii", id, (long long)p.wrong, (long long)(p.locked ? 1 : 0));
			if (p.locked) {
				cJSON_AddStringToObject(r, "result", "locked");
			} else {
				cJSON_AddStringToObject(r, "result", "wrong_pin");
				cJSON_AddNumberToObject(r, "tries_left", tries_left(c->sc->pin_tries, p.wrong));
			}
			any_wrong = true;
			all_ok = false;
		}
		cJSON_AddItemToArray(results, r);
	}
	if (s->registered_here)
		run(c, "UPDATE consent_sessions SET registered_here = 1 WHERE token_hash = ?", "s", s->hash);
	if (c->failed) {
		cJSON_Delete(results);
		return;
	}
	if (all_ok) {
		cJSON_Delete(results);
		save_step(c, s, ST_PIN_RESULT, NULL);
		answer(c, s, 200, NULL);
		return;
	}
	cJSON *ext = cJSON_CreateObject();
	cJSON_AddItemToObject(ext, "results", results);
	cJSON_AddItemToObject(ext, "accounts", accounts_json(c, s, false));
	http_problem(c->resp, 422, any_wrong ? "pin-wrong" : "pin-format",
		     any_wrong ? "At least one inquiry PIN was wrong or its account is locked; the others are"
				 " as the results say."
			       : "At least one inquiry PIN is not made of exactly the required number of digits.",
		     ext);
}

static void pin_result(struct ctx *c, struct sess *s)
{
	static const struct member ms[] = {{"action", J_STRING, true}};

	if (!members_ok(c, c->body, "", ms, 1))
		return;
	const char *action = str_member(c->body, "action");
	if (s->step == ST_PINS) {
		/* protocol §4.8: in step pins, "confirm" is accepted once nothing is left to register
		 * and at least one account is covered (the others were registered or locked). */
		if (strcmp(action, "confirm") != 0 || count_accounts(c, s, selectable) != 0 ||
		    count_accounts(c, s, covered) == 0) {
			if (!c->failed)
				wrong_step(c, s, "Register a PIN first, or cancel.");
			return;
		}
		advance(c, s, ST_PIN_RESULT);
		answer(c, s, 200, NULL);
		return;
	}
	if (s->step != ST_PIN_RESULT) {
		wrong_step(c, s, NULL);
		return;
	}
	if (strcmp(action, "add") == 0) {
		if (count_accounts(c, s, selectable) == 0) {
			if (!c->failed)
				wrong_step(c, s, "No account is left to register.");
			return;
		}
		save_step(c, s, ST_PINS, NULL);
	} else if (strcmp(action, "confirm") == 0) {
		advance(c, s, ST_PIN_RESULT);
	} else {
		bad_request(c, "/action", "action must be \"add\" or \"confirm\".");
		return;
	}
	answer(c, s, 200, NULL);
}

static void go_back(struct ctx *c, struct sess *s)
{
	if (!members_ok(c, c->body, "", NULL, 0))
		return;
	int to = step_from_name(s->back);
	if (to < 0) {
		wrong_step(c, s, "There is no step to go back to; cancel instead.");
		return;
	}
	save_step(c, s, (enum step)to, NULL);
	answer(c, s, 200, NULL);
}

static void decide(struct ctx *c, struct sess *s)
{
	static const struct member ms[] = {{"decision", J_STRING, true}, {"intent_confirmed", J_BOOL, false}};

	if (!members_ok(c, c->body, "", ms, 2))
		return;
	const char *d = str_member(c->body, "decision");
	if (strcmp(d, "deny") == 0) {
		end_denied(c, s, ST_DENIED, "denied");
		answer(c, s, 200, NULL);
		return;
	}
	if (strcmp(d, "allow") != 0) {
		bad_request(c, "/decision", "decision must be \"allow\" or \"deny\".");
		return;
	}
	if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c->body, "intent_confirmed"))) {
		problem(c, 422, "intent-required", "Allow needs intent_confirmed: true.");
		return;
	}

	/* The grant: chosen scopes, covered accounts, until the end of the period's last day. */
	size_t cap = 1;
	for (size_t i = 0; i < s->cust->naccounts; i++)
		cap += strlen(s->cust->accounts[i].id) + 1;
	char *accounts = calloc(1, cap);
	for (size_t i = 0; accounts && i < s->cust->naccounts; i++) {
		struct pin_state p;
		get_pin(c, s, &s->cust->accounts[i], &p);
		if (!covered(&p))
			continue;
		if (accounts[0])
			strcat(accounts, " ");
		strcat(accounts, s->cust->accounts[i].id);
	}
	if (!accounts) {
		c->failed = true;
		return;
	}
	if (!accounts[0]) {
		free(accounts);
		wrong_step(c, s, "No account would be covered; register an inquiry PIN first.");
		return;
	}
	long long end = day_start(c->sc, c->now) + ((long long)s->partner->period_days + 1) * 86400;
	run(c,
	    "INSERT INTO grants (client_id, customer, scopes, accounts, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
	    "ssssii", s->client_id, s->customer, chosen_scopes(s), accounts, c->now, end);
	long long grant_id = sqlite3_last_insert_rowid(c->sb->db.h);
	record_session(c, s, "allowed", accounts, grant_id);
	free(accounts);
	int changed = run(c,
			  "UPDATE device_auth SET status = 'approved', grant_id = ? WHERE device_code_hash = ? AND"
			  " status = 'pending' AND expires_at > ?",
			  "isi", grant_id, s->device, c->now);
	if (c->failed)
		return;
	if (changed != 1) {
		/* Expired between the sweep and now (cannot happen under the request lock). */
		c->failed = true;
		return;
	}
	run(c,
	    "INSERT INTO consent_pins (account, registered) SELECT account, 1 FROM consent_pending WHERE session = ?1"
	    " ON CONFLICT(account) DO UPDATE SET registered = 1",
	    "s", s->hash);
	run(c, "DELETE FROM consent_pending WHERE session = ?", "s", s->hash);
	s->step = ST_DONE;
	s->final = true;
	s->decided_at = c->now;
	run(c, "UPDATE consent_sessions SET step = 'done', final = 1, decided_at = ?, back = NULL WHERE token_hash = ?",
	    "is", c->now, s->hash);
	answer(c, s, 200, NULL);
}

/* --- linked services (§4.12) ----------------------------------------------------------------- */

#define LINK_COLUMNS "id, client_id, scopes, accounts, created_at, expires_at"

/* One link from a row of LINK_COLUMNS. */
static cJSON *link_json(struct ctx *c, const struct sess *s, sqlite3_stmt *st)
{
	char id[24], client_id[128], scopes[512], accounts[2048], day[11];
	cJSON *o = cJSON_CreateObject(), *p, *a;
	struct words w;

	snprintf(id, sizeof(id), "%lld", (long long)sqlite3_column_int64(st, 0));
	copy_col(st, 1, client_id, sizeof(client_id));
	copy_col(st, 2, scopes, sizeof(scopes));
	copy_col(st, 3, accounts, sizeof(accounts));
	const struct sc_partner *pa = scenario_partner(c->sc, client_id);
	struct l10n fallback = {client_id, NULL};

	cJSON_AddStringToObject(o, "id", id);
	p = cJSON_AddObjectToObject(o, "partner");
	cJSON_AddStringToObject(p, "client_id", client_id);
	cJSON_AddItemToObject(p, "name", sb_l10n_json(pa ? &pa->name : &fallback));
	cJSON_AddItemToObject(o, "scopes", scopes_json(c, scopes));
	a = cJSON_AddArrayToObject(o, "accounts");
	split_words(accounts, &w);
	for (size_t i = 0; i < w.n; i++)
		for (size_t k = 0; k < s->cust->naccounts; k++)
			if (strcmp(s->cust->accounts[k].id, w.w[i]) == 0)
				cJSON_AddItemToArray(a, account_json(c, s, &s->cust->accounts[k]));
	sb_date(sqlite3_column_int64(st, 4), c->sc->utc_offset_minutes, day);
	cJSON_AddStringToObject(o, "authorized_on", day);
	/* expires_at is the end of the last day: that day is the last one valid */
	sb_date(sqlite3_column_int64(st, 5) - 1, c->sc->utc_offset_minutes, day);
	cJSON_AddStringToObject(o, "valid_until", day);
	return o;
}

/* The customer's live grants, newest first. */
static cJSON *links_json(struct ctx *c, const struct sess *s)
{
	cJSON *a = cJSON_CreateArray();
	sqlite3_stmt *st = prep(c,
				"SELECT " LINK_COLUMNS " FROM grants WHERE customer = ? AND revoked = 0 AND expires_at > ?"
				" ORDER BY created_at DESC, id DESC",
				"si", s->customer, c->now);
	int rc;

	while (st && (rc = step_row(c, st)) == SQLITE_ROW)
		cJSON_AddItemToArray(a, link_json(c, s, st));
	db_stmt_done(&c->sb->db, st);
	return a;
}

static bool digits_only(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n > max)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/* Stop one link: the grant and every token of it (§4.12). */
static void revoke(struct ctx *c, struct sess *s)
{
	static const struct member ms[] = {{"link", J_STRING, true}};
	char scopes[512], accounts[2048], client_id[128];

	if (!members_ok(c, c->body, "", ms, 1))
		return;
	const char *id = str_member(c->body, "link");
	long long gid = digits_only(id, 18) ? strtoll(id, NULL, 10) : -1;
	sqlite3_stmt *st = prep(c,
				"SELECT " LINK_COLUMNS " FROM grants WHERE id = ? AND customer = ? AND revoked = 0 AND"
				" expires_at > ?",
				"isi", gid, s->customer, c->now);
	int rc = st ? step_row(c, st) : SQLITE_ERROR;
	if (rc == SQLITE_ROW) {
		c->revoked = link_json(c, s, st);
		copy_col(st, 1, client_id, sizeof(client_id));
		copy_col(st, 2, scopes, sizeof(scopes));
		copy_col(st, 3, accounts, sizeof(accounts));
	}
	db_stmt_done(&c->sb->db, st);
	if (c->failed)
		return;
	if (rc != SQLITE_ROW) {
		problem(c, 404, "link-unknown", "No such live link of this customer.");
		return;
	}
	run(c, "UPDATE grants SET revoked = 1 WHERE id = ?", "i", gid);
	run(c, "DELETE FROM tokens WHERE grant_id = ?", "i", gid);
	struct record r = {
		.at = c->now, .token_hash = s->hash, .event = "revoke", .client_id = client_id,
		.customer = s->customer, .result = "revoked", .scopes = scopes, .accounts = accounts, .grant_id = gid,
	};
	if (!c->failed && record_write(c->sb->db.h, &r) != 0)
		c->failed = true;
	answer(c, s, 200, NULL);
}

/* --- routing ---------------------------------------------------------------------------------- */

struct route {
	const char *path; /* after PREFIX */
	const char *method;
	int step;         /* the step the request belongs to, ST_ANY, or ST_LIVE (any before a decision) */
	bool body;        /* reads a JSON body */
	void (*fn)(struct ctx *, struct sess *);
};

static const struct route routes[] = {
	{"/session", "GET", ST_ANY, false, get_session},
	{"/session", "DELETE", ST_LIVE, false, cancel},
	{"/session/login", "POST", ST_LOGIN, true, login},
	{"/session/answer", "POST", ST_QUESTION, true, answer_question},
	{"/session/scopes", "POST", ST_SCOPES, true, choose_scopes},
	{"/session/pins", "POST", ST_PINS, true, register_pins},
	{"/session/pin-result", "POST", ST_LIVE, true, pin_result},
	{"/session/back", "POST", ST_PERMISSION, true, go_back},
	{"/session/decision", "POST", ST_PERMISSION, true, decide},
	{"/session/revoke", "POST", ST_LINKS, true, revoke},
};

/* --- idempotency of session requests (§4.2) -------------------------------------------------- */

struct idem {
	char key[65];  /* "" when the request carries no idempotency_key */
	char body[65];
};

/* HMAC-SHA256 under the session token (never stored), hex; so the database alone cannot be searched
 * for a PIN. 0, or -1. */
static int idem_mac(struct ctx *c, const char *a, const char *b, char out[65])
{
	char token[TOKEN_MAX + 1];
	unsigned char md[32];
	gnutls_hmac_hd_t h;
	int rc = -1;

	if (!sb_bearer_token(c->req->authorization, token, sizeof(token)))
		return -1;
	if (gnutls_hmac_init(&h, GNUTLS_MAC_SHA256, token, strlen(token)) >= 0) {
		rc = gnutls_hmac(h, a, strlen(a) + 1) < 0 || gnutls_hmac(h, b, strlen(b)) < 0 ? -1 : 0;
		gnutls_hmac_deinit(h, md);
	}
	explicit_bzero(token, sizeof(token));
	if (rc == 0)
		sb_hex(md, sizeof(md), out);
	explicit_bzero(md, sizeof(md));
	return rc;
}

/* Take idempotency_key out of the body (handlers never see it) and hash the key and the rest of the
 * body. False when it is malformed (400 answered) or on failure. */
static bool idem_take(struct ctx *c, struct idem *id)
{
	cJSON *k = cJSON_DetachItemFromObjectCaseSensitive(c->body, "idempotency_key");
	bool ok = true;

	id->key[0] = id->body[0] = '\0';
	if (!k)
		return true;
	if (!cJSON_IsString(k) || !k->valuestring[0] || strlen(k->valuestring) > IDEM_MAX ||
	    !printable_ascii(k->valuestring)) {
		bad_request(c, "/idempotency_key", "idempotency_key must be 1-64 printable ASCII characters.");
		ok = false;
	} else {
		char *text = cJSON_PrintUnformatted(c->body);
		if (!text || idem_mac(c, c->req->path, k->valuestring, id->key) != 0 ||
		    idem_mac(c, "body", text, id->body) != 0)
			ok = false, c->failed = true;
		if (text) {
			explicit_bzero(text, strlen(text));
			free(text);
		}
	}
	json_wipe(k);
	cJSON_Delete(k);
	return ok;
}

/* A request already answered under this key: answer it the same way again (true). The same key with
 * another body is refused (true, 400). False: first time, go on. */
static bool idem_replay(struct ctx *c, const struct sess *s, const struct idem *id)
{
	sqlite3_stmt *st;
	bool done = false;

	if (!id->key[0])
		return false;
	st = prep(c, "SELECT body_hash, status, problem, body FROM consent_idem WHERE session = ? AND key_hash = ?",
		  "ss", s->hash, id->key);
	if (st && step_row(c, st) == SQLITE_ROW) {
		done = true;
		if (strcmp((const char *)sqlite3_column_text(st, 0), id->body) != 0) {
			bad_request(c, "/idempotency_key", "This idempotency_key was sent before with another body.");
		} else {
			char *body = strdup((const char *)sqlite3_column_text(st, 3));
			if (!body)
				c->failed = true;
			http_resp_free(c->resp);
			c->resp->status = sqlite3_column_int(st, 1);
			c->resp->content_type = sqlite3_column_int(st, 2) ? "application/problem+json" : "application/json";
			c->resp->body = body;
			c->resp->body_len = body ? strlen(body) : 0;
		}
	}
	db_stmt_done(&c->sb->db, st);
	return done || c->failed;
}

/* Keep the answer just made for a retry under the same key (answers of 500 are not kept). */
static void idem_store(struct ctx *c, const struct sess *s, const struct idem *id)
{
	const struct http_resp *r = c->resp;

	if (!id->key[0] || c->failed || !r->body || r->status >= 500)
		return;
	run(c, "INSERT OR REPLACE INTO consent_idem (session, key_hash, body_hash, status, problem, body)"
	       " VALUES (?, ?, ?, ?, ?, ?)",
	    "sssiis", s->hash, id->key, id->body, (long long)r->status,
	    (long long)(r->content_type && strstr(r->content_type, "problem") != NULL), r->body);
}

static void run_session_route(struct ctx *c, const struct route *r)
{
	struct sess s;
	struct idem id = {"", ""};

	if (!session_auth(c, &s))
		return;
	bool step_ok = !((r->step == ST_LIVE && s.final) || (r->step >= 0 && (int)s.step != r->step));
	if (!step_ok && !r->body) {
		wrong_step(c, &s, NULL);
		return;
	}
	/* A request in another step may still be the retry of one answered already (its answer lost). */
	if (r->body && !(c->body = read_body(c)) && step_ok)
		return;
	if (c->body && !idem_take(c, &id) && step_ok)
		return;
	if (c->body && !c->failed && idem_replay(c, &s, &id))
		return;
	if (!step_ok) {
		http_resp_free(c->resp);
		wrong_step(c, &s, NULL);
		return;
	}
	r->fn(c, &s);
	idem_store(c, &s, &id);
}

bool consent_handle(struct sandbox *sb, const struct http_req *req, struct http_resp *resp)
{
	size_t plen = strlen(PREFIX);
	const char *sub;
	char allow[64] = "";
	const struct route *hit = NULL;
	bool start_path;

	if (strncmp(req->path, PREFIX, plen) != 0 || (req->path[plen] != '/' && req->path[plen] != '\0'))
		return false;
	sub = req->path + plen;
	start_path = strcmp(sub, "/sessions") == 0;
	if (start_path) {
		snprintf(allow, sizeof(allow), "POST");
		if (strcmp(req->method, "POST") != 0)
			goto not_allowed;
	} else {
		for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
			if (strcmp(routes[i].path, sub) != 0)
				continue;
			if (strcmp(routes[i].method, req->method) == 0)
				hit = &routes[i];
			if (allow[0])
				strcat(allow, ", ");
			strcat(allow, routes[i].method);
			if (strcmp(routes[i].method, "GET") == 0)
				strcat(allow, ", HEAD");
		}
		if (!allow[0]) {
			http_problem(resp, 404, "not-found", "No such resource.", NULL);
			return true;
		}
		if (!hit)
			goto not_allowed;
	}

	struct ctx c = {.sb = sb, .sc = sb->sc, .req = req, .resp = resp, .now = sandbox_now()};
	if (db_begin(&sb->db) != 0) {
		http_problem(resp, 500, "internal", "The server failed; nothing was changed.", NULL);
		return true;
	}
	sweep(&c);
	if (!c.failed) {
		if (start_path)
			start(&c);
		else
			run_session_route(&c, hit);
	}
	if (c.body) {
		json_wipe(c.body);
		cJSON_Delete(c.body);
	}
	cJSON_Delete(c.revoked);
	if (c.failed || db_commit(&sb->db) != 0) {
		db_rollback(&sb->db);
		http_resp_free(resp);
		http_problem(resp, 500, "internal", "The server failed; nothing was changed.", NULL);
	}
	return true;

not_allowed:
	http_problem(resp, 405, "method-not-allowed", "This method is not allowed here.", NULL);
	http_header(resp, "Allow", allow);
	return true;
}
