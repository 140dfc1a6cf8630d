/* tcp.c - TCP layer entry points (scaffold; the TCP engine replaces this). */
#include "core/core.h"
#include "ip/ip.h"

int us_tcp_init(struct ustcp_stack *s)
{
  (void)s;
  return 0;
}
void us_tcp_fini(struct ustcp_stack *s) { (void)s; }
void us_tcp_mem_info(const struct ustcp_stack *s, struct ustcp_mem_info *out)
{
  (void)s;
  (void)out;
}
void us_tcp_input(struct ustcp_stack *s, const struct us_ipv4_hdr *ip, const uint8_t *seg,
                  size_t len, const uint8_t *dgram, size_t dglen)
{
  (void)ip;
  (void)seg;
  (void)len;
  us_drop(s, USTCP_STAT_DROP_TCP_NO_SOCKET, dgram, dglen);
}
void us_tcp_icmp_error(struct ustcp_stack *s, uint8_t type, uint8_t code, const uint8_t *inner,
                       size_t len)
{
  (void)s;
  (void)type;
  (void)code;
  (void)inner;
  (void)len;
}
