/* test_api.c: the client limits of api.c: the retry rule and its waits (pure), and the per-step
 * retry budget through real libcurl against a small TLS server in a thread (a self-signed
 * certificate made here; each connection answers one request as scripted: reset, a status with
 * or without Retry-After, or an answer too large); a closed port for connections refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "api.h"
#include "wipe.h"

static void retry_rule(void **state)
{
	(void)state;
	/* nothing sent: any request */
	assert_true(api_should_retry(CURLE_COULDNT_CONNECT, 0, false));
	assert_true(api_should_retry(CURLE_COULDNT_RESOLVE_HOST, 0, false));
	/* reset or cut short: only when sending again is harmless */
	for (int c = 0; c < 4; c++) {
		int code = (int[]){CURLE_SEND_ERROR, CURLE_RECV_ERROR, CURLE_GOT_NOTHING, CURLE_PARTIAL_FILE}[c];
		assert_true(api_should_retry(code, 0, true));
		assert_false(api_should_retry(code, 0, false));
	}
	assert_true(api_should_retry(CURLE_OK, 503, true));
	assert_true(api_should_retry(CURLE_OK, 502, true));
	assert_true(api_should_retry(CURLE_OK, 504, true));
	assert_false(api_should_retry(CURLE_OK, 503, false));
	assert_false(api_should_retry(CURLE_OK, 500, true));
	assert_false(api_should_retry(CURLE_OK, 429, true));
	assert_false(api_should_retry(CURLE_OK, 200, true));
	assert_false(api_should_retry(CURLE_OPERATION_TIMEDOUT, 0, true));
	assert_false(api_should_retry(CURLE_PEER_FAILED_VERIFICATION, 0, true));
	assert_false(api_should_retry(CURLE_WRITE_ERROR, 0, true)); /* answer too large */

	assert_int_equal(api_retry_delay_ms(1, 0), API_RETRY_FIRST_WAIT_MS);
	assert_int_equal(api_retry_delay_ms(2, 0), 2 * API_RETRY_FIRST_WAIT_MS);
	assert_int_equal(api_retry_delay_ms(30, 0), API_RETRY_MAX_WAIT_MS);
	assert_int_equal(api_retry_delay_ms(1, 1), 1000);
	assert_int_equal(api_retry_delay_ms(1, 120), API_RETRY_MAX_WAIT_MS);
}

/* What is kept of Content-Type and Retry-After (libcurl's reading of them, then ours). */
static void headers_read(void **state)
{
	(void)state;
	struct api_headers h;
	api_read_headers(NULL, 0, &h);
	assert_string_equal(h.content_type, "");
	assert_int_equal(h.retry_after, 0);
	api_read_headers("application/problem+json", 7, &h);
	assert_string_equal(h.content_type, "application/problem+json");
	assert_int_equal(h.retry_after, 7);
	api_read_headers("text/html", -5, &h);
	assert_int_equal(h.retry_after, 0);
	api_read_headers("", 1LL << 40, &h);
	assert_string_equal(h.content_type, "");
	assert_int_equal(h.retry_after, API_RETRY_AFTER_MAX);
	char lng[300];
	memset(lng, 'a', sizeof lng - 1);
	lng[sizeof lng - 1] = '\0';
	api_read_headers(lng, 3600, &h);
	assert_int_equal(strlen(h.content_type), API_CONTENT_TYPE_MAX - 1);
	assert_int_equal(h.retry_after, 3600);
}

/* ---- a scripted TLS server ------------------------------------------------------------------ */

enum act { RESET, ANSWER, HUGE, FOLDED, KEEP };
struct step {
	enum act act;
	int status;
	int retry_after; /* 0: no header */
};

struct server {
	int fd, port;
	SSL_CTX *ctx;
	char cafile[64];
	const struct step *script;
	int nscript;
	int served; /* requests read */
	int accepted; /* connections */
	pthread_t th;
};

