#!/usr/bin/env bash
# linux.test.sh BUILD - the lab scenarios' expectations, checked against the
# running Linux kernel: builds tests/lab/linux_checks.c with the system
# compiler and runs it in a network namespace of its own (`unshare -n`; it
# makes a second one for the peer, joined by a veth pair). One line per
# check; fails if the kernel does not do what a scenario expects.
set -u
src="$(cd "$(dirname "$0")" && pwd)/linux_checks.c"
skip() { echo "SKIPPED: $*"; exit 77; }
[ "$(id -u)" -eq 0 ] || skip "needs root (network namespaces)"
command -v unshare >/dev/null || skip "unshare is not installed"
command -v ip >/dev/null || skip "iproute2 (ip) is not installed"
cc=$(command -v cc || command -v gcc || command -v clang) || skip "no C compiler"
unshare -n true 2>/dev/null || skip "cannot create a network namespace here"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$cc" -std=gnu11 -O1 -Wall -Wextra -Werror -pthread -o "$tmp/linux_checks" "$src" || {
  echo "FAIL: linux_checks.c does not build"
  exit 1
}
echo "kernel: $(uname -r)"
timeout 120 unshare -n "$tmp/linux_checks"
