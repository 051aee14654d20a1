/* certinfo.c: display strings of an X.509 certificate (see include/certinfo.h). */
#include "certinfo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

/* Replace C0 controls, DEL and C1 controls (U+0080..U+009F as UTF-8 C2 80..C2 9F) by '?'. */
static void sanitize(char *s)
{
	unsigned char *p = (unsigned char *)s;
	size_t n = strlen(s);
	for (size_t i = 0; i < n; i++) {
		if (p[i] < 0x20 || p[i] == 0x7f) {
			p[i] = '?';
		} else if (p[i] == 0xc2 && i + 1 < n && p[i + 1] >= 0x80 && p[i + 1] <= 0x9f) {
			p[i] = '?';
			memmove(p + i + 1, p + i + 2, n - i - 1); /* with the NUL */
			n--;
		}
	}
}

char *certinfo_name_rfc2253(const X509_NAME *name)
{
	if (!name)
		return NULL;
	BIO *b = BIO_new(BIO_s_mem());
	if (!b)
		return NULL;
	char *out = NULL;
	/* RFC 2253 (most specific RDN first), UTF-8 kept as is rather than \XX-escaped. */
	if (X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0) {
		char *data;
		long len = BIO_get_mem_data(b, &data);
		if (len >= 0 && (out = malloc((size_t)len + 1)) != NULL) {
			memcpy(out, data, (size_t)len);
			out[len] = '\0';
			if (strlen(out) != (size_t)len) { /* embedded NUL: never show a truncated name */
				free(out);
				out = NULL;
			} else {
				sanitize(out);
			}
		}
	}
	BIO_free(b);
	return out;
}

char *certinfo_name_cn(const X509_NAME *name)
{
	if (!name)
		return NULL;
	int idx = -1, last = -1;
	while ((idx = X509_NAME_get_index_by_NID(name, NID_commonName, idx)) >= 0)
		last = idx;
	if (last < 0)
		return NULL;
	const X509_NAME_ENTRY *e = X509_NAME_get_entry(name, last);
	const ASN1_STRING *d = e ? X509_NAME_ENTRY_get_data(e) : NULL;
	if (!d)
		return NULL;
	unsigned char *u = NULL;
	int n = ASN1_STRING_to_UTF8(&u, d);
	if (n < 0)
		return NULL;
	char *out = NULL;
	if ((size_t)n == strlen((char *)u) && (out = malloc((size_t)n + 1)) != NULL) {
		memcpy(out, u, (size_t)n + 1);
		sanitize(out);
	}
	OPENSSL_free(u);
	return out;
}

static char *hex_bytes(const unsigned char *p, size_t n, char sep, int neg)
{
	static const char hx[] = "0123456789ABCDEF";
	size_t cap = 1 + (neg ? 1 : 0) + (n ? n * 3 : 2);
	char *out = malloc(cap);
	if (!out)
		return NULL;
	char *w = out;
	if (neg)
		*w++ = '-';
	if (n == 0) {
		*w++ = '0';
		*w++ = '0';
	}
	for (size_t i = 0; i < n; i++) {
		if (i && sep)
			*w++ = sep;
		*w++ = hx[p[i] >> 4];
		*w++ = hx[p[i] & 15];
	}
	*w = '\0';
	return out;
}

char *certinfo_serial_hex(const ASN1_INTEGER *serial, char sep)
{
	if (!serial)
		return NULL;
	BIGNUM *bn = ASN1_INTEGER_to_BN(serial, NULL);
	if (!bn)
		return NULL;
	int n = BN_num_bytes(bn);
	unsigned char *buf = malloc(n > 0 ? (size_t)n : 1);
	char *out = NULL;
	if (buf) {
		BN_bn2bin(bn, buf);
		out = hex_bytes(buf, (size_t)n, sep, BN_is_negative(bn));
		free(buf);
	}
	BN_free(bn);
	return out;
}

