"""Shared pytest fixtures for renkei's Python tests (sandbox protocol tests and terminal tests).

Run with Debian's interpreter: /usr/bin/python3 -m pytest -q tests/   (stdlib + pytest only)

Fixtures
  pki       (session) the test PKI made by scripts/mkcerts.sh in build/test-pki; a pathlib.Path.
  sandbox   factory: sandbox(scenario=None, state=None, args=(), tls_dir=None) -> Sandbox, started
            on a free loopback port and stopped by PID at teardown (SIGTERM, exit status 0 asserted).
  curl      curl(method, url, json=..., form=..., data=..., headers=..., bearer=..., cert=...) -> Response
            (the curl CLI; Sandbox.request uses http.client, or curl too with RENKEI_HTTP=curl)
  term      factory: term(argv, width=80, height=24, env=None, term="xterm-256color") -> Term, a
            program running in a private tmux server (send, screen, wait_for, resize, wait_exit).
  run_sandbox  run_sandbox(args, timeout=10) -> CompletedProcess, for start-up failures.

Environment: RENKEI_BUILD=DIR uses another build tree (default build/).
"""

import http.client
import json as _json
import os
import re
import shlex
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BUILD = Path(os.environ.get("RENKEI_BUILD", str(ROOT / "build")))
if not BUILD.is_absolute():
    BUILD = ROOT / BUILD
SANDBOX_BIN = BUILD / "renkei-sandbox"
CLIENT_BIN = BUILD / "renkei"
PKI_DIR = ROOT / "build" / "test-pki"
# Waits end as soon as their condition holds; the scale only lengthens how long a slow or busy
# machine (CI) is given before a wait counts as a failure.
TIMEOUT_SCALE = float(os.environ.get("RENKEI_TEST_TIMEOUT_SCALE", "3"))

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/harness importable as "harness"


def wait_until(pred, timeout, step=0.01, what="condition"):
    """Poll pred() every `step` seconds until it returns a true value; return it, or None on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            return None
        time.sleep(step)


def _pid_gone(pid):
    """True when pid no longer runs (a zombie counts as gone: init here reaps only now and then)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return True


# ---------------------------------------------------------------------------------------------
# Failure reports: logs registered on a test item are appended to its report when it fails.

def _attach_log(node, title, path):
    logs = getattr(node, "_renkei_logs", None)
    if logs is None:
        logs = []
        node._renkei_logs = logs
    logs.append((title, Path(path)))


def _tail(path, limit=8000):
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        return "(unreadable: %s)" % e
    if len(data) > limit:
        data = b"...\n" + data[-limit:]
    return data.decode("utf-8", "replace")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed:
        for title, path in getattr(item, "_renkei_logs", []):
            rep.sections.append((title, _tail(path)))


# ---------------------------------------------------------------------------------------------
# PKI

