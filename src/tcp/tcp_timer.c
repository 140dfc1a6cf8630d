/*
 * tcp_timer.c - per-connection timers: an absolute deadline per kind
 * (enum us_tt) and ONE heap entry, never later than the earliest of them
 * (DESIGN.md §2.4).
 * In a large heap (a million connections) setting or clearing a deadline
 * moves the entry at once to exactly the earliest deadline (eager): an
 * entry left early to fire for nothing (lazy) costs a pop from the heap's
 * root - a sift over the whole depth, a cache miss per level - where moving
 * or removing it now touches the few levels below its position, most
 * entries being near the bottom; an established connection then holds no
 * entry once its round trips are done (docs/bench.md, conns). In a small
 * heap, which stays in cache, the lazy entry is cheaper: moving it on every
 * segment cost rr ~500 instructions per round trip.
 * Handlers come from a designated-initializer table; each returns whether
 * the TCB still lives.
 */
#include <errno.h>

#include "tcp/tcp.h"

static void tcb_timer_fire(struct ustcp_stack *s, struct us_timer *tm);

void us_tcb_timer_init(struct us_tcb *t)
{
  us_timer_init(&t->timer, tcb_timer_fire);
  for (int k = 0; k < US_TT_COUNT; k++)
    t->deadline[k] = USTCP_TIME_NEVER;
}

static ustcp_time_t earliest(const struct us_tcb *t)
{
  ustcp_time_t m = USTCP_TIME_NEVER;
  for (int k = 0; k < US_TT_COUNT; k++)
    if (t->deadline[k] < m)
      m = t->deadline[k];
  return m;
}

/* Heap size from which entries are moved eagerly: 1024 slots are 16 KiB,
 * five levels. The size is the same on every run of the same inputs, so
 * the firing order stays deterministic. */
#define EAGER_MIN 1024

static bool eager(const struct ustcp_stack *s) { return s->timers.n >= EAGER_MIN; }

/* Put the heap entry at the earliest deadline (or take it out). Re-arming
 * assigns a new arming order, as a fresh arm would: ties still fire in a
 * deterministic order. */
static void tcb_timer_sync(struct ustcp_stack *s, struct us_tcb *t)
{
  ustcp_time_t next = earliest(t);
  if (next == USTCP_TIME_NEVER)
    us_timer_cancel(s, &t->timer);
  else if (!us_timer_armed(&t->timer) || next != t->timer.when)
    us_timer_arm(s, &t->timer, next);
}

void us_tcb_timer_set(struct ustcp_stack *s, struct us_tcb *t, enum us_tt k, ustcp_time_t when)
{
  ustcp_time_t old = t->deadline[k];
  t->deadline[k] = when;
  if (when < old) {
    if (!us_timer_armed(&t->timer) || when < t->timer.when)
      us_timer_arm(s, &t->timer, when);
  } else if (when != old && old == t->timer.when && eager(s)) {
    tcb_timer_sync(s, t); /* the entry was for this deadline: move it later */
  }
}

void us_tcb_timer_clear(struct ustcp_stack *s, struct us_tcb *t, enum us_tt k)
{
  ustcp_time_t old = t->deadline[k];
  t->deadline[k] = USTCP_TIME_NEVER;
  if (old != USTCP_TIME_NEVER && us_timer_armed(&t->timer) && old == t->timer.when && eager(s))
    tcb_timer_sync(s, t);
}

void us_tcb_timers_stop(struct ustcp_stack *s, struct us_tcb *t)
{
  for (int k = 0; k < US_TT_COUNT; k++)
    t->deadline[k] = USTCP_TIME_NEVER;
  us_timer_cancel(s, &t->timer);
}

ustcp_time_t us_tcp_rto(const struct us_tcb *t)
{
  ustcp_time_t rto = (ustcp_time_t)t->rto_us * 1000u;
  for (int i = 0; i < t->backoff && rto < US_TCP_RTO_MAX; i++)
    rto *= 2;
  if (rto > US_TCP_RTO_MAX)
    rto = US_TCP_RTO_MAX;
  return rto;
}

/* RFC 8985 7.2 as Linux tcp_schedule_loss_probe(): for SACK peers in the
 * open state, a probe timeout of 2*SRTT (+200 ms with one segment out,
 * +2 ms with several), not later than the RTO. */
static bool schedule_tlp(struct ustcp_stack *s, struct us_tcb *t)
{
  if (!(t->flags & TF_SACK_OK) || (t->flags & (TF_IN_RECOVERY | TF_IN_LOSS)) || t->tlp == 2 ||
      (t->state != USTCP_TCP_ESTABLISHED && t->state != USTCP_TCP_CLOSE_WAIT))
    return false;
  ustcp_time_t pto;
  if (t->srtt_us) {
    pto = (ustcp_time_t)t->srtt_us * 2000u;
    pto += (t->snd_nxt - t->snd_una <= t->mss) ? US_TCP_RTO_MIN : USTCP_MS(2);
  } else {
    pto = US_TCP_RTO_INIT;
  }
  ustcp_time_t rto = us_tcp_rto(t);
  if (pto > rto)
    pto = rto;
  t->tlp = 1;
  us_tcb_timer_set(s, t, US_TT_RTO, s->now + pto);
  return true;
}

