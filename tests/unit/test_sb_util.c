/* test_sb_util.c: the sandbox's pure helpers: user_code normalization, form decoding, headers,
 * space-separated lists, issuer, dates, hashing and random tokens, problem bodies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "http.h"
#include "sandbox.h"
#include "util.h"

static struct scenario *demo_codes(void)
{
	static struct scenario sc;
	memset(&sc, 0, sizeof(sc));
	sc.user_code_charset = "BCDFGHJKLMNPQRSTVWXZ";
	sc.user_code_length = 8;
	return &sc;
}

static void normalize_ok(void **state)
{
	(void)state;
	char out[16];
	const struct scenario *sc = demo_codes();
	const char *good[] = {"WDJB-MJHT", "wdjb-mjht", "wdjb mjht", " WdJb\tMjHt\n", "W-D-J-B-M-J-H-T", "WDJBMJHT"};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_true(sandbox_normalize_user_code(sc, good[i], out, sizeof(out)));
		assert_string_equal(out, "WDJBMJHT");
	}
}

static void normalize_bad(void **state)
{
	(void)state;
	char out[16];
	const struct scenario *sc = demo_codes();
	const char *bad[] = {"",          "WDJB-MJH",   "WDJB-MJHTX", "WDJB-MJHA" /* A: a vowel */,
			     "WDJB_MJHT", "WDJB-MJH1", "ＷＤＪＢ-ＭＪＨＴ", "WDJB\xe3\x80\x80MJHT", "WDJB-MJHT-WDJB"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		strcpy(out, "junk");
		assert_false(sandbox_normalize_user_code(sc, bad[i], out, sizeof(out)));
		assert_string_equal(out, "");
	}
	/* Output buffer too small for the code and its NUL. */
	assert_false(sandbox_normalize_user_code(sc, "WDJBMJHT", out, 8));
	assert_true(sandbox_normalize_user_code(sc, "WDJBMJHT", out, 9));
	assert_false(sandbox_normalize_user_code(sc, NULL, out, sizeof(out)));
}

static void form_decoding(void **state)
{
	(void)state;
	struct sb_form f;
	size_t n;
	const char *s = "a=1&b=x+y%20z&c&d=&&e=%E3%81%82&a=2&k%2Bey=v%2bw&=empty";
	assert_int_equal(sb_form_parse(s, strlen(s), &f), 0);
	assert_string_equal(sb_form_get(&f, "a", &n), "1");
	assert_int_equal(n, 2);
	assert_string_equal(sb_form_get(&f, "b", &n), "x y z");
	assert_int_equal(n, 1);
	assert_string_equal(sb_form_get(&f, "c", NULL), "");
	assert_string_equal(sb_form_get(&f, "d", NULL), "");
	assert_string_equal(sb_form_get(&f, "e", NULL), "あ");
	assert_string_equal(sb_form_get(&f, "k+ey", NULL), "v+w");
	assert_string_equal(sb_form_get(&f, "", NULL), "empty");
	assert_null(sb_form_get(&f, "missing", &n));
	assert_int_equal(n, 0);
	sb_form_free(&f);
	assert_int_equal(f.n, 0);

	/* Only len bytes count. */
	assert_int_equal(sb_form_parse("x=12345", 3, &f), 0);
	assert_string_equal(sb_form_get(&f, "x", NULL), "1");
	sb_form_free(&f);

	assert_int_equal(sb_form_parse("", 0, &f), 0);
	assert_int_equal(f.n, 0);
	sb_form_free(&f);
	assert_int_equal(sb_form_parse(NULL, 0, &f), 0);
	assert_int_equal(f.n, 0);

	const char *bad[] = {"a=%zz", "a=%4", "a=%", "a=1&b=%00", "%0=1", "a=%g1"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(sb_form_parse(bad[i], strlen(bad[i]), &f), -1);
		assert_int_equal(f.n, 0);
		assert_null(f.keys);
	}
	/* A raw NUL byte inside the body is refused too. */
	assert_int_equal(sb_form_parse("a=1\0b", 5, &f), -1);
}

