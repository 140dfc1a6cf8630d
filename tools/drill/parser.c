/*
 * parser.c - packetdrill-syntax scripts into a list of events (drill.h).
 *
 * The subset accepted is the one Linux's and packetdrill's own TCP tests
 * use (docs/drill.md): event times ("0", "+0.1", "*", "a~b", "t1...t2" for
 * a blocking call), packets ("< S 0:0(0) win 1000 <mss 1460>"), system
 * calls with expected results, backtick shell commands and %{ }% Python
 * blocks. Anything else is a parse error with line and column: nothing is
 * silently ignored.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drill.h"
#include "lexer.h"

static char *xstrndup(const char *s, size_t n)
{
  char *p = malloc(n + 1);
  if (!p) {
    perror("malloc");
    exit(2);
  }
  memcpy(p, s, n);
  p[n] = 0;
  return p;
}

static void *xrealloc(void *p, size_t n)
{
  void *q = realloc(p, n ? n : 1);
  if (!q) {
    perror("realloc");
    exit(2);
  }
  return q;
}

/* ---------------------------------------------------------------- times */

static bool parse_one_time(struct dr_lex *lx, enum dr_time_kind *kind, int64_t *us)
{
  if (dr_lex_accept(lx, "*")) {
    *kind = DR_T_ANY;
    *us = 0;
    return true;
  }
  *kind = DR_T_ABS;
  if (dr_lex_accept(lx, "+"))
    *kind = DR_T_REL;
  if (!dr_lex_seconds(lx, us))
    return dr_lex_error(lx, "expected a time");
  return true;
}

static bool parse_time(struct dr_lex *lx, struct dr_time *t)
{
  if (!parse_one_time(lx, &t->kind, &t->us))
    return false;
  if (t->kind != DR_T_ANY && dr_lex_accept(lx, "~")) {
    enum dr_time_kind k2;
    if (!parse_one_time(lx, &k2, &t->end_us))
      return false;
    if (k2 != t->kind)
      return dr_lex_error(lx, "both ends of a time range must be absolute or both relative");
    if (t->end_us < t->us)
      return dr_lex_error(lx, "time range ends before it starts");
    t->range = true;
  }
  return true;
}

/* -------------------------------------------------------------- packets */

static bool parse_u32(struct dr_lex *lx, uint32_t *out, const char *what)
{
  int64_t v;
  if (!dr_lex_int(lx, &v))
    return dr_lex_error(lx, "expected %s", what);
  if (v < 0 || v > 0xffffffffll)
    return dr_lex_error(lx, "%s out of range", what);
  *out = (uint32_t)v;
  return true;
}

