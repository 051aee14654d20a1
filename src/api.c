/* api.c: the consent protocol's REST client (see api.h). One connection for the flow, reused
 * through a libcurl share (CURL_LOCK_DATA_CONNECT); every request has an easy handle of its own,
 * duplicated from a template that never performs. Why not one easy handle for all: libcurl 7.88.1
 * (Debian 12) keeps a pointer to the previous transfer's last header after freeing it
 * (state.prevhead, curl issue 11101, fixed in 8.1.0), and an answer whose first header line is
 * folded is unfolded into that freed block: a server could write to freed memory of the client
 * (found by tests/fuzz/fuzz_resp_headers.c). A fresh handle starts with no previous header. */
#include "api.h"
#include "wipe.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#ifndef RENKEI_VERSION
#define RENKEI_VERSION "0"
#endif

struct rxbuf {
	char *p;
	size_t len, cap;
	bool over;
};

struct api {
	CURL *h;       /* the template: every option, never performs */
	CURLSH *share; /* the connection cache every request's handle uses */
	char *base; /* "https://host:port", no trailing '/' */
	char *cacert;
	bool cadir;
	long cto, to;
	api_ssl_ctx_fn fn;
	void *fnp;
	long last_connects, total_connects, last_attempts;
	enum flow_action budget_action; /* the step the retry budget is for */
	int budget;                     /* automatic retries left for it */
	char errbuf[CURL_ERROR_SIZE];
	struct rxbuf rx;
};

static void err_set(struct api_err *e, enum problem kind, int code, const char *msg)
{
	if (!e)
		return;
	e->kind = kind;
	e->curl_code = code;
	size_t n = msg ? strnlen(msg, sizeof e->msg - 1) : 0;
	if (n)
		memcpy(e->msg, msg, n);
	e->msg[n] = '\0';
}

int api_global_init(void)
{
	/* Every block libcurl frees is cleared first: its copy of each request (headers and, for
	 * small bodies, the body: see api_send), its receive buffers, its connection state. */
	return curl_global_init_mem(CURL_GLOBAL_DEFAULT, wipe_malloc, wipe_free, wipe_realloc,
				    wipe_strdup, wipe_calloc) == CURLE_OK
		       ? 0
		       : -1;
}

void api_global_cleanup(void)
{
	curl_global_cleanup();
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *userp)
{
	struct rxbuf *b = userp;
	size_t n = size * nmemb;
	if (n > API_MAX_BODY || b->len + n > API_MAX_BODY) {
		b->over = true;
		return 0; /* CURLE_WRITE_ERROR */
	}
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (!p)
			return 0;
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
	return n;
}

static CURLcode on_ssl_ctx(CURL *h, void *ssl_ctx, void *userp)
{
	(void)h;
	struct api *a = userp;
	if (a->fn && a->fn(ssl_ctx, a->fnp) != 0)
		return CURLE_SSL_CERTPROBLEM;
	return CURLE_OK;
}

/* The connection cache of the flow (one connection: CURLOPT_MAXCONNECTS of every handle). */
static CURLSH *make_share(void)
{
	CURLSH *sh = curl_share_init();
	if (sh && curl_share_setopt(sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT) != CURLSHE_OK) {
		curl_share_cleanup(sh);
		sh = NULL;
	}
	return sh;
}

