/*
 * test_sim_world.c - the sim world: virtual time, event order, every link
 * knob (latency, bandwidth + queue, MTU, loss, reorder, duplicate, corrupt,
 * partition), routers (forwarding, TTL, ICMP errors), blocking waits,
 * tracing and determinism (same seed, byte-identical pcap).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness/test.h"
#include "ustcp/icmp.h"
#include "ustcp/sim.h"

#define US_USEC 1000ull

/* ---- a ping recorder ------------------------------------------------- */

#define MAXP 4096
struct rec {
  struct ustcp_sim *sim;
  struct ustcp_stack *src;
  uint32_t dst_be;
  size_t size;
  int sent;
  ustcp_time_t sent_at[MAXP];
  int replies, dups, errors;
  int order[MAXP]; /* sequence numbers in arrival order */
  ustcp_time_t rtt[MAXP];
  int seen[MAXP];
  uint8_t last_type, last_code, last_ttl;
  uint16_t last_mtu;
  uint32_t last_from;
};

static void on_icmp(void *user, struct ustcp_stack *s, const struct ustcp_icmp_msg *m)
{
  struct rec *r = user;
  r->last_type = m->type;
  r->last_code = m->code;
  r->last_ttl = m->ttl;
  r->last_mtu = m->mtu;
  r->last_from = m->from;
  if (m->type != 0) {
    r->errors++;
    return;
  }
  if (m->seq >= MAXP)
    return;
  if (r->seen[m->seq]++) {
    r->dups++;
    return;
  }
  r->rtt[m->seq] = ustcp_now(s) - r->sent_at[m->seq];
  r->order[r->replies++] = m->seq;
}

static void send_ping(void *user)
{
  struct rec *r = user;
  int seq = r->sent++;
  r->sent_at[seq] = ustcp_sim_now(r->sim);
  ustcp_ping_send(r->src, r->dst_be, 7, (uint16_t)seq, r->size);
}

static void rec_init(struct rec *r, struct ustcp_sim *sim, int from, int to, size_t size)
{
  memset(r, 0, sizeof(*r));
  r->sim = sim;
  r->src = ustcp_sim_stack(sim, from);
  r->dst_be = ustcp_sim_host_addr(sim, to);
  r->size = size;
  ustcp_set_icmp_hook(r->src, on_icmp, r);
}

/* n pings, `gap` apart, starting now. */
static void schedule(struct rec *r, int n, ustcp_time_t gap)
{
  ustcp_time_t t0 = ustcp_sim_now(r->sim);
  for (int i = 0; i < n; i++)
    ustcp_sim_at(r->sim, t0 + (ustcp_time_t)i * gap, send_ping, r);
}

/* Two hosts on one link with the given parameters both ways. */
static struct ustcp_sim *pair(uint64_t seed, const struct ustcp_link_params *ab,
                              const struct ustcp_link_params *ba)
{
  struct ustcp_sim *sim = ustcp_sim_create(seed);
  int a = ustcp_sim_add_host(sim, "a", "192.0.2.1", NULL);
  int b = ustcp_sim_add_host(sim, "b", "192.0.2.2", NULL);
  T_EQ(a, 0);
  T_EQ(b, 1);
  T_EQ(ustcp_sim_link(sim, a, b, ab, ba), 0);
  return sim;
}

/* ---- tests ------------------------------------------------------------ */

static void test_latency_exact(void)
{
  struct ustcp_link_params lp = {.latency = USTCP_MS(5)};
  struct ustcp_sim *sim = pair(1, &lp, &lp);
  struct rec r;
  rec_init(&r, sim, 0, 1, 56);
  schedule(&r, 5, USTCP_SEC(1));
  T_CHECK(ustcp_sim_run_until_idle(sim, USTCP_TIME_NEVER));
  T_EQ(r.replies, 5);
  for (int i = 0; i < 5; i++)
    T_EQ(r.rtt[i], USTCP_MS(10));
  T_EQ(ustcp_sim_now(sim), USTCP_SEC(4) + USTCP_MS(10));
  T_EQ(ustcp_stat(ustcp_sim_stack(sim, 1), USTCP_STAT_ICMP_IN_ECHOS), 5);
  T_EQ(ustcp_stat(ustcp_sim_stack(sim, 1), USTCP_STAT_ICMP_OUT_ECHO_REPS), 5);
  T_EQ(ustcp_stat(ustcp_sim_stack(sim, 0), USTCP_STAT_ICMP_IN_ECHO_REPS), 5);
  T_EQ(ustcp_stat(ustcp_sim_stack(sim, 0), USTCP_STAT_ICMP_OUT_ECHOS), 5);
  struct ustcp_sim_stats st;
  ustcp_sim_stats(sim, &st);
  T_EQ(st.delivered, 10);
  T_EQ(st.lost, 0);
  ustcp_sim_destroy(sim);
}

static void test_run_until_and_order(void)
{
  struct ustcp_link_params lp = {.latency = USTCP_MS(5)};
  struct ustcp_sim *sim = pair(1, &lp, &lp);
  struct rec r;
  rec_init(&r, sim, 0, 1, 56);
  schedule(&r, 1, 0);
  /* Request arrives at 5 ms, reply at 10 ms: not yet at 9.999 ms. */
  ustcp_sim_run_until(sim, USTCP_MS(10) - 1);
  T_EQ(ustcp_sim_now(sim), USTCP_MS(10) - 1);
  T_EQ(r.replies, 0);
  ustcp_sim_run_until(sim, USTCP_MS(10));
  T_EQ(r.replies, 1);
  T_EQ(ustcp_sim_now(sim), USTCP_MS(10));
  /* The clock moves to t even with nothing to do. */
  ustcp_sim_run_until(sim, USTCP_SEC(3));
  T_EQ(ustcp_sim_now(sim), USTCP_SEC(3));
  ustcp_sim_destroy(sim);
}

