/* forms.h: the declarative screen files (the forms directory, docs/forms.md): parse, load, list msgids.
 * A form is plain data: no curses, no policy; labels stay untranslated msgids (translated when drawn). */
#ifndef RENKEI_FORMS_H
#define RENKEI_FORMS_H
#include <stdbool.h>
#include <stddef.h>

/* Item kinds. Text-entry kinds (TEXT, MASKED, DIGITS) bind a struct secret; CHECKBOX a bool;
 * TABLE a struct ui_table; LABEL/SECTION/TEXTBLOCK read strings bound by name; BUTTON nothing. */
enum form_kind {
	FORM_LABEL,     /* static text, wrapped; placeholders {name} filled from string bindings */
	FORM_SECTION,   /* a section heading (e.g. 追加認証, 口座一覧) */
	FORM_TEXT,      /* one-line text entry */
	FORM_MASKED,    /* text entry shown as ● (or *) per character */
	FORM_DIGITS,    /* text entry accepting 0-9 only */
	FORM_CHECKBOX,  /* [x] label */
	FORM_TABLE,     /* rows of cells, columns declared by the [column] sections after it */
	FORM_BUTTON,    /* < label >; pressing it ends the screen with the button's id */
	FORM_TEXTBLOCK, /* scrollable read-only text (terms), content bound by name */
};

enum {
	FORM_F_REQUIRED = 1u << 0, /* entry must not be empty when a validating button is pressed; ※ drawn */
	FORM_F_DIGITS = 1u << 1,   /* entry: 0-9 only */
	FORM_F_MASKED = 1u << 2,   /* entry: masked */
	FORM_F_UPPER = 1u << 3,    /* entry: ASCII letters folded to upper case (codes) */
	FORM_F_VALIDATE = 1u << 4, /* button: refuse while a required entry of the screen is empty */
	FORM_F_BOLD = 1u << 5,     /* label: bold */
	FORM_F_CANCEL = 1u << 6,   /* button: acts like Esc (the runner returns UI_ACT_BACK) */
	FORM_F_PLAIN = 1u << 7,    /* table: no heading row (a list of checkboxes, e.g. the scopes) */
};

/* A table column: kind is FORM_CHECKBOX, FORM_LABEL (text read from the row's string binding),
 * FORM_TEXT, FORM_MASKED or FORM_DIGITS (entry bound to the row's struct secret). */
struct form_column {
	enum form_kind kind;
	char *label; /* msgid of the heading */
	char *bind;  /* name looked up in each row's bindings */
	unsigned flags;
	int width; /* columns; 0 = share what is left */
	int max;   /* entry: max characters, 0 = unlimited */
	char *ticks; /* entry: bind of the row's checkbox column that typing ticks (and unticking
		      * clears this entry), or NULL */
	int line;
};

struct form_item {
	enum form_kind kind;
	char *id;    /* [kind id]: button action id, focus target; may be NULL for labels */
	char *label; /* msgid: entry/checkbox/button label, textblock/table heading; NULL if none */
	char *text;  /* msgid: LABEL/SECTION text (may hold {placeholders}) */
	char *bind;  /* binding name (entries, checkbox, table, textblock; optional for LABEL) */
	unsigned flags;
	int width;  /* entry width in columns (0 = up to the right edge, at most 40) */
	int max;    /* entry: max characters (0 = unlimited) */
	int height; /* TABLE rows / TEXTBLOCK lines; -1 = fill the remaining height */
	int gap;    /* blank lines before the item */
	int indent; /* columns of indentation */
	char *enabled_if; /* BUTTON, CHECKBOX: name of a bool binding that must be true, or NULL */
	char *refused;    /* BUTTON, CHECKBOX: msgid shown on the error line when pressed/ticked while
			     not enabled */
	char *read;       /* TEXTBLOCK: name of a bool binding set once the text's end was shown */
	char *hint;       /* CHECKBOX: name of a string binding shown dim after the label ("" = none) */
	struct form_column *cols;
	size_t ncols;
	int line; /* line of the [section] header in the file */
};

struct form {
	char *name;     /* file name without ".form" */
	char *file;     /* where it came from ("embedded:login_password.form" or a path) */
	char *title;    /* msgid of the title line */
	char *subtitle; /* msgid shown under the title (e.g. the partner), or NULL */
	char *help;     /* msgid of the F1 help text, or NULL */
	char *main;     /* id of the main button (Enter in the last entry presses it), or NULL */
	struct form_item *items;
	size_t nitems;
};

/* Parse a form from memory. name is used for the error prefix and form->name ("x.form" or "x").
 * On error returns NULL and writes "name:line: what is wrong" into err (never half-loaded). */
struct form *form_parse(const char *name, const char *data, size_t len, char *err, size_t errlen);
void form_free(struct form *f);

/* Load a form by name ("login_password"). Looks in dir when dir is non-NULL, else in the directory
 * named by env RENKEI_FORMS_DIR when set (a bank's override; a form missing there falls back to the
 * embedded one), else in the forms embedded at build time. NULL + err on failure. */
struct form *form_load(const char *name, const char *dir, char *err, size_t errlen);

/* Every form renkei shows (the built-in set's names), each from dir when it is there, else the
 * built-in one, all parsed and checked, and no *.form in dir that renkei does not know: renkei
 * loads this before the first screen, so a broken form never meets a customer. NULL and err
 * ("file:line: what is wrong") on the first problem. dir NULL: RENKEI_FORMS_DIR, else built-in. */
struct form_set;
struct form_set *form_set_load(const char *dir, char *err, size_t errlen);
/* The form named name ("pins"), or NULL. It lives as long as the set. */
const struct form *form_set_get(const struct form_set *s, const char *name);
void form_set_free(struct form_set *s);

/* Every msgid a form would pass to gettext (title, subtitle, help, labels, texts, refusals,
 * column headings), in file order, duplicates included. */
void form_each_msgid(const struct form *f, void (*cb)(const char *msgid, void *ctx), void *ctx);
/* Load every embedded form (or, with dir, every *.form in dir) and call cb for each msgid.
 * 0, or -1 with err set (the first form that fails to load). */
int forms_each_msgid(const char *dir, void (*cb)(const char *msgid, void *ctx), void *ctx,
		     char *err, size_t errlen);

/* Lookups. */
const struct form_item *form_find(const struct form *f, const char *id);
const char *form_kind_name(enum form_kind k);

#endif
