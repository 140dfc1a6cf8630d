/*
 * ustcp.h - the stack object: create/destroy, configuration, time, packet
 * input, the link a stack sends through, statistics and tracing.
 *
 * One struct ustcp_stack is one independent TCP/IPv4 host. The library has
 * no global state and no threads: the driver (the sim world, the TUN driver,
 * the drill runner or your own event loop) feeds packets in with
 * ustcp_input(), calls ustcp_process() when ustcp_next_deadline() passes,
 * and provides the clock through the link ops.
 */
#ifndef USTCP_USTCP_H
#define USTCP_USTCP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "ustcp/stats.h"
#include "ustcp/trace.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifndef USTCP_API
#define USTCP_API __attribute__((visibility("default")))
#endif

/* Time is nanoseconds on the driver's monotonic clock. */
typedef uint64_t ustcp_time_t;
#define USTCP_TIME_NEVER UINT64_MAX
#define USTCP_MS(x) ((ustcp_time_t)(x)*1000000ull)
#define USTCP_SEC(x) ((ustcp_time_t)(x)*1000000000ull)

struct ustcp_stack;

/*
 * What a driver gives a stack. All callbacks receive `user`.
 *  - output: one IPv4 datagram the stack sends (borrowed for the call).
 *  - now:    the current time; must never go backwards.
 *  - wait:   used by blocking calls. Run the world (deliver packets, fire
 *            timers, including this stack's) until something happened to
 *            this stack or `deadline` is reached. Return 0 when something
 *            happened (the caller re-checks its condition), -ETIMEDOUT when
 *            the deadline passed, -EDEADLK when nothing pending could ever
 *            wake the caller (the sim's "would hang forever"). NULL means
 *            blocking calls behave as non-blocking ones (EAGAIN).
 *  - output_v: optional gather output (a NIC's scatter-gather DMA). When
 *            set, the stack may send a datagram as `iovcnt` pieces of `len`
 *            bytes in all, instead of calling output: iov[0] holds the IPv4
 *            and TCP headers (whole), the rest is the payload, slices of the
 *            socket's send buffer. Everything is borrowed for the call only
 *            (copy what must outlive it). The stack still calls output for
 *            datagrams it builds in one piece (ACKs, control segments, ICMP)
 *            and whenever a trace hook is set. NULL: output only.
 * New members are added at the end, so existing initializers stay valid.
 */
struct ustcp_link_ops {
  int (*output)(void *user, const uint8_t *pkt, size_t len);
  ustcp_time_t (*now)(void *user);
  int (*wait)(void *user, struct ustcp_stack *s, ustcp_time_t deadline);
  int (*output_v)(void *user, const struct iovec *iov, int iovcnt, size_t len);
};

/*
 * Configuration; every default is Linux 6.x's (sysctl names in comments).
 * ustcp_config_init() fills the defaults; ustcp_stack_create() range-checks.
 */
struct ustcp_config {
  uint32_t addr;      /* our IPv4 address, network byte order (required) */
  uint8_t prefix_len; /* on-link prefix; everything is sent to the link */
  uint16_t mtu;       /* 68..65535, default 1500 */
  uint64_t seed;      /* randomness: ISN secret, ports, IP ids */

  int somaxconn;              /* net.core.somaxconn = 4096 */
  int max_syn_backlog;        /* net.ipv4.tcp_max_syn_backlog = 2048 */
  int syncookies;             /* net.ipv4.tcp_syncookies: 0 here (seed), Linux 1 */
  int abort_on_overflow;      /* net.ipv4.tcp_abort_on_overflow = 0 */
  int synack_retries;         /* net.ipv4.tcp_synack_retries = 5 */
  int syn_retries;            /* net.ipv4.tcp_syn_retries = 6 */
  int syn_linear_timeouts;    /* net.ipv4.tcp_syn_linear_timeouts = 4 */
  int retries1;               /* net.ipv4.tcp_retries1 = 3 */
  int retries2;               /* net.ipv4.tcp_retries2 = 15 */
  int orphan_retries;         /* net.ipv4.tcp_orphan_retries = 0 (means 8) */
  int fin_timeout;            /* net.ipv4.tcp_fin_timeout = 60 (s) */
  int keepalive_time;         /* net.ipv4.tcp_keepalive_time = 7200 (s) */
  int keepalive_intvl;        /* net.ipv4.tcp_keepalive_intvl = 75 (s) */
  int keepalive_probes;       /* net.ipv4.tcp_keepalive_probes = 9 */
  int timestamps;             /* net.ipv4.tcp_timestamps = 1 */
  int sack;                   /* net.ipv4.tcp_sack = 1 */
  int window_scaling;         /* net.ipv4.tcp_window_scaling = 1 */
  int tw_reuse;               /* net.ipv4.tcp_tw_reuse = 2 (loopback only) */
  int max_tw_buckets;         /* net.ipv4.tcp_max_tw_buckets = 131072: more
                                 TIME_WAIT entries than this and a closing
                                 connection skips TIME_WAIT */
  int rmem[3];                /* net.ipv4.tcp_rmem = 4096 131072 33554432 */
  int wmem[3];                /* net.ipv4.tcp_wmem = 4096 16384 4194304 */
  int rmem_max;               /* net.core.rmem_max = 4194304 */
  int wmem_max;               /* net.core.wmem_max = 4194304 */
  int ip_local_port_range[2]; /* net.ipv4.ip_local_port_range = 32768 60999 */
  int ip_default_ttl;         /* net.ipv4.ip_default_ttl = 64 */
  int max_sockets;            /* descriptor table size, default 1048576 */
  uint64_t max_memory;        /* hard cap on buffer memory, bytes (0 = 1 GiB) */
  int csum_offload;           /* 1: the link guarantees integrity (as a NIC with rx
                                 checksum offload): received TCP checksums are
                                 not verified. Default 0. */
  int tx_csum_offload;        /* 1: the link completes TCP checksums (a NIC's tx
                                 checksum offload; Linux CHECKSUM_PARTIAL, virtio
                                 VIRTIO_NET_HDR_F_NEEDS_CSUM): every TCP segment
                                 leaves with the folded pseudo-header sum in its
                                 checksum field, and the link must finish it
                                 (ustcp_tx_csum_complete) before anything checks
                                 it. Default 0: full checksums. */

