/* test_width.c: the display-width function, wrapping and the text-field editing model (ui_text.h). */
#include <locale.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include <cmocka.h>

#include "secret.h"
#include "ui_text.h"

static int setup(void **state)
{
	(void)state;
	if (!setlocale(LC_ALL, "C.UTF-8"))
		return -1;
	ui_width_set_ambiguous_wide(false);
	return 0;
}

static void test_ascii(void **state)
{
	(void)state;
	assert_int_equal(ui_width(""), 0);
	assert_int_equal(ui_width("abc"), 3);
	assert_int_equal(ui_width("ID: yamada01"), 12);
	assert_int_equal(ui_width(NULL), 0);
}

static void test_japanese(void **state)
{
	(void)state;
	assert_int_equal(ui_width("連携"), 4);
	assert_int_equal(ui_width("（利用登録）"), 12);
	assert_int_equal(ui_width("ログインID"), 10);
	assert_int_equal(ui_width("ひまわり証券"), 12);
	assert_int_equal(ui_width("ｶﾅ"), 2); /* half-width katakana: 1 column each */
}

static void test_combining(void **state)
{
	(void)state;
	/* e + U+0301 COMBINING ACUTE: one column; か + U+3099 (voiced mark): two */
	assert_int_equal(ui_width("e\xcc\x81"), 1);
	assert_int_equal(ui_width("\xe3\x81\x8b\xe3\x82\x99"), 2);
	/* cursor steps over the base and its mark together */
	const char *s = "e\xcc\x81x";
	assert_int_equal(ui_next_char(s, strlen(s), 0), 3);
	assert_int_equal(ui_prev_char(s, strlen(s), 3), 0);
}

static void test_ambiguous(void **state)
{
	(void)state;
	assert_int_equal(ui_width("\xe2\x97\x8f"), 1); /* ● */
	assert_int_equal(ui_width("\xe2\x80\xbb"), 1); /* ※ */
	assert_true(ui_is_ambiguous(0x25cf));
	assert_true(ui_is_ambiguous(0x2500));
	assert_false(ui_is_ambiguous('a'));
	assert_false(ui_is_ambiguous(0x9023)); /* 連: wide, not ambiguous */
	ui_width_set_ambiguous_wide(true);
	assert_int_equal(ui_width("\xe2\x97\x8f\xe2\x94\x80\xe2\x94\x82"), 6); /* ●─│ */
	assert_int_equal(ui_width("a"), 1);
	ui_width_set_ambiguous_wide(false);
	assert_int_equal(ui_width("\xe2\x97\x8f\xe2\x94\x80\xe2\x94\x82"), 3);
}

static void test_fit_never_splits(void **state)
{
	(void)state;
	const char *s = "aひまわり";
	size_t n = strlen(s), cols;
	/* 1 + 2*4 columns; 4 columns fit "aひ" (3), not half of ま */
	assert_int_equal(ui_fit(s, n, 4, &cols), 1 + 3);
	assert_int_equal(cols, 3);
	assert_int_equal(ui_fit(s, n, 5, &cols), 1 + 6);
	assert_int_equal(cols, 5);
	assert_int_equal(ui_fit(s, n, 0, &cols), 0);
	assert_int_equal(ui_fit(s, n, 100, &cols), n);
	assert_int_equal(cols, 9);
	/* a combining mark stays with its base */
	const char *c = "ab\xcc\x81" "c";
	assert_int_equal(ui_fit(c, strlen(c), 2, &cols), 4);
	assert_int_equal(cols, 2);
	/* every prefix ui_fit returns ends on a character boundary */
	const char *j = "証券名を入力してください";
	for (size_t m = 0; m < 30; m++) {
		size_t b = ui_fit(j, strlen(j), m, &cols);
		assert_true(cols <= m);
		assert_int_equal(b % 3, 0);
	}
}

static void test_invalid_utf8(void **state)
{
	(void)state;
	wchar_t wc;
	assert_int_equal(ui_decode("\xff", 1, &wc), 1);
	assert_int_equal(wc, 0xfffd);
	assert_int_equal(ui_decode("\xe3\x81", 2, &wc), 1); /* truncated */
	assert_int_equal(wc, 0xfffd);
	assert_int_equal(ui_decode("\xc0\xaf", 2, &wc), 1); /* overlong */
	assert_int_equal(ui_decode("\xed\xa0\x80", 3, &wc), 1); /* surrogate */
	assert_int_equal(ui_decode("", 0, &wc), 0);
	/* each bad byte is one column, the rest still counts right */
	assert_int_equal(ui_width("a\xff\xfe連"), 5);
	const char *s = "\xe3\x81\xe3\x81\x82";
	size_t cols;
	size_t b = ui_fit(s, strlen(s), 3, &cols);
	assert_int_equal(b, 2);
	assert_int_equal(cols, 2);
}

