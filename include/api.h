/* api.h: the REST client of the consent protocol: one reused connection (one TLS handshake per
 * flow), TLS verification always on, timeouts, capped answers, transport errors classified. */
#ifndef RENKEI_API_H
#define RENKEI_API_H
#include <stdbool.h>
#include <stddef.h>

#include "flow.h"
#include "problem.h"

#define API_MAX_BODY (1024 * 1024) /* answers larger than this are refused (PROBLEM_BAD_ANSWER) */
#define API_DEFAULT_CONNECT_TIMEOUT 10 /* seconds */
#define API_DEFAULT_TIMEOUT 30         /* seconds, one whole request */
/* The per-step retry budget: a request that failed in a way worth repeating (api_should_retry)
 * is sent again automatically, at most API_STEP_RETRIES times per step (consecutive requests of
 * one flow action; refilled when an answer comes or another step is sent), after a wait
 * (API_RETRY_FIRST_WAIT_MS, doubled each time, or the server's Retry-After, never more than
 * API_RETRY_MAX_WAIT_MS), and only while the step has taken less than the timeout in all.
 * What is left after that goes to the flow (the customer is asked whether to send again). */
#define API_STEP_RETRIES 2
#define API_RETRY_FIRST_WAIT_MS 250
#define API_RETRY_MAX_WAIT_MS 2000

struct api_opts {
	const char *server;    /* "https://host:port" (a trailing '/' is ignored); https only */
	const char *cacert;    /* CA file or directory (stat decides); NULL: the system's default */
	long connect_timeout;  /* seconds; <= 0: API_DEFAULT_CONNECT_TIMEOUT */
	long timeout;          /* seconds; <= 0: API_DEFAULT_TIMEOUT */
};

#define API_CONTENT_TYPE_MAX 128 /* bytes kept of Content-Type, NUL included */
#define API_RETRY_AFTER_MAX 3600  /* seconds: a longer Retry-After counts as this */

struct api_resp {
	long status;
	char content_type[API_CONTENT_TYPE_MAX]; /* "" when none */
	char *body;             /* NUL-terminated (body[len] == 0), never NULL after success */
	size_t len;
	long ms;                /* total time of the request */
};

struct api_err {
	enum problem kind;   /* PROBLEM_NET_CONNECT / _NET_TIMEOUT / _TLS_SERVER / _TLS_CLIENT /
				_NET_OTHER / _BAD_ANSWER (too large), or PROBLEM_NO_MEMORY */
	int curl_code;       /* CURLcode, 0 if none */
	char msg[256];       /* for logs/engineers (English, never a body or a secret) */
};

struct api;

/* Once per process, before threads and before any other use of libcurl: curl_global_init_mem
 * with the wiping allocator of wipe.h (every block libcurl frees is cleared first). 0 or -1. */
int api_global_init(void);
void api_global_cleanup(void);

/* NULL on failure (err filled: bad URL, not https, no memory). */
struct api *api_new(const struct api_opts *o, struct api_err *err);
void api_free(struct api *a);

/* Install a client certificate: fn(ssl_ctx, userptr) runs for every new TLS connection with the
 * OpenSSL SSL_CTX * as ssl_ctx and returns 0 (or -1: the connection fails with PROBLEM_TLS_CLIENT).
 * The connection open so far (without a certificate) is closed, so the next request makes a new
 * handshake with the certificate. fn NULL removes it. 0 or -1. */
typedef int (*api_ssl_ctx_fn)(void *ssl_ctx, void *userptr);
int api_set_ssl_ctx_cb(struct api *a, api_ssl_ctx_fn fn, void *userptr);

/* Send r (again, within the step's retry budget, when that is worth it: see API_STEP_RETRIES);
 * on 0 resp holds the answer (any HTTP status), free it with api_resp_free; on -1 err says
 * what failed (nothing in resp). libcurl copies the request body into its request buffer and
 * frees it after the request; the allocator of api_global_init clears it then. */
int api_send(struct api *a, const struct flow_req *r, struct api_resp *resp, struct api_err *err);
void api_resp_free(struct api_resp *resp);

/* --replay: every api_send of every handle asks fn instead of the network (same contract as
 * api_send: 0 with resp filled, body malloc'd; or -1 with err). NULL puts the network back. */
typedef int (*api_replay_fn)(void *ctx, const struct flow_req *r, struct api_resp *resp, struct api_err *err);
void api_set_replay(api_replay_fn fn, void *ctx);

/* What the client keeps of an answer's headers, from libcurl's reading of them (pure; fuzzed by
 * tests/fuzz/fuzz_resp_headers.c): content_type is CURLINFO_CONTENT_TYPE (NULL: none), cut to
 * API_CONTENT_TYPE_MAX - 1 bytes; retry_after is CURLINFO_RETRY_AFTER in seconds (<= 0: none),
 * at most API_RETRY_AFTER_MAX. */
struct api_headers {
	char content_type[API_CONTENT_TYPE_MAX]; /* "" when none */
	long retry_after;                        /* seconds, 0 when none */
};
void api_read_headers(const char *content_type, long long retry_after, struct api_headers *out);

/* The classification api_send uses (pure; for tests): a CURLcode, CURLINFO_SSL_VERIFYRESULT,
 * whether a client certificate was installed, whether the request opened a new connection,
 * curl's error buffer. With a client certificate, a new connection that fails right after the
 * handshake (send/recv error, nothing received) counts as the certificate being refused. */
enum problem api_classify(int curl_code, long verify_result, bool client_cert, bool fresh_conn,
			  const char *errbuf);

/* Whether a failed attempt is worth repeating: a connection that could not be made (nothing was
 * sent: any request), a connection reset or cut short and 502/503/504 (only idempotent requests:
 * the server may have acted on it). Never a timeout, a TLS failure or a too large answer. */
bool api_should_retry(int curl_code, long http_status, bool idempotent);
/* The wait before automatic retry number retry (1, 2, ...): Retry-After seconds when the server
 * sent one (> 0), else API_RETRY_FIRST_WAIT_MS doubled per retry; at most API_RETRY_MAX_WAIT_MS. */
long api_retry_delay_ms(int retry, long retry_after);
/* How many times the last api_send sent its request (1 + automatic retries). */
long api_last_attempts(const struct api *a);

/* New connections the last api_send opened (CURLINFO_NUM_CONNECTS, summed over its attempts):
 * 1 for the first, 0 after. */
long api_last_num_connects(const struct api *a);
/* New connections opened by every api_send of this handle so far. */
long api_total_connects(const struct api *a);

#endif