@pytest.fixture(scope="session")
def pki():
    r = subprocess.run(["sh", str(ROOT / "scripts" / "mkcerts.sh"), str(PKI_DIR)],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, "mkcerts.sh failed:\n" + r.stdout + r.stderr
    return PKI_DIR


@pytest.fixture(scope="session")
def pki_no_client_ca(pki, tmp_path_factory):
    """A TLS directory without client-ca.crt: a sandbox that offers no certificate login."""
    d = tmp_path_factory.mktemp("tls-no-client-ca")
    for f in ("ca.crt", "server.crt", "server.key"):
        shutil.copy2(pki / f, d / f)
    return d


# ---------------------------------------------------------------------------------------------
# curl

class Response:
    def __init__(self, status, header_list, body):
        self.status = status
        self.header_list = header_list           # [(name, value)] of the final answer
        self.headers = {k.lower(): v for k, v in header_list}
        self.body = body
        self.text = body.decode("utf-8", "replace")
        ctype = self.headers.get("content-type", "")
        self.content_type = ctype.split(";")[0].strip().lower()
        self.json = None
        if body and (self.content_type.endswith("json") or self.content_type.endswith("+json")):
            try:
                self.json = _json.loads(self.text)
            except ValueError:
                self.json = None

    @property
    def problem(self):
        """The problem type's short name ("wrong-credentials") or None."""
        if isinstance(self.json, dict):
            t = self.json.get("type", "")
            if isinstance(t, str) and t.startswith("urn:renkei:problem:"):
                return t[len("urn:renkei:problem:"):]
        return None

    @property
    def error(self):
        """The OAuth error code or None."""
        if isinstance(self.json, dict):
            return self.json.get("error")
        return None

    def __repr__(self):
        return "<Response %d %s %s>" % (self.status, self.content_type, self.text[:600])


_DEFAULT = object()


def _parse_headers(raw):
    """Header dump of curl -D: keep the last block (after 100 Continue / redirects)."""
    text = raw.decode("iso-8859-1")
    blocks = [b for b in re.split(r"\r?\n\r?\n", text) if b.strip()]
    if not blocks:
        return []
    lines = blocks[-1].splitlines()[1:]
    out = []
    for ln in lines:
        if ":" in ln:
            k, v = ln.split(":", 1)
            out.append((k.strip(), v.strip()))
    return out


def _request_body(json, form, data, content_type):
    """(body bytes or None, Content-Type or None) of a request: json= (any JSON value), form=
    (dict or pairs) or data= (bytes/str, sent raw); content_type overrides the type (None: none)."""
    body = None
    ctype = None
    if json is not _DEFAULT:
        body = _json.dumps(json, ensure_ascii=False).encode("utf-8")
        ctype = "application/json"
    elif form is not None:
        body = urllib.parse.urlencode(form).encode("ascii")
        ctype = "application/x-www-form-urlencoded"
    elif data is not None:
        body = data.encode("utf-8") if isinstance(data, str) else data
    if content_type is not _DEFAULT:
        ctype = content_type
    return body, ctype


def run_curl(method, url, *, cacert, json=_DEFAULT, form=None, data=None, content_type=_DEFAULT,
             headers=(), bearer=None, cert=None, key=None, timeout=30, extra=()):
    """One HTTP request with the curl CLI. json= (any JSON value), form= (dict or pairs) or data=
    (bytes/str, sent raw) is the body. content_type=None removes the header curl would add."""
    body, ctype = _request_body(json, form, data, content_type)
    with tempfile.TemporaryDirectory(prefix="rk-curl-") as td:
        hdr = os.path.join(td, "h")
        out = os.path.join(td, "b")
        argv = ["curl", "-sS", "--cacert", str(cacert), "-X", method, "-D", hdr, "-o", out,
                "-w", "%{http_code}", "--max-time", str(timeout), "-H", "Expect:"]
        if cert:
            argv += ["--cert", str(cert)]
        if key:
            argv += ["--key", str(key)]
        if bearer is not None:
            argv += ["-H", "Authorization: Bearer " + bearer]
        for h in headers:
            argv += ["-H", h]
        if body is not None:
            argv += ["--data-binary", "@-"]
            argv += ["-H", ("Content-Type: " + ctype) if ctype is not None else "Content-Type:"]
        argv += list(extra)
        argv.append(url)
        r = subprocess.run(argv, input=body if body is not None else b"", capture_output=True,
                           timeout=timeout + 10)
        if r.returncode != 0:
            raise AssertionError("curl %s %s failed (exit %d): %s" % (
                method, url, r.returncode, r.stderr.decode("utf-8", "replace").strip()))
        status = int(r.stdout.decode().strip() or 0)
        with open(hdr, "rb") as f:
            hl = _parse_headers(f.read())
        with open(out, "rb") as f:
            b = f.read()
    return Response(status, hl, b)


_SSL_CONTEXTS = {}


def _ssl_context(cacert, cert, key):
    k = (str(cacert), str(cert) if cert else None, str(key) if key else None)
    ctx = _SSL_CONTEXTS.get(k)
    if ctx is None:
        ctx = ssl.create_default_context(cafile=str(cacert))
        if cert:
            ctx.load_cert_chain(str(cert), str(key) if key else None)
        _SSL_CONTEXTS[k] = ctx
    return ctx


def run_http(method, url, *, cacert, json=_DEFAULT, form=None, data=None, content_type=_DEFAULT,
             headers=(), bearer=None, cert=None, key=None, timeout=30, extra=()):
    """The same request as run_curl with Python's http.client (verifying against cacert): one new
    connection per request like curl, without curl's ~0.1 s process start. `extra` is ignored."""
    body, ctype = _request_body(json, form, data, content_type)
    u = urllib.parse.urlsplit(url)
    path = u.path or "/"
    if u.query:
        path += "?" + u.query
    hdrs = []
    for h in headers:
        k, v = h.split(":", 1)
        hdrs.append((k.strip(), v.strip()))
    if bearer is not None:
        hdrs.append(("Authorization", "Bearer " + bearer))
    if body is not None and ctype is not None:
        hdrs.append(("Content-Type", ctype))
    conn = http.client.HTTPSConnection(u.hostname, u.port or 443, timeout=timeout,
                                       context=_ssl_context(cacert, cert, key))
    try:
        conn.putrequest(method, path, skip_host=any(k.lower() == "host" for k, _ in hdrs),
                        skip_accept_encoding=True)
        for k, v in hdrs:
            conn.putheader(k, v)
        if body is not None or method in ("POST", "PUT", "PATCH"):
            conn.putheader("Content-Length", str(len(body or b"")))
        conn.endheaders(body)
        resp = conn.getresponse()
        b = resp.read()
        hl = [(k, v) for k, v in resp.getheaders()]
        return Response(resp.status, hl, b)
    except (OSError, http.client.HTTPException) as e:
        raise AssertionError("%s %s failed: transport error %s: %s" % (method, url, type(e).__name__, e))
    finally:
        conn.close()


def http_request(method, url, **kw):
    """The client the protocol tests use: Python's http.client, or curl with RENKEI_HTTP=curl."""
    if os.environ.get("RENKEI_HTTP") == "curl":
        return run_curl(method, url, **kw)
    return run_http(method, url, **kw)


@pytest.fixture
def curl(pki):
    """curl(method, url, **kw) -> Response, verifying the server against the test CA (never -k)."""
    def _curl(method, url, **kw):
        kw.setdefault("cacert", pki / "ca.crt")
        return run_curl(method, url, **kw)
    return _curl


# ---------------------------------------------------------------------------------------------
# The sandbox

class Sandbox:
    """A running build/renkei-sandbox. request()/get()/post()/delete() take a path ("/oauth/token")."""

    def __init__(self, argv, workdir, pki, tls_dir, node):
        self.argv = argv
        self.pki = Path(pki)
        self.tls_dir = Path(tls_dir)
        self.cacert = self.pki / "ca.crt"
        self.stdout_path = Path(workdir) / "sandbox.stdout"
        self.log = Path(workdir) / "sandbox.stderr"
        self.url = None
        self.returncode = None
        _attach_log(node, "sandbox stderr (%s)" % Path(workdir).name, self.log)
        with open(self.stdout_path, "wb") as out, open(self.log, "wb") as err:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                         cwd=str(ROOT))
        self.pid = self.proc.pid

    def _wait_url(self, timeout):
        deadline = time.monotonic() + timeout
        while True:
            data = self.stdout_path.read_bytes()
            if b"\n" in data:
                line = data.split(b"\n", 1)[0].decode("utf-8", "replace").strip()
                assert re.fullmatch(r"https://127\.0\.0\.1:\d+", line), \
                    "sandbox's first stdout line is not its base URL: %r" % line
                self.url = line
                return
            if self.proc.poll() is not None:
                raise AssertionError("sandbox exited with status %d before printing its URL:\n%s"
                                     % (self.proc.returncode, _tail(self.log)))
            if time.monotonic() >= deadline:
                raise AssertionError("sandbox printed no URL within %gs:\n%s" % (timeout, _tail(self.log)))
            time.sleep(0.01)

    @property
    def port(self):
        return int(self.url.rsplit(":", 1)[1])

    def request(self, method, path, **kw):
        """An HTTPS request to the sandbox (http_request: http.client, or curl with RENKEI_HTTP=curl)."""
        kw.setdefault("cacert", self.cacert)
        return http_request(method, self.url + path, **kw)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, **kw):
        return self.request("POST", path, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def log_text(self):
        return self.log.read_text("utf-8", "replace")

    def alive(self):
        return self.proc.poll() is None

    def stop(self, timeout=10):
        """SIGTERM, wait; SIGKILL after the deadline. Returns the exit status (negative: signal)."""
        if self.proc.poll() is None:
            try:
                os.kill(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.proc.wait(10)
                self.returncode = "killed after %gs" % timeout
                return self.returncode
        if self.returncode is None:
            self.returncode = self.proc.returncode
        return self.returncode


@pytest.fixture
def sandbox(request, pki, tmp_path):
    """sandbox(scenario=None, state=None, args=(), tls_dir=None, timeout=10) -> Sandbox (started)."""
    started = []
    if not SANDBOX_BIN.exists():
        pytest.fail("%s does not exist (run make)" % SANDBOX_BIN)

    def start(scenario=None, state=None, args=(), tls_dir=None, timeout=10):
        tls = Path(tls_dir) if tls_dir else pki
        argv = [str(SANDBOX_BIN), "--listen", "127.0.0.1:0", "--tls-dir", str(tls)]
        if scenario is not None:
            argv += ["--scenario", str(scenario)]
        if state is not None:
            argv += ["--state", str(state)]
        argv += [str(a) for a in args]
        wd = tmp_path / ("sandbox%d" % len(started))
        wd.mkdir()
        sb = Sandbox(argv, wd, pki, tls, request.node)
        started.append(sb)
        sb._wait_url(timeout)
        return sb

    yield start
    problems = []
    for sb in started:
        already = sb.returncode is not None
        rc = sb.stop()
        if not already and rc != 0:
            problems.append("sandbox pid %d exited with %r at SIGTERM:\n%s" % (sb.pid, rc, _tail(sb.log)))
    assert not problems, "\n".join(problems)


@pytest.fixture
def run_sandbox(pki):
    """run_sandbox(args, timeout=10) -> CompletedProcess(text) of build/renkei-sandbox ARGS."""
    def run(args, timeout=10):
        if not SANDBOX_BIN.exists():
            pytest.fail("%s does not exist (run make)" % SANDBOX_BIN)
        return subprocess.run([str(SANDBOX_BIN)] + [str(a) for a in args], stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=timeout, cwd=str(ROOT))
    return run


# ---------------------------------------------------------------------------------------------
# Terminal programs in a private tmux server

TMUX_KEYS = {
    "Tab", "BTab", "Enter", "Escape", "Space", "BSpace", "Up", "Down", "Left", "Right",
    "Home", "End", "PageUp", "PageDown", "PPage", "NPage", "IC", "DC", "Insert", "Delete",
} | {"F%d" % i for i in range(1, 13)}
_MODIFIED_KEY = re.compile(r"^(?:[CMS]-)+(?:[A-Za-z0-9\[\]\\]|Tab|Enter|Escape|Space|BSpace|Up|Down|"
                           r"Left|Right|Home|End|PageUp|PageDown|F\d{1,2})$")

_TMUX_CONF = """\
set -g status off
set -g remain-on-exit on
set -g history-limit 2000
set -sg escape-time 0
set -g exit-empty on
"""


class Term:
    """A program in its own tmux server. send() mixes literal text and named keys."""

    def __init__(self, argv, width, height, env, term, cwd, node):
        self.dir = Path(tempfile.mkdtemp(prefix="rk-term-"))  # short path: unix socket limit
        self.sock = str(self.dir / "sock")
        self.status_path = self.dir / "status"
        self.width, self.height = width, height
        self.server_pid = None
        conf = self.dir / "tmux.conf"
        conf.write_text(_TMUX_CONF)
        penv = {k: v for k, v in os.environ.items()
                if not (k.startswith("LC_") or k in ("LANGUAGE", "TMUX", "TMUX_PANE", "NO_COLOR"))}
        penv["LANG"] = "C.UTF-8"
        penv["TERM"] = term
        penv.update(env or {})
        penv = {k: v for k, v in penv.items() if v is not None}
        exports = " ".join("%s=%s" % (k, shlex.quote(v)) for k, v in sorted(penv.items())
                           if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", k))
        st = shlex.quote(str(self.status_path))
        script = self.dir / "run.sh"
        script.write_text(
            "cd %s || exit 127\n" % shlex.quote(str(cwd or ROOT)) +
            "env -i %s %s\n" % (exports, " ".join(shlex.quote(str(a)) for a in argv)) +
            "echo $? > %s.tmp && mv %s.tmp %s\n" % (st, st, st))
        tenv = dict(os.environ)
        tenv["TERM"] = "xterm-256color"
        tenv["LANG"] = "C.UTF-8"  # tmux itself in UTF-8: line drawing captured as ┌─┐, not lqk
        tenv.pop("LC_ALL", None)
        tenv.pop("TMUX", None)
        self._tenv = tenv
        r = subprocess.run(["tmux", "-u", "-S", self.sock, "-f", str(conf), "new-session", "-d", "-s", "t",
                            "-x", str(width), "-y", str(height), "sh " + shlex.quote(str(script))],
                           stdin=subprocess.DEVNULL, capture_output=True, text=True, env=tenv, timeout=20)
        assert r.returncode == 0, "tmux new-session failed: %s" % r.stderr
        self.server_pid = int(self.tmux("display-message", "-p", "#{pid}").strip())
        self.pane_pid = int(self.tmux("display-message", "-p", "-t", "t", "#{pane_pid}").strip())

    def tmux(self, *args, check=True):
        r = subprocess.run(["tmux", "-S", self.sock] + list(args), stdin=subprocess.DEVNULL,
                           capture_output=True, env=self._tenv, timeout=20)
        if check and r.returncode != 0:
            raise AssertionError("tmux %s failed: %s" % (" ".join(args), r.stderr.decode("utf-8", "replace")))
        return r.stdout.decode("utf-8", "replace")

    def send(self, *keys):
        """Each argument: a tmux key name (Tab, BTab, Enter, Escape, Space, Up, F1, C-c, ...) or
        literal text (sent with -l). Use type() for literal text that looks like a key name."""
        for k in keys:
            if k in TMUX_KEYS or _MODIFIED_KEY.match(k):
                self.tmux("send-keys", "-t", "t", k)
            else:
                self.tmux("send-keys", "-t", "t", "-l", "--", k)

    def type(self, text):
        self.tmux("send-keys", "-t", "t", "-l", "--", text)

    def screen(self, escapes=False):
        """The visible screen as text (lines joined with \\n); escapes=True keeps SGR codes (-e)."""
        args = ["capture-pane", "-p", "-t", "t"]
        if escapes:
            args.append("-e")
        return self.tmux(*args)

    def exited(self):
        return self.status_path.exists()

    def status(self):
        try:
            return int(self.status_path.read_text().strip())
        except (OSError, ValueError):
            return None

    def wait_for(self, text, timeout=5.0, escapes=False, scale=True):
        """Wait until `text` (a str, a compiled regex, or a callable on the screen text) is on the
        screen; returns the screen. On timeout the assertion message holds the screen."""
        if isinstance(text, str):
            pred = lambda s: text in s  # noqa: E731
        elif hasattr(text, "search"):
            pred = lambda s: text.search(s) is not None  # noqa: E731
        else:
            pred = text
        deadline = time.monotonic() + timeout * (TIMEOUT_SCALE if scale else 1.0)
        s = self.screen(escapes)
        while True:
            if pred(s):
                # Settled: a screen is returned only when a second capture a moment later is the
                # same, so a test never reads a screen that ncurses/tmux is still drawing (a
                # two-row message caught after its first row).
                time.sleep(0.03)
                again = self.screen(escapes)
                if again == s:
                    return s
                s = again
                continue
            if time.monotonic() >= deadline:
                break
            time.sleep(0.01)
            s = self.screen(escapes)
        extra = "" if not self.exited() else " (the program exited with status %s)" % self.status()
        raise AssertionError("timed out after %gs waiting for %r%s; screen:\n%s\n%s\n%s" % (
            timeout, getattr(text, "pattern", text), extra, "-" * self.width, s, "-" * self.width))

    def wait_gone(self, text, timeout=5.0):
        return self.wait_for(lambda s: text not in s, timeout)

    def resize(self, width, height):
        self.tmux("resize-window", "-t", "t", "-x", str(width), "-y", str(height))
        self.width, self.height = width, height

    def wait_exit(self, timeout=10.0):
        """Wait for the program to exit; returns its exit status."""
        if not wait_until(self.exited, timeout):
            raise AssertionError("program did not exit within %gs; screen:\n%s" % (timeout, self.screen()))
        wait_until(lambda: self.status() is not None, 2)
        return self.status()

    def close(self):
        if self.server_pid:
            try:
                os.kill(self.server_pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

            if not wait_until(lambda: _pid_gone(self.server_pid), 5):
                try:
                    os.kill(self.server_pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            self.server_pid = None
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def term(request):
    """term(argv, width=80, height=24, env=None, term="xterm-256color", cwd=None) -> Term.
    env adds variables (value None removes one); LANG=C.UTF-8 is set, LC_*/LANGUAGE/NO_COLOR cleared."""
    made = []

    def start(argv, width=80, height=24, env=None, term="xterm-256color", cwd=None):
        if isinstance(argv, str):
            argv = [argv]
        t = Term(list(argv), width, height, env, term, cwd, request.node)
        made.append(t)
        return t

    yield start
    for t in made:
        t.close()


# ---------------------------------------------------------------------------------------------
# A real OpenSSH server of our own (Debian's openssh-server), for the support engineer's path

_SSHD_CONFIG = """\
Port {port}
AddressFamily inet
ListenAddress 127.0.0.1
HostKey {dir}/host_ed25519
PidFile {dir}/sshd.pid
AuthorizedKeysFile {dir}/authorized_keys
AllowUsers {user}
StrictModes no
UsePAM no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
PermitUserEnvironment no
AllowTcpForwarding no
AllowAgentForwarding no
X11Forwarding no
PrintMotd no
PrintLastLog no
UseDNS no
LogLevel VERBOSE
"""


def _free_port():
    import socket
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Sshd:
    """sshd -D on a free loopback port with its own host key, authorized key, config and PidFile in a
    temporary directory, logging in only the user running the tests (root too: Debian's privilege
    separation user and /run/sshd). ssh_argv(command) is the client's argv for one command on a
    pseudo-terminal (ssh -tt), with its own key and known_hosts; stop() ends it by PID."""

    def __init__(self, node):
        import pwd
        self.dir = Path(tempfile.mkdtemp(prefix="rk-ssh-"))
        self.log = self.dir / "sshd.log"
        self.key = self.dir / "id_ed25519"
        self.known_hosts = self.dir / "known_hosts"
        self.user = pwd.getpwuid(os.getuid()).pw_name
        self.sshd = shutil.which("sshd") or "/usr/sbin/sshd"  # an absolute path: sshd re-executes itself
        assert os.path.isabs(self.sshd) and os.path.exists(self.sshd), \
            "no sshd: install openssh-server (scripts/install-deps.sh)"
        _attach_log(node, "sshd log", self.log)
        for f in ("host_ed25519", "id_ed25519"):
            r = subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "rk-test", "-f",
                                str(self.dir / f)], capture_output=True, text=True, timeout=30,
                               stdin=subprocess.DEVNULL)
            assert r.returncode == 0, "ssh-keygen: %s" % r.stderr
        shutil.copyfile(self.dir / "id_ed25519.pub", self.dir / "authorized_keys")
        if os.geteuid() == 0:
            os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # its privilege separation directory
        self.proc = None
        for _ in range(5):  # the free port may be taken between the look and sshd's bind
            if self._start():
                return
        raise AssertionError("sshd did not start:\n" + _tail(self.log))

    def _start(self):
        self.port = _free_port()
        conf = self.dir / "sshd_config"
        conf.write_text(_SSHD_CONFIG.format(port=self.port, dir=self.dir, user=self.user))
        with open(self.log, "ab") as err:
            self.proc = subprocess.Popen([self.sshd, "-D", "-e", "-f", str(conf)], stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=err, env={"PATH": "/usr/bin:/bin"})
        self.pid = self.proc.pid
        ready = wait_until(lambda: b"Server listening on 127.0.0.1 port %d" % self.port in self.log.read_bytes()
                           or self.proc.poll() is not None, 10 * TIMEOUT_SCALE)
        if ready and self.proc.poll() is None:
            return True
        self.stop()
        return False

    def ssh_argv(self, command, tty=True):
        """ssh -tt ... 127.0.0.1 COMMAND (a list, quoted for the remote shell, or a str)."""
        if not isinstance(command, str):
            command = " ".join(shlex.quote(str(a)) for a in command)
        return ["ssh", "-F", "/dev/null"] + (["-tt"] if tty else ["-T"]) + [
            "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=%s" % self.known_hosts,
            "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "LogLevel=ERROR",
            "-i", str(self.key), "-p", str(self.port), "-l", self.user, "127.0.0.1", command]

    def log_text(self):
        return self.log.read_text("utf-8", "replace")

    def stop(self, timeout=10):
        if self.proc and self.proc.poll() is None:
            os.kill(self.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.proc.wait(10)
        return self.proc.returncode if self.proc else None

    def close(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def sshd(request):
    """An sshd of our own (class Sshd), stopped by PID at teardown."""
    s = Sshd(request.node)
    yield s
    s.close()