static void test_wrap(void **state)
{
	(void)state;
	size_t skip;
	const char *s = "hello world again";
	size_t l = ui_wrap_line(s, strlen(s), 12, &skip);
	assert_int_equal(l, 11); /* "hello world", then skip the space */
	assert_int_equal(skip, 1);
	const char *j = "あいうえお";
	assert_int_equal(ui_wrap_line(j, strlen(j), 5, &skip), 6);
	const char *nl = "ab\ncd";
	assert_int_equal(ui_wrap_line(nl, strlen(nl), 10, &skip), 2);
	assert_int_equal(skip, 1);
	/* kinsoku: 。 does not start a line: the character before it moves down with it */
	const char *k = "あいう。";
	assert_int_equal(ui_wrap_line(k, strlen(k), 6, &skip), 6);
}

/* ---- line breaking (JIS X 4051 basics) ---- */

/* s wrapped at cols, lines joined by '|' (not used in the texts below). */
static const char *wrapped(const char *s, size_t cols)
{
	static char out[8192];
	size_t n = strlen(s), at = 0, o = 0;
	while (at < n) {
		size_t skip, l = ui_wrap_line(s + at, n - at, cols, &skip);
		assert_true(l + skip > 0);
		assert_true(o + l + 2 < sizeof out);
		if (o > 0)
			out[o++] = '|';
		memcpy(out + o, s + at, l);
		o += l;
		at += l + skip;
	}
	out[o] = '\0';
	return out;
}

/* The contract for any input: the lines and the skipped bytes are the input, in order; only
 * spaces and one '\n' are skipped; a line is empty only for a '\n' in the input; a line ends on a
 * character boundary (a combining mark stays with its base) and is at most cols wide unless it is
 * a single character wider than the line. Returns the number of lines. */
static size_t check_contract(const char *s, size_t n, size_t cols)
{
	char *re = malloc(n + 1);
	assert_non_null(re);
	size_t at = 0, o = 0, lines = 0;
	while (at < n) {
		size_t skip = 12345, l = ui_wrap_line(s + at, n - at, cols, &skip);
		assert_true(skip <= n - at);
		assert_true(l <= n - at - skip);
		assert_true(l + skip > 0); /* progress */
		if (l == 0)
			assert_true(s[at] == '\n' && skip == 1);
		/* the line ends on a boundary of the remaining text */
		size_t p = 0;
		while (p < l)
			p = ui_next_char(s + at, n - at, p);
		assert_int_equal(p, l);
		size_t w = ui_width_n(s + at, l);
		if (w > cols)
			assert_int_equal(ui_next_char(s + at, n - at, 0), l);
		/* skipped: spaces, then at most one '\n' as the last byte */
		for (size_t k = 0; k < skip; k++) {
			char c = s[at + l + k];
			assert_true(c == ' ' || (c == '\n' && k == skip - 1));
		}
		memcpy(re + o, s + at, l + skip);
		o += l + skip;
		at += l + skip;
		lines++;
		assert_true(lines <= n); /* every line consumes at least one byte */
	}
	assert_int_equal(o, n);
	assert_memory_equal(re, s, n);
	free(re);
	return lines;
}

static const wchar_t test_no_start[] =
    L"、。，．・：；？！ー）」』】〕〉》］｝…‥ぁぃぅぇぉっゃゅょゎァィゥェォッャュョヮヵヶ％)]},.:;!?";
static const wchar_t test_no_end[] = L"（「『【〔〈《［｛([{";

static bool latin(wchar_t c)
{
	return c > 0x20 && c < 0x7f;
}

/* What a Japanese reader checks, for texts where it is possible at that width: no line starts
 * with a character of test_no_start or ends with one of test_no_end, and an ASCII run is split
 * only when it, with the closing marks after it, is wider than the line. */
