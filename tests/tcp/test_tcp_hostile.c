/*
 * test_tcp_hostile.c - bad input (SPEC §3): random and malformed segments
 * with valid checksums thrown at a listener and at a live connection's
 * 4-tuple, random garbage datagrams, and truncated headers. The stack must
 * count and drop or answer them, never crash (ASan/UBSan builds), keep the
 * live connection intact, and hold nothing once everything is closed.
 */
#include "tcp/fixture.h"
#include "wire/wire.h"

static uint64_t rng = 88172645463325252ull;
static uint32_t rnd(void)
{
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (uint32_t)(rng >> 16);
}

static size_t build(uint8_t *pkt, uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport)
{
  struct us_tcp_hdr h;
  memset(&h, 0, sizeof(h));
  h.sport = sport;
  h.dport = dport;
  h.seq = rnd();
  h.ack = rnd();
  h.flags = (uint8_t)rnd();
  h.win = (uint16_t)rnd();
  h.urg = (uint16_t)rnd();
  if (rnd() & 1) {
    h.opt.mss_ok = rnd() & 1;
    h.opt.mss = (uint16_t)rnd();
    h.opt.ws_ok = rnd() & 1;
    h.opt.ws = (uint8_t)(rnd() & 31);
    h.opt.sack_ok = rnd() & 1;
    h.opt.ts_ok = rnd() & 1;
    h.opt.ts_val = rnd();
    h.opt.ts_ecr = rnd();
    if (!h.opt.ts_ok || (rnd() & 1)) {
      h.opt.nsack = (uint8_t)(rnd() % 4);
      for (int i = 0; i < h.opt.nsack; i++) {
        h.opt.sack[i].left = rnd();
        h.opt.sack[i].right = rnd();
      }
    }
    if (us_tcp_opts_len(&h.opt) > 40)
      h.opt.nsack = 0;
  }
  size_t hl = us_tcp_hdr_len(&h);
  size_t plen = (rnd() & 3) ? 0 : rnd() % 1400;
  uint8_t *seg = pkt + US_IPV4_HDR_LEN;
  us_tcp_emit(&h, seg);
  for (size_t i = 0; i < plen; i++)
    seg[hl + i] = (uint8_t)rnd();
  if ((rnd() & 15) == 0) /* a mangled header: offset or option bytes */
    seg[12 + rnd() % (hl - 12)] ^= (uint8_t)(1u << (rnd() % 8));
  us_tcp_csum_fill(seg, hl + plen, src, dst);
  struct us_ipv4_hdr ip = {.total_len = (uint16_t)(US_IPV4_HDR_LEN + hl + plen),
                           .ttl = 64,
                           .proto = US_IPPROTO_TCP,
                           .src = src,
                           .dst = dst,
                           .df = true};
  us_ipv4_emit(&ip, pkt);
  return US_IPV4_HDR_LEN + hl + plen;
}

static void storm(void)
{
  struct fx f;
  fx_init(&f, 1);
  int l, s;
  int c = fx_pair(&f, 80, &l, &s);
  struct sockaddr_in ca;
  socklen_t cl = sizeof(ca);
  ustcp_getsockname(f.C, c, (struct sockaddr *)&ca, &cl);
  uint16_t cport = ntohs(ca.sin_port);
  uint32_t cli = 0x0a000002, srv = 0x0a000001;
  static uint8_t pkt[2048];
  uint64_t before = 0;
  for (int i = 0; i < USTCP_STAT_COUNT; i++)
    before += ustcp_stat(f.S, (enum ustcp_stat)i);
  for (int i = 0; i < 200000; i++) {
    uint16_t sport = (rnd() & 1) ? cport : (uint16_t)(rnd() % 4 + 40000);
    uint16_t dport = (rnd() & 3) ? 80 : (uint16_t)rnd();
    size_t n = build(pkt, cli, srv, sport, dport);
    if ((rnd() & 31) == 0)
      n = rnd() % n; /* truncated */
    if ((rnd() & 63) == 0)
      for (size_t k = 0; k < n; k++)
        pkt[k] = (uint8_t)rnd(); /* garbage */
    ustcp_input(f.S, pkt, n);
    if ((i & 1023) == 0)
      fx_run(&f, 0.01); /* let timers and answers run */
  }
  uint64_t after = 0;
  for (int i = 0; i < USTCP_STAT_COUNT; i++)
    after += ustcp_stat(f.S, (enum ustcp_stat)i);
  T_CHECK(after > before + 200000); /* everything was counted */
  T_CHECK(ustcp_stat(f.S, USTCP_STAT_DROP_TCP_SEQ_OUTSIDE) > 1000);
  /* Answers to out-of-window segments are rate-limited (Linux: one per
   * 500 ms per connection), so the storm did not turn into an ACK storm. */
  T_CHECK(ustcp_stat(f.S, USTCP_STAT_TCP_CHALLENGE_ACK) < 20);
  /* The live connection survived (no blind RST or data hit it). */
  int st = ustcp_sock_state(f.S, s);
  printf("live connection after the storm: %s\n", ustcp_tcp_state_name(st));
  T_CHECK(st == USTCP_TCP_ESTABLISHED || st == USTCP_TCP_CLOSE);
  if (st == USTCP_TCP_ESTABLISHED) {
    fx_set_nonblock(f.S, s);
    char junk[4096];
    while (ustcp_read(f.S, s, junk, sizeof(junk)) > 0)
      ;
    T_EQ(ustcp_write(f.C, c, "still here", 10), 10);
    fx_run(&f, 0.5);
    char b[32];
    T_EQ(ustcp_read(f.S, s, b, sizeof(b)), 10);
  }
  ustcp_close(f.C, c);
  ustcp_close(f.S, s);
  ustcp_close(f.S, l);
  ustcp_sim_run_until_idle(f.sim, USTCP_SEC(7200));
  struct ustcp_mem_info mi;
  ustcp_mem_info(f.S, &mi);
  T_EQ(mi.sockets, 0);
  T_EQ(mi.requests, 0);
  T_EQ(mi.timewait, 0);
  T_EQ(mi.timers, 0);
  T_EQ(mi.buf_bytes, 0);
  fx_fini(&f);
}

int main(void)
{
  T_RUN(storm);
  return T_DONE();
}
