/* certlogin.c: make bench's certificate-login figures (scripts/bench.py runs it), timed with the
 * client's own code (librenkei.a: p11.c, api.c) against a SoftHSM2 token and the sandbox.
 *
 * Usage: certlogin MODULE SERVER CACERT TOKEN_LABEL [ROUNDS]   (default 20 rounds)
 *   SOFTHSM2_CONF in the environment names the token store (scripts/mktoken.sh makes it).
 *   stdin: line 1 the token PIN; optional line 2 a user code and line 3 its customer's password:
 *   then, at the end, one certificate login is done over the card's TLS connection to prove the
 *   sandbox identified the certificate (POST sessions, POST session/login method certificate).
 *   Secrets are read into buffers wiped with explicit_bzero and never printed.
 *
 * Each round, in the order the client does it:
 *   p11_open      load the module (dlopen, C_Initialize) and list every certificate (libp11)
 *   p11_login     the token login (C_Login) + the private key through the pkcs11 engine
 *   sign          one RSA-PSS signature (SHA-256) with that key: the token signs (CKM_RSA_PKCS_PSS)
 *   tls_card_new  a new api handle with the card installed (api_set_ssl_ctx_cb + p11_ssl_ctx_install):
 *                 its first request = TCP + full TLS handshake, the client's CertificateVerify
 *                 signed on the token, + one GET of the metadata
 *   tls_card_kept a second GET on that same connection (no handshake): the request alone
 *   tls_plain_new the same first request without a client certificate, and tls_plain_kept
 *   p11_close     log out, C_Finalize, unload
 * and apart, before any of it: c_login, C_Login alone (then C_Logout) on one open session through
 * the module's function list, ROUNDS times.
 *
 * Output, one line each: "info KEY VALUE..." and "NAME N P50 P90 MIN MAX" (milliseconds).
 * Exit 1 when something failed (the message says what, on stderr); figures are never judged. */
#include <cjson/cJSON.h>
#include <dlfcn.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <p11-kit-1/p11-kit/pkcs11.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "flow.h"
#include "p11.h"

#define MAX_ROUNDS 1000

enum { M_OPEN, M_LOGIN, M_SIGN, M_CARD_NEW, M_CARD_KEPT, M_PLAIN_NEW, M_PLAIN_KEPT, M_CLOSE, M_CLOGIN, M_N };
static const char *const names[M_N] = {"p11_open",       "p11_login",     "sign",
                                       "tls_card_new",   "tls_card_kept", "tls_plain_new",
                                       "tls_plain_kept", "p11_close",     "c_login"};
