"""Helpers for renkei's end-to-end terminal tests (tests/e2e/test_*.py): the partner's side of the
device grant played with curl, the client started in tmux against a sandbox, and screen reading.

Import from a test module with `from e2e.helpers import ...` (tests/ is on sys.path: conftest.py
puts it there). Fixtures come from tests/conftest.py: pki, sandbox, curl, term.

Screen model (80x24, docs/forms.md "Layout rules"): row 0 the title bar, row 1 the frame's top edge
(it carries the subtitle 連携先：...), the frame's inside, its bottom edge (row H-4), rows H-3 and
H-2 the error message (wrapped onto the second row when long), row H-1 the key bar. Text wraps inside the frame, so label checks compare text with all white
space removed (flat()), which is exact up to white space and line breaks.
"""

import json
import os
import re
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
BUILD = Path(os.environ.get("RENKEI_BUILD", str(ROOT / "build")))
if not BUILD.is_absolute():
    BUILD = ROOT / BUILD
CLIENT_BIN = BUILD / "renkei"
SANDBOX_BIN = BUILD / "renkei-sandbox"

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"

# include/exitcodes.h
EXIT_ALLOWED, EXIT_ERROR, EXIT_USAGE, EXIT_DENIED, EXIT_LOCKED = 0, 1, 2, 3, 4

# The demo scenario (shared/design/demo-scenario.md).
PASSWORDS = {"yamada01": "Sakura-2026", "sato02": "Momiji-2026", "suzuki03": "Kaede-2026",
             "tanaka04": "Ume-2026"}
ANSWER = "ひまわり証券"
PARTNER_JA = {"kakeibo-demo": "デモ家計簿株式会社", "mieru-demo": "ミエル会計株式会社"}
PARTNER_EN = {"kakeibo-demo": "Demo Kakeibo Inc.", "mieru-demo": "Mieru Accounting Inc."}
KAKEIBO = PARTNER_JA["kakeibo-demo"]

# Titles and labels exactly as shared/design/screens.md.
JA = {
    "title": "API連携認証（利用登録）",
    "title_question": "API連携認証（追加認証）（利用登録）",
    "title_scopes": "API連携認証（認可業務選択）（利用登録）",
    "title_pins": "API連携認証（照会用暗証番号登録）（利用登録）",
    "title_pin_result": "API連携認証（照会用暗証番号登録結果）",
    "title_permission": "API連携認証（情報アクセス許可）（利用登録）",
}

# Box-drawing as tmux's capture-pane gives it: ACS letters (lqkxmj), Unicode, or vt100 ASCII.
_BORDER = set("xX|│┃║")


# ---------------------------------------------------------------------------------------------
# Screen reading

def lines(screen):
    return screen.split("\n")


def row(screen, n):
    ls = lines(screen)
    if n < 0:
        n += len(ls)
        # capture-pane ends with a newline: the last element is empty
        if ls and ls[-1] == "":
            n -= 1
    return ls[n] if 0 <= n < len(ls) else ""


def title(screen):
    return row(screen, 0).strip()


def error_line(screen, height=24):
    """The error message: rows H-3 and H-2 joined (a long message wraps onto the second row)."""
    return (row(screen, height - 3).strip() + " " + row(screen, height - 2).strip()).strip()


def key_bar(screen, height=24):
    return row(screen, height - 1).strip()


def frame_rows(screen, height=24):
    """The rows inside the frame (without the border columns), as drawn."""
    ls = lines(screen)
    out = []
    for ln in ls[2:height - 4]:
        t = ln.rstrip()
        if t[:1] in _BORDER:
            t = t[1:]
        if t[-1:] in _BORDER:
            t = t[:-1]
        out.append(t.rstrip())
    return out


def subtitle(screen):
    """The subtitle in the frame's top edge ('連携先：...'), or ''."""
    edge = row(screen, 1)
    m = re.search(r"[lq┌─+\-]\s(.+?)\s[qk─┐+\-]", edge)
    return m.group(1).strip() if m else ""


def squash(text):
    return re.sub(r"\s+", "", text)


