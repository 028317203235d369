#!/usr/bin/env bash
# ngx_compensation benchmark: edge isolation (issue 15): bench/isolation.sh
#
# Does the store work of a worker stall the other connections it serves?  A
# light probe (bench/probe.c: PROBE_CONNS keep-alive connections, one request
# at a time, PROBE_PAUSE_US between requests) asks a `return 204` location of
# the same nginx while wrk drives
#   (write)  creates at full load (a fresh aggregate per request), or
#   (static) a `return 200` of a same-size JSON body at the same concurrency:
#            the same CPU contention without the store.
# The probe's p99.9 and max under the write load are compared with those
# under the static load, per configuration (MODES): "default" (the store
# work in the module's store thread), "off" (compensation_thread_pool off:
# group commit on the event loop, the old default) and "pool"
# (compensation_thread_pool with an nginx pool of one thread).  Rounds
# alternate static and write, REPEAT times; each figure is the median.
#
# REGEN=1: during the write load, a client also regenerates snapshots in
# batches of 1,000 (PUT /execution_failed/snapshot/{afterId}/1000) in a loop.
#
# SECOND_WRITER=1: a second nginx (default configuration, BENCH_PORT + 1) on
# the same store file gets creates from a second wrk (-t1 -c16) through
# every round, static and write alike: the first nginx's commands then also
# wait for the write lock that the other one holds.
#
# STORE=<PostgreSQL DSN>: the nginx use that database instead of a SQLite
# file (e.g. a cluster of scripts/pg-cluster.sh; MODES=default only: "off"
# is refused with PostgreSQL).
#
# Environment knobs:
#   SECONDS_PER_RUN=10 CONNS=64 THREADS=2 REPEAT=3 BENCH_PORT=19270
#   PROBE_CONNS=4 PROBE_PAUSE_US=1000 MODES="default off" SECOND_WRITER=0
#   REGEN=0 STORE=<dsn>
#   BENCH_DIR=bench/.work/isolation
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
. "$root/bench/conf.sh"
SECS=${SECONDS_PER_RUN:-10}
CONNS=${CONNS:-64}
THREADS=${THREADS:-2}
REPEAT=${REPEAT:-3}
PORT=${BENCH_PORT:-19270}
PROBE_CONNS=${PROBE_CONNS:-4}
PROBE_PAUSE_US=${PROBE_PAUSE_US:-1000}
MODES=${MODES:-default off}
SECOND_WRITER=${SECOND_WRITER:-0}
REGEN=${REGEN:-0}
DIR=${BENCH_DIR:-$root/bench/.work/isolation}
NGINX=${NGINX:-/usr/sbin/nginx}
url="http://127.0.0.1:$PORT"

command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 1; }
[ -f "$root/build/ngx_http_compensation_module.so" ] || make -C "$root" build >/dev/null

mkdir -p "$DIR/conf" "$DIR/logs"
mkdir -p "$DIR/second/logs"
: > "$DIR/logs/error.log"; : > "$DIR/second/logs/error.log"
cc -O2 -Wall -o "$DIR/probe" "$root/bench/probe.c"

body='{"eventId":{"id":"0U2mSzz10001001","version":1,"aggregateId":{"contextName":"order-service","aggregateName":"order","aggregateId":"0U2mSz9k0001000","tenantId":"(0)"}},"function":{"functionKind":"EVENT","contextName":"order-service","processorName":"OrderProjector","name":"onOrderCreated"},"error":{"errorCode":"BadRequest","errorMsg":"boom","stackTrace":"java.lang.IllegalStateException"},"executeAt":1719800000000,"retrySpec":{"maxRetries":10,"minBackoff":180,"executionTimeout":120}}'
result='{"id":"0Vbk6Jok055l004","waitCommandId":"0Vbk6Jok055l000","stage":"PROCESSED","contextName":"compensation-service","aggregateName":"execution_failed","tenantId":"(0)","aggregateId":"0Vbk6Jok055l001","aggregateVersion":1,"requestId":"0Vbk6Jok055l000","commandId":"0Vbk6Jok055l000","function":{"functionKind":"COMMAND","contextName":"compensation-service","processorName":"ExecutionFailed","name":"onCreate"},"errorCode":"Ok","errorMsg":"","result":{},"signalTime":1795385435494,"succeeded":true}'

conf() {  # $1: default | off | pool, $2: prefix, $3: port
mkdir -p "$2/conf" "$2/logs"
cat > "$2/conf/nginx.conf" <<CONF
$(bench_conf_main "$root")
thread_pool compensation threads=1;
worker_rlimit_nofile 4096;
events { worker_connections 1024; }
http {
    access_log off;
    keepalive_requests 1000000;     # the probe's connections stay open
    client_body_temp_path logs/cb; proxy_temp_path logs/p;
    fastcgi_temp_path logs/f; uwsgi_temp_path logs/u; scgi_temp_path logs/s;
    compensation_store "${STORE:-$DIR/iso.db}";
    $([ -n "${STORE:-}" ] && echo "compensation_machine_id $(($3 % 1000));")
    $(case "$1" in off) echo "compensation_thread_pool off;" ;; pool) echo "compensation_thread_pool compensation;" ;; esac)
    server {
        listen 127.0.0.1:$3 backlog=4096;
        location / { compensation_api; }
        location = /probe { return 204; }
        location = /static { default_type application/json; return 200 '$result'; }
    }
}
CONF
}

