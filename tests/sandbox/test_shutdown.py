"""SIGTERM / SIGINT: the sandbox stops accepting, finishes the request in flight, closes its
database and exits 0 (renkei-sandbox(8)). Repeated, because the listening socket's hand-over to
libmicrohttpd at shutdown once raced (an abort seen only on a busy machine)."""

import signal
import socket
import ssl
import time

import pytest


def _tls(sb):
    ctx = ssl.create_default_context(cafile=str(sb.cacert))
    raw = socket.create_connection(("127.0.0.1", sb.port), timeout=10)
    return ctx.wrap_socket(raw, server_hostname="127.0.0.1")


def _read_response(s):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for ln in head.split(b"\r\n")[1:]:
        k, _, v = ln.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v)
    while len(body) < length:
        chunk = s.recv(4096)
        if not chunk:
            break
        body += chunk
    return int(head.split(b" ")[1]), body


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=lambda s: s.name)
def test_request_in_flight_finishes_new_connections_refused(sandbox, sig):
    sb = sandbox()
    body = b"client_id=kakeibo-demo&scope=balance"
    s = _tls(sb)
    s.sendall(b"POST /oauth/device_authorization HTTP/1.1\r\nHost: 127.0.0.1\r\n"
              b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n" % len(body)
              + body[:10])
    time.sleep(0.3)  # the request line and headers are in: the request is in flight
    sb.proc.send_signal(sig)
    # no new connection while it drains
    deadline = time.monotonic() + 5
    while True:
        try:
            c = socket.create_connection(("127.0.0.1", sb.port), timeout=2)
            c.close()
        except (ConnectionRefusedError, ConnectionResetError):
            break
        assert time.monotonic() < deadline, "new connections still accepted after the signal"
        time.sleep(0.05)
    assert sb.alive(), "the sandbox exited before the request in flight finished"
    s.sendall(body[10:])
    status, answer = _read_response(s)
    s.close()
    assert status == 200 and b'"user_code"' in answer, (status, answer)
    assert sb.proc.wait(10) == 0
    log = sb.log_text()
    assert "POST /oauth/device_authorization 200" in log, log


def test_stops_cleanly_many_times_with_keep_alive_clients(sandbox, curl):
    """Idle keep-alive connections and fresh ones at the moment of the signal: exit 0 every time."""
    for _ in range(15):
        sb = sandbox()
        idle = [_tls(sb) for _ in range(3)]
        for s in idle:
            s.sendall(b"GET /.well-known/oauth-authorization-server HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            assert _read_response(s)[0] == 200
        sb.proc.send_signal(signal.SIGTERM)
        rc = sb.proc.wait(10)
        for s in idle:
            s.close()
        assert rc == 0, "exit %r at SIGTERM:\n%s" % (rc, sb.log_text()[-2000:])
        assert "Fatal" not in sb.log_text() and "rror" not in sb.log_text(), sb.log_text()
