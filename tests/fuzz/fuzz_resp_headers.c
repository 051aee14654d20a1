/* fuzz_resp_headers.c: libFuzzer target for the client's reading of an answer's headers
 * (Content-Type, Retry-After; outside input). The input is the raw bytes a server sends: status
 * line, headers, body. libcurl reads them over a real loopback TCP connection (a listener on
 * 127.0.0.1, a free port; when curl's connection is up, CURLOPT_PREREQFUNCTION accepts it and
 * writes the input, then the end of it), on an easy handle of its own duplicated from a template
 * as src/api.c does for every request (one easy handle for all let libcurl 7.88.1 unfold a folded
 * first header into the previous transfer's freed last header: curl issue 11101; the input that
 * showed it is corpus/resp_headers/regression-curl-11101-folded-first-header, the test of the
 * client's own handling tests/unit/test_api.c folded_first_header_after_an_answer). Then
 * api_read_headers keeps what the client keeps
 * (include/api.h), the retry rule waits on it, and flow_apply takes status, content type and body
 * as the start step's answer. Checked on every input: the content type fits and is
 * NUL-terminated, Retry-After is 0..API_RETRY_AFTER_MAX, every wait is 1 ms..API_RETRY_MAX_WAIT_MS
 * and is the server's Retry-After when it sent one. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <curl/curl.h>

#include "api.h"
#include "flow.h"

#define FUZZ_MAX_INPUT 16384 /* fits in loopback TCP buffers: written whole before curl reads */

struct rx {
	char buf[65536];
	size_t len;
};

static int listener = -1;
static const uint8_t *in_data; /* this run's input, written by on_prereq */
static size_t in_size;
static int server_fd = -1;

/* curl's connection is up: the "server" accepts it and sends the whole input, then EOF. */
static int on_prereq(void *p, char *conn_primary_ip, char *conn_local_ip, int conn_primary_port,
		     int conn_local_port)
{
	(void)p;
	(void)conn_primary_ip;
	(void)conn_local_ip;
	(void)conn_primary_port;
	(void)conn_local_port;
	server_fd = accept(listener, NULL, NULL);
	if (server_fd < 0)
		abort();
	if (in_size && write(server_fd, in_data, in_size) != (ssize_t)in_size)
		abort();
	shutdown(server_fd, SHUT_WR);
	return CURL_PREREQFUNC_OK;
}

static int listen_free_port(void)
{
	struct sockaddr_in sa;
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t sl = sizeof sa;
	listener = socket(AF_INET, SOCK_STREAM, 0);
	if (listener < 0 || bind(listener, (struct sockaddr *)&sa, sizeof sa) != 0 ||
	    listen(listener, 16) != 0 || getsockname(listener, (struct sockaddr *)&sa, &sl) != 0)
		abort();
	return ntohs(sa.sin_port);
}

static size_t on_write(char *d, size_t sz, size_t n, void *u)
{
	struct rx *r = u;
	size_t len = sz * n;
	if (len > sizeof r->buf - 1 - r->len)
		return 0; /* too large: CURLE_WRITE_ERROR, as the client refuses it */
	memcpy(r->buf + r->len, d, len);
	r->len += len;
	return len;
}

/* The template every run's handle is duplicated from. */
static CURL *template_handle(struct rx *rx)
{
	static CURL *h;
	if (h)
		return h;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	h = curl_easy_init();
	if (!h)
		abort();
	char url[64];
	snprintf(url, sizeof url, "http://127.0.0.1:%d/consent/v1/sessions", listen_free_port());
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_FORBID_REUSE, 1L);
	curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 0L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 5000L);
	curl_easy_setopt(h, CURLOPT_PREREQFUNCTION, on_prereq);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, rx);
	return h;
}

static void check(const struct api_headers *hd)
{
	if (memchr(hd->content_type, '\0', sizeof hd->content_type) == NULL)
		abort();
	if (hd->retry_after < 0 || hd->retry_after > API_RETRY_AFTER_MAX)
		abort();
	for (int retry = 1; retry <= API_STEP_RETRIES + 1; retry++) {
		long ms = api_retry_delay_ms(retry, hd->retry_after);
		if (ms < 1 || ms > API_RETRY_MAX_WAIT_MS)
			abort();
		if (hd->retry_after > 0 && ms != (hd->retry_after * 1000 > API_RETRY_MAX_WAIT_MS
							  ? API_RETRY_MAX_WAIT_MS
							  : hd->retry_after * 1000))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct rx rx;
	if (size > FUZZ_MAX_INPUT)
		return 0;
	CURL *h = curl_easy_duphandle(template_handle(&rx));
	if (!h)
		abort();
	in_data = data;
	in_size = size;
	rx.len = 0;
	CURLcode rc = curl_easy_perform(h);
	if (server_fd >= 0)
		close(server_fd);
	server_fd = -1;

	long status = 0;
	curl_off_t ra = 0;
	char *ct = NULL;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	if (curl_easy_getinfo(h, CURLINFO_RETRY_AFTER, &ra) != CURLE_OK)
		ra = 0;
	if (curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ct) != CURLE_OK)
		ct = NULL;
	struct api_headers hd;
	api_read_headers(ct, (long long)ra, &hd);
	curl_easy_cleanup(h); /* ct was curl's: read before this */
	check(&hd);
	(void)api_should_retry((int)rc, status, true);

	if (rc == CURLE_OK) {
		struct flow f;
		struct flow_req r;
		flow_init(&f);
		secret_set(&f.user_code, "WDJBMJHT", 8);
		if (flow_build(&f, FLOW_ACT_START, &r) == 0) {
			rx.buf[rx.len] = '\0';
			flow_apply(&f, status, hd.content_type, rx.buf, rx.len);
			flow_req_free(&r);
		}
		flow_free(&f);
	}
	return 0;
}
