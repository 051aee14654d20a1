"""The sandbox's TLS (protocol §1): TLS 1.3, and TLS 1.2 with ECDHE and an AEAD cipher only (forward
secrecy; no RSA key exchange, no CBC, no SHA-1 MAC), checked by handshakes offering one suite each;
--tls-priority changes it, and a priority string GnuTLS refuses is a command line error."""

import socket
import ssl
import warnings

import pytest

# A TLS 1.2 client offering only this suite (OpenSSL names) against the sandbox's RSA test key.
ACCEPTED_12 = ["ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-RSA-CHACHA20-POLY1305"]
REFUSED_12 = ["AES128-GCM-SHA256",            # RSA key exchange: no forward secrecy
              "AES256-SHA",                   # RSA key exchange, CBC, SHA-1
              "ECDHE-RSA-AES128-SHA",         # CBC with SHA-1
              "ECDHE-RSA-AES256-SHA384",      # CBC
              "DHE-RSA-AES128-GCM-SHA256"]    # finite-field DHE


def handshake(sb, cipher=None, version=ssl.TLSVersion.TLSv1_2):
    """(protocol, cipher) the server agreed to, or the SSLError it ended with."""
    ctx = ssl.create_default_context(cafile=str(sb.cacert))
    ctx.minimum_version = ctx.maximum_version = version
    if cipher:
        ctx.set_ciphers(cipher + ":@SECLEVEL=0")
    with socket.create_connection(("127.0.0.1", sb.port), timeout=10) as s:
        try:
            with ctx.wrap_socket(s, server_hostname="127.0.0.1") as t:
                return t.version(), t.cipher()[0]
        except ssl.SSLError as e:
            return e


@pytest.fixture(scope="module")
def default_sb(request, pki, tmp_path_factory):
    import conftest
    wd = tmp_path_factory.mktemp("tls-sandbox")
    (wd / "sandbox0").mkdir()
    sb = conftest.Sandbox([str(conftest.SANDBOX_BIN), "--listen", "127.0.0.1:0", "--tls-dir", str(pki)],
                          wd / "sandbox0", pki, pki, request.node)
    sb._wait_url(10)
    yield sb
    assert sb.stop() == 0


def test_tls13(default_sb):
    got = handshake(default_sb, version=ssl.TLSVersion.TLSv1_3)
    assert not isinstance(got, Exception), got
    assert got[0] == "TLSv1.3"


@pytest.mark.parametrize("cipher", ACCEPTED_12)
def test_tls12_ecdhe_aead_accepted(default_sb, cipher):
    got = handshake(default_sb, cipher)
    assert got == ("TLSv1.2", cipher), got


@pytest.mark.parametrize("cipher", REFUSED_12)
def test_tls12_without_forward_secrecy_or_aead_refused(default_sb, cipher):
    got = handshake(default_sb, cipher)
    assert isinstance(got, ssl.SSLError), got


def test_tls11_refused(default_sb):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(str(default_sb.cacert))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_1
        ctx.set_ciphers("ALL:@SECLEVEL=0")
    except (ValueError, ssl.SSLError):
        pytest.skip("this OpenSSL cannot offer TLS 1.1 at all")
    with socket.create_connection(("127.0.0.1", default_sb.port), timeout=10) as s:
        with pytest.raises(ssl.SSLError):
            ctx.wrap_socket(s, server_hostname="127.0.0.1")


def test_tls_priority_option_changes_it(sandbox):
    sb = sandbox(args=["--tls-priority", "NORMAL:-VERS-ALL:+VERS-TLS1.2:+RSA:+AES-256-CBC:+SHA1"])
    got = handshake(sb, "AES256-SHA")
    assert got == ("TLSv1.2", "AES256-SHA"), got
    assert isinstance(handshake(sb, version=ssl.TLSVersion.TLSv1_3), ssl.SSLError)


@pytest.mark.parametrize("prio,want", [("NORMAL:+NO-SUCH-THING", 'GnuTLS cannot use it from "+NO-SUCH-THING"'),
                                       ("", "needs a value")])
def test_bad_tls_priority_is_a_command_line_error(run_sandbox, prio, want):
    r = run_sandbox(["--tls-priority", prio])
    assert r.returncode == 2 and want in r.stderr, r
