"""The sandbox's TLS directory made with GnuTLS's certtool instead of openssl (scripts/mkcerts.sh):
"any standard PEM made with openssl or certtool must work". certtool (Debian gnutls-bin, listed in
scripts/install-deps.sh) makes, non-interactively from --template files, a CA, server certificates
for localhost / 127.0.0.1 with RSA and ECDSA P-256 keys in certtool's default key format and in
PKCS#8, a client CA with client certificates for suzuki03, and a second CA the sandbox does not
trust. Everything is checked over real HTTPS, verified against the certtool CA (never -k)."""

import hashlib
import json
import shutil
import socket
import ssl
import subprocess
from pathlib import Path

import pytest

from conftest import run_curl
from harness.proto import SUZUKI_ACCOUNT, assert_certificate_never_logs_in, metadata, new_consent

ROOT = Path(__file__).resolve().parent.parent.parent
DEMO = ROOT / "sandbox" / "scenarios" / "demo.json"
SUZUKI_SUBJECT = "CN=鈴木花子,O=Renkei Demo Bank,C=JP"  # the demo's suzuki03 certificate entry

CA_TEMPLATE = """\
organization = "renkei"
cn = "{cn}"
serial = {serial}
expiration_days = 3650
ca
cert_signing_key
crl_signing_key
"""

SERVER_TEMPLATE = """\
organization = "renkei"
cn = "localhost"
serial = 8193
expiration_days = 825
dns_name = "localhost"
ip_address = "127.0.0.1"
tls_www_server
signing_key
encryption_key
"""

CLIENT_TEMPLATE = """\
country = "JP"
organization = "Renkei Demo Bank"
cn = "{cn}"
serial = {serial}
expiration_days = 825
tls_www_client
signing_key
encryption_key
"""


