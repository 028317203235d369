#!/usr/bin/env bash
# ngx_compensation benchmark (issue 7): `make bench`.
#
# Every figure is measured side by side with its ceiling IN THE SAME RUN and
# reported as a ratio:
#   (a) nginx's own `return 200` of a same-size JSON body (same nginx, same
#       2 workers, same wrk settings), the HTTP ceiling;
#   (b) bench/ceiling.c: the module's SQLite work for a create (one
#       event_stream insert + one snapshot upsert per transaction, same
#       statements, pragmas and schema) in a loop, the durable-write ceiling.
# Rounds alternate baseline and subject, REPEAT times; the median is reported.
#
# Environment knobs:
#   DURATION=10s CONNS=64 THREADS=2 REPEAT=3 BENCH_PORT=19250
#   PHASES="commands reads mixed memory"   (any subset)
#   SEED=1000000        executions seeded for reads/memory (0: skip seeding)
#   SOAK_SECONDS=60     mixed-load soak for the memory growth figure
#   BENCH_DIR=bench/.work
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
. "$root/bench/lib.sh"
DURATION=${DURATION:-10s}
CONNS=${CONNS:-64}
THREADS=${THREADS:-2}
REPEAT=${REPEAT:-3}
PORT=${BENCH_PORT:-19250}
PHASES=${PHASES:-commands reads mixed memory}
SEED=${SEED:-1000000}
SOAK_SECONDS=${SOAK_SECONDS:-60}
STATE_BODY='{}'     # the state read's baseline body, set by phase_reads
DIR=${BENCH_DIR:-$root/bench/.work}
NGINX=${NGINX:-/usr/sbin/nginx}
MODULE=${MODULE:-$root/build/ngx_http_compensation_module.so}
url="http://127.0.0.1:$PORT"

command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 1; }
[ -f "$MODULE" ] || make -C "$root" build >/dev/null

mkdir -p "$DIR/conf" "$DIR/logs" "$DIR/tmp"
: > "$DIR/logs/error.log"      # the check at the end is about this run
cc -O2 -Wall -o "$DIR/ceiling" "$root/bench/ceiling.c" -lsqlite3

body='{"eventId":{"id":"0U2mSzz10001001","version":1,"aggregateId":{"contextName":"order-service","aggregateName":"order","aggregateId":"0U2mSz9k0001000","tenantId":"(0)"}},"function":{"functionKind":"EVENT","contextName":"order-service","processorName":"OrderProjector","name":"onOrderCreated"},"error":{"errorCode":"BadRequest","errorMsg":"boom","stackTrace":"java.lang.IllegalStateException"},"executeAt":1719800000000,"retrySpec":{"maxRetries":10,"minBackoff":180,"executionTimeout":120}}'

# same-size canned answers: a CommandResult and a state document
result='{"id":"0Vbk6Jok055l004","waitCommandId":"0Vbk6Jok055l000","stage":"PROCESSED","contextName":"compensation-service","aggregateName":"execution_failed","tenantId":"(0)","aggregateId":"0Vbk6Jok055l001","aggregateVersion":1,"requestId":"0Vbk6Jok055l000","commandId":"0Vbk6Jok055l000","function":{"functionKind":"COMMAND","contextName":"compensation-service","processorName":"ExecutionFailed","name":"onCreate"},"errorCode":"Ok","errorMsg":"","result":{},"signalTime":1795385435494,"succeeded":true}'

conf() {  # $1: store file, $2: group commit on|off, $3: store thread on|off, $4: mmap size
cat > "$DIR/conf/nginx.conf" <<CONF
load_module $MODULE;
thread_pool compensation threads=1;
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
    compensation_store $1;
    compensation_group_commit ${2:-on};
    $( [ "${3:-off}" = on ] && echo "# the store thread: the default" || echo "compensation_thread_pool off;" )
    compensation_store_mmap_size ${4:-0};
    server {
        listen 127.0.0.1:$PORT backlog=4096;
        location / { compensation_api; }
        location = /baseline/command {
            default_type application/json; return 200 '$result';
        }
        location = /baseline/state {
            default_type application/json; return 200 '$STATE_BODY';
        }
    }
}
CONF
}

