"""Helpers for the sandbox protocol tests (docs/protocol.md): the partner's OAuth calls and the
consent protocol driven the way renkei drives it. Every helper asserts what the document promises
for the success case, so a failing helper names the rule that broke."""

import json
import time

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
USER_CODE_CHARSET = set("BCDFGHJKLMNPQRSTVWXZ")

# The demo scenario (shared/design/demo-scenario.md).
PASSWORDS = {"yamada01": "Sakura-2026", "sato02": "Momiji-2026", "suzuki03": "Kaede-2026",
             "tanaka04": "Ume-2026"}
YAMADA_ANSWER = "ひまわり証券"
# Accounts are named by number here; ids come from the server's answers (acc-001-2000002 in §3).
YAMADA_PINS = {"2000002": "1234", "1111111": "5678"}
YAMADA_REGISTERED = "1000014"
SATO_ACCOUNT = "2222222"
SUZUKI_ACCOUNT = "3000003"
SUZUKI_PIN = "2468"


def problem_of(r):
    return r.problem


def expect_problem(r, status, ptype):
    assert r.status == status and r.problem == ptype, \
        "expected %d %s, got %r" % (status, ptype, r)
    assert r.content_type == "application/problem+json", r
    assert r.json.get("status") == status, r
    assert isinstance(r.json.get("title"), str) and r.json["title"], r
    return r.json


def expect_oauth_error(r, error, status=400):
    assert r.status == status and r.error == error, "expected %d %s, got %r" % (status, error, r)
    assert r.content_type == "application/json", r
    return r.json


# ----------------------------------------------------------------------------------------------
# The partner (OAuth)

def metadata(sb):
    r = sb.get("/.well-known/oauth-authorization-server")
    assert r.status == 200, r
    return r.json


def device_auth(sb, client_id="kakeibo-demo", scope="balance transactions"):
    form = {"client_id": client_id}
    if scope is not None:
        form["scope"] = scope
    r = sb.post("/oauth/device_authorization", form=form)
    assert r.status == 200, r
    d = r.json
    for k in ("device_code", "user_code", "verification_uri", "expires_in", "interval"):
        assert k in d, "device authorization answer without %s: %r" % (k, d)
    return d


class Poller:
    """The partner polling the token endpoint; it waits out the interval before each poll
    (the protocol's own timing, as a partner must), so it never triggers slow_down by accident."""

    def __init__(self, sb, da, client_id="kakeibo-demo"):
        self.sb = sb
        self.da = da
        self.client_id = client_id
        self.interval = da["interval"]
        self.last = None

    def poll(self, wait=True):
        if wait and self.last is not None:
            due = self.last + self.interval + 0.05
            while time.monotonic() < due:
                time.sleep(min(0.05, max(0.0, due - time.monotonic())))
        r = self.sb.post("/oauth/token", form={"grant_type": DEVICE_GRANT,
                                               "device_code": self.da["device_code"],
                                               "client_id": self.client_id})
        self.last = time.monotonic()
        if r.error == "slow_down":
            self.interval += 5
        return r


def token_request(sb, device_code, client_id="kakeibo-demo"):
    return sb.post("/oauth/token", form={"grant_type": DEVICE_GRANT, "device_code": device_code,
                                         "client_id": client_id})


def refresh(sb, refresh_token, client_id="kakeibo-demo"):
    return sb.post("/oauth/token", form={"grant_type": "refresh_token", "refresh_token": refresh_token,
                                         "client_id": client_id})


def revoke(sb, token, client_id="kakeibo-demo", hint=None):
    form = {"token": token, "client_id": client_id}
    if hint:
        form["token_type_hint"] = hint
    return sb.post("/oauth/revoke", form=form)


# ----------------------------------------------------------------------------------------------
# The consent protocol (renkei's side)

