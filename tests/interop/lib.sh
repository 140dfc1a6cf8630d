# lib.sh - shared helpers of the TUN interop tests (sourced, not run).
# Every test runs in a network namespace of its own, named ustcp-<test>-$$,
# uses addresses in 192.0.2.0/24 only, and removes everything on exit.

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
