/* certinfo.h: what an X.509 certificate shows a person (subject/issuer in UTF-8, CN, serial, dates,
 * validity now), as plain strings; pure OpenSSL, no PKCS#11, no UI. Used by the certificate chooser. */
#ifndef RENKEI_CERTINFO_H
#define RENKEI_CERTINFO_H
#include <stddef.h>
#include <time.h>

#include <openssl/x509.h>

enum cert_validity {
	CERT_VALID = 0,
	CERT_EXPIRED,       /* now > notAfter */
	CERT_NOT_YET_VALID, /* now < notBefore */
	CERT_VALIDITY_UNKNOWN /* a date could not be read */
};

/* Everything heap-allocated, NUL-terminated UTF-8; free with certinfo_free. Control characters
 * (C0, DEL, C1) never appear in these strings: RFC 2253 escapes them, other fields get '?'. */
struct certinfo {
	char *subject;      /* RFC 2253, multibyte kept: "CN=鈴木花子,O=Renkei Demo Bank,C=JP" */
	char *issuer;       /* same form */
	char *name;         /* display name: subject CN, else the subject string */
	char *issuer_name;  /* issuer CN, else the issuer string */
	char *serial;       /* upper-case hex bytes with colons: "10:03" ("-" prefix when negative) */
	char *serial_plain; /* same without colons: "1003" */
	char *sha256;       /* fingerprint of the DER, "AB:CD:..." (95 chars) */
	time_t not_before;  /* (time_t)-1 when unreadable */
	time_t not_after;
	char not_before_date[11]; /* YYYY-MM-DD, local time ("" when unreadable) */
	char not_after_date[11];
};

/* Fill ci from x. 0, or -1 (out of memory / unreadable name; ci is then zeroed). */
int certinfo_from_x509(X509 *x, struct certinfo *ci);
void certinfo_free(struct certinfo *ci);

/* Validity against a given time (pass time(NULL) for now). */
enum cert_validity certinfo_validity(const struct certinfo *ci, time_t now);
/* "valid", "expired", "not-yet-valid", "unknown": stable keys for traces and tests (not shown). */
const char *certinfo_validity_key(enum cert_validity v);

/* The pieces, for other callers. Each returns a malloc'ed string or NULL (free with free()). */
char *certinfo_name_rfc2253(const X509_NAME *name);
/* Last CN of the name, UTF-8, control characters replaced by '?'; NULL when there is none. */
char *certinfo_name_cn(const X509_NAME *name);
/* Hex of an ASN.1 integer: sep ':' -> "10:03", sep 0 -> "1003". */
char *certinfo_serial_hex(const ASN1_INTEGER *serial, char sep);
/* ASN1_TIME -> time_t (UTC); 0 or -1. */
int certinfo_time(const ASN1_TIME *t, time_t *out);
/* time_t -> "YYYY-MM-DD" in local time into buf[11]; "" on failure. */
void certinfo_date_local(time_t t, char buf[11]);

#endif
