/* app_kiosk.c: what a kiosk left alone needs besides the flow: the staff exit (F12 three times,
 * then the staff PIN checked against a crypt(3) hash from the configuration; three wrong PINs lock
 * it for a while). */
#include "app_int.h"

#include <crypt.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "audit.h"
#include "exitcodes.h"

#define STAFF_TRIES 3
#define STAFF_LOCK_SECONDS 300

struct staffctx {
	char status[256];
};

static const char *staff_status(void *ctx)
{
	return ((struct staffctx *)ctx)->status;
}

/* pin against the configured hash (crypt_rn: yescrypt, sha512crypt, ... as mkpasswd makes them);
 * the work area and the result wiped. */
static bool staff_pin_ok(const char *hash, const struct secret *pin)
{
	struct crypt_data *cd = calloc(1, sizeof *cd);
	if (!cd)
		return false;
	const char *h = crypt_rn(pin->buf ? pin->buf : "", hash, cd, (int)sizeof *cd);
	bool ok = h && h[0] != '*' && strlen(h) == strlen(hash) && strcmp(h, hash) == 0;
	explicit_bzero(cd, sizeof *cd);
	free(cd);
	return ok;
}

void app_staff_exit(struct app *a)
{
	const char *hash = a->opt->kiosk_staff_pin_hash;
	if (!a->opt->kiosk || !hash || !*hash)
		return; /* no hash configured: no staff exit at all (only SIGTERM) */
	if (time(NULL) < a->staff_locked_until) {
		ui_message(N_("係員による終了"),
			   N_("係員用暗証番号の誤りが続いたため、係員による終了はしばらく使えません。"));
		return;
	}
	struct staffctx sc = {{0}};
	struct secret pin = SECRET_INIT;
	const char *esc = a->esc_msgid;
	bool cancel = a->cancel_key;
	a->esc_msgid = N_("戻る");
	a->cancel_key = false;
	for (;;) {
		const struct ui_binding b[] = {UI_SECRET("pin", &pin), UI_FUNC("status", staff_status, &sc)};
		struct ui_action act;
		if (app_run_form(a, "staff", b, 2, &act, NULL) < 0 || !app_is_button(&act, "exit"))
			break;
		bool ok = staff_pin_ok(hash, &pin);
		secret_clear(&pin);
		if (ok) {
			a->staff_tries = 0;
			a->cancel_reason = "staff";
			app_cancel_quietly(a);
			a->staff_exit = true;
			a->quit = true;
			break;
		}
		if (++a->staff_tries >= STAFF_TRIES) {
			a->staff_tries = 0;
			a->staff_locked_until = time(NULL) + STAFF_LOCK_SECONDS;
			ui_message(N_("係員による終了"),
				   N_("係員用暗証番号の誤りが続いたため、係員による終了はしばらく使えません。"));
			break;
		}
		snprintf(sc.status, sizeof sc.status, "%s", _("係員用暗証番号が正しくありません。"));
	}
	secret_free(&pin);
	a->esc_msgid = esc;
	a->cancel_key = cancel;
}

/* ---- out of service ------------------------------------------------------------------------- */

#define OOS_FIRST_MS 2000
#define OOS_CAP_MS 60000

/* protocol §1 "Reachability": any HTTP answer to the metadata document means the bank is there. */
bool app_bank_reachable(struct app *a)
{
	struct flow_req r = {.action = FLOW_ACT_NONE, .method = FLOW_GET,
			     .path = "/.well-known/oauth-authorization-server", .idempotent = true};
	struct api_resp resp;
	struct api_err err;
	memset(&resp, 0, sizeof resp);
	int rc = api_send(a->api, &r, &resp, &err);
	if (rc == 0)
		api_resp_free(&resp);
	return rc == 0;
}

/* The out-of-service screen's words in the language not shown (a walk-in customer may read
 * either). */
