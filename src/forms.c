/* forms.c: parse and load the declarative screen files (see include/forms.h, docs/forms.md). */
#include "forms.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "embedded.h"

#define FORM_MAX_ITEMS 200
#define FORM_MAX_COLS 12
#define FORM_MAX_VALUE 4096

static const char *const kind_names[] = {
	[FORM_LABEL] = "label",     [FORM_SECTION] = "section",   [FORM_TEXT] = "text",
	[FORM_MASKED] = "masked",   [FORM_DIGITS] = "digits",     [FORM_CHECKBOX] = "checkbox",
	[FORM_TABLE] = "table",     [FORM_BUTTON] = "button",     [FORM_TEXTBLOCK] = "textblock",
};

const char *form_kind_name(enum form_kind k)
{
	return (unsigned)k < sizeof kind_names / sizeof kind_names[0] ? kind_names[k] : "?";
}

static const struct {
	const char *name;
	unsigned flag;
} flag_names[] = {
	{"required", FORM_F_REQUIRED}, {"digits", FORM_F_DIGITS},     {"masked", FORM_F_MASKED},
	{"upper", FORM_F_UPPER},       {"validate", FORM_F_VALIDATE}, {"bold", FORM_F_BOLD},
	{"cancel", FORM_F_CANCEL},     {"plain", FORM_F_PLAIN},
};

/* Which keys each section accepts. T = translatable (must be _("...")), P = plain "..." */
enum { K_T = 1, K_P = 2 };
struct keydef {
	const char *key;
	int type;
	unsigned kinds; /* bit per form_kind; bit 31 = form header; bit 30 = column */
};
#define KB(k) (1u << (k))
#define K_FORM (1u << 31)
#define K_COL (1u << 30)
#define K_ENTRY (KB(FORM_TEXT) | KB(FORM_MASKED) | KB(FORM_DIGITS))
static const struct keydef keys[] = {
	{"title", K_T, K_FORM},
	{"subtitle", K_T, K_FORM},
	{"help", K_T, K_FORM},
	{"main", K_P, K_FORM},
	{"text", K_T, KB(FORM_LABEL) | KB(FORM_SECTION)},
	{"label", K_T, K_ENTRY | KB(FORM_LABEL) | KB(FORM_CHECKBOX) | KB(FORM_BUTTON) | KB(FORM_TEXTBLOCK) | KB(FORM_TABLE) | K_COL},
	{"bind", K_P, K_ENTRY | KB(FORM_CHECKBOX) | KB(FORM_TABLE) | KB(FORM_TEXTBLOCK) | KB(FORM_LABEL) | K_COL},
	{"flags", K_P, K_ENTRY | KB(FORM_BUTTON) | KB(FORM_LABEL) | KB(FORM_TABLE) | K_COL},
	{"width", K_P, K_ENTRY | K_COL},
	{"max", K_P, K_ENTRY | K_COL},
	{"height", K_P, KB(FORM_TABLE) | KB(FORM_TEXTBLOCK)},
	{"gap", K_P, ~(K_FORM | K_COL)},
	{"indent", K_P, ~(K_FORM | K_COL)},
	{"enabled_if", K_P, KB(FORM_BUTTON) | KB(FORM_CHECKBOX)},
	{"refused", K_T, KB(FORM_BUTTON) | KB(FORM_CHECKBOX)},
	{"kind", K_P, K_COL},
	{"read", K_P, KB(FORM_TEXTBLOCK)},
	{"hint", K_P, KB(FORM_CHECKBOX)},
	{"ticks", K_P, K_COL},
};

struct parser {
	const char *name;
	const char *p, *end;
	int line;
	char *err;
	size_t errlen;
	struct form *f;
	/* current section: NULL = form header */
	struct form_item *item;
	struct form_column *col;
	unsigned seen; /* keys seen in the current section (bit per keys[] index) */
};

static int fail(struct parser *ps, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (ps->err && ps->errlen)
		snprintf(ps->err, ps->errlen, "%s:%d: %s", ps->name, ps->line, msg);
	return -1;
}

static char *xstrndup(const char *s, size_t n)
{
	char *d = malloc(n + 1);
	if (d) {
		memcpy(d, s, n);
		d[n] = '\0';
	}
	return d;
}

