/* trace_read.c: the --trace reader for --replay (see include/trace_read.h, docs/trace.md). */
#include "trace_read.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "i18n.h"
#include "trace.h"

#define TRACE_MAX_FILE (64L * 1024 * 1024)

/* What a member must be: a string, a number, a number or null, an object, a boolean. */
enum kind { K_STR, K_NUM, K_NUM_NULL, K_OBJ, K_BOOL };
struct member {
	const char *name;
	enum kind kind;
};
/* docs/trace.md: the members each record type requires. */
static const struct rule {
	const char *type;
	struct member m[6];
} rules[] = {
	{"screen", {{"form", K_STR}, {"step", K_STR}, {"lang", K_STR}}},
	{"action", {{"n", K_NUM}, {"ms", K_NUM}, {"key", K_STR}, {"what", K_STR}}},
	{"request", {{"method", K_STR}, {"path", K_STR}, {"action", K_STR}, {"status", K_NUM_NULL}, {"ms", K_NUM}}},
	{"response", {{"status", K_NUM_NULL}, {"ms", K_NUM}}},
	{"end", {{"step", K_STR}, {"exit", K_NUM}}},
	{"event", {{"event", K_STR}}},
};
static const struct member header_members[] = {
	{"renkei", K_STR}, {"lang", K_STR}, {"terminal", K_OBJ}, {"options", K_OBJ},
};

struct reader {
	const char *name;
	size_t line;
	char *err;
	size_t errlen;
	struct trace_run *run;
	char step[32];   /* the step of the last screen */
	bool have_header;
};

static int fail(struct reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct reader *r, const char *fmt, ...)
{
	char what[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	snprintf(r->err, r->errlen, "%s:%zu: %s", r->name, r->line, what);
	return -1;
}

static bool kind_ok(const cJSON *v, enum kind k)
{
	switch (k) {
	case K_STR: return cJSON_IsString(v) && v->valuestring;
	case K_NUM: return cJSON_IsNumber(v);
	case K_NUM_NULL: return cJSON_IsNumber(v) || cJSON_IsNull(v);
	case K_OBJ: return cJSON_IsObject(v);
	case K_BOOL: return cJSON_IsBool(v);
	}
	return false;
}

static int require(struct reader *r, const cJSON *o, const struct member *m, size_t n, const char *type)
{
	for (size_t i = 0; i < n && m[i].name; i++)
		if (!kind_ok(cJSON_GetObjectItemCaseSensitive(o, m[i].name), m[i].kind))
			/* TRANSLATORS: a trace line lacks a member: "screen" record without "form" */
			return fail(r, _("「%s」の記録に「%s」がないか、正しくありません"), type, m[i].name);
	return 0;
}

static char *dup_str(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
	return cJSON_IsString(v) && v->valuestring ? strdup(v->valuestring) : NULL;
}

static long num(const cJSON *o, const char *name, long dflt)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
	if (!cJSON_IsNumber(v) || v->valuedouble < -1e9 || v->valuedouble > 1e12)
		return dflt;
	return (long)v->valuedouble;
}

static bool flag(const cJSON *o, const char *name)
{
	return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, name));
}

static void action_free(struct trace_action *a)
{
	free(a->form);
	free(a->dialog);
	free(a->step);
	free(a->key);
	free(a->what);
	free(a->field);
	free(a->text);
	free(a->label);
}

static void answer_free(struct trace_answer *a)
{
	free(a->content_type);
	free(a->body);
}

void trace_run_free(struct trace_run *run)
{
	if (!run)
		return;
	for (size_t i = 0; i < run->nactions; i++)
		action_free(&run->actions[i]);
	for (size_t i = 0; i < run->nanswers; i++)
		answer_free(&run->answers[i]);
	free(run->actions);
	free(run->answers);
	free(run->renkei);
	free(run->lang);
	memset(run, 0, sizeof *run);
}

