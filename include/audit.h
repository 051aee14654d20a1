/* audit.h: `--audit FILE|syslog`: one record per finished flow, for the bank's compliance (what was
 * decided at this terminal, by whom, for which partner, with which outcome). Never a secret. */
#ifndef RENKEI_AUDIT_H
#define RENKEI_AUDIT_H
#include <stdbool.h>
#include <stddef.h>

struct audit;

struct audit_opts {
	const char *target;   /* a file path, or "syslog" */
	const char *facility; /* syslog: "auth", "authpriv", "user", "local0".."local7" (default authpriv) */
	const char *socket;   /* syslog: the local socket (default /dev/log) */
	const char *terminal; /* the terminal's id in every record (default: the host name) */
	bool unmasked;        /* account numbers whole (default masked: *****02) */
};

/* Open the target: a file is created or appended (O_APPEND, mode 0600) and must be writable now; a
 * syslog socket must exist. NULL with a message in err (translated) when not: renkei then does not
 * start. */
struct audit *audit_open(const struct audit_opts *o, char *err, size_t errlen);
void audit_close(struct audit *au);

/* One finished flow. Strings may be NULL (left out); scopes/accounts are arrays of n strings. */
struct audit_record {
	const char *event;        /* "consent" */
	const char *partner;      /* client id */
	const char *partner_name; /* its name (ja) */
	const char *customer;     /* login id, or the certificate's subject */
	const char *method;       /* "password" | "certificate" */
	const char *const *scopes;
	size_t n_scopes;
	const char *const *accounts; /* account numbers (masked here unless unmasked) */
	size_t n_accounts;
	const char *result;       /* allowed denied cancelled locked expired error */
	const char *reason;       /* why, when not allowed: a problem type or customer/idle/signal/... */
	const char *session;      /* audit_session_id() of the session token (never the token) */
	bool unconfirmed;         /* cancelled, but no answer of the bank confirmed it ("confirmed":
				     false; the bank's session ends when it expires) */
};

/* Write it (one line, fsync'ed; or one syslog message). 0, or -1 (the record could not be written:
 * the caller must not go on as if it had). au NULL: nothing, 0. */
int audit_write(struct audit *au, const struct audit_record *r);

/* "*****02": every character but the last two masked (pure; for tests). */
void audit_mask(const char *number, char *out, size_t n);
/* The opaque session id of a session token: hex of SHA-256, first 32 digits (what the sandbox's
 * records carry for the same session). */
void audit_session_id(const char *token, char out[33]);

#endif
