/* trace.h: `--trace FILE`: one JSON line per request/answer of a flow, for support engineers.
 * Secrets never reach it: bodies of login/answer/pins are not written, other members are redacted. */
#ifndef RENKEI_TRACE_H
#define RENKEI_TRACE_H
#include <stdio.h>

#include "flow.h"
#include "options.h"
#include "problem.h"

/* The format written (docs/trace.md); the readers refuse any other. */
#define TRACE_VERSION 1

struct ui_event;

struct trace;

/* Create/append path with mode 0600 (an existing file is refused unless it is a regular file
 * owned by us; it is then chmod'ed 0600). NULL on failure (errno set). */
struct trace *trace_open(const char *path);
void trace_close(struct trace *t);

/* After flow_apply/flow_net_error of r: one line
 * {"time":"2026-11-25T09:00:00.123+09:00","method":"POST","path":"/consent/v1/session/login",
 *  "action":"login","status":401,"ms":12,"step":"login","problem":"wrong-credentials",
 *  "tries_left":2,"body":{...redacted, only for requests without secrets...}}
 * status 0 when there was no answer. t NULL: nothing. */
void trace_request(struct trace *t, const struct flow_req *r, const struct flow *f, long status,
		   long ms);
/* The header line (renkei's version, the terminal's size, the language, the options without
 * secrets; o->trace_unmasked: login ids and account numbers whole), then every screen's keys are
 * recorded (ui_set_observer(trace_observe, t)). */
void trace_start(struct trace *t, const struct options *o);
/* The ui observer: one "action" record per key (characters typed into one entry: one record when
 * something else happens; secret entries: their count only). */
void trace_observe(const struct ui_event *ev, void *ctx);
/* Write the characters typed so far (done by every other record). */
void trace_flush(struct trace *t);
/* Form `form` is about to be shown for f: a "screen" record with the data it shows. */
void trace_screen(struct trace *t, const char *form, const struct flow *f);
/* Right after trace_request: what came back (status > 0: content type and body, redacted and
 * masked), or status 0 and the transport failure. */
void trace_response(struct trace *t, long status, const char *content_type, const char *body, size_t len,
		    long ms, enum problem failure);
/* How the run ended: the flow's step and the exit status. */
void trace_end(struct trace *t, const struct flow *f, int exit_code);
/* A free-form event ("app-start", "lang-switch", ...) with no data. */
void trace_event(struct trace *t, const char *what);

/* Replace, in place, the value of every member whose name is secret (password, answer, pin,
 * pins, session, token, access_token, refresh_token, device_code, login_id, idempotency_key, user_code,
 * authorization) with "[redacted]", at any depth. obj is a cJSON *. */
void trace_redact(void *cjson_obj);

#endif
