/*
 * test_core_timer.c - the stack-wide timer heap against a reference model:
 * thousands of timers armed, re-armed and cancelled at random fire in
 * exactly (deadline, arming order) order; equal deadlines fire in arming
 * order; a handler may arm, re-arm and cancel other timers (and itself)
 * while the queue runs; the arming order survives its 32-bit wrap.
 */
#include <stdlib.h>

#include "core/core.h"
#include "harness/test.h"

static int out_count;
static int count_output(void *user, const uint8_t *pkt, size_t len)
{
  (void)user;
  (void)pkt;
  (void)len;
  out_count++;
  return 0;
}
static const struct ustcp_link_ops ops = {.output = count_output};

static struct ustcp_stack *new_stack(void)
{
  struct ustcp_config cfg;
  ustcp_config_init(&cfg);
  cfg.addr = 0x0a000001;
  cfg.link = &ops;
  char err[128];
  struct ustcp_stack *s = ustcp_stack_create(&cfg, err, sizeof err);
  if (!s)
    fprintf(stderr, "stack_create: %s\n", err);
  return s;
}

static uint64_t xs = 0x123456789abcdefull;
static uint32_t rnd(uint32_t n)
{
  xs ^= xs << 13;
  xs ^= xs >> 7;
  xs ^= xs << 17;
  return (uint32_t)((xs >> 16) % n);
}

/* ---------------------------------------------------- the random model */

#define NT 3000
struct tt {
  struct us_timer t;
  int id;
  /* model */
  bool armed;
  ustcp_time_t when;
  uint64_t order;
};
static struct tt timers[NT];
static int fired[NT * 4];
static int nfired;

static void on_fire(struct ustcp_stack *s, struct us_timer *t)
{
  (void)s;
  struct tt *x = US_CONTAINER_OF(t, struct tt, t);
  fired[nfired++] = x->id;
}

static int cmp_model(const void *a, const void *b)
{
  const struct tt *x = &timers[*(const int *)a], *y = &timers[*(const int *)b];
  if (x->when != y->when)
    return x->when < y->when ? -1 : 1;
  return x->order < y->order ? -1 : (x->order > y->order);
}

static void random_vs_model(void)
{
  struct ustcp_stack *s = new_stack();
  T_CHECK(s != NULL);
  if (!s)
    return;
  for (int i = 0; i < NT; i++) {
    us_timer_init(&timers[i].t, on_fire);
    timers[i].id = i;
    timers[i].armed = false;
  }
  uint64_t order = 0;
  int bad_order = 0, bad_next = 0, bad_armed = 0, total_fired = 0;
  static int want[NT];
  for (int step = 0; step < 400; step++) {
    /* A burst of random arms / re-arms / cancels. */
    int ops_n = 1 + (int)rnd(500);
    for (int k = 0; k < ops_n; k++) {
      struct tt *x = &timers[rnd(NT)];
      if (rnd(4) == 0) {
        us_timer_cancel(s, &x->t);
        x->armed = false;
      } else {
        /* Deadlines cluster so ties are common; some are already due. */
        ustcp_time_t when = s->now + rnd(64) * 1000;
        if (rnd(8) == 0 && s->now >= 5000)
          when = s->now - 5000;
        T_EQ(us_timer_arm(s, &x->t, when), 0);
        x->armed = true;
        x->when = when;
        x->order = order++;
      }
    }
    /* Next deadline equals the model's minimum. */
    ustcp_time_t mn = USTCP_TIME_NEVER;
    for (int i = 0; i < NT; i++)
      if (timers[i].armed && timers[i].when < mn)
        mn = timers[i].when;
    if (us_timers_next(s) != mn)
      bad_next++;
    /* Advance time and run; compare against the model's due list. */
    s->now += rnd(40) * 1000;
    int nw = 0;
    for (int i = 0; i < NT; i++)
      if (timers[i].armed && timers[i].when <= s->now)
        want[nw++] = i;
    qsort(want, (size_t)nw, sizeof want[0], cmp_model);
    nfired = 0;
    us_timers_run(s);
    if (nfired != nw || memcmp(fired, want, (size_t)nw * sizeof(int)) != 0)
      bad_order++;
    for (int i = 0; i < nw; i++)
      timers[want[i]].armed = false;
    total_fired += nfired;
    for (int i = 0; i < NT; i++)
      if (us_timer_armed(&timers[i].t) != timers[i].armed)
        bad_armed++;
  }
  T_EQ(bad_order, 0);
  T_EQ(bad_next, 0);
  T_EQ(bad_armed, 0);
  T_CHECK(total_fired > 10000); /* the model really exercised firing */
  struct ustcp_mem_info mi;
  ustcp_mem_info(s, &mi);
  uint64_t armed = 0;
  for (int i = 0; i < NT; i++)
    armed += timers[i].armed;
  T_EQ(mi.timers, armed);
  for (int i = 0; i < NT; i++)
    us_timer_cancel(s, &timers[i].t);
  T_EQ(us_timers_next(s), USTCP_TIME_NEVER);
  ustcp_stack_destroy(s);
}

