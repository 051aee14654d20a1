/* problem.c: the problem-type table (see include/problem.h). */
#include "problem.h"

#include <stddef.h>
#include <string.h>

#define URN "urn:renkei:problem:"

static const struct {
	const char *name;
	int status;
} table[PROBLEM__COUNT] = {
	[PROBLEM_NONE] = {"none", 0},
	[PROBLEM_BAD_REQUEST] = {"bad-request", 400},
	[PROBLEM_UNSUPPORTED_MEDIA_TYPE] = {"unsupported-media-type", 415},
	[PROBLEM_PAYLOAD_TOO_LARGE] = {"payload-too-large", 413},
	[PROBLEM_METHOD_NOT_ALLOWED] = {"method-not-allowed", 405},
	[PROBLEM_NOT_FOUND] = {"not-found", 404},
	[PROBLEM_RATE_LIMITED] = {"rate-limited", 429},
	[PROBLEM_USER_CODE_UNKNOWN] = {"user-code-unknown", 404},
	[PROBLEM_USER_CODE_EXPIRED] = {"user-code-expired", 410},
	[PROBLEM_USER_CODE_USED] = {"user-code-used", 409},
	[PROBLEM_USER_CODE_BUSY] = {"user-code-busy", 409},
	[PROBLEM_SESSION_UNKNOWN] = {"session-unknown", 401},
	[PROBLEM_SESSION_EXPIRED] = {"session-expired", 401},
	[PROBLEM_WRONG_STEP] = {"wrong-step", 409},
	[PROBLEM_METHOD_UNAVAILABLE] = {"method-unavailable", 400},
	[PROBLEM_WRONG_CREDENTIALS] = {"wrong-credentials", 401},
	[PROBLEM_LOGIN_LOCKED] = {"login-locked", 403},
	[PROBLEM_CERTIFICATE_REQUIRED] = {"certificate-required", 401},
	[PROBLEM_CERTIFICATE_UNKNOWN] = {"certificate-unknown", 401},
	[PROBLEM_CERTIFICATE_MISMATCH] = {"certificate-mismatch", 403},
	[PROBLEM_CERTIFICATE_INVALID] = {"certificate-invalid", 401},
	[PROBLEM_WRONG_ANSWER] = {"wrong-answer", 401},
	[PROBLEM_SCOPE_REQUIRED] = {"scope-required", 422},
	[PROBLEM_SCOPE_UNKNOWN] = {"scope-unknown", 422},
	[PROBLEM_PIN_REQUIRED] = {"pin-required", 422},
	[PROBLEM_PIN_WRONG] = {"pin-wrong", 422},
	[PROBLEM_PIN_FORMAT] = {"pin-format", 422},
	[PROBLEM_INTENT_REQUIRED] = {"intent-required", 422},
	[PROBLEM_TOKEN_INVALID] = {"token-invalid", 401},
	[PROBLEM_SCOPE_INSUFFICIENT] = {"scope-insufficient", 403},
	[PROBLEM_INTERNAL] = {"internal", 500},
	[PROBLEM_UNKNOWN_TYPE] = {"unknown-type", 0},
	[PROBLEM_NET_CONNECT] = {"net-connect", 0},
	[PROBLEM_NET_TIMEOUT] = {"net-timeout", 0},
	[PROBLEM_TLS_SERVER] = {"tls-server", 0},
	[PROBLEM_TLS_CLIENT] = {"tls-client", 0},
	[PROBLEM_NET_OTHER] = {"net-other", 0},
	[PROBLEM_BAD_ANSWER] = {"bad-answer", 0},
	[PROBLEM_INPUT_REQUIRED] = {"input-required", 0},
	[PROBLEM_INPUT_FORMAT] = {"input-format", 0},
	[PROBLEM_NO_MEMORY] = {"no-memory", 0},
};

enum problem problem_from_type(const char *type)
{
	if (!type)
		return PROBLEM_UNKNOWN_TYPE;
	if (strncmp(type, URN, sizeof URN - 1) != 0)
		return PROBLEM_UNKNOWN_TYPE;
	type += sizeof URN - 1;
	/* Only the protocol's own types (those with a status) are looked up. */
	for (int p = PROBLEM_NONE + 1; p < PROBLEM__COUNT; p++)
		if (table[p].status && strcmp(table[p].name, type) == 0)
			return (enum problem)p;
	return PROBLEM_UNKNOWN_TYPE;
}

const char *problem_name(enum problem p)
{
	if ((int)p < 0 || p >= PROBLEM__COUNT || !table[p].name)
		return "unknown-type";
	return table[p].name;
}

int problem_status(enum problem p)
{
	if ((int)p < 0 || p >= PROBLEM__COUNT)
		return 0;
	return table[p].status;
}

bool problem_is_transport(enum problem p)
{
	return p >= PROBLEM_NET_CONNECT && p <= PROBLEM_BAD_ANSWER;
}
