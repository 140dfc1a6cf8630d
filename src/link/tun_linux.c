/*
 * tun_linux.c - the Linux TUN driver (include/ustcp/tun.h): one ustcp stack
 * on a real IFF_TUN | IFF_NO_PI device, real CLOCK_MONOTONIC time.
 *
 * Packet path, per wake-up (ustcp_tun_run and the link's wait()):
 *   flush the tx queue -> ppoll(fd) until the stack's next deadline ->
 *   read up to `batch` datagrams, each straight into ustcp_input() ->
 *   ustcp_process() if a timer is due -> flush the tx queue.
 * Datagrams the stack sends (link output) are copied into a tx queue and
 * written in one batch at the end of the step (or when the queue fills), so
 * a burst of input produces its answers together. TUN has no multi-packet
 * write; with IFF_VNET_HDR (reserved, opts.vnet_hdr) the batch is where a
 * virtio_net_hdr would be added and GSO super-packets built.
 *
 * All state lives in struct ustcp_tun (no globals). Errors are -errno.
 */
#define _GNU_SOURCE /* ppoll */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "core/core.h"
#include "link/pcap.h"
#include "ustcp/tun.h"
#include "wire/wire.h"

#define TUN_RXBUF (65536 + 64) /* a 64 KiB GSO datagram plus its virtio_net_hdr */
#define TUN_MAXPKT 65535
#define TUN_TXQ_BYTES (1u << 20) /* tx queue arena */
#define TUN_TXQ_SLOTS 1024

struct tun_txslot {
  uint32_t off, len;
  uint16_t csum_start; /* nonzero: VIRTIO_NET_HDR_F_NEEDS_CSUM from here */
};

struct ustcp_tun {
  int fd;
  char name[IFNAMSIZ];
  uint16_t mtu;
  int batch;
  bool created; /* we created the device (it goes away on close unless persist) */
  bool vnet;    /* IFF_VNET_HDR: a virtio_net_hdr before every datagram */
  struct ustcp_stack *stack;
  uint8_t *rxbuf;
  uint8_t *txbuf; /* arena of queued datagrams */
  struct tun_txslot *txslot;
  uint32_t txn, txused;
  struct ustcp_tun_stats st;
  struct us_pcap *pcap;
  uint64_t pcap_limit; /* records to write at most (0 = all) */
  int64_t pcap_offset; /* CLOCK_REALTIME - CLOCK_MONOTONIC: wall-clock stamps */
  /* The clock as read once for a batch of received datagrams: the stack
   * refreshes its clock at every ustcp_input(), and a clock_gettime per
   * datagram is a measurable share of a small-packet workload (the kernel
   * too stamps a NAPI batch with one jiffies value). 0 outside a batch. */
  ustcp_time_t batch_now;
};

static int errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int errf(char *err, size_t errlen, const char *fmt, ...)
{
  if (err && errlen) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
  }
  return -1;
}

void ustcp_tun_opts_init(struct ustcp_tun_opts *o)
{
  memset(o, 0, sizeof(*o));
  o->batch = 64;
}

static ustcp_time_t clock_ns(clockid_t id)
{
  struct timespec ts;
  clock_gettime(id, &ts);
  return (ustcp_time_t)ts.tv_sec * 1000000000ull + (ustcp_time_t)ts.tv_nsec;
}
static ustcp_time_t mono_now(void) { return clock_ns(CLOCK_MONOTONIC); }

/* Capture one datagram (both directions share the file). */
static void capture(struct ustcp_tun *t, const uint8_t *pkt, size_t len)
{
  if (!t->pcap || (t->pcap_limit && us_pcap_count(t->pcap) >= t->pcap_limit))
    return;
  us_pcap_write(t->pcap, (uint64_t)((int64_t)mono_now() + t->pcap_offset), pkt, len);
}

ustcp_time_t ustcp_tun_now(const struct ustcp_tun *t)
{
  return t->batch_now ? t->batch_now : mono_now();
}

/* An AF_INET datagram socket: the handle SIOC*IF* ioctls need. */
static int ifreq_ioctl(unsigned long req, struct ifreq *ifr)
{
  int sk = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sk < 0)
    return -errno;
  int r = ioctl(sk, req, ifr) < 0 ? -errno : 0;
  close(sk);
  return r;
}

static int set_mtu(struct ustcp_tun *t, uint16_t mtu)
{
  struct ifreq ifr;
  memset(&ifr, 0, sizeof(ifr));
  memcpy(ifr.ifr_name, t->name, IFNAMSIZ);
  ifr.ifr_mtu = mtu;
  return ifreq_ioctl(SIOCSIFMTU, &ifr);
}

