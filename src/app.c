/* app.c: the main loop tying the UI, the flow and the REST client together (see include/app.h).
 * Data flows one way: keys -> widget -> flow -> api -> server; answer -> flow -> next screen. */
#include "app_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "audit.h"
#include "exitcodes.h"
#include "forms.h"
#include "i18n.h"
#include "p11.h"
#include "trace.h"
#include "ui.h"

/* Kiosk: back to the start, wiping everything of the previous customer (token login included). */
void app_reset(struct app *a)
{
	app_audit_end(a, "cancelled", a->cancel_reason ? a->cancel_reason : "customer"); /* if none yet */
	a->audited = false;
	a->cancel_reason = NULL;
	a->cancel_unconfirmed = false;
	a->session_id[0] = '\0';
	a->customer_done = true; /* the kiosk then asks whether the bank is still there */
	flow_reset(&a->f);
	if (a->p11) {
		api_set_ssl_ctx_cb(a->api, NULL, NULL);
		p11_close(a->p11);
		a->p11 = NULL;
	}
	a->cert_label[0] = '\0';
}

static const char *error_question_text(void *ctx)
{
	struct app *a = ctx;
	char err[512];
	app_error_text(&a->f, err, sizeof err);
	snprintf(a->dlg, sizeof a->dlg, "%s%s%s", err, err[0] ? "\n\n" : "", _(a->question));
	return a->dlg;
}

/* Yes/no (yes by default): f.error's sentence, if any, then question (a msgid). */
bool app_confirm_after_error(struct app *a, const char *title, const char *question)
{
	a->question = question;
	return ui_confirm_fn(title, error_question_text, a, true);
}

/* Send what flow_build made; apply the answer. Offers a retry on transport failures (everything
 * typed is kept by the flow). Returns 0 when an answer (good or problem) was applied. */
static int send_req(struct app *a, struct flow_req *req)
{
	if (a->p11 && p11_selected(a->p11) >= 0 && !a->checking_card) {
		struct p11_err pe = {0};
		if (p11_token_present(a->p11, &pe) == 0) {
			flow_req_free(req);
			app_card_removed(a);
			return -1;
		}
	}
	/* a cancel asks its own question (app_ask_cancel): it is safe to send again in any case */
	bool ask = req->action != FLOW_ACT_CANCEL;
	for (;;) {
		struct api_resp resp;
		struct api_err err;
		memset(&resp, 0, sizeof resp);
		int rc = api_send(a->api, req, &resp, &err);
		if (rc == 0) {
			flow_apply(&a->f, resp.status, resp.content_type, resp.body, resp.len);
			if (a->f.session.len && !a->session_id[0]) /* the record's join key, not the token */
				audit_session_id(a->f.session.buf, a->session_id);
			trace_request(a->tr, req, &a->f, resp.status, resp.ms);
			trace_response(a->tr, resp.status, resp.content_type, resp.body, resp.len, resp.ms, PROBLEM_NONE);
			api_resp_free(&resp);
		} else {
			flow_net_error(&a->f, err.kind);
			trace_request(a->tr, req, &a->f, 0, 0);
			trace_response(a->tr, 0, NULL, NULL, 0, 0, err.kind);
		}
		flow_req_free(req);
		if (a->f.refresh) {
			if (flow_build(&a->f, FLOW_ACT_REFRESH, req) == 0)
				continue;
		}
		if (rc != 0 && ask && !a->checking_card && a->f.error.can_retry &&
		    problem_is_transport(a->f.error.kind)) {
			if (app_confirm_after_error(a, N_("通信エラー"), N_("もう一度送信しますか？"))) {
				if (flow_build_retry(&a->f, req) == 0)
					continue;
			}
		}
		return rc;
	}
}

void app_do_action(struct app *a, enum flow_action act)
{
	struct flow_req req;
	memset(&req, 0, sizeof req);
	if (flow_build(&a->f, act, &req) < 0)
		return; /* a local check failed: f.error says which */
	send_req(a, &req);
}

/* The bank's answer ended the request: cancelled (or final meanwhile), or the session is gone. */
bool app_cancel_taken(const struct app *a)
{
	return a->f.session.len == 0 || flow_is_final(&a->f);
}

/* Cancel on the server without asking anything (idle, signal, card, staff exit): sent once, resent
 * by itself where the budget allows (a cancel is safe to repeat: protocol §4.11). When no answer
 * confirmed it, the audit record says so; the bank's session then ends when it expires. */
void app_cancel_quietly(struct app *a)
{
	if (app_cancel_taken(a))
		return;
	app_do_action(a, FLOW_ACT_CANCEL);
	if (!app_cancel_taken(a))
		a->cancel_unconfirmed = true;
}

