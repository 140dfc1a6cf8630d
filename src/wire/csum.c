/*
 * csum.c - the Internet checksum (RFC 1071) and its incremental update
 * (RFC 1624), shared by IPv4, TCP and ICMP.
 *
 * us_csum_add() sums word at a time: 64-bit loads through memcpy (any
 * alignment, no aliasing trouble), each split into two 32-bit halves added
 * into 64-bit accumulators, so carries are never lost and are folded once at
 * the end. The one's-complement sum is byte-order independent (RFC 1071
 * 2.(B)): we sum in host order and swap the folded 16-bit result to network
 * order once. The value returned (and passed between calls) is a sum of
 * network-order 16-bit words, so it composes with us_csum_pseudo().
 *
 * Each call treats buf as starting at an even offset of the checksummed
 * data: an odd trailing byte is the high byte of a zero-padded word
 * (RFC 1071 4.1).
 */
#include <string.h>

#include "wire/wire.h"

static inline uint64_t load64(const uint8_t *p)
{
  uint64_t v;
  memcpy(&v, p, sizeof v);
  return v;
}

/* Fold a 64-bit one's-complement accumulator to 16 bits (no complement). */
static inline uint16_t fold16(uint64_t sum)
{
  sum = (sum & 0xffffffffu) + (sum >> 32);
  sum = (sum & 0xffffffffu) + (sum >> 32);
  sum = (sum & 0xffffu) + (sum >> 16);
  sum = (sum & 0xffffu) + (sum >> 16);
  sum = (sum & 0xffffu) + (sum >> 16);
  return (uint16_t)sum;
}

uint64_t us_csum_add(uint64_t sum, const void *buf, size_t len)
{
  const uint8_t *p = buf;
  uint64_t a = 0, b = 0;

  /* Each 64-bit load adds at most 2 * (2^32 - 1); four of them per round
   * keep two accumulators far from overflow for any length below 2^60. */
  while (len >= 32) {
    uint64_t w0 = load64(p), w1 = load64(p + 8), w2 = load64(p + 16), w3 = load64(p + 24);
    a += (w0 & 0xffffffffu) + (w0 >> 32) + (w1 & 0xffffffffu) + (w1 >> 32);
    b += (w2 & 0xffffffffu) + (w2 >> 32) + (w3 & 0xffffffffu) + (w3 >> 32);
    p += 32;
    len -= 32;
  }
  while (len >= 8) {
    uint64_t w = load64(p);
    a += (w & 0xffffffffu) + (w >> 32);
    p += 8;
    len -= 8;
  }
  /* Tail of 0..7 bytes with fixed-size loads. An odd last byte is the
   * first byte of a zero-padded 16-bit word (RFC 1071 4.1): the low byte of
   * a host-order lane on a little-endian machine, the high byte otherwise. */
  if (len >= 4) {
    uint32_t w;
    memcpy(&w, p, 4);
    b += w;
    p += 4;
    len -= 4;
  }
  if (len >= 2) {
    uint16_t w;
    memcpy(&w, p, 2);
    a += w;
    p += 2;
    len -= 2;
  }
  if (len) {
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    b += p[0];
#else
    b += (uint64_t)p[0] << 8;
#endif
  }

  uint16_t h = fold16(a + b);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  h = (uint16_t)((h >> 8) | (h << 8));
#endif
  return sum + h;
}

uint64_t us_csum_add_at(uint64_t sum, const void *buf, size_t len, size_t offset)
{
  if (!(offset & 1))
    return us_csum_add(sum, buf, len);
  /* us_csum_add(0, ...) is one folded 16-bit value; at an odd offset every
   * byte sits in the other half of its word: swap. */
  uint16_t h = (uint16_t)us_csum_add(0, buf, len);
  return sum + (uint16_t)((h >> 8) | (h << 8));
}

uint16_t us_csum_fold(uint64_t sum) { return (uint16_t)~fold16(sum); }

uint64_t us_csum_pseudo(uint32_t src, uint32_t dst, uint8_t proto, uint16_t len)
{
  /* RFC 9293 3.1: src, dst, zero, PTCL, TCP length. */
  return (uint64_t)(src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + proto + len;
}

uint16_t us_csum_update16(uint16_t csum, uint16_t old_v, uint16_t new_v)
{
  /* RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'). Never yields the -0 pitfall of
   * eqn. 2. */
  uint32_t sum = (uint16_t)~csum;
  sum += (uint16_t)~old_v;
  sum += new_v;
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  return (uint16_t)~sum;
}
