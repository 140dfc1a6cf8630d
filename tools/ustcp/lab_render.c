/*
 * lab_render.c - what a lab run looks like: the text timeline (a ladder in
 * time order: calls, packets sent/arrived/dropped/lost, state changes, queue
 * lengths), the JSON event list, and the SVG ladder diagram (a vertical line
 * per host, time flowing down with long idle gaps compressed and marked, one
 * arrow per packet from send to arrival, lost packets ending in an X half
 * way, calls and state changes in the margin beside their host).
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lab.h"

/* ---------------------------------------------------------------- pieces */

const char *lab_errno_name(int err)
{
  switch (err) {
  case 0:
    return "0";
  case EAGAIN:
    return "EAGAIN";
  case EINPROGRESS:
    return "EINPROGRESS";
  case EALREADY:
    return "EALREADY";
  case ECONNRESET:
    return "ECONNRESET";
  case ECONNREFUSED:
    return "ECONNREFUSED";
  case ECONNABORTED:
    return "ECONNABORTED";
  case EPIPE:
    return "EPIPE";
  case ETIMEDOUT:
    return "ETIMEDOUT";
  case ENOTCONN:
    return "ENOTCONN";
  case EISCONN:
    return "EISCONN";
  case EINVAL:
    return "EINVAL";
  case EBADF:
    return "EBADF";
  case EADDRINUSE:
    return "EADDRINUSE";
  case EOPNOTSUPP:
    return "EOPNOTSUPP";
  case EDEADLK:
    return "EDEADLK";
  case ENOMEM:
    return "ENOMEM";
  case ENOSYS:
    return "ENOSYS";
  default:
    return "E?";
  }
}

void lab_fmt_time(uint64_t t, char *buf, size_t n)
{
  snprintf(buf, n, "%u.%06u", (unsigned)(t / 1000000000ull), (unsigned)(t % 1000000000ull / 1000));
}

const char *lab_flags_str(uint8_t f, char *buf, size_t n)
{
  /* tcpdump's letters: S F R P . (ACK) U E W; ACK alone is "." */
  char t[16];
  size_t k = 0;
  if (f & US_TCP_SYN)
    t[k++] = 'S';
  if (f & US_TCP_FIN)
    t[k++] = 'F';
  if (f & US_TCP_RST)
    t[k++] = 'R';
  if (f & US_TCP_PSH)
    t[k++] = 'P';
  if (f & US_TCP_URG)
    t[k++] = 'U';
  if (f & US_TCP_ECE)
    t[k++] = 'E';
  if (f & US_TCP_CWR)
    t[k++] = 'W';
  if (f & US_TCP_ACK)
    t[k++] = '.';
  t[k] = 0;
  snprintf(buf, n, "%s", k ? t : "none");
  return buf;
}

static void opts_str(const struct us_tcp_opts *o, char *buf, size_t n)
{
  size_t k = 0;
  buf[0] = 0;
#define ADD(...)                                                                                   \
  do {                                                                                             \
    int w_ = snprintf(buf + k, n - k, __VA_ARGS__);                                                \
    if (w_ > 0 && (size_t)w_ < n - k)                                                              \
      k += (size_t)w_;                                                                             \
  } while (0)
  if (o->mss_ok)
    ADD("%smss %u", k ? "," : "", o->mss);
  if (o->sack_ok)
    ADD("%ssackOK", k ? "," : "");
  if (o->ts_ok)
    ADD("%sTS", k ? "," : "");
  if (o->ws_ok)
    ADD("%swscale %u", k ? "," : "", o->ws);
  if (o->nsack)
    ADD("%sSACK x%u", k ? "," : "", o->nsack);
#undef ADD
}

void lab_seg_label(const struct lab_ev *e, bool with_conn, bool with_opts, char *buf, size_t n)
{
  const struct lab_seg *g = &e->seg;
  if (!g->ip_ok) {
    snprintf(buf, n, "(%zu bytes, not IPv4)", e->len);
    return;
  }
  if (g->icmp) {
    snprintf(buf, n, "ICMP type %u code %u", g->icmp_type, g->icmp_code);
    return;
  }
  if (!g->tcp) {
    snprintf(buf, n, "(IPv4, %zu bytes, not decoded)", e->len);
    return;
  }
  char fl[16], conn[16] = "", ack[32] = "", opts[96] = "";
  lab_flags_str(g->flags, fl, sizeof(fl));
  if (with_conn)
    snprintf(conn, sizeof(conn), "c%d ", g->conn);
  if (g->flags & US_TCP_ACK)
    snprintf(ack, sizeof(ack), " ack=%u", g->rack);
  if (with_opts) {
    char o[80];
    opts_str(&g->opt, o, sizeof(o));
    if (o[0])
      snprintf(opts, sizeof(opts), " <%s>", o);
  }
  snprintf(buf, n, "%s%s seq=%u%s win=%u len=%u%s%s", conn, fl, g->rseq, ack, g->win, g->plen, opts,
           g->csum_ok ? "" : " BAD-CSUM");
}

