#!/usr/bin/env bash
# provision.sh -- installs and starts everything dokploy needs on a Debian host:
# Docker engine in swarm mode with the dokploy-network overlay, a PostgreSQL and a
# Redis bound to loopback with their data under $DOKPLOY_DATA_DIR, and the npm assets.
# Safe to run again: every step checks first and reuses what exists.
set -euo pipefail

DATA_DIR="${DOKPLOY_DATA_DIR:-/var/lib/dokploy}"
PG_PORT="${DOKPLOY_PG_PORT:-5432}"
REDIS_PORT="${DOKPLOY_REDIS_PORT:-6379}"
ADVERTISE_ADDR="${DOKPLOY_ADVERTISE_ADDR:-127.0.0.1}"
WITH_TEST_TOOLS="${WITH_TEST_TOOLS:-0}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"

log() { printf '==> %s\n' "$*"; }

need_pkgs=()
command -v dockerd >/dev/null || need_pkgs+=(docker.io)
command -v ip >/dev/null || need_pkgs+=(iproute2) # network namespaces of the two-engine swarm test
[ -x /usr/lib/postgresql/15/bin/initdb ] || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need_pkgs+=(postgresql)
command -v redis-server >/dev/null || need_pkgs+=(redis-server)
command -v npm >/dev/null || need_pkgs+=(npm)
command -v git >/dev/null || need_pkgs+=(git)
[ -e /etc/ssl/certs/ca-certificates.crt ] || need_pkgs+=(ca-certificates)
if [ "$WITH_TEST_TOOLS" = 1 ]; then
  command -v chromium >/dev/null || need_pkgs+=(chromium)
  [ -x /bin/busybox ] || need_pkgs+=(busybox-static)
