#!/usr/bin/env bash
# hostile.sh runs the hostile-input suite and counts its cases, so that the
# number in docs/security.md is measured, not typed (-write replaces the
# table there). The suite is every test whose name says it feeds the system
# what an attacker or a failing environment would (the pattern below); a
# case is a leaf: a subtest, or a test without subtests. Every one of them
# asserts a refusal (or that nothing was lost), so a failing case is an
# attack that got through: the script then exits non-zero and names it.
#   scripts/hostile.sh [-write]
source "$(dirname "$0")/lib.sh"
pattern='Hostile|Refus|Reject|Replay|Forg|Tamper|Attack|Spoof|Species|Foreign|Wrong|Missing|Unusable|Strict|Malformed|Errors|Problems|Flood|LockedOut|Limit|Bounded|SingleUse|NeverSent|Hide|DumpRevealsNothing|ForAnotherRP|StaticPhoto|MasterKey|CheckValues|DiskFull|FullDisk|FailureKeeps|NeverOverwrites|Durable|SQLitePragmas|AndShutdown|TrustedProxies|CrossSite|CrossOrigin|ContentType|CSRF|EdgeSettings'
write=0; [ "${1:-}" = -write ] && write=1
json=$(mktemp); trap 'rm -f "$json"' EXIT
# The browser journey (e2e) is not part of it: it has no hostile cases.
go test -count=1 -json -run "$pattern" $(go list ./... | grep -v '/e2e$') >"$json" 2>&1 || true
PATTERN="$pattern" WRITE="$write" python3 - "$json" <<'PY'
import json, os, re, sys, datetime
events = []
for line in open(sys.argv[1], encoding="utf-8", errors="replace"):
    try:
        e = json.loads(line)
    except ValueError:
        continue
    if e.get("Test") and e.get("Action") in ("pass", "fail", "skip"):
        events.append(e)
result = {(e["Package"], e["Test"]): e["Action"] for e in events}
names = {}
for (pkg, t) in result:
    names.setdefault(pkg, set()).add(t)
rows, total, failed, tests = [], 0, [], 0
for pkg in sorted(names):
    ts = names[pkg]
    leaves = [t for t in ts if not any(o.startswith(t + "/") for o in ts)]
    top = {t.split("/")[0] for t in ts}
    n = sum(1 for t in leaves if result[(pkg, t)] == "pass")
    bad = [t for t in leaves if result[(pkg, t)] == "fail"]
    failed += [pkg.split("shenfen/shenfen/")[-1] + " " + t for t in bad]
    if n == 0 and not bad:
        continue
    rows.append((pkg.split("shenfen/shenfen/")[-1], len(top), n, len(bad)))
    total += n
    tests += len(top)
lines = ["| package | tests | cases refused as they should be | cases that got through |", "| --- | ---: | ---: | ---: |"]
lines += [f"| {p} | {t} | {n} | {b} |" for p, t, n, b in rows]
lines.append(f"| **all** | **{tests}** | **{total}** | **{len(failed)}** |")
table = "\n".join(lines)
print(table)
for f in failed:
    print("GOT THROUGH (or broke):", f, file=sys.stderr)
if os.environ["WRITE"] == "1":
    p = "docs/security.md"
    s = open(p, encoding="utf-8").read()
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
    block = f"<!-- hostile:begin (scripts/hostile.sh -write; {stamp}) -->\n{table}\n<!-- hostile:end -->"
    s, n = re.subn(r"<!-- hostile:begin.*?<!-- hostile:end -->", lambda m: block, s, flags=re.S)
    if n != 1:
        sys.exit("docs/security.md has no hostile:begin/hostile:end block")
    open(p, "w", encoding="utf-8").write(s)
sys.exit(1 if failed or total == 0 else 0)
PY
