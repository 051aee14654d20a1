"""Canaries: no secret the customer types survives where it could be read later (issue 10).

A flow is typed with unique canaries (tests/sandbox/scenarios/canary.json: a long password, answer
and two 16-digit PINs; a wrong password; in the certificate flow a SoftHSM2 token whose user PIN is
a canary too, typed once wrong and once right), in kiosk mode with --trace on and stderr sent to a
file. Each canary is then searched, as UTF-8, UTF-16LE and UTF-32LE, in
  - the trace file and stderr,
  - every screen captured after the canary was submitted,
  - the live client's whole memory (every readable mapping of /proc/PID/maps read through
    /proc/PID/mem as root: the pages excluded from core dumps too), taken on the PIN-result
    screen, the done screen and the next customer's start screen.
Every hit is reported with where it was found (the file, the screen, or the mapping and offset).

The audit file (--audit) is searched like the trace and stderr.
"""

import json
import os
import re
import secrets
import unicodedata
import subprocess
from pathlib import Path

import pytest

from e2e.helpers import (CLIENT_BIN, JA, ROOT, Partner, checkbox_state, client_env, fill_pin_rows, has,
                         scroll_terms_to_end,
                         typ, wait_error, wait_screen)

SCENARIO = ROOT / "tests" / "sandbox" / "scenarios" / "canary.json"
MODULE = "/usr/lib/softhsm/libsofthsm2.so"
CLIENT_ID = "canary-app"
PARTNER = "カナリア家計簿株式会社"
MSG_PIN_WRONG = "PINが正しくありません。"


def _canary_data():
    sc = json.loads(SCENARIO.read_text(encoding="utf-8"))
    c = sc["customers"][0]
    return {"login_id": c["login_id"], "password": c["password"], "answer": c["question"]["answer"],
            "pins": [a["pin"] for a in c["accounts"]], "numbers": [a["number"] for a in c["accounts"]]}


CELL = 28  # sizeof(cchar_t) in ncursesw 6 (attr, 5 wchar_t, ext_color): one screen cell


def _cells(s):
    """The pattern of s drawn in ncurses' screen cells: each character's code (UTF-32LE) at the
    start of its cell, a wide character taking two cells."""
    parts, prev_wide = [], None
    for ch in s:
        if prev_wide is not None:
            parts.append(b".{%d}" % (CELL - 4 + (CELL if prev_wide else 0)))
        parts.append(re.escape(ch.encode("utf-32-le")))
        prev_wide = unicodedata.east_asian_width(ch) in ("W", "F")
    return re.compile(b"".join(parts), re.DOTALL)


def _encodings(s):
    """{name: compiled pattern} of every form a copy of s can take in memory or a file."""
    out = {}
    for name, enc in (("UTF-8", "utf-8"), ("UTF-16LE", "utf-16-le"), ("UTF-32LE", "utf-32-le")):
        out[name] = re.compile(re.escape(s.encode(enc)))
    out["screen cells"] = _cells(s)
    return out


# ---------------------------------------------------------------------------------------------
# Where a canary can be

def client_pid(t):
    """The renkei process in t's pane (the pane's shell runs it as its child)."""
    def find():
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % d) as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                exe = os.readlink("/proc/%s/exe" % d)
            except (OSError, ValueError, IndexError):
                continue
            if ppid == t.pane_pid and exe == str(CLIENT_BIN):
                return int(d)
        return None
    pid = find()
    assert pid, "no renkei process under the pane (pid %d)" % t.pane_pid
    return pid


# Mappings this large are address-space reservations, not memory: under ASan its shadow (16 TiB,
# one shadow byte per 8 bytes of memory, never a copy of the data). Everything smaller is read.
RESERVATION = 1 << 36


def _smaps(pid):
    """{start address: resident + swapped kB} of every mapping."""
    out, cur = {}, None
    with open("/proc/%d/smaps" % pid) as f:
        for ln in f:
            head = ln.split(None, 1)[0]
            if "-" in head and not head.endswith(":"):
                cur = int(head.split("-")[0], 16)
                out[cur] = 0
            elif head in ("Rss:", "Swap:") and cur is not None:
                out[cur] += int(ln.split()[1])
    return out


