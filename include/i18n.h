/* i18n.h: gettext macros and the one place that sets up and switches the client's language.
 * Labels are translated when drawn, never when loaded, so a switch takes effect on the next paint. */
#ifndef RENKEI_I18N_H
#define RENKEI_I18N_H
#include <libintl.h>

#define _(s) gettext(s)
#define N_(s) (s)

enum lang { LANG_JA = 0, LANG_EN = 1 };

/* Set LC_ALL from the environment, falling back to C.UTF-8 when that is not UTF-8; bind the
 * "renkei" domain (RENKEI_LOCALEDIR, then <exe dir>/locale, then the install dir). */
void i18n_init(const char *argv0);
/* Switch the message catalog at run time (LANGUAGE + glibc's catalog counter). */
void i18n_set_lang(enum lang l);
enum lang i18n_lang(void);
/* "ja" or "en". */
const char *i18n_lang_code(enum lang l);

#endif
