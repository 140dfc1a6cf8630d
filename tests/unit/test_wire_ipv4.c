/*
 * test_wire_ipv4.c - IPv4 header parse/emit: every field round-trips, the
 * emitted checksum verifies, options are skipped, fragments parse, and each
 * malformed header is rejected with its own named drop reason.
 */
#include <stdint.h>

#include "harness/test.h"
#include "wire/wire.h"

static uint64_t xs = 0x9e3779b97f4a7c15ull;
static uint32_t rnd32(void)
{
  xs ^= xs << 13;
  xs ^= xs >> 7;
  xs ^= xs << 17;
  return (uint32_t)(xs >> 16);
}

static void fix_csum(uint8_t *b)
{
  size_t hl = (size_t)(b[0] & 15) * 4;
  us_put16(b + 10, 0);
  us_put16(b + 10, us_csum_fold(us_csum_add(0, b, hl)));
}

static void round_trip(void)
{
  int bad = 0;
  for (int k = 0; k < 20000; k++) {
    struct us_ipv4_hdr h = {0}, o = {0};
    h.hdr_len = 20;
    h.tos = (uint8_t)rnd32();
    h.total_len = (uint16_t)(20 + rnd32() % 200);
    h.id = (uint16_t)rnd32();
    h.df = rnd32() & 1;
    h.mf = rnd32() & 1;
    h.frag_off = (uint16_t)((rnd32() & 0x1fff) * 8);
    h.ttl = (uint8_t)rnd32();
    h.proto = (uint8_t)rnd32();
    h.src = rnd32();
    h.dst = rnd32();
    uint8_t buf[256] = {0};
    us_ipv4_emit(&h, buf);
    int r = us_ipv4_parse(buf, h.total_len, &o);
    if (r != 0 || o.hdr_len != 20 || o.tos != h.tos || o.total_len != h.total_len || o.id != h.id ||
        o.df != h.df || o.mf != h.mf || o.frag_off != h.frag_off || o.ttl != h.ttl ||
        o.proto != h.proto || o.src != h.src || o.dst != h.dst || o.csum != us_get16(buf + 10))
      bad++;
    /* The emitted checksum verifies to zero over the header. */
    if (us_csum_fold(us_csum_add(0, buf, 20)) != 0)
      bad++;
  }
  T_EQ(bad, 0);
}

static void exact_bytes(void)
{
  struct us_ipv4_hdr h = {.hdr_len = 20,
                          .tos = 0,
                          .total_len = 0x73,
                          .id = 0,
                          .df = true,
                          .ttl = 64,
                          .proto = 17,
                          .src = 0xc0a80001,
                          .dst = 0xc0a800c7};
  uint8_t b[20];
  static const uint8_t want[20] = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                                   0xb8, 0x61, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
  us_ipv4_emit(&h, b);
  T_CHECK(memcmp(b, want, 20) == 0);
}

static void options_and_padding(void)
{
  /* IHL 6 with a 4-byte option (NOP NOP NOP EOL): parsed, hdr_len 24. */
  uint8_t b[64] = {0};
  struct us_ipv4_hdr h = {.total_len = 40, .ttl = 1, .proto = 6, .src = 1, .dst = 2};
  us_ipv4_emit(&h, b);
  b[0] = 0x46;
  b[20] = 1;
  b[21] = 1;
  b[22] = 1;
  b[23] = 0;
  fix_csum(b);
  struct us_ipv4_hdr o;
  T_EQ(us_ipv4_parse(b, 40, &o), 0);
  T_EQ(o.hdr_len, 24);
  T_EQ(o.total_len, 40);
  /* A buffer longer than total_len (link padding) is fine. */
  T_EQ(us_ipv4_parse(b, 64, &o), 0);
  T_EQ(o.total_len, 40);
  /* Maximal IHL 15 = 60 bytes. */
  b[0] = 0x4f;
  us_put16(b + 2, 60);
  fix_csum(b);
  T_EQ(us_ipv4_parse(b, 60, &o), 0);
  T_EQ(o.hdr_len, 60);
}