static bool valid_utf8(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;
	while (i < n) {
		unsigned c = u[i];
		size_t l;
		unsigned long v;
		if (c < 0x80) {
			i++;
			continue;
		} else if (c >= 0xc2 && c <= 0xdf) {
			l = 2;
			v = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			l = 3;
			v = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			l = 4;
			v = c & 0x07;
		} else {
			return false;
		}
		if (i + l > n)
			return false;
		for (size_t k = 1; k < l; k++) {
			if ((u[i + k] & 0xc0) != 0x80)
				return false;
			v = (v << 6) | (u[i + k] & 0x3f);
		}
		if ((l == 3 && v < 0x800) || (l == 4 && (v < 0x10000 || v > 0x10ffff)) ||
		    (v >= 0xd800 && v <= 0xdfff))
			return false;
		i += l;
	}
	return true;
}

static bool is_ident(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		      *s == '_' || *s == '-' || *s == '.'))
			return false;
	return true;
}

static const char *skip_ws(const char *s, const char *e)
{
	while (s < e && (*s == ' ' || *s == '\t'))
		s++;
	return s;
}

/* Parse "..." at *ps (C escapes \" \\ \n \t). Returns a malloc'd string or NULL (error set).
 * (Kept whole, ~60 lines: one scan with its escapes and UTF-8 checks.) */
static char *parse_string(struct parser *ps, const char **pp, const char *e)
{
	const char *s = *pp;
	if (s >= e || *s != '"') {
		fail(ps, "expected a double-quoted value");
		return NULL;
	}
	s++;
	char *out = malloc((size_t)(e - s) + 1);
	if (!out) {
		fail(ps, "out of memory");
		return NULL;
	}
	size_t n = 0;
	for (;;) {
		if (s >= e) {
			free(out);
			fail(ps, "unterminated string");
			return NULL;
		}
		char c = *s++;
		if (c == '"')
			break;
		if (c == '\\') {
			if (s >= e) {
				free(out);
				fail(ps, "unterminated string");
				return NULL;
			}
			char x = *s++;
			switch (x) {
			case '"': c = '"'; break;
			case '\\': c = '\\'; break;
			case 'n': c = '\n'; break;
			case 't': c = '\t'; break;
			default:
				free(out);
				fail(ps, "unknown escape \\%c (use \\\" \\\\ \\n \\t)", x >= 0x20 && x < 0x7f ? x : '?');
				return NULL;
			}
		} else if ((unsigned char)c < 0x20) {
			free(out);
			fail(ps, "control character in a string");
			return NULL;
		}
		out[n++] = c;
	}
	out[n] = '\0';
	if (!valid_utf8(out, n)) {
		free(out);
		fail(ps, "string is not valid UTF-8");
		return NULL;
	}
	if (n > FORM_MAX_VALUE) {
		free(out);
		fail(ps, "string longer than %d bytes", FORM_MAX_VALUE);
		return NULL;
	}
	*pp = s;
	return out;
}

static int parse_int(struct parser *ps, const char *key, const char *v, int lo, int hi, int *out,
		     bool star)
{
	if (star && strcmp(v, "*") == 0) {
		*out = -1;
		return 0;
	}
	char *end;
	errno = 0;
	long n = strtol(v, &end, 10);
	if (!*v || *end || errno || n < lo || n > hi)
		return fail(ps, "%s: expected a number from %d to %d%s, got \"%s\"", key, lo, hi,
			    star ? " or \"*\"" : "", v);
	*out = (int)n;
	return 0;
}

static int parse_flags(struct parser *ps, const char *v, unsigned *out)
{
	const char *s = v;
	while (*s) {
		while (*s == ' ' || *s == ',')
			s++;
		if (!*s)
			break;
		const char *w = s;
		while (*s && *s != ' ' && *s != ',')
			s++;
		size_t n = (size_t)(s - w);
		size_t i;
		for (i = 0; i < sizeof flag_names / sizeof flag_names[0]; i++)
			if (strlen(flag_names[i].name) == n && memcmp(flag_names[i].name, w, n) == 0)
				break;
		if (i == sizeof flag_names / sizeof flag_names[0])
			return fail(ps, "flags: unknown flag \"%.*s\" (known: required digits masked upper validate bold cancel plain)",
				    (int)(n > 40 ? 40 : n), w);
		*out |= flag_names[i].flag;
	}
	return 0;
}

