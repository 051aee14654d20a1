"""renkei behind an HTTPS proxy (renkei.conf(5) ENVIRONMENT): libcurl's https_proxy / no_proxy are
honoured, every request of a whole flow goes through the proxy as a CONNECT tunnel, and TLS still
runs end to end: the proxy relays only ciphertext, and a proxy that answers the tunnel with its own
certificate (a man in the middle) is refused.

The proxy is this file run as a program (`/usr/bin/python3 tests/test_proxy.py PORTFILE LOGFILE
[--mitm CERT KEY]`): a small CONNECT proxy on 127.0.0.1 on a free port, which tunnels only to
127.0.0.1 and writes one JSON line per tunnel to LOGFILE. Each test starts its own and stops it by
its PID.
"""

import json
import os
import select
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TLS_HANDSHAKE = 0x16


# ---------------------------------------------------------------------------------------------
# The proxy (run as a program)

def _read_head(conn):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            return None, b""
        data += chunk
        if len(data) > 16384:
            return None, b""
    head, rest = data.split(b"\r\n\r\n", 1)
    return head.decode("latin-1"), rest


def _relay(a, b, first_up):
    """Copy both ways until either side closes. Returns (bytes up, bytes down, first bytes up)."""
    up = down = 0
    head = first_up
    up += len(first_up)
    if first_up:
        b.sendall(first_up)
    socks = [a, b]
    while True:
        r, _, _ = select.select(socks, [], [], 30)
        if not r:
            break
        for s in r:
            data = s.recv(65536)
            if not data:
                return up, down, head
            if s is a:
                up += len(data)
                if len(head) < 4096:
                    head += data[:4096 - len(head)]
                b.sendall(data)
            else:
                down += len(data)
                a.sendall(data)
    return up, down, head


def _tunnel(conn, log, lock, mitm):
    rec = {}
    try:
        head, rest = _read_head(conn)
        if head is None:
            return
        method, target, _ = (head.split("\r\n", 1)[0].split(" ") + ["", ""])[:3]
        rec = {"event": "closed", "method": method, "target": target}
        with lock:
            log.write(json.dumps({"event": "open", "method": method, "target": target}) + "\n")
            log.flush()
        host, _, port = target.rpartition(":")
        if method != "CONNECT" or host != "127.0.0.1" or not port.isdigit():
            conn.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
            rec["refused"] = True
            return
        if mitm:
            conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ctx.load_cert_chain(mitm[0], mitm[1])
            try:
                tls = ctx.wrap_socket(conn, server_side=True)
                rec["mitm"] = "handshake completed"
                tls.close()
            except (ssl.SSLError, OSError) as e:
                rec["mitm"] = "handshake failed: %s" % e
            return
        up_sock = socket.create_connection((host, int(port)), timeout=10)
        conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        up, down, first = _relay(conn, up_sock, rest)
        up_sock.close()
        rec.update({"up": up, "down": down, "first_byte": first[0] if first else None,
                    "head_hex": first.hex()})
    except OSError as e:
        rec["error"] = str(e)
    finally:
        conn.close()
        if rec:
            with lock:
                log.write(json.dumps(rec) + "\n")
                log.flush()


def serve(portfile, logfile, mitm=None):
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    log = open(logfile, "a")
    lock = threading.Lock()
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    tmp = portfile + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(srv.getsockname()[1]))
    os.rename(tmp, portfile)
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=_tunnel, args=(conn, log, lock, mitm), daemon=True).start()


if __name__ == "__main__":
    a = sys.argv[1:]
    serve(a[0], a[1], (a[3], a[4]) if len(a) == 5 and a[2] == "--mitm" else None)
    sys.exit(0)


# ---------------------------------------------------------------------------------------------
# The tests

import pytest  # noqa: E402

from e2e.helpers import (JA, Partner, allow, has, password_login, start_client, wait_screen)  # noqa: E402

MIERU = "ミエル会計株式会社"
NO_PROXY_ENV = {"http_proxy": None, "HTTP_PROXY": None, "https_proxy": None, "HTTPS_PROXY": None,
                "all_proxy": None, "ALL_PROXY": None, "no_proxy": None, "NO_PROXY": None}


