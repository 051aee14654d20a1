"""The line mode (--plain, TERM=dumb, no terminal to drive; man/man1/renkei.1 LINE MODE): the whole
flow as questions written line by line, driven here as a person with a screen reader would, one
line at a time on a pseudo-terminal (pexpect), against the real sandbox. What is checked besides
the flow itself: not one escape byte is written (no cursor movement, no colour, nothing
overwritten), the typed secrets never appear in the output (the terminal's echo is off for them),
errors are one line starting with エラー: / Error:, the partner gets its token or access_denied."""

import os
import signal
import subprocess
import time

from e2e.helpers import (ACCT1, ACCT2, ANSWER, EXIT_ALLOWED, EXIT_DENIED, KAKEIBO, PARTNER_EN,
                         PASSWORDS, YAMADA_PINS, Partner, PlainClient, client_argv, client_env, en,
                         pin_prompt, plain_yamada_flow as yamada_flow, assert_plain_output as clean_output)


def start_plain(sb, lang=None, extra=("--plain",), env=None):
    return PlainClient(client_argv(sb, lang=lang, extra=extra), env=client_env(env))


def test_whole_flow_in_japanese(sandbox, curl):
    sb = sandbox()
    partner = Partner(curl, sb)
    c = start_plain(sb)
    yamada_flow(c, partner)
    assert c.wait_exit() == EXIT_ALLOWED
    out = c.output()
    # the words of the screens, line by line, in the flow's order
    order = ["API連携認証（利用登録）", "連携先アプリに表示されているコードを入力の上",
             KAKEIBO + "がお客様の口座情報へのアクセスを求めています。", "1. ID・パスワード方式",
             "2. 電子証明書方式", "3. 中止", "番号を選んでください [1]: ", "連携先：" + KAKEIBO,
             "API連携認証（追加認証）（利用登録）", "質問：証券名を入力してください",
             "API連携認証（認可業務選択）（利用登録）", "1. 残高照会", "2. 入金出金照会",
             "選ぶ番号を空白で区切って入力してください [1 2]: ",
             "API連携認証（照会用暗証番号登録）（利用登録）", ACCT1 + "、登録状態：未登録",
             pin_prompt(ACCT1) + ": ", "API連携認証（照会用暗証番号登録結果）",
             ACCT1 + "、登録状況：※登録済み", "API連携認証（情報アクセス許可）（利用登録）",
             "対象業務：残高照会、入金出金照会", "※認可期間", "※意思確認", "【API連携に関する意思確認】",
             "許可手続きを継続する\r\n  1. はい\r\n  2. いいえ\r\n番号を選んでください [2]: ",
             "1. 許可", "2. 戻る", "API連携の利用登録が完了しました。"]
    pos = 0
    for text in order:
        i = out.find(text, pos)
        assert i >= 0, "not found after offset %d: %r\n%s" % (pos, text, out)
        pos = i + len(text)
    clean_output(c, [PASSWORDS["yamada01"], ANSWER] + list(YAMADA_PINS))
    tok = partner.get_token()
    assert set(tok["scope"].split()) == {"balance", "transactions"}, tok
    assert len(partner.accounts()) == 3


def test_whole_flow_in_english(sandbox, curl):
    sb = sandbox()
    partner = Partner(curl, sb)
    c = start_plain(sb, lang="en")
    yamada_flow(c, partner, lang="en")
    assert c.wait_exit() == EXIT_ALLOWED
    out = c.output()
    for msgid in ("API連携認証（利用登録）", "API連携認証（情報アクセス許可）（利用登録）", "※意思確認",
                  "許可手続きを継続する", "API連携の利用登録が完了しました。"):
        assert en(msgid) in out, (msgid, out)
    assert "Partner: " + PARTNER_EN["kakeibo-demo"] in out, out
    for ja in ("連携先：", "番号を選んでください", "認可対象", "ログインパスワード", "エラー"):
        assert ja not in out, (ja, out)  # the form's words all in English (the bank's data aside)
    clean_output(c, [PASSWORDS["yamada01"], ANSWER] + list(YAMADA_PINS))
    partner.get_token()