static bool parse_options(struct dr_lex *lx, struct dr_pkt *p)
{
  /* '<' already consumed */
  dr_lex_skip(lx, false);
  if (dr_lex_accept(lx, "...")) {
    dr_lex_skip(lx, false);
    if (!dr_lex_accept(lx, ">"))
      return dr_lex_error(lx, "expected '>' after '<...'");
    p->opts_any = true;
    return true;
  }
  for (;;) {
    char name[32];
    dr_lex_skip(lx, false);
    if (p->nopt >= DR_MAX_OPTS)
      return dr_lex_error(lx, "too many options");
    struct dr_opt *o = &p->opt[p->nopt];
    memset(o, 0, sizeof(*o));
    int nl = lx->line, nc = lx->col;
    if (!dr_lex_ident(lx, name, sizeof(name)))
      return dr_lex_error(lx, "expected a TCP option");
    dr_lex_skip(lx, false);
    if (!strcmp(name, "mss")) {
      o->kind = DR_OPT_MSS;
      if (!parse_u32(lx, &o->a, "MSS value"))
        return false;
      if (o->a > 65535)
        return dr_lex_error(lx, "MSS out of range");
    } else if (!strcmp(name, "sackOK")) {
      o->kind = DR_OPT_SACKOK;
    } else if (!strcmp(name, "nop")) {
      o->kind = DR_OPT_NOP;
    } else if (!strcmp(name, "eol")) {
      o->kind = DR_OPT_EOL;
    } else if (!strcmp(name, "wscale")) {
      o->kind = DR_OPT_WS;
      if (!parse_u32(lx, &o->a, "window scale"))
        return false;
      if (o->a > 255)
        return dr_lex_error(lx, "window scale out of range");
    } else if (!strcmp(name, "TS")) {
      char w[8];
      o->kind = DR_OPT_TS;
      if (!dr_lex_ident(lx, w, sizeof(w)) || strcmp(w, "val"))
        return dr_lex_error(lx, "expected 'val'");
      dr_lex_skip(lx, false);
      if (!parse_u32(lx, &o->a, "TS val"))
        return false;
      dr_lex_skip(lx, false);
      if (!dr_lex_ident(lx, w, sizeof(w)) || strcmp(w, "ecr"))
        return dr_lex_error(lx, "expected 'ecr'");
      dr_lex_skip(lx, false);
      if (!parse_u32(lx, &o->b, "TS ecr"))
        return false;
    } else if (!strcmp(name, "sack")) {
      o->kind = DR_OPT_SACK;
      while (isdigit((unsigned char)dr_lex_peek(lx))) {
        if (o->nsack >= 4)
          return dr_lex_error(lx, "more than 4 SACK blocks");
        if (!parse_u32(lx, &o->sack[o->nsack][0], "SACK left edge"))
          return false;
        if (!dr_lex_accept(lx, ":"))
          return dr_lex_error(lx, "expected ':' in SACK block");
        if (!parse_u32(lx, &o->sack[o->nsack][1], "SACK right edge"))
          return false;
        o->nsack++;
        dr_lex_skip(lx, false);
      }
      if (!o->nsack)
        return dr_lex_error(lx, "SACK option without blocks");
    } else {
      lx->line = nl;
      lx->col = nc;
      return dr_lex_error(lx, "unknown TCP option '%s'", name);
    }
    p->nopt++;
    dr_lex_skip(lx, false);
    if (dr_lex_accept(lx, ">"))
      return true;
    if (!dr_lex_accept(lx, ","))
      return dr_lex_error(lx, "expected ',' or '>' in TCP options");
  }
}

/* packetdrill's ICMP error line: "icmp TYPE [CODE] [mtu N] [seq:end(len)]",
 * the bracket naming the segment of ours the error quotes. */
static bool parse_icmp(struct dr_lex *lx, struct dr_pkt *p)
{
  static const struct {
    const char *name;
    uint8_t type, code;
  } codes[] = {
      {"net_unreachable", 3, 0},  {"host_unreachable", 3, 1}, {"protocol_unreachable", 3, 2},
      {"port_unreachable", 3, 3}, {"frag_needed", 3, 4},      {"net_unknown", 3, 6},
      {"host_unknown", 3, 7},     {"ttl_exceeded", 11, 0},
  };
  char w[32];
  p->icmp = true;
  dr_lex_skip(lx, false);
  if (!dr_lex_ident(lx, w, sizeof(w)))
    return dr_lex_error(lx, "expected an ICMP type (unreachable, time_exceeded)");
  if (!strcmp(w, "unreachable"))
    p->icmp_type = 3;
  else if (!strcmp(w, "time_exceeded"))
    p->icmp_type = 11;
  else
    return dr_lex_error(lx, "unknown ICMP type '%s' (unreachable, time_exceeded)", w);
  dr_lex_skip(lx, false);
  int cl = lx->line, cc = lx->col;
  if (dr_lex_ident(lx, w, sizeof(w))) {
    bool found = false;
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
      if (!strcmp(codes[i].name, w) && codes[i].type == p->icmp_type) {
        p->icmp_code = codes[i].code;
        found = true;
      }
    if (!found && strcmp(w, "mtu")) {
      lx->line = cl;
      lx->col = cc;
      return dr_lex_error(lx, "unknown ICMP code '%s'", w);
    }
    dr_lex_skip(lx, false);
    if (found && dr_lex_ident(lx, w, sizeof(w)) && strcmp(w, "mtu"))
      return dr_lex_error(lx, "expected 'mtu N' or '[seq:end(len)]'");
    if (!strcmp(w, "mtu")) {
      dr_lex_skip(lx, false);
      uint32_t mtu;
      if (!parse_u32(lx, &mtu, "MTU"))
        return false;
      if (mtu > 65535)
        return dr_lex_error(lx, "MTU out of range");
      p->icmp_mtu = (uint16_t)mtu;
    }
  }
  dr_lex_skip(lx, false);
  if (!dr_lex_accept(lx, "["))
    return dr_lex_error(lx, "expected '[seq:end(len)]': the segment the error quotes");
  if (!parse_u32(lx, &p->seq, "quoted sequence number") || !dr_lex_accept(lx, ":") ||
      !parse_u32(lx, &p->end, "quoted end sequence number") || !dr_lex_accept(lx, "(") ||
      !parse_u32(lx, &p->len, "quoted length") || !dr_lex_accept(lx, ")") ||
      !dr_lex_accept(lx, "]"))
    return lx->failed ? false : dr_lex_error(lx, "expected '[seq:end(len)]'");
  if (p->end - p->seq != p->len)
    return dr_lex_error(lx, "start:end(len) inconsistent: %u - %u != %u", p->end, p->seq, p->len);
  if (!dr_lex_at_eol(lx))
    return lx->failed ? false
                      : dr_lex_error(lx, "unexpected '%c' after an ICMP packet", dr_lex_peek(lx));
  return true;
}

