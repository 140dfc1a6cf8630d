/*
 * sockopt.c - setsockopt/getsockopt: the SOL_SOCKET and IPPROTO_TCP options
 * ustcp supports, with Linux's value rules (sock_setsockopt,
 * do_tcp_setsockopt, do_tcp_getsockopt) and errno values.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>

#include "socket/sock.h"
#include "ustcp/socket.h"

#define SOCK_MIN_SNDBUF 4608 /* Linux: 2 * (2048 + sizeof(struct sk_buff)) */
#define SOCK_MIN_RCVBUF 2304
#define MAX_TCP_KEEPIDLE 32767
#define MAX_TCP_KEEPINTVL 32767
#define MAX_TCP_KEEPCNT 127
#define MAX_TCP_SYNCNT 127
#define TCP_FIN_TIMEOUT_MAX 120

static int get_int(const void *val, socklen_t len, int *out)
{
  if (!val)
    return -EFAULT;
  if (len < (socklen_t)sizeof(int))
    return -EINVAL;
  memcpy(out, val, sizeof(int));
  return 0;
}

static int set_timeo(const void *val, socklen_t len, uint32_t *ms)
{
  struct timeval tv;
  if (!val)
    return -EFAULT;
  if (len < (socklen_t)sizeof(tv))
    return -EINVAL;
  memcpy(&tv, val, sizeof(tv));
  if (tv.tv_usec < 0 || tv.tv_usec >= 1000000)
    return -EDOM;
  if (tv.tv_sec < 0) {
    *ms = 0; /* Linux: negative means no timeout */
    return 0;
  }
  uint64_t v = (uint64_t)tv.tv_sec * 1000u + (uint64_t)(tv.tv_usec + 999) / 1000u;
  *ms = v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
  return 0;
}