start() {  # $1: store file, $2: group commit on|off, $3: store thread on|off, $4: mmap size
    conf "$1" "${2:-on}" "${3:-off}" "${4:-0}"
    "$NGINX" -p "$DIR/" -c "$DIR/conf/nginx.conf" -e "$DIR/logs/error.log"
    for _ in $(seq 50); do curl -s -o /dev/null "$url/baseline/command" && return 0; sleep 0.1; done
    echo "nginx did not start" >&2; exit 1
}
stop() { bench_stop_wait; }
trap stop EXIT

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

# creates: a fresh aggregate per request (Command-Aggregate-Id absent)
cat > "$DIR/create.lua" <<LUA
wrk.method = "POST"
wrk.body = '$body'
wrk.headers["Content-Type"] = "application/json"
LUA

# prepare/apply cycle on one aggregate per connection: create, then
# prepare, apply(failed), prepare, apply(failed) ... (retries allowed).
# The ids are time-ordered, as the server's CosIds are (what a create
# without Command-Aggregate-Id gets): a new aggregate's index entries go
# where the latest ones are.  cycle-slots.lua orders them by slot first,
# so that each create inserts at one of 2048 places spread over every
# aggregate_id-keyed index (ids chosen by clients, in no order): the row
# "ids in slot order" shows what that costs on a store that has grown.
cat > "$DIR/cycle.lua" <<'LUA'
-- slots far outnumber a thread's connections, so two requests of one
-- aggregate are never in flight together
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
end
local n = 0
local slots = {}
local body = BODY
local ordered = ORDERED
local failed = '{"error":{"errorCode":"E","errorMsg":"again","stackTrace":""},"executeAt":1719800000000}'
local started = false
request = function()
  -- wrk calls request() once to check the script and drops what it
  -- returns: let that be a read, or slot 1 would never be created
  if not started then
    started = true
    return wrk.format("GET", "/actuator/health")
  end
  n = n + 1
  local k = n % 1024
  local c = slots[k]
  if c == nil or c.step >= 201 then
    if ordered then
      c = { id = string.format("cyc-%010d-%d-%09d", os.time(), tid, n), step = 0 }
    else
      c = { id = string.format("cyc-%d-%d-%d-%d", tid, k, os.time(), n), step = 0 }
    end
    slots[k] = c
  end
  c.step = c.step + 1
  if c.step == 1 then
    return wrk.format("POST", "/execution_failed/create_execution_failed",
      { ["Content-Type"] = "application/json", ["Command-Aggregate-Id"] = c.id }, body)
  elseif c.step % 2 == 0 then
    return wrk.format("PUT", "/execution_failed/" .. c.id .. "/force_prepare_compensation",
      { ["Content-Type"] = "application/json" }, "{}")
  else
    return wrk.format("PUT", "/execution_failed/" .. c.id .. "/apply_execution_failed",
      { ["Content-Type"] = "application/json" }, failed)
  end
end
LUA
sed -i "s|^local body = BODY|local body = '$body'|" "$DIR/cycle.lua"
sed "s|^local ordered = ORDERED|local ordered = false|" "$DIR/cycle.lua" > "$DIR/cycle-slots.lua"
sed -i "s|^local ordered = ORDERED|local ordered = true|" "$DIR/cycle.lua"

wrkrun() {  # url [script] -> "rps p50 p99 errors requests"
    local u="$1" script="${2:-}" s="$DIR/run.$BASHPID.lua"
    cat "$DIR/report.lua" > "$s"
    [ -n "$script" ] && cat "$script" >> "$s"
    wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" -s "$s" "$u" \
        | awk '/^RESULT/ { print $2, $3, $4, $5, $6, $7 }'; rm -f "$s"
}

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

rows=()
row() { rows+=("$*"); echo "$*"; }

machine() {
    echo "machine: $(nproc) x $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r); nginx $("$NGINX" -v 2>&1 | sed 's/.*\///'), SQLite $(sqlite3 --version | cut -d' ' -f1); load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "wrk -t$THREADS -c$CONNS -d$DURATION, 2 nginx workers, $REPEAT rounds (median)"
}

