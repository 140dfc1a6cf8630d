/*
 * tcp_usrreq.c - what the socket layer asks of TCP: bind, listen, connect,
 * send, receive, shutdown, close (RST or FIN, SPEC §1.2), poll bits. All
 * return 0/bytes or a negative errno; none blocks (src/socket/api.c waits).
 * Linux functions followed are named in each comment.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* POLLRDHUP */
#endif
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>

#include "tcp/tcp.h"

struct us_tcb *us_tcp_socket(struct ustcp_stack *s)
{
  struct us_tcb *t = us_tcb_alloc(s);
  if (!t)
    return NULL;
  t->e.conn_id = us_tcp_new_conn_id(s);
  return t;
}

/* Linux inet_csk_bind_conflict(): another socket on the port with an
 * overlapping address conflicts unless both set SO_REUSEADDR and the other
 * is not listening. TIME_WAIT entries conflict unless we set SO_REUSEADDR. */
static bool bind_conflict(struct ustcp_stack *s, struct us_tcb *t, uint32_t addr, uint16_t port,
                          bool listening)
{
  for (struct us_ent *e = us_tcp_bind_chain(s, port); e; e = e->bnext) {
    if (e->lport != port || e == &t->e)
      continue;
    if (e->laddr && addr && e->laddr != addr)
      continue;
    if (e->kind == US_ENT_TW) {
      if (!(t->flags & TF_REUSEADDR))
        return true;
      continue;
    }
    struct us_tcb *o = (struct us_tcb *)e;
    bool reuse = (t->flags & TF_REUSEADDR) && (o->flags & TF_REUSEADDR);
    /* listen() re-checks with the same rule (Linux inet_csk_get_port,
     * relax): a SO_REUSEADDR owner that is not listening does not stop it
     * (Linux 6.18 checked). */
    (void)listening;
    if (!reuse || o->state == USTCP_TCP_LISTEN)
      return true;
  }
  return false;
}

int us_tcp_bind(struct ustcp_stack *s, struct us_tcb *t, uint32_t addr, uint16_t port)
{
  if (t->e.bound || t->state != USTCP_TCP_CLOSE)
    return -EINVAL;
  if (addr != 0 && addr != us_tcp_my_addr(s))
    return -EADDRNOTAVAIL;
  if (port == 0) {
    int r = us_tcp_pick_listen_port(s, &port);
    if (r)
      return r;
  } else if (bind_conflict(s, t, addr, port, false)) {
    return -EADDRINUSE;
  }
  t->e.laddr = addr;
  t->e.lport = port;
  if (addr)
    t->flags |= TF_BOUND_ADDR;
  us_tcp_bind_insert(s, &t->e);
  return 0;
}

int us_tcp_listen(struct ustcp_stack *s, struct us_tcb *t, int backlog)
{
  if (t->flags & (TF_SS_CONNECTING | TF_SS_CONNECTED))
    return -EINVAL;
  if (t->state == USTCP_TCP_LISTEN)
    return us_tcp_listen_start(s, t, backlog); /* Linux: just updates backlog */
  if (t->state != USTCP_TCP_CLOSE)
    return -EINVAL;
  if (!t->e.bound) {
    uint16_t port;
    int r = us_tcp_pick_listen_port(s, &port);
    if (r)
      return r;
    t->e.lport = port;
    us_tcp_bind_insert(s, &t->e);
  } else if (bind_conflict(s, t, t->e.laddr, t->e.lport, true)) {
    return -EADDRINUSE;
  }
  int r = us_tcp_listen_start(s, t, backlog);
  if (r)
    return r;
  /* Shutdown flags recorded before listen() stay: children inherit them. */
  t->flags &= ~(TF_RESET | TF_FIN_RCVD);
  t->flags |= TF_WAS_LISTEN;
  us_tcb_set_state(s, t, USTCP_TCP_LISTEN);
  return 0;
}

bool us_tcp_connecting(const struct us_tcb *t)
{
  return t->state == USTCP_TCP_SYN_SENT || t->state == USTCP_TCP_SYN_RECV;
}

/* Linux __inet_stream_connect() before the wait: -EINPROGRESS when a SYN
 * went out, -EALREADY while one is in progress, other errors at once. */
