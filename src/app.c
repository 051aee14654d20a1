/* app.c: the main loop tying the UI, the flow and the REST client together (see include/app.h).
 * Data flows one way: keys -> widget -> flow -> api -> server; answer -> flow -> next screen. */
#include "app.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "exitcodes.h"
#include "forms.h"
#include "i18n.h"
#include "p11.h"
#include "trace.h"
#include "ui.h"

struct app {
	const struct options *opt;
	struct flow f;
	struct api *api;
	struct trace *tr;
	char msg[512];       /* message bound on the error/locked screens */
	char errline[512];   /* the error line, made at paint time */
	char dlg[1024];      /* a dialog's text, made at paint time ... */
	const char *question;/* ... ending with this question (msgid) */
	char period[128];    /* permission: period line */
	char *scopes_text;   /* permission: scope lines */
	char *accounts_text; /* permission: account lines */
	char cert_label[512];/* certificate login: the chosen certificate */
	struct flow_error final_error; /* the final screen's error, kept for the exit status */
	const char *esc_msgid; /* the screen shown now: what Esc does (key bar) ... */
	bool cancel_key;       /* ... and whether F9 cancels */
	bool quit;           /* the user chose to leave */
	struct p11 *p11;     /* certificate login: the PKCS#11 module, once opened */
	bool card_removed;   /* the token went away mid-flow: the flow was cancelled */
	bool checking_card;
};

/* ---- words ---------------------------------------------------------------------------------- */

const char *app_pin_state(const struct flow_account *a)
{
	switch (a->pin) {
	case FLOW_PIN_REGISTERED:
		return _("登録済み");
	case FLOW_PIN_PENDING:
		return _("登録済み*");
	case FLOW_PIN_UNREGISTERED:
		break;
	}
	return _("未登録");
}

static const char *acct_type(const struct flow_account *a)
{
	switch (a->type) {
	case FLOW_ACCT_ORDINARY:
		return _("普通");
	case FLOW_ACCT_CURRENT:
		return _("当座");
	case FLOW_ACCT_SAVINGS:
		return _("貯蓄");
	case FLOW_ACCT_OTHER:
		break;
	}
	return a->type_code ? a->type_code : "";
}

const char *app_account_label(const struct flow_account *a, char *buf, size_t size)
{
	/* TRANSLATORS: an account: branch name, (branch code), account type, number;
	   e.g. インターネット支店(001) 普通 2000002 */
	snprintf(buf, size, _("%s(%s) %s %s"), l10n_get(&a->branch_name, i18n_lang()),
		 a->branch_code ? a->branch_code : "", acct_type(a), a->number ? a->number : "");
	return buf;
}

