#!/usr/bin/env bash
# bench.sh -- the "light by design" numbers: start-up time, idle memory and
# image size of the dokploy control plane, printed as a markdown table.
#
#   bash scripts/bench.sh          (or: make bench)
#
# Builds ./bin/dokploy if it is missing or older than the sources, and the
# image with scripts/build-image.sh if dokploy:latest is missing. Each run
# starts `./bin/dokploy serve` on a free 127.0.0.1 port with a temp data dir
# and its own throw-away database, and stops it afterwards. All traffic stays
# on 127.0.0.1; every wait is bounded.
#
# Knobs: BENCH_RUNS (5), BENCH_SETTLE seconds before reading idle RSS (10),
# PGHOST/PGPORT/PGUSER/PGPASSWORD (the server scripts/provision.sh starts),
# BENCH_REDIS_URL (redis://127.0.0.1:6379/0). Each server gets a Redis
# namespace of its own (its worker takes no other dokploy's jobs) and runs
# with DOKPLOY_TRAEFIK=off: the numbers are the control plane's own, and the
# host's one dokploy-traefik container is left alone.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
export PATH="/usr/local/go/bin:$PATH"

RUNS="${BENCH_RUNS:-5}"
SETTLE="${BENCH_SETTLE:-10}"
HEALTH_TIMEOUT_S=60
# The provisioned role's random password lives in the data dir.
PG_PASSWORD_FILE="${DOKPLOY_DATA_DIR:-/var/lib/dokploy}/postgres.password"
if [ -z "${PGPASSWORD:-}" ] && [ ! -s "$PG_PASSWORD_FILE" ]; then
  bash scripts/provision.sh >&2
fi
export PGHOST="${PGHOST:-127.0.0.1}" PGPORT="${PGPORT:-5432}" PGUSER="${PGUSER:-dokploy}" PGPASSWORD="${PGPASSWORD:-$(cat "$PG_PASSWORD_FILE")}"
REDIS_URL="${BENCH_REDIS_URL:-redis://127.0.0.1:6379/0}"
IMAGE="dokploy:latest"
BIN="$ROOT/bin/dokploy"

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'bench: %s\n' "$*" >&2; exit 1; }

[ -r /proc/self/status ] || die "/proc is needed to read the resident set size"

# --- services and binary -----------------------------------------------------
if ! command -v psql >/dev/null \
  || ! psql -d postgres -qtAc 'SELECT 1' >/dev/null 2>&1 \
  || ! (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null \
  || ! docker info >/dev/null 2>&1; then
  log "PostgreSQL, Redis or Docker not reachable: running scripts/provision.sh"
  bash scripts/provision.sh >&2
fi

stale=""
if [ -x "$BIN" ]; then
  stale="$(find . \( -path ./.git -o -path ./bin -o -path ./e2e -o -path '*/node_modules' \) -prune -o \
    -type f \( -name '*.go' -o -name '*.html' -o -name '*.sql' -o -name '*.css' -o -name '*.js' -o -name go.mod -o -name go.sum \) \
    ! -name '*_test.go' -newer "$BIN" -print -quit)"
fi
if [ ! -x "$BIN" ] || [ -n "$stale" ]; then
  log "building $BIN"
  make build >&2
fi

# --- scratch space, cleanup --------------------------------------------------
WORK="$(mktemp -d "${TMPDIR:-/tmp}/dokploy-bench.XXXXXX")"
PID=""
DBS=()
cleanup() {
  stop_server
  for d in "${DBS[@]}"; do
    psql -d postgres -qtAc "DROP DATABASE IF EXISTS $d" >/dev/null 2>&1 || log "could not drop database $d"
  done
  rm -rf "$WORK"
}
trap cleanup EXIT
# The start-up timer: a Go poller, lighter than a bash loop (see its doc).
HEALTHWAIT="$WORK/healthwait"
go build -o "$HEALTHWAIT" ./scripts/healthwait
trap 'exit 130' INT TERM

rand_hex() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }
# One key for every server of the run: a migrated database only opens
# with the key that encrypted it (the warm starts reuse one).
SECRET_KEY="$(rand_hex 24)"

# new_db creates an empty database (dropped on exit) and sets DB_URL.
new_db() {
  local name
  name="dokploy_bench_$(rand_hex 6)"
  psql -d postgres -v ON_ERROR_STOP=1 -qtAc "CREATE DATABASE $name" >/dev/null
  DBS+=("$name")
  DB_URL="postgres://$PGUSER:$PGPASSWORD@$PGHOST:$PGPORT/$name?sslmode=disable"
}

