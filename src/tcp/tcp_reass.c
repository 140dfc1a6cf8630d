/*
 * tcp_reass.c - out-of-order reassembly (RFC 9293 3.10.7.4 "seventh") and
 * the SACK blocks we send (RFC 2018 4). Out-of-order data is kept as at most
 * US_TCP_OFO_MAX_RANGES disjoint sorted ranges, each a byte queue; the
 * structure exists only while there is out-of-order data, and the caller
 * bounds it by the window offered. Chunks move to the receive queue by
 * splicing, not copying.
 */
#include <string.h>

#include "tcp/tcp.h"

static uint32_t r_end(const struct us_ofo_range *r) { return r->seq + (uint32_t)r->data.len; }

/* Append all of src to dst (chunks relinked; src left empty). */
static void bq_splice(struct us_bq *dst, struct us_bq *src)
{
  if (!src->head)
    return;
  if (!dst->head) {
    *dst = *src;
  } else {
    dst->tail->next = src->head;
    dst->tail = src->tail;
    dst->len += src->len;
  }
  memset(src, 0, sizeof(*src));
}

static void range_remove(struct us_ofo *o, uint32_t i)
{
  memmove(&o->r[i], &o->r[i + 1], (o->n - i - 1) * sizeof(o->r[0]));
  o->n--;
}

/* Merge range i with i+1 when they touch. */
static void try_merge(struct us_ofo *o, uint32_t i)
{
  if (i + 1 >= o->n || r_end(&o->r[i]) != o->r[i + 1].seq)
    return;
  bq_splice(&o->r[i].data, &o->r[i + 1].data);
  range_remove(o, i + 1);
}

/* Add a piece that overlaps nothing, at sorted position i. */
static int add_piece(struct ustcp_stack *s, struct us_ofo *o, uint32_t i, uint32_t seq,
                     const uint8_t *d, uint32_t len)
{
  if (i > 0 && r_end(&o->r[i - 1]) == seq) {
    size_t n = us_bq_append(s, &o->r[i - 1].data, d, len);
    o->bytes += n;
    if (n < len)
      return -1;
    try_merge(o, i - 1);
    return 0;
  }
  if (o->n >= US_TCP_OFO_MAX_RANGES)
    return -1;
  memmove(&o->r[i + 1], &o->r[i], (o->n - i) * sizeof(o->r[0]));
  o->n++;
  memset(&o->r[i], 0, sizeof(o->r[i]));
  o->r[i].seq = seq;
  size_t n = us_bq_append(s, &o->r[i].data, d, len);
  o->bytes += n;
  if (n == 0) {
    range_remove(o, i);
    return -1;
  }
  try_merge(o, i);
  return n < len ? -1 : 0;
}

int us_tcp_ofo_insert(struct ustcp_stack *s, struct us_tcb *t, uint32_t seq, const uint8_t *d,
                      uint32_t len)
{
  if (!t->ofo) {
    t->ofo = us_pool_alloc(s, &s->tcp->ofo_pool);
    if (!t->ofo)
      return -1;
  }
  struct us_ofo *o = t->ofo;
  uint32_t cur = seq, end = seq + len;
  int held = 0;
  o->last = seq;
  while (seq_lt(cur, end)) {
    uint32_t i = 0;
    while (i < o->n && seq_leq(r_end(&o->r[i]), cur))
      i++;
    if (i == o->n || seq_geq(o->r[i].seq, end)) {
      if (add_piece(s, o, i, cur, d + (cur - seq), end - cur) < 0)
        return held ? held : -1;
      held += (int)(end - cur);
      break;
    }
    if (seq_gt(o->r[i].seq, cur)) {
      uint32_t pend = o->r[i].seq;
      if (add_piece(s, o, i, cur, d + (cur - seq), pend - cur) < 0)
        return held ? held : -1;
      held += (int)(pend - cur);
      cur = pend;
      continue;
    }
    cur = r_end(&o->r[i]); /* overlap with data we hold: skip it */
  }
  if (o->n == 0 && !o->fin) {
    us_pool_free(&s->tcp->ofo_pool, o);
    t->ofo = NULL;
  }
  return held;
}

