/*
 * plugin.c - libustcp_packetdrill.so: ustcp as a packetdrill --so_filename
 * plug-in. packetdrill_interface_init() fills packetdrill's function table
 * with an in-process ustcp stack on a virtual clock (vhost.c):
 *  - system calls map to ustcp_*() (script descriptors are the stack's own);
 *  - netdev_send() injects one IPv4 datagram, netdev_receive() returns the
 *    next datagram the stack sent and its virtual send time; when none is
 *    pending it advances the clock to the stack's next deadline, so timer
 *    packets appear at their exact times;
 *  - usleep()/gettimeofday() run on the virtual clock.
 * packetdrill runs blocking calls on a second thread: one lock guards the
 * stack, and a blocking call waits on a condition variable without it
 * (ustcp_link_ops.wait). The local address comes from the flags
 * ("local_ip=A.B.C.D"), else from the first injected packet's destination;
 * a socket call made before either uses packetdrill's default 192.168.0.1.
 * epoll, pipe and splice are not provided: -1 with ENOSYS.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "packetdrill_so.h"
#include "ustcp/socket.h"
#include "vhost.h"

#define PD_EXPORT __attribute__((visibility("default")))
#define PD_DEFAULT_LOCAL_IP "192.168.0.1"

struct pd {
  struct dr_vhost h;
  bool have_stack;
  bool failed;       /* the stack could not be created */
  uint32_t local_ip; /* network order, 0 = not known yet */
  pthread_mutex_t init_mu;
};

/* Create the stack on first use (init_mu held by no one else). */
static int pd_stack(struct pd *p, uint32_t addr_hint)
{
  pthread_mutex_lock(&p->init_mu);
  if (!p->have_stack && !p->failed) {
    struct ustcp_config cfg;
    ustcp_config_init(&cfg);
    if (!p->local_ip)
      p->local_ip = addr_hint ? addr_hint : inet_addr(PD_DEFAULT_LOCAL_IP);
    cfg.addr = p->local_ip;
    cfg.prefix_len = 16;
    cfg.seed = 1;
    char err[160];
    if (dr_vhost_init(&p->h, &cfg, err, sizeof(err)) == 0)
      p->have_stack = true;
    else
      p->failed = true;
  }
  int ok = p->have_stack ? 0 : -1;
  pthread_mutex_unlock(&p->init_mu);
  return ok;
}

/* Every socket call: enter the stack (lock, counted as active), call, leave. */
#define CALL(ud, type, expr)                                                                       \
  do {                                                                                             \
    struct pd *p = (ud);                                                                           \
    if (pd_stack(p, 0)) {                                                                          \
      errno = ENOMEM;                                                                              \
      return (type)-1;                                                                             \
    }                                                                                              \
    struct ustcp_stack *s = p->h.s;                                                                \
    dr_vhost_enter(&p->h);                                                                         \
    type r_ = (expr);                                                                              \
    int e_ = errno;                                                                                \
    dr_vhost_leave(&p->h);                                                                         \
    errno = e_;                                                                                    \
    return r_;                                                                                     \
  } while (0)

