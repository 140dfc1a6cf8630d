/*
 * tcp_output.c - building and sending segments. Every segment's headers are
 * built straight into the stack's scratch buffer behind the IPv4 header room
 * (us_ip_payload_buf). The payload is either copied once from the send queue
 * behind them, or - when the link has gather output (output_v) - handed to
 * the link as slices of the send queue's chunks, not copied at all. The
 * checksum is computed once, or left to the link (tx_csum_offload).
 *
 * us_tcp_output() decides what to send: first retransmissions of segments
 * marked lost (RTO or fast recovery, skipping what the peer SACKed), then
 * new data as the send window (RFC 9293 3.8.6), the congestion window
 * (RFC 5681), Nagle (RFC 896), TCP_CORK and sender-side silly-window
 * avoidance (RFC 9293 3.8.6.2.1) allow; the FIN rides on the last data
 * segment (Linux); an ACK is sent if one is due and nothing carried it.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "ip/ip.h"
#include "tcp/tcp.h"

/* The send-queue chunk holding queue offset `off` (and the offset into
 * it), through a cursor so that sending the tail of a long queue does not
 * walk every chunk. */
static const struct us_chunk *sndq_seek(struct us_tcb *t, uint32_t off, uint32_t *skip)
{
  const struct us_chunk *c = t->snd_cur;
  uint32_t base = t->snd_cur_off;
  if (!c || off < base) {
    c = t->sndq.head;
    base = 0;
  }
  while (c && off >= base + (uint32_t)(c->end - c->start)) {
    base += (uint32_t)(c->end - c->start);
    c = c->next;
  }
  t->snd_cur = (struct us_chunk *)c;
  t->snd_cur_off = base;
  *skip = off - base;
  return c;
}

/* Copy len bytes at send-queue offset `off`. */
static void sndq_copy(struct us_tcb *t, uint32_t off, uint8_t *dst, uint32_t len)
{
  uint32_t skip;
  for (const struct us_chunk *c = sndq_seek(t, off, &skip); c && len; c = c->next, skip = 0) {
    uint32_t avail = (uint32_t)(c->end - c->start) - skip;
    uint32_t n = len < avail ? len : avail;
    memcpy(dst, c->data + c->start + skip, n);
    dst += n;
    len -= n;
  }
}

/* Describe len bytes at send-queue offset `off` as at most `max` slices of
 * the queue's chunks. Returns the number of slices, or 0 if more would be
 * needed (the caller copies instead). */
static int sndq_slices(struct us_tcb *t, uint32_t off, uint32_t len, struct iovec *iov, int max)
{
  uint32_t skip;
  int n = 0;
  for (const struct us_chunk *c = sndq_seek(t, off, &skip); c && len; c = c->next, skip = 0) {
    if (n == max)
      return 0;
    uint32_t avail = (uint32_t)(c->end - c->start) - skip;
    uint32_t k = len < avail ? len : avail;
    iov[n].iov_base = (void *)(c->data + c->start + skip);
    iov[n].iov_len = k;
    n++;
    len -= k;
  }
  return len ? 0 : n;
}

/* The window we advertise: Linux 6.18 __tcp_select_window() and
 * tcp_select_window(). Free space is the free part of the receive buffer
 * in window bytes (us_tcp_free_space: truesize at the scaling ratio).
 * Below half the full space quick-ACK mode ends and the window is zero
 * under one segment (receiver SWS, RFC 9293 3.8.6.2.2); rcv_ssthresh
 * bounds it; without window scaling it is a multiple of the segment size
 * (kept if within one segment of the free space); the right edge already
 * offered never moves back (RFC 9293 3.8.6). */
uint32_t us_tcp_select_window(struct ustcp_stack *s, struct us_tcb *t)
{
  int64_t mss = t->rcv_mss ? t->rcv_mss : US_TCP_DEFAULT_MSS;
  int64_t free_sp = us_tcp_free_space(t);
  /* ustcp: max_memory is a hard cap no peer may push the stack past (as a
   * tcp_mem limit); never offer more than the stack could still hold, or
   * an offered window far above it turns into drops and timeouts. */
  int64_t room = (int64_t)s->mem_limit - (int64_t)us_mem_used(s);
  room = room > 0 ? us_tcp_win_from_space(t, (uint64_t)room) : 0;
  if (free_sp > room)
    free_sp = room;
  int64_t allowed = t->rcv_space;
  int64_t full = us_tcp_window_clamp(s, t);
  uint32_t g = 1u << t->rcv_wscale;
  int64_t win;
  if (full > allowed)
    full = allowed;
  if (mss > full)
    mss = full;
  if (mss <= 0) {
    win = 0;
  } else {
    bool zero = false;
    if (free_sp < full / 2) {
      t->quick = 0;
      if (us_tcp_mem_pressure(s)) { /* tcp_adjust_rcv_ssthresh() */
        uint32_t adv = (uint32_t)s->cfg.mtu - 40 - ((t->flags & TF_TS_OK) ? 12 : 0);
        if (t->rcv_ssthresh > 4u * adv)
          t->rcv_ssthresh = 4u * adv;
      }
      free_sp &= ~(int64_t)(g - 1);
      if (free_sp < allowed / 16 || free_sp < mss)
        zero = true;
    }
    if (zero) {
      win = 0;
    } else {
      if (free_sp > t->rcv_ssthresh)
        free_sp = t->rcv_ssthresh;
      if (t->rcv_wscale) {
        win = (free_sp + g - 1) & ~(int64_t)(g - 1);
      } else {
        win = (int64_t)(uint32_t)(t->rcv_adv - t->rcv_wup);
        if (win <= free_sp - mss || win > free_sp)
          win = free_sp / mss * mss;
        else if (mss == full && free_sp > win + full / 2)
          win = free_sp;
      }
    }
  }
  uint32_t cur = seq_gt(t->rcv_adv, t->rcv_nxt) ? t->rcv_adv - t->rcv_nxt : 0;
  if (win < (int64_t)cur)
    win = (cur + g - 1) & ~(g - 1);
  uint32_t maxw = 65535u << t->rcv_wscale;
  if (win > maxw)
    win = maxw;
  return (uint32_t)win;
}

