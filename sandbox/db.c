/* db.c: the sandbox's SQLite state: one connection, the shared schema, transactions, the global
 * request lock, hashing and random tokens (see db.h). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "db.h"
#include "util.h"

/* One state, one lock: every request runs under it. */
static pthread_mutex_t db_mutex = PTHREAD_MUTEX_INITIALIZER;

int db_open(struct db *db, const char *path, char *err, size_t errlen)
{
	int rc;
	char *msg = NULL;

	db->h = NULL;
	memset(db->cache, 0, sizeof db->cache);
	db->ncache = 0;
	rc = sqlite3_open_v2(path ? path : ":memory:", &db->h,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, NULL);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path ? path : ":memory:",
			 db->h ? sqlite3_errmsg(db->h) : sqlite3_errstr(rc));
		goto fail;
	}
	sqlite3_extended_result_codes(db->h, 1);
	sqlite3_busy_timeout(db->h, 5000);
	/* WAL for a file (a second reader, e.g. the sqlite3 shell, never blocks the server). */
	if (path && sqlite3_exec(db->h, "PRAGMA journal_mode=WAL;", NULL, NULL, &msg) != SQLITE_OK)
		goto exec_fail;
	if (sqlite3_exec(db->h, "PRAGMA foreign_keys=ON; PRAGMA synchronous=NORMAL;", NULL, NULL, &msg) !=
		    SQLITE_OK ||
	    sqlite3_exec(db->h, DB_SHARED_SCHEMA, NULL, NULL, &msg) != SQLITE_OK)
		goto exec_fail;
	return 0;
exec_fail:
	snprintf(err, errlen, "%s: %s", path ? path : ":memory:", msg ? msg : sqlite3_errmsg(db->h));
	sqlite3_free(msg);
fail:
	if (db->h)
		sqlite3_close(db->h);
	db->h = NULL;
	return -1;
}

sqlite3_stmt *db_stmt(struct db *db, const char *sql)
{
	bool busy = false;
	for (size_t i = 0; i < db->ncache; i++) {
		struct db_cached *k = &db->cache[i];
		if (strcmp(sqlite3_sql(k->st), sql) != 0)
			continue;
		if (k->busy) {
			busy = true;
			break;
		}
		k->busy = true;
		return k->st;
	}
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(db->h, sql, -1, &st, NULL) != SQLITE_OK) {
		sqlite3_finalize(st);
		return NULL;
	}
	if (!busy && db->ncache < DB_STMT_CACHE)
		db->cache[db->ncache++] = (struct db_cached){.st = st, .busy = true};
	return st;
}

void db_stmt_done(struct db *db, sqlite3_stmt *st)
{
	if (!st)
		return;
	for (size_t i = 0; i < db->ncache; i++)
		if (db->cache[i].st == st) {
			sqlite3_reset(st);
			sqlite3_clear_bindings(st);
			db->cache[i].busy = false;
			return;
		}
	sqlite3_finalize(st);
}

void db_close(struct db *db)
{
	for (size_t i = 0; i < db->ncache; i++)
		sqlite3_finalize(db->cache[i].st);
	db->ncache = 0;
	if (db->h) {
		sqlite3_close_v2(db->h);
		db->h = NULL;
	}
}

void db_lock(struct db *db)
{
	(void)db;
	pthread_mutex_lock(&db_mutex);
}

void db_unlock(struct db *db)
{
	(void)db;
	pthread_mutex_unlock(&db_mutex);
}

int db_exec(struct db *db, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(db->h, sql, NULL, NULL, &msg) != SQLITE_OK) {
		fprintf(stderr, "renkei-sandbox: sqlite: %s\n", msg ? msg : sqlite3_errmsg(db->h));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

/* One statement of no result through the kept ones (every request begins and commits). */
static int exec_kept(struct db *db, const char *sql)
{
	sqlite3_stmt *st = db_stmt(db, sql);
	int rc = st ? sqlite3_step(st) : SQLITE_ERROR;
	if (rc != SQLITE_DONE)
		fprintf(stderr, "renkei-sandbox: sqlite: %s\n", sqlite3_errmsg(db->h));
	db_stmt_done(db, st);
	return rc == SQLITE_DONE ? 0 : -1;
}

int db_begin(struct db *db)
{
	return exec_kept(db, "BEGIN IMMEDIATE");
}

int db_commit(struct db *db)
{
	if (exec_kept(db, "COMMIT") != 0) {
		db_rollback(db);
		return -1;
	}
	return 0;
}

void db_rollback(struct db *db)
{
	if (!sqlite3_get_autocommit(db->h))
		sqlite3_exec(db->h, "ROLLBACK;", NULL, NULL, NULL);
}

void db_hash(const char *secret, char out[65])
{
	unsigned char md[32];

	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, secret, strlen(secret), md) != 0) {
		/* Cannot happen with GnuTLS's built-in SHA-256; never leave a usable value behind. */
		memset(out, '0', 64);
		out[64] = '\0';
		return;
	}
	sb_hex(md, sizeof(md), out);
}

int db_random_bytes(unsigned char *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = getrandom(buf + got, n - got, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		got += (size_t)r;
	}
	return 0;
}

int db_random_token(char *out, size_t outlen, size_t nbytes)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	unsigned char buf[256];
	size_t o = 0;

	if (nbytes == 0 || nbytes > sizeof(buf) || outlen < (4 * nbytes + 2) / 3 + 1)
		return -1;
	if (db_random_bytes(buf, nbytes) != 0)
		return -1;
	for (size_t i = 0; i < nbytes; i += 3) {
		unsigned v = (unsigned)buf[i] << 16;
		size_t left = nbytes - i;
		if (left > 1)
			v |= (unsigned)buf[i + 1] << 8;
		if (left > 2)
			v |= buf[i + 2];
		out[o++] = b64[(v >> 18) & 63];
		out[o++] = b64[(v >> 12) & 63];
		if (left > 1)
			out[o++] = b64[(v >> 6) & 63];
		if (left > 2)
			out[o++] = b64[v & 63];
	}
	out[o] = '\0';
	explicit_bzero(buf, sizeof(buf));
	return 0;
}
