/*
 * tcp.c - the TCP layer's tables and the TCB life cycle: the 4-tuple hash
 * (TCBs, SYN-queue requests, TIME_WAIT entries), the port table (bind),
 * allocation, state changes (traced), and teardown.
 *
 * Lifetime rule: a TCB is freed only when it is CLOSED and neither a
 * descriptor (fd_refs, kept by src/socket through TF_ORPHAN) nor a
 * listener's accept queue refers to it (us_tcb_maybe_free). Functions that
 * may free a TCB return it, or NULL when it is gone (FreeBSD tp = tcp_close(tp)).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tcp/tcp.h"

static uint32_t port_hash(const struct us_tcp *tc, uint16_t port)
{
  return (uint32_t)us_tcp_mix64(port ^ tc->hash_seed) & tc->bhash_mask;
}

int us_tcp_init(struct ustcp_stack *s)
{
  struct us_tcp *tc = calloc(1, sizeof(*tc));
  if (!tc)
    return -ENOMEM;
  s->tcp = tc;
  tc->ehash_mask = 255;
  tc->ehash = calloc(tc->ehash_mask + 1, sizeof(*tc->ehash));
  tc->bhash_mask = 255;
  tc->bhash = calloc(tc->bhash_mask + 1, sizeof(*tc->bhash));
  if (!tc->ehash || !tc->bhash)
    return -ENOMEM;
  us_pool_init(&tc->tcb_pool, sizeof(struct us_tcb), 64);
  us_pool_init(&tc->req_pool, sizeof(struct us_req), 64);
  us_pool_init(&tc->tw_pool, sizeof(struct us_tw), 64);
  us_pool_init(&tc->ofo_pool, sizeof(struct us_ofo), 4);
  us_pool_init(&tc->sack_pool, sizeof(struct us_sackb), 8);
  us_pool_init(&tc->listen_pool, sizeof(struct us_listen), 16);
  us_pool_init(&tc->cc_pool, sizeof(struct us_cubic), 64);
  us_tcp_tw_init(s);
  us_pool_init(&tc->skb_pool, sizeof(struct us_sndskb), 16);
  tc->hash_seed = us_rng_next(&s->rng);
  tc->port_hint = us_rng_u32(&s->rng);
  /* CUBIC, upstream Linux's default (RFC 9438). */
  tc->cc = us_cc_cubic();
  return 0;
}

void us_tcp_fini(struct ustcp_stack *s)
{
  struct us_tcp *tc = s->tcp;
  if (!tc)
    return;
  us_pool_fini(&tc->tcb_pool);
  us_pool_fini(&tc->req_pool);
  us_pool_fini(&tc->tw_pool);
  us_pool_fini(&tc->ofo_pool);
  us_pool_fini(&tc->sack_pool);
  us_pool_fini(&tc->listen_pool);
  us_pool_fini(&tc->cc_pool);
  us_pool_fini(&tc->skb_pool);
  free(tc->ehash);
  free(tc->bhash);
  free(tc);
  s->tcp = NULL;
}

void us_tcp_mem_info(const struct ustcp_stack *s, struct ustcp_mem_info *out)
{
  const struct us_tcp *tc = s->tcp;
  if (!tc)
    return;
  out->sockets = tc->n_tcb;
  out->requests = tc->n_req;
  out->timewait = tc->n_tw;
  out->bytes_total += (uint64_t)(tc->ehash_mask + 1 + tc->bhash_mask + 1) * sizeof(void *);
}

uint32_t us_tcp_new_conn_id(struct ustcp_stack *s)
{
  uint32_t id = ++s->tcp->next_conn_id;
  if (id == 0)
    id = ++s->tcp->next_conn_id;
  return id;
}

/* ------------------------------------------------------------ 4-tuple hash */

static void ehash_grow(struct ustcp_stack *s)
{
  struct us_tcp *tc = s->tcp;
  uint32_t nmask = tc->ehash_mask * 2 + 1;
  struct us_ent **nv = calloc((size_t)nmask + 1, sizeof(*nv));
  if (!nv)
    return; /* keep the old table: longer chains, still correct */
  for (uint32_t i = 0; i <= tc->ehash_mask; i++) {
    struct us_ent *e = tc->ehash[i];
    while (e) {
      struct us_ent *n = e->hnext;
      uint32_t h = us_tcp_hash4(tc, e->laddr, e->lport, e->raddr, e->rport) & nmask;
      e->hnext = nv[h];
      nv[h] = e;
      e = n;
    }
  }
  free(tc->ehash);
  tc->ehash = nv;
  tc->ehash_mask = nmask;
}

