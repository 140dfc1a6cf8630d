/*
 * fdtable.c - the descriptor table: fd -> reference-counted socket. dup()
 * adds a reference; closing a descriptor drops one, and only the last
 * starts the protocol close (SPEC §1.2). Descriptors are the lowest free
 * numbers from 3, as in a Linux process.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "socket/sock.h"

int us_socks_init(struct ustcp_stack *s)
{
  s->socks = calloc(1, sizeof(*s->socks));
  if (!s->socks)
    return -ENOMEM;
  s->socks->hint = US_FD_FIRST;
  return 0;
}

void us_socks_fini(struct ustcp_stack *s)
{
  if (!s->socks)
    return;
  free(s->socks->fds);
  free(s->socks);
  s->socks = NULL;
}

struct us_tcb *us_sock_get(struct ustcp_stack *s, int fd)
{
  struct us_socks *k = s->socks;
  if (fd < 0 || (uint32_t)fd >= k->cap)
    return NULL;
  return k->fds[fd];
}

bool us_sock_fd_available(struct ustcp_stack *s)
{
  return s->socks->used < (uint32_t)s->cfg.max_sockets;
}

int us_sock_fd_alloc(struct ustcp_stack *s, struct us_tcb *t)
{
  struct us_socks *k = s->socks;
  if (k->used >= (uint32_t)s->cfg.max_sockets)
    return -EMFILE;
  uint32_t fd = k->hint;
  while (fd < k->cap && k->fds[fd])
    fd++;
  if (fd >= k->cap) {
    uint32_t ncap = k->cap ? k->cap * 2 : 64;
    while (ncap <= fd)
      ncap *= 2;
    struct us_tcb **nv = realloc(k->fds, (size_t)ncap * sizeof(*nv));
    if (!nv)
      return -ENOMEM;
    memset(nv + k->cap, 0, (size_t)(ncap - k->cap) * sizeof(*nv));
    k->fds = nv;
    k->cap = ncap;
  }
  k->fds[fd] = t;
  k->hint = fd + 1;
  k->used++;
  t->fd_refs++;
  t->flags &= ~TF_ORPHAN;
  return (int)fd;
}

struct us_tcb *us_sock_fd_release(struct ustcp_stack *s, int fd)
{
  struct us_socks *k = s->socks;
  struct us_tcb *t = us_sock_get(s, fd);
  if (!t)
    return NULL;
  k->fds[fd] = NULL;
  k->used--;
  if ((uint32_t)fd < k->hint)
    k->hint = (uint32_t)fd;
  return --t->fd_refs == 0 ? t : NULL;
}
