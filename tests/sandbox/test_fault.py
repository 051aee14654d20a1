"""Injected faults (renkei-sandbox --fault STEP:KIND[:ARG][:once], a scenario's "faults";
docs/scenario.md): what each kind does on the wire, and a lost answer of a PIN registration retried
under its idempotency key registers once (protocol §4.2)."""

import http.client
import json
import ssl
import time

import pytest

from conftest import wait_until
from harness.proto import (YAMADA_PINS, device_auth, expect_oauth_error, expect_problem, new_consent,
                           yamada_at_scopes)


def raw(sb, method, path, body=None, bearer=None):
    """(status, headers, body bytes) of one request, or the transport exception it ended with: the
    faults break what run_http would turn into an assertion."""
    ctx = ssl.create_default_context(cafile=str(sb.cacert))
    conn = http.client.HTTPSConnection("127.0.0.1", sb.port, timeout=30, context=ctx)
    hdrs = {}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        hdrs["Content-Type"] = "application/json"
    if bearer:
        hdrs["Authorization"] = "Bearer " + bearer
    try:
        conn.request(method, path, body=data, headers=hdrs)
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    except (OSError, http.client.HTTPException) as e:
        return e
    finally:
        conn.close()


def wait_log(sb, text):
    """The request's log line is written when MHD has finished with it, a moment after the client
    saw the answer."""
    assert wait_until(lambda: text in sb.log_text(), 5), "%r not in the sandbox log:\n%s" % (text, sb.log_text())


def yamada_at_pins(sb):
    da, c = yamada_at_scopes(sb)
    c.scopes(expect_step="pins")
    return da, c


def pins_with_key(c, pins, key):
    body = c.pin_body(pins)
    body["idempotency_key"] = key
    return body


def test_lost_pin_answer_retried_registers_once(sandbox):
    sb = sandbox(args=["--fault", "pins:reset:once"])
    _, c = yamada_at_pins(sb)
    body = pins_with_key(c, YAMADA_PINS, "k-1")
    lost = raw(sb, "POST", "/consent/v1/session/pins", body, c.session)
    assert isinstance(lost, (http.client.RemoteDisconnected, ConnectionError, ssl.SSLError)), lost
    wait_log(sb, "fault=pins:reset")
    # the work was done: the session moved on, the PINs are pending
    env = c.get()
    assert env["step"] == "pin_result", env
    # the retry (same key, same body) is answered as the first was, and registers nothing again
    r = c.post("/pins", body)
    assert r.status == 200, r
    assert r.json["step"] == "pin_result"
    assert sorted(a["pin"] for a in r.json["data"]["accounts"] if a["number"] in YAMADA_PINS) == \
        ["pending", "pending"]
    assert r.json["data"] == env["data"]
    # without the key the same retry is a request of the wrong step
    plain = c.pin_body(YAMADA_PINS)
    expect_problem(c.post("/pins", plain, expect=None), 409, "wrong-step")
    c.pin_result("confirm", expect_step="permission")
    c.allow()


def test_lost_pin_wrong_answer_does_not_count_twice(sandbox):
    sb = sandbox(args=["--fault", "pins:reset:once"])
    _, c = yamada_at_pins(sb)
    wrong = dict(YAMADA_PINS)
    wrong["1111111"] = "0000"
    body = pins_with_key(c, wrong, "k-2")
    assert isinstance(raw(sb, "POST", "/consent/v1/session/pins", body, c.session), Exception)
    first = c.post("/pins", body, expect=None)
    pj = expect_problem(first, 422, "pin-wrong")
    res = {x["account"]: x for x in pj["results"]}
    assert res[c.account_id("1111111")] == {"account": c.account_id("1111111"), "result": "wrong_pin",
                                            "tries_left": 2}, pj
    assert res[c.account_id("2000002")]["result"] == "registered", pj
    again = c.post("/pins", body, expect=None)
    assert again.status == 422 and again.json == pj, again
    # a new submission (a new key) is a new try
    body2 = pins_with_key(c, {"1111111": "0001"}, "k-3")
    pj2 = expect_problem(c.post("/pins", body2, expect=None), 422, "pin-wrong")
    assert pj2["results"][0]["tries_left"] == 1, pj2


def test_same_key_with_another_body_is_refused(sandbox):
    sb = sandbox()
    _, c = yamada_at_pins(sb)
    wrong = {"1111111": "0000"}
    expect_problem(c.post("/pins", pins_with_key(c, wrong, "k"), expect=None), 422, "pin-wrong")
    pj = expect_problem(c.post("/pins", pins_with_key(c, {"1111111": "0009"}, "k"), expect=None),
                        400, "bad-request")
    assert pj["pointer"] == "/idempotency_key", pj
    pj = expect_problem(c.post("/pins", pins_with_key(c, wrong, ""), expect=None), 400, "bad-request")
    assert pj["pointer"] == "/idempotency_key", pj
    # neither counted a try
    pj = expect_problem(c.post("/pins", pins_with_key(c, wrong, "k2"), expect=None), 422, "pin-wrong")
    assert pj["results"][0]["tries_left"] == 1, pj


@pytest.mark.parametrize("code,ctype", [(502, "text/html"), (503, "text/html"),
                                        (500, "application/problem+json"),
                                        (429, "application/problem+json")])
