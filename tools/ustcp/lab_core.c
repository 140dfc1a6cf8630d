/*
 * lab_core.c - the lab's world and recorder: builds the two-host sim world
 * of a scenario, wraps the socket calls a scenario makes (recording each with
 * its arguments, return value, errno and blocking time), records every trace
 * event of every host, and afterwards "cooks" them: decodes each datagram
 * with src/wire, pairs each sent datagram with its arrival, receiver drop or
 * link loss, numbers the connections and computes relative sequence numbers.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "lab.h"

/* ------------------------------------------------------------ recording */

static struct lab_ev *push_raw(struct lab_run *r)
{
  if (r->nraw == r->capraw) {
    size_t cap = r->capraw ? r->capraw * 2 : 256;
    struct lab_ev *v = realloc(r->raw, cap * sizeof(*v));
    if (!v) {
      perror("ustcp lab");
      exit(1);
    }
    r->raw = v;
    r->capraw = cap;
  }
  struct lab_ev *e = &r->raw[r->nraw++];
  memset(e, 0, sizeof(*e));
  e->peer = -1;
  e->fd = -1;
  e->fate = LAB_UNKNOWN;
  return e;
}

static char *xstrdup(const char *s)
{
  char *d = strdup(s ? s : "");
  if (!d) {
    perror("ustcp lab");
    exit(1);
  }
  return d;
}

static int host_of_stack(const struct lab_run *r, const struct ustcp_stack *s)
{
  for (int i = 0; i < r->nhosts; i++)
    if (r->host[i].s == s)
      return i;
  return -1;
}

ustcp_time_t lab_now(struct lab_run *r) { return ustcp_sim_now(r->sim); }

static void snapshot_queues(struct lab_run *r)
{
  if (r->watch_fd < 0)
    return;
  struct ustcp_listen_info li;
  if (ustcp_listen_info(r->host[r->watch_host].s, r->watch_fd, &li) != 0)
    return;
  if (r->have_q && li.accept_qlen == r->last_acc && li.syn_qlen == r->last_syn &&
      li.backlog == r->last_backlog)
    return;
  r->have_q = true;
  r->last_acc = li.accept_qlen;
  r->last_syn = li.syn_qlen;
  r->last_backlog = li.backlog;
  struct lab_ev *e = push_raw(r);
  e->kind = LAB_QUEUE;
  e->t = e->t_end = lab_now(r);
  e->host = r->watch_host;
  e->fd = r->watch_fd;
  e->q_acc = li.accept_qlen;
  e->q_syn = li.syn_qlen;
  e->q_backlog = li.backlog;
}

static void on_trace(void *user, struct ustcp_stack *s, const struct ustcp_trace_event *ev)
{
  struct lab_run *r = user;
  int h = host_of_stack(r, s);
  if (ev->kind == USTCP_TR_API)
    return; /* the lab records its own calls, with their blocking time */
  struct lab_ev *e = push_raw(r);
  e->t = e->t_end = ev->time_ns;
  e->host = h;
  e->stat = ev->stat;
  e->fd = ev->fd;
  switch (ev->kind) {
  case USTCP_TR_PKT_IN:
  case USTCP_TR_PKT_OUT:
  case USTCP_TR_DROP:
    /* PKT_IN/PKT_OUT/DROP keep their kind in `old_state` until cooked. */
    e->kind = LAB_PKT;
    e->old_state = (int)ev->kind;
    if (ev->pkt && ev->len) {
      e->pkt = malloc(ev->len);
      if (!e->pkt) {
        perror("ustcp lab");
        exit(1);
      }
      memcpy(e->pkt, ev->pkt, ev->len);
      e->len = ev->len;
    }
    if (ev->detail)
      e->text = xstrdup(ev->detail);
    break;
  case USTCP_TR_STATE:
    e->kind = LAB_STATE;
    e->old_state = ev->old_state;
    e->new_state = ev->new_state;
    e->conn_id = ev->conn_id;
    e->lport = ev->lport;
    e->rport = ev->rport;
    e->raddr = ev->raddr;
    break;
  case USTCP_TR_TIMER:
    e->kind = LAB_TIMER;
    e->text = xstrdup(ev->detail);
    break;
  default:
    e->kind = LAB_NOTE;
    e->text = xstrdup(ev->detail);
    break;
  }
}

