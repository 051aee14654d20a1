/* fuzz_sb_replay.c: libFuzzer target for renkei-sandbox --replay's trace reader (outside input: a
 * trace file from a customer's terminal, docs/trace.md), then one request answered from it. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "replay.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[640];
	struct replay *r = replay_parse("fuzz", (const char *)data, size, err, sizeof err);
	if (!r) {
		if (!strstr(err, "fuzz:"))
			__builtin_trap(); /* every refusal says FILE:LINE */
		return 0;
	}
	struct http_req req = {.method = "POST", .path = "/consent/v1/sessions", .body = "{\"user_code\":\"x\"}",
			       .body_len = 16, .peer_addr = "127.0.0.1"};
	for (int i = 0; i < 3; i++) {
		struct http_resp resp = {0};
		replay_answer(r, &req, &resp);
		http_resp_free(&resp);
	}
	replay_free(r);
	return 0;
}
