/* ui_draw.h: internal to src/ui/: curses drawing helpers, glyphs, colours and key input shared by the
 * screen runner and the dialogs. Not for the flow (use ui.h). */
#ifndef RENKEI_UI_DRAW_H
#define RENKEI_UI_DRAW_H
#include <curses.h>
#include <stdbool.h>
#include <stddef.h>

#define UI_MIN_COLS 80
#define UI_MIN_ROWS 24

enum ui_color { UIC_NORMAL, UIC_TITLE, UIC_ERROR, UIC_SECTION, UIC_FIELD, UIC_FOCUS, UIC_KEYBAR };

/* Attribute for a role (colour only when colours are on; always some mono attribute). */
attr_t ui_attr(enum ui_color c);
bool ui_colors(void);

/* Draw s[0..n) at (y, x), at most maxcols columns (never splitting a character); control
 * characters are skipped. Returns the columns drawn. */
int ui_put(int y, int x, const char *s, size_t n, int maxcols, attr_t a);
int ui_puts(int y, int x, const char *s, int maxcols, attr_t a);
/* Fill cols columns with spaces. */
void ui_fill(int y, int x, int cols, attr_t a);
void ui_hline(int y, int x, int cols);
/* Blank [x, x+cols) of row y (clipped to the screen), and also the other half of any wide
 * character that the blanked range cuts at either edge. */
void ui_blank(int y, int x, int cols);
void ui_box(int y, int x, int h, int w);

/* Expand {name} placeholders in s with get(name); unknown names stay as they are. Returns malloc'd. */
char *ui_expand(const char *s, const char *(*get)(const char *name, size_t len, void *ctx), void *ctx);

/* Key input: fed keys first, then the terminal. Returns OK (character in *ch), KEY_CODE_YES
 * (function key in *ch) or ERR (timeout or end of input: *eof set). timeout_ms < 0 = block. */
int ui_getkey(wint_t *ch, int timeout_ms, bool *eof);
/* ui_getkey under the idle timer (ui_set_idle): OK/KEY_CODE_YES as ui_getkey; ERR with *eof false
 * once the idle time ran out (ui_idle_expired() then true, and every later call returns ERR at once
 * until ui_idle_clear). The warning before (ui_idle_warning) is shown from here; the key that
 * dismisses it comes back as KEY_CODE_YES / UI_KEY_NONE (nothing to do: what it covered is back). */
int ui_getkey_idle(wint_t *ch, bool *eof);
/* The same, but also ERR (neither eof nor idle) once ui_now_ms() reaches wake_ms (0: never). */
int ui_getkey_until(wint_t *ch, bool *eof, long long wake_ms);
#define UI_KEY_NONE KEY_F(63)
#define UI_KEY_STAFF KEY_F(62) /* kiosk: the staff sequence (F12 three times within 3 s) */
/* Kiosk keys (raw mode): Ctrl-C and friends do nothing; F12 F12 F12 is the staff sequence. */
bool ui_kiosk_keys(void);
/* dialog.c: the countdown until deadline (ui_now_ms clock): 1 a key dismissed it, 0 the time ran
 * out, -1 input ended. It puts back what it covered. */
int ui_idle_warning(long long deadline_ms);
long long ui_now_ms(void);
/* Encode a code point as UTF-8 into out[4]; returns the length. */
size_t ui_utf8(wint_t c, char *out);

/* events.c: tell the observer (ui_set_observer) what a key did; whether there is one. */
struct ui_event;
void ui_observe(const struct ui_event *ev);
bool ui_observed(void);

/* The "enlarge the terminal" screen; true when the terminal is too small (and it was drawn). */
bool ui_too_small(void);
/* Key bar on the last line: pairs of (key, msgid) translated here; n pairs. */
void ui_keybar(const char *const *pairs, size_t n);

#endif
