#!/usr/bin/python3
"""make bench: speed and memory figures for renkei and renkei-sandbox (prints them; no thresholds).

Run from the source tree after `make` (the Makefile rule depends on `all`):
    /usr/bin/python3 scripts/bench.py            RENKEI_BUILD=DIR picks another build tree (default build/)

Figures
  1. sandbox: GET /.well-known/oauth-authorization-server, 500 requests on one keep-alive TLS
     connection, and 200 requests with a new TLS connection each (the handshake cost).
  2. sandbox: the whole yamada01 consent flow (device authorization .. token) on one connection,
     20 rounds (a fresh in-memory sandbox every 5 rounds; later rounds follow the steps the server
     returns, so they skip the PIN steps once yamada01's PINs are registered).
  3. client: start-up to the first screen at 80x24 in tmux (median of 5), then one sato02 flow with
     partner mieru-demo: the client's peak RSS (VmHWM) on the done screen and its TCP connections to
     the sandbox (distinct client ports seen by polling ss during the flow, and those open at the end).
  4. callgrind instruction count of `renkei --version` (when valgrind is installed).
Stdlib only; loopback only; every server started here is stopped by PID.
"""

import http.client
import json
import os
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
SANDBOX_BIN = BUILD / "renkei-sandbox"
CLIENT_BIN = BUILD / "renkei"
PKI = ROOT / "build" / "test-pki"
CACERT = PKI / "ca.crt"

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
YAMADA = ("yamada01", "Sakura-2026")
YAMADA_ANSWER = "ひまわり証券"
YAMADA_PINS = {"2000002": "1234", "1111111": "5678"}
SATO = ("sato02", "Momiji-2026")

ROWS = []          # (section, what, figure)
_cleanup = []      # callables run at exit, last first


def row(section, what, figure):
    ROWS.append((section, what, figure))


def pct(values, p):
    """p-th percentile (nearest rank) of a list of numbers."""
    s = sorted(values)
    if not s:
        return float("nan")
    k = max(0, min(len(s) - 1, int(round(p / 100.0 * len(s) + 0.5)) - 1))
    return s[k]


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
    def __init__(self, workdir):
        self.dir = Path(tempfile.mkdtemp(prefix="sb-", dir=workdir))
        self.out = self.dir / "stdout"
        self.err = self.dir / "stderr"
        with open(self.out, "wb") as o, open(self.err, "wb") as e:
            self.proc = subprocess.Popen([str(SANDBOX_BIN), "--listen", "127.0.0.1:0", "--tls-dir", str(PKI)],
                                         stdin=subprocess.DEVNULL, stdout=o, stderr=e, cwd=str(ROOT))
        self.pid = self.proc.pid
        _cleanup.append(self.stop)
        self.url = None

        def ready():
            data = self.out.read_bytes()
            if b"\n" in data:
                return data.split(b"\n", 1)[0].decode().strip()
            if self.proc.poll() is not None:
                raise SystemExit("bench: sandbox exited (%d) before printing its URL:\n%s"
                                 % (self.proc.returncode, self.err.read_text("utf-8", "replace")))
            return None
        self.url = poll(ready, 10)
        if not self.url or not re.fullmatch(r"https://127\.0\.0\.1:\d+", self.url):
            raise SystemExit("bench: sandbox gave no URL: %r" % self.url)
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


def ssl_ctx():
    global _CTX
    if _CTX is None:
        _CTX = ssl.create_default_context(cafile=str(CACERT))
    return _CTX


def connect(sb):
    return http.client.HTTPSConnection("127.0.0.1", sb.port, timeout=30, context=ssl_ctx())


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


def ms(s):
    return s * 1000.0


# ---------------------------------------------------------------------------------------------
# 1. Metadata requests

META = "/.well-known/oauth-authorization-server"


