/* app_cert.c: certificate login: the chooser (every certificate on every token, with what the
 * customer checks), the token PIN screen or PIN-pad wait, and what happens when the card is pulled. */
#include "app_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The chosen certificate as the login screen shows it, in the current language (F2 redraws). */
void app_cert_label_format(struct app *a)
{
	int sel = a->p11 ? p11_selected(a->p11) : -1;
	const struct p11_cert *c = sel >= 0 ? p11_get(a->p11, (size_t)sel) : NULL;
	if (!c) {
		a->cert_label[0] = '\0';
		return;
	}
	/* TRANSLATORS: the chosen certificate: name, last day of validity, issuer */
	snprintf(a->cert_label, sizeof a->cert_label, _("%s（有効期限：%s、発行者：%s）"), c->info.name,
		 c->info.not_after_date, c->info.issuer_name);
}

const char *app_cert_text(void *ctx)
{
	struct app *a = ctx;
	if (a->cert_label[0])
		app_cert_label_format(a);
	return a->cert_label[0] ? a->cert_label : _("（未選択）");
}

static const char *p11_text(void *ctx)
{
	return p11_err_message(ctx);
}

void app_p11_failed(struct p11_err *pe)
{
	ui_message_fn(N_("電子証明書ログイン"), p11_text, pe);
}

/* The token went away (card pulled out): cancel the session over the connection we still have,
 * wipe everything, tell the customer. Kiosks then return to the start. */
void app_card_removed(struct app *a)
{
	a->checking_card = true;
	a->cancel_reason = "card";
	/* over the connection we still have (a session bound to the certificate needs it) ... */
	if (!app_cancel_taken(a))
		app_do_action(a, FLOW_ACT_CANCEL);
	/* ... else, without the card, over a new connection (enough before the certificate login) */
	api_set_ssl_ctx_cb(a->api, NULL, NULL);
	app_cancel_quietly(a);
	a->checking_card = false;
	p11_close(a->p11);
	a->p11 = NULL;
	a->cert_label[0] = '\0';
	ui_message(N_("電子証明書ログイン"),
		   N_("ICカードが取り外されたため、手続きを中止しました。入力された内容は消去しました。最初からやり直してください。"));
	a->card_removed = true;
	if (a->opt->kiosk)
		app_reset(a);
	else
		a->quit = true;
}

/* The token PIN screen's texts are made at each draw, so F2 re-translates them. */
struct pinctx {
	const struct p11_cert *cert;
	struct p11_err err; /* the last wrong PIN, or P11_OK */
	char token[512];
};

static const char *pin_token(void *ctx)
{
	struct pinctx *pc = ctx;
	/* TRANSLATORS: token PIN screen: the token's label and the certificate's name */
	snprintf(pc->token, sizeof pc->token, _("ICカード：%s　証明書：%s"), pc->cert->token_label,
		 pc->cert->info.name);
	return pc->token;
}

static const char *pin_status(void *ctx)
{
	struct pinctx *pc = ctx;
	if (pc->err.kind != P11_OK)
		return p11_err_message(&pc->err);
	if (pc->cert->pin_flags & P11_PIN_FINAL_TRY)
		return _("注意：あと1回PINを間違えるとICカードがロックされます。");
	if (pc->cert->pin_flags & P11_PIN_COUNT_LOW)
		return _("注意：PINの入力誤りがあります。残りの試行回数が少なくなっています。");
	return "";
}

/* Ask the token's PIN and log in. 0 when logged in, -1 when the customer gave up or it failed. */
static int token_login(struct app *a, size_t idx)
{
	const struct p11_cert *c = p11_get(a->p11, idx);
	struct p11_err pe = {0};
	if (!c->login_required) {
		if (p11_login(a->p11, idx, NULL, 0, &pe) == 0)
			return 0;
		app_p11_failed(&pe);
		return -1;
	}
	if (c->pin_flags & P11_PIN_LOCKED) { /* the token says so: ask no PIN, here or on the reader */
		pe.kind = P11_ERR_PIN_LOCKED;
		app_p11_failed(&pe);
		return -1;
	}
	if (c->protected_auth_path) {
		ui_message(N_("電子証明書ログイン"),
			   N_("「OK」を押したあと、カードリーダーのキーでPINを入力してください。"));
		ui_notice(N_("電子証明書ログイン"),
			  N_("カードリーダーのキーでPINを入力してください。入力が終わるまでお待ちください。"));
		int lr = p11_login(a->p11, idx, NULL, 0, &pe);
		ui_drop_typeahead(); /* keys pressed on the keyboard while the reader had the PIN */
		if (lr == 0)
			return 0;
		app_p11_failed(&pe);
		return -1;
	}
	struct pinctx pc = {.cert = c};
	struct secret pin = SECRET_INIT;
	int rc = -1;
	for (;;) {
		const struct ui_binding b[] = {
			UI_FUNC("partner", app_partner_name, a),
			UI_FUNC("token", pin_token, &pc),
			UI_FUNC("status", pin_status, &pc),
			UI_SECRET("pin", &pin),
		};
		struct ui_action act;
		if (app_run_form(a, "token_pin", b, 4, &act, NULL) < 0 || !app_is_button(&act, "ok"))
			break;
		int lr = p11_login(a->p11, idx, pin.buf ? pin.buf : "", pin.len, &pe);
		secret_clear(&pin);
		if (lr == 0) {
			rc = 0;
			break;
		}
		if (pe.kind == P11_ERR_PIN_INCORRECT || pe.kind == P11_ERR_PIN_INVALID) {
			pc.err = pe;
			continue;
		}
		app_p11_failed(&pe);
		break;
	}
	secret_free(&pin);
	return rc;
}

