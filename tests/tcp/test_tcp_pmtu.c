/*
 * test_tcp_pmtu.c - RFC 1191 path MTU discovery: a - r1 =(MTU 1000)= r2 - b.
 * Both hosts have MTU 1500 and agree on MSS 1460, so a's full segments
 * (DF set) cannot cross r1 -> r2; r1 answers with ICMP fragmentation
 * needed, next-hop MTU 1000. The sender must lower its MSS to 1000 - 40 - 12
 * (timestamps) and deliver every byte; without PMTUD the transfer stalls.
 */
#include "fixture.h"

#include <netinet/tcp.h>

struct world {
  struct ustcp_sim *sim;
  struct ustcp_stack *A, *B;
};

static void world_init(struct world *w, uint16_t narrow_mtu)
{
  w->sim = ustcp_sim_create(21);
  int a = ustcp_sim_add_host(w->sim, "a", "192.0.2.10", NULL);
  int b = ustcp_sim_add_host(w->sim, "b", "198.51.100.10", NULL);
  int r1 = ustcp_sim_add_router(w->sim, "r1");
  int r2 = ustcp_sim_add_router(w->sim, "r2");
  T_EQ(ustcp_sim_router_addr(w->sim, r1, "192.0.2.254"), 0);
  struct ustcp_link_params lp = {.latency = USTCP_MS(2)};
  struct ustcp_link_params narrow = {.latency = USTCP_MS(2), .mtu = narrow_mtu};
  T_CHECK(ustcp_sim_link(w->sim, a, r1, &lp, &lp) >= 0);
  int l12 = ustcp_sim_link(w->sim, r1, r2, &narrow, &narrow);
  T_CHECK(l12 >= 0);
  T_CHECK(ustcp_sim_link(w->sim, r2, b, &lp, &lp) >= 0);
  T_EQ(ustcp_sim_route(w->sim, r1, "198.51.100.0/24", l12), 0);
  T_EQ(ustcp_sim_route(w->sim, r2, "0.0.0.0/0", l12), 0);
  w->A = ustcp_sim_stack(w->sim, a);
  w->B = ustcp_sim_stack(w->sim, b);
}

static void run(struct world *w, double seconds)
{
  ustcp_sim_run_until(w->sim, ustcp_sim_now(w->sim) + (ustcp_time_t)(seconds * 1e9));
}

static void pmtu_lowers_mss(void)
{
  struct world w;
  world_init(&w, 1000);
  int l = ustcp_socket(w.B, AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sb = fx_sin("198.51.100.10", 80);
  T_EQ(ustcp_bind(w.B, l, (struct sockaddr *)&sb, sizeof(sb)), 0);
  T_EQ(ustcp_listen(w.B, l, 4), 0);
  int c = ustcp_socket(w.A, AF_INET, SOCK_STREAM, 0);
  T_EQ(ustcp_connect(w.A, c, (struct sockaddr *)&sb, sizeof(sb)), 0);
  int s = ustcp_accept(w.B, l, NULL, NULL);
  T_CHECK(s >= 0);
  int mss = 0;
  socklen_t ol = sizeof(mss);
  T_EQ(ustcp_getsockopt(w.A, c, IPPROTO_TCP, TCP_MAXSEG, &mss, &ol), 0);
  T_EQ(mss, 1448); /* 1500 - 40 - 12 before any data */

  enum { N = 200000 };
  static uint8_t out[N], in[N];
  for (int i = 0; i < N; i++)
    out[i] = (uint8_t)(i * 7 + (i >> 9));
  int fl = ustcp_fcntl(w.A, c, F_GETFL, 0);
  T_EQ(ustcp_fcntl(w.A, c, F_SETFL, fl | O_NONBLOCK), 0);
  T_EQ(ustcp_fcntl(w.B, s, F_SETFL, fl | O_NONBLOCK), 0);
  size_t sent = 0, got = 0;
  for (int round = 0; round < 2000 && got < N; round++) {
    if (sent < N) {
      ssize_t n = ustcp_write(w.A, c, out + sent, N - sent);
      if (n > 0)
        sent += (size_t)n;
    }
    ssize_t n = ustcp_read(w.B, s, in + got, N - got);
    if (n > 0)
      got += (size_t)n;
    run(&w, 0.01);
  }
  T_EQ(got, N);
  T_CHECK(memcmp(in, out, N) == 0);
  T_EQ(ustcp_getsockopt(w.A, c, IPPROTO_TCP, TCP_MAXSEG, &mss, &ol), 0);
  T_EQ(mss, 1000 - 40 - 12);
  T_EQ(ustcp_stat(w.A, USTCP_STAT_TCP_PMTU_REDUCED), 1);
  T_CHECK(ustcp_stat(w.A, USTCP_STAT_TCP_RETRANS_SEGS) > 0);
  /* "units changed": no RTO was needed to recover */
  T_EQ(ustcp_stat(w.A, USTCP_STAT_TCP_TIMEOUTS), 0);
  struct tcp_info ti;
  ol = sizeof(ti);
  T_EQ(ustcp_getsockopt(w.A, c, IPPROTO_TCP, TCP_INFO, &ti, &ol), 0);
  T_EQ(ti.tcpi_pmtu, 1000);
  T_EQ(ti.tcpi_snd_mss, 948);
  ustcp_sim_destroy(w.sim);
}

int main(void)
{
  T_RUN(pmtu_lowers_mss);
  return T_DONE();
}