class Consent:
    """One consent session. Requests carry `Authorization: Bearer <session>`."""

    def __init__(self, sb, session, envelope, cert=None, key=None):
        self.sb = sb
        self.session = session
        self.env = envelope
        self.cert = cert
        self.key = key

    @property
    def step(self):
        return self.env["step"]

    @property
    def data(self):
        return self.env.get("data") or {}

    def _kw(self, kw):
        kw.setdefault("bearer", self.session)
        if self.cert:
            kw.setdefault("cert", self.cert)
            kw.setdefault("key", self.key)
        return kw

    def raw(self, method, path, **kw):
        return self.sb.request(method, "/consent/v1/session" + path, **self._kw(kw))

    def check(self, env):
        check_envelope(env)

    def post(self, path, body, expect=200, **kw):
        r = self.raw("POST", path, json=body, **kw)
        if expect is not None and r.status == expect and expect == 200:
            self.check(r.json)
            self.env = r.json
        return r

    def get(self):
        r = self.raw("GET", "")
        assert r.status == 200, r
        self.check(r.json)
        self.env = r.json
        return r.json

    def cancel(self):
        r = self.raw("DELETE", "")
        if r.status == 200:
            self.env = r.json
        return r

    # Steps, each asserting success and the next step.
    def _step(self, path, body, expect_step):
        """POST a step's request: asserts 200 and, when expect_step is given, the step it leads to."""
        r = self.post(path, body)
        assert r.status == 200, r
        if expect_step:
            assert self.step == expect_step, self.env
        return self

    def login(self, login_id, password=None, expect_step=None):
        return self._step("/login", {"method": "password", "login_id": login_id,
                                     "password": PASSWORDS[login_id] if password is None else password},
                          expect_step)

    def login_by_certificate(self, password=PASSWORDS["suzuki03"], expect_step=None):
        """Certificate login (the session's client certificate names the customer)."""
        return self._step("/login", {"method": "certificate", "password": password}, expect_step)

    def answer(self, text=YAMADA_ANSWER, expect_step=None):
        return self._step("/answer", {"answer": text}, expect_step)

    def scopes(self, scopes=("balance", "transactions"), expect_step=None):
        return self._step("/scopes", {"scopes": list(scopes)}, expect_step)

    def account(self, number):
        """The row of the account with this number in the current step's table."""
        for a in self.data.get("accounts", []):
            if a["number"] == number:
                return a
        raise AssertionError("no account %s in step %s: %s" % (number, self.step, self.data))

    def account_id(self, number):
        return self.account(number)["id"]

    def pin_body(self, pins):
        """{"pins": [...]} from {number: pin}."""
        return {"pins": [{"account": self.account_id(n), "pin": p} for n, p in pins.items()]}

    def pins(self, pins, expect_step="pin_result"):
        return self._step("/pins", self.pin_body(pins), expect_step)

    def pin_result(self, action="confirm", expect_step=None):
        return self._step("/pin-result", {"action": action}, expect_step)

    def allow(self):
        return self._step("/decision", {"decision": "allow", "intent_confirmed": True}, "done")

    def deny(self):
        return self._step("/decision", {"decision": "deny"}, "denied")


def check_envelope(env):
    """§4.2: the members every envelope has."""
    assert isinstance(env, dict), env
    for k in ("step", "session_expires_in", "partner", "request", "data"):
        assert k in env, "envelope without %s: %s" % (k, json.dumps(env, ensure_ascii=False)[:800])
    assert env["step"] in ("login", "question", "scopes", "pins", "pin_result", "permission", "done",
                           "denied", "locked"), env["step"]
    assert isinstance(env["session_expires_in"], int) and env["session_expires_in"] > 0, env
    p = env["partner"]
    assert isinstance(p.get("client_id"), str) and isinstance(p.get("name"), dict) and p["name"].get("ja"), p
    req = env["request"]
    assert isinstance(req.get("scopes"), list) and req["scopes"], req
    for s in req["scopes"]:
        assert s["id"] in ("balance", "transactions") and s["name"]["ja"], s
    assert isinstance(req.get("scope_choice"), bool) and isinstance(req.get("period_days"), int), req


class Manage(Consent):
    """A manage session (§4.12): the customer's linked services."""

    def check(self, env):
        check_manage_envelope(env)

    @property
    def links(self):
        return self.data["links"]

    def revoke(self, link_id, **kw):
        return self.post("/revoke", dict({"link": link_id}, **kw))


def check_manage_envelope(env):
    """§4.12: a manage envelope has no partner and no request."""
    assert isinstance(env, dict), env
    assert env.get("purpose") == "manage", env
    assert "partner" not in env and "request" not in env, env
    assert env["step"] in ("login", "question", "links", "ended", "locked"), env["step"]
    assert isinstance(env["session_expires_in"], int) and env["session_expires_in"] > 0, env
    assert isinstance(env.get("data"), dict), env


