#!/usr/bin/env bash
# build-traefik-image.sh [VERSION] [BIN] -- makes a local Traefik image when the
# official one cannot be had.
#
# On a real server dokploy runs the official traefik:$VERSION image. Where no
# registry is reachable, this script builds dokploy-traefik:$VERSION FROM scratch
# out of the binary scripts/build-traefik.sh caches (same version, built from
# Traefik's Go module) plus the host's CA bundle (ACME servers are reached over
# HTTPS). It does nothing when traefik:$VERSION is present or can be pulled, or
# when the local image already exists. Prints the image to use.
set -euo pipefail
VERSION="${1:-v3.6.12}"
BIN="${2:-/var/cache/dokploy/traefik-$VERSION}"
LOCAL="dokploy-traefik:$VERSION"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"

log() { printf '==> %s\n' "$*" >&2; }

if docker image inspect "traefik:$VERSION" >/dev/null 2>&1; then echo "traefik:$VERSION"; exit 0; fi
if docker image inspect "$LOCAL" >/dev/null 2>&1; then echo "$LOCAL"; exit 0; fi
if docker pull -q "traefik:$VERSION" >/dev/null 2>&1; then echo "traefik:$VERSION"; exit 0; fi

log "traefik:$VERSION cannot be pulled: building $LOCAL from the Go module"
[ -x "$BIN" ] || bash "$ROOT/scripts/build-traefik.sh" "$VERSION" "$BIN" >/dev/null
[ -s /etc/ssl/certs/ca-certificates.crt ] || { echo "build-traefik-image: /etc/ssl/certs/ca-certificates.crt missing (install ca-certificates)" >&2; exit 1; }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/dokploy-traefik-image.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
cp "$BIN" "$WORK/traefik"
mkdir -p "$WORK/etc/ssl/certs" "$WORK/tmp"
cp -L /etc/ssl/certs/ca-certificates.crt "$WORK/etc/ssl/certs/ca-certificates.crt"
# ENTRYPOINT matches the official image's behaviour for "--flag" arguments,
# so the control plane starts either image with the same command.
cat >"$WORK/Dockerfile" <<EOF
FROM scratch
COPY traefik /traefik
COPY etc /etc
COPY tmp /tmp
LABEL org.opencontainers.image.title=traefik org.opencontainers.image.version=$VERSION dokploy.traefik.local=true
EXPOSE 80 443 8080
ENTRYPOINT ["/traefik"]
EOF
if docker buildx version >/dev/null 2>&1; then export DOCKER_BUILDKIT=1; else export DOCKER_BUILDKIT=0; fi
docker build -q -t "$LOCAL" "$WORK" >/dev/null 2> >(grep -v -e 'DEPRECATED' -e 'BuildKit' -e 'buildx' -e 'environment-variable' -e '^$' >&2 || true)
docker run --rm --network none "$LOCAL" version >/dev/null
log "built $LOCAL"
echo "$LOCAL"
