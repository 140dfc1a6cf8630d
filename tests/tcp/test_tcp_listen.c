/*
 * test_tcp_listen.c - the two listen queues (SPEC §1.1, Linux 6.18
 * measured there): backlog N admits N+1 connections to the accept queue and
 * N+1 requests to the SYN queue; overflow drops with Linux's counters;
 * SYN-ACK retransmission at 1, 3, 7, 15, 31 s and the request freed at
 * ~63 s; abort_on_overflow; closing a listener resets what it holds.
 */
#include "tcp/fixture.h"

#define NCLI 6

static void acceptq_overflow(void)
{
  for (int backlog = 0; backlog <= 3; backlog++) {
    struct fx f;
    fx_init(&f, 5);
    int l = fx_listen(&f, 80, backlog);
    int c[NCLI];
    for (int i = 0; i < NCLI; i++) {
      c[i] = fx_connect_nb(&f, 80); /* one after the other, as measured */
      fx_run(&f, 0.05);
    }
    int est = 0, syn_sent = 0;
    for (int i = 0; i < NCLI; i++) {
      int st = ustcp_sock_state(f.C, c[i]);
      est += st == USTCP_TCP_ESTABLISHED;
      syn_sent += st == USTCP_TCP_SYN_SENT;
    }
    /* Linux 6.18 (SPEC §1.1): backlog 0/1/2/3 -> 1/2/3/4 established. */
    T_EQ(est, backlog + 1);
    T_EQ(syn_sent, NCLI - backlog - 1);
    struct ustcp_listen_info li;
    T_EQ(ustcp_listen_info(f.S, l, &li), 0);
    T_EQ(li.accept_qlen, (unsigned)backlog + 1);
    T_EQ(li.backlog, (unsigned)backlog);
    T_EQ(ustcp_stat(f.S, USTCP_STAT_LISTEN_OVERFLOWS), NCLI - backlog - 1);
    T_EQ(ustcp_stat(f.S, USTCP_STAT_LISTEN_DROPS), NCLI - backlog - 1);
    T_EQ(ustcp_stat(f.S, USTCP_STAT_TCP_REQQ_FULL_DROP), 0);
    /* Draining the queue lets the SYN retransmissions in. */
    int n = 0;
    fx_set_nonblock(f.S, l);
    for (int round = 0; round < 20 && n < NCLI; round++) {
      while (ustcp_accept(f.S, l, NULL, NULL) >= 0)
        n++;
      fx_run(&f, 2);
    }
    T_EQ(n, NCLI);
    fx_fini(&f);
  }
}

static void synq_overflow_and_synack_timer(void)
{
  struct fx f;
  fx_init(&f, 5);
  int l = fx_listen(&f, 80, 2);
  fx_partition(&f, 0, true); /* SYN-ACKs never arrive: requests pile up */
  int c[NCLI];
  for (int i = 0; i < NCLI; i++)
    c[i] = fx_connect_nb(&f, 80);
  fx_run(&f, 0.5);
  struct ustcp_listen_info li;
  ustcp_listen_info(f.S, l, &li);
  T_EQ(li.syn_qlen, 3); /* backlog 2 admits 3 requests */
  T_EQ(ustcp_stat(f.S, USTCP_STAT_TCP_REQQ_FULL_DROP), NCLI - 3);
  T_EQ(ustcp_stat(f.S, USTCP_STAT_LISTEN_DROPS), NCLI - 3);
  T_EQ(ustcp_stat(f.S, USTCP_STAT_LISTEN_OVERFLOWS), 0);
  (void)c;
  fx_fini(&f);

  /* One request whose final ACK is lost: SYN-ACK at 1, 3, 7, 15, 31 s, then
   * freed at 63 s; the client's next segment is answered with RST. */
  fx_init(&f, 5);
  l = fx_listen(&f, 80, 2);
  int cc = fx_connect_nb(&f, 80);
  fx_run(&f, 0.007);
  fx_partition(&f, 1, true); /* cli -> srv: the ACKs are lost */
  double marks[] = {0.9, 1.1, 2.9, 3.1, 6.9, 7.1, 14.9, 15.1, 30.9, 31.1};
  int want[] = {0, 1, 1, 2, 2, 3, 3, 4, 4, 5};
  for (int i = 0; i < 10; i++) {
    fx_run(&f, marks[i] - fx_now(&f));
    T_EQ(ustcp_stat(f.S, USTCP_STAT_TCP_SYN_RETRANS), want[i]);
  }
  fx_run(&f, 62.5 - fx_now(&f));
  ustcp_listen_info(f.S, l, &li);
  T_EQ(li.syn_qlen, 1);
  fx_run(&f, 1.0);
  ustcp_listen_info(f.S, l, &li);
  T_EQ(li.syn_qlen, 0);
  T_EQ(ustcp_stat(f.S, USTCP_STAT_TCP_SYN_RETRANS), 5);
  fx_partition(&f, 1, false);
  T_EQ(ustcp_write(f.C, cc, "x", 1), 1);
  fx_run(&f, 0.1);
  char b[4];
  T_EQ(ustcp_read(f.C, cc, b, sizeof(b)), -1);
  T_EQ(errno, ECONNRESET);
  fx_fini(&f);
}

