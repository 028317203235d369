#!/usr/bin/env bash
# ngx_compensation benchmark: the dispatch scheduler.  Creates N executions
# (through the API) whose nextRetryAt lies ahead, spread over SPREAD ms, then
# lets the scheduler (worker 0, sync target) dispatch them to a local
# upstream answering 200, and reports dispatches per second and lateness
# (the prepare's retryAt - the original nextRetryAt) p50/p99/max.
#   Usage: bench/dispatch.sh [N=10000] [SPREAD_MS=0] [interval=100ms]
#          [batch=1000] [concurrency=64]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
. "$root/bench/conf.sh"
n="${1:-10000}"
spread="${2:-0}"
interval="${3:-100ms}"
batch="${4:-1000}"
conc="${5:-64}"
nginx="${NGINX:-/usr/sbin/nginx}"
port=18191
bport=18192
work="$(mktemp -d /tmp/cf-dbench.XXXXXX)"
trap '"$nginx" -p "$work/" -c conf/nginx.conf -s quit 2>/dev/null || true; sleep 0.5; rm -rf "$work"' EXIT

[ -f "$root/build/ngx_http_compensation_module.so" ] || make -C "$root" build >/dev/null
mkdir -p "$work/conf" "$work/logs"

cat > "$work/conf/nginx.conf" <<CONF
$(bench_conf_main "$root")
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path logs/cb; proxy_temp_path logs/p;
    fastcgi_temp_path logs/f; uwsgi_temp_path logs/u; scgi_temp_path logs/s;
    compensation_store logs/bench.db;
    compensation_scheduler interval=$interval batch=$batch concurrency=$conc
                           lease=60s;
    upstream svc { server 127.0.0.1:$bport; keepalive 64; }
    server {
        listen 127.0.0.1:$bport;
        location / { return 200 '{}'; }
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

db="$work/logs/bench.db"
# wait until every execution succeeded
while :; do
    done_n=$(sqlite3 "$db" "PRAGMA busy_timeout=2000; SELECT count(*) FROM snapshot WHERE status='SUCCEEDED'" | tail -1)
    [ "$done_n" -ge "$n" ] && break
    sleep 0.5
done

sqlite3 "$db" <<SQL | tail -n +1
PRAGMA busy_timeout=2000;
CREATE TEMP TABLE lat AS
SELECT c.aggregate_id AS id,
       json_extract(c.body, '\$[0].body.retryState.nextRetryAt') AS due,
       json_extract(p.body, '\$[0].body.retryState.retryAt') AS at
FROM event_stream c JOIN event_stream p
  ON p.aggregate_id = c.aggregate_id AND p.version = 2
WHERE c.version = 1;
CREATE TEMP TABLE s AS SELECT at - due AS l FROM lat ORDER BY l;
SELECT printf('executions: %d, spread: %d ms, interval: $interval, batch: $batch, concurrency: $conc', count(*), $spread) FROM lat;
SELECT printf('dispatch window: %d ms (first prepare .. last success)',
       (SELECT max(updated) FROM comp_operation) - min(at)) FROM lat;
SELECT printf('dispatches/s: %.0f', count(*) * 1000.0 /
       ((SELECT max(updated) FROM comp_operation) - min(at) + 1)) FROM lat;
SELECT printf('lateness ms: p50 %d, p99 %d, max %d',
       (SELECT l FROM s LIMIT 1 OFFSET (SELECT count(*) * 50 / 100 FROM s)),
       (SELECT l FROM s LIMIT 1 OFFSET (SELECT count(*) * 99 / 100 FROM s)),
       (SELECT max(l) FROM s));
SELECT printf('operations: %d, attempts dispatched twice: %d',
       (SELECT count(*) FROM comp_operation),
       (SELECT count(*) FROM (SELECT execution_id FROM comp_operation
        GROUP BY execution_id HAVING count(*) > 1)));
SQL
grep -c '\[error\]\|\[alert\]\|\[crit\]' "$work/logs/error.log" | sed 's/^/error log lines (error+): /' || true