static int kind_from_name(const char *s, size_t n)
{
	for (size_t i = 0; i < sizeof kind_names / sizeof kind_names[0]; i++)
		if (strlen(kind_names[i]) == n && memcmp(kind_names[i], s, n) == 0)
			return (int)i;
	return -1;
}

/* (Kept whole, ~70 lines: a [kind id] line read left to right, every error with its reason.) */
static int header(struct parser *ps, const char *s, const char *e)
{
	/* [kind] or [kind id] */
	s++;
	const char *close = memchr(s, ']', (size_t)(e - s));
	if (!close)
		return fail(ps, "section header without ']'");
	if (skip_ws(close + 1, e) != e)
		return fail(ps, "text after ']' (comments go on their own line)");
	s = skip_ws(s, close);
	const char *w = s;
	while (s < close && *s != ' ' && *s != '\t')
		s++;
	size_t wl = (size_t)(s - w);
	s = skip_ws(s, close);
	const char *id = s;
	while (s < close && *s != ' ' && *s != '\t')
		s++;
	size_t idl = (size_t)(s - id);
	if (skip_ws(s, close) != close)
		return fail(ps, "section header: expected [kind] or [kind id]");
	ps->seen = 0;
	if (wl == 6 && memcmp(w, "column", 6) == 0) {
		if (!ps->item || ps->item->kind != FORM_TABLE || 0)
			return fail(ps, "[column] must follow a [table] (or another [column] of it)");
		if (idl)
			return fail(ps, "[column] takes no id");
		if (ps->item->ncols >= FORM_MAX_COLS)
			return fail(ps, "more than %d columns", FORM_MAX_COLS);
		struct form_column *nc = realloc(ps->item->cols, (ps->item->ncols + 1) * sizeof *nc);
		if (!nc)
			return fail(ps, "out of memory");
		ps->item->cols = nc;
		ps->col = &nc[ps->item->ncols++];
		memset(ps->col, 0, sizeof *ps->col);
		ps->col->kind = FORM_LABEL;
		ps->col->line = ps->line;
		return 0;
	}
	int k = kind_from_name(w, wl);
	if (k < 0)
		return fail(ps, "unknown section [%.*s] (known: label section text masked digits checkbox table column button textblock)",
			    (int)(wl > 40 ? 40 : wl), w);
	if (ps->f->nitems >= FORM_MAX_ITEMS)
		return fail(ps, "more than %d items", FORM_MAX_ITEMS);
	struct form_item *ni = realloc(ps->f->items, (ps->f->nitems + 1) * sizeof *ni);
	if (!ni)
		return fail(ps, "out of memory");
	ps->f->items = ni;
	ps->item = &ni[ps->f->nitems++];
	ps->col = NULL;
	memset(ps->item, 0, sizeof *ps->item);
	ps->item->kind = (enum form_kind)k;
	ps->item->line = ps->line;
	if (idl) {
		ps->item->id = xstrndup(id, idl);
		if (!ps->item->id)
			return fail(ps, "out of memory");
		if (!is_ident(ps->item->id))
			return fail(ps, "id \"%s\": use letters, digits, '_', '-', '.'", ps->item->id);
		for (size_t i = 0; i + 1 < ps->f->nitems; i++)
			if (ps->f->items[i].id && strcmp(ps->f->items[i].id, ps->item->id) == 0)
				return fail(ps, "duplicate id \"%s\" (first on line %d)", ps->item->id,
					    ps->f->items[i].line);
	} else if (k == FORM_BUTTON) {
		return fail(ps, "[button] needs an id: [button NAME]");
	}
	if (k == FORM_DIGITS)
		ps->item->flags |= FORM_F_DIGITS;
	if (k == FORM_MASKED)
		ps->item->flags |= FORM_F_MASKED;
	return 0;
}

