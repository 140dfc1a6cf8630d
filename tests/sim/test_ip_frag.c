/*
 * test_ip_frag.c - IPv4 reassembly and output fragmentation of one stack
 * behind a capturing link: echo requests cut into fragments in any order
 * are answered; duplicates are dropped and the queue kept; overlaps,
 * oversize and stray ends discard it; an incomplete datagram times out
 * after 30 s with ICMP time exceeded (code 1) only if its first fragment
 * came; queues stop at 4 MiB; a reply longer than the MTU leaves in
 * fragments that reassemble to it.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "cap_link.h"
#include "harness/test.h"
#include "ustcp/ustcp.h"
#include "wire/wire.h"

#define ME 0xc0000202u   /* 192.0.2.2 */
#define PEER 0xc0000201u /* 192.0.2.1 */

static uint8_t whole[65536];

/* An echo request of `dlen` body bytes from PEER, id `id`, in `whole`. */
static size_t echo_request(uint16_t id, size_t dlen)
{
  static uint8_t body[65536];
  for (size_t i = 0; i < dlen; i++)
    body[i] = (uint8_t)(i * 13 + (i >> 8));
  struct us_icmp_hdr ic = {.type = 8, .id = 0x4242, .seq = 1, .body = body, .body_len = dlen};
  us_icmp_emit(&ic, whole + US_IPV4_HDR_LEN);
  struct us_ipv4_hdr h = {.total_len = (uint16_t)(US_IPV4_HDR_LEN + US_ICMP_HDR_LEN + dlen),
                          .id = id,
                          .ttl = 64,
                          .proto = US_IPPROTO_ICMP,
                          .src = PEER,
                          .dst = ME};
  us_ipv4_emit(&h, whole);
  return h.total_len;
}

/* Feed payload bytes [off, off+n) of `whole` as one fragment. */
static void frag(struct ustcp_stack *s, size_t total, size_t off, size_t n)
{
  static uint8_t f[65536];
  struct us_ipv4_hdr h;
  T_EQ(us_ipv4_parse(whole, total, &h), 0);
  size_t plen = total - US_IPV4_HDR_LEN;
  h.total_len = (uint16_t)(US_IPV4_HDR_LEN + n);
  h.frag_off = (uint16_t)off;
  h.mf = off + n < plen;
  us_ipv4_emit(&h, f);
  memcpy(f + US_IPV4_HDR_LEN, whole + US_IPV4_HDR_LEN + off, n);
  ustcp_input(s, f, US_IPV4_HDR_LEN + n);
}

/* The one captured datagram is the echo reply to `whole`. */
static void check_reply(struct cap *c, size_t total)
{
  T_EQ(c->n, 1);
  struct us_ipv4_hdr h;
  T_EQ(us_ipv4_parse(c->pkt[0], c->len[0], &h), 0);
  T_EQ(h.total_len, total);
  T_EQ(c->pkt[0][US_IPV4_HDR_LEN], 0); /* echo reply */
  T_CHECK(memcmp(c->pkt[0] + 28, whole + 28, total - 28) == 0);
  c->n = 0;
}

static void test_orders(void)
{
  struct cap c;
  struct ustcp_stack *s = cap_stack(&c, ME);
  size_t total = echo_request(1, 1200); /* 1208 payload bytes */
  frag(s, total, 0, 400);
  frag(s, total, 400, 400);
  T_EQ(c.n, 0);
  frag(s, total, 800, 408);
  check_reply(&c, total);
  /* last first, then the middle, then the first; a duplicate on the way */
  total = echo_request(2, 1200);
  frag(s, total, 800, 408);
  frag(s, total, 400, 400);
  frag(s, total, 400, 400);
  T_EQ(ustcp_stat(s, USTCP_STAT_DROP_IP_FRAG_DUP), 1);
  frag(s, total, 0, 400);
  check_reply(&c, total);
  /* a non-last fragment that is not a multiple of 8 is cut down */
  total = echo_request(3, 1200);
  frag(s, total, 0, 403);
  frag(s, total, 400, 808);
  check_reply(&c, total);
  T_EQ(ustcp_stat(s, USTCP_STAT_IP_REASM_REQDS), 9); /* fragments, as Linux counts */
  T_EQ(ustcp_stat(s, USTCP_STAT_IP_REASM_OKS), 3);
  T_EQ(ustcp_stat(s, USTCP_STAT_IP_REASM_FAILS), 0);
  struct ustcp_mem_info m0;
  ustcp_mem_info(s, &m0);
  ustcp_stack_destroy(s);
}

