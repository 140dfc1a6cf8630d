/*
 * test_tcp_handshake.c - opening connections: lost SYN, lost SYN-ACK, lost
 * final ACK, simultaneous open, refused, and the SYN timeout (Linux:
 * retransmissions at 1, 2, 3, 4, 5, 7, 11, 19, 35, 67 s, ETIMEDOUT at
 * ~131 s, no RST).
 */
#include "tcp/fixture.h"

static void lost_syn(void)
{
  struct fx f;
  fx_init(&f, 10);
  int l = fx_listen(&f, 80, 4);
  fx_partition(&f, 1, true); /* cli -> srv */
  int c = fx_connect_nb(&f, 80);
  fx_run(&f, 0.5);
  T_EQ(ustcp_sock_state(f.C, c), USTCP_TCP_SYN_SENT);
  fx_partition(&f, 1, false);
  fx_run(&f, 0.6); /* SYN again at 1 s (RFC 6298 (2.1), Linux TCP_TIMEOUT_INIT) */
  T_EQ(ustcp_sock_state(f.C, c), USTCP_TCP_ESTABLISHED);
  T_EQ(ustcp_stat(f.C, USTCP_STAT_TCP_SYN_RETRANS), 1);
  int s = ustcp_accept(f.S, l, NULL, NULL);
  T_CHECK(s >= 0);
  fx_fini(&f);
}

static void lost_synack(void)
{
  struct fx f;
  fx_init(&f, 10);
  int l = fx_listen(&f, 80, 4);
  fx_partition(&f, 0, true); /* srv -> cli */
  int c = fx_connect_nb(&f, 80);
  fx_run(&f, 0.5);
  struct ustcp_listen_info li;
  T_EQ(ustcp_listen_info(f.S, l, &li), 0);
  T_EQ(li.syn_qlen, 1);
  fx_partition(&f, 0, false);
  fx_run(&f, 0.6);
  /* The client's SYN retransmission at 1 s is answered with the SYN-ACK. */
  T_EQ(ustcp_sock_state(f.C, c), USTCP_TCP_ESTABLISHED);
  T_EQ(ustcp_listen_info(f.S, l, &li), 0);
  T_EQ(li.syn_qlen, 0);
  T_EQ(li.accept_qlen, 1);
  fx_fini(&f);
}

static void lost_ack(void)
{
  struct fx f;
  fx_init(&f, 10);
  int l = fx_listen(&f, 80, 4);
  int c = fx_connect_nb(&f, 80);
  fx_run(&f, 0.015); /* SYN delivered at 10 ms */
  fx_partition(&f, 1, true);
  fx_run(&f, 0.1);
  /* The client believes it is connected; the server still has a request. */
  T_EQ(ustcp_sock_state(f.C, c), USTCP_TCP_ESTABLISHED);
  struct ustcp_listen_info li;
  ustcp_listen_info(f.S, l, &li);
  T_EQ(li.syn_qlen, 1);
  T_EQ(li.accept_qlen, 0);
  fx_partition(&f, 1, false);
  fx_run(&f, 1.0); /* SYN-ACK again at 1 s; the client's ACK completes it */
  ustcp_listen_info(f.S, l, &li);
  T_EQ(li.syn_qlen, 0);
  T_EQ(li.accept_qlen, 1);
  T_EQ(ustcp_stat(f.S, USTCP_STAT_TCP_SYN_RETRANS), 1);
  int s = ustcp_accept(f.S, l, NULL, NULL);
  T_EQ(ustcp_write(f.C, c, "hi", 2), 2);
  char b[4];
  T_EQ(ustcp_read(f.S, s, b, sizeof(b)), 2);
  fx_fini(&f);
}

