/*
 * pcap.h - writing captures in the classic pcap format (internal API used by
 * the sim world, the TUN driver and the lab).
 *
 * Every record is one raw IPv4 datagram: the link type is LINKTYPE_RAW (101,
 * DLT_RAW), so tshark/tcpdump decode the IP header directly. Timestamps are
 * the driver's clock (virtual time in the sim) with nanosecond resolution
 * (the nanosecond pcap magic 0xa1b23c4d). The writer buffers through stdio
 * and never allocates per packet.
 */
#ifndef US_PCAP_H
#define US_PCAP_H

#include <stddef.h>
#include <stdint.h>

#define US_PCAP_LINKTYPE_RAW 101
#define US_PCAP_SNAPLEN 65535

struct us_pcap;

/* Create (truncate) `path` and write the file header. NULL on error with
 * errno set by the C library. */
struct us_pcap *us_pcap_open(const char *path);
/* Append one datagram captured at time_ns (borrowed). Returns 0 or -EIO. */
int us_pcap_write(struct us_pcap *p, uint64_t time_ns, const uint8_t *pkt, size_t len);
/* Push buffered records to the file (the file stays open). */
int us_pcap_flush(struct us_pcap *p);
/* Flush and close; returns 0 or -EIO if any write failed. NULL is a no-op. */
int us_pcap_close(struct us_pcap *p);
/* Records written so far. */
uint64_t us_pcap_count(const struct us_pcap *p);

#endif
