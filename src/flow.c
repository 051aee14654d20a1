/* flow.c: the consent state machine (see include/flow.h and docs/protocol.md §4-5). */
#include "flow.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <unistd.h>

#define MAX_ROWS 256      /* accounts or scopes in one answer */
#define MAX_ID 256        /* bytes of an id / code */
#define MAX_TEXT 65536    /* bytes of a text */
#define MAX_SESSION 1024  /* bytes of a session token */

#define P_CONSENT "/consent/v1"

const char *l10n_get(const struct l10n *t, enum lang l)
{
	if (!t)
		return "";
	if (l == LANG_EN && t->en && t->en[0])
		return t->en;
	return t->ja ? t->ja : "";
}

bool flow_account_selectable(const struct flow_account *a)
{
	return a->pin == FLOW_PIN_UNREGISTERED && !a->pin_locked;
}

/* ---- freeing ---------------------------------------------------------------------------------- */

static void xfree(char **p)
{
	free(*p);
	*p = NULL;
}

static void l10n_free(struct l10n *t)
{
	xfree(&t->ja);
	xfree(&t->en);
}

static void scopes_free(struct flow_scope **v, size_t *n)
{
	for (size_t i = 0; *v && i < *n; i++) {
		xfree(&(*v)[i].id);
		l10n_free(&(*v)[i].name);
	}
	free(*v);
	*v = NULL;
	*n = 0;
}

static void account_free(struct flow_account *a)
{
	xfree(&a->id);
	l10n_free(&a->branch_name);
	xfree(&a->branch_code);
	xfree(&a->type_code);
	xfree(&a->number);
	xfree(&a->memo);
	secret_free(&a->pin_input);
}

static void accounts_free(struct flow_account **v, size_t *n)
{
	for (size_t i = 0; *v && i < *n; i++)
		account_free(&(*v)[i]);
	free(*v);
	*v = NULL;
	*n = 0;
}

static void perm_free(struct flow_permission *p)
{
	scopes_free(&p->scopes, &p->n_scopes);
	accounts_free(&p->accounts, &p->n_accounts);
	xfree(&p->from);
	xfree(&p->to);
	l10n_free(&p->terms);
	p->back = FLOW_NONE;
	p->intent = false;
	p->terms_read = false;
}

static void partner_free(struct flow_partner *p)
{
	xfree(&p->client_id);
	l10n_free(&p->name);
}

static void link_free(struct flow_link *l)
{
	xfree(&l->id);
	partner_free(&l->partner);
	scopes_free(&l->scopes, &l->n_scopes);
	accounts_free(&l->accounts, &l->n_accounts);
	xfree(&l->from);
	xfree(&l->to);
	l->selected = false;
}

static void links_free(struct flow_link **v, size_t *n)
{
	for (size_t i = 0; *v && i < *n; i++)
		link_free(&(*v)[i]);
	free(*v);
	*v = NULL;
	*n = 0;
}

static void request_free(struct flow_request *r)
{
	scopes_free(&r->scopes, &r->n_scopes);
	r->scope_choice = false;
	r->period_days = 0;
}

static void error_clear(struct flow_error *e)
{
	memset(e, 0, sizeof *e);
	e->kind = PROBLEM_NONE;
	e->tries_left = -1;
	e->retry_after = -1;
	e->step = FLOW_NONE;
	e->field = FLOW_FIELD_NONE;
}

/* Server data of every step (not the partner/request, not what was typed outside rows). */
static void server_data_free(struct flow *f)
{
	partner_free(&f->partner);
	request_free(&f->request);
	l10n_free(&f->question.text);
	f->question.masked = false;
	f->question.max_length = 0;
	f->question.tries_left = -1;
	scopes_free(&f->scopes, &f->n_scopes);
	accounts_free(&f->accounts, &f->n_accounts);
	f->pin_length = 0;
	perm_free(&f->perm);
	links_free(&f->links, &f->n_links);
	links_free(&f->stopped, &f->n_stopped);
	f->login.offer_password = f->login.offer_certificate = false;
	f->login.method = FLOW_LOGIN_PASSWORD;
}

void flow_init(struct flow *f)
{
	memset(f, 0, sizeof *f);
	secret_install_json_hooks();
	f->step = FLOW_CODE;
	f->session_expires_in = -1;
	f->question.tries_left = -1;
	f->perm.back = FLOW_NONE;
	error_clear(&f->error);
}

void flow_free(struct flow *f)
{
	server_data_free(f);
	secret_free(&f->user_code);
	secret_free(&f->session);
	secret_free(&f->login.login_id);
	secret_free(&f->login.password);
	secret_free(&f->question.answer);
	explicit_bzero(f->idem_key, sizeof f->idem_key);
	explicit_bzero(f->idem_code, sizeof f->idem_code);
	f->step = FLOW_CODE;
	error_clear(&f->error);
}

void flow_reset(struct flow *f)
{
	flow_free(f);
	flow_init(f);
}

void flow_restart(struct flow *f)
{
	struct secret code = f->user_code; /* moved, not copied */
	f->user_code = (struct secret)SECRET_INIT;
	flow_free(f);
	flow_init(f);
	f->user_code = code;
}

void flow_confirm_partner(struct flow *f)
{
	if (f->step == FLOW_PARTNER) {
		f->step = FLOW_LOGIN;
		error_clear(&f->error);
	}
}

int flow_choose_method(struct flow *f, enum flow_login_method m)
{
	if (f->step != FLOW_PARTNER)
		return -1;
	if (m == FLOW_LOGIN_CERTIFICATE ? !f->login.offer_certificate : !f->login.offer_password) {
		error_clear(&f->error);
		f->error.kind = PROBLEM_METHOD_UNAVAILABLE;
		return -1;
	}
	f->login.method = m;
	flow_confirm_partner(f);
	return 0;
}

void flow_back_to_partner(struct flow *f)
{
	if (f->step == FLOW_LOGIN)
		f->step = FLOW_PARTNER;
	error_clear(&f->error);
}

size_t flow_links_selected(const struct flow *f)
{
	size_t n = 0;
	for (size_t i = 0; i < f->n_links; i++)
		n += f->links[i].selected;
	return n;
}

static int links_need_tick(struct flow *f)
{
	error_clear(&f->error);
	if (flow_links_selected(f))
		return 0;
	f->error.kind = PROBLEM_INPUT_REQUIRED;
	f->error.field = FLOW_FIELD_LINKS;
	return -1;
}

int flow_links_detail(struct flow *f)
{
	if (f->step != FLOW_LINKS || links_need_tick(f) < 0)
		return -1;
	f->step = FLOW_LINK_DETAIL;
	return 0;
}

int flow_links_confirm(struct flow *f)
{
	if ((f->step != FLOW_LINKS && f->step != FLOW_LINK_DETAIL) || links_need_tick(f) < 0)
		return -1;
	f->step = FLOW_LINK_CONFIRM;
	return 0;
}

void flow_links_back(struct flow *f)
{
	if (f->step == FLOW_LINK_STOPPED)
		links_free(&f->stopped, &f->n_stopped);
	if (f->step == FLOW_LINK_DETAIL || f->step == FLOW_LINK_CONFIRM || f->step == FLOW_LINK_STOPPED)
		f->step = FLOW_LINKS;
	error_clear(&f->error);
}

void flow_clear_error(struct flow *f)
{
	error_clear(&f->error);
}

void flow_set_error(struct flow *f, const struct flow_error *e)
{
	f->error = *e;
}

bool flow_is_final(const struct flow *f)
{
	return f->step == FLOW_DONE || f->step == FLOW_DENIED || f->step == FLOW_LOCKED ||
	       f->step == FLOW_FATAL || f->step == FLOW_ENDED;
}

int flow_exit_code(const struct flow *f)
{
	switch (f->step) {
	case FLOW_DONE: return EXIT_ALLOWED;
	case FLOW_ENDED: return EXIT_ALLOWED;
	case FLOW_DENIED: return EXIT_DENIED;
	case FLOW_LOCKED: return EXIT_LOCKED;
	case FLOW_CODE:
		if (f->error.kind == PROBLEM_NONE || f->error.kind == PROBLEM_INPUT_REQUIRED ||
		    f->error.kind == PROBLEM_INPUT_FORMAT)
			return EXIT_DENIED;
		return EXIT_ERROR;
	default: return EXIT_ERROR;
	}
}

