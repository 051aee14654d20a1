"""The real client under valgrind (memcheck) through a whole flow in a real terminal: no invalid
read or write, no use of uninitialised memory, nothing definitely lost.

  sato02, ID/password (mieru-demo): valgrind's default suppressions only.
  suzuki03, certificate (PKCS#11, a SoftHSM2 token made by scripts/mktoken.sh; kakeibo-demo): the
  same policy, plus tests/valgrind-p11.supp, a few narrow suppressions for SoftHSM2/libp11/OpenSSL
  code outside renkei (each entry says why). The client writes a --trace; afterwards neither the
  token PIN nor the password may be in it.
"""

import json
import re
import time
import shutil
from pathlib import Path

import pytest

from conftest import CLIENT_BIN
from e2e.helpers import (JA, PASSWORDS, Partner, checkbox_state, choose_password, client_env, login,
                         wait_screen)
from e2e.test_certificate import (MODULE, PASSWORD, TOKEN_PIN, _mktoken, choose_suzuki, finish_suzuki,
                                  type_password)

MIERU = "ミエル会計株式会社"
P11_SUPP = Path(__file__).resolve().parent.parent / "valgrind-p11.supp"


def valgrind_argv(log, client_args, supp=()):
    """memcheck: exit 99 on any error, leaks checked in full and only "definitely lost" counted as
    an error; a failing run's log carries ready-made suppression entries (--gen-suppressions) to
    judge, and names frames of libraries unloaded before the leak check (--keep-debuginfo)."""
    return (["valgrind", "-q", "--error-exitcode=99", "--leak-check=full", "--errors-for-leak-kinds=definite",
             "--log-file=%s" % log, "--gen-suppressions=all", "--keep-debuginfo=yes"] +
            ["--suppressions=%s" % s for s in supp] + [str(CLIENT_BIN)] + [str(a) for a in client_args])


def valgrind_report(log, rc):
    """The log, once it is sure valgrind ran and found nothing (exit 99 is --error-exitcode)."""
    assert log.exists(), "valgrind did not run"
    report = log.read_text(errors="replace")
    assert rc == 0, "valgrind found errors (exit %r):\n%s" % (rc, report)
    assert not re.search(r"Invalid (read|write|free)|uninitialised|definitely lost|Mismatched free", report), report
    return report


def checkbox_hint_gone(screen):
    """The terms were shown to their end: 許可手続きを継続する no longer says to read them."""
    return "許可手続きを継続する" in screen and "最後までお読みください" not in screen


@pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind is not installed")
def test_client_flow_under_valgrind(sandbox, curl, term, pki, tmp_path):
    sb = sandbox()
    partner = Partner(curl, sb, "mieru-demo")
    log = tmp_path / "valgrind.log"
    argv = valgrind_argv(log, ["--server", sb.url, "--cacert", pki / "ca.crt"])
    t = term(argv, env=client_env())
    wait_screen(t, "コード", title_is=JA["title"], timeout=30)
    t.type(partner.user_code)
    t.send("Enter")
    wait_screen(t, MIERU, timeout=30)
    choose_password(t)
    login(t, "sato02", PASSWORDS["sato02"])
    wait_screen(t, "※意思確認", title_is=JA["title_permission"], timeout=30)
    # the terms read to their end (the checkbox takes a tick only then): PgDn until no more
    for _ in range(40):
        if checkbox_hint_gone(t.screen()):
            break
        t.send("NPage")
        time.sleep(0.3)
    t.wait_for(checkbox_hint_gone, timeout=30)
    t.send("Tab", "Space")
    t.wait_for(lambda x: checkbox_state(x, "許可手続きを継続する") is True, timeout=30)
    t.send("Enter")
    wait_screen(t, "API連携の利用登録が完了しました。", timeout=30)
    t.send("Enter")
    rc = t.wait_exit(timeout=60)
    valgrind_report(log, rc)
    assert partner.get_token()


@pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind is not installed")
def test_certificate_flow_under_valgrind(sandbox, curl, term, pki, tmp_path):
    """suzuki03: chooser, token PIN (C_Login), mutual TLS with the token's key (RSA-PSS signed by
    SoftHSM2), password, scopes, PIN table, allow, exit 0; the partner gets its token."""
    assert Path(MODULE).exists(), "%s missing (softhsm2 is in scripts/install-deps.sh)" % MODULE
    assert P11_SUPP.exists(), P11_SUPP
    conf = _mktoken(pki, tmp_path / "tok")
    sb = sandbox()
    partner = Partner(curl, sb)
    log = tmp_path / "valgrind.log"
    trace = tmp_path / "trace.jsonl"
    argv = valgrind_argv(log, ["--server", sb.url, "--cacert", pki / "ca.crt", "--user-code", partner.user_code,
                               "--pkcs11-module", MODULE, "--trace", trace], supp=[P11_SUPP])
    t = term(argv, env=client_env({"SOFTHSM2_CONF": str(conf)}))
    choose_suzuki(t, pki)
    type_password(t, PASSWORD)
    try:
        finish_suzuki(t)  # ends with the exit status: 0, or valgrind's 99
    except AssertionError as e:
        # valgrind's exit (the leak check) may outlast finish_suzuki's wait, and its 99 fails
        # there: show valgrind's log. Any other failure (a screen) is raised as it is.
        if not (t.exited() or "did not exit" in str(e)):
            raise
        valgrind_report(log, t.wait_exit(timeout=120))
        raise
    valgrind_report(log, t.status())
    tok = partner.get_token()
    assert set(tok["scope"].split()) == {"balance", "transactions"}, tok

    # the trace: the certificate login went through it, no secret anywhere
    text = trace.read_text(encoding="utf-8")
    events = [json.loads(ln) for ln in text.splitlines() if ln.strip()]
    logins = [e for e in events if e.get("path") == "/consent/v1/session/login"]
    assert logins and all(e.get("status") == 200 for e in logins), events
    for secret in (TOKEN_PIN, PASSWORD, "2468"):
        assert secret not in text, "secret %r in the trace" % secret
