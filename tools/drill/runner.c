/*
 * runner.c - runs one parsed drill script against a target: computes each
 * event's time window, injects inbound packets (mapping packetdrill's
 * relative sequence numbers and timestamp echoes to live values), matches
 * outbound packets field by field (a long expected segment may match a
 * train of MSS-sized ones, as the kernel's GSO produces), runs system calls
 * (blocking ones overlap later events) and shell/Python events, and
 * reports the first mismatch with its script line.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "drill.h"

#define OUT_ANY_WAIT_US 10000000 /* how long a "*" outbound packet may take */

static bool fail(struct dr_run *r, const struct dr_event *ev, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static bool fail(struct dr_run *r, const struct dr_event *ev, const char *fmt, ...)
{
  if (r->failed)
    return false;
  char m[900];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(m, sizeof(m), fmt, ap);
  va_end(ap);
  const char *base = strrchr(r->sc->path, '/');
  base = base ? base + 1 : r->sc->path;
  if (ev)
    snprintf(r->msg, sizeof(r->msg), "%s:%d: %s", base, ev->line, m);
  else
    snprintf(r->msg, sizeof(r->msg), "%s: %s", base, m);
  r->failed = true;
  return false;
}

static void fmt_time(int64_t us, char *out, size_t cap)
{
  snprintf(out, cap, "%s%lld.%06lld", us < 0 ? "-" : "", (long long)(llabs(us) / 1000000),
           (long long)(llabs(us) % 1000000));
}

/* ------------------------------------------------------------- packets */

static uint32_t map_local(const struct dr_flow *f, uint32_t script)
{
  return f->have_isn ? script - f->isn_script + f->isn_live : script;
}

static void flow_init(struct dr_run *r, struct dr_flow *f, int idx)
{
  if (f->used)
    return;
  f->used = true;
  f->known = true;
  f->lport = r->bind_port;
  f->rport = (uint16_t)(DR_REMOTE_PORT_BASE + idx);
}

static bool do_inject(struct dr_run *r, struct dr_event *ev)
{
  struct dr_pkt *p = &ev->pkt;
  struct dr_flow *f = &r->flow[p->flow];
  flow_init(r, f, p->flow);
  struct dr_seg sg;
  memset(&sg, 0, sizeof(sg));
  if (p->icmp) {
    /* the quoted segment is one of ours: our addresses and sequence */
    sg.src = DR_LOCAL_IP;
    sg.dst = DR_REMOTE_IP;
    sg.sport = f->lport;
    sg.dport = f->rport;
    sg.seq = map_local(f, p->seq);
    sg.flags = DR_TCP_ACK;
    sg.len = p->len;
    uint8_t buf[128];
    int len = dr_icmp_build(DR_REMOTE_IP, DR_LOCAL_IP, p->icmp_type, p->icmp_code, p->icmp_mtu, &sg,
                            buf, sizeof(buf));
    if (len < 0 || r->ops->inject(r, buf, (size_t)len))
      return fail(r, ev, "injecting the ICMP packet failed");
    return true;
  }
  sg.src = DR_REMOTE_IP;
  sg.dst = DR_LOCAL_IP;
  sg.sport = f->rport;
  sg.dport = f->lport;
  sg.seq = p->seq;
  sg.flags = p->flags;
  sg.ack = p->has_ack ? map_local(f, p->ack) : 0;
  sg.win = (uint16_t)(p->has_win ? p->win : 65535);
  sg.len = p->len;
  if (p->opts_any)
    return fail(r, ev, "'<...>' options are only for outbound packets");
  sg.nopt = p->nopt;
  for (int i = 0; i < p->nopt; i++) {
    struct dr_opt o = p->opt[i];
    if (o.kind == DR_OPT_TS) {
      uint32_t ecr = o.b;
      bool found = false;
      for (int k = f->nts - 1; k >= 0; k--)
        if (f->ts_script[k] == o.b) {
          ecr = f->ts_live[k];
          found = true;
          break;
        }
      if (!found && f->have_ts && o.b != 0)
        ecr = f->last_ts_live;
      o.b = ecr;
    } else if (o.kind == DR_OPT_SACK) {
      for (int k = 0; k < o.nsack; k++) {
        o.sack[k][0] = map_local(f, o.sack[k][0]);
        o.sack[k][1] = map_local(f, o.sack[k][1]);
      }
    } else if (o.kind == DR_OPT_MSS && (p->flags & DR_TCP_SYN)) {
      f->peer_mss = o.a;
    }
    sg.opt[i] = o;
  }
  if ((p->flags & DR_TCP_SYN) && !f->peer_mss)
    f->peer_mss = 536; /* RFC 9293 3.7.1: no MSS option means 536 */
  static const size_t cap = 65536;
  uint8_t *buf = malloc(cap);
  int len = buf ? dr_seg_build(&sg, buf, cap) : -1;
  if (len < 0) {
    free(buf);
    return fail(r, ev, "cannot build this packet (options longer than 40 bytes?)");
  }
  int rc = r->ops->inject(r, buf, (size_t)len);
  free(buf);
  if (rc)
    return fail(r, ev, "injecting the packet failed");
  return true;
}

static void expected_fmt(struct dr_run *r, const struct dr_pkt *p, char *out, size_t cap)
{
  (void)r;
  char fl[12], opts[256] = "";
  dr_flags_format(p->flags, fl);
  if (p->opts_any)
    snprintf(opts, sizeof(opts), "<...>");
  else if (p->nopt)
    dr_opts_format(p->opt, p->nopt, opts, sizeof(opts));
  int n = snprintf(out, cap, "%s %u:%u(%u)", fl, p->seq, p->end, p->len);
  if (p->has_ack && n > 0 && (size_t)n < cap)
    n += snprintf(out + n, cap - (size_t)n, " ack %u", p->ack);
  if (p->has_win && n > 0 && (size_t)n < cap)
    n += snprintf(out + n, cap - (size_t)n, " win %u", p->win);
  if (opts[0] && n > 0 && (size_t)n < cap)
    snprintf(out + n, cap - (size_t)n, " %s", opts);
}

/* The actual segment in script terms: local sequence numbers relative. */
static void actual_fmt(const struct dr_flow *f, const struct dr_seg *sg, char *out, size_t cap)
{
  struct dr_seg rel = *sg;
  if (f->have_isn)
    rel.seq = sg->seq - f->isn_live + f->isn_script;
  dr_seg_format(&rel, out, cap);
}

static bool opts_match(struct dr_flow *f, const struct dr_pkt *p, const struct dr_seg *sg,
                       char *why, size_t cap)
{
  if (p->opts_any)
    return true;
  if (p->nopt != sg->nopt) {
    snprintf(why, cap, "TCP options differ");
    return false;
  }
  for (int i = 0; i < p->nopt; i++) {
    const struct dr_opt *e = &p->opt[i], *a = &sg->opt[i];
    if (e->kind != a->kind) {
      snprintf(why, cap, "TCP option %d differs", i + 1);
      return false;
    }
    switch (e->kind) {
    case DR_OPT_MSS:
    case DR_OPT_WS:
      if (e->a != a->a) {
        snprintf(why, cap, "%s %u, expected %u", e->kind == DR_OPT_MSS ? "mss" : "wscale", a->a,
                 e->a);
        return false;
      }
      break;
    case DR_OPT_TS:
      /* packetdrill: the live TS val is not checked (no --tcp_ts_tick_usecs);
       * the echo must be the value the script sent. */
      if (e->b != a->b) {
        snprintf(why, cap, "TS ecr %u, expected %u", a->b, e->b);
        return false;
      }
      break;
    case DR_OPT_SACK:
      if (e->nsack != a->nsack) {
        snprintf(why, cap, "%u SACK blocks, expected %u", a->nsack, e->nsack);
        return false;
      }
      for (int k = 0; k < e->nsack; k++)
        if (e->sack[k][0] != a->sack[k][0] || e->sack[k][1] != a->sack[k][1]) {
          snprintf(why, cap, "SACK block %d differs", k + 1);
          return false;
        }
      break;
    default:
      break;
    }
  }
  (void)f;
  return true;
}

static void learn_ts(struct dr_flow *f, const struct dr_pkt *p, const struct dr_seg *sg)
{
  for (int i = 0; i < sg->nopt; i++)
    if (sg->opt[i].kind == DR_OPT_TS) {
      f->last_ts_live = sg->opt[i].a;
      f->have_ts = true;
      for (int k = 0; k < p->nopt; k++)
        if (p->opt[k].kind == DR_OPT_TS) {
          if (f->nts == 64) {
            memmove(f->ts_script, f->ts_script + 1, sizeof(f->ts_script[0]) * 63);
            memmove(f->ts_live, f->ts_live + 1, sizeof(f->ts_live[0]) * 63);
            f->nts--;
          }
          f->ts_script[f->nts] = p->opt[k].a;
          f->ts_live[f->nts] = sg->opt[i].a;
          f->nts++;
        }
    }
}

/* Check one actual segment against the part [seq, seq+len) of p. `last`:
 * the segment ends the expected range (PSH/FIN belong there). */
static bool seg_check(struct dr_run *r, const struct dr_event *ev, struct dr_flow *f,
                      const struct dr_seg *sg, uint32_t want_seq, uint32_t want_len, bool last,
                      bool train)
{
  const struct dr_pkt *p = &ev->pkt;
  char exp[400], act[400], why[160] = "";
  uint8_t want_flags = p->flags;
  if (!last)
    want_flags &= (uint8_t) ~(DR_TCP_PSH | DR_TCP_FIN);
  uint8_t got_flags = sg->flags;
  if (train && !last)
    got_flags &= (uint8_t)~DR_TCP_PSH; /* PSH inside a train is not checked */
  uint32_t rel_seq = f->have_isn ? sg->seq - f->isn_live + f->isn_script : sg->seq;
  if (sg->src != DR_LOCAL_IP || sg->dst != DR_REMOTE_IP)
    snprintf(why, sizeof(why), "addresses");
  else if (sg->sport != f->lport || sg->dport != f->rport)
    snprintf(why, sizeof(why), "ports %u>%u, expected %u>%u (another connection)", sg->sport,
             sg->dport, f->lport, f->rport);
  else if (got_flags != want_flags) {
    char a[12], e[12];
    dr_flags_format(sg->flags, a);
    dr_flags_format(want_flags, e);
    snprintf(why, sizeof(why), "flags %s, expected %s", a, e);
  } else if (rel_seq != want_seq)
    snprintf(why, sizeof(why), "seq %u, expected %u", rel_seq, want_seq);
  else if (sg->len != want_len)
    snprintf(why, sizeof(why), "payload %u bytes, expected %u", sg->len, want_len);
  else if ((p->flags & DR_TCP_ACK) && sg->ack != p->ack)
    snprintf(why, sizeof(why), "ack %u, expected %u", sg->ack, p->ack);
  else if (p->has_win && sg->win != p->win)
    snprintf(why, sizeof(why), "win %u, expected %u", sg->win, p->win);
  else if (!opts_match(f, p, sg, why, sizeof(why))) {
    /* why set */
  }
  if (!why[0])
    return true;
  expected_fmt(r, p, exp, sizeof(exp));
  actual_fmt(f, sg, act, sizeof(act));
  return fail(r, ev, "outbound packet: %s (expected \"%s\", actual \"%s\")", why, exp, act);
}

struct window {
  bool any;
  int64_t lo, hi;
};

static bool check_time(struct dr_run *r, const struct dr_event *ev, const struct window *w,
                       int64_t t, const char *what)
{
  if (w->any)
    return true;
  if (t >= w->lo - r->tolerance_us && t <= w->hi + r->tolerance_us)
    return true;
  char a[32], lo[32], hi[32];
  fmt_time(t, a, sizeof(a));
  fmt_time(w->lo, lo, sizeof(lo));
  fmt_time(w->hi, hi, sizeof(hi));
  if (w->lo == w->hi)
    return fail(r, ev, "%s at %s, expected at %s (tolerance %lld us)", what, a, lo,
                (long long)r->tolerance_us);
  return fail(r, ev, "%s at %s, expected between %s and %s (tolerance %lld us)", what, a, lo, hi,
              (long long)r->tolerance_us);
}

static bool do_outbound(struct dr_run *r, struct dr_event *ev, const struct window *w,
                        int64_t *t_out)
{
  struct dr_pkt *p = &ev->pkt;
  struct dr_flow *f = &r->flow[p->flow];
  static const size_t cap = 65536;
  uint8_t *buf = malloc(cap);
  if (!buf)
    return fail(r, ev, "out of memory");
  int64_t deadline = w->any ? r->ops->now(r) + OUT_ANY_WAIT_US : w->hi + r->tolerance_us;
  size_t len = cap;
  int64_t t = 0;
  bool ok = true;
  if (!r->ops->next_pkt(r, deadline, buf, &len, &t)) {
    char exp[400], dl[32];
    expected_fmt(r, p, exp, sizeof(exp));
    fmt_time(deadline, dl, sizeof(dl));
    free(buf);
    return fail(r, ev, "expected outbound packet %s, none sent by %s", exp, dl);
  }
  struct dr_seg sg;
  char perr[128];
  if (dr_seg_parse(buf, len, &sg, perr, sizeof(perr))) {
    free(buf);
    return fail(r, ev, "outbound packet is malformed: %s", perr);
  }
  if (!f->used) {
    f->used = true;
    f->known = true;
    f->lport = sg.sport;
    f->rport = sg.dport;
  }
  if ((sg.flags & DR_TCP_SYN) && (p->flags & DR_TCP_SYN) && !f->have_isn) {
    f->have_isn = true;
    f->isn_live = sg.seq;
    f->isn_script = p->seq;
  }
  *t_out = t;
  uint32_t mss = f->peer_mss ? f->peer_mss : 1460;
  if (mss > 1460)
    mss = 1460;
  bool train = p->len > 0 && sg.len > 0 && sg.len < p->len && p->len + 40 > mss;
  if (!train) {
    ok = seg_check(r, ev, f, &sg, p->seq, p->len, true, false) &&
         check_time(r, ev, w, t, "outbound packet");
  } else {
    /* Linux: a GSO/TSO super-segment leaves the TUN device as a train of
     * back-to-back MSS-sized segments; PSH/FIN only on the last. */
    uint32_t seq = p->seq, left = p->len;
    for (;;) {
      uint32_t take = sg.len < left ? sg.len : left;
      bool last = take == left;
      if (!seg_check(r, ev, f, &sg, seq, last ? left : take, last, true) ||
          !check_time(r, ev, w, t, "outbound packet")) {
        ok = false;
        break;
      }
      seq += take;
      left -= take;
      if (!left)
        break;
      len = cap;
      if (!r->ops->next_pkt(r, t + r->tolerance_us + 1, buf, &len, &t)) {
        char exp[400];
        expected_fmt(r, p, exp, sizeof(exp));
        ok = fail(r, ev, "expected %s: the train of segments stopped after %u of %u bytes", exp,
                  p->len - left, p->len);
        break;
      }
      if (dr_seg_parse(buf, len, &sg, perr, sizeof(perr))) {
        ok = fail(r, ev, "outbound packet is malformed: %s", perr);
        break;
      }
    }
  }
  if (ok)
    learn_ts(f, p, &sg);
  free(buf);
  return ok;
}

/* ---------------------------------------------------------------- calls */

static void errfmt(long long ret, int err, char *out, size_t cap)
{
  if (ret == -1)
    snprintf(out, cap, "-1 %s (%s)", dr_errno_name(err), strerror(err));
  else
    snprintf(out, cap, "%lld", ret);
}

static bool check_result(struct dr_run *r, struct dr_event *ev, long long ret, int err,
                         const char *mismatch)
{
  const struct dr_call *c = &ev->call;
  char exp[128], act[128];
  if (!c->ret_any && (ret != c->ret || (ret == -1 && err != c->err))) {
    errfmt(c->ret, c->err, exp, sizeof(exp));
    errfmt(ret, err, act, sizeof(act));
    return fail(r, ev, "%s(): expected %s, actual %s", c->name, exp, act);
  }
  if (mismatch && mismatch[0])
    return fail(r, ev, "%s(): %s", c->name, mismatch);
  if (ret >= 0 && (!strcmp(c->name, "accept") || !strcmp(c->name, "socket")))
    r->info_fd = (int)ret;
  if (!strcmp(c->name, "bind") && ret == 0)
    r->bind_port = DR_LOCAL_PORT;
  return true;
}

static bool finish_pending(struct dr_run *r)
{
  struct dr_event *ev = r->pending;
  if (!ev)
    return true;
  r->pending = NULL;
  struct window w = {false, 0, 0};
  w.lo = w.hi = ev->end.kind == DR_T_ABS ? ev->end.us : r->pending_start + ev->end.us;
  struct dr_callres res;
  int64_t t;
  if (!r->ops->call_wait(r, w.hi + r->tolerance_us, &res, &t)) {
    char e[32];
    fmt_time(w.hi, e, sizeof(e));
    return fail(r, ev, "%s() still blocked, expected to return at %s", ev->call.name, e);
  }
  return check_result(r, ev, res.ret, res.err, res.mismatch) &&
         check_time(r, ev, &w, t, "blocking call returned");
}

/* ---------------------------------------------------------------- python */

static bool do_python(struct dr_run *r, struct dr_event *ev)
{
  char *info = malloc(16384);
  if (!info)
    return fail(r, ev, "out of memory");
  info[0] = 0;
  if (r->info_fd >= 0 && r->ops->tcp_info) {
    int rc = r->ops->tcp_info(r, r->info_fd, info, 16384);
    if (rc < 0) {
      free(info);
      return fail(r, ev, "%%{ }%%: TCP_INFO of fd %d failed: %s", r->info_fd, strerror(-rc));
    }
  }
  char path[] = "/tmp/ustcp-drill-py-XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) {
    free(info);
    return fail(r, ev, "%%{ }%%: cannot create a temporary file");
  }
  FILE *f = fdopen(fd, "w");
  fprintf(f, "%s\nimport textwrap as _tw\n_code = bytes.fromhex('", info);
  for (const char *p = ev->text; *p; p++)
    fprintf(f, "%02x", (unsigned char)*p);
  fprintf(f, "').decode()\nexec(compile(_tw.dedent(_code), 'line %d', 'exec'))\n", ev->line);
  fclose(f);
  free(info);
  char cmd[128], out[512] = "";
  snprintf(cmd, sizeof(cmd), "python3 %s 2>&1", path);
  FILE *pp = popen(cmd, "r");
  if (!pp) {
    unlink(path);
    return fail(r, ev, "%%{ }%%: cannot run python3");
  }
  size_t n = fread(out, 1, sizeof(out) - 1, pp);
  out[n] = 0;
  int st = pclose(pp);
  unlink(path);
  if (r->verbose && n)
    fprintf(stderr, "%s", out);
  if (st != 0) {
    /* the last line of the traceback says what failed */
    char *e = out + strlen(out);
    while (e > out && (e[-1] == '\n'))
      *--e = 0;
    char *l = strrchr(out, '\n');
    return fail(r, ev, "%%{ }%% block failed: %s", l ? l + 1 : out);
  }
  return true;
}