static void media_types(void **state)
{
	(void)state;
	assert_true(sb_media_type_is("application/json", "application/json"));
	assert_true(sb_media_type_is("Application/JSON; charset=utf-8", "application/json"));
	assert_true(sb_media_type_is("application/json ;charset=UTF-8", "application/json"));
	assert_false(sb_media_type_is("application/jsonx", "application/json"));
	assert_false(sb_media_type_is("text/plain", "application/json"));
	assert_false(sb_media_type_is(NULL, "application/json"));
	assert_true(sb_media_type_is("application/x-www-form-urlencoded", "application/x-www-form-urlencoded"));
}

static void bearer(void **state)
{
	(void)state;
	char t[64];
	assert_true(sb_bearer_token("Bearer abc-_.~+/09", t, sizeof(t)));
	assert_string_equal(t, "abc-_.~+/09");
	assert_true(sb_bearer_token("bearer  xyz==", t, sizeof(t)));
	assert_string_equal(t, "xyz==");
	assert_true(sb_bearer_token("BEARER q ", t, sizeof(t)));
	assert_string_equal(t, "q");
	const char *bad[] = {"Basic abc", "Bearer", "Bearer ", "Bearerabc", "Bearer a b", "Bearer a=b", "Bearer \"a\"",
			     "Bearer a\xe3\x81\x82"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_false(sb_bearer_token(bad[i], t, sizeof(t)));
		assert_string_equal(t, "");
	}
	assert_false(sb_bearer_token(NULL, t, sizeof(t)));
	assert_false(sb_bearer_token("Bearer 0123456789", t, 10));
	assert_true(sb_bearer_token("Bearer 012345678", t, 10));

	/* Hashed: the token's db_hash, or false where sb_bearer_token is false (length included). */
	char h[65], want[65];
	db_hash("abc", want);
	assert_true(sb_bearer_hash("Bearer abc", 64, h));
	assert_string_equal(h, want);
	assert_false(sb_bearer_hash("Basic abc", 64, h));
	assert_false(sb_bearer_hash("Bearer 0123456789", 10, h));
	assert_true(sb_bearer_hash("Bearer 012345678", 10, h));

	/* The 401 that goes with a missing or bad token. */
	struct http_resp r;
	memset(&r, 0, sizeof(r));
	sb_token_problem(&r, "token-invalid", "no token");
	assert_int_equal(r.status, 401);
	assert_non_null(strstr(r.body, "urn:renkei:problem:token-invalid"));
	assert_string_equal(r.headers[0], "WWW-Authenticate: Bearer error=\"invalid_token\"");
	http_resp_free(&r);
}

/* The issuer of a request with this Host (none when NULL) to a sandbox listening as listen. */
static void expect_issuer(const char *listen, const char *host, const char *want)
{
	struct sandbox sb;
	struct http_req req;
	char out[256];

	memset(&sb, 0, sizeof(sb));
	memset(&req, 0, sizeof(req));
	strcpy(sb.issuer, listen);
	req.host = host;
	sb_request_issuer(&sb, &req, out, sizeof(out));
	if (strcmp(out, want) != 0)
		fail_msg("%s, Host %s: want %s, got %s", listen, host ? host : "none", want, out);
}

static void word_lists(void **state)
{
	(void)state;
	const char *list = "  balance  transactions ";
	const char *want[] = {"balance", "transactions"};
	size_t n, i = 0;
	for (const char *w = list; (n = sb_next_word(&w)) != 0; w += n, i++) {
		assert_true(i < 2);
		assert_int_equal(n, strlen(want[i]));
		assert_memory_equal(w, want[i], n);
	}
	assert_int_equal(i, 2);
	const char *empty = "   ";
	assert_int_equal(sb_next_word(&empty), 0);
	assert_true(sb_word_in(list, "balance", 7));
	assert_true(sb_word_in(list, "transactions", 12));
	assert_true(sb_word_in(list, "balance-x", 7)); /* only wlen bytes count */
	assert_false(sb_word_in(list, "bal", 3));
	assert_false(sb_word_in(list, "balances", 8));
	assert_false(sb_word_in(list, "", 0));
	assert_false(sb_word_in("", "balance", 7));
}

