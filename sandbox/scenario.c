/* scenario.c: the scenario file (docs/scenario.md): strict JSON validation into struct scenario, the
 * built-in demo, lookups. Every error is "path: what is wrong"; nothing is half-loaded. */
#include "scenario.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "embedded.h"
#include "fault.h"

#define SCENARIO_FILE_MAX (4u * 1024 * 1024)
#define SCENARIO_VERSION 1
#define ID_MAX 64         /* ids, client_ids, login ids, scope ids */
#define NAME_MAX_CHARS 100
#define TERMS_MAX_CHARS 20000
#define SCOPES_MAX 32     /* the consent endpoints take at most 32 scopes per request */
#define SCOPE_ID_MAX 32
#define PARTNERS_MAX 1000  /* each carries its own copy of the terms */
#define ANSWER_MAX_CHARS 64
#define PASSWORD_MAX 128
#define MEMO_MAX_CHARS 64

/* --- parse context: the JSON path of the member being read, the first error ------------------ */

struct ctx {
	char path[512];
	size_t plen;
	char *err;
	size_t errlen;
	bool failed;
};

#if defined(__GNUC__)
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#else
#define PRINTF_LIKE(f, a)
#endif

PRINTF_LIKE(2, 0) static bool vfail(struct ctx *c, const char *fmt, va_list ap)
{
	char msg[512];

	if (c->failed)
		return false;
	c->failed = true;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (c->err && c->errlen)
		snprintf(c->err, c->errlen, "%s: %s", c->plen ? c->path : "(top level)", msg);
	return false;
}

/* Record the first error, at the current path; always false. */
PRINTF_LIKE(2, 3) static bool fail(struct ctx *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail(c, fmt, ap);
	va_end(ap);
	return false;
}

static size_t push(struct ctx *c, const char *name)
{
	size_t saved = c->plen;
	int n = snprintf(c->path + c->plen, sizeof(c->path) - c->plen, "%s%s", c->plen ? "." : "", name);
	if (n > 0)
		c->plen = c->plen + (size_t)n < sizeof(c->path) ? c->plen + (size_t)n : sizeof(c->path) - 1;
	return saved;
}

/* fail() at the member name of the current path (a member read and found wrong afterwards). */
PRINTF_LIKE(3, 4) static bool fail_at(struct ctx *c, const char *name, const char *fmt, ...)
{
	va_list ap;

	push(c, name);
	va_start(ap, fmt);
	vfail(c, fmt, ap);
	va_end(ap);
	return false;
}

static size_t pushi(struct ctx *c, size_t i)
{
	size_t saved = c->plen;
	int n = snprintf(c->path + c->plen, sizeof(c->path) - c->plen, "[%zu]", i);
	if (n > 0)
		c->plen = c->plen + (size_t)n < sizeof(c->path) ? c->plen + (size_t)n : sizeof(c->path) - 1;
	return saved;
}

static void pop(struct ctx *c, size_t saved)
{
	c->plen = saved;
	c->path[saved] = '\0';
}

/* --- small helpers ------------------------------------------------------------------------------ */

static char *xstrdup(struct ctx *c, const char *s)
{
	char *d = strdup(s);
	if (!d)
		fail(c, "out of memory");
	return d;
}

static void *xcalloc(struct ctx *c, size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);
	if (!p)
		fail(c, "out of memory");
	return p;
}

