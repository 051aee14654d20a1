/* app_text.c: the words of the screens (account labels, dates, PIN states, the error text from
 * problem.c's table) and the string bindings made at paint time, so that F2 re-translates them. */
#include "app_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
	if (tries == 0)
		/* TRANSLATORS: %s is a sentence about what was wrong; no try is left: the login may be locked
		   now (said without telling whether the login ID exists) */
		snprintf(buf, size, _("%s ログインがロックされた可能性があります。入力内容に誤りがないのにログインできない場合は、お取引店またはヘルプデスクにお問い合わせください。"),
			 what);
	else if (tries > 0)
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
		if (e->field == FLOW_FIELD_PASSWORD) { /* too many logins (protocol §4.5), not codes */
			if (e->retry_after > 0)
				snprintf(buf, size, _("ログインの試行が続いたため、受付を一時停止しています。%ld秒後にもう一度お試しいただくか、手続きを中止してください。"),
					 e->retry_after);
			else
				snprintf(buf, size, "%s", _("ログインの試行が続いたため、受付を一時停止しています。しばらく待ってからお試しいただくか、手続きを中止してください。"));
		} else if (f->step != FLOW_CODE) { /* a server's limit on any other step: not the codes */
			if (e->retry_after > 0)
				snprintf(buf, size, _("銀行のサーバーが混み合っているため、受付を一時停止しています。%ld秒後にもう一度お試しください。"),
					 e->retry_after);
			else
				snprintf(buf, size, "%s", _("銀行のサーバーが混み合っているため、受付を一時停止しています。しばらく待ってからお試しください。"));
		} else if (e->retry_after > 0)
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

const char *app_partner_name(void *ctx)
{
	struct app *a = ctx;
	return l10n_get(&a->f.partner.name, i18n_lang());
}

const char *app_question_text(void *ctx)
{
	struct app *a = ctx;
	return l10n_get(&a->f.question.text, i18n_lang());
}

const char *app_terms_text(void *ctx)
{
	struct app *a = ctx;
	return l10n_get(&a->f.perm.terms, i18n_lang());
}

const char *app_msg_text(void *ctx)
{
	struct app *a = ctx;
	return a->msg;
}

static const char *row_account(void *ctx)
{
	struct rowctx *r = ctx;
	return app_account_label(r->acct, r->label, sizeof r->label);
}

/* The scope words of screens.md: a bank that names these scopes in Japanese only still gets them
 * in English from the catalog. Any other scope shows the bank's own name. */
static const char *const scope_words[] = {N_("残高照会"), N_("入金出金照会")};

/* A scope's name in the current language: the bank's, else the catalog's for a known word. */
const char *app_scope_name(const struct flow_scope *sc)
{
	if (i18n_lang() == LANG_EN && !(sc->name.en && sc->name.en[0]) && sc->name.ja)
		for (size_t i = 0; i < sizeof scope_words / sizeof scope_words[0]; i++)
			if (strcmp(sc->name.ja, scope_words[i]) == 0)
				return _(scope_words[i]);
	return l10n_get(&sc->name, i18n_lang());
}

const char *app_row_scope(void *ctx)
{
	struct rowctx *r = ctx;
	return app_scope_name(r->scope);
}

static const char *row_memo(void *ctx)
{
	struct rowctx *r = ctx;
	return r->acct->memo && *r->acct->memo ? r->acct->memo : "-";
}

/* A row's 登録状態 / 登録状況 cell: the last registration try's result, else its state (result: the
 * result table of 手順5, where a pending PIN is marked ※). */
const char *app_row_status(const struct flow_account *a, bool result, char *buf, size_t size)
{
	switch (a->result) {
	case FLOW_ROW_WRONG:
		if (a->result_tries_left >= 0)
			/* TRANSLATORS: PIN table status cell, keep it short (about 10 columns) */
			snprintf(buf, size, _("誤り 残%d回"), a->result_tries_left);
		else
			snprintf(buf, size, "%s", _("誤り"));
		return buf;
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
	if (result && a->pin == FLOW_PIN_PENDING)
		/* TRANSLATORS: result table (手順5): registered now, valid once the authorization completes
		   (the ※ matches the note under the table) */
		return _("※登録済み");
	return app_pin_state(a);
}

static const char *row_status(void *ctx)
{
	struct rowctx *r = ctx;
	return app_row_status(r->acct, r->result, r->status, sizeof r->status);
}

static const char *row_pin_shown(void *ctx)
{
	struct rowctx *r = ctx;
	if (r->acct->pin == FLOW_PIN_PENDING)
		return ui_mask(r->pin, sizeof r->pin, 4);
	return "-";
}

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

int app_build_table(struct app *a, struct table_build *t, bool entry)
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

void app_free_table(struct table_build *t)
{
	free(t->ctx);
	free(t->cells);
	free(t->rows);
}

const char *app_perm_scopes(void *ctx)
{
	struct app *a = ctx;
	free(a->scopes_text);
	size_t cap = 16;
	for (size_t i = 0; i < a->f.perm.n_scopes; i++)
		cap += strlen(app_scope_name(&a->f.perm.scopes[i])) + 8;
	a->scopes_text = calloc(1, cap);
	if (!a->scopes_text)
		return "";
	for (size_t i = 0; i < a->f.perm.n_scopes; i++) {
		if (i)
			strcat(a->scopes_text, _("、"));
		strcat(a->scopes_text, app_scope_name(&a->f.perm.scopes[i]));
	}
	return a->scopes_text;
}

const char *app_perm_accounts(void *ctx)
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
const char *app_read_note(void *ctx)
{
	struct app *a = ctx;
	if (a->f.perm.terms_read)
		return "";
	/* TRANSLATORS: shown after 「許可手続きを継続する」 until the terms were read to their end; the
	   checkbox, its label and this must fit 76 columns (English: about 34 characters) */
	return _("（意思確認を最後までお読みください）");
}

const char *app_perm_period(void *ctx)
{
	struct app *a = ctx;
	char from[64], to[64];
	app_date(a->f.perm.from, from, sizeof from);
	app_date(a->f.perm.to, to, sizeof to);
	/* TRANSLATORS: authorization period: from – to */
	snprintf(a->period, sizeof a->period, _("%s 〜 %s"), from, to);
	return a->period;
}