/* ---- parsing helpers --------------------------------------------------------------------------
 * Every helper records a failure in px and returns a harmless default, so a parse runs to the end
 * and the caller checks px.bad once. Whatever was allocated is in the output structs and freed by
 * the normal free functions. */

struct px {
	bool bad;
};

enum {
	S_OPT = 1u << 0,      /* absent is fine (NULL) */
	S_NULLABLE = 1u << 1, /* JSON null is fine (NULL) */
	S_ID = 1u << 2,       /* an identifier: no control characters, at most MAX_ID bytes */
	S_NL = 1u << 3,       /* a text that keeps its line breaks */
};

/* The bidi controls and invisible format characters a server string could use to make the screen
 * say what it does not (U+202E turns text around): U+200B-200F, U+2028-202E, U+2066-2069, U+FEFF.
 * Their UTF-8 length at s, or 0. */
static size_t format_char_len(const unsigned char *s, size_t n)
{
	if (n >= 3 && s[0] == 0xe2 && s[1] == 0x80 &&
	    ((s[2] >= 0x8b && s[2] <= 0x8f) || (s[2] >= 0xa8 && s[2] <= 0xae)))
		return 3;
	if (n >= 3 && s[0] == 0xe2 && s[1] == 0x81 && s[2] >= 0xa6 && s[2] <= 0xa9)
		return 3;
	if (n >= 3 && s[0] == 0xef && s[1] == 0xbb && s[2] == 0xbf)
		return 3;
	return 0;
}

/* Display text: drop C0 controls (tab -> space; '\n' kept with S_NL), DEL, C1 controls and the
 * bidi/invisible format characters, so a server string can never move the terminal's cursor,
 * change its state or reorder what the customer reads. */
static char *text_dup(const char *s, unsigned flags)
{
	size_t n = strlen(s);
	char *o = malloc(n + 1), *w = o;
	if (!o)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\t')
			*w++ = ' ';
		else if (c == '\n' && (flags & S_NL))
			*w++ = '\n';
		else if (c < 0x20 || c == 0x7f)
			continue;
		else if (c == 0xc2 && i + 1 < n && (unsigned char)s[i + 1] >= 0x80 &&
			 (unsigned char)s[i + 1] <= 0x9f)
			i++;
		else if (format_char_len((const unsigned char *)s + i, n - i))
			i += format_char_len((const unsigned char *)s + i, n - i) - 1;
		else
			*w++ = (char)c;
	}
	*w = '\0';
	return o;
}

static const cJSON *p_member(struct px *p, const cJSON *o, const char *name, bool opt)
{
	const cJSON *m = cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, name) : NULL;
	if (!m && !opt)
		p->bad = true;
	return m;
}

static char *p_strval(struct px *p, const cJSON *m, unsigned flags)
{
	if (!m)
		return NULL;
	if (cJSON_IsNull(m) && (flags & S_NULLABLE))
		return NULL;
	if (!cJSON_IsString(m) || !m->valuestring) {
		p->bad = true;
		return NULL;
	}
	const char *s = m->valuestring;
	size_t n = strlen(s);
	if (flags & S_ID) {
		if (n == 0 || n > MAX_ID) {
			p->bad = true;
			return NULL;
		}
		for (size_t i = 0; i < n; i++)
			if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) {
				p->bad = true;
				return NULL;
			}
		char *d = strdup(s);
		if (!d)
			p->bad = true;
		return d;
	}
	if (n > MAX_TEXT) {
		p->bad = true;
		return NULL;
	}
	char *d = text_dup(s, flags);
	if (!d)
		p->bad = true;
	return d;
}

static char *p_str(struct px *p, const cJSON *o, const char *name, unsigned flags)
{
	return p_strval(p, p_member(p, o, name, flags & S_OPT), flags);
}

static long p_int(struct px *p, const cJSON *o, const char *name, long lo, long hi, bool opt,
		  long dflt)
{
	const cJSON *m = p_member(p, o, name, opt);
	if (!m)
		return dflt;
	if (opt && cJSON_IsNull(m))
		return dflt;
	if (!cJSON_IsNumber(m) || !isfinite(m->valuedouble) || m->valuedouble < (double)lo ||
	    m->valuedouble > (double)hi || (double)(long long)m->valuedouble != m->valuedouble) {
		p->bad = true;
		return dflt;
	}
	return (long)m->valuedouble;
}

static bool p_bool(struct px *p, const cJSON *o, const char *name, bool opt, bool dflt)
{
	const cJSON *m = p_member(p, o, name, opt);
	if (!m)
		return dflt;
	if (!cJSON_IsBool(m)) {
		p->bad = true;
		return dflt;
	}
	return cJSON_IsTrue(m);
}

static const cJSON *p_obj(struct px *p, const cJSON *o, const char *name, bool opt)
{
	const cJSON *m = p_member(p, o, name, opt);
	if (m && !cJSON_IsObject(m)) {
		p->bad = true;
		return NULL;
	}
	return m;
}

/* An array of 1..MAX_ROWS (0..MAX_ROWS with allow_empty) elements. */
static const cJSON *p_arr(struct px *p, const cJSON *o, const char *name, bool allow_empty,
			  int *count)
{
	const cJSON *m = p_member(p, o, name, false);
	*count = 0;
	if (!m)
		return NULL;
	int n = cJSON_IsArray(m) ? cJSON_GetArraySize(m) : -1;
	if (n < 0 || n > MAX_ROWS || (n == 0 && !allow_empty)) {
		p->bad = true;
		return NULL;
	}
	*count = n;
	return m;
}

/* A localized text object {"ja": "...", "en": "..."} (en optional or null). */
static void p_l10n(struct px *p, const cJSON *j, unsigned flags, struct l10n *t)
{
	if (!cJSON_IsObject(j)) {
		p->bad = true;
		return;
	}
	t->ja = p_str(p, j, "ja", flags & S_NL);
	t->en = p_str(p, j, "en", (flags & S_NL) | S_OPT | S_NULLABLE);
}

static void p_l10n_member(struct px *p, const cJSON *o, const char *name, unsigned flags,
			  struct l10n *t)
{
	const cJSON *m = p_member(p, o, name, false);
	if (m)
		p_l10n(p, m, flags, t);
}

/* scopes: [{"id", "name", "selected"?}] */
static void p_scopes(struct px *p, const cJSON *o, const char *name, bool with_selected,
		     struct flow_scope **out, size_t *nout)
{
	int n;
	const cJSON *a = p_arr(p, o, name, false, &n);
	if (!a)
		return;
	struct flow_scope *v = calloc((size_t)n, sizeof *v);
	if (!v) {
		p->bad = true;
		return;
	}
	*out = v;
	*nout = (size_t)n;
	int i = 0;
	const cJSON *e;
	cJSON_ArrayForEach(e, a) {
		if (i >= n)
			break;
		if (!cJSON_IsObject(e)) {
			p->bad = true;
			return;
		}
		v[i].id = p_str(p, e, "id", S_ID);
		p_l10n_member(p, e, "name", 0, &v[i].name);
		v[i].selected = with_selected ? p_bool(p, e, "selected", false, false) : true;
		for (int k = 0; k < i && v[i].id; k++)
			if (v[k].id && strcmp(v[k].id, v[i].id) == 0)
				p->bad = true;
		i++;
	}
}

static void p_account(struct px *p, const cJSON *e, struct flow_account *a)
{
	a->result_tries_left = -1;
	a->tries_left = -1;
	if (!cJSON_IsObject(e)) {
		p->bad = true;
		return;
	}
	a->id = p_str(p, e, "id", S_ID);
	const cJSON *br = p_obj(p, e, "branch", false);
	if (br) {
		p_l10n_member(p, br, "name", 0, &a->branch_name);
		a->branch_code = p_str(p, br, "code", 0);
	}
	a->type_code = p_str(p, e, "type", S_ID);
	if (a->type_code) {
		if (strcmp(a->type_code, "ordinary") == 0)
			a->type = FLOW_ACCT_ORDINARY;
		else if (strcmp(a->type_code, "current") == 0)
			a->type = FLOW_ACCT_CURRENT;
		else if (strcmp(a->type_code, "savings") == 0)
			a->type = FLOW_ACCT_SAVINGS;
		else
			a->type = FLOW_ACCT_OTHER;
	}
	a->number = p_str(p, e, "number", 0);
	a->memo = p_str(p, e, "memo", S_OPT | S_NULLABLE);
	char *pin = p_str(p, e, "pin", S_ID);
	if (pin) {
		if (strcmp(pin, "unregistered") == 0)
			a->pin = FLOW_PIN_UNREGISTERED;
		else if (strcmp(pin, "registered") == 0)
			a->pin = FLOW_PIN_REGISTERED;
		else if (strcmp(pin, "pending") == 0)
			a->pin = FLOW_PIN_PENDING;
		else
			p->bad = true;
		free(pin);
	}
	a->pin_locked = p_bool(p, e, "pin_locked", false, false);
	a->tries_left = (int)p_int(p, e, "tries_left", 0, 1000, true, -1);
}

