"""The consent protocol (docs/protocol.md §4) against the real sandbox: each demo customer's path and
the steps it skips, lockouts, PIN rules, certificate login, user codes and sessions."""

import secrets

import pytest

from harness.proto import (SATO_ACCOUNT, SUZUKI_ACCOUNT, SUZUKI_PIN, YAMADA_PINS, assert_certificate_never_logs_in,
                           by_number,
                           consent_to_permission, device_auth, expect_oauth_error, expect_problem,
                           new_consent, start, token_request, yamada_at_scopes)


def login_problem(c, login_id, password):
    return c.post("/login", {"method": "password", "login_id": login_id, "password": password})


def certificate_login_problem(c, password="Kaede-2026"):
    return c.post("/login", {"method": "certificate", "password": password})


def expect_wrong_password(c, login_id, password, tries_left):
    pj = expect_problem(login_problem(c, login_id, password), 401, "wrong-credentials")
    assert pj["tries_left"] == tries_left, pj


def suzuki_session(sb, pki):
    """A consent session over suzuki03's client certificate, not logged in yet."""
    return new_consent(sb, cert=pki / "clients/suzuki03.crt", key=pki / "clients/suzuki03.key")


def yamada_at_pins(sb):
    da, c = yamada_at_scopes(sb)
    c.scopes(expect_step="pins")
    return da, c


# --- each customer's path ---------------------------------------------------------------------

def test_sato02_with_mieru_goes_straight_to_permission(sandbox):
    sb = sandbox()
    da, c = new_consent(sb, "mieru-demo", "balance transactions")
    assert c.env["request"]["scope_choice"] is False and c.env["request"]["period_days"] == 90
    c.login("sato02", expect_step="permission")
    p = c.data
    assert [s["id"] for s in p["scopes"]] == ["balance", "transactions"]
    assert [a["number"] for a in p["accounts"]] == [SATO_ACCOUNT]
    assert p["accounts"][0]["pin"] == "registered"
    assert p["back"] is None
    expect_problem(c.post("/back", {}), 409, "wrong-step")
    c.allow()
    r = token_request(sb, da["device_code"], "mieru-demo")
    assert r.status == 200 and sorted(r.json["scope"].split()) == ["balance", "transactions"], r


def test_sato02_with_kakeibo_chooses_scopes_then_permission_and_back(sandbox):
    sb = sandbox()
    da, c = new_consent(sb)
    c.login("sato02", expect_step="scopes")
    c.scopes(["transactions"], expect_step="permission")
    assert [s["id"] for s in c.data["scopes"]] == ["transactions"]
    assert c.data["back"] == "scopes"
    r = c.post("/back", {})
    assert r.status == 200 and c.step == "scopes", r
    assert [(s["id"], s["selected"]) for s in c.data["scopes"]] == [("balance", False), ("transactions", True)]
    c.scopes(["balance", "transactions"], expect_step="permission")
    c.allow()
    r = token_request(sb, da["device_code"])
    assert sorted(r.json["scope"].split()) == ["balance", "transactions"], r


def test_tanaka04_is_locked(sandbox):
    sb = sandbox()
    da, c = new_consent(sb)
    r = login_problem(c, "tanaka04", "Ume-2026")
    expect_problem(r, 403, "login-locked")
    assert c.get()["step"] == "locked"
    expect_problem(login_problem(c, "tanaka04", "Ume-2026"), 409, "wrong-step")
    expect_problem(c.raw("DELETE", ""), 409, "wrong-step")
    expect_oauth_error(token_request(sb, da["device_code"]), "access_denied")
    expect_problem(start(sb, da["user_code"], expect=None), 409, "user-code-used")


def test_cancel_of_a_certificate_session_without_the_certificate(sandbox, pki):
    """§4.5: the one request a certificate-bound session takes without its certificate is the
    cancel (a client whose card was pulled out must still be able to deny)."""
    sb = sandbox()
    da, c = suzuki_session(sb, pki)
    c.login_by_certificate(expect_step="scopes")
    expect_problem(sb.request("POST", "/consent/v1/session/scopes", bearer=c.session,
                              json={"scopes": ["balance"]}), 403, "certificate-mismatch")
    r = sb.request("DELETE", "/consent/v1/session", bearer=c.session)
    assert r.status == 200 and r.json["step"] == "denied", r
    expect_oauth_error(token_request(sb, da["device_code"]), "access_denied")


