#!/usr/bin/env bash
# 200 MB each way between ustcp and the kernel, SHA-256 compared:
#   ustcp send -> nc -l (kernel)      and      nc (kernel) -> ustcp recv.
# BULK_MB overrides the size.
set -u
. "$(dirname "$0")/lib.sh"
interop_require_root
interop_require_tools nc sha256sum
interop_setup
MB=${BULK_MB:-200}
bytes=$((MB * 1000 * 1000))
common=(--tun "$DEV" --addr "$UADDR" --peer-addr "$KADDR/24" --pcap-limit 20000 --timeout 50)

# ustcp -> kernel, plain datagrams and then with IFF_VNET_HDR (TCP checksums
# left to the kernel: NEEDS_CSUM; the first 20000 datagrams, captured, are
# completed by the driver). nc listens on the wildcard (the link address
# appears when ustcp brings its device up).
lport=5001
for mode in plain offload; do
  extra=()
  [ $mode = offload ] && extra=(--offload)
  bg nc nc -l $lport
  nc_pid=$LAST_PID
  wait_tcp_listen $lport || fail "nc -l $lport did not start listening"
  nsx timeout 55 "$USTCP" send --to "$KADDR:$lport" --bytes "$bytes" "${common[@]}" \
    "${extra[@]}" -v --pcap "$WORK/send-$mode.pcap" >"$WORK/send.out" 2>"$WORK/send.log" ||
    fail "ustcp send ($mode) failed: $(cat "$WORK/send.log")"
  cat "$WORK/send.out"
  grep -E "tun rx" "$WORK/send.log"
  for _ in $(seq 50); do kill -0 "$nc_pid" 2>/dev/null || break; sleep 0.1; done
  kill "$nc_pid" 2>/dev/null
  wait "$nc_pid" 2>/dev/null
  got=$(stat -c %s "$WORK/nc.log")
  [ "$got" -eq "$bytes" ] || fail "nc received $got bytes, want $bytes ($mode)"
  want=$(grep -o 'sha256 [0-9a-f]*' "$WORK/send.out" | cut -d' ' -f2)
  have=$(sha256sum <"$WORK/nc.log" | cut -d' ' -f1)
  echo "ustcp -> kernel ($mode): $got bytes, sha256 sent $want, received $have"
  [ "$want" = "$have" ] || fail "ustcp -> kernel ($mode): SHA-256 differs"
  rm -f "$WORK/nc.log"
  partial=$(grep -o '([0-9]* NEEDS_CSUM)' "$WORK/send.log" | tr -dc 0-9)
  if [ $mode = offload ]; then
    [ "${partial:-0}" -gt 0 ] || fail "offload: no segment went out with NEEDS_CSUM"
  else
    [ "${partial:-0}" -eq 0 ] || fail "plain: $partial segments went out with NEEDS_CSUM"
  fi
  check_pcap "$WORK/send-$mode.pcap"
  lport=$((lport + 3))
done

# kernel -> ustcp, plain datagrams and then with IFF_VNET_HDR offloads (the
# kernel hands over 64 KiB GSO segments with checksums left to the driver).
head -c "$bytes" /dev/urandom >"$WORK/data"
want=$(sha256sum <"$WORK/data" | cut -d' ' -f1)
port=5002
for mode in plain offload; do
  extra=()
  [ $mode = offload ] && extra=(--offload)
  bg "recv-$mode" "$USTCP" recv --port $port "${common[@]}" "${extra[@]}" -v \
    --pcap "$WORK/recv-$mode.pcap"
  recv_pid=$LAST_PID
  wait_log "recv-$mode" "listening on" 10 || fail "ustcp recv did not start"
  nsx timeout 55 nc -N "$UADDR" $port <"$WORK/data" || fail "nc -> ustcp recv ($mode) failed"
  for _ in $(seq 100); do kill -0 "$recv_pid" 2>/dev/null || break; sleep 0.1; done
  wait "$recv_pid"
  rc=$?
  log="$WORK/recv-$mode.log"
  grep -E "^received|tun rx" "$log"
  [ $rc -eq 0 ] || fail "ustcp recv ($mode) exited $rc"
  grep -q "received $bytes bytes" "$log" || fail "ustcp recv ($mode) got the wrong byte count"
  have=$(grep -o 'sha256 [0-9a-f]*' "$log" | cut -d' ' -f2)
  echo "kernel -> ustcp ($mode): sha256 sent $want, received $have"
  [ "$want" = "$have" ] || fail "kernel -> ustcp ($mode): SHA-256 differs"
  if [ $mode = offload ]; then
    gso=$(grep -o '([0-9]* GSO)' "$log" | tr -dc 0-9)
    [ "${gso:-0}" -gt 0 ] || fail "offload: no GSO datagrams arrived"
  fi
  check_pcap "$WORK/recv-$mode.pcap"
  port=$((port + 1))
done
rm -f "$WORK/data"
pass