# free_port prints a port on 127.0.0.1 that nothing listens on (bounded tries).
free_port() {
  local p _
  for _ in $(seq 1 100); do
    p=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return
    fi
  done
  die "no free port found"
}

now_ns() { date +%s%N; }

# health_body PORT: the health answer, for error messages.
health_body() {
  (
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 0
    printf 'GET /api/health HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' >&3
    timeout 3 cat <&3
  ) 2>/dev/null || true
}

# start_server DB_URL LOG: starts dokploy serve with a clean environment,
# sets PID, PORT and STARTUP_MS (from exec to the first 200 from /api/health).
start_server() {
  local db_url="$1" logf="$2" t0 data
  PORT="$(free_port)"
  data="${DATA_DIR:-$WORK/data-$PORT}"
  mkdir -p "$data"
  local envs=(
    PATH="$PATH" HOME="${HOME:-/root}"
    DOKPLOY_ADDR="127.0.0.1:$PORT"
    DOKPLOY_PUBLIC_URL="http://127.0.0.1:$PORT"
    DOKPLOY_DATA_DIR="$data"
    DOKPLOY_SECRET_KEY="$SECRET_KEY"
    DOKPLOY_DATABASE_URL="$db_url"
    DOKPLOY_REDIS_URL="$REDIS_URL"
    DOKPLOY_REDIS_NAMESPACE="dokploy-bench-$(rand_hex 4)"
    DOKPLOY_TRAEFIK=off
  )
  [ -n "${DOCKER_HOST:-}" ] && envs+=(DOCKER_HOST="$DOCKER_HOST")
  t0="$(now_ns)"
  env -i "${envs[@]}" "$BIN" serve >"$logf" 2>&1 &
  PID=$!
  if ! STARTUP_MS="$("$HEALTHWAIT" -url "http://127.0.0.1:$PORT/api/health" -since "$t0" -timeout "${HEALTH_TIMEOUT_S}s" -pid "$PID")"; then
    health_body "$PORT" >&2
    cat "$logf" >&2
    die "no 200 from /api/health within ${HEALTH_TIMEOUT_S}s (log above)"
  fi
}

stop_server() {
  [ -n "$PID" ] || return 0
  if kill -0 "$PID" 2>/dev/null; then
    kill -TERM "$PID" 2>/dev/null || true
    for _ in $(seq 1 150); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$PID" 2>/dev/null || true
  fi
  wait "$PID" 2>/dev/null || true
  PID=""
}

# stats INTEGERS...: sets MED (the median), MIN and MAX.
stats() {
  local sorted
  mapfile -t sorted < <(printf '%s\n' "$@" | sort -n)
  MIN="${sorted[0]}"
  MAX="${sorted[${#sorted[@]}-1]}"
  MED="${sorted[$(( ${#sorted[@]} / 2 ))]}"
}

status_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
mb() { awk -v b="$1" 'BEGIN { printf "%.1f MB", b / 1000000 }'; }
kb_mib() { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }

# --- (b) start-up time -------------------------------------------------------
load_before="$(cut -d' ' -f1 /proc/loadavg)"
cold=()
log "start-up, fresh database each time (runs migrations): $RUNS runs"
for i in $(seq 1 "$RUNS"); do
  new_db
  start_server "$DB_URL" "$WORK/cold-$i.log"
  cold+=("$STARTUP_MS")
  stop_server
done
warm=()
log "start-up, already migrated database and data directory (a restart): $RUNS runs"
DATA_DIR="$WORK/data-warm"
for i in $(seq 1 "$RUNS"); do
  start_server "$DB_URL" "$WORK/warm-$i.log"
  warm+=("$STARTUP_MS")
  [ "$i" = "$RUNS" ] || stop_server # the last one stays up for the idle reading
done
stats "${cold[@]}"; cold_med=$MED cold_min=$MIN cold_max=$MAX
stats "${warm[@]}"; warm_med=$MED warm_min=$MIN warm_max=$MAX

# --- (a) idle RSS --------------------------------------------------------------
log "idle: waiting ${SETTLE}s for start-up to settle (pid $PID)"
sleep "$SETTLE"
kill -0 "$PID" 2>/dev/null || die "dokploy serve exited while idle"
rss_kb="$(status_kb "$PID" VmRSS)"
hwm_kb="$(status_kb "$PID" VmHWM)"
anon_kb="$(status_kb "$PID" RssAnon)"
file_kb="$(status_kb "$PID" RssFile)"
threads="$(status_kb "$PID" Threads)"
stop_server

