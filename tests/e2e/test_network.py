"""Network loss: the bank's server goes away while the customer types. The client offers a retry and
keeps everything typed; a server that comes back (same port, same state) takes the retry."""

from e2e.helpers import (EXIT_ERROR, JA, PASSWORDS, error_line, focus_row_of, has_button, login_to_stopped_server,
                         sandbox_back, squash, title, wait_screen)

MSG_CONNECT = "銀行のサーバーに接続できませんでした。入力内容はそのままです。"


def _login_typed_then_stop(sandbox, curl, term, tmp_path):
    sb, state, partner, t = login_to_stopped_server(sandbox, curl, term, tmp_path)
    s = wait_screen(t, MSG_CONNECT, "もう一度送信しますか？")
    assert "通信エラー" in s and has_button(s, "はい") and has_button(s, "いいえ"), s
    return sb, state, partner, t


def test_network_failure_retry_dialog_keeps_input(sandbox, curl, term, tmp_path):
    sb, state, partner, t = _login_typed_then_stop(sandbox, curl, term, tmp_path)
    # いいえ: back on the login screen, everything typed still there, the reason on the error line
    t.send("Right", "Enter")
    s = t.wait_for(lambda x: "もう一度送信しますか" not in x and title(x) == JA["title"])
    assert squash(MSG_CONNECT) in squash(error_line(s)), s
    assert "yamada01" in s, "the login ID was lost:\n" + s
    pw = [ln for ln in s.split("\n") if "ログインパスワード" in ln and "※" in ln][0]
    assert pw.count("●") == len(PASSWORDS["yamada01"]), "the password was lost:\n" + s
    # the server comes back on the same address with the same state: submitting again works
    sandbox_back(sandbox, sb, state)
    focus_row_of(t, "ログインパスワード")
    t.send("Enter")  # in the last entry: API連携
    wait_screen(t, "証券名を入力してください", title_is=JA["title_question"])


def test_network_failure_retry_yes_after_server_back(sandbox, curl, term, tmp_path):
    sb, state, partner, t = _login_typed_then_stop(sandbox, curl, term, tmp_path)
    sandbox_back(sandbox, sb, state)
    t.send("Enter")  # はい (the default): the same request again, with what was typed
    s = wait_screen(t, "証券名を入力してください", title_is=JA["title_question"])
    assert error_line(s) == "", s


def test_server_lost_session_shows_error_screen(sandbox, curl, term, tmp_path):
    """The server comes back without the session (new state): the flow cannot go on; the error
    screen says what to do; 終了 leaves with status 1."""
    sb, state, partner, t = _login_typed_then_stop(sandbox, curl, term, tmp_path)
    sandbox(args=["--listen", "127.0.0.1:%d" % sb.port])  # in-memory state: the session is gone
    t.send("Enter")  # retry
    s = wait_screen(t, "エラーが発生しました", "最初からやり直してください。")
    assert has_button(s, "再試行") and has_button(s, "終了"), s
    t.send("Tab", "Enter")  # 終了
    assert t.wait_exit() == EXIT_ERROR
