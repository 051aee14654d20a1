/* test_options.c: the option table, environment and config-file parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"

static void argv_basic(void **state)
{
	(void)state;
	struct options o;
	struct opt_err e;
	options_defaults(&o);
	char *argv[] = {"renkei", "--server", "https://127.0.0.1:8443", "--lang=en", "--kiosk",
			"--timeout", "12", "--user-code", "wdjb-mjht", NULL};
	assert_int_equal(options_parse_argv(&o, 9, argv, &e), 0);
	assert_string_equal(o.server, "https://127.0.0.1:8443");
	assert_string_equal(o.lang, "en");
	assert_true(o.kiosk);
	assert_int_equal(o.timeout, 12);
	assert_string_equal(o.user_code, "wdjb-mjht");
	assert_int_equal(options_validate(&o, &e), 0);
	options_free(&o);
}

static void argv_errors(void **state)
{
	(void)state;
	struct options o;
	struct opt_err e;
	char *a1[] = {"renkei", "--nope"};
	options_defaults(&o);
	assert_int_equal(options_parse_argv(&o, 2, a1, &e), -1);
	assert_non_null(strstr(e.msg, "--nope"));
	char *a2[] = {"renkei", "--server"};
	assert_int_equal(options_parse_argv(&o, 2, a2, &e), -1);
	assert_non_null(strstr(e.msg, "--server"));
	char *a3[] = {"renkei", "--timeout", "0"};
	assert_int_equal(options_parse_argv(&o, 3, a3, &e), -1);
	char *a4[] = {"renkei", "positional"};
	assert_int_equal(options_parse_argv(&o, 2, a4, &e), -1);
	char *a5[] = {"renkei", "--server", "http://plain", "--lang", "fr"};
	assert_int_equal(options_parse_argv(&o, 5, a5, &e), 0);
	assert_int_equal(options_validate(&o, &e), -1);
	assert_non_null(strstr(e.msg, "fr"));
	free(o.lang);
	o.lang = NULL;
	assert_int_equal(options_validate(&o, &e), -1);
	assert_non_null(strstr(e.msg, "http://plain"));
	options_free(&o);
}

static void precedence(void **state)
{
	(void)state;
	struct options o;
	struct opt_err e;
	options_defaults(&o);
	char *argv[] = {"renkei", "--server", "https://cli", "--timeout", "7"};
	assert_int_equal(options_parse_argv(&o, 5, argv, &e), 0);
	char *envp[] = {"RENKEI_SERVER=https://env", "RENKEI_CACERT=/env/ca.crt", NULL};
	options_apply_env(&o, envp);
	assert_string_equal(o.server, "https://cli");
	assert_string_equal(o.cacert, "/env/ca.crt");
	const char *cfg = "# comment\nserver = https://cfg\ncacert=/cfg/ca\ntimeout = 99\n"
			  "lang = \"en\"\n\nkiosk = yes\n";
	assert_int_equal(options_parse_config(&o, "c", cfg, strlen(cfg), &e), 0);
	assert_string_equal(o.server, "https://cli");
	assert_string_equal(o.cacert, "/env/ca.crt");
	assert_int_equal(o.timeout, 7);
	assert_string_equal(o.lang, "en");
	assert_true(o.kiosk);
	options_free(&o);
}

static void config_errors(void **state)
{
	(void)state;
	struct options o;
	struct opt_err e;
	options_defaults(&o);
	const char *bad1 = "server = https://x\nbogus = 1\n";
	assert_int_equal(options_parse_config(&o, "f.conf", bad1, strlen(bad1), &e), -1);
	assert_string_equal(e.msg, "f.conf:2: 不明な設定です: bogus");
	/* never half-applied */
	assert_null(o.server);
	const char *bad2 = "server https://x\n";
	assert_int_equal(options_parse_config(&o, "f.conf", bad2, strlen(bad2), &e), -1);
	assert_non_null(strstr(e.msg, "f.conf:1:"));
	const char *bad3 = "user-code = ABCD\n"; /* not allowed in a config file */
	assert_int_equal(options_parse_config(&o, "f.conf", bad3, strlen(bad3), &e), -1);
	const char *bad4 = "timeout = many\n";
	assert_int_equal(options_parse_config(&o, "f.conf", bad4, strlen(bad4), &e), -1);
	assert_non_null(strstr(e.msg, "f.conf:1: timeout"));
	/* a repeated key whose last value is bad (found by fuzz_config: was a double free) */
	const char rep[] = "lang==\nlang====\nlang=";
	assert_int_equal(options_parse_config(&o, "f.conf", rep, sizeof rep - 1, &e), -1);
	assert_null(o.lang);
	const char nul[] = "server = a\0b\n";
	assert_int_equal(options_parse_config(&o, "f.conf", nul, sizeof nul - 1, &e), -1);
	options_free(&o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(argv_basic),
		cmocka_unit_test(argv_errors),
		cmocka_unit_test(precedence),
		cmocka_unit_test(config_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