void app_prep_cert(struct app *a, struct ui_screen *s)
{
	/* Nothing chosen yet: the cursor starts on 「電子証明書ログイン」. */
	if (a->cert_label[0] == '\0')
		ui_screen_focus(s, "choose", 0);
}

/* The token(s) opened, or looked at again when nothing is chosen yet (a card may have been inserted
 * meanwhile; with a certificate chosen its login is kept, so that cancelling the chooser keeps it).
 * The number of certificates, or 0 (the customer was told why). */
static size_t cert_tokens(struct app *a)
{
	struct p11_err pe = {0};
	if (!a->p11) {
		a->p11 = p11_open(a->opt->pkcs11_module, &pe);
		if (!a->p11) {
			app_p11_failed(&pe);
			return 0;
		}
	} else if ((p11_selected(a->p11) < 0 || p11_count(a->p11) == 0) && p11_refresh(a->p11, &pe) < 0) {
		app_p11_failed(&pe);
		return 0;
	}
	size_t n = p11_count(a->p11);
	if (n == 0)
		app_p11_failed(&pe);
	return n;
}

/* The choice to start on: the chosen certificate, else the one --pkcs11-uri names, else -1 (the
 * first usable one). */
static int cert_initial(struct app *a)
{
	struct p11_err pe = {0};
	if (p11_selected(a->p11) >= 0)
		return p11_selected(a->p11);
	return a->opt->pkcs11_uri ? p11_find_uri(a->p11, a->opt->pkcs11_uri, &pe) : -1;
}

/* One certificate as the chooser lists it (label) and details it (what the customer checks), in
 * the current language; false when it cannot be chosen (out of its validity). */
bool app_cert_describe(const struct p11_cert *c, time_t now, char *label, size_t lsize, char *detail,
			  size_t dsize)
{
	bool usable = p11_cert_usable(c, now);
	enum cert_validity v = certinfo_validity(&c->info, now);
	const char *mark = v == CERT_EXPIRED ? _("【期限切れ】")
			   : v == CERT_NOT_YET_VALID ? _("【有効期間前】")
			   : v == CERT_VALIDITY_UNKNOWN ? _("【有効期間不明】") : "";
	char period[96];
	snprintf(period, sizeof period, _("%s 〜 %s"), c->info.not_before_date, c->info.not_after_date);
	snprintf(label, lsize, "%s%s  %s  (%s)", mark, c->info.name, period, c->token_label);
	snprintf(detail, dsize, "%s %s\n%s %s\n%s %s\n%s %s\n%s %s%s%s", _("発行先："), c->info.subject,
		 _("発行者："), c->info.issuer, _("有効期間："), period, _("シリアル番号："), c->info.serial,
		 _("トークン："), c->token_label, usable ? "" : "\n",
		 usable ? "" : _("この証明書は有効期間外のため選択できません。"));
	return usable;
}

/* The chooser over the n certificates (built again after F2, in the other language): the index
 * chosen, or -1. */
static int cert_pick(struct app *a, size_t n)
{
	struct ui_choice *ch = calloc(n, sizeof *ch);
	char (*labels)[256] = calloc(n, sizeof *labels);
	char (*details)[1536] = calloc(n, sizeof *details);
	int sel = -1, init = cert_initial(a);
	time_t now = time(NULL);
	size_t initial = init >= 0 ? (size_t)init : 0;
	while (ch && labels && details) {
		for (size_t i = 0; i < n; i++) {
			bool usable = app_cert_describe(p11_get(a->p11, i), now, labels[i], sizeof labels[i], details[i],
						    sizeof details[i]);
			ch[i] = (struct ui_choice){.label = labels[i], .detail = details[i], .disabled = !usable};
			if (init < 0 && usable) {
				initial = i;
				init = (int)i;
			}
		}
		size_t cur = initial;
		sel = ui_choose_ex(N_("電子証明書の選択"),
				   N_("証明書情報を確認のうえ、該当の証明書を選択して「OK」を押してください。"), ch, n,
				   initial, &cur);
		if (sel != UI_CHOOSE_LANG)
			break;
		initial = cur;
		init = (int)cur;
	}
	free(ch);
	free(labels);
	free(details);
	return sel;
}

/* The certificate chooser: every certificate on every token, with what the customer checks; the
 * token's PIN for the one chosen; its key then given to the TLS connection. */
void app_cert_choose(struct app *a)
{
	size_t n = cert_tokens(a);
	if (n == 0)
		return;
	int sel = cert_pick(a, n);
	if (sel < 0)
		return; /* cancelled: whatever was chosen before stays */
	if (p11_selected(a->p11) == sel && a->cert_label[0])
		return; /* the same certificate again: already logged in */
	api_set_ssl_ctx_cb(a->api, NULL, NULL); /* the TLS context must not hold a key we drop */
	a->cert_label[0] = '\0';
	if (token_login(a, (size_t)sel) < 0)
		return;
	if (api_set_ssl_ctx_cb(a->api, p11_ssl_ctx_install, a->p11) < 0) {
		ui_message(N_("電子証明書ログイン"), N_("電子証明書を通信に設定できませんでした。"));
		return;
	}
	app_cert_label_format(a);
}
