/*
 * fuzz_wire.c - libFuzzer target for the stateless wire layer: arbitrary
 * bytes go to every parser; whatever parses is emitted again and must
 * re-parse to the same decoded struct. The checksum is compared with a
 * byte-at-a-time reference at the input's alignment and one byte off.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire/wire.h"

#define CHECK(c)                                                                                   \
  do {                                                                                             \
    if (!(c))                                                                                      \
      __builtin_trap();                                                                            \
  } while (0)

static uint16_t ref_csum(const uint8_t *p, size_t n)
{
  uint32_t s = 0;
  for (size_t i = 0; i < n; i++) {
    s += (i % 2 == 0) ? (uint32_t)p[i] << 8 : p[i];
    s = (s & 0xffff) + (s >> 16);
  }
  return (uint16_t)~s;
}

static void check_csum(const uint8_t *data, size_t size)
{
  CHECK(us_csum_fold(us_csum_add(0, data, size)) == ref_csum(data, size));
  if (size > 1)
    CHECK(us_csum_fold(us_csum_add(0, data + 1, size - 1)) == ref_csum(data + 1, size - 1));
}

static void check_ipv4(const uint8_t *data, size_t size)
{
  struct us_ipv4_hdr h, r;
  if (us_ipv4_parse(data, size, &h) != 0)
    return;
  CHECK(h.hdr_len >= 20 && h.hdr_len <= 60 && h.hdr_len <= h.total_len && h.total_len <= size);
  /* Re-emit as a bare 20-byte header (options are never emitted). */
  struct us_ipv4_hdr e = h;
  e.total_len = 20;
  uint8_t b[20];
  us_ipv4_emit(&e, b);
  CHECK(us_ipv4_parse(b, sizeof b, &r) == 0);
  CHECK(r.hdr_len == 20 && r.total_len == 20);
  CHECK(r.tos == h.tos && r.id == h.id && r.df == h.df && r.mf == h.mf &&
        r.frag_off == h.frag_off && r.ttl == h.ttl && r.proto == h.proto && r.src == h.src &&
        r.dst == h.dst);
  /* The option-free header reproduces the input's bytes except IHL,
   * total length and checksum. */
  if (h.hdr_len == 20) {
    /* Bit 15 of the flags word is reserved and not kept. */
    CHECK(b[1] == data[1] && memcmp(b + 4, data + 4, 2) == 0 && b[6] == (data[6] & 0x7f) &&
          memcmp(b + 7, data + 7, 3) == 0 && memcmp(b + 12, data + 12, 8) == 0);
  }
}

static void same_opts(const struct us_tcp_opts *a, const struct us_tcp_opts *b)
{
  CHECK(a->mss_ok == b->mss_ok && a->ws_ok == b->ws_ok && a->sack_ok == b->sack_ok &&
        a->ts_ok == b->ts_ok);
  if (a->mss_ok)
    CHECK(a->mss == b->mss);
  if (a->ws_ok)
    CHECK(a->ws == b->ws);
  if (a->ts_ok)
    CHECK(a->ts_val == b->ts_val && a->ts_ecr == b->ts_ecr);
  /* Emit trims SACK blocks that do not fit beside the other options. */
  CHECK(b->nsack <= a->nsack);
  for (int i = 0; i < b->nsack; i++)
    CHECK(a->sack[i].left == b->sack[i].left && a->sack[i].right == b->sack[i].right);
}

static void check_tcp(const uint8_t *data, size_t size)
{
  struct us_tcp_hdr h, r;
  uint32_t src = size >= 4 ? us_get32(data) : 1, dst = 0x0a000001;
  int rc = us_tcp_parse(data, size, src, dst, false, &h);
  /* A segment that fails structurally also fails with verification on
   * (or fails its checksum first). */
  int rc2 = us_tcp_parse(data, size, src, dst, true, &r);
  if (rc != 0)
    CHECK(rc2 != 0);
  /* Malformed options still decode completely (as Linux reads them), so
   * that result must round-trip too. */
  if (rc != 0 && rc != USTCP_STAT_DROP_TCP_BAD_OPT)
    return;
  CHECK(h.hdr_len >= 20 && h.hdr_len <= 60 && h.hdr_len <= size && h.opt.nsack <= 4);
  size_t hl = us_tcp_hdr_len(&h);
  CHECK(hl >= 20 && hl <= 60 && hl % 4 == 0 && hl == 20 + us_tcp_opts_len(&h.opt));
  size_t plen = size - h.hdr_len;
  if (plen > 1500)
    plen = 1500;
  uint8_t seg[60 + 1500];
  us_tcp_emit(&h, seg);
  memcpy(seg + hl, data + h.hdr_len, plen);
  us_tcp_csum_fill(seg, hl + plen, src, dst);
  CHECK(us_tcp_parse(seg, hl + plen, src, dst, true, &r) == 0);
  CHECK(r.sport == h.sport && r.dport == h.dport && r.seq == h.seq && r.ack == h.ack &&
        r.flags == h.flags && r.win == h.win && r.urg == h.urg && r.hdr_len == hl);
  same_opts(&h.opt, &r.opt);
  /* Emit of the re-parsed header is byte-identical (a fixed point). */
  uint8_t seg2[60];
  us_tcp_emit(&r, seg2);
  CHECK(us_tcp_hdr_len(&r) == hl || r.opt.nsack < h.opt.nsack);
  if (us_tcp_hdr_len(&r) == hl)
    CHECK(memcmp(seg, seg2, 16) == 0 && memcmp(seg + 18, seg2 + 18, hl - 18) == 0);
}

static void check_icmp(const uint8_t *data, size_t size)
{
  struct us_icmp_hdr h, r;
  if (us_icmp_parse(data, size, &h) != 0)
    return;
  CHECK(h.body == data + 8 && h.body_len == size - 8);
  uint8_t *b = malloc(size);
  CHECK(b != NULL);
  us_icmp_emit(&h, b);
  CHECK(us_icmp_parse(b, size, &r) == 0);
  CHECK(r.type == h.type && r.code == h.code && r.id == h.id && r.seq == h.seq && r.mtu == h.mtu &&
        r.body_len == h.body_len);
  /* Bytes are identical except the checksum (+0 / -0 are both valid). */
  CHECK(memcmp(b, data, 2) == 0 && memcmp(b + 4, data + 4, size - 4) == 0);
  free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  check_csum(data, size);
  check_ipv4(data, size);
  check_tcp(data, size);
  check_icmp(data, size);
  /* A datagram: the transport parsers see what IPv4 says is its payload. */
  struct us_ipv4_hdr ip;
  if (us_ipv4_parse(data, size, &ip) == 0) {
    const uint8_t *p = data + ip.hdr_len;
    size_t n = (size_t)ip.total_len - ip.hdr_len;
    struct us_tcp_hdr t;
    struct us_icmp_hdr ic;
    if (ip.proto == US_IPPROTO_TCP)
      (void)us_tcp_parse(p, n, ip.src, ip.dst, true, &t);
    else if (ip.proto == US_IPPROTO_ICMP)
      (void)us_icmp_parse(p, n, &ic);
  }
  return 0;
}
