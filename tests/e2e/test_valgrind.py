"""The real client under valgrind (memcheck) through a whole flow in a real terminal: no invalid
read or write, no use of uninitialised memory, nothing definitely lost."""

import re
import shutil

import pytest

from conftest import CLIENT_BIN
from e2e.helpers import (JA, PASSWORDS, Partner, checkbox_state, choose_password, client_env, login,
                         wait_screen)

MIERU = "ミエル会計株式会社"


@pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind is not installed")
def test_client_flow_under_valgrind(sandbox, curl, term, pki, tmp_path):
    sb = sandbox()
    partner = Partner(curl, sb, "mieru-demo")
    log = tmp_path / "valgrind.log"
    argv = ["valgrind", "-q", "--error-exitcode=99", "--leak-check=full",
            "--errors-for-leak-kinds=definite", "--log-file=%s" % log,
            str(CLIENT_BIN), "--server", sb.url, "--cacert", str(pki / "ca.crt")]
    t = term(argv, env=client_env())
    wait_screen(t, "コード", title_is=JA["title"], timeout=30)
    t.type(partner.user_code)
    t.send("Enter")
    wait_screen(t, MIERU, timeout=30)
    choose_password(t)
    login(t, "sato02", PASSWORDS["sato02"])
    wait_screen(t, "※意思確認", title_is=JA["title_permission"], timeout=30)
    t.send("Tab", "Space")
    t.wait_for(lambda x: checkbox_state(x, "許可手続きを継続する") is True, timeout=30)
    t.send("Enter")
    wait_screen(t, "API連携の利用登録が完了しました。", timeout=30)
    t.send("Enter")
    rc = t.wait_exit(timeout=60)
    assert log.exists(), "valgrind did not run"
    report = log.read_text(errors="replace")
    assert rc == 0, "valgrind found errors (exit %r):\n%s" % (rc, report)
    assert not re.search(r"Invalid (read|write)|uninitialised|definitely lost", report), report
    assert partner.get_token()