void lab_note(struct lab_run *r, int host, const char *fmt, ...)
{
  char buf[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  struct lab_ev *e = push_raw(r);
  e->kind = LAB_NOTE;
  e->t = e->t_end = lab_now(r);
  e->host = host;
  e->text = xstrdup(buf);
}

void lab_watch(struct lab_run *r, int h, int fd)
{
  r->watch_host = h;
  r->watch_fd = fd;
  r->have_q = false;
  snapshot_queues(r);
}

static bool watch_pred(void *user)
{
  snapshot_queues(user);
  return false;
}

void lab_run_to(struct lab_run *r, ustcp_time_t t)
{
  ustcp_time_t now = lab_now(r);
  if (t <= now)
    return;
  ustcp_sim_run_while(r->sim, watch_pred, r, t - now);
  ustcp_sim_run_until(r->sim, t);
  snapshot_queues(r);
}

void lab_partition(struct lab_run *r, int from, bool on)
{
  struct ustcp_link_params p = {.latency = r->latency, .partitioned = on};
  ustcp_sim_link_set(r->sim, r->link, from == 0 ? 0 : 1, &p);
  lab_note(r, from, "link %s -> %s %s", r->host[from].name, r->host[1 - from].name,
           on ? "PARTITIONED (everything sent this way is lost)" : "healed");
}

/* ----------------------------------------------------------------- calls */

static struct lab_ev *call_begin(struct lab_run *r, int h, const char *name, int fd)
{
  struct lab_ev *e = push_raw(r);
  e->kind = LAB_CALL;
  e->t = lab_now(r);
  e->host = h;
  e->name = name;
  e->fd = fd;
  errno = 0;
  return e;
}

/* Finish a call: `e` may have moved (events recorded while blocking), so the
 * caller passes its index. */
static long call_end(struct lab_run *r, size_t idx, long ret, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static long call_end(struct lab_run *r, size_t idx, long ret, const char *fmt, ...)
{
  int err = ret < 0 ? errno : 0;
  char buf[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  struct lab_ev *e = &r->raw[idx];
  e->t_end = lab_now(r);
  e->ret_pos = r->nraw;
  e->ret = ret;
  e->err = err;
  e->text = xstrdup(buf);
  snapshot_queues(r);
  errno = err;
  return ret;
}

#define CALL(r, h, name, fd) (call_begin(r, h, name, fd), (r)->nraw - 1)

int lab_socket(struct lab_run *r, int h)
{
  size_t i = CALL(r, h, "socket", -1);
  int fd = ustcp_socket(r->host[h].s, AF_INET, SOCK_STREAM, 0);
  return (int)call_end(r, i, fd, "socket(AF_INET, SOCK_STREAM)");
}

int lab_listener(struct lab_run *r, int h, uint16_t port, int backlog)
{
  int fd = lab_socket(r, h);
  if (fd < 0)
    return -1;
  struct sockaddr_in a = {
      .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(r->host[h].addr)};
  size_t i = CALL(r, h, "bind", fd);
  int rc = ustcp_bind(r->host[h].s, fd, (struct sockaddr *)&a, sizeof(a));
  call_end(r, i, rc, "bind(%d, %s:%u)", fd, r->host[h].addr_str, port);
  if (rc < 0)
    return -1;
  i = CALL(r, h, "listen", fd);
  rc = ustcp_listen(r->host[h].s, fd, backlog);
  call_end(r, i, rc, "listen(%d, backlog=%d)", fd, backlog);
  return rc < 0 ? -1 : fd;
}

int lab_connect(struct lab_run *r, int h, int fd, int to, uint16_t port)
{
  struct sockaddr_in a = {
      .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(r->host[to].addr)};
  size_t i = CALL(r, h, "connect", fd);
  int rc = ustcp_connect(r->host[h].s, fd, (struct sockaddr *)&a, sizeof(a));
  struct sockaddr_in me = {0};
  socklen_t ml = sizeof(me);
  char local[32] = "";
  if (ustcp_getsockname(r->host[h].s, fd, (struct sockaddr *)&me, &ml) == 0 && me.sin_port)
    snprintf(local, sizeof(local), " [local port %u]", ntohs(me.sin_port));
  return (int)call_end(r, i, rc, "connect(%d, %s:%u)%s", fd, r->host[to].addr_str, port, local);
}

int lab_nonblock(struct lab_run *r, int h, int fd)
{
  size_t i = CALL(r, h, "fcntl", fd);
  int fl = ustcp_fcntl(r->host[h].s, fd, F_GETFL, 0);
  int rc = fl < 0 ? fl : ustcp_fcntl(r->host[h].s, fd, F_SETFL, fl | O_NONBLOCK);
  return (int)call_end(r, i, rc, "fcntl(%d, F_SETFL, O_NONBLOCK)", fd);
}

int lab_accept(struct lab_run *r, int h, int fd)
{
  struct sockaddr_in a = {0};
  socklen_t al = sizeof(a);
  size_t i = CALL(r, h, "accept", fd);
  int rc = ustcp_accept(r->host[h].s, fd, (struct sockaddr *)&a, &al);
  if (rc >= 0)
    return (int)call_end(r, i, rc, "accept(%d) [peer port %u]", fd, ntohs(a.sin_port));
  return (int)call_end(r, i, rc, "accept(%d)", fd);
}

ssize_t lab_send(struct lab_run *r, int h, int fd, const void *buf, size_t len)
{
  size_t i = CALL(r, h, "send", fd);
  ssize_t n = ustcp_send(r->host[h].s, fd, buf, len, 0);
  if (len <= 16)
    return call_end(r, i, n, "send(%d, \"%.*s\", %zu)", fd, (int)len, (const char *)buf, len);
  return call_end(r, i, n, "send(%d, %zu bytes)", fd, len);
}

ssize_t lab_send_n(struct lab_run *r, int h, int fd, size_t len, char fill)
{
  char *b = malloc(len ? len : 1);
  if (!b) {
    perror("ustcp lab");
    exit(1);
  }
  memset(b, fill, len);
  ssize_t n = lab_send(r, h, fd, b, len);
  int err = errno;
  free(b);
  errno = err;
  return n;
}

ssize_t lab_recv(struct lab_run *r, int h, int fd, size_t max, int flags)
{
  char *b = malloc(max ? max : 1);
  if (!b) {
    perror("ustcp lab");
    exit(1);
  }
  size_t i = CALL(r, h, "recv", fd);
  ssize_t n = ustcp_recv(r->host[h].s, fd, b, max, flags);
  const char *fl = (flags & MSG_DONTWAIT) ? ", MSG_DONTWAIT" : "";
  if (n > 0 && n <= 16) {
    char shown[17];
    for (ssize_t k = 0; k < n; k++)
      shown[k] = (b[k] >= 32 && b[k] < 127) ? b[k] : '.';
    shown[n] = 0;
    n = call_end(r, i, n, "recv(%d, %zu%s) \"%s\"", fd, max, fl, shown);
  } else if (n == 0) {
    n = call_end(r, i, n, "recv(%d, %zu%s) [EOF]", fd, max, fl);
  } else {
    n = call_end(r, i, n, "recv(%d, %zu%s)", fd, max, fl);
  }
  int err = errno;
  free(b);
  errno = err;
  return n;
}

int lab_close(struct lab_run *r, int h, int fd)
{
  size_t i = CALL(r, h, "close", fd);
  int rc = ustcp_close(r->host[h].s, fd);
  return (int)call_end(r, i, rc, "close(%d)", fd);
}

int lab_shutdown(struct lab_run *r, int h, int fd, int how)
{
  static const char *const hows[] = {"SHUT_RD", "SHUT_WR", "SHUT_RDWR"};
  size_t i = CALL(r, h, "shutdown", fd);
  int rc = ustcp_shutdown(r->host[h].s, fd, how);
  return (int)call_end(r, i, rc, "shutdown(%d, %s)", fd, how >= 0 && how <= 2 ? hows[how] : "?");
}

int lab_dup(struct lab_run *r, int h, int fd)
{
  size_t i = CALL(r, h, "dup", fd);
  int rc = ustcp_dup(r->host[h].s, fd);
  return (int)call_end(r, i, rc, "dup(%d)", fd);
}

int lab_linger(struct lab_run *r, int h, int fd, int on, int secs)
{
  struct linger l = {.l_onoff = on, .l_linger = secs};
  size_t i = CALL(r, h, "setsockopt", fd);
  int rc = ustcp_setsockopt(r->host[h].s, fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
  return (int)call_end(r, i, rc, "setsockopt(%d, SO_LINGER, {on=%d, linger=%d s})", fd, on, secs);
}

int lab_setint(struct lab_run *r, int h, int fd, int level, int name, const char *optname, int val)
{
  size_t i = CALL(r, h, "setsockopt", fd);
  int rc = ustcp_setsockopt(r->host[h].s, fd, level, name, &val, sizeof(val));
  return (int)call_end(r, i, rc, "setsockopt(%d, %s, %d)", fd, optname, val);
}

uint16_t lab_port(struct lab_run *r, int h, int fd, bool peer)
{
  struct sockaddr_in a = {0};
  socklen_t l = sizeof(a);
  int rc = peer ? ustcp_getpeername(r->host[h].s, fd, (struct sockaddr *)&a, &l)
                : ustcp_getsockname(r->host[h].s, fd, (struct sockaddr *)&a, &l);
  return rc == 0 ? ntohs(a.sin_port) : 0;
}

int lab_sock_state(struct lab_run *r, int h, int fd)
{
  int st = ustcp_sock_state(r->host[h].s, fd);
  if (st >= 0)
    lab_note(r, h, "fd %d is in state %s", fd, ustcp_tcp_state_name(st));
  return st;
}

/* --------------------------------------------------------------- cooking */

static void decode(struct lab_seg *g, const uint8_t *pkt, size_t len)
{
  memset(g, 0, sizeof(*g));
  struct us_ipv4_hdr ip;
  if (!pkt || us_ipv4_parse(pkt, len, &ip) != 0)
    return;
  g->ip_ok = true;
  g->src = ip.src;
  g->dst = ip.dst;
  const uint8_t *p = pkt + ip.hdr_len;
  size_t n = ip.total_len - ip.hdr_len;
  if (ip.proto == US_IPPROTO_TCP) {
    struct us_tcp_hdr th;
    int rc = us_tcp_parse(p, n, ip.src, ip.dst, true, &th);
    g->csum_ok = rc == 0;
    if (rc == USTCP_STAT_DROP_TCP_CSUM)
      rc = us_tcp_parse(p, n, ip.src, ip.dst, false, &th);
    if (rc != 0)
      return;
    g->tcp = true;
    g->sport = th.sport;
    g->dport = th.dport;
    g->seq = th.seq;
    g->ack = th.ack;
    g->flags = th.flags;
    g->win = th.win;
    g->plen = (uint32_t)(n - th.hdr_len);
    g->opt = th.opt;
  } else if (ip.proto == US_IPPROTO_ICMP) {
    struct us_icmp_hdr ih;
    if (us_icmp_parse(p, n, &ih) == 0) {
      g->icmp = true;
      g->csum_ok = true;
      g->icmp_type = ih.type;
      g->icmp_code = ih.code;
    }
  }
}

static int host_of_addr(const struct lab_run *r, uint32_t a)
{
  for (int i = 0; i < r->nhosts; i++)
    if (r->host[i].addr == a)
      return i;
  return -1;
}

static bool same_bytes(const struct lab_ev *a, const struct lab_ev *b)
{
  return a->len == b->len && a->pkt && b->pkt && memcmp(a->pkt, b->pkt, a->len) == 0;
}

/* Relative sequence numbers and connection numbers: one flow per direction. */
struct flow {
  uint32_t src, dst;
  uint16_t sport, dport;
  uint32_t isn;
  bool have_isn;
  int conn;
};

static size_t flow_get(struct flow **fv, size_t *nf, size_t *cap, uint32_t src, uint16_t sport,
                       uint32_t dst, uint16_t dport)
{
  for (size_t i = 0; i < *nf; i++) {
    struct flow *f = &(*fv)[i];
    if (f->src == src && f->dst == dst && f->sport == sport && f->dport == dport)
      return i;
  }
  if (*nf == *cap) {
    *cap = *cap ? *cap * 2 : 16;
    struct flow *v = realloc(*fv, *cap * sizeof(*v));
    if (!v) {
      perror("ustcp lab");
      exit(1);
    }
    *fv = v;
  }
  struct flow *f = &(*fv)[*nf];
  memset(f, 0, sizeof(*f));
  f->src = src;
  f->dst = dst;
  f->sport = sport;
  f->dport = dport;
  return (*nf)++;
}

/* Wireshark's rules, simplified: a SYN without ACK whose sequence number is
 * new starts a new connection (same 4-tuple reused after TIME_WAIT, say);
 * sequence numbers are shown relative to the ISN of their direction, or to
 * the first one seen when the SYN was not seen. */
static void number_flows(struct lab_run *r)
{
  struct flow *fv = NULL;
  size_t nf = 0, cap = 0;
  for (size_t i = 0; i < r->nev; i++) {
    struct lab_ev *e = &r->ev[i];
    if ((e->kind != LAB_PKT && e->kind != LAB_RECV && e->kind != LAB_DROP) || !e->seg.tcp)
      continue;
    struct lab_seg *g = &e->seg;
    size_t fi = flow_get(&fv, &nf, &cap, g->src, g->sport, g->dst, g->dport);
    size_t bi = flow_get(&fv, &nf, &cap, g->dst, g->dport, g->src, g->sport);
    struct flow *f = &fv[fi], *b = &fv[bi];
    bool syn = g->flags & US_TCP_SYN, ack = g->flags & US_TCP_ACK;
    if (syn && !ack && (!f->have_isn || f->isn != g->seq || !f->conn)) {
      f->conn = b->conn = ++r->nconns;
      b->have_isn = false;
      f->isn = g->seq;
      f->have_isn = true;
    } else if (syn && (!f->have_isn || f->isn != g->seq)) {
      f->isn = g->seq;
      f->have_isn = true;
    }
    if (!f->conn)
      f->conn = b->conn ? b->conn : ++r->nconns;
    if (!b->conn)
      b->conn = f->conn;
    if (!f->have_isn) {
      f->isn = g->seq;
      f->have_isn = true;
    }
    g->conn = f->conn;
    g->rseq = g->seq - f->isn;
    g->rel_ok = true;
    g->rack_ok = b->have_isn;
    g->rack = b->have_isn ? g->ack - b->isn : g->ack;
  }
  free(fv);
}

static struct lab_ev *push_ev(struct lab_run *r, const struct lab_ev *src)
{
  if (r->nev == r->capev) {
    size_t cap = r->capev ? r->capev * 2 : 256;
    struct lab_ev *v = realloc(r->ev, cap * sizeof(*v));
    if (!v) {
      perror("ustcp lab");
      exit(1);
    }
    r->ev = v;
    r->capev = cap;
  }
  r->ev[r->nev] = *src;
  return &r->ev[r->nev++];
}

/*
 * Pair every PKT_OUT with what became of it: the first later PKT_IN with the
 * same bytes at the addressed host (arrived; a DROP there right after it
 * means the stack dropped it), or a DROP with the same bytes at the
 * addressed host without PKT_IN (dropped), or a DROP/NOTE with the same
 * bytes reported for the sending host (the link lost it).
 */
static void cook(struct lab_run *r)
{
  for (size_t i = 0; i < r->nraw; i++) {
    struct lab_ev *e = &r->raw[i];
    if (e->kind == LAB_PKT)
      decode(&e->seg, e->pkt, e->len);
  }
  for (size_t i = 0; i < r->nraw; i++) {
    struct lab_ev *e = &r->raw[i];
    if (e->kind != LAB_PKT || e->matched)
      continue;
    int tk = e->old_state;
    if (tk == USTCP_TR_PKT_OUT) {
      int to = e->seg.ip_ok ? host_of_addr(r, e->seg.dst) : -1;
      e->peer = to;
      for (size_t j = i + 1; j < r->nraw; j++) {
        struct lab_ev *x = &r->raw[j];
        if (x->kind != LAB_PKT || x->matched || !same_bytes(e, x))
          continue;
        if (x->old_state == USTCP_TR_PKT_IN && x->host == to && to >= 0) {
          x->matched = true;
          e->fate = LAB_ARRIVED;
          e->t_end = x->t;
          /* A drop by the receiver of the same bytes right after it. */
          for (size_t k = j + 1; k < r->nraw; k++) {
            struct lab_ev *d = &r->raw[k];
            if (d->t != x->t)
              break;
            if (d->kind == LAB_PKT && d->old_state == USTCP_TR_DROP && !d->matched &&
                d->host == to && same_bytes(e, d)) {
              d->matched = true;
              e->fate = LAB_DROPPED;
              e->stat = d->stat;
              break;
            }
          }
          break;
        }
        if (x->old_state == USTCP_TR_DROP && x->host == to && to >= 0 && to != e->host) {
          x->matched = true;
          e->fate = LAB_DROPPED;
          e->stat = x->stat;
          e->t_end = x->t;
          break;
        }
        if (x->old_state == USTCP_TR_DROP && x->host == e->host) {
          x->matched = true;
          e->fate = LAB_LOST;
          e->stat = x->stat;
          /* drawn as lost half way */
          e->t_end = x->t > e->t ? x->t : e->t + r->latency / 2;
          if (x->text && !e->text)
            e->text = xstrdup(x->text);
          break;
        }
      }
      if (e->fate == LAB_UNKNOWN && to >= 0 && to != e->host) {
        /* No arrival traced and no loss reported: the sim delivers every
         * datagram it does not report lost, one latency later. */
        e->fate = LAB_ARRIVED;
        e->t_end = e->t + r->latency;
      } else if (e->fate == LAB_UNKNOWN) {
        e->t_end = e->t + r->latency;
      }
    }
  }
  /* Display list in time order (raw order is time order). newpos maps a raw
   * index to the cooked index of the first event kept at or after it. */
  size_t *newpos = calloc(r->nraw + 1, sizeof(size_t));
  if (!newpos) {
    perror("ustcp lab");
    exit(1);
  }
  for (size_t i = 0; i < r->nraw; i++) {
    struct lab_ev *e = &r->raw[i];
    newpos[i] = r->nev;
    if (e->kind == LAB_PKT) {
      if (e->old_state == USTCP_TR_PKT_OUT) {
        push_ev(r, e);
      } else if (!e->matched) {
        struct lab_ev *n = push_ev(r, e);
        n->kind = e->old_state == USTCP_TR_DROP ? LAB_DROP : LAB_RECV;
        n->peer = e->host;
        n->host = e->seg.ip_ok ? host_of_addr(r, e->seg.src) : -1;
        if (n->host < 0)
          n->host = e->host;
      }
      continue;
    }
    push_ev(r, e);
  }
  newpos[r->nraw] = r->nev;
  for (size_t i = 0; i < r->nev; i++) {
    struct lab_ev *e = &r->ev[i];
    if (e->kind != LAB_STATE)
      e->old_state = 0;
    if (e->kind == LAB_CALL)
      e->ret_pos = newpos[e->ret_pos <= r->nraw ? e->ret_pos : r->nraw];
  }
  free(newpos);
  /* The raw copies now belong to r->ev (pointers were copied). */
  for (size_t i = 0; i < r->nraw; i++) {
    struct lab_ev *e = &r->raw[i];
    bool kept = !(e->kind == LAB_PKT && e->old_state != USTCP_TR_PKT_OUT && e->matched);
    if (!kept) {
      free(e->pkt);
      free(e->text);
    }
  }
  free(r->raw);
  r->raw = NULL;
  r->nraw = r->capraw = 0;
  number_flows(r);
}

/* ----------------------------------------------------------------- world */

static void add_host(struct lab_run *r, const char *name, const char *addr)
{
  struct lab_host *h = &r->host[r->nhosts];
  struct ustcp_config cfg;
  ustcp_config_init(&cfg);
  if (r->sc->config)
    r->sc->config(r->nhosts, &cfg);
  h->id = ustcp_sim_add_host(r->sim, name, addr, &cfg);
  if (h->id < 0) {
    r->setup_err = 1;
    return;
  }
  snprintf(h->name, sizeof(h->name), "%s", name);
  snprintf(h->addr_str, sizeof(h->addr_str), "%s", addr);
  struct in_addr a;
  inet_pton(AF_INET, addr, &a);
  h->addr = ntohl(a.s_addr);
  h->s = ustcp_sim_stack(r->sim, h->id);
  r->nhosts++;
}

int lab_execute(struct lab_run *r, const struct lab_scenario *sc, const char *pcap_path)
{
  memset(r, 0, sizeof(*r));
  r->sc = sc;
  r->dut = sc->dut;
  r->watch_fd = -1;
  r->pcap_path = pcap_path;
  r->latency = USTCP_MS(sc->latency_ms);
  r->sim = ustcp_sim_create(sc->seed);
  if (!r->sim)
    return -1;
  add_host(r, "client", "192.0.2.10");
  add_host(r, "server", "192.0.2.20");
  if (r->setup_err || r->nhosts != 2)
    return -1;
  struct ustcp_link_params p = {.latency = r->latency};
  r->link = ustcp_sim_link(r->sim, r->host[0].id, r->host[1].id, &p, &p);
  if (r->link < 0)
    return -1;
  r->link_up = true;
  ustcp_sim_set_trace(r->sim, on_trace, r);
  if (pcap_path && ustcp_sim_pcap_host(r->sim, r->host[r->dut].id, pcap_path) != 0) {
    fprintf(stderr, "ustcp lab: cannot write %s\n", pcap_path);
    return -1;
  }
  sc->run(r);
  /* Let whatever the scenario started finish (bounded). */
  cook(r);
  r->ok = sc->verdict(r, r->why, sizeof(r->why));
  return 0;
}

void lab_free(struct lab_run *r)
{
  for (size_t i = 0; i < r->nraw; i++) {
    free(r->raw[i].pkt);
    free(r->raw[i].text);
  }
  free(r->raw);
  for (size_t i = 0; i < r->nev; i++) {
    free(r->ev[i].pkt);
    free(r->ev[i].text);
  }
  free(r->ev);
  if (r->sim)
    ustcp_sim_destroy(r->sim);
  memset(r, 0, sizeof(*r));
}

/* --------------------------------------------------------------- queries */

const struct lab_ev *lab_call(const struct lab_run *r, int h, const char *name, int nth)
{
  for (size_t i = 0; i < r->nev; i++) {
    const struct lab_ev *e = &r->ev[i];
    if (e->kind == LAB_CALL && e->host == h && !strcmp(e->name, name) && nth-- == 0)
      return e;
  }
  return NULL;
}

static bool pkt_match(const struct lab_ev *e, int h, int conn, uint8_t set, uint8_t clear,
                      uint64_t t0, uint64_t t1)
{
  return e->kind == LAB_PKT && e->host == h && e->seg.tcp && (conn == 0 || e->seg.conn == conn) &&
         (e->seg.flags & set) == set && !(e->seg.flags & clear) && e->t >= t0 && e->t < t1;
}

int lab_count(const struct lab_run *r, int h, int conn, uint8_t set, uint8_t clear, uint64_t t0,
              uint64_t t1)
{
  int n = 0;
  for (size_t i = 0; i < r->nev; i++)
    n += pkt_match(&r->ev[i], h, conn, set, clear, t0, t1);
  return n;
}

const struct lab_ev *lab_first(const struct lab_run *r, int h, int conn, uint8_t set, uint8_t clear,
                               uint64_t t0, uint64_t t1)
{
  for (size_t i = 0; i < r->nev; i++)
    if (pkt_match(&r->ev[i], h, conn, set, clear, t0, t1))
      return &r->ev[i];
  return NULL;
}

const struct lab_ev *lab_state_at(const struct lab_run *r, int h, int state, uint64_t t0)
{
  for (size_t i = 0; i < r->nev; i++) {
    const struct lab_ev *e = &r->ev[i];
    if (e->kind == LAB_STATE && e->host == h && e->new_state == state && e->t >= t0)
      return e;
  }
  return NULL;
}

int lab_conn_of_port(const struct lab_run *r, uint16_t port)
{
  for (size_t i = 0; i < r->nev; i++) {
    const struct lab_ev *e = &r->ev[i];
    if (e->kind == LAB_PKT && e->seg.tcp && port != LAB_PORT &&
        (e->seg.sport == port || e->seg.dport == port))
      return e->seg.conn;
  }
  return 0;
}

unsigned lab_max_syn(const struct lab_run *r)
{
  unsigned m = 0;
  for (size_t i = 0; i < r->nev; i++)
    if (r->ev[i].kind == LAB_QUEUE && r->ev[i].q_syn > m)
      m = r->ev[i].q_syn;
  return m;
}

unsigned lab_max_acc(const struct lab_run *r)
{
  unsigned m = 0;
  for (size_t i = 0; i < r->nev; i++)
    if (r->ev[i].kind == LAB_QUEUE && r->ev[i].q_acc > m)
      m = r->ev[i].q_acc;
  return m;
}

uint64_t lab_stat(const struct lab_run *r, int h, enum ustcp_stat id)
{
  return ustcp_stat(r->host[h].s, id);
}

const struct lab_ev *lab_key(const struct lab_ev *e)
{
  if (e)
    ((struct lab_ev *)e)->key = true; /* the cooked list is the run's own */
  return e;
}

void lab_conn_legend(const struct lab_run *r, char *buf, size_t n)
{
  size_t k = 0;
  buf[0] = 0;
  for (int c = 1; c <= r->nconns; c++) {
    for (size_t i = 0; i < r->nev; i++) {
      const struct lab_ev *e = &r->ev[i];
      if (e->kind != LAB_PKT || !e->seg.tcp || e->seg.conn != c)
        continue;
      /* Named from the side that opened it (the first SYN), else as seen. */
      int from = e->host, to = e->peer;
      uint16_t fp = e->seg.sport, tp = e->seg.dport;
      if ((e->seg.flags & (US_TCP_SYN | US_TCP_ACK)) == (US_TCP_SYN | US_TCP_ACK)) {
        from = e->peer;
        to = e->host;
        fp = e->seg.dport;
        tp = e->seg.sport;
      }
      int w =
          snprintf(buf + k, n - k, "%sc%d %s:%u -> %s:%u", k ? ", " : "", c,
                   from >= 0 ? r->host[from].name : "?", fp, to >= 0 ? r->host[to].name : "?", tp);
      if (w > 0 && (size_t)w < n - k)
        k += (size_t)w;
      break;
    }
  }
}
