/*
 * tcp_rtt.c - round-trip time estimation and the retransmission timeout,
 * RFC 6298 as Linux applies it: RTO = SRTT + max(4 * RTTVAR, 200 ms)
 * (Linux tcp_rto_min), 1 s before the first sample, at most 120 s.
 */
#include "tcp/tcp.h"

void us_tcp_rtt_sample(struct us_tcb *t, uint32_t rtt_us)
{
  if (rtt_us == 0)
    rtt_us = 1;
  /* TCP_INFO tcpi_min_rtt (Linux keeps a 5-minute windowed minimum). */
  if (!t->min_rtt_us || rtt_us < t->min_rtt_us)
    t->min_rtt_us = rtt_us;
  if (!t->srtt_us) {
    /* RFC 6298 (2.2) */
    t->srtt_us = rtt_us;
    t->rttvar_us = rtt_us / 2;
  } else {
    /* RFC 6298 (2.3): beta = 1/4, alpha = 1/8 */
    uint32_t d = rtt_us > t->srtt_us ? rtt_us - t->srtt_us : t->srtt_us - rtt_us;
    t->rttvar_us = t->rttvar_us - t->rttvar_us / 4 + d / 4;
    t->srtt_us = t->srtt_us - t->srtt_us / 8 + rtt_us / 8;
  }
  uint64_t var = (uint64_t)t->rttvar_us * 4;
  uint64_t min = US_TCP_RTO_MIN / 1000;
  uint64_t rto = t->srtt_us + (var > min ? var : min);
  if (rto > US_TCP_RTO_MAX / 1000)
    rto = US_TCP_RTO_MAX / 1000;
  t->rto_us = (uint32_t)rto;
}
