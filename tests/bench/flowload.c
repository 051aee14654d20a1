/* flowload.c: make bench's load generator and libcurl floor (scripts/bench.py runs it).
 *
 * N virtual clients on one libcurl multi handle, each doing FLOWS whole consent flows one after the
 * other, the partner's and the customer's requests on the client's kept-alive connection:
 *   device_authorization, sessions, then the step each answer names (login, answer, scopes, pins,
 *   pin_result, decision), token: the 9 requests of the yamada01 flow, with the bodies and headers
 *   renkei sends (src/flow.c, src/api.c). With N = 1 and FLOWS = 1 it is the floor of a flow: the
 *   same requests with no terminal. It stops by itself when every flow has ended.
 *
 * Usage: flowload SERVER CACERT N FLOWS [--new-conn] [--sessions-only] [--logins PREFIX COUNT]
 *   --new-conn       a new TLS connection for each flow (full handshake: no session resumption)
 *   --sessions-only  each flow is device_authorization + sessions only (a session left to expire)
 *   --logins P C     flow k of client i logs in as P%05d with (i * FLOWS + k) % C (a bench scenario
 *                    of C customers); without it, as yamada01
 *   stdin: line 1 the password, line 2 the answer, line 3 "NUMBER=PIN NUMBER=PIN..." (the demo
 *   data; never on the command line).
 * Output: "info KEY VALUE" lines, "step NAME N P50 P99 MAX" per request kind (without the new
 * connection's set-up), "flow N P50 P99 MAX" and "setup N P50 P99 MAX" (TCP connect + TLS handshake
 * of each new connection), in milliseconds. Exit 1 when a flow failed (each error is counted and the first few are
 * printed on stderr); the figures are never judged. */
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_CLIENTS 256
#define MAX_STEPS 16 /* requests in one flow before it is called a loop */
#define DEVICE_GRANT "urn:ietf:params:oauth:grant-type:device_code"

enum req { R_DA, R_SESSIONS, R_LOGIN, R_ANSWER, R_SCOPES, R_PINS, R_PIN_RESULT, R_DECISION, R_TOKEN, R_N };

/* One row per request kind: its name (as printed), path, expected status, form-encoded or JSON. */
static const struct reqinfo {
	const char *name, *path;
	long status;
	bool form;
} reqs[R_N] = {
	[R_DA] = {"device_authorization", "/oauth/device_authorization", 200, true},
	[R_SESSIONS] = {"sessions", "/consent/v1/sessions", 201, false},
	[R_LOGIN] = {"login", "/consent/v1/session/login", 200, false},
	[R_ANSWER] = {"answer", "/consent/v1/session/answer", 200, false},
	[R_SCOPES] = {"scopes", "/consent/v1/session/scopes", 200, false},
	[R_PINS] = {"pins", "/consent/v1/session/pins", 200, false},
	[R_PIN_RESULT] = {"pin_result", "/consent/v1/session/pin-result", 200, false},
	[R_DECISION] = {"decision", "/consent/v1/session/decision", 200, false},
	[R_TOKEN] = {"token", "/oauth/token", 200, true},
};

/* The envelope's step -> the request that answers it (R_N: the flow's customer part is done). */
static const struct {
	const char *step;
	enum req next;
} step_table[] = {
	{"login", R_LOGIN},           {"question", R_ANSWER},      {"scopes", R_SCOPES}, {"pins", R_PINS},
	{"pin_result", R_PIN_RESULT}, {"permission", R_DECISION}, {"done", R_TOKEN},
};

struct samples {
	double *v;
	size_t n, cap;
};

struct client {
	CURL *h;
	int id, flow, nreq;
	enum req req;
	char login[80], session[256], device_code[256], user_code[64];
	char *body;
	struct curl_slist *hdr;
	char *rx;
	size_t rxlen, rxcap;
	double t_req, t_flow;
};

static struct {
	const char *server, *cacert, *prefix;
	int n, flows, customers;
	bool new_conn, sessions_only;
	char password[160], answer[160], pins[512];
	struct samples step[R_N], flow, setup;
	long errors, flows_done, connects;
} G;

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static void add(struct samples *s, double v)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 1024;
		double *p = realloc(s->v, cap * sizeof *p);
		if (!p)
			return;
		s->v = p;
		s->cap = cap;
	}
	s->v[s->n++] = v;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double pct(const struct samples *s, int p)
{
	long k = ((long)p * (long)s->n + 99) / 100 - 1;
	return s->n ? s->v[k < 0 ? 0 : k] : 0.0;
}

