/* options.h: renkei's settings from one table: command line, then environment, then config file.
 * Parsing is pure (no I/O besides reading the config file) so it is unit-tested and fuzzed. */
#ifndef RENKEI_OPTIONS_H
#define RENKEI_OPTIONS_H
#include <stdbool.h>
#include <stddef.h>

struct options {
	char *server;         /* https://bank.example */
	char *cacert;         /* CA file or directory */
	char *lang;           /* "ja" | "en" */
	char *user_code;
	char *pkcs11_module;
	char *pkcs11_uri;     /* RFC 7512 certificate URI (config only or --pkcs11-uri) */
	char *trace;          /* trace file */
	char *config;         /* config file used */
	char *forms_dir;      /* a bank's own forms */
	long connect_timeout; /* seconds */
	long timeout;         /* seconds, whole request */
	long idle_timeout;    /* kiosk: seconds without a key before returning to the start */
	bool kiosk;
	bool help;
	bool version;
	unsigned long given; /* one bit per option table entry: set by a higher source */
};

/* What went wrong, in words for the user (already translated) and the exit code to use (2). */
struct opt_err {
	char msg[512];
};

void options_defaults(struct options *o);
/* Command line. 0, or -1 with err filled. */
int options_parse_argv(struct options *o, int argc, char **argv, struct opt_err *err);
/* Environment (RENKEI_SERVER, RENKEI_CACERT, RENKEI_LANG, RENKEI_PKCS11_MODULE, RENKEI_CONFIG ...):
 * only fills what the command line left unset. */
void options_apply_env(struct options *o, char *const *envp);
/* A config file's text ("key = value" lines, '#' comments): fills only what is still unset.
 * name is used in messages ("FILE:LINE: what is wrong"). 0 or -1. */
int options_parse_config(struct options *o, const char *name, const char *text, size_t len,
			 struct opt_err *err);
/* Read the config file (o->config, else $XDG_CONFIG_HOME/renkei/config, else /etc/renkei.conf; a
 * missing default file is not an error). 0 or -1. */
int options_load_config(struct options *o, struct opt_err *err);
/* After everything: required values present and valid. 0 or -1. */
int options_validate(const struct options *o, struct opt_err *err);
/* --help text (translated) into f. */
#include <stdio.h>
void options_usage(FILE *f, const char *prog);
void options_free(struct options *o);

#endif
