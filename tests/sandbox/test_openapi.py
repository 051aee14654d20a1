"""docs/openapi.yaml against the real sandbox, so that the document and the server cannot drift apart.

1. The document is linted with Redocly's OpenAPI linter (tools/node, installed by
   scripts/install-deps.sh; config tools/node/redocly.yaml).
2. Complete flows are driven against a real sandbox over HTTPS with tests/harness/proto.py (password
   and certificate login, question, scopes, PINs right, wrong and malformed, pin_result, back,
   allow, deny, cancel, every error the flows can meet, rate limiting of codes and logins, a session
   POST resent with its idempotency key, a server failure (--fault login:status:500), the partner's OAuth calls
   and the resource API). Every response is recorded and then validated by path, method and status
   against the document with an off-the-shelf JSON Schema validator (Debian's python3-jsonschema,
   Draft 2020-12 as OpenAPI 3.1 uses): its status must be documented for that operation, its
   content type must be the documented one, its body must match the schema, and the headers the
   document marks required must be present. Every operation of the document must have been
   exercised, and every problem type of the document met at least once.

RENKEI_OPENAPI_DUMP=FILE writes the recorded responses (JSON lines) for a look by hand.
"""

import json
import os
import re
import secrets
import subprocess
import time
from pathlib import Path

import jsonschema
import pytest
import yaml

from harness.proto import (PASSWORDS, YAMADA_PINS, Consent, consent_to_permission, device_auth, grant, new_consent,
                           refresh, revoke, start, start_manage, token_request)

ROOT = Path(__file__).resolve().parents[2]
SPEC_PATH = ROOT / "docs/openapi.yaml"
REDOCLY = ROOT / "tools/node/node_modules/.bin/redocly"
PROBLEM_PREFIX = "urn:renkei:problem:"
SCENARIOS = ROOT / "tests/sandbox/scenarios"


def load_spec():
    return yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))


# ---------------------------------------------------------------------------------------------
# Recording

class Recorder:
    """Wraps a Sandbox's request(): every (method, path, response) is kept."""

    def __init__(self):
        self.calls = []

    def attach(self, sb):
        inner = sb.request

        def request(method, path, **kw):
            r = inner(method, path, **kw)
            self.calls.append((method.upper(), path.split("?", 1)[0], r))
            return r

        sb.request = request
        return sb


# ---------------------------------------------------------------------------------------------
# Validation

def path_regex(template):
    return re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$")


class Spec:
    def __init__(self, doc):
        self.doc = doc
        self.paths = [(path_regex(p), p, ops) for p, ops in doc["paths"].items()]
        self.resolver = jsonschema.RefResolver.from_schema(doc)

    def resolve(self, node):
        while isinstance(node, dict) and "$ref" in node:
            _, node = self.resolver.resolve(node["$ref"])
        return node

    def operation(self, method, path):
        for rx, template, ops in self.paths:
            if rx.match(path):
                op = ops.get(method.lower())
                return template, op
        return None, None

    def check(self, method, path, r):
        """A list of what is wrong with response r to method path (empty: it conforms)."""
        template, op = self.operation(method, path)
        if template is None:  # the document's 404 for any other path
            template, op = "(unknown path %s)" % path, self.doc["x-renkei-unknown-paths"]
        elif op is None:  # the document's 405 for a method a path does not have
            op = self.doc["x-renkei-other-methods"]
        responses = op["responses"]
        resp = responses.get(str(r.status)) or responses.get("%dXX" % (r.status // 100)) or responses.get("default")
        where = "%s %s -> %d" % (method, template, r.status)
        if resp is None:
            return ["%s: status not documented (documented: %s)" % (where, ", ".join(responses))]
        resp = self.resolve(resp)
        errors = []
        for name, h in (resp.get("headers") or {}).items():
            h = self.resolve(h)
            if h.get("required") and name.lower() not in r.headers:
                errors.append("%s: header %s missing" % (where, name))
        content = resp.get("content")
        if not content:
            if r.body:
                errors.append("%s: documented without a body, got %r" % (where, r.text[:200]))
            return errors
        media = content.get(r.content_type)
        if media is None:
            return errors + ["%s: content type %r not documented (%s)" % (where, r.content_type, ", ".join(content))]
        schema = media.get("schema")
        if schema is None:
            return errors
        if r.content_type.endswith("json"):
            if r.json is None:
                return errors + ["%s: body is not JSON: %r" % (where, r.text[:200])]
            instance = r.json
        else:
            instance = r.text
        validator = jsonschema.Draft202012Validator(schema, resolver=self.resolver)
        for e in sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path)):
            # oneOf/anyOf: report the branch error that got deepest into the instance
            while e.context:
                e = max(e.context, key=lambda x: len(x.absolute_path))
            errors.append("%s: %s at /%s (schema %s)" % (where, e.message[:300],
                                                         "/".join(str(x) for x in e.absolute_path),
                                                         "/".join(str(x) for x in e.absolute_schema_path)))
        return errors


