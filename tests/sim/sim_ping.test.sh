#!/bin/bash
# sim_ping.test.sh - `ustcp sim ping`: exact virtual-time RTTs, loss and
# seeds, fragmented echoes, and bad arguments (a clear error, exit 2). $1 = the build dir.
set -u
B=${1:?usage: sim_ping.test.sh BUILD_DIR}
U="$B/ustcp"
if [ ! -x "$U" ]; then
  echo "SKIPPED: $U was not built" >&2
  exit 77
fi
fail=0
check() { # check DESCRIPTION COND...
  local what=$1
  shift
  if "$@"; then echo "ok   $what"; else echo "FAIL $what"; fail=1; fi
}

out=$("$U" sim ping --latency-ms 5 --count 5)
rc=$?
echo "$out"
check "exit 0 with replies" test $rc -eq 0
check "rtt line exact" grep -qx 'rtt min/avg/max = 10.000/10.000/10.000 ms' <<<"$out"
check "5 transmitted, 5 received" grep -q '^5 packets transmitted, 5 received' <<<"$out"
check "5 reply lines" test "$(grep -c 'bytes from 192.0.2.2: icmp_seq=[1-5] ttl=64 time=10.000 ms' <<<"$out")" -eq 5

out=$("$U" sim ping --latency-ms 2.5 --count 3)
check "latency 2.5 ms -> rtt 5.000" grep -qx 'rtt min/avg/max = 5.000/5.000/5.000 ms' <<<"$out"

# Loss: the same seed gives the same result, and loss 1 receives nothing.
a=$("$U" sim ping --count 200 --loss 0.3 --seed 7 --interval-ms 10)
b=$("$U" sim ping --count 200 --loss 0.3 --seed 7 --interval-ms 10)
check "same seed, same output" test "$a" = "$b"
recv=$(sed -n 's/^200 packets transmitted, \([0-9]*\) received.*/\1/p' <<<"$a")
echo "loss 0.3 each way: $recv of 200 received"
check "loss 0.3 each way: about 49% received" test "${recv:-0}" -gt 60 -a "${recv:-0}" -lt 140
"$U" sim ping --count 3 --loss 1 >/dev/null
check "loss 1: exit 1" test $? -eq 1

# Larger than the MTU: sent in fragments, reassembled, answered the same way.
out=$("$U" sim ping --size 4000 --count 2)
check "4000-byte echo over MTU 1500: 2 received" grep -q '^2 packets transmitted, 2 received' <<<"$out"
check "4008 bytes from the peer" grep -q '^4008 bytes from 192.0.2.2' <<<"$out"

# Bad arguments: message on stderr, exit 2.
for args in "--count 0" "--count x" "--loss 1.5" "--loss -0.1" "--latency-ms -1" \
  "--latency-ms abc" "--seed -3" "--bogus 1" "--count" "--size 70000" "extra"; do
  # shellcheck disable=SC2086
  err=$("$U" sim ping $args 2>&1 >/dev/null)
  rc=$?
  check "bad args '$args' -> exit 2 with a message" test $rc -eq 2 -a -n "$err"
done
exit $fail
