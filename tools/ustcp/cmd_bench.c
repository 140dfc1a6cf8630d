/*
 * cmd_bench.c - `ustcp bench NAME [--json]`: runs ustcp and the Linux kernel
 * on the same workload in the same invocation, interleaving their runs so
 * both see the same machine noise, and prints for each figure the median of
 * the runs with min and max, and the ratio ustcp/Linux (oriented so that
 * higher is better for ustcp: for lower-is-better units such as bytes or
 * ns the ratio is Linux/ustcp).
 *
 * Workloads (bench/bench.h): bulk, crr, rr, conns, instr; `all` runs them
 * all. Each run is a forked child pinned to one core (bench/common.c).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "cli.h"

#define MAX_RUNS 64

/* One reported figure: a series of runs per side. */
struct figure {
  char name[48];
  const char *unit;
  int lower_better;
  double u[MAX_RUNS], l[MAX_RUNS];
  int nu, nl, have_linux;
  char uerr[200], lerr[200];
  const char *target;  /* e.g. ">= 3x", or NULL */
  double target_ratio; /* ratio needed (0: see target_max) */
  double target_max;   /* for absolute targets on the ustcp median */
};

struct bench_ctx {
  struct bench_opts o;
  int json;
  int ustcp_only, linux_only;
  int failures;
  int header_done;
};