static const char *oos_other(void *ctx)
{
	char *buf = ctx;
	enum lang cur = i18n_lang();
	i18n_set_lang(cur == LANG_JA ? LANG_EN : LANG_JA);
	snprintf(buf, 1024, "%s\n%s", _("ただいまこの端末はご利用いただけません。"),
		 _("銀行のサーバーに接続できないため、API連携の手続きを受け付けられません。接続が回復すると、自動的に最初の画面に戻ります。お急ぎの場合は、窓口の係員にお声がけください。"));
	i18n_set_lang(cur);
	return buf;
}

/* The next wait: doubling from 2 s to 60 s, then ±20 % so that the kiosks of a branch do not all
 * ask at the same moment. */
int app_oos_backoff(int n)
{
	long ms = OOS_FIRST_MS;
	for (int i = 0; i < n && ms < OOS_CAP_MS; i++)
		ms *= 2;
	if (ms > OOS_CAP_MS)
		ms = OOS_CAP_MS;
	unsigned r = 0;
	if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r)
		r = (unsigned)time(NULL);
	return (int)(ms * (80 + (long)(r % 41)) / 100);
}

void app_kiosk_check_bank(struct app *a)
{
	if (!a->opt->kiosk || a->f.step != FLOW_CODE || a->f.session.len || app_bank_reachable(a))
		return;
	char other[1024];
	ui_set_idle(0, 0); /* nobody to wait for here */
	for (int n = 0; !a->quit; n++) {
		const struct ui_binding b[] = {UI_FUNC("other", oos_other, other)};
		struct ui_action act;
		a->esc_msgid = "";
		a->cancel_key = false;
		a->wake_ms = app_oos_backoff(n);
		int rc = app_run_form(a, "out_of_service", b, 1, &act, NULL);
		a->wake_ms = 0;
		a->esc_msgid = NULL;
		if (rc < 0 || act.kind == UI_ACT_EOF)
			break;
		if (act.kind == UI_ACT_STAFF) {
			app_staff_exit(a);
			continue;
		}
		if (act.kind == UI_ACT_TIMEOUT && app_bank_reachable(a))
			break;
	}
	ui_set_idle((int)a->opt->idle_timeout * 1000, (int)a->opt->idle_warning * 1000);
	ui_clear_all();
}

/* ---- the audit trail: one record per finished flow ------------------------------------------ */

static const char *audit_customer(const struct app *a, char *buf, size_t n)
{
	if (a->f.login.method == FLOW_LOGIN_CERTIFICATE) {
		int sel = a->p11 ? p11_selected(a->p11) : -1;
		const struct p11_cert *c = sel >= 0 ? p11_get(a->p11, (size_t)sel) : NULL;
		if (!c || !a->cert_label[0])
			return NULL;
		snprintf(buf, n, "%s", c->info.subject);
		return buf;
	}
	if (!a->f.login.login_id.len)
		return NULL;
	snprintf(buf, n, "%.*s", (int)a->f.login.login_id.len, a->f.login.login_id.buf);
	return buf;
}

/* Write r; a record that cannot be written stops renkei. */
static void audit_put(struct app *a, const struct audit_record *r)
{
	if (audit_write(a->audit, r) < 0) {
		/* never go on without the record: renkei stops (a supervisor restarts it, which then
		 * refuses to start while the trail cannot be written) */
		a->audit_failed = true;
		a->quit = true;
	}
}

static const char *audit_method(const struct app *a, const char *customer)
{
	return customer ? (a->f.login.method == FLOW_LOGIN_CERTIFICATE ? "certificate" : "password") : NULL;
}

/* A manage session's ending (event links): who looked at their links, and how it ended. */
static void audit_links_end(struct app *a, const char *result, const char *reason)
{
	char who[512];
	const char *customer = audit_customer(a, who, sizeof who);
	struct audit_record r = {
		.event = "links",
		.customer = customer,
		.method = audit_method(a, customer),
		.result = result,
		.reason = reason,
		.unconfirmed = a->cancel_unconfirmed && strcmp(result, "cancelled") == 0,
		.session = a->session_id,
	};
	audit_put(a, &r);
	explicit_bzero(who, sizeof who);
}