int us_tcp_connect(struct ustcp_stack *s, struct us_tcb *t, uint32_t addr, uint16_t port)
{
  if (t->flags & TF_SS_CONNECTED)
    return -EISCONN;
  if (t->flags & TF_SS_CONNECTING)
    return -EALREADY;
  if (t->state != USTCP_TCP_CLOSE)
    return -EISCONN;
  if (addr == 0 || addr == 0xffffffffu)
    return -ENETUNREACH;
  uint32_t la = t->e.laddr ? t->e.laddr : us_tcp_my_addr(s);
  if (!t->e.bound) {
    uint16_t lport;
    int r = us_tcp_pick_port(s, la, addr, port, &lport);
    if (r)
      return r;
    t->e.lport = lport;
    t->flags |= TF_AUTOBIND;
    us_tcp_bind_insert(s, &t->e);
  } else if (us_tcp_lookup(s, la, t->e.lport, addr, port)) {
    return -EADDRNOTAVAIL;
  }
  t->e.laddr = la;
  t->e.raddr = addr;
  t->e.rport = port;
  /* A socket reused after a failed attempt starts clean. */
  t->flags &= ~(TF_RESET | TF_SHUT_RD | TF_SHUT_WR | TF_FIN_RCVD | TF_FIN_QUEUED | TF_FIN_ACKED |
                TF_IN_LOSS | TF_IN_RECOVERY | TF_SACK_OK | TF_TS_OK | TF_WS_OK);
  t->so_error = 0;
  t->soft_err = 0;
  us_tcp_hash_insert(s, &t->e);
  t->iss = us_tcp_isn(s, la, t->e.lport, addr, port);
  t->snd_una = t->iss;
  t->snd_nxt = t->iss + 1;
  t->recover = t->iss;
  t->ts_offset = us_tcp_ts_offset(s, la, addr);
  t->rcv_wscale = 0;
  us_tcp_init_buffers(s, t);
  /* Linux tcp_connect_init(): the SYN's window is rounded to the full
   * advertised MSS (no timestamp seen yet): 64240 for MSS 1460. */
  uint32_t mss = (uint32_t)s->cfg.mtu - 40;
  if (t->user_mss && t->user_mss < mss)
    mss = t->user_mss;
  uint32_t space = t->rcv_space;
  t->rcv_ssthresh = space > mss ? (space / mss) * mss : space;
  t->retrans_stamp = s->now; /* the first SYN (Linux retrans_stamp) */
  t->retrans = 0;
  t->backoff = 0;
  t->rto_us = (uint32_t)(US_TCP_RTO_INIT / 1000);
  us_stat_inc(s, USTCP_STAT_TCP_ACTIVE_OPENS);
  us_tcb_set_state(s, t, USTCP_TCP_SYN_SENT);
  t->flags |= TF_SS_CONNECTING | TF_RTT_TIMING;
  t->rtt_time_us = us_tcp_now_us(s);
  t->rtt_seq = t->iss;
  us_tcp_send_syn(s, t);
  us_tcb_timer_set(s, t, US_TT_RTO, s->now + US_TCP_RTO_INIT);
  return -EINPROGRESS;
}

/* Linux __inet_stream_connect() after the wait: `err` is what the call
 * would return if the handshake is still going (-EINPROGRESS/-EALREADY). */
int us_tcp_connect_finish(struct ustcp_stack *s, struct us_tcb *t, int err)
{
  (void)s;
  if (us_tcp_connecting(t))
    return err;
  if (t->state == USTCP_TCP_CLOSE) {
    int e = us_tcp_take_error(t);
    t->flags &= ~(TF_SS_CONNECTING | TF_SS_CONNECTED);
    return e ? -e : -ECONNABORTED;
  }
  t->flags &= ~TF_SS_CONNECTING;
  t->flags |= TF_SS_CONNECTED;
  return 0;
}

int us_tcp_take_error(struct us_tcb *t)
{
  int e = t->so_error;
  t->so_error = 0;
  return e;
}

size_t us_tcp_outq(const struct us_tcb *t) { return t->sndq.len; }

static size_t iov_total(const struct iovec *iov, int n)
{
  size_t sum = 0;
  for (int i = 0; i < n; i++)
    sum += iov[i].iov_len;
  return sum;
}

/* Linux tcp_sendmsg_locked(): errors first (pending error, shutdown), then
 * wait for the connection, then copy what the send buffer takes. */
