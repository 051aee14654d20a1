/* resource.c: the partner's resource API (protocol §3): accounts, balances and transactions of the
 * accounts a grant covers, behind Bearer access tokens (hashed lookup, expiry, revocation, scope). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resource.h"
#include "sandbox.h"
#include "util.h"

#define TOKEN_MAX 512 /* longest Bearer value looked at */

enum res_kind { RES_ACCOUNTS, RES_BALANCES, RES_TRANSACTIONS };

struct access {
	char scopes[1024];
	char *accounts; /* space-separated, malloc'd */
};

int resource_init(struct sandbox *sb)
{
	(void)sb;
	return 0;
}

/* The access token hashed to h: 1 = valid (a filled), 0 = not valid, -1 = database error. */
static int lookup(struct sandbox *sb, const char *h, struct access *a)
{
	sqlite3_stmt *st;
	long long now = sandbox_now();
	int ret = -1;

	if (sqlite3_prepare_v2(sb->db.h,
			       "SELECT g.scopes, g.accounts FROM tokens t JOIN grants g ON g.id = t.grant_id"
			       " WHERE t.hash = ? AND t.kind = 'access' AND t.expires_at > ?2 AND g.revoked = 0"
			       " AND g.expires_at > ?2",
			       -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, h, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, now);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		snprintf(a->scopes, sizeof(a->scopes), "%s", (const char *)sqlite3_column_text(st, 0));
		a->accounts = strdup((const char *)sqlite3_column_text(st, 1));
		ret = a->accounts ? 1 : -1;
	} else if (rc == SQLITE_DONE) {
		ret = 0;
	}
	sqlite3_finalize(st);
	return ret;
}

static void list_accounts(struct sandbox *sb, const struct access *a, struct http_resp *resp)
{
	cJSON *j = cJSON_CreateObject();
	cJSON *arr = cJSON_AddArrayToObject(j, "accounts");
	size_t n;

	for (const char *w = a->accounts; (n = sb_next_word(&w)) != 0; w += n) {
		char *id = strndup(w, n);
		const struct sc_customer *owner = NULL;
		const struct sc_account *acc = id ? scenario_account(sb->sc, id, &owner) : NULL;
		if (acc)
			cJSON_AddItemToArray(arr, sb_account_json(acc));
		free(id);
	}
	http_json(resp, 200, j);
}

static void balances(struct sandbox *sb, const struct sc_account *acc, struct http_resp *resp)
{
	char as_of[32];
	cJSON *j = cJSON_CreateObject();
	cJSON *arr;

	sb_datetime(sandbox_now(), sb->sc->utc_offset_minutes, as_of);
	cJSON_AddStringToObject(j, "account", acc->id);
	arr = cJSON_AddArrayToObject(j, "balances");
	for (size_t i = 0; i < acc->nbalances; i++) {
		const struct sc_balance *b = &acc->balances[i];
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "type", b->type);
		cJSON_AddStringToObject(o, "amount", b->amount);
		cJSON_AddStringToObject(o, "currency", b->currency);
		cJSON_AddStringToObject(o, "as_of", as_of);
		cJSON_AddItemToArray(arr, o);
	}
	http_json(resp, 200, j);
}

static void transactions(const struct sc_account *acc, struct http_resp *resp)
{
	cJSON *j = cJSON_CreateObject();
	cJSON *arr;

	cJSON_AddStringToObject(j, "account", acc->id);
	arr = cJSON_AddArrayToObject(j, "transactions");
	for (size_t i = 0; i < acc->ntransactions; i++) {
		const struct sc_transaction *t = &acc->transactions[i];
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "date", t->date);
		cJSON_AddStringToObject(o, "amount", t->amount);
		cJSON_AddStringToObject(o, "currency", t->currency);
		cJSON_AddItemToObject(o, "description", sb_l10n_json(&t->description));
		cJSON_AddItemToArray(arr, o);
	}
	http_json(resp, 200, j);
}

/* "/v1/accounts", "/v1/accounts/{id}/balances", "/v1/accounts/{id}/transactions"; id copied. */
static bool parse_path(const char *path, enum res_kind *kind, char *id, size_t idlen)
{
	static const char base[] = "/v1/accounts";
	const char *p, *slash;

	if (strcmp(path, base) == 0) {
		*kind = RES_ACCOUNTS;
		return true;
	}
	if (strncmp(path, base, sizeof(base) - 1) != 0 || path[sizeof(base) - 1] != '/')
		return false;
	p = path + sizeof(base);
	slash = strchr(p, '/');
	if (!slash || slash == p || (size_t)(slash - p) >= idlen)
		return false;
	if (strcmp(slash, "/balances") == 0)
		*kind = RES_BALANCES;
	else if (strcmp(slash, "/transactions") == 0)
		*kind = RES_TRANSACTIONS;
	else
		return false;
	memcpy(id, p, (size_t)(slash - p));
	id[slash - p] = '\0';
	return true;
}

bool resource_handle(struct sandbox *sb, const struct http_req *req, struct http_resp *resp)
{
	enum res_kind kind;
	char id[256], h[65];
	struct access a = {"", NULL};

	if (strncmp(req->path, "/v1/", 4) != 0 && strcmp(req->path, "/v1") != 0)
		return false;
	if (!parse_path(req->path, &kind, id, sizeof(id))) {
		http_problem(resp, 404, "not-found", "No such resource.", NULL);
		return true;
	}
	if (strcmp(req->method, "GET") != 0) {
		http_problem(resp, 405, "method-not-allowed", "Only GET is allowed here.", NULL);
		http_header(resp, "Allow", "GET, HEAD");
		return true;
	}
	if (!sb_bearer_hash(req->authorization, TOKEN_MAX, h)) {
		sb_token_problem(resp, "token-invalid", "An access token is required (Authorization: Bearer).");
		return true;
	}
	int rc = lookup(sb, h, &a);
	if (rc < 0) {
		http_problem(resp, 500, "internal", NULL, NULL);
		return true;
	}
	if (rc == 0) {
		sb_token_problem(resp, "token-invalid", "The access token is unknown, expired or revoked.");
		return true;
	}
	const char *need = kind == RES_BALANCES ? "balance" : kind == RES_TRANSACTIONS ? "transactions" : NULL;
	if (need && !sb_word_in(a.scopes, need, strlen(need))) {
		char hdr[96];
		cJSON *ext = cJSON_CreateObject();
		cJSON_AddStringToObject(ext, "scope", need);
		http_problem(resp, 403, "scope-insufficient", "The access token lacks the scope needed here.", ext);
		snprintf(hdr, sizeof(hdr), "Bearer error=\"insufficient_scope\", scope=\"%s\"", need);
		http_header(resp, "WWW-Authenticate", hdr);
		goto out;
	}
	if (kind == RES_ACCOUNTS) {
		list_accounts(sb, &a, resp);
		goto out;
	}
	const struct sc_customer *owner = NULL;
	const struct sc_account *acc =
		sb_word_in(a.accounts, id, strlen(id)) ? scenario_account(sb->sc, id, &owner) : NULL;
	if (!acc) {
		http_problem(resp, 404, "not-found", "No such account in this authorization.", NULL);
		goto out;
	}
	if (kind == RES_BALANCES)
		balances(sb, acc, resp);
	else
		transactions(acc, resp);
out:
	free(a.accounts);
	return true;
}
