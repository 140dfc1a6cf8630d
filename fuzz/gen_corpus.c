/*
 * gen_corpus.c - writes the seed corpora for fuzz_wire and fuzz_stack
 * (fuzz/corpus/<target>/). Deterministic: re-running it reproduces the
 * committed files. Build and run with fuzz/gen_corpus.sh.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire/wire.h"

#define US 0x0a000001u
#define PEER 0x0a000002u

static const char *outdir;

static void put(const char *target, const char *name, const uint8_t *b, size_t n)
{
  char path[512];
  snprintf(path, sizeof path, "%s/%s/%s", outdir, target, name);
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(b, 1, n, f) != n) {
    perror(path);
    exit(1);
  }
  fclose(f);
}

/* IPv4 + TCP datagram into b; returns its length. */
static size_t tcp_dgram(uint8_t *b, const struct us_tcp_hdr *th, const char *payload)
{
  size_t hl = us_tcp_hdr_len(th), pl = payload ? strlen(payload) : 0;
  us_tcp_emit(th, b + 20);
  memcpy(b + 20 + hl, payload ? payload : "", pl);
  us_tcp_csum_fill(b + 20, hl + pl, PEER, US);
  struct us_ipv4_hdr ip = {.total_len = (uint16_t)(20 + hl + pl),
                           .id = 0x1234,
                           .df = true,
                           .ttl = 64,
                           .proto = US_IPPROTO_TCP,
                           .src = PEER,
                           .dst = US};
  us_ipv4_emit(&ip, b);
  return 20 + hl + pl;
}

static struct us_tcp_hdr linux_syn(void)
{
  struct us_tcp_hdr h = {
      .sport = 40000, .dport = 80, .seq = 1000, .flags = US_TCP_SYN, .win = 64240};
  h.opt.mss_ok = h.opt.sack_ok = h.opt.ts_ok = h.opt.ws_ok = true;
  h.opt.mss = 1460;
  h.opt.ws = 7;
  h.opt.ts_val = 12345;
  return h;
}

static void wire_seeds(void)
{
  uint8_t b[2048];
  size_t n;
  struct us_tcp_hdr syn = linux_syn();

  n = tcp_dgram(b, &syn, NULL);
  put("fuzz_wire", "syn_datagram", b, n);
  put("fuzz_wire", "syn_segment", b + 20, n - 20);
  put("fuzz_wire", "truncated_ip", b, 12);
  uint8_t syn_dgram[128];
  size_t syn_len = n;
  memcpy(syn_dgram, b, n);

  struct us_tcp_hdr d = {.sport = 40000,
                         .dport = 80,
                         .seq = 1001,
                         .ack = 5001,
                         .flags = US_TCP_ACK | US_TCP_PSH,
                         .win = 502};
  d.opt.ts_ok = true;
  d.opt.ts_val = 12400;
  d.opt.ts_ecr = 777;
  d.opt.nsack = 3;
  for (int i = 0; i < 3; i++)
    d.opt.sack[i] = (struct us_tcp_sack_block){5001u + 100u * (unsigned)i + 50u,
                                               5001u + 100u * (unsigned)i + 90u};
  n = tcp_dgram(b, &d, "GET / HTTP/1.0\r\n\r\n");
  put("fuzz_wire", "data_ts_sack", b, n);

  /* TCP header cut short inside an IPv4 datagram that says so. */
  n = tcp_dgram(b, &syn, NULL);
  us_put16(b + 2, 30);
  us_put16(b + 10, 0);
  us_put16(b + 10, us_csum_fold(us_csum_add(0, b, 20)));
  put("fuzz_wire", "truncated_tcp", b, 30);

  /* A malformed option (length 0) with a correct checksum. */
  uint8_t seg[24] = {0x9c, 0x40, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 6 << 4, US_TCP_ACK, 1, 0};
  seg[20] = 30;
  seg[21] = 0;
  us_tcp_csum_fill(seg, sizeof seg, PEER, US);
  put("fuzz_wire", "bad_opt_len0", seg, sizeof seg);

  /* An IPv4 header with 4 bytes of options. */
  struct us_ipv4_hdr ip = {
      .total_len = 24 + 8, .ttl = 1, .proto = US_IPPROTO_ICMP, .src = PEER, .dst = US};
  us_ipv4_emit(&ip, b);
  b[0] = 0x46;
  b[20] = 1;
  b[21] = 1;
  b[22] = 1;
  b[23] = 0;
  us_put16(b + 10, 0);
  us_put16(b + 10, us_csum_fold(us_csum_add(0, b, 24)));
  struct us_icmp_hdr echo = {.type = US_ICMP_ECHO_REQUEST, .id = 1, .seq = 1};
  us_icmp_emit(&echo, b + 24);
  put("fuzz_wire", "ipv4_options_echo", b, 32);

  /* ICMP: echo with a body, and "fragmentation needed" quoting the SYN. */
  struct us_icmp_hdr e = {.type = US_ICMP_ECHO_REQUEST,
                          .id = 0x77,
                          .seq = 3,
                          .body = (const uint8_t *)"0123456789abcdef",
                          .body_len = 16};
  us_icmp_emit(&e, b);
  put("fuzz_wire", "icmp_echo", b, 24);
  struct us_icmp_hdr fn = {.type = US_ICMP_DEST_UNREACH,
                           .code = US_ICMP_FRAG_NEEDED,
                           .mtu = 1280,
                           .body = syn_dgram,
                           .body_len = syn_len};
  us_icmp_emit(&fn, b + 20);
  ip = (struct us_ipv4_hdr){.total_len = (uint16_t)(28 + syn_len),
                            .ttl = 64,
                            .proto = US_IPPROTO_ICMP,
                            .src = PEER,
                            .dst = US};
  us_ipv4_emit(&ip, b);
  put("fuzz_wire", "icmp_frag_needed", b, 28 + syn_len);
}

