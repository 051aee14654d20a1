/* options.c: one table of settings, each with its command-line flag, config-file key and environment
 * variable; read in layers (defaults, system file, user file, --config, RENKEI_*, flags), each value
 * remembering where it came from (--print-config). The file format is in man/man5/renkei.conf.5. */
#include "options.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "exitcodes.h"
#include "i18n.h"
#include "ui_text.h"

#ifndef RENKEI_SYSCONFDIR_DEFAULT
#define RENKEI_SYSCONFDIR_DEFAULT "/etc/renkei"
#endif

enum opt_kind {
	OPT_STR,
	OPT_BOOL,   /* --flag or --flag=yes|no; yes/no/true/false/1/0 in files and the environment */
	OPT_LONG,   /* a number in [min, max] */
	OPT_ACTION, /* a command-line flag without a value (--help) */
};

/* Row flags. */
enum {
	/* Decides whom renkei trusts or what it loads or writes: in kiosk mode it may come only from the
	 * system file, --config FILE or the command line, never from RENKEI_* or the user's own file. */
	OPT_TRUSTED = 1 << 0,
};

struct opt_def {
	const char *flag;    /* long option, without "--" */
	const char *key;     /* config-file key, or NULL: not allowed in a file */
	const char *env;     /* environment variable, or NULL */
	enum opt_kind kind;
	size_t off;          /* offset in struct options */
	unsigned flags;      /* OPT_TRUSTED */
	/* --print-config: masks secrets inside a value (userinfo of a URL, pin-value of a PKCS#11 URI) */
	void (*mask)(const char *val, char *out, size_t n);
	const char *arg;     /* argument name in --help */
	const char *help;    /* N_() text */
	long min, max;       /* OPT_LONG range */
};

static void mask_url(const char *val, char *out, size_t n);
static void mask_p11uri(const char *val, char *out, size_t n);
static void mask_hidden(const char *val, char *out, size_t n);