static int header(struct reader *r, const cJSON *o)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "version");
	if (!cJSON_IsNumber(v))
		return fail(r, _("記録の版（version）がありません"));
	if (v->valuedouble != TRACE_VERSION)
		/* TRANSLATORS: a trace of another format version */
		return fail(r, _("記録の版 %g には対応していません（対応する版: %d）"), v->valuedouble, TRACE_VERSION);
	if (require(r, o, header_members, sizeof header_members / sizeof header_members[0], "trace") < 0)
		return -1;
	trace_run_free(r->run); /* a later run: the last one is replayed */
	struct trace_run *run = r->run;
	run->exit_code = -1;
	run->renkei = dup_str(o, "renkei");
	run->lang = dup_str(o, "lang");
	const cJSON *term = cJSON_GetObjectItemCaseSensitive(o, "terminal");
	run->cols = (int)num(term, "cols", 0);
	run->rows = (int)num(term, "rows", 0);
	const cJSON *opts = cJSON_GetObjectItemCaseSensitive(o, "options");
	run->user_code = cJSON_IsString(cJSON_GetObjectItemCaseSensitive(opts, "user_code"));
	run->unmasked = flag(opts, "unmasked");
	r->step[0] = '\0';
	r->have_header = true;
	return run->renkei && run->lang ? 0 : fail(r, "%s", strerror(ENOMEM));
}

static int action(struct reader *r, const cJSON *o)
{
	if (!kind_ok(cJSON_GetObjectItemCaseSensitive(o, "form"), K_STR) &&
	    !kind_ok(cJSON_GetObjectItemCaseSensitive(o, "dialog"), K_STR))
		return fail(r, _("「%s」の記録に「%s」がないか、正しくありません"), "action", "form");
	struct trace_run *run = r->run;
	struct trace_action *na = realloc(run->actions, (run->nactions + 1) * sizeof *na);
	if (!na)
		return fail(r, "%s", strerror(ENOMEM));
	run->actions = na;
	struct trace_action *a = &na[run->nactions++];
	*a = (struct trace_action){
		.n = num(o, "n", 0), .ms = num(o, "ms", 0), .form = dup_str(o, "form"),
		.dialog = dup_str(o, "dialog"), .step = strdup(r->step), .key = dup_str(o, "key"),
		.what = dup_str(o, "what"), .field = dup_str(o, "field"), .row = num(o, "row", -1),
		.text = dup_str(o, "text"), .secret = flag(o, "secret"), .digits = flag(o, "digits"),
	};
	a->label = dup_str(o, "button");
	if (!a->label)
		a->label = dup_str(o, "answer");
	long count = num(o, "count", -1);
	if (!strcmp(a->key, "text") && (count < 0 || count > 4096 || (!a->text && !a->secret)))
		return fail(r, _("入力の記録に文字数（count）か内容がありません"));
	a->count = count > 0 ? (size_t)count : 0;
	if (a->text && a->count > strlen(a->text))
		a->count = strlen(a->text);
	return a->step && a->key && a->what ? 0 : fail(r, "%s", strerror(ENOMEM));
}

static enum problem problem_by_name(const char *name)
{
	for (int p = 0; name && p < PROBLEM__COUNT; p++)
		if (!strcmp(problem_name((enum problem)p), name))
			return (enum problem)p;
	return PROBLEM_NET_OTHER;
}

static int response(struct reader *r, const cJSON *o)
{
	struct trace_run *run = r->run;
	struct trace_answer *na = realloc(run->answers, (run->nanswers + 1) * sizeof *na);
	if (!na)
		return fail(r, "%s", strerror(ENOMEM));
	run->answers = na;
	struct trace_answer *a = &na[run->nanswers++];
	*a = (struct trace_answer){.status = num(o, "status", 0), .ms = num(o, "ms", 0)};
	if (a->status < 100 || a->status > 599)
		a->status = 0;
	a->failure = a->status ? PROBLEM_NONE : problem_by_name(cJSON_GetStringValue(
						    cJSON_GetObjectItemCaseSensitive(o, "error")));
	a->content_type = dup_str(o, "content_type");
	if (!a->content_type)
		a->content_type = strdup("");
	const cJSON *b = cJSON_GetObjectItemCaseSensitive(o, "body");
	a->body = b ? cJSON_PrintUnformatted(b) : dup_str(o, "body_text");
	if (!a->body)
		a->body = strdup("");
	if (!a->content_type || !a->body)
		return fail(r, "%s", strerror(ENOMEM));
	a->len = strlen(a->body);
	return 0;
}

