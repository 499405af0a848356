#!/usr/bin/env bash
# build-traefik.sh [VERSION] [OUT] -- builds Traefik from its Go module (no registry needed).
# The binary is cached outside the repository so later runs reuse it.
set -euo pipefail
VERSION="${1:-v3.6.12}"
OUT="$(realpath -m "${2:-/var/cache/dokploy/traefik-$VERSION}")"
if [ -x "$OUT" ]; then echo "$OUT"; exit 0; fi
mkdir -p "$(dirname "$OUT")"
MOD="github.com/traefik/traefik/v3"
WORK="$(mktemp -d /tmp/traefik-src.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
export GOFLAGS=-buildvcs=false CGO_ENABLED=0
DIR="$(go mod download -json "$MOD@$VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
cp -r "$DIR/." "$WORK/" && chmod -R u+w "$WORK"
cd "$WORK"
go mod download
go build -trimpath -ldflags "-s -w -X $MOD/pkg/version.Version=$VERSION" -o "$OUT.tmp" ./cmd/traefik
mv "$OUT.tmp" "$OUT"
echo "$OUT"