def bench_metadata(workdir):
    sb = Sandbox(workdir)
    try:
        conn = connect(sb)
        request(conn, "GET", META)  # the handshake, not counted
        lat = []
        t0 = time.perf_counter()
        for _ in range(500):
            st, _, dt = request(conn, "GET", META)
            if st != 200:
                raise SystemExit("bench: metadata answered %d" % st)
            lat.append(dt)
        total = time.perf_counter() - t0
        conn.close()
        row("sandbox", "metadata, keep-alive (500 req)", "%7.0f req/s  p50 %.2f ms  p95 %.2f ms"
            % (500 / total, ms(pct(lat, 50)), ms(pct(lat, 95))))

        lat = []
        t0 = time.perf_counter()
        for _ in range(200):
            c0 = time.perf_counter()
            conn = connect(sb)
            st, _, _ = request(conn, "GET", META)
            conn.close()
            if st != 200:
                raise SystemExit("bench: metadata answered %d" % st)
            lat.append(time.perf_counter() - c0)
        total = time.perf_counter() - t0
        row("sandbox", "metadata, new TLS connection each (200 req)", "%7.0f req/s  p50 %.2f ms  p95 %.2f ms"
            % (200 / total, ms(pct(lat, 50)), ms(pct(lat, 95))))
    finally:
        sb.stop()


# ---------------------------------------------------------------------------------------------
# 2. The yamada01 consent flow

def consent_round(sb):
    """One flow on one connection; returns (total seconds, [per-request seconds], [steps])."""
    conn = connect(sb)
    lat = []
    steps = []

    def call(method, path, **kw):
        st, js, dt = request(conn, method, path, **kw)
        lat.append(dt)
        return st, js

    try:
        t0 = time.perf_counter()
        st, da = call("POST", "/oauth/device_authorization",
                      form={"client_id": "kakeibo-demo", "scope": "balance transactions"})
        assert st == 200, (st, da)
        st, env = call("POST", "/consent/v1/sessions", body={"user_code": da["user_code"]})
        assert st == 201, (st, env)
        session = env["session"]
        for _ in range(10):
            step = env["step"]
            steps.append(step)
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
            st, env = call("POST", "/consent/v1/session" + path, body=body, bearer=session)
            assert st == 200, (path, st, env)
        assert env["step"] == "done", env
        st, tok = call("POST", "/oauth/token", form={"grant_type": DEVICE_GRANT,
                                                     "device_code": da["device_code"],
                                                     "client_id": "kakeibo-demo"})
        assert st == 200 and tok.get("access_token"), (st, tok)
        total = time.perf_counter() - t0
    finally:
        conn.close()
    return total, lat, steps


def bench_consent(workdir):
    totals_first, totals_later, lat_all = [], [], []
    nreq_first = nreq_later = 0
    t_start = time.monotonic()
    rounds = 0
    for block in range(4):
        if time.monotonic() - t_start > 40:
            break
        sb = Sandbox(workdir)
        try:
            for i in range(5):
                total, lat, steps = consent_round(sb)
                rounds += 1
                lat_all += lat
                if i == 0:
                    totals_first.append(total)
                    nreq_first = len(lat)
                else:
                    totals_later.append(total)
                    nreq_later = len(lat)
        finally:
            sb.stop()
    row("sandbox", "yamada01 flow, first on a sandbox (%d req, %d rounds)" % (nreq_first, len(totals_first)),
        "total p50 %.1f ms  (min %.1f, max %.1f)" % (ms(statistics.median(totals_first)),
                                                    ms(min(totals_first)), ms(max(totals_first))))
    if totals_later:
        row("sandbox", "yamada01 flow, PINs registered (%d req, %d rounds)" % (nreq_later, len(totals_later)),
            "total p50 %.1f ms  (min %.1f, max %.1f)" % (ms(statistics.median(totals_later)),
                                                        ms(min(totals_later)), ms(max(totals_later))))
    row("sandbox", "yamada01 flow, per request (%d rounds, %d req)" % (rounds, len(lat_all)),
        "p50 %.2f ms  p95 %.2f ms  max %.2f ms" % (ms(pct(lat_all, 50)), ms(pct(lat_all, 95)),
                                                  ms(max(lat_all))))


# ---------------------------------------------------------------------------------------------
# 3. The client in tmux

