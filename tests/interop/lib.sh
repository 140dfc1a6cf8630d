# lib.sh - shared helpers of the TUN interop tests (sourced, not run).
#
# Every test runs in a network namespace of its own, named ustcp-<test>-$$,
# uses addresses in 192.0.2.0/24 only (ustcp 192.0.2.2 on device ust0, the
# kernel 192.0.2.1), stops every process it started (by PID) and deletes the
# namespace on exit. Loops are bounded; each test stays under ~60 s.
#
# Result: `pass` exits 0, `fail MSG` exits 1 - unless the test is listed in
# tests/interop/KNOWN_FAILURES (an engine-side bug that is not the TUN
# driver's): then a failure is reported loudly and exits 77 (skipped), and a
# pass exits 1 so that the list is kept exact.

INTEROP_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TEST_NAME=$(basename "$0" .test.sh)
BUILD=$(cd "${1:-build}" 2>/dev/null && pwd || echo "${1:-build}")
USTCP="$BUILD/ustcp"
UADDR=192.0.2.2
KADDR=192.0.2.1
DEV=ust0
NS=""
PIDS=()
WORK=""

# Exit 77 (CTest: skipped) loudly unless we can make namespaces and TUN devices.
interop_require_root() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "SKIPPED: $(basename "$0") needs root (network namespaces, TUN devices)"
    exit 77
  fi
  if [ ! -c /dev/net/tun ]; then
    echo "SKIPPED: $(basename "$0"): /dev/net/tun is missing"
    exit 77
  fi
}

interop_require_tools() {
  local t
  for t in "$@"; do
    if ! command -v "$t" >/dev/null 2>&1; then
      echo "SKIPPED: $TEST_NAME needs '$t' (scripts/deps.sh installs it)"
      exit 77
    fi
  done
}

known_failure_reason() {
  local line
  [ -f "$INTEROP_DIR/KNOWN_FAILURES" ] || return 1
  line=$(grep -E "^$TEST_NAME[[:space:]]*:" "$INTEROP_DIR/KNOWN_FAILURES" | head -1)
  [ -n "$line" ] || return 1
  echo "${line#*:}" | sed 's/^ *//'
}

interop_cleanup() {
  local p
  for p in "${PIDS[@]}"; do
    kill "$p" 2>/dev/null
  done
  for p in "${PIDS[@]}"; do
    # bounded: a process that ignores SIGTERM gets SIGKILL after ~3 s
    for _ in $(seq 30); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null
    wait "$p" 2>/dev/null
  done
  PIDS=()
  [ -n "$NS" ] && ip netns del "$NS" 2>/dev/null
  NS=""
  [ -n "$WORK" ] && [ -z "${KEEP_WORK:-}" ] && rm -rf "$WORK"
}

