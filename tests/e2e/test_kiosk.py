"""Kiosk mode (--kiosk) and the support trace (--trace): a kiosk never exits and returns to the
start after completion, cancel and idle time, wiping what the previous customer typed; a trace
holds the flow's requests and no secret."""

import json

from e2e.helpers import (JA, PASSWORDS, Partner, allow, choose_password, has, password_login, start_client,
                         to_partner, typ, wait_screen)


MIERU = "ミエル会計株式会社"


def _code_screen(t):
    return wait_screen(t, "コード", title_is=JA["title"])


def test_kiosk_returns_to_start_after_done_cancel_and_idle(sandbox, curl, term, tmp_path):
    sb = sandbox()
    trace = tmp_path / "trace.jsonl"
    t = start_client(term, sb, extra=("--kiosk", "--idle-timeout", "10", "--trace", str(trace)))
    _code_screen(t)

    # 1. sato02 allows: the done screen, then back to an empty start screen
    p1 = Partner(curl, sb, "mieru-demo")
    password_login(t, p1.user_code, "sato02", partner=MIERU)
    wait_screen(t, "※意思確認", title_is=JA["title_permission"])
    allow(t)
    s = _code_screen(t)
    assert p1.user_code not in s and p1.user_code.replace("-", "") not in s, s
    assert p1.get_token()

    # 2. the next customer types an ID and password, then cancels: start again, nothing kept
    p2 = Partner(curl, sb, "mieru-demo")
    to_partner(t, p2.user_code, MIERU)
    choose_password(t)
    typ(t, "yamada01")
    t.send("Escape")  # login -> back to the partner screen
    wait_screen(t, "中止")
    t.send("Escape")
    wait_screen(t, "はい", "いいえ")
    t.send("BTab", "Enter")  # はい (いいえ is the default)
    s = wait_screen(t, "API連携の利用登録を中止しました。", timeout=5)
    t.send("Enter")
    s = _code_screen(t)
    assert "yamada01" not in s
    assert p2.poll_until(lambda r: r.json.get("error") == "access_denied")

    # 3. a customer walks away mid-flow: after the idle time the session is cancelled and the
    #    kiosk is back at the start
    p3 = Partner(curl, sb, "mieru-demo")
    to_partner(t, p3.user_code, MIERU)
    choose_password(t)
    typ(t, "sato02")
    _code_screen_after_idle = t.wait_for(lambda x: has(x, "コード") and "sato02" not in x
                                         and "ログインID" not in x, timeout=20)
    assert _code_screen_after_idle
    assert p3.poll_until(lambda r: r.json.get("error") == "access_denied")

    # the trace: every request of the flows, no secret anywhere
    text = trace.read_text(encoding="utf-8")
    events = [json.loads(ln) for ln in text.splitlines() if ln.strip()]
    paths = [e.get("path") for e in events]
    assert "/consent/v1/session/login" in paths and "/consent/v1/session/decision" in paths, paths
    for secret in (PASSWORDS["sato02"], p1.user_code.replace("-", ""), "Bearer"):
        assert secret not in text, "secret %r in the trace" % secret
    assert (trace.stat().st_mode & 0o777) == 0o600
