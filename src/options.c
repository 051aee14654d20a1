/* options.c: one table of settings, read from the command line, the environment and a config file. */
#include "options.h"

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "exitcodes.h"
#include "i18n.h"
#include "ui_text.h"

enum opt_kind { OPT_STR, OPT_BOOL, OPT_LONG };

struct opt_def {
	const char *name;     /* long option and config key */
	const char *env;      /* environment variable or NULL */
	enum opt_kind kind;
	size_t off;           /* offset in struct options */
	bool config;          /* may be set in the config file */
	const char *arg;      /* argument name in --help */
	const char *help;     /* N_() text */
	long min, max;        /* OPT_LONG range */
};

#define S(f) offsetof(struct options, f)
/* Sorted by name: looked up with bsearch, like curl's tool_getparam.c. */
static const struct opt_def opt_table[] = {
	{"cacert", "RENKEI_CACERT", OPT_STR, S(cacert), true, N_("ファイル"),
	 N_("銀行のサーバー証明書を検証するCA証明書（ファイルまたはディレクトリ）"), 0, 0},
	{"config", "RENKEI_CONFIG", OPT_STR, S(config), false, N_("ファイル"), N_("設定ファイル"), 0, 0},
	{"connect-timeout", NULL, OPT_LONG, S(connect_timeout), true, N_("秒"), N_("接続のタイムアウト（秒）"), 1, 300},
	{"forms-dir", "RENKEI_FORMS_DIR", OPT_STR, S(forms_dir), true, N_("ディレクトリ"),
	 N_("画面定義（forms）を読むディレクトリ（既定は内蔵の画面）"), 0, 0},
	{"help", NULL, OPT_BOOL, S(help), false, NULL, N_("このヘルプを表示して終了"), 0, 0},
	{"idle-timeout", NULL, OPT_LONG, S(idle_timeout), true, N_("秒"),
	 N_("キオスク: 操作がないとき最初の画面に戻るまでの秒数"), 10, 86400},
	{"kiosk", "RENKEI_KIOSK", OPT_BOOL, S(kiosk), true, NULL,
	 N_("キオスクモード: 終了せず、完了・取消・無操作のたびに最初の画面に戻る"), 0, 0},
	{"lang", "RENKEI_LANG", OPT_STR, S(lang), true, "ja|en", N_("表示言語（ja または en）"), 0, 0},
	{"pkcs11-module", "RENKEI_PKCS11_MODULE", OPT_STR, S(pkcs11_module), true, N_("パス"),
	 N_("電子証明書ログインに使うPKCS#11モジュール"), 0, 0},
	{"pkcs11-uri", "RENKEI_PKCS11_URI", OPT_STR, S(pkcs11_uri), true, "URI",
	 N_("使う証明書のPKCS#11 URI（RFC 7512）"), 0, 0},
	{"server", "RENKEI_SERVER", OPT_STR, S(server), true, "URL", N_("銀行のサーバー（https://...）"), 0, 0},
	{"timeout", NULL, OPT_LONG, S(timeout), true, N_("秒"), N_("1回の通信のタイムアウト（秒）"), 1, 600},
	{"trace", "RENKEI_TRACE", OPT_STR, S(trace), true, N_("ファイル"),
	 N_("サポート用の通信記録（秘密情報は記録しない）を書くファイル"), 0, 0},
	{"user-code", NULL, OPT_STR, S(user_code), false, N_("コード文字列"), N_("連携先が表示したコード（例 WDJB-MJHT）"), 0, 0},
	{"version", NULL, OPT_BOOL, S(version), false, NULL, N_("バージョンを表示して終了"), 0, 0},
};
#undef S
#define NOPTS (sizeof opt_table / sizeof opt_table[0])

static int cmp_name(const void *key, const void *elem)
{
	const struct opt_def *d = elem;
	return strcmp(key, d->name);
}

static const struct opt_def *find(const char *name)
{
	return bsearch(name, opt_table, NOPTS, sizeof opt_table[0], cmp_name);
}

static void seterr(struct opt_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#include <stdarg.h>
static void seterr(struct opt_err *err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof err->msg, fmt, ap);
	va_end(ap);
}

void options_defaults(struct options *o)
{
	memset(o, 0, sizeof *o);
	o->connect_timeout = 10;
	o->timeout = 30;
	o->idle_timeout = 120;
}

static bool is_set(const struct options *o, const struct opt_def *d)
{
	return o->given & (1UL << (d - opt_table));
}

