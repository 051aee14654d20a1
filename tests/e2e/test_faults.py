"""The fault matrix (issue 10): every fault kind of `renkei-sandbox --fault` at every step of the
flow, the real client in a real terminal.

One flow per kind: the sandbox is started with STEP:KIND:once for every step at once
(device_authorization, session, login, answer, scopes, pins, pin_result, decision, token), so each
step meets the fault on its first request and must recover from it. yamada01's whole flow is then
driven as a customer would: after each submission the customer sees either the next screen (the
client recovered by itself: a latency, a slow body, a lost answer on a kept-alive connection that
libcurl sent again with the same idempotency key), or the retry question 「もう一度送信しますか？」
(the customer presses はい), or a clear error line in Japanese naming what to do (the customer
types again what was wiped, a secret, and submits again). Nothing else is accepted: no crash, no
error screen, no unknown words. What was typed and is not a secret stays on the screen.

At the end the partner holds one grant with what was chosen, or, when the token answer itself was
lost (reset, cut short, garbage, wrong shape: the sandbox issued it), the second redemption of the
device code revoked that grant (protocol §2.3): never a live grant its partner does not hold.
PINs registered through a lost answer are registered once (the sandbox's idempotency keys).

The cancel step (DELETE) has its own flow per kind: the partner gets access_denied in every case.
"""

import json
import os
import re
import signal
import sqlite3
import subprocess
import time

import pytest

from e2e.helpers import (ANSWER, EXIT_ALLOWED, EXIT_DENIED, JA, KAKEIBO, PASSWORDS, DEVICE_GRANT,
                         checkbox_state, choose_password, cursor, error_line, has, key_bar,
                         scroll_terms_to_end, squash, start_client, table_row, title, typ,
                         wait_partner, wait_screen)

STEPS = ["device_authorization", "session", "login", "answer", "scopes", "pins", "pin_result",
         "decision", "token"]
KINDS = ["latency:1200", "status:500", "status:502", "status:503", "status:429", "reset",
         "truncate", "garbage", "shape", "slow:3"]

# what the customer may read after a failed submission (po/ja: the client's problem table)
MSG_RETRY_Q = "もう一度送信しますか？"
MSG_SERVER = "銀行のサーバーで問題が発生しました。しばらく待ってからもう一度お試しください。"
MSG_LIMITED = "受付を一時停止しています。"  # codes, logins, or a busy server
KNOWN_ERRORS = (MSG_SERVER, MSG_LIMITED)
MSG_RETRY_REASONS = ("通信が途中で切れました。入力内容はそのままです。",
                     "銀行のサーバーから応答がありませんでした。入力内容はそのままです。",
                     "銀行のサーバーに接続できませんでした。入力内容はそのままです。")
PINS = {"2000002": "1234", "1111111": "5678"}  # yamada01's unregistered accounts (demo-scenario.md)


# ---------------------------------------------------------------------------------------------
# The partner, through faults: a request that met one (no answer, an unreadable one, a 5xx/429)
# is sent again once, as a partner would.

def _partner_request(curl, url, form, log):
    try:
        r = curl("POST", url, form=form)
    except AssertionError as e:  # transport error: the answer was lost
        log.append("transport error: %s" % str(e)[:80])
        return None
    if r.status >= 429 or (r.status == 200 and not isinstance(r.json, dict)):
        log.append("answer %d %r" % (r.status, r.text[:60]))
        return None
    if r.status == 200 and not all(isinstance(r.json.get(k), str)
                                   for k in ("access_token", "device_code", "user_code")
                                   if k in r.json):
        log.append("answer of the wrong shape")
        return None
    return r


def device_authorization(curl, sb, log):
    url = sb.url + "/oauth/device_authorization"
    for _ in range(2):
        r = _partner_request(curl, url, {"client_id": "kakeibo-demo"}, log)
        if r is not None and r.status == 200 and isinstance(r.json.get("user_code"), str):
            return r.json
        time.sleep(1.1)  # a 429 asks for 1 s
    raise AssertionError("no device authorization after a fault: %s" % log)


def token(curl, sb, da, log):
    """Poll for the token: the first answer may be faulted; returns (token answer or None, the
    last Response)."""
    url = sb.url + "/oauth/token"
    form = {"grant_type": DEVICE_GRANT, "device_code": da["device_code"], "client_id": "kakeibo-demo"}
    last = None
    for _ in range(3):
        r = _partner_request(curl, url, form, log)
        if r is not None:
            last = r
            if r.status == 200 and isinstance(r.json.get("access_token"), str):
                return r.json, r
            if r.error != "slow_down":
                return None, r
        time.sleep(max(1.1, float(da.get("interval", 1))))
    return None, last


# ---------------------------------------------------------------------------------------------
# The customer

def _retry_dialog(s):
    return has(s, MSG_RETRY_Q)


