"""The client's message catalogs: po/POTFILES.in complete, po/en.po complete and in sync.

Run: /usr/bin/python3 -m pytest -q tests/test_po.py      (also run by `make check-po`)

The msgids are the Japanese product words (shared/design/screens.md); Japanese is shown when no
catalog applies. The checks are functions of a source tree (root) returning a list of problems, so
the self-tests at the bottom can run them on a damaged copy and show that each one can fail.
Fix a failure with:  make pot   (regenerates po/renkei.pot, msgmerges po/en.po), translate what is
new or fuzzy in po/en.po, then run this test again.
"""

import gettext
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Same keywords as the Makefile's `pot` rule.
XGETTEXT = ["xgettext", "--from-code=UTF-8", "-L", "C", "-k_", "-kN_", "-cTRANSLATORS:",
            "--package-name=renkei", "-f", "po/POTFILES.in"]

# A gettext call: _( or N_( not preceded by an identifier character.
CALL = re.compile(r"(?<![A-Za-z0-9_])N?_\(")

# Japanese labels of shared/design/screens.md that must be msgids, verbatim.
SCREEN_LABELS = [
    "API連携認証（利用登録）", "ログインID", "ログインパスワード", "API連携", "電子証明書ログイン",
    "API連携認証（追加認証）（利用登録）", "質問", "回答", "認証",
    "API連携認証（認可業務選択）（利用登録）", "認可対象", "残高照会", "入金出金照会", "次へ",
    "API連携認証（照会用暗証番号登録）（利用登録）", "口座一覧", "選択", "登録状態", "照会用口座",
    "口座メモ", "照会用暗証番号", "未登録", "登録済み", "登録済み*", "登録",
    "API連携認証（照会用暗証番号登録結果）", "照会用暗証番号の追加登録", "確認",
    "API連携認証（情報アクセス許可）（利用登録）", "※認可対象", "※認可期間", "※意思確認",
    "許可手続きを継続する", "戻る", "許可",
]

# The agreed English terminology (msgid -> msgstr), checked when the msgid exists.
GLOSSARY = {
    "API連携認証（利用登録）": "API link authentication (registration)",
    "API連携認証（追加認証）（利用登録）": "API link authentication (additional authentication) (registration)",
    "認可対象": "Authorized services",
    "※認可対象": "Authorized services",
    "※認可期間": "Authorization period",
    "※意思確認": "Confirmation of intent",
    "残高照会": "Balance inquiry",
    "入金出金照会": "Transaction inquiry",
    "照会用暗証番号": "Inquiry PIN",
    "登録済み": "Registered",
    "登録済み*": "Registered*",
    "未登録": "Not registered",
    "普通": "Ordinary",
    "当座": "Current",
    "貯蓄": "Savings",
    "English": "日本語",
    "%1$d年%2$d月%3$d日": "%1$04d-%2$02d-%3$02d",
    "%s(%s) %s %s": "%s (%s) %s %s",
}

PLACEHOLDER = re.compile(r"\{[a-z_]+\}")


# ---------------------------------------------------------------------------------------------
# A small PO reader (enough for what xgettext and msgmerge write).

class Entry:
    def __init__(self):
        self.msgctxt = None
        self.msgid = None
        self.msgid_plural = None
        self.msgstr = {}          # index -> text (0 for a plain msgstr)
        self.flags = set()
        self.obsolete = False
        self.line = 0
        self.refs = []            # "#:" source references

    @property
    def key(self):
        return (self.msgctxt, self.msgid)

    def translated(self):
        return bool(self.msgstr) and all(v != "" for v in self.msgstr.values())

    def label(self):
        ctx = "[%s] " % self.msgctxt if self.msgctxt else ""
        return "%s%r (line %d)" % (ctx, self.msgid, self.line)


_ESC = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "a": "\a", "b": "\b", "f": "\f", "v": "\v"}


