#!/bin/sh
# Install the Debian packages renkei needs to build, test and run its demo.
# Every package the project uses is listed here, once. Does nothing when all are present.
# With --bench: only what make bench adds (dialog).
set -eu

PACKAGES="
build-essential pkg-config make gcc clang gettext
libncurses-dev
libcurl4-openssl-dev libssl-dev
libcjson-dev
libp11-dev libengine-pkcs11-openssl libp11-kit-dev
libmicrohttpd-dev libgnutls28-dev
libsqlite3-dev
libcmocka-dev libcrypt-dev whois
openssl gnutls-bin curl ca-certificates
softhsm2 opensc p11-kit
tmux valgrind python3 python3-pytest python3-pexpect
openssh-server openssh-client
debhelper dpkg-dev lintian man-db systemd
python3-jsonschema python3-yaml
"
# node and npm run the project's npm tools (scripts/install-node-tools.sh); a machine that has them
# from elsewhere (e.g. another node build) keeps those.
command -v npm >/dev/null 2>&1 || PACKAGES="$PACKAGES nodejs npm"
NODE_TOOLS="$(dirname "$0")/install-node-tools.sh"
# make bench only (never needed to build, test or run the product): dialog(1), the alternative
# whose start-up and terminal bytes the bench prints beside renkei's. `install-deps.sh --bench`
# installs it and nothing else (no npm tools either).
if [ "${1:-}" = "--bench" ]; then
	PACKAGES="dialog"
	NODE_TOOLS=/dev/null
fi

missing=""
for p in $PACKAGES; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done

if [ -z "$missing" ]; then
	exec sh "$NODE_TOOLS"
fi

echo "install-deps: installing:$missing" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		SUDO="sudo"
	else
		echo "install-deps: these Debian packages are missing and I am not root:$missing" >&2
		exit 1
	fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing
# The tests start sshd(8) themselves on a free loopback port; a system sshd that installing
# openssh-server just enabled would open port 22 on this machine: stop it (kept if it was there).
case " $missing " in
*" openssh-server "*)
	if command -v systemctl >/dev/null 2>&1; then
		$SUDO systemctl disable --now ssh.service ssh.socket >/dev/null 2>&1 || true
	fi ;;
esac
sh "$NODE_TOOLS"
