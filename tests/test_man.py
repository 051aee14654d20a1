"""The manual pages under man/ (installed by make install and the Debian packages): each renders with
`man --warnings -l` without a warning, lexgrog finds its NAME section (what mandb and apropos index),
and the manuals keep up with the programs: every option of `renkei --help` is in renkei(1), English
and Japanese, every option of `renkei-sandbox --help` in renkei-sandbox(8), each in the page's OPTIONS
section, and so are the environment variables and exit statuses --help lists."""

import re
import subprocess

import pytest

from conftest import CLIENT_BIN, ROOT, SANDBOX_BIN

PAGES = sorted(p for p in (ROOT / "man").rglob("*") if p.is_file() and re.fullmatch(r".*\.[1-8]", p.name))
RENKEI_EN = ROOT / "man/man1/renkei.1"
RENKEI_JA = ROOT / "man/ja/man1/renkei.1"
SANDBOX = ROOT / "man/man8/renkei-sandbox.8"
SECTIONS = {  # (options, environment, exit status) section headings per page
    RENKEI_EN: ("OPTIONS", "ENVIRONMENT", "EXIT STATUS"),
    RENKEI_JA: ("オプション", "環境変数", "終了ステータス"),
    SANDBOX: ("OPTIONS", None, "EXIT STATUS"),
}


def test_the_pages_are_where_make_install_takes_them():
    names = {str(p.relative_to(ROOT / "man")) for p in PAGES}
    for want in ("man1/renkei.1", "ja/man1/renkei.1", "man8/renkei-sandbox.8", "man5/renkei-forms.5"):
        assert want in names, names
    for p in PAGES:  # manN/NAME.N (or LANG/manN/NAME.N): the section matches the directory
        assert p.parent.name == "man" + p.suffix[1:], p


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT / "man")))
def test_page_renders_without_warnings(page):
    r = subprocess.run(["man", "--warnings", "-l", str(page)], capture_output=True, text=True, timeout=60,
                       env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "MANWIDTH": "80", "MANPAGER": "cat"})
    assert r.returncode == 0, r.stderr
    assert r.stderr == "", r.stderr
    th = re.search(r"^\.TH (\S+) (\S+)", page.read_text(), re.M)
    assert th and th.group(2) == page.suffix[1:], "%s: .TH section is not %s" % (page, page.suffix)
    assert th.group(1).lower() == page.stem.lower(), "%s: .TH names %s" % (page, th.group(1))


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT / "man")))
def test_lexgrog_finds_the_name_section(page):
    r = subprocess.run(["lexgrog", str(page)], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    m = re.search(r': "(\S+) - (.+)"$', r.stdout.strip())
    assert m and m.group(1) == page.stem, r.stdout


def section(page, heading):
    """The source of one .SH section, with roff's \\- as - and font escapes removed."""
    src = page.read_text()
    m = re.search(r"^\.SH \"?%s\"?\n(.*?)(?=^\.SH |\Z)" % re.escape(heading), src, re.M | re.S)
    assert m, "%s has no section %s" % (page, heading)
    return re.sub(r"\\f[BIRP]|\\&", "", m.group(1).replace("\\-", "-"))


def help_text(binary):
    assert binary.exists(), "%s does not exist (run make)" % binary
    r = subprocess.run([str(binary), "--help"], capture_output=True, text=True, timeout=30,
                       env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "LANGUAGE": "en", "HOME": "/nonexistent"})
    assert r.returncode == 0, r
    return r.stdout


def help_options(text):
    opts = set()
    for ln in text.splitlines():
        m = re.match(r"^\s+(?:(-[A-Za-z]), )?(--[a-z0-9][a-z0-9-]*)", ln)
        if m:
            opts.update(o for o in m.groups() if o)
    return opts


@pytest.mark.parametrize("binary,pages", [(CLIENT_BIN, [RENKEI_EN, RENKEI_JA]), (SANDBOX_BIN, [SANDBOX])],
                         ids=["renkei", "renkei-sandbox"])
def test_every_help_option_is_in_the_manual(binary, pages):
    opts = help_options(help_text(binary))
    assert len(opts) >= 5 and "--help" in opts, opts  # the parse itself works
    for page in pages:
        text = section(page, SECTIONS[page][0])
        missing = sorted(o for o in opts if not re.search(r"(?<![\w-])%s(?![\w-])" % re.escape(o), text))
        assert not missing, "%s, section %s, lacks %s" % (page.relative_to(ROOT), SECTIONS[page][0], missing)


def test_renkei_environment_and_exit_statuses_are_in_the_manual():
    text = help_text(CLIENT_BIN)
    env = re.findall(r"\bRENKEI_[A-Z0-9_]+", text)
    codes = re.findall(r"^\s+(\d)\s+\S", text.split("Exit status:", 1)[1], re.M)
    assert env and sorted(codes) == ["0", "1", "2", "3", "4", "5"], text
    for page in (RENKEI_EN, RENKEI_JA):
        _, env_sec, exit_sec = SECTIONS[page]
        e = section(page, env_sec)
        assert not [v for v in env if v not in e], (page, [v for v in env if v not in e])
        x = section(page, exit_sec)
        assert not [c for c in codes if not re.search(r"^\.B %s$" % c, x, re.M)], (page, codes)


def test_sandbox_exit_statuses_are_in_the_manual():
    text = help_text(SANDBOX_BIN)
    codes = re.findall(r"\b(\d) (?:after|on)\b", text)
    assert codes, text
    x = section(SANDBOX, "EXIT STATUS")
    assert not [c for c in codes if not re.search(r"^\.B %s$" % c, x, re.M)], codes


def test_manuals_name_the_config_file_page():
    """renkei(1) leaves the configuration file's format to renkei.conf(5)."""
    for page in (RENKEI_EN, RENKEI_JA):
        assert re.search(r"^\.BR renkei\.conf \(5\)", page.read_text(), re.M), page
