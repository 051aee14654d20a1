"""Linked services (連携中のサービス, docs/protocol.md §4.12) end to end: the real client in tmux at
80x24 against the real sandbox: `renkei --links` and the start screen's 「連携中のサービス」, password
and certificate login, the table, the details, stopping a link (the partner's token then gets 401 and
its refresh invalid_grant), the empty list, the shared lockout, the audit records joined with the
sandbox's own records by session id, and golden screens of each links screen (make golden).

Run: /usr/bin/python3 -m pytest -q tests/e2e/test_links.py
"""

import json
import re

import pytest

from e2e.helpers import (EXIT_ALLOWED, PASSWORDS, cursor, en, error_line, field_row, has, key_bar, start_client,
                         table_row, title, typ, wait_error, wait_screen)
from e2e.test_certificate import (MODULE, TOKEN_PIN, highlight, open_chooser, softhsm, token_conf,  # noqa: F401
                                  token_pin)
from e2e.test_golden import Golden, stable, width
from harness.proto import PASSWORDS as PW
from harness.proto import bearer_get, expect_oauth_error, expect_problem, grant, new_consent, refresh

TITLE = "連携中のサービス"
KAKEIBO = "デモ家計簿株式会社"
MIERU = "ミエル会計株式会社"
LIST_TEXT = "お客様が口座情報へのアクセスを許可しているサービス（API連携先）の一覧です。"
EMPTY = "現在、連携中のサービスはありません。"
ENDED = "連携中のサービスの確認を終了しました。"
CONFIRM = "以下のサービスとの連携を停止します。よろしいですか？"
STOPPED = "以下のサービスとの連携を停止しました。"
DATE = re.compile(r"\d{4}/\d{2}/\d{2}")


