/*
 * test_wire_tcp.c - TCP header and option parse/emit: every field and option
 * round-trips, the option bytes are exactly Linux's (checked against the
 * 6.18 kernel on loopback: SYN = mss, sackOK, TS, nop, wscale), the checksum
 * covers the pseudo-header, and every malformed header or option is
 * rejected with its named drop reason.
 */
#include <stdint.h>
#include <stdlib.h>

#include "harness/test.h"
#include "wire/wire.h"

static uint64_t xs = 0xb7e151628aed2a6bull;
static uint32_t rnd32(void)
{
  xs ^= xs << 13;
  xs ^= xs >> 7;
  xs ^= xs << 17;
  return (uint32_t)(xs >> 16);
}

#define SRC 0x0a000001u
#define DST 0x0a000002u

static bool same_hdr(const struct us_tcp_hdr *a, const struct us_tcp_hdr *b)
{
  if (a->sport != b->sport || a->dport != b->dport || a->seq != b->seq || a->ack != b->ack ||
      a->flags != b->flags || a->win != b->win || a->urg != b->urg)
    return false;
  const struct us_tcp_opts *x = &a->opt, *y = &b->opt;
  if (x->mss_ok != y->mss_ok || x->ws_ok != y->ws_ok || x->sack_ok != y->sack_ok ||
      x->ts_ok != y->ts_ok || x->nsack != y->nsack)
    return false;
  if (x->mss_ok && x->mss != y->mss)
    return false;
  if (x->ws_ok && x->ws != y->ws)
    return false;
  if (x->ts_ok && (x->ts_val != y->ts_val || x->ts_ecr != y->ts_ecr))
    return false;
  for (int i = 0; i < x->nsack; i++)
    if (x->sack[i].left != y->sack[i].left || x->sack[i].right != y->sack[i].right)
      return false;
  return true;
}

static void random_hdr(struct us_tcp_hdr *h)
{
  memset(h, 0, sizeof *h);
  h->sport = (uint16_t)rnd32();
  h->dport = (uint16_t)rnd32();
  h->seq = rnd32();
  h->ack = rnd32();
  h->flags = (uint8_t)rnd32();
  h->win = (uint16_t)rnd32();
  h->urg = (uint16_t)rnd32();
  uint32_t m = rnd32();
  struct us_tcp_opts *o = &h->opt;
  o->mss_ok = m & 1;
  o->mss = (uint16_t)rnd32();
  o->ws_ok = (m >> 1) & 1;
  o->ws = (uint8_t)rnd32();
  o->sack_ok = (m >> 2) & 1;
  o->ts_ok = (m >> 3) & 1;
  o->ts_val = rnd32();
  o->ts_ecr = rnd32();
  o->nsack = (uint8_t)((m >> 4) % 5);
  for (int i = 0; i < US_TCP_MAX_SACK; i++) {
    o->sack[i].left = rnd32();
    o->sack[i].right = rnd32();
  }
}

static void round_trip(void)
{
  int bad = 0, trimmed = 0;
  for (int k = 0; k < 50000; k++) {
    struct us_tcp_hdr h, o;
    random_hdr(&h);
    uint8_t seg[120];
    size_t hl = us_tcp_hdr_len(&h);
    if (hl % 4 != 0 || hl < 20 || hl > 60) {
      bad++;
      continue;
    }
    size_t plen = rnd32() % 50;
    for (size_t i = 0; i < plen; i++)
      seg[hl + i] = (uint8_t)rnd32();
    us_tcp_emit(&h, seg);
    us_tcp_csum_fill(seg, hl + plen, SRC, DST);
    if (us_tcp_parse(seg, hl + plen, SRC, DST, true, &o) != 0) {
      bad++;
      continue;
    }
    /* SACK blocks that do not fit beside the other options are trimmed,
     * as Linux does; the rest must round-trip exactly. */
    if (o.opt.nsack < h.opt.nsack) {
      trimmed++;
      h.opt.nsack = o.opt.nsack;
    }
    if (!same_hdr(&h, &o) || o.hdr_len != hl || o.csum != us_get16(seg + 16))
      bad++;
  }
  T_EQ(bad, 0);
  T_CHECK(trimmed > 0); /* the trimming path was exercised */
}

