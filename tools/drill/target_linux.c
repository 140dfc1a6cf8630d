/*
 * target_linux.c - the drill's `linux` target: the running kernel, as
 * packetdrill drives it. The runner process (one per script, forked by
 * cmd_drill.c) moves into a private network namespace of its own
 * (unshare(CLONE_NEWNET)), creates a TUN device tun0 (IFF_TUN|IFF_NO_PI)
 * with 192.168.0.1/16 and a route to 192.0.2.0/24 through it, writes
 * the script's inbound packets to the TUN fd and reads the kernel's packets
 * from it. A reader thread timestamps packets as they arrive; system calls
 * run on a worker thread so that blocking ones can overlap later events.
 * Time is real (CLOCK_MONOTONIC) and checked with a tolerance.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "drill.h"

#define RXQ_MAX 4096

struct rxpkt {
  uint8_t *buf;
  size_t len;
  int64_t t;
};

struct lx {
  int tun;
  int64_t t0; /* ns */
  pthread_mutex_t mu;
  pthread_cond_t cv;
  bool stop;
  /* received packets */
  struct rxpkt q[RXQ_MAX];
  unsigned qh, qn;
  pthread_t rx;
  bool rx_started;
  /* the system call worker */
  pthread_t worker;
  bool worker_started;
  struct dr_event *job;
  bool busy, done;
  struct dr_callres res;
  int64_t t_done;
  char scriptdir[512];
};

