#!/bin/bash
# sim_pcap_tshark.test.sh - a `ustcp sim ping --pcap` capture read by
# tshark with IP/ICMP checksum validation on: the expected packets, in
# order, at the expected virtual times, none malformed, no bad checksum.
# $1 = the build dir.
set -u
B=${1:?usage: sim_pcap_tshark.test.sh BUILD_DIR}
U="$B/ustcp"
if [ ! -x "$U" ]; then
  echo "SKIPPED: $U was not built" >&2
  exit 77
fi
if ! command -v tshark >/dev/null; then
  echo "SKIPPED: tshark is not installed (apt-get install tshark)" >&2
  exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
check() {
  local what=$1
  shift
  if "$@"; then echo "ok   $what"; else echo "FAIL $what"; fail=1; fi
}

"$U" sim ping --latency-ms 5 --count 5 --pcap "$tmp/p.pcap" >/dev/null
check "sim ping --pcap exit 0" test $? -eq 0
TS=(tshark -n -r "$tmp/p.pcap" -o ip.check_checksum:TRUE -o tcp.check_checksum:TRUE
  -o udp.check_checksum:TRUE)
fields=$("${TS[@]}" -T fields -E separator=, -e frame.time_relative -e ip.src -e ip.dst \
  -e icmp.type -e icmp.seq -e ip.checksum.status -e icmp.checksum.status -e _ws.malformed \
  -e _ws.expert 2>"$tmp/err")
echo "$fields"
check "tshark read it" test -n "$fields"
check "no tshark errors" test ! -s "$tmp/err" -o -z "$(grep -v 'Running as user' "$tmp/err")"
check "10 packets" test "$(wc -l <<<"$fields")" -eq 10
expect=""
for i in 0 1 2 3 4; do
  expect+="$i.000000000,192.0.2.1,192.0.2.2,8,$((i + 1)),1,1,,"$'\n'
  expect+="$i.010000000,192.0.2.2,192.0.2.1,0,$((i + 1)),1,1,,"$'\n'
done
check "requests and replies at the virtual times, checksums good (status 1)" \
  test "$fields" = "${expect%$'\n'}"
text=$("${TS[@]}" -V 2>/dev/null)
check "no Malformed" test -z "$(grep -i 'malformed' <<<"$text")"
check "no Bad checksum" test -z "$(grep -E 'Bad|incorrect' <<<"$text")"
check "link type is raw IPv4" grep -q 'Encapsulation type: Raw IP' <<<"$text"
# Same seed, byte-identical capture.
"$U" sim ping --latency-ms 5 --count 5 --pcap "$tmp/q.pcap" >/dev/null
check "same run, identical pcap" cmp -s "$tmp/p.pcap" "$tmp/q.pcap"
# The checks can fail: with corruption on the wire, replies that reach the
# captured host with a flipped bit are flagged by tshark's validation.
"$U" sim ping --latency-ms 1 --count 40 --interval-ms 10 --corrupt 0.3 --seed 3 \
  --pcap "$tmp/c.pcap" >/dev/null
bad=$(tshark -n -r "$tmp/c.pcap" -o ip.check_checksum:TRUE -T fields -e _ws.expert.message \
  2>/dev/null | grep -c 'Bad checksum')
echo "corrupted run: $bad packets with a bad checksum"
check "tshark flags corrupted packets (negative control)" test "$bad" -gt 0
exit $fail