start() {  # $1: mode, $2: prefix, $3: port
    conf "$1" "$2" "$3"
    "$NGINX" -p "$2/" -c "$2/conf/nginx.conf" -e "$2/logs/error.log"
    for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$3/probe" && return 0; sleep 0.1; done
    echo "nginx did not start" >&2; exit 1
}
stop1() {  # $1: prefix
    if [ -f "$1/logs/nginx.pid" ]; then
        local pid; pid=$(cat "$1/logs/nginx.pid")
        kill -QUIT "$pid" 2>/dev/null || true
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        rm -f "$1/logs/nginx.pid"
    fi
}
stop() { stop1 "$DIR"; stop1 "$DIR/second"; }
trap stop EXIT

cat > "$DIR/create.lua" <<LUA
wrk.method = "POST"
wrk.body = '$body'
wrk.headers["Content-Type"] = "application/json"
done = function(summary, latency, requests)
  io.write(string.format("RESULT %.0f %d\n",
    summary.requests / (summary.duration / 1e6), summary.errors.status))
end
LUA
sed -n '/^done/,$p' "$DIR/create.lua" > "$DIR/static.lua"

# $1: write | static -> "probe: n errors p50 p99 p99.9 max" and "wrk: rps non2xx"
round() {
    local path=/static script="$DIR/static.lua" w p
    [ "$1" = write ] && { path=/execution_failed/create_execution_failed; script="$DIR/create.lua"; }
    wrk -t"$THREADS" -c"$CONNS" -d"$((SECS + 2))s" -s "$script" "$url$path" > "$DIR/wrk.out" &
    w=$!
    if [ "$SECOND_WRITER" = 1 ]; then
        wrk -t1 -c16 -d"$((SECS + 2))s" -s "$DIR/create.lua" \
            "http://127.0.0.1:$((PORT + 1))/execution_failed/create_execution_failed" \
            > "$DIR/wrk2.out" &
    fi
    local g=
    if [ "$REGEN" = 1 ] && [ "$1" = write ]; then
        regen & g=$!
    fi
    sleep 1
    p=$("$DIR/probe" 127.0.0.1 "$PORT" /probe "$SECS" "$PROBE_CONNS" "$PROBE_PAUSE_US")
    wait "$w"
    [ -n "$g" ] && { kill "$g" 2>/dev/null || true; wait "$g" 2>/dev/null || true; }
    [ "$SECOND_WRITER" = 1 ] && wait
    echo "$p $(awk '/^RESULT/ { print $2, $3 }' "$DIR/wrk.out")"
}

# REGEN=1: batch regenerations of 1,000 snapshots, one after the other, from
# the start of the ids, for as long as the write load lasts
regen() {
    local end=$((SECONDS + SECS + 2))
    while [ "$SECONDS" -lt "$end" ]; do
        curl -s -o /dev/null -X PUT "$url/execution_failed/snapshot/0/1000" || true
    done
}

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
col() { awk -v c="$1" '{ print $c }' "$2" | median; }

echo "machine: $(nproc) x $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo), $(uname -r); load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
[ "$SECOND_WRITER" = 1 ] && echo "with a second nginx on the same store file, driven by wrk -t1 -c16 creates"
[ -n "${STORE:-}" ] && echo "store: PostgreSQL $(psql "$STORE" -Atc 'SHOW server_version' 2>/dev/null || true)"
[ "$REGEN" = 1 ] && echo "with batch regenerations of 1,000 snapshots in a loop during the write load"
echo "wrk -t$THREADS -c$CONNS ${SECS}s; probe: $PROBE_CONNS keep-alive connections, one request at a time, ${PROBE_PAUSE_US} us pause; 2 workers; $REPEAT rounds (median)"

table=()
for mode in $MODES; do
    rm -f "$DIR"/iso.db*
    start "$mode" "$DIR" "$PORT"
    [ "$SECOND_WRITER" = 1 ] && start default "$DIR/second" "$((PORT + 1))"
    : > "$DIR/static.rows"; : > "$DIR/write.rows"
    for r in $(seq "$REPEAT"); do
        for load in static write; do
            line=$(round "$load")
            echo "  $mode round $r $load: $line" >&2
            echo "$line" | awk '{ print $2, $3, $4, $5, $6, $7, $8, $9 }' >> "$DIR/$load.rows"
        done
    done
    stop
    # columns: n errors p50 p99 p99.9 max wrk_rps wrk_non2xx
    for load in static write; do
        f="$DIR/$load.rows"
        table+=("| $mode | $load | $(col 7 "$f") | $(col 1 "$f") | $(col 3 "$f") | $(col 4 "$f") | $(col 5 "$f") | $(col 6 "$f") |")
    done
    s999=$(col 5 "$DIR/static.rows"); w999=$(col 5 "$DIR/write.rows")
    smax=$(col 6 "$DIR/static.rows"); wmax=$(col 6 "$DIR/write.rows")
    table+=("| $mode | write / static | | | | | $(awk -v a="$w999" -v b="$s999" 'BEGIN { printf "%.2fx", a / b }') | $(awk -v a="$wmax" -v b="$smax" 'BEGIN { printf "%.2fx", a / b }') |")
done

echo
echo "| configuration | wrk load | wrk req/s | probe requests | probe p50 ms | p99 ms | p99.9 ms | max ms |"
echo "|---|---|---|---|---|---|---|---|"
printf '%s\n' "${table[@]}"

if grep -hE '\[(alert|crit|emerg)\]' "$DIR/logs/error.log" "$DIR/second/logs/error.log" 2>/dev/null; then
    echo "nginx logged alerts (above)" >&2; exit 1
fi
