#!/usr/bin/env bash
# `make install` layout: headers, static and shared library, the CLI and a
# pkg-config file that lets a program outside the tree build against ustcp
# and run a stack (here: two sim hosts pinging).
set -euo pipefail
build=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
if grep -qE '^USTCP_(SANITIZE|FUZZ):BOOL=ON' "$build/CMakeCache.txt" 2>/dev/null; then
  echo "SKIPPED: instrumented build; the plain build checks the installed library"
  exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
for f in include/ustcp/ustcp.h include/ustcp/socket.h include/ustcp/sim.h bin/ustcp; do
  [ -e "$tmp/prefix/$f" ] || { echo "missing after install: $f"; exit 1; }
done
pc=$(find "$tmp/prefix" -name ustcp.pc | head -1)
[ -n "$pc" ] || { echo "no ustcp.pc installed"; exit 1; }
export PKG_CONFIG_PATH=$(dirname "$pc")
command -v pkg-config >/dev/null || { echo "SKIPPED: pkg-config is not installed"; exit 77; }
cat >"$tmp/app.c" <<'C'
#include <stdio.h>
#include <ustcp/sim.h>
#include <ustcp/socket.h>
int main(void)
{
  struct ustcp_sim *sim = ustcp_sim_create(7);
  int a = ustcp_sim_add_host(sim, "a", "192.0.2.1", NULL);
  int b = ustcp_sim_add_host(sim, "b", "192.0.2.2", NULL);
  if (a < 0 || b < 0 || ustcp_sim_link(sim, a, b, NULL, NULL) < 0)
    return 1;
  int fd = ustcp_socket(ustcp_sim_stack(sim, b), AF_INET, SOCK_STREAM, 0);
  printf("fd=%d\n", fd);
  ustcp_sim_destroy(sim);
  return fd >= 0 ? 0 : 1;
}
C
# shellcheck disable=SC2046
cc -std=gnu11 -Wall -Werror "$tmp/app.c" -o "$tmp/app" $(pkg-config --cflags --libs --static ustcp)
LD_LIBRARY_PATH=$(pkg-config --variable=libdir ustcp) "$tmp/app" | grep -q '^fd=' || { echo "installed library did not run"; exit 1; }
echo "ok: installed headers, libraries, CLI and ustcp.pc build and run a program"