/* RFC 6298 (5.1)/(5.3): (re)start the timer when data is outstanding. */
void us_tcp_rearm_rto(struct ustcp_stack *s, struct us_tcb *t)
{
  if (t->snd_una == t->snd_nxt) {
    us_tcb_timer_clear(s, t, US_TT_RTO);
    if (t->tlp == 1)
      t->tlp = 0;
    return;
  }
  us_tcb_timer_clear(s, t, US_TT_PERSIST);
  if (schedule_tlp(s, t))
    return;
  if (t->tlp == 1)
    t->tlp = 0;
  us_tcb_timer_set(s, t, US_TT_RTO, s->now + us_tcp_rto(t));
}

void us_tcp_set_xmit_timer(struct ustcp_stack *s, struct us_tcb *t)
{
  if (t->deadline[US_TT_RTO] == USTCP_TIME_NEVER || t->tlp == 1)
    us_tcp_rearm_rto(s, t);
}

void us_tcp_arm_keepalive(struct ustcp_stack *s, struct us_tcb *t)
{
  if (!(t->flags & TF_KEEPALIVE) || t->state == USTCP_TCP_LISTEN || t->state == USTCP_TCP_CLOSE ||
      t->state == USTCP_TCP_SYN_SENT) {
    us_tcb_timer_clear(s, t, US_TT_KEEPALIVE);
    return;
  }
  us_tcb_timer_set(s, t, US_TT_KEEPALIVE, t->last_rcv + USTCP_SEC(t->keepidle));
}

/* Linux tcp_orphan_retries(): the sysctl, 0 for a dead connection that
 * saw an ICMP error, and 0 meaning 8 while the RTO is under the cap. */
static int orphan_retries(const struct ustcp_stack *s, const struct us_tcb *t, bool alive)
{
  int retries = s->cfg.orphan_retries;
  if (t->soft_err && !alive)
    retries = 0;
  if (!retries && alive)
    retries = 8;
  return retries;
}

/* Linux retransmits_timed_out(): `boundary` doublings of `base` with the
 * 120 s cap, as a time budget since the first retransmission. */
static ustcp_time_t retrans_budget(int boundary, ustcp_time_t base)
{
  ustcp_time_t total = 0, rto = base;
  for (int i = 0; i <= boundary; i++) {
    total += rto;
    rto = rto * 2 > US_TCP_RTO_MAX ? US_TCP_RTO_MAX : rto * 2;
  }
  return total;
}

static bool write_timed_out(struct ustcp_stack *s, struct us_tcb *t)
{
  if (t->state == USTCP_TCP_SYN_SENT) {
    /* Linux tcp_write_timeout(): syn_retries + syn_linear_timeouts
     * retransmissions, or the time budget of syn_retries doublings of the
     * 1 s initial RTO since the first SYN (7 s for 2, 127 s for 6),
     * whichever ends first (Linux 6.18 checked: syn_retries=2 -> SYNs at
     * 1..5 s, ETIMEDOUT at 7 s; 6 -> ETIMEDOUT at ~131 s). */
    int max = t->syn_retries ? t->syn_retries : s->cfg.syn_retries;
    if (t->retrans >= max + s->cfg.syn_linear_timeouts)
      return true;
    return s->now - t->retrans_stamp >= retrans_budget(max, US_TCP_RTO_INIT);
  }
  if (!t->retrans_stamp)
    return false;
  ustcp_time_t elapsed = s->now - t->retrans_stamp;
  if (t->user_timeout_ms)
    return elapsed >= USTCP_MS(t->user_timeout_ms);
  int boundary = s->cfg.retries2;
  if (t->flags & TF_ORPHAN) {
    /* Linux tcp_write_timeout(): an orphan's budget is tcp_orphan_retries,
     * "alive" while the backed-off RTO is under the cap. */
    boundary = orphan_retries(s, t, us_tcp_rto(t) < US_TCP_RTO_MAX);
  }
  /* 924.6 s for 15: 16 intervals of 200 ms doublings capped at 120 s. */
  return elapsed >= retrans_budget(boundary, US_TCP_RTO_MIN);
}