/* A new easy handle with every option that stays the same for the whole flow. */
static CURL *make_handle(struct api *a)
{
	CURL *h = curl_easy_init();
	if (!h)
		return NULL;
	CURLcode rc = CURLE_OK;
#define SET(opt, val)                                                                        \
	do {                                                                                 \
		if (rc == CURLE_OK)                                                          \
			rc = curl_easy_setopt(h, opt, val);                                  \
	} while (0)
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_PROTOCOLS_STR, "https");
	SET(CURLOPT_FOLLOWLOCATION, 0L);
	SET(CURLOPT_SSL_VERIFYPEER, 1L);
	SET(CURLOPT_SSL_VERIFYHOST, 2L);
	SET(CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	if (a->cacert) {
		/* Only the given CA: the built-in bundle and directory are turned off. */
		SET(CURLOPT_CAINFO, a->cadir ? NULL : a->cacert);
		SET(CURLOPT_CAPATH, a->cadir ? a->cacert : NULL);
	}
	SET(CURLOPT_CONNECTTIMEOUT, a->cto);
	SET(CURLOPT_TIMEOUT, a->to);
	SET(CURLOPT_USERAGENT, "renkei/" RENKEI_VERSION);
	SET(CURLOPT_WRITEFUNCTION, on_write);
	SET(CURLOPT_WRITEDATA, &a->rx);
	SET(CURLOPT_ERRORBUFFER, a->errbuf);
	SET(CURLOPT_MAXCONNECTS, 1L);          /* one connection for the flow */
	SET(CURLOPT_SSL_SESSIONID_CACHE, 0L);  /* never resume a session made without our cert */
	SET(CURLOPT_TCP_KEEPALIVE, 1L);
	if (a->fn) {
		SET(CURLOPT_SSL_CTX_FUNCTION, on_ssl_ctx);
		SET(CURLOPT_SSL_CTX_DATA, a);
	}
#undef SET
	if (rc != CURLE_OK) {
		curl_easy_cleanup(h);
		return NULL;
	}
	return h;
}

struct api *api_new(const struct api_opts *o, struct api_err *err)
{
	err_set(err, PROBLEM_NONE, 0, "");
	if (!o || !o->server || strncasecmp(o->server, "https://", 8) != 0 || !o->server[8]) {
		err_set(err, PROBLEM_NET_CONNECT, 0, "server URL must start with https://");
		return NULL;
	}
	for (const char *c = o->server; *c; c++)
		if ((unsigned char)*c <= 0x20 || *c == 0x7f) {
			err_set(err, PROBLEM_NET_CONNECT, 0, "server URL contains white space");
			return NULL;
		}
	struct api *a = calloc(1, sizeof *a);
	if (!a) {
		err_set(err, PROBLEM_NO_MEMORY, 0, "out of memory");
		return NULL;
	}
	a->base = strdup(o->server);
	if (a->base) {
		size_t n = strlen(a->base);
		while (n > 8 && a->base[n - 1] == '/')
			a->base[--n] = '\0';
	}
	if (o->cacert) {
		struct stat st;
		a->cacert = strdup(o->cacert);
		a->cadir = stat(o->cacert, &st) == 0 && S_ISDIR(st.st_mode);
	}
	a->cto = o->connect_timeout > 0 ? o->connect_timeout : API_DEFAULT_CONNECT_TIMEOUT;
	a->to = o->timeout > 0 ? o->timeout : API_DEFAULT_TIMEOUT;
	if (!a->base || (o->cacert && !a->cacert) || !(a->share = make_share()) ||
	    !(a->h = make_handle(a))) {
		err_set(err, PROBLEM_NO_MEMORY, 0, "cannot set up libcurl");
		api_free(a);
		return NULL;
	}
	return a;
}

void api_free(struct api *a)
{
	if (!a)
		return;
	if (a->h)
		curl_easy_cleanup(a->h);
	if (a->share) /* closes the connection */
		curl_share_cleanup(a->share);
	free(a->base);
	free(a->cacert);
	free(a->rx.p);
	free(a);
}

int api_set_ssl_ctx_cb(struct api *a, api_ssl_ctx_fn fn, void *userptr)
{
	/* A fresh share and template: the old connection (made without the certificate) is closed
	 * and nothing of its TLS session can be reused; the next request makes a new handshake. */
	CURLSH *old_share = a->share;
	api_ssl_ctx_fn old_fn = a->fn;
	void *old_fnp = a->fnp;
	a->fn = fn;
	a->fnp = userptr;
	a->share = make_share();
	CURL *h = a->share ? make_handle(a) : NULL;
	if (!h) {
		if (a->share)
			curl_share_cleanup(a->share);
		a->share = old_share;
		a->fn = old_fn;
		a->fnp = old_fnp;
		return -1;
	}
	curl_easy_cleanup(a->h);
	curl_share_cleanup(old_share);
	a->h = h;
	return 0;
}

