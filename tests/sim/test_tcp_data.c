/*
 * test_tcp_data.c - TCP data transfer scenarios in the sim: bulk over a
 * clean and a lossy link (fast retransmit / SACK recovery), zero-window
 * probing, the data retransmission timeout (retries2 = 15: ~924.6 s),
 * TCP_USER_TIMEOUT, keepalive, TIME_WAIT expiry, ICMP unreachable.
 */
#include "tcp/fixture.h"

static uint8_t pat(size_t i) { return (uint8_t)(i * 131 + (i >> 9)); }

/* Write `len` bytes from the client, read them at the server, compare. */
static size_t bulk(struct fx *f, int c, int s, size_t len)
{
  static uint8_t buf[1 << 16];
  size_t sent = 0, got = 0, bad = 0;
  fx_set_nonblock(f->C, c);
  fx_set_nonblock(f->S, s);
  while (got < len) {
    while (sent < len) {
      size_t n = len - sent < sizeof(buf) ? len - sent : sizeof(buf);
      for (size_t i = 0; i < n; i++)
        buf[i] = pat(sent + i);
      ssize_t r = ustcp_write(f->C, c, buf, n);
      if (r <= 0)
        break;
      sent += (size_t)r;
    }
    ssize_t r = ustcp_read(f->S, s, buf, sizeof(buf));
    if (r > 0) {
      for (ssize_t i = 0; i < r; i++)
        bad += buf[i] != pat(got + (size_t)i);
      got += (size_t)r;
      continue;
    }
    if (r == 0)
      break;
    fx_run(f, 0.001);
  }
  T_EQ(bad, 0);
  return got;
}

static void bulk_clean(void)
{
  struct fx f;
  fx_init(&f, 5);
  int l, s;
  int c = fx_pair(&f, 80, &l, &s);
  T_EQ(bulk(&f, c, s, 4 << 20), 4 << 20);
  T_EQ(ustcp_stat(f.C, USTCP_STAT_TCP_RETRANS_SEGS), 0);
  struct tcp_info ti;
  socklen_t tl = sizeof(ti);
  T_EQ(ustcp_getsockopt(f.C, c, IPPROTO_TCP, TCP_INFO, &ti, &tl), 0);
  T_EQ(ti.tcpi_state, USTCP_TCP_ESTABLISHED);
  T_EQ(ti.tcpi_snd_mss, 1448); /* 1460 less the timestamp option */
  T_CHECK(ti.tcpi_options & TCPI_OPT_SACK);
  T_CHECK(ti.tcpi_rtt >= 10000 && ti.tcpi_rtt < 12000); /* 10 ms path */
  fx_fini(&f);
}

static void bulk_lossy(void)
{
  struct fx f;
  fx_init(&f, 5);
  int l, s;
  int c = fx_pair(&f, 80, &l, &s);
  struct ustcp_link_params p = f.p;
  p.loss = 0.02;
  p.reorder = 0.005;
  p.duplicate = 0.005;
  ustcp_sim_link_set(f.sim, f.link, 0, &p);
  ustcp_sim_link_set(f.sim, f.link, 1, &p);
  T_EQ(bulk(&f, c, s, 2 << 20), 2 << 20);
  T_CHECK(ustcp_stat(f.C, USTCP_STAT_TCP_FAST_RETRANS) > 0);
  T_CHECK(ustcp_stat(f.C, USTCP_STAT_TCP_RETRANS_SEGS) > 0);
  T_CHECK(ustcp_stat(f.S, USTCP_STAT_TCP_OFO_QUEUE) > 0);
  T_CHECK(ustcp_stat(f.S, USTCP_STAT_TCP_DSACK_OLD_SENT) > 0); /* duplicates: D-SACK */
  fx_fini(&f);
}

static void zero_window(void)
{
  struct fx f;
  fx_init(&f, 5);
  int l, s;
  int c = fx_pair(&f, 80, &l, &s);
  fx_set_nonblock(f.C, c);
  static uint8_t buf[1 << 16];
  size_t sent = 0;
  for (int i = 0; i < 200; i++) {
    ssize_t r = ustcp_write(f.C, c, buf, sizeof(buf));
    if (r > 0)
      sent += (size_t)r;
    fx_run(&f, 0.05);
  }
  /* The server never reads: its window closed, the client probes. */
  uint64_t probes = ustcp_stat(f.C, USTCP_STAT_TCP_ZERO_WINDOW_PROBES);
  T_CHECK(probes >= 2);
  fx_run(&f, 30);
  T_CHECK(ustcp_stat(f.C, USTCP_STAT_TCP_ZERO_WINDOW_PROBES) > probes);
  T_EQ(ustcp_sock_state(f.C, c), USTCP_TCP_ESTABLISHED); /* answered: alive */
  /* Reading opens the window; everything arrives. */
  size_t got = 0;
  fx_set_nonblock(f.S, s);
  for (int i = 0; i < 20000 && got < sent; i++) {
    ssize_t r = ustcp_read(f.S, s, buf, sizeof(buf));
    if (r > 0)
      got += (size_t)r;
    else
      fx_run(&f, 0.01);
  }
  T_EQ(got, sent);
  fx_fini(&f);
}

