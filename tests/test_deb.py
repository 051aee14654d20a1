"""The Debian packages of `make deb` (debian/): what each holds, lintian's verdict, and the packaged
programs run from a fresh root that dpkg installed both packages into without chroot
(dpkg --root --force-script-chrootless, as root or not): renkei --version and --help with its
installed catalog, the sandbox started from that root with the certificate its postinst made and the
demo scenario it ships, the packaged client against it, the manuals through man -M, the systemd
unit through systemd-analyze (verify and an offline security rating), and purge.

RENKEI_DEB_DIR=DIR reuses the packages of a `make deb` already run (scripts/check.py's deb step
does); otherwise the module runs `make deb` itself (build/deb/)."""

import os
import re
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from conftest import ROOT, Sandbox, wait_until

VERSION = re.search(r"^VERSION\s*:=\s*(\S+)", (ROOT / "Makefile").read_text(), re.M).group(1)
ARCH = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True).stdout.strip()

CLIENT_FILES = [
    "usr/bin/renkei",
    "etc/renkei/renkei.conf",
    "usr/share/locale/en/LC_MESSAGES/renkei.mo",
    "usr/share/man/man1/renkei.1.gz",
    "usr/share/man/ja/man1/renkei.1.gz",
    "usr/share/man/man5/renkei-forms.5.gz",
    "usr/share/man/man5/renkei.conf.5.gz",
    "usr/share/renkei/forms/login_password.form",
    "usr/share/doc/renkei/examples/renkei-kiosk.conf",
    "usr/share/doc/renkei/examples/renkei-kiosk-session",
    "usr/share/doc/renkei/examples/renkei-kiosk-kmscon.conf",
    "usr/share/doc/renkei/copyright",
]
SANDBOX_FILES = [
    "usr/bin/renkei-sandbox",
    "usr/share/renkei-sandbox/scenarios/demo.json",
    "usr/share/man/man8/renkei-sandbox.8.gz",
    "lib/systemd/system/renkei-sandbox.service",
    "usr/share/doc/renkei-sandbox/copyright",
]


@pytest.fixture(scope="module")
def debs():
    given = os.environ.get("RENKEI_DEB_DIR")
    if given:
        d = Path(given)
        if not d.is_absolute():
            d = ROOT / d
    else:
        r = subprocess.run(["make", "-s", "deb"], cwd=str(ROOT), stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=1800)
        assert r.returncode == 0, "make deb failed:\n" + (r.stdout + r.stderr)[-6000:]
        d = ROOT / "build" / "deb"
    found = {}
    for name in ("renkei", "renkei-sandbox"):
        f = d / ("%s_%s_%s.deb" % (name, VERSION, ARCH))
        assert f.is_file(), "%s missing (make deb)" % f
        found[name] = f
    found["dir"] = d
    return found


def deb_field(deb, field):
    return subprocess.run(["dpkg-deb", "-f", str(deb), field], capture_output=True, text=True,
                          check=True).stdout.strip()


def deb_files(deb):
    out = subprocess.run(["dpkg-deb", "-c", str(deb)], capture_output=True, text=True, check=True).stdout
    return {ln.split(None, 5)[5].split(" -> ")[0].lstrip("./") for ln in out.splitlines() if ln.strip()}


def test_lintian_reports_no_error(debs):
    text = (debs["dir"] / "lintian.txt").read_text()
    errors = [ln for ln in text.splitlines() if ln.startswith("E:")]
    assert not errors, text


@pytest.mark.parametrize("name,want,not_want", [
    ("renkei", CLIENT_FILES, ["usr/bin/renkei-sandbox", "lib/systemd/system/renkei-sandbox.service"]),
    ("renkei-sandbox", SANDBOX_FILES, ["usr/bin/renkei", "etc/renkei/renkei.conf"]),
])
def test_package_contents(debs, name, want, not_want):
    files = deb_files(debs[name])
    missing = [f for f in want if f not in files]
    assert not missing, "%s lacks %s; it has:\n%s" % (name, missing, "\n".join(sorted(files)))
    wrong = [f for f in not_want if f in files]
    assert not wrong, "%s holds %s" % (name, wrong)
    assert not [f for f in files if "p11shim" in f or f.startswith("usr/share/man/man1/renkei-sandbox")]


