#!/usr/bin/env bash
# ngx_compensation: scrape cost of GET /actuator/prometheus (issue 18).
#
# Seeds N executions (default 100,000) directly into a store with sqlite3
# (bench/query-seed.sql scaled to N: the mixed distribution of the query
# benchmark), times the scrape with curl (time_total, a new connection per
# request), then turns every execution into a due, retryable FAILED one (a
# backlog of N: the worst case for the Next Retry count, the only count that
# reads as many index entries as executions match) and times it again.
#
#   bench/metrics.sh [runs] [N]      default 200 scrapes, 100000 executions
#
# Environment: BENCH_DIR (default /tmp/cf-bench-metrics), BENCH_PORT (2039),
# NGINX, MODULE.

set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${1:-200}
N=${2:-100000}
DIR=${BENCH_DIR:-/tmp/cf-bench-metrics}
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
URL="http://127.0.0.1:$PORT/actuator/prometheus"

scrape() {
    curl -sf "$URL" | grep '^compensation_executions' | sed 's/^/    /'
    for i in $(seq 1 "$RUNS"); do
        curl -s -o /dev/null -w '%{time_total}\n' "$URL"
    done | sort -n | awk -v k="$1" '
        { v[NR] = $1 * 1000 }
        END { printf "%-8s p50 %.2f ms  p90 %.2f ms  p99 %.2f ms\n", k,
              v[int(NR * 0.5)], v[int(NR * 0.9)], v[int(NR * 0.99)] }'
}

rm -f "$DIR"/store.db*
start            # creates the schema, the query indexes and the rollup
stop
echo "seeding $N executions ..."
sed -e "s/999999/$(( N - 1 ))/" -e "s/1000000/$N/" "$ROOT/bench/query-seed.sql" \
    | sqlite3 "$DIR/store.db" -cmd ".parameter set :now $NOW"

start
scrape mixed
stop

sqlite3 "$DIR/store.db" "UPDATE snapshot SET status = 'FAILED',
    recoverable = 'RECOVERABLE', deleted = 0, retries = 1, is_retryable = 1,
    is_below_retry_threshold = 1, next_retry_at = $NOW - 60000"

start
scrape backlog
