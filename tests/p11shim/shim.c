/* shim.c: a TEST-ONLY PKCS#11 module wrapping a real one (SoftHSM2), for the terminal tests of
 * states SoftHSM2 cannot produce (tests/e2e/test_reader.py). Built as build/tests/libp11shim.so,
 * never installed, never used outside the tests.
 *
 * C_GetFunctionList hands out a copy of the real module's function list with C_GetTokenInfo and
 * C_Login replaced; everything else (C_Initialize and C_Finalize included) goes straight to the
 * real module. Environment, read once when the list is first asked for:
 *   RENKEI_SHIM_MODULE          the real module (libsofthsm2.so); required
 *   RENKEI_SHIM_MODE            comma list of:
 *     pinpad     C_GetTokenInfo adds CKF_PROTECTED_AUTHENTICATION_PATH; C_Login with pPin NULL
 *                logs in with the PIN read from RENKEI_SHIM_PINPAD_FILE (the customer typing it on
 *                the reader; one trailing newline dropped). A wrong PIN there: the real module's
 *                CKR_PIN_INCORRECT comes back. No such file: CKR_FUNCTION_CANCELED (the customer
 *                cancelled on the reader).
 *     count_low  C_GetTokenInfo adds CKF_USER_PIN_COUNT_LOW
 *     final_try  C_GetTokenInfo adds CKF_USER_PIN_FINAL_TRY
 *     locked     C_GetTokenInfo adds CKF_USER_PIN_LOCKED; C_Login as the user answers
 *                CKR_PIN_LOCKED without asking the real module
 *   RENKEI_SHIM_PINPAD_FILE     see pinpad
 *   RENKEI_SHIM_PINPAD_DELAY_MS pinpad: wait this long in C_Login first (the customer typing)
 * A missing module or an unknown mode makes C_GetFunctionList fail (CKR_GENERAL_ERROR), with a
 * line on stderr. Thread safety: the state is set up once (pthread_once) and only read after. */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <p11-kit/pkcs11.h>

enum {
	M_PINPAD = 1u << 0,
	M_COUNT_LOW = 1u << 1,
	M_FINAL_TRY = 1u << 2,
	M_LOCKED = 1u << 3,
};

static pthread_once_t once = PTHREAD_ONCE_INIT;
static CK_RV init_rv = CKR_GENERAL_ERROR;
static void *real_dl;
static CK_FUNCTION_LIST *real;
static CK_FUNCTION_LIST shim_list;
static unsigned modes;
static char pinpad_file[4096];
static long pinpad_delay_ms;