def test_suzuki03_certificate_login_full_path(sandbox, pki):
    sb = sandbox()
    da, c = suzuki_session(sb, pki)
    assert "certificate" in c.data["methods"]
    c.login_by_certificate(expect_step="scopes")
    c.scopes(["balance"], expect_step="pins")
    assert [(a["number"], a["pin"]) for a in c.data["accounts"]] == [(SUZUKI_ACCOUNT, "unregistered")]
    c.pins({SUZUKI_ACCOUNT: SUZUKI_PIN})
    c.pin_result("confirm", expect_step="permission")
    assert c.data["back"] == "pin_result"
    # The session is bound to the certificate.
    for kw in ({}, {"cert": pki / "clients/unknown.crt", "key": pki / "clients/unknown.key"}):
        r = sb.request("GET", "/consent/v1/session", bearer=c.session, **kw)
        expect_problem(r, 403, "certificate-mismatch")
    r = sb.request("POST", "/consent/v1/session/decision", bearer=c.session,
                   json={"decision": "allow", "intent_confirmed": True})
    expect_problem(r, 403, "certificate-mismatch")
    assert c.get()["step"] == "permission", "a refused request changes nothing"
    c.allow()
    r = token_request(sb, da["device_code"])
    assert r.status == 200 and r.json["scope"] == "balance", r
    acc = sb.get("/v1/accounts", bearer=r.json["access_token"]).json["accounts"]
    assert [a["number"] for a in acc] == [SUZUKI_ACCOUNT]


def test_certificate_login_errors(sandbox, pki):
    sb = sandbox()
    da, c = new_consent(sb)
    expect_problem(certificate_login_problem(c), 401, "certificate-required")
    da, c = new_consent(sb, cert=pki / "clients/unknown.crt", key=pki / "clients/unknown.key")
    expect_problem(certificate_login_problem(c), 401, "certificate-unknown")
    # suzuki03's certificate with a wrong password: wrong-credentials like any password.
    da, c = suzuki_session(sb, pki)
    pj = expect_problem(certificate_login_problem(c, "nope"), 401, "wrong-credentials")
    assert pj.get("tries_left") == 2, pj


@pytest.mark.parametrize("name", ["rogue", "suzuki03-expired"])
def test_untrusted_or_expired_certificate_never_logs_in(sandbox, pki, curl, name):
    """§1/§4.5 say the chain is verified against the client CA but not how a failure shows: either the
    TLS handshake is refused or the login is a 401 certificate problem. Never a login."""
    assert_certificate_never_logs_in(sandbox(), pki / "clients" / (name + ".crt"), pki / "clients" / (name + ".key"))


def test_no_client_ca_means_no_certificate_login(sandbox, pki_no_client_ca):
    sb = sandbox(tls_dir=pki_no_client_ca)
    da, c = new_consent(sb)
    assert c.data["methods"] == ["password"]
    expect_problem(certificate_login_problem(c), 400, "method-unavailable")
    c.login("sato02", expect_step="scopes")


# --- lockouts -----------------------------------------------------------------------------------

def test_three_wrong_passwords_lock_the_login(sandbox):
    sb = sandbox()
    da, c = new_consent(sb)
    expect_wrong_password(c, "yamada01", "x1", 2)
    expect_wrong_password(c, "yamada01", "x2", 1)
    # The third locks the login, but says no more than it would for an unknown ID (§4.5).
    expect_wrong_password(c, "yamada01", "x3", 0)
    assert c.get()["step"] == "login"
    expect_wrong_password(c, "yamada01", "x4", 0)
    # The lock is told only to the one who knows the password; the session ends.
    expect_problem(login_problem(c, "yamada01", "Sakura-2026"), 403, "login-locked")
    assert c.get()["step"] == "locked"
    expect_oauth_error(token_request(sb, da["device_code"]), "access_denied")
    # Locked for limits.lock_seconds: the right password in a new flow is refused too.
    da, c = new_consent(sb)
    expect_problem(login_problem(c, "yamada01", "Sakura-2026"), 403, "login-locked")
    # Other customers go on.
    da, c = new_consent(sb)
    c.login("sato02", expect_step="scopes")


