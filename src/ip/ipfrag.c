/*
 * ipfrag.c - IPv4 fragment reassembly (RFC 791 3.2, RFC 815) and
 * fragmentation of datagrams sent without DF, as Linux's
 * net/ipv4/ip_fragment.c and ip_output.c do it:
 *
 *  - a queue per (source, destination, protocol, id) collects the payload;
 *    the datagram is delivered once the last fragment (MF clear) and every
 *    byte before it have arrived, with the first fragment's header;
 *  - a fragment that only repeats bytes already held is dropped and the
 *    queue kept; one that overlaps them partly discards the whole queue
 *    (Linux inet_frag_queue_insert: IPFRAG_DUP / IPFRAG_OVERLAP, RFC 5722's
 *    rule applied to IPv4); so do a zero-length fragment, bytes past a
 *    known end, a second different end, and a datagram over 65535 bytes;
 *    a non-last fragment's length is cut to a multiple of 8;
 *  - a queue lives ipfrag_time (30 s); when it expires with the first
 *    fragment in, an ICMP time exceeded (code 1) quotes it (ip_expire);
 *  - queues may hold ipfrag_high_thresh (4 MiB) in all; past it new
 *    fragments are dropped (ReasmFails).
 * Linux's ipfrag_max_dist heuristic (a queue 64 datagrams "too far" behind
 * its peer is reset) is not modelled.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ip/ip.h"

#define FRAG_TIME USTCP_SEC(30)   /* net.ipv4.ipfrag_time */
#define FRAG_HIGH_THRESH 4194304u /* net.ipv4.ipfrag_high_thresh */
#define FRAG_HEADROOM 60          /* room for the largest IPv4 header */
#define FRAG_MAX_RUNS 64          /* holes a queue may have at once */

struct us_ipfrag {
  struct us_ipfrag *next; /* hash chain */
  struct us_timer timer;
  uint32_t src, dst;
  uint16_t id;
  uint8_t proto;
  bool bcast;
  bool last_in;       /* the fragment with MF clear arrived: `end` is known */
  uint8_t hdr_len;    /* of the first fragment (0: not arrived yet) */
  uint16_t first_len; /* payload bytes of the first fragment */
  uint32_t end;       /* payload length known so far (exact once last_in) */
  uint32_t cap;       /* payload bytes `buf` can hold */
  int nruns;
  struct {
    uint32_t lo, hi;
  } run[FRAG_MAX_RUNS]; /* received byte ranges, sorted, disjoint, not adjacent */
  uint8_t hdr[60];      /* the first fragment's header */
  uint8_t *buf;         /* FRAG_HEADROOM + cap bytes; payload at FRAG_HEADROOM */
};

static uint32_t frag_hash(const struct ustcp_stack *s, uint32_t src, uint32_t dst, uint16_t id,
                          uint8_t proto)
{
  uint8_t k[11];
  us_put32(k, src);
  us_put32(k + 4, dst);
  us_put16(k + 8, id);
  k[10] = proto;
  return (uint32_t)(us_siphash(s->secret, k, sizeof(k)) % US_IPFRAG_BUCKETS);
}

static uint64_t queue_mem(const struct us_ipfrag *q)
{
  return sizeof(*q) + (q->buf ? FRAG_HEADROOM + q->cap : 0);
}

/* Take a queue out of the table and stop its timer. */
static void queue_unlink(struct ustcp_stack *s, struct us_ipfrag *q)
{
  struct us_ipfrag **pp = &s->ip->frag[frag_hash(s, q->src, q->dst, q->id, q->proto)];
  while (*pp && *pp != q)
    pp = &(*pp)->next;
  if (*pp)
    *pp = q->next;
  q->next = NULL;
  us_timer_cancel(s, &q->timer);
}