/* Fragments handed over in pieces (ustcp_input_v) reassemble the same. */
static void test_gathered(void)
{
  struct cap c;
  struct ustcp_stack *s = cap_stack(&c, ME);
  size_t total = echo_request(40, 1200);
  static uint8_t f[2000];
  struct us_ipv4_hdr h;
  T_EQ(us_ipv4_parse(whole, total, &h), 0);
  for (size_t off = 0; off < 1208; off += 600) {
    size_t n = 1208 - off < 600 ? 1208 - off : 600;
    h.total_len = (uint16_t)(20 + n);
    h.frag_off = (uint16_t)off;
    h.mf = off + n < 1208;
    us_ipv4_emit(&h, f);
    memcpy(f + 20, whole + 20 + off, n);
    struct iovec iov[3] = {{f, 20}, {f + 20, 7}, {f + 27, n - 7}};
    ustcp_input_v(s, iov, 3);
  }
  check_reply(&c, total);
  ustcp_stack_destroy(s);
}

static void test_discards(void)
{
  struct cap c;
  struct ustcp_stack *s = cap_stack(&c, ME);
  /* overlap: the queue goes, a later completion cannot happen */
  size_t total = echo_request(10, 1200);
  frag(s, total, 0, 400);
  frag(s, total, 200, 400);
  T_EQ(ustcp_stat(s, USTCP_STAT_IP_REASM_OVERLAPS), 1);
  T_EQ(ustcp_stat(s, USTCP_STAT_DROP_IP_FRAG_OVERLAP), 1);
  frag(s, total, 400, 400);
  frag(s, total, 800, 408);
  T_EQ(c.n, 0); /* a new queue, missing [0, 400) */
  /* two different ends */
  total = echo_request(11, 1200);
  frag(s, total, 800, 408);
  frag(s, total, 400, 400);
  struct us_ipv4_hdr h;
  static uint8_t f[2000];
  T_EQ(us_ipv4_parse(whole, total, &h), 0);
  h.total_len = 20 + 100;
  h.frag_off = 1600;
  h.mf = false;
  us_ipv4_emit(&h, f);
  ustcp_input(s, f, 120);
  frag(s, total, 0, 400);
  T_EQ(c.n, 0);
  /* zero-length fragment */
  h.total_len = 20;
  h.frag_off = 8;
  h.mf = true;
  us_ipv4_emit(&h, f);
  ustcp_input(s, f, 20);
  /* past 65535 bytes */
  h.total_len = 20 + 100;
  h.frag_off = 65528;
  h.mf = false;
  h.id = 12;
  us_ipv4_emit(&h, f);
  ustcp_input(s, f, 120);
  T_EQ(ustcp_stat(s, USTCP_STAT_DROP_IP_FRAG_TOO_BIG), 1);
  T_CHECK(ustcp_stat(s, USTCP_STAT_IP_REASM_FAILS) >= 4);
  T_EQ(ustcp_stat(s, USTCP_STAT_IP_REASM_OKS), 0);
  ustcp_stack_destroy(s); /* queues still held are freed (ASan checks) */
}

static void test_timeout(void)
{
  struct cap c;
  struct ustcp_stack *s = cap_stack(&c, ME);
  size_t total = echo_request(20, 1200);
  frag(s, total, 0, 400); /* first fragment only */
  total = echo_request(21, 1200);
  frag(s, total, 400, 400); /* a later fragment only */
  T_EQ(ustcp_next_deadline(s), USTCP_SEC(130));
  c.now = USTCP_SEC(130) - 1;
  ustcp_process(s);
  T_EQ(c.n, 0);
  c.now = USTCP_SEC(130);
  ustcp_process(s);
  T_EQ(ustcp_stat(s, USTCP_STAT_IP_REASM_TIMEOUT), 2);
  /* Linux ip_expire(): time exceeded, code 1, only where the first came */
  T_EQ(c.n, 1);
  struct us_ipv4_hdr h;
  T_EQ(us_ipv4_parse(c.pkt[0], c.len[0], &h), 0);
  T_EQ(h.proto, US_IPPROTO_ICMP);
  T_EQ(h.dst, PEER);
  T_EQ(c.pkt[0][20], 11);
  T_EQ(c.pkt[0][21], 1);
  struct us_ipv4_hdr q; /* the quote: the whole 420-byte first fragment */
  T_EQ(us_ipv4_parse(c.pkt[0] + 28, c.len[0] - 28, &q), 0);
  T_EQ(q.total_len, 420);
  T_EQ(q.id, 20);
  T_CHECK(q.mf);
  T_CHECK(memcmp(c.pkt[0] + 48, whole + 20, 400) == 0);
  struct ustcp_mem_info m;
  ustcp_mem_info(s, &m);
  T_EQ(m.timers, 0);
  ustcp_stack_destroy(s);
}