uint8_t us_tcp_syn_wscale(const struct ustcp_stack *s, const struct us_tcb *t)
{
  /* Linux tcp_select_initial_window: ilog2(max(rmem[2], rmem_max)) - 15,
   * the space bounded by the window clamp, which tcp_connect_init and
   * tcp_openreq_init_rwin set to the full space (half of rcvbuf here) when
   * SO_RCVBUF locked it (6.18 checked: SO_RCVBUF 65536 -> wscale 1). */
  uint32_t space = (uint32_t)US_MAX(s->cfg.rmem[2], s->cfg.rmem_max);
  if ((t->flags & TF_RCVBUF_LOCK) && us_tcp_rcv_space(t) < space)
    space = us_tcp_rcv_space(t);
  if (!space)
    space = 1;
  int lg = 31 - __builtin_clz(space);
  int ws = lg - 15;
  if (ws < 0)
    ws = 0;
  if (ws > US_TCP_MAX_WSCALE)
    ws = US_TCP_MAX_WSCALE;
  return (uint8_t)ws;
}

static void fill_ts(struct ustcp_stack *s, struct us_tcp_opts *o, uint32_t off, uint32_t recent)
{
  o->ts_ok = true;
  o->ts_val = us_tcp_ts_now(s) + off;
  o->ts_ecr = recent;
}

static void start_timing(struct ustcp_stack *s, struct us_tcb *t, uint32_t seq);

/* Transmit one segment of the connection: [seq, seq+len) from the send
 * queue (len may be 0), with `flags`. SYN segments carry the SYN options. */
static int xmit(struct ustcp_stack *s, struct us_tcb *t, uint32_t seq, uint32_t len, uint8_t flags)
{
  struct us_tcp_hdr h;
  memset(&h, 0, sizeof(h));
  h.sport = t->e.lport;
  h.dport = t->e.rport;
  h.seq = seq;
  h.flags = flags;
  if (flags & US_TCP_ACK)
    h.ack = t->rcv_nxt;
  uint32_t win;
  if (flags & US_TCP_SYN) {
    bool synack = (flags & US_TCP_ACK) != 0;
    h.opt.mss_ok = true;
    h.opt.mss = (uint16_t)(s->cfg.mtu - 40);
    if (t->user_mss && t->user_mss < h.opt.mss)
      h.opt.mss = t->user_mss;
    if (synack ? (t->flags & TF_SACK_OK) != 0 : s->cfg.sack != 0)
      h.opt.sack_ok = true;
    if (synack ? (t->flags & TF_TS_OK) != 0 : s->cfg.timestamps != 0)
      fill_ts(s, &h.opt, t->ts_offset, synack ? t->ts_recent : 0);
    if (synack ? (t->flags & TF_WS_OK) != 0 : s->cfg.window_scaling != 0) {
      h.opt.ws_ok = true;
      h.opt.ws = t->rcv_wscale;
    }
    win = t->rcv_ssthresh > 65535 ? 65535 : t->rcv_ssthresh;
    h.win = (uint16_t)win;
  } else {
    if (t->flags & TF_TS_OK)
      fill_ts(s, &h.opt, t->ts_offset, t->ts_recent);
    uint8_t maxb = (t->flags & TF_TS_OK) ? 3 : 4;
    if ((t->flags & TF_SACK_OK) && !(flags & US_TCP_RST) && t->dsack_l != t->dsack_r) {
      /* RFC 2883: the D-SACK block first, once. */
      h.opt.sack[0].left = t->dsack_l;
      h.opt.sack[0].right = t->dsack_r;
      h.opt.nsack = 1;
      t->dsack_l = t->dsack_r;
    }
    if ((t->flags & TF_SACK_OK) && t->ofo && !(flags & US_TCP_RST))
      h.opt.nsack = (uint8_t)(h.opt.nsack + us_tcp_sack_blocks(t, h.opt.sack + h.opt.nsack,
                                                               (uint8_t)(maxb - h.opt.nsack)));
    if (flags & US_TCP_RST) {
      win = 0;
    } else {
      win = us_tcp_select_window(s, t);
      h.win = (uint16_t)(win >> t->rcv_wscale);
    }
  }
  size_t hl = us_tcp_hdr_len(&h);
  /* The MSS leaves room for the timestamp only (Linux mss_cache); SACK
   * blocks on a full data segment are trimmed to fit the MTU. */
  while (h.opt.nsack && hl + len + US_IPV4_HDR_LEN > s->cfg.mtu) {
    h.opt.nsack--;
    hl = us_tcp_hdr_len(&h);
  }
  uint8_t *buf = us_ip_payload_buf(s);
  us_tcp_emit(&h, buf);
  int r;
  struct iovec iov[US_TCP_XMIT_IOV];
  int n = 0;
  if (len && s->cfg.link->output_v && !us_tracing(s))
    n = sndq_slices(t, seq - t->snd_una, len, iov + 1, US_TCP_XMIT_IOV - 1);
  if (n > 0) {
    /* Gather output: the payload goes to the link as slices of the send
     * queue, never copied here (a NIC's scatter-gather DMA). */
    if (s->cfg.tx_csum_offload) {
      us_tcp_csum_partial(buf, hl + len, t->e.laddr, t->e.raddr);
    } else {
      us_put16(buf + 16, 0);
      uint64_t sum = us_csum_pseudo(t->e.laddr, t->e.raddr, US_IPPROTO_TCP, (uint16_t)(hl + len));
      sum = us_csum_add(sum, buf, hl);
      size_t at = hl;
      for (int i = 1; i <= n; i++) {
        sum = us_csum_add_at(sum, iov[i].iov_base, iov[i].iov_len, at);
        at += iov[i].iov_len;
      }
      us_put16(buf + 16, us_csum_fold(sum));
    }
    r = us_ip_output_v(s, t->e.laddr, t->e.raddr, US_IPPROTO_TCP, hl, iov, n + 1, len);
  } else {
    if (len)
      sndq_copy(t, seq - t->snd_una, buf + hl, len);
    us_tcp_csum_out(s, buf, hl + len, t->e.laddr, t->e.raddr);
    r = us_ip_output(s, t->e.laddr, t->e.raddr, US_IPPROTO_TCP, hl + len);
  }
  us_stat_inc(s, USTCP_STAT_TCP_OUT_SEGS);
  t->segs_out++;
  if (len)
    t->data_segs_out++;
  if (flags & US_TCP_RST)
    us_stat_inc(s, USTCP_STAT_TCP_OUT_RSTS);
  if ((flags & US_TCP_ACK) && !(flags & US_TCP_SYN)) {
    if (t->rcv_nxt != t->rcv_wup && t->quick)
      t->quick--;
    t->rcv_wup = t->rcv_nxt;
    if (!(flags & US_TCP_RST))
      t->rcv_adv = t->rcv_nxt + win;
    t->flags &= ~TF_ACK_NOW;
    us_tcb_timer_clear(s, t, US_TT_DELACK);
  }
  return r;
}