def flat(screen, height=24):
    """The frame's inside as one string without white space (wrapped lines joined)."""
    return squash("".join(frame_rows(screen, height)))


def has(screen, text, height=24):
    """text (white space ignored) is inside the frame."""
    return squash(text) in flat(screen, height)


def missing(screen, texts, height=24):
    return [t for t in texts if not has(screen, t, height)]


def assert_texts(screen, texts, height=24):
    """Every text is inside the frame (exact up to white space / wrapping)."""
    miss = missing(screen, texts, height)
    assert not miss, "not on the screen: %r\nscreen:\n%s" % (miss, screen)


def button(label):
    return "[ %s ]" % label


def has_button(screen, label):
    return button(label) in screen


def checkbox_state(screen, label):
    """True/False for '[x] label' / '[ ] label', None if not on screen."""
    for ln in lines(screen):
        i = ln.find(label)
        if i < 0:
            continue
        head = ln[:i].rstrip()
        if head.endswith("[x]") or head.endswith("[X]"):
            return True
        if head.endswith("[ ]"):
            return False
    return None


def cursor(t):
    """(x, y) of the terminal cursor: renkei puts it on the focused item."""
    out = t.tmux("display-message", "-p", "-t", "t", "#{cursor_x},#{cursor_y}").strip()
    x, y = out.split(",")
    return int(x), int(y)


def field_row(screen, label):
    """The screen row of the entry labelled label (the label, optional ※, at a line's start inside
    the frame), or None."""
    pat = re.compile(r"^\S?\s?" + re.escape(label) + r"\s*(※|\s{2}|$)")
    for i, ln in enumerate(lines(screen)):
        if pat.search(ln):
            return i
    return None


def table_row(screen, needle):
    """The screen line holding needle (e.g. an account number), or None."""
    for ln in lines(screen):
        if needle in ln:
            return ln
    return None


# ---------------------------------------------------------------------------------------------
# Waiting on screens

def wait_screen(t, *texts, timeout=5.0, title_is=None, height=None):
    """Wait until every text (white space ignored) is inside the frame and, if given, the title
    bar says title_is. Returns the screen."""
    h = height or t.height

    def ok(s):
        if title_is is not None and title(s) != title_is:
            return False
        if not key_bar(s, h):  # still being drawn (the key bar comes last)
            return False
        return all(has(s, x, h) for x in texts)
    try:
        return t.wait_for(ok, timeout=timeout)
    except AssertionError as e:
        want = ", ".join(repr(x) for x in texts)
        raise AssertionError("waiting for title %r and %s:\n%s" % (title_is, want, e)) from None


def wait_error(t, text, timeout=5.0):
    """Wait until the error rows (H-3, H-2) hold text (white space ignored)."""
    return t.wait_for(lambda s: squash(text) in squash(error_line(s, t.height)), timeout=timeout)


# ---------------------------------------------------------------------------------------------
# The client

def client_env(extra=None):
    """A clean environment for the client: no RENKEI_* from the caller's shell, no user config."""
    env = {k: None for k in os.environ if k.startswith("RENKEI_")}
    cfg = Path(tempfile.gettempdir()) / "rk-e2e-noconfig"
    cfg.mkdir(exist_ok=True)
    env["XDG_CONFIG_HOME"] = str(cfg)
    if extra:
        env.update(extra)
    return env


def client_argv(sb, lang=None, user_code=None, extra=()):
    argv = [str(CLIENT_BIN), "--server", sb.url, "--cacert", str(sb.cacert)]
    if lang:
        argv += ["--lang", lang]
    if user_code:
        argv += ["--user-code", user_code]
    return argv + list(extra)


def start_client(term, sb, lang=None, user_code=None, width=80, height=24, env=None,
                 term_type="xterm-256color", extra=()):
    """build/renkei in tmux against sandbox sb. Returns the Term."""
    assert CLIENT_BIN.exists(), "%s does not exist (run make)" % CLIENT_BIN
    return term(client_argv(sb, lang, user_code, extra), width=width, height=height,
                env=client_env(env), term=term_type)


