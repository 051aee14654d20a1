"""The partner's side against the real sandbox over HTTPS (docs/protocol.md §2, §3): the full device
flow with the consent protocol driven as renkei drives it, tokens, refresh, revocation, scopes,
expiry, slow_down and restarts on the same state file."""

import datetime
import re
import time

import pytest

from e2e.helpers import derived_scenario
from harness.proto import (DEVICE_GRANT, PASSWORDS, YAMADA_PINS,
                           Poller, by_number, consent_to_permission, device_auth, expect_oauth_error, expect_problem, grant,
                           metadata, new_consent, refresh, revoke, start, token_request, yamada_at_scopes)

JST = datetime.timezone(datetime.timedelta(hours=9))


def scenario_with(tmp_path, **values):
    """The built-in scenario with some scalar members changed wherever they occur (each must occur)."""
    return derived_scenario(tmp_path / "scenario.json", **values)


def wait_for_oauth_error(poller, error, timeout):
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        r = poller.poll()
        seen.append(r.error or r.status)
        if r.error == error:
            return r
    raise AssertionError("no %s within %gs; answers: %s" % (error, timeout, seen))


# ------------------------------------------------------------------------------------------------

def test_metadata(sandbox):
    sb = sandbox()
    md = metadata(sb)
    assert md["issuer"] == sb.url
    assert md["device_authorization_endpoint"] == sb.url + "/oauth/device_authorization"
    assert md["token_endpoint"] == sb.url + "/oauth/token"
    assert md["revocation_endpoint"] == sb.url + "/oauth/revoke"
    assert DEVICE_GRANT in md["grant_types_supported"] and "refresh_token" in md["grant_types_supported"]
    assert sorted(md["scopes_supported"]) == ["balance", "transactions"]
    assert md.get("consent_endpoint") == sb.url + "/consent/v1"
    r = sb.get("/.well-known/oauth-authorization-server")
    assert r.content_type == "application/json"
    assert "no-store" in r.headers.get("cache-control", ""), r.header_list


def test_issuer_does_not_echo_a_foreign_host(sandbox):
    sb = sandbox()
    r = sb.get("/.well-known/oauth-authorization-server", headers=["Host: evil.example"])
    assert "evil.example" not in r.text, r