def test_wrong_password_then_right(sandbox, curl):
    sb = sandbox()
    partner = Partner(curl, sb)
    c = start_plain(sb)
    c.prompt("コード", partner.user_code)
    c.prompt("番号を選んでください", "1")
    c.prompt("ログインID", "yamada01")
    c.prompt("ログインパスワード", "Wrong-Canary-77")
    out = c.expect("ログインID [yamada01]: ")  # the screen again, the ID kept as the default
    err = [ln for ln in out.splitlines() if ln.startswith("エラー: ")]
    assert err and "ログインIDまたはログインパスワードが正しくありません。" in err[-1], out
    assert "あと2回間違えるとロックされます。" in err[-1], err
    c.answer("")
    c.prompt("ログインパスワード", PASSWORDS["yamada01"])
    c.expect("証券名を入力してください")
    c.close()
    clean_output(c, ["Wrong-Canary-77", PASSWORDS["yamada01"]])


def test_wrong_pin_for_one_account(sandbox, curl):
    sb = sandbox()
    partner = Partner(curl, sb)
    c = start_plain(sb)
    c.prompt("コード", partner.user_code)
    c.prompt("番号を選んでください", "1")
    c.prompt("ログインID", "yamada01")
    c.prompt("ログインパスワード", PASSWORDS["yamada01"])
    c.prompt("回答", ANSWER)
    c.prompt("選ぶ番号を空白で区切って入力してください", "1 2")
    c.prompt(pin_prompt(ACCT1), YAMADA_PINS[0])
    c.prompt(pin_prompt(ACCT2), "9090")  # wrong
    out = c.expect(pin_prompt(ACCT2) + ": ")  # asked again, for that account only
    last = out[out.rfind("API連携認証（照会用暗証番号登録）（利用登録）"):]
    assert "エラー: 照会用暗証番号が正しくない口座があります。" in last, last
    assert ACCT1 + "、登録状態：登録済み*" in last, last
    assert ACCT2 + "、登録状態：誤り 残2回" in last, last
    assert pin_prompt(ACCT1) not in last, last  # registered: not asked again
    c.answer(YAMADA_PINS[1])
    c.prompt("番号を選んでください", "")
    c.prompt("番号を選んでください", "1")
    c.prompt("番号を選んでください", "1")
    c.expect("API連携の利用登録が完了しました。")
    assert c.wait_exit() == EXIT_ALLOWED
    clean_output(c, [PASSWORDS["yamada01"], ANSWER, "9090"] + list(YAMADA_PINS))
    assert len(partner.get_token()["access_token"]) > 10


def test_cancel_tells_the_partner(sandbox, curl):
    sb = sandbox()
    partner = Partner(curl, sb)
    c = start_plain(sb)
    c.prompt("コード", partner.user_code)
    c.prompt("番号を選んでください", "1")
    c.prompt("ログインID", "<")  # back to the partner's question
    c.expect("3. 中止")
    c.prompt("番号を選んでください", "3")
    c.expect("API連携の手続きを中止しますか？")
    c.prompt("番号を選んでください [2]", "1")
    c.expect("API連携の利用登録を中止しました。")
    c.expect(KAKEIBO + "には何も許可されていません。")
    assert c.wait_exit() == EXIT_DENIED
    clean_output(c, [])
    partner.assert_denied()


def test_cancel_the_bank_does_not_confirm_asks_again(sandbox, curl):
    """The cancel meets a 500: the bank's sentence as an error line, then the question to send it
    again (yes by default); the empty line sends it, the partner gets access_denied."""
    sb = sandbox(args=["--fault", "cancel:status:500:once"])
    partner = Partner(curl, sb)
    c = start_plain(sb)
    c.prompt("コード", partner.user_code)
    c.prompt("番号を選んでください", "1")
    c.prompt("ログインID", "<")
    c.expect("3. 中止")
    c.prompt("番号を選んでください", "3")
    c.expect("API連携の手続きを中止しますか？")
    c.prompt("番号を選んでください [2]", "1")
    c.expect("エラー: 銀行のサーバーで問題が発生しました。しばらく待ってからもう一度お試しください。")
    c.expect("銀行から中止の確認が得られませんでした。もう一度送信しますか？")
    c.prompt("番号を選んでください [1]", "")
    c.expect("API連携の利用登録を中止しました。")
    assert c.wait_exit() == EXIT_DENIED
    clean_output(c, [])
    partner.assert_denied()