/* Give back an unlinked queue's memory. */
static void queue_release(struct ustcp_stack *s, struct us_ipfrag *q)
{
  uint64_t m = queue_mem(q);
  s->ip->frag_mem -= m;
  s->mem_bytes -= m;
  s->ip->frag_queues--;
  free(q->buf);
  free(q);
}

static void queue_free(struct ustcp_stack *s, struct us_ipfrag *q)
{
  queue_unlink(s, q);
  queue_release(s, q);
}

/* A queue given up on: its fragments are dropped (Linux ipq_kill +
 * ReasmFails). */
static void queue_fail(struct ustcp_stack *s, struct us_ipfrag *q, enum ustcp_stat why,
                       const uint8_t *pkt, size_t len)
{
  us_stat_inc(s, USTCP_STAT_IP_REASM_FAILS);
  us_drop(s, why, pkt, len);
  queue_free(s, q);
}

static void frag_expire(struct ustcp_stack *s, struct us_timer *tm)
{
  struct us_ipfrag *q = US_CONTAINER_OF(tm, struct us_ipfrag, timer);
  us_trace_note(s, USTCP_TR_TIMER, "ipfrag_expire");
  us_stat_inc(s, USTCP_STAT_IP_REASM_TIMEOUT);
  if (q->hdr_len && !q->bcast) {
    /* Linux ip_expire(): quote the first fragment, header and payload. */
    uint8_t *d = q->buf + FRAG_HEADROOM - q->hdr_len;
    memcpy(d, q->hdr, q->hdr_len);
    us_icmp_send_time_exceeded(s, US_ICMP_EXC_FRAGTIME, d, (size_t)q->hdr_len + q->first_len);
  }
  queue_fail(s, q, USTCP_STAT_DROP_IP_FRAG_TIMEOUT, NULL, 0);
}

static struct us_ipfrag *queue_find(struct ustcp_stack *s, const struct us_ipv4_hdr *ip,
                                    bool create)
{
  struct us_ipfrag **head = &s->ip->frag[frag_hash(s, ip->src, ip->dst, ip->id, ip->proto)];
  for (struct us_ipfrag *q = *head; q; q = q->next)
    if (q->src == ip->src && q->dst == ip->dst && q->id == ip->id && q->proto == ip->proto)
      return q;
  if (!create || s->ip->frag_mem + sizeof(struct us_ipfrag) > FRAG_HIGH_THRESH)
    return NULL;
  struct us_ipfrag *q = calloc(1, sizeof(*q));
  if (!q)
    return NULL;
  q->src = ip->src;
  q->dst = ip->dst;
  q->id = ip->id;
  q->proto = ip->proto;
  us_timer_init(&q->timer, frag_expire);
  if (us_timer_arm(s, &q->timer, s->now + FRAG_TIME) < 0) {
    free(q);
    return NULL;
  }
  q->next = *head;
  *head = q;
  s->ip->frag_mem += sizeof(*q);
  s->mem_bytes += sizeof(*q);
  s->ip->frag_queues++;
  return q;
}

/* Room for payload up to `end` (grown in 2 KiB steps, within the 4 MiB
 * the queues may hold in all). */
static bool queue_reserve(struct ustcp_stack *s, struct us_ipfrag *q, uint32_t end)
{
  if (end <= q->cap)
    return true;
  uint32_t cap = (end + 2047u) & ~2047u;
  uint64_t grow = (uint64_t)cap - q->cap + (q->buf ? 0 : FRAG_HEADROOM);
  if (s->ip->frag_mem + grow > FRAG_HIGH_THRESH)
    return false;
  uint8_t *b = realloc(q->buf, FRAG_HEADROOM + (size_t)cap);
  if (!b)
    return false;
  q->buf = b;
  q->cap = cap;
  s->ip->frag_mem += grow;
  s->mem_bytes += grow;
  return true;
}

enum { INS_OK, INS_DUP, INS_OVERLAP, INS_FULL };

/* Record [lo, hi) as received (Linux inet_frag_queue_insert's rules: a
 * fragment inside what a run already holds is a duplicate, one that
 * overlaps a run partly is an overlap). */
