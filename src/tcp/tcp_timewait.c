/*
 * tcp_timewait.c - TIME_WAIT as a light entry (Linux inet_timewait_sock):
 * the 4-tuple, the sequence numbers and the last timestamp, for 60 s. The
 * TCB it replaces is closed (and freed unless a descriptor holds it).
 *
 * Segment rules (Linux tcp_timewait_state_process): an in-window RST kills
 * the entry; a bare in-window ACK restarts the timer; a SYN with a higher
 * sequence number or timestamp may reuse the tuple (TWRecycled); anything
 * else is answered with an ACK and restarts the 60 s timer.
 */
#include "tcp/tcp.h"

/* Timers: the entries wait in a FIFO by deadline (struct us_tw); one heap
 * timer per stack stands at its head. */

static void drop(struct ustcp_stack *s, const struct us_seg *sg, enum ustcp_stat why)
{
  us_drop(s, why, sg->dgram, sg->dglen);
}

/* The FIFO's timer sits at its head's deadline. Re-armed for each entry
 * (not once for all that are due), so that entries and other timers due at
 * the same us_timers_run() still fire in deadline order. */
static void tw_timer_sync(struct ustcp_stack *s)
{
  struct us_tcp *tc = s->tcp;
  if (!tc->tw_first)
    us_timer_cancel(s, &tc->tw_timer);
  else if (!us_timer_armed(&tc->tw_timer) || tc->tw_timer.when != tc->tw_first->when)
    us_timer_arm(s, &tc->tw_timer, tc->tw_first->when);
}

static void tw_unlink(struct us_tcp *tc, struct us_tw *tw)
{
  if (tw->tw_prev)
    tw->tw_prev->tw_next = tw->tw_next;
  else
    tc->tw_first = tw->tw_next;
  if (tw->tw_next)
    tw->tw_next->tw_prev = tw->tw_prev;
  else
    tc->tw_last = tw->tw_prev;
  tw->tw_next = tw->tw_prev = NULL;
}

/* (Re)start the 60 s: to the FIFO's tail, as s->now never goes back. */
static void tw_schedule(struct ustcp_stack *s, struct us_tw *tw, bool linked)
{
  struct us_tcp *tc = s->tcp;
  if (linked)
    tw_unlink(tc, tw);
  tw->when = s->now + US_TCP_TIMEWAIT_LEN;
  tw->tw_prev = tc->tw_last;
  if (tc->tw_last)
    tc->tw_last->tw_next = tw;
  else
    tc->tw_first = tw;
  tc->tw_last = tw;
  tw_timer_sync(s);
}

static void tw_timer_fire(struct ustcp_stack *s, struct us_timer *tm)
{
  (void)tm;
  struct us_tw *tw = s->tcp->tw_first;
  if (tw && tw->when <= s->now) {
    us_trace_note(s, USTCP_TR_TIMER, "time_wait");
    us_tcp_trace_state(s, &tw->e, USTCP_TCP_TIME_WAIT, USTCP_TCP_CLOSE);
    us_tcp_tw_free(s, tw); /* re-arms the timer at the next entry */
  } else {
    tw_timer_sync(s);
  }
}

void us_tcp_tw_init(struct ustcp_stack *s) { us_timer_init(&s->tcp->tw_timer, tw_timer_fire); }

void us_tcp_tw_free(struct ustcp_stack *s, struct us_tw *tw)
{
  tw_unlink(s->tcp, tw);
  tw_timer_sync(s);
  us_tcp_hash_remove(s, &tw->e);
  us_tcp_bind_remove(s, &tw->e);
  s->tcp->n_tw--;
  us_pool_free(&s->tcp->tw_pool, tw);
}