def _error_shown(s, t):
    err = squash(error_line(s, t.height))
    return err if any(squash(m) in err for m in KNOWN_ERRORS) else None


def submit(t, step, keys, expect, refill, log, tries=4, timeout=8.0):
    """Send keys (the customer's submission), then recover as a customer would until expect(screen)
    holds: the retry question answered はい; a known error line: refill(screen) (type again what
    was wiped), then the keys again. Any other screen fails. Returns the screen."""
    t.send(*keys)
    for _ in range(tries):
        def settled(x):
            return key_bar(x, t.height) and (expect(x) or _retry_dialog(x) or _error_shown(x, t))
        try:
            s = t.wait_for(settled, timeout=timeout)
        except AssertionError as e:
            raise AssertionError("%s: neither the next screen, the retry question nor a known error:\n%s"
                                 % (step, e)) from None
        if expect(s):
            return s
        assert "エラーが発生しました" not in s, "%s: an error screen:\n%s" % (step, s)
        if _retry_dialog(s):
            assert any(has(s, m) for m in MSG_RETRY_REASONS), "%s: the retry question says why?\n%s" % (step, s)
            log.append("%s: retry question, はい" % step)
            t.send("Enter")  # はい is the default
            t.wait_for(lambda x: not _retry_dialog(x), timeout=timeout)
            continue
        log.append("%s: error line %r, again" % (step, _error_shown(s, t)[:24]))
        if MSG_LIMITED in s:
            time.sleep(1.2)  # the 429 said 1 s
        refill(s)
        t.send(*keys)
        t.wait_for(lambda x: not _error_shown(x, t), timeout=timeout)
    raise AssertionError("%s: still not through after %d tries: %s\n%s" % (step, tries, log, t.screen()))


def nothing(_s):
    pass


def is_title(name, *texts):
    return lambda s: title(s) == JA[name] and all(has(s, x) for x in texts)


def flow_through_faults(t, da, log):
    """yamada01's whole flow (both scopes, both unregistered accounts' PINs, allow), recovering from
    whatever each step meets. Returns when the completion screen is shown."""
    wait_screen(t, "コード", title_is=JA["title"])
    typ(t, da["user_code"])

    def code_kept(s):
        assert da["user_code"] in s, "the code typed was lost:\n" + s
    submit(t, "session", ["Enter"], lambda s: has(s, KAKEIBO) and has(s, "電子証明書方式"), code_kept, log)
    wait_partner(t, KAKEIBO)
    choose_password(t)
    typ(t, "yamada01")
    t.send("Enter")
    typ(t, PASSWORDS["yamada01"])

    def retype_password(s):
        assert "yamada01" in s, "the login ID was lost:\n" + s
        row = [ln for ln in s.split("\n") if "ログインパスワード" in ln and "※" in ln][0]
        assert "●" not in row, "a server error kept the password? " + row
        typ(t, PASSWORDS["yamada01"])
    submit(t, "login", ["Enter"], is_title("title_question", "証券名を入力してください"), retype_password, log)

    typ(t, ANSWER)

    def retype_answer(s):
        if ANSWER not in s:
            typ(t, ANSWER)
    submit(t, "answer", ["Enter"], is_title("title_scopes", "認可対象"), retype_answer, log)

    def scopes_kept(s):
        assert checkbox_state(s, "残高照会") is True and checkbox_state(s, "入金出金照会") is True, s
    submit(t, "scopes", ["Enter"], is_title("title_pins", "口座一覧"), scopes_kept, log)

    # the PIN table: the focus starts on the first row's PIN cell
    typ(t, PINS["2000002"])
    t.send("Tab", "Tab")
    typ(t, PINS["1111111"])
    t.wait_for(lambda x: (table_row(x, "1111111") or "").count("●") == 4)

    def retype_pins(s):
        for n, pin in PINS.items():
            row = table_row(s, n) or ""
            if "●" in row:
                continue
            # put the cursor on that row's PIN cell (the last cell of the row) and type it again
            for _ in range(12):
                if cursor(t)[1] == s.split("\n").index(row) and cursor(t)[0] > 40:
                    break
                before = cursor(t)
                t.send("Tab")
                t.wait_for(lambda _x: cursor(t) != before, timeout=2)
            typ(t, pin)
            s = t.wait_for(lambda x, n=n: (table_row(x, n) or "").count("●") == len(pin))
    submit(t, "pins", ["Enter"], is_title("title_pin_result", "口座一覧"), retype_pins, log)

    s = t.screen()
    for n in PINS:
        assert re.search(r"※登録済み", table_row(s, n) or ""), "account %s not registered:\n%s" % (n, s)
    submit(t, "pin_result", ["Enter"], is_title("title_permission", "※意思確認"), nothing, log)

    scroll_terms_to_end(t)
    t.send("Tab", "Space")
    t.wait_for(lambda x: checkbox_state(x, "許可手続きを継続する") is True)

    def intent_kept(s):
        assert checkbox_state(s, "許可手続きを継続する") is True, "the tick was lost:\n" + s
    submit(t, "decision", ["Enter"], lambda s: has(s, "API連携の利用登録が完了しました。"), intent_kept, log)


