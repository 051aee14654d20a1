/* p11.c: PKCS#11 tokens with libp11, the key through the pkcs11 engine (see include/p11.h).
 *
 * How the pieces share one module instance: we dlopen the module ourselves first (so a bad path
 * gives us dlerror() instead of libp11 printing it to stderr; we also keep its function list for
 * the cheap C_GetSlotInfo / C_GetTokenInfo checks), then libp11 loads it (same handle), then the
 * pkcs11 engine loads it a third time for the key (C_Initialize -> ALREADY_INITIALIZED, accepted).
 * Login: we call C_Login ourselves, on a session of our own (p->login[slot], kept open while logged
 * in: the login lasts as long as the application has a session on the token), straight from the
 * caller's wiped buffer. PKCS11_login is never used: it keeps a copy of the PIN (prev_pin, for a
 * re-login after fork) for as long as the slot lives. PKCS#11 login state belongs to the
 * application, so libp11's and the engine's sessions see the token logged in and find the private
 * key without logging in themselves (libp11's own logged_in flag stays unset; it is only used
 * after a fork). Through the p11-kit proxy every C_GetFunctionList caller has its own instance, but
 * they all reach the one real module, whose login state is the process's. Consequences of sharing
 * one instance:
 *   - releasing a libp11 slot list calls C_CloseAllSessions for the slot, which closes the engine's
 *     sessions too, and ending the engine calls C_Finalize for everyone: so the list is released
 *     and the engine ended only together, in p11_refresh / p11_close (never PKCS11_update_slots:
 *     it crashed here after a failed login).
 *   - the engine never gets the PIN and never asks on the TTY: its UI_METHOD fails every prompt
 *     (so does libp11's, for context-specific logins); its logging is set QUIET. */
#define OPENSSL_SUPPRESS_DEPRECATED /* ENGINE_*: the pkcs11 engine is an OpenSSL 3.0 legacy ENGINE */
#include "p11.h"

#include <dlfcn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libp11.h>
#include <openssl/engine.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/ui.h>
#include <openssl/x509v3.h>
#include <p11-kit-1/p11-kit/pkcs11.h>

#include "hexdigit.h"
#include "i18n.h"

struct cert_priv {
	struct p11_cert pub;
	PKCS11_SLOT *slot;
	PKCS11_CERT *cert;
};

struct p11 {
	char *module;
	void *dl;                /* our own handle on the module */
	CK_FUNCTION_LIST *fl;    /* its function list (for C_GetSlotInfo / C_GetTokenInfo) */
	bool fl_inited;          /* we called C_Initialize on fl ourselves (p11-kit proxy) */
	PKCS11_CTX *ctx;
	bool ctx_loaded;
	PKCS11_SLOT *slots;
	unsigned int nslots;
	CK_SESSION_HANDLE *login; /* per slots[i]: our session holding the login (0: none) */
	struct cert_priv *certs;
	size_t ncerts;
	UI_METHOD *ui;
	ENGINE *engine;          /* functional reference (ENGINE_init) when non-NULL */
	bool use_engine;
	int sel;
	EVP_PKEY *key;
	const char *key_source;
};

/* ---- errors ------------------------------------------------------------------------------- */

static void set_err(struct p11_err *e, enum p11_err_kind k, unsigned long ckr, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void set_err(struct p11_err *e, enum p11_err_kind k, unsigned long ckr, const char *fmt, ...)
{
	if (!e)
		return;
	e->kind = k;
	e->ckr = ckr;
	e->pin_flags = 0;
	e->detail[0] = '\0';
	if (fmt) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(e->detail, sizeof e->detail, fmt, ap);
		va_end(ap);
	}
}

static void clear_err(struct p11_err *e)
{
	set_err(e, P11_OK, 0, NULL);
}

/* The last CKR_* value libp11 queued (0 if none); empties OpenSSL's error queue. */
static unsigned long take_ckr(void)
{
	unsigned long e, ckr = 0;
	int lib = ERR_get_CKR_code();
	while ((e = ERR_get_error()) != 0)
		if (ERR_GET_LIB(e) == lib)
			ckr = (unsigned long)ERR_GET_REASON(e);
	return ckr;
}

static bool ckr_is_removal(unsigned long ckr)
{
	return ckr == CKR_DEVICE_REMOVED || ckr == CKR_TOKEN_NOT_PRESENT ||
	       ckr == CKR_TOKEN_NOT_RECOGNIZED || ckr == CKR_SLOT_ID_INVALID ||
	       ckr == CKR_SESSION_CLOSED || ckr == CKR_SESSION_HANDLE_INVALID;
}

static unsigned pin_flags_of(unsigned long f)
{
	return ((f & CKF_USER_PIN_COUNT_LOW) ? P11_PIN_COUNT_LOW : 0) |
	       ((f & CKF_USER_PIN_FINAL_TRY) ? P11_PIN_FINAL_TRY : 0) |
	       ((f & CKF_USER_PIN_LOCKED) ? P11_PIN_LOCKED : 0) |
	       ((f & CKF_USER_PIN_TO_BE_CHANGED) ? P11_PIN_TO_BE_CHANGED : 0);
}

