#!/usr/bin/env bash
# bench-deploy.sh -- what a user waits for when deploying, next to the raw
# Docker path for the same repository, alternating in one run (these machines
# are noisy, so each dokploy figure stands next to its peer from the same
# minutes):
#
#   first deploy: API request -> first 200 from the new service, vs
#                 git clone + docker build + docker service create -d + first 200
#   redeploy:     API request -> the new version answers, vs
#                 git clone + docker build + docker service update -d + new version answers
#   idle RSS:     the control plane's resident set 10 s after the last deploy
#
# Each side deploys a commit of its own (a new ENV line), so neither build
# takes the layers the other just built, and the side going first alternates.
#
# The fixture is a static Go HTTP server in a FROM-scratch image served over
# git://127.0.0.1, published on a host-mode port; both sides poll that port
# every 10 ms. Every request goes to 127.0.0.1; every wait is bounded.
#
#   scripts/bench-deploy.sh [runs]        (make bench runs it with 3)
#
# Prints human lines on stderr and "RESULT <key> <seconds or MiB>" lines on
# stdout (medians), which scripts/bench.sh turns into its table.
set -euo pipefail
RUNS="${1:-3}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
export PATH="/usr/local/go/bin:$PATH"
[ -x bin/dokploy ] || make build >/dev/null

