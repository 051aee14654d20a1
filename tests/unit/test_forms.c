/* test_forms.c: the forms loader (good forms, every kind of error, overrides), the msgid list
 * against what xgettext extracts from the forms directory, and the screen runner driven headless. */
#include <curses.h>
#include <limits.h>
#include <locale.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "embedded.h"
#include "forms.h"
#include "i18n.h"
#include "ui.h"

static char srcdir[PATH_MAX];

/* The source tree: $RENKEI_SRCDIR, else the first parent of the test binary holding forms/ and a
 * Makefile (build/tests/test_forms -> .), else the current directory. */
static void find_srcdir(void)
{
	const char *e = getenv("RENKEI_SRCDIR");
	if (e && *e) {
		snprintf(srcdir, sizeof srcdir, "%s", e);
		return;
	}
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n > 0) {
		exe[n] = '\0';
		char *slash;
		while ((slash = strrchr(exe, '/')) && slash != exe) {
			*slash = '\0';
			char probe[PATH_MAX + 32];
			snprintf(probe, sizeof probe, "%s/forms/login_password.form", exe);
			if (access(probe, R_OK) == 0) {
				snprintf(srcdir, sizeof srcdir, "%s", exe);
				return;
			}
		}
	}
	snprintf(srcdir, sizeof srcdir, ".");
}

/* ---- string sets ---- */
struct set {
	char **v;
	size_t n, cap;
};

static void set_add(struct set *s, const char *str)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->v[i], str))
			return;
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 64;
		s->v = realloc(s->v, s->cap * sizeof *s->v);
		assert_non_null(s->v);
	}
	s->v[s->n++] = strdup(str);
}

static bool set_has(const struct set *s, const char *str)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->v[i], str))
			return true;
	return false;
}

static void set_free(struct set *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	memset(s, 0, sizeof *s);
}

static void collect(const char *msgid, void *ctx)
{
	set_add(ctx, msgid);
}

/* ---- good forms ---- */

static void test_all_embedded_forms_load(void **state)
{
	(void)state;
	size_t count = 0;
	for (const struct embedded_file *e = embedded_forms; e->name; e++, count++) {
		char err[512], name[128];
		snprintf(name, sizeof name, "%.*s", (int)(strlen(e->name) - 5), e->name);
		struct form *f = form_load(name, NULL, err, sizeof err);
		if (!f)
			fail_msg("%s: %s", e->name, err);
		assert_string_equal(f->name, name);
		assert_non_null(f->title);
		form_free(f);
	}
	assert_true(count >= 13);
	static const char *const needed[] = {"code", "partner", "login_password", "login_certificate",
					     "question", "scopes", "pins", "pin_result", "permission",
					     "done", "cancelled", "locked", "error"};
	for (size_t i = 0; i < sizeof needed / sizeof needed[0]; i++) {
		char err[256];
		struct form *f = form_load(needed[i], NULL, err, sizeof err);
		if (!f)
			fail_msg("%s: %s", needed[i], err);
		form_free(f);
	}
}

static void test_login_form_shape(void **state)
{
	(void)state;
	char err[256];
	struct form *f = form_load("login_password", NULL, err, sizeof err);
	assert_non_null(f);
	assert_string_equal(f->title, "API連携認証（利用登録）");
	assert_string_equal(f->main, "login");
	const struct form_item *id = form_find(f, "login_id");
	const struct form_item *pw = form_find(f, "password");
	const struct form_item *bt = form_find(f, "login");
	assert_non_null(id);
	assert_non_null(pw);
	assert_non_null(bt);
	assert_int_equal(id->kind, FORM_TEXT);
	assert_string_equal(id->label, "ログインID");
	assert_string_equal(id->bind, "login_id");
	assert_int_equal(pw->kind, FORM_MASKED);
	assert_true(pw->flags & FORM_F_MASKED);
	assert_string_equal(pw->label, "ログインパスワード");
	assert_int_equal(bt->kind, FORM_BUTTON);
	assert_string_equal(bt->label, "API連携");
	form_free(f);

	f = form_load("pins", NULL, err, sizeof err);
	assert_non_null(f);
	const struct form_item *t = form_find(f, "accounts");
	assert_non_null(t);
	assert_int_equal(t->kind, FORM_TABLE);
	assert_int_equal(t->ncols, 5);
	assert_int_equal(t->cols[0].kind, FORM_CHECKBOX);
	assert_string_equal(t->cols[4].label, "照会用暗証番号");
	assert_int_equal(t->cols[4].kind, FORM_MASKED);
	assert_true(t->cols[4].flags & FORM_F_DIGITS);
	assert_int_equal(t->height, -1);
	form_free(f);
}