static bool got_three(void *user) { return ((struct rec *)user)->replies >= 3; }

static void test_run_while(void)
{
  struct ustcp_link_params lp = {.latency = USTCP_MS(1)};
  struct ustcp_sim *sim = pair(1, &lp, &lp);
  struct rec r;
  rec_init(&r, sim, 0, 1, 56);
  schedule(&r, 10, USTCP_MS(100));
  T_CHECK(ustcp_sim_run_while(sim, got_three, &r, USTCP_TIME_NEVER));
  T_EQ(r.replies, 3);
  T_EQ(ustcp_sim_now(sim), USTCP_MS(202)); /* the third reply */
  /* A limit stops it: 10 ms more brings no reply. */
  struct rec *rp = &r;
  rp->replies = 0;
  T_CHECK(!ustcp_sim_run_while(sim, got_three, &r, USTCP_MS(10)));
  T_EQ(ustcp_sim_now(sim), USTCP_MS(212));
  ustcp_sim_destroy(sim);
}

static int order_log[8], order_n;
static void mark(void *user) { order_log[order_n++] = (int)(intptr_t)user; }

static void test_same_time_fifo(void)
{
  struct ustcp_sim *sim = ustcp_sim_create(3);
  order_n = 0;
  for (int i = 0; i < 5; i++)
    ustcp_sim_at(sim, USTCP_MS(1), mark, (void *)(intptr_t)i);
  ustcp_sim_at(sim, 0, mark, (void *)(intptr_t)7);
  T_CHECK(ustcp_sim_run_until_idle(sim, USTCP_TIME_NEVER));
  T_EQ(order_n, 6);
  T_EQ(order_log[0], 7);
  for (int i = 0; i < 5; i++)
    T_EQ(order_log[i + 1], i);
  ustcp_sim_destroy(sim);
}

static struct ustcp_sim *cut_sim;
static void cut_latency(void *user)
{
  (void)user;
  struct ustcp_link_params fast = {.latency = USTCP_MS(1)};
  ustcp_sim_link_set(cut_sim, 0, 0, &fast);
}

/* Lowering the latency while packets are in flight: later packets overtake
 * the earlier ones, which still arrive at their own times. */
static void test_latency_change(void)
{
  struct ustcp_link_params slow = {.latency = USTCP_MS(10)};
  struct ustcp_sim *sim = pair(1, &slow, NULL);
  cut_sim = sim;
  struct rec r;
  rec_init(&r, sim, 0, 1, 56);
  schedule(&r, 5, USTCP_MS(1));
  ustcp_sim_at(sim, USTCP_MS(2) + 500000, cut_latency, NULL);
  T_CHECK(ustcp_sim_run_until_idle(sim, USTCP_TIME_NEVER));
  T_EQ(r.replies, 5);
  int want[5] = {3, 4, 0, 1, 2};
  for (int i = 0; i < 5; i++)
    T_EQ(r.order[i], want[i]);
  T_EQ(r.rtt[0], USTCP_MS(10));
  T_EQ(r.rtt[2], USTCP_MS(10));
  T_EQ(r.rtt[3], USTCP_MS(1));
  T_EQ(r.rtt[4], USTCP_MS(1));
  ustcp_sim_destroy(sim);
}

static void test_bandwidth_serialization(void)
{
  /* 1 Mbit/s: a 1028-byte datagram (1000 payload) takes 8224 us on the
   * wire; ten sent at once arrive 8.224 ms apart. */
  struct ustcp_link_params ab = {.bandwidth_bps = 1000000};
  struct ustcp_sim *sim = pair(1, &ab, NULL);
  struct rec r;
  rec_init(&r, sim, 0, 1, 1000);
  schedule(&r, 10, 0);
  T_CHECK(ustcp_sim_run_until_idle(sim, USTCP_TIME_NEVER));
  T_EQ(r.replies, 10);
  for (int i = 0; i < 10; i++)
    T_EQ(r.rtt[i], (ustcp_time_t)(i + 1) * 8224000u);
  ustcp_sim_destroy(sim);
}

static void test_queue_tail_drop(void)
{
  struct ustcp_link_params ab = {.bandwidth_bps = 1000000, .queue_limit = 3};
  struct ustcp_sim *sim = pair(1, &ab, NULL);
  struct rec r;
  rec_init(&r, sim, 0, 1, 1000);
  schedule(&r, 10, 0);
  T_CHECK(ustcp_sim_run_until_idle(sim, USTCP_TIME_NEVER));
  /* One on the wire, three queued behind it, six tail-dropped. */
  T_EQ(r.replies, 4);
  struct ustcp_sim_stats st;
  ustcp_sim_stats(sim, &st);
  T_EQ(st.tail_dropped, 6);
  /* Once the queue drained, packets pass again. */
  schedule(&r, 2, USTCP_MS(20));
  T_CHECK(ustcp_sim_run_until_idle(sim, USTCP_TIME_NEVER));
  T_EQ(r.replies, 6);
  ustcp_sim_destroy(sim);
}

