/* scenario.h: the bank's data the sandbox serves (partners, customers, accounts, limits), loaded from a
 * JSON scenario file (docs/scenario.md) or the built-in demo (sandbox/scenarios/demo.json, embedded). */
#ifndef SANDBOX_SCENARIO_H
#define SANDBOX_SCENARIO_H
#include <stdbool.h>
#include <stddef.h>

/* A localized text; ja always set, en may be NULL (use ja). */
struct l10n {
	char *ja;
	char *en;
};

struct sc_scope {
	char *id;               /* "balance", "transactions" */
	struct l10n name;
};

struct sc_partner {
	char *client_id;
	struct l10n name;
	char **scopes;          /* scope ids the partner may ask for */
	size_t nscopes;
	bool scope_choice;      /* screen 3 shown */
	int period_days;
	struct l10n terms;      /* intent-confirmation text: after loading always set (the partner's own
				 * or scenario->terms), "{partner}" replaced by the partner's name */
};

struct sc_balance {
	char *type;             /* "current" */
	char *amount;           /* decimal string */
	char *currency;         /* "JPY" */
};

struct sc_transaction {
	char *date;             /* YYYY-MM-DD */
	char *amount;
	char *currency;
	struct l10n description;
};

struct sc_account {
	char *id;               /* "acc-001-2000002", unique in the scenario */
	struct l10n branch_name;
	char *branch_code;      /* "001" */
	char *type;             /* ordinary|current|savings */
	char *number;
	char *memo;             /* NULL = none */
	char *pin;              /* the inquiry PIN the bank knows (digits) */
	bool registered;        /* PIN already registered for API use at start */
	struct sc_balance *balances;
	size_t nbalances;
	struct sc_transaction *transactions;
	size_t ntransactions;
};

struct sc_certificate {
	char *subject;          /* RFC 4514 as the sandbox prints it, or NULL */
	char *serial;           /* lowercase hex without leading zeros, or NULL */
	char *sha256;           /* lowercase hex fingerprint, or NULL */
};

struct sc_customer {
	char *login_id;
	char *password;
	bool locked;            /* locked by the bank's staff (tanaka04): until a scenario says otherwise */
	bool unlock;            /* staff unlock: at start, this customer's lock and wrong tries in the
				 * state file are cleared */
	char *password_hash;    /* crypt(3) of password, made by consent_init (the clear one is wiped) */
	bool question_required; /* risk rule: ask the additional question */
	struct l10n question;
	char *answer;
	bool answer_masked;
	struct sc_certificate *certificates; /* certificate login: which certificates are this customer */
	size_t ncertificates;
	struct sc_account *accounts;
	size_t naccounts;
};

struct scenario {
	char *name;
	struct sc_scope *scopes;
	size_t nscopes;
	struct sc_partner *partners;
	size_t npartners;
	struct sc_customer *customers;
	size_t ncustomers;
	struct l10n terms;      /* default intent-confirmation text */
	/* device authorization */
	int expires_in;         /* 600 */
	int interval;           /* 5 */
	char *user_code_charset;/* "BCDFGHJKLMNPQRSTVWXZ" */
	int user_code_length;   /* 8 */
	/* limits */
	int rate_limit_codes;   /* 5 wrong codes ... */
	int rate_limit_window;  /* ... within 60 s */
	int rate_limit_codes_global; /* unknown codes from all addresses in that window: 1000 (0: none) */
	int password_tries;     /* 3 */
	int answer_tries;       /* 3 */
	int pin_tries;          /* 3 */
	int pin_length;         /* 4 */
	int session_idle_seconds; /* 600 */
	int access_token_ttl;   /* 3600 */
	int lock_seconds;       /* a lock for wrong passwords or answers lasts 1800 s; 0: until unlocked */
	int session_login_tries;  /* wrong logins in one consent session before its logins are refused: 5 */
	int address_login_tries;  /* wrong logins from one address ... : 20 (0: no limit) */
	int address_login_window; /* ... within 300 s */
	int keep_ended_seconds;   /* an ended session, an expired device code: deleted 86400 s after */
	int utc_offset_minutes; /* bank time zone for dates: 540 (JST) */
	char **faults;          /* "pins:reset:once": injected faults (fault.h), checked at load */
	size_t nfaults;
};

/* Parse a scenario from JSON text. On error returns NULL and writes "json/path: what is wrong"
 * (e.g. "customers[0].accounts[1].pin: must be digits") into err. Never half-loaded. */
struct scenario *scenario_parse(const char *json, size_t len, char *err, size_t errlen);
/* Load a file; on error err is "FILE: json/path: what is wrong". */
struct scenario *scenario_load_file(const char *path, char *err, size_t errlen);
/* The built-in demo scenario (the embedded sandbox/scenarios/demo.json). */
struct scenario *scenario_builtin(char *err, size_t errlen);
/* The built-in scenario's JSON text. */
const char *scenario_builtin_text(size_t *len);
void scenario_free(struct scenario *sc);

const struct sc_partner *scenario_partner(const struct scenario *sc, const char *client_id);
const struct sc_customer *scenario_customer(const struct scenario *sc, const char *login_id);
const struct sc_scope *scenario_scope(const struct scenario *sc, const char *id);
/* Which customer a verified client certificate belongs to (subject+serial or sha256), or NULL. */
const struct sc_customer *scenario_customer_by_cert(const struct scenario *sc, const char *subject,
						    const char *serial, const char *sha256);
/* The account and its customer by account id, or NULL. */
const struct sc_account *scenario_account(const struct scenario *sc, const char *account_id,
					  const struct sc_customer **owner);
/* ja or en text of a l10n (en falls back to ja). */
const char *l10n_text(const struct l10n *t, const char *lang);

#endif
