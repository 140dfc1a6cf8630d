/*
 * target_ustcp.c - the drill's `ustcp` target: an in-process ustcp stack on
 * virtual time (vhost.c), packets exchanged directly, timing exact.
 *
 * System calls run on a worker thread that holds the stack lock while in the
 * stack; a blocking call releases it in ustcp_link_ops.wait, and the script
 * goes on (packets injected, timers run at their exact virtual times) until
 * the call returns. The stack is created lazily at the first event that
 * needs it, so that backtick commands at the top of a script can set
 * sysctls first: they run with a `sysctl` shim first on PATH that records
 * net.ipv4.* / net.core.* settings, and the ones struct ustcp_config knows
 * are applied; the others are named once on stderr and ignored.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "drill.h"
#include "ustcp/socket.h"
#include "vhost.h"

struct ut {
  struct dr_vhost h;
  bool have_stack;
  int64_t t_pre; /* script time reached before the stack existed */
  struct ustcp_config cfg;
  pthread_t worker;
  bool worker_started;
  struct dr_event *job;
  bool done;
  struct dr_callres res;
  ustcp_time_t t_done;
  char shimdir[64];
  char scriptdir[512];
};

static int64_t to_us(struct ut *u, ustcp_time_t t) { return (int64_t)((t - u->h.base) / 1000); }
static ustcp_time_t to_ns(struct ut *u, int64_t us)
{
  return u->h.base + (ustcp_time_t)(us < 0 ? 0 : us) * 1000;
}

/* --------------------------------------------------------------- sysctl */

struct knob {
  const char *name;
  size_t off;
  int n; /* ints */
};
#define K(name, field, n)                                                                          \
  {                                                                                                \
    name, offsetof(struct ustcp_config, field), n                                                  \
  }
static const struct knob knobs[] = {
    K("net.core.somaxconn", somaxconn, 1),
    K("net.ipv4.tcp_max_syn_backlog", max_syn_backlog, 1),
    K("net.ipv4.tcp_syncookies", syncookies, 1),
    K("net.ipv4.tcp_abort_on_overflow", abort_on_overflow, 1),
    K("net.ipv4.tcp_synack_retries", synack_retries, 1),
    K("net.ipv4.tcp_syn_retries", syn_retries, 1),
    K("net.ipv4.tcp_syn_linear_timeouts", syn_linear_timeouts, 1),
    K("net.ipv4.tcp_retries1", retries1, 1),
    K("net.ipv4.tcp_retries2", retries2, 1),
    K("net.ipv4.tcp_orphan_retries", orphan_retries, 1),
    K("net.ipv4.tcp_fin_timeout", fin_timeout, 1),
    K("net.ipv4.tcp_keepalive_time", keepalive_time, 1),
    K("net.ipv4.tcp_keepalive_intvl", keepalive_intvl, 1),
    K("net.ipv4.tcp_keepalive_probes", keepalive_probes, 1),
    K("net.ipv4.tcp_timestamps", timestamps, 1),
    K("net.ipv4.tcp_sack", sack, 1),
    K("net.ipv4.tcp_window_scaling", window_scaling, 1),
    K("net.ipv4.tcp_tw_reuse", tw_reuse, 1),
    K("net.ipv4.tcp_max_tw_buckets", max_tw_buckets, 1),
    K("net.ipv4.tcp_rmem", rmem, 3),
    K("net.ipv4.tcp_wmem", wmem, 3),
    K("net.core.rmem_max", rmem_max, 1),
    K("net.core.wmem_max", wmem_max, 1),
    K("net.ipv4.ip_local_port_range", ip_local_port_range, 2),
    K("net.ipv4.ip_default_ttl", ip_default_ttl, 1),
};
#undef K