int certinfo_time(const ASN1_TIME *t, time_t *out)
{
	struct tm tm;
	if (!t || !ASN1_TIME_to_tm(t, &tm))
		return -1;
	time_t v = timegm(&tm);
	if (v == (time_t)-1)
		return -1;
	*out = v;
	return 0;
}

void certinfo_date_local(time_t t, char buf[11])
{
	struct tm tm;
	buf[0] = '\0';
	if (t == (time_t)-1 || !localtime_r(&t, &tm))
		return;
	/* Not strftime's %Y: it does not pad years 0-999 ("921-01-14"). A certificate's year is
	 * 0000-9999; a zone offset can still move it out of that range: no date then. */
	if (tm.tm_year < -1900 || tm.tm_year > 9999 - 1900)
		return;
	snprintf(buf, 11, "%04u-%02u-%02u", (unsigned)(tm.tm_year + 1900) % 10000u,
	         (unsigned)(tm.tm_mon + 1) % 100u, (unsigned)tm.tm_mday % 100u);
}

void certinfo_free(struct certinfo *ci)
{
	if (!ci)
		return;
	free(ci->subject);
	free(ci->issuer);
	free(ci->name);
	free(ci->issuer_name);
	free(ci->serial);
	free(ci->serial_plain);
	free(ci->sha256);
	memset(ci, 0, sizeof(*ci));
	ci->not_before = ci->not_after = (time_t)-1;
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

int certinfo_from_x509(X509 *x, struct certinfo *ci)
{
	memset(ci, 0, sizeof(*ci));
	ci->not_before = ci->not_after = (time_t)-1;
	if (!x)
		return -1;
	const X509_NAME *subj = X509_get_subject_name(x);
	const X509_NAME *iss = X509_get_issuer_name(x);
	ci->subject = certinfo_name_rfc2253(subj);
	ci->issuer = certinfo_name_rfc2253(iss);
	ci->name = certinfo_name_cn(subj);
	if (!ci->name)
		ci->name = dup_or_null(ci->subject);
	ci->issuer_name = certinfo_name_cn(iss);
	if (!ci->issuer_name)
		ci->issuer_name = dup_or_null(ci->issuer);
	ci->serial = certinfo_serial_hex(X509_get0_serialNumber(x), ':');
	ci->serial_plain = certinfo_serial_hex(X509_get0_serialNumber(x), 0);

	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	if (X509_digest(x, EVP_sha256(), md, &mdlen))
		ci->sha256 = hex_bytes(md, mdlen, ':', 0);

	if (certinfo_time(X509_get0_notBefore(x), &ci->not_before) != 0)
		ci->not_before = (time_t)-1;
	if (certinfo_time(X509_get0_notAfter(x), &ci->not_after) != 0)
		ci->not_after = (time_t)-1;
	certinfo_date_local(ci->not_before, ci->not_before_date);
	certinfo_date_local(ci->not_after, ci->not_after_date);

	if (!ci->subject || !ci->issuer || !ci->name || !ci->issuer_name || !ci->serial ||
	    !ci->serial_plain || !ci->sha256) {
		certinfo_free(ci);
		return -1;
	}
	return 0;
}

enum cert_validity certinfo_validity(const struct certinfo *ci, time_t now)
{
	if (!ci || ci->not_before == (time_t)-1 || ci->not_after == (time_t)-1)
		return CERT_VALIDITY_UNKNOWN;
	if (now < ci->not_before)
		return CERT_NOT_YET_VALID;
	if (now > ci->not_after)
		return CERT_EXPIRED;
	return CERT_VALID;
}

const char *certinfo_validity_key(enum cert_validity v)
{
	switch (v) {
	case CERT_VALID:
		return "valid";
	case CERT_EXPIRED:
		return "expired";
	case CERT_NOT_YET_VALID:
		return "not-yet-valid";
	case CERT_VALIDITY_UNKNOWN:
		break;
	}
	return "unknown";
}
