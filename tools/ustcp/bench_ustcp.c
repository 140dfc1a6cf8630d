/*
 * bench_ustcp.c - the ustcp side of `ustcp bench`: stacks in one process,
 * one thread, joined by an in-process "star" link (no delay, no loss, no
 * bandwidth limit), driven in real CLOCK_MONOTONIC time.
 *
 * Stack 0 is the server (10.0.0.1); stacks 1..K are clients (10.1.x.y). A
 * datagram a stack sends is copied into that stack's outbound FIFO (the
 * "wire"; the packet handed to output() is only borrowed) and delivered by
 * pump() to the destination stack's ustcp_input(), so no stack is ever
 * re-entered from inside its own output. bulk, crr and rr use one client;
 * conns uses one client stack per 25000 connections, each connecting to its
 * own server port, so the server stack alone holds all N.
 *
 * The applications are non-blocking state machines (no link wait callback):
 * each step tries its call and, on EAGAIN, pumps the link and runs due
 * timers until it can go on, as an event loop over the stack would.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "ustcp/socket.h"
#include "ustcp/ustcp.h"

#define SERVER_PORT 5001
#define CONNS_PER_CLIENT 25000
#define STALL_SECS 5.0

/* ------------------------------------------------------------ the wire */

/* Packets one stack sent, waiting for delivery: [u32 len][bytes], 8-aligned. */
struct wire_q {
  uint8_t *buf;
  size_t len, cap;
};

struct world;
struct node {
  struct world *w;
  int idx;
  struct ustcp_stack *s;
  struct wire_q out;  /* sent, not yet delivered */
  struct wire_q walk; /* being delivered by pump(), from walk_off on */
  size_t walk_off;
  int busy;   /* inside one of this stack's calls: never re-enter it */
  int listed; /* in the world's list of nodes with queued datagrams */
};

struct world {
  int n; /* nodes: 0 server, 1..n-1 clients */
  struct node *nodes;
  uint64_t delivered, queued;
  int direct;              /* deliver without a copy when safe (default) */
  int exact_clock;         /* read the clock at every now() call */
  ustcp_time_t now;        /* the cached clock */
  ustcp_time_t timer_scan; /* next time pump() asks every stack for its deadline */
  int *ready, nready;      /* nodes with queued datagrams (pump cost O(active)) */
  int oom;
  char err[160];
};

static ustcp_time_t mono_ns(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (ustcp_time_t)ts.tv_sec * 1000000000ull + (ustcp_time_t)ts.tv_nsec;
}

/* The stacks' clock: CLOCK_MONOTONIC read once per turn of the event loop
 * (pump) and cached, as an event loop caches its time (libuv's
 * uv_update_time; Linux caches tcp_mstamp per batch); the stacks call now()
 * at every entry point, and a clock read costs ~27 ns here.
 * USTCP_BENCH_EXACT_CLOCK=1 reads the clock on every call instead. */
static ustcp_time_t link_now(void *user)
{
  struct node *nd = user;
  return nd->w->exact_clock ? mono_ns() : nd->w->now;
}

/* Room for one datagram of len bytes at the end of the node's FIFO (the
 * record's length written); NULL when out of memory. */
static uint8_t *queue_reserve(struct node *nd, size_t len)
{
  struct wire_q *q = &nd->out;
  size_t need = (4 + len + 7) & ~(size_t)7;
  if (q->len + need > q->cap) {
    size_t ncap = q->cap ? q->cap * 2 : 1 << 20;
    while (ncap < q->len + need)
      ncap *= 2;
    uint8_t *nb = realloc(q->buf, ncap);
    if (!nb) {
      nd->w->oom = 1;
      return NULL;
    }
    q->buf = nb;
    q->cap = ncap;
  }
  if (!nd->listed) {
    nd->listed = 1;
    nd->w->ready[nd->w->nready++] = nd->idx;
  }
  uint32_t l = (uint32_t)len;
  uint8_t *rec = q->buf + q->len;
  memcpy(rec, &l, 4);
  q->len += need;
  return rec + 4;
}

static int queue_packet(struct node *nd, const uint8_t *pkt, size_t len)
{
  uint8_t *p = queue_reserve(nd, len);
  if (!p)
    return -ENOMEM;
  memcpy(p, pkt, len);
  return 0;
}

