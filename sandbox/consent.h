/* consent.h: the consent protocol (/consent/v1: sessions, login, question, scopes, PINs, decision;
 * protocol §4–§6). Registered with the router by main.c (http.c knows no module). */
#ifndef SANDBOX_CONSENT_H
#define SANDBOX_CONSENT_H
#include <stdbool.h>
#include "sandbox.h"

/* Create the module's private tables (0, or -1). */
int consent_init(struct sandbox *sb);
/* True when the module owns req's path (resp filled), false to let the next module look; runs under
 * db_lock. */
bool consent_handle(struct sandbox *sb, const struct http_req *req, struct http_resp *resp);

#endif
