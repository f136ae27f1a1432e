#!/usr/bin/env bash
# registry.sh measures the population registry: import rate of generated
# demo residents without portraits (1 M and 10 M by default) on SQLite and
# PostgreSQL, peak memory (RSS) and CPU time of each import, and lookup
# latency p50/p99 on the largest registry of each driver.
#
# On PostgreSQL the import's CPU time is split in two: the shenfen process
# (GNU time) and the server: the backends serving the bench database (their
# process title names it; sampled every second, so a backend's last second
# may be missed) plus the cluster's checkpointer, background writer and WAL
# writer (shared with any other database in use at the time).
#
#   SHENFEN_BENCH_SIZES="1000000 10000000"   registry sizes
#   SHENFEN_BENCH_DRIVERS="sqlite postgres"  drivers
#   SHENFEN_BENCH_DIR=/tmp/shenfen-bench-registry   work directory (CSV files
#                                             of 1.5 GB per 10 M residents)
#   SHENFEN_BENCH_LOOKUPS=50000              lookups per latency run
#   SHENFEN_BENCH_SORT=auto                  registry import --sort: on, off
#                                             or auto (two passes from 64 MiB)
#   SHENFEN_BENCH_KEEP=1                     keep the databases afterwards
source "$(dirname "$0")/../lib.sh"
SIZES="${SHENFEN_BENCH_SIZES:-1000000 10000000}"
DRIVERS="${SHENFEN_BENCH_DRIVERS:-sqlite postgres}"
DIR="${SHENFEN_BENCH_DIR:-${TMPDIR:-/tmp}/shenfen-bench-registry}"
PG="${SHENFEN_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}"
LOOKUPS="${SHENFEN_BENCH_LOOKUPS:-50000}"
SORT="${SHENFEN_BENCH_SORT:-auto}"
mkdir -p "$DIR"
go build -o "$DIR/shenfen" ./cmd/shenfen

# pg_url NAME: the PostgreSQL URL of database NAME on the test server.
pg_url() {
  local base="${PG%%\?*}" query=""
  [[ "$PG" == *\?* ]] && query="?${PG#*\?}"
  echo "${base%/*}/$1$query"
}

# timed CMD...: run CMD, printing its wall time, CPU time and peak RSS when
# GNU time is installed (scripts/setup.d/registry.debs).
timed() {
  if [ -x /usr/bin/time ]; then
    /usr/bin/time -f "wall %e s, CPU %U s user + %S s system, peak RSS %M KB" "$@"
  else
    "$@"
  fi
}

# pg_ticks PATTERN: CPU clock ticks (user + system) used so far by each
# PostgreSQL process whose title matches the extended regexp PATTERN, one
# "PID TICKS" a line.
pg_ticks() {
  local pid
  for pid in $(pgrep -f "^postgres: .*($1)"); do
    awk -v pid="$pid" '{sub(/.*\) /, ""); print pid, $12 + $13}' "/proc/$pid/stat" 2>/dev/null || true
  done
}

# pg_sampler DB OUT: every second, record the CPU ticks of the backends of
# database DB into OUT (the last sample of each backend wins), until killed.
pg_sampler() {
  declare -A seen=()
  while :; do
    while read -r pid t; do seen[$pid]=$t; done < <(pg_ticks " $1 ")
    : > "$2.tmp"
    for pid in "${!seen[@]}"; do echo "$pid ${seen[$pid]}" >> "$2.tmp"; done
    mv "$2.tmp" "$2"
    sleep 1
  done
}

sum_ticks() { awk '{s += $2} END {print s + 0}' "$@"; }

largest=""
for n in $SIZES; do
  largest="$n"
  csv="$DIR/demo-$n.csv"
  if [ ! -s "$csv" ]; then
    log "generating $n demo residents (seed 1) into $csv"
    "$DIR/shenfen" registry demo --faces "" --count "$n" --out "$csv"
  fi
  for d in $DRIVERS; do
    data="$DIR/data-$d-$n"
    rm -rf "$data"
    args=(--data "$data" --sort "$SORT")
    if [ "$d" = postgres ]; then
      psql "$PG" -qc "DROP DATABASE IF EXISTS shenfen_bench_$n WITH (FORCE)" -c "CREATE DATABASE shenfen_bench_$n"
      args+=(--db "$(pg_url "shenfen_bench_$n")")
      pg_ticks 'checkpointer|background writer|walwriter' > "$DIR/pg-bg-before"
      pg_sampler "shenfen_bench_$n" "$DIR/pg-backends" &
      sampler=$!
    fi
    log "import $n residents into $d, --sort $SORT (load average $(cut -d' ' -f1-3 /proc/loadavg))"
    timed "$DIR/shenfen" registry import --quiet --log-level warn "${args[@]}" "$csv"
    if [ "$d" = postgres ]; then
      kill "$sampler"; wait "$sampler" 2>/dev/null || true
      pg_ticks 'checkpointer|background writer|walwriter' > "$DIR/pg-bg-after"
      awk -v hz="$(getconf CLK_TCK)" -v be="$(sum_ticks "$DIR/pg-backends")" \
        -v b0="$(sum_ticks "$DIR/pg-bg-before")" -v b1="$(sum_ticks "$DIR/pg-bg-after")" \
        'BEGIN {printf "PostgreSQL server CPU: backends %.1f s, checkpointer + writers %.1f s\n", be / hz, (b1 - b0) / hz}' </dev/null
      echo "PostgreSQL database size: $(psql "$(pg_url "shenfen_bench_$n")" -Atc "SELECT pg_size_pretty(pg_database_size(current_database()))")"
    else
      echo "SQLite database size: $(du -sh "$data" | cut -f1)"
    fi
    log "after the import: load average $(cut -d' ' -f1-3 /proc/loadavg)"
  done
done

for d in $DRIVERS; do
  log "lookup latency on the $largest-resident $d registry (load average $(cut -d' ' -f1-3 /proc/loadavg))"
  env=(SHENFEN_BENCH_DATA="$DIR/data-$d-$largest" SHENFEN_BENCH_RECORDS="$largest" SHENFEN_BENCH_SEED=1)
  [ "$d" = postgres ] && env+=(SHENFEN_BENCH_DB="$(pg_url "shenfen_bench_$largest")")
  env "${env[@]}" go test ./store/ -run XXX -bench RegistryLookup -benchtime "${LOOKUPS}x"
done

if [ -z "${SHENFEN_BENCH_KEEP:-}" ]; then
  log "removing the benchmark databases (the CSV files stay in $DIR)"
  for n in $SIZES; do
    rm -rf "$DIR"/data-*-"$n"
    [[ " $DRIVERS " == *" postgres "* ]] && psql "$PG" -qc "DROP DATABASE IF EXISTS shenfen_bench_$n WITH (FORCE)"
  done
fi
