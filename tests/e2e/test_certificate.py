"""Certificate login (電子証明書方式, PKCS#11) end to end: build/renkei in a real terminal (tmux, 80x24)
with a real SoftHSM2 token made by scripts/mktoken.sh, against the sandbox over HTTPS (it requests
client certificates: build/test-pki has client-ca.crt), the partner played with curl.

Tokens live in pytest tmp dirs (SOFTHSM2_CONF points there; the system's store is never used):
  token_conf   (session) renkei-demo: suzuki03 (CKA_ID 01) + suzuki03-expired (02), PIN 123456
  tokens2_conf (session) the same plus renkei-demo2: unknown (CN=名無し太郎)
  fresh_token  (per test) a private renkei-demo, for tests that change the token (wrong PIN, removal)
"""

import datetime
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from e2e.helpers import (KAKEIBO, EXIT_ALLOWED, EXIT_ERROR, JA, PASSWORDS, ROOT, Partner, allow, checkbox_state,
                         choose_password, cursor, en, error_line, exit_denied, field_row, fill_pin_rows, has,
                         has_button, login, squash, start_flow, table_row, title, typ, wait_error, wait_partner,
                         wait_screen)

MODULE = "/usr/lib/softhsm/libsofthsm2.so"
TOKEN_PIN = "123456"
PASSWORD = PASSWORDS["suzuki03"]
ACC_3000003 = "本店営業部(100) 普通 3000003"
PIN_3000003 = "2468"

SUBJECT = "CN=鈴木花子,O=Renkei Demo Bank,C=JP"
SUBJECT_UNKNOWN = "CN=名無し太郎,O=Renkei Demo Bank,C=JP"
ISSUER = "CN=renkei test client CA,O=renkei"

CHOOSER = "電子証明書の選択"
NOT_SELECTABLE = "この項目は選択できません。"
EXPIRED_REASON = "この証明書は有効期間外のため選択できません。"
MSG_NO_TOKEN = "ICカードが見つかりません。カードを差し込んでから、もう一度お試しください。"
MSG_LOAD_FAILED = ("ICカード用のソフトウェア（PKCS#11モジュール）を読み込めませんでした。"
                   "--pkcs11-module のパスを確認してください。")
MSG_PIN_WRONG = "PINが正しくありません。"
MSG_PIN_WRONG_LOW = "PINが正しくありません。残りの試行回数が少なくなっています。"
MSG_CERT_UNKNOWN = "この電子証明書はご登録がありません。別の証明書を選ぶか、ID・パスワード方式をご利用ください。"
MSG_CARD_REMOVED = ("ICカードが取り外されたため、手続きを中止しました。入力された内容は消去しました。"
                    "最初からやり直してください。")


# ---------------------------------------------------------------------------------------------
# Tokens

def _mktoken(pki, tokdir, label=None):
    argv = ["sh", str(ROOT / "scripts" / "mktoken.sh"), str(pki), str(tokdir)]
    if label:
        argv.append(label)
    r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, "mktoken.sh failed:\n" + r.stdout + r.stderr
    last = r.stdout.strip().splitlines()[-1]
    assert last.startswith("SOFTHSM2_CONF="), r.stdout
    return Path(last.split("=", 1)[1])


@pytest.fixture(scope="session")
def softhsm():
    assert Path(MODULE).exists(), "%s missing (softhsm2 is in scripts/install-deps.sh)" % MODULE
    return MODULE


@pytest.fixture(scope="session")
def token_conf(pki, softhsm, tmp_path_factory):
    return _mktoken(pki, tmp_path_factory.mktemp("tok1"))


@pytest.fixture(scope="session")
def tokens2_conf(pki, softhsm, tmp_path_factory):
    d = tmp_path_factory.mktemp("tok2")
    _mktoken(pki, d)
    return _mktoken(pki, d, "renkei-demo2")


@pytest.fixture
def fresh_token(pki, softhsm, tmp_path):
    return _mktoken(pki, tmp_path / "tok")


@pytest.fixture
def empty_store(tmp_path):
    """A SoftHSM2 store with no token at all (SoftHSM then shows one uninitialized slot), laid out
    as mktoken.sh does (DIR/softhsm2.conf, DIR/tokens), so that a token can be "inserted" later."""
    d = tmp_path / "tok"
    (d / "tokens").mkdir(mode=0o700, parents=True)
    conf = d / "softhsm2.conf"
    conf.write_text("directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\n" % d)
    return conf


