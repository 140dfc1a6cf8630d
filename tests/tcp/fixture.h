/*
 * fixture.h - a two-host sim world for TCP tests: "srv" 10.0.0.1 and "cli"
 * 10.0.0.2 on one link (one-way latency given), helpers to listen, connect,
 * partition a direction and run virtual time. Header-only (static).
 */
#ifndef USTCP_TESTS_TCP_FIXTURE_H
#define USTCP_TESTS_TCP_FIXTURE_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* POLLRDHUP */
#endif

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>

#include "harness/test.h"
#include "ustcp/sim.h"
#include "ustcp/socket.h"

struct fx {
  struct ustcp_sim *sim;
  int hs, hc, link;
  struct ustcp_stack *S, *C;
  struct ustcp_link_params p;
};

static inline struct sockaddr_in fx_sin(const char *ip, int port)
{
  struct sockaddr_in a;
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  inet_pton(AF_INET, ip, &a.sin_addr);
  return a;
}

static inline void fx_init_cfg(struct fx *f, double latency_ms, const struct ustcp_config *scfg)
{
  memset(f, 0, sizeof(*f));
  f->sim = ustcp_sim_create(7);
  f->hs = ustcp_sim_add_host(f->sim, "srv", "10.0.0.1", scfg);
  f->hc = ustcp_sim_add_host(f->sim, "cli", "10.0.0.2", NULL);
  f->p.latency = (ustcp_time_t)(latency_ms * 1e6);
  f->link = ustcp_sim_link(f->sim, f->hs, f->hc, &f->p, &f->p);
  f->S = ustcp_sim_stack(f->sim, f->hs);
  f->C = ustcp_sim_stack(f->sim, f->hc);
}

static inline void fx_init(struct fx *f, double latency_ms) { fx_init_cfg(f, latency_ms, NULL); }

static inline void fx_fini(struct fx *f) { ustcp_sim_destroy(f->sim); }

/* dir 0: srv -> cli, dir 1: cli -> srv */
static inline void fx_partition(struct fx *f, int dir, bool on)
{
  struct ustcp_link_params p = f->p;
  p.partitioned = on;
  ustcp_sim_link_set(f->sim, f->link, dir, &p);
}

static inline double fx_now(struct fx *f) { return (double)ustcp_sim_now(f->sim) / 1e9; }

static inline void fx_run(struct fx *f, double seconds)
{
  ustcp_sim_run_until(f->sim, ustcp_sim_now(f->sim) + (ustcp_time_t)(seconds * 1e9));
}

static inline int fx_listen(struct fx *f, int port, int backlog)
{
  int l = ustcp_socket(f->S, AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = fx_sin("10.0.0.1", port);
  T_EQ(ustcp_bind(f->S, l, (struct sockaddr *)&a, sizeof(a)), 0);
  T_EQ(ustcp_listen(f->S, l, backlog), 0);
  return l;
}

/* Non-blocking connect from the client host; returns the fd. */
static inline int fx_connect_nb(struct fx *f, int port)
{
  int c = ustcp_socket(f->C, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  struct sockaddr_in a = fx_sin("10.0.0.1", port);
  T_EQ(ustcp_connect(f->C, c, (struct sockaddr *)&a, sizeof(a)), -1);
  T_EQ(errno, EINPROGRESS);
  return c;
}

/* A connected pair (blocking connect, accept); *sfd gets the server side. */
static inline int fx_pair(struct fx *f, int port, int *lfd, int *sfd)
{
  *lfd = fx_listen(f, port, 8);
  int c = ustcp_socket(f->C, AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = fx_sin("10.0.0.1", port);
  T_EQ(ustcp_connect(f->C, c, (struct sockaddr *)&a, sizeof(a)), 0);
  *sfd = ustcp_accept(f->S, *lfd, NULL, NULL);
  T_CHECK(*sfd >= 0);
  return c;
}

static inline short fx_poll(struct ustcp_stack *s, int fd)
{
  struct pollfd p = {.fd = fd, .events = POLLIN | POLLOUT | POLLRDHUP};
  ustcp_poll(s, &p, 1, 0);
  return p.revents;
}

static inline void fx_set_nonblock(struct ustcp_stack *s, int fd)
{
  ustcp_fcntl(s, fd, F_SETFL, ustcp_fcntl(s, fd, F_GETFL) | O_NONBLOCK);
}

#endif