/* Set one value; name is for messages ("--timeout", "config:3: timeout"). */
static int set_value(struct options *o, const struct opt_def *d, const char *val, const char *where,
		     struct opt_err *err)
{
	char *p = (char *)o + d->off;
	o->given |= 1UL << (d - opt_table);
	switch (d->kind) {
	case OPT_STR: {
		char **s = (char **)p;
		if (!val || !*val) {
			seterr(err, _("%s: 値が空です"), where);
			return -1;
		}
		char *dup = strdup(val);
		if (!dup) {
			seterr(err, _("%s: メモリが足りません"), where);
			return -1;
		}
		free(*s);
		*s = dup;
		return 0;
	}
	case OPT_BOOL: {
		bool *b = (bool *)p;
		if (!val || !strcasecmp(val, "yes") || !strcasecmp(val, "true") || !strcmp(val, "1")) {
			*b = true;
		} else if (!strcasecmp(val, "no") || !strcasecmp(val, "false") || !strcmp(val, "0")) {
			*b = false;
		} else {
			seterr(err, _("%s: yes か no を指定してください: %s"), where, val);
			return -1;
		}
		return 0;
	}
	case OPT_LONG: {
		long *l = (long *)p;
		char *end;
		errno = 0;
		long v = val ? strtol(val, &end, 10) : 0;
		if (!val || !*val || *end || errno || v < d->min || v > d->max) {
			seterr(err, _("%s: %ld から %ld までの数を指定してください"), where, d->min, d->max);
			return -1;
		}
		*l = v;
		return 0;
	}
	}
	return -1;
}

int options_parse_argv(struct options *o, int argc, char **argv, struct opt_err *err)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strncmp(a, "--", 2) != 0 || a[2] == '\0') {
			seterr(err, _("不明な引数です: %s"), a);
			return -1;
		}
		char name[64];
		const char *eq = strchr(a + 2, '=');
		size_t n = eq ? (size_t)(eq - (a + 2)) : strlen(a + 2);
		if (n >= sizeof name) {
			seterr(err, _("不明なオプションです: %.60s"), a);
			return -1;
		}
		memcpy(name, a + 2, n);
		name[n] = '\0';
		const struct opt_def *d = find(name);
		if (!d) {
			seterr(err, _("不明なオプションです: --%s"), name);
			return -1;
		}
		const char *val = eq ? eq + 1 : NULL;
		if (d->kind != OPT_BOOL && !val) {
			if (i + 1 >= argc) {
				seterr(err, _("--%s には値が必要です"), name);
				return -1;
			}
			val = argv[++i];
		}
		char where[80];
		snprintf(where, sizeof where, "--%s", name);
		if (set_value(o, d, val, where, err) < 0)
			return -1;
	}
	return 0;
}

void options_apply_env(struct options *o, char *const *envp)
{
	for (size_t i = 0; i < NOPTS; i++) {
		const struct opt_def *d = &opt_table[i];
		if (!d->env || is_set(o, d))
			continue;
		size_t n = strlen(d->env);
		for (char *const *e = envp; e && *e; e++) {
			if (strncmp(*e, d->env, n) == 0 && (*e)[n] == '=') {
				struct opt_err ignored;
				/* A bad value in the environment is reported by validation, not fatal here. */
				if (set_value(o, d, *e + n + 1, d->env, &ignored) < 0)
					continue;
				break;
			}
		}
	}
}

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		s[--n] = '\0';
	return s;
}

int options_parse_config(struct options *o, const char *name, const char *text, size_t len,
			 struct opt_err *err)
{
	/* Collect into a scratch copy first: never half-applied. */
	struct options tmp = *o;
	char *fresh[NOPTS] = {0};
	/* Pointers in tmp are shared with o until replaced; remember which ones we allocated. */
	int rc = 0;
	size_t lineno = 0;
	const char *p = text, *end = text + len;
	while (p < end && rc == 0) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		lineno++;
		char line[1024];
		if (n >= sizeof line) {
			seterr(err, _("%s:%zu: 行が長すぎます"), name, lineno);
			rc = -1;
			break;
		}
		memcpy(line, p, n);
		line[n] = '\0';
		p += n + (nl ? 1 : 0);
		if (memchr(line, '\0', n)) {
			seterr(err, _("%s:%zu: 不正な文字があります"), name, lineno);
			rc = -1;
			break;
		}
		char *s = trim(line);
		if (*s == '\0' || *s == '#')
			continue;
		char *eq = strchr(s, '=');
		if (!eq) {
			seterr(err, _("%s:%zu: 「名前 = 値」の形で書いてください"), name, lineno);
			rc = -1;
			break;
		}
		*eq = '\0';
		char *key = trim(s), *val = trim(eq + 1);
		size_t vl = strlen(val);
		if (vl >= 2 && val[0] == '"' && val[vl - 1] == '"') {
			val[vl - 1] = '\0';
			val++;
		}
		const struct opt_def *d = find(key);
		if (!d || !d->config) {
			seterr(err, _("%s:%zu: 不明な設定です: %.80s"), name, lineno, key);
			rc = -1;
			break;
		}
		size_t idx = (size_t)(d - opt_table);
		if (is_set(o, d))
			continue; /* the command line or environment wins */
		char where[600];
		snprintf(where, sizeof where, "%s:%zu: %s", name, lineno, key);
		if (d->kind == OPT_STR) {
			char **slot = (char **)((char *)&tmp + d->off);
			if (fresh[idx]) {
				free(fresh[idx]);
				fresh[idx] = NULL;
			}
			*slot = NULL;
			if (set_value(&tmp, d, val, where, err) < 0) {
				rc = -1;
				break;
			}
			fresh[idx] = *slot;
		} else if (set_value(&tmp, d, val, where, err) < 0) {
			rc = -1;
			break;
		}
	}
	if (rc < 0) {
		for (size_t i = 0; i < NOPTS; i++)
			free(fresh[i]);
		return -1;
	}
	*o = tmp;
	return 0;
}

