/* replay.c: renkei-sandbox --replay (see replay.h, docs/trace.md, protocol §5 replay-diverged). */
#include "replay.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sandbox.h"

#define REPLAY_MAX_FILE (64L * 1024 * 1024)
#define TRACE_VERSION 1
#define REDACTED "[redacted]"

struct exchange {
	cJSON *request;   /* the "request" record (method, path, maybe body) */
	int status;
	const char *content_type; /* one of content_types[] */
	char *body;
};

struct replay {
	struct exchange *x;
	size_t n, next;
	bool masked;      /* account ids are pseudonyms ("acct-N"): they match any value */
};

/* The content types an answer may carry (http_resp wants a static string). */
static const char *const content_types[] = {
	"application/json", "application/problem+json", "text/html", "text/plain",
};

static const char *static_type(const char *t)
{
	for (size_t i = 0; t && i < sizeof content_types / sizeof content_types[0]; i++)
		if (!strncmp(t, content_types[i], strlen(content_types[i])))
			return content_types[i];
	return "application/json";
}

static int fail(char *err, size_t errlen, const char *name, size_t line, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
static int fail(char *err, size_t errlen, const char *name, size_t line, const char *fmt, ...)
{
	char what[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	snprintf(err, errlen, "%s:%zu: %s", name, line, what);
	return -1;
}

static void clear(struct replay *r)
{
	for (size_t i = 0; i < r->n; i++) {
		cJSON_Delete(r->x[i].request);
		free(r->x[i].body);
	}
	free(r->x);
	r->x = NULL;
	r->n = r->next = 0;
}

void replay_free(struct replay *r)
{
	if (!r)
		return;
	clear(r);
	free(r);
}

size_t replay_count(const struct replay *r)
{
	return r ? r->n : 0;
}

static bool is_str(const cJSON *o, const char *name)
{
	return cJSON_IsString(cJSON_GetObjectItemCaseSensitive(o, name));
}

static bool is_num(const cJSON *o, const char *name, bool null_ok)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
	return cJSON_IsNumber(v) || (null_ok && cJSON_IsNull(v));
}

/* docs/trace.md, the header. */
static const char *header_problem(const cJSON *o)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "version");
	if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(o, "trace")) ||
	    strcmp(cJSON_GetObjectItemCaseSensitive(o, "trace")->valuestring, "renkei"))
		return "not a renkei trace";
	if (!cJSON_IsNumber(v))
		return "the trace has no version";
	if (v->valuedouble != TRACE_VERSION)
		return "another trace version (this sandbox reads version 1)";
	if (!is_str(o, "renkei") || !is_str(o, "lang") ||
	    !cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(o, "terminal")) ||
	    !cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(o, "options")))
		return "a header without renkei, lang, terminal or options";
	return NULL;
}

/* docs/trace.md, the records this side reads: request, then its response. */
static const char *record_problem(const cJSON *o, const char *type)
{
	if (!strcmp(type, "request"))
		return is_str(o, "method") && is_str(o, "path") && is_str(o, "action") && is_num(o, "status", true) &&
			       is_num(o, "ms", false)
			       ? NULL
			       : "a request record without method, path, action, status or ms";
	if (!strcmp(type, "response"))
		return is_num(o, "status", true) && is_num(o, "ms", false) ? NULL
									  : "a response record without status or ms";
	static const char *const others[] = {"screen", "action", "end", "event"};
	for (size_t i = 0; i < sizeof others / sizeof others[0]; i++)
		if (!strcmp(type, others[i]))
			return NULL;
	return "unknown kind of record";
}

