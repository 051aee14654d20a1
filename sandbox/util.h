/* util.h: small helpers shared by the sandbox's modules: form decoding (x-www-form-urlencoded),
 * space-separated lists, media types, Bearer credentials, localized texts and accounts as JSON, the
 * issuer a request came to, wiping secrets. */
#ifndef SANDBOX_UTIL_H
#define SANDBOX_UTIL_H
#include <stdbool.h>
#include <stddef.h>
#include <cjson/cJSON.h>

struct sandbox;
struct http_req;
struct http_resp;
struct l10n;
struct sc_account;

/* A decoded application/x-www-form-urlencoded body or query string, in order. */
struct sb_form {
	size_t n;
	char **keys;
	char **vals;
};

/* Decode s[0..len): '&'-separated pairs, '+' is a space, %XX escapes. A pair without '=' has an
 * empty value; empty pairs ("a=1&&b=2") are skipped. -1 on a bad escape, a decoded NUL byte, or
 * out of memory (f is then empty). Values are wiped when freed. */
int sb_form_parse(const char *s, size_t len, struct sb_form *f);
/* The value of key, or NULL. count: how many times key appears (may be NULL). */
const char *sb_form_get(const struct sb_form *f, const char *key, size_t *count);
void sb_form_free(struct sb_form *f);

/* Space-separated lists (scopes, account ids): skips the spaces at *p and returns the length of the
 * word that starts there, 0 at the end of the list. Walk a list with
 *   for (const char *w = list; (n = sb_next_word(&w)) != 0; w += n) */
size_t sb_next_word(const char **p);
/* word[0..wlen) (wlen > 0) is one of the words of list. */
bool sb_word_in(const char *list, const char *word, size_t wlen);

/* Media type of a Content-Type header value (parameters ignored, case-insensitive) equals type. */
bool sb_media_type_is(const char *content_type, const char *type);
/* The token of "Authorization: Bearer <token>" (scheme case-insensitive), copied into out; false
 * when missing, another scheme, empty, too long or not token68 characters. */
bool sb_bearer_token(const char *authorization, char *out, size_t outlen);
/* db_hash of that token (at most maxlen - 1 characters, maxlen <= 512) into h; the copy of the
 * token is wiped. false when there is none (sb_bearer_token). */
bool sb_bearer_hash(const char *authorization, size_t maxlen, char h[65]);
/* A 401 problem of the given type with WWW-Authenticate: Bearer error="invalid_token". */
void sb_token_problem(struct http_resp *resp, const char *type, const char *detail);

/* {"ja": ..., "en": ...} (en left out when NULL). */
cJSON *sb_l10n_json(const struct l10n *t);
/* An account as the protocol shows it: {"id", "branch": {"name", "code"}, "type", "number"}. */
cJSON *sb_account_json(const struct sc_account *a);

/* The issuer this request came to: "https://" + Host when Host names the listening address and
 * port (or "localhost" while listening on loopback, or any host while listening on a wildcard
 * address), else sb->issuer. */
void sb_request_issuer(const struct sandbox *sb, const struct http_req *req, char *out, size_t outlen);

/* Lowercase hex of n bytes into out (size >= 2n+1). */
void sb_hex(const unsigned char *in, size_t n, char *out);
/* "YYYY-MM-DD" of time t in the bank's zone (utc_offset minutes). */
void sb_date(long long t, int utc_offset_minutes, char out[11]);
/* "YYYY-MM-DDThh:mm:ss+09:00" of time t in the bank's zone. */
void sb_datetime(long long t, int utc_offset_minutes, char out[32]);

/* Wipe a malloc'd string (explicit_bzero) and free it; NULL is fine. */
void sb_wipe_free(char *s);

#endif