static void p_accounts(struct px *p, const cJSON *o, const char *name, bool allow_empty,
		       struct flow_account **out, size_t *nout)
{
	int n;
	const cJSON *arr = p_arr(p, o, name, allow_empty, &n);
	if (!arr || n == 0)
		return;
	struct flow_account *v = calloc((size_t)n, sizeof *v);
	if (!v) {
		p->bad = true;
		return;
	}
	*out = v;
	*nout = (size_t)n;
	int i = 0;
	const cJSON *e;
	cJSON_ArrayForEach(e, arr) {
		if (i >= n)
			break;
		p_account(p, e, &v[i]);
		for (int k = 0; k < i && v[i].id; k++)
			if (v[k].id && strcmp(v[k].id, v[i].id) == 0)
				p->bad = true; /* ids must be unique: requests name rows by id */
		i++;
	}
}

/* {"from": "...", "to": "..."} */
static void p_period(struct px *p, const cJSON *o, bool opt, char **from, char **to)
{
	const cJSON *per = p_obj(p, o, "period", opt);
	if (!per)
		return;
	*from = p_str(p, per, "from", 0);
	*to = p_str(p, per, "to", 0);
}

/* ---- the envelope ----------------------------------------------------------------------------- */

/* Everything an envelope can carry, parsed before anything in the flow changes. */
struct env {
	enum flow_step step;
	char *session; /* points into the cJSON tree (wiped when it is deleted) */
	long expires_in;
	bool has_partner, has_request;
	struct flow_partner partner;
	struct flow_request request;
	bool m_password, m_certificate;
	struct flow_question question;
	struct flow_scope *scopes;
	size_t n_scopes;
	int pin_length;
	struct flow_account *accounts;
	size_t n_accounts;
	struct flow_permission perm;
	bool has_done_scopes, has_done_period;
	bool manage;                  /* "purpose": "manage" */
	struct flow_link *links;
	size_t n_links;
	struct flow_link revoked;
	bool has_revoked;
};

static void env_free(struct env *e)
{
	partner_free(&e->partner);
	request_free(&e->request);
	l10n_free(&e->question.text);
	scopes_free(&e->scopes, &e->n_scopes);
	accounts_free(&e->accounts, &e->n_accounts);
	perm_free(&e->perm);
	links_free(&e->links, &e->n_links);
	link_free(&e->revoked);
}

/* ---- steps: how each one's "data" is parsed and taken ------------------------------------------ */

static void parse_login(struct px *p, const cJSON *d, struct env *e)
{
	int n;
	const cJSON *m = p_arr(p, d, "methods", false, &n), *x;
	cJSON_ArrayForEach(x, m) {
		if (!cJSON_IsString(x)) {
			p->bad = true;
			break;
		}
		if (strcmp(x->valuestring, "password") == 0)
			e->m_password = true;
		else if (strcmp(x->valuestring, "certificate") == 0)
			e->m_certificate = true;
		/* others: a method this client does not know; not offered */
	}
	if (!e->m_password && !e->m_certificate)
		p->bad = true;
}

static void parse_question(struct px *p, const cJSON *d, struct env *e)
{
	p_l10n_member(p, d, "question", S_NL, &e->question.text);
	e->question.masked = p_bool(p, d, "masked", false, false);
	e->question.max_length = (int)p_int(p, d, "max_length", 1, 4096, false, 0);
	e->question.tries_left = (int)p_int(p, d, "tries_left", 0, 1000, true, -1);
}

static void parse_scopes(struct px *p, const cJSON *d, struct env *e)
{
	p_scopes(p, d, "scopes", true, &e->scopes, &e->n_scopes);
}

static void parse_pins(struct px *p, const cJSON *d, struct env *e)
{
	e->pin_length = (int)p_int(p, d, "pin_length", 1, 64, false, 0);
	p_accounts(p, d, "accounts", false, &e->accounts, &e->n_accounts);
}

static void parse_pin_result(struct px *p, const cJSON *d, struct env *e)
{
	p_accounts(p, d, "accounts", false, &e->accounts, &e->n_accounts);
}

static enum flow_step step_from_server(const char *s);

static void parse_permission(struct px *p, const cJSON *d, struct env *e)
{
	p_scopes(p, d, "scopes", false, &e->perm.scopes, &e->perm.n_scopes);
	p_accounts(p, d, "accounts", false, &e->perm.accounts, &e->perm.n_accounts);
	p_period(p, d, false, &e->perm.from, &e->perm.to);
	p_l10n_member(p, d, "terms", S_NL, &e->perm.terms);
	char *back = p_str(p, d, "back", S_ID | S_NULLABLE);
	if (back) {
		e->perm.back = step_from_server(back);
		if (e->perm.back != FLOW_SCOPES && e->perm.back != FLOW_PINS &&
		    e->perm.back != FLOW_PIN_RESULT)
			p->bad = true;
		free(back);
	}
}

static void parse_done(struct px *p, const cJSON *d, struct env *e)
{
	if (d && cJSON_GetObjectItemCaseSensitive(d, "scopes")) {
		e->has_done_scopes = true;
		p_scopes(p, d, "scopes", false, &e->perm.scopes, &e->perm.n_scopes);
	}
	if (d && cJSON_GetObjectItemCaseSensitive(d, "period")) {
		e->has_done_period = true;
		p_period(p, d, false, &e->perm.from, &e->perm.to);
	}
}

/* One link (§4.12). */
static void p_link(struct px *p, const cJSON *o, struct flow_link *l)
{
	if (!cJSON_IsObject(o)) {
		p->bad = true;
		return;
	}
	l->id = p_str(p, o, "id", S_ID);
	const cJSON *pa = p_obj(p, o, "partner", false);
	if (pa) {
		l->partner.client_id = p_str(p, pa, "client_id", S_ID);
		p_l10n_member(p, pa, "name", 0, &l->partner.name);
	}
	p_scopes(p, o, "scopes", false, &l->scopes, &l->n_scopes);
	p_accounts(p, o, "accounts", true, &l->accounts, &l->n_accounts);
	l->from = p_str(p, o, "authorized_on", S_ID);
	l->to = p_str(p, o, "valid_until", S_ID);
}

static void parse_links(struct px *p, const cJSON *d, struct env *e)
{
	int n;
	const cJSON *a = p_arr(p, d, "links", true, &n), *x;
	if (a && n > 0) {
		if (!(e->links = calloc((size_t)n, sizeof *e->links))) {
			p->bad = true;
			return;
		}
		e->n_links = (size_t)n;
		size_t i = 0;
		cJSON_ArrayForEach(x, a) {
			if (i >= e->n_links)
				break;
			p_link(p, x, &e->links[i]);
			for (size_t k = 0; k < i && e->links[i].id; k++)
				if (e->links[k].id && strcmp(e->links[k].id, e->links[i].id) == 0)
					p->bad = true; /* the revocation names a link by its id */
			i++;
		}
	}
	const cJSON *r = p_obj(p, d, "revoked", true);
	if (r) {
		e->has_revoked = true;
		p_link(p, r, &e->revoked);
	}
}

static void move_str(char **dst, char **src)
{
	free(*dst);
	*dst = *src;
	*src = NULL;
}

static void move_l10n(struct l10n *dst, struct l10n *src)
{
	move_str(&dst->ja, &src->ja);
	move_str(&dst->en, &src->en);
}

static struct flow_account *find_row(struct flow_account *v, size_t n, const char *id)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].id && strcmp(v[i].id, id) == 0)
			return &v[i];
	return NULL;
}

/* Install a new accounts table; the client-side state of rows that stay selectable moves over
 * (selected flag and typed PIN: moved, not copied). keep_results keeps the rows' last results. */
