/* ui.h: the terminal UI toolkit (ncursesw): terminal set-up/restore, the screen runner that shows a
 * loaded form bound to the caller's data and returns the user's action, and modal dialogs.
 *
 * How a flow uses it (one screen):
 *
 *     struct secret login_id = SECRET_INIT, password = SECRET_INIT;
 *     const char *partner = "デモ家計簿株式会社";
 *     const struct ui_binding b[] = {
 *             UI_STR("partner", &partner),
 *             UI_SECRET("login_id", &login_id),
 *             UI_SECRET("password", &password),
 *     };
 *     struct form *f = form_load("login_password", NULL, err, sizeof err);
 *     struct ui_screen *s = ui_screen_new(f, b, 3);
 *     for (;;) {
 *             struct ui_action a;
 *             ui_screen_run(s, &a);            // returns on a button, Esc, F1 (no help), timeout
 *             if (a.kind == UI_ACT_BACK) { if (ui_confirm(NULL, N_("..."), false)) break; continue; }
 *             if (a.kind == UI_ACT_BUTTON && !strcmp(a.button, "login")) {
 *                     if (request_fails) { ui_screen_set_error(s, _("...")); continue; }  // all typed text kept
 *                     break;
 *             }
 *     }
 *     ui_screen_free(s); form_free(f);
 *
 * Everything typed lives in the caller's struct secret / bool / table rows, never in the UI; showing the
 * same ui_screen again keeps focus, cursor and scroll. The runner handles itself: Tab/Shift-Tab/Up/Down
 * focus moves, editing, Space on checkboxes, F2 language switch (i18n_set_lang + repaint; string
 * bindings are re-read at every paint so they may follow the language), KEY_RESIZE and the "terminal too
 * small" screen, F1 when the form has a help text, buttons refused by enabled_if, and validate buttons
 * (required entries). Strings shown are translated at paint time (labels) or as given (bound data). */
#ifndef RENKEI_UI_H
#define RENKEI_UI_H
#include <stdbool.h>
#include <stddef.h>

#include "forms.h"
#include "secret.h"

/* ---- terminal ---------------------------------------------------------------------------------- */

enum {
	UI_INIT_NO_SIGNALS = 1u << 0, /* do not install SIGINT/SIGTERM/SIGHUP/SIGQUIT handlers */
	UI_INIT_RAW = 1u << 1,        /* raw mode: Ctrl-C is a key (kiosk), not SIGINT */
	UI_INIT_ASCII = 1u << 2,      /* ASCII glyphs (also env RENKEI_ASCII=1 or RENKEI_AMBIGUOUS=wide) */
	UI_INIT_NO_COLOR = 1u << 3,   /* no colour (also env NO_COLOR set to anything non-empty) */
};

/* Standard input and output are a terminal ncurses can drive: TERM set, not "dumb", known to
 * terminfo and able to move the cursor (else renkei uses its line mode, include/plain.h). */
bool ui_terminal_usable(void);
/* Start curses on the terminal (call i18n_init first: it sets the UTF-8 locale). Registers ui_end
 * with atexit and, unless UI_INIT_NO_SIGNALS, handlers for SIGTERM/SIGHUP/SIGINT/SIGQUIT (see
 * ui_quit_signal: input ends, the program leaves in order; a second signal restores and re-raises).
 * Environment: NO_COLOR, RENKEI_ASCII=1, RENKEI_AMBIGUOUS=wide (ambiguous-width characters count 2
 * columns and ASCII glyphs are used). 0, or -1 when there is no usable terminal. */
int ui_init(unsigned flags);
/* Start curses without a terminal (output to /dev/null) at cols x rows: for tests driving
 * ui_screen_run with ui_feed_keys, then reading ui_dump. 0 or -1. */
int ui_init_headless(int cols, int rows, unsigned flags);
/* Restore the terminal (endwin). Safe to call twice, from atexit, and when ui_init was never called. */
void ui_end(void);
/* Async-signal-safe restore (termios + reset sequences via write(2)): for the caller's own signal
 * handlers. Does nothing when curses is not active. */