#define S(f) offsetof(struct options, f)
/* Sorted by flag: looked up with bsearch, like curl's tool_getparam.c. */
static const struct opt_def opt_table[] = {
	{"audit", "audit", "RENKEI_AUDIT", OPT_STR, S(audit), OPT_TRUSTED, NULL, N_("ファイル|syslog"),
	 N_("各手続きの結果を記録する監査記録（JSON Lines のファイル、または syslog）"), 0, 0},
	{"audit-facility", "audit-facility", "RENKEI_AUDIT_FACILITY", OPT_STR, S(audit_facility), OPT_TRUSTED,
	 NULL, N_("名前"), N_("監査記録の syslog ファシリティ（既定 authpriv）"), 0, 0},
	{"audit-socket", "audit-socket", "RENKEI_AUDIT_SOCKET", OPT_STR, S(audit_socket), OPT_TRUSTED, NULL,
	 N_("パス"), N_("監査記録を送る syslog ソケット（既定 /dev/log）"), 0, 0},
	{"audit-unmasked", "audit-unmasked", "RENKEI_AUDIT_UNMASKED", OPT_BOOL, S(audit_unmasked), OPT_TRUSTED,
	 NULL, NULL, N_("監査記録に口座番号を伏せずに書く"), 0, 0},
	{"cacert", "cacert", "RENKEI_CACERT", OPT_STR, S(cacert), OPT_TRUSTED, NULL, N_("ファイル"),
	 N_("銀行のサーバー証明書を検証するCA証明書（ファイルまたはディレクトリ）"), 0, 0},
	{"check-forms", NULL, NULL, OPT_STR, S(check_forms), 0, NULL, N_("ディレクトリ"),
	 N_("画面定義のディレクトリを確認して終了（配備前の確認用）"), 0, 0},
	{"config", NULL, "RENKEI_CONFIG", OPT_STR, S(config), OPT_TRUSTED, NULL, N_("ファイル"),
	 N_("設定ファイル"), 0, 0},
	{"connect-timeout", "connect-timeout", "RENKEI_CONNECT_TIMEOUT", OPT_LONG, S(connect_timeout), 0,
	 NULL, N_("秒"), N_("接続のタイムアウト（秒）"), 1, 300},
	{"forms-dir", "forms-dir", "RENKEI_FORMS_DIR", OPT_STR, S(forms_dir), OPT_TRUSTED, NULL,
	 N_("ディレクトリ"), N_("画面定義（forms）を読むディレクトリ（既定は内蔵の画面）"), 0, 0},
	{"help", NULL, NULL, OPT_ACTION, S(help), 0, NULL, NULL, N_("このヘルプを表示して終了"), 0, 0},
	{"idle-timeout", "idle-timeout", "RENKEI_IDLE_TIMEOUT", OPT_LONG, S(idle_timeout), 0, NULL, N_("秒"),
	 N_("キオスク: 操作がないとき最初の画面に戻るまでの秒数"), 10, 86400},
	{"idle-warning", "idle-warning", "RENKEI_IDLE_WARNING", OPT_LONG, S(idle_warning), 0, NULL, N_("秒"),
	 N_("キオスク: 戻る何秒前から残り時間を表示するか（0 = 表示しない）"), 0, 3600},
	{"kiosk", "kiosk", "RENKEI_KIOSK", OPT_BOOL, S(kiosk), 0, NULL, NULL,
	 N_("キオスクモード: 終了せず、完了・取消・無操作のたびに最初の画面に戻る"), 0, 0},
	{"kiosk-staff-pin-hash", "kiosk-staff-pin-hash", NULL, OPT_STR, S(kiosk_staff_pin_hash), OPT_TRUSTED,
	 mask_hidden, N_("ハッシュ"),
	 N_("キオスク: 係員が終了するときの暗証番号のハッシュ（crypt(3)、mkpasswd -m yescrypt で作成）"), 0, 0},
	{"lang", "lang", "RENKEI_LANG", OPT_STR, S(lang), 0, NULL, "ja|en", N_("表示言語（ja または en）"), 0, 0},
	{"links", "links", "RENKEI_LINKS", OPT_BOOL, S(links), 0, NULL, NULL,
	 N_("連携中のサービス（確認・停止）から始める（コードの入力なし）"), 0, 0},
	{"pkcs11-module", "pkcs11-module", "RENKEI_PKCS11_MODULE", OPT_STR, S(pkcs11_module), OPT_TRUSTED,
	 NULL, N_("パス"), N_("電子証明書ログインに使うPKCS#11モジュール"), 0, 0},
	{"pkcs11-uri", "pkcs11-uri", "RENKEI_PKCS11_URI", OPT_STR, S(pkcs11_uri), OPT_TRUSTED, mask_p11uri,
	 "URI", N_("使う証明書のPKCS#11 URI（RFC 7512）"), 0, 0},
	{"plain", "plain", "RENKEI_PLAIN", OPT_BOOL, S(plain), 0, NULL, NULL,
	 N_("行モード: 画面を使わず、質問と番号付きの選択肢を1行ずつ書く（スクリーンリーダー、点字ディスプレイ向け）"), 0,
	 0},
	{"print-config", NULL, NULL, OPT_ACTION, S(print_config), 0, NULL, NULL,
	 N_("有効な設定とその出所を表示して終了"), 0, 0},
	{"replay", NULL, NULL, OPT_STR, S(replay), 0, NULL, N_("記録ファイル"),
	 N_("--trace の記録を実際の画面で再生する（通信しない。Space/n 次、p 前、g 最後、q 終了）"), 0, 0},
	{"server", "server", "RENKEI_SERVER", OPT_STR, S(server), OPT_TRUSTED, mask_url, "URL",
	 N_("銀行のサーバー（https://...）"), 0, 0},
	{"terminal-id", "terminal-id", "RENKEI_TERMINAL_ID", OPT_STR, S(terminal_id), OPT_TRUSTED, NULL,
	 N_("名前"), N_("監査記録に書くこの端末の名前（既定はホスト名）"), 0, 0},
	{"timeout", "timeout", "RENKEI_TIMEOUT", OPT_LONG, S(timeout), 0, NULL, N_("秒"),
	 N_("1回の通信のタイムアウト（秒）"), 1, 600},
	{"trace", "trace", "RENKEI_TRACE", OPT_STR, S(trace), OPT_TRUSTED, NULL, N_("ファイル"),
	 N_("サポート用の記録（画面、操作、通信。秘密情報は記録しない）を書くファイル"), 0, 0},
	{"trace-unmasked", "trace-unmasked", "RENKEI_TRACE_UNMASKED", OPT_BOOL, S(trace_unmasked), OPT_TRUSTED,
	 NULL, NULL, N_("記録にログインIDと口座番号を伏せずに書く（キオスクモードでは使えない）"), 0, 0},
	{"user-code", NULL, NULL, OPT_STR, S(user_code), 0, NULL, N_("コード文字列"),
	 N_("連携先が表示したコード（例 WDJB-MJHT）"), 0, 0},
	{"version", NULL, NULL, OPT_ACTION, S(version), 0, NULL, NULL, N_("バージョンを表示して終了"), 0, 0},
};
#undef S
#define NOPTS (sizeof opt_table / sizeof opt_table[0])
_Static_assert(NOPTS <= OPT_MAX, "struct options.origin[] is too small for the options table");
_Static_assert(NOPTS <= sizeof(unsigned long) * CHAR_BIT, "struct options.given is too small");

