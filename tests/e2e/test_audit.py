"""The audit trail (--audit FILE|syslog): one record per finished flow whatever the ending, with the
keys a bank's compliance needs and never a secret; a target that cannot be written stops renkei at
start. Real sandbox, real client in tmux, a test syslog socket (AF_UNIX datagrams) on tmp_path.

Run: /usr/bin/python3 -m pytest -q tests/e2e/test_audit.py
"""

import json
import os
import re
import signal
import socket
import subprocess
import time

from e2e.helpers import (CLIENT_BIN, JA, KAKEIBO, PASSWORDS, ROOT, Partner, allow, client_argv, client_env,
                         password_login, password_typed, start_client, to_partner, wait_screen)

MIERU = "ミエル会計株式会社"
TERMINAL = "branch-042-kiosk-1"
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$")


def _records(path):
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    return [json.loads(ln) for ln in lines]


def _client(term, sb, audit, *extra):
    return start_client(term, sb, extra=("--audit", str(audit), "--terminal-id", TERMINAL) + extra)


def _renkei_pid(t):
    """The client's PID: the pane's process, or its child named renkei."""
    r = subprocess.run(["pgrep", "-P", str(t.pane_pid), "-x", "renkei"], capture_output=True, text=True)
    pids = r.stdout.split()
    return int(pids[0]) if pids else t.pane_pid


def _no_secret(path, *secrets):
    text = path.read_text(encoding="utf-8")
    for s in secrets:
        assert s not in text, "a secret in the audit trail: %r" % s


def test_allowed_flow_record(sandbox, curl, term, tmp_path):
    audit = tmp_path / "audit.jsonl"
    sb = sandbox()
    p = Partner(curl, sb, "mieru-demo")
    t = _client(term, sb, audit)
    password_login(t, p.user_code, "sato02", partner=MIERU)
    wait_screen(t, "※意思確認", title_is=JA["title_permission"])
    allow(t)
    assert t.wait_exit() == 0
    recs = _records(audit)
    assert len(recs) == 1, recs
    r = recs[0]
    assert RFC3339.match(r["time"]), r
    assert r["terminal"] == TERMINAL and r["event"] == "consent", r
    assert r["partner"] == "mieru-demo" and r["partner_name"] == MIERU, r
    assert r["customer"] == "sato02" and r["method"] == "password", r
    assert sorted(r["scopes"]) == ["balance", "transactions"], r
    assert r["accounts"] == ["*****22"], r  # 2222222, masked as the bank shows it
    assert r["result"] == "allowed" and "reason" not in r, r
    assert re.fullmatch(r"[0-9a-f]{32}", r["session"]), r
    _no_secret(audit, PASSWORDS["sato02"], p.user_code, p.user_code.replace("-", ""), p.device_code)
    assert (os.stat(audit).st_mode & 0o777) == 0o600


def test_cancelled_signal_and_locked_records(sandbox, curl, term, tmp_path):
    audit = tmp_path / "audit.jsonl"
    sb = sandbox()
    # cancelled by the customer
    p = Partner(curl, sb)
    t = _client(term, sb, audit)
    to_partner(t, p.user_code, KAKEIBO)
    t.send("Escape")
    wait_screen(t, "API連携の手続きを中止しますか？")
    t.send("BTab", "Enter")
    wait_screen(t, "API連携の利用登録を中止しました。")
    t.send("Enter")
    assert t.wait_exit() == 3
    # ended by a signal mid-flow
    p2 = Partner(curl, sb)
    t = _client(term, sb, audit)
    password_typed(t, p2.user_code)
    os.kill(_renkei_pid(t), signal.SIGTERM)
    assert t.wait_exit() == 3
    # locked (the right password on a locked login)
    p3 = Partner(curl, sb)
    t = _client(term, sb, audit)
    password_login(t, p3.user_code, "tanaka04")
    wait_screen(t, "ログインがロックされています。")
    t.send("Enter")
    assert t.wait_exit() == 4
    recs = _records(audit)
    got = [(r["partner"], r["result"], r.get("reason"), r.get("customer")) for r in recs]
    assert got == [("kakeibo-demo", "cancelled", "customer", None),
                   ("kakeibo-demo", "cancelled", "signal", "yamada01"),
                   ("kakeibo-demo", "locked", "login-locked", "tanaka04")], got
    _no_secret(audit, PASSWORDS["yamada01"], PASSWORDS["tanaka04"], p.user_code, p2.user_code)


