#!/usr/bin/env bash
# postgres.sh makes sure a PostgreSQL server answers on 127.0.0.1:5432 for
# the conformance suite: it starts the local cluster if it is stopped, and
# installs Debian's postgresql if there is none. It writes the URL the tests
# should use to .postgres-url.
source "$(dirname "$0")/lib.sh"
url="postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
ok() { command -v psql >/dev/null && psql "$1" -Atqc 'select 1' >/dev/null 2>&1; }
if [ -n "${SHENFEN_TEST_POSTGRES:-}" ]; then exit 0; fi
if ok "$url"; then echo "$url" > .postgres-url; exit 0; fi
if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
  need_debs postgresql postgresql-client
fi
ver=$(ls /etc/postgresql | sort -n | tail -1)
log "starting PostgreSQL $ver"
as_root pg_ctlcluster --skip-systemctl-redirect "$ver" main start 2>/dev/null || true
for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
if ok "$url"; then echo "$url" > .postgres-url; exit 0; fi
# A fresh Debian cluster asks for a password over TCP: give the postgres
# role one that only this machine's tests use.
as_root su postgres -c "psql -qc \"ALTER USER postgres PASSWORD 'shenfen-test'\"" >/dev/null
url="postgres://postgres:shenfen-test@127.0.0.1:5432/postgres?sslmode=disable"
ok "$url" || { echo "PostgreSQL does not answer on 127.0.0.1:5432" >&2; exit 1; }
echo "$url" > .postgres-url
