/*
 * test_wire_icmp.c - ICMP parse/emit: echo and unreachable round trips
 * (including the RFC 1191 next-hop MTU), the checksum over the whole
 * message, in-place bodies, and truncated or corrupted messages rejected
 * with their named drop reasons.
 */
#include <stdint.h>

#include "harness/test.h"
#include "wire/wire.h"

static void echo_round_trip(void)
{
  uint8_t body[56], buf[64];
  for (size_t i = 0; i < sizeof body; i++)
    body[i] = (uint8_t)(i * 7 + 1);
  struct us_icmp_hdr h = {.type = US_ICMP_ECHO_REQUEST,
                          .id = 0x1234,
                          .seq = 0xbeef,
                          .body = body,
                          .body_len = sizeof body},
                     o;
  us_icmp_emit(&h, buf);
  T_EQ(buf[0], 8);
  T_EQ(buf[1], 0);
  T_EQ(us_get16(buf + 4), 0x1234);
  T_EQ(us_get16(buf + 6), 0xbeef);
  T_EQ(us_csum_fold(us_csum_add(0, buf, sizeof buf)), 0);
  T_EQ(us_icmp_parse(buf, sizeof buf, &o), 0);
  T_EQ(o.type, US_ICMP_ECHO_REQUEST);
  T_EQ(o.code, 0);
  T_EQ(o.id, 0x1234);
  T_EQ(o.seq, 0xbeef);
  T_EQ(o.mtu, 0);
  T_EQ(o.csum, us_get16(buf + 2));
  T_CHECK(o.body == buf + 8);
  T_EQ(o.body_len, sizeof body);
  T_CHECK(memcmp(o.body, body, sizeof body) == 0);

  /* Reply built in place: the body already sits at buf + 8. */
  struct us_icmp_hdr r = o;
  r.type = US_ICMP_ECHO_REPLY;
  us_icmp_emit(&r, buf);
  T_EQ(us_icmp_parse(buf, sizeof buf, &o), 0);
  T_EQ(o.type, US_ICMP_ECHO_REPLY);
  T_EQ(o.id, 0x1234);
  T_CHECK(memcmp(o.body, body, sizeof body) == 0);
  /* Empty body: an 8-byte message. */
  struct us_icmp_hdr e = {.type = US_ICMP_ECHO_REQUEST, .id = 1, .seq = 2};
  us_icmp_emit(&e, buf);
  T_EQ(us_icmp_parse(buf, 8, &o), 0);
  T_EQ(o.body_len, 0);
  T_EQ(o.seq, 2);
}

static void unreach_round_trip(void)
{
  /* Fragmentation needed with next-hop MTU 1400, quoting an IP header. */
  uint8_t quoted[28] = {0x45, 0, 0, 60, 0, 0, 0x40, 0, 64, 6};
  uint8_t buf[36];
  struct us_icmp_hdr h = {.type = US_ICMP_DEST_UNREACH,
                          .code = US_ICMP_FRAG_NEEDED,
                          .mtu = 1400,
                          .body = quoted,
                          .body_len = sizeof quoted},
                     o;
  us_icmp_emit(&h, buf);
  T_EQ(us_get16(buf + 4), 0); /* unused */
  T_EQ(us_get16(buf + 6), 1400);
  T_EQ(us_icmp_parse(buf, sizeof buf, &o), 0);
  T_EQ(o.type, US_ICMP_DEST_UNREACH);
  T_EQ(o.code, US_ICMP_FRAG_NEEDED);
  T_EQ(o.mtu, 1400);
  T_EQ(o.seq, 0);
  T_EQ(o.body_len, sizeof quoted);
  T_CHECK(memcmp(o.body, quoted, sizeof quoted) == 0);

  /* Every type/code and all of bytes 4..7 round-trip exactly. */
  int bad = 0;
  for (int t = 0; t < 256; t++) {
    for (int c = 0; c < 256; c += 51) {
      uint8_t m[12] = {(uint8_t)t, (uint8_t)c, 0, 0, 0xa1, 0xb2, 0xc3, 0xd4, 9, 8, 7, 6};
      us_put16(m + 2, us_csum_fold(us_csum_add(0, m, sizeof m)));
      uint8_t again[12];
      if (us_icmp_parse(m, sizeof m, &o) != 0) {
        bad++;
        continue;
      }
      us_icmp_emit(&o, again);
      if (memcmp(m, again, sizeof m) != 0)
        bad++;
    }
  }
  T_EQ(bad, 0);
}

static void malformed(void)
{
  uint8_t buf[16];
  struct us_icmp_hdr h = {.type = US_ICMP_ECHO_REQUEST,
                          .id = 7,
                          .seq = 9,
                          .body = (const uint8_t *)"abcdefgh",
                          .body_len = 8},
                     o;
  us_icmp_emit(&h, buf);
  /* Shorter than the header: a checksum error first (as Linux's icmp_rcv()
   * validates the checksum before the length), too short when the short
   * message sums correctly. */
  for (size_t n = 0; n < 8; n++)
    T_EQ(us_icmp_parse(buf, n, &o), USTCP_STAT_DROP_ICMP_CSUM);
  uint8_t shortm[4] = {US_ICMP_ECHO_REQUEST, 0, 0, 0};
  us_put16(shortm + 2, us_csum_fold(us_csum_add(0, shortm, 4)));
  T_EQ(us_icmp_parse(shortm, 4, &o), USTCP_STAT_DROP_ICMP_TOO_SHORT);
  uint8_t six[6] = {US_ICMP_ECHO_REQUEST, 0, 0, 0, 0xab, 0xcd};
  us_put16(six + 2, us_csum_fold(us_csum_add(0, six, 6)));
  T_EQ(us_icmp_parse(six, 6, &o), USTCP_STAT_DROP_ICMP_TOO_SHORT);
  /* The checksum covers the body: a truncated message fails it. */
  T_EQ(us_icmp_parse(buf, 15, &o), USTCP_STAT_DROP_ICMP_CSUM);
  int missed = 0;
  for (size_t bit = 0; bit < sizeof buf * 8; bit++) {
    uint8_t b[16];
    memcpy(b, buf, sizeof b);
    b[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    if (us_icmp_parse(b, sizeof b, &o) != USTCP_STAT_DROP_ICMP_CSUM)
      missed++;
  }
  T_EQ(missed, 0);
}

int main(void)
{
  T_RUN(echo_round_trip);
  T_RUN(unreach_round_trip);
  T_RUN(malformed);
  return T_DONE();
}
