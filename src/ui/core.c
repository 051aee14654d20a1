/* core.c: terminal set-up and restore, glyphs, colours, drawing helpers, key input
 * (see include/ui.h and include/ui_draw.h). */
#include <curses.h>
#include <term.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "i18n.h"
#include "ui.h"
#include "ui_draw.h"
#include "ui_text.h"

static volatile sig_atomic_t active;
static bool headless, ascii, colors, raw_mode;
static SCREEN *scr;
static FILE *hl_out, *hl_in;
static struct termios saved_tio;
static bool have_tio;
static char reset_seq[256];
static size_t reset_len;
static bool atexit_done;

/* ---- fed keys ---------------------------------------------------------------------------------- */
struct fed {
	wint_t ch;
	bool fkey;
};
static struct fed *feed;
static size_t feed_n, feed_cap, feed_at;

static void feed_push(wint_t ch, bool fkey)
{
	if (feed_n == feed_cap) {
		size_t nc = feed_cap ? feed_cap * 2 : 64;
		struct fed *nf = realloc(feed, nc * sizeof *nf);
		if (!nf)
			return;
		feed = nf;
		feed_cap = nc;
	}
	feed[feed_n++] = (struct fed){ch, fkey};
}

void ui_feed_text(const char *s)
{
	size_t n = strlen(s), at = 0;
	while (at < n) {
		wchar_t wc;
		at += ui_decode(s + at, n - at, &wc);
		feed_push((wint_t)wc, false);
	}
}

void ui_feed_fkey(int key)
{
	feed_push((wint_t)key, true);
}

static volatile sig_atomic_t quit_signal;

static int (*key_source)(void *ctx);
static void *key_source_ctx;
static bool in_source; /* the source reads the terminal itself: not again from inside */

void ui_set_key_source(int (*fn)(void *ctx), void *ctx)
{
	key_source = fn;
	key_source_ctx = ctx;
}

int ui_read_key(int *key, bool *fkey)
{
	bool saved = in_source, eof = false;
	size_t at = feed_at, n = feed_n;
	wint_t ch = 0;
	in_source = true;
	feed_at = feed_n = 0; /* what is fed stays for the screens */
	int r = ui_getkey(&ch, -1, &eof);
	feed_at = at;
	feed_n = n;
	in_source = saved;
	if (r == ERR)
		return -1;
	*key = (int)ch;
	*fkey = r == KEY_CODE_YES;
	return 0;
}

int ui_getkey(wint_t *ch, int timeout_ms, bool *eof)
{
	*eof = false;
	if (quit_signal) { /* asked to stop (on_signal): no more keys */
		*eof = true;
		return ERR;
	}
	if (feed_at == feed_n && key_source && !in_source) { /* --replay: the next action's keys */
		in_source = true;
		int rs = key_source(key_source_ctx);
		in_source = false;
		if (rs < 0) {
			*eof = true;
			return ERR;
		}
	}
	if (feed_at < feed_n) {
		struct fed f = feed[feed_at++];
		if (feed_at == feed_n)
			feed_at = feed_n = 0;
		*ch = f.ch;
		if (f.fkey && f.ch == KEY_RESIZE && headless) {
			/* nothing to do: tests resize with resizeterm before feeding KEY_RESIZE */
		}
		return f.fkey ? KEY_CODE_YES : OK;
	}
	if (headless || !active) {
		*eof = true;
		return ERR;
	}
	timeout(timeout_ms);
	int r = get_wch(ch);
	if (r == ERR && (timeout_ms < 0 || quit_signal))
		*eof = true; /* blocking read failed (terminal gone), or a signal asked to stop */
	return r;
}

/* ---- idle: one timer across every screen and dialog (kiosk) ----------------------------------- */

static int idle_ms, idle_warn_ms;
static long long idle_deadline;
static bool idle_expired;

long long ui_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void ui_set_idle(int timeout_ms, int warning_ms)
{
	idle_ms = timeout_ms > 0 ? timeout_ms : 0;
	idle_warn_ms = warning_ms > 0 && warning_ms < idle_ms ? warning_ms : 0;
	idle_expired = false;
	ui_idle_reset();
}

void ui_idle_reset(void)
{
	idle_deadline = ui_now_ms() + idle_ms;
}

bool ui_idle_expired(void)
{
	return idle_expired;
}