static void check_kinsoku(const char *s, size_t cols)
{
	size_t n = strlen(s), at = 0;
	while (at < n) {
		size_t skip, l = ui_wrap_line(s + at, n - at, cols, &skip);
		size_t next = at + l + skip;
		if (next >= n || s[at + l] == '\n')
			break;
		wchar_t first, last;
		ui_decode(s + next, n - next, &first);
		size_t lp = ui_prev_char(s + at, l, l);
		ui_decode(s + at + lp, l - lp, &last);
		if (wcschr(test_no_start, first) || wcschr(test_no_end, last))
			fail_msg("kinsoku at %zu cols: \"%.*s\" | \"%.12s\"", cols, (int)l, s + at, s + next);
		if (skip == 0 && latin(last) && latin(first)) {
			/* the unit around the break: the ASCII run with the closing marks after it */
			size_t a = at + lp, b = next;
			while (a > 0 && latin(s[a - 1]))
				a--;
			for (;;) {
				wchar_t wc;
				size_t k = ui_decode(s + b, n - b, &wc);
				if (b >= n || !(latin(wc) || wcschr(test_no_start, wc)))
					break;
				b += k;
			}
			if (ui_width_n(s + a, b - a) <= cols)
				fail_msg("run split at %zu cols: \"%.*s\" | \"%.12s\"", cols, (int)l, s + at,
				         s + next);
		}
		at = next;
	}
}

/* Texts of the screens (the forms, po/en.po, the demo scenario). */
static const char *const real_texts[] = {
    "連携先アプリの画面に表示されている8文字のコード（例：WDJB-MJHT）を入力してください。大文字・"
    "小文字、ハイフンや空白は区別しません。バーコードリーダーでも入力できます。",
    "連携先アプリに表示されているコードを入力の上、「次へ」ボタンを押してください。",
    "例：WDJB-MJHT（大文字・小文字、ハイフンは区別しません）",
    "「電子証明書ログイン」ボタンで証明書を選び、ログインパスワードを入力して「API連携」ボタンを押して"
    "ください。",
    "ログイン方式を選んでください。ICカードなどの電子証明書をお使いの方は「電子証明書方式」、ログインIDと"
    "ログインパスワードをお使いの方は「ID・パスワード方式」です。",
    "この手続きをご自身で連携先アプリから始めた場合のみ、ログイン方式を選択してお進みください。お心当たり"
    "がない場合は「中止」を押してください。",
    "認可対象・認可期間と意思確認の内容を確認し（↑↓・PgUp・PgDnで読み進めます）、「許可手続きを継続する」"
    "にチェックを入れて「許可」ボタンを押してください。",
    "kakeibo-demo がお客様のインターネットバンキングの口座情報・明細情報へのアクセスを求めます。"
    "kakeibo-demo と当金融機関のサービスは、それぞれの利用規約とプライバシーポリシーに従って、この情報を"
    "使用します。",
    "※登録状態欄に*が表示されている口座の暗証番号は、認可完了後に有効となります。",
    "認可期間：2026年11月25日 〜 2027年11月25日　豊洲支店(454) 普通 1000014 給与",
    "ロックの解除は、お取引店またはヘルプデスクにお問い合わせください。",
    "Enter the 8-character code shown in the partner app (e.g. WDJB-MJHT). Upper and lower case, "
    "hyphens and spaces do not matter. A barcode reader works too.",
    "Check the authorized services, the authorization period and the confirmation of intent (scroll "
    "with ↑↓, PgUp and PgDn), tick \"Proceed with granting access\", then press \"Allow\".",
    "Continue only if you started this yourself in the partner app: select a login method. If you did "
    "not, press \"Cancel\".",
    "the server must be a URL starting with https://: https://localhost:8443/oauth/device",
};

static void test_wrap_line_start(void **state)
{
	(void)state;
	/* 、 would start the line: 上 moves down with it */
	const char *s = "連携先アプリに表示されているコードを入力の上、「次へ」ボタンを押してください。";
	assert_string_equal(
	    wrapped(s, 24),
	    "連携先アプリに表示されて|いるコードを入力の上、|「次へ」ボタンを押してく|ださい。");
	/* ー (prolonged sound mark) and 。 do not start a line either */
	assert_string_equal(
	    wrapped(s, 10),
	    "連携先アプ|リに表示さ|れている|コードを入|力の上、|「次へ」ボ|タンを押し|てくださ|い。");
	/* small kana: っ/ッ stay with the character before */
	assert_string_equal(wrapped("あロック", 4), "あ|ロッ|ク");
	assert_string_equal(wrapped("ロックされています", 4), "ロッ|クさ|れて|いま|す");
	assert_string_equal(wrapped("いっぱい", 2), "い|っ|ぱ|い"); /* a line of one: nothing to push */
	assert_string_equal(wrapped("いっぱい", 4), "いっ|ぱい");
	assert_string_equal(wrapped("あいっぱい", 4), "あ|いっ|ぱい");
	/* full-width ％ and ASCII closing punctuation after Japanese */
	assert_string_equal(wrapped("手数料は10％です", 6), "手数料|は10％|です");
	assert_string_equal(wrapped("あいうえ?", 8), "あいう|え?");
	assert_string_equal(wrapped("あいうえ)", 8), "あいう|え)");
	/* nor after a space: 。 or ） typed after a space stays with the word before it */
	assert_string_equal(wrapped("あいう 。えお", 6), "あい|う 。|えお");
	assert_string_equal(wrapped("かき あいう ）", 8), "かき あ|いう ）");
	assert_string_equal(wrapped("Press OK .", 8), "Press|OK .");
	/* ）、 after a Latin run: the run and the marks move down together */
	const char *r =
	    "認可対象・認可期間と意思確認の内容を確認し（↑↓・PgUp・PgDnで読み進めます）、「許可手続きを継続す"
	    "る」にチェックを入れて「許可」ボタンを押してください。";
	assert_string_equal(wrapped(r, 74),
	                    "認可対象・認可期間と意思確認の内容を確認し（↑↓・PgUp・PgDnで読み進めま|"
	                    "す）、「許可手続きを継続する」にチェックを入れて「許可」ボタンを押してくだ|"
	                    "さい。");
}

