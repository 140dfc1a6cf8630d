#!/usr/bin/env bash
# The TUN driver's packet path against the kernel (tun_selftest: rx batch,
# tx flush, wait() deadline, busy device, kernel ping answered by the stack),
# and the CAP_NET_ADMIN message when the capability is missing.
set -u
build=${1:-build}
. "$(dirname "$0")/lib.sh"
interop_require_root
[ -x "$build/tests/tun_selftest" ] || { echo "FAIL: $build/tests/tun_selftest not built"; exit 1; }
timeout 30 "$build/tests/tun_selftest" || { echo "FAIL: tun_selftest"; exit 1; }

# Attaching to an existing (persistent) device works and leaves it in place.
out=$(timeout 10 unshare -n sh -c "ip tuntap add dev ustatt0 mode tun &&
  '$build/tests/tun_selftest' --try-open ustatt0 && ip link show ustatt0 >/dev/null && echo kept" 2>&1)
echo "attach: $out"
echo "$out" | grep -q "opened ustatt0" || { echo "FAIL: attaching to an existing device"; exit 1; }
echo "$out" | grep -q "kept" || { echo "FAIL: the persistent device vanished"; exit 1; }

# Without CAP_NET_ADMIN, opening a device must say what is missing.
if command -v setpriv >/dev/null; then
  out=$(timeout 10 unshare -n setpriv --inh-caps=-net_admin --bounding-set=-net_admin \
    "$build/tests/tun_selftest" --try-open ustnocap0 2>&1)
  rc=$?
  echo "without CAP_NET_ADMIN: rc=$rc: $out"
  [ $rc -ne 0 ] || { echo "FAIL: opening a TUN device without CAP_NET_ADMIN succeeded"; exit 1; }
  echo "$out" | grep -q CAP_NET_ADMIN || { echo "FAIL: message does not name CAP_NET_ADMIN"; exit 1; }
else
  echo "NOTE: setpriv missing (util-linux); CAP_NET_ADMIN message not checked"
fi
echo "PASS"
