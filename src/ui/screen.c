/* screen.c: the screen runner: lays a form out, paints it from the bound data on dirty flags,
 * handles focus, editing, language switch and resize, and returns the user's action (see ui.h). */
#include <curses.h>

#include <stdlib.h>
#include <string.h>

#include "i18n.h"
#include "ui.h"
#include "ui_draw.h"
#include "ui_text.h"

struct item_state {
	struct ui_edit ed; /* entry items */
	unsigned flags;    /* runtime flags (form flags, changed by ui_screen_set_flags) */
	/* layout (virtual rows of the content area) */
	int vy, h;
	int bx;           /* button: x inside the content area; table: first data row drawn */
	int rows_visible; /* table data rows / textblock lines shown */
	size_t scroll;    /* table: first row shown; textblock: first line shown */
	size_t nlines;    /* textblock: wrapped line count at the last layout */
	struct ui_edit *cells; /* table entry cells: nrows * ncols */
	size_t ncells;
};

struct stop {
	size_t item, row, col;
};

struct ui_screen {
	const struct form *f;
	struct ui_binding *b;
	size_t nb;
	struct item_state *st;
	struct stop *stops;
	size_t nstops, cap;
	size_t focus; /* index into stops */
	struct stop want; /* focus to restore after a relayout */
	bool have_want;
	char *error;               /* caller's text */
	const char *(*error_fn)(void *); /* or the caller's text made at paint time (follows F2) */
	void *error_ctx;
	const char *error_msgid;   /* runner's own message, translated at paint */
	const char *error_arg;     /* msgid put into {label} of error_msgid */
	bool dirty;
	int view; /* first virtual row shown */
	int lw;   /* label column width */
	int cy, cx;
	bool small;
	const char *esc_msgid; /* what the key bar says Esc does */
	int wake_ms;           /* return UI_ACT_TIMEOUT after this long, keys or not (0: never) */
	bool cancel_key;       /* F9 cancels (shown in the key bar) */
};

/* ---- bindings ------------------------------------------------------------------------------------ */

static const struct ui_binding *find_in(const struct ui_binding *b, size_t n, const char *name)
{
	for (size_t i = 0; name && i < n; i++)
		if (b[i].name && !strcmp(b[i].name, name))
			return &b[i];
	return NULL;
}

static const char *bstr(const struct ui_binding *b)
{
	if (!b)
		return NULL;
	if (b->kind == UI_BIND_STRING)
		return b->u.str ? *b->u.str : NULL;
	if (b->kind == UI_BIND_FUNC)
		return b->u.fn ? b->u.fn(b->ctx) : NULL;
	return NULL;
}

static struct secret *bsecret(const struct ui_binding *b)
{
	return b && b->kind == UI_BIND_SECRET ? b->u.secret : NULL;
}

static bool *bbool(const struct ui_binding *b)
{
	return b && b->kind == UI_BIND_BOOL ? b->u.flag : NULL;
}

static const struct ui_table *btable(const struct ui_binding *b)
{
	return b && b->kind == UI_BIND_TABLE ? b->u.table : NULL;
}

static const struct ui_binding *bind(const struct ui_screen *s, const char *name)
{
	return find_in(s->b, s->nb, name);
}

static const char *get_placeholder(const char *name, size_t len, void *ctx)
{
	const struct ui_screen *s = ctx;
	for (size_t i = 0; i < s->nb; i++)
		if (s->b[i].name && strlen(s->b[i].name) == len && !memcmp(s->b[i].name, name, len)) {
			const char *v = bstr(&s->b[i]);
			return v ? v : "";
		}
	return NULL;
}

/* The text a LABEL/SECTION shows, malloc'd: translated text with placeholders, or the bound string. */
static char *item_text(const struct ui_screen *s, const struct form_item *it)
{
	if (it->text)
		return ui_expand(_(it->text), get_placeholder, (void *)s);
	const char *v = bstr(bind(s, it->bind));
	return strdup(v ? v : "");
}

static bool is_entry(enum form_kind k)
{
	return k == FORM_TEXT || k == FORM_MASKED || k == FORM_DIGITS;
}

static const struct ui_table *item_table(const struct ui_screen *s, const struct form_item *it)
{
	return btable(bind(s, it->bind));
}

static const struct ui_binding *cell(const struct ui_table *t, size_t r, const char *name)
{
	if (!t || r >= t->nrows)
		return NULL;
	return find_in(t->rows[r].cells, t->rows[r].ncells, name);
}

/* ---- life cycle ---------------------------------------------------------------------------------- */

struct ui_screen *ui_screen_new(const struct form *f, const struct ui_binding *b, size_t nb)
{
	struct ui_screen *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	s->f = f;
	s->st = calloc(f->nitems ? f->nitems : 1, sizeof *s->st);
	s->b = calloc(nb ? nb : 1, sizeof *s->b);
	if (!s->st || !s->b) {
		ui_screen_free(s);
		return NULL;
	}
	if (nb)
		memcpy(s->b, b, nb * sizeof *b);
	s->nb = nb;
	for (size_t i = 0; i < f->nitems; i++) {
		s->st[i].flags = f->items[i].flags;
		struct secret *t = bsecret(bind(s, f->items[i].bind));
		if (t)
			s->st[i].ed.cur = t->len; /* cursor at the end of what is already there */
	}
	s->dirty = true;
	return s;
}

void ui_screen_free(struct ui_screen *s)
{
	if (!s)
		return;
	if (s->st && s->f)
		for (size_t i = 0; i < s->f->nitems; i++)
			free(s->st[i].cells);
	free(s->st);
	free(s->b);
	free(s->stops);
	free(s->error);
	free(s);
}

void ui_screen_set_error(struct ui_screen *s, const char *text)
{
	free(s->error);
	s->error = text && *text ? strdup(text) : NULL;
	s->error_fn = NULL;
	s->error_msgid = NULL;
	s->dirty = true;
}

void ui_screen_set_error_fn(struct ui_screen *s, const char *(*fn)(void *ctx), void *ctx)
{
	free(s->error);
	s->error = NULL;
	s->error_msgid = NULL;
	s->error_fn = fn;
	s->error_ctx = ctx;
	s->dirty = true;
}

void ui_screen_set_flags(struct ui_screen *s, const char *id, unsigned on, unsigned off)
{
	for (size_t i = 0; i < s->f->nitems; i++)
		if (s->f->items[i].id && !strcmp(s->f->items[i].id, id))
			s->st[i].flags = (s->st[i].flags | on) & ~off;
	s->dirty = true;
}

void ui_screen_set_keys(struct ui_screen *s, const char *esc_msgid, bool cancel_key)
{
	s->esc_msgid = esc_msgid;
	s->cancel_key = cancel_key;
	s->dirty = true;
}

void ui_screen_set_wake(struct ui_screen *s, int ms)
{
	s->wake_ms = ms > 0 ? ms : 0;
}

void ui_screen_invalidate(struct ui_screen *s)
{
	s->dirty = true;
}

/* ---- focus stops ------------------------------------------------------------------------------- */

static void add_stop(struct ui_screen *s, size_t item, size_t row, size_t col)
{
	if (s->nstops == s->cap) {
		size_t nc = s->cap ? s->cap * 2 : 16;
		struct stop *n = realloc(s->stops, nc * sizeof *n);
		if (!n)
			return;
		s->stops = n;
		s->cap = nc;
	}
	s->stops[s->nstops++] = (struct stop){item, row, col};
}

static enum form_kind stop_kind(const struct ui_screen *s, const struct stop *p)
{
	const struct form_item *it = &s->f->items[p->item];
	return it->kind == FORM_TABLE ? it->cols[p->col].kind : it->kind;
}

/* The first thing to fill: the first entry, else the first text to read (terms), else the first
 * checkbox, else the main button. Never a button while something above it waits. */
static size_t first_focus(const struct ui_screen *s)
{
	static const enum form_kind order[] = {FORM_TEXT, FORM_TEXTBLOCK, FORM_CHECKBOX};
	for (size_t o = 0; o < sizeof order / sizeof order[0]; o++)
		for (size_t k = 0; k < s->nstops; k++) {
			enum form_kind kk = stop_kind(s, &s->stops[k]);
			if (kk == order[o] || (order[o] == FORM_TEXT && is_entry(kk)))
				return k;
		}
	const struct form_item *m = form_find(s->f, s->f->main);
	for (size_t k = 0; m && k < s->nstops; k++)
		if (&s->f->items[s->stops[k].item] == m)
			return k;
	return 0;
}