static double samples[M_N][MAX_ROUNDS];
static int nsamples[M_N];

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static void add(int m, double v)
{
	if (nsamples[m] < MAX_ROUNDS)
		samples[m][nsamples[m]++] = v;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* p-th percentile, nearest rank (as scripts/bench.py's pct). */
static double pct(const double *sorted, int n, int p)
{
	int k = (p * n + 99) / 100 - 1;
	if (k < 0)
		k = 0;
	if (k > n - 1)
		k = n - 1;
	return sorted[k];
}

static int fail(const char *what, const char *detail)
{
	fprintf(stderr, "certlogin: %s%s%s\n", what, detail && *detail ? ": " : "", detail ? detail : "");
	return -1;
}

/* One line of stdin into buf (newline dropped); 0, or -1 at EOF / too long. */
static int read_line(char *buf, size_t size)
{
	if (!fgets(buf, (int)size, stdin))
		return -1;
	size_t n = strcspn(buf, "\r\n");
	if (buf[n] == '\0' && n == size - 1)
		return -1;
	buf[n] = '\0';
	return 0;
}

/* c_login: C_Login (CKU_USER) then C_Logout on one session of the token labelled label, straight
 * through the module's function list (no libp11): the token login alone. */
static int bench_c_login(const char *module, const char *label, const char *pin, int rounds)
{
	void *dl = dlopen(module, RTLD_NOW | RTLD_LOCAL);
	if (!dl)
		return fail("c_login: dlopen", dlerror());
	CK_C_GetFunctionList gfl = (CK_C_GetFunctionList)dlsym(dl, "C_GetFunctionList");
	CK_FUNCTION_LIST *fl = NULL;
	CK_SLOT_ID slots[64], slot = 0;
	CK_ULONG nslots = 64;
	CK_SESSION_HANDLE sess = CK_INVALID_HANDLE;
	bool found = false, inited = false;
	int rc = -1;
	if (!gfl || gfl(&fl) != CKR_OK || !fl) {
		fail("c_login: C_GetFunctionList", module);
		goto out;
	}
	if (fl->C_Initialize(NULL) != CKR_OK) {
		fail("c_login: C_Initialize", NULL);
		goto out;
	}
	inited = true;
	if (fl->C_GetSlotList(CK_TRUE, slots, &nslots) != CKR_OK) {
		fail("c_login: C_GetSlotList", NULL);
		goto out;
	}
	size_t ll = strlen(label);
	for (CK_ULONG i = 0; i < nslots && !found; i++) {
		CK_TOKEN_INFO ti;
		if (fl->C_GetTokenInfo(slots[i], &ti) != CKR_OK || ll > sizeof ti.label ||
		    memcmp(ti.label, label, ll) != 0)
			continue;
		found = true; /* the rest of the 32-byte label is blank padding */
		for (size_t k = ll; k < sizeof ti.label; k++)
			found = found && ti.label[k] == ' ';
		slot = slots[i];
	}
	if (!found) {
		fail("c_login: no token labelled", label);
		goto out;
	}
	if (fl->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &sess) != CKR_OK) {
		fail("c_login: C_OpenSession", NULL);
		goto out;
	}
	for (int r = 0; r < rounds; r++) {
		double t0 = now_ms();
		CK_RV rv = fl->C_Login(sess, CKU_USER, (CK_UTF8CHAR_PTR)pin, (CK_ULONG)strlen(pin));
		double dt = now_ms() - t0;
		if (rv != CKR_OK) {
			char why[32];
			snprintf(why, sizeof why, "CKR 0x%lx", (unsigned long)rv);
			fail("c_login: C_Login", why);
			goto out;
		}
		add(M_CLOGIN, dt);
		if (fl->C_Logout(sess) != CKR_OK) {
			fail("c_login: C_Logout", NULL);
			goto out;
		}
	}
	rc = 0;
out:
	if (sess != CK_INVALID_HANDLE)
		fl->C_CloseSession(sess);
	if (inited)
		fl->C_Finalize(NULL);
	dlclose(dl);
	return rc;
}

/* One RSA-PSS (SHA-256, salt = digest length) signature of a fixed message with key. */
static int sign_once(EVP_PKEY *key)
{
	static const unsigned char msg[] = "renkei bench: TLS 1.3 CertificateVerify stand-in";
	unsigned char sig[1024];
	size_t siglen = sizeof sig;
	EVP_PKEY_CTX *pctx = NULL;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int ok = md && EVP_DigestSignInit(md, &pctx, EVP_sha256(), NULL, key) == 1 &&
	         EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
	         EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) == 1 &&
	         EVP_DigestSign(md, sig, &siglen, msg, sizeof msg - 1) == 1 && siglen > 0;
	EVP_MD_CTX_free(md);
	return ok ? 0 : fail("sign: EVP_DigestSign (RSA-PSS) with the token's key failed", NULL);
}

static const struct flow_req metadata_req = {
    .action = FLOW_ACT_NONE,
    .method = FLOW_GET,
    .path = "/.well-known/oauth-authorization-server",
    .idempotent = true,
};

/* A new api handle (with the card when p is not NULL): the first GET (new connection) and a
 * second on the same connection. */
