/*
 * sim_transfer.c - `ustcp sim transfer --bytes N [--latency-ms L]
 * [--bandwidth-mbit B] [--loss P] [--reorder P] [--dup P] [--corrupt P]
 * [--seed S] [--pcap F]`: one TCP connection between two simulated hosts
 * over a faulty link. The client writes N pseudo-random bytes and closes;
 * the server reads to end of stream and closes. Prints the SHA-256 of what
 * was sent and of what was received, virtual and real time and
 * retransmissions; exit 0 iff the digests match and both sides closed
 * cleanly (FIN, no error, every socket and timer released).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "sha256.h"
#include "ustcp/sim.h"
#include "ustcp/socket.h"

static int parse_size(const char *s, uint64_t *out)
{
  char *end;
  double v = strtod(s, &end);
  if (end == s || v < 0)
    return -1;
  uint64_t mul = 1;
  switch (*end) {
  case 'k':
  case 'K':
    mul = 1ull << 10;
    end++;
    break;
  case 'm':
  case 'M':
    mul = 1ull << 20;
    end++;
    break;
  case 'g':
  case 'G':
    mul = 1ull << 30;
    end++;
    break;
  default:
    break;
  }
  if (*end == 'B' || *end == 'b')
    end++;
  if (*end)
    return -1;
  *out = (uint64_t)(v * (double)mul);
  return 0;
}

static int parse_prob(const char *s, double *out)
{
  char *end;
  double v = strtod(s, &end);
  if (end == s || *end || v < 0 || v > 1)
    return -1;
  *out = v;
  return 0;
}

static double real_now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct xfer {
  struct ustcp_sim *sim;
  struct ustcp_stack *S, *C;
  int l, s, c;
  uint64_t total, sent, rcvd;
  uint64_t rng;
  uint8_t buf[65536];
  size_t buf_off, buf_len;
  struct sha256 hs, hr;
  bool client_closed, server_eof, server_closed, failed;
  char err[160];
};

static void fill(struct xfer *x)
{
  size_t n = sizeof(x->buf);
  if (n > x->total - x->sent)
    n = (size_t)(x->total - x->sent);
  for (size_t i = 0; i < n; i += 8) {
    x->rng ^= x->rng << 13;
    x->rng ^= x->rng >> 7;
    x->rng ^= x->rng << 17;
    memcpy(x->buf + i, &x->rng, n - i < 8 ? n - i : 8);
  }
  sha256_update(&x->hs, x->buf, n);
  x->buf_off = 0;
  x->buf_len = n;
}

/* Is there something for the application to do? Checked after each
 * simulated event. */
static bool app_ready(void *user)
{
  struct xfer *x = user;
  if (x->c >= 0 && !x->client_closed) {
    struct pollfd p = {.fd = x->c, .events = POLLOUT};
    if (ustcp_poll(x->C, &p, 1, 0) > 0)
      return true;
  }
  if (x->s < 0) {
    struct pollfd p = {.fd = x->l, .events = POLLIN};
    return ustcp_poll(x->S, &p, 1, 0) > 0;
  }
  if (!x->server_eof) {
    struct pollfd p = {.fd = x->s, .events = POLLIN};
    return ustcp_poll(x->S, &p, 1, 0) > 0;
  }
  return false;
}

/* One pass of application work; returns true if anything progressed. */
static bool app_step(struct xfer *x)
{
  bool prog = false;
  if (x->s < 0) {
    x->s = ustcp_accept4(x->S, x->l, NULL, NULL, SOCK_NONBLOCK);
    if (x->s >= 0)
      prog = true;
  }
  while (!x->client_closed) {
    if (x->buf_off == x->buf_len) {
      if (x->sent == x->total) {
        /* All written: close (FIN after the queued data). */
        if (ustcp_close(x->C, x->c) != 0) {
          snprintf(x->err, sizeof(x->err), "client close: %s", strerror(errno));
          x->failed = true;
        }
        x->client_closed = true;
        x->c = -1;
        prog = true;
        break;
      }
      fill(x);
    }
    ssize_t n = ustcp_send(x->C, x->c, x->buf + x->buf_off, x->buf_len - x->buf_off, 0);
    if (n < 0) {
      if (errno != EAGAIN) {
        snprintf(x->err, sizeof(x->err), "client send: %s", strerror(errno));
        x->failed = true;
        x->client_closed = true;
      }
      break;
    }
    x->buf_off += (size_t)n;
    x->sent += (uint64_t)n;
    prog = true;
  }
  static uint8_t rb[1 << 16];
  while (x->s >= 0 && !x->server_eof) {
    ssize_t n = ustcp_recv(x->S, x->s, rb, sizeof(rb), 0);
    if (n > 0) {
      sha256_update(&x->hr, rb, (size_t)n);
      x->rcvd += (uint64_t)n;
      prog = true;
      continue;
    }
    if (n == 0) {
      x->server_eof = true;
      prog = true;
      if (ustcp_close(x->S, x->s) != 0) {
        snprintf(x->err, sizeof(x->err), "server close: %s", strerror(errno));
        x->failed = true;
      }
      x->server_closed = true;
      break;
    }
    if (errno != EAGAIN) {
      snprintf(x->err, sizeof(x->err), "server recv: %s", strerror(errno));
      x->failed = true;
      x->server_eof = true;
    }
    break;
  }
  return prog;
}