void us_tcp_send_syn(struct ustcp_stack *s, struct us_tcb *t)
{
  if (t->state == USTCP_TCP_SYN_SENT) {
    if (!t->rcv_wscale && s->cfg.window_scaling)
      t->rcv_wscale = us_tcp_syn_wscale(s, t);
    xmit(s, t, t->iss, 0, US_TCP_SYN);
  } else {
    xmit(s, t, t->iss, 0, US_TCP_SYN | US_TCP_ACK);
  }
}

void us_tcp_send_ack(struct ustcp_stack *s, struct us_tcb *t)
{
  xmit(s, t, t->snd_nxt, 0, US_TCP_ACK);
}

void us_tcp_send_rst_abort(struct ustcp_stack *s, struct us_tcb *t)
{
  xmit(s, t, t->snd_nxt, 0, US_TCP_RST | US_TCP_ACK);
}

void us_tcp_send_window_fill(struct ustcp_stack *s, struct us_tcb *t)
{
  uint32_t off = t->snd_nxt - t->snd_una;
  uint32_t unsent = (uint32_t)t->sndq.len - off;
  uint32_t len = unsent < t->mss ? unsent : t->mss;
  if (len > t->snd_wnd)
    len = t->snd_wnd;
  if (!len)
    return;
  xmit(s, t, t->snd_nxt, len, US_TCP_ACK | (len == unsent ? US_TCP_PSH : 0));
  start_timing(s, t, t->snd_nxt);
  t->snd_nxt += len;
  t->last_snd_data = s->now;
  us_tcp_set_xmit_timer(s, t);
}

void us_tcp_send_probe(struct ustcp_stack *s, struct us_tcb *t)
{
  /* Linux tcp_xmit_probe_skb(): an ACK with seq = SND.UNA - 1. */
  xmit(s, t, t->snd_una - 1, 0, US_TCP_ACK);
}

void us_tcp_send_raw(struct ustcp_stack *s, uint32_t la, uint16_t lp, uint32_t ra, uint16_t rp,
                     uint32_t seq, uint32_t ack, uint8_t flags, uint32_t win,
                     const struct us_tcp_opts *o)
{
  struct us_tcp_hdr h;
  memset(&h, 0, sizeof(h));
  h.sport = lp;
  h.dport = rp;
  h.seq = seq;
  h.ack = ack;
  h.flags = flags;
  h.win = (uint16_t)(win > 65535 ? 65535 : win);
  if (o)
    h.opt = *o;
  size_t hl = us_tcp_hdr_len(&h);
  uint8_t *buf = us_ip_payload_buf(s);
  us_tcp_emit(&h, buf);
  us_tcp_csum_out(s, buf, hl, la, ra);
  us_ip_output(s, la, ra, US_IPPROTO_TCP, hl);
  us_stat_inc(s, USTCP_STAT_TCP_OUT_SEGS);
  if (flags & US_TCP_RST)
    us_stat_inc(s, USTCP_STAT_TCP_OUT_RSTS);
}

/* RFC 9293 3.10.7.1: a segment for no connection. If it has ACK, RST with
 * seq = SEG.ACK; else RST+ACK with seq 0, ack = SEG.SEQ + SEG.LEN. Never
 * answer a RST. */
void us_tcp_send_rst_reply(struct ustcp_stack *s, const struct us_seg *sg)
{
  if (sg->h.flags & US_TCP_RST)
    return;
  uint32_t la = sg->ip->dst, ra = sg->ip->src;
  if (sg->h.flags & US_TCP_ACK)
    us_tcp_send_raw(s, la, sg->h.dport, ra, sg->h.sport, sg->h.ack, 0, US_TCP_RST, 0, NULL);
  else
    us_tcp_send_raw(s, la, sg->h.dport, ra, sg->h.sport, 0, sg->end, US_TCP_RST | US_TCP_ACK, 0,
                    NULL);
}

void us_tcp_send_synack(struct ustcp_stack *s, struct us_req *r)
{
  struct us_tcp_opts o;
  memset(&o, 0, sizeof(o));
  o.mss_ok = true;
  o.mss = (uint16_t)(s->cfg.mtu - 40);
  if (r->listener && r->listener->user_mss && r->listener->user_mss < o.mss)
    o.mss = r->listener->user_mss;
  if (r->opts & (TF_SACK_OK >> 6))
    o.sack_ok = true;
  if (r->opts & (TF_TS_OK >> 6))
    fill_ts(s, &o, r->ts_offset, r->ts_recent);
  if (r->opts & (TF_WS_OK >> 6)) {
    o.ws_ok = true;
    o.ws = r->rcv_wscale;
  }
  us_tcp_send_raw(s, r->e.laddr, r->e.lport, r->e.raddr, r->e.rport, r->iss, r->irs + 1,
                  US_TCP_SYN | US_TCP_ACK, r->rcv_wnd, &o);
}