const char *app_date(const char *iso, char *buf, size_t size)
{
	int y, m, d;
	char tail;
	if (!iso || sscanf(iso, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3) {
		snprintf(buf, size, "%s", iso ? iso : "");
		return buf;
	}
	/* TRANSLATORS: a date: year, month, day */
	snprintf(buf, size, _("%1$d年%2$d月%3$d日"), y, m, d);
	return buf;
}

static void plural_tries(char *buf, size_t size, const char *what, int tries)
{
	if (tries >= 0)
		/* TRANSLATORS: %1$s is a sentence about what was wrong; %2$d the tries left */
		snprintf(buf, size, _("%1$s あと%2$d回間違えるとロックされます。"), what, tries);
	else
		snprintf(buf, size, "%s", what);
}

/* f.error as the customer reads it: the kind's message from problem.c's table, made with the
 * values the error carries. */
const char *app_error_text(const struct flow *f, char *buf, size_t size)
{
	const struct flow_error *e = &f->error;
	const struct problem_info *pi = problem_info(e->kind);
	int pin_length = f->pin_length > 0 ? f->pin_length : 4;
	buf[0] = '\0';
	if (e->kind == PROBLEM_NONE || !pi->msgid)
		return buf;
	switch (pi->arg) {
	case PROBLEM_ARG_NONE:
		snprintf(buf, size, "%s", _(pi->msgid));
		break;
	case PROBLEM_ARG_TRIES:
		plural_tries(buf, size, _(pi->msgid), e->tries_left);
		break;
	case PROBLEM_ARG_SECONDS:
		if (e->retry_after > 0)
			snprintf(buf, size, _(pi->msgid), e->retry_after);
		else
			snprintf(buf, size, "%s", _(pi->msgid_alt));
		break;
	case PROBLEM_ARG_PIN_LENGTH:
		snprintf(buf, size, _(pi->msgid), pin_length);
		break;
	case PROBLEM_ARG_FIELD: {
		const char *m = problem_field_msgid(e->kind, e->field);
		if (strstr(m, "%d"))
			snprintf(buf, size, _(m), pin_length);
		else
			snprintf(buf, size, "%s", _(m));
		break;
	}
	}
	return buf;
}

/* ---- string bindings that follow the language ------------------------------------------------ */

static const char *partner_name(void *ctx)
{
	struct app *a = ctx;
	return l10n_get(&a->f.partner.name, i18n_lang());
}

static const char *question_text(void *ctx)
{
	struct app *a = ctx;
	return l10n_get(&a->f.question.text, i18n_lang());
}

static const char *terms_text(void *ctx)
{
	struct app *a = ctx;
	return l10n_get(&a->f.perm.terms, i18n_lang());
}

static const char *msg_text(void *ctx)
{
	struct app *a = ctx;
	return a->msg;
}

/* The chosen certificate as the login screen shows it, in the current language (F2 redraws). */
static void cert_label_format(struct app *a)
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

static const char *cert_text(void *ctx)
{
	struct app *a = ctx;
	if (a->cert_label[0])
		cert_label_format(a);
	return a->cert_label[0] ? a->cert_label : _("（未選択）");
}

struct rowctx {
	const struct flow_account *acct;
	const struct flow_scope *scope;
	bool result;          /* the result table (手順5): a pending PIN is marked ※ */
	char label[256];
	char status[128];
	char pin[64];
};

static const char *row_account(void *ctx)
{
	struct rowctx *r = ctx;
	return app_account_label(r->acct, r->label, sizeof r->label);
}

/* The scope words of screens.md: a bank that names these scopes in Japanese only still gets them
 * in English from the catalog. Any other scope shows the bank's own name. */
static const char *const scope_words[] = {N_("残高照会"), N_("入金出金照会")};

/* A scope's name in the current language: the bank's, else the catalog's for a known word. */
static const char *scope_name(const struct flow_scope *sc)
{
	if (i18n_lang() == LANG_EN && !(sc->name.en && sc->name.en[0]) && sc->name.ja)
		for (size_t i = 0; i < sizeof scope_words / sizeof scope_words[0]; i++)
			if (strcmp(sc->name.ja, scope_words[i]) == 0)
				return _(scope_words[i]);
	return l10n_get(&sc->name, i18n_lang());
}

static const char *row_scope(void *ctx)
{
	struct rowctx *r = ctx;
	return scope_name(r->scope);
}

static const char *row_memo(void *ctx)
{
	struct rowctx *r = ctx;
	return r->acct->memo && *r->acct->memo ? r->acct->memo : "-";
}

static const char *row_status(void *ctx)
{
	struct rowctx *r = ctx;
	const struct flow_account *a = r->acct;
	switch (a->result) {
	case FLOW_ROW_WRONG:
		if (a->result_tries_left >= 0)
			/* TRANSLATORS: PIN table status cell, keep it short (about 10 columns) */
			snprintf(r->status, sizeof r->status, _("誤り 残%d回"), a->result_tries_left);
		else
			snprintf(r->status, sizeof r->status, "%s", _("誤り"));
		return r->status;
	case FLOW_ROW_LOCKED:
		return _("ロック");
	case FLOW_ROW_FORMAT:
		return _("桁数誤り");
	case FLOW_ROW_EMPTY:
		return _("未入力");
	case FLOW_ROW_NONE:
	case FLOW_ROW_REGISTERED:
		break;
	}
	if (a->pin_locked)
		return _("ロック");
	if (r->result && a->pin == FLOW_PIN_PENDING)
		/* TRANSLATORS: result table (手順5): registered now, valid once the authorization completes
		   (the ※ matches the note under the table) */
		return _("※登録済み");
	return app_pin_state(a);
}

static const char *row_pin_shown(void *ctx)
{
	struct rowctx *r = ctx;
	if (r->acct->pin == FLOW_PIN_PENDING)
		return ui_mask(r->pin, sizeof r->pin, 4);
	return "-";
}

/* ---- requests ------------------------------------------------------------------------------- */

/* Send what flow_build made; apply the answer. Offers a retry on transport failures (everything
 * typed is kept by the flow). Returns 0 when an answer (good or problem) was applied. */
static void card_removed(struct app *a);

/* Kiosk: back to the start, wiping everything of the previous customer (token login included). */
static void reset(struct app *a)
{
	flow_reset(&a->f);
	if (a->p11) {
		api_set_ssl_ctx_cb(a->api, NULL, NULL);
		p11_close(a->p11);
		a->p11 = NULL;
	}
	a->cert_label[0] = '\0';
}

/* ---- dialogs: texts made at every paint, so that F2 re-translates them ------------------------- */

static const char *error_question_text(void *ctx)
{
	struct app *a = ctx;
	char err[512];
	app_error_text(&a->f, err, sizeof err);
	snprintf(a->dlg, sizeof a->dlg, "%s%s%s", err, err[0] ? "\n\n" : "", _(a->question));
	return a->dlg;
}

/* Yes/no (yes by default): f.error's sentence, if any, then question (a msgid). */
static bool confirm_after_error(struct app *a, const char *title, const char *question)
{
	a->question = question;
	return ui_confirm_fn(title, error_question_text, a, true);
}

static const char *p11_text(void *ctx)
{
	return p11_err_message(ctx);
}

static void p11_failed(struct p11_err *pe)
{
	ui_message_fn(N_("電子証明書ログイン"), p11_text, pe);
}

static int send_req(struct app *a, struct flow_req *req)
{
	if (a->p11 && p11_selected(a->p11) >= 0 && !a->checking_card) {
		struct p11_err pe = {0};
		if (p11_token_present(a->p11, &pe) == 0) {
			flow_req_free(req);
			card_removed(a);
			return -1;
		}
	}
	for (;;) {
		struct api_resp resp;
		struct api_err err;
		memset(&resp, 0, sizeof resp);
		int rc = api_send(a->api, req, &resp, &err);
		if (rc == 0) {
			flow_apply(&a->f, resp.status, resp.content_type, resp.body, resp.len);
			trace_request(a->tr, req, &a->f, resp.status, resp.ms);
			api_resp_free(&resp);
		} else {
			flow_net_error(&a->f, err.kind);
			trace_request(a->tr, req, &a->f, 0, 0);
		}
		flow_req_free(req);
		if (a->f.refresh) {
			if (flow_build(&a->f, FLOW_ACT_REFRESH, req) == 0)
				continue;
		}
		if (rc != 0 && !a->checking_card && a->f.error.can_retry && problem_is_transport(a->f.error.kind)) {
			if (confirm_after_error(a, N_("通信エラー"), N_("もう一度送信しますか？"))) {
				if (flow_build_retry(&a->f, req) == 0)
					continue;
			}
		}
		return rc;
	}
}

static void do_action(struct app *a, enum flow_action act)
{
	struct flow_req req;
	memset(&req, 0, sizeof req);
	if (flow_build(&a->f, act, &req) < 0)
		return; /* a local check failed: f.error says which */
	send_req(a, &req);
}

/* Cancel the consent on the server (the partner gets access_denied), after confirming. */
static void ask_cancel(struct app *a)
{
	if (!ui_confirm(N_("手続きの中止"),
			N_("API連携の手続きを中止しますか？ 中止すると、連携先には許可しなかったことが伝わります。"),
			false))
		return;
	do_action(a, FLOW_ACT_CANCEL);
}

/* ---- screens -------------------------------------------------------------------------------- */

static const char *error_line_text(void *ctx)
{
	struct app *a = ctx;
	return app_error_text(&a->f, a->errline, sizeof a->errline);
}

/* Show form `name` with bindings until the user acts. The error line shows f.error. */
static int run_form(struct app *a, const char *name, const struct ui_binding *b, size_t nb,
		    struct ui_action *act, void (*prep)(struct app *, struct ui_screen *))
{
	char err[512];
	struct form *form = form_load(name, a->opt->forms_dir, err, sizeof err);
	if (!form) {
		ui_end();
		fprintf(stderr, "renkei: %s\n", err);
		a->quit = true;
		return -1;
	}
	struct ui_screen *s = ui_screen_new(form, b, nb);
	if (!s) {
		form_free(form);
		a->quit = true;
		return -1;
	}
	if (a->f.error.kind != PROBLEM_NONE)
		ui_screen_set_error_fn(s, error_line_text, a);
	if (prep)
		prep(a, s);
	ui_screen_set_keys(s, a->esc_msgid, a->cancel_key);
	if (a->opt->kiosk)
		ui_screen_set_timeout(s, (int)a->opt->idle_timeout * 1000);
	int rc = ui_screen_run(s, act);
	/* The button id points into the form: copy what the caller needs first. */
	static char button[64];
	if (rc == 0 && act->button) {
		snprintf(button, sizeof button, "%s", act->button);
		act->button = button;
	}
	ui_screen_free(s);
	form_free(form);
	return rc;
}

static bool is_button(const struct ui_action *act, const char *id)
{
	return act->kind == UI_ACT_BUTTON && act->button && strcmp(act->button, id) == 0;
}

/* Esc, kiosk idle timeout, Ctrl-C: leave the flow (cancelling any session on the server). */
static void leave(struct app *a, const struct ui_action *act)
{
	if (act->kind == UI_ACT_TIMEOUT || act->kind == UI_ACT_EOF || act->kind == UI_ACT_QUIT) {
		if (a->f.session.len > 0 && !flow_is_final(&a->f))
			do_action(a, FLOW_ACT_CANCEL);
		if (!a->opt->kiosk || act->kind != UI_ACT_TIMEOUT)
			a->quit = true;
		else
			reset(a);
		return;
	}
	ask_cancel(a);
}

/* The token went away (card pulled out): cancel the session over the connection we still have,
 * wipe everything, tell the customer. Kiosks then return to the start. */
static void card_removed(struct app *a)
{
	a->checking_card = true;
	/* over the connection we still have (a session bound to the certificate needs it) ... */
	if (a->f.session.len > 0 && !flow_is_final(&a->f))
		do_action(a, FLOW_ACT_CANCEL);
	/* ... else, without the card, over a new connection (enough before the certificate login) */
	api_set_ssl_ctx_cb(a->api, NULL, NULL);
	if (a->f.session.len > 0 && !flow_is_final(&a->f))
		do_action(a, FLOW_ACT_CANCEL);
	a->checking_card = false;
	p11_close(a->p11);
	a->p11 = NULL;
	a->cert_label[0] = '\0';
	ui_message(N_("電子証明書ログイン"),
		   N_("ICカードが取り外されたため、手続きを中止しました。入力された内容は消去しました。最初からやり直してください。"));
	a->card_removed = true;
	if (a->opt->kiosk)
		reset(a);
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
		p11_failed(&pe);
		return -1;
	}
	if (c->pin_flags & P11_PIN_LOCKED) { /* the token says so: ask no PIN, here or on the reader */
		pe.kind = P11_ERR_PIN_LOCKED;
		p11_failed(&pe);
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
		p11_failed(&pe);
		return -1;
	}
	struct pinctx pc = {.cert = c};
	struct secret pin = SECRET_INIT;
	int rc = -1;
	for (;;) {
		const struct ui_binding b[] = {
			UI_FUNC("partner", partner_name, a),
			UI_FUNC("token", pin_token, &pc),
			UI_FUNC("status", pin_status, &pc),
			UI_SECRET("pin", &pin),
		};
		struct ui_action act;
		if (run_form(a, "token_pin", b, 4, &act, NULL) < 0 || !is_button(&act, "ok"))
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
		p11_failed(&pe);
		break;
	}
	secret_free(&pin);
	return rc;
}

