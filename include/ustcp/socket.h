/*
 * socket.h - the BSD-style socket API of a ustcp stack.
 *
 * Every call takes the stack first and otherwise mirrors the libc call of the
 * same name: it returns what Linux returns and, on failure, -1 with Linux's
 * errno in `errno`. Descriptors are small ints private to one stack; dup()
 * shares the socket (reference counted). Constants are Linux's own
 * (<sys/socket.h>, <netinet/tcp.h>, <poll.h>, <fcntl.h>, <sys/ioctl.h>).
 * A send never raises SIGPIPE: EPIPE is returned as with MSG_NOSIGNAL.
 *
 * Blocking calls run the stack's driver (ustcp_link_ops.wait) until they can
 * complete; in the simulator a wait that nothing can ever satisfy fails at
 * once with EDEADLK instead of hanging.
 */
#ifndef USTCP_SOCKET_H
#define USTCP_SOCKET_H

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "ustcp/ustcp.h"

#ifdef __cplusplus
extern "C" {
#endif

USTCP_API int ustcp_socket(struct ustcp_stack *s, int domain, int type, int protocol);
USTCP_API int ustcp_bind(struct ustcp_stack *s, int fd, const struct sockaddr *addr, socklen_t len);
USTCP_API int ustcp_listen(struct ustcp_stack *s, int fd, int backlog);
USTCP_API int ustcp_accept(struct ustcp_stack *s, int fd, struct sockaddr *addr, socklen_t *len);
USTCP_API int ustcp_accept4(struct ustcp_stack *s, int fd, struct sockaddr *addr, socklen_t *len,
                            int flags);
USTCP_API int ustcp_connect(struct ustcp_stack *s, int fd, const struct sockaddr *addr,
                            socklen_t len);
USTCP_API ssize_t ustcp_send(struct ustcp_stack *s, int fd, const void *buf, size_t len, int flags);
USTCP_API ssize_t ustcp_recv(struct ustcp_stack *s, int fd, void *buf, size_t len, int flags);
USTCP_API ssize_t ustcp_read(struct ustcp_stack *s, int fd, void *buf, size_t len);
USTCP_API ssize_t ustcp_write(struct ustcp_stack *s, int fd, const void *buf, size_t len);
USTCP_API ssize_t ustcp_readv(struct ustcp_stack *s, int fd, const struct iovec *iov, int iovcnt);
USTCP_API ssize_t ustcp_writev(struct ustcp_stack *s, int fd, const struct iovec *iov, int iovcnt);
USTCP_API ssize_t ustcp_sendmsg(struct ustcp_stack *s, int fd, const struct msghdr *msg, int flags);
USTCP_API ssize_t ustcp_recvmsg(struct ustcp_stack *s, int fd, struct msghdr *msg, int flags);
USTCP_API int ustcp_shutdown(struct ustcp_stack *s, int fd, int how);
USTCP_API int ustcp_close(struct ustcp_stack *s, int fd);
USTCP_API int ustcp_dup(struct ustcp_stack *s, int fd);
USTCP_API int ustcp_fcntl(struct ustcp_stack *s, int fd, int cmd, ... /* int arg */);
USTCP_API int ustcp_ioctl(struct ustcp_stack *s, int fd, unsigned long req, ... /* int * */);
USTCP_API int ustcp_getsockname(struct ustcp_stack *s, int fd, struct sockaddr *addr,
                                socklen_t *len);
USTCP_API int ustcp_getpeername(struct ustcp_stack *s, int fd, struct sockaddr *addr,
                                socklen_t *len);
USTCP_API int ustcp_setsockopt(struct ustcp_stack *s, int fd, int level, int name, const void *val,
                               socklen_t len);
USTCP_API int ustcp_getsockopt(struct ustcp_stack *s, int fd, int level, int name, void *val,
                               socklen_t *len);
/* timeout_ms: -1 blocks, 0 polls, >0 waits on the stack's clock. */
USTCP_API int ustcp_poll(struct ustcp_stack *s, struct pollfd *fds, nfds_t nfds, int timeout_ms);

/* What `ss -ltn` shows for a listener, plus the SYN queue. */
struct ustcp_listen_info {
  unsigned accept_qlen; /* Recv-Q: established, not yet accepted */
  unsigned syn_qlen;    /* requests in SYN_RECV */
  unsigned backlog;     /* Send-Q: the effective backlog */
};
USTCP_API int ustcp_listen_info(struct ustcp_stack *s, int fd, struct ustcp_listen_info *out);

/* The TCP state of a socket (enum ustcp_tcp_state), or -1 with errno. */
USTCP_API int ustcp_sock_state(struct ustcp_stack *s, int fd);

#ifdef __cplusplus
}
#endif
#endif
