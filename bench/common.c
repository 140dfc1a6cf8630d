/*
 * common.c - the isolation helper and small utilities shared by the Linux
 * baselines and the ustcp workloads: every run is a forked child pinned to
 * one core (and, for Linux, inside a fresh network namespace with lo up),
 * which reports its figures back through a pipe.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

double bench_now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int bench_pin(int cpu)
{
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return sched_setaffinity(0, sizeof(set), &set) ? -errno : 0;
}

long bench_rss_bytes(void)
{
  FILE *f = fopen("/proc/self/statm", "r");
  long size = 0, rss = 0;
  if (!f)
    return -1;
  if (fscanf(f, "%ld %ld", &size, &rss) != 2)
    rss = -1;
  fclose(f);
  return rss < 0 ? -1 : rss * sysconf(_SC_PAGESIZE);
}

long bench_slab_bytes(void)
{
  FILE *f = fopen("/proc/meminfo", "r");
  char line[256];
  long kb = -1;
  if (!f)
    return -1;
  while (fgets(line, sizeof(line), f))
    if (sscanf(line, "Slab: %ld kB", &kb) == 1)
      break;
  fclose(f);
  return kb < 0 ? -1 : kb * 1024;
}

void bench_fail(struct bench_res *r, int err, const char *fmt, ...)
{
  va_list ap;
  r->err = err ? err : -1;
  va_start(ap, fmt);
  vsnprintf(r->msg, sizeof(r->msg), fmt, ap);
  va_end(ap);
}

/* A fresh network namespace holds only a down `lo`; bring it up. */
static int netns_enter(void)
{
  if (unshare(CLONE_NEWNET))
    return -errno;
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0)
    return -errno;
  struct ifreq ifr;
  memset(&ifr, 0, sizeof(ifr));
  snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
  int rc = ioctl(fd, SIOCGIFFLAGS, &ifr);
  if (!rc) {
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    rc = ioctl(fd, SIOCSIFFLAGS, &ifr);
  }
  int e = rc ? -errno : 0;
  close(fd);
  return e;
}

static int write_all(int fd, const void *buf, size_t len)
{
  const char *p = buf;
  while (len) {
    ssize_t n = write(fd, p, len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return -1;
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

int bench_isolated(const struct bench_opts *o, int netns, bench_fn fn, const void *arg,
                   struct bench_res *r)
{
  int p[2];
  memset(r, 0, sizeof(*r));
  if (pipe(p))
    return -errno;
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  if (pid < 0) {
    int e = -errno;
    close(p[0]);
    close(p[1]);
    return e;
  }
  if (pid == 0) {
    struct bench_res cr;
    memset(&cr, 0, sizeof(cr));
    close(p[0]);
    int e = bench_pin(o->cpu);
    if (e)
      bench_fail(&cr, e, "sched_setaffinity(cpu %d): %s", o->cpu, strerror(-e));
    else if (netns && (e = netns_enter()) != 0)
      bench_fail(&cr, e, "network namespace: %s", strerror(-e));
    else
      fn(o, arg, &cr);
    write_all(p[1], &cr, sizeof(cr));
    _exit(0);
  }
  close(p[1]);
  size_t got = 0;
  while (got < sizeof(*r)) {
    ssize_t n = read(p[0], (char *)r + got, sizeof(*r) - got);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    got += (size_t)n;
  }
  close(p[0]);
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
    ;
  if (got != sizeof(*r)) {
    memset(r, 0, sizeof(*r));
    if (WIFSIGNALED(st))
      bench_fail(r, -EPIPE, "measuring child killed by signal %d (%s)", WTERMSIG(st),
                 strsignal(WTERMSIG(st)));
    else
      bench_fail(r, -EPIPE, "measuring child exited with status %d, no result",
                 WIFEXITED(st) ? WEXITSTATUS(st) : -1);
  }
  return 0;
}