enum problem api_classify(int code, long verify_result, bool client_cert, bool fresh_conn,
			  const char *errbuf)
{
	const char *eb = errbuf ? errbuf : "";
	switch (code) {
	case CURLE_OK:
		return PROBLEM_NONE;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT:
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
		return PROBLEM_NET_CONNECT;
	case CURLE_OPERATION_TIMEDOUT:
		return PROBLEM_NET_TIMEOUT;
	case CURLE_PEER_FAILED_VERIFICATION:
		/* Under TLS 1.2 the server's "certificate expired" alert about OUR certificate comes
		 * back as 60 too. curl then says "SSL certificate verification failed" (the server's
		 * certificate verified: X509_V_OK), not "SSL certificate problem: <reason>"; the
		 * verify result reads 0 or curl's initial 1 (X509_V_ERR_UNSPECIFIED). */
		if (client_cert && !strstr(eb, "certificate problem") &&
		    (verify_result == 0 || verify_result == 1))
			return PROBLEM_TLS_CLIENT;
		return PROBLEM_TLS_SERVER;
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
		return PROBLEM_TLS_SERVER;
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CLIENTCERT:
		return PROBLEM_TLS_CLIENT;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_GOT_NOTHING:
		if (strstr(eb, "certificate verify failed"))
			return PROBLEM_TLS_SERVER;
		/* The server refusing our certificate: an alert during the handshake (TLS 1.2), or
		 * under TLS 1.3 an alert or a closed connection on the first read/write of the new
		 * connection (the handshake itself completed on our side). */
		if (client_cert && strstr(eb, "alert"))
			return PROBLEM_TLS_CLIENT;
		if (client_cert && fresh_conn && code != CURLE_SSL_CONNECT_ERROR)
			return PROBLEM_TLS_CLIENT;
		return PROBLEM_NET_OTHER;
	case CURLE_WRITE_ERROR:
	case CURLE_OUT_OF_MEMORY:
	default:
		return PROBLEM_NET_OTHER;
	}
}

static void wipe_slist(struct curl_slist *l)
{
	for (struct curl_slist *p = l; p; p = p->next)
		if (p->data)
			explicit_bzero(p->data, strlen(p->data));
	curl_slist_free_all(l);
}

/* The request's headers; NULL when out of memory. The bearer header is wiped when freed. */
static struct curl_slist *make_headers(const struct flow_req *r)
{
	struct curl_slist *hdr = NULL, *t;
	bool ok = true;
#define ADD(s)                                                                               \
	do {                                                                                 \
		if (ok && !(t = curl_slist_append(hdr, s)))                                  \
			ok = false;                                                          \
		else if (ok)                                                                 \
			hdr = t;                                                             \
	} while (0)
	ADD("Accept: application/json, application/problem+json");
	ADD("Expect:");
	if (r->method == FLOW_POST)
		ADD("Content-Type: application/json");
	if (r->bearer && ok) {
		size_t n = strlen(r->bearer) + sizeof "Authorization: Bearer ";
		char *h = malloc(n);
		if (!h) {
			ok = false;
		} else {
			snprintf(h, n, "Authorization: Bearer %s", r->bearer);
			ADD(h);
			explicit_bzero(h, n);
			free(h);
		}
	}
#undef ADD
	if (!ok) {
		wipe_slist(hdr);
		return NULL;
	}
	return hdr;
}

