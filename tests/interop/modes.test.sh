#!/usr/bin/env bash
# `ustcp serve` --echo, --discard and --chargen against kernel clients:
# 4 MB echoed back intact (backpressure both ways), 4 MB discarded and
# counted, chargen lines as RFC 864 gives them; one server, many ports.
set -u
. "$(dirname "$0")/lib.sh"
interop_require_root
interop_require_tools python3 nc
interop_setup

start_serve echo --echo --port 7 -v
out=$(nsx timeout 30 python3 - "$UADDR" <<'PY'
import hashlib, os, socket, sys, threading
data = os.urandom(4 * 1000 * 1000)
s = socket.create_connection((sys.argv[1], 7), timeout=20)
def writer():
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
threading.Thread(target=writer).start()
got = bytearray()
while True:
    d = s.recv(65536)
    if not d:
        break
    got += d
print(len(got), hashlib.sha256(got).hexdigest() == hashlib.sha256(data).hexdigest())
PY
)
echo "echo: $out"
[ "$out" = "4000000 True" ] || fail "echo: want 4000000 bytes back, equal; got '$out'"
stop_pid "$SERVE_PID"
check_pcap
mv "$PCAP" "$WORK/echo.pcap"

start_serve discard --discard --port 9 -v
head -c 4000000 /dev/urandom >"$WORK/d"
nsx timeout 30 nc -N "$UADDR" 9 <"$WORK/d" || fail "discard: nc failed"
sleep 0.3
stop_pid "$SERVE_PID"
grep -q "4000000 bytes in" "$WORK/discard.log" || fail "discard: 4000000 bytes not counted"
echo "discard: 4000000 bytes in"
check_pcap
mv "$PCAP" "$WORK/discard.pcap"

start_serve chargen --chargen --port 19
line=$(nsx timeout 10 python3 - "$UADDR" <<'PY'
import socket, sys
s = socket.create_connection((sys.argv[1], 19), timeout=5)
got = b""
while len(got) < 74 * 100:
    got += s.recv(65536)
lines = got[:74 * 100].split(b"\r\n")[:100]
want = [bytes(32 + (i + k) % 95 for k in range(72)) for i in range(100)]
print("ok" if lines == want else "bad: %r" % lines[:2])
PY
)
echo "chargen: $line"
[ "$line" = ok ] || fail "chargen: lines differ from RFC 864: $line"
stop_pid "$SERVE_PID"
check_pcap
pass
