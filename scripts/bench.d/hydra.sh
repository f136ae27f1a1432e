#!/usr/bin/env bash
# hydra.sh measures shenfen's OpenID Provider and Ory Hydra side by side on
# the same PostgreSQL, in the same window, with the same load generator
# (oidc/hydra_bench_test.go and oidc/process_bench_test.go: 8 concurrent
# clients; CPU per operation of the server process, of the PostgreSQL
# backends serving its database and, for Hydra, of its login and consent
# app, each read from /proc apart from the load generator's). Results:
# docs/benchmarks.md, "Side by side with Ory Hydra, measured".
#
# Hydra is built here from a source checkout with Go modules; nothing of it
# is kept in this repository. It is skipped (with a message) when neither a
# checkout nor a binary is given:
#
#   HYDRA_SRC=/path/to/hydra       a checkout of github.com/ory/hydra (the
#                                  comparison used tag v26.2.0), or the tag
#                                  extracted with git archive (no .git: the
#                                  built binary's `hydra version` then says
#                                  "master", the source is still the tag)
#   HYDRA_BIN=/path/to/hydra       or an already built binary
#   SHENFEN_BENCH_DIR=/tmp/shenfen-bench-hydra   work directory
#   OIDC_BENCH_TIME=3s OIDC_BENCH_COUNT=3        go test -benchtime, -count
#   SHENFEN_OIDC_BENCH_WARMUP=200  whole flows before measuring, then ANALYZE
#                                  (on both: Hydra's refresh rotation scans
#                                  its fresh tables without statistics)
#   HYDRA_PORT=24444               public port; admin +1, login app +2
#   HYDRA_DSN_OPTIONS='&max_conns=32&max_idle_conns=32'   Hydra's connection
#                                  pool, as large as shenfen's (32); its
#                                  default (2 per core: 4 here) stalled 8
#                                  concurrent flows for a minute
#
# Hydra's settings: its ID-token key set (hydra.openid.id-token) is created
# with an ES256 key before the first login (the benchmark checks the ID
# token's alg); client secrets are hashed with PBKDF2 at 1 iteration, the
# cheapest its configuration accepts; log level warn (shenfen's benchmark
# provider does not log requests either); access tokens opaque (Hydra's
# default); --dev for http on loopback.
source "$(dirname "$0")/../lib.sh"
DIR="${SHENFEN_BENCH_DIR:-${TMPDIR:-/tmp}/shenfen-bench-hydra}"
PG="${SHENFEN_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}"
PORT="${HYDRA_PORT:-24444}"
DB=shenfen_hydra_bench
export SHENFEN_OIDC_BENCH_WARMUP="${SHENFEN_OIDC_BENCH_WARMUP:-200}"
TIME="${OIDC_BENCH_TIME:-3s}"
COUNT="${OIDC_BENCH_COUNT:-3}"
mkdir -p "$DIR"

bin="${HYDRA_BIN:-}"
if [ -z "$bin" ]; then
  if [ -z "${HYDRA_SRC:-}" ]; then
    log "hydra: set HYDRA_SRC to a checkout of github.com/ory/hydra (or HYDRA_BIN to a binary); skipped"
    exit 0
  fi
  bin="$DIR/hydra"
  log "hydra: building $HYDRA_SRC ($(git -C "$HYDRA_SRC" describe --tags 2>/dev/null || echo 'no git tag')) into $bin"
  (cd "$HYDRA_SRC" && go build -o "$bin" .)
fi

pg_url() {
  local base="${PG%%\?*}" query=""
  [[ "$PG" == *\?* ]] && query="?${PG#*\?}"
  echo "${base%/*}/$1$query"
}
dsn="$(pg_url "$DB")"
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

psql "$PG" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
export DSN="$dsn${HYDRA_DSN_OPTIONS-&max_conns=32&max_idle_conns=32}" SECRETS_SYSTEM="shenfen-bench-hydra-system-secret" LOG_LEVEL=warn \
  SERVE_PUBLIC_HOST=127.0.0.1 SERVE_PUBLIC_PORT="$PORT" SERVE_ADMIN_HOST=127.0.0.1 SERVE_ADMIN_PORT=$((PORT + 1)) \
  URLS_SELF_ISSUER="http://127.0.0.1:$PORT" URLS_LOGIN="http://127.0.0.1:$((PORT + 2))/login" \
  URLS_CONSENT="http://127.0.0.1:$((PORT + 2))/consent" \
  OAUTH2_HASHERS_ALGORITHM=pbkdf2 OAUTH2_HASHERS_PBKDF2_ITERATIONS=1
"$bin" migrate sql up -e --yes >/dev/null
"$bin" serve all --dev --sqa-opt-out > "$DIR/hydra.log" 2>&1 &
hydra=$!
trap 'kill "$hydra" 2>/dev/null; wait "$hydra" 2>/dev/null || true' EXIT
for _ in $(seq 120); do
  curl -fsS "http://127.0.0.1:$((PORT + 1))/health/ready" >/dev/null 2>&1 && break
  sleep 0.5
done
curl -fsS "http://127.0.0.1:$((PORT + 1))/health/ready" >/dev/null
"$bin" create jwks hydra.openid.id-token --alg ES256 --use sig -e "http://127.0.0.1:$((PORT + 1))" -q

go test -c -o "$DIR/oidc.test" ./oidc/
export SHENFEN_HYDRA_PUBLIC="http://127.0.0.1:$PORT" SHENFEN_HYDRA_ADMIN="http://127.0.0.1:$((PORT + 1))" \
  SHENFEN_HYDRA_PID="$hydra" SHENFEN_HYDRA_DB="$dsn" SHENFEN_HYDRA_APP="127.0.0.1:$((PORT + 2))"
# Alternate the two so that both see the same machine load.
for i in $(seq "$COUNT"); do
  log "hydra: round $i of $COUNT, Ory Hydra (load average $(loadavg), $(date -u +%H:%M:%S))"
  (cd oidc && "$DIR/oidc.test" -test.run '^$' -test.bench '^BenchmarkHydra$' -test.benchtime "$TIME")
  log "hydra: round $i of $COUNT, shenfen on PostgreSQL (load average $(loadavg), $(date -u +%H:%M:%S))"
  (cd oidc && "$DIR/oidc.test" -test.run '^$' -test.bench '^BenchmarkProvider$/^postgres$' -test.benchtime "$TIME")
done
log "hydra: load average after: $(loadavg)"
log "hydra: client secret hashes (algorithm and iterations): $(psql "$dsn" -Atc \
  "SELECT string_agg(DISTINCT substring(client_secret from '^[$][a-z0-9-]+[$]i=[0-9]+'), ', ') FROM hydra_client WHERE client_secret <> ''")"
kill "$hydra"
wait "$hydra" 2>/dev/null || true
trap - EXIT
psql "$PG" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)"