/* Every character of the 禁則 tables of text.c (which must stay sorted for its binary search). */
static void test_wrap_kinsoku_sets(void **state)
{
	(void)state;
	static const char *const starts[] = {
	    "!",  "%",  ")",  ",",  ".",  ":",  ";",  "?",  "]",  "}",  "°",  "»",  "‐",  "–",  "’",
	    "”",  "‥",  "…",  "‰",  "′",  "″",  "‼",  "⁇",  "⁈",  "⁉",  "℃",  "、", "。", "々", "〉",
	    "》", "」", "』", "】", "〕", "〗", "〙", "〛", "〜", "〞", "〟", "〻", "ぁ", "ぃ", "ぅ",
	    "ぇ", "ぉ", "っ", "ゃ", "ゅ", "ょ", "ゎ", "ゕ", "ゖ", "ゝ", "ゞ", "゠", "ァ", "ィ", "ゥ",
	    "ェ", "ォ", "ッ", "ャ", "ュ", "ョ", "ヮ", "ヵ", "ヶ", "・", "ー", "ヽ", "ヾ", "！", "％",
	    "）", "，", "．", "：", "；", "？", "］", "｝", "～", "｠", "｡",  "｣",  "､",  "･",  "ｧ",
	    "ｨ",  "ｩ",  "ｪ",  "ｫ",  "ｬ",  "ｭ",  "ｮ",  "ｯ",  "ｰ",
	};
	static const char *const ends[] = {
	    "(",  "[",  "{",  "«",  "‘",  "“",  "〈", "《", "「", "『", "【", "〔", "〖",
	    "〘", "〚", "〝", "＃", "＄", "（", "［", "｛", "｟", "｢",  "￡", "￥",
	};
	char in[32], want[32];
	for (size_t i = 0; i < sizeof starts / sizeof starts[0]; i++) {
		/* "あい" fills 4 columns: the character must not start the next line alone */
		snprintf(in, sizeof in, "あい%s", starts[i]);
		snprintf(want, sizeof want, "あ|い%s", starts[i]);
		assert_string_equal(wrapped(in, 4), want);
	}
	for (size_t i = 0; i < sizeof ends / sizeof ends[0]; i++) {
		/* the character would end the line: it moves down with い */
		snprintf(in, sizeof in, "あ%sい", ends[i]);
		snprintf(want, sizeof want, "あ|%sい", ends[i]);
		assert_string_equal(wrapped(in, 2 + ui_width(ends[i])), want);
	}
	/* and ordinary characters break as before */
	assert_string_equal(wrapped("あいう", 4), "あい|う");
	assert_string_equal(wrapped("あいa", 4), "あい|a");
}

static void test_wrap_line_end(void **state)
{
	(void)state;
	/* 「 must not end a line: it moves down with 許 */
	const char *r =
	    "認可対象・認可期間と意思確認の内容を確認し（↑↓・PgUp・PgDnで読み進めます）、「許可手続きを継続す"
	    "る」にチェックを入れて「許可」ボタンを押してください。";
	assert_string_equal(wrapped(r, 78),
	                    "認可対象・認可期間と意思確認の内容を確認し（↑↓・PgUp・PgDnで読み進めます）、|"
	                    "「許可手続きを継続する」にチェックを入れて「許可」ボタンを押してください。");
	assert_string_equal(wrapped(r, 60), "認可対象・認可期間と意思確認の内容を確認し（↑↓・PgUp・PgDnで|"
	                                    "読み進めます）、「許可手続きを継続する」にチェックを入れて|"
	                                    "「許可」ボタンを押してください。");
	/* （ and ASCII ( [ { too */
	assert_string_equal(wrapped("あいう（えお）", 8), "あいう|（えお）");
	assert_string_equal(wrapped("あいう(えお)", 7), "あいう|(えお)");
	assert_string_equal(wrapped("あいう[えお]", 7), "あいう|[えお]");
	assert_string_equal(wrapped("あいう{えお}", 7), "あいう|{えお}");
	/* an opening bracket after a closing run: 」「 */
	assert_string_equal(wrapped("あ」「い", 6), "あ」|「い");
	/* 「」 with nothing between: the pair stays together */
	assert_string_equal(wrapped("あいう「」え", 8), "あいう|「」え");
}