const char *p11_err_key(enum p11_err_kind k)
{
	switch (k) {
	case P11_OK: return "ok";
	case P11_ERR_NO_MODULE: return "no-module";
	case P11_ERR_LOAD_FAILED: return "load-failed";
	case P11_ERR_NO_TOKEN: return "no-token";
	case P11_ERR_NO_CERT: return "no-cert";
	case P11_ERR_PIN_INCORRECT: return "pin-incorrect";
	case P11_ERR_PIN_INVALID: return "pin-invalid";
	case P11_ERR_PIN_LOCKED: return "pin-locked";
	case P11_ERR_CANCELLED: return "cancelled";
	case P11_ERR_TOKEN_REMOVED: return "token-removed";
	case P11_ERR_KEY_NOT_FOUND: return "key-not-found";
	case P11_ERR_OTHER: break;
	}
	return "other";
}

/* Japanese msgids (the client's default language), English in po/en.po. */
const char *p11_err_message(const struct p11_err *e)
{
	if (!e)
		return "";
	switch (e->kind) {
	case P11_OK:
		return "";
	case P11_ERR_NO_MODULE:
		/* TRANSLATORS: PKCS#11 = the smart-card interface; keep "--pkcs11-module" as is. */
		return _("ICカード用のソフトウェア（PKCS#11モジュール）が見つかりません。p11-kit を"
			 "導入するか、--pkcs11-module で指定してください。");
	case P11_ERR_LOAD_FAILED:
		return _("ICカード用のソフトウェア（PKCS#11モジュール）を読み込めませんでした。"
			 "--pkcs11-module のパスを確認してください。");
	case P11_ERR_NO_TOKEN:
		return _("ICカードが見つかりません。カードを差し込んでから、もう一度お試しください。");
	case P11_ERR_NO_CERT:
		return _("ICカードに電子証明書が見つかりません。");
	case P11_ERR_PIN_INCORRECT:
		if (e->pin_flags & P11_PIN_FINAL_TRY)
			return _("PINが正しくありません。あと1回間違えるとカードがロックされます。");
		if (e->pin_flags & P11_PIN_COUNT_LOW)
			return _("PINが正しくありません。残りの試行回数が少なくなっています。");
		return _("PINが正しくありません。もう一度入力してください。");
	case P11_ERR_PIN_INVALID:
		return _("PINの桁数または文字が正しくありません。もう一度入力してください。");
	case P11_ERR_PIN_LOCKED:
		return _("ICカードのPINがロックされています。ロックの解除は銀行にお問い合わせください。");
	case P11_ERR_CANCELLED:
		return _("カードリーダーでのPIN入力が取り消されました。もう一度お試しください。");
	case P11_ERR_TOKEN_REMOVED:
		return _("ICカードが取り外されました。カードを差し込んで、最初からやり直してください。");
	case P11_ERR_KEY_NOT_FOUND:
		return _("この電子証明書の秘密鍵がICカードにありません。別の証明書を選んでください。");
	case P11_ERR_OTHER:
		break;
	}
	return _("ICカードを利用できませんでした。");
}

/* ---- small helpers ------------------------------------------------------------------------ */

static char *xstrdup(const char *s)
{
	return strdup(s ? s : "");
}

static bool unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~';
}

/* Append "name=" + percent-encoded value (every byte but unreserved ones) to a growing string. */
static int uri_attr(char **buf, size_t *len, const char *name, const unsigned char *v, size_t n,
		    bool encode_all)
{
	size_t need = *len + strlen(name) + 2 + n * 3 + 1;
	char *b = realloc(*buf, need);
	if (!b)
		return -1;
	*buf = b;
	char *w = b + *len;
	if (*len > 7) /* after "pkcs11:" */
		*w++ = ';';
	w += sprintf(w, "%s=", name);
	for (size_t i = 0; i < n; i++) {
		if (!encode_all && unreserved(v[i]))
			*w++ = (char)v[i];
		else
			w += sprintf(w, "%%%02X", v[i]);
	}
	*w = '\0';
	*len = (size_t)(w - b);
	return 0;
}

static int uri_str(char **buf, size_t *len, const char *name, const char *v)
{
	return uri_attr(buf, len, name, (const unsigned char *)v, strlen(v), false);
}

/* pkcs11:token=..;serial=..;id=..[;object=..];type=TYPE */
static char *make_uri(const struct p11_cert *c, const char *type, bool with_object)
{
	char *b = strdup("pkcs11:");
	size_t len = 7;
	if (!b)
		return NULL;
	if (uri_str(&b, &len, "token", c->token_label) || uri_str(&b, &len, "serial", c->token_serial) ||
	    uri_attr(&b, &len, "id", c->id, c->id_len, true) ||
	    (with_object && c->label[0] && uri_str(&b, &len, "object", c->label)) ||
	    uri_str(&b, &len, "type", type)) {
		free(b);
		return NULL;
	}
	return b;
}

/* ---- the UI method: never a TTY prompt ---------------------------------------------------- */

/* The PIN only ever goes to our own C_Login (login_token): a prompt from libp11 or the engine
 * fails rather than asking on the TTY or being handed a copy. */
