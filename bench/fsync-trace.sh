#!/usr/bin/env bash
# ngx_compensation: how long the checkpoints' fsyncs take on a given store.
#
#   bench/fsync-trace.sh STORE [DURATION]
#
# Starts nginx (2 workers, the module, group commit on, commands on the event
# loop) on STORE with bench/fsync-trace.c preloaded, runs the prepare/apply
# cycle of `make bench` (bench/.work/cycle.lua: run `PHASES=commands make
# bench` once) with wrk -t2 -c64 for DURATION (default 10s), and prints each
# worker's fdatasync()/fsync() summary: WAL file and database file apart.
# STORE is written to: give it a copy.  docs/benchmarks.md has a run.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
. "$root/bench/conf.sh"
store="$(realpath "${1:?usage: bench/fsync-trace.sh STORE [DURATION]}")"
dur="${2:-10s}"
nginx="${NGINX:-/usr/sbin/nginx}"
port=${BENCH_PORT:-19251}
lua="$root/bench/.work/cycle.lua"
[ -f "$lua" ] || { echo "$lua is missing: run PHASES=commands make bench once" >&2; exit 1; }
[ -f "$root/build/ngx_http_compensation_module.so" ] || make -C "$root" build >/dev/null

work="$(mktemp -d /tmp/cf-fsync.XXXXXX)"
mkdir -p "$work/conf" "$work/logs" "$work/trace"
trap '[ -f "$work/logs/nginx.pid" ] && kill -QUIT "$(cat "$work/logs/nginx.pid")" 2>/dev/null; sleep 1; rm -rf "$work"' EXIT

cc -O2 -shared -fPIC -o "$work/fsync-trace.so" "$root/bench/fsync-trace.c" -ldl

cat > "$work/conf/nginx.conf" <<CONF
$(bench_conf_main "$root")
env LD_PRELOAD;
env FSYNC_TRACE_DIR;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path tmp;
    compensation_store $store;
    compensation_group_commit on;
    server {
        listen 127.0.0.1:$port backlog=4096;
        location / { compensation_api; }
    }
}
CONF

LD_PRELOAD="$work/fsync-trace.so" FSYNC_TRACE_DIR="$work/trace" \
    "$nginx" -p "$work/" -c conf/nginx.conf -e logs/error.log
for _ in $(seq 50); do
    curl -s -o /dev/null "http://127.0.0.1:$port/actuator/health" && break
    sleep 0.1
done

echo "store: $store ($(du -h "$store" | cut -f1)); wrk -t2 -c64 -d$dur, cycle"
wrk -t2 -c64 -d"$dur" --latency -s "$lua" "http://127.0.0.1:$port/" \
    | grep -E "Requests/sec|99%"
kill -QUIT "$(cat "$work/logs/nginx.pid")"
for _ in $(seq 100); do [ -f "$work/logs/nginx.pid" ] || break; sleep 0.1; done
for f in "$work"/trace/fsync.*; do
    echo "pid ${f##*.}:"
    sed 's/^/  /' "$f"
done