void ui_idle_clear(void)
{
	idle_expired = false;
	ui_idle_reset();
}

bool ui_kiosk_keys(void)
{
	return raw_mode;
}

/* Kiosk (raw mode): the keys a shell or a terminal would act on do nothing here (Ctrl-C, Ctrl-D,
 * Ctrl-Z, Ctrl-\, Ctrl-S, Ctrl-Q); F12 three times within 3 s is the staff sequence, any other F12
 * nothing. true when the key is to be used. */
static bool kiosk_filter(int r, wint_t *ch)
{
	static long long f12[3];
	static const wint_t inert[] = {3, 4, 17, 19, 26, 28};
	if (!raw_mode)
		return true;
	if (r == OK)
		for (size_t i = 0; i < sizeof inert / sizeof inert[0]; i++)
			if (*ch == inert[i])
				return false;
	if (r == KEY_CODE_YES && *ch == KEY_F(12)) {
		f12[0] = f12[1];
		f12[1] = f12[2];
		f12[2] = ui_now_ms();
		if (f12[0] && f12[2] - f12[0] <= 3000) {
			f12[0] = f12[1] = f12[2] = 0;
			*ch = UI_KEY_STAFF;
			return true;
		}
		return false;
	}
	return true;
}

int ui_getkey_idle(wint_t *ch, bool *eof)
{
	return ui_getkey_until(ch, eof, 0);
}

int ui_getkey_until(wint_t *ch, bool *eof, long long wake_ms)
{
	*eof = false;
	if (idle_expired)
		return ERR; /* unwinding: every screen and dialog returns at once */
	if ((idle_ms <= 0 && !wake_ms) || headless) {
		int r;
		do
			r = ui_getkey(ch, -1, eof);
		while (r != ERR && !kiosk_filter(r, ch));
		return r;
	}
	for (;;) {
		long long now = ui_now_ms();
		if (wake_ms && now >= wake_ms)
			return ERR; /* the caller's own time: neither end of input nor idle */
		long long idle_left = idle_deadline - now, wait = -1;
		if (idle_ms > 0 && idle_left <= idle_warn_ms) {
			int r = idle_warn_ms ? ui_idle_warning(idle_deadline) : 0;
			if (r < 0) {
				*eof = true;
				return ERR;
			}
			if (r == 0) {
				idle_expired = true;
				return ERR;
			}
			ui_idle_reset(); /* a key dismissed the warning: nothing else happens */
			*ch = UI_KEY_NONE;
			return KEY_CODE_YES;
		}
		if (idle_ms > 0)
			wait = idle_left - idle_warn_ms;
		if (wake_ms && (wait < 0 || wake_ms - now < wait))
			wait = wake_ms - now;
		int r = ui_getkey(ch, (int)wait, eof);
		if (r != ERR) {
			ui_idle_reset();
			if (!kiosk_filter(r, ch))
				continue;
			return r;
		}
		if (*eof)
			return ERR;
	}
}

