/*
 * trace.c - building trace events and counting drops. The stack never
 * formats text for humans; the lab, drill and CLI do that from the events.
 */
#include <string.h>

#include "core/core.h"

static void emit(struct ustcp_stack *s, struct ustcp_trace_event *ev)
{
  ev->time_ns = s->now;
  s->trace_fn(s->trace_user, s, ev);
}

void us_drop(struct ustcp_stack *s, enum ustcp_stat reason, const uint8_t *pkt, size_t len)
{
  us_stat_inc(s, reason);
  if (!s->trace_fn)
    return;
  struct ustcp_trace_event ev = {
      .kind = USTCP_TR_DROP, .pkt = pkt, .len = len, .stat = (int)reason, .fd = -1};
  emit(s, &ev);
}

void us_trace_pkt(struct ustcp_stack *s, enum ustcp_trace_kind kind, const uint8_t *pkt, size_t len)
{
  if (!s->trace_fn)
    return;
  struct ustcp_trace_event ev = {.kind = kind, .pkt = pkt, .len = len, .fd = -1};
  emit(s, &ev);
}

void us_trace_api(struct ustcp_stack *s, const char *api, int fd, long ret, int err,
                  const char *detail)
{
  if (!s->trace_fn)
    return;
  struct ustcp_trace_event ev = {
      .kind = USTCP_TR_API, .api = api, .fd = fd, .ret = ret, .err = err, .detail = detail};
  emit(s, &ev);
}

void us_trace_note(struct ustcp_stack *s, enum ustcp_trace_kind kind, const char *text)
{
  if (!s->trace_fn)
    return;
  struct ustcp_trace_event ev = {.kind = kind, .fd = -1, .detail = text};
  emit(s, &ev);
}

void us_trace_state(struct ustcp_stack *s, uint32_t conn_id, uint32_t laddr, uint16_t lport,
                    uint32_t raddr, uint16_t rport, int old_state, int new_state)
{
  if (!s->trace_fn)
    return;
  struct ustcp_trace_event ev = {.kind = USTCP_TR_STATE,
                                 .fd = -1,
                                 .conn_id = conn_id,
                                 .laddr = laddr,
                                 .lport = lport,
                                 .raddr = raddr,
                                 .rport = rport,
                                 .old_state = old_state,
                                 .new_state = new_state};
  emit(s, &ev);
}

const char *ustcp_tcp_state_name(int state)
{
  static const char *const names[] = {
      [USTCP_TCP_CLOSED_NONE] = "CLOSED",    [USTCP_TCP_ESTABLISHED] = "ESTABLISHED",
      [USTCP_TCP_SYN_SENT] = "SYN_SENT",     [USTCP_TCP_SYN_RECV] = "SYN_RECV",
      [USTCP_TCP_FIN_WAIT1] = "FIN_WAIT1",   [USTCP_TCP_FIN_WAIT2] = "FIN_WAIT2",
      [USTCP_TCP_TIME_WAIT] = "TIME_WAIT",   [USTCP_TCP_CLOSE] = "CLOSED",
      [USTCP_TCP_CLOSE_WAIT] = "CLOSE_WAIT", [USTCP_TCP_LAST_ACK] = "LAST_ACK",
      [USTCP_TCP_LISTEN] = "LISTEN",         [USTCP_TCP_CLOSING] = "CLOSING",
  };
  if (state < 0 || (size_t)state >= US_ARRAY_LEN(names) || !names[state])
    return "?";
  return names[state];
}
