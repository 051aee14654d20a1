"""Certificate login with card readers and token PIN states SoftHSM2 cannot produce: a PIN pad
reader (CKF_PROTECTED_AUTHENTICATION_PATH), few PIN tries left (CKF_USER_PIN_COUNT_LOW /
CKF_USER_PIN_FINAL_TRY) and a locked PIN (CKF_USER_PIN_LOCKED / CKR_PIN_LOCKED).

build/renkei runs in a real terminal (tmux, 80x24) with --pkcs11-module pointing at the test-only
module build/tests/libp11shim.so (tests/p11shim/shim.c), which wraps the real SoftHSM2 module and
token made by scripts/mktoken.sh (SOFTHSM2_CONF as in test_certificate.py):
  RENKEI_SHIM_MODULE           the real libsofthsm2.so
  RENKEI_SHIM_MODE             pinpad, count_low, final_try, locked (comma list)
  RENKEI_SHIM_PINPAD_FILE      pinpad: what the customer "types on the reader" (no file: cancelled)
  RENKEI_SHIM_PINPAD_DELAY_MS  pinpad: how long the customer takes
Texts are the msgids of src/app.c and src/p11.c (English from po/en.po).
"""

import time

import pytest

from e2e.helpers import (BUILD, EXIT_DENIED, JA, Partner, button, en, field_row, has, squash,
                         start_client, wait_partner, wait_screen)
from e2e.test_certificate import (KAKEIBO, cert_facts, MODULE, PASSWORD, TOKEN_PIN, _dialog_text, _mktoken,
                                  assert_no_stray_output, cert_chosen, finish_suzuki, focus_choose, highlight,
                                  on_row, open_chooser, to_cert_screen, token_pin, type_password, wait_dialog)

SHIM = BUILD / "tests" / "libp11shim.so"

PIN_SCREEN = "ICカードのPIN入力"
MSG_PINPAD = "「OK」を押したあと、カードリーダーのキーでPINを入力してください。"
WARN_COUNT_LOW = "注意：PINの入力誤りがあります。残りの試行回数が少なくなっています。"
WARN_FINAL_TRY = "注意：あと1回PINを間違えるとICカードがロックされます。"
MSG_PIN_WRONG_LOW = "PINが正しくありません。残りの試行回数が少なくなっています。"
MSG_PIN_WRONG_FINAL = "PINが正しくありません。あと1回間違えるとカードがロックされます。"
MSG_LOCKED = "ICカードのPINがロックされています。ロックの解除は銀行にお問い合わせください。"
MSG_CANCELLED = "カードリーダーでのPIN入力が取り消されました。もう一度お試しください。"
MSG_PINPAD_WAIT = "カードリーダーのキーでPINを入力してください。入力が終わるまでお待ちください。"
CANCEL_Q = "API連携の手続きを中止しますか？"
CANCELLED = "API連携の利用登録を中止しました。"
NOT_CHOSEN = "（未選択）"


@pytest.fixture(scope="session")
def shim():
    assert SHIM.exists(), "%s does not exist (run make: all builds it)" % SHIM
    return SHIM


@pytest.fixture(scope="session")
def reader_token(pki, shim, tmp_path_factory):
    """renkei-demo (PIN 123456) for tests that never type a wrong PIN into the real token."""
    return _mktoken(pki, tmp_path_factory.mktemp("reader-tok"))


@pytest.fixture
def own_token(pki, shim, tmp_path):
    """A private renkei-demo for tests that type a wrong PIN (SoftHSM2 then keeps "count low")."""
    return _mktoken(pki, tmp_path / "tok")


def start(term, sb, conf, user_code, mode, pinpad_file=None, delay_ms=None, lang=None):
    env = {"SOFTHSM2_CONF": str(conf), "RENKEI_SHIM_MODULE": MODULE, "RENKEI_SHIM_MODE": mode}
    if pinpad_file is not None:
        env["RENKEI_SHIM_PINPAD_FILE"] = str(pinpad_file)
    if delay_ms is not None:
        env["RENKEI_SHIM_PINPAD_DELAY_MS"] = str(delay_ms)
    return start_client(term, sb, lang=lang, user_code=user_code, env=env,
                        extra=["--pkcs11-module", str(SHIM)])


def choose_suzuki_cert(t):
    """login_certificate -> chooser -> 鈴木花子 (the valid one) -> Enter."""
    open_chooser(t)
    highlight(t, "鈴木花子  ")
    t.send("Enter")


def assert_no_pin_entry(s):
    """Neither the token PIN screen nor any PIN entry (masked field) on the screen."""
    assert PIN_SCREEN not in s and en(PIN_SCREEN) not in s, "the token PIN screen is shown:\n" + s
    assert field_row(s, "PIN") is None and "●" not in s, "a PIN entry is shown:\n" + s


def pin_file(tmp_path, pin):
    p = tmp_path / "reader-pin"
    p.write_text(pin + "\n")
    return p


# ---------------------------------------------------------------------------------------------
# a) PIN pad reader

