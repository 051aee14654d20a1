/* dialog.c: modal dialogs drawn over the screen: confirm (はい/いいえ), message (OK) and the
 * chooser list used for certificates (see include/ui.h). Their words are translated at every paint,
 * so F2 inside a dialog re-translates it. */
#include <curses.h>

#include <stdlib.h>
#include <string.h>

#include "i18n.h"
#include "ui.h"
#include "ui_draw.h"
#include "ui_text.h"

struct dlg {
	const char *title; /* msgid, or NULL */
	const char *text;  /* msgid, or NULL */
	const char *(*text_fn)(void *ctx); /* or the caller's text, made at every paint */
	void *ctx;
	const char *const *buttons; /* msgids */
	size_t nbuttons;
	size_t focus; /* button index, or (with a list) nbuttons = the list */
	const struct ui_choice *choices;
	size_t nchoices, sel, top;
	const char *note; /* msgid shown in bold under the text (e.g. refusal), or NULL */
	bool lang_return; /* F2 returns UI_CHOOSE_LANG so the caller re-translates its texts */
	bool notice;      /* no buttons, no keys: shown while the program waits (ui_notice) */
};

static int wrap_count(const char *t, int cols)
{
	size_t n = t ? strlen(t) : 0, at = 0;
	int lines = 0;
	while (at < n) {
		size_t skip, l = ui_wrap_line(t + at, n - at, (size_t)cols, &skip);
		at += l + skip;
		lines++;
	}
	return lines;
}

static int draw_wrap(int y, int x, int cols, int maxlines, const char *t, attr_t a)
{
	size_t n = t ? strlen(t) : 0, at = 0;
	int lines = 0;
	while (at < n && lines < maxlines) {
		size_t skip, l = ui_wrap_line(t + at, n - at, (size_t)cols, &skip);
		ui_put(y + lines, x, t + at, l, cols, a);
		at += l + skip;
		lines++;
	}
	return lines;
}

/* gettext, but "" stays "" (gettext("") is the catalog's header) */
static const char *tr(const char *msgid)
{
	return msgid && *msgid ? _(msgid) : msgid;
}

/* Where a dialog goes and how its rows are shared: width, text lines, list rows, detail rows. */
struct geom {
	int w, inner, th, lh, dh, h, y0, x0;
};

static void measure(const struct dlg *d, const char *text, struct geom *g)
{
	g->w = COLS - 8 > 70 ? 70 : COLS - 8;
	g->inner = g->w - 4;
	g->th = wrap_count(text, g->inner);
	g->lh = (int)d->nchoices;
	g->dh = 0;
	for (size_t i = 0; i < d->nchoices; i++) {
		int k = wrap_count(d->choices[i].detail, g->inner - 2);
		if (k > g->dh)
			g->dh = k;
	}
	int maxh = LINES - 2; /* over the title and key bar if need be, never cutting the details */
	/* border+blank, text+blank, [list, rule, detail, note row, blank], buttons+border */
	g->h = 2 + g->th + (g->th ? 1 : 0) + (g->lh ? g->lh + 1 + g->dh + 1 + 1 : 0) + 2;
	if (g->h > maxh) {
		/* shrink the list first, then the detail */
		int over = g->h - maxh;
		while (over > 0 && g->lh > 3) {
			g->lh--;
			over--;
		}
		while (over > 0 && g->dh > 2) {
			g->dh--;
			over--;
		}
		g->h = maxh + over > maxh ? maxh : maxh + over;
	}
	/* inside the screen's frame (rows 2 .. LINES-5) when it fits there, else over it */
	int inside = LINES - 6;
	g->y0 = g->h <= inside ? 2 + (inside - g->h) / 2 : (LINES - g->h) / 2;
	g->x0 = (COLS - g->w) / 2;
}

/* The chooser's list from row y, the rule, the highlighted choice's detail, the note row; the
 * cursor on the highlighted choice. */
