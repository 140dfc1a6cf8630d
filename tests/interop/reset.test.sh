#!/usr/bin/env bash
# Seed 1.2 seen from a kernel peer:
#  - `serve --close-unread`: ustcp closes with received data unread -> RST;
#    the kernel client's next recv() fails with ECONNRESET.
#  - `serve --echo --linger-zero`: SO_LINGER {1, 0} close -> RST, no FIN;
#    the client reads the echo, then gets ECONNRESET (not a clean EOF).
set -u
. "$(dirname "$0")/lib.sh"
interop_require_root
interop_require_tools python3
interop_setup

client() { # $1 port, $2 pause before reading (s)
  nsx timeout 20 python3 - "$UADDR" "$1" "$2" <<'PY'
import socket, sys, time, errno
host, port, pause = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
s = socket.create_connection((host, port), timeout=10)
s.sendall(b"hello ustcp\n")
time.sleep(pause)
got = b""
try:
    while True:
        d = s.recv(4096)
        if not d:
            print("EOF after %r" % got)
            sys.exit(0)
        got += d
except ConnectionResetError:
    print("ECONNRESET after %r" % got)
except socket.timeout:
    print("TIMEOUT after %r" % got)
PY
}

start_serve serve1 --echo --port 7001 --close-unread
out=$(client 7001 1.0)
echo "close-unread: client saw: $out"
case "$out" in "ECONNRESET after b''") ;; *) fail "close-unread: want ECONNRESET, got: $out" ;; esac
stop_pid "$SERVE_PID"
rst=$(tshark -r "$PCAP" -Y "ip.src == $UADDR && tcp.flags.reset == 1" 2>/dev/null | wc -l)
fin=$(tshark -r "$PCAP" -Y "ip.src == $UADDR && tcp.flags.fin == 1" 2>/dev/null | wc -l)
echo "close-unread pcap: $rst RST, $fin FIN from ustcp"
[ "$rst" -ge 1 ] && [ "$fin" -eq 0 ] || fail "close-unread: want RST and no FIN from ustcp"
check_pcap
mv "$PCAP" "$WORK/close-unread.pcap"

start_serve serve2 --echo --port 7002 --linger-zero
out=$(client 7002 1.0)
echo "linger-zero: client saw: $out"
case "$out" in "ECONNRESET after b'hello ustcp\\n'") ;; *) fail "linger-zero: want the echo then ECONNRESET, got: $out" ;; esac
stop_pid "$SERVE_PID"
rst=$(tshark -r "$PCAP" -Y "ip.src == $UADDR && tcp.flags.reset == 1" 2>/dev/null | wc -l)
fin=$(tshark -r "$PCAP" -Y "ip.src == $UADDR && tcp.flags.fin == 1" 2>/dev/null | wc -l)
echo "linger-zero pcap: $rst RST, $fin FIN from ustcp"
[ "$rst" -ge 1 ] && [ "$fin" -eq 0 ] || fail "linger-zero: want RST and no FIN from ustcp"
check_pcap
pass
