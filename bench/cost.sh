#!/usr/bin/env bash
# ngx_compensation benchmark: the cost per command against the bare loop
# (issue 15), two module builds side by side.
#
# In each round, alternating the order of the builds from round to round:
#   - the bare loop: bench/ceiling.c -m bare (one event insert and one
#     snapshot upsert per transaction, the two tables with their primary
#     keys only; WAL, synchronous=NORMAL), 1 and 2 processes, the better;
#   - per build: nginx (2 workers, the default configuration) on a store of
#     its own, wrk creates, then the prepare/apply cycle (bench/bench.sh's
#     scripts), then the ceiling against a copy of that store's schema (the
#     pages a transaction writes with that build's indexes and trigger).
# Prints each round and the medians, with the creates and the cycle as a
# fraction of the bare loop of the same round.
#
#   MODULE_A=<before .so> MODULE_B=<after .so> bench/cost.sh
#
# Environment: REPEAT=3 DURATION=5s CONNS=64 THREADS=2 BENCH_PORT=19350
# BENCH_DIR=bench/.work/cost.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
. "$root/bench/lib.sh"
DURATION=${DURATION:-5s}
CONNS=${CONNS:-64}
THREADS=${THREADS:-2}
REPEAT=${REPEAT:-3}
PORT=${BENCH_PORT:-19350}
DIR=${BENCH_DIR:-$root/bench/.work/cost}
NGINX=${NGINX:-/usr/sbin/nginx}
MODULE_A=${MODULE_A:?the build to compare with (a module .so)}
MODULE_B=${MODULE_B:-$root/build/ngx_http_compensation_module.so}
url="http://127.0.0.1:$PORT"

mkdir -p "$DIR/conf" "$DIR/logs" "$DIR/tmp"
: > "$DIR/logs/error.log"
cc -O2 -Wall -o "$DIR/ceiling" "$root/bench/ceiling.c" -lsqlite3

body='{"eventId":{"id":"0U2mSzz10001001","version":1,"aggregateId":{"contextName":"order-service","aggregateName":"order","aggregateId":"0U2mSz9k0001000","tenantId":"(0)"}},"function":{"functionKind":"EVENT","contextName":"order-service","processorName":"OrderProjector","name":"onOrderCreated"},"error":{"errorCode":"BadRequest","errorMsg":"boom","stackTrace":"java.lang.IllegalStateException"},"executeAt":1719800000000,"retrySpec":{"maxRetries":10,"minBackoff":180,"executionTimeout":120}}'

start() {  # $1: module, $2: store file
    cat > "$DIR/conf/nginx.conf" <<CONF
load_module $1;
$( [ "$(id -u)" = 0 ] && echo "user root;" )
worker_processes 2;
worker_rlimit_nofile 4096;
error_log $DIR/logs/error.log warn;
pid $DIR/logs/nginx.pid;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $DIR/tmp/cb; proxy_temp_path $DIR/tmp/p;
    fastcgi_temp_path $DIR/tmp/f; uwsgi_temp_path $DIR/tmp/u;
    scgi_temp_path $DIR/tmp/s;
    compensation_store $2;
    server {
        listen 127.0.0.1:$PORT backlog=4096;
        location / { compensation_api; }
    }
}
CONF
    "$NGINX" -p "$DIR/" -c "$DIR/conf/nginx.conf" -e "$DIR/logs/error.log"
    for _ in $(seq 50); do curl -s -o /dev/null "$url/actuator/health" && return 0; sleep 0.1; done
    echo "nginx did not start" >&2; exit 1
}
stop() { bench_stop_wait; }
trap stop EXIT

# bench/bench.sh's wrk scripts: creates, and the time-ordered cycle
cat > "$DIR/report.lua" <<'LUA'
done = function(summary, latency, requests)
  local s = summary.duration / 1e6
  io.write(string.format("RESULT %.0f %.3f %.3f %d %d %d\n",
    summary.requests / s, latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, summary.errors.status, summary.requests,
    summary.errors.connect + summary.errors.read + summary.errors.write
      + summary.errors.timeout))
end
LUA
cat > "$DIR/create.lua" <<LUA
wrk.method = "POST"
wrk.body = '$body'
wrk.headers["Content-Type"] = "application/json"
LUA
sed -n "/^cat > \"\$DIR\/cycle.lua\" <<'LUA'$/,/^LUA$/p" "$root/bench/bench.sh" \
    | sed '1d;$d' > "$DIR/cycle.lua"
sed -i "s|^local body = BODY|local body = '$body'|; s|^local ordered = ORDERED|local ordered = true|" "$DIR/cycle.lua"
grep -q "^local ordered = true" "$DIR/cycle.lua" || { echo "cycle.lua not found in bench.sh" >&2; exit 1; }