static int runs_insert(struct us_ipfrag *q, uint32_t lo, uint32_t hi)
{
  int i = 0;
  while (i < q->nruns && q->run[i].hi < lo)
    i++;
  /* every run before i ends before lo; run[i], if any, ends at or after it */
  if (i < q->nruns && q->run[i].lo < hi && q->run[i].hi > lo)
    return lo >= q->run[i].lo && hi <= q->run[i].hi ? INS_DUP : INS_OVERLAP;
  if (i < q->nruns && q->run[i].hi == lo) {
    /* adjacent after run i: extend it, and join run i+1 if we reach it */
    if (i + 1 < q->nruns && q->run[i + 1].lo < hi)
      return INS_OVERLAP;
    q->run[i].hi = hi;
    if (i + 1 < q->nruns && q->run[i + 1].lo == hi) {
      q->run[i].hi = q->run[i + 1].hi;
      memmove(&q->run[i + 1], &q->run[i + 2], sizeof(q->run[0]) * (size_t)(q->nruns - i - 2));
      q->nruns--;
    }
    return INS_OK;
  }
  /* run[i], if any, starts at or after hi */
  if (i < q->nruns && q->run[i].lo == hi) {
    q->run[i].lo = lo;
    return INS_OK;
  }
  if (q->nruns == FRAG_MAX_RUNS)
    return INS_FULL;
  memmove(&q->run[i + 1], &q->run[i], sizeof(q->run[0]) * (size_t)(q->nruns - i));
  q->run[i].lo = lo;
  q->run[i].hi = hi;
  q->nruns++;
  return INS_OK;
}

void us_ip_defrag(struct ustcp_stack *s, const struct us_ipv4_hdr *ip, const uint8_t *pkt,
                  size_t len, bool bcast)
{
  us_stat_inc(s, USTCP_STAT_IP_REASM_REQDS); /* Linux ip_defrag(): per fragment */
  struct us_ipfrag *q = queue_find(s, ip, true);
  if (!q) {
    us_stat_inc(s, USTCP_STAT_IP_REASM_FAILS);
    us_drop(s, USTCP_STAT_DROP_IP_FRAGMENT, pkt, len);
    return;
  }
  q->bcast = bcast;
  uint32_t off = ip->frag_off;
  uint32_t plen = (uint32_t)len - ip->hdr_len;
  uint32_t end = off + plen;
  if (!ip->mf) {
    /* The last fragment: nothing may lie past it, and it is the only one. */
    if (end < q->end || (q->last_in && end != q->end)) {
      queue_fail(s, q, USTCP_STAT_DROP_IP_FRAGMENT, pkt, len);
      return;
    }
    q->last_in = true;
    q->end = end;
  } else {
    end &= ~7u; /* Linux: a non-last fragment is a multiple of 8 bytes */
    if (end > q->end) {
      if (q->last_in) {
        queue_fail(s, q, USTCP_STAT_DROP_IP_FRAGMENT, pkt, len);
        return;
      }
      q->end = end;
    }
  }
  if (end <= off) {
    queue_fail(s, q, USTCP_STAT_DROP_IP_FRAGMENT, pkt, len); /* Linux: end == offset */
    return;
  }
  uint32_t hl = off == 0 ? ip->hdr_len : (q->hdr_len ? q->hdr_len : US_IPV4_HDR_LEN);
  if (hl + end > 65535) {
    queue_fail(s, q, USTCP_STAT_DROP_IP_FRAG_TOO_BIG, pkt, len); /* Linux: oversized */
    return;
  }
  switch (runs_insert(q, off, end)) {
  case INS_DUP:
    us_drop(s, USTCP_STAT_DROP_IP_FRAG_DUP, pkt, len);
    return;
  case INS_OVERLAP:
    us_stat_inc(s, USTCP_STAT_IP_REASM_OVERLAPS);
    queue_fail(s, q, USTCP_STAT_DROP_IP_FRAG_OVERLAP, pkt, len);
    return;
  case INS_FULL:
    queue_fail(s, q, USTCP_STAT_DROP_IP_FRAGMENT, pkt, len);
    return;
  default:
    break;
  }
  if (!queue_reserve(s, q, end)) {
    queue_fail(s, q, USTCP_STAT_DROP_IP_FRAGMENT, pkt, len);
    return;
  }
  memcpy(q->buf + FRAG_HEADROOM + off, pkt + ip->hdr_len, end - off);
  if (off == 0) {
    q->hdr_len = ip->hdr_len;
    q->first_len = (uint16_t)(end - off);
    memcpy(q->hdr, pkt, ip->hdr_len);
  }
  if (!q->last_in || q->nruns != 1 || q->run[0].lo != 0 || q->run[0].hi != q->end)
    return;

  /* Complete (Linux ip_frag_reasm): the first fragment's header, the new
   * length, no fragment bits (DF as the first had it). */
  uint8_t *d = q->buf + FRAG_HEADROOM - q->hdr_len;
  size_t total = (size_t)q->hdr_len + q->end;
  memcpy(d, q->hdr, q->hdr_len);
  us_put16(d + 2, (uint16_t)total);
  us_put16(d + 6, (uint16_t)(us_get16(d + 6) & 0x4000));
  us_put16(d + 10, 0);
  us_put16(d + 10, us_csum_fold(us_csum_add(0, d, q->hdr_len)));
  struct us_ipv4_hdr whole;
  if (us_ipv4_parse(d, total, &whole) != 0) {
    queue_fail(s, q, USTCP_STAT_DROP_IP_FRAGMENT, NULL, 0);
    return;
  }
  us_stat_inc(s, USTCP_STAT_IP_REASM_OKS);
  /* The queue leaves the table first: delivery may send, never re-enter
   * reassembly with this queue. */
  queue_unlink(s, q);
  us_ip_deliver(s, &whole, d, total, bcast, NULL);
  queue_release(s, q);
}

