#!/usr/bin/env bash
# bench-routing.sh -- how long a domain change takes to be served through a
# real Traefik: 20 changes (store write + Sync → first 200 on 127.0.0.1),
# reported as p50/p95 in milliseconds. Needs what `make test` provisions.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
export PATH="/usr/local/go/bin:$PATH"
cd "$ROOT"
DOKPLOY_INTEGRATION=1 \
DOKPLOY_TRAEFIK_BIN="${DOKPLOY_TRAEFIK_BIN:-/var/cache/dokploy/traefik-v3.6.12}" \
  go test -count=1 -run '^$' -bench '^BenchmarkRouteDomainChange$' -benchtime 1x -v ./e2e/ \
  | grep -E 'BenchmarkRouteDomainChange|domain change|^(ok|FAIL|PASS)'
