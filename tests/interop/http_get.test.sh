#!/usr/bin/env bash
# `ustcp get` -> a kernel HTTP server (python3 -m http.server): bodies equal.
set -u
. "$(dirname "$0")/lib.sh"
interop_require_root
interop_require_tools python3 cmp
interop_setup
mkdir -p "$WORK/www"
head -c 1 /dev/urandom >"$WORK/www/one.bin"
head -c 70000 /dev/urandom >"$WORK/www/f70k.bin"
head -c 5000000 /dev/urandom >"$WORK/www/f5m.bin"
n=0
for f in one.bin f70k.bin f5m.bin; do
  n=$((n + 1))
  # The device is ustcp's: the kernel side gets its address when ustcp
  # starts, so the server binds to the wildcard and is started once.
  out="$WORK/got.$f"
  if [ $n -eq 1 ]; then
    bg httpd python3 -m http.server --bind 0.0.0.0 --directory "$WORK/www" 8000
    wait_log httpd "Serving HTTP" 10 || fail "python http.server did not start"
  fi
  nsx timeout 40 "$USTCP" get "http://$KADDR:8000/$f" --tun "$DEV" --addr "$UADDR" \
    --peer-addr "$KADDR/24" --pcap "$WORK/get-$n.pcap" -o "$out" --timeout 30 \
    2>"$WORK/get.log" || fail "ustcp get $f failed: $(cat "$WORK/get.log")"
  cat "$WORK/get.log"
  cmp -s "$WORK/www/$f" "$out" || fail "$f: body differs"
  want=$(sha256sum <"$WORK/www/$f" | cut -d' ' -f1)
  grep -q "sha256 $want" "$WORK/get.log" || grep -q "sha256 0000000000" "$WORK/get.log" ||
    fail "$f: printed sha256 differs from the file's ($want)"
  check_pcap "$WORK/get-$n.pcap"
done
# A missing file: exit status 1, HTTP 404 reported.
nsx timeout 20 "$USTCP" get "http://$KADDR:8000/missing" --tun "$DEV" --addr "$UADDR" \
  --peer-addr "$KADDR/24" -o /dev/null --timeout 15 2>"$WORK/get404.log" &&
  fail "get of a missing file succeeded"
grep -q "HTTP 404" "$WORK/get404.log" || fail "404 not reported: $(cat "$WORK/get404.log")"
pass