ssize_t us_tcp_send(struct ustcp_stack *s, struct us_tcb *t, const struct iovec *iov, int iovcnt,
                    size_t skip, int flags)
{
  if (t->so_error)
    return -us_tcp_take_error(t);
  if (t->flags & TF_SHUT_WR)
    return -EPIPE;
  if (us_tcp_connecting(t))
    return -EAGAIN;
  if (t->state != USTCP_TCP_ESTABLISHED && t->state != USTCP_TCP_CLOSE_WAIT)
    return -EPIPE;
  size_t total = iov_total(iov, iovcnt);
  if (skip >= total)
    return 0;
  uint32_t limit = us_tcp_snd_space(s, t);
  if (t->sndq.len >= limit)
    return -EAGAIN;
  size_t room = limit - t->sndq.len;
  size_t want = total - skip;
  if (want > room)
    want = room;
  size_t done = us_tcp_write(s, t, iov, iovcnt, skip, want, flags, want < total - skip);
  if (done == 0)
    return -ENOBUFS;
  return (ssize_t)done;
}

/* Linux tcp_recvmsg_locked(): data first, then the pending error, then
 * end of stream, then ENOTCONN for a socket that never connected. */
ssize_t us_tcp_recv(struct ustcp_stack *s, struct us_tcb *t, const struct iovec *iov, int iovcnt,
                    size_t skip, int flags)
{
  if (t->state == USTCP_TCP_LISTEN)
    return -ENOTCONN;
  size_t avail = t->rcvq.len;
  size_t want = iov_total(iov, iovcnt);
  size_t peek_off = (flags & MSG_PEEK) ? skip : 0;
  if (want > skip)
    want -= skip;
  else
    want = 0;
  if (avail > peek_off && want) {
    size_t n = avail - peek_off < want ? avail - peek_off : want;
    size_t done = 0, sk = skip;
    for (int i = 0; i < iovcnt && done < n; i++) {
      size_t l = iov[i].iov_len;
      if (sk >= l) {
        sk -= l;
        continue;
      }
      size_t c = l - sk < n - done ? l - sk : n - done;
      us_bq_peek(&t->rcvq, peek_off + done, (uint8_t *)iov[i].iov_base + sk, c);
      done += c;
      sk = 0;
    }
    if (!(flags & MSG_PEEK)) {
      us_bq_consume(s, &t->rcvq, done);
      us_tcp_rcv_consumed(s, t, done);
    }
    return (ssize_t)done;
  }
  if (want == 0 && avail)
    return 0;
  /* Linux tcp_recvmsg_locked(): end of stream (SOCK_DONE: the peer's FIN)
   * before a pending error. */
  if (t->flags & TF_FIN_RCVD)
    return 0;
  if (t->so_error)
    return -us_tcp_take_error(t);
  if (t->flags & TF_SHUT_RD)
    return 0;
  if (t->state == USTCP_TCP_CLOSE)
    return -ENOTCONN;
  return -EAGAIN;
}

/* Linux tcp_rcv_space_adjust() (DRS) and tcp_cleanup_rbuf(): grow the
 * receive space when the application drains it fast; send a window update
 * when a read opened the window a lot or a delayed ACK is overdue. */
void us_tcp_rcv_consumed(struct ustcp_stack *s, struct us_tcb *t, size_t n)
{
  if (!us_tcp_is_sync(t->state))
    return;
  t->drs_copied += (uint32_t)n;
  uint32_t rtt = t->srtt_us ? t->srtt_us : 1000u;
  if (us_tcp_now_us(s) - t->drs_time_us >= rtt) {
    if (!(t->flags & TF_RCVBUF_LOCK) && t->drs_copied > t->rcv_space / 2) {
      /* the buffer for twice the bytes read per RTT at the scaling ratio
       * (tcp_space_from_win), at most tcp_rmem[2] */
      uint64_t want = (uint64_t)t->drs_copied * 2;
      uint64_t buf = us_tcp_space_from_win(t, want > UINT32_MAX ? UINT32_MAX : (uint32_t)want);
      if (buf > (uint64_t)s->cfg.rmem[2])
        buf = (uint64_t)s->cfg.rmem[2];
      if (buf > (uint64_t)t->rcvbuf) {
        t->rcvbuf = (int32_t)buf;
        t->rcv_space = us_tcp_rcv_space(t);
      }
    }
    t->drs_copied = 0;
    t->drs_time_us = us_tcp_now_us(s);
  }
  bool ack = false;
  if (t->deadline[US_TT_DELACK] != USTCP_TIME_NEVER && t->rcv_nxt - t->rcv_wup > t->rcv_mss)
    ack = true;
  if (!ack && !(t->flags & TF_SHUT_RD)) {
    uint32_t cur = seq_gt(t->rcv_adv, t->rcv_nxt) ? t->rcv_adv - t->rcv_nxt : 0;
    if (2u * cur <= us_tcp_window_clamp(s, t)) { /* Linux: window_clamp */
      uint32_t nw = us_tcp_select_window(s, t);
      if (nw && nw >= 2u * cur)
        ack = true;
    }
  }
  if (ack && t->state != USTCP_TCP_SYN_RECV)
    us_tcp_send_ack(s, t);
}