def memory_regions(pid):
    """[(mapping line, start address, bytes)] of every readable mapping of the live process that
    holds memory (those with nothing resident or swapped read as zeros and are left out)."""
    out = []
    used = _smaps(pid)
    with open("/proc/%d/maps" % pid) as f:
        maps = f.read().splitlines()
    try:
        mem = open("/proc/%d/mem" % pid, "rb", buffering=0)
    except PermissionError:
        pytest.fail("reading /proc/%d/mem needs root (CAP_SYS_PTRACE): renkei makes itself "
                    "not dumpable (PR_SET_DUMPABLE 0), so its own user cannot read it" % pid)
    with mem:
        for ln in maps:
            parts = ln.split()
            lo, hi = (int(x, 16) for x in parts[0].split("-"))
            if parts[1][0] != "r" or (len(parts) > 5 and parts[5] == "[vvar]"):
                continue
            if not used.get(lo) or hi - lo >= RESERVATION:
                continue
            chunks = []
            addr = lo
            while addr < hi:
                n = min(hi - addr, 1 << 20)
                try:
                    mem.seek(addr)
                    chunks.append(mem.read(n))
                except OSError:
                    chunks.append(b"\0" * n)  # an unreadable page (guard, device): nothing there
                addr += n
            out.append((ln, lo, b"".join(chunks)))
    assert sum(len(d) for _, _, d in out) > 1 << 20, "less than 1 MiB read from /proc/%d/mem" % pid
    return out


def _find_all(data, pattern):
    for m in pattern.finditer(data):
        yield m.start(), m.end()


class Canaries:
    """The canaries of one test, where each was submitted, and every hit found so far."""

    def __init__(self, t):
        self.t = t
        self.items = {}      # name -> (value, screen index from which it must be gone)
        self.screens = []    # every screen the test waited for, in order
        self.hits = []
        orig = t.wait_for

        def recording_wait_for(*a, **kw):
            s = orig(*a, **kw)
            self.screens.append(s)
            return s
        t.wait_for = recording_wait_for

    def submitted(self, name, value):
        """value was just submitted (Enter): from the next captured screen on it must be gone."""
        self.items[name] = (value, len(self.screens))

    def search(self, where, data, names=None):
        for name, (value, _) in self.items.items():
            if names is not None and name not in names:
                continue
            for enc, needle in _encodings(value).items():
                for off, _ in _find_all(data, needle):
                    self.hits.append((name, "text", "%s (%s) in %s at offset %d" % (name, enc, where, off)))

    def search_screens(self):
        for i, s in enumerate(self.screens):
            for name, (value, since) in self.items.items():
                if i >= since:
                    self.search("screen #%d:\n%s\n" % (i, s), s.encode("utf-8"), {name})

    def _scan(self, values):
        """(name, encoding, address, context, mapping) of every copy of values {name: value} in
        the live client's memory."""
        pats = {name: _encodings(v) for name, v in values.items()}
        for ln, lo, data in memory_regions(client_pid(self.t)):
            for name, encs in pats.items():
                for enc, pat in encs.items():
                    for off, end in _find_all(data, pat):
                        ctx = data[max(0, off - 40):min(end, off + 200) + 24]
                        yield name, enc, lo + off, ctx, ln

    def dump(self, label):
        """A dump of the live client's memory on this screen, searched for every canary so far."""
        self.screens.append(self.t.screen())
        for name, enc, addr, ctx, ln in self._scan({n: v for n, (v, _) in self.items.items()}):
            self.hits.append((name, "memory", "%s (%s) in memory on the %s screen at %#x, mapping %s\n"
                              "    around it: %r" % (name, enc, label, addr, ln, ctx)))

    def assert_found_live(self, value, encodings):
        """The positive control: value, typed and not yet submitted, is found in memory in each of
        encodings (the dump reads the locked, never-dumped secret pages and the screen cells)."""
        found = {enc for _, enc, _, _, _ in self._scan({"live": value})}
        assert set(encodings) <= found, "the memory dump finds %r only as %s (wanted %s)" % (
            value, sorted(found), sorted(encodings))

    def search_files(self, files):
        for p in files:
            p = Path(p)
            data = p.read_bytes() if p.exists() else b""
            self.search(str(p.name), data)

    def assert_none(self, which=lambda name, kind: True):
        """No hit among those which(canary name, "memory" or "text") selects."""
        hits = [msg for name, kind, msg in self.hits if which(name, kind)]
        assert not hits, "%d canary hit(s):\n%s" % (len(hits), "\n".join(hits))