/* The product's words from design/screens.md must be among the msgids. */
static void test_screens_md_words(void **state)
{
	(void)state;
	struct set s = {0};
	char err[256];
	assert_int_equal(forms_each_msgid(NULL, collect, &s, err, sizeof err), 0);
	static const char *const words[] = {
		"API連携認証（利用登録）", "ログインID", "ログインパスワード", "API連携", "電子証明書ログイン",
		"API連携認証（追加認証）（利用登録）",
		"業務に対する回答を入力の上、「認証」ボタンを押してください。", "※は必須入力項目です。",
		"追加認証", "質問", "回答", "認証", "API連携認証（認可業務選択）（利用登録）",
		"{partner}にてご利用の対象業務を選択の上、「次へ」ボタンを押してください。", "認可対象",
		/* 残高照会, 入金出金照会: the server's scope names now (src/app.c scope_words) */ "次へ", "API連携認証（照会用暗証番号登録）（利用登録）",
		"API連携を行う場合は、現在の照会用暗証番号の登録が必要です。",
		"口座を選択し、現在の照会用暗証番号を入力の上、「登録」ボタンを押してください。", "口座一覧",
		"選択", "登録状態", "照会用口座", "口座メモ", "照会用暗証番号",
		"※登録状態欄に*が表示されている口座の暗証番号は、認可完了後に有効となります。",
		"※登録した照会用暗証番号は、API連携にのみ使用されます。", "登録",
		"API連携認証（照会用暗証番号登録結果）", "登録状況", "照会用暗証番号の追加登録", "確認",
		"API連携認証（情報アクセス許可）（利用登録）", "※認可対象", "※認可期間", "※意思確認",
		"許可手続きを継続する", "戻る", "許可",
		"以下の認可対象・認可期間を確認の上、「許可」ボタンをクリックしてください。",
		"照会用暗証番号(仮)", "電子証明書方式", "ID・パスワード方式",
	};
	for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
		if (!set_has(&s, words[i]))
			fail_msg("missing msgid: %s", words[i]);
	set_free(&s);
}

/* ---- msgids == xgettext ---- */

static char *unescape_po(const char *q)
{
	/* q points at the opening quote of a PO string */
	size_t n = strlen(q);
	char *o = malloc(n + 1), *p = o;
	for (size_t i = 1; i < n && q[i] != '"'; i++) {
		if (q[i] == '\\' && i + 1 < n) {
			i++;
			*p++ = q[i] == 'n' ? '\n' : q[i] == 't' ? '\t' : q[i];
		} else {
			*p++ = q[i];
		}
	}
	*p = '\0';
	return o;
}

static void test_msgids_equal_xgettext(void **state)
{
	(void)state;
	char cmd[PATH_MAX * 2];
	snprintf(cmd, sizeof cmd,
		 "cd '%s' && xgettext --from-code=UTF-8 -L C -k_ -kN_ --no-wrap -o - forms/*.form", srcdir);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	struct set xg = {0};
	char line[8192];
	char acc[16384];
	bool in_msgid = false;
	acc[0] = '\0';
	while (fgets(line, sizeof line, p)) {
		line[strcspn(line, "\n")] = '\0';
		if (!strncmp(line, "msgid \"", 7)) {
			char *u = unescape_po(line + 6);
			snprintf(acc, sizeof acc, "%s", u);
			free(u);
			in_msgid = true;
		} else if (in_msgid && line[0] == '"') {
			char *u = unescape_po(line);
			strncat(acc, u, sizeof acc - strlen(acc) - 1);
			free(u);
		} else {
			if (in_msgid && acc[0])
				set_add(&xg, acc);
			in_msgid = false;
		}
	}
	int rc = pclose(p);
	assert_int_equal(rc, 0);
	assert_true(xg.n > 50);

	struct set ld = {0};
	char err[256];
	/* the source directory (what xgettext read) and the embedded copies must agree */
	char dir[PATH_MAX + 8];
	snprintf(dir, sizeof dir, "%s/forms", srcdir);
	if (forms_each_msgid(dir, collect, &ld, err, sizeof err) != 0)
		fail_msg("%s", err);
	struct set emb = {0};
	assert_int_equal(forms_each_msgid(NULL, collect, &emb, err, sizeof err), 0);
	for (size_t i = 0; i < xg.n; i++)
		if (!set_has(&ld, xg.v[i]))
			fail_msg("xgettext extracted a string the loader does not use: %s", xg.v[i]);
	for (size_t i = 0; i < ld.n; i++)
		if (!set_has(&xg, ld.v[i]))
			fail_msg("the loader uses a string xgettext does not extract: %s", ld.v[i]);
	assert_int_equal(emb.n, ld.n);
	for (size_t i = 0; i < emb.n; i++)
		assert_true(set_has(&ld, emb.v[i]));
	set_free(&xg);
	set_free(&ld);
	set_free(&emb);
}