/* queue_packet for a datagram in pieces: one copy into the FIFO. */
static int queue_packet_v(struct node *nd, const struct iovec *iov, int iovcnt, size_t len)
{
  uint8_t *p = queue_reserve(nd, len);
  if (!p)
    return -ENOMEM;
  for (int i = 0; i < iovcnt; i++) {
    memcpy(p, iov[i].iov_base, iov[i].iov_len);
    p += iov[i].iov_len;
  }
  return 0;
}

static struct node *route(struct world *w, const uint8_t *pkt, size_t len);

/* Hand one datagram to its destination stack now; `to` is marked busy (and
 * so is `from` when it is the one running, inside its output) so that
 * nothing the destination sends re-enters a running stack. */
static void deliver_v(struct node *from, int from_running, struct node *to, const struct iovec *iov,
                      int iovcnt)
{
  int fb = from->busy;
  if (from_running)
    from->busy = 1;
  to->busy = 1;
  if (iovcnt == 1)
    ustcp_input(to->s, iov[0].iov_base, iov[0].iov_len);
  else
    ustcp_input_v(to->s, iov, iovcnt);
  to->busy = 0;
  from->busy = fb;
  from->w->delivered++;
}

static void deliver(struct node *from, int from_running, struct node *to, const uint8_t *pkt,
                    size_t len)
{
  struct iovec v = {.iov_base = (void *)pkt, .iov_len = len};
  deliver_v(from, from_running, to, &v, 1);
}

static bool pending(const struct node *nd)
{
  return nd->out.len != 0 || nd->walk_off < nd->walk.len;
}

/* True when the datagram is a TCP segment with payload (a "data" datagram);
 * pure ACKs and other control segments are not. */
static bool carries_data(const uint8_t *pkt, size_t len)
{
  if (len < 40 || pkt[9] != 6 /* TCP */)
    return false;
  size_t ihl = (size_t)(pkt[0] & 0x0f) * 4;
  size_t tot = (size_t)pkt[2] << 8 | pkt[3];
  if (tot > len || ihl + 20 > tot)
    return false;
  size_t doff = (size_t)(pkt[ihl + 12] >> 4) * 4;
  return tot > ihl + doff;
}

/* The link's output. A loopback device hands a packet over without copying
 * it; so does this link for every segment with data in it whenever that is
 * safe: the destination is not running (no re-entry) and nothing this
 * stack sent earlier is still undelivered (FIFO). Otherwise, and for
 * segments without payload such as ACKs, the datagram is copied into the
 * sender's queue and delivered by pump() - which lets the stack that sent
 * the ACK be idle, and so reachable without a copy, when the data it asked
 * for comes back. (Deciding by payload, not by size: the short tail of a
 * 64 KiB write - 53 bytes after a full 65483-byte segment - must not be
 * queued, or every segment behind it is copied too, to keep FIFO order.) */
static int link_output(void *user, const uint8_t *pkt, size_t len)
{
  struct node *nd = user;
  struct node *to = route(nd->w, pkt, len);
  if (!to || to == nd)
    return 0; /* nowhere to go: lost, as on a wire */
  if (!to->busy && !pending(nd) && nd->w->direct && carries_data(pkt, len)) {
    deliver(nd, 1, to, pkt, len);
    return 0;
  }
  nd->w->queued++;
  return queue_packet(nd, pkt, len);
}

/* Gather output (the stack's output_v): headers in iov[0], the payload as
 * slices of the sender's send queue. Handed to the destination's
 * ustcp_input_v as is when that is safe (the receiver copies the slices
 * into its receive queue: one copy sender -> receiver, as loopback's
 * skb hand-over), else copied once into the FIFO. */
static int link_output_v(void *user, const struct iovec *iov, int iovcnt, size_t len)
{
  struct node *nd = user;
  if (iovcnt < 1 || iov[0].iov_len < 40)
    return -EINVAL; /* the stack always puts the whole headers in iov[0] */
  struct node *to = route(nd->w, iov[0].iov_base, iov[0].iov_len);
  if (!to || to == nd)
    return 0;
  if (!to->busy && !pending(nd) && nd->w->direct) {
    deliver_v(nd, 1, to, iov, iovcnt);
    return 0;
  }
  nd->w->queued++;
  return queue_packet_v(nd, iov, iovcnt, len);
}