def start_flow(sandbox, curl, term, client_id="kakeibo-demo", code_arg=False, **client_kw):
    """A sandbox on the demo scenario, a partner (client_id) that has asked it for a code, and the
    client started against it (start_client's keywords; code_arg=True passes the partner's code
    as --user-code). Returns (sb, partner, t)."""
    sb = sandbox()
    partner = Partner(curl, sb, client_id)
    if code_arg:
        client_kw["user_code"] = partner.user_code
    return sb, partner, start_client(term, sb, **client_kw)


def sandbox_back(sandbox, sb, state):
    """After sb.stop(): a sandbox again on sb's address with the same state file; returns it."""
    sb2 = sandbox(state=state, args=["--listen", "127.0.0.1:%d" % sb.port])
    assert sb2.url == sb.url, (sb2.url, sb.url)
    return sb2


# ---------------------------------------------------------------------------------------------
# The partner (a fintech app) with curl: RFC 8628 device grant, then the resource API.

class Partner:
    def __init__(self, curl, sb, client_id="kakeibo-demo", scope=None):
        self.curl = curl
        self.sb = sb
        self.client_id = client_id
        form = {"client_id": client_id}
        if scope is not None:
            form["scope"] = scope
        r = curl("POST", sb.url + "/oauth/device_authorization", form=form)
        assert r.status == 200, "device authorization failed: %r" % (r,)
        self.da = r.json
        self.user_code = self.da["user_code"]
        self.device_code = self.da["device_code"]
        self.interval = float(self.da.get("interval", 5))
        self.last_poll = None
        self.token = None

    def poll(self):
        """One token request, waiting out the interval since the previous poll first (as a
        partner must; RFC 8628 §3.5). Returns the Response."""
        if self.last_poll is not None:
            due = self.last_poll + self.interval + 0.05
            while time.monotonic() < due:
                time.sleep(min(0.05, max(0.0, due - time.monotonic())))
        r = self.curl("POST", self.sb.url + "/oauth/token",
                      form={"grant_type": DEVICE_GRANT, "device_code": self.device_code,
                            "client_id": self.client_id})
        self.last_poll = time.monotonic()
        if r.error == "slow_down":
            self.interval += 5
        return r

    def poll_until(self, pred, timeout=20.0):
        """Poll until pred(response) is true; returns that response (or fails)."""
        deadline = time.monotonic() + timeout
        while True:
            r = self.poll()
            if pred(r):
                return r
            assert time.monotonic() < deadline, "partner poll: still %r" % (r,)

    def get_token(self):
        r = self.poll()
        assert r.status == 200 and r.json and r.json.get("access_token"), \
            "the partner got no token: %r" % (r,)
        self.token = r.json["access_token"]
        return r.json

    def get(self, path):
        return self.curl("GET", self.sb.url + path, bearer=self.token)

    def accounts(self):
        r = self.get("/v1/accounts")
        assert r.status == 200, r
        return r.json["accounts"]

    def balances(self, account_id):
        r = self.get("/v1/accounts/%s/balances" % account_id)
        assert r.status == 200, r
        return r.json

    def assert_denied(self):
        """One poll: the customer refused (or the flow ended without consent): 400 access_denied."""
        r = self.poll()
        assert r.status == 400 and r.error == "access_denied", r


# ---------------------------------------------------------------------------------------------
# Scenarios derived from the built-in demo (for short expiry / short interval cases)

def demo_scenario():
    r = subprocess.run([str(SANDBOX_BIN), "--print-scenario"], capture_output=True, timeout=10,
                       stdin=subprocess.DEVNULL)
    assert r.returncode == 0, "renkei-sandbox --print-scenario failed: %s" % r.stderr.decode()
    return json.loads(r.stdout.decode("utf-8"))


def _set_key(obj, key, value):
    """Set every member named key (at any depth) to value; returns how many were set."""
    n = 0
    if isinstance(obj, dict):
        for k in list(obj):
            if k == key and not isinstance(obj[k], (dict, list)):
                obj[k] = value
                n += 1
            else:
                n += _set_key(obj[k], key, value)
    elif isinstance(obj, list):
        for v in obj:
            n += _set_key(v, key, value)
    return n