# --- (c) image size --------------------------------------------------------------
bin_size="$(stat -c %s "$BIN")"
image_size=""
image_version=""
if docker info >/dev/null 2>&1; then
  if ! docker image inspect "$IMAGE" >/dev/null 2>&1; then
    log "building $IMAGE"
    bash scripts/build-image.sh >&2
  fi
  image_size="$(docker image inspect -f '{{.Size}}' "$IMAGE" 2>/dev/null || true)"
  image_version="$(docker image inspect -f '{{index .Config.Labels "org.opencontainers.image.version"}}' "$IMAGE" 2>/dev/null || true)"
fi

# --- report ------------------------------------------------------------------------
load_after="$(cut -d' ' -f1 /proc/loadavg)"
busy_note=""
if awk -v a="$load_before" -v b="$load_after" -v n="$(nproc)" 'BEGIN { exit !(a > n / 2 || b > n / 2) }'; then
  busy_note=$'\n> The machine was busy (load '"$load_before → $load_after"$' on '"$(nproc)"$' CPUs): start-up times are inflated; run again on an idle machine.\n'
fi
version="$("$BIN" version 2>/dev/null | awk '{ print $2 }')"
cat <<EOF

## dokploy: light by design

$(date -u +%Y-%m-%d) · $(nproc) CPU · $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM · $(go version 2>/dev/null | awk '{ print $3 }') · dokploy ${version:-?} · load $load_before → $load_after
${busy_note}
| metric | value |
| --- | --- |
| start-up (exec to first 200 from /api/health), fresh database: runs migrations | ${cold_med} ms median of ${RUNS} (${cold_min}–${cold_max} ms) |
| start-up (exec to first 200 from /api/health), restart: migrated database, same data directory | ${warm_med} ms median of ${RUNS} (${warm_min}–${warm_max} ms) |
| idle RSS after ${SETTLE} s (VmRSS) | $(kb_mib "$rss_kb") |
| of which heap and stacks (RssAnon) / mapped binary (RssFile) | $(kb_mib "$anon_kb") / $(kb_mib "$file_kb") |
| peak RSS (VmHWM) | $(kb_mib "$hwm_kb") |
| OS threads when idle | ${threads} |
| binary size (bin/dokploy, static, stripped) | $(mb "$bin_size") |
| image size (${IMAGE}${image_version:+ @ $image_version}, FROM scratch) | $( [ -n "$image_size" ] && mb "$image_size" || echo "n/a (no Docker)") |
EOF

# --- (d) the paths a user waits on (issue #17's table) ------------------------------
# Each figure next to the raw path or the peer measured in the same run, as a
# ratio: these machines are noisy. BENCH_PATHS=0 skips this part.
[ "${BENCH_PATHS:-1}" = 1 ] || exit 0
log "paths: deploys next to the raw docker path (scripts/bench-deploy.sh ${BENCH_DEPLOY_RUNS:-3})"
deploy_out="$WORK/deploy.out"
bash scripts/bench-deploy.sh "${BENCH_DEPLOY_RUNS:-3}" >"$deploy_out"
res() { awk -v k="$1" '$1 == "RESULT" && $2 == k { print $3 }' "$deploy_out"; }

# gobench PKG PATTERN BENCHTIME: runs Go benchmarks against the real services
# (bounded by -timeout) and keeps their output for metric.
GOBENCH="$WORK/gobench.out"
: >"$GOBENCH"
gobench() {
  log "paths: go test -bench '$2' -benchtime $3 $1"
  DOKPLOY_INTEGRATION=1 go test -run '^$' -bench "$2" -benchtime "$3" -timeout 10m "$1" >>"$GOBENCH" 2>&1 ||
    { cat "$GOBENCH" >&2; die "benchmark $2 failed (output above)"; }
}
# metric BENCH UNIT: the value a benchmark reported for unit ("" if none).
# A benchmark that logs prints its name and its figures on separate lines.
metric() {
  awk -v b="$1" -v u="$2" '
    /^Benchmark/ { name = $1 }
    name ~ "^Benchmark"b"(-[0-9]+)?$" { for (i = 1; i < NF; i++) if ($(i+1) == u) { print $i; exit } }' "$GOBENCH"
}
has_bench() { grep -rqs "func Benchmark$1(" --include='*_test.go' .; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "n/a"; else if (a / b < 0.1) printf "1/%.0f", b / a; else printf "%.2f×", a / b }'; }

gobench ./jobs/ 'QueuePickup' 10x
# 20 bursts of 50 pushes; 200 single pushes, so the p99 is not the
# slowest of a handful.
gobench ./handlers/ 'Webhook_Burst50' 20x
gobench ./handlers/ 'Webhook_Single' 200x
for b in SSEFanout Dashboard ProjectPage AppPage AppStatus Pages_200rps AppPages100Open; do
  if has_bench "$b"; then gobench ./handlers/ "^Benchmark$b\$" 1x; fi
