/* test_p11.c: PKCS#11 against real SoftHSM2 tokens made by scripts/mktoken.sh in a temp dir:
 * listing (two tokens at once, Japanese subject, an expired certificate), URIs, wrong/right PIN,
 * the key through the engine and through libp11 (it signs, RSA-PSS), load errors, presence.
 *
 * Needs softhsm2, opensc (pkcs11-tool) and openssl (scripts/install-deps.sh). Uses
 * RENKEI_TEST_PKI (a scripts/mkcerts.sh directory) when set, otherwise makes its own PKI. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "p11.h"

/* Under ASan (make check): the pkcs11 engine (its own copy of libp11, dlopen'ed by OpenSSL and
 * unloaded again) builds its RSA/EC/EVP_PKEY method tables once and never frees them. These are
 * not ours: our code creates no method table. Slow unwinding is needed so the stacks reach those
 * constructors through libcrypto (built without frame pointers); every other leak, ours
 * included, is still reported. Plain builds ignore both functions. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
	return "leak:EVP_PKEY_meth_new\n"
	       "leak:EC_KEY_METHOD_new\n"
	       "leak:RSA_meth_dup\n"
	       "leak:RSA_meth_set1_name\n"
	       "leak:libsofthsm2.so\n"
	       "leak:pkcs11-spy.so\n"; /* allocates its function list per C_GetFunctionList */
}
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "fast_unwind_on_malloc=0";
}

static char tmpdir[1024];
static char srcdir[PATH_MAX];
static char pki[2048];
static char conf[2048];
static const char *softhsm;

