/* http.h: the sandbox's HTTPS server seen from a handler: one parsed request in, one response out.
 * Owns TLS (libmicrohttpd + GnuTLS), client-certificate verification, routing, limits and logging. */
#ifndef SANDBOX_HTTP_H
#define SANDBOX_HTTP_H
#include <stdbool.h>
#include <stddef.h>
#include <cjson/cJSON.h>

struct sandbox; /* the whole server state: scenario, db, config (sandbox.h) */

struct http_req {
	const char *method;     /* "GET", "POST", "DELETE", ... */
	const char *path;       /* without the query string */
	const char *query;      /* raw query string or NULL */
	const char *content_type;
	const char *authorization; /* raw Authorization header or NULL */
	const char *host;       /* Host header or NULL */
	const char *body;       /* NUL-terminated, at most 64 KiB; NULL when none */
	size_t body_len;
	const char *peer_addr;  /* textual client IP */
	/* TLS client certificate, verified against client-ca.crt; NULL when none was presented. */
	const char *client_cert_sha256; /* lowercase hex, 64 chars */
	const char *client_cert_subject; /* RFC 4514 string, UTF-8 */
	const char *client_cert_serial;  /* lowercase hex without leading zeros */
	bool client_cert_present_but_invalid; /* presented, chain did not verify */
};

struct http_resp {
	int status;
	const char *content_type; /* static string; default "application/json" */
	char *body;               /* malloc'd, owned by the response */
	size_t body_len;
	/* extra headers, e.g. "Retry-After: 30", "Allow: GET" */
	char *headers[4];
};

/* Set resp to a JSON body (takes ownership of j and frees it). */
void http_json(struct http_resp *resp, int status, cJSON *j);
/* An RFC 9457 problem: type is the short name ("wrong-credentials"); ext (may be NULL) holds
 * extension members and is consumed. */
void http_problem(struct http_resp *resp, int status, const char *type, const char *detail, cJSON *ext);
/* Add a header line "Name: value" (copied). */
void http_header(struct http_resp *resp, const char *name, const char *value);

/* A client certificate (DER) as a request carries it: SHA-256 fingerprint (lowercase hex), subject
 * (RFC 4514, UTF-8; free with gnutls_free) and serial (lowercase hex, no leading zeros). False when
 * GnuTLS cannot read it. */
bool http_cert_fields(const unsigned char *der, size_t len, char sha256[65], char **subject, char serial[129]);

/* --- the server itself (main.c, tests) ------------------------------------------------------- */

/* One module's handler: true when it owns req's path (and filled resp), false to let the next look.
 * The router knows no module: main.c gives it their handlers in a table of these. */
struct http_route {
	const char *name; /* "oauth", "consent": for the start-up error only */
	bool (*handle)(struct sandbox *sb, const struct http_req *req, struct http_resp *resp);
};
/* Register the handlers (asked in this order; the table must outlive sb). False when the table is
 * empty or a row has no handler: a start-up error, never a silent 404. */
bool http_set_routes(struct sandbox *sb, const struct http_route *routes, size_t n, char *err, size_t errlen);
/* Route one parsed request through the registered handlers under db_lock; nobody claims it:
 * 404 not-found. resp must start zeroed; free it with http_resp_free. */
void http_dispatch(struct sandbox *sb, const struct http_req *req, struct http_resp *resp);
void http_resp_free(struct http_resp *resp);

struct http_server;
/* Read DIR/server.crt and DIR/server.key (PEM) and, when it exists, DIR/client-ca.crt (then client
 * certificates are requested and sb->client_certs is set). NULL with a message in err. */
struct http_server *http_server_new(struct sandbox *sb, const char *tls_dir, char *err, size_t errlen);
/* Close a connection idle for this many seconds (a keep-alive one between requests too); 30 unless
 * set. Call before http_server_start. */
void http_server_set_connection_timeout(struct http_server *srv, unsigned seconds);
/* A GnuTLS priority string GnuTLS accepts (false, with a message naming where it stops, if not). */
bool http_tls_priority_ok(const char *prio, char *err, size_t errlen);
/* Use prio instead of the default (TLS 1.3, TLS 1.2 with ECDHE + AEAD); 0, or -1 with err. */
int http_server_set_tls_priority(struct http_server *srv, const char *prio, char *err, size_t errlen);
struct fault;
/* Inject this fault (fault.h) into the requests of its step; false when too many are set. */
bool http_server_add_fault(struct http_server *srv, const struct fault *f);
/* Connection limits: at most per_address connections from one client address at once
 * (MHD_OPTION_PER_IP_CONNECTION_LIMIT; more are closed at accept), total in all, and request_timeout
 * seconds for each whole request, from the accept or the previous answer (TLS handshake, idle wait,
 * headers and body together), which slow bytes cannot extend. Call before http_server_start. */
#define HTTP_PER_ADDRESS_LIMIT 8
#define HTTP_CONNECTION_LIMIT 256
#define HTTP_REQUEST_TIMEOUT 30
struct http_limits {
	unsigned per_address;
	unsigned total;
	unsigned request_timeout;
};
void http_server_set_limits(struct http_server *srv, const struct http_limits *l);
/* "ADDR:PORT" / "[V6]:PORT" is well formed (port 0..65535); checked before anything starts. */
bool http_listen_syntax_ok(const char *listen);
/* Listen on "ADDR:PORT" ("[V6]:PORT"; port 0 picks a free one) and serve; sets sb->issuer to
 * "https://ADDR:PORT" with the real port. 0, or -1 with a message in err. */
int http_server_start(struct http_server *srv, const char *listen, char *err, size_t errlen);
/* Stop accepting, let the requests in flight finish (a few seconds at most), stop. */
void http_server_stop(struct http_server *srv);
void http_server_free(struct http_server *srv);

#endif
