/*
 * cc_cubic.c - CUBIC congestion control (RFC 9438), upstream Linux's
 * default: slow start as RFC 5681 until the first loss; then a window that
 * follows W(t) = C * (t - K)^3 + W_max around the window of the last loss,
 * never below the Reno-friendly estimate (RFC 9438 4.3); multiplicative
 * decrease by beta = 0.7 with fast convergence (4.7). The state is
 * allocated at the first loss (struct us_cubic).
 */
#include <math.h>

#include "tcp/tcp.h"

#define CUBIC_C 0.4    /* RFC 9438 4.1 */
#define CUBIC_BETA 0.7 /* RFC 9438 4.6 */

static uint32_t now_ms(const struct ustcp_stack *s)
{
  uint32_t ms = (uint32_t)(s->now / 1000000u);
  return ms ? ms : 1;
}

static void cubic_init(struct ustcp_stack *s, struct us_tcb *t)
{
  t->cwnd = US_TCP_INIT_CWND * (uint32_t)t->mss; /* RFC 6928 */
  t->ssthresh = UINT32_MAX / 2;
  t->cwnd_cnt = 0;
  if (t->cubic) {
    us_pool_free(&s->tcp->cc_pool, t->cubic);
    t->cubic = NULL;
  }
}

static void cubic_release(struct ustcp_stack *s, struct us_tcb *t)
{
  if (t->cubic) {
    us_pool_free(&s->tcp->cc_pool, t->cubic);
    t->cubic = NULL;
  }
}

static void reno_ca(struct us_tcb *t, uint32_t acked)
{
  t->cwnd_cnt += acked;
  if (t->cwnd_cnt >= t->cwnd) {
    t->cwnd_cnt -= t->cwnd;
    t->cwnd += t->mss;
  }
}

static void cubic_on_ack(struct ustcp_stack *s, struct us_tcb *t, uint32_t acked)
{
  const uint32_t cap = UINT32_MAX / 4;
  if (t->cwnd < t->ssthresh) {
    /* RFC 9438 4.10: slow start as RFC 5681. */
    t->cwnd += acked;
    if (t->cwnd > t->ssthresh)
      t->cwnd = t->ssthresh;
    if (t->cwnd > cap)
      t->cwnd = cap;
    return;
  }
  struct us_cubic *c = t->cubic;
  if (!c) {
    reno_ca(t, acked); /* no loss seen yet (ssthresh set by hand) */
    return;
  }
  double mss = (double)t->mss;
  uint32_t now = now_ms(s);
  if (!c->epoch_ms) {
    /* RFC 9438 4.2: a new epoch. */
    c->epoch_ms = now;
    c->w_est = t->cwnd;
    c->acked = 0;
    c->est_acked = 0;
    if (t->cwnd < c->w_max) {
      c->k_ms = (uint32_t)(cbrt((double)(c->w_max - t->cwnd) / mss / CUBIC_C) * 1000.0);
      c->origin = c->w_max;
    } else {
      c->k_ms = 0;
      c->origin = t->cwnd;
    }
  }
  /* W_cubic(t + RTT), the window one round trip ahead (RFC 9438 4.2). */
  double tsec = (double)(now - c->epoch_ms + t->srtt_us / 1000u) / 1000.0;
  double d = tsec - (double)c->k_ms / 1000.0;
  double target = (double)c->origin + CUBIC_C * d * d * d * mss;
  double cw = (double)t->cwnd;
  if (target < cw)
    target = cw;
  if (target > 1.5 * cw)
    target = 1.5 * cw;
  /* RFC 9438 4.3: Reno-friendly estimate, alpha = 3(1-beta)/(1+beta). */
  double alpha = 3.0 * (1.0 - CUBIC_BETA) / (1.0 + CUBIC_BETA);
  c->est_acked += acked;
  uint32_t est_inc = (uint32_t)(alpha * mss * (double)c->est_acked / cw);
  if (est_inc) {
    c->w_est += est_inc;
    c->est_acked = 0;
  }
  if ((double)c->w_est > target) {
    if (c->w_est > t->cwnd)
      t->cwnd = c->w_est;
  } else {
    c->acked += acked;
    uint64_t inc = (uint64_t)((target - cw) * (double)c->acked / cw);
    if (inc) {
      t->cwnd += (uint32_t)inc;
      c->acked = 0;
    }
  }
  if (t->cwnd > cap)
    t->cwnd = cap;
}

static uint32_t cubic_ssthresh(struct ustcp_stack *s, struct us_tcb *t)
{
  struct us_cubic *c = t->cubic;
  if (!c) {
    c = t->cubic = us_pool_alloc(s, &s->tcp->cc_pool);
    if (!c) { /* no memory: behave as NewReno */
      uint32_t half = (t->snd_nxt - t->snd_una) / 2;
      return half > 2u * t->mss ? half : 2u * t->mss;
    }
  }
  /* RFC 9438 4.7 fast convergence, 4.6 multiplicative decrease. */
  if (t->cwnd < c->w_max)
    c->w_max = (uint32_t)((double)t->cwnd * (1.0 + CUBIC_BETA) / 2.0);
  else
    c->w_max = t->cwnd;
  c->epoch_ms = 0;
  uint32_t th = (uint32_t)((double)t->cwnd * CUBIC_BETA);
  return th > 2u * t->mss ? th : 2u * t->mss;
}

const struct us_cc_ops *us_cc_cubic(void)
{
  static const struct us_cc_ops ops = {
      .name = "cubic",
      .init = cubic_init,
      .on_ack = cubic_on_ack,
      .ssthresh = cubic_ssthresh,
      .release = cubic_release,
  };
  return &ops;
}
