/*
 * bench_tun.c - `ustcp bench tun`: bulk throughput of ustcp on a real TUN
 * device beside the kernel on a veth pair, in the same run.
 *
 *   ustcp side : a kernel TCP client sends N bytes (default 1 GB) to a ustcp
 *                discard server on a TUN device (IFF_TUN | IFF_NO_PI), once
 *                with plain datagrams and once with IFF_VNET_HDR receive
 *                offloads (checksum and 64 KiB GSO segments from the kernel).
 *   Linux side : the same client sends N bytes to a kernel discard server
 *                in another network namespace, over a veth pair.
 * Both are timed at the client, from connect() done to the peer's FIN after
 * our shutdown(SHUT_WR) (every byte was read by the server). Everything
 * runs in network namespaces of its own (needs root): the process unshares
 * one at start, the veth peer lives in a child's.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "ustcp/socket.h"
#include "ustcp/tun.h"

#define TUN_UADDR "192.0.2.2"
#define TUN_KADDR "192.0.2.1"
#define VETH_A "198.51.100.1"
#define VETH_B "198.51.100.2"
#define PORT 9

static double now_s(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int run(const char *cmd)
{
  int r = system(cmd);
  if (r != 0)
    fprintf(stderr, "ustcp bench tun: '%s' failed\n", cmd);
  return r;
}

/* Kernel client: connect, send `bytes`, SHUT_WR, wait for the FIN. Writes
 * the seconds taken to `res` (a pipe). */
static void kernel_client(const char *addr, uint64_t bytes, int res)
{
  double secs = -1;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(PORT)};
  inet_pton(AF_INET, addr, &sa.sin_addr);
  int ok = -1;
  for (int i = 0; i < 50 && (ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa))) != 0; i++) {
    usleep(100000);
    close(fd);
    fd = socket(AF_INET, SOCK_STREAM, 0);
  }
  if (ok == 0) {
    static char buf[1 << 20];
    memset(buf, 'u', sizeof(buf));
    double t0 = now_s();
    uint64_t left = bytes;
    while (left) {
      ssize_t n = write(fd, buf, left < sizeof(buf) ? left : sizeof(buf));
      if (n <= 0)
        break;
      left -= (uint64_t)n;
    }
    shutdown(fd, SHUT_WR);
    char c;
    if (!left && read(fd, &c, 1) == 0)
      secs = now_s() - t0;
  }
  close(fd);
  if (write(res, &secs, sizeof(secs)) != sizeof(secs))
    _exit(1);
  _exit(secs > 0 ? 0 : 1);
}