static void install_accounts(struct flow *f, struct flow_account *nv, size_t nn, bool keep_results)
{
	for (size_t i = 0; i < nn; i++) {
		struct flow_account *o = find_row(f->accounts, f->n_accounts, nv[i].id);
		nv[i].result = FLOW_ROW_NONE;
		nv[i].result_tries_left = -1;
		if (!o)
			continue;
		if (flow_account_selectable(&nv[i])) {
			nv[i].selected = o->selected;
			struct secret tmp = nv[i].pin_input;
			nv[i].pin_input = o->pin_input;
			o->pin_input = tmp;
		}
		if (keep_results) {
			nv[i].result = o->result;
			nv[i].result_tries_left = o->result_tries_left;
		}
	}
	accounts_free(&f->accounts, &f->n_accounts);
	f->accounts = nv;
	f->n_accounts = nn;
}

/* commit functions: take the step's data (moved out of e); return the step to show. */
static enum flow_step commit_login(struct flow *f, struct env *e, enum flow_step prev,
				   enum flow_action act)
{
	f->login.offer_password = e->m_password;
	f->login.offer_certificate = e->m_certificate;
	if (f->login.method == FLOW_LOGIN_CERTIFICATE && !e->m_certificate)
		f->login.method = FLOW_LOGIN_PASSWORD;
	if (f->login.method == FLOW_LOGIN_PASSWORD && !e->m_password)
		f->login.method = FLOW_LOGIN_CERTIFICATE;
	/* A new session first shows who is asking (a manage session: how to log in); a GET while
	 * confirming stays there. */
	if (act == FLOW_ACT_START || act == FLOW_ACT_MANAGE || prev == FLOW_PARTNER || prev == FLOW_CODE)
		return FLOW_PARTNER;
	return FLOW_LOGIN;
}

static enum flow_step commit_question(struct flow *f, struct env *e, enum flow_step prev,
				      enum flow_action act)
{
	(void)prev, (void)act;
	move_l10n(&f->question.text, &e->question.text);
	f->question.masked = e->question.masked;
	f->question.max_length = e->question.max_length;
	f->question.tries_left = e->question.tries_left;
	return FLOW_QUESTION;
}

static enum flow_step commit_scopes(struct flow *f, struct env *e, enum flow_step prev,
				    enum flow_action act)
{
	(void)prev, (void)act;
	scopes_free(&f->scopes, &f->n_scopes);
	f->scopes = e->scopes;
	f->n_scopes = e->n_scopes;
	e->scopes = NULL;
	e->n_scopes = 0;
	return FLOW_SCOPES;
}

static enum flow_step commit_pins(struct flow *f, struct env *e, enum flow_step prev,
				  enum flow_action act)
{
	(void)act;
	f->pin_length = e->pin_length;
	install_accounts(f, e->accounts, e->n_accounts, false);
	e->accounts = NULL;
	e->n_accounts = 0;
	/* Arriving at the table: every row that can get a PIN starts ticked, as in the seed (the
	 * customer unticks the ones not meant). Staying on it keeps the customer's ticks. */
	if (prev != FLOW_PINS)
		for (size_t i = 0; i < f->n_accounts; i++)
			f->accounts[i].selected = flow_account_selectable(&f->accounts[i]);
	return FLOW_PINS;
}

static enum flow_step commit_pin_result(struct flow *f, struct env *e, enum flow_step prev,
					enum flow_action act)
{
	(void)prev, (void)act;
	install_accounts(f, e->accounts, e->n_accounts, false);
	e->accounts = NULL;
	e->n_accounts = 0;
	return FLOW_PIN_RESULT;
}

static enum flow_step commit_permission(struct flow *f, struct env *e, enum flow_step prev,
					enum flow_action act)
{
	(void)act;
	bool intent = prev == FLOW_PERMISSION && f->perm.intent;
	bool read = prev == FLOW_PERMISSION && f->perm.terms_read;
	perm_free(&f->perm);
	f->perm = e->perm;
	memset(&e->perm, 0, sizeof e->perm);
	f->perm.intent = intent;
	f->perm.terms_read = read;
	return FLOW_PERMISSION;
}

static enum flow_step commit_done(struct flow *f, struct env *e, enum flow_step prev,
				  enum flow_action act)
{
	(void)prev, (void)act;
	if (e->has_done_scopes) {
		scopes_free(&f->perm.scopes, &f->perm.n_scopes);
		f->perm.scopes = e->perm.scopes;
		f->perm.n_scopes = e->perm.n_scopes;
		e->perm.scopes = NULL;
		e->perm.n_scopes = 0;
	}
	if (e->has_done_period) {
		move_str(&f->perm.from, &e->perm.from);
		move_str(&f->perm.to, &e->perm.to);
	}
	return FLOW_DONE;
}

/* The new list keeps the customer's ticks (by id); a link just stopped joins f.stopped. While
 * ticked links remain on the confirmation, stay there (the app stops the next one). */
static enum flow_step commit_links(struct flow *f, struct env *e, enum flow_step prev,
				   enum flow_action act)
{
	for (size_t i = 0; i < e->n_links; i++)
		for (size_t k = 0; k < f->n_links; k++)
			if (f->links[k].id && strcmp(f->links[k].id, e->links[i].id) == 0)
				e->links[i].selected = f->links[k].selected;
	links_free(&f->links, &f->n_links);
	f->links = e->links;
	f->n_links = e->n_links;
	e->links = NULL;
	e->n_links = 0;
	if (e->has_revoked) {
		struct flow_link *v = realloc(f->stopped, (f->n_stopped + 1) * sizeof *v);
		if (v) {
			f->stopped = v;
			f->stopped[f->n_stopped++] = e->revoked;
			memset(&e->revoked, 0, sizeof e->revoked);
		}
	}
	if (prev == FLOW_LINK_CONFIRM && (act == FLOW_ACT_REVOKE || act == FLOW_ACT_REFRESH))
		return flow_links_selected(f) ? FLOW_LINK_CONFIRM : f->n_stopped ? FLOW_LINK_STOPPED : FLOW_LINKS;
	if ((prev == FLOW_LINK_DETAIL || prev == FLOW_LINK_STOPPED) && act == FLOW_ACT_REFRESH)
		return prev;
	return FLOW_LINKS;
}

static enum flow_step commit_ended(struct flow *f, struct env *e, enum flow_step prev,
				   enum flow_action act)
{
	(void)f, (void)e, (void)prev, (void)act;
	return FLOW_ENDED;
}

static enum flow_step commit_denied(struct flow *f, struct env *e, enum flow_step prev,
				    enum flow_action act)
{
	(void)f, (void)e, (void)prev, (void)act;
	return FLOW_DENIED;
}

static enum flow_step commit_locked(struct flow *f, struct env *e, enum flow_step prev,
				    enum flow_action act)
{
	(void)f, (void)e, (void)prev, (void)act;
	return FLOW_LOCKED;
}

/* ---- actions: how each request is built and what its body carries -------------------------------
 * build: fills o (a JSON object the table row asked for, or NULL when the action has no body) and
 * r's per-request fields; 0, or -1 after local_error (nothing is sent). wipe: the secrets the body
 * carried, wiped once any answer came back. */

static int build_start(struct flow *f, cJSON *o, struct flow_req *r);
static int build_login(struct flow *f, cJSON *o, struct flow_req *r);
static int build_answer(struct flow *f, cJSON *o, struct flow_req *r);
static int build_scopes(struct flow *f, cJSON *o, struct flow_req *r);
static int build_pins(struct flow *f, cJSON *o, struct flow_req *r);
static int build_pin_add(struct flow *f, cJSON *o, struct flow_req *r);
static int build_pin_confirm(struct flow *f, cJSON *o, struct flow_req *r);
static int build_allow(struct flow *f, cJSON *o, struct flow_req *r);
static int build_deny(struct flow *f, cJSON *o, struct flow_req *r);
static int build_nothing(struct flow *f, cJSON *o, struct flow_req *r);
static int build_manage(struct flow *f, cJSON *o, struct flow_req *r);
static int build_revoke(struct flow *f, cJSON *o, struct flow_req *r);
static void wipe_password(struct flow *f);
static void wipe_answer(struct flow *f);
static void wipe_pins(struct flow *f);

/* ---- the tables ------------------------------------------------------------------------------- */

#define STEP_BIT(s) (1u << (s))
#define ON_LIVE 0x80000000u /* any step with a session (and, for cancel, not final) */

/* One row per step (protocol §4.1). server: the step's name in envelopes, NULL when the server
 * never names it. data: "data" required (otherwise optional). parse/commit: NULL only for the
 * client's own steps. */
