/*
 * ipv4.c - IPv4 input and output (RFC 791, RFC 1122 3.2.1) and the UDP
 * "no socket" path (ustcp has no UDP sockets; like Linux with none bound, it
 * answers a valid datagram with ICMP port unreachable).
 *
 * Input order, as Linux's ip_rcv()/ip_route_input()/ip_local_deliver():
 * header checks (us_ipv4_parse), martian source, destination (ours,
 * broadcast/multicast, or not ours), fragments, then the protocol.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ip/ip.h"

int us_ip_init(struct ustcp_stack *s)
{
  s->ip = calloc(1, sizeof(*s->ip));
  if (!s->ip)
    return -ENOMEM;
  s->ip->global_credit = 50; /* Linux: net.ipv4.icmp_msgs_burst */
  return 0;
}

void us_ip_fini(struct ustcp_stack *s)
{
  if (s->ip)
    us_ip_defrag_fini(s);
  free(s->ip);
  s->ip = NULL;
}

static uint32_t our_addr(const struct ustcp_stack *s) { return ntohl(s->cfg.addr); }

static bool is_multicast(uint32_t a) { return (a >> 28) == 0xe; }

/* Broadcast as Linux's routing sees it on an interface with our prefix: the
 * limited broadcast, or the directed broadcast of our subnet (and its
 * all-zeros host, Linux's old-style broadcast) for prefixes up to /30. */
static bool is_broadcast(const struct ustcp_stack *s, uint32_t a)
{
  if (a == 0xffffffffu)
    return true;
  int plen = s->cfg.prefix_len;
  if (plen == 0 || plen > 30)
    return false;
  uint32_t mask = 0xffffffffu << (32 - plen);
  uint32_t net = our_addr(s) & mask;
  return (a & mask) == net && ((a & ~mask) == ~mask || (a & ~mask) == 0);
}

/* Linux ip_route_input_slow(): multicast, limited broadcast, 0.0.0.0/8 and
 * loopback sources are martians on a real interface. */
static bool is_martian_src(uint32_t a)
{
  return is_multicast(a) || a == 0xffffffffu || (a >> 24) == 0 || (a >> 24) == 127;
}

/* Linux __udp4_lib_rcv() with no socket: length checks (UdpInErrors), the
 * checksum when present (UdpInCsumErrors), then UdpNoPorts and ICMP port
 * unreachable - never for broadcast/multicast. */
static void udp_input(struct ustcp_stack *s, const struct us_ipv4_hdr *ip, const uint8_t *dgram,
                      size_t len, bool bcast)
{
  const uint8_t *u = dgram + ip->hdr_len;
  size_t plen = len - ip->hdr_len;
  if (plen < 8 || us_get16(u + 4) < 8 || us_get16(u + 4) > plen) {
    us_stat_inc(s, USTCP_STAT_UDP_IN_ERRORS);
    us_drop(s, USTCP_STAT_DROP_UDP_BAD_LEN, dgram, len);
    return;
  }
  uint16_t ulen = us_get16(u + 4);
  if (us_get16(u + 6) != 0) {
    uint64_t sum = us_csum_pseudo(ip->src, ip->dst, US_IPPROTO_UDP, ulen);
    if (us_csum_fold(us_csum_add(sum, u, ulen)) != 0) {
      us_stat_inc(s, USTCP_STAT_UDP_IN_CSUM_ERRORS);
      us_stat_inc(s, USTCP_STAT_UDP_IN_ERRORS);
      us_drop(s, USTCP_STAT_DROP_UDP_CSUM, dgram, len);
      return;
    }
  }
  if (bcast) {
    us_drop(s, USTCP_STAT_DROP_IP_BCAST, dgram, len);
    return;
  }
  us_stat_inc(s, USTCP_STAT_UDP_NO_PORTS);
  us_icmp_send_unreach(s, US_ICMP_PORT_UNREACH, dgram, len);
  us_drop(s, USTCP_STAT_DROP_UDP_NO_PORT, dgram, len);
}

static void ip_input(struct ustcp_stack *s, const uint8_t *pkt, size_t len,
                     const struct us_gather *g)
{
  us_trace_pkt(s, USTCP_TR_PKT_IN, pkt, len);
  us_stat_inc(s, USTCP_STAT_IP_IN_RECEIVES);
  struct us_ipv4_hdr ip;
  int reason = us_ipv4_parse(pkt, len, &ip);
  if (reason) {
    /* Linux ip_rcv_core(): a datagram longer than what arrived is
     * InTruncatedPkts; a bad checksum is InCsumErrors and InHdrErrors. */
    if (reason == USTCP_STAT_DROP_IP_BAD_TOTLEN && us_get16(pkt + 2) > len)
      us_stat_inc(s, USTCP_STAT_IP_IN_TRUNCATED);
    else
      us_stat_inc(s, USTCP_STAT_IP_IN_HDR_ERRORS);
    if (reason == USTCP_STAT_DROP_IP_CSUM)
      us_stat_inc(s, USTCP_STAT_IP_IN_CSUM_ERRORS);
    us_drop(s, (enum ustcp_stat)reason, pkt, len);
    return;
  }
  len = ip.total_len; /* RFC 791: the link may have padded the frame */
  if (is_martian_src(ip.src) || is_broadcast(s, ip.src)) {
    us_drop(s, USTCP_STAT_DROP_IP_BAD_SRC, pkt, len);
    return;
  }
  bool bcast = false;
  if (ip.dst != our_addr(s)) {
    if (!is_broadcast(s, ip.dst) && !is_multicast(ip.dst)) {
      /* Linux: not forwarding (ip_forward = 0), so not ours is an error. */
      us_stat_inc(s, USTCP_STAT_IP_IN_ADDR_ERRORS);
      us_drop(s, USTCP_STAT_DROP_IP_NOT_OURS, pkt, len);
      return;
    }
    bcast = true;
  }
  if (ip.mf || ip.frag_off) {
    /* Linux ip_local_deliver(): ip_defrag. Never gathered: ustcp_input_v
     * makes fragments linear. */
    us_ip_defrag(s, &ip, pkt, len, bcast);
    return;
  }
  us_ip_deliver(s, &ip, pkt, len, bcast, g);
}

