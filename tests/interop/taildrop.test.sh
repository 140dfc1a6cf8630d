#!/usr/bin/env bash
# A link that really loses packets, on any kernel: a tbf rate limit with a
# small queue on the kernel side of the link tail-drops the kernel's bursts
# towards ustcp (loss recovery on both ends: data kernel -> ustcp, ACKs for
# ustcp -> kernel). 20 MB each way and HTTP bodies must come through intact,
# and the qdisc must have dropped something.
set -u
. "$(dirname "$0")/lib.sh"
interop_require_root
interop_require_tools tc nc sha256sum curl
interop_setup
if ! nsx tc qdisc add dev lo root tbf rate 100mbit burst 16kb limit 20kb 2>"$WORK/tc.err"; then
  echo "SKIPPED: the tbf qdisc is unavailable ($(cat "$WORK/tc.err"))"
  exit 77
fi
nsx tc qdisc del dev lo root
QDISC="tbf rate 300mbit burst 32kb limit 48kb"
QDISC_NAME=tbf
. "$(dirname "$0")/lossy.sh"
