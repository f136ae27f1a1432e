#!/usr/bin/env bash
# cluster.sh runs a highly available PostgreSQL cluster on this machine's
# loopback, for shenfen's many-server mode and its failover tests: one etcd
# (Patroni's consensus store), three PostgreSQL 15 nodes managed by Patroni
# (one primary, two replicas, synchronous replication in strict mode) and,
# if haproxy is installed, an HAProxy that sends connections to the node
# whose Patroni REST API answers /primary. No containers; nothing touches
# the PostgreSQL on 127.0.0.1:5432.
#
#   scripts/cluster.sh start          start (bootstrapping on first use), wait for a primary
#   scripts/cluster.sh stop           stop everything (data kept)
#   scripts/cluster.sh destroy        stop and delete the data
#   scripts/cluster.sh status         patronictl list
#   scripts/cluster.sh url            the libpq multi-host URL for shenfen
#   scripts/cluster.sh haproxy-url    the URL through HAProxy
#   scripts/cluster.sh replica-url    a replica through HAProxy (shenfen --db-replica)
#   scripts/cluster.sh primary        the name of the current primary (pg1, pg2, pg3)
#   scripts/cluster.sh kill NODE      kill -9 NODE's Patroni and PostgreSQL (a machine's death)
#   scripts/cluster.sh kill-primary   kill -9 the current primary; prints its name
#   scripts/cluster.sh revive NODE    start NODE's Patroni again (it rejoins as a replica)
#   scripts/cluster.sh wait-primary   wait until a primary accepts writes
#
# Settings: SHENFEN_CLUSTER_DIR (default /tmp/shenfen-cluster) holds the data
# and logs; SHENFEN_CLUSTER_PORT (default 25400) is the base port: etcd
# +1/+2, PostgreSQL pgN +10+N, Patroni REST pgN +20+N, HAProxy +30
# (read-write) and +31 (replicas).
source "$(dirname "$0")/lib.sh"

DIR="${SHENFEN_CLUSTER_DIR:-/tmp/shenfen-cluster}"
BASE="${SHENFEN_CLUSTER_PORT:-25400}"
PGBIN="${SHENFEN_PGBIN:-/usr/lib/postgresql/15/bin}"
NODES=(pg1 pg2 pg3)
ETCD_CLIENT=$((BASE + 1))
ETCD_PEER=$((BASE + 2))
HAPROXY_RW=$((BASE + 30))
HAPROXY_RO=$((BASE + 31))
DBNAME=shenfen

