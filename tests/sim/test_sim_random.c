/*
 * test_sim_random.c - seeded random worlds: 2-3 hosts behind a router, every
 * link with random faults, pings and a TCP transfer between random hosts.
 * Invariants: the transfer's bytes arrive intact and in order, or the
 * connection reports an error; every socket is gone once the world is idle;
 * every packet put on a link is accounted for; the same seed gives the same
 * run (event count, clock, statistics).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/test.h"
#include "ustcp/icmp.h"
#include "ustcp/sim.h"
#include "ustcp/socket.h"

/* The test's own RNG (splitmix64), independent of the sim's. */
static uint64_t rnd(uint64_t *x)
{
  uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
static double rndp(uint64_t *x, double max)
{
  return (double)(rnd(x) >> 11) / 9007199254740992.0 * max;
}

static struct ustcp_link_params random_params(uint64_t *x)
{
  struct ustcp_link_params p = {0};
  p.latency = USTCP_MS(rnd(x) % 20);
  if (rnd(x) % 2)
    p.bandwidth_bps = 1000000ull * (1 + rnd(x) % 100);
  p.queue_limit = (uint32_t)(rnd(x) % 3 ? 0 : 5 + rnd(x) % 50);
  p.loss = rnd(x) % 2 ? rndp(x, 0.05) : 0;
  p.reorder = rnd(x) % 2 ? rndp(x, 0.05) : 0;
  p.duplicate = rnd(x) % 2 ? rndp(x, 0.03) : 0;
  p.corrupt = rnd(x) % 2 ? rndp(x, 0.03) : 0;
  return p;
}

struct outcome {
  uint64_t events, delivered, lost, corrupted;
  ustcp_time_t end;
  size_t got;
  int err;
};

static void one_world(uint64_t seed, struct outcome *o)
{
  uint64_t x = seed;
  struct ustcp_sim *sim = ustcp_sim_create(seed);
  int nh = 2 + (int)(rnd(&x) % 2);
  static const char *const addrs[] = {"192.0.2.10", "198.51.100.20", "198.51.100.30"};
  int host[3];
  for (int i = 0; i < nh; i++) {
    char name[16];
    snprintf(name, sizeof(name), "h%d", i);
    host[i] = ustcp_sim_add_host(sim, name, addrs[i], NULL);
    T_CHECK(host[i] >= 0);
  }
  int r = ustcp_sim_add_router(sim, "r");
  for (int i = 0; i < nh; i++) {
    struct ustcp_link_params a = random_params(&x), b = random_params(&x);
    T_CHECK(ustcp_sim_link(sim, host[i], r, &a, &b) >= 0);
  }
  /* Pings from random hosts to random hosts. */
  for (int i = 0; i < 20; i++) {
    int from = (int)(rnd(&x) % (uint64_t)nh), to = (int)(rnd(&x) % (uint64_t)nh);
    ustcp_ping_send(ustcp_sim_stack(sim, host[from]), ustcp_sim_host_addr(sim, host[to]), 1,
                    (uint16_t)i, (size_t)(rnd(&x) % 1400));
  }
  /* A TCP transfer host 0 -> host 1 (through the router). */
  struct ustcp_stack *sa = ustcp_sim_stack(sim, host[0]), *sb = ustcp_sim_stack(sim, host[1]);
  struct sockaddr_in ad = {.sin_family = AF_INET, .sin_port = htons(5001)};
  int lfd = ustcp_socket(sb, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  T_EQ(ustcp_bind(sb, lfd, (struct sockaddr *)&ad, sizeof(ad)), 0);
  T_EQ(ustcp_listen(sb, lfd, 4), 0);
  ad.sin_addr.s_addr = ustcp_sim_host_addr(sim, host[1]);
  int cfd = ustcp_socket(sa, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  int rc = ustcp_connect(sa, cfd, (struct sockaddr *)&ad, sizeof(ad));
  T_CHECK(rc == -1 && errno == EINPROGRESS);
  size_t total = 20000 + (size_t)(rnd(&x) % 200000), sent = 0, got = 0;
  uint8_t *src = malloc(total), *dst = malloc(total);
  for (size_t i = 0; i < total; i++)
    src[i] = (uint8_t)(i * 7 + seed);
  int afd = -1, err = 0;
  ustcp_time_t limit = ustcp_sim_now(sim) + USTCP_SEC(900);
  while (got < total && !err && ustcp_sim_now(sim) < limit) {
    bool moved = false;
    if (afd < 0) {
      afd = ustcp_accept(sb, lfd, NULL, NULL);
      moved = afd >= 0;
    }
    if (sent < total) {
      ssize_t n = ustcp_send(sa, cfd, src + sent, total - sent, MSG_DONTWAIT);
      if (n > 0) {
        sent += (size_t)n;
        moved = true;
      } else if (n < 0 && errno != EAGAIN) {
        err = errno;
      }
    }
    if (afd >= 0) {
      ssize_t n = ustcp_recv(sb, afd, dst + got, total - got, MSG_DONTWAIT);
      if (n > 0) {
        got += (size_t)n;
        moved = true;
      } else if (n == 0) {
        err = -1;
      } else if (errno != EAGAIN) {
        err = errno;
      }
    }
    if (!moved)
      ustcp_sim_run_until(sim, ustcp_sim_now(sim) + USTCP_MS(1));
  }
  /* Whatever arrived is a prefix of what was sent. */
  T_CHECK(got <= sent);
  T_CHECK(memcmp(src, dst, got) == 0);
  if (!err)
    T_EQ(got, total);
  ustcp_close(sa, cfd);
  if (afd >= 0)
    ustcp_close(sb, afd);
  ustcp_close(sb, lfd);
  T_CHECK(ustcp_sim_run_until_idle(sim, USTCP_SEC(3600)));
  for (int i = 0; i < nh; i++) {
    struct ustcp_mem_info m;
    ustcp_mem_info(ustcp_sim_stack(sim, host[i]), &m);
    T_EQ(m.sockets + m.requests + m.timewait, 0);
  }
  struct ustcp_sim_stats st;
  ustcp_sim_stats(sim, &st);
  /* Every datagram handed to the network was dropped once or arrived (a
   * duplicate arrives twice). */
  T_EQ(st.sent + st.duplicated,
       st.partition_dropped + st.mtu_dropped + st.tail_dropped + st.lost + st.arrived);
  T_CHECK(st.arrived >= st.delivered - st.local);
  o->events = st.events;
  o->delivered = st.delivered;
  o->lost = st.lost;
  o->corrupted = st.corrupted;
  o->end = ustcp_sim_now(sim);
  o->got = got;
  o->err = err;
  free(src);
  free(dst);
  ustcp_sim_destroy(sim);
}

static void test_random_worlds(void)
{
  int intact = 0;
  for (uint64_t seed = 1; seed <= 64; seed++) {
    struct outcome a = {0}, b = {0};
    one_world(seed, &a);
    one_world(seed, &b);
    T_EQ(a.events, b.events);
    T_EQ(a.end, b.end);
    T_EQ(a.delivered, b.delivered);
    T_EQ(a.lost, b.lost);
    T_EQ(a.got, b.got);
    intact += a.err == 0;
    if (getenv("SIM_VERBOSE"))
      printf("  seed %llu: %llu events, %zu bytes, %llu lost, %llu corrupted, end %.3f s\n",
             (unsigned long long)seed, (unsigned long long)a.events, a.got,
             (unsigned long long)a.lost, (unsigned long long)a.corrupted, (double)a.end / 1e9);
  }
  printf("  64 random worlds, %d transfers complete\n", intact);
  T_CHECK(intact >= 58);
}

int main(void)
{
  T_RUN(test_random_worlds);
  return T_DONE();
}