/* A table's stops (its checkbox and entry cells, row by row; disabled rows have none), with an
 * edit state per cell (cursor at the end of what is already typed). */
static void table_stops(struct ui_screen *s, size_t i)
{
	const struct form_item *it = &s->f->items[i];
	const struct ui_table *t = item_table(s, it);
	struct item_state *st = &s->st[i];
	size_t need = t ? t->nrows * it->ncols : 0;
	if (need != st->ncells) {
		struct ui_edit *n = calloc(need ? need : 1, sizeof *n);
		if (n) {
			free(st->cells);
			st->cells = n;
			st->ncells = need;
			for (size_t r = 0; t && r < t->nrows; r++)
				for (size_t c = 0; c < it->ncols; c++) {
					struct secret *sec = bsecret(cell(t, r, it->cols[c].bind));
					n[r * it->ncols + c].cur = sec ? sec->len : 0;
				}
		}
	}
	for (size_t r = 0; t && r < t->nrows; r++) {
		if (t->rows[r].disabled)
			continue;
		for (size_t c = 0; c < it->ncols; c++)
			if (it->cols[c].kind != FORM_LABEL)
				add_stop(s, i, r, c);
	}
}

static void build_stops(struct ui_screen *s)
{
	struct stop cur = {0, 0, 0};
	bool had = s->nstops > 0;
	if (had)
		cur = s->stops[s->focus];
	if (s->have_want) {
		cur = s->want;
		had = true;
		s->have_want = false;
	}
	s->nstops = 0;
	const struct form *f = s->f;
	for (size_t i = 0; i < f->nitems; i++) {
		const struct form_item *it = &f->items[i];
		switch (it->kind) {
		case FORM_TEXT:
		case FORM_MASKED:
		case FORM_DIGITS:
		case FORM_CHECKBOX:
		case FORM_BUTTON:
		case FORM_TEXTBLOCK:
			add_stop(s, i, 0, 0);
			break;
		case FORM_TABLE:
			table_stops(s, i);
			break;
		default:
			break;
		}
	}
	s->focus = 0;
	if (!had)
		s->focus = first_focus(s);
	if (had) {
		/* the same stop, else the nearest one of the same item, else the first after it */
		size_t best = s->nstops;
		for (size_t k = 0; k < s->nstops; k++) {
			struct stop *p = &s->stops[k];
			if (p->item == cur.item && p->row == cur.row && p->col == cur.col) {
				best = k;
				break;
			}
			if (best == s->nstops && p->item >= cur.item)
				best = k;
		}
		s->focus = best < s->nstops ? best : 0;
	}
}

static const struct stop *focused(const struct ui_screen *s)
{
	return s->nstops ? &s->stops[s->focus] : NULL;
}

int ui_screen_focus(struct ui_screen *s, const char *id, size_t row)
{
	const struct form_item *it = form_find(s->f, id);
	if (!it)
		return -1;
	size_t idx = (size_t)(it - s->f->items);
	build_stops(s);
	for (size_t k = 0; k < s->nstops; k++)
		if (s->stops[k].item == idx && s->stops[k].row == row) {
			/* prefer an entry cell in a table row */
			size_t pick = k;
			for (size_t j = k; j < s->nstops && s->stops[j].item == idx && s->stops[j].row == row; j++)
				if (it->kind == FORM_TABLE && is_entry(it->cols[s->stops[j].col].kind)) {
					pick = j;
					break;
				}
			s->focus = pick;
			s->want = s->stops[pick];
			s->have_want = true;
			s->dirty = true;
			return 0;
		}
	return -1;
}

/* ---- layout ---------------------------------------------------------------------------------- */

#define X0 2
#define Y0 2
static int content_w(void)
{
	return COLS - 2 * X0;
}
/* rows: 0 title, 1 frame top, content, frame bottom, two error rows, key bar */
static int content_h(void)
{
	return LINES - 6;
}

static const char *button_text(const struct form_item *it, char *buf, size_t n)
{
	snprintf(buf, n, "[ %s ]", _(it->label));
	return buf;
}

static int label_block_w(const struct ui_screen *s, const struct form_item *it)
{
	(void)s;
	return (int)ui_width(_(it->label)) + ((it->flags & FORM_F_REQUIRED) ? 3 : 0);
}

static size_t count_lines(const char *t, int cols)
{
	size_t n = strlen(t), at = 0, lines = 0;
	if (n == 0)
		return 0;
	while (at < n) {
		size_t skip, l = ui_wrap_line(t + at, n - at, (size_t)(cols > 0 ? cols : 1), &skip);
		at += l + skip;
		lines++;
	}
	return lines;
}

/* The columns an entry shows (its brackets come on top: see paint_entry). */
static int entry_width(const struct ui_screen *s, const struct form_item *it)
{
	int avail = content_w() - it->indent - s->lw - 1 - 2;
	int w = it->width ? it->width : 40;
	return w > avail ? (avail > 1 ? avail : 1) : w;
}

/* A table's heading row: none for a plain one (a list of checkboxes under a section). */
static int head_rows(const struct form_item *it)
{
	return (it->flags & FORM_F_PLAIN) ? 0 : 1;
}

/* Table column widths into w[] (ncols), from what the columns hold in the current language: a
 * fixed column gets max(its form width, its widest heading or cell); the shared column (width 0)
 * gets the rest. When that is narrower than its widest cell (English is longer), the fixed columns
 * give back room down to their widest cell, never cutting an account number for a heading. */
/* (68 lines, kept whole: one computation over the want/min/keep arrays it builds.) */
static void table_widths(const struct form_item *it, const struct ui_table *t, int total, int *w)
{
	int want[16], min[16], keep[16], need_flex = 0, flex = 0, sum = 0;
	size_t nc = it->ncols < 16 ? it->ncols : 16;
	for (size_t c = 0; c < nc; c++) {
		const struct form_column *col = &it->cols[c];
		int head = col->label && head_rows(it) ? (int)ui_width(_(col->label)) : 0, cells = 0;
		if (col->kind == FORM_CHECKBOX) {
			cells = 3;
		} else if (is_entry(col->kind)) {
			/* room for a short PIN and the cursor; longer input scrolls in the cell */
			cells = (col->max > 0 && col->max < 6 ? col->max + 1 : 7) + 2; /* + [ ] */
			if (col->width && col->width < cells)
				cells = col->width;
		} else {
			/* every value the column can take (width_rows), not only today's: no shift */
			for (size_t r = 0; t && r < t->nrows + t->n_width_rows; r++) {
				const struct ui_row *row = r < t->nrows ? &t->rows[r] : &t->width_rows[r - t->nrows];
				const char *v = bstr(find_in(row->cells, row->ncells, col->bind));
				int vw = v ? (int)ui_width(v) : 0;
				if (vw > cells)
					cells = vw;
			}
		}
		if (cells < 1)
			cells = 1;
		if (col->width) {
			want[c] = col->width > head ? col->width : head;
			if (cells > want[c])
				want[c] = cells;
			min[c] = cells;
			keep[c] = head > cells ? head : cells; /* the heading stays whole, if possible */
			sum += want[c];
		} else {
			want[c] = min[c] = keep[c] = 0;
			flex++;
			int n = head > cells ? head : cells;
			if (n > need_flex)
				need_flex = n;
		}
	}
	int gaps = (int)nc - 1;
	int left = total - sum - gaps;
	/* give room back, the largest slack first, until the shared column fits: first down to
	 * whole headings, then down to the widest cell */
	for (int phase = 0; phase < 2; phase++) {
		const int *floor = phase == 0 ? keep : min;
		while (flex && left < need_flex) {
			size_t best = nc;
			int slack = 0;
			for (size_t c = 0; c < nc; c++)
				if (it->cols[c].width && want[c] - floor[c] > slack) {
					slack = want[c] - floor[c];
					best = c;
				}
			if (best == nc)
				break;
			want[best]--;
			left++;
		}
	}
	for (size_t c = 0; c < nc; c++) {
		if (it->cols[c].width)
			w[c] = want[c];
		else
			w[c] = flex ? (left > flex ? left / flex : 1) : 1;
	}
}