static const char *host_name(const struct lab_run *r, int h)
{
  return h >= 0 && h < r->nhosts ? r->host[h].name : "?";
}

static void call_result(const struct lab_ev *e, char *buf, size_t n)
{
  if (e->ret < 0)
    snprintf(buf, n, "%s = -1 %s", e->text ? e->text : e->name, lab_errno_name(e->err));
  else
    snprintf(buf, n, "%s = %ld", e->text ? e->text : e->name, e->ret);
}

/* --------------------------------------------------------- text timeline */

/* A line of the timeline: an event at a time (packets appear twice: when
 * sent and when they arrive, are dropped or are lost). */
struct tl_item {
  uint64_t t;
  size_t seq; /* stable order */
  const struct lab_ev *e;
  int what; /* 0 = at e->t, 1 = at e->t_end (arrival / call return) */
};

static int item_cmp(const void *a, const void *b)
{
  const struct tl_item *x = a, *y = b;
  if (x->t != y->t)
    return x->t < y->t ? -1 : 1;
  return x->seq < y->seq ? -1 : (x->seq > y->seq);
}

static struct tl_item *build_items(const struct lab_run *r, bool svg, size_t *out_n)
{
  struct tl_item *v = calloc(2 * r->nev + 1, sizeof(*v));
  if (!v) {
    perror("ustcp lab");
    exit(1);
  }
  size_t n = 0;
  for (size_t i = 0; i < r->nev; i++) {
    const struct lab_ev *e = &r->ev[i];
    if (e->kind == LAB_CALL) {
      /* A call that blocked shows where it started and where it returned. */
      /* It returns after the last event recorded while it ran. */
      if (e->t_end > e->t)
        v[n++] = (struct tl_item){e->t, 4 * i, e, 0};
      v[n++] = (struct tl_item){e->t_end, e->ret_pos > i ? 4 * e->ret_pos - 1 : 4 * i + 2, e, 1};
      continue;
    }
    v[n++] = (struct tl_item){e->t, 4 * i, e, 0};
    /* The link decides a loss when the packet is sent: the text says so on
     * the send line; the SVG draws the X half way. */
    if (e->kind == LAB_PKT && e->fate != LAB_UNKNOWN && (svg || e->fate != LAB_LOST))
      v[n++] = (struct tl_item){e->t_end, 4 * i + 1, e, 1};
  }
  qsort(v, n, sizeof(*v), item_cmp);
  *out_n = n;
  return v;
}

static void state_text(const struct lab_run *r, const struct lab_ev *e, char *buf, size_t n)
{
  (void)r;
  if (e->rport)
    snprintf(buf, n, "state :%u<->:%u %s -> %s", e->lport, e->rport,
             ustcp_tcp_state_name(e->old_state), ustcp_tcp_state_name(e->new_state));
  else
    snprintf(buf, n, "state :%u %s -> %s", e->lport, ustcp_tcp_state_name(e->old_state),
             ustcp_tcp_state_name(e->new_state));
}

