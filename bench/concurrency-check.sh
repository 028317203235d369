#!/usr/bin/env bash
# Group commit check (not a timed test): 400 concurrent creates from 64
# clients, 100 Command-Request-Ids used 4 times each over 200 aggregate ids
# (each created twice).  Exactly one 200 per request id, every other answer a
# 400, every snapshot at the head of its event stream, no [error]/[alert].
#   bench/concurrency-check.sh      (port BENCH_PORT+2, default 19252)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
D=${BENCH_DIR:-$root/bench/.work}/gc
PORT=$(( ${BENCH_PORT:-19250} + 2 ))
mkdir -p "$D/logs" "$D/tmp"
cat > "$D/nginx.conf" <<CONF
load_module $root/build/ngx_http_compensation_module.so;
$( [ "$(id -u)" = 0 ] && echo "user root;" )
worker_processes 2;
error_log $D/logs/error.log info;
pid $D/logs/nginx.pid;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $D/tmp/cb; proxy_temp_path $D/tmp/p;
    fastcgi_temp_path $D/tmp/f; uwsgi_temp_path $D/tmp/u; scgi_temp_path $D/tmp/s;
    compensation_store $D/gc.db;
    server { listen 127.0.0.1:$PORT backlog=4096; location / { compensation_api; } }
}
CONF
rm -f "$D"/gc.db* "$D/logs/error.log"
/usr/sbin/nginx -p "$D/" -c "$D/nginx.conf"
trap 'kill -QUIT $(cat "$D/logs/nginx.pid") 2>/dev/null || true' EXIT
sleep 0.5
body='{"eventId":{"id":"0U2mSzz10001001","version":1,"aggregateId":{"contextName":"order-service","aggregateName":"order","aggregateId":"0U2mSz9k0001000","tenantId":"(0)"}},"function":{"functionKind":"EVENT","contextName":"order-service","processorName":"OrderProjector","name":"onOrderCreated"},"error":{"errorCode":"BadRequest","errorMsg":"boom","stackTrace":"x"},"executeAt":1719800000000,"retrySpec":{"maxRetries":10,"minBackoff":180,"executionTimeout":120}}'
export body PORT
seq 0 399 | xargs -P 64 -I{} sh -c 'i={}; curl -s -o /dev/null -w "%{http_code} rq$((i % 100))\n" -X POST "http://127.0.0.1:$PORT/execution_failed/create_execution_failed" -H "Content-Type: application/json" -H "Command-Request-Id: rq$((i % 100))" -H "Command-Aggregate-Id: agg$((i % 200))" -d "$body"' > "$D/out.txt"
ok=$(awk '$1 == 200' "$D/out.txt" | wc -l)
bad=$(awk '$1 != 200 && $1 != 400' "$D/out.txt" | wc -l)
dup=$(awk '$1 == 200 {print $2}' "$D/out.txt" | sort | uniq -d | wc -l)
rows=$(sqlite3 "$D/gc.db" "select count(*) from event_stream")
behind=$(sqlite3 "$D/gc.db" "select count(*) from snapshot s where version != (select max(version) from event_stream e where e.aggregate_id = s.aggregate_id)")
echo "200: $ok (want 100), other than 200/400: $bad, request ids with two 200s: $dup, event streams: $rows (want 100), snapshots behind: $behind"
grep -E "\[(alert|crit|emerg|error)\]" "$D/logs/error.log" && exit 1
[ "$ok" = 100 ] && [ "$bad" = 0 ] && [ "$dup" = 0 ] && [ "$rows" = 100 ] && [ "$behind" = 0 ]
