"""make bench's side-by-side parts (scripts/bench.py runs them; stdlib only): renkei and the sandbox
beside their alternatives, measured in the same run, each result also kept as a ratio for the table
that closes the output (RATIOS), with its target beside it. Targets are printed, never judged: the
exit status does not depend on them.

  flows    the yamada01 flow three ways, through build/bench/relay (a counting TCP relay that can add
           a latency to every client->server chunk): the floor (build/bench/flowload with N = 1: the 9
           requests on one kept-alive TLS connection, no terminal), curl per request
           (tests/bench/curl-flow.sh: one curl process and TLS handshake per request), and renkei
           in a pty at 80x24 with the keys of each screen sent as soon as that screen is seen in its
           output (no tmux, no sleeping); the partner's two requests for renkei on a kept connection
           of this script, timed and added. Each run on a fresh in-memory sandbox. Client CPU
           (user+sys) and peak RSS from the kernel (wait4's rusage of the child).
  screen   exec to the first screen painted (the last byte before the output goes quiet), for
           renkei, build/bench/cursesfloor (ncursesw initialised, one screen painted) and dialog(1)
           --mixedform; bytes written at 80x24 (TERM=xterm-256color): first paint, renkei's login
           screen, per keystroke in a field (ID and masked password), and dialog's.
  load     build/bench/flowload (libcurl multi) with N = 1, 8, 64 virtual clients, each doing whole
           flows (device authorization -> token) on its kept-alive connection, then with a new TLS
           connection per flow; flows/s, p50/p99 per step, errors, the sandbox's CPU and RSS.
  growth   the state file and the sandbox's RSS per 10,000 grants and per 10,000 sessions left to
           expire (session_idle_seconds 1), and what is left in the tables afterwards.
"""

import fcntl
import json
import os
import select
import signal
import sqlite3
import statistics
import struct
import subprocess
import tempfile
import termios
import time
from pathlib import Path

B = None        # scripts/bench.py: Sandbox, row, pct, ms, CACERT, paths
RATIOS = []     # (what, figure, target, verdict)
FIG = {}        # named figures for the ratios

RELAY_BIN = FLOWLOAD_BIN = CURSESFLOOR_BIN = RUSAGE_BIN = None
CURL_FLOW = None
FLOW_ROUNDS = {0: 9, 50: 3}           # rounds of each of the three, per added latency (ms)
SCREEN_RUNS = 15
LOAD = ((1, 150), (8, 60), (64, 8))   # (virtual clients, flows each)
GROWTH_N = 2000       # grants, and sessions left to expire; figures scaled to 10,000
GROWTH_CHUNKS = 4
KEYS = {"Enter": b"\r", "Tab": b"\t", "BTab": b"\x1b[Z", "Space": b" ", "Down": b"\x1b[B", "NPage": b"\x1b[6~"}
# The permission screen's checkbox takes a tick only once the terms were shown to their end: PgDn
# that many times first (the demo's terms take 10 pages at 80x24; a PgDn at the end paints nothing).
TERMS_PAGES = 40
ALLOW = KEYS["NPage"] * TERMS_PAGES + KEYS["Tab"] + KEYS["Space"] + KEYS["Enter"]


def init(bench):
    global B, RELAY_BIN, FLOWLOAD_BIN, CURSESFLOOR_BIN, CURL_FLOW, RUSAGE_BIN
    B = bench
    RUSAGE_BIN = B.BUILD / "bench" / "rusage"
    RELAY_BIN = B.BUILD / "bench" / "relay"
    FLOWLOAD_BIN = B.BUILD / "bench" / "flowload"
    CURSESFLOOR_BIN = B.BUILD / "bench" / "cursesfloor"
    CURL_FLOW = B.ROOT / "tests" / "bench" / "curl-flow.sh"


def secrets():
    """flowload's and curl-flow.sh's stdin: yamada01's password, answer and PINs (demo data)."""
    return ("%s\n%s\n%s\n" % (B.YAMADA[1], B.YAMADA_ANSWER,
                              " ".join("%s=%s" % kv for kv in B.YAMADA_PINS.items()))).encode("utf-8")


def ratio(what, figure, target, verdict):
    """One row of the closing table; verdict True (meets), False (misses) or None (no target)."""
    RATIOS.append((what, figure, target, {True: "meets", False: "MISSES", None: ""}[verdict]))


def with_rusage(argv):
    """(argv run under build/bench/rusage, the file it writes its figures to)."""
    fd, out = tempfile.mkstemp(prefix="rusage-")
    os.close(fd)
    return [RUSAGE_BIN, out] + list(argv), out


def read_rusage(path):
    """build/bench/rusage's line: {"status", "cpu" (user+sys ms), "rss" (ru_maxrss kB)}."""
    try:
        p = Path(path).read_text().split()
    finally:
        os.unlink(path)
    v = dict(zip(p[0::2], p[1::2]))
    return {"status": int(v["status"]), "cpu": float(v["user_ms"]) + float(v["sys_ms"]),
            "rss": int(v["maxrss_kb"])}


def wait_child(pid):
    """wait4: (exit status, rusage) of the child pid (and of the children it waited for)."""
    _, st, ru = os.wait4(pid, 0)
    return os.waitstatus_to_exitcode(st), ru