static void make_cert(struct server *s)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	assert_non_null(k);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, k);
	X509_NAME *n = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"127.0.0.1", -1, -1, 0);
	X509_set_issuer_name(x, n);
	X509V3_CTX v;
	X509V3_set_ctx(&v, x, x, NULL, NULL, 0);
	const char *ext[][2] = {{"subjectAltName", "IP:127.0.0.1"}, {"basicConstraints", "critical,CA:TRUE"}};
	for (int i = 0; i < 2; i++) {
		X509_EXTENSION *e = X509V3_EXT_conf(NULL, &v, ext[i][0], ext[i][1]);
		assert_non_null(e);
		X509_add_ext(x, e, -1);
		X509_EXTENSION_free(e);
	}
	assert_true(X509_sign(x, k, EVP_sha256()) > 0);
	snprintf(s->cafile, sizeof s->cafile, "/tmp/rk-test-api-XXXXXX");
	int fd = mkstemp(s->cafile);
	assert_true(fd >= 0);
	FILE *f = fdopen(fd, "w");
	PEM_write_X509(f, x);
	fclose(f);
	s->ctx = SSL_CTX_new(TLS_server_method());
	assert_int_equal(SSL_CTX_use_certificate(s->ctx, x), 1);
	assert_int_equal(SSL_CTX_use_PrivateKey(s->ctx, k), 1);
	X509_free(x);
	EVP_PKEY_free(k);
}

/* Read one request (headers, then Content-Length bytes). */
static bool read_request(SSL *ssl)
{
	char buf[8192];
	size_t n = 0;
	char *end = NULL;
	while (!end && n < sizeof buf - 1) {
		int r = SSL_read(ssl, buf + n, (int)(sizeof buf - 1 - n));
		if (r <= 0)
			return false;
		n += (size_t)r;
		buf[n] = '\0';
		end = strstr(buf, "\r\n\r\n");
	}
	if (!end)
		return false;
	const char *cl = strcasestr(buf, "content-length:");
	size_t want = cl ? (size_t)atol(cl + 15) : 0, have = n - (size_t)(end + 4 - buf);
	while (have < want) {
		int r = SSL_read(ssl, buf, (int)sizeof buf);
		if (r <= 0)
			return false;
		have += (size_t)r;
	}
	return true;
}

static void answer(SSL *ssl, const struct step *st)
{
	char h[256];
	size_t body = st->act == HUGE ? (size_t)API_MAX_BODY + 10 : 2;
	int n = snprintf(h, sizeof h,
			 "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
			 "%s%s%.0d%s\r\n",
			 st->status, body, st->act == KEEP ? "" : "Connection: close\r\n",
			 st->retry_after ? "Retry-After: " : "", st->retry_after,
			 st->retry_after ? "\r\n" : "");
	SSL_write(ssl, h, n);
	static char chunk[65536];
	memset(chunk, ' ', sizeof chunk);
	chunk[0] = '{';
	for (size_t sent = 0; sent < body;) {
		size_t m = body - sent < sizeof chunk ? body - sent : sizeof chunk;
		if (sent + m == body)
			chunk[m - 1] = '}';
		if (SSL_write(ssl, chunk, (int)m) <= 0)
			break;
		sent += m;
	}
}

static void *serve(void *p)
{
	struct server *s = p;
	for (;;) {
		int c = accept(s->fd, NULL, NULL);
		if (c < 0)
			return NULL;
		SSL *ssl = SSL_new(s->ctx);
		SSL_set_fd(ssl, c);
		s->accepted++;
		bool first = true;
		for (bool more = SSL_accept(ssl) == 1; more; first = false) {
			more = false;
			/* a kept connection closed by the client: done with it */
			if (!read_request(ssl) && !first)
				break;
			int i = s->served++;
			const struct step *st = &s->script[i < s->nscript ? i : s->nscript - 1];
			if (st->act == RESET) {
				struct linger lg = {1, 0}; /* RST, no answer */
				setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
			} else if (st->act == FOLDED) {
				/* the first header line folded (starts with a space): nothing to unfold */
				static const char f[] = "HTTP/1.1 200 X\r\n folded: x\r\nContent-Type: "
							"application/json\r\nContent-Length: 2\r\n"
							"Connection: close\r\n\r\n{}";
				SSL_write(ssl, f, (int)sizeof f - 1);
				SSL_shutdown(ssl);
			} else if (st->act == KEEP) {
				answer(ssl, st);
				more = true; /* the next request on the same connection */
			} else {
				answer(ssl, st);
				SSL_shutdown(ssl);
			}
		}
		SSL_free(ssl);
		close(c);
	}
}

static void server_start(struct server *s, const struct step *script, int n)
{
	memset(s, 0, sizeof *s);
	make_cert(s);
	s->script = script;
	s->nscript = n;
	s->fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	assert_int_equal(bind(s->fd, (struct sockaddr *)&sa, sizeof sa), 0);
	assert_int_equal(listen(s->fd, 8), 0);
	socklen_t sl = sizeof sa;
	getsockname(s->fd, (struct sockaddr *)&sa, &sl);
	s->port = ntohs(sa.sin_port);
	assert_int_equal(pthread_create(&s->th, NULL, serve, s), 0);
}