static void prep_login(struct app *a, struct ui_screen *s)
{
	/* After a wrong password the ID is kept and the password was wiped: retype only that. */
	if (a->f.error.kind == PROBLEM_WRONG_CREDENTIALS && a->f.login.login_id.len > 0)
		ui_screen_focus(s, "password", 0);
}

static void prep_cert(struct app *a, struct ui_screen *s)
{
	/* Nothing chosen yet: the cursor starts on 「電子証明書ログイン」. */
	if (a->cert_label[0] == '\0')
		ui_screen_focus(s, "choose", 0);
}

/* The certificate chooser: every certificate on every token, with what the customer checks. */
static void cert_choose(struct app *a)
{
	struct p11_err pe = {0};
	if (!a->p11) {
		a->p11 = p11_open(a->opt->pkcs11_module, &pe);
		if (!a->p11) {
			p11_failed(&pe);
			return;
		}
	} else if (p11_selected(a->p11) < 0 || p11_count(a->p11) == 0) {
		/* nothing chosen yet: look again (a card may have been inserted meanwhile); with a
		 * certificate chosen, keep its login so that cancelling the chooser keeps it */
		if (p11_refresh(a->p11, &pe) < 0) {
			p11_failed(&pe);
			return;
		}
	}
	size_t n = p11_count(a->p11);
	if (n == 0) {
		p11_failed(&pe);
		return;
	}
	struct ui_choice *ch = calloc(n, sizeof *ch);
	char (*labels)[256] = calloc(n, sizeof *labels);
	char (*details)[1536] = calloc(n, sizeof *details);
	if (!ch || !labels || !details) {
		free(ch);
		free(labels);
		free(details);
		return;
	}
	time_t now = time(NULL);
	size_t initial = 0;
	bool have_initial = false;
	if (p11_selected(a->p11) >= 0) {
		initial = (size_t)p11_selected(a->p11);
		have_initial = true;
	} else if (a->opt->pkcs11_uri) {
		int u = p11_find_uri(a->p11, a->opt->pkcs11_uri, &pe);
		if (u >= 0) {
			initial = (size_t)u;
			have_initial = true;
		}
	}
	int sel;
	for (;;) { /* built again after F2, in the other language */
		for (size_t i = 0; i < n; i++) {
			const struct p11_cert *c = p11_get(a->p11, i);
			bool usable = p11_cert_usable(c, now);
			enum cert_validity v = certinfo_validity(&c->info, now);
			const char *mark = v == CERT_EXPIRED ? _("【期限切れ】")
					   : v == CERT_NOT_YET_VALID ? _("【有効期間前】")
					   : v == CERT_VALIDITY_UNKNOWN ? _("【有効期間不明】") : "";
			char period[96];
			snprintf(period, sizeof period, _("%s 〜 %s"), c->info.not_before_date, c->info.not_after_date);
			snprintf(labels[i], sizeof labels[i], "%s%s  %s  (%s)", mark, c->info.name, period,
				 c->token_label);
			snprintf(details[i], sizeof details[i], "%s %s\n%s %s\n%s %s\n%s %s\n%s %s%s%s",
				 _("発行先："), c->info.subject, _("発行者："), c->info.issuer, _("有効期間："),
				 period, _("シリアル番号："), c->info.serial, _("トークン："), c->token_label,
				 usable ? "" : "\n", usable ? "" : _("この証明書は有効期間外のため選択できません。"));
			ch[i].label = labels[i];
			ch[i].detail = details[i];
			ch[i].disabled = !usable;
			if (!have_initial && usable) {
				initial = i;
				have_initial = true;
			}
		}
		size_t cur = initial;
		sel = ui_choose_ex(N_("電子証明書の選択"),
				   N_("証明書情報を確認のうえ、該当の証明書を選択して「OK」を押してください。"), ch, n,
				   initial, &cur);
		if (sel != UI_CHOOSE_LANG)
			break;
		initial = cur;
	}
	free(ch);
	free(labels);
	free(details);
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
	cert_label_format(a);
}

