#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests and benchmarks of the
# PostgreSQL store (docs/postgresql.md): initdb + pg_ctl in a directory of
# its own, listening on a Unix socket in that directory and on 127.0.0.1,
# with a database and a role (password login) both named compensation.
#
#   scripts/pg-cluster.sh start DIR [PORT]  creates and starts it (PORT:
#                                           5432 unless given); prints the DSN
#   scripts/pg-cluster.sh dsn DIR [tcp]     prints the DSN (the socket's, or
#                                           the loopback port's)
#   scripts/pg-cluster.sh restart DIR       pg_ctl restart (fast shutdown)
#   scripts/pg-cluster.sh halt DIR          pg_ctl stop (fast), DIR kept:
#                                           "start DIR" starts it again
#   scripts/pg-cluster.sh psql DIR [ARGS]   psql as the cluster's superuser
#   scripts/pg-cluster.sh stop DIR          stops it and removes DIR; safe to
#                                           repeat (no DIR: nothing to do)
#
# Run as root (CI), the server runs as the postgres user (runuser); run as
# another user, as that user.  The binaries: PG_BINDIR, else pg_config's
# bindir, else /usr/lib/postgresql/15/bin.  PG_CLUSTER_FSYNC=off turns
# fsync off (never for benchmarks).  DIR must be new or made by this script:
# stop removes only a directory that carries its marker.
set -euo pipefail

MARKER=.cf-pg-cluster
ADMIN=cf_admin
ROLE=compensation
DB=compensation

usage() {
    sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

[ $# -ge 2 ] || usage

cmd=$1
dir=$2

bindir=${PG_BINDIR:-}
if [ -z "$bindir" ] && command -v pg_config >/dev/null; then
    bindir=$(pg_config --bindir)
fi
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
    bindir=/usr/lib/postgresql/15/bin
fi

# the server refuses to run as root
as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

running() {
    [ -f "$dir/data/postmaster.pid" ] \
        && as_owner "$bindir/pg_ctl" -D "$dir/data" status >/dev/null 2>&1
}

dsn() {
    local port pass
    port=$(cat "$dir/port")
    pass=$(cat "$dir/password")
    if [ "${1:-}" = tcp ]; then
        echo "postgresql://$ROLE:$pass@127.0.0.1:$port/$DB"
    else
        echo "postgresql://$ROLE:$pass@/$DB?host=$dir&port=$port"
    fi
}

psql_admin() {
    as_owner "$bindir/psql" -X -q -v ON_ERROR_STOP=1 -h "$dir" \
        -p "$(cat "$dir/port")" -U "$ADMIN" "$@"
}

case "$cmd" in

start)
    port=${3:-5432}

    if [ -f "$dir/$MARKER" ] && running; then
        dsn
        exit 0
    fi

    if [ -e "$dir" ] && [ ! -f "$dir/$MARKER" ]; then
        if [ -n "$(ls -A "$dir" 2>/dev/null)" ]; then
            echo "pg-cluster: $dir exists and is not a cluster of this" \
                 "script" >&2
            exit 1
        fi
    fi

    if [ ! -f "$dir/$MARKER" ]; then
        mkdir -p "$dir"
        touch "$dir/$MARKER"
        chmod 700 "$dir"
        # the password: only the owner (and root) may read it
        (umask 077; od -An -N18 -tx1 /dev/urandom | tr -d ' \n' \
            > "$dir/password")
        echo "$port" > "$dir/port"

        if [ "$(id -u)" -eq 0 ]; then
            chown -R postgres: "$dir"
        fi

        as_owner "$bindir/initdb" -D "$dir/data" -U "$ADMIN" -E UTF8 \
            --locale=C.UTF-8 --auth-local=trust --auth-host=scram-sha-256 \
            --no-sync >"$dir/initdb.log" 2>&1 \
            || { cat "$dir/initdb.log" >&2; exit 1; }

        # the superuser only over the socket, whose directory only the
        # owner (and root) can enter; everyone else logs in with a password
        as_owner sh -c "cat > '$dir/data/pg_hba.conf'" <<EOF
local   all   $ADMIN                   trust
local   all   all                      scram-sha-256
host    all   all     127.0.0.1/32     scram-sha-256
EOF
        as_owner sh -c "cat >> '$dir/data/postgresql.conf'" <<EOF
# scripts/pg-cluster.sh
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
fsync = ${PG_CLUSTER_FSYNC:-on}
max_connections = 60
log_line_prefix = '%m [%p] '
EOF
    fi

    as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
        -t 60 start >/dev/null \
        || { tail -n 20 "$dir/server.log" >&2; exit 1; }

    if [ ! -f "$dir/created" ]; then
        # the password goes through a psql variable, quoted by psql
        psql_admin -d postgres -v pass="$(cat "$dir/password")" <<EOF
CREATE ROLE $ROLE LOGIN PASSWORD :'pass';
CREATE DATABASE $DB OWNER $ROLE;
EOF
        touch "$dir/created"
    fi

    dsn
    ;;

dsn)
    [ -f "$dir/$MARKER" ] || { echo "pg-cluster: no cluster in $dir" >&2;
                               exit 1; }
    dsn "${3:-}"
    ;;

restart)
    [ -f "$dir/$MARKER" ] || { echo "pg-cluster: no cluster in $dir" >&2;
                               exit 1; }
    as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
        -t 60 -m fast restart >/dev/null
    ;;

halt)
    [ -f "$dir/$MARKER" ] || { echo "pg-cluster: no cluster in $dir" >&2;
                               exit 1; }
    if running; then
        as_owner "$bindir/pg_ctl" -D "$dir/data" -w -t 60 -m fast stop \
            >/dev/null
    fi
    ;;

psql)
    [ -f "$dir/$MARKER" ] || { echo "pg-cluster: no cluster in $dir" >&2;
                               exit 1; }
    shift 2
    psql_admin -d "$DB" "$@"
    ;;

stop)
    [ -e "$dir" ] || exit 0

    if [ ! -f "$dir/$MARKER" ]; then
        echo "pg-cluster: $dir is not a cluster of this script: left alone" >&2
        exit 1
    fi

    if running; then
        as_owner "$bindir/pg_ctl" -D "$dir/data" -w -t 60 -m fast stop \
            >/dev/null
    fi

    rm -rf "$dir"
    ;;

*)
    usage
    ;;
esac
