/* replay.c: renkei --replay (see include/replay.h, docs/trace.md "Replay"). */
#include "replay.h"

#include <curses.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "app.h"
#include "exitcodes.h"
#include "i18n.h"
#include "trace_read.h"
#include "ui.h"

struct replay {
	struct trace_run run;
	size_t applied;   /* actions fed in this pass */
	size_t target;    /* feed without waiting up to here */
	size_t answered;  /* answers given in this pass */
	bool stopping;    /* q or p: the screens are being left */
	bool restart;     /* p: play again from the start up to target */
};

/* The status line's words for an action's "what" (docs/trace.md). */
static const struct {
	const char *what;
	const char *msgid;
} what_words[] = {
	{"typed", N_("入力")},        {"edited", N_("編集")},     {"focus", N_("移動")},
	{"ticked", N_("チェック")},   {"unticked", N_("チェック解除")}, {"pressed", N_("ボタン")},
	{"refused", N_("押せない")},  {"scrolled", N_("スクロール")}, {"lang", N_("言語切替")},
	{"back", N_("戻る（Esc）")},         {"cancel", N_("中止")},     {"help", N_("ヘルプ")},
	{"quit", N_("強制終了")},      {"answered", N_("回答")},   {"key", N_("キー")},
};

static const char *what_word(const char *what)
{
	for (size_t i = 0; i < sizeof what_words / sizeof what_words[0]; i++)
		if (!strcmp(what_words[i].what, what))
			return _(what_words[i].msgid);
	return what;
}

/* "入力 ●●●●●●●●●●● (password)", "ボタン login", "移動 accounts[1]" */
static void describe(const struct trace_action *a, char *buf, size_t size)
{
	int n = snprintf(buf, size, "%s ", what_word(a->what));
	size_t at = n > 0 && (size_t)n < size ? (size_t)n : 0;
	if (!strcmp(a->what, "typed")) {
		if (a->text && !a->secret)
			at += (size_t)snprintf(buf + at, size - at, "\"%s\"", a->text);
		else
			ui_mask(buf + at, size - at, a->count > 16 ? 16 : a->count), at = strlen(buf);
	} else if (a->label) {
		at += (size_t)snprintf(buf + at, size - at, "%s", a->label);
	}
	if (at < size && a->field && !a->label) {
		if (a->row >= 0)
			snprintf(buf + at, size - at, " %s[%ld]", a->field, a->row);
		else
			snprintf(buf + at, size - at, " %s", a->field);
	}
}

static void status(struct replay *r)
{
	char line[512], what[160] = "";
	const struct trace_action *a = r->applied ? &r->run.actions[r->applied - 1] : NULL;
	if (a)
		describe(a, what, sizeof what);
	const char *end = r->applied < r->run.nactions ? "" : r->run.ended ? _("｜記録の終わり") : _("｜記録はここで途切れています");
	/* TRANSLATORS: the replay's status line: action number/total, the step, what the customer
	 * did, the seconds they took, the engineer's keys */
	snprintf(line, sizeof line, _("再生 %zu/%zu｜%s｜%s｜%.1f秒%s｜n 次 p 前 g 最後 q 終了"), r->applied,
		 r->run.nactions, a && a->step[0] ? a->step : "-", a ? what : "-", a ? (double)a->ms / 1000.0 : 0.0,
		 end);
	ui_status_line(line);
}

static void feed_key(const char *name)
{
	int key;
	bool fk;
	if (ui_key_parse(name, &key, &fk) < 0)
		return;
	if (fk) {
		ui_feed_fkey(key);
		return;
	}
	char u[8] = {0};
	wchar_t w[2] = {(wchar_t)key, 0};
	if (wcstombs(u, w, sizeof u - 1) != (size_t)-1)
		ui_feed_text(u);
}

static void feed(const struct trace_action *a)
{
	if (strcmp(a->key, "text") != 0) {
		feed_key(a->key);
		return;
	}
	if (a->text && !a->secret) {
		ui_feed_text(a->text);
		return;
	}
	/* The count only: as many characters the entry takes, shown as ● (a masked entry shows any
	 * character so; the answer is not always masked; the user code takes only its letters). */
	const char *ph = a->digits ? "0" : a->field && !strcmp(a->field, "user_code") ? "B" : "●";
	for (size_t i = 0; i < a->count; i++)
		ui_feed_text(ph);
}