static void print_samples(const char *kind, const char *name, struct samples *s)
{
	if (!s->n)
		return;
	qsort(s->v, s->n, sizeof *s->v, cmp_double);
	printf("%s%s%s %zu %.3f %.3f %.3f\n", kind, name ? " " : "", name ? name : "", s->n, pct(s, 50),
	       pct(s, 99), s->v[s->n - 1]);
}

static size_t on_write(char *p, size_t size, size_t n, void *ud)
{
	struct client *c = ud;
	size_t len = size * n;
	if (c->rxlen + len + 1 > c->rxcap) {
		size_t cap = (c->rxlen + len + 1) * 2;
		char *q = realloc(c->rx, cap);
		if (!q)
			return 0;
		c->rx = q;
		c->rxcap = cap;
	}
	memcpy(c->rx + c->rxlen, p, len);
	c->rxlen += len;
	c->rx[c->rxlen] = '\0';
	return len;
}

static char *form_body(CURL *h, const char *const *kv)
{
	size_t cap = 1024, len = 0;
	char *out = malloc(cap);
	for (int i = 0; out && kv[i]; i += 2) {
		char *v = curl_easy_escape(h, kv[i + 1], 0);
		len += (size_t)snprintf(out + len, cap - len, "%s%s=%s", i ? "&" : "", kv[i], v ? v : "");
		curl_free(v);
	}
	return out;
}

/* The JSON body of a consent request, as renkei builds it; NULL when data lacks what it needs. */
static char *json_body(struct client *c, enum req r, const cJSON *data)
{
	cJSON *o = cJSON_CreateObject(), *arr;
	const cJSON *it;
	char key[33];
	switch (r) {
	case R_SESSIONS:
		for (int i = 0; i < 32; i++)
			key[i] = "0123456789abcdef"[rand() % 16];
		key[32] = '\0';
		cJSON_AddStringToObject(o, "user_code", c->user_code);
		cJSON_AddStringToObject(o, "idempotency_key", key);
		break;
	case R_LOGIN:
		cJSON_AddStringToObject(o, "method", "password");
		cJSON_AddStringToObject(o, "login_id", c->login);
		cJSON_AddStringToObject(o, "password", G.password);
		break;
	case R_ANSWER:
		cJSON_AddStringToObject(o, "answer", G.answer);
		break;
	case R_SCOPES: /* every scope offered, as renkei's preselection */
		arr = cJSON_AddArrayToObject(o, "scopes");
		cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(data, "scopes"))
			cJSON_AddItemToArray(arr, cJSON_CreateString(
				cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "id"))));
		break;
	case R_PINS: /* the unregistered accounts whose number has a PIN on stdin */
		arr = cJSON_AddArrayToObject(o, "pins");
		cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(data, "accounts")) {
			const char *num = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "number"));
			const char *pin = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "pin"));
			char want[40];
			const char *at;
			if (!num || !pin || strcmp(pin, "unregistered") != 0)
				continue;
			snprintf(want, sizeof want, "%s=", num);
			if (!(at = strstr(G.pins, want)))
				continue;
			char pv[17] = "";
			sscanf(at + strlen(want), "%16[0-9]", pv);
			cJSON *e = cJSON_CreateObject();
			cJSON_AddStringToObject(e, "account",
						cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "id")));
			cJSON_AddStringToObject(e, "pin", pv);
			cJSON_AddItemToArray(arr, e);
		}
		break;
	case R_PIN_RESULT:
		cJSON_AddStringToObject(o, "action", "confirm");
		break;
	case R_DECISION:
		cJSON_AddStringToObject(o, "decision", "allow");
		cJSON_AddBoolToObject(o, "intent_confirmed", 1);
		break;
	default:
		break;
	}
	char *s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return s;
}

/* Sets up c's handle for request r (data: the last envelope's data) and adds it to m. */
static int send_req(CURLM *m, struct client *c, enum req r, const cJSON *data)
{
	char url[512], auth[320];
	const char *da[] = {"client_id", "kakeibo-demo", "scope", "balance transactions", NULL};
	const char *tok[] = {"grant_type", DEVICE_GRANT, "device_code", c->device_code, "client_id", "kakeibo-demo",
			     NULL};
	free(c->body);
	curl_slist_free_all(c->hdr);
	c->hdr = NULL;
	c->body = r == R_DA ? form_body(c->h, da) : r == R_TOKEN ? form_body(c->h, tok) : json_body(c, r, data);
	if (!c->body)
		return -1;
	c->hdr = curl_slist_append(c->hdr, "Accept: application/json, application/problem+json");
	c->hdr = curl_slist_append(c->hdr, "Expect:");
	c->hdr = curl_slist_append(c->hdr, reqs[r].form ? "Content-Type: application/x-www-form-urlencoded"
							 : "Content-Type: application/json");
	if (!reqs[r].form && r != R_SESSIONS) {
		snprintf(auth, sizeof auth, "Authorization: Bearer %s", c->session);
		c->hdr = curl_slist_append(c->hdr, auth);
	}
	snprintf(url, sizeof url, "%s%s", G.server, reqs[r].path);
	curl_easy_setopt(c->h, CURLOPT_URL, url);
	curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, c->hdr);
	curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, c->body);
	curl_easy_setopt(c->h, CURLOPT_POSTFIELDSIZE, (long)strlen(c->body));
	curl_easy_setopt(c->h, CURLOPT_FRESH_CONNECT, (long)(G.new_conn && r == R_DA));
	curl_easy_setopt(c->h, CURLOPT_FORBID_REUSE,
			 (long)(G.new_conn && (r == R_TOKEN || (G.sessions_only && r == R_SESSIONS))));
	c->req = r;
	c->rxlen = 0;
	c->nreq++;
	c->t_req = now_ms();
	return curl_multi_add_handle(m, c->h) == CURLM_OK ? 0 : -1;
}

