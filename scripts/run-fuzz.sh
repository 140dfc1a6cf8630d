#!/usr/bin/env bash
# Run one libFuzzer target for a bounded time from its committed seed corpus.
# A crash fails the test; add the crashing input to the corpus once fixed.
set -euo pipefail
bin=$1 corpus=$2 secs=${FUZZ_SECONDS:-20}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$corpus"/. "$work"/ 2>/dev/null || true
"$bin" -max_total_time="$secs" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
  -artifact_prefix="$work/" "$work" 2>&1 | tail -n 5