/* ---- errors ---- */

struct bad {
	const char *text;
	const char *error; /* expected error message (exact) */
};

#define HDR "title = _(\"T\")\n"
static const struct bad bads[] = {
	{"[text a]\nlabel = _(\"L\")\nbind = \"x\"\n", "t.form:1: the form needs title = _(\"...\") before its first [section]"},
	{HDR "[widget]\n", "t.form:2: unknown section [widget] (known: label section text masked digits checkbox table column button textblock)"},
	{HDR "[text a]\nlabel = _(\"L\")\n", "t.form:2: [text] needs bind = \"...\""},
	{HDR "[text a]\nbind = \"x\"\n", "t.form:2: [text] needs label = _(\"...\")"},
	{HDR "[text a]\nlabel = \"L\"\nbind = \"x\"\n", "t.form:3: label must be translatable: label = _(\"...\")"},
	{HDR "[text a]\nlabel = _(\"L\")\nbind = _(\"x\")\n", "t.form:4: bind is not translatable: write bind = \"...\""},
	{HDR "[text a]\nlabel = _(\"L\")\nbind = x\n", "t.form:4: expected a double-quoted value"},
	{HDR "[text a]\nlabel = _(\"L)\n", "t.form:3: unterminated string"},
	{HDR "[text a]\nlabel = _(\"L\"\n", "t.form:3: _(\"...\") not closed by ')'"},
	{HDR "[text a]\nlabel = _(\"L\") # note\n", "t.form:3: text after the value (comments go on their own line)"},
	{HDR "[text a]\ncolour = \"red\"\n", "t.form:3: unknown key \"colour\""},
	{HDR "[text a]\nheight = \"3\"\n", "t.form:3: key \"height\" is not allowed in text"},
	{HDR "[text a]\nlabel = _(\"L\")\nlabel = _(\"M\")\n", "t.form:4: key \"label\" given twice"},
	{HDR "[text a]\nlabel = _(\"L\")\nbind = \"x\"\nwidth = \"wide\"\n", "t.form:5: width: expected a number from 1 to 200, got \"wide\""},
	{HDR "[text a]\nlabel = _(\"L\")\nbind = \"x\"\nflags = \"sparkly\"\n", "t.form:5: flags: unknown flag \"sparkly\" (known: required digits masked upper validate bold cancel plain)"},
	{HDR "[button ok]\nlabel = _(\"OK\")\n[button ok]\nlabel = _(\"OK\")\n", "t.form:4: duplicate id \"ok\" (first on line 2)"},
	{HDR "[button]\n", "t.form:2: [button] needs an id: [button NAME]"},
	{HDR "main = \"go\"\n[button ok]\nlabel = _(\"OK\")\n", "t.form:1: main = \"go\": no [button go] in this form"},
	{HDR "[column]\n", "t.form:2: [column] must follow a [table] (or another [column] of it)"},
	{HDR "[table t]\nbind = \"t\"\n", "t.form:2: [table] has no [column]"},
	{HDR "[table t]\nbind = \"t\"\n[column]\nlabel = _(\"C\")\n", "t.form:4: [column] needs bind = \"...\""},
	{HDR "[table t]\nbind = \"t\"\n[column]\nlabel = _(\"C\")\nbind = \"c\"\nkind = \"button\"\n", "t.form:7: column kind \"button\": use label, checkbox, text, masked or digits"},
	{HDR "[label]\ntext = _(\"\\q\")\n", "t.form:3: unknown escape \\q (use \\\" \\\\ \\n \\t)"},
	{HDR "[label]\ntext = _(\"\xff\")\n", "t.form:3: string is not valid UTF-8"},
	{HDR "[label]\ntext = _(\"\")\n", "t.form:3: text: empty msgid"},
	{HDR "just words\n", "t.form:2: expected key = \"value\", [section], or a comment line (# or //)"},
	{HDR "[text a] // c\n", "t.form:2: text after ']' (comments go on their own line)"},
	{HDR "[button b]\nlabel = _(\"B\")\nrefused = _(\"R\")\n", "t.form:2: refused needs enabled_if"},
	{HDR "[textblock a]\nbind = \"a\"\nheight = \"*\"\n[textblock b]\nbind = \"b\"\nheight = \"*\"\n", "t.form:5: only one item may have height = \"*\""},
	{HDR "[label]\n", "t.form:2: [label] needs text = _(\"...\") or bind = \"...\""},
	{HDR "[text bad/id]\n", "t.form:2: id \"bad/id\": use letters, digits, '_', '-', '.'"},
};

