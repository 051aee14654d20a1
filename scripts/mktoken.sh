#!/bin/sh
# Make a SoftHSM2 demo token (a "smart card") from the test PKI, in a private token store.
#   sh scripts/mktoken.sh PKI_DIR TOKEN_DIR [LABEL [NAME...]]
#
# PKI_DIR    made by scripts/mkcerts.sh (PKI_DIR/clients/NAME.crt + NAME.key)
# TOKEN_DIR  gets softhsm2.conf and tokens/ (mode 700); the system's SoftHSM store is never used
# LABEL      token label, default renkei-demo
# NAME...    the key + certificate pairs put on the token, CKA_ID 01, 02, ... in this order,
#            object label NAME. Default: for renkei-demo "suzuki03 suzuki03-expired",
#            for any other label "unknown".
#
# User PIN 123456, SO PIN 12345678. Several labels can live in the same TOKEN_DIR (two tokens at
# once): call the script once per label. A token that already holds exactly the wanted objects is
# left alone; otherwise it is deleted and rebuilt. The last line printed is
#   SOFTHSM2_CONF=TOKEN_DIR/softhsm2.conf
set -eu

USER_PIN=123456
SO_PIN=12345678

if [ $# -lt 2 ] || [ -z "$1" ] || [ -z "$2" ]; then
	echo "usage: mktoken.sh PKI_DIR TOKEN_DIR [LABEL [NAME...]]" >&2
	exit 2
fi
PKI=${1%/}
TDIR=${2%/}
LABEL=${3:-renkei-demo}
[ $# -ge 3 ] && shift 3 || shift $#
if [ $# -gt 0 ]; then
	NAMES="$*"
elif [ "$LABEL" = renkei-demo ]; then
	NAMES="suzuki03 suzuki03-expired"
else
	NAMES="unknown"
fi

MODULE=${SOFTHSM2_MODULE:-}
if [ -z "$MODULE" ]; then
	for m in /usr/lib/softhsm/libsofthsm2.so /usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so \
		/usr/lib64/pkcs11/libsofthsm2.so /usr/lib/pkcs11/libsofthsm2.so /usr/local/lib/softhsm/libsofthsm2.so; do
		if [ -f "$m" ]; then MODULE=$m; break; fi
	done
fi
[ -n "$MODULE" ] || { echo "mktoken: libsofthsm2.so not found (install softhsm2)" >&2; exit 1; }
for t in softhsm2-util pkcs11-tool openssl; do
	command -v "$t" >/dev/null 2>&1 || { echo "mktoken: $t not found" >&2; exit 1; }
done
for n in $NAMES; do
	for ext in crt key; do
		[ -s "$PKI/clients/$n.$ext" ] || { echo "mktoken: $PKI/clients/$n.$ext missing (run scripts/mkcerts.sh $PKI)" >&2; exit 1; }
	done
done

umask 077
mkdir -p "$TDIR/tokens"
chmod 700 "$TDIR" "$TDIR/tokens"
TDIR=$(cd "$TDIR" && pwd)
CONF="$TDIR/softhsm2.conf"
cat >"$CONF.tmp.$$" <<EOF
# Written by renkei scripts/mktoken.sh: a private SoftHSM2 store for the demo and the tests.
directories.tokendir = $TDIR/tokens
objectstore.backend = file
log.level = ERROR
slots.removable = false
EOF
mv -f "$CONF.tmp.$$" "$CONF"
SOFTHSM2_CONF=$CONF
export SOFTHSM2_CONF

LOG=$(mktemp "$TDIR/.mktoken.log.XXXXXX")
W=$(mktemp -d "$TDIR/.mktoken.work.XXXXXX")
trap 'rm -rf "$W" "$LOG"' EXIT
trap 'exit 1' HUP INT TERM

run() {
	if ! "$@" >>"$LOG" 2>&1; then
		echo "mktoken: $1 failed:" >&2
		cat "$LOG" >&2
		exit 1
	fi
}

# "SLOT SERIAL" of the initialized token whose label is exactly LABEL (pkcs11-tool's
# --token-label matches a prefix: renkei-demo would also pick renkei-demo2, so use --slot).
find_token() {
	softhsm2-util --show-slots 2>/dev/null | awk -v want="$LABEL" '
		/^Slot [0-9]+/ { slot = $2; serial = ""; next }
		/^[[:space:]]*Serial number:/ { serial = $3; next }
		/^[[:space:]]*Label:/ {
			sub(/^[[:space:]]*Label:[[:space:]]*/, ""); sub(/[[:space:]]+$/, "")
			if ($0 == want && serial != "") { print slot, serial; exit }
		}'
}

# The objects the token should hold, one "type id label" line each, sorted.
want=""
i=0
for n in $NAMES; do
	i=$((i + 1))
	id=$(printf '%02x' "$i")
	want="$want
cert $id $n
priv $id $n"
done
want=$(printf '%s\n' "$want" | sed '/^$/d' | sort)

have_objects() {
	pkcs11-tool --module "$MODULE" --slot "$1" --login --pin "$USER_PIN" --list-objects 2>/dev/null |
	awk '
		/^Certificate Object/ { t = "cert"; next }
		/^Private Key Object/ { t = "priv"; next }
		/^[A-Za-z].*Object/   { t = ""; next }
		t != "" && /^[[:space:]]*label:/ { sub(/^[[:space:]]*label:[[:space:]]*/, ""); l[t] = $0 }
		t != "" && /^[[:space:]]*ID:/ { id = $2; print t, id, l[t]; t = "" }
	' | sort
}

found=$(find_token)
if [ -n "$found" ]; then
	if [ "$(have_objects "${found%% *}")" = "$want" ]; then
		echo "mktoken: token $LABEL in $TDIR (already complete)"
		echo "SOFTHSM2_CONF=$CONF"
		exit 0
	fi
	run softhsm2-util --delete-token --serial "${found#* }"
fi

run softhsm2-util --init-token --free --label "$LABEL" --so-pin "$SO_PIN" --pin "$USER_PIN"
found=$(find_token)
[ -n "$found" ] || { echo "mktoken: token $LABEL not found after init" >&2; exit 1; }
SLOT=${found%% *}

i=0
for n in $NAMES; do
	i=$((i + 1))
	id=$(printf '%02x' "$i")
	run openssl pkcs8 -topk8 -nocrypt -in "$PKI/clients/$n.key" -outform DER -out "$W/$n.key.der"
	run openssl x509 -in "$PKI/clients/$n.crt" -outform DER -out "$W/$n.crt.der"
	run pkcs11-tool --module "$MODULE" --slot "$SLOT" --login --pin "$USER_PIN" \
		--write-object "$W/$n.key.der" --type privkey --id "$id" --label "$n"
	run pkcs11-tool --module "$MODULE" --slot "$SLOT" --login --pin "$USER_PIN" \
		--write-object "$W/$n.crt.der" --type cert --id "$id" --label "$n"
done

if [ "$(have_objects "$SLOT")" != "$want" ]; then
	echo "mktoken: token $LABEL does not hold the expected objects after import" >&2
	exit 1
fi
echo "mktoken: token $LABEL in $TDIR ($NAMES)"
echo "SOFTHSM2_CONF=$CONF"
