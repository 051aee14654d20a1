/* fault.c: fault specifications (STEP:KIND[:ARG][:once]) and the step each request is. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fault.h"

/* The steps a fault can name: each is one request of protocol §2 and §4. */
static const struct {
	const char *name;
	const char *method;
	const char *path;
} steps[] = {
	{"device_authorization", "POST", "/oauth/device_authorization"},
	{"token", "POST", "/oauth/token"},
	{"revoke", "POST", "/oauth/revoke"},
	{"session", "POST", "/consent/v1/sessions"},
	{"session", "GET", "/consent/v1/session"},
	{"cancel", "DELETE", "/consent/v1/session"},
	{"login", "POST", "/consent/v1/session/login"},
	{"answer", "POST", "/consent/v1/session/answer"},
	{"scopes", "POST", "/consent/v1/session/scopes"},
	{"pins", "POST", "/consent/v1/session/pins"},
	{"pin_result", "POST", "/consent/v1/session/pin-result"},
	{"back", "POST", "/consent/v1/session/back"},
	{"decision", "POST", "/consent/v1/session/decision"},
};
#define NSTEPS (sizeof(steps) / sizeof(steps[0]))

enum arg_rule { ARG_NONE, ARG_REQUIRED, ARG_OPTIONAL };

static const struct {
	const char *name;
	enum arg_rule arg;
	unsigned min, max, def;
	const char *what; /* what ARG is, for the error message */
} kinds[FAULT_KIND_COUNT] = {
	[FAULT_LATENCY] = {"latency", ARG_REQUIRED, 1, 60000, 0, "milliseconds (1-60000)"},
	[FAULT_STATUS] = {"status", ARG_REQUIRED, 400, 599, 0, "an HTTP status (400-599)"},
	[FAULT_RESET] = {"reset", ARG_NONE, 0, 0, 0, NULL},
	[FAULT_TRUNCATE] = {"truncate", ARG_NONE, 0, 0, 0, NULL},
	[FAULT_GARBAGE] = {"garbage", ARG_NONE, 0, 0, 0, NULL},
	[FAULT_SHAPE] = {"shape", ARG_NONE, 0, 0, 0, NULL},
	[FAULT_SLOW] = {"slow", ARG_OPTIONAL, 1, 1000, 20, "milliseconds per byte (1-1000)"},
};

const char *fault_kind_name(enum fault_kind k)
{
	return k < FAULT_KIND_COUNT ? kinds[k].name : "?";
}

const char *fault_step_of(const char *method, const char *path)
{
	for (size_t i = 0; i < NSTEPS; i++)
		if (strcmp(steps[i].method, method) == 0 && strcmp(steps[i].path, path) == 0)
			return steps[i].name;
	return NULL;
}

static bool step_known(const char *s)
{
	if (strcmp(s, "*") == 0)
		return true;
	for (size_t i = 0; i < NSTEPS; i++)
		if (strcmp(steps[i].name, s) == 0)
			return true;
	return false;
}

/* Digits only, within [min, max]; false otherwise. */
static bool parse_uint(const char *s, size_t n, unsigned min, unsigned max, unsigned *out)
{
	unsigned long v = 0;

	if (n == 0 || n > 6)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v < min || v > max)
		return false;
	*out = (unsigned)v;
	return true;
}

static void list_names(char *out, size_t outlen, bool of_steps)
{
	size_t o = 0;

	out[0] = '\0';
	for (size_t i = 0; i < (of_steps ? NSTEPS : FAULT_KIND_COUNT) && o + 1 < outlen; i++) {
		const char *n = of_steps ? steps[i].name : kinds[i].name;
		if (of_steps && i > 0 && strcmp(steps[i - 1].name, n) == 0)
			continue;
		int w = snprintf(out + o, outlen - o, "%s%s", o ? ", " : "", n);
		if (w < 0)
			break;
		o += (size_t)w;
	}
	if (of_steps && o + 1 < outlen)
		snprintf(out + o, outlen - o, ", *");
}

bool fault_parse(const char *spec, struct fault *f, char *err, size_t errlen)
{
	const char *parts[5];
	size_t lens[5], np = 0;
	char names[256];

	memset(f, 0, sizeof(*f));
	for (const char *p = spec;; np++) {
		const char *colon = strchr(p, ':');
		if (np == 4) {
			snprintf(err, errlen, "--fault %s: expected STEP:KIND[:ARG][:once]", spec);
			return false;
		}
		parts[np] = p;
		lens[np] = colon ? (size_t)(colon - p) : strlen(p);
		if (!colon) {
			np++;
			break;
		}
		p = colon + 1;
	}
	if (np < 2 || lens[0] == 0 || lens[0] >= FAULT_STEP_MAX) {
		snprintf(err, errlen, "--fault %s: expected STEP:KIND[:ARG][:once]", spec);
		return false;
	}
	memcpy(f->step, parts[0], lens[0]);
	f->step[lens[0]] = '\0';
	if (!step_known(f->step)) {
		list_names(names, sizeof(names), true);
		snprintf(err, errlen, "--fault %s: unknown step \"%s\" (steps: %s)", spec, f->step, names);
		return false;
	}
	size_t k = 0;
	while (k < FAULT_KIND_COUNT && !(strlen(kinds[k].name) == lens[1] && !strncmp(kinds[k].name, parts[1], lens[1])))
		k++;
	if (k == FAULT_KIND_COUNT) {
		list_names(names, sizeof(names), false);
		snprintf(err, errlen, "--fault %s: unknown kind \"%.*s\" (kinds: %s)", spec, (int)lens[1], parts[1],
			 names);
		return false;
	}
	f->kind = (enum fault_kind)k;
	size_t i = 2;
	if (np > 2 && lens[np - 1] == 4 && strncmp(parts[np - 1], "once", 4) == 0) {
		f->once = true;
		np--;
	}
	f->arg = kinds[k].def;
	if (np > i && (kinds[k].arg == ARG_NONE ||
		       !parse_uint(parts[i], lens[i], kinds[k].min, kinds[k].max, &f->arg))) {
		if (kinds[k].arg == ARG_NONE)
			snprintf(err, errlen, "--fault %s: %s takes no value", spec, kinds[k].name);
		else
			snprintf(err, errlen, "--fault %s: %s needs %s", spec, kinds[k].name, kinds[k].what);
		return false;
	}
	if (np > i)
		i++;
	if (np == i && kinds[k].arg == ARG_REQUIRED && i == 2) {
		snprintf(err, errlen, "--fault %s: %s needs %s", spec, kinds[k].name, kinds[k].what);
		return false;
	}
	if (np > i) {
		snprintf(err, errlen, "--fault %s: expected STEP:KIND[:ARG][:once]", spec);
		return false;
	}
	return true;
}

bool fault_add(struct fault_set *fs, const struct fault *f)
{
	if (fs->n >= FAULT_MAX)
		return false;
	fs->f[fs->n++] = *f;
	return true;
}

bool fault_take(struct fault_set *fs, const char *method, const char *path, struct fault *out)
{
	const char *step = fs->n ? fault_step_of(method, path) : NULL;

	if (!step)
		return false;
	for (size_t i = 0; i < fs->n; i++) {
		struct fault *f = &fs->f[i];
		if ((f->once && f->fired) || (strcmp(f->step, "*") != 0 && strcmp(f->step, step) != 0))
			continue;
		f->fired = true;
		*out = *f;
		return true;
	}
	return false;
}