static void test_errors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof bads / sizeof bads[0]; i++) {
		char err[512] = "";
		struct form *f = form_parse("t.form", bads[i].text, strlen(bads[i].text), err, sizeof err);
		if (f) {
			form_free(f);
			fail_msg("case %zu parsed but should fail: %s", i, bads[i].text);
		}
		if (strcmp(err, bads[i].error) != 0)
			fail_msg("case %zu:\n  got:  %s\n  want: %s", i, err, bads[i].error);
	}
	/* a NUL byte, CRLF lines, comments, BOM */
	char nul[] = "title = _(\"T\")\n\0\n";
	char err[256];
	assert_null(form_parse("n.form", nul, sizeof nul - 1, err, sizeof err));
	assert_string_equal(err, "n.form:2: NUL byte in the file");
	const char *ok = "\xef\xbb\xbf// c\r\n# c\r\ntitle = _(\"T\")\r\n\r\n  [button b]  \r\nlabel = _(\"B \\\"x\\\"\")\r\n";
	struct form *f = form_parse("ok.form", ok, strlen(ok), err, sizeof err);
	if (!f)
		fail_msg("%s", err);
	assert_string_equal(f->items[0].label, "B \"x\"");
	form_free(f);
}

/* ---- overrides ---- */

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_dir_override(void **state)
{
	(void)state;
	char dir[] = "/tmp/renkei-forms-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[256];
	snprintf(path, sizeof path, "%s/done.form", dir);
	write_file(path, "title = _(\"Bank title\")\n[label]\ntext = _(\"Thanks\")\n");
	char err[512];
	/* explicit dir */
	struct form *f = form_load("done", dir, err, sizeof err);
	assert_non_null(f);
	assert_string_equal(f->title, "Bank title");
	form_free(f);
	/* explicit dir without that form: the built-in one (a bank's directory holds what it changed) */
	f = form_load("code", dir, err, sizeof err);
	assert_non_null(f);
	assert_string_equal(f->file, "embedded:code.form");
	form_free(f);
	/* the whole set from that directory: done from it, the rest built in */
	struct form_set *fs = form_set_load(dir, err, sizeof err);
	assert_non_null(fs);
	assert_string_equal(form_set_get(fs, "done")->title, "Bank title");
	assert_string_equal(form_set_get(fs, "code")->file, "embedded:code.form");
	assert_null(form_set_get(fs, "nosuch"));
	form_set_free(fs);
	/* env: override where present, embedded otherwise */
	setenv("RENKEI_FORMS_DIR", dir, 1);
	f = form_load("done", NULL, err, sizeof err);
	assert_non_null(f);
	assert_string_equal(f->title, "Bank title");
	form_free(f);
	f = form_load("code", NULL, err, sizeof err);
	assert_non_null(f);
	assert_string_equal(f->file, "embedded:code.form");
	form_free(f);
	/* a broken override: file:line error, nothing loaded */
	write_file(path, "title = _(\"T\")\n[label]\ntext = \"not translatable\"\n");
	assert_null(form_load("done", NULL, err, sizeof err));
	char want[512];
	snprintf(want, sizeof want, "%s:3: text must be translatable: text = _(\"...\")", path);
	assert_string_equal(err, want);
	unsetenv("RENKEI_FORMS_DIR");
	/* names cannot escape the directory */
	assert_null(form_load("../etc/passwd", NULL, err, sizeof err));
	assert_null(form_load("nosuch", NULL, err, sizeof err));
	assert_string_equal(err, "no form named \"nosuch\"");
	unlink(path);
	rmdir(dir);
}

/* ---- the runner, headless ---- */

static int ui_setup(void **state)
{
	(void)state;
	if (ui_init_headless(80, 24, UI_INIT_NO_COLOR) != 0)
		return -1;
	return 0;
}

