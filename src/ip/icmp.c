/*
 * icmp.c - ICMP (RFC 792, RFC 1122 3.2.2) as Linux's net/ipv4/icmp.c does
 * it: echo requests are answered (echo to broadcast ignored,
 * icmp_echo_ignore_broadcasts = 1), unreachable/time exceeded quoting TCP go
 * to TCP, and those quoting our echo requests and echo replies go to the
 * ping hook (icmp.h). Errors we send follow icmp_send(): never about an ICMP
 * error, a non-first fragment or a broadcast/multicast datagram; quote up
 * to 576 bytes in all; TOS = (tos & 0x1e) | 0xc0; DF clear; rate limited
 * per peer (icmp_ratelimit 1000 ms, burst 6) and globally (icmp_msgs_per_sec
 * 1000, icmp_msgs_burst 50) for the types in icmp_ratemask (3, 4, 11, 12),
 * except fragmentation needed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "ip/ip.h"

#define ICMP_QUOTE_MAX (576 - US_IPV4_HDR_LEN - US_ICMP_HDR_LEN)
#define XRLIM_TIMEOUT USTCP_MS(1000) /* net.ipv4.icmp_ratelimit */
#define XRLIM_BURST 6                /* Linux XRLIM_BURST_FACTOR */
#define GLOBAL_PER_SEC 1000          /* net.ipv4.icmp_msgs_per_sec */
#define GLOBAL_BURST 50              /* net.ipv4.icmp_msgs_burst */

static bool is_error_type(uint8_t type)
{
  /* Linux icmp_pointers[].error, and types past NR_ICMP_TYPES (18). */
  return type == US_ICMP_DEST_UNREACH || type == 4 || type == 5 || type == US_ICMP_TIME_EXCEEDED ||
         type == 12 || type > 18;
}

/* Linux icmpv4_global_allow(): a credit bucket refilled at msgs_per_sec,
 * at most every 20 ms; each message sent takes 0..2 credits at random. */
static bool global_allow(struct ustcp_stack *s)
{
  struct us_ip *ip = s->ip;
  if (ip->global_credit > 0)
    return true;
  ustcp_time_t delta = s->now - ip->global_stamp;
  if (delta > USTCP_SEC(1))
    delta = USTCP_SEC(1);
  if (delta < USTCP_MS(20))
    return false;
  int64_t incr = (int64_t)(GLOBAL_PER_SEC * delta / USTCP_SEC(1));
  if (!incr)
    return false;
  ip->global_stamp = s->now;
  ip->global_credit = US_MIN(ip->global_credit + incr, GLOBAL_BURST);
  return true;
}

/* Linux inet_peer_xrlim_allow(): ns of credit per peer, capped at
 * XRLIM_BURST * timeout; a new peer starts full. The peer table is a small
 * direct-mapped cache keyed by a keyed hash (a forgotten peer starts full,
 * as an expired inet_peer does). */
static bool peer_allow(struct ustcp_stack *s, uint32_t addr)
{
  uint32_t a = htonl(addr);
  uint64_t h = us_siphash(s->secret, &a, sizeof(a));
  struct us_ip_peer *p = &s->ip->peers[h % US_IP_PEERS];
  if (p->addr != addr) {
    p->addr = addr;
    p->last = s->now;
    p->tokens = XRLIM_BURST * XRLIM_TIMEOUT;
  }
  uint64_t tokens = p->tokens + (s->now - p->last);
  p->last = s->now;
  if (tokens > XRLIM_BURST * XRLIM_TIMEOUT)
    tokens = XRLIM_BURST * XRLIM_TIMEOUT;
  bool ok = tokens >= XRLIM_TIMEOUT;
  if (ok)
    tokens -= XRLIM_TIMEOUT;
  p->tokens = tokens;
  return ok;
}

static bool ratelimit_allow(struct ustcp_stack *s, uint8_t type, uint8_t code, uint32_t dst)
{
  bool masked = type == 3 || type == 4 || type == 11 || type == 12; /* icmp_ratemask 0x1818 */
  if (!masked || (type == US_ICMP_DEST_UNREACH && code == US_ICMP_FRAG_NEEDED))
    return true;
  if (!global_allow(s)) {
    us_stat_inc(s, USTCP_STAT_ICMP_OUT_RATELIMIT_GLOBAL);
    return false;
  }
  if (!peer_allow(s, dst)) {
    us_stat_inc(s, USTCP_STAT_ICMP_OUT_RATELIMIT_HOST);
    return false;
  }
  s->ip->global_credit -= (int64_t)(us_rng_u32(&s->rng) % 3); /* icmp_global_consume() */
  return true;
}

