"""Stopped from outside (man/man1/renkei.1, SIGNALS): SIGTERM (an operator, a kiosk supervisor), SIGHUP
(the SSH link of a support engineer or the terminal gone), SIGINT. renkei leaves as on the end of
input: the consent session is cancelled on the server (the partner gets access_denied), the terminal
is restored, exit status 3."""

import os
import signal
import subprocess

import pytest

from e2e.helpers import EXIT_DENIED, Partner, password_typed, start_client


def _client_pid(t):
    """The renkei process under the tmux pane's shell."""
    r = subprocess.run(["pgrep", "-P", str(t.pane_pid), "-x", "renkei"], capture_output=True, text=True)
    pids = [int(p) for p in r.stdout.split()]
    assert len(pids) == 1, "renkei processes under the pane: %r" % pids
    return pids[0]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT], ids=lambda s: s.name)
def test_signal_mid_flow_cancels_on_the_server(sandbox, curl, term, sig):
    sb = sandbox()
    partner = Partner(curl, sb)
    t = start_client(term, sb)
    password_typed(t, partner.user_code)  # a session exists on the server, a password is typed
    os.kill(_client_pid(t), sig)
    assert t.wait_exit() == EXIT_DENIED
    # the terminal is given back: no screen of renkei's is left on it
    s = t.screen()
    assert "API連携" not in s and "●" not in s, s
    assert "DELETE /consent/v1/session 200" in sb.log_text(), sb.log_text()
    partner.assert_denied()


def test_signal_in_kiosk_mode_ends_the_program(sandbox, curl, term):
    """A kiosk returns to its start screen after each customer, but a SIGTERM (the kiosk being shut
    down) ends it, still cancelling the customer's session."""
    sb = sandbox()
    partner = Partner(curl, sb)
    t = start_client(term, sb, extra=("--kiosk",))
    password_typed(t, partner.user_code)
    os.kill(_client_pid(t), signal.SIGTERM)
    assert t.wait_exit() == EXIT_DENIED
    partner.assert_denied()