def test_unknown_login_id_answers_as_a_known_one(sandbox):
    sb = sandbox()
    known, unknown = [], []
    for i in range(4):
        if i % 2 == 0:  # 4 tries a session: the session limit (5) is not what this is about
            da, c = new_consent(sb)
        known.append(expect_problem(login_problem(c, "sato02", "x%d" % i), 401, "wrong-credentials"))
        unknown.append(expect_problem(login_problem(c, "nobody99", "x%d" % i), 401, "wrong-credentials"))
    for k, u in zip(known, unknown):
        assert sorted(k) == sorted(u) and k["tries_left"] == u["tries_left"], (k, u)
        assert k["title"] == u["title"] and k["detail"] == u["detail"], (k, u)
    assert [k["tries_left"] for k in known] == [2, 1, 0, 0]
    assert "Sakura" not in str(unknown) and "nobody99" not in str(unknown)


def test_successful_login_resets_the_password_count(sandbox):
    sb = sandbox()
    da, c = new_consent(sb)
    expect_problem(login_problem(c, "sato02", "x1"), 401, "wrong-credentials")
    expect_problem(login_problem(c, "sato02", "x2"), 401, "wrong-credentials")
    c.login("sato02", expect_step="scopes")
    c.cancel()
    da, c = new_consent(sb)
    expect_wrong_password(c, "sato02", "x3", 2)
    expect_wrong_password(c, "sato02", "x4", 1)
    c.login("sato02", expect_step="scopes")


def test_wrong_passwords_count_across_sessions(sandbox):
    sb = sandbox()
    for expected in (2, 1):
        da, c = new_consent(sb)
        expect_wrong_password(c, "sato02", "bad", expected)
    da, c = new_consent(sb)
    expect_wrong_password(c, "sato02", "bad", 0)
    expect_problem(login_problem(c, "sato02", "Momiji-2026"), 403, "login-locked")


def test_three_wrong_answers_lock_the_login(sandbox):
    sb = sandbox()
    da, c = new_consent(sb)
    c.login("yamada01", expect_step="question")
    assert expect_problem(c.post("/answer", {"answer": "a"}), 401, "wrong-answer")["tries_left"] == 2
    assert c.get()["data"]["tries_left"] == 2
    assert expect_problem(c.post("/answer", {"answer": "b"}), 401, "wrong-answer")["tries_left"] == 1
    expect_problem(c.post("/answer", {"answer": "c"}), 403, "login-locked")
    assert c.get()["step"] == "locked"
    expect_oauth_error(token_request(sb, da["device_code"]), "access_denied")
    da, c = new_consent(sb)
    expect_problem(login_problem(c, "yamada01", "Sakura-2026"), 403, "login-locked")


def test_answer_trims_ascii_spaces_only(sandbox):
    sb = sandbox()
    da, c = new_consent(sb)
    c.login("yamada01", expect_step="question")
    expect_problem(c.post("/answer", {"answer": "\u3000ひまわり証券"}), 401, "wrong-answer")
    c.answer("  ひまわり証券 ", expect_step="scopes")