static void simultaneous_open(void)
{
  struct fx f;
  fx_init(&f, 10);
  int a = ustcp_socket(f.S, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  int b = ustcp_socket(f.C, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  struct sockaddr_in sa = fx_sin("10.0.0.1", 5000), sb = fx_sin("10.0.0.2", 6000);
  T_EQ(ustcp_bind(f.S, a, (struct sockaddr *)&sa, sizeof(sa)), 0);
  T_EQ(ustcp_bind(f.C, b, (struct sockaddr *)&sb, sizeof(sb)), 0);
  T_EQ(ustcp_connect(f.S, a, (struct sockaddr *)&sb, sizeof(sb)), -1);
  T_EQ(errno, EINPROGRESS);
  T_EQ(ustcp_connect(f.C, b, (struct sockaddr *)&sa, sizeof(sa)), -1);
  T_EQ(errno, EINPROGRESS);
  fx_run(&f, 0.005);
  T_EQ(ustcp_sock_state(f.S, a), USTCP_TCP_SYN_SENT);
  fx_run(&f, 0.01); /* each SYN arrives: SYN_RECV, SYN-ACKs cross */
  T_EQ(ustcp_sock_state(f.S, a), USTCP_TCP_SYN_RECV);
  T_EQ(ustcp_sock_state(f.C, b), USTCP_TCP_SYN_RECV);
  fx_run(&f, 0.05);
  T_EQ(ustcp_sock_state(f.S, a), USTCP_TCP_ESTABLISHED);
  T_EQ(ustcp_sock_state(f.C, b), USTCP_TCP_ESTABLISHED);
  /* RFC 9293 3.5 figure 7: both sides connected, data flows. */
  T_EQ(ustcp_connect(f.S, a, (struct sockaddr *)&sb, sizeof(sb)), 0);
  T_EQ(ustcp_connect(f.S, a, (struct sockaddr *)&sb, sizeof(sb)), -1);
  T_EQ(errno, EISCONN);
  T_EQ(ustcp_write(f.S, a, "abc", 3), 3);
  fx_run(&f, 0.05);
  char buf[8];
  T_EQ(ustcp_read(f.C, b, buf, sizeof(buf)), 3);
  fx_fini(&f);
}

static void refused(void)
{
  struct fx f;
  fx_init(&f, 1);
  int c = ustcp_socket(f.C, AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = fx_sin("10.0.0.1", 81);
  T_EQ(ustcp_connect(f.C, c, (struct sockaddr *)&a, sizeof(a)), -1);
  T_EQ(errno, ECONNREFUSED);
  T_EQ(ustcp_stat(f.S, USTCP_STAT_TCP_OUT_RSTS), 1);
  /* Linux: the socket may connect again after a failure. */
  T_EQ(ustcp_sock_state(f.C, c), USTCP_TCP_CLOSE);
  fx_fini(&f);
}

static void syn_timeout(void)
{
  struct fx f;
  fx_init(&f, 1);
  fx_partition(&f, 1, true);
  int c = ustcp_socket(f.C, AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = fx_sin("10.0.0.1", 80);
  double t0 = fx_now(&f);
  T_EQ(ustcp_connect(f.C, c, (struct sockaddr *)&a, sizeof(a)), -1);
  T_EQ(errno, ETIMEDOUT);
  double dt = fx_now(&f) - t0;
  T_CHECK(dt >= 130.9 && dt <= 136.5);
  T_EQ(ustcp_stat(f.C, USTCP_STAT_TCP_SYN_RETRANS), 10);
  T_EQ(ustcp_stat(f.C, USTCP_STAT_TCP_OUT_RSTS), 0);
  /* TCP_SYNCNT=2: SYNs again at 1, 2, 3, 4, 5 s, then ETIMEDOUT at 7 s, the
   * time budget of 2 doublings of 1 s (Linux 6.18 checked, drill
   * tcp_connect_syn_timeout). */
  int c2 = ustcp_socket(f.C, AF_INET, SOCK_STREAM, 0);
  int n = 2;
  T_EQ(ustcp_setsockopt(f.C, c2, IPPROTO_TCP, TCP_SYNCNT, &n, sizeof(n)), 0);
  t0 = fx_now(&f);
  T_EQ(ustcp_connect(f.C, c2, (struct sockaddr *)&a, sizeof(a)), -1);
  T_EQ(errno, ETIMEDOUT);
  dt = fx_now(&f) - t0;
  T_CHECK(dt >= 6.9 && dt <= 7.1);
  fx_fini(&f);
}

static void blocking_connect_timeout_sndtimeo(void)
{
  struct fx f;
  fx_init(&f, 1);
  fx_partition(&f, 1, true);
  int c = ustcp_socket(f.C, AF_INET, SOCK_STREAM, 0);
  struct timeval tv = {.tv_sec = 2};
  T_EQ(ustcp_setsockopt(f.C, c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)), 0);
  struct sockaddr_in a = fx_sin("10.0.0.1", 80);
  /* Linux: a blocking connect bounded by SO_SNDTIMEO fails with EINPROGRESS. */
  T_EQ(ustcp_connect(f.C, c, (struct sockaddr *)&a, sizeof(a)), -1);
  T_EQ(errno, EINPROGRESS);
  T_EQ(ustcp_connect(f.C, c, (struct sockaddr *)&a, sizeof(a)), -1);
  T_EQ(errno, EALREADY);
  fx_fini(&f);
}

static void nonblocking_connect_errors(void)
{
  struct fx f;
  fx_init(&f, 10);
  fx_listen(&f, 80, 4);
  int c = fx_connect_nb(&f, 80);
  struct sockaddr_in a = fx_sin("10.0.0.1", 80);
  T_EQ(ustcp_connect(f.C, c, (struct sockaddr *)&a, sizeof(a)), -1);
  T_EQ(errno, EALREADY);
  T_EQ(fx_poll(f.C, c), 0); /* SYN_SENT: nothing */
  fx_run(&f, 0.1);
  T_EQ(fx_poll(f.C, c), POLLOUT);
  int e = -1;
  socklen_t el = sizeof(e);
  T_EQ(ustcp_getsockopt(f.C, c, SOL_SOCKET, SO_ERROR, &e, &el), 0);
  T_EQ(e, 0);
  /* Linux: the first connect() after completion returns 0, then EISCONN. */
  T_EQ(ustcp_connect(f.C, c, (struct sockaddr *)&a, sizeof(a)), 0);
  T_EQ(ustcp_connect(f.C, c, (struct sockaddr *)&a, sizeof(a)), -1);
  T_EQ(errno, EISCONN);
  fx_fini(&f);
}

static void icmp_unreachable(void)
{
  /* A router with no route answers the SYN with ICMP net unreachable: the
   * connecting socket fails at once (Linux tcp_v4_err, SYN_SENT). */
  struct ustcp_sim *sim = ustcp_sim_create(3);
  int h = ustcp_sim_add_host(sim, "cli", "10.0.1.2", NULL);
  int r = ustcp_sim_add_router(sim, "r");
  T_EQ(ustcp_sim_router_addr(sim, r, "10.0.1.1"), 0);
  struct ustcp_link_params p = {.latency = USTCP_MS(5)};
  T_CHECK(ustcp_sim_link(sim, h, r, &p, &p) >= 0);
  struct ustcp_stack *C = ustcp_sim_stack(sim, h);
  int c = ustcp_socket(C, AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = fx_sin("10.9.9.9", 80);
  double t0 = (double)ustcp_sim_now(sim) / 1e9;
  T_EQ(ustcp_connect(C, c, (struct sockaddr *)&a, sizeof(a)), -1);
  T_EQ(errno, ENETUNREACH);
  T_CHECK((double)ustcp_sim_now(sim) / 1e9 - t0 < 0.1);
  T_EQ(ustcp_stat(C, USTCP_STAT_TCP_ATTEMPT_FAILS), 1);
  ustcp_sim_destroy(sim);
}

int main(void)
{
  T_RUN(lost_syn);
  T_RUN(lost_synack);
  T_RUN(lost_ack);
  T_RUN(simultaneous_open);
  T_RUN(refused);
  T_RUN(syn_timeout);
  T_RUN(blocking_connect_timeout_sndtimeo);
  T_RUN(nonblocking_connect_errors);
  T_RUN(icmp_unreachable);
  return T_DONE();
}
