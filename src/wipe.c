/* wipe.c: the wiping allocator and the locked secret pages (see include/wipe.h). */
#include "wipe.h"

#include <cjson/cJSON.h>
#include <malloc.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

void *wipe_malloc(size_t n)
{
	return malloc(n);
}

void *wipe_calloc(size_t n, size_t size)
{
	return calloc(n, size);
}

void wipe_free(void *p)
{
	if (!p)
		return;
	explicit_bzero(p, malloc_usable_size(p));
	free(p);
}

void *wipe_realloc(void *p, size_t n)
{
	if (!p)
		return malloc(n);
	if (n == 0) {
		wipe_free(p);
		return NULL;
	}
	size_t old = malloc_usable_size(p);
	if (n <= old)
		return p; /* fits: the block stays where it is (a later free wipes all of it) */
	void *q = malloc(n);
	if (!q)
		return NULL; /* p untouched, as realloc */
	memcpy(q, p, old);
	wipe_free(p);
	return q;
}

char *wipe_strdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = malloc(n);
	if (d)
		memcpy(d, s, n);
	return d;
}

static void *ossl_malloc(size_t n, const char *file, int line)
{
	(void)file;
	(void)line;
	return wipe_malloc(n);
}

static void *ossl_realloc(void *p, size_t n, const char *file, int line)
{
	(void)file;
	(void)line;
	return wipe_realloc(p, n);
}

static void ossl_free(void *p, const char *file, int line)
{
	(void)file;
	(void)line;
	wipe_free(p);
}

int wipe_init(void)
{
	/* cJSON: with a free that is not free() it never calls realloc either (it allocates, copies
	 * and frees through the hooks), so the printed request bodies leave no uncleared block. */
	cJSON_Hooks h = {wipe_malloc, wipe_free};
	cJSON_InitHooks(&h);
	return CRYPTO_set_mem_functions(ossl_malloc, ossl_realloc, ossl_free) ? 0 : -1;
}

void *wipe_pages_alloc(size_t n, size_t *got)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	size_t size = n ? (n + pg - 1) / pg * pg : pg;
	if (size < n)
		return NULL;
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	(void)madvise(p, size, MADV_DONTDUMP); /* a kernel without it: dumped, still wiped */
	(void)mlock(p, size);                   /* over RLIMIT_MEMLOCK: not locked, still wiped */
	*got = size;
	return p;
}

void wipe_pages_free(void *p, size_t size)
{
	if (!p)
		return;
	explicit_bzero(p, size);
	(void)munlock(p, size);
	munmap(p, size);
}
