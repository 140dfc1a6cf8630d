/*
 * linux_tcp.c - the Linux kernel baselines of `ustcp bench`: the same
 * workloads as the ustcp side, over loopback TCP (127.0.0.1) in the fresh
 * network namespace bench_isolated() made. The client is the measuring
 * process; the server is a forked child in the same namespace, pinned to the
 * same core (sched_setaffinity is inherited), so both ends share one core as
 * the two ustcp stacks do. Blocking sockets, TCP_NODELAY on both ends.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

#define BENCH_PORT 5001

static void nodelay(int fd)
{
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static int listen_on(uint16_t port, int backlog)
{
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0)
    return -errno;
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, backlog)) {
    int e = -errno;
    close(fd);
    return e;
  }
  return fd;
}

static int connect_to(uint16_t port)
{
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0)
    return -errno;
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&a, sizeof(a))) {
    int e = -errno;
    close(fd);
    return e;
  }
  nodelay(fd);
  return fd;
}

static int read_full(int fd, void *buf, size_t len)
{
  char *p = buf;
  while (len) {
    ssize_t n = read(fd, p, len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return n < 0 ? -errno : -ECONNRESET;
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

static int write_full(int fd, const void *buf, size_t len)
{
  const char *p = buf;
  while (len) {
    ssize_t n = write(fd, p, len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return n < 0 ? -errno : -EPIPE;
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

/* Fork the server end; it inherits the namespace and the pinned core. */
static pid_t spawn_server(void (*fn)(int lfd, const void *arg), int lfd, const void *arg)
{
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  if (pid == 0) {
    fn(lfd, arg);
    _exit(0);
  }
  return pid;
}

static void reap(pid_t pid, int kill_it)
{
  if (pid <= 0)
    return;
  if (kill_it)
    kill(pid, SIGKILL);
  while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
    ;
}

/* ---------------------------------------------------------------- bulk */

static void bulk_server(int lfd, const void *arg)
{
  (void)arg;
  static char buf[1 << 16];
  int fd = accept(lfd, NULL, NULL);
  if (fd < 0)
    return;
  uint64_t total = 0;
  for (;;) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    total += (uint64_t)n;
  }
  /* Report what arrived so the client's clock stops after delivery. */
  write_full(fd, &total, sizeof(total));
  close(fd);
}

void bench_linux_bulk(const struct bench_opts *o, const void *arg, struct bench_res *r)
{
  (void)arg;
  static char buf[1 << 16];
  int lfd = listen_on(BENCH_PORT, 16);
  if (lfd < 0)
    return bench_fail(r, lfd, "listen: %s", strerror(-lfd));
  pid_t pid = spawn_server(bulk_server, lfd, NULL);
  int fd = connect_to(BENCH_PORT);
  if (fd < 0) {
    reap(pid, 1);
    return bench_fail(r, fd, "connect: %s", strerror(-fd));
  }
  memset(buf, 'x', sizeof(buf));
  double t0 = bench_now();
  for (uint64_t sent = 0; sent < o->bulk_bytes; sent += sizeof(buf)) {
    int e = write_full(fd, buf, sizeof(buf));
    if (e) {
      reap(pid, 1);
      return bench_fail(r, e, "write: %s", strerror(-e));
    }
  }
  shutdown(fd, SHUT_WR);
  uint64_t got = 0;
  int e = read_full(fd, &got, sizeof(got));
  double t1 = bench_now();
  close(fd);
  reap(pid, e != 0);
  if (e || got < o->bulk_bytes)
    return bench_fail(r, e, "server received %llu of %llu bytes", (unsigned long long)got,
                      (unsigned long long)o->bulk_bytes);
  r->nv = 1;
  r->v[0] = (double)got * 8 / (t1 - t0) / 1e9;
}

/* ---------------------------------------------------------------- crr */

