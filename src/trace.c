/* trace.c: the redacted JSONL trace of a flow (see include/trace.h). */
#include "trace.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

struct trace {
	FILE *f;
};

static const char *const secret_names[] = {
	"password", "answer", "pin", "pins", "session", "token", "access_token",
	"refresh_token", "device_code", "login_id", "idempotency_key", "user_code", "authorization",
	"token_pin", "secret",
};

static bool is_secret_name(const char *n)
{
	if (!n)
		return false;
	for (size_t i = 0; i < sizeof secret_names / sizeof secret_names[0]; i++)
		if (strcasecmp(n, secret_names[i]) == 0)
			return true;
	return false;
}

void trace_redact(void *obj)
{
	cJSON *o = obj, *c;
	if (!o || !(cJSON_IsObject(o) || cJSON_IsArray(o)))
		return;
	for (c = o->child; c; c = c->next) {
		if (cJSON_IsObject(o) && is_secret_name(c->string)) {
			cJSON *r = cJSON_CreateString("[redacted]");
			size_t n = strlen(c->string) + 1;
			char *name = r ? cJSON_malloc(n) : NULL;
			if (name) {
				memcpy(name, c->string, n);
				r->string = name; /* ReplaceItemViaPointer keeps no name */
			}
			if (r && name && cJSON_ReplaceItemViaPointer(o, c, r))
				c = r;
			else {
				cJSON_Delete(r);
				/* could not replace: at least empty it */
				if (cJSON_IsString(c) && c->valuestring)
					explicit_bzero(c->valuestring, strlen(c->valuestring));
				else if (cJSON_IsNumber(c))
					cJSON_SetNumberValue(c, 0);
			}
			continue;
		}
		trace_redact(c);
	}
}

struct trace *trace_open(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return NULL;
	struct stat st;
	int e = 0;
	if (fstat(fd, &st) < 0 || fchmod(fd, 0600) < 0)
		e = errno;
	else if (!S_ISREG(st.st_mode) || st.st_uid != geteuid())
		e = EPERM;
	if (e) {
		close(fd);
		errno = e;
		return NULL;
	}
	struct trace *t = calloc(1, sizeof *t);
	if (!t || !(t->f = fdopen(fd, "a"))) {
		e = errno;
		free(t);
		close(fd);
		errno = e;
		return NULL;
	}
	return t;
}

void trace_close(struct trace *t)
{
	if (!t)
		return;
	fclose(t->f);
	free(t);
}

static void add_time(cJSON *o)
{
	struct timeval tv;
	struct tm tm;
	char buf[64], tz[8];
	gettimeofday(&tv, NULL);
	localtime_r(&tv.tv_sec, &tm);
	strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
	strftime(tz, sizeof tz, "%z", &tm); /* +0900 */
	size_t n = strlen(buf);
	snprintf(buf + n, sizeof buf - n, ".%03ld%.3s:%.2s", (long)(tv.tv_usec / 1000), tz,
		 tz[0] ? tz + 3 : "00");
	cJSON_AddStringToObject(o, "time", buf);
}

static void emit(struct trace *t, cJSON *o)
{
	char *s = o ? cJSON_PrintUnformatted(o) : NULL;
	if (s) {
		fprintf(t->f, "%s\n", s);
		fflush(t->f);
		cJSON_free(s);
	}
	cJSON_Delete(o);
}

void trace_request(struct trace *t, const struct flow_req *r, const struct flow *f, long status,
		   long ms)
{
	if (!t || !r)
		return;
	cJSON *o = cJSON_CreateObject();
	if (!o)
		return;
	add_time(o);
	cJSON_AddStringToObject(o, "method", flow_method_name(r->method));
	cJSON_AddStringToObject(o, "path", r->path ? r->path : "");
	cJSON_AddStringToObject(o, "action", flow_action_name(r->action));
	if (status > 0)
		cJSON_AddNumberToObject(o, "status", (double)status);
	else
		cJSON_AddNullToObject(o, "status");
	cJSON_AddNumberToObject(o, "ms", (double)ms);
	if (f) {
		cJSON_AddStringToObject(o, "step", flow_step_name(f->step));
		if (f->error.kind != PROBLEM_NONE) {
			cJSON_AddStringToObject(o, "problem", problem_name(f->error.kind));
			if (f->error.tries_left >= 0)
				cJSON_AddNumberToObject(o, "tries_left", f->error.tries_left);
			if (f->error.retry_after >= 0)
				cJSON_AddNumberToObject(o, "retry_after", (double)f->error.retry_after);
			if (f->error.step != FLOW_NONE)
				cJSON_AddStringToObject(o, "server_step", flow_step_name(f->error.step));
		}
	}
	/* Bodies of requests that carry a secret are never written, not even redacted. */
	if (r->body && !r->secret_body && r->action != FLOW_ACT_LOGIN &&
	    r->action != FLOW_ACT_ANSWER && r->action != FLOW_ACT_PINS) {
		cJSON *b = cJSON_ParseWithLength(r->body, r->body_len);
		if (b) {
			trace_redact(b);
			cJSON_AddItemToObject(o, "body", b);
		}
	}
	emit(t, o);
}

void trace_event(struct trace *t, const char *what)
{
	if (!t)
		return;
	cJSON *o = cJSON_CreateObject();
	if (!o)
		return;
	add_time(o);
	cJSON_AddStringToObject(o, "event", what ? what : "");
	emit(t, o);
}
