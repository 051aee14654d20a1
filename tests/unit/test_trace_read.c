/* test_trace_read.c: the --trace reader (docs/trace.md): a whole run read back (actions with their
 * step, answers in order), the last run of a file kept, and every kind of bad file refused with
 * NAME:LINE: what is wrong; what trace.c writes is what the reader reads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "trace.h"
#include "trace_read.h"

#define HEAD "{\"trace\":\"renkei\",\"version\":1,\"renkei\":\"0.1.0\",\"lang\":\"ja\"," \
	     "\"terminal\":{\"cols\":80,\"rows\":24},\"options\":{\"user_code\":\"[redacted]\",\"unmasked\":false}}\n"
#define SCREEN "{\"type\":\"screen\",\"form\":\"login_password\",\"step\":\"login\",\"lang\":\"ja\"}\n"
#define TYPED "{\"type\":\"action\",\"n\":1,\"ms\":900,\"form\":\"login_password\",\"what\":\"typed\"," \
	      "\"key\":\"text\",\"field\":\"password\",\"count\":11,\"secret\":true}\n"
#define PRESS "{\"type\":\"action\",\"n\":2,\"ms\":120,\"form\":\"login_password\",\"what\":\"pressed\"," \
	      "\"key\":\"enter\",\"button\":\"login\"}\n"
#define REQ "{\"type\":\"request\",\"method\":\"POST\",\"path\":\"/consent/v1/session/login\"," \
	    "\"action\":\"login\",\"status\":401,\"ms\":3}\n"
#define RESP "{\"type\":\"response\",\"status\":401,\"ms\":3,\"content_type\":\"application/problem+json\"," \
	     "\"body\":{\"type\":\"urn:renkei:problem:wrong-credentials\",\"tries_left\":2}}\n"
#define FAILED "{\"type\":\"response\",\"status\":null,\"ms\":0,\"error\":\"net-timeout\"}\n"
#define END "{\"type\":\"end\",\"step\":\"login\",\"result\":\"error\",\"exit\":1,\"actions\":2}\n"

static int parse(const char *text, struct trace_run *run, char *err)
{
	return trace_parse("t.jsonl", text, strlen(text), run, err, 256);
}

static void whole_run(void **state)
{
	(void)state;
	struct trace_run run;
	char err[256];
	assert_int_equal(parse(HEAD SCREEN TYPED PRESS REQ RESP FAILED END, &run, err), 0);
	assert_string_equal(run.lang, "ja");
	assert_int_equal(run.cols, 80);
	assert_true(run.user_code);
	assert_false(run.unmasked);
	assert_int_equal(run.nactions, 2);
	assert_string_equal(run.actions[0].step, "login");
	assert_string_equal(run.actions[0].what, "typed");
	assert_true(run.actions[0].secret);
	assert_null(run.actions[0].text);
	assert_int_equal(run.actions[0].count, 11);
	assert_int_equal(run.actions[0].ms, 900);
	assert_string_equal(run.actions[1].label, "login");
	assert_int_equal(run.nanswers, 2);
	assert_int_equal(run.answers[0].status, 401);
	assert_string_equal(run.answers[0].content_type, "application/problem+json");
	assert_non_null(strstr(run.answers[0].body, "wrong-credentials"));
	assert_int_equal(run.answers[1].status, 0);
	assert_int_equal(run.answers[1].failure, PROBLEM_NET_TIMEOUT);
	assert_true(run.ended);
	assert_int_equal(run.exit_code, 1);
	trace_run_free(&run);
}

static void last_run_kept(void **state)
{
	(void)state;
	struct trace_run run;
	char err[256];
	assert_int_equal(parse(HEAD SCREEN TYPED PRESS END HEAD SCREEN PRESS, &run, err), 0);
	assert_int_equal(run.nactions, 1);
	assert_false(run.ended); /* cut short: still read */
	trace_run_free(&run);
}

static void refused(const char *text, const char *where, const char *what)
{
	struct trace_run run;
	char err[256];
	assert_int_equal(parse(text, &run, err), -1);
	if (strncmp(err, where, strlen(where)) != 0 || !strstr(err, what))
		fail_msg("%s: got \"%s\", want \"%s...%s\"", text, err, where, what);
	assert_null(run.actions);
}

static void bad_files(void **state)
{
	(void)state;
	refused("", "t.jsonl:1: ", "空");
	refused("garbage\n", "t.jsonl:1: ", "JSON");
	refused(SCREEN, "t.jsonl:1: ", "先頭行");
	refused(HEAD SCREEN "{\"type\":\"act", "t.jsonl:3: ", "切れて");
	refused("{\"trace\":\"renkei\",\"version\":2}\n", "t.jsonl:1: ", "2");
	refused("{\"trace\":\"other\",\"version\":1}\n", "t.jsonl:1: ", "renkei");
	refused(HEAD "{\"type\":\"nonsense\"}\n", "t.jsonl:2: ", "nonsense");
	refused(HEAD "[1,2]\n", "t.jsonl:2: ", "JSON");
	refused(HEAD "{\"type\":\"screen\",\"form\":\"x\"}\n", "t.jsonl:2: ", "step");
	refused(HEAD "{\"type\":\"action\",\"n\":1,\"ms\":1,\"key\":\"enter\",\"what\":\"pressed\"}\n",
		"t.jsonl:2: ", "form");
	refused(HEAD "{\"type\":\"action\",\"n\":1,\"ms\":1,\"form\":\"f\",\"key\":\"text\",\"what\":\"typed\"}\n",
		"t.jsonl:2: ", "count");
	refused(HEAD "{\"type\":\"response\",\"status\":\"200\",\"ms\":1}\n", "t.jsonl:2: ", "status");
	refused(HEAD, "t.jsonl:1: ", "");
}

/* What trace.c writes (header, a response) reads back. */
static void written_reads_back(void **state)
{
	(void)state;
	char path[] = "/tmp/renkei-trace-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	struct trace *t = trace_open(path);
	assert_non_null(t);
	struct options o;
	options_defaults(&o);
	o.server = "https://user:pw@bank.example";
	trace_start(t, &o);
	const char body[] = "{\"step\":\"login\",\"session\":\"tok-secret\"}";
	trace_response(t, 201, "application/json", body, strlen(body), 5, PROBLEM_NONE);
	trace_response(t, 0, NULL, NULL, 0, 0, PROBLEM_NET_CONNECT);
	trace_close(t);
	struct trace_run run;
	char err[256];
	assert_int_equal(trace_read_file(path, &run, err, sizeof err), 0);
	assert_int_equal(run.nanswers, 2);
	assert_int_equal(run.answers[0].status, 201);
	assert_null(strstr(run.answers[0].body, "tok-secret"));
	assert_non_null(strstr(run.answers[0].body, "[redacted]"));
	assert_int_equal(run.answers[1].failure, PROBLEM_NET_CONNECT);
	trace_run_free(&run);
	FILE *f = fopen(path, "r");
	char text[4096] = {0};
	assert_true(fread(text, 1, sizeof text - 1, f) > 0);
	fclose(f);
	assert_null(strstr(text, "pw@"));
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(whole_run),
		cmocka_unit_test(last_run_kept),
		cmocka_unit_test(bad_files),
		cmocka_unit_test(written_reads_back),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
