/*
 * calls.c - system calls of a drill script, target-independent: checks a
 * call's shape at parse time, turns its script values into C arguments
 * (sockaddrs for "...", buffers of the given size, int/linger/timeval
 * option values), performs it through a target's dr_sysops table, and
 * compares output parameters (getsockopt values, ioctl counts, poll
 * revents) with the script's expectations.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>

#include "drill.h"

#define DR_MAX_IO (4u << 20) /* largest read/write a script may ask for */

struct shape {
  const char *name;
  int min, max; /* argument counts */
};
static const struct shape shapes[] = {
    {"socket", 3, 3},   {"bind", 3, 3},   {"listen", 2, 2},     {"accept", 3, 3},
    {"connect", 3, 3},  {"read", 3, 3},   {"write", 3, 3},      {"send", 4, 4},
    {"recv", 4, 4},     {"sendto", 6, 6}, {"recvfrom", 6, 6},   {"sendmsg", 3, 3},
    {"recvmsg", 3, 3},  {"readv", 3, 3},  {"writev", 3, 3},     {"close", 1, 1},
    {"shutdown", 2, 2}, {"dup", 1, 1},    {"setsockopt", 5, 5}, {"getsockopt", 5, 5},
    {"fcntl", 2, 3},    {"ioctl", 3, 3},  {"poll", 3, 3},
};

static bool is_int(const struct dr_val *v) { return v->kind == DR_V_INT; }

const char *dr_check_call(const struct dr_call *c)
{
  const struct shape *sh = NULL;
  for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++)
    if (!strcmp(shapes[i].name, c->name))
      sh = &shapes[i];
  if (!sh)
    return "unknown system call";
  if (c->nargs < sh->min || c->nargs > sh->max)
    return "wrong number of arguments";
  const char *n = c->name;
  /* the descriptor is always the first argument except for socket/poll */
  if (strcmp(n, "socket") && strcmp(n, "poll") && !is_int(&c->args[0]))
    return "first argument must be a descriptor";
  if (!strcmp(n, "setsockopt")) {
    const struct dr_val *v = &c->args[3];
    if (!is_int(&c->args[1]) || !is_int(&c->args[2]) || !is_int(&c->args[4]))
      return "level, name and length must be numbers";
    if (!(v->kind == DR_V_LIST && v->n == 1 && is_int(&v->v[0])) && v->kind != DR_V_STRUCT &&
        v->kind != DR_V_STR && v->kind != DR_V_INT)
      return "value must be [N], {onoff=.., linger=..}, {tv_sec=.., tv_usec=..} or a string";
  }
  if (!strcmp(n, "getsockopt")) {
    if (!is_int(&c->args[1]) || !is_int(&c->args[2]))
      return "level and name must be numbers";
  }
  if (!strcmp(n, "read") || !strcmp(n, "write") || !strcmp(n, "send") || !strcmp(n, "recv") ||
      !strcmp(n, "sendto") || !strcmp(n, "recvfrom")) {
    if (!is_int(&c->args[2]) || c->args[2].i < 0 || c->args[2].i > DR_MAX_IO)
      return "length must be a number up to 4 MiB";
  }
  if (!strcmp(n, "readv") || !strcmp(n, "writev")) {
    const struct dr_val *l = &c->args[1];
    if (l->kind != DR_V_LIST)
      return "iovec must be a list [{..., N}, ...]";
    for (int i = 0; i < l->n; i++)
      if (l->v[i].kind != DR_V_STRUCT || l->v[i].n != 2 || !is_int(&l->v[i].v[1]))
        return "each iovec must be {..., N}";
  }
  if (!strcmp(n, "poll")) {
    const struct dr_val *l = &c->args[0];
    if (l->kind != DR_V_LIST)
      return "first argument must be a list of {fd=, events=, revents=}";
    for (int i = 0; i < l->n; i++)
      if (l->v[i].kind != DR_V_STRUCT)
        return "each pollfd must be {fd=N, events=..., revents=...}";
  }
  if (!strcmp(n, "ioctl") && !is_int(&c->args[1]))
    return "request must be a number";
  return NULL;
}

