/* test_sb_fault.c: fault specifications (--fault STEP:KIND[:ARG][:once], docs/scenario.md) and the
 * step each request is. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "fault.h"

static void parse_ok(void **state)
{
	static const struct {
		const char *spec, *step;
		enum fault_kind kind;
		unsigned arg;
		bool once;
	} ok[] = {
		{"pins:reset", "pins", FAULT_RESET, 0, false},
		{"pins:reset:once", "pins", FAULT_RESET, 0, true},
		{"token:latency:1500", "token", FAULT_LATENCY, 1500, false},
		{"login:status:503:once", "login", FAULT_STATUS, 503, true},
		{"*:status:500", "*", FAULT_STATUS, 500, false},
		{"decision:slow", "decision", FAULT_SLOW, 20, false},
		{"decision:slow:5:once", "decision", FAULT_SLOW, 5, true},
		{"device_authorization:truncate", "device_authorization", FAULT_TRUNCATE, 0, false},
		{"pin_result:garbage", "pin_result", FAULT_GARBAGE, 0, false},
		{"cancel:shape:once", "cancel", FAULT_SHAPE, 0, true},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		struct fault f;
		char err[512] = "";
		if (!fault_parse(ok[i].spec, &f, err, sizeof(err)))
			fail_msg("%s refused: %s", ok[i].spec, err);
		assert_string_equal(f.step, ok[i].step);
		assert_int_equal(f.kind, ok[i].kind);
		assert_int_equal(f.arg, ok[i].arg);
		assert_int_equal(f.once, ok[i].once);
	}
}

static void parse_bad(void **state)
{
	static const struct {
		const char *spec, *want;
	} bad[] = {
		{"pins", "--fault pins: expected STEP:KIND[:ARG][:once]"},
		{":reset", "--fault :reset: expected STEP:KIND[:ARG][:once]"},
		{"pin:reset", "--fault pin:reset: unknown step \"pin\" (steps: device_authorization, token, revoke, "
			      "session, cancel, login, answer, scopes, pins, pin_result, back, decision, *)"},
		{"pins:boom", "--fault pins:boom: unknown kind \"boom\" (kinds: latency, status, reset, truncate, "
			      "garbage, shape, slow)"},
		{"pins:latency", "--fault pins:latency: latency needs milliseconds (1-60000)"},
		{"pins:latency:once", "--fault pins:latency:once: latency needs milliseconds (1-60000)"},
		{"pins:latency:0", "--fault pins:latency:0: latency needs milliseconds (1-60000)"},
		{"pins:latency:60001", "--fault pins:latency:60001: latency needs milliseconds (1-60000)"},
		{"pins:status:200", "--fault pins:status:200: status needs an HTTP status (400-599)"},
		{"pins:status:5x0", "--fault pins:status:5x0: status needs an HTTP status (400-599)"},
		{"pins:reset:3", "--fault pins:reset:3: reset takes no value"},
		{"pins:slow:0", "--fault pins:slow:0: slow needs milliseconds per byte (1-1000)"},
		{"pins:latency:5:twice", "--fault pins:latency:5:twice: expected STEP:KIND[:ARG][:once]"},
		{"pins:latency:5:once:x", "--fault pins:latency:5:once:x: expected STEP:KIND[:ARG][:once]"},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct fault f;
		char err[512] = "";
		if (fault_parse(bad[i].spec, &f, err, sizeof(err)))
			fail_msg("%s accepted", bad[i].spec);
		assert_string_equal(err, bad[i].want);
	}
}

static void steps_of_requests(void **state)
{
	(void)state;
	assert_string_equal(fault_step_of("POST", "/consent/v1/session/pins"), "pins");
	assert_string_equal(fault_step_of("POST", "/consent/v1/sessions"), "session");
	assert_string_equal(fault_step_of("GET", "/consent/v1/session"), "session");
	assert_string_equal(fault_step_of("DELETE", "/consent/v1/session"), "cancel");
	assert_string_equal(fault_step_of("POST", "/consent/v1/session/pin-result"), "pin_result");
	assert_string_equal(fault_step_of("POST", "/oauth/token"), "token");
	assert_null(fault_step_of("GET", "/v1/accounts"));
	assert_null(fault_step_of("GET", "/.well-known/oauth-authorization-server"));
	assert_null(fault_step_of("GET", "/consent/v1/session/pins"));
}

/* The first fault that matches wins; a `once` one is used up by its first request. */
static void taking(void **state)
{
	struct fault_set fs;
	struct fault f, got;
	char err[256];
	(void)state;

	memset(&fs, 0, sizeof(fs));
	assert_false(fault_take(&fs, "POST", "/consent/v1/session/pins", &got));
	assert_true(fault_parse("pins:reset:once", &f, err, sizeof(err)) && fault_add(&fs, &f));
	assert_true(fault_parse("*:latency:5", &f, err, sizeof(err)) && fault_add(&fs, &f));
	assert_true(fault_take(&fs, "POST", "/consent/v1/session/pins", &got));
	assert_int_equal(got.kind, FAULT_RESET);
	assert_true(fault_take(&fs, "POST", "/consent/v1/session/pins", &got));
	assert_int_equal(got.kind, FAULT_LATENCY);
	assert_true(fault_take(&fs, "POST", "/oauth/token", &got));
	assert_int_equal(got.kind, FAULT_LATENCY);
	assert_false(fault_take(&fs, "GET", "/v1/accounts", &got));
	for (size_t i = fs.n; i < FAULT_MAX; i++)
		assert_true(fault_add(&fs, &f));
	assert_false(fault_add(&fs, &f));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parse_ok),
		cmocka_unit_test(parse_bad),
		cmocka_unit_test(steps_of_requests),
		cmocka_unit_test(taking),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
