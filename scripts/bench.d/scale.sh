#!/usr/bin/env bash
# scale.sh measures shenfen on the largest registry this machine holds
# (docs/scale.md): the import of N generated residents into PostgreSQL
# (scripts/bench.d/registry.sh, kept afterwards), its size on disk, lookup
# latency p50/p99 of present and of missing ID numbers with the CPU per
# lookup (the Go process, and the PostgreSQL backends of the database), and
# the OpenID Provider's login rate with that database as its store, against
# an empty database in the same window.
#
#   SHENFEN_SCALE_RECORDS=50000000           registry size (at 50 M: about 46 GB
#                                             of disk and an hour or more; per
#                                             1 M: CSV 155 MB, database 449 MB,
#                                             sorted runs 316 MB while importing)
#   SHENFEN_BENCH_DIR=/tmp/shenfen-bench-scale   work directory
#   SHENFEN_SCALE_IMPORT=0                   skip the import (the database
#                                             and DIR/data-postgres-N exist)
#   SHENFEN_BENCH_LOOKUPS=50000              lookups per latency run
#   OIDC_BENCH_TIME=3s OIDC_BENCH_COUNT=3    provider benchmark runs
#   SHENFEN_OIDC_BENCH_WARMUP=200            logins before each provider run,
#                                             then ANALYZE
#   SHENFEN_BENCH_KEEP=1                     keep the database afterwards
source "$(dirname "$0")/../lib.sh"
N="${SHENFEN_SCALE_RECORDS:-50000000}"
DIR="${SHENFEN_BENCH_DIR:-${TMPDIR:-/tmp}/shenfen-bench-scale}"
PG="${SHENFEN_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}"
LOOKUPS="${SHENFEN_BENCH_LOOKUPS:-50000}"
export SHENFEN_OIDC_BENCH_WARMUP="${SHENFEN_OIDC_BENCH_WARMUP:-200}"
mkdir -p "$DIR"
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

pg_url() {
  local base="${PG%%\?*}" query=""
  [[ "$PG" == *\?* ]] && query="?${PG#*\?}"
  echo "${base%/*}/$1$query"
}
DB="shenfen_bench_$N"
url="$(pg_url "$DB")"

if [ "${SHENFEN_SCALE_IMPORT:-1}" != 0 ]; then
  SHENFEN_BENCH_KEEP=1 SHENFEN_BENCH_DRIVERS=postgres SHENFEN_BENCH_SIZES="$N" SHENFEN_BENCH_DIR="$DIR" \
    SHENFEN_BENCH_LOOKUPS="$LOOKUPS" bash scripts/bench.d/registry.sh
fi

log "scale: size on disk of the $N-resident registry ($DB)"
# ANALYZE samples (a count(*) or VACUUM would read all of it); the record
# count is the import's own summary above, reltuples the planner's estimate.
psql "$url" -c "ANALYZE registry_records" -c "
SELECT pg_size_pretty(pg_database_size(current_database())) AS database,
       pg_size_pretty(pg_table_size('registry_records')) AS table_with_toast,
       pg_size_pretty(pg_indexes_size('registry_records')) AS indexes,
       reltuples::bigint AS records_estimated,
       pg_database_size(current_database()) / GREATEST(reltuples::bigint, 1) AS bytes_per_record
FROM pg_class WHERE relname = 'registry_records'"

go test -c -o "$DIR/store.test" ./store/
go test -c -o "$DIR/oidc.test" ./oidc/
for bench in RegistryLookup RegistryLookupMissing; do
  log "scale: $bench, $LOOKUPS lookups on the $N-resident registry (load average $(loadavg), $(date -u +%H:%M:%S))"
  # cpu-µs/op: the lookup process; pg-cpu-µs/op: the database's backends.
  (cd store && SHENFEN_BENCH_DATA="$DIR/data-postgres-$N" SHENFEN_BENCH_DB="$url" SHENFEN_BENCH_RECORDS="$N" \
    SHENFEN_BENCH_SEED=1 "$DIR/store.test" -test.run '^$' -test.bench "^Benchmark$bench\$" -test.benchtime "${LOOKUPS}x")
done

for i in $(seq "${OIDC_BENCH_COUNT:-3}"); do
  log "scale: logins with the $N-resident database as the provider's store, run $i (load average $(loadavg), $(date -u +%H:%M:%S))"
  (cd oidc && SHENFEN_OIDC_BENCH_POSTGRES="$url" "$DIR/oidc.test" -test.run '^$' \
    -test.bench '^BenchmarkProvider$/^postgres$/^(Flow|TokenPrivateKeyJWT)$' -test.benchtime "${OIDC_BENCH_TIME:-3s}")
  log "scale: the same on an empty database, run $i (load average $(loadavg), $(date -u +%H:%M:%S))"
  (cd oidc && "$DIR/oidc.test" -test.run '^$' \
    -test.bench '^BenchmarkProvider$/^postgres$/^(Flow|TokenPrivateKeyJWT)$' -test.benchtime "${OIDC_BENCH_TIME:-3s}")
done

if [ -z "${SHENFEN_BENCH_KEEP:-}" ]; then
  log "scale: removing $DB (the CSV file stays in $DIR)"
  psql "$PG" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)"
  rm -rf "$DIR/data-postgres-$N"
fi
