#!/usr/bin/env bash
# build-image.sh -- builds the dokploy container image (dokploy:latest and
# dokploy:<git short sha>) from ./Dockerfile, also on a machine that cannot
# reach any container registry:
#
#   * Build stage image: $GO_IMAGE if set, else golang:1.26-bookworm when it is
#     already present locally. Otherwise, if this host has a Go toolchain, a
#     local builder image (dokploy-go-builder:local) is made with `docker import`
#     from that toolchain plus a tiny rootfs (static busybox, CA certificates).
#     The public golang tag is never faked. With neither, docker pulls golang.
#   * Modules: with a host Go toolchain the script builds from a temporary
#     context that holds `go mod vendor` output, so nothing is downloaded inside
#     docker (OFFLINE=1). Without one, the Dockerfile downloads modules itself.
#   * Uses BuildKit only when buildx is installed, else the legacy builder.
#
# Safe to run repeatedly: the builder image is reused while its Go version
# matches the host's, and unchanged sources hit docker's layer cache.
# Prints the image size at the end.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
IMAGE="${DOKPLOY_IMAGE:-dokploy}"
PUBLIC_GO_IMAGE="golang:1.26-bookworm"
LOCAL_BUILDER="dokploy-go-builder:local"
export PATH="/usr/local/go/bin:$PATH"

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'build-image: %s\n' "$*" >&2; exit 1; }

docker info >/dev/null 2>&1 || die "docker is not reachable (run scripts/provision.sh)"

# One build at a time on this host (the builder image and tags are shared).
exec 9>"${TMPDIR:-/tmp}/dokploy-build-image.lock"
flock 9

# The htmx assets are gitignored but embedded into the binary.
if [ ! -s "$ROOT/static/vendor/htmx.min.js" ] || [ ! -s "$ROOT/static/vendor/sse.js" ]; then
  log "static/vendor assets missing: running scripts/provision.sh"
  bash "$ROOT/scripts/provision.sh"
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/dokploy-image.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

HOST_GO=""
if command -v go >/dev/null 2>&1; then HOST_GO="$(command -v go)"; fi

# make_local_builder creates $LOCAL_BUILDER from the host's Go toolchain.
make_local_builder() {
  local goroot gover rootfs want have
  goroot="$(go env GOROOT)"
  gover="$(go env GOVERSION)"
  want="DOKPLOY_BUILDER_GO=$gover"
  have="$(docker image inspect -f '{{range .Config.Env}}{{println .}}{{end}}' "$LOCAL_BUILDER" 2>/dev/null || true)"
  if grep -qxF "$want" <<<"$have"; then
    log "reusing $LOCAL_BUILDER ($gover)"
    return
  fi
  if [ ! -x /bin/busybox ]; then
    command -v apt-get >/dev/null || die "/bin/busybox missing (install busybox-static)"
    log "installing busybox-static"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq busybox-static >/dev/null 2>&1 \
      || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq busybox-static >/dev/null; }
  fi
  if ldd /bin/busybox 2>/dev/null | grep -q '=>'; then
    die "/bin/busybox is dynamically linked: install busybox-static"
  fi
  [ -s /etc/ssl/certs/ca-certificates.crt ] || die "/etc/ssl/certs/ca-certificates.crt missing (install ca-certificates)"

  log "creating $LOCAL_BUILDER from $goroot ($gover) + busybox"
  rootfs="$WORK/rootfs"
  mkdir -p "$rootfs"/{bin,etc/ssl/certs,root,tmp,usr/local/go}
  chmod 1777 "$rootfs/tmp"
  cp /bin/busybox "$rootfs/bin/busybox"
  local applet
  for applet in $(/bin/busybox --list); do
    [ -e "$rootfs/bin/$applet" ] || ln -s busybox "$rootfs/bin/$applet"
  done
  cp -L /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"
  printf 'root:x:0:0:root:/root:/bin/sh\n' >"$rootfs/etc/passwd"
  printf 'root:x:0:\n' >"$rootfs/etc/group"
  # The toolchain minus what `go build` never reads (its own test suite, API lists, docs).
  tar -C "$goroot" --exclude=./test --exclude=./api --exclude=./doc -cf - . | tar -C "$rootfs/usr/local/go" -xf -
  tar -C "$rootfs" --numeric-owner --owner=0 --group=0 -cf - . | docker import \
    --change 'ENV PATH=/usr/local/go/bin:/bin' \
    --change 'ENV HOME=/root' \
    --change 'ENV GOPATH=/root/go' \
    --change 'ENV GOTOOLCHAIN=local' \
    --change "ENV DOKPLOY_BUILDER_GO=$gover" \
    --change 'WORKDIR /root' \
    --change 'CMD ["/bin/sh"]' \
    - "$LOCAL_BUILDER" >/dev/null
  rm -rf "$rootfs"
  docker run --rm --network none "$LOCAL_BUILDER" sh -c 'go version >/dev/null' \
    || die "$LOCAL_BUILDER does not run go"
}