pass() {
  local why san
  # On a sanitizer build, a report in any log is a failure too.
  san=$(grep -l -E "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:" "$WORK"/*.log 2>/dev/null)
  [ -z "$san" ] || fail "sanitizer report in $san"
  if why=$(known_failure_reason); then
    echo "UNEXPECTED PASS: $TEST_NAME is listed in tests/interop/KNOWN_FAILURES ($why);"
    echo "                 it passes now - remove it from the list"
    exit 1
  fi
  echo "PASS: $TEST_NAME"
  exit 0
}

fail() {
  local why
  echo "FAIL: $TEST_NAME: $*"
  if [ -n "$WORK" ]; then
    for f in "$WORK"/*.log; do
      [ -f "$f" ] && { echo "--- $f (last 15 lines)"; tail -15 "$f"; }
    done
  fi
  if why=$(known_failure_reason); then
    echo "######################################################################"
    echo "KNOWN FAILURE (tests/interop/KNOWN_FAILURES): $TEST_NAME: $why"
    echo "SKIPPED: reported as skipped until the engine-side bug is fixed"
    echo "######################################################################"
    exit 77
  fi
  exit 1
}

# Make the namespace and a work directory; everything is removed on exit.
interop_setup() {
  interop_require_root
  [ -x "$USTCP" ] || { echo "FAIL: $USTCP is not built"; exit 1; }
  NS="ustcp-$TEST_NAME-$$"
  WORK=$(mktemp -d "/tmp/ustcp-$TEST_NAME.XXXXXX")
  trap interop_cleanup EXIT
  trap 'exit 1' INT TERM
  ip netns add "$NS" || { echo "FAIL: ip netns add $NS"; exit 1; }
  ip netns exec "$NS" ip link set lo up
  PCAP="$WORK/ustcp.pcap"
}

nsx() { ip netns exec "$NS" "$@"; }

# Start a process in the namespace in the background: bg LOGNAME cmd...
bg() {
  local log="$WORK/$1.log"
  shift
  ip netns exec "$NS" "$@" >"$log" 2>&1 &
  PIDS+=($!)
  LAST_PID=$!
}

# Wait (at most $3 s, default 10) until log $1 contains the regex $2.
wait_log() {
  local log="$WORK/$1.log" i
  for i in $(seq $((${3:-10} * 10))); do
    grep -qE "$2" "$log" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

# Wait (at most $2 s, default 10) until a kernel socket in the namespace
# listens on TCP port $1 (a background `nc -l` is not listening at once).
wait_tcp_listen() {
  local i
  for i in $(seq $((${2:-10} * 10))); do
    nsx ss -Hltn "sport = :$1" 2>/dev/null | grep -q . && return 0
    sleep 0.1
  done
  return 1
}

# Stop a background process with SIGTERM and wait for it (bounded).
stop_pid() {
  kill "$1" 2>/dev/null
  for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$1" 2>/dev/null
  wait "$1" 2>/dev/null
}

# `ustcp serve` in the namespace with the standard addresses: serve LOG args...
start_serve() {
  local log=$1
  shift
  bg "$log" "$USTCP" serve --tun "$DEV" --addr "$UADDR" --peer-addr "$KADDR/24" \
    --pcap "$PCAP" "$@"
  SERVE_PID=$LAST_PID
  wait_log "$log" "listening on" 10 || fail "ustcp serve did not start"
}

# tshark decodes the capture with no malformed packet and no bad checksum,
# and pcap_check.py verifies every checksum byte by byte and that no
# retransmission carries bytes different from the first copy. Two tshark
# findings are left to pcap_check.py: TCP reassembly errors ("new fragment
# overlaps old data"), which tshark's HTTP reassembly also reports for a
# retransmission that spans two responses with identical bytes, and the
# checksum 0xffff the kernel writes for a zero result (CSUM_MANGLED_0), which
# tshark calls bad though it verifies.
check_pcap() {
  local f=${1:-$PCAP} n bad
  [ -s "$f" ] || fail "no pcap written ($f)"
  python3 "$INTEROP_DIR/pcap_check.py" "$f" "$UADDR" >"$WORK/pcap_check.out" 2>&1 ||
    fail "pcap_check: $(tail -5 "$WORK/pcap_check.out")"
  if ! command -v tshark >/dev/null; then
    echo "NOTE: tshark missing; pcap not decoded ($(tail -1 "$WORK/pcap_check.out"))"
    return 0
  fi
  n=$(tshark -r "$f" 2>/dev/null | wc -l)
  [ "$n" -gt 0 ] || fail "tshark read no packets from $f"
  # Random payloads on ports without a dissector can fool a heuristic one
  # (thrift, ...) into "malformed": those ports are decoded as what they are.
  bad=$(tshark -r "$f" -d tcp.port==5000-5010,data -d tcp.port==8000-8001,http \
    -o ip.check_checksum:TRUE -o tcp.check_checksum:TRUE \
    -Y "(_ws.malformed && !_ws.malformed.reassembly) || ip.checksum.status == 0 || (tcp.checksum.status == 0 && !(tcp.checksum == 0xffff && ip.src == $KADDR)) || icmp.checksum.status == 0" \
    2>/dev/null | head -5)
  [ -z "$bad" ] || fail "tshark: malformed packets or bad checksums in $f:
$bad"
  echo "pcap: $n packets, tshark: no malformed packets, no bad checksums; $(tail -1 "$WORK/pcap_check.out")"
}