static bool is_file(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* The source tree: RENKEI_SRCDIR, else the first parent of the cwd or of this binary holding
 * scripts/mktoken.sh. */
static bool find_srcdir(void)
{
	const char *env = getenv("RENKEI_SRCDIR");
	char probe[PATH_MAX + 32];
	if (env) {
		snprintf(srcdir, sizeof srcdir, "%s", env);
		return true;
	}
	char starts[2][PATH_MAX];
	if (!getcwd(starts[0], sizeof starts[0]))
		starts[0][0] = '\0';
	ssize_t n = readlink("/proc/self/exe", starts[1], sizeof starts[1] - 1);
	starts[1][n > 0 ? n : 0] = '\0';
	for (int s = 0; s < 2; s++) {
		char d[PATH_MAX];
		memcpy(d, starts[s], sizeof d);
		while (d[0]) {
			snprintf(probe, sizeof probe, "%s/scripts/mktoken.sh", d);
			if (is_file(probe)) {
				snprintf(srcdir, sizeof srcdir, "%s", d);
				return true;
			}
			char *sl = strrchr(d, '/');
			if (!sl)
				break;
			*sl = '\0';
		}
	}
	return false;
}

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	char cmd[4 * PATH_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	char full[sizeof cmd + PATH_MAX + 64];
	snprintf(full, sizeof full, "(%s) >>'%s/log' 2>&1", cmd, tmpdir);
	int rc = system(full);
	if (rc != 0) {
		char show[PATH_MAX + 32];
		snprintf(show, sizeof show, "cat '%s/log'", tmpdir);
		if (system(show) != 0)
			fprintf(stderr, "(no log)\n");
	}
	return rc;
}

static int group_setup(void **state)
{
	(void)state;
	setenv("TZ", "UTC", 1);
	if (!find_srcdir()) {
		fprintf(stderr, "test_p11: scripts/mktoken.sh not found (set RENKEI_SRCDIR)\n");
		return -1;
	}
	softhsm = getenv("SOFTHSM2_MODULE");
	if (!softhsm)
		softhsm = "/usr/lib/softhsm/libsofthsm2.so";
	if (!is_file(softhsm)) {
		fprintf(stderr, "test_p11: %s missing (install softhsm2)\n", softhsm);
		return -1;
	}
	snprintf(tmpdir, sizeof tmpdir, "%s/renkei-p11-XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(tmpdir))
		return -1;
	const char *envpki = getenv("RENKEI_TEST_PKI");
	if (envpki && *envpki) {
		snprintf(pki, sizeof pki, "%s", envpki);
		if (sh("sh '%s/scripts/mkcerts.sh' '%s'", srcdir, pki) != 0)
			return -1;
	} else {
		snprintf(pki, sizeof pki, "%s/pki", tmpdir);
		if (sh("sh '%s/scripts/mkcerts.sh' '%s'", srcdir, pki) != 0)
			return -1;
	}
	/* Two tokens in one store: renkei-demo (suzuki03 01, suzuki03-expired 02), renkei-demo2
	 * (unknown 01); a third one, renkei-gone, is deleted by the presence test. */
	if (sh("sh '%s/scripts/mktoken.sh' '%s' '%s/tok'", srcdir, pki, tmpdir) != 0 ||
	    sh("sh '%s/scripts/mktoken.sh' '%s' '%s/tok' renkei-demo2", srcdir, pki, tmpdir) != 0 ||
	    sh("sh '%s/scripts/mktoken.sh' '%s' '%s/tok' renkei-gone unknown", srcdir, pki, tmpdir) != 0)
		return -1;
	snprintf(conf, sizeof conf, "%s/tok/softhsm2.conf", tmpdir);
	setenv("SOFTHSM2_CONF", conf, 1);
	return 0;
}

static pid_t server_pid; /* an s_server still running when a test failed half-way */

static int group_teardown(void **state)
{
	(void)state;
	if (server_pid > 0) {
		kill(server_pid, SIGTERM);
		waitpid(server_pid, NULL, 0);
	}
	if (tmpdir[0] && !getenv("RENKEI_KEEP_TMP"))
		sh("rm -rf '%s'", tmpdir);
	return 0;
}

static struct p11 *open_ok(void)
{
	struct p11_err e;
	struct p11 *p = p11_open(softhsm, &e);
	if (!p)
		fail_msg("p11_open: %s: %s", p11_err_key(e.kind), e.detail);
	assert_int_equal(e.kind, P11_OK);
	return p;
}

static int find(struct p11 *p, const char *uri)
{
	struct p11_err e;
	return p11_find_uri(p, uri, &e);
}

/* Sign with RSA-PSS (what TLS 1.3 asks of a client key) and verify with the certificate. */
static void assert_signs_pss(EVP_PKEY *key, X509 *x)
{
	static const unsigned char msg[] = "renkei: TLS 1.3 CertificateVerify stand-in";
	unsigned char sig[512];
	size_t siglen = sizeof sig;
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pc = NULL;
	assert_int_equal(EVP_DigestSignInit(m, &pc, EVP_sha256(), NULL, key), 1);
	assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PSS_PADDING), 1);
	assert_int_equal(EVP_PKEY_CTX_set_rsa_pss_saltlen(pc, RSA_PSS_SALTLEN_DIGEST), 1);
	assert_int_equal(EVP_DigestSign(m, sig, &siglen, msg, sizeof msg), 1);
	EVP_MD_CTX_free(m);

	EVP_PKEY *pub = X509_get0_pubkey(x);
	m = EVP_MD_CTX_new();
	pc = NULL;
	assert_int_equal(EVP_DigestVerifyInit(m, &pc, EVP_sha256(), NULL, pub), 1);
	assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PSS_PADDING), 1);
	assert_int_equal(EVP_PKEY_CTX_set_rsa_pss_saltlen(pc, RSA_PSS_SALTLEN_DIGEST), 1);
	assert_int_equal(EVP_DigestVerify(m, sig, siglen, msg, sizeof msg), 1);
	EVP_MD_CTX_free(m);
}