# --- commands ---------------------------------------------------------------
phase_commands() {
    # the ceiling gets a file of its own: its writes (and their dirty pages)
    # must not land in the module's store between the module's rounds
    rm -f "$DIR"/cmd.db* "$DIR"/ceiling.db* "$DIR"/bare.db*
    start "$DIR/cmd.db"
    curl -sf -o /dev/null -X POST "$url/execution_failed/create_execution_failed" \
        -H 'Content-Type: application/json' -d "$body"
    # the module's schema, as the module created it (tables, indexes, triggers)
    sqlite3 "$DIR/cmd.db" .schema | grep -v "^CREATE TABLE sqlite_" \
        | sqlite3 "$DIR/ceiling.db"
    sync    # what earlier phases or runs wrote is on disk before round 1
    local r i
    local -a b c y ys c0 y0 ct yt cp c1 cg cs cb
    for i in $(seq "$REPEAT"); do
        r=$(wrkrun "$url/baseline/command"); b+=("$r")
        r=$(wrkrun "$url/execution_failed/create_execution_failed" "$DIR/create.lua"); c+=("$r")
        r=$(wrkrun "$url/" "$DIR/cycle.lua"); y+=("$r")
        r=$(wrkrun "$url/" "$DIR/cycle-slots.lua"); ys+=("$r")
        stop; start "$DIR/cmd.db" on on
        r=$(wrkrun "$url/execution_failed/create_execution_failed" "$DIR/create.lua"); ct+=("$r")
        r=$(wrkrun "$url/" "$DIR/cycle.lua"); yt+=("$r")
        stop; start "$DIR/cmd.db" off
        r=$(wrkrun "$url/execution_failed/create_execution_failed" "$DIR/create.lua"); c0+=("$r")
        r=$(wrkrun "$url/" "$DIR/cycle.lua"); y0+=("$r")
        stop
        r=$("$DIR/ceiling" -p 1 -d "${DURATION%s}" "$DIR/ceiling.db" | awk '{print $2, $3, $4}'); c1+=("$r")
        r=$("$DIR/ceiling" -p 2 -d "${DURATION%s}" "$DIR/ceiling.db" | awk '{print $2, $3, $4}'); cp+=("$r")
        r=$("$DIR/ceiling" -p 2 -g 16 -d "${DURATION%s}" "$DIR/ceiling.db" | awk '{print $2, $3, $4}'); cg+=("$r")
        r=$("$DIR/ceiling" -p 2 -c sqlite -d "${DURATION%s}" "$DIR/ceiling.db" | awk '{print $2, $3, $4}'); cs+=("$r")
        # issue 15's bare loop: the two tables with their primary keys only
        r=$("$DIR/ceiling" -m bare -p 2 -d "${DURATION%s}" "$DIR/bare.db" | awk '{print $2, $3, $4}'); cb+=("$r")
        # the ceiling's dirty pages go to disk now, not during the next round
        sync
        start "$DIR/cmd.db"
        echo "round $i: return200 [${b[-1]}] create [${c[-1]}] cycle [${y[-1]}] cycle-slots [${ys[-1]}] create-thread [${ct[-1]}] cycle-thread [${yt[-1]}] create-nogroup [${c0[-1]}] cycle-nogroup [${y0[-1]}] ceiling1 [${c1[-1]}] ceiling2 [${cp[-1]}] ceiling2-g16 [${cg[-1]}] ceiling2-sqlite-checkpoints [${cs[-1]}] bare2 [${cb[-1]}]" >&2
    done
    stop
    local brps bp99 k1 k2 kg k
    brps=$(printf '%s\n' "${b[@]}" | awk '{print $1}' | median)
    bp99=$(printf '%s\n' "${b[@]}" | awk '{print $3}' | median)
    k1=$(printf '%s\n' "${c1[@]}" | awk '{print $1}' | median)
    k2=$(printf '%s\n' "${cp[@]}" | awk '{print $1}' | median)
    kg=$(printf '%s\n' "${cg[@]}" | awk '{print $1}' | median)
    local ks; ks=$(printf '%s\n' "${cs[@]}" | awk '{print $1}' | median)
    local kb; kb=$(printf '%s\n' "${cb[@]}" | awk '{print $1}' | median)
    k=$(( k1 > k2 ? k1 : k2 ))
    row "| return 200 (a), same-size CommandResult | $brps | | $bp99 | | | 0 |"
    row "| ceiling (b), 1 process, one transaction per command | $k1 | | | | | |"
    row "| ceiling (b), 2 processes, one transaction per command | $k2 | | | | | |"
    row "| ceiling, 2 processes, 16 commands per transaction (savepoints) | $kg | | | | | |"
    row "| ceiling, 2 processes, one transaction per command, SQLite's auto-checkpoint | $ks | | | | | |"
    row "| bare loop (ceiling -m bare: no secondary index, no trigger), 2 processes | $kb | | | | | |"
    local name arr rps p99 e
    for name in "POST create_execution_failed (PROCESSED), group commit" "prepare/apply cycle (PUT), group commit" "prepare/apply cycle (PUT), group commit, ids in slot order" "POST create_execution_failed (PROCESSED), group commit, store thread" "prepare/apply cycle (PUT), group commit, store thread" "POST create_execution_failed (PROCESSED), group commit off" "prepare/apply cycle (PUT), group commit off"; do
        case "$name" in
            POST*off) arr=("${c0[@]}");; POST*thread) arr=("${ct[@]}");; POST*) arr=("${c[@]}");;
            *off) arr=("${y0[@]}");; *thread) arr=("${yt[@]}");; *order) arr=("${ys[@]}");;
            *) arr=("${y[@]}");;
        esac
        rps=$(printf '%s\n' "${arr[@]}" | awk '{print $1}' | median)
        p99=$(printf '%s\n' "${arr[@]}" | awk '{print $3}' | median)
        e=$(printf '%s\n' "${arr[@]}" | awk '{s += $4} END {print s}')
        row "| $name | $rps | $(awk -v x="$rps" -v y="$k" 'BEGIN{printf "%.0f%%", 100*x/y}') ($(awk -v x="$rps" -v y="$kb" 'BEGIN{printf "%.2f", x/y}') of bare) | $p99 | $(awk -v x="$p99" -v y="$bp99" 'BEGIN{printf "%.2fx", x/y}') | $(awk -v x="$rps" -v y="$brps" 'BEGIN{printf "%.1f%%", 100*x/y}') | $e |"
    done
}

