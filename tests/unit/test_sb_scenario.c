/* test_sb_scenario.c: the sandbox's scenario files: the built-in demo (data and lookups), the exact
 * error message of each class of mistake, files (size, missing, prefix), the test scenario files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "scenario.h"

/* --- helpers ---------------------------------------------------------------------------------- */

static char *read_text(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

/* A small scenario using every kind of member; the error cases edit one member of it. */
static const char BASE[] =
	"{\"name\": \"t\", \"terms\": [\"{partner}の規約\", \"二行目\"],\n"
	" \"scopes\": [{\"id\": \"balance\", \"name\": {\"ja\": \"残高照会\", \"en\": \"Balance inquiry\"}},\n"
	"            {\"id\": \"transactions\", \"name\": \"入金出金照会\"}],\n"
	" \"partners\": [{\"client_id\": \"p1\", \"name\": {\"ja\": \"連携一\", \"en\": \"P One\"}, \"scopes\": [\"balance\"],"
	" \"period_days\": 30},\n"
	"              {\"client_id\": \"p2\", \"name\": \"連携二\", \"period_days\": 90, \"scope_choice\": true,"
	" \"terms\": {\"ja\": \"独自の規約\", \"en\": \"Own terms of {partner}\"}}],\n"
	" \"customers\": [\n"
	"  {\"login_id\": \"u1\", \"password\": \"pw-1\", \"question\": {\"text\": \"Q\", \"answer\": \"A\"},\n"
	"   \"certificates\": [{\"subject\": \"CN=u1\", \"serial\": \"10\"}],\n"
	"   \"accounts\": [{\"id\": \"a1\", \"branch\": {\"name\": \"本店\", \"code\": \"001\"}, \"number\": \"1\","
	" \"pin\": \"1234\",\n"
	"                 \"balances\": [{\"amount\": \"1\"}],\n"
	"                 \"transactions\": [{\"date\": \"2026-01-01\", \"amount\": -1, \"description\": \"d\"}]}]},\n"
	"  {\"login_id\": \"u2\", \"password\": \"pw-2\", \"certificates\": [{\"sha256\": \"AB:"
	"cdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789\"}],\n"
	"   \"accounts\": [{\"id\": \"a2\", \"branch\": {\"name\": \"本店\", \"code\": \"001\"}, \"number\": \"2\","
	" \"pin\": \"0000\"}]}]}\n";

/* BASE with the member at path ("customers[0].accounts[0].pin") set to the JSON value, or deleted
 * when value is NULL. */
static char *edit(const char *path, const char *value)
{
	cJSON *root = cJSON_Parse(BASE), *parent = NULL, *cur = root;
	char buf[256], *save = NULL, *tok;
	const char *last = NULL;
	int last_index = -1;

	assert_non_null(root);
	snprintf(buf, sizeof(buf), "%s", path);
	for (tok = strtok_r(buf, ".", &save); tok; tok = strtok_r(NULL, ".", &save)) {
		char *br = strchr(tok, '[');
		if (br)
			*br = '\0';
		assert_non_null(cur); /* every step but the last exists */
		parent = cur;
		last = tok;
		last_index = -1;
		cur = cJSON_GetObjectItemCaseSensitive(parent, tok);
		while (br) {
			int i = atoi(br + 1);
			assert_non_null(cur);
			parent = cur;
			last_index = i;
			cur = cJSON_GetArrayItem(parent, i);
			br = strchr(br + 1, '[');
		}
	}
	if (!value) {
		if (last_index >= 0)
			cJSON_DeleteItemFromArray(parent, last_index);
		else
			cJSON_DeleteItemFromObjectCaseSensitive(parent, last);
	} else {
		cJSON *v = cJSON_Parse(value);
		assert_non_null(v);
		if (last_index >= 0)
			assert_true(cJSON_ReplaceItemInArray(parent, last_index, v));
		else if (cur)
			assert_true(cJSON_ReplaceItemInObjectCaseSensitive(parent, last, v));
		else
			cJSON_AddItemToObject(parent, last, v);
	}
	char *out = cJSON_Print(root);
	cJSON_Delete(root);
	assert_non_null(out);
	return out;
}

static void expect_error(const char *json, size_t len, const char *want)
{
	char err[512];
	struct scenario *sc = scenario_parse(json, len, err, sizeof(err));
	if (sc) {
		scenario_free(sc);
		fail_msg("accepted; wanted \"%s\"", want);
	}
	assert_string_equal(err, want);
}

static void expect_edit_error(const char *path, const char *value, const char *want)
{
	char *j = edit(path, value);
	expect_error(j, strlen(j), want);
	free(j);
}

static void expect_edit_ok(const char *path, const char *value)
{
	char err[512];
	char *j = edit(path, value);
	struct scenario *sc = scenario_parse(j, strlen(j), err, sizeof(err));
	free(j);
	if (!sc)
		fail_msg("refused: %s", err);
	scenario_free(sc);
}

/* device, limits and utc_offset_minutes as docs/scenario.md gives their defaults. */
static void assert_default_settings(const struct scenario *sc)
{
	assert_int_equal(sc->expires_in, 600);
	assert_int_equal(sc->interval, 5);
	assert_string_equal(sc->user_code_charset, "BCDFGHJKLMNPQRSTVWXZ");
	assert_int_equal(sc->user_code_length, 8);
	assert_int_equal(sc->rate_limit_codes, 5);
	assert_int_equal(sc->rate_limit_window, 60);
	assert_int_equal(sc->password_tries, 3);
	assert_int_equal(sc->answer_tries, 3);
	assert_int_equal(sc->pin_tries, 3);
	assert_int_equal(sc->pin_length, 4);
	assert_int_equal(sc->session_idle_seconds, 600);
	assert_int_equal(sc->access_token_ttl, 3600);
	assert_int_equal(sc->utc_offset_minutes, 540);
}

/* --- the built-in demo ------------------------------------------------------------------------ */

static void builtin_demo(void **state)
{
	char err[512] = "x";
	struct scenario *sc = scenario_builtin(err, sizeof(err));
	(void)state;

	assert_non_null(sc);
	assert_string_equal(sc->name, "demo");
	assert_default_settings(sc); /* the demo's settings are the defaults */

	assert_int_equal(sc->nscopes, 2);
	assert_string_equal(sc->scopes[0].id, "balance");
	assert_string_equal(sc->scopes[0].name.ja, "残高照会");
	assert_string_equal(sc->scopes[0].name.en, "Balance inquiry");
	assert_string_equal(sc->scopes[1].id, "transactions");
	assert_string_equal(sc->scopes[1].name.ja, "入金出金照会");
	assert_string_equal(sc->scopes[1].name.en, "Transaction inquiry");

	assert_int_equal(sc->npartners, 2);
	const struct sc_partner *k = scenario_partner(sc, "kakeibo-demo"), *m = scenario_partner(sc, "mieru-demo");
	assert_non_null(k);
	assert_non_null(m);
	assert_string_equal(k->name.ja, "デモ家計簿株式会社");
	assert_string_equal(k->name.en, "Demo Kakeibo Inc.");
	assert_true(k->scope_choice);
	assert_int_equal(k->period_days, 365);
	assert_int_equal(k->nscopes, 2);
	assert_string_equal(m->name.ja, "ミエル会計株式会社");
	assert_string_equal(m->name.en, "Mieru Accounting Inc.");
	assert_false(m->scope_choice);
	assert_int_equal(m->period_days, 90);
	assert_int_equal(m->nscopes, 2);
	assert_string_equal(m->scopes[0], "balance");
	assert_string_equal(m->scopes[1], "transactions");

	/* The intent-confirmation text: long (must scroll), names the partner, mentions its terms. */
	assert_non_null(k->terms.ja);
	assert_non_null(k->terms.en);
	assert_non_null(strstr(k->terms.ja, "デモ家計簿株式会社"));
	assert_non_null(strstr(m->terms.ja, "ミエル会計株式会社"));
	assert_non_null(strstr(m->terms.en, "Mieru Accounting Inc."));
	assert_null(strstr(k->terms.ja, "{partner}"));
	assert_non_null(strstr(k->terms.ja, "利用規約"));
	assert_non_null(strstr(k->terms.ja, "プライバシーポリシー"));
	assert_non_null(strstr(k->terms.en, "terms of use and privacy policy"));
	assert_true(strlen(k->terms.en) > 15 * 78);
	assert_true(strlen(k->terms.ja) > 15 * 38 * 3);

	assert_int_equal(sc->ncustomers, 4);
	const struct sc_customer *y = scenario_customer(sc, "yamada01");
	assert_non_null(y);
	assert_string_equal(y->password, "Sakura-2026");
	assert_false(y->locked);
	assert_true(y->question_required);
	assert_string_equal(y->question.ja, "証券名を入力してください");
	assert_string_equal(y->question.en, "Enter the name of your securities company");
	assert_string_equal(y->answer, "ひまわり証券");
	assert_false(y->answer_masked);
	assert_int_equal(y->ncertificates, 0);
	assert_int_equal(y->naccounts, 3);
	assert_string_equal(y->accounts[0].id, "acc-001-2000002");
	assert_string_equal(y->accounts[0].branch_name.ja, "インターネット支店");
	assert_string_equal(y->accounts[0].branch_name.en, "Internet Branch");
	assert_string_equal(y->accounts[0].branch_code, "001");
	assert_string_equal(y->accounts[0].type, "ordinary");
	assert_string_equal(y->accounts[0].number, "2000002");
	assert_string_equal(y->accounts[0].memo, "生活費");
	assert_string_equal(y->accounts[0].pin, "1234");
	assert_false(y->accounts[0].registered);
	assert_true(y->accounts[0].nbalances >= 1);
	assert_string_equal(y->accounts[0].balances[0].type, "current");
	assert_string_equal(y->accounts[0].balances[0].currency, "JPY");
	assert_true(y->accounts[0].ntransactions >= 2);
	assert_non_null(y->accounts[0].transactions[0].description.en);
	assert_string_equal(y->accounts[1].id, "acc-001-1111111");
	assert_null(y->accounts[1].memo);
	assert_string_equal(y->accounts[1].pin, "5678");
	assert_false(y->accounts[1].registered);
	assert_string_equal(y->accounts[2].id, "acc-454-1000014");
	assert_string_equal(y->accounts[2].branch_name.ja, "豊洲支店");
	assert_string_equal(y->accounts[2].branch_name.en, "Toyosu Branch");
	assert_string_equal(y->accounts[2].branch_code, "454");
	assert_string_equal(y->accounts[2].memo, "給与");
	assert_true(y->accounts[2].registered);

	const struct sc_customer *s = scenario_customer(sc, "sato02");
	assert_non_null(s);
	assert_string_equal(s->password, "Momiji-2026");
	assert_false(s->question_required);
	assert_int_equal(s->naccounts, 1);
	assert_string_equal(s->accounts[0].branch_code, "002");
	assert_string_equal(s->accounts[0].number, "2222222");
	assert_true(s->accounts[0].registered);

	const struct sc_customer *z = scenario_customer(sc, "suzuki03");
	assert_non_null(z);
	assert_string_equal(z->password, "Kaede-2026");
	assert_false(z->question_required);
	assert_int_equal(z->ncertificates, 1);
	assert_string_equal(z->certificates[0].subject, "CN=鈴木花子,O=Renkei Demo Bank,C=JP");
	assert_string_equal(z->certificates[0].serial, "1003");
	assert_int_equal(z->naccounts, 1);
	assert_string_equal(z->accounts[0].branch_name.ja, "本店営業部");
	assert_string_equal(z->accounts[0].branch_name.en, "Head Office");
	assert_string_equal(z->accounts[0].branch_code, "100");
	assert_string_equal(z->accounts[0].number, "3000003");
	assert_string_equal(z->accounts[0].pin, "2468");
	assert_false(z->accounts[0].registered);

	const struct sc_customer *t = scenario_customer(sc, "tanaka04");
	assert_non_null(t);
	assert_string_equal(t->password, "Ume-2026");
	assert_true(t->locked);
	scenario_free(sc);
}

static void builtin_text_is_the_file(void **state)
{
	size_t flen = 0, blen = 0;
	char *file = read_text("sandbox/scenarios/demo.json", &flen);
	const char *text = scenario_builtin_text(&blen);
	(void)state;

	assert_non_null(file);
	assert_non_null(text);
	assert_int_equal(blen, flen);
	assert_memory_equal(text, file, flen);
	assert_int_equal(text[blen], '\0');
	free(file);
}

static void lookups(void **state)
{
	char err[512];
	struct scenario *sc = scenario_builtin(err, sizeof(err));
	const struct sc_customer *owner = (const struct sc_customer *)1;
	(void)state;

	assert_non_null(sc);
	assert_null(scenario_partner(sc, "nobody"));
	assert_null(scenario_partner(sc, "KAKEIBO-DEMO"));
	assert_null(scenario_partner(sc, NULL));
	assert_null(scenario_customer(sc, "yamada02"));
	assert_null(scenario_customer(sc, NULL));
	assert_non_null(scenario_scope(sc, "balance"));
	assert_null(scenario_scope(sc, "payments"));

	const struct sc_account *a = scenario_account(sc, "acc-454-1000014", &owner);
	assert_non_null(a);
	assert_string_equal(a->number, "1000014");
	assert_ptr_equal(owner, scenario_customer(sc, "yamada01"));
	a = scenario_account(sc, "acc-100-3000003", NULL);
	assert_non_null(a);
	assert_null(scenario_account(sc, "acc-999-9999999", &owner));
	assert_null(owner);

	/* certificates: subject and serial (hex, any case, leading zeros, 0x, colons) */
	const struct sc_customer *z = scenario_customer(sc, "suzuki03");
	const char *subj = "CN=鈴木花子,O=Renkei Demo Bank,C=JP";
	assert_ptr_equal(scenario_customer_by_cert(sc, subj, "1003", NULL), z);
	assert_ptr_equal(scenario_customer_by_cert(sc, subj, "01003", "00"), z);
	assert_ptr_equal(scenario_customer_by_cert(sc, subj, "0x1003", NULL), z);
	assert_ptr_equal(scenario_customer_by_cert(sc, subj, "10:03", NULL), z);
	assert_null(scenario_customer_by_cert(sc, subj, "1004", NULL));
	assert_null(scenario_customer_by_cert(sc, subj, "10030", NULL));
	assert_null(scenario_customer_by_cert(sc, "CN=名無し太郎,O=Renkei Demo Bank,C=JP", "1005", NULL));
	assert_null(scenario_customer_by_cert(sc, subj, NULL, NULL));
	assert_null(scenario_customer_by_cert(sc, NULL, "1003", NULL));

	/* l10n_text: en falls back to ja */
	struct l10n both = {"日本語", "English"}, ja_only = {"日本語", NULL};
	assert_string_equal(l10n_text(&both, "ja"), "日本語");
	assert_string_equal(l10n_text(&both, "en"), "English");
	assert_string_equal(l10n_text(&both, NULL), "日本語");
	assert_string_equal(l10n_text(&ja_only, "en"), "日本語");
	assert_string_equal(l10n_text(NULL, "en"), "");
	scenario_free(sc);
}

static void base_and_defaults(void **state)
{
	char err[512];
	struct scenario *sc = scenario_parse(BASE, strlen(BASE), err, sizeof(err));
	(void)state;

	if (!sc)
		fail_msg("%s", err);
	assert_default_settings(sc);
	/* texts: a string is Japanese only; lines are joined with newlines */
	assert_string_equal(sc->terms.ja, "{partner}の規約\n二行目");
	assert_null(sc->terms.en);
	assert_string_equal(sc->scopes[1].name.ja, "入金出金照会");
	assert_null(sc->scopes[1].name.en);
	/* partners: terms filled in, own terms kept, scopes default to all */
	assert_string_equal(sc->partners[0].terms.ja, "連携一の規約\n二行目");
	assert_null(sc->partners[0].terms.en);
	assert_false(sc->partners[0].scope_choice);
	assert_int_equal(sc->partners[0].nscopes, 1);
	assert_string_equal(sc->partners[1].terms.ja, "独自の規約");
	assert_string_equal(sc->partners[1].terms.en, "Own terms of 連携二");
	assert_int_equal(sc->partners[1].nscopes, 2);
	assert_true(sc->partners[1].scope_choice);
	/* customers */
	const struct sc_customer *u1 = &sc->customers[0], *u2 = &sc->customers[1];
	assert_true(u1->question_required); /* "ask" defaults to always */
	assert_false(u1->answer_masked);
	assert_false(u1->locked);
	assert_false(u2->question_required);
	assert_null(u2->answer);
	assert_string_equal(u1->accounts[0].type, "ordinary");
	assert_null(u1->accounts[0].memo);
	assert_false(u1->accounts[0].registered);
	assert_string_equal(u1->accounts[0].balances[0].type, "current");
	assert_string_equal(u1->accounts[0].balances[0].currency, "JPY");
	assert_string_equal(u1->accounts[0].transactions[0].amount, "-1");
	assert_string_equal(u1->accounts[0].transactions[0].currency, "JPY");
	assert_int_equal(u2->accounts[0].nbalances, 0);
	assert_int_equal(u2->accounts[0].ntransactions, 0);
	/* sha256 normalized: colons dropped, lower case */
	assert_string_equal(u2->certificates[0].sha256,
			    "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789");
	assert_ptr_equal(scenario_customer_by_cert(sc, NULL, NULL,
						   "ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789"),
			 u2);
	assert_ptr_equal(scenario_customer_by_cert(sc, "CN=u1", "0010", NULL), u1);
	assert_null(scenario_customer_by_cert(sc, "CN=u1", "11", NULL));
	scenario_free(sc);

	/* Numbers and a not NUL-terminated buffer: len is what counts. */
	char *copy = malloc(strlen(BASE));
	memcpy(copy, BASE, strlen(BASE));
	sc = scenario_parse(copy, strlen(BASE), err, sizeof(err));
	assert_non_null(sc);
	scenario_free(sc);
	free(copy);
}

/* --- errors: each class, its exact message ------------------------------------------------------ */

static void errors_json(void **state)
{
	(void)state;
	expect_error("", 0, "(top level): empty: expected a JSON object");
	expect_error(" \n\t", 3, "(top level): empty: expected a JSON object");
	expect_error("[]", 2, "(top level): must be an object, not an array");
	expect_error("\"x\"", 3, "(top level): must be an object, not a string");
	expect_error("{\n  \"name\": \"x\",\n  \"terms\" \"y\"\n}", 31, "line 3, column 11: not valid JSON");
	expect_error("{}\n{}", 5, "line 2, column 1: unexpected text after the JSON object");
	expect_error("{\"name\": \"a\", \"name\": \"b\"}", 26, "name: duplicate member");
	expect_error("{\"name\": \"\xff\"}", 13, "name: is not valid UTF-8");
	expect_error("{\"name\": \"\xc0\xaf\"}", 14, "name: is not valid UTF-8");     /* overlong '/' */
	expect_error("{\"name\": \"\xed\xa0\x80\"}", 15, "name: is not valid UTF-8"); /* surrogate */
	expect_error("{\"name\": \"x\"}", 13, "terms: is required");
	expect_error(NULL, 0, "(top level): no scenario text");
}

static void errors_members(void **state)
{
	(void)state;
	expect_edit_error("faults", "[\"pins:reset\", \"pins:boom\"]",
			  "faults[1]: pins:boom: unknown kind \"boom\" (kinds: latency, status, reset, truncate, "
			  "garbage, shape, slow)");
	expect_edit_error("faults", "[5]", "faults[0]: must be a fault (a string STEP:KIND[:ARG][:once]), not a number");
	expect_edit_ok("faults", "[\"pins:reset:once\", \"*:latency:10\"]");
	expect_edit_error("nmae", "\"x\"",
			  "nmae: unknown member (expected one of: version, name, utc_offset_minutes, device, limits, "
			  "terms, scopes, partners, customers, faults)");
	expect_edit_error("customers[0].passwd", "\"x\"",
			  "customers[0].passwd: unknown member (expected one of: login_id, password, locked, unlock, "
			  "question, certificates, accounts)");
	expect_edit_error("customers[0].accounts[0].branch.id", "1",
			  "customers[0].accounts[0].branch.id: unknown member (expected one of: name, code)");
	expect_edit_error("name", NULL, "name: is required");
	expect_edit_error("customers[1].accounts[0].pin", NULL, "customers[1].accounts[0].pin: is required");
	expect_edit_error("partners[0].period_days", NULL, "partners[0].period_days: is required");
	expect_edit_error("version", "2", "version: must be 1 (this sandbox reads scenario format 1)");
	expect_edit_error("comment", "5", "comment: must be a string or an array of strings");
	expect_edit_ok("comment", "[\"a\", \"b\"]");
	expect_edit_ok("customers[0].accounts[0].comment", "\"a comment is allowed in every object\"");
}

static void errors_types(void **state)
{
	(void)state;
	expect_edit_error("name", "5", "name: must be a string, not a number");
	expect_edit_error("device", "[]", "device: must be an object, not an array");
	expect_edit_error("device", "{\"interval\": \"5\"}", "device.interval: must be an integer, not a string");
	expect_edit_error("device", "{\"interval\": 1.5}", "device.interval: must be an integer, not a fraction");
	expect_edit_error("customers[0].locked", "\"yes\"", "customers[0].locked: must be true or false, not a string");
	expect_edit_error("scopes", "{}", "scopes: must be an array, not an object");
	expect_edit_error("partners[0].scopes[0]", "1",
			  "partners[0].scopes[0]: must be a scope id (a string), not a number");
	expect_edit_error("scopes[0].name", "5",
			  "scopes[0].name: must be a text: a string, or {\"ja\": ..., \"en\": ...}; not a number");
	expect_edit_error("scopes[0].name", "[\"a\"]",
			  "scopes[0].name: must be a text: a string, or {\"ja\": ..., \"en\": ...}; not an array");
	expect_edit_error("terms", "5",
			  "terms: must be a text: a string, an array of strings (lines), or {\"ja\": ..., \"en\": ...}; "
			  "not a number");
	expect_edit_error("terms", "[\"a\", 5]", "terms[1]: must be a string, not a number");
	expect_edit_error("terms", "{\"en\": \"x\"}", "terms.ja: is required (the Japanese text)");
	expect_edit_error("terms", "{\"ja\": \"x\", \"fr\": \"y\"}", "terms.fr: unknown member (expected one of: ja, en)");
	expect_edit_error("customers[0].accounts[0].memo", "1", "customers[0].accounts[0].memo: must be a string, not a number");
	expect_edit_error("customers[0].accounts[0].balances[0].amount", "true",
			  "customers[0].accounts[0].balances[0].amount: must be a decimal amount (a string like "
			  "\"-5400\" or a whole number), not true/false");
}

static void errors_values(void **state)
{
	(void)state;
	expect_edit_error("limits", "{\"pin_length\": 3}", "limits.pin_length: must be between 4 and 16");
	expect_edit_error("device", "{\"expires_in\": 0}", "device.expires_in: must be between 1 and 86400");
	expect_edit_error("utc_offset_minutes", "900", "utc_offset_minutes: must be between -720 and 840");
	expect_edit_error("device", "{\"user_code_charset\": \"ABCA\"}", "device.user_code_charset: has 'A' twice");
	expect_edit_error("device", "{\"user_code_charset\": \"abc\"}",
			  "device.user_code_charset: may only contain upper-case letters A-Z and digits 0-9");
	expect_edit_error("name", "\"\"", "name: must not be empty");
	expect_edit_error("name", "\"a\\u001b[31m\"", "name: must not contain control characters");
	expect_edit_error("partners[0].name", "\"a\\nb\"", "partners[0].name: must be one line (no newline)");
	expect_edit_error("scopes", "[]", "scopes: must not be empty");
	expect_edit_error("customers[0].accounts", "[]", "customers[0].accounts: must not be empty");
	expect_edit_error("customers[0].accounts[0].pin", "\"12a4\"",
			  "customers[0].accounts[0].pin: must be 4 digits (limits.pin_length)");
	expect_edit_error("customers[0].accounts[0].pin", "\"123\"",
			  "customers[0].accounts[0].pin: must be 4 digits (limits.pin_length)");
	expect_edit_error("limits", "{\"pin_length\": 6}",
			  "customers[0].accounts[0].pin: must be 6 digits (limits.pin_length)");
	expect_edit_error("customers[0].accounts[0].type", "\"checking\"",
			  "customers[0].accounts[0].type: must be one of: ordinary, current, savings");
	expect_edit_error("customers[0].accounts[0].branch.code", "\"01\"",
			  "customers[0].accounts[0].branch.code: must be 3 digits");
	expect_edit_error("customers[0].accounts[0].number", "\"12-34\"",
			  "customers[0].accounts[0].number: must be digits only");
	expect_edit_error("customers[0].accounts[0].id", "\"acc/1\"",
			  "customers[0].accounts[0].id: may only contain A-Z a-z 0-9 . _ -");
	expect_edit_error("customers[0].login_id", "\"yamada 01\"",
			  "customers[0].login_id: may only contain printable ASCII characters without spaces");
	expect_edit_error("customers[0].accounts[0].transactions[0].date", "\"2026-02-29\"",
			  "customers[0].accounts[0].transactions[0].date: must be a date YYYY-MM-DD");
	expect_edit_error("customers[0].accounts[0].transactions[0].amount", "\"1,000\"",
			  "customers[0].accounts[0].transactions[0].amount: must be a decimal amount like \"-5400\" or "
			  "\"12.50\"");
	expect_edit_error("customers[0].accounts[0].transactions[0].amount", "1.5",
			  "customers[0].accounts[0].transactions[0].amount: must be a whole number here; write "
			  "fractions as a string, e.g. \"12.50\"");
	expect_edit_error("customers[0].accounts[0].balances[0].currency", "\"yen\"",
			  "customers[0].accounts[0].balances[0].currency: must be 3 upper-case letters (ISO 4217, "
			  "e.g. \"JPY\")");
	expect_edit_error("customers[0].question.ask", "\"sometimes\"",
			  "customers[0].question.ask: must be \"always\" or \"never\"");
	expect_edit_error("customers[0].question.answer", "\"A \"",
			  "customers[0].question.answer: must not begin or end with a space (answers are compared after "
			  "trimming spaces)");
	expect_edit_error("customers[0].certificates[0].serial", NULL,
			  "customers[0].certificates[0]: needs \"subject\" and \"serial\", or \"sha256\"");
	expect_edit_error("customers[0].certificates[0].serial", "\"10g\"",
			  "customers[0].certificates[0].serial: must be hexadecimal, e.g. \"1003\", \"0x1003\" or "
			  "\"10:03\"");
	expect_edit_error("customers[1].certificates[0].sha256", "\"abcd\"",
			  "customers[1].certificates[0].sha256: must be 64 hexadecimal digits (colons allowed)");
	expect_edit_error("customers[1].certificates[0]", "{\"subject\": \"CN=u1\", \"serial\": \"0x0010\"}",
			  "customers[1].certificates[0]: this certificate also belongs to customers[0]");
	expect_edit_error("customers[0].certificates[0]",
			  "{\"sha256\": \"abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789\"}",
			  "customers[1].certificates[0]: this certificate also belongs to customers[0]");
	expect_edit_ok("customers[0].certificates", "[{\"subject\": \"CN=u1\", \"serial\": \"10\"}, "
						    "{\"subject\": \"CN=u1\", \"serial\": \"0x10\"}]");
	expect_edit_error("customers[0].accounts[0].balances[0].amount", "1e300",
			  "customers[0].accounts[0].balances[0].amount: must be a whole number here; write fractions "
			  "as a string, e.g. \"12.50\"");
}

static void errors_references(void **state)
{
	(void)state;
	expect_edit_error("partners[0].scopes", "[\"balance\", \"payments\"]",
			  "partners[0].scopes[1]: unknown scope \"payments\" (the scenario's scopes: balance, "
			  "transactions)");
	expect_edit_error("partners[0].scopes", "[\"balance\", \"balance\"]",
			  "partners[0].scopes[1]: scope \"balance\" listed twice");
	expect_edit_error("scopes[1].id", "\"balance\"", "scopes[1].id: duplicate scope id \"balance\" (also scopes[0])");
	expect_edit_error("partners[1].client_id", "\"p1\"",
			  "partners[1].client_id: duplicate client_id \"p1\" (also partners[0])");
	expect_edit_error("customers[1].login_id", "\"u1\"",
			  "customers[1].login_id: duplicate login_id \"u1\" (also customers[0])");
	expect_edit_error("customers[1].accounts[0].id", "\"a1\"",
			  "customers[1].accounts[0].id: duplicate account id \"a1\" (also customers[0].accounts[0])");
}

/* Errors never show a secret; tiny or absent error buffers are safe. */
static void errors_hide_secrets(void **state)
{
	char err[512], tiny[8];
	char *j = edit("customers[0].accounts[0].pin", "\"98x7\"");
	(void)state;

	assert_null(scenario_parse(j, strlen(j), err, sizeof(err)));
	assert_null(strstr(err, "98x7"));
	assert_null(scenario_parse(j, strlen(j), tiny, sizeof(tiny)));
	assert_string_equal(tiny, "custome");
	assert_null(scenario_parse(j, strlen(j), NULL, 0));
	free(j);

	j = edit("customers[0].password", "\"secret\\u0001x\"");
	assert_null(scenario_parse(j, strlen(j), err, sizeof(err)));
	assert_string_equal(err, "customers[0].password: must not contain control characters");
	free(j);
}

/* --- files --------------------------------------------------------------------------------------- */

static void files(void **state)
{
	char err[600], path[] = "/tmp/test_sb_scenario_XXXXXX";
	struct scenario *sc;
	int fd;
	(void)state;

	sc = scenario_load_file("tests/sandbox/scenarios/does-not-exist.json", err, sizeof(err));
	assert_null(sc);
	assert_string_equal(err, "tests/sandbox/scenarios/does-not-exist.json: cannot open: No such file or directory");

	sc = scenario_load_file("tests/sandbox/scenarios", err, sizeof(err));
	assert_null(sc);
	assert_string_equal(err, "tests/sandbox/scenarios: not a regular file");

	/* 4 MiB + 1 byte: refused before parsing */
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 4 * 1024 * 1024 + 1), 0);
	close(fd);
	sc = scenario_load_file(path, err, sizeof(err));
	assert_null(sc);
	char want[600];
	snprintf(want, sizeof(want), "%s: too big (4194305 bytes; a scenario file is at most 4 MiB)", path);
	assert_string_equal(err, want);

	/* a parse error is prefixed with the file name */
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("{\"name\": \"x\", \"bogus\": 1}", f);
	fclose(f);
	sc = scenario_load_file(path, err, sizeof(err));
	assert_null(sc);
	assert_non_null(strstr(err, ": bogus: unknown member (expected one of: "));
	assert_memory_equal(err, path, strlen(path));
	unlink(path);

	sc = scenario_load_file("sandbox/scenarios/demo.json", err, sizeof(err));
	if (!sc)
		fail_msg("%s", err);
	scenario_free(sc);
}