static int get_mtu(struct ustcp_tun *t)
{
  struct ifreq ifr;
  memset(&ifr, 0, sizeof(ifr));
  memcpy(ifr.ifr_name, t->name, IFNAMSIZ);
  int r = ifreq_ioctl(SIOCGIFMTU, &ifr);
  return r ? r : ifr.ifr_mtu;
}

static const char *cap_hint(int e)
{
  return (e == EPERM || e == EACCES)
             ? " - creating or attaching to a TUN device needs CAP_NET_ADMIN (run as root, or "
               "`setcap cap_net_admin+ep` the binary, or use a device made with `ip tuntap add "
               "dev NAME mode tun user USER`)"
             : "";
}

struct ustcp_tun *ustcp_tun_open(const char *name, const struct ustcp_tun_opts *opts, char *err,
                                 size_t errlen)
{
  struct ustcp_tun_opts o;
  if (opts)
    o = *opts;
  else
    ustcp_tun_opts_init(&o);
  if (name && strlen(name) >= IFNAMSIZ) {
    errf(err, errlen, "tun: device name '%s' is longer than %d characters", name, IFNAMSIZ - 1);
    return NULL;
  }
  if (o.vnet_hdr < 0 || o.vnet_hdr > 1) {
    errf(err, errlen, "tun: vnet_hdr must be 0 or 1");
    return NULL;
  }
  if (o.batch < 0 || o.batch > 4096) {
    errf(err, errlen, "tun: batch %d out of range [0, 4096]", o.batch);
    return NULL;
  }
  struct ustcp_tun *t = calloc(1, sizeof(*t));
  if (!t) {
    errf(err, errlen, "tun: out of memory");
    return NULL;
  }
  t->fd = -1;
  t->batch = o.batch ? o.batch : 64;
  t->rxbuf = malloc(TUN_RXBUF);
  t->txbuf = malloc(TUN_TXQ_BYTES);
  t->txslot = calloc(TUN_TXQ_SLOTS, sizeof(*t->txslot));
  if (!t->rxbuf || !t->txbuf || !t->txslot) {
    errf(err, errlen, "tun: out of memory");
    goto fail;
  }
  /* Does the device exist already? Then we attach to it. */
  if (name && *name) {
    char path[64];
    snprintf(path, sizeof(path), "/sys/class/net/%s", name);
    t->created = access(path, F_OK) != 0;
  } else {
    t->created = true;
  }
  t->fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (t->fd < 0) {
    int e = errno;
    errf(err, errlen, "tun: open /dev/net/tun: %s%s", strerror(e), cap_hint(e));
    goto fail;
  }
  struct ifreq ifr;
  memset(&ifr, 0, sizeof(ifr));
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI | (o.vnet_hdr ? IFF_VNET_HDR : 0);
  if (name)
    memcpy(ifr.ifr_name, name, strlen(name));
  if (ioctl(t->fd, TUNSETIFF, &ifr) < 0) {
    int e = errno;
    errf(err, errlen, "tun: %s device '%s' (TUNSETIFF): %s%s",
         t->created ? "creating" : "attaching to", name ? name : "", strerror(e), cap_hint(e));
    if (e == EINVAL && !t->created)
      errf(err, errlen,
           "tun: '%s' exists but is not a TUN device without packet info "
           "(IFF_TUN | IFF_NO_PI)",
           name);
    if (e == EBUSY)
      errf(err, errlen, "tun: device '%s' is busy (another process has it open)", name);
    goto fail;
  }
  memcpy(t->name, ifr.ifr_name, IFNAMSIZ);
  t->name[IFNAMSIZ - 1] = 0;
  if (o.vnet_hdr) {
    /* Receive offloads: the kernel may hand us datagrams with the checksum
     * left to us (TUN_F_CSUM) and TCP super-segments up to 64 KiB
     * (TUN_F_TSO4), as a NIC with LRO/GRO would. We send plain datagrams. */
    int hs = (int)sizeof(struct virtio_net_hdr);
    if (ioctl(t->fd, TUNSETVNETHDRSZ, &hs) < 0 ||
        ioctl(t->fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4) < 0) {
      errf(err, errlen, "tun: enabling offloads on %s: %s", t->name, strerror(errno));
      goto fail;
    }
    t->vnet = true;
  }
  if (o.persist && ioctl(t->fd, TUNSETPERSIST, 1) < 0) {
    int e = errno;
    errf(err, errlen, "tun: TUNSETPERSIST %s: %s%s", t->name, strerror(e), cap_hint(e));
    goto fail;
  }
  if (o.mtu) {
    int r = set_mtu(t, o.mtu);
    if (r) {
      errf(err, errlen, "tun: setting MTU %u on %s: %s%s", o.mtu, t->name, strerror(-r),
           cap_hint(-r));
      goto fail;
    }
  }
  if (o.pcap) {
    t->pcap = us_pcap_open(o.pcap);
    if (!t->pcap) {
      errf(err, errlen, "tun: pcap %s: %s", o.pcap, strerror(errno));
      goto fail;
    }
    t->pcap_limit = o.pcap_limit;
    t->pcap_offset = (int64_t)clock_ns(CLOCK_REALTIME) - (int64_t)mono_now();
  }
  int m = get_mtu(t);
  t->mtu = m > 0 ? (uint16_t)(m > 65535 ? 65535 : m) : 1500;
  return t;
fail:
  us_pcap_close(t->pcap);
  if (t->fd >= 0)
    close(t->fd);
  free(t->rxbuf);
  free(t->txbuf);
  free(t->txslot);
  free(t);
  return NULL;
}