/* RFC 5961 7 as Linux 6.x limits it: tcp_challenge_ack_limit is
 * unlimited by default, and each connection sends at most one
 * out-of-window ACK per tcp_invalid_ratelimit (500 ms). */
bool us_tcp_oow_ok(struct ustcp_stack *s, struct us_tcb *t)
{
  uint32_t now = (uint32_t)(s->now / 1000000u);
  if (t->last_oow_ms && now - t->last_oow_ms < US_TCP_OOW_RATELIMIT_MS)
    return false;
  t->last_oow_ms = now ? now : 1;
  return true;
}

bool us_tcp_challenge_ok(struct ustcp_stack *s, struct us_tcb *t)
{
  if (!us_tcp_oow_ok(s, t))
    return false;
  us_stat_inc(s, USTCP_STAT_TCP_CHALLENGE_ACK);
  return true;
}

/* ------------------------------------------------ Linux's skbs and PSH */

/* Linux sk_gso_max_size on a TCP socket: GSO_LEGACY_MAX_SIZE less
 * MAX_TCP_HEADER + 1 (sk_dst_gso_max_size). */
#define GSO_MAX_SIZE (65536u - 321u)

/* Linux tcp_xmit_size_goal(): the bytes tcp_sendmsg puts in one skb, whole
 * segments up to half the peer's largest window (tcp_bound_to_half_wnd). */
uint32_t us_tcp_size_goal(const struct us_tcb *t)
{
  uint32_t mss = t->mss ? t->mss : US_TCP_DEFAULT_MSS;
  uint32_t goal = GSO_MAX_SIZE;
  uint32_t cutoff = t->max_sndwnd > US_TCP_DEFAULT_MSS ? t->max_sndwnd / 2 : t->max_sndwnd;
  if (cutoff && goal > cutoff)
    goal = cutoff > 48 ? cutoff : 48; /* Linux: max(cutoff, 68 - header) */
  goal = goal / mss * mss;
  return goal > mss ? goal : mss;
}

/* Linux tcp_tso_autosize(): segments per GSO packet, from the pacing rate
 * (200% of cwnd/srtt in slow start, 120% after; tcp_update_pacing_rate)
 * for 1 ms (sk_pacing_shift 10) plus a bonus for small RTTs
 * (tcp_tso_rtt_log 9), at least tcp_min_tso_segs (2). */
static uint32_t tso_segs(const struct us_tcb *t)
{
  uint32_t mss = t->mss ? t->mss : US_TCP_DEFAULT_MSS;
  uint64_t cwnd = t->cwnd / mss;
  uint64_t out = (t->snd_nxt - t->snd_una) / mss;
  uint64_t rate; /* bytes per second */
  if (!t->srtt_us) {
    rate = UINT64_MAX >> 12;
  } else {
    uint64_t pct = t->cwnd < t->ssthresh / 2 ? 200 : 120;
    rate = (uint64_t)mss * (cwnd > out ? cwnd : out) * pct * 10000u / t->srtt_us;
  }
  uint64_t bytes = rate >> 10;
  if (t->min_rtt_us) {
    uint32_t r = t->min_rtt_us >> 9;
    if (r < 32)
      bytes += GSO_MAX_SIZE >> r;
  }
  if (bytes > GSO_MAX_SIZE)
    bytes = GSO_MAX_SIZE;
  uint64_t segs = bytes / mss;
  return segs > 2 ? (uint32_t)segs : 2;
}

static uint32_t run_start(const struct us_sndskb *m, uint32_t i)
{
  return i ? m->r[i - 1].end : m->start;
}

static uint32_t run_skb_len(const struct us_sndskb *m, uint32_t i)
{
  return (m->r[i].end - run_start(m, i)) / m->r[i].n;
}

static void run_insert(struct us_sndskb *m, uint32_t i, uint32_t end, uint32_t n, bool psh)
{
  memmove(&m->r[i + 1], &m->r[i], (m->nrun - i) * sizeof(m->r[0]));
  m->r[i].end = end;
  m->r[i].n = (uint16_t)n;
  m->r[i].psh = psh;
  m->r[i].pad_ = 0;
  m->nrun++;
}

static void run_remove(struct us_sndskb *m, uint32_t i)
{
  if (i == 0)
    m->start = m->r[0].end;
  memmove(&m->r[i], &m->r[i + 1], (m->nrun - i - 1) * sizeof(m->r[0]));
  m->nrun--;
}

/* Make the last skb of run i a run of its own (its PSH goes with it). */
static void run_split_last(struct us_sndskb *m, uint32_t i)
{
  if (m->r[i].n < 2)
    return;
  uint32_t len = run_skb_len(m, i);
  bool psh = m->r[i].psh;
  m->r[i].n--;
  m->r[i].end -= len;
  m->r[i].psh = 0;
  run_insert(m, i + 1, m->r[i].end + len, 1, psh);
}

/* Make the first skb of run 0 a run of its own. */
static void run_split_first(struct us_sndskb *m)
{
  if (m->r[0].n < 2)
    return;
  uint32_t len = run_skb_len(m, 0);
  m->r[0].n--;
  run_insert(m, 0, m->start + len, 1, false);
}

static uint32_t write_end(const struct us_tcb *t) { return t->snd_una + (uint32_t)t->sndq.len; }

