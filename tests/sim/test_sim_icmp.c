/*
 * test_sim_icmp.c - IPv4 input and ICMP of one stack, fed datagrams built
 * with the src/wire emitters through a capturing link: echo replies, port
 * and protocol unreachable as Linux sends them (TOS 0xc0, DF clear, quote up
 * to 576 bytes, rate limits), and the cases where Linux stays silent
 * (broadcast, ICMP errors, bad checksums, incomplete fragments, not ours,
 * martians).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cap_link.h"
#include "harness/test.h"
#include "ustcp/icmp.h"
#include "ustcp/ustcp.h"
#include "wire/wire.h"

#define ME 0xc0000202u   /* 192.0.2.2 */
#define PEER 0xc0000201u /* 192.0.2.1 */

static struct ustcp_stack *new_stack(struct cap *c) { return cap_stack(c, ME); }

/* An IPv4 datagram around `payload` (which already sits at buf + 20). */
static size_t ip_wrap(uint8_t *buf, uint32_t src, uint32_t dst, uint8_t proto, size_t plen,
                      uint8_t tos)
{
  struct us_ipv4_hdr h = {.tos = tos,
                          .total_len = (uint16_t)(US_IPV4_HDR_LEN + plen),
                          .id = 0x1234,
                          .df = true,
                          .ttl = 64,
                          .proto = proto,
                          .src = src,
                          .dst = dst};
  us_ipv4_emit(&h, buf);
  return US_IPV4_HDR_LEN + plen;
}

static size_t udp_dgram(uint8_t *buf, uint32_t src, uint32_t dst, uint16_t dport, size_t dlen,
                        bool csum)
{
  uint8_t *u = buf + US_IPV4_HDR_LEN;
  us_put16(u, 40000);
  us_put16(u + 2, dport);
  us_put16(u + 4, (uint16_t)(8 + dlen));
  us_put16(u + 6, 0);
  for (size_t i = 0; i < dlen; i++)
    u[8 + i] = (uint8_t)(i * 7);
  if (csum) {
    uint64_t sum = us_csum_pseudo(src, dst, US_IPPROTO_UDP, (uint16_t)(8 + dlen));
    uint16_t c = us_csum_fold(us_csum_add(sum, u, 8 + dlen));
    us_put16(u + 6, c ? c : 0xffff);
  }
  return ip_wrap(buf, src, dst, US_IPPROTO_UDP, 8 + dlen, 0x10);
}

static size_t echo_dgram(uint8_t *buf, uint32_t src, uint32_t dst, uint8_t type, uint16_t seq,
                         size_t dlen, uint8_t tos)
{
  uint8_t body[256];
  for (size_t i = 0; i < dlen; i++)
    body[i] = (uint8_t)(0xa0 + i);
  struct us_icmp_hdr ic = {.type = type, .id = 0x4242, .seq = seq, .body = body, .body_len = dlen};
  us_icmp_emit(&ic, buf + US_IPV4_HDR_LEN);
  return ip_wrap(buf, src, dst, US_IPPROTO_ICMP, US_ICMP_HDR_LEN + dlen, tos);
}

/* Check one captured datagram is an ICMP error (type, code) about `orig`. */
static void check_icmp_error(const uint8_t *pkt, size_t len, uint8_t type, uint8_t code,
                             const uint8_t *orig, size_t olen, uint8_t orig_tos)
{
  struct us_ipv4_hdr h;
  T_EQ(us_ipv4_parse(pkt, len, &h), 0);
  T_EQ(h.src, ME);
  T_EQ(h.dst, PEER);
  T_EQ(h.proto, US_IPPROTO_ICMP);
  T_EQ(h.ttl, 64);
  T_EQ(h.tos, (orig_tos & 0x1e) | 0xc0); /* Linux: IPTOS_PREC_INTERNETCONTROL */
  T_CHECK(!h.df);                        /* Linux: ICMP socket, IP_PMTUDISC_DONT */
  size_t quote = olen < 548 ? olen : 548;
  T_EQ(h.total_len, 20 + 8 + quote);
  struct us_icmp_hdr ic;
  T_EQ(us_icmp_parse(pkt + 20, len - 20, &ic), 0);
  T_EQ(ic.type, type);
  T_EQ(ic.code, code);
  T_EQ(ic.body_len, quote);
  T_CHECK(memcmp(ic.body, orig, quote) == 0);
}

