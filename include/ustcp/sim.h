/*
 * sim.h - the simulated network: hosts (ustcp stacks) and routers joined by
 * point-to-point links, one event queue, a virtual nanosecond clock and a
 * seeded RNG. Same seed, same events, byte-identical pcaps.
 *
 * Blocking socket calls on a sim host drive the whole world (the peer's stack
 * answers by itself); a wait nothing can satisfy fails with EDEADLK.
 */
#ifndef USTCP_SIM_H
#define USTCP_SIM_H

#include <stdbool.h>
#include <stdint.h>

#include "ustcp/ustcp.h"

#ifdef __cplusplus
extern "C" {
#endif

struct ustcp_sim;

/* One direction of a link. Zero-initialised = ideal link (no delay, infinite
 * bandwidth, MTU 1500, no faults). Probabilities are in [0, 1]. */
struct ustcp_link_params {
  ustcp_time_t latency;   /* one-way propagation delay, ns */
  uint64_t bandwidth_bps; /* 0 = infinite (no serialization delay) */
  uint32_t queue_limit;   /* packets queued behind the wire; 0 = 1000 */
  uint16_t mtu;           /* 0 = 1500; larger datagrams are dropped */
  double loss;
  double reorder; /* extra random delay up to 2*latency+1ms */
  double duplicate;
  double corrupt;   /* flip one random bit */
  bool partitioned; /* drop everything */
};

USTCP_API struct ustcp_sim *ustcp_sim_create(uint64_t seed);
USTCP_API void ustcp_sim_destroy(struct ustcp_sim *sim);

/* Add a host with address "A.B.C.D" (cfg may be NULL for defaults; its
 * addr/link/seed fields are filled by the sim). Returns host id >= 0 or -1
 * (bad address, address already taken, bad cfg). */
USTCP_API int ustcp_sim_add_host(struct ustcp_sim *sim, const char *name, const char *addr,
                                 const struct ustcp_config *cfg);
/* A router forwards by longest-prefix match over its links' routes. */
USTCP_API int ustcp_sim_add_router(struct ustcp_sim *sim, const char *name);
USTCP_API struct ustcp_stack *ustcp_sim_stack(struct ustcp_sim *sim, int host);
USTCP_API const char *ustcp_sim_host_name(struct ustcp_sim *sim, int host);
USTCP_API int ustcp_sim_host_by_stack(struct ustcp_sim *sim, const struct ustcp_stack *s);

/* Join nodes a and b; ab applies a->b, ba applies b->a (NULL = ideal).
 * Returns link id >= 0 or -1. A host has one link (its interface: the
 * stack's MTU is lowered to the link's). A router routes to a host over the
 * link that joins them, and to a host behind another router by a route
 * added with ustcp_sim_route(). */
USTCP_API int ustcp_sim_link(struct ustcp_sim *sim, int a, int b,
                             const struct ustcp_link_params *ab,
                             const struct ustcp_link_params *ba);
USTCP_API int ustcp_sim_route(struct ustcp_sim *sim, int router, const char *prefix, int link);
/* dir 0 = a->b, 1 = b->a. Takes effect for packets sent from now on. */
USTCP_API int ustcp_sim_link_set(struct ustcp_sim *sim, int link, int dir,
                                 const struct ustcp_link_params *p);

USTCP_API ustcp_time_t ustcp_sim_now(const struct ustcp_sim *sim);
/* Process every event up to and including t; the clock ends at t. */
USTCP_API void ustcp_sim_run_until(struct ustcp_sim *sim, ustcp_time_t t);
/* Run until no event or timer is left (or `limit` virtual time has passed,
 * counted from the call; USTCP_TIME_NEVER = no limit). Returns true if the
 * world went idle. */
USTCP_API bool ustcp_sim_run_until_idle(struct ustcp_sim *sim, ustcp_time_t limit);
/* Run until pred(user) is true (checked after every event) or `limit`
 * virtual time passed or the world is idle. Returns pred's last value. */
USTCP_API bool ustcp_sim_run_while(struct ustcp_sim *sim, bool (*pred)(void *user), void *user,
                                   ustcp_time_t limit);
/* Call fn(user) at virtual time t (application actions in scenarios). */
USTCP_API int ustcp_sim_at(struct ustcp_sim *sim, ustcp_time_t t, void (*fn)(void *user),
                           void *user);

/* Capture every packet a host sends and receives, or every packet a link
 * carries (both directions), to a pcap file (LINKTYPE_RAW, virtual time).
 * A new path replaces the previous capture; path NULL stops capturing (the
 * file is closed, and complete). Returns 0 or -1 (errno from the C library
 * when the file cannot be created). */
USTCP_API int ustcp_sim_pcap_host(struct ustcp_sim *sim, int host, const char *path);
USTCP_API int ustcp_sim_pcap_link(struct ustcp_sim *sim, int link, const char *path);

/* Observe the world: one callback gets every host's trace events, plus
 * link events (a packet lost, corrupted, tail-dropped) as USTCP_TR_NOTE /
 * USTCP_TR_DROP with the host that sent it. */
USTCP_API void ustcp_sim_set_trace(struct ustcp_sim *sim, ustcp_trace_fn fn, void *user);

struct ustcp_sim_stats {
  uint64_t events, delivered, lost, corrupted, duplicated, reordered, tail_dropped, mtu_dropped,
      partition_dropped;
  /* routers: datagrams forwarded, TTL expired (time exceeded sent), no route */
  uint64_t forwarded, ttl_expired, no_route;
  /* datagrams without DF a router cut into fragments for a smaller MTU
   * (each fragment then counts as sent) */
  uint64_t fragmented;
  /* datagrams handed to the network (by hosts and routers), copies that
   * reached the far end of a link, and host datagrams to themselves (which
   * never use a link; counted in delivered too). Once idle:
   * sent + duplicated == partition_dropped + mtu_dropped + tail_dropped +
   * lost + arrived. */
  uint64_t sent, arrived, local;
};
USTCP_API void ustcp_sim_stats(const struct ustcp_sim *sim, struct ustcp_sim_stats *out);

/* A host's address (network byte order), or 0 for a router or a bad id. */
USTCP_API uint32_t ustcp_sim_host_addr(const struct ustcp_sim *sim, int host);
/* A router's own address: the source of the ICMP errors it sends (time
 * exceeded, unreachable, fragmentation needed); it answers pings to it.
 * Default: .1 of the /24 of the first host linked to it (e.g. 192.0.2.1),
 * or the highest free address from .254 down if .1 is taken. Returns 0 or
 * -1. */
USTCP_API int ustcp_sim_router_addr(struct ustcp_sim *sim, int router, const char *addr);
/* Push buffered capture records to their files (they are closed, and so
 * complete, at ustcp_sim_destroy()). */
USTCP_API void ustcp_sim_pcap_flush(struct ustcp_sim *sim);

#ifdef __cplusplus
}
#endif
#endif
