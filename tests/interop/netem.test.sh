#!/usr/bin/env bash
# With tc netem on the kernel side of the link (1% loss, reordering) both
# ways, transfers stay correct: 20 MB each way and HTTP bodies, hashed.
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
MB=${NETEM_MB:-20}
bytes=$((MB * 1000 * 1000))
# netem on ust0 delays/drops/reorders what the kernel sends to ustcp. The
# device exists only while ustcp runs, so the qdisc is added after start.
netem() { nsx tc qdisc replace dev "$DEV" root netem delay 2ms 1ms loss 1% reorder 5% 50%; }
common=(--tun "$DEV" --addr "$UADDR" --peer-addr "$KADDR/24" --pcap-limit 20000 --timeout 50)

head -c "$bytes" /dev/urandom >"$WORK/data"
want=$(sha256sum <"$WORK/data" | cut -d' ' -f1)
bg recv "$USTCP" recv --port 5004 "${common[@]}" --pcap "$WORK/recv.pcap"
recv_pid=$LAST_PID
wait_log recv "listening on" 10 || fail "ustcp recv did not start"
netem || fail "tc netem on $DEV"
nsx timeout 55 nc -N "$UADDR" 5004 <"$WORK/data" || fail "nc -> ustcp recv failed"
for _ in $(seq 100); do kill -0 "$recv_pid" 2>/dev/null || break; sleep 0.1; done
wait "$recv_pid" || fail "ustcp recv failed"
have=$(grep -o 'sha256 [0-9a-f]*' "$WORK/recv.log" | cut -d' ' -f2)
echo "kernel -> ustcp with netem: sha256 sent $want, received $have"
[ "$want" = "$have" ] || fail "kernel -> ustcp: SHA-256 differs"
check_pcap "$WORK/recv.pcap"

bg nc nc -l 5005
nc_pid=$LAST_PID
# ustcp -> kernel: the qdisc is on the kernel's egress; ustcp's own packets
# are lossless, so the ACK path (kernel -> ustcp) carries the damage.
(sleep 0.5; netem) &
netem_pid=$!
nsx timeout 55 "$USTCP" send --to "$KADDR:5005" --bytes "$bytes" "${common[@]}" \
  --pcap "$WORK/send.pcap" >"$WORK/send.out" 2>"$WORK/send.log" ||
  fail "ustcp send failed: $(cat "$WORK/send.log")"
wait "$netem_pid"
kill "$nc_pid" 2>/dev/null
want=$(grep -o 'sha256 [0-9a-f]*' "$WORK/send.out" | cut -d' ' -f2)
have=$(sha256sum <"$WORK/nc.log" | cut -d' ' -f1)
echo "ustcp -> kernel with netem: sha256 sent $want, received $have"
[ "$want" = "$have" ] || fail "ustcp -> kernel: SHA-256 differs"
check_pcap "$WORK/send.pcap"
pass