static int cmp_flag(const void *key, const void *elem)
{
	const struct opt_def *d = elem;
	return strcmp(key, d->flag);
}

static const struct opt_def *find_flag(const char *flag)
{
	return bsearch(flag, opt_table, NOPTS, sizeof opt_table[0], cmp_flag);
}

static const struct opt_def *find_key(const char *key)
{
	for (size_t i = 0; i < NOPTS; i++)
		if (opt_table[i].key && !strcmp(opt_table[i].key, key))
			return &opt_table[i];
	return NULL;
}

static size_t row(const struct opt_def *d)
{
	return (size_t)(d - opt_table);
}

static void seterr(struct opt_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void seterr(struct opt_err *err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof err->msg, fmt, ap);
	va_end(ap);
}

/* Levenshtein distance of two short ASCII names (longer ones count as far apart). */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > 63 || lb > 63)
		return SIZE_MAX;
	size_t prev[64], cur[64];
	for (size_t j = 0; j <= lb; j++)
		prev[j] = j;
	for (size_t i = 1; i <= la; i++) {
		cur[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
			size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
			cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
		}
		memcpy(prev, cur, (lb + 1) * sizeof prev[0]);
	}
	return prev[lb];
}

/* The nearest config key (files) or flag (command line) within a small distance, or NULL. */
static const char *near_miss(const char *name, bool keys)
{
	const char *best = NULL;
	size_t bestd = strlen(name) < 5 ? 1 : 2;
	for (size_t i = 0; i < NOPTS; i++) {
		const char *cand = keys ? opt_table[i].key : opt_table[i].flag;
		if (!cand)
			continue;
		size_t dist = edit_distance(name, cand);
		if (dist <= bestd && (!best || dist < bestd)) {
			best = cand;
			bestd = dist;
		}
	}
	return best;
}

void options_defaults(struct options *o)
{
	memset(o, 0, sizeof *o);
	o->connect_timeout = 10;
	o->timeout = 30;
	o->idle_timeout = 120;
	o->idle_warning = 20;
}

/* A parsed value, not yet stored. */
struct opt_val {
	char *s;
	long l;
	bool b;
};

/* Parse val for row d; where names the source in messages ("--timeout", "f.conf:3: timeout"). */
static int parse_value(const struct opt_def *d, const char *val, const char *where, struct opt_val *v,
		       struct opt_err *err)
{
	memset(v, 0, sizeof *v);
	switch (d->kind) {
	case OPT_STR:
		if (!val || !*val) {
			seterr(err, _("%s: 値が空です"), where);
			return -1;
		}
		if (!(v->s = strdup(val))) {
			seterr(err, _("%s: メモリが足りません"), where);
			return -1;
		}
		return 0;
	case OPT_ACTION:
		if (val) {
			seterr(err, _("%s: 値は指定できません"), where);
			return -1;
		}
		v->b = true;
		return 0;
	case OPT_BOOL:
		if (!val || !strcasecmp(val, "yes") || !strcasecmp(val, "true") || !strcmp(val, "1")) {
			v->b = true;
		} else if (!strcasecmp(val, "no") || !strcasecmp(val, "false") || !strcmp(val, "0")) {
			v->b = false;
		} else {
			seterr(err, _("%s: yes か no を指定してください: %.80s"), where, val);
			return -1;
		}
		return 0;
	case OPT_LONG: {
		char *end = NULL;
		errno = 0;
		long l = val ? strtol(val, &end, 10) : 0;
		if (!val || !*val || *end || errno || l < d->min || l > d->max) {
			seterr(err, _("%s: %ld から %ld までの数を指定してください"), where, d->min, d->max);
			return -1;
		}
		v->l = l;
		return 0;
	}
	}
	return -1;
}