static bool parse_packet(struct dr_lex *lx, struct dr_event *ev)
{
  struct dr_pkt *p = &ev->pkt;
  if (dr_lex_accept(lx, "@")) {
    int64_t f;
    if (!dr_lex_int(lx, &f) || f < 0 || f >= DR_MAX_FLOWS)
      return dr_lex_error(lx, "expected a flow number 0..%d after '@'", DR_MAX_FLOWS - 1);
    p->flow = (int)f;
  }
  dr_lex_skip(lx, false);
  if (dr_lex_accept(lx, "icmp")) {
    if (ev->kind != DR_EV_IN)
      return dr_lex_error(lx, "ICMP packets can only be injected ('<')");
    return parse_icmp(lx, p);
  }
  /* flags: a word of S F P R . E W U */
  int nflags = 0;
  for (;;) {
    char c = dr_lex_peek(lx);
    uint8_t f = 0;
    switch (c) {
    case 'S':
      f = DR_TCP_SYN;
      break;
    case 'F':
      f = DR_TCP_FIN;
      break;
    case 'P':
      f = DR_TCP_PSH;
      break;
    case 'R':
      f = DR_TCP_RST;
      break;
    case '.':
      f = DR_TCP_ACK;
      break;
    case 'E':
      f = DR_TCP_ECE;
      break;
    case 'W':
      f = DR_TCP_CWR;
      break;
    case 'U':
      f = DR_TCP_URG;
      break;
    default:
      break;
    }
    if (!f)
      break;
    if (p->flags & f)
      return dr_lex_error(lx, "flag '%c' given twice", c);
    p->flags |= f;
    nflags++;
    dr_lex_advance(lx, 1);
  }
  if (!nflags)
    return dr_lex_error(lx, "expected TCP flags (S F P R . E W U)");
  if (dr_lex_peek(lx) != ' ' && dr_lex_peek(lx) != '\t')
    return dr_lex_error(lx, "unknown TCP flag '%c'", dr_lex_peek(lx));
  dr_lex_skip(lx, false);
  if (!parse_u32(lx, &p->seq, "sequence number 'start:end(len)'"))
    return false;
  if (!dr_lex_accept(lx, ":"))
    return dr_lex_error(lx, "expected ':' in 'start:end(len)'");
  if (!parse_u32(lx, &p->end, "end sequence number"))
    return false;
  if (!dr_lex_accept(lx, "("))
    return dr_lex_error(lx, "expected '(' in 'start:end(len)'");
  if (!parse_u32(lx, &p->len, "payload length"))
    return false;
  if (!dr_lex_accept(lx, ")"))
    return dr_lex_error(lx, "expected ')' in 'start:end(len)'");
  if (p->end - p->seq != p->len)
    return dr_lex_error(lx, "start:end(len) inconsistent: %u - %u != %u", p->end, p->seq, p->len);
  if (p->len > 65000)
    return dr_lex_error(lx, "payload too long");
  for (;;) {
    char w[16];
    if (dr_lex_at_eol(lx))
      break;
    if (lx->failed)
      return false;
    if (dr_lex_accept(lx, "<")) {
      if (p->nopt || p->opts_any)
        return dr_lex_error(lx, "options given twice");
      if (!parse_options(lx, p))
        return false;
      continue;
    }
    int wl = lx->line, wc = lx->col;
    if (!dr_lex_ident(lx, w, sizeof(w)))
      return dr_lex_error(lx, "unexpected '%c' in packet", dr_lex_peek(lx));
    dr_lex_skip(lx, false);
    if (!strcmp(w, "ack")) {
      if (!parse_u32(lx, &p->ack, "ACK number"))
        return false;
      p->has_ack = true;
    } else if (!strcmp(w, "win")) {
      if (!parse_u32(lx, &p->win, "window"))
        return false;
      if (p->win > 65535)
        return dr_lex_error(lx, "window out of range");
      p->has_win = true;
    } else {
      lx->line = wl;
      lx->col = wc;
      return dr_lex_error(lx, "unknown packet field '%s'", w);
    }
  }
  if (p->has_ack && !(p->flags & DR_TCP_ACK))
    return dr_lex_error(lx, "'ack' given without the '.' flag");
  if (!p->has_ack && (p->flags & DR_TCP_ACK))
    return dr_lex_error(lx, "'.' flag without 'ack N'");
  return true;
}

