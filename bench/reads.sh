#!/usr/bin/env bash
# ngx_compensation: read latency of two builds side by side (issue 16, the
# read path).  GET /execution_failed/{id}/snapshot and a paged query
# (POST /execution_failed/snapshot/paged, page size 10) with wrk, one
# connection and 16, on stores of their own seeded with the same executions.
#
#   MODULE_A=<before.so> bench/reads.sh [rounds]     default 3 rounds
#
# Instances: a = MODULE_A, b = MODULE (this tree's build), c = MODULE with
# TEST_COMPENSATION_READ_THREAD=1 (the read executor's thread hop on the
# SQLite file: what a server store's reads pay for the hop, without the
# network).  One worker each, on BENCH_PORT, +1, +2.  Each round runs every
# case on a, b, c in turn (alternating, same run); the table gives the
# median of the rounds.
#
# Environment: BENCH_DIR (default /tmp/cf-bench-reads), BENCH_PORT (2139),
# NGINX, MODULE, MODULE_A, SEED (executions, default 1000), DURATION (5s).

set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/bench/lib.sh"
ROUNDS=${1:-3}
DIR=${BENCH_DIR:-/tmp/cf-bench-reads}
PORT=${BENCH_PORT:-2139}
NGINX=${NGINX:-/usr/sbin/nginx}
MODULE=${MODULE:-$ROOT/build/ngx_http_compensation_module.so}
MODULE_A=${MODULE_A:?MODULE_A: the build to compare with}
SEED=${SEED:-1000}
DURATION=${DURATION:-5s}

INSTANCES=("a $MODULE_A $PORT 0" "b $MODULE $(( PORT + 1 )) 0"
           "c $MODULE $(( PORT + 2 )) 1")

conf() { bench_conf_one "$@"; }

stop() { bench_stop_dir "$1"; }
stop_all() {
    local i
    for i in "${INSTANCES[@]}"; do set -- $i; stop "$DIR/$1"; done
}
trap stop_all EXIT

body='{"eventId":{"id":"0U2mSzz10001001","version":1,"aggregateId":{"contextName":"order-service","aggregateName":"order","aggregateId":"0U2mSz9k0001000","tenantId":"(0)"}},"function":{"functionKind":"EVENT","contextName":"order-service","processorName":"OrderProjector","name":"onOrderCreated"},"error":{"errorCode":"BadRequest","errorMsg":"boom","stackTrace":"java.lang.IllegalStateException"},"executeAt":1719800000000,"retrySpec":{"maxRetries":10,"minBackoff":180,"executionTimeout":120}}'

mkdir -p "$DIR"

cat > "$DIR/report.lua" <<'LUA'
done = function(summary, latency, requests)
  local s = summary.duration / 1e6
  io.write(string.format("RESULT %.0f %.3f %.3f %d\n",
    summary.requests / s, latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, summary.errors.status))
end
LUA

cat > "$DIR/create.lua" <<LUA
local n = 0
request = function()
  n = n + 1
  return wrk.format("POST", "/execution_failed/create_execution_failed",
    { ["Content-Type"] = "application/json",
      ["Command-Aggregate-Id"] = string.format("rd-%06d", n) }, '$body')
end
LUA

cat > "$DIR/paged.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"condition":{"operator":"ALL"},"sort":[{"field":"aggregateId","direction":"DESC"}],"pagination":{"index":1,"size":10}}'
LUA

wrkrun() {  # conns url [script] -> "rps p50 p99 non2xx"
    local s="$DIR/run.$BASHPID.lua"
    cat "$DIR/report.lua" > "$s"
    [ -n "${3:-}" ] && cat "$3" >> "$s"
    wrk -t1 -c"$1" -d"$DURATION" -s "$s" "$2" \
        | awk '/^RESULT/ { print $2, $3, $4, $5 }'
    rm -f "$s"
}

for i in "${INSTANCES[@]}"; do
    set -- $i
    d="$DIR/$1"
    stop "$d"
    rm -rf "$d"
    conf "$d" "$2" "$3"
    TEST_COMPENSATION_READ_THREAD=$4 "$NGINX" -p "$d" -c conf/nginx.conf \
        -e "$d/logs/error.log"
done
sleep 1

# the same executions in every store: SEED creates, one connection
for i in "${INSTANCES[@]}"; do
    set -- $i
    s="$DIR/seed.lua"
    cat "$DIR/create.lua" > "$s"
    cat >> "$s" <<LUA
response = function(status, headers, body)
  if n >= $SEED then wrk.thread:stop() end
end
LUA
    wrk -t1 -c1 -d120s -s "$s" "http://127.0.0.1:$3" > /dev/null
    curl -sf -o /dev/null "http://127.0.0.1:$3/execution_failed/rd-000500/snapshot"
done

echo "machine: $(nproc) x $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo), $(uname -r); load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "wrk -t1 -d$DURATION, one worker per nginx, $SEED executions, $ROUNDS rounds (median), a/b/c alternating"

declare -A res
for r in $(seq "$ROUNDS"); do
    for conns in 1 16; do
        for i in "${INSTANCES[@]}"; do
            set -- $i
            u="http://127.0.0.1:$3"
            res["snap $conns $1"]+="$(wrkrun "$conns" "$u/execution_failed/rd-000500/snapshot")"$'\n'
            res["paged $conns $1"]+="$(wrkrun "$conns" "$u/execution_failed/snapshot/paged" "$DIR/paged.lua")"$'\n'
        done
    done
done

median() { sort -n | awk 'NF { v[++n] = $1 } END { print v[int((n + 1) / 2)] }'; }

printf '%-6s %5s %-4s %9s %9s %9s %6s\n' route conns build req/s p50_ms p99_ms non2xx
for k in snap paged; do
    for conns in 1 16; do
        for b in a b c; do
            v="${res[$k $conns $b]}"
            printf '%-6s %5s %-4s %9s %9s %9s %6s\n' "$k" "$conns" "$b" \
                "$(echo "$v" | awk '{print $1}' | median)" \
                "$(echo "$v" | awk '{print $2}' | median)" \
                "$(echo "$v" | awk '{print $3}' | median)" \
                "$(echo "$v" | awk '{s += $4} END {print s + 0}')"
        done
    done
done
