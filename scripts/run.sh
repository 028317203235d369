#!/usr/bin/env bash
# Starts or stops the private nginx of "make run" (prefix: the project).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
nginx="${NGINX:-/usr/sbin/nginx}"
pidfile="$root/var/nginx.pid"

case "${1:-start}" in
start)
    mkdir -p "$root/var/log" "$root/var/tmp"
    if [ -s "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
        echo "already running (pid $(cat "$pidfile")); 'make stop' stops it"
        exit 0
    fi
    "$nginx" -p "$root/" -c conf/nginx.conf -e var/log/error.log -t -q
    "$nginx" -p "$root/" -c conf/nginx.conf -e var/log/error.log
    for _ in $(seq 50); do
        [ -s "$pidfile" ] && break
        sleep 0.1
    done
    cat <<MSG
ngx_compensation is listening on http://127.0.0.1:8080/
  store:  $root/var/compensation.db
  logs:   $root/var/log/error.log
  try:    curl -s http://127.0.0.1:8080/execution_failed/<id>/state
  stop:   make stop   (or: kill -QUIT \$(cat $pidfile))
MSG
    ;;
stop)
    if [ -s "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
        kill -QUIT "$(cat "$pidfile")"
        for _ in $(seq 100); do
            kill -0 "$(cat "$pidfile" 2>/dev/null)" 2>/dev/null || break
            sleep 0.1
        done
        echo "stopped"
    else
        echo "not running"
    fi
    ;;
*)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