static void prep_question(struct app *a, struct ui_screen *s)
{
	if (a->f.question.masked)
		ui_screen_set_flags(s, "answer", FORM_F_MASKED, 0);
}

/* The PIN table and the result table share their row set-up. */
struct table_build {
	struct rowctx *ctx;
	struct ui_binding *cells;
	struct ui_row *rows;
	struct ui_table table;
	/* every word the status column can show, measured only: the columns never shift */
	const char *samples[10];
	char tries[64];
	struct ui_binding sample_cells[10];
	struct ui_row sample_rows[10];
};

static void status_samples(struct table_build *t, bool result)
{
	size_t n = 0;
	/* TRANSLATORS: PIN table status cell, keep it short (about 10 columns) */
	snprintf(t->tries, sizeof t->tries, _("誤り 残%d回"), 9);
	const char *v[] = {_("未登録"), _("登録済み"), result ? _("※登録済み") : _("登録済み*"), _("ロック"),
			   _("桁数誤り"), _("未入力"), _("誤り"), t->tries};
	for (size_t i = 0; i < sizeof v / sizeof v[0] && n < 10; i++, n++) {
		t->samples[n] = v[i];
		t->sample_cells[n] = (struct ui_binding)UI_STR("status", &t->samples[n]);
		t->sample_rows[n] = (struct ui_row){.cells = &t->sample_cells[n], .ncells = 1};
	}
	t->table.width_rows = t->sample_rows;
	t->table.n_width_rows = n;
}

