/* flow.h: the consent state machine: the server's step and data as plain structs for the screens,
 * requests built from what the customer typed, answers applied. Knows nothing of curses or curl. */
#ifndef RENKEI_FLOW_H
#define RENKEI_FLOW_H
#include <stdbool.h>
#include <stddef.h>

#include "exitcodes.h"
#include "i18n.h"
#include "problem.h"
#include "secret.h"

/* How the app loop drives it (see also the comments of each function):
 *
 *   struct flow f;  flow_init(&f);                  // step FLOW_CODE; screens edit f.user_code
 *   for (;;) {
 *     draw the screen for f.step from f (plain data; f.error says what went wrong, if anything);
 *     the customer edits fields (struct secret members, selected/intent flags) and acts:
 *       FLOW_PARTNER "next" -> flow_confirm_partner(&f) (no request; step becomes FLOW_LOGIN)
 *       a submit/cancel/back -> action a below;   a retry after a failure -> flow_build_retry
 *     struct flow_req req;
 *     if (flow_build(&f, a, &req) < 0) continue;    // local check failed: f.error set, redraw
 *     rc = api_send(api, &req, &resp, &err);
 *     if (rc == 0) flow_apply(&f, resp.status, resp.content_type, resp.body, resp.len);
 *     else         flow_net_error(&f, err.kind);
 *     trace_request(tr, &req, &f, rc == 0 ? resp.status : 0, ms);
 *     flow_req_free(&req);                          // wipes the body (it may hold a secret)
 *     if (f.refresh) -> build FLOW_ACT_REFRESH and send it (GET: may be retried automatically)
 *     if (flow_is_final(&f)) -> show done/denied/locked/fatal, exit with flow_exit_code(&f)
 *   }
 *
 * Secrets: what the customer typed lives only in the struct secret members below. A request
 * body holding one is built into a buffer that flow_req_free wipes. Once an ANSWER came back
 * (flow_apply, success or problem), every secret that was sent is wiped; after a transport
 * failure (flow_net_error) nothing typed is lost, so a retry sends it again. */

/* ---- localized text ------------------------------------------------------------------------- */
struct l10n {
	char *ja; /* never NULL once parsed */
	char *en; /* NULL when the bank gave none */
};
/* The text in language l: en falls back to ja; never NULL ("" for an empty struct). */
const char *l10n_get(const struct l10n *t, enum lang l);

/* ---- steps ---------------------------------------------------------------------------------- */
enum flow_step {
	FLOW_NONE = 0,    /* only in flow_error.step / flow_permission.back: no step */
	FLOW_CODE,        /* 0: type the partner's user code (no session yet) */
	FLOW_PARTNER,     /* session created (server step "login"): confirm the partner, or cancel */
	FLOW_LOGIN,       /* 1-1 / 1-2 (server step "login") */
	FLOW_QUESTION,    /* 2 */
	FLOW_SCOPES,      /* 3 */
	FLOW_PINS,        /* 4 */
	FLOW_PIN_RESULT,  /* 5 */
	FLOW_PERMISSION,  /* 6 */
	FLOW_DONE,        /* final: allowed */
	FLOW_DENIED,      /* final: denied or cancelled */
	FLOW_LOCKED,      /* final: the login is locked */
	FLOW_FATAL,       /* final on the client: the session is gone (expired/unknown) or the code is
			     used; f.error says why; flow_restart() goes back to FLOW_CODE */
	/* linked services (a manage session, protocol §4.12; f.manage) */
	FLOW_LINKS,       /* the customer's links (server step "links"); rows ticked in f.links */
	FLOW_LINK_DETAIL, /* client: the ticked links in full */
	FLOW_LINK_CONFIRM,/* client: "stop these links?"; FLOW_ACT_REVOKE stops the first ticked one */
	FLOW_LINK_STOPPED,/* client: every ticked link stopped (f.stopped lists them) */
	FLOW_ENDED,       /* final: the manage session was ended by the customer */
	FLOW__NSTEPS
};
/* "code", "partner", "login", ..., "fatal" (the protocol's names where there is one). */
const char *flow_step_name(enum flow_step s);

/* ---- the data of the steps ------------------------------------------------------------------ */
struct flow_partner {
	char *client_id;
	struct l10n name;
};

struct flow_scope {
	char *id;          /* "balance", "transactions" */
	struct l10n name;
	bool selected;     /* step scopes: the customer's choice (toggled by the screen) */
};