/* Drop what was sent: runs[0] starts at SND.NXT afterwards. A partly sent
 * skb keeps its flags on the rest (tso_fragment). Frees the model when no
 * data is unsent and nothing awaits a push. */
static struct us_sndskb *skb_sync(struct ustcp_stack *s, struct us_tcb *t)
{
  struct us_sndskb *m = t->sndskb;
  if (!m)
    return NULL;
  uint32_t nxt = t->snd_nxt;
  while (m->nrun && seq_leq(m->r[0].end, nxt))
    run_remove(m, 0);
  if (m->nrun && seq_lt(m->start, nxt)) {
    uint32_t len = run_skb_len(m, 0);
    uint32_t k = (nxt - m->start) / len;
    m->r[0].n = (uint16_t)(m->r[0].n - k);
    m->start += k * len;
    if (seq_lt(m->start, nxt)) {
      run_split_first(m);
      m->start = nxt;
    }
  }
  if (!m->nrun) {
    m->start = nxt;
    if (m->pushed_seq == write_end(t)) {
      us_pool_free(&s->tcp->skb_pool, m);
      t->sndskb = NULL;
      return NULL;
    }
  }
  return m;
}

void us_tcp_sndskb_free(struct ustcp_stack *s, struct us_tcb *t)
{
  if (t->sndskb)
    us_pool_free(&s->tcp->skb_pool, t->sndskb);
  t->sndskb = NULL;
}

/* The model, allocated on first use: no unsent data, everything pushed. */
static struct us_sndskb *skb_new(struct ustcp_stack *s, struct us_tcb *t)
{
  struct us_sndskb *m = us_pool_alloc(s, &s->tcp->skb_pool);
  if (!m)
    return NULL;
  m->pushed_seq = write_end(t);
  m->start = t->snd_nxt;
  m->nrun = 0;
  t->sndskb = m;
  return m;
}

static struct us_sndskb *skb_model(struct ustcp_stack *s, struct us_tcb *t)
{
  struct us_sndskb *m = skb_sync(s, t);
  return m ? m : skb_new(s, t);
}

/* Bytes the unsent tail skb can still take (Linux: size_goal - skb->len),
 * 0 if there is no unsent skb. */
static uint32_t tail_room(const struct us_sndskb *m, uint32_t goal)
{
  if (!m->nrun)
    return 0;
  uint32_t len = run_skb_len(m, m->nrun - 1);
  return len < goal ? goal - len : 0;
}

/* tcp_sendmsg_locked(): `len` more bytes were queued at the end of the
 * data, into the tail skb (`fill`) or a new skb. The first bytes a call
 * adds to an existing skb clear its PSH ("if (!copied)"). */
static void skb_append(struct us_sndskb *m, uint32_t len, bool fill, bool first)
{
  if (fill) {
    uint32_t i = m->nrun - 1;
    run_split_last(m, i);
    i = m->nrun - 1;
    m->r[i].end += len;
    if (first)
      m->r[i].psh = 0;
    return;
  }
  if (m->nrun) {
    struct us_skb_run *l = &m->r[m->nrun - 1];
    if (!l->psh && run_skb_len(m, m->nrun - 1) == len && l->n < UINT16_MAX) {
      l->n++;
      l->end += len;
      return;
    }
  }
  if (m->nrun >= US_TCP_SKB_RUNS - 2) {
    /* Bounded memory: the two oldest runs after the head become one skb
     * (their boundaries and PSH marks inside are forgotten). */
    uint32_t i = m->nrun > 2 ? 1 : 0;
    m->r[i].end = m->r[i + 1].end;
    m->r[i].psh = m->r[i + 1].psh;
    m->r[i].n = 1;
    run_remove(m, i + 1);
  }
  uint32_t start = m->nrun ? m->r[m->nrun - 1].end : m->start;
  run_insert(m, m->nrun, start + len, 1, false);
}

/* tcp_mark_push(): PSH on the tail skb, everything written is pushed. */
static void skb_mark_push(struct us_sndskb *m, uint32_t write_seq)
{
  if (m->nrun) {
    run_split_last(m, m->nrun - 1);
    m->r[m->nrun - 1].psh = 1;
  }
  m->pushed_seq = write_seq;
}

/* Linux forced_push(): more than half the peer's largest window written
 * since the last push. */
static bool forced_push(const struct us_tcb *t, const struct us_sndskb *m, uint32_t write_seq)
{
  return seq_gt(write_seq, m->pushed_seq + t->max_sndwnd / 2);
}

/* One GSO packet of new data (tcp_write_xmit): the head skb grown by bytes
 * of the next one up to `segs` segments (tcp_grow_skb, flags merged when
 * the next skb is used up), sent up to its end or the segment limit. */
struct chunk {
  uint32_t end;   /* the packet ends here at the latest */
  uint32_t g_end; /* end of the (grown) head skb */
  bool g_psh;     /* the head skb carries PSH */
  uint32_t nseg;  /* segments sent so far in this packet */
};