static void list_two_tokens(void **state)
{
	(void)state;
	struct p11 *p = open_ok();
	assert_string_equal(p11_module(p), softhsm);
	assert_int_equal(p11_count(p), 4);
	/* sorted: renkei-demo 01, 02; renkei-demo2 01; renkei-gone 01 */
	const struct p11_cert *c = p11_get(p, 0);
	assert_non_null(c);
	assert_string_equal(c->token_label, "renkei-demo");
	assert_string_equal(c->id_hex, "01");
	assert_int_equal(c->id_len, 1);
	assert_int_equal(c->id[0], 1);
	assert_string_equal(c->label, "suzuki03");
	assert_string_equal(c->info.subject, "CN=鈴木花子,O=Renkei Demo Bank,C=JP");
	assert_string_equal(c->info.name, "鈴木花子");
	assert_string_equal(c->info.issuer_name, "renkei test client CA");
	assert_string_equal(c->info.serial, "10:03");
	assert_int_equal(c->validity, CERT_VALID);
	assert_true(p11_cert_usable(c, time(NULL)));
	assert_true(c->login_required);
	assert_false(c->protected_auth_path);
	assert_int_equal(strlen(c->token_serial), 16);
	assert_string_equal(c->token_model, "SoftHSM v2");
	assert_non_null(c->x509);
	assert_non_null(strstr(c->uri, "pkcs11:token=renkei-demo;serial="));
	assert_non_null(strstr(c->uri, ";id=%01;object=suzuki03;type=cert"));

	c = p11_get(p, 1);
	assert_string_equal(c->token_label, "renkei-demo");
	assert_string_equal(c->id_hex, "02");
	assert_string_equal(c->label, "suzuki03-expired");
	assert_string_equal(c->info.name, "鈴木花子");
	assert_string_equal(c->info.serial_plain, "1004");
	assert_int_equal(c->validity, CERT_EXPIRED);
	assert_string_equal(c->info.not_before_date, "2020-01-01");
	assert_string_equal(c->info.not_after_date, "2021-01-01");
	assert_false(p11_cert_usable(c, time(NULL)));

	c = p11_get(p, 2);
	assert_string_equal(c->token_label, "renkei-demo2");
	assert_string_equal(c->info.name, "名無し太郎");
	assert_string_equal(c->info.serial, "10:05");
	assert_string_not_equal(c->token_serial, p11_get(p, 0)->token_serial);
	assert_null(p11_get(p, 4));
	assert_int_equal(p11_selected(p), -1);
	assert_null(p11_key(p));
	assert_null(p11_x509(p));
	assert_string_equal(p11_key_source(p), "");
	p11_close(p);
}

static void uris(void **state)
{
	(void)state;
	struct p11 *p = open_ok();
	for (size_t i = 0; i < p11_count(p); i++)
		assert_int_equal(find(p, p11_get(p, i)->uri), (int)i);
	assert_int_equal(find(p, "pkcs11:token=renkei-demo;id=%02"), 1);
	assert_int_equal(find(p, "pkcs11:token=renkei%2Ddemo;id=%01;type=private"), 0);
	assert_int_equal(find(p, "pkcs11:token=renkei-demo2;object=unknown;type=cert"), 2);
	assert_int_equal(find(p, "pkcs11:object=suzuki03-expired"), 1);
	assert_int_equal(find(p, "PKCS11:id=%01?pin-value=123456"), 0); /* query ignored */
	struct p11_err e;
	assert_int_equal(p11_find_uri(p, "pkcs11:token=nope", &e), -1);
	assert_int_equal(e.kind, P11_ERR_NO_CERT);
	assert_int_equal(p11_find_uri(p, "pkcs11:token=renkei-demo;id=%03", &e), -1);
	assert_int_equal(e.kind, P11_ERR_NO_CERT);
	assert_int_equal(p11_find_uri(p, "https://example.com/", &e), -1);
	assert_int_equal(e.kind, P11_ERR_OTHER);
	assert_int_equal(p11_find_uri(p, "pkcs11:id=%0", &e), -1);
	assert_int_equal(e.kind, P11_ERR_OTHER);
	assert_int_equal(p11_find_uri(p, "pkcs11:token", &e), -1);
	assert_int_equal(e.kind, P11_ERR_OTHER);
	p11_close(p);
}

