"""Supervision of a kiosk: the example session script (debian/examples/renkei-kiosk-session, the
kiosk user's login shell) runs renkei --kiosk in a loop, so that whatever ends renkei the console
never shows a shell and the next customer gets a fresh start screen; only the staff exit (status 5)
hands the console to login(1). Real sandbox, real client in tmux, processes stopped by PID.

Run: /usr/bin/python3 -m pytest -q tests/e2e/test_kiosk_session.py
"""

import os
import signal
import subprocess
import time

from e2e.helpers import (CLIENT_BIN, JA, KAKEIBO, ROOT, Partner, choose_password, client_env, has, to_partner,
                         typ, wait_screen)

SESSION = ROOT / "debian" / "examples" / "renkei-kiosk-session"


def _renkei_pid(t, timeout=10):
    """The renkei the session script runs now (a child of the pane's shell)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = subprocess.run(["ps", "-e", "-o", "pid=,ppid=,comm="], capture_output=True, text=True)
        procs = {}
        for ln in r.stdout.splitlines():
            f = ln.split(None, 2)
            if len(f) == 3:
                procs[int(f[0])] = (int(f[1]), f[2].strip())
        for pid, (ppid, comm) in procs.items():
            if comm != "renkei":
                continue
            up = ppid
            while up > 1 and up != t.pane_pid:
                up = procs.get(up, (1, ""))[0]
            if up == t.pane_pid:
                return pid
        time.sleep(0.05)
    raise AssertionError("no renkei under the session script")


def _session(term, sb, tmp_path):
    conf = tmp_path / "kiosk.conf"
    conf.write_text("server = %s\ncacert = %s\n" % (sb.url, sb.cacert), encoding="utf-8")
    env = client_env({"RENKEI": str(CLIENT_BIN), "RENKEI_KIOSK_ARGS": "--config %s" % conf,
                      "XDG_RUNTIME_DIR": str(tmp_path)})
    return term(["sh", str(SESSION)], env=env)


def _start(t, timeout=10):
    return wait_screen(t, "連携先アプリに表示されているコードを入力", title_is=JA["title"], timeout=timeout)


def test_session_restarts_renkei_after_any_ending(sandbox, curl, term, tmp_path):
    sb = sandbox()
    t = _session(term, sb, tmp_path)
    _start(t)
    # a customer mid-flow; renkei is stopped (SIGTERM): the flow is cancelled on the server, and the
    # session starts renkei again on a fresh start screen
    p1 = Partner(curl, sb)
    to_partner(t, p1.user_code, KAKEIBO)
    choose_password(t)
    typ(t, "yamada01")
    pid = _renkei_pid(t)
    os.kill(pid, signal.SIGTERM)
    assert p1.poll_until(lambda r: r.error == "access_denied")
    s = t.wait_for(lambda x: _renkei_pid(t) != pid and has(x, "連携先アプリに表示されているコードを入力"),
                   timeout=15)
    assert "yamada01" not in s and KAKEIBO not in s, s
    # renkei killed outright (no chance to clean up): again a fresh start, never a shell
    pid = _renkei_pid(t)
    os.kill(pid, signal.SIGKILL)
    s = t.wait_for(lambda x: _renkei_pid(t) != pid and has(x, "連携先アプリに表示されているコードを入力"),
                   timeout=15)
    assert "$" not in s.split("\n")[-2:], s