static void item_text(const struct lab_run *r, const struct tl_item *it, int *host, char *buf,
                      size_t n)
{
  const struct lab_ev *e = it->e;
  char lbl[200], a[64];
  bool wc = r->nconns > 1;
  *host = e->host;
  switch (e->kind) {
  case LAB_PKT:
    lab_seg_label(e, wc, true, lbl, sizeof(lbl));
    if (it->what == 0) {
      if (e->fate == LAB_LOST)
        snprintf(buf, n, "--X %s   [to %s] LOST on the link%s%s", lbl, host_name(r, e->peer),
                 e->text ? ": " : "", e->text ? e->text : "");
      else
        snprintf(buf, n, "--> %s   [to %s]", lbl, host_name(r, e->peer));
    } else if (e->fate == LAB_ARRIVED) {
      *host = e->peer;
      snprintf(buf, n, "<-- %s", lbl);
    } else if (e->fate == LAB_DROPPED) {
      *host = e->peer;
      snprintf(buf, n, "<-X %s   DROPPED by %s: %s", lbl, host_name(r, e->peer),
               ustcp_stat_name((enum ustcp_stat)e->stat));
    } else {
      snprintf(buf, n, "--X %s   LOST on the link%s%s", lbl, e->text ? ": " : "",
               e->text ? e->text : "");
    }
    break;
  case LAB_RECV:
    *host = e->peer;
    lab_seg_label(e, wc, true, lbl, sizeof(lbl));
    snprintf(buf, n, "<-- %s   [from %s]", lbl, host_name(r, e->host));
    break;
  case LAB_DROP:
    *host = e->peer;
    lab_seg_label(e, wc, true, lbl, sizeof(lbl));
    snprintf(buf, n, "xx  dropped %s: %s", lbl, ustcp_stat_name((enum ustcp_stat)e->stat));
    break;
  case LAB_STATE:
    state_text(r, e, buf, n);
    break;
  case LAB_CALL:
    if (it->what == 0) {
      snprintf(buf, n, "%s ... blocks", e->text ? e->text : e->name);
    } else {
      call_result(e, lbl, sizeof(lbl));
      if (e->t_end > e->t) {
        lab_fmt_time(e->t_end - e->t, a, sizeof(a));
        snprintf(buf, n, "%s   (returned after %s s)", lbl, a);
      } else {
        snprintf(buf, n, "%s", lbl);
      }
    }
    break;
  case LAB_TIMER:
    snprintf(buf, n, "timer: %s", e->text ? e->text : "?");
    break;
  case LAB_NOTE:
    snprintf(buf, n, "note: %s", e->text ? e->text : "");
    break;
  case LAB_QUEUE:
    snprintf(buf, n, "listen fd %d queues: accept %u (backlog %u), SYN %u", e->fd, e->q_acc,
             e->q_backlog, e->q_syn);
    break;
  }
}

void lab_print_text(const struct lab_run *r, FILE *f)
{
  const struct lab_scenario *sc = r->sc;
  fprintf(f, "== %s: %s\n", sc->name, sc->title);
  fprintf(f, "   hosts: ");
  for (int i = 0; i < r->nhosts; i++)
    fprintf(f, "%s%s %s%s", i ? ", " : "", r->host[i].name, r->host[i].addr_str,
            i == r->dut ? " (host under test)" : "");
  fprintf(f, "; link %u ms each way; seed %llu\n", sc->latency_ms, (unsigned long long)sc->seed);
  char legend[512];
  lab_conn_legend(r, legend, sizeof(legend));
  fprintf(f, "   look at: %s\n", sc->look);
  fprintf(f, "   connections: %s\n", legend[0] ? legend : "none");
  fprintf(f,
          "   seq/ack are relative to each direction's ISN; * marks what the verdict rests on\n\n");
  fprintf(f, "   %-12s %-8s %s\n", "time (s)", "host", "event");
  size_t n;
  struct tl_item *v = build_items(r, false, &n);
  uint64_t prev = 0;
  for (size_t i = 0; i < n; i++) {
    char tb[32], line[512];
    int h;
    if (v[i].t - prev >= USTCP_SEC(2)) {
      lab_fmt_time(v[i].t - prev, tb, sizeof(tb));
      fprintf(f, "   %-12s %-8s (%s s pass)\n", "...", "", tb);
    }
    prev = v[i].t;
    item_text(r, &v[i], &h, line, sizeof(line));
    lab_fmt_time(v[i].t, tb, sizeof(tb));
    /* The server's column is indented: the two sides read as a ladder. */
    const char *indent = h == LAB_SERVER ? "                    " : "";
    fprintf(f, " %c %-12s %-8s %s%s\n", v[i].e->key ? '*' : ' ', tb, host_name(r, h), indent, line);
  }
  free(v);
  fprintf(f, "\nSPEC: %s\n", sc->spec);
  fprintf(f, "RESULT: %s - %s\n", r->ok ? "PASS, it did" : "FAIL, it did not", r->why);
}

void lab_print_summary(const struct lab_run *r, FILE *f)
{
  fprintf(f, "%-4s %-24s %s\n", r->ok ? "PASS" : "FAIL", r->sc->name, r->why);
}

/* ------------------------------------------------------------------ JSON */

static void json_str(FILE *f, const char *s)
{
  fputc('"', f);
  for (; s && *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\')
      fprintf(f, "\\%c", c);
    else if (c < 0x20)
      fprintf(f, "\\u%04x", c);
    else
      fputc(c, f);
  }
  fputc('"', f);
}

