/*
 * wire.h - stateless wire formats: IPv4, TCP (+ options), ICMP, checksums.
 *
 * Two levels (DESIGN.md §2.1): *_parse() is the checked view - it validates
 * every length against the buffer before reading a field and decodes into a
 * plain struct; *_emit() writes a struct into a buffer of exactly the length
 * *_len() reports. Nothing outside src/wire reads raw network bytes.
 *
 * Byte order: addresses, ports and all other fields in decoded structs are in
 * HOST byte order. Parsers return 0, or the enum ustcp_stat DROP_* reason
 * (always non-zero) that the caller counts.
 */
#ifndef US_WIRE_H
#define US_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ustcp/stats.h"

/* --------------------------------------------------------------- checksum */

/* One's-complement sum of len bytes added to `sum` (not folded). Word at a
 * time; any alignment and length. */
uint64_t us_csum_add(uint64_t sum, const void *buf, size_t len);
/* us_csum_add for a piece that starts `offset` bytes into the checksummed
 * data: a piece at an odd offset has its sum byte-swapped (RFC 1071 2.(B)). */
uint64_t us_csum_add_at(uint64_t sum, const void *buf, size_t len, size_t offset);
/* Fold to 16 bits and complement: the value to put in a header. */
uint16_t us_csum_fold(uint64_t sum);
/* Sum of the TCP/UDP pseudo-header (RFC 9293 3.1). */
uint64_t us_csum_pseudo(uint32_t src, uint32_t dst, uint8_t proto, uint16_t len);
/* RFC 1624 eqn. 3: new checksum after one 16-bit field changed old -> new. */
uint16_t us_csum_update16(uint16_t csum, uint16_t old_v, uint16_t new_v);

/* ------------------------------------------------------------------- IPv4 */

#define US_IPV4_HDR_LEN 20
#define US_IPPROTO_ICMP 1
#define US_IPPROTO_TCP 6
#define US_IPPROTO_UDP 17

struct us_ipv4_hdr {
  uint8_t hdr_len; /* bytes, 20..60 (options are skipped, never used) */
  uint8_t tos;
  uint16_t total_len; /* bytes, header included */
  uint16_t id;
  bool df, mf;
  uint16_t frag_off; /* bytes */
  uint8_t ttl;
  uint8_t proto;
  uint16_t csum;
  uint32_t src, dst;
};

/* Checks version, IHL, total length <= len, header checksum. Sets *out even
 * for a fragment (the caller decides: fragments are dropped and counted). */
int us_ipv4_parse(const uint8_t *buf, size_t len, struct us_ipv4_hdr *out);
/* Writes a 20-byte header (no options) and its checksum. */
void us_ipv4_emit(const struct us_ipv4_hdr *h, uint8_t *buf);

/* -------------------------------------------------------------------- TCP */

#define US_TCP_HDR_LEN 20
#define US_TCP_FIN 0x01
#define US_TCP_SYN 0x02
#define US_TCP_RST 0x04
#define US_TCP_PSH 0x08
#define US_TCP_ACK 0x10
#define US_TCP_URG 0x20
#define US_TCP_ECE 0x40
#define US_TCP_CWR 0x80

#define US_TCP_MAX_SACK 4

struct us_tcp_sack_block {
  uint32_t left, right;
};

struct us_tcp_opts {
  bool mss_ok, ws_ok, sack_ok, ts_ok;
  uint16_t mss;
  uint8_t ws; /* shift as received (the caller clamps to 14) */
  uint32_t ts_val, ts_ecr;
  uint8_t nsack; /* SACK blocks present (0..4) */
  struct us_tcp_sack_block sack[US_TCP_MAX_SACK];
};

struct us_tcp_hdr {
  uint16_t sport, dport;
  uint32_t seq, ack;
  uint8_t hdr_len; /* bytes incl. options (parse: from data offset) */
  uint8_t flags;   /* US_TCP_* */
  uint16_t win;    /* raw, unscaled */
  uint16_t csum;
  uint16_t urg;
  struct us_tcp_opts opt;
};

