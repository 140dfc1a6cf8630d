/*
 * api.c - the public socket API (include/ustcp/socket.h): the only place
 * that turns internal negative errno values into -1 + errno, and the only
 * place blocking happens. Every call is traced once, when it returns
 * (us_trace_api), with its arguments in readable form.
 *
 * Blocking model: a blocking call is a non-blocking attempt plus
 * link->wait(user, s, deadline) in a loop. wait() runs the driver (the sim
 * advances the whole world) until something happened; -EDEADLK means nothing
 * pending can ever satisfy the call, which then fails at once with EDEADLK
 * (a library must not hang where a kernel would sleep forever). Without a
 * wait callback blocking calls behave as non-blocking ones.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "socket/sock.h"
#include "ustcp/socket.h"

#ifndef SIOCOUTQ
#define SIOCOUTQ TIOCOUTQ
#endif
#ifndef SIOCINQ
#define SIOCINQ FIONREAD
#endif

long us_sock_ret(struct ustcp_stack *s, const char *api, int fd, long r, const char *detail)
{
  int err = 0;
  long ret = r;
  if (r < 0) {
    err = (int)-r;
    ret = -1;
  }
  us_trace_api(s, api, fd, ret, err, detail ? detail : "");
  if (r < 0)
    errno = err;
  return ret;
}

ustcp_time_t us_sock_deadline(const struct ustcp_stack *s, uint32_t timeo_ms)
{
  return timeo_ms ? s->now + USTCP_MS(timeo_ms) : USTCP_TIME_NEVER;
}

int us_sock_wait(struct ustcp_stack *s, ustcp_time_t deadline)
{
  const struct ustcp_link_ops *l = s->cfg.link;
  if (!l || !l->wait)
    return -EAGAIN;
  if (deadline != USTCP_TIME_NEVER && s->now >= deadline)
    return -EAGAIN;
  int w = l->wait(s->cfg.link_user, s, deadline);
  us_clock_refresh(s);
  if (w == -EDEADLK)
    return -EDEADLK;
  if (w == -ETIMEDOUT || (deadline != USTCP_TIME_NEVER && s->now >= deadline))
    return -EAGAIN;
  return 0;
}

/* After a wait the descriptor may have been closed by someone else. */
static struct us_tcb *still(struct ustcp_stack *s, int fd, struct us_tcb *t)
{
  return us_sock_get(s, fd) == t ? t : NULL;
}

