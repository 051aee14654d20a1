/* trace.c: the redacted JSONL trace of a flow (see include/trace.h). */
#include "trace.h"

#include "audit.h"
#include "i18n.h"
#include "ui.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define TRACE_MAX_IDS 64
#define TRACE_TEXT_MAX 1024

/* A run of characters typed into one entry, written as one "typed" action when something else
 * happens. */
struct typing {
	bool on;
	char form[64], field[64], col[64];
	long row;
	bool secret, login_id, digits;
	size_t count;
	char text[TRACE_TEXT_MAX]; /* non-secret fields only */
	size_t len;
	long ms;
};

struct trace {
	FILE *f;
	bool unmasked;
	long actions;            /* "n" of the last action */
	long long last_ms;       /* when the last action (or screen, dialog) was */
	struct typing typing;
	char *ids[TRACE_MAX_IDS];/* account ids seen, in order: "acct-<index+1>" */
	size_t nids;
};

static void mask_ids(struct trace *t, cJSON *o);

static const char *const secret_names[] = {
	"password", "answer", "pin", "pins", "session", "token", "access_token",
	"refresh_token", "device_code", "login_id", "idempotency_key", "user_code", "authorization",
	"token_pin", "secret",
};

static bool is_secret_name(const char *n)
{
	if (!n)
		return false;
	for (size_t i = 0; i < sizeof secret_names / sizeof secret_names[0]; i++)
		if (strcasecmp(n, secret_names[i]) == 0)
			return true;
	return false;
}

/* An account's "pin" member in an answer is its registration state, not a PIN (protocol §4.8). */
static bool is_state_word(const cJSON *c)
{
	static const char *const words[] = {"unregistered", "registered", "pending", "locked"};
	if (strcmp(c->string, "pin") || !cJSON_IsString(c) || !c->valuestring)
		return false;
	for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
		if (!strcmp(c->valuestring, words[i]))
			return true;
	return false;
}

void trace_redact(void *obj)
{
	cJSON *o = obj, *c;
	if (!o || !(cJSON_IsObject(o) || cJSON_IsArray(o)))
		return;
	for (c = o->child; c; c = c->next) {
		if (cJSON_IsObject(o) && is_secret_name(c->string) && !is_state_word(c)) {
			cJSON *r = cJSON_CreateString("[redacted]");
			size_t n = strlen(c->string) + 1;
			char *name = r ? cJSON_malloc(n) : NULL;
			if (name) {
				memcpy(name, c->string, n);
				r->string = name; /* ReplaceItemViaPointer keeps no name */
			}
			if (r && name && cJSON_ReplaceItemViaPointer(o, c, r))
				c = r;
			else {
				cJSON_Delete(r);
				/* could not replace: at least empty it */
				if (cJSON_IsString(c) && c->valuestring)
					explicit_bzero(c->valuestring, strlen(c->valuestring));
				else if (cJSON_IsNumber(c))
					cJSON_SetNumberValue(c, 0);
			}
			continue;
		}
		trace_redact(c);
	}
}

struct trace *trace_open(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return NULL;
	struct stat st;
	int e = 0;
	if (fstat(fd, &st) < 0 || fchmod(fd, 0600) < 0)
		e = errno;
	else if (!S_ISREG(st.st_mode) || st.st_uid != geteuid())
		e = EPERM;
	if (e) {
		close(fd);
		errno = e;
		return NULL;
	}
	struct trace *t = calloc(1, sizeof *t);
	if (!t || !(t->f = fdopen(fd, "a"))) {
		e = errno;
		free(t);
		close(fd);
		errno = e;
		return NULL;
	}
	return t;
}

void trace_close(struct trace *t)
{
	if (!t)
		return;
	trace_flush(t);
	fclose(t->f);
	for (size_t i = 0; i < t->nids; i++)
		free(t->ids[i]);
	free(t);
}

static void add_time(cJSON *o)
{
	struct timeval tv;
	struct tm tm;
	char buf[64], tz[8];
	gettimeofday(&tv, NULL);
	localtime_r(&tv.tv_sec, &tm);
	strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
	strftime(tz, sizeof tz, "%z", &tm); /* +0900 */
	size_t n = strlen(buf);
	snprintf(buf + n, sizeof buf - n, ".%03ld%.3s:%.2s", (long)(tv.tv_usec / 1000), tz,
		 tz[0] ? tz + 3 : "00");
	cJSON_AddStringToObject(o, "time", buf);
}