static int pd_socket(void *ud, int d, int t, int pr) { CALL(ud, int, ustcp_socket(s, d, t, pr)); }
static int pd_bind(void *ud, int fd, const struct sockaddr *a, socklen_t l)
{
  CALL(ud, int, ustcp_bind(s, fd, a, l));
}
static int pd_listen(void *ud, int fd, int b) { CALL(ud, int, ustcp_listen(s, fd, b)); }
static int pd_accept(void *ud, int fd, struct sockaddr *a, socklen_t *l)
{
  CALL(ud, int, ustcp_accept(s, fd, a, l));
}
static int pd_connect(void *ud, int fd, const struct sockaddr *a, socklen_t l)
{
  CALL(ud, int, ustcp_connect(s, fd, a, l));
}
static ssize_t pd_read(void *ud, int fd, void *b, size_t n)
{
  CALL(ud, ssize_t, ustcp_read(s, fd, b, n));
}
static ssize_t pd_readv(void *ud, int fd, const struct iovec *iov, int c)
{
  CALL(ud, ssize_t, ustcp_readv(s, fd, iov, c));
}
static ssize_t pd_recv(void *ud, int fd, void *b, size_t n, int f)
{
  CALL(ud, ssize_t, ustcp_recv(s, fd, b, n, f));
}
static ssize_t recvfrom_impl(struct ustcp_stack *s, int fd, void *b, size_t n, int f,
                             struct sockaddr *a, socklen_t *l)
{
  ssize_t r = ustcp_recv(s, fd, b, n, f);
  if (r >= 0 && a && l) {
    int e = errno;
    if (ustcp_getpeername(s, fd, a, l) < 0)
      *l = 0;
    errno = e;
  }
  return r;
}
static ssize_t pd_recvfrom(void *ud, int fd, void *b, size_t n, int f, struct sockaddr *a,
                           socklen_t *l)
{
  CALL(ud, ssize_t, recvfrom_impl(s, fd, b, n, f, a, l));
}
static ssize_t pd_recvmsg(void *ud, int fd, struct msghdr *m, int f)
{
  CALL(ud, ssize_t, ustcp_recvmsg(s, fd, m, f));
}
static ssize_t pd_write(void *ud, int fd, const void *b, size_t n)
{
  CALL(ud, ssize_t, ustcp_write(s, fd, b, n));
}
static ssize_t pd_writev(void *ud, int fd, const struct iovec *iov, int c)
{
  CALL(ud, ssize_t, ustcp_writev(s, fd, iov, c));
}
static ssize_t pd_send(void *ud, int fd, const void *b, size_t n, int f)
{
  CALL(ud, ssize_t, ustcp_send(s, fd, b, n, f));
}
static ssize_t pd_sendto(void *ud, int fd, const void *b, size_t n, int f, const struct sockaddr *a,
                         socklen_t l)
{
  (void)a; /* TCP: the destination of a connected socket is ignored (Linux) */
  (void)l;
  CALL(ud, ssize_t, ustcp_send(s, fd, b, n, f));
}
static ssize_t pd_sendmsg(void *ud, int fd, const struct msghdr *m, int f)
{
  CALL(ud, ssize_t, ustcp_sendmsg(s, fd, m, f));
}
static int pd_fcntl(void *ud, int fd, int cmd, ...)
{
  va_list ap;
  va_start(ap, cmd);
  int arg = va_arg(ap, int); /* F_GETFL/F_SETFL/F_GETFD/F_SETFD: an int */
  va_end(ap);
  CALL(ud, int, ustcp_fcntl(s, fd, cmd, arg));
}
static int pd_ioctl(void *ud, int fd, unsigned long req, ...)
{
  va_list ap;
  va_start(ap, req);
  int *arg = va_arg(ap, int *);
  va_end(ap);
  CALL(ud, int, ustcp_ioctl(s, fd, req, arg));
}
static int pd_close(void *ud, int fd) { CALL(ud, int, ustcp_close(s, fd)); }
static int pd_shutdown(void *ud, int fd, int how) { CALL(ud, int, ustcp_shutdown(s, fd, how)); }
static int pd_getsockopt(void *ud, int fd, int lv, int nm, void *v, socklen_t *l)
{
  CALL(ud, int, ustcp_getsockopt(s, fd, lv, nm, v, l));
}
static int pd_setsockopt(void *ud, int fd, int lv, int nm, const void *v, socklen_t l)
{
  CALL(ud, int, ustcp_setsockopt(s, fd, lv, nm, v, l));
}
static int pd_poll(void *ud, struct pollfd *fds, nfds_t n, int t)
{
  CALL(ud, int, ustcp_poll(s, fds, n, t));
}

/* ---------------------------------------------------------- the network */

static int pd_netdev_send(void *ud, const void *buf, size_t count)
{
  struct pd *p = ud;
  const uint8_t *b = buf;
  uint32_t dst = 0;
  if (count >= 20 && (b[0] >> 4) == 4)
    memcpy(&dst, b + 16, 4); /* network order, as cfg.addr */
  if (pd_stack(p, dst))
    return -1;
  pthread_mutex_lock(&p->h.mu);
  dr_vhost_input(&p->h, buf, count);
  pthread_mutex_unlock(&p->h.mu);
  return 0;
}

static int pd_netdev_receive(void *ud, void *buf, size_t *count, long long *time_usecs)
{
  struct pd *p = ud;
  size_t cap = *count;
  *count = 0;
  if (pd_stack(p, 0))
    return -1;
  struct dr_vpkt pk;
  pthread_mutex_lock(&p->h.mu);
  bool got = dr_vhost_pop(&p->h, &pk);
  /* Nothing pending: run the virtual clock from deadline to deadline until
   * the stack sends something, so that a timer-driven packet appears at its
   * exact virtual time. packetdrill (so_testing.c) parses whatever comes
   * back and fails on an empty packet, so a deadline that fires without
   * sending (a delayed-ACK timer with nothing owed, a lazily cancelled
   * retransmission timer) must not end the wait. Bounded: *count = 0 only
   * when no deadline is left (the expected packet can never come). */
  for (int guard = 0; !got && guard < 100000; guard++) {
    ustcp_time_t next = dr_vhost_next_event(&p->h);
    if (next == USTCP_TIME_NEVER)
      break;
    dr_vhost_step(&p->h, next);
    got = dr_vhost_pop(&p->h, &pk);
  }
  pthread_mutex_unlock(&p->h.mu);
  if (!got)
    return 0;
  int rc = 0;
  if (pk.len > cap) {
    errno = EMSGSIZE;
    rc = -1;
  } else {
    memcpy(buf, pk.buf, pk.len);
    *count = pk.len;
    *time_usecs = (long long)(pk.t / 1000);
  }
  free(pk.buf);
  return rc;
}

