/*
 * sim_ping.c - `ustcp sim ping`: two sim hosts on one link, ICMP echo from
 * the first to the second in virtual time, printed like ping(8).
 *
 *   ustcp sim ping [--latency-ms L] [--count N] [--loss P] [--seed S]
 *                  [--pcap FILE] [--interval-ms I] [--size BYTES] [--corrupt P]
 *
 * Exit status: 0 if at least one reply came back, 1 if none did, 2 for bad
 * arguments.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ustcp/icmp.h"
#include "ustcp/sim.h"

#define ADDR_A "192.0.2.1"
#define ADDR_B "192.0.2.2"

struct ping {
  struct ustcp_sim *sim;
  struct ustcp_stack *src;
  uint32_t dst_be;
  uint16_t id;
  size_t size;
  long count;
  long sent, received, dups;
  ustcp_time_t *sent_at; /* per sequence number, USTCP_TIME_NEVER = not sent */
  bool *seen;
  double min_ms, max_ms, sum_ms;
  int send_err;
};

static void usage(FILE *f)
{
  fprintf(f, "usage: ustcp sim ping [--latency-ms L] [--count N] [--loss P] [--seed S]\n"
             "                      [--pcap FILE] [--interval-ms I] [--size BYTES]\n"
             "                      [--corrupt P]\n"
             "  two simulated hosts (" ADDR_A " -> " ADDR_B "), ICMP echo in virtual time\n"
             "  defaults: latency 5 ms each way, count 4, loss 0, seed 1, interval 1000 ms,\n"
             "  size 56, corrupt 0 (each way: loss and corrupt are probabilities)\n");
}

static int bad_arg(const char *opt, const char *val, const char *why)
{
  fprintf(stderr, "ustcp sim ping: %s '%s': %s\n", opt, val ? val : "", why);
  usage(stderr);
  return 2;
}

static bool parse_double(const char *s, double *out)
{
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (end == s || *end || errno || !isfinite(v))
    return false;
  *out = v;
  return true;
}

static bool parse_u64(const char *s, uint64_t *out)
{
  char *end;
  if (!*s || *s == '-')
    return false;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 0);
  if (end == s || *end || errno)
    return false;
  *out = v;
  return true;
}

static void on_icmp(void *user, struct ustcp_stack *s, const struct ustcp_icmp_msg *m)
{
  struct ping *p = user;
  char from[INET_ADDRSTRLEN];
  struct in_addr a = {.s_addr = m->from};
  inet_ntop(AF_INET, &a, from, sizeof(from));
  /* ping(8) numbers its requests from 1 */
  long idx = (long)m->seq - 1;
  if (m->id != p->id || idx < 0 || idx >= p->count || p->sent_at[idx] == USTCP_TIME_NEVER)
    return;
  if (m->type != 0) {
    printf("From %s icmp_seq=%u %s (type %u code %u)\n", from, m->seq,
           m->type == 11 ? "Time to live exceeded" : "Destination Unreachable", m->type, m->code);
    return;
  }
  double ms = (double)(ustcp_now(s) - p->sent_at[idx]) / 1e6;
  bool dup = p->seen[idx];
  printf("%zu bytes from %s: icmp_seq=%u ttl=%u time=%.3f ms%s\n", m->len + 8, from, m->seq, m->ttl,
         ms, dup ? " (DUP!)" : "");
  if (dup) {
    p->dups++;
    return;
  }
  p->seen[idx] = true;
  p->received++;
  p->sum_ms += ms;
  if (p->received == 1 || ms < p->min_ms)
    p->min_ms = ms;
  if (p->received == 1 || ms > p->max_ms)
    p->max_ms = ms;
}

static void send_one(void *user)
{
  struct ping *p = user;
  p->sent_at[p->sent] = ustcp_sim_now(p->sim);
  uint16_t seq = (uint16_t)(++p->sent);
  int r = ustcp_ping_send(p->src, p->dst_be, p->id, seq, p->size);
  if (r && !p->send_err) {
    p->send_err = -r;
    fprintf(stderr, "ustcp sim ping: send: %s\n", strerror(-r));
  }
}