/* Send an ICMP error about `dgram` (a datagram we received; the caller
 * decided it deserves one). */
static void send_error(struct ustcp_stack *s, uint8_t type, uint8_t code, const uint8_t *dgram,
                       size_t len)
{
  struct us_ipv4_hdr ih;
  if (us_ipv4_parse(dgram, len, &ih) != 0)
    return;
  if (ih.frag_off)
    return;
  if ((ih.src >> 28) == 0xe || ih.src == 0xffffffffu || (ih.src >> 24) == 0 ||
      (ih.dst >> 28) == 0xe || ih.dst != ntohl(s->cfg.addr))
    return; /* never to or about broadcast/multicast */
  if (ih.proto == US_IPPROTO_ICMP) {
    if (ih.total_len < ih.hdr_len + 1u || is_error_type(dgram[ih.hdr_len]))
      return;
  }
  if (!ratelimit_allow(s, type, code, ih.src))
    return;
  size_t quote = US_MIN((size_t)ih.total_len, (size_t)ICMP_QUOTE_MAX);
  struct us_icmp_hdr ic = {.type = type, .code = code, .body = dgram, .body_len = quote};
  us_icmp_emit(&ic, us_ip_payload_buf(s));
  uint8_t tos = (uint8_t)((ih.tos & 0x1e) | 0xc0); /* IPTOS_PREC_INTERNETCONTROL */
  if (us_ip_output_ex(s, ih.dst, ih.src, US_IPPROTO_ICMP, US_ICMP_HDR_LEN + quote, tos, false))
    return;
  us_stat_inc(s, USTCP_STAT_ICMP_OUT_MSGS);
  if (type == US_ICMP_DEST_UNREACH)
    us_stat_inc(s, USTCP_STAT_ICMP_OUT_DEST_UNREACHS);
}

void us_icmp_send_unreach(struct ustcp_stack *s, uint8_t code, const uint8_t *dgram, size_t len)
{
  send_error(s, US_ICMP_DEST_UNREACH, code, dgram, len);
}

void us_icmp_send_time_exceeded(struct ustcp_stack *s, uint8_t code, const uint8_t *dgram,
                                size_t len)
{
  send_error(s, US_ICMP_TIME_EXCEEDED, code, dgram, len);
}

static void echo_reply(struct ustcp_stack *s, const struct us_ipv4_hdr *ip,
                       const struct us_icmp_hdr *req)
{
  struct us_icmp_hdr rep = *req;
  rep.type = US_ICMP_ECHO_REPLY;
  rep.code = 0;
  us_icmp_emit(&rep, us_ip_payload_buf(s));
  /* Linux icmp_reply(): the request's TOS, DF clear (IP_PMTUDISC_DONT). */
  if (us_ip_output_ex(s, ip->dst, ip->src, US_IPPROTO_ICMP, US_ICMP_HDR_LEN + req->body_len,
                      ip->tos, false))
    return;
  us_stat_inc(s, USTCP_STAT_ICMP_OUT_MSGS);
  us_stat_inc(s, USTCP_STAT_ICMP_OUT_ECHO_REPS);
}

static void call_hook(struct ustcp_stack *s, const struct us_ipv4_hdr *ip, uint8_t type,
                      uint8_t code, uint16_t id, uint16_t seq, uint16_t mtu, size_t len)
{
  if (!s->ip->icmp_hook)
    return;
  struct ustcp_icmp_msg m = {.type = type,
                             .code = code,
                             .ttl = ip->ttl,
                             .from = htonl(ip->src),
                             .id = id,
                             .seq = seq,
                             .mtu = mtu,
                             .len = len};
  s->ip->icmp_hook(s->ip->icmp_hook_user, s, &m);
}

/* Linux icmp_unreach(): the quoted datagram must hold an IPv4 header and 8
 * bytes past it (IcmpInErrors otherwise), then goes to its protocol. */
