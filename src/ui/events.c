/* events.c: what the person did, told to an observer (--trace), key names both ways, and the
 * replay's status line (see include/ui.h, "observing the person"). */
#include <curses.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ui.h"
#include "ui_draw.h"

static void (*observer)(const struct ui_event *ev, void *ctx);
static void *observer_ctx;

void ui_set_observer(void (*fn)(const struct ui_event *ev, void *ctx), void *ctx)
{
	observer = fn;
	observer_ctx = ctx;
}

bool ui_observed(void)
{
	return observer != NULL;
}

void ui_observe(const struct ui_event *ev)
{
	if (observer)
		observer(ev, observer_ctx);
}

/* docs/trace.md "key": one row per named key. */
static const struct keyname {
	const char *name;
	int key;
	bool fkey;
} keynames[] = {
	{"tab", '\t', false},        {"btab", KEY_BTAB, true},     {"up", KEY_UP, true},
	{"down", KEY_DOWN, true},    {"left", KEY_LEFT, true},     {"right", KEY_RIGHT, true},
	{"pgup", KEY_PPAGE, true},   {"pgdn", KEY_NPAGE, true},    {"enter", '\r', false},
	{"enter", '\n', false},      {"enter", KEY_ENTER, true},   {"space", ' ', false},
	{"esc", 27, false},          {"f1", KEY_F(1), true},       {"f2", KEY_F(2), true},
	{"f9", KEY_F(9), true},      {"home", KEY_HOME, true},     {"end", KEY_END, true},
	{"backspace", 127, false},   {"backspace", KEY_BACKSPACE, true}, {"backspace", 8, false},
	{"delete", KEY_DC, true},    {"ctrl-k", 11, false},        {"ctrl-u", 21, false},
	{"ctrl-c", 3, false},
};
#define NKEYNAMES (sizeof keynames / sizeof keynames[0])

const char *ui_key_name(int key, bool fkey, char *buf, size_t size)
{
	for (size_t i = 0; i < NKEYNAMES; i++)
		if (keynames[i].key == key && keynames[i].fkey == fkey) {
			snprintf(buf, size, "%s", keynames[i].name);
			return buf;
		}
	snprintf(buf, size, "%s:%d", fkey ? "fkey" : "key", key);
	return buf;
}

int ui_key_parse(const char *name, int *key, bool *fkey)
{
	for (size_t i = 0; i < NKEYNAMES; i++) /* the first row of a name is the key pressed */
		if (!strcmp(keynames[i].name, name)) {
			*key = keynames[i].key;
			*fkey = keynames[i].fkey;
			return 0;
		}
	bool fk = !strncmp(name, "fkey:", 5);
	if (!fk && strncmp(name, "key:", 4))
		return -1;
	const char *num = name + (fk ? 5 : 4);
	char *end;
	long v = strtol(num, &end, 10);
	if (end == num || *end || v <= 0 || v > 0x10ffff)
		return -1;
	*key = (int)v;
	*fkey = fk;
	return 0;
}

void ui_status_line(const char *text)
{
	if (!ui_active())
		return;
	int cy, cx;
	getyx(stdscr, cy, cx);
	int y = LINES - 1;
	attr_t a = ui_colors() ? ui_attr(UIC_TITLE) : A_REVERSE;
	ui_fill(y, 0, COLS, a);
	ui_puts(y, 0, text, COLS, a);
	move(cy, cx);
	refresh();
}