def test_status_answers_without_processing(sandbox, code, ctype):
    sb = sandbox(args=["--fault", "login:status:%d:once" % code])
    _, c = new_consent(sb)
    body = {"method": "password", "login_id": "yamada01", "password": "wrong-one"}
    r = c.post("/login", body, expect=None)
    assert r.status == code and r.content_type == ctype, r
    if ctype == "text/html":
        assert b"<html>" in r.body and str(code).encode() in r.body, r
    else:
        assert r.json["status"] == code, r
    if code == 429:
        assert r.headers["retry-after"] == "1" and r.json["retry_after"] == 1, r
    # not processed: the wrong password of the faulted request was not counted
    pj = expect_problem(c.post("/login", body, expect=None), 401, "wrong-credentials")
    assert pj["tries_left"] == 2, pj


def test_latency_delays_then_answers(sandbox):
    sb = sandbox(args=["--fault", "device_authorization:latency:400:once"])
    t0 = time.monotonic()
    device_auth(sb)
    assert time.monotonic() - t0 >= 0.4
    wait_log(sb, "fault=device_authorization:latency")


def test_truncate_sends_half_the_body(sandbox):
    sb = sandbox(args=["--fault", "device_authorization:truncate:once"])
    conn = http.client.HTTPSConnection("127.0.0.1", sb.port, timeout=30,
                                       context=ssl.create_default_context(cafile=str(sb.cacert)))
    conn.request("POST", "/oauth/device_authorization", body="client_id=kakeibo-demo",
                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    r = conn.getresponse()
    assert r.status == 200
    length = int(r.getheader("Content-Length"))
    with pytest.raises(http.client.IncompleteRead) as e:
        r.read()
    assert len(e.value.partial) == length // 2
    conn.close()
    device_auth(sb)  # once: the next one is whole


@pytest.mark.parametrize("kind", ["garbage", "shape"])
def test_garbage_and_shape(sandbox, kind):
    sb = sandbox(args=["--fault", "token:%s" % kind])
    da = device_auth(sb)
    r = sb.post("/oauth/token", form={"grant_type": "urn:ietf:params:oauth:grant-type:device_code",
                                      "device_code": da["device_code"], "client_id": "kakeibo-demo"})
    assert r.status == 400 and r.content_type == "application/json", r  # authorization_pending's status
    if kind == "garbage":
        assert r.json is None, r
        with pytest.raises(ValueError):
            json.loads(r.body.decode("utf-8", "replace"))
    else:
        assert isinstance(r.json, dict) and "error" in r.json and not isinstance(r.json["error"], str), r


def test_slow_sends_the_whole_body_a_byte_at_a_time(sandbox):
    sb = sandbox(args=["--fault", "session:slow:2"])
    _, c = new_consent(sb)
    t0 = time.monotonic()
    r = c.raw("GET", "")
    took = time.monotonic() - t0
    assert r.status == 200 and r.json["step"] == "login", r
    assert took >= len(r.body) * 0.002, (took, len(r.body))
    wait_log(sb, "fault=session:slow")


def test_star_and_order(sandbox):
    sb = sandbox(args=["--fault", "token:status:500:once", "--fault", "*:status:503:once"])
    r = sb.post("/oauth/device_authorization", form={"client_id": "kakeibo-demo"})
    assert r.status == 503, r                      # * matched the first step
    da = device_auth(sb)                           # both used up for device_authorization
    r = sb.post("/oauth/token", form={"grant_type": "urn:ietf:params:oauth:grant-type:device_code",
                                      "device_code": da["device_code"], "client_id": "kakeibo-demo"})
    assert r.status == 500 and r.problem == "internal", r
    expect_oauth_error(sb.post("/oauth/token", form={"grant_type": "urn:ietf:params:oauth:grant-type:device_code",
                                                      "device_code": da["device_code"],
                                                      "client_id": "kakeibo-demo"}),
                       "authorization_pending")
    assert sb.get("/.well-known/oauth-authorization-server").status == 200  # not a step: never faulted


def test_scenario_faults(sandbox, tmp_path, run_sandbox):
    text = run_sandbox(["--print-scenario"]).stdout
    sc = json.loads(text)
    sc["faults"] = ["device_authorization:status:502:once"]
    p = tmp_path / "faulty.json"
    p.write_text(json.dumps(sc, ensure_ascii=False))
    sb = sandbox(scenario=p)
    r = sb.post("/oauth/device_authorization", form={"client_id": "kakeibo-demo"})
    assert r.status == 502 and r.content_type == "text/html", r
    device_auth(sb)


@pytest.mark.parametrize("spec,want", [
    ("pins", "expected STEP:KIND[:ARG][:once]"),
    ("pinz:reset", 'unknown step "pinz"'),
    ("pins:latency", "latency needs milliseconds"),
    ("pins:status:200", "status needs an HTTP status (400-599)"),
])
def test_bad_fault_option(run_sandbox, spec, want):
    r = run_sandbox(["--fault", spec])
    assert r.returncode == 2, r
    assert want in r.stderr, r.stderr


def test_help_names_every_kind(run_sandbox):
    r = run_sandbox(["--help"])
    assert r.returncode == 0
    for word in ("--fault STEP:KIND[:ARG][:once]", "latency:MS", "status:CODE", "reset", "truncate",
                 "garbage", "shape", "slow", "once", "pin_result"):
        assert word in r.stdout, word
