#!/usr/bin/env bash
# The WAL under writes and a sustained read load (issue 20, item 5): 16
# connections create executions while 48 read (state reads and snapshot list
# queries) for DUR; the WAL file's size is sampled every 0.1 s.  Prints the
# largest size seen and the size 3 s after the load.  Usage:
#   bench/wal-reads.sh [duration] ; MODULE=... for another build,
#   BENCH_PORT (default 19260), THREAD_POOL=1 for the store thread.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dur="${1:-20s}"
nginx="${NGINX_BIN:-/usr/sbin/nginx}"
module="${MODULE:-$root/build/ngx_http_compensation_module.so}"
port=${BENCH_PORT:-19260}
work="$(mktemp -d /tmp/cf-walreads.XXXXXX)"
trap '"$nginx" -p "$work/" -c conf/nginx.conf -s quit 2>/dev/null || true; sleep 0.5; rm -rf "$work"' EXIT

command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 1; }

mkdir -p "$work/conf" "$work/logs"
{
    echo "load_module $module;"
    [ "$(id -u)" = 0 ] && echo "user root;"
    echo "worker_processes 2;"
    echo "error_log logs/error.log warn;"
    echo "pid logs/nginx.pid;"
    [ -n "${THREAD_POOL:-}" ] && echo "thread_pool compensation threads=1;"
    echo "events { worker_connections 1024; }"
    echo "http {"
    echo "    access_log off;"
    echo "    client_body_temp_path logs/cb; proxy_temp_path logs/p;"
    echo "    fastcgi_temp_path logs/f; uwsgi_temp_path logs/u; scgi_temp_path logs/s;"
    echo "    compensation_store logs/wal.db;"
    [ -n "${THREAD_POOL:-}" ] && echo "    compensation_thread_pool compensation;"
    echo "    server { listen 127.0.0.1:$port backlog=4096; location / { compensation_api; } }"
    echo "}"
} > "$work/conf/nginx.conf"

"$nginx" -p "$work/" -c conf/nginx.conf -e logs/error.log
sleep 0.5
url="http://127.0.0.1:$port"

body='{"eventId":{"id":"0U2mSzz10001001","version":1,"aggregateId":{"contextName":"order-service","aggregateName":"order","aggregateId":"0U2mSz9k0001000","tenantId":"(0)"}},"function":{"functionKind":"EVENT","contextName":"order-service","processorName":"OrderProjector","name":"onOrderCreated"},"error":{"errorCode":"BadRequest","errorMsg":"boom","stackTrace":"java.lang.IllegalStateException"},"executeAt":1719800000000}'

for i in $(seq 1 100); do
    curl -sf -o /dev/null -X POST "$url/execution_failed/create_execution_failed" \
        -H 'Content-Type: application/json' -H "Command-Aggregate-Id: w$i" -d "$body"
done

cat > "$work/create.lua" <<LUA
wrk.method = "POST"
wrk.body = '$body'
wrk.headers["Content-Type"] = "application/json"
LUA
cat > "$work/read.lua" <<'LUA'
local n = 0
request = function()
  n = n + 1
  if n % 4 == 0 then
    return wrk.format("POST", "/execution_failed/snapshot/list",
      {["Content-Type"] = "application/json"},
      '{"condition":{"operator":"ALL"},"limit":10}')
  end
  return wrk.format("GET", "/execution_failed/w" .. (n % 100 + 1) .. "/state")
end
LUA

wal="$work/logs/wal.db-wal"
( max=0; end=$(( $(date +%s) + ${dur%s} + 1 ))
  while [ "$(date +%s)" -le "$end" ]; do
      s=$(stat -c %s "$wal" 2>/dev/null || echo 0)
      [ "$s" -gt "$max" ] && max=$s
      sleep 0.1
  done; echo "$max" > "$work/max" ) &
sampler=$!

wrk -t1 -c16 -d"$dur" -s "$work/create.lua" "$url/execution_failed/create_execution_failed" > "$work/w.txt" &
wrk -t1 -c48 -d"$dur" -s "$work/read.lua" "$url" > "$work/r.txt"
wait

sleep 3
final=$(stat -c %s "$wal" 2>/dev/null || echo 0)
echo "writes: $(awk '/Requests\/sec/ {print $2}' "$work/w.txt") req/s; reads: $(awk '/Requests\/sec/ {print $2}' "$work/r.txt") req/s"
echo "largest WAL: $(awk -v b="$(cat "$work/max")" 'BEGIN {printf "%.1f MB", b / 1048576}'); 3 s after the load: $(awk -v b="$final" 'BEGIN {printf "%.1f MB", b / 1048576}')"
