/* test_wipe.c: the wiping allocator (wipe.h) installed into OpenSSL and cJSON, the secret pages
 * (zeroed, whole pages, excluded from dumps, locked where allowed, gone after free), and secret.c
 * keeping its buffers on them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <malloc.h>
#include <stdbool.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "secret.h"
#include "wipe.h"

static int init_rc = -2;

/* ASan intercepts mlock and does nothing (it cannot lock its shadow): no "lo" flag there. */
#if defined(__SANITIZE_ADDRESS__)
#define MLOCK_WORKS 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MLOCK_WORKS 0
#endif
#endif
#ifndef MLOCK_WORKS
#define MLOCK_WORKS 1
#endif

/* The VmFlags line of /proc/self/smaps for the mapping that starts at p ("" if none). */
static void vmflags(const void *p, char *out, size_t n)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	assert_non_null(f);
	char ln[512];
	bool in = false;
	out[0] = '\0';
	while (fgets(ln, sizeof ln, f)) {
		unsigned long lo, hi;
		if (sscanf(ln, "%lx-%lx ", &lo, &hi) == 2 && strchr(ln, '-') < strchr(ln, ' '))
			in = lo == (unsigned long)(uintptr_t)p;
		else if (in && !strncmp(ln, "VmFlags:", 8)) {
			snprintf(out, n, "%s", ln + 8);
			break;
		}
	}
	fclose(f);
}

static bool has_flag(const char *flags, const char *flag)
{
	char want[8];
	snprintf(want, sizeof want, " %s", flag);
	return strstr(flags, want) != NULL;
}

static bool mapped(const void *p)
{
	unsigned char v;
	return mincore((void *)p, 1, &v) == 0 || errno != ENOMEM;
}

static void openssl_takes_the_allocator(void **state)
{
	(void)state;
	assert_int_equal(init_rc, 0); /* wipe_init first in main: OpenSSL accepted it */
	CRYPTO_malloc_fn m;
	CRYPTO_realloc_fn r;
	CRYPTO_free_fn f;
	CRYPTO_get_mem_functions(&m, &r, &f);
	assert_non_null(m);
	assert_non_null(r);
	assert_non_null(f);
	assert_true((void *)f != (void *)CRYPTO_free);
	char *p = OPENSSL_malloc(40);
	assert_non_null(p);
	memcpy(p, "0123456789", 11);
	p = OPENSSL_realloc(p, 5000); /* moves: the old block is wiped by us, not realloc */
	assert_non_null(p);
	assert_string_equal(p, "0123456789");
	OPENSSL_free(p);
	/* calling it again (flow_init does, through secret_install_json_hooks) changes nothing */
	(void)wipe_init();
	CRYPTO_malloc_fn m2;
	CRYPTO_realloc_fn r2;
	CRYPTO_free_fn f2;
	CRYPTO_get_mem_functions(&m2, &r2, &f2);
	assert_true(m2 == m && r2 == r && f2 == f);
}

static void realloc_keeps_contents(void **state)
{
	(void)state;
	assert_null(wipe_realloc(wipe_malloc(10), 0));
	char *p = wipe_realloc(NULL, 16);
	assert_non_null(p);
	memcpy(p, "abcdefghijklmno", 16);
	size_t cap = malloc_usable_size(p);
	char *q = wipe_realloc(p, cap); /* fits: stays */
	assert_ptr_equal(q, p);
	q = wipe_realloc(q, 8); /* shrinks in place */
	assert_ptr_equal(q, p);
	assert_memory_equal(q, "abcdefgh", 8);
	q = wipe_realloc(q, 1 << 16); /* grows: a new block with the old bytes */
	assert_non_null(q);
	assert_memory_equal(q, "abcdefghijklmno", 16);
	wipe_free(q);
	wipe_free(NULL);
	char *d = wipe_strdup("canary");
	assert_string_equal(d, "canary");
	wipe_free(d);
	int *z = wipe_calloc(64, sizeof *z);
	for (int i = 0; i < 64; i++)
		assert_int_equal(z[i], 0);
	wipe_free(z);
}