/* Store a parsed value (taking its string) with its origin, replacing what was there. */
static void store(struct options *o, const struct opt_def *d, struct opt_val *v, enum opt_src src,
		  unsigned line)
{
	char *p = (char *)o + d->off;
	if (d->kind == OPT_STR) {
		free(*(char **)p);
		*(char **)p = v->s;
		v->s = NULL;
	} else if (d->kind == OPT_LONG) {
		*(long *)p = v->l;
	} else {
		*(bool *)p = v->b;
	}
	o->given |= 1UL << row(d);
	o->origin[row(d)] = (struct opt_origin){(unsigned char)src, line};
}

static int set_value(struct options *o, const struct opt_def *d, const char *val, const char *where,
		     enum opt_src src, struct opt_err *err)
{
	struct opt_val v;
	if (parse_value(d, val, where, &v, err) < 0)
		return -1;
	store(o, d, &v, src, 0);
	return 0;
}

static int unknown_flag(const char *name, struct opt_err *err)
{
	const char *near = near_miss(name, false);
	if (near)
		seterr(err, _("不明なオプションです: --%s（--%s のことですか？）"), name, near);
	else
		seterr(err, _("不明なオプションです: --%s"), name);
	return -1;
}

int options_parse_argv(struct options *o, int argc, char **argv, struct opt_err *err)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strncmp(a, "--", 2) != 0 || a[2] == '\0') {
			seterr(err, _("不明な引数です: %.80s"), a);
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
		const struct opt_def *d = find_flag(name);
		if (!d)
			return unknown_flag(name, err);
		const char *val = eq ? eq + 1 : NULL;
		if ((d->kind == OPT_STR || d->kind == OPT_LONG) && !val) {
			if (i + 1 >= argc) {
				seterr(err, _("--%s には値が必要です"), name);
				return -1;
			}
			val = argv[++i];
		}
		char where[80];
		snprintf(where, sizeof where, "--%s", name);
		if (set_value(o, d, val, where, OPT_SRC_FLAG, err) < 0)
			return -1;
	}
	return 0;
}

/* The value of name in envp, or NULL. */
static const char *env_get(char *const *envp, const char *name)
{
	size_t n = strlen(name);
	for (char *const *e = envp; e && *e; e++)
		if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
			return *e + n + 1;
	return NULL;
}