def start_manage(sb, idempotency_key=None, cert=None, key=None, expect=201):
    body = {"purpose": "manage"}
    if idempotency_key is not None:
        body["idempotency_key"] = idempotency_key
    kw = {"cert": cert, "key": key} if cert else {}
    r = sb.post("/consent/v1/sessions", json=body, **kw)
    if expect is None:
        return r
    assert r.status == expect, r
    if expect != 201:
        return r
    check_manage_envelope(r.json)
    assert r.json["step"] == "login" and isinstance(r.json.get("session"), str), r.json
    return Manage(sb, r.json["session"], r.json, cert=cert, key=key)


def start(sb, user_code, idempotency_key=None, cert=None, key=None, expect=201):
    body = {"user_code": user_code}
    if idempotency_key is not None:
        body["idempotency_key"] = idempotency_key
    kw = {}
    if cert:
        kw = {"cert": cert, "key": key}
    r = sb.post("/consent/v1/sessions", json=body, **kw)
    if expect is None:
        return r
    assert r.status == expect, r
    if expect != 201:
        return r
    env = r.json
    check_envelope(env)
    assert isinstance(env.get("session"), str) and len(env["session"]) >= 22, env
    assert env["step"] == "login", env
    return Consent(sb, env["session"], env, cert=cert, key=key)


def new_consent(sb, client_id="kakeibo-demo", scope="balance transactions", **kw):
    """A device authorization and a consent session for it: (device authorization, Consent)."""
    da = device_auth(sb, client_id, scope)
    return da, start(sb, da["user_code"], **kw)


def yamada_at_scopes(sb, client_id="kakeibo-demo", scope="balance transactions"):
    """A consent session for a fresh device authorization, yamada01 logged in and the question
    answered: (device authorization, Consent) in step scopes."""
    da, c = new_consent(sb, client_id, scope)
    c.login("yamada01", expect_step="question")
    c.answer(expect_step="scopes")
    return da, c


def by_number(accounts):
    return {a["number"]: a for a in accounts}


def yamada_to_permission(sb, client_id="kakeibo-demo", scope="balance transactions", scopes=None):
    da, c = new_consent(sb, client_id, scope)
    c.login("yamada01", expect_step="question")
    c.answer()
    if c.step == "scopes":
        c.scopes(scopes or ("balance", "transactions"), expect_step="pins")
    assert c.step == "pins", c.env
    c.pins(YAMADA_PINS)
    c.pin_result("confirm", expect_step="permission")
    return da, c


def bearer_get(sb, path, token):
    return sb.get(path, bearer=token)


KNOWN_PINS = dict(YAMADA_PINS, **{SUZUKI_ACCOUNT: SUZUKI_PIN})


def consent_to_permission(c, choose=None):
    """Walk an already logged-in session to `permission` with the demo's right answers."""
    if c.step == "question":
        c.answer()
    if c.step == "scopes":
        c.scopes(choose or [s["id"] for s in c.data["scopes"]])
    if c.step == "pins":
        todo = {a["number"]: KNOWN_PINS[a["number"]] for a in c.data["accounts"]
                if a["pin"] == "unregistered" and not a["pin_locked"]}
        c.pins(todo)
    if c.step == "pin_result":
        c.pin_result("confirm")
    assert c.step == "permission", c.env
    return c


def grant(sb, login="sato02", client_id="kakeibo-demo", scope="balance transactions", choose=None):
    """A whole approved flow; returns the token answer (the partner's first poll comes after allow,
    so no slow_down)."""
    da, c = new_consent(sb, client_id, scope)
    c.login(login)
    consent_to_permission(c, choose)
    c.allow()
    r = token_request(sb, da["device_code"], client_id)
    assert r.status == 200, r
    return r.json


def assert_certificate_never_logs_in(sb, cert, key):
    """A client certificate the sandbox must not accept (another CA, expired): protocol §1/§4.5 say the
    chain is verified against the client CA but not how a failure shows, so either the TLS handshake
    is refused or the certificate login is a 401 certificate problem. Never a login."""
    da = device_auth(sb)
    try:
        r = sb.post("/consent/v1/sessions", json={"user_code": da["user_code"]}, cert=cert, key=key)
    except AssertionError as e:  # the handshake was refused
        assert "curl" in str(e) or "transport error" in str(e), e
        assert sb.alive()
        return
    if r.status == 201:
        r = sb.post("/consent/v1/session/login", bearer=r.json["session"], cert=cert, key=key,
                    json={"method": "certificate", "password": "Kaede-2026"})
    assert r.status == 401 and r.problem in ("certificate-invalid", "certificate-unknown"), r