static bool timer_rto(struct ustcp_stack *s, struct us_tcb *t)
{
  if (t->snd_una == t->snd_nxt && t->state != USTCP_TCP_SYN_SENT && t->state != USTCP_TCP_SYN_RECV)
    return true;
  if (t->tlp == 1) {
    /* The probe timeout, not an RTO (RFC 8985 7.3): one probe, then the
     * RTO runs from now (Linux tcp_send_loss_probe + tcp_rearm_rto). */
    us_trace_note(s, USTCP_TR_TIMER, "tlp");
    t->tlp = 2;
    us_tcp_send_loss_probe(s, t);
    t->tlp_high = t->snd_nxt;
    us_tcb_timer_set(s, t, US_TT_RTO, s->now + us_tcp_rto(t));
    return true;
  }
  if (write_timed_out(s, t)) {
    us_stat_inc(s, USTCP_STAT_TCP_ABORT_ON_TIMEOUT);
    if (t->state == USTCP_TCP_SYN_SENT)
      us_stat_inc(s, USTCP_STAT_TCP_ATTEMPT_FAILS);
    /* Linux tcp_write_err(): no RST. */
    return us_tcp_reset(s, t, t->soft_err ? t->soft_err : ETIMEDOUT) != NULL;
  }
  us_stat_inc(s, USTCP_STAT_TCP_TIMEOUTS);
  if (!t->retrans_stamp)
    t->retrans_stamp = s->now;
  if (t->state == USTCP_TCP_SYN_SENT || t->state == USTCP_TCP_SYN_RECV) {
    t->retrans++;
    /* Linux tcp_syn_linear_timeouts: the first N timeouts stay at the
     * initial RTO, then exponential backoff. */
    int lin = s->cfg.syn_linear_timeouts;
    t->backoff = (uint8_t)(t->retrans > lin ? t->retrans - lin : 0);
    us_stat_inc(s, USTCP_STAT_TCP_SYN_RETRANS);
    us_tcp_send_syn(s, t);
    us_tcb_timer_set(s, t, US_TT_RTO, s->now + us_tcp_rto(t));
    return true;
  }
  t->retrans++;
  if (t->backoff < 31)
    t->backoff++;
  t->tlp = 0;
  /* Linux tcp_timeout_mark_lost(): if the peer SACKed the head, it has
   * discarded what it SACKed (reneging): forget the scoreboard so that
   * everything is retransmitted. */
  if (t->sack && t->sack->n && seq_leq(t->sack->b[0].left, t->snd_una)) {
    us_stat_inc(s, USTCP_STAT_TCP_SACK_RENEGING);
    us_tcp_sack_free(s, t);
  }
  /* RFC 5681 (4): loss window; RFC 6298 (5.5)-(5.7). */
  uint32_t flight = t->snd_nxt - t->snd_una;
  if (!(t->flags & TF_IN_LOSS)) {
    t->ssthresh = s->tcp->cc->ssthresh(s, t);
    (void)flight;
  }
  t->cwnd = t->mss;
  t->cwnd_cnt = 0;
  t->flags |= TF_IN_LOSS;
  t->flags &= ~TF_IN_RECOVERY;
  t->recover = t->snd_nxt;
  t->rtx_nxt = t->snd_una;
  t->rtx_high = t->snd_nxt;
  t->dupacks = 0;
  t->flags &= ~TF_RTT_TIMING; /* Karn */
  us_tcp_output(s, t);
  us_tcb_timer_set(s, t, US_TT_RTO, s->now + us_tcp_rto(t));
  return true;
}

static bool timer_delack(struct ustcp_stack *s, struct us_tcb *t)
{
  if (!us_tcp_is_sync(t->state) || t->state == USTCP_TCP_SYN_RECV)
    return true;
  /* Linux tcp_delack_timer_handler(): a delayed ACK that had to fire ends
   * interactive mode (the next segment is ACKed at once again); otherwise
   * the ACK timeout grows. */
  if (t->flags & TF_PINGPONG) {
    t->flags &= ~TF_PINGPONG;
    t->ato_us = (uint32_t)(US_TCP_ATO_MIN / 1000);
  } else {
    uint32_t a = t->ato_us << 1;
    t->ato_us = a < t->rto_us ? a : t->rto_us;
  }
  us_stat_inc(s, USTCP_STAT_TCP_DELAYED_ACKS);
  us_tcp_send_ack(s, t);
  return true;
}

