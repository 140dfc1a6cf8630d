/*
 * poll.c - ustcp_poll(): readiness bits exactly as Linux tcp_poll() reports
 * them (us_tcp_poll), POLLNVAL for a bad descriptor, and a blocking wait on
 * the driver until a bit is set or the timeout passes.
 */
#include <errno.h>
#include <stdio.h>

#include "socket/sock.h"
#include "ustcp/socket.h"

static int scan(struct ustcp_stack *s, struct pollfd *fds, nfds_t n)
{
  int ready = 0;
  for (nfds_t i = 0; i < n; i++) {
    fds[i].revents = 0;
    if (fds[i].fd < 0)
      continue;
    struct us_tcb *t = us_sock_get(s, fds[i].fd);
    if (!t) {
      fds[i].revents = POLLNVAL;
    } else {
      short m = us_tcp_poll(s, t);
      fds[i].revents = (short)(m & (fds[i].events | POLLERR | POLLHUP));
    }
    if (fds[i].revents)
      ready++;
  }
  return ready;
}

int ustcp_poll(struct ustcp_stack *s, struct pollfd *fds, nfds_t nfds, int timeout_ms)
{
  us_clock_refresh(s);
  char d[48];
  US_DETAIL(s, d, "nfds=%lu timeout=%d", (unsigned long)nfds, timeout_ms);
  long r;
  if (!fds && nfds) {
    r = -EFAULT;
  } else if (nfds > (nfds_t)s->cfg.max_sockets + 3) {
    r = -EINVAL;
  } else {
    ustcp_time_t dl = timeout_ms < 0 ? USTCP_TIME_NEVER : s->now + USTCP_MS((uint64_t)timeout_ms);
    for (;;) {
      r = scan(s, fds, nfds);
      if (r > 0 || timeout_ms == 0)
        break;
      int w = us_sock_wait(s, dl);
      if (w == -EAGAIN) {
        r = scan(s, fds, nfds);
        break;
      }
      if (w) {
        r = w;
        break;
      }
    }
  }
  return (int)us_sock_ret(s, "poll", -1, r, d);
}
