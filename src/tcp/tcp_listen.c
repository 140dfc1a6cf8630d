/*
 * tcp_listen.c - listening sockets: the SYN queue of light request entries
 * (struct us_req, SYN_RECV, with their own SYN-ACK retransmit timer) and the
 * FIFO accept queue of established children (SPEC §1.1, Linux
 * request_sock_queue). A full TCB is made only when the handshake completes.
 *
 * Linux rules kept: backlog capped at somaxconn; the accept queue is full
 * when its length is greater than backlog, the SYN queue when it holds more
 * than backlog requests. SYN queue full -> SYN dropped (TCPReqQFullDrop,
 * ListenDrops); accept queue full -> SYN dropped and the completing ACK
 * dropped with the request kept (ListenOverflows, ListenDrops), or with
 * abort_on_overflow a RST (EmbryonicRsts). Closing a listener resets its
 * unaccepted children and (seed) its requests.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tcp/tcp.h"

static void req_timer_fire(struct ustcp_stack *s, struct us_timer *tm);

static void drop(struct ustcp_stack *s, const struct us_seg *sg, enum ustcp_stat why)
{
  us_drop(s, why, sg->dgram, sg->dglen);
}

/* Linux tcp_select_initial_window(): the window offered in SYN/SYN-ACK is
 * the receive space rounded down to a multiple of the MSS. */
static uint32_t initial_rwnd(uint32_t space, uint32_t mss)
{
  if (space > mss)
    space = (space / mss) * mss;
  return space;
}

int us_tcp_listen_start(struct ustcp_stack *s, struct us_tcb *t, int backlog)
{
  /* Linux: backlog is capped at somaxconn (and negative means somaxconn
   * too, as an unsigned compare). */
  if (backlog < 0 || backlog > s->cfg.somaxconn)
    backlog = s->cfg.somaxconn;
  if (!t->lq) {
    t->lq = us_pool_alloc(s, &s->tcp->listen_pool);
    if (!t->lq)
      return -ENOBUFS;
    t->lq->owner = t;
    us_tcp_listener_insert(s, t->lq);
  }
  t->lq->backlog = backlog;
  return 0;
}

struct us_tcb *us_tcp_accept_pop(struct ustcp_stack *s, struct us_tcb *l)
{
  (void)s;
  struct us_listen *lq = l->lq;
  if (!lq || !lq->aq_head)
    return NULL;
  struct us_tcb *c = lq->aq_head;
  lq->aq_head = c->aq_next;
  if (!lq->aq_head)
    lq->aq_tail = NULL;
  c->aq_next = NULL;
  lq->aq_len--;
  c->flags &= ~(TF_IN_ACCEPTQ | TF_ORPHAN);
  return c;
}

static void req_unlink(struct ustcp_stack *s, struct us_req *r)
{
  struct us_tcb *l = r->listener;
  if (l && l->lq) {
    if (r->lprev)
      r->lprev->lnext = r->lnext;
    else
      l->lq->reqs = r->lnext;
    if (r->lnext)
      r->lnext->lprev = r->lprev;
    l->lq->syn_qlen--;
  }
  r->listener = NULL;
  r->lprev = r->lnext = NULL;
  us_tcp_hash_remove(s, &r->e);
}

void us_tcp_req_free(struct ustcp_stack *s, struct us_req *r)
{
  req_unlink(s, r);
  us_timer_cancel(s, &r->timer);
  s->tcp->n_req--;
  us_pool_free(&s->tcp->req_pool, r);
}

/* The request leaves SYN_RECV for CLOSE (trace) and is freed. */
static void req_drop(struct ustcp_stack *s, struct us_req *r)
{
  us_tcp_trace_state(s, &r->e, USTCP_TCP_SYN_RECV, USTCP_TCP_CLOSE);
  us_tcp_req_free(s, r);
}