static const struct dr_val *field(const struct dr_val *st, const char *name)
{
  for (int i = 0; i < st->n; i++)
    if (st->v[i].name && !strcmp(st->v[i].name, name))
      return &st->v[i];
  return NULL;
}

static int64_t ival(const struct dr_val *v, int64_t dflt)
{
  if (v && v->kind == DR_V_INT)
    return v->i;
  if (v && v->kind == DR_V_LIST && v->n == 1 && v->v[0].kind == DR_V_INT)
    return v->v[0].i;
  return dflt;
}

static void sin_make(struct sockaddr_in *sa, uint32_t ip, uint16_t port)
{
  memset(sa, 0, sizeof(*sa));
  sa->sin_family = AF_INET;
  sa->sin_addr.s_addr = htonl(ip);
  sa->sin_port = htons(port);
}

/* iovecs from [{..., N}, ...] into zeroed buffers; returns the count. */
static int iov_make(const struct dr_val *l, struct iovec *iov, int max)
{
  int n = 0;
  for (int i = 0; i < l->n && n < max; i++) {
    size_t len = (size_t)ival(&l->v[i].v[1], 0);
    if (len > DR_MAX_IO)
      len = DR_MAX_IO;
    iov[n].iov_base = calloc(1, len ? len : 1);
    iov[n].iov_len = len;
    n++;
  }
  return n;
}

static void iov_free(struct iovec *iov, int n)
{
  for (int i = 0; i < n; i++)
    free(iov[i].iov_base);
}

int dr_fd_live(const struct dr_fdmap *m, int fd)
{
  /* an unknown script descriptor becomes one that is surely not open */
  if (fd < 0 || fd >= DR_MAX_FDS || !m->live[fd])
    return fd < 0 ? fd : 1000000 + (fd & 0xffff);
  return m->live[fd] - 1;
}

static long long fd_new(struct dr_fdmap *m, long long live)
{
  if (live < 0)
    return live;
  for (int i = 3; i < DR_MAX_FDS; i++)
    if (!m->live[i]) {
      m->live[i] = (int)live + 1;
      return i;
    }
  return live;
}

void dr_exec_call(const struct dr_sysops *so, struct dr_fdmap *fm, const struct dr_call *c,
                  struct dr_callres *res)
{
  void *u = so->u;
  const char *n = c->name;
  const struct dr_val *a = c->args;
  int sfd = (int)ival(&a[0], -1);
  int fd = dr_fd_live(fm, sfd);
  long long r = -1;
  memset(res, 0, sizeof(*res));
  res->mismatch[0] = 0;