static int ui_read(UI *ui, UI_STRING *uis)
{
	(void)ui;
	switch (UI_get_string_type(uis)) {
	case UIT_PROMPT:
	case UIT_VERIFY:
		return 0;
	default:
		return 1;
	}
}

static int ui_write(UI *ui, UI_STRING *uis)
{
	(void)ui;
	(void)uis;
	return 1; /* swallow prompts, info and error texts */
}

/* ---- module ------------------------------------------------------------------------------- */

const char *p11_default_module(void)
{
	static char found[4096];
	if (found[0])
		return found;
	/* The directory libp11 itself was loaded from is the multiarch library directory. */
	Dl_info di;
	if (dladdr((void *)PKCS11_CTX_new, &di) && di.dli_fname) {
		const char *slash = strrchr(di.dli_fname, '/');
		if (slash && (size_t)(slash - di.dli_fname) + 20 < sizeof found) {
			snprintf(found, sizeof found, "%.*s/p11-kit-proxy.so",
				 (int)(slash - di.dli_fname), di.dli_fname);
			if (access(found, R_OK) == 0)
				return found;
		}
	}
	static const char *const cands[] = {
		"/usr/lib/x86_64-linux-gnu/p11-kit-proxy.so", "/usr/lib/aarch64-linux-gnu/p11-kit-proxy.so",
		"/usr/lib/i386-linux-gnu/p11-kit-proxy.so",   "/usr/lib/arm-linux-gnueabihf/p11-kit-proxy.so",
		"/usr/lib64/p11-kit-proxy.so",                "/usr/lib/p11-kit-proxy.so",
		"/usr/local/lib/p11-kit-proxy.so",            "/lib/x86_64-linux-gnu/p11-kit-proxy.so",
	};
	for (size_t i = 0; i < sizeof cands / sizeof cands[0]; i++) {
		if (access(cands[i], R_OK) == 0) {
			snprintf(found, sizeof found, "%s", cands[i]);
			return found;
		}
	}
	found[0] = '\0';
	return NULL;
}

/* dlopen the module ourselves (same flags as libp11) and get its function list. */
static int preflight(struct p11 *p, struct p11_err *err)
{
	if (access(p->module, F_OK) != 0) {
		set_err(err, P11_ERR_LOAD_FAILED, 0, "%s: no such file", p->module);
		return -1;
	}
	dlerror();
	p->dl = dlopen(p->module, RTLD_LAZY | RTLD_LOCAL);
	if (!p->dl) {
		const char *m = dlerror();
		set_err(err, P11_ERR_LOAD_FAILED, 0, "dlopen: %s", m ? m : "failed");
		return -1;
	}
	CK_C_GetFunctionList gfl = (CK_C_GetFunctionList)dlsym(p->dl, "C_GetFunctionList");
	if (!gfl) {
		set_err(err, P11_ERR_LOAD_FAILED, 0, "%s: not a PKCS#11 module (no C_GetFunctionList)",
			p->module);
		return -1;
	}
	CK_RV rv = gfl(&p->fl);
	if (rv != CKR_OK || !p->fl) {
		p->fl = NULL;
		set_err(err, P11_ERR_LOAD_FAILED, rv, "C_GetFunctionList: 0x%lx", (unsigned long)rv);
		return -1;
	}
	return 0;
}

/* Make fl usable. Most modules give every caller the same function list, already initialized by
 * libp11. The p11-kit proxy gives each C_GetFunctionList caller its own instance: ours then needs
 * its own C_Initialize (and C_Finalize in p11_close). Slot IDs of proxy instances come from the
 * same module order; check_one compares serial and label anyway. */
static void fl_ready(struct p11 *p)
{
	if (!p->fl || p->fl_inited)
		return;
	CK_C_INITIALIZE_ARGS args;
	memset(&args, 0, sizeof args);
	args.flags = CKF_OS_LOCKING_OK;
	if (p->fl->C_Initialize(&args) == CKR_OK)
		p->fl_inited = true;
}

/* ---- listing ------------------------------------------------------------------------------ */

static void cert_free(struct cert_priv *c)
{
	struct p11_cert *pc = &c->pub;
	free((char *)pc->token_label);
	free((char *)pc->token_serial);
	free((char *)pc->token_manufacturer);
	free((char *)pc->token_model);
	free((char *)pc->slot_description);
	free((char *)pc->id_hex);
	free((char *)pc->label);
	free((char *)pc->uri);
	certinfo_free(&pc->info);
	memset(c, 0, sizeof(*c));
}

static void drop_key(struct p11 *p)
{
	/* An engine key is the very EVP_PKEY libp11 caches in the engine's own key object, and it
	 * holds a functional reference on the engine: a cycle that would keep the engine (and its
	 * stale sessions) alive after ENGINE_finish and C_Finalize. Break it before letting go. */
	if (p->key && strcmp(p->key_source, "engine") == 0)
		EVP_PKEY_set1_engine(p->key, NULL);
	EVP_PKEY_free(p->key);
	p->key = NULL;
	p->sel = -1;
	p->key_source = "";
}