static void issuer(void **state)
{
	(void)state;
	expect_issuer("https://127.0.0.1:8443", NULL, "https://127.0.0.1:8443");
	expect_issuer("https://127.0.0.1:8443", "127.0.0.1:8443", "https://127.0.0.1:8443");
	expect_issuer("https://127.0.0.1:8443", "localhost:8443", "https://localhost:8443");
	expect_issuer("https://127.0.0.1:8443", "LocalHost:8443", "https://localhost:8443");
	const char *other[] = {"evil.example:8443", "localhost:8444", "localhost", "127.0.0.1:", "a/b:8443",
			       "127.0.0.1:8443x", "[::1]:8443", ":8443"};
	for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++)
		expect_issuer("https://127.0.0.1:8443", other[i], "https://127.0.0.1:8443");
	/* Listening on every address: whatever host the client used, on the right port. */
	expect_issuer("https://0.0.0.0:9000", "bank.example:9000", "https://bank.example:9000");
	expect_issuer("https://0.0.0.0:9000", "bank.example:9001", "https://0.0.0.0:9000");
	expect_issuer("https://[::1]:9000", "[::1]:9000", "https://[::1]:9000");
	expect_issuer("https://[::1]:9000", "localhost:9000", "https://localhost:9000");
}

static void dates(void **state)
{
	(void)state;
	char d[11], dt[32];
	sb_date(0, 540, d);
	assert_string_equal(d, "1970-01-01");
	sb_date(15 * 3600, 540, d); /* 15:00 UTC is the next day in JST */
	assert_string_equal(d, "1970-01-02");
	sb_datetime(0, 540, dt);
	assert_string_equal(dt, "1970-01-01T09:00:00+09:00");
	sb_datetime(1795564800LL, 540, dt);
	assert_string_equal(dt, "2026-11-25T09:00:00+09:00");
	sb_datetime(0, -330, dt);
	assert_string_equal(dt, "1969-12-31T18:30:00-05:30");
}

