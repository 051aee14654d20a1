/* test_certinfo.c: X.509 display strings: Japanese names, serials, dates in local time, validity. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "certinfo.h"

/* scripts/mkcerts.sh's suzuki03-expired.crt: CN=鈴木花子, serial 0x1004, 2020-01-01..2021-01-01,
 * issued by "O=renkei, CN=renkei test client CA". */
static const char expired_pem[] =
"-----BEGIN CERTIFICATE-----\n"
"MIIDYTCCAkmgAwIBAgICEAQwDQYJKoZIhvcNAQELBQAwMTEPMA0GA1UECgwGcmVu\n"
"a2VpMR4wHAYDVQQDDBVyZW5rZWkgdGVzdCBjbGllbnQgQ0EwHhcNMjAwMTAxMDAw\n"
"MDAwWhcNMjEwMTAxMDAwMDAwWjA/MQswCQYDVQQGEwJKUDEZMBcGA1UECgwQUmVu\n"
"a2VpIERlbW8gQmFuazEVMBMGA1UEAwwM6Yi05pyo6Iqx5a2QMIIBIjANBgkqhkiG\n"
"9w0BAQEFAAOCAQ8AMIIBCgKCAQEAmwLNJO4CaZjuS7M0kfm/odH6HCYIJnvdfmY6\n"
"QFwbJGyKv8v4kzi0v+eTtWao6Wcj0SvBHtq71AxYmZY8NjMcCb/6XdIi/fpH184O\n"
"525RLtBm9fmKtzmETZl+UJJwq1PUASvQmah683QL5b59ZkKKIV7K6szY1B2Gjy9y\n"
"MYqANIGe6pRsy5mD1AuA2L4KpN4l1MmDjhPH9+/BuZw1TdSIcWWRcrXx6MxhgRXY\n"
"2oeyjNDDCHoa6KnTRrYxqKCArloXXYWKyXLMLTNaxExgd+4O0bNrHySI7eu7tWNd\n"
"B43nblDVPu/O104FfLCTH+m1tg6kWuke6gQETgO0EjpxVJFrQwIDAQABo3UwczAM\n"
"BgNVHRMBAf8EAjAAMA4GA1UdDwEB/wQEAwIFoDATBgNVHSUEDDAKBggrBgEFBQcD\n"
"AjAdBgNVHQ4EFgQUHzOqgIgS9NIz6QcwGiw/tHsa3NMwHwYDVR0jBBgwFoAUAvSg\n"
"Mijyv+Fde9pdG0JOAB5M91EwDQYJKoZIhvcNAQELBQADggEBAB+5+Nwd+RFO2Wvg\n"
"CpwktPeKe0R+9zL2vqWa97pwUYnQu2qFsV70sc0Rr+uHdMVJXSG1G8ldvQjz1P+L\n"
"waT1WvhPEXIgynawaztpl/EZdMLSPnprcNqAhyQiRqRM1J1THjtHtgWuiRJk/yFE\n"
"ahVqfuyztbiCpm4bOp0k7U3zWX0dQWNHx3hgsihXHo7onUtr2WR8jnNaCW7zMrul\n"
"71tqePxF4V5AZQc9BKzDzB5XGE6MOu2P5JDQF11ZSrQzzFKq7kThoyg6APF29WXJ\n"
"kNWgaCqAdTmU4h01fxXXFTeGHZLQX+4FZetO2uFBUQkU98JiiDR5qySRlb55F4ii\n"
"VegXpr4=\n"
"-----END CERTIFICATE-----\n"
	;

#define T_2020 ((time_t)1577836800) /* 2020-01-01T00:00:00Z */
#define T_2021 ((time_t)1609459200) /* 2021-01-01T00:00:00Z */

static EVP_PKEY *test_key(void)
{
	static EVP_PKEY *k;
	if (!k)
		k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	assert_non_null(k);
	return k;
}