static void emit(struct trace *t, cJSON *o)
{
	char *s = o ? cJSON_PrintUnformatted(o) : NULL;
	if (s) {
		fprintf(t->f, "%s\n", s);
		fflush(t->f);
		cJSON_free(s);
	}
	cJSON_Delete(o);
}

void trace_request(struct trace *t, const struct flow_req *r, const struct flow *f, long status,
		   long ms)
{
	if (!t || !r)
		return;
	cJSON *o = cJSON_CreateObject();
	if (!o)
		return;
	add_time(o);
	trace_flush(t);
	cJSON_AddStringToObject(o, "type", "request");
	cJSON_AddStringToObject(o, "method", flow_method_name(r->method));
	cJSON_AddStringToObject(o, "path", r->path ? r->path : "");
	cJSON_AddStringToObject(o, "action", flow_action_name(r->action));
	if (status > 0)
		cJSON_AddNumberToObject(o, "status", (double)status);
	else
		cJSON_AddNullToObject(o, "status");
	cJSON_AddNumberToObject(o, "ms", (double)ms);
	if (f) {
		cJSON_AddStringToObject(o, "step", flow_step_name(f->step));
		if (f->error.kind != PROBLEM_NONE) {
			cJSON_AddStringToObject(o, "problem", problem_name(f->error.kind));
			if (f->error.tries_left >= 0)
				cJSON_AddNumberToObject(o, "tries_left", f->error.tries_left);
			if (f->error.retry_after >= 0)
				cJSON_AddNumberToObject(o, "retry_after", (double)f->error.retry_after);
			if (f->error.step != FLOW_NONE)
				cJSON_AddStringToObject(o, "server_step", flow_step_name(f->error.step));
		}
	}
	/* Bodies of requests that carry a secret are never written, not even redacted. */
	if (r->body && !r->secret_body && r->action != FLOW_ACT_LOGIN &&
	    r->action != FLOW_ACT_ANSWER && r->action != FLOW_ACT_PINS) {
		cJSON *b = cJSON_ParseWithLength(r->body, r->body_len);
		if (b) {
			trace_redact(b);
			mask_ids(t, b);
			cJSON_AddItemToObject(o, "body", b);
		}
	}
	emit(t, o);
}

void trace_event(struct trace *t, const char *what)
{
	if (!t)
		return;
	cJSON *o = cJSON_CreateObject();
	if (!o)
		return;
	trace_flush(t);
	cJSON_AddStringToObject(o, "type", "event");
	add_time(o);
	cJSON_AddStringToObject(o, "event", what ? what : "");
	emit(t, o);
}

/* ---- the whole flow: header, screens, actions, answers, end (docs/trace.md) ----------------- */

static long long mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static cJSON *record(const char *type)
{
	cJSON *o = cJSON_CreateObject();
	if (o) {
		cJSON_AddStringToObject(o, "type", type);
		add_time(o);
	}
	return o;
}

/* The pseudonym of account id (registered when new): "acct-3"; NULL when the table is full. */
static const char *id_alias(struct trace *t, const char *id, char *buf, size_t size)
{
	size_t i;
	for (i = 0; i < t->nids; i++)
		if (!strcmp(t->ids[i], id))
			break;
	if (i == t->nids) {
		if (t->nids == TRACE_MAX_IDS || !(t->ids[i] = strdup(id)))
			return NULL;
		t->nids++;
	}
	snprintf(buf, size, "acct-%zu", i + 1);
	return buf;
}

/* Replace item (a member or element of o) by the string v: the new item, or item when it could not
 * be replaced. */
static cJSON *set_string(cJSON *o, cJSON *item, const char *v)
{
	cJSON *r = cJSON_CreateString(v);
	if (!r)
		return item;
	if (cJSON_IsObject(o)) {
		size_t n = strlen(item->string) + 1;
		char *name = cJSON_malloc(n);
		if (!name) {
			cJSON_Delete(r);
			return item;
		}
		memcpy(name, item->string, n);
		r->string = name;
	}
	if (cJSON_ReplaceItemViaPointer(o, item, r))
		return r;
	cJSON_Delete(r);
	return item;
}

