#!/usr/bin/env bash
# Runs Wow's TypeScript client generator (fetcher-generator, built from its
# source, see docs/testing.md "Wow's client generator") on GET /v3/api-docs of
# a private nginx with the built module, then checks that it resolved the
# aggregate and generated every symbol the original dashboard imports.
#
#   FETCHER_GENERATOR=/path/to/fetcher/packages/generator/dist/cli.js \
#       test/check-generator.sh [OUT_DIR]
#
# With REFERENCE_DIR set (the generator's output for a Wow server's document,
# e.g. its test fixture compensation.spec.json), also prints the diff of the
# two outputs.  PORT (default 8089) is where the private nginx listens.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
nginx="${NGINX:-/usr/sbin/nginx}"
cli="${FETCHER_GENERATOR:?set FETCHER_GENERATOR to the generator dist/cli.js}"
port="${PORT:-8089}"
out="${1:-$root/build/generated}"
work="$(mktemp -d)"

cleanup() {
    if [ -s "$work/nginx.pid" ]; then
        kill -QUIT "$(cat "$work/nginx.pid")" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/logs"
cat > "$work/nginx.conf" <<CONF
load_module $root/build/ngx_http_compensation_module.so;
worker_processes 1;
pid $work/nginx.pid;
error_log $work/logs/error.log info;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path $work/client_body;
    compensation_store $work/c.db;
    server {
        listen 127.0.0.1:$port;
        location / { compensation_api; }
    }
}
CONF

"$nginx" -p "$work/" -c "$work/nginx.conf" -e "$work/logs/error.log"
for _ in $(seq 50); do
    [ -s "$work/nginx.pid" ] && break
    sleep 0.1
done

rm -rf "$out"
mkdir -p "$out"
node "$cli" generate -i "http://127.0.0.1:$port/v3/api-docs" -o "$out" \
    > "$work/generate.log" 2>&1 || { cat "$work/generate.log"; exit 1; }

grep -o "Resolved [0-9]* bounded context aggregates" "$work/generate.log" || true
grep -q "Resolved 1 bounded context aggregates" "$work/generate.log" || {
    echo "FAIL: the generator did not resolve the aggregate"; exit 1; }

fail=0
for sym in ExecutionFailedCommandClient ExecutionFailedStreamCommandClient \
           executionFailedQueryClientFactory ExecutionFailedState \
           ExecutionFailedStatus ExecutionFailedAggregatedFields \
           CreateExecutionFailed PrepareCompensation ForcePrepareCompensation \
           ApplyExecutionSuccess ApplyExecutionFailed ApplyRetrySpec \
           ChangeFunction MarkRecoverable ExecutionFailedCreated \
           CompensationPrepared ExecutionSuccessApplied ExecutionFailedApplied \
           RetrySpecApplied FunctionChanged RecoverableMarked RetrySpec \
           RetryState ErrorDetails EventId; do
    if ! grep -rqE "export (declare )?(class|interface|enum|const|type|function) $sym\b" "$out"; then
        echo "FAIL: $sym is not generated"
        fail=1
    fi
done
[ $fail -eq 0 ] || exit 1
echo "ok: every symbol the dashboard imports is generated in $out"

if [ -n "${REFERENCE_DIR:-}" ]; then
    echo "diff against $REFERENCE_DIR:"
    diff -ru "$REFERENCE_DIR" "$out" || true
fi
