/* text.c: display width of UTF-8 text and the text-field editing model (see include/ui_text.h). */
#include "ui_text.h"

#include <string.h>

static bool ambiguous_wide;

void ui_width_set_ambiguous_wide(bool on)
{
	ambiguous_wide = on;
}

bool ui_width_ambiguous_wide(void)
{
	return ambiguous_wide;
}

size_t ui_decode(const char *str, size_t n, wchar_t *wc)
{
	const unsigned char *s = (const unsigned char *)str;
	if (n == 0) {
		*wc = 0;
		return 0;
	}
	unsigned c = s[0];
	size_t len;
	unsigned long v;
	if (c < 0x80) {
		*wc = (wchar_t)c;
		return 1;
	} else if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		v = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		v = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		v = c & 0x07;
	} else {
		*wc = 0xfffd;
		return 1;
	}
	if (n < len) {
		*wc = 0xfffd;
		return 1;
	}
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80) {
			*wc = 0xfffd;
			return 1;
		}
		v = (v << 6) | (s[i] & 0x3f);
	}
	/* overlong, surrogates, beyond U+10FFFF */
	if ((len == 3 && v < 0x800) || (len == 4 && (v < 0x10000 || v > 0x10ffff)) ||
	    (v >= 0xd800 && v <= 0xdfff)) {
		*wc = 0xfffd;
		return 1;
	}
	*wc = (wchar_t)v;
	return len;
}

/* East Asian Width "A" (Ambiguous): the ranges that matter for Japanese UIs (Latin-1 symbols,
 * Greek, Cyrillic, general punctuation, arrows, math, box drawing, shapes, symbols). */
static const struct {
	unsigned lo, hi;
} ambiguous[] = {
	{0x00a1, 0x00a1}, {0x00a4, 0x00a4}, {0x00a7, 0x00a8}, {0x00aa, 0x00aa}, {0x00ad, 0x00ae},
	{0x00b0, 0x00b4}, {0x00b6, 0x00ba}, {0x00bc, 0x00bf}, {0x00c6, 0x00c6}, {0x00d0, 0x00d0},
	{0x00d7, 0x00d8}, {0x00de, 0x00e1}, {0x00e6, 0x00e6}, {0x00e8, 0x00ea}, {0x00ec, 0x00ed},
	{0x00f0, 0x00f0}, {0x00f2, 0x00f3}, {0x00f7, 0x00fa}, {0x00fc, 0x00fc}, {0x00fe, 0x00fe},
	{0x0391, 0x03a9}, {0x03b1, 0x03c9}, {0x0401, 0x0401}, {0x0410, 0x044f}, {0x0451, 0x0451},
	{0x2010, 0x2010}, {0x2013, 0x2016}, {0x2018, 0x2019}, {0x201c, 0x201d}, {0x2020, 0x2022},
	{0x2024, 0x2027}, {0x2030, 0x2030}, {0x2032, 0x2033}, {0x2035, 0x2035}, {0x203b, 0x203b},
	{0x203e, 0x203e}, {0x2103, 0x2103}, {0x2109, 0x2109}, {0x2116, 0x2116}, {0x2121, 0x2122},
	{0x2160, 0x216b}, {0x2170, 0x2179}, {0x2190, 0x2199}, {0x21d2, 0x21d2}, {0x21d4, 0x21d4},
	{0x2200, 0x2200}, {0x2202, 0x2203}, {0x2207, 0x2208}, {0x220b, 0x220b}, {0x220f, 0x220f},
	{0x2211, 0x2211}, {0x221a, 0x221a}, {0x221d, 0x2220}, {0x2225, 0x2225}, {0x2227, 0x222c},
	{0x2234, 0x2237}, {0x2248, 0x2248}, {0x2260, 0x2261}, {0x2264, 0x2267}, {0x2282, 0x2283},
	{0x2460, 0x24e9}, {0x24eb, 0x254b}, {0x2550, 0x2573}, {0x2580, 0x258f}, {0x2592, 0x2595},
	{0x25a0, 0x25a1}, {0x25a3, 0x25a9}, {0x25b2, 0x25b3}, {0x25b6, 0x25b7}, {0x25bc, 0x25bd},
	{0x25c0, 0x25c1}, {0x25c6, 0x25c8}, {0x25cb, 0x25cb}, {0x25ce, 0x25d1}, {0x25e2, 0x25e5},
	{0x25ef, 0x25ef}, {0x2605, 0x2606}, {0x2609, 0x2609}, {0x260e, 0x260f}, {0x261c, 0x261c},
	{0x261e, 0x261e}, {0x2640, 0x2640}, {0x2642, 0x2642}, {0x2660, 0x2661}, {0x2663, 0x2665},
	{0x2667, 0x266a}, {0x266c, 0x266d}, {0x266f, 0x266f}, {0x2776, 0x277f}, {0xfffd, 0xfffd},
};