/* ---------------------------------------------------------------- events */

static struct window window_of(const struct dr_time *t, int64_t base)
{
  struct window w = {false, 0, 0};
  if (t->kind == DR_T_ANY) {
    w.any = true;
    return w;
  }
  int64_t b = t->kind == DR_T_REL ? base : 0;
  w.lo = b + t->us;
  w.hi = b + (t->range ? t->end_us : t->us);
  return w;
}

int dr_run_script(struct dr_script *sc, const struct dr_target_ops *ops, int64_t tolerance_us,
                  int verbose, char *msg, size_t msglen)
{
  struct dr_run *r = calloc(1, sizeof(*r));
  if (!r) {
    snprintf(msg, msglen, "out of memory");
    return 1;
  }
  r->ops = ops;
  r->sc = sc;
  /* A script's own --tolerance_usecs allows for the Linux timer wheel's
   * coarse expiry of long timers (it can fire up to 1/8 of the timeout
   * late); on virtual time (ustcp) timing stays exact. */
  r->tolerance_us = tolerance_us;
  if (sc->tolerance_us > tolerance_us && !ops->virtual_time)
    r->tolerance_us = sc->tolerance_us;
  r->verbose = verbose;
  r->bind_port = DR_LOCAL_PORT;
  r->info_fd = -1;
  if (ops->start(r) != 0) {
    if (!r->failed)
      fail(r, NULL, "cannot start the %s target", ops->name);
  }
  int64_t base = 0; /* what relative times are relative to */
  bool leading = true;
  for (int i = 0; i < sc->nev && !r->failed; i++) {
    struct dr_event *ev = &sc->ev[i];
    /* untimed commands before the first timed event (defaults.sh) do not
     * count: script time 0 starts after them */
    if (leading && !ev->untimed) {
      leading = false;
      if (i > 0 && ops->zero)
        ops->zero(r);
    }
    struct window w = window_of(&ev->t, base);
    /* a pending blocking call must have returned before anything that
     * comes after its return time, and before the next call */
    if (r->pending) {
      int64_t end = r->pending->end.kind == DR_T_ABS ? r->pending->end.us
                                                     : r->pending_start + r->pending->end.us;
      if (ev->kind == DR_EV_CALL || ev->kind == DR_EV_PYTHON ||
          (!w.any && w.lo > end + r->tolerance_us))
        if (!finish_pending(r))
          break;
    }
    if (verbose) {
      char tb[32];
      fmt_time(ops->now(r), tb, sizeof(tb));
      fprintf(stderr, "  [%s] line %d\n", tb, ev->line);
    }
    int64_t t_act = 0;
    switch (ev->kind) {
    case DR_EV_SHELL: {
      if (!w.any)
        ops->wait_until(r, w.lo);
      int st = ops->shell(r, ev->text);
      if (st != 0)
        fail(r, ev, "command failed (status %d): %s", st, ev->text);
      t_act = ops->now(r);
      break;
    }
    case DR_EV_PYTHON:
      if (!w.any)
        ops->wait_until(r, w.lo);
      do_python(r, ev);
      t_act = ops->now(r);
      break;
    case DR_EV_IN:
      if (!w.any)
        ops->wait_until(r, w.lo);
      do_inject(r, ev);
      t_act = ops->now(r);
      break;
    case DR_EV_OUT:
      do_outbound(r, ev, &w, &t_act);
      break;
    case DR_EV_CALL: {
      if (!w.any)
        ops->wait_until(r, w.lo);
      int64_t start = ops->now(r);
      ops->call_start(r, ev);
      if (ev->blocking) {
        r->pending = ev;
        r->pending_start = w.any ? start : w.lo;
        t_act = start;
        break;
      }
      struct dr_callres res;
      if (!ops->call_wait(r, (w.any ? start : w.hi) + r->tolerance_us, &res, &t_act)) {
        fail(r, ev, "%s() blocked; mark it with '...' if it is expected to", ev->call.name);
        break;
      }
      if (check_result(r, ev, res.ret, res.err, res.mismatch))
        check_time(r, ev, &w, t_act, "call returned");
      break;
    }
    }
    /* packetdrill: relative times count from the previous event's script
     * time (a blocking call's start time), or from when it actually
     * happened if that time was a wildcard or a range, or it was an
     * outbound packet (packetdrill's adjust_relative_event_times(): a
     * timer that fires late within the tolerance does not make every
     * later timer late too) */
    if (w.any || ev->t.range || ev->kind == DR_EV_OUT)
      base = t_act;
    else
      base = w.lo;
  }
  if (!r->failed)
    finish_pending(r);
  ops->stop(r);
  int rc = r->failed ? 1 : 0;
  snprintf(msg, msglen, "%s", r->msg);
  free(r);
  return rc;
}
