#!/usr/bin/env bash
# `ustcp sim transfer` over a lossy, reordering, duplicating link: the digest
# of what was received equals the digest of what was sent and the connection
# closes cleanly (exit 0). The plain build moves 1 GiB (the check,
# a few seconds); a sanitizer build moves 64 MiB.
set -u
build=${1:-build}
bin="$build/ustcp"
[ -x "$bin" ] || { echo "missing $bin"; exit 1; }
bytes=1G
if grep -q '^USTCP_SANITIZE:BOOL=ON' "$build/CMakeCache.txt" 2>/dev/null; then
  bytes=64M
  echo "sanitizer build: $bytes (the plain build moves 1G)"
fi
out=$("$bin" sim transfer --bytes "$bytes" --loss 0.01 --reorder 0.001 --dup 0.001 --seed 7)
rc=$?
echo "$out"
sent=$(echo "$out" | awk '/^sent/ {print $NF}')
got=$(echo "$out" | awk '/^received/ {print $NF}')
[ "$rc" -eq 0 ] || { echo "FAIL: exit $rc"; exit 1; }
[ -n "$sent" ] && [ "$sent" = "$got" ] || { echo "FAIL: digests differ ($sent vs $got)"; exit 1; }
echo "$out" | grep -q '^OK: digests match, connection closed cleanly$' || { echo "FAIL: no clean close"; exit 1; }
# Bad arguments are usage errors (exit 2).
"$bin" sim transfer --bytes 1X >/dev/null 2>&1
[ $? -eq 2 ] || { echo "FAIL: --bytes 1X not rejected"; exit 1; }
"$bin" sim transfer --bytes 1M --loss 2 >/dev/null 2>&1
[ $? -eq 2 ] || { echo "FAIL: --loss 2 not rejected"; exit 1; }
echo "transfer: ok"
