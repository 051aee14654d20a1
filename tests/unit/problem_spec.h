/* problem_spec.h: the problem types of docs/protocol.md §5, in its order, with their HTTP status
 * and the client's enum; shared by test_problem.c (the table itself) and test_flow.c (each type
 * applied to a flow). Included by those test files only (after problem.h or flow.h). */
#ifndef TESTS_UNIT_PROBLEM_SPEC_H
#define TESTS_UNIT_PROBLEM_SPEC_H
#include <stddef.h>

#include "problem.h"

static const struct problem_spec {
	const char *name; /* "wrong-credentials": the type is "urn:renkei:problem:<name>" */
	int status;
	enum problem kind;
} problem_spec[] = {
	{"bad-request", 400, PROBLEM_BAD_REQUEST},
	{"unsupported-media-type", 415, PROBLEM_UNSUPPORTED_MEDIA_TYPE},
	{"payload-too-large", 413, PROBLEM_PAYLOAD_TOO_LARGE},
	{"method-not-allowed", 405, PROBLEM_METHOD_NOT_ALLOWED},
	{"not-found", 404, PROBLEM_NOT_FOUND},
	{"rate-limited", 429, PROBLEM_RATE_LIMITED},
	{"user-code-unknown", 404, PROBLEM_USER_CODE_UNKNOWN},
	{"user-code-expired", 410, PROBLEM_USER_CODE_EXPIRED},
	{"user-code-used", 409, PROBLEM_USER_CODE_USED},
	{"user-code-busy", 409, PROBLEM_USER_CODE_BUSY},
	{"session-unknown", 401, PROBLEM_SESSION_UNKNOWN},
	{"session-expired", 401, PROBLEM_SESSION_EXPIRED},
	{"wrong-step", 409, PROBLEM_WRONG_STEP},
	{"method-unavailable", 400, PROBLEM_METHOD_UNAVAILABLE},
	{"wrong-credentials", 401, PROBLEM_WRONG_CREDENTIALS},
	{"login-locked", 403, PROBLEM_LOGIN_LOCKED},
	{"certificate-required", 401, PROBLEM_CERTIFICATE_REQUIRED},
	{"certificate-invalid", 401, PROBLEM_CERTIFICATE_INVALID},
	{"certificate-unknown", 401, PROBLEM_CERTIFICATE_UNKNOWN},
	{"certificate-mismatch", 403, PROBLEM_CERTIFICATE_MISMATCH},
	{"wrong-answer", 401, PROBLEM_WRONG_ANSWER},
	{"scope-required", 422, PROBLEM_SCOPE_REQUIRED},
	{"scope-unknown", 422, PROBLEM_SCOPE_UNKNOWN},
	{"pin-required", 422, PROBLEM_PIN_REQUIRED},
	{"pin-wrong", 422, PROBLEM_PIN_WRONG},
	{"pin-format", 422, PROBLEM_PIN_FORMAT},
	{"intent-required", 422, PROBLEM_INTENT_REQUIRED},
	{"link-unknown", 404, PROBLEM_LINK_UNKNOWN},
	{"token-invalid", 401, PROBLEM_TOKEN_INVALID},
	{"scope-insufficient", 403, PROBLEM_SCOPE_INSUFFICIENT},
	{"internal", 500, PROBLEM_INTERNAL},
	{"replay-diverged", 409, PROBLEM_REPLAY_DIVERGED},
};
#define PROBLEM_SPEC_COUNT (sizeof problem_spec / sizeof problem_spec[0])

#endif