static int cmp_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double median_of(const double *v, int n, double *mn, double *mx)
{
  double s[MAX_RUNS];
  memcpy(s, v, sizeof(double) * (size_t)n);
  qsort(s, (size_t)n, sizeof(double), cmp_double);
  *mn = s[0];
  *mx = s[n - 1];
  return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

static void fig_init(struct figure *f, const char *name, const char *unit, int lower_better,
                     int have_linux)
{
  memset(f, 0, sizeof(*f));
  snprintf(f->name, sizeof(f->name), "%s", name);
  f->unit = unit;
  f->lower_better = lower_better;
  f->have_linux = have_linux;
}

static void fig_add(struct figure *f, int linux_side, const struct bench_res *r, int idx)
{
  if (r->err || idx >= r->nv || r->v[idx] < 0) {
    char *e = linux_side ? f->lerr : f->uerr;
    if (!e[0])
      snprintf(e, sizeof(f->uerr), "%s", r->msg[0] ? r->msg : "no figure");
    return;
  }
  if (linux_side)
    f->l[f->nl++] = r->v[idx];
  else
    f->u[f->nu++] = r->v[idx];
}

/* Format a figure value with sensible precision. */
static void fmt_val(char *buf, size_t len, double v)
{
  if (v >= 1e6)
    snprintf(buf, len, "%.0f", v);
  else if (v >= 100)
    snprintf(buf, len, "%.1f", v);
  else
    snprintf(buf, len, "%.3g", v);
}

static void json_side(const double *v, int n)
{
  double mn, mx, md = median_of(v, n, &mn, &mx);
  printf("{\"median\": %.6g, \"min\": %.6g, \"max\": %.6g, \"runs\": %d}", md, mn, mx, n);
}

static void json_str(const char *s)
{
  putchar('"');
  for (; *s; s++) {
    if (*s == '"' || *s == '\\')
      printf("\\%c", *s);
    else if ((unsigned char)*s < 0x20)
      printf("\\u%04x", *s);
    else
      putchar(*s);
  }
  putchar('"');
}

/* Ratio oriented so that > 1 means ustcp is better. */
static double fig_ratio(const struct figure *f, int *ok)
{
  double a, b, mu, ml;
  *ok = f->nu > 0 && f->nl > 0;
  if (!*ok)
    return 0;
  mu = median_of(f->u, f->nu, &a, &b);
  ml = median_of(f->l, f->nl, &a, &b);
  if (mu <= 0 || ml <= 0) {
    *ok = 0;
    return 0;
  }
  return f->lower_better ? ml / mu : mu / ml;
}

/* 1 met, 0 missed, -1 no target or no figure. */
static int fig_met(const struct figure *f)
{
  int ok;
  if (!f->target)
    return -1;
  if (f->target_ratio > 0) {
    double r = fig_ratio(f, &ok);
    return ok ? r >= f->target_ratio : -1;
  }
  if (f->nu == 0)
    return -1;
  double a, b, m = median_of(f->u, f->nu, &a, &b);
  return m <= f->target_max;
}

static void fig_print(struct bench_ctx *c, const struct figure *f)
{
  int ok;
  double ratio = fig_ratio(f, &ok);
  int met = fig_met(f);
  if (f->nu == 0 && !c->linux_only)
    c->failures++;
  if (f->have_linux && f->nl == 0 && !c->ustcp_only)
    c->failures++;
  if (c->json) {
    printf("{\"bench\": ");
    json_str(f->name);
    printf(", \"unit\": ");
    json_str(f->unit);
    printf(", \"better\": \"%s\", \"ustcp\": ", f->lower_better ? "lower" : "higher");
    if (f->nu)
      json_side(f->u, f->nu);
    else
      printf("null");
    printf(", \"linux\": ");
    if (f->nl)
      json_side(f->l, f->nl);
    else
      printf("null");
    if (ok)
      printf(", \"ratio\": %.4g", ratio);
    else
      printf(", \"ratio\": null");
    if (f->target) {
      printf(", \"target\": ");
      json_str(f->target);
      printf(", \"met\": %s", met < 0 ? "null" : met ? "true" : "false");
    }
    if (f->uerr[0]) {
      printf(", \"ustcp_error\": ");
      json_str(f->uerr);
    }
    if (f->lerr[0]) {
      printf(", \"linux_error\": ");
      json_str(f->lerr);
    }
    printf("}\n");
    fflush(stdout);
    return;
  }
  char side[2][128];
  for (int s = 0; s < 2; s++) {
    const double *v = s ? f->l : f->u;
    int n = s ? f->nl : f->nu;
    if (!n) {
      snprintf(side[s], sizeof(side[s]), "%s",
               s && !f->have_linux          ? "-"
               : (s ? f->lerr : f->uerr)[0] ? "FAILED"
                                            : "-");
      continue;
    }
    double mn, mx, md = median_of(v, n, &mn, &mx);
    char a[32], b[32], m[32];
    fmt_val(m, sizeof(m), md);
    fmt_val(a, sizeof(a), mn);
    fmt_val(b, sizeof(b), mx);
    snprintf(side[s], sizeof(side[s]), "%s [%s..%s]", m, a, b);
  }
  char rs[64] = "-";
  if (ok)
    snprintf(rs, sizeof(rs), "%.2fx", ratio);
  char ts[64] = "";
  if (f->target)
    snprintf(ts, sizeof(ts), "  target %s: %s", f->target,
             met < 0 ? "n/a"
             : met   ? "MET"
                     : "MISSED");
  printf("%-22s %-12s %-30s %-30s %7s%s\n", f->name, f->unit, side[0], side[1], rs, ts);
  if (f->uerr[0])
    printf("  ustcp error: %s\n", f->uerr);
  if (f->lerr[0])
    printf("  linux error: %s\n", f->lerr);
  fflush(stdout);
}

static void header(struct bench_ctx *c, const char *what)
{
  if (c->json)
    return;
  if (!c->header_done) {
    printf("# ustcp bench: median of %d runs [min..max]; ratio oriented so > 1 favours ustcp\n",
           c->o.runs);
    printf("# ustcp: stacks in one process joined by an in-process link (no delay, no loss, "
           "MTU %d, rx checksum offload %s), real CLOCK_MONOTONIC time, one thread\n",
           c->o.mtu, c->o.csum_offload ? "ON" : "off");
    printf("# ustcp link: tx checksum offload %s, gather output %s (output_v -> ustcp_input_v)\n",
           c->o.csum_offload ? "ON (partial checksums, never completed: no receiver verifies)"
                             : "off",
           getenv("USTCP_BENCH_NO_GATHER") ? "off" : "ON");
    printf("# linux: loopback TCP 127.0.0.1 (lo MTU 65536), fresh network namespace per run, "
           "TCP_NODELAY\n");
    printf("# both: every run a forked child, both ends pinned to cpu %d%s\n", c->o.cpu,
           c->o.quick ? "; --quick sizes" : "");
    printf("%-22s %-12s %-30s %-30s %7s\n", "bench", "unit", "ustcp median [min..max]",
           "linux median [min..max]", "ratio");
    c->header_done = 1;
  }
  printf("# %s\n", what);
}

static void progress(struct bench_ctx *c, const char *what, int run)
{
  if (c->o.verbose)
    fprintf(stderr, "bench: %s run %d/%d\n", what, run + 1, c->o.runs);
}

/* A single-figure workload: Linux and ustcp runs interleaved. */
static void run_simple(struct bench_ctx *c, const char *name, const char *unit, bench_fn lfn,
                       bench_fn ufn, const char *target, double tratio)
{
  struct figure f;
  fig_init(&f, name, unit, 0, 1);
  f.target = target;
  f.target_ratio = tratio;
  for (int i = 0; i < c->o.runs; i++) {
    struct bench_res r;
    progress(c, name, i);
    if (!c->ustcp_only) {
      bench_isolated(&c->o, 1, lfn, NULL, &r);
      fig_add(&f, 1, &r, 0);
    }
    if (!c->linux_only) {
      bench_isolated(&c->o, 0, ufn, NULL, &r);
      fig_add(&f, 0, &r, 0);
    }
  }
  fig_print(c, &f);
}

static void bench_bulk(struct bench_ctx *c)
{
  char name[48];
  snprintf(name, sizeof(name), "bulk");
  header(c, "bulk: one connection, 64 KiB writes");
  run_simple(c, name, "Gbit/s", bench_linux_bulk, bench_ustcp_bulk, ">= 3x Linux", 3);
}

static void bench_crr(struct bench_ctx *c)
{
  header(c, "crr: connect, 64 B request, 64 B response, close");
  run_simple(c, "crr", "conn/s", bench_linux_crr, bench_ustcp_crr, ">= 20x Linux", 20);
}

static void bench_rr(struct bench_ctx *c)
{
  header(c, "rr: 1-byte ping-pong on one connection");
  run_simple(c, "rr", "rt/s", bench_linux_rr, bench_ustcp_rr, ">= 20x Linux", 20);
}

static const char *n_label(int n, char *buf, size_t len)
{
  if (n >= 1000000 && n % 1000000 == 0)
    snprintf(buf, len, "%dm", n / 1000000);
  else if (n >= 1000 && n % 1000 == 0)
    snprintf(buf, len, "%dk", n / 1000);
  else
    snprintf(buf, len, "%d", n);
  return buf;
}

static void bench_conns(struct bench_ctx *c)
{
  enum { NSIZES = 3 };
  struct figure mem[NSIZES], rss[NSIZES], hot[NSIZES], spread[NSIZES], setup[NSIZES];
  struct figure scale;
  double rt_by_run[2][NSIZES][MAX_RUNS];
  int rt_ok[NSIZES][MAX_RUNS];
  memset(rt_ok, 0, sizeof(rt_ok));
  header(c, "conns: N idle established connections; per socket = delta / (2N): both ends count");
  for (int k = 0; k < NSIZES; k++) {
    char nl[16], nm[48];
    int n = c->o.conns_n[k];
    int with_linux = n == c->o.conns_linux_n;
    n_label(n, nl, sizeof(nl));
    snprintf(nm, sizeof(nm), "conns-%s-mem", nl);
    fig_init(&mem[k], nm, "bytes/socket", 1, with_linux);
    snprintf(nm, sizeof(nm), "conns-%s-rss", nl);
    fig_init(&rss[k], nm, "bytes/socket", 1, 0);
    snprintf(nm, sizeof(nm), "conns-%s-rt-hot", nl);
    fig_init(&hot[k], nm, "ns/rt", 1, with_linux);
    snprintf(nm, sizeof(nm), "conns-%s-rt-spread", nl);
    fig_init(&spread[k], nm, "ns/rt", 1, with_linux);
    snprintf(nm, sizeof(nm), "conns-%s-setup", nl);
    fig_init(&setup[k], nm, "s", 1, with_linux);
    if (k == NSIZES - 1) {
      mem[k].target = "<= 512";
      mem[k].target_max = 512;
    }
  }
  int lk = -1;
  for (int k = 0; k < NSIZES; k++)
    if (c->o.conns_n[k] == c->o.conns_linux_n)
      lk = k;
  for (int i = 0; i < c->o.runs; i++) {
    struct bench_res r;
    progress(c, "conns", i);
    if (!c->ustcp_only && lk >= 0) {
      bench_isolated(&c->o, 1, bench_linux_conns, &c->o.conns_linux_n, &r);
      fig_add(&mem[lk], 1, &r, BENCH_CONNS_MEM);
      fig_add(&hot[lk], 1, &r, BENCH_CONNS_HOT);
      fig_add(&spread[lk], 1, &r, BENCH_CONNS_SPREAD);
      fig_add(&setup[lk], 1, &r, BENCH_CONNS_SETUP);
    }
    if (c->linux_only)
      continue;
    for (int k = 0; k < NSIZES; k++) {
      bench_isolated(&c->o, 0, bench_ustcp_conns, &c->o.conns_n[k], &r);
      fig_add(&mem[k], 0, &r, BENCH_CONNS_MEM);
      fig_add(&rss[k], 0, &r, BENCH_CONNS_RSS);
      fig_add(&hot[k], 0, &r, BENCH_CONNS_HOT);
      fig_add(&spread[k], 0, &r, BENCH_CONNS_SPREAD);
      fig_add(&setup[k], 0, &r, BENCH_CONNS_SETUP);
      if (!r.err && r.nv > BENCH_CONNS_SPREAD) {
        rt_by_run[0][k][i] = r.v[BENCH_CONNS_HOT];
        rt_by_run[1][k][i] = r.v[BENCH_CONNS_SPREAD];
        rt_ok[k][i] = 1;
      }
    }
  }
  for (int k = 0; k < NSIZES; k++) {
    fig_print(c, &mem[k]);
    if (!c->linux_only)
      fig_print(c, &rss[k]);
    fig_print(c, &hot[k]);
    fig_print(c, &spread[k]);
    fig_print(c, &setup[k]);
  }
  /* Round-trip cost at the largest N over that at the smallest, per run
   * (same invocation), for both kinds of round trip. */
  for (int kind = 0; kind < 2; kind++) {
    char a[16], b[16], nm[48];
    snprintf(nm, sizeof(nm), "conns-rt-%s-%s/%s", kind ? "spread" : "hot",
             n_label(c->o.conns_n[NSIZES - 1], a, sizeof(a)),
             n_label(c->o.conns_n[0], b, sizeof(b)));
    fig_init(&scale, nm, "x", 1, 0);
    scale.target = "<= 1.2";
    scale.target_max = 1.2;
    for (int i = 0; i < c->o.runs; i++)
      if (rt_ok[0][i] && rt_ok[NSIZES - 1][i] && rt_by_run[kind][0][i] > 0)
        scale.u[scale.nu++] = rt_by_run[kind][NSIZES - 1][i] / rt_by_run[kind][0][i];
    if (!c->linux_only) {
      if (!scale.nu)
        snprintf(scale.uerr, sizeof(scale.uerr), "no complete run pair");
      fig_print(c, &scale);
    }
  }
}

static void bench_instr(struct bench_ctx *c)
{
  struct figure ir, al;
  header(c, "instr: user-space cost of one crr connection (valgrind; ustcp only)");
  fig_init(&ir, "crr-instr", "instr/conn", 1, 0);
  fig_init(&al, "crr-allocs", "malloc/conn", 1, 0);
  if (c->linux_only)
    return;
  int runs = c->o.runs;
  for (int i = 0; i < runs; i++) {
    struct bench_res r;
    progress(c, "instr", i);
    bench_isolated(&c->o, 0, bench_ustcp_instr, NULL, &r);
    fig_add(&ir, 0, &r, 0);
    fig_add(&al, 0, &r, 1);
  }
  fig_print(c, &ir);
  fig_print(c, &al);
}

/* `ustcp bench tun` (bench_tun.c) as part of `all`: it enters a network
 * namespace of its own, so it runs in a child. */
static void bench_tun_all(struct bench_ctx *c)
{
  char *args[6];
  int n = 0;
  args[n++] = "tun";
  if (c->json)
    args[n++] = "--json";
  if (c->o.quick) {
    args[n++] = "--bytes";
    args[n++] = "64000000";
  }
  args[n] = NULL;
  if (c->ustcp_only || c->linux_only)
    return;
  if (!c->json)
    printf("# tun: kernel client -> ustcp on a TUN device beside kernel -> kernel over veth "
           "(bench_tun.c)\n");
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0)
    _exit(bench_tun(n, args));
  int st = 0;
  if (pid < 0 || waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
    fprintf(stderr, "ustcp bench: tun failed\n");
    c->failures++;
  }
}

