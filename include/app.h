/* app.h: the client's main loop: the flow's step -> a form on screen -> the user's action -> a
 * request -> the server's answer -> the next step. The one place that turns an error into words. */
#ifndef RENKEI_APP_H
#define RENKEI_APP_H
#include <stdbool.h>
#include <stddef.h>

#include "flow.h"
#include "options.h"

/* Run the whole flow (or, with --kiosk, flows until the terminal goes away). Returns the exit
 * status (include/exitcodes.h). The terminal must not be in curses mode yet. */
int app_run(const struct options *o);

/* --check-forms DIR: every form renkei shows, from dir or built in, loaded and checked, and no
 * unknown *.form in dir. EXIT_ALLOWED (a line on stdout), or EXIT_ERROR with file:line: what is
 * wrong on stderr. */
int app_check_forms(const char *dir);

/* The screens[] table has a form, bind and on_action for every step: NULL, or what is missing
 * (app_run refuses to start otherwise). */
const char *app_screens_check(void);

/* What went wrong in f->error, in the current language, with what the person can do next. */
const char *app_error_text(const struct flow *f, char *buf, size_t size);

/* "インターネット支店(001) 普通 2000002" in the current language. */
const char *app_account_label(const struct flow_account *a, char *buf, size_t size);
/* 未登録 / 登録済み / 登録済み* in the current language. */
const char *app_pin_state(const struct flow_account *a);
/* A PIN table row's status cell (登録状態; result: the result table's 登録状況, a pending PIN
 * marked ※): the last registration try's result, else the row's state; may be written into buf. */
const char *app_row_status(const struct flow_account *a, bool result, char *buf, size_t size);
/* "2026年11月25日" / "2026-11-25" from "2026-11-25" (as given when it does not parse). */
const char *app_date(const char *iso, char *buf, size_t size);

#endif
