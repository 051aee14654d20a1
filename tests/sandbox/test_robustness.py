"""Bad requests (docs/protocol.md §1, §5): each is a 4xx application/problem+json, changes nothing,
and the server keeps serving."""

import socket
import ssl

import pytest

from harness.proto import device_auth, expect_problem, metadata, new_consent, start


def still_serving(sb):
    assert sb.alive(), "the sandbox died:\n" + sb.log_text()[-3000:]
    metadata(sb)


@pytest.fixture
def sb(sandbox):
    s = sandbox()
    yield s
    still_serving(s)


@pytest.mark.parametrize("body", [b"{", b"{\"user_code\": }", b"[]", b"\"WDJB-MJHT\"", b"null",
                                  b"{\"user_code\": \"A\"} trailing", b"{\"user_code\": \"\xff\xfe\"}",
                                  b"[" * 5000 + b"]" * 5000, b""],
                         ids=["truncated", "no-value", "array", "string", "null", "trailing", "bad-utf8",
                              "deep", "empty"])
def test_malformed_json(sb, body):
    r = sb.post("/consent/v1/sessions", data=body, content_type="application/json")
    expect_problem(r, 400, "bad-request")


@pytest.mark.parametrize("ctype", [None, "text/plain", "application/x-www-form-urlencoded",
                                   "application/jsonx", "multipart/form-data; boundary=x"])
def test_wrong_content_type(sb, ctype):
    da = device_auth(sb)
    r = sb.post("/consent/v1/sessions", data='{"user_code": "%s"}' % da["user_code"], content_type=ctype)
    expect_problem(r, 415, "unsupported-media-type")
    start(sb, da["user_code"])  # nothing was started by the refused request


@pytest.mark.parametrize("ctype", ["application/json; charset=utf-8", "application/json;charset=UTF-8",
                                   "Application/JSON"])
def test_json_content_type_variants_accepted(sb, ctype):
    da = device_auth(sb)
    r = sb.post("/consent/v1/sessions", data='{"user_code": "%s"}' % da["user_code"], content_type=ctype)
    assert r.status == 201, r


def post_big(sb, path, body, ctype, **kw):
    """A big body: the server may answer 413 and close before reading it all; the client may then
    see the connection reset before the answer (curl exit 55/56, a transport error). Returns the
    Response or None."""
    try:
        return sb.request("POST", path, data=body, content_type=ctype, **kw)
    except AssertionError as e:
        if "(55)" in str(e) or "(56)" in str(e) or "transport error" in str(e):
            return None
        raise


@pytest.mark.parametrize("size", [64 * 1024 + 1, 1024 * 1024])
def test_body_over_64k(sb, size):
    pad = "x" * size
    exact = size == 64 * 1024 + 1  # just over: the answer must arrive
    r = post_big(sb, "/consent/v1/sessions", '{"user_code": "%s"}' % pad, "application/json")
    if exact or r is not None:
        expect_problem(r, 413, "payload-too-large")
    da, c = new_consent(sb)
    r = post_big(sb, "/consent/v1/session/login", '{"method":"password","login_id":"%s","password":"x"}' % pad,
                 "application/json", bearer=c.session)
    if exact or r is not None:
        expect_problem(r, 413, "payload-too-large")
    assert c.get()["step"] == "login"
    r = post_big(sb, "/oauth/token", "grant_type=" + pad, "application/x-www-form-urlencoded")
    if exact or r is not None:
        assert 400 <= r.status < 500, r


def test_body_of_exactly_64k_is_not_too_large(sb):
    body = '{"user_code": "BCDF-GHJK", "idempotency_key": "k", "x": "%s"}'
    pad = 64 * 1024 - len(body % "")
    r = sb.post("/consent/v1/sessions", data=body % ("y" * pad), content_type="application/json")
    assert r.status != 413, r
    expect_problem(r, 400, "bad-request")  # the unknown member x


@pytest.mark.parametrize("body,pointer", [
    ({}, "/user_code"),
    ({"user_code": 12345678}, "/user_code"),
    ({"user_code": None}, "/user_code"),
    ({"user_code": "BCDF-GHJK", "colour": "red"}, "/colour"),
    ({"user_code": "BCDF-GHJK", "idempotency_key": 5}, "/idempotency_key"),
])
def test_unknown_missing_or_mistyped_members_on_start(sb, body, pointer):
    pj = expect_problem(sb.post("/consent/v1/sessions", json=body), 400, "bad-request")
    assert pj.get("pointer") == pointer, pj


@pytest.mark.parametrize("body,pointer", [
    ({"method": "password", "login_id": "yamada01"}, "/password"),
    ({"method": "password", "password": "x"}, "/login_id"),
    ({"login_id": "yamada01", "password": "x"}, "/method"),
    ({"method": "fingerprint", "password": "x"}, "/method"),
    ({"method": "password", "login_id": ["yamada01"], "password": "x"}, "/login_id"),
    ({"method": "password", "login_id": "yamada01", "password": "x", "otp": "1"}, "/otp"),
])
def test_bad_login_bodies(sb, body, pointer):
    da, c = new_consent(sb)
    pj = expect_problem(c.post("/login", body), 400, "bad-request")
    assert pj.get("pointer") == pointer, pj
    assert c.get()["step"] == "login"
    c.login("sato02", expect_step="scopes")  # and no try was counted against anybody