static void crr_server(int lfd, const void *arg)
{
  int n = *(const int *)arg;
  char buf[64];
  for (int i = 0; i < n; i++) {
    int fd = accept(lfd, NULL, NULL);
    if (fd < 0)
      return;
    nodelay(fd);
    if (read_full(fd, buf, sizeof(buf)) || write_full(fd, buf, sizeof(buf))) {
      close(fd);
      return;
    }
    while (read(fd, buf, sizeof(buf)) > 0) /* until the client's FIN */
      ;
    close(fd);
  }
}

void bench_linux_crr(const struct bench_opts *o, const void *arg, struct bench_res *r)
{
  (void)arg;
  int n = o->crr_conns;
  int lfd = listen_on(BENCH_PORT, 128);
  if (lfd < 0)
    return bench_fail(r, lfd, "listen: %s", strerror(-lfd));
  pid_t pid = spawn_server(crr_server, lfd, &n);
  char req[64], resp[64];
  memset(req, 'q', sizeof(req));
  double t0 = bench_now();
  for (int i = 0; i < n; i++) {
    int fd = connect_to(BENCH_PORT);
    if (fd < 0) {
      reap(pid, 1);
      return bench_fail(r, fd, "connect #%d: %s", i, strerror(-fd));
    }
    int e = write_full(fd, req, sizeof(req));
    if (!e)
      e = read_full(fd, resp, sizeof(resp));
    close(fd);
    if (e) {
      reap(pid, 1);
      return bench_fail(r, e, "connection #%d: %s", i, strerror(-e));
    }
  }
  double t1 = bench_now();
  reap(pid, 0);
  r->nv = 1;
  r->v[0] = n / (t1 - t0);
}

/* ---------------------------------------------------------------- rr */

static void rr_server(int lfd, const void *arg)
{
  (void)arg;
  char b[16];
  int fd = accept(lfd, NULL, NULL);
  if (fd < 0)
    return;
  nodelay(fd);
  for (;;) {
    ssize_t n = read(fd, b, sizeof(b));
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0 || write_full(fd, b, (size_t)n))
      break;
  }
  close(fd);
}

/* Ping-pong 1 byte on fd for `secs`; returns round trips per second. */
static double ping_pong(int fd, double secs)
{
  char b = 'p';
  uint64_t count = 0;
  double t0 = bench_now(), t1 = t0;
  while (t1 - t0 < secs) {
    for (int i = 0; i < 256; i++) {
      if (write_full(fd, &b, 1) || read_full(fd, &b, 1))
        return -1;
    }
    count += 256;
    t1 = bench_now();
  }
  return (double)count / (t1 - t0);
}

void bench_linux_rr(const struct bench_opts *o, const void *arg, struct bench_res *r)
{
  (void)arg;
  int lfd = listen_on(BENCH_PORT, 16);
  if (lfd < 0)
    return bench_fail(r, lfd, "listen: %s", strerror(-lfd));
  pid_t pid = spawn_server(rr_server, lfd, NULL);
  int fd = connect_to(BENCH_PORT);
  if (fd < 0) {
    reap(pid, 1);
    return bench_fail(r, fd, "connect: %s", strerror(-fd));
  }
  double rate = ping_pong(fd, o->rr_secs);
  close(fd);
  reap(pid, 0);
  if (rate <= 0)
    return bench_fail(r, -EIO, "ping-pong failed");
  r->nv = 1;
  r->v[0] = rate;
}

/* ---------------------------------------------------------------- conns */

#define CONNS_BATCH 1000

struct conns_srv_arg {
  int n;
  int token_fd; /* server -> client: one byte per CONNS_BATCH accepted */
};

/* Accept N connections (telling the client after each batch so the accept
 * queue never overflows), then answer every byte on any of them through
 * epoll until all are closed. */