/* ------------------------------------------------------------ call args */

static void val_push(struct dr_val *list, struct dr_val *item)
{
  list->v = xrealloc(list->v, sizeof(*list->v) * (size_t)(list->n + 1));
  list->v[list->n++] = *item;
}

static bool parse_value(struct dr_lex *lx, struct dr_val *v);

static bool parse_expr(struct dr_lex *lx, int64_t *out, bool nl)
{
  int64_t acc = 0;
  for (;;) {
    char name[64];
    int64_t x;
    dr_lex_skip(lx, nl);
    int sl = lx->line, sc = lx->col;
    if (dr_lex_int(lx, &x)) {
      acc |= x;
    } else if (dr_lex_ident(lx, name, sizeof(name))) {
      if (!dr_symbol(name, &x)) {
        lx->line = sl;
        lx->col = sc;
        return dr_lex_error(lx, "unknown symbol '%s'", name);
      }
      acc |= x;
    } else {
      return lx->failed ? false : dr_lex_error(lx, "expected a value");
    }
    dr_lex_skip(lx, nl);
    if (!dr_lex_accept(lx, "|"))
      break;
  }
  *out = acc;
  return true;
}

static bool parse_seq(struct dr_lex *lx, struct dr_val *v, char close, bool fields)
{
  dr_lex_skip(lx, true);
  if (dr_lex_accept(lx, close == ']' ? "]" : "}"))
    return true;
  for (;;) {
    struct dr_val item;
    memset(&item, 0, sizeof(item));
    dr_lex_skip(lx, true);
    if (fields) {
      /* "name=value", "name(count)=value" or a bare value (iovec) */
      size_t save = lx->pos;
      int sl = lx->line, sc = lx->col;
      char name[64];
      if (dr_lex_ident(lx, name, sizeof(name))) {
        dr_lex_skip(lx, false);
        bool has_count = false;
        int64_t cnt = 0;
        if (dr_lex_peek(lx) == '(' && strncmp(name, "msg_", 4) == 0) {
          dr_lex_advance(lx, 1);
          dr_lex_skip(lx, false);
          if (!dr_lex_accept(lx, "...") && !dr_lex_int(lx, &cnt))
            return dr_lex_error(lx, "expected a count");
          has_count = true;
          if (!dr_lex_accept(lx, ")"))
            return dr_lex_error(lx, "expected ')'");
          dr_lex_skip(lx, false);
        }
        if (dr_lex_accept(lx, "=")) {
          if (!parse_value(lx, &item))
            return false;
          item.name = xstrndup(name, strlen(name));
          item.has_count = has_count;
          item.count = cnt;
          goto have_item;
        }
      }
      lx->pos = save;
      lx->line = sl;
      lx->col = sc;
    }
    if (!parse_value(lx, &item))
      return false;
  have_item:
    val_push(v, &item);
    dr_lex_skip(lx, true);
    if (dr_lex_accept(lx, close == ']' ? "]" : "}"))
      return true;
    if (!dr_lex_accept(lx, ","))
      return dr_lex_error(lx, "expected ',' or '%c'", close);
  }
}

