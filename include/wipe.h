/* wipe.h: memory that is cleared before it is given back: the wiping allocator installed into
 * OpenSSL, libcurl and cJSON, and locked, never-dumped pages for the buffers that hold secrets. */
#ifndef RENKEI_WIPE_H
#define RENKEI_WIPE_H
#include <stddef.h>

/* The allocator: malloc/calloc as usual; free clears the whole block (malloc_usable_size) first;
 * realloc never leaves the old block uncleared when it moves it (it allocates, copies and wipes
 * itself instead of calling realloc); strdup allocates through the same malloc. */
void *wipe_malloc(size_t n);
void *wipe_calloc(size_t n, size_t size);
void *wipe_realloc(void *p, size_t n);
void wipe_free(void *p);
char *wipe_strdup(const char *s);

/* Install the allocator into OpenSSL (CRYPTO_set_mem_functions) and cJSON (cJSON_InitHooks).
 * Call first thing in main, before anything uses OpenSSL (libcurl, libp11): OpenSSL refuses new
 * functions after its first allocation. libcurl gets it in api_global_init (curl_global_init_mem).
 * 0, or -1 when OpenSSL refused (the process then works, without the wiping in OpenSSL). */
int wipe_init(void);

/* Pages for a secret: at least n bytes (*got: the size given, whole pages), zeroed, excluded from
 * core dumps (MADV_DONTDUMP) and locked in RAM (mlock) where RLIMIT_MEMLOCK allows it; when it
 * does not they are simply not locked. NULL when out of memory. */
void *wipe_pages_alloc(size_t n, size_t *got);
/* Clear, unlock and unmap pages from wipe_pages_alloc (size: its *got). p NULL: nothing. */
void wipe_pages_free(void *p, size_t size);

#endif
