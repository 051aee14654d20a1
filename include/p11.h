/* p11.h: smart cards / tokens through PKCS#11 (libp11; the key through the pkcs11 engine): list the
 * certificates, log in, put certificate + key into the TLS context, notice a removed card. Never prints. */
#ifndef RENKEI_P11_H
#define RENKEI_P11_H
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "certinfo.h"

enum p11_err_kind {
	P11_OK = 0,
	P11_ERR_NO_MODULE,     /* no module path given and no p11-kit proxy module found */
	P11_ERR_LOAD_FAILED,   /* dlopen, C_GetFunctionList or C_Initialize failed (detail says which) */
	P11_ERR_NO_TOKEN,      /* no initialized token in any slot (insert the card) */
	P11_ERR_NO_CERT,       /* tokens, but no certificate on them / nothing matches the URI */
	P11_ERR_PIN_INCORRECT, /* wrong PIN; pin_flags tell whether few tries are left */
	P11_ERR_PIN_INVALID,   /* PIN empty, too short/long or with characters the token refuses */
	P11_ERR_PIN_LOCKED,    /* the PIN is blocked: the card must be unblocked at the bank */
	P11_ERR_CANCELLED,     /* PIN entry on the reader's PIN pad cancelled or timed out */
	P11_ERR_TOKEN_REMOVED, /* the card was removed (or replaced by another one) */
	P11_ERR_KEY_NOT_FOUND, /* no private key for this certificate (or it does not match it) */
	P11_ERR_OTHER          /* anything else (detail); also out of memory, bad arguments */
};

/* Token PIN state (CKF_USER_PIN_* of C_GetTokenInfo), in struct p11_err and struct p11_cert. */
#define P11_PIN_COUNT_LOW 0x1u      /* at least one wrong PIN entered since the last good one */
#define P11_PIN_FINAL_TRY 0x2u      /* one more wrong PIN locks it */
#define P11_PIN_LOCKED 0x4u
#define P11_PIN_TO_BE_CHANGED 0x8u

struct p11_err {
	enum p11_err_kind kind;
	unsigned pin_flags; /* P11_PIN_* of the token after a failed login (0 when unknown) */
	unsigned long ckr;  /* the CKR_* value behind it when there is one, else 0 */
	char detail[256];   /* English, for --trace and engineers; never contains a PIN */
};

/* Message for the screen, translated (gettext), saying what the person can do; uses pin_flags. */
const char *p11_err_message(const struct p11_err *e);
/* Stable key for traces and tests: "ok", "no-module", "load-failed", "no-token", "no-cert",
 * "pin-incorrect", "pin-invalid", "pin-locked", "cancelled", "token-removed", "key-not-found",
 * "other". */
const char *p11_err_key(enum p11_err_kind k);

/* One certificate on one token, as the chooser shows it. Strings are UTF-8, never NULL. */
struct p11_cert {
	/* the token and its slot */
	const char *token_label;
	const char *token_serial;
	const char *token_manufacturer;
	const char *token_model;
	const char *slot_description;
	unsigned long slot_id;
	bool login_required;      /* CKF_LOGIN_REQUIRED: ask for the PIN (or use the PIN pad) */
	bool protected_auth_path; /* CKF_PROTECTED_AUTHENTICATION_PATH: PIN pad, do not ask */
	unsigned pin_flags;       /* P11_PIN_* at listing time */
	/* the certificate object */
	unsigned char id[64];     /* CKA_ID */
	size_t id_len;
	const char *id_hex;       /* lower-case hex, "01" */
	const char *label;        /* CKA_LABEL ("" when none) */
	const char *uri;          /* pkcs11:token=...;serial=...;id=%01;object=...;type=cert */
	struct certinfo info;     /* subject, issuer, names, serial, dates (see certinfo.h) */
	enum cert_validity validity; /* at listing time (p11_open / p11_refresh) */
	X509 *x509;               /* borrowed, valid until p11_refresh / p11_close */
};

struct p11;

/* The p11-kit proxy module (/usr/lib/<multiarch>/p11-kit-proxy.so and the usual places), or NULL. */
const char *p11_default_module(void);

