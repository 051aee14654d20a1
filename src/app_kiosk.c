/* app_kiosk.c: what a kiosk left alone needs besides the flow: the staff exit (F12 three times,
 * then the staff PIN checked against a crypt(3) hash from the configuration; three wrong PINs lock
 * it for a while). */
#include "app_int.h"

#include <crypt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "exitcodes.h"

#define STAFF_TRIES 3
#define STAFF_LOCK_SECONDS 300

struct staffctx {
	char status[256];
};

static const char *staff_status(void *ctx)
{
	return ((struct staffctx *)ctx)->status;
}

/* pin against the configured hash (crypt_rn: yescrypt, sha512crypt, ... as mkpasswd makes them);
 * the work area and the result wiped. */
static bool staff_pin_ok(const char *hash, const struct secret *pin)
{
	struct crypt_data *cd = calloc(1, sizeof *cd);
	if (!cd)
		return false;
	const char *h = crypt_rn(pin->buf ? pin->buf : "", hash, cd, (int)sizeof *cd);
	bool ok = h && h[0] != '*' && strlen(h) == strlen(hash) && strcmp(h, hash) == 0;
	explicit_bzero(cd, sizeof *cd);
	free(cd);
	return ok;
}

void app_staff_exit(struct app *a)
{
	const char *hash = a->opt->kiosk_staff_pin_hash;
	if (!a->opt->kiosk || !hash || !*hash)
		return; /* no hash configured: no staff exit at all (only SIGTERM) */
	if (time(NULL) < a->staff_locked_until) {
		ui_message(N_("係員による終了"),
			   N_("係員用暗証番号の誤りが続いたため、係員による終了はしばらく使えません。"));
		return;
	}
	struct staffctx sc = {{0}};
	struct secret pin = SECRET_INIT;
	const char *esc = a->esc_msgid;
	bool cancel = a->cancel_key;
	a->esc_msgid = N_("戻る");
	a->cancel_key = false;
	for (;;) {
		const struct ui_binding b[] = {UI_SECRET("pin", &pin), UI_FUNC("status", staff_status, &sc)};
		struct ui_action act;
		if (app_run_form(a, "staff", b, 2, &act, NULL) < 0 || !app_is_button(&act, "exit"))
			break;
		bool ok = staff_pin_ok(hash, &pin);
		secret_clear(&pin);
		if (ok) {
			a->staff_tries = 0;
			if (a->f.session.len > 0 && !flow_is_final(&a->f))
				app_do_action(a, FLOW_ACT_CANCEL);
			a->staff_exit = true;
			a->quit = true;
			break;
		}
		if (++a->staff_tries >= STAFF_TRIES) {
			a->staff_tries = 0;
			a->staff_locked_until = time(NULL) + STAFF_LOCK_SECONDS;
			ui_message(N_("係員による終了"),
				   N_("係員用暗証番号の誤りが続いたため、係員による終了はしばらく使えません。"));
			break;
		}
		snprintf(sc.status, sizeof sc.status, "%s", _("係員用暗証番号が正しくありません。"));
	}
	secret_free(&pin);
	a->esc_msgid = esc;
	a->cancel_key = cancel;
}
