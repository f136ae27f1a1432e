#!/usr/bin/env bash
# Failovers under load (docs/cluster.md): the failover test with
# SHENFEN_CLUSTER_FAILOVERS primary kills (default 5) in one run; one
# "cluster:" line per failover (requests in flight, errors during the
# switch, seconds until writes succeed again, acknowledged writes lost).
source "$(dirname "$0")/../lib.sh"
SHENFEN_CLUSTER_FAILOVERS="${SHENFEN_CLUSTER_FAILOVERS:-5}" bash scripts/test.d/cluster.sh