void us_tcp_listen_stop(struct ustcp_stack *s, struct us_tcb *l)
{
  struct us_listen *lq = l->lq;
  if (!lq)
    return;
  /* Unaccepted children: RST+ACK seq = SND.NXT, ack = RCV.NXT (Linux
   * inet_csk_listen_stop -> tcp_disconnect). */
  struct us_tcb *c;
  while ((c = us_tcp_accept_pop(s, l)) != NULL) {
    c->flags |= TF_ORPHAN;
    if (us_tcp_is_sync(c->state))
      us_tcp_send_rst_abort(s, c);
    us_tcp_done(s, c);
  }
  /* Requests (seed, SPEC §1.2): RST at once. */
  while (lq->reqs) {
    struct us_req *r = lq->reqs;
    us_tcp_send_raw(s, r->e.laddr, r->e.lport, r->e.raddr, r->e.rport, r->iss + 1, r->irs + 1,
                    US_TCP_RST | US_TCP_ACK, 0, NULL);
    req_drop(s, r);
  }
  us_tcp_listener_remove(s, l->lq);
  us_pool_free(&s->tcp->listen_pool, l->lq);
  l->lq = NULL;
}

static bool acceptq_full(const struct us_listen *lq) { return (int)lq->aq_len > lq->backlog; }

static struct us_tcb *req_to_child(struct ustcp_stack *s, struct us_tcb *l, struct us_req *r,
                                   struct us_seg *sg);

/* ------------------------------------------------------------ SYN cookies
 * Linux's encoding (net/ipv4/syncookies.c): ISS = H1(tuple) + SEG.SEQ +
 * (minute counter << 24) + ((H2(tuple, counter) + MSS index) & 0xffffff);
 * the options the SYN offered (window scale, SACK) ride in the low 6 bits
 * of our timestamp. A cookie is valid for 2 minutes. */
#define COOKIEBITS 24
#define COOKIEMASK ((1u << COOKIEBITS) - 1)
#define TSBITS 6
#define TSMASK ((1u << TSBITS) - 1)
#define TS_OPT_WSCALE_MASK 0xf
#define TS_OPT_SACK (1u << 4)

static const uint16_t cookie_msstab[] = {536, 1300, 1440, 1460}; /* Linux msstab */

static uint32_t cookie_hash(struct ustcp_stack *s, const struct us_ent *e, uint32_t count, int c)
{
  uint32_t v[5] = {e->laddr, e->raddr, ((uint32_t)e->lport << 16) | e->rport, count, (uint32_t)c};
  return (uint32_t)us_siphash(s->secret, v, sizeof(v));
}

static uint32_t cookie_count(const struct ustcp_stack *s)
{
  return (uint32_t)(s->now / USTCP_SEC(60));
}

static uint32_t cookie_make(struct ustcp_stack *s, const struct us_ent *e, uint32_t sseq,
                            uint32_t mssind)
{
  uint32_t count = cookie_count(s);
  return cookie_hash(s, e, 0, 1) + sseq + (count << COOKIEBITS) +
         ((cookie_hash(s, e, count, 2) + mssind) & COOKIEMASK);
}

/* The MSS index, or -1 if the cookie is not ours or too old. */
static int cookie_check(struct ustcp_stack *s, const struct us_ent *e, uint32_t cookie,
                        uint32_t sseq)
{
  uint32_t count = cookie_count(s);
  cookie -= cookie_hash(s, e, 0, 1) + sseq;
  uint32_t diff = (count - (cookie >> COOKIEBITS)) & ((uint32_t)-1 >> COOKIEBITS);
  if (diff >= 2)
    return -1;
  uint32_t idx = (cookie - cookie_hash(s, e, count - diff, 2)) & COOKIEMASK;
  return idx < US_ARRAY_LEN(cookie_msstab) ? (int)idx : -1;
}