/* Cancel the consent on the server (the partner gets access_denied), after confirming. Until the
 * bank confirms it (a server error, a garbled answer, no connection), the customer is asked whether
 * to send it again (yes by default); no: back on the screen, everything kept, the error line says
 * what happened, Esc asks again. */
void app_ask_cancel(struct app *a)
{
	const char *again;
	if (a->f.manage) { /* linked services: nothing is pending; the session just ends */
		if (!ui_confirm(N_("終了"), N_("連携中のサービスの確認を終了しますか？"), false))
			return;
		again = N_("銀行から終了の確認が得られませんでした。もう一度送信しますか？");
	} else {
		if (!ui_confirm(N_("手続きの中止"),
				N_("API連携の手続きを中止しますか？ 中止すると、連携先には許可しなかったことが伝わります。"),
				false))
			return;
		again = N_("銀行から中止の確認が得られませんでした。もう一度送信しますか？");
	}
	app_do_action(a, FLOW_ACT_CANCEL);
	while (!a->quit && !app_cancel_taken(a) && a->f.error.kind != PROBLEM_NONE &&
	       app_confirm_after_error(a, a->f.manage ? N_("終了") : N_("手続きの中止"), again))
		app_do_action(a, FLOW_ACT_CANCEL);
}

static const char *error_line_text(void *ctx)
{
	struct app *a = ctx;
	return app_error_text(&a->f, a->errline, sizeof a->errline);
}

/* Show form `name` with bindings until the user acts. The error line shows f.error. */
int app_run_form(struct app *a, const char *name, const struct ui_binding *b, size_t nb,
		    struct ui_action *act, void (*prep)(struct app *, struct ui_screen *))
{
	/* loaded and checked at start (app_run): a form is never missing here */
	const struct form *form = form_set_get(a->forms, name);
	trace_screen(a->tr, name, &a->f);
	struct ui_screen *s = form ? ui_screen_new(form, b, nb) : NULL;
	if (!s) {
		a->quit = true;
		return -1;
	}
	if (a->f.error.kind != PROBLEM_NONE)
		ui_screen_set_error_fn(s, error_line_text, a);
	if (prep)
		prep(a, s);
	ui_screen_set_keys(s, a->esc_msgid, a->cancel_key);
	ui_screen_set_wake(s, a->wake_ms);
	int rc = ui_screen_run(s, act);
	/* The button id points into the form: copy what the caller needs first. */
	static char button[64];
	if (rc == 0 && act->button) {
		snprintf(button, sizeof button, "%s", act->button);
		act->button = button;
	}
	ui_screen_free(s);
	return rc;
}

bool app_is_button(const struct ui_action *act, const char *id)
{
	return act->kind == UI_ACT_BUTTON && act->button && strcmp(act->button, id) == 0;
}

/* Esc, kiosk idle timeout, Ctrl-C: leave the flow (cancelling any session on the server). */
void app_leave(struct app *a, const struct ui_action *act)
{
	if (act->kind == UI_ACT_TIMEOUT || act->kind == UI_ACT_EOF || act->kind == UI_ACT_QUIT) {
		a->cancel_reason = act->kind == UI_ACT_TIMEOUT ? "idle" : "signal";
		app_cancel_quietly(a);
		app_audit_end(a, "cancelled", a->cancel_reason);
		if (!a->opt->kiosk || act->kind != UI_ACT_TIMEOUT)
			a->quit = true;
		else
			app_reset(a);
		return;
	}
	app_ask_cancel(a);
}

/* The tables of steps, actions, problems and screens are whole, or nothing starts: NULL, or what
 * is missing. */
const char *app_tables_missing(void)
{
	const char *missing = flow_tables_check();
	if (!missing)
		missing = problem_table_check();
	if (!missing)
		missing = app_screens_check();
	return missing;
}

/* The REST client, the trace and the terminal: 0, or the exit status (said on stderr, nothing
 * left open). */