/* Layout: label column, heights per kind, the fill item, positions, button rows, the view that
 * keeps the focus visible. Each stage one function; layout() runs them in order. */

static void layout_label_column(struct ui_screen *s)
{
	const struct form *f = s->f;
	s->lw = 0;
	for (size_t i = 0; i < f->nitems; i++) {
		const struct form_item *it = &f->items[i];
		if ((is_entry(it->kind) || it->kind == FORM_LABEL) && it->label) {
			int lw = label_block_w(s, it);
			if (lw > s->lw)
				s->lw = lw;
		}
	}
	if (s->lw > content_w() / 2)
		s->lw = content_w() / 2;
}

/* The rows item i takes (before the fill); true when it is the fill item (height "*"). */
static bool measure_item(struct ui_screen *s, size_t i)
{
	const struct form_item *it = &s->f->items[i];
	struct item_state *st = &s->st[i];
	int W = content_w();
	st->h = 0;
	switch (it->kind) {
	case FORM_LABEL: {
		char *t = item_text(s, it);
		int cols = W - it->indent - (it->label ? s->lw + 1 : 0);
		st->h = t ? (int)count_lines(t, cols) : 0;
		if (it->label && st->h == 0)
			st->h = 1;
		free(t);
		return false;
	}
	case FORM_SECTION:
	case FORM_TEXT:
	case FORM_MASKED:
	case FORM_DIGITS:
	case FORM_CHECKBOX:
		st->h = 1;
		return false;
	case FORM_BUTTON: /* consecutive buttons share the first one's row */
		st->h = (i > 0 && s->f->items[i - 1].kind == FORM_BUTTON) ? 0 : 1;
		return false;
	case FORM_TABLE: {
		const struct ui_table *t = item_table(s, it);
		size_t nr = t ? t->nrows : 0;
		int rows = nr ? (int)nr : 1;
		if (it->height > 0 && rows > it->height)
			rows = it->height;
		st->rows_visible = rows;
		st->h = head_rows(it) + rows;
		return it->height < 0;
	}
	case FORM_TEXTBLOCK: {
		const char *v = bstr(bind(s, it->bind));
		st->nlines = count_lines(v ? v : "", W - it->indent - 2);
		st->rows_visible = it->height > 0 ? it->height : 3;
		st->h = (it->label ? 1 : 0) + st->rows_visible;
		return it->height < 0;
	}
	}
	return false;
}

/* The fill item takes the spare rows: a table up to its row count (at least 2 rows), a text that
 * scrolls gives up rows (down to 2) before the buttons under it go off the screen. */
static void layout_fill(struct ui_screen *s, size_t fill, int spare)
{
	const struct form_item *it = &s->f->items[fill];
	struct item_state *st = &s->st[fill];
	int rows;
	if (it->kind == FORM_TABLE) {
		const struct ui_table *t = item_table(s, it);
		int nr = t && t->nrows ? (int)t->nrows : 1;
		rows = st->rows_visible + (spare > 0 ? spare : 0);
		if (rows > nr)
			rows = nr;
		if (rows < 2 && nr >= 2)
			rows = 2;
	} else {
		rows = st->rows_visible + spare;
		if (rows < 2)
			rows = 2;
	}
	st->h += rows - st->rows_visible;
	st->rows_visible = rows;
}

/* Virtual rows top to bottom; returns the total height. */
static int layout_positions(struct ui_screen *s)
{
	int y = 0;
	for (size_t i = 0; i < s->f->nitems; i++) {
		const struct form_item *it = &s->f->items[i];
		struct item_state *st = &s->st[i];
		if (it->kind == FORM_BUTTON && st->h == 0) {
			st->vy = s->st[i - 1].vy;
			continue;
		}
		if (st->h == 0) {
			st->vy = y;
			continue;
		}
		y += it->gap;
		st->vy = y;
		y += st->h;
	}
	return y;
}

/* Each row of buttons centered. */
static void layout_buttons(struct ui_screen *s)
{
	const struct form *f = s->f;
	char buf[512];
	for (size_t i = 0; i < f->nitems; i++) {
		if (f->items[i].kind != FORM_BUTTON || s->st[i].h == 0)
			continue;
		size_t j = i;
		int tw = 0;
		for (; j < f->nitems && f->items[j].kind == FORM_BUTTON && (j == i || s->st[j].h == 0); j++)
			tw += (int)ui_width(button_text(&f->items[j], buf, sizeof buf)) + (j > i ? 2 : 0);
		int x = (content_w() - tw) / 2;
		if (x < 0)
			x = 0;
		for (size_t k = i; k < j; k++) {
			s->st[k].bx = x;
			x += (int)ui_width(button_text(&f->items[k], buf, sizeof buf)) + 2;
		}
		i = j - 1;
	}
}

/* The first virtual row shown: the focused row visible, with its section heading when possible. */
static void layout_view(struct ui_screen *s, int total)
{
	int H = content_h();
	const struct stop *fo = focused(s);
	if (total <= H) {
		s->view = 0;
		return;
	}
	if (!fo)
		return;
	const struct form_item *it = &s->f->items[fo->item];
	const struct item_state *st = &s->st[fo->item];
	int fy = st->vy, fh = 1;
	if (it->kind == FORM_TABLE)
		fy = st->vy + head_rows(it) + (int)(fo->row - (fo->row >= st->scroll ? st->scroll : fo->row));
	else if (it->kind == FORM_TEXTBLOCK)
		fh = st->h;
	if (s->focus == 0)
		s->view = 0;
	int top = fy;
	if (fo->item > 0 && s->f->items[fo->item - 1].kind == FORM_SECTION)
		top = s->st[fo->item - 1].vy;
	if (it->kind == FORM_TABLE)
		top = st->vy; /* with the table's heading */
	if (top < s->view)
		s->view = top;
	if (fy + fh > s->view + H)
		s->view = fy + fh - H;
	if (s->view > total - H)
		s->view = total - H;
	if (s->view < 0)
		s->view = 0;
}

static void layout(struct ui_screen *s)
{
	layout_label_column(s);
	int fixed = 0;
	ssize_t fill = -1;
	for (size_t i = 0; i < s->f->nitems; i++) {
		if (measure_item(s, i))
			fill = (ssize_t)i;
		fixed += s->st[i].h + (s->st[i].h > 0 ? s->f->items[i].gap : 0);
	}
	if (fill >= 0)
		layout_fill(s, (size_t)fill, content_h() - fixed);
	int total = layout_positions(s);
	layout_buttons(s);
	build_stops(s);
	layout_view(s, total);
}

/* ---- painting ---------------------------------------------------------------------------------- */

static int sy(const struct ui_screen *s, int vy)
{
	int y = Y0 + vy - s->view;
	return (y >= Y0 && y < Y0 + content_h()) ? y : -1;
}

static void draw_entry(struct ui_screen *s, int y, int x, int w, struct ui_edit *ed,
		       struct secret *t, unsigned flags, size_t max, bool focus)
{
	static struct secret empty = SECRET_INIT;
	if (!t)
		t = &empty;
	ed->flags = ((flags & FORM_F_DIGITS) ? UI_EDIT_DIGITS : 0) |
		    ((flags & FORM_F_MASKED) ? UI_EDIT_MASKED : 0) | ((flags & FORM_F_UPPER) ? UI_EDIT_UPPER : 0);
	ed->maxchars = max;
	attr_t fa = ui_attr(UIC_FIELD) | (focus ? A_BOLD : 0);
	if (y < 0)
		return;
	/* a visible box, under vt100 and without colour too: [field] (brackets bold when focused) */
	if (w >= 4) {
		attr_t ba = focus ? A_BOLD : A_NORMAL;
		ui_puts(y, x, "[", 1, ba);
		ui_puts(y, x + w - 1, "]", 1, ba);
		x++;
		w -= 2;
	}
	ui_fill(y, x, w, fa);
	size_t start, len, cc;
	ui_edit_view(ed, t, (size_t)w, &start, &len, &cc);
	if (ed->flags & UI_EDIT_MASKED) {
		const char *g = ui_mask_glyph();
		for (size_t i = 0; i < len; i++)
			ui_puts(y, x + (int)i, g, 1, fa);
	} else {
		ui_put(y, x, t->buf ? t->buf + start : "", len, w, fa);
	}
	if (focus) {
		s->cy = y;
		s->cx = x + (int)cc;
	}
}

