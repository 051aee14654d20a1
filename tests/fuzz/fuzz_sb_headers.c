/* fuzz_sb_headers.c: libFuzzer target for the sandbox's request assembly from what arrives beside a
 * body: the Host header (the issuer it answers with), Authorization (Bearer session and access
 * tokens), the query string, and the client certificate: its DER as the TLS layer hands it over
 * (http_cert_fields: fingerprint, subject, serial) and those fields as a request carries them to
 * certificate login (scenario_customer_by_cert). Built-in demo scenario, state in memory.
 *
 * Input: byte 0 says which fields are present (bit i for field i; an absent field is NULL, a present
 * one may be empty), bit 6 takes the certificate fields from the DER when it parses, bit 7 marks the
 * certificate presented but not verified. Then the fields, each up to '\n': 0 Host, 1 Authorization
 * ("S" alone: the Bearer token of a fresh session in step login), 2 query, 3 subject, 4 serial,
 * 5 SHA-256; the rest is the certificate's DER.
 *
 * Each input: the issuer for that Host is https://HOST:PORT with nothing but host characters; the
 * Bearer parse and its hash agree; a parsed DER gives 64 hex digits, a hex serial and a subject; then
 * GET metadata, GET /v1/accounts?QUERY, GET /consent/v1/session and a certificate login through
 * http_dispatch answer 200..503 but never 500, with a JSON object whenever they say JSON.
 *
 * Seeds: tests/fuzz/corpus/sb_headers/. Run: build/fuzz/fuzz_sb_headers -max_total_time=60
 *        build/fuzz/corpus/fuzz_sb_headers tests/fuzz/corpus/sb_headers   (or: make fuzz) */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <gnutls/gnutls.h>

#include "consent.h"
#include "db.h"
#include "http.h"
#include "oauth.h"
#include "resource.h"
#include "sandbox.h"
#include "util.h"

#define NFIELDS 6

static struct sandbox S;
static bool ready;

static void die(const char *what, const char *err)
{
	fprintf(stderr, "fuzz_sb_headers: %s%s%s\n", what, err ? ": " : "", err ? err : "");
	abort();
}

static void init(void)
{
	static const struct http_route routes[] = {
		{"oauth", oauth_handle}, {"resource", resource_handle}, {"consent", consent_handle}};
	char err[512];

	S.sc = scenario_builtin(err, sizeof(err));
	if (!S.sc)
		die("scenario", err);
	if (db_open(&S.db, NULL, err, sizeof(err)) != 0)
		die("db_open", err);
	if (oauth_init(&S) != 0 || resource_init(&S) != 0 || consent_init(&S) != 0 ||
	    !http_set_routes(&S, routes, sizeof(routes) / sizeof(routes[0]), err, sizeof(err)))
		die("init", err);
	S.client_certs = true;
	strcpy(S.issuer, "https://127.0.0.1:8443");
	ready = true;
}

/* One dispatch; aborts on a 500, a status out of range, or a JSON answer that is not an object. The
 * answer's body is returned (caller frees) when keep. */
static char *dispatch(const struct http_req *r, bool keep)
{
	struct http_resp resp;
	char *body = NULL;

	memset(&resp, 0, sizeof(resp));
	http_dispatch(&S, r, &resp);
	if (resp.status < 200 || resp.status > 503 || resp.status == 500) {
		fprintf(stderr, "fuzz_sb_headers: %s %s answered %d: %.*s\n", r->method, r->path, resp.status,
			(int)resp.body_len, resp.body ? resp.body : "");
		abort();
	}
	if (resp.body && (!resp.content_type || strstr(resp.content_type, "json"))) {
		cJSON *j = cJSON_ParseWithLength(resp.body, resp.body_len);
		if (!cJSON_IsObject(j)) {
			fprintf(stderr, "fuzz_sb_headers: %s %s: not a JSON object: %.*s\n", r->method, r->path,
				(int)resp.body_len, resp.body);
			abort();
		}
		cJSON_Delete(j);
	}
	if (keep && resp.body)
		body = strndup(resp.body, resp.body_len);
	http_resp_free(&resp);
	return body;
}

/* The session token of a fresh consent session in step login ("" on failure). */
static void fresh_session(char *out, size_t outlen)
{
	struct http_req r;
	char *a, body[64];
	cJSON *j;

	out[0] = '\0';
	memset(&r, 0, sizeof(r));
	r.method = "POST";
	r.path = "/oauth/device_authorization";
	r.content_type = "application/x-www-form-urlencoded";
	r.body = "client_id=kakeibo-demo";
	r.body_len = strlen(r.body);
	r.peer_addr = "127.0.0.9";
	if (!(a = dispatch(&r, true)))
		return;
	j = cJSON_Parse(a);
	free(a);
	const cJSON *uc = cJSON_GetObjectItemCaseSensitive(j, "user_code");
	if (!cJSON_IsString(uc))
		die("device_authorization", "no user_code");
	snprintf(body, sizeof(body), "{\"user_code\":\"%s\"}", uc->valuestring);
	cJSON_Delete(j);
	r.path = "/consent/v1/sessions";
	r.content_type = "application/json";
	r.body = body;
	r.body_len = strlen(body);
	if (!(a = dispatch(&r, true)))
		return;
	j = cJSON_Parse(a);
	free(a);
	const cJSON *s = cJSON_GetObjectItemCaseSensitive(j, "session");
	if (cJSON_IsString(s))
		snprintf(out, outlen, "%s", s->valuestring);
	cJSON_Delete(j);
}

