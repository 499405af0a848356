# Dokploy control plane: a static Go binary on an empty (scratch) base.
#
#   docker build -t dokploy:latest .          # on a normal server (pulls golang)
#   bash scripts/build-image.sh               # works offline too (local builder, vendored modules)
#
# Run it next to the Docker engine it manages:
#   docker run -d --name dokploy --network host \
#     -v /var/run/docker.sock:/var/run/docker.sock -v dokploy-data:/data dokploy:latest
#
# static/vendor/ (htmx, from `npm ci` in scripts/provision.sh) is gitignored but
# embedded in the binary, so it must exist in the build context.

ARG GO_IMAGE=golang:1.26-bookworm

# ---- build -----------------------------------------------------------------
FROM ${GO_IMAGE} AS build
# Lets scripts/build-image.sh remove this stage's stale intermediate images.
LABEL dokploy.stage=build
ARG VERSION=dev
ENV CGO_ENABLED=0 GOTOOLCHAIN=local GOCACHE=/tmp/go-build
WORKDIR /src

# Module download gets its own cached layer on a normal server. When the
# context ships a vendor/ directory (offline builds), OFFLINE=1 skips it.
ARG OFFLINE=0
COPY go.mod go.sum ./
RUN if [ "$OFFLINE" != 1 ]; then go mod download; fi

COPY . .
RUN test -s static/vendor/htmx.min.js && test -s static/vendor/xterm.js && test -s static/vendor/uPlot.iife.min.js || { echo "static/vendor/htmx.min.js, xterm.js or uPlot.iife.min.js missing: run scripts/provision.sh (npm ci) first" >&2; exit 1; }; \
    if [ -d vendor ]; then MODFLAG=-mod=vendor; else MODFLAG=-mod=readonly; fi; \
    go build $MODFLAG -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/dokploy . \
 && rm -rf /tmp/go-build \
 && mkdir -p /out/data /out/tmp \
 && chmod 0700 /out/data \
 && chmod 1777 /out/tmp

# ---- runtime ---------------------------------------------------------------
FROM scratch
ARG VERSION=dev
LABEL org.opencontainers.image.title=dokploy \
      org.opencontainers.image.description="Dokploy control plane: self-hosted PaaS on Docker Swarm" \
      org.opencontainers.image.version=${VERSION}
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/tmp /tmp
COPY --from=build /out/data /data
COPY --from=build /out/dokploy /dokploy
ENV DOKPLOY_DATA_DIR=/data
VOLUME /data
EXPOSE 3000
ENTRYPOINT ["/dokploy"]
CMD ["serve"]
