"""Dialogs (yes/no questions, messages) follow F2 like every screen: their title, text, buttons and
key bar are translated again in the new language (exact texts from po/en.po), F2 again goes back to
Japanese, and the dialog still answers as before (the partner gets access_denied, the client exits
with the documented status, a retry still sends what was typed)."""

import re

from e2e.helpers import (KAKEIBO, EXIT_DENIED, JA, PASSWORDS, cjk_in, en, error_line, exit_denied, focus_row_of,
                         key_bar, login_to_stopped_server, sandbox_back, squash, start_flow, title, to_partner,
                         typ, wait_partner, wait_screen)

Q_CANCEL = "API連携の手続きを中止しますか？ 中止すると、連携先には許可しなかったことが伝わります。"
Q_EXIT = "API連携の手続きを終了しますか？"
Q_RETRY = "もう一度送信しますか？"
MSG_CONNECT = "銀行のサーバーに接続できませんでした。入力内容はそのままです。"
MSG_LOAD_FAILED = ("ICカード用のソフトウェア（PKCS#11モジュール）を読み込めませんでした。"
                   "--pkcs11-module のパスを確認してください。")
HELP_CODE = ("連携先アプリの画面に表示されている8文字のコード（例：WDJB-MJHT）を入力してください。"
             "大文字・小文字、ハイフンや空白は区別しません。バーコードリーダーでも入力できます。")
YES_NO = ("はい", "いいえ")
OK = ("OK",)


def dialog(s):
    """(title, text, buttons) of the one dialog box drawn over the frame; text is squash()ed (rows
    joined, white space removed), buttons the [ ... ] labels in order. Fails unless exactly one box
    is on the screen (e.g. the rows of a taller box left behind after F2)."""
    rows = s.split("\n")
    tops = [i for i, ln in enumerate(rows) if i > 1 and "┌" in ln]
    bottoms = [i for i, ln in enumerate(rows) if "└" in ln and ln.lstrip().startswith("│")]
    assert len(tops) == 1 and len(bottoms) == 1 and tops[0] < bottoms[0], \
        "not exactly one dialog box on the screen:\n" + s
    top, bottom = tops[0], bottoms[0]
    head = rows[top][rows[top].index("┌") + 1:rows[top].index("┐")]
    text, buttons = [], []
    for ln in rows[top + 1:bottom]:
        inner = "│".join(ln.split("│")[2:-2])
        if "[ " in inner:
            buttons += re.findall(r"\[ (.+?) \]", inner)
        else:
            text.append(inner)
    return head.strip("─ "), squash("".join(text)), buttons


def keys(lang):
    """The dialogs' key bar: no F1 (it does nothing in a dialog), F2 names the other language."""
    if lang == "en":
        return "Esc %s  F2 日本語  Tab %s  Enter %s" % (en("戻る"), en("移動"), en("決定"))
    return "Esc 戻る  F2 English  Tab 移動  Enter 決定"


def wait_dialog(t, head, texts, buttons, lang="ja", timeout=5.0):
    """Wait for the dialog titled head (a msgid) holding exactly the texts (msgids, one after the
    other) and the buttons (msgids), in lang; checks its key bar. Returns the screen."""
    tr = en if lang == "en" else (lambda m: m)
    want = (tr(head), squash("".join(tr(x) for x in texts)), [tr(b) for b in buttons])

    def ok(s):
        try:
            return dialog(s) == want and key_bar(s, t.height) == keys(lang)
        except (AssertionError, ValueError):
            return False
    try:
        s = t.wait_for(ok, timeout=timeout)
    except AssertionError as e:
        raise AssertionError("waiting for the %s dialog %r (key bar %r):\n%s" % (lang, want, keys(lang), e)) from None
    if lang == "en":
        d = dialog(s)
        assert not cjk_in(d[0] + d[1] + "".join(d[2])), "Japanese left in the English dialog:\n" + s
    return s


def f2_both_ways(t, head, texts, buttons):
    """In an open Japanese dialog: F2 (English), F2 (Japanese again)."""
    wait_dialog(t, head, texts, buttons, "ja")
    t.send("F2")
    wait_dialog(t, head, texts, buttons, "en")
    t.send("F2")
    return wait_dialog(t, head, texts, buttons, "ja")