log() { printf '%s\n' "$*" >&2; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now() { date +%s.%N; }
secs() { python3 -c "print('%.2f' % ($2-$1))"; }
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

WORK="$(mktemp -d /tmp/dokploy-bench-deploy.XXXXXX)"
PORT=$(free_port)
GIT_PORT=$(free_port)
DB="dokploy_bench_$RANDOM$RANDOM"
TAG="bd$RANDOM"
PGPASSWORD="$(cat "${DOKPLOY_DATA_DIR:-/var/lib/dokploy}/postgres.password")"
export PGPASSWORD
SERVICES=()
cleanup() {
  [ -n "${BENCH_KEEP_LOG:-}" ] && cp "$WORK/server.log" "$BENCH_KEEP_LOG" 2>/dev/null
  [ -n "${SERVER_PID:-}" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null || true
  [ -n "${GIT_PID:-}" ] && kill "$GIT_PID" 2>/dev/null || true
  [ "${#SERVICES[@]}" -gt 0 ] && docker service rm "${SERVICES[@]}" >/dev/null 2>&1 || true
  sleep 2
  docker images --format '{{.Repository}}:{{.Tag}}' | grep -E "^$TAG-" | xargs -r docker rmi -f >/dev/null 2>&1 || true
  psql -h 127.0.0.1 -U dokploy -d postgres -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# wait_body polls port until it answers 200 with body (bounded: 120 s).
wait_body() {
  local port="$1" want="$2" got
  for _ in $(seq 1 12000); do
    got="$(curl -s --max-time 1 "http://127.0.0.1:$port/" 2>/dev/null || true)"
    [ "$got" = "$want" ] && return 0
    sleep 0.01
  done
  log "port $port never answered \"$want\" (last: \"$got\")"
  exit 1
}

# Fixture repository: a static Go HTTP server in a FROM-scratch image.
mkdir -p "$WORK/src" "$WORK/srv"
CGO_ENABLED=0 go build -o "$WORK/src/app" ./jobs/testdata/app
git -C "$WORK/src" init -q -b main
commit() {
  printf 'FROM scratch\nCOPY app /app\nENV PORT=8080 MESSAGE=%s\nENTRYPOINT ["/app"]\n' "$1" > "$WORK/src/Dockerfile"
  git -C "$WORK/src" add -A
  git -C "$WORK/src" -c user.email=b@example.com -c user.name=bench commit -qm "$1"
  git -C "$WORK/src" push -qf "$WORK/srv/app.git" main 2>/dev/null || git clone -q --bare "$WORK/src" "$WORK/srv/app.git"
}
commit v0
git daemon --export-all --base-path="$WORK/srv" --listen=127.0.0.1 --port="$GIT_PORT" --reuseaddr >/dev/null 2>&1 &
GIT_PID=$!
sleep 0.5

psql -h 127.0.0.1 -U dokploy -d postgres -qc "CREATE DATABASE $DB" >/dev/null
export DOKPLOY_ADDR="127.0.0.1:$PORT" DOKPLOY_PUBLIC_URL="http://127.0.0.1:$PORT" DOKPLOY_DATA_DIR="$WORK/data"
export DOKPLOY_DATABASE_URL="postgres://dokploy:$PGPASSWORD@127.0.0.1:5432/$DB?sslmode=disable"
export DOKPLOY_SECRET_KEY="bench-secret-key-0123456789abcdefghij" DOKPLOY_TRAEFIK=off
export DOKPLOY_REDIS_URL="${BENCH_REDIS_URL:-redis://127.0.0.1:6379/0}" DOKPLOY_REDIS_NAMESPACE="$TAG"
./bin/dokploy serve >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/api/health" >/dev/null && break; sleep 0.1; done
echo "benchpassword1" | ./bin/dokploy admin create --email bench@example.com >/dev/null
TOKEN=$(./bin/dokploy token create --email bench@example.com --name bench)
api() { curl -sf -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' "$@"; }
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
PROJECT=$(api -X POST "http://127.0.0.1:$PORT/api/v1/projects" -d '{"name":"bench"}' | json "['id']")

# wait_done waits for a deployment to finish and prints its "serving" and
# "settled" times (seconds after the request) when the API has them.
wait_done() {
  local dep="$1" st
  for _ in $(seq 1 1200); do
    st=$(api "http://127.0.0.1:$PORT/api/v1/deployments/$dep" | json "['status']")
    case "$st" in done|error|cancelled) break;; esac
    sleep 0.1
  done
  [ "$st" = done ] || { log "deployment $dep ended $st"; api "http://127.0.0.1:$PORT/api/v1/deployments/$dep/logs" >&2 || true; exit 1; }
}

first_ours=(); first_raw=(); re_ours=(); re_raw=()
APPS=(); APP_PORTS=(); RAW_PORTS=(); serving=(); settled=()

# Each side builds a commit nobody built before (its own ENV line), so the
# raw build never reuses the layers dokploy's build of the same commit just
# made; the side that goes first alternates, so whatever is cold on the
# engine (the first task on the network, the first COPY) is paid by each
# side in turn.
first_dokploy() {
  local i="$1" name="$TAG-app$1" port
  port=$(free_port)
  commit "first$i"
  SERVICES+=("$name")
  app=$(api -X POST "http://127.0.0.1:$PORT/api/v1/applications" -d "{\"project_id\":$PROJECT,\"name\":\"bench $i\",\"app_name\":\"$name\",\"source\":{\"type\":\"git\",\"url\":\"git://127.0.0.1:$GIT_PORT/app.git\",\"branch\":\"main\"},\"port\":8080,\"ports\":[{\"published\":$port,\"target\":8080}]}" | json "['id']")
  APPS+=("$app"); APP_PORTS+=("$port")
  t0=$(now)
  dep=$(api -X POST "http://127.0.0.1:$PORT/api/v1/applications/$app/deploy" | json "['id']")
  wait_body "$port" "first$i"
  t1=$(now)
  first_ours+=("$(secs "$t0" "$t1")")
  wait_done "$dep"
}
first_raw() {
  local i="$1" name="$TAG-raw$1" port
  port=$(free_port)
  commit "rawfirst$i"
  SERVICES+=("$name"); RAW_PORTS+=("$port")
  t0=$(now)
  rm -rf "$WORK/clone" && git clone -q --depth 1 "git://127.0.0.1:$GIT_PORT/app.git" "$WORK/clone"
  docker build -q -t "$name:1" "$WORK/clone" >/dev/null
  docker service create -d -q --name "$name" --endpoint-mode dnsrr --network dokploy-network \
    --publish "mode=host,published=$port,target=8080" "$name:1" >/dev/null
  wait_body "$port" "rawfirst$i"
  t1=$(now)
  first_raw+=("$(secs "$t0" "$t1")")
}
for i in $(seq 1 "$RUNS"); do
  if [ $((i % 2)) -eq 1 ]; then first_dokploy "$i"; first_raw "$i"; else first_raw "$i"; first_dokploy "$i"; fi
  log "first deploy $i: dokploy ${first_ours[-1]} s, raw ${first_raw[-1]} s"
done

# Redeploys of the first app and of the first raw service, the same way.
redeploy_dokploy() {
  local i="$1" s
  commit "re$i"
  t0=$(now)
  dep=$(api -X POST "http://127.0.0.1:$PORT/api/v1/applications/${APPS[0]}/deploy" | json "['id']")
  wait_body "${APP_PORTS[0]}" "re$i"
  t1=$(now)
  re_ours+=("$(secs "$t0" "$t1")")
  wait_done "$dep"
  s=$(api "http://127.0.0.1:$PORT/api/v1/deployments/$dep" | python3 -c '
import json,sys,datetime
d=json.load(sys.stdin)
p=lambda s: datetime.datetime.fromisoformat(s.replace("Z","+00:00"))
print("%.2f %.2f" % ((p(d["serving_at"])-p(d["created_at"])).total_seconds() if d.get("serving_at") else -1, (p(d["finished_at"])-p(d["created_at"])).total_seconds()))')
  serving+=("${s%% *}"); settled+=("${s##* }")
}
redeploy_raw() {
  local i="$1"
  commit "rawre$i"
  t0=$(now)
  rm -rf "$WORK/clone" && git clone -q --depth 1 "git://127.0.0.1:$GIT_PORT/app.git" "$WORK/clone"
  docker build -q -t "$TAG-raw1:re$i" "$WORK/clone" >/dev/null
  docker service update -d -q --image "$TAG-raw1:re$i" "$TAG-raw1" >/dev/null
  wait_body "${RAW_PORTS[0]}" "rawre$i"
  t1=$(now)
  re_raw+=("$(secs "$t0" "$t1")")
}
for i in $(seq 1 "$RUNS"); do
  if [ $((i % 2)) -eq 1 ]; then redeploy_dokploy "$i"; redeploy_raw "$i"; else redeploy_raw "$i"; redeploy_dokploy "$i"; fi
  log "redeploy $i: dokploy ${re_ours[-1]} s (recorded serving ${serving[-1]} s, settled ${settled[-1]} s), raw ${re_raw[-1]} s"
done

# Idle memory after 20 deploys in all: top up with redeploys of the first app.
done_count=$((RUNS * 2))
while [ "$done_count" -lt 20 ]; do
  dep=$(api -X POST "http://127.0.0.1:$PORT/api/v1/applications/${APPS[0]}/deploy" | json "['id']")
  wait_done "$dep"
  done_count=$((done_count + 1))
done
sleep "${BENCH_SETTLE:-10}"
rss_kb=$(awk '/^VmRSS:/ {print $2}' "/proc/$SERVER_PID/status")
rss=$(python3 -c "print('%.1f' % ($rss_kb/1024))")
log "idle RSS after $done_count deploys: $rss MiB"

echo "RESULT runs $RUNS"
echo "RESULT first_ours $(median "${first_ours[@]}")"
echo "RESULT first_raw $(median "${first_raw[@]}")"
echo "RESULT redeploy_ours $(median "${re_ours[@]}")"
echo "RESULT redeploy_raw $(median "${re_raw[@]}")"
echo "RESULT redeploy_serving $(median "${serving[@]}")"
echo "RESULT redeploy_settled $(median "${settled[@]}")"
echo "RESULT rss_after_deploys $rss"
echo "RESULT deploys $done_count"