static int64_t mono_ns(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t lx_now(struct dr_run *r)
{
  struct lx *L = r->tgt;
  return (mono_ns() - L->t0) / 1000;
}

static struct timespec abs_ts(struct lx *L, int64_t t_us)
{
  int64_t ns = L->t0 + t_us * 1000;
  struct timespec ts = {(time_t)(ns / 1000000000), (long)(ns % 1000000000)};
  return ts;
}

/* --------------------------------------------------------- system calls */

static long long l_socket(void *u, int d, int t, int p)
{
  (void)u;
  return socket(d, t, p);
}
static long long l_bind(void *u, int fd, const void *a, unsigned l)
{
  (void)u;
  return bind(fd, a, l);
}
static long long l_listen(void *u, int fd, int b)
{
  (void)u;
  return listen(fd, b);
}
static long long l_accept(void *u, int fd, void *a, unsigned *l)
{
  (void)u;
  socklen_t sl = *l;
  int r = accept(fd, a, &sl);
  *l = sl;
  return r;
}
static long long l_connect(void *u, int fd, const void *a, unsigned l)
{
  (void)u;
  return connect(fd, a, l);
}
static long long l_read(void *u, int fd, void *b, size_t n)
{
  (void)u;
  return read(fd, b, n);
}
static long long l_write(void *u, int fd, const void *b, size_t n)
{
  (void)u;
  return send(fd, b, n, MSG_NOSIGNAL);
}
static long long l_send(void *u, int fd, const void *b, size_t n, int f)
{
  (void)u;
  return send(fd, b, n, f | MSG_NOSIGNAL);
}
static long long l_recv(void *u, int fd, void *b, size_t n, int f)
{
  (void)u;
  return recv(fd, b, n, f);
}
static long long l_readv(void *u, int fd, const void *iov, int c)
{
  (void)u;
  return readv(fd, iov, c);
}
static long long l_writev(void *u, int fd, const void *iov, int c)
{
  (void)u;
  struct msghdr m;
  memset(&m, 0, sizeof(m));
  m.msg_iov = (struct iovec *)(uintptr_t)iov;
  m.msg_iovlen = (size_t)c;
  return sendmsg(fd, &m, MSG_NOSIGNAL);
}
static long long l_sendmsg(void *u, int fd, const void *m, int f)
{
  (void)u;
  return sendmsg(fd, m, f | MSG_NOSIGNAL);
}
static long long l_recvmsg(void *u, int fd, void *m, int f)
{
  (void)u;
  return recvmsg(fd, m, f);
}
static long long l_close(void *u, int fd)
{
  (void)u;
  return close(fd);
}
static long long l_shutdown(void *u, int fd, int h)
{
  (void)u;
  return shutdown(fd, h);
}
static long long l_dup(void *u, int fd)
{
  (void)u;
  return dup(fd);
}
static long long l_setsockopt(void *u, int fd, int lv, int nm, const void *v, unsigned l)
{
  (void)u;
  return setsockopt(fd, lv, nm, v, l);
}
static long long l_getsockopt(void *u, int fd, int lv, int nm, void *v, unsigned *l)
{
  (void)u;
  socklen_t sl = *l;
  int r = getsockopt(fd, lv, nm, v, &sl);
  *l = sl;
  return r;
}
static long long l_fcntl(void *u, int fd, int cmd, long arg)
{
  (void)u;
  return fcntl(fd, cmd, arg);
}
static long long l_ioctl(void *u, int fd, unsigned long req, int *arg)
{
  (void)u;
  return ioctl(fd, req, arg);
}
static long long l_poll(void *u, void *fds, unsigned n, int t)
{
  (void)u;
  return poll(fds, n, t);
}
static int l_errno(void *u)
{
  (void)u;
  return errno;
}

static const struct dr_sysops linux_sysops = {
    NULL,   l_socket,     l_bind,       l_listen, l_accept,  l_connect, l_read,  l_write,
    l_send, l_recv,       l_readv,      l_writev, l_sendmsg, l_recvmsg, l_close, l_shutdown,
    l_dup,  l_setsockopt, l_getsockopt, l_fcntl,  l_ioctl,   l_poll,    l_errno,
};

static void *worker_main(void *arg)
{
  struct dr_run *r = arg;
  struct lx *L = r->tgt;
  pthread_mutex_lock(&L->mu);
  for (;;) {
    while (!L->job && !L->stop)
      pthread_cond_wait(&L->cv, &L->mu);
    if (L->stop)
      break;
    struct dr_event *ev = L->job;
    L->job = NULL;
    pthread_mutex_unlock(&L->mu);
    struct dr_callres res;
    dr_exec_call(&linux_sysops, &r->fds, &ev->call, &res);
    int64_t t = lx_now(r);
    pthread_mutex_lock(&L->mu);
    L->res = res;
    L->t_done = t;
    L->done = true;
    L->busy = false;
    pthread_cond_broadcast(&L->cv);
  }
  pthread_mutex_unlock(&L->mu);
  return NULL;
}

static void on_alarm(int sig) { (void)sig; }

static void lx_call_start(struct dr_run *r, struct dr_event *ev)
{
  struct lx *L = r->tgt;
  if (!ev->blocking) {
    /* A call expected to return at once runs right here (no thread hop to
     * skew its timing); should it block, an interval timer interrupts it
     * (EINTR) after 2 s and the runner reports it as blocked. */
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_alarm; /* no SA_RESTART */
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval it = {{0, 0}, {2, 0}}, off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &it, NULL);
    struct dr_callres res;
    dr_exec_call(&linux_sysops, &r->fds, &ev->call, &res);
    setitimer(ITIMER_REAL, &off, NULL);
    int64_t t = lx_now(r);
    pthread_mutex_lock(&L->mu);
    bool interrupted = res.ret == -1 && res.err == EINTR;
    L->res = res;
    L->t_done = t;
    L->done = !interrupted;
    pthread_mutex_unlock(&L->mu);
    return;
  }
  pthread_mutex_lock(&L->mu);
  L->job = ev;
  L->busy = true;
  L->done = false;
  pthread_cond_broadcast(&L->cv);
  pthread_mutex_unlock(&L->mu);
}

static int lx_call_wait(struct dr_run *r, int64_t deadline, struct dr_callres *res, int64_t *t)
{
  struct lx *L = r->tgt;
  /* real time: give a late call a second of slack, so that it is reported
   * as late (with its time) rather than as blocked */
  struct timespec ts = abs_ts(L, deadline + 1000000);
  pthread_mutex_lock(&L->mu);
  while (!L->done) {
    if (pthread_cond_timedwait(&L->cv, &L->mu, &ts) == ETIMEDOUT && !L->done)
      break;
  }
  int ok = L->done;
  if (ok) {
    *res = L->res;
    *t = L->t_done;
    L->done = false;
  }
  pthread_mutex_unlock(&L->mu);
  return ok;
}

/* -------------------------------------------------------------- packets */