static void wrong_then_right_pin(void **state)
{
	(void)state;
	struct p11 *p = open_ok();
	struct p11_err e;
	char pin[16];

	memcpy(pin, "000000", 6);
	assert_int_equal(p11_login(p, 0, pin, 6, &e), -1);
	assert_int_equal(e.kind, P11_ERR_PIN_INCORRECT);
	assert_int_equal(e.ckr, 0xa0); /* CKR_PIN_INCORRECT */
	assert_true(e.pin_flags & P11_PIN_COUNT_LOW); /* SoftHSM sets it after a wrong PIN */
	assert_null(strstr(e.detail, "000000"));
	assert_string_not_equal(p11_err_message(&e), "");
	assert_null(p11_key(p));

	assert_int_equal(p11_login(p, 0, NULL, 0, &e), -1);
	assert_int_equal(e.kind, P11_ERR_PIN_INVALID);
	assert_int_equal(p11_login(p, 0, pin, 0, &e), -1);
	assert_int_equal(e.kind, P11_ERR_PIN_INVALID);
	assert_int_equal(p11_login(p, 0, "12\0" "3456", 7, &e), -1);
	assert_int_equal(e.kind, P11_ERR_PIN_INVALID);

	/* Right PIN from a buffer that is not NUL-terminated (and is wiped right after). */
	memcpy(pin, "123456XXXX", 10);
	int rc = p11_login(p, 0, pin, 6, &e);
	explicit_bzero(pin, sizeof pin);
	if (rc != 0)
		fail_msg("p11_login: %s: %s", p11_err_key(e.kind), e.detail);
	assert_int_equal(e.kind, P11_OK);
	assert_int_equal(p11_selected(p), 0);
	assert_non_null(p11_key(p));
	assert_ptr_equal(p11_x509(p), p11_get(p, 0)->x509);
	assert_string_equal(p11_key_source(p), "engine");
	assert_int_equal(X509_check_private_key(p11_x509(p), p11_key(p)), 1);
	assert_signs_pss(p11_key(p), p11_x509(p));

	/* Into a TLS context, as libcurl's CURLOPT_SSL_CTX_FUNCTION would. */
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	assert_int_equal(p11_curl_ssl_ctx(NULL, ctx, p), CURLE_OK);
	assert_int_equal(p11_ssl_ctx_install(ctx, p), 0);
	SSL_CTX_free(ctx);

	/* Same token, other certificate: no PIN needed any more (already logged in). */
	assert_int_equal(p11_login(p, 1, NULL, 0, &e), 0);
	assert_int_equal(p11_selected(p), 1);
	assert_int_equal(X509_check_private_key(p11_x509(p), p11_key(p)), 1);
	assert_int_equal(p11_token_present(p, &e), 1);
	p11_close(p);
}

static void second_token_libp11_key(void **state)
{
	(void)state;
	struct p11 *p = open_ok();
	struct p11_err e;
	int i = find(p, "pkcs11:token=renkei-demo2;id=%01");
	assert_int_equal(i, 2);
	p11_use_engine(p, false);
	assert_int_equal(p11_login(p, (size_t)i, "123456", 6, &e), 0);
	assert_string_equal(p11_key_source(p), "libp11");
	assert_signs_pss(p11_key(p), p11_x509(p));
	/* and back to the first token through the engine, both logged in at once */
	p11_use_engine(p, true);
	assert_int_equal(p11_login(p, 0, "123456", 6, &e), 0);
	assert_string_equal(p11_key_source(p), "engine");
	assert_signs_pss(p11_key(p), p11_x509(p));
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	assert_int_equal(p11_ssl_ctx_install(ctx, p), 0);
	SSL_CTX_free(ctx);
	p11_close(p);
	p11_close(NULL);
}