static void test_mtu(void)
{
  struct ustcp_link_params ab = {.mtu = 576};
  struct ustcp_sim *sim = pair(1, &ab, NULL);
  /* The link is a's interface: a's stack takes its MTU; b keeps 1500. */
  T_EQ(ustcp_stack_config(ustcp_sim_stack(sim, 0))->mtu, 576);
  T_EQ(ustcp_stack_config(ustcp_sim_stack(sim, 1))->mtu, 1500);
  struct rec r;
  rec_init(&r, sim, 0, 1, 1000);
  /* over a's MTU: sent in fragments (DF clear), reassembled by b, and
   * b's 1028-byte reply fits its 1500 and the b->a direction */
  schedule(&r, 1, 0);
  T_CHECK(ustcp_sim_run_until_idle(sim, USTCP_TIME_NEVER));
  T_EQ(r.replies, 1);
  T_EQ(ustcp_stat(ustcp_sim_stack(sim, 1), USTCP_STAT_IP_REASM_OKS), 1);
  rec_init(&r, sim, 0, 1, 1000);
  /* A later change of the link is a path change: the stack keeps its MTU
   * and the link drops what no longer fits. */
  struct ustcp_link_params narrow = {.mtu = 300};
  T_EQ(ustcp_sim_link_set(sim, 0, 0, &narrow), 0);
  T_EQ(ustcp_stack_config(ustcp_sim_stack(sim, 0))->mtu, 576);
  r.size = 500; /* 528 bytes: fits a's 576, not the 300 path */
  schedule(&r, 1, 0);
  T_CHECK(ustcp_sim_run_until_idle(sim, USTCP_TIME_NEVER));
  T_EQ(r.replies, 0);
  struct ustcp_sim_stats st;
  ustcp_sim_stats(sim, &st);
  T_EQ(st.mtu_dropped, 1);
  T_EQ(ustcp_sim_link_set(sim, 0, 0, &ab), 0);
  r.size = 548; /* exactly 576 */
  schedule(&r, 1, 0);
  T_CHECK(ustcp_sim_run_until_idle(sim, USTCP_TIME_NEVER));
  T_EQ(r.replies, 1);
  ustcp_sim_stats(sim, &st);
  T_EQ(st.mtu_dropped, 1);
  ustcp_sim_destroy(sim);
}

static void test_loss_rate(void)
{
  struct ustcp_link_params lp = {.latency = USTCP_MS(1), .loss = 0.3};
  struct ustcp_sim *sim = pair(42, &lp, &lp);
  struct rec r;
  rec_init(&r, sim, 0, 1, 56);
  schedule(&r, 1000, USTCP_MS(10));
  T_CHECK(ustcp_sim_run_until_idle(sim, USTCP_TIME_NEVER));
  struct ustcp_sim_stats st;
  ustcp_sim_stats(sim, &st);
  uint64_t reached = ustcp_stat(ustcp_sim_stack(sim, 1), USTCP_STAT_ICMP_IN_ECHOS);
  /* Every packet put on the link was either lost or delivered. */
  T_EQ(st.lost + st.delivered, 1000 + reached);
  T_EQ(st.delivered, reached + (uint64_t)r.replies);
  /* 1000 requests at p = 0.3: 300 +- 5 sigma (sigma = 14.5). */
  T_CHECK(reached > 1000 - 300 - 73 && reached < 1000 - 300 + 73);
  /* Replies: both directions survive with 0.49. */
  T_CHECK(r.replies > 490 - 80 && r.replies < 490 + 80);
  double rate = (double)st.lost / (double)(1000 + reached);
  T_CHECK(fabs(rate - 0.3) < 0.05);
  printf("  loss 0.3: %d/1000 replies, link loss rate %.3f\n", r.replies, rate);
  ustcp_sim_destroy(sim);
}

static void test_corruption_caught(void)
{
  struct ustcp_link_params ab = {.latency = USTCP_MS(1), .corrupt = 1.0};
  struct ustcp_sim *sim = pair(5, &ab, NULL);
  struct rec r;
  rec_init(&r, sim, 0, 1, 56);
  schedule(&r, 500, USTCP_MS(2));
  T_CHECK(ustcp_sim_run_until_idle(sim, USTCP_TIME_NEVER));
  struct ustcp_sim_stats st;
  ustcp_sim_stats(sim, &st);
  T_EQ(st.corrupted, 500);
  struct ustcp_stack *b = ustcp_sim_stack(sim, 1);
  /* Every flipped bit is caught (never delivered as a valid echo). */
  T_EQ(ustcp_stat(b, USTCP_STAT_ICMP_IN_ECHOS), 0);
  T_EQ(r.replies, 0);
  uint64_t ipcs = ustcp_stat(b, USTCP_STAT_DROP_IP_CSUM);
  uint64_t icmpcs = ustcp_stat(b, USTCP_STAT_DROP_ICMP_CSUM);
  uint64_t other = ustcp_stat(b, USTCP_STAT_DROP_IP_BAD_VERSION) +
                   ustcp_stat(b, USTCP_STAT_DROP_IP_BAD_HDRLEN) +
                   ustcp_stat(b, USTCP_STAT_DROP_IP_BAD_TOTLEN);
  printf("  corrupt: ip csum %llu, icmp csum %llu, other header checks %llu\n",
         (unsigned long long)ipcs, (unsigned long long)icmpcs, (unsigned long long)other);
  T_EQ(ipcs + icmpcs + other, 500);
  /* 84-byte datagrams, 20-byte header: most flips land in the ICMP part. */
  T_CHECK(icmpcs > 300 && ipcs > 50);
  T_EQ(ustcp_stat(b, USTCP_STAT_ICMP_IN_CSUM_ERRORS), icmpcs);
  ustcp_sim_destroy(sim);
}