static int bench_tls(const struct api_opts *o, struct p11 *p, int m_new, int m_kept)
{
	struct api_err e;
	struct api_resp r;
	struct api *a = api_new(o, &e);
	if (!a)
		return fail("api_new", e.msg);
	if (p && api_set_ssl_ctx_cb(a, p11_ssl_ctx_install, p) != 0) {
		api_free(a);
		return fail("api_set_ssl_ctx_cb", NULL);
	}
	for (int i = 0; i < 2; i++) {
		double t0 = now_ms();
		if (api_send(a, &metadata_req, &r, &e) != 0) {
			api_free(a);
			return fail(p ? "metadata GET with the card" : "metadata GET", e.msg);
		}
		double dt = now_ms() - t0;
		long st = r.status;
		api_resp_free(&r);
		if (st != 200) {
			api_free(a);
			return fail("metadata GET: status not 200", NULL);
		}
		long conns = api_last_num_connects(a);
		if (conns != (i == 0 ? 1 : 0)) {
			api_free(a);
			return fail(i == 0 ? "the first request did not open a connection"
			                   : "the second request did not reuse the connection",
			            NULL);
		}
		add(i == 0 ? m_new : m_kept, dt);
	}
	api_free(a);
	return 0;
}

/* POST body (JSON) with a bearer; returns the status, body copied into out (NUL-terminated). */
static long post_json(struct api *a, const char *path, cJSON *body, const char *bearer, char *out,
                      size_t outsz)
{
	struct flow_req req = {.method = FLOW_POST, .path = path, .bearer = bearer, .secret_body = true};
	struct api_resp r;
	struct api_err e;
	req.body = cJSON_PrintUnformatted(body);
	if (!req.body)
		return -1;
	req.body_len = strlen(req.body);
	int rc = api_send(a, &req, &r, &e);
	explicit_bzero(req.body, req.body_len);
	cJSON_free(req.body);
	if (rc != 0) {
		fail(path, e.msg);
		return -1;
	}
	snprintf(out, outsz, "%s", r.body);
	long st = r.status;
	api_resp_free(&r);
	return st;
}

/* Proof the handshake carried the card's certificate: a certificate login (password as second
 * factor) on a connection made with it is accepted. 0 or -1. */
static int check_certificate_login(const struct api_opts *o, struct p11 *p, const char *user_code,
                                   const char *password)
{
	static char buf[64 * 1024];
	struct api_err e;
	struct api *a = api_new(o, &e);
	if (!a || api_set_ssl_ctx_cb(a, p11_ssl_ctx_install, p) != 0) {
		api_free(a);
		return fail("api_new", a ? NULL : e.msg);
	}
	int rc = -1;
	char session[256] = "";
	cJSON *b = cJSON_CreateObject(), *ans = NULL;
	cJSON_AddStringToObject(b, "user_code", user_code);
	long st = post_json(a, "/consent/v1/sessions", b, NULL, buf, sizeof buf);
	cJSON_Delete(b);
	ans = cJSON_Parse(buf);
	cJSON *s = cJSON_GetObjectItemCaseSensitive(ans, "session");
	if (st != 201 || !cJSON_IsString(s) || strlen(s->valuestring) >= sizeof session) {
		fail("POST /consent/v1/sessions did not answer 201 with a session", NULL);
		goto out;
	}
	snprintf(session, sizeof session, "%s", s->valuestring);
	cJSON_Delete(ans);
	b = cJSON_CreateObject();
	cJSON_AddStringToObject(b, "method", "certificate");
	cJSON_AddStringToObject(b, "password", password);
	st = post_json(a, "/consent/v1/session/login", b, session, buf, sizeof buf);
	cJSON *pw = cJSON_GetObjectItemCaseSensitive(b, "password");
	if (cJSON_IsString(pw))
		explicit_bzero(pw->valuestring, strlen(pw->valuestring));
	cJSON_Delete(b);
	ans = cJSON_Parse(buf);
	cJSON *step = cJSON_GetObjectItemCaseSensitive(ans, "step");
	if (st != 200 || !cJSON_IsString(step)) {
		char why[96];
		snprintf(why, sizeof why, "status %ld", st);
		fail("the certificate login was refused", why);
		goto out;
	}
	printf("info certificate_login %ld %s connections %ld\n", st, step->valuestring,
	       api_total_connects(a));
	rc = 0;
out:
	cJSON_Delete(ans);
	explicit_bzero(buf, sizeof buf);
	explicit_bzero(session, sizeof session);
	api_free(a);
	return rc;
}