def cert_facts(pki, name):
    """(not_before, not_after, serial) as the chooser shows them: YYYY-MM-DD (UTC), '10:03'."""
    r = subprocess.run(["openssl", "x509", "-in", str(pki / "clients" / (name + ".crt")), "-noout",
                        "-startdate", "-enddate", "-serial"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 0, r.stderr
    kv = dict(ln.split("=", 1) for ln in r.stdout.strip().splitlines())

    def day(v):
        return datetime.datetime.strptime(v.replace("  ", " "), "%b %d %H:%M:%S %Y GMT").strftime("%Y-%m-%d")
    hexs = kv["serial"]
    if len(hexs) % 2:
        hexs = "0" + hexs
    serial = ":".join(hexs[i:i + 2] for i in range(0, len(hexs), 2)).lower()
    return day(kv["notBefore"]), day(kv["notAfter"]), serial


# ---------------------------------------------------------------------------------------------
# Driving the client

def start_cert(sandbox, curl, term, conf, module=None, lang=None):
    """start_flow with the partner's code on the command line, SOFTHSM2_CONF=conf (None: unset)
    and --pkcs11-module module (default SoftHSM2's). Returns (sb, partner, t)."""
    env = {"SOFTHSM2_CONF": str(conf)} if conf else {"SOFTHSM2_CONF": None}
    return start_flow(sandbox, curl, term, code_arg=True, lang=lang, env=env,
                      extra=["--pkcs11-module", module or MODULE])


def start_chooser(sandbox, curl, term, conf):
    """start_cert, then 電子証明書方式 and the chooser opened. Returns (partner, t, the chooser)."""
    _, partner, t = start_cert(sandbox, curl, term, conf)
    to_cert_screen(t)
    return partner, t, open_chooser(t)


def on_row(s, text):
    """text (white space ignored) on one screen row (also inside a dialog drawn over the frame)."""
    want = squash(text)
    return any(want in squash(ln) for ln in s.split("\n"))


def selected(s):
    """The chooser's highlighted entry ('> label'), or None."""
    for ln in s.split("\n"):
        m = re.search(r"│\s*> (.+?)\s*│", ln)
        if m:
            return m.group(1).strip()
    return None


def to_cert_screen(t):
    """Partner screen -> 電子証明書方式 (the second button) -> the login_certificate screen."""
    wait_partner(t, KAKEIBO)
    t.send("Tab", "Enter")
    return wait_screen(t, "電子証明書方式", "電子証明書ログイン", "ログインパスワード", "（未選択）",
                       title_is=JA["title"])


def focus_on_choose(t):
    return "[ 電子証明書ログイン ]" in t.screen().split("\n")[cursor(t)[1]]


def focus_choose(t, max_tabs=8):
    """Tab until the focus is on 「電子証明書ログイン」 (wherever the client put it after an error)."""
    for _ in range(max_tabs):
        if focus_on_choose(t):
            return
        before = cursor(t)
        t.send("Tab")
        t.wait_for(lambda _s: cursor(t) != before, timeout=2)
    assert focus_on_choose(t), "could not focus 「電子証明書ログイン」:\n" + t.screen()


def open_chooser(t):
    """On login_certificate with the focus on 「電子証明書ログイン」: Enter opens the chooser."""
    t.send("Enter")
    return t.wait_for(lambda s: CHOOSER in s and "[ OK ]" in s and selected(s) is not None)


def highlight(t, needle, max_moves=8):
    """Move the chooser's highlight (Down, then Up) to the entry whose label holds needle."""
    s = t.screen()
    for key in ("Down", "Up"):
        for _ in range(max_moves):
            if (selected(s) or "").startswith(needle):
                return s
            before = selected(s)
            t.send(key)
            try:
                s = t.wait_for(lambda x: selected(x) != before, timeout=1.5, scale=False)
            except AssertionError:
                break  # at the end of the list
    assert (selected(s) or "").startswith(needle), "no chooser entry starting %r:\n%s" % (needle, s)
    return s


def token_pin(t, pin, token="renkei-demo", cert="鈴木花子"):
    """On the token PIN screen: type pin (checking it is masked), OK."""
    s = wait_screen(t, "ICカードのPIN入力", "ICカード：%s　証明書：%s" % (token, cert))
    typ(t, pin)
    s = t.wait_for(lambda x: "●" * len(pin) in x)
    assert pin not in s, "the token PIN is shown:\n" + s
    t.send("Enter")


def cert_chosen(t, pki, name="suzuki03", cn="鈴木花子"):
    """Back on login_certificate with the certificate shown; the focus on ログインパスワード."""
    _, not_after, _ = cert_facts(pki, name)
    s = wait_screen(t, "%s（有効期限：%s、発行者：renkei test client CA）" % (cn, not_after),
                    "ログインパスワード", title_is=JA["title"])
    return s


def pick_suzuki(t, pki):
    """On login_certificate with the focus on 「電子証明書ログイン」: the chooser, 鈴木花子's valid
    certificate, the token PIN; back on login_certificate with it chosen (returned)."""
    open_chooser(t)
    highlight(t, "鈴木花子  ")
    assert "期限切れ" not in selected(t.screen())
    t.send("Enter")
    token_pin(t, TOKEN_PIN)
    return cert_chosen(t, pki)


def choose_suzuki(t, pki):
    to_cert_screen(t)
    return pick_suzuki(t, pki)


def type_password(t, pw):
    s = t.screen()
    want = field_row(s, "ログインパスワード")
    assert want is not None and cursor(t)[1] == want, \
        "the focus is not on ログインパスワード (cursor %r):\n%s" % (cursor(t), s)
    typ(t, pw)
    t.send("Enter")


def password_to_scopes(t):
    """The right password for suzuki03 after the certificate: the scopes screen (returned)."""
    type_password(t, PASSWORD)
    return wait_screen(t, "認可対象", title_is=JA["title_scopes"])


def pull_card(conf):
    """Remove the token (its directory in the SoftHSM2 store made by mktoken.sh)."""
    tokens = conf.parent / "tokens"
    gone = [p for p in tokens.iterdir() if p.is_dir()]
    assert gone, "no token directory in %s" % tokens
    for p in gone:
        shutil.rmtree(p)


def finish_suzuki(t):
    """Scopes -> PIN table (3000003, PIN 2468) -> result -> permission -> allow -> exit 0."""
    s = wait_screen(t, "認可対象", title_is=JA["title_scopes"])
    assert checkbox_state(s, "残高照会") is True and checkbox_state(s, "入金出金照会") is True, s
    t.send("Enter")
    s = wait_screen(t, "口座一覧", title_is=JA["title_pins"])
    ln = table_row(s, "3000003")
    assert ln and re.search(r"\[x\]\s+未登録\s+" + re.escape(ACC_3000003), ln), s
    fill_pin_rows(t, [PIN_3000003])
    s = t.wait_for(lambda x: "●●●●" in (table_row(x, "3000003") or ""))
    assert PIN_3000003 not in s, s
    t.send("Enter")
    s = wait_screen(t, "口座一覧", title_is=JA["title_pin_result"])
    assert re.search(r"※登録済み\s+" + re.escape(ACC_3000003), s), s
    t.send("Enter")
    s = wait_screen(t, "※意思確認", ACC_3000003, title_is=JA["title_permission"])
    allow(t)
    assert t.wait_exit() == EXIT_ALLOWED


def wait_dialog(t, text, timeout=5.0):
    """A message dialog (OK button) holding text."""
    return t.wait_for(lambda s: on_row(s, text[:20]) and squash(text) in squash(_dialog_text(s)) and "[ OK ]" in s,
                      timeout=timeout)


def _dialog_text(s):
    """The text inside the innermost boxes of a dialog drawn over the frame (rows joined)."""
    out = []
    for ln in s.split("\n"):
        parts = ln.split("│")
        if len(parts) >= 5:  # │ frame │ dialog │ frame │
            out.append("".join(parts[2:-2]))
        elif len(parts) == 3:
            out.append(parts[1])
    return "".join(out)


def assert_no_stray_output(s):
    for junk in ("dlopen", "No such file", "libp11", "PKCS11_", "error:", "softhsm", "SoftHSM"):
        assert junk not in s, "stray output %r on the screen:\n%s" % (junk, s)


# ---------------------------------------------------------------------------------------------
# Tests

def test_suzuki03_certificate_login_to_partner_token(sandbox, curl, term, pki, token_conf):
    _, partner, t = start_cert(sandbox, curl, term, token_conf)
    s = to_cert_screen(t)
    assert on_row(s, "[ 電子証明書ログイン ]"), s
    assert focus_on_choose(t), "the focus does not start on 「電子証明書ログイン」:\n" + s
    s = pick_suzuki(t, pki)
    assert has_button(s, "API連携"), s
    type_password(t, PASSWORD)
    finish_suzuki(t)

    tok = partner.get_token()
    assert set(tok["scope"].split()) == {"balance", "transactions"}, tok
    accts = partner.accounts()
    assert [a["number"] for a in accts] == ["3000003"], accts


def test_chooser_shows_certificate_details_expired_not_selectable(sandbox, curl, term, pki, token_conf):
    partner, t, s = start_chooser(sandbox, curl, term, token_conf)
    nb, na, serial = cert_facts(pki, "suzuki03")
    enb, ena, eserial = cert_facts(pki, "suzuki03-expired")
    assert serial == "10:03" and eserial == "10:04", (serial, eserial)
    # both certificates listed; the usable one highlighted first
    assert on_row(s, "鈴木花子  %s 〜 %s  (renkei-demo)" % (nb, na)), s
    assert on_row(s, "【期限切れ】鈴木花子  %s 〜 %s  (renkei-demo)" % (enb, ena)), s
    assert "期限切れ" not in selected(s), s
    for text in ("発行先： " + SUBJECT, "発行者： " + ISSUER, "有効期間： %s 〜 %s" % (nb, na),
                 "シリアル番号： " + serial, "トークン： renkei-demo"):
        assert on_row(s, text), "%r not in the chooser:\n%s" % (text, s)
    assert not on_row(s, EXPIRED_REASON), s

    # the expired one: its own details and the reason; Enter does not proceed
    s = highlight(t, "【期限切れ】")
    s = t.wait_for(lambda x: on_row(x, "シリアル番号： " + eserial))
    for text in ("発行先： " + SUBJECT, "有効期間： %s 〜 %s" % (enb, ena), EXPIRED_REASON):
        assert on_row(s, text), "%r not in the chooser:\n%s" % (text, s)
    t.send("Enter")
    s = t.wait_for(lambda x: on_row(x, NOT_SELECTABLE))
    assert CHOOSER in s and "ICカードのPIN入力" not in s, s
    # OK reached with Tab (the button, not the list) refuses it as well
    t.send("Tab", "Enter")
    s = t.wait_for(lambda x: on_row(x, NOT_SELECTABLE) and CHOOSER in x)
    assert "ICカードのPIN入力" not in s, s
    # Esc closes the chooser: nothing chosen
    t.send("Escape")
    s = wait_screen(t, "（未選択）", "電子証明書ログイン")
    assert CHOOSER not in s, s
    r = partner.poll()
    assert r.error == "authorization_pending", r


def test_wrong_token_pin_then_right(sandbox, curl, term, pki, fresh_token):
    partner, t, _ = start_chooser(sandbox, curl, term, fresh_token)
    highlight(t, "鈴木花子  ")
    t.send("Enter")
    token_pin(t, "111111")
    s = t.wait_for(lambda x: has(x, MSG_PIN_WRONG) and "ICカードのPIN入力" in x)
    # SoftHSM2 sets CKF_USER_PIN_COUNT_LOW after a wrong PIN (it never locks): the tries state
    assert has(s, MSG_PIN_WRONG_LOW), s
    assert "111111" not in s and "●" not in s, "PIN shown or not cleared after the error:\n" + s
    token_pin(t, TOKEN_PIN)
    cert_chosen(t, pki)
    password_to_scopes(t)


def test_wrong_password_after_good_certificate(sandbox, curl, term, pki, token_conf):
    _, partner, t = start_cert(sandbox, curl, term, token_conf)
    choose_suzuki(t, pki)
    type_password(t, "Wrong-2026")
    s = wait_error(t, "ログインIDまたはログインパスワードが正しくありません。 あと2回間違えるとロックされます。")
    assert title(s) == JA["title"] and "Wrong-2026" not in s, s
    # the certificate stays chosen; the right password goes on
    assert has(s, "鈴木花子（有効期限："), s
    s = password_to_scopes(t)
    assert error_line(s) == "", s


def test_no_token_clear_message_then_card_inserted(sandbox, curl, term, pki, empty_store):
    _, partner, t = start_cert(sandbox, curl, term, empty_store)
    to_cert_screen(t)
    t.send("Enter")
    s = wait_dialog(t, MSG_NO_TOKEN)
    assert CHOOSER not in s and not t.exited(), s
    assert_no_stray_output(s)
    t.send("Enter")
    s = wait_screen(t, "（未選択）", "電子証明書ログイン")
    assert MSG_NO_TOKEN[:10] not in s and not t.exited(), s
    # again, and this time Esc closes the message
    focus_choose(t)
    t.send("Enter")
    wait_dialog(t, MSG_NO_TOKEN)
    t.send("Escape")
    s = t.wait_for(lambda x: not on_row(x, MSG_NO_TOKEN[:20]) and "（未選択）" in x)
    assert CHOOSER not in s and not t.exited(), s
    # the customer inserts the card and tries again: the chooser now lists it
    assert _mktoken(pki, empty_store.parent) == empty_store
    focus_choose(t)
    pick_suzuki(t, pki)


def test_missing_module_clear_message_then_password_login(sandbox, curl, term, tmp_path):
    _, partner, t = start_cert(sandbox, curl, term, None, module=str(tmp_path / "no-such-module.so"))
    to_cert_screen(t)
    t.send("Enter")
    s = wait_dialog(t, MSG_LOAD_FAILED)
    assert_no_stray_output(s)
    t.send("Enter")
    s = wait_screen(t, "（未選択）", "電子証明書ログイン")
    assert_no_stray_output(s)
    # still usable: back to the partner screen, ID/password instead
    t.send("Escape")
    wait_partner(t, KAKEIBO)
    choose_password(t)
    login(t, "suzuki03", PASSWORD)
    wait_screen(t, "認可対象", title_is=JA["title_scopes"])
    assert not t.exited()


def test_two_tokens_listed(sandbox, curl, term, pki, tokens2_conf):
    partner, t, s = start_chooser(sandbox, curl, term, tokens2_conf)
    nb, na, _ = cert_facts(pki, "suzuki03")
    unb, una, userial = cert_facts(pki, "unknown")
    assert on_row(s, "鈴木花子  %s 〜 %s  (renkei-demo)" % (nb, na)), s
    assert on_row(s, "【期限切れ】鈴木花子"), s
    assert on_row(s, "名無し太郎  %s 〜 %s  (renkei-demo2)" % (unb, una)), s
    s = highlight(t, "名無し太郎")
    s = t.wait_for(lambda x: on_row(x, "トークン： renkei-demo2"))
    for text in ("発行先： " + SUBJECT_UNKNOWN, "発行者： " + ISSUER, "シリアル番号： " + userial):
        assert on_row(s, text), "%r not in the chooser:\n%s" % (text, s)


def test_two_tokens_expired_reason_shown(sandbox, curl, term, tokens2_conf):
    partner, t, _ = start_chooser(sandbox, curl, term, tokens2_conf)
    highlight(t, "【期限切れ】")
    s = t.wait_for(lambda x: on_row(x, "シリアル番号： 10:04"))
    assert on_row(s, EXPIRED_REASON), s


def test_unknown_certificate_message_then_known_one(sandbox, curl, term, pki, tokens2_conf):
    partner, t, _ = start_chooser(sandbox, curl, term, tokens2_conf)
    highlight(t, "名無し太郎")
    t.send("Enter")
    token_pin(t, TOKEN_PIN, token="renkei-demo2", cert="名無し太郎")
    cert_chosen(t, pki, "unknown", "名無し太郎")
    type_password(t, PASSWORD)
    s = wait_error(t, MSG_CERT_UNKNOWN)
    assert title(s) == JA["title"], s
    r = partner.poll()
    assert r.error == "authorization_pending", r
    # another certificate (a new TLS connection must carry it): suzuki03 goes on
    focus_choose(t)
    pick_suzuki(t, pki)
    password_to_scopes(t)


def test_session_bound_to_login_certificate(sandbox, curl, pki):
    """Protocol level (§4.5): after a certificate login, the session refuses a connection with
    another certificate or none (403 certificate-mismatch) and still works with the same one."""
    sb = sandbox()
    partner = Partner(curl, sb)
    suzuki = dict(cert=pki / "clients" / "suzuki03.crt", key=pki / "clients" / "suzuki03.key")
    unknown = dict(cert=pki / "clients" / "unknown.crt", key=pki / "clients" / "unknown.key")
    r = curl("POST", sb.url + "/consent/v1/sessions", json={"user_code": partner.user_code}, **suzuki)
    assert r.status == 201 and "certificate" in r.json["data"]["methods"], r
    sess = r.json["session"]
    r = curl("POST", sb.url + "/consent/v1/session/login", bearer=sess,
             json={"method": "certificate", "password": PASSWORD}, **suzuki)
    assert r.status == 200 and r.json["step"] == "scopes", r
    r = curl("GET", sb.url + "/consent/v1/session", bearer=sess, **unknown)
    assert r.status == 403 and r.problem == "certificate-mismatch", r
    r = curl("GET", sb.url + "/consent/v1/session", bearer=sess)
    assert r.status == 403 and r.problem == "certificate-mismatch", r
    r = curl("POST", sb.url + "/consent/v1/session/scopes", bearer=sess, json={"scopes": ["balance"]}, **unknown)
    assert r.status == 403 and r.problem == "certificate-mismatch", r
    # nothing changed: the same certificate still sees the scopes step
    r = curl("GET", sb.url + "/consent/v1/session", bearer=sess, **suzuki)
    assert r.status == 200 and r.json["step"] == "scopes", r


def test_card_removed_mid_flow(sandbox, curl, term, pki, fresh_token):
    _, partner, t = start_cert(sandbox, curl, term, fresh_token)
    choose_suzuki(t, pki)
    password_to_scopes(t)
    # pull the card: the token's files go away before the next submission
    pull_card(fresh_token)
    t.send("Enter")  # 次へ on the scopes screen
    s = wait_dialog(t, MSG_CARD_REMOVED)
    assert_no_stray_output(s)
    exit_denied(t, partner, EXIT_ERROR)


def test_card_removed_before_login(sandbox, curl, term, pki, fresh_token):
    _, partner, t = start_cert(sandbox, curl, term, fresh_token)
    choose_suzuki(t, pki)
    pull_card(fresh_token)
    type_password(t, PASSWORD)
    s = t.wait_for(lambda x: on_row(x, MSG_CARD_REMOVED[:20]) or "通信エラー" in x)
    assert squash(MSG_CARD_REMOVED) in squash(_dialog_text(s)), s
    exit_denied(t, partner, EXIT_ERROR)


def test_chosen_certificate_date_not_split(sandbox, curl, term, pki, token_conf):
    _, partner, t = start_cert(sandbox, curl, term, token_conf)
    s = choose_suzuki(t, pki)
    _, not_after, _ = cert_facts(pki, "suzuki03")
    assert not_after in s, s


def test_chooser_in_english(sandbox, curl, term, pki, token_conf):
    _, partner, t = start_cert(sandbox, curl, term, token_conf, lang="en")
    wait_partner(t, "Demo Kakeibo Inc.", lang="en")
    t.send("Tab", "Enter")
    t.wait_for(lambda s: "[ %s ]" % en("電子証明書ログイン") in s)
    t.send("Enter")
    s = t.wait_for(lambda x: en("電子証明書の選択") in x and selected(x) is not None)
    _, _, serial = cert_facts(pki, "suzuki03")
    for text in (en("発行先：") + " " + SUBJECT, en("発行者：") + " " + ISSUER,
                 en("シリアル番号：") + " " + serial, en("トークン：") + " renkei-demo", "[ OK ]",
                 "[ %s ]" % en("キャンセル")):
        assert on_row(s, text), "%r not in the chooser:\n%s" % (text, s)
    s = highlight(t, en("【期限切れ】").strip())
    s = t.wait_for(lambda x: on_row(x, en(EXPIRED_REASON)))
    t.send("Enter")
    t.wait_for(lambda x: on_row(x, en(NOT_SELECTABLE)))


def test_chooser_language_switch(sandbox, curl, term, token_conf):
    partner, t, _ = start_chooser(sandbox, curl, term, token_conf)
    t.send("F2")
    s = t.wait_for(lambda x: "[ %s ]" % en("キャンセル") in x)
    for text in (en("電子証明書の選択"), en("発行先：") + " " + SUBJECT):
        assert on_row(s, text), "%r not in the chooser after F2:\n%s" % (text, s)


def test_chooser_cancel_keeps_previous_choice(sandbox, curl, term, pki, token_conf):
    _, partner, t = start_cert(sandbox, curl, term, token_conf)
    choose_suzuki(t, pki)
    focus_choose(t)
    open_chooser(t)
    t.send("Escape")
    s = t.wait_for(lambda x: CHOOSER not in x and "電子証明書ログイン" in x)
    assert has(s, "鈴木花子（有効期限："), s