  if (!strcmp(n, "socket")) {
    r = so->socket(u, (int)ival(&a[0], AF_INET), (int)ival(&a[1], SOCK_STREAM),
                   (int)ival(&a[2], 0));
    r = fd_new(fm, r);
  } else if (!strcmp(n, "bind") || !strcmp(n, "connect")) {
    struct sockaddr_in sa;
    bool bind = !strcmp(n, "bind");
    sin_make(&sa, bind ? DR_LOCAL_IP : DR_REMOTE_IP, bind ? DR_LOCAL_PORT : DR_REMOTE_PORT);
    r = bind ? so->bind(u, fd, &sa, sizeof(sa)) : so->connect(u, fd, &sa, sizeof(sa));
  } else if (!strcmp(n, "listen")) {
    r = so->listen(u, fd, (int)ival(&a[1], 0));
  } else if (!strcmp(n, "accept")) {
    struct sockaddr_in sa;
    unsigned len = sizeof(sa);
    r = fd_new(fm, so->accept(u, fd, &sa, &len));
  } else if (!strcmp(n, "read") || !strcmp(n, "recv") || !strcmp(n, "recvfrom")) {
    size_t len = (size_t)ival(&a[2], 0);
    void *buf = calloc(1, len ? len : 1);
    if (!strcmp(n, "read"))
      r = so->read(u, fd, buf, len);
    else
      r = so->recv(u, fd, buf, len, (int)ival(&a[3], 0));
    free(buf);
  } else if (!strcmp(n, "write") || !strcmp(n, "send") || !strcmp(n, "sendto")) {
    size_t len = (size_t)ival(&a[2], 0);
    void *buf = calloc(1, len ? len : 1);
    if (!strcmp(n, "write"))
      r = so->write(u, fd, buf, len);
    else
      r = so->send(u, fd, buf, len, (int)ival(&a[3], 0));
    free(buf);
  } else if (!strcmp(n, "readv") || !strcmp(n, "writev")) {
    struct iovec iov[16];
    int cnt = iov_make(&a[1], iov, 16);
    r = !strcmp(n, "readv") ? so->readv(u, fd, iov, (int)ival(&a[2], cnt))
                            : so->writev(u, fd, iov, (int)ival(&a[2], cnt));
    iov_free(iov, cnt);
  } else if (!strcmp(n, "sendmsg") || !strcmp(n, "recvmsg")) {
    struct iovec iov[16];
    int cnt = 0;
    const struct dr_val *m = &a[1];
    const struct dr_val *l = m->kind == DR_V_STRUCT ? field(m, "msg_iov") : NULL;
    if (l && l->kind == DR_V_LIST)
      cnt = iov_make(l, iov, 16);
    struct msghdr mh;
    memset(&mh, 0, sizeof(mh));
    mh.msg_iov = iov;
    mh.msg_iovlen = (size_t)cnt;
    r = !strcmp(n, "sendmsg") ? so->sendmsg(u, fd, &mh, (int)ival(&a[2], 0))
                              : so->recvmsg(u, fd, &mh, (int)ival(&a[2], 0));
    iov_free(iov, cnt);
  } else if (!strcmp(n, "close")) {
    r = so->close(u, fd);
    if (r == 0 && sfd >= 0 && sfd < DR_MAX_FDS)
      fm->live[sfd] = 0;
  } else if (!strcmp(n, "shutdown")) {
    r = so->shutdown(u, fd, (int)ival(&a[1], 0));
  } else if (!strcmp(n, "dup")) {
    r = fd_new(fm, so->dup(u, fd));
  } else if (!strcmp(n, "setsockopt")) {
    const struct dr_val *v = &a[3];
    union {
      int i;
      struct linger l;
      struct timeval tv;
      char s[64];
    } opt;
    memset(&opt, 0, sizeof(opt));
    if (v->kind == DR_V_STRUCT && field(v, "onoff")) {
      opt.l.l_onoff = (int)ival(field(v, "onoff"), 0);
      opt.l.l_linger = (int)ival(field(v, "linger"), 0);
    } else if (v->kind == DR_V_STRUCT && field(v, "tv_sec")) {
      opt.tv.tv_sec = ival(field(v, "tv_sec"), 0);
      opt.tv.tv_usec = ival(field(v, "tv_usec"), 0);
    } else if (v->kind == DR_V_STR) {
      snprintf(opt.s, sizeof(opt.s), "%s", v->str);
    } else {
      opt.i = (int)ival(v, 0);
    }
    unsigned len = (unsigned)ival(&a[4], 4);
    if (len > sizeof(opt))
      len = sizeof(opt);
    r = so->setsockopt(u, fd, (int)ival(&a[1], 0), (int)ival(&a[2], 0), &opt, len);
  } else if (!strcmp(n, "getsockopt")) {
    union {
      int i;
      struct linger l;
      struct timeval tv;
      char s[256];
    } opt;
    memset(&opt, 0, sizeof(opt));
    unsigned len = (unsigned)ival(&a[4], 4);
    if (len > sizeof(opt))
      len = sizeof(opt);
    r = so->getsockopt(u, fd, (int)ival(&a[1], 0), (int)ival(&a[2], 0), &opt, &len);
    if (r == 0) {
      const struct dr_val *v = &a[3];
      if (v->kind == DR_V_STRUCT && field(v, "onoff")) {
        int64_t on = ival(field(v, "onoff"), 0), lg = ival(field(v, "linger"), 0);
        if (on != opt.l.l_onoff || lg != opt.l.l_linger)
          snprintf(res->mismatch, sizeof(res->mismatch),
                   "value: expected {onoff=%lld, linger=%lld}, actual {onoff=%d, linger=%d}",
                   (long long)on, (long long)lg, opt.l.l_onoff, opt.l.l_linger);
      } else if (v->kind == DR_V_LIST && v->n == 1 && v->v[0].kind == DR_V_INT) {
        if (v->v[0].i != opt.i)
          snprintf(res->mismatch, sizeof(res->mismatch), "value: expected [%lld], actual [%d]",
                   (long long)v->v[0].i, opt.i);
      }
      const struct dr_val *lv = &a[4];
      if (lv->kind == DR_V_LIST && lv->n == 1 && lv->v[0].kind == DR_V_INT &&
          lv->v[0].i != (int64_t)len && !res->mismatch[0])
        snprintf(res->mismatch, sizeof(res->mismatch), "length: expected [%lld], actual [%u]",
                 (long long)lv->v[0].i, len);
    }
  } else if (!strcmp(n, "fcntl")) {
    r = so->fcntl(u, fd, (int)ival(&a[1], 0), c->nargs > 2 ? (long)ival(&a[2], 0) : 0);
  } else if (!strcmp(n, "ioctl")) {
    int v = 0;
    r = so->ioctl(u, fd, (unsigned long)ival(&a[1], 0), &v);
    const struct dr_val *e = &a[2];
    if (r == 0 && e->kind == DR_V_LIST && e->n == 1 && e->v[0].kind == DR_V_INT && e->v[0].i != v)
      snprintf(res->mismatch, sizeof(res->mismatch), "value: expected [%lld], actual [%d]",
               (long long)e->v[0].i, v);
  } else if (!strcmp(n, "poll")) {
    struct pollfd pfd[16];
    const struct dr_val *l = &a[0];
    int cnt = l->n < 16 ? l->n : 16;
    for (int i = 0; i < cnt; i++) {
      pfd[i].fd = dr_fd_live(fm, (int)ival(field(&l->v[i], "fd"), -1));
      pfd[i].events = (short)ival(field(&l->v[i], "events"), 0);
      pfd[i].revents = 0;
    }
    r = so->poll(u, pfd, (unsigned)ival(&a[1], cnt), (int)ival(&a[2], 0));
    for (int i = 0; i < cnt && r >= 0 && !res->mismatch[0]; i++) {
      const struct dr_val *rv = field(&l->v[i], "revents");
      if (rv && rv->kind == DR_V_INT && rv->i != pfd[i].revents)
        snprintf(res->mismatch, sizeof(res->mismatch),
                 "revents of fd %d: expected 0x%llx, actual 0x%x",
                 (int)ival(field(&l->v[i], "fd"), -1), (unsigned long long)rv->i,
                 (unsigned)(unsigned short)pfd[i].revents);
    }
  }
  res->ret = r;
  res->err = r < 0 ? so->get_errno(u) : 0;
}