static void usage(void)
{
  fprintf(stderr,
          "usage: ustcp sim transfer --bytes N [--latency-ms L] [--bandwidth-mbit B]\n"
          "         [--loss P] [--reorder P] [--dup P] [--corrupt P] [--seed S] [--pcap F]\n"
          "  N accepts K/M/G suffixes (binary); P are probabilities in [0, 1]\n");
}

int sim_transfer(int argc, char **argv)
{
  uint64_t bytes = 0, seed = 1;
  double latency_ms = 1, bw_mbit = 0, loss = 0, reorder = 0, dup = 0, corrupt = 0;
  const char *pcap = NULL;
  bool have_bytes = false;
  for (int i = 1; i < argc; i += 2) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    int bad = 0;
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      usage();
      return 0;
    }
    if (!v) {
      fprintf(stderr, "ustcp sim transfer: %s needs a value\n", a);
      return 2;
    }
    if (!strcmp(a, "--bytes"))
      bad = parse_size(v, &bytes), have_bytes = true;
    else if (!strcmp(a, "--latency-ms"))
      latency_ms = strtod(v, NULL), bad = latency_ms < 0;
    else if (!strcmp(a, "--bandwidth-mbit"))
      bw_mbit = strtod(v, NULL), bad = bw_mbit < 0;
    else if (!strcmp(a, "--loss"))
      bad = parse_prob(v, &loss);
    else if (!strcmp(a, "--reorder"))
      bad = parse_prob(v, &reorder);
    else if (!strcmp(a, "--dup"))
      bad = parse_prob(v, &dup);
    else if (!strcmp(a, "--corrupt"))
      bad = parse_prob(v, &corrupt);
    else if (!strcmp(a, "--seed"))
      seed = strtoull(v, NULL, 0);
    else if (!strcmp(a, "--pcap"))
      pcap = v;
    else {
      fprintf(stderr, "ustcp sim transfer: unknown option %s\n", a);
      usage();
      return 2;
    }
    if (bad) {
      fprintf(stderr, "ustcp sim transfer: bad value for %s: %s\n", a, v);
      return 2;
    }
  }
  if (!have_bytes) {
    usage();
    return 2;
  }

  struct xfer *x = calloc(1, sizeof(*x));
  if (!x)
    return 1;
  x->total = bytes;
  x->rng = seed * 0x9e3779b97f4a7c15ull + 1;
  x->s = -1;
  sha256_init(&x->hs);
  sha256_init(&x->hr);
  x->sim = ustcp_sim_create(seed);
  int hs = ustcp_sim_add_host(x->sim, "server", "10.0.0.1", NULL);
  int hc = ustcp_sim_add_host(x->sim, "client", "10.0.0.2", NULL);
  struct ustcp_link_params p = {
      .latency = (ustcp_time_t)(latency_ms * 1e6),
      .bandwidth_bps = (uint64_t)(bw_mbit * 1e6),
      .loss = loss,
      .reorder = reorder,
      .duplicate = dup,
      .corrupt = corrupt,
  };
  int link = ustcp_sim_link(x->sim, hs, hc, &p, &p);
  if (hs < 0 || hc < 0 || link < 0) {
    fprintf(stderr, "ustcp sim transfer: cannot build the topology\n");
    return 1;
  }
  if (pcap && ustcp_sim_pcap_link(x->sim, link, pcap) != 0) {
    fprintf(stderr, "ustcp sim transfer: cannot write %s\n", pcap);
    return 1;
  }
  x->S = ustcp_sim_stack(x->sim, hs);
  x->C = ustcp_sim_stack(x->sim, hc);
  double t0 = real_now();

  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(5001)};
  inet_pton(AF_INET, "10.0.0.1", &a.sin_addr);
  x->l = ustcp_socket(x->S, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (x->l < 0 || ustcp_bind(x->S, x->l, (struct sockaddr *)&a, sizeof(a)) ||
      ustcp_listen(x->S, x->l, 16)) {
    fprintf(stderr, "ustcp sim transfer: server setup: %s\n", strerror(errno));
    return 1;
  }
  x->c = ustcp_socket(x->C, AF_INET, SOCK_STREAM, 0);
  if (x->c < 0 || ustcp_connect(x->C, x->c, (struct sockaddr *)&a, sizeof(a)) != 0) {
    fprintf(stderr, "ustcp sim transfer: connect: %s\n", strerror(errno));
    return 1;
  }
  int fl = ustcp_fcntl(x->C, x->c, F_GETFL);
  ustcp_fcntl(x->C, x->c, F_SETFL, fl | O_NONBLOCK);

  const ustcp_time_t limit = USTCP_SEC(1000000);
  while (!x->failed && !(x->client_closed && x->server_closed)) {
    if (app_step(x))
      continue;
    if (!ustcp_sim_run_while(x->sim, app_ready, x, limit)) {
      if (!app_step(x)) {
        snprintf(x->err, sizeof(x->err), "stalled: the world went idle");
        x->failed = true;
      }
    }
  }
  ustcp_time_t vend = ustcp_sim_now(x->sim);
  /* Let the close finish (TIME_WAIT included) and check nothing leaks. */
  if (x->l >= 0)
    ustcp_close(x->S, x->l);
  ustcp_sim_run_until_idle(x->sim, USTCP_SEC(3600));
  double t1 = real_now();

  uint8_t ds[32], dr[32];
  char hs_hex[65], hr_hex[65];
  sha256_final(&x->hs, ds);
  sha256_final(&x->hr, dr);
  sha256_hex(ds, hs_hex);
  sha256_hex(dr, hr_hex);
  struct ustcp_mem_info ms, mc;
  ustcp_mem_info(x->S, &ms);
  ustcp_mem_info(x->C, &mc);
  uint64_t retrans =
      ustcp_stat(x->S, USTCP_STAT_TCP_RETRANS_SEGS) + ustcp_stat(x->C, USTCP_STAT_TCP_RETRANS_SEGS);
  uint64_t fast = ustcp_stat(x->C, USTCP_STAT_TCP_FAST_RETRANS);
  uint64_t rto = ustcp_stat(x->C, USTCP_STAT_TCP_TIMEOUTS);
  uint64_t rsts =
      ustcp_stat(x->S, USTCP_STAT_TCP_OUT_RSTS) + ustcp_stat(x->C, USTCP_STAT_TCP_OUT_RSTS);
  double vsec = (double)vend / 1e9, rsec = t1 - t0;
  printf("sent     %llu bytes  sha256 %s\n", (unsigned long long)x->sent, hs_hex);
  printf("received %llu bytes  sha256 %s\n", (unsigned long long)x->rcvd, hr_hex);
  printf("virtual time %.3f s (%.1f Mbit/s), real time %.3f s (%.1f MB/s)\n", vsec,
         vsec > 0 ? (double)x->rcvd * 8 / vsec / 1e6 : 0.0, rsec,
         rsec > 0 ? (double)x->rcvd / rsec / 1e6 : 0.0);
  printf("retransmissions %llu (fast %llu, timeouts %llu), resets sent %llu\n",
         (unsigned long long)retrans, (unsigned long long)fast, (unsigned long long)rto,
         (unsigned long long)rsts);
  bool ok = !x->failed && x->sent == x->total && x->rcvd == x->total && !memcmp(ds, dr, 32) &&
            rsts == 0 && ms.sockets == 0 && mc.sockets == 0 && ms.timewait == 0 &&
            mc.timewait == 0 && ms.timers == 0 && mc.timers == 0;
  if (x->failed)
    printf("error: %s\n", x->err);
  if (ms.sockets || mc.sockets || ms.timers || mc.timers)
    printf("leak: sockets %llu/%llu timers %llu/%llu after the run\n",
           (unsigned long long)ms.sockets, (unsigned long long)mc.sockets,
           (unsigned long long)ms.timers, (unsigned long long)mc.timers);
  printf("%s\n", ok ? "OK: digests match, connection closed cleanly" : "FAILED");
  ustcp_sim_destroy(x->sim);
  free(x);
  return ok ? 0 : 1;
}
