#!/bin/sh
# curl-flow.sh: the yamada01 consent flow the way a bank's own shell tooling would do it, for make
# bench (scripts/bench.py runs it): the same 9 requests, bodies and order as renkei and
# build/bench/flowload, one `curl` process (a new TLS connection) per request.
#
# Usage: curl-flow.sh SERVER CACERT
#   stdin: line 1 the password, line 2 the answer, line 3 "NUMBER=PIN NUMBER=PIN" (demo data; never
#   on a command line: bodies go to curl on its stdin, the bearer in a header file).
# Prints "ok" and exits 0 when the partner got its token; anything else exits 1 with the answer.
set -eu
S=$1 CA=$2
IFS= read -r PASSWORD
IFS= read -r ANSWER
IFS= read -r PINS
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
umask 077
ACCEPT='Accept: application/json, application/problem+json'

field() { # field NAME < JSON: the first string member NAME (the sandbox's answers are one line)
	sed -n 's/.*"'"$1"'":"\([^"]*\)".*/\1/p'
}
pin_of() { # pin_of NUMBER: its PIN from line 3
	for kv in $PINS; do [ "${kv%%=*}" = "$1" ] && { echo "${kv#*=}"; return; }; done
}
form() { # form PATH: a form-encoded POST, body on stdin
	curl -sS --fail-with-body --cacert "$CA" -H "$ACCEPT" -H 'Expect:' --data-binary @- "$S$1"
}
consent() { # consent PATH: a JSON POST with the session's bearer, body on stdin
	curl -sS --fail-with-body --cacert "$CA" -H "$ACCEPT" -H 'Expect:' -H 'Content-Type: application/json' \
	  -H @"$T/auth" --data-binary @- "$S/consent/v1$1"
}

DA=$(printf 'client_id=kakeibo-demo&scope=balance%%20transactions' | form /oauth/device_authorization)
UC=$(echo "$DA" | field user_code)
DC=$(echo "$DA" | field device_code)
KEY=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
: > "$T/auth"
ENV=$(printf '{"user_code":"%s","idempotency_key":"%s"}' "$(echo "$UC" | tr -d -)" "$KEY" | consent /sessions)
printf 'Authorization: Bearer %s\n' "$(echo "$ENV" | field session)" > "$T/auth"
printf '{"method":"password","login_id":"yamada01","password":"%s"}' "$PASSWORD" | consent /session/login >/dev/null
printf '{"answer":"%s"}' "$ANSWER" | consent /session/answer >/dev/null
printf '{"scopes":["balance","transactions"]}' | consent /session/scopes >/dev/null
printf '{"pins":[{"account":"acc-001-2000002","pin":"%s"},{"account":"acc-001-1111111","pin":"%s"}]}' \
  "$(pin_of 2000002)" "$(pin_of 1111111)" | consent /session/pins >/dev/null
printf '{"action":"confirm"}' | consent /session/pin-result >/dev/null
END=$(printf '{"decision":"allow","intent_confirmed":true}' | consent /session/decision)
case $END in *'"step":"done"'*) ;; *) echo "$END"; exit 1 ;; esac
TOK=$(printf 'grant_type=urn%%3Aietf%%3Aparams%%3Aoauth%%3Agrant-type%%3Adevice_code&device_code=%s&client_id=kakeibo-demo' \
  "$DC" | form /oauth/token)
case $TOK in *'"access_token":"'*) echo ok ;; *) echo "$TOK"; exit 1 ;; esac
