#!/usr/bin/env bash
# ngx_compensation benchmark: commands and state reads against nginx's own
# "return 200" of a same-size JSON body, measured in the same run on the same
# nginx (2 workers).  Usage: bench/run.sh [duration] [connections]
# Prints a markdown table; numbers go to docs/benchmarks.md by hand.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
. "$root/bench/conf.sh"
dur="${1:-10s}"
conns="${2:-64}"
nginx="${NGINX:-/usr/sbin/nginx}"
port=${BENCH_PORT:-19250}
work="$(mktemp -d /tmp/cf-bench.XXXXXX)"
trap '"$nginx" -p "$work/" -c conf/nginx.conf -s quit 2>/dev/null || true; sleep 0.5; rm -rf "$work"' EXIT

command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 1; }
[ -f "$root/build/ngx_http_compensation_module.so" ] || make -C "$root" build >/dev/null

body='{"eventId":{"id":"0U2mSzz10001001","version":1,"aggregateId":{"contextName":"order-service","aggregateName":"order","aggregateId":"0U2mSz9k0001000","tenantId":"(0)"}},"function":{"functionKind":"EVENT","contextName":"order-service","processorName":"OrderProjector","name":"onOrderCreated"},"error":{"errorCode":"BadRequest","errorMsg":"boom","stackTrace":"java.lang.IllegalStateException"},"executeAt":1719800000000,"retrySpec":{"maxRetries":10,"minBackoff":180,"executionTimeout":120}}'

mkdir -p "$work/conf" "$work/logs"
# a same-size canned answer for the baseline
result='{"id":"0Vbk6Jok055l004","waitCommandId":"0Vbk6Jok055l000","stage":"PROCESSED","contextName":"compensation-service","aggregateName":"execution_failed","tenantId":"(0)","aggregateId":"0Vbk6Jok055l001","aggregateVersion":1,"requestId":"0Vbk6Jok055l000","commandId":"0Vbk6Jok055l000","function":{"functionKind":"COMMAND","contextName":"compensation-service","processorName":"ExecutionFailed","name":"onCreate"},"errorCode":"Ok","errorMsg":"","result":{},"signalTime":1795385435494,"succeeded":true}'

cat > "$work/conf/nginx.conf" <<CONF
$(bench_conf_main "$root")
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path logs/cb; proxy_temp_path logs/p;
    fastcgi_temp_path logs/f; uwsgi_temp_path logs/u; scgi_temp_path logs/s;
    compensation_store logs/bench.db;
    server {
        listen 127.0.0.1:$port backlog=4096;
        location / { compensation_api; }
        location = /baseline { default_type application/json; return 200 '$result'; }
    }
}
CONF

"$nginx" -p "$work/" -c conf/nginx.conf -e logs/error.log
sleep 0.5

url="http://127.0.0.1:$port"
curl -sf -o /dev/null -X POST "$url/execution_failed/create_execution_failed" \
    -H 'Content-Type: application/json' -H 'Command-Aggregate-Id: bench-1' -d "$body"

cat > "$work/post.lua" <<LUA
wrk.method = "POST"
wrk.body = '$body'
wrk.headers["Content-Type"] = "application/json"
LUA

cat > "$work/report.lua" <<'LUA'
done = function(summary, latency, requests)
  local s = summary.duration / 1e6
  io.write(string.format("RESULT %.0f %.2f %.2f %d %d\n",
    summary.requests / s, latency:percentile(50) / 1000,
    latency:percentile(99) / 1000,
    summary.errors.status + summary.errors.connect + summary.errors.read
      + summary.errors.write + summary.errors.timeout, summary.requests))
end
LUA

run() {  # name, url, [script]
    local name="$1" u="$2" script="${3:-}"
    local s="$work/run.lua"
    cat "$work/report.lua" > "$s"
    [ -n "$script" ] && cat "$script" >> "$s"
    wrk -t2 -c"$conns" -d"$dur" -s "$s" "$u" | awk -v n="$name" '/^RESULT/ {
        printf "| %s | %d | %.2f | %.2f | %d |\n", n, $2, $3, $4, $5 }'
}

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo); nginx $("$nginx" -v 2>&1 | sed 's/.*\///'); wrk -t2 -c$conns -d$dur; 2 workers"
echo
echo "| request | req/s | p50 ms | p99 ms | errors |"
echo "|---|---|---|---|---|"
run "return 200 (baseline, same-size JSON)" "$url/baseline"
run "GET /execution_failed/{id}/state" "$url/execution_failed/bench-1/state"
run "POST create_execution_failed (PROCESSED)" "$url/execution_failed/create_execution_failed" "$work/post.lua"

grep -E "\[(alert|crit|emerg)\]" "$work/logs/error.log" && { echo "errors in the log" >&2; exit 1; } || true
