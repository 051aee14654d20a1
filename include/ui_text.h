/* ui_text.h: the one display-width function for UTF-8 text and the text-field editing model.
 * Pure code (no curses): every column computation of the UI goes through ui_width and ui_fit. */
#ifndef RENKEI_UI_TEXT_H
#define RENKEI_UI_TEXT_H
#include <stdbool.h>
#include <stddef.h>
#include <wchar.h>

#include "secret.h"

/* ---- display width -------------------------------------------------------------------------
 * Based on wcwidth() under a UTF-8 LC_CTYPE (C.UTF-8): Japanese is 2 columns, combining marks 0.
 * Control characters count 0 (they are never drawn). Invalid UTF-8: each bad byte decodes to
 * U+FFFD and counts 1 column, so a broken server string never derails a layout.
 * East Asian "Ambiguous" characters (●, ─, │, ※, ...) are 1 column unless
 * ui_width_set_ambiguous_wide(true) (env RENKEI_AMBIGUOUS=wide, read by ui_init). */

/* Decode one character of s[0..n). Returns its length in bytes (>= 1 when n > 0, 0 when n == 0)
 * and stores the character (U+FFFD for an invalid or truncated sequence) in *wc. */
size_t ui_decode(const char *s, size_t n, wchar_t *wc);
/* Columns of one character: 0, 1 or 2. */
int ui_wcwidth(wchar_t wc);
/* Columns of the first n bytes of s / of the NUL-terminated s. */
size_t ui_width_n(const char *s, size_t n);
size_t ui_width(const char *s);
/* The longest prefix of s[0..n) (in bytes) that fits in maxcols columns. A character is never
 * split; zero-width characters (combining marks) following a kept character are kept with it.
 * *cols (optional) receives the prefix's width. */
size_t ui_fit(const char *s, size_t n, size_t maxcols, size_t *cols);
/* Byte offset of the character boundary before / after byte offset at (clusters: a base
 * character plus its combining marks move together). */
size_t ui_prev_char(const char *s, size_t n, size_t at);
size_t ui_next_char(const char *s, size_t n, size_t at);
/* Number of characters (clusters not counted separately: every code point counts). */
size_t ui_char_count(const char *s, size_t n);
/* Is wc East Asian Ambiguous width? */
bool ui_is_ambiguous(wchar_t wc);
void ui_width_set_ambiguous_wide(bool on);
bool ui_width_ambiguous_wide(void);

/* Line breaking for display (JIS X 4051 basics): the byte length of the next line of s[0..n) that
 * fits in cols columns. *skip receives how many bytes to skip after the line: the '\n' that ends
 * it, or the spaces it broke at (and a '\n' right after them), else 0. Breaks at spaces and
 * between Japanese characters, but never before 、。」）ー small kana etc. (行頭禁則), after 「（
 * (行末禁則; both push the line's last characters down, at most 3 for 禁則), nor inside a Latin run
 * (a word, a code like WDJB-MJHT, a URL, a number) that fits on a line; a run longer than a line
 * starts a new line and is broken hard, as is anything with no allowed break. A line is never
 * empty unless s starts with '\n', holds at least one character (even one wider than cols),
 * never splits a UTF-8 character or a character from its combining marks, and is at most cols
 * wide otherwise. Leading spaces of s (indentation) are kept. */
size_t ui_wrap_line(const char *s, size_t n, size_t cols, size_t *skip);

/* ---- text-field editing model ---------------------------------------------------------------
 * The field's text lives in a caller-owned struct secret (every text field, masked or not, so the
 * UI never copies what was typed). struct ui_edit holds only the cursor and scroll position. */

enum {
	UI_EDIT_DIGITS = 1u << 0, /* accept only 0-9 */
	UI_EDIT_MASKED = 1u << 1, /* shown as one mask glyph per character */
	UI_EDIT_UPPER = 1u << 2,  /* ASCII letters folded to upper case (codes) */
};

struct ui_edit {
	size_t cur;    /* cursor: byte offset into the text, always on a character boundary */
	size_t scroll; /* first visible display column (for masked fields: first visible char) */
	unsigned flags;
	size_t maxchars; /* 0 = unlimited */
};

/* Editing keys (the runner maps curses keys to these; tests call them directly). */
enum ui_edit_op {
	UI_EDIT_LEFT,
	UI_EDIT_RIGHT,
	UI_EDIT_HOME,      /* Home, Ctrl-A */
	UI_EDIT_END,       /* End, Ctrl-E */
	UI_EDIT_BACKSPACE, /* Backspace, Ctrl-H, DEL */
	UI_EDIT_DELETE,    /* Delete, Ctrl-D */
	UI_EDIT_KILL_EOL,  /* Ctrl-K: delete to end of line */
	UI_EDIT_KILL_BOL,  /* Ctrl-U: delete to start of line */
};

/* Clamp the cursor into the text and onto a boundary (call after the text changed elsewhere). */
void ui_edit_sync(struct ui_edit *e, const struct secret *t);
/* Insert UTF-8 bytes at the cursor. Characters refused by the flags (non-digits, controls, the
 * length limit) are dropped. Returns the number of characters inserted, or -1 (ENOMEM). */
int ui_edit_insert(struct ui_edit *e, struct secret *t, const char *s, size_t n);
/* Apply an editing op. Returns true when the text or the cursor changed. */
bool ui_edit_apply(struct ui_edit *e, struct secret *t, enum ui_edit_op op);
/* Make the cursor visible in a field cols columns wide (updates e->scroll) and describe what to
 * draw: the visible slice of the text [*start, *start + *len) in bytes (not for masked fields),
 * and the cursor's column inside the field. For masked fields start and len count characters. */
void ui_edit_view(struct ui_edit *e, const struct secret *t, size_t cols, size_t *start,
		  size_t *len, size_t *cursor_col);

#endif
