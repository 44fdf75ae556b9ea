#!/usr/bin/env bash
# Replicas on PostgreSQL (issue 13), only 127.0.0.1:
#  1. OFREP throughput of one replica on SQLite and one on PostgreSQL, A B A B, single and bulk
#     (evaluation never touches the database, so they should match);
#  2. decision-to-every-replica latency: three replicas on one database; 20 times a decision is
#     proposed on the first, approved on the second, and the time from the approval's answer to
#     the moment all three serve it is measured (then it is reverted and the next round starts).
#   bench/replicas.sh [seconds] [connections]      (PostgreSQL on 127.0.0.1:5432, trust auth)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-8}; conns=${2:-50}
command -v wrk >/dev/null || { apt-get install -y -q wrk >/dev/null 2>&1 || (apt-get update -q >/dev/null && apt-get install -y -q wrk >/dev/null); }
cargo build --release --quiet
db="signalbox_bench_$$"
psql -q -h 127.0.0.1 -U postgres -c "CREATE DATABASE $db" postgres
work=$(mktemp -d)
cleanup() {
  kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true
  psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" postgres
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/sources" "$work/flags"
cp tests/python/flags.yaml "$work/flags/app.yaml"
pg="postgres://postgres@127.0.0.1:5432/$db"
export SIGNALBOX_SOURCES="$work/sources" SIGNALBOX_FLAGS="$work/flags" RUST_LOG=warn
export SIGNALBOX_SSE_SECRET="bench-secret-shared-by-every-replica-0123456789"
sb=target/release/signalbox
log="$work/servers.log"

# 1. Throughput: SQLite (port 18090) against PostgreSQL (18091).
tok_lite=$(DATABASE_URL="sqlite://$work/sb.db" $sb token create --name load --scope flags:read --env production)
tok_pg=$(DATABASE_URL="$pg" $sb token create --name load --scope flags:read --env production)
DATABASE_URL="sqlite://$work/sb.db" SIGNALBOX_LISTEN=127.0.0.1:18090 $sb serve 2>>"$log" &
DATABASE_URL="$pg" SIGNALBOX_LISTEN=127.0.0.1:18091 $sb serve 2>>"$log" &
for p in 18090 18091; do for _ in $(seq 100); do curl -sf 127.0.0.1:$p/readyz >/dev/null && break; sleep 0.2; done; done
run() { echo "== $1"; wrk -t1 -c"$conns" -d"${secs}s" --latency -s bench/ofrep_post.lua "$2" -- "$3" | grep -E "Requests/sec|99%|Non-2xx"; }
for round in 1 2; do
  run "sqlite single (round $round)" http://127.0.0.1:18090/ofrep/v1/evaluate/flags/greeting "$tok_lite"
  run "postgres single (round $round)" http://127.0.0.1:18091/ofrep/v1/evaluate/flags/greeting "$tok_pg"
  run "sqlite bulk (round $round)" http://127.0.0.1:18090/ofrep/v1/evaluate/flags "$tok_lite"
  run "postgres bulk (round $round)" http://127.0.0.1:18091/ofrep/v1/evaluate/flags "$tok_pg"
done

# 2. Decision latency: the PostgreSQL replica above and two more on the same database.
export DATABASE_URL="$pg"
app=$($sb token create --name app --scope flags:read --env staging)
alice=$($sb token create --name alice --scope decisions:propose --env staging)
bob=$($sb token create --name bob --scope decisions:approve --env staging)
SIGNALBOX_LISTEN=127.0.0.1:18092 $sb serve 2>>"$log" &
SIGNALBOX_LISTEN=127.0.0.1:18093 $sb serve 2>>"$log" &
for p in 18092 18093; do for _ in $(seq 100); do curl -sf 127.0.0.1:$p/readyz >/dev/null && break; sleep 0.2; done; done
python3 - "$app" "$alice" "$bob" <<'EOF'
import json, statistics, sys, threading, time, urllib.request
app, alice, bob = sys.argv[1:4]
replicas = ["http://127.0.0.1:18091", "http://127.0.0.1:18092", "http://127.0.0.1:18093"]

def call(base, token, path, body=None):
    req = urllib.request.Request(base + path, data=json.dumps(body or {}).encode(), method="POST",
                                 headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        return json.load(r)

def value(base):
    return call(base, app, "/ofrep/v1/evaluate/flags/max.items", {"context": {"targetingKey": "u"}})["value"]

def all_serve(want, start):
    done = [None] * len(replicas)
    def watch(i):
        while value(replicas[i]) != want:
            time.sleep(0.002)
        done[i] = time.perf_counter() - start
    ts = [threading.Thread(target=watch, args=(i,)) for i in range(len(replicas))]
    for t in ts: t.start()
    for t in ts: t.join(timeout=30)
    return max(done)

samples = []
for _ in range(20):
    d = call(replicas[0], alice, "/api/v1/decisions",
             {"flag": "max.items", "env": "staging", "action": "serve", "variant": "small", "reason": "bench"})
    call(replicas[1], bob, f"/api/v1/decisions/{d['id']}/approve")
    start = time.perf_counter()
    samples.append(all_serve(10, start))
    call(replicas[2], bob, f"/api/v1/decisions/{d['id']}/revert", {"reason": "bench"})
    all_serve(100, time.perf_counter())
ms = sorted(s * 1000 for s in samples)
print(f"== decision to every replica (3 replicas, 20 decisions): median {statistics.median(ms):.1f} ms, "
      f"worst {ms[-1]:.1f} ms, best {ms[0]:.1f} ms")
EOF