static void equal_deadlines_in_arming_order(void)
{
  struct ustcp_stack *s = new_stack();
  T_CHECK(s != NULL);
  if (!s)
    return;
  int perm[100];
  for (int i = 0; i < 100; i++)
    perm[i] = i;
  for (int i = 99; i > 0; i--) {
    int j = (int)rnd((uint32_t)i + 1), t = perm[i];
    perm[i] = perm[j];
    perm[j] = t;
  }
  for (int i = 0; i < 100; i++) {
    us_timer_init(&timers[i].t, on_fire);
    timers[i].id = i;
  }
  for (int i = 0; i < 100; i++)
    us_timer_arm(s, &timers[perm[i]].t, 777);
  /* Re-arming at the same deadline moves a timer to the back. */
  us_timer_arm(s, &timers[perm[0]].t, 777);
  nfired = 0;
  s->now = 776;
  us_timers_run(s);
  T_EQ(nfired, 0); /* nothing is early */
  s->now = 777;
  us_timers_run(s);
  T_EQ(nfired, 100);
  int bad = 0;
  for (int i = 1; i < 100; i++)
    if (fired[i - 1] != perm[i])
      bad++;
  T_EQ(bad, 0);
  T_EQ(fired[99], perm[0]);
  ustcp_stack_destroy(s);
}

/* The arming order is a 32-bit counter compared wrap-safe: timers armed
 * across the wrap still fire in arming order. */
static void equal_deadlines_across_order_wrap(void)
{
  struct ustcp_stack *s = new_stack();
  T_CHECK(s != NULL);
  if (!s)
    return;
  s->timers.next_order = UINT32_MAX - 20;
  for (int i = 0; i < 50; i++) {
    us_timer_init(&timers[i].t, on_fire);
    timers[i].id = i;
    us_timer_arm(s, &timers[i].t, 1000);
  }
  T_CHECK(s->timers.next_order < 100); /* it did wrap */
  nfired = 0;
  s->now = 1000;
  us_timers_run(s);
  T_EQ(nfired, 50);
  int bad = 0;
  for (int i = 0; i < 50; i++)
    if (fired[i] != i)
      bad++;
  T_EQ(bad, 0);
  ustcp_stack_destroy(s);
}

/* ------------------------------------- handlers that touch other timers */

struct ctx {
  struct us_timer a, b, c, d;
  int fa, fb, fc, fd;
};
static struct ctx cx;

static void fire_a(struct ustcp_stack *s, struct us_timer *t)
{
  cx.fa++;
  us_timer_cancel(s, &cx.b);       /* due now, later in order: must not fire */
  us_timer_arm(s, &cx.c, s->now);  /* due now: fires in this same run */
  us_timer_arm(s, t, s->now + 10); /* re-arm self for later */
  us_timer_arm(s, &cx.d, s->now + 5);
}
static void fire_b(struct ustcp_stack *s, struct us_timer *t)
{
  (void)s;
  (void)t;
  cx.fb++;
}
static void fire_c(struct ustcp_stack *s, struct us_timer *t)
{
  (void)t;
  cx.fc++;
  us_timer_cancel(s, &cx.d); /* cancel a future timer armed by a */
}
static void fire_d(struct ustcp_stack *s, struct us_timer *t)
{
  (void)s;
  (void)t;
  cx.fd++;
}

static void handlers_rearm_and_cancel(void)
{
  struct ustcp_stack *s = new_stack();
  T_CHECK(s != NULL);
  if (!s)
    return;
  us_timer_init(&cx.a, fire_a);
  us_timer_init(&cx.b, fire_b);
  us_timer_init(&cx.c, fire_c);
  us_timer_init(&cx.d, fire_d);
  s->now = 100;
  us_timer_arm(s, &cx.a, 100);
  us_timer_arm(s, &cx.b, 100);
  us_timers_run(s);
  T_EQ(cx.fa, 1);
  T_EQ(cx.fb, 0);
  T_EQ(cx.fc, 1);
  T_EQ(cx.fd, 0);
  T_CHECK(!us_timer_armed(&cx.b));
  T_CHECK(!us_timer_armed(&cx.c));
  T_CHECK(!us_timer_armed(&cx.d));
  T_CHECK(us_timer_armed(&cx.a));
  T_EQ(us_timers_next(s), 110);
  s->now = 109;
  us_timers_run(s);
  T_EQ(cx.fa, 1);
  s->now = 110;
  us_timers_run(s);
  T_EQ(cx.fa, 2);
  T_EQ(cx.fc, 2);
  /* Destroying a stack with armed timers frees the heap (ASan checks). */
  ustcp_stack_destroy(s);
}

int main(void)
{
  T_RUN(random_vs_model);
  T_RUN(equal_deadlines_in_arming_order);
  T_RUN(equal_deadlines_across_order_wrap);
  T_RUN(handlers_rearm_and_cancel);
  T_EQ(out_count, 0); /* no stack in this test sent anything */
  return T_DONE();
}