static void chunk_begin(struct ustcp_stack *s, struct us_tcb *t, uint32_t nxt, uint32_t pipe,
                        struct chunk *ck)
{
  uint32_t data_end = write_end(t);
  uint32_t want = t->mss;
  if (t->sndskb || data_end - nxt > t->mss) {
    /* more than one segment may go: the GSO packet's size (a single
     * segment needs none of this: the common request/response case) */
    uint32_t avail = t->cwnd > pipe ? t->cwnd - pipe : 0;
    uint32_t q = avail / t->mss;
    if (q < 1)
      q = 1;
    uint32_t ts = tso_segs(t);
    if (q > ts)
      q = ts;
    want = q * t->mss;
  }
  ck->nseg = 0;
  ck->g_end = data_end;
  ck->g_psh = true; /* no model: one skb pushed at its end */
  struct us_sndskb *m = t->sndskb ? skb_sync(s, t) : NULL;
  if (m && m->nrun) {
    run_split_first(m);
    uint32_t h_len = m->r[0].end - m->start;
    /* Linux 6.18 grows the head only when the window lets it send (a push
     * into a closed window leaves the skbs as tcp_sendmsg built them;
     * checked with MSG_MORE writes). */
    uint32_t wnd_end = t->snd_una + t->snd_wnd;
    uint32_t room = seq_gt(wnd_end, nxt) ? wnd_end - nxt : 0;
    uint32_t first = data_end - nxt < t->mss ? data_end - nxt : t->mss;
    if (h_len < want && m->nrun > 1 && room >= first) {
      /* the next skb is the first of run 1 */
      uint32_t n_len = run_skb_len(m, 1);
      uint32_t take = want - h_len < n_len ? want - h_len : n_len;
      if (take == n_len) {
        bool psh = m->r[1].n == 1 ? m->r[1].psh : 0;
        if (m->r[1].n == 1) {
          m->r[0].end = m->r[1].end;
          m->r[0].psh |= psh;
          run_remove(m, 1);
        } else {
          m->r[1].n--;
          m->r[0].end += take;
        }
      } else {
        /* part of the next skb: it becomes a run of its own first */
        if (m->r[1].n > 1) {
          uint32_t l = run_skb_len(m, 1);
          m->r[1].n--;
          run_insert(m, 1, m->r[0].end + l, 1, false);
        }
        m->r[0].end += take;
      }
    }
    ck->g_end = m->r[0].end;
    ck->g_psh = m->r[0].psh;
  }
  ck->end = seq_lt(nxt + want, ck->g_end) ? nxt + want : ck->g_end;
}

/* ------------------------------------------------------------- sending */

static bool can_send_data(int state)
{
  return state == USTCP_TCP_ESTABLISHED || state == USTCP_TCP_CLOSE_WAIT ||
         state == USTCP_TCP_FIN_WAIT1 || state == USTCP_TCP_CLOSING || state == USTCP_TCP_LAST_ACK;
}

static bool fin_sent(const struct us_tcb *t)
{
  return (t->flags & TF_FIN_QUEUED) &&
         (t->flags & TF_FIN_ACKED || t->snd_nxt == t->snd_una + (uint32_t)t->sndq.len + 1);
}

/* RFC 6675 "pipe": bytes believed in the network. */
static uint32_t pipe_bytes(const struct us_tcb *t)
{
  uint32_t flight = t->snd_nxt - t->snd_una;
  uint32_t sacked = 0;
  if (t->sack)
    sacked = us_tcp_sacked_bytes(t, t->snd_una, t->snd_nxt);
  else if (t->flags & TF_IN_RECOVERY)
    sacked = (uint32_t)t->dupacks * t->mss; /* Linux tcp_add_reno_sack() */
  if (sacked > flight)
    sacked = flight;
  uint32_t p = flight - sacked;
  if ((t->flags & (TF_IN_LOSS | TF_IN_RECOVERY)) && seq_lt(t->rtx_nxt, t->rtx_high)) {
    uint32_t lost = t->rtx_high - t->rtx_nxt;
    if (t->sack)
      lost -= us_tcp_sacked_bytes(t, t->rtx_nxt, t->rtx_high);
    p = lost > p ? 0 : p - lost;
  }
  return p;
}

static void start_timing(struct ustcp_stack *s, struct us_tcb *t, uint32_t seq)
{
  if (!(t->flags & TF_RTT_TIMING)) {
    t->flags |= TF_RTT_TIMING;
    t->rtt_seq = seq;
    t->rtt_time_us = us_tcp_now_us(s);
  }
}

/* Retransmit segments marked lost: [rtx_nxt, rtx_high) minus SACKed. */
static void send_retransmits(struct ustcp_stack *s, struct us_tcb *t)
{
  uint32_t data_end = t->snd_una + (uint32_t)t->sndq.len;
  while (seq_lt(t->rtx_nxt, t->rtx_high)) {
    if (seq_lt(t->rtx_nxt, t->snd_una))
      t->rtx_nxt = t->snd_una;
    if (!seq_lt(t->rtx_nxt, t->rtx_high))
      break;
    uint32_t hole_len = 0;
    uint32_t seq =
        t->sack ? us_tcp_sack_next_hole(t, t->rtx_nxt, t->rtx_high, &hole_len) : t->rtx_nxt;
    if (!t->sack)
      hole_len = t->rtx_high - seq;
    if (!seq_lt(seq, t->rtx_high) || hole_len == 0) {
      t->rtx_nxt = t->rtx_high;
      break;
    }
    uint32_t len = hole_len < t->mss ? hole_len : t->mss;
    uint8_t fl = US_TCP_ACK;
    if (seq_geq(seq + len, data_end)) {
      len = seq_lt(seq, data_end) ? data_end - seq : 0;
      if (fin_sent(t) && !(t->flags & TF_FIN_ACKED))
        fl |= US_TCP_FIN;
      else if (len == 0) {
        t->rtx_nxt = t->rtx_high;
        break;
      }
    }
    uint32_t p = pipe_bytes(t);
    if (p + (len ? len : 1) > t->cwnd && p > 0)
      break;
    if (len && seq + len == data_end)
      fl |= US_TCP_PSH;
    xmit(s, t, seq, len, fl);
    us_stat_inc(s, USTCP_STAT_TCP_RETRANS_SEGS);
    t->total_retrans++;
    t->bytes_retrans += len;
    t->rtx_nxt = seq + len + ((fl & US_TCP_FIN) ? 1 : 0);
    if (!t->retrans_stamp)
      t->retrans_stamp = s->now;
    if (t->deadline[US_TT_RTO] == USTCP_TIME_NEVER)
      us_tcb_timer_set(s, t, US_TT_RTO, s->now + us_tcp_rto(t));
  }
}

/* RFC 8985 7.3 (Linux tcp_send_loss_probe): one new segment if the
 * window allows, else the last segment sent again. */