static void test_udp_port_unreachable(void)
{
  struct cap c;
  struct ustcp_stack *s = new_stack(&c);
  uint8_t d[1600];
  size_t n = udp_dgram(d, PEER, ME, 9, 10, true);
  ustcp_input(s, d, n);
  T_EQ(c.n, 1);
  check_icmp_error(c.pkt[0], c.len[0], 3, 3, d, n, 0x10);
  T_EQ(ustcp_stat(s, USTCP_STAT_UDP_NO_PORTS), 1);
  T_EQ(ustcp_stat(s, USTCP_STAT_ICMP_OUT_DEST_UNREACHS), 1);
  T_EQ(ustcp_stat(s, USTCP_STAT_ICMP_OUT_MSGS), 1);
  T_EQ(ustcp_stat(s, USTCP_STAT_DROP_UDP_NO_PORT), 1);
  T_EQ(ustcp_stat(s, USTCP_STAT_IP_IN_DELIVERS), 1);

  /* A big one: the quote stops at 576 bytes in all. */
  n = udp_dgram(d, PEER, ME, 9, 1000, true);
  ustcp_input(s, d, n);
  T_EQ(c.n, 2);
  T_EQ(c.len[1], 576);
  check_icmp_error(c.pkt[1], c.len[1], 3, 3, d, n, 0x10);

  /* No checksum (0) is fine for UDP over IPv4. */
  n = udp_dgram(d, PEER, ME, 9, 10, false);
  ustcp_input(s, d, n);
  T_EQ(c.n, 3);

  /* Silent: bad checksum, bad length, broadcast destination. */
  n = udp_dgram(d, PEER, ME, 9, 10, true);
  d[n - 1] ^= 1;
  ustcp_input(s, d, n);
  T_EQ(ustcp_stat(s, USTCP_STAT_UDP_IN_CSUM_ERRORS), 1);
  T_EQ(ustcp_stat(s, USTCP_STAT_DROP_UDP_CSUM), 1);
  n = udp_dgram(d, PEER, ME, 9, 10, false);
  us_put16(d + 20 + 4, 100); /* UDP length past the datagram */
  ustcp_input(s, d, n);
  T_EQ(ustcp_stat(s, USTCP_STAT_UDP_IN_ERRORS), 2);
  T_EQ(ustcp_stat(s, USTCP_STAT_DROP_UDP_BAD_LEN), 1);
  n = udp_dgram(d, PEER, 0xc00002ffu, 9, 10, true);
  ustcp_input(s, d, n);
  n = udp_dgram(d, PEER, 0xffffffffu, 9, 10, true);
  ustcp_input(s, d, n);
  T_EQ(ustcp_stat(s, USTCP_STAT_DROP_IP_BCAST), 2);
  T_EQ(c.n, 3);
  ustcp_stack_destroy(s);
}

static void test_protocol_unreachable(void)
{
  struct cap c;
  struct ustcp_stack *s = new_stack(&c);
  uint8_t d[256];
  memcpy(d + 20, "hello, protocol 200!", 20);
  size_t n = ip_wrap(d, PEER, ME, 200, 20, 0);
  ustcp_input(s, d, n);
  T_EQ(c.n, 1);
  check_icmp_error(c.pkt[0], c.len[0], 3, 2, d, n, 0);
  T_EQ(c.len[0], 68); /* as measured on Linux 6.18 */
  T_EQ(ustcp_stat(s, USTCP_STAT_IP_IN_UNKNOWN_PROTOS), 1);
  T_EQ(ustcp_stat(s, USTCP_STAT_DROP_IP_NO_PROTO), 1);
  T_EQ(ustcp_stat(s, USTCP_STAT_IP_IN_DELIVERS), 0);
  /* Broadcast: counted, not answered. */
  n = ip_wrap(d, PEER, 0xffffffffu, 200, 20, 0);
  ustcp_input(s, d, n);
  T_EQ(c.n, 1);
  T_EQ(ustcp_stat(s, USTCP_STAT_DROP_IP_NO_PROTO), 2);
  ustcp_stack_destroy(s);
}

