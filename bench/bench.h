/*
 * bench.h - shared pieces of `ustcp bench`: the options every workload gets,
 * the result record a measuring child sends back to the parent, the
 * isolation helper (fork, fresh network namespace, one pinned core) and the
 * workloads themselves: the Linux kernel baselines (bench/linux_tcp.c) and
 * the ustcp side (tools/ustcp/bench_ustcp.c).
 *
 * Every measurement runs in a forked child so that each run starts from a
 * fresh address space (clean RSS deltas) and, for Linux, a fresh network
 * namespace with only `lo` up. Both ends of a workload share one core.
 */
#ifndef USTCP_BENCH_H
#define USTCP_BENCH_H

#include <stddef.h>
#include <stdint.h>

/* Sizes and knobs of one `ustcp bench` invocation. */
struct bench_opts {
  int quick;            /* tiny sizes (smoke tests) */
  int runs;             /* runs per figure; the median is reported */
  int cpu;              /* the one core both ends run on */
  int mtu;              /* ustcp link MTU (Linux lo: 65536) */
  int csum_offload;     /* ustcp: rx and tx checksum offload on the bench link */
  uint64_t bulk_bytes;  /* bulk: bytes per run */
  int crr_conns;        /* crr: connections per run */
  double rr_secs;       /* rr: seconds per run */
  int conns_n[3];       /* conns: N for ustcp (10k, 100k, 1M) */
  int conns_linux_n;    /* conns: N for Linux */
  double conns_rr_secs; /* conns: seconds of round trips per mode */
  int verbose;
};

/* What a measuring child hands back. v[] are the workload's figures, in the
 * order the workload documents; err != 0 means the run failed (msg says why). */
#define BENCH_MAXV 8
struct bench_res {
  int err;
  int nv;
  double v[BENCH_MAXV];
  char msg[200];
};

typedef void (*bench_fn)(const struct bench_opts *o, const void *arg, struct bench_res *r);

/* Run fn in a forked child pinned to o->cpu; with netns, the child first
 * enters a fresh network namespace and brings lo up. Returns 0 and fills r
 * (r->err set if the child reported failure or died). */
int bench_isolated(const struct bench_opts *o, int netns, bench_fn fn, const void *arg,
                   struct bench_res *r);

/* Helpers for workloads. */
double bench_now(void); /* CLOCK_MONOTONIC seconds */
int bench_pin(int cpu);
long bench_rss_bytes(void);  /* this process's resident set */
long bench_slab_bytes(void); /* /proc/meminfo Slab, bytes */
void bench_fail(struct bench_res *r, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* conns: the figures of one run, in bench_res.v[] order. */
enum {
  BENCH_CONNS_MEM,    /* bytes per socket: ustcp_mem_info / Linux slab delta */
  BENCH_CONNS_RSS,    /* bytes per socket: RSS delta (ustcp only) */
  BENCH_CONNS_HOT,    /* ns per round trip on one connection, N held */
  BENCH_CONNS_SPREAD, /* ns per round trip, each on another of the N */
  BENCH_CONNS_SETUP,  /* seconds to set the N connections up */
  BENCH_CONNS_NV
};

/* Linux baselines (bench/linux_tcp.c); arg is unused except for conns,
 * where it points to the int N. Figures: bulk Gbit/s; crr connections/s;
 * rr round trips/s; conns as above. */
void bench_linux_bulk(const struct bench_opts *o, const void *arg, struct bench_res *r);
void bench_linux_crr(const struct bench_opts *o, const void *arg, struct bench_res *r);
void bench_linux_rr(const struct bench_opts *o, const void *arg, struct bench_res *r);
void bench_linux_conns(const struct bench_opts *o, const void *arg, struct bench_res *r);

/* The ustcp side (tools/ustcp/bench_ustcp.c), same figures. */
void bench_ustcp_bulk(const struct bench_opts *o, const void *arg, struct bench_res *r);
void bench_ustcp_crr(const struct bench_opts *o, const void *arg, struct bench_res *r);
void bench_ustcp_rr(const struct bench_opts *o, const void *arg, struct bench_res *r);
void bench_ustcp_conns(const struct bench_opts *o, const void *arg, struct bench_res *r);

/* instr: v[0] instructions and v[1] mallocs per crr connection, from two
 * valgrind runs of `ustcp bench _ustcp crr N` (tools/ustcp/bench_instr.c). */
void bench_ustcp_instr(const struct bench_opts *o, const void *arg, struct bench_res *r);
/* `ustcp bench _ustcp crr N`: one in-process crr run of N connections, no
 * fork (what valgrind measures). Exit 0 on success. */
int bench_ustcp_raw(int argc, char **argv);

#endif