/* Log out and close our login sessions (before libp11's slots go: their ids index p->login). */
static void logout_all(struct p11 *p)
{
	for (unsigned int i = 0; p->login && i < p->nslots; i++) {
		if (p->login[i] != CK_INVALID_HANDLE && p->fl) {
			p->fl->C_Logout(p->login[i]);
			p->fl->C_CloseSession(p->login[i]);
		}
	}
	free(p->login);
	p->login = NULL;
}

/* Key, login, engine, list, slots, libp11 context: everything but our module handle and the UI
 * method. */
static void unload(struct p11 *p)
{
	drop_key(p);
	logout_all(p);
	if (p->engine) { /* C_Finalize of the shared module instance happens here */
		ENGINE_finish(p->engine);
		ENGINE_free(p->engine);
		p->engine = NULL;
	}
	for (size_t i = 0; i < p->ncerts; i++)
		cert_free(&p->certs[i]);
	free(p->certs);
	p->certs = NULL;
	p->ncerts = 0;
	if (p->slots) {
		PKCS11_release_all_slots(p->ctx, p->slots, p->nslots);
		p->slots = NULL;
		p->nslots = 0;
	}
	if (p->ctx) {
		if (p->ctx_loaded)
			PKCS11_CTX_unload(p->ctx);
		PKCS11_CTX_free(p->ctx);
		p->ctx = NULL;
		p->ctx_loaded = false;
	}
	ERR_clear_error();
}

static int cmp_cert(const void *a, const void *b)
{
	const struct p11_cert *x = &((const struct cert_priv *)a)->pub;
	const struct p11_cert *y = &((const struct cert_priv *)b)->pub;
	int r = strcmp(x->token_label, y->token_label);
	if (!r)
		r = strcmp(x->token_serial, y->token_serial);
	if (!r) {
		size_t n = x->id_len < y->id_len ? x->id_len : y->id_len;
		r = memcmp(x->id, y->id, n);
		if (!r)
			r = (x->id_len > y->id_len) - (x->id_len < y->id_len);
	}
	return r;
}

static int add_cert(struct p11 *p, size_t *cap, PKCS11_SLOT *slot, PKCS11_CERT *cert, time_t now)
{
	if (!cert->x509 || X509_check_ca(cert->x509) != 0)
		return 0; /* unparsable, or a CA certificate: not something to log in with */
	if (p->ncerts == *cap) {
		size_t nc = *cap ? *cap * 2 : 8;
		struct cert_priv *n = realloc(p->certs, nc * sizeof(*n));
		if (!n)
			return -1;
		p->certs = n;
		*cap = nc;
	}
	struct cert_priv *c = &p->certs[p->ncerts];
	memset(c, 0, sizeof(*c));
	c->slot = slot;
	c->cert = cert;
	struct p11_cert *pc = &c->pub;
	PKCS11_TOKEN *t = slot->token;
	pc->token_label = xstrdup(t->label);
	pc->token_serial = xstrdup(t->serialnr);
	pc->token_manufacturer = xstrdup(t->manufacturer);
	pc->token_model = xstrdup(t->model);
	pc->slot_description = xstrdup(slot->description);
	pc->slot_id = PKCS11_get_slotid_from_slot(slot);
	pc->login_required = t->loginRequired != 0;
	pc->protected_auth_path = t->secureLogin != 0;
	pc->pin_flags = (t->userPinCountLow ? P11_PIN_COUNT_LOW : 0) |
			(t->userPinFinalTry ? P11_PIN_FINAL_TRY : 0) |
			(t->userPinLocked ? P11_PIN_LOCKED : 0) |
			(t->userPinToBeChanged ? P11_PIN_TO_BE_CHANGED : 0);
	pc->id_len = cert->id_len < sizeof pc->id ? cert->id_len : sizeof pc->id;
	if (pc->id_len)
		memcpy(pc->id, cert->id, pc->id_len);
	char *hex = malloc(pc->id_len * 2 + 1);
	if (hex) {
		for (size_t i = 0; i < pc->id_len; i++)
			sprintf(hex + 2 * i, "%02x", pc->id[i]);
		hex[pc->id_len * 2] = '\0';
	}
	pc->id_hex = hex;
	pc->label = xstrdup(cert->label);
	pc->x509 = cert->x509;
	p->ncerts++; /* from here on cert_free cleans up on failure */
	if (!pc->token_label || !pc->token_serial || !pc->token_manufacturer || !pc->token_model ||
	    !pc->slot_description || !pc->id_hex || !pc->label)
		return -1;
	if (certinfo_from_x509(cert->x509, &pc->info) != 0)
		return -1;
	pc->validity = certinfo_validity(&pc->info, now);
	pc->uri = make_uri(pc, "cert", true);
	return pc->uri ? 0 : -1;
}

