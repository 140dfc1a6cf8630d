/*
 * test_wire_csum.c - the Internet checksum: the word-at-a-time us_csum_add()
 * against a byte-at-a-time reference for every length 0..300 at every
 * alignment, RFC 1071's worked example, a classic IPv4 header, composition
 * of partial sums, the pseudo-header, and RFC 1624 incremental update.
 */
#include <stdint.h>
#include <stdlib.h>

#include "harness/test.h"
#include "wire/wire.h"

/* Reference: RFC 1071 4.1, one byte at a time, big-endian 16-bit words. */
static uint32_t ref_sum(const uint8_t *p, size_t n)
{
  uint32_t s = 0;
  for (size_t i = 0; i < n; i++) {
    s += (i % 2 == 0) ? (uint32_t)p[i] << 8 : p[i];
    if (s > 0xffff)
      s = (s & 0xffff) + (s >> 16);
  }
  return s;
}
static uint16_t ref_csum(const uint8_t *p, size_t n) { return (uint16_t)~ref_sum(p, n); }

static uint64_t xs = 0x243f6a8885a308d3ull;
static uint8_t rnd8(void)
{
  xs ^= xs << 13;
  xs ^= xs >> 7;
  xs ^= xs << 17;
  return (uint8_t)(xs >> 24);
}

static void every_length_and_alignment(void)
{
  uint8_t buf[320];
  int mismatches = 0;
  for (int round = 0; round < 4; round++) {
    for (size_t off = 0; off < 8; off++) {
      for (size_t n = 0; n <= 300; n++) {
        for (size_t i = 0; i < sizeof buf; i++)
          buf[i] = round == 0 ? 0xff : rnd8(); /* round 0: maximal carries */
        if (us_csum_fold(us_csum_add(0, buf + off, n)) != ref_csum(buf + off, n))
          mismatches++;
      }
    }
  }
  T_EQ(mismatches, 0);
}

static void big_buffer(void)
{
  size_t n = 65535;
  uint8_t *b = malloc(n + 1);
  T_CHECK(b != NULL);
  if (!b)
    return;
  for (int fill = 0; fill < 2; fill++) {
    for (size_t i = 0; i < n + 1; i++)
      b[i] = fill ? rnd8() : 0xff;
    T_EQ(us_csum_fold(us_csum_add(0, b, n)), ref_csum(b, n));
    T_EQ(us_csum_fold(us_csum_add(0, b + 1, n)), ref_csum(b + 1, n));
  }
  free(b);
}

static void rfc1071_example(void)
{
  /* RFC 1071 3: bytes 00 01 f2 03 f4 f5 f6 f7 sum to ddf2 (one's complement). */
  static const uint8_t ex[8] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
  T_EQ(us_csum_fold(us_csum_add(0, ex, 8)), (uint16_t)~0xddf2);
  T_EQ(ref_sum(ex, 8), 0xddf2);
  /* Odd length: the last byte is the high byte of a padded word. */
  static const uint8_t odd[3] = {0x12, 0x34, 0x56};
  T_EQ(us_csum_fold(us_csum_add(0, odd, 3)), (uint16_t) ~(0x1234 + 0x5600));
  /* Empty input: sum 0, checksum ffff. */
  T_EQ(us_csum_fold(us_csum_add(0, ex, 0)), 0xffff);
}

static void ipv4_header_known_answer(void)
{
  /* A widely used worked example: 192.168.0.1 -> 192.168.0.199, UDP, total
   * length 0x73, DF, TTL 64: header checksum b861. */
  uint8_t h[20] = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                   0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
  T_EQ(us_csum_fold(us_csum_add(0, h, 20)), 0xb861);
  h[10] = 0xb8;
  h[11] = 0x61;
  T_EQ(us_csum_fold(us_csum_add(0, h, 20)), 0); /* verifies to zero */
}

static void composition(void)
{
  /* Sums of even-length pieces add up to the sum of the whole. */
  uint8_t b[300];
  int bad = 0;
  for (size_t i = 0; i < sizeof b; i++)
    b[i] = rnd8();
  for (size_t cut = 0; cut <= sizeof b; cut += 2) {
    uint64_t s = us_csum_add(us_csum_add(0, b, cut), b + cut, sizeof b - cut);
    if (us_csum_fold(s) != ref_csum(b, sizeof b))
      bad++;
  }
  T_EQ(bad, 0);
}

static void pseudo_header(void)
{
  /* The pseudo-header sum equals the sum of its 12 bytes laid out. */
  int bad = 0;
  for (int k = 0; k < 1000; k++) {
    uint32_t src = 0, dst = 0;
    for (int i = 0; i < 4; i++) {
      src = src << 8 | rnd8();
      dst = dst << 8 | rnd8();
    }
    uint16_t len = (uint16_t)(rnd8() << 8 | rnd8());
    uint8_t ph[12];
    us_put32(ph, src);
    us_put32(ph + 4, dst);
    ph[8] = 0;
    ph[9] = US_IPPROTO_TCP;
    us_put16(ph + 10, len);
    if (us_csum_fold(us_csum_pseudo(src, dst, US_IPPROTO_TCP, len)) != ref_csum(ph, 12))
      bad++;
  }
  T_EQ(bad, 0);
}

static void incremental_update(void)
{
  /* RFC 1624: updating one 16-bit word equals recomputing, for random
   * buffers and random word changes, including the all-ones/zero edges. */
  uint8_t b[40];
  int bad = 0;
  for (int k = 0; k < 20000; k++) {
    for (size_t i = 0; i < sizeof b; i++)
      b[i] = k < 10 ? 0 : rnd8();
    size_t w = (size_t)(rnd8() % 20) * 2;
    uint16_t old_v = us_get16(b + w);
    uint16_t new_v = (uint16_t)(rnd8() << 8 | rnd8());
    if (k % 7 == 0)
      new_v = 0xffff;
    if (k % 11 == 0)
      new_v = 0;
    uint16_t c = us_csum_fold(us_csum_add(0, b, sizeof b));
    us_put16(b + w, new_v);
    uint16_t want = us_csum_fold(us_csum_add(0, b, sizeof b));
    uint16_t got = us_csum_update16(c, old_v, new_v);
    /* +0 and -0 are the same one's-complement value; RFC 1624 eqn. 3 never
     * produces ffff from a non-zero sum, so compare exactly except there. */
    if (got != want && !((got == 0 || got == 0xffff) && (want == 0 || want == 0xffff)))
      bad++;
  }
  T_EQ(bad, 0);
  /* RFC 1624 section 4's example: HC = 0xdd2f, m = 0x5555 -> m' = 0x3285
   * gives HC' = 0x0000 with eqn. 3 (eqn. 2 would give 0xffff). */
  T_EQ(us_csum_update16(0xdd2f, 0x5555, 0x3285), 0x0000);
}

int main(void)
{
  T_RUN(every_length_and_alignment);
  T_RUN(big_buffer);
  T_RUN(rfc1071_example);
  T_RUN(ipv4_header_known_answer);
  T_RUN(composition);
  T_RUN(pseudo_header);
  T_RUN(incremental_update);
  return T_DONE();
}
