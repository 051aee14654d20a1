"""Kiosk out of service: when the bank's server cannot be reached at start or between customers,
the kiosk shows an out-of-service screen in both languages (no stack of dialogs), asks again by
itself with backoff (2 s doubling, capped at 60 s, jittered) and shows the start screen by itself
once the server answers (protocol §1 "Reachability"). Real sandbox stopped and started again on the
same port, real client in tmux.

Run: /usr/bin/python3 -m pytest -q tests/e2e/test_kiosk_oos.py
"""

from e2e.helpers import (JA, KAKEIBO, Partner, has, sandbox_back, start_client, to_partner, wait_screen)

OOS_JA = "ただいまこの端末はご利用いただけません。"
OOS_EN = "This terminal is out of service for the moment."
START = "連携先アプリに表示されているコードを入力"


def _oos(t, timeout=20):
    s = t.wait_for(lambda x: has(x, OOS_JA) and OOS_EN in x, timeout=timeout)
    assert "もう一度送信しますか" not in s and "通信エラー" not in s, "a dialog instead:\n" + s
    return s


def test_out_of_service_at_start_then_back_by_itself(sandbox, term, tmp_path):
    state = tmp_path / "state.sqlite"
    sb = sandbox(state=state)
    assert sb.stop() == 0  # the bank is away before the kiosk starts
    t = start_client(term, sb, extra=("--kiosk",))
    _oos(t)
    sandbox_back(sandbox, sb, state)
    # within the first backoff steps (2 s, 4 s, 8 s, each ±20 %)
    wait_screen(t, START, title_is=JA["title"], timeout=30)


def test_out_of_service_between_customers(sandbox, curl, term, tmp_path):
    state = tmp_path / "state.sqlite"
    sb = sandbox(state=state)
    t = start_client(term, sb, extra=("--kiosk",))
    wait_screen(t, START, title_is=JA["title"])
    p = Partner(curl, sb)
    to_partner(t, p.user_code, KAKEIBO)
    t.send("Escape")  # 中止
    wait_screen(t, "API連携の手続きを中止しますか？")
    t.send("BTab", "Enter")  # はい
    wait_screen(t, "API連携の利用登録を中止しました。")
    assert sb.stop() == 0  # the bank goes away between customers
    t.send("Enter")
    s = _oos(t)
    assert KAKEIBO not in s, s
    sb2 = sandbox_back(sandbox, sb, state)
    wait_screen(t, START, title_is=JA["title"], timeout=30)
    # and the next customer is served
    p2 = Partner(curl, sb2)
    to_partner(t, p2.user_code, KAKEIBO)
