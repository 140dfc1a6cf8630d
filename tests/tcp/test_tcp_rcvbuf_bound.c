/*
 * test_tcp_rcvbuf_bound.c - the Linux 6.18 buffer defaults (tcp_rmem[2]
 * 33554432 -> window scale 10) and what keeps them safe: receive-buffer
 * autotuning grows the window while the application drains it, and when
 * the application stops reading, the stack's memory stays under
 * max_memory however much the peer sends; nothing is lost or reordered.
 */
#include "fixture.h"

#include <netinet/tcp.h>

#define MAXMEM (2ull << 20)

static uint8_t pat(uint64_t off) { return (uint8_t)(off * 131 + (off >> 9)); }

static struct {
  uint64_t sent, got;
  bool bad;
} io;

static void pump_send(struct fx *f, int c)
{
  static uint8_t buf[65536];
  for (;;) {
    for (size_t i = 0; i < sizeof(buf); i++)
      buf[i] = pat(io.sent + i);
    ssize_t n = ustcp_write(f->C, c, buf, sizeof(buf));
    if (n <= 0)
      break;
    io.sent += (uint64_t)n;
  }
}

static void drain(struct fx *f, int s)
{
  static uint8_t buf[65536];
  for (;;) {
    ssize_t n = ustcp_read(f->S, s, buf, sizeof(buf));
    if (n <= 0)
      break;
    for (ssize_t i = 0; i < n; i++)
      if (buf[i] != pat(io.got + (uint64_t)i))
        io.bad = true;
    io.got += (uint64_t)n;
  }
}

static int rcvbuf_of(struct fx *f, int s)
{
  int v = 0;
  socklen_t l = sizeof(v);
  T_EQ(ustcp_getsockopt(f->S, s, SOL_SOCKET, SO_RCVBUF, &v, &l), 0);
  return v;
}

static void wscale_and_bound(void)
{
  struct ustcp_config cfg;
  ustcp_config_init(&cfg);
  cfg.max_memory = MAXMEM;
  struct fx f;
  struct ustcp_link_params lp = {.latency = USTCP_MS(5), .bandwidth_bps = 10000000000ull};
  fx_init_cfg(&f, 5, &cfg);
  ustcp_sim_link_set(f.sim, f.link, 0, &lp);
  ustcp_sim_link_set(f.sim, f.link, 1, &lp);

  int l, s, c = fx_pair(&f, 80, &l, &s);
  /* Linux tcp_select_initial_window: ilog2(33554432) - 15 = 10. */
  struct tcp_info ti;
  socklen_t tl = sizeof(ti);
  memset(&ti, 0, sizeof(ti));
  T_EQ(ustcp_getsockopt(f.S, s, IPPROTO_TCP, TCP_INFO, &ti, &tl), 0);
  T_EQ(ti.tcpi_rcv_wscale, 10);
  T_EQ(ti.tcpi_snd_wscale, 10);
  fx_set_nonblock(f.C, c);
  fx_set_nonblock(f.S, s);

  /* Phase 1: the application drains at once; autotuning grows rcvbuf. */
  int rb0 = rcvbuf_of(&f, s);
  for (int i = 0; i < 400; i++) {
    pump_send(&f, c);
    fx_run(&f, 0.005);
    drain(&f, s);
  }
  int rb1 = rcvbuf_of(&f, s);
  T_CHECK(rb1 > rb0);
  /* The buffer grew past the cap, so the socket alone would take more
   * than max_memory: the stack-wide cap (which also bounds the window it
   * offers, tcp_output.c) is what bounds the memory below. */
  T_CHECK((uint64_t)rb1 > MAXMEM);
  T_CHECK(io.got > (16ull << 20));

  /* Phase 2: the application stops reading; the peer keeps sending. */
  struct ustcp_mem_info mi;
  uint64_t peak = 0;
  for (int i = 0; i < 400; i++) {
    pump_send(&f, c);
    fx_run(&f, 0.005);
    ustcp_mem_info(f.S, &mi);
    if (mi.bytes_total > peak)
      peak = mi.bytes_total;
  }
  printf("rcvbuf %d -> %d, received %llu, peak memory %llu (cap %llu)\n", rb0, rb1,
         (unsigned long long)io.got, (unsigned long long)peak, (unsigned long long)MAXMEM);
  /* bytes_total adds the stack object and timer heap to the capped pools. */
  T_CHECK(peak <= MAXMEM + (1u << 20));
  T_EQ(ustcp_sock_state(f.S, s), USTCP_TCP_ESTABLISHED);

  /* Phase 3: reading resumes; the whole stream arrives intact. */
  for (int i = 0; i < 4000 && io.got < io.sent; i++) {
    fx_run(&f, 0.005);
    drain(&f, s);
  }
  T_EQ(io.got, io.sent);
  T_CHECK(!io.bad);
  T_EQ(ustcp_close(f.C, c), 0);
  T_EQ(ustcp_close(f.S, s), 0);
  T_EQ(ustcp_close(f.S, l), 0);
  fx_fini(&f);
}

int main(void)
{
  wscale_and_bound();
  return T_DONE();
}
