#!/usr/bin/env bash
# The PostgreSQL write ceiling (bench/pg-ceiling.c) on a throwaway cluster
# (scripts/pg-cluster.sh, fsync on, default settings otherwise): REPEAT
# rounds, each: 1 connection, the store's path on 1 connection (-m store),
# CONNS connections, the store's path on CONNS, CONNS connections with 16
# commands per transaction; DURATION seconds each.  Prints one line per
# round and the median of each column.  docs/benchmarks.md has numbers.
#
# BASE=<git ref>: instead, the store's path, the prepare/apply cycle
# (-m cycle) and creates through the group commit, 16 per group (-m group,
# against "16 per tx"), each with the store of that commit (this
# bench/pg-ceiling.c built with its src/, on a database of its own on the
# same server: its schema version may be older) and with this one's, in
# turn within each round: A/B pairs measured under the same load.  The
# ceiling runs on both schemas ("... before": the older one).  PGOPTIONS=
# '-c synchronous_commit=off' takes the WAL fsync out of every run (what
# is left is round trips and the server's work).
#
#   bench/pg-ceiling.sh                   (PG_PORT=5498 REPEAT=3 DURATION=5
#                                          CONNS=4)
#   BASE=main bench/pg-ceiling.sh
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
PG_PORT=${PG_PORT:-5498}
REPEAT=${REPEAT:-3}
DURATION=${DURATION:-5}
CONNS=${CONNS:-4}

work=$(mktemp -d /tmp/cf-pg-bench.XXXXXX)
# a directory of its own: the server's user must reach it
cluster=$(mktemp -d /tmp/cf-pg-bench-db.XXXXXX)
trap '"$root/scripts/pg-cluster.sh" stop "$cluster" >/dev/null 2>&1 || true;
      rm -rf "$work"' EXIT

cc -O2 -Wall -I"$root/src" -I"$(pg_config --includedir)" \
    -o "$work/pg-ceiling" "$root/bench/pg-ceiling.c" "$root"/src/cf_*.c \
    -ljansson -lsqlite3 -lpq -lpthread

if [ -n "${BASE:-}" ]; then
    mkdir "$work/base"
    git -C "$root" archive "$BASE" src | tar -x -C "$work/base"
    cc -O2 -Wall -I"$work/base/src" -I"$(pg_config --includedir)" \
        -o "$work/pg-ceiling-base" "$root/bench/pg-ceiling.c" \
        "$work/base"/src/cf_*.c -ljansson -lsqlite3 -lpq -lpthread
fi

dsn=$("$root/scripts/pg-cluster.sh" start "$cluster" "$PG_PORT")

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

if [ -n "${BASE:-}" ]; then
    # the older store refuses a newer schema: it gets a database of its own
    # on the same server
    "$root/scripts/pg-cluster.sh" psql "$cluster" -q \
        -c "CREATE DATABASE compensation_base OWNER compensation" >/dev/null
    dsn_base=${dsn/\/compensation\?//compensation_base?}
    # before/after pairs only: the ceiling, then each path with both stores
    declare -A col
    names=("1 conn" "1 conn before" "store 1 before" "store 1 after"
           "cycle 1 before" "cycle 1 after" "$CONNS conns"
           "$CONNS conns before" "store $CONNS before" "store $CONNS after"
           "cycle $CONNS before" "cycle $CONNS after"
           "$CONNS conns 16 per tx" "group $CONNS before"
           "group $CONNS after")
    for i in $(seq 1 "$REPEAT"); do
        line="round $i:"
        for k in "${!names[@]}"; do
            name=${names[$k]}
            conns=$(echo "$name" | grep -o '[0-9]\+' | head -1)
            mode=()
            case $name in
                store*) mode=(-m store) ;;
                cycle*) mode=(-m cycle) ;;
                group*) mode=(-m group -g 16) ;;
                *per\ tx) mode=(-g 16) ;;
            esac
            bin="$work/pg-ceiling"; d=$dsn
            case $name in
                *before) bin="$work/pg-ceiling-base"; d=$dsn_base ;;
            esac
            r=$("$bin" -p "$conns" "${mode[@]}" -d "$DURATION" "$d")
            line="$line $name [${r#CEILING }]"
            col[$k]="${col[$k]:-} $(echo "$r" | awk '{print $2}')"
        done
        echo "$line"
    done
    out="median commands/s:"
    for k in "${!names[@]}"; do
        out="$out ${names[$k]} $(printf '%s\n' ${col[$k]} | median),"
    done
    echo "${out%,}"
    exit 0
fi

one=(); s1=(); many=(); sn=(); grouped=()
for i in $(seq 1 "$REPEAT"); do
    r1=$("$work/pg-ceiling" -p 1 -d "$DURATION" "$dsn")
    q1=$("$work/pg-ceiling" -p 1 -m store -d "$DURATION" "$dsn")
    rn=$("$work/pg-ceiling" -p "$CONNS" -d "$DURATION" "$dsn")
    qn=$("$work/pg-ceiling" -p "$CONNS" -m store -d "$DURATION" "$dsn")
    rg=$("$work/pg-ceiling" -p "$CONNS" -g 16 -d "$DURATION" "$dsn")
    echo "round $i: 1 conn [${r1#CEILING }] store 1 [${q1#CEILING }]" \
         "$CONNS conns [${rn#CEILING }] store $CONNS [${qn#CEILING }]" \
         "$CONNS conns, 16 per tx [${rg#CEILING }]"
    one+=("$(echo "$r1" | awk '{print $2}')")
    s1+=("$(echo "$q1" | awk '{print $2}')")
    many+=("$(echo "$rn" | awk '{print $2}')")
    sn+=("$(echo "$qn" | awk '{print $2}')")
    grouped+=("$(echo "$rg" | awk '{print $2}')")
done

echo "median commands/s: 1 conn $(printf '%s\n' "${one[@]}" | median)," \
     "store 1 $(printf '%s\n' "${s1[@]}" | median)," \
     "$CONNS conns $(printf '%s\n' "${many[@]}" | median)," \
     "store $CONNS $(printf '%s\n' "${sn[@]}" | median)," \
     "$CONNS conns 16 per tx $(printf '%s\n' "${grouped[@]}" | median)"
