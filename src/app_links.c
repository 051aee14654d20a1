/* app_links.c: the linked services (連携中のサービス, a manage session, protocol §4.12): the links
 * table, the details and confirmation texts, the revocations one by one, their audit records. */
#include "app_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "ui_text.h"

struct linkrow {
	const struct flow_link *l;
	char scopes[256];
	char from[32], to[32];
};

/* "2026/12/03": the table's short date (the details say it in words). */
static const char *short_date(const char *iso, char *buf, size_t size)
{
	int y, m, d;
	char tail;
	if (!iso || sscanf(iso, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3)
		snprintf(buf, size, "%s", iso ? iso : "");
	else
		/* TRANSLATORS: a short date in the linked services table (10 columns): year/month/day */
		snprintf(buf, size, _("%1$04d/%2$02d/%3$02d"), y, m, d);
	return buf;
}

/* The scope names of a link in the current language, joined as the permission screen joins them. */
const char *app_link_scopes(const struct flow_link *l, char *buf, size_t size)
{
	buf[0] = '\0';
	for (size_t i = 0; i < l->n_scopes; i++) {
		size_t n = strlen(buf);
		snprintf(buf + n, size - n, "%s%s", i ? _("、") : "", app_scope_name(&l->scopes[i]));
	}
	return buf;
}

static const char *row_partner(void *ctx)
{
	const struct linkrow *r = ctx;
	return l10n_get(&r->l->partner.name, i18n_lang());
}

/* The columns the table gives 認可対象 at 80x24 (forms/links.form: it shares what the fixed
 * columns leave with 連携先): past that, the first scope and how many more (the details say all). */
#define SCOPES_COLS 23

static const char *row_scopes(void *ctx)
{
	struct linkrow *r = ctx;
	app_link_scopes(r->l, r->scopes, sizeof r->scopes);
	if (ui_width(r->scopes) > SCOPES_COLS && r->l->n_scopes > 1)
		/* TRANSLATORS: the linked services table when the scopes do not fit: the first scope and
		   how many others (at most 23 columns), e.g. "Balance inquiry +1 more" */
		snprintf(r->scopes, sizeof r->scopes, _("%s ほか%zu件"), app_scope_name(&r->l->scopes[0]),
			 r->l->n_scopes - 1);
	return r->scopes;
}

static const char *row_from(void *ctx)
{
	struct linkrow *r = ctx;
	return short_date(r->l->from, r->from, sizeof r->from);
}

static const char *row_to(void *ctx)
{
	struct linkrow *r = ctx;
	return short_date(r->l->to, r->to, sizeof r->to);
}

#define LINK_CELLS 5

int app_links_table(struct app *a, struct links_table *t)
{
	size_t n = a->f.n_links, m = n ? n : 1;
	t->ctx = calloc(m, sizeof(struct linkrow));
	t->cells = calloc(m * LINK_CELLS, sizeof *t->cells);
	t->rows = calloc(m, sizeof *t->rows);
	if (!t->ctx || !t->cells || !t->rows)
		return -1;
	struct linkrow *rows = t->ctx;
	for (size_t i = 0; i < n; i++) {
		struct ui_binding *c = &t->cells[i * LINK_CELLS];
		rows[i].l = &a->f.links[i];
		c[0] = (struct ui_binding)UI_BOOL("selected", &a->f.links[i].selected);
		c[1] = (struct ui_binding)UI_FUNC("partner", row_partner, &rows[i]);
		c[2] = (struct ui_binding)UI_FUNC("scopes", row_scopes, &rows[i]);
		c[3] = (struct ui_binding)UI_FUNC("from", row_from, &rows[i]);
		c[4] = (struct ui_binding)UI_FUNC("to", row_to, &rows[i]);
		t->rows[i].cells = c;
		t->rows[i].ncells = LINK_CELLS;
	}
	t->table.rows = t->rows;
	t->table.nrows = n;
	return 0;
}

void app_links_table_free(struct links_table *t)
{
	free(t->ctx);
	free(t->cells);
	free(t->rows);
	memset(t, 0, sizeof *t);
}

const char *app_links_empty(void *ctx)
{
	const struct app *a = ctx;
	return a->f.n_links ? "" : _("現在、連携中のサービスはありません。");
}

/* Append printf output to a->links_text (grown as needed). */
static void text_add(struct app *a, size_t *cap, const char *fmt, const char *s)
{
	size_t used = a->links_text ? strlen(a->links_text) : 0, need = used + strlen(fmt) + strlen(s) + 1;
	if (need > *cap) {
		size_t nc = need * 2;
		char *t = realloc(a->links_text, nc);
		if (!t)
			return;
		if (!a->links_text)
			t[0] = '\0';
		a->links_text = t;
		*cap = nc;
	}
	snprintf(a->links_text + used, *cap - used, fmt, s);
}

/* One link in full: partner, scopes, accounts, dates (the details and the confirmation). */
static void link_text(struct app *a, size_t *cap, const struct flow_link *l, bool dates)
{
	char buf[512], d[64];
	text_add(a, cap, _("連携先：%s\n"), l10n_get(&l->partner.name, i18n_lang()));
	text_add(a, cap, _("対象業務：%s\n"), app_link_scopes(l, buf, sizeof buf));
	text_add(a, cap, "%s\n", _("対象口座："));
	for (size_t i = 0; i < l->n_accounts; i++)
		text_add(a, cap, "  %s\n", app_account_label(&l->accounts[i], buf, sizeof buf));
	if (!l->n_accounts)
		text_add(a, cap, "  %s\n", "-");
	if (dates) {
		text_add(a, cap, _("連携日：%s\n"), app_date(l->from, d, sizeof d));
		text_add(a, cap, _("有効期限：%s\n"), app_date(l->to, d, sizeof d));
	}
}

static const char *selected_text(struct app *a, bool dates)
{
	size_t cap = 0;
	free(a->links_text);
	a->links_text = NULL;
	for (size_t i = 0; i < a->f.n_links; i++) {
		if (!a->f.links[i].selected)
			continue;
		if (a->links_text)
			text_add(a, &cap, "%s", "\n");
		link_text(a, &cap, &a->f.links[i], dates);
	}
	return a->links_text ? a->links_text : "";
}

const char *app_links_detail(void *ctx)
{
	return selected_text(ctx, true);
}

const char *app_links_confirm_text(void *ctx)
{
	return selected_text(ctx, false);
}

const char *app_links_stopped(void *ctx)
{
	struct app *a = ctx;
	size_t cap = 0;
	free(a->links_text);
	a->links_text = NULL;
	for (size_t i = 0; i < a->f.n_stopped; i++)
		text_add(a, &cap, _("・%s\n"), l10n_get(&a->f.stopped[i].partner.name, i18n_lang()));
	return a->links_text ? a->links_text : "";
}

static void send_by_screen(void *ctx, enum flow_action act)
{
	app_do_action(ctx, act);
}

/* 「停止する」: one revocation per ticked link, each recorded as it is done; stops at the first
 * failure (the screen shows it; those done are done). send sends an action the way the front-end
 * does (its questions after a transport failure). */
void app_links_stop_with(struct app *a, void (*send)(void *ctx, enum flow_action act), void *ctx)
{
	while (a->f.step == FLOW_LINK_CONFIRM && flow_links_selected(&a->f) && !a->quit) {
		size_t before = a->f.n_stopped;
		send(ctx, FLOW_ACT_REVOKE);
		if (a->f.n_stopped > before)
			app_audit_revoke(a, &a->f.stopped[a->f.n_stopped - 1]);
		if (a->f.error.kind != PROBLEM_NONE || a->f.n_stopped == before)
			break;
	}
}

void app_links_stop(struct app *a)
{
	app_links_stop_with(a, send_by_screen, a);
}