static void test_wrap_closing_run(void **state)
{
	(void)state;
	/* 。」 at the end of a line: both move down with the character before them */
	assert_string_equal(wrapped("押してください。」と", 14), "押してくださ|い。」と");
	/* す。」』） is wider than the line: at most 3 characters pushed, then a hard break */
	assert_string_equal(wrapped("です。」』）と", 6), "で|す。」|』）と");
	/* five closing marks in a row: at most 3 characters are pushed back, then a hard break */
	const char *five = "あいう」」」」」";
	assert_string_equal(wrapped(five, 8), "あい|う」」」|」」");
	assert_string_equal(wrapped(five, 10), "あい|う」」」」|」");
	assert_string_equal(wrapped(five, 6), "あい|う」」|」」」");
	assert_string_equal(wrapped(five, 2), "あ|い|う|」|」|」|」|」");
	assert_string_equal(wrapped("」」」」」", 4), "」」|」」|」");
	assert_string_equal(wrapped("。。。。。。。。", 4), "。。|。。|。。|。。");
	for (size_t c = 1; c <= 20; c++) {
		check_contract(five, strlen(five), c);
		check_contract("」」」」」", strlen("」」」」」"), c);
	}
}

static void test_wrap_latin_runs(void **state)
{
	(void)state;
	/* a code, a partner name, a date and numbers inside Japanese text are not split when they fit */
	const char *ex = "例：WDJB-MJHT（大文字・小文字、ハイフンは区別しません）";
	assert_string_equal(wrapped(ex, 12), "例：|WDJB-MJHT|（大文字・小|文字、ハイフ|ンは区別しま|せん）");
	assert_string_equal(wrapped(ex, 16), "例：WDJB-MJHT|（大文字・小文|字、ハイフンは区|別しません）");
	const char *p = "kakeibo-demo がお客様の口座情報へのアクセスを求めます。";
	assert_string_equal(wrapped(p, 14), "kakeibo-demo|がお客様の口座|情報へのアクセ|スを求めます。");
	const char *d = "認可期間：2026年11月25日から";
	assert_string_equal(wrapped(d, 12), "認可期間：|2026年11月25|日から");
	assert_string_equal(wrapped(d, 13), "認可期間：|2026年11月25|日から");
	assert_string_equal(wrapped("豊洲支店(454) 普通 1000014 給与", 20),
	                    "豊洲支店(454) 普通|1000014 給与");
	/* a run with the closing mark after it wider than the line: break after its hyphen */
	const char *h = "のコード（例：WDJB-MJHT）を入力してください。";
	assert_string_equal(wrapped(h, 10), "のコード|（例：|WDJB-|MJHT）を入|力してくだ|さい。");
	/* a URL in Japanese text moves to the next line whole */
	const char *u = "ブラウザで https://localhost:8443/device を開いてください。";
	assert_string_equal(wrapped(u, 40), "ブラウザで https://localhost:8443/device|を開いてください。");
	assert_string_equal(wrapped(u, 36), "ブラウザで|https://localhost:8443/device を開い|てください。");
	assert_string_equal(wrapped("ブラウザでhttps://localhost:8443/deviceを開く", 36),
	                    "ブラウザで|https://localhost:8443/deviceを開く");
	/* a 100-character URL: it starts a line, breaks after its last '/' that fits, then hard */
	char url[256];
	strcpy(url, "詳細は https://example.com/");
	size_t base = strlen(url);
	while (strlen(url) - base < 80)
		strcat(url, "a");
	strcat(url, " を参照");
	assert_int_equal(strlen(url) - base + 20 - strlen(" を参照"), 100);
	char want[512];
	snprintf(want, sizeof want, "詳細は|https://example.com/|%.76s|%.4s を参照", url + base,
	         url + base + 76);
	assert_string_equal(wrapped(url, 76), want);
	check_contract(url, strlen(url), 76);
	/* a run longer than a line, with no '-' or '/': broken hard where the line is full */
	assert_string_equal(wrapped("ABCDEFGHIJKLMNOPQRSTUVWXYZ", 10), "ABCDEFGHIJ|KLMNOPQRST|UVWXYZ");
	assert_string_equal(wrapped("あ ABCDEFGHIJKLMNOPQRSTUVWXYZ", 10), "あ|ABCDEFGHIJ|KLMNOPQRST|UVWXYZ");
	/* full-width digits stay together too */
	assert_string_equal(wrapped("あいう２０２６年", 8), "あいう|２０２６|年");
}