int us_tcp_ofo_fin(struct ustcp_stack *s, struct us_tcb *t, uint32_t seq)
{
  if (!t->ofo) {
    t->ofo = us_pool_alloc(s, &s->tcp->ofo_pool);
    if (!t->ofo)
      return -1;
  }
  t->ofo->fin = true;
  t->ofo->fin_seq = seq;
  t->ofo->last = seq; /* the FIN's block goes first (RFC 2018 4) */
  return 0;
}

uint32_t us_tcp_ofo_pull(struct ustcp_stack *s, struct us_tcb *t, bool *fin)
{
  struct us_ofo *o = t->ofo;
  uint32_t moved = 0;
  *fin = false;
  if (!o)
    return 0;
  uint32_t nxt = t->rcv_nxt;
  while (o->n && seq_leq(o->r[0].seq, nxt)) {
    struct us_ofo_range *r = &o->r[0];
    o->bytes -= r->data.len;
    if (seq_leq(r_end(r), nxt)) {
      us_bq_clear(s, &r->data);
    } else {
      us_bq_consume(s, &r->data, nxt - r->seq);
      uint32_t n = (uint32_t)r->data.len;
      bq_splice(&t->rcvq, &r->data);
      nxt += n;
      moved += n;
    }
    range_remove(o, 0);
  }
  if (o->fin && o->fin_seq == nxt)
    *fin = true;
  if (o->n == 0 && (!o->fin || *fin)) {
    us_pool_free(&s->tcp->ofo_pool, o);
    t->ofo = NULL;
  }
  return moved;
}

uint32_t us_tcp_ofo_prune(struct ustcp_stack *s, struct us_tcb *t)
{
  struct us_ofo *o = t->ofo;
  if (!o)
    return 0;
  uint32_t n = 0;
  if (o->n) {
    struct us_ofo_range *r = &o->r[o->n - 1];
    n = (uint32_t)r->data.len;
    o->bytes -= r->data.len;
    us_bq_clear(s, &r->data);
    o->n--;
  }
  if (!o->n) {
    us_pool_free(&s->tcp->ofo_pool, o); /* a FIN held beyond the data goes too */
    t->ofo = NULL;
  }
  return n;
}

void us_tcp_ofo_free(struct ustcp_stack *s, struct us_tcb *t)
{
  struct us_ofo *o = t->ofo;
  if (!o)
    return;
  for (uint32_t i = 0; i < o->n; i++)
    us_bq_clear(s, &o->r[i].data);
  us_pool_free(&s->tcp->ofo_pool, o);
  t->ofo = NULL;
}

uint8_t us_tcp_sack_blocks(const struct us_tcb *t, struct us_tcp_sack_block *b, uint8_t max)
{
  const struct us_ofo *o = t->ofo;
  uint8_t n = 0;
  if (!o || !max)
    return 0;
  /* A FIN held out of order is SACKed as one more sequence number: the end
   * of the range it closes, or a block of its own (Linux 6.18 checked: a
   * bare FIN at 1001 beyond a hole -> SACK 1001:1002). */
  uint32_t first = o->n;
  bool fin_alone = o->fin;
  for (uint32_t i = 0; i < o->n; i++) {
    if (o->fin && r_end(&o->r[i]) == o->fin_seq)
      fin_alone = false;
    if (first == o->n && seq_geq(o->last, o->r[i].seq) && seq_leq(o->last, r_end(&o->r[i])) &&
        (o->last != r_end(&o->r[i]) || (o->fin && o->fin_seq == o->last)))
      first = i;
  }
  if (fin_alone && o->last == o->fin_seq) {
    b[n].left = o->fin_seq;
    b[n].right = o->fin_seq + 1;
    n++;
  } else if (first < o->n) {
    b[n].left = o->r[first].seq;
    b[n].right = r_end(&o->r[first]) + (o->fin && o->fin_seq == r_end(&o->r[first]) ? 1u : 0u);
    n++;
  }
  for (uint32_t i = 0; i < o->n && n < max; i++) {
    if (i == first)
      continue;
    b[n].left = o->r[i].seq;
    b[n].right = r_end(&o->r[i]) + (o->fin && o->fin_seq == r_end(&o->r[i]) ? 1u : 0u);
    n++;
  }
  if (fin_alone && o->last != o->fin_seq && n < max) {
    b[n].left = o->fin_seq;
    b[n].right = o->fin_seq + 1;
    n++;
  }
  return n;
}