int options_apply_env(struct options *o, char *const *envp, struct opt_err *err)
{
	for (size_t i = 0; i < NOPTS; i++) {
		const struct opt_def *d = &opt_table[i];
		const char *val = d->env ? env_get(envp, d->env) : NULL;
		if (!val || !*val)
			continue; /* an empty variable counts as unset */
		if (set_value(o, d, val, d->env, OPT_SRC_ENV, err) < 0)
			return -1;
	}
	return 0;
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

/* One config line's key: a known key (returned), or err filled with why not. */
static const struct opt_def *config_key(const char *name, size_t lineno, const char *key, struct opt_err *err)
{
	const struct opt_def *d = find_key(key);
	if (d)
		return d;
	d = find_flag(key);
	const char *near = near_miss(key, true);
	if (d)
		seterr(err, _("%s:%zu: %s は設定ファイルには書けません（コマンドラインの --%s で指定してください）"),
		       name, lineno, key, d->flag);
	else if (near)
		seterr(err, _("%s:%zu: 不明な設定です: %.80s（%s のことですか？）"), name, lineno, key, near);
	else
		seterr(err, _("%s:%zu: 不明な設定です: %.80s"), name, lineno, key);
	return NULL;
}

/* One line (NUL-terminated, already cut at the newline) into pend[]. 0, or -1 with err filled. */
static int config_line(char *line, const char *name, size_t lineno, struct opt_val *pend, unsigned *lines,
		       struct opt_err *err)
{
	char *s = trim(line);
	if (*s == '\0' || *s == '#')
		return 0;
	char *eq = strchr(s, '=');
	if (!eq) {
		seterr(err, _("%s:%zu: 「名前 = 値」の形で書いてください"), name, lineno);
		return -1;
	}
	*eq = '\0';
	char *key = trim(s), *val = trim(eq + 1);
	size_t vl = strlen(val);
	if (vl >= 2 && val[0] == '"' && val[vl - 1] == '"') {
		val[vl - 1] = '\0';
		val++;
	}
	if (*key == '\0') {
		seterr(err, _("%s:%zu: 「名前 = 値」の形で書いてください"), name, lineno);
		return -1;
	}
	const struct opt_def *d = config_key(name, lineno, key, err);
	if (!d)
		return -1;
	if (lines[row(d)]) {
		seterr(err, _("%s:%zu: %s は %u 行目ですでに設定されています"), name, lineno, key, lines[row(d)]);
		return -1;
	}
	char where[600];
	snprintf(where, sizeof where, "%s:%zu: %s", name, lineno, key);
	if (parse_value(d, val, where, &pend[row(d)], err) < 0)
		return -1;
	lines[row(d)] = (unsigned)lineno;
	return 0;
}

int options_parse_config(struct options *o, enum opt_src src, const char *name, const char *text,
			 size_t len, struct opt_err *err)
{
	/* Every line is checked before anything is stored: a bad file is never half-applied. */
	struct opt_val pend[NOPTS];
	unsigned lines[NOPTS] = {0};
	memset(pend, 0, sizeof pend);
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
		} else if (memchr(p, '\0', n)) {
			seterr(err, _("%s:%zu: 不正な文字があります"), name, lineno);
			rc = -1;
		} else {
			memcpy(line, p, n);
			line[n] = '\0';
			rc = config_line(line, name, lineno, pend, lines, err);
		}
		p += n + (nl ? 1 : 0);
	}
	char *path = rc == 0 && src >= OPT_SRC_SYSTEM && src <= OPT_SRC_CONFIG ? strdup(name) : NULL;
	if (rc == 0 && !path) {
		seterr(err, _("%s: メモリが足りません"), name);
		rc = -1;
	}
	for (size_t i = 0; i < NOPTS; i++) {
		if (rc == 0 && lines[i])
			store(o, &opt_table[i], &pend[i], src, lines[i]);
		free(pend[i].s);
	}
	if (rc == 0) {
		free(o->file[src - OPT_SRC_SYSTEM]);
		o->file[src - OPT_SRC_SYSTEM] = path;
	}
	return rc;
}

/* Read one config file onto o. A missing file is fine unless required. 0 or -1. */
static int load_file(struct options *o, enum opt_src src, const char *path, bool required,
		     struct opt_err *err)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		if (!required && errno == ENOENT)
			return 0;
		seterr(err, _("%s: 設定ファイルを開けません: %s"), path, strerror(errno));
		return -1;
	}
	struct stat st;
	if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
		fclose(f);
		seterr(err, _("%s: 設定ファイルが普通のファイルではありません"), path);
		return -1;
	}
	static char buf[65536];
	size_t n = fread(buf, 1, sizeof buf, f);
	bool toolong = n == sizeof buf && fgetc(f) != EOF;
	bool bad = ferror(f);
	fclose(f);
	if (bad || toolong) {
		seterr(err, toolong ? _("%s: 設定ファイルが大きすぎます（64 KiBまで）") : _("%s: 設定ファイルを読めません"),
		       path);
		return -1;
	}
	return options_parse_config(o, src, path, buf, n, err);
}