/* A response (o) for the request record req (taken). */
static int add(struct replay *r, cJSON *req, const cJSON *o)
{
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(o, "status");
	if (!cJSON_IsNumber(st) || st->valuedouble < 100 || st->valuedouble > 599) {
		cJSON_Delete(req); /* nothing came back live: the client's retry is the next one */
		return 0;
	}
	struct exchange *nx = realloc(r->x, (r->n + 1) * sizeof *nx);
	if (!nx) {
		cJSON_Delete(req);
		return -1;
	}
	r->x = nx;
	struct exchange *x = &nx[r->n];
	const cJSON *b = cJSON_GetObjectItemCaseSensitive(o, "body");
	const cJSON *bt = cJSON_GetObjectItemCaseSensitive(o, "body_text");
	*x = (struct exchange){.request = req, .status = (int)st->valuedouble,
			       .content_type = static_type(cJSON_GetStringValue(
				       cJSON_GetObjectItemCaseSensitive(o, "content_type")))};
	x->body = b ? cJSON_PrintUnformatted(b) : strdup(cJSON_IsString(bt) ? bt->valuestring : "");
	if (!x->body) {
		cJSON_Delete(req);
		return -1;
	}
	r->n++;
	return 0;
}

/* One line; *pending is the request waiting for its response. */
static int line(struct replay *r, cJSON **pending, bool *have_header, const char *name, size_t ln,
		const char *p, size_t n, char *err, size_t errlen)
{
	cJSON *o = cJSON_ParseWithLength(p, n);
	const char *why = NULL;
	if (!cJSON_IsObject(o))
		why = "not a JSON object";
	else if (cJSON_GetObjectItemCaseSensitive(o, "trace")) {
		if (!(why = header_problem(o))) {
			clear(r); /* a later run: the last one is served */
			cJSON_Delete(*pending);
			*pending = NULL;
			const cJSON *opts = cJSON_GetObjectItemCaseSensitive(o, "options");
			r->masked = !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(opts, "unmasked"));
			*have_header = true;
		}
	} else if (!*have_header) {
		why = "the first line is not a trace header ({\"trace\":\"renkei\",...})";
	} else if (!is_str(o, "type")) {
		why = "a record without a type";
	} else {
		const char *type = cJSON_GetObjectItemCaseSensitive(o, "type")->valuestring;
		why = record_problem(o, type);
		if (!why && !strcmp(type, "request")) {
			cJSON_Delete(*pending);
			*pending = o;
			return 0;
		}
		if (!why && !strcmp(type, "response") && *pending) {
			cJSON *req = *pending;
			*pending = NULL;
			if (add(r, req, o) < 0)
				why = strerror(ENOMEM);
		}
	}
	cJSON_Delete(o);
	return why ? fail(err, errlen, name, ln, "%s", why) : 0;
}

struct replay *replay_parse(const char *name, const char *text, size_t len, char *err, size_t errlen)
{
	struct replay *r = calloc(1, sizeof *r);
	if (!r) {
		snprintf(err, errlen, "%s: %s", name, strerror(ENOMEM));
		return NULL;
	}
	cJSON *pending = NULL;
	bool have_header = false;
	size_t at = 0, ln = 0;
	int rc = 0;
	while (at < len && rc == 0) {
		ln++;
		const char *nl = memchr(text + at, '\n', len - at);
		if (!nl) {
			rc = fail(err, errlen, name, ln, "the line is cut short (no end of line)");
			break;
		}
		rc = line(r, &pending, &have_header, name, ln, text + at, (size_t)(nl - (text + at)), err, errlen);
		at = (size_t)(nl - text) + 1;
	}
	cJSON_Delete(pending);
	if (rc == 0 && !have_header)
		rc = fail(err, errlen, name, ln ? ln : 1, "the file is empty");
	else if (rc == 0 && r->n == 0)
		rc = fail(err, errlen, name, ln, "no recorded answers to serve");
	if (rc < 0) {
		replay_free(r);
		return NULL;
	}
	return r;
}

struct replay *replay_load(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	char *buf = NULL;
	size_t len = 0, cap = 0, got;
	do {
		if (len == cap) {
			cap = cap ? cap * 2 : 65536;
			char *nb = cap <= (size_t)REPLAY_MAX_FILE ? realloc(buf, cap) : NULL;
			if (!nb) {
				free(buf);
				fclose(f);
				snprintf(err, errlen, "%s: too large for a trace", path);
				return NULL;
			}
			buf = nb;
		}
		got = fread(buf + len, 1, cap - len, f);
		len += got;
	} while (got > 0);
	fclose(f);
	struct replay *r = replay_parse(path, buf, len, err, errlen);
	free(buf);
	return r;
}

