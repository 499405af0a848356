#!/usr/bin/env bash
# build-lint.sh [VERSION] [OUT] -- installs golangci-lint v2 from its Go module (go install through
# the module proxy, no prebuilt download). The binary is cached outside the repository, named by
# version, so later runs reuse it and a version bump builds the new one. Prints the binary's path.
set -euo pipefail
VERSION="${1:-v2.15.0}"
OUT="$(realpath -m "${2:-/var/cache/dokploy/bin/golangci-lint-$VERSION}")"
GOVERSION="$(go env GOVERSION)"

# Reuse the cached binary when it reports the pinned version and was built by this Go
# (a linter built by an older Go refuses a go.mod that needs a newer one).
matches() {
  local v
  v="$("$1" version 2>/dev/null)" || return 1
  [[ "$v" == *"has version ${VERSION#v} "* && "$v" == *"built with $GOVERSION "* ]]
}
if [ -x "$OUT" ] && matches "$OUT"; then echo "$OUT"; exit 0; fi

mkdir -p "$(dirname "$OUT")"
TMPBIN="$(mktemp -d "$(dirname "$OUT")/.golangci-lint-build.XXXXXX")"
trap 'rm -rf "$TMPBIN"' EXIT
# Build outside the repository so its go.mod and GOFLAGS play no part.
cd "$TMPBIN"
GOFLAGS=-buildvcs=false CGO_ENABLED=0 GOBIN="$TMPBIN" \
  go install "github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$VERSION" >&2
if ! matches "$TMPBIN/golangci-lint"; then
  echo "build-lint.sh: built binary does not report version $VERSION built with $GOVERSION:" >&2
  "$TMPBIN/golangci-lint" version >&2 || true
  exit 1
fi
mv -f "$TMPBIN/golangci-lint" "$OUT"
echo "$OUT"