def derived_scenario(path, **changes):
    """Write the built-in demo scenario with some scalar members changed (wherever they are in
    the file, e.g. expires_in=2, interval=1) to path; returns path."""
    sc = demo_scenario()
    for k, v in changes.items():
        assert _set_key(sc, k, v) > 0, "the demo scenario has no member %r: %s" % (
            k, json.dumps(sc, ensure_ascii=False)[:400])
    Path(path).write_text(json.dumps(sc, ensure_ascii=False, indent=1), encoding="utf-8")
    return Path(path)


# ---------------------------------------------------------------------------------------------
# Driving the flow (screens.md order). Each step waits for its screen first.

def type_code(t, code):
    typ(t, code)
    t.send("Enter")


def wait_partner(t, partner_name, lang="ja", timeout=5.0):
    """The partner confirmation screen (renkei's screen 0 addition; its wording is not fixed by
    screens.md): the partner's name and the buttons ID・パスワード方式 / 電子証明書方式 / 中止."""
    tr = en if lang == "en" else (lambda m: m)
    buttons = [button(tr(b)) for b in ("ID・パスワード方式", "電子証明書方式", "中止")]

    def ok(s):
        return key_bar(s, t.height) and has(s, partner_name) and all(b in s for b in buttons)
    return t.wait_for(ok, timeout=timeout)


def to_partner(t, user_code, partner_name):
    wait_screen(t, "コード", title_is=JA["title"])
    type_code(t, user_code)
    return wait_partner(t, partner_name)


def choose_password(t):
    """On the partner screen: ID・パスワード方式 is the first button (focused)."""
    t.send("Enter")
    return wait_screen(t, "ID・パスワード方式", "ログインID", "ログインパスワード")


def login(t, login_id, password):
    """On the login screen: ID, Enter (next entry), password, Enter (API連携)."""
    typ(t, login_id)
    t.send("Enter")
    typ(t, password)
    t.send("Enter")


def password_login(t, user_code, login_id, password=None, partner=KAKEIBO):
    """Code -> partner screen -> ID・パスワード方式 -> login_id and password (None: the demo's
    right one) sent with API連携."""
    to_partner(t, user_code, partner)
    choose_password(t)
    login(t, login_id, PASSWORDS[login_id] if password is None else password)


def password_typed(t, user_code, login_id="yamada01", partner=KAKEIBO):
    """Code -> partner screen -> ID・パスワード方式 -> login_id and its right password typed (the
    password seen masked), not sent: the focus is in the password entry."""
    to_partner(t, user_code, partner)
    choose_password(t)
    typ(t, login_id)
    t.send("Enter")
    typ(t, PASSWORDS[login_id])
    t.wait_for("●" * len(PASSWORDS[login_id]))


def login_to_stopped_server(sandbox, curl, term, tmp_path):
    """A sandbox with a state file, yamada01's ID and password typed; the sandbox stopped (by PID)
    before the customer submits, then API連携. Returns (sb, state, partner, t)."""
    state = tmp_path / "state.sqlite"
    sb = sandbox(state=state)
    partner = Partner(curl, sb)
    t = start_client(term, sb)
    password_typed(t, partner.user_code)
    assert sb.stop() == 0  # by PID (SIGTERM), before the customer submits
    t.send("Enter")
    return sb, state, partner, t


def yamada_to_question(t, user_code, partner=KAKEIBO):
    """yamada01 logged in with the right password: the question screen (returned)."""
    password_login(t, user_code, "yamada01", partner=partner)
    return wait_screen(t, "証券名を入力してください", title_is=JA["title_question"])


def answer_to_scopes(t, answer=ANSWER):
    """On the question screen: type answer (the rest of it, when part is typed already), Enter:
    the scopes screen (returned)."""
    typ(t, answer)
    t.send("Enter")
    return wait_screen(t, "認可対象", title_is=JA["title_scopes"])


