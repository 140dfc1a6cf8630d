#!/usr/bin/env bash
# Smoke test of `ustcp bench` (benchmarks, not timed tests): every workload
# runs in its --quick size, prints one JSON object per figure that python3
# parses, and each figure has a positive median on each side it claims
# (min <= median <= max). Needs root for the Linux baselines' network
# namespaces; instr needs valgrind and a build without ASan.
set -uo pipefail
build=${1:-build}
bin="$build/ustcp"
[ -x "$bin" ] || { echo "FAIL: missing $bin"; exit 1; }
if ! unshare -n true 2>/dev/null; then
  echo "SKIPPED: cannot create a network namespace (not root?): no Linux baseline"
  exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

benches="bulk crr rr conns"
if ! command -v valgrind >/dev/null; then
  echo "SKIPPED (instr only): valgrind not installed"
elif nm "$bin" 2>/dev/null | grep '__asan_init' >/dev/null; then
  echo "SKIPPED (instr only): ASan build, valgrind cannot run it; the plain build checks instr"
else
  benches="$benches instr"
fi

fail=0
no_engine=0
for b in $benches; do
  runs=5
  [ "$b" = instr ] && runs=1
  "$bin" bench "$b" --quick --json --runs $runs >"$tmp/$b.json" 2>"$tmp/$b.err"
  rc=$?
  python3 - "$b" "$tmp/$b.json" "$rc" <<'PY'
import json, sys
name, path, rc = sys.argv[1], sys.argv[2], int(sys.argv[3])
lines = [l for l in open(path) if l.strip()]
if not lines:
    print(f"FAIL {name}: no output (exit {rc})"); sys.exit(1)
bad, engine_missing = [], False
for l in lines:
    o = json.loads(l)
    for k in ("bench", "unit", "ustcp", "linux", "ratio"):
        if k not in o:
            bad.append(f"{o.get('bench')}: key {k} missing")
    if "engine not built" in o.get("ustcp_error", ""):
        engine_missing = True
    sides = ["linux"] if engine_missing else ["ustcp", "linux"]
    for side in sides:
        v = o[side]
        if v is None:
            # Only figures without a Linux counterpart may have linux null.
            if side == "ustcp" or o.get("linux_error"):
                bad.append(f"{o['bench']}: {side} missing: {o.get(side + '_error')}")
            continue
        if not (v["min"] <= v["median"] <= v["max"]) or v["runs"] < 1:
            bad.append(f"{o['bench']}: {side} inconsistent {v}")
        if v["median"] <= 0 and o["bench"] != "crr-allocs":
            bad.append(f"{o['bench']}: {side} median {v['median']} not positive")
    if o["ustcp"] is not None and o["linux"] is not None and not (o["ratio"] and o["ratio"] > 0):
        bad.append(f"{o['bench']}: ratio {o['ratio']}")
    print(f"  {o['bench']:24} ustcp={o['ustcp'] and o['ustcp']['median']} "
          f"linux={o['linux'] and o['linux']['median']} ratio={o['ratio']}")
if engine_missing and not any("linux" in l for l in lines):
    bad.append("no linux figures")
for b in bad:
    print(f"FAIL {name}: {b}")
if bad:
    sys.exit(1)
if rc != 0 and not engine_missing:
    print(f"FAIL {name}: exit status {rc}"); sys.exit(1)
sys.exit(3 if engine_missing else 0)
PY
  st=$?
  if [ $st -eq 3 ]; then
    no_engine=1
  elif [ $st -ne 0 ]; then
    fail=1
    sed 's/^/  stderr: /' "$tmp/$b.err" | tail -5
  fi
done
[ $fail -eq 0 ] || exit 1
if [ $no_engine -eq 1 ]; then
  echo "SKIPPED: the ustcp engine is not built yet (socket API missing); Linux baselines checked"
  exit 77
fi
echo "ok: bench smoke ($benches)"
