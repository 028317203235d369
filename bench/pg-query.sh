#!/usr/bin/env bash
# The paged category query over 1,000,000 executions on PostgreSQL
# (bench/pg-query.c): a throwaway cluster (scripts/pg-cluster.sh), the
# schema created by the store's open, bench/pg-query-seed.sql's executions,
# then each dashboard category's count and first page N times on one
# connection, with a "SELECT 1" round trip as the same run's baseline.
# docs/benchmarks.md has numbers.
#
#   bench/pg-query.sh                    (PG_PORT=5497 N=200)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
PG_PORT=${PG_PORT:-5497}
N=${N:-200}
NOW=1719800000000

work=$(mktemp -d /tmp/cf-pg-query.XXXXXX)
cluster=$(mktemp -d /tmp/cf-pg-query-db.XXXXXX)
trap '"$root/scripts/pg-cluster.sh" stop "$cluster" >/dev/null 2>&1 || true;
      rm -rf "$work"' EXIT

cc -O2 -Wall -I"$root/src" -I"$(pg_config --includedir)" \
    -o "$work/pg-query" "$root/bench/pg-query.c" "$root"/src/cf_*.c \
    -ljansson -lsqlite3 -lpq -lpthread

dsn=$("$root/scripts/pg-cluster.sh" start "$cluster" "$PG_PORT")

# the schema (and its query indexes) as nginx would create it, then the seed
"$work/pg-query" "$dsn" "$NOW" 1 >/dev/null
t0=$(date +%s)
psql -q -X -v ON_ERROR_STOP=1 -v now="$NOW" -d "$dsn" \
    -f "$root/bench/pg-query-seed.sql"
echo "seeded 1,000,000 executions in $(( $(date +%s) - t0 )) s"

"$work/pg-query" "$dsn" "$NOW" "$N"
