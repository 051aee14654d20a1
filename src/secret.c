/* secret.c: wiped buffers for secrets (see include/secret.h). */
#include "secret.h"

#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include "wipe.h"

/* The buffer lives on its own locked, never-dumped pages (wipe_pages_alloc); cap is their size. */
static int grow(struct secret *s, size_t need)
{
	if (need + 1 <= s->cap)
		return 0;
	size_t cap = 0;
	char *n = wipe_pages_alloc(need + 1, &cap);
	if (!n)
		return -1;
	if (s->buf) {
		memcpy(n, s->buf, s->len + 1);
		wipe_pages_free(s->buf, s->cap);
	} else {
		n[0] = '\0';
	}
	s->buf = n;
	s->cap = cap;
	return 0;
}

int secret_set(struct secret *s, const char *src, size_t n)
{
	secret_clear(s);
	return secret_insert(s, 0, src, n);
}

int secret_insert(struct secret *s, size_t at, const char *src, size_t n)
{
	if (at > s->len)
		at = s->len;
	if (grow(s, s->len + n) < 0)
		return -1;
	memmove(s->buf + at + n, s->buf + at, s->len - at + 1);
	memcpy(s->buf + at, src, n);
	s->len += n;
	return 0;
}

void secret_erase(struct secret *s, size_t at, size_t n)
{
	if (!s->buf || at >= s->len)
		return;
	if (n > s->len - at)
		n = s->len - at;
	memmove(s->buf + at, s->buf + at + n, s->len - at - n + 1);
	s->len -= n;
	explicit_bzero(s->buf + s->len + 1, s->cap - s->len - 1);
}

void secret_clear(struct secret *s)
{
	if (s->buf) {
		explicit_bzero(s->buf, s->cap);
	}
	s->len = 0;
}

void secret_free(struct secret *s)
{
	wipe_pages_free(s->buf, s->cap);
	s->len = 0;
	s->buf = NULL;
	s->cap = 0;
}

void secret_free_wiped(void *p)
{
	wipe_free(p);
}

void secret_install_json_hooks(void)
{
	(void)wipe_init(); /* main has done it already: installing the same functions again */
}

/* Not dumpable: no core file, and neither ptrace (gdb, gcore) nor /proc/PID/mem for other
 * processes of the same user; root (CAP_SYS_PTRACE) still can, which the canary test uses, and
 * root's gcore leaves out the MADV_DONTDUMP secret pages. The price: a crash leaves no core file
 * to debug (reproduce it with the trace instead). */
void secret_harden_process(void)
{
	struct rlimit rl = {0, 0};
	setrlimit(RLIMIT_CORE, &rl);
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}