static void test_duplicate(void)
{
  struct ustcp_link_params ab = {.latency = USTCP_MS(1), .duplicate = 1.0};
  struct ustcp_sim *sim = pair(5, &ab, NULL);
  struct rec r;
  rec_init(&r, sim, 0, 1, 56);
  schedule(&r, 20, USTCP_MS(5));
  T_CHECK(ustcp_sim_run_until_idle(sim, USTCP_TIME_NEVER));
  struct ustcp_sim_stats st;
  ustcp_sim_stats(sim, &st);
  T_EQ(st.duplicated, 20);
  T_EQ(ustcp_stat(ustcp_sim_stack(sim, 1), USTCP_STAT_ICMP_IN_ECHOS), 40);
  T_EQ(r.replies, 20);
  T_EQ(r.dups, 20);
  ustcp_sim_destroy(sim);
}

static void test_reorder(void)
{
  struct ustcp_link_params ab = {.latency = USTCP_MS(5), .reorder = 0.5};
  struct ustcp_sim *sim = pair(9, &ab, NULL);
  struct rec r;
  rec_init(&r, sim, 0, 1, 56);
  schedule(&r, 200, US_USEC);
  T_CHECK(ustcp_sim_run_until_idle(sim, USTCP_TIME_NEVER));
  T_EQ(r.replies, 200); /* nothing lost */
  int inversions = 0;
  for (int i = 1; i < r.replies; i++)
    inversions += r.order[i] < r.order[i - 1];
  struct ustcp_sim_stats st;
  ustcp_sim_stats(sim, &st);
  printf("  reorder 0.5: %llu delayed, %d inversions in arrival order\n",
         (unsigned long long)st.reordered, inversions);
  T_CHECK(st.reordered > 60 && st.reordered < 140);
  T_CHECK(inversions > 10);
  /* Extra delay is bounded by 2*latency + 1 ms. */
  for (int i = 0; i < 200; i++)
    T_CHECK(r.rtt[i] >= USTCP_MS(5) && r.rtt[i] <= USTCP_MS(5) + USTCP_MS(11));
  ustcp_sim_destroy(sim);
}

static void test_partition(void)
{
  struct ustcp_link_params lp = {.latency = USTCP_MS(1)};
  struct ustcp_sim *sim = pair(1, &lp, &lp);
  struct rec r;
  rec_init(&r, sim, 0, 1, 56);
  schedule(&r, 3, USTCP_MS(10));
  T_CHECK(ustcp_sim_run_until_idle(sim, USTCP_TIME_NEVER));
  T_EQ(r.replies, 3);
  struct ustcp_link_params cut = lp;
  cut.partitioned = true;
  T_EQ(ustcp_sim_link_set(sim, 0, 0, &cut), 0);
  schedule(&r, 3, USTCP_MS(10));
  T_CHECK(ustcp_sim_run_until_idle(sim, USTCP_TIME_NEVER));
  T_EQ(r.replies, 3);
  struct ustcp_sim_stats st;
  ustcp_sim_stats(sim, &st);
  T_EQ(st.partition_dropped, 3);
  /* Only the reverse direction cut: requests arrive, replies do not. */
  T_EQ(ustcp_sim_link_set(sim, 0, 0, &lp), 0);
  T_EQ(ustcp_sim_link_set(sim, 0, 1, &cut), 0);
  schedule(&r, 2, USTCP_MS(10));
  T_CHECK(ustcp_sim_run_until_idle(sim, USTCP_TIME_NEVER));
  T_EQ(r.replies, 3);
  T_EQ(ustcp_stat(ustcp_sim_stack(sim, 1), USTCP_STAT_ICMP_IN_ECHOS), 5);
  /* Healed. */
  T_EQ(ustcp_sim_link_set(sim, 0, 1, &lp), 0);
  schedule(&r, 2, USTCP_MS(10));
  T_CHECK(ustcp_sim_run_until_idle(sim, USTCP_TIME_NEVER));
  T_EQ(r.replies, 5);
  ustcp_sim_stats(sim, &st);
  T_EQ(st.partition_dropped, 5);
  ustcp_sim_destroy(sim);
}