/* Answer a SYN with a cookie SYN-ACK; nothing is kept. */
static void cookie_synack(struct ustcp_stack *s, struct us_tcb *l, struct us_seg *sg)
{
  struct us_req r;
  memset(&r, 0, sizeof(r));
  r.e.laddr = sg->ip->dst;
  r.e.raddr = sg->ip->src;
  r.e.lport = sg->h.dport;
  r.e.rport = sg->h.sport;
  r.listener = l;
  r.irs = sg->seq;
  const struct us_tcp_opts *o = &sg->h.opt;
  uint16_t mss = o->mss_ok ? o->mss : US_TCP_DEFAULT_MSS;
  uint32_t idx = 0;
  for (uint32_t i = US_ARRAY_LEN(cookie_msstab); i-- > 0;)
    if (mss >= cookie_msstab[i]) {
      idx = i;
      break;
    }
  r.iss = cookie_make(s, &r.e, sg->seq, idx);
  uint32_t ours = (uint32_t)s->cfg.mtu - 40;
  if (o->ts_ok && s->cfg.timestamps) {
    /* Without timestamps a cookie cannot carry options (Linux). */
    uint32_t opts = TS_OPT_WSCALE_MASK;
    r.opts |= TF_TS_OK >> 6;
    if (o->ws_ok && s->cfg.window_scaling) {
      r.opts |= TF_WS_OK >> 6;
      opts = o->ws > US_TCP_MAX_WSCALE ? US_TCP_MAX_WSCALE : o->ws;
      r.rcv_wscale = us_tcp_syn_wscale(s, l);
    }
    if (o->sack_ok && s->cfg.sack) {
      r.opts |= TF_SACK_OK >> 6;
      opts |= TS_OPT_SACK;
    }
    r.ts_recent = o->ts_val;
    r.ts_offset = us_tcp_ts_offset(s, r.e.laddr, r.e.raddr);
    /* cookie_init_timestamp(): our clock with the options in the low bits,
     * never ahead of the clock. */
    uint32_t now = us_tcp_ts_now(s) + r.ts_offset;
    uint32_t ts = (now & ~TSMASK) | opts;
    if (seq_gt(ts, now))
      ts -= TSMASK + 1;
    r.ts_offset = ts - us_tcp_ts_now(s);
    ours -= 12;
  }
  r.rcv_wnd = initial_rwnd((uint32_t)l->rcvbuf / 2, ours);
  us_stat_inc(s, USTCP_STAT_SYNCOOKIES_SENT);
  us_tcp_send_synack(s, &r);
}

/* A bare ACK to the listener: maybe the end of a cookie handshake. Returns
 * true if it made a connection. */
static bool cookie_ack(struct ustcp_stack *s, struct us_tcb *l, struct us_seg *sg)
{
  struct us_ent e = {
      .laddr = sg->ip->dst, .raddr = sg->ip->src, .lport = sg->h.dport, .rport = sg->h.sport};
  int idx = cookie_check(s, &e, sg->h.ack - 1, sg->seq - 1);
  if (idx < 0) {
    us_stat_inc(s, USTCP_STAT_SYNCOOKIES_FAILED);
    return false;
  }
  if (acceptq_full(l->lq)) {
    us_stat_inc(s, USTCP_STAT_LISTEN_OVERFLOWS);
    us_stat_inc(s, USTCP_STAT_LISTEN_DROPS);
    drop(s, sg, USTCP_STAT_DROP_TCP_ACCEPTQ_FULL);
    return true;
  }
  struct us_req *r = us_pool_alloc(s, &s->tcp->req_pool);
  if (!r)
    return false;
  s->tcp->n_req++;
  us_stat_inc(s, USTCP_STAT_SYNCOOKIES_RECV);
  r->e = e;
  r->e.kind = US_ENT_REQ;
  r->e.conn_id = us_tcp_new_conn_id(s);
  us_timer_init(&r->timer, NULL);
  r->iss = sg->h.ack - 1;
  r->irs = sg->seq - 1;
  r->peer_mss = cookie_msstab[idx];
  r->retrans = 1; /* no RTT sample from a cookie */
  const struct us_tcp_opts *o = &sg->h.opt;
  uint32_t ours = (uint32_t)s->cfg.mtu - 40;
  if (o->ts_ok && o->ts_ecr && s->cfg.timestamps) {
    /* cookie_timestamp_decode(): the options from our echoed timestamp. */
    uint32_t opts = o->ts_ecr & TSMASK;
    r->opts |= TF_TS_OK >> 6;
    r->ts_recent = o->ts_val;
    r->ts_offset = us_tcp_ts_offset(s, e.laddr, e.raddr);
    if ((opts & TS_OPT_WSCALE_MASK) != TS_OPT_WSCALE_MASK && s->cfg.window_scaling) {
      r->opts |= TF_WS_OK >> 6;
      r->snd_wscale = (uint8_t)(opts & TS_OPT_WSCALE_MASK);
      r->rcv_wscale = us_tcp_syn_wscale(s, l);
    }
    if ((opts & TS_OPT_SACK) && s->cfg.sack)
      r->opts |= TF_SACK_OK >> 6;
    ours -= 12;
  }
  r->rcv_wnd = initial_rwnd((uint32_t)l->rcvbuf / 2, ours);
  us_tcp_trace_state(s, &r->e, USTCP_TCP_LISTEN, USTCP_TCP_SYN_RECV);
  struct us_tcb *c = req_to_child(s, l, r, sg);
  if (!c) {
    us_tcp_req_free(s, r);
    return false;
  }
  us_tcp_rcv(s, c, sg);
  return true;
}