static CK_RV shim_GetTokenInfo(CK_SLOT_ID slot, CK_TOKEN_INFO *info)
{
	CK_RV rv = real->C_GetTokenInfo(slot, info);
	if (rv != CKR_OK)
		return rv;
	if (modes & M_PINPAD)
		info->flags |= CKF_PROTECTED_AUTHENTICATION_PATH;
	if (modes & M_COUNT_LOW)
		info->flags |= CKF_USER_PIN_COUNT_LOW;
	if (modes & M_FINAL_TRY)
		info->flags |= CKF_USER_PIN_FINAL_TRY;
	if (modes & M_LOCKED)
		info->flags |= CKF_USER_PIN_LOCKED;
	return CKR_OK;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* The PIN "typed on the reader": the file's bytes without one trailing newline. */
static CK_RV pinpad_login(CK_SESSION_HANDLE session, CK_USER_TYPE user)
{
	if (pinpad_delay_ms > 0)
		sleep_ms(pinpad_delay_ms);
	FILE *f = pinpad_file[0] ? fopen(pinpad_file, "rb") : NULL;
	if (!f)
		return CKR_FUNCTION_CANCELED;
	unsigned char pin[256];
	size_t n = fread(pin, 1, sizeof pin, f);
	fclose(f);
	if (n > 0 && pin[n - 1] == '\n')
		n--;
	if (n > 0 && pin[n - 1] == '\r')
		n--;
	CK_RV rv = real->C_Login(session, user, pin, (CK_ULONG)n);
	explicit_bzero(pin, sizeof pin);
	return rv;
}

static CK_RV shim_Login(CK_SESSION_HANDLE session, CK_USER_TYPE user, CK_UTF8CHAR *pin, CK_ULONG len)
{
	if ((modes & M_LOCKED) && (user == CKU_USER || user == CKU_CONTEXT_SPECIFIC))
		return CKR_PIN_LOCKED;
	if ((modes & M_PINPAD) && pin == NULL)
		return pinpad_login(session, user);
	return real->C_Login(session, user, pin, len);
}

static int parse_modes(const char *s)
{
	static const struct {
		const char *name;
		unsigned bit;
	} names[] = {
	    {"pinpad", M_PINPAD},
	    {"count_low", M_COUNT_LOW},
	    {"final_try", M_FINAL_TRY},
	    {"locked", M_LOCKED},
	};
	while (s && *s) {
		size_t n = strcspn(s, ",");
		if (n > 0) {
			size_t i;
			for (i = 0; i < sizeof names / sizeof names[0]; i++) {
				if (strlen(names[i].name) == n && memcmp(names[i].name, s, n) == 0) {
					modes |= names[i].bit;
					break;
				}
			}
			if (i == sizeof names / sizeof names[0]) {
				fprintf(stderr, "libp11shim: unknown RENKEI_SHIM_MODE entry '%.*s'\n", (int)n,
				        s);
				return -1;
			}
		}
		s += n;
		if (*s == ',')
			s++;
	}
	return 0;
}

static void init(void)
{
	const char *module = getenv("RENKEI_SHIM_MODULE");
	if (!module || !*module) {
		fprintf(stderr, "libp11shim: RENKEI_SHIM_MODULE is not set\n");
		return;
	}
	if (parse_modes(getenv("RENKEI_SHIM_MODE")) != 0)
		return;
	const char *file = getenv("RENKEI_SHIM_PINPAD_FILE");
	snprintf(pinpad_file, sizeof pinpad_file, "%s", file ? file : "");
	const char *delay = getenv("RENKEI_SHIM_PINPAD_DELAY_MS");
	pinpad_delay_ms = delay ? strtol(delay, NULL, 10) : 0;
	if (pinpad_delay_ms < 0 || pinpad_delay_ms > 60000)
		pinpad_delay_ms = 0;

	real_dl = dlopen(module, RTLD_NOW | RTLD_LOCAL);
	if (!real_dl) {
		const char *e = dlerror();
		fprintf(stderr, "libp11shim: %s\n", e ? e : "dlopen failed");
		return;
	}
	CK_C_GetFunctionList gfl = (CK_C_GetFunctionList)dlsym(real_dl, "C_GetFunctionList");
	CK_RV rv = gfl ? gfl(&real) : CKR_GENERAL_ERROR;
	if (rv != CKR_OK || !real || !real->C_GetTokenInfo || !real->C_Login) {
		fprintf(stderr, "libp11shim: %s: no usable C_GetFunctionList\n", module);
		real = NULL;
		return;
	}
	shim_list = *real;
	shim_list.C_GetTokenInfo = shim_GetTokenInfo;
	shim_list.C_Login = shim_Login;
	init_rv = CKR_OK;
}

/* The module is unloaded when its last user lets go: let go of the real one too, as it would be. */
__attribute__((destructor)) static void fini(void)
{
	if (real_dl)
		dlclose(real_dl);
}

CK_RV C_GetFunctionList(CK_FUNCTION_LIST **list)
{
	if (!list)
		return CKR_ARGUMENTS_BAD;
	pthread_once(&once, init);
	if (init_rv != CKR_OK)
		return init_rv;
	*list = &shim_list;
	return CKR_OK;
}
