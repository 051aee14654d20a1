"""make install PREFIX=... DESTDIR=...: binaries, manual pages and the English catalog land where
they belong, and the installed client finds its catalog from there."""

import os
import subprocess

from conftest import ROOT


def test_make_install_into_destdir(tmp_path):
    dest = tmp_path / "dest"
    r = subprocess.run(["make", "-s", "install", "PREFIX=/opt/renkei", "DESTDIR=%s" % dest], cwd=ROOT,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    root = dest / "opt" / "renkei"
    for f in ("bin/renkei", "bin/renkei-sandbox", "share/man/man1/renkei.1", "share/man/man1/renkei-sandbox.1",
              "share/locale/en/LC_MESSAGES/renkei.mo"):
        assert (root / f).is_file(), f
    assert os.access(root / "bin" / "renkei", os.X_OK)
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "LANGUAGE": "en"}
    out = subprocess.run([str(root / "bin" / "renkei"), "--help"], env=env, capture_output=True, text=True,
                         timeout=30)
    assert out.returncode == 0 and "Usage:" in out.stdout, out
    ja = subprocess.run([str(root / "bin" / "renkei"), "--help"], env=dict(env, LANGUAGE="ja"),
                        capture_output=True, text=True, timeout=30)
    assert "使い方" in ja.stdout, ja