# ---------------------------------------------------------------------------------------------
# The flows

def oauth_flows(sb, pki_dir):
    sb.get("/.well-known/oauth-authorization-server")
    sb.get("/device")
    # device authorization and its errors
    sb.post("/oauth/device_authorization", form={"client_id": "no-such-partner"})
    sb.post("/oauth/device_authorization", form={"client_id": "mieru-demo", "scope": "balance payments"})
    sb.post("/oauth/device_authorization", form={})
    sb.post("/oauth/device_authorization", form={"client_id": "kakeibo-demo"})
    # the token endpoint before, during and after a decision
    da = device_auth(sb, "mieru-demo", "balance transactions")
    token_request(sb, da["device_code"], "mieru-demo")              # authorization_pending
    token_request(sb, da["device_code"], "mieru-demo")              # slow_down
    token_request(sb, "no-such-device-code", "mieru-demo")          # invalid_grant
    token_request(sb, da["device_code"], "kakeibo-demo")            # another client's: invalid_grant
    sb.post("/oauth/token", form={"grant_type": "password", "client_id": "mieru-demo"})
    sb.post("/oauth/token", form={"client_id": "mieru-demo"})
    c = start(sb, da["user_code"])
    c.login("sato02", expect_step="permission")
    c.allow()
    tok = token_request(sb, da["device_code"], "mieru-demo").json
    refreshed = refresh(sb, tok["refresh_token"], "mieru-demo").json
    # the resource API with it
    access = refreshed.get("access_token") or tok["access_token"]
    accounts = sb.get("/v1/accounts", bearer=access).json["accounts"]
    acc = accounts[0]["id"]
    sb.get("/v1/accounts/%s/balances" % acc, bearer=access)
    sb.get("/v1/accounts/%s/transactions" % acc, bearer=access)
    sb.get("/v1/accounts/acc-999-9999999/balances", bearer=access)   # not covered: not-found
    sb.get("/v1/accounts", bearer="not-a-token")                      # token-invalid
    sb.get("/v1/accounts")                                             # no token
    sb.post("/v1/accounts", bearer=access, json={})                    # method-not-allowed
    sb.get("/v1/nothing-here", bearer=access)                          # not-found
    # revocation ends the grant
    revoke(sb, access, "mieru-demo", hint="access_token")
    revoke(sb, "unknown-token", "mieru-demo")
    sb.post("/oauth/revoke", form={"client_id": "mieru-demo"})
    sb.get("/v1/accounts", bearer=access)                              # revoked: token-invalid
    refresh(sb, tok["refresh_token"], "mieru-demo")                    # invalid_grant
    token_request(sb, da["device_code"], "mieru-demo")              # spent: invalid_grant (revokes its grant)
    # a token without the transactions scope
    da = device_auth(sb, "kakeibo-demo", "balance transactions")
    c = start(sb, da["user_code"])
    c.login("sato02", expect_step="scopes")
    c.scopes(["balance"], expect_step="permission")
    c.allow()
    narrow = token_request(sb, da["device_code"], "kakeibo-demo").json["access_token"]
    acc = sb.get("/v1/accounts", bearer=narrow).json["accounts"][0]["id"]
    sb.get("/v1/accounts/%s/transactions" % acc, bearer=narrow)       # scope-insufficient
    # a denied one
    da = device_auth(sb, "mieru-demo")
    c = start(sb, da["user_code"])
    c.login("sato02", expect_step="permission")
    c.deny()
    token_request(sb, da["device_code"], "mieru-demo")                # access_denied
    # wrong methods and unknown paths
    sb.get("/oauth/token")
    sb.get("/nowhere")