void us_tcp_listen_rcv(struct ustcp_stack *s, struct us_tcb *l, struct us_seg *sg)
{
  struct us_listen *lq = l->lq;
  uint8_t f = sg->h.flags;
  if (f & US_TCP_RST) {
    drop(s, sg, USTCP_STAT_DROP_TCP_LISTEN_NO_SYN);
    return;
  }
  if (f & US_TCP_ACK) {
    if (s->cfg.syncookies && lq && !(f & US_TCP_SYN) && cookie_ack(s, l, sg))
      return;
    /* RFC 9293 3.10.7.2: an ACK to a listener gets RST seq = SEG.ACK. */
    us_tcp_send_rst_reply(s, sg);
    drop(s, sg, USTCP_STAT_DROP_TCP_LISTEN_NO_SYN);
    return;
  }
  if (!(f & US_TCP_SYN) || !lq) {
    drop(s, sg, USTCP_STAT_DROP_TCP_LISTEN_NO_SYN);
    return;
  }
  if (f & US_TCP_FIN) {
    drop(s, sg, USTCP_STAT_DROP_TCP_BAD_FLAGS);
    return;
  }
  /* Linux tcp_conn_request(): SYN queue first, then the accept queue. */
  bool synq_full = (int)lq->syn_qlen > lq->backlog;
  if ((synq_full || s->cfg.syncookies == 2) && s->cfg.syncookies) {
    /* Linux tcp_syn_flood_action(): cookies instead of a request. */
    if (acceptq_full(lq)) {
      us_stat_inc(s, USTCP_STAT_LISTEN_OVERFLOWS);
      us_stat_inc(s, USTCP_STAT_LISTEN_DROPS);
      drop(s, sg, USTCP_STAT_DROP_TCP_ACCEPTQ_FULL);
      return;
    }
    if (synq_full)
      us_stat_inc(s, USTCP_STAT_TCP_REQQ_FULL_DO_COOKIES);
    cookie_synack(s, l, sg);
    return;
  }
  if (synq_full) {
    us_stat_inc(s, USTCP_STAT_TCP_REQQ_FULL_DROP);
    us_stat_inc(s, USTCP_STAT_LISTEN_DROPS);
    drop(s, sg, USTCP_STAT_DROP_TCP_SYNQ_FULL);
    return;
  }
  if (acceptq_full(lq)) {
    us_stat_inc(s, USTCP_STAT_LISTEN_OVERFLOWS);
    us_stat_inc(s, USTCP_STAT_LISTEN_DROPS);
    drop(s, sg, USTCP_STAT_DROP_TCP_ACCEPTQ_FULL);
    return;
  }
  /* Linux tcp_conn_request(): without cookies, once fewer than a quarter
   * of max_syn_backlog slots are left, SYNs from peers not proven by an
   * earlier connection are dropped (no peer is proven here: no metrics
   * cache). Matters only for backlogs above ~3/4 of max_syn_backlog. */
  if (!s->cfg.syncookies &&
      s->cfg.max_syn_backlog - (int)lq->syn_qlen < (s->cfg.max_syn_backlog >> 2)) {
    us_stat_inc(s, USTCP_STAT_LISTEN_DROPS);
    drop(s, sg, USTCP_STAT_DROP_TCP_SYNQ_FULL);
    return;
  }
  struct us_req *r = us_pool_alloc(s, &s->tcp->req_pool);
  if (!r) {
    us_stat_inc(s, USTCP_STAT_LISTEN_DROPS);
    drop(s, sg, USTCP_STAT_DROP_TCP_NO_MEMORY);
    return;
  }
  s->tcp->n_req++;
  r->e.kind = US_ENT_REQ;
  r->e.laddr = sg->ip->dst;
  r->e.raddr = sg->ip->src;
  r->e.lport = sg->h.dport;
  r->e.rport = sg->h.sport;
  r->e.conn_id = us_tcp_new_conn_id(s);
  us_timer_init(&r->timer, req_timer_fire);
  r->listener = l;
  r->irs = sg->seq;
  r->iss = sg->tw_isn ? sg->tw_isn : us_tcp_isn(s, r->e.laddr, r->e.lport, r->e.raddr, r->e.rport);
  const struct us_tcp_opts *o = &sg->h.opt;
  r->peer_mss = o->mss_ok ? o->mss : US_TCP_DEFAULT_MSS;
  uint32_t mss = (uint32_t)s->cfg.mtu - 40;
  if (o->ws_ok && s->cfg.window_scaling) {
    r->opts |= TF_WS_OK >> 6;
    r->snd_wscale = o->ws > US_TCP_MAX_WSCALE ? US_TCP_MAX_WSCALE : o->ws;
    r->rcv_wscale = us_tcp_syn_wscale(s, l);
  }
  if (o->sack_ok && s->cfg.sack)
    r->opts |= TF_SACK_OK >> 6;
  if (o->ts_ok && s->cfg.timestamps) {
    r->opts |= TF_TS_OK >> 6;
    r->ts_recent = o->ts_val;
    r->ts_offset = us_tcp_ts_offset(s, r->e.laddr, r->e.raddr);
    mss -= 12;
  }
  r->rcv_wnd = initial_rwnd((uint32_t)l->rcvbuf / 2, mss);
  us_tcp_hash_insert(s, &r->e);
  r->lnext = lq->reqs;
  if (lq->reqs)
    lq->reqs->lprev = r;
  lq->reqs = r;
  lq->syn_qlen++;
  us_tcp_trace_state(s, &r->e, USTCP_TCP_LISTEN, USTCP_TCP_SYN_RECV);
  us_tcp_send_synack(s, r);
  r->sent = s->now;
  us_timer_arm(s, &r->timer, s->now + US_TCP_RTO_INIT);
}

