#!/usr/bin/env bash
# Fails if any tracked C file differs from what clang-format (.clang-format) makes of it.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v clang-format >/dev/null || { echo "clang-format not installed" >&2; exit 1; }
files=$(git ls-files '*.c' '*.h' 2>/dev/null || find src include tools tests fuzz bench -name '*.[ch]')
[ -n "$files" ] || { echo "no files to check" >&2; exit 1; }
bad=0
for f in $files; do
  [ -f "$f" ] || continue
  if ! clang-format --dry-run -Werror "$f" >/dev/null 2>&1; then
    echo "not formatted: $f (run: make format)"
    bad=1
  fi
done
exit $bad