static int start_flow(CURLM *m, struct client *c)
{
	if (c->flow >= G.flows)
		return 1;
	if (G.prefix)
		snprintf(c->login, sizeof c->login, "%s%05d", G.prefix, (c->id * G.flows + c->flow) % G.customers);
	else
		snprintf(c->login, sizeof c->login, "yamada01");
	c->flow++;
	c->nreq = 0;
	c->t_flow = now_ms();
	return send_req(m, c, R_DA, NULL);
}

static void copy_str(char *dst, size_t size, const cJSON *o, const char *name)
{
	const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, name));
	snprintf(dst, size, "%s", v ? v : "");
}

/* The request after c's answer js (R_N: the flow is complete; -1: the answer is wrong). */
static int next_req(struct client *c, const cJSON *js)
{
	if (c->req == R_DA) {
		copy_str(c->device_code, sizeof c->device_code, js, "device_code");
		copy_str(c->user_code, sizeof c->user_code, js, "user_code");
		return c->device_code[0] && c->user_code[0] ? R_SESSIONS : -1;
	}
	if (c->req == R_TOKEN)
		return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(js, "access_token")) ? R_N : -1;
	if (c->req == R_SESSIONS)
		copy_str(c->session, sizeof c->session, js, "session");
	if (c->req == R_SESSIONS && G.sessions_only)
		return R_N;
	const char *step = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(js, "step"));
	for (size_t i = 0; step && i < sizeof step_table / sizeof step_table[0]; i++)
		if (strcmp(step, step_table[i].step) == 0)
			return step_table[i].next;
	return -1;
}

static void error(struct client *c, const char *what)
{
	if (G.errors++ < 5)
		fprintf(stderr, "flowload: client %d flow %d %s: %s: %.300s\n", c->id, c->flow, reqs[c->req].name,
			what, c->rx ? c->rx : "");
}

/* One finished transfer of c: record it, then start its next request or its next flow. */
static void on_done(CURLM *m, struct client *c, CURLcode rc)
{
	long status = 0, conns = 0;
	curl_off_t setup = 0;
	double dt = now_ms() - c->t_req;
	curl_multi_remove_handle(m, c->h);
	curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(c->h, CURLINFO_NUM_CONNECTS, &conns);
	G.connects += conns;
	if (conns > 0 && curl_easy_getinfo(c->h, CURLINFO_APPCONNECT_TIME_T, &setup) == CURLE_OK && setup > 0) {
		add(&G.setup, (double)setup / 1000.0); /* TCP connect + TLS handshake, apart */
		dt -= (double)setup / 1000.0;
	}
	add(&G.step[c->req], dt);
	cJSON *js = rc == CURLE_OK && c->rx ? cJSON_Parse(c->rx) : NULL;
	int next = -1;
	if (rc != CURLE_OK)
		error(c, curl_easy_strerror(rc));
	else if (status != reqs[c->req].status)
		error(c, "unexpected status");
	else if ((next = next_req(c, js)) < 0)
		error(c, "unexpected answer");
	else if (next != R_N && c->nreq >= MAX_STEPS) {
		error(c, "too many steps");
		next = -1;
	}
	if (next == R_N) {
		G.flows_done++;
		add(&G.flow, now_ms() - c->t_flow);
	}
	const cJSON *data = cJSON_GetObjectItemCaseSensitive(js, "data");
	int r = next >= 0 && next != R_N ? send_req(m, c, (enum req)next, data) : start_flow(m, c);
	if (r < 0)
		error(c, "could not send");
	cJSON_Delete(js);
}