def test_three_wrong_pins_lock_one_account_only(sandbox):
    sb = sandbox()
    da, c = yamada_at_pins(sb)
    a1 = c.account_id("2000002")
    for left in (2, 1):
        r = c.post("/pins", {"pins": [{"account": a1, "pin": "0000"}]})
        pj = expect_problem(r, 422, "pin-wrong")
        assert pj["results"] == [{"account": a1, "result": "wrong_pin", "tries_left": left}], pj
        assert by_number(pj["accounts"])["2000002"]["tries_left"] == left
    r = c.post("/pins", {"pins": [{"account": a1, "pin": "0000"}]})
    pj = expect_problem(r, 422, "pin-wrong")
    assert pj["results"][0]["account"] == a1 and pj["results"][0]["result"] == "locked", pj
    row = by_number(pj["accounts"])["2000002"]
    assert row["pin_locked"] is True and row["pin"] == "unregistered" and row["tries_left"] == 0, row
    assert c.get()["step"] == "pins"
    # The locked account cannot be registered even with the right PIN (the document allows either a
    # 400 for listing it, or a 422 with result "locked").
    r = c.post("/pins", {"pins": [{"account": a1, "pin": "1234"}]})
    assert r.status in (400, 422), r
    if r.status == 422:
        assert r.json["results"][0]["result"] == "locked", r
    assert c.get()["step"] == "pins" and c.account("2000002")["pin"] == "unregistered"
    # The other account goes on.
    c.pins({"1111111": "5678"}, expect_step="pin_result")
    rows = by_number(c.data["accounts"])
    assert rows["1111111"]["pin"] == "pending" and rows["2000002"]["pin_locked"] is True
    assert rows["2000002"]["pin"] == "unregistered"
    expect_problem(c.post("/pin-result", {"action": "add"}), 409, "wrong-step")  # nothing left
    c.pin_result("confirm", expect_step="permission")
    assert sorted(a["number"] for a in c.data["accounts"]) == ["1000014", "1111111"]
    c.allow()
    tok = token_request(sb, da["device_code"]).json
    acc = sb.get("/v1/accounts", bearer=tok["access_token"]).json["accounts"]
    assert sorted(a["number"] for a in acc) == ["1000014", "1111111"]
    # The lock stays in later sessions. §6 rule 3 says locked accounts keep the pins step shown, but a
    # pins step with nothing selectable has no way on (no request leaves it without registering), so
    # the sandbox goes on to permission: accept either, never a registrable account.
    da, c = yamada_at_scopes(sb)
    c.scopes()
    if c.step == "pins":
        assert c.account("2000002")["pin_locked"] is True
    else:
        assert c.step == "permission", c.env
        assert "2000002" not in [a["number"] for a in c.data["accounts"]]


def test_wrong_pin_on_one_of_two_accounts(sandbox):
    sb = sandbox()
    da, c = yamada_at_pins(sb)
    a1, a2 = c.account_id("2000002"), c.account_id("1111111")
    r = c.post("/pins", {"pins": [{"account": a1, "pin": "9999"}, {"account": a2, "pin": "5678"}]})
    pj = expect_problem(r, 422, "pin-wrong")
    assert pj["results"] == [{"account": a1, "result": "wrong_pin", "tries_left": 2},
                             {"account": a2, "result": "registered"}], pj
    rows = by_number(pj["accounts"])
    assert rows["1111111"]["pin"] == "pending" and rows["2000002"]["pin"] == "unregistered"
    assert rows["2000002"]["tries_left"] == 2 and rows["1000014"]["pin"] == "registered"
    env = c.get()
    assert env["step"] == "pins"
    assert by_number(env["data"]["accounts"])["1111111"]["pin"] == "pending"
    # Listing the now-pending account again is a bad request, and then nothing is registered.
    r = c.post("/pins", {"pins": [{"account": a1, "pin": "1234"}, {"account": a2, "pin": "5678"}]})
    expect_problem(r, 400, "bad-request")
    assert c.get() and c.account("2000002")["pin"] == "unregistered"
    c.pins({"2000002": "1234"}, expect_step="pin_result")
    assert [a["pin"] for a in c.data["accounts"]] == ["pending", "pending", "registered"]


