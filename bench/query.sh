#!/usr/bin/env bash
# ngx_compensation: query benchmark (issue 4, spec 8.2).
#
# Seeds 1,000,000 executions directly into a store with sqlite3
# (bench/query-seed.sql), then times POST /execution_failed/snapshot/paged/state
# for each dashboard category of spec 8.2 (page size 10, sorted by
# aggregateId DESC, the HEAD conditions with IN) through a running nginx with
# the module, with curl (time_total of each request, keep-alive off).
#
#   bench/query.sh [runs]            default 200 requests per category
#
# Environment: BENCH_DIR (default /tmp/cf-bench-query; the seeded store is
# reused when present), BENCH_PORT (2039), NGINX, MODULE.

set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${1:-200}
DIR=${BENCH_DIR:-/tmp/cf-bench-query}
PORT=${BENCH_PORT:-2039}
NGINX=${NGINX:-/usr/sbin/nginx}
MODULE=${MODULE:-$ROOT/build/ngx_http_compensation_module.so}

mkdir -p "$DIR/conf" "$DIR/logs" "$DIR/tmp"

cat > "$DIR/conf/nginx.conf" <<_EOC_
load_module $MODULE;
daemon on;
worker_processes 1;
error_log $DIR/logs/error.log warn;
pid $DIR/logs/nginx.pid;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path $DIR/tmp/body;
    proxy_temp_path $DIR/tmp/proxy;
    fastcgi_temp_path $DIR/tmp/fastcgi;
    uwsgi_temp_path $DIR/tmp/uwsgi;
    scgi_temp_path $DIR/tmp/scgi;
    compensation_store $DIR/store.db;
    server {
        listen 127.0.0.1:$PORT;
        location / { compensation_api; }
    }
}
_EOC_

start() { "$NGINX" -p "$DIR" -c conf/nginx.conf -e "$DIR/logs/error.log"; }
stop() {
    if [ -f "$DIR/logs/nginx.pid" ]; then
        kill -QUIT "$(cat "$DIR/logs/nginx.pid")" 2>/dev/null || true
        sleep 1
    fi
}
trap stop EXIT

NOW=$(( $(date +%s) * 1000 ))

if [ ! -f "$DIR/store.db" ] || [ ! -f "$DIR/seeded" ]; then
    rm -f "$DIR"/store.db*
    start            # creates the schema, the query indexes and the rollup
    stop
    echo "seeding 1,000,000 executions ..."
    t0=$(date +%s)
    sqlite3 "$DIR/store.db" -cmd ".parameter set :now $NOW" \
        < "$ROOT/bench/query-seed.sql"
    echo "seeded in $(( $(date +%s) - t0 )) s, $(du -h "$DIR/store.db" | cut -f1)"
    echo "$NOW" > "$DIR/seeded"
fi

NOW=$(cat "$DIR/seeded")
start

R='{"field":"state.recoverable","operator":"IN","value":["RECOVERABLE","UNKNOWN"]}'
TO_RETRY='{"field":"state.isRetryable","operator":"EQ","value":true},{"operator":"OR","children":[{"field":"state.status","operator":"EQ","value":"FAILED"},{"operator":"AND","children":[{"field":"state.status","operator":"EQ","value":"PREPARED"},{"field":"state.retryState.timeoutAt","operator":"LTE","value":'$NOW'}]}]}'

declare -A C
C[to-retry]='{"operator":"AND","children":['$R','$TO_RETRY']}'
C[executing]='{"operator":"AND","children":[{"field":"state.status","operator":"EQ","value":"PREPARED"},{"field":"state.retryState.timeoutAt","operator":"GT","value":'$NOW'}]}'
C[next-retry]='{"operator":"AND","children":['$R','$TO_RETRY',{"field":"state.retryState.nextRetryAt","operator":"LTE","value":'$NOW'}]}'
C[non-retryable]='{"operator":"AND","children":['$R',{"field":"state.status","operator":"IN","value":["FAILED","PREPARED"]},{"field":"state.isBelowRetryThreshold","operator":"EQ","value":false}]}'
C[succeeded]='{"field":"state.status","operator":"EQ","value":"SUCCEEDED"}'
C[unrecoverable]='{"operator":"AND","children":[{"field":"state.recoverable","operator":"EQ","value":"UNRECOVERABLE"},{"field":"state.status","operator":"IN","value":["FAILED","PREPARED"]}]}'

URL="http://127.0.0.1:$PORT/execution_failed/snapshot/paged/state"

printf '%-14s %8s %9s %9s %9s\n' category total "p50 ms" "p90 ms" "p99 ms"

for k in to-retry executing next-retry non-retryable succeeded unrecoverable; do
    body='{"condition":'"${C[$k]}"',"sort":[{"field":"aggregateId","direction":"DESC"}],"pagination":{"index":1,"size":10}}'
    total=$(curl -sf -H 'Content-Type: application/json' -d "$body" "$URL" \
            | sed -n 's/^{"total":\([0-9]*\),.*/\1/p')
    for i in $(seq 1 "$RUNS"); do
        curl -s -o /dev/null -w '%{time_total}\n' \
             -H 'Content-Type: application/json' -d "$body" "$URL"
    done | sort -n | awk -v k="$k" -v t="$total" '
        { v[NR] = $1 * 1000 }
        END { printf "%-14s %8s %9.2f %9.2f %9.2f\n", k, t,
              v[int(NR * 0.5)], v[int(NR * 0.9)], v[int(NR * 0.99)] }'
done