class Proxy:
    def __init__(self, tmp_path, mitm=None):
        self.portfile = tmp_path / "proxy.port"
        self.logfile = tmp_path / "proxy.log"
        argv = [sys.executable if sys.executable else "/usr/bin/python3", str(Path(__file__).resolve()),
                str(self.portfile), str(self.logfile)]
        if mitm:
            argv += ["--mitm", str(mitm[0]), str(mitm[1])]
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not self.portfile.exists():
            assert self.proc.poll() is None, "the proxy exited with %s" % self.proc.returncode
            assert time.monotonic() < deadline, "the proxy did not start"
            time.sleep(0.02)
        self.port = int(self.portfile.read_text())
        self.url = "http://127.0.0.1:%d" % self.port

    def tunnels(self, event="open"):
        """The tunnels opened so far (event "open"), or those finished (event "closed")."""
        if not self.logfile.exists():
            return []
        recs = [json.loads(ln) for ln in self.logfile.read_text().splitlines() if ln.strip()]
        return [r for r in recs if r["event"] == event]

    def finished(self, timeout=10):
        """Once every tunnel opened is closed: their records."""
        deadline = time.monotonic() + timeout
        while len(self.tunnels("closed")) < len(self.tunnels("open")):
            assert time.monotonic() < deadline, "tunnels still open: %r" % self.tunnels()
            time.sleep(0.02)
        return self.tunnels("closed")

    def stop(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=10)


@pytest.fixture
def proxy(tmp_path):
    made = []

    def start(mitm=None):
        p = Proxy(tmp_path, mitm)
        made.append(p)
        return p

    yield start
    for p in made:
        p.stop()


def _env(**kw):
    env = dict(NO_PROXY_ENV)
    env.update(kw)
    return env


def test_whole_flow_through_proxy_tls_end_to_end(sandbox, curl, term, proxy):
    sb = sandbox()
    px = proxy()
    partner = Partner(curl, sb, "mieru-demo")
    t = start_client(term, sb, env=_env(https_proxy=px.url))
    password_login(t, partner.user_code, "sato02", partner=MIERU)
    wait_screen(t, "※意思確認", title_is=JA["title_permission"])
    allow(t)
    assert partner.get_token()["access_token"]
    t.close()  # renkei gone: its connection closes and the proxy writes what it relayed

    tunnels = px.finished()
    assert tunnels, "no request went through the proxy"
    for tn in tunnels:
        # every tunnel went to the sandbox, and what the proxy saw was TLS from the first byte on
        assert tn["method"] == "CONNECT" and tn["target"] == "127.0.0.1:%d" % sb.port, tn
        assert tn["first_byte"] == TLS_HANDSHAKE and tn["up"] > 0 and tn["down"] > 0, tn
        seen = bytes.fromhex(tn["head_hex"])
        for plain in (b"/consent/v1", b"sato02", b"Momiji-2026", partner.user_code.encode()):
            assert plain not in seen, (plain, tn)
    # and the sandbox did get the flow's requests (through the tunnel: renkei had no other way)
    log = sb.log.read_text(errors="replace")
    for path in ("/consent/v1/sessions", "/consent/v1/session/login", "/consent/v1/session/decision"):
        assert path in log, path


def test_no_proxy_bypasses_it(sandbox, curl, term, proxy):
    sb = sandbox()
    px = proxy()
    partner = Partner(curl, sb, "mieru-demo")
    t = start_client(term, sb, user_code=partner.user_code, env=_env(HTTPS_PROXY=px.url, no_proxy="127.0.0.1"))
    wait_screen(t, MIERU)
    assert px.tunnels() == []
    # the upper-case HTTPS_PROXY alone is honoured too
    t2 = start_client(term, sb, user_code=Partner(curl, sb, "mieru-demo").user_code, env=_env(HTTPS_PROXY=px.url))
    wait_screen(t2, MIERU)
    assert [tn["target"] for tn in px.tunnels()] == ["127.0.0.1:%d" % sb.port]


def test_proxy_presenting_its_own_certificate_is_refused(sandbox, curl, term, proxy, tmp_path):
    """A proxy that terminates the tunnel itself (a man in the middle, with a certificate for
    127.0.0.1 from a CA renkei was not given) gets no request: renkei stops at the handshake."""
    key, cert = tmp_path / "mitm.key", tmp_path / "mitm.crt"
    r = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                        "-keyout", str(key), "-out", str(cert)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    sb = sandbox()
    px = proxy(mitm=(cert, key))
    partner = Partner(curl, sb, "mieru-demo")
    t = start_client(term, sb, user_code=partner.user_code, env=_env(https_proxy=px.url))
    s = wait_screen(t, "証明書を確認できませんでした")
    assert not has(s, MIERU), s
    tunnels = px.finished()
    assert tunnels and all(tn["mitm"].startswith("handshake failed") for tn in tunnels), tunnels
    assert "/consent/v1/sessions" not in sb.log.read_text(errors="replace")
