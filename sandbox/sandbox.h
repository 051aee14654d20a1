/* sandbox.h: the whole server's state shared by the handlers (scenario, database, options), and the
 * handler entry points of each module. */
#ifndef SANDBOX_SANDBOX_H
#define SANDBOX_SANDBOX_H
#include <stdbool.h>
#include "db.h"
#include "http.h"
#include "scenario.h"

struct sandbox {
	struct scenario *sc;
	struct db db;
	bool client_certs;      /* client-ca.crt present: certificate login offered */
	char issuer[256];       /* "https://127.0.0.1:PORT" */
};

/* Each module: init (create its private tables; 0 or -1) and a handler that returns true when it
 * owns the path (and filled resp), false to let the next module look. Handlers run under db_lock. */
int oauth_init(struct sandbox *sb);
bool oauth_handle(struct sandbox *sb, const struct http_req *req, struct http_resp *resp);
int resource_init(struct sandbox *sb);
bool resource_handle(struct sandbox *sb, const struct http_req *req, struct http_resp *resp);
int consent_init(struct sandbox *sb);
bool consent_handle(struct sandbox *sb, const struct http_req *req, struct http_resp *resp);

/* Current time (seconds); tests of expiry use short scenario lifetimes, not a fake clock. */
long long sandbox_now(void);
/* user_code normalization: upper-case, drop hyphens and white space; false when not charset/length. */
bool sandbox_normalize_user_code(const struct scenario *sc, const char *in, char *out, size_t outlen);

#endif