int us_sockopt_set(struct ustcp_stack *s, struct us_tcb *t, int level, int name, const void *val,
                   socklen_t len)
{
  int v = 0, r;
  if (level == SOL_SOCKET) {
    switch (name) {
    case SO_LINGER: {
      struct linger l;
      if (!val)
        return -EFAULT;
      if (len < (socklen_t)sizeof(l))
        return -EINVAL;
      memcpy(&l, val, sizeof(l));
      if (l.l_onoff)
        t->flags |= TF_LINGER;
      else
        t->flags &= ~TF_LINGER;
      t->linger = l.l_linger < 0 ? 0x7fffffffu : (uint32_t)l.l_linger;
      return 0;
    }
    case SO_RCVTIMEO:
      return set_timeo(val, len, &t->rcvtimeo_ms);
    case SO_SNDTIMEO:
      return set_timeo(val, len, &t->sndtimeo_ms);
    default:
      break;
    }
    if ((r = get_int(val, len, &v)))
      return r;
    switch (name) {
    case SO_REUSEADDR:
      if (v)
        t->flags |= TF_REUSEADDR;
      else
        t->flags &= ~TF_REUSEADDR;
      return 0;
    case SO_KEEPALIVE:
      if (v)
        t->flags |= TF_KEEPALIVE;
      else
        t->flags &= ~TF_KEEPALIVE;
      us_tcp_arm_keepalive(s, t);
      return 0;
    case SO_RCVBUF: {
      /* Linux: min(val, rmem_max) doubled, at least SOCK_MIN_RCVBUF. */
      uint32_t u =
          (uint32_t)v > (uint32_t)s->cfg.rmem_max ? (uint32_t)s->cfg.rmem_max : (uint32_t)v;
      uint64_t b = (uint64_t)u * 2;
      t->rcvbuf = (int32_t)(b < SOCK_MIN_RCVBUF ? SOCK_MIN_RCVBUF : b);
      t->flags |= TF_RCVBUF_LOCK;
      if (t->state == USTCP_TCP_CLOSE || t->state == USTCP_TCP_LISTEN)
        t->rcv_space = us_tcp_rcv_space(t);
      else if (us_tcp_rcv_space(t) > t->rcv_space)
        t->rcv_space = us_tcp_rcv_space(t);
      return 0;
    }
    case SO_SNDBUF: {
      uint32_t u =
          (uint32_t)v > (uint32_t)s->cfg.wmem_max ? (uint32_t)s->cfg.wmem_max : (uint32_t)v;
      uint64_t b = (uint64_t)u * 2;
      t->sndbuf = (int32_t)(b < SOCK_MIN_SNDBUF ? SOCK_MIN_SNDBUF : b);
      t->flags |= TF_SNDBUF_LOCK;
      return 0;
    }
    case SO_ERROR:
    case SO_TYPE:
    case SO_ACCEPTCONN:
    case SO_DOMAIN:
    case SO_PROTOCOL:
      return -ENOPROTOOPT;
    default:
      return -ENOPROTOOPT;
    }
  }
  if (level != IPPROTO_TCP)
    return -ENOPROTOOPT;
  if (name == TCP_INFO)
    return -ENOPROTOOPT;
  if ((r = get_int(val, len, &v)))
    return r;
  switch (name) {
  case TCP_NODELAY:
    if (v) {
      t->flags |= TF_NODELAY;
      us_tcp_output(s, t); /* Linux: push what waits */
    } else {
      t->flags &= ~TF_NODELAY;
    }
    return 0;
  case TCP_CORK:
    if (v) {
      t->flags |= TF_CORK;
    } else {
      t->flags &= ~TF_CORK;
      uint32_t saved = t->flags & TF_NODELAY;
      t->flags |= TF_NODELAY; /* Linux: uncork pushes pending frames */
      us_tcp_output(s, t);
      t->flags = (t->flags & ~TF_NODELAY) | saved;
    }
    return 0;
  case TCP_MAXSEG:
    if (v && (v < US_TCP_MIN_MSS || v > 32767))
      return -EINVAL;
    t->user_mss = (uint16_t)v;
    return 0;
  case TCP_KEEPIDLE:
    if (v < 1 || v > MAX_TCP_KEEPIDLE)
      return -EINVAL;
    t->keepidle = (uint16_t)v;
    us_tcp_arm_keepalive(s, t);
    return 0;
  case TCP_KEEPINTVL:
    if (v < 1 || v > MAX_TCP_KEEPINTVL)
      return -EINVAL;
    t->keepintvl = (uint16_t)v;
    return 0;
  case TCP_KEEPCNT:
    if (v < 1 || v > MAX_TCP_KEEPCNT)
      return -EINVAL;
    t->keepcnt = (uint8_t)v;
    return 0;
  case TCP_LINGER2:
    if (v < 0)
      t->linger2 = -1;
    else if (v > TCP_FIN_TIMEOUT_MAX)
      t->linger2 = TCP_FIN_TIMEOUT_MAX;
    else
      t->linger2 = (int8_t)v;
    return 0;
  case TCP_SYNCNT:
    if (v < 1 || v > MAX_TCP_SYNCNT)
      return -EINVAL;
    t->syn_retries = (uint8_t)v;
    return 0;
  case TCP_USER_TIMEOUT:
    if (v < 0)
      return -EINVAL;
    t->user_timeout_ms = (uint32_t)v;
    return 0;
  case TCP_QUICKACK:
    if (v) {
      t->flags &= ~TF_PINGPONG;
      t->quick = 16;
      if (us_tcp_is_sync(t->state) && t->rcv_nxt != t->rcv_wup)
        us_tcp_send_ack(s, t);
    } else {
      t->flags |= TF_PINGPONG;
    }
    return 0;
  default:
    return -ENOPROTOOPT;
  }
}

static int put_int(void *val, socklen_t *len, int v)
{
  if (!val || !len)
    return -EFAULT;
  if ((int)*len < 0)
    return -EINVAL;
  socklen_t n = *len < (socklen_t)sizeof(int) ? *len : (socklen_t)sizeof(int);
  memcpy(val, &v, n);
  *len = n;
  return 0;
}