/* Accounts (objects with a "number"): number masked, id registered. */
static void collect_accounts(struct trace *t, cJSON *o)
{
	if (!cJSON_IsObject(o) && !cJSON_IsArray(o))
		return;
	cJSON *num = cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, "number") : NULL;
	cJSON *id = cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, "id") : NULL;
	if (cJSON_IsString(num) && num->valuestring) {
		char m[128], a[32];
		audit_mask(num->valuestring, m, sizeof m);
		set_string(o, num, m);
		if (cJSON_IsString(id) && id->valuestring)
			id_alias(t, id->valuestring, a, sizeof a);
	}
	for (cJSON *c = o->child; c; c = c->next)
		collect_accounts(t, c);
}

/* Every string that is a known account id becomes its pseudonym. */
static void alias_ids(struct trace *t, cJSON *o)
{
	for (cJSON *c = o ? o->child : NULL; c; c = c->next) {
		if (cJSON_IsString(c) && c->valuestring) {
			for (size_t i = 0; i < t->nids; i++)
				if (!strcmp(t->ids[i], c->valuestring)) {
					char a[32];
					snprintf(a, sizeof a, "acct-%zu", i + 1);
					c = set_string(o, c, a);
					break;
				}
		} else {
			alias_ids(t, c);
		}
	}
}

static void mask_ids(struct trace *t, cJSON *o)
{
	if (t->unmasked || !o)
		return;
	collect_accounts(t, o);
	alias_ids(t, o);
}

/* The server URL with its userinfo masked (user:secret@host -> ***@host). */
static void add_server(cJSON *o, const char *url)
{
	if (!url) {
		cJSON_AddNullToObject(o, "server");
		return;
	}
	char buf[512];
	const char *sch = strstr(url, "://");
	const char *auth = sch ? sch + 3 : url;
	size_t host = strcspn(auth, "/?#");
	const char *at = memchr(auth, '@', host);
	if (at)
		snprintf(buf, sizeof buf, "%.*s***%s", (int)(auth - url), url, at);
	else
		snprintf(buf, sizeof buf, "%s", url);
	cJSON_AddStringToObject(o, "server", buf);
}

static void add_opt_str(cJSON *o, const char *name, const char *v)
{
	if (v)
		cJSON_AddStringToObject(o, name, v);
	else
		cJSON_AddNullToObject(o, name);
}

void trace_start(struct trace *t, const struct options *o)
{
	if (!t)
		return;
	t->unmasked = o->trace_unmasked;
	cJSON *h = cJSON_CreateObject(), *term = cJSON_CreateObject(), *opts = cJSON_CreateObject();
	if (!h || !term || !opts) {
		cJSON_Delete(h);
		cJSON_Delete(term);
		cJSON_Delete(opts);
		return;
	}
	cJSON_AddStringToObject(h, "trace", "renkei");
	cJSON_AddNumberToObject(h, "version", TRACE_VERSION);
	cJSON_AddStringToObject(h, "renkei", RENKEI_VERSION);
	add_time(h);
	struct winsize ws = {0};
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) < 0)
		ws.ws_col = ws.ws_row = 0;
	cJSON_AddNumberToObject(term, "cols", ws.ws_col);
	cJSON_AddNumberToObject(term, "rows", ws.ws_row);
	add_opt_str(term, "term", getenv("TERM"));
	cJSON_AddItemToObject(h, "terminal", term);
	cJSON_AddStringToObject(h, "lang", i18n_lang_code(i18n_lang()));
	add_server(opts, o->server);
	cJSON_AddBoolToObject(opts, "kiosk", o->kiosk);
	if (o->user_code)
		cJSON_AddStringToObject(opts, "user_code", "[redacted]");
	add_opt_str(opts, "forms_dir", o->forms_dir);
	add_opt_str(opts, "pkcs11_module", o->pkcs11_module);
	cJSON_AddBoolToObject(opts, "unmasked", o->trace_unmasked);
	cJSON_AddItemToObject(h, "options", opts);
	emit(t, h);
	t->last_ms = mono_ms();
	ui_set_observer(trace_observe, t);
}

/* ---- screens -------------------------------------------------------------------------------- */

static const char *const pin_states[] = {
	[FLOW_PIN_UNREGISTERED] = "unregistered", [FLOW_PIN_REGISTERED] = "registered",
	[FLOW_PIN_PENDING] = "pending",
};
static const char *const row_results[] = {
	[FLOW_ROW_NONE] = NULL,       [FLOW_ROW_REGISTERED] = "registered", [FLOW_ROW_WRONG] = "wrong",
	[FLOW_ROW_LOCKED] = "locked", [FLOW_ROW_FORMAT] = "format",         [FLOW_ROW_EMPTY] = "empty",
};

