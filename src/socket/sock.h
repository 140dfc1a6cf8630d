/*
 * sock.h - the socket layer (src/socket): the descriptor table mapping
 * small ints to reference-counted sockets (struct us_tcb), and the helpers
 * api.c, sockopt.c and poll.c share. Only api.c (and the public entry
 * points in sockopt.c/poll.c, through us_sock_ret) set errno.
 */
#ifndef US_SOCK_H
#define US_SOCK_H

#include <stdio.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "tcp/tcp.h"

#define US_FD_FIRST 3 /* like a process whose 0, 1, 2 are taken */

struct us_socks {
  struct us_tcb **fds; /* fds[fd] or NULL */
  uint32_t cap;
  uint32_t hint; /* no free slot below this */
  uint32_t used;
};

struct us_tcb *us_sock_get(struct ustcp_stack *s, int fd);
/* Lowest free descriptor for t (adds a reference), or -EMFILE/-ENOMEM. */
int us_sock_fd_alloc(struct ustcp_stack *s, struct us_tcb *t);
/* Remove fd from the table; returns the socket if that was its last
 * descriptor (the caller closes it), else NULL. */
struct us_tcb *us_sock_fd_release(struct ustcp_stack *s, int fd);
bool us_sock_fd_available(struct ustcp_stack *s);

/* Format a trace detail only when a trace hook is set (the formatting
 * would otherwise dominate cheap calls). */
#define US_DETAIL(s, buf, ...)                                                                     \
  do {                                                                                             \
    if (us_tracing(s))                                                                             \
      snprintf((buf), sizeof(buf), __VA_ARGS__);                                                   \
    else                                                                                           \
      (buf)[0] = 0;                                                                                \
  } while (0)

/* Public-edge helpers: trace the call and set errno. */
long us_sock_ret(struct ustcp_stack *s, const char *api, int fd, long r, const char *detail);

/* Blocking: run the driver until `deadline`. 0 = something happened,
 * -EAGAIN = deadline passed / no driver wait, -EDEADLK = it never will. */
int us_sock_wait(struct ustcp_stack *s, ustcp_time_t deadline);
ustcp_time_t us_sock_deadline(const struct ustcp_stack *s, uint32_t timeo_ms);

int us_sockopt_set(struct ustcp_stack *s, struct us_tcb *t, int level, int name, const void *val,
                   socklen_t len);
int us_sockopt_get(struct ustcp_stack *s, struct us_tcb *t, int level, int name, void *val,
                   socklen_t *len);

#endif