static const struct ustcp_link_ops bench_link = {
    .output = link_output,
    .now = link_now,
    .wait = NULL,
    .output_v = link_output_v,
};

/* USTCP_BENCH_NO_GATHER=1: the stacks build every datagram in one piece. */
static const struct ustcp_link_ops bench_link_linear = {
    .output = link_output,
    .now = link_now,
    .wait = NULL,
};

static uint32_t client_addr(int i) { return (10u << 24) | (1u << 16) | (uint32_t)i; }
static const uint32_t server_addr = (10u << 24) | 1u; /* 10.0.0.1 */

static struct node *route(struct world *w, const uint8_t *pkt, size_t len)
{
  if (len < 20)
    return NULL;
  uint32_t dst =
      (uint32_t)pkt[16] << 24 | (uint32_t)pkt[17] << 16 | (uint32_t)pkt[18] << 8 | pkt[19];
  if (dst == server_addr)
    return &w->nodes[0];
  uint32_t i = dst - client_addr(0);
  if ((dst >> 16) == (client_addr(0) >> 16) && i >= 1 && i < (uint32_t)w->n)
    return &w->nodes[i];
  return NULL;
}

/* Deliver everything queued, and what that provokes, until the wire is
 * empty; then run the timers that are due. Returns datagrams delivered. */
/* Timers need not be looked at on every turn: a stack's timers are due at
 * the earliest 40 ms (delayed ACK) or 200 ms (RTO) out, so asking every
 * stack for its deadline each 50 us keeps pump() O(active nodes) even with
 * 41 stacks (conns at 1M) without delaying any timer noticeably. */
#define TIMER_SCAN_NS 50000

/* Deliver everything queued, and what that provokes, until the wire is
 * empty; then run the timers that are due. Returns datagrams delivered. */
static uint64_t pump(struct world *w)
{
  uint64_t before = w->delivered;
  w->now = mono_ns();
  for (;;) {
    while (w->nready) {
      struct node *nd = &w->nodes[w->ready[--w->nready]];
      nd->listed = 0;
      if (!nd->out.len)
        continue;
      /* Take the queue: whatever the stacks send while we deliver it goes
       * to a fresh one, behind it (and lists the node again). */
      struct wire_q t = nd->walk;
      nd->walk = nd->out;
      nd->out = t;
      nd->out.len = 0;
      nd->walk_off = 0;
      while (nd->walk_off < nd->walk.len) {
        uint32_t l;
        const uint8_t *rec = nd->walk.buf + nd->walk_off;
        memcpy(&l, rec, 4);
        nd->walk_off += (4 + l + 7) & ~(size_t)7;
        struct node *to = route(w, rec + 4, l);
        if (to && to != nd)
          deliver(nd, 0, to, rec + 4, l);
      }
      nd->walk.len = 0;
      nd->walk_off = 0;
    }
    if (w->n == 2 || w->now >= w->timer_scan) {
      w->timer_scan = w->now + TIMER_SCAN_NS;
      for (int i = 0; i < w->n; i++)
        if (ustcp_next_deadline(w->nodes[i].s) <= w->now)
          ustcp_process(w->nodes[i].s);
    }
    if (!w->nready)
      break;
  }
  return w->delivered - before;
}

static void world_free(struct world *w)
{
  if (!w->nodes)
    return;
  for (int i = 0; i < w->n; i++) {
    if (w->nodes[i].s)
      ustcp_stack_destroy(w->nodes[i].s);
    free(w->nodes[i].out.buf);
    free(w->nodes[i].walk.buf);
  }
  free(w->nodes);
  free(w->ready);
  w->nodes = NULL;
  w->ready = NULL;
}

