/* record.h: the bank's own record of every consent decision and every stopped link (protocol
 * §4.12 "Records"): one row in table decisions, one log line on standard error. */
#ifndef SANDBOX_RECORD_H
#define SANDBOX_RECORD_H
#include <sqlite3.h>

#define RECORD_SCHEMA \
	"CREATE TABLE IF NOT EXISTS decisions (" \
	"  at INTEGER NOT NULL," \
	"  session TEXT NOT NULL,"   /* session id: the first 32 hex digits of SHA-256(session token) */ \
	"  event TEXT NOT NULL,"     /* consent | revoke */ \
	"  client_id TEXT NOT NULL," \
	"  customer TEXT,"           /* login id; NULL before login */ \
	"  result TEXT NOT NULL,"    /* allowed denied cancelled locked expired revoked */ \
	"  scopes TEXT NOT NULL,"    /* space-separated */ \
	"  accounts TEXT NOT NULL,"  /* account ids, space-separated */ \
	"  grant_id INTEGER"         /* the grant made (allowed) or stopped (revoked) */ \
	");"

struct record {
	long long at;
	const char *token_hash; /* hex SHA-256 of the session token; its first 32 digits are written */
	const char *event;
	const char *client_id;
	const char *customer;   /* NULL or "" before login */
	const char *result;
	const char *scopes;
	const char *accounts;
	long long grant_id;     /* 0: none */
};

/* Insert the row and write the line (only once the row is in: a failed insert writes nothing).
 * 0, or -1 (the caller rolls back). */
int record_write(sqlite3 *db, const struct record *r);

/* Record the consent sessions that have just expired: the caller's sweep marks them expired = 2;
 * each gets its record, then expired = 1. 0 or -1. */
int record_expired(sqlite3 *db, long long now);

#endif
