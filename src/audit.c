/* audit.c: the audit trail (see include/audit.h): JSON Lines appended and fsync'ed, or syslog
 * messages (RFC 3164 framing) to the local syslog socket. */
#include "audit.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "i18n.h"

struct audit {
	int fd;             /* file, or the datagram socket */
	bool syslog;
	int pri;            /* facility * 8 + LOG_NOTICE */
	struct sockaddr_un addr;
	char terminal[256];
	bool unmasked;
};

static const struct {
	const char *name;
	int code;
} facilities[] = {
	{"auth", 4}, {"authpriv", 10}, {"user", 1}, {"local0", 16}, {"local1", 17}, {"local2", 18},
	{"local3", 19}, {"local4", 20}, {"local5", 21}, {"local6", 22}, {"local7", 23},
};

static int open_syslog(struct audit *au, const struct audit_opts *o, char *err, size_t errlen)
{
	const char *fac = o->facility && *o->facility ? o->facility : "authpriv";
	int code = -1;
	for (size_t i = 0; i < sizeof facilities / sizeof facilities[0]; i++)
		if (!strcmp(facilities[i].name, fac))
			code = facilities[i].code;
	if (code < 0) {
		snprintf(err, errlen, _("監査記録の syslog ファシリティが正しくありません: %s（auth, authpriv, user, local0〜local7）"), fac);
		return -1;
	}
	au->pri = code * 8 + 5; /* LOG_NOTICE */
	const char *path = o->socket && *o->socket ? o->socket : "/dev/log";
	au->addr.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof au->addr.sun_path) {
		snprintf(err, errlen, _("監査記録の syslog ソケットのパスが長すぎます: %s"), path);
		return -1;
	}
	memcpy(au->addr.sun_path, path, strlen(path) + 1);
	au->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (au->fd < 0 || connect(au->fd, (struct sockaddr *)&au->addr, sizeof au->addr) < 0) {
		snprintf(err, errlen, _("監査記録を syslog（%s）に送れません: %s"), path, strerror(errno));
		return -1;
	}
	au->syslog = true;
	return 0;
}

struct audit *audit_open(const struct audit_opts *o, char *err, size_t errlen)
{
	struct audit *au = calloc(1, sizeof *au);
	if (!au) {
		snprintf(err, errlen, "%s", strerror(ENOMEM));
		return NULL;
	}
	au->fd = -1;
	au->unmasked = o->unmasked;
	if (o->terminal && *o->terminal)
		snprintf(au->terminal, sizeof au->terminal, "%s", o->terminal);
	else if (gethostname(au->terminal, sizeof au->terminal - 1) != 0)
		snprintf(au->terminal, sizeof au->terminal, "unknown");
	int rc;
	if (!strcmp(o->target, "syslog")) {
		rc = open_syslog(au, o, err, errlen);
	} else {
		au->fd = open(o->target, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
		struct stat st;
		rc = au->fd >= 0 && fstat(au->fd, &st) == 0 && S_ISREG(st.st_mode) ? 0 : -1;
		if (rc < 0)
			snprintf(err, errlen, _("監査記録ファイルに書き込めません: %s: %s"), o->target,
				 au->fd >= 0 ? _("通常のファイルではありません") : strerror(errno));
		else if (fsync(au->fd) != 0) { /* a file that cannot be written stops us now, not later */
			snprintf(err, errlen, _("監査記録ファイルに書き込めません: %s: %s"), o->target, strerror(errno));
			rc = -1;
		}
	}
	if (rc < 0) {
		audit_close(au);
		return NULL;
	}
	return au;
}

void audit_close(struct audit *au)
{
	if (!au)
		return;
	if (au->fd >= 0)
		close(au->fd);
	free(au);
}

void audit_mask(const char *number, char *out, size_t n)
{
	size_t l = number ? strlen(number) : 0, k = 0;
	for (size_t i = 0; i < l && k + 1 < n; i++)
		out[k++] = i + 2 < l ? '*' : number[i];
	if (n)
		out[k < n ? k : n - 1] = '\0';
}

void audit_session_id(const char *token, char out[33])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	out[0] = '\0';
	if (!token || !*token || !EVP_Digest(token, strlen(token), md, &mdlen, EVP_sha256(), NULL))
		return;
	for (unsigned i = 0; i < 16 && i < mdlen; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* RFC 3339 with the local offset: 2026-12-03T15:04:05+09:00 */
static void rfc3339(char *buf, size_t n)
{
	time_t t = time(NULL);
	struct tm tm;
	localtime_r(&t, &tm);
	char z[8];
	strftime(buf, n, "%Y-%m-%dT%H:%M:%S", &tm);
	strftime(z, sizeof z, "%z", &tm); /* +0900 */
	size_t l = strlen(buf);
	if (strlen(z) == 5)
		snprintf(buf + l, n - l, "%.3s:%.2s", z, z + 3);
}

static void add_str(cJSON *o, const char *k, const char *v)
{
	if (v)
		cJSON_AddStringToObject(o, k, v);
}

static char *record_json(const struct audit *au, const struct audit_record *r)
{
	cJSON *o = cJSON_CreateObject();
	if (!o)
		return NULL;
	char when[40];
	rfc3339(when, sizeof when);
	add_str(o, "time", when);
	add_str(o, "terminal", au->terminal);
	add_str(o, "event", r->event ? r->event : "consent");
	add_str(o, "partner", r->partner);
	add_str(o, "partner_name", r->partner_name);
	add_str(o, "customer", r->customer);
	add_str(o, "method", r->method);
	cJSON *sc = cJSON_AddArrayToObject(o, "scopes");
	for (size_t i = 0; sc && i < r->n_scopes; i++)
		cJSON_AddItemToArray(sc, cJSON_CreateString(r->scopes[i]));
	cJSON *ac = cJSON_AddArrayToObject(o, "accounts");
	for (size_t i = 0; ac && i < r->n_accounts; i++) {
		char m[128];
		if (au->unmasked)
			snprintf(m, sizeof m, "%s", r->accounts[i]);
		else
			audit_mask(r->accounts[i], m, sizeof m);
		cJSON_AddItemToArray(ac, cJSON_CreateString(m));
	}
	add_str(o, "result", r->result);
	add_str(o, "reason", r->reason);
	if (r->unconfirmed)
		cJSON_AddBoolToObject(o, "confirmed", 0);
	add_str(o, "session", r->session && *r->session ? r->session : NULL);
	char *s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return s;
}

int audit_write(struct audit *au, const struct audit_record *r)
{
	if (!au)
		return 0;
	char *s = record_json(au, r);
	if (!s)
		return -1;
	int rc = 0;
	if (au->syslog) {
		size_t n = strlen(s) + 64;
		char *m = malloc(n);
		/* <pri>renkei[pid]: {...}  (the local socket adds the time and the host) */
		int l = m ? snprintf(m, n, "<%d>renkei[%ld]: %s", au->pri, (long)getpid(), s) : -1;
		rc = l > 0 && send(au->fd, m, (size_t)l, 0) == l ? 0 : -1;
		free(m);
	} else {
		size_t l = strlen(s);
		s[l] = '\n'; /* one write: a record is one line, whole, even with other writers */
		ssize_t w = write(au->fd, s, l + 1);
		s[l] = '\0';
		rc = w == (ssize_t)(l + 1) && fsync(au->fd) == 0 ? 0 : -1;
	}
	cJSON_free(s);
	return rc;
}
