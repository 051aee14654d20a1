/* plain.c: the line mode (include/plain.h), modelled on Debian's text installer front-end for
 * speech: each screen written once as lines (title, partner, texts), then a question with numbered
 * choices and the default in brackets; an empty line takes the default, "<" goes back, "?" writes the
 * screen again. Nothing is overwritten and no escape sequence is ever written: every byte out goes
 * through out_bytes, which drops control characters (a bank's text included). Secrets are read with
 * the terminal's echo off into struct secret buffers; the bytes read wait in a wiped buffer too.
 * The flow is flow.c's, the words app_text.c's and the forms' msgids, the state struct app's. */
#include "plain.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "api.h"
#include "app_int.h"
#include "audit.h"
#include "exitcodes.h"
#include "i18n.h"
#include "p11.h"
#include "trace.h"
#include "ui.h"

/* What one line of input was. The kinds from IN_EOF on end the question: the caller returns. */
enum in_kind {
	IN_TEXT,   /* a line with something in it */
	IN_EMPTY,  /* an empty line: the default */
	IN_BACK,   /* "<" */
	IN_REPEAT, /* "?" */
	IN_EOF,    /* the input ended (the terminal went away) */
	IN_SIGNAL, /* SIGTERM, SIGHUP, SIGINT, SIGQUIT */
	IN_IDLE,   /* kiosk: nobody answered within the idle time */
};

struct plain {
	struct app a;        /* the flow, the REST client, trace, audit, token (app_int.h) */
	struct secret inbuf; /* bytes read and not yet taken as a line (may hold a secret) */
	struct secret line;  /* the last line of a choice question */
	bool tty;            /* standard input is a terminal: echo off for secrets */
	bool eof;
	bool no_ask;         /* leaving: no question any more (the retry is not offered) */
	long idle_ms;        /* kiosk: the idle time, 0 = none */
};

/* ---- signals and the terminal --------------------------------------------------------------- */

static volatile sig_atomic_t quit_sig;
static struct termios saved_tio;
static volatile sig_atomic_t tio_saved, tio_changed;

/* The first signal ends the input (the flow is cancelled on the server, then renkei leaves); a
 * second one while leaving restores the terminal and ends at once. */
static void on_signal(int sig)
{
	if (quit_sig) {
		if (tio_changed)
			tcsetattr(STDIN_FILENO, TCSANOW, &saved_tio);
		signal(sig, SIG_DFL);
		raise(sig);
		return;
	}
	quit_sig = sig;
}

static void signals_install(bool kiosk)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal; /* no SA_RESTART: a signal interrupts the wait for a line */
	sigemptyset(&sa.sa_mask);
	const int sigs[] = {SIGTERM, SIGHUP, SIGINT, SIGQUIT};
	for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
		sigaction(sigs[i], &sa, NULL);
	signal(SIGPIPE, SIG_IGN); /* output gone: the flow still ends in order */
	if (kiosk)
		signal(SIGTSTP, SIG_IGN);
}

static void tio_restore(void)
{
	if (tio_changed) {
		tcsetattr(STDIN_FILENO, TCSANOW, &saved_tio);
		tio_changed = 0;
	}
}

/* Kiosk on a terminal: Ctrl-C, Ctrl-\, Ctrl-Z and Ctrl-D are typed characters, not a way out
 * (as the full-screen kiosk's raw mode does). */
static void tio_setup(struct plain *p)
{
	if (!p->tty || tcgetattr(STDIN_FILENO, &saved_tio) < 0)
		return;
	tio_saved = 1;
	if (!p->a.opt->kiosk)
		return;
	struct termios t = saved_tio;
	t.c_cc[VINTR] = t.c_cc[VQUIT] = t.c_cc[VSUSP] = t.c_cc[VEOF] = _POSIX_VDISABLE;
	if (tcsetattr(STDIN_FILENO, TCSANOW, &t) == 0)
		tio_changed = 1;
}

/* Echo off for a secret (canonical input kept: the line is still edited by the terminal). */
static bool echo_off(struct plain *p)
{
	struct termios t;
	if (!p->tty || tcgetattr(STDIN_FILENO, &t) < 0)
		return false;
	if (!tio_saved) {
		saved_tio = t;
		tio_saved = 1;
	}
	t.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
	if (tcsetattr(STDIN_FILENO, TCSANOW, &t) < 0)
		return false;
	tio_changed = 1;
	return true;
}

static void echo_on(void)
{
	struct termios t;
	if (tcgetattr(STDIN_FILENO, &t) < 0)
		return;
	t.c_lflag |= ECHO;
	tcsetattr(STDIN_FILENO, TCSANOW, &t);
}

/* ---- output: lines, never an escape sequence ------------------------------------------------ */

/* s written as it is but for control characters (C0 but newline, DEL, C1 as UTF-8): a space. */
static void out_bytes(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = u[i];
		if (c == 0xc2 && i + 1 < n && u[i + 1] >= 0x80 && u[i + 1] <= 0x9f) {
			putchar(' ');
			i++;
		} else if ((c < 0x20 && c != '\n') || c == 0x7f) {
			putchar(' ');
		} else {
			putchar(c);
		}
	}
}

static void out(const char *s)
{
	out_bytes(s, strlen(s));
}