uint64_t us_ip_reasm_bytes(const struct ustcp_stack *s) { return s->ip ? s->ip->frag_mem : 0; }

void us_ip_defrag_fini(struct ustcp_stack *s)
{
  for (int b = 0; b < US_IPFRAG_BUCKETS; b++)
    while (s->ip->frag[b])
      queue_free(s, s->ip->frag[b]);
}

int us_ip_fragment_output(struct ustcp_stack *s, size_t total)
{
  /* Linux ip_do_fragment(): each fragment carries the header and a
   * multiple of 8 payload bytes fitting the MTU; all but the last have
   * MF. The datagram is in s->scratch; fragment k's header is written over
   * the tail of fragment k-1's payload once that one has been sent (the
   * link borrows a datagram only for the output call). */
  uint8_t *p = s->scratch;
  struct us_ipv4_hdr h;
  if (us_ipv4_parse(p, total, &h) != 0)
    return -EINVAL;
  size_t hl = US_IPV4_HDR_LEN;
  size_t step = ((size_t)s->cfg.mtu - hl) & ~(size_t)7;
  size_t plen = total - hl;
  if (step < 8)
    return -EMSGSIZE;
  for (size_t off = 0; off < plen; off += step) {
    size_t n = plen - off < step ? plen - off : step;
    uint8_t *f = p + off; /* header at f, payload at f + hl = p + hl + off */
    struct us_ipv4_hdr fh = h;
    fh.total_len = (uint16_t)(hl + n);
    fh.frag_off = (uint16_t)off;
    fh.mf = off + n < plen;
    us_ipv4_emit(&fh, f);
    us_stat_inc(s, USTCP_STAT_IP_FRAG_CREATES);
    us_link_output(s, f, hl + n);
  }
  us_stat_inc(s, USTCP_STAT_IP_FRAG_OKS);
  return 0;
}
