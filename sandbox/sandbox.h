/* sandbox.h: the whole server's state shared by the handlers (scenario, database, options, the modules
 * main.c registered), and the clock and user-code helpers they share. */
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
	/* The modules' handlers, asked in this order (http_set_routes; main.c's table). */
	const struct http_route *routes;
	size_t nroutes;
	struct replay *replay;  /* --replay: the recorded answers served instead of the modules */
};

/* Current time (seconds); tests of expiry use short scenario lifetimes, not a fake clock. */
long long sandbox_now(void);
/* user_code normalization: upper-case, drop hyphens and white space; false when not charset/length. */
bool sandbox_normalize_user_code(const struct scenario *sc, const char *in, char *out, size_t outlen);
/* What device_auth.user_code holds for a normalized user code: its SHA-256, as for the other secrets. */
void sandbox_user_code_hash(const char *normalized, char out[65]);

#endif