def yamada_to_pins(t, user_code, partner=KAKEIBO):
    yamada_to_question(t, user_code, partner)
    answer_to_scopes(t)
    t.send("Enter")
    return wait_screen(t, "口座一覧", title_is=JA["title_pins"])


def allow(t, keys=("Tab", "Space"), timeout=5.0, read=True):
    """On the permission screen with the focus on the terms: the terms read to their end (read:
    PgDn until the end; the checkbox can be ticked only then), keys tick 許可手続きを継続する (seen
    ticked), Enter (許可), the completion screen, Enter (終了). The caller checks what follows (exit
    status, kiosk)."""
    if read:
        scroll_terms_to_end(t)
    t.send(*keys)
    t.wait_for(lambda x: checkbox_state(x, "許可手続きを継続する") is True, timeout=timeout)
    t.send("Enter")
    wait_screen(t, "API連携の利用登録が完了しました。", timeout=timeout)
    t.send("Enter")


def cancel_yes(t, *texts, yes=("BTab", "Enter")):
    """Esc, the cancel question, はい (yes: the keys from the focused いいえ to はい and Enter): the
    cancelled screen holding texts as well (returned)."""
    t.send("Escape")
    wait_screen(t, "API連携の手続きを中止しますか？")
    t.send(*yes)
    return wait_screen(t, "API連携の利用登録を中止しました。", *texts)


def exit_denied(t, partner, status):
    """Enter on the client's last screen: it exits with status, and the partner is refused."""
    t.send("Enter")
    assert t.wait_exit() == status
    partner.assert_denied()


def fill_pin_rows(t, pins):
    """On the PIN table with the focus on the first row's PIN cell: for each row in order a PIN
    (str) or None (that row not meant: unticked). The rows start ticked, as in the seed; typing a
    PIN keeps its row ticked. Rows after the list are left as they are.
    Focus order per selectable row: 選択 checkbox, 照会用暗証番号 entry."""
    for i, pin in enumerate(pins):
        if i > 0:
            t.send("Tab", "Tab")  # past this row's PIN entry to the next row's ... entry
        if pin is None:
            t.send("BTab", "Space", "Tab")  # untick it (its PIN, if any, is cleared)
            continue
        typ(t, pin)


def focus_row_of(t, label, max_tabs=12):
    """Press Tab until the cursor is on the screen row that holds label (an entry's label);
    returns the screen. Robust to where the client put the focus after an error."""
    for _ in range(max_tabs + 1):
        s = t.screen()
        want = field_row(s, label)
        assert want is not None, "no entry %r on the screen:\n%s" % (label, s)
        if cursor(t)[1] == want:
            return s
        before = cursor(t)
        t.send("Tab")
        t.wait_for(lambda _s: cursor(t) != before, timeout=2)
    raise AssertionError("could not put the focus on %r:\n%s" % (label, t.screen()))


# ---------------------------------------------------------------------------------------------
# The English catalog (po/en.po): tests look English words up by their Japanese msgid, so they
# check that the catalog is used, whatever its exact English wording.

def _po_unquote(s):
    s = s.strip()
    assert s.startswith('"') and s.endswith('"'), s
    return json.loads(s)  # C escapes used in .po files are a subset of JSON's


def load_po(path=None):
    path = Path(path or ROOT / "po" / "en.po")
    cat = {}
    msgid = msgstr = None
    cur = None
    ctx = None

    def flush():
        if msgid is not None and msgstr and ctx is None:
            cat[msgid] = msgstr

    for ln in path.read_text("utf-8").splitlines() + [""]:
        ln = ln.strip()
        if not ln or ln.startswith("#"):
            if cur is not None and not ln:
                flush()
                msgid = msgstr = cur = ctx = None
            continue
        if ln.startswith("msgctxt "):
            ctx, cur = _po_unquote(ln[8:]), "ctx"
        elif ln.startswith("msgid_plural "):
            cur = "plural"
        elif ln.startswith("msgid "):
            msgid, cur = _po_unquote(ln[6:]), "id"
        elif ln.startswith("msgstr[0] "):
            msgstr, cur = _po_unquote(ln[10:]), "str"
        elif ln.startswith("msgstr[") :
            cur = "other"
        elif ln.startswith("msgstr "):
            msgstr, cur = _po_unquote(ln[7:]), "str"
        elif ln.startswith('"'):
            v = _po_unquote(ln)
            if cur == "id":
                msgid += v
            elif cur == "str":
                msgstr += v
            elif cur == "ctx":
                ctx += v
    return cat