/* (Kept whole, ~150 lines: one branch per key of keys[], for the header, a column or an item.) */
static int assign(struct parser *ps, const char *s, const char *e)
{
	const char *k = s;
	while (s < e && *s != ' ' && *s != '\t' && *s != '=')
		s++;
	size_t kl = (size_t)(s - k);
	s = skip_ws(s, e);
	if (kl == 0 || s >= e || *s != '=')
		return fail(ps, "expected key = \"value\", [section], or a comment line (# or //)");
	s = skip_ws(s + 1, e);
	bool tr = false;
	if (e - s >= 2 && s[0] == '_' && s[1] == '(') {
		tr = true;
		s += 2;
	} else if (e - s >= 3 && s[0] == 'N' && s[1] == '_' && s[2] == '(') {
		tr = true;
		s += 3;
	}
	s = skip_ws(s, e);
	char *v = parse_string(ps, &s, e);
	if (!v)
		return -1;
	s = skip_ws(s, e);
	if (tr) {
		if (s >= e || *s != ')') {
			free(v);
			return fail(ps, "_(\"...\") not closed by ')'");
		}
		s = skip_ws(s + 1, e);
	}
	if (s != e) {
		free(v);
		return fail(ps, "text after the value (comments go on their own line)");
	}
	unsigned where = ps->col ? K_COL : ps->item ? KB(ps->item->kind) : K_FORM;
	size_t ki;
	for (ki = 0; ki < sizeof keys / sizeof keys[0]; ki++)
		if (strlen(keys[ki].key) == kl && memcmp(keys[ki].key, k, kl) == 0)
			break;
	const char *sect = ps->col ? "[column]" : ps->item ? kind_names[ps->item->kind] : "the form header";
	if (ki == sizeof keys / sizeof keys[0]) {
		free(v);
		return fail(ps, "unknown key \"%.*s\"", (int)(kl > 40 ? 40 : kl), k);
	}
	if (!(keys[ki].kinds & where)) {
		free(v);
		return fail(ps, "key \"%s\" is not allowed in %s", keys[ki].key, sect);
	}
	if (ps->seen & (1u << ki)) {
		free(v);
		return fail(ps, "key \"%s\" given twice", keys[ki].key);
	}
	ps->seen |= 1u << ki;
	if (keys[ki].type == K_T && !tr) {
		free(v);
		return fail(ps, "%s must be translatable: %s = _(\"...\")", keys[ki].key, keys[ki].key);
	}
	if (keys[ki].type == K_P && tr) {
		free(v);
		return fail(ps, "%s is not translatable: write %s = \"...\"", keys[ki].key, keys[ki].key);
	}
	if (tr && !*v) {
		free(v);
		return fail(ps, "%s: empty msgid", keys[ki].key);
	}
	const char *key = keys[ki].key;
	int rc = 0;
	char **dst = NULL;
	if (!ps->item && !ps->col) {
		struct form *f = ps->f;
		if (!strcmp(key, "title"))
			dst = &f->title;
		else if (!strcmp(key, "subtitle"))
			dst = &f->subtitle;
		else if (!strcmp(key, "help"))
			dst = &f->help;
		else if (!strcmp(key, "main")) {
			if (!is_ident(v))
				rc = fail(ps, "main: \"%s\" is not a button id", v);
			dst = &f->main;
		}
	} else if (ps->col) {
		struct form_column *c = ps->col;
		if (!strcmp(key, "label"))
			dst = &c->label;
		else if (!strcmp(key, "bind")) {
			if (!is_ident(v))
				rc = fail(ps, "bind: \"%s\" is not a name", v);
			dst = &c->bind;
		} else if (!strcmp(key, "kind")) {
			int kk = kind_from_name(v, strlen(v));
			if (kk != FORM_CHECKBOX && kk != FORM_LABEL && kk != FORM_TEXT && kk != FORM_MASKED &&
			    kk != FORM_DIGITS)
				rc = fail(ps, "column kind \"%s\": use label, checkbox, text, masked or digits", v);
			else {
				c->kind = (enum form_kind)kk;
				if (kk == FORM_DIGITS)
					c->flags |= FORM_F_DIGITS;
				if (kk == FORM_MASKED)
					c->flags |= FORM_F_MASKED;
			}
		} else if (!strcmp(key, "ticks")) {
			if (!is_ident(v))
				rc = fail(ps, "ticks: \"%s\" is not a name", v);
			dst = &c->ticks;
		} else if (!strcmp(key, "flags"))
			rc = parse_flags(ps, v, &c->flags);
		else if (!strcmp(key, "width"))
			rc = parse_int(ps, key, v, 1, 200, &c->width, false);
		else if (!strcmp(key, "max"))
			rc = parse_int(ps, key, v, 1, 1000, &c->max, false);
	} else {
		struct form_item *it = ps->item;
		if (!strcmp(key, "label"))
			dst = &it->label;
		else if (!strcmp(key, "text"))
			dst = &it->text;
		else if (!strcmp(key, "bind")) {
			if (!is_ident(v))
				rc = fail(ps, "bind: \"%s\" is not a name", v);
			dst = &it->bind;
		} else if (!strcmp(key, "enabled_if")) {
			if (!is_ident(v))
				rc = fail(ps, "enabled_if: \"%s\" is not a name", v);
			dst = &it->enabled_if;
		} else if (!strcmp(key, "refused"))
			dst = &it->refused;
		else if (!strcmp(key, "read") || !strcmp(key, "hint")) {
			if (!is_ident(v))
				rc = fail(ps, "%s: \"%s\" is not a name", key, v);
			dst = !strcmp(key, "read") ? &it->read : &it->hint;
		}
		else if (!strcmp(key, "flags"))
			rc = parse_flags(ps, v, &it->flags);
		else if (!strcmp(key, "width"))
			rc = parse_int(ps, key, v, 1, 200, &it->width, false);
		else if (!strcmp(key, "max"))
			rc = parse_int(ps, key, v, 1, 1000, &it->max, false);
		else if (!strcmp(key, "height"))
			rc = parse_int(ps, key, v, 1, 100, &it->height, true);
		else if (!strcmp(key, "gap"))
			rc = parse_int(ps, key, v, 0, 5, &it->gap, false);
		else if (!strcmp(key, "indent"))
			rc = parse_int(ps, key, v, 0, 40, &it->indent, false);
	}
	if (dst && rc == 0) {
		*dst = v;
		return 0;
	}
	free(v);
	return rc;
}