static void abort_on_overflow(void)
{
  struct ustcp_config cfg;
  ustcp_config_init(&cfg);
  cfg.abort_on_overflow = 1;
  struct fx f;
  fx_init_cfg(&f, 5, &cfg);
  int l = fx_listen(&f, 80, 1);
  fx_partition(&f, 0, true);
  int c2 = fx_connect_nb(&f, 80); /* a request whose SYN-ACK is lost */
  fx_run(&f, 0.05);
  fx_partition(&f, 0, false);
  int c1 = fx_connect_nb(&f, 80);
  fx_run(&f, 0.05);
  int c3 = fx_connect_nb(&f, 80);
  fx_run(&f, 0.05);
  struct ustcp_listen_info li;
  ustcp_listen_info(f.S, l, &li);
  T_EQ(li.accept_qlen, 2); /* full: more than backlog */
  T_EQ(li.syn_qlen, 1);
  T_EQ(ustcp_sock_state(f.C, c1), USTCP_TCP_ESTABLISHED);
  T_EQ(ustcp_sock_state(f.C, c3), USTCP_TCP_ESTABLISHED);
  fx_run(&f, 1.0); /* SYN-ACK again; the ACK overflows -> RST */
  T_EQ(ustcp_stat(f.S, USTCP_STAT_EMBRYONIC_RSTS), 1);
  T_EQ(ustcp_stat(f.S, USTCP_STAT_LISTEN_OVERFLOWS), 1);
  ustcp_listen_info(f.S, l, &li);
  T_EQ(li.syn_qlen, 0);
  char b[4];
  T_EQ(ustcp_read(f.C, c2, b, sizeof(b)), -1);
  T_EQ(errno, ECONNRESET);
  fx_fini(&f);
}

static void syn_cookies(void)
{
  struct ustcp_config cfg;
  ustcp_config_init(&cfg);
  cfg.syncookies = 1; /* Linux's default; the seed's (and ours) is 0 */
  struct fx f;
  fx_init_cfg(&f, 5, &cfg);
  int l = fx_listen(&f, 80, 1);
  int c[3];
  for (int i = 0; i < 3; i++)
    c[i] = fx_connect_nb(&f, 80); /* at once: the SYN queue holds 2 */
  fx_run(&f, 0.05);
  T_EQ(ustcp_stat(f.S, USTCP_STAT_TCP_REQQ_FULL_DO_COOKIES), 1);
  T_EQ(ustcp_stat(f.S, USTCP_STAT_SYNCOOKIES_SENT), 1);
  T_EQ(ustcp_stat(f.S, USTCP_STAT_TCP_REQQ_FULL_DROP), 0);
  for (int i = 0; i < 3; i++)
    T_EQ(ustcp_sock_state(f.C, c[i]), USTCP_TCP_ESTABLISHED);
  for (int i = 0; i < 3; i++)
    T_EQ(ustcp_write(f.C, c[i], "ok", 2), 2);
  /* Accept as they come; a cookie ACK dropped on a full accept queue is
   * made good by the client's data (a valid cookie again). */
  fx_set_nonblock(f.S, l);
  int got = 0, bytes = 0, full_opts = 0;
  for (int round = 0; round < 40 && got < 3; round++) {
    int a;
    while ((a = ustcp_accept(f.S, l, NULL, NULL)) >= 0) {
      got++;
      struct tcp_info ti;
      socklen_t tl = sizeof(ti);
      ustcp_getsockopt(f.S, a, IPPROTO_TCP, TCP_INFO, &ti, &tl);
      full_opts += (ti.tcpi_options & (TCPI_OPT_SACK | TCPI_OPT_WSCALE | TCPI_OPT_TIMESTAMPS)) ==
                       (TCPI_OPT_SACK | TCPI_OPT_WSCALE | TCPI_OPT_TIMESTAMPS) &&
                   ti.tcpi_snd_mss == 1448;
      char x[4];
      fx_run(&f, 0.5);
      ssize_t r = ustcp_read(f.S, a, x, sizeof(x));
      bytes += r > 0 ? (int)r : 0;
    }
    fx_run(&f, 0.5);
  }
  T_EQ(got, 3);
  T_EQ(bytes, 6);
  T_EQ(full_opts, 3); /* the cookie kept the SYN's options in the timestamp */
  T_EQ(ustcp_stat(f.S, USTCP_STAT_SYNCOOKIES_RECV), 1);
  T_EQ(ustcp_stat(f.S, USTCP_STAT_SYNCOOKIES_FAILED), 0);
  fx_fini(&f);
}

