#!/usr/bin/env bash
# Installs the built Debian package on this machine, runs nginx from it and
# purges it again (make test-deb, part of make test).
#
#   TEST_NGINX_PORT=2000 test/deb/test-deb.sh [DEB_DIR]    (default build/deb)
#
# 1. lintian on the .changes (the .deb and its .buildinfo): no error, no
#    warning (an accepted warning needs an override with its reason in
#    debian/libnginx-mod-http-compensation.lintian-overrides);
# 2. dpkg -i; the files are where Debian's nginx expects them, the snippet is
#    enabled, the state directory belongs to www-data;
# 3. nginx -t with Debian's prefix and a configuration that includes the
#    enabled snippet (the module from /usr/lib/nginx/modules);
# 4. an nginx started from the installed module under a temporary prefix, on
#    $TEST_NGINX_PORT, its workers as www-data and its store in the package's
#    state directory: a create_execution_failed, then a state read;
# 5. dpkg --purge: the package is unknown to dpkg and none of its paths is
#    left, unless another package owns it (/usr/lib/nginx/modules, ...).
#
# It changes the real system, so it refuses to run when the package is already
# installed, cleans up on any exit (trap: stop its nginx by its pid file,
# purge the package, remove the temporary prefix) and checks that the nginx
# packages and /etc/nginx are as they were before.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
deb_dir=${1:-$root/build/deb}
port=${TEST_NGINX_PORT:-1984}
pkg=libnginx-mod-http-compensation
state=/var/lib/nginx/compensation

fail() { echo "not ok - $*" >&2; exit 1; }
ok() { echo "ok - $*"; }

[ "$(id -u)" -eq 0 ] || fail "must run as root (dpkg -i)"