_EN = None


def en(msgid):
    """The English translation of msgid (fails when the catalog lacks it)."""
    global _EN
    if _EN is None:
        _EN = load_po()
    assert msgid in _EN, "po/en.po has no translation for %r" % msgid
    return _EN[msgid]


_CJK = re.compile(r"[\u3000-\u30ff\u3400-\u9fff\uff00-\uffef]")


def cjk_in(text):
    """The CJK characters (kana, kanji, full-width forms) in text."""
    return _CJK.findall(text)


def scroll_terms_to_end(t, max_pages=40):
    """On the permission screen with the focus on the terms: PgDn until the text block's 'more
    below' mark (↓, or v with ASCII line drawing) is gone. Returns the screen."""
    def more_below(s):
        # the block's ↓ before the frame's edge, which may carry the screen's own ↓ (scrolled)
        return any(ln.rstrip().endswith(("↓ x", "↓ │", "v |", "↓ |", "↓ ↓", "v v")) for ln in lines(s))
    s = t.screen()
    for _ in range(max_pages):
        if not more_below(s):
            return s
        before = s
        t.send("NPage")
        s = t.wait_for(lambda x: x != before, timeout=3)
    raise AssertionError("the terms never reached their end:\n" + s)


def typ(t, text):
    """Type literal text. (Term.type passes text to `tmux send-keys -l` without `--`, so text
    starting with '-' is taken for options; this one does not have that problem.)"""
    t.tmux("send-keys", "-t", "t", "-l", "--", text)


# ---------------------------------------------------------------------------------------------
# The line mode (--plain): a pexpect-style driver reading the lines renkei writes on a pty.

class PlainClient:
    """build/renkei in line mode on a pseudo-terminal (pexpect), or any argv that ends up running
    it (ssh -tt ... renkei --plain). Everything renkei wrote is kept (output(), raw bytes in
    raw()); expect(text) waits for text after what was read so far; answer(line) types a line."""

    def __init__(self, argv, env=None, timeout=10.0, width=80, height=24):
        import pexpect  # Debian's python3-pexpect (scripts/install-deps.sh)
        scale = float(os.environ.get("RENKEI_TEST_TIMEOUT_SCALE", "3"))
        penv = {k: v for k, v in os.environ.items()
                if not (k.startswith("LC_") or k.startswith("RENKEI_") or k in ("LANGUAGE", "TMUX"))}
        penv["LANG"] = "C.UTF-8"
        penv.setdefault("TERM", "xterm-256color")
        for k, v in (env or {}).items():
            if v is None:
                penv.pop(k, None)
            else:
                penv[k] = v
        self._raw = bytearray()
        self.proc = pexpect.spawn(str(argv[0]), [str(a) for a in argv[1:]], env=penv,
                                  timeout=timeout * scale, dimensions=(height, width))
        self.proc.logfile_read = self  # write() below collects every byte read
        self.pexpect = pexpect

    def write(self, data):  # pexpect's logfile_read
        self._raw.extend(data)

    def flush(self):
        pass

    def raw(self):
        return bytes(self._raw)

    def output(self):
        return self.raw().decode("utf-8", "replace")

    def expect(self, text):
        """Wait until text (a str) has been written; returns everything written so far."""
        try:
            self.proc.expect_exact(text.encode("utf-8"))
        except (self.pexpect.TIMEOUT, self.pexpect.EOF) as e:
            raise AssertionError("line mode: waiting for %r (%s); output so far:\n%s" % (
                text, type(e).__name__, self.output()[-4000:])) from None
        return self.output()

    def answer(self, line):
        self.proc.sendline(line.encode("utf-8"))

    def prompt(self, label, line):
        """Wait for the question `label` (ending with ': ') and answer it."""
        self.expect(label)
        self.expect(": ")
        self.answer(line)

    def wait_exit(self, timeout=10.0):
        """Read to the end; returns the exit status (negative: killed by that signal)."""
        self.proc.expect(self.pexpect.EOF, timeout=timeout * float(
            os.environ.get("RENKEI_TEST_TIMEOUT_SCALE", "3")))
        self.proc.close()
        if self.proc.signalstatus is not None:
            return -self.proc.signalstatus
        return self.proc.exitstatus

    def close(self):
        if self.proc.isalive():
            self.proc.terminate(force=True)


