#!/usr/bin/env bash
# Failover tests (issue 14; docs/cluster.md): a PostgreSQL cluster under
# Patroni and etcd (scripts/cluster.sh) on free loopback ports in a
# temporary directory, several shenfen servers on it, and the tests in
# cmd/shenfen/cluster_test.go: flows that cross servers, the primary killed
# with kill -9 under load (SHENFEN_CLUSTER_FAILOVERS times, default 1), one
# server killed under load. Each failover prints one "cluster:" line with
# its figures. Skipped, loudly, only when the Debian packages cannot be
# installed.
source "$(dirname "$0")/../lib.sh"
if ! (need_debs patroni etcd-server etcd-client haproxy postgresql-15); then
  printf '\033[1;31m==> SKIPPED: the cluster failover tests need Debian patroni, etcd-server, etcd-client and postgresql-15, which could not be installed\033[0m\n' >&2
  exit 0
fi
need_npm
work=$(mktemp -d)
chmod 755 "$work" # PostgreSQL runs as the postgres user under it
export SHENFEN_CLUSTER_DIR="$work/cluster"
# A base port whose 32 ports are free (another run may hold the default).
port() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
base=""
for b in $(shuf -i 260-299 -n 40); do
  b=$((b * 100)); used=""
  for p in $(seq "$b" $((b + 31))); do if port "$p"; then used=1; break; fi; done
  if [ -z "$used" ]; then base=$b; break; fi
done
[ -n "$base" ] || { echo "no free block of 32 loopback ports" >&2; exit 1; }
export SHENFEN_CLUSTER_PORT=$base
trap 'scripts/cluster.sh destroy >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
start=$(date +%s)
scripts/cluster.sh start
log "cluster up in $(( $(date +%s) - start ))s"
SHENFEN_TEST_CLUSTER="$(scripts/cluster.sh url)"
SHENFEN_TEST_CLUSTER_HAPROXY="$(scripts/cluster.sh haproxy-url)"
SHENFEN_TEST_CLUSTER_REPLICA="$(scripts/cluster.sh replica-url)"
export SHENFEN_TEST_CLUSTER SHENFEN_TEST_CLUSTER_HAPROXY SHENFEN_TEST_CLUSTER_REPLICA
rc=0
go test -count=1 -timeout 15m -run '^TestCluster' -v ./cmd/shenfen/ >"$work/test.log" 2>&1 || rc=$?
# The servers' request logs are long: show the test's own lines (all of
# them when it failed).
if [ $rc = 0 ]; then grep -E '^(=== RUN|--- |PASS|ok)|cluster: ' "$work/test.log"; else grep -v '"level":"INFO"' "$work/test.log" | tail -200; fi
log "cluster tests: $(( $(date +%s) - start ))s in all"
exit $rc
