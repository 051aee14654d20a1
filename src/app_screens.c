/* app_screens.c: the screens[] table: for each step its form, what it binds, what its buttons do and
 * what Esc does there (docs/forms.md "Bindings per screen"). */
#include "app_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void prep_login(struct app *a, struct ui_screen *s)
{
	/* After a wrong password (or any answer, even an unreadable one: the password went out and was
	 * wiped) the ID is kept: retype only the password, never into the ID's entry. */
	if (a->f.error.kind != PROBLEM_NONE && a->f.login.login_id.len > 0 && a->f.login.password.len == 0)
		ui_screen_focus(s, "password", 0);
}

static void prep_question(struct app *a, struct ui_screen *s)
{
	if (a->f.question.masked)
		ui_screen_set_flags(s, "answer", FORM_F_MASKED, 0);
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

enum esc {
	ESC_CANCEL = 0, /* Esc asks to cancel the procedure (「中止」) */
	ESC_BACK,       /* Esc goes back a step (「戻る」: screen_def.back); F9 asks to cancel */
	ESC_SELF,       /* on_action handles every action (start and final screens) */
};

struct view {
	struct ui_binding b[8];
	size_t nb;
	struct table_build t;
	struct links_table lt;
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

/* The start: the partner's code, or (renkei --links) the linked services' first screen. */
static const char *form_code(const struct app *a)
{
	return a->opt->links ? "links_start" : "code";
}

static int bind_code(struct app *a, struct view *v)
{
	VIEW_ADD(v, UI_SECRET("user_code", &a->f.user_code));
	return 0;
}

static void on_code(struct app *a, const struct ui_action *act)
{
	if (app_is_button(act, "next")) {
		app_do_action(a, a->opt->links ? FLOW_ACT_MANAGE : FLOW_ACT_START);
		return;
	}
	if (app_is_button(act, "links")) {
		app_do_action(a, FLOW_ACT_MANAGE);
		return;
	}
	if (act->kind == UI_ACT_TIMEOUT) {
		app_reset(a);
		return;
	}
	if ((act->kind == UI_ACT_BACK || act->kind == UI_ACT_CANCEL) && a->opt->kiosk)
		return;
	if ((act->kind == UI_ACT_BACK || act->kind == UI_ACT_CANCEL) &&
	    !ui_confirm(N_("終了"), a->opt->links ? N_("連携中のサービスの確認を終了しますか？")
						  : N_("API連携の手続きを終了しますか？"), false))
		return;
	a->quit = true;
}

static int bind_partner(struct app *a, struct view *v)
{
	VIEW_ADD(v, UI_FUNC("partner", app_partner_name, a));
	return 0;
}

static const char *form_partner(const struct app *a)
{
	return a->f.manage ? "links_method" : "partner";
}

static void on_partner(struct app *a, const struct ui_action *act)
{
	if (app_is_button(act, "password"))
		flow_choose_method(&a->f, FLOW_LOGIN_PASSWORD);
	else if (app_is_button(act, "certificate"))
		flow_choose_method(&a->f, FLOW_LOGIN_CERTIFICATE);
}

static const char *form_login(const struct app *a)
{
	if (a->f.manage)
		return a->f.login.method == FLOW_LOGIN_CERTIFICATE ? "links_login_certificate" : "links_login_password";
	return a->f.login.method == FLOW_LOGIN_CERTIFICATE ? "login_certificate" : "login_password";
}

static int bind_login(struct app *a, struct view *v)
{
	VIEW_ADD(v, UI_FUNC("partner", app_partner_name, a));
	if (a->f.login.method == FLOW_LOGIN_CERTIFICATE) {
		VIEW_ADD(v, UI_FUNC("certificate", app_cert_text, a));
	} else {
		VIEW_ADD(v, UI_SECRET("login_id", &a->f.login.login_id));
	}
	VIEW_ADD(v, UI_SECRET("password", &a->f.login.password));
	return 0;
}

static void prep_any_login(struct app *a, struct ui_screen *s)
{
	if (a->f.login.method == FLOW_LOGIN_CERTIFICATE)
		app_prep_cert(a, s);
	else
		prep_login(a, s);
}

static void on_login(struct app *a, const struct ui_action *act)
{
	if (a->f.login.method == FLOW_LOGIN_CERTIFICATE) {
		if (app_is_button(act, "choose")) {
			app_cert_choose(a);
			return;
		}
		if (app_is_button(act, "login") && a->cert_label[0] == '\0') {
			ui_message(N_("電子証明書ログイン"),
				   N_("「電子証明書ログイン」ボタンを押して、電子証明書を選択してください。"));
			return;
		}
	}
	if (app_is_button(act, "login"))
		app_do_action(a, FLOW_ACT_LOGIN);
}

/* back to the partner screen and its choice of login method (no request: the server's step
 * stays login) */
static void back_login(struct app *a)
{
	flow_back_to_partner(&a->f);
}

static int bind_question(struct app *a, struct view *v)
{
	VIEW_ADD(v, UI_FUNC("partner", app_partner_name, a));
	VIEW_ADD(v, UI_FUNC("question", app_question_text, a));
	VIEW_ADD(v, UI_SECRET("answer", &a->f.question.answer));
	return 0;
}

static const char *form_question(const struct app *a)
{
	return a->f.manage ? "links_question" : "question";
}

static void on_question(struct app *a, const struct ui_action *act)
{
	if (app_is_button(act, "auth"))
		app_do_action(a, FLOW_ACT_ANSWER);
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
		c[1] = (struct ui_binding)UI_FUNC("name", app_row_scope, &t->ctx[i]);
		t->rows[i].cells = c;
		t->rows[i].ncells = 2;
	}
	t->table.rows = t->rows;
	t->table.nrows = n;
	VIEW_ADD(v, UI_FUNC("partner", app_partner_name, a));
	VIEW_ADD(v, UI_TABLE("scopes", &t->table));
	return 0;
}

static void on_scopes(struct app *a, const struct ui_action *act)
{
	if (app_is_button(act, "next"))
		app_do_action(a, FLOW_ACT_SCOPES);
}

static int bind_pins(struct app *a, struct view *v)
{
	if (pins_dead_end(a)) {
		if (app_confirm_after_error(a, N_("照会用暗証番号登録"),
					N_("照会用暗証番号を登録できる口座はもうありません。登録済みの口座で手続きを続けますか？")))
			app_do_action(a, FLOW_ACT_PIN_CONFIRM);
		else
			app_ask_cancel(a);
		return 1;
	}
	if (app_build_table(a, &v->t, true) < 0)
		return -1;
	VIEW_ADD(v, UI_FUNC("partner", app_partner_name, a));
	VIEW_ADD(v, UI_TABLE("accounts", &v->t.table));
	return 0;
}

static void on_pins(struct app *a, const struct ui_action *act)
{
	/* What is sent is what the table shows ticked: typing a PIN ticks its row on the screen,
	 * unticking a row clears its PIN (forms/pins.form: ticks = "selected"). */
	if (app_is_button(act, "register"))
		app_do_action(a, FLOW_ACT_PINS);
}

static int bind_pin_result(struct app *a, struct view *v)
{
	if (app_build_table(a, &v->t, false) < 0)
		return -1;
	v->can_add = false;
	for (size_t i = 0; i < a->f.n_accounts; i++)
		v->can_add = v->can_add || flow_account_selectable(&a->f.accounts[i]);
	VIEW_ADD(v, UI_FUNC("partner", app_partner_name, a));
	VIEW_ADD(v, UI_TABLE("accounts", &v->t.table));
	VIEW_ADD(v, UI_BOOL("can_add", &v->can_add));
	return 0;
}

static void on_pin_result(struct app *a, const struct ui_action *act)
{
	if (app_is_button(act, "add"))
		app_do_action(a, FLOW_ACT_PIN_ADD);
	else if (app_is_button(act, "confirm"))
		app_do_action(a, FLOW_ACT_PIN_CONFIRM);
}

static int bind_permission(struct app *a, struct view *v)
{
	VIEW_ADD(v, UI_FUNC("partner", app_partner_name, a));
	VIEW_ADD(v, UI_FUNC("scopes", app_perm_scopes, a));
	VIEW_ADD(v, UI_FUNC("accounts", app_perm_accounts, a));
	VIEW_ADD(v, UI_FUNC("period", app_perm_period, a));
	VIEW_ADD(v, UI_FUNC("terms", app_terms_text, a));
	VIEW_ADD(v, UI_BOOL("terms_read", &a->f.perm.terms_read));
	VIEW_ADD(v, UI_FUNC("read_note", app_read_note, a));
	VIEW_ADD(v, UI_BOOL("continue", &a->f.perm.intent));
	return 0;
}

static void on_permission(struct app *a, const struct ui_action *act)
{
	if (app_is_button(act, "allow"))
		app_do_action(a, FLOW_ACT_ALLOW);
	else if (app_is_button(act, "back"))
		app_do_action(a, FLOW_ACT_BACK); /* nowhere to go back to: flow_build makes it a cancel */
}

/* Esc on the permission screen goes back a step when the server offers one, else it cancels
 * (and the key bar says 中止). */
static void back_permission(struct app *a)
{
	if (a->f.perm.back != FLOW_NONE)
		app_do_action(a, FLOW_ACT_BACK);
	else
		app_ask_cancel(a);
}

/* ---- linked services (a manage session, protocol §4.12) ---- */

static int bind_links(struct app *a, struct view *v)
{
	if (app_links_table(a, &v->lt) < 0)
		return -1;
	VIEW_ADD(v, UI_FUNC("empty", app_links_empty, a));
	VIEW_ADD(v, UI_TABLE("links", &v->lt.table));
	return 0;
}

static void on_links(struct app *a, const struct ui_action *act)
{
	if (app_is_button(act, "detail"))
		flow_links_detail(&a->f);
	else if (app_is_button(act, "stop"))
		flow_links_confirm(&a->f);
}

static int bind_link_detail(struct app *a, struct view *v)
{
	VIEW_ADD(v, UI_FUNC("detail", app_links_detail, a));
	return 0;
}

static int bind_link_confirm(struct app *a, struct view *v)
{
	VIEW_ADD(v, UI_FUNC("detail", app_links_confirm_text, a));
	return 0;
}

static void on_link_detail(struct app *a, const struct ui_action *act)
{
	if (app_is_button(act, "stop"))
		flow_links_confirm(&a->f);
}

static void on_link_confirm(struct app *a, const struct ui_action *act)
{
	if (app_is_button(act, "stop"))
		app_links_stop(a);
}

static int bind_link_stopped(struct app *a, struct view *v)
{
	VIEW_ADD(v, UI_FUNC("stopped", app_links_stopped, a));
	return 0;
}

static void on_link_stopped(struct app *a, const struct ui_action *act)
{
	if (app_is_button(act, "ok"))
		flow_links_back(&a->f);
}

static void back_links(struct app *a)
{
	flow_links_back(&a->f);
}

static const char *form_final(const struct app *a)
{
	if (a->f.manage)
		switch (a->f.step) {
		case FLOW_ENDED: return "links_ended";
		case FLOW_LOCKED: return "links_locked";
		default: return "links_error";
		}
	switch (a->f.step) {
	case FLOW_DONE: return "done";
	case FLOW_DENIED: return "cancelled";
	case FLOW_LOCKED: return "locked";
	default: return "error";
	}
}

static int bind_final(struct app *a, struct view *v)
{
	app_audit_final(a); /* recorded as it ends, whatever happens next */
	app_error_text(&a->f, a->msg, sizeof a->msg);
	if (a->f.step == FLOW_LOCKED) /* the form's heading already says it is locked */
		snprintf(a->msg, sizeof a->msg, "%s",
			 _("安全のため、このログインIDではAPI連携の手続きを続けられません。ロックは一定時間で解除される場合があります。時間をおいてからお試しください。"));
	a->final_error = a->f.error;
	flow_clear_error(&a->f); /* the message is in the body, not on the error line */
	VIEW_ADD(v, UI_FUNC("partner", app_partner_name, a));
	VIEW_ADD(v, UI_FUNC("message", app_msg_text, a));
	return 0;
}

/* done / cancelled / locked / fatal: end (or, in a kiosk, start again). */
static void on_final(struct app *a, const struct ui_action *act)
{
	if (a->f.step == FLOW_FATAL && app_is_button(act, "retry")) {
		flow_restart(&a->f);
		a->audited = false; /* a new flow, a new record */
		a->session_id[0] = '\0';
		return;
	}
	flow_set_error(&a->f, &a->final_error); /* for the exit status */
	if (a->opt->kiosk && act->kind != UI_ACT_EOF && act->kind != UI_ACT_QUIT) {
		app_reset(a);
		return;
	}
	a->quit = true;
}

static const struct screen_def screens[FLOW__NSTEPS] = {
	[FLOW_NONE] = {NULL, form_code, bind_code, NULL, on_code, ESC_SELF, NULL},
	[FLOW_CODE] = {NULL, form_code, bind_code, NULL, on_code, ESC_SELF, NULL},
	[FLOW_PARTNER] = {NULL, form_partner, bind_partner, NULL, on_partner, ESC_CANCEL, NULL},
	[FLOW_LOGIN] = {NULL, form_login, bind_login, prep_any_login, on_login, ESC_BACK, back_login},
	[FLOW_QUESTION] = {NULL, form_question, bind_question, prep_question, on_question, ESC_CANCEL, NULL},
	[FLOW_SCOPES] = {"scopes", NULL, bind_scopes, NULL, on_scopes, ESC_CANCEL, NULL},
	[FLOW_PINS] = {"pins", NULL, bind_pins, prep_pins, on_pins, ESC_CANCEL, NULL},
	[FLOW_PIN_RESULT] = {"pin_result", NULL, bind_pin_result, NULL, on_pin_result, ESC_CANCEL, NULL},
	[FLOW_PERMISSION] = {"permission", NULL, bind_permission, NULL, on_permission, ESC_BACK,
			     back_permission},
	[FLOW_DONE] = {NULL, form_final, bind_final, NULL, on_final, ESC_SELF, NULL},
	[FLOW_DENIED] = {NULL, form_final, bind_final, NULL, on_final, ESC_SELF, NULL},
	[FLOW_LOCKED] = {NULL, form_final, bind_final, NULL, on_final, ESC_SELF, NULL},
	[FLOW_FATAL] = {NULL, form_final, bind_final, NULL, on_final, ESC_SELF, NULL},
	[FLOW_LINKS] = {"links", NULL, bind_links, NULL, on_links, ESC_CANCEL, NULL},
	[FLOW_LINK_DETAIL] = {"link_detail", NULL, bind_link_detail, NULL, on_link_detail, ESC_BACK, back_links},
	[FLOW_LINK_CONFIRM] = {"link_confirm", NULL, bind_link_confirm, NULL, on_link_confirm, ESC_BACK,
			       back_links},
	[FLOW_LINK_STOPPED] = {"link_stopped", NULL, bind_link_stopped, NULL, on_link_stopped, ESC_BACK,
			       back_links},
	[FLOW_ENDED] = {NULL, form_final, bind_final, NULL, on_final, ESC_SELF, NULL},
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
void app_show_step(struct app *a)
{
	const struct screen_def *d = &screens[a->f.step < FLOW__NSTEPS ? a->f.step : FLOW_CODE];
	struct view v;
	memset(&v, 0, sizeof v);
	int rc = d->bind(a, &v);
	if (rc < 0) {
		app_free_table(&v.t);
		app_links_table_free(&v.lt);
		a->quit = true;
		return;
	}
	if (rc > 0) {
		app_free_table(&v.t);
		app_links_table_free(&v.lt);
		return;
	}
	enum esc esc = esc_of(a, d);
	struct ui_action act;
	/* a manage session has nothing to cancel: Esc ends it (終了) */
	a->esc_msgid = esc == ESC_BACK ? N_("戻る") : esc == ESC_CANCEL && !a->f.manage ? N_("中止") : N_("終了");
	if (esc == ESC_SELF && !flow_is_final(&a->f) && a->opt->kiosk)
		a->esc_msgid = ""; /* a kiosk's start screen: Esc does nothing, the key bar says nothing */
	a->cancel_key = esc == ESC_BACK;
	rc = app_run_form(a, d->form ? d->form : d->form_for(a), v.b, v.nb, &act, d->prep);
	a->esc_msgid = NULL;
	a->cancel_key = false;
	app_free_table(&v.t);
	app_links_table_free(&v.lt);
	if (rc < 0)
		return;
	if (act.kind == UI_ACT_STAFF)
		app_staff_exit(a);
	else if (act.kind == UI_ACT_BUTTON || esc == ESC_SELF)
		d->on_action(a, &act);
	else if (act.kind == UI_ACT_BACK && esc == ESC_BACK)
		d->back(a);
	else
		app_leave(a, &act);
}