static void test_echo(void)
{
  struct cap c;
  struct ustcp_stack *s = new_stack(&c);
  uint8_t d[512];
  size_t n = echo_dgram(d, PEER, ME, US_ICMP_ECHO_REQUEST, 9, 56, 0x10);
  ustcp_input(s, d, n);
  T_EQ(c.n, 1);
  struct us_ipv4_hdr h;
  T_EQ(us_ipv4_parse(c.pkt[0], c.len[0], &h), 0);
  T_EQ(h.src, ME);
  T_EQ(h.dst, PEER);
  T_EQ(h.tos, 0x10); /* Linux icmp_reply(): the request's TOS */
  T_CHECK(!h.df);
  T_EQ(h.total_len, n);
  struct us_icmp_hdr ic;
  T_EQ(us_icmp_parse(c.pkt[0] + 20, c.len[0] - 20, &ic), 0);
  T_EQ(ic.type, 0);
  T_EQ(ic.id, 0x4242);
  T_EQ(ic.seq, 9);
  T_CHECK(memcmp(c.pkt[0] + 28, d + 28, 56) == 0);
  T_EQ(ustcp_stat(s, USTCP_STAT_ICMP_IN_ECHOS), 1);
  T_EQ(ustcp_stat(s, USTCP_STAT_ICMP_OUT_ECHO_REPS), 1);

  /* Echo to broadcast: ignored (icmp_echo_ignore_broadcasts). */
  n = echo_dgram(d, PEER, 0xc00002ffu, US_ICMP_ECHO_REQUEST, 10, 56, 0);
  ustcp_input(s, d, n);
  T_EQ(c.n, 1);
  /* Bad ICMP checksum: dropped and counted. */
  n = echo_dgram(d, PEER, ME, US_ICMP_ECHO_REQUEST, 11, 56, 0);
  d[40] ^= 0x80;
  ustcp_input(s, d, n);
  T_EQ(c.n, 1);
  T_EQ(ustcp_stat(s, USTCP_STAT_ICMP_IN_CSUM_ERRORS), 1);
  T_EQ(ustcp_stat(s, USTCP_STAT_DROP_ICMP_CSUM), 1);
  T_EQ(ustcp_stat(s, USTCP_STAT_ICMP_IN_MSGS), 3);
  ustcp_stack_destroy(s);
}

/* ICMP errors are never answered with ICMP errors; neither are they
 * delivered anywhere unless they quote something we sent. */
static void test_no_error_about_errors(void)
{
  struct cap c;
  struct ustcp_stack *s = new_stack(&c);
  uint8_t inner[64], d[256];
  size_t in = udp_dgram(inner, ME, PEER, 53, 4, true);
  struct us_icmp_hdr ic = {.type = 3, .code = 3, .body = inner, .body_len = in};
  us_icmp_emit(&ic, d + 20);
  size_t n = ip_wrap(d, PEER, ME, US_IPPROTO_ICMP, 8 + in, 0);
  ustcp_input(s, d, n);
  T_EQ(c.n, 0);
  T_EQ(ustcp_stat(s, USTCP_STAT_ICMP_IN_DEST_UNREACHS), 1);
  /* An unknown ICMP type: dropped, no reply. */
  ic = (struct us_icmp_hdr){.type = 42, .body = inner, .body_len = 8};
  us_icmp_emit(&ic, d + 20);
  n = ip_wrap(d, PEER, ME, US_IPPROTO_ICMP, 16, 0);
  ustcp_input(s, d, n);
  T_EQ(c.n, 0);
  T_EQ(ustcp_stat(s, USTCP_STAT_DROP_ICMP_UNHANDLED), 2);
  /* Unreachable quoting too little of the datagram: IcmpInErrors. */
  ic = (struct us_icmp_hdr){.type = 3, .code = 1, .body = inner, .body_len = 24};
  us_icmp_emit(&ic, d + 20);
  n = ip_wrap(d, PEER, ME, US_IPPROTO_ICMP, 8 + 24, 0);
  ustcp_input(s, d, n);
  T_EQ(ustcp_stat(s, USTCP_STAT_ICMP_IN_ERRORS), 1);
  T_EQ(c.n, 0);
  ustcp_stack_destroy(s);
}

