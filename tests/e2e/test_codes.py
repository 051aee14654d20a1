"""Screen 0: the partner's code (RFC 8628 user_code) typed, scanned or given on the command line."""

import re
import pytest

from e2e.helpers import (KAKEIBO, wait_partner, EXIT_DENIED, JA, Partner, cancel_yes, derived_scenario, error_line,
                         has, squash, start_client, start_flow, title, type_code, wait_error, wait_screen, typ)

MSG_UNKNOWN = "コードが正しくありません。連携先の画面に表示されたコードを確かめて、もう一度入力してください。"
MSG_RATE = "コードの入力誤りが続いたため、受付を一時停止しています。"



def _code_entry(screen):
    for ln in screen.split("\n"):
        if "コード" in ln and "※" in ln:
            rest = ln.split("※", 1)[1]
            m = re.search(r"\[(.*)\]", rest)  # the entry is drawn in brackets
            return (m.group(1) if m else rest).strip(" x│|")
    return None


def test_wrong_code_then_retry(sandbox, curl, term):
    _, partner, t = start_flow(sandbox, curl, term)
    wait_screen(t, "コード", title_is=JA["title"])
    wrong = "BBBB-BBBB" if partner.user_code != "BBBB-BBBB" else "CCCC-CCCC"
    type_code(t, wrong)
    s = wait_error(t, "コードが正しくありません。")
    assert title(s) == JA["title"] and has(s, "コード"), s
    assert _code_entry(s).replace("-", "") == wrong.replace("-", ""), "the typed code was not kept:\n" + s
    t.send("C-u")
    t.wait_for(lambda x: _code_entry(x) == "")
    type_code(t, partner.user_code)
    s = wait_partner(t, KAKEIBO)
    assert squash("コードが正しくありません") not in squash(s), "the old error stayed:\n" + s


def test_lower_case_without_hyphen_accepted(sandbox, curl, term):
    _, partner, t = start_flow(sandbox, curl, term)
    wait_screen(t, "コード", title_is=JA["title"])
    typed = partner.user_code.replace("-", "").lower()
    typ(t, typed)
    t.wait_for(lambda x: _code_entry(x) == typed.upper())  # folded to upper case as typed
    t.send("Enter")
    wait_partner(t, KAKEIBO)


def test_spaces_in_code_accepted(sandbox, curl, term):
    _, partner, t = start_flow(sandbox, curl, term)
    wait_screen(t, "コード", title_is=JA["title"])
    c = partner.user_code.replace("-", "")
    type_code(t, c[:4].lower() + " " + c[4:])
    wait_partner(t, KAKEIBO)


def test_user_code_on_command_line(sandbox, curl, term):
    sb = sandbox()
    partner = Partner(curl, sb)
    t = start_client(term, sb, user_code=partner.user_code.lower())
    s = wait_partner(t, KAKEIBO)
    assert title(s) == JA["title"], s
    # cancel from here: the partner gets access_denied
    cancel_yes(t)
    t.send("Enter")
    assert t.wait_exit() == EXIT_DENIED
    assert partner.poll().error == "access_denied"


def test_wrong_user_code_on_command_line_offers_retry(sandbox, curl, term):
    sb = sandbox()
    partner = Partner(curl, sb)
    t = start_client(term, sb, user_code="ZZZZ-ZZZZ" if partner.user_code != "ZZZZ-ZZZZ" else "XXXX-XXXX")
    s = wait_error(t, "コードが正しくありません。")
    assert title(s) == JA["title"] and has(s, "コード"), s
    t.send("C-u")
    t.wait_for(lambda x: _code_entry(x) == "")
    type_code(t, partner.user_code)
    wait_partner(t, KAKEIBO)


def test_expired_code(sandbox, curl, term, tmp_path):
    sc = derived_scenario(tmp_path / "short-expiry.json", expires_in=1, interval=1)
    sb = sandbox(scenario=sc)
    partner = Partner(curl, sb)
    assert partner.da["expires_in"] == 1, partner.da
    # the partner polls (every interval) until the code has expired: no fixed sleep
    partner.poll_until(lambda r: r.error == "expired_token", timeout=15)
    t = start_client(term, sb)
    wait_screen(t, "コード", title_is=JA["title"])
    type_code(t, partner.user_code)
    s = wait_error(t, "このコードは有効期限が切れています。")
    assert title(s) == JA["title"], s
    assert "[ 中止 ]" not in s, s


def test_too_many_wrong_codes_rate_limited(sandbox, curl, term):
    _, partner, t = start_flow(sandbox, curl, term)
    wait_screen(t, "コード", title_is=JA["title"])
    wrongs = [c for c in ("BBBBBBBB", "CCCCCCCC", "DDDDDDDD", "FFFFFFFF", "GGGGGGGG", "HHHHHHHH")
              if c != partner.user_code.replace("-", "")][:5]
    for i, w in enumerate(wrongs):
        if i:
            t.send("C-u")
            t.wait_for(lambda x: _code_entry(x) == "")
        type_code(t, w)
        t.wait_for(lambda x, w=w: _code_entry(x) == w and error_line(x) != "")
    t.send("C-u")
    t.wait_for(lambda x: _code_entry(x) == "")
    # protocol §4.3: now unknown codes are refused for a while ...
    other = next(c for c in ("JJJJJJJJ", "KKKKKKKK") if c != partner.user_code.replace("-", ""))
    type_code(t, other)
    s = wait_error(t, MSG_RATE)
    assert "[ 中止 ]" not in s, s
    # ... but the right code still goes through (one person's typos do not block a kiosk)
    t.send("C-u")
    t.wait_for(lambda x: _code_entry(x) == "")
    type_code(t, partner.user_code)
    wait_partner(t, KAKEIBO)


def test_error_messages_shown_whole_at_80x24(sandbox, curl, term, tmp_path):
    _, partner, t = start_flow(sandbox, curl, term)
    wait_screen(t, "コード", title_is=JA["title"])
    type_code(t, "BBBB-BBBB" if partner.user_code != "BBBB-BBBB" else "CCCC-CCCC")
    s = wait_error(t, "コードが正しくありません。")
    whole = squash(s)
    assert squash(MSG_UNKNOWN) in whole, "message cut:\n" + s