static void *rx_main(void *arg)
{
  struct dr_run *r = arg;
  struct lx *L = r->tgt;
  uint8_t *buf = malloc(65536);
  for (;;) {
    pthread_mutex_lock(&L->mu);
    bool stop = L->stop;
    pthread_mutex_unlock(&L->mu);
    if (stop || !buf)
      break;
    struct pollfd p = {L->tun, POLLIN, 0};
    if (poll(&p, 1, 50) <= 0)
      continue;
    ssize_t n = read(L->tun, buf, 65536);
    int64_t t = lx_now(r);
    if (n <= 0)
      continue;
    /* only IPv4 TCP is ours; the kernel may also send IPv6/IGMP noise */
    if (n < 20 || (buf[0] >> 4) != 4 || buf[9] != 6) {
      if (r->verbose)
        fprintf(stderr, "  (ignored a non-TCP packet from the kernel)\n");
      continue;
    }
    pthread_mutex_lock(&L->mu);
    if (L->qn < RXQ_MAX) {
      struct rxpkt *q = &L->q[(L->qh + L->qn) % RXQ_MAX];
      q->buf = malloc((size_t)n);
      if (q->buf) {
        memcpy(q->buf, buf, (size_t)n);
        q->len = (size_t)n;
        q->t = t;
        L->qn++;
      }
    }
    pthread_cond_broadcast(&L->cv);
    pthread_mutex_unlock(&L->mu);
  }
  free(buf);
  return NULL;
}

static int lx_next_pkt(struct dr_run *r, int64_t deadline, uint8_t *buf, size_t *len, int64_t *t)
{
  struct lx *L = r->tgt;
  struct timespec ts = abs_ts(L, deadline);
  pthread_mutex_lock(&L->mu);
  while (!L->qn) {
    if (pthread_cond_timedwait(&L->cv, &L->mu, &ts) == ETIMEDOUT && !L->qn)
      break;
  }
  int got = 0;
  if (L->qn) {
    struct rxpkt *q = &L->q[L->qh];
    size_t n = q->len < *len ? q->len : *len;
    memcpy(buf, q->buf, n);
    *len = n;
    *t = q->t;
    free(q->buf);
    L->qh = (L->qh + 1) % RXQ_MAX;
    L->qn--;
    got = 1;
  }
  pthread_mutex_unlock(&L->mu);
  if (got && r->verbose) {
    struct dr_seg sg;
    char e[64], s[400];
    if (!dr_seg_parse(buf, *len, &sg, e, sizeof(e))) {
      dr_seg_format(&sg, s, sizeof(s));
      fprintf(stderr, "  %lld.%06lld > %s\n", (long long)(*t / 1000000), (long long)(*t % 1000000),
              s);
    }
  }
  return got;
}

static int lx_inject(struct dr_run *r, const uint8_t *pkt, size_t len)
{
  struct lx *L = r->tgt;
  if (r->verbose) {
    struct dr_seg sg;
    char e[64], s[400];
    if (!dr_seg_parse(pkt, len, &sg, e, sizeof(e))) {
      dr_seg_format(&sg, s, sizeof(s));
      int64_t t = lx_now(r);
      fprintf(stderr, "  %lld.%06lld < %s\n", (long long)(t / 1000000), (long long)(t % 1000000),
              s);
    }
  }
  return write(L->tun, pkt, len) == (ssize_t)len ? 0 : -1;
}

static void lx_wait_until(struct dr_run *r, int64_t t)
{
  struct lx *L = r->tgt;
  struct timespec ts = abs_ts(L, t);
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
    ;
}

static void lx_zero(struct dr_run *r)
{
  struct lx *L = r->tgt;
  pthread_mutex_lock(&L->mu);
  L->t0 = mono_ns();
  pthread_mutex_unlock(&L->mu);
}

static int lx_shell(struct dr_run *r, const char *cmd)
{
  struct lx *L = r->tgt;
  size_t n = strlen(cmd) + strlen(L->scriptdir) + 64;
  char *full = malloc(n);
  if (!full)
    return -1;
  snprintf(full, n, "cd '%s' && %s", L->scriptdir, cmd);
  int st = system(full);
  free(full);
  return st;
}

static int lx_tcp_info(struct dr_run *r, int fd, char *out, size_t cap)
{
  struct tcp_info ti;
  socklen_t l = sizeof(ti);
  memset(&ti, 0, sizeof(ti));
  if (getsockopt(dr_fd_live(&r->fds, fd), IPPROTO_TCP, TCP_INFO, &ti, &l) < 0)
    return -errno;
  return dr_tcp_info_format(&ti, out, cap);
}