static const struct step_def {
	const char *name;
	const char *server;
	bool data;
	void (*parse)(struct px *p, const cJSON *d, struct env *e);
	enum flow_step (*commit)(struct flow *f, struct env *e, enum flow_step prev, enum flow_action act);
} steps[FLOW__NSTEPS] = {
	[FLOW_NONE] = {"none", NULL, false, NULL, NULL},
	[FLOW_CODE] = {"code", NULL, false, NULL, NULL},
	[FLOW_PARTNER] = {"partner", NULL, false, NULL, NULL},
	[FLOW_LOGIN] = {"login", "login", true, parse_login, commit_login},
	[FLOW_QUESTION] = {"question", "question", true, parse_question, commit_question},
	[FLOW_SCOPES] = {"scopes", "scopes", true, parse_scopes, commit_scopes},
	[FLOW_PINS] = {"pins", "pins", true, parse_pins, commit_pins},
	[FLOW_PIN_RESULT] = {"pin_result", "pin_result", true, parse_pin_result, commit_pin_result},
	[FLOW_PERMISSION] = {"permission", "permission", true, parse_permission, commit_permission},
	[FLOW_DONE] = {"done", "done", false, parse_done, commit_done},
	[FLOW_DENIED] = {"denied", "denied", false, NULL, commit_denied},
	[FLOW_LOCKED] = {"locked", "locked", false, NULL, commit_locked},
	[FLOW_FATAL] = {"fatal", NULL, false, NULL, NULL},
	[FLOW_LINKS] = {"links", "links", true, parse_links, commit_links},
	[FLOW_LINK_DETAIL] = {"link_detail", NULL, false, NULL, NULL},
	[FLOW_LINK_CONFIRM] = {"link_confirm", NULL, false, NULL, NULL},
	[FLOW_LINK_STOPPED] = {"link_stopped", NULL, false, NULL, NULL},
	[FLOW_ENDED] = {"ended", "ended", false, NULL, commit_ended},
};

/* One row per request (protocol §4.2-4.10). steps: where it may be sent (STEP_BITs, or ON_LIVE).
 * body: a JSON object is made for build to fill (POST). idempotent: may be re-sent after a
 * transport failure without the customer (GET; the start carries an idempotency key and says so
 * itself). secret: the body holds a password/answer/PIN (never logged, even redacted). */
static const struct action_def {
	const char *name;
	enum flow_method method;
	const char *path;
	unsigned steps;
	bool body, idempotent, secret;
	int (*build)(struct flow *f, cJSON *o, struct flow_req *r);
	void (*wipe)(struct flow *f);
} actions[FLOW_ACT__COUNT] = {
	[FLOW_ACT_NONE] = {"none", FLOW_GET, NULL, 0, false, false, false, NULL, NULL},
	[FLOW_ACT_START] = {"start", FLOW_POST, P_CONSENT "/sessions", STEP_BIT(FLOW_CODE), true,
			    false, false, build_start, NULL},
	[FLOW_ACT_REFRESH] = {"refresh", FLOW_GET, P_CONSENT "/session", ON_LIVE, false, true, false,
			      build_nothing, NULL},
	[FLOW_ACT_LOGIN] = {"login", FLOW_POST, P_CONSENT "/session/login", STEP_BIT(FLOW_LOGIN), true,
			    false, true, build_login, wipe_password},
	[FLOW_ACT_ANSWER] = {"answer", FLOW_POST, P_CONSENT "/session/answer", STEP_BIT(FLOW_QUESTION),
			     true, false, true, build_answer, wipe_answer},
	[FLOW_ACT_SCOPES] = {"scopes", FLOW_POST, P_CONSENT "/session/scopes", STEP_BIT(FLOW_SCOPES),
			     true, false, false, build_scopes, NULL},
	[FLOW_ACT_PINS] = {"pins", FLOW_POST, P_CONSENT "/session/pins", STEP_BIT(FLOW_PINS), true,
			   false, true, build_pins, wipe_pins},
	[FLOW_ACT_PIN_ADD] = {"pin-add", FLOW_POST, P_CONSENT "/session/pin-result",
			      STEP_BIT(FLOW_PIN_RESULT), true, false, false, build_pin_add, NULL},
	/* protocol §4.8: also from pins once nothing is left to register */
	[FLOW_ACT_PIN_CONFIRM] = {"pin-confirm", FLOW_POST, P_CONSENT "/session/pin-result",
				  STEP_BIT(FLOW_PIN_RESULT) | STEP_BIT(FLOW_PINS), true, false, false,
				  build_pin_confirm, NULL},
	[FLOW_ACT_BACK] = {"back", FLOW_POST, P_CONSENT "/session/back", STEP_BIT(FLOW_PERMISSION),
			   true, false, false, build_nothing, NULL},
	[FLOW_ACT_ALLOW] = {"allow", FLOW_POST, P_CONSENT "/session/decision",
			    STEP_BIT(FLOW_PERMISSION), true, false, false, build_allow, NULL},
	[FLOW_ACT_DENY] = {"deny", FLOW_POST, P_CONSENT "/session/decision", STEP_BIT(FLOW_PERMISSION),
			   true, false, false, build_deny, NULL},
	/* sent again after it was taken, it meets 409 wrong-step naming the final step (§4.11) */
	[FLOW_ACT_CANCEL] = {"cancel", FLOW_DELETE, P_CONSENT "/session", ON_LIVE, false, true, false,
			     build_nothing, NULL},
	[FLOW_ACT_MANAGE] = {"manage", FLOW_POST, P_CONSENT "/sessions", STEP_BIT(FLOW_CODE), true, false,
			     false, build_manage, NULL},
	[FLOW_ACT_REVOKE] = {"revoke", FLOW_POST, P_CONSENT "/session/revoke", STEP_BIT(FLOW_LINK_CONFIRM),
			     true, false, false, build_revoke, NULL},
};

const char *flow_tables_check(void)
{
	static char msg[128];
	for (int s = FLOW_LOGIN; s < FLOW__NSTEPS; s++) {
		const struct step_def *d = &steps[s];
		if (!d->name || (d->server && !d->commit) || (d->data && !d->parse)) {
			snprintf(msg, sizeof msg, "flow: step %d has no name, commit or parse in steps[]", s);
			return msg;
		}
	}
	for (int a = FLOW_ACT_NONE + 1; a < FLOW_ACT__COUNT; a++) {
		const struct action_def *d = &actions[a];
		if (!d->name || !d->path || !d->build || !d->steps) {
			snprintf(msg, sizeof msg, "flow: action %d has no name, path, steps or build in actions[]", a);
			return msg;
		}
	}
	return NULL;
}

const char *flow_step_name(enum flow_step s)
{
	if ((unsigned)s >= FLOW__NSTEPS || !steps[s].name)
		return "none";
	return steps[s].name;
}

/* The server's step names (protocol §4.1) -> steps; FLOW_NONE when unknown. */
static enum flow_step step_from_server(const char *s)
{
	for (int i = 0; s && i < FLOW__NSTEPS; i++)
		if (steps[i].server && strcmp(steps[i].server, s) == 0)
			return (enum flow_step)i;
	return FLOW_NONE;
}

const char *flow_action_name(enum flow_action a)
{
	if ((unsigned)a >= FLOW_ACT__COUNT || !actions[a].name)
		return "none";
	return actions[a].name;
}

const char *flow_method_name(enum flow_method m)
{
	static const char *const names[] = {[FLOW_GET] = "GET", [FLOW_POST] = "POST",
					    [FLOW_DELETE] = "DELETE"};
	return (unsigned)m < sizeof names / sizeof names[0] ? names[m] : "GET";
}