def records(path):
    return [json.loads(ln) for ln in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


def sandbox_records(sb):
    out = []
    for line in sb.log_text().splitlines():
        m = re.match(r"renkei-sandbox: record (.*)$", line)
        if m:
            out.append(dict(kv.split("=", 1) for kv in m.group(1).split()))
    return out


def links_client(term, sb, audit=None, lang=None, extra=(), env=None):
    args = ["--links"] + (["--audit", str(audit), "--terminal-id", "counter-3"] if audit else []) + list(extra)
    return start_client(term, sb, lang=lang, extra=args, env=env)


def tick_row(t, needle):
    """Focus the 選択 box of the row holding needle (Tab from the top) and tick it (Space)."""
    for _ in range(12):
        s = t.screen()
        r = table_row(s, needle)
        if r is not None and cursor(t)[1] == s.split("\n").index(r):
            break
        before = cursor(t)
        t.send("Tab")
        t.wait_for(lambda _s: cursor(t) != before, timeout=2)
    else:
        raise AssertionError("could not focus the row of %r:\n%s" % (needle, t.screen()))
    t.send("Space")
    return t.wait_for(lambda s: "[x]" in (table_row(s, needle) or ""))


def press(t, label):
    """Tab to the button 「label」 and press it (Enter)."""
    want = "[ %s ]" % label
    for _ in range(16):
        s = t.screen()
        y = cursor(t)[1]
        ln = s.split("\n")[y] if y < len(s.split("\n")) else ""
        x = cursor(t)[0]
        at = width(ln[:ln.find(want)]) if want in ln else -1
        if at >= 0 and at <= x < at + width(want):
            t.send("Enter")
            return
        before = cursor(t)
        t.send("Tab")
        t.wait_for(lambda _s: cursor(t) != before, timeout=2)
    raise AssertionError("could not focus %s:\n%s" % (want, t.screen()))


def password_login(t, login_id, password=None, lang="ja"):
    tr = (lambda m: m) if lang == "ja" else en
    wait_screen(t, tr("連携中のサービスの確認には、ログインが必要です。"))
    t.send("Enter")  # ID・パスワード方式
    wait_screen(t, tr("ログインIDとログインパスワードを入力し、「ログイン」を押してください。"))
    typ(t, login_id)
    t.send("Enter")
    typ(t, PASSWORDS[login_id] if password is None else password)
    t.send("Enter")


def test_sato02_lists_both_and_stops_kakeibo(sandbox, term, tmp_path):
    """The issue's path: sato02 authorized mieru-demo and kakeibo-demo; renkei --links lists both;
    stopping kakeibo-demo makes its token 401 and its refresh invalid_grant, mieru-demo's works;
    the list then shows one row; audit records joined with the sandbox's by session id. The screens
    are golden (tests/golden/links-ja-*.txt)."""
    sb = sandbox()
    mieru = grant(sb, "sato02", "mieru-demo")
    kakeibo = grant(sb, "sato02", "kakeibo-demo", choose=["balance"])
    audit = tmp_path / "audit.jsonl"
    g = Golden("links-ja")
    t = links_client(term, sb, audit)
    s = wait_screen(t, "「次へ」ボタンを押して、ログインしてください。", title_is=TITLE)
    assert "sato02" not in s and KAKEIBO not in s  # nothing before login
    g.check("start", stable(t))
    t.send("Enter")
    g.check("method", stable(t, lambda x: has(x, "ログイン方式を選択してください。")))
    t.send("Enter")
    s = wait_screen(t, "ログインIDとログインパスワードを入力し、「ログイン」を押してください。", title_is=TITLE)
    assert "連携先：" not in s, s  # a manage session has no partner
    typ(t, "sato02")
    t.send("Enter")
    typ(t, PASSWORDS["sato02"])
    g.check("login", stable(t, lambda x: "●" * len(PASSWORDS["sato02"]) in x))
    t.send("Enter")
    s = wait_screen(t, LIST_TEXT, title_is=TITLE)
    k, m = table_row(s, KAKEIBO), table_row(s, MIERU)
    assert k and m, s
    assert s.index(KAKEIBO) < s.index(MIERU), "newest first:\n" + s
    assert re.search(r"\[ \]\s+%s\s+残高照会\s+%s\s+%s" % (KAKEIBO, DATE.pattern, DATE.pattern), k), k
    assert re.search(r"残高照会、入金出金照会", m), m
    assert "Esc 終了" in key_bar(s), key_bar(s)
    g.check("list", stable(t))

    # nothing ticked: 詳細 says what to do
    press(t, "詳細")
    wait_error(t, "一覧の「選択」欄で連携中のサービスを選んでください（スペースキー）。")
    tick_row(t, KAKEIBO)
    press(t, "詳細")
    s = wait_screen(t, "連携先：" + KAKEIBO, "対象業務：残高照会", "インターネット支店(002) 普通 2222222",
                    title_is="連携中のサービス（詳細）")
    assert MIERU not in s
    assert re.search(r"連携日：\d{4}年\d{1,2}月\d{1,2}日", s) and "有効期限：" in s, s
    g.check("detail", stable(t))
    press(t, "連携を停止")
    s = wait_screen(t, CONFIRM, "連携先：" + KAKEIBO, title_is="連携の停止")
    g.check("confirm", stable(t))
    # 戻る keeps the tick; then stop from the list
    t.send("Escape")
    s = wait_screen(t, LIST_TEXT)
    assert "[x]" in table_row(s, KAKEIBO), s
    press(t, "連携を停止")
    wait_screen(t, CONFIRM)
    press(t, "停止する")
    s = wait_screen(t, STOPPED, "・" + KAKEIBO, title_is="連携の停止")
    g.check("stopped", stable(t))

    # the partner: 401 and invalid_grant; the other link untouched
    assert bearer_get(sb, "/v1/accounts", kakeibo["access_token"]).status == 401
    expect_oauth_error(refresh(sb, kakeibo["refresh_token"], "kakeibo-demo"), "invalid_grant")
    assert bearer_get(sb, "/v1/accounts", mieru["access_token"]).status == 200

    t.send("Enter")  # 一覧に戻る
    s = wait_screen(t, LIST_TEXT)
    assert table_row(s, MIERU) and KAKEIBO not in s, s
    press(t, "終了")
    t.wait_for(lambda x: "連携中のサービスの確認を終了しますか？" in x)
    t.send("BTab", "Enter")  # はい
    g.check("ended", stable(t, lambda x: has(x, ENDED)))
    t.send("Enter")
    assert t.wait_exit() == EXIT_ALLOWED
    g.finish()

    recs = records(audit)
    assert [(r["event"], r["result"]) for r in recs] == [("revoke", "revoked"), ("links", "ended")], recs
    rv = recs[0]
    assert rv["partner"] == "kakeibo-demo" and rv["partner_name"] == KAKEIBO, rv
    assert rv["customer"] == "sato02" and rv["method"] == "password" and rv["terminal"] == "counter-3", rv
    assert rv["scopes"] == ["balance"] and rv["accounts"] == ["*****22"], rv
    theirs = [r for r in sandbox_records(sb) if r["event"] == "revoke"]
    assert len(theirs) == 1 and theirs[0]["session"] == rv["session"] == recs[1]["session"], (theirs, recs)
    text = audit.read_text(encoding="utf-8")
    assert PASSWORDS["sato02"] not in text and kakeibo["access_token"] not in text


def test_from_the_start_screen_in_english_and_an_empty_list(sandbox, term):
    """The start screen's 「連携中のサービス」 after F2 (English); sato02 with nothing linked sees a
    clear empty list; Esc ends the session."""
    sb = sandbox()
    t = start_client(term, sb)
    wait_screen(t, "連携済みのサービスの確認・停止は「連携中のサービス」を押してください。")
    t.send("F2")
    s = wait_screen(t, en("連携済みのサービスの確認・停止は「連携中のサービス」を押してください。"))
    press(t, en("連携中のサービス"))
    password_login(t, "sato02", lang="en")
    s = wait_screen(t, en(LIST_TEXT), en(EMPTY), title_is=en(TITLE))
    assert "[ ]" not in s, s
    t.send("Escape")
    t.wait_for(lambda x: en("連携中のサービスの確認を終了しますか？") in x)
    t.send("BTab", "Enter")
    wait_screen(t, en(ENDED))
    t.send("Enter")
    assert t.wait_exit() == EXIT_ALLOWED
    assert "DELETE /consent/v1/session 200" in sb.log_text()


def test_wrong_password_counts_toward_the_same_lockout(sandbox, term):
    """Three wrong passwords in the links path lock the login for the consent path too."""
    sb = sandbox()
    t = links_client(term, sb)
    wait_screen(t, "「次へ」ボタンを押して、ログインしてください。")
    t.send("Enter")
    password_login(t, "sato02", "wrong-1")
    wait_error(t, "ログインIDまたはログインパスワードが正しくありません。")
    for n in (2, 3):
        s = t.screen()
        y = field_row(s, "ログインパスワード")
        assert y is not None and cursor(t)[1] == y, s  # the ID kept, the password to retype
        typ(t, "wrong-%d" % n)
        t.send("Enter")
        t.wait_for(lambda x, n=n: sb.log_text().count("POST /consent/v1/session/login 401") >= n, timeout=5)
    _, c = new_consent(sb)
    expect_problem(c.post("/login", {"method": "password", "login_id": "sato02", "password": PW["sato02"]}),
                   403, "login-locked")
    # the right password in the links path now: locked, said on the links' own screen
    s = t.screen()
    typ(t, PASSWORDS["sato02"])
    t.send("Enter")
    s = wait_screen(t, "ログインがロックされています。", title_is=TITLE)
    assert "連携先：" not in s
    t.send("Enter")
    assert t.wait_exit() == 4


def test_certificate_login_suzuki03(sandbox, term, pki, token_conf, tmp_path):  # noqa: F811
    """suzuki03 logs in by certificate in the links path and sees mieru-demo; the audit record
    names the certificate's subject."""
    sb = sandbox()
    grant(sb, "suzuki03", "mieru-demo")
    audit = tmp_path / "audit.jsonl"
    t = links_client(term, sb, audit, extra=["--pkcs11-module", MODULE], env={"SOFTHSM2_CONF": str(token_conf)})
    wait_screen(t, "「次へ」ボタンを押して、ログインしてください。")
    t.send("Enter")
    wait_screen(t, "ログイン方式を選択してください。")
    t.send("Tab", "Enter")  # 電子証明書方式
    wait_screen(t, "電子証明書方式", "電子証明書ログイン", title_is=TITLE)
    open_chooser(t)
    highlight(t, "鈴木花子  ")
    t.send("Enter")
    token_pin(t, TOKEN_PIN)
    wait_screen(t, "鈴木花子（有効期限", title_is=TITLE)
    typ(t, PASSWORDS["suzuki03"])
    t.send("Enter")
    s = wait_screen(t, LIST_TEXT, title_is=TITLE)
    assert table_row(s, MIERU), s
    t.send("Escape")
    t.wait_for(lambda x: "連携中のサービスの確認を終了しますか？" in x)
    t.send("BTab", "Enter")
    wait_screen(t, ENDED)
    t.send("Enter")
    assert t.wait_exit() == EXIT_ALLOWED
    recs = records(audit)
    assert len(recs) == 1 and recs[0]["event"] == "links" and recs[0]["method"] == "certificate", recs
    assert "鈴木花子" in recs[0]["customer"], recs
    assert TOKEN_PIN not in audit.read_text(encoding="utf-8")


def test_kiosk_idle_on_the_list_ends_the_session(sandbox, term, tmp_path):
    """A kiosk left on the links table: the idle timeout ends the session on the server, wipes the
    screen and shows the start again (nothing of the customer's left on it)."""
    sb = sandbox()
    grant(sb, "sato02", "kakeibo-demo")
    audit = tmp_path / "audit.jsonl"
    t = links_client(term, sb, audit, extra=["--kiosk", "--idle-timeout", "10", "--idle-warning", "0"])
    wait_screen(t, "「次へ」ボタンを押して、ログインしてください。")
    t.send("Enter")
    password_login(t, "sato02")
    wait_screen(t, LIST_TEXT, KAKEIBO)
    s = t.wait_for(lambda x: "「次へ」ボタンを押して、ログインしてください。" in x and KAKEIBO not in x, timeout=20)
    assert "sato02" not in s
    t.wait_for(lambda _x: "DELETE /consent/v1/session 200" in sb.log_text(), timeout=5)
    recs = records(audit)
    assert [(r["event"], r["result"], r.get("reason")) for r in recs] == [("links", "cancelled", "idle")], recs