void ui_end_signal_safe(void);
/* The signal (SIGTERM, SIGHUP, SIGINT, SIGQUIT) that asked the program to stop, or 0. While the
 * screens run, such a signal ends input (ui_getkey reports end of input) instead of killing. */
int ui_quit_signal(void);
bool ui_active(void);

/* Kiosk: one idle timer over every screen and dialog. After timeout_ms without a key the runner
 * returns UI_ACT_TIMEOUT and every dialog returns as if cancelled, until ui_idle_clear(); from
 * warning_ms before the end a dialog counts the seconds down (any key dismisses it, nothing typed is
 * lost). 0 = no idle timer (the default). */
void ui_set_idle(int timeout_ms, int warning_ms);
/* The time ran out (sticky until ui_idle_clear). */
bool ui_idle_expired(void);
/* Start counting again (after the flow was ended and the start screen is back). */
void ui_idle_clear(void);
/* Count from now (a new customer, a new screen). */
void ui_idle_reset(void);
/* Clear the screen and, where the terminal allows (terminfo E3), its scroll-back: nothing of the
 * previous customer stays. */
void ui_clear_all(void);

/* Glyph for a masked character ("●", or "*" with ASCII glyphs) and a string of n of them
 * (e.g. for the PIN column of the result screen). buf receives at most size-1 bytes. */
const char *ui_mask_glyph(void);
const char *ui_mask(char *buf, size_t size, size_t n);
bool ui_ascii(void);

/* ---- bindings: the data a form's `bind = "name"` refers to ------------------------------------- */

enum ui_bind_kind {
	UI_BIND_STRING, /* u.str: pointer to a string pointer, read at every paint (NULL = "") */
	UI_BIND_FUNC,   /* u.fn(ctx): returns the string at paint time (e.g. per-language names) */
	UI_BIND_SECRET, /* u.secret: text of an entry (text, masked, digits; table entry cells) */
	UI_BIND_BOOL,   /* u.flag: checkbox state; button enabled_if */
	UI_BIND_TABLE,  /* u.table: rows of a [table] */
};

struct ui_table;
struct ui_binding {
	const char *name;
	enum ui_bind_kind kind;
	union {
		const char *const *str;
		const char *(*fn)(void *ctx);
		struct secret *secret;
		bool *flag;
		const struct ui_table *table;
	} u;
	void *ctx;
};

#define UI_STR(n, p) {.name = (n), .kind = UI_BIND_STRING, .u.str = (p)}
#define UI_FUNC(n, f, c) {.name = (n), .kind = UI_BIND_FUNC, .u.fn = (f), .ctx = (c)}
#define UI_SECRET(n, p) {.name = (n), .kind = UI_BIND_SECRET, .u.secret = (p)}
#define UI_BOOL(n, p) {.name = (n), .kind = UI_BIND_BOOL, .u.flag = (p)}
#define UI_TABLE(n, p) {.name = (n), .kind = UI_BIND_TABLE, .u.table = (p)}

/* A table row: its cells are bindings looked up by the [column]s' bind names (checkbox -> BOOL,
 * label -> STRING/FUNC, text/masked/digits -> SECRET). A disabled row is drawn dim and cannot be
 * focused (e.g. an account whose PIN is already registered). */
struct ui_row {
	const struct ui_binding *cells;
	size_t ncells;
	bool disabled;
};
struct ui_table {
	const struct ui_row *rows;
	size_t nrows;
	/* Rows never drawn, only measured: every value a label column can take (e.g. each status
	 * word), so the columns keep their widths when a cell changes. May be NULL. */
	const struct ui_row *width_rows;
	size_t n_width_rows;
};

/* ---- screen runner ---------------------------------------------------------------------------- */

enum ui_action_kind {
	UI_ACT_BUTTON,  /* button: the pressed button's id */
	UI_ACT_BACK,    /* Esc, or a button with flags = "cancel" (button says which, else NULL) */
	UI_ACT_HELP,    /* F1 on a form without help text */
	UI_ACT_TIMEOUT, /* the idle time ran out (ui_set_idle) */
	UI_ACT_EOF,     /* input ended (headless tests: no more fed keys; terminal gone) */
	UI_ACT_QUIT,    /* Ctrl-C under UI_INIT_RAW */
	UI_ACT_CANCEL,  /* the cancel key (F9), when ui_screen_set_keys offers it */
	UI_ACT_STAFF,   /* kiosk: the staff sequence (F12 three times within 3 s) */
};