/* Linux reqsk_timer_handler(): retransmit the SYN-ACK at 1, 3, 7, 15, 31 s
 * (synack_retries = 5, doubling from 1 s); free the request at the next
 * expiry (~63 s). When the queue is more than half full of old requests,
 * fewer retries are allowed (Linux keeps room for young ones). */
static void req_timer_fire(struct ustcp_stack *s, struct us_timer *tm)
{
  struct us_req *r = US_CONTAINER_OF(tm, struct us_req, timer);
  us_trace_note(s, USTCP_TR_TIMER, "synack");
  struct us_tcb *l = r->listener;
  int max_retries = s->cfg.synack_retries;
  if (l && l->lq) {
    unsigned qlen = l->lq->syn_qlen;
    unsigned young = 0;
    for (struct us_req *q = l->lq->reqs; q; q = q->lnext)
      young += q->retrans == 0;
    unsigned bl = (unsigned)l->lq->backlog > 8 ? (unsigned)l->lq->backlog : 8;
    if ((qlen << 1) > bl) {
      unsigned y = young << 1;
      while (max_retries > 2) {
        if (y >= qlen)
          break;
        max_retries--;
        y <<= 1;
      }
    }
  }
  if (r->retrans >= max_retries) {
    req_drop(s, r);
    return;
  }
  r->retrans++;
  us_stat_inc(s, USTCP_STAT_TCP_SYN_RETRANS);
  us_stat_inc(s, USTCP_STAT_TCP_RETRANS_SEGS);
  us_tcp_send_synack(s, r);
  ustcp_time_t tmo = US_TCP_RTO_INIT << r->retrans;
  if (tmo > US_TCP_RTO_MAX)
    tmo = US_TCP_RTO_MAX;
  us_timer_arm(s, &r->timer, s->now + tmo);
}