static void test_wrap_english(void **state)
{
	(void)state;
	const char *e =
	    "Enter the 8-character code shown in the partner app (e.g. WDJB-MJHT). Upper and lower "
	    "case, hyphens and spaces do not matter.";
	assert_string_equal(wrapped(e, 76),
	                    "Enter the 8-character code shown in the partner app (e.g. WDJB-MJHT). Upper|"
	                    "and lower case, hyphens and spaces do not matter.");
	assert_string_equal(wrapped(e, 40),
	                    "Enter the 8-character code shown in the|partner app (e.g. WDJB-MJHT). Upper "
	                    "and|lower case, hyphens and spaces do not|matter.");
	/* narrow: a word longer than the line breaks after its hyphen, "WDJB-MJHT)." too */
	assert_string_equal(wrapped(e, 10),
	                    "Enter the|8-|character|code shown|in the|partner|app (e.g.|WDJB-|MJHT)."
	                    "|Upper and|lower|case,|hyphens|and spaces|do not|matter.");
	/* spaces at the break are skipped, several of them, and a '\n' right after them */
	size_t skip;
	const char *sp = "hello   world";
	assert_int_equal(ui_wrap_line(sp, strlen(sp), 7, &skip), 5);
	assert_int_equal(skip, 3);
	const char *snl = "hello  \nworld";
	assert_int_equal(ui_wrap_line(snl, strlen(snl), 6, &skip), 5);
	assert_int_equal(skip, 3);
	assert_string_equal(wrapped(snl, 6), "hello|world");
	/* a line that fits ends at '\n'; an empty line stays */
	assert_string_equal(wrapped("one\n\ntwo three", 9), "one||two three");
	/* a word longer than the line with no hyphen moves down, then breaks hard */
	assert_string_equal(wrapped("Certificate authentication", 10), "Certificat|e|authentica|tion");
	/* accented Latin is part of a word */
	assert_string_equal(wrapped("un café crème", 8), "un café|crème");
	/* ↑↓ are not split, a comma does not start a line */
	assert_string_equal(wrapped("scroll with ↑↓, PgUp", 14), "scroll with|↑↓, PgUp");
}

static void test_wrap_edges(void **state)
{
	(void)state;
	size_t skip;
	/* cols 1 and 2 with wide characters: one character per line, never an empty line */
	assert_string_equal(wrapped("あいう", 1), "あ|い|う");
	assert_string_equal(wrapped("あいう", 2), "あ|い|う");
	assert_string_equal(wrapped("あ。い", 2), "あ|。|い");
	assert_string_equal(wrapped("あ。い", 1), "あ|。|い");
	assert_string_equal(wrapped("「あ", 2), "「|あ");
	assert_string_equal(wrapped("aあb", 1), "a|あ|b");
	assert_string_equal(wrapped("あ い", 1), "あ|い");
	assert_int_equal(ui_wrap_line("あ", 3, 0, &skip), 3); /* cols 0 counts as 1 */
	assert_int_equal(skip, 0);
	/* a combining mark stays with its base: e + U+0301, か + U+3099 */
	assert_string_equal(wrapped("abe\xcc\x81", 2), "ab|e\xcc\x81");
	assert_string_equal(wrapped("abcde\xcc\x81"
	                            "f",
	                            5),
	                    "abcde\xcc\x81|f");
	assert_string_equal(wrapped("あか\xe3\x82\x99い", 2), "あ|か\xe3\x82\x99|い");
	assert_string_equal(wrapped("あいか\xe3\x82\x99", 4), "あい|か\xe3\x82\x99");
	/* invalid bytes: one column each, no loop */
	assert_string_equal(wrapped("\xff\xfe\xfd", 2), "\xff\xfe|\xfd");
	/* indentation is kept; indentation wider than the line */
	assert_string_equal(wrapped("  indented text", 10), "  indented|text");
	assert_string_equal(wrapped("     ab", 3), "   |ab");
	/* empty input, only '\n', trailing spaces */
	assert_int_equal(ui_wrap_line("", 0, 10, &skip), 0);
	assert_int_equal(skip, 0);
	assert_int_equal(ui_wrap_line("\n", 1, 10, &skip), 0);
	assert_int_equal(skip, 1);
	assert_string_equal(wrapped("abc   ", 3), "abc");
	/* never starts a continuation line with a space */
	assert_string_equal(wrapped("あいう えお", 6), "あいう|えお");
}

