/*
 * trace.h - the trace hook: what a stack reports as it runs. The lab, the
 * drill runner and `ustcp sim` print from these events; nothing is formatted
 * inside the stack.
 */
#ifndef USTCP_TRACE_H
#define USTCP_TRACE_H

#include <stddef.h>
#include <stdint.h>

#ifndef USTCP_API
#define USTCP_API __attribute__((visibility("default")))
#endif

enum ustcp_trace_kind {
  USTCP_TR_PKT_IN,  /* a datagram handed to ustcp_input() (pkt/len) */
  USTCP_TR_PKT_OUT, /* a datagram the stack sent (pkt/len) */
  USTCP_TR_DROP,    /* a datagram dropped: stat = the DROP_* reason */
  USTCP_TR_STATE,   /* a connection changed state: old_state -> new_state */
  USTCP_TR_API,     /* an API call returned: api, fd, ret, err, detail */
  USTCP_TR_TIMER,   /* a timer fired: detail = its name */
  USTCP_TR_NOTE,    /* anything else worth showing: detail */
};

/* TCP states, RFC 9293 names; numbered as Linux's TCP_* (tcp_states.h) so
 * tcp_info.tcpi_state matches the kernel. */
enum ustcp_tcp_state {
  USTCP_TCP_CLOSED_NONE = 0,
  USTCP_TCP_ESTABLISHED = 1,
  USTCP_TCP_SYN_SENT = 2,
  USTCP_TCP_SYN_RECV = 3,
  USTCP_TCP_FIN_WAIT1 = 4,
  USTCP_TCP_FIN_WAIT2 = 5,
  USTCP_TCP_TIME_WAIT = 6,
  USTCP_TCP_CLOSE = 7,
  USTCP_TCP_CLOSE_WAIT = 8,
  USTCP_TCP_LAST_ACK = 9,
  USTCP_TCP_LISTEN = 10,
  USTCP_TCP_CLOSING = 11,
};

struct ustcp_trace_event {
  enum ustcp_trace_kind kind;
  uint64_t time_ns;
  const uint8_t *pkt; /* PKT_IN/PKT_OUT/DROP: the datagram (borrowed) */
  size_t len;
  int stat;                 /* DROP: enum ustcp_stat of the reason */
  int fd;                   /* API: descriptor, or -1 */
  uint32_t conn_id;         /* STATE: a stable id of the connection (0 = none) */
  uint32_t laddr, raddr;    /* STATE: endpoints, network byte order */
  uint16_t lport, rport;    /* STATE: host byte order */
  int old_state, new_state; /* STATE: enum ustcp_tcp_state */
  const char *api;          /* API: call name, e.g. "close" */
  long ret;                 /* API: return value */
  int err;                  /* API: errno when ret == -1, else 0 */
  const char *detail;       /* API: arguments in readable form; TIMER/NOTE text */
};

struct ustcp_stack;
typedef void (*ustcp_trace_fn)(void *user, struct ustcp_stack *s,
                               const struct ustcp_trace_event *ev);

USTCP_API const char *ustcp_tcp_state_name(int state);

#endif