static int parse_envelope(const cJSON *root, bool need_partner, struct env *e)
{
	struct px p = {false};
	memset(e, 0, sizeof *e);
	e->perm.back = FLOW_NONE;
	e->question.tries_left = -1;
	if (!cJSON_IsObject(root))
		return -1;

	const cJSON *st = p_member(&p, root, "step", false);
	if (!cJSON_IsString(st) || (e->step = step_from_server(st->valuestring)) == FLOW_NONE)
		return -1;

	const cJSON *ses = p_member(&p, root, "session", true);
	if (ses) {
		if (!cJSON_IsString(ses) || !ses->valuestring || !ses->valuestring[0] ||
		    strlen(ses->valuestring) > MAX_SESSION)
			return -1;
		for (const char *c = ses->valuestring; *c; c++)
			if ((unsigned char)*c <= 0x20 || (unsigned char)*c >= 0x7f)
				return -1; /* it goes into an HTTP header */
		e->session = ses->valuestring;
	}
	e->expires_in = p_int(&p, root, "session_expires_in", 0, 100000000L, true, -1);

	const cJSON *pu = p_member(&p, root, "purpose", true);
	if (pu && (!cJSON_IsString(pu) || (strcmp(pu->valuestring, "manage") != 0 &&
					   strcmp(pu->valuestring, "consent") != 0)))
		return -1;
	e->manage = pu && strcmp(pu->valuestring, "manage") == 0;
	if (e->manage)
		need_partner = false;
	const cJSON *pa = p_obj(&p, root, "partner", !need_partner);
	if (pa) {
		e->has_partner = true;
		e->partner.client_id = p_str(&p, pa, "client_id", S_ID);
		p_l10n_member(&p, pa, "name", 0, &e->partner.name);
	}
	const cJSON *rq = p_obj(&p, root, "request", !need_partner);
	if (rq) {
		e->has_request = true;
		p_scopes(&p, rq, "scopes", false, &e->request.scopes, &e->request.n_scopes);
		e->request.scope_choice = p_bool(&p, rq, "scope_choice", false, false);
		e->request.period_days = (int)p_int(&p, rq, "period_days", 0, 1000000, false, 0);
	}

	const struct step_def *sd = &steps[e->step];
	const cJSON *d = p_obj(&p, root, "data", !sd->data);
	if (sd->parse)
		sd->parse(&p, d, e);
	return p.bad ? -1 : 0;
}

/* ---- applying answers ------------------------------------------------------------------------- */

static void set_error(struct flow *f, enum problem kind, long status)
{
	error_clear(&f->error);
	f->error.kind = kind;
	f->error.status = status;
	f->error.can_retry = problem_info(kind)->retry;
	f->error.field = problem_info(kind)->field;
}

/* Every secret that went out with the request just answered. */
static void wipe_sent(struct flow *f, enum flow_action act)
{
	if ((unsigned)act < FLOW_ACT__COUNT && actions[act].wipe)
		actions[act].wipe(f);
}

static void wipe_password(struct flow *f)
{
	secret_clear(&f->login.password);
}

static void wipe_answer(struct flow *f)
{
	secret_clear(&f->question.answer);
}

static void wipe_pins(struct flow *f)
{
	for (size_t i = 0; i < f->n_accounts; i++)
		if (f->accounts[i].pin_sent)
			secret_clear(&f->accounts[i].pin_input);
}

/* A valid envelope: take it. */
static void commit_envelope(struct flow *f, struct env *e, enum flow_action act)
{
	enum flow_step prev = f->step;

	if (e->session)
		secret_set(&f->session, e->session, strlen(e->session));
	if (e->expires_in >= 0)
		f->session_expires_in = e->expires_in;
	if (e->has_partner) {
		partner_free(&f->partner);
		f->partner = e->partner;
		memset(&e->partner, 0, sizeof e->partner);
	}
	if (e->has_request) {
		request_free(&f->request);
		f->request = e->request;
		memset(&e->request, 0, sizeof e->request);
	}

	enum flow_step next = steps[e->step].commit(f, e, prev, act);
	/* Leaving a step wipes what was typed for it that is no longer needed. */
	if (next != FLOW_QUESTION)
		secret_clear(&f->question.answer);
	if (next != FLOW_LOGIN && next != FLOW_PARTNER)
		secret_clear(&f->login.password);
	if (next != FLOW_PINS)
		for (size_t i = 0; i < f->n_accounts; i++) {
			secret_clear(&f->accounts[i].pin_input);
			f->accounts[i].selected = false;
		}
	f->step = next;
}


static bool media_type_is(const char *ct, const char *want)
{
	if (!ct)
		return false;
	while (*ct == ' ')
		ct++;
	size_t n = strlen(want);
	if (strncasecmp(ct, want, n) != 0)
		return false;
	ct += n;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	return *ct == '\0' || *ct == ';';
}

/* The 422 pin-wrong / pin-format problem: per-row results and the table as it now stands. */
/* (Kept whole, ~70 lines: parse every row's result first, change nothing unless all parsed.) */
static int apply_pin_problem(struct flow *f, const cJSON *root)
{
	struct px p = {false};
	struct flow_account *nv = NULL;
	size_t nn = 0;
	p_accounts(&p, root, "accounts", false, &nv, &nn);
	int nr;
	const cJSON *res = p_arr(&p, root, "results", false, &nr), *r;
	enum flow_row_result *rr = calloc((size_t)(nr ? nr : 1), sizeof *rr);
	int *rt = calloc((size_t)(nr ? nr : 1), sizeof *rt);
	size_t *ri = calloc((size_t)(nr ? nr : 1), sizeof *ri);
	if (!rr || !rt || !ri)
		p.bad = true;
	int i = 0;
	cJSON_ArrayForEach(r, res) {
		if (p.bad || i >= nr)
			break;
		char *acc = p_str(&p, r, "account", S_ID);
		char *what = p_str(&p, r, "result", S_ID);
		long tl = p_int(&p, r, "tries_left", 0, 1000, true, -1);
		struct flow_account *row = acc ? find_row(nv, nn, acc) : NULL;
		if (!row)
			p.bad = true;
		else
			ri[i] = (size_t)(row - nv);
		if (what && strcmp(what, "registered") == 0)
			rr[i] = FLOW_ROW_REGISTERED;
		else if (what && strcmp(what, "wrong_pin") == 0)
			rr[i] = FLOW_ROW_WRONG;
		else if (what && strcmp(what, "locked") == 0)
			rr[i] = FLOW_ROW_LOCKED;
		else if (what && strcmp(what, "format") == 0)
			rr[i] = FLOW_ROW_FORMAT;
		else
			p.bad = true;
		rt[i] = (int)tl;
		free(acc);
		free(what);
		i++;
	}
	if (p.bad) {
		accounts_free(&nv, &nn);
		free(rr);
		free(rt);
		free(ri);
		return -1;
	}
	/* Rows not in this request keep their results; the submitted ones get the new ones. */
	install_accounts(f, nv, nn, true);
	for (int k = 0; k < nr; k++) {
		struct flow_account *row = &f->accounts[ri[k]];
		row->result = rr[k];
		row->result_tries_left = -1;
		switch (rr[k]) {
		case FLOW_ROW_REGISTERED:
		case FLOW_ROW_LOCKED:
			row->selected = false;
			break;
		case FLOW_ROW_WRONG:
			row->result_tries_left = rt[k] >= 0 ? rt[k] : row->tries_left;
			break;
		default:
			break;
		}
		secret_clear(&row->pin_input);
	}
	free(rr);
	free(rt);
	free(ri);
	return 0;
}

/* A problem answer: its kind's row (problem.c) says whether to retry and which field it is about;
 * the types that carry members or end the flow are read here. */
/* (Kept whole, ~70 lines: one case per problem type that carries members; the rest is the
 * table's.) */
static void drop_first_selected(struct flow *f)
{
	for (size_t i = 0; i < f->n_links; i++)
		if (f->links[i].selected) {
			link_free(&f->links[i]);
			memmove(&f->links[i], &f->links[i + 1], (f->n_links - i - 1) * sizeof *f->links);
			f->n_links--;
			break;
		}
	for (size_t i = 0; i < f->n_links; i++)
		f->links[i].selected = false;
	links_free(&f->stopped, &f->n_stopped);
	f->step = FLOW_LINKS;
}

