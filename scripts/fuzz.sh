#!/usr/bin/env bash
# fuzz.sh runs every fuzz target of the repository for a fixed time each and
# prints, per target, the executions and the new inputs it found, as the
# markdown table of docs/security.md (-write replaces that table there).
#   scripts/fuzz.sh [-write] [-time 20s] [REGEXP]   (REGEXP filters targets)
# One worker per target (-parallel 1) so that figures compare across
# targets and machines; minimisation of new inputs is capped (50 runs), or a
# slow target spends its time minimising instead of fuzzing (with Go's
# default of 60 s, the image decoder made about 5000 executions in 20 s and
# then none). A target that fails leaves its input in testdata/fuzz: a bug.
source "$(dirname "$0")/lib.sh"
write=0; fuzztime=20s; filter=.
while [ $# -gt 0 ]; do
  case "$1" in
    -write) write=1 ;;
    -time) fuzztime="$2"; shift ;;
    *) filter="$1" ;;
  esac
  shift
done
out=$(mktemp); trap 'rm -f "$out"' EXIT
table="| package | target | corpus at start | executions in $fuzztime | per second | new inputs | result |
| --- | --- | ---: | ---: | ---: | ---: | --- |"
failed=0
while IFS=: read -r file name; do
  dir=$(dirname "$file"); pkg=${dir#./}
  [[ "$pkg/$name" =~ $filter ]] || continue
  log "fuzz $pkg $name ($fuzztime)"
  result=ok
  if ! go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" -fuzzminimizetime 50x -parallel 1 "./$pkg" >"$out" 2>&1; then
    if grep -q 'context deadline exceeded' "$out" && ! grep -q 'Failing input written' "$out"; then
      # Go's fuzzing engine sometimes reports its own time limit as a
      # failure when it falls in the middle of a minimisation; no input
      # failed, nothing was written to testdata.
      result="ok (engine timed out mid-minimisation)"
    else
      result=FAIL; failed=1; tail -20 "$out" >&2
    fi
  fi
  line=$(grep -E '^fuzz: elapsed: .*execs: ' "$out" | tail -1 || true)
  execs=$(sed -nE 's/.*execs: ([0-9]+).*/\1/p' <<<"$line")
  newin=$(sed -nE 's/.*new interesting: ([0-9]+).*/\1/p' <<<"$line")
  seeds=$(sed -nE 's/.*(baseline coverage|seed corpus): [0-9]+\/([0-9]+) completed.*/\2/p' "$out" | tail -1)
  secs=${fuzztime%s}
  rate=$(( ${execs:-0} / ${secs:-1} ))
  table+=$'\n'"| $pkg | $name | ${seeds:-?} | ${execs:-0} | $rate | ${newin:-0} | $result |"
done < <(grep -rEo '^func (Fuzz[A-Za-z0-9_]+)' --include='*_test.go' . | sed 's/func //' | sort)
echo "$table"
if [ "$write" = 1 ]; then
  load=$(cut -d' ' -f1-3 /proc/loadavg)
  block="<!-- fuzz:begin (scripts/fuzz.sh -write; $(date -u +%Y-%m-%d), $(nproc) cores, load average $load at the end) -->
$table
<!-- fuzz:end -->"
  BLOCK="$block" python3 - docs/security.md <<'PY'
import os, re, sys
p = sys.argv[1]
s = open(p, encoding="utf-8").read()
new, n = re.subn(r"<!-- fuzz:begin.*?<!-- fuzz:end -->", lambda m: os.environ["BLOCK"], s, flags=re.S)
if n != 1:
    sys.exit("docs/security.md has no fuzz:begin/fuzz:end block")
open(p, "w", encoding="utf-8").write(new)
PY
fi
exit $failed
