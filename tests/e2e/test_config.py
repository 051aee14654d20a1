"""Configuration (renkei.conf(5)), run with the real build/renkei: the order of the sources (system
file, the user's file, --config, RENKEI_*, flags) as --print-config reports it, bad files and unknown
keys stopping renkei with FILE:LINE and exit 2, the kiosk rule, and a flow whose server and CA come
from a config file alone.

RENKEI_SYSCONFDIR points the system file (normally /etc/renkei/renkei.conf) into tmp_path, so the
machine's own file is never read; XDG_CONFIG_HOME does the same for the user's file.
"""

import os
import re
import subprocess
from pathlib import Path

from e2e.helpers import CLIENT_BIN, JA, client_env, wait_screen

EXIT_USAGE = 2


def run(argv, env, tmp_path):
    """build/renkei with argv in a clean environment (no RENKEI_* of the caller's), English messages."""
    e = {k: v for k, v in os.environ.items() if not k.startswith("RENKEI_") and not k.startswith("LC_")}
    e.update({"LANG": "C.UTF-8", "LANGUAGE": "en", "HOME": str(tmp_path / "home"),
              "XDG_CONFIG_HOME": str(tmp_path / "xdg"), "RENKEI_SYSCONFDIR": str(tmp_path / "etc")})
    e.update(env)
    e = {k: v for k, v in e.items() if v is not None}
    return subprocess.run([str(CLIENT_BIN)] + argv, env=e, stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=20)


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def printed(out):
    """--print-config's rows: {key: (value, origin)}."""
    rows = {}
    for ln in out.splitlines():
        if ln.startswith("#"):
            continue
        m = re.fullmatch(r"(\S+)\s+(.*?)\s+# (.+)", ln)
        assert m, ln
        rows[m.group(1)] = (m.group(2), m.group(3))
    return rows


def test_every_source_in_order(tmp_path):
    sysf = write(tmp_path / "etc/renkei.conf",
                 "# the bank's\nserver = https://sys.example\ntimeout = 11\nconnect-timeout = 12\n"
                 "idle-timeout = 100\nlang = ja\n")
    user = write(tmp_path / "xdg/renkei/config", "timeout = 21\nconnect-timeout = 22\nidle-timeout = 200\n")
    extra = write(tmp_path / "extra.conf", "connect-timeout = 32\nidle-timeout = 300\n")
    r = run(["--print-config", "--config", str(extra), "--lang", "en"],
            {"RENKEI_IDLE_TIMEOUT": "400", "RENKEI_CACERT": "/env/ca.pem"}, tmp_path)
    assert r.returncode == 0, r.stderr
    rows = printed(r.stdout)
    assert rows["server"] == ("https://sys.example", "%s:2" % sysf)
    assert rows["timeout"] == ("21", "%s:1" % user)
    assert rows["connect-timeout"] == ("32", "%s:1" % extra)
    assert rows["idle-timeout"] == ("400", "RENKEI_IDLE_TIMEOUT")
    assert rows["cacert"] == ("/env/ca.pem", "RENKEI_CACERT")
    assert rows["lang"] == ("en", "--lang")
    assert rows["config"] == (str(extra), "--config")
    assert rows["kiosk"] == ("no", "default")
    # every key of the table is shown
    assert set(rows) >= {"cacert", "connect-timeout", "forms-dir", "idle-timeout", "kiosk", "lang",
                         "pkcs11-module", "pkcs11-uri", "server", "timeout", "trace"}

    # the flag beats the environment, the environment beats every file
    r = run(["--print-config", "--idle-timeout", "500"], {"RENKEI_IDLE_TIMEOUT": "400"}, tmp_path)
    assert printed(r.stdout)["idle-timeout"] == ("500", "--idle-timeout")
    # RENKEI_CONFIG is --config from the environment, read in --config's place
    r = run(["--print-config"], {"RENKEI_CONFIG": str(extra)}, tmp_path)
    assert printed(r.stdout)["connect-timeout"] == ("32", "%s:1" % extra)
    assert printed(r.stdout)["config"] == (str(extra), "RENKEI_CONFIG")


