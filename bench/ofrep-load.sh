#!/usr/bin/env bash
# OFREP HTTP load, A B A B: a bare axum handler (examples/bare_ofrep.rs) and signalbox, single and
# bulk evaluation, with wrk on the same machine. Only 127.0.0.1. Prints wrk's summaries.
#   bench/ofrep-load.sh [seconds] [connections]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}; conns=${2:-64}
command -v wrk >/dev/null || { apt-get install -y -q wrk >/dev/null 2>&1 || (apt-get update -q >/dev/null && apt-get install -y -q wrk >/dev/null); }
cargo build --release --quiet --example bare_ofrep
cargo build --release --quiet
work=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$work"' EXIT
mkdir -p "$work/sources" "$work/flags"
cp tests/python/flags.yaml "$work/flags/app.yaml"
export SIGNALBOX_SOURCES="$work/sources" SIGNALBOX_FLAGS="$work/flags" DATABASE_URL="sqlite://$work/sb.db" RUST_LOG=warn
token=$(target/release/signalbox token create --name load --scope flags:read --env production)
SIGNALBOX_LISTEN=127.0.0.1:18080 target/release/signalbox serve & 
target/release/examples/bare_ofrep 127.0.0.1:18081 &
for _ in $(seq 50); do curl -sf 127.0.0.1:18080/readyz >/dev/null && break; sleep 0.2; done
run() { echo "== $1"; wrk -t1 -c"$conns" -d"${secs}s" --latency -s bench/ofrep_post.lua "$2" -- "$token" | grep -E "Requests/sec|99%|Non-2xx"; }
for round in 1 2; do
  run "bare single (round $round)" http://127.0.0.1:18081/ofrep/v1/evaluate/flags/greeting
  run "signalbox single (round $round)" http://127.0.0.1:18080/ofrep/v1/evaluate/flags/greeting
  run "bare bulk (round $round)" http://127.0.0.1:18081/ofrep/v1/evaluate/flags
  run "signalbox bulk (round $round)" http://127.0.0.1:18080/ofrep/v1/evaluate/flags
done