static bool parse_value(struct dr_lex *lx, struct dr_val *v)
{
  memset(v, 0, sizeof(*v));
  dr_lex_skip(lx, true);
  if (dr_lex_accept(lx, "...")) {
    v->kind = DR_V_ELLIPSIS;
    return true;
  }
  if (dr_lex_accept(lx, "[")) {
    v->kind = DR_V_LIST;
    return parse_seq(lx, v, ']', false);
  }
  if (dr_lex_accept(lx, "{")) {
    v->kind = DR_V_STRUCT;
    return parse_seq(lx, v, '}', true);
  }
  if (dr_lex_peek(lx) == '"') {
    dr_lex_advance(lx, 1);
    size_t start = lx->pos;
    while (dr_lex_peek(lx) && dr_lex_peek(lx) != '"' && dr_lex_peek(lx) != '\n')
      dr_lex_advance(lx, 1);
    if (dr_lex_peek(lx) != '"')
      return dr_lex_error(lx, "unterminated string");
    v->kind = DR_V_STR;
    v->str = xstrndup(lx->s + start, lx->pos - start);
    dr_lex_advance(lx, 1);
    return true;
  }
  v->kind = DR_V_INT;
  return parse_expr(lx, &v->i, true);
}

/* Calls close with ')', so they get their own loop. */
static bool parse_call_args(struct dr_lex *lx, struct dr_call *c)
{
  struct dr_val args;
  memset(&args, 0, sizeof(args));
  dr_lex_skip(lx, true);
  if (!dr_lex_accept(lx, ")")) {
    for (;;) {
      struct dr_val item;
      if (!parse_value(lx, &item)) {
        c->args = args.v;
        c->nargs = args.n;
        return false;
      }
      val_push(&args, &item);
      dr_lex_skip(lx, true);
      if (dr_lex_accept(lx, ")"))
        break;
      if (!dr_lex_accept(lx, ",")) {
        c->args = args.v;
        c->nargs = args.n;
        return dr_lex_error(lx, "expected ',' or ')'");
      }
    }
  }
  c->args = args.v;
  c->nargs = args.n;
  return true;
}

static bool parse_result(struct dr_lex *lx, struct dr_call *c)
{
  dr_lex_skip(lx, false);
  if (!dr_lex_accept(lx, "="))
    return dr_lex_error(lx, "expected '= result' after the call");
  dr_lex_skip(lx, false);
  if (dr_lex_accept(lx, "...")) {
    c->ret_any = true;
  } else if (!parse_expr(lx, &c->ret, false)) {
    return false;
  }
  dr_lex_skip(lx, false);
  char name[32];
  int el = lx->line, ec = lx->col;
  if (dr_lex_ident(lx, name, sizeof(name))) {
    int64_t e;
    if (name[0] != 'E' || !dr_symbol(name, &e)) {
      lx->line = el;
      lx->col = ec;
      return dr_lex_error(lx, "unknown errno '%s'", name);
    }
    if (c->ret != -1)
      return dr_lex_error(lx, "an errno needs the result -1");
    c->err = (int)e;
    dr_lex_skip(lx, false);
  }
  if (dr_lex_peek(lx) == '(') {
    int depth = 0;
    size_t start = lx->pos + 1;
    do {
      char ch = dr_lex_peek(lx);
      if (!ch || ch == '\n')
        return dr_lex_error(lx, "unterminated '(' note");
      if (ch == '(')
        depth++;
      if (ch == ')')
        depth--;
      dr_lex_advance(lx, 1);
    } while (depth > 0);
    c->note = xstrndup(lx->s + start, lx->pos - 1 - start);
  }
  if (c->ret == -1 && !c->err && !c->ret_any)
    return dr_lex_error(lx, "result -1 needs an errno (e.g. '= -1 EAGAIN')");
  if (!dr_lex_at_eol(lx))
    return lx->failed ? false : dr_lex_error(lx, "unexpected text after the result");
  return true;
}

/* ------------------------------------------------------------- the rest */

static bool parse_shell(struct dr_lex *lx, struct dr_event *ev)
{
  /* '`' consumed; the command may span lines */
  size_t start = lx->pos;
  while (dr_lex_peek(lx) && dr_lex_peek(lx) != '`')
    dr_lex_advance(lx, 1);
  if (!dr_lex_peek(lx))
    return dr_lex_error(lx, "unterminated ` command");
  ev->kind = DR_EV_SHELL;
  ev->text = xstrndup(lx->s + start, lx->pos - start);
  dr_lex_advance(lx, 1);
  if (!dr_lex_at_eol(lx))
    return lx->failed ? false : dr_lex_error(lx, "unexpected text after ` command");
  return true;
}

