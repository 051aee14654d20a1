/* record.c: the bank's records of decisions and revocations (see record.h). */
#include "record.h"

#include <stdio.h>
#include <string.h>

static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
	if (s && s[0])
		sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, i);
}

int record_write(sqlite3 *db, const struct record *r)
{
	sqlite3_stmt *st;
	char sid[33];

	snprintf(sid, sizeof(sid), "%.32s", r->token_hash);
	if (sqlite3_prepare_v2(db,
			       "INSERT INTO decisions (at, session, event, client_id, customer, result, scopes,"
			       " accounts, grant_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
			       -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(st, 1, r->at);
	sqlite3_bind_text(st, 2, sid, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 3, r->event, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, r->client_id ? r->client_id : "", -1, SQLITE_TRANSIENT);
	bind_text(st, 5, r->customer);
	sqlite3_bind_text(st, 6, r->result, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, r->scopes ? r->scopes : "", -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 8, r->accounts ? r->accounts : "", -1, SQLITE_TRANSIENT);
	if (r->grant_id > 0)
		sqlite3_bind_int64(st, 9, r->grant_id);
	else
		sqlite3_bind_null(st, 9);
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return -1;
	fprintf(stderr, "renkei-sandbox: record event=%s result=%s session=%s partner=%s customer=%s", r->event,
		r->result, sid, r->client_id && r->client_id[0] ? r->client_id : "-",
		r->customer && r->customer[0] ? r->customer : "-");
	if (r->grant_id > 0)
		fprintf(stderr, " grant=%lld", r->grant_id);
	fputc('\n', stderr);
	return 0;
}

int record_expired(sqlite3 *db, long long now)
{
	sqlite3_stmt *st;
	int rc = SQLITE_OK;

	/* One by one, so that each gets its log line like any other record. */
	if (sqlite3_prepare_v2(db,
			       "SELECT token_hash, client_id, customer, COALESCE(scopes, requested) FROM consent_sessions"
			       " WHERE expired = 2 AND purpose = 'consent'",
			       -1, &st, NULL) != SQLITE_OK)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct record r = {
			.at = now,
			.token_hash = (const char *)sqlite3_column_text(st, 0),
			.event = "consent",
			.client_id = (const char *)sqlite3_column_text(st, 1),
			.customer = (const char *)sqlite3_column_text(st, 2),
			.result = "expired",
			.scopes = (const char *)sqlite3_column_text(st, 3),
			.accounts = "",
		};
		if (record_write(db, &r) != 0) {
			rc = SQLITE_ERROR;
			break;
		}
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return -1;
	return sqlite3_exec(db, "UPDATE consent_sessions SET expired = 1 WHERE expired = 2", NULL, NULL, NULL) ==
			       SQLITE_OK
		       ? 0
		       : -1;
}
