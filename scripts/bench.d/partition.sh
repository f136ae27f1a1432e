#!/usr/bin/env bash
# partition.sh measures what hash partitioning registry_records by blind
# index does on PostgreSQL (docs/scale.md): a registry of N demo residents
# is imported, then copied in blind-index order into a plain table and into
# a table hash-partitioned on idx (16 partitions), each copy timed; then the
# lookup benchmarks (present and missing ID numbers; p50, p99, CPU of the
# lookup process and of the database's backends) run against each, the
# table under test renamed to registry_records, alternating.
#
#   SHENFEN_PARTITION_RECORDS=2000000   registry size
#   SHENFEN_PARTITION_COUNT=16          partitions
#   SHENFEN_BENCH_LOOKUPS=20000         lookups per run
#   SHENFEN_BENCH_DIR=/tmp/shenfen-bench-partition   work directory
source "$(dirname "$0")/../lib.sh"
N="${SHENFEN_PARTITION_RECORDS:-2000000}"
P="${SHENFEN_PARTITION_COUNT:-16}"
LOOKUPS="${SHENFEN_BENCH_LOOKUPS:-20000}"
DIR="${SHENFEN_BENCH_DIR:-${TMPDIR:-/tmp}/shenfen-bench-partition}"
PG="${SHENFEN_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}"
DB=shenfen_bench_partition
base="${PG%%\?*}" query=""
[[ "$PG" == *\?* ]] && query="?${PG#*\?}"
url="${base%/*}/$DB$query"
mkdir -p "$DIR"
rm -rf "$DIR/data"
go build -o "$DIR/shenfen" ./cmd/shenfen
go test -c -o "$DIR/store.test" ./store/
[ -s "$DIR/demo-$N.csv" ] || "$DIR/shenfen" registry demo --faces "" --count "$N" --out "$DIR/demo-$N.csv"
psql "$PG" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
log "partition: importing $N residents (load average $(cut -d' ' -f1-3 /proc/loadavg))"
"$DIR/shenfen" registry import --quiet --log-level warn --data "$DIR/data" --db "$url" "$DIR/demo-$N.csv"

log "partition: copies in blind-index order, plain and hash-partitioned ($P)"
psql "$url" -v ON_ERROR_STOP=1 <<EOF
\\timing on
ALTER TABLE registry_records RENAME TO registry_src;
CREATE TABLE registry_plain (LIKE registry_src INCLUDING ALL);
CREATE TABLE registry_part (LIKE registry_src INCLUDING ALL) PARTITION BY HASH (idx);
SELECT format('CREATE TABLE registry_part_%s PARTITION OF registry_part FOR VALUES WITH (MODULUS $P, REMAINDER %s)', i, i)
  FROM generate_series(0, $P - 1) i \\gexec
INSERT INTO registry_plain SELECT * FROM registry_src ORDER BY idx;
INSERT INTO registry_part SELECT * FROM registry_src ORDER BY idx;
ANALYZE registry_plain;
ANALYZE registry_part;
SELECT pg_size_pretty(pg_total_relation_size('registry_plain')) AS plain,
       pg_size_pretty((SELECT sum(pg_total_relation_size(c.oid)) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                       WHERE i.inhparent = 'registry_part'::regclass)::bigint) AS partitioned;
EOF

for round in 1 2; do
  for t in plain part; do
    psql "$url" -qc "ALTER TABLE registry_$t RENAME TO registry_records"
    log "partition: round $round, table $t (load average $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%H:%M:%S))"
    (cd store && SHENFEN_BENCH_DATA="$DIR/data" SHENFEN_BENCH_DB="$url" SHENFEN_BENCH_RECORDS="$N" SHENFEN_BENCH_SEED=1 \
      "$DIR/store.test" -test.run '^$' -test.bench 'RegistryLookup' -test.benchtime "${LOOKUPS}x")
    psql "$url" -qc "ALTER TABLE registry_records RENAME TO registry_$t"
  done
done
psql "$PG" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)"
rm -rf "$DIR/data"