static void draw_wrapped(int vy_limit, const struct ui_screen *s, int vy, int x, int cols,
			 const char *t, attr_t a)
{
	size_t n = strlen(t), at = 0;
	int line = 0;
	while (at < n && line < vy_limit) {
		size_t skip, l = ui_wrap_line(t + at, n - at, (size_t)(cols > 0 ? cols : 1), &skip);
		int y = sy(s, vy + line);
		if (y >= 0)
			ui_put(y, x, t + at, l, cols, a);
		at += l + skip;
		line++;
	}
}

/* Cell (r, c) of table item i at screen row ry (-1: off screen), column x, w columns wide. */
static void draw_cell(struct ui_screen *s, size_t i, size_t r, size_t c, int ry, int x, int w, bool dis,
		      bool foc)
{
	const struct form_item *it = &s->f->items[i];
	struct item_state *st = &s->st[i];
	const struct form_column *col = &it->cols[c];
	const struct ui_binding *b = cell(item_table(s, it), r, col->bind);
	attr_t a = dis ? A_DIM : A_NORMAL;
	if (col->kind == FORM_CHECKBOX) {
		bool *v = bbool(b);
		if (ry < 0)
			return;
		ui_puts(ry, x, v && *v ? "[x]" : "[ ]", 3, foc ? ui_attr(UIC_FOCUS) : a);
		if (foc) {
			s->cy = ry;
			s->cx = x + 1;
		}
	} else if (is_entry(col->kind) && dis) {
		if (ry >= 0)
			ui_puts(ry, x, "-", w, a);
	} else if (is_entry(col->kind)) {
		struct ui_edit *ed = st->cells && r * it->ncols + c < st->ncells ? &st->cells[r * it->ncols + c] : NULL;
		struct ui_edit tmp = {0};
		draw_entry(s, ry, x, w > 1 ? w - 1 : 1, ed ? ed : &tmp, bsecret(b), col->flags, (size_t)col->max, foc);
	} else if (ry >= 0) {
		const char *v = bstr(b);
		ui_puts(ry, x, v ? v : "", w, a);
	}
}

static void draw_table(struct ui_screen *s, size_t i, const struct stop *fo)
{
	const struct form_item *it = &s->f->items[i];
	struct item_state *st = &s->st[i];
	const struct ui_table *t = item_table(s, it);
	int x0 = X0 + it->indent, W = content_w() - it->indent;
	int w[16];
	table_widths(it, t, W, w);
	int y = sy(s, st->vy), hr = head_rows(it);
	/* heading */
	if (y >= 0 && hr) {
		int x = x0;
		for (size_t c = 0; c < it->ncols; c++) {
			ui_puts(y, x, _(it->cols[c].label), w[c], ui_attr(UIC_SECTION) | A_UNDERLINE);
			x += w[c] + 1;
		}
	}
	size_t nr = t ? t->nrows : 0;
	if (nr == 0) {
		return;
	}
	/* scroll so the focused row is visible */
	size_t vis = (size_t)(st->rows_visible > 0 ? st->rows_visible : 1);
	if (fo && fo->item == i) {
		if (fo->row < st->scroll)
			st->scroll = fo->row;
		if (fo->row >= st->scroll + vis)
			st->scroll = fo->row - vis + 1;
	}
	if (st->scroll + vis > nr)
		st->scroll = nr > vis ? nr - vis : 0;
	for (size_t k = 0; k < vis && st->scroll + k < nr; k++) {
		size_t r = st->scroll + k;
		int ry = sy(s, st->vy + hr + (int)k);
		bool dis = t->rows[r].disabled;
		int x = x0;
		for (size_t c = 0; c < it->ncols; c++) {
			bool foc = fo && fo->item == i && fo->row == r && fo->col == c;
			draw_cell(s, i, r, c, ry, x, w[c], dis, foc);
			x += w[c] + 1;
		}
	}
	/* more rows above/below */
	int yt = sy(s, st->vy + hr), yb = sy(s, st->vy + hr + (int)vis - 1);
	int xr = X0 + content_w();
	if (st->scroll > 0 && yt >= 0)
		mvaddch(yt, xr, ui_ascii() ? '^' : ACS_UARROW);
	if (st->scroll + vis < nr && yb >= 0)
		mvaddch(yb, xr, ui_ascii() ? 'v' : ACS_DARROW);
}

static void draw_textblock(struct ui_screen *s, size_t i, bool foc)
{
	const struct form_item *it = &s->f->items[i];
	struct item_state *st = &s->st[i];
	int x = X0 + it->indent, cols = content_w() - it->indent - 2;
	int vy = st->vy;
	if (it->label) {
		int y = sy(s, vy);
		if (y >= 0)
			ui_puts(y, x, _(it->label), cols, A_BOLD);
		vy++;
	}
	const char *t = bstr(bind(s, it->bind));
	if (!t)
		t = "";
	size_t vis = (size_t)st->rows_visible;
	if (st->nlines <= vis)
		st->scroll = 0;
	else if (st->scroll > st->nlines - vis)
		st->scroll = st->nlines - vis;
	size_t n = strlen(t), at = 0, line = 0;
	while (at < n && line < st->scroll + vis) {
		size_t skip, l = ui_wrap_line(t + at, n - at, (size_t)cols, &skip);
		if (line >= st->scroll) {
			int y = sy(s, vy + (int)(line - st->scroll));
			if (y >= 0)
				ui_put(y, x + 1, t + at, l, cols, A_NORMAL);
		}
		at += l + skip;
		line++;
	}
	/* left bar marks the block (reverse when focused); right column: scroll position */
	for (size_t k = 0; k < vis; k++) {
		int y = sy(s, vy + (int)k);
		if (y < 0)
			continue;
		if (foc)
			mvaddch(y, x - 1 >= X0 ? x - 1 : x, ' ' | A_REVERSE);
		else
			mvaddch(y, x - 1 >= X0 ? x - 1 : x, ui_ascii() ? '|' : ACS_VLINE);
	}
	/* the end of the text has been on the screen: the form's read binding says so */
	bool *read = it->read ? bbool(bind(s, it->read)) : NULL;
	if (read && st->scroll + vis >= st->nlines && !*read) {
		*read = true;
		s->dirty = true; /* what depends on it (a checkbox, a note) is drawn again */
	}
	int xr = X0 + it->indent + cols + 1;
	int yt = sy(s, vy), yb = sy(s, vy + (int)vis - 1);
	if (st->scroll > 0 && yt >= 0)
		mvaddch(yt, xr, ui_ascii() ? '^' : ACS_UARROW);
	if (st->scroll + vis < st->nlines && yb >= 0)
		mvaddch(yb, xr, ui_ascii() ? 'v' : ACS_DARROW);
	if (foc) {
		s->cy = yt >= 0 ? yt : Y0;
		s->cx = x;
	}
}

static bool item_enabled(const struct ui_screen *s, const struct form_item *it)
{
	if (!it->enabled_if)
		return true;
	bool *v = bbool(bind(s, it->enabled_if));
	return v && *v;
}

/* The key bar says what each key does on this screen, in the current language. */
static void paint_keybar(const struct ui_screen *s, const struct stop *fo)
{
	const char *keys[20];
	size_t nk = 0;
#define KEY(k, l) (keys[nk++] = (k), keys[nk++] = (l))
	KEY("F1", N_("ヘルプ"));
	if (!s->esc_msgid || *s->esc_msgid) /* "": Esc does nothing here */
		KEY("Esc", s->esc_msgid ? s->esc_msgid : N_("戻る"));
	if (s->cancel_key)
		/* TRANSLATORS: key bar: F9 cancels the whole procedure */
		KEY("F9", N_("中止"));
	/* TRANSLATORS: the F2 key switches to the OTHER language: write its name in that language
	   (the English catalog says 日本語). */
	KEY("F2", N_("English"));
	KEY("Tab", N_("移動"));
	if (fo) {
		enum form_kind k = stop_kind(s, fo);
		if (k == FORM_CHECKBOX)
			/* TRANSLATORS: key bar: what Space does on a check box */
			KEY("Space", N_("チェック"));
		else if (k == FORM_TEXTBLOCK)
			/* TRANSLATORS: key bar: PgDn (or Space) shows the rest of the text; keep it short */
			KEY("PgDn", N_("続き"));
	}
	KEY("Enter", N_("決定"));
#undef KEY
	ui_keybar(keys, nk / 2);
}

