#!/usr/bin/env bash
# bench.sh runs the benchmark suites in scripts/bench.d (each area has one),
# or only those named: scripts/bench.sh registry. Results go to standard
# output; docs/benchmarks.md records them with the machine and the date.
# Benchmarks are long and CPU-hungry: run them on a quiet machine.
source "$(dirname "$0")/lib.sh"
scripts/setup.sh
scripts/postgres.sh
export SHENFEN_TEST_POSTGRES="${SHENFEN_TEST_POSTGRES:-$(cat "$ROOT/.postgres-url" 2>/dev/null || echo postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable)}"
log "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%Y-%m-%dT%H:%MZ)"
for f in scripts/bench.d/*.sh; do
  [ -e "$f" ] || continue
  name=$(basename "$f" .sh)
  if [ $# -gt 0 ] && [[ " $* " != *" $name "* ]]; then continue; fi
  log "bench: $name"
  bash "$f"
done