struct ui_action {
	enum ui_action_kind kind;
	const char *button; /* item id from the form; valid while the form lives */
};

struct ui_screen;

/* A screen for form f with the given bindings (arrays copied; the data they point to must outlive
 * the screen). A binding a form names but the caller did not give is drawn empty. NULL on ENOMEM. */
struct ui_screen *ui_screen_new(const struct form *f, const struct ui_binding *b, size_t nb);
void ui_screen_free(struct ui_screen *s);
/* Show the screen and run its event loop until an action; 0, or -1 if curses is not active. */
int ui_screen_run(struct ui_screen *s, struct ui_action *out);
/* Error line text, already translated (copied); NULL clears it. Pressing a button clears it. */
void ui_screen_set_error(struct ui_screen *s, const char *text);
/* The same, made at every paint by fn(ctx) (so a language switch re-translates it; "" = none). */
void ui_screen_set_error_fn(struct ui_screen *s, const char *(*fn)(void *ctx), void *ctx);
/* Focus an item by id (row: the table row for tables, else 0). 0 or -1 (no such focusable item). */
int ui_screen_focus(struct ui_screen *s, const char *id, size_t row);
/* Change an item's flags at run time (e.g. FORM_F_MASKED on the answer field when the server says
 * the answer is secret). */
void ui_screen_set_flags(struct ui_screen *s, const char *id, unsigned on, unsigned off);
/* What the key bar says Esc does (a msgid: 戻る, 中止, 終了; default 戻る; "" = not shown, Esc
 * does nothing there) and whether F9 cancels
 * (shown as 「F9 中止」; the runner returns UI_ACT_CANCEL). The caller makes the keys do that. */
void ui_screen_set_keys(struct ui_screen *s, const char *esc_msgid, bool cancel_key);
/* Return UI_ACT_TIMEOUT ms after the run starts, whatever is pressed (a screen that waits for
 * something else: the out-of-service screen retrying the bank). 0: never (the default). */
void ui_screen_set_wake(struct ui_screen *s, int ms);
/* Make the next run repaint everything (e.g. after the caller drew something itself). */
void ui_screen_invalidate(struct ui_screen *s);

/* ---- dialogs (modal, drawn over whatever is on screen; the next ui_screen_run repaints) -------- */

/* Dialogs translate their words at every paint, so F2 inside one re-translates it (and its key bar);
 * title and text are msgids (NULL = none). The _fn variants make the text with fn(ctx) at every
 * paint instead, for texts built with values (numbers, names): keep the values, translate the words
 * in fn (e.g. snprintf(buf, size, _("..."), n)). */

/* Yes/no question (はい/いいえ), text wrapped. Esc = no. */
bool ui_confirm(const char *title, const char *text, bool default_yes);
bool ui_confirm_fn(const char *title, const char *(*text)(void *ctx), void *ctx, bool default_yes);
/* A message with an OK button. */
void ui_message(const char *title, const char *text);
void ui_message_fn(const char *title, const char *(*text)(void *ctx), void *ctx);
/* Shows a message without buttons and returns at once: for a wait the program cannot show
 * otherwise (a PIN typed on the card reader). It stays until the next paint. */
void ui_notice(const char *title, const char *text);
/* Drops keys typed while the program could not read them (during a ui_notice wait), so that they do
 * not act on the next screen. */
void ui_drop_typeahead(void);

/* A list to choose from (the certificate chooser): each choice has a one-line label and a
 * multi-line detail shown for the highlighted one; disabled choices (e.g. expired certificates) are
 * shown with their reason and cannot be chosen. title and text are msgids as above; labels and
 * details are shown as given. Returns the index, or -1 on Esc. */