static void set_method(CURL *h, const struct flow_req *r)
{
	switch (r->method) {
	case FLOW_POST:
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, NULL);
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		/* curl copies the body: a small one goes into the same buffer as the request's
		 * headers (one send), which it frees after the request. The allocator of
		 * api_global_init clears that copy when it is freed; flow_req_free clears ours.
		 * (CURLOPT_READFUNCTION would not avoid a copy: curl reads into its upload buffer,
		 * which lives on in the handle until curl_easy_cleanup.) */
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, r->body ? r->body : "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)(r->body ? r->body_len : 0));
		break;
	case FLOW_DELETE:
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "DELETE");
		break;
	case FLOW_GET:
	default:
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, NULL);
		break;
	}
}

/* What one attempt gave: curl's code, and on CURLE_OK the status and the headers we read. */
struct attempt {
	CURLcode rc;
	long status, verify, connects;
	struct api_headers hdrs;
	curl_off_t us;
};

void api_read_headers(const char *content_type, long long retry_after, struct api_headers *out)
{
	memset(out, 0, sizeof *out);
	if (content_type)
		snprintf(out->content_type, sizeof out->content_type, "%s", content_type);
	if (retry_after > 0)
		out->retry_after = retry_after > API_RETRY_AFTER_MAX ? API_RETRY_AFTER_MAX : (long)retry_after;
}

/* One request on a handle of its own (see the top of this file), gone afterwards. */
static void perform(struct api *a, const struct flow_req *r, const char *url,
		    struct curl_slist *hdr, struct attempt *at)
{
	memset(at, 0, sizeof *at);
	CURL *h = curl_easy_duphandle(a->h); /* copies the options, not the share */
	if (!h || curl_easy_setopt(h, CURLOPT_SHARE, a->share) != CURLE_OK) {
		curl_easy_cleanup(h);
		at->rc = CURLE_OUT_OF_MEMORY;
		return;
	}
	a->rx.len = 0;
	a->rx.over = false;
	a->errbuf[0] = '\0';
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	set_method(h, r);

	at->rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &at->connects);
	curl_easy_getinfo(h, CURLINFO_SSL_VERIFYRESULT, &at->verify);
	curl_easy_getinfo(h, CURLINFO_TOTAL_TIME_T, &at->us);
	if (at->rc == CURLE_OK) {
		curl_off_t ra = 0;
		char *ct = NULL;
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &at->status);
		if (curl_easy_getinfo(h, CURLINFO_RETRY_AFTER, &ra) != CURLE_OK)
			ra = 0;
		if (curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ct) != CURLE_OK)
			ct = NULL;
		api_read_headers(ct, (long long)ra, &at->hdrs);
	}
	a->last_connects += at->connects;
	a->total_connects += at->connects;
	curl_easy_cleanup(h); /* the connection stays in a->share */
}

bool api_should_retry(int code, long status, bool idempotent)
{
	switch (code) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
		return true; /* nothing was sent */
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
		return idempotent; /* the server may have acted on it */
	case CURLE_OK:
		return idempotent && (status == 502 || status == 503 || status == 504);
	default:
		return false; /* timeouts (the time is spent), TLS, too large, out of memory */
	}
}