struct flow_request {           /* what the partner asked for (envelope "request") */
	struct flow_scope *scopes;
	size_t n_scopes;
	bool scope_choice;
	int period_days;
};

/* One linked service: the grant of one consent (protocol §4.12). */
struct flow_link {
	char *id;
	struct flow_partner partner;
	struct flow_scope *scopes;
	size_t n_scopes;
	struct flow_account *accounts;
	size_t n_accounts;
	char *from, *to;          /* authorized_on, valid_until: "2026-12-03" */
	bool selected;            /* the customer's tick in the table (kept across answers, by id) */
};

enum flow_login_method { FLOW_LOGIN_PASSWORD = 0, FLOW_LOGIN_CERTIFICATE = 1 };

struct flow_login {
	bool offer_password;            /* data.methods */
	bool offer_certificate;
	enum flow_login_method method;  /* chosen by the customer (screen sets it) */
	struct secret login_id;         /* typed (a text field; kept after a wrong password) */
	struct secret password;         /* typed; wiped once an answer came back */
};

struct flow_question {
	struct l10n text;
	bool masked;
	int max_length;        /* characters */
	int tries_left;        /* -1 when not given */
	struct secret answer;  /* typed; wiped once an answer came back */
};

enum flow_acct_type { FLOW_ACCT_ORDINARY, FLOW_ACCT_CURRENT, FLOW_ACCT_SAVINGS, FLOW_ACCT_OTHER };
enum flow_pin_state { FLOW_PIN_UNREGISTERED, FLOW_PIN_REGISTERED, FLOW_PIN_PENDING };
/* The result of the last registration try for one row (pins step). */
enum flow_row_result {
	FLOW_ROW_NONE = 0,
	FLOW_ROW_REGISTERED,  /* this PIN was right and is now pending */
	FLOW_ROW_WRONG,       /* wrong PIN; row.result_tries_left tries remain */
	FLOW_ROW_LOCKED,      /* this account's registration is locked */
	FLOW_ROW_FORMAT,      /* not pin_length digits (said by the server, or found before sending) */
	FLOW_ROW_EMPTY,       /* selected but no PIN typed (found before sending) */
};

struct flow_account {
	char *id;
	struct l10n branch_name;
	char *branch_code;
	enum flow_acct_type type;
	char *type_code;          /* as the server sent it ("ordinary", ...) */
	char *number;
	char *memo;               /* NULL: none (shown as "-") */
	enum flow_pin_state pin;
	bool pin_locked;
	int tries_left;           /* -1 when not given */
	/* client side (pins step) */
	bool selected;            /* checkbox; starts false; only selectable rows are sent */
	struct secret pin_input;  /* typed PIN; wiped once an answer came back */
	enum flow_row_result result;
	int result_tries_left;    /* FLOW_ROW_WRONG: tries left, else -1 */
	bool pin_sent;            /* flow-private: pin_input is in the request in flight */
};
/* unregistered and not locked: the row may be ticked and get a PIN. */
bool flow_account_selectable(const struct flow_account *a);

struct flow_permission {      /* step permission; on done: scopes and period of the grant */
	struct flow_scope *scopes;
	size_t n_scopes;
	struct flow_account *accounts; /* the accounts the grant covers */
	size_t n_accounts;
	char *from, *to;          /* "2026-11-25" */
	struct l10n terms;
	enum flow_step back;      /* FLOW_SCOPES / FLOW_PINS / FLOW_PIN_RESULT, or FLOW_NONE: 戻る = cancel */
	bool intent;              /* 「許可手続きを継続する」 checkbox (screen toggles it) */
	bool terms_read;          /* the screen showed the terms to their end (set by the screen; the
				     checkbox can be ticked only then); kept while on the step */
};

/* ---- errors --------------------------------------------------------------------------------- */
/* enum flow_field: in problem.h (each problem type's row names its field). */

struct flow_error {
	enum problem kind;     /* PROBLEM_NONE: no error */
	long status;           /* HTTP status of the answer, 0 for transport/local errors */
	int tries_left;        /* wrong-credentials / wrong-answer: -1 when not given */
	long retry_after;      /* rate-limited: seconds, -1 when not given */
	char scope[64];        /* scope-unknown / scope-insufficient: the scope id, "" when none */
	enum flow_step step;   /* wrong-step: the server's current step (FLOW_NONE if unknown) */
	enum flow_field field; /* local input errors; also the field a server error is about */
	bool can_retry;        /* transport failure / bad answer / internal / rate-limited: the same
				  request may be sent again (flow_build_retry), everything typed kept */
};

