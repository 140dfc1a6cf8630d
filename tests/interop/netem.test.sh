#!/usr/bin/env bash
# With tc netem on the kernel side of the link (1% loss, reordering) both
# ways, transfers stay correct: 20 MB each way (SHA-256) and HTTP bodies
# over keep-alive (compared).
set -u
. "$(dirname "$0")/lib.sh"
interop_require_root
interop_require_tools tc nc sha256sum curl
interop_setup
# netem needs the sch_netem kernel module: skip loudly when it is missing.
if ! nsx tc qdisc add dev lo root netem loss 1% 2>"$WORK/tc.err"; then
  echo "SKIPPED: netem is unavailable on this kernel ($(cat "$WORK/tc.err")); install"
  echo "         the sch_netem module (linux-modules-extra) to run this test"
  exit 77
fi
nsx tc qdisc del dev lo root
QDISC="netem delay 2ms 1ms loss 1% reorder 5% 50%"
QDISC_NAME=netem
. "$(dirname "$0")/lossy.sh"
