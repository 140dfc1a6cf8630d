/*
 * tcp_input.c - segment arrival. Stages, in RFC 9293 3.10.7 order:
 *   us_tcp_input: parse + checksum (src/wire) -> demux: 4-tuple hash (TCB,
 *   SYN-queue request, TIME_WAIT entry), then the listener by port, else
 *   "no socket" (RST, RFC 9293 3.10.7.1);
 *   SYN_SENT (3.10.7.3); synchronized states (3.10.7.4): PAWS (RFC 7323
 *   5.3), sequence check, RST (RFC 5961 3), SYN (RFC 5961 4), ACK (with
 *   RFC 5961 5 limits, SACK, RTT, congestion control), data, FIN; then
 *   output and the ACK decision (Linux __tcp_ack_snd_check).
 * Every segment dropped is counted with a named reason (us_drop).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ip/ip.h"
#include "tcp/tcp.h"

static void drop(struct ustcp_stack *s, const struct us_seg *sg, enum ustcp_stat why)
{
  us_drop(s, why, sg->dgram, sg->dglen);
}

/* Effective send MSS: RFC 6691 / Linux tcp_sync_mss: the peer's MSS (or
 * 536), our MTU, less the timestamp option, capped by TCP_MAXSEG. */
static uint32_t mss_for_mtu(const struct us_tcb *t, uint32_t mtu)
{
  uint32_t mss = t->peer_mss ? t->peer_mss : US_TCP_DEFAULT_MSS;
  if (mss > mtu - 40)
    mss = mtu - 40;
  if (t->user_mss && mss > t->user_mss)
    mss = t->user_mss;
  if (t->flags & TF_TS_OK)
    mss -= 12;
  if (mss < 48) /* Linux tcp_min_snd_mss */
    mss = 48;
  return mss;
}

/* The path MTU (TCP_INFO tcpi_pmtu): the link's, unless an ICMP
 * fragmentation needed lowered the MSS below what the link allows. */
uint32_t us_tcp_pmtu(const struct ustcp_stack *s, const struct us_tcb *t)
{
  if (t->mss >= mss_for_mtu(t, s->cfg.mtu))
    return s->cfg.mtu;
  return (uint32_t)t->mss + 40 + ((t->flags & TF_TS_OK) ? 12 : 0);
}

void us_tcp_set_mss(struct ustcp_stack *s, struct us_tcb *t)
{
  uint32_t mss = mss_for_mtu(t, s->cfg.mtu);
  t->mss = (uint16_t)mss;
  /* Linux tcp_initialize_rcv_mss(): start at min(mss, 536), learn later. */
  uint32_t rm = mss < US_TCP_DEFAULT_MSS ? mss : US_TCP_DEFAULT_MSS;
  if (rm < US_TCP_MIN_MSS)
    rm = US_TCP_MIN_MSS;
  t->rcv_mss = (uint16_t)rm;
}

/* Options of the peer's SYN or SYN-ACK (RFC 7323 2.2, 3.2; RFC 2018 2). */
void us_tcp_parse_syn_opts(struct ustcp_stack *s, struct us_tcb *t, const struct us_tcp_opts *o)
{
  t->peer_mss = o->mss_ok ? o->mss : US_TCP_DEFAULT_MSS;
  if (o->ws_ok && s->cfg.window_scaling) {
    t->flags |= TF_WS_OK;
    t->snd_wscale = o->ws > US_TCP_MAX_WSCALE ? US_TCP_MAX_WSCALE : o->ws;
  } else {
    t->flags &= ~TF_WS_OK;
    t->snd_wscale = 0;
    t->rcv_wscale = 0;
  }
  if (o->sack_ok && s->cfg.sack)
    t->flags |= TF_SACK_OK;
  else
    t->flags &= ~TF_SACK_OK;
  if (o->ts_ok && s->cfg.timestamps) {
    t->flags |= TF_TS_OK;
    t->ts_recent = o->ts_val;
  } else {
    t->flags &= ~TF_TS_OK;
  }
  us_tcp_set_mss(s, t);
}

static void init_cwnd(struct ustcp_stack *s, struct us_tcb *t) { s->tcp->cc->init(s, t); }

/* RFC 6298 (2.2)-(3): sample from the timed segment (Karn), else from the
 * echoed timestamp (RFC 7323 4.1). */
static void rtt_on_ack(struct ustcp_stack *s, struct us_tcb *t, const struct us_seg *sg,
                       uint32_t ack)
{
  if ((t->flags & TF_RTT_TIMING) && seq_gt(ack, t->rtt_seq)) {
    t->flags &= ~TF_RTT_TIMING;
    us_tcp_rtt_sample(t, us_tcp_now_us(s) - t->rtt_time_us);
    return;
  }
  if ((t->flags & TF_TS_OK) && sg->h.opt.ts_ok && sg->h.opt.ts_ecr && !t->retrans) {
    uint32_t ms = us_tcp_ts_now(s) + t->ts_offset - sg->h.opt.ts_ecr;
    if (ms < 60000u && !(t->flags & TF_RTT_TIMING))
      us_tcp_rtt_sample(t, ms * 1000u);
  }
}

void us_tcp_fin_wait2_arm(struct ustcp_stack *s, struct us_tcb *t)
{
  /* Linux tcp_fin_time(): TCP_LINGER2 if set, else fin_timeout. */
  ustcp_time_t tmo = t->linger2 > 0 ? USTCP_SEC(t->linger2) : USTCP_SEC(s->cfg.fin_timeout);
  us_tcb_timer_set(s, t, US_TT_FIN_WAIT2, s->now + tmo);
}

/* ------------------------------------------------------------ SYN_SENT */