static bool parse_python(struct dr_lex *lx, struct dr_event *ev)
{
  /* "%{" consumed */
  size_t start = lx->pos;
  while (dr_lex_peek(lx) && !(dr_lex_peek(lx) == '}' && dr_lex_peek_at(lx, 1) == '%'))
    dr_lex_advance(lx, 1);
  if (!dr_lex_peek(lx))
    return dr_lex_error(lx, "unterminated %%{ block");
  ev->kind = DR_EV_PYTHON;
  ev->text = xstrndup(lx->s + start, lx->pos - start);
  dr_lex_advance(lx, 2);
  if (!dr_lex_at_eol(lx))
    return lx->failed ? false : dr_lex_error(lx, "unexpected text after }%%");
  return true;
}

static const char *const known_calls[] = {
    "socket",   "bind",   "listen",     "accept",     "connect", "read",  "write",  "send",
    "recv",     "sendto", "recvfrom",   "sendmsg",    "recvmsg", "readv", "writev", "close",
    "shutdown", "dup",    "setsockopt", "getsockopt", "fcntl",   "ioctl", "poll",
};

static bool parse_option_line(struct dr_lex *lx, struct dr_script *sc)
{
  char name[64];
  int ol = lx->line, oc = lx->col;
  if (!dr_lex_ident(lx, name, sizeof(name)))
    return dr_lex_error(lx, "expected an option name after '--'");
  if (strcmp(name, "tolerance_usecs") != 0) {
    lx->line = ol;
    lx->col = oc;
    return dr_lex_error(lx, "unsupported option '--%s'", name);
  }
  if (!dr_lex_accept(lx, "="))
    return dr_lex_error(lx, "expected '=' after --%s", name);
  int64_t v;
  if (!dr_lex_int(lx, &v) || v < 0)
    return dr_lex_error(lx, "expected a number of microseconds");
  sc->tolerance_us = v;
  if (!dr_lex_at_eol(lx))
    return lx->failed ? false : dr_lex_error(lx, "unexpected text after option");
  return true;
}

static bool parse_event(struct dr_lex *lx, struct dr_script *sc)
{
  if (sc->nev == sc->cap) {
    sc->cap = sc->cap ? sc->cap * 2 : 32;
    sc->ev = xrealloc(sc->ev, sizeof(*sc->ev) * (size_t)sc->cap);
  }
  struct dr_event *ev = &sc->ev[sc->nev];
  memset(ev, 0, sizeof(*ev));
  ev->line = lx->line;
  ev->col = lx->col;
  sc->nev++;

  bool have_time = false;
  char c = dr_lex_peek(lx);
  if (c == '*' || c == '+' || isdigit((unsigned char)c) ||
      (c == '.' && dr_lex_peek_at(lx, 1) != '.')) {
    if (!parse_time(lx, &ev->t))
      return false;
    have_time = true;
    if (dr_lex_accept(lx, "...")) {
      ev->blocking = true;
      if (!parse_time(lx, &ev->end))
        return false;
      if (ev->end.kind == DR_T_ANY || ev->end.range)
        return dr_lex_error(lx, "a blocking call's end time must be a plain time");
    }
  } else {
    ev->t.kind = DR_T_REL; /* untimed shell/python events: +0 */
    ev->untimed = true;
  }
  dr_lex_skip(lx, false);
  if (dr_lex_accept(lx, "`"))
    return !ev->blocking ? parse_shell(lx, ev) : dr_lex_error(lx, "'...' before a command");
  if (dr_lex_accept(lx, "%{"))
    return !ev->blocking ? parse_python(lx, ev) : dr_lex_error(lx, "'...' before a block");
  if (!have_time)
    return dr_lex_error(lx, "expected an event time, '`' or '%%{'");
  if (dr_lex_peek(lx) == '<' || dr_lex_peek(lx) == '>') {
    ev->kind = dr_lex_peek(lx) == '<' ? DR_EV_IN : DR_EV_OUT;
    dr_lex_advance(lx, 1);
    if (ev->blocking)
      return dr_lex_error(lx, "'...' is only for system calls");
    return parse_packet(lx, ev);
  }
  char name[32];
  int line = lx->line, col = lx->col;
  if (!dr_lex_ident(lx, name, sizeof(name)))
    return dr_lex_error(lx, "expected a packet ('<' or '>'), a system call, '`' or '%%{'");
  bool known = false;
  for (size_t i = 0; i < sizeof(known_calls) / sizeof(known_calls[0]); i++)
    if (!strcmp(known_calls[i], name))
      known = true;
  if (!known) {
    lx->line = line;
    lx->col = col;
    return dr_lex_error(lx, "unknown system call '%s'", name);
  }
  ev->kind = DR_EV_CALL;
  ev->call.name = xstrndup(name, strlen(name));
  dr_lex_skip(lx, false);
  if (!dr_lex_accept(lx, "("))
    return dr_lex_error(lx, "expected '(' after '%s'", name);
  if (!parse_call_args(lx, &ev->call))
    return false;
  if (!parse_result(lx, &ev->call))
    return false;
  const char *why = dr_check_call(&ev->call);
  if (why) {
    lx->line = line;
    lx->col = col;
    return dr_lex_error(lx, "%s: %s", name, why);
  }
  return true;
}

