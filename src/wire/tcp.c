/*
 * tcp.c - TCP header and option checked view and emitter (RFC 9293 3.1,
 * RFC 7323 timestamps and window scale, RFC 2018 SACK, RFC 6691 MSS).
 *
 * Parse order: minimal header present, data offset sane, checksum (so a
 * corrupted segment counts as a checksum error, not a bad option), options.
 * Emit lays options out exactly as Linux's tcp_options_write() does, so the
 * bytes on the wire match the kernel's.
 */
#include <string.h>

#include "wire/wire.h"

/* Option kinds and lengths (IANA "TCP Option Kind Numbers"). */
enum {
  OPT_EOL = 0,
  OPT_NOP = 1,
  OPT_MSS = 2,
  OPT_WS = 3,
  OPT_SACK_PERM = 4,
  OPT_SACK = 5,
  OPT_TS = 8,
  OPTLEN_MSS = 4,
  OPTLEN_WS = 3,
  OPTLEN_SACK_PERM = 2,
  OPTLEN_SACK_BASE = 2,
  OPTLEN_SACK_BLOCK = 8,
  OPTLEN_TS = 10,
  OPT_SPACE = 40, /* data offset 15 words - 5 */
};

/* Decode the option list. A malformed list is reported (DROP_TCP_BAD_OPT)
 * but still decoded exactly as Linux's tcp_parse_options() reads it, since
 * Linux never drops a segment for its options (measured on 6.18: data in
 * segments with each malformation below is ACKed and delivered):
 *  - a kind with no length byte, a length below 2, or an option running
 *    past the header end the list ("silly" / partial options);
 *  - a known option with the wrong length (MSS 4, WS 3, SACK-permitted 2,
 *    TS 10, SACK 2 + 8n with n >= 1) is ignored, skipped by its length. */
static int parse_opts(const uint8_t *p, size_t n, struct us_tcp_opts *o)
{
  int bad = 0;
  size_t i = 0;
  while (i < n) {
    uint8_t kind = p[i];
    if (kind == OPT_EOL)
      break;
    if (kind == OPT_NOP) {
      i++;
      continue;
    }
    if (n - i < 2)
      return USTCP_STAT_DROP_TCP_BAD_OPT; /* kind byte with no length byte */
    size_t olen = p[i + 1];
    if (olen < 2 || olen > n - i)
      return USTCP_STAT_DROP_TCP_BAD_OPT;
    const uint8_t *v = p + i + 2;
    switch (kind) {
    case OPT_MSS:
      if (olen != OPTLEN_MSS) {
        bad = USTCP_STAT_DROP_TCP_BAD_OPT;
        break;
      }
      o->mss_ok = true;
      o->mss = us_get16(v);
      break;
    case OPT_WS:
      if (olen != OPTLEN_WS) {
        bad = USTCP_STAT_DROP_TCP_BAD_OPT;
        break;
      }
      o->ws_ok = true;
      o->ws = v[0];
      break;
    case OPT_SACK_PERM:
      if (olen != OPTLEN_SACK_PERM) {
        bad = USTCP_STAT_DROP_TCP_BAD_OPT;
        break;
      }
      o->sack_ok = true;
      break;
    case OPT_SACK: {
      /* RFC 2018 3: 2 + 8n bytes, n >= 1 (Linux ignores any other). */
      size_t body = olen - OPTLEN_SACK_BASE;
      if (body == 0 || body % OPTLEN_SACK_BLOCK != 0) {
        bad = USTCP_STAT_DROP_TCP_BAD_OPT;
        break;
      }
      size_t nb = body / OPTLEN_SACK_BLOCK;
      if (nb > US_TCP_MAX_SACK)
        nb = US_TCP_MAX_SACK; /* cannot happen in 40 bytes; belt and braces */
      o->nsack = (uint8_t)nb;
      for (size_t k = 0; k < nb; k++) {
        o->sack[k].left = us_get32(v + k * 8);
        o->sack[k].right = us_get32(v + k * 8 + 4);
      }
      break;
    }
    case OPT_TS:
      if (olen != OPTLEN_TS) {
        bad = USTCP_STAT_DROP_TCP_BAD_OPT;
        break;
      }
      o->ts_ok = true;
      o->ts_val = us_get32(v);
      o->ts_ecr = us_get32(v + 4);
      break;
    default:
      break; /* unknown: skipped by its length (RFC 9293 3.2) */
    }
    i += olen;
  }
  return bad;
}

int us_tcp_parse(const uint8_t *seg, size_t len, uint32_t src, uint32_t dst, bool verify_csum,
                 struct us_tcp_hdr *out)
{
  if (len < US_TCP_HDR_LEN)
    return USTCP_STAT_DROP_TCP_TOO_SHORT;
  size_t hl = (size_t)(seg[12] >> 4) * 4;
  if (hl < US_TCP_HDR_LEN || hl > len)
    return USTCP_STAT_DROP_TCP_BAD_OFF;
  if (verify_csum) {
    if (len > 0xffff)
      return USTCP_STAT_DROP_TCP_CSUM; /* the pseudo-header cannot describe it */
    uint64_t sum = us_csum_pseudo(src, dst, US_IPPROTO_TCP, (uint16_t)len);
    if (us_csum_fold(us_csum_add(sum, seg, len)) != 0)
      return USTCP_STAT_DROP_TCP_CSUM;
  }
  memset(out, 0, sizeof *out);
  out->sport = us_get16(seg);
  out->dport = us_get16(seg + 2);
  out->seq = us_get32(seg + 4);
  out->ack = us_get32(seg + 8);
  out->hdr_len = (uint8_t)hl;
  out->flags = seg[13];
  out->win = us_get16(seg + 14);
  out->csum = us_get16(seg + 16);
  out->urg = us_get16(seg + 18);
  /* Last, so *out is complete even when the options are malformed. */
  return parse_opts(seg + US_TCP_HDR_LEN, hl - US_TCP_HDR_LEN, &out->opt);
}