static void addr_str(uint32_t a, char *buf, size_t n)
{
  snprintf(buf, n, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
}

static const char *kind_name(enum lab_ev_kind k)
{
  static const char *const names[] = {"packet", "received", "drop", "state",
                                      "call",   "timer",    "note", "queues"};
  return names[k];
}

static const char *fate_name(enum lab_fate f)
{
  static const char *const names[] = {"delivered", "dropped", "lost", "unknown"};
  return names[f];
}

void lab_print_json(const struct lab_run *r, FILE *f)
{
  fprintf(f, "{\"scenario\": ");
  json_str(f, r->sc->name);
  fprintf(f, ", \"ok\": %s, \"dut\": ", r->ok ? "true" : "false");
  json_str(f, r->host[r->dut].addr_str);
  fprintf(f, ", \"spec\": ");
  json_str(f, r->sc->spec);
  fprintf(f, ", \"verdict\": ");
  json_str(f, r->why);
  fprintf(f, ", \"seed\": %llu, \"hosts\": [", (unsigned long long)r->sc->seed);
  for (int i = 0; i < r->nhosts; i++) {
    fprintf(f, "%s{\"name\": ", i ? ", " : "");
    json_str(f, r->host[i].name);
    fprintf(f, ", \"addr\": ");
    json_str(f, r->host[i].addr_str);
    fprintf(f, "}");
  }
  fprintf(f, "],\n \"events\": [");
  for (size_t i = 0; i < r->nev; i++) {
    const struct lab_ev *e = &r->ev[i];
    fprintf(f, "%s\n  {\"t\": %.9f, \"kind\": \"%s\",%s \"host\": ", i ? "," : "", e->t / 1e9,
            kind_name(e->kind), e->key ? " \"key\": true," : "");
    json_str(f, host_name(r, e->host));
    switch (e->kind) {
    case LAB_PKT:
    case LAB_RECV:
    case LAB_DROP: {
      const struct lab_seg *g = &e->seg;
      char s[16], d[16], fl[16];
      fprintf(f, ", \"to\": ");
      json_str(f, host_name(r, e->peer));
      fprintf(f, ", \"fate\": \"%s\"", e->kind == LAB_PKT ? fate_name(e->fate) : "");
      if (e->kind == LAB_PKT && e->fate != LAB_UNKNOWN)
        fprintf(f, ", \"t_end\": %.9f", e->t_end / 1e9);
      if (e->fate == LAB_DROPPED || e->fate == LAB_LOST || e->kind == LAB_DROP)
        fprintf(f, ", \"reason\": \"%s\"", ustcp_stat_name((enum ustcp_stat)e->stat));
      addr_str(g->src, s, sizeof(s));
      addr_str(g->dst, d, sizeof(d));
      fprintf(f, ", \"len\": %zu, \"src\": \"%s\", \"dst\": \"%s\"", e->len, s, d);
      if (g->tcp)
        fprintf(f,
                ", \"tcp\": {\"conn\": %d, \"sport\": %u, \"dport\": %u, \"flags\": \"%s\", "
                "\"seq\": %u, \"ack\": %u, \"rel_seq\": %u, \"rel_ack\": %u, \"win\": %u, "
                "\"payload\": %u, \"csum_ok\": %s}",
                g->conn, g->sport, g->dport, lab_flags_str(g->flags, fl, sizeof(fl)), g->seq,
                g->ack, g->rseq, g->rack, g->win, g->plen, g->csum_ok ? "true" : "false");
      else if (g->icmp)
        fprintf(f, ", \"icmp\": {\"type\": %u, \"code\": %u}", g->icmp_type, g->icmp_code);
      break;
    }
    case LAB_STATE:
      fprintf(f,
              ", \"conn_id\": %u, \"lport\": %u, \"rport\": %u, \"from\": \"%s\", \"to\": \"%s\"",
              e->conn_id, e->lport, e->rport, ustcp_tcp_state_name(e->old_state),
              ustcp_tcp_state_name(e->new_state));
      break;
    case LAB_CALL:
      fprintf(f, ", \"call\": \"%s\", \"args\": ", e->name);
      json_str(f, e->text);
      fprintf(f, ", \"ret\": %ld, \"errno\": \"%s\", \"t_end\": %.9f", e->ret,
              e->ret < 0 ? lab_errno_name(e->err) : "", e->t_end / 1e9);
      break;
    case LAB_TIMER:
    case LAB_NOTE:
      fprintf(f, ", \"text\": ");
      json_str(f, e->text);
      break;
    case LAB_QUEUE:
      fprintf(f, ", \"fd\": %d, \"accept_q\": %u, \"syn_q\": %u, \"backlog\": %u", e->fd, e->q_acc,
              e->q_syn, e->q_backlog);
      break;
    }
    fprintf(f, "}");
  }
  fprintf(f, "\n]}\n");
}

/* ------------------------------------------------------------------- SVG */

#define SVG_W 1500
#define SVG_TOP 225
#define SVG_ROW 17
#define SVG_GAP 34 /* a compressed idle gap */

static void xml_text(FILE *f, const char *s)
{
  for (; s && *s; s++) {
    switch (*s) {
    case '&':
      fputs("&amp;", f);
      break;
    case '<':
      fputs("&lt;", f);
      break;
    case '>':
      fputs("&gt;", f);
      break;
    case '"':
      fputs("&quot;", f);
      break;
    default:
      if ((unsigned char)*s >= 0x20)
        fputc(*s, f);
    }
  }
}

/* Text wrapped at `width` characters, one <text> per line; returns the y
 * after the last line. */
static double svg_wrapped(FILE *f, double x, double y, size_t width, const char *attrs,
                          const char *prefix, const char *text)
{
  char line[512];
  size_t plen = strlen(prefix);
  bool first = true;
  while (*text) {
    size_t len = strlen(text), cut = len;
    if (len > width) {
      cut = width;
      while (cut > width / 2 && text[cut] != ' ')
        cut--;
    }
    fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" %s>", x, y, attrs);
    snprintf(line, sizeof(line), "%*s%.*s", first ? 0 : (int)plen, first ? prefix : "", (int)cut,
             text);
    xml_text(f, line);
    fprintf(f, "</text>\n");
    text += cut;
    while (*text == ' ')
      text++;
    y += 15;
    first = false;
  }
  return y;
}