/* Runs f with fd 2 sent to a file; returns what was written there (static buffer). */
static const char *stderr_of(void (*f)(void *), void *arg)
{
	static char got[1024];
	char path[PATH_MAX + 16];
	snprintf(path, sizeof path, "%s/stderr", tmpdir);
	fflush(stderr);
	int saved = dup(2);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(saved >= 0 && fd >= 0);
	dup2(fd, 2);
	f(arg);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	ssize_t n = pread(fd, got, sizeof got - 1, 0);
	got[n > 0 ? n : 0] = '\0';
	close(fd);
	return got;
}

struct open_case {
	const char *module;
	struct p11_err e;
	struct p11 *p;
};

static void do_open(void *arg)
{
	struct open_case *oc = arg;
	oc->p = p11_open(oc->module, &oc->e);
}

static void load_errors(void **state)
{
	(void)state;
	struct open_case oc = {"/nonexistent/libnothing.so", {0}, NULL};
	assert_string_equal(stderr_of(do_open, &oc), "");
	assert_null(oc.p);
	assert_int_equal(oc.e.kind, P11_ERR_LOAD_FAILED);
	assert_string_equal(p11_err_key(oc.e.kind), "load-failed");
	assert_string_not_equal(p11_err_message(&oc.e), "");

	/* A shared library that is not a PKCS#11 module: libp11 would print dlerror(); we do not. */
	char notmod[PATH_MAX + 32];
	snprintf(notmod, sizeof notmod, "%s/notmodule.so", tmpdir);
	assert_int_equal(sh("printf 'int x;' | cc -shared -fPIC -x c - -o '%s'", notmod), 0);
	oc.module = notmod;
	assert_string_equal(stderr_of(do_open, &oc), "");
	assert_null(oc.p);
	assert_int_equal(oc.e.kind, P11_ERR_LOAD_FAILED);
	assert_non_null(strstr(oc.e.detail, "C_GetFunctionList"));

	/* A file that is no library at all. */
	oc.module = conf;
	assert_string_equal(stderr_of(do_open, &oc), "");
	assert_null(oc.p);
	assert_int_equal(oc.e.kind, P11_ERR_LOAD_FAILED);
	assert_non_null(strstr(oc.e.detail, "dlopen"));

	/* SoftHSM with a configuration file that does not exist: C_Initialize fails. */
	char missing[PATH_MAX + 32];
	snprintf(missing, sizeof missing, "%s/missing.conf", tmpdir);
	setenv("SOFTHSM2_CONF", missing, 1);
	oc.module = softhsm;
	do_open(&oc);
	setenv("SOFTHSM2_CONF", conf, 1);
	assert_null(oc.p);
	assert_int_equal(oc.e.kind, P11_ERR_LOAD_FAILED);
	assert_true(oc.e.ckr != 0);

	/* every kind has a key and a message */
	for (int k = P11_OK; k <= P11_ERR_OTHER; k++) {
		struct p11_err e = {(enum p11_err_kind)k, 0, 0, ""};
		assert_non_null(p11_err_key(e.kind));
		assert_non_null(p11_err_message(&e));
		if (k != P11_OK)
			assert_string_not_equal(p11_err_message(&e), "");
	}
	struct p11_err fin = {P11_ERR_PIN_INCORRECT, P11_PIN_FINAL_TRY, 0xa0, ""};
	struct p11_err plain = {P11_ERR_PIN_INCORRECT, 0, 0xa0, ""};
	assert_string_not_equal(p11_err_message(&fin), p11_err_message(&plain));
}

/* An empty store: one uninitialized slot, which must not be enumerated (it hung libp11). Then
 * the card "arrives" (the real store) and p11_refresh lists it. */