# --- build stage image -------------------------------------------------------
if [ -n "${GO_IMAGE:-}" ]; then
  go_image="$GO_IMAGE"
elif docker image inspect "$PUBLIC_GO_IMAGE" >/dev/null 2>&1; then
  go_image="$PUBLIC_GO_IMAGE"
elif [ -n "$HOST_GO" ]; then
  make_local_builder
  go_image="$LOCAL_BUILDER"
else
  go_image="$PUBLIC_GO_IMAGE" # docker build pulls it
fi

# --- build context -----------------------------------------------------------
ctx="$WORK/context"
mkdir -p "$ctx"
tar -C "$ROOT" \
  --exclude=./.git --exclude=./bin --exclude=./tmp --exclude=./e2e --exclude=./vendor \
  --exclude=node_modules --exclude='*_test.go' --exclude='*.test' \
  -cf - . | tar -C "$ctx" -xf -
offline=0
if [ -n "$HOST_GO" ]; then
  log "vendoring modules into the build context"
  (cd "$ctx" && go mod vendor)
  offline=1
fi

version="dev"
tags=(-t "$IMAGE:latest")
if sha="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)"; then
  tags+=(-t "$IMAGE:$sha")
  version="$sha"
  # `dokploy version` owns up to uncommitted changes to tracked files.
  git -C "$ROOT" diff --quiet HEAD -- 2>/dev/null || version="$sha-dirty"
fi

build_flags=()
if docker buildx version >/dev/null 2>&1; then
  export DOCKER_BUILDKIT=1
else
  export DOCKER_BUILDKIT=0 # legacy builder: the installed docker has no buildx
  build_flags+=(--force-rm) # no stopped containers left behind by a failed step
fi

log "building $IMAGE:latest (version $version) with $go_image"
docker build \
  --build-arg "GO_IMAGE=$go_image" \
  --build-arg "VERSION=$version" \
  --build-arg "OFFLINE=$offline" \
  "${tags[@]}" "${build_flags[@]}" \
  -f "$ctx/Dockerfile" "$ctx" 2>"$WORK/build.err" | tee "$WORK/build.out" || status=$?
# Pass docker's stderr on, minus the legacy builder's deprecation banner.
grep -v -e '^DEPRECATED: The legacy builder' -e 'BuildKit is currently disabled' \
  -e '^ *environment-variable\.$' -e '^ *Install the buildx component' -e 'docs.docker.com/go/buildx' \
  -e '^$' "$WORK/build.err" >&2 || true
[ "${status:-0}" = 0 ] || die "docker build failed (exit $status)"

# Remove what earlier builds left untagged (older dokploy images and their
# build-stage images), keeping every layer this build used as its cache.
# Only dangling images carrying this Dockerfile's labels are touched.
keep="$(grep -oE -- '---> [0-9a-f]{12}' "$WORK/build.out" | awk '{ print $2 }' || true)"
keep+=$'\n'"$(docker image inspect -f '{{.Id}}' "$IMAGE:latest" | sed 's/^sha256://' | cut -c1-12)"
for id in $(docker images -q -f dangling=true -f label=dokploy.stage=build) \
  $(docker images -q -f dangling=true -f label=org.opencontainers.image.title=dokploy); do
  grep -qxF "${id:0:12}" <<<"$keep" && continue
  docker image rm "$id" >/dev/null 2>&1 || true
done

size="$(docker image inspect -f '{{.Size}}' "$IMAGE:latest")"
printf 'image %s:latest  %s bytes (%s MB)\n' "$IMAGE" "$size" "$(awk -v s="$size" 'BEGIN { printf "%.1f", s / 1000000 }')"