def _grants(state):
    with sqlite3.connect(str(state)) as db:
        return db.execute("SELECT id, client_id, scopes, revoked FROM grants ORDER BY id").fetchall()


@pytest.mark.parametrize("kind", KINDS)
def test_every_step_meets_the_fault_once(sandbox, curl, term, tmp_path, kind):
    state = tmp_path / "state.sqlite"
    args = []
    for step in STEPS:
        args += ["--fault", "%s:%s:once" % (step, kind)]
    sb = sandbox(state=state, args=args)
    log = []
    da = device_authorization(curl, sb, log)
    t = start_client(term, sb)
    flow_through_faults(t, da, log)
    t.send("Enter")  # 終了
    assert t.wait_exit() == EXIT_ALLOWED
    assert sb.alive()

    # a limit met after the code step never speaks of codes
    wrong = [x for x in log if "コードの入力誤り" in x and not x.startswith("session:")]
    assert not wrong, wrong

    faulted = [ln for ln in sb.log_text().split("\n") if "fault=" in ln]
    met = {m.group(1) for ln in faulted for m in [re.search(r"fault=([a-z_]+):", ln)] if m}
    assert met >= set(STEPS) - {"token"}, "steps that never met the fault: %s\n%s" % (
        set(STEPS) - {"token"} - met, "\n".join(faulted))

    tok, last = token(curl, sb, da, log)
    grants = _grants(state)
    assert len(grants) == 1 and grants[0][1] == "kakeibo-demo", grants
    if tok is not None:
        # the partner holds the one grant, with both scopes and the three accounts
        assert set(tok["scope"].split()) == {"balance", "transactions"}, tok
        r = curl("GET", sb.url + "/v1/accounts", bearer=tok["access_token"])
        assert r.status == 200, r
        assert sorted(a["number"] for a in r.json["accounts"]) == ["1000014", "1111111", "2000002"], r.json
        assert grants[0][3] == 0, grants
    else:
        # the token answer was lost after the sandbox issued it: the second redemption revoked it
        assert kind.split(":")[0] in ("reset", "truncate", "garbage", "shape"), (kind, last, log)
        assert last is not None and last.error == "invalid_grant", (last, log)
        assert grants[0][3] == 1, "a live grant the partner never received: %s" % (grants,)
    print("%s: %s" % (kind, "; ".join(log)))


# A cancel that meets a fault. The cancel is safe to send again (protocol §4.11: sent again after it
# was taken, it meets 409 wrong-step naming the final step), so a lost or cut answer and a 502/503/504
# are resent by the client itself; a 500 or an answer it cannot read asks the customer, with the
# server's sentence, whether to send it again.
CANCEL_KINDS = ["reset", "truncate", "latency:1200", "status:500", "status:503", "garbage", "shape"]
CANCEL_ASKED = ("status:500", "garbage", "shape")
MSG_CANCEL_AGAIN = "銀行から中止の確認が得られませんでした。もう一度送信しますか？"


def _to_question(term, sb, da, *extra):
    t = start_client(term, sb, extra=extra)
    wait_screen(t, "コード", title_is=JA["title"])
    typ(t, da["user_code"])
    t.send("Enter")
    wait_partner(t, KAKEIBO)
    choose_password(t)
    typ(t, "yamada01")
    t.send("Enter")
    typ(t, PASSWORDS["yamada01"])
    t.send("Enter")
    wait_screen(t, "証券名を入力してください", title_is=JA["title_question"])
    return t


def _in_dialog(s, text):
    """text in a dialog on the screen, wrapped lines joined (frame bars and white space dropped)."""
    return re.sub(r"[\s│]", "", text) in re.sub(r"[\s│]", "", s)


def _cancel_asked(s):
    return _in_dialog(s, MSG_CANCEL_AGAIN) and has(s, "手続きの中止")


