"""Over SSH, for real: a support engineer (or a customer at home) runs renkei through a real OpenSSH
server (the sshd fixture of tests/conftest.py: Debian's sshd on a free loopback port, its own host
key, authorized key and config) with `ssh -tt`, in tmux at 80x24 for the full-screen mode and on a
pseudo-terminal for the line mode: a whole flow each; then the ssh client is killed mid-flow, sshd
hangs the session's terminal up, renkei gets SIGHUP, cancels on the server and the partner's poll
gets access_denied."""

import os
import signal
import subprocess

from conftest import wait_until
from e2e.helpers import (ANSWER, EXIT_ALLOWED, JA, KAKEIBO, PASSWORDS, YAMADA_PINS, Partner,
                         PlainClient, allow, assert_plain_output, remote_renkei,
                         fill_pin_rows, password_typed, plain_yamada_flow, table_row, wait_screen,
                         yamada_to_pins)


def ssh_pid(pane_pid):
    """The ssh client under the tmux pane's shell."""
    r = subprocess.run(["pgrep", "-P", str(pane_pid), "-x", "ssh"], capture_output=True, text=True)
    pids = [int(p) for p in r.stdout.split()]
    assert len(pids) == 1, "ssh processes under the pane: %r" % pids
    return pids[0]


def renkei_running(sb):
    """renkei processes talking to sandbox sb (by their command line), on this machine."""
    found = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"/renkei") and sb.url.encode() in argv:
            found.append(int(d))
    return found


def assert_cancelled_after_hangup(sb, partner):
    gone = wait_until(lambda: "DELETE /consent/v1/session 200" in sb.log_text(), 20)
    assert gone, "no cancel on the server after the SSH client was killed:\n" + sb.log_text()
    assert wait_until(lambda: not renkei_running(sb), 20), "renkei still runs: %r" % renkei_running(sb)
    partner.assert_denied()


def test_full_screen_whole_flow_over_ssh(sandbox, curl, term, sshd):
    sb = sandbox()
    partner = Partner(curl, sb)
    t = term(sshd.ssh_argv(remote_renkei(sb)), width=80, height=24)
    yamada_to_pins(t, partner.user_code)
    fill_pin_rows(t, list(YAMADA_PINS))
    t.wait_for(lambda x: (table_row(x, "1111111") or "").count("●") == 4)
    t.send("Enter")
    wait_screen(t, "口座一覧", title_is=JA["title_pin_result"])
    t.send("Enter")
    wait_screen(t, "※意思確認", title_is=JA["title_permission"])
    allow(t)
    assert t.wait_exit() == EXIT_ALLOWED  # ssh's status: renkei's, through sshd
    assert "Accepted publickey for %s" % sshd.user in sshd.log_text()
    tok = partner.get_token()
    assert set(tok["scope"].split()) == {"balance", "transactions"}, tok


def test_full_screen_ssh_client_killed_mid_flow(sandbox, curl, term, sshd):
    sb = sandbox()
    partner = Partner(curl, sb)
    t = term(sshd.ssh_argv(remote_renkei(sb)), width=80, height=24)
    password_typed(t, partner.user_code)  # a session on the server, a password typed
    assert renkei_running(sb), "renkei is not running under sshd"
    os.kill(ssh_pid(t.pane_pid), signal.SIGKILL)
    assert_cancelled_after_hangup(sb, partner)


def test_line_mode_whole_flow_over_ssh(sandbox, curl, sshd):
    sb = sandbox()
    partner = Partner(curl, sb)
    c = PlainClient(sshd.ssh_argv(remote_renkei(sb, extra=("--plain",))))
    plain_yamada_flow(c, partner)
    assert c.wait_exit() == EXIT_ALLOWED
    assert_plain_output(c, [PASSWORDS["yamada01"], ANSWER] + list(YAMADA_PINS))
    assert "連携先：" + KAKEIBO in c.output()
    partner.get_token()


def test_line_mode_ssh_client_killed_mid_flow(sandbox, curl, sshd):
    sb = sandbox()
    partner = Partner(curl, sb)
    c = PlainClient(sshd.ssh_argv(remote_renkei(sb, extra=("--plain",))))
    c.prompt("コード", partner.user_code)
    c.prompt("番号を選んでください", "1")
    c.prompt("ログインID", "yamada01")
    c.expect("ログインパスワード: ")
    assert renkei_running(sb)
    c.proc.kill(signal.SIGKILL)  # the ssh client (pexpect's child)
    c.close()
    assert_cancelled_after_hangup(sb, partner)
    assert not [ln for ln in c.output().splitlines() if PASSWORDS["yamada01"] in ln]