static void apply_sysctl(struct dr_run *r, struct ut *u, const char *line)
{
  char name[128];
  const char *eq = strchr(line, '=');
  if (!eq || (size_t)(eq - line) >= sizeof(name))
    return;
  memcpy(name, line, (size_t)(eq - line));
  name[eq - line] = 0;
  for (char *p = name; *p; p++)
    if (*p == '/')
      *p = '.';
  const char *val = eq + 1;
  for (size_t i = 0; i < sizeof(knobs) / sizeof(knobs[0]); i++) {
    if (strcmp(knobs[i].name, name) != 0)
      continue;
    if (u->have_stack) {
      fprintf(stderr, "drill: ustcp target: sysctl %s after the stack was created: ignored\n",
              name);
      return;
    }
    int *f = (int *)(void *)((char *)&u->cfg + knobs[i].off);
    const char *p = val;
    for (int k = 0; k < knobs[i].n; k++) {
      char *e;
      long v = strtol(p, &e, 10);
      if (e == p)
        break;
      f[k] = (int)v;
      p = e;
    }
    return;
  }
  /* named once per script */
  if (!strstr(r->sysctls, name) && strlen(r->sysctls) + strlen(name) + 2 < sizeof(r->sysctls)) {
    strcat(r->sysctls, name);
    strcat(r->sysctls, " ");
    fprintf(stderr, "drill: ustcp target ignores sysctl %s\n", name);
  }
}

static int u_shell(struct dr_run *r, const char *cmd)
{
  struct ut *u = r->tgt;
  char log[96];
  snprintf(log, sizeof(log), "%s/log", u->shimdir);
  unlink(log);
  size_t n = strlen(cmd) + strlen(u->scriptdir) + 2 * strlen(u->shimdir) + 128;
  char *full = malloc(n);
  if (!full)
    return -1;
  /* the command goes through a file so that any quoting in it survives */
  char cpath[96];
  snprintf(cpath, sizeof(cpath), "%s/cmd.sh", u->shimdir);
  FILE *f = fopen(cpath, "w");
  if (!f) {
    free(full);
    return -1;
  }
  fprintf(f, "%s\n", cmd);
  fclose(f);
  snprintf(full, n, "cd '%s' && PATH='%s':\"$PATH\" USTCP_DRILL_SYSCTL_LOG='%s' sh '%s'",
           u->scriptdir, u->shimdir, log, cpath);
  int st = system(full);
  free(full);
  f = fopen(log, "r");
  if (f) {
    char line[512];
    while (fgets(line, sizeof(line), f)) {
      line[strcspn(line, "\n")] = 0;
      apply_sysctl(r, u, line);
    }
    fclose(f);
  }
  return st;
}

static int make_shim(struct ut *u)
{
  snprintf(u->shimdir, sizeof(u->shimdir), "/tmp/ustcp-drill-XXXXXX");
  if (!mkdtemp(u->shimdir))
    return -1;
  char p[128];
  snprintf(p, sizeof(p), "%s/sysctl", u->shimdir);
  FILE *f = fopen(p, "w");
  if (!f)
    return -1;
  /* records "name=value" settings; reads print nothing */
  fprintf(f, "#!/bin/sh\n"
             "# sysctl shim of the drill's ustcp target: records settings\n"
             "for a in \"$@\"; do\n"
             "  case \"$a\" in\n"
             "    -*) ;;\n"
             "    *=*) printf '%%s\\n' \"$a\" >> \"$USTCP_DRILL_SYSCTL_LOG\" ;;\n"
             "  esac\n"
             "done\n"
             "exit 0\n");
  fclose(f);
  chmod(p, 0755);
  return 0;
}

static void rm_shim(struct ut *u)
{
  if (!u->shimdir[0])
    return;
  char p[128];
  static const char *const files[] = {"sysctl", "log", "cmd.sh"};
  for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
    snprintf(p, sizeof(p), "%s/%s", u->shimdir, files[i]);
    unlink(p);
  }
  rmdir(u->shimdir);
}

/* --------------------------------------------------------- system calls */