def test_question_mark_repeats_and_bad_numbers_are_refused(sandbox, curl):
    sb = sandbox()
    partner = Partner(curl, sb)
    c = start_plain(sb)
    c.prompt("コード", partner.user_code)
    c.prompt("番号を選んでください", "7")
    c.expect("エラー: 1から3までの番号を入力してください。")
    c.prompt("番号を選んでください", "?")
    out = c.expect("番号を選んでください [1]: ")
    assert out.count(KAKEIBO + "がお客様の口座情報へのアクセスを求めています。") == 2, out
    c.answer("１")  # a full-width digit, as a Japanese input method types it
    c.expect("ログインID: ")
    c.close()


def test_signal_mid_flow_cancels_on_the_server(sandbox, curl):
    sb = sandbox()
    partner = Partner(curl, sb)
    c = start_plain(sb)
    c.prompt("コード", partner.user_code)
    c.prompt("番号を選んでください", "1")
    c.expect("ログインID: ")
    c.proc.kill(signal.SIGHUP)
    assert c.wait_exit() == EXIT_DENIED
    assert "DELETE /consent/v1/session 200" in sb.log_text(), sb.log_text()
    partner.assert_denied()


def test_chosen_by_term_dumb_and_by_a_pipe(sandbox, curl):
    """TERM=dumb without --plain, and standard output a pipe: the line mode by itself."""
    sb = sandbox()
    partner = Partner(curl, sb)
    c = start_plain(sb, extra=(), env={"TERM": "dumb"})
    c.prompt("コード", partner.user_code)
    c.expect("1. ID・パスワード方式")
    c.close()
    partner2 = Partner(curl, sb)
    answers = "\n".join([partner2.user_code, "3", "1"]) + "\n"
    r = subprocess.run(client_argv(sb), input=answers.encode(), capture_output=True, timeout=30,
                       env={**os.environ, "LANG": "C.UTF-8", "TERM": "xterm-256color",
                            **{k: v for k, v in client_env().items() if v is not None}})
    out = r.stdout.decode("utf-8")
    assert r.returncode == EXIT_DENIED, (r.returncode, out, r.stderr)
    assert "API連携の利用登録を中止しました。" in out and b"\x1b" not in r.stdout, out
    partner2.assert_denied()


def test_kiosk_idle_in_line_mode(sandbox, curl):
    """--kiosk --idle-timeout 10: nobody answers the password question; the flow is cancelled on
    the server (access_denied), a line says so, and the first question comes back."""
    sb = sandbox()
    partner = Partner(curl, sb)
    c = start_plain(sb, extra=("--plain", "--kiosk", "--idle-timeout", "10"))
    c.prompt("コード", partner.user_code)
    c.prompt("番号を選んでください", "1")
    c.prompt("ログインID", "yamada01")
    c.expect("ログインパスワード: ")
    t0 = time.monotonic()
    c.expect("一定時間操作がなかったため、手続きを終了しました。")
    assert time.monotonic() - t0 >= 9, "ended before the idle time"
    c.expect("コード: ")
    partner.assert_denied()
    c.proc.kill(signal.SIGTERM)
    assert c.wait_exit() == EXIT_DENIED


def test_certificate_login_in_line_mode(sandbox, curl, pki, tmp_path):
    """電子証明書方式: every certificate listed with its details (the expired one listed, refused),
    the token's PIN asked with the echo off, then the password; suzuki03's flow to its end."""
    from e2e.test_certificate import MODULE, _mktoken
    conf = _mktoken(pki, tmp_path / "token")
    sb = sandbox()
    partner = Partner(curl, sb)
    c = start_plain(sb, extra=("--plain", "--pkcs11-module", MODULE), env={"SOFTHSM2_CONF": str(conf)})
    c.prompt("コード", partner.user_code)
    c.prompt("番号を選んでください", "2")
    c.expect("電子証明書の選択")
    c.prompt("番号を選んでください [1]", "2")  # the expired one
    out = c.expect("エラー: この項目は選択できません。")
    chooser = out[out.rfind("電子証明書の選択"):]
    for text in ("1. 鈴木花子", "発行先： CN=鈴木花子,O=Renkei Demo Bank,C=JP", "2. 【期限切れ】鈴木花子",
                 "この証明書は有効期間外のため選択できません。"):
        assert text in chooser, (text, chooser)
    assert chooser.count("1. 鈴木花子") == 1, chooser  # listed once, with its details
    c.prompt("番号を選んでください [1]", "")
    c.expect("ICカード：renkei-demo　証明書：鈴木花子")
    c.prompt("PIN", "123456")
    c.expect("電子証明書：鈴木花子（有効期限：")
    c.prompt("ログインパスワード", PASSWORDS["suzuki03"])
    c.prompt("選ぶ番号を空白で区切って入力してください", "1")
    c.prompt(pin_prompt("本店営業部(100) 普通 3000003"), "2468")
    c.prompt("番号を選んでください", "")
    c.expect("許可手続きを継続する")
    c.prompt("番号を選んでください", "1")
    c.prompt("番号を選んでください", "1")
    c.expect("API連携の利用登録が完了しました。")
    assert c.wait_exit() == EXIT_ALLOWED
    clean_output(c, ["123456", PASSWORDS["suzuki03"], "2468"])
    assert partner.get_token()["scope"] == "balance"