static void no_token_then_refresh(void **state)
{
	(void)state;
	char empty[PATH_MAX + 32];
	snprintf(empty, sizeof empty, "%s/empty", tmpdir);
	assert_int_equal(sh("mkdir -p '%s/tokens' && chmod 700 '%s' '%s/tokens' && "
			    "printf 'directories.tokendir = %s/tokens\\nobjectstore.backend = file\\n' > '%s/softhsm2.conf'",
			    empty, empty, empty, empty, empty),
			 0);
	char econf[PATH_MAX + 64];
	snprintf(econf, sizeof econf, "%s/softhsm2.conf", empty);
	setenv("SOFTHSM2_CONF", econf, 1);
	struct p11_err e;
	struct p11 *p = p11_open(softhsm, &e);
	assert_non_null(p);
	assert_int_equal(e.kind, P11_ERR_NO_TOKEN);
	assert_int_equal(p11_count(p), 0);
	assert_int_equal(p11_login(p, 0, "123456", 6, &e), -1);
	assert_int_equal(p11_token_present(p, &e), 1); /* nothing listed, nothing gone */

	setenv("SOFTHSM2_CONF", conf, 1);
	assert_int_equal(p11_refresh(p, &e), 0);
	assert_int_equal(e.kind, P11_OK);
	assert_int_equal(p11_count(p), 4);
	assert_int_equal(p11_login(p, 0, "123456", 6, &e), 0);
	assert_non_null(p11_key(p));
	/* refresh drops login and key: the token asks for the PIN again */
	assert_int_equal(p11_refresh(p, &e), 0);
	assert_null(p11_key(p));
	assert_int_equal(p11_selected(p), -1);
	assert_int_equal(p11_login(p, 0, NULL, 0, &e), -1);
	assert_int_equal(e.kind, P11_ERR_PIN_INVALID);
	assert_int_equal(p11_login(p, 0, "123456", 6, &e), 0);
	p11_close(p);
}

/* The card goes away while we hold it: the cheap check notices, no re-enumeration needed. */
static void token_removed(void **state)
{
	(void)state;
	struct p11 *p = open_ok();
	struct p11_err e;
	int i = find(p, "pkcs11:token=renkei-gone");
	assert_true(i >= 0);
	assert_int_equal(p11_login(p, (size_t)i, "123456", 6, &e), 0);
	assert_int_equal(p11_token_present(p, &e), 1);
	assert_int_equal(sh("SOFTHSM2_CONF='%s' softhsm2-util --delete-token --token renkei-gone", conf), 0);
	int r = p11_token_present(p, &e);
	if (r != 0)
		fail_msg("p11_token_present: %d %s: %s", r, p11_err_key(e.kind), e.detail);
	assert_int_equal(e.kind, P11_ERR_TOKEN_REMOVED);
	p11_close(p);
}

/* No module given: the p11-kit proxy, which reaches SoftHSM through its softhsm2.module (and
 * also loads p11-kit's trust store: its CA certificates must not be listed). */
static void proxy_module(void **state)
{
	(void)state;
	const char *proxy = p11_default_module();
	assert_non_null(proxy);
	assert_non_null(strstr(proxy, "p11-kit-proxy.so"));
	struct p11_err e;
	struct p11 *p = p11_open(NULL, &e);
	if (!p)
		fail_msg("p11_open(NULL): %s: %s", p11_err_key(e.kind), e.detail);
	assert_string_equal(p11_module(p), proxy);
	assert_true(p11_count(p) >= 4);
	for (size_t i = 0; i < p11_count(p); i++) {
		assert_string_not_equal(p11_get(p, i)->token_model, "p11-kit-trust");
		assert_int_equal(X509_check_ca(p11_get(p, i)->x509), 0);
	}
	int i = find(p, "pkcs11:token=renkei-demo;id=%01");
	assert_true(i >= 0);
	assert_string_equal(p11_get(p, (size_t)i)->info.name, "鈴木花子");
	assert_int_equal(p11_login(p, (size_t)i, "654321", 6, &e), -1);
	assert_int_equal(e.kind, P11_ERR_PIN_INCORRECT);
	assert_int_equal(p11_login(p, (size_t)i, "123456", 6, &e), 0);
	/* Our C_Login went through our own proxy instance; the engine's instance finds the key
	 * without a PIN because the real module's login is the process's. */
	assert_string_equal(p11_key_source(p), "engine");
	assert_signs_pss(p11_key(p), p11_x509(p));
	assert_int_equal(p11_token_present(p, &e), 1);
	p11_close(p);
}