static void cjson_prints_through_the_hooks(void **state)
{
	(void)state;
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "password", "CnryPw-unit");
	char *s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	assert_string_equal(s, "{\"password\":\"CnryPw-unit\"}");
	cJSON_free(s);
}

static void pages_zeroed_undumped_locked(void **state)
{
	(void)state;
	size_t pg = (size_t)sysconf(_SC_PAGESIZE), got = 0;
	unsigned char *p = wipe_pages_alloc(pg + 1, &got);
	assert_non_null(p);
	assert_int_equal(got, 2 * pg);
	assert_int_equal((uintptr_t)p % pg, 0);
	for (size_t i = 0; i < got; i++)
		assert_int_equal(p[i], 0);
	memset(p, 'x', got);
	char fl[512];
	vmflags(p, fl, sizeof fl);
	assert_true(has_flag(fl, "dd")); /* MADV_DONTDUMP */
	struct rlimit rl;
	assert_int_equal(getrlimit(RLIMIT_MEMLOCK, &rl), 0);
	if (MLOCK_WORKS && (geteuid() == 0 || rl.rlim_cur >= 1 << 20))
		assert_true(has_flag(fl, "lo")); /* mlock */
	wipe_pages_free(p, got);
	assert_false(mapped(p));

	size_t one = 0;
	void *q = wipe_pages_alloc(0, &one);
	assert_non_null(q);
	assert_int_equal(one, pg);
	wipe_pages_free(q, one);
	wipe_pages_free(NULL, 0);
}

/* In a child without the right to lock (root drops to nobody, losing CAP_IPC_LOCK) and with
 * RLIMIT_MEMLOCK 0: the pages come, unlocked, still excluded from dumps. */
static int unlocked_child(void)
{
	struct rlimit none = {0, 0};
	if (setrlimit(RLIMIT_MEMLOCK, &none) != 0)
		return 10;
	if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
		return 11;
	size_t got = 0;
	char *p = wipe_pages_alloc(10, &got);
	if (!p)
		return 12;
	memcpy(p, "still usable", 13);
	char fl[512];
	vmflags(p, fl, sizeof fl);
	if (!has_flag(fl, "dd"))
		return 13;
	if (has_flag(fl, "lo"))
		return 14;
	wipe_pages_free(p, got);
	return mapped(p) ? 15 : 0;
}

static void pages_without_memlock_still_work(void **state)
{
	(void)state;
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(unlocked_child());
	int st = 0;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

static void secrets_live_on_the_pages(void **state)
{
	(void)state;
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	struct secret s = SECRET_INIT;
	assert_int_equal(secret_set(&s, "CnryPw", 6), 0);
	assert_int_equal((uintptr_t)s.buf % pg, 0);
	assert_int_equal(s.cap, pg);
	char fl[512];
	vmflags(s.buf, fl, sizeof fl);
	assert_true(has_flag(fl, "dd"));
	/* growing past a page: a new mapping with the contents, the old one gone */
	char big[5000];
	memset(big, 'k', sizeof big);
	char *old = s.buf;
	assert_int_equal(secret_insert(&s, 3, big, sizeof big), 0);
	assert_int_equal(s.len, 6 + sizeof big);
	assert_memory_equal(s.buf, "Cnr", 3);
	assert_memory_equal(s.buf + 3 + sizeof big, "yPw", 4);
	assert_int_equal(s.cap, 2 * pg);
	if (old != s.buf)
		assert_false(mapped(old));
	char *buf = s.buf;
	secret_free(&s);
	assert_null(s.buf);
	assert_int_equal(s.len, 0);
	assert_int_equal(s.cap, 0);
	assert_false(mapped(buf));
}

int main(void)
{
	init_rc = wipe_init(); /* before anything touches OpenSSL, as src/main.c does */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(openssl_takes_the_allocator),
		cmocka_unit_test(realloc_keeps_contents),
		cmocka_unit_test(cjson_prints_through_the_hooks),
		cmocka_unit_test(pages_zeroed_undumped_locked),
		cmocka_unit_test(pages_without_memlock_still_work),
		cmocka_unit_test(secrets_live_on_the_pages),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