/* A - R - B, and C behind a second router: A - R1 - R2 - C. */
static void test_router(void)
{
  struct ustcp_sim *sim = ustcp_sim_create(11);
  int a = ustcp_sim_add_host(sim, "a", "192.0.2.10", NULL);
  int b = ustcp_sim_add_host(sim, "b", "198.51.100.10", NULL);
  int c = ustcp_sim_add_host(sim, "c", "198.51.100.77", NULL);
  int r1 = ustcp_sim_add_router(sim, "r1");
  int r2 = ustcp_sim_add_router(sim, "r2");
  struct ustcp_link_params lp = {.latency = USTCP_MS(2)};
  int la = ustcp_sim_link(sim, a, r1, &lp, &lp);
  int lb = ustcp_sim_link(sim, r1, b, &lp, &lp);
  int l12 = ustcp_sim_link(sim, r1, r2, &lp, &lp);
  int lc = ustcp_sim_link(sim, r2, c, &lp, &lp);
  T_CHECK(la >= 0 && lb >= 0 && l12 >= 0 && lc >= 0);
  T_EQ(ustcp_sim_link(sim, a, b, NULL, NULL), -1); /* a host has one link */
  T_EQ(ustcp_sim_route(sim, r1, "198.51.100.64/26", l12), 0);
  T_EQ(ustcp_sim_route(sim, r2, "0.0.0.0/0", l12), 0);
  T_EQ(ustcp_sim_route(sim, r2, "10.0.0.0/8", la), -1); /* not its link */
  T_EQ(ustcp_sim_route(sim, r2, "bogus/8", l12), -1);

  struct rec r;
  rec_init(&r, sim, a, b, 56);
  schedule(&r, 3, USTCP_MS(100));
  T_CHECK(ustcp_sim_run_until_idle(sim, USTCP_TIME_NEVER));
  T_EQ(r.replies, 3);
  T_EQ(r.rtt[0], USTCP_MS(8));
  T_EQ(r.last_ttl, 63); /* one hop */

  /* Longest prefix: 198.51.100.77 goes via r2 (/26), two hops. */
  rec_init(&r, sim, a, c, 56);
  schedule(&r, 2, USTCP_MS(100));
  T_CHECK(ustcp_sim_run_until_idle(sim, USTCP_TIME_NEVER));
  T_EQ(r.replies, 2);
  T_EQ(r.rtt[0], USTCP_MS(12));
  T_EQ(r.last_ttl, 62);
  T_EQ(ustcp_stat(ustcp_sim_stack(sim, c), USTCP_STAT_ICMP_IN_ECHOS), 2);
  T_EQ(ustcp_stat(ustcp_sim_stack(sim, b), USTCP_STAT_ICMP_IN_ECHOS), 3);

  /* No route: r1 answers net unreachable from its default address. */
  struct rec r_nr;
  rec_init(&r_nr, sim, a, b, 56);
  r_nr.dst_be = htonl(0xcb007101); /* 203.0.113.1 */
  schedule(&r_nr, 1, 0);
  T_CHECK(ustcp_sim_run_until_idle(sim, USTCP_TIME_NEVER));
  T_EQ(r_nr.errors, 1);
  T_EQ(r_nr.last_type, 3);
  T_EQ(r_nr.last_code, 0);
  T_EQ(ntohl(r_nr.last_from), 0xc0000201u); /* 192.0.2.1 */
  struct ustcp_sim_stats st;
  ustcp_sim_stats(sim, &st);
  T_EQ(st.no_route, 1);
  T_EQ(st.forwarded, 3 * 2 + 2 * 4);

  /* The router answers pings to its own address (a TTL of 64: not
   * forwarded), and c reaches r1 through r2. */
  struct rec r_self;
  rec_init(&r_self, sim, a, b, 56);
  r_self.dst_be = htonl(0xc0000201u);
  schedule(&r_self, 2, USTCP_MS(10));
  T_CHECK(ustcp_sim_run_until_idle(sim, USTCP_TIME_NEVER));
  T_EQ(r_self.replies, 2);
  T_EQ(r_self.last_ttl, 64);
  T_EQ(r_self.rtt[0], USTCP_MS(4));
  T_EQ(ntohl(r_self.last_from), 0xc0000201u);
  rec_init(&r_self, sim, c, b, 56);
  r_self.dst_be = htonl(0xc0000201u);
  schedule(&r_self, 1, 0);
  T_CHECK(ustcp_sim_run_until_idle(sim, USTCP_TIME_NEVER));
  T_EQ(r_self.replies, 1);
  T_EQ(r_self.last_ttl, 63);
  ustcp_sim_destroy(sim);
}

static void test_ttl_exceeded_and_frag_needed(void)
{
  struct ustcp_sim *sim = ustcp_sim_create(12);
  struct ustcp_config cfg;
  ustcp_config_init(&cfg);
  cfg.ip_default_ttl = 1;
  int a = ustcp_sim_add_host(sim, "a", "192.0.2.10", &cfg);
  int b = ustcp_sim_add_host(sim, "b", "198.51.100.10", NULL);
  int r1 = ustcp_sim_add_router(sim, "r1");
  struct ustcp_link_params small = {.latency = USTCP_MS(1), .mtu = 1000};
  T_CHECK(ustcp_sim_link(sim, a, r1, NULL, NULL) >= 0);
  T_CHECK(ustcp_sim_link(sim, r1, b, &small, NULL) >= 0);
  T_EQ(ustcp_sim_router_addr(sim, r1, "192.0.2.254"), 0);
  struct rec r;
  rec_init(&r, sim, a, b, 56);
  schedule(&r, 1, 0);
  T_CHECK(ustcp_sim_run_until_idle(sim, USTCP_TIME_NEVER));
  T_EQ(r.replies, 0);
  T_EQ(r.errors, 1);
  T_EQ(r.last_type, 11);
  T_EQ(ntohl(r.last_from), 0xc00002feu);
  T_EQ(ustcp_stat(ustcp_sim_stack(sim, a), USTCP_STAT_ICMP_IN_TIME_EXCDS), 1);
  ustcp_sim_destroy(sim);

  /* Fragmentation needed: the r1->b link has MTU 1000, DF is set. */
  sim = ustcp_sim_create(12);
  a = ustcp_sim_add_host(sim, "a", "192.0.2.10", NULL);
  b = ustcp_sim_add_host(sim, "b", "198.51.100.10", NULL);
  r1 = ustcp_sim_add_router(sim, "r1");
  T_CHECK(ustcp_sim_link(sim, a, r1, NULL, NULL) >= 0);
  T_CHECK(ustcp_sim_link(sim, r1, b, &small, NULL) >= 0);
  rec_init(&r, sim, a, b, 1200);
  schedule(&r, 1, 0);
  T_CHECK(ustcp_sim_run_until_idle(sim, USTCP_TIME_NEVER));
  T_EQ(r.replies, 0);
  T_EQ(r.errors, 1);
  T_EQ(r.last_type, 3);
  T_EQ(r.last_code, 4);
  T_EQ(r.last_mtu, 1000);
  struct ustcp_sim_stats st;
  ustcp_sim_stats(sim, &st);
  T_EQ(st.mtu_dropped, 1);
  ustcp_sim_destroy(sim);
}