static int world_init(struct world *w, const struct bench_opts *o, int clients, int big)
{
  memset(w, 0, sizeof(*w));
  w->n = clients + 1;
  w->direct = !getenv("USTCP_BENCH_COPY");
  w->exact_clock = getenv("USTCP_BENCH_EXACT_CLOCK") != NULL;
  w->now = mono_ns();
  w->nodes = calloc((size_t)w->n, sizeof(*w->nodes));
  w->ready = calloc((size_t)w->n, sizeof(*w->ready));
  if (!w->nodes || !w->ready) {
    free(w->nodes);
    free(w->ready);
    return -ENOMEM;
  }
  for (int i = 0; i < w->n; i++) {
    struct node *nd = &w->nodes[i];
    struct ustcp_config cfg;
    ustcp_config_init(&cfg);
    nd->w = w;
    nd->idx = i;
    cfg.addr = htonl(i ? client_addr(i) : server_addr);
    cfg.prefix_len = 8;
    cfg.mtu = (uint16_t)o->mtu;
    cfg.seed = 0x5eed0000u + (uint64_t)i;
    /* Checksum offload both ways, as Linux loopback: received checksums are
     * not verified and sent ones are left partial (CHECKSUM_PARTIAL); this
     * link never completes them since no receiver looks at them. */
    cfg.csum_offload = o->csum_offload;
    cfg.tx_csum_offload = o->csum_offload;
    cfg.link = getenv("USTCP_BENCH_NO_GATHER") ? &bench_link_linear : &bench_link;
    cfg.link_user = nd;
    if (big) {
      cfg.max_sockets = 1 << 21;
      cfg.max_memory = 16ull << 30;
    }
    nd->s = ustcp_stack_create(&cfg, w->err, sizeof(w->err));
    if (!nd->s) {
      world_free(w);
      return -EINVAL;
    }
  }
  return 0;
}

/* ------------------------------------------------------- app helpers */

/* An operation returned EAGAIN: move the world on. Fails (returns 0) once
 * nothing has moved for STALL_SECS of real time. */
static int progress_or_stall(struct world *w, double *stall_start)
{
  if (pump(w)) {
    *stall_start = 0;
    return 1;
  }
  double now = bench_now();
  if (*stall_start == 0)
    *stall_start = now;
  return now - *stall_start < STALL_SECS;
}

/* Retry a non-blocking call while it says EAGAIN (or EINPROGRESS-like
 * "not yet"), moving the world between tries. */
#define RETRY(w, expr)                                                                             \
  ({                                                                                               \
    long rc_;                                                                                      \
    double st_ = 0;                                                                                \
    while ((rc_ = (long)(expr)) < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) &&                \
           progress_or_stall((w), &st_))                                                           \
      ;                                                                                            \
    rc_;                                                                                           \
  })

static void sin_of(struct sockaddr_in *a, uint32_t addr, uint16_t port)
{
  memset(a, 0, sizeof(*a));
  a->sin_family = AF_INET;
  a->sin_port = htons(port);
  a->sin_addr.s_addr = htonl(addr);
}

