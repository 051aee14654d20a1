/* main.c: options, configuration and mode selection; nothing else (the flow lives in app.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "app.h"
#include "exitcodes.h"
#include "i18n.h"
#include "options.h"
#include "forms.h"
#include "plain.h"
#include "replay.h"
#include "secret.h"
#include "wipe.h"

extern char **environ;

int main(int argc, char **argv)
{
	/* First of all: OpenSSL takes the wiping allocator only before its first allocation. */
	(void)wipe_init();
	secret_harden_process();
	i18n_init(argv[0]);

	struct options o;
	struct opt_err err;
	options_defaults(&o);
	/* Every source in order (renkei.conf(5)); on an error o still holds the --lang given. */
	int rc = options_load(&o, argc, argv, environ, &err);
	/* The language first, so every message below is in it. */
	const char *lang = o.lang;
	if (!lang) {
		const char *l = getenv("LANGUAGE");
		lang = (l && !strncmp(l, "en", 2)) ? "en" : "ja";
	}
	i18n_set_lang(!strcmp(lang, "en") ? LANG_EN : LANG_JA);
	if (rc < 0) {
		fprintf(stderr, "renkei: %s\n", err.msg);
		fprintf(stderr, _("「%s --help」で使い方を表示します。\n"), argv[0]);
		options_free(&o);
		return EXIT_USAGE;
	}
	if (o.help) {
		options_usage(stdout, argv[0]);
		options_free(&o);
		return EXIT_ALLOWED;
	}
	if (o.version) {
		printf("renkei %s\n", RENKEI_VERSION);
		options_free(&o);
		return EXIT_ALLOWED;
	}
	if (o.check_forms) {
		int code = app_check_forms(o.check_forms);
		options_free(&o);
		return code;
	}
	if (o.print_config) {
		options_print(stdout, &o);
		options_free(&o);
		return EXIT_ALLOWED;
	}
	if (options_validate(&o, &err) < 0) {
		fprintf(stderr, "renkei: %s\n", err.msg);
		options_free(&o);
		return EXIT_USAGE;
	}
	if (o.lang)
		i18n_set_lang(!strcmp(o.lang, "en") ? LANG_EN : LANG_JA);

	if (api_global_init() < 0) {
		fprintf(stderr, "renkei: %s\n", _("通信ライブラリを初期化できません"));
		options_free(&o);
		return EXIT_ERROR;
	}
	bool plain = !o.replay && plain_wanted(&o);
	int code = o.replay ? replay_run(&o) : plain ? plain_run(&o) : app_run(&o);
	api_global_cleanup();
	options_free(&o);
	return code;
}
