/*
 * cc.h - congestion control as a small ops table (FreeBSD cc_algo style).
 * The engine calls init at establishment, on_ack for newly ACKed bytes
 * outside recovery, and ssthresh when a loss is detected; recovery itself
 * (RFC 6582 / RFC 6675) lives in tcp_input.c and tcp_output.c.
 */
#ifndef US_TCP_CC_H
#define US_TCP_CC_H

#include <stdint.h>

struct us_tcb;
struct ustcp_stack;

struct us_cc_ops {
  const char *name;
  void (*init)(struct ustcp_stack *s, struct us_tcb *t);
  /* new data ACKed outside recovery */
  void (*on_ack)(struct ustcp_stack *s, struct us_tcb *t, uint32_t acked);
  /* a loss was detected: the new ssthresh */
  uint32_t (*ssthresh)(struct ustcp_stack *s, struct us_tcb *t);
  /* the connection closes: free private state */
  void (*release)(struct ustcp_stack *s, struct us_tcb *t);
};

const struct us_cc_ops *us_cc_newreno(void);
const struct us_cc_ops *us_cc_cubic(void);

/* CUBIC's per-connection state (RFC 9438 4), allocated at the first loss:
 * before it CUBIC is slow start like NewReno, so idle or loss-free
 * connections carry only a NULL pointer. */
struct us_cubic {
  uint32_t w_max;     /* bytes, before the last reduction */
  uint32_t origin;    /* bytes, the plateau of the cubic curve */
  uint32_t k_ms;      /* time to reach origin */
  uint32_t epoch_ms;  /* start of this congestion-avoidance epoch (0: none) */
  uint32_t w_est;     /* bytes, the Reno-friendly estimate (RFC 9438 4.3) */
  uint32_t acked;     /* bytes ACKed not yet turned into growth */
  uint32_t est_acked; /* bytes ACKed not yet added to w_est */
};

#endif