static void draw_list(struct dlg *d, const struct geom *g, int y, int x, int *cy, int *cx)
{
	if (d->sel < d->top)
		d->top = d->sel;
	if (d->sel >= d->top + (size_t)g->lh)
		d->top = d->sel - (size_t)g->lh + 1;
	for (int k = 0; k < g->lh && d->top + (size_t)k < d->nchoices; k++) {
		size_t i = d->top + (size_t)k;
		bool cur = i == d->sel;
		attr_t a = cur ? (d->focus == d->nbuttons ? ui_attr(UIC_FOCUS) : A_BOLD) : A_NORMAL;
		if (d->choices[i].disabled)
			a |= A_DIM;
		ui_fill(y + k, x, g->inner, cur && d->focus == d->nbuttons ? a : A_NORMAL);
		ui_puts(y + k, x, cur ? ">" : " ", 1, a);
		ui_puts(y + k, x + 2, d->choices[i].label, g->inner - 2, a);
		if (cur) {
			*cy = y + k;
			*cx = x;
		}
	}
	y += g->lh;
	ui_hline(y, x, g->inner);
	y++;
	draw_wrap(y, x + 2, g->inner - 2, g->dh, d->choices[d->sel].detail, A_NORMAL);
	y += g->dh;
	if (d->note) /* the row kept for it under the detail */
		ui_puts(y, x, _(d->note), g->inner, ui_attr(UIC_ERROR));
}

/* The buttons centered on the dialog's last inner row; the cursor on the focused one. */
static void draw_buttons(const struct dlg *d, const struct geom *g, int *cy, int *cx)
{
	int by = g->y0 + g->h - 2, tw = 0;
	char buf[256];
	for (size_t i = 0; i < d->nbuttons; i++) {
		snprintf(buf, sizeof buf, "[ %s ]", _(d->buttons[i]));
		tw += (int)ui_width(buf) + (i ? 2 : 0);
	}
	int bx = g->x0 + (g->w - tw) / 2;
	for (size_t i = 0; i < d->nbuttons; i++) {
		snprintf(buf, sizeof buf, "[ %s ]", _(d->buttons[i]));
		bool foc = d->focus == i;
		int bw = ui_puts(by, bx, buf, g->w - 4, foc ? ui_attr(UIC_FOCUS) | A_BOLD : A_BOLD);
		if (foc) {
			*cy = by;
			*cx = bx + 2;
		}
		bx += bw + 2;
	}
}

static void paint(struct dlg *d)
{
	if (ui_too_small())
		return;
	const char *title = tr(d->title), *text = d->text_fn ? d->text_fn(d->ctx) : tr(d->text);
	struct geom g;
	measure(d, text, &g);
	/* a blank margin column each side, and no wide character cut in half at its edges: what
	 * the dialog covers is repainted, nothing of it sticks out (a 」 past the corner) */
	for (int y = g.y0; y < g.y0 + g.h; y++)
		ui_blank(y, g.x0 - 1, g.w + 2);
	ui_box(g.y0, g.x0, g.h, g.w);
	if (title) {
		int tw = (int)ui_width(title);
		int tx = g.x0 + (g.w - tw - 2) / 2;
		ui_puts(g.y0, tx, " ", 1, A_NORMAL);
		ui_puts(g.y0, tx + 1, title, g.w - 4, A_BOLD);
		ui_puts(g.y0, tx + 1 + (tw < g.w - 4 ? tw : g.w - 4), " ", 1, A_NORMAL);
	}
	int y = g.y0 + 2, x = g.x0 + 2, cy = y, cx = x;
	y += draw_wrap(y, x, g.inner, g.y0 + g.h - 3 - y, text, A_NORMAL);
	if (text && *text)
		y++;
	if (d->nchoices)
		draw_list(d, &g, y, x, &cy, &cx);
	draw_buttons(d, &g, &cy, &cx);
	/* the screen's key bar would not follow F2 (nor has F1 any use here) */
	static const char *const keys[] = {"Esc", N_("戻る"), "F2", N_("English"), "Tab", N_("移動"),
					   "Enter", N_("決定")};
	if (d->notice) { /* nothing to press while waiting: no keys, no cursor */
		ui_keybar(keys, 0);
		curs_set(0);
		refresh();
		return;
	}
	ui_keybar(keys, sizeof keys / sizeof keys[0] / 2);
	curs_set(1);
	move(cy, cx);
	refresh();
}