static int record(struct reader *r, const cJSON *o)
{
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "type");
	if (!cJSON_IsString(t) || !t->valuestring)
		return fail(r, _("記録の種類（type）がありません"));
	const struct rule *rule = NULL;
	for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++)
		if (!strcmp(rules[i].type, t->valuestring))
			rule = &rules[i];
	if (!rule)
		return fail(r, _("知らない種類の記録です: %.40s"), t->valuestring);
	if (require(r, o, rule->m, sizeof rule->m / sizeof rule->m[0], rule->type) < 0)
		return -1;
	if (!strcmp(rule->type, "screen")) {
		snprintf(r->step, sizeof r->step, "%s", cJSON_GetObjectItemCaseSensitive(o, "step")->valuestring);
		return 0;
	}
	if (!strcmp(rule->type, "action"))
		return action(r, o);
	if (!strcmp(rule->type, "response"))
		return response(r, o);
	if (!strcmp(rule->type, "end")) {
		r->run->ended = true;
		r->run->exit_code = (int)num(o, "exit", -1);
	}
	return 0;
}

/* One line (without its '\n'). */
static int line(struct reader *r, const char *p, size_t n)
{
	cJSON *o = cJSON_ParseWithLength(p, n);
	if (!cJSON_IsObject(o)) {
		cJSON_Delete(o);
		return fail(r, _("JSON のオブジェクトではありません"));
	}
	int rc;
	if (cJSON_GetObjectItemCaseSensitive(o, "trace"))
		rc = cJSON_IsString(cJSON_GetObjectItemCaseSensitive(o, "trace")) &&
			     !strcmp(cJSON_GetObjectItemCaseSensitive(o, "trace")->valuestring, "renkei")
			     ? header(r, o)
			     : fail(r, _("renkei の記録ではありません"));
	else if (!r->have_header)
		rc = fail(r, _("先頭行が記録の見出し（{\"trace\":\"renkei\",...}）ではありません"));
	else
		rc = record(r, o);
	cJSON_Delete(o);
	return rc;
}

int trace_parse(const char *name, const char *data, size_t len, struct trace_run *run, char *err, size_t errlen)
{
	memset(run, 0, sizeof *run);
	struct reader r = {.name = name, .err = err, .errlen = errlen, .run = run};
	size_t at = 0;
	int rc = 0;
	while (at < len && rc == 0) {
		r.line++;
		const char *nl = memchr(data + at, '\n', len - at);
		if (!nl) {
			rc = fail(&r, _("行が途中で切れています（改行がありません）"));
			break;
		}
		rc = line(&r, data + at, (size_t)(nl - (data + at)));
		at = (size_t)(nl - data) + 1;
	}
	if (rc == 0 && !r.have_header) {
		r.line = r.line ? r.line : 1;
		rc = fail(&r, _("空のファイルです"));
	} else if (rc == 0 && !run->nactions && !run->nanswers) {
		rc = fail(&r, _("記録された操作も応答もありません"));
	}
	if (rc < 0)
		trace_run_free(run);
	return rc;
}

int trace_read_file(const char *path, struct trace_run *run, char *err, size_t errlen)
{
	memset(run, 0, sizeof *run);
	FILE *f = fopen(path, "rb");
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	char *buf = NULL;
	size_t len = 0, cap = 0;
	for (;;) {
		if (len == cap) {
			cap = cap ? cap * 2 : 65536;
			char *nb = cap <= (size_t)TRACE_MAX_FILE ? realloc(buf, cap) : NULL;
			if (!nb) {
				free(buf);
				fclose(f);
				snprintf(err, errlen, _("%s: 記録ファイルが大きすぎます"), path);
				return -1;
			}
			buf = nb;
		}
		size_t n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (n == 0)
			break;
	}
	bool bad = ferror(f);
	fclose(f);
	int rc = bad ? (snprintf(err, errlen, "%s: %s", path, strerror(EIO)), -1)
		     : trace_parse(path, buf, len, run, err, errlen);
	free(buf);
	return rc;
}