static void test_ip_drops(void)
{
  struct cap c;
  struct ustcp_stack *s = new_stack(&c);
  uint8_t d[256];
  /* Not ours. */
  size_t n = udp_dgram(d, PEER, 0xc0000203u, 9, 10, true);
  ustcp_input(s, d, n);
  T_EQ(ustcp_stat(s, USTCP_STAT_DROP_IP_NOT_OURS), 1);
  T_EQ(ustcp_stat(s, USTCP_STAT_IP_IN_ADDR_ERRORS), 1);
  /* Martian sources. */
  n = udp_dgram(d, 0x7f000001u, ME, 9, 10, true);
  ustcp_input(s, d, n);
  n = udp_dgram(d, 0xe0000001u, ME, 9, 10, true);
  ustcp_input(s, d, n);
  n = udp_dgram(d, 0, ME, 9, 10, true);
  ustcp_input(s, d, n);
  T_EQ(ustcp_stat(s, USTCP_STAT_DROP_IP_BAD_SRC), 3);
  /* Fragments (first and later) of a datagram missing its middle: queued
   * for reassembly (tests/sim/test_ip_frag.c), never answered. */
  int nout = c.n;
  n = udp_dgram(d, PEER, ME, 9, 10, true);
  struct us_ipv4_hdr h;
  T_EQ(us_ipv4_parse(d, n, &h), 0);
  h.mf = true;
  h.df = false;
  us_ipv4_emit(&h, d);
  ustcp_input(s, d, n);
  h.mf = false;
  h.frag_off = 64;
  us_ipv4_emit(&h, d);
  ustcp_input(s, d, n);
  T_EQ(ustcp_stat(s, USTCP_STAT_DROP_IP_FRAGMENT), 0);
  T_EQ(ustcp_stat(s, USTCP_STAT_IP_REASM_REQDS), 2);
  T_EQ(ustcp_stat(s, USTCP_STAT_IP_REASM_OKS), 0);
  T_EQ(c.n, nout);
  /* Bad IP header checksum. */
  n = udp_dgram(d, PEER, ME, 9, 10, true);
  d[10] ^= 0x40;
  ustcp_input(s, d, n);
  T_EQ(ustcp_stat(s, USTCP_STAT_DROP_IP_CSUM), 1);
  T_EQ(ustcp_stat(s, USTCP_STAT_IP_IN_CSUM_ERRORS), 1);
  /* Truncated: the header says more than arrived (Linux InTruncatedPkts). */
  n = udp_dgram(d, PEER, ME, 9, 10, true);
  ustcp_input(s, d, n - 1);
  T_EQ(ustcp_stat(s, USTCP_STAT_IP_IN_TRUNCATED), 1);
  T_EQ(ustcp_stat(s, USTCP_STAT_DROP_IP_BAD_TOTLEN), 1);
  /* Padding after the datagram is ignored (trimmed to total length). */
  n = udp_dgram(d, PEER, ME, 9, 10, true);
  memset(d + n, 0xee, 20);
  ustcp_input(s, d, n + 20);
  T_EQ(c.n, 1);
  check_icmp_error(c.pkt[0], c.len[0], 3, 3, d, n, 0x10);
  /* Garbage of every short length: counted, never answered. */
  uint64_t before =
      ustcp_stat(s, USTCP_STAT_IP_IN_HDR_ERRORS) + ustcp_stat(s, USTCP_STAT_IP_IN_TRUNCATED);
  for (size_t len = 0; len < 40; len++) {
    for (size_t i = 0; i < len; i++)
      d[i] = (uint8_t)(len * 31 + i * 17);
    ustcp_input(s, d, len);
  }
  T_EQ(ustcp_stat(s, USTCP_STAT_IP_IN_HDR_ERRORS) + ustcp_stat(s, USTCP_STAT_IP_IN_TRUNCATED) -
           before,
       40);
  T_EQ(c.n, 1);
  ustcp_stack_destroy(s);
}