const char *ustcp_tun_name(const struct ustcp_tun *t) { return t->name; }
int ustcp_tun_fd(const struct ustcp_tun *t) { return t->fd; }
uint16_t ustcp_tun_mtu(const struct ustcp_tun *t) { return t->mtu; }

int ustcp_tun_set_peer_addr(struct ustcp_tun *t, uint32_t addr, int prefix_len)
{
  if (prefix_len < 0 || prefix_len > 32)
    return -EINVAL;
  struct ifreq ifr;
  memset(&ifr, 0, sizeof(ifr));
  memcpy(ifr.ifr_name, t->name, IFNAMSIZ);
  struct sockaddr_in *sin = (struct sockaddr_in *)(void *)&ifr.ifr_addr;
  sin->sin_family = AF_INET;
  sin->sin_addr.s_addr = addr;
  int r = ifreq_ioctl(SIOCSIFADDR, &ifr);
  if (r)
    return r;
  /* The netmask adds the on-link route for the prefix (as `ip addr add`). */
  memset(&ifr, 0, sizeof(ifr));
  memcpy(ifr.ifr_name, t->name, IFNAMSIZ);
  sin = (struct sockaddr_in *)(void *)&ifr.ifr_netmask;
  sin->sin_family = AF_INET;
  sin->sin_addr.s_addr = prefix_len ? htonl(0xffffffffu << (32 - prefix_len)) : 0;
  return ifreq_ioctl(SIOCSIFNETMASK, &ifr);
}

int ustcp_tun_up(struct ustcp_tun *t)
{
  struct ifreq ifr;
  memset(&ifr, 0, sizeof(ifr));
  memcpy(ifr.ifr_name, t->name, IFNAMSIZ);
  int r = ifreq_ioctl(SIOCGIFFLAGS, &ifr);
  if (r)
    return r;
  ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
  return ifreq_ioctl(SIOCSIFFLAGS, &ifr);
}

/* ------------------------------------------------------------ packet path */

static void tx_flush(struct ustcp_tun *t)
{
  if (!t->txn)
    return;
  t->st.tx_batches++;
  for (uint32_t i = 0; i < t->txn; i++) {
    const uint8_t *p = t->txbuf + t->txslot[i].off;
    size_t len = t->txslot[i].len;
    /* With IFF_VNET_HDR every datagram carries a header: no GSO; a TCP
     * segment's checksum is left to the kernel (NEEDS_CSUM: the field holds
     * the pseudo-header sum, as virtio-net's tx checksum offload) unless the
     * driver completed it for the capture. */
    struct virtio_net_hdr vh;
    memset(&vh, 0, sizeof(vh));
    if (t->txslot[i].csum_start) {
      vh.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
      vh.csum_start = t->txslot[i].csum_start;
      vh.csum_offset = 16; /* the TCP checksum field */
    }
    struct iovec iov[2] = {{.iov_base = &vh, .iov_len = sizeof(vh)},
                           {.iov_base = (void *)p, .iov_len = len}};
    for (;;) {
      ssize_t n = t->vnet ? writev(t->fd, iov, 2) : write(t->fd, p, len);
      if (n >= 0) {
        t->st.tx_packets++;
        if (t->txslot[i].csum_start)
          t->st.tx_csum_partial++;
        t->st.tx_bytes += len;
        break;
      }
      if (errno == EINTR)
        continue;
      if (errno == EAGAIN) {
        /* The device queue is full: wait (briefly) until it drains. */
        struct pollfd pfd = {.fd = t->fd, .events = POLLOUT};
        if (poll(&pfd, 1, 100) > 0)
          continue;
      }
      /* A datagram the kernel refuses (EINVAL, EIO when down ...) is lost on
       * the link, as on a wire; TCP recovers. */
      t->st.tx_dropped++;
      break;
    }
  }
  t->txn = 0;
  t->txused = 0;
}