/* Load module (NULL: p11_default_module()) and list every certificate on every initialized token.
 * NULL when the module cannot be used (err: NO_MODULE, LOAD_FAILED, OTHER). Otherwise the handle,
 * err->kind P11_OK, or P11_ERR_NO_TOKEN / P11_ERR_NO_CERT with an empty list (the chooser shows
 * "insert the card" and calls p11_refresh). End-entity certificates only (CA certificates and the
 * p11-kit trust store are left out); sorted by token label, token serial, CKA_ID. */
struct p11 *p11_open(const char *module, struct p11_err *err);
/* Free everything, log out (closes every session), unload the module. NULL is fine. Call it when
 * the flow ends (the token stays logged in until then). Any libcurl handle that used
 * p11_ssl_ctx_install must be cleaned up first. */
void p11_close(struct p11 *p);

/* Drop the login, the key and the list, unload and load the module again, list again (a card was
 * inserted or changed). 0, or -1 with err (the list is then empty; p11_close still needed). */
int p11_refresh(struct p11 *p, struct p11_err *err);

const char *p11_module(const struct p11 *p); /* the path in use */
size_t p11_count(const struct p11 *p);
const struct p11_cert *p11_get(const struct p11 *p, size_t i); /* NULL when out of range */
/* True when the certificate may be chosen now (valid at now; expired / not yet valid: false). */
bool p11_cert_usable(const struct p11_cert *c, time_t now);

/* The first certificate matching an RFC 7512 URI (attributes token, serial, manufacturer, model,
 * id, object, type=cert|private|public, slot-id; percent-encoding; query ignored). Index, or -1
 * with err P11_ERR_NO_CERT (nothing matches) or P11_ERR_OTHER (not a pkcs11: URI). */
int p11_find_uri(const struct p11 *p, const char *uri, struct p11_err *err);

/* Choose certificate i: log in to its token if needed and load its private key.
 * pin/pin_len: the PIN from a wiped buffer (not NUL-terminated), handed straight to the module's
 * C_Login: neither p11 nor libp11 nor the engine keeps a copy. pin NULL: use the protected
 * authentication path (PIN pad) when the token has one; tokens that need no login ignore it.
 * A token already logged in is not asked again. The previous key, if any, is dropped.
 * 0, or -1 with err (PIN_INCORRECT + pin_flags, PIN_INVALID, PIN_LOCKED, CANCELLED,
 * TOKEN_REMOVED, KEY_NOT_FOUND, OTHER). Does not refuse expired certificates: p11_cert_usable. */
int p11_login(struct p11 *p, size_t i, const char *pin, size_t pin_len, struct p11_err *err);

int p11_selected(const struct p11 *p);  /* index chosen by the last successful p11_login, or -1 */
EVP_PKEY *p11_key(const struct p11 *p); /* its key (borrowed), NULL before */
X509 *p11_x509(const struct p11 *p);    /* its certificate (borrowed), NULL before */
/* "engine" (pkcs11 engine: the token signs with CKM_RSA_PKCS_PSS / CKM_RSA_PKCS) or "libp11"
 * (PKCS11_get_private_key: CKM_RSA_X_509 for PSS; the fallback when the engine is missing), or
 * "" before p11_login. */
const char *p11_key_source(const struct p11 *p);
/* Prefer the engine (default true). false: always PKCS11_get_private_key. Takes effect at the
 * next p11_login. */
void p11_use_engine(struct p11 *p, bool on);

/* Install the chosen certificate and key into an OpenSSL SSL_CTX (SSL_CTX_use_certificate,
 * SSL_CTX_use_PrivateKey, SSL_CTX_check_private_key). userptr is the struct p11 *.
 * p11_ssl_ctx_install matches api.h's api_ssl_ctx_fn (0 or -1); p11_curl_ssl_ctx is the same for
 * CURLOPT_SSL_CTX_FUNCTION directly (CURLOPT_SSL_CTX_DATA = the struct p11 *). */
int p11_ssl_ctx_install(void *ssl_ctx, void *userptr);
CURLcode p11_curl_ssl_ctx(CURL *curl, void *ssl_ctx, void *userptr);

/* Cheap check between requests (C_GetSlotInfo + C_GetTokenInfo, no re-enumeration): is the token
 * of the chosen certificate (none chosen: every listed token) still present and the same one
 * (serial, label)? 1 yes; 0 no (err P11_ERR_TOKEN_REMOVED); -1 other error (err). */
int p11_token_present(struct p11 *p, struct p11_err *err);

#endif
