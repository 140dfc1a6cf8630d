/*
 * ip.h - IPv4 input/output and ICMP (src/ip), and the entry points the IP
 * layer calls in TCP (src/tcp).
 */
#ifndef US_IP_H
#define US_IP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "core/core.h"
#include "ustcp/icmp.h"
#include "wire/wire.h"

/* Validate one received datagram and hand it to TCP or ICMP; every drop is
 * counted (us_drop). Borrowed. */
void us_ip_input(struct ustcp_stack *s, const uint8_t *pkt, size_t len);
/* The same for a TCP datagram received in pieces (ustcp_input_v): `pkt`
 * holds its IPv4 and TCP headers only (len is the whole datagram's length),
 * `g` the datagram with g->off at the first payload byte. Only for TCP,
 * unverified checksums and no trace hook (nothing reads past the headers). */
void us_ip_input_g(struct ustcp_stack *s, const uint8_t *pkt, size_t len,
                   const struct us_gather *g);

/* Output: the caller builds the transport payload at
 * s->scratch + US_IPV4_HDR_LEN (up to 65535 - 20 bytes), then calls this to
 * prepend the IPv4 header (DF set, TTL from config, id from the stack) and
 * send. Returns 0 or -EMSGSIZE. src/dst in host byte order. */
int us_ip_output(struct ustcp_stack *s, uint32_t src, uint32_t dst, uint8_t proto,
                 size_t payload_len);
/* The same with explicit TOS and DF (ICMP goes out with DF clear, as
 * Linux's ICMP socket uses IP_PMTUDISC_DONT). */
int us_ip_output_ex(struct ustcp_stack *s, uint32_t src, uint32_t dst, uint8_t proto,
                    size_t payload_len, uint8_t tos, bool df);
/* Gather output: the transport header (hdr_len bytes) is in the scratch
 * buffer as for us_ip_output; iov[1..iovcnt-1] hold payload_len more bytes.
 * iov[0] is filled here (IPv4 + transport header) and the datagram goes to
 * the link's output_v. Only for a link with output_v and no trace hook. */
int us_ip_output_v(struct ustcp_stack *s, uint32_t src, uint32_t dst, uint8_t proto, size_t hdr_len,
                   struct iovec *iov, int iovcnt, size_t payload_len);
static inline uint8_t *us_ip_payload_buf(struct ustcp_stack *s)
{
  return s->scratch + US_IPV4_HDR_LEN;
}

/* Send an ICMP destination unreachable (type 3, `code`) quoting the first
 * bytes of the offending datagram, as Linux does (icmp_send()). */
void us_icmp_send_unreach(struct ustcp_stack *s, uint8_t code, const uint8_t *dgram, size_t len);

/* ICMP input (icmp.c): `ip` is the decoded header of dgram (len = its total
 * length); `bcast` says the destination was broadcast/multicast. */
void us_icmp_input(struct ustcp_stack *s, const struct us_ipv4_hdr *ip, const uint8_t *dgram,
                   size_t len, bool bcast);

/* Hand a valid, whole datagram addressed to us (or broadcast) to its
 * protocol: TCP, ICMP, UDP (no sockets), else protocol unreachable. `g`:
 * a TCP payload still in the input pieces (us_ip_input_g), or NULL. */
void us_ip_deliver(struct ustcp_stack *s, const struct us_ipv4_hdr *ip, const uint8_t *pkt,
                   size_t len, bool bcast, const struct us_gather *g);

/* Reassembly (ipfrag.c): queue one fragment; the completed datagram goes to
 * us_ip_deliver(). Every fragment not kept is counted as a drop. */
void us_ip_defrag(struct ustcp_stack *s, const struct us_ipv4_hdr *ip, const uint8_t *pkt,
                  size_t len, bool bcast);
void us_ip_defrag_fini(struct ustcp_stack *s);
/* Send the datagram of `total` bytes in s->scratch (DF clear, longer than
 * the MTU) as fragments. 0 or -EMSGSIZE. */
int us_ip_fragment_output(struct ustcp_stack *s, size_t total);

/* ICMP time exceeded (type 11) about a datagram we received, with icmp_send()'s
 * rules (code 1: fragment reassembly time exceeded). */
#define US_ICMP_EXC_FRAGTIME 1
void us_icmp_send_time_exceeded(struct ustcp_stack *s, uint8_t code, const uint8_t *dgram,
                                size_t len);

/* Per-stack IP/ICMP state (s->ip). */
#define US_IPFRAG_BUCKETS 64
struct us_ipfrag;
#define US_IP_PEERS 64
struct us_ip_peer {
  uint32_t addr; /* 0 = free slot */
  ustcp_time_t last;
  uint64_t tokens; /* ns of credit, Linux inet_peer_xrlim_allow() */
};
struct us_ip {
  ustcp_icmp_fn icmp_hook;
  void *icmp_hook_user;
  int64_t global_credit; /* Linux icmp_global_allow(): msgs_per_sec 1000, burst 50 */
  ustcp_time_t global_stamp;
  struct us_ip_peer peers[US_IP_PEERS];
  struct us_ipfrag *frag[US_IPFRAG_BUCKETS]; /* reassembly queues by keyed hash */
  uint64_t frag_mem;                         /* bytes they hold */
  uint32_t frag_queues;
};

/* ---- implemented by src/tcp ---- */

/* One TCP segment (seg/len: TCP header + payload, already bounded by the IP
 * total length), from ip (decoded header). `dgram` is the whole datagram
 * for the trace/drop reporting. `pl` NULL: the payload follows the header
 * at seg; else seg holds the header only and `pl` the payload (gathered
 * input, see us_ip_input_g). */
void us_tcp_input(struct ustcp_stack *s, const struct us_ipv4_hdr *ip, const uint8_t *seg,
                  size_t len, const uint8_t *dgram, size_t dglen, const struct us_gather *pl);
/* An ICMP error (dest unreachable / time exceeded) quoting a TCP segment we
 * sent: `inner` is the quoted IPv4 header + at least 8 bytes of TCP. It
 * always points into the received ICMP message just past its 8-byte header,
 * so for fragmentation needed (type 3 code 4) the next-hop MTU (RFC 1191)
 * is us_get16(inner - 2). */
void us_tcp_icmp_error(struct ustcp_stack *s, uint8_t type, uint8_t code, const uint8_t *inner,
                       size_t len);

#endif
