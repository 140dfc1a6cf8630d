/*
 * test_tcp_gaps.c - TCP behaviours where the engine once differed from
 * Linux 6.18: the orphan retry limit on zero-window probes
 * (tcp_orphan_retries), malformed options, a bare FIN out of order, and
 * TCP_INFO on a known connection.
 */
#include "fixture.h"

#include "ustcp/ustcp.h"
#include "wire/wire.h"

/* The client's last segment as the trace saw it: where the client's
 * sequence space and its acknowledgment stand (the peer is idle). */
struct last_out {
  struct ustcp_stack *C;
  uint32_t seq, ack;
};

static void watch_client(void *user, struct ustcp_stack *s, const struct ustcp_trace_event *ev)
{
  struct last_out *lo = user;
  if (s != lo->C || ev->kind != USTCP_TR_PKT_OUT || ev->len < 40 || ev->pkt[9] != 6)
    return;
  const uint8_t *ip = ev->pkt;
  size_t ihl = (size_t)(ip[0] & 15) * 4;
  size_t tot = ((size_t)ip[2] << 8) | ip[3];
  const uint8_t *tcp = ip + ihl;
  size_t hl = (size_t)(tcp[12] >> 4) * 4;
  uint32_t seq =
      ((uint32_t)tcp[4] << 24) | ((uint32_t)tcp[5] << 16) | ((uint32_t)tcp[6] << 8) | tcp[7];
  uint32_t ack =
      ((uint32_t)tcp[8] << 24) | ((uint32_t)tcp[9] << 16) | ((uint32_t)tcp[10] << 8) | tcp[11];
  uint32_t len = (uint32_t)(tot - ihl - hl) + ((tcp[13] & 3) ? 1u : 0u);
  lo->seq = seq + len;
  lo->ack = ack;
}

/* A segment from the client's 4-tuple straight into the server's stack:
 * ACK|PSH with the given raw option bytes (padded to words) and data. */
static void inject_flags(struct fx *f, uint16_t cport, uint8_t flags, uint32_t seq, uint32_t ack,
                         const uint8_t *opt, size_t olen, const char *data)
{
  static uint8_t pkt[256];
  memset(pkt, 0, sizeof(pkt));
  size_t ol = (olen + 3) & ~(size_t)3, dl = strlen(data), hl = 20 + ol;
  uint8_t *t = pkt + US_IPV4_HDR_LEN;
  t[0] = (uint8_t)(cport >> 8);
  t[1] = (uint8_t)cport;
  t[3] = 80;
  for (int i = 0; i < 4; i++) {
    t[4 + i] = (uint8_t)(seq >> (24 - 8 * i));
    t[8 + i] = (uint8_t)(ack >> (24 - 8 * i));
  }
  t[12] = (uint8_t)((hl / 4) << 4);
  t[13] = flags;
  t[14] = 0xff;
  t[15] = 0xff;
  if (olen)
    memcpy(t + 20, opt, olen); /* the rest of the last word stays EOL (0) */
  memcpy(t + hl, data, dl);
  uint32_t cli = 0x0a000002, srv = 0x0a000001;
  us_tcp_csum_fill(t, hl + dl, cli, srv);
  struct us_ipv4_hdr ip = {.total_len = (uint16_t)(US_IPV4_HDR_LEN + hl + dl),
                           .ttl = 64,
                           .proto = US_IPPROTO_TCP,
                           .src = cli,
                           .dst = srv,
                           .df = true};
  us_ipv4_emit(&ip, pkt);
  ustcp_input(f->S, pkt, US_IPV4_HDR_LEN + hl + dl);
}

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

static void inject(struct fx *f, uint16_t cport, uint32_t seq, uint32_t ack, const uint8_t *opt,
                   size_t olen, const char *data)
{
  inject_flags(f, cport, US_TCP_ACK | US_TCP_PSH, seq, ack, opt, olen, data);
}

