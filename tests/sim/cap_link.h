/*
 * cap_link.h - one stack behind a capturing link, for the IP/ICMP tests:
 * every datagram the stack sends is copied into `pkt` (the first 64, up to
 * 1600 bytes each; `n` counts them all), and the clock is `now`, set by the
 * test. Header-only (static).
 */
#ifndef USTCP_TESTS_SIM_CAP_LINK_H
#define USTCP_TESTS_SIM_CAP_LINK_H

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "ustcp/ustcp.h"

struct cap {
  ustcp_time_t now;
  int n;
  uint8_t pkt[64][1600];
  size_t len[64];
};

static inline int cap_output(void *user, const uint8_t *pkt, size_t len)
{
  struct cap *c = user;
  if (c->n < 64 && len <= sizeof(c->pkt[0])) {
    memcpy(c->pkt[c->n], pkt, len);
    c->len[c->n] = len;
  }
  c->n++;
  return 0;
}

static inline ustcp_time_t cap_now(void *user) { return ((struct cap *)user)->now; }

static const struct ustcp_link_ops cap_ops = {.output = cap_output, .now = cap_now};

/* A stack with address `addr` (host byte order) on a fresh capture, its
 * clock at 100 s. */
static inline struct ustcp_stack *cap_stack(struct cap *c, uint32_t addr)
{
  memset(c, 0, sizeof(*c));
  c->now = USTCP_SEC(100);
  struct ustcp_config cfg;
  ustcp_config_init(&cfg);
  cfg.addr = htonl(addr);
  cfg.link = &cap_ops;
  cfg.link_user = c;
  char err[128];
  struct ustcp_stack *s = ustcp_stack_create(&cfg, err, sizeof(err));
  if (!s)
    fprintf(stderr, "stack: %s\n", err);
  return s;
}

#endif