static void linux_syn_bytes(void)
{
  /* Linux 6.18 SYN (captured on loopback): 02 04 MSS, 04 02 08 0a TSval
   * TSecr, 01 03 03 ws. */
  struct us_tcp_hdr h = {
      .sport = 40000, .dport = 80, .seq = 0x01020304, .flags = US_TCP_SYN, .win = 65495};
  h.opt.mss_ok = h.opt.sack_ok = h.opt.ts_ok = h.opt.ws_ok = true;
  h.opt.mss = 65495;
  h.opt.ts_val = 0x502a71bf;
  h.opt.ts_ecr = 0;
  h.opt.ws = 10;
  static const uint8_t want[20] = {0x02, 0x04, 0xff, 0xd7, 0x04, 0x02, 0x08, 0x0a, 0x50, 0x2a,
                                   0x71, 0xbf, 0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x03, 0x0a};
  uint8_t seg[60];
  T_EQ(us_tcp_opts_len(&h.opt), 20);
  T_EQ(us_tcp_hdr_len(&h), 40);
  us_tcp_emit(&h, seg);
  for (int i = 0; i < 20; i++)
    T_EQ(seg[20 + i], want[i]);
  T_EQ(seg[12], 10 << 4); /* data offset 10 words */
  T_EQ(seg[13], US_TCP_SYN);
  T_EQ(us_get16(seg + 16), 0); /* emit leaves the checksum 0 */
}

static void linux_other_layouts(void)
{
  uint8_t seg[60];
  struct us_tcp_hdr h = {.flags = US_TCP_ACK};
  /* Data segment with TS: nop nop TS (Linux, measured). */
  h.opt.ts_ok = true;
  h.opt.ts_val = 0x11223344;
  h.opt.ts_ecr = 0x55667788;
  static const uint8_t ts[12] = {1, 1, 8, 10, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88};
  us_tcp_emit(&h, seg);
  T_EQ(us_tcp_hdr_len(&h), 32);
  T_CHECK(memcmp(seg + 20, ts, 12) == 0);

  /* SYN with timestamps off (Linux, measured): mss, nop nop sackOK, nop ws. */
  struct us_tcp_hdr s = {.flags = US_TCP_SYN};
  s.opt.mss_ok = s.opt.sack_ok = s.opt.ws_ok = true;
  s.opt.mss = 1460;
  s.opt.ws = 7;
  static const uint8_t nots[12] = {2, 4, 0x05, 0xb4, 1, 1, 4, 2, 1, 3, 3, 7};
  us_tcp_emit(&s, seg);
  T_EQ(us_tcp_hdr_len(&s), 32);
  T_CHECK(memcmp(seg + 20, nots, 12) == 0);

  /* SYN with SACK off (Linux, measured): mss, nop nop TS, nop ws. */
  struct us_tcp_hdr n = {.flags = US_TCP_SYN};
  n.opt.mss_ok = n.opt.ts_ok = n.opt.ws_ok = true;
  n.opt.mss = 1460;
  n.opt.ws = 7;
  n.opt.ts_val = 1;
  static const uint8_t nosack[20] = {2, 4, 0x05, 0xb4, 1, 1, 8, 10, 0, 0,
                                     0, 1, 0,    0,    0, 0, 1, 3,  3, 7};
  us_tcp_emit(&n, seg);
  T_CHECK(memcmp(seg + 20, nosack, 20) == 0);

  /* SACK blocks after TS: nop nop TS, nop nop SACK 2+8n, blocks. */
  h.opt.nsack = 2;
  h.opt.sack[0] = (struct us_tcp_sack_block){0xa0a0a0a0, 0xb0b0b0b0};
  h.opt.sack[1] = (struct us_tcp_sack_block){0xc0c0c0c0, 0xd0d0d0d0};
  T_EQ(us_tcp_hdr_len(&h), 20 + 12 + 4 + 16);
  us_tcp_emit(&h, seg);
  T_CHECK(memcmp(seg + 20, ts, 12) == 0);
  T_EQ(seg[32], 1);
  T_EQ(seg[33], 1);
  T_EQ(seg[34], 5);
  T_EQ(seg[35], 18);
  T_EQ(us_get32(seg + 36), 0xa0a0a0a0);
  T_EQ(us_get32(seg + 48), 0xd0d0d0d0);

  /* With TS, at most 3 SACK blocks fit (12 + 4 + 24 = 40 bytes). */
  h.opt.nsack = 4;
  T_EQ(us_tcp_opts_len(&h.opt), 40);
  /* Without TS, all 4 fit (4 + 32 = 36). */
  h.opt.ts_ok = false;
  T_EQ(us_tcp_opts_len(&h.opt), 36);
  /* No options at all: a bare 20-byte header. */
  struct us_tcp_hdr bare = {0};
  T_EQ(us_tcp_hdr_len(&bare), 20);
}