/* Linux 6.18 never drops a segment for malformed options (measured:
 * data with an option of length 0, an option running past the header, and
 * MSS/TS/SACK of the wrong length is ACKed and delivered). */
static void malformed_options_kept(void)
{
  struct ustcp_config scfg;
  ustcp_config_init(&scfg);
  scfg.timestamps = 0; /* the injected segments carry no TS */
  struct fx f;
  fx_init_cfg(&f, 1, &scfg);
  struct last_out lo = {.C = f.C};
  ustcp_sim_set_trace(f.sim, watch_client, &lo);
  int l, s;
  int c = fx_pair(&f, 80, &l, &s);
  fx_run(&f, 0.1);
  struct sockaddr_in ca;
  socklen_t cl = sizeof(ca);
  ustcp_getsockname(f.C, c, (struct sockaddr *)&ca, &cl);
  fx_set_nonblock(f.S, s);
  static const struct {
    uint8_t opt[12];
    size_t len;
  } bad[] = {
      {{2, 0}, 2},                                /* MSS with length 0 */
      {{1, 1, 8, 12, 0, 0, 0, 0}, 8},             /* TS running past the header */
      {{2, 3, 5}, 3},                             /* MSS of length 3 */
      {{8, 6, 1, 2, 3, 4}, 6},                    /* TS of length 6 */
      {{5, 6, 0, 0, 0, 1}, 6},                    /* SACK of length 6 */
      {{3, 2, 1, 1}, 4},                          /* WS of length 2 */
      {{1, 1, 4, 3, 0, 0, 0, 0, 0, 0, 0, 0}, 12}, /* SACK-permitted of length 3 */
      {{30, 1}, 2},                               /* unknown kind, length 1 */
  };
  uint32_t seq = lo.seq;
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    uint64_t n0 = ustcp_stat(f.S, USTCP_STAT_TCP_BAD_OPTIONS);
    uint64_t d0 = ustcp_stat(f.S, USTCP_STAT_DROP_TCP_BAD_OPT);
    inject(&f, ntohs(ca.sin_port), seq, lo.ack, bad[i].opt, bad[i].len, "hello");
    seq += 5;
    T_EQ(ustcp_stat(f.S, USTCP_STAT_TCP_BAD_OPTIONS), n0 + 1);
    T_EQ(ustcp_stat(f.S, USTCP_STAT_DROP_TCP_BAD_OPT), d0);
    char b[16];
    T_EQ(ustcp_read(f.S, s, b, sizeof(b)), 5);
    T_CHECK(memcmp(b, "hello", 5) == 0);
  }
  T_EQ(ustcp_sock_state(f.S, s), USTCP_TCP_ESTABLISHED);
  fx_fini(&f);
}

/* A bare FIN beyond a hole is kept (Linux: in the out-of-order queue) and
 * taken when the hole fills: end of file after the data, CLOSE_WAIT. The
 * wire side (the FIN SACKed as 1001:1002, one ACK for data and FIN) is
 * tests/drill/tcp_data_ooo_bare_fin.pkt, checked on Linux 6.18. */
