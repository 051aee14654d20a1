"""--trace records the whole flow and --replay plays it back (issue 12, docs/trace.md).

yamada01's flow is typed live with --trace (a language switch, a cancel question answered いいえ, a
first PIN registered alone, 追加登録, a wrong PIN, then the right one), each screen captured after
each action. The trace holds a header, screens, actions, requests and answers and the end, and none
of the typed secrets. renkei --replay shows the same screens action by action (n), back (p), to the
end (g), quit (q); renkei-sandbox --replay answers the same flow typed by hand and refuses a request
that departs from it (replay-diverged). Bad trace files are refused with FILE:LINE.
"""

import json
import re
import time

from e2e.helpers import (ANSWER, CLIENT_BIN, PASSWORDS, client_env, cursor, lines, start_flow, typ,
                         wait_partner, KAKEIBO)

PINS = {"first": "1234", "wrong": "7395", "second": "5678"}


def view(t):
    """What the person sees: the screen and where the cursor is."""
    return t.screen(), cursor(t)


def settle(t, before=None, timeout=5.0):
    """view(t) once it differs from before (when given) and stayed the same for 150 ms."""
    deadline = time.monotonic() + timeout
    v = view(t)
    stable_since = time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.03)
        again = view(t)
        if again != v:
            v, stable_since = again, time.monotonic()
            continue
        if (before is None or v != before) and time.monotonic() - stable_since >= 0.15:
            return v
    return v


def more_below(screen):
    """The terms' text block still has a 'more below' mark (as helpers.scroll_terms_to_end)."""
    return any(ln.rstrip().endswith(("↓ x", "↓ │", "v |", "↓ |", "↓ ↓", "v v")) for ln in lines(screen))


# One action per entry: the keys (a tmux key name, or ("text", literal)).
FLOW = [
    "Enter",                                   # partner: ID・パスワード方式
    ("text", "yamada01"), "Enter",             # login id, next entry
    ("text", PASSWORDS["yamada01"]), "Enter",  # password, API連携
    "F2", "F2",                                # question: English, Japanese again
    ("text", ANSWER), "Enter",                 # answer, 認証
    "Escape", "Enter",                         # scopes: cancel? いいえ (the default)
    "Enter",                                   # 次へ
    ("text", PINS["first"]), "Tab", "Space", "Tab", "Tab", "Enter",  # row 1 only, 登録
    "BTab", "Enter",                           # result: 追加登録
    ("text", PINS["wrong"]), "Enter",          # row 2, a wrong PIN
    ("text", PINS["second"]), "Enter",         # row 2 again, the right one
    "Enter",                                   # result: 確認
]
FINISH = ["Tab", "Space", "Enter", "Enter"]     # permission: (terms read) 許可手続きを継続する, 許可; done: 終了


def send(t, k):
    if isinstance(k, tuple):
        typ(t, k[1])
    else:
        t.send(k)


def record(sandbox, curl, term, tmp_path, extra=()):
    """yamada01's whole flow typed live with --trace: (trace path, [view after each action but the
    last])."""
    trace = tmp_path / "trace.jsonl"
    sb, partner, t = start_flow(sandbox, curl, term, code_arg=True,
                                extra=["--trace", str(trace)] + list(extra))
    wait_partner(t, KAKEIBO)
    v = settle(t)
    shots = []
    for k in FLOW:
        send(t, k)
        v = settle(t, v)
        shots.append(v)
    for _ in range(60):  # permission: PgDn until the terms' end, each an action
        if not more_below(v[0]):
            break
        t.send("NPage")
        v = settle(t, v)
        shots.append(v)
    for i, k in enumerate(FINISH):
        send(t, k)
        if i + 1 < len(FINISH):
            v = settle(t, v)
            shots.append(v)
    assert t.wait_exit() == 0
    partner.get_token()
    return trace, shots


def read(path):
    return [json.loads(ln) for ln in path.read_text("utf-8").splitlines() if ln.strip()]