static int put_timeo(void *val, socklen_t *len, uint32_t ms)
{
  struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (suseconds_t)(ms % 1000) * 1000};
  if (!val || !len)
    return -EFAULT;
  if (*len < (socklen_t)sizeof(tv))
    return -EINVAL;
  memcpy(val, &tv, sizeof(tv));
  *len = sizeof(tv);
  return 0;
}

/* Linux's struct tcp_info as 6.18 returns it (280 bytes): glibc's
 * <netinet/tcp.h> stops at tcpi_total_retrans, the rest follows in the
 * kernel's layout (include/uapi/linux/tcp.h), so a caller using
 * <linux/tcp.h> gets every field and a shorter buffer gets a prefix. */
struct tcp_info_ext {
  struct tcp_info i;
  uint64_t pacing_rate, max_pacing_rate, bytes_acked, bytes_received;
  uint32_t segs_out, segs_in, notsent_bytes, min_rtt, data_segs_in, data_segs_out;
  uint64_t delivery_rate, busy_time, rwnd_limited, sndbuf_limited;
  uint32_t delivered, delivered_ce;
  uint64_t bytes_sent, bytes_retrans;
  uint32_t dsack_dups, reord_seen, rcv_ooopack, snd_wnd, rcv_wnd, rehash;
  uint16_t total_rto, total_rto_recoveries;
  uint32_t total_rto_time, received_ce;
  uint32_t delivered_e1_bytes, delivered_e0_bytes, delivered_ce_bytes;
  uint32_t received_e1_bytes, received_e0_bytes, received_ce_bytes;
  uint16_t accecn_fail_mode, accecn_opt_seen;
};
_Static_assert(sizeof(struct tcp_info) == 104, "glibc struct tcp_info");
_Static_assert(sizeof(struct tcp_info_ext) == 280, "Linux 6.18 struct tcp_info");

/* Our FIN is in flight (sent, not ACKed). */
static bool fin_unacked(const struct us_tcb *t)
{
  return (t->flags & TF_FIN_QUEUED) && !(t->flags & TF_FIN_ACKED) &&
         t->snd_nxt == t->snd_una + (uint32_t)t->sndq.len + 1;
}

