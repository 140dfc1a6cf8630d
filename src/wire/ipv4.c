/*
 * ipv4.c - IPv4 header checked view and emitter (RFC 791).
 *
 * The parser validates, in this order, every length before it reads a field:
 * the buffer holds a minimal header, version is 4, IHL >= 5 and within the
 * buffer, the header checksum (RFC 791 3.1, RFC 1071), and total length
 * covers the header and fits in the buffer (Linux ip_rcv_core() order). Options are skipped
 * (hdr_len tells the caller where the payload starts). Fragments parse normally; the IP layer
 * decides to drop them.
 */
#include "wire/wire.h"

int us_ipv4_parse(const uint8_t *buf, size_t len, struct us_ipv4_hdr *out)
{
  if (len < US_IPV4_HDR_LEN)
    return USTCP_STAT_DROP_IP_TOO_SHORT;
  if ((buf[0] >> 4) != 4)
    return USTCP_STAT_DROP_IP_BAD_VERSION;
  size_t hl = (size_t)(buf[0] & 0x0f) * 4;
  if (hl < US_IPV4_HDR_LEN || hl > len)
    return USTCP_STAT_DROP_IP_BAD_HDRLEN;
  /* Linux: ip_rcv_core() checks the header checksum before the total
   * length, so a datagram wrong in both counts as a checksum error. */
  if (us_csum_fold(us_csum_add(0, buf, hl)) != 0)
    return USTCP_STAT_DROP_IP_CSUM;
  uint16_t tot = us_get16(buf + 2);
  /* A link may pad short frames, so the buffer may be longer than the
   * datagram; the datagram is never longer than the buffer. */
  if (tot < hl || tot > len)
    return USTCP_STAT_DROP_IP_BAD_TOTLEN;

  uint16_t frag = us_get16(buf + 6);
  out->hdr_len = (uint8_t)hl;
  out->tos = buf[1];
  out->total_len = tot;
  out->id = us_get16(buf + 4);
  out->df = (frag & 0x4000) != 0;
  out->mf = (frag & 0x2000) != 0;
  out->frag_off = (uint16_t)((frag & 0x1fff) * 8);
  out->ttl = buf[8];
  out->proto = buf[9];
  out->csum = us_get16(buf + 10);
  out->src = us_get32(buf + 12);
  out->dst = us_get32(buf + 16);
  return 0;
}

void us_ipv4_emit(const struct us_ipv4_hdr *h, uint8_t *buf)
{
  buf[0] = 0x45; /* version 4, IHL 5: we never send IP options */
  buf[1] = h->tos;
  us_put16(buf + 2, h->total_len);
  us_put16(buf + 4, h->id);
  uint16_t frag = (uint16_t)((h->frag_off / 8) & 0x1fff);
  if (h->df)
    frag |= 0x4000;
  if (h->mf)
    frag |= 0x2000;
  us_put16(buf + 6, frag);
  buf[8] = h->ttl;
  buf[9] = h->proto;
  us_put16(buf + 10, 0);
  us_put32(buf + 12, h->src);
  us_put32(buf + 16, h->dst);
  us_put16(buf + 10, us_csum_fold(us_csum_add(0, buf, US_IPV4_HDR_LEN)));
}
