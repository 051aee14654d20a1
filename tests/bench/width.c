/* width.c: `make bench` helper: ui_width (include/ui_text.h) over a fixed Japanese text, for
 * callgrind (valgrind --tool=callgrind --collect-atstart=no --toggle-collect=ui_width).
 * Usage: width [ROUNDS]  (default 200). Prints "bytes chars columns rounds" on one line. */
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ui_text.h"

/* Kanji, kana, full-width and ASCII as the screens show them (demo scenario texts). */
static const char text[] =
	"デモ家計簿株式会社 がお客様のインターネットバンキングの口座情報・明細情報へのアクセスを求めます。"
	"それぞれの利用規約とプライバシーポリシーに従って、この情報を使用します。"
	"以下の認可対象・認可期間を確認の上、「許可」ボタンをクリックしてください。"
	"※認可対象：残高照会、入金出金照会　インターネット支店(001) 普通 2000002 生活費　"
	"豊洲支店(454) 普通 1000014 給与　認可期間：2026年11月25日 〜 2027年11月25日　"
	"API連携の利用登録が完了しました。遷移元のAPI連携先画面に遷移します。";

int main(int argc, char **argv)
{
	long rounds = argc > 1 ? strtol(argv[1], NULL, 10) : 200;
	if (rounds < 1)
		rounds = 1;
	if (!setlocale(LC_ALL, "C.UTF-8"))
		setlocale(LC_ALL, "");
	size_t cols = 0;
	for (long i = 0; i < rounds; i++)
		cols += ui_width(text);
	size_t n = strlen(text);
	printf("%zu %zu %zu %ld\n", n, ui_char_count(text, n), cols / (size_t)rounds, rounds);
	return 0;
}
