#!/usr/bin/env bash
# The PostgreSQL write ceiling (bench/pg-ceiling.c) on a throwaway cluster
# (scripts/pg-cluster.sh, fsync on, default settings otherwise): REPEAT
# rounds, each: 1 connection, the store's path on 1 connection (-m store),
# CONNS connections, the store's path on CONNS, CONNS connections with 16
# commands per transaction; DURATION seconds each.  Prints one line per
# round and the median of each column.  docs/benchmarks.md has numbers.
#
#   bench/pg-ceiling.sh                   (PG_PORT=5498 REPEAT=3 DURATION=5
#                                          CONNS=4)
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

dsn=$("$root/scripts/pg-cluster.sh" start "$cluster" "$PG_PORT")

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

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