def test_partner_full_device_flow_yamada01(sandbox):
    """Device authorization -> authorization_pending -> consent (login, question, scopes, pins,
    pin result, permission, allow) -> token -> accounts, balances, transactions."""
    sb = sandbox()
    da = device_auth(sb)
    assert re.fullmatch(r"[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}", da["user_code"]), da
    assert da["expires_in"] == 600 and da["interval"] == 5, da
    assert da["verification_uri"] == sb.url + "/device"
    assert len(da["device_code"]) >= 43, da  # 256 bits, base64url
    partner = Poller(sb, da)
    expect_oauth_error(partner.poll(), "authorization_pending")

    c = start(sb, da["user_code"])
    assert c.env["partner"]["client_id"] == "kakeibo-demo"
    assert c.env["partner"]["name"] == {"ja": "デモ家計簿株式会社", "en": "Demo Kakeibo Inc."}
    req = c.env["request"]
    assert [s["id"] for s in req["scopes"]] == ["balance", "transactions"]
    assert req["scopes"][0]["name"]["ja"] == "残高照会" and req["scopes"][1]["name"]["ja"] == "入金出金照会"
    assert req["scope_choice"] is True and req["period_days"] == 365
    assert sorted(c.data["methods"]) == ["certificate", "password"]
    assert c.env["session_expires_in"] == 600

    c.login("yamada01", expect_step="question")
    assert "session" not in c.env, "the session token is only in the answer that creates it"
    q = c.data
    assert q["question"]["ja"] == "証券名を入力してください"
    assert q["masked"] is False and q["tries_left"] == 3 and q["max_length"] >= 6

    c.answer(expect_step="scopes")
    assert [(s["id"], s["selected"]) for s in c.data["scopes"]] == [("balance", True), ("transactions", True)]

    c.scopes(["balance", "transactions"], expect_step="pins")
    assert c.data["pin_length"] == 4
    accts = c.data["accounts"]
    assert [a["number"] for a in accts] == ["2000002", "1111111", "1000014"], "the bank's order"
    assert [a["pin"] for a in accts] == ["unregistered", "unregistered", "registered"]
    assert [a["memo"] for a in accts] == ["生活費", None, "給与"]
    assert [(a["branch"]["name"]["ja"], a["branch"]["code"]) for a in accts] == [
        ("インターネット支店", "001"), ("インターネット支店", "001"), ("豊洲支店", "454")]
    assert all(a["type"] == "ordinary" and a["pin_locked"] is False and a["tries_left"] == 3 for a in accts)
    assert accts[0]["id"] == "acc-001-2000002"

    c.pins(YAMADA_PINS, expect_step="pin_result")
    assert [a["pin"] for a in c.data["accounts"]] == ["pending", "pending", "registered"]

    c.pin_result("confirm", expect_step="permission")
    p = c.data
    assert [s["id"] for s in p["scopes"]] == ["balance", "transactions"]
    assert sorted(a["number"] for a in p["accounts"]) == ["1000014", "1111111", "2000002"]
    today = datetime.datetime.now(JST).date()
    assert p["period"] == {"from": today.isoformat(),
                           "to": (today + datetime.timedelta(days=365)).isoformat()}, p["period"]
    assert p["terms"]["ja"]
    assert p["back"] == "pin_result"

    expect_oauth_error(partner.poll(), "authorization_pending")  # nothing yet before allow

    c.allow()
    assert [s["id"] for s in c.data["scopes"]] == ["balance", "transactions"]
    assert c.data["period"] == p["period"]

    r = partner.poll()
    assert r.status == 200, r
    tok = r.json
    assert tok["token_type"] == "Bearer" and tok["expires_in"] == 3600
    assert sorted(tok["scope"].split()) == ["balance", "transactions"]
    assert len(tok["access_token"]) >= 22 and len(tok["refresh_token"]) >= 22
    assert "no-store" in r.headers.get("cache-control", "")

    r = sb.get("/v1/accounts", bearer=tok["access_token"])
    assert r.status == 200, r
    accounts = by_number(r.json["accounts"])
    assert sorted(accounts) == ["1000014", "1111111", "2000002"]
    for num, a in accounts.items():
        assert a["type"] == "ordinary" and a["branch"]["code"] in ("001", "454"), a
        b = sb.get("/v1/accounts/%s/balances" % a["id"], bearer=tok["access_token"])
        assert b.status == 200, b
        assert b.json["account"] == a["id"]
        assert b.json["balances"], b
        for bal in b.json["balances"]:
            assert re.fullmatch(r"-?\d+", bal["amount"]) and bal["currency"] == "JPY", bal
            assert bal["type"] and bal["as_of"], bal
        t = sb.get("/v1/accounts/%s/transactions" % a["id"], bearer=tok["access_token"])
        assert t.status == 200, t
        assert t.json["account"] == a["id"]
        for tr in t.json["transactions"]:
            assert re.fullmatch(r"\d{4}-\d\d-\d\d", tr["date"]) and re.fullmatch(r"-?\d+", tr["amount"]), tr
            assert tr["description"]["ja"], tr

    # Another customer's account is not covered by this grant.
    expect_problem(sb.get("/v1/accounts/acc-002-2222222/balances", bearer=tok["access_token"]),
                   404, "not-found")
    expect_problem(sb.get("/v1/accounts/acc-999-0000000/transactions", bearer=tok["access_token"]),
                   404, "not-found")

    # After the decision the session answers GET with its final step, everything else wrong-step.
    assert c.get()["step"] == "done"
    expect_problem(c.raw("POST", "/answer", json={"answer": "x"}), 409, "wrong-step")
    expect_problem(start(sb, da["user_code"], expect=None), 409, "user-code-used")

    # The PINs registered in that flow are effective now: the next flow skips the PIN steps.
    da2, c2 = yamada_at_scopes(sb)
    c2.scopes(["balance"], expect_step="permission")
    assert sorted(a["pin"] for a in c2.data["accounts"]) == ["registered"] * 3
    assert c2.data["back"] == "scopes"

    expect_oauth_error(partner.poll(), "invalid_grant")  # the device code is spent