/* Painting: one function per item kind (painters[]), then the frame's scroll marks, the error rows
 * and the key bar. */

static void paint_label(struct ui_screen *s, size_t i, bool foc)
{
	(void)foc;
	const struct form_item *it = &s->f->items[i];
	const struct item_state *st = &s->st[i];
	int x = X0 + it->indent, y = sy(s, st->vy), W = content_w();
	char *t = item_text(s, it);
	if (!t)
		return;
	attr_t a = (it->flags & FORM_F_BOLD) ? A_BOLD : A_NORMAL;
	if (it->label) {
		if (y >= 0)
			ui_puts(y, x, _(it->label), s->lw, A_NORMAL);
		draw_wrapped(st->h, s, st->vy, x + s->lw + 1, W - it->indent - s->lw - 1, t, a);
	} else {
		draw_wrapped(st->h, s, st->vy, x, W - it->indent, t, a);
	}
	free(t);
}

static void paint_section(struct ui_screen *s, size_t i, bool foc)
{
	(void)foc;
	const struct form_item *it = &s->f->items[i];
	int y = sy(s, s->st[i].vy);
	char *t = item_text(s, it);
	if (t && y >= 0)
		ui_puts(y, X0 + it->indent, t, content_w() - it->indent, ui_attr(UIC_SECTION) | A_UNDERLINE);
	free(t);
}

static void paint_entry(struct ui_screen *s, size_t i, bool foc)
{
	const struct form_item *it = &s->f->items[i];
	struct item_state *st = &s->st[i];
	int x = X0 + it->indent, y = sy(s, st->vy);
	if (y >= 0) {
		int lx = x + ui_puts(y, x, _(it->label), s->lw, foc ? ui_attr(UIC_FOCUS) : A_NORMAL);
		if (st->flags & FORM_F_REQUIRED)
			ui_puts(y, lx + 1, "\xe2\x80\xbb", 2, ui_attr(UIC_ERROR)); /* ※ */
	}
	/* width + 2: the brackets around the entry's own width */
	draw_entry(s, y, x + s->lw + 1, entry_width(s, it) + 2, &st->ed, bsecret(bind(s, it->bind)), st->flags,
		   (size_t)it->max, foc);
}

static void paint_checkbox(struct ui_screen *s, size_t i, bool foc)
{
	const struct form_item *it = &s->f->items[i];
	int x = X0 + it->indent, y = sy(s, s->st[i].vy), W = content_w();
	bool *v = bbool(bind(s, it->bind));
	attr_t dim = item_enabled(s, it) ? 0 : A_DIM;
	if (y < 0)
		return;
	ui_puts(y, x, v && *v ? "[x]" : "[ ]", 3, (foc ? ui_attr(UIC_FOCUS) : A_NORMAL) | dim);
	int lw = ui_puts(y, x + 4, _(it->label), W - it->indent - 4, (foc ? A_BOLD : A_NORMAL) | dim);
	const char *hint = it->hint ? bstr(bind(s, it->hint)) : NULL;
	if (hint && *hint) /* e.g. why it cannot be ticked yet */
		ui_puts(y, x + 5 + lw, hint, W - it->indent - 5 - lw, A_DIM);
	if (foc) {
		s->cy = y;
		s->cx = x + 1;
	}
}

static void paint_button(struct ui_screen *s, size_t i, bool foc)
{
	const struct form_item *it = &s->f->items[i];
	const struct item_state *st = &s->st[i];
	int y = sy(s, st->vy);
	char buf[512];
	button_text(it, buf, sizeof buf);
	attr_t a = foc ? ui_attr(UIC_FOCUS) | A_BOLD : A_BOLD;
	if (!item_enabled(s, it))
		a = foc ? A_REVERSE | A_DIM : A_DIM;
	if (y < 0)
		return;
	ui_puts(y, X0 + st->bx, buf, content_w() - st->bx, a);
	if (foc) {
		s->cy = y;
		s->cx = X0 + st->bx + 2;
	}
}

static void paint_table(struct ui_screen *s, size_t i, bool foc)
{
	(void)foc;
	draw_table(s, i, focused(s));
}

static void (*const painters[])(struct ui_screen *, size_t, bool) = {
	[FORM_LABEL] = paint_label,     [FORM_SECTION] = paint_section, [FORM_TEXT] = paint_entry,
	[FORM_MASKED] = paint_entry,    [FORM_DIGITS] = paint_entry,    [FORM_CHECKBOX] = paint_checkbox,
	[FORM_TABLE] = paint_table,     [FORM_BUTTON] = paint_button,   [FORM_TEXTBLOCK] = draw_textblock,
};
/* every kind has its painter (FORM_TEXTBLOCK is the last kind): a new kind without one fails here */
_Static_assert(sizeof painters / sizeof painters[0] == FORM_TEXTBLOCK + 1, "a painter per form kind");

/* The title bar and the frame, the subtitle in its top edge. */
static void paint_frame(struct ui_screen *s)
{
	const struct form *f = s->f;
	attr_t ta = ui_attr(UIC_TITLE);
	ui_fill(0, 0, COLS, ta);
	const char *title = _(f->title);
	int tw = (int)ui_width(title);
	ui_puts(0, tw < COLS ? (COLS - tw) / 2 : 0, title, COLS, ta);
	ui_box(1, 0, LINES - 4, COLS);
	if (f->subtitle) {
		char *sub = ui_expand(_(f->subtitle), get_placeholder, s);
		if (sub) {
			ui_puts(1, 2, " ", 1, A_NORMAL);
			int w = ui_puts(1, 3, sub, COLS - 8, A_BOLD);
			ui_puts(1, 3 + w, " ", 1, A_NORMAL);
			free(sub);
		}
	}
}

/* Content scrolled: marks on the frame's right edge. */
static void paint_scroll_marks(const struct ui_screen *s)
{
	int total = 0;
	for (size_t i = 0; i < s->f->nitems; i++)
		if (s->st[i].vy + s->st[i].h > total)
			total = s->st[i].vy + s->st[i].h;
	if (s->view > 0)
		mvaddch(Y0, COLS - 1, ui_ascii() ? '^' : ACS_UARROW);
	if (total > s->view + content_h())
		mvaddch(Y0 + content_h() - 1, COLS - 1, ui_ascii() ? 'v' : ACS_DARROW);
}

/* The error rows: the caller's text, or the runner's own message ({label} filled); a message wraps
 * onto the second row rather than being cut. */
static void paint_error(const struct ui_screen *s)
{
	char *t = NULL;
	const char *msg = s->error_fn ? s->error_fn(s->error_ctx) : s->error;
	if (msg && !*msg)
		msg = NULL;
	if (!msg && s->error_msgid) {
		const char *arg = s->error_arg ? _(s->error_arg) : "";
		const char *m = _(s->error_msgid);
		const char *p = strstr(m, "{label}");
		if (p) {
			size_t n = strlen(m) + strlen(arg) + 1;
			t = malloc(n);
			if (t)
				snprintf(t, n, "%.*s%s%s", (int)(p - m), m, arg, p + 7);
		}
		msg = t ? t : m;
	}
	size_t n = msg ? strlen(msg) : 0, at = 0;
	for (int ey = LINES - 3; ey <= LINES - 2 && at < n; ey++) {
		size_t skip = 0, l = ui_wrap_line(msg + at, n - at, (size_t)(COLS - 2), &skip);
		if (l == 0 && skip == 0)
			break;
		ui_puts(ey, 1, msg + at, ey == LINES - 2 ? COLS - 2 : (int)ui_width_n(msg + at, l), ui_attr(UIC_ERROR));
		at += l + skip;
	}
	free(t);
}

static void paint(struct ui_screen *s)
{
	s->dirty = false;
	if (ui_too_small()) {
		s->small = true;
		curs_set(1);
		return;
	}
	s->small = false;
	erase();
	layout(s);
	paint_frame(s);
	const struct stop *fo = focused(s);
	s->cy = Y0;
	s->cx = X0;
	for (size_t i = 0; i < s->f->nitems; i++)
		painters[s->f->items[i].kind](s, i, fo && fo->item == i);
	paint_scroll_marks(s);
	paint_error(s);
	paint_keybar(s, fo);
	/* the terminal cursor on the focused item, for screen readers */
	curs_set(1);
	move(s->cy, s->cx);
	refresh();
}