static void icmp_error_input(struct ustcp_stack *s, const struct us_ipv4_hdr *ip,
                             const struct us_icmp_hdr *ic, const uint8_t *dgram, size_t len)
{
  const uint8_t *q = ic->body;
  size_t qlen = ic->body_len;
  if (qlen < US_IPV4_HDR_LEN || (q[0] >> 4) != 4 || (size_t)(q[0] & 0x0f) * 4 < US_IPV4_HDR_LEN ||
      qlen < (size_t)(q[0] & 0x0f) * 4 + 8) {
    us_stat_inc(s, USTCP_STAT_ICMP_IN_ERRORS);
    us_drop(s, USTCP_STAT_DROP_ICMP_TOO_SHORT, dgram, len);
    return;
  }
  size_t qhl = (size_t)(q[0] & 0x0f) * 4;
  uint8_t qproto = q[9];
  uint32_t qsrc = us_get32(q + 12);
  if (qsrc != ntohl(s->cfg.addr)) {
    us_drop(s, USTCP_STAT_DROP_ICMP_UNHANDLED, dgram, len); /* not about anything we sent */
    return;
  }
  if (qproto == US_IPPROTO_TCP) {
    us_tcp_icmp_error(s, ic->type, ic->code, q, qlen);
    return;
  }
  if (qproto == US_IPPROTO_ICMP && q[qhl] == US_ICMP_ECHO_REQUEST) {
    call_hook(s, ip, ic->type, ic->code, us_get16(q + qhl + 4), us_get16(q + qhl + 6), ic->mtu, 0);
    return;
  }
  us_drop(s, USTCP_STAT_DROP_ICMP_UNHANDLED, dgram, len);
}

void us_icmp_input(struct ustcp_stack *s, const struct us_ipv4_hdr *ip, const uint8_t *dgram,
                   size_t len, bool bcast)
{
  us_stat_inc(s, USTCP_STAT_ICMP_IN_MSGS);
  struct us_icmp_hdr ic;
  int reason = us_icmp_parse(dgram + ip->hdr_len, len - ip->hdr_len, &ic);
  if (reason) {
    if (reason == USTCP_STAT_DROP_ICMP_CSUM)
      us_stat_inc(s, USTCP_STAT_ICMP_IN_CSUM_ERRORS);
    us_stat_inc(s, USTCP_STAT_ICMP_IN_ERRORS);
    us_drop(s, (enum ustcp_stat)reason, dgram, len);
    return;
  }
  if (bcast) {
    /* RFC 1122 3.2.2.6 allows ignoring echo to broadcast; Linux does
     * (icmp_echo_ignore_broadcasts = 1), and drops other types outright. */
    us_drop(s, USTCP_STAT_DROP_IP_BCAST, dgram, len);
    return;
  }
  switch (ic.type) {
  case US_ICMP_ECHO_REQUEST:
    us_stat_inc(s, USTCP_STAT_ICMP_IN_ECHOS);
    echo_reply(s, ip, &ic);
    return;
  case US_ICMP_ECHO_REPLY:
    us_stat_inc(s, USTCP_STAT_ICMP_IN_ECHO_REPS);
    call_hook(s, ip, ic.type, ic.code, ic.id, ic.seq, 0, ic.body_len);
    return;
  case US_ICMP_DEST_UNREACH:
    us_stat_inc(s, USTCP_STAT_ICMP_IN_DEST_UNREACHS);
    icmp_error_input(s, ip, &ic, dgram, len);
    return;
  case US_ICMP_TIME_EXCEEDED:
    us_stat_inc(s, USTCP_STAT_ICMP_IN_TIME_EXCDS);
    icmp_error_input(s, ip, &ic, dgram, len);
    return;
  default:
    us_drop(s, USTCP_STAT_DROP_ICMP_UNHANDLED, dgram, len);
    return;
  }
}

void ustcp_set_icmp_hook(struct ustcp_stack *s, ustcp_icmp_fn fn, void *user)
{
  s->ip->icmp_hook = fn;
  s->ip->icmp_hook_user = user;
}

int ustcp_ping_send(struct ustcp_stack *s, uint32_t dst_be, uint16_t id, uint16_t seq,
                    size_t payload)
{
  us_clock_refresh(s);
  if (dst_be == 0)
    return -EINVAL;
  size_t total = US_IPV4_HDR_LEN + US_ICMP_HDR_LEN + payload;
  if (total > 65535)
    return -EMSGSIZE;
  uint8_t *buf = us_ip_payload_buf(s);
  for (size_t i = 0; i < payload; i++)
    buf[US_ICMP_HDR_LEN + i] = (uint8_t)i;
  struct us_icmp_hdr ic = {.type = US_ICMP_ECHO_REQUEST,
                           .id = id,
                           .seq = seq,
                           .body = buf + US_ICMP_HDR_LEN,
                           .body_len = payload};
  us_icmp_emit(&ic, buf);
  int r = us_ip_output_ex(s, ntohl(s->cfg.addr), ntohl(dst_be), US_IPPROTO_ICMP,
                          US_ICMP_HDR_LEN + payload, 0, total <= s->cfg.mtu);
  if (r)
    return r;
  us_stat_inc(s, USTCP_STAT_ICMP_OUT_MSGS);
  us_stat_inc(s, USTCP_STAT_ICMP_OUT_ECHOS);
  return 0;
}