void us_tcp_tw_enter(struct ustcp_stack *s, struct us_tcb *t)
{
  us_stat_inc(s, USTCP_STAT_TCP_TIME_WAITS);
  int old = t->state;
  /* Linux inet_twsk_alloc: no bucket once tcp_max_tw_buckets entries
   * exist; tcp_time_wait then counts TCPTimeWaitOverflow and the
   * connection closes at once. */
  struct us_tw *tw = NULL;
  if (s->tcp->n_tw < (uint64_t)s->cfg.max_tw_buckets)
    tw = us_pool_alloc(s, &s->tcp->tw_pool);
  else
    us_stat_inc(s, USTCP_STAT_TCP_TW_OVERFLOW);
  if (tw) {
    s->tcp->n_tw++;
    tw->e = t->e;
    tw->e.kind = US_ENT_TW;
    tw->e.hnext = tw->e.bnext = NULL;
    tw->e.hashed = tw->e.bound = 0;
    tw->snd_nxt = t->snd_nxt;
    tw->rcv_nxt = t->rcv_nxt;
    tw->ts_recent = t->ts_recent;
    tw->ts_offset = t->ts_offset;
    tw->ts_ok = (t->flags & TF_TS_OK) != 0;
    tw->rcv_wscale = t->rcv_wscale;
    tw->rcv_wnd = seq_gt(t->rcv_adv, t->rcv_nxt) ? t->rcv_adv - t->rcv_nxt : 0;
    tw->reuseaddr = (t->flags & TF_REUSEADDR) != 0;
  }
  /* The TCB closes without a trace of its own: the connection lives on
   * as the TIME_WAIT entry (Linux tcp_time_wait + tcp_done). */
  us_tcp_trace_state(s, &t->e, old, USTCP_TCP_TIME_WAIT);
  t->state = USTCP_TCP_CLOSE;
  us_tcp_hash_remove(s, &t->e);
  /* A descriptor that bound its port explicitly keeps it (Linux bind
   * bucket); an auto-bound port now belongs to the TIME_WAIT entry. */
  if ((t->flags & TF_AUTOBIND) || (t->flags & TF_ORPHAN))
    us_tcp_bind_remove(s, &t->e);
  t->flags |= TF_SHUT_RD | TF_SHUT_WR;
  us_tcb_timers_stop(s, t);
  us_bq_clear(s, &t->sndq);
  us_tcb_maybe_free(s, t);
  if (tw) {
    us_tcp_hash_insert(s, &tw->e);
    us_tcp_bind_insert(s, &tw->e);
    tw_schedule(s, tw, false);
  }
}

static void tw_ack(struct ustcp_stack *s, struct us_tw *tw)
{
  struct us_tcp_opts o = {0};
  if (tw->ts_ok) {
    o.ts_ok = true;
    o.ts_val = us_tcp_ts_now(s) + tw->ts_offset;
    o.ts_ecr = tw->ts_recent;
  }
  us_tcp_send_raw(s, tw->e.laddr, tw->e.lport, tw->e.raddr, tw->e.rport, tw->snd_nxt, tw->rcv_nxt,
                  US_TCP_ACK, tw->rcv_wnd >> tw->rcv_wscale, &o);
}

void us_tcp_tw_rcv(struct ustcp_stack *s, struct us_tw *tw, struct us_seg *sg)
{
  uint8_t f = sg->h.flags;
  const struct us_tcp_opts *o = &sg->h.opt;
  bool paws_reject = tw->ts_ok && o->ts_ok && seq_lt(o->ts_val, tw->ts_recent);
  if (!paws_reject && sg->seq == tw->rcv_nxt && (sg->end == sg->seq || (f & US_TCP_RST)) &&
      !(f & US_TCP_SYN)) {
    if (f & US_TCP_RST) {
      /* RFC 1337 not applied (Linux tcp_rfc1337 = 0): RST kills TIME_WAIT. */
      us_tcp_trace_state(s, &tw->e, USTCP_TCP_TIME_WAIT, USTCP_TCP_CLOSE);
      us_tcp_tw_free(s, tw);
      return;
    }
    tw_schedule(s, tw, true);
    drop(s, sg, USTCP_STAT_DROP_TCP_TIMEWAIT);
    return;
  }
  if ((f & (US_TCP_SYN | US_TCP_RST | US_TCP_ACK)) == US_TCP_SYN && !paws_reject &&
      (seq_gt(sg->seq, tw->rcv_nxt) ||
       (tw->ts_ok && o->ts_ok && seq_gt(o->ts_val, tw->ts_recent)))) {
    struct us_tcb *l = us_tcp_lookup_listener(s, sg->ip->dst, sg->h.dport);
    if (l) {
      /* Linux: the new ISN is placed beyond the old connection's space. */
      uint32_t isn = tw->snd_nxt + 65535 + 2;
      us_stat_inc(s, USTCP_STAT_TCP_TW_RECYCLED);
      us_tcp_trace_state(s, &tw->e, USTCP_TCP_TIME_WAIT, USTCP_TCP_CLOSE);
      us_tcp_tw_free(s, tw);
      sg->tw_isn = isn ? isn : 1;
      us_tcp_listen_rcv(s, l, sg);
      return;
    }
  }
  if (!(f & US_TCP_RST)) {
    if (paws_reject)
      us_stat_inc(s, USTCP_STAT_PAWS_ESTAB_REJECTED);
    if (paws_reject || (f & US_TCP_ACK))
      tw_schedule(s, tw, true);
    tw_ack(s, tw);
  }
  drop(s, sg, USTCP_STAT_DROP_TCP_TIMEWAIT);
}
