"""Kiosk idle time on every screen and in every dialog: a countdown before the end (any key keeps
everything), then the flow cancelled on the server, everything wiped, the start screen back with
nothing of the previous customer on it. Real sandbox, real client in tmux.

Run: /usr/bin/python3 -m pytest -q tests/e2e/test_kiosk_idle.py
"""

import re
import subprocess

from e2e.helpers import (JA, KAKEIBO, PASSWORDS, ROOT, Partner, choose_password, has, key_bar,
                         password_typed, sandbox_back, start_client, table_row, to_partner, typ,
                         wait_screen, yamada_to_pins)

IDLE = ("--kiosk", "--idle-timeout", "10", "--idle-warning", "5")
WARNING = "操作が一定時間ありませんでした。"


def _countdown(t, timeout=15):
    """The warning is up: returns (screen, seconds shown)."""
    s = t.wait_for(lambda x: has(x, WARNING), timeout=timeout)
    m = re.search(r"あと(\d+)秒", re.sub(r"\s", "", s))
    assert m, s
    return s, int(m.group(1))


def _start_screen_clean(t, *gone, timeout=20):
    """The start screen, with none of the previous customer's texts on it."""
    s = t.wait_for(lambda x: has(x, "連携先アプリに表示されているコードを入力") and not has(x, WARNING),
                   timeout=timeout)
    left = [g for g in gone if g and (g in s or re.sub(r"\s", "", g) in re.sub(r"\s", "", s))]
    assert not left, "the previous customer's %r is still on the screen:\n%s" % (left, s)
    return s


def test_idle_warning_counts_down_and_a_key_keeps_the_input(sandbox, curl, term):
    sb = sandbox()
    partner = Partner(curl, sb)
    t = start_client(term, sb, extra=IDLE)
    s = yamada_to_pins(t, partner.user_code)
    typ(t, "12")
    t.wait_for(lambda x: (table_row(x, "2000002") or "").count("●") == 2)
    s, n1 = _countdown(t)
    assert 1 <= n1 <= 5, s
    s2, n2 = _countdown(t)
    t.wait_for(lambda x: has(x, WARNING) and ("あと%d秒" % n1) not in re.sub(r"\s", "", x), timeout=3)
    t.send("Right")  # any key: the warning goes, the PIN table is as it was
    s = t.wait_for(lambda x: not has(x, WARNING) and JA["title_pins"] in x)
    assert (table_row(s, "2000002") or "").count("●") == 2, "the typed PIN was lost:\n" + s
    assert partner.poll().error == "authorization_pending"


def test_idle_on_login_with_a_typed_password_ends_the_flow(sandbox, curl, term):
    sb = sandbox()
    partner = Partner(curl, sb)
    t = start_client(term, sb, extra=IDLE)
    password_typed(t, partner.user_code)
    _countdown(t)
    s = _start_screen_clean(t, partner.user_code, partner.user_code.replace("-", ""), KAKEIBO, "yamada01",
                            "●" * len(PASSWORDS["yamada01"]))
    assert "Esc" not in key_bar(s), "Esc does nothing on a kiosk's start screen:\n" + s
    assert partner.poll_until(lambda r: r.error == "access_denied")


def test_idle_on_the_pin_table_ends_the_flow(sandbox, curl, term):
    sb = sandbox()
    partner = Partner(curl, sb)
    t = start_client(term, sb, extra=IDLE)
    yamada_to_pins(t, partner.user_code)
    _countdown(t)
    _start_screen_clean(t, KAKEIBO, "2000002", "1111111", "生活費", "給与")
    assert partner.poll_until(lambda r: r.error == "access_denied")


def test_idle_inside_the_retry_dialog(sandbox, curl, term, tmp_path):
    state = tmp_path / "state.sqlite"
    sb = sandbox(state=state)
    partner = Partner(curl, sb)
    t = start_client(term, sb, extra=IDLE)
    password_typed(t, partner.user_code)
    assert sb.stop() == 0  # the bank goes away; the customer submits and walks off
    t.send("Enter")
    wait_screen(t, "もう一度送信しますか？", timeout=20)
    sandbox_back(sandbox, sb, state)  # back before the idle time ends: the cancel reaches it
    _countdown(t)
    _start_screen_clean(t, KAKEIBO, "yamada01", "もう一度送信しますか")
    assert partner.poll_until(lambda r: r.error == "access_denied")


def _mktoken(pki, tokdir):
    r = subprocess.run(["sh", str(ROOT / "scripts" / "mktoken.sh"), str(pki), str(tokdir)],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout.strip().splitlines()[-1].split("=", 1)[1]


def test_idle_inside_the_certificate_chooser(sandbox, curl, term, pki, tmp_path):
    conf = _mktoken(pki, tmp_path / "tok")
    sb = sandbox()
    partner = Partner(curl, sb)
    t = start_client(term, sb, env={"SOFTHSM2_CONF": conf},
                     extra=IDLE + ("--pkcs11-module", "/usr/lib/softhsm/libsofthsm2.so"))
    to_partner(t, partner.user_code, KAKEIBO)
    t.send("Tab", "Enter")  # 電子証明書方式
    wait_screen(t, "電子証明書ログイン", "（未選択）", title_is=JA["title"])
    t.send("Enter")  # the chooser
    t.wait_for(lambda s: "電子証明書の選択" in s and "鈴木花子" in s)
    _countdown(t)
    _start_screen_clean(t, KAKEIBO, "鈴木花子", "電子証明書の選択")
    assert partner.poll_until(lambda r: r.error == "access_denied")
    # and the kiosk serves the next customer
    p2 = Partner(curl, sb)
    to_partner(t, p2.user_code, KAKEIBO)
    choose_password(t)
    typ(t, "sato02")
    t.wait_for("sato02")