def test_device_page(sandbox):
    sb = sandbox()
    r = sb.get("/device")
    assert r.status == 200 and r.content_type == "text/plain", r
    assert "renkei" in r.text


def test_device_authorization_errors(sandbox):
    sb = sandbox()
    expect_oauth_error(sb.post("/oauth/device_authorization", form={"client_id": "nobody"}),
                       "invalid_client", 401)
    expect_oauth_error(sb.post("/oauth/device_authorization",
                               form={"client_id": "kakeibo-demo", "scope": "balance payments"}),
                       "invalid_scope")
    expect_oauth_error(sb.post("/oauth/device_authorization", form={"scope": "balance"}),
                       "invalid_request")
    # No scope: every scope the partner may ask for.
    da = device_auth(sb, "mieru-demo", None)
    c = start(sb, da["user_code"])
    assert [s["id"] for s in c.env["request"]["scopes"]] == ["balance", "transactions"]
    assert c.env["request"]["scope_choice"] is False and c.env["request"]["period_days"] == 90
    # One scope asked: only that one is requested.
    da = device_auth(sb, "kakeibo-demo", "transactions")
    c = start(sb, da["user_code"])
    assert [s["id"] for s in c.env["request"]["scopes"]] == ["transactions"]


def test_token_errors(sandbox):
    sb = sandbox()
    da = device_auth(sb)
    expect_oauth_error(token_request(sb, "not-a-device-code"), "invalid_grant")
    expect_oauth_error(token_request(sb, da["device_code"], "mieru-demo"), "invalid_grant")
    r = sb.post("/oauth/token", form={"grant_type": "password", "client_id": "kakeibo-demo"})
    assert r.status == 400 and r.error, r
    r = sb.post("/oauth/token", form={"grant_type": DEVICE_GRANT, "client_id": "kakeibo-demo"})
    assert r.status == 400 and r.error == "invalid_request", r


def test_slow_down_grows_the_interval(sandbox, tmp_path):
    sb = sandbox(scenario=scenario_with(tmp_path, interval=1))
    da = device_auth(sb)
    assert da["interval"] == 1
    p = Poller(sb, da)
    expect_oauth_error(p.poll(), "authorization_pending")
    expect_oauth_error(p.poll(wait=False), "slow_down")
    # The interval is now 6 s: a poll 1 s later is still too soon.
    p.interval = 1
    expect_oauth_error(p.poll(), "slow_down")


def test_slow_down_with_the_demo_interval(sandbox):
    sb = sandbox()
    da = device_auth(sb)
    expect_oauth_error(token_request(sb, da["device_code"]), "authorization_pending")
    expect_oauth_error(token_request(sb, da["device_code"]), "slow_down")


def test_expiry(sandbox, tmp_path):
    sb = sandbox(scenario=scenario_with(tmp_path, expires_in=2, interval=1))
    da = device_auth(sb)
    assert da["expires_in"] == 2
    live = device_auth(sb)
    c = start(sb, live["user_code"])  # a session opened before expiry
    p = Poller(sb, da)
    wait_for_oauth_error(p, "expired_token", timeout=8)
    expect_problem(start(sb, da["user_code"], expect=None), 410, "user-code-expired")
    # The live session dies with its device authorization.
    deadline = time.monotonic() + 5
    while True:
        r = c.raw("GET", "")
        if r.status != 200 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    expect_problem(r, 401, "session-expired")
    expect_oauth_error(token_request(sb, live["device_code"]), "expired_token")


