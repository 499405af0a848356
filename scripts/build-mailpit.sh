#!/usr/bin/env bash
# build-mailpit.sh [OUT] -- builds the Mailpit SMTP test server from its Go module into the cache, once.
# Mailpit is only the SMTP server (with an HTTP API to read messages) the notification tests
# talk to; it is never linked into dokploy.
# Parallel callers wait on a lock instead of building it twice; a finished binary is reused.
set -euo pipefail
MOD="github.com/axllent/mailpit@v1.33.1"
OUT="$(realpath -m "${1:-/var/cache/dokploy/bin/mailpit}")"
if [ -x "$OUT" ]; then echo "$OUT"; exit 0; fi

mkdir -p "$(dirname "$OUT")"
exec 9>"$OUT.lock"
flock 9
# Another caller may have finished the build while this one waited for the lock.
if [ -x "$OUT" ]; then echo "$OUT"; exit 0; fi

TMPBIN="$(mktemp -d "$(dirname "$OUT")/.mailpit-build.XXXXXX")"
trap 'rm -rf "$TMPBIN"' EXIT
# Build outside the repository so its go.mod plays no part; install into a
# temporary directory and rename, so an interrupted build leaves no half binary.
cd "$TMPBIN"
echo "build-mailpit.sh: building $MOD (takes a few minutes the first time)" >&2
GOFLAGS=-buildvcs=false CGO_ENABLED=0 GOBIN="$TMPBIN" go install "$MOD" >&2
mv -f "$TMPBIN/mailpit" "$OUT"
echo "$OUT"