/* Move what layer set onto o (later sources override earlier ones). */
static void merge(struct options *o, struct options *layer)
{
	for (size_t i = 0; i < NOPTS; i++) {
		const struct opt_def *d = &opt_table[i];
		if (!(layer->given & (1UL << i)))
			continue;
		char *src = (char *)layer + d->off;
		struct opt_val v = {0};
		if (d->kind == OPT_STR) {
			v.s = *(char **)src;
			*(char **)src = NULL;
		} else if (d->kind == OPT_LONG) {
			v.l = *(long *)src;
		} else {
			v.b = *(bool *)src;
		}
		store(o, d, &v, (enum opt_src)layer->origin[i].src, layer->origin[i].line);
	}
	layer->given = 0;
}

/* The kiosk rule: once kiosk mode is on (from any source), the OPT_TRUSTED settings may not come
 * from RENKEI_* or the user's own file, and these two may turn kiosk mode on but not off when the
 * trusted sources (system file, --config, command line) turned it on. 0 or -1. */
static int kiosk_rule(const struct options *o, bool trusted_kiosk, char *const *envp, struct opt_err *err)
{
	if (trusted_kiosk && !o->kiosk) {
		size_t k = row(find_flag("kiosk"));
		if (o->origin[k].src == OPT_SRC_ENV)
			seterr(err, _("%s: キオスクモードは環境変数では解除できません"), opt_table[k].env);
		else
			seterr(err, _("%s:%u: キオスクモードは利用者の設定ファイルでは解除できません"),
			       o->file[OPT_SRC_USER - OPT_SRC_SYSTEM], o->origin[k].line);
		return -1;
	}
	if (!o->kiosk)
		return 0;
	/* A system file chosen by the environment (RENKEI_SYSCONFDIR, for tests) is trusted no more. */
	bool sys_untrusted = env_get(envp, "RENKEI_SYSCONFDIR") != NULL;
	for (size_t i = 0; i < NOPTS; i++) {
		const struct opt_def *d = &opt_table[i];
		unsigned src = o->origin[i].src;
		if (!(d->flags & OPT_TRUSTED) || !(o->given & (1UL << i)))
			continue;
		if (src == OPT_SRC_ENV) {
			seterr(err, _("%s: キオスクモードでは %s を環境変数から設定できません（%s/renkei.conf、--config "
				      "またはコマンドラインで指定してください）"),
			       d->env, d->flag, RENKEI_SYSCONFDIR_DEFAULT);
			return -1;
		}
		if (src == OPT_SRC_SYSTEM && sys_untrusted) {
			seterr(err, _("%s:%u: キオスクモードでは RENKEI_SYSCONFDIR で選んだファイルから %s を設定できません"),
			       o->file[0], o->origin[i].line, d->key);
			return -1;
		}
		if (src == OPT_SRC_USER) {
			seterr(err, _("%s:%u: キオスクモードでは %s を利用者の設定ファイルから設定できません（%s/renkei.conf、"
				      "--config またはコマンドラインで指定してください）"),
			       o->file[OPT_SRC_USER - OPT_SRC_SYSTEM], o->origin[i].line, d->key,
			       RENKEI_SYSCONFDIR_DEFAULT);
			return -1;
		}
	}
	return 0;
}

/* The paths of the system and the user's file, from envp. */
static void file_paths(char *const *envp, char *sys, char *user, size_t n)
{
	const char *dir = env_get(envp, "RENKEI_SYSCONFDIR");
	snprintf(sys, n, "%s/renkei.conf", dir && *dir ? dir : RENKEI_SYSCONFDIR_DEFAULT);
	const char *xdg = env_get(envp, "XDG_CONFIG_HOME"), *home = env_get(envp, "HOME");
	if (xdg && *xdg == '/')
		snprintf(user, n, "%s/renkei/config", xdg);
	else if (home && *home)
		snprintf(user, n, "%s/.config/renkei/config", home);
	else
		*user = '\0';
}

