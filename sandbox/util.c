/* util.c: small helpers shared by the sandbox's modules (see util.h), the clock and the user_code
 * normalization (sandbox.h). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "hexdigit.h"
#include "sandbox.h"
#include "util.h"

long long sandbox_now(void)
{
	struct timespec ts;

	/* Not time(): glibc reads the coarse clock, which can lag the log's CLOCK_REALTIME by a tick
	 * across a second boundary, so two polls 13 ms apart once counted as a second apart. */
	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec;
}

void sandbox_user_code_hash(const char *normalized, char out[65])
{
	db_hash(normalized, out);
}

bool sandbox_normalize_user_code(const struct scenario *sc, const char *in, char *out, size_t outlen)
{
	size_t n = 0;
	size_t want;

	if (!sc || !in || !out || outlen == 0 || sc->user_code_length <= 0 || !sc->user_code_charset)
		return false;
	want = (size_t)sc->user_code_length;
	if (outlen < want + 1) {
		out[0] = '\0';
		return false;
	}
	for (const char *p = in; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (c == '-' || c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f')
			continue;
		if (c >= 'a' && c <= 'z')
			c = (unsigned char)(c - 'a' + 'A');
		if (c >= 0x80 || !strchr(sc->user_code_charset, (int)c) || n >= want) {
			out[0] = '\0';
			return false;
		}
		out[n++] = (char)c;
	}
	out[n] = '\0';
	if (n != want) {
		out[0] = '\0';
		return false;
	}
	return true;
}

/* --- forms ---------------------------------------------------------------------------------- */

/* Decode s[0..len) into a new string; NULL on a bad escape or a NUL byte. */
static char *form_decode(const char *s, size_t len)
{
	char *out = malloc(len + 1);
	size_t o = 0;

	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		int c = (unsigned char)s[i];
		if (c == '+') {
			c = ' ';
		} else if (c == '%') {
			int h, l;
			if (i + 2 >= len || (h = hex_digit((unsigned char)s[i + 1])) < 0 ||
			    (l = hex_digit((unsigned char)s[i + 2])) < 0) {
				explicit_bzero(out, len + 1);
				free(out);
				return NULL;
			}
			c = h * 16 + l;
			i += 2;
		}
		if (c == 0) {
			explicit_bzero(out, len + 1);
			free(out);
			return NULL;
		}
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return out;
}

void sb_wipe_free(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

void sb_form_free(struct sb_form *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->n; i++) {
		sb_wipe_free(f->keys[i]);
		sb_wipe_free(f->vals[i]);
	}
	free(f->keys);
	free(f->vals);
	f->keys = f->vals = NULL;
	f->n = 0;
}

int sb_form_parse(const char *s, size_t len, struct sb_form *f)
{
	size_t cap = 0;

	f->n = 0;
	f->keys = f->vals = NULL;
	if (!s)
		return 0;
	size_t i = 0;
	while (i <= len) {
		size_t j = i;
		while (j < len && s[j] != '&')
			j++;
		if (j > i) {
			size_t eq = i;
			while (eq < j && s[eq] != '=')
				eq++;
			if (f->n == cap) {
				size_t ncap = cap ? cap * 2 : 8;
				char **k = realloc(f->keys, ncap * sizeof(*k));
				if (!k)
					goto fail;
				f->keys = k;
				char **v = realloc(f->vals, ncap * sizeof(*v));
				if (!v)
					goto fail;
				f->vals = v;
				cap = ncap;
			}
			char *key = form_decode(s + i, eq - i);
			if (!key)
				goto fail;
			char *val = eq < j ? form_decode(s + eq + 1, j - eq - 1) : strdup("");
			if (!val) {
				sb_wipe_free(key);
				goto fail;
			}
			f->keys[f->n] = key;
			f->vals[f->n] = val;
			f->n++;
		}
		i = j + 1;
	}
	return 0;
fail:
	sb_form_free(f);
	return -1;
}

const char *sb_form_get(const struct sb_form *f, const char *key, size_t *count)
{
	const char *first = NULL;
	size_t c = 0;

	for (size_t i = 0; f && i < f->n; i++) {
		if (strcmp(f->keys[i], key) == 0) {
			if (!first)
				first = f->vals[i];
			c++;
		}
	}
	if (count)
		*count = c;
	return first;
}

/* --- space-separated lists ---------------------------------------------------------------- */

size_t sb_next_word(const char **p)
{
	size_t n = 0;

	while (**p == ' ')
		(*p)++;
	while ((*p)[n] && (*p)[n] != ' ')
		n++;
	return n;
}

bool sb_word_in(const char *list, const char *word, size_t wlen)
{
	size_t n;

	for (const char *w = list; (n = sb_next_word(&w)) != 0; w += n)
		if (n == wlen && strncmp(w, word, n) == 0)
			return true;
	return false;
}

/* --- headers ------------------------------------------------------------------------------- */

bool sb_media_type_is(const char *content_type, const char *type)
{
	size_t n;

	if (!content_type || !type)
		return false;
	while (*content_type == ' ' || *content_type == '\t')
		content_type++;
	n = strlen(type);
	if (strncasecmp(content_type, type, n) != 0)
		return false;
	content_type += n;
	while (*content_type == ' ' || *content_type == '\t')
		content_type++;
	return *content_type == '\0' || *content_type == ';';
}

static bool is_b64token_char(int c)
{
	return isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/';
}

bool sb_bearer_token(const char *authorization, char *out, size_t outlen)
{
	const char *p;
	size_t n = 0;

	if (outlen)
		out[0] = '\0';
	if (!authorization || strncasecmp(authorization, "Bearer", 6) != 0)
		return false;
	p = authorization + 6;
	if (*p != ' ')
		return false;
	while (*p == ' ')
		p++;
	while (p[n] && p[n] != ' ' && p[n] != '\t')
		n++;
	const char *q = p + n;
	while (*q == ' ' || *q == '\t')
		q++;
	if (n == 0 || *q != '\0' || n + 1 > outlen)
		return false;
	size_t i = 0;
	while (i < n && is_b64token_char((unsigned char)p[i]))
		i++;
	while (i < n && p[i] == '=')
		i++;
	if (i != n)
		return false;
	memcpy(out, p, n);
	out[n] = '\0';
	return true;
}

bool sb_bearer_hash(const char *authorization, size_t maxlen, char h[65])
{
	char tok[512];

	if (maxlen > sizeof(tok) || !sb_bearer_token(authorization, tok, maxlen))
		return false;
	db_hash(tok, h);
	explicit_bzero(tok, sizeof(tok));
	return true;
}

void sb_token_problem(struct http_resp *resp, const char *type, const char *detail)
{
	http_problem(resp, 401, type, detail, NULL);
	http_header(resp, "WWW-Authenticate", "Bearer error=\"invalid_token\"");
}

/* --- JSON, issuer, time ------------------------------------------------------------------- */

cJSON *sb_l10n_json(const struct l10n *t)
{
	cJSON *o = cJSON_CreateObject();

	if (!o)
		return NULL;
	cJSON_AddStringToObject(o, "ja", t && t->ja ? t->ja : "");
	if (t && t->en)
		cJSON_AddStringToObject(o, "en", t->en);
	return o;
}

cJSON *sb_account_json(const struct sc_account *a)
{
	cJSON *o = cJSON_CreateObject(), *b;

	cJSON_AddStringToObject(o, "id", a->id);
	b = cJSON_AddObjectToObject(o, "branch");
	cJSON_AddItemToObject(b, "name", sb_l10n_json(&a->branch_name));
	cJSON_AddStringToObject(b, "code", a->branch_code);
	cJSON_AddStringToObject(o, "type", a->type);
	cJSON_AddStringToObject(o, "number", a->number);
	return o;
}

/* Split "HOST:PORT" / "[V6]:PORT" (no scheme) into host (without brackets) and port; false if bad. */
static bool split_hostport(const char *s, char *host, size_t hostlen, long *port)
{
	const char *end;
	size_t n;

	if (*s == '[') {
		end = strchr(s, ']');
		if (!end)
			return false;
		n = (size_t)(end - s - 1);
		s++;
		end++;
	} else {
		end = strrchr(s, ':');
		if (!end)
			end = s + strlen(s);
		n = (size_t)(end - s);
	}
	if (n == 0 || n >= hostlen)
		return false;
	memcpy(host, s, n);
	host[n] = '\0';
	if (*end == '\0') {
		*port = 443;
		return true;
	}
	if (*end != ':' || !end[1])
		return false;
	char *stop;
	*port = strtol(end + 1, &stop, 10);
	return *stop == '\0' && *port > 0 && *port <= 65535 && isdigit((unsigned char)end[1]);
}

static bool host_chars_ok(const char *h)
{
	for (; *h; h++) {
		int c = (unsigned char)*h;
		if (!(isalnum(c) || c == '-' || c == '.' || c == ':'))
			return false;
	}
	return true;
}

void sb_request_issuer(const struct sandbox *sb, const struct http_req *req, char *out, size_t outlen)
{
	char lhost[128], rhost[128];
	long lport, rport;
	const char *listen = sb->issuer;

	snprintf(out, outlen, "%s", sb->issuer);
	if (!req || !req->host || strncmp(listen, "https://", 8) != 0)
		return;
	if (!split_hostport(listen + 8, lhost, sizeof(lhost), &lport) ||
	    !split_hostport(req->host, rhost, sizeof(rhost), &rport) || !host_chars_ok(rhost))
		return;
	if (rport != lport)
		return;
	bool wildcard = strcmp(lhost, "0.0.0.0") == 0 || strcmp(lhost, "::") == 0;
	bool loopback = strncmp(lhost, "127.", 4) == 0 || strcmp(lhost, "::1") == 0 ||
			strcasecmp(lhost, "localhost") == 0;
	if (strcasecmp(rhost, lhost) == 0 || wildcard || (loopback && strcasecmp(rhost, "localhost") == 0)) {
		char lower[128];
		size_t i;
		for (i = 0; rhost[i]; i++)
			lower[i] = (char)tolower((unsigned char)rhost[i]);
		lower[i] = '\0';
		if (strchr(lower, ':'))
			snprintf(out, outlen, "https://[%s]:%ld", lower, rport);
		else
			snprintf(out, outlen, "https://%s:%ld", lower, rport);
	}
}

void sb_hex(const unsigned char *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

static void bank_tm(long long t, int off, struct tm *tm)
{
	time_t local = (time_t)(t + (long long)off * 60);

	gmtime_r(&local, tm);
}

void sb_date(long long t, int utc_offset_minutes, char out[11])
{
	struct tm tm;

	char buf[48];

	bank_tm(t, utc_offset_minutes, &tm);
	snprintf(buf, sizeof(buf), "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
	snprintf(out, 11, "%.10s", buf);
}

void sb_datetime(long long t, int utc_offset_minutes, char out[32])
{
	struct tm tm;
	int off = utc_offset_minutes;
	char sign = off < 0 ? '-' : '+';

	if (off < 0)
		off = -off;
	char buf[96];

	bank_tm(t, utc_offset_minutes, &tm);
	snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d%c%02d:%02d", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, sign, off / 60, off % 60);
	snprintf(out, 32, "%.31s", buf);
}
