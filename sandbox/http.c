/* http.c: the sandbox's HTTPS server: libmicrohttpd + GnuTLS, client-certificate verification,
 * request parsing and limits, routing to the modules, responses and the one-line request log. */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <microhttpd.h>

#include "deadline.h"
#include "fault.h"
#include "http.h"
#include "sandbox.h"
#include "util.h"

#define BODY_MAX (64 * 1024)
#define DISCARD_MAX (1024 * 1024) /* a bigger body is not even read before the 413 */
/* TLS 1.3, and TLS 1.2 with ECDHE and an AEAD cipher only (forward secrecy, no CBC, no SHA-1 MAC):
 * FAPI's ECDHE suites and their ECDSA and ChaCha20 kin. --tls-priority replaces it. */
#define TLS_PRIORITIES                                                                                   \
	"NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA:-CIPHER-ALL:"     \
	"+AES-256-GCM:+AES-128-GCM:+CHACHA20-POLY1305:-MAC-ALL:+AEAD"
#define FILE_MAX (1024 * 1024)
#define DRAIN_SECONDS 5

/* --- responses --------------------------------------------------------------------------- */

static const struct {
	const char *type;
	const char *title;
} problem_titles[] = {
	{"bad-request", "Bad request"},
	{"unsupported-media-type", "Unsupported media type"},
	{"payload-too-large", "Request body too large"},
	{"method-not-allowed", "Method not allowed"},
	{"not-found", "Not found"},
	{"rate-limited", "Too many requests"},
	{"user-code-unknown", "Unknown user code"},
	{"user-code-expired", "User code expired"},
	{"user-code-used", "User code already used"},
	{"user-code-busy", "Another consent session is live for this user code"},
	{"session-unknown", "Unknown session"},
	{"session-expired", "Session expired"},
	{"wrong-step", "Request not valid in the current step"},
	{"method-unavailable", "Login method not offered"},
	{"wrong-credentials", "Wrong login ID or password"},
	{"login-locked", "Login locked"},
	{"certificate-required", "Client certificate required"},
	{"certificate-unknown", "Certificate belongs to no customer"},
	{"certificate-mismatch", "Session bound to another certificate"},
	{"wrong-answer", "Wrong answer"},
	{"scope-required", "No scope chosen"},
	{"scope-unknown", "Scope not requested"},
	{"pin-required", "No account submitted"},
	{"pin-wrong", "Wrong inquiry PIN"},
	{"pin-format", "Malformed inquiry PIN"},
	{"intent-required", "Intent confirmation required"},
	{"token-invalid", "Invalid access token"},
	{"scope-insufficient", "Insufficient scope"},
	{"internal", "Internal server error"},
	{"replay-diverged", "Not the recorded request"},
};

static void resp_set_body(struct http_resp *resp, int status, const char *ctype, char *body)
{
	free(resp->body);
	resp->status = status;
	resp->content_type = ctype;
	resp->body = body;
	resp->body_len = body ? strlen(body) : 0;
}

static void resp_internal(struct http_resp *resp)
{
	static const char fallback[] = "{\"type\":\"urn:renkei:problem:internal\",\"title\":\"Internal "
				       "server error\",\"status\":500}";
	resp_set_body(resp, 500, "application/problem+json", strdup(fallback));
}

void http_json(struct http_resp *resp, int status, cJSON *j)
{
	char *body = j ? cJSON_PrintUnformatted(j) : NULL;

	cJSON_Delete(j);
	if (!body) {
		resp_internal(resp);
		return;
	}
	resp_set_body(resp, status, "application/json", body);
}

void http_problem(struct http_resp *resp, int status, const char *type, const char *detail, cJSON *ext)
{
	const char *title = "Error";
	char urn[128];
	cJSON *p = cJSON_CreateObject();

	for (size_t i = 0; i < sizeof(problem_titles) / sizeof(problem_titles[0]); i++)
		if (strcmp(problem_titles[i].type, type) == 0)
			title = problem_titles[i].title;
	snprintf(urn, sizeof(urn), "urn:renkei:problem:%s", type);
	if (!p) {
		cJSON_Delete(ext);
		resp_internal(resp);
		return;
	}
	cJSON_AddStringToObject(p, "type", urn);
	cJSON_AddStringToObject(p, "title", title);
	cJSON_AddNumberToObject(p, "status", status);
	if (detail)
		cJSON_AddStringToObject(p, "detail", detail);
	if (ext) {
		cJSON *m;
		/* Extension members never replace type, title, status or detail. */
		while ((m = ext->child) != NULL) {
			cJSON_DetachItemViaPointer(ext, m);
			if (!m->string || cJSON_GetObjectItemCaseSensitive(p, m->string) ||
			    strcmp(m->string, "detail") == 0)
				cJSON_Delete(m);
			else
				cJSON_AddItemToObject(p, m->string, m);
		}
		cJSON_Delete(ext);
	}
	char *body = cJSON_PrintUnformatted(p);
	cJSON_Delete(p);
	if (!body) {
		resp_internal(resp);
		return;
	}
	resp_set_body(resp, status, "application/problem+json", body);
}

