#!/usr/bin/python3
"""make bench: speed and memory figures for renkei and renkei-sandbox (prints them; no thresholds).

Run from the source tree after `make` (the Makefile rule builds `all`, build/bench/width and
build/bench/certlogin first):
    /usr/bin/python3 scripts/bench.py            RENKEI_BUILD=DIR picks another build tree (default build/)

Figures (everything on 127.0.0.1 over HTTPS with the test PKI; every sandbox started here gets a free
port and is stopped by PID; every loop is bounded; the whole run takes well under 2 minutes):
  1. sandbox, metadata: GET /.well-known/oauth-authorization-server, 1000 requests on ONE keep-alive
     TLS connection (requests/s, p50/p95 latency, TLS handshakes counted on our side), then 200
     requests with a new TLS connection each (the handshake's cost).
  2. sandbox, consent: the whole yamada01 flow (device authorization, session, login, answer, scopes,
     PINs, PIN result, decision, token: 9 requests) on ONE keep-alive TLS connection, 20 rounds, each
     on a fresh in-memory sandbox so that every round registers the PINs (flow time, requests/s,
     per-request p50/p95, the slowest endpoints, handshakes per flow, the sandbox's start-up).
  3. client in tmux at 80x24: start-up to the first screen (median of 5); then the whole yamada01 /
     kakeibo-demo flow through the real screens (tests/e2e/helpers.py drives them): time to the
     done screen, peak RSS (VmHWM read while the done screen is shown), the TCP connections the
     client opened (the client talks to the sandbox through a counting TCP relay; TLS passes through
     untouched, so this is also its number of TLS handshakes; cross-checked by polling
     /proc/net/tcp for distinct client ports), and those still open at the done screen.
  4. certificate login (PKCS#11) on a SoftHSM2 token made by scripts/mktoken.sh (renkei-demo, PIN
     123456), with the client's own code: build/bench/certlogin (tests/bench/certlogin.c, linking
     librenkei.a: p11.c, api.c), CERT_ROUNDS rounds, p50/p90: p11_open (load the module, list the
     certificates), C_Login alone (the module's function list), p11_login (C_Login + the key
     through the pkcs11 engine), one RSA-PSS signature on the token, and against the sandbox a new
     connection's TLS handshake + one GET with the card's key installed (the client's
     CertificateVerify is signed on the token) and without a client certificate, each beside a GET
     on the kept connection; p11_close. Once at the end a suzuki03 certificate login on the card's
     connection proves the sandbox identified the certificate.
  5. client in tmux: the whole suzuki03 certificate flow (kakeibo-demo) through the real screens
     (the certificate tests' drivers, tests/e2e/test_certificate.py): time to the chooser (module
     loaded, certificates listed), token PIN to the certificate chosen (login), password to the
     scopes screen (the card's TLS handshake + login), start to exit; TCP connections (TLS
     handshakes) the client opened, counted by the relay.
  6. callgrind: instructions of ui_width() (include/ui_text.h) over a fixed Japanese text
     (build/bench/width, tests/bench/width.c), and of `renkei --version`.
Stdlib + the tests' own helpers (tests/conftest.py, tests/e2e/helpers.py; Debian's python3-pytest).
Exit status 1 when a part could not be measured (its row says why); the figures are never judged.
"""

import http.client
import json
import os
import platform
import re
import shlex
import shutil
import signal
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUILD = Path(os.environ.get("RENKEI_BUILD", "build"))
if not BUILD.is_absolute():
    BUILD = ROOT / BUILD
os.environ["RENKEI_BUILD"] = str(BUILD)  # the tests' helpers read it at import
SANDBOX_BIN = BUILD / "renkei-sandbox"
CLIENT_BIN = BUILD / "renkei"
WIDTH_BIN = BUILD / "bench" / "width"
CERTLOGIN_BIN = BUILD / "bench" / "certlogin"
PKI = ROOT / "build" / "test-pki"
CACERT = PKI / "ca.crt"

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
YAMADA = ("yamada01", "Sakura-2026")
YAMADA_ANSWER = "ひまわり証券"
YAMADA_PINS = {"2000002": "1234", "1111111": "5678"}

META = "/.well-known/oauth-authorization-server"
META_KEEPALIVE_N = 1000
META_NEWCONN_N = 200
FLOW_ROUNDS = 20
STARTUP_RUNS = 5
WIDTH_ROUNDS = 200
CERT_ROUNDS = 30

SOFTHSM_MODULES = ("/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so")
TOKEN_LABEL = "renkei-demo"   # scripts/mktoken.sh's default token: suzuki03 (CKA_ID 01) + suzuki03-expired
TOKEN_PIN = "123456"          # mktoken.sh's user PIN (demo data)
SUZUKI = ("suzuki03", "Kaede-2026")

ROWS = []          # (part, measure, figure)
FAILED = []        # parts that could not be measured
_cleanup = []      # callables run at exit, last first


def row(part, what, figure):
    ROWS.append((part, what, figure))


