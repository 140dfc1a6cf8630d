/*
 * cmd_drill.c - `ustcp drill [--target ustcp|linux] [--tolerance_usecs N]
 * [-v] FILE.pkt...`: run packetdrill-syntax scripts (tools/drill) against
 * an in-process ustcp stack on virtual time or against the running Linux
 * kernel in a private network namespace. One line per script (PASS, FAIL
 * with the first mismatch, SKIP), then "N passed, N failed[, N skipped]";
 * exit 0 iff nothing failed. Each script runs in a child process of its own
 * (a crash or hang fails that script only; the linux target's namespace
 * dies with the child).
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../drill/drill.h"
#include "cli.h"

#define SCRIPT_TIMEOUT_LINUX_S 400
#define SCRIPT_TIMEOUT_USTCP_S 120

static void usage(FILE *f)
{
  fprintf(f,
          "usage: ustcp drill [--target ustcp|linux] [--tolerance_usecs N] [-v] FILE.pkt...\n"
          "  --target ustcp   an in-process ustcp stack on virtual time (default)\n"
          "  --target linux   the running kernel in a private network namespace with a TUN\n"
          "                   device (needs root)\n"
          "  --tolerance_usecs N  allowed timing error (default: linux %d, ustcp 0)\n"
          "  -v               print every packet and event\n",
          DR_DEFAULT_TOLERANCE_US);
}

static int64_t mono_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Run one parsed script in a child; returns 0 pass, 1 fail, msg filled. */
static int run_isolated(struct dr_script *sc, const struct dr_target_ops *ops, int64_t tol,
                        int verbose, int timeout_s, char *msg, size_t msglen)
{
  int pfd[2];
  if (pipe(pfd) != 0) {
    snprintf(msg, msglen, "pipe: %s", strerror(errno));
    return 1;
  }
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  if (pid < 0) {
    snprintf(msg, msglen, "fork: %s", strerror(errno));
    close(pfd[0]);
    close(pfd[1]);
    return 1;
  }
  if (pid == 0) {
    close(pfd[0]);
    char m[1024];
    m[0] = 0;
    int rc = dr_run_script(sc, ops, tol, verbose, m, sizeof(m));
    char out[1100];
    int n = snprintf(out, sizeof(out), "%d%s", rc, m);
    if (write(pfd[1], out, (size_t)n) < 0)
      _exit(3);
    close(pfd[1]);
    fflush(stderr);
    _exit(0);
  }
  close(pfd[1]);
  char buf[1100];
  size_t got = 0;
  int64_t end = mono_ms() + (int64_t)timeout_s * 1000;
  bool timed_out = false;
  for (;;) {
    int64_t left = end - mono_ms();
    if (left <= 0) {
      timed_out = true;
      break;
    }
    struct pollfd p = {pfd[0], POLLIN, 0};
    int pr = poll(&p, 1, (int)(left > 1000 ? 1000 : left));
    if (pr < 0 && errno != EINTR)
      break;
    if (pr <= 0)
      continue;
    ssize_t k = read(pfd[0], buf + got, sizeof(buf) - 1 - got);
    if (k <= 0)
      break;
    got += (size_t)k;
  }
  close(pfd[0]);
  if (timed_out)
    kill(pid, SIGKILL);
  int st = 0;
  waitpid(pid, &st, 0);
  buf[got] = 0;
  if (timed_out) {
    snprintf(msg, msglen, "timed out after %d s (real time)", timeout_s);
    return 1;
  }
  if (!got) {
    if (WIFSIGNALED(st))
      snprintf(msg, msglen, "runner crashed (signal %d)", WTERMSIG(st));
    else
      snprintf(msg, msglen, "runner exited with status %d without a result", WEXITSTATUS(st));
    return 1;
  }
  size_t n = strnlen(buf + 1, msglen - 1);
  memcpy(msg, buf + 1, n);
  msg[n] = 0;
  return buf[0] == '0' ? 0 : 1;
}

int cmd_drill(int argc, char **argv)
{
  const struct dr_target_ops *ops = &dr_target_ustcp;
  int64_t tol = -1;
  int verbose = 0;
  int nfiles = 0;
  char **files = calloc((size_t)argc + 1, sizeof(*files));
  if (!files)
    return 2;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      usage(stdout);
      free(files);
      return 0;
    } else if (!strcmp(a, "-v")) {
      verbose++;
    } else if (!strcmp(a, "--target") || !strncmp(a, "--target=", 9)) {
      const char *v = a[8] == '=' ? a + 9 : (i + 1 < argc ? argv[++i] : "");
      if (!strcmp(v, "ustcp"))
        ops = &dr_target_ustcp;
      else if (!strcmp(v, "linux"))
        ops = &dr_target_linux;
      else {
        fprintf(stderr, "ustcp drill: unknown target '%s' (ustcp or linux)\n", v);
        free(files);
        return 2;
      }
    } else if (!strcmp(a, "--tolerance_usecs") || !strncmp(a, "--tolerance_usecs=", 18)) {
      const char *v = a[17] == '=' ? a + 18 : (i + 1 < argc ? argv[++i] : "");
      char *e;
      long long x = strtoll(v, &e, 10);
      if (!*v || *e || x < 0) {
        fprintf(stderr, "ustcp drill: bad --tolerance_usecs '%s'\n", v);
        free(files);
        return 2;
      }
      tol = x;
    } else if (a[0] == '-' && a[1]) {
      fprintf(stderr, "ustcp drill: unknown option '%s'\n", a);
      usage(stderr);
      free(files);
      return 2;
    } else {
      files[nfiles++] = argv[i]; /* options may come after files too */
    }
  }
  if (!nfiles) {
    usage(stderr);
    free(files);
    return 2;
  }
  bool linux_target = ops == &dr_target_linux;
  if (tol < 0)
    tol = linux_target ? DR_DEFAULT_TOLERANCE_US : 0;
  if (linux_target && (geteuid() != 0 || access("/dev/net/tun", R_OK | W_OK) != 0)) {
    fprintf(stderr, "ustcp drill: --target linux needs root (to create a network namespace) and "
                    "/dev/net/tun\n");
    free(files);
    return 2;
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  int passed = 0, failed = 0, skipped = 0;
  for (int i = 0; i < nfiles; i++) {
    const char *path = files[i];
    struct dr_script sc;
    char err[512], msg[1024];
    if (dr_parse_file(path, &sc, err, sizeof(err)) != 0) {
      printf("FAIL %s: parse error: %s\n", path, err);
      failed++;
      dr_script_free(&sc);
      continue;
    }
    if (linux_target && sc.ustcp_only) {
      printf("SKIP %s (ustcp-only: %s)\n", path, sc.ustcp_only_reason);
      skipped++;
      dr_script_free(&sc);
      continue;
    }
    if (!linux_target && sc.linux_only) {
      printf("SKIP %s (linux-only: %s)\n", path, sc.linux_only_reason);
      skipped++;
      dr_script_free(&sc);
      continue;
    }
    int rc = run_isolated(&sc, ops, tol, verbose,
                          linux_target ? SCRIPT_TIMEOUT_LINUX_S : SCRIPT_TIMEOUT_USTCP_S, msg,
                          sizeof(msg));
    if (rc == 0) {
      printf("PASS %s\n", path);
      passed++;
    } else {
      printf("FAIL %s: %s\n", path, msg);
      failed++;
    }
    dr_script_free(&sc);
  }
  free(files);
  if (skipped)
    printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
  else
    printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