static const char *fmt_addr(const struct ustcp_stack *s, char *buf, size_t n,
                            const struct sockaddr *a, socklen_t len)
{
  buf[0] = 0;
  if (!us_tracing(s))
    return buf;
  if (!a || len < (socklen_t)sizeof(struct sockaddr_in) || a->sa_family != AF_INET) {
    snprintf(buf, n, "?");
    return buf;
  }
  const struct sockaddr_in *in = (const struct sockaddr_in *)a;
  char ip[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
  snprintf(buf, n, "%s:%u", ip, ntohs(in->sin_port));
  return buf;
}

static bool nonblock(const struct us_tcb *t, int flags)
{
  return (t->flags & TF_NONBLOCK) || (flags & MSG_DONTWAIT);
}

/* ------------------------------------------------------------ creation */

int ustcp_socket(struct ustcp_stack *s, int domain, int type, int protocol)
{
  us_clock_refresh(s);
  char d[64];
  US_DETAIL(s, d, "domain=%d type=%d proto=%d", domain, type, protocol);
  int base = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
  long r;
  if (domain != AF_INET)
    r = -EAFNOSUPPORT;
  else if (base != SOCK_STREAM)
    r = base == SOCK_DGRAM || base == SOCK_RAW || base == SOCK_SEQPACKET ? -EPROTONOSUPPORT
                                                                         : -EINVAL;
  else if (protocol != 0 && protocol != IPPROTO_TCP)
    r = -EPROTONOSUPPORT;
  else if (!us_sock_fd_available(s))
    r = -EMFILE;
  else {
    struct us_tcb *t = us_tcp_socket(s);
    if (!t) {
      r = -ENOBUFS;
    } else {
      if (type & SOCK_NONBLOCK)
        t->flags |= TF_NONBLOCK;
      r = us_sock_fd_alloc(s, t);
      if (r < 0) {
        t->flags |= TF_ORPHAN;
        us_tcb_maybe_free(s, t);
      }
    }
  }
  return (int)us_sock_ret(s, "socket", -1, r, d);
}

static int get_sin(const struct sockaddr *addr, socklen_t len, uint32_t *ip, uint16_t *port,
                   bool connect)
{
  if (!addr)
    return -EFAULT;
  if (len < (socklen_t)sizeof(struct sockaddr_in))
    return -EINVAL;
  if (addr->sa_family != AF_INET)
    return connect ? -EAFNOSUPPORT : -EAFNOSUPPORT;
  const struct sockaddr_in *in = (const struct sockaddr_in *)addr;
  *ip = ntohl(in->sin_addr.s_addr);
  *port = ntohs(in->sin_port);
  return 0;
}

int ustcp_bind(struct ustcp_stack *s, int fd, const struct sockaddr *addr, socklen_t len)
{
  us_clock_refresh(s);
  char d[64];
  fmt_addr(s, d, sizeof(d), addr, len);
  struct us_tcb *t = us_sock_get(s, fd);
  long r;
  uint32_t ip;
  uint16_t port;
  if (!t)
    r = -EBADF;
  else if ((r = get_sin(addr, len, &ip, &port, false)) == 0)
    r = us_tcp_bind(s, t, ip, port);
  return (int)us_sock_ret(s, "bind", fd, r, d);
}

int ustcp_listen(struct ustcp_stack *s, int fd, int backlog)
{
  us_clock_refresh(s);
  char d[32];
  US_DETAIL(s, d, "backlog=%d", backlog);
  struct us_tcb *t = us_sock_get(s, fd);
  long r = t ? us_tcp_listen(s, t, backlog) : -EBADF;
  return (int)us_sock_ret(s, "listen", fd, r, d);
}

static void fill_sin(struct sockaddr *addr, socklen_t *len, uint32_t ip, uint16_t port)
{
  if (!addr || !len)
    return;
  struct sockaddr_in in;
  memset(&in, 0, sizeof(in));
  in.sin_family = AF_INET;
  in.sin_addr.s_addr = htonl(ip);
  in.sin_port = htons(port);
  socklen_t n = *len < (socklen_t)sizeof(in) ? *len : (socklen_t)sizeof(in);
  memcpy(addr, &in, n);
  *len = sizeof(in);
}

int ustcp_accept4(struct ustcp_stack *s, int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
  us_clock_refresh(s);
  struct us_tcb *t = us_sock_get(s, fd);
  long r;
  char d[64] = "";
  if (!t) {
    r = -EBADF;
  } else if (flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) {
    r = -EINVAL;
  } else {
    ustcp_time_t dl = us_sock_deadline(s, t->rcvtimeo_ms);
    for (;;) {
      if (t->state != USTCP_TCP_LISTEN) {
        r = -EINVAL;
        break;
      }
      if (t->lq && t->lq->aq_head) {
        if (!us_sock_fd_available(s)) {
          r = -EMFILE;
          break;
        }
        struct us_tcb *c = us_tcp_accept_pop(s, t);
        if (flags & SOCK_NONBLOCK)
          c->flags |= TF_NONBLOCK;
        c->flags |= TF_SS_CONNECTED;
        r = us_sock_fd_alloc(s, c);
        if (r < 0) {
          c->flags |= TF_ORPHAN;
          us_tcp_close(s, c);
          us_tcp_orphan(s, c);
          break;
        }
        fill_sin(addr, len, c->e.raddr, c->e.rport);
        struct sockaddr_in in = {.sin_family = AF_INET,
                                 .sin_port = htons(c->e.rport),
                                 .sin_addr.s_addr = htonl(c->e.raddr)};
        fmt_addr(s, d, sizeof(d), (struct sockaddr *)&in, sizeof(in));
        break;
      }
      if (t->flags & TF_NONBLOCK) {
        r = -EAGAIN;
        break;
      }
      r = us_sock_wait(s, dl);
      if (r)
        break;
      if (!(t = still(s, fd, t))) {
        r = -EBADF;
        break;
      }
    }
  }
  return (int)us_sock_ret(s, "accept", fd, r, d);
}

int ustcp_accept(struct ustcp_stack *s, int fd, struct sockaddr *addr, socklen_t *len)
{
  return ustcp_accept4(s, fd, addr, len, 0);
}

int ustcp_connect(struct ustcp_stack *s, int fd, const struct sockaddr *addr, socklen_t len)
{
  us_clock_refresh(s);
  char d[64];
  fmt_addr(s, d, sizeof(d), addr, len);
  struct us_tcb *t = us_sock_get(s, fd);
  long r;
  uint32_t ip;
  uint16_t port;
  if (!t) {
    r = -EBADF;
  } else if ((r = get_sin(addr, len, &ip, &port, true)) == 0) {
    r = us_tcp_connect(s, t, ip, port);
    if (r == -EINPROGRESS || r == -EALREADY) {
      int pending = (int)r;
      if (!(t->flags & TF_NONBLOCK)) {
        /* Linux: SO_SNDTIMEO bounds a blocking connect (then EINPROGRESS). */
        ustcp_time_t dl = us_sock_deadline(s, t->sndtimeo_ms);
        while (us_tcp_connecting(t)) {
          int w = us_sock_wait(s, dl);
          if (w == -EDEADLK) {
            pending = -EDEADLK;
            break;
          }
          if (!(t = still(s, fd, t))) {
            pending = -EBADF;
            break;
          }
          if (w)
            break;
        }
      }
      r = t ? us_tcp_connect_finish(s, t, pending) : pending;
    }
  }
  return (int)us_sock_ret(s, "connect", fd, r, d);
}

/* --------------------------------------------------------------- data */

/* The loop a data call runs: try the transfer; on EAGAIN a blocking socket
 * waits (up to SO_SNDTIMEO / SO_RCVTIMEO) and re-checks its descriptor, and
 * once anything moved an error or timeout returns the partial count
 * (Linux tcp_sendmsg / tcp_recvmsg). A receive returns as soon as it has
 * data, unless MSG_WAITALL asks for the whole length; 0 is end of file. */
static long xfer(struct ustcp_stack *s, int fd, struct us_tcb *t, const struct iovec *iov,
                 int iovcnt, size_t total, int flags, bool rx)
{
  size_t done = 0;
  bool waitall = rx && (flags & MSG_WAITALL) && !(flags & MSG_PEEK);
  ustcp_time_t dl = us_sock_deadline(s, rx ? t->rcvtimeo_ms : t->sndtimeo_ms);
  for (;;) {
    ssize_t n = !rx     ? us_tcp_send(s, t, iov, iovcnt, done, flags)
                : total ? us_tcp_recv(s, t, iov, iovcnt, done, flags)
                        : 0;
    if (n > 0)
      done += (size_t)n;
    if (rx && n > 0 && waitall && done < total)
      continue;
    if ((rx && n >= 0) || (!rx && n >= 0 && done >= total))
      return (long)done;
    if (n < 0 && n != -EAGAIN)
      return done ? (long)done : (long)n;
    if (nonblock(t, flags))
      return done ? (long)done : -EAGAIN;
    int w = us_sock_wait(s, dl);
    if (w)
      return done ? (long)done : w;
    if (!(t = still(s, fd, t)))
      return done ? (long)done : -EBADF;
  }
}

static size_t iov_total(const struct iovec *iov, int iovcnt)
{
  size_t total = 0;
  for (int i = 0; i < iovcnt; i++)
    total += iov[i].iov_len;
  return total;
}

static ssize_t do_send(struct ustcp_stack *s, const char *api, int fd, const struct iovec *iov,
                       int iovcnt, int flags)
{
  us_clock_refresh(s);
  struct us_tcb *t = us_sock_get(s, fd);
  /* A write is often the first touch of a connection in a while (a
   * received segment, or the read after it, finds it warm). */
  if (t)
    us_tcb_prefetch(t);
  size_t total = iov_total(iov, iovcnt);
  char d[48] = "";
  US_DETAIL(s, d, "len=%zu", total);
  long r;
  if (!t)
    r = -EBADF;
  else if (iovcnt < 0 || iovcnt > 1024)
    r = -EINVAL;
  else
    r = xfer(s, fd, t, iov, iovcnt, total, flags, false);
  return (ssize_t)us_sock_ret(s, api, fd, r, d);
}

static ssize_t do_recv(struct ustcp_stack *s, const char *api, int fd, const struct iovec *iov,
                       int iovcnt, int flags)
{
  us_clock_refresh(s);
  struct us_tcb *t = us_sock_get(s, fd);
  size_t total = iov_total(iov, iovcnt);
  char d[48] = "";
  US_DETAIL(s, d, "len=%zu%s%s%s", total, (flags & MSG_PEEK) ? " MSG_PEEK" : "",
            (flags & MSG_DONTWAIT) ? " MSG_DONTWAIT" : "",
            (flags & MSG_WAITALL) ? " MSG_WAITALL" : "");
  long r;
  if (!t)
    r = -EBADF;
  else if (iovcnt < 0 || iovcnt > 1024)
    r = -EINVAL;
  else if (flags & MSG_OOB)
    r = -EINVAL; /* Linux: no urgent data held */
  else
    r = xfer(s, fd, t, iov, iovcnt, total, flags, true);
  return (ssize_t)us_sock_ret(s, api, fd, r, d);
}

ssize_t ustcp_send(struct ustcp_stack *s, int fd, const void *buf, size_t len, int flags)
{
  struct iovec v = {.iov_base = (void *)buf, .iov_len = len};
  return do_send(s, "send", fd, &v, 1, flags);
}

ssize_t ustcp_write(struct ustcp_stack *s, int fd, const void *buf, size_t len)
{
  struct iovec v = {.iov_base = (void *)buf, .iov_len = len};
  return do_send(s, "write", fd, &v, 1, 0);
}

ssize_t ustcp_writev(struct ustcp_stack *s, int fd, const struct iovec *iov, int iovcnt)
{
  return do_send(s, "writev", fd, iov, iovcnt, 0);
}

ssize_t ustcp_sendmsg(struct ustcp_stack *s, int fd, const struct msghdr *msg, int flags)
{
  if (!msg) {
    us_clock_refresh(s);
    return (ssize_t)us_sock_ret(s, "sendmsg", fd, -EFAULT, "");
  }
  return do_send(s, "sendmsg", fd, msg->msg_iov, (int)msg->msg_iovlen, flags);
}

ssize_t ustcp_recv(struct ustcp_stack *s, int fd, void *buf, size_t len, int flags)
{
  struct iovec v = {.iov_base = buf, .iov_len = len};
  return do_recv(s, "recv", fd, &v, 1, flags);
}

ssize_t ustcp_read(struct ustcp_stack *s, int fd, void *buf, size_t len)
{
  struct iovec v = {.iov_base = buf, .iov_len = len};
  return do_recv(s, "read", fd, &v, 1, 0);
}

ssize_t ustcp_readv(struct ustcp_stack *s, int fd, const struct iovec *iov, int iovcnt)
{
  return do_recv(s, "readv", fd, iov, iovcnt, 0);
}

ssize_t ustcp_recvmsg(struct ustcp_stack *s, int fd, struct msghdr *msg, int flags)
{
  if (!msg) {
    us_clock_refresh(s);
    return (ssize_t)us_sock_ret(s, "recvmsg", fd, -EFAULT, "");
  }
  msg->msg_flags = 0;
  msg->msg_controllen = 0;
  return do_recv(s, "recvmsg", fd, msg->msg_iov, (int)msg->msg_iovlen, flags);
}

/* --------------------------------------------------------- teardown */

int ustcp_shutdown(struct ustcp_stack *s, int fd, int how)
{
  us_clock_refresh(s);
  static const char *const names[] = {"how=SHUT_RD", "how=SHUT_WR", "how=SHUT_RDWR"};
  char d[24];
  if (how >= 0 && how <= 2)
    US_DETAIL(s, d, "%s", names[how]);
  else
    US_DETAIL(s, d, "how=%d", how);
  struct us_tcb *t = us_sock_get(s, fd);
  long r = t ? us_tcp_shutdown(s, t, how) : -EBADF;
  return (int)us_sock_ret(s, "shutdown", fd, r, d);
}

int ustcp_close(struct ustcp_stack *s, int fd)
{
  us_clock_refresh(s);
  struct us_tcb *t = us_sock_get(s, fd);
  long r = 0;
  if (!t) {
    r = -EBADF;
  } else if ((t = us_sock_fd_release(s, fd)) != NULL) {
    us_tcp_close(s, t);
    if ((t->flags & TF_LINGER) && t->linger > 0 && !us_tcp_linger_done(t)) {
      /* SO_LINGER > 0: block (even when non-blocking, as Linux) until our
       * FIN is ACKed or the time is up; 0 either way (Linux). */
      ustcp_time_t dl = s->now + USTCP_SEC((ustcp_time_t)t->linger);
      while (!us_tcp_linger_done(t)) {
        if (us_sock_wait(s, dl)) {
          if (!us_tcp_linger_done(t))
            us_trace_note(s, USTCP_TR_TIMER, "linger");
          break;
        }
      }
    }
    us_tcp_orphan(s, t);
  }
  return (int)us_sock_ret(s, "close", fd, r, "");
}

int ustcp_dup(struct ustcp_stack *s, int fd)
{
  us_clock_refresh(s);
  struct us_tcb *t = us_sock_get(s, fd);
  long r = t ? us_sock_fd_alloc(s, t) : -EBADF;
  return (int)us_sock_ret(s, "dup", fd, r, "");
}

int ustcp_fcntl(struct ustcp_stack *s, int fd, int cmd, ...)
{
  us_clock_refresh(s);
  va_list ap;
  va_start(ap, cmd);
  int arg = (cmd == F_SETFL || cmd == F_SETFD || cmd == F_DUPFD) ? va_arg(ap, int) : 0;
  va_end(ap);
  char d[48];
  struct us_tcb *t = us_sock_get(s, fd);
  long r;
  if (!t) {
    r = -EBADF;
    US_DETAIL(s, d, "cmd=%d", cmd);
  } else if (cmd == F_GETFL) {
    r = O_RDWR | ((t->flags & TF_NONBLOCK) ? O_NONBLOCK : 0);
    US_DETAIL(s, d, "F_GETFL");
  } else if (cmd == F_SETFL) {
    if (arg & O_NONBLOCK)
      t->flags |= TF_NONBLOCK;
    else
      t->flags &= ~TF_NONBLOCK;
    r = 0;
    US_DETAIL(s, d, "F_SETFL%s", (arg & O_NONBLOCK) ? " O_NONBLOCK" : "");
  } else if (cmd == F_GETFD) {
    r = 0;
    US_DETAIL(s, d, "F_GETFD");
  } else if (cmd == F_SETFD) {
    r = 0;
    US_DETAIL(s, d, "F_SETFD");
  } else {
    r = -EINVAL;
    US_DETAIL(s, d, "cmd=%d", cmd);
  }
  return (int)us_sock_ret(s, "fcntl", fd, r, d);
}

int ustcp_ioctl(struct ustcp_stack *s, int fd, unsigned long req, ...)
{
  us_clock_refresh(s);
  va_list ap;
  va_start(ap, req);
  int *p = va_arg(ap, int *);
  va_end(ap);
  struct us_tcb *t = us_sock_get(s, fd);
  long r = 0;
  const char *d = "";
  if (!t) {
    r = -EBADF;
  } else if (req == FIONREAD) {
    d = "FIONREAD";
    /* Linux: EINVAL on a listener. */
    if (t->state == USTCP_TCP_LISTEN)
      r = -EINVAL;
    else if (!p)
      r = -EFAULT;
    else
      *p = (int)t->rcvq.len;
  } else if (req == SIOCOUTQ) {
    d = "SIOCOUTQ";
    if (t->state == USTCP_TCP_LISTEN)
      r = -EINVAL;
    else if (!p)
      r = -EFAULT;
    else
      *p = (int)us_tcp_outq(t);
  } else if (req == FIONBIO) {
    d = "FIONBIO";
    if (!p)
      r = -EFAULT;
    else if (*p)
      t->flags |= TF_NONBLOCK;
    else
      t->flags &= ~TF_NONBLOCK;
  } else {
    r = -ENOTTY;
  }
  if (r == 0 && p && (req == FIONREAD || req == SIOCOUTQ)) {
    char buf[48];
    US_DETAIL(s, buf, "%s -> %d", d, *p);
    return (int)us_sock_ret(s, "ioctl", fd, r, buf);
  }
  return (int)us_sock_ret(s, "ioctl", fd, r, d);
}

int ustcp_getsockname(struct ustcp_stack *s, int fd, struct sockaddr *addr, socklen_t *len)
{
  us_clock_refresh(s);
  struct us_tcb *t = us_sock_get(s, fd);
  long r = 0;
  if (!t)
    r = -EBADF;
  else if (!addr || !len)
    r = -EFAULT;
  else if ((int)*len < 0)
    r = -EINVAL;
  else
    fill_sin(addr, len, t->e.laddr, t->e.lport);
  return (int)us_sock_ret(s, "getsockname", fd, r, "");
}

int ustcp_getpeername(struct ustcp_stack *s, int fd, struct sockaddr *addr, socklen_t *len)
{
  us_clock_refresh(s);
  struct us_tcb *t = us_sock_get(s, fd);
  long r = 0;
  if (!t)
    r = -EBADF;
  else if (!addr || !len)
    r = -EFAULT;
  else if (t->state == USTCP_TCP_LISTEN || t->state == USTCP_TCP_CLOSE ||
           t->state == USTCP_TCP_SYN_SENT)
    r = -ENOTCONN; /* Linux inet_getname(peer): CLOSE or SYN_SENT */
  else
    fill_sin(addr, len, t->e.raddr, t->e.rport);
  return (int)us_sock_ret(s, "getpeername", fd, r, "");
}

int ustcp_listen_info(struct ustcp_stack *s, int fd, struct ustcp_listen_info *out)
{
  us_clock_refresh(s);
  struct us_tcb *t = us_sock_get(s, fd);
  long r = 0;
  if (!t)
    r = -EBADF;
  else if (!out)
    r = -EFAULT;
  else if (t->state != USTCP_TCP_LISTEN || !t->lq)
    r = -EINVAL;
  else {
    out->accept_qlen = t->lq->aq_len;
    out->syn_qlen = t->lq->syn_qlen;
    out->backlog = (unsigned)t->lq->backlog;
  }
  return (int)us_sock_ret(s, "listen_info", fd, r, "");
}

int ustcp_sock_state(struct ustcp_stack *s, int fd)
{
  us_clock_refresh(s);
  struct us_tcb *t = us_sock_get(s, fd);
  long r = t ? (long)t->state : -EBADF;
  return (int)us_sock_ret(s, "sock_state", fd, r, "");
}