#define U(x) ((struct ut *)(x))
static long long s_socket(void *u, int d, int t, int p) { return ustcp_socket(U(u)->h.s, d, t, p); }
static long long s_bind(void *u, int fd, const void *a, unsigned l)
{
  return ustcp_bind(U(u)->h.s, fd, a, l);
}
static long long s_listen(void *u, int fd, int b) { return ustcp_listen(U(u)->h.s, fd, b); }
static long long s_accept(void *u, int fd, void *a, unsigned *l)
{
  socklen_t sl = *l;
  int r = ustcp_accept(U(u)->h.s, fd, a, &sl);
  *l = sl;
  return r;
}
static long long s_connect(void *u, int fd, const void *a, unsigned l)
{
  return ustcp_connect(U(u)->h.s, fd, a, l);
}
static long long s_read(void *u, int fd, void *b, size_t n)
{
  return ustcp_read(U(u)->h.s, fd, b, n);
}
static long long s_write(void *u, int fd, const void *b, size_t n)
{
  return ustcp_write(U(u)->h.s, fd, b, n);
}
static long long s_send(void *u, int fd, const void *b, size_t n, int f)
{
  return ustcp_send(U(u)->h.s, fd, b, n, f);
}
static long long s_recv(void *u, int fd, void *b, size_t n, int f)
{
  return ustcp_recv(U(u)->h.s, fd, b, n, f);
}
static long long s_readv(void *u, int fd, const void *iov, int c)
{
  return ustcp_readv(U(u)->h.s, fd, iov, c);
}
static long long s_writev(void *u, int fd, const void *iov, int c)
{
  return ustcp_writev(U(u)->h.s, fd, iov, c);
}
static long long s_sendmsg(void *u, int fd, const void *m, int f)
{
  return ustcp_sendmsg(U(u)->h.s, fd, m, f);
}
static long long s_recvmsg(void *u, int fd, void *m, int f)
{
  return ustcp_recvmsg(U(u)->h.s, fd, m, f);
}
static long long s_close(void *u, int fd) { return ustcp_close(U(u)->h.s, fd); }
static long long s_shutdown(void *u, int fd, int h) { return ustcp_shutdown(U(u)->h.s, fd, h); }
static long long s_dup(void *u, int fd) { return ustcp_dup(U(u)->h.s, fd); }
static long long s_setsockopt(void *u, int fd, int lv, int nm, const void *v, unsigned l)
{
  return ustcp_setsockopt(U(u)->h.s, fd, lv, nm, v, l);
}
static long long s_getsockopt(void *u, int fd, int lv, int nm, void *v, unsigned *l)
{
  socklen_t sl = *l;
  int r = ustcp_getsockopt(U(u)->h.s, fd, lv, nm, v, &sl);
  *l = sl;
  return r;
}
static long long s_fcntl(void *u, int fd, int cmd, long arg)
{
  return ustcp_fcntl(U(u)->h.s, fd, cmd, (int)arg);
}
static long long s_ioctl(void *u, int fd, unsigned long req, int *arg)
{
  return ustcp_ioctl(U(u)->h.s, fd, req, arg);
}
static long long s_poll(void *u, void *fds, unsigned n, int t)
{
  return ustcp_poll(U(u)->h.s, fds, n, t);
}
static int s_errno(void *u)
{
  (void)u;
  return errno;
}
#undef U