# ---------------------------------------------------------------------------------------------
# Driving the flow

def start_canary_client(term, sb, tmp_path, env=None, extra=()):
    """The client in kiosk mode against sb with --trace and --audit, its stderr going to a file."""
    trace = tmp_path / "trace.jsonl"
    err = tmp_path / "stderr.txt"
    audit = tmp_path / "audit.jsonl"
    argv = ["/bin/sh", "-c", 'exec "$0" "$@" 2>"%s"' % err, str(CLIENT_BIN), "--server", sb.url,
            "--cacert", str(sb.cacert), "--kiosk", "--trace", str(trace), "--audit", str(audit)] + list(extra)
    t = term(argv, env=client_env(env))
    return t, [trace, err, audit]


def enter_code(t, partner):
    wait_screen(t, "コード", title_is=JA["title"])
    typ(t, partner.user_code)
    t.send("Enter")
    return t.wait_for(lambda s: has(s, PARTNER) and "[ 中止 ]" in s)


def question_to_pins(t, cn, data, control=False):
    """On the question screen: the answer canary; then the scopes (if shown) and the PINs.
    control: check first that the typed answer is found (its buffer, the screen cells showing it)."""
    wait_screen(t, "合言葉を入力してください", title_is=JA["title_question"])
    typ(t, data["answer"])
    if control:
        t.wait_for(lambda x: has(x, data["answer"]))
        cn.assert_found_live(data["answer"], ["UTF-8", "screen cells"])
    t.send("Enter")
    cn.submitted("answer", data["answer"])
    s = t.wait_for(lambda x: x.split("\n")[0].strip() in (JA["title_scopes"], JA["title_pins"]))
    if s.split("\n")[0].strip() == JA["title_scopes"]:
        t.send("Enter")
    wait_screen(t, "口座一覧", title_is=JA["title_pins"])
    fill_pin_rows(t, data["pins"])
    t.wait_for(lambda x: x.count("●" * 8) == 2)  # the PIN cell shows at most 8
    t.send("Enter")
    for i, p in enumerate(data["pins"]):
        cn.submitted("PIN %d" % (i + 1), p)


def pins_to_next_customer(t, cn):
    """PIN result (dump) -> permission -> allow -> done (dump) -> the next customer's start (dump)."""
    wait_screen(t, "口座一覧", title_is=JA["title_pin_result"])
    cn.dump("PIN-result")
    t.send("Enter")
    wait_screen(t, "※意思確認", title_is=JA["title_permission"])
    scroll_terms_to_end(t)  # the checkbox takes a tick once the terms were read to their end
    t.send("Tab", "Space")
    t.wait_for(lambda x: checkbox_state(x, "許可手続きを継続する") is True)
    t.send("Enter")
    wait_screen(t, "API連携の利用登録が完了しました。")
    cn.dump("done")
    t.send("Enter")
    wait_screen(t, "コード", title_is=JA["title"])
    cn.dump("next customer's start")


def finish_checks(cn, files, partner, which=lambda name, kind: True):
    assert partner.get_token()  # the flow really went through
    cn.search_files(files)
    cn.search_screens()
    cn.assert_none(which)


# ---------------------------------------------------------------------------------------------
# Tests