static void test_wrap_real_texts(void **state)
{
	(void)state;
	static const size_t widths[] = {76, 40, 10};
	for (size_t i = 0; i < sizeof real_texts / sizeof real_texts[0]; i++) {
		for (size_t w = 0; w < sizeof widths / sizeof widths[0]; w++) {
			check_contract(real_texts[i], strlen(real_texts[i]), widths[w]);
			check_kinsoku(real_texts[i], widths[w]);
		}
		for (size_t c = 8; c <= 80; c++)
			check_kinsoku(real_texts[i], c);
	}
}

static void test_wrap_properties(void **state)
{
	(void)state;
	static const char *const more[] = {
	    "",
	    " ",
	    "\n",
	    "a",
	    "あ",
	    "  \n  ",
	    "a b\nc d\n\n",
	    "。",
	    "「",
	    "」」」」」」」」」」",
	    "「「「「「「",
	    "ああああああああああああああああああああ",
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	    "e\xcc\x81\xcc\x81\xcc\x81 x",
	    "\xcc\x81\xcc\x81",
	    "\xff\xfe\xe3\x81",
	    "https://a/b/c/d-e-f/ghi",
	    "       ",
	    "あ\n\nい",
	    "a  \n  b",
	    "ー",
	    "ーーーー",
	    "ッッッッ",
	    "――――",
	    "（（（（））））",
	};
	for (size_t c = 0; c <= 90; c++) {
		for (size_t i = 0; i < sizeof real_texts / sizeof real_texts[0]; i++)
			check_contract(real_texts[i], strlen(real_texts[i]), c);
		for (size_t i = 0; i < sizeof more / sizeof more[0]; i++)
			check_contract(more[i], strlen(more[i]), c);
	}
}

/* Random strings from pieces that matter to line breaking, at widths 1..24. */
static void test_wrap_fuzz(void **state)
{
	(void)state;
	static const char *const pieces[] = {
	    "あ",        "漢",       "。",   "、",       "」", "「", "（", "）", "ー", "っ", "ッ", "％",
	    "a",         "Z",        "9",    "-",        "/",  ".",  ",",  "(",  ")",  " ",  "  ", "\n",
	    "e\xcc\x81", "\xcc\x81", "\xff", "\xe3\x81", "ｱ",  "ｰ",  "↑",  "―",  "…",  "é",  "\t",
	};
	uint32_t seed = 12345;
	char buf[512];
	for (int round = 0; round < 3000; round++) {
		size_t n = 0;
		seed = seed * 1103515245u + 12345u;
		size_t count = (seed >> 16) % 40;
		for (size_t k = 0; k < count; k++) {
			seed = seed * 1103515245u + 12345u;
			const char *p = pieces[(seed >> 16) % (sizeof pieces / sizeof pieces[0])];
			memcpy(buf + n, p, strlen(p));
			n += strlen(p);
		}
		buf[n] = '\0';
		seed = seed * 1103515245u + 12345u;
		size_t cols = 1 + (seed >> 16) % 24;
		check_contract(buf, n, cols);
	}
}

/* ---- editing model ---- */

static void test_edit_japanese(void **state)
{
	(void)state;
	struct secret t = SECRET_INIT;
	struct ui_edit e = {0};
	assert_int_equal(ui_edit_insert(&e, &t, "ひまわり証券", strlen("ひまわり証券")), 6);
	assert_string_equal(t.buf, "ひまわり証券");
	assert_int_equal(e.cur, t.len);
	assert_true(ui_edit_apply(&e, &t, UI_EDIT_LEFT));
	assert_true(ui_edit_apply(&e, &t, UI_EDIT_LEFT));
	assert_int_equal(e.cur, 12); /* before 証 */
	assert_true(ui_edit_apply(&e, &t, UI_EDIT_BACKSPACE));
	assert_string_equal(t.buf, "ひまわ証券");
	assert_true(ui_edit_apply(&e, &t, UI_EDIT_DELETE));
	assert_string_equal(t.buf, "ひまわ券");
	ui_edit_insert(&e, &t, "x", 1);
	assert_string_equal(t.buf, "ひまわx券");
	assert_true(ui_edit_apply(&e, &t, UI_EDIT_HOME));
	assert_int_equal(e.cur, 0);
	assert_false(ui_edit_apply(&e, &t, UI_EDIT_LEFT));
	assert_false(ui_edit_apply(&e, &t, UI_EDIT_BACKSPACE));
	assert_true(ui_edit_apply(&e, &t, UI_EDIT_END));
	assert_int_equal(e.cur, t.len);
	assert_false(ui_edit_apply(&e, &t, UI_EDIT_DELETE));
	/* Ctrl-K / Ctrl-U */
	e.cur = 6; /* after ひま */
	assert_true(ui_edit_apply(&e, &t, UI_EDIT_KILL_EOL));
	assert_string_equal(t.buf, "ひま");
	assert_true(ui_edit_apply(&e, &t, UI_EDIT_KILL_BOL));
	assert_int_equal(t.len, 0);
	assert_int_equal(e.cur, 0);
	secret_free(&t);
}