static int build_table(struct app *a, struct table_build *t, bool entry)
{
	size_t n = a->f.n_accounts, per = 5;
	t->ctx = calloc(n ? n : 1, sizeof *t->ctx);
	t->cells = calloc((n ? n : 1) * per, sizeof *t->cells);
	t->rows = calloc(n ? n : 1, sizeof *t->rows);
	if (!t->ctx || !t->cells || !t->rows)
		return -1;
	for (size_t i = 0; i < n; i++) {
		struct flow_account *acct = &a->f.accounts[i];
		struct ui_binding *c = &t->cells[i * per];
		t->ctx[i].acct = acct;
		t->ctx[i].result = !entry;
		c[0] = (struct ui_binding)UI_FUNC("status", row_status, &t->ctx[i]);
		c[1] = (struct ui_binding)UI_FUNC("account", row_account, &t->ctx[i]);
		c[2] = (struct ui_binding)UI_FUNC("memo", row_memo, &t->ctx[i]);
		if (entry) {
			c[3] = (struct ui_binding)UI_BOOL("selected", &acct->selected);
			c[4] = (struct ui_binding)UI_SECRET("pin", &acct->pin_input);
		} else {
			c[3] = (struct ui_binding)UI_FUNC("pin", row_pin_shown, &t->ctx[i]);
			c[4] = (struct ui_binding)UI_FUNC("selected", row_memo, &t->ctx[i]);
		}
		t->rows[i].cells = c;
		t->rows[i].ncells = per;
		t->rows[i].disabled = entry && !flow_account_selectable(acct);
	}
	t->table.rows = t->rows;
	t->table.nrows = n;
	status_samples(t, !entry);
	return 0;
}

static void free_table(struct table_build *t)
{
	free(t->ctx);
	free(t->cells);
	free(t->rows);
}

static void prep_pins(struct app *a, struct ui_screen *s)
{
	/* After a failed registration, put the cursor on the first row to retype. */
	for (size_t i = 0; i < a->f.n_accounts; i++) {
		enum flow_row_result r = a->f.accounts[i].result;
		if (r == FLOW_ROW_WRONG || r == FLOW_ROW_FORMAT || r == FLOW_ROW_EMPTY) {
			ui_screen_focus(s, "accounts", i);
			return;
		}
	}
}

/* Nothing left to register (the rest registered or locked) but some account covered: the
 * customer may go on with those (protocol §4.8) instead of being stuck. */
static bool pins_dead_end(const struct app *a)
{
	size_t covered = 0;
	for (size_t i = 0; i < a->f.n_accounts; i++) {
		if (flow_account_selectable(&a->f.accounts[i]))
			return false;
		if (a->f.accounts[i].pin != FLOW_PIN_UNREGISTERED)
			covered++;
	}
	return covered > 0;
}

static const char *perm_scopes(void *ctx)
{
	struct app *a = ctx;
	free(a->scopes_text);
	size_t cap = 16;
	for (size_t i = 0; i < a->f.perm.n_scopes; i++)
		cap += strlen(scope_name(&a->f.perm.scopes[i])) + 8;
	a->scopes_text = calloc(1, cap);
	if (!a->scopes_text)
		return "";
	for (size_t i = 0; i < a->f.perm.n_scopes; i++) {
		if (i)
			strcat(a->scopes_text, _("、"));
		strcat(a->scopes_text, scope_name(&a->f.perm.scopes[i]));
	}
	return a->scopes_text;
}

static const char *perm_accounts(void *ctx)
{
	struct app *a = ctx;
	free(a->accounts_text);
	size_t n = a->f.perm.n_accounts, cap = 16 + n * 256;
	a->accounts_text = calloc(1, cap);
	if (!a->accounts_text)
		return "";
	for (size_t i = 0; i < n; i++) {
		char line[256];
		if (i)
			strcat(a->accounts_text, "\n");
		strncat(a->accounts_text, app_account_label(&a->f.perm.accounts[i], line, sizeof line), 250);
	}
	return a->accounts_text;
}

/* Under the terms, until they have been shown to their end: why the checkbox cannot be ticked
 * yet (empty afterwards: the label then takes no room). */
static const char *read_note(void *ctx)
{
	struct app *a = ctx;
	if (a->f.perm.terms_read)
		return "";
	/* TRANSLATORS: shown after 「許可手続きを継続する」 until the terms were read to their end; the
	   checkbox, its label and this must fit 76 columns (English: about 34 characters) */
	return _("（意思確認を最後までお読みください）");
}

static const char *perm_period(void *ctx)
{
	struct app *a = ctx;
	char from[64], to[64];
	app_date(a->f.perm.from, from, sizeof from);
	app_date(a->f.perm.to, to, sizeof to);
	/* TRANSLATORS: authorization period: from – to */
	snprintf(a->period, sizeof a->period, _("%s 〜 %s"), from, to);
	return a->period;
}

/* ---- the screens: one row per step ----------------------------------------------------------------
 * bind: what the form shows (0), or 1 when the step was dealt with without a form (a dialog), or -1
 * (out of memory: leave). on_action: the buttons (and, for ESC_SELF, every action). esc: what Esc
 * does there, which the key bar says: back a step (F9 then cancels), cancel, or quit. */

enum esc {
	ESC_CANCEL = 0, /* Esc asks to cancel the procedure (「中止」) */
	ESC_BACK,       /* Esc goes back a step (「戻る」: screen_def.back); F9 asks to cancel */
	ESC_SELF,       /* on_action handles every action (start and final screens) */
};

