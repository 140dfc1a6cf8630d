# lossy.sh - the body of the lossy-link interop tests (sourced by
# netem.test.sh and taildrop.test.sh after interop_setup): a qdisc $QDISC
# on the kernel side of the link, then 20 MB each way (SHA-256) and HTTP
# bodies over keep-alive (compared) must come through intact.
MB=${LOSSY_MB:-20}
bytes=$((MB * 1000 * 1000))
# The device is made persistent first (ustcp attaches to an existing
# device), so the qdisc is in place before the first packet: it delays,
# drops or reorders what the kernel sends to ustcp.
nsx ip tuntap add dev "$DEV" mode tun || fail "ip tuntap add $DEV"
# shellcheck disable=SC2086
nsx tc qdisc add dev "$DEV" root $QDISC || fail "tc qdisc add dev $DEV root $QDISC"
common=(--tun "$DEV" --addr "$UADDR" --peer-addr "$KADDR/24" --pcap-limit 20000 --timeout 50)

head -c "$bytes" /dev/urandom >"$WORK/data"
want=$(sha256sum <"$WORK/data" | cut -d' ' -f1)
bg recv "$USTCP" recv --port 5004 "${common[@]}" --pcap "$WORK/recv.pcap"
recv_pid=$LAST_PID
wait_log recv "listening on" 10 || fail "ustcp recv did not start"
nsx timeout 55 nc -N "$UADDR" 5004 <"$WORK/data" || fail "nc -> ustcp recv failed"
for _ in $(seq 100); do kill -0 "$recv_pid" 2>/dev/null || break; sleep 0.1; done
wait "$recv_pid" || fail "ustcp recv failed"
have=$(grep -o 'sha256 [0-9a-f]*' "$WORK/recv.log" | cut -d' ' -f2)
echo "kernel -> ustcp through $QDISC_NAME: sha256 sent $want, received $have"
[ "$want" = "$have" ] || fail "kernel -> ustcp: SHA-256 differs"
check_pcap "$WORK/recv.pcap"

bg nc nc -l 5005
nc_pid=$LAST_PID
wait_tcp_listen 5005 || fail "nc -l 5005 did not start listening"
# ustcp -> kernel: the qdisc is on the kernel's egress; ustcp's own packets
# are lossless, so the ACK path (kernel -> ustcp) carries the damage.
nsx timeout 55 "$USTCP" send --to "$KADDR:5005" --bytes "$bytes" "${common[@]}" \
  --pcap "$WORK/send.pcap" >"$WORK/send.out" 2>"$WORK/send.log" ||
  fail "ustcp send failed: $(cat "$WORK/send.log")"
kill "$nc_pid" 2>/dev/null
want=$(grep -o 'sha256 [0-9a-f]*' "$WORK/send.out" | cut -d' ' -f2)
have=$(sha256sum <"$WORK/nc.log" | cut -d' ' -f1)
echo "ustcp -> kernel through $QDISC_NAME: sha256 sent $want, received $have"
[ "$want" = "$have" ] || fail "ustcp -> kernel: SHA-256 differs"
check_pcap "$WORK/send.pcap"

mkdir -p "$WORK/www"
head -c 1000000 /dev/urandom >"$WORK/www/f1m.bin"
start_serve serve --http "$WORK/www" --port 80
for i in $(seq 1 10); do printf 'url = "http://%s/f1m.bin"\noutput = "%s/got.%d"\n' "$UADDR" "$WORK" "$i"; done >"$WORK/curl.cfg"
nsx timeout 50 curl -sS --fail --max-time 45 -K "$WORK/curl.cfg" || fail "curl through $QDISC_NAME failed"
for i in $(seq 1 10); do
  cmp -s "$WORK/www/f1m.bin" "$WORK/got.$i" || fail "HTTP body $i differs"
done
echo "HTTP through $QDISC_NAME: 10 bodies of 1 MB equal"
stop_pid "$SERVE_PID"
check_pcap
stats=$(nsx tc -s qdisc show dev "$DEV")
echo "$stats" | grep -E "qdisc|dropped"
drops=$(echo "$stats" | grep -o 'dropped [0-9]*' | head -1 | tr -dc 0-9)
[ "${drops:-0}" -gt 0 ] || [ "$QDISC_NAME" = netem ] ||
  fail "the qdisc dropped nothing: the test did not test loss recovery"
pass