bool ui_is_ambiguous(wchar_t wc)
{
	unsigned c = (unsigned)wc;
	size_t lo = 0, hi = sizeof ambiguous / sizeof ambiguous[0];
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (c < ambiguous[mid].lo)
			hi = mid;
		else if (c > ambiguous[mid].hi)
			lo = mid + 1;
		else
			return true;
	}
	return false;
}

int ui_wcwidth(wchar_t wc)
{
	if (wc == 0xfffd)
		return ambiguous_wide ? 2 : 1;
	int w = wcwidth(wc);
	if (w < 0)
		return 0; /* controls: never drawn */
	if (w == 1 && ambiguous_wide && ui_is_ambiguous(wc))
		return 2;
	return w > 2 ? 2 : w;
}

size_t ui_width_n(const char *s, size_t n)
{
	size_t cols = 0;
	while (n > 0) {
		wchar_t wc;
		size_t l = ui_decode(s, n, &wc);
		cols += (size_t)ui_wcwidth(wc);
		s += l;
		n -= l;
	}
	return cols;
}

size_t ui_width(const char *s)
{
	return s ? ui_width_n(s, strlen(s)) : 0;
}

size_t ui_fit(const char *s, size_t n, size_t maxcols, size_t *cols)
{
	size_t at = 0, used = 0;
	while (at < n) {
		wchar_t wc;
		size_t l = ui_decode(s + at, n - at, &wc);
		size_t w = (size_t)ui_wcwidth(wc);
		if (used + w > maxcols)
			break;
		if (w == 0 && at == 0 && maxcols == 0)
			break;
		used += w;
		at += l;
	}
	if (cols)
		*cols = used;
	return at;
}

/* A combining mark (zero width, not a control) stays with the character before it. */
static bool is_mark(wchar_t wc)
{
	return wc != 0 && wcwidth(wc) == 0;
}

size_t ui_next_char(const char *s, size_t n, size_t at)
{
	if (at >= n)
		return n;
	wchar_t wc;
	at += ui_decode(s + at, n - at, &wc);
	while (at < n) {
		size_t l = ui_decode(s + at, n - at, &wc);
		if (!is_mark(wc))
			break;
		at += l;
	}
	return at;
}

size_t ui_prev_char(const char *s, size_t n, size_t at)
{
	if (at > n)
		at = n;
	/* walk forward from the start: robust with invalid bytes, texts are short */
	size_t p = 0, prev = 0;
	while (p < at) {
		prev = p;
		p = ui_next_char(s, n, p);
	}
	return prev;
}

size_t ui_char_count(const char *s, size_t n)
{
	size_t c = 0, at = 0;
	while (at < n) {
		wchar_t wc;
		at += ui_decode(s + at, n - at, &wc);
		c++;
	}
	return c;
}

/* ---- line breaking ----------------------------------------------------------------------------
 * JIS X 4051 basics for a terminal (no hanging punctuation, no justification): a line breaks
 * after a space, between two Japanese characters, or between Japanese and Latin text, except
 *  - 行頭禁則: before a character that must not start a line (closing brackets, 、。 etc.,
 *    small kana, the prolonged sound mark, iteration marks, postfix units like ％);
 *  - 行末禁則: after a character that must not end a line (opening brackets, prefix units ￥);
 *  - inside a Latin run (ASCII letters, digits, punctuation: a word, a code like WDJB-MJHT, a URL,
 *    a number) and inside a full-width alphanumeric run; and between two ―― or —— dashes.
 * When the break point that fits is forbidden, the line ends at the last allowed break before it
 * (追い出し), at most WRAP_PUSH characters back for 禁則 (a Latin run moves down whole). When there is
 * none (a Latin run longer than a line, or one that fills the line and is followed by ）), a Latin
 * run breaks after its last '-' or '/' that fits (WDJB- / MJHT）, https://host/ / path); failing
 * that, the line is broken hard where it is full. */