struct view {
	struct ui_binding b[8];
	size_t nb;
	struct table_build t;
	bool can_add;
};

#define VIEW_ADD(v, ...) ((v)->b[(v)->nb++] = (struct ui_binding)__VA_ARGS__)

struct screen_def {
	const char *form;                          /* NULL: form_for() says */
	const char *(*form_for)(const struct app *a);
	int (*bind)(struct app *a, struct view *v);
	void (*prep)(struct app *a, struct ui_screen *s);
	void (*on_action)(struct app *a, const struct ui_action *act);
	enum esc esc;
	void (*back)(struct app *a);               /* ESC_BACK: where Esc goes */
};

static int bind_code(struct app *a, struct view *v)
{
	VIEW_ADD(v, UI_SECRET("user_code", &a->f.user_code));
	return 0;
}

static void on_code(struct app *a, const struct ui_action *act)
{
	if (is_button(act, "next")) {
		do_action(a, FLOW_ACT_START);
		return;
	}
	if (act->kind == UI_ACT_TIMEOUT) {
		reset(a);
		return;
	}
	if ((act->kind == UI_ACT_BACK || act->kind == UI_ACT_CANCEL) && a->opt->kiosk)
		return;
	if ((act->kind == UI_ACT_BACK || act->kind == UI_ACT_CANCEL) &&
	    !ui_confirm(N_("終了"), N_("API連携の手続きを終了しますか？"), false))
		return;
	a->quit = true;
}

static int bind_partner(struct app *a, struct view *v)
{
	VIEW_ADD(v, UI_FUNC("partner", partner_name, a));
	return 0;
}

static void on_partner(struct app *a, const struct ui_action *act)
{
	if (is_button(act, "password"))
		flow_choose_method(&a->f, FLOW_LOGIN_PASSWORD);
	else if (is_button(act, "certificate"))
		flow_choose_method(&a->f, FLOW_LOGIN_CERTIFICATE);
}

static const char *form_login(const struct app *a)
{
	return a->f.login.method == FLOW_LOGIN_CERTIFICATE ? "login_certificate" : "login_password";
}

static int bind_login(struct app *a, struct view *v)
{
	VIEW_ADD(v, UI_FUNC("partner", partner_name, a));
	if (a->f.login.method == FLOW_LOGIN_CERTIFICATE) {
		VIEW_ADD(v, UI_FUNC("certificate", cert_text, a));
	} else {
		VIEW_ADD(v, UI_SECRET("login_id", &a->f.login.login_id));
	}
	VIEW_ADD(v, UI_SECRET("password", &a->f.login.password));
	return 0;
}

static void prep_any_login(struct app *a, struct ui_screen *s)
{
	if (a->f.login.method == FLOW_LOGIN_CERTIFICATE)
		prep_cert(a, s);
	else
		prep_login(a, s);
}

static void on_login(struct app *a, const struct ui_action *act)
{
	if (a->f.login.method == FLOW_LOGIN_CERTIFICATE) {
		if (is_button(act, "choose")) {
			cert_choose(a);
			return;
		}
		if (is_button(act, "login") && a->cert_label[0] == '\0') {
			ui_message(N_("電子証明書ログイン"),
				   N_("「電子証明書ログイン」ボタンを押して、電子証明書を選択してください。"));
			return;
		}
	}
	if (is_button(act, "login"))
		do_action(a, FLOW_ACT_LOGIN);
}

/* back to the partner screen and its choice of login method (no request: the server's step
 * stays login) */
static void back_login(struct app *a)
{
	flow_back_to_partner(&a->f);
}

static int bind_question(struct app *a, struct view *v)
{
	VIEW_ADD(v, UI_FUNC("partner", partner_name, a));
	VIEW_ADD(v, UI_FUNC("question", question_text, a));
	VIEW_ADD(v, UI_SECRET("answer", &a->f.question.answer));
	return 0;
}

static void on_question(struct app *a, const struct ui_action *act)
{
	if (is_button(act, "auth"))
		do_action(a, FLOW_ACT_ANSWER);
}

/* The scopes the partner asked for, as the server lists them: one checkbox row each. */
static int bind_scopes(struct app *a, struct view *v)
{
	size_t n = a->f.n_scopes;
	struct table_build *t = &v->t;
	t->ctx = calloc(n ? n : 1, sizeof *t->ctx);
	t->cells = calloc((n ? n : 1) * 2, sizeof *t->cells);
	t->rows = calloc(n ? n : 1, sizeof *t->rows);
	if (!t->ctx || !t->cells || !t->rows)
		return -1;
	for (size_t i = 0; i < n; i++) {
		struct ui_binding *c = &t->cells[i * 2];
		t->ctx[i].scope = &a->f.scopes[i];
		c[0] = (struct ui_binding)UI_BOOL("selected", &a->f.scopes[i].selected);
		c[1] = (struct ui_binding)UI_FUNC("name", row_scope, &t->ctx[i]);
		t->rows[i].cells = c;
		t->rows[i].ncells = 2;
	}
	t->table.rows = t->rows;
	t->table.nrows = n;
	VIEW_ADD(v, UI_FUNC("partner", partner_name, a));
	VIEW_ADD(v, UI_TABLE("scopes", &t->table));
	return 0;
}

static void on_scopes(struct app *a, const struct ui_action *act)
{
	if (is_button(act, "next"))
		do_action(a, FLOW_ACT_SCOPES);
}

