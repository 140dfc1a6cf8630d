/*
 * timer.c - the stack-wide timer queue: an intrusive 4-ary min-heap keyed
 * by (deadline, arming order). Arm/re-arm/cancel are O(log n); the
 * tie-break on arming order makes equal deadlines fire in a deterministic
 * order (the same total order whatever the heap's shape).
 *
 * Cache behaviour (a million connections, docs/bench.md): each slot holds
 * the deadline beside the timer pointer, so a sift reads only the heap
 * array - the binary heap of pointers it replaces dereferenced two cold
 * timers per level, ~40 cache misses per pop at 1M timers. Four children
 * per node halve the depth, and the child groups are aligned to one 64-byte
 * line. What is left per level is the write of the moved timer's `idx`,
 * which does not stall the sift.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

#define D 4         /* children per node */
#define PAD (D - 1) /* slots before v[0]: children of i at v[D*i+1 ..] start a line */

static inline bool slot_before(const struct us_timer_slot *a, const struct us_timer_slot *b)
{
  if (a->when != b->when)
    return a->when < b->when;
  return (int32_t)(a->t->order - b->t->order) < 0;
}

static inline void heap_place(struct us_timer_heap *h, uint32_t i, struct us_timer_slot x)
{
  h->v[i] = x;
  x.t->idx = i;
}

static void sift_up(struct us_timer_heap *h, uint32_t i)
{
  struct us_timer_slot x = h->v[i];
  while (i > 0) {
    uint32_t p = (i - 1) / D;
    if (!slot_before(&x, &h->v[p]))
      break;
    heap_place(h, i, h->v[p]);
    i = p;
  }
  heap_place(h, i, x);
}

static void sift_down(struct us_timer_heap *h, uint32_t i)
{
  struct us_timer_slot x = h->v[i];
  for (;;) {
    uint32_t c = D * i + 1;
    if (c >= h->n)
      break;
    uint32_t end = c + D < h->n ? c + D : h->n, m = c;
    for (uint32_t k = c + 1; k < end; k++)
      if (slot_before(&h->v[k], &h->v[m]))
        m = k;
    if (!slot_before(&h->v[m], &x))
      break;
    heap_place(h, i, h->v[m]);
    i = m;
  }
  heap_place(h, i, x);
}

/* Move the heap to an array of `ncap` slots (64-byte aligned, so each
 * group of four children is one line). */
static int heap_resize(struct us_timer_heap *h, uint32_t ncap)
{
  size_t bytes = ((size_t)ncap + PAD) * sizeof(struct us_timer_slot);
  bytes = (bytes + 63) & ~(size_t)63;
  void *mem = aligned_alloc(64, bytes);
  if (!mem)
    return -ENOMEM;
  struct us_timer_slot *nv = (struct us_timer_slot *)mem + PAD;
  if (h->n)
    memcpy(nv, h->v, (size_t)h->n * sizeof(*nv));
  free(h->mem);
  h->mem = mem;
  h->v = nv;
  h->cap = ncap;
  return 0;
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
  h->v[i].t->idx = US_TIMER_IDLE;
  h->n--;
  if (i != h->n) {
    struct us_timer_slot last = h->v[h->n];
    heap_place(h, i, last);
    if (i > 0 && slot_before(&last, &h->v[(i - 1) / D]))
      sift_up(h, i);
    else
      sift_down(h, i);
  }
  /* Give memory back after a burst (a million handshakes' timers): the
   * array is counted in ustcp_mem_info. Halve at a quarter full. */
  if (h->cap > 64 && h->n < h->cap / 4)
    (void)heap_resize(h, h->cap / 2); /* on failure keep the larger array */
}

int us_timer_arm(struct ustcp_stack *s, struct us_timer *t, ustcp_time_t when)
{
  struct us_timer_heap *h = &s->timers;
  if (us_timer_armed(t)) {
    /* Re-arm in place: one sift instead of a remove and an insert (a TCB
     * moves its deadline on almost every segment). Same keys as a fresh
     * arm, so the firing order is unchanged. */
    uint32_t i = t->idx;
    bool later = when > t->when;
    t->when = when;
    t->order = h->next_order++;
    h->v[i].when = when;
    if (later || i == 0 || !slot_before(&h->v[i], &h->v[(i - 1) / D]))
      sift_down(h, i);
    else
      sift_up(h, i);
    return 0;
  }
  if (h->n == h->cap && heap_resize(h, h->cap ? h->cap * 2 : 64))
    return -ENOMEM;
  t->when = when;
  t->order = h->next_order++;
  h->v[h->n].when = when;
  h->v[h->n].t = t;
  t->idx = h->n++;
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
  return s->timers.n ? s->timers.v[0].when : USTCP_TIME_NEVER;
}

void us_timers_run(struct ustcp_stack *s)
{
  struct us_timer_heap *h = &s->timers;
  /* A handler may arm or cancel any timer, including ones at s->now; the loop
   * re-reads the heap top each time, so those fire in this call too. */
  while (h->n && h->v[0].when <= s->now) {
    struct us_timer *t = h->v[0].t;
    heap_remove(h, 0);
    t->fn(s, t);
  }
}

void us_timers_fini(struct ustcp_stack *s)
{
  free(s->timers.mem);
  s->timers.mem = NULL;
  s->timers.v = NULL;
  s->timers.n = s->timers.cap = 0;
}

size_t us_timers_bytes(const struct ustcp_stack *s)
{
  return s->timers.cap ? ((size_t)s->timers.cap + PAD) * sizeof(struct us_timer_slot) : 0;
}
