/* problem.h: every error kind the client tells apart: the RFC 9457 problem types of
 * docs/protocol.md §5, the network/TLS failures, bad answers and local input checks; one table. */
#ifndef RENKEI_PROBLEM_H
#define RENKEI_PROBLEM_H
#include <stdbool.h>

enum problem {
	PROBLEM_NONE = 0,
	/* protocol §5: "urn:renkei:problem:<name>" */
	PROBLEM_BAD_REQUEST,            /* bad-request 400 */
	PROBLEM_UNSUPPORTED_MEDIA_TYPE, /* unsupported-media-type 415 */
	PROBLEM_PAYLOAD_TOO_LARGE,      /* payload-too-large 413 */
	PROBLEM_METHOD_NOT_ALLOWED,     /* method-not-allowed 405 */
	PROBLEM_NOT_FOUND,              /* not-found 404 */
	PROBLEM_RATE_LIMITED,           /* rate-limited 429 (retry_after) */
	PROBLEM_USER_CODE_UNKNOWN,      /* user-code-unknown 404 */
	PROBLEM_USER_CODE_EXPIRED,      /* user-code-expired 410 */
	PROBLEM_USER_CODE_USED,         /* user-code-used 409 */
	PROBLEM_USER_CODE_BUSY,         /* user-code-busy 409 */
	PROBLEM_SESSION_UNKNOWN,        /* session-unknown 401 */
	PROBLEM_SESSION_EXPIRED,        /* session-expired 401 */
	PROBLEM_WRONG_STEP,             /* wrong-step 409 (step) */
	PROBLEM_METHOD_UNAVAILABLE,     /* method-unavailable 400 */
	PROBLEM_WRONG_CREDENTIALS,      /* wrong-credentials 401 (tries_left) */
	PROBLEM_LOGIN_LOCKED,           /* login-locked 403 */
	PROBLEM_CERTIFICATE_REQUIRED,   /* certificate-required 401 */
	PROBLEM_CERTIFICATE_UNKNOWN,    /* certificate-unknown 401 */
	PROBLEM_CERTIFICATE_MISMATCH,   /* certificate-mismatch 403 */
	PROBLEM_CERTIFICATE_INVALID,    /* certificate-invalid 401 */
	PROBLEM_WRONG_ANSWER,           /* wrong-answer 401 (tries_left) */
	PROBLEM_SCOPE_REQUIRED,         /* scope-required 422 */
	PROBLEM_SCOPE_UNKNOWN,          /* scope-unknown 422 (scope) */
	PROBLEM_PIN_REQUIRED,           /* pin-required 422 */
	PROBLEM_PIN_WRONG,              /* pin-wrong 422 (results, accounts) */
	PROBLEM_PIN_FORMAT,             /* pin-format 422 (results, accounts) */
	PROBLEM_INTENT_REQUIRED,        /* intent-required 422 */
	PROBLEM_LINK_UNKNOWN,           /* link-unknown 404 (manage session, §4.12) */
	PROBLEM_TOKEN_INVALID,          /* token-invalid 401 (resource API) */
	PROBLEM_SCOPE_INSUFFICIENT,     /* scope-insufficient 403 (resource API) */
	PROBLEM_INTERNAL,               /* internal 500 */
	PROBLEM_REPLAY_DIVERGED,        /* replay-diverged 409 (renkei-sandbox --replay: not the recorded request) */
	PROBLEM_UNKNOWN_TYPE,           /* a well-formed problem of a type this client does not know */
	/* transport (set by api.c) */
	PROBLEM_NET_CONNECT,    /* DNS failure, connection refused/unreachable */
	PROBLEM_NET_TIMEOUT,    /* connect or total timeout */
	PROBLEM_TLS_SERVER,     /* the server's certificate is not trusted (or the CA file is unusable) */
	PROBLEM_TLS_CLIENT,     /* the server rejected our client certificate */
	PROBLEM_NET_OTHER,      /* any other transport failure (reset, TLS handshake, ...) */
	PROBLEM_BAD_ANSWER,     /* not an answer of this protocol: non-JSON, HTML, missing members... */
	/* local (set by flow.c before anything is sent) */
	PROBLEM_INPUT_REQUIRED, /* a required field is empty (struct flow_error.field) */
	PROBLEM_INPUT_FORMAT,   /* a field is malformed (user code, a PIN row) */
	PROBLEM_NO_MEMORY,
	PROBLEM__COUNT
};

/* The field of the flow a problem is about (where the screen puts the focus). */
enum flow_field {
	FLOW_FIELD_NONE = 0, FLOW_FIELD_USER_CODE, FLOW_FIELD_LOGIN_ID, FLOW_FIELD_PASSWORD,
	FLOW_FIELD_ANSWER, FLOW_FIELD_SCOPES, FLOW_FIELD_PINS, FLOW_FIELD_INTENT, FLOW_FIELD_LINKS,
	FLOW_FIELD__COUNT
};

/* What a problem's message is made with (the values come from struct flow_error / the flow). */
enum problem_arg {
	PROBLEM_ARG_NONE = 0,   /* msgid as it is */
	PROBLEM_ARG_TRIES,      /* msgid, then "あと%d回間違えるとロックされます。" when tries_left >= 0 */
	PROBLEM_ARG_SECONDS,    /* msgid has %ld (retry_after > 0), else msgid_alt */
	PROBLEM_ARG_PIN_LENGTH, /* msgid has %d: the PIN length */
	PROBLEM_ARG_FIELD,      /* the message depends on the field: problem_field_msgid() */
};

/* One row per kind: what the client does with it and what the customer reads. */
struct problem_info {
	const char *name;      /* see problem_name */
	int status;            /* see problem_status */
	bool retry;            /* the same request may be sent again, everything typed kept */
	enum flow_field field; /* the field it is about (FLOW_FIELD_NONE: none, or per request) */
	const char *msgid;     /* N_() message (never NULL except for PROBLEM_NONE) */
	const char *msgid_alt; /* PROBLEM_ARG_SECONDS without a number */
	enum problem_arg arg;
};
/* The row of p (a row of PROBLEM_NONE's for out-of-range values). */
const struct problem_info *problem_info(enum problem p);
/* PROBLEM_INPUT_REQUIRED / PROBLEM_INPUT_FORMAT about field: its message (N_() msgid). */
const char *problem_field_msgid(enum problem p, enum flow_field field);
/* Every kind has a name and a message, every protocol type a status: NULL, or what is missing. */
const char *problem_table_check(void);

/* "urn:renkei:problem:wrong-credentials" -> PROBLEM_WRONG_CREDENTIALS; PROBLEM_UNKNOWN_TYPE for
 * anything else (another prefix, a bare name, a non-§5 name such as "net-connect", NULL). */
enum problem problem_from_type(const char *type);
/* Stable short name for traces and logs: the §5 name ("wrong-credentials"), or for the others
 * "none", "unknown-type", "net-connect", "net-timeout", "tls-server", "tls-client", "net-other",
 * "bad-answer", "input-required", "input-format", "no-memory". Never NULL. */
const char *problem_name(enum problem p);
/* The HTTP status protocol §5 gives the type (0 for non-protocol kinds). */
int problem_status(enum problem p);
/* Transport failures and bad answers: nothing is known about whether the server acted. */
bool problem_is_transport(enum problem p);

#endif