/* The key loop of run(): *under is a copy of what the dialog covers (NULL if it could not be made). */
/* (Kept whole, ~70 lines: one key switch over the few keys a dialog knows.) */
/* The observer (--trace): what a key did in this dialog; answer: the button's msgid or "esc". */
static void dlg_ev(const struct dlg *d, enum ui_event_what what, wint_t ch, bool fk, const char *answer)
{
	ui_observe(&(struct ui_event){.what = what, .dialog = d->title ? d->title : "", .key = (int)ch,
				      .fkey = fk, .row = -1, .button = answer});
}

/* The answer of a dialog that returns r (a button index, or -1). */
static int dlg_answer(const struct dlg *d, int r, wint_t ch, bool fk)
{
	dlg_ev(d, UI_EV_ANSWERED, ch, fk, r >= 0 && (size_t)r < d->nbuttons ? d->buttons[r] : "esc");
	return r;
}

static int run_keys(struct dlg *d, WINDOW **under)
{
	bool dirty = true, wipe = false;
	for (;;) {
		if (dirty) {
			if (wipe) { /* after a resize what was under the dialog is stale: blank from now on */
				if (*under)
					delwin(*under);
				erase();
				*under = dupwin(stdscr);
			} else if (*under) { /* put back first: a dialog that shrank (F2) leaves nothing behind */
				overwrite(*under, stdscr);
			}
			paint(d);
			dirty = wipe = false;
		}
		wint_t ch;
		bool eof;
		int r = ui_getkey_idle(&ch, &eof);
		if (r == ERR) /* input ended, or the idle time ran out: as if cancelled */
			return -1;
		if (r == KEY_CODE_YES && (ch == UI_KEY_NONE || ch == UI_KEY_STAFF))
			continue; /* the idle warning was dismissed (it put back what it covered); the staff
				   * sequence is for the screens */
		dirty = true;
		size_t stops = d->nbuttons + (d->nchoices ? 1 : 0);
		if (r == KEY_CODE_YES) {
			switch (ch) {
			case KEY_RESIZE:
				wipe = true;
				break;
			case KEY_F(2):
				i18n_set_lang(i18n_lang() == LANG_JA ? LANG_EN : LANG_JA);
				dlg_ev(d, UI_EV_LANG, ch, true, NULL);
				if (d->lang_return)
					return UI_CHOOSE_LANG;
				break;
			case KEY_LEFT:
			case KEY_BTAB:
				d->focus = (d->focus + stops - 1) % stops;
				break;
			case KEY_RIGHT:
				d->focus = (d->focus + 1) % stops;
				break;
			case KEY_UP:
				if (d->nchoices && d->sel > 0)
					d->sel--, d->focus = d->nbuttons, d->note = NULL;
				break;
			case KEY_DOWN:
				if (d->nchoices && d->sel + 1 < d->nchoices)
					d->sel++, d->focus = d->nbuttons, d->note = NULL;
				break;
			case KEY_ENTER:
				goto enter;
			default:
				break;
			}
			if (ch != KEY_RESIZE && ch != KEY_F(2))
				dlg_ev(d, UI_EV_KEY, ch, true, NULL);
			continue;
		}
		if (ch == 27 || ch == 3)
			return dlg_answer(d, -1, ch, false);
		if (ch == '\t') {
			d->focus = (d->focus + 1) % stops;
			dlg_ev(d, UI_EV_KEY, ch, false, NULL);
			continue;
		}
		if (ch == '\r' || ch == '\n' || ch == ' ') {
		enter:
			if (d->focus == d->nbuttons) /* on the list: Enter = the first button (OK) */
				return dlg_answer(d, 0, ch, r == KEY_CODE_YES);
			return dlg_answer(d, (int)d->focus, ch, r == KEY_CODE_YES);
		}
		dlg_ev(d, UI_EV_KEY, ch, false, NULL);
	}
}

/* ---- the idle warning ------------------------------------------------------------------------- */

static const char *idle_text(void *ctx)
{
	static char buf[512];
	/* TRANSLATORS: kiosk idle warning; only the number changes, once a second */
	snprintf(buf, sizeof buf,
		 _("操作が一定時間ありませんでした。あと%d秒で手続きを中止し、最初の画面に戻ります。続ける場合は、いずれかのキーを押してください。"),
		 *(const int *)ctx);
	return buf;
}

