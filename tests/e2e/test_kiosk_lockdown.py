"""Kiosk lock-down: the keys a shell or a terminal would act on do nothing, on screens and in
dialogs; staff leave kiosk mode only with F12 three times and the staff PIN (a crypt(3) hash in the
configuration, made by mkpasswd), three wrong PINs lock that for a while, and without a hash there is
no staff exit at all. Real sandbox, real client in tmux.

Run: /usr/bin/python3 -m pytest -q tests/e2e/test_kiosk_lockdown.py
"""

import subprocess
import time

from e2e.helpers import (JA, KAKEIBO, Partner, choose_password, key_bar, start_client, to_partner, typ,
                         wait_screen)

EXIT_STAFF = 5
STAFF_PIN = "4321"
SHELL_KEYS = ("C-c", "C-z", "C-\\", "C-d", "C-s", "C-q")


def _hash(pin):
    r = subprocess.run(["mkpasswd", "-m", "yescrypt", "--stdin"], input=pin, capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0 and r.stdout.startswith("$y$"), r.stderr
    return r.stdout.strip()


def _kiosk(term, sb, tmp_path, pin_hash=None):
    extra = ["--kiosk"]
    if pin_hash:
        conf = tmp_path / "kiosk.conf"
        conf.write_text("kiosk-staff-pin-hash = %s\n" % pin_hash, encoding="utf-8")
        extra += ["--config", str(conf)]
    return start_client(term, sb, extra=extra)


def _settled(t):
    """The screen once drawn (two equal captures)."""
    return t.wait_for(lambda s: "決定" in key_bar(s))


def _keys_do_nothing(t):
    before = _settled(t)
    for k in SHELL_KEYS:
        t.send(k)
    time.sleep(0.5)  # (the keys are read by now; nothing may have changed)
    after = _settled(t)
    assert not t.exited(), "a key ended renkei in kiosk mode"
    assert after == before, "the screen changed:\n%s\n---\n%s" % (before, after)


def test_shell_keys_do_nothing_on_screens_and_in_dialogs(sandbox, curl, term, tmp_path):
    sb = sandbox()
    partner = Partner(curl, sb)
    t = _kiosk(term, sb, tmp_path)
    wait_screen(t, "コード", title_is=JA["title"])
    _keys_do_nothing(t)  # the start screen
    to_partner(t, partner.user_code, KAKEIBO)
    choose_password(t)
    typ(t, "yamada01")
    t.wait_for("yamada01")
    _keys_do_nothing(t)  # the login screen, with something typed
    t.send("F9")
    wait_screen(t, "API連携の手続きを中止しますか？")
    _keys_do_nothing(t)  # a dialog
    t.send("Enter")  # いいえ
    s = wait_screen(t, "ログインID")
    assert "yamada01" in s, s
    assert partner.poll().error == "authorization_pending"


def test_no_staff_exit_without_a_hash(sandbox, term, tmp_path):
    sb = sandbox()
    t = _kiosk(term, sb, tmp_path)
    before = wait_screen(t, "コード", title_is=JA["title"])
    t.send("F12", "F12", "F12")
    time.sleep(0.5)
    assert _settled(t) == before and not t.exited()


def test_staff_exit_wrong_then_right_pin(sandbox, curl, term, tmp_path):
    sb = sandbox()
    partner = Partner(curl, sb)
    t = _kiosk(term, sb, tmp_path, _hash(STAFF_PIN))
    to_partner(t, partner.user_code, KAKEIBO)  # a customer's flow in progress
    t.send("F12", "F12", "F12")
    s = wait_screen(t, "キオスクモードを終了するには、係員用暗証番号を入力してください。")
    assert "係員による終了" in s, s
    typ(t, "1111")
    t.wait_for("●●●●")
    t.send("Enter")
    s = wait_screen(t, "係員用暗証番号が正しくありません。")
    assert "1111" not in s and "●●●●" not in s, "the wrong PIN stays:\n" + s
    typ(t, STAFF_PIN)
    t.send("Enter")
    assert t.wait_exit() == EXIT_STAFF
    assert partner.poll_until(lambda r: r.error == "access_denied")


def test_three_wrong_staff_pins_lock_the_staff_exit(sandbox, term, tmp_path):
    sb = sandbox()
    t = _kiosk(term, sb, tmp_path, _hash(STAFF_PIN))
    wait_screen(t, "コード", title_is=JA["title"])
    t.send("F12", "F12", "F12")
    wait_screen(t, "係員用暗証番号")
    for i in range(3):
        typ(t, "99%d9" % i)
        t.send("Enter")
        if i < 2:
            wait_screen(t, "係員用暗証番号が正しくありません。")
    t.wait_for("係員用暗証番号の誤りが続いたため")  # a message dialog
    t.send("Enter")
    wait_screen(t, "コード", title_is=JA["title"])
    # even the right PIN is not asked for now
    t.send("F12", "F12", "F12")
    t.wait_for("係員用暗証番号の誤りが続いたため")  # a message dialog
    t.send("Enter")
    wait_screen(t, "コード", title_is=JA["title"])
    assert not t.exited()
