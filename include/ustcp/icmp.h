/*
 * icmp.h - ICMP echo from a stack (what `ping` needs) and a hook that sees
 * the ICMP messages addressed to our pings: echo replies, and unreachable /
 * time exceeded messages that quote one of our echo requests.
 *
 * The stack itself always answers echo requests and sends protocol/port
 * unreachable as Linux does; nothing here is needed for that.
 */
#ifndef USTCP_ICMP_H
#define USTCP_ICMP_H

#include <stddef.h>
#include <stdint.h>

#include "ustcp/ustcp.h"

#ifdef __cplusplus
extern "C" {
#endif

struct ustcp_icmp_msg {
  uint8_t type, code; /* 0 echo reply; 3 unreachable; 11 time exceeded */
  uint8_t ttl;        /* IP TTL of the message as received */
  uint32_t from;      /* its sender, network byte order */
  uint16_t id, seq;   /* of the echo reply, or of the quoted echo request */
  uint16_t mtu;       /* unreachable code 4 (fragmentation needed): next-hop MTU */
  size_t len;         /* echo reply: payload bytes (after the 8-byte header) */
};

typedef void (*ustcp_icmp_fn)(void *user, struct ustcp_stack *s, const struct ustcp_icmp_msg *m);

/* One hook per stack (NULL removes it). */
USTCP_API void ustcp_set_icmp_hook(struct ustcp_stack *s, ustcp_icmp_fn fn, void *user);

/* Send one ICMP echo request to dst_be (network byte order) with `payload`
 * data bytes (a fixed pattern). IP: TTL ip_default_ttl; as Linux ping's
 * default (IP_PMTUDISC_WANT), DF set when the datagram fits the MTU, else
 * DF clear and sent in fragments. Returns 0 or a negative errno: -EINVAL
 * (no destination), -EMSGSIZE (over 65535 bytes in all). */
USTCP_API int ustcp_ping_send(struct ustcp_stack *s, uint32_t dst_be, uint16_t id, uint16_t seq,
                              size_t payload);

#ifdef __cplusplus
}
#endif
#endif
