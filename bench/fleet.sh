#!/usr/bin/env bash
# fleet.sh: hits through the shared (Redis) tier against hits from memory,
# in one run, with compare.sh's 1 KiB object, 50 keep-alive clients and
# wrk script.
#
#   go build -o /tmp/sluice ./cmd/sluice && bench/fleet.sh /tmp/sluice
#
# Instance A has a memory tier; instance B has no local tier at all, so
# every hit it serves is read from Redis (the worst case of "cold local
# tiers": B never warms up). A third run, C, has the default memory tier
# and starts cold: what a new instance joining a warm fleet serves, with
# Redis hits promoted into memory. Prints req/s medians over ROUNDS and
# the ratios B/A and C/A.
#
# Needs: redis-server, nginx, wrk (../shared/bench/setup.sh installs nginx
# and wrk). Ports 18080, 13001-13003 and 16379 must be free.
set -euo pipefail
BIN=${1:?usage: fleet.sh /path/to/sluice}
HERE=$(cd "$(dirname "$0")" && pwd)
LUA=${LUA:-$HERE/../../shared/bench/proxy.lua}
D=${SECS:-5}
ROUNDS=${ROUNDS:-3}
W=$(mktemp -d /tmp/fleetbench.XXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; sleep 0.3; rm -rf "$W"; }
trap cleanup EXIT
mkdir -p "$W/www" "$W/logs"
head -c 1024 /dev/urandom | base64 -w0 | head -c 1024 >"$W/www/1k"
cat >"$W/nginx.conf" <<NG
worker_processes 1; daemon off; pid $W/nginx.pid; error_log $W/logs/nginx.log;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000;
  server { listen 127.0.0.1:18080; root $W/www;
    location / { add_header Cache-Control "max-age=3600"; } } }
NG
nginx -c "$W/nginx.conf" -p "$W" >"$W/logs/nginx.out" 2>&1 & PIDS+=($!)
redis-server --port 16379 --bind 127.0.0.1 --save "" --appendonly no --daemonize no --logfile "" >"$W/logs/redis.out" 2>&1 & PIDS+=($!)
for i in $(seq 50); do redis-cli -p 16379 ping >/dev/null 2>&1 && break; sleep 0.1; done
common=(--allow-dest 127.0.0.0/8 --access-log off --cache-dir off --redis 127.0.0.1:16379)
"$BIN" --listen 127.0.0.1:13001 "${common[@]}" 2>"$W/logs/a.err" & PIDS+=($!)
"$BIN" --listen 127.0.0.1:13002 "${common[@]}" --cache-mem 0 2>"$W/logs/b.err" & PIDS+=($!)
sleep 1
# A fetches the object (a miss) and writes it to Redis.
curl -s -o /dev/null -x http://127.0.0.1:13001 http://127.0.0.1:18080/1k
sleep 0.5
run() { # port -> req/s
  [ -n "${DEBUG:-}" ] && TARGET=http://127.0.0.1:18080/1k wrk -t1 -c50 -d1s -s "$LUA" "http://127.0.0.1:$1" >&2
  TARGET=http://127.0.0.1:18080/1k wrk -t1 -c50 -d"${D}s" -s "$LUA" "http://127.0.0.1:$1" 2>&1 |
    awk '/Requests\/sec/{r=$2} /Non-2xx|Socket errors/{e=1} END{ if (e) r=r"!"; print r }'
}
median() { tr ' ' '\n' | grep -v '^$' | tr -d '!' | sort -g | awk '{v[NR]=$1} END{ print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2 }'; }
A="" B="" C=""
for round in $(seq "$ROUNDS"); do
  # C: a fresh instance with a memory tier, cold, joining the warm fleet.
  "$BIN" --listen 127.0.0.1:13003 "${common[@]}" 2>"$W/logs/c.err" & pc=$!
  sleep 0.5
  a=$(run 13001); b=$(run 13002); c=$(run 13003)
  kill "$pc"; wait "$pc" 2>/dev/null || true
  echo "round $round: memory-hit A=$a  redis-hit B=$b  cold-joiner C=$c" >&2
  A+=" $a"; B+=" $b"; C+=" $c"
done
ma=$(echo "$A" | median); mb=$(echo "$B" | median); mc=$(echo "$C" | median)
grep -h "shared cache tier" "$W"/logs/*.err | grep -v "level=INFO msg=\"shared cache tier\"" >&2 || true
printf 'req/s medians of %s rounds: memory-hit %s, redis-hit %s, cold-joiner %s\n' "$ROUNDS" "$ma" "$mb" "$mc"
awk -v a="$ma" -v b="$mb" -v c="$mc" 'BEGIN{ printf "ratios: redis-hit/memory-hit=%.2f cold-joiner/memory-hit=%.2f\n", b/a, c/a }'
