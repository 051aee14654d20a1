/* fuzz_trace.c: libFuzzer target for the --trace reader (outside input: a trace file a customer's
 * terminal wrote, handed to a support engineer for renkei --replay). docs/trace.md. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "trace_read.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct trace_run run;
	char err[512];
	if (trace_parse("fuzz", (const char *)data, size, &run, err, sizeof err) == 0) {
		for (size_t i = 0; i < run.nactions; i++) /* what --replay reads of each */
			if (run.actions[i].text && strlen(run.actions[i].text) < run.actions[i].count)
				__builtin_trap();
		trace_run_free(&run);
	} else if (!memchr(err, ':', strlen(err))) {
		__builtin_trap(); /* every refusal says FILE:LINE */
	}
	return 0;
}