def test_pin_format_errors_count_no_try(sandbox):
    sb = sandbox()
    da, c = yamada_at_pins(sb)
    a1, a2 = c.account_id("2000002"), c.account_id("1111111")
    for bad in ("12a4", "12345", "123", "１２３４", ""):
        r = c.post("/pins", {"pins": [{"account": a1, "pin": bad}]})
        pj = expect_problem(r, 422, "pin-format")
        assert pj["results"] == [{"account": a1, "result": "format"}], (bad, pj)
    assert c.get() and c.account("2000002")["tries_left"] == 3
    # A wrong PIN next to a format error: pin-wrong, and only the wrong one counts.
    r = c.post("/pins", {"pins": [{"account": a1, "pin": "0000"}, {"account": a2, "pin": "12"}]})
    pj = expect_problem(r, 422, "pin-wrong")
    assert pj["results"] == [{"account": a1, "result": "wrong_pin", "tries_left": 2},
                             {"account": a2, "result": "format"}], pj
    rows = by_number(pj["accounts"])
    assert rows["2000002"]["tries_left"] == 2 and rows["1111111"]["tries_left"] == 3
    # A format error next to a right PIN: the right one is registered, type pin-format.
    r = c.post("/pins", {"pins": [{"account": a1, "pin": "12"}, {"account": a2, "pin": "5678"}]})
    pj = expect_problem(r, 422, "pin-format")
    assert [x["result"] for x in pj["results"]] == ["format", "registered"], pj
    assert by_number(pj["accounts"])["1111111"]["pin"] == "pending"


def test_pins_request_rules(sandbox):
    sb = sandbox()
    da, c = yamada_at_pins(sb)
    a1 = c.account_id("2000002")
    expect_problem(c.post("/pins", {"pins": []}), 422, "pin-required")
    for body in ({"pins": [{"account": "acc-000-0000000", "pin": "1234"}]},
                 {"pins": [{"account": a1, "pin": "1234"}, {"account": a1, "pin": "1234"}]},
                 {"pins": [{"account": a1, "pin": "1234"},
                           {"account": c.account_id("1000014"), "pin": "0000"}]}):
        expect_problem(c.post("/pins", body), 400, "bad-request")
        assert c.get()["step"] == "pins" and c.account("2000002")["pin"] == "unregistered", body
    # pin-result add / confirm
    c.pins({"2000002": "1234"}, expect_step="pin_result")
    c.pin_result("add", expect_step="pins")
    assert c.account("2000002")["pin"] == "pending"
    c.pins({"1111111": "5678"}, expect_step="pin_result")
    expect_problem(c.post("/pin-result", {"action": "add"}), 409, "wrong-step")
    expect_problem(c.post("/pin-result", {"action": "later"}), 400, "bad-request")
    c.pin_result("confirm", expect_step="permission")
    # back from permission goes to pin_result
    r = c.post("/back", {})
    assert r.status == 200 and c.step == "pin_result", r
    c.pin_result("confirm", expect_step="permission")


@pytest.mark.parametrize("how", ["deny", "cancel"])
def test_pending_pins_are_undone_by_deny_or_cancel(sandbox, how):
    sb = sandbox()
    da, c = yamada_at_pins(sb)
    c.pins(YAMADA_PINS)
    c.pin_result("confirm", expect_step="permission")
    if how == "deny":
        c.deny()
    else:
        r = c.cancel()
        assert r.status == 200 and r.json["step"] == "denied", r
    expect_oauth_error(token_request(sb, da["device_code"]), "access_denied")
    da, c = yamada_at_pins(sb)
    assert [a["pin"] for a in c.data["accounts"]] == ["unregistered", "unregistered", "registered"]


def test_only_locked_accounts_left_stays_at_pins(sandbox, pki):
    """suzuki03's only account locked: no permission is offered, only cancel."""
    sb = sandbox()
    da, c = suzuki_session(sb, pki)
    c.login_by_certificate()
    c.scopes(expect_step="pins")
    a = c.account_id(SUZUKI_ACCOUNT)
    for _ in range(3):
        assert c.post("/pins", {"pins": [{"account": a, "pin": "0000"}]}).status == 422
    env = c.get()
    assert env["step"] == "pins" and env["data"]["accounts"][0]["pin_locked"] is True
    expect_problem(c.post("/decision", {"decision": "allow", "intent_confirmed": True}), 409, "wrong-step")
    r = c.cancel()
    assert r.status == 200 and r.json["step"] == "denied"
    expect_oauth_error(token_request(sb, da["device_code"]), "access_denied")


# --- scopes, permission, decision ---------------------------------------------------------------