static void rcv_synsent(struct ustcp_stack *s, struct us_tcb *t, struct us_seg *sg)
{
  const struct us_tcp_hdr *h = &sg->h;
  uint8_t f = h->flags;
  if (f & US_TCP_ACK) {
    /* RFC 9293 3.10.7.3 first: unacceptable ACK -> RST (unless RST). */
    if (seq_leq(h->ack, t->iss) || seq_gt(h->ack, t->snd_nxt)) {
      us_tcp_send_rst_reply(s, sg);
      drop(s, sg, USTCP_STAT_DROP_TCP_SYNSENT_BAD);
      return;
    }
  }
  if (f & US_TCP_RST) {
    if (f & US_TCP_ACK) {
      us_stat_inc(s, USTCP_STAT_TCP_ATTEMPT_FAILS);
      us_tcp_reset(s, t, ECONNREFUSED);
      return;
    }
    drop(s, sg, USTCP_STAT_DROP_TCP_SYNSENT_BAD);
    return;
  }
  if (!(f & US_TCP_SYN)) {
    drop(s, sg, USTCP_STAT_DROP_TCP_SYNSENT_BAD);
    return;
  }
  t->irs = h->seq;
  t->rcv_nxt = h->seq + 1;
  t->rcv_wup = t->rcv_nxt;
  us_tcp_parse_syn_opts(s, t, &h->opt);
  t->snd_wnd = h->win; /* RFC 7323 2.2: a SYN's window is never scaled */
  t->max_sndwnd = t->snd_wnd;
  t->snd_wl1 = h->seq;
  t->snd_wl2 = h->ack;
  t->rcv_adv = t->rcv_nxt + t->rcv_ssthresh;
  t->last_rcv = s->now;
  if (t->rcv_ssthresh > us_tcp_window_clamp(s, t)) /* Linux tcp_init_buffer_space */
    t->rcv_ssthresh = us_tcp_window_clamp(s, t);
  if (f & US_TCP_ACK) {
    t->snd_una = h->ack;
    t->delivered++; /* the SYN (Linux tcp_clean_rtx_queue) */
    if (!t->retrans && (t->flags & TF_RTT_TIMING))
      us_tcp_rtt_sample(t, us_tcp_now_us(s) - t->rtt_time_us);
    t->flags &= ~TF_RTT_TIMING;
    t->backoff = 0;
    t->retrans = 0;
    t->retrans_stamp = 0;
    init_cwnd(s, t);
    us_tcb_timer_clear(s, t, US_TT_RTO);
    us_tcb_set_state(s, t, USTCP_TCP_ESTABLISHED);
    us_tcp_arm_keepalive(s, t);
    t->flags |= TF_ACK_NOW;
    us_tcp_output(s, t);
    return;
  }
  /* RFC 9293 3.10.7.3: simultaneous open -> SYN_RECEIVED, send SYN,ACK. */
  us_tcb_set_state(s, t, USTCP_TCP_SYN_RECV);
  t->retrans = 0;
  t->backoff = 0;
  us_tcp_send_syn(s, t);
  us_tcb_timer_set(s, t, US_TT_RTO, s->now + us_tcp_rto(t));
}

/* --------------------------------------------------- synchronized states */

static void send_dupack(struct ustcp_stack *s, struct us_tcb *t)
{
  if (t->state == USTCP_TCP_SYN_RECV)
    us_tcp_send_syn(s, t);
  else
    us_tcp_send_ack(s, t);
}

/* RFC 9293 3.10.7.4 "If the RST bit is set" for an in-window RST at
 * RCV.NXT: report and close. Linux tcp_reset(). */
static struct us_tcb *rcv_reset(struct ustcp_stack *s, struct us_tcb *t)
{
  int err;
  switch (t->state) {
  case USTCP_TCP_SYN_RECV:
    err = ECONNREFUSED;
    break;
  case USTCP_TCP_CLOSE_WAIT:
    err = EPIPE;
    break;
  default:
    err = ECONNRESET;
    break;
  }
  if (t->state == USTCP_TCP_ESTABLISHED || t->state == USTCP_TCP_CLOSE_WAIT)
    us_stat_inc(s, USTCP_STAT_TCP_ESTAB_RESETS);
  return us_tcp_reset(s, t, err);
}

/* Linux tcp_measure_rcv_mss(): a segment at least as long as the segment
 * size estimate updates it; if its length differs, the scaling ratio is
 * relearned from its length and truesize (Linux 6.x), and the window clamp
 * becomes the full space of the buffer at that ratio. */
static void measure_rcv_mss(struct ustcp_stack *s, struct us_tcb *t, const struct us_seg *sg)
{
  uint32_t adv = (uint32_t)s->cfg.mtu - 40;
  uint32_t len = sg->len;
  uint32_t hdr = sg->ip->hdr_len + sg->h.hdr_len;
  uint32_t lss = t->last_seg_size;
  t->last_seg_size = 0;
  if (len < t->rcv_mss) {
    /* Linux: a shorter segment (with its header) counts as the peer's
     * segment size once two in a row have the same length, if it is at
     * least 536 + 20 bytes, or 88 + 20 without PSH/FIN/URG/SYN. */
    uint32_t l = len + sg->h.hdr_len;
    uint32_t thl = 20u + ((t->flags & TF_TS_OK) ? 12u : 0u);
    if (l >= US_TCP_DEFAULT_MSS + 20u ||
        (l >= US_TCP_MIN_MSS + 20u &&
         !(sg->h.flags & (US_TCP_FIN | US_TCP_URG | US_TCP_SYN | US_TCP_PSH)))) {
      l -= thl;
      t->last_seg_size = (uint16_t)l;
      if (l == lss)
        t->rcv_mss = (uint16_t)l;
    }
    return;
  }
  if (len != t->rcv_mss) {
    uint32_t r = (uint32_t)(((uint64_t)len << 8) / us_tcp_truesize(len, hdr));
    r = r > 255 ? 255 : (r ? r : 1);
    if (r != t->scaling_ratio) {
      uint32_t old = us_tcp_window_clamp(s, t);
      t->scaling_ratio = (uint8_t)r;
      t->rcv_space = us_tcp_rcv_space(t);
      t->clamp_full = 1;
      if (t->rcv_space < old) {
        if (t->rcv_ssthresh > t->rcv_space)
          t->rcv_ssthresh = t->rcv_space;
      } else {
        /* tcp_set_window_clamp(): rcv_ssthresh at least the window offered */
        uint32_t wnd = t->rcv_adv - t->rcv_wup;
        if (wnd > t->rcv_space)
          wnd = t->rcv_space;
        if (wnd > t->rcv_ssthresh)
          t->rcv_ssthresh = wnd;
      }
    }
  }
  t->rcv_mss = (uint16_t)(len > adv ? adv : len);
}