int dr_parse(const char *path, const char *text, struct dr_script *sc, char *err, size_t errlen)
{
  memset(sc, 0, sizeof(*sc));
  sc->path = xstrndup(path, strlen(path));
  sc->src = xstrndup(text, strlen(text));
  sc->tolerance_us = -1;
  static const char tag[] = "// ustcp-only:", ltag[] = "// linux-only:";
  bool u = !strncmp(text, tag, sizeof(tag) - 1), l = !strncmp(text, ltag, sizeof(ltag) - 1);
  if (u || l) {
    const char *r = text + sizeof(tag) - 1, *e = strchr(r, '\n');
    while (*r == ' ')
      r++;
    char *why = xstrndup(r, e ? (size_t)(e - r) : strlen(r));
    if (u) {
      sc->ustcp_only = true;
      sc->ustcp_only_reason = why;
    } else {
      sc->linux_only = true;
      sc->linux_only_reason = why;
    }
  }
  struct dr_lex lx;
  dr_lex_init(&lx, sc->src);
  for (;;) {
    if (!dr_lex_skip(&lx, true))
      break;
    if (!dr_lex_peek(&lx))
      break;
    if (dr_lex_accept(&lx, "--")) {
      if (!parse_option_line(&lx, sc))
        break;
      continue;
    }
    if (!parse_event(&lx, sc))
      break;
  }
  if (lx.failed) {
    snprintf(err, errlen, "%s", lx.err);
    return -1;
  }
  return 0;
}

int dr_parse_file(const char *path, struct dr_script *sc, char *err, size_t errlen)
{
  FILE *f = fopen(path, "r");
  if (!f) {
    snprintf(err, errlen, "cannot open: %s", strerror(errno));
    memset(sc, 0, sizeof(*sc));
    return -1;
  }
  size_t cap = 4096, n = 0;
  char *buf = xrealloc(NULL, cap);
  size_t k;
  while ((k = fread(buf + n, 1, cap - n - 1, f)) > 0) {
    n += k;
    if (cap - n - 1 == 0) {
      cap *= 2;
      buf = xrealloc(buf, cap);
    }
  }
  fclose(f);
  buf[n] = 0;
  if (strlen(buf) != n) {
    free(buf);
    snprintf(err, errlen, "1:1: NUL byte in script");
    memset(sc, 0, sizeof(*sc));
    return -1;
  }
  int rc = dr_parse(path, buf, sc, err, errlen);
  free(buf);
  return rc;
}

static void val_free(struct dr_val *v)
{
  for (int i = 0; i < v->n; i++)
    val_free(&v->v[i]);
  free(v->v);
  free(v->name);
  free(v->str);
}

void dr_script_free(struct dr_script *sc)
{
  for (int i = 0; i < sc->nev; i++) {
    struct dr_event *ev = &sc->ev[i];
    for (int j = 0; j < ev->call.nargs; j++)
      val_free(&ev->call.args[j]);
    free(ev->call.args);
    free(ev->call.name);
    free(ev->call.note);
    free(ev->text);
  }
  free(sc->ev);
  free(sc->path);
  free(sc->src);
  free(sc->ustcp_only_reason);
  free(sc->linux_only_reason);
  memset(sc, 0, sizeof(*sc));
}
