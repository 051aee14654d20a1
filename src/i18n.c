/* i18n.c: locale set-up and run-time language switching (see include/i18n.h). */
#include "i18n.h"

#include <langinfo.h>
#include <limits.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* glibc: bumping this counter makes gettext drop its cached translations. */
extern int _nl_msg_cat_cntr;

static enum lang current = LANG_JA;

static int dir_exists(const char *p)
{
	return p && access(p, R_OK | X_OK) == 0;
}

void i18n_init(const char *argv0)
{
	if (!setlocale(LC_ALL, "") || strcmp(nl_langinfo(CODESET), "UTF-8") != 0)
		setlocale(LC_ALL, "C.UTF-8");

	const char *dir = getenv("RENKEI_LOCALEDIR");
	char buf[PATH_MAX];
	if (!dir_exists(dir)) {
		dir = NULL;
		char exe[PATH_MAX];
		ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
		if (n <= 0 && argv0) {
			snprintf(exe, sizeof exe, "%s", argv0);
			n = (ssize_t)strlen(exe);
		}
		if (n > 0) {
			exe[n] = '\0';
			char *slash = strrchr(exe, '/');
			if (slash) {
				*slash = '\0';
				/* the build tree (build/locale), then an installed prefix (bin/../share/locale),
				 * so a binary installed under another PREFIX than it was built for still
				 * finds its catalogs */
				int w = snprintf(buf, sizeof buf, "%s/locale", exe);
				if (w > 0 && (size_t)w < sizeof buf && dir_exists(buf))
					dir = buf;
				if (!dir) {
					w = snprintf(buf, sizeof buf, "%s/../share/locale/en/LC_MESSAGES/renkei.mo", exe);
					if (w > 0 && (size_t)w < sizeof buf && access(buf, R_OK) == 0) {
						snprintf(buf, sizeof buf, "%s/../share/locale", exe);
						dir = buf;
					}
				}
			}
		}
	}
	if (!dir)
		dir = LOCALEDIR;
	bindtextdomain("renkei", dir);
	bind_textdomain_codeset("renkei", "UTF-8");
	textdomain("renkei");
}

void i18n_set_lang(enum lang l)
{
	current = l;
	setenv("LANGUAGE", i18n_lang_code(l), 1);
	++_nl_msg_cat_cntr;
}

enum lang i18n_lang(void)
{
	return current;
}

const char *i18n_lang_code(enum lang l)
{
	return l == LANG_EN ? "en" : "ja";
}