static void fragments_parse(void)
{
  uint8_t b[40] = {0};
  struct us_ipv4_hdr h = {.total_len = 40, .mf = true, .frag_off = 1480, .ttl = 9, .proto = 6};
  us_ipv4_emit(&h, b);
  T_EQ(us_get16(b + 6), 0x2000 | (1480 / 8));
  struct us_ipv4_hdr o;
  T_EQ(us_ipv4_parse(b, 40, &o), 0);
  T_CHECK(o.mf);
  T_EQ(o.frag_off, 1480);
}

static void malformed(void)
{
  uint8_t good[40] = {0}, b[40];
  struct us_ipv4_hdr h = {
      .total_len = 40, .ttl = 64, .proto = 6, .src = 0x0a000001, .dst = 0x0a000002};
  struct us_ipv4_hdr o;
  us_ipv4_emit(&h, good);
  T_EQ(us_ipv4_parse(good, 40, &o), 0);

  /* Shorter than a minimal header, for every short length. */
  for (size_t n = 0; n < 20; n++)
    T_EQ(us_ipv4_parse(good, n, &o), USTCP_STAT_DROP_IP_TOO_SHORT);

  /* Version 6 (and 0, 5, 15). */
  static const uint8_t vers[] = {0, 5, 6, 15};
  for (size_t i = 0; i < sizeof vers; i++) {
    memcpy(b, good, 40);
    b[0] = (uint8_t)(vers[i] << 4 | 5);
    fix_csum(b);
    T_EQ(us_ipv4_parse(b, 40, &o), USTCP_STAT_DROP_IP_BAD_VERSION);
  }

  /* IHL < 5. */
  for (uint8_t ihl = 0; ihl < 5; ihl++) {
    memcpy(b, good, 40);
    b[0] = (uint8_t)(0x40 | ihl);
    T_EQ(us_ipv4_parse(b, 40, &o), USTCP_STAT_DROP_IP_BAD_HDRLEN);
  }
  /* IHL past the buffer: IHL 15 (60 bytes) in a 40-byte buffer. */
  memcpy(b, good, 40);
  b[0] = 0x4f;
  T_EQ(us_ipv4_parse(b, 40, &o), USTCP_STAT_DROP_IP_BAD_HDRLEN);

  /* total_len < IHL*4 and > buffer. */
  memcpy(b, good, 40);
  us_put16(b + 2, 19);
  fix_csum(b);
  T_EQ(us_ipv4_parse(b, 40, &o), USTCP_STAT_DROP_IP_BAD_TOTLEN);
  memcpy(b, good, 40);
  b[0] = 0x46;
  us_put16(b + 2, 23); /* below the 24-byte header */
  fix_csum(b);
  T_EQ(us_ipv4_parse(b, 40, &o), USTCP_STAT_DROP_IP_BAD_TOTLEN);
  memcpy(b, good, 40);
  us_put16(b + 2, 41);
  fix_csum(b);
  T_EQ(us_ipv4_parse(b, 40, &o), USTCP_STAT_DROP_IP_BAD_TOTLEN);
  /* Truncated datagram: buffer shorter than total_len. */
  T_EQ(us_ipv4_parse(good, 39, &o), USTCP_STAT_DROP_IP_BAD_TOTLEN);
  /* Wrong in both total length and checksum: the checksum is checked
   * first, as Linux's ip_rcv_core() does. */
  memcpy(b, good, 40);
  us_put16(b + 2, 41);
  T_EQ(us_ipv4_parse(b, 40, &o), USTCP_STAT_DROP_IP_CSUM);

  /* Header checksum: flip each header bit in turn. */
  int wrong = 0;
  for (size_t bit = 0; bit < 160; bit++) {
    memcpy(b, good, 40);
    b[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    int r = us_ipv4_parse(b, 40, &o);
    /* Bits in version/IHL may trip an earlier check first. */
    if (r == 0)
      wrong++;
    else if (bit >= 8 && r != USTCP_STAT_DROP_IP_CSUM)
      wrong++;
  }
  T_EQ(wrong, 0);
  /* A payload bit does not matter to the header checksum. */
  memcpy(b, good, 40);
  b[30] ^= 0x80;
  T_EQ(us_ipv4_parse(b, 40, &o), 0);
}

int main(void)
{
  T_RUN(round_trip);
  T_RUN(exact_bytes);
  T_RUN(options_and_padding);
  T_RUN(fragments_parse);
  T_RUN(malformed);
  return T_DONE();
}