size_t ui_utf8(wint_t c, char *o)
{
	if (c < 0x80) {
		o[0] = (char)c;
		return 1;
	}
	if (c < 0x800) {
		o[0] = (char)(0xc0 | (c >> 6));
		o[1] = (char)(0x80 | (c & 0x3f));
		return 2;
	}
	if (c < 0x10000) {
		o[0] = (char)(0xe0 | (c >> 12));
		o[1] = (char)(0x80 | ((c >> 6) & 0x3f));
		o[2] = (char)(0x80 | (c & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | (c >> 18));
	o[1] = (char)(0x80 | ((c >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((c >> 6) & 0x3f));
	o[3] = (char)(0x80 | (c & 0x3f));
	return 4;
}

/* ---- init / end ---------------------------------------------------------------------------------- */

static void add_reset(const char *cap)
{
	char *s = tigetstr((char *)cap);
	if (!s || s == (char *)-1)
		return;
	size_t l = strlen(s);
	if (reset_len + l < sizeof reset_seq) {
		memcpy(reset_seq + reset_len, s, l);
		reset_len += l;
	}
}

void ui_end_signal_safe(void)
{
	if (!active)
		return;
	active = 0;
	if (headless)
		return;
	if (reset_len) {
		ssize_t w = write(STDOUT_FILENO, reset_seq, reset_len);
		(void)w;
	}
	if (have_tio)
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tio);
}

/* SIGTERM, SIGHUP (the SSH link or the terminal gone), SIGINT, SIGQUIT: the key loop sees the
 * signal as the end of input, so the program leaves as it does then (the server's session cancelled,
 * secrets wiped, the terminal restored). Outside the screens, or at a second signal, at once. */
static void on_signal(int sig)
{
	if (!active || quit_signal) {
		ui_end_signal_safe();
		signal(sig, SIG_DFL);
		raise(sig);
		return;
	}
	quit_signal = sig;
}

int ui_quit_signal(void)
{
	return quit_signal;
}

void ui_clear_all(void)
{
	if (!active || headless)
		return;
	erase();
	clearok(curscr, TRUE);
	refresh();
	char *e3 = tigetstr((char *)"E3"); /* clear the scroll-back (xterm, tmux, ...) */
	if (e3 && e3 != (char *)-1)
		putp(e3);
	fflush(stdout);
}

void ui_end(void)
{
	if (!active)
		return;
	active = 0;
	endwin();
	if (scr) {
		delscreen(scr);
		scr = NULL;
	}
	if (hl_out) {
		fclose(hl_out);
		hl_out = NULL;
	}
	if (hl_in) {
		fclose(hl_in);
		hl_in = NULL;
	}
	free(feed);
	feed = NULL;
	feed_n = feed_cap = feed_at = 0;
}

bool ui_active(void)
{
	return active;
}

static void setup_common(unsigned flags)
{
	const char *nc = getenv("NO_COLOR");
	const char *as = getenv("RENKEI_ASCII");
	const char *amb = getenv("RENKEI_AMBIGUOUS");
	bool amb_wide = amb && !strcmp(amb, "wide");
	ui_width_set_ambiguous_wide(amb_wide);
	ascii = (flags & UI_INIT_ASCII) || (as && *as && strcmp(as, "0") != 0) || amb_wide;
	raw_mode = flags & UI_INIT_RAW;
	if (raw_mode) {
		raw(); /* no ISIG, no IXON: Ctrl-C, Ctrl-Z, Ctrl-\, Ctrl-S/Q reach us as keys (kiosk_filter) */
		signal(SIGTSTP, SIG_IGN); /* nor can a stop signal from elsewhere leave a shell showing */
	}
	else
		cbreak();
	noecho();
	nonl();
	keypad(stdscr, TRUE);
	/* Shift-Tab as xterm-likes send it, also where the terminfo entry (vt100) has no kcbt */
	define_key("\033[Z", KEY_BTAB);
	/* long enough for an escape sequence split over SSH, short enough for Esc to feel immediate */
	set_escdelay(100);
	colors = false;
	if (!(flags & UI_INIT_NO_COLOR) && !(nc && *nc) && has_colors()) {
		if (start_color() == OK) {
			use_default_colors();
			colors = true;
			init_pair(UIC_TITLE, COLOR_WHITE, COLOR_BLUE);
			init_pair(UIC_ERROR, COLOR_RED, -1);
			init_pair(UIC_SECTION, COLOR_CYAN, -1);
			init_pair(UIC_FIELD, -1, -1);
			init_pair(UIC_FOCUS, COLOR_BLACK, COLOR_CYAN);
			init_pair(UIC_KEYBAR, COLOR_BLACK, COLOR_WHITE);
		}
	}
	if (!atexit_done) {
		atexit(ui_end);
		atexit_done = true;
	}
}

int ui_init(unsigned flags)
{
	if (active)
		return 0;
	if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO))
		return -1;
	have_tio = tcgetattr(STDIN_FILENO, &saved_tio) == 0;
	headless = false;
	/* Japanese needs a UTF-8 terminal anyway: draw lines with Unicode box characters rather than
	 * the terminal's alternate character set, which some emulators (and screen captures) get wrong.
	 * The user's own setting wins. */
	setenv("NCURSES_NO_UTF8_ACS", "1", 0);
	scr = newterm(NULL, stdout, stdin);
	if (!scr)
		return -1;
	set_term(scr);
	active = 1;
	reset_len = 0;
	add_reset("sgr0");
	add_reset("cnorm");
	add_reset("rmkx");
	add_reset("rmcup");
	setup_common(flags);
	if (!(flags & UI_INIT_NO_SIGNALS)) {
		struct sigaction sa;
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = on_signal;
		sigemptyset(&sa.sa_mask);
		int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
		for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
			sigaction(sigs[i], &sa, NULL);
	}
	return 0;
}

int ui_init_headless(int cols, int rows, unsigned flags)
{
	if (active)
		return 0;
	hl_out = fopen("/dev/null", "w");
	hl_in = fopen("/dev/null", "r");
	if (!hl_out || !hl_in)
		goto bad;
	headless = true;
	scr = newterm("xterm", hl_out, hl_in);
	if (!scr)
		scr = newterm("vt100", hl_out, hl_in);
	if (!scr)
		goto bad;
	set_term(scr);
	active = 1;
	resizeterm(rows, cols);
	setup_common(flags);
	return 0;
bad:
	if (hl_out)
		fclose(hl_out);
	if (hl_in)
		fclose(hl_in);
	hl_out = hl_in = NULL;
	return -1;
}

bool ui_ascii(void)
{
	return ascii;
}

bool ui_colors(void)
{
	return colors;
}

const char *ui_mask_glyph(void)
{
	return ascii ? "*" : "\xe2\x97\x8f"; /* ● */
}

const char *ui_mask(char *buf, size_t size, size_t n)
{
	const char *g = ui_mask_glyph();
	size_t gl = strlen(g), at = 0;
	if (!size)
		return buf;
	for (size_t i = 0; i < n && at + gl < size; i++) {
		memcpy(buf + at, g, gl);
		at += gl;
	}
	buf[at] = '\0';
	return buf;
}

attr_t ui_attr(enum ui_color c)
{
	attr_t mono;
	switch (c) {
	case UIC_TITLE: mono = A_REVERSE | A_BOLD; break;
	case UIC_ERROR: mono = A_BOLD; break;
	case UIC_SECTION: mono = A_BOLD; break;
	case UIC_FIELD: mono = A_UNDERLINE; break;
	case UIC_FOCUS: mono = A_REVERSE; break;
	case UIC_KEYBAR: mono = A_REVERSE; break;
	default: mono = A_NORMAL; break;
	}
	/* The focus is reverse video in colour too: the terminal's own foreground on its own
	 * background has the palette's full contrast (black/grey on cyan did not, WCAG 2.1 AA). */
	if (!colors || c == UIC_NORMAL || c == UIC_FIELD || c == UIC_FOCUS)
		return mono;
	if (c == UIC_KEYBAR)
		return COLOR_PAIR(c);
	return mono | COLOR_PAIR(c);
}

/* ---- drawing ----------------------------------------------------------------------------------- */

int ui_put(int y, int x, const char *s, size_t n, int maxcols, attr_t a)
{
	if (maxcols <= 0 || y < 0 || y >= LINES || x < 0)
		return 0;
	if (x + maxcols > COLS)
		maxcols = COLS - x;
	if (maxcols <= 0)
		return 0;
	int used = 0;
	size_t at = 0;
	wchar_t buf[2];
	move(y, x);
	while (at < n) {
		wchar_t wc;
		size_t l = ui_decode(s + at, n - at, &wc);
		int w = ui_wcwidth(wc);
		if (wc < 0x20 || wc == 0x7f || (wc >= 0x80 && wc < 0xa0)) {
			at += l;
			continue;
		}
		if (used + w > maxcols)
			break;
		if (w == 0 && used == 0) {
			at += l;
			continue;
		}
		buf[0] = wc;
		buf[1] = 0;
		cchar_t cc;
		if (setcchar(&cc, buf, a & ~A_COLOR, (short)PAIR_NUMBER(a), NULL) == OK) {
			if (w == 0)
				wadd_wch(stdscr, &cc); /* combining: ncurses attaches it to the previous cell */
			else
				add_wch(&cc);
		}
		used += w;
		at += l;
	}
	return used;
}

int ui_puts(int y, int x, const char *s, int maxcols, attr_t a)
{
	return s ? ui_put(y, x, s, strlen(s), maxcols, a) : 0;
}

void ui_fill(int y, int x, int cols, attr_t a)
{
	if (y < 0 || y >= LINES || cols <= 0)
		return;
	attr_t old;
	short pair;
	attr_get(&old, &pair, NULL);
	attrset(a);
	mvhline(y, x, ' ', cols);
	attrset(old);
}

void ui_blank(int y, int x, int cols)
{
	if (y < 0 || y >= LINES)
		return;
	int from = x < 0 ? 0 : x, to = x + cols > COLS ? COLS : x + cols;
	if (from >= to)
		return;
	/* walk the row's characters to find the ones straddling from or to */
	for (int cx = 0; cx < COLS;) {
		cchar_t cc;
		wchar_t wch[CCHARW_MAX + 1] = {0};
		attr_t at;
		short pair;
		int w = 1;
		if (mvin_wch(y, cx, &cc) == OK && getcchar(&cc, wch, &at, &pair, NULL) != ERR) {
			int ww = wcwidth(wch[0]);
			w = ww > 1 ? ww : 1;
		}
		if (cx < from && cx + w > from)
			from = cx;
		if (cx < to && cx + w > to)
			to = cx + w > COLS ? COLS : cx + w;
		if (cx >= to)
			break;
		cx += w;
	}
	ui_fill(y, from, to - from, A_NORMAL);
}

void ui_hline(int y, int x, int cols)
{
	if (y < 0 || y >= LINES || cols <= 0)
		return;
	mvhline(y, x, ascii ? '-' : ACS_HLINE, cols);
}

void ui_box(int y, int x, int h, int w)
{
	if (h < 2 || w < 2)
		return;
	chtype hl = ascii ? '-' : ACS_HLINE, vl = ascii ? '|' : ACS_VLINE;
	chtype c1 = ascii ? '+' : ACS_ULCORNER, c2 = ascii ? '+' : ACS_URCORNER;
	chtype c3 = ascii ? '+' : ACS_LLCORNER, c4 = ascii ? '+' : ACS_LRCORNER;
	mvhline(y, x + 1, hl, w - 2);
	mvhline(y + h - 1, x + 1, hl, w - 2);
	mvvline(y + 1, x, vl, h - 2);
	mvvline(y + 1, x + w - 1, vl, h - 2);
	mvaddch(y, x, c1);
	mvaddch(y, x + w - 1, c2);
	mvaddch(y + h - 1, x, c3);
	mvaddch(y + h - 1, x + w - 1, c4);
}

char *ui_expand(const char *s, const char *(*get)(const char *name, size_t len, void *ctx), void *ctx)
{
	size_t cap = strlen(s) + 64, n = 0;
	char *out = malloc(cap);
	if (!out)
		return NULL;
	while (*s) {
		const char *rep = NULL;
		size_t skip = 1;
		if (*s == '{') {
			const char *e = strchr(s + 1, '}');
			if (e && e > s + 1 && e - s < 64) {
				bool ok = true;
				for (const char *p = s + 1; p < e; p++)
					if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
					      (*p >= '0' && *p <= '9') || *p == '_'))
						ok = false;
				if (ok && (rep = get(s + 1, (size_t)(e - s - 1), ctx)))
					skip = (size_t)(e - s) + 1;
			}
		}
		size_t add = rep ? strlen(rep) : 1;
		if (n + add + 1 > cap) {
			cap = (n + add + 1) * 2;
			char *no = realloc(out, cap);
			if (!no) {
				free(out);
				return NULL;
			}
			out = no;
		}
		if (rep)
			memcpy(out + n, rep, add);
		else
			out[n] = *s;
		n += add;
		s += skip;
	}
	out[n] = '\0';
	return out;
}

