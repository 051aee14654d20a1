/* cursesfloor.c: the floor of a curses start-up for make bench (scripts/bench.py runs it in a pty):
 * initialise ncursesw the way renkei does (setlocale, newterm on stdout/stdin, cbreak, noecho,
 * keypad), paint one screen shaped like renkei's first one (a title, a frame, a few lines of
 * Japanese, a key bar on the last row), then wait for one key and end. Nothing else: no options,
 * no catalogs, no forms, no libcurl. Usage: cursesfloor */
#include <curses.h>
#include <locale.h>
#include <stdio.h>

static const char *const body[] = {
	"パートナーのアプリに表示されたコードを入力して、「次へ」ボタンを押してください。",
	"",
	"コード ※  ____-____",
	"",
	"                                [ 次へ ]",
};

int main(void)
{
	setlocale(LC_ALL, "");
	SCREEN *scr = newterm(NULL, stdout, stdin);
	if (!scr) {
		fprintf(stderr, "cursesfloor: newterm failed\n");
		return 1;
	}
	cbreak();
	noecho();
	keypad(stdscr, TRUE);
	int h = LINES, w = COLS;
	mvaddstr(0, w > 46 ? (w - 46) / 2 : 0, "API連携認証（利用登録）");
	WINDOW *frame = derwin(stdscr, h - 4, w, 1, 0);
	if (frame) {
		box(frame, 0, 0);
		mvwaddstr(frame, 0, 2, " 連携先コードの入力 ");
	}
	for (size_t i = 0; i < sizeof body / sizeof body[0]; i++)
		mvaddstr(2 + (int)i, 2, body[i]);
	attron(A_REVERSE);
	mvaddstr(h - 1, 0, "F1 ヘルプ  Esc 戻る  F2 English  Tab 移動  Enter 決定");
	attroff(A_REVERSE);
	refresh();
	getch();
	if (frame)
		delwin(frame);
	endwin();
	delscreen(scr);
	return 0;
}