pg_port() { echo $((BASE + 10 + ${1#pg})); }
rest_port() { echo $((BASE + 20 + ${1#pg})); }

# PostgreSQL refuses to run as root: when we are root, Patroni (and so
# PostgreSQL) runs as the postgres user.
RUNAS=()
if [ "$(id -u)" = 0 ]; then RUNAS=(runuser -u postgres --); fi

need() {
  local missing=()
  command -v etcd >/dev/null || missing+=(etcd-server)
  command -v etcdctl >/dev/null || missing+=(etcd-client)
  command -v patroni >/dev/null || missing+=(patroni)
  [ -x "$PGBIN/postgres" ] || missing+=(postgresql-15)
  if [ ${#missing[@]} -gt 0 ]; then need_debs "${missing[@]}"; fi
}

password() { cat "$DIR/password"; }

url() {
  local hosts=() n
  for n in "${NODES[@]}"; do hosts+=("127.0.0.1:$(pg_port "$n")"); done
  local IFS=,
  echo "postgres://postgres:$(password)@${hosts[*]}/$DBNAME?sslmode=disable&target_session_attrs=read-write&connect_timeout=2"
}

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

start_etcd() {
  alive "$DIR/etcd.pid" && return
  mkdir -p "$DIR/etcd"
  setsid etcd --name e1 --data-dir "$DIR/etcd" \
    --listen-client-urls "http://127.0.0.1:$ETCD_CLIENT" --advertise-client-urls "http://127.0.0.1:$ETCD_CLIENT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER" \
    --initial-cluster "e1=http://127.0.0.1:$ETCD_PEER" --initial-cluster-token "shenfen-$BASE" \
    --heartbeat-interval 100 --election-timeout 1000 --log-level warn \
    >>"$DIR/etcd.log" 2>&1 </dev/null &
  echo $! >"$DIR/etcd.pid"
  for _ in $(seq 1 50); do
    ETCDCTL_API=3 etcdctl --endpoints "127.0.0.1:$ETCD_CLIENT" endpoint health >/dev/null 2>&1 && return
    sleep 0.2
  done
  echo "etcd did not start (log: $DIR/etcd.log)" >&2; exit 1
}

# patroni_config writes NODE's Patroni configuration. Failover timing: the
# leader key lives ttl=10 s in etcd and every node runs its loop every
# second, so a dead primary is replaced about 10-13 s after its death.
# synchronous_mode_strict: a commit is acknowledged only once a
# synchronous standby has flushed it, even when no standby is left (writes
# then wait rather than risk being lost), and Patroni promotes only that
# standby.
patroni_config() {
  local n=$1 port rest
  port=$(pg_port "$n"); rest=$(rest_port "$n")
  cat >"$DIR/$n.yml" <<EOF
scope: shenfen-$BASE
name: $n
log:
  level: WARNING
restapi:
  listen: 127.0.0.1:$rest
  connect_address: 127.0.0.1:$rest
etcd3:
  hosts: 127.0.0.1:$ETCD_CLIENT
bootstrap:
  dcs:
    ttl: 10
    loop_wait: 1
    retry_timeout: 4
    maximum_lag_on_failover: 1048576
    synchronous_mode: true
    synchronous_mode_strict: true
    synchronous_node_count: 1
    postgresql:
      use_pg_rewind: true
      use_slots: true
      parameters:
        synchronous_commit: "on"
        wal_level: replica
        hot_standby: "on"
        wal_log_hints: "on"
        max_wal_senders: 10
        max_replication_slots: 10
        max_connections: 200
        shared_buffers: 64MB
        fsync: "on"
  initdb:
    - encoding: UTF8
    - locale: C.UTF-8
    - auth-local: trust
    - auth-host: scram-sha-256
  pg_hba:
    - local all all trust
    - host replication replicator 127.0.0.1/32 scram-sha-256
    - host all all 127.0.0.1/32 scram-sha-256
postgresql:
  listen: 127.0.0.1:$port
  connect_address: 127.0.0.1:$port
  data_dir: $DIR/$n
  bin_dir: $PGBIN
  pgpass: $DIR/$n.pgpass
  basebackup:
    - checkpoint: fast
  authentication:
    superuser: {username: postgres, password: "$(password)"}
    replication: {username: replicator, password: "$(password)"}
    rewind: {username: postgres, password: "$(password)"}
  parameters:
    unix_socket_directories: "$DIR"
tags:
  nofailover: false
  noloadbalance: false
EOF
}

start_node() {
  local n=$1
  alive "$DIR/$n.pid" && return
  patroni_config "$n"
  [ -n "${RUNAS[*]}" ] && chown postgres: "$DIR/$n.yml"
  # A node killed with kill -9 leaves its postmaster.pid; Patroni checks
  # whether that pid is a postgres and starts over when it is not.
  # The pid file gets Patroni's own pid (runuser stays as its parent).
  rm -f "$DIR/$n.pid"
  setsid "${RUNAS[@]}" sh -c 'echo $$ >"$1"; exec patroni "$2"' sh "$DIR/$n.pid" "$DIR/$n.yml" \
    >>"$DIR/$n.log" 2>&1 </dev/null &
  for _ in $(seq 1 50); do [ -s "$DIR/$n.pid" ] && break; sleep 0.1; done
}

start_haproxy() {
  command -v haproxy >/dev/null || return 0
  alive "$DIR/haproxy.pid" && return
  local n
  {
    cat <<EOF
global
  maxconn 1000
defaults
  mode tcp
  timeout connect 2s
  timeout client 30m
  timeout server 30m
  default-server inter 1s fall 2 rise 1 on-marked-down shutdown-sessions
listen primary
  bind 127.0.0.1:$HAPROXY_RW
  option httpchk GET /primary
  http-check expect status 200
EOF
    for n in "${NODES[@]}"; do echo "  server $n 127.0.0.1:$(pg_port "$n") check port $(rest_port "$n")"; done
    cat <<EOF
listen replicas
  bind 127.0.0.1:$HAPROXY_RO
  balance roundrobin
  option httpchk GET /replica
  http-check expect status 200
EOF
    for n in "${NODES[@]}"; do echo "  server $n 127.0.0.1:$(pg_port "$n") check port $(rest_port "$n")"; done
  } >"$DIR/haproxy.cfg"
  haproxy -f "$DIR/haproxy.cfg" -D -p "$DIR/haproxy.pid" >>"$DIR/haproxy.log" 2>&1
}

leader() {
  local n
  for n in "${NODES[@]}"; do
    if curl -fsS -o /dev/null --max-time 1 "http://127.0.0.1:$(rest_port "$n")/primary" 2>/dev/null; then
      echo "$n"; return 0
    fi
  done
  return 1
}

wait_primary() {
  local deadline=$((SECONDS + ${1:-90}))
  while [ $SECONDS -lt $deadline ]; do
    if PGCONNECT_TIMEOUT=2 psql "$(url | sed "s#/$DBNAME?#/postgres?#")" -Atqc 'select pg_is_in_recovery()' 2>/dev/null | grep -qx f; then
      return 0
    fi
    sleep 0.3
  done
  echo "no primary accepts writes after ${1:-90}s (logs: $DIR/pg*.log)" >&2; return 1
}

# wait_replicas waits until the primary streams to every other running node
# and one of them is synchronous.
wait_replicas() {
  local want=$1 deadline=$((SECONDS + ${2:-90})) got
  while [ $SECONDS -lt $deadline ]; do
    got=$(PGCONNECT_TIMEOUT=2 psql "$(url | sed "s#/$DBNAME?#/postgres?#")" -Atqc \
      "select count(*) filter (where state = 'streaming') || ' ' || count(*) filter (where sync_state = 'sync') from pg_stat_replication" 2>/dev/null || true)
    if [ "${got%% *}" -ge "$want" ] 2>/dev/null && [ "${got##* }" -ge 1 ]; then return 0; fi
    sleep 0.3
  done
  echo "fewer than $want streaming replicas after ${2:-90}s (logs: $DIR/pg*.log)" >&2; return 1
}

start() {
  need
  mkdir -p "$DIR"
  [ -f "$DIR/password" ] || { head -c 18 /dev/urandom | base64 | tr '+/' '-_' >"$DIR/password"; chmod 600 "$DIR/password"; }
  [ -n "${RUNAS[*]}" ] && chown postgres: "$DIR" "$DIR/password"
  start_etcd
  local n
  for n in "${NODES[@]}"; do start_node "$n"; done
  wait_primary 120
  local base_url
  base_url=$(url | sed "s#/$DBNAME?#/postgres?#")
  if [ "$(psql "$base_url" -Atqc "select 1 from pg_database where datname = '$DBNAME'")" != 1 ]; then
    psql "$base_url" -qc "CREATE DATABASE $DBNAME" >/dev/null
  fi
  wait_replicas 2 120
  start_haproxy
  log "cluster up: primary $(leader); shenfen --database '$(url)'"
}

kill_node() {
  local n=$1 pm
  if [ -f "$DIR/$n/postmaster.pid" ]; then
    pm=$(head -1 "$DIR/$n/postmaster.pid")
  fi
  if alive "$DIR/$n.pid"; then kill -9 "$(cat "$DIR/$n.pid")" 2>/dev/null || true; fi
  if [ -n "${pm:-}" ] && kill -0 "$pm" 2>/dev/null; then
    # The postmaster and its backends die together, as on a power cut.
    local kids
    kids=$(pgrep -P "$pm" || true)
    kill -9 "$pm" $kids 2>/dev/null || true
  fi
  rm -f "$DIR/$n.pid"
}

stop() {
  local n
  if alive "$DIR/haproxy.pid"; then kill "$(cat "$DIR/haproxy.pid")"; fi
  rm -f "$DIR/haproxy.pid"
  for n in "${NODES[@]}"; do
    if alive "$DIR/$n.pid"; then kill -INT "$(cat "$DIR/$n.pid")" 2>/dev/null || true; fi
  done
  for n in "${NODES[@]}"; do
    for _ in $(seq 1 100); do alive "$DIR/$n.pid" || break; sleep 0.1; done
    kill_node "$n"
  done
  if alive "$DIR/etcd.pid"; then
    kill "$(cat "$DIR/etcd.pid")"
    for _ in $(seq 1 50); do alive "$DIR/etcd.pid" || break; sleep 0.1; done
  fi
  rm -f "$DIR/etcd.pid"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  destroy) stop; rm -rf "$DIR" ;;
  status) patronictl -c "$DIR/pg1.yml" list ;;
  url) url ;;
  haproxy-url) echo "postgres://postgres:$(password)@127.0.0.1:$HAPROXY_RW/$DBNAME?sslmode=disable&connect_timeout=2" ;;
  replica-url) echo "postgres://postgres:$(password)@127.0.0.1:$HAPROXY_RO/$DBNAME?sslmode=disable&connect_timeout=2" ;;
  primary) leader ;;
  kill) kill_node "$2" ;;
  kill-primary) n=$(leader) && kill_node "$n" && echo "$n" ;;
  revive) start_node "$2" ;;
  wait-primary) wait_primary "${2:-90}" ;;
  wait-replicas) wait_replicas "${2:-2}" "${3:-90}" ;;
  *) sed -n '2,/^source/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2 ;;
esac
