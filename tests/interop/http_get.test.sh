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
  grep -q "sha256 $want" "$WORK/get.log" || fail "$f: printed sha256 differs from the file's ($want)"
  check_pcap "$WORK/get-$n.pcap"
done
# A chunked response (HTTP/1.1 server written here): decoded body equal.
cat >"$WORK/chunked.py" <<'PY'
import http.server, sys
data = open(sys.argv[1], "rb").read()
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        self.send_response(200)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        i, n = 0, 1
        while i < len(data):  # chunks of growing, odd sizes
            part = data[i:i + n]
            self.wfile.write(b"%x;x=y\r\n" % len(part) + part + b"\r\n")
            i += n
            n = n * 3 + 7
        self.wfile.write(b"0\r\nX-Trailer: 1\r\n\r\n")
    def log_message(self, *a):
        pass
print("Serving chunked", flush=True)
http.server.HTTPServer(("0.0.0.0", 8001), H).serve_forever()
PY
bg chunked python3 "$WORK/chunked.py" "$WORK/www/f70k.bin"
wait_log chunked "Serving chunked" 10 || fail "chunked server did not start"
nsx timeout 40 "$USTCP" get "http://$KADDR:8001/x" --tun "$DEV" --addr "$UADDR" \
  --peer-addr "$KADDR/24" --pcap "$WORK/get-chunked.pcap" -o "$WORK/got.chunked" --timeout 30 \
  2>"$WORK/get.log" || fail "ustcp get (chunked) failed: $(cat "$WORK/get.log")"
cat "$WORK/get.log"
cmp -s "$WORK/www/f70k.bin" "$WORK/got.chunked" || fail "chunked: decoded body differs"
check_pcap "$WORK/get-chunked.pcap"

# A missing file: exit status 1, HTTP 404 reported.
nsx timeout 20 "$USTCP" get "http://$KADDR:8000/missing" --tun "$DEV" --addr "$UADDR" \
  --peer-addr "$KADDR/24" -o /dev/null --timeout 15 2>"$WORK/get404.log" &&
  fail "get of a missing file succeeded"
grep -q "HTTP 404" "$WORK/get404.log" || fail "404 not reported: $(cat "$WORK/get404.log")"
pass
