#!/usr/bin/env bash
# Load on the web pages: the release binary's offline demo (5 briefs, 2 decisions, 4 sources),
# signed in as its admin, wrk on each page. Only 127.0.0.1 is touched.
#   bench/web-pages.sh [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-8}"
command -v wrk >/dev/null || { echo "wrk is needed (apt-get install wrk)"; exit 1; }
cargo build --release --locked -q
port=18181 dir="$(mktemp -d)" out="$(mktemp)"
rmdir "$dir"
target/release/signalbox demo --listen "127.0.0.1:$port" --pause 0 --data-dir "$dir" >"$out" 2>/dev/null &
demo=$!
trap 'kill $demo 2>/dev/null; rm -rf "$dir" "$out"' EXIT
for _ in $(seq 1 120); do grep -q "done:" "$out" && break; sleep 0.5; done
admin="$(grep -o 'Bearer sbx_[a-f0-9]*' "$out" | head -1 | cut -d' ' -f2)"
cookie="$(curl -s -D - -o /dev/null -d "token=$admin" "http://127.0.0.1:$port/signin" \
  | grep -i '^set-cookie' | sed 's/^[^:]*: //; s/;.*//' | tr -d '\r')"
for page in / /briefs/2 /decisions /routing /summary; do
  echo "== $page"
  wrk -t2 -c16 -d"${secs}s" -H "Cookie: $cookie" "http://127.0.0.1:$port$page" | grep -E 'Latency|Requests/sec|Non-2xx'
done