/* Linux tcp_grow_window(): raise rcv_ssthresh by two segments (at least
 * twice this one) while the free space allows, if a segment of this size
 * fits its truesize in the window; a growing window keeps one quick ACK. */
static void grow_window(struct ustcp_stack *s, struct us_tcb *t, const struct us_seg *sg)
{
  uint32_t len = sg->len;
  uint32_t hdr = sg->ip->hdr_len + sg->h.hdr_len;
  uint32_t clamp = us_tcp_window_clamp(s, t);
  uint32_t space = us_tcp_free_space(t);
  uint32_t lim = clamp < space ? clamp : space;
  if (lim <= t->rcv_ssthresh || us_tcp_mem_pressure(s))
    return;
  uint32_t adv = (uint32_t)s->cfg.mtu - 40 - ((t->flags & TF_TS_OK) ? 12 : 0);
  uint32_t incr = 2u * adv;
  uint32_t ts = us_tcp_truesize(len, hdr);
  if (us_tcp_win_from_space(t, ts) > len) {
    /* Linux __tcp_grow_window(): a segment with more overhead grows the
     * window only while rcv_ssthresh is small against tcp_rmem[2]. */
    uint32_t tw = us_tcp_win_from_space(t, ts) >> 1;
    uint32_t w = us_tcp_win_from_space(t, (uint32_t)s->cfg.rmem[2]) >> 1;
    incr = 0;
    while (t->rcv_ssthresh <= w) {
      if (tw <= len) {
        incr = 2u * t->rcv_mss;
        break;
      }
      tw >>= 1;
      w >>= 1;
    }
    if (!incr)
      return;
  }
  if (incr < 2u * len)
    incr = 2u * len;
  uint32_t room = lim - t->rcv_ssthresh;
  t->rcv_ssthresh += incr < room ? incr : room;
  t->quick |= 1; /* Linux: icsk_ack.quick |= 1 (a bit OR: 2 becomes 3) */
}

/* Linux tcp_event_data_recv: learn the peer's segment size, start quick-ACK
 * mode on the first data, adapt the ACK timeout, grow the window. */
static void event_data_recv(struct ustcp_stack *s, struct us_tcb *t, const struct us_seg *sg)
{
  uint32_t len = sg->len;
  measure_rcv_mss(s, t, sg);
  if (!t->ato_us) {
    uint32_t wnd = t->rcv_adv - t->rcv_wup;
    uint32_t q = wnd / (2u * t->rcv_mss);
    if (q == 0) /* Linux tcp_incr_quickack() */
      q = 2;
    t->quick = (uint8_t)(q > 16 ? 16 : q);
    t->ato_us = (uint32_t)(US_TCP_ATO_MIN / 1000);
  } else {
    uint32_t m = (uint32_t)((s->now - t->lrcvtime) / 1000u);
    uint32_t atomin = (uint32_t)(US_TCP_ATO_MIN / 1000);
    if (m <= atomin / 2) {
      t->ato_us = (t->ato_us >> 1) + atomin / 2;
    } else if (m < t->ato_us) {
      t->ato_us = (t->ato_us >> 1) + m;
      if (t->ato_us > t->rto_us)
        t->ato_us = t->rto_us;
    }
  }
  t->lrcvtime = s->now;
  if (len >= 128)
    grow_window(s, t, sg);
}

static ustcp_time_t delack_timeout(const struct us_tcb *t)
{
  ustcp_time_t ato = (ustcp_time_t)t->ato_us * 1000u;
  if (ato < US_TCP_DELACK_MIN)
    ato = US_TCP_DELACK_MIN;
  ustcp_time_t max_ato = USTCP_MS(500);
  if (t->flags & TF_PINGPONG)
    max_ato = US_TCP_DELACK_MAX;
  if (t->srtt_us) {
    ustcp_time_t rtt = (ustcp_time_t)t->srtt_us * 1000u;
    if (rtt < US_TCP_DELACK_MIN)
      rtt = US_TCP_DELACK_MIN;
    if (rtt < max_ato)
      max_ato = rtt;
  }
  return ato < max_ato ? ato : max_ato;
}

/* Linux __tcp_ack_snd_check(): ACK now if more than one full segment is
 * unacknowledged and the window's right edge advances, in quick-ACK mode,
 * or with out-of-order data; otherwise arm the delayed-ACK timer. */
static void ack_snd_check(struct ustcp_stack *s, struct us_tcb *t)
{
  if (t->flags & TF_ACK_NOW)
    return;
  if (t->rcv_nxt == t->rcv_wup)
    return;
  bool now = false;
  if (t->rcv_nxt - t->rcv_wup > t->rcv_mss && us_tcp_select_window(s, t) >= t->rcv_adv - t->rcv_wup)
    now = true;
  if ((t->quick && !(t->flags & TF_PINGPONG)) || (t->flags & TF_QUICKACK))
    now = true;
  if (t->ofo)
    now = true;
  if (now)
    t->flags |= TF_ACK_NOW;
  else if (t->deadline[US_TT_DELACK] == USTCP_TIME_NEVER)
    us_tcb_timer_set(s, t, US_TT_DELACK, s->now + delack_timeout(t));
}

/* Returns false if the segment must not be processed further (dropped or
 * the TCB is gone: *tp set to NULL then). */