static int read_stdin(void)
{
	char *lines[3] = {G.password, G.answer, G.pins};
	size_t sizes[3] = {sizeof G.password, sizeof G.answer, sizeof G.pins};
	for (int i = 0; i < 3; i++) {
		if (!fgets(lines[i], (int)sizes[i], stdin))
			return -1;
		lines[i][strcspn(lines[i], "\r\n")] = '\0';
	}
	return 0;
}

static int parse_args(int argc, char **argv)
{
	if (argc < 5)
		return -1;
	G.server = argv[1];
	G.cacert = argv[2];
	G.n = atoi(argv[3]);
	G.flows = atoi(argv[4]);
	for (int i = 5; i < argc; i++) {
		if (strcmp(argv[i], "--new-conn") == 0) {
			G.new_conn = true;
		} else if (strcmp(argv[i], "--sessions-only") == 0) {
			G.sessions_only = true;
		} else if (strcmp(argv[i], "--logins") == 0 && i + 2 < argc) {
			G.prefix = argv[++i];
			G.customers = atoi(argv[++i]);
		} else {
			return -1;
		}
	}
	if (G.n < 1 || G.n > MAX_CLIENTS || G.flows < 1 || (G.prefix && G.customers < 1))
		return -1;
	return 0;
}

static CURL *new_handle(struct client *c)
{
	CURL *h = curl_easy_init();
	if (!h)
		return NULL;
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CAINFO, G.cacert);
	curl_easy_setopt(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	curl_easy_setopt(h, CURLOPT_SSL_SESSIONID_CACHE, 0L); /* as renkei: never resume */
	curl_easy_setopt(h, CURLOPT_USERAGENT, "renkei-bench-flowload");
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(h, CURLOPT_POST, 1L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, c);
	return h;
}

static void run(CURLM *m)
{
	for (;;) {
		int running = 0, added = 0;
		CURLMcode mc = curl_multi_perform(m, &running);
		CURLMsg *msg;
		int left;
		while (mc == CURLM_OK && (msg = curl_multi_info_read(m, &left))) {
			if (msg->msg != CURLMSG_DONE)
				continue;
			struct client *c = NULL;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&c);
			on_done(m, c, msg->data.result);
			added = 1; /* a new request may have been added */
		}
		if (mc == CURLM_OK && !running && !added)
			return;
		if (mc == CURLM_OK && !added)
			mc = curl_multi_poll(m, NULL, 0, 1000, NULL);
		if (mc != CURLM_OK) {
			fprintf(stderr, "flowload: %s\n", curl_multi_strerror(mc));
			G.errors++;
			return;
		}
	}
}

int main(int argc, char **argv)
{
	static struct client cl[MAX_CLIENTS];
	if (parse_args(argc, argv) < 0) {
		fprintf(stderr, "usage: flowload SERVER CACERT N FLOWS [--new-conn] [--sessions-only] "
				"[--logins PREFIX COUNT]  (stdin: password, answer, NUMBER=PIN...)\n");
		return 2;
	}
	if (read_stdin() < 0) {
		fprintf(stderr, "flowload: stdin: password, answer and PINs expected\n");
		return 2;
	}
	srand((unsigned)time(NULL));
	curl_global_init(CURL_GLOBAL_DEFAULT);
	CURLM *m = curl_multi_init();
	curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, (long)G.n);
	double t0 = now_ms();
	for (int i = 0; i < G.n; i++) {
		cl[i].id = i;
		if (!(cl[i].h = new_handle(&cl[i]))) {
			fprintf(stderr, "flowload: curl_easy_init failed\n");
			return 1;
		}
		curl_easy_setopt(cl[i].h, CURLOPT_PRIVATE, (char *)&cl[i]);
		if (start_flow(m, &cl[i]) < 0)
			G.errors++;
	}
	run(m);
	double secs = (now_ms() - t0) / 1000.0;
	printf("info flows %ld\ninfo errors %ld\ninfo seconds %.4f\ninfo connects %ld\n", G.flows_done, G.errors,
	       secs, G.connects);
	for (int r = 0; r < R_N; r++)
		print_samples("step", reqs[r].name, &G.step[r]);
	print_samples("flow", NULL, &G.flow);
	print_samples("setup", NULL, &G.setup);
	for (int i = 0; i < G.n; i++) {
		curl_easy_cleanup(cl[i].h);
		free(cl[i].body);
		free(cl[i].rx);
		curl_slist_free_all(cl[i].hdr);
	}
	curl_multi_cleanup(m);
	curl_global_cleanup();
	explicit_bzero(G.password, sizeof G.password);
	explicit_bzero(G.answer, sizeof G.answer);
	explicit_bzero(G.pins, sizeof G.pins);
	return G.errors ? 1 : 0;
}
