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
# With MODULE_A set, two builds side by side (issue 15): the build MODULE_A
# on a store of its own (seeded the same way, its schema made by that
# build) and MODULE on another, two nginx on BENCH_PORT and BENCH_PORT+1,
# their requests alternating (A, B, A, B ...) within each category.
#
# Environment: BENCH_DIR (default /tmp/cf-bench-query; the seeded stores are
# reused when present), BENCH_PORT (2039), NGINX, MODULE, MODULE_A.

set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/bench/lib.sh"
RUNS=${1:-200}
DIR=${BENCH_DIR:-/tmp/cf-bench-query}
PORT=${BENCH_PORT:-2039}
NGINX=${NGINX:-/usr/sbin/nginx}
MODULE=${MODULE:-$ROOT/build/ngx_http_compensation_module.so}
MODULE_A=${MODULE_A:-}

# instance: subdirectory, module, port
if [ -n "$MODULE_A" ]; then
    INSTANCES=("a $MODULE_A $PORT" "b $MODULE $(( PORT + 1 ))")
else
    INSTANCES=(". $MODULE $PORT")
fi

conf() { bench_conf_one "$@"; }

start() { "$NGINX" -p "$1" -c conf/nginx.conf -e "$1/logs/error.log"; }
stop() { bench_stop_dir "$1"; }
stop_all() {
    local i d
    for i in "${INSTANCES[@]}"; do set -- $i; stop "$DIR/$1"; done
}
trap stop_all EXIT

NOW=$(( $(date +%s) * 1000 ))

for i in "${INSTANCES[@]}"; do
    set -- $i
    d="$DIR/$1"
    conf "$d" "$2" "$3"
    if [ ! -f "$d/store.db" ] || [ ! -f "$d/seeded" ]; then
        rm -f "$d"/store.db*
        start "$d"       # creates the schema, the query indexes and the rollup
        stop "$d"
        echo "seeding 1,000,000 executions into $d ..."
        t0=$(date +%s)
        sqlite3 "$d/store.db" -cmd ".parameter set :now $NOW" \
            < "$ROOT/bench/query-seed.sql"
        echo "seeded in $(( $(date +%s) - t0 )) s, $(du -h "$d/store.db" | cut -f1)"
        echo "$NOW" > "$d/seeded"
    fi
    start "$d"           # (a build of a newer schema migrates the file here)
done

# both stores were seeded with the same time, or the counts would differ
NOW=$(cat "$DIR/${INSTANCES[0]%% *}/seeded")
for i in "${INSTANCES[@]}"; do
    set -- $i
    [ "$(cat "$DIR/$1/seeded")" = "$NOW" ] \
        || { echo "$DIR/$1 was seeded at another time: remove it" >&2; exit 1; }
done

R='{"field":"state.recoverable","operator":"IN","value":["RECOVERABLE","UNKNOWN"]}'
TO_RETRY='{"field":"state.isRetryable","operator":"EQ","value":true},{"operator":"OR","children":[{"field":"state.status","operator":"EQ","value":"FAILED"},{"operator":"AND","children":[{"field":"state.status","operator":"EQ","value":"PREPARED"},{"field":"state.retryState.timeoutAt","operator":"LTE","value":'$NOW'}]}]}'

declare -A C
C[to-retry]='{"operator":"AND","children":['$R','$TO_RETRY']}'
C[executing]='{"operator":"AND","children":[{"field":"state.status","operator":"EQ","value":"PREPARED"},{"field":"state.retryState.timeoutAt","operator":"GT","value":'$NOW'}]}'
C[next-retry]='{"operator":"AND","children":['$R','$TO_RETRY',{"field":"state.retryState.nextRetryAt","operator":"LTE","value":'$NOW'}]}'
C[non-retryable]='{"operator":"AND","children":['$R',{"field":"state.status","operator":"IN","value":["FAILED","PREPARED"]},{"field":"state.isBelowRetryThreshold","operator":"EQ","value":false}]}'
C[succeeded]='{"field":"state.status","operator":"EQ","value":"SUCCEEDED"}'
C[unrecoverable]='{"operator":"AND","children":[{"field":"state.recoverable","operator":"EQ","value":"UNRECOVERABLE"},{"field":"state.status","operator":"IN","value":["FAILED","PREPARED"]}]}'

printf '%-14s %-5s %8s %9s %9s %9s\n' category build total "p50 ms" "p90 ms" "p99 ms"

for k in to-retry executing next-retry non-retryable succeeded unrecoverable; do
    body='{"condition":'"${C[$k]}"',"sort":[{"field":"aggregateId","direction":"DESC"}],"pagination":{"index":1,"size":10}}'
    declare -A T=()
    for i in "${INSTANCES[@]}"; do
        set -- $i
        T[$1]=$(curl -sf -H 'Content-Type: application/json' -d "$body" \
                "http://127.0.0.1:$3/execution_failed/snapshot/paged/state" \
                | sed -n 's/^{"total":\([0-9]*\),.*/\1/p')
        : > "$DIR/times.$(basename "$1")"
    done
    for r in $(seq 1 "$RUNS"); do
        for i in "${INSTANCES[@]}"; do
            set -- $i
            curl -s -o /dev/null -w '%{time_total}\n' \
                 -H 'Content-Type: application/json' -d "$body" \
                 "http://127.0.0.1:$3/execution_failed/snapshot/paged/state" \
                 >> "$DIR/times.$(basename "$1")"
        done
    done
    for i in "${INSTANCES[@]}"; do
        set -- $i
        b=$(basename "$1"); [ "$b" = . ] && b=-
        sort -n "$DIR/times.$(basename "$1")" | awk -v k="$k" -v t="${T[$1]}" -v b="$b" '
            { v[NR] = $1 * 1000 }
            END { printf "%-14s %-5s %8s %9.2f %9.2f %9.2f\n", k, b, t,
                  v[int(NR * 0.5)], v[int(NR * 0.9)], v[int(NR * 0.99)] }'
    done
done