YAMADA_PINS = ("1234", "5678")
ACCT1 = "インターネット支店(001) 普通 2000002"
ACCT2 = "インターネット支店(001) 普通 1111111"


def pin_prompt(acct, lang="ja"):
    """The PIN question of one account (in English: its words before the account)."""
    if lang == "en":
        return en("口座 %s、照会用暗証番号").split("%s")[0]
    return "口座 %s、照会用暗証番号" % acct


def plain_yamada_flow(c, partner, lang="ja", pins=YAMADA_PINS):
    """yamada01's whole flow: code, ID・パスワード方式, login, the question, both scopes, two PINs,
    the result, the permission (the terms, then the checkbox as a yes/no question), 許可."""
    t = (lambda m: en(m)) if lang == "en" else (lambda m: m)
    c.prompt(t("コード"), partner.user_code)
    c.expect(t("ID・パスワード方式"))
    c.prompt(t("番号を選んでください"), "1")
    c.prompt(t("ログインID"), "yamada01")
    c.prompt(t("ログインパスワード"), PASSWORDS["yamada01"])
    if lang == "ja":
        c.expect("質問：証券名を入力してください")
    c.prompt(t("回答"), ANSWER)
    c.expect(t("認可対象"))
    c.prompt(t("選ぶ番号を空白で区切って入力してください"), "")
    c.prompt(pin_prompt(ACCT1, lang), pins[0])
    c.prompt(pin_prompt(ACCT2, lang), pins[1])
    c.expect(t("※口座一覧"))
    c.prompt(t("番号を選んでください"), "")  # 確認
    c.expect(t("※意思確認"))
    c.expect(t("許可手続きを継続する"))
    c.prompt(t("番号を選んでください"), "1")  # はい
    c.prompt(t("番号を選んでください"), "")  # 許可 (the default once ticked)
    c.expect(t("API連携の利用登録が完了しました。"))


def assert_plain_output(c, secrets):
    """No escape byte at all, and none of the typed secrets, in everything renkei wrote."""
    raw = c.raw()
    assert b"\x1b" not in raw, "an escape byte in the line mode's output:\n%r" % raw[-2000:]
    out = raw.decode("utf-8")  # strict: valid UTF-8 throughout
    ctl = [ch for ch in out if (ord(ch) < 0x20 and ch not in "\r\n") or 0x7f <= ord(ch) <= 0x9f]
    assert not ctl, "control characters (C0/C1) in the output: %r" % ctl
    leaked = [s for s in secrets if s in out]
    assert not leaked, "typed secrets in the output: %r\n%s" % (leaked, out)


# ---------------------------------------------------------------------------------------------
# renkei over SSH (the sshd fixture of tests/conftest.py: sshd.ssh_argv(remote_renkei(sb, ...)))

def remote_renkei(sb, extra=()):
    """renkei as the remote shell runs it: the environment of client_env() given on the command
    line (sshd passes nothing but TERM through). Also usable by other tests over the sshd fixture."""
    env = ["%s=%s" % (k, v) for k, v in sorted(client_env().items()) if v is not None]
    # the sanitizer builds' settings (make check's pytest-asan) go through too
    env += ["%s=%s" % (k, os.environ[k]) for k in ("ASAN_OPTIONS", "LSAN_OPTIONS", "UBSAN_OPTIONS")
            if k in os.environ]
    return ["env", "LANG=C.UTF-8"] + env + client_argv(sb, extra=extra)