static void apply_problem(struct flow *f, long status, const cJSON *root, enum flow_action act)
{
	struct px p = {false};
	const cJSON *t = p_member(&p, root, "type", false);
	if (!cJSON_IsObject(root) || !cJSON_IsString(t)) {
		set_error(f, PROBLEM_BAD_ANSWER, status);
		return;
	}
	enum problem k = problem_from_type(t->valuestring);
	set_error(f, k, status);
	if (k == PROBLEM_UNKNOWN_TYPE && status >= 500)
		f->error.can_retry = true;

	struct px q = {false};
	switch (k) {
	case PROBLEM_WRONG_CREDENTIALS:
	case PROBLEM_WRONG_ANSWER:
		f->error.tries_left = (int)p_int(&q, root, "tries_left", 0, 1000, true, -1);
		if (k == PROBLEM_WRONG_ANSWER && f->error.tries_left >= 0)
			f->question.tries_left = f->error.tries_left;
		break;
	case PROBLEM_LINK_UNKNOWN:
		/* Stopped meanwhile (another terminal) or expired: it leaves the list, the others'
		 * ticks go, the customer sees the list again with the message. */
		if (act == FLOW_ACT_REVOKE)
			drop_first_selected(f);
		break;
	case PROBLEM_LOGIN_LOCKED:
		f->step = FLOW_LOCKED;
		secret_clear(&f->login.password);
		secret_clear(&f->question.answer);
		break;
	case PROBLEM_RATE_LIMITED:
		f->error.retry_after = p_int(&q, root, "retry_after", 0, 86400L * 366, true, -1);
		if (act == FLOW_ACT_LOGIN) /* logins limited (protocol §4.5), not user codes */
			f->error.field = FLOW_FIELD_PASSWORD;
		break;
	case PROBLEM_SESSION_UNKNOWN:
	case PROBLEM_SESSION_EXPIRED:
		if (act != FLOW_ACT_START) {
			/* The session is gone: nothing typed for it can be sent any more. */
			f->step = FLOW_FATAL;
			secret_clear(&f->session);
			secret_clear(&f->login.password);
			secret_clear(&f->question.answer);
			for (size_t i = 0; i < f->n_accounts; i++)
				secret_clear(&f->accounts[i].pin_input);
		}
		break;
	case PROBLEM_WRONG_STEP: {
		char *s = p_str(&q, root, "step", S_OPT | S_ID);
		f->error.step = step_from_server(s);
		free(s);
		/* Where is the session? Ask (GET), then show that step. When the server names the
		 * step we show, we are in step and the request was just not possible there (e.g.
		 * pin-result "add" with no account left): keep the error for the screen. */
		if (f->session.len && f->error.step != f->step &&
		    !(f->error.step == FLOW_LOGIN && f->step == FLOW_PARTNER))
			f->refresh = true;
		break;
	}
	case PROBLEM_SCOPE_UNKNOWN:
	case PROBLEM_SCOPE_INSUFFICIENT: {
		char *s = p_str(&q, root, "scope", S_OPT | S_ID);
		if (s)
			snprintf(f->error.scope, sizeof f->error.scope, "%s", s);
		free(s);
		break;
	}
	case PROBLEM_PIN_WRONG:
	case PROBLEM_PIN_FORMAT:
		if (act != FLOW_ACT_PINS || f->step != FLOW_PINS || apply_pin_problem(f, root) < 0)
			set_error(f, PROBLEM_BAD_ANSWER, status);
		break;
	default: /* the row's retry rule and field are all there is */
		break;
	}
}

/* A manage session names only its own steps (§4.12), a consent session only its own. */
static bool purpose_fits(const struct flow *f, const struct env *e)
{
	static const enum flow_step manage_steps[] = {FLOW_LOGIN, FLOW_QUESTION, FLOW_LINKS, FLOW_ENDED,
						      FLOW_LOCKED};
	bool manage_step = false;
	for (size_t i = 0; i < sizeof manage_steps / sizeof manage_steps[0]; i++)
		manage_step = manage_step || e->step == manage_steps[i];
	if (e->manage != f->manage)
		return false;
	return f->manage ? manage_step : e->step != FLOW_LINKS && e->step != FLOW_ENDED;
}

void flow_apply(struct flow *f, long status, const char *content_type, const char *body,
		size_t len)
{
	enum flow_action act = f->inflight;
	f->inflight = FLOW_ACT_NONE;
	/* An answer came: the secrets it carried are not needed any more, whatever it says. */
	wipe_sent(f, act);

	cJSON *root = NULL;
	if (body && len > 0 && len <= 16u * 1024 * 1024)
		root = cJSON_ParseWithLength(body, len);

	if (status == 200 || status == 201) {
		struct env e;
		memset(&e, 0, sizeof e);
		if (!root || !media_type_is(content_type, "application/json") ||
		    parse_envelope(root, !f->manage && !f->partner.client_id, &e) < 0 ||
		    (!e.session && !f->session.len) || !purpose_fits(f, &e)) {
			env_free(&e);
			set_error(f, PROBLEM_BAD_ANSWER, status);
		} else {
			error_clear(&f->error);
			commit_envelope(f, &e, act);
			env_free(&e);
		}
	} else if (status >= 400 && status <= 599 && root &&
		   (media_type_is(content_type, "application/problem+json") ||
		    media_type_is(content_type, "application/json"))) {
		apply_problem(f, status, root, act);
	} else {
		set_error(f, PROBLEM_BAD_ANSWER, status);
		if (status >= 500)
			f->error.can_retry = true;
	}
	cJSON_Delete(root);
	for (size_t i = 0; i < f->n_accounts; i++)
		f->accounts[i].pin_sent = false;
}

void flow_net_error(struct flow *f, enum problem kind)
{
	f->inflight = FLOW_ACT_NONE;
	for (size_t i = 0; i < f->n_accounts; i++)
		f->accounts[i].pin_sent = false;
	if (kind == PROBLEM_NONE)
		kind = PROBLEM_NET_OTHER;
	set_error(f, kind, 0);
}

/* ---- building requests ------------------------------------------------------------------------ */

static int local_error(struct flow *f, enum problem kind, enum flow_field field)
{
	set_error(f, kind, 0);
	f->error.field = field;
	return -1;
}

static void random_key(char out[33])
{
	unsigned char b[16];
	ssize_t got = getrandom(b, sizeof b, 0);
	if (got != (ssize_t)sizeof b) {
		int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
		got = fd >= 0 ? read(fd, b, sizeof b) : -1;
		if (fd >= 0)
			close(fd);
	}
	if (got != (ssize_t)sizeof b) {
		out[0] = '\0'; /* no key: the start is then not retried automatically */
		return;
	}
	for (int i = 0; i < 16; i++)
		snprintf(out + 2 * i, 3, "%02x", b[i]);
	explicit_bzero(b, sizeof b);
}

/* user code as typed -> upper case, hyphens and white space removed. 0, or -1 (empty/bad). */
static int normalize_code(const struct secret *s, char out[33], bool *empty)
{
	size_t n = 0;
	*empty = true;
	for (size_t i = 0; s->buf && i < s->len; i++) {
		unsigned char c = (unsigned char)s->buf[i];
		if (c == '-' || c == ' ' || c == '\t')
			continue;
		*empty = false;
		if (!isalnum(c) || c >= 0x80 || n >= 32)
			return -1;
		out[n++] = (char)toupper(c);
	}
	out[n] = '\0';
	return n ? 0 : -1;
}

static bool step_allows(const struct flow *f, enum flow_action a)
{
	if ((unsigned)a >= FLOW_ACT__COUNT || a == FLOW_ACT_NONE)
		return false;
	unsigned st = actions[a].steps;
	if (st == ON_LIVE)
		return f->session.len > 0 && (a != FLOW_ACT_CANCEL || !flow_is_final(f));
	return (st & STEP_BIT(f->step)) != 0;
}

static cJSON *add_secret(cJSON *o, const char *name, const struct secret *s)
{
	/* cJSON copies it into its own heap, which the hooks wipe on free. */
	return cJSON_AddStringToObject(o, name, s->buf ? s->buf : "");
}

static bool pin_format_ok(const struct secret *s, int len)
{
	if ((int)s->len != len)
		return false;
	for (size_t i = 0; i < s->len; i++)
		if (s->buf[i] < '0' || s->buf[i] > '9')
			return false;
	return true;
}

static int build_nothing(struct flow *f, cJSON *o, struct flow_req *r)
{
	(void)f, (void)o, (void)r;
	return 0;
}

static int build_start(struct flow *f, cJSON *o, struct flow_req *r)
{
	char code[33];
	bool empty;
	if (normalize_code(&f->user_code, code, &empty) < 0)
		return local_error(f, empty ? PROBLEM_INPUT_REQUIRED : PROBLEM_INPUT_FORMAT,
				   FLOW_FIELD_USER_CODE);
	if (!f->idem_key[0] || strcmp(code, f->idem_code) != 0) {
		random_key(f->idem_key);
		memcpy(f->idem_code, code, sizeof f->idem_code);
	}
	r->bearer = NULL;
	r->idempotent = f->idem_key[0] != '\0';
	cJSON_AddStringToObject(o, "user_code", code);
	if (f->idem_key[0])
		cJSON_AddStringToObject(o, "idempotency_key", f->idem_key);
	return 0;
}

/* protocol §4.12: a session for the customer's linked services; its own idempotency key, kept
 * while the customer retries (idem_code "-manage" cannot be a normalized user code). */
