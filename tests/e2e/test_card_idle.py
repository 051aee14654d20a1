"""Certificate login across an idle pause longer than the sandbox's connection timeout: the sandbox
(--connection-timeout 1) closes the client's kept-alive TLS connection while a screen is open.

- The card is pulled during the pause: the next submission finds it gone; the cancel (DELETE,
  allowed without the bound certificate: docs/protocol.md §4.5) must go over a NEW connection
  without the card. The customer sees the clear message, the partner gets access_denied, renkei
  exits 1 (a kiosk returns to the start screen instead).
- The card stays in: the client reconnects with the certificate and the session, bound to it,
  goes on to the end.

The client's connection is watched in /proc/net/tcp{,6}: it is ESTABLISHED after the login and
leaves that state (CLOSE_WAIT) once the sandbox has closed it.
"""

import json
import re
import time

from pathlib import Path

import pytest

from conftest import TIMEOUT_SCALE, wait_until
from e2e.helpers import EXIT_ERROR, JA, Partner, exit_denied, squash, start_client, wait_screen
from e2e.test_certificate import (MODULE, MSG_CARD_REMOVED, _dialog_text, _mktoken, assert_no_stray_output,
                                  choose_suzuki, finish_suzuki, password_to_scopes, pull_card, wait_dialog)

CONN_TIMEOUT = 1  # seconds, the sandbox's --connection-timeout here

_TCP_ESTABLISHED, _TCP_CLOSE_WAIT = "01", "08"


@pytest.fixture
def card(pki, tmp_path):
    """A private SoftHSM2 store with the renkei-demo token (made by mktoken.sh), to be pulled out:
    its softhsm2.conf path."""
    assert Path(MODULE).exists(), "%s missing (softhsm2 is in scripts/install-deps.sh)" % MODULE
    return _mktoken(pki, tmp_path / "tok")


def client_conn_states(port):
    """The TCP states (hex, as in /proc/net/tcp) of the sockets connected TO port (the clients'
    ends; the sandbox's own ends have port as their local port)."""
    states = []
    for f in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(f) as fh:
                rows = fh.read().splitlines()[1:]
        except OSError:
            continue
        for r in rows:
            cols = r.split()
            if len(cols) > 3 and int(cols[2].rsplit(":", 1)[1], 16) == port:
                states.append(cols[3])
    return states


def established(port):
    return client_conn_states(port).count(_TCP_ESTABLISHED)


def idle_until_server_closed(sb):
    """With the client's one kept-alive connection open, wait (doing nothing) until the sandbox has
    closed it after CONN_TIMEOUT s of idleness; 2.5 s of idleness at least in all."""
    t0 = time.monotonic()
    # the client's end: still ESTABLISHED, or already CLOSE_WAIT on a slow machine
    states = client_conn_states(sb.port)
    assert states.count(_TCP_ESTABLISHED) + states.count(_TCP_CLOSE_WAIT) == 1, \
        "the client holds no (or more than one) kept-alive connection: %r" % (states,)
    assert wait_until(lambda: established(sb.port) == 0, (CONN_TIMEOUT + 2) * TIMEOUT_SCALE, step=0.05), \
        "the sandbox did not close the idle connection: %r" % (client_conn_states(sb.port),)
    time.sleep(max(0.0, 2.5 - (time.monotonic() - t0)))


def deletes_logged(sb):
    """The sandbox's log lines of DELETE /consent/v1/session with their status."""
    return re.findall(r" DELETE /consent/v1/session (\S+) ", sb.log_text())


def read_trace(path):
    return [json.loads(ln) for ln in path.read_text("utf-8").splitlines() if ln.strip()]


def start_idle(sandbox, curl, term, pki, card, *extra):
    """The sandbox with --connection-timeout CONN_TIMEOUT, the client with the card (extra: more
    options) logged in with the certificate up to the scopes screen, then idle until the sandbox
    closed the connection. Returns (sb, partner, t)."""
    sb = sandbox(args=["--connection-timeout", CONN_TIMEOUT])
    partner = Partner(curl, sb)
    t = start_client(term, sb, user_code=partner.user_code, env={"SOFTHSM2_CONF": str(card)},
                     extra=["--pkcs11-module", MODULE] + list(extra))
    choose_suzuki(t, pki)
    password_to_scopes(t)
    idle_until_server_closed(sb)
    return sb, partner, t


def test_card_pulled_after_server_closed_idle_connection(sandbox, curl, term, pki, card, tmp_path):
    trace = tmp_path / "trace.jsonl"
    sb, partner, t = start_idle(sandbox, curl, term, pki, card, "--trace", str(trace))
    pull_card(card)
    t.send("Enter")  # 次へ on the scopes screen
    s = wait_dialog(t, MSG_CARD_REMOVED)
    assert_no_stray_output(s)
    assert "通信エラー" not in s, s
    # the cancel reached the sandbox (over a new connection, without the card) before the message
    assert deletes_logged(sb) == ["200"], sb.log_text()[-2000:]
    exit_denied(t, partner, EXIT_ERROR)
    assert "/consent/v1/session/scopes" not in sb.log_text(), "the scopes were sent without the card"
    # the trace: a cancel that could not use the card's connection may fail (status null), the
    # last one succeeded (step denied); no retry question was asked in between
    deletes = [e for e in read_trace(trace) if e.get("method") == "DELETE"]
    assert deletes and (deletes[-1]["status"], deletes[-1]["step"]) == (200, "denied"), deletes
    assert all(e["status"] is None for e in deletes[:-1]), deletes


def test_card_pulled_after_server_closed_idle_connection_kiosk(sandbox, curl, term, pki, card):
    sb, partner, t = start_idle(sandbox, curl, term, pki, card, "--kiosk")
    pull_card(card)
    t.send("Enter")
    s = wait_dialog(t, MSG_CARD_REMOVED)
    assert squash(MSG_CARD_REMOVED) in squash(_dialog_text(s)), s
    t.send("Enter")
    s = wait_screen(t, "コード", title_is=JA["title"])
    assert "鈴木花子" not in s and partner.user_code not in s, s
    assert not t.exited(), "the kiosk exited"
    assert deletes_logged(sb) == ["200"], sb.log_text()[-2000:]
    partner.assert_denied()


def test_idle_pause_with_card_present_reconnects_with_certificate(sandbox, curl, term, pki, card, tmp_path):
    trace = tmp_path / "trace.jsonl"
    sb, partner, t = start_idle(sandbox, curl, term, pki, card, "--trace", str(trace))
    finish_suzuki(t)  # scopes -> PINs -> result -> permission -> allow: exit 0
    log = sb.log_text()
    assert "certificate-mismatch" not in log and " 403 " not in log, log[-3000:]
    assert deletes_logged(sb) == [], log[-3000:]
    # every request answered at the first try (the reconnect is invisible: no failure, no retry)
    reqs = [e for e in read_trace(trace) if "method" in e]
    assert [e["path"] for e in reqs if e["path"].endswith("/scopes")] == ["/consent/v1/session/scopes"], reqs
    assert all(e["status"] is not None and 200 <= e["status"] < 300 for e in reqs), reqs
    tok = partner.get_token()
    assert set(tok["scope"].split()) == {"balance", "transactions"}, tok
    accts = partner.accounts()
    assert [a["number"] for a in accts] == ["3000003"], accts
