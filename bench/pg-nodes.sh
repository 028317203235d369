#!/usr/bin/env bash
# nginx on PostgreSQL with 1 and with 3 nodes (issue 16): creates and the
# prepare/apply cycle through HTTP, against bench/pg-ceiling.c (the same
# statements over libpq in a loop, no HTTP) measured in the same round.
#
# One throwaway cluster (scripts/pg-cluster.sh, fsync on).  In each of
# REPEAT rounds, in turn:
#   (a) the ceiling: pg-ceiling with as many connections as the nginx runs
#       have store threads (2 workers x nodes: 2, then 6), creates (its
#       default mode) and the cycle (-m cycle);
#   (b) 1 nginx (2 workers, compensation_machine_id 1): nginx's `return 200`
#       (the HTTP baseline on the same box), then wrk creates, then the
#       cycle (bench/bench.sh's create.lua and cycle.lua);
#   (c) 3 nginx (prefixes and ports of their own, machine ids 1..3, 2
#       workers each), CONNS/3 connections each (the same
#       total: one wrk, a thread per nginx), creates then the cycle.
# After every nginx run the rows it added to event_stream are compared
# with the 2xx answers wrk counted (an answer still in flight when wrk
# stops is committed but not counted: at most CONNS more rows), and any
# non-2xx answer fails the run; so does an [alert], [crit] or [emerg] in a
# log.  It also prints the commits and WAL syncs of each run (the
# server's statistics): how many commands a commit carried.  Prints one
# line per round and the medians.  GROUP_COMMIT=off runs the nginx with
# compensation_group_commit off (one transaction per command, as the
# ceiling).  docs/benchmarks.md has numbers.
#
#   bench/pg-nodes.sh        (PG_PORT=5498 BENCH_PORT=19350 REPEAT=3
#                             DURATION=5s CONNS=48 GROUP_COMMIT=on)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
PG_PORT=${PG_PORT:-5498}
PORT=${BENCH_PORT:-19350}
REPEAT=${REPEAT:-3}
DURATION=${DURATION:-5s}
CONNS=${CONNS:-48}
NGINX=${NGINX:-/usr/sbin/nginx}
secs=${DURATION%s}
per=$(( CONNS / 3 ))

work=$(mktemp -d /tmp/cf-pg-nodes.XXXXXX)
cluster=$(mktemp -d /tmp/cf-pg-nodes-db.XXXXXX)
stop_all() {
    local n pid
    for n in 1 2 3; do
        [ -f "$work/n$n/logs/nginx.pid" ] || continue
        pid=$(cat "$work/n$n/logs/nginx.pid")
        kill -QUIT "$pid" 2>/dev/null || true
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        rm -f "$work/n$n/logs/nginx.pid"
    done
}
trap 'stop_all; "$root/scripts/pg-cluster.sh" stop "$cluster" >/dev/null 2>&1 || true
      rm -rf "$work"' EXIT

# bench/bench.sh with no phase: the machine line and its wrk scripts
# (report.lua, create.lua, cycle.lua) in $work/b
machine=$(PHASES=" " BENCH_DIR="$work/b" BENCH_PORT="$PORT" THREADS=2 \
          CONNS="$CONNS" DURATION="$DURATION" REPEAT="$REPEAT" \
          "$root/bench/bench.sh" | head -1)
# bench/pg-ceiling.sh's build
cc -O2 -Wall -I"$root/src" -I"$(pg_config --includedir)" \
    -o "$work/pg-ceiling" "$root/bench/pg-ceiling.c" "$root"/src/cf_*.c \
    -ljansson -lsqlite3 -lpq -lpthread

dsn=$("$root/scripts/pg-cluster.sh" start "$cluster" "$PG_PORT")
psql() { "$root/scripts/pg-cluster.sh" psql "$cluster" -tAq "$@"; }
rows() { psql -c "SELECT count(*) FROM event_stream"; }
# commits and WAL syncs so far (the server's statistics, flushed within
# a second): how many commands each commit and each fsync carried
flushes() {
    sleep 1
    psql -F ' ' -c "SELECT (SELECT xact_commit FROM pg_stat_database
                            WHERE datname = current_database()), wal_sync
                    FROM pg_stat_wal"
}