def test_kiosk_out_of_service_in_line_mode(sandbox, curl, tmp_path):
    """A kiosk in line mode whose bank is away at start: the out-of-service words once, in both
    languages, no retry question; the first question by itself once the bank answers again."""
    from e2e.helpers import sandbox_back
    state = tmp_path / "state.sqlite"
    sb = sandbox(state=state)
    assert sb.stop() == 0
    c = start_plain(sb, extra=("--plain", "--kiosk"))
    c.expect("ただいまこの端末はご利用いただけません。")
    c.expect(en("ただいまこの端末はご利用いただけません。"))
    sb2 = sandbox_back(sandbox, sb, state)
    out = c.expect("コード: ")
    assert "もう一度送信しますか" not in out and out.count("ただいまこの端末はご利用いただけません。") == 1, out
    partner = Partner(curl, sb2)
    c.answer(partner.user_code)
    c.expect("1. ID・パスワード方式")
    c.proc.kill(signal.SIGTERM)
    assert c.wait_exit() == EXIT_DENIED
    partner.assert_denied()
    clean_output(c, [])


def test_transport_failure_asks_to_send_again(sandbox, curl, tmp_path):
    """The bank goes away before the password is sent: one error line and the retry question
    (もう一度送信しますか？); with the bank back, はい sends the same login again, nothing retyped."""
    from e2e.helpers import sandbox_back
    state = tmp_path / "state.sqlite"
    sb = sandbox(state=state)
    partner = Partner(curl, sb)
    c = start_plain(sb)
    c.prompt("コード", partner.user_code)
    c.prompt("番号を選んでください", "1")
    c.prompt("ログインID", "yamada01")
    c.expect("ログインパスワード: ")
    assert sb.stop() == 0
    c.answer(PASSWORDS["yamada01"])
    out = c.expect("もう一度送信しますか？")
    assert "通信エラー" in out and "エラー: 銀行のサーバーに接続できませんでした。入力内容はそのままです。" in out, out
    sandbox_back(sandbox, sb, state)
    c.prompt("番号を選んでください [1]", "")  # はい
    c.expect("質問：証券名を入力してください")
    c.close()
    clean_output(c, [PASSWORDS["yamada01"]])


def test_trace_in_line_mode(sandbox, curl, tmp_path):
    """--trace in line mode: the header, a screen record per question screen, the requests, the
    end; the typed password never in it."""
    import json
    trace = tmp_path / "trace.jsonl"
    sb = sandbox()
    partner = Partner(curl, sb)
    c = start_plain(sb, extra=("--plain", "--trace", str(trace)))
    c.prompt("コード", partner.user_code)
    c.prompt("番号を選んでください", "1")
    c.prompt("ログインID", "yamada01")
    c.prompt("ログインパスワード", PASSWORDS["yamada01"])
    c.prompt("回答", "<")
    c.prompt("番号を選んでください [2]", "1")
    c.expect("API連携の利用登録を中止しました。")
    assert c.wait_exit() == EXIT_DENIED
    text = trace.read_text("utf-8")
    assert PASSWORDS["yamada01"] not in text and ANSWER not in text
    recs = [json.loads(ln) for ln in text.splitlines()]
    forms = [r.get("form") for r in recs if r.get("type") == "screen"]
    assert forms[:4] == ["code", "partner", "login_password", "question"], forms
    assert "cancelled" in forms, forms
    assert any(r.get("type") == "request" and r.get("action") == "cancel" for r in recs), recs
    partner.assert_denied()