void us_tcp_send_loss_probe(struct ustcp_stack *s, struct us_tcb *t)
{
  us_stat_inc(s, USTCP_STAT_TCP_LOSS_PROBES);
  uint32_t off = t->snd_nxt - t->snd_una;
  uint32_t unsent = fin_sent(t) ? 0 : (uint32_t)t->sndq.len - off;
  uint32_t wnd_end = t->snd_una + t->snd_wnd;
  if (unsent && seq_geq(wnd_end, t->snd_nxt + (unsent < t->mss ? unsent : t->mss))) {
    uint32_t len = unsent < t->mss ? unsent : t->mss;
    uint8_t fl = US_TCP_ACK | (len == unsent ? US_TCP_PSH : 0);
    xmit(s, t, t->snd_nxt, len, fl);
    t->snd_nxt += len;
    t->last_snd_data = s->now;
    t->tlp_high = t->snd_nxt;
    return;
  }
  uint32_t data_end = t->snd_una + (uint32_t)t->sndq.len;
  uint32_t end = seq_min(t->snd_nxt, data_end);
  uint8_t fl = US_TCP_ACK;
  uint32_t len = end - t->snd_una < t->mss ? end - t->snd_una : t->mss;
  uint32_t seq = end - len;
  if (fin_sent(t) && !(t->flags & TF_FIN_ACKED))
    fl |= US_TCP_FIN;
  if (len)
    fl |= US_TCP_PSH;
  if (!len && !(fl & US_TCP_FIN))
    return;
  xmit(s, t, seq, len, fl);
  us_stat_inc(s, USTCP_STAT_TCP_RETRANS_SEGS);
  t->total_retrans++;
  t->bytes_retrans += len;
}

void us_tcp_retransmit_head(struct ustcp_stack *s, struct us_tcb *t)
{
  t->rtx_nxt = t->snd_una;
  if (seq_lt(t->rtx_high, t->snd_una + t->mss))
    t->rtx_high = seq_min(t->snd_una + t->mss, t->snd_nxt);
  send_retransmits(s, t);
}

/* What the new-data loop sends at `nxt` with `pipe` bytes in flight and
 * the last small segment ending at `sml`, within the GSO packet ending at
 * `lim`: false to stop, else the length and whether the FIN rides along.
 * No side effects (used to look ahead). */
static bool next_segment(const struct us_tcb *t, uint32_t nxt, uint32_t pipe, uint32_t sml,
                         uint32_t lim, uint32_t *lenp, bool *finp)
{
  uint32_t data_end = t->snd_una + (uint32_t)t->sndq.len;
  bool fin_pending = (t->flags & TF_FIN_QUEUED) != 0;
  if (fin_pending && ((t->flags & TF_FIN_ACKED) || nxt == data_end + 1))
    return false; /* FIN already sent */
  uint32_t unsent = data_end - nxt;
  uint32_t wnd_end = t->snd_una + t->snd_wnd;
  uint32_t avail_wnd = seq_gt(wnd_end, nxt) ? wnd_end - nxt : 0;
  uint32_t avail_cwnd = t->cwnd > pipe ? t->cwnd - pipe : 0;
  uint32_t len = unsent < t->mss ? unsent : t->mss;
  if (len > avail_wnd)
    len = avail_wnd;
  if (len > avail_cwnd)
    len = avail_cwnd;
  if (seq_lt(lim, nxt + len) && seq_gt(lim, nxt)) {
    /* The packet ends at an skb boundary before the data does: Linux sends
     * a short non-last skb without the Nagle test (TCP_NAGLE_PUSH). */
    *lenp = lim - nxt;
    *finp = false;
    return true;
  }
  if (len == 0) {
    /* Only a FIN left: it needs no window (RFC 9293 3.10.4 lets the FIN
     * go when all data is sent). */
    if (!(fin_pending && unsent == 0))
      return false;
    if (avail_cwnd == 0 && pipe > 0)
      return false;
  } else if (len < t->mss) {
    if (len < unsent) {
      /* Window- or cwnd-limited partial segment: RFC 9293 3.8.6.2.1 sender
       * SWS; only if at least half the largest window the peer offered. */
      if (len < t->max_sndwnd / 2 || avail_cwnd < t->mss)
        return false;
    } else if (!fin_pending) {
      if (t->flags & TF_CORK)
        return false;
      /* RFC 896 Nagle with Minshall's variant (Linux tcp_nagle_check): a
       * small segment waits only while another small one is unacked. */
      if (!(t->flags & TF_NODELAY) && seq_gt(sml, t->snd_una) && seq_leq(sml, nxt))
        return false;
    }
  }
  *lenp = len;
  *finp = fin_pending && len == unsent;
  return true;
}