int sim_ping(int argc, char **argv)
{
  double latency_ms = 5, loss = 0, interval_ms = 1000, corrupt = 0;
  uint64_t count = 4, seed = 1, size = 56;
  const char *pcap = NULL;
  for (int i = 1; i < argc; i++) {
    const char *o = argv[i];
    if (!strcmp(o, "-h") || !strcmp(o, "--help")) {
      usage(stdout);
      return 0;
    }
    if (i + 1 >= argc)
      return bad_arg(o, NULL, strncmp(o, "--", 2) ? "unknown option" : "needs a value");
    const char *v = argv[++i];
    if (!strcmp(o, "--latency-ms")) {
      if (!parse_double(v, &latency_ms) || latency_ms < 0 || latency_ms > 3.6e6)
        return bad_arg(o, v, "want milliseconds in [0, 3600000]");
    } else if (!strcmp(o, "--count")) {
      if (!parse_u64(v, &count) || count < 1 || count > 65535)
        return bad_arg(o, v, "want an integer in [1, 65535]");
    } else if (!strcmp(o, "--loss")) {
      if (!parse_double(v, &loss) || loss < 0 || loss > 1)
        return bad_arg(o, v, "want a probability in [0, 1]");
    } else if (!strcmp(o, "--corrupt")) {
      if (!parse_double(v, &corrupt) || corrupt < 0 || corrupt > 1)
        return bad_arg(o, v, "want a probability in [0, 1]");
    } else if (!strcmp(o, "--seed")) {
      if (!parse_u64(v, &seed))
        return bad_arg(o, v, "want an unsigned integer");
    } else if (!strcmp(o, "--pcap")) {
      if (!*v)
        return bad_arg(o, v, "want a file name");
      pcap = v;
    } else if (!strcmp(o, "--interval-ms")) {
      if (!parse_double(v, &interval_ms) || interval_ms < 0.001 || interval_ms > 3.6e6)
        return bad_arg(o, v, "want milliseconds in [0.001, 3600000]");
    } else if (!strcmp(o, "--size")) {
      if (!parse_u64(v, &size) || size > 65507)
        return bad_arg(o, v, "want bytes in [0, 65507] (over 1472: sent in fragments)");
    } else {
      return bad_arg(o, v, "unknown option");
    }
  }

  struct ustcp_sim *sim = ustcp_sim_create(seed);
  if (!sim) {
    fprintf(stderr, "ustcp sim ping: out of memory\n");
    return 1;
  }
  int a = ustcp_sim_add_host(sim, "a", ADDR_A, NULL);
  int b = ustcp_sim_add_host(sim, "b", ADDR_B, NULL);
  struct ustcp_link_params lp = {
      .latency = (ustcp_time_t)llround(latency_ms * 1e6), .loss = loss, .corrupt = corrupt};
  if (a < 0 || b < 0 || ustcp_sim_link(sim, a, b, &lp, &lp) < 0) {
    fprintf(stderr, "ustcp sim ping: cannot build the network\n");
    ustcp_sim_destroy(sim);
    return 1;
  }
  if (pcap && ustcp_sim_pcap_host(sim, a, pcap) < 0) {
    fprintf(stderr, "ustcp sim ping: --pcap %s: %s\n", pcap, strerror(errno));
    ustcp_sim_destroy(sim);
    return 2;
  }

  struct ping p = {.sim = sim,
                   .src = ustcp_sim_stack(sim, a),
                   .dst_be = ustcp_sim_host_addr(sim, b),
                   .id = (uint16_t)(0x5eed ^ seed),
                   .size = (size_t)size,
                   .count = (long)count};
  p.sent_at = malloc(sizeof(*p.sent_at) * count);
  p.seen = calloc(count, sizeof(*p.seen));
  if (!p.sent_at || !p.seen) {
    fprintf(stderr, "ustcp sim ping: out of memory\n");
    free(p.sent_at);
    free(p.seen);
    ustcp_sim_destroy(sim);
    return 1;
  }
  for (uint64_t i = 0; i < count; i++)
    p.sent_at[i] = USTCP_TIME_NEVER;
  ustcp_set_icmp_hook(p.src, on_icmp, &p);

  ustcp_time_t interval = (ustcp_time_t)llround(interval_ms * 1e6);
  for (uint64_t i = 0; i < count; i++)
    ustcp_sim_at(sim, i * interval, send_one, &p);
  printf("PING %s (%s) %zu(%zu) bytes of data.\n", ADDR_B, ADDR_B, p.size, p.size + 28);
  /* Everything is in flight or scheduled: the world goes idle once the
   * last reply arrived or was lost. */
  ustcp_sim_run_until_idle(sim, USTCP_TIME_NEVER);

  long loss_pct = p.sent ? (long)((p.sent - p.received) * 100 / p.sent) : 0;
  printf("\n--- %s ping statistics ---\n", ADDR_B);
  printf("%ld packets transmitted, %ld received", p.sent, p.received);
  if (p.dups)
    printf(", +%ld duplicates", p.dups);
  printf(", %ld%% packet loss, time %" PRIu64 "ms\n", loss_pct,
         (uint64_t)((count - 1) * interval / 1000000u));
  if (p.received)
    printf("rtt min/avg/max = %.3f/%.3f/%.3f ms\n", p.min_ms, p.sum_ms / (double)p.received,
           p.max_ms);
  int rc = p.received ? 0 : 1;
  free(p.sent_at);
  free(p.seen);
  ustcp_sim_destroy(sim);
  return rc;
}