static double host_x(const struct lab_run *r, int h)
{
  if (r->nhosts <= 1)
    return SVG_W / 2.0;
  double left = 560, right = SVG_W - 560;
  if (h < 0)
    h = 0;
  return left + (right - left) * h / (r->nhosts - 1);
}

static const char *seg_color(const struct lab_seg *g)
{
  if (!g->tcp)
    return "#7f7f7f";
  if (g->flags & US_TCP_RST)
    return "#d62728";
  if (g->flags & US_TCP_SYN)
    return "#2ca02c";
  if (g->flags & US_TCP_FIN)
    return "#1f77b4";
  return "#333333";
}

/* Margin text beside host h's line at y. */
static void margin(FILE *f, const struct lab_run *r, int h, double y, const char *cls,
                   const char *text, bool key)
{
  double x = host_x(r, h);
  bool left = h == 0 && r->nhosts > 1;
  if (key) {
    double w = 6.7 * (double)strlen(text) + 8;
    fprintf(f,
            "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"15\" rx=\"3\" "
            "fill=\"#fff0a0\"/>\n",
            left ? x - 14 - w : x + 6, y - 8, w);
  }
  fprintf(f, "<text class=\"%s\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\">", cls,
          left ? x - 10 : x + 10, y + 4, left ? "end" : "start");
  xml_text(f, text);
  fprintf(f, "</text>\n");
}

static void svg_cross(FILE *f, double x, double y, const char *color)
{
  fprintf(f,
          "<path d=\"M%.1f %.1fl10 10m0 -10l-10 10\" stroke=\"%s\" stroke-width=\"2.5\" "
          "fill=\"none\"/>\n",
          x - 5, y - 5, color);
}

