#!/usr/bin/env bash
# The sim soak (ustcp sim soak): random topologies, link faults and
# application actions per seed, with the invariants of tools/ustcp/sim_soak.c.
# 500 seeds in every build (a few seconds, sanitizers included); the
# command for 100k seeds is in docs/tcp.md.
set -u
build=${1:-build}
bin="$build/ustcp"
[ -x "$bin" ] || { echo "missing $bin"; exit 1; }
seeds=500
out=$("$bin" sim soak --seeds "$seeds" --first 1)
rc=$?
echo "$out" | tail -n 20
last=$(echo "$out" | tail -n 1)
if ! echo "$last" | grep -Eq "^$seeds passed, 0 failed$"; then
  echo "soak failed (exit $rc): $last"
  exit 1
fi
[ "$rc" -eq 0 ] || { echo "soak exit status $rc"; exit 1; }
echo "soak: $last"