static bool rcv_ack(struct ustcp_stack *s, struct us_tcb **tp, struct us_seg *sg)
{
  struct us_tcb *t = *tp;
  const struct us_tcp_hdr *h = &sg->h;
  uint32_t ack = h->ack;

  if (t->state == USTCP_TCP_SYN_RECV) {
    if (!(seq_lt(t->snd_una, ack) && seq_leq(ack, t->snd_nxt))) {
      us_tcp_send_rst_reply(s, sg);
      drop(s, sg, USTCP_STAT_DROP_TCP_REQ_BAD_ACK);
      return false;
    }
    t->snd_wnd = (uint32_t)h->win << t->snd_wscale;
    t->max_sndwnd = t->snd_wnd;
    t->snd_wl1 = h->seq;
    t->snd_wl2 = ack;
    t->snd_una = ack;
    t->delivered++; /* Linux: SYN-ACK delivery counted in SYN_RECV */
    t->backoff = 0;
    t->retrans = 0;
    t->retrans_stamp = 0;
    us_tcb_timer_clear(s, t, US_TT_RTO);
    if (!t->cwnd)
      init_cwnd(s, t);
    us_tcb_set_state(s, t, USTCP_TCP_ESTABLISHED);
    if (t->flags & TF_FIN_QUEUED)
      us_tcb_set_state(s, t, USTCP_TCP_FIN_WAIT1);
    us_tcp_arm_keepalive(s, t);
    return true;
  }

  /* RFC 5961 5.2: ACK of something never sent -> ACK and drop; too old
   * (below SND.UNA - MAX.SND.WND) -> ACK and drop. */
  if (seq_gt(ack, t->snd_nxt)) {
    if (us_tcp_challenge_ok(s, t))
      us_tcp_send_ack(s, t);
    drop(s, sg, USTCP_STAT_DROP_TCP_FUTURE_ACK);
    return false;
  }
  uint32_t maxwnd = t->max_sndwnd > 65535 ? t->max_sndwnd : 65535;
  if (seq_lt(ack, t->snd_una - maxwnd)) {
    if (us_tcp_challenge_ok(s, t))
      us_tcp_send_ack(s, t);
    drop(s, sg, USTCP_STAT_DROP_TCP_OLD_ACK);
    return false;
  }
  t->probes = 0; /* Linux tcp_ack(): icsk_probes_out = 0 */

  if ((t->flags & TF_SACK_OK) && h->opt.nsack) {
    /* RFC 2883 4 / Linux tcp_check_dsack(): a first block below the ACK,
     * or inside the second, is a D-SACK; tcp_dsack_seen() counts its
     * segments (tcpi_dsack_dups). */
    const struct us_tcp_sack_block *b = h->opt.sack;
    uint32_t dl = b[0].right - b[0].left;
    if (seq_lt(b[0].left, b[0].right) &&
        (seq_lt(b[0].left, ack) ||
         (h->opt.nsack > 1 && seq_geq(b[0].left, b[1].left) && seq_leq(b[0].right, b[1].right))) &&
        dl <= t->max_sndwnd)
      t->dsack_dups += (dl + t->mss - 1) / (t->mss ? t->mss : 1);
    us_tcp_sack_update(s, t, &h->opt);
  }

  /* RFC 9293 3.10.7.4: window update if SND.WL1 < SEG.SEQ or (SND.WL1 =
   * SEG.SEQ and SND.WL2 =< SEG.ACK). */
  uint32_t nwnd = (uint32_t)h->win << t->snd_wscale;
  bool win_changed = false;
  if (seq_leq(t->snd_una, ack) &&
      (seq_lt(t->snd_wl1, h->seq) || (t->snd_wl1 == h->seq && seq_leq(t->snd_wl2, ack)))) {
    win_changed = nwnd != t->snd_wnd;
    t->snd_wnd = nwnd;
    t->snd_wl1 = h->seq;
    t->snd_wl2 = ack;
    if (nwnd > t->max_sndwnd)
      t->max_sndwnd = nwnd;
    if (nwnd && win_changed && t->deadline[US_TT_PERSIST] != USTCP_TIME_NEVER) {
      us_tcb_timer_clear(s, t, US_TT_PERSIST);
      t->backoff = 0;
    }
  }

  if (seq_gt(ack, t->snd_una)) {
    uint32_t acked = ack - t->snd_una;
    uint32_t data_acked = acked;
    if ((t->flags & TF_FIN_QUEUED) && !(t->flags & TF_FIN_ACKED) && ack == t->snd_nxt &&
        t->snd_nxt == t->snd_una + (uint32_t)t->sndq.len + 1) {
      data_acked--;
      t->flags |= TF_FIN_ACKED;
    }
    if (data_acked > t->sndq.len)
      data_acked = (uint32_t)t->sndq.len;
    t->delivered += (acked + t->mss - 1) / (t->mss ? t->mss : 1);
    us_bq_consume(s, &t->sndq, data_acked);
    if (t->snd_cur) {
      if (t->snd_cur_off >= data_acked)
        t->snd_cur_off -= data_acked;
      else
        t->snd_cur = NULL;
    }
    t->snd_una = ack;
    if (t->tlp == 2 && seq_geq(ack, t->tlp_high))
      t->tlp = 0; /* RFC 8985 7.4: the probe episode is over */
    rtt_on_ack(s, t, sg, ack);
    t->backoff = 0;
    t->retrans = 0;
    if (t->snd_una == t->snd_nxt)
      t->retrans_stamp = 0;
    if (t->sack)
      us_tcp_sack_ack(s, t);
    if (t->flags & TF_IN_RECOVERY) {
      if (seq_geq(ack, t->recover)) {
        /* RFC 6582 3.2 (3): full ACK, leave recovery. */
        t->flags &= ~TF_IN_RECOVERY;
        t->cwnd = t->ssthresh;
        t->dupacks = 0;
        t->retrans_stamp = 0;
      } else {
        /* RFC 6582 3.2 (5): partial ACK -> retransmit the next hole. */
        t->dupacks = 0;
        t->rtx_nxt = seq_max(t->rtx_nxt, t->snd_una);
        uint32_t hi = t->snd_una + t->mss;
        if (t->sack)
          hi = seq_max(hi, us_tcp_sack_highest(t));
        if (seq_gt(hi, t->snd_nxt))
          hi = t->snd_nxt;
        if (!t->sack)
          t->rtx_nxt = t->snd_una;
        t->rtx_high = seq_max(t->rtx_high, hi);
      }
    } else {
      if ((t->flags & TF_IN_LOSS) && seq_geq(ack, t->recover))
        t->flags &= ~TF_IN_LOSS;
      t->dupacks = 0;
      s->tcp->cc->on_ack(s, t, acked);
    }
    us_tcp_rearm_rto(s, t);

    if (t->flags & TF_FIN_ACKED) {
      switch (t->state) {
      case USTCP_TCP_FIN_WAIT1:
        us_tcb_set_state(s, t, USTCP_TCP_FIN_WAIT2);
        if (t->flags & TF_ORPHAN) {
          if (t->linger2 < 0) {
            /* Linux: TCP_LINGER2 < 0 -> RST at once. */
            us_tcp_send_rst_abort(s, t);
            us_stat_inc(s, USTCP_STAT_TCP_ABORT_ON_LINGER);
            *tp = us_tcp_done(s, t);
            return false;
          }
          us_tcp_fin_wait2_arm(s, t);
        }
        break;
      case USTCP_TCP_CLOSING:
        us_tcp_tw_enter(s, t);
        *tp = NULL;
        return false;
      case USTCP_TCP_LAST_ACK:
        *tp = us_tcp_done(s, t);
        return false;
      default:
        break;
      }
    }
  } else if (ack == t->snd_una && sg->len == 0 && !(h->flags & (US_TCP_SYN | US_TCP_FIN)) &&
             !win_changed && t->snd_nxt != t->snd_una) {
    /* RFC 5681 2 "DUPLICATE ACKNOWLEDGMENT". */
    if (t->dupacks < 255)
      t->dupacks++;
    if (t->flags & TF_IN_RECOVERY) {
      if (t->sack)
        t->rtx_high = seq_max(t->rtx_high, seq_min(us_tcp_sack_highest(t), t->snd_nxt));
    } else if (!(t->flags & TF_IN_LOSS)) {
      bool enter = t->dupacks >= 3;
      if (t->sack && us_tcp_sacked_bytes(t, t->snd_una, t->snd_nxt) > 2u * t->mss)
        enter = true;
      /* RFC 6582 3.2 (2): not for losses of the previous episode. */
      if (enter && seq_geq(ack, t->recover)) {
        t->ssthresh = s->tcp->cc->ssthresh(s, t);
        t->cwnd = t->ssthresh;
        t->recover = t->snd_nxt;
        t->flags |= TF_IN_RECOVERY;
        t->flags &= ~TF_RTT_TIMING;
        us_stat_inc(s, USTCP_STAT_TCP_FAST_RETRANS);
        t->rtx_nxt = t->snd_una;
        uint32_t hi = t->snd_una + t->mss;
        if (t->sack)
          hi = seq_max(hi, us_tcp_sack_highest(t));
        t->rtx_high = seq_min(hi, t->snd_nxt);
      }
    }
  }
  return true;
}