/* Load libp11 on the module and list the certificates. 0, or -1 with err. */
static int load(struct p11 *p, struct p11_err *err)
{
	ERR_clear_error();
	p->ctx = PKCS11_CTX_new();
	if (!p->ctx) {
		set_err(err, P11_ERR_OTHER, 0, "PKCS11_CTX_new failed");
		return -1;
	}
	PKCS11_set_ui_method(p->ctx, p->ui, NULL);
	if (PKCS11_CTX_load(p->ctx, p->module) != 0) {
		unsigned long ckr = take_ckr();
		set_err(err, P11_ERR_LOAD_FAILED, ckr, "%s: C_Initialize failed (CKR 0x%lx)", p->module,
			ckr);
		return -1;
	}
	p->ctx_loaded = true;
	if (PKCS11_enumerate_slots(p->ctx, &p->slots, &p->nslots) != 0) {
		unsigned long ckr = take_ckr();
		p->slots = NULL;
		p->nslots = 0;
		set_err(err, P11_ERR_OTHER, ckr, "C_GetSlotList failed (CKR 0x%lx)", ckr);
		return -1;
	}
	p->login = calloc(p->nslots ? p->nslots : 1, sizeof(*p->login));
	if (!p->login) {
		set_err(err, P11_ERR_OTHER, 0, "out of memory");
		return -1;
	}
	time_t now = time(NULL);
	size_t cap = 0, tokens = 0;
	for (unsigned int i = 0; i < p->nslots; i++) {
		PKCS11_SLOT *s = &p->slots[i];
		/* Only initialized tokens: enumerating an uninitialized one hung forever here. */
		if (!s->token || !s->token->initialized)
			continue;
		/* p11-kit's trust store (through the proxy) holds the system's CA certificates. */
		if (s->token->model && strcmp(s->token->model, "p11-kit-trust") == 0)
			continue;
		tokens++;
		PKCS11_CERT *certs = NULL;
		unsigned int n = 0;
		if (PKCS11_enumerate_certs(s->token, &certs, &n) != 0) {
			ERR_clear_error(); /* an unreadable token: leave it out */
			continue;
		}
		for (unsigned int k = 0; k < n; k++) {
			if (add_cert(p, &cap, s, &certs[k], now) != 0) {
				set_err(err, P11_ERR_OTHER, 0, "out of memory while listing certificates");
				return -1;
			}
		}
	}
	if (p->ncerts > 1)
		qsort(p->certs, p->ncerts, sizeof(*p->certs), cmp_cert);
	fl_ready(p);
	ERR_clear_error();
	if (tokens == 0)
		set_err(err, P11_ERR_NO_TOKEN, 0, "no initialized token in %u slot(s)", p->nslots);
	else if (p->ncerts == 0)
		set_err(err, P11_ERR_NO_CERT, 0, "no end-entity certificate on %zu token(s)", tokens);
	else
		clear_err(err);
	return 0;
}

struct p11 *p11_open(const char *module, struct p11_err *err)
{
	clear_err(err);
	if (!module || !*module) {
		module = p11_default_module();
		if (!module) {
			set_err(err, P11_ERR_NO_MODULE, 0, "no p11-kit-proxy.so found");
			return NULL;
		}
	}
	struct p11 *p = calloc(1, sizeof(*p));
	if (!p) {
		set_err(err, P11_ERR_OTHER, 0, "out of memory");
		return NULL;
	}
	p->sel = -1;
	p->key_source = "";
	p->use_engine = true;
	p->module = strdup(module);
	p->ui = UI_create_method("renkei-p11");
	if (!p->module || !p->ui || UI_method_set_reader(p->ui, ui_read) != 0 ||
	    UI_method_set_writer(p->ui, ui_write) != 0) {
		set_err(err, P11_ERR_OTHER, 0, "out of memory");
		p11_close(p);
		return NULL;
	}
	ERR_load_PKCS11_strings();
	if (preflight(p, err) != 0 || load(p, err) != 0) {
		p11_close(p);
		return NULL;
	}
	return p;
}

void p11_close(struct p11 *p)
{
	if (!p)
		return;
	unload(p);
	if (p->fl && p->fl_inited)
		p->fl->C_Finalize(NULL);
	if (p->dl)
		dlclose(p->dl);
	if (p->ui)
		UI_destroy_method(p->ui);
	free(p->module);
	explicit_bzero(p, sizeof(*p));
	free(p);
}

int p11_refresh(struct p11 *p, struct p11_err *err)
{
	clear_err(err);
	if (!p) {
		set_err(err, P11_ERR_OTHER, 0, "no context");
		return -1;
	}
	unload(p);
	if (load(p, err) != 0) {
		struct p11_err keep;
		if (err)
			keep = *err;
		unload(p);
		if (err)
			*err = keep;
		return -1;
	}
	return 0;
}

const char *p11_module(const struct p11 *p)
{
	return p ? p->module : NULL;
}

size_t p11_count(const struct p11 *p)
{
	return p ? p->ncerts : 0;
}

const struct p11_cert *p11_get(const struct p11 *p, size_t i)
{
	return p && i < p->ncerts ? &p->certs[i].pub : NULL;
}

bool p11_cert_usable(const struct p11_cert *c, time_t now)
{
	return c && certinfo_validity(&c->info, now) == CERT_VALID;
}

int p11_selected(const struct p11 *p)
{
	return p ? p->sel : -1;
}

EVP_PKEY *p11_key(const struct p11 *p)
{
	return p ? p->key : NULL;
}

X509 *p11_x509(const struct p11 *p)
{
	return p && p->sel >= 0 && p->key ? p->certs[p->sel].pub.x509 : NULL;
}

const char *p11_key_source(const struct p11 *p)
{
	return p ? p->key_source : "";
}