shopt -s nullglob
debs=("$deb_dir/${pkg}"_*.deb)
changes=("$deb_dir"/*.changes)
shopt -u nullglob
[ ${#debs[@]} -eq 1 ] || fail "expected one $deb_dir/${pkg}_*.deb (make deb)"
[ ${#changes[@]} -eq 1 ] || fail "expected one $deb_dir/*.changes (make deb)"
deb=${debs[0]}

installed() {
    dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null \
        | grep -qv '^not-installed$'
}

if installed; then
    fail "$pkg is already installed here; this test installs and purges" \
         "it, so it leaves an existing installation alone (dpkg --purge $pkg)"
fi

# dpkg's lock may be held by an apt-get of another job on the machine
dpkg_retry() {
    local out i
    for i in $(seq 1 90); do
        if out=$(dpkg "$@" 2>&1); then
            printf '%s\n' "$out"
            return 0
        fi
        if ! grep -q 'lock' <<<"$out"; then
            printf '%s\n' "$out" >&2
            return 1
        fi
        sleep 2
    done
    printf '%s\n' "$out" >&2
    return 1
}

# what must not change: the nginx packages and /etc/nginx
nginx_state() {
    dpkg-query -W -f='${Package} ${Version} ${db:Status-Abbrev}\n' \
        nginx nginx-common nginx-dev 2>/dev/null || true
    find /etc/nginx -printf '%p %y %m %u %l\n' | LC_ALL=C sort
    find /etc/nginx -type f -exec md5sum {} + | LC_ALL=C sort
}
before=$(nginx_state)

tmp=$(mktemp -d /tmp/ngx-compensation-deb.XXXXXX)
# the workers (www-data) need to reach their temp paths under it
chmod 0755 "$tmp"

cleanup() {
    local rc=$? pid i
    if [ -s "$tmp/nginx.pid" ]; then
        pid=$(cat "$tmp/nginx.pid")
        kill -QUIT "$pid" 2>/dev/null || true
        for i in $(seq 1 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
    fi
    if installed; then
        echo "# cleanup: dpkg --purge $pkg" >&2
        dpkg_retry --purge "$pkg" >/dev/null || rc=1
    fi
    [ $rc -eq 0 ] || { [ -f "$tmp/error.log" ] && tail -n 20 "$tmp/error.log" >&2; }
    rm -rf "$tmp"
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# 1. lintian
lrc=0
out=$(lintian --fail-on error,warning "${changes[0]}" 2>&1) || lrc=$?
out=$(grep -v '^running with root privileges' <<<"$out" || true)
if [ $lrc -ne 0 ]; then
    printf '%s\n' "$out" >&2
    fail "lintian reports errors or warnings (exit $lrc)"
fi
[ -z "$out" ] || printf '# %s\n' "$out"
ok "lintian: no error, no warning"

deps=$(dpkg-deb -f "$deb" Depends)
grep -q 'nginx-abi-' <<<"$deps" || fail "Depends lacks nginx-abi-*: $deps"
grep -q 'libsqlite3-0' <<<"$deps" && grep -q 'libjansson4' <<<"$deps" \
    && grep -q 'libpq5' <<<"$deps" \
    || fail "Depends lacks the shared libraries: $deps"
ok "Depends: $deps"

# 2. install
dpkg_retry -i "$deb" >"$tmp/dpkg-install.log" \
    || { cat "$tmp/dpkg-install.log" >&2; fail "dpkg -i $deb"; }
ok "dpkg -i $(basename "$deb")"

so=/usr/lib/nginx/modules/ngx_http_compensation_module.so
link=/etc/nginx/modules-enabled/50-mod-http-compensation.conf
[ -f "$so" ] || fail "$so missing"
[ "$(readlink "$link")" = /usr/share/nginx/modules-available/mod-http-compensation.conf ] \
    || fail "$link is not the enabled snippet"
grep -qx 'load_module modules/ngx_http_compensation_module.so;' "$link" \
    || fail "$link does not load the module"
[ "$(stat -c '%U:%G %a' "$state")" = "www-data:www-data 750" ] \
    || fail "$state: $(stat -c '%U:%G %a' "$state"), not www-data:www-data 750"
[ -f /usr/share/doc/$pkg/examples/compensation.conf ] \
    || fail "example configuration missing"
ok "installed: module, enabled snippet, $state (www-data), example"

# 3. nginx -t: Debian's prefix (/usr/share/nginx, where modules/ leads to
# /usr/lib/nginx/modules), the enabled snippet, a configuration using the
# module; -e keeps the test off /var/log/nginx
cat >"$tmp/check.conf" <<CONF
include $link;
pid $tmp/check.pid;
events {}
http {
    compensation_store $tmp/check.db;
    server {
        listen 127.0.0.1:$port;
        location /compensation/ { compensation_api; }
    }
}
CONF
/usr/sbin/nginx -e stderr -t -c "$tmp/check.conf" >"$tmp/check.out" 2>&1 \
    || { cat "$tmp/check.out" >&2; fail "nginx -t with the installed module"; }
grep -q 'test is successful' "$tmp/check.out" \
    || { cat "$tmp/check.out" >&2; fail "nginx -t did not succeed"; }
ok "nginx -t with the enabled snippet"

# 4. an nginx from the installation under a temporary prefix
cat >"$tmp/nginx.conf" <<CONF
load_module $so;
user www-data;
worker_processes 1;
error_log $tmp/error.log info;
pid $tmp/nginx.pid;
thread_pool compensation threads=1;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path $tmp/client_body;
    proxy_temp_path $tmp/proxy;
    fastcgi_temp_path $tmp/fastcgi;
    uwsgi_temp_path $tmp/uwsgi;
    scgi_temp_path $tmp/scgi;
    compensation_store $state/compensation.db;
    compensation_thread_pool compensation;
    server {
        listen 127.0.0.1:$port;
        location /compensation/ { compensation_api; }
    }
}
CONF
/usr/sbin/nginx -p "$tmp" -e "$tmp/error.log" -c "$tmp/nginx.conf" \
    || fail "nginx did not start"
for i in $(seq 1 50); do
    [ -s "$tmp/nginx.pid" ] && break
    sleep 0.1
done
[ -s "$tmp/nginx.pid" ] || fail "no pid file"

base=http://127.0.0.1:$port/compensation/execution_failed
id=deb-test-$$
body='{"eventId": {"id": "0U2mSzz10001001", "version": 1,
   "aggregateId": {"contextName": "order-service", "aggregateName": "order",
                   "aggregateId": "0U2mSz9k0001000", "tenantId": "(0)"}},
 "function": {"functionKind": "EVENT", "contextName": "order-service",
              "processorName": "OrderProjector", "name": "onOrderCreated"},
 "error": {"errorCode": "BadRequest", "errorMsg": "boom", "stackTrace": ""},
 "executeAt": 1719800000000,
 "retrySpec": {"maxRetries": 10, "minBackoff": 180, "executionTimeout": 120}}'
code=$(curl -sS --retry 20 --retry-connrefused --retry-delay 0 \
            -o "$tmp/create.out" -D "$tmp/create.hdr" -w '%{http_code}' \
            -X POST "$base/create_execution_failed" \
            -H 'Content-Type: application/json' \
            -H "Command-Aggregate-Id: $id" -d "$body")
[ "$code" = 200 ] && grep -qi '^Wow-Error-Code: Ok' "$tmp/create.hdr" \
    || { cat "$tmp/create.hdr" "$tmp/create.out" >&2; fail "create: $code"; }
ok "create_execution_failed: 200 Ok"

code=$(curl -sS -o "$tmp/state.out" -w '%{http_code}' "$base/$id/state")
[ "$code" = 200 ] || { cat "$tmp/state.out" >&2; fail "state: $code"; }
grep -q "\"id\":\"$id\"" "$tmp/state.out" \
    && grep -q '"status":"FAILED"' "$tmp/state.out" \
    && grep -q '"errorMsg":"boom"' "$tmp/state.out" \
    || { cat "$tmp/state.out" >&2; fail "state body"; }
ok "state read: the created execution, FAILED"

[ -f "$state/compensation.db" ] || fail "no store in $state"
[ "$(stat -c %U "$state/compensation.db")" = www-data ] \
    || fail "$state/compensation.db not owned by www-data"
if grep -E '\[(alert|crit|emerg)\]' "$tmp/error.log"; then
    fail "error.log has alerts"
fi

pid=$(cat "$tmp/nginx.pid")
kill -QUIT "$pid"
for i in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
done
kill -0 "$pid" 2>/dev/null && fail "nginx did not quit"
rm -f "$tmp/nginx.pid"
ok "nginx from the installed package served a create and a state read"

# 5. purge; list the package's paths first
paths=$(dpkg-query -L "$pkg")
dpkg_retry --purge "$pkg" >"$tmp/dpkg-purge.log" \
    || { cat "$tmp/dpkg-purge.log" >&2; fail "dpkg --purge"; }
installed && fail "$pkg still known to dpkg after purge"
left=()
while IFS= read -r p; do
    [ -n "$p" ] && [ "$p" != /. ] || continue
    [ -e "$p" ] || [ -L "$p" ] || continue
    dpkg-query -S "$p" >/dev/null 2>&1 || left+=("$p")
done <<<"$paths"
for p in "$state" "$link" "$link.removed" \
         /usr/share/nginx/modules-available/mod-http-compensation.conf; do
    if [ -e "$p" ] || [ -L "$p" ]; then left+=("$p"); fi
done
ls /var/lib/dpkg/info/"$pkg".* >/dev/null 2>&1 && left+=(/var/lib/dpkg/info/"$pkg".*)
[ ${#left[@]} -eq 0 ] || fail "left behind after purge: ${left[*]}"
ok "dpkg --purge: nothing left behind"

[ "$(nginx_state)" = "$before" ] \
    || { diff <(echo "$before") <(nginx_state) >&2 || true
         fail "the nginx packages or /etc/nginx changed"; }
ok "nginx packages and /etc/nginx as before"