static void data_timeout(void)
{
  struct fx f;
  fx_init(&f, 5);
  int l, s;
  int c = fx_pair(&f, 80, &l, &s);
  fx_partition(&f, 1, true);
  double t0 = fx_now(&f);
  T_EQ(ustcp_write(f.C, c, "x", 1), 1);
  char b[4];
  /* Blocks until retries2 (15) is exhausted: 924.6 s of backoff budget from
   * the first RTO (Linux tcp_retries2), then ETIMEDOUT, no RST. */
  T_EQ(ustcp_read(f.C, c, b, sizeof(b)), -1);
  T_EQ(errno, ETIMEDOUT);
  double dt = fx_now(&f) - t0;
  T_CHECK(dt >= 924.0 && dt <= 1050.0);
  T_EQ(ustcp_stat(f.C, USTCP_STAT_TCP_OUT_RSTS), 0);
  T_EQ(ustcp_write(f.C, c, "x", 1), -1);
  T_EQ(errno, EPIPE);
  fx_fini(&f);
}

static void user_timeout(void)
{
  struct fx f;
  fx_init(&f, 5);
  int l, s;
  int c = fx_pair(&f, 80, &l, &s);
  int ms = 5000;
  T_EQ(ustcp_setsockopt(f.C, c, IPPROTO_TCP, TCP_USER_TIMEOUT, &ms, sizeof(ms)), 0);
  fx_partition(&f, 1, true);
  double t0 = fx_now(&f);
  T_EQ(ustcp_write(f.C, c, "x", 1), 1);
  char b[4];
  T_EQ(ustcp_read(f.C, c, b, sizeof(b)), -1);
  T_EQ(errno, ETIMEDOUT);
  double dt = fx_now(&f) - t0;
  T_CHECK(dt >= 5.0 && dt <= 8.0);
  fx_fini(&f);
}

static void keepalive(void)
{
  struct fx f;
  fx_init(&f, 5);
  int l, s;
  int c = fx_pair(&f, 80, &l, &s);
  int one = 1, idle = 10, intvl = 2, cnt = 3;
  T_EQ(ustcp_setsockopt(f.S, s, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one)), 0);
  T_EQ(ustcp_setsockopt(f.S, s, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle)), 0);
  T_EQ(ustcp_setsockopt(f.S, s, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl)), 0);
  T_EQ(ustcp_setsockopt(f.S, s, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt)), 0);
  fx_run(&f, 25); /* a live peer answers every probe */
  T_CHECK(ustcp_stat(f.S, USTCP_STAT_TCP_KEEPALIVE) >= 2);
  T_EQ(ustcp_sock_state(f.S, s), USTCP_TCP_ESTABLISHED);
  fx_partition(&f, 0, true); /* the client vanishes */
  fx_partition(&f, 1, true);
  double t0 = fx_now(&f);
  char b[4];
  T_EQ(ustcp_read(f.S, s, b, sizeof(b)), -1);
  T_EQ(errno, ETIMEDOUT);
  double dt = fx_now(&f) - t0;
  /* idle 10 s after the last segment received, 3 probes 2 s apart, RST at
   * the 4th expiry: 16 s after the last answer (which came before t0). */
  T_CHECK(dt >= 6 && dt <= 16.1);
  if (!(dt >= 6 && dt <= 16.1))
    printf("keepalive dt %.3f\n", dt);
  T_EQ(ustcp_stat(f.S, USTCP_STAT_TCP_ABORT_ON_TIMEOUT), 1);
  T_EQ(ustcp_write(f.S, s, "x", 1), -1);
  T_EQ(errno, EPIPE);
  (void)c;
  fx_fini(&f);
}

static void time_wait(void)
{
  struct fx f;
  fx_init(&f, 5);
  int l, s;
  int c = fx_pair(&f, 80, &l, &s);
  T_EQ(ustcp_close(f.C, c), 0);
  char b[4];
  T_EQ(ustcp_read(f.S, s, b, sizeof(b)), 0);
  T_EQ(ustcp_close(f.S, s), 0);
  fx_run(&f, 1);
  struct ustcp_mem_info mi;
  ustcp_mem_info(f.C, &mi);
  T_EQ(mi.timewait, 1);
  T_EQ(ustcp_stat(f.C, USTCP_STAT_TCP_TIME_WAITS), 1);
  fx_run(&f, 58.5);
  ustcp_mem_info(f.C, &mi);
  T_EQ(mi.timewait, 1);
  fx_run(&f, 1);
  ustcp_mem_info(f.C, &mi);
  T_EQ(mi.timewait, 0);
  fx_fini(&f);
}

int main(void)
{
  T_RUN(bulk_clean);
  T_RUN(bulk_lossy);
  T_RUN(zero_window);
  T_RUN(data_timeout);
  T_RUN(user_timeout);
  T_RUN(keepalive);
  T_RUN(time_wait);
  return T_DONE();
}