static void wipe_free(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

/* Valid UTF-8 (no overlongs, surrogates or code points past U+10FFFF), no control characters
 * (newline allowed when multiline). Returns the number of characters, or -1 (bad UTF-8) or
 * -2 (a control character). */
static long utf8_check(const char *s, bool multiline)
{
	const unsigned char *p = (const unsigned char *)s;
	long n = 0;

	while (*p) {
		uint32_t cp;
		int more;
		if (*p < 0x80) {
			cp = *p;
			more = 0;
		} else if ((*p & 0xe0) == 0xc0) {
			cp = *p & 0x1f;
			more = 1;
		} else if ((*p & 0xf0) == 0xe0) {
			cp = *p & 0x0f;
			more = 2;
		} else if ((*p & 0xf8) == 0xf0) {
			cp = *p & 0x07;
			more = 3;
		} else {
			return -1;
		}
		p++;
		for (int i = 0; i < more; i++, p++) {
			if ((*p & 0xc0) != 0x80)
				return -1;
			cp = (cp << 6) | (*p & 0x3f);
		}
		if ((more == 1 && cp < 0x80) || (more == 2 && cp < 0x800) || (more == 3 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return -1;
		if ((cp < 0x20 && !(multiline && cp == '\n')) || (cp >= 0x7f && cp <= 0x9f))
			return -2;
		n++;
	}
	return n;
}

static bool all_in(const char *s, const char *set)
{
	for (; *s; s++)
		if (!strchr(set, *s))
			return false;
	return true;
}

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/* Append item to the comma-separated list in buf[size] that is o bytes long (", " before every item
 * but the first; items are never empty); returns the new length, >= size once truncated. */
static size_t list_append(char *buf, size_t size, size_t o, const char *item)
{
	if (o >= size)
		return o;
	int n = snprintf(buf + o, size - o, "%s%s", o ? ", " : "", item);
	return n < 0 ? size : o + (size_t)n;
}

#define ID_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-"
#define HEX_CHARS "0123456789abcdefABCDEF"

static const char *type_name(const cJSON *v)
{
	if (cJSON_IsString(v))
		return "a string";
	if (cJSON_IsNumber(v))
		return "a number";
	if (cJSON_IsBool(v))
		return "true/false";
	if (cJSON_IsNull(v))
		return "null";
	if (cJSON_IsArray(v))
		return "an array";
	return "an object";
}

/* --- members ------------------------------------------------------------------------------------ */

static bool is_comment_value(const cJSON *v)
{
	if (cJSON_IsString(v))
		return true;
	if (!cJSON_IsArray(v))
		return false;
	for (const cJSON *e = v->child; e; e = e->next)
		if (!cJSON_IsString(e))
			return false;
	return true;
}

/* obj is an object whose members are all in allowed (NULL-terminated) or "comment", each once. */
static bool check_object(struct ctx *c, const cJSON *obj, const char *const *allowed)
{
	if (!cJSON_IsObject(obj))
		return fail(c, "must be an object, not %s", type_name(obj));
	for (const cJSON *m = obj->child; m; m = m->next) {
		bool known = strcmp(m->string, "comment") == 0;
		for (size_t i = 0; !known && allowed[i]; i++)
			known = strcmp(m->string, allowed[i]) == 0;
		size_t s = push(c, m->string);
		if (!known) {
			char list[256] = "";
			for (size_t i = 0, o = 0; allowed[i]; i++)
				o = list_append(list, sizeof(list), o, allowed[i]);
			return fail(c, "unknown member (expected one of: %s)", list);
		}
		for (const cJSON *p = obj->child; p != m; p = p->next)
			if (strcmp(p->string, m->string) == 0)
				return fail(c, "duplicate member");
		if (strcmp(m->string, "comment") == 0 && !is_comment_value(m))
			return fail(c, "must be a string or an array of strings");
		pop(c, s);
	}
	return true;
}

static const cJSON *member(const cJSON *obj, const char *name)
{
	return cJSON_GetObjectItemCaseSensitive(obj, name);
}

/* Look up the member name of obj. 1: found (*v), the path pushed to it (pop to *saved); 0: missing
 * and optional (the path unchanged); -1: missing and required (the error is set). */
static int find_member(struct ctx *c, const cJSON *obj, const char *name, bool required, const cJSON **v,
		       size_t *saved)
{
	*v = member(obj, name);
	*saved = c->plen;
	if (!*v && !required)
		return 0;
	push(c, name);
	if (!*v) {
		fail(c, "is required");
		return -1;
	}
	return 1;
}

/* An optional object member (path pushed, pop to *saved) with only allowed members; a missing one
 * reads as {}, so that every member of it takes its default. NULL after an error. */
static const cJSON *optional_object(struct ctx *c, const cJSON *obj, const char *name,
				    const char *const *allowed, size_t *saved)
{
	static const cJSON empty = {.type = cJSON_Object};
	const cJSON *v = member(obj, name);

	*saved = push(c, name);
	if (!v)
		v = &empty;
	return check_object(c, v, allowed) ? v : NULL;
}

/* The error for a text of n characters (utf8_check) and at most max_chars; ctrl: the message for a
 * control character. */
static bool check_chars(struct ctx *c, long n, long max_chars, const char *ctrl)
{
	if (n == -1)
		return fail(c, "is not valid UTF-8");
	if (n == -2)
		return fail(c, "%s", ctrl);
	if (n == 0)
		return fail(c, "must not be empty");
	if (n > max_chars)
		return fail(c, "is too long (at most %ld characters)", max_chars);
	return true;
}

enum str_kind {
	STR_TEXT,     /* any UTF-8 text without control characters */
	STR_ID,       /* A-Z a-z 0-9 . _ - */
	STR_PRINTABLE /* printable ASCII, no space */
};

/* A string member: required (missing -> error) or optional (missing -> *out stays NULL). No error
 * message shows the value (it may be a password, an answer or a PIN). */
static bool get_str(struct ctx *c, const cJSON *obj, const char *name, bool required, enum str_kind kind,
		    long max_chars, char **out)
{
	const cJSON *v;
	size_t s;
	int found = find_member(c, obj, name, required, &v, &s);
	long n;

	*out = NULL;
	if (found <= 0)
		return found == 0;
	if (!cJSON_IsString(v))
		return fail(c, "must be a string, not %s", type_name(v));
	n = utf8_check(v->valuestring, false);
	if (!check_chars(c, n, max_chars, "must not contain control characters"))
		return false;
	if (kind == STR_ID && !all_in(v->valuestring, ID_CHARS))
		return fail(c, "may only contain A-Z a-z 0-9 . _ -");
	if (kind == STR_PRINTABLE) {
		for (const char *p = v->valuestring; *p; p++)
			if (*p <= ' ' || *p > '~')
				return fail(c, "may only contain printable ASCII characters without spaces");
	}
	*out = xstrdup(c, v->valuestring);
	if (!*out)
		return false;
	pop(c, s);
	return true;
}

static bool get_int(struct ctx *c, const cJSON *obj, const char *name, bool required, int def, int min, int max,
		    int *out)
{
	const cJSON *v;
	size_t s;
	int found = find_member(c, obj, name, required, &v, &s);

	if (found < 0)
		return false;
	if (found == 0) {
		*out = def;
		return true;
	}
	if (!cJSON_IsNumber(v) || v->valuedouble != v->valuedouble || v->valuedouble < (double)INT_MIN ||
	    v->valuedouble > (double)INT_MAX || v->valuedouble != (double)(long long)v->valuedouble)
		return fail(c, "must be an integer, not %s", cJSON_IsNumber(v) ? "a fraction" : type_name(v));
	if (v->valuedouble < min || v->valuedouble > max)
		return fail(c, "must be between %d and %d", min, max);
	*out = (int)v->valuedouble;
	pop(c, s);
	return true;
}

static bool get_bool(struct ctx *c, const cJSON *obj, const char *name, bool def, bool *out)
{
	const cJSON *v;
	size_t s;

	*out = def;
	if (!find_member(c, obj, name, false, &v, &s))
		return true;
	if (!cJSON_IsBool(v))
		return fail(c, "must be true or false, not %s", type_name(v));
	*out = cJSON_IsTrue(v);
	pop(c, s);
	return true;
}

/* An array member; missing -> *out NULL (error when required); min, max: fewest and most elements
 * (too many: "has more than MAX NAME"). */
static bool get_array(struct ctx *c, const cJSON *obj, const char *name, bool required, int min, size_t max,
		      const cJSON **out, size_t *n)
{
	const cJSON *v;
	size_t s;
	int found = find_member(c, obj, name, required, &v, &s);

	*out = NULL;
	*n = 0;
	if (found <= 0)
		return found == 0;
	if (!cJSON_IsArray(v))
		return fail(c, "must be an array, not %s", type_name(v));
	*n = (size_t)cJSON_GetArraySize(v);
	if (*n < (size_t)min)
		return fail(c, min == 1 ? "must not be empty" : "must have at least %d elements", min);
	if (*n > max)
		return fail(c, "has more than %zu %s", max, name);
	*out = v;
	pop(c, s);
	return true;
}

/* One language of a text: a string, or an array of strings (lines joined with newlines). */
static bool text_value(struct ctx *c, const cJSON *v, bool multiline, long max_chars, char **out)
{
	long n;

	*out = NULL;
	if (cJSON_IsString(v)) {
		n = utf8_check(v->valuestring, multiline);
		if (n == -2 && !multiline && utf8_check(v->valuestring, true) >= 0)
			return fail(c, "must be one line (no newline)");
		if (!check_chars(c, n, max_chars, "must not contain control characters other than newlines"))
			return false;
		*out = xstrdup(c, v->valuestring);
		return *out != NULL;
	}
	if (cJSON_IsArray(v) && multiline) {
		size_t len = 0, i = 0;
		long total = 0;
		if (!v->child)
			return fail(c, "must not be empty");
		for (const cJSON *e = v->child; e; e = e->next, i++) {
			size_t s = pushi(c, i);
			if (!cJSON_IsString(e))
				return fail(c, "must be a string, not %s", type_name(e));
			n = utf8_check(e->valuestring, false);
			if (n == -1)
				return fail(c, "is not valid UTF-8");
			if (n == -2)
				return fail(c, "must not contain control characters (one array element is one line)");
			total += n + 1;
			if (total > max_chars + 1)
				return fail(c, "makes the text too long (at most %ld characters)", max_chars);
			len += strlen(e->valuestring) + 1;
			pop(c, s);
		}
		if (total <= (long)i)
			return fail(c, "must not be empty");
		char *buf = xcalloc(c, len, 1), *p = buf;
		if (!buf)
			return false;
		for (const cJSON *e = v->child; e; e = e->next) {
			size_t l = strlen(e->valuestring);
			memcpy(p, e->valuestring, l);
			p += l;
			*p++ = e->next ? '\n' : '\0';
		}
		*out = buf;
		return true;
	}
	return fail(c, multiline ? "must be a string or an array of strings (lines), not %s"
				 : "must be a string, not %s",
		    type_name(v));
}

/* A localized text member: "text" (Japanese only), ["line", ...] (multiline only) or
 * {"ja": ..., "en": ...} with ja required. */
static bool get_l10n(struct ctx *c, const cJSON *obj, const char *name, bool required, bool multiline,
		     long max_chars, struct l10n *out)
{
	static const char *const members[] = {"ja", "en", NULL};
	const cJSON *v;
	size_t s;
	int found = find_member(c, obj, name, required, &v, &s);

	if (found <= 0)
		return found == 0;
	if (cJSON_IsObject(v)) {
		const cJSON *ja = member(v, "ja"), *en = member(v, "en");
		size_t s2;
		if (!check_object(c, v, members))
			return false;
		s2 = push(c, "ja");
		if (!ja)
			return fail(c, "is required (the Japanese text)");
		if (!text_value(c, ja, multiline, max_chars, &out->ja))
			return false;
		pop(c, s2);
		if (en && !cJSON_IsNull(en)) {
			s2 = push(c, "en");
			if (!text_value(c, en, multiline, max_chars, &out->en))
				return false;
			pop(c, s2);
		}
	} else if (cJSON_IsString(v) || (multiline && cJSON_IsArray(v))) {
		if (!text_value(c, v, multiline, max_chars, &out->ja))
			return false;
	} else {
		return fail(c, "must be a text: a string%s, or {\"ja\": ..., \"en\": ...}; not %s",
			    multiline ? ", an array of strings (lines)" : "", type_name(v));
	}
	pop(c, s);
	return true;
}

static void l10n_free(struct l10n *t)
{
	free(t->ja);
	free(t->en);
	t->ja = t->en = NULL;
}

/* --- the parts of a scenario -------------------------------------------------------------------- */

static bool parse_device(struct ctx *c, const cJSON *root, struct scenario *sc)
{
	static const char *const members[] = {"expires_in", "interval", "user_code_charset", "user_code_length",
					      NULL};
	size_t s;
	const cJSON *d = optional_object(c, root, "device", members, &s);

	if (!d || !get_int(c, d, "expires_in", false, 600, 1, 86400, &sc->expires_in) ||
	    !get_int(c, d, "interval", false, 5, 1, 3600, &sc->interval) ||
	    !get_int(c, d, "user_code_length", false, 8, 4, 32, &sc->user_code_length) ||
	    !get_str(c, d, "user_code_charset", false, STR_TEXT, 36, &sc->user_code_charset))
		return false;
	if (!sc->user_code_charset) {
		sc->user_code_charset = xstrdup(c, "BCDFGHJKLMNPQRSTVWXZ");
		if (!sc->user_code_charset)
			return false;
	} else {
		const char *cs = sc->user_code_charset;
		size_t s2 = push(c, "user_code_charset");
		if (!all_in(cs, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"))
			return fail(c, "may only contain upper-case letters A-Z and digits 0-9");
		for (size_t i = 0; cs[i]; i++)
			if (strchr(cs + i + 1, cs[i]))
				return fail(c, "has '%c' twice", cs[i]);
		if (strlen(cs) < 2)
			return fail(c, "must have at least 2 characters");
		pop(c, s2);
	}
	pop(c, s);
	return true;
}

static bool parse_limits(struct ctx *c, const cJSON *root, struct scenario *sc)
{
	static const char *const members[] = {"wrong_codes", "wrong_codes_window", "password_tries", "answer_tries",
					      "pin_tries", "pin_length", "session_idle_seconds", "access_token_ttl",
					      "wrong_codes_global", "lock_seconds", "session_login_tries", "address_login_tries",
					      "address_login_window", "keep_ended_seconds", NULL};
	size_t s;
	const cJSON *l = optional_object(c, root, "limits", members, &s);

	if (!l || !get_int(c, l, "wrong_codes", false, 5, 0, 1000, &sc->rate_limit_codes) ||
	    !get_int(c, l, "wrong_codes_window", false, 60, 1, 86400, &sc->rate_limit_window) ||
	    !get_int(c, l, "wrong_codes_global", false, 1000, 0, 1000000, &sc->rate_limit_codes_global) ||
	    !get_int(c, l, "password_tries", false, 3, 1, 100, &sc->password_tries) ||
	    !get_int(c, l, "answer_tries", false, 3, 1, 100, &sc->answer_tries) ||
	    !get_int(c, l, "pin_tries", false, 3, 1, 100, &sc->pin_tries) ||
	    !get_int(c, l, "pin_length", false, 4, 4, 16, &sc->pin_length) ||
	    !get_int(c, l, "session_idle_seconds", false, 600, 1, 86400, &sc->session_idle_seconds) ||
	    !get_int(c, l, "access_token_ttl", false, 3600, 1, 86400, &sc->access_token_ttl) ||
	    !get_int(c, l, "lock_seconds", false, 1800, 0, 31536000, &sc->lock_seconds) ||
	    !get_int(c, l, "session_login_tries", false, 5, 1, 1000, &sc->session_login_tries) ||
	    !get_int(c, l, "address_login_tries", false, 20, 0, 100000, &sc->address_login_tries) ||
	    !get_int(c, l, "address_login_window", false, 300, 1, 86400, &sc->address_login_window) ||
	    !get_int(c, l, "keep_ended_seconds", false, 86400, 1, 31536000, &sc->keep_ended_seconds))
		return false;
	pop(c, s);
	return true;
}

static bool parse_scopes(struct ctx *c, const cJSON *root, struct scenario *sc)
{
	static const char *const members[] = {"id", "name", NULL};
	const cJSON *arr, *e;
	size_t n, i = 0, s;

	if (!get_array(c, root, "scopes", true, 1, SCOPES_MAX, &arr, &n))
		return false;
	s = push(c, "scopes");
	sc->scopes = xcalloc(c, n, sizeof(*sc->scopes));
	if (!sc->scopes)
		return false;
	sc->nscopes = n;
	for (e = arr->child; e; e = e->next, i++) {
		struct sc_scope *sp = &sc->scopes[i];
		size_t s2 = pushi(c, i);
		if (!check_object(c, e, members) || !get_str(c, e, "id", true, STR_ID, SCOPE_ID_MAX, &sp->id) ||
		    !get_l10n(c, e, "name", true, false, NAME_MAX_CHARS, &sp->name))
			return false;
		for (size_t j = 0; j < i; j++)
			if (strcmp(sc->scopes[j].id, sp->id) == 0)
				return fail_at(c, "id", "duplicate scope id \"%s\" (also scopes[%zu])", sp->id, j);
		pop(c, s2);
	}
	pop(c, s);
	return true;
}

static bool parse_partner(struct ctx *c, const cJSON *e, struct scenario *sc, struct sc_partner *p)
{
	static const char *const members[] = {"client_id", "name", "scopes", "scope_choice", "period_days",
					      "terms", NULL};
	const cJSON *arr, *x;
	size_t n, i = 0, s;

	if (!check_object(c, e, members) || !get_str(c, e, "client_id", true, STR_ID, ID_MAX, &p->client_id) ||
	    !get_l10n(c, e, "name", true, false, NAME_MAX_CHARS, &p->name) ||
	    !get_bool(c, e, "scope_choice", false, &p->scope_choice) ||
	    !get_int(c, e, "period_days", true, 0, 1, 3660, &p->period_days) ||
	    !get_l10n(c, e, "terms", false, true, TERMS_MAX_CHARS, &p->terms) ||
	    !get_array(c, e, "scopes", false, 1, SCOPES_MAX, &arr, &n))
		return false;
	if (!arr) { /* every scope of the scenario */
		p->scopes = xcalloc(c, sc->nscopes, sizeof(char *));
		if (!p->scopes)
			return false;
		for (i = 0; i < sc->nscopes; i++) {
			p->scopes[i] = xstrdup(c, sc->scopes[i].id);
			if (!p->scopes[i])
				return false;
			p->nscopes = i + 1;
		}
		return true;
	}
	s = push(c, "scopes");
	p->scopes = xcalloc(c, n, sizeof(char *));
	if (!p->scopes)
		return false;
	for (x = arr->child; x; x = x->next, i++) {
		size_t s2 = pushi(c, i);
		if (!cJSON_IsString(x))
			return fail(c, "must be a scope id (a string), not %s", type_name(x));
		if (!scenario_scope(sc, x->valuestring)) {
			char list[256] = "";
			for (size_t k = 0, o = 0; k < sc->nscopes; k++)
				o = list_append(list, sizeof(list), o, sc->scopes[k].id);
			return fail(c, "unknown scope \"%.64s\" (the scenario's scopes: %s)", x->valuestring, list);
		}
		for (size_t j = 0; j < i; j++)
			if (strcmp(p->scopes[j], x->valuestring) == 0)
				return fail(c, "scope \"%s\" listed twice", x->valuestring);
		p->scopes[i] = xstrdup(c, x->valuestring);
		if (!p->scopes[i])
			return false;
		p->nscopes = i + 1;
		pop(c, s2);
	}
	pop(c, s);
	return true;
}

/* "{partner}" in a text becomes the partner's name (ja or en). */
static char *fill_partner(struct ctx *c, const char *text, const char *name)
{
	static const char key[] = "{partner}";
	size_t count = 0, len = strlen(text), nlen = strlen(name);
	const char *p;
	char *out, *o;

	for (p = text; (p = strstr(p, key)); p += sizeof(key) - 1)
		count++;
	out = xcalloc(c, len + count * nlen + 1, 1);
	if (!out)
		return NULL;
	for (o = out, p = text; *p;) {
		if (strncmp(p, key, sizeof(key) - 1) == 0) {
			memcpy(o, name, nlen);
			o += nlen;
			p += sizeof(key) - 1;
		} else {
			*o++ = *p++;
		}
	}
	*o = '\0';
	return out;
}

static bool parse_partners(struct ctx *c, const cJSON *root, struct scenario *sc)
{
	const cJSON *arr, *e;
	size_t n, i = 0, s;

	if (!get_array(c, root, "partners", true, 1, PARTNERS_MAX, &arr, &n))
		return false;
	s = push(c, "partners");
	sc->partners = xcalloc(c, n, sizeof(*sc->partners));
	if (!sc->partners)
		return false;
	sc->npartners = n;
	for (e = arr->child; e; e = e->next, i++) {
		struct sc_partner *p = &sc->partners[i];
		size_t s2 = pushi(c, i);
		if (!parse_partner(c, e, sc, p))
			return false;
		for (size_t j = 0; j < i; j++)
			if (strcmp(sc->partners[j].client_id, p->client_id) == 0)
				return fail_at(c, "client_id", "duplicate client_id \"%s\" (also partners[%zu])",
					       p->client_id, j);
		/* Every partner ends up with its own terms: its "terms", else the scenario's. */
		const struct l10n *src = p->terms.ja ? &p->terms : &sc->terms;
		struct l10n t = {0};
		t.ja = fill_partner(c, src->ja, p->name.ja);
		if (t.ja && src->en)
			t.en = fill_partner(c, src->en, p->name.en ? p->name.en : p->name.ja);
		if (!t.ja || (src->en && !t.en)) {
			l10n_free(&t);
			return false;
		}
		l10n_free(&p->terms);
		p->terms = t;
		pop(c, s2);
	}
	pop(c, s);
	return true;
}

static bool valid_date(const char *s)
{
	static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int y, m, d;

	if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return false;
	for (int i = 0; i < 10; i++)
		if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
			return false;
	y = atoi(s);
	m = atoi(s + 5);
	d = atoi(s + 8);
	if (y < 1900 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
		return false;
	if (m == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return false;
	return true;
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)? */
static bool valid_amount(const char *s)
{
	const char *p = s;
	if (*p == '-')
		p++;
	if (*p == '0')
		p++;
	else if (*p >= '1' && *p <= '9')
		while (*p >= '0' && *p <= '9')
			p++;
	else
		return false;
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return false;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	return *p == '\0' && strcmp(s, "-0") != 0 && strlen(s) <= 30;
}

/* An amount: a decimal string, or an integer number (written out as a string). */
static bool get_amount(struct ctx *c, const cJSON *obj, char **out)
{
	const cJSON *v;
	size_t s;
	char buf[64];

	*out = NULL;
	if (find_member(c, obj, "amount", true, &v, &s) < 0)
		return false;
	if (cJSON_IsNumber(v)) {
		if (v->valuedouble > 1e15 || v->valuedouble < -1e15 ||
		    v->valuedouble != (double)(long long)v->valuedouble)
			return fail(c, "must be a whole number here; write fractions as a string, e.g. \"12.50\"");
		snprintf(buf, sizeof(buf), "%lld", (long long)v->valuedouble);
	} else if (cJSON_IsString(v)) {
		if (!valid_amount(v->valuestring))
			return fail(c, "must be a decimal amount like \"-5400\" or \"12.50\"");
		snprintf(buf, sizeof(buf), "%s", v->valuestring);
	} else {
		return fail(c, "must be a decimal amount (a string like \"-5400\" or a whole number), not %s",
			    type_name(v));
	}
	*out = xstrdup(c, buf);
	if (!*out)
		return false;
	pop(c, s);
	return true;
}

static bool get_currency(struct ctx *c, const cJSON *obj, char **out)
{
	if (!get_str(c, obj, "currency", false, STR_TEXT, 16, out))
		return false;
	if (!*out)
		return (*out = xstrdup(c, "JPY")) != NULL;
	if (strlen(*out) != 3 || !all_in(*out, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
		return fail_at(c, "currency", "must be 3 upper-case letters (ISO 4217, e.g. \"JPY\")");
	return true;
}

static bool parse_account(struct ctx *c, const cJSON *e, const struct scenario *sc, struct sc_account *a)
{
	static const char *const members[] = {"id", "branch", "type", "number", "memo", "pin", "registered",
					      "balances", "transactions", NULL};
	static const char *const branch_members[] = {"name", "code", NULL};
	static const char *const bal_members[] = {"type", "amount", "currency", NULL};
	static const char *const tx_members[] = {"date", "amount", "currency", "description", NULL};
	const cJSON *b, *arr, *x;
	size_t n, i, s;

	if (!check_object(c, e, members) || !get_str(c, e, "id", true, STR_ID, ID_MAX, &a->id))
		return false;

	if (find_member(c, e, "branch", true, &b, &s) < 0 || !check_object(c, b, branch_members) ||
	    !get_l10n(c, b, "name", true, false, NAME_MAX_CHARS, &a->branch_name) ||
	    !get_str(c, b, "code", true, STR_TEXT, 16, &a->branch_code))
		return false;
	if (strlen(a->branch_code) != 3 || !all_digits(a->branch_code))
		return fail_at(c, "code", "must be 3 digits");
	pop(c, s);

	if (!get_str(c, e, "type", false, STR_TEXT, 16, &a->type))
		return false;
	if (!a->type) {
		if (!(a->type = xstrdup(c, "ordinary")))
			return false;
	} else if (strcmp(a->type, "ordinary") && strcmp(a->type, "current") && strcmp(a->type, "savings")) {
		return fail_at(c, "type", "must be one of: ordinary, current, savings");
	}

	if (!get_str(c, e, "number", true, STR_TEXT, 14, &a->number))
		return false;
	if (!all_digits(a->number))
		return fail_at(c, "number", "must be digits only");

	x = member(e, "memo");
	if (x && !cJSON_IsNull(x) && !get_str(c, e, "memo", false, STR_TEXT, MEMO_MAX_CHARS, &a->memo))
		return false;

	if (!get_str(c, e, "pin", true, STR_TEXT, 64, &a->pin))
		return false;
	if (strlen(a->pin) != (size_t)sc->pin_length || !all_digits(a->pin))
		return fail_at(c, "pin", "must be %d digits (limits.pin_length)", sc->pin_length);
	if (!get_bool(c, e, "registered", false, &a->registered))
		return false;

	if (!get_array(c, e, "balances", false, 0, SIZE_MAX, &arr, &n))
		return false;
	s = push(c, "balances");
	a->balances = xcalloc(c, n, sizeof(*a->balances));
	if (!a->balances)
		return false;
	a->nbalances = n;
	for (i = 0, x = arr ? arr->child : NULL; x; x = x->next, i++) {
		struct sc_balance *bal = &a->balances[i];
		size_t s2 = pushi(c, i);
		if (!check_object(c, x, bal_members) || !get_str(c, x, "type", false, STR_ID, 32, &bal->type) ||
		    !get_amount(c, x, &bal->amount) || !get_currency(c, x, &bal->currency))
			return false;
		if (!bal->type && !(bal->type = xstrdup(c, "current")))
			return false;
		pop(c, s2);
	}
	pop(c, s);

	if (!get_array(c, e, "transactions", false, 0, SIZE_MAX, &arr, &n))
		return false;
	s = push(c, "transactions");
	a->transactions = xcalloc(c, n, sizeof(*a->transactions));
	if (!a->transactions)
		return false;
	a->ntransactions = n;
	for (i = 0, x = arr ? arr->child : NULL; x; x = x->next, i++) {
		struct sc_transaction *t = &a->transactions[i];
		size_t s2 = pushi(c, i);
		if (!check_object(c, x, tx_members) || !get_str(c, x, "date", true, STR_TEXT, 32, &t->date))
			return false;
		if (!valid_date(t->date))
			return fail_at(c, "date", "must be a date YYYY-MM-DD");
		if (!get_amount(c, x, &t->amount) || !get_currency(c, x, &t->currency) ||
		    !get_l10n(c, x, "description", true, false, NAME_MAX_CHARS, &t->description))
			return false;
		pop(c, s2);
	}
	pop(c, s);
	return true;
}

/* Lowercase hex without separators (':' allowed in the file) or leading zeros (strip). */
static bool norm_hex(char *s, bool strip_zeros)
{
	char *o = s, *start;
	for (const char *p = s; *p; p++) {
		if (*p == ':')
			continue;
		if (!strchr(HEX_CHARS, *p))
			return false;
		*o++ = (char)(*p >= 'A' && *p <= 'F' ? *p - 'A' + 'a' : *p);
	}
	*o = '\0';
	if (o == s)
		return false;
	if (strip_zeros) {
		start = s;
		while (start[0] == '0' && start[1])
			start++;
		memmove(s, start, strlen(start) + 1);
	}
	return true;
}

static bool parse_certificate(struct ctx *c, const cJSON *e, struct sc_certificate *ce)
{
	static const char *const members[] = {"subject", "serial", "sha256", NULL};

	if (!check_object(c, e, members) || !get_str(c, e, "subject", false, STR_TEXT, 1024, &ce->subject) ||
	    !get_str(c, e, "serial", false, STR_TEXT, 128, &ce->serial) ||
	    !get_str(c, e, "sha256", false, STR_TEXT, 95, &ce->sha256))
		return false;
	if (ce->serial) {
		char *p = ce->serial;
		if ((p[0] == '0' && (p[1] == 'x' || p[1] == 'X')))
			memmove(p, p + 2, strlen(p + 2) + 1);
		if (!norm_hex(p, true))
			return fail_at(c, "serial", "must be hexadecimal, e.g. \"1003\", \"0x1003\" or \"10:03\"");
	}
	if (ce->sha256 && (!norm_hex(ce->sha256, false) || strlen(ce->sha256) != 64))
		return fail_at(c, "sha256", "must be 64 hexadecimal digits (colons allowed)");
	if (!ce->sha256 && (!ce->subject || !ce->serial))
		return fail(c, "needs \"subject\" and \"serial\", or \"sha256\"");
	return true;
}

static bool parse_question(struct ctx *c, const cJSON *cust, struct sc_customer *cu)
{
	static const char *const members[] = {"ask", "text", "answer", "masked", NULL};
	const cJSON *q;
	size_t s;
	char *ask = NULL;
	long n;

	if (!find_member(c, cust, "question", false, &q, &s))
		return true;
	if (!check_object(c, q, members) || !get_str(c, q, "ask", false, STR_TEXT, 16, &ask))
		return false;
	if (ask && strcmp(ask, "always") && strcmp(ask, "never")) {
		free(ask);
		return fail_at(c, "ask", "must be \"always\" or \"never\"");
	}
	cu->question_required = !ask || strcmp(ask, "always") == 0;
	free(ask);
	if (!get_l10n(c, q, "text", true, false, NAME_MAX_CHARS, &cu->question) ||
	    !get_str(c, q, "answer", true, STR_TEXT, ANSWER_MAX_CHARS, &cu->answer) ||
	    !get_bool(c, q, "masked", false, &cu->answer_masked))
		return false;
	n = (long)strlen(cu->answer);
	if (cu->answer[0] == ' ' || cu->answer[n - 1] == ' ')
		return fail_at(c, "answer",
			       "must not begin or end with a space (answers are compared after trimming spaces)");
	pop(c, s);
	return true;
}

static bool parse_customer(struct ctx *c, const cJSON *e, const struct scenario *sc, struct sc_customer *cu)
{
	static const char *const members[] = {"login_id", "password", "locked", "unlock", "question",
					      "certificates", "accounts", NULL};
	const cJSON *arr, *x;
	size_t n, i, s;

	if (!check_object(c, e, members) ||
	    !get_str(c, e, "login_id", true, STR_PRINTABLE, ID_MAX, &cu->login_id) ||
	    !get_str(c, e, "password", true, STR_TEXT, PASSWORD_MAX, &cu->password) ||
	    !get_bool(c, e, "locked", false, &cu->locked) || !get_bool(c, e, "unlock", false, &cu->unlock) ||
	    !parse_question(c, e, cu) ||
	    !get_array(c, e, "certificates", false, 1, SIZE_MAX, &arr, &n))
		return false;
	s = push(c, "certificates");
	cu->certificates = xcalloc(c, n, sizeof(*cu->certificates));
	if (!cu->certificates)
		return false;
	cu->ncertificates = n;
	for (i = 0, x = arr ? arr->child : NULL; x; x = x->next, i++) {
		size_t s2 = pushi(c, i);
		if (!parse_certificate(c, x, &cu->certificates[i]))
			return false;
		pop(c, s2);
	}
	pop(c, s);

	if (!get_array(c, e, "accounts", true, 1, SIZE_MAX, &arr, &n))
		return false;
	s = push(c, "accounts");
	cu->accounts = xcalloc(c, n, sizeof(*cu->accounts));
	if (!cu->accounts)
		return false;
	cu->naccounts = n;
	for (i = 0, x = arr->child; x; x = x->next, i++) {
		size_t s2 = pushi(c, i);
		if (!parse_account(c, x, sc, &cu->accounts[i]))
			return false;
		pop(c, s2);
	}
	pop(c, s);
	return true;
}

/* Ids unique across the scenario: sort (id, position), compare neighbours. */
struct idref {
	const char *id;
	size_t i, j;
};

static int idref_cmp(const void *a, const void *b)
{
	const struct idref *x = a, *y = b;
	int r = strcmp(x->id, y->id);
	if (r)
		return r;
	if (x->i != y->i)
		return x->i < y->i ? -1 : 1;
	return x->j < y->j ? -1 : x->j > y->j;
}

/* The second occurrence of a repeated key that comes first in the file (an index into the sorted
 * r), or SIZE_MAX; r[result - 1] is an earlier occurrence. */
static size_t first_dup(const struct idref *r, size_t n)
{
	size_t best = SIZE_MAX;
	for (size_t k = 1; k < n; k++)
		if (strcmp(r[k - 1].id, r[k].id) == 0 &&
		    (best == SIZE_MAX || r[k].i < r[best].i || (r[k].i == r[best].i && r[k].j < r[best].j)))
			best = k;
	return best;
}

/* A certificate key shared by two customers: the first entry of another customer in a run of
 * equal keys (index into the sorted r), or SIZE_MAX; its run starts at *other. */
static size_t shared_cert(const struct idref *r, size_t n, size_t *other)
{
	for (size_t a = 0, b; a < n; a = b) {
		for (b = a + 1; b < n && strcmp(r[a].id, r[b].id) == 0; b++)
			if (r[b].i != r[a].i) {
				*other = a;
				return b;
			}
		while (b < n && strcmp(r[a].id, r[b].id) == 0)
			b++;
	}
	return SIZE_MAX;
}

static bool check_unique(struct ctx *c, struct scenario *sc)
{
	size_t n = 0, ncert = 0, k = 0, best, other = 0;
	struct idref *r;
	char **keys;

	for (size_t i = 0; i < sc->ncustomers; i++) {
		n += sc->customers[i].naccounts;
		ncert += sc->customers[i].ncertificates;
	}
	/* account ids, in the whole scenario */
	k = n > ncert ? n : ncert;
	if (!(r = xcalloc(c, k > sc->ncustomers ? k : sc->ncustomers, sizeof(*r))))
		return false;
	k = 0;
	for (size_t i = 0; i < sc->ncustomers; i++)
		for (size_t j = 0; j < sc->customers[i].naccounts; j++)
			r[k++] = (struct idref){sc->customers[i].accounts[j].id, i, j};
	qsort(r, n, sizeof(*r), idref_cmp);
	if ((best = first_dup(r, n)) != SIZE_MAX) {
		char where[64];
		snprintf(where, sizeof(where), "customers[%zu].accounts[%zu]", r[best - 1].i, r[best - 1].j);
		push(c, "customers");
		pushi(c, r[best].i);
		push(c, "accounts");
		pushi(c, r[best].j);
		push(c, "id");
		fail(c, "duplicate account id \"%s\" (also %s)", r[best].id, where);
		free(r);
		return false;
	}

	/* login ids */
	for (size_t i = 0; i < sc->ncustomers; i++)
		r[i] = (struct idref){sc->customers[i].login_id, i, 0};
	qsort(r, sc->ncustomers, sizeof(*r), idref_cmp);
	if ((best = first_dup(r, sc->ncustomers)) != SIZE_MAX) {
		size_t first = r[best - 1].i;
		push(c, "customers");
		pushi(c, r[best].i);
		push(c, "login_id");
		fail(c, "duplicate login_id \"%s\" (also customers[%zu])", r[best].id, first);
		free(r);
		return false;
	}

	/* certificates: one customer each, by fingerprint and by subject + serial */
	keys = xcalloc(c, ncert, sizeof(char *));
	if (!keys) {
		free(r);
		return false;
	}
	best = SIZE_MAX;
	for (int pass = 0; pass < 2 && best == SIZE_MAX && !c->failed; pass++) {
		k = 0;
		for (size_t i = 0; i < sc->ncustomers; i++)
			for (size_t j = 0; j < sc->customers[i].ncertificates; j++) {
				const struct sc_certificate *ce = &sc->customers[i].certificates[j];
				if (pass == 0 && ce->sha256) {
					r[k++] = (struct idref){ce->sha256, i, j};
				} else if (pass == 1 && ce->subject && ce->serial) {
					size_t len = strlen(ce->subject) + strlen(ce->serial) + 2;
					char *key = malloc(len);
					if (!key) {
						fail(c, "out of memory");
						break;
					}
					snprintf(key, len, "%s\n%s", ce->subject, ce->serial);
					keys[k] = key;
					r[k++] = (struct idref){key, i, j};
				}
			}
		if (c->failed)
			break;
		qsort(r, k, sizeof(*r), idref_cmp);
		best = shared_cert(r, k, &other);
		if (best != SIZE_MAX) {
			push(c, "customers");
			pushi(c, r[best].i);
			push(c, "certificates");
			pushi(c, r[best].j);
			fail(c, "this certificate also belongs to customers[%zu]", r[other].i);
		}
	}
	for (k = 0; k < ncert; k++)
		free(keys[k]);
	free(keys);
	free(r);
	return !c->failed;
}

static bool parse_customers(struct ctx *c, const cJSON *root, struct scenario *sc)
{
	const cJSON *arr, *e;
	size_t n, i = 0, s;

	if (!get_array(c, root, "customers", true, 1, SIZE_MAX, &arr, &n))
		return false;
	s = push(c, "customers");
	sc->customers = xcalloc(c, n, sizeof(*sc->customers));
	if (!sc->customers)
		return false;
	sc->ncustomers = n;
	for (e = arr->child; e; e = e->next, i++) {
		size_t s2 = pushi(c, i);
		if (!parse_customer(c, e, sc, &sc->customers[i]))
			return false;
		pop(c, s2);
	}
	pop(c, s);
	return check_unique(c, sc);
}

/* --- whole scenario ----------------------------------------------------------------------------- */

/* The offset of the first byte of json[off..len) that is not JSON white space (len if none). */
static size_t skip_space(const char *json, size_t len, size_t off)
{
	while (off < len && json[off] && strchr(" \t\r\n", json[off]))
		off++;
	return off;
}

/* fail() at "line L, column C" (characters, from 1) of json[0..len) for byte offset off. */
static void fail_at_offset(struct ctx *c, const char *json, size_t len, size_t off, const char *msg)
{
	int line = 1, col = 1;

	for (size_t i = 0; i < off && i < len; i++) {
		unsigned char ch = (unsigned char)json[i];
		if (ch == '\n') {
			line++;
			col = 1;
		} else if ((ch & 0xc0) != 0x80) {
			col++;
		}
	}
	snprintf(c->path, sizeof(c->path), "line %d, column %d", line, col);
	c->plen = strlen(c->path);
	fail(c, "%s", msg);
}

static void wipe_json(cJSON *j)
{
	for (; j; j = j->next) {
		if (j->valuestring)
			explicit_bzero(j->valuestring, strlen(j->valuestring));
		wipe_json(j->child);
	}
}

/* "faults": ["pins:reset:once", ...], each as --fault takes it (fault.h). */
static bool parse_faults(struct ctx *c, const cJSON *root, struct scenario *sc)
{
	const cJSON *arr, *x;
	size_t n, i = 0, s;
	struct fault f;
	char why[512];

	if (!get_array(c, root, "faults", false, 0, FAULT_MAX, &arr, &n) || !arr)
		return !c->failed;
	s = push(c, "faults");
	sc->faults = xcalloc(c, n ? n : 1, sizeof(char *));
	if (!sc->faults)
		return false;
	for (x = arr->child; x; x = x->next, i++) {
		size_t s2 = pushi(c, i);
		if (!cJSON_IsString(x))
			return fail(c, "must be a fault (a string STEP:KIND[:ARG][:once]), not %s", type_name(x));
		if (!fault_parse(x->valuestring, &f, why, sizeof(why)))
			return fail(c, "%s", why + strlen("--fault "));
		sc->faults[i] = xstrdup(c, x->valuestring);
		if (!sc->faults[i])
			return false;
		sc->nfaults = i + 1;
		pop(c, s2);
	}
	pop(c, s);
	return true;
}

struct scenario *scenario_parse(const char *json, size_t len, char *err, size_t errlen)
{
	static const char *const members[] = {"version", "name", "utc_offset_minutes", "device", "limits",
					      "terms", "scopes", "partners", "customers", "faults", NULL};
	struct ctx c = {.err = err, .errlen = errlen};
	struct scenario *sc = NULL;
	const char *end = NULL;
	cJSON *root;
	int version;

	if (err && errlen)
		err[0] = '\0';
	if (!json) {
		fail(&c, "no scenario text");
		return NULL;
	}
	if (skip_space(json, len, 0) == len) {
		fail(&c, "empty: expected a JSON object");
		return NULL;
	}
	root = cJSON_ParseWithLengthOpts(json, len, &end, false);
	if (!root) {
		fail_at_offset(&c, json, len, end ? (size_t)(end - json) : 0, "not valid JSON");
		return NULL;
	}
	if (end) {
		size_t off = skip_space(json, len, (size_t)(end - json));
		if (off < len) {
			fail_at_offset(&c, json, len, off, "unexpected text after the JSON object");
			goto out;
		}
	}
	if (!check_object(&c, root, members))
		goto out;
	sc = xcalloc(&c, 1, sizeof(*sc));
	if (!sc)
		goto out;
	if (!get_int(&c, root, "version", false, SCENARIO_VERSION, 0, INT_MAX, &version))
		goto out;
	if (version != SCENARIO_VERSION) {
		fail_at(&c, "version", "must be %d (this sandbox reads scenario format %d)", SCENARIO_VERSION,
			SCENARIO_VERSION);
		goto out;
	}
	if (!get_str(&c, root, "name", true, STR_TEXT, NAME_MAX_CHARS, &sc->name) ||
	    !get_int(&c, root, "utc_offset_minutes", false, 540, -720, 840, &sc->utc_offset_minutes) ||
	    !parse_device(&c, root, sc) || !parse_limits(&c, root, sc) ||
	    !get_l10n(&c, root, "terms", true, true, TERMS_MAX_CHARS, &sc->terms) || !parse_scopes(&c, root, sc) ||
	    !parse_partners(&c, root, sc) || !parse_customers(&c, root, sc) || !parse_faults(&c, root, sc))
		goto out;
out:
	wipe_json(root);
	cJSON_Delete(root);
	if (c.failed) {
		scenario_free(sc);
		return NULL;
	}
	return sc;
}

struct scenario *scenario_load_file(const char *path, char *err, size_t errlen)
{
	char sub[512];
	struct stat st;
	struct scenario *sc;
	char *buf;
	size_t got = 0;
	int fd;

	if (err && errlen)
		err[0] = '\0';
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) != 0) {
		snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
		close(fd);
		return NULL;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		close(fd);
		return NULL;
	}
	if (st.st_size > (off_t)SCENARIO_FILE_MAX) {
		snprintf(err, errlen, "%s: too big (%lld bytes; a scenario file is at most 4 MiB)", path,
			 (long long)st.st_size);
		close(fd);
		return NULL;
	}
	buf = malloc(SCENARIO_FILE_MAX + 1);
	if (!buf) {
		snprintf(err, errlen, "%s: out of memory", path);
		close(fd);
		return NULL;
	}
	/* Read up to the limit + 1 byte: the file may have grown since fstat. */
	for (;;) {
		ssize_t r = read(fd, buf + got, SCENARIO_FILE_MAX + 1 - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
			close(fd);
			free(buf);
			return NULL;
		}
		if (r == 0)
			break;
		got += (size_t)r;
		if (got > SCENARIO_FILE_MAX) {
			snprintf(err, errlen, "%s: too big (a scenario file is at most 4 MiB)", path);
			close(fd);
			explicit_bzero(buf, got);
			free(buf);
			return NULL;
		}
	}
	close(fd);
	sc = scenario_parse(buf, got, sub, sizeof(sub));
	explicit_bzero(buf, got);
	free(buf);
	if (!sc)
		snprintf(err, errlen, "%s: %s", path, sub);
	return sc;
}

static const struct embedded_file *builtin_file(void)
{
	for (const struct embedded_file *f = embedded_scenarios; f->name; f++)
		if (strcmp(f->name, "demo.json") == 0)
			return f;
	return embedded_scenarios[0].name ? &embedded_scenarios[0] : NULL;
}

const char *scenario_builtin_text(size_t *len)
{
	const struct embedded_file *f = builtin_file();
	if (len)
		*len = f ? f->len : 0;
	return f ? f->data : NULL;
}

struct scenario *scenario_builtin(char *err, size_t errlen)
{
	char sub[512];
	size_t len;
	const char *text = scenario_builtin_text(&len);
	struct scenario *sc;

	if (!text) {
		snprintf(err, errlen, "built-in scenario: missing");
		return NULL;
	}
	sc = scenario_parse(text, len, sub, sizeof(sub));
	if (!sc)
		snprintf(err, errlen, "built-in scenario: %s", sub);
	return sc;
}

void scenario_free(struct scenario *sc)
{
	if (!sc)
		return;
	free(sc->name);
	for (size_t i = 0; i < sc->nfaults; i++)
		free(sc->faults[i]);
	free(sc->faults);
	for (size_t i = 0; i < sc->nscopes; i++) {
		free(sc->scopes[i].id);
		l10n_free(&sc->scopes[i].name);
	}
	free(sc->scopes);
	for (size_t i = 0; i < sc->npartners; i++) {
		struct sc_partner *p = &sc->partners[i];
		free(p->client_id);
		l10n_free(&p->name);
		for (size_t j = 0; j < p->nscopes; j++)
			free(p->scopes[j]);
		free(p->scopes);
		l10n_free(&p->terms);
	}
	free(sc->partners);
	for (size_t i = 0; i < sc->ncustomers; i++) {
		struct sc_customer *cu = &sc->customers[i];
		free(cu->login_id);
		wipe_free(cu->password);
		wipe_free(cu->password_hash);
		l10n_free(&cu->question);
		wipe_free(cu->answer);
		for (size_t j = 0; j < cu->ncertificates; j++) {
			free(cu->certificates[j].subject);
			free(cu->certificates[j].serial);
			free(cu->certificates[j].sha256);
		}
		free(cu->certificates);
		for (size_t j = 0; j < cu->naccounts; j++) {
			struct sc_account *a = &cu->accounts[j];
			free(a->id);
			l10n_free(&a->branch_name);
			free(a->branch_code);
			free(a->type);
			free(a->number);
			free(a->memo);
			wipe_free(a->pin);
			for (size_t k = 0; k < a->nbalances; k++) {
				free(a->balances[k].type);
				free(a->balances[k].amount);
				free(a->balances[k].currency);
			}
			free(a->balances);
			for (size_t k = 0; k < a->ntransactions; k++) {
				free(a->transactions[k].date);
				free(a->transactions[k].amount);
				free(a->transactions[k].currency);
				l10n_free(&a->transactions[k].description);
			}
			free(a->transactions);
		}
		free(cu->accounts);
	}
	free(sc->customers);
	l10n_free(&sc->terms);
	free(sc->user_code_charset);
	free(sc);
}

/* --- lookups ------------------------------------------------------------------------------------ */

/* The first of the n elements (size bytes each) at base whose string member at key_off (offsetof)
 * equals key, or NULL. */
static const void *find_by_key(const void *base, size_t n, size_t size, size_t key_off, const char *key)
{
	if (!key)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		const char *e = (const char *)base + i * size;
		const char *k = *(char *const *)(e + key_off);
		if (k && strcmp(k, key) == 0)
			return e;
	}
	return NULL;
}

const struct sc_partner *scenario_partner(const struct scenario *sc, const char *client_id)
{
	return sc ? find_by_key(sc->partners, sc->npartners, sizeof(*sc->partners),
				offsetof(struct sc_partner, client_id), client_id)
		  : NULL;
}

const struct sc_customer *scenario_customer(const struct scenario *sc, const char *login_id)
{
	return sc ? find_by_key(sc->customers, sc->ncustomers, sizeof(*sc->customers),
				offsetof(struct sc_customer, login_id), login_id)
		  : NULL;
}

const struct sc_scope *scenario_scope(const struct scenario *sc, const char *id)
{
	return sc ? find_by_key(sc->scopes, sc->nscopes, sizeof(*sc->scopes), offsetof(struct sc_scope, id), id)
		  : NULL;
}

/* Hex strings equal ignoring case, ':' separators and (when serial) leading zeros. */
static bool hex_equal(const char *a, const char *b, bool serial)
{
	if (serial) {
		if (a[0] == '0' && (a[1] == 'x' || a[1] == 'X'))
			a += 2;
		if (b[0] == '0' && (b[1] == 'x' || b[1] == 'X'))
			b += 2;
		while (*a == '0' || *a == ':')
			a++;
		while (*b == '0' || *b == ':')
			b++;
	}
	for (;;) {
		while (*a == ':')
			a++;
		while (*b == ':')
			b++;
		if (!*a || !*b)
			return !*a && !*b;
		char x = (char)(*a >= 'A' && *a <= 'F' ? *a - 'A' + 'a' : *a);
		char y = (char)(*b >= 'A' && *b <= 'F' ? *b - 'A' + 'a' : *b);
		if (x != y)
			return false;
		a++;
		b++;
	}
}

const struct sc_customer *scenario_customer_by_cert(const struct scenario *sc, const char *subject,
						    const char *serial, const char *sha256)
{
	if (!sc)
		return NULL;
	for (size_t i = 0; i < sc->ncustomers; i++) {
		const struct sc_customer *cu = &sc->customers[i];
		for (size_t j = 0; j < cu->ncertificates; j++) {
			const struct sc_certificate *ce = &cu->certificates[j];
			if (ce->sha256 && sha256 && hex_equal(ce->sha256, sha256, false))
				return cu;
			if (ce->subject && ce->serial && subject && serial && strcmp(ce->subject, subject) == 0 &&
			    hex_equal(ce->serial, serial, true))
				return cu;
		}
	}
	return NULL;
}

const struct sc_account *scenario_account(const struct scenario *sc, const char *account_id,
					  const struct sc_customer **owner)
{
	if (owner)
		*owner = NULL;
	if (!sc || !account_id)
		return NULL;
	for (size_t i = 0; i < sc->ncustomers; i++)
		for (size_t j = 0; j < sc->customers[i].naccounts; j++)
			if (sc->customers[i].accounts[j].id && strcmp(sc->customers[i].accounts[j].id, account_id) == 0) {
				if (owner)
					*owner = &sc->customers[i];
				return &sc->customers[i].accounts[j];
			}
	return NULL;
}

const char *l10n_text(const struct l10n *t, const char *lang)
{
	if (!t)
		return "";
	if (lang && strcmp(lang, "en") == 0 && t->en)
		return t->en;
	return t->ja ? t->ja : (t->en ? t->en : "");
}