#define WRAP_PUSH 3

/* Sorted by code point (binary search): keep them so. */
static const wchar_t no_start[] =
    L"!%),.:;?]}°»‐–’”‥…‰′″‼⁇⁈⁉℃、。々〉》」』】〕〗〙〛〜〞"
    L"〟〻ぁぃぅぇぉっゃゅょゎゕゖゝゞ゠ァィゥェォッャュョヮヵヶ・ーヽヾ！％），．：；"
    L"？］｝～｠｡｣､･ｧｨｩｪｫｬｭｮｯｰ";
static const wchar_t no_end[] = L"([{«‘“〈《「『【〔〖〘〚〝＃＄（［｛｟｢￡￥";

static bool in_set(const wchar_t *set, size_t n, wchar_t c)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (c < set[mid])
			hi = mid;
		else if (c > set[mid])
			lo = mid + 1;
		else
			return true;
	}
	return false;
}

/* Runs that are not broken inside: 1 = Latin (ASCII graphic, Latin-1/Extended letters and signs,
 * Greek, Cyrillic, arrows as in "↑↓, PgUp"), 2 = full-width alphanumerics, 0 = anything else. */
static int run_class(wchar_t wc)
{
	unsigned c = (unsigned)wc;
	if ((c > 0x20 && c < 0x7f) || (c >= 0xa1 && c <= 0x24f && c != 0xd7 && c != 0xf7) ||
	    (c >= 0x370 && c <= 0x52f) || (c >= 0x2190 && c <= 0x21ff))
		return 1;
	if ((c >= 0xff10 && c <= 0xff19) || (c >= 0xff21 && c <= 0xff3a) || (c >= 0xff41 && c <= 0xff5a))
		return 2;
	return 0;
}