static bool timer_persist(struct ustcp_stack *s, struct us_tcb *t)
{
  uint32_t unsent = (uint32_t)t->sndq.len - (t->snd_nxt - t->snd_una);
  if (unsent == 0 || t->snd_nxt != t->snd_una) {
    us_tcp_output(s, t);
    return true;
  }
  if (t->user_timeout_ms && t->retrans_stamp &&
      s->now - t->retrans_stamp >= USTCP_MS(t->user_timeout_ms)) {
    us_stat_inc(s, USTCP_STAT_TCP_ABORT_ON_TIMEOUT);
    return us_tcp_reset(s, t, ETIMEDOUT) != NULL;
  }
  if (!t->retrans_stamp)
    t->retrans_stamp = s->now;
  /* Linux tcp_probe_timer(): abort after retries2 unanswered probes; an
   * orphan after tcp_orphan_retries (0 means 8), and at once once its
   * backed-off RTO has reached the 120 s cap (answered probes reset the
   * count but not the backoff). */
  int max_probes = s->cfg.retries2;
  if (t->flags & TF_ORPHAN) {
    bool alive = us_tcp_rto(t) < US_TCP_RTO_MAX;
    max_probes = orphan_retries(s, t, alive);
    if (!alive && t->backoff >= max_probes) {
      us_stat_inc(s, USTCP_STAT_TCP_ABORT_ON_TIMEOUT);
      return us_tcp_reset(s, t, ETIMEDOUT) != NULL;
    }
  }
  if (t->probes >= max_probes) {
    us_stat_inc(s, USTCP_STAT_TCP_ABORT_ON_TIMEOUT);
    return us_tcp_reset(s, t, ETIMEDOUT) != NULL;
  }
  if (t->snd_wnd) {
    /* Linux tcp_write_wakeup(): a window too small for the sender's SWS
     * rule gets what fits when the timer expires. */
    us_tcp_send_window_fill(s, t);
  } else {
    us_stat_inc(s, USTCP_STAT_TCP_ZERO_WINDOW_PROBES);
    us_tcp_send_probe(s, t);
  }
  t->probes++;
  if (t->backoff < 31)
    t->backoff++;
  us_tcb_timer_set(s, t, US_TT_PERSIST, s->now + us_tcp_rto(t));
  return true;
}

static bool timer_keepalive(struct ustcp_stack *s, struct us_tcb *t)
{
  if (!(t->flags & TF_KEEPALIVE) || !us_tcp_is_sync(t->state) || t->state == USTCP_TCP_SYN_RECV)
    return true;
  ustcp_time_t idle = USTCP_SEC(t->keepidle);
  ustcp_time_t intvl = USTCP_SEC(t->keepintvl);
  /* Linux tcp_keepalive_timer(): not while data is in flight or queued. */
  if (t->snd_nxt != t->snd_una || t->sndq.len) {
    us_tcb_timer_set(s, t, US_TT_KEEPALIVE, s->now + idle);
    return true;
  }
  if (s->now - t->last_rcv < idle && t->probes == 0) {
    us_tcb_timer_set(s, t, US_TT_KEEPALIVE, t->last_rcv + idle);
    return true;
  }
  if (t->probes >= t->keepcnt) {
    /* Linux: RST+ACK seq = SND.NXT, ETIMEDOUT. */
    us_tcp_send_rst_abort(s, t);
    us_stat_inc(s, USTCP_STAT_TCP_ABORT_ON_TIMEOUT);
    return us_tcp_reset(s, t, ETIMEDOUT) != NULL;
  }
  us_stat_inc(s, USTCP_STAT_TCP_KEEPALIVE);
  us_tcp_send_probe(s, t);
  t->probes++;
  us_tcb_timer_set(s, t, US_TT_KEEPALIVE, s->now + intvl);
  return true;
}

static bool timer_fin_wait2(struct ustcp_stack *s, struct us_tcb *t)
{
  if (t->state != USTCP_TCP_FIN_WAIT2)
    return true;
  /* Linux: an orphan in FIN_WAIT2 past fin_timeout is dropped silently. */
  us_stat_inc(s, USTCP_STAT_TCP_ORPHANS_DROPPED);
  return us_tcp_done(s, t) != NULL;
}

static const struct {
  const char *name;
  bool (*fn)(struct ustcp_stack *s, struct us_tcb *t);
} handlers[US_TT_COUNT] = {
    [US_TT_RTO] = {"rto", timer_rto},
    [US_TT_DELACK] = {"delack", timer_delack},
    [US_TT_PERSIST] = {"persist", timer_persist},
    [US_TT_KEEPALIVE] = {"keepalive", timer_keepalive},
    [US_TT_FIN_WAIT2] = {"fin_wait2", timer_fin_wait2},
};

static void tcb_timer_fire(struct ustcp_stack *s, struct us_timer *tm)
{
  struct us_tcb *t = US_CONTAINER_OF(tm, struct us_tcb, timer);
  us_tcb_prefetch(t);
  for (int k = 0; k < US_TT_COUNT; k++) {
    if (t->deadline[k] > s->now)
      continue;
    t->deadline[k] = USTCP_TIME_NEVER;
    if (!(k == US_TT_RTO && t->tlp == 1)) /* the probe timeout traces "tlp" */
      us_trace_note(s, USTCP_TR_TIMER, handlers[k].name);
    if (!handlers[k].fn(s, t))
      return;
  }
  tcb_timer_sync(s, t);
}