/* ---- keys as commands ------------------------------------------------------------------------------
 * One binding table maps raw keys to commands (dialog's DLG_KEYS_BINDING, neomutt's
 * MenuFunctions); each command is one small handler. Keys typed in an entry that are printable are
 * text, not commands. */

enum cmd {
	CMD_NONE = 0, CMD_HELP, CMD_LANG, CMD_NEXT, CMD_PREV, CMD_UP, CMD_DOWN, CMD_LEFT, CMD_RIGHT,
	CMD_PGUP, CMD_PGDN, CMD_ENTER, CMD_SPACE, CMD_BACK, CMD_CANCEL, CMD_QUIT, CMD_REDRAW, CMD_RESIZE,
	CMD_HOME, CMD_END, CMD_BACKSPACE, CMD_DELETE, CMD_KILL_EOL, CMD_KILL_BOL, CMD__COUNT
};

static const struct keybinding {
	wint_t key;
	bool fkey; /* a curses KEY_* code, not a character */
	enum cmd cmd;
} keymap[] = {
	{KEY_F(1), true, CMD_HELP},      {KEY_F(2), true, CMD_LANG},       {KEY_F(9), true, CMD_CANCEL},
	{'\t', false, CMD_NEXT},         {KEY_BTAB, true, CMD_PREV},       {KEY_UP, true, CMD_UP},
	{KEY_DOWN, true, CMD_DOWN},      {KEY_LEFT, true, CMD_LEFT},       {KEY_RIGHT, true, CMD_RIGHT},
	{KEY_PPAGE, true, CMD_PGUP},     {KEY_NPAGE, true, CMD_PGDN},      {KEY_ENTER, true, CMD_ENTER},
	{'\r', false, CMD_ENTER},        {'\n', false, CMD_ENTER},         {' ', false, CMD_SPACE},
	{27, false, CMD_BACK},           {3, false, CMD_QUIT} /* Ctrl-C under raw() */,
	{12, false, CMD_REDRAW} /* Ctrl-L */, {KEY_RESIZE, true, CMD_RESIZE},
	{KEY_HOME, true, CMD_HOME},      {1, false, CMD_HOME} /* Ctrl-A */, {KEY_END, true, CMD_END},
	{5, false, CMD_END} /* Ctrl-E */, {2, false, CMD_LEFT} /* Ctrl-B */, {6, false, CMD_RIGHT} /* Ctrl-F */,
	{KEY_BACKSPACE, true, CMD_BACKSPACE}, {8, false, CMD_BACKSPACE}, {127, false, CMD_BACKSPACE},
	{KEY_DC, true, CMD_DELETE},      {4, false, CMD_DELETE} /* Ctrl-D */,
	{11, false, CMD_KILL_EOL} /* Ctrl-K */, {21, false, CMD_KILL_BOL} /* Ctrl-U */,
};

static enum cmd key_command(wint_t ch, bool fk)
{
	for (size_t i = 0; i < sizeof keymap / sizeof keymap[0]; i++)
		if (keymap[i].key == ch && keymap[i].fkey == fk)
			return keymap[i].cmd;
	return CMD_NONE;
}

/* What a handler tells the loop: go on reading keys, or return *out to the caller. */
enum press { P_NONE, P_DONE };

static void move_focus(struct ui_screen *s, int dir)
{
	if (!s->nstops)
		return;
	s->focus = (s->focus + s->nstops + (size_t)(dir > 0 ? 1 : s->nstops - 1)) % s->nstops;
	s->dirty = true;
}

static void edit_flags(struct ui_edit *ed, unsigned flags, int max)
{
	ed->flags = ((flags & FORM_F_DIGITS) ? UI_EDIT_DIGITS : 0) | ((flags & FORM_F_MASKED) ? UI_EDIT_MASKED : 0) |
		    ((flags & FORM_F_UPPER) ? UI_EDIT_UPPER : 0);
	ed->maxchars = (size_t)max;
}

/* entry under focus: its edit state and text; false if the focus is not an entry */
static bool focused_entry(struct ui_screen *s, struct ui_edit **ed, struct secret **t)
{
	const struct stop *fo = focused(s);
	if (!fo)
		return false;
	const struct form_item *it = &s->f->items[fo->item];
	struct item_state *st = &s->st[fo->item];
	if (is_entry(it->kind)) {
		*ed = &st->ed;
		*t = bsecret(bind(s, it->bind));
		edit_flags(&st->ed, st->flags, it->max);
		return *t != NULL;
	}
	if (it->kind == FORM_TABLE && is_entry(it->cols[fo->col].kind)) {
		const struct ui_table *tb = item_table(s, it);
		size_t k = fo->row * it->ncols + fo->col;
		if (!st->cells || k >= st->ncells)
			return false;
		*ed = &st->cells[k];
		*t = bsecret(cell(tb, fo->row, it->cols[fo->col].bind));
		edit_flags(*ed, it->cols[fo->col].flags, it->cols[fo->col].max);
		return *t != NULL;
	}
	return false;
}

static bool stop_is_entry(const struct ui_screen *s, const struct stop *p)
{
	return is_entry(stop_kind(s, p));
}

static void set_error_msgid(struct ui_screen *s, const char *msgid, const char *arg)
{
	free(s->error);
	s->error = NULL;
	s->error_fn = NULL;
	s->error_msgid = msgid;
	s->error_arg = arg;
	s->dirty = true;
}

static enum press press_button(struct ui_screen *s, size_t idx, struct ui_action *out)
{
	const struct form_item *it = &s->f->items[idx];
	if (!item_enabled(s, it)) {
		set_error_msgid(s, it->refused ? it->refused : N_("このボタンは今は押せません。"), NULL);
		return P_NONE;
	}
	if (s->st[idx].flags & FORM_F_VALIDATE) {
		for (size_t i = 0; i < s->f->nitems; i++) {
			const struct form_item *e = &s->f->items[i];
			if (!is_entry(e->kind) || !(s->st[i].flags & FORM_F_REQUIRED))
				continue;
			struct secret *t = bsecret(bind(s, e->bind));
			if (t && t->len > 0)
				continue;
			/* TRANSLATORS: {label} is the field's label, e.g. ログインID. */
			set_error_msgid(s, N_("「{label}」を入力してください。"), e->label);
			for (size_t k = 0; k < s->nstops; k++)
				if (s->stops[k].item == i)
					s->focus = k;
			return P_NONE;
		}
	}
	set_error_msgid(s, NULL, NULL);
	out->kind = (it->flags & FORM_F_CANCEL) ? UI_ACT_BACK : UI_ACT_BUTTON;
	out->button = it->id;
	return P_DONE;
}

static enum press press_main(struct ui_screen *s, struct ui_action *out)
{
	const struct form_item *m = form_find(s->f, s->f->main);
	if (!m)
		return P_NONE;
	return press_button(s, (size_t)(m - s->f->items), out);
}

static bool textblock_scroll(struct ui_screen *s, int lines)
{
	const struct stop *fo = focused(s);
	if (!fo || s->f->items[fo->item].kind != FORM_TEXTBLOCK)
		return false;
	struct item_state *st = &s->st[fo->item];
	size_t vis = (size_t)(st->rows_visible > 0 ? st->rows_visible : 1);
	size_t maxs = st->nlines > vis ? st->nlines - vis : 0;
	size_t old = st->scroll;
	if (lines < 0)
		st->scroll = st->scroll > (size_t)-lines ? st->scroll - (size_t)-lines : 0;
	else
		st->scroll = st->scroll + (size_t)lines > maxs ? maxs : st->scroll + (size_t)lines;
	s->dirty = true;
	return st->scroll != old;
}

/* A page of the focused text block (PgDn/PgUp/Space); false when it cannot move that way. */
static bool textblock_page(struct ui_screen *s, int dir)
{
	const struct stop *fo = focused(s);
	if (!fo || s->f->items[fo->item].kind != FORM_TEXTBLOCK)
		return false;
	int page = s->st[fo->item].rows_visible - 1;
	return textblock_scroll(s, dir * (page > 0 ? page : 1));
}

