/* ui_demo.c: look at the forms in a real terminal without a server (make build/ui-demo).
 *   build/ui-demo [FORM]     one form (default login_password); Esc asks to cancel
 *   build/ui-demo --all      every form in flow order; any button goes on to the next
 * The last action of each screen is appended to $UI_DEMO_LOG when set (for tmux-driven checks),
 * with the text of the bound fields (this is a demo: never do that with real secrets). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forms.h"
#include "i18n.h"
#include "secret.h"
#include "ui.h"

static const char *partner = "デモ家計簿株式会社";
static const char *question = "証券名を入力してください";
static const char *certificate = "";
static const char *scopes = "残高照会、入金出金照会";
static const char *accounts_text = "インターネット支店(001) 普通 2000002\nインターネット支店(001) 普通 1111111\n豊洲支店(454) 普通 1000014";
static const char *period = "2026年1月10日 ～ 2027年1月10日";
static const char *message = "サーバーに接続できませんでした。ネットワークを確認して「再試行」を押してください。";
static const char *pin_results = "";
static char terms[8192];

static struct secret user_code, login_id, password, answer;
static bool balance = true, transactions = true, cont;

#define NROWS 3
static bool sel[NROWS] = {true, true, false};
static const char *status[NROWS] = {"未登録", "未登録", "登録済み"};
static const char *acct[NROWS] = {"インターネット支店(001) 普通 2000002", "インターネット支店(001) 普通 1111111",
				  "豊洲支店(454) 普通 1000014"};
static const char *memo[NROWS] = {"生活費", "-", "給与"};
static const char *pinshow[NROWS] = {"●●●●", "●●●●", "-"};
static struct secret pin[NROWS];
static struct ui_binding rowb[NROWS][6];
static struct ui_row rows[NROWS];
static struct ui_table table = {.rows = rows, .nrows = NROWS};

static void log_action(const char *form, const struct ui_action *a)
{
	const char *p = getenv("UI_DEMO_LOG");
	if (!p)
		return;
	FILE *f = fopen(p, "a");
	if (!f)
		return;
	static const char *const kinds[] = {"button", "back", "help", "timeout", "eof", "quit"};
	fprintf(f, "%s %s %s login_id=%s password=%s code=%s answer=%s pin0=%s pin1=%s balance=%d continue=%d\n",
		form, kinds[a->kind], a->button ? a->button : "-", login_id.buf ? login_id.buf : "",
		password.buf ? password.buf : "", user_code.buf ? user_code.buf : "", answer.buf ? answer.buf : "",
		pin[0].buf ? pin[0].buf : "", pin[1].buf ? pin[1].buf : "", balance, cont);
	fclose(f);
}

static int show(const char *name, bool chain)
{
	char err[512];
	struct form *f = form_load(name, NULL, err, sizeof err);
	if (!f) {
		ui_end();
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	for (int r = 0; r < NROWS; r++) {
		struct ui_binding b[] = {
			UI_BOOL("selected", &sel[r]),
			UI_STR("status", &status[r]),
			UI_STR("account", &acct[r]),
			UI_STR("memo", &memo[r]),
			!strcmp(name, "pin_result") ? (struct ui_binding)UI_STR("pin", &pinshow[r])
						    : (struct ui_binding)UI_SECRET("pin", &pin[r]),
		};
		memcpy(rowb[r], b, sizeof b);
		rows[r] = (struct ui_row){rowb[r], 5, r == 2 && strcmp(name, "pin_result") != 0};
	}
	const char *terms_p = terms;
	const char *accounts_p = accounts_text;
	const struct ui_binding b[] = {
		UI_STR("partner", &partner),
		UI_STR("question", &question),
		UI_STR("certificate", &certificate),
		UI_STR("scopes", &scopes),
		UI_STR("period", &period),
		UI_STR("message", &message),
		UI_STR("pin_results", &pin_results),
		UI_STR("terms", &terms_p),
		!strcmp(name, "permission") ? (struct ui_binding)UI_STR("accounts", &accounts_p)
					    : (struct ui_binding)UI_TABLE("accounts", &table),
		UI_SECRET("user_code", &user_code),
		UI_SECRET("login_id", &login_id),
		UI_SECRET("password", &password),
		UI_SECRET("answer", &answer),
		UI_BOOL("balance", &balance),
		UI_BOOL("transactions", &transactions),
		UI_BOOL("continue", &cont),
	};
	struct ui_screen *s = ui_screen_new(f, b, sizeof b / sizeof b[0]);
	int rc = 0;
	for (;;) {
		struct ui_action a;
		if (ui_screen_run(s, &a) < 0) {
			rc = -1;
			break;
		}
		log_action(name, &a);
		if (a.kind == UI_ACT_EOF || a.kind == UI_ACT_QUIT) {
			rc = -1;
			break;
		}
		if (a.kind == UI_ACT_BACK) {
			if (ui_confirm(N_("確認"), N_("API連携の利用登録を中止しますか？"), false)) {
				rc = -1;
				break;
			}
			continue;
		}
		if (a.kind == UI_ACT_HELP) {
			ui_message(N_("ヘルプ"), "F1");
			continue;
		}
		if (a.kind == UI_ACT_BUTTON && !strcmp(a.button, "choose")) {
			struct ui_choice c[] = {
				{"鈴木花子 (renkei demo CA) 2026/01/01-2027/01/01",
				 "発行先：CN=鈴木花子,O=Demo\n発行者：CN=renkei demo CA\n有効期間：2026/01/01 ～ 2027/01/01\nシリアル番号：01", false},
				{"鈴木花子 (renkei demo CA) 期限切れ", "発行先：CN=鈴木花子\n有効期間：2020/01/01 ～ 2021/01/01（期限切れ）",
				 true},
			};
			int k = ui_choose(N_("電子証明書の選択"), N_("証明書を選択して「OK」を押してください。"), c, 2, 0);
			if (k == 0)
				certificate = "CN=鈴木花子 (renkei demo CA)";
			continue;
		}
		if (a.kind == UI_ACT_BUTTON && !strcmp(name, "login_password") && !chain &&
		    strcmp(password.buf ? password.buf : "", "Sakura-2026") != 0) {
			ui_screen_set_error(s, _("ログインIDまたはログインパスワードが正しくありません。（残り2回）"));
			continue;
		}
		break;
	}
	ui_screen_free(s);
	form_free(f);
	return rc;
}

int main(int argc, char **argv)
{
	i18n_init(argv[0]);
	const char *lang = getenv("RENKEI_LANG");
	i18n_set_lang(lang && !strcmp(lang, "en") ? LANG_EN : LANG_JA);
	size_t at = 0;
	for (int i = 1; i <= 12 && at < sizeof terms - 200; i++)
		at += (size_t)snprintf(terms + at, sizeof terms - at,
				       "第%d条 デモ家計簿株式会社と当金融機関のサービスは、それぞれの利用規約とプライバシーポリシーに従って、"
				       "お客様の口座情報・明細情報を使用します。\n",
				       i);
	if (ui_init(0) < 0) {
		fprintf(stderr, "ui-demo: needs a terminal\n");
		return 1;
	}
	static const char *const all[] = {"code", "partner", "login_password", "login_certificate", "question",
					  "scopes", "pins", "pin_result", "permission", "done", "cancelled",
					  "locked", "error"};
	int rc = 0;
	if (argc > 1 && !strcmp(argv[1], "--all")) {
		for (size_t i = 0; i < sizeof all / sizeof all[0] && rc == 0; i++)
			rc = show(all[i], true);
	} else {
		rc = show(argc > 1 ? argv[1] : "login_password", false);
	}
	ui_end();
	ui_end(); /* twice on purpose: must be harmless */
	secret_free(&user_code);
	secret_free(&login_id);
	secret_free(&password);
	secret_free(&answer);
	for (int r = 0; r < NROWS; r++)
		secret_free(&pin[r]);
	return rc < 0 ? 0 : 0;
}