/* ---- blocking waits --------------------------------------------------- */

static void test_wait(void)
{
  struct ustcp_link_params lp = {.latency = USTCP_MS(5)};
  struct ustcp_sim *sim = pair(1, &lp, &lp);
  struct ustcp_stack *a = ustcp_sim_stack(sim, 0);
  const struct ustcp_config *cfg = ustcp_stack_config(a);
  T_CHECK(cfg->link->wait != NULL);
  /* Nothing pending anywhere: waiting forever would hang. */
  T_EQ(cfg->link->wait(cfg->link_user, a, USTCP_TIME_NEVER), -EDEADLK);
  /* A finite wait with nothing to do times out at the deadline. */
  T_EQ(cfg->link->wait(cfg->link_user, a, USTCP_MS(50)), -ETIMEDOUT);
  T_EQ(ustcp_sim_now(sim), USTCP_MS(50));
  /* A ping: the wait returns when the reply reached a (10 ms later), and not
   * when the request reached b. */
  struct rec r;
  rec_init(&r, sim, 0, 1, 56);
  T_EQ(ustcp_ping_send(a, r.dst_be, 7, 0, 56), 0);
  r.sent_at[0] = ustcp_sim_now(sim);
  T_EQ(cfg->link->wait(cfg->link_user, a, USTCP_TIME_NEVER), 0);
  T_EQ(ustcp_sim_now(sim), USTCP_MS(60));
  T_EQ(r.replies, 1);
  /* Deadline before the reply: timed out, reply still in flight. */
  T_EQ(ustcp_ping_send(a, r.dst_be, 7, 1, 56), 0);
  T_EQ(cfg->link->wait(cfg->link_user, a, USTCP_MS(65)), -ETIMEDOUT);
  T_EQ(ustcp_sim_now(sim), USTCP_MS(65));
  T_EQ(r.replies, 1);
  T_EQ(cfg->link->wait(cfg->link_user, a, USTCP_TIME_NEVER), 0);
  T_EQ(r.replies, 2);
  ustcp_sim_destroy(sim);
}

/* ---- tracing ---------------------------------------------------------- */

struct tr {
  int pkt_out, pkt_in, link_drops, notes, stack_drops;
  int from_a;
  struct ustcp_stack *a;
};

static void on_trace(void *user, struct ustcp_stack *s, const struct ustcp_trace_event *ev)
{
  struct tr *t = user;
  switch (ev->kind) {
  case USTCP_TR_PKT_OUT:
    t->pkt_out++;
    break;
  case USTCP_TR_PKT_IN:
    t->pkt_in++;
    break;
  case USTCP_TR_DROP:
    if (ev->stat == USTCP_STAT_DROP_LINK_LOSS) {
      t->link_drops++;
      t->from_a += s == t->a;
    } else {
      t->stack_drops++;
    }
    break;
  case USTCP_TR_NOTE:
    t->notes++;
    break;
  default:
    break;
  }
}

static void test_trace(void)
{
  struct ustcp_link_params ab = {.latency = USTCP_MS(1), .loss = 0.5, .duplicate = 0.2};
  struct ustcp_sim *sim = pair(77, &ab, NULL);
  struct tr t = {.a = ustcp_sim_stack(sim, 0)};
  ustcp_sim_set_trace(sim, on_trace, &t);
  struct rec r;
  rec_init(&r, sim, 0, 1, 56);
  schedule(&r, 100, USTCP_MS(3));
  T_CHECK(ustcp_sim_run_until_idle(sim, USTCP_TIME_NEVER));
  struct ustcp_sim_stats st;
  ustcp_sim_stats(sim, &st);
  T_CHECK(st.lost > 20);
  T_EQ(t.link_drops, (int)st.lost);
  T_EQ(t.from_a, (int)st.lost); /* all losses are on a->b, sent by a */
  T_EQ(t.notes, (int)st.duplicated);
  T_EQ(t.pkt_in, (int)st.delivered);
  T_EQ(t.pkt_out, 100 + (int)ustcp_stat(ustcp_sim_stack(sim, 1), USTCP_STAT_ICMP_OUT_ECHO_REPS));
  ustcp_sim_destroy(sim);
}

/* ---- determinism ------------------------------------------------------ */

static long run_faulty(uint64_t seed, const char *path, uint64_t *lost_out)
{
  struct ustcp_link_params lp = {.latency = USTCP_MS(3),
                                 .bandwidth_bps = 10000000,
                                 .queue_limit = 8,
                                 .loss = 0.1,
                                 .reorder = 0.2,
                                 .duplicate = 0.1,
                                 .corrupt = 0.05};
  struct ustcp_sim *sim = pair(seed, &lp, &lp);
  T_EQ(ustcp_sim_pcap_link(sim, 0, path), 0);
  struct rec r;
  rec_init(&r, sim, 0, 1, 200);
  schedule(&r, 300, US_USEC * 300);
  T_CHECK(ustcp_sim_run_until_idle(sim, USTCP_TIME_NEVER));
  struct ustcp_sim_stats st;
  ustcp_sim_stats(sim, &st);
  *lost_out = st.lost;
  ustcp_sim_destroy(sim);
  FILE *f = fopen(path, "rb");
  if (!f)
    return -1;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fclose(f);
  return n;
}

