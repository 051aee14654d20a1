"""Linked services (docs/protocol.md §4.12) against the real sandbox: the manage session, its login
rules (shared with the consent session's), the list, stopping a link, and the bank's records."""

import hashlib
import re
import secrets

from harness.proto import (PASSWORDS, bearer_get, expect_oauth_error, expect_problem, grant, refresh, start,
                           start_manage)


def session_id(token):
    return hashlib.sha256(token.encode()).hexdigest()[:32]


def records(sb):
    """The sandbox's record lines (§4.12 "Records") as dicts."""
    out = []
    for line in sb.log_text().splitlines():
        m = re.match(r"renkei-sandbox: record (.*)$", line)
        if m:
            out.append(dict(kv.split("=", 1) for kv in m.group(1).split()))
    return out


def sato_links(sb):
    """sato02 authorizes mieru-demo, then kakeibo-demo; the two token answers."""
    mieru = grant(sb, "sato02", "mieru-demo")
    kakeibo = grant(sb, "sato02", "kakeibo-demo", choose=["balance"])
    return mieru, kakeibo


def test_nothing_before_login_and_only_manage_requests(sandbox):
    sb = sandbox()
    sato_links(sb)
    m = start_manage(sb)
    assert m.data == {"methods": ["password"]} or m.data["methods"][0] == "password", m.data
    assert "links" not in m.data
    expect_problem(m.revoke("1"), 409, "wrong-step")
    m.login("sato02", expect_step="links")
    for path, body in (("/scopes", {"scopes": ["balance"]}), ("/decision", {"decision": "deny"}),
                       ("/pins", {"pins": []}), ("/back", {})):
        expect_problem(m.post(path, body), 409, "wrong-step")
    # a manage start takes no user code; a consent start needs one
    expect_problem(sb.post("/consent/v1/sessions", json={"purpose": "manage", "user_code": "BCDF-GHJK"}),
                   400, "bad-request")
    expect_problem(sb.post("/consent/v1/sessions", json={}), 400, "bad-request")
    expect_problem(sb.post("/consent/v1/sessions", json={"purpose": "other"}), 400, "bad-request")


def test_sato02_lists_and_stops_kakeibo(sandbox):
    sb = sandbox()
    mieru, kakeibo = sato_links(sb)
    m = start_manage(sb)
    m.login("sato02", expect_step="links")
    links = m.links
    assert [l["partner"]["client_id"] for l in links] == ["kakeibo-demo", "mieru-demo"], links
    k, mi = links
    assert [s["id"] for s in k["scopes"]] == ["balance"] and k["scopes"][0]["name"]["ja"] == "残高照会"
    assert sorted(s["id"] for s in mi["scopes"]) == ["balance", "transactions"]
    assert [a["number"] for a in k["accounts"]] == ["2222222"], k
    assert k["partner"]["name"]["ja"] == "デモ家計簿株式会社"
    for l in links:
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", l["authorized_on"]) and l["valid_until"] > l["authorized_on"]
    # kakeibo: 365 days, mieru: 90 (demo scenario)
    assert k["valid_until"] > mi["valid_until"]

    key = secrets.token_hex(8)
    r = m.revoke(k["id"], idempotency_key=key)
    assert r.status == 200 and m.step == "links", r
    assert m.data["revoked"]["partner"]["client_id"] == "kakeibo-demo"
    assert [l["partner"]["client_id"] for l in m.links] == ["mieru-demo"]
    # the same request again (its answer lost): the same answer, nothing more revoked
    again = m.revoke(k["id"], idempotency_key=key)
    assert again.status == 200 and again.json == r.json
    # stopping it again without the key: gone
    expect_problem(m.revoke(k["id"]), 404, "link-unknown")

    # the partner: 401 on the resource API, invalid_grant on refresh; mieru still works
    assert bearer_get(sb, "/v1/accounts", kakeibo["access_token"]).status == 401
    expect_oauth_error(refresh(sb, kakeibo["refresh_token"], "kakeibo-demo"), "invalid_grant")
    assert bearer_get(sb, "/v1/accounts", mieru["access_token"]).status == 200
    assert refresh(sb, mieru["refresh_token"], "mieru-demo").status == 200

    # a new manage session lists one link
    m2 = start_manage(sb)
    m2.login("sato02", expect_step="links")
    assert [l["partner"]["client_id"] for l in m2.links] == ["mieru-demo"]

    # the bank's records: two allowed consents and one revocation, joinable by session id
    rec = records(sb)
    assert [(x["event"], x["result"], x["partner"]) for x in rec] == [
        ("consent", "allowed", "mieru-demo"), ("consent", "allowed", "kakeibo-demo"),
        ("revoke", "revoked", "kakeibo-demo")], rec
    assert rec[2]["session"] == session_id(m.session) and rec[2]["customer"] == "sato02"
    assert rec[2]["grant"] == k["id"]