def _unquote(s, where):
    s = s.strip()
    if len(s) < 2 or s[0] != '"' or s[-1] != '"':
        raise ValueError("%s: not a quoted string: %r" % (where, s))
    return re.sub(r'\\(.)', lambda m: _ESC.get(m.group(1), "\\" + m.group(1)), s[1:-1])


def parse_po(path):
    """The entries of a PO/POT file (the header included, msgid ""). Entries are separated by
    blank lines, as xgettext and msgmerge write them; a msgctxt/msgid after a msgstr also starts one."""
    entries = []
    cur = None
    field = None
    text = Path(path).read_text(encoding="utf-8")
    for n, line in enumerate(text.splitlines(), 1):
        where = "%s:%d" % (path, n)
        obsolete = line.startswith("#~")
        if obsolete:
            line = line[2:].lstrip()
            if line.startswith("|"):      # previous msgid of an obsolete fuzzy entry
                continue
        if not line.strip():
            cur, field = None, None
            continue
        m = re.match(r'^(msgctxt|msgid_plural|msgid|msgstr(?:\[(\d+)\])?)\s+(".*")\s*$', line)
        starts = m is not None and m.group(1) in ("msgctxt", "msgid") and cur is not None and cur.msgstr
        if cur is None or starts:
            cur = Entry()
            cur.line = n
            entries.append(cur)
        cur.obsolete = cur.obsolete or obsolete
        if line.startswith("#"):
            if line.startswith("#,"):
                cur.flags.update(f.strip() for f in line[2:].split(",") if f.strip())
            elif line.startswith("#:"):
                cur.refs += line[2:].split()
            continue
        if m:
            kw = m.group(1)
            val = _unquote(m.group(3), where)
            if kw == "msgctxt":
                cur.msgctxt, field = val, ("msgctxt", None)
            elif kw == "msgid":
                cur.msgid, field = val, ("msgid", None)
                cur.line = n
            elif kw == "msgid_plural":
                cur.msgid_plural, field = val, ("msgid_plural", None)
            else:
                idx = int(m.group(2)) if m.group(2) is not None else 0
                cur.msgstr[idx] = val
                field = ("msgstr", idx)
            continue
        if line.startswith('"') and field is not None:
            val = _unquote(line, where)
            name, idx = field
            if name == "msgstr":
                cur.msgstr[idx] += val
            else:
                setattr(cur, name, getattr(cur, name) + val)
            continue
        raise ValueError("%s: cannot parse: %r" % (where, line))
    return [e for e in entries if e.msgid is not None]


def catalogs(root):
    return sorted(Path(root, "po").glob("*.po"))


# ---------------------------------------------------------------------------------------------
# The checks: each returns a list of problems (empty: fine).

def potfiles(root):
    """The entries of po/POTFILES.in (comments and blank lines skipped)."""
    out = []
    for line in Path(root, "po", "POTFILES.in").read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            out.append(line)
    return out


