#!/usr/bin/env bash
# ngx_compensation benchmark: the dispatch scheduler (every worker claims its
# share through the leases; sync target: a second server{} of the same nginx
# behind an upstream{} with keepalive).
#
#   bench/dispatch.sh burst   [N=100000] [interval=100ms] [batch=100] [concurrency=64]
#       N executions due at the same instant, target answering 200: the create
#       rate (wrk, same nginx, same run), the drain rate, lateness, and the
#       checks: every execution SUCCEEDED with exactly one operation
#       (Succeeded), none dispatched twice, none lost; dispatches per worker.
#   bench/dispatch.sh steady  [N=40000]  [interval] [batch] [concurrency] (RATE=2000)
#       N executions becoming due at RATE per second, spread evenly: lateness
#       (the prepare's retryAt - nextRetryAt) p50/p99/max.
#   bench/dispatch.sh failing [N=100000] [interval] [batch] [concurrency]
#       the burst against a target answering 500: every execution FAILED with
#       retries 1, one Failed operation, and the backoff applied
#       (nextRetryAt - retryAt = 2 x minBackoff for every one).
#   bench/dispatch.sh fair    [N=100000] [interval] [batch] [concurrency]
#       state reads and creates (wrk -t1 -c4, 5 s each) before the burst is
#       due and while it drains: p50/p99 of each, and their ratio.
#   bench/dispatch.sh N [SPREAD_MS] [interval] [batch] [concurrency]
#       the original run: N creates from one Python client (not timed), due
#       at once or spread over SPREAD_MS.
#
# Ports: BENCH_PORT (API, default 18191) and BENCH_PORT + 1 (the target).
# RATE: the steady row's executions per second.  THREAD_POOL=off (or a
# pool name, declared with threads=1): compensation_thread_pool, for an A/B
# against the default (the module's store thread).  PERF=<file>: perf record of
# the workers for 4 s once the burst is due.  KEEP=<file>: a copy of the
# error log.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
. "$root/bench/conf.sh"

mode=legacy
case "${1:-}" in burst|steady|failing|fair) mode="$1"; shift ;; esac
if [ "$mode" = legacy ]; then
    n="${1:-10000}"; spread="${2:-0}"; shift 2 2>/dev/null || shift $#
else
    case "$mode" in steady) n="${1:-40000}" ;; *) n="${1:-100000}" ;; esac
    spread=0; [ $# -gt 0 ] && shift
fi
interval="${1:-100ms}"
batch="${2:-100}"
conc="${3:-64}"
rate="${RATE:-2000}"
nginx="${NGINX:-/usr/sbin/nginx}"
port=${BENCH_PORT:-18191}
bport=$((port + 1))
backoff=600                 # s: a failed execution is not due again here
answer=200; [ "$mode" = failing ] && answer=500
work="$(mktemp -d /tmp/cf-dbench.XXXXXX)"
trap '"$nginx" -p "$work/" -c conf/nginx.conf -s quit 2>/dev/null || true; sleep 0.5; [ -n "${KEEP:-}" ] && cp "$work/logs/error.log" "$KEEP"; rm -rf "$work"' EXIT

command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 1; }
[ -f "$root/build/ngx_http_compensation_module.so" ] || make -C "$root" build >/dev/null
mkdir -p "$work/conf" "$work/logs"

cat > "$work/conf/nginx.conf" <<CONF
$(bench_conf_main "$root")
thread_pool compensation threads=1;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path logs/cb; proxy_temp_path logs/p;
    fastcgi_temp_path logs/f; uwsgi_temp_path logs/u; scgi_temp_path logs/s;
    compensation_store logs/bench.db;
    ${THREAD_POOL:+compensation_thread_pool $THREAD_POOL;}
    compensation_scheduler interval=$interval batch=$batch concurrency=$conc
                           lease=60s;
    upstream svc { server 127.0.0.1:$bport; keepalive 64; }
    server {
        listen 127.0.0.1:$bport;
        location / { return $answer '{}'; }
    }
    server {
        listen 127.0.0.1:$port backlog=4096;
        compensation_target order-service /_c/order mode=sync;
        location / { compensation_api; }
        location /_c/order/ {
            internal;
            proxy_pass http://svc/;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_ignore_client_abort on;
        }
    }
}
CONF