/* The ustcp discard server on a TUN device; returns bytes received. */
static int64_t ustcp_discard(struct ustcp_stack *s, struct ustcp_tun *t, double limit)
{
  int lfd = ustcp_socket(s, AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(PORT)};
  inet_pton(AF_INET, TUN_UADDR, &sa.sin_addr);
  if (lfd < 0 || ustcp_bind(s, lfd, (struct sockaddr *)&sa, sizeof(sa)) ||
      ustcp_listen(s, lfd, 16)) {
    fprintf(stderr, "ustcp bench tun: listen: %s\n", strerror(errno));
    return -1;
  }
  double end = now_s() + limit;
  int fd = -1;
  while (fd < 0 && now_s() < end) {
    struct pollfd p = {.fd = lfd, .events = POLLIN};
    if (ustcp_poll(s, &p, 1, 200) > 0)
      fd = ustcp_accept(s, lfd, NULL, NULL);
  }
  int64_t got = 0;
  static char buf[1 << 16];
  while (fd >= 0 && now_s() < end) {
    ssize_t n = ustcp_recv(s, fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (n > 0) {
      got += n;
      continue;
    }
    if (n == 0)
      break;
    if (errno != EAGAIN) {
      fprintf(stderr, "ustcp bench tun: recv: %s\n", strerror(errno));
      break;
    }
    ustcp_tun_run(t, 100);
  }
  if (fd >= 0)
    ustcp_close(s, fd);
  ustcp_close(s, lfd);
  for (int i = 0; i < 20; i++)
    ustcp_tun_run(t, 10);
  return got;
}

static double bench_ustcp(uint64_t bytes, int mtu, int offload, int verbose)
{
  char err[512];
  struct ustcp_tun_opts o;
  ustcp_tun_opts_init(&o);
  o.mtu = (uint16_t)mtu;
  o.vnet_hdr = offload;
  struct ustcp_tun *t = ustcp_tun_open("ustbench0", &o, err, sizeof(err));
  if (!t) {
    fprintf(stderr, "ustcp bench tun: %s\n", err);
    return -1;
  }
  struct in_addr ka, ua;
  inet_pton(AF_INET, TUN_KADDR, &ka);
  inet_pton(AF_INET, TUN_UADDR, &ua);
  if (ustcp_tun_set_peer_addr(t, ka.s_addr, 24) || ustcp_tun_up(t)) {
    fprintf(stderr, "ustcp bench tun: configuring ustbench0 failed\n");
    ustcp_tun_close(t);
    return -1;
  }
  struct ustcp_config cfg;
  ustcp_config_init(&cfg);
  cfg.addr = ua.s_addr;
  cfg.seed = 42;
  ustcp_tun_config(t, &cfg);
  struct ustcp_stack *s = ustcp_stack_create(&cfg, err, sizeof(err));
  if (!s) {
    fprintf(stderr, "ustcp bench tun: %s\n", err);
    ustcp_tun_close(t);
    return -1;
  }
  ustcp_tun_attach(t, s);
  int pp[2];
  if (pipe(pp))
    return -1;
  pid_t pid = fork();
  if (pid == 0) {
    close(pp[0]);
    kernel_client(TUN_UADDR, bytes, pp[1]);
  }
  close(pp[1]);
  int64_t got = ustcp_discard(s, t, 120);
  double secs = -1;
  if (read(pp[0], &secs, sizeof(secs)) != sizeof(secs))
    secs = -1;
  close(pp[0]);
  waitpid(pid, NULL, 0);
  if (verbose) {
    struct ustcp_tun_stats st;
    ustcp_tun_stats(t, &st);
    fprintf(stderr,
            "  tun%s: rx %llu pkts (%llu GSO, %.1f per batch), tx %llu pkts, %llu wakeups; "
            "%lld bytes read\n",
            offload ? " offload" : "", (unsigned long long)st.rx_packets,
            (unsigned long long)st.rx_gso,
            st.rx_batches ? (double)st.rx_packets / (double)st.rx_batches : 0.0,
            (unsigned long long)st.tx_packets, (unsigned long long)st.wakeups, (long long)got);
  }
  ustcp_stack_destroy(s);
  ustcp_tun_close(t);
  return got == (int64_t)bytes ? secs : -1;
}

/* Kernel discard server (the veth peer's side). */
static void kernel_discard(void)
{
  int l = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(PORT)};
  inet_pton(AF_INET, VETH_B, &sa.sin_addr);
  if (bind(l, (struct sockaddr *)&sa, sizeof(sa)) || listen(l, 16))
    _exit(1);
  int fd = accept(l, NULL, NULL);
  static char buf[1 << 16];
  while (fd >= 0 && read(fd, buf, sizeof(buf)) > 0)
    ;
  _exit(0);
}

static double bench_linux(uint64_t bytes)
{
  int go[2], ready[2];
  if (pipe(go) || pipe(ready))
    return -1;
  pid_t srv = fork();
  if (srv == 0) {
    close(go[1]);
    close(ready[0]);
    char c = unshare(CLONE_NEWNET) == 0 ? 1 : 0;
    if (write(ready[1], &c, 1) != 1 || read(go[0], &c, 1) != 1 || !c)
      _exit(1);
    if (system("ip link set lo up && ip addr add " VETH_B "/24 dev ustvb1 && "
               "ip link set ustvb1 up"))
      _exit(1);
    c = 1;
    if (write(ready[1], &c, 1) != 1)
      _exit(1);
    kernel_discard();
  }
  close(go[0]);
  close(ready[1]);
  char c = 0, cmd[256];
  double secs = -1;
  if (read(ready[0], &c, 1) != 1 || !c)
    goto out;
  snprintf(cmd, sizeof(cmd),
           "ip link add name ustvb0 type veth peer name ustvb1 && ip link set "
           "ustvb1 netns %d "
           "&& ip addr add " VETH_A "/24 dev ustvb0 && ip link set ustvb0 up",
           (int)srv);
  c = run(cmd) == 0;
  if (write(go[1], &c, 1) != 1 || !c || read(ready[0], &c, 1) != 1)
    goto out;
  int pp[2];
  if (pipe(pp))
    goto out;
  pid_t cl = fork();
  if (cl == 0) {
    close(pp[0]);
    kernel_client(VETH_B, bytes, pp[1]);
  }
  close(pp[1]);
  if (read(pp[0], &secs, sizeof(secs)) != sizeof(secs))
    secs = -1;
  close(pp[0]);
  waitpid(cl, NULL, 0);
out:
  close(go[1]);
  close(ready[0]);
  kill(srv, SIGTERM);
  waitpid(srv, NULL, 0);
  if (system("ip link del ustvb0 2>/dev/null")) {
    /* gone with the peer's namespace already */
  }
  return secs;
}