# ---------------------------------------------------------------------------------------------
# Linked services in line mode (renkei --plain --links; protocol §4.12, the screens: test_links.py)

def _links_login(c, login_id="sato02"):
    c.expect("連携中のサービス")
    c.expect("「次へ」ボタンを押して、ログインしてください。")
    c.prompt("番号を選んでください [1]", "")  # 次へ
    c.expect("連携中のサービスの確認には、ログインが必要です。")
    c.prompt("番号を選んでください [1]", "")  # ID・パスワード方式
    c.expect("ログインIDとログインパスワードを入力し、「ログイン」を押してください。")
    c.prompt("ログインID", login_id)
    c.prompt("ログインパスワード", PASSWORDS[login_id])


def test_links_listed_one_stopped_in_line_mode(sandbox, tmp_path):
    """sato02 authorized mieru-demo and kakeibo-demo: the list writes both (newest first) with
    scopes and dates; 詳細 of kakeibo-demo, 連携を停止, 停止する: its token gets 401 and its refresh
    invalid_grant, mieru-demo's still works; the list then holds mieru-demo only; 終了 ends the
    session (exit 0). The audit records are those of the screens: revoke, then links ended."""
    import json
    from harness.proto import bearer_get, expect_oauth_error, grant, refresh
    sb = sandbox()
    mieru = grant(sb, "sato02", "mieru-demo")
    kakeibo = grant(sb, "sato02", "kakeibo-demo", choose=["balance"])
    audit = tmp_path / "audit.jsonl"
    c = start_plain(sb, extra=("--plain", "--links", "--audit", str(audit)))
    _links_login(c)
    out = c.expect("3. 終了")
    listed = out[out.rindex("お客様が口座情報へのアクセスを許可しているサービス（API連携先）の一覧です。"):]
    k, m = listed.find("連携先：" + KAKEIBO), listed.find("連携先：ミエル会計株式会社")
    assert 0 <= k < m, "both listed, newest first:\n" + listed
    assert "認可対象：残高照会\r\n" in listed[k:m] and "認可対象：残高照会、入金出金照会" in listed[m:], listed
    assert "連携日：" in listed and "有効期限：" in listed, listed
    c.prompt("番号を選んでください [1]", "1")  # 詳細
    c.expect("1. " + KAKEIBO)
    c.expect("2. ミエル会計株式会社")
    c.prompt("選ぶ番号を空白で区切って入力してください", "9")
    c.expect("エラー: 1から2までの番号を入力してください。")
    c.prompt("選ぶ番号を空白で区切って入力してください", "1")
    c.expect("連携中のサービス（詳細）")
    detail = c.expect("2. 連携を停止")
    detail = detail[detail.rindex("連携中のサービス（詳細）"):]
    assert "連携先：" + KAKEIBO in detail and "インターネット支店(002) 普通 2222222" in detail, detail
    assert "ミエル会計株式会社" not in detail, detail
    c.prompt("番号を選んでください [1]", "2")  # 連携を停止
    c.expect("以下のサービスとの連携を停止します。よろしいですか？")
    c.expect("2. 停止する")
    c.prompt("番号を選んでください [1]", "2")
    c.expect("以下のサービスとの連携を停止しました。")
    c.expect("・" + KAKEIBO)
    assert bearer_get(sb, "/v1/accounts", kakeibo["access_token"]).status == 401
    expect_oauth_error(refresh(sb, kakeibo["refresh_token"], "kakeibo-demo"), "invalid_grant")
    assert bearer_get(sb, "/v1/accounts", mieru["access_token"]).status == 200
    c.prompt("番号を選んでください [1]", "")  # 一覧に戻る
    out = c.expect("3. 終了")
    listed = out[out.rindex("の一覧です。"):]
    assert "ミエル会計株式会社" in listed and KAKEIBO not in listed, listed
    # the only one left is the default of the services' question
    c.prompt("番号を選んでください [1]", "1")
    c.prompt("選ぶ番号を空白で区切って入力してください [1]", "")
    c.expect("連携中のサービス（詳細）")
    c.expect("連携先：ミエル会計株式会社")
    c.prompt("番号を選んでください [1]", "")  # 一覧に戻る
    c.expect("3. 終了")
    c.prompt("番号を選んでください [1]", "3")
    c.expect("連携中のサービスの確認を終了しますか？")
    c.prompt("番号を選んでください [2]", "1")
    c.expect("連携中のサービスの確認を終了しました。")
    assert c.wait_exit() == EXIT_ALLOWED
    clean_output(c, [PASSWORDS["sato02"]])
    recs = [json.loads(ln) for ln in audit.read_text(encoding="utf-8").splitlines()]
    assert [(r["event"], r["result"]) for r in recs] == [("revoke", "revoked"), ("links", "ended")], recs
    assert recs[0]["partner"] == "kakeibo-demo" and recs[0]["customer"] == "sato02", recs
    assert "DELETE /consent/v1/session 200" in sb.log_text()


