"""Golden screens: every screen of the flow in both languages at 80x24 (and the too-small screen at
79x23), captured with `tmux capture-pane -p` and compared with tests/golden/<lang>-NN-<name>.txt.

Only volatile parts are normalized: the authorization period's dates (and the padding after them,
as their width varies) and the partner's user code. A mismatch fails with a unified diff of every
screen that differs. Regenerate with `make golden` (RENKEI_GOLDEN_UPDATE=1), then review the diff
of tests/golden/ before committing it.
"""

import difflib
import os
import re
import time
import unicodedata

import pytest

from e2e.helpers import has as frame_has
from e2e.helpers import (scroll_terms_to_end, en, squash, EXIT_DENIED, EXIT_ERROR, EXIT_LOCKED, PASSWORDS, ROOT, Partner,
                         error_line, focus_row_of, start_client, typ)

GOLDEN = ROOT / "tests" / "golden"
UPDATE = os.environ.get("RENKEI_GOLDEN_UPDATE") == "1"

DATE_PATTERNS = [
    (re.compile(r"\d{4}年\d{1,2}月\d{1,2}日"), "YYYY年MM月DD日"),
    (re.compile(r"\b\d{4}-\d{2}-\d{2}\b"), "YYYY-MM-DD"),
    (re.compile(r"\b\d{4}/\d{2}/\d{2}\b"), "YYYY/MM/DD"),  # the linked services' table
]
_BORDER_END = re.compile(r" *([x│|])$")


def width(text):
    """Display width as glibc's wcwidth under C.UTF-8 (East Asian Wide/Fullwidth: 2)."""
    return sum(2 if unicodedata.east_asian_width(c) in ("W", "F") else 1 for c in text)


def normalize(screen, codes=()):
    """The screen as stored: lines right-stripped, volatile parts replaced."""
    out = []
    for ln in screen.split("\n"):
        ln = ln.rstrip()
        before = width(ln)
        changed = False
        for c in codes:
            for form in {c, c.replace("-", ""), c.lower(), c.replace("-", "").lower()}:
                if form and form in ln:
                    ln = ln.replace(form, "X" * 4 + ("-" if "-" in form else "") + "X" * 4)
        for pat, rep in DATE_PATTERNS:
            ln, n = pat.subn(rep, ln)
            changed = changed or n > 0
        m = _BORDER_END.search(ln) if changed else None
        if m:  # a date's width varies (1月 / 11月): pad to where the frame's right edge was
            head = ln[:m.start()]
            ln = head + " " * max(1, before - 1 - width(head)) + m.group(1)
        out.append(ln)
    while out and out[-1] == "":
        out.pop()
    return "\n".join(out) + "\n"


def stable(t, pred=None, timeout=5.0):
    """The screen once pred holds and two captures in a row are the same (drawing finished)."""
    deadline = time.monotonic() + timeout
    prev = None
    while True:
        s = t.screen()
        if (pred is None or pred(s)) and s == prev:
            return s
        prev = s if (pred is None or pred(s)) else None
        if time.monotonic() > deadline:
            raise AssertionError("screen not stable / not as expected:\n" + s)
        time.sleep(0.01)


class Golden:
    def __init__(self, lang):
        self.lang = lang
        self.n = 0
        self.problems = []
        self.seen = []

    def check(self, name, screen, codes=()):
        self.n += 1
        fname = "%s-%02d-%s.txt" % (self.lang, self.n, name)
        self.seen.append(fname)
        got = normalize(screen, codes)
        path = GOLDEN / fname
        if UPDATE:
            GOLDEN.mkdir(parents=True, exist_ok=True)
            path.write_text(got, encoding="utf-8")
            return
        if not path.exists():
            self.problems.append("%s: no golden file (run `make golden`); the screen is:\n%s" % (fname, got))
            return
        want = path.read_text(encoding="utf-8")
        if want != got:
            diff = difflib.unified_diff(want.splitlines(True), got.splitlines(True),
                                        "tests/golden/" + fname, "captured", n=2)
            self.problems.append("".join(diff))

    def finish(self):
        if not UPDATE:
            extra = sorted(p.name for p in GOLDEN.glob("%s-*.txt" % self.lang) if p.name not in self.seen)
            if extra:
                self.problems.append("golden files no screen was captured for (stale? run `make golden`): %s"
                                     % ", ".join(extra))
        if self.problems:
            pytest.fail("%d golden screen(s) differ (%s):\n%s" % (
                len(self.problems), self.lang, "\n".join(self.problems)), pytrace=False)