def test_pinpad_reader_login_to_partner_token(sandbox, curl, term, pki, reader_token, tmp_path):
    sb = sandbox()
    partner = Partner(curl, sb)
    delay = 1.5
    t = start(term, sb, reader_token, partner.user_code, "pinpad", pin_file(tmp_path, TOKEN_PIN),
              delay_ms=int(delay * 1000))
    to_cert_screen(t)
    choose_suzuki_cert(t)
    # no PIN to type here: the reader's message instead, in a dialog
    s = wait_dialog(t, MSG_PINPAD)
    assert squash(MSG_PINPAD) in squash(_dialog_text(s)), s
    assert_no_pin_entry(s)
    typed = time.monotonic()
    t.send("Enter")
    # while the reader has the customer type: a notice saying so, with no keys offered
    s = t.wait_for(lambda x: squash(MSG_PINPAD_WAIT) in squash(_dialog_text(x)), timeout=delay * 0.8, scale=False)
    assert "[ OK ]" not in s and "Enter" not in s.rstrip("\n").split("\n")[-1], s
    assert_no_pin_entry(s)
    t.type("zz")  # keys pressed on the keyboard meanwhile are dropped, not typed into the next screen
    # the client waits for the reader (the customer typing for `delay` seconds), then goes on
    s = cert_chosen(t, pki)
    waited = time.monotonic() - typed
    assert waited >= delay * 0.9, "the certificate was chosen after %.2fs, before the reader answered" % waited
    assert_no_pin_entry(s)
    assert not on_row(s, MSG_PINPAD[:20]), s
    pw_row = s.split("\n")[field_row(s, "ログインパスワード")]
    assert "●" not in pw_row and "zz" not in s, "keys typed during the reader's wait reached the screen:\n" + s
    type_password(t, PASSWORD)
    finish_suzuki(t)
    tok = partner.get_token()
    assert set(tok["scope"].split()) == {"balance", "transactions"}, tok
    assert [a["number"] for a in partner.accounts()] == ["3000003"]


def test_pinpad_reader_message_in_english(sandbox, curl, term, reader_token, tmp_path):
    sb = sandbox()
    partner = Partner(curl, sb)
    t = start(term, sb, reader_token, partner.user_code, "pinpad", pin_file(tmp_path, TOKEN_PIN), lang="en")
    wait_partner(t, "Demo Kakeibo Inc.", lang="en")
    t.send("Tab", "Enter")
    t.wait_for(lambda s: button(en("電子証明書ログイン")) in s)
    t.send("Enter")
    t.wait_for(lambda s: en("電子証明書の選択") in s and "[ OK ]" in s)
    highlight(t, "鈴木花子  ")
    t.send("Enter")
    s = wait_dialog(t, en(MSG_PINPAD))
    assert_no_pin_entry(s)
    assert MSG_PINPAD[:10] not in s, s
    t.send("Enter")
    t.wait_for(lambda x: "鈴木花子" in x and en("ログインパスワード") in x and not on_row(x, en(MSG_PINPAD)[:20]))


def test_pin_screen_and_chosen_certificate_follow_f2(sandbox, curl, term, pki, reader_token):
    """The token PIN screen's token line and warning, and the chosen certificate's line on the
    login screen, are made in the current language: F2 re-translates them, the PIN typed stays."""
    sb = sandbox()
    partner = Partner(curl, sb)
    t = start(term, sb, reader_token, partner.user_code, "count_low")
    to_cert_screen(t)
    choose_suzuki_cert(t)
    token_ja = "ICカード：renkei-demo　証明書：鈴木花子"
    token_en = "Smart card: renkei-demo  Certificate: 鈴木花子"
    wait_screen(t, PIN_SCREEN, token_ja, WARN_COUNT_LOW)
    t.type(TOKEN_PIN)
    t.wait_for(lambda x: "●" * len(TOKEN_PIN) in x)
    t.send("F2")
    s = t.wait_for(lambda x: has(x, en(PIN_SCREEN)) and has(x, token_en) and has(x, en(WARN_COUNT_LOW)))
    assert not has(s, token_ja) and not has(s, WARN_COUNT_LOW), s
    assert "●" * len(TOKEN_PIN) in s, "the PIN typed was lost on F2:\n" + s
    t.send("F2")
    wait_screen(t, PIN_SCREEN, token_ja, WARN_COUNT_LOW)
    t.send("Enter")
    s = cert_chosen(t, pki)
    _, not_after, _ = cert_facts(pki, "suzuki03")
    t.send("F2")
    want = "鈴木花子 (valid until %s, issued by renkei test client CA)" % not_after
    s = t.wait_for(lambda x: has(x, want) and has(x, en("ログインパスワード")))
    assert "有効期限" not in s, s
    t.send("F2")
    cert_chosen(t, pki)


# ---------------------------------------------------------------------------------------------
# b) PIN pad reader, a wrong PIN typed on it; the customer cancelling on the reader