def yamada_flow(sb):
    """yamada01: every step, and every error each step can give."""
    da, c = new_consent(sb, idempotency_key=secrets.token_hex(8))
    c.get()
    c.post("/login", {"method": "password", "login_id": "yamada01", "password": "wrong"})   # wrong-credentials
    c.post("/login", {"method": "password", "login_id": "nobody99", "password": "wrong"})   # no tries_left
    c.post("/login", {"method": "password", "login_id": "", "password": "x"})              # bad-request
    c.post("/login", {"method": "certificate", "password": "x"})                           # certificate-required
    c.post("/answer", {"answer": "x"})                                                     # wrong-step
    c.login("yamada01", expect_step="question")
    c.post("/answer", {"answer": "まちがい証券"})                                             # wrong-answer
    c.post("/answer", {"answer": ""})                                                      # bad-request
    c.answer(expect_step="scopes")
    c.post("/scopes", {"scopes": []})                                                      # scope-required
    c.post("/scopes", {"scopes": ["payments"]})                                            # scope-unknown
    c.scopes(expect_step="pins")
    c.post("/pins", {"pins": []})                                                          # pin-required
    c.post("/pins", {"pins": [{"account": "acc-000-0000000", "pin": "1234"}]})              # bad-request
    ids = {n: c.account_id(n) for n in YAMADA_PINS}
    first, second = list(YAMADA_PINS)
    c.post("/pins", {"pins": [{"account": ids[first], "pin": "12"}]})                      # pin-format
    c.post("/pins", {"pins": [{"account": ids[first], "pin": YAMADA_PINS[first]},
                              {"account": ids[second], "pin": "0000"}]})                   # pin-wrong
    c.pins({second: YAMADA_PINS[second]}, expect_step="pin_result")
    c.post("/pin-result", {"action": "add"})                                               # none left: wrong-step
    c.pin_result("confirm", expect_step="permission")
    c.post("/decision", {"decision": "allow"})                                             # intent-required
    c.post("/back", {})
    c.get()
    if c.step != "permission":
        c.pin_result("confirm", expect_step="permission")
    c.allow()
    c.get()                                                                                # final step
    c.post("/decision", {"decision": "deny"})                                              # wrong-step
    c.cancel()                                                                             # wrong-step
    start(sb, da["user_code"], expect=None)                                                # user-code-used


def manage_flow(sb):
    """§4.12: a manage session: login, question, links, a link stopped, errors, end."""
    grant(sb, "sato02", "mieru-demo")
    key = secrets.token_hex(8)
    m = start_manage(sb, idempotency_key=key)
    start_manage(sb, idempotency_key=key)                                                  # same session again
    m.get()
    m.post("/revoke", {"link": "1"})                                                       # wrong-step
    m.post("/login", {"method": "password", "login_id": "sato02", "password": "wrong"})    # wrong-credentials
    m.login("sato02", expect_step="links")
    m.post("/revoke", {"link": "999"})                                                     # link-unknown
    m.post("/revoke", {})                                                                  # bad-request
    m.revoke(m.links[0]["id"])
    m.get()
    m.cancel()                                                                             # ended
    y = start_manage(sb)
    y.login("yamada01", expect_step="question")
    y.answer(expect_step="links")
    y.cancel()


def other_customers(sb, pki_dir):
    # sato02 with kakeibo: scopes, then back from permission, then cancel
    da, c = new_consent(sb)
    c.login("sato02", expect_step="scopes")
    c.scopes(["balance", "transactions"], expect_step="permission")
    c.post("/back", {})
    c.cancel()
    # tanaka04 is locked
    da, c = new_consent(sb)
    c.post("/login", {"method": "password", "login_id": "tanaka04", "password": PASSWORDS["tanaka04"]})
    c.get()
    # a cancel before login, and requests on sessions that do not exist
    da, c = new_consent(sb)
    start(sb, da["user_code"], expect=None)                                               # user-code-busy
    c.cancel()
    sb.get("/consent/v1/session")                                                          # session-unknown
    sb.get("/consent/v1/session", bearer="nope")
    # malformed requests
    da, c = new_consent(sb)
    c.raw("POST", "/login", data="{not json", content_type="application/json")             # bad-request
    c.raw("POST", "/login", data='{"method":"password"}', content_type="text/plain")       # unsupported-media-type
    c.raw("POST", "/login", data="x" * (65 * 1024), content_type="application/json")        # payload-too-large
    c.raw("PUT", "/login", json={})                                                        # method-not-allowed
    sb.get("/consent/v1/sessions")                                                         # method-not-allowed
    sb.get("/consent/v1/nothing")                                                          # not-found
    sb.post("/consent/v1/sessions", json={"user_code": "WDJB-MJHT", "extra": 1})           # bad-request
    # suzuki03 by certificate, and a certificate session used without the certificate
    cert, key = pki_dir / "clients/suzuki03.crt", pki_dir / "clients/suzuki03.key"
    da, c = new_consent(sb, cert=cert, key=key)
    c.login_by_certificate()
    Consent(sb, c.session, c.env).raw("GET", "")                                           # certificate-mismatch
    consent_to_permission(c)
    c.allow()
    # a certificate of nobody, and one of another CA
    ucert, ukey = pki_dir / "clients/unknown.crt", pki_dir / "clients/unknown.key"
    da, c = new_consent(sb, cert=ucert, key=ukey)
    c.post("/login", {"method": "certificate", "password": "x"})                          # certificate-unknown
    try:
        rcert, rkey = pki_dir / "clients/suzuki03-expired.crt", pki_dir / "clients/suzuki03-expired.key"
        da, c = new_consent(sb, cert=rcert, key=rkey)
        c.post("/login", {"method": "certificate", "password": PASSWORDS["suzuki03"]})
    except AssertionError:
        pass  # the handshake itself may be refused (protocol §4.5 leaves it open)