int us_tcp_hash_insert(struct ustcp_stack *s, struct us_ent *e)
{
  struct us_tcp *tc = s->tcp;
  if (e->hashed)
    return 0;
  if (tc->ehash_count > tc->ehash_mask)
    ehash_grow(s);
  uint32_t h = us_tcp_hash4(tc, e->laddr, e->lport, e->raddr, e->rport) & tc->ehash_mask;
  e->hnext = tc->ehash[h];
  tc->ehash[h] = e;
  e->hashed = 1;
  tc->ehash_count++;
  return 0;
}

void us_tcp_hash_remove(struct ustcp_stack *s, struct us_ent *e)
{
  struct us_tcp *tc = s->tcp;
  if (!e->hashed)
    return;
  uint32_t h = us_tcp_hash4(tc, e->laddr, e->lport, e->raddr, e->rport) & tc->ehash_mask;
  for (struct us_ent **pp = &tc->ehash[h]; *pp; pp = &(*pp)->hnext) {
    if (*pp == e) {
      *pp = e->hnext;
      break;
    }
  }
  e->hnext = NULL;
  e->hashed = 0;
  tc->ehash_count--;
}

struct us_ent *us_tcp_lookup_h(struct ustcp_stack *s, uint32_t h, uint32_t la, uint16_t lp,
                               uint32_t ra, uint16_t rp)
{
  struct us_tcp *tc = s->tcp;
  for (struct us_ent *e = tc->ehash[h & tc->ehash_mask]; e; e = e->hnext)
    if (e->lport == lp && e->rport == rp && e->raddr == ra && e->laddr == la)
      return e;
  return NULL;
}

struct us_ent *us_tcp_lookup(struct ustcp_stack *s, uint32_t la, uint16_t lp, uint32_t ra,
                             uint16_t rp)
{
  return us_tcp_lookup_h(s, us_tcp_hash4(s->tcp, la, lp, ra, rp), la, lp, ra, rp);
}

/* ---------------------------------------------------------------- ports */

static void bhash_grow(struct ustcp_stack *s)
{
  struct us_tcp *tc = s->tcp;
  uint32_t nmask = tc->bhash_mask * 2 + 1;
  struct us_ent **nv = calloc((size_t)nmask + 1, sizeof(*nv));
  if (!nv)
    return; /* keep the old table: longer chains, still correct */
  uint32_t omask = tc->bhash_mask;
  tc->bhash_mask = nmask;
  for (uint32_t i = 0; i <= omask; i++) {
    struct us_ent *e = tc->bhash[i];
    while (e) {
      struct us_ent *n = e->bnext;
      uint32_t h = port_hash(tc, e->lport);
      e->bnext = nv[h];
      nv[h] = e;
      e = n;
    }
  }
  free(tc->bhash);
  tc->bhash = nv;
}

/* The port table grows with what it holds, so the chain of a port holds
 * (nearly) only that port's owners (Linux inet_bind_bucket). */
void us_tcp_bind_insert(struct ustcp_stack *s, struct us_ent *e)
{
  struct us_tcp *tc = s->tcp;
  if (e->bound)
    return;
  if (tc->bhash_count > tc->bhash_mask)
    bhash_grow(s);
  uint32_t h = port_hash(tc, e->lport);
  e->bnext = tc->bhash[h];
  tc->bhash[h] = e;
  e->bound = 1;
  tc->bhash_count++;
}

void us_tcp_bind_remove(struct ustcp_stack *s, struct us_ent *e)
{
  struct us_tcp *tc = s->tcp;
  if (!e->bound)
    return;
  uint32_t h = port_hash(tc, e->lport);
  for (struct us_ent **pp = &tc->bhash[h]; *pp; pp = &(*pp)->bnext) {
    if (*pp == e) {
      *pp = e->bnext;
      break;
    }
  }
  e->bnext = NULL;
  e->bound = 0;
  tc->bhash_count--;
}

/* The chain holding `port` (other ports may share it: callers compare). */
struct us_ent *us_tcp_bind_chain(struct ustcp_stack *s, uint16_t port)
{
  return s->tcp->bhash[port_hash(s->tcp, port)];
}

static uint32_t lhash_of(uint16_t port) { return (uint32_t)(port ^ (port >> 8)) & 255u; }

void us_tcp_listener_insert(struct ustcp_stack *s, struct us_listen *lq)
{
  struct us_listen **head = &s->tcp->lhash[lhash_of(lq->owner->e.lport)];
  lq->lnext = *head;
  *head = lq;
}

void us_tcp_listener_remove(struct ustcp_stack *s, struct us_listen *lq)
{
  for (struct us_listen **pp = &s->tcp->lhash[lhash_of(lq->owner->e.lport)]; *pp;
       pp = &(*pp)->lnext) {
    if (*pp == lq) {
      *pp = lq->lnext;
      break;
    }
  }
  lq->lnext = NULL;
}