static void hashing(void **state)
{
	(void)state;
	char h[65];
	db_hash("abc", h);
	assert_string_equal(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	db_hash("", h);
	assert_string_equal(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	unsigned char b[3] = {0x00, 0xab, 0xff};
	sb_hex(b, 3, h);
	assert_string_equal(h, "00abff");
}

static void random_tokens(void **state)
{
	(void)state;
	char a[44], b[44];
	assert_int_equal(db_random_token(a, sizeof(a), 32), 0);
	assert_int_equal(db_random_token(b, sizeof(b), 32), 0);
	assert_int_equal(strlen(a), 43);
	assert_int_not_equal(strcmp(a, b), 0);
	assert_int_equal(strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"), 43);
	assert_int_equal(db_random_token(a, 43, 32), -1);
	char c[8];
	assert_int_equal(db_random_token(c, sizeof(c), 1), 0);
	assert_int_equal(strlen(c), 2);
	assert_int_equal(db_random_token(c, sizeof(c), 4), 0);
	assert_int_equal(strlen(c), 6);
}

static void database(void **state)
{
	(void)state;
	struct db db;
	char err[256];
	sqlite3_stmt *st;
	assert_int_equal(db_open(&db, NULL, err, sizeof(err)), 0);
	assert_int_equal(db_begin(&db), 0);
	assert_int_equal(db_exec(&db, "INSERT INTO grants (client_id, customer, scopes, accounts, created_at,"
				      " expires_at) VALUES ('c', 'u', 'balance', 'a', 1, 2)"),
			 0);
	db_rollback(&db);
	assert_int_equal(sqlite3_prepare_v2(db.h, "SELECT count(*) FROM grants", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), 0);
	sqlite3_finalize(st);
	assert_int_equal(db_begin(&db), 0);
	assert_int_equal(db_exec(&db, "INSERT INTO device_auth (device_code_hash, user_code, client_id, scopes,"
				      " created_at, expires_at, interval) VALUES ('h', 'U', 'c', 's', 1, 2, 5)"),
			 0);
	assert_int_equal(db_commit(&db), 0);
	assert_int_equal(db_exec(&db, "SELECT status FROM device_auth WHERE status = 'pending'"), 0);
	assert_int_equal(db_exec(&db, "THIS IS NOT SQL"), -1);
	db_close(&db);
	assert_int_equal(db_open(&db, "/nonexistent-dir/x.db", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "/nonexistent-dir/x.db"));
}

/* Kept statements: the same text gives the same statement back, reset and without bindings; one
 * still in use gives a fresh one (a query inside another's loop), finalized when given back. */
static void kept_statements(void **state)
{
	(void)state;
	struct db db;
	char err[256];
	assert_int_equal(db_open(&db, NULL, err, sizeof(err)), 0);
	assert_int_equal(db_exec(&db, "CREATE TABLE t (v INTEGER); INSERT INTO t VALUES (1), (2), (3);"), 0);
	char sql[64];
	snprintf(sql, sizeof sql, "SELECT v FROM t WHERE v >= ? ORDER BY v"); /* not a literal: by text */
	sqlite3_stmt *a = db_stmt(&db, sql);
	assert_non_null(a);
	assert_int_equal(sqlite3_bind_int(a, 1, 2), SQLITE_OK);
	assert_int_equal(sqlite3_step(a), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(a, 0), 2);
	/* in use: another one */
	sqlite3_stmt *b = db_stmt(&db, "SELECT v FROM t WHERE v >= ? ORDER BY v");
	assert_non_null(b);
	assert_ptr_not_equal(a, b);
	assert_int_equal(sqlite3_step(b), SQLITE_DONE); /* no binding: NULL, nothing is >= NULL */
	db_stmt_done(&db, b);                           /* not kept: finalized */
	assert_int_equal(sqlite3_step(a), SQLITE_ROW); /* a went on undisturbed */
	assert_int_equal(sqlite3_column_int(a, 0), 3);
	db_stmt_done(&db, a);
	/* given back: the same statement, reset, its binding cleared */
	sqlite3_stmt *c = db_stmt(&db, "SELECT v FROM t WHERE v >= ? ORDER BY v");
	assert_ptr_equal(a, c);
	assert_int_equal(sqlite3_step(c), SQLITE_DONE);
	db_stmt_done(&db, c);
	assert_int_equal(db.ncache, 1);
	assert_null(db_stmt(&db, "SELECT nope FROM nowhere"));
	db_stmt_done(&db, NULL);
	db_close(&db);
}

static void problems(void **state)
{
	(void)state;
	struct http_resp r;
	memset(&r, 0, sizeof(r));
	cJSON *ext = cJSON_CreateObject();
	cJSON_AddNumberToObject(ext, "tries_left", 2);
	cJSON_AddStringToObject(ext, "status", "ignored: status stays a number");
	http_problem(&r, 401, "wrong-credentials", "wrong password", ext);
	http_header(&r, "Retry-After", "30");
	assert_int_equal(r.status, 401);
	assert_string_equal(r.content_type, "application/problem+json");
	cJSON *j = cJSON_ParseWithLength(r.body, r.body_len);
	assert_non_null(j);
	assert_string_equal(cJSON_GetObjectItem(j, "type")->valuestring, "urn:renkei:problem:wrong-credentials");
	assert_string_equal(cJSON_GetObjectItem(j, "title")->valuestring, "Wrong login ID or password");
	assert_int_equal(cJSON_GetObjectItem(j, "tries_left")->valueint, 2);
	assert_string_equal(cJSON_GetObjectItem(j, "detail")->valuestring, "wrong password");
	cJSON_Delete(j);
	assert_string_equal(r.headers[0], "Retry-After: 30");
	http_resp_free(&r);
	assert_null(r.body);
	assert_null(r.headers[0]);

	/* Replacing an earlier body does not leak it; a JSON answer. */
	http_problem(&r, 404, "not-found", NULL, NULL);
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "k", "値");
	http_json(&r, 200, o);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.content_type, "application/json");
	assert_string_equal(r.body, "{\"k\":\"値\"}");
	http_resp_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(normalize_ok), cmocka_unit_test(normalize_bad), cmocka_unit_test(form_decoding),
		cmocka_unit_test(word_lists),   cmocka_unit_test(media_types),   cmocka_unit_test(bearer),
		cmocka_unit_test(issuer),       cmocka_unit_test(dates),         cmocka_unit_test(hashing),
		cmocka_unit_test(random_tokens), cmocka_unit_test(database),     cmocka_unit_test(problems),
		cmocka_unit_test(kept_statements),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