static void report(void)
{
	for (int m = 0; m < M_N; m++) {
		int n = nsamples[m];
		if (!n)
			continue;
		qsort(samples[m], (size_t)n, sizeof(double), cmp_double);
		printf("%s %d %.3f %.3f %.3f %.3f\n", names[m], n, pct(samples[m], n, 50),
		       pct(samples[m], n, 90), samples[m][0], samples[m][n - 1]);
	}
}

int main(int argc, char **argv)
{
	if (argc < 5) {
		fprintf(stderr, "usage: certlogin MODULE SERVER CACERT TOKEN_LABEL [ROUNDS] < PIN [USER_CODE "
		                "PASSWORD]\n");
		return 2;
	}
	const char *module = argv[1], *label = argv[4];
	int rounds = argc > 5 ? atoi(argv[5]) : 20;
	if (rounds < 1)
		rounds = 1;
	if (rounds > MAX_ROUNDS)
		rounds = MAX_ROUNDS;
	static char pin[128], user_code[64], password[128];
	int rc = 1;
	struct p11 *p = NULL;
	if (read_line(pin, sizeof pin) != 0 || !pin[0]) {
		fail("no token PIN on stdin", NULL);
		goto out;
	}
	bool check = read_line(user_code, sizeof user_code) == 0 &&
	             read_line(password, sizeof password) == 0 && user_code[0] && password[0];
	if (api_global_init() != 0) {
		fail("curl_global_init", NULL);
		goto out;
	}
	struct api_opts o = {.server = argv[2], .cacert = argv[3]};

	if (bench_c_login(module, label, pin, rounds) != 0)
		goto out;
	char uri[160];
	snprintf(uri, sizeof uri, "pkcs11:token=%s;id=%%01;type=cert", label);
	for (int r = 0; r < rounds; r++) {
		struct p11_err pe;
		double t0 = now_ms();
		p = p11_open(module, &pe);
		if (!p || pe.kind != P11_OK) {
			fail("p11_open", pe.detail);
			goto out;
		}
		add(M_OPEN, now_ms() - t0);
		int i = p11_find_uri(p, uri, &pe);
		if (i < 0) {
			fail("p11_find_uri", pe.detail);
			goto out;
		}
		if (r == 0)
			printf("info certificates %zu\n", p11_count(p));
		t0 = now_ms();
		if (p11_login(p, (size_t)i, pin, strlen(pin), &pe) != 0) {
			fail("p11_login", pe.detail);
			goto out;
		}
		add(M_LOGIN, now_ms() - t0);
		if (r == 0)
			printf("info key_source %s\n", p11_key_source(p));
		t0 = now_ms();
		if (sign_once(p11_key(p)) != 0)
			goto out;
		add(M_SIGN, now_ms() - t0);
		if (bench_tls(&o, p, M_CARD_NEW, M_CARD_KEPT) != 0 ||
		    bench_tls(&o, NULL, M_PLAIN_NEW, M_PLAIN_KEPT) != 0)
			goto out;
		if (check && r == rounds - 1 && check_certificate_login(&o, p, user_code, password) != 0)
			goto out;
		t0 = now_ms();
		p11_close(p);
		p = NULL;
		add(M_CLOSE, now_ms() - t0);
	}
	report();
	rc = 0;
out:
	p11_close(p);
	explicit_bzero(pin, sizeof pin);
	explicit_bzero(user_code, sizeof user_code);
	explicit_bzero(password, sizeof password);
	api_global_cleanup();
	return rc;
}
