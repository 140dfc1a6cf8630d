/*
 * bench_instr.c - `ustcp bench instr`: the user-space cost of one crr
 * connection on the ustcp side, counted rather than timed. Hardware counters
 * are not available here, so valgrind does the counting: callgrind for
 * instructions, memcheck for heap allocations. Each tool runs
 * `ustcp bench _ustcp crr N` for two values of N; the difference divided by
 * the difference in N is the cost per connection, free of the fixed costs
 * (process start, stack creation and teardown).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

#if !defined(__SANITIZE_ADDRESS__)
/* Run argv with stdout/stderr to /dev/null; returns the exit status or -1. */
static int run(char *const argv[])
{
  pid_t pid = fork();
  if (pid < 0)
    return -1;
  if (pid == 0) {
    int fd = open("/dev/null", O_WRONLY);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    execvp(argv[0], argv);
    _exit(127);
  }
  int st;
  while (waitpid(pid, &st, 0) < 0)
    if (errno != EINTR)
      return -1;
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The first number after `key` in file `path`, or -1. */
static double scan_file(const char *path, const char *key)
{
  FILE *f = fopen(path, "r");
  char line[512];
  double v = -1;
  if (!f)
    return -1;
  while (fgets(line, sizeof(line), f)) {
    char *p = strstr(line, key);
    if (!p)
      continue;
    p += strlen(key);
    char num[64];
    size_t k = 0;
    for (; *p && k + 1 < sizeof(num); p++) {
      if (*p >= '0' && *p <= '9')
        num[k++] = *p;
      else if (*p == ',' && k) /* memcheck groups digits */
        continue;
      else if (k)
        break;
    }
    num[k] = 0;
    if (k) {
      v = strtod(num, NULL);
      break;
    }
  }
  fclose(f);
  return v;
}

static double measure(const char *dir, const char *self, int memcheck, int n)
{
  char out[PATH_MAX], log[PATH_MAX + 8], outopt[PATH_MAX + 32], logopt[PATH_MAX + 48], ns[16];
  snprintf(out, sizeof(out), "%s/%s.%d", dir, memcheck ? "mc" : "cg", n);
  snprintf(log, sizeof(log), "%s.log", out);
  snprintf(outopt, sizeof(outopt), "--callgrind-out-file=%s", out);
  snprintf(logopt, sizeof(logopt), "--log-file=%s", log);
  snprintf(ns, sizeof(ns), "%d", n);
  char *cg[] = {"valgrind", "--tool=callgrind", outopt, logopt, (char *)self,
                "bench",    "_ustcp",           "crr",  ns,     NULL};
  char *mc[] = {"valgrind",
                "--tool=memcheck",
                "--leak-check=no",
                logopt,
                (char *)self,
                "bench",
                "_ustcp",
                "crr",
                ns,
                NULL};
  int st = run(memcheck ? mc : cg);
  double v = -1;
  if (st == 0)
    v = memcheck ? scan_file(log, "total heap usage:") : scan_file(out, "summary:");
  unlink(out);
  unlink(log);
  return st == 127 ? -2 : v;
}

#endif

void bench_ustcp_instr(const struct bench_opts *o, const void *arg, struct bench_res *r)
{
  (void)arg;
#if defined(__SANITIZE_ADDRESS__)
  (void)o;
  bench_fail(r, -ENOTSUP, "valgrind cannot run an ASan build; use a plain build (make)");
#else
  char self[PATH_MAX], dir[] = "/tmp/ustcp-bench-XXXXXX";
  ssize_t k = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (k <= 0)
    return bench_fail(r, -errno, "readlink /proc/self/exe: %s", strerror(errno));
  self[k] = 0;
  if (!mkdtemp(dir))
    return bench_fail(r, -errno, "mkdtemp: %s", strerror(errno));
  int n1 = o->quick ? 50 : 200, n2 = o->quick ? 150 : 1200;
  double v[2][2];
  for (int tool = 0; tool < 2; tool++) {
    v[tool][0] = measure(dir, self, tool, n1);
    v[tool][1] = measure(dir, self, tool, n2);
  }
  rmdir(dir);
  for (int tool = 0; tool < 2; tool++) {
    if (v[tool][0] == -2 || v[tool][1] == -2)
      return bench_fail(r, -ENOENT, "valgrind not found (apt-get install valgrind)");
    if (v[tool][0] < 0 || v[tool][1] < 0)
      return bench_fail(r, -EIO, "valgrind %s run of `ustcp bench _ustcp crr` failed",
                        tool ? "memcheck" : "callgrind");
  }
  r->nv = 2;
  r->v[0] = (v[0][1] - v[0][0]) / (n2 - n1);
  r->v[1] = (v[1][1] - v[1][0]) / (n2 - n1);
  if (r->v[0] <= 0)
    return bench_fail(r, -EIO, "instruction count did not grow with N (%.0f -> %.0f)", v[0][0],
                      v[0][1]);
  if (r->v[1] < 0)
    r->v[1] = 0;
#endif
}
