/* test_options.c: the option table, the environment, the config-file parser, the order of the sources
 * (options_load with real files in a scratch directory), the kiosk rule and --print-config. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <locale.h>
#include <sys/stat.h>
#include <unistd.h>

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
	assert_string_equal(e.msg, "不明なオプションです: --nope");
	char *a1b[] = {"renkei", "--servr"}; /* a near miss gets a suggestion */
	assert_int_equal(options_parse_argv(&o, 2, a1b, &e), -1);
	assert_string_equal(e.msg, "不明なオプションです: --servr（--server のことですか？）");
	char *a2[] = {"renkei", "--server"};
	assert_int_equal(options_parse_argv(&o, 2, a2, &e), -1);
	assert_non_null(strstr(e.msg, "--server"));
	char *a3[] = {"renkei", "--timeout", "0"};
	assert_int_equal(options_parse_argv(&o, 3, a3, &e), -1);
	char *a4[] = {"renkei", "positional"};
	assert_int_equal(options_parse_argv(&o, 2, a4, &e), -1);
	char *a4b[] = {"renkei", "--help=yes"};
	assert_int_equal(options_parse_argv(&o, 2, a4b, &e), -1);
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

static void env_values(void **state)
{
	(void)state;
	struct options o;
	struct opt_err e;
	options_defaults(&o);
	char *envp[] = {"RENKEI_SERVER=https://env", "RENKEI_TIMEOUT=45", "RENKEI_KIOSK=yes", "RENKEI_LANG=",
			"RENKEI_UNRELATED=1", NULL};
	assert_int_equal(options_apply_env(&o, envp, &e), 0);
	assert_string_equal(o.server, "https://env");
	assert_int_equal(o.timeout, 45);
	assert_true(o.kiosk);
	assert_null(o.lang); /* empty counts as unset */
	char *bad[] = {"RENKEI_CONNECT_TIMEOUT=soon", NULL};
	assert_int_equal(options_apply_env(&o, bad, &e), -1);
	assert_string_equal(e.msg, "RENKEI_CONNECT_TIMEOUT: 1 から 300 までの数を指定してください");
	options_free(&o);
}

static void config_syntax(void **state)
{
	(void)state;
	struct options o;
	struct opt_err e;
	options_defaults(&o);
	const char *cfg = "# comment\n  \n\tserver = https://cfg  \r\ncacert=/cfg/ca\ntimeout = 99\n"
			  "lang = \"en\"\n\nkiosk = yes\nidle-timeout=600";
	assert_int_equal(options_parse_config(&o, OPT_SRC_CONFIG, "c.conf", cfg, strlen(cfg), &e), 0);
	assert_string_equal(o.server, "https://cfg");
	assert_string_equal(o.cacert, "/cfg/ca");
	assert_int_equal(o.timeout, 99);
	assert_string_equal(o.lang, "en");
	assert_true(o.kiosk);
	assert_int_equal(o.idle_timeout, 600);
	assert_string_equal(o.file[OPT_SRC_CONFIG - OPT_SRC_SYSTEM], "c.conf");
	/* a later file overrides */
	const char *cfg2 = "timeout = 5\n";
	assert_int_equal(options_parse_config(&o, OPT_SRC_USER, "u", cfg2, strlen(cfg2), &e), 0);
	assert_int_equal(o.timeout, 5);
	assert_string_equal(o.server, "https://cfg");
	options_free(&o);
}

static void config_error(const char *text, size_t len, const char *want)
{
	struct options o;
	struct opt_err e;
	options_defaults(&o);
	assert_int_equal(options_parse_config(&o, OPT_SRC_CONFIG, "f.conf", text, len, &e), -1);
	assert_string_equal(e.msg, want);
	/* never half-applied */
	assert_null(o.server);
	assert_int_equal(o.timeout, 30);
	assert_null(o.file[OPT_SRC_CONFIG - OPT_SRC_SYSTEM]);
	options_free(&o);
}
#define CONFIG_ERROR(text, want) config_error(text, sizeof text - 1, want)