static bool same_file(const char *p1, const char *p2)
{
  FILE *a = fopen(p1, "rb"), *b = fopen(p2, "rb");
  bool same = a && b;
  while (same) {
    int ca = fgetc(a), cb = fgetc(b);
    if (ca != cb)
      same = false;
    if (ca == EOF || cb == EOF)
      break;
  }
  if (a)
    fclose(a);
  if (b)
    fclose(b);
  return same;
}

static void test_pcap_stop(void)
{
  struct ustcp_link_params lp = {.latency = USTCP_MS(1)};
  struct ustcp_sim *sim = pair(1, &lp, &lp);
  char path[64];
  snprintf(path, sizeof(path), "sim_stop_%d.pcap", (int)getpid());
  T_EQ(ustcp_sim_pcap_host(sim, 0, path), 0);
  struct rec r;
  rec_init(&r, sim, 0, 1, 56);
  schedule(&r, 2, USTCP_MS(5));
  T_CHECK(ustcp_sim_run_until_idle(sim, USTCP_TIME_NEVER));
  T_EQ(ustcp_sim_pcap_host(sim, 0, NULL), 0); /* closed: complete on disk */
  schedule(&r, 2, USTCP_MS(5));
  T_CHECK(ustcp_sim_run_until_idle(sim, USTCP_TIME_NEVER));
  T_EQ(r.replies, 4);
  FILE *f = fopen(path, "rb");
  T_CHECK(f != NULL);
  if (f) {
    fseek(f, 0, SEEK_END);
    /* header + 4 records (2 requests, 2 replies) of 16 + 84 bytes */
    T_EQ(ftell(f), 24 + 4 * (16 + 84));
    fclose(f);
  }
  unlink(path);
  ustcp_sim_destroy(sim);
}

static void test_determinism(void)
{
  char p1[64], p2[64], p3[64];
  snprintf(p1, sizeof(p1), "sim_det_%d_1.pcap", (int)getpid());
  snprintf(p2, sizeof(p2), "sim_det_%d_2.pcap", (int)getpid());
  snprintf(p3, sizeof(p3), "sim_det_%d_3.pcap", (int)getpid());
  uint64_t l1, l2, l3;
  long n1 = run_faulty(1234, p1, &l1);
  long n2 = run_faulty(1234, p2, &l2);
  long n3 = run_faulty(1235, p3, &l3);
  T_CHECK(n1 > 24 + 300 * 16);
  T_CHECK(n3 > 24 + 300 * 16);
  T_EQ(n1, n2);
  T_EQ(l1, l2);
  T_CHECK(same_file(p1, p2));
  T_CHECK(!same_file(p1, p3));
  printf("  determinism: %ld-byte pcaps identical for one seed, differ for another\n", n1);
  unlink(p1);
  unlink(p2);
  unlink(p3);
}

static void test_self(void)
{
  /* A datagram to our own address loops back at once, without the link. */
  struct ustcp_link_params lp = {.latency = USTCP_MS(5), .partitioned = true};
  struct ustcp_sim *sim = pair(1, &lp, &lp);
  struct rec r;
  rec_init(&r, sim, 0, 0, 56);
  schedule(&r, 2, USTCP_MS(1));
  T_CHECK(ustcp_sim_run_until_idle(sim, USTCP_TIME_NEVER));
  T_EQ(r.replies, 2);
  T_EQ(r.rtt[0], 0);
  struct ustcp_sim_stats st;
  ustcp_sim_stats(sim, &st);
  T_EQ(st.partition_dropped, 0);
  ustcp_sim_destroy(sim);
}