/* The entries of table row r whose column `ticks` the checkbox column c: cleared (unticked). */
static void clear_ticked_entries(struct ui_screen *s, size_t item, size_t r, size_t c)
{
	const struct form_item *it = &s->f->items[item];
	struct item_state *st = &s->st[item];
	for (size_t e = 0; e < it->ncols; e++) {
		if (!it->cols[e].ticks || strcmp(it->cols[e].ticks, it->cols[c].bind) != 0)
			continue;
		struct secret *t = bsecret(cell(item_table(s, it), r, it->cols[e].bind));
		if (t)
			secret_clear(t);
		if (st->cells && r * it->ncols + e < st->ncells)
			st->cells[r * it->ncols + e] = (struct ui_edit){0};
	}
}

/* Typing in a table entry that `ticks` a checkbox column: the row is ticked, visibly. */
static void tick_for_entry(struct ui_screen *s)
{
	const struct stop *fo = focused(s);
	const struct form_item *it = fo ? &s->f->items[fo->item] : NULL;
	if (!it || it->kind != FORM_TABLE || !it->cols[fo->col].ticks)
		return;
	bool *v = bbool(cell(item_table(s, it), fo->row, it->cols[fo->col].ticks));
	if (v)
		*v = true;
}

static void toggle(struct ui_screen *s)
{
	const struct stop *fo = focused(s);
	if (!fo)
		return;
	const struct form_item *it = &s->f->items[fo->item];
	bool *v = NULL;
	if (it->kind == FORM_CHECKBOX) {
		if (!item_enabled(s, it)) {
			set_error_msgid(s, it->refused ? it->refused : N_("この項目は今はチェックできません。"), NULL);
			return;
		}
		v = bbool(bind(s, it->bind));
	} else if (it->kind == FORM_TABLE && it->cols[fo->col].kind == FORM_CHECKBOX) {
		v = bbool(cell(item_table(s, it), fo->row, it->cols[fo->col].bind));
	}
	if (!v)
		return;
	*v = !*v;
	if (!*v && it->kind == FORM_TABLE)
		clear_ticked_entries(s, fo->item, fo->row, fo->col);
	s->dirty = true;
}

/* Up/Down in a table: the same column of the previous/next row that has one (disabled rows have
 * no stops); off the table's edge, the stop before/after the table. */
static void table_vertical(struct ui_screen *s, int dir)
{
	const struct stop *fo = focused(s);
	size_t item = fo->item, col = fo->col, row = fo->row;
	size_t best = s->nstops;
	for (size_t k = 0; k < s->nstops; k++) {
		const struct stop *p = &s->stops[k];
		if (p->item != item || p->col != col || (dir > 0 ? p->row <= row : p->row >= row))
			continue;
		if (best == s->nstops || (dir > 0 ? p->row < s->stops[best].row : p->row > s->stops[best].row))
			best = k;
	}
	if (best == s->nstops) { /* off the edge: the first stop outside the table that way */
		size_t k = s->focus;
		for (size_t n = 0; n < s->nstops; n++) {
			k = (k + s->nstops + (dir > 0 ? 1 : s->nstops - 1)) % s->nstops;
			if (s->stops[k].item != item) {
				best = k;
				break;
			}
		}
	}
	if (best < s->nstops)
		s->focus = best;
	s->dirty = true;
}

struct run {
	struct ui_action *out;
	enum form_kind kind; /* of the focused stop */
	bool in_entry;
	struct ui_edit *ed;
	struct secret *text;
};

static enum press c_help(struct ui_screen *s, struct run *r)
{
	if (!s->f->help) {
		r->out->kind = UI_ACT_HELP;
		return P_DONE;
	}
	ui_message(N_("ヘルプ"), s->f->help);
	s->dirty = true;
	return P_NONE;
}

static enum press c_lang(struct ui_screen *s, struct run *r)
{
	(void)r;
	i18n_set_lang(i18n_lang() == LANG_JA ? LANG_EN : LANG_JA);
	s->dirty = true;
	return P_NONE;
}

static enum press c_next(struct ui_screen *s, struct run *r)
{
	(void)r;
	move_focus(s, 1);
	return P_NONE;
}

static enum press c_prev(struct ui_screen *s, struct run *r)
{
	(void)r;
	move_focus(s, -1);
	return P_NONE;
}

static enum press c_vertical(struct ui_screen *s, struct run *r, int dir)
{
	if (r->kind == FORM_TEXTBLOCK && textblock_scroll(s, dir))
		return P_NONE;
	const struct stop *fo = focused(s);
	if (fo && s->f->items[fo->item].kind == FORM_TABLE)
		table_vertical(s, dir);
	else
		move_focus(s, dir);
	return P_NONE;
}

static enum press c_up(struct ui_screen *s, struct run *r)
{
	return c_vertical(s, r, -1);
}

static enum press c_down(struct ui_screen *s, struct run *r)
{
	return c_vertical(s, r, 1);
}

static enum press c_edit(struct ui_screen *s, struct run *r, enum ui_edit_op op)
{
	if (!r->in_entry)
		return P_NONE;
	ui_edit_apply(r->ed, r->text, op);
	s->dirty = true;
	return P_NONE;
}

static enum press c_horizontal(struct ui_screen *s, struct run *r, int dir)
{
	if (r->in_entry)
		return c_edit(s, r, dir < 0 ? UI_EDIT_LEFT : UI_EDIT_RIGHT);
	const struct stop *fo = focused(s);
	if (fo && (r->kind == FORM_BUTTON || s->f->items[fo->item].kind == FORM_TABLE))
		move_focus(s, dir);
	return P_NONE;
}

static enum press c_left(struct ui_screen *s, struct run *r)
{
	return c_horizontal(s, r, -1);
}

static enum press c_right(struct ui_screen *s, struct run *r)
{
	return c_horizontal(s, r, 1);
}

static enum press c_pgup(struct ui_screen *s, struct run *r)
{
	(void)r;
	textblock_page(s, -1);
	return P_NONE;
}

static enum press c_pgdn(struct ui_screen *s, struct run *r)
{
	(void)r;
	textblock_page(s, 1);
	return P_NONE;
}

/* Enter: presses a focused button; in an entry moves to the next entry, from the last one presses
 * the main button. */
static enum press c_enter(struct ui_screen *s, struct run *r)
{
	const struct stop *fo = focused(s);
	if (r->kind == FORM_BUTTON)
		return press_button(s, fo->item, r->out);
	if (fo && stop_is_entry(s, fo))
		for (size_t k = s->focus + 1; k < s->nstops; k++)
			if (stop_is_entry(s, &s->stops[k])) {
				s->focus = k;
				s->dirty = true;
				return P_NONE;
			}
	if (press_main(s, r->out) == P_DONE)
		return P_DONE;
	if (!s->f->main)
		move_focus(s, 1);
	return P_NONE;
}

/* Space: presses a button, ticks a checkbox, pages a text block (to its end, then on). */
static enum press c_space(struct ui_screen *s, struct run *r)
{
	const struct stop *fo = focused(s);
	if (r->kind == FORM_BUTTON)
		return press_button(s, fo->item, r->out);
	if (r->kind == FORM_TEXTBLOCK) {
		if (!textblock_page(s, 1))
			move_focus(s, 1);
		return P_NONE;
	}
	toggle(s);
	return P_NONE;
}

static enum press c_back(struct ui_screen *s, struct run *r)
{
	(void)s;
	r->out->kind = UI_ACT_BACK;
	r->out->button = NULL;
	return P_DONE;
}

static enum press c_cancel(struct ui_screen *s, struct run *r)
{
	if (!s->cancel_key)
		return P_NONE;
	r->out->kind = UI_ACT_CANCEL;
	r->out->button = NULL;
	return P_DONE;
}

static enum press c_quit(struct ui_screen *s, struct run *r)
{
	(void)s;
	r->out->kind = UI_ACT_QUIT;
	return P_DONE;
}

static enum press c_redraw(struct ui_screen *s, struct run *r)
{
	(void)r;
	clearok(curscr, TRUE);
	s->dirty = true;
	return P_NONE;
}

static enum press c_resize(struct ui_screen *s, struct run *r)
{
	(void)r;
	s->dirty = true;
	return P_NONE;
}