static int ui_teardown(void **state)
{
	(void)state;
	ui_end();
	ui_end();
	return 0;
}

static void test_runner_login(void **state)
{
	(void)state;
	char err[256], screen[8192];
	struct form *f = form_load("login_password", NULL, err, sizeof err);
	assert_non_null(f);
	struct secret id = SECRET_INIT, pw = SECRET_INIT;
	const char *partner = "デモ家計簿株式会社";
	const struct ui_binding b[] = {UI_STR("partner", &partner), UI_SECRET("login_id", &id),
				       UI_SECRET("password", &pw)};
	struct ui_screen *s = ui_screen_new(f, b, 3);
	assert_non_null(s);
	struct ui_action a;

	/* Enter in the first field moves on; Enter in the last field presses the main button, which
	 * validates: the password is required */
	ui_feed_text("yamada01\r\r");
	ui_screen_run(s, &a);
	assert_int_equal(a.kind, UI_ACT_EOF);
	ui_dump(screen, sizeof screen);
	assert_non_null(strstr(screen, "「ログインパスワード」を入力してください。"));
	assert_non_null(strstr(screen, "連携先：デモ家計簿株式会社"));
	assert_non_null(strstr(screen, "yamada01"));

	ui_feed_text("Sakura-2026\r");
	assert_int_equal(ui_screen_run(s, &a), 0);
	assert_int_equal(a.kind, UI_ACT_BUTTON);
	assert_string_equal(a.button, "login");
	assert_string_equal(id.buf, "yamada01");
	assert_string_equal(pw.buf, "Sakura-2026");
	ui_dump(screen, sizeof screen);
	assert_null(strstr(screen, "Sakura")); /* masked */
	assert_non_null(strstr(screen, "●●●●●●●●●●●"));

	/* an error from the caller; everything typed is kept; editing goes on in the password */
	ui_screen_set_error(s, "ログインIDまたはログインパスワードが正しくありません。");
	ui_feed_fkey(KEY_BACKSPACE);
	ui_feed_text("7");
	ui_screen_run(s, &a);
	ui_dump(screen, sizeof screen);
	assert_non_null(strstr(screen, "正しくありません"));
	assert_string_equal(pw.buf, "Sakura-2027");
	int row, col;
	ui_cursor(&row, &col);
	assert_int_equal(row, 7); /* the password line */

	/* Shift-Tab back to the ID, Japanese in the middle, Home, Ctrl-K */
	ui_feed_fkey(KEY_BTAB);
	ui_feed_fkey(KEY_LEFT);
	ui_feed_fkey(KEY_LEFT);
	ui_feed_text("ひまわり");
	ui_screen_run(s, &a);
	assert_string_equal(id.buf, "yamada" "ひまわり" "01");
	ui_feed_text("\x01\x0b"); /* Ctrl-A Ctrl-K */
	ui_screen_run(s, &a);
	assert_int_equal(id.len, 0);

	/* Esc = back */
	ui_feed_text("\x1b");
	ui_screen_run(s, &a);
	assert_int_equal(a.kind, UI_ACT_BACK);

	/* resize below 80x24: the enlarge screen; back: intact */
	resizeterm(20, 60);
	ui_feed_fkey(KEY_RESIZE);
	ui_feed_text("zz"); /* ignored while too small */
	ui_screen_run(s, &a);
	ui_dump(screen, sizeof screen);
	assert_non_null(strstr(screen, "80x24"));
	assert_non_null(strstr(screen, "60x20"));
	resizeterm(24, 80);
	ui_feed_fkey(KEY_RESIZE);
	ui_screen_run(s, &a);
	ui_dump(screen, sizeof screen);
	assert_non_null(strstr(screen, "ログインパスワード"));
	assert_string_equal(pw.buf, "Sakura-2027");

	ui_screen_free(s);
	form_free(f);
	secret_free(&id);
	secret_free(&pw);
}