int options_load(struct options *o, int argc, char **argv, char *const *envp, struct opt_err *err)
{
	struct options cli, env;
	size_t kiosk_row = row(find_flag("kiosk"));
	bool trusted_kiosk = false;
	memset(&cli, 0, sizeof cli);
	memset(&env, 0, sizeof env);
	int rc = options_parse_argv(&cli, argc, argv, err);
	if (rc == 0)
		rc = options_apply_env(&env, envp, err);
	/* Messages about the files below in the language asked for on the command line or environment. */
	const char *lang = cli.lang ? cli.lang : env.lang;
	if (lang && (!strcmp(lang, "en") || !strcmp(lang, "ja")))
		i18n_set_lang(!strcmp(lang, "en") ? LANG_EN : LANG_JA);
	if (rc == 0 && !cli.help && !cli.version) {
		char sys[PATH_MAX], user[PATH_MAX];
		file_paths(envp, sys, user, sizeof sys);
		const char *conf = cli.config ? cli.config : env.config;
		rc = load_file(o, OPT_SRC_SYSTEM, sys, false, err);
		trusted_kiosk = o->kiosk && !env_get(envp, "RENKEI_SYSCONFDIR");
		if (rc == 0 && *user)
			rc = load_file(o, OPT_SRC_USER, user, false, err);
		if (rc == 0 && conf)
			rc = load_file(o, OPT_SRC_CONFIG, conf, true, err);
		if (rc == 0 && o->origin[kiosk_row].src == OPT_SRC_CONFIG)
			trusted_kiosk = o->kiosk;
	}
	if (cli.given & (1UL << kiosk_row))
		trusted_kiosk = cli.kiosk;
	/* Even after an error: the environment's and the command line's --lang still choose the
	 * language of the message. */
	merge(o, &env);
	merge(o, &cli);
	options_free(&cli);
	options_free(&env);
	if (rc == 0 && !o->help && !o->version)
		rc = kiosk_rule(o, trusted_kiosk, envp, err);
	return rc;
}

int options_validate(const struct options *o, struct opt_err *err)
{
	if (o->lang && strcmp(o->lang, "ja") && strcmp(o->lang, "en")) {
		seterr(err, _("--lang には ja か en を指定してください: %.40s"), o->lang);
		return -1;
	}
	if (o->kiosk && o->trace_unmasked) {
		seterr(err, _("--trace-unmasked はキオスクモードでは使えません（記録には口座番号などを伏せて書きます）"));
		return -1;
	}
	if (o->replay && o->kiosk) {
		seterr(err, _("--replay はキオスクモードでは使えません"));
		return -1;
	}
	if (o->replay && !o->server)
		return 0; /* a replay talks to no bank */
	if (!o->server) {
		seterr(err, _("銀行のサーバーを --server で指定してください（設定ファイルの server でも可）"));
		return -1;
	}
	if (strncmp(o->server, "https://", 8) != 0 || o->server[8] == '\0') {
		char shown[256];
		mask_url(o->server, shown, sizeof shown);
		seterr(err, _("サーバーは https:// で始まるURLで指定してください: %s"), shown);
		return -1;
	}
	if (o->cacert) {
		struct stat st;
		if (stat(o->cacert, &st) != 0) {
			seterr(err, _("CA証明書が見つかりません: %.400s"), o->cacert);
			return -1;
		}
	}
	return 0;
}

/* The userinfo of a URL masked: user:secret@host becomes ***@host. */
/* Not shown at all (a PIN's hash can be attacked offline). */
static void mask_hidden(const char *val, char *out, size_t n)
{
	snprintf(out, n, "%s", val && *val ? "***" : "");
}

static void mask_url(const char *val, char *out, size_t n)
{
	const char *scheme = strstr(val, "://");
	const char *auth = scheme ? scheme + 3 : val;
	size_t hostpart = strcspn(auth, "/?#");
	const char *at = memchr(auth, '@', hostpart);
	if (at)
		snprintf(out, n, "%.*s***%s", (int)(auth - val), val, at);
	else
		snprintf(out, n, "%s", val);
}

/* RFC 7512: the pin-value attribute is a secret; "pin-value=1234" -> "pin-value=***". */
static void mask_p11uri(const char *val, char *out, size_t n)
{
	size_t o = 0;
	const char *p = val;
	while (*p && o + 1 < n) {
		bool start = p == val || p[-1] == '?' || p[-1] == '&' || p[-1] == ';' || p[-1] == ':';
		if (start && !strncasecmp(p, "pin-value=", 10)) {
			o += (size_t)snprintf(out + o, n - o, "pin-value=***");
			p += 10 + strcspn(p + 10, "&;");
			if (o >= n)
				break;
			continue;
		}
		out[o++] = *p++;
	}
	out[o < n ? o : n - 1] = '\0';
}