# --- reads over SEED executions ----------------------------------------------
seed() {
    if [ "$SEED" -gt 0 ] && [ "$(cat "$DIR/seeded" 2>/dev/null)" != "$SEED" ]; then
        rm -f "$DIR"/read.db* "$DIR/seeded"
        start "$DIR/read.db"; stop      # the module creates the schema
        echo "seeding $SEED executions ..." >&2
        sed "s/999999/$(( SEED - 1 ))/; s/1000000/$SEED/g" "$root/bench/query-seed.sql" \
            | sqlite3 "$DIR/read.db" -cmd ".parameter set :now $(( $(date +%s) * 1000 ))" >/dev/null
        echo "$SEED" > "$DIR/seeded"
    fi
}

pick_id() {  # an existing, live execution id from the seeded store
    sqlite3 "$DIR/read.db" "SELECT aggregate_id FROM snapshot WHERE deleted = 0 AND status = 'FAILED' LIMIT 1 OFFSET 500"
}

phase_reads() {
    seed
    local id; id=$(pick_id)
    # the baseline answers the same state document, byte for byte
    STATE_BODY=$(sqlite3 "$DIR/read.db" "SELECT state FROM snapshot WHERE aggregate_id = '$id'" | sed "s/'/\\\\'/g")
    start "$DIR/read.db"
    curl -sf "$url/execution_failed/$id/state" > "$DIR/state.json"
    curl -sf "$url/baseline/state" | cmp -s - "$DIR/state.json" || echo "note: the baseline body differs from the state read's" >&2
    local q='{"condition":{"field":"state.status","operator":"EQ","value":"FAILED"},"sort":[{"field":"aggregateId","direction":"DESC"}],"pagination":{"index":1,"size":10}}'
    cat > "$DIR/query.lua" <<LUA
wrk.method = "POST"
wrk.body = '$q'
wrk.headers["Content-Type"] = "application/json"
LUA
    # random ids over the whole store: the state read of a cold-ish row
    sqlite3 "$DIR/read.db" "SELECT aggregate_id FROM snapshot WHERE deleted = 0 ORDER BY random() LIMIT 20000" > "$DIR/ids.txt"
    cat > "$DIR/rstate.lua" <<'LUA'
local ids = {}
for l in io.lines(IDS) do ids[#ids + 1] = l end
request = function()
  return wrk.format("GET", "/execution_failed/" .. ids[math.random(#ids)] .. "/state")
end
LUA
    sed -i "s|IDS|\"$DIR/ids.txt\"|" "$DIR/rstate.lua"
    local i r
    local -a b s rs q sm rsm qm
    for i in $(seq "$REPEAT"); do
        r=$(wrkrun "$url/baseline/state"); b+=("$r")
        r=$(wrkrun "$url/execution_failed/$id/state"); s+=("$r")
        r=$(wrkrun "$url/" "$DIR/rstate.lua"); rs+=("$r")
        r=$(wrkrun "$url/execution_failed/snapshot/paged/state" "$DIR/query.lua"); q+=("$r")
        stop; start "$DIR/read.db" on off 1g
        r=$(wrkrun "$url/execution_failed/$id/state"); sm+=("$r")
        r=$(wrkrun "$url/" "$DIR/rstate.lua"); rsm+=("$r")
        r=$(wrkrun "$url/execution_failed/snapshot/paged/state" "$DIR/query.lua"); qm+=("$r")
        stop; start "$DIR/read.db"
        echo "round $i: return200 [$(echo ${b[-1]})] state [$(echo ${s[-1]})] random-state [$(echo ${rs[-1]})] paged [$(echo ${q[-1]})] mmap: state [$(echo ${sm[-1]})] random-state [$(echo ${rsm[-1]})] paged [$(echo ${qm[-1]})]" >&2
    done
    stop
    local brps bp99
    brps=$(printf '%s\n' "${b[@]}" | awk '{print $1}' | median)
    bp99=$(printf '%s\n' "${b[@]}" | awk '{print $3}' | median)
    row "| return 200 (a), same-size state document | $brps | | $bp99 | | | 0 |"
    local name arr
    for name in "GET /execution_failed/{id}/state (one id)" "GET /execution_failed/{id}/state (20,000 random ids)" "POST snapshot/paged/state (status FAILED, page of 10, aggregateId DESC)" "GET /execution_failed/{id}/state (one id), mmap_size 1g" "GET /execution_failed/{id}/state (20,000 random ids), mmap_size 1g" "POST snapshot/paged/state (status FAILED, page of 10, aggregateId DESC), mmap_size 1g"; do
        case "$name" in
            *one*mmap*) arr=("${sm[@]}");; *random*mmap*) arr=("${rsm[@]}");; *mmap*) arr=("${qm[@]}");;
            *one*) arr=("${s[@]}");; *random*) arr=("${rs[@]}");; *) arr=("${q[@]}");;
        esac
        local rps p99 e
        rps=$(printf '%s\n' "${arr[@]}" | awk '{print $1}' | median)
        p99=$(printf '%s\n' "${arr[@]}" | awk '{print $3}' | median)
        e=$(printf '%s\n' "${arr[@]}" | awk '{s += $4} END {print s}')
        row "| $name | $rps | | $p99 | $(awk -v x="$p99" -v y="$bp99" 'BEGIN{printf "%.2fx", x/y}') | $(awk -v x="$rps" -v y="$brps" 'BEGIN{printf "%.1f%%", 100*x/y}') | $e |"
    done
}

