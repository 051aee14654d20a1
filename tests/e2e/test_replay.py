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
from pathlib import Path

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


# ---------------------------------------------------------------------------------------------
# renkei --replay

DATE = re.compile(r"\d{4}年\d{1,2}月\d{1,2}日|\d{4}-\d{2}-\d{2}")
STATUS = re.compile(r"(?:再生|Replay) (\d+)/(\d+)")


def comparable(v, height=24):
    """A view without its last row (the key bar live, the status line in a replay), dates masked,
    the typed answer shown as the replay shows a secret: one ● (one column) per character, so the
    cursor behind it is compared by its row only."""
    screen, cur = v
    rows = screen.split("\n")[:height - 1]
    if ANSWER in screen or "●" * len(ANSWER) + " " in screen and "証券名" in screen:
        cur = (None, cur[1])
    shown = "●" * len(ANSWER) + " " * len(ANSWER)
    return [DATE.sub("<date>", r.replace(ANSWER, shown)) for r in rows], cur


def start_replay(term, trace, width=80, height=24):
    return term([str(CLIENT_BIN), "--replay", str(trace)], width=width, height=height, env=client_env())


def at_action(t, k, timeout=5.0):
    """The replay's view once its status line says action k (and it settled)."""
    t.wait_for(lambda s: (lambda m: m and int(m.group(1)) == k)(STATUS.search(s.split("\n")[t.height - 1])),
               timeout=timeout)
    return settle(t)


def assert_same(live, replay, k):
    a, b = comparable(live), comparable(replay)
    assert a == b, "action %d: the replay differs from what the customer saw\nlive (cursor %r):\n%s\n" \
        "replay (cursor %r):\n%s" % (k, a[1], "\n".join(a[0]), b[1], "\n".join(b[0]))


def test_replay_shows_the_screens_the_customer_saw(sandbox, curl, term, tmp_path):
    trace, shots = record(sandbox, curl, term, tmp_path, extra=["--trace-unmasked"])
    n = len([r for r in read(trace) if r.get("type") == "action"])
    t = start_replay(term, trace)
    v = at_action(t, 0)
    assert "再生 0/%d" % n in v[0], v[0]
    for k in range(1, n):  # the last action (終了) ends the flow
        t.send("n")
        v = at_action(t, k)
        assert_same(shots[k - 1], v, k)
    # back one (the flow played again up to the action before), forth again
    t.send("p")
    assert_same(shots[n - 3], at_action(t, n - 2), n - 2)
    for k in (n - 3, n - 4):
        t.send("p")
        assert_same(shots[k - 1], at_action(t, k), k)
    t.send("Space")
    assert_same(shots[n - 4], at_action(t, n - 3), n - 3)
    # the status line: action number, step, what the customer did, the time it took
    last = v[0].split("\n")[t.height - 1]
    assert re.search(r"再生 %d/%d｜done｜ボタン allow｜\d+\.\d秒" % (n - 1, n), last) or \
        re.search(r"再生 %d/%d｜permission｜ボタン allow｜\d+\.\d秒" % (n - 1, n), last), last
    t.send("g")
    assert t.wait_exit() == 0


def test_replay_masked_values_and_keys(sandbox, curl, term, tmp_path):
    trace, _ = record(sandbox, curl, term, tmp_path)
    recs = read(trace)
    n = len([r for r in recs if r.get("type") == "action"])
    # g: to the end (the recorded flow ends by itself)
    t = start_replay(term, trace)
    at_action(t, 0)
    t.send("g")
    assert t.wait_exit() == 0
    # step to the PIN table: masked login id, account numbers masked, a typed PIN as ●●●●
    t = start_replay(term, trace, width=100, height=30)
    at_action(t, 0)
    first_pin = next(r["n"] for r in recs if r.get("type") == "action" and r["what"] == "typed"
                     and r.get("field") == "accounts")
    for k in range(1, first_pin + 1):
        t.send("n")
        s, _ = at_action(t, k)
        if k == 2:
            assert "******01" in s and "yamada01" not in s, s
    assert "*****02" in s and "2000002" not in s, s
    assert "●●●●" in s and "入力 ●●●●" in s.split("\n")[t.height - 1], s
    t.send("q")
    assert t.wait_exit() == 0
    assert n > first_pin


BAD = {
    "empty.jsonl": ("", 1, "空のファイルです"),
    "garbage.jsonl": ("this is not json\n", 1, "JSON のオブジェクトではありません"),
    "version.jsonl": ('{"trace":"renkei","version":7,"renkei":"9","lang":"ja","terminal":{},"options":{}}\n', 1,
                      "記録の版 7 には対応していません"),
}