/* Where row i of o came from, for --print-config. */
static void origin_text(const struct options *o, size_t i, char *out, size_t n)
{
	const struct opt_def *d = &opt_table[i];
	unsigned src = o->origin[i].src;
	if (!(o->given & (1UL << i)) || src == OPT_SRC_DEFAULT)
		snprintf(out, n, "%s", _("既定値"));
	else if (src == OPT_SRC_ENV)
		snprintf(out, n, "%s", d->env);
	else if (src == OPT_SRC_FLAG)
		snprintf(out, n, "--%s", d->flag);
	else
		snprintf(out, n, "%s:%u", o->file[src - OPT_SRC_SYSTEM] ? o->file[src - OPT_SRC_SYSTEM] : "?",
			 o->origin[i].line);
}

void options_print(FILE *f, const struct options *o)
{
	fprintf(f, "# %s\n", _("renkei の有効な設定（後の出所が前を上書き: 既定値 < システムの設定ファイル < "
			       "利用者の設定ファイル < --config < 環境変数 RENKEI_* < コマンドライン）"));
	for (size_t i = 0; i < NOPTS; i++) {
		const struct opt_def *d = &opt_table[i];
		if (!d->key && d != find_flag("config"))
			continue;
		const char *p = (const char *)o + d->off;
		char val[1024], shown[1024], from[PATH_MAX + 32];
		if (d->kind == OPT_STR) {
			const char *s = *(char *const *)p;
			if (s && d->mask)
				d->mask(s, val, sizeof val);
			else
				snprintf(val, sizeof val, "%s", s ? s : "");
		} else if (d->kind == OPT_LONG) {
			snprintf(val, sizeof val, "%ld", *(const long *)p);
		} else {
			snprintf(val, sizeof val, "%s", *(const bool *)p ? "yes" : "no");
		}
		snprintf(shown, sizeof shown, "%s", *val ? val : _("（未設定）"));
		origin_text(o, i, from, sizeof from);
		size_t w = ui_width(shown);
		fprintf(f, "%-16s %s%*s  # %s\n", d->key ? d->key : d->flag, shown, w < 32 ? (int)(32 - w) : 0, "",
			from);
	}
	for (size_t i = 0; i < OPT_NFILES; i++)
		if (o->file[i])
			fprintf(f, "# %s %s\n", _("読んだ設定ファイル:"), o->file[i]);
}

void options_usage(FILE *f, const char *prog)
{
	fprintf(f, _("使い方: %s [オプション]\n"), prog);
	fprintf(f, "%s\n\n", _("API連携認証（利用登録）を端末で行います。"));
	for (size_t i = 0; i < NOPTS; i++) {
		const struct opt_def *d = &opt_table[i];
		char left[64];
		if (d->arg)
			snprintf(left, sizeof left, "--%s %s", d->flag, _(d->arg));
		else
			snprintf(left, sizeof left, "--%s", d->flag);
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
	fprintf(f, "  %d  %s\n", EXIT_STAFF, _("係員がキオスクモードを終了しました"));
	fprintf(f, "\n%s\n", _("設定ファイル（後のものが優先）:"));
	fprintf(f, "  %s/renkei.conf, ~/.config/renkei/config, --config %s\n", RENKEI_SYSCONFDIR_DEFAULT,
		_("ファイル"));
	fprintf(f, "%s\n ", _("環境変数:"));
	size_t col = 1;
	for (size_t i = 0; i < NOPTS; i++) {
		const char *env = opt_table[i].env;
		if (!env)
			continue;
		if (col + 1 + strlen(env) > 78) {
			fprintf(f, "\n ");
			col = 1;
		}
		col += (size_t)fprintf(f, " %s", env);
	}
	fprintf(f, "\n%s\n", _("詳しくは renkei(1) と renkei.conf(5) を見てください。"));
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
	for (size_t i = 0; i < OPT_NFILES; i++) {
		free(o->file[i]);
		o->file[i] = NULL;
	}
}