void http_header(struct http_resp *resp, const char *name, const char *value)
{
	size_t n = sizeof(resp->headers) / sizeof(resp->headers[0]);

	for (size_t i = 0; i < n; i++) {
		if (!resp->headers[i]) {
			size_t len = strlen(name) + strlen(value) + 3;
			resp->headers[i] = malloc(len);
			if (resp->headers[i])
				snprintf(resp->headers[i], len, "%s: %s", name, value);
			return;
		}
	}
}

void http_resp_free(struct http_resp *resp)
{
	free(resp->body);
	resp->body = NULL;
	for (size_t i = 0; i < sizeof(resp->headers) / sizeof(resp->headers[0]); i++) {
		free(resp->headers[i]);
		resp->headers[i] = NULL;
	}
}

bool http_set_routes(struct sandbox *sb, const struct http_route *routes, size_t n, char *err, size_t errlen)
{
	if (!routes || n == 0) {
		snprintf(err, errlen, "no module registered with the router");
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		if (!routes[i].handle) {
			snprintf(err, errlen, "module %s has no handler", routes[i].name ? routes[i].name : "?");
			return false;
		}
	}
	sb->routes = routes;
	sb->nroutes = n;
	return true;
}

void http_dispatch(struct sandbox *sb, const struct http_req *req, struct http_resp *resp)
{
	bool claimed = false;

	db_lock(&sb->db);
	for (size_t i = 0; i < sb->nroutes && !claimed; i++)
		claimed = sb->routes[i].handle(sb, req, resp);
	if (!claimed) {
		http_resp_free(resp);
		http_problem(resp, 404, "not-found", "No such resource.", NULL);
	} else if (resp->status < 100 || resp->status > 599) {
		http_resp_free(resp);
		resp_internal(resp);
	}
	/* A handler that forgot its transaction must not leave it open for the next request. */
	if (sb->db.h && !sqlite3_get_autocommit(sb->db.h))
		db_rollback(&sb->db);
	db_unlock(&sb->db);
}

/* --- TLS material ------------------------------------------------------------------------- */

struct http_server {
	struct sandbox *sb;
	struct MHD_Daemon *d;
	char *cert, *key, *ca; /* PEM, NUL-terminated */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int in_flight;
	unsigned conn_timeout; /* seconds, MHD_OPTION_CONNECTION_TIMEOUT */
	bool started; /* MHD's own log lines are shown only while starting */
	struct fault_set faults; /* under mu */
	char *priorities;        /* GnuTLS priority string (MHD_OPTION_HTTPS_PRIORITIES) */
	struct http_limits limits;
	struct deadline *dl;     /* the request deadline's watchdog, while serving */
};

/* Whole file, NUL-terminated; NULL with err set. */
static char *read_file(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	size_t n;

	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	buf = malloc(FILE_MAX + 1);
	if (!buf) {
		fclose(f);
		snprintf(err, errlen, "%s: out of memory", path);
		return NULL;
	}
	n = fread(buf, 1, FILE_MAX + 1, f);
	if (ferror(f) || n > FILE_MAX || n == 0) {
		snprintf(err, errlen, "%s: %s", path,
			 ferror(f) ? strerror(errno) : n == 0 ? "empty file" : "file too large");
		fclose(f);
		explicit_bzero(buf, FILE_MAX + 1);
		free(buf);
		return NULL;
	}
	fclose(f);
	buf[n] = '\0';
	return buf;
}