static cJSON *account_json(struct trace *t, const struct flow_account *a)
{
	cJSON *o = cJSON_CreateObject();
	if (!o)
		return NULL;
	char buf[128];
	const char *id = a->id ? a->id : "";
	if (!t->unmasked)
		id = id_alias(t, id, buf, sizeof buf);
	add_opt_str(o, "id", id);
	add_opt_str(o, "branch", a->branch_code);
	add_opt_str(o, "type", a->type_code);
	char m[128];
	if (a->number && !t->unmasked)
		audit_mask(a->number, m, sizeof m);
	add_opt_str(o, "number", a->number && !t->unmasked ? m : a->number);
	add_opt_str(o, "memo", a->memo);
	cJSON_AddStringToObject(o, "pin", pin_states[a->pin]);
	if (a->pin_locked)
		cJSON_AddBoolToObject(o, "locked", true);
	if (row_results[a->result])
		cJSON_AddStringToObject(o, "result", row_results[a->result]);
	if (a->result_tries_left >= 0 && a->result == FLOW_ROW_WRONG)
		cJSON_AddNumberToObject(o, "tries_left", a->result_tries_left);
	cJSON_AddBoolToObject(o, "selected", a->selected);
	return o;
}

static void add_accounts(struct trace *t, cJSON *o, const struct flow_account *a, size_t n)
{
	cJSON *arr = n ? cJSON_AddArrayToObject(o, "accounts") : NULL;
	for (size_t i = 0; arr && i < n; i++)
		cJSON_AddItemToArray(arr, account_json(t, &a[i]));
}

static void add_scopes(cJSON *o, const struct flow_scope *sc, size_t n)
{
	cJSON *arr = n ? cJSON_AddArrayToObject(o, "scopes") : NULL;
	for (size_t i = 0; arr && i < n; i++) {
		cJSON *s = cJSON_CreateObject();
		if (!s)
			return;
		add_opt_str(s, "id", sc[i].id);
		cJSON_AddBoolToObject(s, "selected", sc[i].selected);
		cJSON_AddItemToArray(arr, s);
	}
}

static void add_error(cJSON *o, const struct flow_error *e)
{
	if (e->kind == PROBLEM_NONE)
		return;
	cJSON_AddStringToObject(o, "error", problem_name(e->kind));
	if (e->tries_left >= 0)
		cJSON_AddNumberToObject(o, "tries_left", e->tries_left);
	if (e->retry_after >= 0)
		cJSON_AddNumberToObject(o, "retry_after", (double)e->retry_after);
}

void trace_screen(struct trace *t, const char *form, const struct flow *f)
{
	if (!t)
		return;
	trace_flush(t);
	cJSON *o = record("screen");
	if (!o)
		return;
	enum lang l = i18n_lang();
	cJSON_AddStringToObject(o, "form", form ? form : "");
	cJSON_AddStringToObject(o, "step", flow_step_name(f->step));
	cJSON_AddStringToObject(o, "lang", i18n_lang_code(l));
	if (f->partner.name.ja)
		cJSON_AddStringToObject(o, "partner", l10n_get(&f->partner.name, l));
	add_error(o, &f->error);
	if (f->step == FLOW_QUESTION && f->question.text.ja)
		cJSON_AddStringToObject(o, "question", l10n_get(&f->question.text, l));
	if (f->step == FLOW_SCOPES)
		add_scopes(o, f->scopes, f->n_scopes);
	if (f->step == FLOW_PINS || f->step == FLOW_PIN_RESULT)
		add_accounts(t, o, f->accounts, f->n_accounts);
	if (f->step == FLOW_PERMISSION || f->step == FLOW_DONE) {
		add_scopes(o, f->perm.scopes, f->perm.n_scopes);
		add_accounts(t, o, f->perm.accounts, f->perm.n_accounts);
		if (f->perm.from || f->perm.to) {
			cJSON *p = cJSON_AddObjectToObject(o, "period");
			if (p) {
				add_opt_str(p, "from", f->perm.from);
				add_opt_str(p, "to", f->perm.to);
			}
		}
	}
	emit(t, o);
	t->last_ms = mono_ms();
}

/* ---- actions -------------------------------------------------------------------------------- */