def test_links_of_another_customer_cannot_be_stopped(sandbox):
    sb = sandbox()
    sato_links(sb)
    m = start_manage(sb)
    m.login("yamada01", expect_step="question")  # the risk rule asks yamada01 here too
    expect_problem(m.revoke("1"), 409, "wrong-step")
    m.answer(expect_step="links")
    assert m.links == []
    for bad in ("1", "2", "0", "x", "", "9" * 40):
        expect_problem(m.revoke(bad), 404, "link-unknown")
    expect_problem(m.post("/revoke", {"link": 1}), 400, "bad-request")
    expect_problem(m.post("/revoke", {}), 400, "bad-request")


def test_wrong_passwords_count_toward_the_same_lockout(sandbox):
    sb = sandbox()
    m = start_manage(sb)
    for left in (2, 1, 0):
        pj = expect_problem(m.post("/login", {"method": "password", "login_id": "sato02", "password": "x"}),
                            401, "wrong-credentials")
        assert pj["tries_left"] == left, pj
    # the lock is the login's: a consent session with the right password is told
    from harness.proto import new_consent
    _, c = new_consent(sb)
    expect_problem(c.post("/login", {"method": "password", "login_id": "sato02",
                                     "password": PASSWORDS["sato02"]}), 403, "login-locked")
    m2 = start_manage(sb)
    expect_problem(m2.post("/login", {"method": "password", "login_id": "sato02",
                                      "password": PASSWORDS["sato02"]}), 403, "login-locked")
    assert m2.get()["step"] == "locked"


def test_end_and_idempotent_start(sandbox):
    sb = sandbox()
    key = secrets.token_hex(8)
    m = start_manage(sb, idempotency_key=key)
    again = start_manage(sb, idempotency_key=key)
    assert again.session == m.session
    r = m.cancel()
    assert r.status == 200 and r.json["step"] == "ended", r
    expect_problem(m.post("/login", {"method": "password", "login_id": "sato02", "password": "x"}),
                   409, "wrong-step")
    assert m.get()["step"] == "ended"
    # a new start with that key (its session ended) is a new session
    assert start_manage(sb, idempotency_key=key).session != m.session


def test_certificate_login_suzuki03(sandbox, pki):
    sb = sandbox()
    grant(sb, "suzuki03", "mieru-demo")
    m = start_manage(sb, cert=pki / "clients/suzuki03.crt", key=pki / "clients/suzuki03.key")
    assert "certificate" in m.data["methods"]
    m.login_by_certificate(expect_step="links")
    assert [l["partner"]["client_id"] for l in m.links] == ["mieru-demo"]
    # bound to the certificate: without it, refused
    r = m.raw("POST", "/revoke", json={"link": m.links[0]["id"]}, cert=None, key=None)
    expect_problem(r, 403, "certificate-mismatch")


def test_records_of_deny_cancel_and_lock(sandbox):
    sb = sandbox()
    from harness.proto import consent_to_permission, new_consent
    _, c1 = new_consent(sb)
    c1.login("sato02")
    consent_to_permission(c1)
    c1.deny()
    _, c2 = new_consent(sb)
    c2.cancel()
    _, c3 = new_consent(sb)
    expect_problem(c3.post("/login", {"method": "password", "login_id": "tanaka04",
                                      "password": PASSWORDS["tanaka04"]}), 403, "login-locked")
    rec = records(sb)
    assert [(x["result"], x["customer"], x["session"]) for x in rec] == [
        ("denied", "sato02", session_id(c1.session)), ("cancelled", "-", session_id(c2.session)),
        ("locked", "-", session_id(c3.session))], rec