/* ------------------------------------------------------ fuzz_stack seeds */

struct out {
  uint8_t b[1024];
  size_t n;
};
static void o8(struct out *o, unsigned v) { o->b[o->n++] = (uint8_t)v; }
static void o16(struct out *o, unsigned v)
{
  o8(o, v >> 8);
  o8(o, v);
}
static void o32(struct out *o, uint32_t v)
{
  o16(o, v >> 16);
  o16(o, v & 0xffff);
}
/* Record builders matching fuzz_stack.c. */
static void r_time_ms4(struct out *o, unsigned units) { o8(o, 0x00), o8(o, units); }
static void r_time_s(struct out *o, unsigned secs) { o8(o, 0x80), o8(o, secs); }
static void r_syn(struct out *o, unsigned pport, uint32_t isn)
{
  o8(o, 5);
  o16(o, pport - 1024);
  o8(o, 0);    /* peer 10.0.0.2 */
  o8(o, 1);    /* to port 80 */
  o32(o, isn); /* ISN */
  o8(o, 0x0f); /* mss, sackOK, TS, wscale */
  o16(o, 1460);
  o8(o, 7);
  o32(o, 100);
  o32(o, 0);
}
static void r_seg(struct out *o, unsigned flow, unsigned flags, const char *payload)
{
  o8(o, 2);
  o8(o, flow);
  o8(o, flags);
  o16(o, 0); /* seq delta */
  o16(o, 0); /* ack delta */
  o16(o, 65535);
  o8(o, 0x04); /* TS only */
  o32(o, 200);
  o32(o, 0);
  size_t n = payload ? strlen(payload) : 0;
  o8(o, (unsigned)n);
  for (size_t i = 0; i < n; i++)
    o8(o, (uint8_t)payload[i]);
}
static void r_api(struct out *o, unsigned what, unsigned a, unsigned b)
{
  o8(o, 3);
  o8(o, what);
  o8(o, a);
  o8(o, b);
}

