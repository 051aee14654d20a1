/* sb_fixture.h: what the endpoint unit tests (test_sb_oauth.c, test_sb_consent.c) share: a sandbox
 * on the built-in demo scenario with its state in memory, requests through http_dispatch (no TLS),
 * their answers. Included by those test files only (after cmocka.h's prerequisites). */
#ifndef TESTS_UNIT_SB_FIXTURE_H
#define TESTS_UNIT_SB_FIXTURE_H
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consent.h"
#include "db.h"
#include "http.h"
#include "oauth.h"
#include "resource.h"
#include "sandbox.h"

#define DEVICE_GRANT "grant_type=urn:ietf:params:oauth:grant-type:device_code"
#define FORM "application/x-www-form-urlencoded"

struct fixture {
	struct sandbox sb;
};

/* The modules as renkei-sandbox's main.c registers them, in its order. */
static const struct http_route fixture_routes[] = {
	{"oauth", oauth_handle},
	{"resource", resource_handle},
	{"consent", consent_handle},
};

/* A sandbox as renkei-sandbox starts it (every module's tables), issuer https://127.0.0.1:8443. */
static inline struct fixture *fixture_new(void)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char err[512];

	assert_non_null(f);
	f->sb.sc = scenario_builtin(err, sizeof(err));
	if (!f->sb.sc)
		fail_msg("scenario: %s", err);
	assert_int_equal(db_open(&f->sb.db, NULL, err, sizeof(err)), 0);
	assert_int_equal(oauth_init(&f->sb), 0);
	assert_int_equal(resource_init(&f->sb), 0);
	assert_int_equal(consent_init(&f->sb), 0);
	assert_true(http_set_routes(&f->sb, fixture_routes, sizeof(fixture_routes) / sizeof(fixture_routes[0]),
				    err, sizeof(err)));
	strcpy(f->sb.issuer, "https://127.0.0.1:8443");
	return f;
}

static inline int teardown(void **state)
{
	struct fixture *f = *state;

	db_close(&f->sb.db);
	scenario_free(f->sb.sc);
	free(f);
	return 0;
}

/* One request's answer: its status, body (and the body's JSON, NULL when it is not JSON), headers. */
struct answer {
	int status;
	cJSON *json;
	char *headers[4];
	char body[16384];
};

/* req through http_dispatch, Host 127.0.0.1:8443 (and peer 127.0.0.1 unless set); done(a) after. */
static inline void dispatch(struct fixture *f, struct http_req *req, struct answer *a)
{
	struct http_resp resp;

	memset(&resp, 0, sizeof(resp));
	memset(a, 0, sizeof(*a));
	req->host = "127.0.0.1:8443";
	if (!req->peer_addr)
		req->peer_addr = "127.0.0.1";
	http_dispatch(&f->sb, req, &resp);
	a->status = resp.status;
	if (resp.body) {
		snprintf(a->body, sizeof(a->body), "%.*s", (int)resp.body_len, resp.body);
		a->json = cJSON_ParseWithLength(resp.body, resp.body_len);
	}
	for (int i = 0; i < 4; i++)
		a->headers[i] = resp.headers[i] ? strdup(resp.headers[i]) : NULL;
	http_resp_free(&resp);
}

static inline void done(struct answer *a)
{
	cJSON_Delete(a->json);
	for (int i = 0; i < 4; i++)
		free(a->headers[i]);
	memset(a, 0, sizeof(*a));
}

/* Run SQL on the sandbox's state (printf-style); it must succeed. */
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static inline void sql(struct fixture *f, const char *fmt, ...)
{
	char q[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(q, sizeof(q), fmt, ap);
	va_end(ap);
	assert_int_equal(db_exec(&f->sb.db, q), 0);
}

#endif
