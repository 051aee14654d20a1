/* test_problem.c: the problem-type table (protocol §5) and the classification of curl failures. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <string.h>

#include "api.h"
#include "problem.h"
#include "problem_spec.h"

static void every_type_round_trips(void **state)
{
	(void)state;
	char urn[128];
	for (size_t i = 0; i < PROBLEM_SPEC_COUNT; i++) {
		snprintf(urn, sizeof urn, "urn:renkei:problem:%s", problem_spec[i].name);
		assert_int_equal(problem_from_type(urn), problem_spec[i].kind);
		assert_string_equal(problem_name(problem_spec[i].kind), problem_spec[i].name);
		assert_int_equal(problem_status(problem_spec[i].kind), problem_spec[i].status);
		assert_false(problem_is_transport(problem_spec[i].kind));
	}
	/* every enum value with a status is in the spec list: nothing invented, nothing missing */
	size_t with_status = 0;
	for (int p = 0; p < PROBLEM__COUNT; p++) {
		assert_non_null(problem_name((enum problem)p));
		if (problem_status((enum problem)p))
			with_status++;
	}
	assert_int_equal(with_status, PROBLEM_SPEC_COUNT);
}

/* Every kind has its row: a name, a message the customer reads (a catalog msgid), a retry rule;
 * a kind without a message fails here (and renkei refuses to start: app_run). */
static void every_kind_has_a_message(void **state)
{
	(void)state;
	assert_null(problem_table_check());
	for (int p = PROBLEM_NONE + 1; p < PROBLEM__COUNT; p++) {
		const struct problem_info *r = problem_info((enum problem)p);
		assert_non_null(r->name);
		assert_non_null(r->msgid);
		assert_true(r->msgid[0] != '\0');
		if (r->arg == PROBLEM_ARG_SECONDS)
			assert_non_null(r->msgid_alt);
		/* retry only where nothing is known about the server's state, or it said so */
		if (problem_is_transport((enum problem)p))
			assert_true(r->retry);
	}
	assert_true(problem_info(PROBLEM_INTERNAL)->retry);
	assert_true(problem_info(PROBLEM_RATE_LIMITED)->retry);
	assert_false(problem_info(PROBLEM_WRONG_CREDENTIALS)->retry);
	assert_false(problem_info(PROBLEM_NO_MEMORY)->retry);
	assert_int_equal(problem_info(PROBLEM_WRONG_ANSWER)->field, FLOW_FIELD_ANSWER);
	assert_int_equal(problem_info(PROBLEM_USER_CODE_USED)->field, FLOW_FIELD_USER_CODE);
	/* out of range: the empty row */
	assert_null(problem_info((enum problem)-1)->msgid);
	assert_null(problem_info(PROBLEM__COUNT)->msgid);
	/* per-field messages of the local checks */
	assert_string_equal(problem_field_msgid(PROBLEM_INPUT_REQUIRED, FLOW_FIELD_LOGIN_ID),
			    "ログインIDを入力してください。");
	assert_string_equal(problem_field_msgid(PROBLEM_INPUT_REQUIRED, FLOW_FIELD_INTENT),
			    problem_info(PROBLEM_INPUT_REQUIRED)->msgid);
}

static void unknown_and_malformed_types(void **state)
{
	(void)state;
	assert_int_equal(problem_from_type(NULL), PROBLEM_UNKNOWN_TYPE);
	assert_int_equal(problem_from_type(""), PROBLEM_UNKNOWN_TYPE);
	assert_int_equal(problem_from_type("wrong-credentials"), PROBLEM_UNKNOWN_TYPE);
	assert_int_equal(problem_from_type("urn:renkei:problem:"), PROBLEM_UNKNOWN_TYPE);
	assert_int_equal(problem_from_type("urn:renkei:problem:none"), PROBLEM_UNKNOWN_TYPE);
	assert_int_equal(problem_from_type("urn:renkei:problem:net-connect"), PROBLEM_UNKNOWN_TYPE);
	assert_int_equal(problem_from_type("urn:renkei:problem:bad-answer"), PROBLEM_UNKNOWN_TYPE);
	assert_int_equal(problem_from_type("urn:renkei:problem:Wrong-Credentials"),
			 PROBLEM_UNKNOWN_TYPE);
	assert_int_equal(problem_from_type("urn:renkei:problem:wrong-credentials "),
			 PROBLEM_UNKNOWN_TYPE);
	assert_int_equal(problem_from_type("about:blank"), PROBLEM_UNKNOWN_TYPE);
	assert_string_equal(problem_name((enum problem)-1), "unknown-type");
	assert_string_equal(problem_name(PROBLEM__COUNT), "unknown-type");
	assert_string_equal(problem_name(PROBLEM_NONE), "none");
	assert_string_equal(problem_name(PROBLEM_TLS_CLIENT), "tls-client");
	assert_true(problem_is_transport(PROBLEM_NET_CONNECT));
	assert_true(problem_is_transport(PROBLEM_BAD_ANSWER));
	assert_false(problem_is_transport(PROBLEM_INPUT_REQUIRED));
}