def test_pinpad_wrong_pin_then_right(sandbox, curl, term, pki, own_token, tmp_path):
    sb = sandbox()
    partner = Partner(curl, sb)
    pf = pin_file(tmp_path, "000000")
    t = start(term, sb, own_token, partner.user_code, "pinpad", pf)
    to_cert_screen(t)
    choose_suzuki_cert(t)
    wait_dialog(t, MSG_PINPAD)
    t.send("Enter")
    # the real token said CKR_PIN_INCORRECT (and now "count low"): said clearly, in a dialog
    s = wait_dialog(t, MSG_PIN_WRONG_LOW)
    assert_no_pin_entry(s)
    assert_no_stray_output(s)
    assert not t.exited(), s
    t.send("Enter")
    s = wait_screen(t, NOT_CHOSEN, "電子証明書ログイン", title_is=JA["title"])
    assert not on_row(s, MSG_PIN_WRONG_LOW[:12]) and not t.exited(), s
    # again, typing the right PIN on the reader this time
    pf.write_text(TOKEN_PIN + "\n")
    focus_choose(t)
    choose_suzuki_cert(t)
    wait_dialog(t, MSG_PINPAD)
    t.send("Enter")
    cert_chosen(t, pki)
    type_password(t, PASSWORD)
    wait_screen(t, "認可対象", title_is=JA["title_scopes"])
    r = partner.poll()
    assert r.error == "authorization_pending", r


def test_pinpad_cancelled_on_reader_then_back(sandbox, curl, term, reader_token, tmp_path):
    sb = sandbox()
    partner = Partner(curl, sb)
    t = start(term, sb, reader_token, partner.user_code, "pinpad", tmp_path / "nothing-typed")
    to_cert_screen(t)
    choose_suzuki_cert(t)
    wait_dialog(t, MSG_PINPAD)
    t.send("Enter")
    s = wait_dialog(t, MSG_CANCELLED)
    assert_no_pin_entry(s)
    t.send("Enter")
    wait_screen(t, NOT_CHOSEN, "電子証明書ログイン", title_is=JA["title"])
    # back to the partner screen, still in the flow
    t.send("Escape")
    wait_partner(t, KAKEIBO)
    assert not t.exited()


# ---------------------------------------------------------------------------------------------
# c) few PIN tries left

def test_count_low_warning_on_pin_screen(sandbox, curl, term, pki, reader_token):
    sb = sandbox()
    partner = Partner(curl, sb)
    t = start(term, sb, reader_token, partner.user_code, "count_low")
    to_cert_screen(t)
    choose_suzuki_cert(t)
    s = wait_screen(t, PIN_SCREEN, WARN_COUNT_LOW)
    assert not has(s, WARN_FINAL_TRY), s
    assert field_row(s, "PIN") is not None, s
    # the right PIN still logs in
    token_pin(t, TOKEN_PIN)
    cert_chosen(t, pki)


def test_final_try_warning_then_wrong_pin_then_right(sandbox, curl, term, pki, own_token):
    sb = sandbox()
    partner = Partner(curl, sb)
    t = start(term, sb, own_token, partner.user_code, "final_try")
    to_cert_screen(t)
    choose_suzuki_cert(t)
    s = wait_screen(t, PIN_SCREEN, WARN_FINAL_TRY)
    assert not has(s, WARN_COUNT_LOW), s
    # a wrong PIN: the message says the next wrong one locks the card
    token_pin(t, "111111")
    s = t.wait_for(lambda x: has(x, MSG_PIN_WRONG_FINAL) and PIN_SCREEN in x)
    assert "111111" not in s and "●" not in s, s
    token_pin(t, TOKEN_PIN)
    cert_chosen(t, pki)


# ---------------------------------------------------------------------------------------------
# d) locked PIN

@pytest.mark.parametrize("mode", ["locked", "pinpad,locked"])
def test_locked_pin_message_then_leave(sandbox, curl, term, reader_token, tmp_path, mode):
    sb = sandbox()
    partner = Partner(curl, sb)
    t = start(term, sb, reader_token, partner.user_code, mode, pin_file(tmp_path, TOKEN_PIN))
    to_cert_screen(t)
    choose_suzuki_cert(t)
    # said at once: no PIN asked (neither on the screen nor on the reader)
    s = wait_dialog(t, MSG_LOCKED)
    assert_no_pin_entry(s)
    assert not on_row(s, MSG_PINPAD[:20]), s
    assert_no_stray_output(s)
    t.send("Enter")
    s = wait_screen(t, NOT_CHOSEN, "電子証明書ログイン", title_is=JA["title"])
    assert_no_pin_entry(s)
    # leaving: Esc back to the partner screen, Esc again, confirm: cancelled, the partner is denied
    t.send("Escape")
    wait_partner(t, KAKEIBO)
    t.send("Escape")
    wait_screen(t, CANCEL_Q)
    t.send("BTab", "Enter")  # はい
    wait_screen(t, CANCELLED, KAKEIBO + " には何も許可されていません。")
    t.send("Enter")
    assert t.wait_exit() == EXIT_DENIED
    r = partner.poll()
    assert r.status == 400 and r.error == "access_denied", r