def rate_limit(sb):
    for i in range(6):
        start(sb, "BCDF-GHJ%s" % "KLMNPQ"[i], expect=None)


def expiry(short_expiry, short_session):
    """A device authorization that expires (3 s) and a session that idles out (2 s)."""
    da, c = new_consent(short_expiry)
    da2 = device_auth(short_expiry)
    time.sleep(3.5)
    start(short_expiry, da2["user_code"], expect=None)                                    # user-code-expired
    token_request(short_expiry, da2["device_code"])                                        # expired_token
    c.raw("GET", "")                                                                       # session-expired
    da, c = new_consent(short_session)
    time.sleep(2.5)
    c.raw("POST", "/login", json={"method": "password", "login_id": "sato02",
                                  "password": PASSWORDS["sato02"]})                        # session-expired


def guessing_and_retries(sb):
    """Wrong logins until the session's limit (tries_left down to 0, then 429), a session POST sent
    again with its idempotency key (answered as the first time), and the same key with another body."""
    da, c = new_consent(sb)
    key = secrets.token_hex(8)
    wrong = {"method": "password", "login_id": "nobody99", "password": "wrong", "idempotency_key": key}
    c.post("/login", wrong)
    c.post("/login", wrong)                                                                # the same answer again
    c.post("/login", dict(wrong, password="other"))                                        # bad-request
    for _ in range(6):
        c.post("/login", dict(wrong, idempotency_key=secrets.token_hex(8)))               # ... 0, then 429


def server_failure(sb):
    """--fault login:status:500:once: the internal problem (the request is not processed)."""
    da, c = new_consent(sb)
    c.post("/login", {"method": "password", "login_id": "sato02", "password": PASSWORDS["sato02"]})


def replay_divergence(sb):
    """renkei-sandbox --replay on a recorded trace: a request that is not the recorded first one
    (the start) gets replay-diverged (protocol §5)."""
    sb.post("/consent/v1/session/scopes", json={"scopes": ["balance"], "idempotency_key": "k" * 16},
            bearer="x")


def no_certificate_login(sb):
    da, c = new_consent(sb)
    c.post("/login", {"method": "certificate", "password": "x"})                          # method-unavailable


# ---------------------------------------------------------------------------------------------
# The tests

def test_openapi_lint():
    """Redocly's linter (recommended rules, tools/node/redocly.yaml) finds no error or warning."""
    assert REDOCLY.exists(), "%s missing: run sh scripts/install-deps.sh" % REDOCLY
    env = dict(os.environ, REDOCLY_TELEMETRY="off", REDOCLY_SUPPRESS_UPDATE_NOTICE="true", NO_COLOR="1")
    r = subprocess.run([str(REDOCLY), "lint", "--config", str(ROOT / "tools/node/redocly.yaml"), str(SPEC_PATH)],
                       cwd=str(ROOT), capture_output=True, text=True, timeout=180, env=env,
                       stdin=subprocess.DEVNULL)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert re.search(r"Your API description is valid", out), out
    assert "warning" not in out.lower(), out