static void stack_seeds(void)
{
  struct out o;
  /* Passive open: SYN, ACK, data, accept, recv, send, close, FINs. */
  for (unsigned flow = 0; flow < 2; flow++) {
    memset(&o, 0, sizeof o);
    o8(&o, 0x5c); /* timestamps, SACK, backlog 5 */
    r_syn(&o, 40000, 1000);
    r_time_ms4(&o, 1);
    r_seg(&o, flow, US_TCP_ACK, NULL);
    r_seg(&o, flow, US_TCP_ACK | US_TCP_PSH, "GET / HTTP/1.0\r\n\r\n");
    r_api(&o, 0, 0, 0); /* accept */
    r_api(&o, 2, 2, 4); /* recv */
    r_api(&o, 1, 2, 8); /* send 128 bytes */
    r_time_ms4(&o, 60); /* delayed ACK, RTO */
    r_seg(&o, flow, US_TCP_ACK, NULL);
    r_api(&o, 4, 2, 0); /* close */
    r_seg(&o, flow, US_TCP_ACK | US_TCP_FIN, NULL);
    r_time_s(&o, 61); /* TIME_WAIT ends */
    char name[32];
    snprintf(name, sizeof name, "passive_open_flow%u", flow);
    put("fuzz_stack", name, o.b, o.n);
  }
  /* Passive open, then bulk data: a burst with a hole (out-of-order queue),
   * then enough in-order data to fill the receive buffer. */
  memset(&o, 0, sizeof o);
  o8(&o, 0x5c);
  r_syn(&o, 40001, 9000);
  r_seg(&o, 1, US_TCP_ACK, NULL);
  r_api(&o, 0, 0, 0); /* accept */
  o8(&o, 6);          /* bulk: flow 1, 20 x 1000 bytes, hole first, TS */
  o8(&o, 1);
  o8(&o, 20);
  o16(&o, 999);
  o8(&o, 0x05);
  o16(&o, 65535);
  o8(&o, 6); /* bulk: flow 1, 120 x 1460 bytes in order, PSH */
  o8(&o, 1);
  o8(&o, 120);
  o16(&o, 1459);
  o8(&o, 0x02);
  o16(&o, 65535);
  r_time_ms4(&o, 50);
  r_api(&o, 2, 2, 255); /* recv 4080 bytes */
  r_time_ms4(&o, 50);
  put("fuzz_stack", "bulk_ofo_rcvbuf", o.b, o.n);

  /* Active open answered with SYN-ACK, then data both ways, then RST. */
  memset(&o, 0, sizeof o);
  o8(&o, 0x1c);
  r_seg(&o, 0, US_TCP_SYN | US_TCP_ACK, NULL);
  r_seg(&o, 0, US_TCP_ACK, "hello");
  r_api(&o, 2, 1, 4);
  r_api(&o, 1, 1, 2);
  r_seg(&o, 0, US_TCP_RST, NULL);
  put("fuzz_stack", "active_open_rst", o.b, o.n);

  /* SYN flood over the backlog, SYN-ACK retransmissions over a minute. */
  memset(&o, 0, sizeof o);
  o8(&o, 0x1c); /* backlog 1 */
  for (unsigned i = 0; i < 6; i++)
    r_syn(&o, 50000 + i, 7000 * i);
  for (unsigned i = 0; i < 7; i++)
    r_time_s(&o, 10);
  put("fuzz_stack", "syn_flood_retries", o.b, o.n);

  /* A raw datagram (checksums fixed by the harness) and an ICMP error. */
  memset(&o, 0, sizeof o);
  o8(&o, 0x5c);
  uint8_t b[256];
  struct us_tcp_hdr syn = linux_syn();
  size_t n = tcp_dgram(b, &syn, NULL);
  o8(&o, 1 | 0x10 | 0x20);
  o16(&o, (unsigned)n);
  memcpy(o.b + o.n, b, n);
  o.n += n;
  o8(&o, 4); /* ICMP quoting our SYN-ACK */
  o8(&o, 0);
  o8(&o, 0x20); /* dest unreachable, code 4 */
  o16(&o, 1200);
  r_time_s(&o, 3);
  put("fuzz_stack", "raw_and_icmp", o.b, o.n);
}

int main(int argc, char **argv)
{
  outdir = argc > 1 ? argv[1] : "fuzz/corpus";
  wire_seeds();
  stack_seeds();
  return 0;
}
