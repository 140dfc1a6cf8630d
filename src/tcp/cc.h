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

struct us_cc_ops {
  const char *name;
  void (*init)(struct us_tcb *t);
  void (*on_ack)(struct us_tcb *t, uint32_t acked); /* new data ACKed, not in recovery */
  uint32_t (*ssthresh)(struct us_tcb *t);           /* on loss */
};

const struct us_cc_ops *us_cc_newreno(void);

#endif