  const struct ustcp_link_ops *link;
  void *link_user;
};

USTCP_API void ustcp_config_init(struct ustcp_config *cfg);

/* NULL on a bad config; `err` (may be NULL) receives a one-line reason. */
USTCP_API struct ustcp_stack *ustcp_stack_create(const struct ustcp_config *cfg, char *err,
                                                 size_t errlen);
USTCP_API void ustcp_stack_destroy(struct ustcp_stack *s);
USTCP_API const struct ustcp_config *ustcp_stack_config(const struct ustcp_stack *s);

/* Feed one received IPv4 datagram (borrowed). Never fails: bad input is a
 * counted drop. */
USTCP_API void ustcp_input(struct ustcp_stack *s, const uint8_t *pkt, size_t len);

/* ustcp_input() for a datagram in `iovcnt` pieces (a NIC's scatter-gather
 * receive, or a peer's output_v handed over as is): the payload goes from
 * the pieces straight into the receive queue without being linearized
 * first. The headers may be split anywhere. Borrowed for the call. */
USTCP_API void ustcp_input_v(struct ustcp_stack *s, const struct iovec *iov, int iovcnt);

/* For a link that declared tx_csum_offload: complete the TCP checksum of one
 * IPv4 datagram in place, as a NIC does for CHECKSUM_PARTIAL (sum from the
 * TCP header to the end, over the pseudo-header sum the stack left in the
 * field; fold, complement, store). Datagrams that are not TCP are left
 * alone. Returns 0, or -EINVAL if the datagram is malformed (too short, bad
 * IHL or total length). Needs no stack. */
USTCP_API int ustcp_tx_csum_complete(uint8_t *pkt, size_t len);

/* Run every timer that is due at the current time. */
USTCP_API void ustcp_process(struct ustcp_stack *s);

/* The earliest timer deadline, or USTCP_TIME_NEVER. */
USTCP_API ustcp_time_t ustcp_next_deadline(const struct ustcp_stack *s);

USTCP_API ustcp_time_t ustcp_now(struct ustcp_stack *s);

/* Statistics: counters and drop reasons (stats.h). */
USTCP_API uint64_t ustcp_stat(const struct ustcp_stack *s, enum ustcp_stat id);
USTCP_API const char *ustcp_stat_name(enum ustcp_stat id);

/* Trace hook: every packet in/out, state change, API call and drop. */
USTCP_API void ustcp_set_trace(struct ustcp_stack *s, ustcp_trace_fn fn, void *user);

/* Resource accounting (for leak checks and the conns benchmark). */
struct ustcp_mem_info {
  uint64_t sockets;     /* live socket objects (incl. orphans) */
  uint64_t requests;    /* SYN-queue request entries */
  uint64_t timewait;    /* TIME_WAIT entries */
  uint64_t timers;      /* armed timers */
  uint64_t pkt_bufs;    /* packet buffers in use */
  uint64_t buf_bytes;   /* bytes held in socket buffers */
  uint64_t bytes_total; /* all memory the stack owns */
  uint64_t reasm_bytes; /* held by IPv4 reassembly queues (at most 4 MiB) */
};
USTCP_API void ustcp_mem_info(const struct ustcp_stack *s, struct ustcp_mem_info *out);

#ifdef __cplusplus
}
#endif
#endif