void us_tcp_output(struct ustcp_stack *s, struct us_tcb *t)
{
  if (!can_send_data(t->state)) {
    if ((t->flags & TF_ACK_NOW) && us_tcp_is_sync(t->state) && t->state != USTCP_TCP_SYN_RECV)
      us_tcp_send_ack(s, t);
    return;
  }
  if (t->flags & (TF_IN_LOSS | TF_IN_RECOVERY))
    send_retransmits(s, t);

  uint32_t len = 0, nlen = 0;
  bool fin = false, nfin = false;
  uint32_t pipe = pipe_bytes(t);
  struct chunk ck;
  chunk_begin(s, t, t->snd_nxt, pipe, &ck);
  for (;;) {
    uint32_t nxt = t->snd_nxt;
    if (nxt == ck.end && seq_lt(nxt, write_end(t)))
      chunk_begin(s, t, nxt, pipe, &ck);
    if (!next_segment(t, nxt, pipe, t->snd_sml, ck.end, &len, &fin))
      break;
    uint32_t sml = (len && len < t->mss) ? nxt + len : t->snd_sml;
    bool last = nxt + len == ck.end;
    bool more = !fin && !last &&
                next_segment(t, nxt + len, pipe + len, sml, ck.end, &nlen, &nfin) && nlen > 0;
    uint8_t fl = US_TCP_ACK;
    if (fin)
      fl |= US_TCP_FIN; /* Linux: FIN on the last data segment */
    /* PSH on the last segment of a GSO packet of two or more segments
     * (__tcp_transmit_skb forces it to expedite GRO), or of one that ends
     * an skb tcp_sendmsg marked (forced push, end of a write). */
    if (len) {
      ck.nseg++;
      if ((last || !more) && (ck.nseg >= 2 || (nxt + len == ck.g_end && ck.g_psh)))
        fl |= US_TCP_PSH;
    }
    xmit(s, t, nxt, len, fl);
    if (len) {
      t->last_snd_data = s->now;
      t->snd_sml = sml;
      /* Linux tcp_event_data_sent(): data sent soon after data arrived
       * means interactive traffic (pingpong: delay our ACKs). */
      if (t->ato_us && s->now - t->lrcvtime < (ustcp_time_t)t->ato_us * 1000u)
        t->flags |= TF_PINGPONG;
    }
    start_timing(s, t, nxt);
    t->snd_nxt = nxt + len + (fin ? 1 : 0);
    pipe += len;
    us_tcb_timer_clear(s, t, US_TT_PERSIST);
    us_tcp_set_xmit_timer(s, t);
    if (fin || !len)
      break;
  }
  if (t->sndskb)
    skb_sync(s, t);

  /* RFC 9293 3.8.6.1: zero window with data waiting -> persist timer. */
  uint32_t unsent = (uint32_t)t->sndq.len - (t->snd_nxt - t->snd_una);
  if (!fin_sent(t) && (unsent || (t->flags & TF_FIN_QUEUED)) && t->snd_nxt == t->snd_una &&
      t->deadline[US_TT_PERSIST] == USTCP_TIME_NEVER) {
    us_tcb_timer_set(s, t, US_TT_PERSIST, s->now + us_tcp_rto(t));
  }
  if (t->flags & TF_ACK_NOW)
    us_tcp_send_ack(s, t);
}

/* Append up to n bytes from the iovecs (after `*skip` bytes) to the send
 * queue; advances *skip. */
static size_t append_iov(struct ustcp_stack *s, struct us_tcb *t, const struct iovec *iov,
                         int iovcnt, size_t *skip, size_t n)
{
  size_t done = 0, off = *skip;
  for (int i = 0; i < iovcnt && done < n; i++) {
    size_t l = iov[i].iov_len;
    if (off >= l) {
      off -= l;
      continue;
    }
    size_t k = l - off;
    if (k > n - done)
      k = n - done;
    size_t got = us_bq_append(s, &t->sndq, (const uint8_t *)iov[i].iov_base + off, k);
    done += got;
    off = 0;
    if (got < k)
      break;
  }
  *skip += done;
  return done;
}

/* Linux tcp_sendmsg_locked(): queue `want` bytes skb by skb (size goal),
 * mark a forced push when more than half the peer's largest window was
 * written since the last push and send what is pending, send a full skb at
 * once when it is the first unsent one (tcp_push_one), and at the end
 * (tcp_push) mark the last skb PSH unless MSG_MORE (a call cut short by the
 * buffer pushes as Linux's wait_for_space does). Returns bytes queued. */
size_t us_tcp_write(struct ustcp_stack *s, struct us_tcb *t, const struct iovec *iov, int iovcnt,
                    size_t skip, size_t want, int flags, bool cut)
{
  if (!t->sndskb && !(flags & MSG_MORE) && want <= us_tcp_size_goal(t)) {
    /* Nothing unsent and a write of one skb pushed at its end: the output
     * path reads "no model" as exactly that, so the model is built only if
     * part of the skb stays unsent (a request/response write then costs no
     * model at all). The same result as the general path below. */
    size_t got = append_iov(s, t, iov, iovcnt, &skip, want);
    if (!got)
      return 0;
    us_tcp_output(s, t);
    if (seq_lt(t->snd_nxt, write_end(t)) && !t->sndskb) {
      struct us_sndskb *m = skb_new(s, t); /* the unsent rest: one skb, pushed */
      if (m)
        run_insert(m, 0, write_end(t), 1, true);
    }
    return got;
  }
  struct us_sndskb *m = skb_model(s, t);
  uint32_t goal = us_tcp_size_goal(t);
  size_t copied = 0;
  while (copied < want) {
    uint32_t room = m ? tail_room(m, goal) : 0;
    bool fill = room > 0;
    size_t n = fill ? room : goal;
    if (n > want - copied)
      n = want - copied;
    size_t got = append_iov(s, t, iov, iovcnt, &skip, n);
    if (m && got)
      skb_append(m, (uint32_t)got, fill, copied == 0);
    copied += got;
    if (got < n) {
      cut = true; /* out of memory */
      break;
    }
    if (copied == want || !m || tail_room(m, goal))
      continue;
    uint32_t wseq = write_end(t);
    if (forced_push(t, m, wseq)) {
      skb_mark_push(m, wseq);
      us_tcp_output(s, t);
    } else if (m->nrun == 1 && m->r[0].n == 1) {
      us_tcp_output(s, t);
    }
    m = skb_model(s, t);
  }
  if (!copied)
    return 0;
  m = t->sndskb;
  bool more = (flags & MSG_MORE) && !cut;
  if (m && (!more || forced_push(t, m, write_end(t))))
    skb_mark_push(m, write_end(t));
  uint32_t saved = t->flags;
  if (more)
    t->flags |= TF_CORK; /* Linux: TCP_NAGLE_CORK for this push */
  us_tcp_output(s, t);
  t->flags = (t->flags & ~TF_CORK) | (saved & TF_CORK);
  return copied;
}
