/* db.h: the sandbox's SQLite state (--state FILE, or in memory): schema, one connection, transactions.
 * Every request runs under db_lock(); a handler that writes does so inside db_begin()/db_commit(). */
#ifndef SANDBOX_DB_H
#define SANDBOX_DB_H
#include <stdbool.h>

#include <sqlite3.h>

/* Tables shared by the OAuth side (oauth.c) and the consent side (consent.c). Each module creates its
 * own private tables in its init function with CREATE TABLE IF NOT EXISTS.
 * Codes and tokens are stored as lowercase hex SHA-256 of the secret, never the secret. */
#define DB_SHARED_SCHEMA \
	"CREATE TABLE IF NOT EXISTS device_auth (" \
	"  device_code_hash TEXT PRIMARY KEY," \
	"  user_code TEXT NOT NULL UNIQUE,"      /* SHA-256 of the normalized code (sandbox_user_code_hash) */ \
	"  client_id TEXT NOT NULL," \
	"  scopes TEXT NOT NULL,"                /* requested, space-separated */ \
	"  created_at INTEGER NOT NULL," \
	"  expires_at INTEGER NOT NULL," \
	"  interval INTEGER NOT NULL," \
	"  last_poll INTEGER,"                   /* NULL before the first poll */ \
	"  status TEXT NOT NULL DEFAULT 'pending'," /* pending|approved|denied|issued */ \
	"  grant_id INTEGER"                     /* set on approval */ \
	");" \
	"CREATE TABLE IF NOT EXISTS grants (" \
	"  id INTEGER PRIMARY KEY," \
	"  client_id TEXT NOT NULL," \
	"  customer TEXT NOT NULL,"              /* login id */ \
	"  scopes TEXT NOT NULL,"                /* granted, space-separated */ \
	"  accounts TEXT NOT NULL,"              /* covered account ids, space-separated */ \
	"  created_at INTEGER NOT NULL," \
	"  expires_at INTEGER NOT NULL,"         /* end of the authorization period */ \
	"  revoked INTEGER NOT NULL DEFAULT 0" \
	");" \
	"CREATE TABLE IF NOT EXISTS tokens (" \
	"  hash TEXT PRIMARY KEY," \
	"  grant_id INTEGER NOT NULL REFERENCES grants(id)," \
	"  kind TEXT NOT NULL,"                  /* access|refresh */ \
	"  expires_at INTEGER NOT NULL" \
	");"

/* Prepared statements kept for the connection's life (db_stmt): compiling a statement costs more
 * than running most of them, and every request runs the same few dozen. */
#define DB_STMT_CACHE 128

struct db_cached {
	sqlite3_stmt *st;
	bool busy; /* handed out, not yet given back (db_stmt_done) */
};

struct db {
	sqlite3 *h;
	struct db_cached cache[DB_STMT_CACHE];
	size_t ncache;
};

/* Open (path NULL = in memory), apply DB_SHARED_SCHEMA. 0 or -1 with a message in err. */
int db_open(struct db *db, const char *path, char *err, size_t errlen);
void db_close(struct db *db);
/* The global request lock (one request at a time touches the state). */
void db_lock(struct db *db);
void db_unlock(struct db *db);
/* BEGIN IMMEDIATE / COMMIT / ROLLBACK. 0 or -1. */
int db_begin(struct db *db);
int db_commit(struct db *db);
void db_rollback(struct db *db);
/* The statement for sql, prepared once and kept (by its text): reset, no bindings; NULL on error.
 * One that is in use already (a query run inside another's loop) gets a fresh one. Give it back with
 * db_stmt_done, never sqlite3_finalize. */
sqlite3_stmt *db_stmt(struct db *db, const char *sql);
/* Reset a statement of db_stmt for its next use (its bound values released); any other statement
 * is finalized. NULL: nothing. */
void db_stmt_done(struct db *db, sqlite3_stmt *st);
/* Run SQL with no result (schema). 0 or -1. */
int db_exec(struct db *db, const char *sql);

/* Hex SHA-256 of a secret string into out[65]. */
void db_hash(const char *secret, char out[65]);
/* n random bytes (getrandom) into buf. 0 or -1. */
int db_random_bytes(unsigned char *buf, size_t n);
/* n random bytes, base64url without padding, into out (size >= 4*n/3+2). 0 or -1. */
int db_random_token(char *out, size_t outlen, size_t nbytes);

#endif