static void server_stop(struct server *s)
{
	shutdown(s->fd, SHUT_RDWR);
	close(s->fd);
	pthread_join(s->th, NULL);
	SSL_CTX_free(s->ctx);
	unlink(s->cafile);
}

static struct api *client(struct server *s, int port)
{
	char url[64];
	snprintf(url, sizeof url, "https://127.0.0.1:%d", port);
	struct api_opts o = {.server = url, .cacert = s ? s->cafile : NULL, .timeout = 10};
	struct api_err e;
	struct api *a = api_new(&o, &e);
	assert_non_null(a);
	return a;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int send_one(struct api *a, enum flow_action act, enum flow_method m, bool idem, long *status,
		    struct api_err *e)
{
	char body[] = "{}";
	struct flow_req r = {.action = act, .method = m, .path = "/consent/v1/session", .idempotent = idem};
	if (m == FLOW_POST) {
		r.body = body;
		r.body_len = 2;
	}
	struct api_resp resp;
	int rc = api_send(a, &r, &resp, e);
	*status = rc == 0 ? resp.status : 0;
	if (rc == 0)
		api_resp_free(&resp);
	return rc;
}

static void idempotent_get_survives_resets(void **state)
{
	(void)state;
	const struct step script[] = {{RESET, 0, 0}, {RESET, 0, 0}, {ANSWER, 200, 0}};
	struct server s;
	server_start(&s, script, 3);
	struct api *a = client(&s, s.port);
	long st;
	struct api_err e;
	assert_int_equal(send_one(a, FLOW_ACT_REFRESH, FLOW_GET, true, &st, &e), 0);
	assert_int_equal(st, 200);
	assert_int_equal(api_last_attempts(a), 3);
	assert_int_equal(s.served, 3);
	api_free(a);
	server_stop(&s);
}

static void login_post_never_resent_after_reset(void **state)
{
	(void)state;
	const struct step script[] = {{RESET, 0, 0}, {ANSWER, 200, 0}};
	struct server s;
	server_start(&s, script, 2);
	struct api *a = client(&s, s.port);
	long st;
	struct api_err e;
	assert_int_equal(send_one(a, FLOW_ACT_LOGIN, FLOW_POST, false, &st, &e), -1);
	assert_true(problem_is_transport(e.kind));
	assert_int_equal(api_last_attempts(a), 1);
	assert_int_equal(s.served, 1); /* the server saw the password once */
	api_free(a);
	server_stop(&s);
}

static void budget_per_step_then_503_to_the_flow(void **state)
{
	(void)state;
	const struct step script[] = {{ANSWER, 503, 1}};
	struct server s;
	server_start(&s, script, 1);
	struct api *a = client(&s, s.port);
	long st;
	struct api_err e;
	double t0 = now_s();
	assert_int_equal(send_one(a, FLOW_ACT_START, FLOW_POST, true, &st, &e), 0);
	double took = now_s() - t0;
	assert_int_equal(st, 503); /* the last answer goes to the flow */
	assert_int_equal(api_last_attempts(a), 1 + API_STEP_RETRIES);
	assert_true(took >= 2.0 * 0.95); /* Retry-After: 1 s, twice */
	/* an answer came: the budget is full again for the same step's next request */
	assert_int_equal(send_one(a, FLOW_ACT_START, FLOW_POST, true, &st, &e), 0);
	assert_int_equal(api_last_attempts(a), 1 + API_STEP_RETRIES);
	assert_int_equal(s.served, 2 * (1 + API_STEP_RETRIES));
	api_free(a);
	server_stop(&s);
}

/* libcurl 7.88.1 (Debian 12) keeps a pointer to the last header of the handle's previous
 * transfer (curl issue 11101, fixed in 8.1.0) and unfolds a folded first header line of the next
 * answer into it after it was freed: every request has a handle of its own, so a server's folded
 * first header is refused (CURLE_BAD_FUNCTION_ARGUMENT) instead of writing to freed memory. */
static void folded_first_header_after_an_answer(void **state)
{
	(void)state;
	const struct step script[] = {{ANSWER, 200, 0}, {FOLDED, 200, 0}, {ANSWER, 201, 0}};
	struct server s;
	server_start(&s, script, 3);
	struct api *a = client(&s, s.port);
	long st;
	struct api_err e;
	assert_int_equal(send_one(a, FLOW_ACT_REFRESH, FLOW_GET, true, &st, &e), 0);
	assert_int_equal(st, 200);
	assert_int_equal(send_one(a, FLOW_ACT_LOGIN, FLOW_POST, false, &st, &e), -1);
	assert_int_equal(e.curl_code, CURLE_BAD_FUNCTION_ARGUMENT);
	assert_int_equal(send_one(a, FLOW_ACT_START, FLOW_POST, false, &st, &e), 0);
	assert_int_equal(st, 201);
	assert_int_equal(s.served, 3);
	api_free(a);
	server_stop(&s);
}

/* One connection for the flow: the requests after the first reuse it (no new TLS handshake),
 * although each has an easy handle of its own (the share of api.c). */
static void one_connection_for_the_flow(void **state)
{
	(void)state;
	const struct step script[] = {{KEEP, 201, 0}, {KEEP, 200, 0}, {KEEP, 200, 0}};
	struct server s;
	server_start(&s, script, 3);
	struct api *a = client(&s, s.port);
	long st;
	struct api_err e;
	assert_int_equal(send_one(a, FLOW_ACT_START, FLOW_POST, true, &st, &e), 0);
	assert_int_equal(st, 201);
	assert_int_equal(api_last_num_connects(a), 1);
	assert_int_equal(send_one(a, FLOW_ACT_LOGIN, FLOW_POST, false, &st, &e), 0);
	assert_int_equal(api_last_num_connects(a), 0);
	assert_int_equal(send_one(a, FLOW_ACT_REFRESH, FLOW_GET, true, &st, &e), 0);
	assert_int_equal(api_last_num_connects(a), 0);
	assert_int_equal(api_total_connects(a), 1);
	assert_int_equal(s.served, 3);
	api_free(a);
	server_stop(&s);
	assert_int_equal(s.accepted, 1);
}

static void too_large_answer_refused_not_retried(void **state)
{
	(void)state;
	const struct step script[] = {{HUGE, 200, 0}};
	struct server s;
	server_start(&s, script, 1);
	struct api *a = client(&s, s.port);
	long st;
	struct api_err e;
	assert_int_equal(send_one(a, FLOW_ACT_REFRESH, FLOW_GET, true, &st, &e), -1);
	assert_int_equal(e.kind, PROBLEM_BAD_ANSWER);
	assert_int_equal(api_last_attempts(a), 1);
	api_free(a);
	server_stop(&s);
}

static void refused_connection_budget_spent_per_step(void **state)
{
	(void)state;
	int fd = socket(AF_INET, SOCK_STREAM, 0); /* a port nobody listens on */
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	bind(fd, (struct sockaddr *)&sa, sizeof sa);
	socklen_t sl = sizeof sa;
	getsockname(fd, (struct sockaddr *)&sa, &sl);
	struct api *a = client(NULL, ntohs(sa.sin_port));
	long st;
	struct api_err e;
	double t0 = now_s();
	assert_int_equal(send_one(a, FLOW_ACT_LOGIN, FLOW_POST, false, &st, &e), -1);
	assert_int_equal(e.kind, PROBLEM_NET_CONNECT);
	assert_int_equal(api_last_attempts(a), 1 + API_STEP_RETRIES);
	assert_true(now_s() - t0 >= (API_RETRY_FIRST_WAIT_MS * 3) / 1000.0 * 0.95);
	/* the customer sends the same step again: no automatic retry left */
	assert_int_equal(send_one(a, FLOW_ACT_LOGIN, FLOW_POST, false, &st, &e), -1);
	assert_int_equal(api_last_attempts(a), 1);
	/* another step: a full budget */
	assert_int_equal(send_one(a, FLOW_ACT_CANCEL, FLOW_DELETE, false, &st, &e), -1);
	assert_int_equal(api_last_attempts(a), 1 + API_STEP_RETRIES);
	api_free(a);
	close(fd);
}

int main(void)
{
	wipe_init();
	assert_int_equal(api_global_init(), 0);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(retry_rule),
		cmocka_unit_test(headers_read),
		cmocka_unit_test(idempotent_get_survives_resets),
		cmocka_unit_test(login_post_never_resent_after_reset),
		cmocka_unit_test(budget_per_step_then_503_to_the_flow),
		cmocka_unit_test(folded_first_header_after_an_answer),
		cmocka_unit_test(one_connection_for_the_flow),
		cmocka_unit_test(too_large_answer_refused_not_retried),
		cmocka_unit_test(refused_connection_budget_spent_per_step),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	api_global_cleanup();
	return rc;
}
