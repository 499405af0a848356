#!/usr/bin/env bash
# bench-deploy.sh -- deploy time of the fixture app through dokploy, next to a
# plain `docker build` + `docker service create` of the same repository.
# Needs the services from scripts/provision.sh; builds ./bin/dokploy if missing.
# Every request goes to 127.0.0.1. Usage: scripts/bench-deploy.sh [runs]
set -euo pipefail
RUNS="${1:-3}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
[ -x bin/dokploy ] || make build >/dev/null
WORK="$(mktemp -d /tmp/dokploy-bench.XXXXXX)"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
APP_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
GIT_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
DB="dokploy_bench_$RANDOM$RANDOM"
NS_APP="bench-$RANDOM"
PLAIN="bench-plain-$RANDOM"
PGPASSWORD="$(cat "${DOKPLOY_DATA_DIR:-/var/lib/dokploy}/postgres.password")"
export PGPASSWORD
cleanup() {
  [ -n "${SERVER_PID:-}" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null || true
  [ -n "${GIT_PID:-}" ] && kill "$GIT_PID" 2>/dev/null || true
  docker service rm "$NS_APP" "$PLAIN" >/dev/null 2>&1 || true
  sleep 2
  docker images --format '{{.Repository}}:{{.Tag}}' | grep -E "^($NS_APP|$PLAIN):" | xargs -r docker rmi -f >/dev/null 2>&1 || true
  psql -h 127.0.0.1 -U dokploy -d postgres -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# Fixture repository: a static Go HTTP server in a FROM-scratch image.
mkdir -p "$WORK/src" "$WORK/srv"
CGO_ENABLED=0 go build -o "$WORK/src/app" ./jobs/testdata/app
git -C "$WORK/src" init -q -b main
commit() {
  printf 'FROM scratch\nCOPY app /app\nENV PORT=8080 MESSAGE=%s\nENTRYPOINT ["/app"]\n' "$1" > "$WORK/src/Dockerfile"
  git -C "$WORK/src" add -A
  git -C "$WORK/src" -c user.email=b@example.com -c user.name=bench commit -qm "$1"
  git -C "$WORK/src" push -qf "$WORK/srv/app.git" main 2>/dev/null || { git clone -q --bare "$WORK/src" "$WORK/srv/app.git"; }
}
commit v0
git daemon --export-all --base-path="$WORK/srv" --listen=127.0.0.1 --port="$GIT_PORT" --reuseaddr >/dev/null 2>&1 &
GIT_PID=$!
sleep 0.5

psql -h 127.0.0.1 -U dokploy -d postgres -qc "CREATE DATABASE $DB" >/dev/null
export DOKPLOY_ADDR="127.0.0.1:$PORT" DOKPLOY_PUBLIC_URL="http://127.0.0.1:$PORT" DOKPLOY_DATA_DIR="$WORK/data"
export DOKPLOY_DATABASE_URL="postgres://dokploy:$PGPASSWORD@127.0.0.1:5432/$DB?sslmode=disable"
export DOKPLOY_SECRET_KEY="bench-secret-key-0123456789abcdefghij" DOKPLOY_TRAEFIK=off
./bin/dokploy serve >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/api/health" >/dev/null && break; sleep 0.1; done
echo "benchpassword1" | ./bin/dokploy admin create --email bench@example.com >/dev/null
TOKEN=$(./bin/dokploy token create --email bench@example.com --name bench)
api() { curl -sf -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' "$@"; }
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
PID=$(api -X POST "http://127.0.0.1:$PORT/api/v1/projects" -d '{"name":"bench"}' | json "['id']")
APP=$(api -X POST "http://127.0.0.1:$PORT/api/v1/applications" -d "{\"project_id\":$PID,\"name\":\"bench\",\"app_name\":\"$NS_APP\",\"source\":{\"type\":\"git\",\"url\":\"git://127.0.0.1:$GIT_PORT/app.git\",\"branch\":\"main\"},\"port\":8080,\"ports\":[{\"published\":$APP_PORT,\"target\":8080}]}" | json "['id']")

ours=()
for i in $(seq 1 "$RUNS"); do
  commit "v$i"
  DEP=$(api -X POST "http://127.0.0.1:$PORT/api/v1/applications/$APP/deploy" | json "['id']")
  for _ in $(seq 1 600); do
    ST=$(api "http://127.0.0.1:$PORT/api/v1/deployments/$DEP" | json "['status']")
    case "$ST" in done|error|cancelled) break;; esac
    sleep 0.1
  done
  [ "$ST" = done ] || { echo "deployment $DEP ended $ST"; api "http://127.0.0.1:$PORT/api/v1/deployments/$DEP/logs" | tail -20; exit 1; }
  SECS=$(api "http://127.0.0.1:$PORT/api/v1/deployments/$DEP" | python3 -c '
import json,sys,datetime
d=json.load(sys.stdin)
p=lambda s: datetime.datetime.fromisoformat(s.replace("Z","+00:00"))
print("%.2f" % (p(d["finished_at"])-p(d["created_at"])).total_seconds())')
  ours+=("$SECS")
  echo "dokploy deploy $i: ${SECS}s (request to serving)"
done

plain=()
for i in $(seq 1 "$RUNS"); do
  commit "plain$i"
  rm -rf "$WORK/clone" && git clone -q --depth 1 "git://127.0.0.1:$GIT_PORT/app.git" "$WORK/clone"
  START=$(date +%s.%N)
  docker build -q -t "$PLAIN:$i" "$WORK/clone" >/dev/null
  if [ "$i" = 1 ]; then
    docker service create -q --name "$PLAIN" --endpoint-mode dnsrr --network dokploy-network \
      --publish "mode=host,published=$((APP_PORT+1)),target=8080" "$PLAIN:$i" >/dev/null
  else
    docker service update -q --image "$PLAIN:$i" --update-order stop-first "$PLAIN" >/dev/null
  fi
  END=$(date +%s.%N)
  S=$(python3 -c "print('%.2f' % ($END-$START))")
  plain+=("$S")
  echo "plain docker build + service create/update $i: ${S}s (includes waiting for convergence)"
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo
echo "| runs | dokploy deploy (median) | docker build + service create (median) |"
echo "|---|---|---|"
echo "| $RUNS | $(median "${ours[@]}") s | $(median "${plain[@]}") s |"