static void free_secret_text(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

/* What is wrong with a PEM private key (key: true) or certificate file GnuTLS refused, in words; NULL when
 * GnuTLS's own text says it best. */
static const char *pem_problem(int rc, bool key)
{
	switch (rc) {
	case GNUTLS_E_DECRYPTION_FAILED:
		return key ? "encrypted with a password; the sandbox needs an unencrypted private key" : NULL;
	case GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE:
	case GNUTLS_E_NO_CERTIFICATE_FOUND:
		return key ? "no PEM private key in the file (no -----BEGIN ... PRIVATE KEY----- line)"
		           : "no PEM certificate in the file (no -----BEGIN CERTIFICATE----- line)";
	case GNUTLS_E_BASE64_DECODING_ERROR:
	case GNUTLS_E_BASE64_UNEXPECTED_HEADER_ERROR:
	case GNUTLS_E_ASN1_DER_ERROR:
	case GNUTLS_E_ASN1_TAG_ERROR:
	case GNUTLS_E_ASN1_DER_OVERFLOW:
	case GNUTLS_E_ASN1_GENERIC_ERROR:
	case GNUTLS_E_ASN1_VALUE_NOT_VALID:
	case GNUTLS_E_ASN1_ELEMENT_NOT_FOUND:
		return key ? "damaged or truncated PEM private key" : "damaged or truncated PEM certificate";
	default:
		return NULL;
	}
}

static void pem_error(char *err, size_t errlen, const char *dir, const char *file, int rc, bool key)
{
	const char *why = pem_problem(rc, key);

	if (why)
		snprintf(err, errlen, "%s/%s: %s (GnuTLS: %s)", dir, file, why, gnutls_strerror(rc));
	else
		snprintf(err, errlen, "%s/%s: cannot load the %s: %s", dir, file,
		         key ? "private key" : "certificate", gnutls_strerror(rc));
}

/* A server certificate outside its validity period still starts the sandbox (a trainer may want to
 * show what a client does), with a warning naming the date. */
static void warn_validity(gnutls_x509_crt_t crt, const char *dir)
{
	time_t now = time(NULL), from = gnutls_x509_crt_get_activation_time(crt),
	       until = gnutls_x509_crt_get_expiration_time(crt);
	char when[32];
	struct tm tm;

	if (from != (time_t)-1 && now < from) {
		gmtime_r(&from, &tm);
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
		fprintf(stderr, "renkei-sandbox: warning: %s/server.crt is not valid before %s: clients will refuse "
				"it until then\n", dir, when);
	} else if (until != (time_t)-1 && now >= until) {
		gmtime_r(&until, &tm);
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
		fprintf(stderr, "renkei-sandbox: warning: %s/server.crt expired on %s: clients will refuse it\n",
			dir, when);
	}
}

/* Check what MHD will load, file by file, so that a bad directory gets a clear message before
 * listening. Any unencrypted PEM key GnuTLS reads is accepted: PKCS#8 ("PRIVATE KEY"), PKCS#1
 * ("RSA PRIVATE KEY"), SEC 1 ("EC PRIVATE KEY"), with or without certtool's text before it. */
static int check_tls(struct http_server *srv, const char *dir, char *err, size_t errlen)
{
	gnutls_certificate_credentials_t cred;
	gnutls_x509_privkey_t pk;
	gnutls_x509_crt_t *crts = NULL;
	unsigned ncrts = 0;
	gnutls_datum_t c = {(unsigned char *)srv->cert, (unsigned)strlen(srv->cert)};
	gnutls_datum_t k = {(unsigned char *)srv->key, (unsigned)strlen(srv->key)};
	int rc;

	if (gnutls_x509_privkey_init(&pk) < 0) {
		snprintf(err, errlen, "GnuTLS: out of memory");
		return -1;
	}
	rc = gnutls_x509_privkey_import2(pk, &k, GNUTLS_X509_FMT_PEM, NULL, 0);
	gnutls_x509_privkey_deinit(pk); /* wipes the key */
	if (rc < 0) {
		pem_error(err, errlen, dir, "server.key", rc, true);
		return -1;
	}
	rc = gnutls_x509_crt_list_import2(&crts, &ncrts, &c, GNUTLS_X509_FMT_PEM, 0);
	if (rc >= 0 && ncrts > 0)
		warn_validity(crts[0], dir);
	for (unsigned i = 0; i < ncrts; i++)
		gnutls_x509_crt_deinit(crts[i]);
	gnutls_free(crts);
	if (rc < 0) {
		pem_error(err, errlen, dir, "server.crt", rc, false);
		return -1;
	}
	if (gnutls_certificate_allocate_credentials(&cred) < 0) {
		snprintf(err, errlen, "GnuTLS: cannot allocate credentials");
		return -1;
	}
	rc = gnutls_certificate_set_x509_key_mem2(cred, &c, &k, GNUTLS_X509_FMT_PEM, NULL, 0);
	if (rc < 0) {
		snprintf(err, errlen, "%s/server.crt, %s/server.key: %s", dir, dir, gnutls_strerror(rc));
		gnutls_certificate_free_credentials(cred);
		return -1;
	}
	if (srv->ca) {
		gnutls_datum_t a = {(unsigned char *)srv->ca, (unsigned)strlen(srv->ca)};
		rc = gnutls_certificate_set_x509_trust_mem(cred, &a, GNUTLS_X509_FMT_PEM);
		if (rc <= 0) {
			pem_error(err, errlen, dir, "client-ca.crt",
			          rc == 0 ? GNUTLS_E_NO_CERTIFICATE_FOUND : rc, false);
			gnutls_certificate_free_credentials(cred);
			return -1;
		}
	}
	gnutls_certificate_free_credentials(cred);
	return 0;
}

struct http_server *http_server_new(struct sandbox *sb, const char *tls_dir, char *err, size_t errlen)
{
	struct http_server *srv = calloc(1, sizeof(*srv));
	char path[4096];
	struct stat st;

	if (!srv) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	srv->sb = sb;
	srv->conn_timeout = 30;
	srv->limits = (struct http_limits){HTTP_PER_ADDRESS_LIMIT, HTTP_CONNECTION_LIMIT, HTTP_REQUEST_TIMEOUT};
	if (!(srv->priorities = strdup(TLS_PRIORITIES))) {
		snprintf(err, errlen, "out of memory");
		free(srv);
		return NULL;
	}
	pthread_mutex_init(&srv->mu, NULL);
	pthread_cond_init(&srv->cv, NULL);
	if (stat(tls_dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		const char *why = stat(tls_dir, &st) != 0 ? strerror(errno) : "not a directory";
		snprintf(err, errlen, "TLS directory %s: %s (make one with: sh scripts/mkcerts.sh %s)",
			 tls_dir, why, tls_dir);
		goto fail;
	}
	snprintf(path, sizeof(path), "%s/server.crt", tls_dir);
	if (!(srv->cert = read_file(path, err, errlen)))
		goto fail;
	snprintf(path, sizeof(path), "%s/server.key", tls_dir);
	if (!(srv->key = read_file(path, err, errlen)))
		goto fail;
	snprintf(path, sizeof(path), "%s/client-ca.crt", tls_dir);
	if (access(path, F_OK) == 0 && !(srv->ca = read_file(path, err, errlen)))
		goto fail;
	if (check_tls(srv, tls_dir, err, errlen) != 0)
		goto fail;
	sb->client_certs = srv->ca != NULL;
	return srv;
fail:
	http_server_free(srv);
	return NULL;
}

void http_server_free(struct http_server *srv)
{
	if (!srv)
		return;
	if (srv->d)
		http_server_stop(srv);
	free(srv->cert);
	free_secret_text(srv->key);
	free(srv->ca);
	free(srv->priorities);
	pthread_mutex_destroy(&srv->mu);
	pthread_cond_destroy(&srv->cv);
	free(srv);
}

/* --- client certificate ------------------------------------------------------------------- */

struct certinfo {
	char sha256[65];
	char *subject; /* gnutls-allocated */
	char serial[129];
	bool valid;
	bool invalid;
};

bool http_cert_fields(const unsigned char *der, size_t len, char sha256[65], char **subject, char serial[129])
{
	gnutls_datum_t d = {(unsigned char *)der, (unsigned)len}, dn = {NULL, 0};
	gnutls_x509_crt_t crt = NULL;
	unsigned char md[32], sn[64];
	size_t sn_len = sizeof(sn);

	*subject = NULL;
	if (len == 0 || len > 0xffffffffu || gnutls_x509_crt_init(&crt) < 0)
		return false;
	if (gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_DER) < 0 ||
	    gnutls_hash_fast(GNUTLS_DIG_SHA256, der, len, md) < 0 || gnutls_x509_crt_get_dn3(crt, &dn, 0) < 0 ||
	    gnutls_x509_crt_get_serial(crt, sn, &sn_len) < 0 || sn_len == 0) {
		gnutls_free(dn.data);
		gnutls_x509_crt_deinit(crt);
		return false;
	}
	gnutls_x509_crt_deinit(crt);
	sb_hex(md, sizeof(md), sha256);
	size_t i = 0;
	char hex[2 * sizeof(sn) + 1];
	while (i + 1 < sn_len && sn[i] == 0)
		i++;
	sb_hex(sn + i, sn_len - i, hex);
	snprintf(serial, 129, "%s", hex[0] == '0' && hex[1] ? hex + 1 : hex);
	*subject = (char *)dn.data;
	return true;
}

static void client_cert(struct MHD_Connection *con, struct certinfo *ci)
{
	const union MHD_ConnectionInfo *info =
		MHD_get_connection_info(con, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	gnutls_session_t s;
	const gnutls_datum_t *peers;
	unsigned npeers = 0, status = 0;
	gnutls_typed_vdata_st purpose = {GNUTLS_DT_KEY_PURPOSE_OID, (unsigned char *)GNUTLS_KP_TLS_WWW_CLIENT,
					 0};

	if (!info || !info->tls_session)
		return;
	s = (gnutls_session_t)info->tls_session;
	peers = gnutls_certificate_get_peers(s, &npeers);
	if (!peers || npeers == 0)
		return;
	ci->invalid = true; /* until everything below succeeded */
	if (gnutls_certificate_type_get(s) != GNUTLS_CRT_X509 ||
	    gnutls_certificate_verify_peers(s, &purpose, 1, &status) < 0 || status != 0)
		return;
	if (!http_cert_fields(peers[0].data, peers[0].size, ci->sha256, &ci->subject, ci->serial))
		return;
	ci->valid = true;
	ci->invalid = false;
}

/* --- requests ------------------------------------------------------------------------------ */

struct reqctx {
	struct timespec t0;
	char *log_path; /* raw path, no query: for the log only */
	char *query;
	char method[16];
	char *body;
	size_t len;
	bool started;
	bool too_large;
	int status;
	char fault[FAULT_STEP_MAX + 16]; /* "pins:reset" when a fault was injected: for the log */
};

static void ctx_free(struct reqctx *c)
{
	if (!c)
		return;
	free(c->log_path);
	free_secret_text(c->query);
	if (c->body) {
		explicit_bzero(c->body, c->len);
		free(c->body);
	}
	free(c);
}

static void *uri_log(void *cls, const char *uri, struct MHD_Connection *con)
{
	struct http_server *srv = cls;
	struct reqctx *c = calloc(1, sizeof(*c));
	(void)con;

	if (!c)
		return NULL;
	clock_gettime(CLOCK_MONOTONIC, &c->t0);
	const char *q = strchr(uri, '?');
	size_t n = q ? (size_t)(q - uri) : strlen(uri);
	c->log_path = strndup(uri, n > 512 ? 512 : n);
	if (q)
		c->query = strdup(q + 1);
	pthread_mutex_lock(&srv->mu);
	srv->in_flight++;
	pthread_mutex_unlock(&srv->mu);
	return c;
}

static void log_request(const struct reqctx *c)
{
	struct timespec t1, now;
	struct tm tm;
	char when[32], path[520];
	size_t o = 0;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	for (const char *p = c->log_path ? c->log_path : "-"; *p && o + 1 < sizeof(path); p++)
		path[o++] = (*p > ' ' && *p < 0x7f) ? *p : '?';
	path[o] = '\0';
	long ms = (long)((t1.tv_sec - c->t0.tv_sec) * 1000 + (t1.tv_nsec - c->t0.tv_nsec) / 1000000);
	char status[8];
	if (c->status)
		snprintf(status, sizeof(status), "%d", c->status);
	else
		snprintf(status, sizeof(status), "-");
	fprintf(stderr, "%s.%03ldZ %s %s %s %ldms%s%s\n", when, (long)(now.tv_nsec / 1000000),
		c->method[0] ? c->method : "-", path, status, ms, c->fault[0] ? " fault=" : "", c->fault);
}

/* The deadline entry of a connection (on_connection made it), or NULL. */
static struct deadline_conn *conn_deadline(struct MHD_Connection *con)
{
	const union MHD_ConnectionInfo *i = MHD_get_connection_info(con, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return i ? i->socket_context : NULL;
}

/* Each connection is listed for the request deadline from its accept to its close. */
static void on_connection(void *cls, struct MHD_Connection *con, void **socket_context,
			  enum MHD_ConnectionNotificationCode code)
{
	struct http_server *srv = cls;

	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *fi = MHD_get_connection_info(con, MHD_CONNECTION_INFO_CONNECTION_FD);
		*socket_context = fi ? deadline_add(srv->dl, fi->connect_fd) : NULL;
	} else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
		deadline_remove(srv->dl, *socket_context);
		*socket_context = NULL;
	}
}

static void completed(void *cls, struct MHD_Connection *con, void **con_cls,
		      enum MHD_RequestTerminationCode toe)
{
	struct http_server *srv = cls;
	struct reqctx *c = *con_cls;
	(void)con;
	(void)toe;

	deadline_busy(srv->dl, conn_deadline(con), false);
	if (!c)
		return;
	log_request(c);
	ctx_free(c);
	*con_cls = NULL;
	pthread_mutex_lock(&srv->mu);
	srv->in_flight--;
	pthread_cond_broadcast(&srv->cv);
	pthread_mutex_unlock(&srv->mu);
}

/* --- injected faults (fault.h) ---------------------------------------------------------- */

/* A body given out by MHD's reader: up to limit bytes of len (truncate: Content-Length says len, the
 * connection closes at limit), one byte per ms_per_byte milliseconds when set (slow). */
struct body_reader {
	char *body;
	size_t len, limit;
	unsigned ms_per_byte;
};

static ssize_t read_body_part(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct body_reader *b = cls;
	size_t n;

	if (pos >= b->limit)
		return pos >= b->len ? MHD_CONTENT_READER_END_OF_STREAM : MHD_CONTENT_READER_END_WITH_ERROR;
	n = b->limit - (size_t)pos;
	if (b->ms_per_byte) {
		struct timespec ts = {(time_t)(b->ms_per_byte / 1000), (long)(b->ms_per_byte % 1000) * 1000000L};
		nanosleep(&ts, NULL);
		n = 1;
	}
	if (n > max)
		n = max;
	memcpy(buf, b->body + pos, n);
	return (ssize_t)n;
}

static void free_body_reader(void *cls)
{
	struct body_reader *b = cls;

	free(b->body);
	free(b);
}

/* status:CODE: what a failing server or a proxy in front of it answers; the request is not processed.
 * 502 and 503 come as HTML (a proxy's page), the others as the problem §5 gives that status. */
static void fault_status(struct http_resp *resp, unsigned code)
{
	static const struct {
		unsigned status;
		const char *type;
	} by_status[] = {
		{400, "bad-request"}, {401, "session-unknown"}, {404, "not-found"}, {405, "method-not-allowed"},
		{409, "wrong-step"}, {413, "payload-too-large"}, {415, "unsupported-media-type"},
		{429, "rate-limited"},
	};
	const char *type = code >= 500 ? "internal" : "bad-request";
	char page[256];

	if (code == 502 || code == 503) {
		const char *what = code == 502 ? "502 Bad Gateway" : "503 Service Temporarily Unavailable";
		snprintf(page, sizeof(page), "<html>\r\n<head><title>%s</title></head>\r\n<body>\r\n<center><h1>%s"
			 "</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n", what, what);
		resp_set_body(resp, (int)code, "text/html", strdup(page));
		return;
	}
	for (size_t i = 0; i < sizeof(by_status) / sizeof(by_status[0]); i++)
		if (by_status[i].status == code)
			type = by_status[i].type;
	cJSON *ext = NULL;
	if (code == 429 && (ext = cJSON_CreateObject()) != NULL)
		cJSON_AddNumberToObject(ext, "retry_after", 1);
	http_problem(resp, (int)code, type, "Injected by --fault.", ext);
	if (code == 429)
		http_header(resp, "Retry-After", "1");
}

/* garbage and shape: the answer's body replaced, its status and Content-Type kept. */
static void fault_body(struct http_resp *resp, enum fault_kind kind)
{
	static const char garbage[] = "\xef\xbb\xbf<\x01\xfe}{ \"not json ]] \xff\xc0\x80 <html>";
	static const char shape[] = "{\"step\":42,\"data\":[\"wrong\",\"shape\"],\"access_token\":false,"
				    "\"type\":7,\"status\":\"200\",\"error\":[]}";
	const char *text = kind == FAULT_GARBAGE ? garbage : shape;
	char *b = strdup(text);

	if (!b)
		return;
	free(resp->body);
	resp->body = b;
	resp->body_len = strlen(b);
	if (!resp->content_type)
		resp->content_type = "application/json";
}

static struct MHD_Response *fault_response(struct http_resp *r, const struct fault *ft)
{
	struct body_reader *b = calloc(1, sizeof(*b));
	struct MHD_Response *mr;

	if (!b)
		return NULL;
	b->body = r->body;
	b->len = r->body_len;
	b->limit = ft->kind == FAULT_TRUNCATE ? r->body_len / 2 : r->body_len;
	b->ms_per_byte = ft->kind == FAULT_SLOW ? ft->arg : 0;
	mr = MHD_create_response_from_callback(b->len, 1024, read_body_part, b, free_body_reader);
	if (!mr) {
		free(b);
		return NULL;
	}
	r->body = NULL; /* the reader frees it */
	return mr;
}

/* --- responses on the wire ----------------------------------------------------------------- */

/* Queue r (consumed). ft: the fault this answer carries (truncate, slow), or NULL. */
static enum MHD_Result send_resp(struct MHD_Connection *con, struct reqctx *c, struct http_resp *r,
				 const struct fault *ft)
{
	struct MHD_Response *mr;
	enum MHD_Result ret;

	if (ft && r->body && r->body_len && (ft->kind == FAULT_TRUNCATE || ft->kind == FAULT_SLOW)) {
		mr = fault_response(r, ft);
	} else if (r->body && r->body_len) {
		mr = MHD_create_response_from_buffer(r->body_len, r->body, MHD_RESPMEM_MUST_FREE);
		if (mr)
			r->body = NULL; /* MHD frees it */
	} else {
		mr = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
	}
	if (!mr) {
		http_resp_free(r);
		return MHD_NO;
	}
	if (r->body_len && r->content_type)
		MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_TYPE, r->content_type);
	else if (r->body_len)
		MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	MHD_add_response_header(mr, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	for (size_t i = 0; i < sizeof(r->headers) / sizeof(r->headers[0]); i++) {
		char *h = r->headers[i];
		char *colon = h ? strchr(h, ':') : NULL;
		if (!colon)
			continue;
		*colon = '\0';
		const char *v = colon + 1;
		while (*v == ' ')
			v++;
		MHD_add_response_header(mr, h, v);
	}
	if (c)
		c->status = r->status;
	ret = MHD_queue_response(con, (unsigned)r->status, mr);
	MHD_destroy_response(mr);
	http_resp_free(r);
	return ret;
}

static void peer_address(struct MHD_Connection *con, char *out, size_t outlen)
{
	const union MHD_ConnectionInfo *info = MHD_get_connection_info(con, MHD_CONNECTION_INFO_CLIENT_ADDRESS);

	snprintf(out, outlen, "-");
	if (!info || !info->client_addr)
		return;
	socklen_t len = info->client_addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
								  : sizeof(struct sockaddr_in);
	if (getnameinfo(info->client_addr, len, out, (socklen_t)outlen, NULL, 0, NI_NUMERICHOST) != 0)
		snprintf(out, outlen, "-");
}

/* Run the request through the router and queue its answer, with the fault it meets (if any): latency
 * and status before it is processed, the others after (so a reset loses an answer whose work is done). */
static enum MHD_Result answer(struct http_server *srv, struct MHD_Connection *con, struct reqctx *c,
			      const struct http_req *req, struct http_resp *resp, struct certinfo *ci)
{
	struct fault ft;
	bool faulted;

	pthread_mutex_lock(&srv->mu);
	faulted = fault_take(&srv->faults, req->method, req->path, &ft);
	pthread_mutex_unlock(&srv->mu);
	if (faulted) {
		snprintf(c->fault, sizeof(c->fault), "%s:%s", ft.step, fault_kind_name(ft.kind));
		if (ft.kind == FAULT_LATENCY) {
			struct timespec ts = {(time_t)(ft.arg / 1000), (long)(ft.arg % 1000) * 1000000L};
			nanosleep(&ts, NULL);
		}
	}
	if (faulted && ft.kind == FAULT_STATUS)
		fault_status(resp, ft.arg);
	else
		http_dispatch(srv->sb, req, resp);
	gnutls_free(ci->subject);
	ci->subject = NULL;
	if (faulted && ft.kind == FAULT_RESET) {
		http_resp_free(resp);
		return MHD_NO; /* MHD closes the connection: no answer at all */
	}
	if (faulted && (ft.kind == FAULT_GARBAGE || ft.kind == FAULT_SHAPE))
		fault_body(resp, ft.kind);
	return send_resp(con, c, resp, faulted ? &ft : NULL);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *con, const char *url, const char *method,
				  const char *version, const char *upload_data, size_t *upload_data_size,
				  void **con_cls)
{
	struct http_server *srv = cls;
	struct reqctx *c = *con_cls;
	struct http_resp resp;
	(void)version;

	memset(&resp, 0, sizeof(resp));
	if (!c)
		return MHD_NO; /* out of memory in uri_log */
	if (!c->started) {
		c->started = true;
		snprintf(c->method, sizeof(c->method), "%s", method);
		for (char *m = c->method; *m; m++)
			if (*m <= ' ' || *m >= 0x7f)
				*m = '?';
		const char *cl = MHD_lookup_connection_value(con, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl) {
			char *end;
			errno = 0;
			unsigned long long n = strtoull(cl, &end, 10);
			const char *expect = MHD_lookup_connection_value(con, MHD_HEADER_KIND, MHD_HTTP_HEADER_EXPECT);
			if (errno == ERANGE || n > DISCARD_MAX || (n > BODY_MAX && expect)) {
				/* Answer before reading the body (a client waiting for "100 Continue" sends
				 * nothing more); MHD then drops the rest and closes the connection. */
				deadline_busy(srv->dl, conn_deadline(con), true);
				http_problem(&resp, 413, "payload-too-large", "The body is larger than 64 KiB.", NULL);
				return send_resp(con, c, &resp, NULL);
			}
			/* Otherwise the body is read and thrown away, so that the client, still sending,
			 * sees the answer instead of a reset connection. */
		}
		return MHD_YES;
	}
	if (*upload_data_size) {
		if (!c->too_large) {
			if (c->len + *upload_data_size > BODY_MAX) {
				c->too_large = true;
				explicit_bzero(c->body, c->len);
				free(c->body);
				c->body = NULL;
				c->len = 0;
			} else {
				char *nb = realloc(c->body, c->len + *upload_data_size + 1);
				if (!nb)
					return MHD_NO;
				c->body = nb;
				memcpy(c->body + c->len, upload_data, *upload_data_size);
				c->len += *upload_data_size;
				c->body[c->len] = '\0';
			}
		}
		*upload_data_size = 0;
		return MHD_YES;
	}

	/* The whole request is in: its deadline is met. */
	deadline_busy(srv->dl, conn_deadline(con), true);
	if (c->too_large) {
		http_problem(&resp, 413, "payload-too-large", "The body is larger than 64 KiB.", NULL);
		return send_resp(con, c, &resp, NULL);
	}
	struct http_req req;
	struct certinfo ci;
	char peer[64];
	memset(&req, 0, sizeof(req));
	memset(&ci, 0, sizeof(ci));
	peer_address(con, peer, sizeof(peer));
	if (srv->ca)
		client_cert(con, &ci);
	req.method = strcmp(method, "HEAD") == 0 ? "GET" : method;
	req.path = url;
	req.query = c->query;
	req.content_type = MHD_lookup_connection_value(con, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
	req.authorization = MHD_lookup_connection_value(con, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	req.host = MHD_lookup_connection_value(con, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
	req.body = c->len ? c->body : NULL;
	req.body_len = c->len;
	req.peer_addr = peer;
	if (ci.valid) {
		req.client_cert_sha256 = ci.sha256;
		req.client_cert_subject = ci.subject;
		req.client_cert_serial = ci.serial;
	}
	req.client_cert_present_but_invalid = ci.invalid;
	return answer(srv, con, c, &req, &resp, &ci);
}

/* MHD's own messages: shown while starting (bind errors), silent afterwards (one line per request). */
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct http_server *srv = cls;

	if (srv->started)
		return;
	fputs("renkei-sandbox: ", stderr);
	vfprintf(stderr, fmt, ap);
}

/* --- start / stop ------------------------------------------------------------------------- */

static int parse_listen(const char *listen, char *host, size_t hostlen, char *port, size_t portlen)
{
	const char *colon;
	size_t n;

	if (listen[0] == '[') {
		const char *end = strchr(listen, ']');
		if (!end || end[1] != ':')
			return -1;
		n = (size_t)(end - listen - 1);
		if (n == 0 || n >= hostlen)
			return -1;
		memcpy(host, listen + 1, n);
		host[n] = '\0';
		colon = end + 1;
	} else {
		colon = strrchr(listen, ':');
		if (!colon)
			return -1;
		n = (size_t)(colon - listen);
		if (n == 0 || n >= hostlen || memchr(listen, ':', n))
			return -1;
		memcpy(host, listen, n);
		host[n] = '\0';
	}
	const char *p = colon + 1;
	if (!*p || strlen(p) >= portlen)
		return -1;
	for (const char *q = p; *q; q++)
		if (*q < '0' || *q > '9')
			return -1;
	if (strtol(p, NULL, 10) > 65535)
		return -1;
	snprintf(port, portlen, "%s", p);
	return 0;
}

bool http_listen_syntax_ok(const char *listen)
{
	char host[200], port[8];

	return listen && parse_listen(listen, host, sizeof(host), port, sizeof(port)) == 0;
}

void http_server_set_connection_timeout(struct http_server *srv, unsigned seconds)
{
	srv->conn_timeout = seconds;
}

void http_server_set_limits(struct http_server *srv, const struct http_limits *l)
{
	srv->limits = *l;
}

bool http_tls_priority_ok(const char *prio, char *err, size_t errlen)
{
	gnutls_priority_t p;
	const char *at = NULL;
	int rc = gnutls_priority_init(&p, prio, &at);

	if (rc < 0) {
		if (at && rc == GNUTLS_E_INVALID_REQUEST)
			snprintf(err, errlen, "--tls-priority %s: GnuTLS cannot use it from \"%.40s\"", prio, at);
		else
			snprintf(err, errlen, "--tls-priority %s: %s", prio, gnutls_strerror(rc));
		return false;
	}
	gnutls_priority_deinit(p);
	return true;
}

int http_server_set_tls_priority(struct http_server *srv, const char *prio, char *err, size_t errlen)
{
	char *copy;

	if (!http_tls_priority_ok(prio, err, errlen))
		return -1;
	if (!(copy = strdup(prio))) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	free(srv->priorities);
	srv->priorities = copy;
	return 0;
}

bool http_server_add_fault(struct http_server *srv, const struct fault *f)
{
	bool ok;

	pthread_mutex_lock(&srv->mu);
	ok = fault_add(&srv->faults, f);
	pthread_mutex_unlock(&srv->mu);
	return ok;
}

int http_server_start(struct http_server *srv, const char *listen, char *err, size_t errlen)
{
	char host[200], port[8];
	struct addrinfo hints, *ai = NULL;
	int rc;
	/* poll(), not epoll: MHD_quiesce_daemon (at SIGTERM) races with MHD's own epoll loop over who
	 * removes the listening socket from the epoll set, and the loser aborts the process ("Failed to
	 * remove listen FD from epoll set", an open libmicrohttpd defect, seen here under load). */
	unsigned flags = MHD_USE_TLS | MHD_USE_POLL_INTERNAL_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG;

	if (parse_listen(listen, host, sizeof(host), port, sizeof(port)) != 0) {
		snprintf(err, errlen, "--listen %s: expected ADDR:PORT (e.g. 127.0.0.1:8443, [::1]:0)", listen);
		return -1;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	rc = getaddrinfo(host, port, &hints, &ai);
	if (rc != 0 || !ai) {
		snprintf(err, errlen, "--listen %s: %s", listen, gai_strerror(rc));
		if (ai)
			freeaddrinfo(ai);
		return -1;
	}
	if (ai->ai_family == AF_INET6)
		flags |= MHD_USE_IPv6;

	if (!(srv->dl = deadline_new(srv->limits.request_timeout)) || deadline_start(srv->dl) != 0) {
		freeaddrinfo(ai);
		deadline_free(srv->dl);
		srv->dl = NULL;
		snprintf(err, errlen, "cannot start the request deadline's thread");
		return -1;
	}
	/* No request may see an empty issuer: hold the request lock until it is set. */
	db_lock(&srv->sb->db);
	srv->d = MHD_start_daemon(
		flags, 0, NULL, NULL, on_request, srv, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, srv,
		MHD_OPTION_SOCK_ADDR, ai->ai_addr, MHD_OPTION_THREAD_POOL_SIZE, (unsigned)4,
		MHD_OPTION_CONNECTION_TIMEOUT, srv->conn_timeout, MHD_OPTION_CONNECTION_LIMIT, srv->limits.total,
		MHD_OPTION_PER_IP_CONNECTION_LIMIT, srv->limits.per_address, MHD_OPTION_NOTIFY_CONNECTION, on_connection,
		srv,
		MHD_OPTION_HTTPS_MEM_KEY, srv->key, MHD_OPTION_HTTPS_MEM_CERT, srv->cert,
		MHD_OPTION_HTTPS_PRIORITIES, srv->priorities, MHD_OPTION_URI_LOG_CALLBACK, uri_log, srv,
		MHD_OPTION_NOTIFY_COMPLETED, completed, srv,
		srv->ca ? MHD_OPTION_HTTPS_MEM_TRUST : MHD_OPTION_END, srv->ca, MHD_OPTION_END);
	freeaddrinfo(ai);
	if (!srv->d) {
		db_unlock(&srv->sb->db);
		deadline_free(srv->dl);
		srv->dl = NULL;
		snprintf(err, errlen, "cannot listen on %s", listen);
		return -1;
	}
	srv->started = true;
	const union MHD_DaemonInfo *di = MHD_get_daemon_info(srv->d, MHD_DAEMON_INFO_BIND_PORT);
	unsigned real_port = di ? di->port : 0;
	if (strchr(host, ':'))
		snprintf(srv->sb->issuer, sizeof(srv->sb->issuer), "https://[%s]:%u", host, real_port);
	else
		snprintf(srv->sb->issuer, sizeof(srv->sb->issuer), "https://%s:%u", host, real_port);
	db_unlock(&srv->sb->db);
	return 0;
}

void http_server_stop(struct http_server *srv)
{
	struct timespec deadline;

	if (!srv || !srv->d)
		return;
	/* MHD no longer accepts on the listening socket. Shut it down so new connections are refused,
	 * but close it only after MHD_stop_daemon: MHD's thread may still have it in its poll set
	 * until it has seen the quiesce, and the descriptor number must not be reused before that. */
	MHD_socket ls = MHD_quiesce_daemon(srv->d);
	if (ls != MHD_INVALID_SOCKET)
		shutdown(ls, SHUT_RDWR);
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += DRAIN_SECONDS;
	pthread_mutex_lock(&srv->mu);
	while (srv->in_flight > 0)
		if (pthread_cond_timedwait(&srv->cv, &srv->mu, &deadline) == ETIMEDOUT)
			break;
	pthread_mutex_unlock(&srv->mu);
	MHD_stop_daemon(srv->d);
	srv->d = NULL;
	if (ls != MHD_INVALID_SOCKET)
		close(ls);
	unsigned long late = deadline_expired_count(srv->dl);
	if (late)
		fprintf(stderr, "renkei-sandbox: %lu connection%s closed for bringing no whole request within %u s\n",
			late, late == 1 ? "" : "s", srv->limits.request_timeout);
	deadline_free(srv->dl);
	srv->dl = NULL;
}