static int check_section_end(struct parser *ps)
{
	/* called when a section ends (next header or end of file): required keys */
	int save = ps->line;
	if (ps->col) {
		ps->line = ps->col->line;
		if (!ps->col->bind)
			return fail(ps, "[column] needs bind = \"...\"");
		if (!ps->col->label)
			return fail(ps, "[column] needs label = _(\"...\")");
	} else if (ps->item) {
		struct form_item *it = ps->item;
		ps->line = it->line;
		const char *kn = kind_names[it->kind];
		switch (it->kind) {
		case FORM_LABEL:
		case FORM_SECTION:
			if (!it->text && !(it->kind == FORM_LABEL && it->bind))
				return fail(ps, "[%s] needs text = _(\"...\")%s", kn,
					    it->kind == FORM_LABEL ? " or bind = \"...\"" : "");
			break;
		case FORM_TEXT:
		case FORM_MASKED:
		case FORM_DIGITS:
		case FORM_CHECKBOX:
			if (!it->bind)
				return fail(ps, "[%s] needs bind = \"...\"", kn);
			if (!it->label)
				return fail(ps, "[%s] needs label = _(\"...\")", kn);
			if (it->refused && !it->enabled_if)
				return fail(ps, "refused needs enabled_if");
			break;
		case FORM_TEXTBLOCK:
			if (!it->bind)
				return fail(ps, "[%s] needs bind = \"...\"", kn);
			break;
		case FORM_TABLE:
			if (!it->bind)
				return fail(ps, "[%s] needs bind = \"...\"", kn);
			break;
		case FORM_BUTTON:
			if (!it->label)
				return fail(ps, "[%s] needs label = _(\"...\")", kn);
			if (it->refused && !it->enabled_if)
				return fail(ps, "refused needs enabled_if");
			break;
		}
	}
	ps->line = save;
	return 0;
}