long api_retry_delay_ms(int retry, long retry_after)
{
	if (retry_after > 0)
		return retry_after * 1000 > API_RETRY_MAX_WAIT_MS ? API_RETRY_MAX_WAIT_MS
								  : retry_after * 1000;
	long ms = API_RETRY_FIRST_WAIT_MS;
	for (int i = 1; i < retry && ms < API_RETRY_MAX_WAIT_MS; i++)
		ms *= 2;
	return ms > API_RETRY_MAX_WAIT_MS ? API_RETRY_MAX_WAIT_MS : ms;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Whether the step of r may be sent again automatically after at (and spend one retry of its
 * budget): the budget is per step (the request's action), refilled when another step is sent
 * or an answer came; the retries of a step stop once it has taken --timeout in all. */
static bool retry_again(struct api *a, const struct flow_req *r, const struct attempt *at,
			double started, int *retry)
{
	if (!api_should_retry((int)at->rc, at->status, r->idempotent) || a->budget <= 0)
		return false;
	long ms = api_retry_delay_ms(*retry + 1, at->hdrs.retry_after);
	if (now_s() - started + (double)ms / 1000.0 >= (double)a->to)
		return false;
	a->budget--;
	(*retry)++;
	sleep_ms(ms);
	return true;
}

/* The failure of the last attempt into err. */
static void attempt_error(struct api *a, const struct attempt *at, struct api_err *err)
{
	enum problem k = a->rx.over ? PROBLEM_BAD_ANSWER
				    : api_classify((int)at->rc, at->verify, a->fn != NULL,
						   at->connects > 0, a->errbuf);
	char msg[CURL_ERROR_SIZE + 128];
	if (a->rx.over)
		snprintf(msg, sizeof msg, "answer larger than %d bytes", API_MAX_BODY);
	else
		snprintf(msg, sizeof msg, "%s%s%s", curl_easy_strerror(at->rc),
			 a->errbuf[0] ? ": " : "", a->errbuf);
	err_set(err, k, (int)at->rc, msg);
}

static api_replay_fn replay_fn;
static void *replay_ctx;

void api_set_replay(api_replay_fn fn, void *ctx)
{
	replay_fn = fn;
	replay_ctx = ctx;
}

int api_send(struct api *a, const struct flow_req *r, struct api_resp *resp, struct api_err *err)
{
	memset(resp, 0, sizeof *resp);
	err_set(err, PROBLEM_NONE, 0, "");
	if (replay_fn)
		return replay_fn(replay_ctx, r, resp, err);
	if (!r->path || r->path[0] != '/') {
		err_set(err, PROBLEM_NET_OTHER, 0, "bad request path");
		return -1;
	}
	if (r->action != a->budget_action) { /* a new step: a full retry budget */
		a->budget_action = r->action;
		a->budget = API_STEP_RETRIES;
	}
	size_t ulen = strlen(a->base) + strlen(r->path) + 1;
	char *url = malloc(ulen);
	struct curl_slist *hdr = url ? make_headers(r) : NULL;
	if (!hdr) {
		free(url);
		err_set(err, PROBLEM_NO_MEMORY, 0, "out of memory");
		return -1;
	}
	snprintf(url, ulen, "%s%s", a->base, r->path);

	struct attempt at;
	double started = now_s();
	int retry = 0;
	a->last_connects = 0;
	do
		perform(a, r, url, hdr, &at);
	while (retry_again(a, r, &at, started, &retry));
	a->last_attempts = retry + 1;
	wipe_slist(hdr);
	free(url);

	if (at.rc != CURLE_OK) {
		attempt_error(a, &at, err);
		if (a->rx.p) /* a cut-short answer may hold part of a token */
			explicit_bzero(a->rx.p, a->rx.len);
		a->rx.len = 0;
		return -1;
	}
	a->budget = API_STEP_RETRIES; /* an answer came: the next request has its full budget */
	resp->status = at.status;
	memcpy(resp->content_type, at.hdrs.content_type, sizeof resp->content_type);
	resp->body = malloc(a->rx.len + 1);
	if (!resp->body) {
		err_set(err, PROBLEM_NO_MEMORY, 0, "out of memory");
		return -1;
	}
	if (a->rx.len)
		memcpy(resp->body, a->rx.p, a->rx.len);
	resp->body[a->rx.len] = '\0';
	resp->len = a->rx.len;
	resp->ms = (long)((now_s() - started) * 1000.0);
	if (a->rx.p) /* the start answer carries the session token */
		explicit_bzero(a->rx.p, a->rx.len);
	a->rx.len = 0;
	return 0;
}

void api_resp_free(struct api_resp *resp)
{
	if (resp->body) {
		explicit_bzero(resp->body, resp->len);
		free(resp->body);
	}
	memset(resp, 0, sizeof *resp);
}

long api_last_num_connects(const struct api *a)
{
	return a->last_connects;
}

long api_total_connects(const struct api *a)
{
	return a->total_connects;
}

long api_last_attempts(const struct api *a)
{
	return a->last_attempts;
}