static const struct {
  const char *name;
  void (*fn)(struct bench_ctx *c);
  const char *help;
} benches[] = {
    {"bulk", bench_bulk, "one connection, 2 GB in 64 KiB writes (Gbit/s)"},
    {"crr", bench_crr, "connect, 64 B request/response, close (connections/s)"},
    {"rr", bench_rr, "1-byte ping-pong on one connection (round trips/s)"},
    {"conns", bench_conns, "N idle connections: bytes/socket, round-trip cost"},
    {"instr", bench_instr, "instructions and mallocs per crr connection (callgrind)"},
    {"tun", bench_tun_all, "ustcp on a TUN device vs the kernel on veth (own options: tun -h)"},
};

static void usage(FILE *f)
{
  fprintf(f, "usage: ustcp bench NAME|all|list [--json] [--quick] [--runs N] [--cpu N]\n"
             "                  [--mtu N] [--no-offload] [--ustcp-only|--linux-only] [-v]\n"
             "                  [--conns N1,N2,N3]  (conns sizes; Linux runs at N1)\n"
             "benchmarks:\n");
  for (size_t i = 0; i < sizeof(benches) / sizeof(benches[0]); i++)
    fprintf(f, "  %-6s %s\n", benches[i].name, benches[i].help);
}

static int default_cpu(void)
{
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set))
    return 0;
  int last = 0;
  for (int i = 0; i < CPU_SETSIZE; i++)
    if (CPU_ISSET(i, &set))
      last = i;
  return last;
}