static void fill_info(struct ustcp_stack *s, struct us_tcb *t, struct tcp_info_ext *x)
{
  memset(x, 0, sizeof(*x));
  struct tcp_info *i = &x->i;
  i->tcpi_state = t->state;
  i->tcpi_ca_state = (t->flags & TF_IN_LOSS) ? 4 : (t->flags & TF_IN_RECOVERY) ? 3 : 0;
  i->tcpi_retransmits = t->retrans;
  i->tcpi_probes = t->probes;
  i->tcpi_backoff = t->backoff;
  if (t->flags & TF_TS_OK)
    i->tcpi_options |= TCPI_OPT_TIMESTAMPS;
  if (t->flags & TF_SACK_OK)
    i->tcpi_options |= TCPI_OPT_SACK;
  if (t->flags & TF_WS_OK) {
    i->tcpi_options |= TCPI_OPT_WSCALE;
    i->tcpi_snd_wscale = t->snd_wscale & 0xf;
    i->tcpi_rcv_wscale = t->rcv_wscale & 0xf;
  }
  i->tcpi_rto = (uint32_t)(us_tcp_rto(t) / 1000u);
  i->tcpi_ato = t->ato_us;
  i->tcpi_snd_mss = t->mss;
  i->tcpi_rcv_mss = t->rcv_mss;
  uint32_t mss = t->mss ? t->mss : 1;
  uint32_t flight = t->snd_nxt - t->snd_una;
  i->tcpi_unacked = us_tcp_is_sync(t->state) ? (flight + mss - 1) / mss : 0;
  i->tcpi_sacked = t->sack ? us_tcp_sacked_bytes(t, t->snd_una, t->snd_nxt) / mss : 0;
  ustcp_time_t now = s->now;
  i->tcpi_last_data_sent = t->last_snd_data ? (uint32_t)((now - t->last_snd_data) / 1000000u) : 0;
  i->tcpi_last_data_recv = t->lrcvtime ? (uint32_t)((now - t->lrcvtime) / 1000000u) : 0;
  i->tcpi_last_ack_recv = t->last_rcv ? (uint32_t)((now - t->last_rcv) / 1000000u) : 0;
  i->tcpi_pmtu = us_tcp_pmtu(s, t);
  i->tcpi_rcv_ssthresh = t->rcv_ssthresh;
  i->tcpi_rtt = t->srtt_us;
  i->tcpi_rttvar = t->rttvar_us;
  i->tcpi_snd_ssthresh = t->ssthresh >= UINT32_MAX / 4 ? 0x7fffffff : t->ssthresh / mss;
  i->tcpi_snd_cwnd = t->cwnd / mss;
  i->tcpi_advmss = (uint32_t)s->cfg.mtu - 40 - ((t->flags & TF_TS_OK) ? 12 : 0);
  i->tcpi_reordering = 3;
  i->tcpi_rcv_space = t->rcv_space;
  i->tcpi_total_retrans = t->total_retrans;

  bool sync = us_tcp_is_sync(t->state) && t->state != USTCP_TCP_SYN_RECV;
  /* Linux tcp_update_pacing_rate(): cwnd * mss / srtt, times 200 % in
   * slow start (cwnd < ssthresh / 2), else 120 %; max_pacing_rate is
   * unlimited (~0). */
  x->max_pacing_rate = UINT64_MAX;
  if (t->srtt_us) {
    uint64_t ratio = t->cwnd < t->ssthresh / 2 ? 200 : 120;
    uint64_t pkts = flight / mss > t->cwnd / mss ? flight / mss : t->cwnd / mss;
    x->pacing_rate = (uint64_t)t->mss * pkts * ratio * 10000u / t->srtt_us;
  }
  /* RFC 4898 octet counters: Linux bytes_acked counts the SYN too,
   * bytes_received only data (32-bit sequence arithmetic here). */
  if (sync) {
    x->bytes_acked = t->snd_una - t->iss;
    x->bytes_received = t->rcv_nxt - t->irs - 1 - ((t->flags & TF_FIN_RCVD) ? 1u : 0u);
    bool fin_out = (t->flags & TF_FIN_ACKED) || fin_unacked(t);
    uint32_t sent = t->snd_nxt - t->iss - 1 - (fin_out ? 1u : 0u);
    x->bytes_sent = (uint64_t)sent + t->bytes_retrans;
  }
  x->segs_out = t->segs_out;
  x->segs_in = t->segs_in;
  uint32_t queued = (uint32_t)t->sndq.len;
  uint32_t inflight_data = sync ? flight - (fin_unacked(t) ? 1u : 0u) : 0;
  x->notsent_bytes = queued > inflight_data ? queued - inflight_data : 0;
  x->min_rtt = t->min_rtt_us ? t->min_rtt_us : UINT32_MAX; /* Linux: ~0U before a sample */
  x->data_segs_in = t->data_segs_in;
  x->data_segs_out = t->data_segs_out;
  x->delivered = t->delivered;
  x->bytes_retrans = t->bytes_retrans;
  x->dsack_dups = t->dsack_dups;
  x->rcv_ooopack = t->rcv_ooopack;
  x->snd_wnd = t->snd_wnd;
  x->rcv_wnd = t->rcv_adv - t->rcv_wup; /* Linux tp->rcv_wnd: the last window offered */
}

