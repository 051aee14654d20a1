/* test_width.c: the display-width function, wrapping and the text-field editing model (ui_text.h). */
#include <locale.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

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
		cmocka_unit_test(test_edit_japanese),
		cmocka_unit_test(test_edit_flags),
		cmocka_unit_test(test_edit_scroll),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
