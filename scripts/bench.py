#!/usr/bin/python3
"""make bench: renkei and renkei-sandbox beside their alternatives, measured in one run, closed by a
table of ratios with the targets beside them (printed, never judged; also written to
build/bench/ratios.txt, which README's Building section shows).

Run from the source tree after `make` (the Makefile rule builds `all` and build/bench/*, and installs
dialog for the bench only):
    /usr/bin/python3 scripts/bench.py        RENKEI_BUILD=DIR another build tree (default build/)
    BENCH_PARTS=flows,screen ...             only those parts (names in PARTS)

Parts (everything on 127.0.0.1 over HTTPS with the test PKI; every sandbox and relay started here gets
a free port and is stopped by PID; every loop is bounded; about 1.5 minutes in all):
  flows, latency, screen, load, growth   scripts/bench_vs.py (its docstring says what each measures):
           the flow as floor / curl per request / renkei in a pty, without and with 50 ms per round
           trip; first screen and terminal bytes beside bare curses and dialog; the sandbox under
           build/bench/flowload at N = 1, 8, 64; the state file per 10,000 grants / expired sessions.
  metadata GET /.well-known/oauth-authorization-server: 1000 requests on ONE keep-alive TLS
           connection, then 200 with a new TLS connection each (the handshake's cost).
  certlogin certificate login (PKCS#11) on a SoftHSM2 token made by scripts/mktoken.sh with the
           client's own code (build/bench/certlogin, tests/bench/certlogin.c): p11_open, C_Login,
           p11_login, one RSA-PSS signature, a mutual-TLS handshake signed on the token vs none.
  certflow the whole suzuki03 certificate flow in the pty (scripts/bench_vs.py): chooser, token PIN,
           the card's TLS handshake; the connections the client opened (build/bench/relay).
  callgrind instructions of ui_width() over a Japanese text (build/bench/width) and of renkei --version.
Stdlib only (scripts/bench_vs.py beside it).
Exit status 1 when a part could not be measured (its row says why); the figures are never judged.
"""

import http.client
import json
import os
import platform
import re
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUILD = Path(os.environ.get("RENKEI_BUILD", "build"))
if not BUILD.is_absolute():
    BUILD = ROOT / BUILD
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
            self.proc = subprocess.Popen([str(SANDBOX_BIN), "--listen", "127.0.0.1:0", "--tls-dir", str(PKI),
                                          # the load generator's 64 clients all come from 127.0.0.1
                                          "--per-address-limit", "256"] + list(args),
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
# Metadata requests

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
# Certificate login with the client's code (build/bench/certlogin)

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
# callgrind

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
    ("certflow", "cert: suzuki03 certificate flow in the pty", "cert", bench_vs.bench_certflow),
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
    bench_vs.print_ratios(BUILD / "bench" / "ratios.txt")
    print("(bench took %.1f s)" % (time.monotonic() - t0))
    for title, err in FAILED:
        print("\nbench: %s could not be measured:\n%s" % (title, err), file=sys.stderr)
    return 1 if FAILED else 0


if __name__ == "__main__":
    def _term(signum, frame):
        raise SystemExit("bench: signal %d" % signum)
    signal.signal(signal.SIGTERM, _term)
    sys.exit(main())
