/*
 * test_sim_golden.c - golden table for the link model: fixed seeds and link
 * settings, 400 pings each, and the exact counts and end time they must
 * give. Any change to the order of RNG draws, the fault pipeline or the
 * event order shows up here; if the change is intended, regenerate the
 * table with SIM_GOLDEN_PRINT=1 and say why in the commit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/test.h"
#include "ustcp/icmp.h"
#include "ustcp/sim.h"

struct row {
  const char *name;
  uint64_t seed;
  struct ustcp_link_params p;
  /* expected */
  uint64_t delivered, lost, corrupted, duplicated, reordered, tail_dropped, replies;
  ustcp_time_t end;
};

struct pinger {
  struct ustcp_sim *sim;
  struct ustcp_stack *s;
  uint32_t dst;
  int seq;
  uint64_t replies;
};

static void on_icmp(void *user, struct ustcp_stack *s, const struct ustcp_icmp_msg *m)
{
  (void)s;
  if (m->type == 0)
    ((struct pinger *)user)->replies++;
}

static void ping(void *user)
{
  struct pinger *p = user;
  ustcp_ping_send(p->s, p->dst, 1, (uint16_t)p->seq++, 100);
}

static struct row table[] = {
    {"loss 10%", 11, {.latency = USTCP_MS(4), .loss = 0.1}},
    {"reorder+dup", 12, {.latency = USTCP_MS(4), .reorder = 0.2, .duplicate = 0.1}},
    {"1 Mbit/s, queue 4", 13, {.latency = USTCP_MS(1), .bandwidth_bps = 1000000, .queue_limit = 4}},
    {"corrupt 5%", 14, {.latency = USTCP_MS(2), .corrupt = 0.05}},
    {"everything",
     15,
     {.latency = USTCP_MS(3),
      .bandwidth_bps = 5000000,
      .queue_limit = 8,
      .loss = 0.05,
      .reorder = 0.05,
      .duplicate = 0.05,
      .corrupt = 0.05}},
};

/* Generated with SIM_GOLDEN_PRINT=1 (same order as `table`). */
struct golden {
  uint64_t delivered, lost, corrupted, duplicated, reordered, tail_dropped, replies;
  ustcp_time_t end;
};
static const struct golden golden[] = {
    {698, 69, 0, 0, 0, 0, 331, 407000000llu},    /* loss 10% */
    {928, 0, 0, 85, 189, 0, 485, 414595715llu},  /* reorder+dup */
    {788, 0, 0, 0, 0, 6, 394, 406480000llu},     /* 1 Mbit/s, queue 4 */
    {785, 0, 34, 0, 0, 0, 366, 403000000llu},    /* corrupt 5% */
    {788, 41, 37, 46, 33, 0, 368, 404409600llu}, /* everything */
};

static void test_golden(void)
{
  bool print = getenv("SIM_GOLDEN_PRINT") != NULL;
  for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
    struct row *r = &table[i];
    struct ustcp_sim *sim = ustcp_sim_create(r->seed);
    int a = ustcp_sim_add_host(sim, "a", "192.0.2.1", NULL);
    int b = ustcp_sim_add_host(sim, "b", "192.0.2.2", NULL);
    T_EQ(ustcp_sim_link(sim, a, b, &r->p, &r->p), 0);
    struct pinger pg = {
        .sim = sim, .s = ustcp_sim_stack(sim, a), .dst = ustcp_sim_host_addr(sim, b)};
    ustcp_set_icmp_hook(pg.s, on_icmp, &pg);
    for (int k = 0; k < 400; k++)
      ustcp_sim_at(sim, (ustcp_time_t)k * USTCP_MS(1), ping, &pg);
    T_CHECK(ustcp_sim_run_until_idle(sim, USTCP_TIME_NEVER));
    struct ustcp_sim_stats st;
    ustcp_sim_stats(sim, &st);
    ustcp_time_t end = ustcp_sim_now(sim);
    if (print) {
      printf("  {%llu, %llu, %llu, %llu, %llu, %llu, %llu, %llullu}, /* %s */\n",
             (unsigned long long)st.delivered, (unsigned long long)st.lost,
             (unsigned long long)st.corrupted, (unsigned long long)st.duplicated,
             (unsigned long long)st.reordered, (unsigned long long)st.tail_dropped,
             (unsigned long long)pg.replies, (unsigned long long)end, r->name);
    } else {
      const struct golden *g = &golden[i];
      printf("  %-18s delivered %4llu lost %3llu corrupted %3llu dup %3llu "
             "reordered %3llu "
             "tail %3llu replies %3llu end %.6f s\n",
             r->name, (unsigned long long)st.delivered, (unsigned long long)st.lost,
             (unsigned long long)st.corrupted, (unsigned long long)st.duplicated,
             (unsigned long long)st.reordered, (unsigned long long)st.tail_dropped,
             (unsigned long long)pg.replies, (double)end / 1e9);
      T_EQ(st.delivered, g->delivered);
      T_EQ(st.lost, g->lost);
      T_EQ(st.corrupted, g->corrupted);
      T_EQ(st.duplicated, g->duplicated);
      T_EQ(st.reordered, g->reordered);
      T_EQ(st.tail_dropped, g->tail_dropped);
      T_EQ(pg.replies, g->replies);
      T_EQ(end, g->end);
    }
    ustcp_sim_destroy(sim);
  }
}

int main(void)
{
  T_RUN(test_golden);
  return T_DONE();
}