def test_scope_rules(sandbox):
    sb = sandbox()
    da, c = new_consent(sb, scope="balance")
    c.login("sato02", expect_step="scopes")
    assert [s["id"] for s in c.data["scopes"]] == ["balance"]
    expect_problem(c.post("/scopes", {"scopes": []}), 422, "scope-required")
    pj = expect_problem(c.post("/scopes", {"scopes": ["transactions"]}), 422, "scope-unknown")
    assert pj.get("scope") == "transactions", pj
    pj = expect_problem(c.post("/scopes", {"scopes": ["balance", "payments"]}), 422, "scope-unknown")
    assert pj.get("scope") == "payments", pj
    assert c.get()["step"] == "scopes"
    c.scopes(["balance"], expect_step="permission")


def test_allow_needs_intent(sandbox):
    sb = sandbox()
    da, c = new_consent(sb, "mieru-demo")
    c.login("sato02", expect_step="permission")
    expect_problem(c.post("/decision", {"decision": "allow"}), 422, "intent-required")
    expect_problem(c.post("/decision", {"decision": "allow", "intent_confirmed": False}), 422,
                   "intent-required")
    assert c.get()["step"] == "permission"
    expect_oauth_error(token_request(sb, da["device_code"], "mieru-demo"), "authorization_pending")
    expect_problem(c.post("/decision", {"decision": "maybe"}), 400, "bad-request")
    c.allow()
    assert c.get()["step"] == "done"


def test_wrong_step_names_the_current_step(sandbox):
    sb = sandbox()
    da, c = new_consent(sb)
    for path, body in (("/answer", {"answer": "x"}), ("/scopes", {"scopes": ["balance"]}),
                       ("/pin-result", {"action": "confirm"}), ("/back", {}),
                       ("/decision", {"decision": "allow", "intent_confirmed": True})):
        pj = expect_problem(c.post(path, body), 409, "wrong-step")
        assert pj.get("step") == "login", pj
    c.login("yamada01", expect_step="question")
    pj = expect_problem(c.post("/login", {"method": "password", "login_id": "yamada01",
                                          "password": "Sakura-2026"}), 409, "wrong-step")
    assert pj.get("step") == "question"


def test_get_is_idempotent_and_envelope_stable(sandbox):
    sb = sandbox()
    da, c = new_consent(sb)
    c.login("yamada01", expect_step="question")
    a, b = c.get(), c.get()
    a.pop("session_expires_in"), b.pop("session_expires_in")
    assert a == b and a["step"] == "question" and "session" not in a
    r = c.raw("GET", "")
    assert "no-store" in r.headers.get("cache-control", ""), r.header_list


# --- user codes and sessions --------------------------------------------------------------------

@pytest.mark.parametrize("variant", [
    lambda u: u.lower(),
    lambda u: u.replace("-", ""),
    lambda u: " %s %s " % (u[:4].lower(), u[5:]),
    lambda u: u[:2] + " - " + u[2:4] + u[5:].lower(),
    lambda u: u.replace("-", "\t"),
], ids=["lower", "no-hyphen", "spaces", "mixed", "tab"])
def test_user_code_normalization(sandbox, variant):
    sb = sandbox()
    da = device_auth(sb)
    c = start(sb, variant(da["user_code"]))
    assert c.step == "login"


def test_unknown_and_malformed_user_codes(sandbox):
    sb = sandbox()
    da = device_auth(sb)
    other = "BCDF-GHJK" if da["user_code"] != "BCDF-GHJK" else "ZZZZ-ZZZZ"
    for code in (other, "ABC", "AEIO-UAEI"):
        expect_problem(start(sb, code, expect=None), 404, "user-code-unknown")


def test_user_code_rate_limit(sandbox):
    sb = sandbox()
    da = device_auth(sb)
    codes = ["BCDF-GHJK", "BCDF-GHJL", "BCDF-GHJM", "BCDF-GHJN", "BCDF-GHJP"]
    codes = [x for x in codes if x != da["user_code"]][:4]
    for code in codes:
        expect_problem(start(sb, code, expect=None), 404, "user-code-unknown")
    fifth = start(sb, "XXXX-XXXX" if da["user_code"] != "XXXX-XXXX" else "XXXX-XXXZ", expect=None)
    assert (fifth.status, fifth.problem) in ((404, "user-code-unknown"), (429, "rate-limited")), fifth
    # Now unknown codes are refused (and not counted) ...
    other = "BCDF-GHJQ" if da["user_code"] != "BCDF-GHJQ" else "BCDF-GHJR"
    r = start(sb, other, expect=None)
    pj = expect_problem(r, 429, "rate-limited")
    ra = r.headers.get("retry-after")
    assert ra and ra.isdigit() and 0 < int(ra) <= 60, r.header_list
    assert isinstance(pj.get("retry_after"), int) and 0 < pj["retry_after"] <= 60, pj
    # ... but a valid code goes through: one person's typos do not block a branch's kiosks (§4.3).
    c = start(sb, da["user_code"])
    assert c.step == "login"
    # Partners and other endpoints are not affected.
    device_auth(sb)


