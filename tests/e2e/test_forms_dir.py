"""A bank's forms directory: it may hold only the forms the bank changed (the rest are built in);
every form is loaded and checked before the first screen, so a broken one stops renkei at start
with file:line: what is wrong and never meets a customer; --check-forms checks a directory for the
bank's deployment pipeline.

Run: /usr/bin/python3 -m pytest -q tests/e2e/test_forms_dir.py
"""

import os
import subprocess

from e2e.helpers import CLIENT_BIN, JA, ROOT, client_argv, client_env, start_client, wait_screen

BROKEN = 'title = _("x")\n\n[button go]\n'


def _changed_dir(tmp_path):
    d = tmp_path / "forms"
    d.mkdir()
    text = (ROOT / "forms" / "code.form").read_text(encoding="utf-8")
    assert '_("コード")' in text
    (d / "code.form").write_text(text.replace('_("コード")', '_("お取引コード")'), encoding="utf-8")
    return d


def _run(argv):
    """renkei without a terminal (forms are checked before it needs one), a clean environment."""
    e = {k: v for k, v in os.environ.items() if not k.startswith("RENKEI_")}
    e.update({k: v for k, v in client_env().items() if v is not None})
    return subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL, env=e, timeout=30)


def test_a_directory_with_one_changed_form(sandbox, term, tmp_path):
    d = _changed_dir(tmp_path)
    r = _run([str(CLIENT_BIN), "--check-forms", str(d)])
    assert r.returncode == 0 and str(d) in r.stdout, r
    sb = sandbox()
    t = start_client(term, sb, extra=("--forms-dir", str(d)))
    s = wait_screen(t, "お取引コード", title_is=JA["title"])  # the bank's label is used
    assert "例：WDJB-MJHT" in s, s  # the rest of that form as the bank left it


def test_a_broken_form_stops_renkei_at_start(sandbox, tmp_path):
    d = _changed_dir(tmp_path)
    (d / "done.form").write_text(BROKEN, encoding="utf-8")
    r = _run([str(CLIENT_BIN), "--check-forms", str(d)])
    assert r.returncode == 1 and "%s/done.form:3: [button] needs label" % d in r.stderr, r
    sb = sandbox()
    # not even the first screen: the done screen is checked before it
    r = _run(client_argv(sb, extra=("--forms-dir", str(d))))
    assert r.returncode == 1, r
    assert "%s/done.form:3:" % d in r.stderr and r.stdout == "", r


def test_an_unknown_form_name_is_refused(tmp_path):
    d = _changed_dir(tmp_path)
    (d / "partnr.form").write_text(BROKEN, encoding="utf-8")
    r = _run([str(CLIENT_BIN), "--check-forms", str(d)])
    assert r.returncode == 1 and "partnr.form: not a form renkei shows" in r.stderr, r
    assert "partner.form" in r.stderr, r