/* SACK blocks that fit in the option space left by the other options
 * (Linux: tcp_established_options() trims num_sack_blocks the same way). */
static size_t sack_blocks(const struct us_tcp_opts *o, size_t used)
{
  size_t n = o->nsack > US_TCP_MAX_SACK ? US_TCP_MAX_SACK : o->nsack;
  if (n == 0 || used + 4 + OPTLEN_SACK_BLOCK > OPT_SPACE)
    return 0;
  size_t fit = (OPT_SPACE - used - 4) / OPTLEN_SACK_BLOCK;
  return n < fit ? n : fit;
}

static size_t fixed_opts_len(const struct us_tcp_opts *o)
{
  size_t n = 0;
  if (o->mss_ok)
    n += 4;
  if (o->ts_ok)
    n += 12; /* [sackOK TS] or [nop nop TS] */
  else if (o->sack_ok)
    n += 4; /* [nop nop sackOK] */
  if (o->ws_ok)
    n += 4; /* [nop wscale] */
  return n;
}

size_t us_tcp_opts_len(const struct us_tcp_opts *o)
{
  size_t n = fixed_opts_len(o);
  size_t nb = sack_blocks(o, n);
  if (nb)
    n += 4 + nb * OPTLEN_SACK_BLOCK; /* [nop nop SACK len] + blocks */
  return n;
}

size_t us_tcp_hdr_len(const struct us_tcp_hdr *h)
{
  return US_TCP_HDR_LEN + us_tcp_opts_len(&h->opt);
}

static uint8_t *put4(uint8_t *p, uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
  p[0] = a;
  p[1] = b;
  p[2] = c;
  p[3] = d;
  return p + 4;
}

void us_tcp_emit(const struct us_tcp_hdr *h, uint8_t *buf)
{
  const struct us_tcp_opts *o = &h->opt;
  size_t hl = us_tcp_hdr_len(h);

  us_put16(buf, h->sport);
  us_put16(buf + 2, h->dport);
  us_put32(buf + 4, h->seq);
  us_put32(buf + 8, h->ack);
  buf[12] = (uint8_t)((hl / 4) << 4);
  buf[13] = h->flags;
  us_put16(buf + 14, h->win);
  us_put16(buf + 16, 0);
  us_put16(buf + 18, h->urg);

  /* Linux: tcp_options_write() order - MSS, TS (sackOK folded into its
   * leading NOPs), sackOK alone, window scale, SACK blocks. */
  uint8_t *p = buf + US_TCP_HDR_LEN;
  if (o->mss_ok)
    p = put4(p, OPT_MSS, OPTLEN_MSS, (uint8_t)(o->mss >> 8), (uint8_t)o->mss);
  if (o->ts_ok) {
    if (o->sack_ok)
      p = put4(p, OPT_SACK_PERM, OPTLEN_SACK_PERM, OPT_TS, OPTLEN_TS);
    else
      p = put4(p, OPT_NOP, OPT_NOP, OPT_TS, OPTLEN_TS);
    us_put32(p, o->ts_val);
    us_put32(p + 4, o->ts_ecr);
    p += 8;
  } else if (o->sack_ok) {
    p = put4(p, OPT_NOP, OPT_NOP, OPT_SACK_PERM, OPTLEN_SACK_PERM);
  }
  if (o->ws_ok)
    p = put4(p, OPT_NOP, OPT_WS, OPTLEN_WS, o->ws);
  size_t nb = sack_blocks(o, fixed_opts_len(o));
  if (nb) {
    p = put4(p, OPT_NOP, OPT_NOP, OPT_SACK, (uint8_t)(OPTLEN_SACK_BASE + nb * OPTLEN_SACK_BLOCK));
    for (size_t k = 0; k < nb; k++) {
      us_put32(p, o->sack[k].left);
      us_put32(p + 4, o->sack[k].right);
      p += 8;
    }
  }
}

void us_tcp_csum_fill(uint8_t *seg, size_t len, uint32_t src, uint32_t dst)
{
  us_put16(seg + 16, 0);
  uint64_t sum = us_csum_pseudo(src, dst, US_IPPROTO_TCP, (uint16_t)len);
  us_put16(seg + 16, us_csum_fold(us_csum_add(sum, seg, len)));
}

void us_tcp_csum_partial(uint8_t *seg, size_t len, uint32_t src, uint32_t dst)
{
  /* The field holds fold(pseudo); summing the segment with it in place is
   * summing the pseudo-header plus the segment with a zero field. */
  uint64_t sum = us_csum_pseudo(src, dst, US_IPPROTO_TCP, (uint16_t)len);
  us_put16(seg + 16, (uint16_t)~us_csum_fold(sum));
}

void us_tcp_csum_complete(uint8_t *seg, size_t len)
{
  us_put16(seg + 16, us_csum_fold(us_csum_add(0, seg, len)));
}
