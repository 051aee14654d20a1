/* resource.h: the resource API (Bearer access tokens; /v1/accounts, balances, transactions; protocol §3).
 * Registered with the router by main.c (http.c knows no module). */
#ifndef SANDBOX_RESOURCE_H
#define SANDBOX_RESOURCE_H
#include <stdbool.h>
#include "sandbox.h"

/* Create the module's private tables (0, or -1). */
int resource_init(struct sandbox *sb);
/* True when the module owns req's path (resp filled), false to let the next module look; runs under
 * db_lock. */
bool resource_handle(struct sandbox *sb, const struct http_req *req, struct http_resp *resp);

#endif