def child_of(pid):
    """The one child of pid (build/bench/rusage's program), or None."""
    try:
        kids = Path("/proc/%d/task/%d/children" % (pid, pid)).read_text().split()
    except OSError:
        return None
    return int(kids[0]) if kids else None


def memory(pid):
    """pid's memory now, kB, from /proc/PID/smaps_rollup and status: {"hwm", "rss", "anon", "file"}
    (anon: its heap, stacks and library data; file: pages of its executable and libraries)."""
    v = {}
    try:
        for name in ("smaps_rollup", "status"):
            for ln in Path("/proc/%d/%s" % (pid, name)).read_text().splitlines():
                p = ln.split()
                if len(p) >= 2 and p[0].endswith(":") and p[1].isdigit():
                    v.setdefault(p[0][:-1], int(p[1]))
    except OSError:
        return None
    return {"hwm": v.get("VmHWM", 0), "rss": v.get("Rss", 0), "anon": v.get("Anonymous", 0),
            "file": v.get("Rss", 0) - v.get("Anonymous", 0)}


def clean_env(extra=None):
    cfg = Path(tempfile.gettempdir()) / "rk-bench-noconfig"
    cfg.mkdir(exist_ok=True)
    env = {"LANG": "C.UTF-8", "TERM": "xterm-256color", "HOME": os.environ.get("HOME", "/tmp"),
           "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "XDG_CONFIG_HOME": str(cfg)}
    env.update(extra or {})
    return env


# ---------------------------------------------------------------------------------------------
# The relay and the pty

class Relay:
    """build/bench/relay to the sandbox's port, DELAY ms added to each client->server chunk;
    .accepted is the count of connections it took (known once stopped)."""

    def __init__(self, port, delay_ms=0):
        self.proc = subprocess.Popen([str(RELAY_BIN), str(port), str(delay_ms)], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, text=True)
        B._cleanup.append(self.stop)
        first = self.proc.stdout.readline().split()
        if len(first) != 2 or first[0] != "port":
            self.stop()
            raise RuntimeError("relay printed no port")
        self.port = int(first[1])
        self.url = "https://127.0.0.1:%d" % self.port
        self.accepted = None

    def stop(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
        rest = self.proc.stdout.read()
        self.proc.wait(10)
        if self.accepted is None:
            self.accepted = rest.count("accept ")
        if self.stop in B._cleanup:
            B._cleanup.remove(self.stop)
        return self.accepted


class Pty:
    """argv on a new pty of cols x rows; every byte it writes is kept in .buf with the time of the
    read that got it. Reading is the only way to wait here (select on the master)."""

    def __init__(self, argv, env, cols=80, rows=24):
        m, s = os.openpty()
        fcntl.ioctl(s, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self.errf = tempfile.TemporaryFile()
        self.t0 = time.perf_counter()
        self.proc = subprocess.Popen([str(a) for a in argv], stdin=s, stdout=s, stderr=self.errf, env=env,
                                     cwd=str(B.ROOT), start_new_session=True)
        os.close(s)
        self.fd = m
        self.buf = bytearray()
        self.last = self.t0
        self.eof = False
        self.status = self.ru = None
        B._cleanup.append(self.close)

    def read(self, timeout):
        """One read (waiting at most timeout s); the bytes read (0 on timeout, -1 at the end)."""
        if self.eof:
            return -1
        r, _, _ = select.select([self.fd], [], [], max(0.0, timeout))
        if not r:
            return 0
        try:
            d = os.read(self.fd, 65536)
        except OSError:  # EIO: the slave side is closed
            d = b""
        if not d:
            self.eof = True
            return -1
        self.buf += d
        self.last = time.perf_counter()
        return len(d)

    def wait_for(self, marker, start, timeout=10.0):
        """Read until marker (bytes) is in buf[start:]; returns the time it was read."""
        deadline = time.perf_counter() + timeout
        while self.buf.find(marker, start) < 0:
            if self.read(deadline - time.perf_counter()) < 0 or time.perf_counter() >= deadline:
                raise RuntimeError("%s: no %r on the screen within %.0f s (exit %s): ...%r"
                                   % (self.proc.args[0], marker.decode(), timeout, self.proc.poll(),
                                      bytes(self.buf[-300:])))
        return self.last

    def settle(self, quiet=0.04, timeout=5.0):
        """Read until the output has been quiet for `quiet` s; returns the time of the last byte."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline and self.read(quiet) > 0:
            pass
        return self.last

    def send(self, data):
        os.write(self.fd, data)

    def finish(self, timeout=10.0):
        """Read to the end, then wait4: (exit status, rusage); the time of exit is .t_exit."""
        deadline = time.perf_counter() + timeout
        while not self.eof and time.perf_counter() < deadline:
            self.read(deadline - time.perf_counter())
        self.status, self.ru = wait_child(self.proc.pid)
        self.t_exit = time.perf_counter()
        self.proc.returncode = self.status
        return self.status, self.ru

    def stderr(self):
        self.errf.seek(0)
        return self.errf.read().decode("utf-8", "replace")

    def close(self):
        if self.status is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)  # its own session: the program and its children
                self.finish(5)
            except (ProcessLookupError, ChildProcessError):
                pass
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        if self.close in B._cleanup:
            B._cleanup.remove(self.close)


# ---------------------------------------------------------------------------------------------
# The flow three ways

def renkei_steps(user_code):
    """(what the screen shows, the keys for it): yamada01 through every screen (src/ui's forms)."""
    pins = [B.YAMADA_PINS["2000002"], B.YAMADA_PINS["1111111"]]
    return [
        ("決定", user_code.encode() + KEYS["Enter"]),                             # code
        ("電子証明書方式", KEYS["Enter"]),                                        # partner: ID・パスワード方式
        ("ログインパスワード", ("%s\r%s\r" % B.YAMADA).encode()),                 # login
        ("証券名を入力してください", B.YAMADA_ANSWER.encode() + KEYS["Enter"]),    # question
        ("認可業務選択", KEYS["Enter"]),                                          # scopes
        ("未登録", KEYS["BTab"] + KEYS["Space"] + KEYS["Tab"] + pins[0].encode() + KEYS["Tab"] * 2 +
         KEYS["BTab"] + KEYS["Space"] + KEYS["Tab"] + pins[1].encode() + KEYS["Enter"]),  # pins
        ("照会用暗証番号の追加登録", KEYS["Enter"]),                               # pin result
        ("許可手続きを継続する", ALLOW),        # permission
        ("利用登録が完了しました", KEYS["Enter"]),                                 # done: 終了
    ]


def run_renkei(url):
    """The partner's device authorization (timed, on a connection made beforehand), renkei from exec
    to exit through every screen, the partner's token request (timed). Returns a dict."""
    port = int(url.rsplit(":", 1)[1])
    conn = B.Conn("127.0.0.1", port, timeout=30, context=B.ssl_ctx())
    conn.connect()
    try:
        st, da, t_da = B.request(conn, "POST", "/oauth/device_authorization",
                                 form={"client_id": "kakeibo-demo", "scope": "balance transactions"})
        assert st == 200, (st, da)
        argv, ru_file = with_rusage([B.CLIENT_BIN, "--server", url, "--cacert", B.CACERT])
        p = Pty(argv, clean_env())
        sent_at = 0
        mem = None
        seen, sent = [], []
        try:
            for marker, keys in renkei_steps(da["user_code"]):
                seen.append(p.wait_for(marker.encode(), sent_at))
                if keys == KEYS["Enter"] and marker == "利用登録が完了しました":
                    kid = child_of(p.proc.pid)
                    mem = memory(kid) if kid else None  # on the done screen
                sent_at = len(p.buf)
                p.send(keys)
                sent.append(time.perf_counter())
            rc, _ = p.finish()
        finally:
            p.close()
        ru = read_rusage(ru_file)
        if rc != 0:
            raise RuntimeError("renkei exited %d: %s" % (rc, p.stderr()[-300:]))
        st, tok, t_tok = B.request(conn, "POST", "/oauth/token", form={
            "grant_type": B.DEVICE_GRANT, "device_code": da["device_code"], "client_id": "kakeibo-demo"})
        assert st == 200 and tok.get("access_token"), (st, tok)
    finally:
        conn.close()
    phases = {"start": seen[0] - p.t0, "first": seen[1] - sent[0],
              "screens": sum(seen[i] - sent[i - 1] for i in range(2, len(seen))), "exit": p.t_exit - sent[-1],
              "partner": t_da + t_tok}
    return {"wall": t_da + (p.t_exit - p.t0) + t_tok, "cpu": ru["cpu"], "rss": ru["rss"], "partner_conns": 1,
            "mem": mem, "phases": phases}


def run_piped(argv):
    """argv with the demo secrets on stdin, from exec to exit: a dict (wall, cpu, rss, stdout)."""
    argv, ru_file = with_rusage(argv)
    t0 = time.perf_counter()
    p = subprocess.Popen([str(a) for a in argv], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, cwd=str(B.ROOT), env=clean_env())
    p.stdin.write(secrets())
    p.stdin.close()
    out = p.stdout.read().decode("utf-8", "replace")
    err = p.stderr.read().decode("utf-8", "replace")
    rc, _ = wait_child(p.pid)
    wall = time.perf_counter() - t0
    p.returncode = rc
    ru = read_rusage(ru_file)
    if rc != 0:
        raise RuntimeError("%s exited %d: %s" % (Path(str(argv[2])).name, rc, (err or out)[-300:]))
    return {"wall": wall, "cpu": ru["cpu"], "rss": ru["rss"], "partner_conns": 0, "out": out}


VARIANTS = {
    "floor": lambda url: run_piped([FLOWLOAD_BIN, url, B.CACERT, 1, 1]),
    "curl": lambda url: run_piped(["sh", CURL_FLOW, url, B.CACERT]),
    "renkei": run_renkei,
}


def bench_flows(workdir, delay):
    """Each round runs the three (in a rotating order) on fresh sandboxes behind the relay."""
    res = {k: [] for k in VARIANTS}
    names = list(VARIANTS)
    for r in range(FLOW_ROUNDS[delay]):
        for name in names[r % 3:] + names[:r % 3]:
            sb = B.Sandbox(workdir)
            relay = Relay(sb.port, delay)
            try:
                fig = VARIANTS[name](relay.url)
            finally:
                fig_conns = relay.stop()
                sb.stop()
            fig["conns"] = fig_conns - fig["partner_conns"]
            res[name].append(fig)
    med = {k: statistics.median(f["wall"] for f in v) for k, v in res.items()}
    tag = "+%d ms/round trip" % delay if delay else "loopback"
    n = FLOW_ROUNDS[delay]
    B.row("flow", "yamada01 flow, %s (%d rounds each, p50)" % (tag, n), "")
    B.row("flow", "  floor: flowload, 9 requests on one kept-alive connection",
          "%7.1f ms   cpu %5.1f ms   %d connection(s)" % (B.ms(med["floor"]), statistics.median(
              f["cpu"] for f in res["floor"]), res["floor"][0]["conns"]))
    B.row("flow", "  curl per request: 9 curl processes (curl-flow.sh)",
          "%7.1f ms   cpu %5.1f ms   %d connection(s)" % (B.ms(med["curl"]), statistics.median(
              f["cpu"] for f in res["curl"]), res["curl"][0]["conns"]))
    B.row("flow", "  renkei in a pty, keys as fast as it takes them (+ partner's 2)",
          "%7.1f ms   cpu %5.1f ms   %d connection(s)   peak RSS %.1f MiB" % (
              B.ms(med["renkei"]), statistics.median(f["cpu"] for f in res["renkei"]),
              res["renkei"][0]["conns"], max(f["rss"] for f in res["renkei"]) / 1024.0))
    ph = {k: statistics.median(f["phases"][k] for f in res["renkei"]) for k in res["renkei"][0]["phases"]}
    B.row("flow", "    renkei's time, p50: exec to first screen / code Enter to the partner",
          "%.1f / %.1f ms (the first request: TCP + TLS + POST sessions)" % (B.ms(ph["start"]), B.ms(ph["first"])))
    B.row("flow", "    the other 7 screens (6 requests) / Enter to exit / partner's 2",
          "%.1f / %.1f / %.1f ms" % (B.ms(ph["screens"]), B.ms(ph["exit"]), B.ms(ph["partner"])))
    low = {k: min(f["wall"] for f in v) for k, v in res.items()}
    B.row("flow", "  fastest round: floor / curl per request / renkei",
          "%.1f / %.1f / %.1f ms" % (B.ms(low["floor"]), B.ms(low["curl"]), B.ms(low["renkei"])))
    rf, cr = med["renkei"] / med["floor"], med["curl"] / med["renkei"]
    FIG["flow%d" % delay] = med
    ratio("renkei / floor, whole flow, %s" % tag, "%.2fx  (%.1f / %.1f ms; fastest %.2fx)" % (
        rf, B.ms(med["renkei"]), B.ms(med["floor"]), low["renkei"] / low["floor"]), "<= 1.10x", rf <= 1.10)
    ratio("curl per request / renkei, %s" % tag, "%.2fx  (%.1f / %.1f ms)" % (cr, B.ms(med["curl"]),
          B.ms(med["renkei"])), ">= 3x", cr >= 3.0)
    if delay == 0:
        cpu = statistics.median(f["cpu"] for f in res["renkei"])
        rss = max(f["rss"] for f in res["renkei"]) / 1024.0
        FIG["cpu"], FIG["rss"] = cpu, rss
        ratio("renkei CPU per flow (user+sys, wait4)", "%.1f ms  (floor %.1f ms: %.1fx)" % (
            cpu, statistics.median(f["cpu"] for f in res["floor"]),
            cpu / max(0.1, statistics.median(f["cpu"] for f in res["floor"]))), "<= 40 ms", cpu <= 40)
        mem = next((f["mem"] for f in res["renkei"] if f.get("mem")), None)
        if mem:
            B.row("flow", "  renkei's memory on the done screen (smaps_rollup)",
                  "RSS %.1f MiB = %.1f MiB anonymous + %.1f MiB file pages (executable, libraries)" % (
                      mem["rss"] / 1024.0, mem["anon"] / 1024.0, mem["file"] / 1024.0))
        ratio("renkei peak RSS (ru_maxrss)", "%.1f MiB  (floor %.1f MiB%s)" % (
            rss, max(f["rss"] for f in res["floor"]) / 1024.0,
            "; anon %.1f MiB" % (mem["anon"] / 1024.0) if mem else ""), "<= 12 MiB", rss <= 12)


def bench_flows_loopback(workdir):
    bench_flows(workdir, 0)


def bench_flows_latency(workdir):
    bench_flows(workdir, 50)


# ---------------------------------------------------------------------------------------------
# The certificate flow (suzuki03, SoftHSM2 token) in the pty

CERT_STEPS = [  # (mark, what the screen shows, keys); marks time the phases
    (None, "電子証明書方式", KEYS["Tab"] + KEYS["Enter"]),               # partner: 電子証明書方式
    ("chooser", "電子証明書ログイン", KEYS["Enter"]),                     # login_certificate: open the chooser
    ("listed", "電子証明書の選択", KEYS["Enter"]),                        # chooser: 鈴木花子's valid one (first)
    ("pin", "ICカードのPIN入力", None),                                   # token PIN (typed below)
    ("password", "有効期限：", None),                                     # certificate chosen: the password
    ("scopes", "認可業務選択", KEYS["Enter"]),
    (None, "未登録", KEYS["BTab"] + KEYS["Space"] + KEYS["Tab"] + b"2468" + KEYS["Enter"]),  # 3000003
    (None, "照会用暗証番号の追加登録", KEYS["Enter"]),
    (None, "許可手続きを継続する", ALLOW),
    ("done", "利用登録が完了しました", KEYS["Enter"]),
]


def bench_certflow(workdir):
    """suzuki03's certificate flow: renkei in the pty with the demo token, through the relay."""
    module = B.softhsm_module()
    conf = B.make_token(workdir)
    sb = B.Sandbox(workdir)
    relay = Relay(sb.port)
    t = {}
    try:
        da = B.device_authorization(sb)
        argv, ru_file = with_rusage([B.CLIENT_BIN, "--server", relay.url, "--cacert", B.CACERT, "--user-code",
                                     da["user_code"], "--pkcs11-module", module])
        p = Pty(argv, clean_env({"SOFTHSM2_CONF": conf}))
        try:
            at = 0
            for mark, screen, keys in CERT_STEPS:
                seen = p.wait_for(screen.encode(), at)
                if mark:
                    t[mark] = seen
                keys = keys or {"pin": B.TOKEN_PIN.encode() + KEYS["Enter"],
                                "password": B.SUZUKI[1].encode() + KEYS["Enter"]}[mark]
                at = len(p.buf)
                p.send(keys)
                t["sent_" + (mark or "")] = time.perf_counter()
            rc, _ = p.finish()
        finally:
            p.close()
        ru = read_rusage(ru_file)
        if rc != 0:
            raise RuntimeError("renkei exited %d: %s" % (rc, p.stderr()[-300:]))
    finally:
        conns = relay.stop()
        sb.stop()
    B.row("cert", "suzuki03 certificate flow in the pty, exec to exit (SoftHSM2)",
          "%.0f ms   cpu %.1f ms   peak RSS %.1f MiB" % (B.ms(p.t_exit - p.t0), ru["cpu"], ru["rss"] / 1024.0))
    B.row("cert", "  Enter on the certificate button to the chooser (module loaded, listed)",
          "%.1f ms" % B.ms(t["listed"] - t["sent_chooser"]))
    B.row("cert", "  token PIN Enter to the certificate chosen (C_Login + key)", "%.1f ms" % B.ms(
        t["password"] - t["sent_pin"]))
    B.row("cert", "  password Enter to the scopes screen (card's TLS handshake + login)", "%.1f ms" % B.ms(
        t["scopes"] - t["sent_password"]))
    B.row("cert", "  TCP connections (= TLS handshakes) the client opened", "%d  (counted by the relay)" % conns)
    FIG["cert_conns"] = conns
    ratio("certificate flow: TLS handshakes per flow", "%d" % conns, "(1 if the card came first)", None)


# ---------------------------------------------------------------------------------------------
# First screen and terminal bytes

DIALOG_TEXT = "「ログインID」、「ログインパスワード」を入力して、「API連携」ボタンを押してください。"


def dialog_argv():
    # --mixedform: label y x item y x flen ilen itype (1: hidden); the login screen's two entries
    return ["dialog", "--title", "API連携認証（利用登録）", "--ok-label", "API連携", "--mixedform", DIALOG_TEXT,
            "24", "80", "2", "ログインID ※", "1", "2", "", "1", "24", "30", "64", "0",
            "ログインパスワード ※", "2", "2", "", "2", "24", "30", "128", "1"]


def first_screen(argv, marker, env=None):
    """exec -> the first screen painted: (seconds to the last byte of the first paint, bytes)."""
    p = Pty(argv, clean_env(env))
    try:
        p.wait_for(marker.encode(), 0)
        t = p.settle()
        n = len(p.buf)
    finally:
        p.close()
    return t - p.t0, n


def key_bytes(p, keys):
    """Bytes the program writes for each key of keys, each key sent once the previous one's output
    has gone quiet. Returns the list of counts."""
    out = []
    for k in keys:
        n0 = len(p.buf)
        p.send(k)
        deadline = time.perf_counter() + 5
        while len(p.buf) == n0 and p.read(deadline - time.perf_counter()) >= 0 and time.perf_counter() < deadline:
            pass
        p.settle(0.03)
        out.append(len(p.buf) - n0)
    return out


def bench_screen(workdir):
    sb = B.Sandbox(workdir)
    dialog = B.shutil.which("dialog")
    try:
        progs = [("renkei", [B.CLIENT_BIN, "--server", sb.url, "--cacert", B.CACERT], "決定"),
                 ("cursesfloor", [CURSESFLOOR_BIN], "決定"),
                 ("+libs", [Path(str(CURSESFLOOR_BIN) + "-libs")], "決定")]
        if dialog:
            progs.append(("dialog", dialog_argv(), "ancel"))
        times = {k: [] for k, _, _ in progs}
        nbytes = {}
        for _ in range(SCREEN_RUNS):
            for name, argv, marker in progs:
                t, n = first_screen(argv, marker)
                times[name].append(t)
                nbytes[name] = n
        med = {k: statistics.median(v) for k, v in times.items()}
        B.row("screen", "exec to the first screen painted, 80x24 (%d runs, p50)" % SCREEN_RUNS,
              "   ".join("%s %.1f ms" % (k, B.ms(v)) for k, v in med.items()))
        B.row("screen", "bytes of the first paint (TERM=xterm-256color)",
              "   ".join("%s %d" % (k, v) for k, v in nbytes.items()))
        login_paint, per_id, per_pw = renkei_key_bytes(sb)
        B.row("screen", "renkei: the login screen's paint (from Enter on the partner screen)", "%d bytes" % login_paint)
        B.row("screen", "renkei: bytes per keystroke, login ID / masked password",
              "%.1f / %.1f   (%s / %s)" % (statistics.mean(per_id), statistics.mean(per_pw),
                                           ",".join(map(str, per_id)), ",".join(map(str, per_pw))))
        r = med["renkei"] / med["cursesfloor"]
        ratio("first screen, renkei", "%.1f ms" % B.ms(med["renkei"]), "<= 20 ms", B.ms(med["renkei"]) <= 20)
        ratio("first screen, renkei / bare curses", "%.2fx  (%.1f / %.1f ms)" % (
            r, B.ms(med["renkei"]), B.ms(med["cursesfloor"])), "<= 1.5x", r <= 1.5)
        r = med["renkei"] / med["+libs"]
        ratio("  renkei / bare curses loading renkei's libraries", "%.2fx  (%.1f / %.1f ms)" % (
            r, B.ms(med["renkei"]), B.ms(med["+libs"])), "", None)
        if not dialog:
            B.row("screen", "dialog(1)", "(not installed: make bench installs it; rows skipped)")
            ratio("keystroke bytes, renkei / dialog", "%.1f B (dialog not installed)" % statistics.mean(per_id),
                  "<= 34 B", statistics.mean(per_id) <= 34)
            return
        d_id, d_pw = dialog_key_bytes()
        B.row("screen", "dialog --mixedform: bytes per keystroke, ID / hidden field",
              "%.1f / %.1f   (%s / %s)" % (statistics.mean(d_id), statistics.mean(d_pw),
                                           ",".join(map(str, d_id)), ",".join(map(str, d_pw))))
        ratio("first screen, renkei / dialog", "%.2fx  (%.1f / %.1f ms)" % (
            med["renkei"] / med["dialog"], B.ms(med["renkei"]), B.ms(med["dialog"])), "", None)
        kb, dk = statistics.mean(per_id), statistics.mean(d_id)
        ratio("bytes per keystroke in the ID field, renkei / dialog", "%.2fx  (%.1f / %.1f B)" % (kb / dk, kb, dk),
              "<= 34 B (dialog's)", kb <= 34)
        ratio("  masked password: renkei / dialog's hidden field", "%.1f / %.1f B  (dialog echoes nothing)" % (
            statistics.mean(per_pw), statistics.mean(d_pw)), "<= 34 B", statistics.mean(per_pw) <= 34)
        ratio("first paint bytes, renkei code screen / dialog form", "%.2fx  (%d / %d B)" % (
            nbytes["renkei"] / nbytes["dialog"], nbytes["renkei"], nbytes["dialog"]), "(expected > 1)", None)
        ratio("login screen bytes, renkei / dialog form", "%.2fx  (%d / %d B)" % (
            login_paint / nbytes["dialog"], login_paint, nbytes["dialog"]), "(expected > 1)", None)
    finally:
        sb.stop()


def renkei_key_bytes(sb):
    """renkei to the login screen; its paint's bytes; bytes per key typing yamada01's ID and password."""
    conn = B.connect(sb)
    st, da, _ = B.request(conn, "POST", "/oauth/device_authorization",
                          form={"client_id": "kakeibo-demo", "scope": "balance transactions"})
    conn.close()
    assert st == 200, (st, da)
    p = Pty([B.CLIENT_BIN, "--server", sb.url, "--cacert", B.CACERT], clean_env())
    try:
        steps = renkei_steps(da["user_code"])
        p.wait_for(b"\xe6\xb1\xba\xe5\xae\x9a", 0)  # 決定
        p.settle()
        p.send(steps[0][1])
        at = len(p.buf)
        p.wait_for("電子証明書方式".encode(), at)
        p.settle()
        at = len(p.buf)
        p.send(KEYS["Enter"])
        p.wait_for("ログインパスワード".encode(), at)
        p.settle()
        login_paint = len(p.buf) - at
        per_id = key_bytes(p, [c.encode() for c in B.YAMADA[0]])
        key_bytes(p, [KEYS["Enter"]])
        per_pw = key_bytes(p, [c.encode() for c in B.YAMADA[1]])
    finally:
        p.close()
    return login_paint, per_id, per_pw


def dialog_key_bytes():
    p = Pty(dialog_argv(), clean_env())
    try:
        p.wait_for(b"ancel", 0)
        p.settle()
        per_id = key_bytes(p, [c.encode() for c in B.YAMADA[0]])
        key_bytes(p, [KEYS["Down"]])
        per_pw = key_bytes(p, [c.encode() for c in B.YAMADA[1]])
    finally:
        p.close()
    return per_id, per_pw


# ---------------------------------------------------------------------------------------------
# The sandbox under load

def load_scenario(workdir, count, **limits):
    """The demo scenario plus count copies of yamada01 (load00000...: its password, question and
    accounts, one transaction each) so that every flow of a run registers PINs; limits changed."""
    sc = json.loads(subprocess.run([str(B.SANDBOX_BIN), "--print-scenario"], capture_output=True, check=True,
                                   timeout=10, stdin=subprocess.DEVNULL).stdout)
    y = next(c for c in sc["customers"] if c["login_id"] == B.YAMADA[0])
    for i in range(count):
        c = json.loads(json.dumps(y))
        c["login_id"] = "load%05d" % i
        c.pop("certificates", None)
        c.pop("comment", None)
        for j, a in enumerate(c["accounts"]):
            a["id"] = "acc-L%05d-%d" % (i, j)
            a["transactions"] = a.get("transactions", [])[:1]
        sc["customers"].append(c)
    sc["limits"].update(limits)
    path = Path(tempfile.mkstemp(prefix="load-", suffix=".json", dir=workdir)[1])
    path.write_text(json.dumps(sc, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
    return path


def proc_cpu_ms(pid):
    with open("/proc/%d/stat" % pid) as f:
        p = f.read().rsplit(")", 1)[1].split()
    return (int(p[11]) + int(p[12])) * 1000.0 / os.sysconf("SC_CLK_TCK")


def proc_kb(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for ln in f:
            if ln.startswith(key + ":"):
                return int(ln.split()[1])
    return 0


def flowload(url, n, flows, extra=(), customers=None, timeout=120):
    argv = [FLOWLOAD_BIN, url, B.CACERT, n, flows] + list(extra)
    if customers:
        argv += ["--logins", "load", customers]
    r = subprocess.run([str(a) for a in argv], input=secrets(), capture_output=True, timeout=timeout,
                       cwd=str(B.ROOT))
    out = {"info": {}, "step": {}, "rc": r.returncode, "err": r.stderr.decode("utf-8", "replace")}
    for ln in r.stdout.decode().splitlines():
        p = ln.split()
        if p[0] == "info":
            out["info"][p[1]] = float(p[2])
        elif p[0] == "step":
            out["step"][p[1]] = tuple(float(x) for x in p[2:])
        elif p[0] in ("flow", "setup"):
            out[p[0]] = tuple(float(x) for x in p[1:])
    if "flow" not in out and out["info"].get("flows", 0) > 0:
        raise RuntimeError("flowload printed no figures: %s" % out["err"][-300:])
    return out


def bench_load(workdir):
    customers = max(n * f for n, f in LOAD)
    sc = load_scenario(workdir, customers)
    for mode, extra in (("kept-alive connection", []), ("new TLS connection per flow", ["--new-conn"])):
        B.row("load", "flowload (libcurl multi), whole flows, %s" % mode, "")
        for n, flows in LOAD:
            sb = B.Sandbox(workdir, ["--scenario", str(sc)])
            try:
                cpu0 = proc_cpu_ms(sb.pid)
                r = flowload(sb.url, n, flows, extra, customers)
                cpu = proc_cpu_ms(sb.pid) - cpu0
                rss, hwm = proc_kb(sb.pid, "VmRSS"), proc_kb(sb.pid, "VmHWM")
            finally:
                sb.stop()
            info = r["info"]
            fl = info.get("flows", 0)
            rate = fl / info["seconds"] if info.get("seconds") else 0.0
            p99 = max((v[2] for v in r["step"].values()), default=float("nan"))
            worst = max(r["step"].items(), key=lambda kv: kv[1][2])[0] if r["step"] else "-"
            p50 = statistics.median(v[1] for v in r["step"].values()) if r["step"] else float("nan")
            B.row("load", "  N=%-2d x %d flows: flows/s, step p50 (median) / worst p99, errors" % (n, flows),
                  "%6.0f flows/s   p50 %5.2f ms   p99 %6.2f ms (%s)   errors %d   %d conns"
                  % (rate, p50, p99, worst, info.get("errors", -1), info.get("connects", 0)))
            if "setup" in r:
                B.row("load", "    new connections: TCP + TLS handshake p50 / p99 (not in the steps)",
                      "%.2f / %.2f ms   (%d)" % (r["setup"][1], r["setup"][2], r["setup"][0]))
            B.row("load", "    sandbox CPU per flow, cores busy, RSS / peak",
                  "%5.2f ms   %.2f   %.1f / %.1f MiB" % (cpu / max(1, fl), cpu / 1000.0 / info["seconds"],
                                                         rss / 1024.0, hwm / 1024.0))
            if n == 8:
                B.row("load", "    p99 of each step (ms)", "  ".join("%s %.1f" % (k, v[2]) for k, v in r["step"].items()))
            if n == 8 and not extra:
                FIG["load8"] = (rate, p99, info.get("errors", -1))
                ratio("sandbox flows/s at N=8 (kept-alive)", "%.0f flows/s  (N=1 at this run: %.0f)" % (
                    rate, FIG.get("load1", float("nan"))), ">= 500 flows/s", rate >= 500)
                ratio("sandbox p99 of a step at N=8 (%s)" % worst, "%.2f ms" % p99, "<= 5 ms", p99 <= 5)
                ratio("load errors (all runs so far, N=8)", "%d" % info.get("errors", -1), "0",
                      info.get("errors", -1) == 0)
            if n == 1 and not extra:
                FIG["load1"] = rate
            if r["rc"] != 0:
                B.row("load", "    flowload's first errors", r["err"].strip().splitlines()[0][:100])


# ---------------------------------------------------------------------------------------------
# State growth

def db_size(path):
    return sum(os.path.getsize(str(path) + s) for s in ("", "-wal") if os.path.exists(str(path) + s))


def table_counts(path):
    con = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
    try:
        names = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
        out = {n: con.execute('SELECT count(*) FROM "%s"' % n).fetchone()[0] for n in names}
        try:
            out["expired sessions"] = con.execute(
                "SELECT count(*) FROM consent_sessions WHERE expired = 1").fetchone()[0]
        except sqlite3.Error:
            pass
        return out
    finally:
        con.close()


def growth_run(workdir, sc, n, extra, settle=0.0):
    """A sandbox on a fresh state file: n flows (extra: flowload options) by 8 clients, in
    GROWTH_CHUNKS chunks; returns {"size": [file bytes before and after each chunk], "rss": [kB
    likewise], "rate": [flows/s of each chunk], "errors", "rows": row counts after stop}."""
    state = Path(tempfile.mkdtemp(prefix="state-", dir=workdir)) / "state.sqlite"
    sb = B.Sandbox(workdir, ["--scenario", str(sc), "--state", str(state)])
    out = {"size": [], "rss": [], "rate": [], "errors": 0, "flows": 0}
    try:
        B.request(B.connect(sb), "GET", B.META)  # the file and its tables exist
        out["size"].append(db_size(state))
        out["rss"].append(proc_kb(sb.pid, "VmRSS"))
        for _ in range(GROWTH_CHUNKS):
            r = flowload(sb.url, 8, n // 8 // GROWTH_CHUNKS, extra, 400, timeout=150)
            out["rate"].append(r["info"].get("flows", 0) / max(1e-9, r["info"].get("seconds", 0)))
            out["errors"] += int(r["info"].get("errors", 0))
            out["flows"] += int(r["info"].get("flows", 0))
            out["size"].append(db_size(state))
            out["rss"].append(proc_kb(sb.pid, "VmRSS"))
        if settle:
            # the sessions' idle time passes, a request's sweep ends them; keep_ended_seconds passes,
            # the next sweep takes them out of the state (nothing is measured meanwhile)
            for _ in range(2):
                time.sleep(settle)
                flowload(sb.url, 1, 1, ["--sessions-only"], 400)
            out["size"].append(db_size(state))
            out["rss"].append(proc_kb(sb.pid, "VmRSS"))
    finally:
        sb.stop()
    out["size"].append(db_size(state))  # after the stop (WAL checkpointed)
    out["empty"] = empty_state_size(workdir, sc)
    out["rows"] = table_counts(state)
    return out


def empty_state_size(workdir, sc):
    """The state file of a sandbox started, asked once and stopped: the schema alone."""
    state = Path(tempfile.mkdtemp(prefix="state-", dir=workdir)) / "state.sqlite"
    sb = B.Sandbox(workdir, ["--scenario", str(sc), "--state", str(state)])
    try:
        B.request(B.connect(sb), "GET", B.META)
    finally:
        sb.stop()
    return db_size(state)


def growth_rows(what, g):
    n = max(1, g["flows"])
    per = 10000.0 / n
    d_file = (g["size"][-1] - g["empty"]) / 1048576.0
    d_rss = (max(g["rss"]) - g["rss"][0]) / 1024.0
    B.row("growth", "%d %s (8 clients, %d chunks)" % (n, what, GROWTH_CHUNKS),
          "file (after stop) +%.2f MiB (%.0f B each)   RSS +%.1f MiB   errors %d" % (
              d_file, (g["size"][-1] - g["empty"]) / n, d_rss, g["errors"]))
    B.row("growth", "  file + WAL after each chunk / flows/s of each chunk",
          "%s MiB  /  %s" % (" ".join("%.2f" % (x / 1048576.0) for x in g["size"][1:GROWTH_CHUNKS + 1]),
                             " ".join("%.0f" % x for x in g["rate"])))
    B.row("growth", "  rows left (after the stop)", ", ".join("%s %d" % kv for kv in sorted(g["rows"].items())))
    return d_file * per, d_rss * per


def bench_growth(workdir):
    sc = load_scenario(workdir, 400)
    g = growth_run(workdir, sc, GROWTH_N, [])
    f, r = growth_rows("grants", g)
    ratio("state file per 10,000 grants (from %d)" % g["flows"], "+%.1f MiB  (RSS +%.1f MiB; flows/s %.0f -> %.0f)" % (
        f, r, g["rate"][0], g["rate"][-1]), "(bounded?)", None)
    sc2 = load_scenario(workdir, 400, session_idle_seconds=1, keep_ended_seconds=1)
    g = growth_run(workdir, sc2, GROWTH_N, ["--sessions-only"], settle=1.5)
    f, r = growth_rows("sessions left to expire (idle 1 s, kept 1 s after), then two requests", g)
    rows = g["rows"]
    ratio("state file per 10,000 expired sessions (from %d)" % g["flows"],
          "+%.1f MiB  (%d sessions, %d device codes kept)" % (f, rows.get("consent_sessions", -1),
                                                              rows.get("device_auth", -1)),
          "(ended ones gone; codes live 600 s)", None)


def ratio_lines():
    """The closing table, as printed (README's Building section shows the latest one)."""
    if not RATIOS:
        return []
    rows = RATIOS + [("ratio / figure (same run)", "measured", "target", "")]
    w, f, t = (max(len(x[i]) for x in rows) for i in range(3))
    out = ["%-*s  %-*s  %-*s  %s" % (w, "ratio / figure (same run)", f, "measured", t, "target", ""),
           "%s  %s  %s  %s" % ("-" * w, "-" * f, "-" * t, "------")]
    out += ["%-*s  %-*s  %-*s  %s" % (w, what, f, fig, t, target, verdict) for what, fig, target, verdict in RATIOS]
    return [ln.rstrip() for ln in out]


def print_ratios(path=None):
    """Prints the closing table, and writes it to path (build/bench/ratios.txt)."""
    lines = ratio_lines()
    if not lines:
        return
    print()
    print("\n".join(lines))
    if path:
        Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")