static void test_memory_cap(void)
{
  struct cap c;
  struct ustcp_stack *s = cap_stack(&c, ME);
  struct ustcp_mem_info m0, m1;
  ustcp_mem_info(s, &m0);
  for (int i = 0; i < 3000; i++) {
    size_t total = echo_request((uint16_t)(100 + i), 1200);
    frag(s, total, 0, 1000);
  }
  ustcp_mem_info(s, &m1);
  T_EQ(m0.reasm_bytes, 0);
  T_CHECK(m1.reasm_bytes <= 4194304);
  T_CHECK(m1.reasm_bytes > 4000000);
  T_CHECK(m1.bytes_total - m0.bytes_total >= m1.reasm_bytes);
  uint64_t dropped = ustcp_stat(s, USTCP_STAT_DROP_IP_FRAGMENT);
  T_CHECK(dropped > 0);
  T_CHECK(dropped < 3000);
  T_EQ(ustcp_stat(s, USTCP_STAT_IP_REASM_OKS), 0);
  /* all expire, the memory comes back */
  c.now += USTCP_SEC(31);
  ustcp_process(s);
  ustcp_mem_info(s, &m1);
  T_EQ(m1.reasm_bytes, 0);
  T_EQ(m1.timers, 0);
  ustcp_stack_destroy(s);
}

static void test_output_fragments(void)
{
  /* A 3000-byte echo request arrives in fragments; the 3028-byte reply
   * (DF clear, as Linux's icmp_reply) leaves in MTU-sized fragments. */
  struct cap c;
  struct ustcp_stack *s = cap_stack(&c, ME);
  size_t total = echo_request(30, 3000);
  frag(s, total, 0, 1480);
  frag(s, total, 1480, 1480);
  frag(s, total, 2960, total - 20 - 2960);
  T_EQ(c.n, 3);
  T_EQ(ustcp_stat(s, USTCP_STAT_IP_FRAG_OKS), 1);
  T_EQ(ustcp_stat(s, USTCP_STAT_IP_FRAG_CREATES), 3);
  uint16_t id = 0;
  for (int i = 0; i < 3; i++) {
    struct us_ipv4_hdr h;
    T_EQ(us_ipv4_parse(c.pkt[i], c.len[i], &h), 0);
    T_CHECK(c.len[i] <= 1500);
    T_EQ(h.frag_off, i * 1480);
    T_EQ(h.mf, i < 2);
    T_CHECK(!h.df);
    if (i == 0)
      id = h.id;
    T_EQ(h.id, id);
  }
  /* a second stack reassembles them into the reply */
  struct cap c2;
  struct ustcp_stack *p = cap_stack(&c2, PEER);
  uint8_t frags[3][1600];
  size_t lens[3];
  for (int i = 0; i < 3; i++) {
    memcpy(frags[i], c.pkt[i], c.len[i]);
    lens[i] = c.len[i];
  }
  for (int i = 2; i >= 0; i--)
    ustcp_input(p, frags[i], lens[i]);
  T_EQ(ustcp_stat(p, USTCP_STAT_IP_REASM_OKS), 1);
  T_EQ(ustcp_stat(p, USTCP_STAT_ICMP_IN_ECHO_REPS), 1);
  ustcp_stack_destroy(p);
  ustcp_stack_destroy(s);
}

int main(void)
{
  T_RUN(test_orders);
  T_RUN(test_gathered);
  T_RUN(test_discards);
  T_RUN(test_timeout);
  T_RUN(test_memory_cap);
  T_RUN(test_output_fragments);
  return T_DONE();
}