def test_password_flow_leaves_no_canary(sandbox, curl, term, tmp_path):
    data = _canary_data()
    wrong = "CnryWrong-" + secrets.token_hex(8)
    sb = sandbox(scenario=SCENARIO)
    partner = Partner(curl, sb, CLIENT_ID)
    t, files = start_canary_client(term, sb, tmp_path)
    cn = Canaries(t)
    enter_code(t, partner)
    t.send("Enter")  # ID・パスワード方式
    wait_screen(t, "ログインID", "ログインパスワード")
    typ(t, data["login_id"])
    t.send("Enter")
    typ(t, wrong)
    t.send("Enter")
    cn.submitted("wrong password", wrong)
    wait_error(t, "ログインIDまたはログインパスワードが正しくありません")
    typ(t, data["password"])
    t.wait_for(lambda x: "●" * 8 in x)
    cn.assert_found_live(data["password"], ["UTF-8"])  # in its secret buffer, masked on screen
    t.send("Enter")
    cn.submitted("password", data["password"])
    question_to_pins(t, cn, data, control=True)
    pins_to_next_customer(t, cn)
    finish_checks(cn, files, partner)


def _canary_token(pki, tmp_path, pin):
    """A private SoftHSM2 renkei-demo token (scripts/mktoken.sh) whose user PIN is changed to pin."""
    r = subprocess.run(["sh", str(ROOT / "scripts" / "mktoken.sh"), str(pki), str(tmp_path / "tok")],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, "mktoken.sh failed:\n" + r.stdout + r.stderr
    conf = r.stdout.strip().splitlines()[-1].split("=", 1)[1]
    env = dict(os.environ, SOFTHSM2_CONF=conf)
    r = subprocess.run(["pkcs11-tool", "--module", MODULE, "--token-label", "renkei-demo", "--login",
                        "--pin", "123456", "--change-pin", "--new-pin", pin], env=env,
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, "pkcs11-tool --change-pin failed:\n" + r.stdout + r.stderr
    return conf


def _token_pin(t, pin):
    wait_screen(t, "ICカードのPIN入力")
    typ(t, pin)
    t.wait_for(lambda x: "●" * len(pin) in x)
    t.send("Enter")


def test_certificate_flow_leaves_no_canary(sandbox, curl, term, pki, tmp_path):
    assert Path(MODULE).exists(), "%s missing (softhsm2 is in scripts/install-deps.sh)" % MODULE
    data = _canary_data()
    token_pin = "".join(secrets.choice("0123456789") for _ in range(14))
    wrong_token_pin = "".join(secrets.choice("0123456789") for _ in range(14))
    conf = _canary_token(pki, tmp_path, token_pin)
    sb = sandbox(scenario=SCENARIO)
    partner = Partner(curl, sb, CLIENT_ID)
    t, files = start_canary_client(term, sb, tmp_path, env={"SOFTHSM2_CONF": conf},
                                   extra=["--pkcs11-module", MODULE])
    cn = Canaries(t)
    enter_code(t, partner)
    t.send("Tab", "Enter")  # 電子証明書方式
    wait_screen(t, "電子証明書ログイン", "（未選択）", title_is=JA["title"])
    t.send("Enter")  # the chooser; the valid certificate is highlighted first
    t.wait_for(lambda s: "電子証明書の選択" in s and "[ OK ]" in s)
    t.send("Enter")
    _token_pin(t, wrong_token_pin)
    cn.submitted("wrong token PIN", wrong_token_pin)
    t.wait_for(lambda x: has(x, MSG_PIN_WRONG) and "ICカードのPIN入力" in x)
    _token_pin(t, token_pin)
    cn.submitted("token PIN", token_pin)
    wait_screen(t, "鈴木花子（有効期限：", "ログインパスワード", title_is=JA["title"])
    typ(t, data["password"])
    t.send("Enter")
    cn.submitted("password", data["password"])
    question_to_pins(t, cn, data)
    pins_to_next_customer(t, cn)
    finish_checks(cn, files, partner)