/* Linux tcp_close_state(): the state after the application closes the
 * sending side; true if a FIN is to be sent. */
static bool close_state(struct ustcp_stack *s, struct us_tcb *t)
{
  switch (t->state) {
  case USTCP_TCP_ESTABLISHED:
  case USTCP_TCP_SYN_RECV:
    us_tcb_set_state(s, t, USTCP_TCP_FIN_WAIT1);
    return true;
  case USTCP_TCP_CLOSE_WAIT:
    us_tcb_set_state(s, t, USTCP_TCP_LAST_ACK);
    return true;
  case USTCP_TCP_SYN_SENT:
    us_tcb_set_state(s, t, USTCP_TCP_CLOSE);
    return false;
  default:
    return false;
  }
}

static void send_fin(struct ustcp_stack *s, struct us_tcb *t)
{
  t->flags |= TF_FIN_QUEUED;
  /* Linux tcp_send_fin(): push everything queued with Nagle off; the FIN
   * rides on the last data segment. */
  if (t->state != USTCP_TCP_SYN_RECV) {
    uint32_t saved = t->flags & (TF_NODELAY | TF_CORK);
    t->flags = (t->flags & ~TF_CORK) | TF_NODELAY;
    us_tcp_output(s, t);
    t->flags = (t->flags & ~(TF_NODELAY | TF_CORK)) | saved;
  }
}

void us_tcp_send_fin_now(struct ustcp_stack *s, struct us_tcb *t)
{
  t->flags |= TF_SHUT_WR;
  if (!(t->flags & TF_FIN_QUEUED) && close_state(s, t))
    send_fin(s, t);
}

/* Linux inet_shutdown() + tcp_shutdown(). */
int us_tcp_shutdown(struct ustcp_stack *s, struct us_tcb *t, int how)
{
  if (how < SHUT_RD || how > SHUT_RDWR)
    return -EINVAL;
  uint32_t mask = (how == SHUT_RD   ? TF_SHUT_RD
                   : how == SHUT_WR ? TF_SHUT_WR
                                    : TF_SHUT_RD | TF_SHUT_WR);
  if (t->flags & TF_SS_CONNECTING) {
    t->flags &= ~TF_SS_CONNECTING;
    if (!us_tcp_connecting(t) && t->state != USTCP_TCP_CLOSE)
      t->flags |= TF_SS_CONNECTED;
  }
  switch (t->state) {
  case USTCP_TCP_CLOSE:
    t->flags |= mask; /* Linux records the flags anyway */
    return -ENOTCONN;
  case USTCP_TCP_LISTEN:
    if (!(mask & TF_SHUT_RD))
      return 0;
    us_tcp_done(s, t); /* stop listening exactly as close() (SPEC §1.2) */
    t->flags &= ~(TF_SHUT_RD | TF_SHUT_WR);
    return 0;
  case USTCP_TCP_SYN_SENT:
    /* Linux tcp_disconnect() in SYN_SENT: silent, SO_ERROR = ECONNRESET. */
    us_tcp_done(s, t);
    t->so_error = ECONNRESET;
    t->flags &= ~(TF_SHUT_RD | TF_SHUT_WR | TF_SS_CONNECTED | TF_SS_CONNECTING);
    return 0;
  default:
    break;
  }
  t->flags |= mask;
  if ((mask & TF_SHUT_WR) && !(t->flags & TF_FIN_QUEUED)) {
    if (close_state(s, t))
      send_fin(s, t);
  }
  if (mask & TF_SHUT_RD) {
    /* Reading now returns what is queued, then 0; a window update is not
     * needed. Nothing is sent. */
  }
  return 0;
}

