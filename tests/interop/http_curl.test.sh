#!/usr/bin/env bash
# curl (the kernel's TCP) -> `ustcp serve --http`: 100 requests over one
# keep-alive connection and 100 with a connection each, every body compared
# with the file; then 404, 400 on a malformed request, and no path escape.
set -u
. "$(dirname "$0")/lib.sh"
interop_require_root
interop_require_tools curl cmp
interop_setup
mkdir -p "$WORK/www/sub"
head -c 0 /dev/urandom >"$WORK/www/empty.bin"
head -c 1 /dev/urandom >"$WORK/www/one.bin"
head -c 1460 /dev/urandom >"$WORK/www/mss.bin"
head -c 100000 /dev/urandom >"$WORK/www/f100k.bin"
head -c 1000000 /dev/urandom >"$WORK/www/f1m.bin"
echo "<h1>ustcp</h1>" >"$WORK/www/index.html"
echo "sub" >"$WORK/www/sub/x.txt"
echo "secret" >"$WORK/secret.txt"
files=(empty.bin one.bin mss.bin f100k.bin f1m.bin index.html sub/x.txt)

start_serve serve --http "$WORK/www" --port 80
base="http://$UADDR:80"

# Returns the summed num_connects of 100 transfers; bodies go to $WORK/out.
run_batch() { # $1 = extra curl args (may be empty)
  local cfg="$WORK/curl.cfg" i f
  rm -rf "$WORK/out" && mkdir -p "$WORK/out"
  : >"$cfg"
  for i in $(seq 0 99); do
    f=${files[$((i % ${#files[@]}))]}
    printf 'url = "%s/%s"\noutput = "%s/out/%d"\n' "$base" "$f" "$WORK" "$i" >>"$cfg"
  done
  # shellcheck disable=SC2086
  nsx timeout 50 curl -sS --fail --max-time 40 $1 -K "$cfg" -w '%{num_connects}\n' \
    >"$WORK/connects" 2>"$WORK/curl.log" || fail "curl batch ($1) failed: $(cat "$WORK/curl.log")"
  for i in $(seq 0 99); do
    f=${files[$((i % ${#files[@]}))]}
    cmp -s "$WORK/www/$f" "$WORK/out/$i" || fail "body $i ($f) differs ($1)"
  done
  awk '{s += $1} END {print s}' "$WORK/connects"
}

c=$(run_batch "")
echo "keep-alive: 100 bodies equal, $c connection(s)"
[ "$c" -eq 1 ] || fail "keep-alive batch used $c connections, want 1"
c=$(run_batch "-H Connection:close")
echo "Connection: close: 100 bodies equal, $c connections"
[ "$c" -eq 100 ] || fail "close batch used $c connections, want 100"

# Many connections at once: 20 clients in parallel, each fetching 1 MB.
cpids=()
for i in $(seq 1 20); do
  nsx curl -sS --fail --max-time 30 -o "$WORK/par.$i" "$base/f1m.bin" &
  cpids+=($!)
done
for p in "${cpids[@]}"; do wait "$p" || fail "a parallel curl failed"; done
for i in $(seq 1 20); do
  cmp -s "$WORK/www/f1m.bin" "$WORK/par.$i" || fail "parallel body $i differs"
done
echo "20 parallel connections: bodies equal"

code=$(nsx curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$base/nope.txt")
[ "$code" = 404 ] || fail "missing file: HTTP $code, want 404"
for esc in "/../secret.txt" "/sub/../../secret.txt" "/%2e%2e/secret.txt"; do
  body=$(nsx curl -s --path-as-is --max-time 10 "$base$esc")
  code=$(nsx curl -s --path-as-is -o /dev/null -w '%{http_code}' --max-time 10 "$base$esc")
  case "$body" in *secret*) fail "path escape: $esc served a file outside the directory" ;; esac
  case "$code" in 2*) fail "path escape: $esc answered $code" ;; esac
  echo "escape attempt $esc -> $code"
done
# A malformed request gets 400 and the connection is closed.
resp=$(printf 'GARBAGE\r\n\r\n' | nsx timeout 10 nc -N -w 5 "$UADDR" 80 | head -1)
echo "malformed request -> $resp"
case "$resp" in "HTTP/1.1 400"*) ;; *) fail "malformed request: '$resp', want HTTP/1.1 400" ;; esac
# HEAD: the head of a GET, no body; other methods: 501.
head=$(nsx curl -sS -I --max-time 10 "$base/f100k.bin" | tr -d '\r')
echo "$head" | grep -q "^HTTP/1.1 200" || fail "HEAD: $head"
echo "$head" | grep -q "^Content-Length: 100000$" || fail "HEAD: wrong Content-Length: $head"
code=$(nsx curl -s -o /dev/null -w '%{http_code}' --max-time 10 -X DELETE "$base/one.bin")
[ "$code" = 501 ] || fail "DELETE: HTTP $code, want 501"
# HTTP/1.0 without keep-alive is answered and closed.
resp=$(printf 'GET /one.bin HTTP/1.0\r\n\r\n' | nsx timeout 10 nc -w 5 "$UADDR" 80 | head -1)
case "$resp" in "HTTP/1.1 200"*) ;; *) fail "HTTP/1.0 request: '$resp'" ;; esac

stop_pid "$SERVE_PID"
grep -q "stopping" "$WORK/serve.log" || fail "serve did not stop cleanly on SIGTERM"
check_pcap
pass