def test_no_secret_in_print_config(tmp_path):
    write(tmp_path / "etc/renkei.conf", "server = https://teller:s3cret-pw@bank.example/\n"
          "pkcs11-uri = pkcs11:token=card;id=%01?pin-value=97531\n")
    r = run(["--print-config"], {}, tmp_path)
    assert r.returncode == 0, r.stderr
    assert "s3cret-pw" not in r.stdout and "97531" not in r.stdout, r.stdout
    assert "https://***@bank.example/" in r.stdout
    assert "pin-value=***" in r.stdout


def test_bad_files_stop_renkei_with_file_and_line(tmp_path):
    write(tmp_path / "xdg/renkei/config", "lang = en\n\ncacret = /etc/ssl/ca.pem\n")
    r = run(["--server", "https://bank.example"], {}, tmp_path)
    assert r.returncode == EXIT_USAGE
    assert "%s:3: unknown setting: cacret (did you mean cacert?)" % (tmp_path / "xdg/renkei/config") \
        in r.stderr, r.stderr
    # nothing else was done: no screen, no request
    assert r.stdout == ""

    cases = [
        ("server https://bank.example\n", ":1: expected \"name = value\""),
        ("timeout = 3\ntimeout = 4\n", ":2: timeout is already set on line 1"),
        ("timeout = forever\n", ":1: timeout: expected a number from 1 to 600"),
        ("kiosk = perhaps\n", ":1: kiosk: give yes or no: perhaps"),
        ("user-code = WDJB-MJHT\n", ":1: user-code cannot be set in a configuration file"),
        ("frobnicate = 1\n", ":1: unknown setting: frobnicate\n"),
    ]
    for text, want in cases:
        f = write(tmp_path / "bad.conf", text)
        r = run(["--config", str(f), "--server", "https://bank.example"], {"XDG_CONFIG_HOME": None}, tmp_path)
        assert r.returncode == EXIT_USAGE, (text, r.stderr)
        assert str(f) + want in r.stderr, (text, r.stderr)

    # a bad system file too, and a missing --config file
    (tmp_path / "xdg/renkei/config").unlink()
    write(tmp_path / "etc/renkei.conf", "timeout = 0\n")
    r = run(["--print-config"], {}, tmp_path)
    assert r.returncode == EXIT_USAGE and "etc/renkei.conf:1: timeout" in r.stderr, r.stderr
    (tmp_path / "etc/renkei.conf").unlink()
    r = run(["--config", str(tmp_path / "missing.conf")], {}, tmp_path)
    assert r.returncode == EXIT_USAGE and "missing.conf: cannot open the configuration file" in r.stderr, r.stderr
    # a bad value in the environment, and a mistyped flag
    r = run(["--print-config"], {"RENKEI_TIMEOUT": "soon"}, tmp_path)
    assert r.returncode == EXIT_USAGE and "RENKEI_TIMEOUT: expected a number from 1 to 600" in r.stderr, r.stderr
    r = run(["--sever", "https://bank.example"], {}, tmp_path)
    assert r.returncode == EXIT_USAGE and "unknown option: --sever (did you mean --server?)" in r.stderr, r.stderr