_C_TOKENS = re.compile(r'"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'|/\*.*?\*/|//[^\n]*', re.S)


def strip_c_comments(text):
    """C source without its comments (string and character literals kept)."""
    return _C_TOKENS.sub(lambda m: m.group(0) if m.group(0)[0] in "\"'" else " ", text)


def strip_form_comments(text):
    """A forms file without its full-line comments (// # ;)."""
    return "\n".join(l for l in text.splitlines() if not l.lstrip().startswith(("//", "#", ";")))


def translatable_sources(root):
    """Client sources and forms that call _() or N_() outside comments."""
    root = Path(root)
    cands = (list(root.glob("src/**/*.c")) + list(root.glob("src/**/*.h")) +
             [p for p in root.glob("include/*.h") if p.name != "i18n.h"] + list(root.glob("forms/*.form")))
    found = set()
    for p in cands:
        text = p.read_text(encoding="utf-8", errors="replace")
        text = strip_form_comments(text) if p.suffix == ".form" else strip_c_comments(text)
        if CALL.search(text):
            found.add(p.relative_to(root).as_posix())
    return found


def check_potfiles(root):
    problems = []
    listed = potfiles(root)
    for f in listed:
        if not Path(root, f).is_file():
            problems.append("po/POTFILES.in lists %s, which does not exist" % f)
    dups = sorted({f for f in listed if listed.count(f) > 1})
    for f in dups:
        problems.append("po/POTFILES.in lists %s twice" % f)
    for f in sorted(translatable_sources(root) - set(listed)):
        problems.append("%s calls _() or N_() but po/POTFILES.in does not list it" % f)
    return problems


def make_pot(root, out):
    """Regenerate the template into `out` (never touches po/renkei.pot)."""
    existing = [f for f in potfiles(root) if Path(root, f).is_file()]
    lst = Path(out).with_suffix(".list")
    lst.write_text("".join(f + "\n" for f in existing), encoding="utf-8")
    argv = [a if a != "po/POTFILES.in" else str(lst) for a in XGETTEXT] + ["-o", str(out)]
    r = subprocess.run(argv, cwd=str(root), capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, "xgettext failed:\n" + r.stderr
    # xgettext writes nothing when there are no strings at all
    assert Path(out).exists(), "xgettext wrote no template"
    return out


def check_in_sync(root, pot):
    """Every msgid of the regenerated template is translated (not fuzzy) in every catalog, and no
    catalog keeps msgids the sources no longer have."""
    problems = []
    tmpl = {e.key: e for e in parse_po(pot) if e.msgid != ""}
    for po in catalogs(root):
        name = po.relative_to(root).as_posix()
        entries = [e for e in parse_po(po) if e.msgid != "" and not e.obsolete]
        have = {e.key: e for e in entries}
        for key, t in tmpl.items():
            e = have.get(key)
            if e is None:
                problems.append("%s lacks msgid %r (from %s)" % (name, t.msgid, " ".join(t.refs) or "?"))
            elif "fuzzy" in e.flags:
                problems.append("%s: fuzzy translation of %s" % (name, e.label()))
            elif not e.translated():
                problems.append("%s: untranslated %s" % (name, e.label()))
        for key, e in have.items():
            if key not in tmpl:
                problems.append("%s: %s is no longer in the sources (run make pot)" % (name, e.label()))
    return problems


def check_msgfmt(root):
    problems = []
    for po in catalogs(root):
        r = subprocess.run(["msgfmt", "--check", "--check-format", "-o", "/dev/null", str(po)],
                           cwd=str(root), capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            problems.append("msgfmt --check --check-format %s failed:\n%s" % (po.name, r.stderr))
    return problems


def check_obsolete(root):
    problems = []
    for po in catalogs(root):
        for n, line in enumerate(po.read_text(encoding="utf-8").splitlines(), 1):
            if line.startswith("#~"):
                problems.append("%s:%d: obsolete entry (msgattrib --no-obsolete)" % (po.name, n))
    return problems


def check_placeholders(root):
    """{partner}, {label}, ... are substituted by the client: every one of the msgid must be in the
    translation, and no other."""
    problems = []
    for po in catalogs(root):
        for e in parse_po(po):
            if e.msgid == "" or e.obsolete or not e.translated():
                continue
            want = sorted(PLACEHOLDER.findall(e.msgid))
            for s in e.msgstr.values():
                got = sorted(PLACEHOLDER.findall(s))
                if got != want:
                    problems.append("%s: %s: placeholders %s in the translation, %s in the msgid"
                                    % (po.name, e.label(), got, want))
    return problems


# Language-neutral msgids allowed in ASCII ("English" is the F2 key naming the other language).
ASCII_MSGIDS = {"OK", "PIN", "English"}
_CONVERSION = re.compile(r"%(?:\d+\$)?[-+ #0']*(?:\d+|\*)?(?:\.(?:\d+|\*))?(?:hh|h|ll|l|j|z|t|L)?[a-zA-Z%]")


def check_japanese_msgids(pot):
    """The msgids are the Japanese product words: an English msgid would show English to a
    Japanese customer (Japanese is what is shown when no catalog applies)."""
    problems = []
    for e in parse_po(pot):
        if e.msgid == "" or e.msgid in ASCII_MSGIDS or any(ord(c) > 127 for c in e.msgid):
            continue
        rest = PLACEHOLDER.sub("", _CONVERSION.sub("", e.msgid))
        if re.search(r"[A-Za-z]{2,}", rest):
            problems.append("msgid %r (%s) is not Japanese: msgids are the Japanese product words"
                            % (e.msgid, " ".join(e.refs) or "?"))
    return problems


def check_screen_labels(pot):
    ids = {e.msgid for e in parse_po(pot)}
    return ["screens.md label %r is not a msgid of the sources" % l for l in SCREEN_LABELS if l not in ids]


def check_glossary(root):
    problems = []
    po = Path(root, "po", "en.po")
    have = {e.msgid: e for e in parse_po(po) if not e.obsolete}
    for k, v in GLOSSARY.items():
        e = have.get(k)
        if e is not None and e.msgstr.get(0) != v:
            problems.append("en.po: %r should be %r, not %r" % (k, v, e.msgstr.get(0)))
    return problems


# ---------------------------------------------------------------------------------------------
# The tests on the tree

@pytest.fixture(scope="module")
def pot(tmp_path_factory):
    return make_pot(ROOT, tmp_path_factory.mktemp("pot") / "renkei.pot")


def _assert_none(problems):
    assert not problems, "\n".join(problems) + "\n\nRefresh: make pot, translate po/en.po, make check-po"


def test_potfiles_in_is_complete():
    _assert_none(check_potfiles(ROOT))


def test_en_po_exists():
    assert (ROOT / "po" / "en.po").is_file()


def test_catalogs_cover_every_msgid(pot):
    _assert_none(check_in_sync(ROOT, pot))


def test_msgfmt_check_format():
    _assert_none(check_msgfmt(ROOT))


def test_no_obsolete_entries():
    _assert_none(check_obsolete(ROOT))


def test_placeholders_kept():
    _assert_none(check_placeholders(ROOT))


def test_screen_labels_are_msgids(pot):
    _assert_none(check_screen_labels(pot))


def test_msgids_are_japanese(pot):
    _assert_none(check_japanese_msgids(pot))


def test_english_terminology():
    _assert_none(check_glossary(ROOT))


def test_mo_translates(tmp_path):
    """The compiled catalog really answers: the F2 label names the other language."""
    mo = tmp_path / "en" / "LC_MESSAGES" / "renkei.mo"
    mo.parent.mkdir(parents=True)
    r = subprocess.run(["msgfmt", "--check", "-o", str(mo), str(ROOT / "po" / "en.po")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    t = gettext.translation("renkei", localedir=str(tmp_path), languages=["en"])
    assert t.gettext("English") == "日本語"
    assert t.gettext("API連携認証（利用登録）") == "API link authentication (registration)"
    assert t.gettext("not a msgid") == "not a msgid"


# ---------------------------------------------------------------------------------------------
# Self-tests: each check fails on a damaged copy of the tree.

@pytest.fixture
def copy(tmp_path):
    dst = tmp_path / "tree"
    for d in ("po", "forms", "src", "include"):
        shutil.copytree(ROOT / d, dst / d)
    return dst


def test_self_potfiles_missing_and_extra(copy):
    (copy / "src" / "new_module.c").write_text('#include "i18n.h"\nconst char *x(void){return _("新しい");}\n')
    lst = copy / "po" / "POTFILES.in"
    lst.write_text(lst.read_text() + "src/gone.c\n")
    probs = check_potfiles(copy)
    assert any("src/new_module.c" in p and "does not list" in p for p in probs), probs
    assert any("src/gone.c" in p and "does not exist" in p for p in probs), probs


def test_self_new_msgid_untranslated_fuzzy(copy, tmp_path):
    before = set(check_in_sync(copy, make_pot(copy, tmp_path / "a.pot")))
    (copy / "src" / "new_module.c").write_text('#include "i18n.h"\nconst char *x(void){return _("新しい");}\n')
    lst = copy / "po" / "POTFILES.in"
    lst.write_text(lst.read_text() + "src/new_module.c\n")
    probs = set(check_in_sync(copy, make_pot(copy, tmp_path / "b.pot"))) - before
    assert any("lacks msgid '新しい'" in p for p in probs), probs
    po = copy / "po" / "en.po"
    text = po.read_text(encoding="utf-8")
    text = text.replace('msgid "戻る"\nmsgstr "Back"', 'msgid "戻る"\nmsgstr ""')
    text = text.replace('msgid "許可"\n', '#, fuzzy\nmsgid "許可"\n', 1)
    po.write_text(text + '\nmsgid "消えた文字列"\nmsgstr "Gone"\n', encoding="utf-8")
    probs = set(check_in_sync(copy, make_pot(copy, tmp_path / "c.pot"))) - before
    assert any("untranslated '戻る'" in p for p in probs), probs
    assert any("fuzzy translation of '許可'" in p for p in probs), probs
    assert any("'消えた文字列'" in p and "no longer" in p for p in probs), probs


def test_self_msgfmt_format_mismatch(copy):
    po = copy / "po" / "en.po"
    text = po.read_text(encoding="utf-8")
    assert 'msgstr "%s (%s) %s %s"' in text
    po.write_text(text.replace('msgstr "%s (%s) %s %s"', 'msgstr "%s (%d) %s %s"'), encoding="utf-8")
    assert check_msgfmt(copy), "a %s -> %d swap must fail msgfmt --check-format"


def test_self_obsolete(copy):
    po = copy / "po" / "en.po"
    po.write_text(po.read_text(encoding="utf-8") + '\n#~ msgid "古い"\n#~ msgstr "Old"\n', encoding="utf-8")
    assert check_obsolete(copy)
    assert all(e.obsolete for e in parse_po(po) if e.msgid == "古い")


def test_self_placeholder_and_glossary(copy):
    po = copy / "po" / "en.po"
    text = po.read_text(encoding="utf-8")
    text = text.replace('msgstr "Partner: {partner}"', 'msgstr "Partner: {parter}"')
    text = text.replace('msgstr "Balance inquiry"', 'msgstr "Balance enquiry"')
    po.write_text(text, encoding="utf-8")
    assert any("{parter}" in p for p in check_placeholders(copy))
    assert any("残高照会" in p for p in check_glossary(copy))


def test_self_screen_label_missing(copy, tmp_path):
    f = copy / "src" / "app_text.c"  # the scope words (the scopes screen lists the server's scopes)
    f.write_text(f.read_text(encoding="utf-8").replace('N_("入金出金照会")', 'N_("入出金照会")'), encoding="utf-8")
    probs = check_screen_labels(make_pot(copy, tmp_path / "d.pot"))
    assert probs == ["screens.md label '入金出金照会' is not a msgid of the sources"], probs


def test_self_comments_ignored_and_english_msgid(copy, tmp_path):
    (copy / "src" / "doc.c").write_text('/* e.g. _("x") */\n// N_("y")\nconst char *u = "http://x/*";\n')
    assert "src/doc.c" not in translatable_sources(copy)
    (copy / "src" / "eng.c").write_text('#include "i18n.h"\nconst char *e(void){return _("Card not found: %s");}\n')
    lst = copy / "po" / "POTFILES.in"
    lst.write_text(lst.read_text() + "src/eng.c\n")
    probs = check_japanese_msgids(make_pot(copy, tmp_path / "e.pot"))
    assert any("Card not found" in p and "src/eng.c" in p for p in probs), probs