/* Append `len` payload bytes, from `off` bytes into the segment's payload,
 * to a byte queue: from the datagram, or from its pieces when gathered. */
static size_t seg_append(struct ustcp_stack *s, struct us_bq *q, const struct us_seg *sg,
                         uint32_t off, uint32_t len)
{
  if (sg->pl)
    return us_bq_append_gather(s, q, sg->pl, off, len);
  return us_bq_append(s, q, sg->data + off, len);
}

/* The payload from `off` on as one contiguous buffer (out-of-order data of
 * a gathered segment is copied into the stack's linear buffer; rare).
 * NULL when that buffer cannot be had. */
static const uint8_t *seg_linear(struct ustcp_stack *s, const struct us_seg *sg, uint32_t off,
                                 uint32_t len)
{
  if (!sg->pl)
    return sg->data + off;
  if (!s->rxlin && !(s->rxlin = malloc(65536)))
    return NULL;
  us_gather_copy(sg->pl, off, s->rxlin, len);
  return s->rxlin;
}

/* Data and FIN (RFC 9293 3.10.7.4 seventh and eighth). */
static bool rcv_data(struct ustcp_stack *s, struct us_tcb **tp, struct us_seg *sg)
{
  struct us_tcb *t = *tp;
  uint8_t f = sg->h.flags;
  uint32_t seq = sg->seq;
  uint32_t doff = 0; /* payload bytes trimmed from the front */
  uint32_t len = sg->len;
  bool fin = (f & US_TCP_FIN) != 0;
  uint32_t fin_at = sg->seq + sg->len; /* where the FIN sits */

  if (len || fin) {
    switch (t->state) {
    case USTCP_TCP_ESTABLISHED:
    case USTCP_TCP_FIN_WAIT1:
    case USTCP_TCP_FIN_WAIT2:
    case USTCP_TCP_SYN_RECV:
      break;
    default:
      /* CLOSE_WAIT, CLOSING, LAST_ACK: the peer's FIN came already;
       * RFC 9293: ignore the text. A retransmitted FIN is ACKed. */
      if (fin || len)
        t->flags |= TF_ACK_NOW;
      return true;
    }
  }
  if (len && (t->state == USTCP_TCP_FIN_WAIT1 || t->state == USTCP_TCP_FIN_WAIT2) &&
      (t->flags & TF_SHUT_RD) && seq_gt(seq + len, t->rcv_nxt)) {
    /* Linux tcp_rcv_state_process(): new data after the receive side was
     * shut (close() or SHUT_RD) and our FIN went out -> RST (no ACK, seq =
     * SEG.ACK), ECONNRESET, TCPAbortOnData. */
    us_stat_inc(s, USTCP_STAT_TCP_ABORT_ON_DATA);
    us_tcp_send_rst_reply(s, sg);
    *tp = us_tcp_reset(s, t, ECONNRESET);
    return false;
  }

  if (len) {
    /* Trim what we already have. */
    if (seq_lt(seq, t->rcv_nxt)) {
      uint32_t skip = t->rcv_nxt - seq;
      /* RFC 2883 / Linux tcp_dsack_set(): report the duplicate range. */
      if (t->flags & TF_SACK_OK) {
        t->dsack_l = seq;
        t->dsack_r = skip >= len ? seq + len : t->rcv_nxt;
        us_stat_inc(s, USTCP_STAT_TCP_DSACK_OLD_SENT);
      }
      if (skip >= len) {
        len = 0;
        t->flags |= TF_ACK_NOW; /* duplicate: ACK at once (Linux dupack) */
      } else {
        doff = skip;
        len -= skip;
        seq = t->rcv_nxt;
      }
    }
    /* Trim to the window we offered. */
    uint32_t wnd_end = seq_gt(t->rcv_adv, t->rcv_nxt) ? t->rcv_adv : t->rcv_nxt;
    if (len && seq_gt(seq + len, wnd_end)) {
      uint32_t keep = seq_gt(wnd_end, seq) ? wnd_end - seq : 0;
      if (keep < len) {
        len = keep;
        fin = false;
        t->flags |= TF_ACK_NOW;
      }
    }
    if (len && seq == t->rcv_nxt) {
      size_t n = seg_append(s, &t->rcvq, sg, doff, len);
      /* Linux tcp_try_rmem_schedule() -> tcp_prune_ofo_queue(): in-order
       * data comes first; out-of-order data (highest first) makes room
       * (else held ranges could take all memory and the hole never fill). */
      while (n < len && t->ofo && us_tcp_ofo_prune(s, t)) {
        us_stat_inc(s, USTCP_STAT_TCP_OFO_PRUNED);
        n += seg_append(s, &t->rcvq, sg, doff + (uint32_t)n, len - (uint32_t)n);
      }
      t->rcv_nxt += (uint32_t)n;
      if (n < len) {
        fin = false;
        us_stat_inc(s, USTCP_STAT_DROP_TCP_RCVBUF_FULL);
      }
      if (t->ofo) {
        bool ofo_fin;
        t->rcv_nxt += us_tcp_ofo_pull(s, t, &ofo_fin);
        t->flags |= TF_ACK_NOW; /* Linux: a filled hole is ACKed at once */
        if (ofo_fin) {
          /* The FIN that waited behind the hole is in order now. */
          fin = true;
          fin_at = t->rcv_nxt;
        }
      }
      event_data_recv(s, t, sg);
    } else if (len) {
      const uint8_t *d = seg_linear(s, sg, doff, len);
      if (!d || us_tcp_ofo_insert(s, t, seq, d, len) < 0) {
        us_stat_inc(s, USTCP_STAT_TCP_OFO_DROP);
        drop(s, sg, USTCP_STAT_DROP_TCP_OFO_MEM);
        t->flags |= TF_ACK_NOW;
        return true;
      }
      us_stat_inc(s, USTCP_STAT_TCP_OFO_QUEUE);
      t->rcv_ooopack++;
      t->flags |= TF_ACK_NOW; /* RFC 5681 4.2: out-of-order -> immediate ACK */
      if (fin)
        (void)us_tcp_ofo_fin(s, t, seq + len); /* kept until the hole fills */
      fin = false;
    }
  }

  if (fin && fin_at == t->rcv_nxt) {
    t->rcv_nxt++;
    t->flags |= TF_FIN_RCVD | TF_SHUT_RD;
    switch (t->state) {
    case USTCP_TCP_SYN_RECV:
    case USTCP_TCP_ESTABLISHED:
      us_tcb_set_state(s, t, USTCP_TCP_CLOSE_WAIT);
      /* Linux 6.18 (checked, drill tcp_close_passive_last_ack): the FIN is
       * ACKed at once; tcp_fin() then enters pingpong (interactive) mode. */
      t->flags |= TF_PINGPONG | TF_ACK_NOW;
      break;
    case USTCP_TCP_FIN_WAIT1:
      /* Our FIN not yet ACKed (else we would be in FIN_WAIT2). */
      us_tcb_set_state(s, t, USTCP_TCP_CLOSING);
      t->flags |= TF_ACK_NOW;
      break;
    case USTCP_TCP_FIN_WAIT2:
      us_tcp_send_ack(s, t);
      us_tcp_tw_enter(s, t);
      *tp = NULL;
      return false;
    default:
      break;
    }
  } else if (fin) {
    /* FIN beyond a hole: ACK what we have. Linux tcp_data_queue_ofo()
     * keeps a bare FIN too (its sequence number is not empty). */
    if (!len && seq_gt(fin_at, t->rcv_nxt))
      (void)us_tcp_ofo_fin(s, t, fin_at);
    t->flags |= TF_ACK_NOW;
  }
  return true;
}