static int finish(struct parser *ps)
{
	struct form *f = ps->f;
	ps->line = 1;
	if (!f->title)
		return fail(ps, "the form needs title = _(\"...\") before its first [section]");
	int fills = 0;
	for (size_t i = 0; i < f->nitems; i++) {
		struct form_item *it = &f->items[i];
		ps->line = it->line;
		if (it->kind == FORM_TABLE && it->ncols == 0)
			return fail(ps, "[table] has no [column]");
		if (it->height < 0 && ++fills > 1)
			return fail(ps, "only one item may have height = \"*\"");
		for (size_t c = 0; c < it->ncols; c++)
			for (size_t d = 0; d < c; d++)
				if (!strcmp(it->cols[c].bind, it->cols[d].bind)) {
					ps->line = it->cols[c].line;
					return fail(ps, "column bind \"%s\" used twice", it->cols[c].bind);
				}
		if (it->kind == FORM_BUTTON && (it->flags & ~(FORM_F_VALIDATE | FORM_F_CANCEL)))
			return fail(ps, "button flags: only validate, cancel");
		if (it->kind == FORM_TABLE && (it->flags & ~FORM_F_PLAIN))
			return fail(ps, "table flags: only plain");
		if (it->kind != FORM_TABLE && (it->flags & FORM_F_PLAIN))
			return fail(ps, "flag plain is for tables only");
		for (size_t c = 0; c < it->ncols; c++) {
			const struct form_column *col = &it->cols[c];
			if (!col->ticks)
				continue;
			ps->line = col->line;
			bool found = false;
			for (size_t d = 0; d < it->ncols; d++)
				found = found || (it->cols[d].kind == FORM_CHECKBOX && !strcmp(it->cols[d].bind, col->ticks));
			if (col->kind == FORM_CHECKBOX || col->kind == FORM_LABEL)
				return fail(ps, "ticks is for entry columns");
			if (!found)
				return fail(ps, "ticks = \"%s\": no checkbox column with that bind", col->ticks);
		}
	}
	if (f->main) {
		const struct form_item *m = form_find(f, f->main);
		ps->line = 1;
		if (!m || m->kind != FORM_BUTTON)
			return fail(ps, "main = \"%s\": no [button %s] in this form", f->main, f->main);
	}
	return 0;
}

/* (Kept whole, ~65 lines: the line loop; each line kind handed to header/assign.) */
struct form *form_parse(const char *name, const char *data, size_t len, char *err, size_t errlen)
{
	struct parser ps = {0};
	ps.name = name ? name : "form";
	ps.p = data;
	ps.end = data + len;
	ps.err = err;
	ps.errlen = errlen;
	if (err && errlen)
		err[0] = '\0';
	ps.f = calloc(1, sizeof *ps.f);
	if (!ps.f) {
		fail(&ps, "out of memory");
		return NULL;
	}
	const char *base = ps.name;
	for (const char *q = ps.name; *q; q++)
		if (*q == '/' || *q == ':')
			base = q + 1;
	size_t bl = strlen(base);
	if (bl > 5 && !strcmp(base + bl - 5, ".form"))
		bl -= 5;
	ps.f->name = xstrndup(base, bl);
	ps.f->file = strdup(ps.name);
	if (!ps.f->name || !ps.f->file) {
		fail(&ps, "out of memory");
		goto bad;
	}
	const char *s = data;
	if (len >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0)
		s += 3;
	while (s < ps.end) {
		ps.line++;
		size_t rest = (size_t)(ps.end - s);
		const char *nl = memchr(s, '\n', rest);
		size_t ll = nl ? (size_t)(nl - s) : rest;
		const char *next = nl ? nl + 1 : ps.end;
		if (ll > 0 && s[ll - 1] == '\r')
			ll--;
		const char *e = s + ll;
		if (ll && memchr(s, '\0', ll)) {
			fail(&ps, "NUL byte in the file");
			goto bad;
		}
		const char *t = skip_ws(s, e);
		if (t == e || *t == '#' || (e - t >= 2 && t[0] == '/' && t[1] == '/')) {
			/* blank or comment line */
		} else if (*t == '[') {
			if (check_section_end(&ps) < 0)
				goto bad;
			if (header(&ps, t, e) < 0)
				goto bad;
		} else if (assign(&ps, t, e) < 0) {
			goto bad;
		}
		s = next;
	}
	if (check_section_end(&ps) < 0 || finish(&ps) < 0)
		goto bad;
	return ps.f;
bad:
	form_free(ps.f);
	return NULL;
}