/* ---- requests ------------------------------------------------------------------------------- */
enum flow_action {
	FLOW_ACT_NONE = 0,
	FLOW_ACT_START,        /* POST /consent/v1/sessions from user_code (+ idempotency key) */
	FLOW_ACT_REFRESH,      /* GET /consent/v1/session */
	FLOW_ACT_LOGIN,        /* POST .../login with login.method */
	FLOW_ACT_ANSWER,       /* POST .../answer */
	FLOW_ACT_SCOPES,       /* POST .../scopes: the selected scopes */
	FLOW_ACT_PINS,         /* POST .../pins: the selected rows */
	FLOW_ACT_PIN_ADD,      /* POST .../pin-result {"action":"add"} */
	FLOW_ACT_PIN_CONFIRM,  /* POST .../pin-result {"action":"confirm"} */
	FLOW_ACT_BACK,         /* POST .../back {} (when permission.back is FLOW_NONE: a cancel) */
	FLOW_ACT_ALLOW,        /* POST .../decision allow (refused locally unless permission.intent) */
	FLOW_ACT_DENY,         /* POST .../decision deny */
	FLOW_ACT_CANCEL,       /* DELETE /consent/v1/session (a manage session: ends it) */
	FLOW_ACT_MANAGE,       /* POST /consent/v1/sessions {"purpose":"manage"} (+ idempotency key) */
	FLOW_ACT_REVOKE,       /* POST .../revoke: the first ticked link (FLOW_LINK_CONFIRM) */
	FLOW_ACT__COUNT
};
/* "start", "refresh", "login", ... (for traces). */
const char *flow_action_name(enum flow_action a);

enum flow_method { FLOW_GET, FLOW_POST, FLOW_DELETE };

struct flow_req {
	enum flow_action action;
	enum flow_method method;
	const char *path;       /* static, relative to the server URL: "/consent/v1/session/login" */
	char *body;             /* JSON, NUL-terminated, or NULL (GET/DELETE); wiped by flow_req_free */
	size_t body_len;
	const char *bearer;     /* the session token (points into the flow; valid until flow_apply),
				   or NULL (start) */
	bool idempotent;        /* may be re-sent automatically after a transport failure (GET, and
				   the start, which carries an idempotency key) */
	bool secret_body;       /* the body holds a password/answer/PIN: never logged, even redacted */
};
/* "GET", "POST", "DELETE". */
const char *flow_method_name(enum flow_method m);

/* ---- the flow ------------------------------------------------------------------------------- */
struct flow {
	enum flow_step step;
	struct flow_error error;      /* the last error (kind PROBLEM_NONE when none) */
	enum flow_action inflight;    /* built by flow_build, not yet answered */
	enum flow_action last;        /* the last action sent (what flow_build_retry sends again) */
	bool refresh;                 /* the app should send FLOW_ACT_REFRESH (after a wrong-step
					 naming another step than f.step; when it names f.step, the
					 error stays for the screen: "not possible now") */

	struct secret user_code;      /* typed at FLOW_CODE (case, hyphens, spaces forgiven) */
	char idem_key[33];            /* idempotency key, one per typed (normalized) code */
	char idem_code[33];           /* the normalized code idem_key was made for */
	char sub_key[33];             /* idempotency key of the last session POST (protocol §4.2) */
	bool retrying;                /* flow_build_retry: the same submission again, the same key */
	struct secret session;        /* session token, from the start answer */
	long session_expires_in;      /* seconds, from the last answer; -1 unknown */

	struct flow_partner partner;
	struct flow_request request;
	struct flow_login login;
	struct flow_question question;
	struct flow_scope *scopes;    /* step scopes (selected flags toggled by the screen) */
	size_t n_scopes;
	int pin_length;               /* step pins */
	struct flow_account *accounts; /* steps pins and pin_result: the whole table, bank's order */
	size_t n_accounts;
	struct flow_permission perm;  /* steps permission and done */

	bool manage;                  /* a manage session (linked services, §4.12): no partner */
	struct flow_link *links;      /* step links: the customer's live links, newest first */
	size_t n_links;
	struct flow_link *stopped;    /* the links stopped since the confirmation (FLOW_LINK_STOPPED) */
	size_t n_stopped;
};

/* The steps[] and actions[] tables of flow.c are complete (every server step has its parse and
 * commit, every action its path, steps and build): NULL, or what is missing. main() refuses to
 * start otherwise; a unit test checks it. */
const char *flow_tables_check(void);