/* ---------------------------------------------------------------- setup */

static int run(const char *cmd)
{
  int st = system(cmd);
  return st == 0 ? 0 : -1;
}

static int lx_start(struct dr_run *r)
{
  struct lx *L = calloc(1, sizeof(*L));
  if (!L)
    return -1;
  r->tgt = L;
  L->tun = -1;
  pthread_mutex_init(&L->mu, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* deadlines are monotonic */
  pthread_cond_init(&L->cv, &ca);
  pthread_condattr_destroy(&ca);
  snprintf(L->scriptdir, sizeof(L->scriptdir), "%s", r->sc->path);
  char *sl = strrchr(L->scriptdir, '/');
  if (sl)
    *sl = 0;
  else
    snprintf(L->scriptdir, sizeof(L->scriptdir), ".");
  L->t0 = mono_ns();
  /* our own network namespace: nothing outside it is touched */
  if (unshare(CLONE_NEWNET) != 0) {
    snprintf(r->msg, sizeof(r->msg), "unshare(CLONE_NEWNET): %s (the linux target needs root)",
             strerror(errno));
    r->failed = true;
    return -1;
  }
  L->tun = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
  if (L->tun < 0) {
    snprintf(r->msg, sizeof(r->msg), "/dev/net/tun: %s", strerror(errno));
    r->failed = true;
    return -1;
  }
  struct ifreq ifr;
  memset(&ifr, 0, sizeof(ifr));
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
  snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "tun0");
  if (ioctl(L->tun, TUNSETIFF, &ifr) < 0) {
    snprintf(r->msg, sizeof(r->msg), "TUNSETIFF: %s", strerror(errno));
    r->failed = true;
    return -1;
  }
  if (run("ip link set lo up && "
          "sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 >/dev/null 2>&1; "
          "ip addr add 192.168.0.1/16 dev tun0 && ip link set tun0 up && "
          "ip route add 192.0.2.0/24 dev tun0") != 0) {
    snprintf(r->msg, sizeof(r->msg), "setting up tun0 in the namespace failed");
    r->failed = true;
    return -1;
  }
  /* SIGALRM (see lx_call_start) must interrupt the main thread only */
  sigset_t al, old;
  sigemptyset(&al);
  sigaddset(&al, SIGALRM);
  pthread_sigmask(SIG_BLOCK, &al, &old);
  if (pthread_create(&L->rx, NULL, rx_main, r) == 0)
    L->rx_started = true;
  if (pthread_create(&L->worker, NULL, worker_main, r) == 0)
    L->worker_started = true;
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (!L->rx_started || !L->worker_started)
    return -1;
  L->t0 = mono_ns(); /* script time 0 */
  return 0;
}

static void lx_stop(struct dr_run *r)
{
  struct lx *L = r->tgt;
  if (!L)
    return;
  pthread_mutex_lock(&L->mu);
  L->stop = true;
  bool busy = L->busy;
  pthread_cond_broadcast(&L->cv);
  pthread_mutex_unlock(&L->mu);
  if (L->rx_started)
    pthread_join(L->rx, NULL);
  /* a call still blocked in the kernel cannot be joined; the process
   * (one per script) exits right after and takes it along */
  if (L->worker_started && !busy)
    pthread_join(L->worker, NULL);
  if (busy)
    return;
  for (unsigned i = 0; i < L->qn; i++)
    free(L->q[(L->qh + i) % RXQ_MAX].buf);
  if (L->tun >= 0)
    close(L->tun);
  pthread_mutex_destroy(&L->mu);
  pthread_cond_destroy(&L->cv);
  free(L);
  r->tgt = NULL;
}

const struct dr_target_ops dr_target_linux = {
    .name = "linux",
    .start = lx_start,
    .stop = lx_stop,
    .now = lx_now,
    .wait_until = lx_wait_until,
    .inject = lx_inject,
    .next_pkt = lx_next_pkt,
    .call_start = lx_call_start,
    .call_wait = lx_call_wait,
    .shell = lx_shell,
    .zero = lx_zero,
    .tcp_info = lx_tcp_info,
};
