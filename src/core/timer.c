/*
 * timer.c - the stack-wide timer queue: an intrusive binary min-heap keyed by
 * (deadline, arming order). Arm/re-arm/cancel are O(log n); the tie-break on
 * arming order makes equal deadlines fire in a deterministic order.
 */
#include <errno.h>
#include <stdlib.h>

#include "core/core.h"

static bool timer_before(const struct us_timer *a, const struct us_timer *b)
{
  if (a->when != b->when)
    return a->when < b->when;
  return (int32_t)(a->order - b->order) < 0;
}

static void heap_place(struct us_timer_heap *h, uint32_t i, struct us_timer *t)
{
  h->v[i] = t;
  t->idx = i;
}

static void sift_up(struct us_timer_heap *h, uint32_t i)
{
  struct us_timer *t = h->v[i];
  while (i > 0) {
    uint32_t p = (i - 1) / 2;
    if (!timer_before(t, h->v[p]))
      break;
    heap_place(h, i, h->v[p]);
    i = p;
  }
  heap_place(h, i, t);
}

static void sift_down(struct us_timer_heap *h, uint32_t i)
{
  struct us_timer *t = h->v[i];
  for (;;) {
    uint32_t l = 2 * i + 1, r = l + 1, m = i;
    const struct us_timer *best = t;
    if (l < h->n && timer_before(h->v[l], best)) {
      m = l;
      best = h->v[l];
    }
    if (r < h->n && timer_before(h->v[r], best))
      m = r;
    if (m == i)
      break;
    heap_place(h, i, h->v[m]);
    i = m;
  }
  heap_place(h, i, t);
}

void us_timer_init(struct us_timer *t, us_timer_fn fn)
{
  t->when = 0;
  t->order = 0;
  t->idx = US_TIMER_IDLE;
  t->fn = fn;
}

static void heap_remove(struct us_timer_heap *h, uint32_t i)
{
  struct us_timer *t = h->v[i];
  t->idx = US_TIMER_IDLE;
  h->n--;
  if (i == h->n)
    return;
  struct us_timer *last = h->v[h->n];
  heap_place(h, i, last);
  if (i > 0 && timer_before(last, h->v[(i - 1) / 2]))
    sift_up(h, i);
  else
    sift_down(h, i);
}

int us_timer_arm(struct ustcp_stack *s, struct us_timer *t, ustcp_time_t when)
{
  struct us_timer_heap *h = &s->timers;
  if (us_timer_armed(t)) {
    /* Re-arm in place: one sift instead of a remove and an insert (a TCB
     * moves its deadline on almost every segment). Same keys as a fresh
     * arm, so the firing order is unchanged. */
    bool later = when > t->when;
    t->when = when;
    t->order = h->next_order++;
    if (later || t->idx == 0 || !timer_before(t, h->v[(t->idx - 1) / 2]))
      sift_down(h, t->idx);
    else
      sift_up(h, t->idx);
    return 0;
  }
  if (h->n == h->cap) {
    uint32_t ncap = h->cap ? h->cap * 2 : 64;
    struct us_timer **nv = realloc(h->v, (size_t)ncap * sizeof(*nv));
    if (!nv)
      return -ENOMEM;
    h->v = nv;
    h->cap = ncap;
  }
  t->when = when;
  t->order = h->next_order++;
  heap_place(h, h->n++, t);
  sift_up(h, t->idx);
  return 0;
}

void us_timer_cancel(struct ustcp_stack *s, struct us_timer *t)
{
  if (us_timer_armed(t))
    heap_remove(&s->timers, t->idx);
}

ustcp_time_t us_timers_next(const struct ustcp_stack *s)
{
  return s->timers.n ? s->timers.v[0]->when : USTCP_TIME_NEVER;
}

void us_timers_run(struct ustcp_stack *s)
{
  struct us_timer_heap *h = &s->timers;
  /* A handler may arm or cancel any timer, including ones at s->now; the loop
   * re-reads the heap top each time, so those fire in this call too. */
  while (h->n && h->v[0]->when <= s->now) {
    struct us_timer *t = h->v[0];
    heap_remove(h, 0);
    t->fn(s, t);
  }
}