class Tmux:
    def __init__(self, workdir):
        self.dir = Path(tempfile.mkdtemp(prefix="tm-", dir="/tmp"))  # short path: socket name limit
        self.sock = str(self.dir / "sock")
        conf = self.dir / "tmux.conf"
        conf.write_text("set -g status off\nset -g remain-on-exit on\nset -sg escape-time 0\n")
        env = {k: v for k, v in os.environ.items() if k not in ("TMUX", "TMUX_PANE", "LC_ALL")}
        env["LANG"] = "C.UTF-8"
        env["TERM"] = "xterm-256color"
        self.env = env
        self.server_pid = None
        # The session's first window only waits; each client run gets a window of its own.
        self.run("-u", "-f", str(conf), "new-session", "-d", "-s", "b", "-x", "80", "-y", "24", "cat")
        _cleanup.append(self.close)
        self.server_pid = int(self.run("display-message", "-p", "#{pid}").strip())

    def run(self, *args, check=True):
        r = subprocess.run(["tmux", "-S", self.sock] + list(args), stdin=subprocess.DEVNULL,
                           capture_output=True, env=self.env, timeout=20)
        if check and r.returncode != 0:
            raise SystemExit("bench: tmux %s failed: %s" % (" ".join(args), r.stderr.decode(errors="replace")))
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
    script = Path(tempfile.mkstemp(prefix="run-", suffix=".sh", dir=workdir)[1])
    script.write_text("cd %s || exit 127\nexec env -i %s %s\n" % (
        shlex.quote(str(ROOT)), " ".join("%s=%s" % (k, shlex.quote(v)) for k, v in sorted(env.items())),
        " ".join(shlex.quote(str(a)) for a in argv)))
    return script


