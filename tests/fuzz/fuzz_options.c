/* fuzz_options.c: libFuzzer target for the options from the command line and the environment
 * (outside input: argv, RENKEI_*, and the config files they name), through options_load as
 * src/main.c calls it, then what main does next (--help, --print-config, options_validate).
 * The input is NUL-separated strings: the arguments (argv[1], ...), an empty string, then the
 * environment entries ("NAME=value"). Appended after those, so that the input's own win
 * (the first of a name counts): RENKEI_SYSCONFDIR and HOME naming a scratch directory made at
 * start, whose renkei.conf (system file) and .config/renkei/config (user's file) set a few
 * settings, and c.conf a config file. An argument, or an environment entry's value, that starts
 * with "@/" has the "@" replaced by the scratch directory ("--config\0@/c.conf",
 * "RENKEI_CONFIG=@/c.conf"). Checked: an error message is NUL-terminated and not empty. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "options.h"

#define MAX_STRINGS 64

static char dir[64];
static char env_sysconfdir[96], env_home[96];

static void put(const char *rel, const char *text)
{
	char p[160];
	snprintf(p, sizeof p, "%s/%s", dir, rel);
	FILE *f = fopen(p, "w");
	if (!f || fputs(text, f) < 0 || fclose(f) != 0)
		abort();
}

static void rm_scratch(void)
{
	static const char *const files[] = {"sys/renkei.conf", "home/.config/renkei/config", "c.conf",
					    "home/.config/renkei", "home/.config", "home", "sys", ""};
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		char p[160];
		snprintf(p, sizeof p, "%s/%s", dir, files[i]);
		if (remove(p) != 0 && i + 1 == sizeof files / sizeof files[0])
			rmdir(dir);
	}
}

static void scratch(void)
{
	snprintf(dir, sizeof dir, "/tmp/fuzz_options.XXXXXX");
	if (!mkdtemp(dir))
		abort();
	char p[160];
	static const char *const dirs[] = {"sys", "home", "home/.config", "home/.config/renkei"};
	for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
		snprintf(p, sizeof p, "%s/%s", dir, dirs[i]);
		if (mkdir(p, 0700) != 0)
			abort();
	}
	put("sys/renkei.conf", "server = https://bank.example\nlang = ja\ntimeout = 20\n");
	put("home/.config/renkei/config", "# the user's\nlang = en\nidle-timeout = 60\n");
	put("c.conf", "kiosk = yes\ncacert = /etc/ssl/certs\nkiosk-staff-pin-hash = $y$j9T$x$y\n");
	snprintf(env_sysconfdir, sizeof env_sysconfdir, "RENKEI_SYSCONFDIR=%s/sys", dir);
	snprintf(env_home, sizeof env_home, "HOME=%s/home", dir);
	atexit(rm_scratch);
}

/* s with a leading "@/" (after "NAME=" in an environment entry) made the scratch directory. */
static char *expand(char *s, bool env)
{
	char *v = s;
	if (env) {
		char *eq = strchr(s, '=');
		v = eq ? eq + 1 : s;
	}
	if (strncmp(v, "@/", 2) != 0)
		return s;
	size_t pre = (size_t)(v - s), n = pre + strlen(dir) + strlen(v);
	char *x = malloc(n);
	if (!x)
		abort();
	snprintf(x, n, "%.*s%s%s", (int)pre, s, dir, v + 1);
	return x;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *null;
	if (!null) {
		null = fopen("/dev/null", "w");
		scratch();
	}
	char *copy = malloc(size + 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	copy[size] = '\0';
	char *argv[MAX_STRINGS + 2], *envp[MAX_STRINGS + 3];
	char *raw_argv[MAX_STRINGS + 2], *raw_envp[MAX_STRINGS + 3]; /* before expand */
	int argc = 0, envc = 0;
	argv[argc++] = "renkei";
	bool in_env = false;
	for (char *s = copy; s <= copy + size; s += strlen(s) + 1) {
		if (!in_env && !*s) {
			in_env = true;
		} else if (!in_env && argc <= MAX_STRINGS) {
			raw_argv[argc] = s;
			argv[argc++] = expand(s, false);
		} else if (in_env && *s && envc < MAX_STRINGS) {
			raw_envp[envc] = s;
			envp[envc++] = expand(s, true);
		}
	}
	argv[argc] = NULL;
	envp[envc++] = env_sysconfdir;
	envp[envc++] = env_home;
	envp[envc] = NULL;

	struct options o;
	struct opt_err err;
	memset(&err, 0xa5, sizeof err); /* what options_load writes must be a string */
	options_defaults(&o);
	int rc = options_load(&o, argc, argv, envp, &err);
	if (rc < 0 && (!memchr(err.msg, '\0', sizeof err.msg) || !err.msg[0]))
		abort();
	if (rc == 0 && o.help)
		options_usage(null, argv[0]);
	else if (rc == 0 && o.print_config)
		options_print(null, &o);
	else if (rc == 0 && options_validate(&o, &err) < 0 &&
		 (!memchr(err.msg, '\0', sizeof err.msg) || !err.msg[0]))
		abort();
	options_free(&o);
	for (int i = 1; i < argc; i++)
		if (argv[i] != raw_argv[i])
			free(argv[i]);
	for (int i = 0; i < envc - 2; i++)
		if (envp[i] != raw_envp[i])
			free(envp[i]);
	free(copy);
	return 0;
}