static bool is_hex(const char *s, size_t want)
{
	size_t n = strlen(s);

	if (want && n != want)
		return false;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return false;
	return n > 0;
}

static void check_issuer(const struct http_req *r)
{
	char out[300];

	sb_request_issuer(&S, r, out, sizeof(out));
	if (strncmp(out, "https://", 8) != 0)
		die("issuer without https://", out);
	for (const char *p = out + 8; *p; p++)
		if (*p <= ' ' || *p >= 0x7f || strchr("/?#@\\", *p))
			die("issuer with a character a host has not", out);
}

static void check_bearer(const char *authz)
{
	char tok[160], h[65], want[65];
	bool t = sb_bearer_token(authz, tok, sizeof(tok)), hh = sb_bearer_hash(authz, sizeof(tok) - 1, h);

	if (t != hh)
		die("sb_bearer_token and sb_bearer_hash disagree", authz);
	if (t) {
		db_hash(tok, want);
		if (strcmp(h, want) != 0)
			die("sb_bearer_hash is not the token's hash", authz);
	}
}

/* Split the input into its fields (NUL-terminated copies, NULL when absent) and the DER rest. */
static bool split(const uint8_t *data, size_t size, char *field[NFIELDS], const uint8_t **der, size_t *derlen)
{
	size_t o = 1;

	for (int i = 0; i < NFIELDS; i++) {
		const uint8_t *nl = o <= size ? memchr(data + o, '\n', size - o) : NULL;
		size_t n = nl ? (size_t)(nl - (data + o)) : size - o;
		field[i] = NULL;
		if (memchr(data + o, '\0', n))
			return false; /* no header holds a NUL */
		if (data[0] & (1u << i)) {
			if (!(field[i] = strndup((const char *)data + o, n)))
				return false;
		}
		o += n + (nl ? 1 : 0);
	}
	*der = data + o;
	*derlen = size - o;
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *field[NFIELDS] = {NULL}, auth[200], sha[65] = "", serial[129] = "", *subject = NULL;
	const uint8_t *der;
	size_t derlen;
	struct http_req r;

	if (size < 1 || size > 16384)
		return 0;
	if (!ready)
		init();
	if (!split(data, size, field, &der, &derlen))
		goto out;
	bool parsed = http_cert_fields(der, derlen, sha, &subject, serial);
	if (parsed && (!is_hex(sha, 64) || !is_hex(serial, 0) || !subject))
		die("certificate fields", sha);

	memset(&r, 0, sizeof(r));
	r.host = field[0];
	r.authorization = field[1];
	if (field[1] && strcmp(field[1], "S") == 0) {
		char tok[128];
		fresh_session(tok, sizeof(tok));
		snprintf(auth, sizeof(auth), "Bearer %s", tok);
		r.authorization = auth;
	}
	r.query = field[2];
	r.peer_addr = "127.0.0.1";
	if ((data[0] & 0x40) && parsed) {
		r.client_cert_sha256 = sha;
		r.client_cert_subject = subject;
		r.client_cert_serial = serial;
	} else if (field[5]) {
		r.client_cert_sha256 = field[5];
		r.client_cert_subject = field[3];
		r.client_cert_serial = field[4];
	}
	r.client_cert_present_but_invalid = (data[0] & 0x80) != 0;
	check_issuer(&r);
	check_bearer(r.authorization);
	(void)scenario_customer_by_cert(S.sc, r.client_cert_subject, r.client_cert_serial, r.client_cert_sha256);

	r.method = "GET";
	r.path = "/.well-known/oauth-authorization-server";
	free(dispatch(&r, false));
	r.path = "/v1/accounts";
	free(dispatch(&r, false));
	r.path = "/consent/v1/session";
	free(dispatch(&r, false));
	static const char login[] = "{\"method\":\"certificate\",\"password\":\"Kaede-2026\"}";
	r.method = "POST";
	r.path = "/consent/v1/session/login";
	r.content_type = "application/json";
	r.body = login;
	r.body_len = sizeof(login) - 1;
	free(dispatch(&r, false));
out:
	gnutls_free(subject);
	for (int i = 0; i < NFIELDS; i++)
		free(field[i]);
	return 0;
}