static void rcv_synced(struct ustcp_stack *s, struct us_tcb *t, struct us_seg *sg)
{
  const struct us_tcp_hdr *h = &sg->h;
  uint8_t f = h->flags;

  /* RFC 7323 5.3 PAWS (not for RST: Linux tcp_paws_discard). */
  if ((t->flags & TF_TS_OK) && h->opt.ts_ok && !(f & US_TCP_RST) &&
      seq_lt(h->opt.ts_val, t->ts_recent)) {
    us_stat_inc(s, USTCP_STAT_PAWS_ESTAB_REJECTED);
    send_dupack(s, t);
    drop(s, sg, USTCP_STAT_DROP_TCP_PAWS);
    return;
  }

  /* RFC 9293 3.10.7.4 first: sequence acceptability (Linux
   * tcp_sequence(): not wholly before RCV.WUP, not after the window). */
  uint32_t rwnd = seq_gt(t->rcv_adv, t->rcv_nxt) ? t->rcv_adv - t->rcv_nxt : 0;
  bool ok = !seq_lt(sg->end, t->rcv_wup) && !seq_gt(sg->seq, t->rcv_nxt + rwnd);
  if (ok && sg->end == sg->seq && rwnd == 0 && sg->seq != t->rcv_nxt && !(f & US_TCP_RST))
    ok = seq_leq(sg->seq, t->rcv_nxt);
  if (!ok) {
    /* Linux tcp_validate_incoming(): a dupack, rate-limited unless the
     * segment carries data (data is not part of an ACK loop). */
    if (!(f & US_TCP_RST) && ((sg->len && !(f & US_TCP_SYN)) || us_tcp_oow_ok(s, t)))
      send_dupack(s, t);
    drop(s, sg,
         (f & US_TCP_RST) ? USTCP_STAT_DROP_TCP_RST_INVALID : USTCP_STAT_DROP_TCP_SEQ_OUTSIDE);
    return;
  }

  /* Second: RST (RFC 5961 3.2): exact match resets, in-window challenges. */
  if (f & US_TCP_RST) {
    if (sg->seq == t->rcv_nxt) {
      rcv_reset(s, t);
      return;
    }
    if (us_tcp_challenge_ok(s, t))
      us_tcp_send_ack(s, t);
    drop(s, sg, USTCP_STAT_DROP_TCP_RST_CHALLENGE);
    return;
  }

  /* Fourth: SYN in a synchronized state (RFC 5961 4.2): challenge ACK. */
  if ((f & US_TCP_SYN) && t->state == USTCP_TCP_SYN_RECV && (f & US_TCP_ACK) &&
      sg->seq + 1 == t->rcv_nxt && h->ack == t->snd_nxt) {
    /* Linux tcp_validate_incoming(): the peer's SYN-ACK in a simultaneous
     * open passes as the ACK of our SYN. */
    f &= (uint8_t)~US_TCP_SYN;
  }
  if (f & US_TCP_SYN) {
    if (t->state == USTCP_TCP_SYN_RECV && sg->seq == t->irs) {
      /* Retransmitted SYN of a simultaneous open: repeat our SYN,ACK. */
      us_tcp_send_syn(s, t);
      drop(s, sg, USTCP_STAT_DROP_TCP_DUP_SYN);
      return;
    }
    us_stat_inc(s, USTCP_STAT_TCP_SYN_CHALLENGE);
    if (us_tcp_challenge_ok(s, t))
      us_tcp_send_ack(s, t);
    drop(s, sg, USTCP_STAT_DROP_TCP_SYN_CHALLENGE);
    return;
  }

  /* Fifth: ACK required. */
  if (!(f & US_TCP_ACK)) {
    drop(s, sg, USTCP_STAT_DROP_TCP_NO_ACK);
    return;
  }

  /* RFC 7323 4.3: remember the timestamp of a segment at the left edge. */
  if ((t->flags & TF_TS_OK) && h->opt.ts_ok && seq_leq(sg->seq, t->rcv_wup))
    t->ts_recent = h->opt.ts_val;

  t->last_rcv = s->now;
  if (!rcv_ack(s, &t, sg))
    return;
  if (!rcv_data(s, &t, sg))
    return;
  if (sg->len && !(t->flags & TF_ACK_NOW))
    ack_snd_check(s, t);
  us_tcp_output(s, t);
}