static int tun_output(void *user, const uint8_t *pkt, size_t len)
{
  struct ustcp_tun *t = user;
  if (len > TUN_MAXPKT) {
    t->st.tx_dropped++;
    return -EMSGSIZE;
  }
  if (t->txn == TUN_TXQ_SLOTS || t->txused + len > TUN_TXQ_BYTES || t->txn >= (uint32_t)t->batch)
    tx_flush(t);
  uint8_t *p = t->txbuf + t->txused;
  memcpy(p, pkt, len);
  uint16_t cs = 0;
  if (t->stack && ustcp_stack_config(t->stack)->tx_csum_offload && len >= 40 && (p[0] >> 4) == 4 &&
      p[9] == 6 /* TCP */) {
    /* The stack left the checksum to the link (tx_csum_offload, which
     * ustcp_tun_config sets with IFF_VNET_HDR): the kernel completes it
     * (NEEDS_CSUM), or we do without a virtio header or when the datagram
     * is captured (the pcap shows what goes on the wire). */
    if (!t->vnet || (t->pcap && (!t->pcap_limit || us_pcap_count(t->pcap) < t->pcap_limit)))
      ustcp_tx_csum_complete(p, len);
    else
      cs = (uint16_t)((p[0] & 0x0f) * 4);
  }
  capture(t, p, len);
  t->txslot[t->txn].off = t->txused;
  t->txslot[t->txn].len = (uint32_t)len;
  t->txslot[t->txn].csum_start = cs;
  t->txn++;
  /* Keep datagrams 8-byte aligned in the arena. */
  t->txused += (uint32_t)((len + 7) & ~(size_t)7);
  return 0;
}

static ustcp_time_t tun_link_now(void *user) { return ustcp_tun_now(user); }

/* Strip the virtio_net_hdr and complete a checksum the kernel left to us
 * (VIRTIO_NET_HDR_F_NEEDS_CSUM: the field holds the pseudo-header sum; the
 * sum from csum_start to the end, complemented, goes there - what a NIC's
 * tx checksum offload does). A GSO super-segment is passed up whole: its
 * IPv4 total length covers it, and TCP takes any in-window segment. */
static int vnet_rx(struct ustcp_tun *t, uint8_t **pkt, size_t *len)
{
  struct virtio_net_hdr vh;
  if (*len < sizeof(vh)) {
    t->st.rx_errors++;
    return -1;
  }
  memcpy(&vh, *pkt, sizeof(vh)); /* native byte order (legacy virtio, little-endian hosts) */
  *pkt += sizeof(vh);
  *len -= sizeof(vh);
  if (vh.gso_type != VIRTIO_NET_HDR_GSO_NONE)
    t->st.rx_gso++;
  if (vh.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
    size_t cs = vh.csum_start, co = vh.csum_offset;
    if (cs + co + 2 > *len) {
      t->st.rx_errors++;
      return -1;
    }
    us_put16(*pkt + cs + co, us_csum_fold(us_csum_add(0, *pkt + cs, *len - cs)));
  }
  return 0;
}

/* Read up to one batch of datagrams into the stack. Returns the count, or
 * -errno on a device error. */
static int rx_batch(struct ustcp_tun *t)
{
  int n = 0;
  t->batch_now = mono_now();
  while (n < t->batch) {
    ssize_t r = read(t->fd, t->rxbuf, TUN_RXBUF);
    if (r < 0) {
      if (errno == EINTR)
        continue;
      if (errno == EAGAIN)
        break;
      if (!n)
        n = -errno;
      break;
    }
    n++;
    uint8_t *pkt = t->rxbuf;
    size_t len = (size_t)r;
    if (t->vnet && vnet_rx(t, &pkt, &len) < 0)
      continue;
    t->st.rx_packets++;
    t->st.rx_bytes += len;
    capture(t, pkt, len);
    if (t->stack)
      ustcp_input(t->stack, pkt, len);
  }
  t->batch_now = 0;
  if (n > 0)
    t->st.rx_batches++;
  return n;
}

/* Fire due timers; true if any were due. */
static bool run_timers(struct ustcp_tun *t)
{
  if (!t->stack)
    return false;
  if (ustcp_next_deadline(t->stack) > mono_now())
    return false;
  ustcp_process(t->stack);
  return true;
}

/* Wait for the fd until `until` (absolute, USTCP_TIME_NEVER = forever).
 * 1 readable, 0 timed out, -errno (-EINTR on a signal). */
