/*
 * tun.h - the Linux TUN driver: a ustcp stack on a real interface.
 *
 * Call order:
 *   t = ustcp_tun_open("ustcp0", &opts, err, sizeof err);   create or attach
 *   ustcp_tun_set_peer_addr(t, kernel_side_addr, 24);        optional
 *   ustcp_tun_up(t);                                         link up
 *   ustcp_config_init(&cfg); cfg.addr = ...; ustcp_tun_config(t, &cfg);
 *   s = ustcp_stack_create(&cfg, ...); ustcp_tun_attach(t, s);
 *   then either use blocking socket calls (the link's wait() runs the loop),
 *   or drive it yourself: loop { ustcp_poll(s, fds, n, 0); ustcp_tun_run(t, ms); }
 *   ustcp_stack_destroy(s); ustcp_tun_close(t);
 *
 * The device is opened IFF_TUN | IFF_NO_PI (raw IPv4 datagrams), the fd is
 * non-blocking, reads and writes are done in batches per wake-up, and time is
 * CLOCK_MONOTONIC. Creating or attaching to a device needs CAP_NET_ADMIN; the
 * error text says so when it is missing.
 *
 * Offloads: `opts.vnet_hdr = 1` opens the device with IFF_VNET_HDR (a
 * virtio_net_hdr in front of each datagram) and lets the kernel hand us
 * datagrams with their checksum left to us and TCP super-segments of up to
 * 64 KiB (TUN_F_CSUM | TUN_F_TSO4, like GRO on a NIC): far fewer reads per
 * byte. The driver completes such checksums before the stack (and the pcap)
 * sees the datagram. On transmit, ustcp_tun_config() sets the stack's
 * tx_csum_offload: TCP segments go out with VIRTIO_NET_HDR_F_NEEDS_CSUM and
 * the pseudo-header sum in the field, the kernel completes the checksum (the
 * driver completes it itself for datagrams it captures to the pcap). TSO
 * from the stack is not used.
 */
#ifndef USTCP_TUN_H
#define USTCP_TUN_H

#include <stddef.h>
#include <stdint.h>

#include "ustcp/ustcp.h"

#ifdef __cplusplus
extern "C" {
#endif

struct ustcp_tun;

struct ustcp_tun_opts {
  uint16_t mtu;        /* device MTU set at open; 0 keeps the device's (1500 if new) */
  int persist;         /* 1: leave a created device in place after close */
  int vnet_hdr;        /* reserved for IFF_VNET_HDR offloads; must be 0 */
  int batch;           /* packets read per wake-up; 0 = 64 */
  const char *pcap;    /* if set, write every packet in and out here (LINKTYPE_RAW) */
  uint64_t pcap_limit; /* at most this many records (0 = no limit) */
};

USTCP_API void ustcp_tun_opts_init(struct ustcp_tun_opts *o);

/* Create the TUN device `name` (or attach to an existing one of that name;
 * "" or NULL lets the kernel pick "tunN"). NULL on failure with a one-line
 * reason in err (EPERM: "needs CAP_NET_ADMIN ..."). opts may be NULL. */
USTCP_API struct ustcp_tun *ustcp_tun_open(const char *name, const struct ustcp_tun_opts *opts,
                                           char *err, size_t errlen);
USTCP_API const char *ustcp_tun_name(const struct ustcp_tun *t);
USTCP_API int ustcp_tun_fd(const struct ustcp_tun *t);
USTCP_API uint16_t ustcp_tun_mtu(const struct ustcp_tun *t);

/* Give the kernel's side of the link an address (network byte order) and
 * prefix, as `ip addr add A/N dev NAME` does. 0 or -errno. */
USTCP_API int ustcp_tun_set_peer_addr(struct ustcp_tun *t, uint32_t addr, int prefix_len);
/* Bring the device up (IFF_UP). 0 or -errno. */
USTCP_API int ustcp_tun_up(struct ustcp_tun *t);

/* Fill the link fields of a stack config (link, link_user) and the mtu. */
USTCP_API void ustcp_tun_config(struct ustcp_tun *t, struct ustcp_config *cfg);
/* The stack this driver feeds (one per device). */
USTCP_API void ustcp_tun_attach(struct ustcp_tun *t, struct ustcp_stack *s);
/* The link ops the driver provides (user = the struct ustcp_tun). */
USTCP_API const struct ustcp_link_ops *ustcp_tun_link_ops(void);

/* One step of the loop: flush queued output, wait for the fd until the
 * stack's next deadline or timeout_ms (-1 = only the deadline), read a batch
 * of packets into ustcp_input(), fire due timers, flush the output again.
 * Returns the number of packets read (>= 0), or -EINTR if a signal arrived
 * while waiting, or another -errno on a device error. */
USTCP_API int ustcp_tun_run(struct ustcp_tun *t, int timeout_ms);

/* The driver's clock: CLOCK_MONOTONIC in ns. */
USTCP_API ustcp_time_t ustcp_tun_now(const struct ustcp_tun *t);

struct ustcp_tun_stats {
  uint64_t rx_packets, rx_bytes, tx_packets, tx_bytes;
  uint64_t rx_batches, tx_batches; /* wake-ups that read / flushes that wrote */
  uint64_t tx_dropped;             /* the kernel refused a datagram (too big, no room) */
  uint64_t rx_gso;                 /* vnet_hdr: GSO super-segments received */
  uint64_t rx_errors;              /* vnet_hdr: datagrams with a bad header, dropped */
  uint64_t wakeups;
  uint64_t dev_errors;      /* the device failed (e.g. deleted under us) */
  uint64_t tx_csum_partial; /* vnet_hdr: TCP segments sent with NEEDS_CSUM (the
                               kernel completes the checksum) */
};
USTCP_API void ustcp_tun_stats(const struct ustcp_tun *t, struct ustcp_tun_stats *out);

/* Close the fd (the device disappears unless it is persistent or was
 * attached to). Flushes queued output first. */
USTCP_API void ustcp_tun_close(struct ustcp_tun *t);

#ifdef __cplusplus
}
#endif
#endif
