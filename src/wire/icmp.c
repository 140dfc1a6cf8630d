/*
 * icmp.c - ICMP message checked view and emitter (RFC 792, RFC 1191 for the
 * next-hop MTU of "fragmentation needed").
 *
 * Bytes 4..7 of the header are the echo identifier and sequence number; for
 * destination unreachable, bytes 6..7 are the next-hop MTU (decoded into
 * `mtu`) and bytes 4..5 are unused (kept in `id` so a parse/emit round trip
 * is exact). Other types keep bytes 4..7 raw in id/seq.
 */
#include <string.h>

#include "wire/wire.h"

int us_icmp_parse(const uint8_t *buf, size_t len, struct us_icmp_hdr *out)
{
  /* RFC 792: the checksum covers the whole ICMP message. Linux icmp_rcv()
   * validates it before checking the header length, so a short message
   * with a bad checksum counts as a checksum error. */
  if (us_csum_fold(us_csum_add(0, buf, len)) != 0)
    return USTCP_STAT_DROP_ICMP_CSUM;
  if (len < US_ICMP_HDR_LEN)
    return USTCP_STAT_DROP_ICMP_TOO_SHORT;
  out->type = buf[0];
  out->code = buf[1];
  out->csum = us_get16(buf + 2);
  out->id = us_get16(buf + 4);
  if (out->type == US_ICMP_DEST_UNREACH) {
    out->seq = 0;
    out->mtu = us_get16(buf + 6);
  } else {
    out->seq = us_get16(buf + 6);
    out->mtu = 0;
  }
  out->body = buf + US_ICMP_HDR_LEN;
  out->body_len = len - US_ICMP_HDR_LEN;
  return 0;
}

void us_icmp_emit(const struct us_icmp_hdr *h, uint8_t *buf)
{
  /* The body may already sit in place (buf + 8): memmove, and copy it
   * before the header is written in case it overlaps from the left. */
  if (h->body_len && h->body != buf + US_ICMP_HDR_LEN)
    memmove(buf + US_ICMP_HDR_LEN, h->body, h->body_len);
  buf[0] = h->type;
  buf[1] = h->code;
  us_put16(buf + 2, 0);
  us_put16(buf + 4, h->id);
  us_put16(buf + 6, h->type == US_ICMP_DEST_UNREACH ? h->mtu : h->seq);
  size_t len = US_ICMP_HDR_LEN + h->body_len;
  us_put16(buf + 2, us_csum_fold(us_csum_add(0, buf, len)));
}
