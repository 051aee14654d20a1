/* main.c: renkei-sandbox's command line (one options table), start-up order, and the signal wait
 * that ends it cleanly. Everything else lives in the modules. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include "consent.h"
#include "fault.h"
#include "http.h"
#include "oauth.h"
#include "replay.h"
#include "resource.h"
#include "sandbox.h"

#ifndef RENKEI_VERSION
#define RENKEI_VERSION "0.0.0"
#endif

#define DEFAULT_LISTEN "127.0.0.1:8443"
#define DEFAULT_TLS_DIR "build/test-pki"
#define DEFAULT_CONNECTION_TIMEOUT 30 /* seconds an idle connection stays open */
#define MAX_CONNECTION_TIMEOUT 3600

enum opt_id {
	OPT_CONNECTION_LIMIT,
	OPT_CONNECTION_TIMEOUT,
	OPT_FAULT,
	OPT_HELP,
	OPT_LISTEN,
	OPT_PER_ADDRESS_LIMIT,
	OPT_PRINT_SCENARIO,
	OPT_REPLAY,
	OPT_REQUEST_TIMEOUT,
	OPT_SCENARIO,
	OPT_STATE,
	OPT_TLS_DIR,
	OPT_TLS_PRIORITY,
	OPT_VERSION
};

struct config {
	const char *listen;
	const char *scenario;
	const char *state;
	const char *tls_dir;
	const char *tls_priority; /* NULL: http.c's default */
	const char *replay;       /* --replay TRACE: serve its recorded answers */
	unsigned connection_timeout;
	struct http_limits limits;
	bool request_timeout_set;
	struct fault faults[FAULT_MAX]; /* --fault, in order */
	size_t nfaults;
	bool print_scenario;
	bool help;
	bool version;
};

/* Sorted by name (looked up with bsearch). */
static const struct opt {
	const char *name;
	char short_name;
	const char *arg; /* NULL: a flag */
	enum opt_id id;
	const char *help;
} opts[] = {
	{"connection-limit", 0, "N", OPT_CONNECTION_LIMIT,
	 "at most N connections at once in all (1 to 65536, default 256)"},
	{"connection-timeout", 0, "SECONDS", OPT_CONNECTION_TIMEOUT,
	 "close a connection idle for SECONDS (a keep-alive one between requests\n"
	 "                           too); 1 to 3600, default 30"},
	{"fault", 0, "STEP:KIND[:ARG][:once]", OPT_FAULT,
	 "inject a fault into every request of STEP (repeatable; the first that\n"
	 "                           matches wins). STEP: device_authorization, token,\n"
	 "                           revoke, session, login, answer, scopes, pins,\n"
	 "                           pin_result, back, decision, cancel, or * for all.\n"
	 "                           KIND: latency:MS (wait, then answer), status:CODE\n"
	 "                           (answer CODE without processing: a problem, or\n"
	 "                           HTML for 502/503), reset (process, close without\n"
	 "                           answering), truncate (half the body), garbage (not\n"
	 "                           JSON), shape (JSON of the wrong shape), slow[:MS]\n"
	 "                           (a byte every MS ms, default 20). :once: the first\n"
	 "                           such request only"},
	{"help", 'h', NULL, OPT_HELP, "show this help and exit"},
	{"listen", 0, "ADDR:PORT", OPT_LISTEN,
	 "address to listen on (default " DEFAULT_LISTEN "; port 0 picks a free one;\n"
	 "                           IPv6 as [::1]:PORT)"},
	{"per-address-limit", 0, "N", OPT_PER_ADDRESS_LIMIT,
	 "at most N connections at once from one client address; more are closed\n"
	 "                           at once (1 to 65536, default 8)"},
	{"print-scenario", 0, NULL, OPT_PRINT_SCENARIO, "print the built-in demo scenario (JSON) and exit"},
	{"replay", 0, "TRACE", OPT_REPLAY,
	 "serve the recorded answers of a renkei --trace file, in order, to any\n"
	 "                           client; another request gets replay-diverged (docs/trace.md)"},
	{"request-timeout", 0, "SECONDS", OPT_REQUEST_TIMEOUT,
	 "close a connection that has not brought a whole request (headers and\n"
	 "                           body) within SECONDS of its accept or its previous answer, however\n"
	 "                           slowly it keeps sending; 1 to 3600, default 30 (or the\n"
	 "                           --connection-timeout when that is longer)"},
	{"scenario", 0, "FILE", OPT_SCENARIO, "the bank's data (JSON; default: the built-in demo scenario)"},
	{"state", 0, "FILE", OPT_STATE,
	 "SQLite state file kept across restarts (default: in memory, lost at exit)"},
	{"tls-dir", 0, "DIR", OPT_TLS_DIR,
	 "DIR/server.crt and DIR/server.key (PEM); with DIR/client-ca.crt, client\n"
	 "                           certificates are requested (default " DEFAULT_TLS_DIR
	 ", made by\n"
	 "                           sh scripts/mkcerts.sh " DEFAULT_TLS_DIR ")"},
	{"tls-priority", 0, "STRING", OPT_TLS_PRIORITY,
	 "GnuTLS priority string instead of the default: TLS 1.3, and TLS 1.2\n"
	 "                           with ECDHE and AES-GCM or ChaCha20-Poly1305 only"},
	{"version", 'V', NULL, OPT_VERSION, "show the version and exit"},
};
#define NOPTS (sizeof(opts) / sizeof(opts[0]))

