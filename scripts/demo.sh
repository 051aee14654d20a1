#!/bin/sh
# make demo: the whole flow for a newcomer.
#  1. makes the test PKI (build/test-pki) and starts build/renkei-sandbox on a free loopback port;
#  2. plays the partner app "kakeibo-demo" with curl: RFC 8628 device authorization;
#  3. runs build/renkei (the customer's side) in this terminal while the partner polls the token
#     endpoint in the background (log: build/demo/partner.log);
#  4. shows what the partner received and, with a token, the accounts and balances it can read.
# Without a terminal (CI=true, or stdin/stdout not a tty) it shows the partner side, cancels the
# request through the consent API (the partner then gets access_denied) and exits 0.
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
B=${B:-build}
PKI=$B/test-pki
WORK=$B/demo
PY=/usr/bin/python3
CLIENT=kakeibo-demo
SCOPE="balance transactions"

mkdir -p "$WORK"
rm -f "$WORK/token.json" "$WORK/auth.hdr"
SB_PID=""
POLL_PID=""
cleanup() {
	if [ -n "$POLL_PID" ]; then kill "$POLL_PID" 2>/dev/null || true; fi
	rm -f "$WORK/auth.hdr"
	if [ -n "$SB_PID" ]; then
		kill "$SB_PID" 2>/dev/null || true
		wait "$SB_PID" 2>/dev/null || true
	fi
	SB_PID=""
	POLL_PID=""
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

bold() { if [ -t 1 ]; then printf '\033[1m%s\033[0m\n' "$*"; else printf '%s\n' "$*"; fi; }
say() { printf '%s\n' "$*"; }
die() { printf 'demo: %s\n' "$*" >&2; exit 1; }

# json FIELD < json: one top-level member, printed as text ("" when absent).
json() { "$PY" -c 'import json,sys
try: v=json.load(sys.stdin).get(sys.argv[1], "")
except Exception: v=""
print(v if not isinstance(v,(dict,list)) else json.dumps(v,ensure_ascii=False))' "$1"; }

interactive=yes
if [ "${CI:-}" = true ] || [ ! -t 0 ] || [ ! -t 1 ]; then interactive=no; fi

[ -x "$B/renkei-sandbox" ] || die "$B/renkei-sandbox is missing: run make first"
sh scripts/mkcerts.sh "$PKI" >/dev/null || die "could not make the test PKI in $PKI"

# --- the bank -----------------------------------------------------------------------------------
: >"$WORK/sandbox.out"
"$B/renkei-sandbox" --listen 127.0.0.1:0 --tls-dir "$PKI" >"$WORK/sandbox.out" 2>"$WORK/sandbox.log" </dev/null &
SB_PID=$!
URL=""
i=0
while [ $i -lt 200 ]; do # up to 10 s
	URL=$(head -n 1 "$WORK/sandbox.out" 2>/dev/null || true)
	case "$URL" in https://*:[0-9]*) break ;; esac
	URL=""
	kill -0 "$SB_PID" 2>/dev/null || { cat "$WORK/sandbox.log" >&2; die "the sandbox did not start"; }
	sleep 0.05
	i=$((i + 1))
done
[ -n "$URL" ] || die "the sandbox printed no URL (log: $WORK/sandbox.log)"

CURL="curl -sS --cacert $PKI/ca.crt --max-time 10"
bold "== The bank: renkei-sandbox at $URL (pid $SB_PID, log $WORK/sandbox.log)"

META=$($CURL "$URL/.well-known/oauth-authorization-server") || die "no metadata from the sandbox"
DEV_EP=$(printf '%s' "$META" | json device_authorization_endpoint)
TOKEN_EP=$(printf '%s' "$META" | json token_endpoint)
[ -n "$DEV_EP" ] && [ -n "$TOKEN_EP" ] || die "metadata without device_authorization_endpoint/token_endpoint: $META"

# --- the partner asks -----------------------------------------------------------------------------
DA=$($CURL -X POST --data-urlencode "client_id=$CLIENT" --data-urlencode "scope=$SCOPE" "$DEV_EP") ||
	die "device authorization failed"
DEVICE_CODE=$(printf '%s' "$DA" | json device_code)
USER_CODE=$(printf '%s' "$DA" | json user_code)
VERIFY_URI=$(printf '%s' "$DA" | json verification_uri)
EXPIRES=$(printf '%s' "$DA" | json expires_in)
INTERVAL=$(printf '%s' "$DA" | json interval)
[ -n "$DEVICE_CODE" ] && [ -n "$USER_CODE" ] || die "device authorization answer without codes: $DA"
[ -n "$INTERVAL" ] || INTERVAL=5

say ""
bold "== The partner app (デモ家計簿 / $CLIENT) asked the bank for: $SCOPE"
say "   +-----------------------------------------------------------+"
say "   |  Please authorize this app at your bank.                  |"
printf '   |  Code / 認証コード:  %-37s|\n' "$USER_CODE"
printf '   |  Where / 手続き先:   %-37s|\n' "renkei (branch counter or kiosk)"
say "   +-----------------------------------------------------------+"
say "   verification_uri: $VERIFY_URI   expires_in: ${EXPIRES}s   interval: ${INTERVAL}s"
say ""

# One token request; prints the JSON answer.
token_request() {
	$CURL -X POST --data-urlencode "grant_type=urn:ietf:params:oauth:grant-type:device_code" \
		--data-urlencode "device_code=$DEVICE_CODE" --data-urlencode "client_id=$CLIENT" "$TOKEN_EP"
}

# The partner's polling loop (RFC 8628 §3.4-3.5), run in the background; final answer in $WORK/token.json.
poll() {
	iv=$INTERVAL
	while :; do
		sleep "$iv"
		ans=$(token_request 2>&1) || { say "$(date +%T) request failed: $ans"; continue; }
		err=$(printf '%s' "$ans" | json error)
		say "$(date +%T) token endpoint: ${err:-access token issued}"
		case "$err" in
		authorization_pending) ;;
		slow_down) iv=$((iv + 5)) ;;
		*) printf '%s\n' "$ans" >"$WORK/token.json.tmp" && mv "$WORK/token.json.tmp" "$WORK/token.json"
		   return 0 ;;
		esac
	done
}