fi
if [ ${#need_pkgs[@]} -gt 0 ]; then
  log "installing ${need_pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
fi

mkdir -p "$DATA_DIR"

# --- Docker engine, swarm, overlay network --------------------------------
if ! docker info >/dev/null 2>&1; then
  log "starting dockerd"
  nohup dockerd >/var/log/dokploy-dockerd.log 2>&1 &
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
  docker info >/dev/null 2>&1 || { echo "dockerd did not start; see /var/log/dokploy-dockerd.log" >&2; exit 1; }
fi
if [ "$(docker info --format '{{.Swarm.LocalNodeState}}')" != "active" ]; then
  log "initialising swarm (advertise $ADVERTISE_ADDR)"
  docker swarm init --advertise-addr "$ADVERTISE_ADDR" >/dev/null
fi
if ! docker network inspect dokploy-network >/dev/null 2>&1; then
  log "creating overlay network dokploy-network"
  docker network create --driver overlay --attachable dokploy-network >/dev/null
fi

# --- PostgreSQL on loopback -------------------------------------------------
PG_BIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
PG_DATA="$DATA_DIR/postgres"
if ! "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"; then
  if [ ! -s "$PG_DATA/PG_VERSION" ]; then
    log "initialising PostgreSQL in $PG_DATA"
    mkdir -p "$PG_DATA" && chown postgres:postgres "$PG_DATA" && chmod 700 "$PG_DATA"
    runuser -u postgres -- "$PG_BIN/initdb" -D "$PG_DATA" -U postgres --auth-local=trust --auth-host=scram-sha-256 >/dev/null
  fi
  log "starting PostgreSQL on 127.0.0.1:$PG_PORT"
  runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_DATA/server.log" -w \
    -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k /tmp" start >/dev/null
fi
# Our cluster listens on a socket in /tmp; a cluster the distribution started
# itself (Debian does on systemd hosts) uses /var/run/postgresql. Use either.
PG_SOCK=/tmp
for dir in /tmp /var/run/postgresql; do
  if [ -S "$dir/.s.PGSQL.$PG_PORT" ]; then PG_SOCK="$dir"; break; fi
done
psql_su() { runuser -u postgres -- psql -h "$PG_SOCK" -p "$PG_PORT" -v ON_ERROR_STOP=1 -qtA "$@"; }
# The role's password is random, made once and kept in the data dir (0600);
# dokploy and the tests read it from there when DOKPLOY_DATABASE_URL is unset.
PG_PASSWORD_FILE="$DATA_DIR/postgres.password"
if [ ! -s "$PG_PASSWORD_FILE" ]; then
  mkdir -p "$DATA_DIR"
  (umask 077 && od -An -tx1 -N24 /dev/urandom | tr -d ' \n' > "$PG_PASSWORD_FILE.tmp") && mv "$PG_PASSWORD_FILE.tmp" "$PG_PASSWORD_FILE"
  PG_PASSWORD_NEW=1
fi
PG_PASSWORD="$(cat "$PG_PASSWORD_FILE")"
case "$PG_PASSWORD" in *[!0-9a-f]*) echo "unexpected characters in $PG_PASSWORD_FILE" >&2; exit 1;; esac
if [ "$(psql_su -c "SELECT 1 FROM pg_roles WHERE rolname='dokploy'")" != 1 ]; then
  # On stdin, not argv, so the password never shows in the process list.
  printf "CREATE ROLE dokploy LOGIN CREATEDB PASSWORD '%s'\n" "$PG_PASSWORD" | psql_su
elif [ -n "${PG_PASSWORD_NEW:-}" ]; then
  log "giving the dokploy PostgreSQL role a random password ($PG_PASSWORD_FILE)"
  printf "ALTER ROLE dokploy PASSWORD '%s'\n" "$PG_PASSWORD" | psql_su
fi
if [ "$(psql_su -c "SELECT 1 FROM pg_database WHERE datname='dokploy'")" != 1 ]; then
  psql_su -c "CREATE DATABASE dokploy OWNER dokploy"
fi

# --- Redis on loopback ------------------------------------------------------
if ! redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping >/dev/null 2>&1; then
  log "starting Redis on 127.0.0.1:$REDIS_PORT"
  mkdir -p "$DATA_DIR/redis"
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$DATA_DIR/redis" \
    --appendonly yes --daemonize yes --logfile "$DATA_DIR/redis.log" >/dev/null
  for _ in $(seq 1 40); do redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.25; done
fi

# --- npm assets (htmx, its SSE extension, uPlot, xterm.js; served from static/vendor)
if [ ! -s "$ROOT/static/vendor/htmx.min.js" ] || [ ! -s "$ROOT/static/vendor/sse.js" ] \
  || [ ! -s "$ROOT/static/vendor/uPlot.iife.min.js" ] || [ ! -s "$ROOT/static/vendor/uPlot.min.css" ] \
  || [ ! -s "$ROOT/static/vendor/xterm.js" ] || [ ! -s "$ROOT/static/vendor/xterm.css" ] \
  || [ ! -s "$ROOT/static/vendor/addon-fit.js" ]; then
  log "installing npm assets"
  (cd "$ROOT/static" && npm ci --no-audit --no-fund --silent)
  mkdir -p "$ROOT/static/vendor"
  cp "$ROOT/static/node_modules/htmx.org/dist/htmx.min.js" "$ROOT/static/vendor/htmx.min.js"
  cp "$ROOT/static/node_modules/htmx-ext-sse/dist/sse.min.js" "$ROOT/static/vendor/sse.js" 2>/dev/null \
    || cp "$ROOT/static/node_modules/htmx-ext-sse/sse.js" "$ROOT/static/vendor/sse.js"
  cp "$ROOT/static/node_modules/uplot/dist/uPlot.iife.min.js" "$ROOT/static/vendor/uPlot.iife.min.js"
  cp "$ROOT/static/node_modules/uplot/dist/uPlot.min.css" "$ROOT/static/vendor/uPlot.min.css"
  cp "$ROOT/static/node_modules/@xterm/xterm/lib/xterm.js" "$ROOT/static/vendor/xterm.js"
  cp "$ROOT/static/node_modules/@xterm/xterm/css/xterm.css" "$ROOT/static/vendor/xterm.css"
  cp "$ROOT/static/node_modules/@xterm/addon-fit/lib/addon-fit.js" "$ROOT/static/vendor/addon-fit.js"
fi
# --- Traefik image ------------------------------------------------------------
# `dokploy serve` runs Traefik as the dokploy-traefik container. Where the
# official image cannot be pulled, build the same version locally (the binary
# is cached under /var/cache/dokploy, so a second run rebuilds nothing).
TRAEFIK_VERSION="${TRAEFIK_VERSION:-v3.6.12}"
TRAEFIK_BIN="${DOKPLOY_TRAEFIK_BIN:-/var/cache/dokploy/traefik-$TRAEFIK_VERSION}"
if ! docker image inspect "traefik:$TRAEFIK_VERSION" >/dev/null 2>&1 \
  && ! docker image inspect "dokploy-traefik:$TRAEFIK_VERSION" >/dev/null 2>&1 \
  && ! docker pull -q "traefik:$TRAEFIK_VERSION" >/dev/null 2>&1; then
  log "building Traefik $TRAEFIK_VERSION from its Go module (first run: ~5 minutes)"
  export PATH="/usr/local/go/bin:$PATH"
  bash "$ROOT/scripts/build-traefik.sh" "$TRAEFIK_VERSION" "$TRAEFIK_BIN" >/dev/null
  bash "$ROOT/scripts/build-traefik-image.sh" "$TRAEFIK_VERSION" "$TRAEFIK_BIN" >/dev/null
fi
log "services ready (data in $DATA_DIR)"