void app_audit_revoke(struct app *a, const struct flow_link *l)
{
	if (!a->audit)
		return;
	const char *scopes[64], *accounts[256];
	size_t ns = 0, na = 0;
	for (size_t i = 0; i < l->n_scopes && ns < 64; i++)
		scopes[ns++] = l->scopes[i].id;
	for (size_t i = 0; i < l->n_accounts && na < 256; i++)
		if (l->accounts[i].number)
			accounts[na++] = l->accounts[i].number;
	char who[512];
	const char *customer = audit_customer(a, who, sizeof who);
	struct audit_record r = {
		.event = "revoke",
		.partner = l->partner.client_id,
		.partner_name = l->partner.name.ja,
		.customer = customer,
		.method = audit_method(a, customer),
		.scopes = scopes,
		.n_scopes = ns,
		.accounts = accounts,
		.n_accounts = na,
		.result = "revoked",
		.session = a->session_id[0] ? a->session_id : NULL,
	};
	audit_put(a, &r);
	explicit_bzero(who, sizeof who);
}

void app_audit_end(struct app *a, const char *result, const char *reason)
{
	if (a->audit && !a->audited && a->f.manage && a->session_id[0]) {
		a->audited = true;
		audit_links_end(a, result, reason);
		return;
	}
	if (!a->audit || a->audited || !a->f.partner.client_id)
		return; /* nothing to record: no session was ever started */
	a->audited = true;
	const struct flow *f = &a->f;
	const char *scopes[64], *accounts[256];
	size_t ns = 0, na = 0;
	if (f->perm.n_scopes)
		for (size_t i = 0; i < f->perm.n_scopes && ns < 64; i++)
			scopes[ns++] = f->perm.scopes[i].id;
	else
		for (size_t i = 0; i < f->request.n_scopes && ns < 64; i++)
			scopes[ns++] = f->request.scopes[i].id;
	for (size_t i = 0; i < f->perm.n_accounts && na < 256; i++)
		if (f->perm.accounts[i].number)
			accounts[na++] = f->perm.accounts[i].number;
	char who[512];
	const char *customer = audit_customer(a, who, sizeof who);
	struct audit_record r = {
		.event = "consent",
		.partner = f->partner.client_id,
		.partner_name = f->partner.name.ja,
		.customer = customer,
		.method = audit_method(a, customer),
		.scopes = scopes,
		.n_scopes = ns,
		.accounts = accounts,
		.n_accounts = na,
		.result = result,
		.reason = reason,
		.unconfirmed = a->cancel_unconfirmed && strcmp(result, "cancelled") == 0,
		.session = a->session_id[0] ? a->session_id : NULL,
	};
	audit_put(a, &r);
	explicit_bzero(who, sizeof who);
}

/* The flow's final step as a record: allowed, denied, cancelled (why), locked, expired, error. */
void app_audit_final(struct app *a)
{
	const struct flow *f = &a->f;
	switch (f->step) {
	case FLOW_DONE:
		app_audit_end(a, "allowed", NULL);
		break;
	case FLOW_ENDED:
		app_audit_end(a, "ended", NULL);
		break;
	case FLOW_DENIED:
		if (f->last == FLOW_ACT_DENY)
			app_audit_end(a, "denied", NULL);
		else
			app_audit_end(a, "cancelled", a->cancel_reason ? a->cancel_reason : "customer");
		break;
	case FLOW_LOCKED:
		app_audit_end(a, "locked", problem_name(PROBLEM_LOGIN_LOCKED));
		break;
	default:
		app_audit_end(a, f->error.kind == PROBLEM_SESSION_EXPIRED || f->error.kind == PROBLEM_SESSION_UNKNOWN
				 ? "expired" : "error", problem_name(f->error.kind));
		break;
	}
}
