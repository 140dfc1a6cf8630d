/*
 * test_tcp_basic.c - handshake, data both ways and the four-way close
 * through the socket API between two simulated hosts.
 */
#include "fixture.h"

static void basic(void)
{
  struct ustcp_sim *sim = ustcp_sim_create(1);
  int hs = ustcp_sim_add_host(sim, "srv", "10.0.0.1", NULL);
  int hc = ustcp_sim_add_host(sim, "cli", "10.0.0.2", NULL);
  struct ustcp_link_params p = {.latency = USTCP_MS(5)};
  ustcp_sim_link(sim, hs, hc, &p, &p);
  struct ustcp_stack *S = ustcp_sim_stack(sim, hs), *C = ustcp_sim_stack(sim, hc);

  int l = ustcp_socket(S, AF_INET, SOCK_STREAM, 0);
  T_EQ(l, 3);
  struct sockaddr_in a = fx_sin("10.0.0.1", 80);
  T_EQ(ustcp_bind(S, l, (struct sockaddr *)&a, sizeof(a)), 0);
  T_EQ(ustcp_listen(S, l, 8), 0);
  T_EQ(ustcp_sock_state(S, l), USTCP_TCP_LISTEN);

  int c = ustcp_socket(C, AF_INET, SOCK_STREAM, 0);
  T_EQ(ustcp_connect(C, c, (struct sockaddr *)&a, sizeof(a)), 0);
  T_EQ(ustcp_sock_state(C, c), USTCP_TCP_ESTABLISHED);
  int s = ustcp_accept(S, l, NULL, NULL);
  T_CHECK(s > l);
  T_EQ(ustcp_sock_state(S, s), USTCP_TCP_ESTABLISHED);

  char buf[100000];
  for (size_t i = 0; i < sizeof(buf); i++)
    buf[i] = (char)(i * 7);
  T_EQ(ustcp_write(C, c, buf, sizeof(buf)), (long)sizeof(buf));
  static char got[100000];
  size_t n = 0;
  while (n < sizeof(got)) {
    ssize_t r = ustcp_read(S, s, got + n, sizeof(got) - n);
    if (r <= 0)
      break;
    n += (size_t)r;
  }
  T_EQ(n, sizeof(buf));
  T_CHECK(memcmp(buf, got, sizeof(buf)) == 0);

  T_EQ(ustcp_write(S, s, "pong", 4), 4);
  char pb[8];
  T_EQ(ustcp_read(C, c, pb, sizeof(pb)), 4);
  T_CHECK(memcmp(pb, "pong", 4) == 0);

  T_EQ(ustcp_close(C, c), 0);
  T_EQ(ustcp_read(S, s, pb, sizeof(pb)), 0);
  T_EQ(ustcp_sock_state(S, s), USTCP_TCP_CLOSE_WAIT);
  T_EQ(ustcp_close(S, s), 0);
  ustcp_sim_run_until(sim, ustcp_sim_now(sim) + USTCP_SEC(1));
  struct ustcp_mem_info mi;
  ustcp_mem_info(C, &mi);
  T_EQ(mi.timewait, 1);
  T_EQ(mi.sockets, 0);
  ustcp_mem_info(S, &mi);
  T_EQ(mi.sockets, 1); /* the listener */
  ustcp_sim_run_until(sim, ustcp_sim_now(sim) + USTCP_SEC(61));
  ustcp_mem_info(C, &mi);
  T_EQ(mi.timewait, 0);
  T_EQ(ustcp_close(S, l), 0);
  ustcp_mem_info(S, &mi);
  T_EQ(mi.sockets, 0);
  T_EQ(mi.timers, 0);
  ustcp_sim_destroy(sim);
}

int main(void)
{
  T_RUN(basic);
  return T_DONE();
}