/* Listeners only: a SYN never walks the established children of a port. */
struct us_tcb *us_tcp_lookup_listener(struct ustcp_stack *s, uint32_t la, uint16_t lp)
{
  struct us_tcb *any = NULL;
  for (struct us_listen *lq = s->tcp->lhash[lhash_of(lp)]; lq; lq = lq->lnext) {
    struct us_tcb *t = lq->owner;
    if (t->e.lport != lp || t->state != USTCP_TCP_LISTEN)
      continue;
    if (t->e.laddr == la)
      return t;
    if (t->e.laddr == 0)
      any = t;
  }
  return any;
}

/* ------------------------------------------------------------ TCB life */

struct us_tcb *us_tcb_alloc(struct ustcp_stack *s)
{
  struct us_tcp *tc = s->tcp;
  struct us_tcb *t = us_pool_alloc(s, &tc->tcb_pool);
  if (!t)
    return NULL;
  t->e.kind = US_ENT_TCB;
  t->state = USTCP_TCP_CLOSE;
  us_tcb_timer_init(t);
  t->rto_us = (uint32_t)(US_TCP_RTO_INIT / 1000);
  t->mss = US_TCP_DEFAULT_MSS;
  t->rcv_mss = US_TCP_DEFAULT_MSS;
  t->scaling_ratio = US_TCP_DEFAULT_SCALING_RATIO;
  t->linger2 = 0;
  t->keepidle = (uint16_t)s->cfg.keepalive_time;
  t->keepintvl = (uint16_t)s->cfg.keepalive_intvl;
  t->keepcnt = (uint8_t)s->cfg.keepalive_probes;
  t->rcvbuf = s->cfg.rmem[1];
  t->sndbuf = s->cfg.wmem[1];
  tc->n_tcb++;
  return t;
}

static void tcb_release(struct ustcp_stack *s, struct us_tcb *t)
{
  us_tcb_timers_stop(s, t);
  us_bq_clear(s, &t->sndq);
  us_bq_clear(s, &t->rcvq);
  us_tcp_ofo_free(s, t);
  us_tcp_sack_free(s, t);
  us_tcp_sndskb_free(s, t);
  if (s->tcp->cc->release)
    s->tcp->cc->release(s, t);
}

struct us_tcb *us_tcb_maybe_free(struct ustcp_stack *s, struct us_tcb *t)
{
  if (t->state != USTCP_TCP_CLOSE || !(t->flags & TF_ORPHAN) || (t->flags & TF_IN_ACCEPTQ))
    return t;
  tcb_release(s, t);
  us_tcp_hash_remove(s, &t->e);
  us_tcp_bind_remove(s, &t->e);
  if (t->lq) {
    us_tcp_listener_remove(s, t->lq);
    us_pool_free(&s->tcp->listen_pool, t->lq);
  }
  t->lq = NULL;
  s->tcp->n_tcb--;
  us_pool_free(&s->tcp->tcb_pool, t);
  return NULL;
}

void us_tcp_trace_state(struct ustcp_stack *s, const struct us_ent *e, int old_state, int new_state)
{
  if (us_tracing(s))
    us_trace_state(s, e->conn_id, e->laddr, e->lport, e->raddr, e->rport, old_state, new_state);
}

void us_tcb_set_state(struct ustcp_stack *s, struct us_tcb *t, int state)
{
  int old = t->state;
  if (old == state)
    return;
  t->state = (uint8_t)state;
  if (state == USTCP_TCP_ESTABLISHED)
    t->flags |= TF_EVER_CONN;
  if (!t->e.conn_id)
    t->e.conn_id = us_tcp_new_conn_id(s);
  us_tcp_trace_state(s, &t->e, old, state);
}

struct us_tcb *us_tcp_done(struct ustcp_stack *s, struct us_tcb *t)
{
  if (t->state == USTCP_TCP_LISTEN)
    us_tcp_listen_stop(s, t);
  us_tcb_set_state(s, t, USTCP_TCP_CLOSE);
  us_tcb_timers_stop(s, t);
  us_bq_clear(s, &t->sndq);
  us_tcp_ofo_free(s, t);
  us_tcp_sack_free(s, t);
  t->flags |= TF_SHUT_RD | TF_SHUT_WR; /* Linux tcp_done: SHUTDOWN_MASK */
  us_tcp_hash_remove(s, &t->e);
  /* Linux keeps the port bound while a descriptor holds the socket (bind
   * bucket); an auto-bound port is released with the connection. */
  if (t->flags & TF_AUTOBIND)
    us_tcp_bind_remove(s, &t->e);
  return us_tcb_maybe_free(s, t);
}

struct us_tcb *us_tcp_reset(struct ustcp_stack *s, struct us_tcb *t, int err)
{
  t->so_error = (uint8_t)err;
  t->flags |= TF_RESET;
  /* Linux tcp_reset(): data already queued stays readable (before the
   * error); only the send queue is purged. */
  return us_tcp_done(s, t);
}

