#!/usr/bin/env bash
# Seed 1.3 against a kernel peer that vanishes: `ustcp recv --keepalive
# 2,1,3` accepts a connection from nc, then the link goes down (the kernel
# never sees the probes). After TCP_KEEPIDLE 2 s + 3 unanswered probes 1 s
# apart, recv() fails with ETIMEDOUT; the pcap shows the probes.
set -u
. "$(dirname "$0")/lib.sh"
interop_require_root
interop_require_tools nc tshark
interop_setup
bg recv "$USTCP" recv --port 5003 --keepalive 2,1,3 --tun "$DEV" --addr "$UADDR" \
  --peer-addr "$KADDR/24" --pcap "$PCAP" --timeout 40 -v
recv_pid=$LAST_PID
wait_log recv "listening on" 10 || fail "ustcp recv did not start"
# A kernel client that connects and then says nothing.
bg nc sh -c "sleep 30 | nc $UADDR 5003"
sleep 0.5
nsx ss -tn state established | grep -q "$UADDR:5003" || fail "kernel client did not connect"
t0=$(date +%s.%N)
nsx ip link set "$DEV" down
for _ in $(seq 300); do kill -0 "$recv_pid" 2>/dev/null || break; sleep 0.1; done
wait "$recv_pid"
rc=$?
el=$(echo "$(date +%s.%N) - $t0" | bc 2>/dev/null || python3 -c "print($(date +%s.%N) - $t0)")
cat "$WORK/recv.log" | grep -v '^  '
[ $rc -ne 0 ] || fail "recv exited 0; want a keepalive timeout"
grep -q "Connection timed out" "$WORK/recv.log" || fail "recv did not fail with ETIMEDOUT"
echo "ETIMEDOUT ${el}s after the link went down (want ~5 s: idle 2 + 3 x 1)"
python3 -c "import sys; e=float('$el'); sys.exit(0 if 3.5 <= e <= 12 else 1)" ||
  fail "ETIMEDOUT after ${el}s, want 3.5..12 s"
probes=$(tshark -r "$PCAP" -Y "ip.src == $UADDR && tcp.analysis.keep_alive" 2>/dev/null | wc -l)
echo "keepalive probes in the pcap: $probes"
[ "$probes" -ge 3 ] || fail "want >= 3 keepalive probes in the pcap, saw $probes"
# SPEC 1.3: after the last probe goes unanswered, RST+ACK (seq = SND.NXT).
rst=$(tshark -r "$PCAP" -Y "ip.src == $UADDR && tcp.flags.reset == 1 && tcp.flags.ack == 1" \
  2>/dev/null | wc -l)
echo "RST+ACK from ustcp at the end: $rst"
[ "$rst" -eq 1 ] || fail "want one RST+ACK from ustcp after the probes, saw $rst"
check_pcap
pass
