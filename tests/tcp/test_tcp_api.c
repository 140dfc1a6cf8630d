/*
 * test_tcp_api.c - the socket API's blocking model and data calls: EDEADLK
 * when nothing can ever wake a blocking call, SO_RCVTIMEO/SO_SNDTIMEO,
 * readv/writev/sendmsg/recvmsg, MSG_PEEK, MSG_WAITALL, MSG_DONTWAIT,
 * FIONREAD/SIOCOUTQ, fcntl O_NONBLOCK, descriptor numbering, EBADF.
 */
#include "tcp/fixture.h"

#ifndef SIOCOUTQ
#define SIOCOUTQ TIOCOUTQ
#endif

static void deadlock_and_timeouts(void)
{
  struct fx f;
  fx_init(&f, 5);
  int l, s;
  int c = fx_pair(&f, 80, &l, &s);
  fx_run(&f, 1); /* let every ACK and timer settle */
  char b[8];
  /* Nothing is in flight and no timer can fire: a blocking read would
   * sleep forever in Linux; here it fails at once with EDEADLK. */
  T_EQ(ustcp_read(f.S, s, b, sizeof(b)), -1);
  T_EQ(errno, EDEADLK);
  T_EQ(ustcp_accept(f.S, l, NULL, NULL), -1);
  T_EQ(errno, EDEADLK);
  /* SO_RCVTIMEO bounds the wait: EAGAIN after it. */
  struct timeval tv = {.tv_sec = 0, .tv_usec = 250000};
  T_EQ(ustcp_setsockopt(f.S, s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
  struct timeval got;
  socklen_t gl = sizeof(got);
  T_EQ(ustcp_getsockopt(f.S, s, SOL_SOCKET, SO_RCVTIMEO, &got, &gl), 0);
  T_EQ(got.tv_usec, 250000);
  double t0 = fx_now(&f);
  T_EQ(ustcp_read(f.S, s, b, sizeof(b)), -1);
  T_EQ(errno, EAGAIN);
  T_CHECK(fx_now(&f) - t0 >= 0.249 && fx_now(&f) - t0 <= 0.26);
  /* SO_SNDTIMEO: a writer blocked by a full window returns what it wrote. */
  tv.tv_sec = 1;
  tv.tv_usec = 0;
  T_EQ(ustcp_setsockopt(f.C, c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)), 0);
  static char big[8 << 20];
  ssize_t w = ustcp_write(f.C, c, big, sizeof(big));
  T_CHECK(w > 0 && w < (ssize_t)sizeof(big));
  int q = 0;
  T_EQ(ustcp_ioctl(f.C, c, SIOCOUTQ, &q), 0);
  T_CHECK(q > 0);
  fx_fini(&f);
}

static void vectors_and_flags(void)
{
  struct fx f;
  fx_init(&f, 5);
  int l, s;
  int c = fx_pair(&f, 80, &l, &s);
  struct iovec wv[3] = {{"abc", 3}, {"", 0}, {"defgh", 5}};
  T_EQ(ustcp_writev(f.C, c, wv, 3), 8);
  fx_run(&f, 0.1);
  int n = 0;
  T_EQ(ustcp_ioctl(f.S, s, FIONREAD, &n), 0);
  T_EQ(n, 8);
  char p[4];
  T_EQ(ustcp_recv(f.S, s, p, 4, MSG_PEEK), 4);
  T_CHECK(memcmp(p, "abcd", 4) == 0);
  char a[2], b[10];
  struct iovec rv[2] = {{a, 2}, {b, 10}};
  T_EQ(ustcp_readv(f.S, s, rv, 2), 8);
  T_CHECK(memcmp(a, "ab", 2) == 0 && memcmp(b, "cdefgh", 6) == 0);
  T_EQ(ustcp_recv(f.S, s, p, 4, MSG_DONTWAIT), -1);
  T_EQ(errno, EAGAIN);
  /* sendmsg/recvmsg and MSG_WAITALL across several segments. */
  struct iovec sv = {"0123456789", 10};
  struct msghdr m;
  memset(&m, 0, sizeof(m));
  m.msg_iov = &sv;
  m.msg_iovlen = 1;
  T_EQ(ustcp_sendmsg(f.C, c, &m, 0), 10);
  fx_run(&f, 0.1);
  T_EQ(ustcp_write(f.C, c, "ABCDEFGHIJ", 10), 10);
  char r[20];
  struct iovec riv = {r, 20};
  m.msg_iov = &riv;
  T_EQ(ustcp_recvmsg(f.S, s, &m, MSG_WAITALL), 20);
  T_CHECK(memcmp(r, "0123456789ABCDEFGHIJ", 20) == 0);
  T_EQ(m.msg_flags, 0);
  /* O_NONBLOCK through fcntl and dup sharing it (one open file). */
  T_EQ(ustcp_fcntl(f.S, s, F_SETFL, O_NONBLOCK), 0);
  int d = ustcp_dup(f.S, s);
  T_CHECK(d > s);
  T_CHECK(ustcp_fcntl(f.S, d, F_GETFL) & O_NONBLOCK);
  T_EQ(ustcp_read(f.S, d, r, 1), -1);
  T_EQ(errno, EAGAIN);
  /* The lowest free descriptor is reused. */
  T_EQ(ustcp_close(f.S, d), 0);
  T_EQ(ustcp_dup(f.S, s), d);
  T_EQ(ustcp_read(f.S, 1234, r, 1), -1);
  T_EQ(errno, EBADF);
  T_EQ(ustcp_close(f.S, 1234), -1);
  T_EQ(errno, EBADF);
  struct pollfd pf[2] = {{.fd = s, .events = POLLIN}, {.fd = 999, .events = POLLIN}};
  T_EQ(ustcp_poll(f.S, pf, 2, 0), 1);
  T_EQ(pf[1].revents, POLLNVAL);
  fx_fini(&f);
}

int main(void)
{
  T_RUN(deadlock_and_timeouts);
  T_RUN(vectors_and_flags);
  return T_DONE();
}