static enum press c_home(struct ui_screen *s, struct run *r) { return c_edit(s, r, UI_EDIT_HOME); }
static enum press c_end(struct ui_screen *s, struct run *r) { return c_edit(s, r, UI_EDIT_END); }
static enum press c_bs(struct ui_screen *s, struct run *r) { return c_edit(s, r, UI_EDIT_BACKSPACE); }
static enum press c_del(struct ui_screen *s, struct run *r) { return c_edit(s, r, UI_EDIT_DELETE); }
static enum press c_keol(struct ui_screen *s, struct run *r) { return c_edit(s, r, UI_EDIT_KILL_EOL); }
static enum press c_kbol(struct ui_screen *s, struct run *r) { return c_edit(s, r, UI_EDIT_KILL_BOL); }

static enum press (*const handlers[CMD__COUNT])(struct ui_screen *, struct run *) = {
	[CMD_HELP] = c_help,    [CMD_LANG] = c_lang,     [CMD_NEXT] = c_next,      [CMD_PREV] = c_prev,
	[CMD_UP] = c_up,        [CMD_DOWN] = c_down,     [CMD_LEFT] = c_left,      [CMD_RIGHT] = c_right,
	[CMD_PGUP] = c_pgup,    [CMD_PGDN] = c_pgdn,     [CMD_ENTER] = c_enter,    [CMD_SPACE] = c_space,
	[CMD_BACK] = c_back,    [CMD_CANCEL] = c_cancel, [CMD_QUIT] = c_quit,      [CMD_REDRAW] = c_redraw,
	[CMD_RESIZE] = c_resize, [CMD_HOME] = c_home,    [CMD_END] = c_end,        [CMD_BACKSPACE] = c_bs,
	[CMD_DELETE] = c_del,   [CMD_KILL_EOL] = c_keol, [CMD_KILL_BOL] = c_kbol,
};

/* ---- the observer (--trace): what each key did, at the widget level ---------------------------- */

struct seen {           /* the screen before a key */
	struct stop at;
	bool have;
	bool *flag;         /* the focused checkbox, if any, and its value */
	bool val;
	size_t scroll;      /* the focused text block's scroll */
	const char *err;    /* the runner's own message */
};

static bool *focused_flag(struct ui_screen *s, const struct stop *fo)
{
	const struct form_item *it = &s->f->items[fo->item];
	if (it->kind == FORM_CHECKBOX)
		return bbool(bind(s, it->bind));
	if (it->kind == FORM_TABLE && it->cols[fo->col].kind == FORM_CHECKBOX)
		return bbool(cell(item_table(s, it), fo->row, it->cols[fo->col].bind));
	return NULL;
}

static void seen_take(struct ui_screen *s, struct seen *w)
{
	const struct stop *fo = focused(s);
	*w = (struct seen){.have = fo != NULL, .err = s->error_msgid};
	if (!fo)
		return;
	w->at = *fo;
	w->flag = focused_flag(s, fo);
	w->val = w->flag && *w->flag;
	w->scroll = s->st[fo->item].scroll;
}

/* The item at p into ev: its id, table row and column, and for entries binding and flags. */
static void ev_field(const struct ui_screen *s, const struct stop *p, struct ui_event *ev)
{
	const struct form_item *it = &s->f->items[p->item];
	ev->field = it->id;
	ev->row = -1;
	unsigned fl = s->st[p->item].flags;
	const char *b = it->bind;
	if (it->kind == FORM_TABLE) {
		ev->row = (long)p->row;
		ev->col = b = it->cols[p->col].bind;
		fl = it->cols[p->col].flags;
	}
	if (is_entry(stop_kind(s, p))) {
		ev->bind = b;
		ev->masked = fl & FORM_F_MASKED;
		ev->digits = fl & FORM_F_DIGITS;
	}
}

static void observe_typed(struct ui_screen *s, const struct seen *w, wint_t ch, const char *u)
{
	struct ui_event ev = {.what = UI_EV_TYPED, .form = s->f->name, .key = (int)ch, .text = u};
	ev_field(s, &w->at, &ev);
	ui_observe(&ev);
}

static const enum ui_event_what done_what[] = {
	[UI_ACT_BUTTON] = UI_EV_PRESSED, [UI_ACT_BACK] = UI_EV_BACK,   [UI_ACT_HELP] = UI_EV_HELP,
	[UI_ACT_TIMEOUT] = UI_EV_KEY,    [UI_ACT_EOF] = UI_EV_KEY,     [UI_ACT_QUIT] = UI_EV_QUIT,
	[UI_ACT_CANCEL] = UI_EV_CANCEL,  [UI_ACT_STAFF] = UI_EV_KEY,
};

/* After the handler of a key: what it did, from the screen before (w) and now. */
static void observe_key(struct ui_screen *s, const struct seen *w, enum cmd c, wint_t ch, bool fk,
			bool done, const struct ui_action *out)
{
	if (c == CMD_RESIZE || c == CMD_REDRAW || !ui_observed())
		return;
	struct ui_event ev = {.what = UI_EV_KEY, .form = s->f->name, .key = (int)ch, .fkey = fk, .row = -1};
	const struct stop *fo = focused(s);
	if (fo)
		ev_field(s, fo, &ev);
	ev.bind = NULL;
	if (done) {
		ev.what = done_what[out->kind];
		if (out->button) {
			ev.what = UI_EV_PRESSED;
			ev.button = out->button;
		}
	} else if (c == CMD_LANG) {
		ev.what = UI_EV_LANG;
	} else if (w->flag && fo && w->at.item == fo->item && w->at.row == fo->row && *w->flag != w->val) {
		ev.what = *w->flag ? UI_EV_TICKED : UI_EV_UNTICKED;
	} else if (fo && w->have && (w->at.item != fo->item || w->at.row != fo->row || w->at.col != fo->col)) {
		ev.what = UI_EV_FOCUS;
	} else if (s->error_msgid && s->error_msgid != w->err) {
		ev.what = UI_EV_REFUSED;
	} else if (fo && s->st[fo->item].scroll != w->scroll && s->f->items[fo->item].kind == FORM_TEXTBLOCK) {
		ev.what = UI_EV_SCROLLED;
	} else if (fo && is_entry(stop_kind(s, fo))) {
		ev.what = UI_EV_EDITED;
		ev_field(s, fo, &ev);
	}
	ui_observe(&ev);
}

int ui_screen_run(struct ui_screen *s, struct ui_action *out)
{
	if (!ui_active())
		return -1;
	out->kind = UI_ACT_EOF;
	out->button = NULL;
	s->dirty = true;
	clearok(curscr, FALSE);
	ui_idle_reset(); /* a new screen: the whole idle time to read it */
	ui_observe(&(struct ui_event){.what = UI_EV_SHOWN, .form = s->f->name, .row = -1});
	long long wake = s->wake_ms > 0 ? ui_now_ms() + s->wake_ms : 0;
	for (;;) {
		if (s->dirty)
			paint(s);
		wint_t ch;
		bool eof;
		int got = ui_getkey_until(&ch, &eof, wake);
		if (got == ERR) {
			if (eof || ui_idle_expired() || (wake && ui_now_ms() >= wake)) {
				out->kind = eof ? UI_ACT_EOF : UI_ACT_TIMEOUT;
				return 0;
			}
			continue;
		}
		bool fk = got == KEY_CODE_YES;
		if (fk && ch == UI_KEY_STAFF) {
			out->kind = UI_ACT_STAFF;
			return 0;
		}
		enum cmd c = key_command(ch, fk);
		if (s->small && c != CMD_RESIZE && c != CMD_QUIT && c != CMD_REDRAW)
			continue; /* nothing but resize while the "enlarge" screen is up */
		struct run r = {.out = out};
		const struct stop *fo = focused(s);
		r.kind = fo ? stop_kind(s, fo) : FORM_LABEL;
		r.in_entry = focused_entry(s, &r.ed, &r.text);
		struct seen w;
		seen_take(s, &w);
		if (r.in_entry && !fk && ch >= 0x20 && ch != 127) { /* text, Space included */
			char u[5] = {0};
			size_t l = ui_utf8(ch, u);
			size_t before = r.text->len;
			ui_edit_insert(r.ed, r.text, u, l);
			if (r.text->len > 0)
				tick_for_entry(s);
			s->dirty = true;
			if (r.text->len != before) /* refused characters (digits only, full) are not typed */
				observe_typed(s, &w, ch, u);
			continue;
		}
		bool done = c != CMD_NONE && handlers[c] && handlers[c](s, &r) == P_DONE;
		observe_key(s, &w, c, ch, fk, done, out);
		if (done)
			return 0;
	}
}