/* A certificate signed by its own key, issuer name = issuer_cn (or subject when NULL). */
static X509 *make_cert(const char *cn, const char *issuer_cn, const unsigned char *serial,
		       size_t serial_len, const char *nb, const char *na)
{
	X509 *x = X509_new();
	assert_non_null(x);
	X509_set_version(x, 2);
	BIGNUM *bn = BN_bin2bn(serial, (int)serial_len, NULL);
	assert_non_null(bn);
	assert_non_null(BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)));
	BN_free(bn);
	X509_NAME *n = X509_NAME_new();
	X509_NAME_add_entry_by_txt(n, "C", MBSTRING_UTF8, (const unsigned char *)"JP", -1, -1, 0);
	X509_NAME_add_entry_by_txt(n, "O", MBSTRING_UTF8, (const unsigned char *)"Renkei Demo Bank", -1,
				   -1, 0);
	if (cn)
		assert_int_equal(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
							    (const unsigned char *)cn, -1, -1, 0),
				 1);
	X509_set_subject_name(x, n);
	X509_NAME_free(n);
	X509_NAME *in = X509_NAME_new();
	X509_NAME_add_entry_by_txt(in, "O", MBSTRING_UTF8, (const unsigned char *)"renkei", -1, -1, 0);
	X509_NAME_add_entry_by_txt(in, "CN", MBSTRING_UTF8,
				   (const unsigned char *)(issuer_cn ? issuer_cn : "self"), -1, -1, 0);
	X509_set_issuer_name(x, in);
	X509_NAME_free(in);
	assert_int_equal(ASN1_TIME_set_string(X509_getm_notBefore(x), nb), 1);
	assert_int_equal(ASN1_TIME_set_string(X509_getm_notAfter(x), na), 1);
	X509_set_pubkey(x, test_key());
	assert_true(X509_sign(x, test_key(), EVP_sha256()) > 0);
	return x;
}

static int setup_tz(void **state)
{
	(void)state;
	setenv("TZ", "JST-9", 1); /* Japan, no tzdata needed */
	tzset();
	return 0;
}

static void japanese_subject(void **state)
{
	(void)state;
	static const unsigned char ser[] = {0x10, 0x03};
	X509 *x = make_cert("鈴木花子", "renkei test client CA", ser, sizeof ser, "20250101000000Z",
			    "20350101000000Z");
	struct certinfo ci;
	assert_int_equal(certinfo_from_x509(x, &ci), 0);
	assert_string_equal(ci.subject, "CN=鈴木花子,O=Renkei Demo Bank,C=JP");
	assert_string_equal(ci.name, "鈴木花子");
	assert_string_equal(ci.issuer, "CN=renkei test client CA,O=renkei");
	assert_string_equal(ci.issuer_name, "renkei test client CA");
	assert_string_equal(ci.serial, "10:03");
	assert_string_equal(ci.serial_plain, "1003");
	assert_int_equal(strlen(ci.sha256), 95);
	assert_int_equal(certinfo_validity(&ci, (time_t)1800000000), CERT_VALID);
	assert_string_equal(certinfo_validity_key(CERT_VALID), "valid");
	certinfo_free(&ci);
	assert_null(ci.subject);
	X509_free(x);
}

static void expired_embedded_pem(void **state)
{
	(void)state;
	BIO *b = BIO_new_mem_buf(expired_pem, -1);
	X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	BIO_free(b);
	assert_non_null(x);
	struct certinfo ci;
	assert_int_equal(certinfo_from_x509(x, &ci), 0);
	assert_string_equal(ci.subject, "CN=鈴木花子,O=Renkei Demo Bank,C=JP");
	assert_string_equal(ci.name, "鈴木花子");
	assert_string_equal(ci.issuer_name, "renkei test client CA");
	assert_string_equal(ci.serial, "10:04");
	assert_string_equal(ci.serial_plain, "1004");
	assert_string_equal(ci.sha256, "26:D6:DF:93:BD:B6:24:FA:E1:8F:82:52:F7:D9:58:D9:"
				       "E9:BB:6D:C6:D6:C3:D6:3F:92:98:68:41:2E:0C:CD:F7");
	assert_true(ci.not_before == T_2020);
	assert_true(ci.not_after == T_2021);
	assert_string_equal(ci.not_before_date, "2020-01-01");
	assert_string_equal(ci.not_after_date, "2021-01-01");
	assert_int_equal(certinfo_validity(&ci, time(NULL)), CERT_EXPIRED);
	assert_int_equal(certinfo_validity(&ci, T_2021), CERT_VALID);      /* inclusive */
	assert_int_equal(certinfo_validity(&ci, T_2021 + 1), CERT_EXPIRED);
	assert_int_equal(certinfo_validity(&ci, T_2020), CERT_VALID);
	assert_int_equal(certinfo_validity(&ci, T_2020 - 1), CERT_NOT_YET_VALID);
	assert_string_equal(certinfo_validity_key(CERT_EXPIRED), "expired");
	assert_string_equal(certinfo_validity_key(CERT_NOT_YET_VALID), "not-yet-valid");
	certinfo_free(&ci);
	X509_free(x);
}

