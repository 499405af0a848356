#!/usr/bin/env bash
# build-go-tool.sh MODULE@VERSION OUT -- builds a test server (MinIO, Mailpit) from its Go module
# into the cache, once. These are only servers the tests talk to; none is linked into dokploy.
# Parallel callers wait on a lock instead of building it twice; a finished binary is reused.
set -euo pipefail
MOD="${1:?usage: build-go-tool.sh MODULE@VERSION OUT}"
OUT="$(realpath -m "${2:?usage: build-go-tool.sh MODULE@VERSION OUT}")"
NAME="$(basename "${MOD%@*}")"
if [ -x "$OUT" ]; then echo "$OUT"; exit 0; fi

mkdir -p "$(dirname "$OUT")"
exec 9>"$OUT.lock"
flock 9
# Another caller may have finished the build while this one waited for the lock.
if [ -x "$OUT" ]; then echo "$OUT"; exit 0; fi

TMPBIN="$(mktemp -d "$(dirname "$OUT")/.$NAME-build.XXXXXX")"
trap 'rm -rf "$TMPBIN"' EXIT
# Build outside the repository so its go.mod plays no part; install into a
# temporary directory and rename, so an interrupted build leaves no half binary.
cd "$TMPBIN"
echo "build-go-tool.sh: building $MOD (takes a few minutes the first time)" >&2
GOFLAGS=-buildvcs=false CGO_ENABLED=0 GOBIN="$TMPBIN" go install "$MOD" >&2
mv -f "$TMPBIN/$NAME" "$OUT"
echo "$OUT"
