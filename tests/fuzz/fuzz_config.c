/* fuzz_config.c: libFuzzer target for the config-file parser (outside input). */
#include <stddef.h>
#include <stdint.h>

#include "options.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct options o;
	struct opt_err e;
	options_defaults(&o);
	options_parse_config(&o, "fuzz", (const char *)data, size, &e);
	options_free(&o);
	return 0;
}