/* A recorded value (want) matches a sent one: equal, or a redacted (or, in a masked trace, an
 * account's pseudonym) string, which matches anything. Objects: the same members. */
static bool matches(const struct replay *r, const cJSON *want, const cJSON *got)
{
	if (cJSON_IsString(want) && (!strcmp(want->valuestring, REDACTED) ||
				     (r->masked && !strncmp(want->valuestring, "acct-", 5))))
		return got != NULL;
	if (cJSON_IsObject(want)) {
		if (!cJSON_IsObject(got) || cJSON_GetArraySize(want) != cJSON_GetArraySize(got))
			return false;
		for (const cJSON *c = want->child; c; c = c->next)
			if (!matches(r, c, cJSON_GetObjectItemCaseSensitive(got, c->string)))
				return false;
		return true;
	}
	if (cJSON_IsArray(want)) {
		if (!cJSON_IsArray(got) || cJSON_GetArraySize(want) != cJSON_GetArraySize(got))
			return false;
		for (const cJSON *a = want->child, *b = got->child; a; a = a->next, b = b->next)
			if (!matches(r, a, b))
				return false;
		return true;
	}
	return got && cJSON_Compare(want, got, true);
}

static bool same_request(const struct replay *r, const cJSON *want, const struct http_req *req)
{
	if (strcmp(cJSON_GetObjectItemCaseSensitive(want, "method")->valuestring, req->method) ||
	    strcmp(cJSON_GetObjectItemCaseSensitive(want, "path")->valuestring, req->path))
		return false;
	const cJSON *body = cJSON_GetObjectItemCaseSensitive(want, "body");
	if (!body) /* not recorded (it held a secret): method and path only */
		return true;
	cJSON *got = req->body ? cJSON_ParseWithLength(req->body, req->body_len) : NULL;
	bool ok = matches(r, body, got);
	cJSON_Delete(got);
	return ok;
}

static void diverged(struct replay *r, const struct http_req *req, struct http_resp *resp)
{
	char detail[512];
	cJSON *ext = cJSON_CreateObject();
	if (r->next < r->n) {
		const cJSON *w = r->x[r->next].request;
		const char *m = cJSON_GetObjectItemCaseSensitive(w, "method")->valuestring;
		const char *p = cJSON_GetObjectItemCaseSensitive(w, "path")->valuestring;
		snprintf(detail, sizeof detail, "The recording expects request %zu of %zu: %s %s (got %s %s).",
			 r->next + 1, r->n, m, p, req->method, req->path);
		cJSON *e = cJSON_AddObjectToObject(ext, "expected");
		if (e) {
			cJSON_AddNumberToObject(e, "index", (double)(r->next + 1));
			cJSON_AddStringToObject(e, "method", m);
			cJSON_AddStringToObject(e, "path", p);
		}
	} else {
		snprintf(detail, sizeof detail, "The recording has no more requests (all %zu were answered).", r->n);
		cJSON_AddNullToObject(ext, "expected");
	}
	http_problem(resp, 409, "replay-diverged", detail, ext);
}

void replay_answer(struct replay *r, const struct http_req *req, struct http_resp *resp)
{
	if (r->next >= r->n || !same_request(r, r->x[r->next].request, req)) {
		diverged(r, req, resp);
		return;
	}
	const struct exchange *x = &r->x[r->next++];
	free(resp->body);
	resp->status = x->status;
	resp->content_type = x->content_type;
	resp->body = strdup(x->body);
	resp->body_len = resp->body ? strlen(resp->body) : 0;
	if (!resp->body)
		resp->status = 0; /* http_dispatch turns it into internal */
}

bool replay_handle(struct sandbox *sb, const struct http_req *req, struct http_resp *resp)
{
	replay_answer(sb->replay, req, resp);
	return true;
}
