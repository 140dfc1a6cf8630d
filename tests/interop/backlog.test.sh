#!/usr/bin/env bash
# Seed 1.1 seen from kernel clients: `serve --never-accept --backlog 2`.
# The accept queue holds backlog+1 = 3 connections; those connects succeed,
# the rest stall in SYN_SENT (their SYNs are dropped, SPEC 1.1).
set -u
. "$(dirname "$0")/lib.sh"
interop_require_root
interop_require_tools python3 ss
interop_setup
start_serve serve --discard --port 9000 --never-accept --backlog 2 -v -v

out=$(nsx timeout 30 python3 - "$UADDR" <<'PY'
import socket, select, sys, time
host = sys.argv[1]
socks = []
for i in range(6):
    s = socket.socket()
    s.setblocking(False)
    s.connect_ex((host, 9000))
    socks.append(s)
    time.sleep(0.2)  # in order: the first three fill the accept queue
time.sleep(3.0)
done = []
for s in socks:
    _, w, _ = select.select([], [s], [], 0)
    err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
    done.append("ok" if w and err == 0 else ("pending" if not w else "err%d" % err))
print(" ".join(done))
sys.stdout.flush()
import subprocess
print(subprocess.run(["ss", "-tn", "state", "syn-sent", "dst", host], capture_output=True,
                     text=True).stdout.count("\n") - 1)
PY
)
echo "connects: $(echo "$out" | head -1); kernel sockets in SYN-SENT: $(echo "$out" | tail -1)"
[ "$(echo "$out" | head -1)" = "ok ok ok pending pending pending" ] ||
  fail "want 3 connected, 3 stalled; got: $out"
[ "$(echo "$out" | tail -1)" = 3 ] || fail "want 3 kernel sockets in SYN-SENT"
grep -E "accept queue [0-9]+" "$WORK/serve.log" | tail -1
grep -qE "accept queue 3, SYN queue [0-9]+, backlog 2" "$WORK/serve.log" ||
  fail "ustcp_listen_info did not show an accept queue of 3"
stop_pid "$SERVE_PID"
# The dropped SYNs are counted as Linux does (SPEC 1.1).
grep -E "ListenOverflows|ListenDrops" "$WORK/serve.log"
grep -qE "ListenOverflows +[1-9]" "$WORK/serve.log" || fail "ListenOverflows not counted"
grep -qE "ListenDrops +[1-9]" "$WORK/serve.log" || fail "ListenDrops not counted"
check_pcap
pass
