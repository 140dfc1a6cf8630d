/*
 * tcp_isn.c - keyed-hash choices: initial sequence numbers (RFC 6528),
 * timestamp offsets (Linux: per-connection random offset) and ephemeral
 * ports (RFC 6056, algorithm 3 "simple hash-based").
 */
#include <errno.h>
#include <string.h>

#include "tcp/tcp.h"

static uint64_t tuple_hash(const struct ustcp_stack *s, uint32_t tag, uint32_t la, uint16_t lp,
                           uint32_t ra, uint16_t rp)
{
  uint8_t b[16];
  memcpy(b, &tag, 4);
  memcpy(b + 4, &la, 4);
  memcpy(b + 8, &ra, 4);
  memcpy(b + 12, &lp, 2);
  memcpy(b + 14, &rp, 2);
  return us_siphash(s->secret, b, sizeof(b));
}

/* RFC 6528 3: ISN = M + F(localip, localport, remoteip, remoteport,
 * secretkey), M a timer ticking every 4 microseconds (Linux: ns >> 6 is
 * 64 ns; RFC 6528 suggests 4 us, which we follow). */
uint32_t us_tcp_isn(struct ustcp_stack *s, uint32_t la, uint16_t lp, uint32_t ra, uint16_t rp)
{
  uint32_t m = (uint32_t)(s->now / 4000u);
  return m + (uint32_t)tuple_hash(s, 1, la, lp, ra, rp);
}

/* Linux: tcp timestamps start at a keyed-hash offset per address pair. */
uint32_t us_tcp_ts_offset(struct ustcp_stack *s, uint32_t la, uint32_t ra)
{
  return (uint32_t)tuple_hash(s, 2, la, 0, ra, 0);
}

static bool port_free_for_connect(struct ustcp_stack *s, uint16_t port, uint32_t la, uint32_t ra,
                                  uint16_t rp)
{
  for (struct us_ent *e = us_tcp_bind_chain(s, port); e; e = e->bnext) {
    if (e->lport != port)
      continue;
    if (e->kind == US_ENT_TCB && !(((struct us_tcb *)e)->flags & TF_AUTOBIND))
      return false; /* bound by bind()/listen(): not shared (Linux) */
  }
  return us_tcp_lookup(s, la, port, ra, rp) == NULL;
}

/* RFC 6056 3.3.3 (algorithm 3): offset = F(local, remote, secret); try
 * min + (offset + i) % num for i = 0..num-1. */
int us_tcp_pick_port(struct ustcp_stack *s, uint32_t la, uint32_t ra, uint16_t rp, uint16_t *out)
{
  uint32_t lo = (uint32_t)s->cfg.ip_local_port_range[0];
  uint32_t num = (uint32_t)s->cfg.ip_local_port_range[1] - lo + 1;
  uint32_t off = (uint32_t)tuple_hash(s, 3, la, 0, ra, rp) + s->tcp->port_hint;
  for (uint32_t i = 0; i < num; i++) {
    uint16_t port = (uint16_t)(lo + (off + i) % num);
    if (port_free_for_connect(s, port, la, ra, rp)) {
      /* RFC 6056 3.3.4 spirit: the next search for this destination starts
       * after the port just used. */
      s->tcp->port_hint += i + 1;
      *out = port;
      return 0;
    }
  }
  return -EADDRNOTAVAIL;
}

/* listen() without bind(): any port nobody holds. */
int us_tcp_pick_listen_port(struct ustcp_stack *s, uint16_t *out)
{
  uint32_t lo = (uint32_t)s->cfg.ip_local_port_range[0];
  uint32_t num = (uint32_t)s->cfg.ip_local_port_range[1] - lo + 1;
  uint32_t off = us_rng_u32(&s->rng);
  for (uint32_t i = 0; i < num; i++) {
    uint16_t port = (uint16_t)(lo + (off + i) % num);
    bool used = false;
    for (struct us_ent *e = us_tcp_bind_chain(s, port); e && !used; e = e->bnext)
      used = e->lport == port;
    if (!used) {
      *out = port;
      return 0;
    }
  }
  return -EADDRINUSE;
}