static void nodelay(struct ustcp_stack *s, int fd)
{
  int one = 1;
  ustcp_setsockopt(s, fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static int listener(struct ustcp_stack *s, uint16_t port, int backlog)
{
  struct sockaddr_in a;
  int fd = ustcp_socket(s, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (fd < 0)
    return -errno;
  int one = 1;
  ustcp_setsockopt(s, fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sin_of(&a, server_addr, port);
  if (ustcp_bind(s, fd, (struct sockaddr *)&a, sizeof(a)) || ustcp_listen(s, fd, backlog))
    return -errno;
  return fd;
}

/* Start a non-blocking connect; returns the fd (handshake in flight). */
static int start_connect(struct ustcp_stack *s, uint16_t port)
{
  struct sockaddr_in a;
  int fd = ustcp_socket(s, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (fd < 0)
    return -errno;
  nodelay(s, fd);
  sin_of(&a, server_addr, port);
  if (ustcp_connect(s, fd, (struct sockaddr *)&a, sizeof(a)) && errno != EINPROGRESS) {
    int e = -errno;
    ustcp_close(s, fd);
    return e;
  }
  return fd;
}

/* One established connection between node 1 (client) and node 0. */
static int one_conn(struct world *w, int lfd, int *cfd, int *sfd)
{
  struct ustcp_stack *srv = w->nodes[0].s, *cli = w->nodes[1].s;
  *cfd = start_connect(cli, SERVER_PORT);
  if (*cfd < 0)
    return *cfd;
  *sfd = (int)RETRY(w, ustcp_accept4(srv, lfd, NULL, NULL, SOCK_NONBLOCK));
  if (*sfd < 0)
    return -errno;
  nodelay(srv, *sfd);
  pump(w);
  return 0;
}

/* ---------------------------------------------------------------- bulk */

void bench_ustcp_bulk(const struct bench_opts *o, const void *arg, struct bench_res *r)
{
  (void)arg;
  struct world w;
  if (world_init(&w, o, 1, 0))
    return bench_fail(r, -EINVAL, "stack: %s", w.err);
  struct ustcp_stack *srv = w.nodes[0].s, *cli = w.nodes[1].s;
  size_t bsz = 1 << 16;
  uint8_t *wbuf = malloc(bsz), *rbuf = malloc(bsz);
  int lfd = listener(srv, SERVER_PORT, 16), cfd = -1, sfd = -1;
  if (!wbuf || !rbuf || lfd < 0 || one_conn(&w, lfd, &cfd, &sfd)) {
    bench_fail(r, -EIO, "setup failed: %s", strerror(errno));
    goto out;
  }
  memset(wbuf, 'x', bsz);
  uint64_t total = o->bulk_bytes, sent = 0, got = 0;
  size_t off = 0; /* how much of the current 64 KiB write went in */
  double t0 = bench_now(), stall = 0;
  int shut = 0;
  /* One 64 KiB write per turn of the loop, then the reader takes what
   * arrived: an event loop serving each ready socket once per turn (and
   * what the Linux side gets from the scheduler, which runs the reader as
   * soon as data is queued for it). Filling the whole send buffer first
   * (USTCP_BENCH_FILL=1, the driver's old loop) leaves megabytes in the
   * queues, read back after they have left the caches. */
  int fill = getenv("USTCP_BENCH_FILL") != NULL;
  while (got < total) {
    int moved = 0;
    while (sent < total) {
      size_t want = bsz - off;
      if (want > total - sent)
        want = (size_t)(total - sent);
      ssize_t n = ustcp_write(cli, cfd, wbuf + off, want);
      if (n <= 0)
        break;
      sent += (uint64_t)n;
      off = (off + (size_t)n) % bsz;
      moved = 1;
      if (!fill)
        break;
    }
    if (sent == total && !shut) {
      ustcp_shutdown(cli, cfd, SHUT_WR);
      shut = 1;
    }
    if (pump(&w))
      moved = 1;
    for (;;) {
      ssize_t n = ustcp_read(srv, sfd, rbuf, bsz);
      if (n <= 0)
        break;
      got += (uint64_t)n;
      moved = 1;
    }
    if (moved) {
      stall = 0;
    } else if (!progress_or_stall(&w, &stall)) {
      bench_fail(r, -ETIMEDOUT, "bulk stalled at %llu of %llu bytes received",
                 (unsigned long long)got, (unsigned long long)total);
      goto out;
    }
  }
  double t1 = bench_now();
  r->nv = 1;
  r->v[0] = (double)got * 8 / (t1 - t0) / 1e9;
out:
  free(wbuf);
  free(rbuf);
  world_free(&w);
}

/* ---------------------------------------------------------------- crr */

/* n connections one after another: connect, 64 B each way, client closes
 * first (as netperf TCP_CRR), server reads EOF and closes. */
static int crr_run(struct world *w, int lfd, int n, struct bench_res *r)
{
  struct ustcp_stack *srv = w->nodes[0].s, *cli = w->nodes[1].s;
  char req[64], resp[64], buf[64];
  memset(req, 'q', sizeof(req));
  memset(resp, 'r', sizeof(resp));
  for (int i = 0; i < n; i++) {
    int c = start_connect(cli, SERVER_PORT);
    if (c < 0) {
      bench_fail(r, c, "connect #%d: %s", i, strerror(-c));
      return -1;
    }
    pump(w);
    int a = (int)RETRY(w, ustcp_accept4(srv, lfd, NULL, NULL, SOCK_NONBLOCK));
    if (a < 0) {
      bench_fail(r, -errno, "accept #%d: %s", i, strerror(errno));
      return -1;
    }
    nodelay(srv, a);
    long k = RETRY(w, ustcp_write(cli, c, req, sizeof(req)));
    pump(w);
    if (k == (long)sizeof(req))
      k = RETRY(w, ustcp_read(srv, a, buf, sizeof(buf)));
    if (k == (long)sizeof(req))
      k = RETRY(w, ustcp_write(srv, a, resp, sizeof(resp)));
    pump(w);
    if (k == (long)sizeof(resp))
      k = RETRY(w, ustcp_read(cli, c, buf, sizeof(buf)));
    if (k != (long)sizeof(resp)) {
      bench_fail(r, -EIO, "exchange #%d: %ld (%s)", i, k, strerror(errno));
      return -1;
    }
    ustcp_close(cli, c);
    pump(w);
    k = RETRY(w, ustcp_read(srv, a, buf, sizeof(buf)));
    ustcp_close(srv, a);
    pump(w);
    if (k != 0) {
      bench_fail(r, -EIO, "EOF #%d: %ld (%s)", i, k, strerror(errno));
      return -1;
    }
  }
  return 0;
}

static void crr_measure(const struct bench_opts *o, int n, struct bench_res *r)
{
  struct world w;
  if (world_init(&w, o, 1, 0))
    return bench_fail(r, -EINVAL, "stack: %s", w.err);
  int lfd = listener(w.nodes[0].s, SERVER_PORT, 128);
  if (lfd < 0) {
    world_free(&w);
    return bench_fail(r, lfd, "listen: %s", strerror(-lfd));
  }
  double t0 = bench_now();
  if (!crr_run(&w, lfd, n, r)) {
    r->nv = 1;
    r->v[0] = n / (bench_now() - t0);
  }
  world_free(&w);
}

void bench_ustcp_crr(const struct bench_opts *o, const void *arg, struct bench_res *r)
{
  (void)arg;
  crr_measure(o, o->crr_conns, r);
}

/* `ustcp bench _ustcp WORKLOAD SIZE`: one in-process run, no fork, for
 * valgrind and perf. SIZE: crr connections, bulk bytes, rr seconds, conns N. */
int bench_ustcp_raw(int argc, char **argv)
{
  struct bench_opts o;
  struct bench_res r;
  memset(&o, 0, sizeof(o));
  memset(&r, 0, sizeof(r));
  o.runs = 1;
  o.mtu = getenv("USTCP_BENCH_MTU") ? atoi(getenv("USTCP_BENCH_MTU")) : 65535;
  o.csum_offload = !getenv("USTCP_BENCH_NO_OFFLOAD");
  o.conns_rr_secs = getenv("USTCP_BENCH_CONNS_SECS") ? atof(getenv("USTCP_BENCH_CONNS_SECS")) : 0.3;
  o.verbose = 1;
  double size = argc >= 3 ? atof(argv[2]) : 0;
  if (argc < 3 || size <= 0 || o.mtu < 576 || o.mtu > 65535) {
    fprintf(stderr, "usage: ustcp bench _ustcp crr|bulk|rr|conns SIZE\n");
    return 2;
  }
  const char *what = argv[1], *unit = "";
  if (!strcmp(what, "crr")) {
    crr_measure(&o, (int)size, &r);
    unit = "conn/s";
  } else if (!strcmp(what, "bulk")) {
    o.bulk_bytes = (uint64_t)size;
    bench_ustcp_bulk(&o, NULL, &r);
    unit = "Gbit/s";
  } else if (!strcmp(what, "rr")) {
    o.rr_secs = size;
    bench_ustcp_rr(&o, NULL, &r);
    unit = "rt/s";
  } else if (!strcmp(what, "conns")) {
    int n = (int)size;
    bench_ustcp_conns(&o, &n, &r);
    unit = "bytes/socket (mem, rss), ns/rt (hot, spread), s (setup)";
  } else {
    fprintf(stderr, "ustcp bench _ustcp: unknown workload '%s'\n", what);
    return 2;
  }
  if (r.err) {
    fprintf(stderr, "%s: %s\n", what, r.msg);
    return 1;
  }
  for (int i = 0; i < r.nv; i++)
    printf("%s%.6g", i ? " " : "", r.v[i]);
  printf(" %s\n", unit);
  return 0;
}

/* ---------------------------------------------------------------- rr */

/* One 1-byte round trip client -> server -> client; 0 or -1. */
static int round_trip(struct world *w, struct ustcp_stack *cs, int c, int a)
{
  struct ustcp_stack *srv = w->nodes[0].s;
  char b = 'p';
  if (RETRY(w, ustcp_write(cs, c, &b, 1)) != 1)
    return -1;
  pump(w);
  if (RETRY(w, ustcp_read(srv, a, &b, 1)) != 1 || RETRY(w, ustcp_write(srv, a, &b, 1)) != 1)
    return -1;
  pump(w);
  return RETRY(w, ustcp_read(cs, c, &b, 1)) == 1 ? 0 : -1;
}

void bench_ustcp_rr(const struct bench_opts *o, const void *arg, struct bench_res *r)
{
  (void)arg;
  struct world w;
  if (world_init(&w, o, 1, 0))
    return bench_fail(r, -EINVAL, "stack: %s", w.err);
  int lfd = listener(w.nodes[0].s, SERVER_PORT, 16), c = -1, a = -1;
  if (lfd < 0 || one_conn(&w, lfd, &c, &a)) {
    world_free(&w);
    return bench_fail(r, -EIO, "setup failed: %s", strerror(errno));
  }
  uint64_t count = 0;
  double t0 = bench_now(), t1 = t0;
  while (t1 - t0 < o->rr_secs) {
    for (int i = 0; i < 256; i++)
      if (round_trip(&w, w.nodes[1].s, c, a)) {
        world_free(&w);
        return bench_fail(r, -EIO, "round trip %llu failed: %s", (unsigned long long)count,
                          strerror(errno));
      }
    count += 256;
    t1 = bench_now();
  }
  r->nv = 1;
  r->v[0] = (double)count / (t1 - t0);
  world_free(&w);
}

/* ---------------------------------------------------------------- conns */

static uint64_t world_bytes(struct world *w, struct ustcp_mem_info *sum)
{
  memset(sum, 0, sizeof(*sum));
  for (int i = 0; i < w->n; i++) {
    struct ustcp_mem_info mi;
    ustcp_mem_info(w->nodes[i].s, &mi);
    sum->sockets += mi.sockets;
    sum->requests += mi.requests;
    sum->timewait += mi.timewait;
    sum->timers += mi.timers;
    sum->pkt_bufs += mi.pkt_bufs;
    sum->buf_bytes += mi.buf_bytes;
    sum->bytes_total += mi.bytes_total;
  }
  return sum->bytes_total;
}

static int gcd(int a, int b)
{
  while (b) {
    int t = a % b;
    a = b;
    b = t;
  }
  return a;
}

void bench_ustcp_conns(const struct bench_opts *o, const void *arg, struct bench_res *r)
{
  int n = *(const int *)arg;
  int clients = (n + CONNS_PER_CLIENT - 1) / CONNS_PER_CLIENT;
  struct world w;
  if (world_init(&w, o, clients, 1))
    return bench_fail(r, -EINVAL, "stack: %s", w.err);
  struct ustcp_stack *srv = w.nodes[0].s;
  /* Bookkeeping first, touched, so the RSS baseline already holds it. */
  int *cfd = malloc(sizeof(int) * (size_t)n), *sfd = malloc(sizeof(int) * (size_t)n);
  int *lfd = malloc(sizeof(int) * (size_t)clients);
  int *by_port = malloc(sizeof(int) * 65536 * (size_t)clients); /* (client, port) -> sfd */
  if (!cfd || !sfd || !lfd || !by_port) {
    bench_fail(r, -ENOMEM, "bookkeeping");
    goto out;
  }
  memset(cfd, 0xff, sizeof(int) * (size_t)n);
  memset(sfd, 0xff, sizeof(int) * (size_t)n);
  memset(by_port, 0xff, sizeof(int) * 65536 * (size_t)clients);
  for (int j = 0; j < clients; j++) {
    lfd[j] = listener(srv, (uint16_t)(SERVER_PORT + j), 4096);
    if (lfd[j] < 0) {
      bench_fail(r, lfd[j], "listen: %s", strerror(-lfd[j]));
      goto out;
    }
  }
  pump(&w);
  struct ustcp_mem_info m0, m1;
  uint64_t b0 = world_bytes(&w, &m0);
  long rss0 = bench_rss_bytes();
  double t0 = bench_now();
  int made = 0;
  for (int j = 0; j < clients; j++) {
    struct ustcp_stack *cs = w.nodes[j + 1].s;
    int quota = n - made < CONNS_PER_CLIENT ? n - made : CONNS_PER_CLIENT;
    for (int done = 0; done < quota;) {
      int batch = quota - done < 1000 ? quota - done : 1000;
      for (int b = 0; b < batch; b++) {
        int fd = start_connect(cs, (uint16_t)(SERVER_PORT + j));
        if (fd < 0) {
          bench_fail(r, fd, "connect #%d: %s", made + done + b, strerror(-fd));
          goto out;
        }
        cfd[made + done + b] = fd;
      }
      pump(&w);
      for (int b = 0; b < batch; b++) {
        struct sockaddr_in pa;
        socklen_t pl = sizeof(pa);
        int a =
            (int)RETRY(&w, ustcp_accept4(srv, lfd[j], (struct sockaddr *)&pa, &pl, SOCK_NONBLOCK));
        if (a < 0) {
          bench_fail(r, -errno, "accept #%d: %s", made + done + b, strerror(errno));
          goto out;
        }
        nodelay(srv, a);
        sfd[made + done + b] = a;
        by_port[65536 * j + ntohs(pa.sin_port)] = a;
      }
      done += batch;
    }
    made += quota;
  }
  pump(&w);
  double t1 = bench_now();
  uint64_t b1 = world_bytes(&w, &m1);
  long rss1 = bench_rss_bytes();
  /* Pair each client fd with its server fd by the client's port. */
  /* Client and server descriptor side by side: one cache line per round
   * trip of bookkeeping, as the Linux client's one fds[] slot. */
  struct cpair {
    int c, s;
  } *peer = malloc(sizeof(*peer) * (size_t)n);
  if (!peer) {
    bench_fail(r, -ENOMEM, "bookkeeping");
    goto out;
  }
  for (int i = 0; i < n; i++) {
    struct sockaddr_in la;
    socklen_t ll = sizeof(la);
    int j = i / CONNS_PER_CLIENT;
    peer[i].c = cfd[i];
    if (ustcp_getsockname(w.nodes[j + 1].s, cfd[i], (struct sockaddr *)&la, &ll) ||
        (peer[i].s = by_port[65536 * j + ntohs(la.sin_port)]) < 0) {
      free(peer);
      bench_fail(r, -EIO, "connection %d has no accepted peer", i);
      goto out;
    }
    /* Every one of the N is held established at both ends. */
    if (ustcp_sock_state(w.nodes[j + 1].s, cfd[i]) != USTCP_TCP_ESTABLISHED ||
        ustcp_sock_state(srv, peer[i].s) != USTCP_TCP_ESTABLISHED) {
      free(peer);
      bench_fail(r, -EIO, "connection %d is not established at both ends", i);
      goto out;
    }
  }
  if (o->verbose)
    fprintf(stderr,
            "ustcp conns %d: sockets %llu timers %llu requests %llu bufs %llu, %llu -> %llu "
            "bytes, rss %ld -> %ld, setup %.2fs\n",
            n, (unsigned long long)m1.sockets, (unsigned long long)m1.timers,
            (unsigned long long)m1.requests, (unsigned long long)m1.buf_bytes,
            (unsigned long long)b0, (unsigned long long)b1, rss0, rss1, t1 - t0);
  /* hot: connection 0 again and again; spread: a different one each time. */
  double rt[2];
  int stride = 7919 % n ? 7919 % n : 1;
  while (n > 1 && gcd(stride, n) != 1)
    stride++;
  for (int mode = 0; mode < 2; mode++) {
    uint64_t count = 0;
    int k = 0;
    double s0 = bench_now(), s1 = s0;
    while (s1 - s0 < o->conns_rr_secs) {
      for (int i = 0; i < 256; i++) {
        if (round_trip(&w, w.nodes[k / CONNS_PER_CLIENT + 1].s, peer[k].c, peer[k].s)) {
          free(peer);
          bench_fail(r, -EIO, "round trip on connection %d failed: %s", k, strerror(errno));
          goto out;
        }
        if (mode == 1) {
          k += stride;
          if (k >= n)
            k -= n;
        }
      }
      count += 256;
      s1 = bench_now();
    }
    rt[mode] = 1e9 * (s1 - s0) / (double)count;
  }
  free(peer);
  r->nv = BENCH_CONNS_NV;
  r->v[BENCH_CONNS_MEM] = (double)(b1 - b0) / (2.0 * n);
  r->v[BENCH_CONNS_RSS] = (double)(rss1 - rss0) / (2.0 * n);
  r->v[BENCH_CONNS_HOT] = rt[0];
  r->v[BENCH_CONNS_SPREAD] = rt[1];
  r->v[BENCH_CONNS_SETUP] = t1 - t0;
out:
  free(cfd);
  free(sfd);
  free(lfd);
  free(by_port);
  world_free(&w);
}