def test_cancel_confirm_follows_f2_then_yes_denies(sandbox, curl, term):
    _, partner, t = start_flow(sandbox, curl, term)
    to_partner(t, partner.user_code, KAKEIBO)
    t.send("Escape")
    f2_both_ways(t, "手続きの中止", [Q_CANCEL], YES_NO)
    # いいえ (the default) in English: the screen under it is now English too, nothing lost
    t.send("F2")
    wait_dialog(t, "手続きの中止", [Q_CANCEL], YES_NO, "en")
    t.send("Enter")
    wait_partner(t, "Demo Kakeibo Inc.", lang="en")
    # again, back to Japanese inside the dialog, and はい: the request is cancelled
    t.send("Escape")
    wait_dialog(t, "手続きの中止", [Q_CANCEL], YES_NO, "en")
    t.send("F2")
    wait_dialog(t, "手続きの中止", [Q_CANCEL], YES_NO, "ja")
    t.send("Left", "Enter")  # はい
    s = wait_screen(t, "API連携の利用登録を中止しました。", KAKEIBO + " には何も許可されていません。")
    assert title(s) == JA["title"], s
    exit_denied(t, partner, EXIT_DENIED)


def test_network_retry_follows_f2_keeps_input_and_retries(sandbox, curl, term, tmp_path):
    """The retry question is built from the error (a sentence made from f.error) and a question:
    both are translated again; no answers it, yes after the server is back sends what was typed."""
    sb, state, _, t = login_to_stopped_server(sandbox, curl, term, tmp_path)
    f2_both_ways(t, "通信エラー", [MSG_CONNECT, Q_RETRY], YES_NO)
    # いいえ in English: the login screen in English, the reason on its error line, input kept
    t.send("F2")
    wait_dialog(t, "通信エラー", [MSG_CONNECT, Q_RETRY], YES_NO, "en")
    t.send("Right", "Enter")
    s = t.wait_for(lambda x: squash(en(MSG_CONNECT)) in squash(error_line(x)) and "通信エラー" not in x
                   and en("通信エラー") not in x)
    assert "yamada01" in s and "●" * len(PASSWORDS["yamada01"]) in s, "input lost:\n" + s
    # the same request again (Enter in the password entry): the dialog comes back in English
    focus_row_of(t, en("ログインパスワード"))
    t.send("Enter")
    wait_dialog(t, "通信エラー", [MSG_CONNECT, Q_RETRY], YES_NO, "en")
    t.send("F2")
    wait_dialog(t, "通信エラー", [MSG_CONNECT, Q_RETRY], YES_NO, "ja")
    sandbox_back(sandbox, sb, state)
    t.send("Enter")  # はい (the default)
    s = wait_screen(t, "証券名を入力してください", title_is=JA["title_question"])
    assert error_line(s) == "", s


def test_message_from_token_layer_follows_f2_then_ok(sandbox, curl, term, tmp_path):
    """A PKCS#11 failure (the module cannot be loaded): a message whose text comes from the token
    layer, translated again on F2; OK closes it and the client goes on."""
    _, partner, t = start_flow(sandbox, curl, term, code_arg=True, env={"SOFTHSM2_CONF": None},
                               extra=["--pkcs11-module", str(tmp_path / "no-such-module.so")])
    wait_partner(t, KAKEIBO)
    t.send("Tab", "Enter")  # 電子証明書方式
    wait_screen(t, "電子証明書方式", "（未選択）", title_is=JA["title"])
    t.send("Enter")  # 電子証明書ログイン: opens the module
    f2_both_ways(t, "電子証明書ログイン", [MSG_LOAD_FAILED], OK)
    t.send("Enter")
    wait_screen(t, "電子証明書方式", "（未選択）", title_is=JA["title"])
    t.send("Escape")  # back to the partner screen: still working
    wait_partner(t, KAKEIBO)
    assert not t.exited()


def test_help_and_exit_confirm_follow_f2(sandbox, curl, term):
    """F1's help (a message) and the first screen's Esc (leave without a request: no session yet),
    both switched inside the dialog; the code typed stays; leaving exits with status 3."""
    _, partner, t = start_flow(sandbox, curl, term)
    wait_screen(t, "コード", title_is=JA["title"])
    typ(t, partner.user_code[:4])
    t.send("F1")
    f2_both_ways(t, "ヘルプ", [HELP_CODE], OK)
    t.send("F2")
    wait_dialog(t, "ヘルプ", [HELP_CODE], OK, "en")
    t.send("Enter")
    s = wait_screen(t, en("コード"), title_is=en(JA["title"]))
    assert partner.user_code[:4] in s, "the typed code was lost:\n" + s
    t.send("Escape")
    wait_dialog(t, "終了", [Q_EXIT], YES_NO, "en")
    t.send("F2")
    wait_dialog(t, "終了", [Q_EXIT], YES_NO, "ja")
    t.send("Enter")  # いいえ (the default): still on the code screen, in Japanese now
    s = wait_screen(t, "コード", title_is=JA["title"])
    assert partner.user_code[:4] in s, "the typed code was lost:\n" + s
    t.send("Escape")
    wait_dialog(t, "終了", [Q_EXIT], YES_NO, "ja")
    t.send("Left", "Enter")  # はい
    assert t.wait_exit() == EXIT_DENIED
