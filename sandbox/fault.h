/* fault.h: the faults the sandbox injects on purpose (--fault STEP:KIND[:ARG][:once], a scenario's
 * "faults"): parsing them, and which one a request meets. http.c applies them (docs/scenario.md). */
#ifndef SANDBOX_FAULT_H
#define SANDBOX_FAULT_H
#include <stdbool.h>
#include <stddef.h>

enum fault_kind {
	FAULT_LATENCY,  /* ARG ms before the request is processed */
	FAULT_STATUS,   /* answer ARG (a problem; HTML for 502/503) without processing the request */
	FAULT_RESET,    /* process, then close the connection without answering */
	FAULT_TRUNCATE, /* process, then send half the body (Content-Length says the whole) and close */
	FAULT_GARBAGE,  /* process, then answer a body that is not JSON */
	FAULT_SHAPE,    /* process, then answer valid JSON of the wrong shape */
	FAULT_SLOW,     /* process, then send the body a byte at a time, ARG ms apart (default 20) */
	FAULT_KIND_COUNT
};

#define FAULT_STEP_MAX 24
#define FAULT_MAX 32 /* faults in force at once (command line and scenario together) */

struct fault {
	char step[FAULT_STEP_MAX]; /* "pins", or "*" for every step */
	enum fault_kind kind;
	unsigned arg;
	bool once; /* the first matching request only */
	bool fired;
};

struct fault_set {
	struct fault f[FAULT_MAX];
	size_t n;
};

/* Parse "STEP:KIND[:ARG][:once]" into f; false with a message in err (naming the steps or kinds
 * allowed when one is unknown). */
bool fault_parse(const char *spec, struct fault *f, char *err, size_t errlen);
/* Add a parsed fault; false when FAULT_MAX are already set. */
bool fault_add(struct fault_set *fs, const struct fault *f);
/* The step a request is ("pins" for POST /consent/v1/session/pins), or NULL when it is none of the
 * fault steps (metadata, resource API, ...). */
const char *fault_step_of(const char *method, const char *path);
/* The fault this request meets (the first that matches; a `once` one is used up), or false. Not
 * thread-safe: call under a lock. */
bool fault_take(struct fault_set *fs, const char *method, const char *path, struct fault *out);
const char *fault_kind_name(enum fault_kind k);

#endif