def pct(values, p):
    """p-th percentile (nearest rank) of a list of numbers."""
    s = sorted(values)
    if not s:
        return float("nan")
    k = max(0, min(len(s) - 1, -(-p * len(s) // 100) - 1))
    return s[int(k)]


def ms(s):
    return s * 1000.0


def poll(pred, timeout, step=0.005):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            return None
        time.sleep(step)


# ---------------------------------------------------------------------------------------------
# The sandbox

class Sandbox:
    def __init__(self, workdir, args=()):
        self.dir = Path(tempfile.mkdtemp(prefix="sb-", dir=workdir))
        self.out = self.dir / "stdout"
        self.err = self.dir / "stderr"
        self.cacert = CACERT
        t0 = time.perf_counter()
        with open(self.out, "wb") as o, open(self.err, "wb") as e:
            self.proc = subprocess.Popen([str(SANDBOX_BIN), "--listen", "127.0.0.1:0", "--tls-dir", str(PKI)] + list(args),
                                         stdin=subprocess.DEVNULL, stdout=o, stderr=e, cwd=str(ROOT))
        self.pid = self.proc.pid
        _cleanup.append(self.stop)

        def ready():
            data = self.out.read_bytes()
            if b"\n" in data:
                return data.split(b"\n", 1)[0].decode().strip()
            if self.proc.poll() is not None:
                raise RuntimeError("sandbox exited (%d) before printing its URL:\n%s"
                                   % (self.proc.returncode, self.err.read_text("utf-8", "replace")))
            return None
        self.url = poll(ready, 10, 0.002)
        self.startup = time.perf_counter() - t0
        if not self.url or not re.fullmatch(r"https://127\.0\.0\.1:\d+", self.url):
            self.stop()
            raise RuntimeError("sandbox gave no URL: %r" % self.url)
        self.port = int(self.url.rsplit(":", 1)[1])

    def stop(self):
        if self.proc.poll() is None:
            try:
                os.kill(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.proc.wait(10)
        if self.stop in _cleanup:
            _cleanup.remove(self.stop)


_CTX = None
HANDSHAKES = [0]   # TLS handshakes made by this script (every connect of a Conn)
TLS_VERSION = [None]


def ssl_ctx():
    global _CTX
    if _CTX is None:
        _CTX = ssl.create_default_context(cafile=str(CACERT))
    return _CTX


class Conn(http.client.HTTPSConnection):
    """http.client's HTTPS connection counting its TLS handshakes (http.client reconnects silently
    when the server closed a keep-alive connection: the count shows it)."""

    def connect(self):
        super().connect()
        HANDSHAKES[0] += 1
        TLS_VERSION[0] = self.sock.version()

    def local_port(self):
        return self.sock.getsockname()[1] if self.sock else None


def connect(sb):
    return Conn("127.0.0.1", sb.port, timeout=30, context=ssl_ctx())


def request(conn, method, path, body=None, form=None, bearer=None):
    """One request on conn; returns (status, parsed JSON or None, seconds)."""
    headers = {}
    data = None
    if form is not None:
        data = urllib.parse.urlencode(form).encode("ascii")
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    elif body is not None:
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        headers["Content-Type"] = "application/json"
    if bearer:
        headers["Authorization"] = "Bearer " + bearer
    t0 = time.perf_counter()
    conn.request(method, path, body=data, headers=headers)
    r = conn.getresponse()
    raw = r.read()
    dt = time.perf_counter() - t0
    try:
        js = json.loads(raw) if raw else None
    except ValueError:
        js = None
    return r.status, js, dt


def lat_figure(n, total, lat):
    return "%6.0f req/s   p50 %5.2f ms   p95 %5.2f ms" % (n / total, ms(pct(lat, 50)), ms(pct(lat, 95)))


# ---------------------------------------------------------------------------------------------
# 1. Metadata requests

def bench_metadata(workdir):
    sb = Sandbox(workdir)
    try:
        h0 = HANDSHAKES[0]
        conn = connect(sb)
        conn.connect()
        lat = []
        t0 = time.perf_counter()
        for _ in range(META_KEEPALIVE_N):
            st, _, dt = request(conn, "GET", META)
            if st != 200:
                raise RuntimeError("metadata answered %d" % st)
            lat.append(dt)
        total = time.perf_counter() - t0
        conn.close()
        row("sandbox", "metadata GET, one keep-alive connection (%d req)" % META_KEEPALIVE_N,
            lat_figure(META_KEEPALIVE_N, total, lat))
        row("sandbox", "  TLS handshakes for those %d requests" % META_KEEPALIVE_N,
            "%d  (%s)" % (HANDSHAKES[0] - h0, TLS_VERSION[0]))

        lat = []
        h0 = HANDSHAKES[0]
        t0 = time.perf_counter()
        for _ in range(META_NEWCONN_N):
            c0 = time.perf_counter()
            conn = connect(sb)
            st, _, _ = request(conn, "GET", META)
            conn.close()
            if st != 200:
                raise RuntimeError("metadata answered %d" % st)
            lat.append(time.perf_counter() - c0)
        total = time.perf_counter() - t0
        row("sandbox", "metadata GET, new TLS connection each (%d req)" % META_NEWCONN_N,
            lat_figure(META_NEWCONN_N, total, lat))
        row("sandbox", "  TLS handshakes for those %d requests" % META_NEWCONN_N, "%d" % (HANDSHAKES[0] - h0))
    finally:
        sb.stop()


# ---------------------------------------------------------------------------------------------
# 2. The yamada01 consent flow on one connection

def consent_round(sb):
    """One whole flow on one connection. Returns (seconds from the first request to the token,
    [(endpoint, seconds)], TLS handshakes, seconds of the connect + handshake before it)."""
    h0 = HANDSHAKES[0]
    conn = connect(sb)
    c0 = time.perf_counter()
    conn.connect()  # TCP + TLS handshake, timed apart from the requests
    hs_time = time.perf_counter() - c0
    lat = []

    def call(name, method, path, **kw):
        st, js, dt = request(conn, method, path, **kw)
        lat.append((name, dt))
        return st, js

    try:
        t0 = time.perf_counter()
        st, da = call("device_authorization", "POST", "/oauth/device_authorization",
                      form={"client_id": "kakeibo-demo", "scope": "balance transactions"})
        assert st == 200, (st, da)
        st, env = call("sessions", "POST", "/consent/v1/sessions", body={"user_code": da["user_code"]})
        assert st == 201, (st, env)
        session = env["session"]
        for _ in range(10):
            step = env["step"]
            data = env.get("data") or {}
            if step == "login":
                body = {"method": "password", "login_id": YAMADA[0], "password": YAMADA[1]}
                path = "/login"
            elif step == "question":
                body, path = {"answer": YAMADA_ANSWER}, "/answer"
            elif step == "scopes":
                body, path = {"scopes": [s["id"] for s in data.get("scopes", [])] or
                              ["balance", "transactions"]}, "/scopes"
            elif step == "pins":
                body = {"pins": [{"account": a["id"], "pin": YAMADA_PINS[a["number"]]}
                                 for a in data.get("accounts", [])
                                 if a.get("pin") == "unregistered" and a["number"] in YAMADA_PINS]}
                path = "/pins"
            elif step == "pin_result":
                body, path = {"action": "confirm"}, "/pin-result"
            elif step == "permission":
                body, path = {"decision": "allow", "intent_confirmed": True}, "/decision"
            elif step == "done":
                break
            else:
                raise AssertionError("unexpected step %s: %s" % (step, env))
            st, env = call(path[1:], "POST", "/consent/v1/session" + path, body=body, bearer=session)
            assert st == 200, (path, st, env)
        assert env["step"] == "done", env
        st, tok = call("token", "POST", "/oauth/token", form={"grant_type": DEVICE_GRANT,
                                                              "device_code": da["device_code"],
                                                              "client_id": "kakeibo-demo"})
        assert st == 200 and tok.get("access_token"), (st, tok)
        total = time.perf_counter() - t0
    finally:
        conn.close()
    return total, lat, HANDSHAKES[0] - h0, hs_time


def bench_consent(workdir):
    totals, lat_all, hs, starts, hs_times = [], [], [], [], []
    nreq = set()
    t_start = time.monotonic()
    for _ in range(FLOW_ROUNDS):
        if time.monotonic() - t_start > 40:
            break
        sb = Sandbox(workdir)
        starts.append(sb.startup)
        try:
            total, lat, h, hst = consent_round(sb)
        finally:
            sb.stop()
        totals.append(total)
        lat_all += lat
        hs.append(h)
        hs_times.append(hst)
        nreq.add(len(lat))
    n = len(totals)
    per_req = [dt for _, dt in lat_all]
    row("sandbox", "yamada01 consent flow, one connection (%s req, %d rounds)"
        % ("/".join(str(x) for x in sorted(nreq)), n),
        "flow p50 %.1f ms   p95 %.1f ms   (%.0f flows/s)" % (ms(pct(totals, 50)), ms(pct(totals, 95)),
                                                            1.0 / statistics.median(totals)))
    row("sandbox", "  its requests (%d)" % len(per_req), lat_figure(len(per_req), sum(totals), per_req))
    by = {}
    for name, dt in lat_all:
        by.setdefault(name, []).append(dt)
    slow = sorted(by.items(), key=lambda kv: -statistics.median(kv[1]))[:3]
    row("sandbox", "  slowest endpoints (p50)",
        ",  ".join("%s %.2f ms" % (k, ms(statistics.median(v))) for k, v in slow))
    row("sandbox", "  TLS handshakes per flow", "%s  (connect + handshake p50 %.2f ms, not in the flow time)"
        % ("/".join(str(x) for x in sorted(set(hs))), ms(pct(hs_times, 50))))
    row("sandbox", "sandbox start-up to its URL (%d starts)" % len(starts),
        "p50 %.1f ms   max %.1f ms" % (ms(pct(starts, 50)), ms(max(starts))))


# ---------------------------------------------------------------------------------------------
# 3. The client in tmux

class Tmux:
    """One tmux server at 80x24; each start-up run gets a window of its own."""

    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="rk-bench-tm-", dir="/tmp"))  # short: socket name limit
        self.sock = str(self.dir / "sock")
        conf = self.dir / "tmux.conf"
        conf.write_text("set -g status off\nset -g remain-on-exit on\nset -sg escape-time 0\n")
        env = {k: v for k, v in os.environ.items() if k not in ("TMUX", "TMUX_PANE", "LC_ALL")}
        env["LANG"] = "C.UTF-8"
        env["TERM"] = "xterm-256color"
        self.env = env
        self.server_pid = None
        self.run("-u", "-f", str(conf), "new-session", "-d", "-s", "b", "-x", "80", "-y", "24", "cat")
        _cleanup.append(self.close)
        self.server_pid = int(self.run("display-message", "-p", "#{pid}").strip())

    def run(self, *args, check=True):
        r = subprocess.run(["tmux", "-S", self.sock] + list(args), stdin=subprocess.DEVNULL,
                           capture_output=True, env=self.env, timeout=20)
        if check and r.returncode != 0:
            raise RuntimeError("tmux %s failed: %s" % (" ".join(args), r.stderr.decode(errors="replace")))
        return r.stdout.decode("utf-8", "replace")

    def close(self):
        if self.server_pid:
            self.run("kill-server", check=False)
            if not poll(lambda: not Path("/proc/%d" % self.server_pid).exists(), 5):
                try:
                    os.kill(self.server_pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            self.server_pid = None
        shutil.rmtree(self.dir, ignore_errors=True)
        if self.close in _cleanup:
            _cleanup.remove(self.close)


def client_script(workdir, argv):
    """A shell script that execs the client in a clean environment (the pane's PID is the client's)."""
    cfg = Path(workdir) / "noconfig"
    cfg.mkdir(exist_ok=True)
    env = {"LANG": "C.UTF-8", "TERM": "xterm-256color", "HOME": os.environ.get("HOME", "/tmp"),
           "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "XDG_CONFIG_HOME": str(cfg)}
    fd, name = tempfile.mkstemp(prefix="run-", suffix=".sh", dir=workdir)
    os.close(fd)
    script = Path(name)
    script.write_text("cd %s || exit 127\nexec env -i %s %s\n" % (
        shlex.quote(str(ROOT)), " ".join("%s=%s" % (k, shlex.quote(v)) for k, v in sorted(env.items())),
        " ".join(shlex.quote(str(a)) for a in argv)))
    return script


def bench_startup(workdir):
    sb = Sandbox(workdir)
    tm = Tmux()
    try:
        size = tm.run("display-message", "-p", "-t", "b", "#{window_width}x#{window_height}").strip()
        client = client_script(workdir, [CLIENT_BIN, "--server", sb.url, "--cacert", CACERT])
        # the same measure for a shell that only prints such a screen: tmux's and the polling's share
        base = Path(workdir) / "baseline.sh"
        base.write_text("printf 'コード'; i=0; while [ $i -lt 23 ]; do echo; i=$((i+1)); done; "
                        "printf 'F1 ヘルプ'; exec cat\n")
        client_t = startup_times(tm, client)
        base_t = startup_times(tm, base)
        row("client", "start-up to the first screen (%s, %d runs)" % (size, len(client_t)),
            "p50 %.1f ms   min %.1f   max %.1f" % (ms(statistics.median(client_t)), ms(min(client_t)),
                                                   ms(max(client_t))))
        row("client", "  the same for a shell printing a screen (tmux, polling)",
            "p50 %.1f ms" % ms(statistics.median(base_t)))
    finally:
        tm.close()
        sb.stop()


def startup_times(tm, script):
    """Seconds from tmux new-window to the first screen drawn (its key bar, the last row, is there)."""
    times = []
    for _ in range(STARTUP_RUNS):
        t0 = time.perf_counter()
        out = tm.run("new-window", "-d", "-P", "-F", "#{window_id} #{pane_pid}", "-t", "b:",
                     "sh " + shlex.quote(str(script)))
        wid, pid = out.split()
        try:
            # the first screen is drawn when its key bar (the last row) is there
            def drawn():
                s = tm.run("capture-pane", "-p", "-t", wid)
                ls = s.rstrip("\n").split("\n")
                return "コード" in s and len(ls) >= 24 and ls[23].strip()
            if not poll(drawn, 10, 0.002):
                raise RuntimeError("no first screen within 10 s:\n" + tm.run("capture-pane", "-p", "-t", wid))
            times.append(time.perf_counter() - t0)
        finally:
            try:
                os.kill(int(pid), signal.SIGTERM)
            except ProcessLookupError:
                pass
            tm.run("kill-window", "-t", wid, check=False)
    return times


def vm_hwm_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for ln in f:
            if ln.startswith("VmHWM:"):
                return int(ln.split()[1])
    return None


def tcp_peers(port):
    """Client-side ports of the TCP sockets to or from 127.0.0.1:port that are not listening, read
    from /proc/net/tcp (what `ss -tan` shows, without starting a process each time). A closed
    connection may vanish at once (no TIME_WAIT was seen here), so this is polled during the flow."""
    out = set()
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name) as f:
                next(f)
                for ln in f:
                    p = ln.split()
                    lp = int(p[1].rsplit(":", 1)[1], 16)
                    rp = int(p[2].rsplit(":", 1)[1], 16)
                    if p[3] == "0A":  # LISTEN
                        continue
                    if lp == port:
                        out.add(rp)
                    elif rp == port:
                        out.add(lp)
        except OSError:
            pass
    return out


class CountingProxy:
    """A TCP relay on 127.0.0.1 (a free port) to the sandbox, counting the connections it accepts:
    the exact number of TCP connections (and TLS handshakes: TLS passes through untouched) the
    client opened. Threads end when the proxy is closed."""

    def __init__(self, target_port):
        import socket
        self.socket = socket
        self.target = ("127.0.0.1", target_port)
        self.ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(16)
        self.ls.settimeout(0.05)
        self.port = self.ls.getsockname()[1]
        self.accepted = 0
        self.stop_ev = threading.Event()
        self.socks = []
        self.threads = [threading.Thread(target=self._accept, daemon=True)]
        self.threads[0].start()
        _cleanup.append(self.close)

    def _pump(self, a, b):
        try:
            while not self.stop_ev.is_set():
                data = a.recv(65536)
                if not data:
                    break
                b.sendall(data)
        except OSError:
            pass
        finally:
            try:
                b.shutdown(self.socket.SHUT_WR)
            except OSError:
                pass

    def _accept(self):
        while not self.stop_ev.is_set():
            try:
                c, _ = self.ls.accept()
            except OSError:  # timeout, or closed
                continue
            self.accepted += 1
            c.settimeout(None)
            u = self.socket.create_connection(self.target, timeout=10)
            u.settimeout(None)
            self.socks += [c, u]
            for a, b in ((c, u), (u, c)):
                th = threading.Thread(target=self._pump, args=(a, b), daemon=True)
                th.start()
                self.threads.append(th)

    def close(self):
        self.stop_ev.set()
        self.ls.close()
        for x in self.socks:
            try:
                x.shutdown(self.socket.SHUT_RDWR)
            except OSError:
                pass
            x.close()
        for th in self.threads:
            th.join(2)
        if self.close in _cleanup:
            _cleanup.remove(self.close)


def open_connections(pid, port):
    """Established TCP connections to port held by pid's file descriptors (/proc, exact, now)."""
    inodes = set()
    try:
        for fd in os.listdir("/proc/%d/fd" % pid):
            try:
                t = os.readlink("/proc/%d/fd/%s" % (pid, fd))
            except OSError:
                continue
            m = re.fullmatch(r"socket:\[(\d+)\]", t)
            if m:
                inodes.add(m.group(1))
    except OSError:
        return None
    n = 0
    for name in ("tcp", "tcp6"):
        try:
            with open("/proc/%d/net/%s" % (pid, name)) as f:
                next(f)
                for ln in f:
                    p = ln.split()
                    rem_port = int(p[2].rsplit(":", 1)[1], 16)
                    if p[3] == "01" and rem_port == port and p[9] in inodes:
                        n += 1
        except OSError:
            pass
    return n


def child_pid(pid, name, timeout=5):
    """The child of pid running `name` (the pane runs sh, which runs env, which execs the client)."""
    def find():
        try:
            with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
                kids = [int(x) for x in f.read().split()]
        except OSError:
            return None
        for k in kids:
            try:
                if Path("/proc/%d/comm" % k).read_text().strip() == name:
                    return k
            except OSError:
                pass
        return None
    return poll(find, timeout)



def test_term(argv, env):
    """The tests' Term (tests/conftest.py): renkei at 80x24 in a private tmux server, closed at exit."""
    sys.path.insert(0, str(ROOT / "tests"))
    import conftest  # noqa: E402

    t = conftest.Term(list(argv), 80, 24, env, "xterm-256color", None, None)
    _cleanup.append(t.close)
    return t


def close_test_term(t):
    if t is not None:
        t.close()
        if t.close in _cleanup:
            _cleanup.remove(t.close)


def bench_client_flow(workdir):
    sys.path.insert(0, str(ROOT / "tests"))
    from e2e import helpers as h         # noqa: E402 - the e2e tests' screen drivers

    sb = Sandbox(workdir)
    proxy = CountingProxy(sb.port)
    via = type("Via", (), {"url": "https://127.0.0.1:%d" % proxy.port, "cacert": CACERT})()
    t = None
    stop = threading.Event()
    ports = set()
    try:
        conn = connect(sb)
        st, da, _ = request(conn, "POST", "/oauth/device_authorization",
                            form={"client_id": "kakeibo-demo", "scope": "balance transactions"})
        conn.close()
        assert st == 200, (st, da)

        def watch():
            while not stop.is_set():
                ports.update(tcp_peers(proxy.port))
                stop.wait(0.002)
        th = threading.Thread(target=watch, daemon=True)
        th.start()
        t0 = time.perf_counter()
        t = test_term(h.client_argv(via), h.client_env())
        pid = child_pid(t.pane_pid, "renkei")
        if pid is None:
            raise RuntimeError("no renkei process under the tmux pane")
        h.yamada_to_pins(t, da["user_code"])
        h.fill_pin_rows(t, [YAMADA_PINS["2000002"], YAMADA_PINS["1111111"]])
        t.wait_for(lambda x: (h.table_row(x, "1111111") or "").count("●") == 4)
        t.send("Enter")
        h.wait_screen(t, "口座一覧", title_is=h.JA["title_pin_result"])
        t.send("Enter")
        h.wait_screen(t, "※意思確認", title_is=h.JA["title_permission"])
        t.send("Tab")
        t.wait_for(lambda x: "Space" in h.key_bar(x))
        t.send("Space")
        t.wait_for(lambda x: h.checkbox_state(x, "許可手続きを継続する") is True)
        t.send("Enter")
        h.wait_screen(t, "API連携の利用登録が完了しました。")
        flow = time.perf_counter() - t0
        hwm = vm_hwm_kb(pid)
        open_end = open_connections(pid, proxy.port)
        t.send("Enter")
        rc = t.wait_exit()
        stop.set()
        th.join(5)
        row("client", "yamada01 flow through the screens, start to done (incl. tmux)",
            "%.0f ms  (exit status %s)" % (ms(flow), rc))
        row("client", "peak RSS (VmHWM) on the done screen", "%.1f MiB  (%d kB)" % (hwm / 1024.0, hwm))
        row("client", "TCP connections opened for the whole flow (= TLS handshakes)",
            "%d  (counted by a relay; /proc/net/tcp polling saw %d)" % (proxy.accepted, len(ports)))
        row("client", "  of them open on the done screen (/proc)", "?" if open_end is None else "%d" % open_end)
    finally:
        stop.set()
        close_test_term(t)
        proxy.close()
        sb.stop()


# ---------------------------------------------------------------------------------------------
# 4. Certificate login with the client's code (build/bench/certlogin)

def softhsm_module():
    for m in SOFTHSM_MODULES:
        if Path(m).exists():
            return m
    raise RuntimeError("libsofthsm2.so not found (softhsm2 is in scripts/install-deps.sh)")


def make_token(workdir):
    """A private SoftHSM2 store holding the renkei-demo token; returns its SOFTHSM2_CONF."""
    tokdir = Path(tempfile.mkdtemp(prefix="tok-", dir=workdir))
    r = subprocess.run(["sh", str(ROOT / "scripts" / "mktoken.sh"), str(PKI), str(tokdir)], stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=60, cwd=str(ROOT))
    last = (r.stdout.strip().splitlines() or [""])[-1]
    if r.returncode != 0 or not last.startswith("SOFTHSM2_CONF="):
        raise RuntimeError("mktoken.sh failed:\n" + r.stdout + r.stderr)
    return last.split("=", 1)[1]


def device_authorization(sb):
    conn = connect(sb)
    try:
        st, da, _ = request(conn, "POST", "/oauth/device_authorization",
                            form={"client_id": "kakeibo-demo", "scope": "balance transactions"})
    finally:
        conn.close()
    if st != 200:
        raise RuntimeError("device authorization answered %d" % st)
    return da


def p50_p90(fig):
    return "p50 %7.2f ms   p90 %7.2f ms" % (fig[1], fig[2])


def bench_certlogin(workdir):
    if not CERTLOGIN_BIN.exists():
        raise RuntimeError("%s not built (make bench builds it)" % CERTLOGIN_BIN)
    module = softhsm_module()
    conf = make_token(workdir)
    sb = Sandbox(workdir)
    try:
        da = device_authorization(sb)
        # PIN, user code and password on stdin (never on the command line)
        r = subprocess.run([str(CERTLOGIN_BIN), module, sb.url, str(CACERT), TOKEN_LABEL, str(CERT_ROUNDS)],
                           input="%s\n%s\n%s\n" % (TOKEN_PIN, da["user_code"], SUZUKI[1]), capture_output=True,
                           text=True, timeout=120, cwd=str(ROOT),
                           env=dict(os.environ, SOFTHSM2_CONF=conf, LANG="C.UTF-8"))
    finally:
        sb.stop()
    if r.returncode != 0:
        raise RuntimeError("certlogin: exit %d: %s" % (r.returncode, (r.stderr.strip() or r.stdout.strip())[-500:]))
    info, figs = {}, {}
    for ln in r.stdout.splitlines():
        p = ln.split()
        if p and p[0] == "info":
            info[p[1]] = " ".join(p[2:])
        elif len(p) == 6:
            figs[p[0]] = (int(p[1]),) + tuple(float(x) for x in p[2:])
    want = ("p11_open", "c_login", "p11_login", "sign", "tls_card_new", "tls_card_kept", "tls_plain_new",
            "tls_plain_kept", "p11_close")
    missing = [k for k in want if k not in figs]
    if missing or not info.get("certificate_login", "").startswith("200 scopes"):
        raise RuntimeError("certlogin printed no %s:\n%s" % (", ".join(missing) or "certificate login", r.stdout))
    n = figs["p11_open"][0]
    row("cert", "SoftHSM2 token %s, %d rounds (build/bench/certlogin)" % (TOKEN_LABEL, n),
        "%s certificates, key via the %s" % (info.get("certificates", "?"), info.get("key_source", "?")))
    row("cert", "  p11_open: load module + list certificates (p11 listing)", p50_p90(figs["p11_open"]))
    row("cert", "  C_Login alone (function list, one session; then C_Logout)", p50_p90(figs["c_login"]))
    row("cert", "  p11_login: C_Login + private key through the engine", p50_p90(figs["p11_login"]))
    row("cert", "  one RSA-PSS signature (SHA-256) on the token", p50_p90(figs["sign"]))
    row("cert", "  mutual TLS: connect + handshake (token signs) + GET", p50_p90(figs["tls_card_new"]))
    row("cert", "    GET on that kept connection", p50_p90(figs["tls_card_kept"]))
    row("cert", "  no client certificate: connect + handshake + GET", p50_p90(figs["tls_plain_new"]))
    row("cert", "    GET on that kept connection", p50_p90(figs["tls_plain_kept"]))
    row("cert", "  => handshake with the card's key (new - kept, p50)",
        "%.2f ms   (without a client certificate %.2f ms)"
        % (figs["tls_card_new"][1] - figs["tls_card_kept"][1], figs["tls_plain_new"][1] - figs["tls_plain_kept"][1]))
    row("cert", "  p11_close: log out, C_Finalize, unload", p50_p90(figs["p11_close"]))
    row("cert", "  check: suzuki03 certificate login on the card's connection",
        "%s  (%s)" % (info["certificate_login"].split(" connections")[0], "POST /consent/v1/session/login"))


# ---------------------------------------------------------------------------------------------
# 5. The suzuki03 certificate flow in tmux

def bench_cert_flow(workdir):
    sys.path.insert(0, str(ROOT / "tests"))
    from e2e import helpers as h         # noqa: E402 - the e2e tests' screen drivers
    from e2e import test_certificate as tc  # noqa: E402 - the certificate tests' drivers

    module = softhsm_module()
    conf = make_token(workdir)
    sb = Sandbox(workdir)
    proxy = CountingProxy(sb.port)
    via = type("Via", (), {"url": "https://127.0.0.1:%d" % proxy.port, "cacert": CACERT})()
    t = None
    try:
        da = device_authorization(sb)
        argv = h.client_argv(via, user_code=da["user_code"], extra=["--pkcs11-module", module])
        t0 = time.perf_counter()
        t = test_term(argv, h.client_env({"SOFTHSM2_CONF": conf}))
        tc.to_cert_screen(t)
        t1 = time.perf_counter()
        tc.open_chooser(t)                  # Enter: the client loads the module and lists
        t2 = time.perf_counter()
        tc.highlight(t, "鈴木花子  ")
        t.send("Enter")
        tc.token_pin(t, TOKEN_PIN)          # ends with Enter: C_Login + the key
        t3 = time.perf_counter()
        tc.cert_chosen(t, PKI)
        t4 = time.perf_counter()
        tc.type_password(t, SUZUKI[1])      # new TLS connection with the card, then the login
        h.wait_screen(t, "認可対象", title_is=h.JA["title_scopes"])
        t5 = time.perf_counter()
        tc.finish_suzuki(t)                 # scopes, PINs, permission, allow, exit 0
        t6 = time.perf_counter()
        row("client", "suzuki03 certificate flow through the screens, start to exit",
            "%.0f ms  (incl. tmux; exit status 0)" % ms(t6 - t0))
        row("client", "  Enter on the certificate button to the chooser (p11 listing)", "%.0f ms" % ms(t2 - t1))
        row("client", "  token PIN Enter to the certificate chosen (login + key)", "%.0f ms" % ms(t4 - t3))
        row("client", "  password Enter to the scopes screen (card's TLS + login)", "%.0f ms" % ms(t5 - t4))
        row("client", "  TCP connections opened for the whole flow (= TLS handshakes)",
            "%d  (counted by a relay)" % proxy.accepted)
    finally:
        close_test_term(t)
        proxy.close()
        sb.stop()


# ---------------------------------------------------------------------------------------------
# 6. callgrind

def callgrind(workdir, argv, extra=()):
    out = Path(tempfile.mkstemp(prefix="callgrind-", dir=workdir)[1])
    r = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=%s" % out] + list(extra) +
                       [str(a) for a in argv], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=120, env=dict(os.environ, LANG="C.UTF-8"))
    m = re.search(r"Collected\s*:\s*(\d+)", r.stderr)
    if r.returncode != 0 or not m:
        raise RuntimeError("valgrind %s: exit %d\n%s" % (argv[0], r.returncode, r.stderr[-2000:]))
    return int(m.group(1)), r.stdout


def bench_callgrind(workdir):
    if not shutil.which("valgrind"):
        row("client", "callgrind", "(valgrind is not installed)")
        return
    if WIDTH_BIN.exists():
        ir, out = callgrind(workdir, [WIDTH_BIN, WIDTH_ROUNDS],
                            ["--collect-atstart=no", "--toggle-collect=ui_width"])
        nbytes, nchars, cols, rounds = (int(x) for x in out.split())
        row("client", "ui_width() over a Japanese text (%d chars, %d bytes, %d cols)" % (nchars, nbytes, cols),
            "%s Ir per call   %.1f Ir per character" % ("{:,}".format(ir // rounds), ir / rounds / nchars))
    else:
        row("client", "ui_width() instructions", "(%s not built: make bench builds it)" % WIDTH_BIN)
    ir, _ = callgrind(workdir, [CLIENT_BIN, "--version"])
    row("client", "renkei --version, whole process", "{:,} Ir".format(ir))


# ---------------------------------------------------------------------------------------------

import bench_vs  # noqa: E402 - the side-by-side parts (scripts/bench_vs.py)

PARTS = [
    ("flows", "flow: the yamada01 flow: floor, curl per request, renkei", "flow", bench_vs.bench_flows_loopback),
    ("latency", "flow: the same with 50 ms added per round trip", "flow", bench_vs.bench_flows_latency),
    ("screen", "screen: first screen and terminal bytes: renkei, bare curses, dialog", "screen",
     bench_vs.bench_screen),
    ("load", "load: the sandbox under flowload, N = 1, 8, 64", "load", bench_vs.bench_load),
    ("growth", "growth: state per 10,000 grants and expired sessions", "growth", bench_vs.bench_growth),
    ("metadata", "sandbox: metadata requests", "sandbox", bench_metadata),
    ("certlogin", "certificate login: p11 + TLS with the token", "cert", bench_certlogin),
    ("certflow", "client: suzuki03 certificate flow in tmux", "client", bench_cert_flow),
    ("callgrind", "callgrind", "client", bench_callgrind),
]


def main():
    for b in (SANDBOX_BIN, CLIENT_BIN):
        if not b.exists():
            raise SystemExit("bench: %s does not exist (run make)" % b)
    r = subprocess.run(["sh", str(ROOT / "scripts" / "mkcerts.sh"), str(PKI)], stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=120, cwd=str(ROOT))
    if r.returncode != 0:
        raise SystemExit("bench: mkcerts.sh failed:\n" + r.stdout + r.stderr)
    workdir = tempfile.mkdtemp(prefix="rk-bench-")
    t0 = time.monotonic()
    print("renkei bench: %s; %s, %d CPUs; loopback HTTPS with the test PKI"
          % (BUILD, platform.platform(terse=True), os.cpu_count() or 0), flush=True)
    bench_vs.init(sys.modules[__name__])
    only = [x for x in os.environ.get("BENCH_PARTS", "").split(",") if x]
    parts = [p for p in PARTS if not only or p[0] in only]
    try:
        for i, (_, title, part, fn) in enumerate(parts):
            title = "%d/%d %s" % (i + 1, len(parts), title)
            print("bench: %s" % title, flush=True)
            try:
                fn(workdir)
            except Exception as e:  # noqa: BLE001 - the other parts go on; the row says why
                msg = str(e).strip().split("\n")
                row(part, "%s: NOT MEASURED" % title.split(" ", 1)[1], msg[0][:100])
                FAILED.append((title, str(e)))
    finally:
        for f in list(reversed(_cleanup)):
            try:
                f()
            except Exception as e:  # noqa: BLE001 - clean-up goes on
                print("bench: clean-up: %s" % e, file=sys.stderr)
        shutil.rmtree(workdir, ignore_errors=True)
    w = max(len(x[1]) for x in ROWS)
    fw = max(len(x[2]) for x in ROWS)
    print()
    print("%-7s  %-*s  %s" % ("part", w, "measure", "figure"))
    print("%s  %s  %s" % ("-" * 7, "-" * w, "-" * fw))
    last = None
    for part, what, fig in ROWS:
        print("%-7s  %-*s  %s" % (part if part != last else "", w, what, fig))
        last = part
    bench_vs.print_ratios()
    print("(bench took %.1f s)" % (time.monotonic() - t0))
    for title, err in FAILED:
        print("\nbench: %s could not be measured:\n%s" % (title, err), file=sys.stderr)
    return 1 if FAILED else 0


if __name__ == "__main__":
    def _term(signum, frame):
        raise SystemExit("bench: signal %d" % signum)
    signal.signal(signal.SIGTERM, _term)
    sys.exit(main())
