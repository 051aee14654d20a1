"""README.md stays true: its RFC 8628 curl example runs as written against the real sandbox, and
the screens it shows are the golden screens of the terminal tests (tests/golden/)."""

import json
import re
import subprocess

from conftest import ROOT
from harness.proto import consent_to_permission, start

README = ROOT / "README.md"
GOLDEN = ROOT / "tests" / "golden"


def _example():
    text = README.read_text(encoding="utf-8")
    m = re.search(r"<!-- rfc8628-example[^>]*-->\s*```sh\n(.*?)```\s*<!-- /rfc8628-example -->", text, re.S)
    assert m, "README.md has no marked RFC 8628 example"
    return [ln for ln in m.group(1).splitlines() if ln.startswith("curl ")]


def _run(line, env):
    """One command line of the README exactly as written, with the shell variables it uses."""
    r = subprocess.run(["sh", "-c", line], cwd=ROOT, env=env, capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, "README command failed (%d): %s\n%s" % (r.returncode, line, r.stderr)
    return r.stdout


def test_readme_rfc8628_example_works_as_written(sandbox, pki):
    sb = sandbox()
    cmds = _example()
    assert len(cmds) == 5, cmds
    auth, token, accounts, balances, revoke = cmds
    env = {"PATH": "/usr/bin:/bin", "S": sb.url, "CA": str(pki / "ca.crt")}
    # The README's own variables line names the same CA file the tests use.
    assert "CA=build/test-pki/ca.crt" in README.read_text(encoding="utf-8")

    da = json.loads(_run(auth, env))
    assert re.fullmatch(r"[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}", da["user_code"]), da
    env["DC"] = da["device_code"]
    assert json.loads(_run(token, env))["error"] == "authorization_pending"

    # The customer's side (what renkei does), yamada01 through every step.
    c = start(sb, da["user_code"])
    c.login("yamada01", expect_step="question")
    consent_to_permission(c)
    c.allow()

    tok = json.loads(_run(token, env))
    assert tok.get("token_type") == "Bearer" and tok.get("access_token"), tok
    assert set(tok["scope"].split()) == {"balance", "transactions"}, tok
    env["AT"] = tok["access_token"]
    got = json.loads(_run(accounts, env))
    assert "acc-001-2000002" in [a["id"] for a in got["accounts"]], got
    bal = json.loads(_run(balances, env))
    assert bal["account"] == "acc-001-2000002" and bal["balances"][0]["currency"] == "JPY", bal
    _run(revoke, env)
    after = subprocess.run(["sh", "-c", "curl -sS -o /dev/null -w '%{http_code}' " + accounts[len("curl -sS "):]],
                           cwd=ROOT, env=env, capture_output=True, text=True, timeout=30)
    assert after.stdout == "401", after


def test_readme_screens_are_the_golden_screens():
    text = README.read_text(encoding="utf-8")
    shown = re.findall(r"<!-- screen: ([\w-]+) -->\s*```text\n(.*?)```\s*<!-- /screen -->", text, re.S)
    assert len(shown) >= 5, "README shows fewer than 5 screens"
    for name, body in shown:
        path = GOLDEN / (name + ".txt")
        assert path.exists(), "README shows %s, which is not a golden screen" % name
        assert body == path.read_text(encoding="utf-8"), \
            "README's %s differs from tests/golden/%s.txt: run scripts/readme-screens.py" % (name, name)