void form_free(struct form *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->nitems; i++) {
		struct form_item *it = &f->items[i];
		free(it->id);
		free(it->label);
		free(it->text);
		free(it->bind);
		free(it->enabled_if);
		free(it->refused);
		free(it->read);
		free(it->hint);
		for (size_t c = 0; c < it->ncols; c++) {
			free(it->cols[c].label);
			free(it->cols[c].bind);
			free(it->cols[c].ticks);
		}
		free(it->cols);
	}
	free(f->items);
	free(f->name);
	free(f->file);
	free(f->title);
	free(f->subtitle);
	free(f->help);
	free(f->main);
	free(f);
}

const struct form_item *form_find(const struct form *f, const char *id)
{
	for (size_t i = 0; f && id && i < f->nitems; i++)
		if (f->items[i].id && !strcmp(f->items[i].id, id))
			return &f->items[i];
	return NULL;
}

static bool safe_name(const char *name)
{
	return name && is_ident(name) && name[0] != '.' && !strstr(name, "..");
}

static struct form *load_file(const char *path, char *err, size_t errlen)
{
	FILE *fp = fopen(path, "rb");
	if (!fp) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	size_t cap = 8192, n = 0;
	char *buf = malloc(cap);
	while (buf) {
		if (n == cap) {
			if (cap >= (1u << 20)) {
				snprintf(err, errlen, "%s: file larger than 1 MiB", path);
				free(buf);
				fclose(fp);
				return NULL;
			}
			char *nb = realloc(buf, cap * 2);
			if (!nb) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = nb;
			cap *= 2;
		}
		size_t r = fread(buf + n, 1, cap - n, fp);
		n += r;
		if (r == 0)
			break;
	}
	bool bad = !buf || ferror(fp);
	fclose(fp);
	if (bad) {
		snprintf(err, errlen, "%s: read error", path);
		free(buf);
		return NULL;
	}
	struct form *f = form_parse(path, buf, n, err, errlen);
	free(buf);
	return f;
}

struct form *form_load(const char *name, const char *dir, char *err, size_t errlen)
{
	char dummy[8];
	if (!err || !errlen) {
		err = dummy;
		errlen = sizeof dummy;
	}
	if (!safe_name(name)) {
		snprintf(err, errlen, "form name \"%s\" is not valid", name ? name : "(null)");
		return NULL;
	}
	if (!dir) {
		dir = getenv("RENKEI_FORMS_DIR");
		if (dir && !*dir)
			dir = NULL;
	}
	if (dir) {
		/* a bank's directory holds the forms it changed; the others are the built-in ones */
		char path[4096];
		snprintf(path, sizeof path, "%s/%s.form", dir, name);
		if (access(path, F_OK) == 0 || errno != ENOENT)
			return load_file(path, err, errlen);
	}
	char file[256];
	snprintf(file, sizeof file, "%s.form", name);
	for (const struct embedded_file *e = embedded_forms; e->name; e++)
		if (!strcmp(e->name, file)) {
			char label[300];
			snprintf(label, sizeof label, "embedded:%s", file);
			return form_parse(label, e->data, e->len, err, errlen);
		}
	snprintf(err, errlen, "no form named \"%s\"", name);
	return NULL;
}

/* ---- the set of forms renkei shows, checked before the first screen ------------------------- */

struct form_set {
	struct form **v;
	size_t n;
};

void form_set_free(struct form_set *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		form_free(s->v[i]);
	free(s->v);
	free(s);
}

