/*
 * target_ustcp.c - the drill's `ustcp` target (being built: fails every
 * script with a clear message until the in-process driver lands).
 */
#include <stdio.h>

#include "drill.h"

static int u_start(struct dr_run *r)
{
  snprintf(r->msg, sizeof(r->msg), "the ustcp target is not built yet");
  r->failed = true;
  return -1;
}
static void u_stop(struct dr_run *r) { (void)r; }
static int64_t u_now(struct dr_run *r)
{
  (void)r;
  return 0;
}
static void u_wait_until(struct dr_run *r, int64_t t)
{
  (void)r;
  (void)t;
}
static int u_inject(struct dr_run *r, const uint8_t *p, size_t l)
{
  (void)r;
  (void)p;
  (void)l;
  return -1;
}
static int u_next_pkt(struct dr_run *r, int64_t d, uint8_t *b, size_t *l, int64_t *t)
{
  (void)r;
  (void)d;
  (void)b;
  (void)l;
  (void)t;
  return 0;
}
static void u_call_start(struct dr_run *r, struct dr_event *ev)
{
  (void)r;
  (void)ev;
}
static int u_call_wait(struct dr_run *r, int64_t d, struct dr_callres *res, int64_t *t)
{
  (void)r;
  (void)d;
  (void)res;
  (void)t;
  return 0;
}
static int u_shell(struct dr_run *r, const char *c)
{
  (void)r;
  (void)c;
  return -1;
}

const struct dr_target_ops dr_target_ustcp = {
    .name = "ustcp",
    .virtual_time = true,
    .start = u_start,
    .stop = u_stop,
    .now = u_now,
    .wait_until = u_wait_until,
    .inject = u_inject,
    .next_pkt = u_next_pkt,
    .call_start = u_call_start,
    .call_wait = u_call_wait,
    .shell = u_shell,
    .tcp_info = NULL,
};