void us_ip_deliver(struct ustcp_stack *s, const struct us_ipv4_hdr *ipp, const uint8_t *pkt,
                   size_t len, bool bcast, const struct us_gather *g)
{
  const struct us_ipv4_hdr ip = *ipp;
  switch (ip.proto) {
  case US_IPPROTO_TCP:
    if (bcast) {
      us_drop(s, USTCP_STAT_DROP_IP_BCAST, pkt, len); /* Linux tcp_v4_rcv(): not PACKET_HOST */
      return;
    }
    us_stat_inc(s, USTCP_STAT_IP_IN_DELIVERS);
    us_tcp_input(s, &ip, pkt + ip.hdr_len, len - ip.hdr_len, pkt, len, g);
    return;
  case US_IPPROTO_ICMP:
    us_stat_inc(s, USTCP_STAT_IP_IN_DELIVERS);
    us_icmp_input(s, &ip, pkt, len, bcast);
    return;
  case US_IPPROTO_UDP:
    us_stat_inc(s, USTCP_STAT_IP_IN_DELIVERS);
    udp_input(s, &ip, pkt, len, bcast);
    return;
  default:
    /* Linux ip_protocol_deliver_rcu(): IpInUnknownProtos and protocol
     * unreachable (icmp_send() stays silent for broadcast). */
    us_stat_inc(s, USTCP_STAT_IP_IN_UNKNOWN_PROTOS);
    if (!bcast)
      us_icmp_send_unreach(s, US_ICMP_PROT_UNREACH, pkt, len);
    us_drop(s, USTCP_STAT_DROP_IP_NO_PROTO, pkt, len);
    return;
  }
}

/* The IPv4 header in front of the scratch buffer's payload (RFC 791). */
static int emit_hdr(struct ustcp_stack *s, uint32_t src, uint32_t dst, uint8_t proto, size_t total,
                    uint8_t tos, bool df)
{
  if (total > 65535 || (total > s->cfg.mtu && df))
    return -EMSGSIZE;
  struct us_ipv4_hdr h = {.tos = tos,
                          .total_len = (uint16_t)total,
                          .id = s->ip_id++,
                          .df = df,
                          .ttl = (uint8_t)s->cfg.ip_default_ttl,
                          .proto = proto,
                          .src = src,
                          .dst = dst};
  us_ipv4_emit(&h, s->scratch);
  us_stat_inc(s, USTCP_STAT_IP_OUT_REQUESTS);
  return 0;
}

void us_ip_input(struct ustcp_stack *s, const uint8_t *pkt, size_t len)
{
  ip_input(s, pkt, len, NULL);
}

void us_ip_input_g(struct ustcp_stack *s, const uint8_t *pkt, size_t len, const struct us_gather *g)
{
  ip_input(s, pkt, len, g);
}

int us_ip_output_ex(struct ustcp_stack *s, uint32_t src, uint32_t dst, uint8_t proto,
                    size_t payload_len, uint8_t tos, bool df)
{
  size_t total = US_IPV4_HDR_LEN + payload_len;
  int r = emit_hdr(s, src, dst, proto, total, tos, df);
  if (r)
    return r;
  if (total > s->cfg.mtu)
    return us_ip_fragment_output(s, total); /* DF clear: Linux ip_fragment() */
  us_link_output(s, s->scratch, total);
  return 0;
}

int us_ip_output_v(struct ustcp_stack *s, uint32_t src, uint32_t dst, uint8_t proto, size_t hdr_len,
                   struct iovec *iov, int iovcnt, size_t payload_len)
{
  size_t total = US_IPV4_HDR_LEN + hdr_len + payload_len;
  int r = emit_hdr(s, src, dst, proto, total, 0, true);
  if (r)
    return r;
  iov[0].iov_base = s->scratch;
  iov[0].iov_len = US_IPV4_HDR_LEN + hdr_len;
  s->cfg.link->output_v(s->cfg.link_user, iov, iovcnt, total);
  return 0;
}

int us_ip_output(struct ustcp_stack *s, uint32_t src, uint32_t dst, uint8_t proto,
                 size_t payload_len)
{
  return us_ip_output_ex(s, src, dst, proto, payload_len, 0, true);
}

int ustcp_tx_csum_complete(uint8_t *pkt, size_t len)
{
  if (!pkt || len < US_IPV4_HDR_LEN || (pkt[0] >> 4) != 4)
    return -EINVAL;
  size_t hl = (size_t)(pkt[0] & 0x0f) * 4;
  size_t tot = us_get16(pkt + 2);
  if (hl < US_IPV4_HDR_LEN || tot < hl || tot > len)
    return -EINVAL;
  if (pkt[9] != US_IPPROTO_TCP)
    return 0;
  if (tot - hl < US_TCP_HDR_LEN)
    return -EINVAL;
  us_tcp_csum_complete(pkt + hl, tot - hl);
  return 0;
}