int dr_tcp_info_format(const void *p, char *out, size_t cap)
{
  const struct tcp_info *ti = p;
  size_t n = 0;
  out[0] = 0;
#define F(name)                                                                                    \
  do {                                                                                             \
    if (n < cap)                                                                                   \
      n += (size_t)snprintf(out + n, cap - n, "%s = %llu\n", #name, (unsigned long long)ti->name); \
  } while (0)
  F(tcpi_state);
  F(tcpi_ca_state);
  F(tcpi_retransmits);
  F(tcpi_probes);
  F(tcpi_backoff);
  F(tcpi_options);
  F(tcpi_snd_wscale);
  F(tcpi_rcv_wscale);
  F(tcpi_rto);
  F(tcpi_ato);
  F(tcpi_snd_mss);
  F(tcpi_rcv_mss);
  F(tcpi_unacked);
  F(tcpi_sacked);
  F(tcpi_lost);
  F(tcpi_retrans);
  F(tcpi_fackets);
  F(tcpi_last_data_sent);
  F(tcpi_last_ack_sent);
  F(tcpi_last_data_recv);
  F(tcpi_last_ack_recv);
  F(tcpi_pmtu);
  F(tcpi_rcv_ssthresh);
  F(tcpi_rtt);
  F(tcpi_rttvar);
  F(tcpi_snd_ssthresh);
  F(tcpi_snd_cwnd);
  F(tcpi_advmss);
  F(tcpi_reordering);
  F(tcpi_rcv_rtt);
  F(tcpi_rcv_space);
  F(tcpi_total_retrans);
#undef F
  return 0;
}