@pytest.mark.parametrize("kind", CANCEL_KINDS)
def test_cancel_meets_the_fault(sandbox, curl, term, tmp_path, kind):
    """Esc and はい on the question screen while the DELETE meets the fault: the customer sees the
    cancelled screen, asked (for a 500 or an unreadable answer) whether to send it again, with the
    bank's sentence; the partner gets access_denied."""
    sb = sandbox(args=["--fault", "cancel:%s:once" % kind])
    log = []
    da = device_authorization(curl, sb, log)
    t = _to_question(term, sb, da)
    t.send("Escape")
    wait_screen(t, "API連携の手続きを中止しますか？")
    t.send("BTab", "Enter")
    s = t.wait_for(lambda x: has(x, "API連携の利用登録を中止しました。") or _cancel_asked(x), timeout=8.0)
    if kind in CANCEL_ASKED:
        assert _cancel_asked(s), "%s: no question:\n%s" % (kind, s)
        assert _in_dialog(s, MSG_SERVER), "%s: the question says why:\n%s" % (kind, s)
        t.send("Enter")  # はい is the default
        s = wait_screen(t, "API連携の利用登録を中止しました。")
    else:
        assert not _cancel_asked(s), "%s: resent by itself, not asked:\n%s" % (kind, s)
    t.send("Enter")
    assert t.wait_exit() == EXIT_DENIED
    _, last = token(curl, sb, da, log)
    assert last is not None and last.error == "access_denied", (kind, last, log)
    methods = [ln for ln in sb.log_text().splitlines() if "DELETE /consent/v1/session" in ln]
    # garbage and shape came after the work was done: the one sent again met 409 wrong-step
    assert len(methods) == (1 if kind == "latency:1200" else 2), methods
    print("cancel %s: %s" % (kind, methods))


def test_cancel_not_sent_again_keeps_the_screen(sandbox, curl, term):
    """A cancel the bank does not confirm, いいえ to sending it again: back on the question screen with
    the bank's sentence on the error line and the answer typed still there; Esc and はい again
    cancel; the partner gets access_denied."""
    sb = sandbox(args=["--fault", "cancel:status:500:once"])
    log = []
    da = device_authorization(curl, sb, log)
    t = _to_question(term, sb, da)
    typ(t, "ABC")
    t.send("Escape")
    wait_screen(t, "API連携の手続きを中止しますか？")
    t.send("BTab", "Enter")
    t.wait_for(_cancel_asked, timeout=8.0)
    t.send("Tab", "Enter")  # いいえ
    s = t.wait_for(lambda x: not _cancel_asked(x) and title(x) == JA["title_question"] and
                   MSG_SERVER in squash(error_line(x, t.height)), timeout=8.0)
    assert "ABC" in s, "the answer typed was lost:\n" + s
    _, last = token(curl, sb, da, log)
    assert last is not None and last.error == "authorization_pending", (last, log)
    t.send("Escape")
    wait_screen(t, "API連携の手続きを中止しますか？")
    t.send("BTab", "Enter")
    wait_screen(t, "API連携の利用登録を中止しました。")
    t.send("Enter")
    assert t.wait_exit() == EXIT_DENIED
    _, last = token(curl, sb, da, log)
    assert last is not None and last.error == "access_denied", (last, log)


def _sigterm_on_the_question(curl, sb, term, tmp_path, log):
    """The customer on the question screen with --audit, then SIGTERM to renkei; its audit records
    and the device authorization."""
    audit = tmp_path / "audit.jsonl"
    da = device_authorization(curl, sb, log)
    t = _to_question(term, sb, da, "--audit", str(audit))
    pids = subprocess.run(["pgrep", "-P", str(t.pane_pid), "-x", "renkei"], capture_output=True,
                          text=True).stdout.split()
    os.kill(int(pids[0]) if pids else t.pane_pid, signal.SIGTERM)
    t.wait_exit()
    return [json.loads(ln) for ln in audit.read_text(encoding="utf-8").splitlines()], da


def test_cancel_by_signal_unconfirmed_is_recorded(sandbox, curl, term, tmp_path):
    """SIGTERM while every cancel meets a 500: renkei tries (nobody to ask), leaves, and its audit
    record says the bank did not confirm the cancel ("confirmed": false); the bank's request is
    still pending for the partner (it ends when it expires)."""
    sb = sandbox(args=["--fault", "cancel:status:500"])
    log = []
    recs, da = _sigterm_on_the_question(curl, sb, term, tmp_path, log)
    assert len(recs) == 1, recs
    r = recs[0]
    assert (r["result"], r["reason"], r.get("confirmed")) == ("cancelled", "signal", False), r
    assert any("DELETE /consent/v1/session 500" in ln for ln in sb.log_text().splitlines())
    _, last = token(curl, sb, da, log)
    assert last is not None and last.error == "authorization_pending", (last, log)


def test_cancel_confirmed_is_not_marked(sandbox, curl, term, tmp_path):
    """The same SIGTERM when the cancel goes through: no "confirmed" key, the partner is denied."""
    sb = sandbox()
    log = []
    recs, da = _sigterm_on_the_question(curl, sb, term, tmp_path, log)
    assert len(recs) == 1 and recs[0]["result"] == "cancelled" and "confirmed" not in recs[0], recs
    _, last = token(curl, sb, da, log)
    assert last is not None and last.error == "access_denied", (last, log)