int us_sockopt_get(struct ustcp_stack *s, struct us_tcb *t, int level, int name, void *val,
                   socklen_t *len)
{
  if (level == SOL_SOCKET) {
    switch (name) {
    case SO_REUSEADDR:
      return put_int(val, len, (t->flags & TF_REUSEADDR) != 0);
    case SO_KEEPALIVE:
      return put_int(val, len, (t->flags & TF_KEEPALIVE) != 0);
    case SO_RCVBUF:
      return put_int(val, len, t->rcvbuf);
    case SO_SNDBUF:
      return put_int(val, len, t->sndbuf);
    case SO_ERROR: {
      /* Linux sock_getsockopt(): the pending error, else the soft error
       * (an ICMP about an established connection), each read once. */
      int e = us_tcp_take_error(t);
      if (!e) {
        e = t->soft_err;
        t->soft_err = 0;
      }
      return put_int(val, len, e);
    }
    case SO_TYPE:
      return put_int(val, len, SOCK_STREAM);
    case SO_DOMAIN:
      return put_int(val, len, AF_INET);
    case SO_PROTOCOL:
      return put_int(val, len, IPPROTO_TCP);
    case SO_ACCEPTCONN:
      return put_int(val, len, t->state == USTCP_TCP_LISTEN);
    case SO_RCVTIMEO:
      return put_timeo(val, len, t->rcvtimeo_ms);
    case SO_SNDTIMEO:
      return put_timeo(val, len, t->sndtimeo_ms);
    case SO_LINGER: {
      struct linger l = {.l_onoff = (t->flags & TF_LINGER) != 0, .l_linger = (int)t->linger};
      if (!val || !len)
        return -EFAULT;
      if ((int)*len < 0)
        return -EINVAL;
      socklen_t n = *len < (socklen_t)sizeof(l) ? *len : (socklen_t)sizeof(l);
      memcpy(val, &l, n);
      *len = n;
      return 0;
    }
    default:
      return -ENOPROTOOPT;
    }
  }
  if (level != IPPROTO_TCP)
    return -EOPNOTSUPP;
  switch (name) {
  case TCP_NODELAY:
    return put_int(val, len, (t->flags & TF_NODELAY) != 0);
  case TCP_CORK:
    return put_int(val, len, (t->flags & TF_CORK) != 0);
  case TCP_MAXSEG: {
    /* Linux: mss_cache (536 before a connection), or the user's value on
     * a closed/listening socket. */
    int v = us_tcp_is_sync(t->state) ? t->mss : US_TCP_DEFAULT_MSS;
    if (t->user_mss && (t->state == USTCP_TCP_CLOSE || t->state == USTCP_TCP_LISTEN))
      v = t->user_mss;
    return put_int(val, len, v);
  }
  case TCP_KEEPIDLE:
    return put_int(val, len, (int)t->keepidle);
  case TCP_KEEPINTVL:
    return put_int(val, len, (int)t->keepintvl);
  case TCP_KEEPCNT:
    return put_int(val, len, t->keepcnt);
  case TCP_LINGER2:
    return put_int(val, len, t->linger2 < 0 ? -1 : t->linger2 ? t->linger2 : s->cfg.fin_timeout);
  case TCP_SYNCNT:
    return put_int(val, len, t->syn_retries ? t->syn_retries : s->cfg.syn_retries);
  case TCP_USER_TIMEOUT:
    return put_int(val, len, (int)t->user_timeout_ms);
  case TCP_QUICKACK:
    return put_int(val, len, !(t->flags & TF_PINGPONG));
  case TCP_INFO: {
    struct tcp_info_ext info;
    if (!val || !len)
      return -EFAULT;
    if ((int)*len < 0)
      return -EINVAL;
    fill_info(s, t, &info);
    socklen_t n = *len < (socklen_t)sizeof(info) ? *len : (socklen_t)sizeof(info);
    memcpy(val, &info, n);
    *len = n;
    return 0;
  }
  default:
    return -ENOPROTOOPT;
  }
}