static void conns_server(int lfd, const void *arg)
{
  const struct conns_srv_arg *a = arg;
  int ep = epoll_create1(0);
  if (ep < 0)
    return;
  for (int i = 0; i < a->n; i++) {
    int fd = accept(lfd, NULL, NULL);
    if (fd < 0)
      return;
    nodelay(fd);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev))
      return;
    if ((i + 1) % CONNS_BATCH == 0 || i + 1 == a->n)
      write_full(a->token_fd, "t", 1);
  }
  int open = a->n;
  struct epoll_event evs[64];
  char b[16];
  while (open > 0) {
    int k = epoll_wait(ep, evs, 64, 10000);
    if (k <= 0) {
      if (k < 0 && errno == EINTR)
        continue;
      return;
    }
    for (int i = 0; i < k; i++) {
      int fd = evs[i].data.fd;
      ssize_t n = read(fd, b, sizeof(b));
      if (n > 0) {
        write_full(fd, b, (size_t)n);
      } else if (n == 0 || errno != EAGAIN) {
        close(fd);
        open--;
      }
    }
  }
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

/* A stride through 0..n-1 that visits every connection before repeating and
 * never touches neighbours in turn. */
static int spread_stride(int n)
{
  int s = 7919;
  while (n > 1 && gcd(s % n ? s % n : 1, n) != 1)
    s += 2;
  return n > 1 ? (s % n ? s % n : 1) : 0;
}

void bench_linux_conns(const struct bench_opts *o, const void *arg, struct bench_res *r)
{
  int n = *(const int *)arg;
  int *fds = calloc((size_t)n, sizeof(int));
  int tok[2];
  if (!fds || pipe(tok)) {
    free(fds);
    return bench_fail(r, -ENOMEM, "setup");
  }
  long slab0 = bench_slab_bytes();
  int lfd = listen_on(BENCH_PORT, 4096);
  if (lfd < 0) {
    free(fds);
    return bench_fail(r, lfd, "listen: %s", strerror(-lfd));
  }
  struct conns_srv_arg sa = {.n = n, .token_fd = tok[1]};
  pid_t pid = spawn_server(conns_server, lfd, &sa);
  close(lfd);
  close(tok[1]);
  double t0 = bench_now();
  for (int i = 0; i < n; i++) {
    fds[i] = connect_to(BENCH_PORT);
    if (fds[i] < 0) {
      int e = fds[i];
      reap(pid, 1);
      free(fds);
      return bench_fail(r, e, "connect #%d: %s", i, strerror(-e));
    }
    char t;
    if (((i + 1) % CONNS_BATCH == 0 || i + 1 == n) && read_full(tok[0], &t, 1)) {
      reap(pid, 1);
      free(fds);
      return bench_fail(r, -EIO, "server stopped accepting at %d", i);
    }
  }
  double t1 = bench_now();
  long slab1 = bench_slab_bytes();

  /* One more round trip: on connection 0 again and again ("hot"), then on
   * a different connection each time, striding over all N ("spread"). */
  double hot = ping_pong(fds[0], o->conns_rr_secs);
  int stride = spread_stride(n), k = 0;
  uint64_t count = 0;
  double s0 = bench_now(), s1 = s0;
  char b = 's';
  int bad = 0;
  while (!bad && s1 - s0 < o->conns_rr_secs) {
    for (int i = 0; i < 256 && !bad; i++) {
      bad = write_full(fds[k], &b, 1) || read_full(fds[k], &b, 1);
      k += stride;
      if (k >= n)
        k -= n;
    }
    count += 256;
    s1 = bench_now();
  }
  for (int i = 0; i < n; i++)
    close(fds[i]);
  free(fds);
  reap(pid, 0);
  if (hot <= 0 || bad)
    return bench_fail(r, -EIO, "round trips failed");
  r->nv = BENCH_CONNS_NV;
  /* Both ends live in this kernel: per socket is the delta over 2N. */
  r->v[BENCH_CONNS_MEM] = (double)(slab1 - slab0) / (2.0 * n);
  r->v[BENCH_CONNS_RSS] = -1; /* not meaningful for kernel sockets */
  r->v[BENCH_CONNS_HOT] = 1e9 / hot;
  r->v[BENCH_CONNS_SPREAD] = 1e9 * (s1 - s0) / (double)count;
  r->v[BENCH_CONNS_SETUP] = t1 - t0;
}