static void config_errors(void **state)
{
	(void)state;
	CONFIG_ERROR("server = https://x\ntimeout = 3\nbogus = 1\n", "f.conf:3: 不明な設定です: bogus");
	CONFIG_ERROR("server = https://x\ncacret = /a\n", "f.conf:2: 不明な設定です: cacret（cacert のことですか？）");
	CONFIG_ERROR("idle_timeout = 30\n", "f.conf:1: 不明な設定です: idle_timeout（idle-timeout のことですか？）");
	CONFIG_ERROR("server https://x\n", "f.conf:1: 「名前 = 値」の形で書いてください");
	CONFIG_ERROR(" = x\n", "f.conf:1: 「名前 = 値」の形で書いてください");
	CONFIG_ERROR("user-code = ABCD\n",
		     "f.conf:1: user-code は設定ファイルには書けません（コマンドラインの --user-code で指定してください）");
	CONFIG_ERROR("server = https://x\ntimeout = many\n", "f.conf:2: timeout: 1 から 600 までの数を指定してください");
	CONFIG_ERROR("kiosk = maybe\n", "f.conf:1: kiosk: yes か no を指定してください: maybe");
	CONFIG_ERROR("server =\n", "f.conf:1: server: 値が空です");
	CONFIG_ERROR("timeout = 3\n\ntimeout = 4\n", "f.conf:3: timeout は 1 行目ですでに設定されています");
	/* a repeated key whose last value is bad (found by fuzz_config: was a double free) */
	CONFIG_ERROR("lang==\nlang====\nlang=", "f.conf:2: lang は 1 行目ですでに設定されています");
	CONFIG_ERROR("server = a\0b\n", "f.conf:1: 不正な文字があります");
	char longl[1100];
	memset(longl, 'x', sizeof longl);
	memcpy(longl, "server = ", 9);
	config_error(longl, sizeof longl, "f.conf:1: 行が長すぎます");
}

/* A scratch directory with files for options_load. */
static char scratch[64];