static int bind_pins(struct app *a, struct view *v)
{
	if (pins_dead_end(a)) {
		if (confirm_after_error(a, N_("照会用暗証番号登録"),
					N_("照会用暗証番号を登録できる口座はもうありません。登録済みの口座で手続きを続けますか？")))
			do_action(a, FLOW_ACT_PIN_CONFIRM);
		else
			ask_cancel(a);
		return 1;
	}
	if (build_table(a, &v->t, true) < 0)
		return -1;
	VIEW_ADD(v, UI_FUNC("partner", partner_name, a));
	VIEW_ADD(v, UI_TABLE("accounts", &v->t.table));
	return 0;
}

static void on_pins(struct app *a, const struct ui_action *act)
{
	/* What is sent is what the table shows ticked: typing a PIN ticks its row on the screen,
	 * unticking a row clears its PIN (forms/pins.form: ticks = "selected"). */
	if (is_button(act, "register"))
		do_action(a, FLOW_ACT_PINS);
}

static int bind_pin_result(struct app *a, struct view *v)
{
	if (build_table(a, &v->t, false) < 0)
		return -1;
	v->can_add = false;
	for (size_t i = 0; i < a->f.n_accounts; i++)
		v->can_add = v->can_add || flow_account_selectable(&a->f.accounts[i]);
	VIEW_ADD(v, UI_FUNC("partner", partner_name, a));
	VIEW_ADD(v, UI_TABLE("accounts", &v->t.table));
	VIEW_ADD(v, UI_BOOL("can_add", &v->can_add));
	return 0;
}

static void on_pin_result(struct app *a, const struct ui_action *act)
{
	if (is_button(act, "add"))
		do_action(a, FLOW_ACT_PIN_ADD);
	else if (is_button(act, "confirm"))
		do_action(a, FLOW_ACT_PIN_CONFIRM);
}

static int bind_permission(struct app *a, struct view *v)
{
	VIEW_ADD(v, UI_FUNC("partner", partner_name, a));
	VIEW_ADD(v, UI_FUNC("scopes", perm_scopes, a));
	VIEW_ADD(v, UI_FUNC("accounts", perm_accounts, a));
	VIEW_ADD(v, UI_FUNC("period", perm_period, a));
	VIEW_ADD(v, UI_FUNC("terms", terms_text, a));
	VIEW_ADD(v, UI_BOOL("terms_read", &a->f.perm.terms_read));
	VIEW_ADD(v, UI_FUNC("read_note", read_note, a));
	VIEW_ADD(v, UI_BOOL("continue", &a->f.perm.intent));
	return 0;
}

static void on_permission(struct app *a, const struct ui_action *act)
{
	if (is_button(act, "allow"))
		do_action(a, FLOW_ACT_ALLOW);
	else if (is_button(act, "back"))
		do_action(a, FLOW_ACT_BACK); /* nowhere to go back to: flow_build makes it a cancel */
}

/* Esc on the permission screen goes back a step when the server offers one, else it cancels
 * (and the key bar says 中止). */
static void back_permission(struct app *a)
{
	if (a->f.perm.back != FLOW_NONE)
		do_action(a, FLOW_ACT_BACK);
	else
		ask_cancel(a);
}

static const char *form_final(const struct app *a)
{
	switch (a->f.step) {
	case FLOW_DONE: return "done";
	case FLOW_DENIED: return "cancelled";
	case FLOW_LOCKED: return "locked";
	default: return "error";
	}
}

static int bind_final(struct app *a, struct view *v)
{
	app_error_text(&a->f, a->msg, sizeof a->msg);
	if (a->f.step == FLOW_LOCKED) /* the form's heading already says it is locked */
		snprintf(a->msg, sizeof a->msg, "%s",
			 _("安全のため、このログインIDではAPI連携の手続きを続けられません。"));
	a->final_error = a->f.error;
	flow_clear_error(&a->f); /* the message is in the body, not on the error line */
	VIEW_ADD(v, UI_FUNC("partner", partner_name, a));
	VIEW_ADD(v, UI_FUNC("message", msg_text, a));
	return 0;
}

/* done / cancelled / locked / fatal: end (or, in a kiosk, start again). */
static void on_final(struct app *a, const struct ui_action *act)
{
	if (a->f.step == FLOW_FATAL && is_button(act, "retry")) {
		flow_restart(&a->f);
		return;
	}
	flow_set_error(&a->f, &a->final_error); /* for the exit status */
	if (a->opt->kiosk && act->kind != UI_ACT_EOF && act->kind != UI_ACT_QUIT) {
		reset(a);
		return;
	}
	a->quit = true;
}

