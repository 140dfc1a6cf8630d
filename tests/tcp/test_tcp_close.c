/*
 * test_tcp_close.c - close() and shutdown() as SPEC §1.2 (the seed) and
 * Linux define them: RST on unread data, FIN on the last data segment,
 * dup'ed descriptors, SO_LINGER 0 and > 0, shutdown errno rules, orphans
 * in FIN_WAIT2, data to a closed socket, poll bits after FIN/RST/SHUT_WR.
 */
#include "tcp/fixture.h"

static void close_unread_rst(void)
{
  struct fx f;
  fx_init(&f, 5);
  int l, s;
  int c = fx_pair(&f, 80, &l, &s);
  T_EQ(ustcp_write(f.C, c, "hello", 5), 5);
  fx_run(&f, 0.1);
  int n = 0;
  T_EQ(ustcp_ioctl(f.S, s, FIONREAD, &n), 0);
  T_EQ(n, 5);
  T_EQ(ustcp_close(f.S, s), 0); /* unread data: RST, not FIN */
  T_EQ(ustcp_stat(f.S, USTCP_STAT_TCP_ABORT_ON_CLOSE), 1);
  fx_run(&f, 0.1);
  char b[8];
  T_EQ(ustcp_read(f.C, c, b, sizeof(b)), -1);
  T_EQ(errno, ECONNRESET);
  T_EQ(ustcp_read(f.C, c, b, sizeof(b)), 0); /* reported once, then EOF */
  T_EQ(ustcp_write(f.C, c, "x", 1), -1);
  T_EQ(errno, EPIPE);
  struct ustcp_mem_info mi;
  ustcp_mem_info(f.S, &mi);
  T_EQ(mi.timewait, 0);
  fx_fini(&f);
}

static void close_fin_and_dup(void)
{
  struct fx f;
  fx_init(&f, 5);
  int l, s;
  int c = fx_pair(&f, 80, &l, &s);
  int c2 = ustcp_dup(f.C, c);
  T_CHECK(c2 > c);
  T_EQ(ustcp_close(f.C, c), 0); /* another descriptor still refers to it */
  fx_run(&f, 0.1);
  T_EQ(ustcp_sock_state(f.C, c2), USTCP_TCP_ESTABLISHED);
  T_EQ(ustcp_write(f.C, c2, "data", 4), 4);
  T_EQ(ustcp_close(f.C, c2), 0); /* last reference: FIN after the data */
  char b[16];
  T_EQ(ustcp_read(f.S, s, b, sizeof(b)), 4);
  T_EQ(ustcp_read(f.S, s, b, sizeof(b)), 0);
  T_EQ(ustcp_sock_state(f.S, s), USTCP_TCP_CLOSE_WAIT);
  /* The orphan waits in FIN_WAIT2 while the server stays in CLOSE_WAIT. */
  struct ustcp_mem_info mi;
  ustcp_mem_info(f.C, &mi);
  T_EQ(mi.sockets, 1);
  fx_run(&f, 59);
  ustcp_mem_info(f.C, &mi);
  T_EQ(mi.sockets, 1);
  fx_run(&f, 1.5); /* fin_timeout 60 s: dropped silently */
  ustcp_mem_info(f.C, &mi);
  T_EQ(mi.sockets, 0);
  T_EQ(ustcp_stat(f.C, USTCP_STAT_TCP_OUT_RSTS), 0);
  /* A later segment from the peer finds no socket: RST. */
  T_EQ(ustcp_write(f.S, s, "late", 4), 4);
  fx_run(&f, 0.1);
  T_EQ(ustcp_stat(f.C, USTCP_STAT_TCP_OUT_RSTS), 1);
  fx_fini(&f);
}

