/* secret.h: buffers for passwords, answers and PINs, on locked pages excluded from core dumps
 * (wipe.h), grown without leaving copies behind, wiped with explicit_bzero when cleared or freed;
 * plus the process-wide hardening (no core files, not dumpable). */
#ifndef RENKEI_SECRET_H
#define RENKEI_SECRET_H
#include <stddef.h>

/* A UTF-8 secret. buf is NUL-terminated (or NULL when empty and never used); it is whole pages
 * of its own (cap bytes, wipe_pages_alloc): never free() or realloc() it, only secret_free. */
struct secret {
	char *buf;
	size_t len;
	size_t cap;
};

#define SECRET_INIT {NULL, 0, 0}

/* Replace the contents with n bytes of s (growing through a wiped copy). 0 or -1 (ENOMEM). */
int secret_set(struct secret *s, const char *src, size_t n);
/* Insert n bytes at byte offset at. 0 or -1. */
int secret_insert(struct secret *s, size_t at, const char *src, size_t n);
/* Remove n bytes at byte offset at. */
void secret_erase(struct secret *s, size_t at, size_t n);
/* Wipe the contents, keep the buffer. */
void secret_clear(struct secret *s);
/* Wipe and free. */
void secret_free(struct secret *s);

/* Wipe then free a heap block of unknown size (malloc_usable_size); for cJSON's hooks. */
void secret_free_wiped(void *p);
/* Make every cJSON allocation wiped on free, so JSON bodies that carried a secret leave nothing
 * (wipe_init, which main calls first; calling it again is harmless). */
void secret_install_json_hooks(void);

/* No core files, no ptrace attach by other users (prctl PR_SET_DUMPABLE 0). */
void secret_harden_process(void);

#endif
