#!/bin/sh
# Make the test PKI for the sandbox, the tests and the demo (never committed).
#   sh scripts/mkcerts.sh DIR
# Does nothing when DIR is already complete. Otherwise builds everything in a temporary directory
# beside DIR and renames it into place, so a half-made DIR is never left behind.
#
# DIR/ca.crt ca.key                 test CA ("renkei test CA"), signs the server certificate
# DIR/server.crt server.key         localhost / 127.0.0.1, 825 days
# DIR/client-ca.crt client-ca.key   CA for client certificates ("renkei test client CA")
# DIR/clients/suzuki03.crt .key     CN=鈴木花子, serial 0x1003, now + 825 days, clientAuth
# DIR/clients/suzuki03-expired.*    same subject, serial 0x1004, 2020-01-01 .. 2021-01-01
# DIR/clients/unknown.crt .key      CN=名無し太郎, serial 0x1005, maps to no customer
# DIR/clients/rogue.crt .key        suzuki03's subject, issued by an untrusted CA
set -eu

if [ $# -ne 1 ] || [ -z "$1" ]; then
	echo "usage: mkcerts.sh DIR" >&2
	exit 2
fi
DIR=${1%/}
SUBJ_SUZUKI='/C=JP/O=Renkei Demo Bank/CN=鈴木花子'
SUBJ_UNKNOWN='/C=JP/O=Renkei Demo Bank/CN=名無し太郎'
FILES="ca.crt ca.key server.crt server.key client-ca.crt client-ca.key
clients/suzuki03.crt clients/suzuki03.key clients/suzuki03-expired.crt clients/suzuki03-expired.key
clients/unknown.crt clients/unknown.key clients/rogue.crt clients/rogue.key"

is_complete() {
	[ -f "$1/.complete" ] || return 1
	for f in $FILES; do
		[ -s "$1/$f" ] || return 1
	done
	return 0
}

if is_complete "$DIR"; then
	echo "mkcerts: $DIR (already complete)"
	exit 0
fi

command -v openssl >/dev/null 2>&1 || { echo "mkcerts: openssl not found" >&2; exit 1; }

parent=$(dirname "$DIR")
mkdir -p "$parent"
umask 077
T=$(mktemp -d "$DIR.tmp.XXXXXX")
W="$T/.work"
mkdir -p "$T/clients" "$W"
LOG="$W/openssl.log"
trap 'rm -rf "$T"' EXIT
trap 'exit 1' HUP INT TERM

ossl() {
	if ! openssl "$@" >>"$LOG" 2>&1; then
		echo "mkcerts: openssl $1 failed:" >&2
		cat "$LOG" >&2
		exit 1
	fi
}

key() {
	ossl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1"
	chmod 600 "$1"
}

# Extensions used when signing.
cat >"$W/ext.cnf" <<'EOF'
[ server ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid, issuer

[ client ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid, issuer
EOF

ca() { # ca KEY CRT SUBJECT
	key "$1"
	ossl req -new -x509 -utf8 -sha256 -days 3650 -key "$1" -out "$2" -subj "$3" \
		-addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" \
		-addext "subjectKeyIdentifier=hash"
}

issue() { # issue CAKEY CACRT NAME SUBJECT SERIAL EXTSECTION DAYS
	key "$T/$3.key"
	ossl req -new -utf8 -sha256 -key "$T/$3.key" -out "$W/$(basename "$3").csr" -subj "$4"
	ossl x509 -req -sha256 -in "$W/$(basename "$3").csr" -CA "$2" -CAkey "$1" -set_serial "$5" \
		-days "$7" -extfile "$W/ext.cnf" -extensions "$6" -out "$T/$3.crt"
}

# Server side.
ca "$T/ca.key" "$T/ca.crt" '/O=renkei/CN=renkei test CA'
issue "$T/ca.key" "$T/ca.crt" server '/O=renkei/CN=localhost' 0x2001 server 825

# Client certificates.
ca "$T/client-ca.key" "$T/client-ca.crt" '/O=renkei/CN=renkei test client CA'
issue "$T/client-ca.key" "$T/client-ca.crt" clients/suzuki03 "$SUBJ_SUZUKI" 0x1003 client 825
issue "$T/client-ca.key" "$T/client-ca.crt" clients/unknown "$SUBJ_UNKNOWN" 0x1005 client 825

# The expired one: x509 -req cannot backdate, openssl ca can.
mkdir -p "$W/ca/new"
: >"$W/ca/index.txt"
echo 1004 >"$W/ca/serial"
cat >"$W/ca.cnf" <<EOF
[ ca ]
default_ca = client_ca
[ client_ca ]
dir = $W/ca
database = \$dir/index.txt
new_certs_dir = \$dir/new
serial = \$dir/serial
certificate = $T/client-ca.crt
private_key = $T/client-ca.key
default_md = sha256
policy = policy_any
unique_subject = no
copy_extensions = none
x509_extensions = client
[ policy_any ]
countryName = optional
organizationName = optional
commonName = supplied
[ client ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid, issuer
EOF
key "$T/clients/suzuki03-expired.key"
ossl req -new -utf8 -sha256 -key "$T/clients/suzuki03-expired.key" -out "$W/expired.csr" -subj "$SUBJ_SUZUKI"
ossl ca -batch -utf8 -preserveDN -notext -config "$W/ca.cnf" -in "$W/expired.csr" \
	-startdate 20200101000000Z -enddate 20210101000000Z -out "$T/clients/suzuki03-expired.crt"

# The rogue one: same subject and serial as suzuki03, from a CA the sandbox does not trust.
ca "$W/rogue-ca.key" "$W/rogue-ca.crt" '/O=renkei/CN=renkei rogue CA'
issue "$W/rogue-ca.key" "$W/rogue-ca.crt" clients/rogue "$SUBJ_SUZUKI" 0x1003 client 825

rm -rf "$W"
chmod 644 "$T"/*.crt "$T"/clients/*.crt
chmod 700 "$T" "$T/clients"
: >"$T/.complete"

# Into place. Another run may have finished first: then keep its result.
if [ -e "$DIR" ]; then
	if is_complete "$DIR"; then
		echo "mkcerts: $DIR (already complete)"
		exit 0
	fi
	rm -rf "$DIR"
fi
if ! mv -T "$T" "$DIR" 2>/dev/null; then
	is_complete "$DIR" || { echo "mkcerts: could not move $T to $DIR" >&2; exit 1; }
fi
trap - EXIT
echo "mkcerts: $DIR"