static void test_runner_table_and_checkbox(void **state)
{
	(void)state;
	char err[256], screen[8192];
	struct form *f = form_load("pins", NULL, err, sizeof err);
	assert_non_null(f);
	bool sel[2] = {false, true};
	struct secret pin[2] = {SECRET_INIT, SECRET_INIT};
	const char *st = "未登録", *ac[2] = {"インターネット支店(001) 普通 2000002", "豊洲支店(454) 普通 1000014"};
	const char *memo = "-";
	struct ui_binding cells[2][5];
	struct ui_row rows[2];
	for (int r = 0; r < 2; r++) {
		struct ui_binding c[5] = {UI_BOOL("selected", &sel[r]), UI_STR("status", &st), UI_STR("account", &ac[r]),
					  UI_STR("memo", &memo), UI_SECRET("pin", &pin[r])};
		memcpy(cells[r], c, sizeof c);
		rows[r] = (struct ui_row){cells[r], 5, false};
	}
	struct ui_table t = {.rows = rows, .nrows = 2};
	const char *partner = "P";
	const struct ui_binding b[] = {UI_STR("partner", &partner), UI_TABLE("accounts", &t)};
	struct ui_screen *s = ui_screen_new(f, b, 2);
	/* first focus: row 0's PIN; Shift-Tab to its box, Space ticks it, Tab back to the PIN,
	 * letters refused, digits masked; Enter goes to the next row's PIN, then presses 登録 */
	ui_feed_fkey(KEY_BTAB);
	ui_feed_text(" \t12a34\r");
	ui_feed_text("5678\r");
	struct ui_action a;
	ui_screen_run(s, &a);
	assert_int_equal(a.kind, UI_ACT_BUTTON);
	assert_string_equal(a.button, "register");
	assert_true(sel[0]);
	assert_string_equal(pin[0].buf, "1234");
	assert_string_equal(pin[1].buf, "5678");
	ui_dump(screen, sizeof screen);
	assert_non_null(strstr(screen, "インターネット支店(001) 普通 2000002"));
	assert_null(strstr(screen, "1234"));
	ui_screen_free(s);
	form_free(f);
	secret_free(&pin[0]);
	secret_free(&pin[1]);
}

static void test_runner_refused_button(void **state)
{
	(void)state;
	char err[256], screen[8192];
	struct form *f = form_load("permission", NULL, err, sizeof err);
	assert_non_null(f);
	bool cont = false, read = false;
	const char *p = "P", *terms = "t1\nt2\nt3\nt4\nt5\nt6\nt7\nt8\nt9\nt10\nt11\nt12\nt13\nt14\nt15";
	const struct ui_binding b[] = {UI_STR("partner", &p), UI_STR("terms", &terms), UI_BOOL("continue", &cont),
				       UI_BOOL("terms_read", &read)};
	struct ui_screen *s = ui_screen_new(f, b, 4);
	assert_int_equal(ui_screen_focus(s, "allow", 0), 0);
	ui_feed_text("\r");
	struct ui_action a;
	ui_screen_run(s, &a);
	assert_int_equal(a.kind, UI_ACT_EOF);
	ui_dump(screen, sizeof screen);
	assert_non_null(strstr(screen, "「許可手続きを継続する」にチェックを入れてから"));
	/* the checkbox cannot be ticked while the terms were not shown to their end */
	ui_feed_fkey(KEY_BTAB);
	ui_feed_fkey(KEY_BTAB);
	ui_feed_text(" ");
	ui_screen_run(s, &a);
	assert_false(cont);
	assert_false(read);
	ui_dump(screen, sizeof screen);
	assert_non_null(strstr(screen, "意思確認を最後までお読みになってから"));
	/* back to the terms, Space pages them to their end, then the checkbox takes the tick */
	ui_feed_fkey(KEY_BTAB);
	for (int i = 0; i < 10; i++)
		ui_feed_fkey(KEY_NPAGE);
	ui_screen_run(s, &a);
	assert_true(read);
	ui_feed_text("\t ");
	ui_feed_fkey(KEY_DOWN);
	ui_feed_fkey(KEY_DOWN);
	ui_feed_text("\r");
	ui_screen_run(s, &a);
	assert_true(cont);
	assert_int_equal(a.kind, UI_ACT_BUTTON);
	assert_string_equal(a.button, "allow");
	ui_screen_free(s);
	form_free(f);
}

int main(void)
{
	setlocale(LC_ALL, "C.UTF-8");
	setenv("LANGUAGE", "ja", 1);
	unsetenv("RENKEI_FORMS_DIR");
	find_srcdir();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_all_embedded_forms_load),
		cmocka_unit_test(test_login_form_shape),
		cmocka_unit_test(test_screens_md_words),
		cmocka_unit_test(test_msgids_equal_xgettext),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_dir_override),
		cmocka_unit_test_setup_teardown(test_runner_login, ui_setup, ui_teardown),
		cmocka_unit_test_setup_teardown(test_runner_table_and_checkbox, ui_setup, ui_teardown),
		cmocka_unit_test_setup_teardown(test_runner_refused_button, ui_setup, ui_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