static void opts_defaults(struct bench_opts *o, int quick)
{
  memset(o, 0, sizeof(*o));
  o->quick = quick;
  o->runs = 5;
  o->cpu = default_cpu();
  o->mtu = 65535; /* Linux lo has 65536; an IPv4 datagram holds at most 65535 */
  o->csum_offload = 1;
  o->bulk_bytes = quick ? 64ull << 20 : 2000000000ull;
  o->crr_conns = quick ? 300 : 20000;
  o->rr_secs = quick ? 0.05 : 1.0;
  o->conns_n[0] = quick ? 1000 : 10000;
  o->conns_n[1] = quick ? 2000 : 100000;
  o->conns_n[2] = quick ? 4000 : 1000000;
  o->conns_linux_n = o->conns_n[0];
  o->conns_rr_secs = quick ? 0.03 : 0.3;
}

int cmd_bench(int argc, char **argv)
{
  struct bench_ctx c;
  const char *name = NULL;
  int quick = 0;
  memset(&c, 0, sizeof(c));
  if (argc > 1 && !strcmp(argv[1], "_ustcp")) /* internal: one in-process run (valgrind) */
    return bench_ustcp_raw(argc - 1, argv + 1);
  if (argc > 1 && !strcmp(argv[1], "tun")) /* the TUN engineer's: bench_tun.c */
    return bench_tun(argc - 1, argv + 1);
  for (int i = 1; i < argc; i++)
    if (!strcmp(argv[i], "--quick"))
      quick = 1;
  opts_defaults(&c.o, quick);
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--json")) {
      c.json = 1;
    } else if (!strcmp(a, "--quick")) {
    } else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
      c.o.verbose = 1;
    } else if (!strcmp(a, "--no-offload")) {
      c.o.csum_offload = 0;
    } else if (!strcmp(a, "--ustcp-only")) {
      c.ustcp_only = 1;
    } else if (!strcmp(a, "--linux-only")) {
      c.linux_only = 1;
    } else if (!strcmp(a, "--conns") && i + 1 < argc) {
      /* N1,N2,N3: the three ustcp sizes; Linux runs at N1 */
      if (sscanf(argv[++i], "%d,%d,%d", &c.o.conns_n[0], &c.o.conns_n[1], &c.o.conns_n[2]) != 3 ||
          c.o.conns_n[0] < 1 || c.o.conns_n[1] < 1 || c.o.conns_n[2] < 1 ||
          c.o.conns_n[0] > 9000 * 1000 || c.o.conns_n[1] > 9000 * 1000 ||
          c.o.conns_n[2] > 9000 * 1000) {
        fprintf(stderr, "ustcp bench: --conns wants N1,N2,N3 (each 1..9000000)\n");
        return 2;
      }
      c.o.conns_linux_n = c.o.conns_n[0];
    } else if ((!strcmp(a, "--runs") || !strcmp(a, "--cpu") || !strcmp(a, "--mtu")) &&
               i + 1 < argc) {
      int v = atoi(argv[++i]);
      if (!strcmp(a, "--runs"))
        c.o.runs = v;
      else if (!strcmp(a, "--cpu"))
        c.o.cpu = v;
      else
        c.o.mtu = v;
    } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      usage(stdout);
      return 0;
    } else if (a[0] != '-' && !name) {
      name = a;
    } else {
      fprintf(stderr, "ustcp bench: unexpected argument '%s'\n", a);
      usage(stderr);
      return 2;
    }
  }
  if (!name) {
    usage(stderr);
    return 2;
  }
  if (c.o.runs < 1 || c.o.runs > MAX_RUNS || c.o.mtu < 576 || c.o.mtu > 65535 ||
      (c.ustcp_only && c.linux_only)) {
    fprintf(stderr, "ustcp bench: bad --runs (1..%d), --mtu (576..65535) or side flags\n",
            MAX_RUNS);
    return 2;
  }
  if (!strcmp(name, "list")) {
    usage(stdout);
    return 0;
  }
  int found = 0;
  for (size_t i = 0; i < sizeof(benches) / sizeof(benches[0]); i++) {
    if (!strcmp(name, "all") || !strcmp(name, benches[i].name)) {
      benches[i].fn(&c);
      found = 1;
    }
  }
  if (!found) {
    fprintf(stderr, "ustcp bench: unknown benchmark '%s'\n", name);
    usage(stderr);
    return 2;
  }
  return c.failures ? 1 : 0;
}