/* The modules, in the order the router asks them: each creates its tables at start (init) and claims
 * its paths (handle). The only place that knows them all. */
static const struct module {
	int (*init)(struct sandbox *sb);
	struct http_route route;
} modules[] = {
	{oauth_init, {"oauth", oauth_handle}},
	{resource_init, {"resource", resource_handle}},
	{consent_init, {"consent", consent_handle}},
};
#define NMODULES (sizeof(modules) / sizeof(modules[0]))
static struct http_route routes[NMODULES];

/* --replay: the trace's answers instead of every module (the bank's data is not used). */
static const struct http_route replay_route = {"replay", replay_handle};
static int replay_start(struct sandbox *sb, const char *path, char *err, size_t errlen)
{
	char why[640];
	sb->replay = replay_load(path, why, sizeof(why));
	if (!sb->replay) {
		snprintf(err, errlen, "%s", why);
		return -1;
	}
	fprintf(stderr, "renkei-sandbox: replaying %zu recorded answers of %s\n", replay_count(sb->replay), path);
	return http_set_routes(sb, &replay_route, 1, err, errlen) ? 0 : -1;
}

/* Every module's tables, then the router's table; 0, or -1 with a message in err. */
static int modules_start(struct sandbox *sb, char *err, size_t errlen)
{
	for (size_t i = 0; i < NMODULES; i++) {
		if (modules[i].init(sb) != 0) {
			snprintf(err, errlen, "module %s cannot prepare its tables", modules[i].route.name);
			return -1;
		}
		routes[i] = modules[i].route;
	}
	return http_set_routes(sb, routes, NMODULES, err, errlen) ? 0 : -1;
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: renkei-sandbox [OPTION]...\n"
		   "A reference bank backend for renkei: OAuth 2.0 device grant, the consent protocol\n"
		   "and a resource API over HTTPS. Prints its base URL as the first line of output.\n\n");
	for (size_t i = 0; i < NOPTS; i++) {
		char left[48];
		if (opts[i].short_name)
			snprintf(left, sizeof(left), "-%c, --%s%s%s", opts[i].short_name, opts[i].name,
				 opts[i].arg ? " " : "", opts[i].arg ? opts[i].arg : "");
		else
			snprintf(left, sizeof(left), "    --%s%s%s", opts[i].name, opts[i].arg ? " " : "",
				 opts[i].arg ? opts[i].arg : "");
		if (strlen(left) >= 25) /* too wide for the column: the help starts on the next line */
			fprintf(f, "  %s\n%27s%s\n", left, "", opts[i].help);
		else
			fprintf(f, "  %-25s%s\n", left, opts[i].help);
	}
	fprintf(f, "\nExit status: 0 after SIGINT/SIGTERM, 1 on a start-up error, 2 on a bad command line.\n");
}

static int cmp_opt(const void *key, const void *elem)
{
	const char *k = key;
	const struct opt *o = elem;
	size_t n = strcspn(k, "=");
	int c = strncmp(k, o->name, n);

	return c ? c : (o->name[n] ? -1 : 0);
}

static int bad_usage(const char *fmt, const char *what)
{
	fputs("renkei-sandbox: ", stderr);
	fprintf(stderr, fmt, what);
	fputc('\n', stderr);
	usage(stderr);
	return -1;
}