/* ui_set_key_source: the next action's keys, once the engineer asks for them. */
static int source(void *ctx)
{
	struct replay *r = ctx;
	if (r->stopping)
		return -1;
	while (r->applied >= r->target) {
		status(r);
		int key;
		bool fk;
		if (ui_read_key(&key, &fk) < 0) {
			r->stopping = true;
			return -1;
		}
		if (fk && key == KEY_RESIZE) {
			ui_feed_fkey(KEY_RESIZE); /* the screen lays itself out again, then asks again */
			return 0;
		}
		if (fk)
			continue;
		if ((key == ' ' || key == 'n') && r->applied < r->run.nactions)
			r->target = r->applied + 1;
		else if (key == 'g')
			r->target = r->run.nactions;
		else if (key == 'p' && r->applied > 0) {
			r->target = r->applied - 1;
			r->restart = r->stopping = true;
			return -1;
		} else if (key == 'q') {
			r->stopping = true;
			return -1;
		}
	}
	feed(&r->run.actions[r->applied++]);
	return 0;
}

/* api_set_replay: the next recorded answer. */
static int answer(void *ctx, const struct flow_req *req, struct api_resp *resp, struct api_err *err)
{
	struct replay *r = ctx;
	(void)req;
	memset(err, 0, sizeof *err);
	if (r->stopping || r->answered >= r->run.nanswers) {
		err->kind = PROBLEM_NET_OTHER;
		snprintf(err->msg, sizeof err->msg, "replay: no recorded answer left");
		return -1;
	}
	const struct trace_answer *a = &r->run.answers[r->answered++];
	if (!a->status) {
		err->kind = a->failure;
		snprintf(err->msg, sizeof err->msg, "replay: recorded failure");
		return -1;
	}
	resp->body = malloc(a->len + 1);
	if (!resp->body) {
		err->kind = PROBLEM_NO_MEMORY;
		return -1;
	}
	memcpy(resp->body, a->body, a->len + 1);
	resp->len = a->len;
	resp->status = a->status;
	resp->ms = a->ms;
	snprintf(resp->content_type, sizeof resp->content_type, "%s", a->content_type);
	return 0;
}

/* The trace's header onto o: no bank, the language and (placeholder) user code it had. */
static int setup(struct options *o, const struct trace_run *run)
{
	free(o->lang);
	o->lang = strdup(run->lang);
	if (!o->server)
		o->server = strdup("https://replay.invalid");
	free(o->user_code);
	o->user_code = run->user_code ? strdup("BBBBBBBB") : NULL;
	o->kiosk = false;
	free(o->trace); /* a replay writes no trace of its own */
	o->trace = NULL;
	return o->lang && o->server && (!run->user_code || o->user_code) ? 0 : -1;
}

int replay_run(struct options *o)
{
	struct replay r = {0};
	char err[640];
	if (trace_read_file(o->replay, &r.run, err, sizeof err) < 0) {
		fprintf(stderr, "renkei: %s\n", err);
		return EXIT_USAGE;
	}
	if (setup(o, &r.run) < 0) {
		trace_run_free(&r.run);
		return EXIT_ERROR;
	}
	api_set_replay(answer, &r);
	ui_set_key_source(source, &r);
	int code;
	do {
		i18n_set_lang(!strcmp(o->lang, "en") ? LANG_EN : LANG_JA);
		r.applied = r.answered = 0;
		r.stopping = r.restart = false;
		code = app_run(o);
	} while (r.restart && code != EXIT_USAGE);
	ui_set_key_source(NULL, NULL);
	api_set_replay(NULL, NULL);
	if (!r.stopping)
		/* TRANSLATORS: the replayed flow ended by itself: actions played, total, exit status */
		printf(_("renkei: 再生した手続きが終わりました（操作 %zu/%zu、終了状態 %d）\n"), r.applied, r.run.nactions,
		       code);
	trace_run_free(&r.run);
	return code == EXIT_USAGE ? code : EXIT_ALLOWED;
}
