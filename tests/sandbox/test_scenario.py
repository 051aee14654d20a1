"""Scenario files: the built-in scenario is sandbox/scenarios/demo.json, and a bad file is refused at
start with `FILE: json/path: what is wrong` and a non-zero exit status (nothing half-loaded)."""

import copy
import json
from pathlib import Path

import pytest

from harness.proto import device_auth, new_consent

ROOT = Path(__file__).resolve().parent.parent.parent
DEMO = ROOT / "sandbox" / "scenarios" / "demo.json"


def test_builtin_scenario_is_demo_json(run_sandbox):
    r = run_sandbox(["--print-scenario"])
    assert r.returncode == 0, r.stderr
    assert r.stdout == DEMO.read_text(encoding="utf-8"), "the embedded scenario differs from demo.json"
    json.loads(r.stdout)


def test_demo_json_as_a_file_serves_the_same(sandbox):
    sb = sandbox(scenario=DEMO)
    da, c = new_consent(sb, "mieru-demo")
    assert c.env["partner"]["name"]["ja"] == "ミエル会計株式会社"
    c.login("sato02", expect_step="permission")


def demo():
    return json.loads(DEMO.read_text(encoding="utf-8"))


def refused(run_sandbox, pki, scenario):
    """renkei-sandbox started on a bad scenario file: it must exit non-zero without printing a URL;
    returns the CompletedProcess."""
    r = run_sandbox(["--listen", "127.0.0.1:0", "--tls-dir", pki, "--scenario", scenario])
    assert r.returncode != 0, "a bad scenario was accepted; stdout %r" % r.stdout
    assert r.stdout == "", "printed a URL for a bad scenario: %r" % r.stdout
    return r


def customer(sc, login_id):
    return next(c for c in sc["customers"] if c["login_id"] == login_id)


def _pin_letters(sc):
    sc["customers"][0]["accounts"][1]["pin"] = "12ab"
    return r"customers[0].accounts[1].pin: "


def _pin_length(sc):
    sc["customers"][0]["accounts"][0]["pin"] = "12345"
    return "customers[0].accounts[0].pin: "


def _missing_client_id(sc):
    del sc["partners"][1]["client_id"]
    return "partners[1].client_id: "


def _negative_interval(sc):
    sc["device"]["interval"] = -1
    return "device.interval: "


def _wrong_type(sc):
    sc["customers"] = {"yamada01": {}}
    return "customers: "


def _partner_scope_unknown(sc):
    sc["partners"][0]["scopes"] = ["balance", "payments"]
    return "partners[0].scopes[1]: "


def _duplicate_account(sc):
    sc["customers"][1]["accounts"][0]["id"] = sc["customers"][0]["accounts"][0]["id"]
    return "customers[1].accounts[0]"


def _duplicate_login(sc):
    sc["customers"][2]["login_id"] = "yamada01"
    return "customers[2].login_id: "


def _bad_account_type(sc):
    sc["customers"][0]["accounts"][2]["type"] = "checking"
    return "customers[0].accounts[2].type: "


def _no_ja(sc):
    del sc["partners"][0]["name"]["ja"]
    return "partners[0].name.ja: "


def _amount_not_decimal(sc):
    sc["customers"][1]["accounts"][0]["balances"][0]["amount"] = "1,000"
    return "customers[1].accounts[0].balances[0].amount: "


def _bad_date(sc):
    sc["customers"][0]["accounts"][0]["transactions"][0]["date"] = "2026-13-01"
    return "customers[0].accounts[0].transactions[0].date: "


def _unknown_member(sc):
    sc["partners"][0]["colour"] = "red"
    return "partners[0].colour: "


def _keep_ended_zero(sc):
    sc["limits"]["keep_ended_seconds"] = 0
    return "limits.keep_ended_seconds: "


BAD = [_unknown_member, _keep_ended_zero, _pin_letters, _pin_length, _missing_client_id, _negative_interval, _wrong_type,
       _partner_scope_unknown, _duplicate_account, _duplicate_login, _bad_account_type, _no_ja,
       _amount_not_decimal, _bad_date]


@pytest.mark.parametrize("mutate", BAD, ids=[f.__name__.strip("_") for f in BAD])
def test_bad_scenario_is_refused(run_sandbox, pki, tmp_path, mutate):
    sc = copy.deepcopy(demo())
    where = mutate(sc)
    f = tmp_path / "bad.json"
    f.write_text(json.dumps(sc, ensure_ascii=False, indent=1), encoding="utf-8")
    r = refused(run_sandbox, pki, f)
    first = r.stderr.strip().splitlines()[0] if r.stderr.strip() else ""
    assert first.startswith("%s: %s" % (f, where)), "stderr: %r (expected %r)" % (r.stderr, "%s: %s" % (f, where))
    assert len(first) > len("%s: %s" % (f, where)) + 3, "no reason given: %r" % first


@pytest.mark.parametrize("text,where", [
    ("{", "line 1"), ("", None), ("[]", None), ('{"version": 1,}', "line 1"),
    ("\xff\xfe", None),
], ids=["truncated", "empty", "array", "trailing-comma", "not-utf8"])
def test_malformed_scenario_is_refused(run_sandbox, pki, tmp_path, text, where):
    f = tmp_path / "bad.json"
    f.write_bytes(text.encode("latin-1") if text == "\xff\xfe" else text.encode())
    r = refused(run_sandbox, pki, f)
    assert r.stderr.startswith("%s: " % f), r.stderr
    if where:
        assert where in r.stderr, r.stderr


def test_missing_scenario_file(run_sandbox, pki, tmp_path):
    f = tmp_path / "nope.json"
    r = refused(run_sandbox, pki, f)
    assert r.stderr.startswith("%s: " % f), r.stderr


def test_bad_command_lines(run_sandbox, pki, tmp_path):
    for args in (["--nope"], ["--listen"], ["--listen", "localhost"], ["stray"]):
        r = run_sandbox(args)
        assert r.returncode == 2 and r.stdout == "" and r.stderr, (args, r)
    r = run_sandbox(["--listen", "127.0.0.1:0", "--tls-dir", tmp_path])  # no server.crt
    assert r.returncode != 0 and r.stdout == "" and r.stderr, r
    r = run_sandbox(["--help"])
    assert r.returncode == 0 and "--scenario" in r.stdout
    r = run_sandbox(["--version"])
    assert r.returncode == 0 and r.stdout.startswith("renkei-sandbox ")


def test_short_lifetimes_in_a_scenario_are_served(sandbox, tmp_path):
    sc = demo()
    sc["device"]["expires_in"] = 30
    sc["partners"][1]["period_days"] = 7
    f = tmp_path / "short.json"
    f.write_text(json.dumps(sc, ensure_ascii=False))
    sb = sandbox(scenario=f)
    assert device_auth(sb)["expires_in"] == 30
    da, c = new_consent(sb, "mieru-demo")
    assert c.env["request"]["period_days"] == 7
