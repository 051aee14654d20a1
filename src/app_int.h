/* app_int.h: internal to the app module (src/app*.c): the app's state and the functions its rooms
 * share: texts (app_text.c), the certificate chooser (app_cert.c), the screens (app_screens.c) and
 * the main loop (app.c). Flow state is written only through flow.c's functions. */
#ifndef RENKEI_APP_INT_H
#define RENKEI_APP_INT_H
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "api.h"
#include "app.h"
#include "flow.h"
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
	/* kiosk: the staff exit (app_kiosk.c) */
	int staff_tries;
	time_t staff_locked_until;
	bool staff_exit;
	struct form_set *forms; /* every form, loaded and checked at start */
	int wake_ms;            /* the next form returns UI_ACT_TIMEOUT after this long (0: never) */
	bool customer_done;     /* a customer's flow ended (app_reset) since the last screen */
	/* the audit trail (app_kiosk.c) */
	struct audit *audit;
	bool audited;           /* this flow's record is written */
	bool audit_failed;      /* a record could not be written: renkei stops */
	const char *cancel_reason; /* why the flow is being cancelled: idle, signal, card, staff */
	bool cancel_unconfirmed; /* a cancel sent without asking got no answer confirming it */
	char session_id[33];    /* audit_session_id() of the session token: never the token */
	char *links_text;       /* linked services: the details / confirmation / stopped text */
};

struct rowctx {
	const struct flow_account *acct;
	const struct flow_scope *scope;
	bool result;          /* the result table (手順5): a pending PIN is marked ※ */
	char label[256];
	char status[128];
	char pin[64];
};

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

/* ---- app_text.c: the words and the string bindings that follow the language ---------------- */
const char *app_partner_name(void *ctx);
const char *app_question_text(void *ctx);
const char *app_terms_text(void *ctx);
const char *app_msg_text(void *ctx);
const char *app_row_scope(void *ctx);
const char *app_perm_scopes(void *ctx);
const char *app_perm_accounts(void *ctx);
const char *app_perm_period(void *ctx);
const char *app_read_note(void *ctx);
/* A scope's name in the current language: the bank's, else the catalog's for a known word. */
const char *app_scope_name(const struct flow_scope *sc);
/* The PIN table (entry: the pins step) or the result table: rows bound to f.accounts. 0 or -1. */
int app_build_table(struct app *a, struct table_build *t, bool entry);
void app_free_table(struct table_build *t);

/* ---- app_links.c: the linked services (a manage session) ------------------------------------- */
struct links_table {
	void *ctx;              /* one row context per link */
	struct ui_binding *cells;
	struct ui_row *rows;
	struct ui_table table;
};
/* The links table: rows bound to f.links. 0 or -1. */
int app_links_table(struct app *a, struct links_table *t);
void app_links_table_free(struct links_table *t);
const char *app_links_empty(void *ctx);
const char *app_links_detail(void *ctx);
const char *app_links_confirm_text(void *ctx);
const char *app_links_stopped(void *ctx);
/* Stop every ticked link (FLOW_LINK_CONFIRM), one request each, each one recorded. */
void app_links_stop(struct app *a);
void app_links_stop_with(struct app *a, void (*send)(void *ctx, enum flow_action act), void *ctx);
/* A link's scope names in the current language, joined with 「、」. */
const char *app_link_scopes(const struct flow_link *l, char *buf, size_t size);

/* ---- app_cert.c: the certificate chooser, the token PIN, a pulled card ---------------------- */
const char *app_cert_text(void *ctx);
/* a->cert_label from the certificate chosen (logged in), in the current language; "" if none. */
void app_cert_label_format(struct app *a);
/* One certificate as the chooser lists it (label) and details it (subject, issuer, validity, serial,
 * token), in the current language; false when it cannot be chosen (out of its validity). */
bool app_cert_describe(const struct p11_cert *c, time_t now, char *label, size_t lsize, char *detail,
		       size_t dsize);
void app_prep_cert(struct app *a, struct ui_screen *s);
void app_cert_choose(struct app *a);
void app_card_removed(struct app *a);
void app_p11_failed(struct p11_err *pe);

/* ---- app_screens.c: the screens[] table, one row per step ----------------------------------- */
/* One screen of the flow for a->f.step: bind, show, act. */
void app_show_step(struct app *a);

/* ---- app_kiosk.c: the staff exit ------------------------------------------------------------- */
/* The staff sequence was pressed: the staff PIN screen; on the right PIN the flow is cancelled and
 * renkei ends with EXIT_STAFF. Nothing at all without a configured hash. */
void app_staff_exit(struct app *a);
/* Kiosk, between customers (the start screen, no session): the bank reachable, else the
 * out-of-service screen until it is (asked again with backoff); returns at once otherwise. */
void app_kiosk_check_bank(struct app *a);
/* The bank answers (protocol §1 Reachability: any HTTP answer to its metadata document). */
bool app_bank_reachable(struct app *a);
/* The n-th wait (ms) before asking the bank again: 2 s doubling to 60 s, then ±20 %. */
int app_oos_backoff(int n);
/* One audit record for this flow, once (result: allowed denied cancelled locked expired error;
 * reason: a problem type, or why it was cancelled). No session, no record. */
void app_audit_end(struct app *a, const char *result, const char *reason);
/* The record of the flow's final step. */
void app_audit_final(struct app *a);
/* One stopped link (event revoke). */
void app_audit_revoke(struct app *a, const struct flow_link *l);

/* ---- app.c: requests, dialogs, forms, the main loop ----------------------------------------- */
/* Kiosk: back to the start, wiping everything of the previous customer (token login included). */
void app_reset(struct app *a);
/* Yes/no (yes by default): f.error's sentence, if any, then question (a msgid). */
bool app_confirm_after_error(struct app *a, const char *title, const char *question);
/* Build action act and send it; a local check that fails leaves f.error set. */
void app_do_action(struct app *a, enum flow_action act);
/* Cancel the consent on the server (the partner gets access_denied), after confirming; offers to
 * send it again until the bank confirms it. */
void app_ask_cancel(struct app *a);
/* The request has ended on the server (or its session is gone): nothing left to cancel. */
bool app_cancel_taken(const struct app *a);
/* Cancel without asking (idle, signal, card, staff); unconfirmed: a->cancel_unconfirmed. */
void app_cancel_quietly(struct app *a);
/* Show form `name` with bindings until the user acts (Esc's label and F9 from a->esc_msgid,
 * a->cancel_key). 0, or -1 (the form cannot be loaded: a->quit set). */
int app_run_form(struct app *a, const char *name, const struct ui_binding *b, size_t nb,
		 struct ui_action *act, void (*prep)(struct app *, struct ui_screen *));
bool app_is_button(const struct ui_action *act, const char *id);
/* Esc, kiosk idle timeout, Ctrl-C: leave the flow (cancelling any session on the server). */
void app_leave(struct app *a, const struct ui_action *act);
/* The audit trail (--audit), before anything else: 0, or EXIT_ERROR (said on stderr). */
int app_audit_start(struct app *a, const struct options *o);
/* The flow's, problems' and screens' tables are whole: NULL, or what is missing. */
const char *app_tables_missing(void);

#endif
