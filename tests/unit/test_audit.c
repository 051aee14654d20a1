/* test_audit.c: the audit trail's pure parts: account masking and the session's opaque id, and a
 * record written to a file (one line, every key, nothing secret). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit.h"

static void masking(void **state)
{
	(void)state;
	char m[32];
	audit_mask("2000002", m, sizeof m);
	assert_string_equal(m, "*****02");
	audit_mask("12", m, sizeof m);
	assert_string_equal(m, "12");
	audit_mask("", m, sizeof m);
	assert_string_equal(m, "");
	audit_mask("123456789", m, 5); /* cut, never overflowing */
	assert_string_equal(m, "****");
}

static void session_id(void **state)
{
	(void)state;
	char id[33];
	/* SHA-256("abc") = ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad */
	audit_session_id("abc", id);
	assert_string_equal(id, "ba7816bf8f01cfea414140de5dae2223");
	audit_session_id("", id);
	assert_string_equal(id, "");
}

static void record_to_file(void **state)
{
	(void)state;
	char path[] = "/tmp/renkei-audit-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	char err[256];
	struct audit_opts o = {.target = path, .terminal = "t1"};
	struct audit *au = audit_open(&o, err, sizeof err);
	assert_non_null(au);
	const char *scopes[] = {"balance"}, *accts[] = {"2000002", "1111111"};
	struct audit_record r = {.partner = "p", .customer = "yamada01", .method = "password", .scopes = scopes,
				 .n_scopes = 1, .accounts = accts, .n_accounts = 2, .result = "allowed",
				 .session = "0123456789abcdef0123456789abcdef"};
	assert_int_equal(audit_write(au, &r), 0);
	assert_int_equal(audit_write(au, &r), 0);
	audit_close(au);
	FILE *f = fopen(path, "r");
	char line[2048];
	int n = 0;
	while (fgets(line, sizeof line, f)) {
		n++;
		assert_non_null(strstr(line, "\"terminal\":\"t1\""));
		assert_non_null(strstr(line, "\"accounts\":[\"*****02\",\"*****11\"]"));
		assert_non_null(strstr(line, "\"session\":\"0123456789abcdef0123456789abcdef\""));
		assert_null(strstr(line, "2000002"));
		assert_int_equal(line[strlen(line) - 1], '\n');
	}
	fclose(f);
	assert_int_equal(n, 2);
	unlink(path);
	/* a target that cannot be written: refused at open, with the path in the message */
	o.target = "/nonexistent-dir/audit.jsonl";
	assert_null(audit_open(&o, err, sizeof err));
	assert_non_null(strstr(err, "/nonexistent-dir/audit.jsonl"));
	o.target = "syslog";
	o.facility = "mail";
	assert_null(audit_open(&o, err, sizeof err));
	assert_non_null(strstr(err, "mail"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(masking),
		cmocka_unit_test(session_id),
		cmocka_unit_test(record_to_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
