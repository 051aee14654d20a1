/* embedded.h: files carried inside the binaries (forms, the demo scenario), made by scripts/embed.c.
 * Each table ends with an entry whose name is NULL; data is NUL-terminated, len excludes the NUL. */
#ifndef RENKEI_EMBEDDED_H
#define RENKEI_EMBEDDED_H
#include <stddef.h>

struct embedded_file {
	const char *name;
	const char *data;
	size_t len;
};

extern const struct embedded_file embedded_forms[];
extern const struct embedded_file embedded_scenarios[];

#endif
