/*
 * pkt.c - IPv4/TCP packets for the drill runner: decode what a target sent,
 * build what a script injects (with correct IP and TCP checksums), and
 * print either in packetdrill's notation for messages.
 */
#include <stdio.h>
#include <string.h>

#include "drill.h"

static uint16_t get16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }
static uint32_t get32(const uint8_t *p)
{
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static void put16(uint8_t *p, uint32_t v)
{
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}
static void put32(uint8_t *p, uint32_t v)
{
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t n)
{
  for (size_t i = 0; i + 1 < n; i += 2)
    sum += get16(p + i);
  if (n & 1)
    sum += (uint32_t)p[n - 1] << 8;
  return sum;
}
static uint16_t csum_fold(uint32_t sum)
{
  while (sum >> 16)
    sum = (sum & 0xffff) + (sum >> 16);
  return (uint16_t)~sum;
}

int dr_seg_parse(const uint8_t *b, size_t len, struct dr_seg *o, char *err, size_t errlen)
{
  memset(o, 0, sizeof(*o));
  if (len < 20 || (b[0] >> 4) != 4) {
    snprintf(err, errlen, "not an IPv4 packet");
    return -1;
  }
  size_t ihl = (size_t)(b[0] & 15) * 4, tot = get16(b + 2);
  if (ihl < 20 || tot < ihl || tot > len) {
    snprintf(err, errlen, "bad IPv4 lengths");
    return -1;
  }
  if (b[9] != 6) {
    snprintf(err, errlen, "IPv4 protocol %u, not TCP", b[9]);
    return -1;
  }
  o->src = get32(b + 12);
  o->dst = get32(b + 16);
  const uint8_t *t = b + ihl;
  size_t tl = tot - ihl;
  if (tl < 20) {
    snprintf(err, errlen, "truncated TCP header");
    return -1;
  }
  size_t off = (size_t)(t[12] >> 4) * 4;
  if (off < 20 || off > tl) {
    snprintf(err, errlen, "bad TCP data offset");
    return -1;
  }
  o->sport = get16(t);
  o->dport = get16(t + 2);
  o->seq = get32(t + 4);
  o->ack = get32(t + 8);
  o->flags = t[13];
  o->win = get16(t + 14);
  o->len = (uint32_t)(tl - off);
  o->opt_len = (uint8_t)(off - 20);
  for (size_t i = 20; i < off;) {
    uint8_t kind = t[i];
    if (o->nopt >= DR_MAX_OPTS)
      break;
    struct dr_opt *op = &o->opt[o->nopt];
    memset(op, 0, sizeof(*op));
    if (kind == 0) {
      op->kind = DR_OPT_EOL;
      o->nopt++;
      break;
    }
    if (kind == 1) {
      op->kind = DR_OPT_NOP;
      o->nopt++;
      i++;
      continue;
    }
    if (i + 1 >= off || t[i + 1] < 2 || i + t[i + 1] > off) {
      snprintf(err, errlen, "malformed TCP option %u", kind);
      return -1;
    }
    uint8_t ol = t[i + 1];
    if (kind == 2 && ol == 4) {
      op->kind = DR_OPT_MSS;
      op->a = get16(t + i + 2);
    } else if (kind == 3 && ol == 3) {
      op->kind = DR_OPT_WS;
      op->a = t[i + 2];
    } else if (kind == 4 && ol == 2) {
      op->kind = DR_OPT_SACKOK;
    } else if (kind == 8 && ol == 10) {
      op->kind = DR_OPT_TS;
      op->a = get32(t + i + 2);
      op->b = get32(t + i + 6);
    } else if (kind == 5 && ol >= 10 && (ol - 2) % 8 == 0 && ol <= 34) {
      op->kind = DR_OPT_SACK;
      op->nsack = (uint8_t)((ol - 2) / 8);
      for (int k = 0; k < op->nsack; k++) {
        op->sack[k][0] = get32(t + i + 2 + 8 * k);
        op->sack[k][1] = get32(t + i + 6 + 8 * k);
      }
    } else {
      snprintf(err, errlen, "unexpected TCP option kind %u len %u", kind, ol);
      return -1;
    }
    o->nopt++;
    i += ol;
  }
  return 0;
}

static size_t opts_bytes(const struct dr_seg *sg, uint8_t *out)
{
  size_t n = 0;
  for (int i = 0; i < sg->nopt; i++) {
    const struct dr_opt *o = &sg->opt[i];
    switch (o->kind) {
    case DR_OPT_EOL:
      out[n++] = 0;
      break;
    case DR_OPT_NOP:
      out[n++] = 1;
      break;
    case DR_OPT_MSS:
      out[n++] = 2;
      out[n++] = 4;
      put16(out + n, o->a);
      n += 2;
      break;
    case DR_OPT_WS:
      out[n++] = 3;
      out[n++] = 3;
      out[n++] = (uint8_t)o->a;
      break;
    case DR_OPT_SACKOK:
      out[n++] = 4;
      out[n++] = 2;
      break;
    case DR_OPT_TS:
      out[n++] = 8;
      out[n++] = 10;
      put32(out + n, o->a);
      put32(out + n + 4, o->b);
      n += 8;
      break;
    case DR_OPT_SACK:
      out[n++] = 5;
      out[n++] = (uint8_t)(2 + 8 * o->nsack);
      for (int k = 0; k < o->nsack; k++) {
        put32(out + n, o->sack[k][0]);
        put32(out + n + 4, o->sack[k][1]);
        n += 8;
      }
      break;
    }
  }
  /* pad with EOL to a multiple of 4, as packetdrill does */
  while (n % 4)
    out[n++] = 0;
  return n;
}

int dr_seg_build(const struct dr_seg *sg, uint8_t *buf, size_t cap)
{
  uint8_t opts[64];
  memset(opts, 0, sizeof(opts));
  size_t ol = opts_bytes(sg, opts);
  if (ol > 40)
    return -1;
  size_t thl = 20 + ol, tot = 20 + thl + sg->len;
  if (tot > cap || tot > 65535)
    return -1;
  memset(buf, 0, tot);
  buf[0] = 0x45;
  put16(buf + 2, (uint32_t)tot);
  put16(buf + 6, 0x4000); /* DF */
  buf[8] = 64;
  buf[9] = 6;
  put32(buf + 12, sg->src);
  put32(buf + 16, sg->dst);
  put16(buf + 10, csum_fold(csum_add(0, buf, 20)));
  uint8_t *t = buf + 20;
  put16(t, sg->sport);
  put16(t + 2, sg->dport);
  put32(t + 4, sg->seq);
  put32(t + 8, sg->ack);
  t[12] = (uint8_t)((thl / 4) << 4);
  t[13] = sg->flags;
  put16(t + 14, sg->win);
  memcpy(t + 20, opts, ol);
  /* payload: zero bytes, like packetdrill's */
  uint32_t sum = 0;
  uint8_t ph[12];
  put32(ph, sg->src);
  put32(ph + 4, sg->dst);
  ph[8] = 0;
  ph[9] = 6;
  put16(ph + 10, (uint32_t)(thl + sg->len));
  sum = csum_add(sum, ph, 12);
  sum = csum_add(sum, t, thl + sg->len);
  put16(t + 16, csum_fold(sum));
  return (int)tot;
}

int dr_icmp_build(uint32_t src, uint32_t dst, uint8_t type, uint8_t code, uint16_t mtu,
                  const struct dr_seg *quoted, uint8_t *buf, size_t cap)
{
  /* The quoted datagram as we sent it: its IPv4 header says the full
   * length, the quote carries the TCP header only (RFC 792 asks for 8
   * bytes; Linux quotes more, the receiver reads the ports and seq). */
  struct dr_seg q = *quoted;
  q.nopt = 0;
  uint32_t qlen = q.len;
  q.len = 0;
  uint8_t inner[40];
  if (dr_seg_build(&q, inner, sizeof(inner)) != 40)
    return -1;
  put16(inner + 2, 40 + qlen);
  put16(inner + 10, 0);
  put16(inner + 10, csum_fold(csum_add(0, inner, 20)));
  size_t tot = 20 + 8 + 40;
  if (tot > cap)
    return -1;
  memset(buf, 0, tot);
  buf[0] = 0x45;
  put16(buf + 2, (uint32_t)tot);
  buf[8] = 64;
  buf[9] = 1; /* ICMP */
  put32(buf + 12, src);
  put32(buf + 16, dst);
  put16(buf + 10, csum_fold(csum_add(0, buf, 20)));
  uint8_t *ic = buf + 20;
  ic[0] = type;
  ic[1] = code;
  put16(ic + 6, mtu); /* RFC 1191: next-hop MTU in the low half */
  memcpy(ic + 8, inner, 40);
  put16(ic + 2, csum_fold(csum_add(0, ic, 8 + 40)));
  return (int)tot;
}

void dr_flags_format(uint8_t f, char *out)
{
  size_t n = 0;
  if (f & DR_TCP_SYN)
    out[n++] = 'S';
  if (f & DR_TCP_FIN)
    out[n++] = 'F';
  if (f & DR_TCP_RST)
    out[n++] = 'R';
  if (f & DR_TCP_PSH)
    out[n++] = 'P';
  if (f & DR_TCP_URG)
    out[n++] = 'U';
  if (f & DR_TCP_ECE)
    out[n++] = 'E';
  if (f & DR_TCP_CWR)
    out[n++] = 'W';
  if (f & DR_TCP_ACK)
    out[n++] = '.';
  out[n] = 0;
}

void dr_opts_format(const struct dr_opt *o, int nopt, char *out, size_t cap)
{
  size_t n = 0;
  out[0] = 0;
#define APP(...)                                                                                   \
  do {                                                                                             \
    if (n < cap)                                                                                   \
      n += (size_t)snprintf(out + n, cap - n, __VA_ARGS__);                                        \
  } while (0)
  APP("<");
  for (int i = 0; i < nopt; i++) {
    if (i)
      APP(",");
    switch (o[i].kind) {
    case DR_OPT_EOL:
      APP("eol");
      break;
    case DR_OPT_NOP:
      APP("nop");
      break;
    case DR_OPT_MSS:
      APP("mss %u", o[i].a);
      break;
    case DR_OPT_WS:
      APP("wscale %u", o[i].a);
      break;
    case DR_OPT_SACKOK:
      APP("sackOK");
      break;
    case DR_OPT_TS:
      APP("TS val %u ecr %u", o[i].a, o[i].b);
      break;
    case DR_OPT_SACK:
      APP("sack");
      for (int k = 0; k < o[i].nsack; k++)
        APP(" %u:%u", o[i].sack[k][0], o[i].sack[k][1]);
      break;
    }
  }
  APP(">");
#undef APP
}

void dr_seg_format(const struct dr_seg *sg, char *out, size_t cap)
{
  char fl[12], opts[256] = "";
  dr_flags_format(sg->flags, fl);
  if (sg->nopt)
    dr_opts_format(sg->opt, sg->nopt, opts, sizeof(opts));
  int n = snprintf(out, cap, "%s %u:%u(%u)", fl, sg->seq, sg->seq + sg->len, sg->len);
  if (n < 0 || (size_t)n >= cap)
    return;
  if (sg->flags & DR_TCP_ACK)
    n += snprintf(out + n, cap - (size_t)n, " ack %u", sg->ack);
  if ((size_t)n < cap)
    snprintf(out + n, cap - (size_t)n, " win %u%s%s", sg->win, sg->nopt ? " " : "", opts);
}