struct size_ctx {
	char c[16], r[16], nc[16], nr[16];
};

static const char *size_get(const char *name, size_t len, void *ctx)
{
	struct size_ctx *z = ctx;
	if (len == 4 && !memcmp(name, "cols", 4))
		return z->c;
	if (len == 4 && !memcmp(name, "rows", 4))
		return z->r;
	if (len == 9 && !memcmp(name, "need_cols", 9))
		return z->nc;
	if (len == 9 && !memcmp(name, "need_rows", 9))
		return z->nr;
	return NULL;
}

bool ui_too_small(void)
{
	if (COLS >= UI_MIN_COLS && LINES >= UI_MIN_ROWS)
		return false;
	erase();
	struct size_ctx z;
	snprintf(z.c, sizeof z.c, "%d", COLS);
	snprintf(z.r, sizeof z.r, "%d", LINES);
	snprintf(z.nc, sizeof z.nc, "%d", UI_MIN_COLS);
	snprintf(z.nr, sizeof z.nr, "%d", UI_MIN_ROWS);
	const char *msgs[3] = {
		_("端末の画面が小さすぎます。"),
		/* TRANSLATORS: {need_cols}x{need_rows} is the minimum terminal size, e.g. 80x24. */
		_("{need_cols}x{need_rows} 以上に広げてください。"),
		/* TRANSLATORS: {cols}x{rows} is the current terminal size. */
		_("現在の大きさ：{cols}x{rows}"),
	};
	int y0 = LINES / 2 - 1;
	if (y0 < 0)
		y0 = 0;
	for (int i = 0; i < 3; i++) {
		char *t = ui_expand(msgs[i], size_get, &z);
		if (!t)
			continue;
		/* wrap into the width we have */
		size_t n = strlen(t), at = 0;
		int y = y0 + i;
		while (at < n && y < LINES) {
			size_t skip, l = ui_wrap_line(t + at, n - at, (size_t)(COLS > 0 ? COLS : 1), &skip);
			int w = (int)ui_width_n(t + at, l);
			int x = (COLS - w) / 2;
			ui_put(y, x < 0 ? 0 : x, t + at, l, COLS, i == 0 ? A_BOLD : A_NORMAL);
			at += l + skip;
			if (at < n)
				y0++, y++;
		}
		free(t);
	}
	move(LINES - 1, 0);
	refresh();
	return true;
}

