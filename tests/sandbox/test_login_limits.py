"""Login rules against abuse (protocol §4.5): known and unknown login IDs answer alike, a lock is told
only after the right password, tries are limited per session and per address as well as per login,
a lock lasts limits.lock_seconds, and staff unlock a customer in the scenario."""

import json
import statistics
import time
from pathlib import Path

from harness.proto import PASSWORDS, expect_problem, new_consent

DEMO = Path(__file__).resolve().parents[2] / "sandbox" / "scenarios" / "demo.json"


def scenario(tmp_path, name="scenario.json", limits=None, customers=None):
    """The demo with some limits and customer members changed."""
    sc = json.loads(DEMO.read_text(encoding="utf-8"))
    sc["limits"].update(limits or {})
    for login_id, changes in (customers or {}).items():
        (cust,) = [c for c in sc["customers"] if c["login_id"] == login_id]
        cust.update(changes)
    p = tmp_path / name
    p.write_text(json.dumps(sc, ensure_ascii=False), encoding="utf-8")
    return p


def login(c, login_id, password):
    return c.post("/login", {"method": "password", "login_id": login_id, "password": password}, expect=None)


def lock(sb, login_id="yamada01"):
    da, c = new_consent(sb)
    for _ in range(3):
        expect_problem(login(c, login_id, "wrong"), 401, "wrong-credentials")
    return c


def test_a_lock_lasts_lock_seconds(sandbox, tmp_path):
    sb = sandbox(scenario=scenario(tmp_path, limits={"lock_seconds": 2}))
    t0 = time.monotonic()
    c = lock(sb)
    expect_problem(login(c, "yamada01", PASSWORDS["yamada01"]), 403, "login-locked")
    while time.monotonic() < t0 + 3.1:  # whole seconds on the server
        time.sleep(0.05)
    da, c = new_consent(sb)
    c.login("yamada01", expect_step="question")  # the lock ran out, and so did its wrong tries
    da, c = new_consent(sb)
    pj = expect_problem(login(c, "yamada01", "wrong"), 401, "wrong-credentials")
    assert pj["tries_left"] == 2, pj


def test_staff_unlock_in_the_scenario(sandbox, tmp_path):
    state = tmp_path / "state.sqlite"
    sb = sandbox(state=state)
    lock(sb)
    da, c = new_consent(sb)
    expect_problem(login(c, "yamada01", PASSWORDS["yamada01"]), 403, "login-locked")
    assert sb.stop() == 0
    # the same state, a scenario where staff unlock yamada01 and tanaka04
    sb = sandbox(state=state, scenario=scenario(tmp_path, customers={
        "yamada01": {"unlock": True}, "tanaka04": {"locked": False, "unlock": True}}))
    da, c = new_consent(sb)
    c.login("yamada01", expect_step="question")
    da, c = new_consent(sb)
    c.login("tanaka04")
    assert c.step != "locked", c.env
    # without the unlock the lock stays (it was kept in the state file)
    assert sb.stop() == 0
    sb = sandbox(state=state)
    lock(sb, "sato02")
    assert sb.stop() == 0
    sb = sandbox(state=state)
    da, c = new_consent(sb)
    expect_problem(login(c, "sato02", PASSWORDS["sato02"]), 403, "login-locked")


def test_wrong_logins_limited_per_session(sandbox):
    sb = sandbox()
    da, c = new_consent(sb)
    for i in range(5):  # limits.session_login_tries: 5, whatever the IDs
        expect_problem(login(c, "guess%02d" % i, "x"), 401, "wrong-credentials")
    pj = expect_problem(login(c, "sato02", PASSWORDS["sato02"]), 429, "rate-limited")
    assert pj["retry_after"] >= 1, pj
    assert c.get()["step"] == "login"
    # another session goes on, and sato02's own count was not touched
    da, c = new_consent(sb)
    c.login("sato02", expect_step="scopes")


def test_wrong_logins_limited_per_address(sandbox, tmp_path):
    sb = sandbox(scenario=scenario(tmp_path, limits={"address_login_tries": 4, "address_login_window": 60}))
    for i in range(4):  # a new session each time: the session limit is not what stops it
        da, c = new_consent(sb)
        expect_problem(login(c, "guess%02d" % i, "x"), 401, "wrong-credentials")
    da, c = new_consent(sb)
    r = login(c, "sato02", PASSWORDS["sato02"])
    pj = expect_problem(r, 429, "rate-limited")
    assert 1 <= pj["retry_after"] <= 60 and r.headers["retry-after"] == str(pj["retry_after"]), r


def test_known_and_unknown_ids_cost_alike(sandbox):
    """Both run the password hash (§4.5); the figures are printed (make bench-like, no threshold),
    what is asserted is that every answer is the same."""
    sb = sandbox(scenario=None)
    times = {"known": [], "unknown": []}
    for i in range(4):  # 4 sessions of 4 interleaved tries (the session limit is 5)
        da, c = new_consent(sb)
        for who in ("known", "unknown", "unknown", "known"):
            t0 = time.perf_counter()
            r = login(c, "sato02" if who == "known" else "nobody%d" % i, "wrong")
            times[who].append(time.perf_counter() - t0)
            assert r.status == 401 and r.problem == "wrong-credentials" and set(r.json) == {
                "type", "title", "status", "detail", "tries_left"}, r
        if i == 0:
            c.login("sato02")  # resets sato02's count so that it never locks here
    med = {k: round(statistics.median(v) * 1000, 2) for k, v in times.items()}
    print("login figures (ms, median of %d):" % len(times["known"]), json.dumps(med))