/* The handshake completed: a full TCB in the accept queue. */
static struct us_tcb *req_to_child(struct ustcp_stack *s, struct us_tcb *l, struct us_req *r,
                                   struct us_seg *sg)
{
  struct us_tcb *c = us_tcb_alloc(s);
  if (!c)
    return NULL;
  c->e.laddr = r->e.laddr;
  c->e.raddr = r->e.raddr;
  c->e.lport = r->e.lport;
  c->e.rport = r->e.rport;
  c->e.conn_id = r->e.conn_id;
  c->state = USTCP_TCP_SYN_RECV;
  /* Inherited options (Linux sk_clone_lock copies the listener). */
  c->flags |= l->flags & (TF_NODELAY | TF_KEEPALIVE | TF_LINGER | TF_CORK | TF_RCVBUF_LOCK |
                          TF_SNDBUF_LOCK | TF_NONBLOCK | TF_SHUT_RD | TF_SHUT_WR);
  c->flags &= ~TF_NONBLOCK; /* accept4(SOCK_NONBLOCK) decides */
  c->keepidle = l->keepidle;
  c->keepintvl = l->keepintvl;
  c->keepcnt = l->keepcnt;
  c->linger = l->linger;
  c->linger2 = l->linger2;
  c->user_mss = l->user_mss;
  c->user_timeout_ms = l->user_timeout_ms;
  c->rcvbuf = l->rcvbuf;
  c->sndbuf = l->sndbuf;
  c->rcvtimeo_ms = l->rcvtimeo_ms;
  c->sndtimeo_ms = l->sndtimeo_ms;
  c->iss = r->iss;
  c->irs = r->irs;
  c->snd_una = r->iss;
  c->snd_nxt = r->iss + 1;
  c->rcv_nxt = r->irs + 1;
  c->rcv_wup = c->rcv_nxt;
  c->rcv_adv = c->rcv_nxt + r->rcv_wnd;
  c->snd_wl1 = sg->seq;
  c->snd_wl2 = sg->h.ack;
  c->recover = r->iss;
  c->peer_mss = r->peer_mss;
  c->snd_wscale = r->snd_wscale;
  c->rcv_wscale = r->rcv_wscale;
  c->flags |= (uint32_t)r->opts << 6;
  c->ts_recent = r->ts_recent;
  c->ts_offset = r->ts_offset;
  c->last_rcv = s->now;
  c->segs_in = 1; /* the SYN (Linux tcp_create_openreq_child) */
  us_tcp_init_buffers(s, c);
  c->rcv_ssthresh = r->rcv_wnd;
  if (c->rcv_ssthresh > us_tcp_window_clamp(s, c)) /* Linux tcp_init_buffer_space */
    c->rcv_ssthresh = us_tcp_window_clamp(s, c);
  us_tcp_set_mss(s, c);
  s->tcp->cc->init(s, c);
  /* The SYN-ACK round trip (Linux tcp_synack_rtt_meas): from our clock
   * when the SYN-ACK was not retransmitted (Karn), else from the echo. */
  if (!r->retrans) {
    us_tcp_rtt_sample(c, (uint32_t)((s->now - r->sent) / 1000u));
  } else if ((c->flags & TF_TS_OK) && sg->h.opt.ts_ok && sg->h.opt.ts_ecr) {
    uint32_t ms = us_tcp_ts_now(s) + c->ts_offset - sg->h.opt.ts_ecr;
    if (ms < 60000u)
      us_tcp_rtt_sample(c, ms * 1000u);
  }
  us_stat_inc(s, USTCP_STAT_TCP_PASSIVE_OPENS);
  r->e.conn_id = 0;
  us_tcp_req_free(s, r);
  us_tcp_hash_insert(s, &c->e);
  us_tcp_bind_insert(s, &c->e);
  struct us_listen *lq = l->lq;
  c->flags |= TF_IN_ACCEPTQ | TF_ORPHAN;
  if (lq->aq_tail)
    lq->aq_tail->aq_next = c;
  else
    lq->aq_head = c;
  lq->aq_tail = c;
  lq->aq_len++;
  return c;
}

