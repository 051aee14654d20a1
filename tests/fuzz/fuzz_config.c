/* fuzz_config.c: libFuzzer target for the config-file parser (outside input: renkei.conf(5)).
 * The input is parsed twice onto the same options, as the system file and then as the user's file
 * (the second pass overrides strings the first one stored), then shown by --print-config (the
 * masking of secrets inside values) and validated, as renkei does with every file it reads. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "options.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *null;
	if (!null)
		null = fopen("/dev/null", "w");
	struct options o;
	struct opt_err e;
	options_defaults(&o);
	if (options_parse_config(&o, OPT_SRC_SYSTEM, "/etc/renkei/renkei.conf", (const char *)data, size, &e) == 0)
		options_parse_config(&o, OPT_SRC_USER, "fuzz", (const char *)data, size, &e);
	if (null)
		options_print(null, &o);
	options_validate(&o, &e);
	options_free(&o);
	return 0;
}