class Window:
    def __init__(self, tm, script):
        self.tm = tm
        out = tm.run("new-window", "-d", "-P", "-F", "#{window_id} #{pane_pid}", "-t", "b:",
                     "sh " + shlex.quote(str(script)))
        wid, pid = out.split()
        self.target = wid
        self.pid = int(pid)

    def screen(self):
        return self.tm.run("capture-pane", "-p", "-t", self.target)

    def wait(self, text, timeout=10):
        s = poll(lambda: (lambda sc: sc if text in sc else None)(self.screen()), timeout)
        if s is None:
            raise SystemExit("bench: timed out waiting for %r; screen:\n%s" % (text, self.screen()))
        return s

    def keys(self, *k):
        self.tm.run("send-keys", "-t", self.target, *k)

    def type(self, text):
        self.tm.run("send-keys", "-t", self.target, "-l", "--", text)

    def close(self):
        try:
            os.kill(self.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        self.tm.run("kill-window", "-t", self.target, check=False)


def vm_hwm_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for ln in f:
            if ln.startswith("VmHWM:"):
                return int(ln.split()[1])
    return None


def client_ports(pid, port):
    """Local ports of the client's established TCP connections to 127.0.0.1:port (ss -p)."""
    r = subprocess.run(["ss", "-tnpH", "state", "established", "dst", "127.0.0.1:%d" % port],
                       capture_output=True, text=True, timeout=5)
    out = set()
    for ln in r.stdout.splitlines():
        if "pid=%d," % pid in ln:
            m = re.search(r"127\.0\.0\.1:(\d+)\s+127\.0\.0\.1:%d\b" % port, ln)
            if m:
                out.add(int(m.group(1)))
    return out


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


def bench_client(workdir):
    sb = Sandbox(workdir)
    tm = Tmux(workdir)
    try:
        size = tm.run("display-message", "-p", "-t", "b", "#{window_width}x#{window_height}").strip()
        # start-up to the first screen
        times = []
        script = client_script(workdir, [CLIENT_BIN, "--server", sb.url, "--cacert", CACERT])
        for _ in range(5):
            t0 = time.perf_counter()
            w = Window(tm, script)
            try:
                w.wait("コード", 10)
                times.append(time.perf_counter() - t0)
            finally:
                w.close()
        row("client", "start-up to the first screen (%s, median of 5)" % size,
            "%.1f ms  (min %.1f, max %.1f)" % (ms(statistics.median(times)), ms(min(times)), ms(max(times))))

        # one sato02 flow with mieru-demo
        conn = connect(sb)
        st, da, _ = request(conn, "POST", "/oauth/device_authorization",
                            form={"client_id": "mieru-demo", "scope": "balance transactions"})
        conn.close()
        assert st == 200, (st, da)
        script = client_script(workdir, [CLIENT_BIN, "--server", sb.url, "--cacert", CACERT,
                                         "--user-code", da["user_code"]])
        ports = set()
        stop = threading.Event()
        w = None

        def watch():
            while not stop.is_set():
                if w is not None:
                    ports.update(client_ports(w.pid, sb.port))
                stop.wait(0.005)
        th = threading.Thread(target=watch, daemon=True)
        t0 = time.perf_counter()
        w = Window(tm, script)
        th.start()
        try:
            w.wait("ID・パスワード方式", 10)
            w.keys("Enter")
            w.wait("ログインパスワード", 10)
            w.type(SATO[0])
            w.keys("Enter")
            w.type(SATO[1])
            w.keys("Enter")
            w.wait("許可手続きを継続する", 10)
            w.keys("Tab", "Space")
            # the checkbox must be set before Enter: wait until the screen changed
            poll(lambda: re.search(r"\[[xX]\]\s*許可手続きを継続する", w.screen()), 5)
            w.keys("Enter")
            w.wait("完了しました", 10)
            flow = time.perf_counter() - t0
            hwm = vm_hwm_kb(w.pid)
            open_end = open_connections(w.pid, sb.port)
        finally:
            stop.set()
            th.join(5)
            w.close()
        row("client", "sato02/mieru-demo flow, start to done screen (incl. tmux)", "%.0f ms" % ms(flow))
        row("client", "peak RSS (VmHWM) on the done screen", "%.1f MiB (%d kB)" % (hwm / 1024.0, hwm))
        row("client", "TCP connections to the sandbox during the flow (ss poll)", "%d distinct" % len(ports))
        row("client", "TCP connections open at the done screen (/proc)",
            "%s" % ("?" if open_end is None else open_end))
    finally:
        tm.close()
        sb.stop()


# ---------------------------------------------------------------------------------------------
# 4. callgrind

def bench_callgrind(workdir):
    vg = shutil.which("valgrind")
    if not vg:
        row("client", "callgrind Ir of renkei --version", "(valgrind not installed)")
        return
    out = Path(workdir) / "callgrind.out"
    r = subprocess.run([vg, "--tool=callgrind", "--callgrind-out-file=%s" % out, str(CLIENT_BIN), "--version"],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
    m = re.search(r"Collected\s*:\s*(\d+)", r.stderr)
    if r.returncode != 0 or not m:
        row("client", "callgrind Ir of renkei --version", "(failed: exit %d)" % r.returncode)
        return
    row("client", "callgrind Ir of renkei --version", "{:,} instructions".format(int(m.group(1))))


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
    print("renkei bench: %s, loopback, TLS (test PKI)" % BUILD, flush=True)
    try:
        print("bench: 1/4 sandbox: metadata requests", flush=True)
        bench_metadata(workdir)
        print("bench: 2/4 sandbox: yamada01 consent flows", flush=True)
        bench_consent(workdir)
        print("bench: 3/4 client in tmux: start-up, sato02 flow", flush=True)
        bench_client(workdir)
        print("bench: 4/4 callgrind: renkei --version", flush=True)
        bench_callgrind(workdir)
    finally:
        for f in list(reversed(_cleanup)):
            try:
                f()
            except Exception as e:  # noqa: BLE001 - clean-up goes on
                print("bench: clean-up: %s" % e, file=sys.stderr)
        shutil.rmtree(workdir, ignore_errors=True)
    w = max(len(x[1]) for x in ROWS)
    print("\n%-8s  %-*s  %s" % ("part", w, "measure", "figure"))
    print("-" * (w + 50))
    for sec, what, fig in ROWS:
        print("%-8s  %-*s  %s" % (sec, w, what, fig))
    print("(bench took %.1f s)" % (time.monotonic() - t0))


if __name__ == "__main__":
    def _term(signum, frame):
        raise SystemExit("bench: signal %d" % signum)
    signal.signal(signal.SIGTERM, _term)
    main()
