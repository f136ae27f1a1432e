# Shared helpers for shenfen's scripts; sourced, not run.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# as_root runs a command as root (directly when we are root, else via sudo).
as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

# need_debs installs the Debian packages that are not installed yet.
need_debs() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing Debian packages: ${missing[*]}"
    as_root apt-get update -qq || true
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

# need_npm installs the npm packages pinned in package-lock.json when they
# are missing or older than the lock file.
need_npm() {
  if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    log "installing npm packages (package-lock.json)"
    # npm ci refuses this lock file: cbor-extract's per-platform optional
    # packages have no entries in it; npm install honours the lock all the same.
    npm install --no-audit --no-fund --no-save --loglevel=error
  fi
  # Some npm packages carry Go sources (flatted, under eslint); a go.mod of
  # its own makes node_modules a separate module, so that ./... (vet,
  # staticcheck, go test) and go mod tidy never read third-party code there.
  [ -f node_modules/go.mod ] || printf 'module node_modules\n' > node_modules/go.mod
}

# need_go fetches the Go modules pinned in go.sum.
need_go() {
  command -v go >/dev/null || { echo "Go is required (go.dev/doc/install)" >&2; exit 1; }
  go mod download
}