/* Linux tcp_check_req(): a segment for a SYN_RECV request. */
void us_tcp_req_rcv(struct ustcp_stack *s, struct us_req *r, struct us_seg *sg)
{
  uint8_t f = sg->h.flags;
  struct us_tcb *l = r->listener;
  const struct us_tcp_opts *o = &sg->h.opt;
  bool paws_reject = (r->opts & (TF_TS_OK >> 6)) && o->ts_ok && !(f & US_TCP_RST) &&
                     seq_lt(o->ts_val, r->ts_recent);
  /* A retransmitted SYN: repeat the SYN-ACK. */
  if (sg->seq == r->irs && (f & (US_TCP_SYN | US_TCP_ACK | US_TCP_RST)) == US_TCP_SYN &&
      !paws_reject) {
    us_stat_inc(s, USTCP_STAT_TCP_RETRANS_SEGS);
    us_tcp_send_synack(s, r);
    drop(s, sg, USTCP_STAT_DROP_TCP_DUP_SYN);
    return;
  }
  if ((f & US_TCP_ACK) && sg->h.ack != r->iss + 1) {
    /* Goes to the listener, which answers an ACK with RST seq = SEG.ACK. */
    us_tcp_send_rst_reply(s, sg);
    drop(s, sg, USTCP_STAT_DROP_TCP_REQ_BAD_ACK);
    return;
  }
  uint32_t rcv_nxt = r->irs + 1;
  bool in_window = !seq_lt(sg->end, rcv_nxt) && !seq_gt(sg->seq, rcv_nxt + r->rcv_wnd);
  if (paws_reject || !in_window) {
    if (!(f & US_TCP_RST))
      us_tcp_send_synack(s, r); /* Linux: send_ack; the SYN-ACK repeats our state */
    if (paws_reject)
      us_stat_inc(s, USTCP_STAT_PAWS_ESTAB_REJECTED);
    drop(s, sg, paws_reject ? USTCP_STAT_DROP_TCP_PAWS : USTCP_STAT_DROP_TCP_SEQ_OUTSIDE);
    return;
  }
  if (f & (US_TCP_RST | US_TCP_SYN)) {
    /* Linux embryonic_reset: a SYN is answered with RST; either way the
     * request goes (EmbryonicRsts). */
    if (!(f & US_TCP_RST))
      us_tcp_send_rst_reply(s, sg);
    us_stat_inc(s, USTCP_STAT_EMBRYONIC_RSTS);
    req_drop(s, r);
    drop(s, sg, (f & US_TCP_RST) ? USTCP_STAT_DROP_TCP_RST_INVALID : USTCP_STAT_DROP_TCP_DUP_SYN);
    return;
  }
  if (!(f & US_TCP_ACK)) {
    drop(s, sg, USTCP_STAT_DROP_TCP_NO_ACK);
    return;
  }
  if (!l || !l->lq || l->state != USTCP_TCP_LISTEN) {
    us_tcp_send_rst_reply(s, sg);
    req_drop(s, r);
    drop(s, sg, USTCP_STAT_DROP_TCP_NO_SOCKET);
    return;
  }
  if (acceptq_full(l->lq)) {
    us_stat_inc(s, USTCP_STAT_LISTEN_OVERFLOWS);
    us_stat_inc(s, USTCP_STAT_LISTEN_DROPS);
    if (s->cfg.abort_on_overflow) {
      /* RST without ACK, seq = SEG.ACK; the request is removed. */
      us_tcp_send_rst_reply(s, sg);
      us_stat_inc(s, USTCP_STAT_EMBRYONIC_RSTS);
      req_drop(s, r);
    } else {
      r->acked = 1;
    }
    drop(s, sg, USTCP_STAT_DROP_TCP_ACCEPTQ_FULL);
    return;
  }
  if ((r->opts & (TF_TS_OK >> 6)) && o->ts_ok && seq_leq(sg->seq, rcv_nxt))
    r->ts_recent = o->ts_val;
  struct us_tcb *c = req_to_child(s, l, r, sg);
  if (!c) {
    us_stat_inc(s, USTCP_STAT_LISTEN_DROPS);
    drop(s, sg, USTCP_STAT_DROP_TCP_NO_MEMORY);
    return;
  }
  /* The rest (ACK, data, FIN) as for any SYN_RECV connection. */
  bool shut_wr = (c->flags & TF_SHUT_WR) != 0;
  c->flags &= ~TF_SHUT_WR;
  us_tcp_rcv(s, c, sg);
  /* Linux: a listener shut down before listen() gives children that
   * start with the send side shut: FIN at once. */
  if (shut_wr && c->state == USTCP_TCP_ESTABLISHED)
    us_tcp_send_fin_now(s, c);
}