def test_dependencies_come_from_shlibs(debs):
    """${shlibs:Depends} filled in from the libraries the binaries link (not written by hand)."""
    client = deb_field(debs["renkei"], "Depends")
    sandbox = deb_field(debs["renkei-sandbox"], "Depends")
    for lib in ("libc6", "libcurl4", "libncursesw6", "libcjson1", "libp11-3", "libssl3"):
        assert re.search(r"\b%s \(>=" % re.escape(lib), client), client
    for lib in ("libc6", "libmicrohttpd12", "libgnutls30", "libsqlite3-0", "libcjson1"):
        assert re.search(r"\b%s \(>=" % re.escape(lib), sandbox), sandbox
    assert "libmicrohttpd" not in client and "libncurses" not in sandbox


def test_example_config_is_a_conffile(debs, tmp_path):
    subprocess.run(["dpkg-deb", "-e", str(debs["renkei"]), str(tmp_path / "ctl")], check=True)
    assert "/etc/renkei/renkei.conf" in (tmp_path / "ctl" / "conffiles").read_text().split()


# ---------------------------------------------------------------------------------------------
# Installed into a fresh root

def dpkg_root(root, *args):
    return subprocess.run(["dpkg", "--root=%s" % root, "--force-not-root", "--force-script-chrootless",
                           "--log=/dev/null"] + list(args),
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def root(debs, tmp_path_factory):
    """Both packages installed by dpkg into an empty root. Their library dependencies are not in that
    root (--force-depends): the programs run with this machine's libraries, so every dependency
    must be satisfied here (checked by test_host_has_every_dependency)."""
    r = tmp_path_factory.mktemp("debroot")
    for d in ("var/lib/dpkg/updates", "var/lib/dpkg/info"):
        (r / d).mkdir(parents=True)
    (r / "var/lib/dpkg/status").touch()
    p = dpkg_root(r, "--force-depends", "-i", str(debs["renkei"]), str(debs["renkei-sandbox"]))
    assert p.returncode == 0, p.stdout + p.stderr
    return r


def test_installed_both_packages(root):
    st = subprocess.run(["dpkg-query", "--root=%s" % root, "-W", "-f", "${Package} ${Status}\n"],
                        capture_output=True, text=True, check=True).stdout
    assert "renkei install ok installed" in st and "renkei-sandbox install ok installed" in st, st
    for f in CLIENT_FILES + SANDBOX_FILES:
        assert (root / f).exists(), f


def test_host_has_every_dependency(debs):
    for name in ("renkei", "renkei-sandbox"):
        for dep in deb_field(debs[name], "Depends").split(","):
            alts = [a.strip().split()[0] for a in dep.split("|")]
            ok = any(subprocess.run(["dpkg-query", "-W", "-f", "${Status}", a], capture_output=True,
                                    text=True).stdout.endswith("installed") for a in alts)
            assert ok, "%s depends on %s: not installed on this machine" % (name, dep.strip())


def clean_env(**extra):
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": "/nonexistent"}
    env.update(extra)
    return env


def test_installed_client_version_and_catalog(root):
    exe = root / "usr/bin/renkei"
    r = subprocess.run([str(exe), "--version"], env=clean_env(), capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and r.stdout.strip() == "renkei %s" % VERSION, r
    # English comes from the packaged catalog (share/locale beside bin/ of that root).
    r = subprocess.run([str(exe), "--help"], env=clean_env(LANGUAGE="en"), capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0 and "Usage:" in r.stdout and "--kiosk" in r.stdout, r
    ja = subprocess.run([str(exe), "--help"], env=clean_env(), capture_output=True, text=True, timeout=30)
    assert "使い方" in ja.stdout, ja


def test_example_config_is_valid(root, tmp_path):
    """/etc/renkei/renkei.conf as installed changes nothing; with every commented setting enabled,
    renkei accepts each key and value (so the example keeps up with renkei.conf(5))."""
    exe, example = str(root / "usr/bin/renkei"), root / "etc/renkei/renkei.conf"
    env = clean_env(LANGUAGE="en", RENKEI_SYSCONFDIR=str(example.parent))
    r = subprocess.run([exe, "--print-config"], env=env, capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r
    settings = [ln for ln in r.stdout.splitlines() if ln and not ln.startswith("#")]
    assert settings and all(ln.rstrip().endswith("# default") for ln in settings), r.stdout
    enabled = tmp_path / "all.conf"
    lines = example.read_text().splitlines()
    enabled.write_text("\n".join(re.sub(r"^#([a-z0-9-]+ = )", r"\1", ln) for ln in lines) + "\n")
    keys = [(i + 1, m.group(1)) for i, ln in enumerate(lines) for m in [re.match(r"^#([a-z0-9-]+) = ", ln)] if m]
    assert len(keys) >= 8, keys
    r = subprocess.run([exe, "--config", str(enabled), "--print-config"], env=env,
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r
    for n, key in keys:
        assert re.search(r"^%s\s.*# %s:%d$" % (re.escape(key), re.escape(str(enabled)), n), r.stdout, re.M), \
            (key, r.stdout)


def test_postinst_made_a_private_key(root):
    tls = root / "etc/renkei-sandbox/tls"
    assert (tls / "server.crt").is_file() and (tls / "server.key").is_file()
    assert (tls / "server.key").stat().st_mode & 0o077 == 0
    assert tls.stat().st_mode & 0o077 == 0


@pytest.fixture
def installed_sandbox(root, request, tmp_path):
    """The packaged renkei-sandbox on a free loopback port with the packaged demo scenario and the
    certificate its postinst made; stopped by PID (SIGTERM) at the end, exit status 0 asserted."""
    tls = root / "etc/renkei-sandbox/tls"
    argv = [str(root / "usr/bin/renkei-sandbox"), "--listen", "127.0.0.1:0", "--tls-dir", str(tls),
            "--scenario", str(root / "usr/share/renkei-sandbox/scenarios/demo.json"),
            "--state", str(tmp_path / "state.db")]
    sb = Sandbox(argv, tmp_path, tls, tls, request.node)
    sb.cacert = tls / "server.crt"
    try:
        sb._wait_url(10)
        yield sb
    finally:
        rc = sb.stop()
        assert rc == 0, "renkei-sandbox exit status %r after SIGTERM:\n%s" % (rc, sb.log_text())


def test_installed_sandbox_serves_and_stops_by_pid(installed_sandbox):
    sb = installed_sandbox
    r = sb.post("/oauth/device_authorization", form={"client_id": "kakeibo-demo", "scope": "balance"})
    assert r.status == 200, r
    assert re.fullmatch(r"[A-Z]{4}-[A-Z]{4}", r.json["user_code"]), r.json
    os.kill(sb.pid, signal.SIGTERM)
    assert wait_until(lambda: sb.proc.poll() is not None, 10), "still running after SIGTERM"
    assert sb.proc.returncode == 0, sb.log_text()


def test_installed_client_against_installed_sandbox(installed_sandbox, term):
    """The packaged client, in English from its packaged catalog, reaches the partner screen of the
    packaged sandbox with a code the partner asked for."""
    sb = installed_sandbox
    r = sb.post("/oauth/device_authorization", form={"client_id": "kakeibo-demo", "scope": "balance"})
    assert r.status == 200, r
    root = Path(sb.argv[0]).parent.parent.parent
    t = term([str(root / "usr/bin/renkei"), "--server", sb.url, "--cacert", str(sb.cacert), "--lang", "en",
              "--user-code", r.json["user_code"]], env={"HOME": str(Path(sb.stdout_path).parent)})
    t.wait_for("Demo Kakeibo Inc.", timeout=15)
    pids = subprocess.run(["pgrep", "-P", str(t.pane_pid), "-x", "renkei"], capture_output=True,
                          text=True).stdout.split()
    assert len(pids) == 1, pids
    os.kill(int(pids[0]), signal.SIGTERM)  # leaves as Esc would: cancelled on the server, exit 3
    assert t.wait_exit(15) == 3, t.screen()
    assert "DELETE /consent/v1/session 200" in sb.log_text(), sb.log_text()


def man(root, *args):
    """man with only the root's manuals (MANPATH, not -M: man-db adds the -L language's
    subdirectory, share/man/ja, to MANPATH's directories only)."""
    return subprocess.run(["man", "--warnings"] + list(args),
                          env=clean_env(MANWIDTH="80", MANPATH=str(root / "usr/share/man")),
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("args,heading,name", [
    (["1", "renkei"], "NAME", "renkei - let a fintech partner read bank accounts"),
    (["-L", "ja", "1", "renkei"], "名前", "端末で行う API連携認証"),
    (["8", "renkei-sandbox"], "NAME", "renkei-sandbox - reference bank backend"),
    (["5", "renkei-forms"], "NAME", "renkei-forms - screen definition files"),
])
def test_installed_manuals(root, args, heading, name):
    r = man(root, *args)
    assert r.returncode == 0 and not r.stderr, r
    assert re.search(r"^%s$" % heading, r.stdout, re.M), r.stdout[:600]
    assert name in " ".join(r.stdout.split()), r.stdout[:600]  # lines are justified: spaces vary


# ---------------------------------------------------------------------------------------------
# The systemd unit (systemd-analyze works on a root without a running systemd)

UNIT = "renkei-sandbox.service"


@pytest.fixture(scope="module")
def unit_root(root):
    """The installed root plus this machine's targets, sockets and slices, which the unit's default
    dependencies need to load."""
    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze not installed")
    d = root / "lib/systemd/system"
    for f in Path("/lib/systemd/system").iterdir():
        if f.suffix in (".target", ".slice", ".socket") and not (d / f.name).exists():
            shutil.copy(str(f), str(d / f.name), follow_symlinks=False)
    return root


def test_unit_verify_is_clean(unit_root):
    r = subprocess.run(["systemd-analyze", "verify", "--root=%s" % unit_root, UNIT],
                       env=clean_env(MANPATH=str(unit_root / "usr/share/man")),
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and not r.stdout.strip() and not r.stderr.strip(), r


def test_unit_hardening_and_exposure(unit_root):
    unit = (unit_root / "lib/systemd/system" / UNIT).read_text()
    for d in ("DynamicUser=yes", "StateDirectory=renkei-sandbox", "ProtectSystem=strict",
              "NoNewPrivileges=yes", "PrivateTmp=yes", "CapabilityBoundingSet=\n"):
        assert d in unit, d
    r = subprocess.run(["systemd-analyze", "security", "--offline=yes", "--root=%s" % unit_root,
                        "--no-pager", UNIT], env=clean_env(), capture_output=True, text=True, timeout=60)
    m = re.search(r"Overall exposure level for %s: ([\d.]+)" % re.escape(UNIT), r.stdout)
    assert m, r
    print(r.stdout)
    assert float(m.group(1)) <= 1.5, r.stdout  # systemd rates 0-10; up to 1.9 it calls SAFE/OK


def test_kiosk_getty_dropin_verifies(root, tmp_path):
    """The kiosk example as a drop-in of this machine's getty@tty2.service: systemd-analyze verify
    loads it (SYSTEMD_UNIT_PATH ahead of the usual directories) without a complaint, and it
    autologs the kiosk user in; its login shell is a valid sh script that runs renkei --kiosk."""
    getty = Path("/lib/systemd/system/getty@.service")
    if not shutil.which("systemd-analyze") or not getty.exists():
        pytest.skip("systemd-analyze or getty@.service not installed")
    ex = root / "usr/share/doc/renkei/examples"
    d = tmp_path / "units" / "getty@tty2.service.d"
    d.mkdir(parents=True)
    shutil.copy(str(ex / "renkei-kiosk.conf"), str(d))
    r = subprocess.run(["systemd-analyze", "verify", "getty@tty2.service"],
                       env=clean_env(SYSTEMD_UNIT_PATH=str(tmp_path / "units") + ":"),
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and not r.stdout.strip() and not r.stderr.strip(), r
    execs = re.findall(r"^ExecStart=(.*)$", (ex / "renkei-kiosk.conf").read_text(), re.M)
    assert execs[0] == "" and "--autologin renkei-kiosk" in execs[1], execs
    session = ex / "renkei-kiosk-session"
    assert os.access(str(session), os.X_OK)
    assert subprocess.run(["sh", "-n", str(session)]).returncode == 0
    text = session.read_text()
    assert "RENKEI=${RENKEI:-/usr/bin/renkei}" in text and re.search(r'"\$RENKEI" --kiosk', text), text
    assert re.search(r"^while :; do$", text, re.M), "the session runs renkei in a loop:\n" + text


def test_purge_removes_made_key(debs, tmp_path):
    r = tmp_path / "root"
    for d in ("var/lib/dpkg/updates", "var/lib/dpkg/info"):
        (r / d).mkdir(parents=True)
    (r / "var/lib/dpkg/status").touch()
    p = dpkg_root(r, "--force-depends", "-i", str(debs["renkei-sandbox"]))
    assert p.returncode == 0, p.stdout + p.stderr
    assert (r / "etc/renkei-sandbox/tls/server.key").is_file()
    p = dpkg_root(r, "--purge", "renkei-sandbox")
    assert p.returncode == 0, p.stdout + p.stderr
    assert not (r / "etc/renkei-sandbox").exists() and not (r / "usr/bin/renkei-sandbox").exists()