void p11_use_engine(struct p11 *p, bool on)
{
	if (p)
		p->use_engine = on;
}

/* ---- RFC 7512 URIs ------------------------------------------------------------------------ */

/* Percent-decode s[0..n) into out (cap bytes, NUL added). Decoded length, or -1. */
static long pct_decode(const char *s, size_t n, unsigned char *out, size_t cap)
{
	size_t w = 0;
	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)s[i];
		if (c == '%') {
			int hi, lo;
			if (i + 2 >= n || (hi = hex_digit((unsigned char)s[i + 1])) < 0 || (lo = hex_digit((unsigned char)s[i + 2])) < 0)
				return -1;
			c = hi * 16 + lo;
			i += 2;
		}
		if (w + 1 >= cap)
			return -1;
		out[w++] = (unsigned char)c;
	}
	out[w] = '\0';
	return (long)w;
}

static bool str_attr_eq(const unsigned char *v, long n, const char *have)
{
	return (size_t)n == strlen(have) && memcmp(v, have, (size_t)n) == 0;
}

int p11_find_uri(const struct p11 *p, const char *uri, struct p11_err *err)
{
	clear_err(err);
	if (!p || !uri || strncasecmp(uri, "pkcs11:", 7) != 0) {
		set_err(err, P11_ERR_OTHER, 0, "not a pkcs11: URI");
		return -1;
	}
	const char *path = uri + 7;
	size_t plen = strcspn(path, "?");
	size_t ncand = p->ncerts;
	bool *match = malloc(ncand ? ncand : 1);
	if (!match) {
		set_err(err, P11_ERR_OTHER, 0, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < ncand; i++)
		match[i] = true;
	const char *a = path;
	while (a < path + plen) {
		size_t alen = strcspn(a, ";");
		if (a + alen > path + plen)
			alen = (size_t)(path + plen - a);
		const char *eq = memchr(a, '=', alen);
		if (alen == 0) {
			a += 1;
			continue;
		}
		if (!eq) {
			free(match);
			set_err(err, P11_ERR_OTHER, 0, "malformed pkcs11: URI attribute");
			return -1;
		}
		size_t nlen = (size_t)(eq - a);
		unsigned char v[256];
		long vlen = pct_decode(eq + 1, alen - nlen - 1, v, sizeof v);
		if (vlen < 0) {
			free(match);
			set_err(err, P11_ERR_OTHER, 0, "malformed pkcs11: URI value");
			return -1;
		}
#define ATTR(s) (nlen == sizeof(s) - 1 && memcmp(a, s, nlen) == 0)
		for (size_t i = 0; i < ncand; i++) {
			const struct p11_cert *c = &p->certs[i].pub;
			bool ok = true;
			if (ATTR("token"))
				ok = str_attr_eq(v, vlen, c->token_label);
			else if (ATTR("serial"))
				ok = str_attr_eq(v, vlen, c->token_serial);
			else if (ATTR("manufacturer"))
				ok = str_attr_eq(v, vlen, c->token_manufacturer);
			else if (ATTR("model"))
				ok = str_attr_eq(v, vlen, c->token_model);
			else if (ATTR("object"))
				ok = str_attr_eq(v, vlen, c->label);
			else if (ATTR("id"))
				ok = (size_t)vlen == c->id_len && memcmp(v, c->id, c->id_len) == 0;
			else if (ATTR("type"))
				ok = str_attr_eq(v, vlen, "cert") || str_attr_eq(v, vlen, "private") ||
				     str_attr_eq(v, vlen, "public");
			else if (ATTR("slot-id")) {
				char *end;
				unsigned long sid = strtoul((const char *)v, &end, 10);
				ok = vlen > 0 && *end == '\0' && sid == c->slot_id;
			}
			/* other attributes (library-*, slot-description, ...): not used to select */
			if (!ok)
				match[i] = false;
		}
#undef ATTR
		a += alen + 1;
	}
	for (size_t i = 0; i < ncand; i++) {
		if (match[i]) {
			free(match);
			return (int)i;
		}
	}
	free(match);
	set_err(err, P11_ERR_NO_CERT, 0, "no certificate matches the pkcs11: URI");
	return -1;
}

/* ---- login and key ------------------------------------------------------------------------ */

static unsigned token_pin_flags(struct p11 *p, unsigned long slot_id, bool *present)
{
	CK_TOKEN_INFO ti;
	*present = true;
	if (!p->fl)
		return 0;
	CK_RV rv = p->fl->C_GetTokenInfo(slot_id, &ti);
	if (rv != CKR_OK) {
		if (ckr_is_removal(rv))
			*present = false;
		return 0;
	}
	return pin_flags_of(ti.flags);
}

/* Our session on the certificate's slot, opened on first use and kept while logged in. */
static CK_RV login_session(struct p11 *p, struct cert_priv *c, CK_SESSION_HANDLE **h)
{
	*h = &p->login[c->slot - p->slots];
	if (**h != CK_INVALID_HANDLE)
		return CKR_OK;
	if (!p->fl)
		return CKR_GENERAL_ERROR;
	return p->fl->C_OpenSession(c->pub.slot_id, CKF_SERIAL_SESSION, NULL, NULL, *h);
}

/* What a failed C_OpenSession / C_Login means for the person (pin_flags read afterwards). */
static int login_failed(struct p11 *p, struct cert_priv *c, unsigned long ckr, struct p11_err *err)
{
	bool present = true;
	unsigned flags = token_pin_flags(p, c->pub.slot_id, &present);
	enum p11_err_kind k = P11_ERR_OTHER;
	if (ckr == CKR_PIN_INCORRECT)
		k = P11_ERR_PIN_INCORRECT;
	else if (ckr == CKR_PIN_INVALID || ckr == CKR_PIN_LEN_RANGE)
		k = P11_ERR_PIN_INVALID;
	else if (ckr == CKR_PIN_LOCKED)
		k = P11_ERR_PIN_LOCKED;
	else if (ckr == CKR_FUNCTION_CANCELED)
		k = P11_ERR_CANCELLED;
	else if (ckr_is_removal(ckr) || ckr == CKR_DEVICE_ERROR || !present)
		k = present ? P11_ERR_OTHER : P11_ERR_TOKEN_REMOVED;
	if (ckr_is_removal(ckr))
		k = P11_ERR_TOKEN_REMOVED;
	if ((flags & P11_PIN_LOCKED) && (k == P11_ERR_PIN_INCORRECT || k == P11_ERR_OTHER))
		k = P11_ERR_PIN_LOCKED;
	set_err(err, k, ckr, "C_Login failed (CKR 0x%lx)", ckr);
	if (err)
		err->pin_flags = flags;
	return -1;
}

/* C_Login on our own session, the PIN passed straight from the caller's buffer (pin NULL: the
 * protected authentication path). A token already logged in is not asked again. */
static int login_token(struct p11 *p, struct cert_priv *c, const char *pin, size_t pin_len,
		       struct p11_err *err)
{
	PKCS11_TOKEN *t = c->slot->token;
	if (!t->loginRequired)
		return 0;
	CK_SESSION_HANDLE *h;
	CK_RV rv = login_session(p, c, &h);
	if (rv != CKR_OK) {
		*h = CK_INVALID_HANDLE;
		return login_failed(p, c, rv, err);
	}
	CK_SESSION_INFO si;
	if (p->fl->C_GetSessionInfo(*h, &si) == CKR_OK &&
	    (si.state == CKS_RO_USER_FUNCTIONS || si.state == CKS_RW_USER_FUNCTIONS))
		return 0;
	if (!pin && !t->secureLogin) {
		set_err(err, P11_ERR_PIN_INVALID, 0, "PIN required");
		return -1;
	}
	if (pin && pin_len == 0 && !t->secureLogin) {
		set_err(err, P11_ERR_PIN_INVALID, 0, "empty PIN");
		return -1;
	}
	bool pad = !pin || pin_len == 0;
	rv = p->fl->C_Login(*h, CKU_USER, pad ? NULL : (CK_UTF8CHAR *)(uintptr_t)pin,
			    pad ? 0 : (CK_ULONG)pin_len);
	if (rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN)
		return 0;
	return login_failed(p, c, rv, err);
}

static int engine_ready(struct p11 *p)
{
	if (p->engine)
		return 0;
	ENGINE *e = ENGINE_by_id("pkcs11");
	if (!e) {
		ERR_clear_error();
		return -1;
	}
	if (!ENGINE_ctrl_cmd_string(e, "QUIET", NULL, 0) ||
	    !ENGINE_ctrl_cmd_string(e, "MODULE_PATH", p->module, 0) ||
	    !ENGINE_ctrl_cmd(e, "SET_USER_INTERFACE", 0, p->ui, NULL, 0) || !ENGINE_init(e)) {
		ENGINE_free(e);
		ERR_clear_error();
		return -1;
	}
	p->engine = e;
	return 0;
}

static EVP_PKEY *key_via_engine(struct p11 *p, struct cert_priv *c, unsigned long *ckr)
{
	char *uri = make_uri(&c->pub, "private", false);
	if (!uri)
		return NULL;
	ERR_clear_error();
	/* Already logged in (login_token): the engine finds the key without a PIN, and gets none. */
	EVP_PKEY *k = ENGINE_load_private_key(p->engine, uri, p->ui, NULL);
	if (!k)
		*ckr = take_ckr();
	free(uri);
	return k;
}

static EVP_PKEY *key_via_libp11(struct cert_priv *c, unsigned long *ckr)
{
	ERR_clear_error();
	PKCS11_KEY *k = PKCS11_find_key(c->cert);
	EVP_PKEY *pk = k ? PKCS11_get_private_key(k) : NULL;
	if (!pk)
		*ckr = take_ckr();
	return pk;
}

int p11_login(struct p11 *p, size_t i, const char *pin, size_t pin_len, struct p11_err *err)
{
	clear_err(err);
	if (!p || i >= p->ncerts) {
		set_err(err, P11_ERR_OTHER, 0, "no such certificate");
		return -1;
	}
	struct cert_priv *c = &p->certs[i];
	if (p->sel == (int)i && p->key)
		return 0;
	drop_key(p);

	if (pin && memchr(pin, '\0', pin_len)) { /* no token takes one; the PIN entry never gives one */
		set_err(err, P11_ERR_PIN_INVALID, 0, "PIN contains a NUL byte");
		return -1;
	}
	if (login_token(p, c, pin, pin_len, err) != 0)
		return -1;

	unsigned long ckr = 0;
	EVP_PKEY *k = NULL;
	const char *src = "";
	if (p->use_engine && engine_ready(p) == 0) {
		k = key_via_engine(p, c, &ckr);
		src = "engine";
	}
	if (!k) { /* no engine here, or it could not load the key: libp11 directly */
		unsigned long ckr2 = 0;
		k = key_via_libp11(c, &ckr2);
		src = "libp11";
		if (!ckr)
			ckr = ckr2;
	}
	if (!k) {
		bool present = true;
		(void)token_pin_flags(p, c->pub.slot_id, &present);
		if (!present || ckr_is_removal(ckr))
			set_err(err, P11_ERR_TOKEN_REMOVED, ckr, "token gone while loading the key");
		else
			set_err(err, P11_ERR_KEY_NOT_FOUND, ckr, "no private key with id %s (CKR 0x%lx)",
				c->pub.id_hex, ckr);
		return -1;
	}
	if (X509_check_private_key(c->pub.x509, k) != 1) {
		ERR_clear_error();
		EVP_PKEY_free(k);
		set_err(err, P11_ERR_KEY_NOT_FOUND, 0, "the private key with id %s does not match the certificate",
			c->pub.id_hex);
		return -1;
	}
	p->key = k;
	p->sel = (int)i;
	p->key_source = src;
	return 0;
}

/* ---- TLS ---------------------------------------------------------------------------------- */

int p11_ssl_ctx_install(void *ssl_ctx, void *userptr)
{
	struct p11 *p = userptr;
	SSL_CTX *ctx = ssl_ctx;
	X509 *x = p11_x509(p);
	if (!ctx || !x || !p->key)
		return -1;
	if (SSL_CTX_use_certificate(ctx, x) != 1 || SSL_CTX_use_PrivateKey(ctx, p->key) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		ERR_clear_error();
		return -1;
	}
	return 0;
}

CURLcode p11_curl_ssl_ctx(CURL *curl, void *ssl_ctx, void *userptr)
{
	(void)curl;
	return p11_ssl_ctx_install(ssl_ctx, userptr) == 0 ? CURLE_OK : CURLE_SSL_CERTPROBLEM;
}

/* ---- presence ----------------------------------------------------------------------------- */

/* Compare a space-padded PKCS#11 field with libp11's trimmed copy. */
static bool padded_eq(const unsigned char *f, size_t n, const char *s)
{
	while (n > 0 && f[n - 1] == ' ')
		n--;
	return strlen(s) == n && memcmp(f, s, n) == 0;
}

static int check_one(struct p11 *p, const struct p11_cert *c, struct p11_err *err)
{
	CK_SLOT_INFO si;
	CK_TOKEN_INFO ti;
	CK_RV rv = p->fl->C_GetSlotInfo(c->slot_id, &si);
	if (rv == CKR_OK && !(si.flags & CKF_TOKEN_PRESENT))
		rv = CKR_TOKEN_NOT_PRESENT;
	if (rv == CKR_OK) {
		rv = p->fl->C_GetTokenInfo(c->slot_id, &ti);
		/* The slot is there but its token cannot be read any more (SoftHSM answers
		 * CKR_GENERAL_ERROR for a deleted token): for the person it is the same as removed. */
		if (rv != CKR_OK) {
			set_err(err, P11_ERR_TOKEN_REMOVED, rv, "token %s unreadable (CKR 0x%lx)",
				c->token_label, (unsigned long)rv);
			return 0;
		}
	}
	if (rv == CKR_OK && (!padded_eq(ti.serialNumber, sizeof ti.serialNumber, c->token_serial) ||
			     !padded_eq(ti.label, sizeof ti.label, c->token_label))) {
		set_err(err, P11_ERR_TOKEN_REMOVED, 0, "another token is in slot %lu", c->slot_id);
		return 0;
	}
	if (rv == CKR_OK)
		return 1;
	if (ckr_is_removal(rv) || rv == CKR_DEVICE_ERROR) {
		set_err(err, P11_ERR_TOKEN_REMOVED, rv, "token %s gone (CKR 0x%lx)", c->token_label,
			(unsigned long)rv);
		return 0;
	}
	set_err(err, P11_ERR_OTHER, rv, "C_GetSlotInfo/C_GetTokenInfo: CKR 0x%lx", (unsigned long)rv);
	return -1;
}

int p11_token_present(struct p11 *p, struct p11_err *err)
{
	clear_err(err);
	if (!p || !p->fl || !p->ctx) {
		set_err(err, P11_ERR_OTHER, 0, "no module loaded");
		return -1;
	}
	if (p->sel >= 0)
		return check_one(p, &p->certs[p->sel].pub, err);
	for (size_t i = 0; i < p->ncerts; i++) {
		if (i > 0 && p->certs[i].pub.slot_id == p->certs[i - 1].pub.slot_id)
			continue;
		int r = check_one(p, &p->certs[i].pub, err);
		if (r != 1)
			return r;
	}
	return 1;
}
