/* deadline.h: a deadline for each whole request that slow bytes cannot extend. Every live connection
 * is listed with the time its wait for a request began (its accept, or its previous answer); a
 * watchdog thread shuts down the socket of one that has not brought a whole request in time. */
#ifndef SANDBOX_DEADLINE_H
#define SANDBOX_DEADLINE_H
#include <stdbool.h>

struct deadline;
struct deadline_conn;

/* seconds: the time a connection has for each request, from its accept or its previous answer (TLS
 * handshake, idle wait, headers and body together). NULL when out of memory. */
struct deadline *deadline_new(unsigned seconds);
/* Start the watchdog thread (0, or -1); deadline_free stops it. */
int deadline_start(struct deadline *dl);
void deadline_free(struct deadline *dl);

/* A connection accepted on socket fd (NULL when out of memory: it then has no deadline). The entry
 * lives until deadline_remove, which must come before fd is closed. */
struct deadline_conn *deadline_add(struct deadline *dl, int fd);
void deadline_remove(struct deadline *dl, struct deadline_conn *c);
/* The whole request is in (busy: no deadline while it is answered), or its answer is done (the
 * wait for the next request starts now). */
void deadline_busy(struct deadline *dl, struct deadline_conn *c, bool busy);
/* Connections shut down for missing their deadline so far. */
unsigned long deadline_expired_count(struct deadline *dl);

#endif