void ui_keybar(const char *const *pairs, size_t n)
{
	int y = LINES - 1, x = 0;
	attr_t bar = ui_attr(UIC_KEYBAR);
	ui_fill(y, 0, COLS, colors ? bar : A_NORMAL);
	for (size_t i = 0; i < n && x < COLS - 1; i++) {
		const char *key = pairs[2 * i];
		const char *label = _(pairs[2 * i + 1]);
		int need = (int)ui_width(key) + 1 + (int)ui_width(label);
		if (x + need > COLS - 1)
			break;
		x += ui_puts(y, x, key, COLS - x, colors ? bar | A_BOLD : A_REVERSE);
		x += ui_puts(y, x, " ", 1, colors ? bar : A_NORMAL);
		x += ui_puts(y, x, label, COLS - x, colors ? bar : A_NORMAL);
		x += ui_puts(y, x, "  ", 2, colors ? bar : A_NORMAL);
	}
}

/* ---- tests ------------------------------------------------------------------------------------ */

void ui_dump(char *buf, size_t size)
{
	size_t at = 0;
	if (!size)
		return;
	buf[0] = '\0';
	if (!active)
		return;
	int oy, ox;
	getyx(stdscr, oy, ox);
	for (int y = 0; y < LINES; y++) {
		size_t line_start = at, last_non_space = at;
		for (int x = 0; x < COLS; x++) {
			cchar_t cc;
			wchar_t wch[CCHARW_MAX + 1];
			attr_t a;
			short pair;
			if (mvin_wch(y, x, &cc) == ERR || getcchar(&cc, wch, &a, &pair, NULL) == ERR)
				continue;
			for (size_t k = 0; wch[k]; k++) {
				char u[4];
				wint_t c = (wint_t)wch[k];
				if (a & A_ALTCHARSET)
					c = c == 'q' ? '-' : c == 'x' ? '|' : '+';
				size_t l = ui_utf8(c, u);
				if (at + l + 2 >= size)
					goto done;
				memcpy(buf + at, u, l);
				at += l;
				if (c != ' ')
					last_non_space = at;
			}
			int w = wch[0] ? ui_wcwidth(wch[0]) : 1;
			if (w == 2)
				x++;
		}
		at = last_non_space > line_start ? last_non_space : line_start;
		buf[at++] = '\n';
	}
done:
	buf[at] = '\0';
	move(oy, ox);
}

void ui_cursor(int *row, int *col)
{
	int y = 0, x = 0;
	if (active)
		getyx(stdscr, y, x);
	*row = y;
	*col = x;
}

bool ui_terminal_usable(void)
{
	if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO))
		return false;
	const char *t = getenv("TERM");
	if (!t || !*t || !strcmp(t, "dumb"))
		return false;
	int err = 0;
	TERMINAL *saved = cur_term;
	if (setupterm(t, STDOUT_FILENO, &err) != OK)
		return false;
	const char *cup = tigetstr("cup"); /* cursor addressing: what every screen needs */
	bool ok = cup && cup != (const char *)-1;
	TERMINAL *mine = cur_term;
	set_curterm(saved);
	del_curterm(mine);
	return ok;
}
