/* replay.h: `renkei-sandbox --replay TRACE`: the recorded answers of a renkei --trace file
 * (docs/trace.md), served in order to whatever client asks; a request that is not the recorded one
 * gets the problem replay-diverged (protocol §5) naming the expected request. The trace is read
 * here with cJSON (the sandbox shares no code with the client). */
#ifndef SANDBOX_REPLAY_H
#define SANDBOX_REPLAY_H
#include <stdbool.h>
#include <stddef.h>

#include "http.h"

struct sandbox;
struct replay;

/* Read the last run of the trace at path (text, len bytes, named name in messages). NULL with
 * "name:line: what is wrong" in err. */
struct replay *replay_parse(const char *name, const char *text, size_t len, char *err, size_t errlen);
struct replay *replay_load(const char *path, char *err, size_t errlen);
void replay_free(struct replay *r);
/* How many recorded exchanges it serves. */
size_t replay_count(const struct replay *r);
/* Answer req with the next recorded answer, or replay-diverged (the recording then stays where it
 * was). Callers serialize (http_dispatch holds the lock). */
void replay_answer(struct replay *r, const struct http_req *req, struct http_resp *resp);

/* The router's handler under --replay: claims every request (sb->replay). */
bool replay_handle(struct sandbox *sb, const struct http_req *req, struct http_resp *resp);

#endif
