/* trace_read.h: reads a --trace file (docs/trace.md, version 1) for --replay: the last run's
 * header, its actions (what to press again) and its answers (what the bank said), in order. A file
 * that is not a trace is refused with "FILE:LINE: what is wrong". Pure: no terminal, no network. */
#ifndef RENKEI_TRACE_READ_H
#define RENKEI_TRACE_READ_H
#include <stdbool.h>
#include <stddef.h>

#include "problem.h"

struct trace_action {
	long n, ms;           /* its number in the run; the customer's time for it */
	char *form, *dialog;  /* one of them is non-NULL */
	char *step;           /* the step of the screen it was done on ("" before any) */
	char *key;            /* "text", or a key name (ui_key_name) */
	char *what;           /* "typed", "pressed", ... */
	char *field;          /* NULL when none */
	long row;             /* -1 when none */
	char *text;           /* typed: what was typed (non-secret fields), else NULL */
	size_t count;         /* typed: how many characters */
	bool secret, digits;  /* typed: a secret field (count only); a digits-only field */
	char *label;          /* pressed/answered: the button or the answer, else NULL */
};

struct trace_answer {
	long status;          /* 0: nothing came back (failure says why) */
	enum problem failure;
	char *content_type;   /* "" when none */
	char *body;           /* the body as JSON text (or the recorded text), NUL-terminated */
	size_t len;
	long ms;
};

struct trace_run {
	char *renkei;         /* the version that wrote it */
	char *lang;           /* "ja" / "en" */
	int cols, rows;
	bool user_code;       /* --user-code was given (the first screen was skipped) */
	bool unmasked;
	struct trace_action *actions;
	size_t nactions;
	struct trace_answer *answers;
	size_t nanswers;
	bool ended;           /* the run has its "end" record */
	int exit_code;        /* from it, else -1 */
};

/* Parse data (a whole file, len bytes) named name: the last run into *run. 0, or -1 with
 * "name:line: what is wrong" (translated) in err and nothing to free. */
int trace_parse(const char *name, const char *data, size_t len, struct trace_run *run, char *err,
		size_t errlen);
/* The same from a file. */
int trace_read_file(const char *path, struct trace_run *run, char *err, size_t errlen);
void trace_run_free(struct trace_run *run);

#endif