def test_idle_record_in_kiosk_mode(sandbox, curl, term, tmp_path):
    audit = tmp_path / "audit.jsonl"
    sb = sandbox()
    p = Partner(curl, sb)
    t = _client(term, sb, audit, "--kiosk", "--idle-timeout", "10", "--idle-warning", "0")
    to_partner(t, p.user_code, KAKEIBO)
    t.wait_for(lambda s: "連携先アプリに表示されているコード" in s, timeout=25)
    recs = _records(audit)
    assert [(r["result"], r["reason"]) for r in recs] == [("cancelled", "idle")], recs


def test_syslog_records(sandbox, curl, term, tmp_path):
    path = str(tmp_path / "log.sock")
    rx = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    rx.bind(path)
    rx.settimeout(15)
    try:
        sb = sandbox()
        p = Partner(curl, sb, "mieru-demo")
        t = start_client(term, sb, extra=("--audit", "syslog", "--audit-socket", path,
                                          "--audit-facility", "local3", "--terminal-id", TERMINAL))
        password_login(t, p.user_code, "sato02", partner=MIERU)
        wait_screen(t, "※意思確認", title_is=JA["title_permission"])
        allow(t)
        assert t.wait_exit() == 0
        msg = rx.recv(65536).decode("utf-8")
    finally:
        rx.close()
    m = re.match(r"^<(\d+)>renkei\[(\d+)\]: (\{.*\})$", msg)
    assert m, msg
    assert int(m.group(1)) == 19 * 8 + 5, msg  # local3.notice
    r = json.loads(m.group(3))
    assert r["result"] == "allowed" and r["terminal"] == TERMINAL and r["customer"] == "sato02", r
    assert PASSWORDS["sato02"] not in msg


def test_unwritable_audit_stops_renkei_at_start(sandbox, tmp_path):
    sb = sandbox()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RENKEI_")}
    env.update({k: v for k, v in client_env().items() if v is not None})
    for target in (tmp_path / "no-such-dir" / "audit.jsonl", tmp_path):
        r = subprocess.run(client_argv(sb, extra=("--audit", str(target))), capture_output=True, text=True,
                           stdin=subprocess.DEVNULL, env=env, timeout=30)
        assert r.returncode == 1, r
        assert "監査記録ファイルに書き込めません" in r.stderr and str(target) in r.stderr, r
    r = subprocess.run(client_argv(sb, extra=("--audit", "syslog", "--audit-socket", str(tmp_path / "none"))),
                       capture_output=True, text=True, stdin=subprocess.DEVNULL, env=env, timeout=30)
    assert r.returncode == 1 and "syslog" in r.stderr, r
    assert CLIENT_BIN.exists()


def test_expired_record(sandbox, curl, term, tmp_path):
    """A session that expired while the customer was away: the error screen, and one record
    `expired` naming session-expired."""
    audit = tmp_path / "audit.jsonl"
    sb = sandbox(scenario=ROOT / "tests/sandbox/scenarios/short-session.json")
    p = Partner(curl, sb)
    t = _client(term, sb, audit)
    password_typed(t, p.user_code)
    time.sleep(3)  # the scenario's sessions expire after 2 s without a request
    t.send("Enter")
    wait_screen(t, "一定時間操作がなかったため、手続きが終了しました。最初からやり直してください。")
    t.send("Tab", "Enter")  # 終了
    assert t.wait_exit() == 1
    recs = _records(audit)
    got = [(r["event"], r["partner"], r["result"], r.get("reason"), r.get("customer")) for r in recs]
    assert got == [("consent", "kakeibo-demo", "expired", "session-expired", "yamada01")], got
    _no_secret(audit, PASSWORDS["yamada01"], p.user_code)