def test_bad_traces_refused_with_file_and_line(tmp_path):
    import subprocess
    good = (Path(__file__).parent.parent / "fuzz" / "corpus" / "trace" / "yamada01.jsonl").read_text("utf-8")
    cut = good[:good.index("\n", len(good) // 2) + 40]  # a line cut in its middle
    cases = dict(BAD)
    cases["truncated.jsonl"] = (cut, cut.count("\n") + 1, "行が途中で切れています")
    for name, (text, line, msg) in cases.items():
        p = tmp_path / name
        p.write_text(text, encoding="utf-8")
        env = {k: v for k, v in client_env().items() if v is not None}
        env["LANG"] = "C.UTF-8"
        r = subprocess.run([str(CLIENT_BIN), "--replay", str(p)], capture_output=True, text=True, env=env,
                           stdin=subprocess.DEVNULL, timeout=10)
        assert r.returncode == 2, (name, r)
        assert "%s:%d: %s" % (p, line, msg) in r.stderr, (name, r.stderr)


# ---------------------------------------------------------------------------------------------
# renkei-sandbox --replay

def drive(t, shots):
    """The recorded flow typed by hand again (FLOW, the terms, FINISH); each view compared with the
    live one."""
    v = settle(t)
    keys = list(FLOW) + ["NPage"] * (len(shots) - len(FLOW) - len(FINISH) + 1) + FINISH
    for i, k in enumerate(keys):
        send(t, k)
        if i < len(shots):
            v = settle(t, v)
            assert_same(shots[i], v, i + 1)


def test_sandbox_replay_answers_the_flow_typed_by_hand(sandbox, curl, term, tmp_path):
    trace, shots = record(sandbox, curl, term, tmp_path, extra=["--trace-unmasked"])
    sb = sandbox(args=["--replay", str(trace)])
    assert "replaying" in sb.log_text(), sb.log_text()
    # any client, any code: the answers are the recorded ones, in order
    t = term(client_argv_for(sb, "BBBB-BBBB"), env=client_env())
    wait_partner(t, KAKEIBO)
    drive(t, shots)
    assert t.wait_exit() == 0
    # every recorded request was answered: one more is refused, naming none
    r = sb.get("/consent/v1/session")
    assert r.status == 409 and r.json["type"] == "urn:renkei:problem:replay-diverged", r
    assert r.json["expected"] is None, r.json


def client_argv_for(sb, code):
    return [str(CLIENT_BIN), "--server", sb.url, "--cacert", str(sb.cacert), "--user-code", code]


def test_sandbox_replay_refuses_a_divergent_request(sandbox, curl, term, tmp_path):
    trace, _ = record(sandbox, curl, term, tmp_path)
    sb = sandbox(args=["--replay", str(trace)])
    r = sb.get("/consent/v1/session")
    assert r.status == 409 and r.content_type.startswith("application/problem+json"), r
    assert r.json["type"] == "urn:renkei:problem:replay-diverged", r.json
    assert r.json["expected"] == {"index": 1, "method": "POST", "path": "/consent/v1/sessions"}, r.json
    assert "POST /consent/v1/sessions" in r.json["detail"], r.json
    # the recording did not move: the client's start still gets the recorded answer; then the
    # customer cancels where the recording logged in: the client says so in clear words
    t = term(client_argv_for(sb, "BBBB-BBBB"), env=client_env())
    wait_partner(t, KAKEIBO)
    t.send("Tab", "Tab", "Enter")  # 中止
    t.wait_for("API連携の手続きを中止しますか")
    t.send("BTab", "Enter")  # はい
    s = t.wait_for(lambda x: "再生中のサーバーです" in x.replace("\n", "").replace(" ", "") or "記録と異なる" in x,
                   timeout=10)
    assert "記録" in s, s


def test_sandbox_replay_compares_recorded_bodies(sandbox, tmp_path):
    """A body that departs from the recorded one (another value, a member more) is refused; a
    redacted value matches anything."""
    p = tmp_path / "scopes.jsonl"
    recs = [{"trace": "renkei", "version": 1, "renkei": "0.1.0", "lang": "ja", "terminal": {"cols": 80, "rows": 24},
             "options": {"unmasked": False}},
            {"type": "request", "time": "t", "method": "POST", "path": "/consent/v1/session/scopes",
             "action": "scopes", "status": 200, "ms": 1,
             "body": {"scopes": ["balance"], "idempotency_key": "[redacted]"}},
            {"type": "response", "time": "t", "status": 200, "ms": 1, "content_type": "application/json",
             "body": {"step": "pins", "marker": 42}}]
    p.write_text("".join(json.dumps(r) + "\n" for r in recs), encoding="utf-8")
    sb = sandbox(args=["--replay", str(p)])
    for body in ({"scopes": ["transactions"], "idempotency_key": "k1"},
                 {"scopes": ["balance"], "idempotency_key": "k1", "more": 1},
                 {"scopes": ["balance"]}):
        r = sb.post("/consent/v1/session/scopes", json=body)
        assert r.status == 409 and r.json["expected"]["path"] == "/consent/v1/session/scopes", (body, r.json)
    r = sb.post("/consent/v1/session/scopes", json={"scopes": ["balance"], "idempotency_key": "another"})
    assert r.status == 200 and r.json == {"step": "pins", "marker": 42}, r


def test_sandbox_replay_refuses_a_bad_trace(sandbox, tmp_path):
    import subprocess
    from e2e.helpers import SANDBOX_BIN
    p = tmp_path / "bad.jsonl"
    p.write_text('{"trace":"renkei","version":1,"renkei":"0.1.0","lang":"ja","terminal":{},"options":{}}\n'
                 '{"type":"request","method":"GET"', encoding="utf-8")
    r = subprocess.run([str(SANDBOX_BIN), "--replay", str(p), "--listen", "127.0.0.1:0"], capture_output=True,
                       text=True, stdin=subprocess.DEVNULL, timeout=10)
    assert r.returncode == 1, r
    assert "%s:2: the line is cut short" % p in r.stderr, r.stderr