/* "1".."max", digits only; 0 when not such a number. */
static unsigned parse_count(const char *s, unsigned long max)
{
	unsigned long v = 0;

	if (!*s)
		return 0;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return 0;
		v = v * 10 + (unsigned long)(*p - '0');
		if (v > max)
			return 0;
	}
	return (unsigned)v;
}

static unsigned parse_seconds(const char *s)
{
	return parse_count(s, MAX_CONNECTION_TIMEOUT);
}

static int parse_args(int argc, char **argv, struct config *cfg)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const struct opt *o = NULL;
		const char *value = NULL;

		if (a[0] == '-' && a[1] == '-' && a[2]) {
			o = bsearch(a + 2, opts, NOPTS, sizeof(opts[0]), cmp_opt);
			if (!o)
				return bad_usage("unknown option: %s", a);
			const char *eq = strchr(a, '=');
			if (eq && !o->arg)
				return bad_usage("option --%s takes no value", o->name);
			if (eq)
				value = eq + 1;
		} else if (a[0] == '-' && a[1] && !a[2]) {
			for (size_t k = 0; k < NOPTS; k++)
				if (opts[k].short_name == a[1])
					o = &opts[k];
			if (!o)
				return bad_usage("unknown option: %s", a);
		} else {
			return bad_usage("unexpected argument: %s", a);
		}
		if (o->arg && !value) {
			if (i + 1 >= argc)
				return bad_usage("option --%s needs a value", o->name);
			value = argv[++i];
		}
		if (o->arg && !*value)
			return bad_usage("option --%s needs a value", o->name);
		switch (o->id) {
		case OPT_HELP: cfg->help = true; break;
		case OPT_VERSION: cfg->version = true; break;
		case OPT_PRINT_SCENARIO: cfg->print_scenario = true; break;
		case OPT_LISTEN: cfg->listen = value; break;
		case OPT_SCENARIO: cfg->scenario = value; break;
		case OPT_REPLAY: cfg->replay = value; break;
		case OPT_STATE: cfg->state = value; break;
		case OPT_TLS_DIR: cfg->tls_dir = value; break;
		case OPT_TLS_PRIORITY: {
			char why[512];
			if (!http_tls_priority_ok(value, why, sizeof(why)))
				return bad_usage("%s", why);
			cfg->tls_priority = value;
			break;
		}
		case OPT_FAULT: {
			char why[512];
			if (cfg->nfaults >= FAULT_MAX)
				return bad_usage("--fault %s: at most 32 faults", value);
			if (!fault_parse(value, &cfg->faults[cfg->nfaults], why, sizeof(why)))
				return bad_usage("%s", why);
			cfg->nfaults++;
			break;
		}
		case OPT_CONNECTION_LIMIT:
		case OPT_PER_ADDRESS_LIMIT: {
			unsigned n = parse_count(value, 65536);
			if (!n)
				return bad_usage(o->id == OPT_CONNECTION_LIMIT
							 ? "--connection-limit %s: expected a whole number from 1 to 65536"
							 : "--per-address-limit %s: expected a whole number from 1 to 65536",
						 value);
			*(o->id == OPT_CONNECTION_LIMIT ? &cfg->limits.total : &cfg->limits.per_address) = n;
			break;
		}
		case OPT_REQUEST_TIMEOUT:
			cfg->limits.request_timeout = parse_seconds(value);
			cfg->request_timeout_set = true;
			if (!cfg->limits.request_timeout)
				return bad_usage("--request-timeout %s: expected whole seconds from 1 to 3600", value);
			break;
		case OPT_CONNECTION_TIMEOUT:
			cfg->connection_timeout = parse_seconds(value);
			if (!cfg->connection_timeout)
				return bad_usage("--connection-timeout %s: expected whole seconds from 1 to 3600",
						 value);
			break;
		}
	}
	return 0;
}

/* The command line's faults, then the scenario's (already checked when it was loaded). */
static int add_faults(struct http_server *srv, const struct config *cfg, const struct scenario *sc)
{
	struct fault f;
	char why[512];

	for (size_t i = 0; i < cfg->nfaults; i++)
		if (!http_server_add_fault(srv, &cfg->faults[i]))
			goto too_many;
	for (size_t i = 0; i < sc->nfaults; i++)
		if (!fault_parse(sc->faults[i], &f, why, sizeof(why)) || !http_server_add_fault(srv, &f))
			goto too_many;
	return 0;
too_many:
	fprintf(stderr, "renkei-sandbox: at most %d faults (--fault and the scenario's together)\n", FAULT_MAX);
	return -1;
}

