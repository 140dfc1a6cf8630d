/* ipv4.c - IPv4 input/output (scaffold; the foundation issue replaces this). */
#include "ip/ip.h"

void us_ip_input(struct ustcp_stack *s, const uint8_t *pkt, size_t len)
{
  us_drop(s, USTCP_STAT_DROP_IP_NO_PROTO, pkt, len);
}
