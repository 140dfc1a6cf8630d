/* socket.c - descriptor table (scaffold; the socket layer replaces this). */
#include "core/core.h"

int us_socks_init(struct ustcp_stack *s)
{
  (void)s;
  return 0;
}
void us_socks_fini(struct ustcp_stack *s) { (void)s; }