# --- reads alongside writes and checkpoints ---------------------------------
# every figure is the median of REPEAT rounds; each round runs both modes:
# commands on the event loop (before) and in the store thread (after)
phase_mixed() {
    seed
    local id; id=$(pick_id)
    local i mode r
    local -a a1 a2 a3 t1 t2 t3
    for i in $(seq "$REPEAT"); do
        for mode in off on; do
            start "$DIR/read.db" on "$mode"
            r=$(wrkrun "$url/execution_failed/$id/state")
            [ $mode = on ] && t1+=("$r") || a1+=("$r")
            # 48 readers + 16 writers at once (the writers fill the WAL,
            # which the auto-checkpoint then folds back in the write path)
            ( CONNS=16 wrkrun "$url/execution_failed/create_execution_failed" "$DIR/create.lua" > "$DIR/mixed-w.txt" ) &
            local wp=$!
            r=$(CONNS=48 wrkrun "$url/execution_failed/$id/state")
            [ $mode = on ] && t2+=("$r") || a2+=("$r")
            wait $wp
            r=$(cat "$DIR/mixed-w.txt")
            [ $mode = on ] && t3+=("$r") || a3+=("$r")
            stop
        done
        echo "round $i: loop: alone [${a1[-1]}] read [${a2[-1]}] write [${a3[-1]}]; thread: alone [${t1[-1]}] read [${t2[-1]}] write [${t3[-1]}]" >&2
    done
    mrow() {  # label, results...
        local label=$1; shift
        local col v out=""
        for col in 1 2 3; do
            v=$(printf '%s\n' "$@" | awk -v c=$col '{print $c}' | median)
            out="$out $v |"
        done
        row "| $label |$out $(printf '%s\n' "$@" | awk '{s += $4} END {print s}') |"
    }
    mrow "state read alone (64 conns), commands on the event loop" "${a1[@]}"
    mrow "state read, 48 conns, with 16 conns of creates, commands on the event loop" "${a2[@]}"
    mrow "creates, 16 conns, alongside the reads, commands on the event loop" "${a3[@]}"
    mrow "state read alone (64 conns), store thread" "${t1[@]}"
    mrow "state read, 48 conns, with 16 conns of creates, store thread" "${t2[@]}"
    mrow "creates, 16 conns, alongside the reads, store thread" "${t3[@]}"
}