int options_load_config(struct options *o, struct opt_err *err)
{
	char def[PATH_MAX];
	const char *path = o->config;
	bool explicit = path != NULL;
	if (!path) {
		const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
		if (xdg && *xdg)
			snprintf(def, sizeof def, "%s/renkei/config", xdg);
		else if (home && *home)
			snprintf(def, sizeof def, "%s/.config/renkei/config", home);
		else
			snprintf(def, sizeof def, "/etc/renkei.conf");
		path = def;
		struct stat st;
		if (stat(path, &st) != 0) {
			path = "/etc/renkei.conf";
			if (stat(path, &st) != 0)
				return 0;
		}
	}
	FILE *f = fopen(path, "r");
	if (!f) {
		if (!explicit && errno == ENOENT)
			return 0;
		seterr(err, _("%s: 設定ファイルを開けません: %s"), path, strerror(errno));
		return -1;
	}
	char buf[65536];
	size_t n = fread(buf, 1, sizeof buf, f);
	bool toolong = n == sizeof buf && fgetc(f) != EOF;
	bool bad = ferror(f);
	fclose(f);
	if (bad || toolong) {
		seterr(err, _("%s: 設定ファイルを読めません"), path);
		return -1;
	}
	return options_parse_config(o, path, buf, n, err);
}

int options_validate(const struct options *o, struct opt_err *err)
{
	if (o->lang && strcmp(o->lang, "ja") && strcmp(o->lang, "en")) {
		seterr(err, _("--lang には ja か en を指定してください: %s"), o->lang);
		return -1;
	}
	if (!o->server) {
		seterr(err, _("銀行のサーバーを --server で指定してください（設定ファイルの server でも可）"));
		return -1;
	}
	if (strncmp(o->server, "https://", 8) != 0 || o->server[8] == '\0') {
		seterr(err, _("サーバーは https:// で始まるURLで指定してください: %s"), o->server);
		return -1;
	}
	if (o->cacert) {
		struct stat st;
		if (stat(o->cacert, &st) != 0) {
			seterr(err, _("CA証明書が見つかりません: %s"), o->cacert);
			return -1;
		}
	}
	return 0;
}

void options_usage(FILE *f, const char *prog)
{
	fprintf(f, _("使い方: %s [オプション]\n"), prog);
	fprintf(f, "%s\n\n", _("API連携認証（利用登録）を端末で行います。"));
	for (size_t i = 0; i < NOPTS; i++) {
		const struct opt_def *d = &opt_table[i];
		char left[64];
		if (d->arg)
			snprintf(left, sizeof left, "--%s %s", d->name, d->kind == OPT_STR || d->kind == OPT_LONG
									     ? _(d->arg)
									     : "");
		else
			snprintf(left, sizeof left, "--%s", d->name);
		/* pad by display width: Japanese placeholders are two columns a character */
		size_t w = ui_width(left);
		fprintf(f, "  %s%*s %s\n", left, w < 28 ? (int)(28 - w) : 0, "", _(d->help));
	}
	fprintf(f, "\n%s\n", _("終了コード:"));
	fprintf(f, "  %d  %s\n", EXIT_ALLOWED, _("許可されました"));
	fprintf(f, "  %d  %s\n", EXIT_ERROR, _("エラー（通信、設定、証明書など）"));
	fprintf(f, "  %d  %s\n", EXIT_USAGE, _("オプションの誤り"));
	fprintf(f, "  %d  %s\n", EXIT_DENIED, _("拒否または取消されました"));
	fprintf(f, "  %d  %s\n", EXIT_LOCKED, _("ログインがロックされています"));
	fprintf(f, "\n%s\n", _("環境変数: RENKEI_SERVER, RENKEI_CACERT, RENKEI_LANG, RENKEI_CONFIG, "
			      "RENKEI_PKCS11_MODULE, RENKEI_TRACE"));
}

void options_free(struct options *o)
{
	for (size_t i = 0; i < NOPTS; i++) {
		if (opt_table[i].kind == OPT_STR) {
			char **s = (char **)((char *)o + opt_table[i].off);
			free(*s);
			*s = NULL;
		}
	}
}