int bench_tun(int argc, char **argv)
{
  uint64_t bytes = 1000ull * 1000 * 1000;
  int json = 0, mtu = 1500, verbose = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--json"))
      json = 1;
    else if (!strcmp(argv[i], "--bytes") && i + 1 < argc)
      bytes = strtoull(argv[++i], NULL, 0);
    else if (!strcmp(argv[i], "--mtu") && i + 1 < argc)
      mtu = atoi(argv[++i]);
    else if (!strcmp(argv[i], "-v"))
      verbose = 1;
    else {
      fprintf(stderr, "usage: ustcp bench tun [--bytes N] [--mtu N] [--json] [-v]\n"
                      "  kernel -> ustcp discard over TUN beside kernel -> kernel over "
                      "veth\n");
      return 2;
    }
  }
  if (geteuid() != 0) {
    fprintf(stderr, "ustcp bench tun: needs root (CAP_NET_ADMIN: TUN device, "
                    "namespaces)\n");
    return 2;
  }
  if (unshare(CLONE_NEWNET)) {
    fprintf(stderr, "ustcp bench tun: unshare(CLONE_NEWNET): %s\n", strerror(errno));
    return 2;
  }
  if (run("ip link set lo up"))
    return 1;
  signal(SIGPIPE, SIG_IGN);
  /* ustcp twice: plain datagrams, and with IFF_VNET_HDR receive offloads
   * (the kernel's 64 KiB GSO segments, as veth gets them). */
  double tu = bench_ustcp(bytes, mtu, 0, verbose);
  double to = bench_ustcp(bytes, mtu, 1, verbose);
  double tl = bench_linux(bytes);
  double gu = tu > 0 ? (double)bytes * 8 / tu / 1e9 : 0;
  double go = to > 0 ? (double)bytes * 8 / to / 1e9 : 0;
  double gl = tl > 0 ? (double)bytes * 8 / tl / 1e9 : 0;
  if (json) {
    printf("{\"bench\":\"tun\",\"bytes\":%llu,\"mtu\":%d,\"ustcp_gbps\":%.3f,"
           "\"ustcp_offload_gbps\":%.3f,\"linux_gbps\":%.3f,\"ratio\":%.3f,"
           "\"ratio_offload\":%.3f}\n",
           (unsigned long long)bytes, mtu, gu, go, gl, gl > 0 ? gu / gl : 0.0,
           gl > 0 ? go / gl : 0.0);
  } else {
    printf("bench tun: %.0f MB kernel client -> discard server, MTU %d\n", (double)bytes / 1e6,
           mtu);
    printf("  ustcp  over TUN                        : %s%6.2f Gbit/s (%.2f s)  ratio %.3f\n",
           tu > 0 ? "" : "FAILED ", gu, tu, gl > 0 ? gu / gl : 0.0);
    printf("  ustcp  over TUN, vnet_hdr GSO offload  : %s%6.2f Gbit/s (%.2f s)  ratio %.3f\n",
           to > 0 ? "" : "FAILED ", go, to, gl > 0 ? go / gl : 0.0);
    printf("  linux  kernel -> kernel over veth      : %s%6.2f Gbit/s (%.2f s)\n",
           tl > 0 ? "" : "FAILED ", gl, tl);
  }
  fflush(stdout);
  return tu > 0 && to > 0 && tl > 0 ? 0 : 1;
}