def test_trace_records_the_whole_flow(sandbox, curl, term, tmp_path):
    trace, shots = record(sandbox, curl, term, tmp_path)
    text = trace.read_text("utf-8")
    recs = read(trace)
    head = recs[0]
    assert head["trace"] == "renkei" and head["version"] == 1, head
    assert head["terminal"]["cols"] == 80 and head["terminal"]["rows"] == 24, head
    assert head["lang"] == "ja" and head["options"]["user_code"] == "[redacted]", head
    assert head["options"]["unmasked"] is False, head
    types = [r.get("type") for r in recs[1:]]
    assert set(types) <= {"screen", "action", "request", "response", "end", "event"}, types
    assert types[-1] == "end" and recs[-1]["result"] == "allowed" and recs[-1]["exit"] == 0, recs[-1]
    forms = [r["form"] for r in recs if r.get("type") == "screen"]
    for f in ("partner", "login_password", "question", "scopes", "pins", "pin_result", "permission", "done"):
        assert f in forms, (f, forms)
    actions = [r for r in recs if r.get("type") == "action"]
    assert [a["n"] for a in actions] == list(range(1, len(actions) + 1)), actions
    assert len(actions) == len(shots) + 1, (len(actions), len(shots), [a["what"] for a in actions])
    typed = [a for a in actions if a["what"] == "typed"]
    assert [a["count"] for a in typed] == [8, len(PASSWORDS["yamada01"]), len(ANSWER), 4, 4, 4], typed
    assert typed[0]["text"] == "******01" and "secret" not in typed[0], typed[0]
    assert all(a.get("secret") is True and "text" not in a for a in typed[1:]), typed
    assert [a["lang"] for a in actions if a["what"] == "lang"] == ["en", "ja"], actions
    answers = [a for a in actions if a["what"] == "answered"]
    assert answers and answers[0]["answer"] == "いいえ" and answers[0]["dialog"] == "手続きの中止", answers
    assert any(a["what"] == "unticked" and a.get("row") == 1 for a in actions), actions
    pressed = [a["button"] for a in actions if a["what"] == "pressed"]
    assert pressed[:3] == ["password", "login", "auth"] and "add" in pressed and "allow" in pressed, pressed
    # every request has its answer right after it
    for i, r in enumerate(recs):
        if r.get("type") == "request":
            assert recs[i + 1]["type"] == "response" and recs[i + 1]["status"] == r["status"], recs[i:i + 2]
    pins = [r for r in recs if r.get("type") == "screen" and r["form"] == "pins"]
    assert any(a.get("result") == "wrong" for p in pins for a in p.get("accounts", [])), pins
    # masked: account numbers and ids, the login id; never a secret
    for secret in [PASSWORDS["yamada01"], ANSWER, "yamada01", "2000002", "1111111", "acc-001",
                   "Bearer"] + list(PINS.values()):
        assert secret not in text, "%r in the trace" % secret
    assert (trace.stat().st_mode & 0o777) == 0o600


def test_trace_unmasked(sandbox, curl, term, tmp_path):
    trace, _ = record(sandbox, curl, term, tmp_path, extra=["--trace-unmasked"])
    text = trace.read_text("utf-8")
    recs = read(trace)
    assert recs[0]["options"]["unmasked"] is True
    assert "yamada01" in text and "2000002" in text, "--trace-unmasked masked something"
    for secret in [PASSWORDS["yamada01"], ANSWER] + list(PINS.values()):
        assert secret not in text, "%r in the trace" % secret


def test_trace_unmasked_refused_in_kiosk(tmp_path):
    import subprocess
    r = subprocess.run([str(CLIENT_BIN), "--server", "https://127.0.0.1:1", "--kiosk", "--trace-unmasked",
                        "--trace", str(tmp_path / "t.jsonl")], capture_output=True, text=True,
                       env={k: v for k, v in client_env().items() if v is not None} | {"LANG": "C.UTF-8"},
                       stdin=subprocess.DEVNULL, timeout=10)
    assert r.returncode == 2, r
    assert "--trace-unmasked" in r.stderr, r.stderr
    assert not (tmp_path / "t.jsonl").exists()