static int pd_usleep(void *ud, useconds_t usec)
{
  struct pd *p = ud;
  if (pd_stack(p, 0))
    return -1;
  pthread_mutex_lock(&p->h.mu);
  dr_vhost_advance_to(&p->h, p->h.vnow + (ustcp_time_t)usec * 1000);
  pthread_mutex_unlock(&p->h.mu);
  return 0;
}

static int pd_gettimeofday(void *ud, struct timeval *tv, struct timezone *tz)
{
  (void)tz;
  struct pd *p = ud;
  if (pd_stack(p, 0))
    return -1;
  pthread_mutex_lock(&p->h.mu);
  ustcp_time_t t = p->h.vnow;
  pthread_mutex_unlock(&p->h.mu);
  tv->tv_sec = (time_t)(t / 1000000000u);
  tv->tv_usec = (suseconds_t)(t % 1000000000u / 1000);
  return 0;
}

/* ------------------------------------------------------------ unsupported */

static int pd_epoll_create(void *ud, int size)
{
  (void)ud;
  (void)size;
  errno = ENOSYS;
  return -1;
}
static int pd_epoll_ctl(void *ud, int epfd, int op, int fd, struct epoll_event *ev)
{
  (void)ud;
  (void)epfd;
  (void)op;
  (void)fd;
  (void)ev;
  errno = ENOSYS;
  return -1;
}
static int pd_epoll_wait(void *ud, int epfd, struct epoll_event *evs, int max, int timeout)
{
  (void)ud;
  (void)epfd;
  (void)evs;
  (void)max;
  (void)timeout;
  errno = ENOSYS;
  return -1;
}
static int pd_pipe(void *ud, int fds[2])
{
  (void)ud;
  (void)fds;
  errno = ENOSYS;
  return -1;
}
static int pd_splice(void *ud, int in, loff_t *oi, int out, loff_t *oo, size_t len, unsigned f)
{
  (void)ud;
  (void)in;
  (void)oi;
  (void)out;
  (void)oo;
  (void)len;
  (void)f;
  errno = ENOSYS;
  return -1;
}

static void pd_free(void *ud)
{
  struct pd *p = ud;
  if (!p)
    return;
  if (p->have_stack)
    dr_vhost_fini(&p->h);
  pthread_mutex_destroy(&p->init_mu);
  free(p);
}

PD_EXPORT void packetdrill_interface_init(const char *flags, struct packetdrill_interface *ifc);

void packetdrill_interface_init(const char *flags, struct packetdrill_interface *ifc)
{
  struct pd *p = calloc(1, sizeof(*p));
  memset(ifc, 0, sizeof(*ifc));
  if (!p)
    return;
  pthread_mutex_init(&p->init_mu, NULL);
  const char *lip = flags ? strstr(flags, "local_ip=") : NULL;
  if (lip) {
    char a[32];
    size_t n = strcspn(lip + 9, " ,;");
    if (n < sizeof(a)) {
      memcpy(a, lip + 9, n);
      a[n] = 0;
      struct in_addr in;
      if (inet_pton(AF_INET, a, &in) == 1)
        p->local_ip = in.s_addr;
    }
  }
  ifc->userdata = p;
  ifc->free = pd_free;
  ifc->socket = pd_socket;
  ifc->bind = pd_bind;
  ifc->listen = pd_listen;
  ifc->accept = pd_accept;
  ifc->connect = pd_connect;
  ifc->read = pd_read;
  ifc->readv = pd_readv;
  ifc->recv = pd_recv;
  ifc->recvfrom = pd_recvfrom;
  ifc->recvmsg = pd_recvmsg;
  ifc->write = pd_write;
  ifc->writev = pd_writev;
  ifc->send = pd_send;
  ifc->sendto = pd_sendto;
  ifc->sendmsg = pd_sendmsg;
  ifc->fcntl = pd_fcntl;
  ifc->ioctl = pd_ioctl;
  ifc->close = pd_close;
  ifc->shutdown = pd_shutdown;
  ifc->getsockopt = pd_getsockopt;
  ifc->setsockopt = pd_setsockopt;
  ifc->poll = pd_poll;
  ifc->netdev_send = pd_netdev_send;
  ifc->netdev_receive = pd_netdev_receive;
  ifc->usleep = pd_usleep;
  ifc->gettimeofday = pd_gettimeofday;
  ifc->epoll_create = pd_epoll_create;
  ifc->epoll_ctl = pd_epoll_ctl;
  ifc->epoll_wait = pd_epoll_wait;
  ifc->pipe = pd_pipe;
  ifc->splice = pd_splice;
}