wrkrun() {  # url [script] -> "rps p50 p99 errors requests socket-errors"
    local s="$DIR/run.$BASHPID.lua"
    cat "$DIR/report.lua" > "$s"
    [ -n "${2:-}" ] && cat "$2" >> "$s"
    wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" -s "$s" "$1" \
        | awk '/^RESULT/ { print $2, $3, $4, $5, $6, $7 }'; rm -f "$s"
}
ceiling() { "$DIR/ceiling" -d "${DURATION%s}" "$@" | awk '{print $2, $3, $4, $5}'; }
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

echo "machine: $(nproc) x $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo), SQLite $(sqlite3 --version | cut -d' ' -f1); load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "A: $MODULE_A"
echo "B: $MODULE_B"
echo "wrk -t$THREADS -c$CONNS -d$DURATION, 2 nginx workers, $REPEAT rounds"

rm -f "$DIR"/a.db* "$DIR"/b.db* "$DIR"/bare.db* "$DIR"/ceil-a.db* "$DIR"/ceil-b.db*
for m in a b; do
    mod=MODULE_${m^^}
    start "${!mod}" "$DIR/$m.db"; stop
    # the schema that build made, for its ceiling
    sqlite3 "$DIR/$m.db" .schema | grep -v "^CREATE TABLE sqlite_" | sqlite3 "$DIR/ceil-$m.db"
done
sync

declare -A R
for i in $(seq "$REPEAT"); do
    line="round $i (load $(cut -d' ' -f1 /proc/loadavg)):"
    r1=$(ceiling -m bare -p 1 "$DIR/bare.db"); r2=$(ceiling -m bare -p 2 "$DIR/bare.db")
    R[bare,$i]=$(printf '%s\n%s\n' "$r1" "$r2" | sort -n | tail -1)
    line+=" bare [${R[bare,$i]}]"
    order="a b"; [ $(( i % 2 )) = 0 ] && order="b a"
    for m in $order; do
        mod=MODULE_${m^^}
        start "${!mod}" "$DIR/$m.db"
        R[create-$m,$i]=$(wrkrun "$url/execution_failed/create_execution_failed" "$DIR/create.lua")
        R[cycle-$m,$i]=$(wrkrun "$url/" "$DIR/cycle.lua")
        stop
        R[ceiling-$m,$i]=$(ceiling -p 2 "$DIR/ceil-$m.db")
        R[ceilg-$m,$i]=$(ceiling -p 2 -g 16 "$DIR/ceil-$m.db")
        line+=" create-$m [${R[create-$m,$i]}] cycle-$m [${R[cycle-$m,$i]}] ceiling-$m [${R[ceiling-$m,$i]}] ceiling-g16-$m [${R[ceilg-$m,$i]}]"
        sync
    done
    echo "$line"
done

col() {  # key field -> median over rounds
    for i in $(seq "$REPEAT"); do echo "${R[$1,$i]}"; done | awk -v f="$2" '{print $f}' | median
}
# per round ratio to that round's bare loop, then the median
ratio() {
    for i in $(seq "$REPEAT"); do
        # the bare loop's four fields come last: its tx/s is field NF-3
        echo "${R[$1,$i]} ${R[bare,$i]}" | awk '{printf "%.3f\n", $1 / $(NF - 3)}'
    done | median
}
bare=$(col bare 1)
echo
echo "| | A req/s or tx/s | A / bare | A p99 ms | A pages/tx | B req/s or tx/s | B / bare | B p99 ms | B pages/tx |"
echo "|---|---|---|---|---|---|---|---|---|"
echo "| bare loop (ceiling -m bare, better of 1 and 2 processes) | $bare | 1 | | $(col bare 4) | | | | |"
for k in create cycle; do
    echo "| $k | $(col $k-a 1) | $(ratio $k-a) | $(col $k-a 3) | | $(col $k-b 1) | $(ratio $k-b) | $(col $k-b 3) | |"
done
echo "| ceiling with the build's schema, 2 processes | $(col ceiling-a 1) | $(ratio ceiling-a) | | $(col ceiling-a 4) | $(col ceiling-b 1) | $(ratio ceiling-b) | | $(col ceiling-b 4) |"
echo "| same, 16 creates per transaction | $(col ceilg-a 1) | $(ratio ceilg-a) | | $(col ceilg-a 4) | $(col ceilg-b 1) | $(ratio ceilg-b) | | $(col ceilg-b 4) |"

grep -E "\[(alert|crit|emerg)\]" "$DIR/logs/error.log" && { echo "errors in the log" >&2; exit 1; } || true