/* ---- mutual TLS 1.3 with libcurl, the key on the token -------------------------------------- */

struct server {
	pid_t pid;
	int out; /* its stdout (kept open until it is stopped) */
	int port;
};

/* openssl s_server on 127.0.0.1:0 (a free port), asking for a client certificate from the
 * client CA; the port is read from its "ACCEPT 127.0.0.1:PORT" line (deadline 20 s). */
static void server_start(struct server *sv)
{
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	char cert[2200], key[2200], ca[2200];
	snprintf(cert, sizeof cert, "%s/server.crt", pki);
	snprintf(key, sizeof key, "%s/server.key", pki);
	snprintf(ca, sizeof ca, "%s/client-ca.crt", pki);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(fds[1], 1);
		dup2(fds[1], 2);
		close(fds[0]);
		close(fds[1]);
		execlp("openssl", "openssl", "s_server", "-accept", "127.0.0.1:0", "-cert", cert, "-key",
		       key, "-CAfile", ca, "-Verify", "1", "-verify_return_error", "-tls1_3", "-www",
		       "-naccept", "10", (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	sv->pid = pid;
	server_pid = pid;
	sv->out = fds[0];
	sv->port = 0;
	char buf[4096];
	size_t len = 0;
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (sv->port == 0) {
		clock_gettime(CLOCK_MONOTONIC, &t);
		long left = 20000 - ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000);
		if (left <= 0)
			fail_msg("s_server did not print ACCEPT: %.*s", (int)len, buf);
		struct pollfd pf = {sv->out, POLLIN, 0};
		if (poll(&pf, 1, (int)left) <= 0)
			continue;
		ssize_t n = read(sv->out, buf + len, sizeof buf - 1 - len);
		if (n <= 0)
			fail_msg("s_server exited: %.*s", (int)len, buf);
		len += (size_t)n;
		buf[len] = '\0';
		const char *a = strstr(buf, "ACCEPT 127.0.0.1:");
		if (a && strchr(a, '\n'))
			sv->port = atoi(a + strlen("ACCEPT 127.0.0.1:"));
	}
}

static void server_stop(struct server *sv)
{
	if (sv->pid > 0) {
		kill(sv->pid, SIGTERM);
		waitpid(sv->pid, NULL, 0);
		sv->pid = 0;
		server_pid = 0;
	}
	close(sv->out);
}

struct body {
	char buf[16384];
	size_t len;
};

static size_t body_write(char *d, size_t sz, size_t n, void *u)
{
	struct body *b = u;
	size_t k = sz * n;
	size_t room = sizeof b->buf - 1 - b->len;
	memcpy(b->buf + b->len, d, k < room ? k : room);
	b->len += k < room ? k : room;
	b->buf[b->len] = '\0';
	return k;
}

static CURLcode tls_get(struct p11 *p, int port, struct body *b, long *status)
{
	char url[64], ca[2200];
	snprintf(url, sizeof url, "https://127.0.0.1:%d/", port);
	snprintf(ca, sizeof ca, "%s/ca.crt", pki);
	CURL *c = curl_easy_init();
	assert_non_null(c);
	b->len = 0;
	b->buf[0] = '\0';
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CAINFO, ca);
	curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_3);
	curl_easy_setopt(c, CURLOPT_SSL_CTX_FUNCTION, p11_curl_ssl_ctx);
	curl_easy_setopt(c, CURLOPT_SSL_CTX_DATA, p);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, body_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
	CURLcode rc = curl_easy_perform(c);
	*status = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	curl_easy_cleanup(c); /* before p11_close: the SSL_CTX holds the key */
	return rc;
}

