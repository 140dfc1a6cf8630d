#!/bin/sh
# ip_frag_linux.test.sh - checks on this machine's kernel the reassembly
# rules ustcp copies (tests/sim/test_ip_frag.c): duplicates kept, partial
# overlaps discard the datagram, non-last fragments cut to 8 bytes.
# Needs root (unshare -n, raw sockets); skips loudly otherwise.
if ! unshare -n true 2>/dev/null; then
  echo "SKIPPED: needs root for unshare -n and raw sockets"
  exit 77
fi
exec unshare -n sh -c 'ip link set lo up && python3 tests/sim/ip_frag_linux.py'