/* Dates are shown in local time: 2020-12-31T20:00Z is already 2021-01-01 in Japan. */
static void dates_local_time(void **state)
{
	(void)state;
	static const unsigned char ser[] = {0x0f};
	X509 *x = make_cert("名無し太郎", NULL, ser, sizeof ser, "20301231200000Z", "20401231140000Z");
	struct certinfo ci;
	assert_int_equal(certinfo_from_x509(x, &ci), 0);
	assert_string_equal(ci.not_before_date, "2031-01-01");
	assert_string_equal(ci.not_after_date, "2040-12-31");
	assert_string_equal(ci.serial, "0F");
	assert_string_equal(ci.serial_plain, "0F");
	assert_int_equal(certinfo_validity(&ci, time(NULL)), CERT_NOT_YET_VALID);
	certinfo_free(&ci);
	X509_free(x);

	char buf[11];
	certinfo_date_local((time_t)-1, buf);
	assert_string_equal(buf, "");
	certinfo_date_local(T_2020 - 1, buf); /* 2019-12-31T23:59:59Z = 08:59:59 in Japan */
	assert_string_equal(buf, "2020-01-01");
}

/* Years before 1000 (GeneralizedTime allows 0000-9999) still give YYYY-MM-DD (found by
 * tests/fuzz/fuzz_certinfo.c: strftime's %Y gave "921-01-14"); beyond 9999 in local time: no date. */
static void dates_four_digit_years(void **state)
{
	(void)state;
	static const unsigned char ser[] = {0x10};
	X509 *x = make_cert("山田太郎", NULL, ser, sizeof ser, "00050101000000Z", "09210114000000Z");
	struct certinfo ci;
	assert_int_equal(certinfo_from_x509(x, &ci), 0);
	assert_string_equal(ci.not_before_date, "0005-01-01");
	assert_string_equal(ci.not_after_date, "0921-01-14");
	assert_int_equal(certinfo_validity(&ci, time(NULL)), CERT_EXPIRED);
	certinfo_free(&ci);
	X509_free(x);

	x = make_cert("山田太郎", NULL, ser, sizeof ser, "99991231100000Z", "99991231200000Z");
	assert_int_equal(certinfo_from_x509(x, &ci), 0);
	assert_string_equal(ci.not_before_date, "9999-12-31"); /* 19:00 in Japan */
	assert_string_equal(ci.not_after_date, "");            /* 10000-01-01 05:00 in Japan */
	assert_true(ci.not_after != (time_t)-1);
	certinfo_free(&ci);
	X509_free(x);
}

static void long_serial_and_no_cn(void **state)
{
	(void)state;
	unsigned char ser[20];
	for (size_t i = 0; i < sizeof ser; i++)
		ser[i] = (unsigned char)(0x70 + i);
	X509 *x = make_cert(NULL, NULL, ser, sizeof ser, "20200101000000Z", "20210101000000Z");
	struct certinfo ci;
	assert_int_equal(certinfo_from_x509(x, &ci), 0);
	assert_string_equal(ci.serial, "70:71:72:73:74:75:76:77:78:79:7A:7B:7C:7D:7E:7F:80:81:82:83");
	assert_string_equal(ci.serial_plain, "707172737475767778797A7B7C7D7E7F80818283");
	assert_string_equal(ci.subject, "O=Renkei Demo Bank,C=JP");
	assert_string_equal(ci.name, "O=Renkei Demo Bank,C=JP"); /* no CN: the whole subject */
	assert_null(certinfo_name_cn(X509_get_subject_name(x)));
	certinfo_free(&ci);
	X509_free(x);
}

/* A CN with terminal control characters must not reach the screen as such. */
static void control_characters(void **state)
{
	(void)state;
	static const unsigned char ser[] = {1};
	X509 *x = make_cert("evil\x1b[2J\xc2\x9bname", NULL, ser, sizeof ser, "20200101000000Z",
			    "20210101000000Z");
	struct certinfo ci;
	assert_int_equal(certinfo_from_x509(x, &ci), 0);
	assert_string_equal(ci.name, "evil?[2J?name");
	assert_null(strchr(ci.subject, '\x1b'));
	certinfo_free(&ci);
	X509_free(x);

	assert_int_equal(certinfo_from_x509(NULL, &ci), -1);
	assert_int_equal(certinfo_validity(NULL, 0), CERT_VALIDITY_UNKNOWN);
	assert_string_equal(certinfo_validity_key(CERT_VALIDITY_UNKNOWN), "unknown");
	certinfo_free(&ci); /* zeroed: harmless */
}

static int teardown_all(void **state)
{
	(void)state;
	EVP_PKEY_free(test_key());
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(japanese_subject),   cmocka_unit_test(expired_embedded_pem),
		cmocka_unit_test(dates_local_time),   cmocka_unit_test(long_serial_and_no_cn),
		cmocka_unit_test(control_characters), cmocka_unit_test(dates_four_digit_years),
	};
	return cmocka_run_group_tests(tests, setup_tz, teardown_all);
}
