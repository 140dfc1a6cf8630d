#!/usr/bin/env bash
# runner.test.sh - the drill runner itself, on the ustcp target: scripts in
# tests/drill/selftest/ that must fail do, at the right line with the
# mismatch named; the one that must pass does; exit status and summary line.
set -u
B=${1:?usage: runner.test.sh BUILD_DIR}
U="$B/ustcp"
D=tests/drill/selftest
[ -x "$U" ] || { echo "FAIL: $U is missing"; exit 1; }
rc=0
expect() { # FILE PATTERN: the drill output for FILE must match PATTERN
  out=$("$U" drill "$D/$1" 2>&1)
  status=$?
  if ! echo "$out" | grep -Eq -- "$2"; then
    echo "FAIL: $1: output does not match /$2/:"
    echo "$out"
    rc=1
  elif [ "$1" = good.pkt ] && [ $status != 0 ]; then
    echo "FAIL: $1: exit status $status, expected 0"; rc=1
  elif [ "$1" != good.pkt ] && [ $status != 1 ]; then
    echo "FAIL: $1: exit status $status, expected 1"; rc=1
  else
    echo "ok: $1: $(echo "$out" | head -n 1)"
  fi
}
expect good.pkt '^PASS .*good.pkt'
expect wrong_flags.pkt '^FAIL .*wrong_flags.pkt:7: outbound packet: flags S\., expected F\.'
expect wrong_errno.pkt '^FAIL .*wrong_errno.pkt:2: close\(\): expected -1 ENOTCONN .*actual -1 EBADF'
expect wrong_time.pkt '^FAIL .*wrong_time.pkt:6: outbound packet at 0\.000000, expected at 1\.000000'
expect missing_packet.pkt '^FAIL .*missing_packet.pkt:5: expected outbound packet S\. 0:0\(0\) ack 1 <\.\.\.>, none sent'
expect blocked.pkt "^FAIL .*blocked.pkt:5: accept\(\) blocked; mark it with '\.\.\.'"
expect bad_syntax.pkt '^FAIL .*bad_syntax.pkt: parse error: 3:36: unknown TCP option .frob.'
# several files: one line each and the summary; exit 1 because some failed
out=$("$U" drill "$D"/good.pkt "$D"/wrong_errno.pkt 2>&1)
if [ $? != 1 ] || [ "$(echo "$out" | tail -n 1)" != "1 passed, 1 failed" ]; then
  echo "FAIL: summary line/exit status wrong:"; echo "$out"; rc=1
else
  echo "ok: summary '1 passed, 1 failed', exit 1"
fi
"$U" drill --target nosuch "$D/good.pkt" >/dev/null 2>&1
[ $? = 2 ] || { echo "FAIL: an unknown target must exit 2"; rc=1; }
exit $rc
