/* fuzz_forms.c: libFuzzer target for the forms parser (form_parse from memory).
 * Build: make build/fuzz/fuzz_forms (clang -fsanitize=fuzzer,address,undefined).
 * Run:   build/fuzz/fuzz_forms -max_total_time=60 [corpus-dir forms/] */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "forms.h"

static void count(const char *msgid, void *ctx)
{
	size_t *n = ctx;
	*n += strlen(msgid); /* touch every string the loader hands out */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512];
	struct form *f = form_parse("fuzz.form", (const char *)data, size, err, sizeof err);
	if (f) {
		size_t n = 0;
		form_each_msgid(f, count, &n);
		for (size_t i = 0; i < f->nitems; i++)
			if (f->items[i].id)
				(void)form_find(f, f->items[i].id);
		form_free(f);
	} else if (!memchr(err, '\0', sizeof err) || strncmp(err, "fuzz.form:", 10) != 0) {
		__builtin_trap(); /* every failure must say file:line */
	}
	return 0;
}