def test_kiosk_rule(tmp_path):
    """In kiosk mode the server, CA, PKCS#11 module and URI, forms, trace and --config may come only
    from the system file, --config or the command line; RENKEI_* and the user's own file may not set
    them, nor turn kiosk mode off."""
    kiosk = write(tmp_path / "kiosk.conf", "kiosk = yes\nserver = https://bank.example\n")
    r = run(["--config", str(kiosk), "--print-config"], {}, tmp_path)
    assert r.returncode == 0, r.stderr
    assert printed(r.stdout)["kiosk"] == ("yes", "%s:1" % kiosk)
    r = run(["--config", str(kiosk), "--print-config"], {"RENKEI_SERVER": "https://evil.example"}, tmp_path)
    assert r.returncode == EXIT_USAGE
    assert "RENKEI_SERVER: in kiosk mode server cannot come from the environment" in r.stderr, r.stderr
    r = run(["--config", str(kiosk), "--print-config"], {"RENKEI_KIOSK": "no"}, tmp_path)
    assert r.returncode == EXIT_USAGE and "RENKEI_KIOSK: kiosk mode cannot be turned off" in r.stderr, r.stderr
    user = write(tmp_path / "xdg/renkei/config", "forms-dir = /home/kiosk/forms\n")
    r = run(["--kiosk", "--server", "https://bank.example", "--print-config"], {}, tmp_path)
    assert r.returncode == EXIT_USAGE
    assert "%s:1: in kiosk mode forms-dir cannot come from the user's configuration file" % user in r.stderr, \
        r.stderr
    # the same user file is fine outside kiosk mode; settings that are not trusted ones are fine in it
    r = run(["--server", "https://bank.example", "--print-config"], {}, tmp_path)
    assert r.returncode == 0 and printed(r.stdout)["forms-dir"] == ("/home/kiosk/forms", "%s:1" % user)
    write(tmp_path / "xdg/renkei/config", "lang = en\ntimeout = 40\n")
    r = run(["--config", str(kiosk), "--print-config"], {"RENKEI_IDLE_TIMEOUT": "60"}, tmp_path)
    assert r.returncode == 0, r.stderr


def test_flow_from_a_config_file(sandbox, term, tmp_path):
    """The server and CA of a real flow come from the --config file alone: renkei reaches the
    sandbox and shows the code screen."""
    sb = sandbox()
    conf = write(tmp_path / "renkei.conf", "# counter 3\nserver = %s\ncacert = %s\nlang = ja\n" % (sb.url, sb.cacert))
    env = client_env({"RENKEI_SYSCONFDIR": str(tmp_path / "etc")})
    t = term([str(CLIENT_BIN), "--config", str(conf)], env=env)
    wait_screen(t, "コード", title_is=JA["title"])
    # and a broken one never draws a screen: exit 2 with the file and line
    bad = write(tmp_path / "bad.conf", "server = %s\ncacert = %s\nlangauge = ja\n" % (sb.url, sb.cacert))
    r = run(["--config", str(bad)], {}, tmp_path)
    assert r.returncode == EXIT_USAGE and "%s:3: unknown setting: langauge" % bad in r.stderr, r.stderr


MANUAL = Path(__file__).resolve().parents[2] / "man/man5/renkei.conf.5"


def test_manual_has_every_key_and_variable(tmp_path):
    """renkei.conf(5) describes every key --print-config shows and every variable --help lists, and
    man --warnings finds nothing in it."""
    page = MANUAL.read_text()
    rows = printed(run(["--print-config"], {}, tmp_path).stdout)
    keys = [k for k in rows if k != "config"]
    assert len(keys) >= 11
    for k in keys:
        assert re.search(r"^\.B[IR]? %s(\s|$)" % re.escape(k.replace("-", "\\-")), page, re.M), k
    helptext = run(["--help", "--lang", "en"], {}, tmp_path).stdout
    envs = re.findall(r"\bRENKEI_[A-Z0-9_]+", helptext)
    assert "RENKEI_SERVER" in envs and "RENKEI_IDLE_TIMEOUT" in envs, helptext
    for v in envs:
        assert v in page, v
    r = subprocess.run(["man", "--warnings", "-l", str(MANUAL)], capture_output=True, text=True,
                       env=dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8", MANPAGER="cat", PAGER="cat"))
    assert r.returncode == 0 and r.stderr == "", r.stderr
    assert "KIOSK MODE" in r.stdout