static int app_open(struct app *a, const struct options *o)
{
	struct api_opts ao = {
		.server = o->server,
		.cacert = o->cacert,
		.connect_timeout = o->connect_timeout,
		.timeout = o->timeout,
	};
	struct api_err aerr;
	a->api = api_new(&ao, &aerr);
	if (!a->api) {
		fprintf(stderr, _("renkei: サーバーの設定が正しくありません: %s\n"), o->server);
		return EXIT_USAGE;
	}
	if (o->trace) {
		a->tr = trace_open(o->trace);
		if (!a->tr) {
			fprintf(stderr, _("renkei: 通信記録ファイルを開けません: %s\n"), o->trace);
			api_free(a->api);
			return EXIT_USAGE;
		}
		trace_start(a->tr, o);
	}
	if (ui_init(o->kiosk ? UI_INIT_RAW : 0) < 0) {
		fprintf(stderr, "%s\n", _("renkei: 端末を使えません（TERM を確認してください）"));
		trace_close(a->tr);
		api_free(a->api);
		return EXIT_ERROR;
	}
	if (o->kiosk)
		ui_set_idle((int)o->idle_timeout * 1000, (int)o->idle_warning * 1000);
	return 0;
}

/* The audit trail, before anything else: a target that cannot be written stops renkei here. */
int app_audit_start(struct app *a, const struct options *o)
{
	if (!o->audit)
		return 0;
	char err[640];
	struct audit_opts ao = {.target = o->audit, .facility = o->audit_facility, .socket = o->audit_socket,
				.terminal = o->terminal_id, .unmasked = o->audit_unmasked};
	a->audit = audit_open(&ao, err, sizeof err);
	if (!a->audit) {
		fprintf(stderr, "renkei: %s\n", err);
		return EXIT_ERROR;
	}
	return 0;
}

/* Nobody answered (kiosk idle time out, on a screen or in a dialog): the flow is cancelled on the
 * server (the partner gets access_denied; no dialog asks anything while the time is out), everything
 * of this customer is wiped, the screen and its scroll-back cleared, the start screen comes back. */
static void idle_end(struct app *a)
{
	a->cancel_reason = "idle";
	app_cancel_quietly(a);
	app_audit_end(a, "cancelled", "idle");
	app_reset(a);
	ui_clear_all();
	ui_idle_clear();
	if (!a->opt->kiosk)
		a->quit = true;
}

int app_run(const struct options *o)
{
	const char *missing = app_tables_missing();
	if (missing) {
		fprintf(stderr, "renkei: %s\n", missing);
		return EXIT_ERROR;
	}
	struct app a;
	memset(&a, 0, sizeof a);
	a.opt = o;
	char err[640];
	a.forms = form_set_load(o->forms_dir, err, sizeof err); /* every form, before any screen */
	if (!a.forms) {
		fprintf(stderr, "renkei: %s\n", err);
		return EXIT_ERROR;
	}
	flow_init(&a.f);
	int rc = app_audit_start(&a, o);
	if (!rc)
		rc = app_open(&a, o);
	if (rc) {
		audit_close(a.audit);
		flow_free(&a.f);
		form_set_free(a.forms);
		return rc;
	}
	if (o->user_code) {
		secret_set(&a.f.user_code, o->user_code, strlen(o->user_code));
		app_do_action(&a, FLOW_ACT_START);
	}
	bool check_bank = true; /* at start, then after each customer */
	while (!a.quit) {
		if (check_bank)
			app_kiosk_check_bank(&a);
		check_bank = false;
		app_show_step(&a);
		check_bank = a.f.step == FLOW_CODE && a.f.session.len == 0 && a.customer_done;
		a.customer_done = false;
		if (ui_idle_expired())
			idle_end(&a);
	}
	ui_end();
	if (a.f.session.len && !flow_is_final(&a.f))
		app_audit_end(&a, "error", problem_name(a.f.error.kind)); /* ended mid-flow */
	else if (flow_is_final(&a.f))
		app_audit_final(&a);
	int code = a.staff_exit ? EXIT_STAFF : a.card_removed ? EXIT_ERROR : flow_exit_code(&a.f);
	if (a.audit_failed) {
		fprintf(stderr, "renkei: %s\n", _("監査記録を書き込めなかったため終了しました。"));
		code = EXIT_ERROR;
	}
	audit_close(a.audit);
	trace_end(a.tr, &a.f, code);
	trace_close(a.tr);
	api_free(a.api); /* before p11_close: the TLS context holds the token's key */
	p11_close(a.p11);
	free(a.scopes_text);
	free(a.accounts_text);
	free(a.links_text);
	flow_free(&a.f);
	form_set_free(a.forms);
	return code;
}

int app_check_forms(const char *dir)
{
	char err[640];
	struct form_set *s = form_set_load(dir, err, sizeof err);
	if (!s) {
		fprintf(stderr, "renkei: %s\n", err);
		return EXIT_ERROR;
	}
	form_set_free(s);
	/* TRANSLATORS: --check-forms found nothing wrong */
	printf(_("%s: すべての画面定義を確認しました。問題はありません。\n"), dir);
	return EXIT_ALLOWED;
}