struct bad_file {
	const char *name, *want;
};

static void test_scenario_files(void **state)
{
	static const struct bad_file bad[] = {
		{"bad-syntax.json", "line 4, column 3: not valid JSON"},
		{"bad-unknown-member.json", "customers[0].passwd: unknown member (expected one of: login_id, password, "
					    "locked, unlock, question, certificates, accounts)"},
		{"bad-pin.json", "customers[0].accounts[0].pin: must be 4 digits (limits.pin_length)"},
		{"bad-partner-scope.json", "partners[0].scopes[1]: unknown scope \"payments\" (the scenario's scopes: "
					   "balance)"},
		{"bad-duplicate-account.json", "customers[1].accounts[0].id: duplicate account id \"acc-001-0000001\" "
					       "(also customers[0].accounts[0])"},
	};
	char path[256], err[600], want[700];
	(void)state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(path, sizeof(path), "tests/sandbox/scenarios/%s", bad[i].name);
		assert_null(scenario_load_file(path, err, sizeof(err)));
		snprintf(want, sizeof(want), "%s: %s", path, bad[i].want);
		assert_string_equal(err, want);
	}

	struct scenario *sc = scenario_load_file("tests/sandbox/scenarios/minimal.json", err, sizeof(err));
	if (!sc)
		fail_msg("%s", err);
	assert_string_equal(sc->customers[0].accounts[0].balances[0].amount, "1000");
	scenario_free(sc);

	/* The short-* files are the demo with only their documented members changed. */
	static const struct {
		const char *name;
		int expires_in, interval, idle, ttl;
	} variants[] = {
		{"short-expiry.json", 3, 1, 600, 3600},
		{"short-session.json", 600, 5, 2, 3600},
		{"short-token.json", 600, 5, 600, 2},
	};
	size_t dlen;
	char *demo_text = read_text("sandbox/scenarios/demo.json", &dlen);
	assert_non_null(demo_text);
	cJSON *demo = cJSON_Parse(demo_text);
	assert_non_null(demo);
	for (size_t i = 0; i < sizeof(variants) / sizeof(variants[0]); i++) {
		size_t len;
		snprintf(path, sizeof(path), "tests/sandbox/scenarios/%s", variants[i].name);
		sc = scenario_load_file(path, err, sizeof(err));
		if (!sc)
			fail_msg("%s", err);
		assert_int_equal(sc->expires_in, variants[i].expires_in);
		assert_int_equal(sc->interval, variants[i].interval);
		assert_int_equal(sc->session_idle_seconds, variants[i].idle);
		assert_int_equal(sc->access_token_ttl, variants[i].ttl);
		scenario_free(sc);

		char *text = read_text(path, &len);
		cJSON *v = cJSON_Parse(text), *d = cJSON_Duplicate(demo, true);
		assert_non_null(v);
		static const char *const differ[] = {"comment", "name", "device", "limits"};
		for (size_t k = 0; k < 4; k++) {
			cJSON_DeleteItemFromObjectCaseSensitive(v, differ[k]);
			cJSON_DeleteItemFromObjectCaseSensitive(d, differ[k]);
		}
		assert_true(cJSON_Compare(v, d, true));
		cJSON_Delete(v);
		cJSON_Delete(d);
		free(text);
	}
	cJSON_Delete(demo);
	free(demo_text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(builtin_demo),     cmocka_unit_test(builtin_text_is_the_file),
		cmocka_unit_test(lookups),          cmocka_unit_test(base_and_defaults),
		cmocka_unit_test(errors_json),      cmocka_unit_test(errors_members),
		cmocka_unit_test(errors_types),     cmocka_unit_test(errors_values),
		cmocka_unit_test(errors_references), cmocka_unit_test(errors_hide_secrets),
		cmocka_unit_test(files),            cmocka_unit_test(test_scenario_files),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