def test_links_empty_list_in_english_line_mode(sandbox):
    """Nothing linked: the list says so; 詳細 and 連携を停止 are listed but refused; the default is
    終了, and `<` asks the same question."""
    sb = sandbox()
    c = start_plain(sb, lang="en", extra=("--plain", "--links"))
    c.expect(en("「次へ」ボタンを押して、ログインしてください。"))
    c.prompt("[1]", "")
    c.expect(en("連携中のサービスの確認には、ログインが必要です。"))
    c.prompt("[1]", "")
    c.prompt(en("ログインID"), "sato02")
    c.prompt(en("ログインパスワード"), PASSWORDS["sato02"])
    c.expect(en("現在、連携中のサービスはありません。"))
    c.prompt("[3]", "1")
    c.expect("Error: " + en("この項目は選択できません。"))
    c.prompt("[3]", "<")
    c.expect(en("連携中のサービスの確認を終了しますか？"))
    c.prompt("[2]", "")  # いいえ: the list again
    c.expect(en("現在、連携中のサービスはありません。"))
    c.prompt("[3]", "")
    c.prompt("[2]", "1")
    c.expect(en("連携中のサービスの確認を終了しました。"))
    assert c.wait_exit() == EXIT_ALLOWED
    out = c.output()
    assert "連携" not in out and "エラー" not in out, out  # every word of the forms in English
    clean_output(c, [PASSWORDS["sato02"]])


def test_links_kiosk_idle_in_line_mode(sandbox, tmp_path):
    """A kiosk in line mode left on the links list: after --idle-timeout the session ends on the
    server, a line says so, the start comes back, and the audit record says links cancelled idle."""
    import json
    from harness.proto import grant
    sb = sandbox()
    grant(sb, "sato02", "kakeibo-demo")
    audit = tmp_path / "audit.jsonl"
    c = start_plain(sb, extra=("--plain", "--links", "--kiosk", "--idle-timeout", "10", "--audit", str(audit)))
    c.expect("「次へ」ボタンを押して、ログインしてください。")
    c.expect("1. 次へ\r\n番号を選んでください [1]: ")  # a kiosk: no 終了 here
    c.answer("")
    c.prompt("番号を選んでください [1]", "")
    c.prompt("ログインID", "sato02")
    c.prompt("ログインパスワード", PASSWORDS["sato02"])
    c.expect("連携先：" + KAKEIBO)
    c.expect("番号を選んでください [1]: ")
    t0 = time.monotonic()
    c.expect("一定時間操作がなかったため、手続きを終了しました。")
    assert time.monotonic() - t0 >= 9, "ended before the idle time"
    out = c.expect("「次へ」ボタンを押して、ログインしてください。")
    assert KAKEIBO not in out[out.rindex("一定時間操作がなかった"):], out
    deadline = time.monotonic() + 5
    while "DELETE /consent/v1/session 200" not in sb.log_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "DELETE /consent/v1/session 200" in sb.log_text()
    recs = [json.loads(ln) for ln in audit.read_text(encoding="utf-8").splitlines()]
    assert [(r["event"], r["result"], r.get("reason")) for r in recs] == [("links", "cancelled", "idle")], recs
    c.proc.kill(signal.SIGTERM)
    c.wait_exit()
    clean_output(c, [PASSWORDS["sato02"]])
