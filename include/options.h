/* options.h: renkei's settings from one table (src/options.c opt_table[]): each setting's command-line
 * flag, config-file key and environment variable, read in layers, each remembering where it came from.
 * Parsing is pure (no I/O besides reading the config files) so it is unit-tested and fuzzed. */
#ifndef RENKEI_OPTIONS_H
#define RENKEI_OPTIONS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Where a value came from, lowest precedence first: a later source overrides an earlier one. */
enum opt_src {
	OPT_SRC_DEFAULT,
	OPT_SRC_SYSTEM, /* $RENKEI_SYSCONFDIR/renkei.conf, normally /etc/renkei/renkei.conf */
	OPT_SRC_USER,   /* $XDG_CONFIG_HOME/renkei/config, else ~/.config/renkei/config */
	OPT_SRC_CONFIG, /* --config FILE (or RENKEI_CONFIG) */
	OPT_SRC_ENV,    /* RENKEI_* */
	OPT_SRC_FLAG,   /* the command line */
};
#define OPT_NFILES 3 /* OPT_SRC_SYSTEM .. OPT_SRC_CONFIG */
#define OPT_MAX 40   /* rows of the options table (checked at compile time) */

struct opt_origin {
	unsigned char src; /* enum opt_src */
	unsigned line;     /* file sources: 1-based line */
};

struct options {
	char *server;         /* https://bank.example */
	char *cacert;         /* CA file or directory */
	char *lang;           /* "ja" | "en" */
	char *user_code;
	char *pkcs11_module;
	char *pkcs11_uri;     /* RFC 7512 certificate URI */
	char *trace;          /* trace file */
	bool trace_unmasked;  /* the trace holds login ids and account numbers whole (not in kiosk mode) */
	char *replay;         /* --replay TRACE: play a trace back in the screens */
	char *config;         /* --config FILE */
	char *forms_dir;      /* a bank's own forms */
	char *check_forms;    /* --check-forms DIR: check it and exit */
	char *audit;          /* audit trail: a file, or "syslog" */
	char *audit_facility;
	char *audit_socket;
	char *terminal_id;
	bool audit_unmasked;
	char *kiosk_staff_pin_hash; /* crypt(3) hash of the staff PIN (no staff exit without it) */
	long connect_timeout; /* seconds */
	long timeout;         /* seconds, whole request */
	long idle_timeout;    /* kiosk: seconds without a key before returning to the start */
	long idle_warning;    /* kiosk: seconds before that the countdown shows (0: none) */
	bool kiosk;
	bool links;           /* start at the linked services (a manage session, protocol §4.12) */
	bool plain;           /* line mode (include/plain.h) */
	bool help;
	bool version;
	bool print_config;
	unsigned long given;                /* one bit per option table row: set by some source */
	struct opt_origin origin[OPT_MAX];  /* per table row: where the value came from */
	char *file[OPT_NFILES];             /* the path of each file source read (for origins) */
};

/* What went wrong, in words for the user (already translated); the caller exits EXIT_USAGE (2). */
struct opt_err {
	char msg[640];
};

void options_defaults(struct options *o);
/* The command line onto o (origin OPT_SRC_FLAG). 0, or -1 with err filled. */
int options_parse_argv(struct options *o, int argc, char **argv, struct opt_err *err);
/* The RENKEI_* variables of envp onto o (origin OPT_SRC_ENV). A bad value is an error. 0 or -1. */
int options_apply_env(struct options *o, char *const *envp, struct opt_err *err);
/* A config file's text ("key = value" lines, '#' comment lines) onto o, overriding what o holds, with
 * origin src (a file source) and name:line. Never half-applied. name is used in messages
 * ("FILE:LINE: what is wrong"). 0 or -1. */
int options_parse_config(struct options *o, enum opt_src src, const char *name, const char *text,
			 size_t len, struct opt_err *err);
/* Everything, in order: defaults, the system file, the user's file, --config FILE, RENKEI_*, the
 * command line; then the kiosk rule (see renkei.conf(5)). With --help or --version no file is read.
 * envp is also where HOME, XDG_CONFIG_HOME and RENKEI_SYSCONFDIR are looked up. 0 or -1. */
int options_load(struct options *o, int argc, char **argv, char *const *envp, struct opt_err *err);
/* After everything: required values present and valid. 0 or -1. */
int options_validate(const struct options *o, struct opt_err *err);
/* --print-config: every setting, its effective value (secrets inside values masked) and its origin. */
void options_print(FILE *f, const struct options *o);
/* --help text (translated) into f. */
void options_usage(FILE *f, const char *prog);
void options_free(struct options *o);

#endif