static int wait_fd(struct ustcp_tun *t, ustcp_time_t until)
{
  struct pollfd pfd = {.fd = t->fd, .events = POLLIN};
  struct timespec ts, *tsp = NULL;
  if (until != USTCP_TIME_NEVER) {
    ustcp_time_t now = mono_now();
    ustcp_time_t d = until > now ? until - now : 0;
    ts.tv_sec = (time_t)(d / 1000000000ull);
    ts.tv_nsec = (long)(d % 1000000000ull);
    tsp = &ts;
  }
  t->st.wakeups++;
  if (t->pcap && (until == USTCP_TIME_NEVER || until > mono_now() + USTCP_MS(5)))
    us_pcap_flush(t->pcap); /* a capture is readable while we idle */
  int r = ppoll(&pfd, 1, tsp, NULL);
  if (r < 0)
    return -errno;
  if (r > 0 && (pfd.revents & (POLLERR | POLLNVAL)))
    return -EIO;
  return r > 0;
}

/* The device failed (deleted under us: POLLERR, EBADFD). Do not let a
 * caller that retries at once spin: sleep until `until` (at most 100 ms)
 * with timers still running, then report the error. */
static int dev_error(struct ustcp_tun *t, ustcp_time_t until, int err)
{
  t->st.dev_errors++;
  ustcp_time_t now = mono_now(), cap = now + USTCP_MS(100);
  if (until > cap)
    until = cap;
  if (until > now) {
    struct timespec ts = {.tv_sec = (time_t)((until - now) / 1000000000ull),
                          .tv_nsec = (long)((until - now) % 1000000000ull)};
    nanosleep(&ts, NULL);
  }
  return err;
}

int ustcp_tun_run(struct ustcp_tun *t, int timeout_ms)
{
  tx_flush(t);
  if (run_timers(t))
    tx_flush(t);
  ustcp_time_t now = mono_now();
  ustcp_time_t until = t->stack ? ustcp_next_deadline(t->stack) : USTCP_TIME_NEVER;
  if (timeout_ms >= 0 && now + USTCP_MS(timeout_ms) < until)
    until = now + USTCP_MS(timeout_ms);
  int r = wait_fd(t, until);
  int n = 0;
  if (r > 0)
    n = rx_batch(t);
  else if (r < 0)
    n = r;
  if (n < 0 && n != -EINTR)
    dev_error(t, until, n);
  run_timers(t);
  tx_flush(t);
  return n;
}

/* The link's wait(): run the loop until something happened to the stack (a
 * datagram arrived or a timer fired) or `deadline` passed. */
static int tun_wait(void *user, struct ustcp_stack *s, ustcp_time_t deadline)
{
  struct ustcp_tun *t = user;
  for (;;) {
    tx_flush(t);
    ustcp_time_t now = mono_now();
    ustcp_time_t next = ustcp_next_deadline(s);
    if (next <= now) {
      ustcp_process(s);
      tx_flush(t);
      return 0;
    }
    if (now >= deadline)
      return -ETIMEDOUT;
    int r = wait_fd(t, US_MIN(next, deadline));
    if (r == -EINTR)
      return r; /* a signal: let the caller look at its flags */
    if (r > 0)
      r = rx_batch(t);
    if (r < 0)
      return dev_error(t, US_MIN(next, deadline), r);
    tx_flush(t);
    if (r > 0)
      return 0;
  }
}

static const struct ustcp_link_ops tun_ops = {
    .output = tun_output,
    .now = tun_link_now,
    .wait = tun_wait,
};

const struct ustcp_link_ops *ustcp_tun_link_ops(void) { return &tun_ops; }

void ustcp_tun_config(struct ustcp_tun *t, struct ustcp_config *cfg)
{
  cfg->link = &tun_ops;
  cfg->link_user = t;
  cfg->mtu = t->mtu;
  /* IFF_VNET_HDR: TCP checksums are offloaded to the kernel (NEEDS_CSUM). */
  cfg->tx_csum_offload = t->vnet ? 1 : 0;
}

void ustcp_tun_attach(struct ustcp_tun *t, struct ustcp_stack *s) { t->stack = s; }

void ustcp_tun_stats(const struct ustcp_tun *t, struct ustcp_tun_stats *out) { *out = t->st; }

void ustcp_tun_close(struct ustcp_tun *t)
{
  if (!t)
    return;
  if (t->fd >= 0) {
    tx_flush(t);
    close(t->fd);
  }
  us_pcap_close(t->pcap);
  free(t->rxbuf);
  free(t->txbuf);
  free(t->txslot);
  free(t);
}