# --- memory ------------------------------------------------------------------
rss() {  # sum of the workers' RSS in KiB
    local m; m=$(cat "$DIR/logs/nginx.pid")
    ps --ppid "$m" -o rss= | awk '{s += $1} END {print s}'
}

phase_memory() {
    seed
    start "$DIR/read.db" on on
    local id; id=$(pick_id)
    local r0 r1 r2
    r0=$(rss)
    DURATION=10s wrkrun "$url/" "$DIR/rstate.lua" >/dev/null
    r1=$(rss)
    ( CONNS=16 DURATION=${SOAK_SECONDS}s wrkrun "$url/execution_failed/create_execution_failed" "$DIR/create.lua" >/dev/null ) &
    local wp=$!
    CONNS=32 DURATION=${SOAK_SECONDS}s wrkrun "$url/" "$DIR/rstate.lua" >/dev/null
    wait $wp
    r2=$(rss)
    stop
    row "| workers' RSS (2 workers), idle after start, $SEED executions | $r0 KiB |"
    row "| after 10 s of random state reads | $r1 KiB |"
    row "| after a ${SOAK_SECONDS} s soak (32 conns random reads + 16 conns creates) | $r2 KiB (growth $(( r2 - r1 )) KiB) |"
}

machine
for ph in $PHASES; do
    echo; echo "## $ph"
    case $ph in
        commands) echo "| request | req/s | % of (b) | p99 ms | p99 / (a) p99 | % of (a) req/s | errors |"; echo "|---|---|---|---|---|---|---|";;
        reads) echo "| request | req/s | | p99 ms | p99 / (a) p99 | % of (a) req/s | errors |"; echo "|---|---|---|---|---|---|---|";;
        mixed) echo "| request | req/s | p50 ms | p99 ms | errors |"; echo "|---|---|---|---|---|";;
        memory) echo "| measure | value |"; echo "|---|---|";;
    esac
    "phase_$ph"
done

grep -E "\[(alert|crit|emerg)\]" "$DIR/logs/error.log" && { echo "errors in the log" >&2; exit 1; } || true