static void test_rate_limit(void)
{
  struct cap c;
  struct ustcp_stack *s = new_stack(&c);
  uint8_t d[256];
  size_t n = udp_dgram(d, PEER, ME, 9, 10, true);
  /* Linux: a burst of 6 per peer (icmp_ratelimit 1000 ms, burst factor 6),
   * then one per second; measured on 6.18 over veth: 20 datagrams -> 6. */
  for (int i = 0; i < 20; i++)
    ustcp_input(s, d, n);
  T_EQ(c.n, 6);
  T_EQ(ustcp_stat(s, USTCP_STAT_ICMP_OUT_RATELIMIT_HOST), 14);
  T_EQ(ustcp_stat(s, USTCP_STAT_UDP_NO_PORTS), 20);
  c.now += USTCP_MS(999);
  ustcp_input(s, d, n);
  T_EQ(c.n, 6);
  c.now += USTCP_MS(1);
  ustcp_input(s, d, n);
  ustcp_input(s, d, n);
  T_EQ(c.n, 7);
  c.now += USTCP_SEC(3);
  for (int i = 0; i < 5; i++)
    ustcp_input(s, d, n);
  T_EQ(c.n, 10);
  /* Another peer has its own budget. */
  n = udp_dgram(d, 0xc6336401u, ME, 9, 10, true);
  for (int i = 0; i < 10; i++)
    ustcp_input(s, d, n);
  T_EQ(c.n, 16);
  /* Echo replies are never rate limited. */
  n = echo_dgram(d, PEER, ME, US_ICMP_ECHO_REQUEST, 1, 8, 0);
  for (int i = 0; i < 30; i++)
    ustcp_input(s, d, n);
  T_EQ(c.n, 46);
  ustcp_stack_destroy(s);
}

struct hook_log {
  int n;
  struct ustcp_icmp_msg last;
};
static void hook(void *user, struct ustcp_stack *s, const struct ustcp_icmp_msg *m)
{
  struct hook_log *h = user;
  (void)s;
  h->n++;
  h->last = *m;
}

static void test_ping_api(void)
{
  struct cap c;
  struct ustcp_stack *s = new_stack(&c);
  struct hook_log hl = {0};
  ustcp_set_icmp_hook(s, hook, &hl);
  T_EQ(ustcp_ping_send(s, htonl(PEER), 5, 6, 56), 0);
  T_EQ(c.n, 1);
  struct us_ipv4_hdr h;
  T_EQ(us_ipv4_parse(c.pkt[0], c.len[0], &h), 0);
  T_EQ(h.total_len, 84);
  T_CHECK(h.df);
  T_EQ(h.dst, PEER);
  /* over the MTU: DF clear, two fragments (Linux ping -s 1473) */
  T_EQ(ustcp_ping_send(s, htonl(PEER), 5, 6, 1473), 0);
  T_EQ(c.n, 3);
  T_EQ(us_ipv4_parse(c.pkt[1], c.len[1], &h), 0);
  T_CHECK(!h.df && h.mf && h.total_len == 1500);
  T_EQ(us_ipv4_parse(c.pkt[2], c.len[2], &h), 0);
  T_CHECK(!h.df && !h.mf && h.frag_off == 1480 && h.total_len == 21);
  T_EQ(ustcp_ping_send(s, htonl(PEER), 5, 6, 65508), -EMSGSIZE);
  c.n = 1;
  T_EQ(ustcp_ping_send(s, 0, 5, 6, 10), -EINVAL);
  /* The peer's echo reply reaches the hook. */
  uint8_t d[256];
  size_t n = echo_dgram(d, PEER, ME, US_ICMP_ECHO_REPLY, 6, 56, 0);
  ustcp_input(s, d, n);
  T_EQ(hl.n, 1);
  T_EQ(hl.last.type, 0);
  T_EQ(hl.last.seq, 6);
  T_EQ(hl.last.len, 56);
  T_EQ(hl.last.from, htonl(PEER));
  /* So does an unreachable quoting our echo request. */
  struct us_icmp_hdr ic = {.type = 3, .code = 1, .body = c.pkt[0], .body_len = 28};
  us_icmp_emit(&ic, d + 20);
  n = ip_wrap(d, 0xc0000201u, ME, US_IPPROTO_ICMP, 8 + 28, 0);
  ustcp_input(s, d, n);
  T_EQ(hl.n, 2);
  T_EQ(hl.last.type, 3);
  T_EQ(hl.last.code, 1);
  T_EQ(hl.last.id, 5);
  T_EQ(hl.last.seq, 6);
  T_EQ(c.n, 1); /* and nothing was sent back */
  ustcp_stack_destroy(s);
}

int main(void)
{
  T_RUN(test_udp_port_unreachable);
  T_RUN(test_protocol_unreachable);
  T_RUN(test_echo);
  T_RUN(test_no_error_about_errors);
  T_RUN(test_ip_drops);
  T_RUN(test_rate_limit);
  T_RUN(test_ping_api);
  return T_DONE();
}