/* Build a segment with raw option bytes (padded with EOL to a multiple of 4)
 * and a correct checksum. Returns the segment length. */
static size_t with_opts(uint8_t *seg, const uint8_t *opts, size_t n)
{
  size_t ol = (n + 3) & ~(size_t)3;
  memset(seg, 0, 20 + ol);
  us_put16(seg, 1234);
  us_put16(seg + 2, 80);
  seg[12] = (uint8_t)(((20 + ol) / 4) << 4);
  seg[13] = US_TCP_ACK;
  memcpy(seg + 20, opts, n);
  us_tcp_csum_fill(seg, 20 + ol, SRC, DST);
  return 20 + ol;
}

static int parse_opts(const uint8_t *opts, size_t n, struct us_tcp_hdr *o)
{
  uint8_t seg[80];
  size_t len = with_opts(seg, opts, n);
  return us_tcp_parse(seg, len, SRC, DST, true, o);
}

static void options_parse(void)
{
  struct us_tcp_hdr o;
  const int BAD = USTCP_STAT_DROP_TCP_BAD_OPT;

  /* Unknown kinds are skipped by their length; known ones after them read. */
  static const uint8_t unk[] = {30, 6, 1, 2, 3, 4, 2, 4, 0x12, 0x34, 253, 2};
  T_EQ(parse_opts(unk, sizeof unk, &o), 0);
  T_CHECK(o.opt.mss_ok);
  T_EQ(o.opt.mss, 0x1234);

  /* EOL ends the list: garbage after it is not read. */
  static const uint8_t eol[] = {3, 3, 9, 0, 2, 0, 0xff, 0xff};
  T_EQ(parse_opts(eol, sizeof eol, &o), 0);
  T_CHECK(o.opt.ws_ok);
  T_EQ(o.opt.ws, 9);
  T_CHECK(!o.opt.mss_ok);

  /* Each option decoded. */
  static const uint8_t all[] = {2, 4, 0x05, 0xb4, 3,  3, 14, 4, 2, 8, 10, 0, 0, 0, 7, 0,
                                0, 0, 9,    5,    10, 0, 0,  0, 1, 0, 0,  0, 2, 1, 1, 1};
  T_EQ(parse_opts(all, sizeof all, &o), 0);
  T_CHECK(o.opt.mss_ok && o.opt.ws_ok && o.opt.sack_ok && o.opt.ts_ok);
  T_EQ(o.opt.mss, 1460);
  T_EQ(o.opt.ws, 14);
  T_EQ(o.opt.ts_val, 7);
  T_EQ(o.opt.ts_ecr, 9);
  T_EQ(o.opt.nsack, 1);
  T_EQ(o.opt.sack[0].left, 1);
  T_EQ(o.opt.sack[0].right, 2);

  /* A raw window scale above 14 is passed through (the caller clamps). */
  static const uint8_t ws15[] = {3, 3, 15};
  T_EQ(parse_opts(ws15, sizeof ws15, &o), 0);
  T_EQ(o.opt.ws, 15);

  /* Four SACK blocks (34 bytes) without TS. */
  uint8_t four[36] = {1, 1, 5, 34};
  for (int i = 0; i < 8; i++)
    us_put32(four + 4 + 4 * i, (uint32_t)(100 + i));
  T_EQ(parse_opts(four, sizeof four, &o), 0);
  T_EQ(o.opt.nsack, 4);
  T_EQ(o.opt.sack[3].right, 107);

  /* Malformed: length 0 or 1 for any non-NOP/EOL kind. */
  static const uint8_t len0[] = {30, 0, 1, 1};
  static const uint8_t len1[] = {2, 1, 1, 1};
  T_EQ(parse_opts(len0, sizeof len0, &o), BAD);
  T_EQ(parse_opts(len1, sizeof len1, &o), BAD);
  /* Kind byte as the last byte with no room for a length. */
  static const uint8_t nolen[] = {1, 1, 1, 2};
  T_EQ(parse_opts(nolen, sizeof nolen, &o), BAD);
  /* Running past the header. */
  static const uint8_t past[] = {1, 1, 30, 7};
  T_EQ(parse_opts(past, sizeof past, &o), BAD);
  static const uint8_t ts_past[] = {1, 1, 8, 10, 0, 0, 0, 0};
  T_EQ(parse_opts(ts_past, sizeof ts_past, &o), BAD);
  /* Wrong fixed lengths. */
  static const uint8_t mss3[] = {2, 3, 5, 1};
  static const uint8_t mss6[] = {2, 6, 5, 0xb4, 0, 0, 0, 0};
  static const uint8_t ws2[] = {3, 2, 1, 1};
  static const uint8_t ws4[] = {3, 4, 7, 0};
  static const uint8_t sp3[] = {4, 3, 0, 1};
  static const uint8_t sp4[] = {4, 4, 0, 0};
  static const uint8_t ts8[] = {8, 8, 0, 0, 0, 0, 0, 0};
  static const uint8_t ts12[] = {8, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  T_EQ(parse_opts(mss3, sizeof mss3, &o), BAD);
  T_EQ(parse_opts(mss6, sizeof mss6, &o), BAD);
  T_EQ(parse_opts(ws2, sizeof ws2, &o), BAD);
  T_EQ(parse_opts(ws4, sizeof ws4, &o), BAD);
  T_EQ(parse_opts(sp3, sizeof sp3, &o), BAD);
  T_EQ(parse_opts(sp4, sizeof sp4, &o), BAD);
  T_EQ(parse_opts(ts8, sizeof ts8, &o), BAD);
  T_EQ(parse_opts(ts12, sizeof ts12, &o), BAD);
  /* Even when malformed, the segment is decoded as Linux reads it: header
   * fields always; a wrong-length known option is ignored and parsing goes
   * on; a length 0/1 or overrunning option ends the list. */
  static const uint8_t skip_bad[] = {2, 3, 5, 1, 3, 3, 6, 1, 4, 2, 1, 1, 8, 8, 0, 0, 0, 0, 0, 0};
  T_EQ(parse_opts(skip_bad, sizeof skip_bad, &o), BAD);
  T_EQ(o.sport, 1234);
  T_EQ(o.dport, 80);
  T_EQ(o.flags, US_TCP_ACK);
  T_EQ(o.hdr_len, 40);
  T_CHECK(!o.opt.mss_ok);                /* MSS of length 3: ignored */
  T_CHECK(o.opt.ws_ok && o.opt.ws == 6); /* read after it */
  T_CHECK(o.opt.sack_ok);
  T_CHECK(!o.opt.ts_ok); /* TS of length 8: ignored */
  static const uint8_t stop0[] = {3, 3, 6, 30, 0, 2, 4, 5, 0xb4};
  T_EQ(parse_opts(stop0, sizeof stop0, &o), BAD);
  T_CHECK(o.opt.ws_ok && o.opt.ws == 6);
  T_CHECK(!o.opt.mss_ok); /* after the length-0 option: not read */
  static const uint8_t stop_past[] = {2, 4, 5, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1};
  T_EQ(parse_opts(stop_past, sizeof stop_past, &o), BAD);
  T_CHECK(o.opt.mss_ok && o.opt.mss == 1460 && o.opt.sack_ok);
  T_CHECK(!o.opt.ts_ok); /* overruns the header: not read */
  static const uint8_t sack_bad[] = {1, 1, 5, 11, 0, 0, 0, 1, 0, 0, 0, 2, 0, 3, 3, 2};
  T_EQ(parse_opts(sack_bad, sizeof sack_bad, &o), BAD);
  T_EQ(o.opt.nsack, 0);
  T_CHECK(o.opt.ws_ok && o.opt.ws == 2);

  /* SACK lengths other than 2 + 8n (n >= 1). */
  for (uint8_t l = 2; l <= 34; l++) {
    uint8_t sk[36] = {1, 1, 5, l};
    int want = (l >= 10 && (l - 2) % 8 == 0) ? 0 : BAD;
    T_EQ(parse_opts(sk, sizeof sk, &o), want);
  }
}

static void header_errors(void)
{
  struct us_tcp_hdr h = {.sport = 5, .dport = 6, .flags = US_TCP_ACK}, o;
  h.opt.ts_ok = true;
  uint8_t seg[64], b[64];
  size_t hl = us_tcp_hdr_len(&h);
  us_tcp_emit(&h, seg);
  memcpy(seg + hl, "payload!", 8);
  size_t len = hl + 8;
  us_tcp_csum_fill(seg, len, SRC, DST);
  T_EQ(us_tcp_parse(seg, len, SRC, DST, true, &o), 0);

  for (size_t n = 0; n < 20; n++)
    T_EQ(us_tcp_parse(seg, n, SRC, DST, false, &o), USTCP_STAT_DROP_TCP_TOO_SHORT);
  /* Data offset < 5. */
  for (uint8_t d = 0; d < 5; d++) {
    memcpy(b, seg, len);
    b[12] = (uint8_t)(d << 4);
    T_EQ(us_tcp_parse(b, len, SRC, DST, false, &o), USTCP_STAT_DROP_TCP_BAD_OFF);
  }
  /* Data offset past the segment: 32-byte header in a 24-byte segment. */
  T_EQ(us_tcp_parse(seg, 24, SRC, DST, false, &o), USTCP_STAT_DROP_TCP_BAD_OFF);
  memcpy(b, seg, len);
  b[12] = 15 << 4;
  T_EQ(us_tcp_parse(b, len, SRC, DST, false, &o), USTCP_STAT_DROP_TCP_BAD_OFF);

  /* Checksum: any flipped bit, a wrong pseudo-header address, or a wrong
   * length is caught; without verify_csum the same segment parses. */
  int missed = 0;
  for (size_t bit = 0; bit < len * 8; bit++) {
    memcpy(b, seg, len);
    b[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    int r = us_tcp_parse(b, len, SRC, DST, true, &o);
    if (r == 0)
      missed++;
  }
  T_EQ(missed, 0);
  T_EQ(us_tcp_parse(seg, len, SRC, DST + 1, true, &o), USTCP_STAT_DROP_TCP_CSUM);
  T_EQ(us_tcp_parse(seg, len, SRC ^ 0x100, DST, true, &o), USTCP_STAT_DROP_TCP_CSUM);
  memcpy(b, seg, len);
  b[len - 1] ^= 1;
  T_EQ(us_tcp_parse(b, len, SRC, DST, true, &o), USTCP_STAT_DROP_TCP_CSUM);
  T_EQ(us_tcp_parse(b, len, SRC, DST, false, &o), 0);
  /* Checksum is checked before options: a corrupted option byte is a
   * checksum error, not a bad option. */
  memcpy(b, seg, len);
  b[22] = 0; /* TS kind -> EOL... */
  b[23] = 1;
  T_EQ(us_tcp_parse(b, len, SRC, DST, true, &o), USTCP_STAT_DROP_TCP_CSUM);

  /* Longer than any IPv4 datagram could carry: no pseudo-header describes
   * it, so it cannot verify; unverified it parses. */
  uint8_t *huge = calloc(1, 70000);
  T_CHECK(huge != NULL);
  if (huge) {
    memcpy(huge, seg, hl);
    T_EQ(us_tcp_parse(huge, 70000, SRC, DST, true, &o), USTCP_STAT_DROP_TCP_CSUM);
    T_EQ(us_tcp_parse(huge, 70000, SRC, DST, false, &o), 0);
    free(huge);
  }
}

int main(void)
{
  T_RUN(round_trip);
  T_RUN(linux_syn_bytes);
  T_RUN(linux_other_layouts);
  T_RUN(options_parse);
  T_RUN(header_errors);
  return T_DONE();
}
