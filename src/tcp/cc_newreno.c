/*
 * cc_newreno.c - NewReno congestion control (RFC 5681, RFC 6582): slow
 * start from an initial window of 10 segments (RFC 6928), congestion
 * avoidance of one MSS per window, ssthresh = max(FlightSize / 2, 2 * MSS).
 */
#include "tcp/tcp.h"

static void nr_init(struct ustcp_stack *s, struct us_tcb *t)
{
  (void)s;
  t->cwnd = US_TCP_INIT_CWND * (uint32_t)t->mss; /* RFC 6928 */
  t->ssthresh = UINT32_MAX / 2;                  /* RFC 5681 3.1: arbitrarily high */
  t->cwnd_cnt = 0;
}

static void nr_on_ack(struct ustcp_stack *s, struct us_tcb *t, uint32_t acked)
{
  (void)s;
  uint32_t cap = UINT32_MAX / 4;
  if (t->cwnd < t->ssthresh) {
    /* RFC 5681 (2) slow start (Linux: grow by what was ACKed). */
    t->cwnd += acked;
    if (t->cwnd > t->ssthresh && t->ssthresh > 0)
      t->cwnd = t->ssthresh + (t->cwnd - t->ssthresh) / 2;
  } else {
    /* RFC 5681 (3): cwnd += SMSS*SMSS/cwnd per ACK, counted in bytes. */
    t->cwnd_cnt += acked;
    if (t->cwnd_cnt >= t->cwnd) {
      t->cwnd_cnt -= t->cwnd;
      t->cwnd += t->mss;
    }
  }
  if (t->cwnd > cap)
    t->cwnd = cap;
}

static uint32_t nr_ssthresh(struct ustcp_stack *s, struct us_tcb *t)
{
  (void)s;
  uint32_t flight = t->snd_nxt - t->snd_una;
  uint32_t half = flight / 2;
  uint32_t min = 2u * t->mss;
  return half > min ? half : min; /* RFC 5681 (4) */
}

const struct us_cc_ops *us_cc_newreno(void)
{
  static const struct us_cc_ops ops = {
      .name = "newreno",
      .init = nr_init,
      .on_ack = nr_on_ack,
      .ssthresh = nr_ssthresh,
      .release = NULL,
  };
  return &ops;
}
