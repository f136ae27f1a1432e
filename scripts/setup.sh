#!/usr/bin/env bash
# setup.sh installs everything shenfen needs to build and run: Debian
# packages, Go modules and npm packages. It is safe to run again.
source "$(dirname "$0")/lib.sh"
# Debian packages, one list per concern, in scripts/setup.d/*.debs.
debs=()
for f in scripts/setup.d/*.debs; do
  [ -e "$f" ] || continue
  while read -r p; do
    p="${p%%#*}"; p="${p// /}"
    [ -n "$p" ] && debs+=("$p")
  done < "$f"
done
[ ${#debs[@]} -gt 0 ] && need_debs "${debs[@]}"
need_go
need_npm
# Further setup steps, one file per concern.
for f in scripts/setup.d/*.sh; do
  [ -e "$f" ] || continue
  log "setup: $(basename "$f")"
  source "$f"
done
