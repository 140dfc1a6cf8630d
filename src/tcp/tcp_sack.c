/*
 * tcp_sack.c - the sender's SACK scoreboard (RFC 2018, RFC 6675): what the
 * peer reported holding above SND.UNA, as sorted disjoint ranges. Allocated
 * only while there is SACK information; used to skip SACKed data when
 * retransmitting and to estimate the pipe.
 */
#include <string.h>

#include "tcp/tcp.h"

static void sb_insert(struct us_sackb *sb, uint32_t l, uint32_t r)
{
  uint32_t i = 0;
  while (i < sb->n && seq_lt(sb->b[i].right, l))
    i++;
  /* merge every block overlapping or touching [l, r) */
  uint32_t j = i;
  while (j < sb->n && seq_leq(sb->b[j].left, r)) {
    l = seq_min(l, sb->b[j].left);
    r = seq_max(r, sb->b[j].right);
    j++;
  }
  if (j > i) {
    sb->b[i].left = l;
    sb->b[i].right = r;
    memmove(&sb->b[i + 1], &sb->b[j], (sb->n - j) * sizeof(sb->b[0]));
    sb->n -= j - i - 1;
    return;
  }
  if (sb->n == US_TCP_SACK_MAX_RANGES) {
    if (i == sb->n)
      return; /* losing the highest block only costs a retransmission */
    sb->n--;
  }
  memmove(&sb->b[i + 1], &sb->b[i], (sb->n - i) * sizeof(sb->b[0]));
  sb->b[i].left = l;
  sb->b[i].right = r;
  sb->n++;
}

void us_tcp_sack_update(struct ustcp_stack *s, struct us_tcb *t, const struct us_tcp_opts *o)
{
  for (uint8_t k = 0; k < o->nsack; k++) {
    uint32_t l = o->sack[k].left, r = o->sack[k].right;
    /* RFC 2018 / RFC 2883: ignore D-SACKs and blocks outside what we sent. */
    if (!seq_lt(l, r) || seq_leq(r, t->snd_una) || seq_gt(r, t->snd_nxt))
      continue;
    if (seq_lt(l, t->snd_una))
      l = t->snd_una;
    if (!t->sack) {
      t->sack = us_pool_alloc(s, &s->tcp->sack_pool);
      if (!t->sack)
        return;
    }
    sb_insert(t->sack, l, r);
  }
}

void us_tcp_sack_ack(struct ustcp_stack *s, struct us_tcb *t)
{
  struct us_sackb *sb = t->sack;
  uint32_t i = 0;
  while (i < sb->n && seq_leq(sb->b[i].right, t->snd_una))
    i++;
  if (i) {
    memmove(&sb->b[0], &sb->b[i], (sb->n - i) * sizeof(sb->b[0]));
    sb->n -= i;
  }
  if (sb->n && seq_lt(sb->b[0].left, t->snd_una))
    sb->b[0].left = t->snd_una;
  if (!sb->n)
    us_tcp_sack_free(s, t);
}

uint32_t us_tcp_sacked_bytes(const struct us_tcb *t, uint32_t from, uint32_t to)
{
  const struct us_sackb *sb = t->sack;
  uint32_t sum = 0;
  if (!sb)
    return 0;
  for (uint32_t i = 0; i < sb->n; i++) {
    uint32_t l = seq_max(sb->b[i].left, from), r = seq_min(sb->b[i].right, to);
    if (seq_lt(l, r))
      sum += r - l;
  }
  return sum;
}

uint32_t us_tcp_sack_highest(const struct us_tcb *t)
{
  const struct us_sackb *sb = t->sack;
  if (!sb || !sb->n)
    return t->snd_una;
  return sb->b[sb->n - 1].right;
}

uint32_t us_tcp_sack_next_hole(const struct us_tcb *t, uint32_t seq, uint32_t limit, uint32_t *len)
{
  const struct us_sackb *sb = t->sack;
  *len = 0;
  if (!sb) {
    if (seq_lt(seq, limit))
      *len = limit - seq;
    return seq;
  }
  for (uint32_t i = 0; i < sb->n; i++) {
    if (seq_leq(sb->b[i].right, seq))
      continue;
    if (seq_leq(sb->b[i].left, seq)) {
      seq = sb->b[i].right;
      continue;
    }
    uint32_t end = seq_min(sb->b[i].left, limit);
    if (seq_lt(seq, end))
      *len = end - seq;
    return seq;
  }
  if (seq_lt(seq, limit))
    *len = limit - seq;
  return seq;
}

void us_tcp_sack_free(struct ustcp_stack *s, struct us_tcb *t)
{
  if (!t->sack)
    return;
  us_pool_free(&s->tcp->sack_pool, t->sack);
  t->sack = NULL;
}
