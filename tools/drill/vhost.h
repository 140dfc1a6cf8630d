/*
 * vhost.h - one ustcp stack on a virtual clock, driven from several
 * threads: the drill's ustcp target and the packetdrill plug-in share it.
 *
 * One lock (mu) around the stack. A thread that calls into the stack holds
 * mu and counts as `active`; when a blocking socket call waits
 * (ustcp_link_ops.wait) it releases mu on a condition variable until the
 * driver "kicks" it (a packet was injected or time moved on) or its deadline
 * passes. The driver moves virtual time only when no thread is active
 * (dr_vhost_quiesce), so runs are deterministic: time stands still while
 * the stack computes, and jumps straight to the next timer otherwise.
 */
#ifndef USTCP_DRILL_VHOST_H
#define USTCP_DRILL_VHOST_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ustcp/ustcp.h"

struct dr_vpkt {
  uint8_t *buf;
  size_t len;
  ustcp_time_t t;
};

struct dr_vwaiter;

struct dr_vhost {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  struct ustcp_stack *s;
  struct ustcp_link_ops ops;
  ustcp_time_t vnow; /* the virtual clock, ns */
  ustcp_time_t base; /* vnow at script time 0 */
  uint64_t gen;      /* bumped by every kick */
  int active;        /* threads running stack code (not waiting) */
  int pending;       /* waiters kicked but not yet running again */
  struct dr_vwaiter *waiters;
  bool stop;
  /* packets the stack sent, oldest first */
  struct dr_vpkt *q;
  size_t qh, qn, qcap;
  uint64_t sent; /* packets ever output */
};

/* Create the stack from cfg (link fields are filled in here). Returns 0 or
 * -1 with a message in err. */
int dr_vhost_init(struct dr_vhost *h, const struct ustcp_config *cfg, char *err, size_t errlen);
/* Stop waiters and destroy the stack. */
void dr_vhost_fini(struct dr_vhost *h);

/* The rest is called with h->mu held by a thread that is not `active`. */
/* Wake every waiter and wait until the stack is quiet again. */
void dr_vhost_kick(struct dr_vhost *h);
void dr_vhost_quiesce(struct dr_vhost *h);
/* Feed one datagram to the stack and let it settle. */
void dr_vhost_input(struct dr_vhost *h, const uint8_t *pkt, size_t len);
/* Advance at most to `limit`, stopping at the first timer or waiter
 * deadline, run what is due and let the stack settle. */
void dr_vhost_step(struct dr_vhost *h, ustcp_time_t limit);
/* Advance to t exactly, running every timer on the way. */
void dr_vhost_advance_to(struct dr_vhost *h, ustcp_time_t t);
/* The earliest of the stack's deadline and any waiter's. */
ustcp_time_t dr_vhost_next_event(struct dr_vhost *h);
/* Pop the oldest packet the stack sent (caller frees p->buf); false if none. */
bool dr_vhost_pop(struct dr_vhost *h, struct dr_vpkt *p);

/* A thread entering/leaving the stack for a socket call. */
void dr_vhost_enter(struct dr_vhost *h); /* locks mu, active++ */
void dr_vhost_leave(struct dr_vhost *h); /* active--, wakes the driver, unlocks */

#endif