static const char *opt_name(int level, int name, char *buf, size_t n)
{
  static const struct {
    int level, name;
    const char *s;
  } names[] = {
      {SOL_SOCKET, SO_REUSEADDR, "SO_REUSEADDR"},
      {SOL_SOCKET, SO_KEEPALIVE, "SO_KEEPALIVE"},
      {SOL_SOCKET, SO_LINGER, "SO_LINGER"},
      {SOL_SOCKET, SO_RCVBUF, "SO_RCVBUF"},
      {SOL_SOCKET, SO_SNDBUF, "SO_SNDBUF"},
      {SOL_SOCKET, SO_RCVTIMEO, "SO_RCVTIMEO"},
      {SOL_SOCKET, SO_SNDTIMEO, "SO_SNDTIMEO"},
      {SOL_SOCKET, SO_ERROR, "SO_ERROR"},
      {SOL_SOCKET, SO_TYPE, "SO_TYPE"},
      {IPPROTO_TCP, TCP_NODELAY, "TCP_NODELAY"},
      {IPPROTO_TCP, TCP_CORK, "TCP_CORK"},
      {IPPROTO_TCP, TCP_MAXSEG, "TCP_MAXSEG"},
      {IPPROTO_TCP, TCP_KEEPIDLE, "TCP_KEEPIDLE"},
      {IPPROTO_TCP, TCP_KEEPINTVL, "TCP_KEEPINTVL"},
      {IPPROTO_TCP, TCP_KEEPCNT, "TCP_KEEPCNT"},
      {IPPROTO_TCP, TCP_LINGER2, "TCP_LINGER2"},
      {IPPROTO_TCP, TCP_SYNCNT, "TCP_SYNCNT"},
      {IPPROTO_TCP, TCP_USER_TIMEOUT, "TCP_USER_TIMEOUT"},
      {IPPROTO_TCP, TCP_QUICKACK, "TCP_QUICKACK"},
      {IPPROTO_TCP, TCP_INFO, "TCP_INFO"},
  };
  for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
    if (names[i].level == level && names[i].name == name)
      return names[i].s;
  snprintf(buf, n, "level=%d name=%d", level, name);
  return buf;
}

int ustcp_setsockopt(struct ustcp_stack *s, int fd, int level, int name, const void *val,
                     socklen_t len)
{
  us_clock_refresh(s);
  char nb[40], d[80] = "";
  const char *on = us_tracing(s) ? opt_name(level, name, nb, sizeof(nb)) : NULL;
  if (!on)
    ;
  else if (val && len == sizeof(int))
    snprintf(d, sizeof(d), "%s=%d", on, *(const int *)val);
  else if (val && name == SO_LINGER && level == SOL_SOCKET &&
           len >= (socklen_t)sizeof(struct linger))
    snprintf(d, sizeof(d), "%s={%d,%d}", on, ((const struct linger *)val)->l_onoff,
             ((const struct linger *)val)->l_linger);
  else
    snprintf(d, sizeof(d), "%s", on);
  struct us_tcb *t = us_sock_get(s, fd);
  long r = t ? us_sockopt_set(s, t, level, name, val, len) : -EBADF;
  return (int)us_sock_ret(s, "setsockopt", fd, r, d);
}

int ustcp_getsockopt(struct ustcp_stack *s, int fd, int level, int name, void *val, socklen_t *len)
{
  us_clock_refresh(s);
  char nb[40], d[80] = "";
  const char *on = us_tracing(s) ? opt_name(level, name, nb, sizeof(nb)) : NULL;
  struct us_tcb *t = us_sock_get(s, fd);
  long r = t ? us_sockopt_get(s, t, level, name, val, len) : -EBADF;
  if (!on)
    ;
  else if (r == 0 && len && *len == sizeof(int) && name != TCP_INFO)
    snprintf(d, sizeof(d), "%s -> %d", on, *(int *)val);
  else
    snprintf(d, sizeof(d), "%s", on);
  return (int)us_sock_ret(s, "getsockopt", fd, r, d);
}