"$nginx" -p "$work/" -c conf/nginx.conf
sleep 0.5
url="http://127.0.0.1:$port"
db="$work/logs/bench.db"
now_ms() { date +%s%3N; }

echo "machine: $(nproc) x $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo), $(uname -r); nginx $("$nginx" -v 2>&1 | sed 's/.*\///'), SQLite $(sqlite3 --version | cut -d' ' -f1); load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "mode: $mode, executions: $n, interval=$interval batch=$batch concurrency=$conc, 2 workers"

if [ "$mode" = legacy ]; then
# due times: start + lead, spread over SPREAD ms; executeAt = due - 1 s
# (minBackoff 1 s, retries 0)
python3 - "$port" "$n" "$spread" "$work/due" <<'PY'
import http.client, json, sys, time
port, n, spread, out = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
lead = 10000 + 4 * n  # ms: seeding must end before the first due time
t0 = int(time.time() * 1000) + lead
c = http.client.HTTPConnection("127.0.0.1", port)
for i in range(n):
    due = t0 + (spread * i // n if n else 0)
    body = json.dumps({
        "eventId": {"id": "e%d" % i, "version": 1, "aggregateId": {
            "contextName": "order-service", "aggregateName": "order",
            "aggregateId": "o%d" % i, "tenantId": "(0)"}},
        "function": {"functionKind": "EVENT", "contextName": "order-service",
                     "processorName": "P", "name": "onOrder"},
        "error": {"errorCode": "X", "errorMsg": "m", "stackTrace": ""},
        "executeAt": due - 1000,
        "retrySpec": {"maxRetries": 3, "minBackoff": 1,
                      "executionTimeout": 60}})
    c.request("POST", "/execution_failed/create_execution_failed", body,
              {"Content-Type": "application/json"})
    r = c.getresponse(); r.read()
    if r.status != 200:
        sys.exit("create failed: %d" % r.status)
left = t0 - int(time.time() * 1000)
if left < 0:
    sys.exit("seeding overran the first due time; raise lead")
open(out, "w").write("%d\n" % t0)
PY
else
# Seeding through the API at full speed (wrk -t2 -c64, each thread stops
# after its share): its rate is the create rate of this nginx in this run.
# Due times: T0 for all (burst), or T0 + k / RATE s for the k-th (steady);
# executeAt = due - minBackoff.  T0 lies past the end of the seeding.
threads=2
t0=$(( $(now_ms) + n * 1000 / 4000 + 15000 ))
step=0; [ "$mode" = steady ] && step="$rate"
cat > "$work/seed.lua" <<LUA
local tcount = 0
function setup(thread)
  thread:set("tid", tcount)
  tcount = tcount + 1
end
local i, got = 0, 0
local per = math.ceil($n / $threads)
function request()
  local k = i * $threads + tid
  i = i + 1
  local due = $t0
  if $step > 0 then due = $t0 + math.floor(k * 1000 / $step) end
  local body = '{"eventId":{"id":"e' .. k .. '","version":1,"aggregateId":{"contextName":"order-service","aggregateName":"order","aggregateId":"o' .. tid .. '-' .. k .. '","tenantId":"(0)"}},"function":{"functionKind":"EVENT","contextName":"order-service","processorName":"P","name":"onOrder"},"error":{"errorCode":"X","errorMsg":"m","stackTrace":""},"executeAt":' .. (due - $backoff * 1000) .. ',"retrySpec":{"maxRetries":3,"minBackoff":$backoff,"executionTimeout":60}}'
  return wrk.format("POST", "/execution_failed/create_execution_failed",
                    {["Content-Type"] = "application/json"}, body)
end
function response(status)
  got = got + 1
  if status ~= 200 then bad = (bad or 0) + 1 end
  if got == per then
    local f = io.open("$work/seeded." .. tid, "w")
    f:write(got .. " " .. (bad or 0) .. "\n")
    f:close()
    wrk.thread:stop()
  end
end
LUA
# wrk's threads stop after their share, but wrk itself only at -d: the
# script times the seeding from the start until both threads wrote their
# file (polled every 50 ms), then interrupts wrk
start_ms=$(now_ms)
wrk -t$threads -c64 -d600s -s "$work/seed.lua" "$url" > "$work/seed.out" &
wrkpid=$!
while [ ! -f "$work/seeded.0" ] || [ ! -f "$work/seeded.1" ]; do sleep 0.05; done
seed_ms=$(( $(now_ms) - start_ms ))
kill -INT "$wrkpid" 2>/dev/null || true
wait "$wrkpid" 2>/dev/null || true
seed_errors=$(cat "$work"/seeded.* | awk '{ s += $2 } END { print s }')
n=$(sqlite3 "$db" "PRAGMA busy_timeout=5000; SELECT count(*) FROM snapshot" | tail -1)
create_rate=$(( n * 1000 / seed_ms ))
echo "creates: $n executions in $seed_ms ms = $create_rate/s (wrk -t2 -c64 through the API), non-200: $seed_errors"
[ "$(now_ms)" -lt "$t0" ] || { echo "seeding overran the due time T0; raise the lead" >&2; exit 1; }
echo "$t0" > "$work/due"
fi

fair() {  # label: reads then creates, 5 s each, 1 thread 4 connections
    cat > "$work/report.lua" <<'LUA'
done = function(summary, latency, requests)
  io.write(string.format("RESULT %.0f %.2f %.2f\n",
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
LUA
    { cat "$work/report.lua"; cat <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"eventId":{"id":"f","version":1,"aggregateId":{"contextName":"order-service","aggregateName":"order","aggregateId":"f","tenantId":"(0)"}},"function":{"functionKind":"EVENT","contextName":"order-service","processorName":"P","name":"onOrder"},"error":{"errorCode":"X","errorMsg":"m","stackTrace":""},"executeAt":$(( $(now_ms) + 3600000 )),"retrySpec":{"maxRetries":3,"minBackoff":600,"executionTimeout":60}}'
LUA
    } > "$work/create.lua"
    local r c
    r=$(wrk -t1 -c4 -d5s -s "$work/report.lua" "$url/execution_failed/$probe/state" | awk '/^RESULT/ {print $2, $3, $4}')
    c=$(wrk -t1 -c4 -d5s -s "$work/create.lua" "$url/execution_failed/create_execution_failed" | awk '/^RESULT/ {print $2, $3, $4}')
    echo "$1: state reads (req/s p50 p99 ms): $r; creates: $c"
    echo "$r $c" > "$work/fair.$1"
}

if [ "$mode" = fair ]; then
    probe=$(sqlite3 "$db" "SELECT aggregate_id FROM snapshot LIMIT 1" | tail -1)
    fair before
    left=$(( $(cat "$work/due") - $(now_ms) ))
    [ "$left" -gt 0 ] || { echo "the burst was due before the baseline ended; raise the lead" >&2; exit 1; }
    sleep "$(awk -v l="$left" 'BEGIN { printf "%.3f", l / 1000 + 1 }')"
    fair during
    busy=$(sqlite3 "$db" "PRAGMA busy_timeout=5000; SELECT count(*) FROM comp_operation" | tail -1)
    echo "operations when the 'during' measurement ended: $busy of $n (the burst was still draining: $([ "$busy" -lt "$n" ] && echo yes || echo NO))"
    read -r br b50 b99 bc bc50 bc99 < "$work/fair.before"
    read -r dr d50 d99 dc dc50 dc99 < "$work/fair.during"
    awk -v a="$b99" -v b="$d99" -v c="$bc99" -v d="$dc99" 'BEGIN { printf "p99 during / before: state reads %.2fx, creates %.2fx\n", b / a, d / c }'
    n=$(( n ))
fi

if [ -n "${PERF:-}" ]; then
    # a profile of the workers while the backlog drains (PERF=<output file>)
    left=$(( $(cat "$work/due") - $(now_ms) ))
    [ "$left" -gt 0 ] && sleep "$(awk -v l="$left" 'BEGIN { printf "%.3f", l / 1000 + 0.5 }')"
    perf record -g -o "$PERF" -p "$(pgrep -d, -P "$(cat "$work/logs/nginx.pid")")" -- sleep 4 2>/dev/null
fi
# wait until every seeded execution reached its final state
while :; do
    done_n=$(sqlite3 "$db" "PRAGMA busy_timeout=2000; SELECT count(*) FROM comp_operation WHERE state IN ('Succeeded', 'Failed')" | tail -1)
    [ "$done_n" -ge "$n" ] && break
    sleep 0.5
done
sleep 1

sqlite3 "$db" <<SQL | tail -n +1
.timeout 2000
CREATE TEMP TABLE lat AS
SELECT c.aggregate_id AS id,
       json_extract(c.body, '\$[0].body.retryState.nextRetryAt') AS due,
       json_extract(p.body, '\$[0].body.retryState.retryAt') AS at
FROM event_stream c JOIN event_stream p
  ON p.aggregate_id = c.aggregate_id AND p.version = 2
WHERE c.version = 1;
CREATE TEMP TABLE s AS SELECT at - due AS l FROM lat ORDER BY l;
SELECT printf('executions dispatched: %d, spread: %d ms', count(*), $spread) FROM lat;
SELECT printf('dispatch window: %d ms (first prepare .. last result)',
       (SELECT max(updated) FROM comp_operation) - min(at)) FROM lat;
SELECT printf('dispatches/s: %.0f', count(*) * 1000.0 /
       ((SELECT max(updated) FROM comp_operation) - min(at) + 1)) FROM lat;
SELECT printf('lateness ms: p50 %d, p99 %d, max %d',
       (SELECT l FROM s LIMIT 1 OFFSET (SELECT count(*) * 50 / 100 FROM s)),
       (SELECT l FROM s LIMIT 1 OFFSET (SELECT count(*) * 99 / 100 FROM s)),
       (SELECT max(l) FROM s));
SELECT printf('operations: %d, attempts dispatched twice: %d, executions without an operation (lost): %d',
       (SELECT count(*) FROM comp_operation),
       (SELECT count(*) FROM (SELECT execution_id FROM comp_operation
        GROUP BY execution_id HAVING count(*) > 1)),
       (SELECT count(*) FROM snapshot s WHERE json_extract(s.state, '\$.eventId.aggregateId.aggregateId') IS NOT 'f' AND NOT EXISTS
        (SELECT 1 FROM comp_operation o WHERE o.execution_id = s.aggregate_id)));
SELECT printf('operation states: %s', group_concat(st, ', ')) FROM
       (SELECT state || ' ' || count(*) AS st FROM comp_operation GROUP BY state);
SELECT printf('execution states: %s', group_concat(k || ' ' || c, ', ')) FROM
       (SELECT status || ' retries=' || json_extract(state, '\$.retryState.retries') AS k, count(*) AS c
        FROM snapshot GROUP BY k);
SELECT printf('dispatches per worker (pid: count): %s', group_concat(w, ', ')) FROM
       (SELECT owner || ': ' || count(*) AS w FROM comp_operation GROUP BY owner);
SELECT printf('nextRetryAt - retryAt of the FAILED (ms: count): %s', group_concat(k || ': ' || c, ', ')) FROM
       (SELECT json_extract(state, '\$.retryState.nextRetryAt') - json_extract(state, '\$.retryState.retryAt') AS k, count(*) AS c
        FROM snapshot WHERE status = 'FAILED' GROUP BY k);
SQL
if [ "$mode" != legacy ] && [ "$mode" != steady ]; then
    awk -v d="$(sqlite3 "$db" "SELECT count(*) * 1000.0 / ((SELECT max(updated) FROM comp_operation) - min(json_extract(body, '\$[0].body.retryState.retryAt')) + 1) FROM event_stream WHERE version = 2" | tail -1)" \
        -v c="$create_rate" 'BEGIN { printf "dispatch rate / create rate: %.0f%%\n", 100 * d / c }'
fi
grep -c '\[error\]\|\[alert\]\|\[crit\]' "$work/logs/error.log" | sed 's/^/error log lines (error+): /' || true