def test_user_code_global_ceiling(sandbox, tmp_path):
    """limits.wrong_codes_global: unknown codes from all addresses together; past it every address
    is limited (unknown codes refused), valid codes still go through."""
    import json as _json
    from pathlib import Path
    sc = _json.loads((Path(__file__).resolve().parents[2] / "sandbox/scenarios/demo.json").read_text())
    sc["limits"].update({"wrong_codes": 100, "wrong_codes_global": 3})
    p = tmp_path / "ceiling.json"
    p.write_text(_json.dumps(sc, ensure_ascii=False))
    sb = sandbox(scenario=p)
    da = device_auth(sb)
    unknown = [x for x in ("BCDF-GHJK", "BCDF-GHJL", "BCDF-GHJM", "BCDF-GHJN") if x != da["user_code"]]
    for code in unknown[:3]:
        expect_problem(start(sb, code, expect=None), 404, "user-code-unknown")
    expect_problem(start(sb, unknown[3], expect=None), 429, "rate-limited")
    start(sb, da["user_code"])


def test_one_live_session_per_user_code_and_idempotency(sandbox):
    sb = sandbox()
    da = device_auth(sb)
    key = secrets.token_hex(16)
    c = start(sb, da["user_code"], idempotency_key=key)
    # The same request again (answer lost): the same session.
    r = sb.post("/consent/v1/sessions", json={"user_code": da["user_code"], "idempotency_key": key})
    assert r.status in (200, 201) and r.json.get("session") == c.session, r
    # Another client (no key / another key): busy.
    expect_problem(start(sb, da["user_code"], expect=None), 409, "user-code-busy")
    expect_problem(start(sb, da["user_code"], idempotency_key="other-key", expect=None), 409, "user-code-busy")
    # After a decision the code is used.
    c.cancel()
    expect_problem(start(sb, da["user_code"], idempotency_key=key, expect=None), 409, "user-code-used")


@pytest.mark.parametrize("key", ["", "x" * 65, "tab\there", "日本語"])
def test_bad_idempotency_key(sandbox, key):
    sb = sandbox()
    da = device_auth(sb)
    expect_problem(start(sb, da["user_code"], idempotency_key=key, expect=None), 400, "bad-request")


def test_unknown_session(sandbox):
    sb = sandbox()
    for kw in ({}, {"bearer": "nope"}, {"bearer": secrets.token_urlsafe(32)}):
        expect_problem(sb.get("/consent/v1/session", **kw), 401, "session-unknown")
        expect_problem(sb.post("/consent/v1/session/login", json={"method": "password", "login_id": "a",
                                                                  "password": "b"}, **kw),
                       401, "session-unknown")
        expect_problem(sb.delete("/consent/v1/session", **kw), 401, "session-unknown")


def test_sessions_are_separate(sandbox):
    """Two customers at two terminals at the same time do not see each other's data."""
    sb = sandbox()
    da1, c1 = new_consent(sb)
    da2, c2 = new_consent(sb, "mieru-demo")
    c1.login("yamada01", expect_step="question")
    c2.login("sato02", expect_step="permission")
    assert c1.get()["step"] == "question" and c2.get()["step"] == "permission"
    assert c2.env["partner"]["client_id"] == "mieru-demo"
    consent_to_permission(c1)
    c1.allow()
    c2.deny()
    assert token_request(sb, da1["device_code"]).status == 200
    expect_oauth_error(token_request(sb, da2["device_code"], "mieru-demo"), "access_denied")