/* Parse a TCP segment (header + payload, len bytes). With verify_csum the
 * pseudo-header checksum over src/dst is checked (DROP_TCP_CSUM). Options:
 * EOL ends the list, NOP is skipped, known options with a wrong fixed
 * length, any option of length 0/1 or running past the header are
 * DROP_TCP_BAD_OPT; unknown options are skipped by their length.
 * On DROP_TCP_BAD_OPT *out is still complete: header fields plus the options
 * Linux's tcp_parse_options() would use (it stops at a length 0/1 or
 * overrunning option and ignores a known option of the wrong length).
 * Linux never drops a segment for its options, so a caller matching Linux
 * may go on with the segment. Any other non-zero return: *out unset. */
int us_tcp_parse(const uint8_t *seg, size_t len, uint32_t src, uint32_t dst, bool verify_csum,
                 struct us_tcp_hdr *out);

/* Options are laid out as Linux lays them out (tcp_options_write()):
 *   MSS(4); SACK-permitted+TS as [sackOK TS] or [nop nop TS] or
 *   [nop nop sackOK]; [nop wscale]; SACK blocks as [nop nop SACK n*8].
 * So a Linux SYN is: mss, sackOK, TS, nop, wscale (20 bytes). */
size_t us_tcp_opts_len(const struct us_tcp_opts *o);
/* Header length for h (20 + options, a multiple of 4). */
size_t us_tcp_hdr_len(const struct us_tcp_hdr *h);
/* Write header + options (us_tcp_hdr_len(h) bytes) with checksum field 0. */
void us_tcp_emit(const struct us_tcp_hdr *h, uint8_t *buf);
/* Compute and store the checksum of a complete segment (header + payload). */
void us_tcp_csum_fill(uint8_t *seg, size_t len, uint32_t src, uint32_t dst);
/* Transmit checksum offload (Linux tcp_v4_send_check() for
 * CHECKSUM_PARTIAL): put the folded pseudo-header sum in the checksum field;
 * the link completes it (us_tcp_csum_complete). */
void us_tcp_csum_partial(uint8_t *seg, size_t len, uint32_t src, uint32_t dst);
/* Complete a checksum left by us_tcp_csum_partial: sum the whole segment
 * (field included), fold, complement, store. */
void us_tcp_csum_complete(uint8_t *seg, size_t len);

/* ------------------------------------------------------------------- ICMP */

#define US_ICMP_ECHO_REPLY 0
#define US_ICMP_DEST_UNREACH 3
#define US_ICMP_ECHO_REQUEST 8
#define US_ICMP_TIME_EXCEEDED 11
#define US_ICMP_NET_UNREACH 0
#define US_ICMP_HOST_UNREACH 1
#define US_ICMP_PROT_UNREACH 2
#define US_ICMP_PORT_UNREACH 3
#define US_ICMP_FRAG_NEEDED 4
#define US_ICMP_HDR_LEN 8

struct us_icmp_hdr {
  uint8_t type, code;
  uint16_t csum;
  uint16_t id, seq;    /* echo request/reply */
  uint16_t mtu;        /* dest unreachable / frag needed (next-hop MTU) */
  const uint8_t *body; /* the rest of the message (borrowed from the buffer) */
  size_t body_len;
};

/* Checks length >= 8 and the checksum over the whole message. For
 * unreachable/time-exceeded, body is the quoted datagram. */
int us_icmp_parse(const uint8_t *buf, size_t len, struct us_icmp_hdr *out);
/* Writes the 8-byte header, then body_len bytes of body, and the checksum:
 * buf must hold exactly US_ICMP_HDR_LEN + h->body_len bytes. */
void us_icmp_emit(const struct us_icmp_hdr *h, uint8_t *buf);

/* --------------------------------------------------- byte-order helpers */

static inline uint16_t us_get16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }
static inline uint32_t us_get32(const uint8_t *p)
{
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static inline void us_put16(uint8_t *p, uint16_t v)
{
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}
static inline void us_put32(uint8_t *p, uint32_t v)
{
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

#endif