def test_session_idle_expiry(sandbox, tmp_path):
    sb = sandbox(scenario=scenario_with(tmp_path, session_idle_seconds=1))
    da, c = new_consent(sb)
    t0 = time.monotonic()
    assert c.env["session_expires_in"] == 1
    # Any request counts as activity, so wait out the idle time (whole seconds on the server) once.
    while time.monotonic() < t0 + 2.1:
        time.sleep(0.05)
    r = c.raw("GET", "")
    expect_problem(r, 401, "session-expired")
    # The user code is still valid: a new session can start.
    c2 = start(sb, da["user_code"])
    assert c2.session != c.session


def test_denied_and_cancelled_give_access_denied(sandbox):
    sb = sandbox()
    da, c = new_consent(sb)
    c.login("sato02", expect_step="scopes")
    c.scopes(["balance"], expect_step="permission")
    c.deny()
    expect_oauth_error(token_request(sb, da["device_code"]), "access_denied")
    expect_problem(start(sb, da["user_code"], expect=None), 409, "user-code-used")

    da, c = new_consent(sb)  # cancel before login
    r = c.cancel()
    assert r.status == 200 and r.json["step"] == "denied", r
    expect_oauth_error(token_request(sb, da["device_code"]), "access_denied")
    assert c.get()["step"] == "denied"
    expect_problem(c.raw("DELETE", ""), 409, "wrong-step")


def test_scope_not_granted_is_403(sandbox):
    sb = sandbox()
    tok = grant(sb, "sato02", choose=["balance"])
    assert tok["scope"] == "balance"
    at = tok["access_token"]
    r = sb.get("/v1/accounts", bearer=at)
    assert r.status == 200, r
    acc = r.json["accounts"]
    assert [a["number"] for a in acc] == ["2222222"]
    assert sb.get("/v1/accounts/%s/balances" % acc[0]["id"], bearer=at).status == 200
    r = sb.get("/v1/accounts/%s/transactions" % acc[0]["id"], bearer=at)
    pj = expect_problem(r, 403, "scope-insufficient")
    assert pj.get("scope") == "transactions", pj
    assert re.search(r'Bearer .*error="insufficient_scope"', r.headers.get("www-authenticate", "")), r.header_list


def test_transactions_only_grant(sandbox):
    sb = sandbox()
    tok = grant(sb, "sato02", scope="transactions")
    assert tok["scope"] == "transactions"
    acc = sb.get("/v1/accounts", bearer=tok["access_token"]).json["accounts"]
    expect_problem(sb.get("/v1/accounts/%s/balances" % acc[0]["id"], bearer=tok["access_token"]),
                   403, "scope-insufficient")
    assert sb.get("/v1/accounts/%s/transactions" % acc[0]["id"], bearer=tok["access_token"]).status == 200


@pytest.mark.parametrize("auth", [None, "Bearer nope", "Basic Zm9vOmJhcg=="])
def test_bad_access_token_is_401(sandbox, auth):
    sb = sandbox()
    r = sb.get("/v1/accounts", headers=["Authorization: " + auth] if auth else [])
    expect_problem(r, 401, "token-invalid")
    assert re.search(r'Bearer\b', r.headers.get("www-authenticate", "")), r.header_list
    if auth:
        assert 'error="invalid_token"' in r.headers.get("www-authenticate", ""), r.header_list


def test_refresh(sandbox):
    sb = sandbox()
    tok = grant(sb, "sato02", client_id="mieru-demo")
    r = refresh(sb, tok["refresh_token"], "mieru-demo")
    assert r.status == 200, r
    new = r.json
    assert new["access_token"] != tok["access_token"]
    assert new["refresh_token"] != tok["refresh_token"]  # rotated on every use (§2.3)
    assert new["token_type"] == "Bearer" and sorted(new["scope"].split()) == ["balance", "transactions"]
    assert sb.get("/v1/accounts", bearer=new["access_token"]).status == 200
    expect_problem(sb.get("/v1/accounts", bearer=tok["access_token"]), 401, "token-invalid")  # retired
    # Another client cannot use it (and changes nothing); an unknown refresh token is invalid_grant.
    assert refresh(sb, new["refresh_token"], "kakeibo-demo").status == 400
    expect_oauth_error(refresh(sb, "nope", "mieru-demo"), "invalid_grant")
    third = refresh(sb, new["refresh_token"], "mieru-demo")
    assert third.status == 200, third
    assert sb.get("/v1/accounts", bearer=third.json["access_token"]).status == 200