def test_every_sandbox_response_matches_the_document(sandbox, pki, pki_no_client_ca):
    rec = Recorder()
    sb = rec.attach(sandbox())
    oauth_flows(sb, pki)
    yamada_flow(sb)
    other_customers(sb, pki)
    manage_flow(sb)
    rate_limit(sb)
    no_certificate_login(rec.attach(sandbox(tls_dir=pki_no_client_ca)))
    guessing_and_retries(rec.attach(sandbox()))
    server_failure(rec.attach(sandbox(args=["--fault", "login:status:500:once"])))
    replay_divergence(rec.attach(sandbox(args=["--replay", str(ROOT / "tests/fuzz/corpus/trace/yamada01.jsonl")])))
    expiry(rec.attach(sandbox(scenario=SCENARIOS / "short-expiry.json")),
           rec.attach(sandbox(scenario=SCENARIOS / "short-session.json")))

    dump = os.environ.get("RENKEI_OPENAPI_DUMP")
    if dump:
        with open(dump, "w") as f:
            for m, p, r in rec.calls:
                f.write(json.dumps({"method": m, "path": p, "status": r.status, "type": r.content_type,
                                    "headers": r.headers, "body": r.json if r.json is not None else r.text},
                                   ensure_ascii=False) + "\n")

    spec = Spec(load_spec())
    errors = []
    for m, p, r in rec.calls:
        errors += spec.check(m, p, r)
    assert not errors, "%d of %d responses do not match docs/openapi.yaml:\n%s" % (
        len(errors), len(rec.calls), "\n".join(errors[:60]))

    # every operation exercised, every documented status of the consent API met
    seen = {(spec.operation(m, p)[0], m.lower()) for m, p, _ in rec.calls}
    ops = {(p, m) for p, o in spec.doc["paths"].items() for m in o if m in ("get", "post", "delete", "put")}
    assert ops <= seen, "operations never exercised: %s" % sorted(ops - seen)
    met = {r.json["type"] for _, _, r in rec.calls
           if isinstance(r.json, dict) and str(r.json.get("type", "")).startswith(PROBLEM_PREFIX)}
    documented = problem_types(spec.doc)
    assert len(documented) >= 30, documented
    never = {t for t, s in documented.items() if t not in met and "x-renkei-not-driven" not in s}
    assert not never, "problem types never met in the flows: %s" % sorted(never)
    assert met <= set(documented), "problem types the document does not describe: %s" % sorted(met - set(documented))


def problem_types(doc):
    """{problem type URI: its schema} of the document's problem schemas (allOf Problem + a const type)."""
    out = {}
    for s in doc["components"]["schemas"].values():
        for part in s.get("allOf", []):
            t = part.get("properties", {}).get("type", {}).get("const", "")
            if isinstance(t, str) and t.startswith(PROBLEM_PREFIX):
                out[t] = s
    return out


def test_every_problem_type_of_protocol_md_is_described():
    """The table of protocol.md §5 and the document's problem schemas name the same types."""
    text = (ROOT / "docs/protocol.md").read_text(encoding="utf-8")
    section = text[text.index("## 5. Problems"):text.index("## 6.")]
    listed = {PROBLEM_PREFIX + m for m in re.findall(r"^\| `([a-z-]+)` \| \d{3} \|", section, re.M)}
    assert len(listed) >= 30, listed
    assert listed == set(problem_types(load_spec())), listed ^ set(problem_types(load_spec()))


def test_the_validation_can_fail(sandbox):
    """The checker itself: a response that breaks the document is caught (wrong member type, an
    undocumented status, a missing required header)."""
    spec = Spec(load_spec())

    class Fake:
        def __init__(self, status, body, ctype="application/json", headers=None):
            self.status, self.json, self.content_type = status, body, ctype
            self.body = json.dumps(body).encode()
            self.text = self.body.decode()
            self.headers = headers or {"cache-control": "no-store"}

    good = {"device_code": "x" * 43, "user_code": "WDJB-MJHT", "verification_uri": "https://h/device",
            "expires_in": 600, "interval": 5}
    assert spec.check("POST", "/oauth/device_authorization", Fake(200, good)) == []
    assert spec.check("POST", "/oauth/device_authorization", Fake(200, dict(good, interval="5")))
    assert spec.check("POST", "/oauth/device_authorization", Fake(200, dict(good, user_code="wdjb")))
    assert spec.check("POST", "/oauth/device_authorization", Fake(418, good))
    problem = {"type": "urn:renkei:problem:rate-limited", "title": "t", "status": 429, "retry_after": 30}
    assert spec.check("POST", "/consent/v1/sessions", Fake(429, problem, "application/problem+json"))  # no Retry-After
    assert spec.check("POST", "/consent/v1/sessions",
                      Fake(429, problem, "application/problem+json",
                           {"retry-after": "30", "cache-control": "no-store"})) == []
