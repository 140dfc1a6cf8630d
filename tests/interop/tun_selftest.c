/*
 * tun_selftest.c - the TUN driver's packet path against the real kernel, in
 * a network namespace of its own (unshare(CLONE_NEWNET)); run by
 * tun_driver.test.sh. Independent of the IP and TCP layers: a kernel UDP
 * datagram must reach the stack (seen through the trace hook), a datagram
 * the stack's link sends must reach a kernel UDP socket, and wait() must
 * honour its deadline. Exit 77 when the namespace cannot be made (not root).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "harness/test.h"
#include "ustcp/tun.h"
#include "ustcp/ustcp.h"

#define KADDR "192.0.2.1"
#define UADDR "192.0.2.2"
static const char magic[] = "ustcp-tun-selftest-payload";

struct seen {
  int n;
  int udp_csum_ok, udp_csum_bad; /* checksums of the magic UDP datagrams seen */
};

static uint16_t csum16(const uint8_t *p, size_t n);

static void on_trace(void *user, struct ustcp_stack *s, const struct ustcp_trace_event *ev)
{
  (void)s;
  struct seen *sn = user;
  if (!ev->pkt || ev->len < sizeof(magic))
    return;
  if (!memmem(ev->pkt, ev->len, magic, sizeof(magic) - 1))
    return;
  sn->n++;
  /* A kernel UDP datagram as the stack got it: its checksum must verify
   * (with vnet_hdr the driver completes what the kernel left undone). */
  const uint8_t *p = ev->pkt;
  size_t ihl = (size_t)(p[0] & 15) * 4;
  if (ev->kind != USTCP_TR_PKT_IN || p[9] != 17 || ev->len < ihl + 8)
    return;
  size_t ulen = ev->len - ihl;
  uint8_t buf[256];
  if (ulen + 12 > sizeof(buf))
    return;
  memcpy(buf, p + 12, 8); /* pseudo-header: src, dst, 0, proto, length */
  buf[8] = 0;
  buf[9] = 17;
  buf[10] = (uint8_t)(ulen >> 8);
  buf[11] = (uint8_t)ulen;
  memcpy(buf + 12, p + ihl, ulen);
  if (csum16(buf, ulen + 12) == 0)
    sn->udp_csum_ok++;
  else
    sn->udp_csum_bad++;
}

static uint16_t csum16(const uint8_t *p, size_t n)
{
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < n; i += 2)
    sum += (uint32_t)(p[i] << 8 | p[i + 1]);
  if (n & 1)
    sum += (uint32_t)(p[n - 1] << 8);
  while (sum >> 16)
    sum = (sum & 0xffff) + (sum >> 16);
  return (uint16_t)~sum;
}

/* IPv4 + UDP (checksum 0 = none, RFC 768) from UADDR:4000 to KADDR:port. */
static size_t build_udp(uint8_t *b, uint16_t port)
{
  size_t plen = sizeof(magic) - 1, len = 20 + 8 + plen;
  memset(b, 0, 28);
  b[0] = 0x45;
  b[2] = (uint8_t)(len >> 8);
  b[3] = (uint8_t)len;
  b[6] = 0x40; /* DF */
  b[8] = 64;
  b[9] = 17;
  inet_pton(AF_INET, UADDR, b + 12);
  inet_pton(AF_INET, KADDR, b + 16);
  uint16_t c = csum16(b, 20);
  b[10] = (uint8_t)(c >> 8);
  b[11] = (uint8_t)c;
  b[20] = 4000 >> 8;
  b[21] = 4000 & 0xff;
  b[22] = (uint8_t)(port >> 8);
  b[23] = (uint8_t)port;
  b[24] = (uint8_t)((8 + plen) >> 8);
  b[25] = (uint8_t)(8 + plen);
  memcpy(b + 28, magic, plen);
  return len;
}