def test_reused_refresh_token_revokes_the_whole_grant(sandbox):
    sb = sandbox()
    tok = grant(sb, "sato02", client_id="mieru-demo")
    other = grant(sb, "sato02", client_id="mieru-demo")  # another grant of the same partner
    r1 = refresh(sb, tok["refresh_token"], "mieru-demo").json
    r2 = refresh(sb, r1["refresh_token"], "mieru-demo").json
    # the first refresh token comes back (stolen and replayed): invalid_grant, and the grant is gone
    expect_oauth_error(refresh(sb, tok["refresh_token"], "mieru-demo"), "invalid_grant")
    for at in (tok["access_token"], r1["access_token"], r2["access_token"]):
        expect_problem(sb.get("/v1/accounts", bearer=at), 401, "token-invalid")
    for rt in (r1["refresh_token"], r2["refresh_token"], tok["refresh_token"]):
        expect_oauth_error(refresh(sb, rt, "mieru-demo"), "invalid_grant")
    assert "grant" in sb.log_text() and "revoked" in sb.log_text()
    # the partner's other grant is untouched
    assert sb.get("/v1/accounts", bearer=other["access_token"]).status == 200
    assert refresh(sb, other["refresh_token"], "mieru-demo").status == 200


def test_spent_device_code_again_revokes_its_grant(sandbox):
    """The partner lost the token answer (or the device code was stolen) and redeems it again:
    invalid_grant, and the grant is revoked, every token of it (protocol §2.3), so no grant is left
    live that its partner never received. Another grant of the same partner is untouched."""
    sb = sandbox()
    other = grant(sb, "sato02", client_id="mieru-demo")
    da, c = new_consent(sb, "mieru-demo", "balance transactions")
    c.login("sato02")
    consent_to_permission(c, None)
    c.allow()
    first = token_request(sb, da["device_code"], "mieru-demo")
    assert first.status == 200, first
    assert sb.get("/v1/accounts", bearer=first.json["access_token"]).status == 200
    expect_oauth_error(token_request(sb, da["device_code"], "mieru-demo"), "invalid_grant")
    expect_problem(sb.get("/v1/accounts", bearer=first.json["access_token"]), 401, "token-invalid")
    expect_oauth_error(refresh(sb, first.json["refresh_token"], "mieru-demo"), "invalid_grant")
    assert "a spent device_code came back" in sb.log_text()
    assert sb.get("/v1/accounts", bearer=other["access_token"]).status == 200
    # another client's redemption of it is invalid_grant and revokes nothing
    da2, c2 = new_consent(sb, "mieru-demo", "balance transactions")
    c2.login("sato02")
    consent_to_permission(c2, None)
    c2.allow()
    tok2 = token_request(sb, da2["device_code"], "mieru-demo").json
    expect_oauth_error(token_request(sb, da2["device_code"], "kakeibo-demo"), "invalid_grant")
    assert sb.get("/v1/accounts", bearer=tok2["access_token"]).status == 200


def test_expired_access_token_is_401_and_refresh_renews(sandbox, tmp_path):
    sb = sandbox(scenario=scenario_with(tmp_path, access_token_ttl=1))
    t0 = time.monotonic()
    tok = grant(sb, "sato02")
    assert tok["expires_in"] == 1
    while time.monotonic() < t0 + 2.1:  # the token's lifetime (whole seconds on the server)
        time.sleep(0.05)
    r = sb.get("/v1/accounts", bearer=tok["access_token"])
    expect_problem(r, 401, "token-invalid")
    assert 'error="invalid_token"' in r.headers.get("www-authenticate", "")
    # The renewed token lives 1 s too, counted in whole seconds: issued just before a second ends it
    # may be gone before its first use. Renewing again is what a partner does (rotation: the newest
    # refresh token each time); three seconds' boundaries in a row cannot all be met.
    rt, used = tok["refresh_token"], []
    for _ in range(3):
        r = refresh(sb, rt)
        assert r.status == 200, r
        used.append(sb.get("/v1/accounts", bearer=r.json["access_token"]).status)
        if used[-1] == 200:
            break
        rt = r.json["refresh_token"]
    assert used[-1] == 200, used


