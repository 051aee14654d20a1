"""The state file stays bounded (docs/scenario.md §3.3 keep_ended_seconds): an ended consent session
and an expired device code leave the state limits.keep_ended_seconds after; the bank's record of the
decision stays, and so do the grant and its tokens. A live session is never touched."""

import json
import sqlite3
import time

from harness.proto import expect_oauth_error, expect_problem, new_consent, token_request
from sandbox.test_login_limits import DEMO


def scenario(tmp_path, **limits):
    sc = json.loads(DEMO.read_text(encoding="utf-8"))
    sc["limits"].update(limits)
    sc["device"].update({"expires_in": 2, "interval": 1})
    p = tmp_path / "scenario.json"
    p.write_text(json.dumps(sc, ensure_ascii=False), encoding="utf-8")
    return p


def rows(state, sql):
    with sqlite3.connect(str(state)) as db:
        return db.execute(sql).fetchall()


def wait_past(t0, seconds):
    while time.monotonic() < t0 + seconds:
        time.sleep(0.05)


def test_ended_sessions_and_expired_codes_leave_the_state(sandbox, tmp_path):
    state = tmp_path / "state.sqlite"
    sb = sandbox(scenario=scenario(tmp_path, keep_ended_seconds=2), state=state)
    da, c = new_consent(sb)
    c.login("sato02", expect_step="scopes")
    c.scopes(["balance"], expect_step="permission")
    c.allow()
    tok = token_request(sb, da["device_code"]).json
    denied_da, d = new_consent(sb)
    d.cancel()
    t0 = time.monotonic()
    assert len(rows(state, "SELECT 1 FROM consent_sessions")) == 2
    assert len(rows(state, "SELECT 1 FROM device_auth")) == 2

    # within keep_ended_seconds nothing goes; a request after the device codes expired (2 s) and
    # keep_ended_seconds (2 s) more takes both sessions and both codes out (the server counts whole
    # seconds: each wait has a second to spare)
    live_da, live = new_consent(sb)
    assert len(rows(state, "SELECT 1 FROM consent_sessions")) == 3
    wait_past(t0, 4.3)
    # a consent request: the sweep runs (the live session meanwhile expired with its code)
    expect_problem(live.raw("GET", ""), 401, "session-expired")
    left = rows(state, "SELECT token_hash, final, expired FROM consent_sessions")
    assert len(left) == 1 and left[0][2] == 1, left  # the live one: expired now, kept keep_ended_seconds
    assert rows(state, "SELECT count(*) FROM device_auth") == [(1,)], "only the live session's code is kept"

    # the records stay; the grant and its token work; the spent code is now unknown
    results = sorted(r[0] for r in rows(state, "SELECT result FROM decisions"))
    assert results == ["allowed", "cancelled", "expired"], results
    assert sb.get("/v1/accounts", bearer=tok["access_token"]).status == 200
    expect_oauth_error(token_request(sb, da["device_code"]), "invalid_grant")
    assert sb.get("/v1/accounts", bearer=tok["access_token"]).status == 200  # not a reuse: unknown

    # keep_ended_seconds after the live one expired, it goes too, with its code
    wait_past(t0, 7.4)
    new_consent(sb)
    assert rows(state, "SELECT count(*) FROM consent_sessions WHERE final = 1 OR expired = 1") == [(0,)]
    assert rows(state, "SELECT count(*) FROM device_auth") == [(1,)], "only the new session's code is left"