/* Linux __tcp_close() up to the linger wait. */
void us_tcp_close(struct ustcp_stack *s, struct us_tcb *t)
{
  t->flags |= TF_SHUT_RD | TF_SHUT_WR;
  if (t->state == USTCP_TCP_LISTEN) {
    us_tcp_done(s, t);
    return;
  }
  if (t->state == USTCP_TCP_CLOSE)
    return;
  size_t unread = t->rcvq.len;
  if (unread) {
    /* SPEC §1.2: unread data -> RST, never FIN (RFC 9293 3.10.4 note,
     * Linux TCPAbortOnClose). */
    if (us_tcp_is_sync(t->state) && t->state != USTCP_TCP_SYN_RECV)
      us_tcp_send_rst_abort(s, t);
    us_stat_inc(s, USTCP_STAT_TCP_ABORT_ON_CLOSE);
    us_tcp_done(s, t);
    return;
  }
  if ((t->flags & TF_LINGER) && t->linger == 0) {
    /* SO_LINGER 0: abortive close (Linux tcp_disconnect: RST in the
     * synchronized states, none in SYN_SENT), no TIME_WAIT. */
    if (us_tcp_is_sync(t->state) && t->state != USTCP_TCP_CLOSING && t->state != USTCP_TCP_LAST_ACK)
      us_tcp_send_rst_abort(s, t);
    us_stat_inc(s, USTCP_STAT_TCP_ABORT_ON_LINGER);
    us_tcp_done(s, t);
    return;
  }
  if (!(t->flags & TF_FIN_QUEUED)) {
    if (close_state(s, t))
      send_fin(s, t);
    else if (t->state == USTCP_TCP_CLOSE)
      us_tcp_done(s, t);
  }
}

bool us_tcp_linger_done(const struct us_tcb *t)
{
  /* Linux sk_stream_wait_close(): wait while FIN_WAIT1, CLOSING, LAST_ACK. */
  return !(t->state == USTCP_TCP_FIN_WAIT1 || t->state == USTCP_TCP_CLOSING ||
           t->state == USTCP_TCP_LAST_ACK);
}

/* Linux __tcp_close() "adjudge_to_death": the socket becomes an orphan. */
void us_tcp_orphan(struct ustcp_stack *s, struct us_tcb *t)
{
  t->flags |= TF_ORPHAN;
  us_bq_clear(s, &t->rcvq);
  if (t->state == USTCP_TCP_FIN_WAIT2) {
    if (t->linger2 < 0) {
      us_tcp_send_rst_abort(s, t);
      us_stat_inc(s, USTCP_STAT_TCP_ABORT_ON_LINGER);
      us_tcp_done(s, t);
      return;
    }
    us_tcp_fin_wait2_arm(s, t);
  }
  us_tcb_maybe_free(s, t);
}

/* Linux tcp_poll(). */
short us_tcp_poll(struct ustcp_stack *s, struct us_tcb *t)
{
  short m = 0;
  if (t->state == USTCP_TCP_LISTEN)
    return (t->lq && t->lq->aq_len) ? (POLLIN | POLLRDNORM) : 0;
  bool rd = (t->flags & TF_SHUT_RD) != 0, wr = (t->flags & TF_SHUT_WR) != 0;
  if ((rd && wr) || t->state == USTCP_TCP_CLOSE)
    m |= POLLHUP;
  if (rd)
    m |= POLLIN | POLLRDNORM | POLLRDHUP;
  if (t->state != USTCP_TCP_SYN_SENT && t->state != USTCP_TCP_SYN_RECV) {
    if (t->rcvq.len)
      m |= POLLIN | POLLRDNORM;
    if (!wr) {
      /* Linux __sk_stream_is_writeable(): free space >= queued / 2. */
      uint32_t limit = us_tcp_snd_space(s, t);
      size_t q = t->sndq.len;
      if (q <= limit && limit - q >= q / 2)
        m |= POLLOUT | POLLWRNORM;
    } else {
      m |= POLLOUT | POLLWRNORM;
    }
  }
  if (t->so_error)
    m |= POLLERR;
  return m;
}