static double secs(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The whole packet path once, with or without IFF_VNET_HDR offloads. */
static void run_once(int vnet)
{
  char err[256] = "";
  struct ustcp_tun_opts o;
  ustcp_tun_opts_init(&o);
  o.mtu = 1400;
  o.vnet_hdr = vnet;
  const char *dev = vnet ? "usttest1" : "usttest0";
  printf("-- %s (vnet_hdr %d)\n", dev, vnet);
  struct ustcp_tun *t = ustcp_tun_open(dev, &o, err, sizeof(err));
  if (!t) {
    printf("FAIL: open: %s\n", err);
    T_CHECK(0);
    return;
  }
  T_STREQ(ustcp_tun_name(t), dev);
  T_EQ(ustcp_tun_mtu(t), 1400);
  T_CHECK(ustcp_tun_fd(t) >= 0);

  /* A second open of a device that is in use fails with a reason. */
  char err2[256] = "";
  struct ustcp_tun *t2 = ustcp_tun_open(dev, NULL, err2, sizeof(err2));
  T_CHECK(t2 == NULL);
  T_CHECK(strstr(err2, "busy") != NULL);
  printf("second open: %s\n", err2);
  T_CHECK(ustcp_tun_open("a-name-that-is-far-too-long", NULL, err2, sizeof(err2)) == NULL);

  struct in_addr ka, ua;
  inet_pton(AF_INET, KADDR, &ka);
  inet_pton(AF_INET, UADDR, &ua);
  T_EQ(ustcp_tun_set_peer_addr(t, ka.s_addr, 24), 0);
  T_EQ(ustcp_tun_up(t), 0);

  struct ustcp_config cfg;
  ustcp_config_init(&cfg);
  cfg.addr = ua.s_addr;
  ustcp_tun_config(t, &cfg);
  T_EQ(cfg.mtu, 1400);
  struct ustcp_stack *s = ustcp_stack_create(&cfg, err, sizeof(err));
  if (!s) {
    printf("FAIL: stack: %s\n", err);
    T_CHECK(0);
    return;
  }
  ustcp_tun_attach(t, s);
  struct seen sn = {0};
  ustcp_set_trace(s, on_trace, &sn);

  /* kernel -> stack: a UDP datagram must be read and handed to the stack
   * (which sees it, whatever it then does with it). */
  int u = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in ksa = {.sin_family = AF_INET, .sin_port = htons(5555), .sin_addr = ka};
  T_EQ(bind(u, (struct sockaddr *)&ksa, sizeof(ksa)), 0);
  struct sockaddr_in usa = {.sin_family = AF_INET, .sin_port = htons(9), .sin_addr = ua};
  T_EQ(sendto(u, magic, sizeof(magic) - 1, 0, (struct sockaddr *)&usa, sizeof(usa)),
       (long)sizeof(magic) - 1);
  double t0 = secs();
  while (sn.n == 0 && secs() - t0 < 2.0)
    ustcp_tun_run(t, 100);
  T_CHECK(sn.n >= 1);
  T_CHECK(sn.udp_csum_ok >= 1);
  T_EQ(sn.udp_csum_bad, 0);
  struct ustcp_tun_stats st;
  ustcp_tun_stats(t, &st);
  T_CHECK(st.rx_packets >= 1);
  T_CHECK(st.rx_batches >= 1);

  /* stack -> kernel: the link's output reaches a kernel socket after the
   * next flush. */
  const struct ustcp_link_ops *ops = ustcp_tun_link_ops();
  uint8_t pkt[128];
  size_t len = build_udp(pkt, 5555);
  for (int i = 0; i < 3; i++)
    T_EQ(ops->output(t, pkt, len), 0);
  ustcp_tun_run(t, 0);
  struct timeval tv = {.tv_sec = 2};
  setsockopt(u, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  int got = 0;
  for (int i = 0; i < 3; i++) {
    char buf[128];
    ssize_t n = recv(u, buf, sizeof(buf), 0);
    if (n == (ssize_t)sizeof(magic) - 1 && !memcmp(buf, magic, (size_t)n))
      got++;
  }
  T_EQ(got, 3);
  ustcp_tun_stats(t, &st);
  T_CHECK(st.tx_packets >= 3);
  T_EQ(st.tx_dropped, 0);

  /* wait(): nothing pending -> -ETIMEDOUT at the deadline, not before. */
  ustcp_time_t now = ops->now(t);
  t0 = secs();
  int r;
  do
    r = ops->wait(t, s, now + USTCP_MS(80));
  while (r == 0 && secs() - t0 < 1.0);
  double el = secs() - t0;
  T_EQ(r, -ETIMEDOUT);
  T_CHECK(el >= 0.079 && el < 0.5);
  printf("wait(80 ms) returned after %.1f ms\n", el * 1e3);
  /* ... and returns 0 soon after a datagram arrives. */
  sn.n = 0;
  sendto(u, magic, sizeof(magic) - 1, 0, (struct sockaddr *)&usa, sizeof(usa));
  t0 = secs();
  do
    r = ops->wait(t, s, ops->now(t) + USTCP_SEC(2));
  while (r == 0 && sn.n == 0);
  T_EQ(r, 0);
  T_CHECK(sn.n >= 1);
  T_CHECK(secs() - t0 < 1.0);

  /* A kernel ping through the whole path: the stack's IP layer answers
   * echo requests (raw ICMP socket; root is given here). */
  int icmp = socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK, IPPROTO_ICMP);
  T_CHECK(icmp >= 0);
  int replies = 0;
  for (int seq = 1; seq <= 3 && icmp >= 0; seq++) {
    uint8_t req[8 + 32] = {8, 0, 0, 0, 0x12, 0x34, 0, (uint8_t)seq};
    memcpy(req + 8, magic, 16);
    uint16_t c = csum16(req, sizeof(req));
    req[2] = (uint8_t)(c >> 8);
    req[3] = (uint8_t)c;
    T_EQ(sendto(icmp, req, sizeof(req), 0, (struct sockaddr *)&usa, sizeof(usa)),
         (long)sizeof(req));
    t0 = secs();
    bool got_reply = false;
    while (!got_reply && secs() - t0 < 1.0) {
      ustcp_tun_run(t, 10);
      uint8_t rb[256];
      ssize_t n;
      while ((n = recv(icmp, rb, sizeof(rb), 0)) > 0) {
        size_t ihl = (size_t)(rb[0] & 15) * 4;
        if ((size_t)n >= ihl + 8 && rb[ihl] == 0 && rb[ihl + 4] == 0x12 && rb[ihl + 5] == 0x34 &&
            rb[ihl + 7] == seq && !memcmp(rb + ihl + 8, magic, 16))
          got_reply = true;
      }
    }
    replies += got_reply;
  }
  printf("ping: %d of 3 echo requests answered by the stack\n", replies);
  T_EQ(replies, 3);
  if (icmp >= 0)
    close(icmp);

  close(u);
  ustcp_stack_destroy(s);
  ustcp_tun_close(t);
}

int main(int argc, char **argv)
{
  /* --try-open NAME: only open the device and print the driver's error
   * (tun_driver.test.sh runs this without CAP_NET_ADMIN). */
  if (argc == 3 && !strcmp(argv[1], "--try-open")) {
    char e[512] = "";
    struct ustcp_tun *tt = ustcp_tun_open(argv[2], NULL, e, sizeof(e));
    if (!tt) {
      printf("%s\n", e);
      return 1;
    }
    ustcp_tun_close(tt);
    printf("opened %s\n", argv[2]);
    return 0;
  }
  if (geteuid() != 0 || unshare(CLONE_NEWNET) != 0) {
    printf("SKIPPED: needs root to make a network namespace (unshare: %s)\n", strerror(errno));
    return 77;
  }
  run_once(0);
  run_once(1);
  return T_DONE();
}