static void ooo_bare_fin(void)
{
  struct fx f;
  fx_init(&f, 1);
  struct last_out lo = {.C = f.C};
  ustcp_sim_set_trace(f.sim, watch_client, &lo);
  int l, s;
  int c = fx_pair(&f, 80, &l, &s);
  fx_run(&f, 0.1);
  struct sockaddr_in ca;
  socklen_t cl = sizeof(ca);
  ustcp_getsockname(f.C, c, (struct sockaddr *)&ca, &cl);
  uint16_t cport = ntohs(ca.sin_port);
  fx_set_nonblock(f.S, s);
  /* The client's stack is cut off from the server: the test speaks for it
   * (no timestamps needed: RFC 7323 5.3 segments without TS are taken). */
  fx_partition(&f, 1, true);
  uint32_t seq = lo.seq, ack = lo.ack;
  inject_flags(&f, cport, US_TCP_ACK | US_TCP_FIN, seq + 5, ack, NULL, 0, "");
  fx_run(&f, 0.01);
  char b[16];
  T_EQ(ustcp_read(f.S, s, b, sizeof(b)), -1);
  T_EQ(errno, EAGAIN);
  T_EQ(ustcp_sock_state(f.S, s), USTCP_TCP_ESTABLISHED);
  inject(&f, cport, seq, ack, NULL, 0, "hello");
  fx_run(&f, 0.01);
  T_EQ(ustcp_read(f.S, s, b, sizeof(b)), 5);
  T_EQ(ustcp_read(f.S, s, b, sizeof(b)), 0);
  T_EQ(ustcp_sock_state(f.S, s), USTCP_TCP_CLOSE_WAIT);
  fx_fini(&f);
}

/* Linux 6.18's struct tcp_info (280 bytes; <netinet/tcp.h> has the first
 * 104): the layout of include/uapi/linux/tcp.h. */
struct info {
  struct tcp_info i;
  uint64_t pacing_rate, max_pacing_rate, bytes_acked, bytes_received;
  uint32_t segs_out, segs_in, notsent_bytes, min_rtt, data_segs_in, data_segs_out;
  uint64_t delivery_rate, busy_time, rwnd_limited, sndbuf_limited;
  uint32_t delivered, delivered_ce;
  uint64_t bytes_sent, bytes_retrans;
  uint32_t dsack_dups, reord_seen, rcv_ooopack, snd_wnd, rcv_wnd, rehash;
  uint16_t total_rto, total_rto_recoveries;
  uint32_t total_rto_time, received_ce;
  uint32_t e[6];
  uint16_t accecn_fail_mode, accecn_opt_seen;
};

static void get_info(struct ustcp_stack *s, int fd, struct info *x)
{
  memset(x, 0xa5, sizeof(*x));
  socklen_t len = sizeof(*x);
  T_EQ(ustcp_getsockopt(s, fd, IPPROTO_TCP, TCP_INFO, x, &len), 0);
  T_EQ(len, 280); /* Linux 6.18: 280 */
}

/* TCP_INFO on a known connection: 10 ms RTT, 3000 bytes client -> server
 * (three segments of MSS 1448), read, then one segment lost once. The
 * field meanings were checked on Linux 6.18 over loopback (3000 bytes):
 * client segs_out 3 = server segs_in 3 (the child counts the SYN), server
 * segs_out 1 (its SYN-ACK belongs to the request), client bytes_acked 3001
 * (the SYN counts), server bytes_received 3000, delivered 2 / 1, rto and
 * rtt in microseconds, max_pacing_rate ~0. */