first=$(token_request) || die "token request failed"
say "Partner polls the token endpoint: $(printf '%s' "$first" | json error) (no decision yet)"

show_result() {
	ans=$(cat "$WORK/token.json")
	err=$(printf '%s' "$ans" | json error)
	say ""
	if [ -n "$err" ]; then
		bold "== The partner received: error \"$err\" (nothing was granted)"
		return 0
	fi
	# The token goes to curl in a header file, not on its command line.
	(umask 077 && printf 'Authorization: Bearer %s\n' "$(printf '%s' "$ans" | json access_token)" >"$WORK/auth.hdr")
	bold "== The partner received an access token (scope: $(printf '%s' "$ans" | json scope),"
	bold "   expires_in: $(printf '%s' "$ans" | json expires_in)s, with a refresh token)"
	accounts=$($CURL -H "@$WORK/auth.hdr" "$URL/v1/accounts")
	say "GET /v1/accounts:"
	printf '%s' "$accounts" | "$PY" -c 'import json,sys
d=json.load(sys.stdin)
for a in d.get("accounts",[]):
    print("   %s  %s(%s) %s %s" % (a["id"], a["branch"]["name"]["ja"], a["branch"]["code"], a["type"], a["number"]))'
	for id in $(printf '%s' "$accounts" | "$PY" -c 'import json,sys
for a in json.load(sys.stdin).get("accounts",[]): print(a["id"])'); do
		bal=$($CURL -H "@$WORK/auth.hdr" "$URL/v1/accounts/$id/balances")
		printf '%s' "$bal" | "$PY" -c 'import json,sys
d=json.load(sys.stdin)
if "balances" not in d:
    print("   GET /v1/accounts/%s/balances: %s" % (sys.argv[1], d.get("type", d))); sys.exit(0)
for b in d["balances"]:
    print("   GET /v1/accounts/%s/balances: %s %s %s (as of %s)" % (sys.argv[1], b["type"], b["amount"], b["currency"], b.get("as_of","")))' "$id"
	done
}

if [ ! -x "$B/renkei" ]; then
	say "$B/renkei is not built yet: the customer's side cannot run. Once it exists, 'make demo'"
	say "runs it here with: $B/renkei --server $URL --cacert $PKI/ca.crt --user-code $USER_CODE"
	exit 0
fi

if [ "$interactive" = no ]; then
	say "No terminal (CI or not a tty): the customer's side is not run. Cancelling the request through"
	say "the consent API as a customer at the counter would (DELETE /consent/v1/session)."
	S=$($CURL -X POST -H 'Content-Type: application/json' --data-binary "{\"user_code\":\"$USER_CODE\"}" \
		"$URL/consent/v1/sessions") || die "could not start a consent session"
	SESSION=$(printf '%s' "$S" | json session)
	[ -n "$SESSION" ] || die "no consent session: $S"
	$CURL -X DELETE -H "Authorization: Bearer $SESSION" "$URL/consent/v1/session" >/dev/null ||
		die "cancel failed"
	say "The partner polls again after its interval..."
	poll
	show_result
	say ""
	say "Run 'make demo' in a terminal to go through the customer's screens with renkei."
	exit 0
fi

say "Demo customers (sandbox data, docs: shared design demo-scenario):"
say "   yamada01 / Sakura-2026  (answer ひまわり証券; PINs 1234, 5678)"
say "   sato02   / Momiji-2026  (no question, PIN already registered)"
say "   suzuki03 / Kaede-2026   (電子証明書方式, token PIN 123456; PIN 2468)"
say "   tanaka04 / Ume-2026     (locked)"
say ""
printf 'Press Enter to open renkei, the customer'"'"'s side, with this code... '
read -r _ || true

# The demo smart card: a SoftHSM2 token of our own (never the system's) with suzuki03's certificate.
P11_ARGS=""
if [ -f /usr/lib/softhsm/libsofthsm2.so ] &&
	TOK=$(sh scripts/mktoken.sh "$PKI" "$WORK/token" 2>"$WORK/token.log" | tail -n 1); then
	export "${TOK?}"
	P11_ARGS="--pkcs11-module /usr/lib/softhsm/libsofthsm2.so"
else
	say "(the demo token could not be made, see $WORK/token.log: certificate login will say so)"
fi

poll >"$WORK/partner.log" 2>&1 &
POLL_PID=$!
set +e
# shellcheck disable=SC2086
"$B/renkei" --server "$URL" --cacert "$PKI/ca.crt" --user-code "$USER_CODE" $P11_ARGS
rc=$?
set -e
say ""
say "renkei exited with status $rc. Waiting for the partner's next poll (log: $WORK/partner.log)..."
i=0
while [ ! -f "$WORK/token.json" ] && kill -0 "$POLL_PID" 2>/dev/null && [ $i -lt $(( (INTERVAL * 2 + 10) * 10 )) ]; do
	sleep 0.1
	i=$((i + 1))
done
if [ -f "$WORK/token.json" ]; then
	show_result
else
	say "The partner has no answer yet (no decision was made): its code stays valid until it expires."
fi