static const char *const ev_names[] = {
	[UI_EV_SHOWN] = NULL,          [UI_EV_TYPED] = "typed",       [UI_EV_EDITED] = "edited",
	[UI_EV_FOCUS] = "focus",       [UI_EV_TICKED] = "ticked",     [UI_EV_UNTICKED] = "unticked",
	[UI_EV_PRESSED] = "pressed",   [UI_EV_REFUSED] = "refused",   [UI_EV_SCROLLED] = "scrolled",
	[UI_EV_LANG] = "lang",         [UI_EV_BACK] = "back",         [UI_EV_CANCEL] = "cancel",
	[UI_EV_HELP] = "help",         [UI_EV_QUIT] = "quit",         [UI_EV_ANSWERED] = "answered",
	[UI_EV_KEY] = "key",
};

/* Entries whose content is never written, whatever their flags (docs/trace.md). */
static const char *const secret_binds[] = {"password", "answer", "user_code", "pin", "token_pin"};

static bool secret_field(const struct ui_event *ev)
{
	if (ev->masked)
		return true;
	for (size_t i = 0; ev->bind && i < sizeof secret_binds / sizeof secret_binds[0]; i++)
		if (!strcmp(ev->bind, secret_binds[i]))
			return true;
	return false;
}

/* An action record with its common members; NULL on ENOMEM. */
static cJSON *action(struct trace *t, const char *what, const char *form, const char *dialog, long ms)
{
	cJSON *o = record("action");
	if (!o)
		return NULL;
	cJSON_AddNumberToObject(o, "n", (double)++t->actions);
	cJSON_AddNumberToObject(o, "ms", (double)ms);
	if (form)
		cJSON_AddStringToObject(o, "form", form);
	else
		cJSON_AddStringToObject(o, "dialog", dialog ? dialog : "");
	cJSON_AddStringToObject(o, "what", what);
	return o;
}

static void add_field(cJSON *o, const char *field, long row, const char *col)
{
	if (field)
		cJSON_AddStringToObject(o, "field", field);
	if (row >= 0)
		cJSON_AddNumberToObject(o, "row", (double)row);
	if (col && *col)
		cJSON_AddStringToObject(o, "col", col);
}

void trace_flush(struct trace *t)
{
	if (!t || !t->typing.on)
		return;
	struct typing *y = &t->typing;
	y->on = false;
	cJSON *o = action(t, "typed", y->form, NULL, y->ms);
	if (!o)
		return;
	cJSON_AddStringToObject(o, "key", "text");
	add_field(o, y->field, y->row, y->col);
	cJSON_AddNumberToObject(o, "count", (double)y->count);
	if (y->digits)
		cJSON_AddBoolToObject(o, "digits", true);
	if (y->secret) {
		cJSON_AddBoolToObject(o, "secret", true);
	} else {
		char m[TRACE_TEXT_MAX];
		y->text[y->len] = '\0';
		if (y->login_id && !t->unmasked)
			audit_mask(y->text, m, sizeof m);
		cJSON_AddStringToObject(o, "text", y->login_id && !t->unmasked ? m : y->text);
		explicit_bzero(m, sizeof m);
	}
	explicit_bzero(y->text, sizeof y->text);
	emit(t, o);
}

static bool same_field(const struct typing *y, const struct ui_event *ev)
{
	return y->on && !strcmp(y->form, ev->form ? ev->form : "") && !strcmp(y->field, ev->field ? ev->field : "") &&
	       y->row == ev->row && !strcmp(y->col, ev->col ? ev->col : "");
}

static void typed(struct trace *t, const struct ui_event *ev, long ms)
{
	struct typing *y = &t->typing;
	if (!same_field(y, ev)) {
		trace_flush(t);
		memset(y, 0, sizeof *y);
		y->on = true;
		snprintf(y->form, sizeof y->form, "%s", ev->form ? ev->form : "");
		snprintf(y->field, sizeof y->field, "%s", ev->field ? ev->field : "");
		snprintf(y->col, sizeof y->col, "%s", ev->col ? ev->col : "");
		y->row = ev->row;
		y->secret = secret_field(ev);
		y->login_id = ev->bind && !strcmp(ev->bind, "login_id");
		y->digits = ev->digits;
		y->ms = 0;
	}
	y->count++;
	y->ms += ms;
	size_t l = ev->text ? strlen(ev->text) : 0;
	if (!y->secret && y->len + l < sizeof y->text) {
		memcpy(y->text + y->len, ev->text, l);
		y->len += l;
	}
}