static void max_syn_backlog_quarter(void)
{
  /* Linux: with syncookies off, SYNs are dropped once fewer than a quarter
   * of max_syn_backlog slots are free, whatever the listen backlog. */
  struct ustcp_config cfg;
  ustcp_config_init(&cfg);
  cfg.max_syn_backlog = 8;
  struct fx f;
  fx_init_cfg(&f, 5, &cfg);
  int l = fx_listen(&f, 80, 100);
  fx_partition(&f, 0, true);
  for (int i = 0; i < 10; i++)
    fx_connect_nb(&f, 80);
  fx_run(&f, 0.5);
  struct ustcp_listen_info li;
  ustcp_listen_info(f.S, l, &li);
  T_EQ(li.syn_qlen, 7); /* 8 - 7 < 8/4 stops the 8th */
  T_EQ(ustcp_stat(f.S, USTCP_STAT_LISTEN_DROPS), 3);
  T_EQ(ustcp_stat(f.S, USTCP_STAT_TCP_REQQ_FULL_DROP), 0);
  fx_fini(&f);
}

static void close_listener_resets(void)
{
  struct fx f;
  fx_init(&f, 5);
  int l = fx_listen(&f, 80, 4);
  int a = fx_connect_nb(&f, 80);
  fx_run(&f, 0.1); /* a: in the accept queue */
  fx_partition(&f, 1, true);
  int b = fx_connect_nb(&f, 80); /* b: its SYN never arrives */
  fx_partition(&f, 1, false);
  fx_partition(&f, 0, true);
  int c = fx_connect_nb(&f, 80); /* c: a request (SYN-ACK lost) */
  fx_run(&f, 0.1);
  fx_partition(&f, 0, false);
  struct ustcp_listen_info li;
  ustcp_listen_info(f.S, l, &li);
  T_EQ(li.accept_qlen, 1);
  T_EQ(li.syn_qlen, 1);
  uint64_t rsts = ustcp_stat(f.S, USTCP_STAT_TCP_OUT_RSTS);
  T_EQ(ustcp_close(f.S, l), 0);
  /* The unaccepted child (RST+ACK) and the request (seed: RST). */
  T_EQ(ustcp_stat(f.S, USTCP_STAT_TCP_OUT_RSTS), rsts + 2);
  fx_run(&f, 0.1);
  char buf[4];
  T_EQ(ustcp_read(f.C, a, buf, sizeof(buf)), -1);
  T_EQ(errno, ECONNRESET);
  struct ustcp_mem_info mi;
  ustcp_mem_info(f.S, &mi);
  T_EQ(mi.sockets, 0);
  T_EQ(mi.requests, 0);
  (void)b;
  (void)c;
  fx_fini(&f);
}

static void listener_shutdown_and_errors(void)
{
  struct fx f;
  fx_init(&f, 5);
  int l = fx_listen(&f, 80, 4);
  T_EQ(ustcp_shutdown(f.S, l, SHUT_WR), 0); /* nothing */
  T_EQ(ustcp_sock_state(f.S, l), USTCP_TCP_LISTEN);
  char b[4];
  T_EQ(ustcp_read(f.S, l, b, sizeof(b)), -1);
  T_EQ(errno, ENOTCONN);
  int x = ustcp_socket(f.S, AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = fx_sin("10.0.0.1", 80);
  T_EQ(ustcp_bind(f.S, x, (struct sockaddr *)&a, sizeof(a)), -1);
  T_EQ(errno, EADDRINUSE);
  T_EQ(ustcp_shutdown(f.S, l, SHUT_RD), 0); /* stops the listener */
  T_EQ(ustcp_accept(f.S, l, NULL, NULL), -1);
  T_EQ(errno, EINVAL);
  T_EQ(ustcp_accept(f.S, 77, NULL, NULL), -1);
  T_EQ(errno, EBADF);
  int u = ustcp_socket(f.S, AF_INET, SOCK_STREAM, 0);
  T_EQ(ustcp_accept(f.S, u, NULL, NULL), -1);
  T_EQ(errno, EINVAL);
  fx_fini(&f);
}

int main(void)
{
  T_RUN(acceptq_overflow);
  T_RUN(synq_overflow_and_synack_timer);
  T_RUN(abort_on_overflow);
  T_RUN(syn_cookies);
  T_RUN(max_syn_backlog_quarter);
  T_RUN(close_listener_resets);
  T_RUN(listener_shutdown_and_errors);
  return T_DONE();
}