int lab_write_svg(const struct lab_run *r, const char *path)
{
  FILE *f = fopen(path, "w");
  if (!f)
    return -1;
  size_t n;
  struct tl_item *v = build_items(r, true, &n);
  double *ys = calloc(n + 1, sizeof(double));
  if (!ys) {
    perror("ustcp lab");
    exit(1);
  }
  /* y of every item: one row each; a little more for a time step, a marked
   * gap for long idle periods. */
  double y = SVG_TOP;
  struct gap {
    double y;
    uint64_t dt;
  } *gaps = calloc(n + 1, sizeof(*gaps));
  size_t ngaps = 0;
  uint64_t prev = n ? v[0].t : 0;
  for (size_t i = 0; i < n; i++) {
    uint64_t dt = v[i].t - prev;
    if (dt >= USTCP_SEC(2)) {
      gaps[ngaps].y = y + 10; /* clear of the text on the row above */
      gaps[ngaps++].dt = dt;
      y += SVG_GAP + 6;
    } else if (dt > 0) {
      /* 1 ms -> +3 px ... 1 s -> +24 px */
      double ms = dt / 1e6;
      y += ms < 1 ? 2 : 3 + 7 * log10(ms);
    }
    prev = v[i].t;
    y += SVG_ROW;
    ys[i] = y;
  }
  double bottom = y + 40;
  double height = bottom + 120;
  char buf[512], tb[32];

  fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
  fprintf(f,
          "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%.0f\" "
          "viewBox=\"0 0 %d %.0f\" font-family=\"DejaVu Sans Mono, Menlo, monospace\" "
          "font-size=\"11\">\n",
          SVG_W, height, SVG_W, height);
  fprintf(f, "<title>");
  xml_text(f, r->sc->name);
  fprintf(f, "</title>\n<style>\n"
             " .call{fill:#000;font-weight:bold} .state{fill:#8c564b} .queue{fill:#9467bd}\n"
             " .note{fill:#555;font-style:italic} .timer{fill:#999} .time{fill:#888;font-size:10px}"
             "\n .lbl{font-size:10.5px;paint-order:stroke;stroke:#fff;stroke-width:3px}\n"
             " .drop{fill:#d62728;font-weight:bold}\n"
             "</style>\n");
  fprintf(f, "<defs>");
  const char *colors[] = {"#d62728", "#2ca02c", "#1f77b4", "#333333", "#7f7f7f"};
  for (size_t i = 0; i < sizeof(colors) / sizeof(colors[0]); i++)
    fprintf(f,
            "<marker id=\"a%zu\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"9\" "
            "markerHeight=\"9\" markerUnits=\"userSpaceOnUse\" orient=\"auto-start-reverse\"><path "
            "d=\"M0 0L10 5L0 10z\" "
            "fill=\"%s\"/></marker>",
            i, colors[i]);
  fprintf(f, "</defs>\n<rect width=\"100%%\" height=\"100%%\" fill=\"#fff\"/>\n");

  /* Heading: the scenario and what SPEC says. */
  fprintf(f, "<text x=\"20\" y=\"26\" font-size=\"17\" font-weight=\"bold\">ustcp lab: ");
  xml_text(f, r->sc->name);
  fprintf(f, "</text>\n<text x=\"20\" y=\"46\" font-size=\"12\">");
  xml_text(f, r->sc->title);
  fprintf(f, "</text>\n");
  double hy =
      svg_wrapped(f, 20, 66, 150, "font-size=\"12\" fill=\"#000\"", "Look at: ", r->sc->look);
  hy = svg_wrapped(f, 20, hy + 4, 180, "font-size=\"11.5\" fill=\"#444\"", "SPEC: ", r->sc->spec);
  char legend[512];
  lab_conn_legend(r, legend, sizeof(legend));
  if (legend[0])
    svg_wrapped(f, 20, hy + 4, 180, "font-size=\"11\" fill=\"#666\"", "connections: ", legend);
  /* Host columns. */
  for (int h = 0; h < r->nhosts; h++) {
    double x = host_x(r, h);
    fprintf(f,
            "<rect x=\"%.1f\" y=\"%d\" width=\"190\" height=\"36\" rx=\"5\" fill=\"%s\" "
            "stroke=\"#333\"/>\n",
            x - 95, SVG_TOP - 48, h == r->dut ? "#fff3c4" : "#eef3fb");
    fprintf(f,
            "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\" font-weight=\"bold\">%s%s</text>\n",
            x, SVG_TOP - 33, r->host[h].name, h == r->dut ? " (under test)" : "");
    fprintf(f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>\n", x, SVG_TOP - 18,
            r->host[h].addr_str);
    /* The line, broken at compressed gaps. */
    double y0 = SVG_TOP - 12;
    for (size_t g = 0; g <= ngaps; g++) {
      double y1 = g < ngaps ? gaps[g].y : bottom;
      fprintf(f,
              "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#555\" "
              "stroke-width=\"1.5\"/>\n",
              x, y0, x, y1);
      if (g < ngaps)
        fprintf(f,
                "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#555\" "
                "stroke-width=\"1.5\" stroke-dasharray=\"2 4\"/>\n",
                x, gaps[g].y, x, gaps[g].y + SVG_GAP - 6);
      y0 = g < ngaps ? gaps[g].y + SVG_GAP - 6 : y1;
    }
  }
  for (size_t g = 0; g < ngaps; g++) {
    lab_fmt_time(gaps[g].dt, tb, sizeof(tb));
    char *dot = strchr(tb, '.');
    if (dot)
      dot[4] = 0; /* ms precision */
    fprintf(f,
            "<rect x=\"20\" y=\"%.1f\" width=\"%d\" height=\"%d\" fill=\"#f4f4f4\" "
            "opacity=\"0.8\"/>\n<text x=\"%d\" y=\"%.1f\" text-anchor=\"middle\" fill=\"#666\" "
            "font-style=\"italic\">... %s s pass ...</text>\n",
            gaps[g].y, SVG_W - 40, SVG_GAP - 6, SVG_W / 2, gaps[g].y + 17, tb);
  }
  /* Blocking calls: a bar on the host line from call to return. */
  for (size_t i = 0; i < n; i++) {
    const struct lab_ev *e = v[i].e;
    if (e->kind != LAB_CALL || v[i].what != 0)
      continue;
    for (size_t j = i + 1; j < n; j++)
      if (v[j].e == e) {
        double x = host_x(r, e->host);
        fprintf(f,
                "<rect x=\"%.1f\" y=\"%.1f\" width=\"8\" height=\"%.1f\" fill=\"#ff7f0e\" "
                "opacity=\"0.6\"><title>%s blocked</title></rect>\n",
                x - 4, ys[i], ys[j] - ys[i], e->name);
        break;
      }
  }
  /* Time axis labels and margin texts. */
  uint64_t last_t = UINT64_MAX;
  for (size_t i = 0; i < n; i++) {
    const struct lab_ev *e = v[i].e;
    if (v[i].t != last_t) {
      lab_fmt_time(v[i].t, tb, sizeof(tb));
      fprintf(f, "<text class=\"time\" x=\"12\" y=\"%.1f\">%s s</text>\n", ys[i] + 4, tb);
      last_t = v[i].t;
    }
    switch (e->kind) {
    case LAB_CALL:
      if (v[i].what == 0) {
        snprintf(buf, sizeof(buf), "%s ... blocks", e->text ? e->text : e->name);
      } else {
        call_result(e, buf, sizeof(buf));
        if (e->t_end > e->t) {
          lab_fmt_time(e->t_end - e->t, tb, sizeof(tb));
          size_t l = strlen(buf);
          snprintf(buf + l, sizeof(buf) - l, " (after %s s)", tb);
        }
      }
      margin(f, r, e->host, ys[i], "call", buf, e->key && v[i].what == 1);
      break;
    case LAB_STATE:
      state_text(r, e, buf, sizeof(buf));
      margin(f, r, e->host, ys[i], "state", buf, e->key);
      break;
    case LAB_QUEUE:
      snprintf(buf, sizeof(buf), "accept queue %u (backlog %u), SYN queue %u", e->q_acc,
               e->q_backlog, e->q_syn);
      margin(f, r, e->host, ys[i], "queue", buf, e->key);
      break;
    case LAB_NOTE:
      margin(f, r, e->host >= 0 ? e->host : 0, ys[i], "note", e->text ? e->text : "", e->key);
      break;
    case LAB_TIMER:
      snprintf(buf, sizeof(buf), "timer: %s", e->text ? e->text : "?");
      margin(f, r, e->host, ys[i], "timer", buf, e->key);
      break;
    case LAB_DROP: {
      char lbl[200];
      lab_seg_label(e, r->nconns > 1, false, lbl, sizeof(lbl));
      snprintf(buf, sizeof(buf), "dropped %s: %s", lbl, ustcp_stat_name((enum ustcp_stat)e->stat));
      margin(f, r, e->peer, ys[i], "drop", buf, e->key);
      break;
    }
    case LAB_RECV: {
      char lbl[200];
      lab_seg_label(e, r->nconns > 1, false, lbl, sizeof(lbl));
      snprintf(buf, sizeof(buf), "received %s", lbl);
      margin(f, r, e->peer, ys[i], "note", buf, e->key);
      break;
    }
    case LAB_PKT:
      break;
    }
  }
  /* Packets: an arrow from the sender at send time to the receiver at
   * arrival time; lost ones stop half way with an X; dropped ones end in an X
   * at the receiver with the reason. */
  for (size_t i = 0; i < n; i++) {
    const struct lab_ev *e = v[i].e;
    if (e->kind != LAB_PKT || v[i].what != 0)
      continue;
    double y1 = ys[i], y2 = y1 + SVG_ROW;
    for (size_t j = i + 1; j < n; j++)
      if (v[j].e == e) {
        y2 = ys[j];
        break;
      }
    double x1 = host_x(r, e->host), x2 = host_x(r, e->peer >= 0 ? e->peer : 1 - e->host);
    const char *col = seg_color(&e->seg);
    size_t mi = 3;
    for (size_t k = 0; k < sizeof(colors) / sizeof(colors[0]); k++)
      if (!strcmp(colors[k], col))
        mi = k;
    double ex = x2, ey = y2;
    if (e->fate == LAB_LOST || e->fate == LAB_UNKNOWN) {
      ex = (x1 + x2) / 2;
      ey = (y1 + y2) / 2;
    }
    bool data = e->seg.tcp && e->seg.plen > 0;
    if (e->key)
      fprintf(f,
              "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ffd84d\" "
              "stroke-width=\"10\" stroke-opacity=\"0.7\" stroke-linecap=\"round\"/>\n",
              x1, y1, ex, ey);
    fprintf(f,
            "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
            "stroke-width=\"%s\"%s",
            x1, y1, ex, ey, col, data ? "2.2" : "1.4",
            e->fate == LAB_UNKNOWN ? " stroke-dasharray=\"4 3\"" : "");
    if (e->fate == LAB_ARRIVED)
      fprintf(f, " marker-end=\"url(#a%zu)\"", mi);
    fprintf(f, "/>\n");
    if (e->fate == LAB_LOST || e->fate == LAB_DROPPED)
      svg_cross(f, ex, ey, "#d62728");
    char lbl[200];
    lab_seg_label(e, r->nconns > 1, false, lbl, sizeof(lbl));
    double ang = atan2(y2 - y1, x2 - x1) * 180 / M_PI;
    if (ang > 90)
      ang -= 180;
    if (ang < -90)
      ang += 180;
    /* Centred on the arrow; a lost packet's short arrow carries its label
     * from the sender's end. */
    const char *anchor = "middle";
    double lx = (x1 + ex) / 2, ly = (y1 + ey) / 2;
    if (e->fate == LAB_LOST) {
      bool rightward = ex > x1;
      lx = x1 + (rightward ? 12 : -12);
      ly = y1 + (ey - y1) * 12 / fabs(ex - x1 + 1e-9);
      anchor = rightward ? "start" : "end";
    }
    fprintf(f,
            "<text class=\"lbl\" x=\"%.1f\" y=\"%.1f\" fill=\"%s\" text-anchor=\"%s\" "
            "transform=\"rotate(%.2f %.1f %.1f)\">",
            lx, ly - 4, col, anchor, ang, lx, ly);
    xml_text(f, lbl);
    if (e->fate == LAB_LOST)
      xml_text(f, "  LOST");
    fprintf(f, "</text>\n");
    if (e->fate == LAB_DROPPED) {
      snprintf(buf, sizeof(buf), "dropped: %s", ustcp_stat_name((enum ustcp_stat)e->stat));
      margin(f, r, e->peer, y2 + 2, "drop", buf, false);
    }
  }
  /* Verdict and legend. */
  char attrs[128];
  snprintf(attrs, sizeof(attrs), "font-size=\"13\" font-weight=\"bold\" fill=\"%s\"",
           r->ok ? "#2ca02c" : "#d62728");
  double vy = svg_wrapped(f, 20, bottom + 24, 165, attrs,
                          r->ok ? "PASS - it did: " : "FAIL - it did not: ", r->why);
  fprintf(f,
          "<text x=\"20\" y=\"%.0f\" font-size=\"10.5\" fill=\"#555\">arrows: "
          "<tspan fill=\"#2ca02c\">SYN</tspan>  <tspan fill=\"#1f77b4\">FIN</tspan>  "
          "<tspan fill=\"#d62728\">RST</tspan>  <tspan fill=\"#333\">other (thick = data)"
          "</tspan>;  X half way = lost on the link;  X at a host = dropped by that host "
          "(reason beside it);  orange bar = a blocked call</text>\n",
          vy + 8);
  fprintf(f,
          "<text x=\"20\" y=\"%.0f\" font-size=\"10.5\" fill=\"#555\">seq/ack relative to "
          "each side's ISN;  letters as tcpdump: S F R P, . = ACK;  margin: calls (bold), state "
          "changes, queue lengths, timers, notes;  yellow = what the verdict rests on</text>\n",
          vy + 24);
  fprintf(f, "</svg>\n");
  free(gaps);
  free(ys);
  free(v);
  return fclose(f) == 0 ? 0 : -1;
}