void trace_observe(const struct ui_event *ev, void *ctx)
{
	struct trace *t = ctx;
	long long now = mono_ms();
	long ms = (long)(now - t->last_ms);
	t->last_ms = now;
	if (ev->what == UI_EV_SHOWN) {
		if (!ev->form) /* a dialog: its first action counts from here */
			trace_flush(t);
		return;
	}
	if (ev->what == UI_EV_TYPED) {
		typed(t, ev, ms);
		return;
	}
	trace_flush(t);
	cJSON *o = action(t, ev_names[ev->what], ev->form, ev->dialog, ms);
	if (!o)
		return;
	char kb[32];
	cJSON_AddStringToObject(o, "key", ui_key_name(ev->key, ev->fkey, kb, sizeof kb));
	if (ev->what == UI_EV_PRESSED || ev->what == UI_EV_ANSWERED)
		add_opt_str(o, ev->what == UI_EV_PRESSED ? "button" : "answer", ev->button);
	else if (ev->form)
		add_field(o, ev->field, ev->row, ev->col);
	if (ev->what == UI_EV_LANG)
		cJSON_AddStringToObject(o, "lang", i18n_lang_code(i18n_lang()));
	emit(t, o);
}

/* ---- answers and the end -------------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0 (overlong, surrogate, past
 * U+10FFFF, cut short). */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	size_t len = s[0] < 0x80 ? 1 : (s[0] & 0xe0) == 0xc0 ? 2 : (s[0] & 0xf0) == 0xe0 ? 3
		     : (s[0] & 0xf8) == 0xf0 ? 4 : 0;
	if (!len || len > n)
		return 0;
	unsigned long cp = len == 1 ? s[0] : s[0] & (0x7f >> len);
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	static const unsigned long min[] = {0, 0, 0x80, 0x800, 0x10000};
	if (cp < min[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/* A body that is not JSON, as a JSON string can hold it (docs/trace.md: UTF-8 lines): invalid
 * bytes become U+FFFD, NUL and control characters other than tab and newline are dropped. out
 * has room for 3 * n + 1 bytes. */
static void utf8_clean(const char *in, size_t n, char *out)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t o = 0;
	for (size_t i = 0; i < n;) {
		size_t l = utf8_seq(s + i, n - i);
		if (!l) {
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
			continue;
		}
		if (!(l == 1 && ((s[i] < 0x20 && s[i] != '\t' && s[i] != '\n') || s[i] == 0x7f))) {
			memcpy(out + o, s + i, l);
			o += l;
		}
		i += l;
	}
	out[o] = '\0';
}

void trace_response(struct trace *t, long status, const char *content_type, const char *body, size_t len,
		    long ms, enum problem failure)
{
	if (!t)
		return;
	cJSON *o = record("response");
	if (!o)
		return;
	if (status > 0)
		cJSON_AddNumberToObject(o, "status", (double)status);
	else
		cJSON_AddNullToObject(o, "status");
	cJSON_AddNumberToObject(o, "ms", (double)ms);
	if (status <= 0) {
		cJSON_AddStringToObject(o, "error", problem_name(failure));
		emit(t, o);
		return;
	}
	add_opt_str(o, "content_type", content_type && *content_type ? content_type : NULL);
	cJSON *b = body ? cJSON_ParseWithLength(body, len) : NULL;
	if (b) {
		trace_redact(b);
		mask_ids(t, b);
		cJSON_AddItemToObject(o, "body", b);
	} else if (body) { /* not JSON (an HTML error page): as text, cut short */
		size_t n = len > 4096 ? 4096 : len;
		char *txt = malloc(n * 3 + 1);
		if (txt) {
			utf8_clean(body, n, txt);
			cJSON_AddStringToObject(o, "body_text", txt);
			free(txt);
		}
	}
	emit(t, o);
}

void trace_end(struct trace *t, const struct flow *f, int exit_code)
{
	if (!t)
		return;
	trace_flush(t);
	cJSON *o = record("end");
	if (!o)
		return;
	static const char *const results[FLOW__NSTEPS] = {
		[FLOW_DONE] = "allowed", [FLOW_DENIED] = "denied", [FLOW_LOCKED] = "locked",
	};
	cJSON_AddStringToObject(o, "step", flow_step_name(f->step));
	cJSON_AddStringToObject(o, "result", results[f->step] ? results[f->step] : "error");
	cJSON_AddNumberToObject(o, "exit", exit_code);
	cJSON_AddNumberToObject(o, "actions", (double)t->actions);
	emit(t, o);
}