int main(int argc, char **argv)
{
	static struct config cfg = {
		.listen = DEFAULT_LISTEN,
		.tls_dir = DEFAULT_TLS_DIR,
		.connection_timeout = DEFAULT_CONNECTION_TIMEOUT,
		.limits = {HTTP_PER_ADDRESS_LIMIT, HTTP_CONNECTION_LIMIT, HTTP_REQUEST_TIMEOUT},
	};
	struct sandbox sb;
	struct http_server *srv = NULL;
	char err[1024];
	sigset_t sigs;
	/* customers' passwords, PINs and tokens pass through this process: no core files */
	struct rlimit nocore = {0, 0};
	setrlimit(RLIMIT_CORE, &nocore);
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	int sig = 0, status = 1;

	memset(&sb, 0, sizeof(sb));
	if (parse_args(argc, argv, &cfg) != 0)
		return 2;
	if (!http_listen_syntax_ok(cfg.listen)) {
		bad_usage("--listen %s: expected ADDR:PORT (e.g. 127.0.0.1:8443, [::1]:0)", cfg.listen);
		return 2;
	}
	if (cfg.help) {
		usage(stdout);
		return 0;
	}
	if (cfg.version) {
		printf("renkei-sandbox %s\n", RENKEI_VERSION);
		return 0;
	}
	if (cfg.print_scenario) {
		size_t len = 0;
		const char *text = scenario_builtin_text(&len);
		if (!text || fwrite(text, 1, len, stdout) != len || fflush(stdout) != 0)
			return 1;
		return 0;
	}

	/* Signals are taken by sigwait below; every thread started from here on inherits the mask. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	sb.sc = cfg.scenario ? scenario_load_file(cfg.scenario, err, sizeof(err)) : scenario_builtin(err, sizeof(err));
	if (!sb.sc) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	srv = http_server_new(&sb, cfg.tls_dir, err, sizeof(err));
	if (!srv) {
		fprintf(stderr, "renkei-sandbox: %s\n", err);
		goto out_sc;
	}
	http_server_set_connection_timeout(srv, cfg.connection_timeout);
	/* An idle kept-alive connection waits for its next request within the request deadline too. */
	if (!cfg.request_timeout_set && cfg.connection_timeout > cfg.limits.request_timeout)
		cfg.limits.request_timeout = cfg.connection_timeout;
	http_server_set_limits(srv, &cfg.limits);
	if (cfg.tls_priority && http_server_set_tls_priority(srv, cfg.tls_priority, err, sizeof(err)) != 0) {
		fprintf(stderr, "renkei-sandbox: %s\n", err);
		goto out_srv;
	}
	if (add_faults(srv, &cfg, sb.sc) != 0)
		goto out_srv;
	if (db_open(&sb.db, cfg.state, err, sizeof(err)) != 0) {
		fprintf(stderr, "renkei-sandbox: state %s\n", err);
		goto out_srv;
	}
	if (cfg.replay ? replay_start(&sb, cfg.replay, err, sizeof(err)) : modules_start(&sb, err, sizeof(err))) {
		fprintf(stderr, "renkei-sandbox: %s: cannot prepare the state%s%s\n", err, cfg.state ? " in " : "",
			cfg.state ? cfg.state : "");
		goto out_db;
	}
	if (http_server_start(srv, cfg.listen, err, sizeof(err)) != 0) {
		fprintf(stderr, "renkei-sandbox: %s\n", err);
		goto out_db;
	}
	printf("%s\n", sb.issuer);
	fflush(stdout);
	fprintf(stderr, "renkei-sandbox %s: %s, scenario %s, state %s, client certificates %s\n", RENKEI_VERSION,
		sb.issuer, cfg.scenario ? cfg.scenario : "(built-in demo)", cfg.state ? cfg.state : "(in memory)",
		sb.client_certs ? "requested" : "off");

	while (sigwait(&sigs, &sig) != 0 || (sig != SIGINT && sig != SIGTERM))
		;
	fprintf(stderr, "renkei-sandbox: %s, stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
	http_server_stop(srv);
	status = 0;
out_db:
	db_close(&sb.db);
	replay_free(sb.replay);
out_srv:
	http_server_free(srv);
out_sc:
	scenario_free(sb.sc);
	return status;
}
