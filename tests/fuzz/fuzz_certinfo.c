/* fuzz_certinfo.c: libFuzzer target for the display strings of a certificate read from a smart card
 * (certinfo_from_x509; the DER comes from outside: libp11 hands over the card's bytes as an X509
 * parsed by d2i_X509, src/p11.c). Whatever comes: no crash, no leak; when accepted, every string is
 * there, NUL-terminated, valid UTF-8 without control characters (C0, DEL, C1), the serial and
 * fingerprint have their documented form and the dates agree with the times.
 * Seeds: tests/fuzz/corpus/certinfo/ (the test PKI's certificates as DER, Japanese subjects).
 * Run:   build/fuzz/fuzz_certinfo -max_total_time=60 build/fuzz/corpus/fuzz_certinfo
 *        tests/fuzz/corpus/certinfo   (or: make fuzz) */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

#include "certinfo.h"

/* Well-formed UTF-8 (no overlong forms, no surrogates, at most U+10FFFF) without C0, DEL or C1. */
static int clean_utf8(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	while (*p) {
		unsigned c = *p, n, cp;
		if (c < 0x20 || c == 0x7f)
			return 0;
		if (c < 0x80) {
			p++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			n = 1, cp = c & 0x1f;
		else if (c >= 0xe0 && c <= 0xef)
			n = 2, cp = c & 0x0f;
		else if (c >= 0xf0 && c <= 0xf4)
			n = 3, cp = c & 0x07;
		else
			return 0;
		for (unsigned i = 1; i <= n; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (p[i] & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff) || (cp >= 0x80 && cp <= 0x9f))
			return 0;
		p += n + 1;
	}
	return 1;
}

/* "AB:CD:.." (sep ':') or "ABCD.." (sep 0), upper-case hex pairs, "-" first when negative. */
static int hex_form(const char *s, char sep)
{
	if (*s == '-')
		s++;
	for (size_t i = 0;; i++) {
		const char *h = "0123456789ABCDEF";
		if (!s[0] || !s[1] || !strchr(h, s[0]) || !strchr(h, s[1]))
			return 0;
		s += 2;
		if (!*s)
			return 1;
		if (sep) {
			if (*s != sep)
				return 0;
			s++;
		}
	}
}

static int same_without_colons(const char *with, const char *without)
{
	for (; *with; with++) {
		if (*with == ':')
			continue;
		if (*with != *without++)
			return 0;
	}
	return *without == '\0';
}

/* "" or "YYYY-MM-DD" (never a date for an unreadable time). */
static void check_date(time_t t, const char *date)
{
	if (!date[0])
		return;
	if (t == (time_t)-1 || strlen(date) != 10)
		abort();
	for (int i = 0; i < 10; i++)
		if ((i == 4 || i == 7) ? date[i] != '-' : (date[i] < '0' || date[i] > '9'))
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const unsigned char *p = data;
	X509 *x = d2i_X509(NULL, &p, (long)size);
	struct certinfo ci;

	if (!x)
		return 0;
	if (certinfo_from_x509(x, &ci) != 0) {
		/* refused: nothing left behind */
		if (ci.subject || ci.issuer || ci.name || ci.issuer_name || ci.serial || ci.serial_plain ||
		    ci.sha256 || ci.not_before != (time_t)-1 || ci.not_after != (time_t)-1 ||
		    ci.not_before_date[0] || ci.not_after_date[0])
			abort();
		certinfo_free(&ci);
		X509_free(x);
		return 0;
	}
	const char *const strs[] = {ci.subject, ci.issuer,       ci.name,  ci.issuer_name,
	                            ci.serial,  ci.serial_plain, ci.sha256};
	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
		if (!strs[i] || !clean_utf8(strs[i]))
			abort();
	if (strlen(ci.sha256) != 95 || !hex_form(ci.sha256, ':'))
		abort();
	if (!hex_form(ci.serial, ':') || !hex_form(ci.serial_plain, 0) ||
	    !same_without_colons(ci.serial, ci.serial_plain))
		abort();
	check_date(ci.not_before, ci.not_before_date);
	check_date(ci.not_after, ci.not_after_date);

	/* validity: the same answer as the times say */
	const time_t probes[] = {0, (time_t)1577836800, ci.not_before, ci.not_after};
	for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		time_t now = probes[i];
		enum cert_validity v = certinfo_validity(&ci, now), want;
		if (ci.not_before == (time_t)-1 || ci.not_after == (time_t)-1)
			want = CERT_VALIDITY_UNKNOWN;
		else if (now < ci.not_before)
			want = CERT_NOT_YET_VALID;
		else if (now > ci.not_after)
			want = CERT_EXPIRED;
		else
			want = CERT_VALID;
		if (v != want || !certinfo_validity_key(v)[0])
			abort();
	}
	certinfo_free(&ci);
	if (ci.subject || ci.sha256)
		abort();
	X509_free(x);
	return 0;
}
