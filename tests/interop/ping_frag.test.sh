#!/usr/bin/env bash
# The kernel pings ustcp (over TUN, MTU 1500) with 3000-byte echoes: the
# kernel sends each request in fragments, ustcp reassembles it and answers
# with a 3028-byte reply it sends in fragments (DF clear), which the kernel
# reassembles. Then 56-byte pings still work (no queue left behind).
set -u
. "$(dirname "$0")/lib.sh"
interop_require_root
interop_require_tools ping
interop_setup
start_serve serve --echo --port 7
out=$(nsx ping -c 3 -i 0.2 -W 2 -s 3000 "$UADDR" 2>&1)
echo "$out" | tail -3
grep -q '3 packets transmitted, 3 received' <<<"$out" || fail "3000-byte pings not answered"
grep -q '3008 bytes from' <<<"$out" || fail "no 3008-byte reply"
out=$(nsx ping -c 2 -i 0.2 -W 2 "$UADDR" 2>&1)
grep -q '2 packets transmitted, 2 received' <<<"$out" || fail "small pings not answered"
frags=$(nsx nstat -az IpReasmOKs 2>/dev/null | awk '/IpReasmOKs/ {print $2}')
echo "kernel reassembled ${frags:-?} replies"
[ "${frags:-0}" -ge 3 ] || fail "the kernel reassembled ${frags:-0} replies, want 3"
stop_pid "$SERVE_PID"
check_pcap
pass