/* dir holds no *.form that renkei does not know (a misspelt name would silently not be used). */
static int check_dir_names(const char *dir, char *err, size_t errlen)
{
	DIR *d = opendir(dir);
	if (!d) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	int rc = 0;
	struct dirent *de;
	while (rc == 0 && (de = readdir(d))) {
		size_t l = strlen(de->d_name);
		if (l < 6 || strcmp(de->d_name + l - 5, ".form") != 0)
			continue;
		bool known = false;
		for (const struct embedded_file *e = embedded_forms; e->name && !known; e++)
			known = !strcmp(e->name, de->d_name);
		if (!known) {
			char names[1024];
			size_t at = 0;
			names[0] = '\0';
			for (const struct embedded_file *e = embedded_forms; e->name && at < sizeof names; e++)
				at += (size_t)snprintf(names + at, sizeof names - at, "%s%s", at ? " " : "", e->name);
			snprintf(err, errlen, "%s/%s: not a form renkei shows (they are: %s)", dir, de->d_name, names);
			rc = -1;
		}
	}
	closedir(d);
	return rc;
}

struct form_set *form_set_load(const char *dir, char *err, size_t errlen)
{
	char dummy[8];
	if (!err || !errlen) {
		err = dummy;
		errlen = sizeof dummy;
	}
	const char *d = dir ? dir : getenv("RENKEI_FORMS_DIR");
	if (d && *d && check_dir_names(d, err, errlen) < 0)
		return NULL;
	struct form_set *s = calloc(1, sizeof *s);
	size_t n = 0;
	for (const struct embedded_file *e = embedded_forms; e->name; e++)
		n++;
	if (!s || !(s->v = calloc(n ? n : 1, sizeof *s->v))) {
		free(s);
		snprintf(err, errlen, "%s", strerror(ENOMEM));
		return NULL;
	}
	for (const struct embedded_file *e = embedded_forms; e->name; e++) {
		char name[256];
		snprintf(name, sizeof name, "%.*s", (int)(strlen(e->name) - 5), e->name);
		struct form *f = form_load(name, dir, err, errlen);
		if (!f) {
			form_set_free(s);
			return NULL;
		}
		s->v[s->n++] = f;
	}
	return s;
}

const struct form *form_set_get(const struct form_set *s, const char *name)
{
	for (size_t i = 0; s && i < s->n; i++)
		if (!strcmp(s->v[i]->name, name))
			return s->v[i];
	return NULL;
}

void form_each_msgid(const struct form *f, void (*cb)(const char *msgid, void *ctx), void *ctx)
{
	if (f->title)
		cb(f->title, ctx);
	if (f->subtitle)
		cb(f->subtitle, ctx);
	if (f->help)
		cb(f->help, ctx);
	for (size_t i = 0; i < f->nitems; i++) {
		const struct form_item *it = &f->items[i];
		if (it->text)
			cb(it->text, ctx);
		if (it->label)
			cb(it->label, ctx);
		if (it->refused)
			cb(it->refused, ctx);
		for (size_t c = 0; c < it->ncols; c++)
			if (it->cols[c].label)
				cb(it->cols[c].label, ctx);
	}
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int forms_each_msgid(const char *dir, void (*cb)(const char *msgid, void *ctx), void *ctx,
		     char *err, size_t errlen)
{
	if (!dir) {
		for (const struct embedded_file *e = embedded_forms; e->name; e++) {
			struct form *f = form_parse(e->name, e->data, e->len, err, errlen);
			if (!f)
				return -1;
			form_each_msgid(f, cb, ctx);
			form_free(f);
		}
		return 0;
	}
	DIR *d = opendir(dir);
	if (!d) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	char **names = NULL;
	size_t n = 0;
	struct dirent *de;
	int rc = 0;
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name);
		if (l <= 5 || strcmp(de->d_name + l - 5, ".form") || de->d_name[0] == '.')
			continue;
		char **nn = realloc(names, (n + 1) * sizeof *nn);
		if (!nn || !(nn[n] = strdup(de->d_name))) {
			names = nn ? nn : names;
			rc = -1;
			snprintf(err, errlen, "out of memory");
			break;
		}
		names = nn;
		n++;
	}
	closedir(d);
	if (n)
		qsort(names, n, sizeof *names, cmp_str);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		char path[4096];
		snprintf(path, sizeof path, "%s/%s", dir, names[i]);
		struct form *f = load_file(path, err, errlen);
		if (!f) {
			rc = -1;
			break;
		}
		form_each_msgid(f, cb, ctx);
		form_free(f);
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}