void us_tcp_rcv(struct ustcp_stack *s, struct us_tcb *t, struct us_seg *sg)
{
  t->segs_in++; /* Linux tcp_segs_in() */
  if (sg->len)
    t->data_segs_in++;
  switch (t->state) {
  case USTCP_TCP_SYN_SENT:
    rcv_synsent(s, t, sg);
    break;
  case USTCP_TCP_LISTEN:
    us_tcp_listen_rcv(s, t, sg);
    break;
  case USTCP_TCP_CLOSE:
    us_tcp_send_rst_reply(s, sg);
    drop(s, sg, USTCP_STAT_DROP_TCP_NO_SOCKET);
    break;
  default:
    rcv_synced(s, t, sg);
    break;
  }
}

/* The TCP checksum of a gathered segment: the header from seg, the payload
 * from the pieces (RFC 9293 3.1), without making it linear. */
static bool gather_csum_ok(const uint8_t *seg, size_t len, size_t hl, const struct us_ipv4_hdr *ip,
                           const struct us_gather *pl)
{
  if (len > 0xffff)
    return false;
  uint64_t sum = us_csum_pseudo(ip->src, ip->dst, US_IPPROTO_TCP, (uint16_t)len);
  sum = us_csum_add(sum, seg, hl);
  size_t at = hl, left = len - hl, off = pl->off;
  for (int i = 0; i < pl->iovcnt && left; i++) {
    if (off >= pl->iov[i].iov_len) {
      off -= pl->iov[i].iov_len;
      continue;
    }
    size_t n = US_MIN(pl->iov[i].iov_len - off, left);
    sum = us_csum_add_at(sum, (const uint8_t *)pl->iov[i].iov_base + off, n, at);
    at += n;
    left -= n;
    off = 0;
  }
  return left == 0 && us_csum_fold(sum) == 0;
}

void us_tcp_input(struct ustcp_stack *s, const struct us_ipv4_hdr *ip, const uint8_t *seg,
                  size_t len, const uint8_t *dgram, size_t dglen, const struct us_gather *pl)
{
  struct us_seg sg;
  /* The bucket load (a cache miss with many connections) runs while the
   * header is parsed; a segment too short for its ports is dropped there. */
  struct us_tcp *tc = s->tcp;
  uint32_t h = 0;
  if (len >= 4) {
    h = us_tcp_hash4(tc, ip->dst, (uint16_t)(seg[2] << 8 | seg[3]), ip->src,
                     (uint16_t)(seg[0] << 8 | seg[1]));
    __builtin_prefetch(&tc->ehash[h & tc->ehash_mask], 0, 3);
  }
  memset(&sg, 0, sizeof(sg));
  int r = us_tcp_parse(seg, len, ip->src, ip->dst, !s->cfg.csum_offload && !pl, &sg.h);
  if (pl && !s->cfg.csum_offload && (r == 0 || r == USTCP_STAT_DROP_TCP_BAD_OPT) &&
      !gather_csum_ok(seg, len, sg.h.hdr_len, ip, pl))
    r = USTCP_STAT_DROP_TCP_CSUM; /* as us_tcp_parse: before the options */
  if (r == USTCP_STAT_DROP_TCP_BAD_OPT) {
    /* Linux tcp_parse_options() never drops a segment: it stops at a
     * length 0/1 or overrunning option and ignores a known option of the
     * wrong length, which is what the parser left in sg.h.opt (Linux 6.18
     * measured: such data is ACKed and delivered). Counted, then kept. */
    us_stat_inc(s, USTCP_STAT_TCP_BAD_OPTIONS);
    r = 0;
  }
  if (r) {
    us_stat_inc(s, USTCP_STAT_TCP_IN_ERRS);
    if (r == USTCP_STAT_DROP_TCP_CSUM)
      us_stat_inc(s, USTCP_STAT_TCP_IN_CSUM_ERRORS);
    us_drop(s, (enum ustcp_stat)r, dgram, dglen);
    return;
  }
  us_stat_inc(s, USTCP_STAT_TCP_IN_SEGS);
  sg.ip = ip;
  sg.data = pl ? NULL : seg + sg.h.hdr_len;
  sg.pl = pl;
  sg.len = (uint32_t)(len - sg.h.hdr_len);
  sg.seq = sg.h.seq;
  sg.end =
      sg.seq + sg.len + ((sg.h.flags & US_TCP_SYN) ? 1 : 0) + ((sg.h.flags & US_TCP_FIN) ? 1 : 0);
  sg.dgram = dgram;
  sg.dglen = dglen;
  if (sg.h.sport == 0 || sg.h.dport == 0) {
    us_drop(s, USTCP_STAT_DROP_TCP_BAD_FLAGS, dgram, dglen);
    return;
  }

  struct us_ent *e = us_tcp_lookup_h(s, h, ip->dst, sg.h.dport, ip->src, sg.h.sport);
  if (e) {
    switch (e->kind) {
    case US_ENT_TCB:
      us_tcb_prefetch((struct us_tcb *)e);
      us_tcp_rcv(s, (struct us_tcb *)e, &sg);
      return;
    case US_ENT_REQ:
      us_tcp_req_rcv(s, (struct us_req *)e, &sg);
      return;
    case US_ENT_TW:
      us_tcp_tw_rcv(s, (struct us_tw *)e, &sg);
      return;
    default:
      break;
    }
  }
  struct us_tcb *l = us_tcp_lookup_listener(s, ip->dst, sg.h.dport);
  if (l) {
    us_tcp_listen_rcv(s, l, &sg);
    return;
  }
  us_tcp_send_rst_reply(s, &sg);
  drop(s, &sg, USTCP_STAT_DROP_TCP_NO_SOCKET);
}