static void linger_zero(void)
{
  struct fx f;
  fx_init(&f, 5);
  int l, s;
  int c = fx_pair(&f, 80, &l, &s);
  struct linger lg = {.l_onoff = 1, .l_linger = 0};
  T_EQ(ustcp_setsockopt(f.C, c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
  T_EQ(ustcp_close(f.C, c), 0);
  T_EQ(ustcp_stat(f.C, USTCP_STAT_TCP_ABORT_ON_LINGER), 1);
  char b[4];
  T_EQ(ustcp_read(f.S, s, b, sizeof(b)), -1);
  T_EQ(errno, ECONNRESET);
  struct ustcp_mem_info mi;
  ustcp_mem_info(f.C, &mi);
  T_EQ(mi.timewait, 0);
  T_EQ(mi.sockets, 0);
  fx_fini(&f);
}

static void linger_timeout_and_ack(void)
{
  struct fx f;
  fx_init(&f, 5);
  int l, s;
  int c = fx_pair(&f, 80, &l, &s);
  struct linger lg = {.l_onoff = 1, .l_linger = 3};
  T_EQ(ustcp_setsockopt(f.C, c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
  fx_set_nonblock(f.C, c);   /* blocks even when non-blocking (Linux) */
  fx_partition(&f, 0, true); /* our FIN is never ACKed */
  double t0 = fx_now(&f);
  T_EQ(ustcp_close(f.C, c), 0);
  double dt = fx_now(&f) - t0;
  T_CHECK(dt >= 2.99 && dt <= 3.01);
  fx_partition(&f, 0, false);
  fx_fini(&f);

  /* A CLOSE_WAIT peer that ACKs our FIN lets close() return at once. */
  fx_init(&f, 5);
  c = fx_pair(&f, 80, &l, &s);
  T_EQ(ustcp_setsockopt(f.C, c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
  t0 = fx_now(&f);
  T_EQ(ustcp_close(f.C, c), 0);
  dt = fx_now(&f) - t0;
  T_CHECK(dt < 0.05);
  T_EQ(ustcp_sock_state(f.S, s), USTCP_TCP_CLOSE_WAIT);
  fx_fini(&f);
}

static void shutdown_rules(void)
{
  struct fx f;
  fx_init(&f, 5);
  int u = ustcp_socket(f.C, AF_INET, SOCK_STREAM, 0);
  T_EQ(ustcp_shutdown(f.C, u, SHUT_WR), -1);
  T_EQ(errno, ENOTCONN);
  T_EQ(ustcp_shutdown(f.C, u, 7), -1);
  T_EQ(errno, EINVAL);
  T_EQ(fx_poll(f.C, u), POLLOUT | POLLHUP); /* CLOSE + SEND_SHUTDOWN recorded */
  T_EQ(ustcp_shutdown(f.C, 99, SHUT_WR), -1);
  T_EQ(errno, EBADF);

  int l, s;
  int c = fx_pair(&f, 80, &l, &s);
  T_EQ(fx_poll(f.C, c), POLLOUT);
  /* SHUT_WR: FIN after queued data; we can still read. */
  T_EQ(ustcp_write(f.C, c, "abc", 3), 3);
  T_EQ(ustcp_shutdown(f.C, c, SHUT_WR), 0);
  T_EQ(fx_poll(f.C, c), POLLOUT);
  T_EQ(ustcp_write(f.C, c, "x", 1), -1);
  T_EQ(errno, EPIPE);
  char b[8];
  T_EQ(ustcp_read(f.S, s, b, sizeof(b)), 3);
  T_EQ(ustcp_read(f.S, s, b, sizeof(b)), 0);
  T_EQ(fx_poll(f.S, s), POLLIN | POLLOUT | POLLRDHUP); /* peer's FIN */
  T_EQ(ustcp_write(f.S, s, "back", 4), 4);
  T_EQ(ustcp_read(f.C, c, b, sizeof(b)), 4);
  T_EQ(ustcp_shutdown(f.S, s, SHUT_WR), 0);
  fx_run(&f, 0.1);
  T_EQ(ustcp_read(f.C, c, b, sizeof(b)), 0);
  /* Both directions shut (client now in TIME_WAIT, socket CLOSE). */
  T_EQ(fx_poll(f.C, c), POLLIN | POLLOUT | POLLRDHUP | POLLHUP);
  T_EQ(ustcp_shutdown(f.C, c, SHUT_RD), -1);
  T_EQ(errno, ENOTCONN);
  fx_fini(&f);
}

static void shutdown_rd_then_data_rst(void)
{
  struct fx f;
  fx_init(&f, 5);
  int l, s;
  int c = fx_pair(&f, 80, &l, &s);
  T_EQ(ustcp_write(f.C, c, "one", 3), 3);
  fx_run(&f, 0.1);
  T_EQ(ustcp_shutdown(f.S, s, SHUT_RD), 0);
  char b[8];
  T_EQ(ustcp_read(f.S, s, b, sizeof(b)), 3); /* queued data still readable */
  T_EQ(ustcp_read(f.S, s, b, sizeof(b)), 0); /* then 0, no blocking */
  T_EQ(ustcp_write(f.C, c, "two", 3), 3);    /* still ACKed and queued */
  fx_run(&f, 0.1);
  T_EQ(ustcp_read(f.S, s, b, sizeof(b)), 3);
  T_EQ(ustcp_shutdown(f.S, s, SHUT_WR), 0); /* our FIN goes out: FIN_WAIT */
  fx_run(&f, 0.1);
  T_EQ(ustcp_write(f.C, c, "three", 5), 5); /* new data -> RST */
  fx_run(&f, 0.1);
  T_EQ(ustcp_stat(f.S, USTCP_STAT_TCP_ABORT_ON_DATA), 1);
  T_EQ(ustcp_read(f.S, s, b, sizeof(b)), -1);
  T_EQ(errno, ECONNRESET);
  fx_fini(&f);
}

static void shutdown_syn_sent(void)
{
  struct fx f;
  fx_init(&f, 5);
  fx_partition(&f, 1, true);
  int c = fx_connect_nb(&f, 80);
  T_EQ(ustcp_shutdown(f.C, c, SHUT_WR), 0); /* abandons the attempt silently */
  T_EQ(ustcp_sock_state(f.C, c), USTCP_TCP_CLOSE);
  int e = 0;
  socklen_t el = sizeof(e);
  T_EQ(ustcp_getsockopt(f.C, c, SOL_SOCKET, SO_ERROR, &e, &el), 0);
  T_EQ(e, ECONNRESET);
  T_EQ(ustcp_stat(f.C, USTCP_STAT_TCP_OUT_RSTS), 0);
  fx_fini(&f);
}

static void orphan_data_rst(void)
{
  struct fx f;
  fx_init(&f, 5);
  int l, s;
  int c = fx_pair(&f, 80, &l, &s);
  T_EQ(ustcp_close(f.S, s), 0); /* FIN; orphan in FIN_WAIT2 once ACKed */
  fx_run(&f, 0.1);
  T_EQ(ustcp_write(f.C, c, "late", 4), 4); /* data to an orphan: RST */
  fx_run(&f, 0.1);
  T_EQ(ustcp_stat(f.S, USTCP_STAT_TCP_ABORT_ON_DATA), 1);
  char b[8];
  T_EQ(ustcp_read(f.C, c, b, sizeof(b)), 0); /* the FIN came first */
  T_EQ(ustcp_write(f.C, c, "x", 1), -1);
  T_EQ(errno, EPIPE); /* the RST came in CLOSE_WAIT: EPIPE (Linux tcp_reset) */
  fx_fini(&f);
}

static void poll_after_rst(void)
{
  struct fx f;
  fx_init(&f, 5);
  int l, s;
  int c = fx_pair(&f, 80, &l, &s);
  struct linger lg = {.l_onoff = 1, .l_linger = 0};
  ustcp_setsockopt(f.S, s, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
  ustcp_close(f.S, s);
  fx_run(&f, 0.1);
  T_EQ(fx_poll(f.C, c), POLLIN | POLLOUT | POLLRDHUP | POLLERR | POLLHUP);
  int e = 0;
  socklen_t el = sizeof(e);
  ustcp_getsockopt(f.C, c, SOL_SOCKET, SO_ERROR, &e, &el);
  T_EQ(e, ECONNRESET);
  T_EQ(fx_poll(f.C, c), POLLIN | POLLOUT | POLLRDHUP | POLLHUP); /* error read */
  fx_fini(&f);
}

static void time_wait_syn_reuse(void)
{
  /* The server closes first and keeps TIME_WAIT; the client comes back
   * from the same port: its SYN (later timestamp) reuses the entry
   * (Linux tcp_timewait_state_process, TWRecycled). */
  struct fx f;
  fx_init(&f, 5);
  int l = fx_listen(&f, 80, 4);
  int c = ustcp_socket(f.C, AF_INET, SOCK_STREAM, 0);
  int one = 1;
  ustcp_setsockopt(f.C, c, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  struct sockaddr_in me = fx_sin("10.0.0.2", 40000), srv = fx_sin("10.0.0.1", 80);
  T_EQ(ustcp_bind(f.C, c, (struct sockaddr *)&me, sizeof(me)), 0);
  T_EQ(ustcp_connect(f.C, c, (struct sockaddr *)&srv, sizeof(srv)), 0);
  int s = ustcp_accept(f.S, l, NULL, NULL);
  T_EQ(ustcp_close(f.S, s), 0);
  char b[4];
  T_EQ(ustcp_read(f.C, c, b, sizeof(b)), 0);
  T_EQ(ustcp_close(f.C, c), 0);
  fx_run(&f, 1);
  struct ustcp_mem_info mi;
  ustcp_mem_info(f.S, &mi);
  T_EQ(mi.timewait, 1);
  int c2 = ustcp_socket(f.C, AF_INET, SOCK_STREAM, 0);
  ustcp_setsockopt(f.C, c2, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  T_EQ(ustcp_bind(f.C, c2, (struct sockaddr *)&me, sizeof(me)), 0);
  T_EQ(ustcp_connect(f.C, c2, (struct sockaddr *)&srv, sizeof(srv)), 0);
  T_EQ(ustcp_stat(f.S, USTCP_STAT_TCP_TW_RECYCLED), 1);
  int s2 = ustcp_accept(f.S, l, NULL, NULL);
  T_CHECK(s2 >= 0);
  T_EQ(ustcp_write(f.C, c2, "re", 2), 2);
  T_EQ(ustcp_read(f.S, s2, b, sizeof(b)), 2);
  fx_fini(&f);
}

static void time_wait_overflow(void)
{
  /* net.ipv4.tcp_max_tw_buckets = 1: the first active closer keeps its
   * TIME_WAIT entry, the second closes at once (Linux tcp_time_wait: no
   * bucket -> TCPTimeWaitOverflow, tcp_done). */
  struct ustcp_config cfg;
  ustcp_config_init(&cfg);
  T_EQ(cfg.max_tw_buckets, 131072); /* this kernel's value in a new netns */
  cfg.max_tw_buckets = 1;
  struct fx f;
  fx_init_cfg(&f, 5, &cfg);
  int l = fx_listen(&f, 80, 4);
  for (int i = 0; i < 2; i++) {
    int c = ustcp_socket(f.C, AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in srv = fx_sin("10.0.0.1", 80);
    T_EQ(ustcp_connect(f.C, c, (struct sockaddr *)&srv, sizeof(srv)), 0);
    int s = ustcp_accept(f.S, l, NULL, NULL);
    T_CHECK(s >= 0);
    T_EQ(ustcp_close(f.S, s), 0);
    char b[4];
    T_EQ(ustcp_read(f.C, c, b, sizeof(b)), 0);
    T_EQ(ustcp_close(f.C, c), 0);
    fx_run(&f, 1);
  }
  struct ustcp_mem_info mi;
  ustcp_mem_info(f.S, &mi);
  T_EQ(mi.timewait, 1);
  T_EQ(ustcp_stat(f.S, USTCP_STAT_TCP_TW_OVERFLOW), 1);
  /* the limit is checked: 0 is allowed (no TIME_WAIT at all), -1 is not */
  cfg.max_tw_buckets = -1;
  cfg.addr = htonl(0x0a000009);
  char err[128] = "";
  T_CHECK(ustcp_stack_create(&cfg, err, sizeof(err)) == NULL);
  T_CHECK(strstr(err, "max_tw_buckets") != NULL);
  fx_fini(&f);
}

int main(void)
{
  T_RUN(close_unread_rst);
  T_RUN(close_fin_and_dup);
  T_RUN(linger_zero);
  T_RUN(linger_timeout_and_ack);
  T_RUN(shutdown_rules);
  T_RUN(shutdown_rd_then_data_rst);
  T_RUN(shutdown_syn_sent);
  T_RUN(orphan_data_rst);
  T_RUN(poll_after_rst);
  T_RUN(time_wait_syn_reuse);
  T_RUN(time_wait_overflow);
  return T_DONE();
}