@pytest.mark.parametrize("which", ["access_token", "refresh_token"])
def test_revocation_ends_the_whole_grant(sandbox, which):
    sb = sandbox()
    tok = grant(sb, "sato02")
    r2 = refresh(sb, tok["refresh_token"])
    assert r2.status == 200, r2
    r = revoke(sb, r2.json[which])  # the current pair: tok's access token was retired by the refresh
    assert r.status == 200 and r.body == b"", r
    for at in (tok["access_token"], r2.json["access_token"]):
        r = sb.get("/v1/accounts", bearer=at)
        expect_problem(r, 401, "token-invalid")
        assert 'error="invalid_token"' in r.headers.get("www-authenticate", "")
    expect_oauth_error(refresh(sb, r2.json["refresh_token"]), "invalid_grant")
    # Unknown tokens are fine too (RFC 7009).
    assert revoke(sb, "unknown-token").status == 200


def test_revocation_does_not_touch_other_grants(sandbox):
    sb = sandbox()
    a = grant(sb, "sato02")
    b = grant(sb, "sato02", client_id="mieru-demo")
    assert revoke(sb, a["access_token"]).status == 200
    assert sb.get("/v1/accounts", bearer=b["access_token"]).status == 200
    assert refresh(sb, b["refresh_token"], "mieru-demo").status == 200


def test_restart_on_the_same_state_keeps_grants(sandbox, tmp_path):
    state = tmp_path / "state.sqlite"
    sb = sandbox(state=state)
    tok = grant(sb, "yamada01")
    pending = device_auth(sb)
    assert sb.stop() == 0

    sb2 = sandbox(state=state)
    assert sb2.port != 0
    r = sb2.get("/v1/accounts", bearer=tok["access_token"])
    assert r.status == 200, r
    assert sorted(a["number"] for a in r.json["accounts"]) == ["1000014", "1111111", "2000002"]
    r = refresh(sb2, tok["refresh_token"])
    assert r.status == 200, r
    # Registered PINs are kept too: yamada01 goes from the question straight to permission.
    da, c = yamada_at_scopes(sb2)
    c.scopes(["balance"], expect_step="permission")
    # A pending device authorization survives as well.
    expect_oauth_error(token_request(sb2, pending["device_code"]), "authorization_pending")


def test_secrets_are_hashed_in_the_state_and_absent_from_logs(sandbox, tmp_path):
    state = tmp_path / "state.sqlite"
    sb = sandbox(state=state)
    da, c = new_consent(sb)
    r = c.post("/login", {"method": "password", "login_id": "yamada01", "password": "Wrong-Secret-77"})
    expect_problem(r, 401, "wrong-credentials")
    c.login("yamada01")
    r = c.post("/answer", {"answer": "間違い証券"})
    expect_problem(r, 401, "wrong-answer")
    c.answer()
    c.scopes()
    c.pins(YAMADA_PINS)
    c.pin_result("confirm")
    c.allow()
    tok = token_request(sb, da["device_code"]).json
    assert sb.stop() == 0
    blob = state.read_bytes()
    for f in ("-wal", "-journal"):
        p = tmp_path / ("state.sqlite" + f)
        if p.exists():
            blob += p.read_bytes()
    for secret in (tok["access_token"], tok["refresh_token"], da["device_code"], c.session):
        assert secret.encode() not in blob, "a token is stored in clear in the state file"
    log = sb.log_text()
    for secret in (PASSWORDS["yamada01"], "Wrong-Secret-77", "ひまわり証券", "間違い証券",
                   tok["access_token"], tok["refresh_token"], da["device_code"], c.session):
        assert secret not in log, "a secret is in the sandbox's log"
    assert log.count("\n") >= 8, "one log line per request"
