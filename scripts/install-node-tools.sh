#!/bin/sh
# Install the project's npm tools, pinned by tools/node/package-lock.json, into
# tools/node/node_modules (never globally): the OpenAPI linter (@redocly/cli) that
# tests/sandbox/test_openapi.py runs on docs/openapi.yaml. Called by scripts/install-deps.sh; does
# nothing when node_modules already matches the lock file. Needs the npm registry only here: the
# tools then run offline.
set -eu
cd "$(dirname "$0")/../tools/node"
stamp=node_modules/.renkei-lock
if [ -x node_modules/.bin/redocly ] && [ -f "$stamp" ] && cmp -s package-lock.json "$stamp"; then
	exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
	echo "install-node-tools: npm is missing (scripts/install-deps.sh installs it)" >&2
	exit 1
fi
echo "install-node-tools: npm ci in tools/node" >&2
npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
cp package-lock.json "$stamp"