static int build_manage(struct flow *f, cJSON *o, struct flow_req *r)
{
	if (!f->idem_key[0] || strcmp(f->idem_code, "-manage") != 0) {
		random_key(f->idem_key);
		snprintf(f->idem_code, sizeof f->idem_code, "-manage");
	}
	r->bearer = NULL;
	r->idempotent = f->idem_key[0] != '\0';
	f->manage = true;
	cJSON_AddStringToObject(o, "purpose", "manage");
	if (f->idem_key[0])
		cJSON_AddStringToObject(o, "idempotency_key", f->idem_key);
	return 0;
}

/* The first ticked link (the app sends one request per ticked link). */
static int build_revoke(struct flow *f, cJSON *o, struct flow_req *r)
{
	(void)r;
	for (size_t i = 0; i < f->n_links; i++)
		if (f->links[i].selected) {
			cJSON_AddStringToObject(o, "link", f->links[i].id);
			return 0;
		}
	return local_error(f, PROBLEM_INPUT_REQUIRED, FLOW_FIELD_LINKS);
}

static int build_login(struct flow *f, cJSON *o, struct flow_req *r)
{
	(void)r;
	bool cert = f->login.method == FLOW_LOGIN_CERTIFICATE;
	if (cert ? !f->login.offer_certificate : !f->login.offer_password)
		return local_error(f, PROBLEM_METHOD_UNAVAILABLE, FLOW_FIELD_NONE);
	if (!cert && f->login.login_id.len == 0)
		return local_error(f, PROBLEM_INPUT_REQUIRED, FLOW_FIELD_LOGIN_ID);
	if (f->login.password.len == 0)
		return local_error(f, PROBLEM_INPUT_REQUIRED, FLOW_FIELD_PASSWORD);
	cJSON_AddStringToObject(o, "method", cert ? "certificate" : "password");
	if (!cert)
		add_secret(o, "login_id", &f->login.login_id);
	add_secret(o, "password", &f->login.password);
	return 0;
}

static int build_answer(struct flow *f, cJSON *o, struct flow_req *r)
{
	(void)r;
	if (f->question.answer.len == 0)
		return local_error(f, PROBLEM_INPUT_REQUIRED, FLOW_FIELD_ANSWER);
	add_secret(o, "answer", &f->question.answer);
	return 0;
}

static int build_scopes(struct flow *f, cJSON *o, struct flow_req *r)
{
	(void)r;
	size_t n = 0;
	for (size_t i = 0; i < f->n_scopes; i++)
		n += f->scopes[i].selected;
	if (!n)
		return local_error(f, PROBLEM_SCOPE_REQUIRED, FLOW_FIELD_SCOPES);
	cJSON *arr = cJSON_AddArrayToObject(o, "scopes");
	for (size_t i = 0; arr && i < f->n_scopes; i++)
		if (f->scopes[i].selected)
			cJSON_AddItemToArray(arr, cJSON_CreateString(f->scopes[i].id));
	return 0;
}

/* The rows ticked (and selectable), each with its PIN; a ticked row without a well-formed PIN is
 * marked on the table and nothing is sent. */
static int build_pins(struct flow *f, cJSON *o, struct flow_req *r)
{
	(void)r;
	size_t n = 0, bad = 0;
	for (size_t i = 0; i < f->n_accounts; i++) {
		struct flow_account *row = &f->accounts[i];
		if (!row->selected || !flow_account_selectable(row))
			continue;
		n++;
		if (row->pin_input.len == 0) {
			row->result = FLOW_ROW_EMPTY;
			bad++;
		} else if (!pin_format_ok(&row->pin_input, f->pin_length)) {
			row->result = FLOW_ROW_FORMAT;
			bad++;
		}
	}
	if (!n)
		return local_error(f, PROBLEM_PIN_REQUIRED, FLOW_FIELD_PINS);
	if (bad)
		return local_error(f, PROBLEM_INPUT_FORMAT, FLOW_FIELD_PINS);
	cJSON *arr = cJSON_AddArrayToObject(o, "pins");
	for (size_t i = 0; arr && i < f->n_accounts; i++) {
		struct flow_account *row = &f->accounts[i];
		row->pin_sent = false;
		if (!row->selected || !flow_account_selectable(row))
			continue;
		cJSON *it = cJSON_CreateObject();
		if (!it || !cJSON_AddItemToArray(arr, it)) {
			cJSON_Delete(it);
			return local_error(f, PROBLEM_NO_MEMORY, FLOW_FIELD_NONE);
		}
		cJSON_AddStringToObject(it, "account", row->id);
		add_secret(it, "pin", &row->pin_input);
		row->pin_sent = true;
	}
	if (!arr)
		return local_error(f, PROBLEM_NO_MEMORY, FLOW_FIELD_NONE);
	return 0;
}

static int build_pin_add(struct flow *f, cJSON *o, struct flow_req *r)
{
	(void)f, (void)r;
	cJSON_AddStringToObject(o, "action", "add");
	return 0;
}

static int build_pin_confirm(struct flow *f, cJSON *o, struct flow_req *r)
{
	(void)f, (void)r;
	cJSON_AddStringToObject(o, "action", "confirm");
	return 0;
}

static int build_allow(struct flow *f, cJSON *o, struct flow_req *r)
{
	(void)r;
	if (!f->perm.intent)
		return local_error(f, PROBLEM_INTENT_REQUIRED, FLOW_FIELD_INTENT);
	cJSON_AddStringToObject(o, "decision", "allow");
	cJSON_AddBoolToObject(o, "intent_confirmed", 1);
	return 0;
}

static int build_deny(struct flow *f, cJSON *o, struct flow_req *r)
{
	(void)f, (void)r;
	cJSON_AddStringToObject(o, "decision", "deny");
	return 0;
}

int flow_build(struct flow *f, enum flow_action a, struct flow_req *r)
{
	memset(r, 0, sizeof *r);
	if (a == FLOW_ACT_BACK && f->step == FLOW_PERMISSION && f->perm.back == FLOW_NONE)
		a = FLOW_ACT_CANCEL; /* 「戻る」 with nowhere to go means cancel (§4.9) */
	if (!step_allows(f, a))
		return local_error(f, PROBLEM_WRONG_STEP, FLOW_FIELD_NONE);

	const struct action_def *d = &actions[a];
	r->action = a;
	r->method = d->method;
	r->path = d->path;
	r->idempotent = d->idempotent;
	r->secret_body = d->secret;
	r->bearer = f->session.len ? f->session.buf : NULL;

	cJSON *o = NULL;
	if (d->body && !(o = cJSON_CreateObject()))
		return local_error(f, PROBLEM_NO_MEMORY, FLOW_FIELD_NONE);
	if (d->build(f, o, r) < 0) {
		cJSON_Delete(o); /* wiped by the hooks */
		for (size_t i = 0; i < f->n_accounts; i++)
			f->accounts[i].pin_sent = false;
		memset(r, 0, sizeof *r);
		return -1;
	}
	if (o && a != FLOW_ACT_START && a != FLOW_ACT_MANAGE) { /* those two carry their own */
		/* protocol §4.2: one key per submission, the same one when it is sent again */
		if (!f->retrying || !f->sub_key[0])
			random_key(f->sub_key);
		if (f->sub_key[0])
			cJSON_AddStringToObject(o, "idempotency_key", f->sub_key);
	}
	if (o) {
		r->body = cJSON_PrintUnformatted(o);
		cJSON_Delete(o); /* wiped by the hooks */
		if (!r->body) {
			for (size_t i = 0; i < f->n_accounts; i++)
				f->accounts[i].pin_sent = false;
			memset(r, 0, sizeof *r);
			return local_error(f, PROBLEM_NO_MEMORY, FLOW_FIELD_NONE);
		}
		r->body_len = strlen(r->body);
	}
	error_clear(&f->error);
	f->refresh = false;
	f->inflight = a;
	f->last = a;
	return 0;
}


int flow_build_retry(struct flow *f, struct flow_req *r)
{
	if (f->last == FLOW_ACT_NONE) {
		memset(r, 0, sizeof *r);
		return local_error(f, PROBLEM_WRONG_STEP, FLOW_FIELD_NONE);
	}
	f->retrying = true;
	int rc = flow_build(f, f->last, r);
	f->retrying = false;
	return rc;
}

void flow_req_free(struct flow_req *r)
{
	if (r->body) {
		explicit_bzero(r->body, r->body_len);
		cJSON_free(r->body); /* secret_free_wiped through the hooks */
	}
	memset(r, 0, sizeof *r);
}