def has(s, text):
    """text (white space ignored) inside the frame (wrapped lines joined), or anywhere on s."""
    return frame_has(s, text) or squash(text) in squash(s)


def password_typed(term, sb, p, lang, W, login_id):
    """The client started with partner p's code: ID・パスワード方式, login_id and its password typed
    (not sent). Returns the Term."""
    t = start_client(term, sb, lang=lang, user_code=p.user_code)
    stable(t, lambda s: has(s, W["partner"]))
    t.send("Enter")
    stable(t, lambda s: has(s, W["login"]) and not has(s, W["partner"]))
    typ(t, login_id)
    t.send("Enter")
    typ(t, PASSWORDS[login_id])
    return t


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_golden_screens(lang, sandbox, curl, term, tmp_path):
    g = Golden(lang)
    ja = lang == "ja"
    tr = (lambda m: m) if ja else en
    W = {  # what to wait for on each screen (msgids, in this language)
        "code": tr("連携先アプリに表示されているコードを入力の上、「次へ」ボタンを押してください。"),
        # (dialog text: its lines are wrapped between the dialog's borders; the start is enough)
        "help": tr("連携先アプリの画面に表示されている8文字のコード（例：WDJB-MJHT）を入力してください。"
                   "大文字・小文字、ハイフンや空白は区別しません。バーコードリーダーでも入力できます。")[:14],
        "partner": "[ %s ]" % tr("電子証明書方式"),
        "confirm": tr("API連携の手続きを中止しますか？ 中止すると、連携先には許可しなかったことが伝わります。")[:14],
        "cert": tr("「電子証明書ログイン」ボタンをクリックし、表示される証明書情報を確認のうえ、該当の証明書を選択し、「OK」ボタンをクリックしてください。"),
        "login": tr("「ログインID」、「ログインパスワード」を入力して、「API連携」ボタンを押してください。"),
        "pwlabel": tr("ログインパスワード"),
        "wrong": tr("ログインIDまたはログインパスワードが正しくありません。"),
        "question": "証券名を入力してください" if ja else "Enter the name of your securities company",
        "scopes": tr("入金出金照会"),
        "pins": tr("API連携を行う場合は、現在の照会用暗証番号の登録が必要です。"),
        "result": tr("照会用暗証番号を追加登録するには、「照会用暗証番号の追加登録」ボタンをクリックしてください。"),
        "permission": tr("※認可期間"),
        "refused": tr("「許可手続きを継続する」にチェックを入れてから「許可」ボタンを押してください。"),
        "unread": tr("意思確認を最後までお読みになってから、チェックを入れてください（PgDn・スペースキーで読み進めます）。"),
        "done": tr("API連携の利用登録が完了しました。"),
        "locked": tr("ロックの解除は、お取引店またはヘルプデスクにお問い合わせください。"),
        "cancelled": tr("API連携の利用登録を中止しました。"),
        "small": "79x23",
        "retry": tr("もう一度送信しますか？"),
        "error": tr("エラーが発生しました"),
    }

    # --- yamada01 with kakeibo-demo: every screen of the flow ------------------------------------
    sb = sandbox()
    p = Partner(curl, sb)
    codes = [p.user_code]
    t = start_client(term, sb, lang=lang)
    g.check("code", stable(t, lambda s: has(s, W["code"])))
    t.send("F1")
    g.check("code-help", stable(t, lambda s: has(s, W["help"])))
    t.send("Enter")
    stable(t, lambda s: not has(s, W["help"]))
    typ(t, p.user_code)
    t.send("Enter")
    g.check("partner", stable(t, lambda s: has(s, W["partner"])), codes)
    t.send("Escape")
    g.check("cancel-confirm", stable(t, lambda s: has(s, W["confirm"])), codes)
    t.send("Enter")  # いいえ
    stable(t, lambda s: not has(s, W["confirm"]))
    t.send("Tab", "Enter")  # 電子証明書方式
    g.check("login-certificate", stable(t, lambda s: has(s, W["cert"])))
    t.send("Escape")  # back to the partner screen
    stable(t, lambda s: has(s, W["partner"]))
    t.send("Enter")  # ID・パスワード方式
    g.check("login-password", stable(t, lambda s: has(s, W["login"]) and not has(s, W["partner"])))
    typ(t, "yamada01")
    t.send("Enter")
    typ(t, "wrong")
    t.send("Enter")
    g.check("login-wrong-password", stable(t, lambda s: "yamada01" in s and has(error_line(s), W["wrong"])))
    focus_row_of(t, W["pwlabel"])
    typ(t, PASSWORDS["yamada01"])
    t.send("Enter")
    g.check("question", stable(t, lambda s: has(s, W["question"])))
    typ(t, "ひまわり証券")
    t.send("Enter")
    g.check("scopes", stable(t, lambda s: has(s, W["scopes"])))
    t.send("Enter")
    g.check("pins", stable(t, lambda s: has(s, W["pins"])))
    typ(t, "1234")  # the rows start ticked; Down goes to the next row's PIN
    t.send("Down")
    typ(t, "0000")
    stable(t, lambda s: s.count("●●●●") == 2)
    t.send("Enter")
    g.check("pins-one-wrong", stable(t, lambda s: "●" not in s and has(s, W["pins"])))
    typ(t, "5678")
    t.send("Enter")
    g.check("pin-result", stable(t, lambda s: has(s, W["result"])))
    t.send("Enter")
    g.check("permission", stable(t, lambda s: has(s, W["permission"])))
    t.send("Tab", "Tab", "Tab", "Enter")  # 許可 without the checkbox: refused
    g.check("permission-refused", stable(t, lambda s: has(error_line(s), W["refused"])))
    t.send("BTab", "BTab", "Space")  # the checkbox, before the terms were read: refused
    g.check("permission-unread", stable(t, lambda s: has(error_line(s), W["unread"])))
    t.send("BTab")
    scroll_terms_to_end(t)  # PgDn to the end of the terms (the checkbox's hint goes)
    t.send("Tab", "Space", "Enter")
    g.check("done", stable(t, lambda s: has(s, W["done"])))
    t.send("Enter")
    assert t.wait_exit() == 0

    # --- tanaka04: locked -------------------------------------------------------------------------
    t = password_typed(term, sb, Partner(curl, sb), lang, W, "tanaka04")
    t.send("Enter")
    g.check("locked", stable(t, lambda s: has(s, W["locked"])))
    t.send("Enter")
    assert t.wait_exit() == EXIT_LOCKED

    # --- sato02 with mieru-demo: too small, then cancelled ---------------------------------------
    p = Partner(curl, sb, "mieru-demo")
    t = start_client(term, sb, lang=lang, user_code=p.user_code)
    stable(t, lambda s: has(s, W["partner"]))
    t.resize(79, 23)
    g.check("too-small", stable(t, lambda s: "79x23" in s))
    t.resize(80, 24)
    stable(t, lambda s: has(s, W["partner"]))
    t.send("Tab", "Tab", "Enter")  # 中止
    stable(t, lambda s: has(s, W["confirm"]))
    t.send("Left", "Enter")  # はい
    g.check("cancelled", stable(t, lambda s: has(s, W["cancelled"])))
    t.send("Enter")
    assert t.wait_exit() == EXIT_DENIED

    # --- the server goes away: the retry dialog; it comes back without the session: error --------
    sb2 = sandbox()
    t = password_typed(term, sb2, Partner(curl, sb2, "mieru-demo"), lang, W, "sato02")
    assert sb2.stop() == 0
    t.send("Enter")
    g.check("network-retry", stable(t, lambda s: has(s, W["retry"])))
    sandbox(args=["--listen", "127.0.0.1:%d" % sb2.port])
    t.send("Enter")
    g.check("error", stable(t, lambda s: has(s, W["error"])))
    t.send("Tab", "Enter")
    assert t.wait_exit() == EXIT_ERROR

    g.finish()