static void tcp_info_values(void)
{
  struct fx f;
  fx_init(&f, 5);
  int l, s;
  int c = fx_pair(&f, 80, &l, &s);
  static char buf[3000];
  memset(buf, 'x', sizeof(buf));
  T_EQ(ustcp_write(f.C, c, buf, sizeof(buf)), 3000);
  fx_run(&f, 0.5);
  fx_set_nonblock(f.S, s);
  T_EQ(ustcp_read(f.S, s, buf, sizeof(buf)), 3000);
  fx_run(&f, 0.5);
  struct info ci, si;
  get_info(f.C, c, &ci);
  get_info(f.S, s, &si);
  T_EQ(ci.i.tcpi_state, USTCP_TCP_ESTABLISHED);
  T_EQ(ci.i.tcpi_ca_state, 0);
  T_EQ(ci.i.tcpi_options, TCPI_OPT_TIMESTAMPS | TCPI_OPT_SACK | TCPI_OPT_WSCALE);
  T_EQ(ci.i.tcpi_snd_mss, 1448);
  T_EQ(si.i.tcpi_rcv_mss, 1448);
  T_EQ(ci.i.tcpi_pmtu, 1500);
  T_EQ(ci.i.tcpi_advmss, 1448);
  /* 10 ms round trips, in microseconds; RFC 6298 with Linux's 200 ms
   * floor on the variance term. */
  T_CHECK(ci.i.tcpi_rtt >= 10000 && ci.i.tcpi_rtt < 11000);
  T_CHECK(ci.min_rtt >= 10000 && ci.min_rtt <= ci.i.tcpi_rtt);
  uint32_t var4 = 4 * ci.i.tcpi_rttvar;
  T_EQ(ci.i.tcpi_rto, ci.i.tcpi_rtt + (var4 > 200000 ? var4 : 200000));
  T_EQ(ci.i.tcpi_total_retrans, 0);
  T_EQ(ci.i.tcpi_last_data_sent, 1000); /* ms since the data went out */
  T_EQ(si.i.tcpi_last_data_recv, 995);
  T_EQ(ci.bytes_acked, 3001);
  T_EQ(ci.bytes_sent, 3000);
  T_EQ(ci.bytes_received, 0);
  T_EQ(si.bytes_received, 3000);
  T_EQ(si.bytes_acked, 1);
  T_EQ(ci.data_segs_out, 3);
  T_EQ(si.data_segs_in, 3);
  T_EQ(ci.segs_out, 5); /* SYN, ACK, 3 data */
  T_EQ(si.segs_in, ci.segs_out);
  T_EQ(ci.segs_in, si.segs_out + 1); /* + the SYN-ACK */
  T_EQ(ci.delivered, 4);
  T_EQ(si.delivered, 1);
  T_EQ(ci.notsent_bytes, 0);
  T_EQ(ci.snd_wnd, si.rcv_wnd);
  T_EQ(si.snd_wnd, ci.rcv_wnd);
  T_CHECK(ci.snd_wnd > 0);
  T_EQ(ci.max_pacing_rate, UINT64_MAX);
  T_CHECK(ci.pacing_rate > 0);
  T_EQ(ci.bytes_retrans, 0);

  /* Unsent bytes behind a closed path, then a retransmission. */
  fx_partition(&f, 0, true);
  T_EQ(ustcp_write(f.C, c, buf, 1000), 1000);
  /* The tail loss probe at 2 SRTT + 200 ms (~220 ms) sends it again, the
   * RTO one RTO later (~430 ms) once more; the next is at ~850 ms. */
  fx_run(&f, 0.6);
  get_info(f.C, c, &ci);
  T_EQ(ci.i.tcpi_ca_state, 4); /* TCP_CA_Loss */
  T_EQ(ci.i.tcpi_retransmits, 1);
  T_EQ(ci.i.tcpi_backoff, 1);
  T_EQ(ci.i.tcpi_unacked, 1);
  T_EQ(ci.i.tcpi_total_retrans, 2);
  T_EQ(ci.bytes_retrans, 2000);
  T_EQ(ci.bytes_sent, 6000);
  T_EQ(ci.i.tcpi_rto, 2 * (ci.i.tcpi_rtt + (var4 > 200000 ? var4 : 200000)));
  fx_partition(&f, 0, false);
  fx_run(&f, 1);
  get_info(f.C, c, &ci);
  T_EQ(ci.bytes_acked, 4001);
  /* The server got the segment four times; only the last D-SACK (for the
   * RTO at ~850 ms, after the path healed) reached the client. */
  T_EQ(ci.dsack_dups, 1);
  T_EQ(ci.i.tcpi_unacked, 0);
  T_EQ(ci.i.tcpi_ca_state, 0);
  fx_fini(&f);
}

int main(void)
{
  T_RUN(orphan_zero_window_probes);
  T_RUN(malformed_options_kept);
  T_RUN(ooo_bare_fin);
  T_RUN(tcp_info_values);
  return T_DONE();
}