/* Step FLOW_CODE, nothing typed. Installs the wiping cJSON hooks (secret_install_json_hooks). */
void flow_init(struct flow *f);
/* Wipe and free everything. */
void flow_free(struct flow *f);
/* Kiosk: back to a fresh FLOW_CODE, everything the previous customer typed wiped. */
void flow_reset(struct flow *f);
/* After FLOW_FATAL (e.g. session-expired): back to FLOW_CODE keeping the typed code, with a new
 * idempotency key; the server data and everything else typed are wiped. */
void flow_restart(struct flow *f);
/* FLOW_PARTNER -> FLOW_LOGIN (the customer confirmed they started this request). */
void flow_confirm_partner(struct flow *f);
/* FLOW_PARTNER: the customer chose how to log in -> FLOW_LOGIN. -1 (error METHOD_UNAVAILABLE,
 * step unchanged) when the bank does not offer that method. */
int flow_choose_method(struct flow *f, enum flow_login_method m);
/* FLOW_LOGIN -> FLOW_PARTNER (no request: the server's step stays login), error cleared. */
void flow_back_to_partner(struct flow *f);
/* Linked services, client steps (no request): FLOW_LINKS -> FLOW_LINK_DETAIL or FLOW_LINK_CONFIRM
 * (-1 with error INPUT_REQUIRED, field LINKS, when no row is ticked); FLOW_LINK_DETAIL ->
 * FLOW_LINK_CONFIRM; flow_links_back: FLOW_LINK_DETAIL / CONFIRM / STOPPED -> FLOW_LINKS (from
 * STOPPED the list of stopped links is emptied). */
int flow_links_detail(struct flow *f);
int flow_links_confirm(struct flow *f);
void flow_links_back(struct flow *f);
/* Ticked rows of f.links. */
size_t flow_links_selected(const struct flow *f);

/* Forget the last error (e.g. when the customer starts typing again). */
void flow_clear_error(struct flow *f);
/* Put back an error taken earlier (the final screen shows it in its body, then the exit status
 * needs it again). */
void flow_set_error(struct flow *f, const struct flow_error *e);

/* Build the request for action a from what is in f. 0, or -1 when it is not sent: the action does
 * not fit the step (error PROBLEM_WRONG_STEP, locally) or a local check failed (error
 * PROBLEM_INPUT_REQUIRED / PROBLEM_INPUT_FORMAT / PROBLEM_SCOPE_REQUIRED /
 * PROBLEM_PIN_REQUIRED / PROBLEM_INTENT_REQUIRED, with error.field; PIN rows get result
 * FLOW_ROW_EMPTY / FLOW_ROW_FORMAT). On 0 the previous error is cleared and r must be passed to
 * flow_req_free after sending. */
int flow_build(struct flow *f, enum flow_action a, struct flow_req *r);
/* Build f->last again (after a failure with error.can_retry). 0 or -1. */
int flow_build_retry(struct flow *f, struct flow_req *r);
/* Wipe and free the body. Safe on a zeroed or already freed request. */
void flow_req_free(struct flow_req *r);

/* Apply the answer to the request built last. Never fails: anything malformed becomes
 * error PROBLEM_BAD_ANSWER with the step unchanged. Moves to the step the server names; keeps what
 * the customer typed for this step except the secrets that were sent (wiped). */
void flow_apply(struct flow *f, long http_status, const char *content_type, const char *body,
		size_t len);
/* The request built last got no answer (kind: PROBLEM_NET_* / PROBLEM_TLS_* / PROBLEM_BAD_ANSWER).
 * Step and everything typed unchanged; error.can_retry set. */
void flow_net_error(struct flow *f, enum problem kind);

/* FLOW_DONE, FLOW_DENIED, FLOW_LOCKED, FLOW_FATAL, FLOW_ENDED. */
bool flow_is_final(const struct flow *f);
/* Exit status for the flow as it stands (include/exitcodes.h): FLOW_DONE and FLOW_ENDED -> EXIT_ALLOWED (0);
 * FLOW_DENIED -> EXIT_DENIED (3); FLOW_LOCKED -> EXIT_LOCKED (4); FLOW_CODE (no session: the
 * customer left before starting) -> EXIT_DENIED unless the last error came from the server or
 * the network; anything else (fatal, a failure, quit mid-flow without a cancel) -> EXIT_ERROR (1).
 * To quit mid-flow, send FLOW_ACT_CANCEL first: its answer moves the flow to FLOW_DENIED. */
int flow_exit_code(const struct flow *f);

#endif