def certtool(*args, cwd):
    exe = shutil.which("certtool")
    if not exe:
        pytest.fail("certtool not found: install gnutls-bin (sh scripts/install-deps.sh)")
    r = subprocess.run([exe] + [str(a) for a in args], cwd=str(cwd), stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, "certtool %s failed:\n%s%s" % (" ".join(map(str, args)), r.stdout, r.stderr)
    return r.stdout


def make_key(d, name, algo="rsa", fmt="default"):
    """A private key as certtool writes it. fmt: "default" (certtool's own choice: its text dump,
    then PKCS#1 RSA PRIVATE KEY or SEC 1 EC PRIVATE KEY), "pkcs8" (unencrypted PKCS#8, --password ''),
    "pkcs8-null" (PKCS#8 encrypted under the NULL password, --null-password)."""
    gen = ["--generate-privkey", "--outfile", name]
    if algo == "ecdsa":
        gen += ["--key-type", "ecdsa", "--curve", "secp256r1"]
    else:
        gen += ["--key-type", "rsa", "--bits", "2048"]
    certtool(*gen, cwd=d)
    if fmt != "default":
        pw = ["--password", ""] if fmt == "pkcs8" else ["--null-password"]
        certtool("--to-p8", "--load-privkey", name, *pw, "--outfile", name + ".p8", cwd=d)
        (d / (name + ".p8")).replace(d / name)
    (d / name).chmod(0o600)
    return d / name


def make_ca(d, name, cn, serial):
    make_key(d, name + ".key")
    (d / (name + ".tmpl")).write_text(CA_TEMPLATE.format(cn=cn, serial=serial), encoding="utf-8")
    certtool("--generate-self-signed", "--load-privkey", name + ".key", "--template", name + ".tmpl",
             "--outfile", name + ".crt", cwd=d)
    return d / (name + ".crt")


def issue(d, ca, name, template, algo="rsa", fmt="default"):
    """name.key and name.crt, signed by the CA ca.crt/ca.key in d."""
    make_key(d, name + ".key", algo, fmt)
    (d / (name + ".tmpl")).write_text(template, encoding="utf-8")
    certtool("--generate-certificate", "--load-privkey", name + ".key", "--load-ca-certificate", ca + ".crt",
             "--load-ca-privkey", ca + ".key", "--template", name + ".tmpl", "--outfile", name + ".crt", cwd=d)
    return d / (name + ".crt"), d / (name + ".key")


def der(pem_path):
    return ssl.PEM_cert_to_DER_cert(Path(pem_path).read_text())


def sha256_of(pem_path):
    return hashlib.sha256(der(pem_path)).hexdigest()


@pytest.fixture(scope="module")
def ct(tmp_path_factory):
    """The certtool PKI: CAs and client certificates (server certificates are made per test)."""
    d = tmp_path_factory.mktemp("certtool-pki")
    make_ca(d, "ca", "certtool test CA", 1)
    make_ca(d, "client-ca", "certtool test client CA", 2)
    make_ca(d, "rogue-ca", "certtool rogue CA", 3)
    # suzuki03 as the demo knows it (subject and serial), RSA key in certtool's default format.
    issue(d, "client-ca", "suzuki03", CLIENT_TEMPLATE.format(cn="鈴木花子", serial="0x1003"))
    # A certificate the demo does not know by subject: suzuki03's only through its SHA-256
    # fingerprint in a derived scenario. ECDSA P-256, unencrypted PKCS#8.
    issue(d, "client-ca", "fp", CLIENT_TEMPLATE.format(cn="certtool customer", serial="0x7001"),
          algo="ecdsa", fmt="pkcs8")
    # suzuki03's subject and serial again, from a CA the sandbox does not trust.
    issue(d, "rogue-ca", "rogue", CLIENT_TEMPLATE.format(cn="鈴木花子", serial="0x1003"))
    return d


def tls_dir(ct, tmp_path, algo="rsa", fmt="default", client_ca=True):
    """A --tls-dir: certtool server.crt/server.key (key as algo/fmt) and, if asked, client-ca.crt."""
    d = tmp_path / ("tls-%s-%s" % (algo, fmt))
    d.mkdir()
    shutil.copy2(ct / "ca.crt", d / "ca.crt")
    shutil.copy2(ct / "ca.key", d / "ca.key")
    issue(d, "ca", "server", SERVER_TEMPLATE, algo, fmt)
    if client_ca:
        shutil.copy2(ct / "client-ca.crt", d / "client-ca.crt")
    (d / "ca.key").unlink()
    return d


def start(sandbox, tls, **kw):
    """The sandbox on a certtool TLS directory; its requests verify against the certtool CA."""
    sb = sandbox(tls_dir=tls, **kw)
    sb.cacert = tls / "ca.crt"
    return sb


def scenario_with_fingerprints(path, *certs):
    """The demo scenario whose suzuki03 also owns these certificates by SHA-256 fingerprint."""
    sc = json.loads(DEMO.read_text(encoding="utf-8"))
    (cust,) = [c for c in sc["customers"] if c["login_id"] == "suzuki03"]
    assert cust["certificates"] == [{"subject": SUZUKI_SUBJECT, "serial": "1003"}], cust["certificates"]
    cust["certificates"] += [{"sha256": ":".join(sha256_of(c)[i:i + 2] for i in range(0, 64, 2))}
                             for c in certs]
    path.write_text(json.dumps(sc, ensure_ascii=False, indent=1), encoding="utf-8")
    return path


def cert_login(sb, cert, key):
    """A consent session over this client certificate and a certificate login as suzuki03;
    returns the login's Response (the session must have offered the certificate method)."""
    da, c = new_consent(sb, cert=cert, key=key)
    assert "certificate" in c.data["methods"], c.data
    return c, c.post("/login", {"method": "certificate", "password": "Kaede-2026"})


# --- the server's certificate and key ------------------------------------------------------------

KEY_PEM = {  # the PEM label certtool writes for each (algorithm, format)
    ("rsa", "default"): "RSA PRIVATE KEY", ("ecdsa", "default"): "EC PRIVATE KEY",
    ("rsa", "pkcs8"): "PRIVATE KEY", ("ecdsa", "pkcs8"): "PRIVATE KEY",
    ("rsa", "pkcs8-null"): "ENCRYPTED PRIVATE KEY", ("ecdsa", "pkcs8-null"): "ENCRYPTED PRIVATE KEY",
}


@pytest.mark.parametrize("algo", ["rsa", "ecdsa"])
@pytest.mark.parametrize("fmt", ["default", "pkcs8", "pkcs8-null"])
def test_certtool_server_certificate_and_key(sandbox, ct, tmp_path, algo, fmt):
    tls = tls_dir(ct, tmp_path, algo, fmt, client_ca=False)
    key_text = (tls / "server.key").read_text()
    assert "-----BEGIN %s-----" % KEY_PEM[algo, fmt] in key_text, key_text[:200]
    if fmt == "default":
        assert not key_text.startswith("-----"), "certtool's default key output starts with its text dump"
    sb = start(sandbox, tls)
    # http.client verifying against the certtool CA and the IP address SAN (127.0.0.1).
    md = metadata(sb)
    assert md["issuer"] == sb.url, md
    assert md["device_authorization_endpoint"] == sb.url + "/oauth/device_authorization", md
    # curl (OpenSSL) verifying the same.
    r = run_curl("GET", sb.url + "/.well-known/oauth-authorization-server", cacert=tls / "ca.crt")
    assert r.status == 200 and r.json["issuer"] == sb.url, r
    # The DNS SAN (localhost), and the certificate served is the certtool one.
    ctx = ssl.create_default_context(cafile=str(tls / "ca.crt"))
    with socket.create_connection(("127.0.0.1", sb.port), timeout=10) as s:
        with ctx.wrap_socket(s, server_hostname="localhost") as t:
            assert t.getpeercert(binary_form=True) == der(tls / "server.crt")
    # Another CA's verification refuses it (the check above can fail).
    other = ssl.create_default_context(cafile=str(ct / "rogue-ca.crt"))
    with socket.create_connection(("127.0.0.1", sb.port), timeout=10) as s:
        with pytest.raises(ssl.SSLCertVerificationError):
            other.wrap_socket(s, server_hostname="localhost")


# --- client certificates (mutual TLS) ------------------------------------------------------------

def test_certtool_client_certificate_by_subject_and_serial(sandbox, ct, tmp_path):
    """The built-in demo names suzuki03's certificate by subject and serial: a certtool-made one
    with that subject (UTF-8 CN) and serial from the trusted client CA logs in."""
    sb = start(sandbox, tls_dir(ct, tmp_path))
    c, r = cert_login(sb, ct / "suzuki03.crt", ct / "suzuki03.key")
    assert r.status == 200 and c.step == "scopes", r
    c.scopes(["balance"], expect_step="pins")
    assert [a["number"] for a in c.data["accounts"]] == [SUZUKI_ACCOUNT], c.data


def test_certtool_client_certificate_by_fingerprint(sandbox, ct, tmp_path):
    """A certtool certificate (ECDSA, PKCS#8 key) the demo does not know is unknown there, and logs
    in as suzuki03 with a scenario naming its SHA-256 fingerprint."""
    tls = tls_dir(ct, tmp_path)
    cert, key = ct / "fp.crt", ct / "fp.key"
    sb = start(sandbox, tls)
    c, r = cert_login(sb, cert, key)
    assert r.status == 401 and r.problem == "certificate-unknown", r
    sb = start(sandbox, tls, scenario=scenario_with_fingerprints(tmp_path / "fp.json", cert))
    c, r = cert_login(sb, cert, key)
    assert r.status == 200 and c.step == "scopes", r
    c.scopes(["balance"], expect_step="pins")
    assert [a["number"] for a in c.data["accounts"]] == [SUZUKI_ACCOUNT], c.data


def test_certtool_client_certificate_from_another_ca_is_refused(sandbox, ct, tmp_path):
    """suzuki03's subject and serial, even its fingerprint in the scenario, signed by a CA that is not
    client-ca.crt: the handshake is refused or the login is a 401 certificate problem; never a login."""
    sb = start(sandbox, tls_dir(ct, tmp_path),
               scenario=scenario_with_fingerprints(tmp_path / "rogue.json", ct / "rogue.crt"))
    assert_certificate_never_logs_in(sb, ct / "rogue.crt", ct / "rogue.key")


# --- a broken key ----------------------------------------------------------------------------------

@pytest.mark.parametrize("algo,fmt", [("rsa", "default"), ("ecdsa", "pkcs8")])
def test_truncated_server_key_refuses_to_start(run_sandbox, ct, tmp_path, algo, fmt):
    tls = tls_dir(ct, tmp_path, algo, fmt)
    lines = (tls / "server.key").read_text().splitlines(keepends=True)
    begin = next(i for i, ln in enumerate(lines) if ln.startswith("-----BEGIN"))
    body = lines[begin + 1:-1]
    assert len(body) >= 3 and lines[-1].startswith("-----END"), lines
    (tls / "server.key").write_text("".join(lines[:begin + 1 + len(body) // 2]))  # no END line
    r = run_sandbox(["--listen", "127.0.0.1:0", "--tls-dir", tls])
    assert r.returncode == 1 and r.stdout == "", r
    msg = r.stderr.strip()
    assert msg.count("\n") == 0, "one line expected: %r" % r.stderr
    assert msg.startswith("renkei-sandbox: %s/server.key: " % tls), msg
    assert "damaged or truncated PEM private key" in msg and "server.crt" not in msg, msg
    assert not any(b.strip() in r.stderr for b in body), "key material in the message: %r" % msg


# --- a server certificate outside its validity period ---------------------------------------------

@pytest.mark.parametrize("when,dates,want", [
    ("expired", ("2020-01-01 00:00:00", "2021-01-01 00:00:00"), "expired on 2021-01-01 00:00:00 UTC"),
    ("not-yet-valid", ("2099-01-01 00:00:00", "2100-01-01 00:00:00"), "is not valid before 2099-01-01 00:00:00 UTC"),
])
def test_server_certificate_out_of_date_warns_at_start(sandbox, ct, tmp_path, when, dates, want):
    """The sandbox still starts (a trainer may show what a client does with it) but says so."""
    tls = tls_dir(ct, tmp_path, client_ca=False)
    (tls / "ca.key").write_bytes((ct / "ca.key").read_bytes())
    tmpl = SERVER_TEMPLATE.replace("expiration_days = 825\n",
                                   'activation_date = "%s"\nexpiration_date = "%s"\n' % dates)
    issue(tls, "ca", "server", tmpl)
    (tls / "ca.key").unlink()
    sb = start(sandbox, tls)
    log = sb.log_text()
    assert "renkei-sandbox: warning: %s/server.crt %s" % (tls, want) in log, log
    assert "clients will refuse it" in log
    # and a client verifying it indeed refuses it
    ctx = ssl.create_default_context(cafile=str(tls / "ca.crt"))
    with socket.create_connection(("127.0.0.1", sb.port), timeout=10) as s:
        with pytest.raises(ssl.SSLCertVerificationError):
            ctx.wrap_socket(s, server_hostname="localhost")


def test_server_certificate_in_date_gives_no_warning(sandbox, ct, tmp_path):
    sb = start(sandbox, tls_dir(ct, tmp_path, client_ca=False))
    metadata(sb)
    assert "warning" not in sb.log_text()