static void outf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void outf(const char *fmt, ...)
{
	char buf[8192];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (n > 0)
		out_bytes(buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

static void line(const char *s)
{
	out(s);
	putchar('\n');
}

/* A form's text (msgid) translated, with {partner} filled in, as one line. */
static void text_line(struct plain *p, const char *msgid)
{
	const char *t = _(msgid);
	const char *name = app_partner_name(&p->a);
	for (const char *m; (m = strstr(t, "{partner}")); t = m + 9) {
		out_bytes(t, (size_t)(m - t));
		out(name);
	}
	line(t);
}

/* 「label：value」, one line (indent spaces first). */
static void field_line(int indent, const char *label_msgid, const char *value)
{
	/* TRANSLATORS: line mode: a label and its value on one line, e.g. 口座メモ：生活費 */
	outf("%*s%s%s%s\n", indent, "", _(label_msgid), _("："), value);
}

static void error_line(const struct flow *f)
{
	char msg[1024];
	app_error_text(f, msg, sizeof msg);
	if (msg[0])
		/* TRANSLATORS: line mode: an error always starts with this word and a colon (screen
		   readers users find it by the word), keep "Error:" in English */
		outf(_("エラー: %s\n"), msg);
}

/* The linked services' screens (a manage session, protocol §4.12) all have this title. */
#define LINKS_TITLE N_("連携中のサービス")

/* The screen's head: a blank line, the title, the partner (subtitle), the error if any. */
static void head(struct plain *p, const char *title_msgid, bool partner)
{
	putchar('\n');
	line(_(title_msgid));
	if (partner) {
		text_line(p, N_("連携先：{partner}"));
	}
	error_line(&p->a.f);
}

/* ---- input: one line at a time, with the idle time ------------------------------------------- */

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for input (or the deadline, or a signal) and append what came to p->inbuf. */
static enum in_kind fill(struct plain *p, long deadline)
{
	sigset_t block, orig;
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGQUIT);
	sigprocmask(SIG_BLOCK, &block, &orig);
	if (quit_sig) {
		sigprocmask(SIG_SETMASK, &orig, NULL);
		return IN_SIGNAL;
	}
	struct timespec ts, *tsp = NULL;
	if (deadline > 0) {
		long left = deadline - now_ms();
		if (left <= 0) {
			sigprocmask(SIG_SETMASK, &orig, NULL);
			return IN_IDLE;
		}
		ts.tv_sec = left / 1000;
		ts.tv_nsec = (left % 1000) * 1000000L;
		tsp = &ts;
	}
	struct pollfd pfd = {.fd = STDIN_FILENO, .events = POLLIN};
	int rc = ppoll(&pfd, 1, tsp, &orig); /* signals reach us only while waiting here */
	sigprocmask(SIG_SETMASK, &orig, NULL);
	if (rc < 0)
		return errno == EINTR ? (quit_sig ? IN_SIGNAL : IN_TEXT) : IN_EOF;
	if (rc == 0)
		return IN_IDLE;
	char chunk[256];
	ssize_t n = read(STDIN_FILENO, chunk, sizeof chunk);
	if (n > 0 && secret_insert(&p->inbuf, p->inbuf.len, chunk, (size_t)n) < 0)
		n = -1;
	explicit_bzero(chunk, sizeof chunk);
	if (n <= 0 && !(n < 0 && errno == EINTR))
		p->eof = true;
	return IN_TEXT;
}

/* One line into dst (without its newline); the kind of line it was. */
static enum in_kind read_line(struct plain *p, struct secret *dst)
{
	long deadline = p->idle_ms > 0 ? now_ms() + p->idle_ms : 0;
	secret_clear(dst);
	for (;;) {
		char *nl = p->inbuf.len ? memchr(p->inbuf.buf, '\n', p->inbuf.len) : NULL;
		if (nl || (p->eof && p->inbuf.len)) {
			size_t n = nl ? (size_t)(nl - p->inbuf.buf) : p->inbuf.len;
			if (secret_set(dst, p->inbuf.buf, n) < 0)
				return IN_EOF;
			secret_erase(&p->inbuf, 0, nl ? n + 1 : n);
			break;
		}
		if (p->eof)
			return IN_EOF;
		enum in_kind k = fill(p, deadline);
		if (k != IN_TEXT)
			return k;
	}
	while (dst->len && (dst->buf[dst->len - 1] == '\r' || dst->buf[dst->len - 1] == ' '))
		secret_erase(dst, dst->len - 1, 1);
	if (dst->len == 0)
		return IN_EMPTY;
	if (!strcmp(dst->buf, "<"))
		return IN_BACK;
	if (!strcmp(dst->buf, "?"))
		return IN_REPEAT;
	return IN_TEXT;
}

static void leave(struct plain *p, const char *reason);
static void idle_end(struct plain *p);

/* Write prompt (and " [def]" when def), read the answer into dst (hidden: echo off). The input's
 * end, a signal and the idle time are handled here (the flow left or reset): the caller returns
 * on a kind >= IN_EOF. */
static enum in_kind ask(struct plain *p, const char *prompt, const char *def, struct secret *dst, bool hidden)
{
	out(prompt);
	if (def && *def)
		outf(" [%s]", def);
	out(": ");
	fflush(stdout);
	bool noecho = hidden && echo_off(p);
	enum in_kind k = read_line(p, dst);
	if (noecho) {
		echo_on();
		putchar('\n');
	} else if (!p->tty && k < IN_EOF) {
		putchar('\n'); /* input that is not a terminal is not echoed: end the prompt's line */
	}
	if (k == IN_EOF || k == IN_SIGNAL) {
		putchar('\n');
		leave(p, "signal");
	} else if (k == IN_IDLE) {
		putchar('\n');
		idle_end(p);
	}
	fflush(stdout);
	return k;
}

/* A number typed (ASCII or full-width digits), or -1. */
static long parse_number(const char *s)
{
	long v = 0;
	int digits = 0;
	for (const unsigned char *u = (const unsigned char *)s; *u;) {
		if (*u >= '0' && *u <= '9') {
			v = v * 10 + (*u - '0');
			u++;
		} else if (u[0] == 0xef && u[1] == 0xbc && u[2] >= 0x90 && u[2] <= 0x99) {
			v = v * 10 + (u[2] - 0x90); /* ０-９ */
			u += 3;
		} else {
			return -1;
		}
		if (++digits > 6)
			return -1;
	}
	return digits ? v : -1;
}

/* Numbered choices (translated labels; NULL: listed already); *chosen gets the index.
 * disabled[i]: listed, refused. */
static enum in_kind ask_choice(struct plain *p, const char *const *labels, const bool *disabled, size_t n,
			       size_t def, size_t *chosen)
{
	for (size_t i = 0; labels && i < n; i++)
		outf("  %zu. %s\n", i + 1, labels[i]);
	char d[24];
	snprintf(d, sizeof d, "%zu", def + 1);
	for (;;) {
		/* TRANSLATORS: line mode: the prompt under numbered choices */
		enum in_kind k = ask(p, _("番号を選んでください"), d, &p->line, false);
		if (k == IN_EMPTY) {
			*chosen = def;
			return IN_TEXT;
		}
		if (k != IN_TEXT)
			return k;
		long v = parse_number(p->line.buf);
		if (v >= 1 && (size_t)v <= n && !(disabled && disabled[v - 1])) {
			*chosen = (size_t)v - 1;
			return IN_TEXT;
		}
		if (v >= 1 && (size_t)v <= n)
			/* TRANSLATORS: line mode: the choice typed is listed but cannot be chosen now */
			outf(_("エラー: %s\n"), _("この項目は選択できません。"));
		else
			/* TRANSLATORS: line mode: what was typed is not one of the numbers; %zu the last one */
			outf(_("エラー: 1から%zuまでの番号を入力してください。\n"), n);
	}
}

/* はい / いいえ: *yes. */
static enum in_kind ask_yes_no(struct plain *p, const char *question, bool def_yes, bool *yes)
{
	line(question);
	const char *labels[] = {_("はい"), _("いいえ")};
	size_t c = 0;
	enum in_kind k = ask_choice(p, labels, NULL, 2, def_yes ? 0 : 1, &c);
	if (k == IN_TEXT)
		*yes = c == 0;
	return k;
}

/* ---- requests ------------------------------------------------------------------------------- */

static void card_removed(struct plain *p);

/* Send what flow_build made and apply the answer; a transport failure asks whether to send again
 * (everything typed is kept by the flow). 0 when an answer was applied. */
static int send_req(struct plain *p, struct flow_req *req)
{
	struct app *a = &p->a;
	if (a->p11 && p11_selected(a->p11) >= 0 && !a->checking_card) {
		struct p11_err pe = {0};
		if (p11_token_present(a->p11, &pe) == 0) {
			flow_req_free(req);
			card_removed(p);
			return -1;
		}
	}
	enum flow_action act = req->action;
	for (;;) {
		struct api_resp resp;
		struct api_err err;
		memset(&resp, 0, sizeof resp);
		int rc = api_send(a->api, req, &resp, &err);
		if (rc == 0) {
			flow_apply(&a->f, resp.status, resp.content_type, resp.body, resp.len);
			if (a->f.session.len && !a->session_id[0])
				audit_session_id(a->f.session.buf, a->session_id);
			trace_request(a->tr, req, &a->f, resp.status, resp.ms);
			trace_response(a->tr, resp.status, resp.content_type, resp.body, resp.len, resp.ms, PROBLEM_NONE);
			api_resp_free(&resp);
		} else {
			flow_net_error(&a->f, err.kind);
			trace_request(a->tr, req, &a->f, 0, 0);
			trace_response(a->tr, 0, NULL, NULL, 0, 0, err.kind);
		}
		flow_req_free(req);
		if (a->f.refresh && flow_build(&a->f, FLOW_ACT_REFRESH, req) == 0)
			continue;
		/* a cancel asks its own question (ask_cancel) */
		if (rc != 0 && !p->no_ask && !a->checking_card && act != FLOW_ACT_CANCEL && a->f.error.can_retry &&
		    problem_is_transport(a->f.error.kind)) {
			putchar('\n');
			line(_("通信エラー"));
			error_line(&a->f);
			bool again = false;
			if (ask_yes_no(p, _("もう一度送信しますか？"), true, &again) == IN_TEXT && again &&
			    flow_build_retry(&a->f, req) == 0)
				continue;
		}
		return rc;
	}
}

static void do_action(struct plain *p, enum flow_action act)
{
	struct flow_req req;
	memset(&req, 0, sizeof req);
	if (flow_build(&p->a.f, act, &req) < 0)
		return; /* a local check failed: f.error says which, the screen shows it */
	send_req(p, &req);
}

/* The session cancelled on the server without asking (the partner gets access_denied). */
static void cancel_now(struct plain *p)
{
	p->no_ask = true;
	if (!app_cancel_taken(&p->a)) {
		do_action(p, FLOW_ACT_CANCEL);
		if (!app_cancel_taken(&p->a))
			p->a.cancel_unconfirmed = true; /* the bank's session ends when it expires */
	}
	p->no_ask = false;
}

/* The input ended or a signal came: cancel on the server, then leave. */
static void leave(struct plain *p, const char *reason)
{
	p->a.cancel_reason = reason;
	cancel_now(p);
	app_audit_end(&p->a, "cancelled", reason);
	p->a.quit = true;
}

/* Kiosk: nobody answered. The flow is cancelled on the server, everything wiped, the first
 * question again. */
static void idle_end(struct plain *p)
{
	p->a.cancel_reason = "idle";
	cancel_now(p);
	app_audit_end(&p->a, "cancelled", "idle");
	app_reset(&p->a);
	/* TRANSLATORS: line mode, kiosk: nobody answered for the idle time; the first question follows */
	line(_("一定時間操作がなかったため、手続きを終了しました。入力された内容は消去しました。"));
}

/* Cancel the consent (or end a manage session: nothing is pending there), after asking. */
static void ask_cancel(struct plain *p)
{
	const char *question, *again;
	if (p->a.f.manage) {
		question = _("連携中のサービスの確認を終了しますか？");
		again = _("銀行から終了の確認が得られませんでした。もう一度送信しますか？");
	} else {
		question = _("API連携の手続きを中止しますか？ 中止すると、連携先には許可しなかったことが伝わります。");
		again = _("銀行から中止の確認が得られませんでした。もう一度送信しますか？");
	}
	bool yes = false;
	putchar('\n');
	if (ask_yes_no(p, question, false, &yes) != IN_TEXT || !yes)
		return;
	/* until the bank confirms it (as app_ask_cancel): no keeps the screen, the error says why */
	do_action(p, FLOW_ACT_CANCEL);
	while (!p->a.quit && !app_cancel_taken(&p->a) && p->a.f.error.kind != PROBLEM_NONE) {
		putchar('\n');
		error_line(&p->a.f);
		yes = false;
		if (ask_yes_no(p, again, true, &yes) != IN_TEXT || !yes)
			break;
		do_action(p, FLOW_ACT_CANCEL);
	}
}

/* The token went away mid-flow: cancel, wipe, tell, end (a kiosk starts again). */
static void card_removed(struct plain *p)
{
	struct app *a = &p->a;
	a->checking_card = true;
	a->cancel_reason = "card";
	cancel_now(p);
	api_set_ssl_ctx_cb(a->api, NULL, NULL);
	cancel_now(p);
	a->checking_card = false;
	p11_close(a->p11);
	a->p11 = NULL;
	a->cert_label[0] = '\0';
	outf(_("エラー: %s\n"),
	     _("ICカードが取り外されたため、手続きを中止しました。入力された内容は消去しました。最初からやり直してください。"));
	a->card_removed = true;
	if (a->opt->kiosk)
		app_reset(a);
	else
		a->quit = true;
}

/* ---- the steps ------------------------------------------------------------------------------ */

static void step_links_start(struct plain *p);

static void step_code(struct plain *p)
{
	struct app *a = &p->a;
	if (a->opt->links) {
		step_links_start(p);
		return;
	}
	head(p, N_("API連携認証（利用登録）"), false);
	line(_("連携先アプリに表示されているコードを入力の上、「次へ」ボタンを押してください。"));
	line(_("例：WDJB-MJHT（大文字・小文字、ハイフンは区別しません）"));
	enum in_kind k = ask(p, _("コード"), NULL, &a->f.user_code, false);
	if (k == IN_BACK) { /* nowhere to go back to: leave? (a kiosk never leaves) */
		bool yes = false;
		if (a->opt->kiosk)
			return;
		putchar('\n');
		if (ask_yes_no(p, _("API連携の手続きを終了しますか？"), false, &yes) == IN_TEXT && yes)
			a->quit = true;
		return;
	}
	if (k == IN_TEXT || k == IN_EMPTY)
		do_action(p, FLOW_ACT_START);
}

static void step_links_method(struct plain *p);

static void step_partner(struct plain *p)
{
	struct app *a = &p->a;
	if (a->f.manage) {
		step_links_method(p);
		return;
	}
	head(p, N_("API連携認証（利用登録）"), false);
	text_line(p, N_("{partner}がお客様の口座情報へのアクセスを求めています。"));
	line(_("この手続きをご自身で連携先アプリから始めた場合のみ、ログイン方式を選択してお進みください。お心当たりがない場合は「中止」を押してください。"));
	const char *labels[] = {_("ID・パスワード方式"), _("電子証明書方式"), _("中止")};
	size_t c = 0;
	enum in_kind k = ask_choice(p, labels, NULL, 3, 0, &c);
	if (k == IN_BACK || (k == IN_TEXT && c == 2))
		ask_cancel(p);
	else if (k == IN_TEXT)
		flow_choose_method(&a->f, c == 0 ? FLOW_LOGIN_PASSWORD : FLOW_LOGIN_CERTIFICATE);
}

/* The password (echo off) and the login request. */
static void ask_password_and_login(struct plain *p)
{
	enum in_kind k = ask(p, _("ログインパスワード"), NULL, &p->a.f.login.password, true);
	if (k == IN_BACK)
		flow_back_to_partner(&p->a.f);
	else if (k == IN_TEXT || k == IN_EMPTY)
		do_action(p, FLOW_ACT_LOGIN);
}

static void step_login_password(struct plain *p)
{
	struct flow *f = &p->a.f;
	if (f->manage) {
		head(p, LINKS_TITLE, false);
		line(_("ID・パスワード方式"));
		line(_("ログインIDとログインパスワードを入力し、「ログイン」を押してください。"));
	} else {
		head(p, N_("API連携認証（利用登録）"), true);
		line(_("ID・パスワード方式"));
		line(_("「ログインID」、「ログインパスワード」を入力して、「API連携」ボタンを押してください。"));
	}
	/* after a wrong password the ID is kept: an empty line keeps it */
	struct secret typed = SECRET_INIT;
	enum in_kind k = ask(p, _("ログインID"), f->login.login_id.len ? f->login.login_id.buf : NULL, &typed, false);
	if (k == IN_TEXT)
		secret_set(&f->login.login_id, typed.buf, typed.len);
	secret_free(&typed);
	if (k == IN_BACK)
		flow_back_to_partner(f);
	else if (k == IN_TEXT || k == IN_EMPTY)
		ask_password_and_login(p);
}

static void step_login(struct plain *p);

static void step_question(struct plain *p)
{
	struct flow *f = &p->a.f;
	if (f->manage)
		head(p, LINKS_TITLE, false);
	else
		head(p, N_("API連携認証（追加認証）（利用登録）"), true);
	line(_("業務に対する回答を入力の上、「認証」ボタンを押してください。"));
	line(_("追加認証"));
	field_line(0, N_("質問"), app_question_text(&p->a));
	enum in_kind k = ask(p, _("回答"), NULL, &f->question.answer, true);
	if (k == IN_BACK)
		ask_cancel(p);
	else if (k == IN_TEXT || k == IN_EMPTY)
		do_action(p, FLOW_ACT_ANSWER);
}

/* Numbers separated by spaces or commas into sel[0..n): 0, or -1 when one is not 1..n. */
static int parse_numbers(const char *s, bool *sel, size_t n)
{
	char buf[256];
	snprintf(buf, sizeof buf, "%s", s);
	for (size_t i = 0; i < n; i++)
		sel[i] = false;
	int count = 0;
	for (char *save = NULL, *tok = strtok_r(buf, " ,、　", &save); tok; tok = strtok_r(NULL, " ,、　", &save)) {
		long v = parse_number(tok);
		if (v < 1 || (size_t)v > n)
			return -1;
		sel[v - 1] = true;
		count++;
	}
	return count ? 0 : -1;
}

static void step_scopes(struct plain *p)
{
	struct flow *f = &p->a.f;
	head(p, N_("API連携認証（認可業務選択）（利用登録）"), true);
	text_line(p, N_("{partner}にてご利用の対象業務を選択の上、「次へ」ボタンを押してください。"));
	line(_("認可対象"));
	char def[256] = "";
	for (size_t i = 0; i < f->n_scopes; i++) {
		outf("  %zu. %s\n", i + 1, app_scope_name(&f->scopes[i]));
		if (f->scopes[i].selected)
			snprintf(def + strlen(def), sizeof def - strlen(def), "%s%zu", def[0] ? " " : "", i + 1);
	}
	bool sel[64];
	size_t n = f->n_scopes < 64 ? f->n_scopes : 64;
	for (;;) {
		/* TRANSLATORS: line mode: the prompt of a multiple choice (the scopes) */
		enum in_kind k = ask(p, _("選ぶ番号を空白で区切って入力してください"), def, &p->line, false);
		if (k == IN_BACK) {
			ask_cancel(p);
			return;
		}
		if (k == IN_EMPTY)
			break;
		if (k != IN_TEXT)
			return;
		if (parse_numbers(p->line.buf, sel, n) == 0) {
			for (size_t i = 0; i < n; i++)
				f->scopes[i].selected = sel[i];
			break;
		}
		outf(_("エラー: 1から%zuまでの番号を入力してください。\n"), n);
	}
	do_action(p, FLOW_ACT_SCOPES);
}

/* One account as a line: label, memo, status (and what the result table shows of its PIN). */
static void account_line(const struct flow_account *acct, bool result)
{
	char label[256], st[128];
	app_account_label(acct, label, sizeof label);
	outf("  %s", label);
	outf("%s", _("、"));
	field_line(0, result ? N_("登録状況") : N_("登録状態"), app_row_status(acct, result, st, sizeof st));
	outf("    %s%s%s\n", _("口座メモ"), _("："), acct->memo && *acct->memo ? acct->memo : "-");
}

/* Nothing left to register, some account covered: go on with those? (as the full-screen mode) */
static bool pins_dead_end(struct plain *p)
{
	const struct flow *f = &p->a.f;
	size_t covered = 0;
	for (size_t i = 0; i < f->n_accounts; i++) {
		if (flow_account_selectable(&f->accounts[i]))
			return false;
		if (f->accounts[i].pin != FLOW_PIN_UNREGISTERED)
			covered++;
	}
	if (covered == 0)
		return false;
	bool yes = false;
	enum in_kind k = ask_yes_no(
		p, _("照会用暗証番号を登録できる口座はもうありません。登録済みの口座で手続きを続けますか？"), true, &yes);
	if (k == IN_TEXT && yes)
		do_action(p, FLOW_ACT_PIN_CONFIRM);
	else if (k == IN_TEXT || k == IN_BACK)
		ask_cancel(p);
	return true;
}

static void step_pins(struct plain *p)
{
	struct flow *f = &p->a.f;
	head(p, N_("API連携認証（照会用暗証番号登録）（利用登録）"), true);
	line(_("API連携を行う場合は、現在の照会用暗証番号の登録が必要です。"));
	line(_("口座を選択し、現在の照会用暗証番号を入力の上、「登録」ボタンを押してください。"));
	line(_("口座一覧"));
	for (size_t i = 0; i < f->n_accounts; i++)
		account_line(&f->accounts[i], false);
	line(_("※登録状態欄に*が表示されている口座の暗証番号は、認可完了後に有効となります。"));
	line(_("※登録した照会用暗証番号は、API連携にのみ使用されます。"));
	if (pins_dead_end(p))
		return;
	/* TRANSLATORS: line mode: how the PIN questions work */
	line(_("暗証番号を登録しない口座は、空行で飛ばせます。"));
	for (size_t i = 0; i < f->n_accounts; i++) {
		struct flow_account *acct = &f->accounts[i];
		if (!flow_account_selectable(acct))
			continue;
		char label[256], prompt[512];
		app_account_label(acct, label, sizeof label);
		/* TRANSLATORS: line mode: one question per account; %s the account
		   (インターネット支店(001) 普通 2000002); the colon follows */
		snprintf(prompt, sizeof prompt, _("口座 %s、照会用暗証番号"), label);
		enum in_kind k = ask(p, prompt, NULL, &acct->pin_input, true);
		if (k == IN_BACK) {
			ask_cancel(p);
			return;
		}
		if (k == IN_REPEAT)
			return;
		if (k >= IN_EOF)
			return;
		acct->selected = acct->pin_input.len > 0;
	}
	do_action(p, FLOW_ACT_PINS);
}

static void step_pin_result(struct plain *p)
{
	struct flow *f = &p->a.f;
	head(p, N_("API連携認証（照会用暗証番号登録結果）"), true);
	line(_("以下の内容で照会用暗証番号を登録しました。内容を確認の上、「確認」ボタンをクリックしてください。"));
	line(_("照会用暗証番号を追加登録するには、「照会用暗証番号の追加登録」ボタンをクリックしてください。"));
	line(_("※口座一覧"));
	bool can_add = false;
	for (size_t i = 0; i < f->n_accounts; i++) {
		account_line(&f->accounts[i], true);
		can_add = can_add || flow_account_selectable(&f->accounts[i]);
	}
	line(_("※登録状況欄に「※」が表示されている口座の暗証番号は、認可完了後に有効となります。"));
	const char *labels[] = {_("確認"), _("照会用暗証番号の追加登録")};
	size_t c = 0;
	enum in_kind k = ask_choice(p, labels, NULL, can_add ? 2 : 1, 0, &c);
	if (k == IN_BACK)
		ask_cancel(p);
	else if (k == IN_TEXT)
		do_action(p, c == 0 ? FLOW_ACT_PIN_CONFIRM : FLOW_ACT_PIN_ADD);
}

static void permission_text(struct plain *p)
{
	struct app *a = &p->a;
	text_line(p, N_("{partner}がお客様のインターネットバンキングの口座情報・明細情報へのアクセスを求めます。{partner}と当金融機関のサービスは、それぞれの利用規約とプライバシーポリシーに従って、この情報を使用します。"));
	line(_("以下の認可対象・認可期間を確認の上、「許可」ボタンをクリックしてください。"));
	line(_("※認可対象"));
	field_line(2, N_("対象業務"), app_perm_scopes(a));
	outf("  %s%s\n", _("対象口座"), _("："));
	const char *acc = app_perm_accounts(a);
	for (const char *nl; *acc; acc = nl ? nl + 1 : acc + strlen(acc)) {
		nl = strchr(acc, '\n');
		out("    ");
		out_bytes(acc, nl ? (size_t)(nl - acc) : strlen(acc));
		putchar('\n');
	}
	line(_("※認可期間"));
	outf("  %s\n", app_perm_period(a));
	line(_("※意思確認"));
	line(app_terms_text(a));
	a->f.perm.terms_read = true; /* the whole text was written */
}

static void step_permission(struct plain *p)
{
	struct flow *f = &p->a.f;
	head(p, N_("API連携認証（情報アクセス許可）（利用登録）"), true);
	permission_text(p);
	putchar('\n');
	bool yes = f->perm.intent;
	enum in_kind k = ask_yes_no(p, _("許可手続きを継続する"), f->perm.intent, &yes);
	if (k == IN_BACK)
		goto back;
	if (k != IN_TEXT)
		return;
	f->perm.intent = yes;
	const char *labels[] = {_("許可"), _("戻る")};
	size_t c = 0;
	k = ask_choice(p, labels, NULL, 2, yes ? 0 : 1, &c);
	if (k == IN_BACK)
		goto back;
	if (k == IN_TEXT)
		do_action(p, c == 0 ? FLOW_ACT_ALLOW : FLOW_ACT_BACK);
	return;
back: /* back a step when the server offers one, else cancel (as Esc on the screen) */
	if (f->perm.back != FLOW_NONE)
		do_action(p, FLOW_ACT_BACK);
	else
		ask_cancel(p);
}

/* ---- linked services (a manage session, protocol §4.12; the screens: app_links.c) ------------ */

/* renkei --links: what the customer can do here, then the login (nothing is shown before it). */
static void step_links_start(struct plain *p)
{
	struct app *a = &p->a;
	head(p, LINKS_TITLE, false);
	line(_("お客様が口座情報へのアクセスを許可しているサービス（API連携先）を確認し、必要に応じて連携を停止できます。"));
	line(_("「次へ」ボタンを押して、ログインしてください。"));
	const char *labels[] = {_("次へ"), _("終了")};
	size_t c = 0;
	enum in_kind k = ask_choice(p, labels, NULL, a->opt->kiosk ? 1 : 2, 0, &c); /* a kiosk never ends */
	if (k == IN_TEXT && c == 0) {
		do_action(p, FLOW_ACT_MANAGE);
		return;
	}
	if (a->opt->kiosk || (k != IN_BACK && k != IN_TEXT))
		return;
	bool yes = false;
	putchar('\n');
	if (ask_yes_no(p, _("連携中のサービスの確認を終了しますか？"), false, &yes) == IN_TEXT && yes)
		a->quit = true;
}

static void step_links_method(struct plain *p)
{
	struct app *a = &p->a;
	head(p, LINKS_TITLE, false);
	line(_("連携中のサービスの確認には、ログインが必要です。"));
	line(_("ログイン方式を選択してください。"));
	const char *labels[] = {_("ID・パスワード方式"), _("電子証明書方式"), _("終了")};
	size_t c = 0;
	enum in_kind k = ask_choice(p, labels, NULL, 3, 0, &c);
	if (k == IN_BACK || (k == IN_TEXT && c == 2))
		ask_cancel(p);
	else if (k == IN_TEXT)
		flow_choose_method(&a->f, c == 0 ? FLOW_LOGIN_PASSWORD : FLOW_LOGIN_CERTIFICATE);
}

/* One link as lines: the partner, then its scopes and dates indented (the table's columns). */
static void link_lines(const struct flow_link *l)
{
	char buf[512], d[64];
	field_line(2, N_("連携先"), l10n_get(&l->partner.name, i18n_lang()));
	field_line(4, N_("認可対象"), app_link_scopes(l, buf, sizeof buf));
	field_line(4, N_("連携日"), app_date(l->from, d, sizeof d));
	field_line(4, N_("有効期限"), app_date(l->to, d, sizeof d));
}

/* Which links (the table's 選択 column): their names numbered, the numbers typed; the ticked ones
 * (or the only one) are the default. IN_TEXT when f.links' ticks were set. */
static enum in_kind choose_links(struct plain *p)
{
	struct flow *f = &p->a.f;
	char def[256] = "";
	for (size_t i = 0; i < f->n_links; i++) {
		outf("  %zu. %s\n", i + 1, l10n_get(&f->links[i].partner.name, i18n_lang()));
		if (f->links[i].selected || f->n_links == 1)
			snprintf(def + strlen(def), sizeof def - strlen(def), "%s%zu", def[0] ? " " : "", i + 1);
	}
	bool sel[64];
	size_t n = f->n_links < 64 ? f->n_links : 64;
	for (;;) {
		enum in_kind k = ask(p, _("選ぶ番号を空白で区切って入力してください"), def, &p->line, false);
		if (k == IN_EMPTY && def[0]) { /* the ticked ones stay ticked; the only one is ticked */
			if (f->n_links == 1)
				f->links[0].selected = true;
			return IN_TEXT;
		}
		if (k != IN_TEXT && k != IN_EMPTY)
			return k;
		if (k == IN_TEXT && parse_numbers(p->line.buf, sel, n) == 0) {
			for (size_t i = 0; i < f->n_links; i++)
				f->links[i].selected = i < n && sel[i];
			return IN_TEXT;
		}
		outf(_("エラー: 1から%zuまでの番号を入力してください。\n"), n);
	}
}

static void step_links(struct plain *p)
{
	struct flow *f = &p->a.f;
	head(p, LINKS_TITLE, false);
	line(_("お客様が口座情報へのアクセスを許可しているサービス（API連携先）の一覧です。"));
	if (!f->n_links) {
		line(_("現在、連携中のサービスはありません。"));
	} else {
		line(_("サービスを選び、「詳細」または「連携を停止」を押してください。"));
		for (size_t i = 0; i < f->n_links; i++)
			link_lines(&f->links[i]);
	}
	const char *labels[] = {_("詳細"), _("連携を停止"), _("終了")};
	const bool none[] = {f->n_links == 0, f->n_links == 0, false};
	size_t c = 0;
	enum in_kind k = ask_choice(p, labels, none, 3, f->n_links ? 0 : 2, &c);
	if (k == IN_BACK || (k == IN_TEXT && c == 2)) {
		ask_cancel(p); /* 終了: ends the session */
		return;
	}
	if (k != IN_TEXT || choose_links(p) != IN_TEXT)
		return; /* "<" there: the list again */
	if (c == 0)
		flow_links_detail(f);
	else
		flow_links_confirm(f);
}

static void step_link_detail(struct plain *p)
{
	head(p, N_("連携中のサービス（詳細）"), false);
	out(app_links_detail(&p->a));
	const char *labels[] = {_("一覧に戻る"), _("連携を停止")};
	size_t c = 0;
	enum in_kind k = ask_choice(p, labels, NULL, 2, 0, &c);
	if (k == IN_BACK || (k == IN_TEXT && c == 0))
		flow_links_back(&p->a.f);
	else if (k == IN_TEXT)
		flow_links_confirm(&p->a.f);
}

static void send_by_line(void *ctx, enum flow_action act)
{
	do_action(ctx, act);
}

static void step_link_confirm(struct plain *p)
{
	head(p, N_("連携の停止"), false);
	line(_("以下のサービスとの連携を停止します。よろしいですか？"));
	line(_("停止すると、連携先は以下の口座情報を照会できなくなります。"));
	line(_("再び連携するには、連携先のアプリから改めて手続きが必要です。"));
	out(app_links_confirm_text(&p->a));
	const char *labels[] = {_("戻る"), _("停止する")};
	size_t c = 0;
	enum in_kind k = ask_choice(p, labels, NULL, 2, 0, &c); /* 戻る is the default, as on the screen */
	if (k == IN_BACK || (k == IN_TEXT && c == 0))
		flow_links_back(&p->a.f);
	else if (k == IN_TEXT)
		app_links_stop_with(&p->a, send_by_line, p);
}

static void step_link_stopped(struct plain *p)
{
	head(p, N_("連携の停止"), false);
	line(_("以下のサービスとの連携を停止しました。"));
	out(app_links_stopped(&p->a));
	line(_("連携先はお客様の口座情報を照会できなくなりました。"));
	const char *labels[] = {_("一覧に戻る")};
	size_t c = 0;
	enum in_kind k = ask_choice(p, labels, NULL, 1, 0, &c);
	if (k == IN_TEXT || k == IN_BACK)
		flow_links_back(&p->a.f);
}

/* done / cancelled / locked / fatal: the words of the form, then the end (or, in a kiosk, the
 * first question again after Enter). */
struct final_def {
	const char *heading;
	const char *text;      /* after the message, or NULL */
	bool message;          /* the error's words */
};

static const struct final_def finals[FLOW__NSTEPS] = {
	[FLOW_DONE] = {N_("API連携の利用登録が完了しました。"),
		       N_("{partner}の画面（API連携先の画面）にお戻りになり、操作を続けてください。"), false},
	[FLOW_DENIED] = {N_("API連携の利用登録を中止しました。"), N_("{partner}には何も許可されていません。"), false},
	[FLOW_LOCKED] = {N_("ログインがロックされています。"),
			 N_("ロックの解除は、お取引店またはヘルプデスクにお問い合わせください。"), true},
	[FLOW_FATAL] = {N_("エラーが発生しました"), NULL, true},
	[FLOW_ENDED] = {N_("連携中のサービスの確認を終了しました。"), NULL, false},
};

static void step_final(struct plain *p)
{
	struct app *a = &p->a;
	const struct final_def *d = finals[a->f.step].heading ? &finals[a->f.step] : &finals[FLOW_FATAL];
	app_audit_final(a);
	putchar('\n');
	line(a->f.manage || a->opt->links ? _(LINKS_TITLE) : _("API連携認証（利用登録）"));
	if (a->f.partner.name.ja && !a->f.manage)
		text_line(p, N_("連携先：{partner}"));
	line(_(d->heading));
	if (d->message) {
		char msg[1024];
		if (a->f.step == FLOW_LOCKED)
			snprintf(msg, sizeof msg, "%s",
				 _("安全のため、このログインIDではAPI連携の手続きを続けられません。ロックは一定時間で解除される場合があります。時間をおいてからお試しください。"));
		else
			app_error_text(&a->f, msg, sizeof msg);
		if (msg[0])
			line(msg);
	}
	if (d->text)
		text_line(p, d->text);
	if (a->f.step == FLOW_FATAL) {
		const char *labels[] = {_("再試行"), _("終了")};
		size_t c = 0;
		enum in_kind k = ask_choice(p, labels, NULL, 2, 0, &c);
		if (k == IN_TEXT && c == 0) {
			flow_restart(&a->f);
			a->audited = false; /* a new flow, a new record */
			a->session_id[0] = '\0';
			return;
		}
		if (k >= IN_EOF && a->opt->kiosk)
			return;
	} else if (a->opt->kiosk) {
		struct secret any = SECRET_INIT;
		/* TRANSLATORS: line mode, kiosk: the end of a customer's flow */
		enum in_kind k = ask(p, _("Enterキーを押すと最初に戻ります"), NULL, &any, false);
		secret_free(&any);
		if (k < IN_EOF)
			app_reset(a);
		return;
	}
	if (a->opt->kiosk && !a->quit) {
		app_reset(a);
		return;
	}
	a->quit = true;
}

/* One row per step: what asks it, and the form whose words it writes (for the trace's screen
 * records; NULL: form_of() says, as for the screens). */
struct plain_step {
	void (*run)(struct plain *p);
	const char *form;
	const char *links_form; /* the form in a manage session (renkei --links), if another */
};

static const struct plain_step steps[FLOW__NSTEPS] = {
	[FLOW_NONE] = {step_code, "code", "links_start"},
	[FLOW_CODE] = {step_code, "code", "links_start"},
	[FLOW_PARTNER] = {step_partner, "partner", "links_method"},
	[FLOW_LOGIN] = {step_login, NULL, NULL},
	[FLOW_QUESTION] = {step_question, "question", "links_question"},
	[FLOW_SCOPES] = {step_scopes, "scopes", NULL},
	[FLOW_PINS] = {step_pins, "pins", NULL},
	[FLOW_PIN_RESULT] = {step_pin_result, "pin_result", NULL},
	[FLOW_PERMISSION] = {step_permission, "permission", NULL},
	[FLOW_DONE] = {step_final, "done", NULL},
	[FLOW_DENIED] = {step_final, "cancelled", NULL},
	[FLOW_LOCKED] = {step_final, "locked", "links_locked"},
	[FLOW_FATAL] = {step_final, "error", "links_error"},
	[FLOW_LINKS] = {step_links, "links", NULL},
	[FLOW_LINK_DETAIL] = {step_link_detail, "link_detail", NULL},
	[FLOW_LINK_CONFIRM] = {step_link_confirm, "link_confirm", NULL},
	[FLOW_LINK_STOPPED] = {step_link_stopped, "link_stopped", NULL},
	[FLOW_ENDED] = {step_final, "links_ended", NULL},
};

static const char *form_of(const struct plain *p, const struct plain_step *st)
{
	bool manage = p->a.f.manage || p->a.opt->links;
	if (manage && st->links_form)
		return st->links_form;
	if (st->form)
		return st->form;
	bool cert = p->a.f.login.method == FLOW_LOGIN_CERTIFICATE;
	if (manage)
		return cert ? "links_login_certificate" : "links_login_password";
	return cert ? "login_certificate" : "login_password";
}

/* ---- certificate login ---------------------------------------------------------------------- */

static void p11_error(const struct p11_err *pe)
{
	outf(_("エラー: %s\n"), p11_err_message(pe));
}

/* The token's PIN (echo off), or the reader's PIN pad. 0 when logged in. */
static int token_login(struct plain *p, size_t idx)
{
	struct app *a = &p->a;
	const struct p11_cert *c = p11_get(a->p11, idx);
	struct p11_err pe = {0};
	if (!c->login_required || c->protected_auth_path || (c->pin_flags & P11_PIN_LOCKED)) {
		if (c->pin_flags & P11_PIN_LOCKED) {
			pe.kind = P11_ERR_PIN_LOCKED;
			p11_error(&pe);
			return -1;
		}
		if (c->protected_auth_path)
			line(_("カードリーダーのキーでPINを入力してください。入力が終わるまでお待ちください。"));
		fflush(stdout);
		if (p11_login(a->p11, idx, NULL, 0, &pe) == 0)
			return 0;
		p11_error(&pe);
		return -1;
	}
	putchar('\n');
	line(_("ICカードのPIN入力"));
	line(_("選択した電子証明書を使うため、ICカードのPINを入力してください。"));
	outf(_("ICカード：%s　証明書：%s"), c->token_label, c->info.name);
	putchar('\n');
	if (c->pin_flags & P11_PIN_FINAL_TRY)
		line(_("注意：あと1回PINを間違えるとICカードがロックされます。"));
	else if (c->pin_flags & P11_PIN_COUNT_LOW)
		line(_("注意：PINの入力誤りがあります。残りの試行回数が少なくなっています。"));
	struct secret pin = SECRET_INIT;
	int rc = -1;
	for (;;) {
		enum in_kind k = ask(p, _("PIN"), NULL, &pin, true);
		if (k != IN_TEXT)
			break;
		int lr = p11_login(a->p11, idx, pin.buf, pin.len, &pe);
		secret_clear(&pin);
		if (lr == 0) {
			rc = 0;
			break;
		}
		p11_error(&pe);
		if (pe.kind != P11_ERR_PIN_INCORRECT && pe.kind != P11_ERR_PIN_INVALID)
			break;
	}
	secret_free(&pin);
	return rc;
}

/* The tokens opened (or looked at again): the number of certificates, 0 when none (said). */
static size_t cert_tokens(struct plain *p)
{
	struct app *a = &p->a;
	struct p11_err pe = {0};
	if (!a->p11) {
		a->p11 = p11_open(a->opt->pkcs11_module, &pe);
		if (!a->p11) {
			p11_error(&pe);
			return 0;
		}
	} else if ((p11_selected(a->p11) < 0 || p11_count(a->p11) == 0) && p11_refresh(a->p11, &pe) < 0) {
		p11_error(&pe);
		return 0;
	}
	size_t n = p11_count(a->p11);
	if (n == 0)
		p11_error(&pe);
	return n;
}

/* The chooser: every certificate with what the customer checks; the one chosen logged in and
 * given to the TLS connection. In k the kind of the last answer. */
static enum in_kind cert_choose(struct plain *p)
{
	struct app *a = &p->a;
	size_t n = cert_tokens(p);
	if (n == 0 || n > 32)
		return IN_BACK;
	bool disabled[32];
	char lab[32][256], det[1536];
	size_t def = 0;
	bool have_def = false;
	time_t now = time(NULL);
	putchar('\n');
	line(_("電子証明書の選択"));
	line(_("証明書情報を確認のうえ、該当の証明書を選択して「OK」を押してください。"));
	for (size_t i = 0; i < n; i++) {
		bool usable = app_cert_describe(p11_get(a->p11, i), now, lab[i], sizeof lab[i], det, sizeof det);
		disabled[i] = !usable;
		if (usable && !have_def) {
			def = i;
			have_def = true;
		}
		outf("  %zu. %s\n", i + 1, lab[i]);
		for (char *s = det, *nl; *s; s = nl ? nl + 1 : s + strlen(s)) {
			nl = strchr(s, '\n');
			out("     ");
			out_bytes(s, nl ? (size_t)(nl - s) : strlen(s));
			putchar('\n');
		}
	}
	if (a->opt->pkcs11_uri) {
		struct p11_err pe = {0};
		int u = p11_find_uri(a->p11, a->opt->pkcs11_uri, &pe);
		if (u >= 0 && (size_t)u < n && !disabled[u])
			def = (size_t)u;
	}
	size_t c = 0;
	enum in_kind k = ask_choice(p, NULL, disabled, n, def, &c); /* listed with their details above */
	if (k != IN_TEXT)
		return k;
	api_set_ssl_ctx_cb(a->api, NULL, NULL); /* the TLS context must not hold a key we drop */
	a->cert_label[0] = '\0';
	if (token_login(p, c) < 0)
		return IN_BACK;
	if (api_set_ssl_ctx_cb(a->api, p11_ssl_ctx_install, a->p11) < 0) {
		outf(_("エラー: %s\n"), _("電子証明書を通信に設定できませんでした。"));
		return IN_BACK;
	}
	app_cert_label_format(a);
	return IN_TEXT;
}

static void step_login_certificate(struct plain *p)
{
	struct app *a = &p->a;
	if (a->f.manage)
		head(p, LINKS_TITLE, false);
	else
		head(p, N_("API連携認証（利用登録）"), true);
	line(_("電子証明書方式"));
	if (!a->cert_label[0]) {
		enum in_kind k = cert_choose(p);
		if (k == IN_BACK && !a->quit)
			flow_back_to_partner(&a->f);
		if (k != IN_TEXT || !a->cert_label[0])
			return;
	}
	app_cert_label_format(a);
	field_line(0, N_("電子証明書"), a->cert_label);
	ask_password_and_login(p);
}

static void step_login(struct plain *p)
{
	if (p->a.f.login.method == FLOW_LOGIN_CERTIFICATE)
		step_login_certificate(p);
	else
		step_login_password(p);
}

/* ---- kiosk: out of service ------------------------------------------------------------------ */

static void oos_words(void)
{
	line(_("ただいまこの端末はご利用いただけません。"));
	line(_("銀行のサーバーに接続できないため、API連携の手続きを受け付けられません。接続が回復すると、自動的に最初の画面に戻ります。お急ぎの場合は、窓口の係員にお声がけください。"));
}

/* Kiosk, between customers: while the bank cannot be reached, say so once in both languages (a
 * walk-in customer may read either) and ask again with backoff; what is typed meanwhile is
 * dropped. Returns at once when the bank answers. */
static void check_bank(struct plain *p)
{
	struct app *a = &p->a;
	if (!a->opt->kiosk || a->f.step != FLOW_CODE || a->f.session.len || app_bank_reachable(a))
		return;
	enum lang cur = i18n_lang();
	putchar('\n');
	line(_("API連携認証（利用登録）"));
	oos_words();
	i18n_set_lang(cur == LANG_JA ? LANG_EN : LANG_JA);
	oos_words();
	i18n_set_lang(cur);
	fflush(stdout);
	for (int n = 0; !a->quit; n++) {
		long deadline = now_ms() + app_oos_backoff(n);
		enum in_kind k;
		while ((k = fill(p, deadline)) == IN_TEXT && !p->eof)
			secret_clear(&p->inbuf);
		secret_clear(&p->inbuf);
		if (k == IN_SIGNAL || p->eof) {
			leave(p, "signal");
			return;
		}
		if (app_bank_reachable(a))
			return;
	}
}

/* ---- the mode ------------------------------------------------------------------------------- */

bool plain_wanted(const struct options *o)
{
	return o->plain || !ui_terminal_usable();
}

static int plain_open(struct plain *p, const struct options *o)
{
	struct app *a = &p->a;
	struct api_opts ao = {.server = o->server, .cacert = o->cacert, .connect_timeout = o->connect_timeout,
			      .timeout = o->timeout};
	struct api_err aerr;
	a->api = api_new(&ao, &aerr);
	if (!a->api) {
		fprintf(stderr, _("renkei: サーバーの設定が正しくありません: %s\n"), o->server);
		return EXIT_USAGE;
	}
	if (o->trace) {
		a->tr = trace_open(o->trace);
		if (!a->tr) {
			fprintf(stderr, _("renkei: 通信記録ファイルを開けません: %s\n"), o->trace);
			return EXIT_USAGE;
		}
		trace_start(a->tr, o);
	}
	return 0;
}

static void plain_close(struct plain *p)
{
	struct app *a = &p->a;
	tio_restore();
	audit_close(a->audit);
	trace_close(a->tr);
	api_free(a->api); /* before p11_close: the TLS context holds the token's key */
	p11_close(a->p11);
	free(a->scopes_text);
	free(a->accounts_text);
	free(a->links_text);
	flow_free(&a->f);
	form_set_free(a->forms);
	secret_free(&p->inbuf);
	secret_free(&p->line);
}

int plain_run(const struct options *o)
{
	const char *missing = app_tables_missing();
	if (missing) {
		fprintf(stderr, "renkei: %s\n", missing);
		return EXIT_ERROR;
	}
	struct plain p;
	memset(&p, 0, sizeof p);
	p.a.opt = o;
	char err[640];
	/* every form checked before the first question, as the screens do: a bank's broken form stops
	 * renkei here in line mode too (the line mode's words are the built-in forms' msgids) */
	p.a.forms = form_set_load(o->forms_dir, err, sizeof err);
	if (!p.a.forms) {
		fprintf(stderr, "renkei: %s\n", err);
		return EXIT_ERROR;
	}
	p.tty = isatty(STDIN_FILENO);
	p.idle_ms = o->kiosk ? o->idle_timeout * 1000 : 0;
	flow_init(&p.a.f);
	int rc = app_audit_start(&p.a, o);
	if (!rc)
		rc = plain_open(&p, o);
	if (rc) {
		plain_close(&p);
		return rc;
	}
	signals_install(o->kiosk);
	tio_setup(&p);
	/* TRANSLATORS: line mode: said once at the start: how to answer */
	line(_("行モード: 空行で[ ]内の既定値、「<」で戻る、「?」で画面をもう一度表示します。"));
	if (o->user_code) {
		secret_set(&p.a.f.user_code, o->user_code, strlen(o->user_code));
		do_action(&p, FLOW_ACT_START);
	}
	bool between = true; /* at start, then after each customer */
	while (!p.a.quit) {
		if (between)
			check_bank(&p);
		if (p.a.quit)
			break;
		const struct plain_step *st = &steps[p.a.f.step < FLOW__NSTEPS ? p.a.f.step : FLOW_CODE];
		if (!st->run) /* a step the line mode does not offer: ended as an error */
			st = &steps[FLOW_FATAL];
		trace_screen(p.a.tr, form_of(&p, st), &p.a.f);
		st->run(&p);
		fflush(stdout);
		between = p.a.f.step == FLOW_CODE && p.a.f.session.len == 0 && p.a.customer_done;
		p.a.customer_done = false;
	}
	if (p.a.f.session.len && !flow_is_final(&p.a.f))
		app_audit_end(&p.a, "error", problem_name(p.a.f.error.kind)); /* ended mid-flow */
	else if (flow_is_final(&p.a.f))
		app_audit_final(&p.a);
	int code = p.a.card_removed ? EXIT_ERROR : flow_exit_code(&p.a.f);
	if (p.a.audit_failed) {
		fprintf(stderr, "renkei: %s\n", _("監査記録を書き込めなかったため終了しました。"));
		code = EXIT_ERROR;
	}
	fflush(stdout);
	trace_end(p.a.tr, &p.a.f, code);
	plain_close(&p);
	return code;
}