static void *worker_main(void *arg)
{
  struct dr_run *r = arg;
  struct ut *u = r->tgt;
  const struct dr_sysops so = {
      u,      s_socket,     s_bind,       s_listen, s_accept,  s_connect, s_read,  s_write,
      s_send, s_recv,       s_readv,      s_writev, s_sendmsg, s_recvmsg, s_close, s_shutdown,
      s_dup,  s_setsockopt, s_getsockopt, s_fcntl,  s_ioctl,   s_poll,    s_errno,
  };
  pthread_mutex_lock(&u->h.mu);
  for (;;) {
    while (!u->job && !u->h.stop)
      pthread_cond_wait(&u->h.cv, &u->h.mu);
    if (!u->job)
      break;
    struct dr_event *ev = u->job;
    u->job = NULL;
    /* `active` was counted for us by call_start; the stack lock is held */
    struct dr_callres res;
    dr_exec_call(&so, &r->fds, &ev->call, &res);
    u->res = res;
    u->t_done = u->h.vnow;
    u->done = true;
    u->h.active--;
    pthread_cond_broadcast(&u->h.cv);
  }
  pthread_mutex_unlock(&u->h.mu);
  return NULL;
}

/* ---------------------------------------------------------------- setup */

static int ensure_stack(struct dr_run *r)
{
  struct ut *u = r->tgt;
  if (u->have_stack)
    return 0;
  char err[200];
  if (dr_vhost_init(&u->h, &u->cfg, err, sizeof(err)) != 0) {
    snprintf(r->msg, sizeof(r->msg), "ustcp_stack_create: %s", err);
    r->failed = true;
    return -1;
  }
  u->have_stack = true;
  u->h.vnow = to_ns(u, u->t_pre);
  if (pthread_create(&u->worker, NULL, worker_main, r) == 0)
    u->worker_started = true;
  return 0;
}

static int u_start(struct dr_run *r)
{
  struct ut *u = calloc(1, sizeof(*u));
  if (!u)
    return -1;
  r->tgt = u;
  ustcp_config_init(&u->cfg);
  u->cfg.addr = htonl(DR_LOCAL_IP);
  u->cfg.prefix_len = 16;
  u->cfg.seed = 1;
  snprintf(u->scriptdir, sizeof(u->scriptdir), "%s", r->sc->path);
  char *sl = strrchr(u->scriptdir, '/');
  if (sl)
    *sl = 0;
  else
    snprintf(u->scriptdir, sizeof(u->scriptdir), ".");
  if (make_shim(u) != 0) {
    snprintf(r->msg, sizeof(r->msg), "cannot create the sysctl shim");
    r->failed = true;
    return -1;
  }
  return 0;
}

static void u_stop(struct dr_run *r)
{
  struct ut *u = r->tgt;
  if (!u)
    return;
  if (u->have_stack) {
    pthread_mutex_lock(&u->h.mu);
    u->h.stop = true;
    u->h.gen++;
    pthread_cond_broadcast(&u->h.cv);
    pthread_mutex_unlock(&u->h.mu);
    if (u->worker_started)
      pthread_join(u->worker, NULL);
    dr_vhost_fini(&u->h);
  }
  rm_shim(u);
  free(u);
  r->tgt = NULL;
}

static int64_t u_now(struct dr_run *r)
{
  struct ut *u = r->tgt;
  if (!u->have_stack)
    return u->t_pre;
  pthread_mutex_lock(&u->h.mu);
  int64_t t = to_us(u, u->h.vnow);
  pthread_mutex_unlock(&u->h.mu);
  return t;
}

static void u_wait_until(struct dr_run *r, int64_t t)
{
  struct ut *u = r->tgt;
  if (!u->have_stack) {
    /* nothing to run yet: leading shell commands may still set sysctls */
    if (t > u->t_pre)
      u->t_pre = t;
    return;
  }
  pthread_mutex_lock(&u->h.mu);
  if (to_ns(u, t) > u->h.vnow)
    dr_vhost_advance_to(&u->h, to_ns(u, t));
  pthread_mutex_unlock(&u->h.mu);
}

static void log_pkt(struct dr_run *r, char dir, int64_t t, const uint8_t *pkt, size_t len)
{
  if (!r->verbose)
    return;
  struct dr_seg sg;
  char e[64], s[400];
  if (!dr_seg_parse(pkt, len, &sg, e, sizeof(e))) {
    dr_seg_format(&sg, s, sizeof(s));
    fprintf(stderr, "  %lld.%06lld %c %s\n", (long long)(t / 1000000), (long long)(t % 1000000),
            dir, s);
  }
}