struct ui_choice {
	const char *label;
	const char *detail;
	bool disabled;
};
int ui_choose(const char *title, const char *text, const struct ui_choice *c, size_t n, size_t initial);
/* The same, but F2 switches the language and returns UI_CHOOSE_LANG with the highlighted index in
 * *cur, so the caller rebuilds its (translated) labels and details and calls again with
 * initial = *cur. */
#define UI_CHOOSE_LANG (-2)
int ui_choose_ex(const char *title, const char *text, const struct ui_choice *c, size_t n, size_t initial,
		 size_t *cur);

/* ---- observing the person (--trace) and driving the screens (--replay) ---------------------- */

/* What one key did, at the widget level, reported after the screen runner or a dialog handled it.
 * Strings point into the form or are static: valid only during the call. */
enum ui_event_what {
	UI_EV_SHOWN,    /* a screen run or a dialog started (nothing pressed yet) */
	UI_EV_TYPED,    /* a character typed into an entry (text) */
	UI_EV_EDITED,   /* an editing key in an entry (backspace, delete, cursor, kill) */
	UI_EV_FOCUS,    /* the focus moved to field (row in a table) */
	UI_EV_TICKED, UI_EV_UNTICKED,
	UI_EV_PRESSED,  /* a button: button (the screen returns it) */
	UI_EV_REFUSED,  /* a button or checkbox that cannot be used now */
	UI_EV_SCROLLED, /* a text block scrolled */
	UI_EV_LANG,     /* F2 */
	UI_EV_BACK, UI_EV_CANCEL, UI_EV_HELP, UI_EV_QUIT,
	UI_EV_ANSWERED, /* a dialog closed: button is the answer's msgid, or "esc" */
	UI_EV_KEY,      /* anything else */
};
struct ui_event {
	enum ui_event_what what;
	const char *form;    /* the screen's form name; NULL in a dialog */
	const char *dialog;  /* in a dialog: its title msgid ("" when none) */
	int key;             /* the key read (a character, or a curses KEY_* code when fkey) */
	bool fkey;
	const char *text;    /* UI_EV_TYPED: the character, UTF-8 */
	const char *field;   /* the item concerned (for TYPED/EDITED the entry, else the focus after) */
	long row;            /* its table row, -1 when not in a table */
	const char *col;     /* the table column's binding name, NULL when not in a table */
	const char *bind;    /* the entry's binding name (TYPED/EDITED), NULL otherwise */
	bool masked;         /* the entry is masked */
	bool digits;         /* the entry takes digits only */
	const char *button;  /* PRESSED / ANSWERED */
};
/* Every event goes to fn(ev, ctx); NULL stops it. */
void ui_set_observer(void (*fn)(const struct ui_event *ev, void *ctx), void *ctx);

/* A key's name as docs/trace.md spells it ("tab", "enter", "f2", "key:120", ...) into buf; and
 * back (0, or -1 for a name that is not one). */
const char *ui_key_name(int key, bool fkey, char *buf, size_t size);
int ui_key_parse(const char *name, int *key, bool *fkey);

/* A source of keys: whenever the screens or a dialog want a key and none is fed, fn(ctx) runs
 * first (it may read the terminal itself with ui_read_key and feed keys with ui_feed_*); it returns
 * 0, or -1 to end input (the screens return UI_ACT_EOF). NULL removes it. */
void ui_set_key_source(int (*fn)(void *ctx), void *ctx);
/* A key from the terminal itself, not the fed ones and not the key source (blocks). -1 at end of
 * input, else 0 with *key and *fkey set. */
int ui_read_key(int *key, bool *fkey);
/* Draw text on the last row over whatever is there (the key bar), the cursor left where it was. */
void ui_status_line(const char *text);

/* ---- tests without a terminal ----------------------------------------------------------------- */

/* Queue keys for the runner/dialogs (before real input). Characters are Unicode code points;
 * curses function keys (KEY_F(1), KEY_BTAB, KEY_RESIZE, ...) are given with ui_feed_fkey. */
void ui_feed_text(const char *utf8);
void ui_feed_fkey(int key);
/* The current screen contents as UTF-8 lines separated by '\n' (right-trimmed). */
void ui_dump(char *buf, size_t size);
/* Where the terminal cursor was left (row, column). */
void ui_cursor(int *row, int *col);

#endif