static void test_bad_args(void)
{
  struct ustcp_sim *sim = ustcp_sim_create(1);
  T_EQ(ustcp_sim_add_host(sim, "x", "not-an-address", NULL), -1);
  T_EQ(ustcp_sim_add_host(sim, "x", "0.0.0.0", NULL), -1);
  int a = ustcp_sim_add_host(sim, "a", "192.0.2.1", NULL);
  T_EQ(a, 0);
  T_STREQ(ustcp_sim_host_name(sim, a), "a");
  T_EQ(ustcp_sim_host_by_stack(sim, ustcp_sim_stack(sim, a)), a);
  T_EQ(ustcp_sim_link(sim, a, a, NULL, NULL), -1);
  T_EQ(ustcp_sim_link(sim, a, 5, NULL, NULL), -1);
  int b = ustcp_sim_add_host(sim, "b", "192.0.2.2", NULL);
  T_EQ(ustcp_sim_add_host(sim, "b2", "192.0.2.2", NULL), -1); /* address taken */
  struct ustcp_link_params bad = {.loss = 1.5};
  T_EQ(ustcp_sim_link(sim, a, b, &bad, NULL), -1);
  bad = (struct ustcp_link_params){.mtu = 40};
  T_EQ(ustcp_sim_link(sim, a, b, &bad, NULL), -1);
  int l = ustcp_sim_link(sim, a, b, NULL, NULL);
  T_EQ(l, 0);
  T_EQ(ustcp_sim_link_set(sim, l, 2, &bad), -1);
  T_EQ(ustcp_sim_link_set(sim, 9, 0, &bad), -1);
  T_EQ(ustcp_sim_pcap_host(sim, a, "/nonexistent-dir/x.pcap"), -1);
  T_EQ(ustcp_sim_pcap_host(sim, a, NULL), 0);        /* stop: nothing to stop */
  T_EQ(ustcp_sim_route(sim, a, "0.0.0.0/0", l), -1); /* a is not a router */
  T_EQ(ustcp_sim_host_addr(sim, b), htonl(0xc0000202u));
  ustcp_sim_destroy(sim);

  /* A router's default address never takes a host's: with a host at
   * 192.0.2.1 it picks 192.0.2.254, and traffic to .1 reaches the host. */
  sim = ustcp_sim_create(1);
  a = ustcp_sim_add_host(sim, "a", "192.0.2.1", NULL);
  b = ustcp_sim_add_host(sim, "b", "198.51.100.1", NULL);
  int r = ustcp_sim_add_router(sim, "r");
  T_CHECK(ustcp_sim_link(sim, a, r, NULL, NULL) >= 0);
  T_CHECK(ustcp_sim_link(sim, b, r, NULL, NULL) >= 0);
  T_EQ(ustcp_sim_add_host(sim, "c", "192.0.2.254", NULL), -1); /* the router's */
  T_EQ(ustcp_sim_router_addr(sim, r, "198.51.100.1"), -1);     /* b's */
  T_EQ(ustcp_sim_router_addr(sim, r, "192.0.2.254"), 0);       /* its own */
  struct rec rr;
  rec_init(&rr, sim, b, a, 56);
  schedule(&rr, 1, 0);
  T_CHECK(ustcp_sim_run_until_idle(sim, USTCP_TIME_NEVER));
  T_EQ(rr.replies, 1);
  T_EQ(rr.last_ttl, 63);
  T_EQ(ustcp_stat(ustcp_sim_stack(sim, a), USTCP_STAT_ICMP_IN_ECHOS), 1);
  ustcp_sim_destroy(sim);
}

/* A - R1 =(MTU 576)= R2 - B, echo of 3000 bytes: A sends 1500-byte
 * fragments (DF clear), R1 cuts them again for the narrow hop, B
 * reassembles and its reply comes back the same way. */
static void test_router_fragments(void)
{
  struct ustcp_sim *sim = ustcp_sim_create(13);
  int a = ustcp_sim_add_host(sim, "a", "192.0.2.10", NULL);
  int b = ustcp_sim_add_host(sim, "b", "198.51.100.10", NULL);
  int r1 = ustcp_sim_add_router(sim, "r1");
  int r2 = ustcp_sim_add_router(sim, "r2");
  struct ustcp_link_params lp = {.latency = USTCP_MS(1)};
  struct ustcp_link_params narrow = {.latency = USTCP_MS(1), .mtu = 576};
  T_CHECK(ustcp_sim_link(sim, a, r1, &lp, &lp) >= 0);
  int l12 = ustcp_sim_link(sim, r1, r2, &narrow, &narrow);
  T_CHECK(ustcp_sim_link(sim, r2, b, &lp, &lp) >= 0);
  T_EQ(ustcp_sim_route(sim, r1, "198.51.100.0/24", l12), 0);
  T_EQ(ustcp_sim_route(sim, r2, "0.0.0.0/0", l12), 0);
  struct rec r;
  rec_init(&r, sim, a, b, 3000);
  schedule(&r, 1, 0);
  T_CHECK(ustcp_sim_run_until_idle(sim, USTCP_TIME_NEVER));
  T_EQ(r.replies, 1);
  struct ustcp_sim_stats st;
  ustcp_sim_stats(sim, &st);
  /* 3008 payload bytes leave as 1480 + 1480 + 48; the two 1500-byte
   * fragments do not fit 576 and are cut into 552 + 552 + 376 each way */
  T_EQ(st.fragmented, 4);
  T_EQ(st.mtu_dropped, 0);
  T_EQ(ustcp_stat(ustcp_sim_stack(sim, b), USTCP_STAT_IP_REASM_OKS), 1);
  T_EQ(ustcp_stat(ustcp_sim_stack(sim, a), USTCP_STAT_IP_REASM_OKS), 1);
  T_EQ(ustcp_stat(ustcp_sim_stack(sim, b), USTCP_STAT_IP_REASM_REQDS), 3 + 3 + 1);
  ustcp_sim_destroy(sim);
}

int main(void)
{
  T_RUN(test_latency_exact);
  T_RUN(test_run_until_and_order);
  T_RUN(test_run_while);
  T_RUN(test_same_time_fifo);
  T_RUN(test_latency_change);
  T_RUN(test_bandwidth_serialization);
  T_RUN(test_queue_tail_drop);
  T_RUN(test_mtu);
  T_RUN(test_loss_rate);
  T_RUN(test_corruption_caught);
  T_RUN(test_duplicate);
  T_RUN(test_reorder);
  T_RUN(test_partition);
  T_RUN(test_router);
  T_RUN(test_ttl_exceeded_and_frag_needed);
  T_RUN(test_router_fragments);
  T_RUN(test_wait);
  T_RUN(test_trace);
  T_RUN(test_pcap_stop);
  T_RUN(test_determinism);
  T_RUN(test_self);
  T_RUN(test_bad_args);
  return T_DONE();
}