static void test_edit_flags(void **state)
{
	(void)state;
	struct secret t = SECRET_INIT;
	struct ui_edit e = {.flags = UI_EDIT_DIGITS, .maxchars = 4};
	assert_int_equal(ui_edit_insert(&e, &t, "1a2b３3456", strlen("1a2b３3456")), 4);
	assert_string_equal(t.buf, "1234");
	secret_free(&t);
	struct ui_edit u = {.flags = UI_EDIT_UPPER};
	ui_edit_insert(&u, &t, "wdjb-mjht", 9);
	assert_string_equal(t.buf, "WDJB-MJHT");
	/* control characters and invalid bytes are dropped */
	secret_clear(&t);
	u.cur = 0;
	ui_edit_insert(&u, &t, "a\x01\x1b\xff" "b", 5);
	assert_string_equal(t.buf, "AB");
	secret_free(&t);
	/* the cursor snaps onto a boundary if set inside a character */
	struct ui_edit v = {0};
	ui_edit_insert(&v, &t, "連携", strlen("連携"));
	v.cur = 4;
	ui_edit_sync(&v, &t);
	assert_int_equal(v.cur, 3);
	secret_free(&t);
}

static void test_edit_scroll(void **state)
{
	(void)state;
	struct secret t = SECRET_INIT;
	struct ui_edit e = {0};
	const char *s = "あいうえおかきくけこ"; /* 20 columns */
	ui_edit_insert(&e, &t, s, strlen(s));
	size_t start, len, cc;
	ui_edit_view(&e, &t, 10, &start, &len, &cc);
	/* cursor at the end: the last 4 characters (8 columns) + the cursor cell fit in 10 */
	assert_true(cc < 10);
	assert_int_equal(ui_width_n(t.buf + start, len) + 0 <= 10, 1);
	assert_int_equal(start + len, t.len);
	assert_int_equal(start % 3, 0);
	/* home: the start is visible again */
	ui_edit_apply(&e, &t, UI_EDIT_HOME);
	ui_edit_view(&e, &t, 10, &start, &len, &cc);
	assert_int_equal(start, 0);
	assert_int_equal(cc, 0);
	assert_int_equal(len, 15); /* 5 wide characters = 10 columns */
	/* odd width: a wide character is never cut at either edge */
	ui_edit_apply(&e, &t, UI_EDIT_END);
	ui_edit_view(&e, &t, 7, &start, &len, &cc);
	assert_int_equal(start % 3, 0);
	assert_int_equal(len % 3, 0);
	assert_true(ui_width_n(t.buf + start, len) <= 7);
	assert_true(cc < 7);
	/* masked: counts characters */
	struct ui_edit m = {.flags = UI_EDIT_MASKED};
	struct secret p = SECRET_INIT;
	ui_edit_insert(&m, &p, "123456789", 9);
	ui_edit_view(&m, &p, 5, &start, &len, &cc);
	assert_int_equal(start, 5);
	assert_int_equal(len, 4);
	assert_int_equal(cc, 4);
	secret_free(&p);
	secret_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ascii),
	    cmocka_unit_test(test_japanese),
	    cmocka_unit_test(test_combining),
	    cmocka_unit_test(test_ambiguous),
	    cmocka_unit_test(test_fit_never_splits),
	    cmocka_unit_test(test_invalid_utf8),
	    cmocka_unit_test(test_wrap),
	    cmocka_unit_test(test_wrap_line_start),
	    cmocka_unit_test(test_wrap_kinsoku_sets),
	    cmocka_unit_test(test_wrap_line_end),
	    cmocka_unit_test(test_wrap_closing_run),
	    cmocka_unit_test(test_wrap_latin_runs),
	    cmocka_unit_test(test_wrap_english),
	    cmocka_unit_test(test_wrap_edges),
	    cmocka_unit_test(test_wrap_real_texts),
	    cmocka_unit_test(test_wrap_properties),
	    cmocka_unit_test(test_wrap_fuzz),
	    cmocka_unit_test(test_edit_japanese),
	    cmocka_unit_test(test_edit_flags),
	    cmocka_unit_test(test_edit_scroll),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