static void curl_classification(void **state)
{
	(void)state;
	/* api_classify(code, verify_result, client_cert, fresh_conn, errbuf) */
	assert_int_equal(api_classify(CURLE_OK, 0, false, false, ""), PROBLEM_NONE);
	assert_int_equal(api_classify(CURLE_COULDNT_CONNECT, 0, false, true, "Connection refused"),
			 PROBLEM_NET_CONNECT);
	assert_int_equal(api_classify(CURLE_COULDNT_CONNECT, 0, true, true, ""), PROBLEM_NET_CONNECT);
	assert_int_equal(api_classify(CURLE_COULDNT_RESOLVE_HOST, 0, false, false, ""),
			 PROBLEM_NET_CONNECT);
	assert_int_equal(api_classify(CURLE_OPERATION_TIMEDOUT, 0, true, true, ""),
			 PROBLEM_NET_TIMEOUT);
	/* the server's certificate did not verify (seen: verify result 20) */
	assert_int_equal(api_classify(CURLE_PEER_FAILED_VERIFICATION, 20, false, true,
				      "SSL certificate problem: unable to get local issuer certificate"),
			 PROBLEM_TLS_SERVER);
	assert_int_equal(api_classify(CURLE_PEER_FAILED_VERIFICATION, 20, true, true,
				      "SSL certificate problem: unable to get local issuer certificate"),
			 PROBLEM_TLS_SERVER);
	assert_int_equal(api_classify(CURLE_SSL_CACERT_BADFILE, 0, false, true, ""),
			 PROBLEM_TLS_SERVER);
	/* TLS 1.2: the server's alert about our expired certificate comes back as 60 (seen here:
	 * verify result 1, "SSL certificate verification failed") */
	assert_int_equal(api_classify(CURLE_PEER_FAILED_VERIFICATION, 1, true, true,
				      "SSL certificate verification failed"),
			 PROBLEM_TLS_CLIENT);
	assert_int_equal(api_classify(CURLE_PEER_FAILED_VERIFICATION, 1, false, true,
				      "SSL certificate verification failed"),
			 PROBLEM_TLS_SERVER);
	/* TLS 1.2: an untrusted client certificate: alert during the handshake (seen: 35) */
	assert_int_equal(api_classify(CURLE_SSL_CONNECT_ERROR, 1, true, true,
				      "OpenSSL/3.0.19: error:0A000418:SSL routines::tlsv1 alert "
				      "unknown ca"),
			 PROBLEM_TLS_CLIENT);
	/* TLS 1.3: the rejection shows on the first read or write of the new connection */
	assert_int_equal(api_classify(CURLE_RECV_ERROR, 0, true, true,
				      "error:0A000412:SSL routines::sslv3 alert bad certificate"),
			 PROBLEM_TLS_CLIENT);
	assert_int_equal(api_classify(CURLE_SEND_ERROR, 1, true, true,
				      "getpeername() failed with errno 107: Transport endpoint is "
				      "not connected"),
			 PROBLEM_TLS_CLIENT);
	/* the same on a reused connection, or without a certificate: a network failure */
	assert_int_equal(api_classify(CURLE_RECV_ERROR, 0, true, false, "Connection reset by peer"),
			 PROBLEM_NET_OTHER);
	assert_int_equal(api_classify(CURLE_RECV_ERROR, 0, false, true, "Connection reset by peer"),
			 PROBLEM_NET_OTHER);
	assert_int_equal(api_classify(CURLE_SSL_CERTPROBLEM, 0, true, true, ""), PROBLEM_TLS_CLIENT);
	assert_int_equal(api_classify(CURLE_SSL_CLIENTCERT, 0, false, true, ""), PROBLEM_TLS_CLIENT);
	assert_int_equal(api_classify(CURLE_SSL_CONNECT_ERROR, 0, true, true,
				      "error:0A000086:SSL routines::certificate verify failed"),
			 PROBLEM_TLS_SERVER);
	assert_int_equal(api_classify(CURLE_SSL_CONNECT_ERROR, 0, true, true, "wrong version number"),
			 PROBLEM_NET_OTHER);
	assert_int_equal(api_classify(CURLE_GOT_NOTHING, 0, false, false, NULL), PROBLEM_NET_OTHER);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_type_round_trips),
		cmocka_unit_test(every_kind_has_a_message),
		cmocka_unit_test(unknown_and_malformed_types),
		cmocka_unit_test(curl_classification),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