static void put(const char *rel, const char *text)
{
	char path[256];
	snprintf(path, sizeof path, "%s/%s", scratch, rel);
	for (char *slash = strchr(path + strlen(scratch) + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		mkdir(path, 0700);
		*slash = '/';
	}
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int setup_dir(void **state)
{
	(void)state;
	setlocale(LC_ALL, "C.UTF-8"); /* display widths of the --print-config columns */
	snprintf(scratch, sizeof scratch, "/tmp/rk-opt-XXXXXX");
	return mkdtemp(scratch) ? 0 : -1;
}

static int teardown_dir(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", scratch);
	return system(cmd) == 0 ? 0 : -1;
}

struct load_env {
	char sys[128], xdg[128];
	char *envp[8];
};

static char **mkenv(struct load_env *le, char *const *extra)
{
	snprintf(le->sys, sizeof le->sys, "RENKEI_SYSCONFDIR=%s/etc", scratch);
	snprintf(le->xdg, sizeof le->xdg, "XDG_CONFIG_HOME=%s/xdg", scratch);
	size_t n = 0;
	le->envp[n++] = le->sys;
	le->envp[n++] = le->xdg;
	for (; extra && *extra && n < 7; extra++)
		le->envp[n++] = *extra;
	le->envp[n] = NULL;
	return le->envp;
}

static const char *origin_file(const struct options *o, unsigned src)
{
	return o->file[src - OPT_SRC_SYSTEM];
}

static void load_precedence(void **state)
{
	(void)state;
	put("etc/renkei.conf", "server = https://sys\ntimeout = 11\nconnect-timeout = 12\nlang = ja\n"
			       "idle-timeout = 100\nforms-dir = /sys/forms\n");
	put("xdg/renkei/config", "# mine\ntimeout = 21\nconnect-timeout = 22\nlang = en\nidle-timeout = 200\n");
	put("extra.conf", "connect-timeout = 32\nlang = ja\nidle-timeout = 300\n");
	char conf[128];
	snprintf(conf, sizeof conf, "%s/extra.conf", scratch);
	char *extra[] = {"RENKEI_LANG=en", "RENKEI_IDLE_TIMEOUT=400", NULL};
	struct load_env le;
	char **envp = mkenv(&le, extra);
	char *argv[] = {"renkei", "--config", conf, "--idle-timeout", "500"};
	struct options o;
	struct opt_err e;
	options_defaults(&o);
	assert_int_equal(options_load(&o, 5, argv, envp, &e), 0);
	/* each setting from the last source that set it */
	assert_string_equal(o.forms_dir, "/sys/forms");
	assert_string_equal(o.server, "https://sys");
	assert_int_equal(o.timeout, 21);
	assert_int_equal(o.connect_timeout, 32);
	assert_string_equal(o.lang, "en");
	assert_int_equal(o.idle_timeout, 500);
	assert_null(o.cacert);
	/* --print-config says where each came from */
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	options_print(f, &o);
	fclose(f);
	char want[256];
	snprintf(want, sizeof want, "server           https://sys                       # %s:1\n",
		 origin_file(&o, OPT_SRC_SYSTEM));
	assert_non_null(strstr(buf, want));
	snprintf(want, sizeof want, "timeout          21                                # %s:2\n",
		 origin_file(&o, OPT_SRC_USER));
	assert_non_null(strstr(buf, want));
	snprintf(want, sizeof want, "connect-timeout  32                                # %s:1\n", conf);
	assert_non_null(strstr(buf, want));
	assert_non_null(strstr(buf, "lang             en                                # RENKEI_LANG\n"));
	assert_non_null(strstr(buf, "idle-timeout     500                               # --idle-timeout\n"));
	assert_non_null(strstr(buf, "cacert           （未設定）                        # 既定値\n"));
	free(buf);
	options_free(&o);
}

static void load_errors(void **state)
{
	(void)state;
	struct load_env le;
	char **envp = mkenv(&le, NULL);
	struct options o;
	struct opt_err e;
	char want[256];
	/* a bad system file stops renkei, with its path and line */
	put("etc/renkei.conf", "server = https://sys\nservr = x\n");
	put("xdg/renkei/config", "timeout = 3\n");
	char *argv[] = {"renkei", "--timeout", "4"};
	options_defaults(&o);
	assert_int_equal(options_load(&o, 3, argv, envp, &e), -1);
	snprintf(want, sizeof want, "%s/etc/renkei.conf:2: 不明な設定です: servr（server のことですか？）", scratch);
	assert_string_equal(e.msg, want);
	options_free(&o);
	/* --help reads no file */
	char *help[] = {"renkei", "--help"};
	options_defaults(&o);
	assert_int_equal(options_load(&o, 2, help, envp, &e), 0);
	assert_true(o.help);
	options_free(&o);
	/* a missing --config file is an error, missing default files are not */
	put("etc/renkei.conf", "");
	char *miss[] = {"renkei", "--config", "/nonexistent/renkei.conf"};
	options_defaults(&o);
	assert_int_equal(options_load(&o, 3, miss, envp, &e), -1);
	assert_non_null(strstr(e.msg, "/nonexistent/renkei.conf: 設定ファイルを開けません"));
	options_free(&o);
	char *env_conf[] = {"RENKEI_CONFIG=/nonexistent/env.conf", NULL};
	envp = mkenv(&le, env_conf);
	options_defaults(&o);
	assert_int_equal(options_load(&o, 1, argv, envp, &e), -1);
	assert_non_null(strstr(e.msg, "/nonexistent/env.conf"));
	options_free(&o);
	/* a directory is not a config file */
	snprintf(want, sizeof want, "%s/etc", scratch);
	char *dir[] = {"renkei", "--config", want};
	envp = mkenv(&le, NULL);
	options_defaults(&o);
	assert_int_equal(options_load(&o, 3, dir, envp, &e), -1);
	options_free(&o);
}

static void kiosk_rule(void **state)
{
	(void)state;
	struct options o;
	struct opt_err e;
	char conf[128];
	snprintf(conf, sizeof conf, "%s/kiosk.conf", scratch);
	put("kiosk.conf", "kiosk = yes\nserver = https://bank\n");
	put("etc/renkei.conf", "");
	put("xdg/renkei/config", "");
	struct load_env le;
	char *argv[] = {"renkei", "--config", conf};
	/* the trusted sources may set everything */
	options_defaults(&o);
	assert_int_equal(options_load(&o, 3, argv, mkenv(&le, NULL), &e), 0);
	assert_true(o.kiosk);
	options_free(&o);
	/* the environment may not point a kiosk at another server or CA... */
	char *env_server[] = {"RENKEI_CACERT=/tmp/evil.pem", NULL};
	options_defaults(&o);
	assert_int_equal(options_load(&o, 3, argv, mkenv(&le, env_server), &e), -1);
	assert_non_null(strstr(e.msg, "RENKEI_CACERT: キオスクモードでは cacert を環境変数から設定できません"));
	options_free(&o);
	/* ...nor turn kiosk mode off */
	char *env_off[] = {"RENKEI_KIOSK=no", NULL};
	options_defaults(&o);
	assert_int_equal(options_load(&o, 3, argv, mkenv(&le, env_off), &e), -1);
	assert_string_equal(e.msg, "RENKEI_KIOSK: キオスクモードは環境変数では解除できません");
	options_free(&o);
	/* the user's own file neither */
	put("xdg/renkei/config", "lang = en\npkcs11-module = /home/k/evil.so\n");
	options_defaults(&o);
	assert_int_equal(options_load(&o, 3, argv, mkenv(&le, NULL), &e), -1);
	assert_non_null(strstr(e.msg, "/xdg/renkei/config:2: キオスクモードでは pkcs11-module を利用者の設定ファイルから"));
	options_free(&o);
	/* settings that are not trusted ones may come from anywhere */
	put("xdg/renkei/config", "lang = en\n");
	char *env_ok[] = {"RENKEI_TIMEOUT=40", NULL};
	options_defaults(&o);
	assert_int_equal(options_load(&o, 3, argv, mkenv(&le, env_ok), &e), 0);
	assert_int_equal(o.timeout, 40);
	assert_string_equal(o.lang, "en");
	options_free(&o);
	/* a kiosk turned on by the environment gets the rule too; the command line may set the server */
	char *env_kiosk[] = {"RENKEI_KIOSK=1", "RENKEI_SERVER=https://env", NULL};
	char *plain[] = {"renkei", "--server", "https://cli"};
	options_defaults(&o);
	assert_int_equal(options_load(&o, 1, plain, mkenv(&le, env_kiosk), &e), -1);
	assert_non_null(strstr(e.msg, "RENKEI_SERVER: "));
	options_free(&o);
	options_defaults(&o); /* overridden by the command line: the environment's value is not used */
	assert_int_equal(options_load(&o, 3, plain, mkenv(&le, env_kiosk), &e), 0);
	assert_true(o.kiosk);
	assert_string_equal(o.server, "https://cli");
	options_free(&o);
	/* the system file chosen by RENKEI_SYSCONFDIR (tests only) is not trusted in kiosk mode */
	put("etc/renkei.conf", "server = https://sys\n");
	options_defaults(&o);
	char *kiosk_flag[] = {"renkei", "--kiosk"};
	assert_int_equal(options_load(&o, 2, kiosk_flag, mkenv(&le, NULL), &e), -1);
	assert_non_null(strstr(e.msg, "RENKEI_SYSCONFDIR"));
	options_free(&o);
	put("etc/renkei.conf", "");
}

static void print_masks_secrets(void **state)
{
	(void)state;
	struct options o;
	struct opt_err e;
	options_defaults(&o);
	char *argv[] = {"renkei", "--server", "https://alice:hunter2@bank.example/x@y",
			"--pkcs11-uri", "pkcs11:token=card;id=%01?pin-value=8642&module-name=opensc"};
	assert_int_equal(options_parse_argv(&o, 5, argv, &e), 0);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	options_print(f, &o);
	fclose(f);
	assert_null(strstr(buf, "hunter2"));
	assert_null(strstr(buf, "8642"));
	assert_non_null(strstr(buf, "https://***@bank.example/x@y"));
	assert_non_null(strstr(buf, "pkcs11:token=card;id=%01?pin-value=***&module-name=opensc"));
	free(buf);
	options_free(&o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(argv_basic),
		cmocka_unit_test(argv_errors),
		cmocka_unit_test(env_values),
		cmocka_unit_test(config_syntax),
		cmocka_unit_test(config_errors),
		cmocka_unit_test(load_precedence),
		cmocka_unit_test(load_errors),
		cmocka_unit_test(kiosk_rule),
		cmocka_unit_test(print_masks_secrets),
	};
	return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