int ui_idle_warning(long long deadline_ms)
{
	static const char *const buttons[] = {N_("続ける")};
	int secs = 0;
	struct dlg d = {.title = N_("お知らせ"), .text_fn = idle_text, .ctx = &secs, .buttons = buttons,
			.nbuttons = 1};
	WINDOW *under = dupwin(stdscr);
	int r;
	for (;;) {
		long long left = deadline_ms - ui_now_ms();
		if (left <= 0) {
			r = 0;
			break;
		}
		secs = (int)((left + 999) / 1000);
		paint(&d); /* the same text but its number: curses sends only the changed cells */
		wint_t ch;
		bool eof;
		int wait = (int)(left - (long long)(secs - 1) * 1000); /* to the next whole second */
		if (ui_getkey(&ch, wait > 0 ? wait : 1, &eof) != ERR) {
			r = 1;
			break;
		}
		if (eof) {
			r = -1;
			break;
		}
	}
	if (under) { /* put back what it covered */
		overwrite(under, stdscr);
		delwin(under);
		touchwin(stdscr);
		refresh();
	}
	return r;
}

/* Runs the dialog: returns the pressed button index, or -1 on Esc/EOF. */
static int run(struct dlg *d)
{
	if (!ui_active())
		return -1;
	ui_idle_reset(); /* a new question: the whole idle time to answer it */
	dlg_ev(d, UI_EV_SHOWN, 0, false, NULL);
	WINDOW *under = dupwin(stdscr);
	int r = run_keys(d, &under);
	if (under) { /* gone from the screen's contents (the next paint shows it), so that a dialog
		      * opened next (the chooser again after F2) does not take this one for background */
		overwrite(under, stdscr);
		delwin(under);
	}
	return r;
}

static bool confirm(struct dlg *d, bool default_yes)
{
	static const char *const b[] = {N_("はい"), N_("いいえ")};
	d->buttons = b;
	d->nbuttons = 2;
	d->focus = default_yes ? 0 : 1;
	return run(d) == 0;
}

bool ui_confirm(const char *title, const char *text, bool default_yes)
{
	return confirm(&(struct dlg){.title = title, .text = text}, default_yes);
}

bool ui_confirm_fn(const char *title, const char *(*text)(void *ctx), void *ctx, bool default_yes)
{
	return confirm(&(struct dlg){.title = title, .text_fn = text, .ctx = ctx}, default_yes);
}

static void message(struct dlg *d)
{
	static const char *const b[] = {N_("OK")};
	d->buttons = b;
	d->nbuttons = 1;
	run(d);
}

void ui_message(const char *title, const char *text)
{
	message(&(struct dlg){.title = title, .text = text});
}

void ui_message_fn(const char *title, const char *(*text)(void *ctx), void *ctx)
{
	message(&(struct dlg){.title = title, .text_fn = text, .ctx = ctx});
}

void ui_notice(const char *title, const char *text)
{
	if (!ui_active())
		return;
	paint(&(struct dlg){.title = title, .text = text, .notice = true});
}

void ui_drop_typeahead(void)
{
	if (ui_active())
		flushinp();
}

int ui_choose(const char *title, const char *text, const struct ui_choice *c, size_t n, size_t initial)
{
	return ui_choose_ex(title, text, c, n, initial, NULL);
}

int ui_choose_ex(const char *title, const char *text, const struct ui_choice *c, size_t n, size_t initial,
		 size_t *cur)
{
	static const char *const b[] = {N_("OK"), N_("キャンセル")};
	if (n == 0)
		return -1;
	struct dlg d = {.title = title, .text = text, .buttons = b, .nbuttons = 2, .choices = c,
			.nchoices = n, .sel = initial < n ? initial : 0, .lang_return = cur != NULL};
	d.focus = d.nbuttons;
	for (;;) {
		int r = run(&d);
		if (r == UI_CHOOSE_LANG) {
			*cur = d.sel;
			return UI_CHOOSE_LANG;
		}
		if (r != 0)
			return -1;
		if (!c[d.sel].disabled)
			return (int)d.sel;
		d.note = N_("この項目は選択できません。");
		d.focus = d.nbuttons;
	}
}