static const struct screen_def screens[FLOW__NSTEPS] = {
	[FLOW_NONE] = {"code", NULL, bind_code, NULL, on_code, ESC_SELF, NULL},
	[FLOW_CODE] = {"code", NULL, bind_code, NULL, on_code, ESC_SELF, NULL},
	[FLOW_PARTNER] = {"partner", NULL, bind_partner, NULL, on_partner, ESC_CANCEL, NULL},
	[FLOW_LOGIN] = {NULL, form_login, bind_login, prep_any_login, on_login, ESC_BACK, back_login},
	[FLOW_QUESTION] = {"question", NULL, bind_question, prep_question, on_question, ESC_CANCEL, NULL},
	[FLOW_SCOPES] = {"scopes", NULL, bind_scopes, NULL, on_scopes, ESC_CANCEL, NULL},
	[FLOW_PINS] = {"pins", NULL, bind_pins, prep_pins, on_pins, ESC_CANCEL, NULL},
	[FLOW_PIN_RESULT] = {"pin_result", NULL, bind_pin_result, NULL, on_pin_result, ESC_CANCEL, NULL},
	[FLOW_PERMISSION] = {"permission", NULL, bind_permission, NULL, on_permission, ESC_BACK,
			     back_permission},
	[FLOW_DONE] = {NULL, form_final, bind_final, NULL, on_final, ESC_SELF, NULL},
	[FLOW_DENIED] = {NULL, form_final, bind_final, NULL, on_final, ESC_SELF, NULL},
	[FLOW_LOCKED] = {NULL, form_final, bind_final, NULL, on_final, ESC_SELF, NULL},
	[FLOW_FATAL] = {NULL, form_final, bind_final, NULL, on_final, ESC_SELF, NULL},
};

const char *app_screens_check(void)
{
	static char msg[96];
	for (int s = FLOW_NONE; s < FLOW__NSTEPS; s++) {
		const struct screen_def *d = &screens[s];
		if ((!d->form && !d->form_for) || !d->bind || !d->on_action || (d->esc == ESC_BACK && !d->back)) {
			snprintf(msg, sizeof msg, "app: step %s has no form, bind or on_action in screens[]",
				 flow_step_name((enum flow_step)s));
			return msg;
		}
	}
	return NULL;
}

/* What Esc does on this screen now: the permission screen with nowhere to go back cancels. */
static enum esc esc_of(const struct app *a, const struct screen_def *d)
{
	if (d->esc == ESC_BACK && a->f.step == FLOW_PERMISSION && a->f.perm.back == FLOW_NONE)
		return ESC_CANCEL;
	return d->esc;
}

/* One screen of the flow: bind, show, act. */
static void show_step(struct app *a)
{
	const struct screen_def *d = &screens[a->f.step < FLOW__NSTEPS ? a->f.step : FLOW_CODE];
	struct view v;
	memset(&v, 0, sizeof v);
	int rc = d->bind(a, &v);
	if (rc < 0) {
		free_table(&v.t);
		a->quit = true;
		return;
	}
	if (rc > 0) {
		free_table(&v.t);
		return;
	}
	enum esc esc = esc_of(a, d);
	struct ui_action act;
	a->esc_msgid = esc == ESC_BACK ? N_("戻る") : esc == ESC_CANCEL ? N_("中止") : N_("終了");
	if (esc == ESC_SELF && !flow_is_final(&a->f) && a->opt->kiosk)
		a->esc_msgid = ""; /* a kiosk's start screen: Esc does nothing, the key bar says nothing */
	a->cancel_key = esc == ESC_BACK;
	rc = run_form(a, d->form ? d->form : d->form_for(a), v.b, v.nb, &act, d->prep);
	a->esc_msgid = NULL;
	a->cancel_key = false;
	free_table(&v.t);
	if (rc < 0)
		return;
	if (act.kind == UI_ACT_BUTTON || esc == ESC_SELF)
		d->on_action(a, &act);
	else if (act.kind == UI_ACT_BACK && esc == ESC_BACK)
		d->back(a);
	else
		leave(a, &act);
}

int app_run(const struct options *o)
{
	/* the tables of steps, actions, problems and screens are whole, or nothing starts */
	const char *missing = flow_tables_check();
	if (!missing)
		missing = problem_table_check();
	if (!missing)
		missing = app_screens_check();
	if (missing) {
		fprintf(stderr, "renkei: %s\n", missing);
		return EXIT_ERROR;
	}
	struct app a;
	memset(&a, 0, sizeof a);
	a.opt = o;
	flow_init(&a.f);

	struct api_opts ao = {
		.server = o->server,
		.cacert = o->cacert,
		.connect_timeout = o->connect_timeout,
		.timeout = o->timeout,
	};
	struct api_err aerr;
	a.api = api_new(&ao, &aerr);
	if (!a.api) {
		fprintf(stderr, _("renkei: サーバーの設定が正しくありません: %s\n"), o->server);
		flow_free(&a.f);
		return EXIT_USAGE;
	}
	if (o->trace) {
		a.tr = trace_open(o->trace);
		if (!a.tr) {
			fprintf(stderr, _("renkei: 通信記録ファイルを開けません: %s\n"), o->trace);
			api_free(a.api);
			flow_free(&a.f);
			return EXIT_USAGE;
		}
		trace_event(a.tr, "app-start");
	}
	if (ui_init(o->kiosk ? UI_INIT_RAW : 0) < 0) {
		fprintf(stderr, "%s\n", _("renkei: 端末を使えません（TERM を確認してください）"));
		trace_close(a.tr);
		api_free(a.api);
		flow_free(&a.f);
		return EXIT_ERROR;
	}
	if (o->user_code) {
		secret_set(&a.f.user_code, o->user_code, strlen(o->user_code));
		do_action(&a, FLOW_ACT_START);
	}
	while (!a.quit)
		show_step(&a);
	ui_end();
	int code = a.card_removed ? EXIT_ERROR : flow_exit_code(&a.f);
	trace_event(a.tr, "app-end");
	trace_close(a.tr);
	api_free(a.api); /* before p11_close: the TLS context holds the token's key */
	p11_close(a.p11);
	free(a.scopes_text);
	free(a.accounts_text);
	flow_free(&a.f);
	return code;
}