def test_bad_bodies_in_later_steps(sb):
    da, c = new_consent(sb)
    c.login("yamada01", expect_step="question")
    for body, pointer in (({}, "/answer"), ({"answer": 1}, "/answer"), ({"answer": "x", "y": 1}, "/y")):
        pj = expect_problem(c.post("/answer", body), 400, "bad-request")
        assert pj.get("pointer") == pointer, pj
    assert c.get()["data"]["tries_left"] == 3, "a bad request counted as a wrong answer"
    c.answer(expect_step="scopes")
    for body in ({}, {"scopes": "balance"}, {"scopes": [1]}):
        expect_problem(c.post("/scopes", body), 400, "bad-request")
    c.scopes(expect_step="pins")
    a = c.account_id("2000002")
    for body in ({}, {"pins": {}}, {"pins": [{"account": a}]}, {"pins": [{"account": a, "pin": 1234}]},
                 {"pins": [{"account": a, "pin": "1234", "x": 1}]}, {"pins": ["1234"]}):
        expect_problem(c.post("/pins", body), 400, "bad-request")
    assert c.get()["step"] == "pins" and c.account("2000002")["tries_left"] == 3


@pytest.mark.parametrize("method,path,allowed", [
    ("GET", "/consent/v1/sessions", {"POST"}),
    ("DELETE", "/consent/v1/sessions", {"POST"}),
    ("PUT", "/consent/v1/session", {"GET", "DELETE"}),
    ("POST", "/consent/v1/session", {"GET", "DELETE"}),
    ("GET", "/consent/v1/session/login", {"POST"}),
    ("DELETE", "/consent/v1/session/decision", {"POST"}),
    ("POST", "/v1/accounts", {"GET"}),
    ("DELETE", "/.well-known/oauth-authorization-server", {"GET"}),
])
def test_wrong_methods(sb, method, path, allowed):
    r = sb.request(method, path)
    expect_problem(r, 405, "method-not-allowed")
    got = {m.strip().upper() for m in r.headers.get("allow", "").split(",") if m.strip()}
    assert allowed <= got, r.header_list


@pytest.mark.parametrize("method,path", [("GET", "/oauth/token"), ("GET", "/oauth/device_authorization"),
                                         ("GET", "/oauth/revoke")])
def test_wrong_methods_on_oauth_endpoints(sb, method, path):
    r = sb.request(method, path)
    assert r.status == 405 and "POST" in r.headers.get("allow", ""), r


@pytest.mark.parametrize("path", ["/", "/nope", "/consent/v1/nope", "/consent/v2/sessions", "/v1/accounts/x/y",
                                  "/consent/v1/session/../sessions", "/%00"])
def test_unknown_paths(sb, path):
    r = sb.get(path, extra=["--path-as-is"])
    assert r.status in (400, 404), r
    assert r.content_type == "application/problem+json", r


def test_oauth_endpoints_want_forms(sb):
    r = sb.post("/oauth/device_authorization", json={"client_id": "kakeibo-demo"})
    assert r.status == 400 and r.error == "invalid_request", r


def test_garbage_and_plain_http_do_not_stop_the_server(sb):
    for payload in (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", b"\x16\x03\x01\x00\x05hello", b"\x00" * 100):
        with socket.create_connection(("127.0.0.1", sb.port), timeout=5) as s:
            s.sendall(payload)
    # A TLS connection that never sends a request, and one that leaves mid-request.
    ctx = ssl.create_default_context(cafile=str(sb.cacert))
    idle = ctx.wrap_socket(socket.create_connection(("127.0.0.1", sb.port), timeout=5),
                           server_hostname="localhost")
    half = ctx.wrap_socket(socket.create_connection(("127.0.0.1", sb.port), timeout=5),
                           server_hostname="localhost")
    half.sendall(b"POST /consent/v1/sessions HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n"
                 b"Content-Type: application/json\r\n\r\n{\"user")
    half.close()
    still_serving(sb)
    da, c = new_consent(sb)
    idle.close()


def test_server_keeps_serving_after_many_bad_requests(sb):
    for i in range(30):
        sb.post("/consent/v1/sessions", data=b"{" * (i + 1), content_type="application/json")
    da, c = new_consent(sb)
    c.login("sato02", expect_step="scopes")


def test_problem_details_leak_no_secret(sb):
    da, c = new_consent(sb)
    r = c.post("/login", {"method": "password", "login_id": "yamada01", "password": "Hidden-Pass-42"})
    expect_problem(r, 401, "wrong-credentials")
    assert "Hidden-Pass-42" not in r.text and "Sakura" not in r.text
    c.login("yamada01", expect_step="question")
    r = c.post("/answer", {"answer": "秘密の答え"})
    assert "秘密の答え" not in r.text and "ひまわり" not in r.text
    c.answer()
    c.scopes()
    r = c.post("/pins", {"pins": [{"account": c.account_id("2000002"), "pin": "9876"}]})
    assert "9876" not in r.text and "1234" not in r.text
    assert "Hidden-Pass-42" not in sb.log_text() and "秘密の答え" not in sb.log_text()