bool us_tcp_is_sync(int state)
{
  switch (state) {
  case USTCP_TCP_ESTABLISHED:
  case USTCP_TCP_FIN_WAIT1:
  case USTCP_TCP_FIN_WAIT2:
  case USTCP_TCP_CLOSE_WAIT:
  case USTCP_TCP_CLOSING:
  case USTCP_TCP_LAST_ACK:
  case USTCP_TCP_SYN_RECV:
    return true;
  default:
    return false;
  }
}

/* ---------------------------------------------------------- buffer sizes */

/* Linux 6.18 tcp_full_space(): the window the whole receive buffer allows,
 * half of it until a full-sized segment taught the scaling ratio
 * (TCP_DEFAULT_SCALING_RATIO: tcp_rmem[1] = 131072 -> 65536 of window). */
uint32_t us_tcp_rcv_space(const struct us_tcb *t)
{
  return us_tcp_win_from_space(t, (uint32_t)t->rcvbuf);
}

uint32_t us_tcp_win_from_space(const struct us_tcb *t, uint64_t space)
{
  return (uint32_t)((space * t->scaling_ratio) >> 8);
}

uint64_t us_tcp_space_from_win(const struct us_tcb *t, uint32_t win)
{
  return ((uint64_t)win << 8) / (t->scaling_ratio ? t->scaling_ratio : 1);
}

/* Linux: tun_get_user() allocates a linear skb of NET_SKB_PAD + the
 * datagram (sock_alloc_send_pskb); __alloc_skb() rounds the head with the
 * shared info (320 bytes) to a kmalloc size (heads up to 640 bytes come
 * from skb_small_head_cache) and adds the sk_buff (256): the truesize.
 * Drivers differ; this is the estimate the receive window is computed with
 * (docs/linux-differences.md). */
uint32_t us_tcp_truesize(uint32_t len, uint32_t hdr)
{
  uint32_t head = ((64u + hdr + len + 63u) & ~63u) + 320u;
  uint32_t sz = 640;
  while (sz < head)
    sz = sz < 1024 ? 1024 : sz * 2;
  return sz + 256u;
}

/* Linux tcp_space(): the window for the free part of the receive buffer.
 * The buffer holds skbs, not bytes: the bytes held (in order and out of
 * order) are counted as segments of the current segment-size estimate
 * (rcv_mss), each at the truesize of such a segment; Linux charges each
 * skb's own truesize (and coalesces some), which this does not track. */
uint32_t us_tcp_free_space(const struct us_tcb *t)
{
  uint64_t held = t->rcvq.len + (t->ofo ? t->ofo->bytes : 0);
  uint32_t seg = t->rcv_mss ? t->rcv_mss : US_TCP_DEFAULT_MSS;
  uint32_t hdr = 40u + ((t->flags & TF_TS_OK) ? 12u : 0u);
  uint64_t rmem = (held + seg - 1) / seg * us_tcp_truesize(seg, hdr);
  if (rmem >= (uint64_t)(uint32_t)t->rcvbuf)
    return 0;
  return us_tcp_win_from_space(t, (uint32_t)t->rcvbuf - rmem);
}

uint32_t us_tcp_snd_space(const struct ustcp_stack *s, const struct us_tcb *t)
{
  if (t->flags & TF_SNDBUF_LOCK)
    return (uint32_t)t->sndbuf;
  /* Linux tcp_sndbuf_expand: room for about two congestion windows. */
  uint64_t want = (uint64_t)t->cwnd * 2 + (uint64_t)t->mss * 4;
  if (want < (uint64_t)t->sndbuf)
    want = (uint64_t)t->sndbuf;
  if (want > (uint64_t)s->cfg.wmem[2])
    want = (uint64_t)s->cfg.wmem[2];
  return (uint32_t)want;
}

uint32_t us_tcp_window_clamp(const struct ustcp_stack *s, const struct us_tcb *t)
{
  /* Linux tcp_measure_rcv_mss(): a new scaling ratio sets the clamp to
   * tcp_win_from_space(rcvbuf) (tcp_set_window_clamp), no reserve. */
  if (t->clamp_full)
    return t->rcv_space;
  uint32_t adv = (uint32_t)s->cfg.mtu - 40 - ((t->flags & TF_TS_OK) ? 12 : 0);
  /* tcp_init_buffer_space(): max(2 * advmss, maxwin - advmss) */
  if (t->rcv_space > 2 * adv)
    return t->rcv_space - adv > 2 * adv ? t->rcv_space - adv : 2 * adv;
  return t->rcv_space;
}

void us_tcp_init_buffers(struct ustcp_stack *s, struct us_tcb *t)
{
  (void)s;
  t->rcv_space = us_tcp_rcv_space(t);
}