static bool ascii_alnum(wchar_t c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* Why a line may not end between two characters (neither a space): 0 = it may. */
enum { BRK_RUN = 1, BRK_KINSOKU = 2 };

static unsigned break_rule(wchar_t a, wchar_t b)
{
	unsigned r = 0;
	int ra = run_class(a);
	if ((ra != 0 && ra == run_class(b)) || ((a == 0x2014 || a == 0x2015) && b == a)) /* ―― together */
		r |= BRK_RUN;
	if (in_set(no_start, sizeof no_start / sizeof no_start[0] - 1, b) ||
	    in_set(no_end, sizeof no_end / sizeof no_end[0] - 1, a))
		r |= BRK_KINSOKU;
	return r;
}

/* Whether the character at s[at] must not start a line. */
static bool no_start_at(const char *s, size_t n, size_t at)
{
	wchar_t wc = 0;
	ui_decode(s + at, n - at, &wc);
	return in_set(no_start, sizeof no_start / sizeof no_start[0] - 1, wc);
}

/* Bytes to skip at a line break from at: the spaces there, and one '\n' right after them (so a
 * line broken just before "  \n" is not followed by an empty line). */
static size_t skip_spaces(const char *s, size_t n, size_t at)
{
	size_t k = at;
	while (k < n && s[k] == ' ')
		k++;
	if (k > at && k < n && s[k] == '\n')
		k++;
	return k - at;
}

/* Break candidates, best first: an allowed break (a space, or between characters with no rule
 * against it) at most WRAP_PUSH 禁則 characters back; a break after '-' or '/' inside a Latin run;
 * a break inside a Latin run that breaks no 禁則 rule, at most WRAP_PUSH characters back; where
 * the line is full. */
/* (Kept whole, ~100 lines: one pass over the text carrying the kinsoku and Latin-run state.) */
size_t ui_wrap_line(const char *s, size_t n, size_t cols, size_t *skip)
{
	size_t at = 0, used = 0;
	size_t brk = 0, brk_next = 0; /* last allowed break: end of the line, start of the next (0: none) */
	unsigned pushed = 0;          /* 禁則 boundaries after brk */
	size_t soft = 0;              /* last break after '-' or '/' inside a Latin run after brk */
	size_t inrun = 0;             /* last boundary inside a Latin run after brk that breaks no 禁則 rule */
	unsigned inrun_pushed = 0;    /* 禁則 boundaries after inrun */
	wchar_t prev = 0;             /* the last character (base of its cluster) */
	bool after_space = false;
	*skip = 0;
	if (cols == 0)
		cols = 1;
	while (at < n) {
		if (s[at] == '\n') {
			*skip = 1;
			return at;
		}
		if (s[at] == ' ') {
			size_t end = at;
			while (end < n && s[end] == ' ')
				end++;
			/* a break at these spaces would start the next line with 。）etc.: not allowed */
			bool closes = end < n && no_start_at(s, n, end);
			if (used + (end - at) > cols) {
				if (closes && brk > 0 && pushed < WRAP_PUSH) { /* the word before moves down */
					*skip = brk_next - brk;
					return brk;
				}
				/* break at the spaces; they and a '\n' after them are skipped */
				if (at > 0) {
					*skip = skip_spaces(s, n, at);
					return at;
				}
				/* indentation wider than the line: a line of spaces, the rest skipped */
				*skip = skip_spaces(s, n, cols);
				return cols;
			}
			if (at > 0 && !closes) {
				brk = at;
				brk_next = end;
				pushed = 0;
				soft = inrun = 0; /* the fallbacks are for text after brk only */
			}
			used += end - at;
			at = end;
			after_space = true;
			continue;
		}
		wchar_t wc;
		ui_decode(s + at, n - at, &wc);
		size_t nx = ui_next_char(s, n, at);
		size_t w = ui_width_n(s + at, nx - at);
		/* the boundary before this character (none at the start or after spaces: handled above) */
		bool boundary = at > 0 && !after_space;
		unsigned rule = boundary ? break_rule(prev, wc) : 0;
		if (used + w > cols) {
			if (at == 0) { /* a character wider than the line: take it anyway */
				*skip = skip_spaces(s, n, nx);
				return nx;
			}
			if (boundary && rule == 0)
				return at;
			if (boundary && (rule & BRK_KINSOKU) && !(rule & BRK_RUN))
				pushed++;
			if (brk > 0 && pushed <= WRAP_PUSH) {
				*skip = brk_next - brk;
				return brk;
			}
			if (soft > 0)
				return soft;
			if (boundary && (rule & BRK_KINSOKU)) {
				if (inrun > 0 && inrun_pushed < WRAP_PUSH)
					return inrun;
			}
			return at; /* no better break: break hard where the line is full */
		}
		if (boundary) {
			if (rule == 0) {
				brk = brk_next = at;
				pushed = 0;
				soft = inrun = 0;
			} else if (rule == BRK_RUN) {
				inrun = at;
				inrun_pushed = 0;
				if ((prev == '-' || prev == '/') && ascii_alnum(wc))
					soft = at;
			} else {
				if (!(rule & BRK_RUN))
					pushed++;
				inrun_pushed++;
			}
		}
		prev = wc;
		after_space = false;
		used += w;
		at = nx;
	}
	return at;
}

/* ---- editing model ---------------------------------------------------------------------------- */

void ui_edit_sync(struct ui_edit *e, const struct secret *t)
{
	size_t n = t->buf ? t->len : 0;
	if (e->cur > n)
		e->cur = n;
	/* snap onto a boundary */
	if (e->cur > 0 && e->cur < n) {
		size_t p = ui_prev_char(t->buf, n, e->cur);
		if (ui_next_char(t->buf, n, p) != e->cur)
			e->cur = p;
	}
}

static bool accept(const struct ui_edit *e, wchar_t wc)
{
	if (wc < 0x20 || wc == 0x7f || (wc >= 0x80 && wc < 0xa0))
		return false;
	if ((e->flags & UI_EDIT_DIGITS) && !(wc >= '0' && wc <= '9'))
		return false;
	return true;
}

int ui_edit_insert(struct ui_edit *e, struct secret *t, const char *s, size_t n)
{
	ui_edit_sync(e, t);
	int added = 0;
	size_t at = 0;
	while (at < n) {
		wchar_t wc;
		size_t l = ui_decode(s + at, n - at, &wc);
		const char *src = s + at;
		at += l;
		if (wc == 0xfffd && l == 1)
			continue; /* invalid byte: drop */
		if (!accept(e, wc))
			continue;
		bool mark = is_mark(wc);
		if (mark && e->cur == 0)
			continue;
		if (!mark && e->maxchars) {
			/* the limit counts characters (a base with its combining marks is one) */
			size_t bases = 0, p = 0;
			while (p < t->len) {
				p = ui_next_char(t->buf, t->len, p);
				bases++;
			}
			if (bases >= e->maxchars)
				continue;
		}
		char up;
		if ((e->flags & UI_EDIT_UPPER) && wc >= 'a' && wc <= 'z') {
			up = (char)(wc - 'a' + 'A');
			src = &up;
		}
		if (secret_insert(t, e->cur, src, l) < 0)
			return -1;
		e->cur += l;
		added++;
	}
	return added;
}

bool ui_edit_apply(struct ui_edit *e, struct secret *t, enum ui_edit_op op)
{
	ui_edit_sync(e, t);
	const char *b = t->buf ? t->buf : "";
	size_t n = t->buf ? t->len : 0, old = e->cur;
	switch (op) {
	case UI_EDIT_LEFT:
		e->cur = ui_prev_char(b, n, e->cur);
		return e->cur != old;
	case UI_EDIT_RIGHT:
		e->cur = ui_next_char(b, n, e->cur);
		return e->cur != old;
	case UI_EDIT_HOME:
		e->cur = 0;
		return e->cur != old;
	case UI_EDIT_END:
		e->cur = n;
		return e->cur != old;
	case UI_EDIT_BACKSPACE:
		if (e->cur == 0)
			return false;
		e->cur = ui_prev_char(b, n, e->cur);
		secret_erase(t, e->cur, old - e->cur);
		return true;
	case UI_EDIT_DELETE: {
		if (e->cur >= n)
			return false;
		size_t nx = ui_next_char(b, n, e->cur);
		secret_erase(t, e->cur, nx - e->cur);
		return true;
	}
	case UI_EDIT_KILL_EOL:
		if (e->cur >= n)
			return false;
		secret_erase(t, e->cur, n - e->cur);
		return true;
	case UI_EDIT_KILL_BOL:
		if (e->cur == 0)
			return false;
		secret_erase(t, 0, e->cur);
		e->cur = 0;
		return true;
	}
	return false;
}

void ui_edit_view(struct ui_edit *e, const struct secret *t, size_t cols, size_t *start,
		  size_t *len, size_t *cursor_col)
{
	ui_edit_sync(e, t);
	const char *b = t->buf ? t->buf : "";
	size_t n = t->buf ? t->len : 0;
	if (cols == 0)
		cols = 1;
	if (e->flags & UI_EDIT_MASKED) {
		/* one glyph per character (combining marks included: they are characters typed) */
		size_t total = 0, curc = 0, p = 0;
		while (p < n) {
			if (p == e->cur)
				curc = total;
			p = ui_next_char(b, n, p);
			total++;
		}
		if (e->cur >= n)
			curc = total;
		if (e->scroll > 0 && total + 1 < e->scroll + cols) /* text shrank: pull back */
			e->scroll = total + 1 > cols ? total + 1 - cols : 0;
		if (curc < e->scroll)
			e->scroll = curc;
		if (curc >= e->scroll + cols)
			e->scroll = curc - cols + 1;
		*start = e->scroll;
		*len = total - e->scroll < cols ? total - e->scroll : cols;
		*cursor_col = curc - e->scroll;
		return;
	}
	/* columns before the cursor, and the whole width */
	size_t curcol = ui_width_n(b, e->cur);
	size_t total = ui_width_n(b, n);
	if (e->scroll > 0 && total + 1 < e->scroll + cols) /* text shrank: pull back */
		e->scroll = total + 1 > cols ? total + 1 - cols : 0;
	if (curcol < e->scroll)
		e->scroll = curcol;
	/* the cursor's character (or the free cell after the end) must fit */
	size_t cw = e->cur < n ? ui_width_n(b + e->cur, ui_next_char(b, n, e->cur) - e->cur) : 1;
	if (cw == 0)
		cw = 1;
	if (curcol + cw > e->scroll + cols)
		e->scroll = curcol + cw > cols ? curcol + cw - cols : 0;
	/* first character starting at or after scroll (a wide char cut at the left edge is skipped) */
	size_t p = 0, c = 0;
	while (p < n && c < e->scroll) {
		size_t nx = ui_next_char(b, n, p);
		c += ui_width_n(b + p, nx - p);
		p = nx;
	}
	e->scroll = c; /* a wide character cut at the left edge is not shown at all */
	size_t w;
	size_t l = ui_fit(b + p, n - p, cols, &w);
	*start = p;
	*len = l;
	*cursor_col = curcol - e->scroll;
	if (*cursor_col >= cols)
		*cursor_col = cols - 1;
}
