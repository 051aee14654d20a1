"""make install PREFIX=... DESTDIR=...: binaries, manual pages (sections 1, 5, 8 and the Japanese
renkei(1)), the forms, the demo scenario and the English catalog land where they belong, and the
installed client finds its catalog from there."""

import os
import subprocess

from conftest import ROOT


def test_make_install_into_destdir(tmp_path):
    dest = tmp_path / "dest"
    r = subprocess.run(["make", "-s", "install", "PREFIX=/opt/renkei", "DESTDIR=%s" % dest], cwd=ROOT,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    root = dest / "opt" / "renkei"
    for f in ("bin/renkei", "bin/renkei-sandbox", "share/man/man1/renkei.1", "share/man/man8/renkei-sandbox.8",
              "share/man/man5/renkei-forms.5", "share/man/ja/man1/renkei.1",
              "share/locale/en/LC_MESSAGES/renkei.mo", "share/renkei/forms/login_password.form",
              "share/renkei-sandbox/scenarios/demo.json"):
        assert (root / f).is_file(), f
    # every page of man/ lands under share/man as laid out there (manN/, LANG/manN/)
    pages = [p.relative_to(ROOT / "man") for p in (ROOT / "man").rglob("*.[1-8]")]
    assert pages and all((root / "share/man" / p).is_file() for p in pages), pages
    assert not (root / "share/man/man1/renkei-sandbox.1").exists()
    forms = sorted(p.name for p in (ROOT / "forms").glob("*.form"))
    assert sorted(p.name for p in (root / "share/renkei/forms").iterdir()) == forms
    assert os.access(root / "bin" / "renkei", os.X_OK)
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "LANGUAGE": "en"}
    out = subprocess.run([str(root / "bin" / "renkei"), "--help"], env=env, capture_output=True, text=True,
                         timeout=30)
    assert out.returncode == 0 and "Usage:" in out.stdout, out
    ja = subprocess.run([str(root / "bin" / "renkei"), "--help"], env=dict(env, LANGUAGE="ja"),
                        capture_output=True, text=True, timeout=30)
    assert "使い方" in ja.stdout, ja
