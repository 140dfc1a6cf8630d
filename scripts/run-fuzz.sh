#!/usr/bin/env bash
# Run one libFuzzer target for a bounded time (FUZZ_SECONDS, default 20)
# from its committed seed corpus. A crash, leak or timeout fails the test
# (exit 1; 77 would read as "skipped"); the crashing input is kept in
# <build>/fuzz-artifacts/<target>/ and the report is printed. Once fixed,
# add the input to fuzz/corpus/<target>/ as a regression seed.
set -euo pipefail
bin=$1 corpus=$2 secs=${FUZZ_SECONDS:-20}
name=$(basename "$bin")
[ -x "$bin" ] || { echo "run-fuzz: no fuzzer binary $bin"; exit 1; }
[ -d "$corpus" ] || { echo "run-fuzz: no seed corpus $corpus"; exit 1; }
art="$(dirname "$bin")/fuzz-artifacts/$name"
mkdir -p "$art"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$corpus"/. "$work"/
rc=0
"$bin" -max_total_time="$secs" -max_len=4096 -timeout=10 -rss_limit_mb=2048 -error_exitcode=1 \
  -artifact_prefix="$art/" "$work" >"$work.log" 2>&1 || rc=$?
if [ "$rc" -ne 0 ]; then
  tail -n 80 "$work.log"
  echo "run-fuzz: $name FAILED (exit $rc); artifacts in $art:"
  ls -l "$art"
  rm -f "$work.log"
  exit "$rc"
fi
tail -n 3 "$work.log"
rm -f "$work.log"
echo "run-fuzz: $name ok for ${secs}s"