/* RFC 1191 path MTU discovery (Linux tcp_v4_mtu_reduced): our segments
 * carry DF; a router that cannot forward one reports the next hop's MTU.
 * A smaller MTU lowers the send MSS (tcp_sync_mss) and the data in flight,
 * sent in larger segments, is retransmitted at the new size without
 * touching cwnd (tcp_simple_retransmit: "units changed"). Linux keeps the
 * MTU in the route; here the MSS is the state. Linux: an MTU under
 * ip_rt_min_pmtu (552) is raised to it and a soft EMSGSIZE remembered
 * (Linux would then send without DF and fragment; ustcp does not fragment). */
static void mtu_reduced(struct ustcp_stack *s, struct us_tcb *t, uint32_t mtu)
{
  if (t->state == USTCP_TCP_SYN_SENT || t->state == USTCP_TCP_SYN_RECV)
    return; /* Linux: only the SYN was sent, and it is small */
  if (mtu < 552) {
    mtu = 552;
    t->soft_err = EMSGSIZE;
  }
  if (mtu > s->cfg.mtu)
    return;
  uint32_t mss = mss_for_mtu(t, mtu);
  if (mss >= t->mss)
    return;
  t->mss = (uint16_t)mss;
  us_stat_inc(s, USTCP_STAT_TCP_PMTU_REDUCED);
  if (t->snd_una == t->snd_nxt)
    return;
  if (!(t->flags & TF_IN_LOSS)) {
    /* Linux tcp_current_ssthresh(): at least 3/4 of cwnd. */
    uint32_t cur = t->cwnd / 2 + t->cwnd / 4;
    if (t->ssthresh < cur)
      t->ssthresh = cur;
    t->flags |= TF_IN_LOSS;
    t->flags &= ~TF_IN_RECOVERY;
    t->recover = t->snd_nxt;
  }
  t->rtx_nxt = t->snd_una;
  t->rtx_high = t->snd_nxt;
  t->flags &= ~TF_RTT_TIMING; /* Karn */
  us_tcp_output(s, t);
}

/* RFC 9293 3.9 / Linux tcp_v4_err(): ICMP errors about a segment we sent.
 * A connecting socket fails at once; an established one keeps the error as
 * a soft error reported if it later times out. */
void us_tcp_icmp_error(struct ustcp_stack *s, uint8_t type, uint8_t code, const uint8_t *inner,
                       size_t len)
{
  if (len < 20)
    return;
  size_t ihl = (size_t)(inner[0] & 0x0f) * 4;
  if (ihl < 20 || len < ihl + 8)
    return;
  uint32_t src = us_get32(inner + 12), dst = us_get32(inner + 16);
  const uint8_t *th = inner + ihl;
  uint16_t sport = us_get16(th), dport = us_get16(th + 2);
  uint32_t seq = us_get32(th + 4);
  struct us_ent *e = us_tcp_lookup(s, src, sport, dst, dport);
  if (!e || e->kind != US_ENT_TCB)
    return;
  struct us_tcb *t = (struct us_tcb *)e;
  int err;
  if (type == US_ICMP_DEST_UNREACH) {
    switch (code) {
    case US_ICMP_NET_UNREACH:
      err = ENETUNREACH;
      break;
    case US_ICMP_HOST_UNREACH:
      err = EHOSTUNREACH;
      break;
    case US_ICMP_PROT_UNREACH:
      err = ENOPROTOOPT;
      break;
    case US_ICMP_PORT_UNREACH:
      err = ECONNREFUSED;
      break;
    case US_ICMP_FRAG_NEEDED:
      err = EMSGSIZE; /* RFC 1191: handled below, never a hard error */
      break;
    default:
      err = EHOSTUNREACH;
      break;
    }
  } else if (type == US_ICMP_TIME_EXCEEDED) {
    err = EHOSTUNREACH;
  } else {
    return;
  }
  /* Linux: the quoted sequence must be in [SND.UNA, SND.NXT]. */
  if (!(seq_geq(seq, t->snd_una) && seq_leq(seq, t->snd_nxt)))
    return;
  if (err == EMSGSIZE) {
    mtu_reduced(s, t, us_get16(inner - 2));
    return;
  }
  if (t->state == USTCP_TCP_SYN_SENT || t->state == USTCP_TCP_SYN_RECV) {
    us_stat_inc(s, USTCP_STAT_TCP_ATTEMPT_FAILS);
    us_tcp_reset(s, t, err);
    return;
  }
  t->soft_err = (uint8_t)err;
}