static int u_inject(struct dr_run *r, const uint8_t *pkt, size_t len)
{
  struct ut *u = r->tgt;
  if (ensure_stack(r))
    return -1;
  pthread_mutex_lock(&u->h.mu);
  log_pkt(r, '<', to_us(u, u->h.vnow), pkt, len);
  dr_vhost_input(&u->h, pkt, len);
  pthread_mutex_unlock(&u->h.mu);
  return 0;
}

static int u_next_pkt(struct dr_run *r, int64_t deadline, uint8_t *buf, size_t *len, int64_t *t)
{
  struct ut *u = r->tgt;
  if (ensure_stack(r))
    return 0;
  ustcp_time_t dl = to_ns(u, deadline);
  struct dr_vpkt p;
  bool got = false;
  pthread_mutex_lock(&u->h.mu);
  for (int guard = 0; guard < 1000000; guard++) {
    if ((got = dr_vhost_pop(&u->h, &p)))
      break;
    if (u->h.vnow >= dl)
      break;
    dr_vhost_step(&u->h, dl);
  }
  pthread_mutex_unlock(&u->h.mu);
  if (!got)
    return 0;
  size_t n = p.len < *len ? p.len : *len;
  memcpy(buf, p.buf, n);
  free(p.buf);
  *len = n;
  *t = to_us(u, p.t);
  log_pkt(r, '>', *t, buf, n);
  return 1;
}

static void u_call_start(struct dr_run *r, struct dr_event *ev)
{
  struct ut *u = r->tgt;
  if (ensure_stack(r))
    return;
  pthread_mutex_lock(&u->h.mu);
  u->job = ev;
  u->done = false;
  u->h.active++; /* on the worker's behalf, until it waits or returns */
  pthread_cond_broadcast(&u->h.cv);
  dr_vhost_quiesce(&u->h);
  pthread_mutex_unlock(&u->h.mu);
}

static int u_call_wait(struct dr_run *r, int64_t deadline, struct dr_callres *res, int64_t *t)
{
  struct ut *u = r->tgt;
  if (!u->have_stack)
    return 0;
  ustcp_time_t dl = to_ns(u, deadline);
  pthread_mutex_lock(&u->h.mu);
  for (int guard = 0; guard < 1000000 && !u->done; guard++) {
    if (u->h.vnow >= dl)
      break;
    dr_vhost_step(&u->h, dl);
  }
  int ok = u->done;
  if (ok) {
    *res = u->res;
    *t = to_us(u, u->t_done);
    u->done = false;
  }
  pthread_mutex_unlock(&u->h.mu);
  return ok;
}

static int u_tcp_info(struct dr_run *r, int fd, char *out, size_t cap)
{
  struct ut *u = r->tgt;
  if (ensure_stack(r))
    return -EIO;
  struct tcp_info ti;
  memset(&ti, 0, sizeof(ti));
  socklen_t l = sizeof(ti);
  pthread_mutex_lock(&u->h.mu);
  int rc = ustcp_getsockopt(u->h.s, dr_fd_live(&r->fds, fd), IPPROTO_TCP, TCP_INFO, &ti, &l);
  int e = errno;
  pthread_mutex_unlock(&u->h.mu);
  if (rc < 0)
    return -e;
  return dr_tcp_info_format(&ti, out, cap);
}

const struct dr_target_ops dr_target_ustcp = {
    .name = "ustcp",
    .virtual_time = true,
    .start = u_start,
    .stop = u_stop,
    .now = u_now,
    .wait_until = u_wait_until,
    .inject = u_inject,
    .next_pkt = u_next_pkt,
    .call_start = u_call_start,
    .call_wait = u_call_wait,
    .shell = u_shell,
    .tcp_info = u_tcp_info,
};
