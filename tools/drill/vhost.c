/*
 * vhost.c - a ustcp stack on a virtual clock shared by several threads
 * (see vhost.h): the link ops (output into a queue, now = the virtual
 * clock, wait = release the lock until kicked), and the driver's steps.
 */
#include "vhost.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct dr_vwaiter {
  struct dr_vwaiter *next;
  ustcp_time_t deadline;
};

static int vh_output(void *user, const uint8_t *pkt, size_t len)
{
  struct dr_vhost *h = user;
  if (h->qn == h->qcap) {
    size_t ncap = h->qcap ? h->qcap * 2 : 64;
    struct dr_vpkt *nq = malloc(ncap * sizeof(*nq));
    if (!nq)
      return -ENOMEM;
    for (size_t i = 0; i < h->qn; i++)
      nq[i] = h->q[(h->qh + i) % h->qcap];
    free(h->q);
    h->q = nq;
    h->qh = 0;
    h->qcap = ncap;
  }
  uint8_t *b = malloc(len ? len : 1);
  if (!b)
    return -ENOMEM;
  memcpy(b, pkt, len);
  struct dr_vpkt *p = &h->q[(h->qh + h->qn) % h->qcap];
  p->buf = b;
  p->len = len;
  p->t = h->vnow;
  h->qn++;
  h->sent++;
  return 0;
}

static ustcp_time_t vh_now(void *user)
{
  struct dr_vhost *h = user;
  return h->vnow;
}

/* Called by a blocking socket call with mu held: release the stack until
 * the driver kicks us or the deadline passes. */
static int vh_wait(void *user, struct ustcp_stack *s, ustcp_time_t deadline)
{
  (void)s;
  struct dr_vhost *h = user;
  struct dr_vwaiter w = {h->waiters, deadline};
  h->waiters = &w;
  h->active--;
  pthread_cond_broadcast(&h->cv);
  uint64_t gen0 = h->gen;
  while (h->gen == gen0 && h->vnow < deadline && !h->stop)
    pthread_cond_wait(&h->cv, &h->mu);
  for (struct dr_vwaiter **pp = &h->waiters; *pp; pp = &(*pp)->next)
    if (*pp == &w) {
      *pp = w.next;
      break;
    }
  if (h->gen != gen0 && h->pending > 0)
    h->pending--;
  h->active++;
  if (h->stop || h->vnow >= deadline)
    return -ETIMEDOUT;
  return 0;
}

int dr_vhost_init(struct dr_vhost *h, const struct ustcp_config *cfg, char *err, size_t errlen)
{
  memset(h, 0, sizeof(*h));
  pthread_mutex_init(&h->mu, NULL);
  pthread_cond_init(&h->cv, NULL);
  h->base = h->vnow = USTCP_SEC(1); /* script time 0; not 0 itself */
  h->ops.output = vh_output;
  h->ops.now = vh_now;
  h->ops.wait = vh_wait;
  struct ustcp_config c = *cfg;
  c.link = &h->ops;
  c.link_user = h;
  pthread_mutex_lock(&h->mu);
  h->s = ustcp_stack_create(&c, err, errlen);
  pthread_mutex_unlock(&h->mu);
  return h->s ? 0 : -1;
}

void dr_vhost_fini(struct dr_vhost *h)
{
  pthread_mutex_lock(&h->mu);
  h->stop = true;
  h->gen++;
  pthread_cond_broadcast(&h->cv);
  if (h->s)
    ustcp_stack_destroy(h->s);
  h->s = NULL;
  for (size_t i = 0; i < h->qn; i++)
    free(h->q[(h->qh + i) % h->qcap].buf);
  free(h->q);
  h->q = NULL;
  h->qn = h->qcap = 0;
  pthread_mutex_unlock(&h->mu);
}

void dr_vhost_quiesce(struct dr_vhost *h)
{
  while (h->active > 0 || h->pending > 0)
    pthread_cond_wait(&h->cv, &h->mu);
}

void dr_vhost_kick(struct dr_vhost *h)
{
  h->gen++;
  int n = 0;
  for (struct dr_vwaiter *w = h->waiters; w; w = w->next)
    n++;
  h->pending = n;
  pthread_cond_broadcast(&h->cv);
  dr_vhost_quiesce(h);
}

void dr_vhost_input(struct dr_vhost *h, const uint8_t *pkt, size_t len)
{
  ustcp_input(h->s, pkt, len);
  dr_vhost_kick(h);
}

ustcp_time_t dr_vhost_next_event(struct dr_vhost *h)
{
  ustcp_time_t next = h->s ? ustcp_next_deadline(h->s) : USTCP_TIME_NEVER;
  for (struct dr_vwaiter *w = h->waiters; w; w = w->next)
    if (w->deadline < next)
      next = w->deadline;
  return next;
}

void dr_vhost_step(struct dr_vhost *h, ustcp_time_t limit)
{
  ustcp_time_t next = dr_vhost_next_event(h);
  if (next > limit)
    next = limit;
  if (next > h->vnow)
    h->vnow = next;
  ustcp_process(h->s);
  dr_vhost_kick(h);
}

void dr_vhost_advance_to(struct dr_vhost *h, ustcp_time_t t)
{
  /* bounded: a timer that never leaves the heap cannot hang the runner */
  for (int guard = 0; guard < 1000000; guard++) {
    ustcp_time_t before = h->vnow;
    dr_vhost_step(h, t);
    if (h->vnow >= t && dr_vhost_next_event(h) > t)
      break;
    if (h->vnow == before && dr_vhost_next_event(h) <= h->vnow && guard > 1000)
      break;
  }
}

bool dr_vhost_pop(struct dr_vhost *h, struct dr_vpkt *p)
{
  if (!h->qn)
    return false;
  *p = h->q[h->qh];
  h->qh = (h->qh + 1) % h->qcap;
  h->qn--;
  return true;
}

void dr_vhost_enter(struct dr_vhost *h)
{
  pthread_mutex_lock(&h->mu);
  h->active++;
}

void dr_vhost_leave(struct dr_vhost *h)
{
  h->active--;
  pthread_cond_broadcast(&h->cv);
  pthread_mutex_unlock(&h->mu);
}