start_node() {  # $1: node (machine id, port PORT+n-1)
    local d="$work/n$1"
    mkdir -p "$d/conf" "$d/logs" "$d/tmp"
    {
        . "$root/bench/conf.sh"
        bench_conf_main "$root"
        cat <<CONF
worker_rlimit_nofile 4096;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path tmp/cb; proxy_temp_path tmp/p;
    fastcgi_temp_path tmp/f; uwsgi_temp_path tmp/u; scgi_temp_path tmp/s;
    compensation_store "$dsn";
    compensation_machine_id $1;
    compensation_group_commit ${GROUP_COMMIT:-on};
    server {
        listen 127.0.0.1:$(( PORT + $1 - 1 )) backlog=4096;
        location / { compensation_api; }
        location = /baseline { default_type application/json; return 200 '{"stage":"PROCESSED","succeeded":true}'; }
    }
}
CONF
    } > "$d/conf/nginx.conf"
    "$NGINX" -p "$d/" -c conf/nginx.conf -e logs/error.log
    # the workers attach in their store threads: wait for health UP
    for _ in $(seq 100); do
        curl -sf -o /dev/null "http://127.0.0.1:$(( PORT + $1 - 1 ))/actuator/health" && return 0
        sleep 0.1
    done
    echo "nginx $1 did not come up" >&2; tail "$d/logs/error.log" >&2; exit 1
}

# one wrk over the nodes' ports, each wrk thread on one node (setup()
# sets its address, after the script's own setup if it has one):
#   nodes script|"" -> "req/s p50 p99" (summed over the nodes), after
#   checking the answers and the rows stored
drive() {
    local nodes=$1 script=$2 s="$work/run.$1.lua" path=/ before after r
    local tx0 tx1 sync0 sync1
    local threads=$(( nodes == 1 ? 2 : nodes ))
    cat "$work/b/report.lua" > "$s"
    [ -n "$script" ] && cat "$script" >> "$s"
    case ${script##*/} in
        create.lua) path=/execution_failed/create_execution_failed ;;
        "") path=/baseline ;;
    esac
    cat >> "$s" <<LUA
local script_setup = setup
local node = 0
function setup(thread)
  if script_setup then script_setup(thread) end
  thread.addr = wrk.lookup("127.0.0.1", tostring($PORT + node % $nodes))[1]
  node = node + 1
end
LUA
    before=$( [ -n "$script" ] && rows || echo 0)
    [ -n "$script" ] && read -r tx0 sync0 <<< "$(flushes)"
    r=$(wrk -t"$threads" -c"$CONNS" -d"$DURATION" -s "$s" "http://127.0.0.1:$PORT$path" \
        | awk '/^RESULT/ { print $2, $3, $4, $5, $6, $7 }')
    read -r rps p50 p99 e q serr <<< "$r"
    if [ "$(( e + serr ))" -ne 0 ]; then
        echo "$nodes node(s) ${script##*/}: $e non-2xx answers, $serr socket errors" >&2
        exit 1
    fi
    if [ -n "$script" ]; then
        after=$(rows)
        # an answer in flight when wrk stops is committed, not counted
        if [ $(( after - before )) -lt "$q" ] \
           || [ $(( after - before - q )) -gt "$CONNS" ]; then
            echo "$nodes node(s) ${script##*/}: $(( after - before )) rows for $q 2xx" >&2
            exit 1
        fi
        read -r tx1 sync1 <<< "$(flushes)"
        echo "$nodes node(s) ${script##*/}: $(( after - before )) rows for $q 2xx;" \
             "$(( tx1 - tx0 )) commits, $(( sync1 - sync0 )) WAL syncs" >> "$work/counts"
    fi
    printf '%s %.2f %.2f\n' "$rps" "$p50" "$p99"
}

ceiling() {  # conns [mode]
    "$work/pg-ceiling" -p "$1" ${2:+-m "$2"} -d "$secs" "$dsn" \
        | awk '{ printf "%s %.2f %.2f\n", $2, $3 / 1000, $4 / 1000 }'
}

pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f%%", 100 * a / b }'; }

echo "$machine"
echo "$(pg_config --version); load average at start: $(cut -d' ' -f1-3 /proc/loadavg); group commit ${GROUP_COMMIT:-on}; wrk: $CONNS connections in all (3 nodes: $per each), $DURATION per run; fsync on"
names="ceil2 ceil2cyc ceil6 ceil6cyc ret200 c1 y1 c3 y3"
declare -A col
for i in $(seq 1 "$REPEAT"); do
    declare -A v
    v[ceil2]=$(ceiling 2)
    v[ceil2cyc]=$(ceiling 2 cycle)
    v[ceil6]=$(ceiling 6)
    v[ceil6cyc]=$(ceiling 6 cycle)
    start_node 1
    v[ret200]=$(drive 1 "")
    v[c1]=$(drive 1 "$work/b/create.lua")
    v[y1]=$(drive 1 "$work/b/cycle.lua")
    stop_all
    start_node 1; start_node 2; start_node 3
    v[c3]=$(drive 3 "$work/b/create.lua")
    v[y3]=$(drive 3 "$work/b/cycle.lua")
    stop_all
    f() { echo "${v[$1]%% *}"; }
    echo "round $i (req/s p50 p99 ms): return 200 [${v[ret200]}]" \
         "| ceiling 2 conns creates [${v[ceil2]}] cycle [${v[ceil2cyc]}]" \
         "| 1 nginx creates [${v[c1]}] $(pct "$(f c1)" "$(f ceil2)")" \
         "cycle [${v[y1]}] $(pct "$(f y1)" "$(f ceil2cyc)")" \
         "| ceiling 6 conns creates [${v[ceil6]}] cycle [${v[ceil6cyc]}]" \
         "| 3 nginx creates [${v[c3]}] $(pct "$(f c3)" "$(f ceil6)")" \
         "cycle [${v[y3]}] $(pct "$(f y3)" "$(f ceil6cyc)")"
    echo "  load average: $(cut -d' ' -f1-3 /proc/loadavg)"
    for k in $names; do
        col[$k]="${col[$k]:-} $(f "$k")"
        col[$k.r]="${col[$k.r]:-} ${v[$k]}"
    done
    col[r1c]="${col[r1c]:-} $(awk -v a="$(f c1)" -v b="$(f ceil2)" 'BEGIN { print a / b }')"
    col[r1y]="${col[r1y]:-} $(awk -v a="$(f y1)" -v b="$(f ceil2cyc)" 'BEGIN { print a / b }')"
    col[r3c]="${col[r3c]:-} $(awk -v a="$(f c3)" -v b="$(f ceil6)" 'BEGIN { print a / b }')"
    col[r3y]="${col[r3y]:-} $(awk -v a="$(f y3)" -v b="$(f ceil6cyc)" 'BEGIN { print a / b }')"
    unset v
done

median() { tr ' ' '\n' | grep . | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
echo "row counts checked after $(wc -l < "$work/counts") runs (below)"
echo "medians over $REPEAT rounds (req/s; fraction of the same round's ceiling):"
for k in $names; do
    # p50/p99 medians taken column by column
    m=$(echo "${col[$k]}" | median)
    p50=$(echo "${col[$k.r]}" | awk '{ for (i = 2; i <= NF; i += 3) print $i }' | median)
    p99=$(echo "${col[$k.r]}" | awk '{ for (i = 3; i <= NF; i += 3) print $i }' | median)
    echo "  $k: $m req/s, p50 $p50 ms, p99 $p99 ms"
done
echo "  1 nginx creates / ceiling 2: $(echo "${col[r1c]}" | median)," \
     "cycle: $(echo "${col[r1y]}" | median);" \
     "3 nginx creates / ceiling 6: $(echo "${col[r3c]}" | median)," \
     "cycle: $(echo "${col[r3y]}" | median)"
cat "$work/counts"
for n in 1 2 3; do
    grep -E "\[(alert|crit|emerg)\]" "$work/n$n/logs/error.log" 2>/dev/null \
        && { echo "errors in nginx $n's log" >&2; exit 1; }
done
exit 0