/* The token key signs the TLS 1.3 CertificateVerify: through the engine the token is asked for
 * CKM_RSA_PKCS_PSS (seen through OpenSC's pkcs11-spy in front of SoftHSM), through libp11 alone
 * for raw RSA. An expired certificate is refused by the server. */
static void mutual_tls13(void **state)
{
	(void)state;
	const char *spy = "/usr/lib/x86_64-linux-gnu/pkcs11-spy.so";
	char spylog[1100];
	snprintf(spylog, sizeof spylog, "%s/spy.log", tmpdir);
	bool with_spy = is_file(spy);
	/* Kept loaded (RTLD_NODELETE) so its own leaks are attributed to it (suppressed above). */
	if (with_spy && !dlopen(spy, RTLD_LAZY | RTLD_NODELETE))
		with_spy = false;
	if (with_spy) {
		setenv("PKCS11SPY", softhsm, 1);
		setenv("PKCS11SPY_OUTPUT", spylog, 1);
	}
	struct server sv;
	server_start(&sv);
	struct p11_err e;
	struct p11 *p = p11_open(with_spy ? spy : softhsm, &e);
	assert_non_null(p);
	int i = find(p, "pkcs11:token=renkei-demo;id=%01");
	assert_int_equal(i, 0);
	assert_int_equal(p11_login(p, (size_t)i, "123456", 6, &e), 0);
	assert_string_equal(p11_key_source(p), "engine");

	struct body b;
	long status;
	CURLcode rc = tls_get(p, sv.port, &b, &status);
	if (rc != CURLE_OK)
		fail_msg("TLS with the token key: %s", curl_easy_strerror(rc));
	assert_int_equal(status, 200);
	assert_non_null(strstr(b.buf, "TLSv1.3"));

	/* the expired certificate (its key is fine): the server refuses it */
	assert_int_equal(p11_login(p, 1, NULL, 0, &e), 0);
	rc = tls_get(p, sv.port, &b, &status);
	assert_int_not_equal(rc, CURLE_OK);

	/* the libp11 key works too (SoftHSM does raw RSA; real cards may not) */
	p11_use_engine(p, false);
	assert_int_equal(p11_login(p, 0, NULL, 0, &e), 0);
	assert_string_equal(p11_key_source(p), "libp11");
	rc = tls_get(p, sv.port, &b, &status);
	if (rc != CURLE_OK)
		fail_msg("TLS with the libp11 key: %s", curl_easy_strerror(rc));
	assert_int_equal(status, 200);
	p11_close(p);
	server_stop(&sv);

	if (with_spy) {
		unsetenv("PKCS11SPY");
		unsetenv("PKCS11SPY_OUTPUT");
		char cmd[1300];
		snprintf(cmd, sizeof cmd, "grep -q 'pMechanism->type = CKM_RSA_PKCS_PSS ' '%s'", spylog);
		assert_int_equal(sh("%s", cmd), 0);
		snprintf(cmd, sizeof cmd, "grep -q 'pMechanism->type = CKM_RSA_X_509 ' '%s'", spylog);
		assert_int_equal(sh("%s", cmd), 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(list_two_tokens),
		cmocka_unit_test(uris),
		cmocka_unit_test(wrong_then_right_pin),
		cmocka_unit_test(second_token_libp11_key),
		cmocka_unit_test(load_errors),
		cmocka_unit_test(no_token_then_refresh),
		cmocka_unit_test(proxy_module),
		cmocka_unit_test(mutual_tls13),
		cmocka_unit_test(token_removed),
	};
	curl_global_init(CURL_GLOBAL_DEFAULT);
	int rc = cmocka_run_group_tests(tests, group_setup, group_teardown);
	curl_global_cleanup();
	return rc;
}