done
row() { printf '| %s | %s | %s | %s | %s |\n' "$@"; }
cat <<EOF

## dokploy: the paths a user waits on

$(date -u +%Y-%m-%d) · $(nproc) CPU · load $(cut -d' ' -f1 /proc/loadavg) · every figure next to its peer from the same run

| Path | dokploy | raw path / peer, same run | ratio | target |
| --- | --- | --- | --- | --- |
$(row "First deploy of a small Dockerfile app, request → first 200 (median of $(res runs))" "$(res first_ours) s" "$(res first_raw) s (git clone + docker build + docker service create -d)" "$(ratio "$(res first_ours)" "$(res first_raw)")" "≤ 1.2×")
$(row "Redeploy, request → new version answers (median)" "$(res redeploy_ours) s" "$(res redeploy_raw) s (git clone + docker build + docker service update -d)" "$(ratio "$(res redeploy_ours)" "$(res redeploy_raw)")" "≤ 1.05×")
$(row "Redeploy: recorded serving_at / settled (finished_at), after the request" "$(res redeploy_serving) s" "$(res redeploy_settled) s settled" "" "serving recorded apart from settled")
$(row "Queue pick-up with an idle worker, enqueue → first engine call, p99" "$(metric QueuePickup/wake p99-ms) ms (pool woken on enqueue)" "$(metric QueuePickup/polling p99-ms) ms (gocraft/work's own idle poll)" "$(ratio "$(metric QueuePickup/wake p99-ms)" "$(metric QueuePickup/polling p99-ms)")" "≤ 100 ms")
$(row "50 webhook pushes for one app at once, p99 (first burst after start: slowest answer)" "$(metric Webhook_Burst50 p99-ms) ms ($(metric Webhook_Burst50 cold-max-ms) ms)" "$(metric Webhook_Single p99-ms) ms (one push alone, 200 in a row)" "$(ratio "$(metric Webhook_Burst50 p99-ms)" "$(metric Webhook_Single p99-ms)")" "≤ 50 ms")
$(row "One webhook push, p99 of 200 in a row (p50)" "$(metric Webhook_Single p99-ms) ms ($(metric Webhook_Single p50-ms) ms)" "" "" "≤ 10 ms")
$(if has_bench AppPages100Open; then row "100 open app pages polling their live status: CPU added (dokploy + dockerd + PostgreSQL)" "$(metric AppPages100Open cpu-percent) % of $(nproc) cores" "" "" "< 5 %"; fi)
$(if has_bench SSEFanout; then row "1,000 SSE followers of one deployment log: p99 delivery / server RSS growth (followers in another process)" "$(metric SSEFanout p99-ms) ms / $(metric SSEFanout rss-growth-MB) MB" "" "" "≤ 100 ms / ≤ 50 MB"; else row "1,000 SSE followers of one deployment log" "not measured (no BenchmarkSSEFanout)" "" "" "≤ 100 ms p99"; fi)
$(if has_bench Dashboard; then row "Dashboard, project page, app page, status poll with 500 apps in 50 projects, one client, p50 / p99" "$(metric Dashboard p50-ms) / $(metric Dashboard p99-ms) ms · $(metric ProjectPage p50-ms) / $(metric ProjectPage p99-ms) ms · $(metric AppPage p50-ms) / $(metric AppPage p99-ms) ms · $(metric AppStatus p50-ms) / $(metric AppStatus p99-ms) ms" "" "" "no N+1, no decryption"; fi)
$(if has_bench Pages_200rps; then row "Dashboard, project and app pages, 500 apps, offered 200 req/s for 5 s after a 1 s warm-up: p99 (rate reached; slowest answer of the warm-up)" "$(metric Pages_200rps p99-ms) ms ($(metric Pages_200rps req/s) req/s; $(metric Pages_200rps warmup-max-ms) ms)" "" "" "≤ 30 ms"; else row "Dashboard, project and app pages at 200 req/s" "not measured (no BenchmarkPages_200rps)" "" "" "≤ 30 ms p99"; fi)
$(row "Idle RSS after $(res deploys) deploys (10 s idle)" "$(res rss_after_deploys) MiB" "$(kb_mib "$rss_kb") right after start (above)" "$(ratio "$(res rss_after_deploys)" "$(awk -v k="$rss_kb" 'BEGIN { print k / 1024 }')")" "≤ 30 MiB")
$(row "Start-up to first 200, migrated database (median)" "${warm_med} ms" "${cold_med} ms on a fresh database" "" "≤ 150 ms")
EOF
