"""Self-tests of the shared fixtures (tests/conftest.py): the tmux terminal driver, the test PKI and
the curl helper. They need no renkei binary, so they say whether a failure is the harness's."""

import http.server
import json
import re
import ssl
import subprocess
import threading

import pytest

PY = "/usr/bin/python3"

ECHO_PROG = r"""
import sys, os
sys.stdout.write("ready %s %s %s\n" % (os.environ.get("LANG"), os.environ.get("TERM"),
                                        os.environ.get("RK_X", "-")))
sys.stdout.flush()
line = sys.stdin.readline().rstrip("\n")
sys.stdout.write("got[%s] 日本語\n" % line)
sys.stdout.flush()
sys.exit(int(line) if line.isdigit() else 0)
"""


def test_term_send_screen_exit(term):
    t = term([PY, "-c", ECHO_PROG], env={"RK_X": "x y"})
    t.wait_for("ready C.UTF-8 xterm-256color x y", timeout=10)
    t.send("4", "2", "Enter")
    s = t.wait_for("got[42] 日本語")
    assert t.wait_exit() == 42
    assert "got[42]" in s


def test_term_size_and_resize(term):
    prog = ("import os,sys,signal\n"
            "def p(*a):\n"
            "    c=os.get_terminal_size(); print('size %dx%d' % (c.columns, c.lines), flush=True)\n"
            "signal.signal(signal.SIGWINCH, p); p(); sys.stdin.readline()\n")
    t = term([PY, "-c", prog], width=100, height=30, term="vt100")
    t.wait_for("size 100x30", timeout=10)
    t.resize(80, 24)
    t.wait_for("size 80x24")
    t.send("Enter")
    assert t.wait_exit() == 0


def test_term_wait_for_times_out_with_screen(term):
    t = term(["sh", "-c", "echo something else; sleep 30"])
    t.wait_for("something else", timeout=10)
    with pytest.raises(AssertionError) as e:
        t.wait_for("never shown", timeout=0.2)
    assert "something else" in str(e.value)


def test_term_named_keys_and_escapes(term):
    prog = ("import sys,tty,termios\n"
            "fd=sys.stdin.fileno(); old=termios.tcgetattr(fd); tty.setraw(fd)\n"
            "try:\n"
            "    sys.stdout.write('\\x1b[7mREV\\x1b[0m go\\r\\n'); sys.stdout.flush()\n"
            "    b=b''\n"
            "    while not b.endswith(b'\\r'):\n"
            "        b += sys.stdin.buffer.read(1)\n"
            "finally:\n"
            "    termios.tcsetattr(fd, termios.TCSADRAIN, old)\n"
            "print(repr(b))\n")
    t = term([PY, "-c", prog])
    t.wait_for("REV go", timeout=10)
    s = t.screen(escapes=True)
    assert re.search(r"\x1b\[7mREV", s), repr(s)
    t.send("Tab", "BTab", "Escape", "Up", "F1", "Space", "BSpace", "C-a", "Tab-literal", "Enter")
    t.wait_for("Tab-literal")
    assert t.wait_exit() == 0
    s = t.screen()
    assert r"\t\x1b[Z\x1b\x1b[A\x1bOP \x7f\x01Tab-literal\r" in s, s


def test_pki_layout(pki):
    for f in ("ca.crt", "ca.key", "server.crt", "server.key", "client-ca.crt", "client-ca.key"):
        assert (pki / f).stat().st_size > 0
    for n in ("suzuki03", "suzuki03-expired", "unknown", "rogue"):
        assert (pki / "clients" / (n + ".crt")).exists() and (pki / "clients" / (n + ".key")).exists()
    assert (pki / "ca.key").stat().st_mode & 0o077 == 0

    def x509(name, *args):
        r = subprocess.run(["openssl", "x509", "-in", str(pki / name), "-noout", "-nameopt",
                            "RFC2253,-esc_msb"] + list(args), capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        return r.stdout

    out = x509("clients/suzuki03.crt", "-subject", "-serial", "-issuer")
    assert "CN=鈴木花子,O=Renkei Demo Bank,C=JP" in out and "serial=1003" in out
    assert "renkei test client CA" in out
    out = x509("clients/suzuki03-expired.crt", "-serial", "-enddate")
    assert "serial=1004" in out and "2021" in out
    assert "serial=1005" in x509("clients/unknown.crt", "-serial")
    assert "DNS:localhost" in x509("server.crt", "-ext", "subjectAltName")

    def verify(ca, crt):
        return subprocess.run(["openssl", "verify", "-CAfile", str(pki / ca), str(pki / crt)],
                              capture_output=True, text=True).returncode
    assert verify("ca.crt", "server.crt") == 0
    assert verify("client-ca.crt", "clients/suzuki03.crt") == 0
    assert verify("client-ca.crt", "clients/unknown.crt") == 0
    assert verify("client-ca.crt", "clients/rogue.crt") != 0
    assert verify("client-ca.crt", "clients/suzuki03-expired.crt") != 0


def test_curl_against_a_local_https_server(pki, curl):
    """A throwaway HTTPS server in a thread: the curl helper verifies with the test CA (localhost and
    127.0.0.1), sends the body on stdin, and parses status, headers and a problem+json body."""
    seen = {}

    class H(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            n = int(self.headers.get("Content-Length", "0"))
            seen["body"] = self.rfile.read(n)
            seen["ctype"] = self.headers.get("Content-Type")
            seen["auth"] = self.headers.get("Authorization")
            out = '{"type": "urn:renkei:problem:rate-limited", "name": "鈴木"}'.encode()
            self.send_response(429)
            self.send_header("Content-Type", "application/problem+json")
            self.send_header("Retry-After", "7")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(pki / "server.crt"), str(pki / "server.key"))
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    try:
        port = srv.server_address[1]
        r = curl("POST", "https://localhost:%d/x" % port, json={"a": "花子"}, bearer="tok")
        assert r.status == 429 and r.headers["retry-after"] == "7"
        assert r.problem == "rate-limited" and r.json["name"] == "鈴木"
        assert seen["ctype"] == "application/json" and seen["auth"] == "Bearer tok"
        assert json.loads(seen["body"]) == {"a": "花子"}
        r = curl("POST", "https://127.0.0.1:%d/x" % port, data=b"raw", content_type=None)
        assert seen["body"] == b"raw" and seen["ctype"] is None
        with pytest.raises(AssertionError):  # not trusted: a server certificate from another CA
            curl("POST", "https://127.0.0.1:%d/x" % port, cacert=pki / "client-ca.crt")
    finally:
        srv.shutdown()
        srv.server_close()
