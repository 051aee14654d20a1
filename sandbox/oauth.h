/* oauth.h: the OAuth 2.0 endpoints (RFC 8628 device grant, RFC 7009 revocation, RFC 8414 metadata):
 * device codes, grants and tokens (protocol §2). Registered with the router by main.c (http.c knows no module). */
#ifndef SANDBOX_OAUTH_H
#define SANDBOX_OAUTH_H
#include <stdbool.h>
#include "sandbox.h"

/* Create the module's private tables (0, or -1). */
int oauth_init(struct sandbox *sb);
/* True when the module owns req's path (resp filled), false to let the next module look; runs under
 * db_lock. */
bool oauth_handle(struct sandbox *sb, const struct http_req *req, struct http_resp *resp);

#endif
