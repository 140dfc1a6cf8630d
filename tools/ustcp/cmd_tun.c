/*
 * cmd_tun.c - ustcp on a real TUN device, talking to the Linux kernel:
 *   ustcp serve --tun NAME --addr A [--peer-addr K/NN] [--port P]
 *               (--echo | --discard | --chargen | --http DIR) [--pcap F]
 *               [--never-accept] [--close-unread] [--linger-zero] ...
 *   ustcp get URL --tun NAME --addr A [--peer-addr K/NN] [-o FILE]
 *   ustcp send --to K:P (--bytes N | --file F | stdin) --tun ... --addr ...
 *   ustcp recv [--port P] [-o FILE] --tun ... --addr ...
 * Each command opens (or attaches to) the device, brings it up, creates one
 * stack driven by the TUN driver (include/ustcp/tun.h) and uses only the
 * public socket API. Blocking waits go through ustcp_poll(), whose waits run
 * the driver loop. SIGINT/SIGTERM stop a command cleanly.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "http.h"
#include "sha256.h"
#include "ustcp/socket.h"
#include "ustcp/tun.h"

/* Set by SIGINT/SIGTERM; the CLI (not the library) may keep this one flag. */
static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
  (void)sig;
  stop_flag = 1;
}

static void install_signals(void)
{
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_signal; /* no SA_RESTART: waits return EINTR */
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);
}

/* ------------------------------------------------------- common options */

struct common {
  const char *cmd;
  const char *tun;
  const char *addr;
  const char *peer;
  const char *pcap;
  uint64_t pcap_limit;
  int mtu;
  uint64_t seed;
  bool seed_set;
  int keepalive[3]; /* idle, intvl, cnt; idle 0 = off */
  int verbose;
  int offload;    /* IFF_VNET_HDR receive offloads */
  double timeout; /* seconds, for get/send/recv; 0 = none */
};

struct env {
  struct ustcp_tun *tun;
  struct ustcp_stack *s;
  uint32_t addr; /* network byte order */
};

static double now_s(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Take a common option at argv[*i]; 1 if taken, 0 if not ours, -1 error. */
static int common_opt(struct common *c, int argc, char **argv, int *i)
{
  const char *a = argv[*i];
  const char *v = *i + 1 < argc ? argv[*i + 1] : NULL;
#define TAKE(name)                                                                                 \
  (!strcmp(a, name) &&                                                                             \
   (v ? (++*i, 1) : (fprintf(stderr, "ustcp %s: %s needs a value\n", c->cmd, name), 0)))
  if (!strcmp(a, "--tun") || !strcmp(a, "--addr") || !strcmp(a, "--peer-addr") ||
      !strcmp(a, "--pcap") || !strcmp(a, "--mtu") || !strcmp(a, "--seed") ||
      !strcmp(a, "--keepalive") || !strcmp(a, "--timeout") || !strcmp(a, "--pcap-limit")) {
    if (!v) {
      fprintf(stderr, "ustcp %s: %s needs a value\n", c->cmd, a);
      return -1;
    }
  }
  if (TAKE("--tun"))
    c->tun = v;
  else if (TAKE("--addr"))
    c->addr = v;
  else if (TAKE("--peer-addr"))
    c->peer = v;
  else if (TAKE("--pcap"))
    c->pcap = v;
  else if (TAKE("--pcap-limit"))
    c->pcap_limit = strtoull(v, NULL, 10);
  else if (TAKE("--mtu"))
    c->mtu = atoi(v);
  else if (TAKE("--timeout"))
    c->timeout = atof(v);
  else if (TAKE("--seed")) {
    c->seed = strtoull(v, NULL, 0);
    c->seed_set = true;
  } else if (TAKE("--keepalive")) {
    if (sscanf(v, "%d,%d,%d", &c->keepalive[0], &c->keepalive[1], &c->keepalive[2]) != 3 ||
        c->keepalive[0] <= 0 || c->keepalive[1] <= 0 || c->keepalive[2] <= 0) {
      fprintf(stderr, "ustcp %s: --keepalive IDLE,INTVL,CNT (seconds, seconds, probes)\n", c->cmd);
      return -1;
    }
  } else if (!strcmp(a, "--offload"))
    c->offload = 1;
  else if (!strcmp(a, "-v") || !strcmp(a, "--verbose"))
    c->verbose++;
  else
    return 0;
#undef TAKE
  return 1;
}

static const char common_usage[] =
    "  --tun NAME          TUN device to create or attach to (needs "
    "CAP_NET_ADMIN)\n"
    "  --addr A.B.C.D      ustcp's address on the link\n"
    "  --peer-addr A/NN    give the kernel's side of the link this address\n"
    "  --pcap FILE         capture every packet in and out (LINKTYPE_RAW)\n"
    "  --pcap-limit N      capture at most N packets\n"
    "  --mtu N             device and stack MTU (default: the device's, 1500)\n"
    "  --keepalive I,N,C   SO_KEEPALIVE with TCP_KEEPIDLE/KEEPINTVL/KEEPCNT\n"
    "  --seed N            stack randomness (default: from getrandom)\n"
    "  --offload           IFF_VNET_HDR: take checksum-less and 64 KiB GSO datagrams,\n"
    "                      leave TCP checksums to the kernel (NEEDS_CSUM)\n"
    "  -v                  log connections\n";

static int env_open(struct env *e, const struct common *c)
{
  memset(e, 0, sizeof(*e));
  if (!c->tun || !c->addr) {
    fprintf(stderr, "ustcp %s: --tun NAME and --addr A.B.C.D are required\n", c->cmd);
    return 2;
  }
  struct in_addr a, pa = {0};
  if (inet_pton(AF_INET, c->addr, &a) != 1) {
    fprintf(stderr, "ustcp %s: bad --addr '%s'\n", c->cmd, c->addr);
    return 2;
  }
  int prefix = 24;
  if (c->peer) {
    char buf[64];
    snprintf(buf, sizeof(buf), "%s", c->peer);
    char *slash = strchr(buf, '/');
    if (slash) {
      *slash = 0;
      prefix = atoi(slash + 1);
    }
    if (inet_pton(AF_INET, buf, &pa) != 1 || prefix < 1 || prefix > 32) {
      fprintf(stderr, "ustcp %s: bad --peer-addr '%s' (A.B.C.D/NN)\n", c->cmd, c->peer);
      return 2;
    }
  }
  if (c->mtu && (c->mtu < 68 || c->mtu > 65535)) {
    fprintf(stderr, "ustcp %s: --mtu %d out of range [68, 65535]\n", c->cmd, c->mtu);
    return 2;
  }
  struct ustcp_tun_opts o;
  ustcp_tun_opts_init(&o);
  o.mtu = (uint16_t)c->mtu;
  o.pcap = c->pcap;
  o.pcap_limit = c->pcap_limit;
  o.vnet_hdr = c->offload;
  char err[512];
  e->tun = ustcp_tun_open(c->tun, &o, err, sizeof(err));
  if (!e->tun) {
    fprintf(stderr, "ustcp %s: %s\n", c->cmd, err);
    return 1;
  }
  int r;
  if (c->peer && (r = ustcp_tun_set_peer_addr(e->tun, pa.s_addr, prefix))) {
    fprintf(stderr, "ustcp %s: setting %s on %s: %s\n", c->cmd, c->peer, ustcp_tun_name(e->tun),
            strerror(-r));
    ustcp_tun_close(e->tun);
    return 1;
  }
  if ((r = ustcp_tun_up(e->tun))) {
    fprintf(stderr, "ustcp %s: bringing %s up: %s\n", c->cmd, ustcp_tun_name(e->tun), strerror(-r));
    ustcp_tun_close(e->tun);
    return 1;
  }
  struct ustcp_config cfg;
  ustcp_config_init(&cfg);
  cfg.addr = a.s_addr;
  cfg.prefix_len = (uint8_t)prefix;
  cfg.seed = c->seed;
  if (!c->seed_set && getrandom(&cfg.seed, sizeof(cfg.seed), 0) != sizeof(cfg.seed))
    cfg.seed = (uint64_t)time(NULL) ^ (uint64_t)getpid() << 32;
  ustcp_tun_config(e->tun, &cfg);
  e->s = ustcp_stack_create(&cfg, err, sizeof(err));
  if (!e->s) {
    fprintf(stderr, "ustcp %s: %s\n", c->cmd, err);
    ustcp_tun_close(e->tun);
    return 1;
  }
  ustcp_tun_attach(e->tun, e->s);
  e->addr = a.s_addr;
  return 0;
}

/* Run the loop a little so closes finish on the wire (FIN/RST out, ACKs in),
 * then tear everything down. */
static void env_close(struct env *e, const struct common *c, double linger_s)
{
  double end = now_s() + linger_s;
  struct ustcp_mem_info mi;
  while (now_s() < end) {
    ustcp_mem_info(e->s, &mi);
    if (mi.sockets == 0)
      break;
    ustcp_tun_run(e->tun, 20);
  }
  ustcp_tun_run(e->tun, 0);
  if (c->verbose) {
    struct ustcp_tun_stats st;
    ustcp_tun_stats(e->tun, &st);
    fprintf(stderr,
            "ustcp %s: tun rx %llu pkts %llu bytes (%llu GSO), tx %llu pkts %llu bytes "
            "(%llu NEEDS_CSUM), %llu dropped\n",
            c->cmd, (unsigned long long)st.rx_packets, (unsigned long long)st.rx_bytes,
            (unsigned long long)st.rx_gso, (unsigned long long)st.tx_packets,
            (unsigned long long)st.tx_bytes, (unsigned long long)st.tx_csum_partial,
            (unsigned long long)st.tx_dropped);
    for (int i = 0; i < USTCP_STAT_COUNT; i++) {
      uint64_t v = ustcp_stat(e->s, (enum ustcp_stat)i);
      if (v)
        fprintf(stderr, "  %-24s %llu\n", ustcp_stat_name((enum ustcp_stat)i),
                (unsigned long long)v);
    }
  }
  ustcp_stack_destroy(e->s);
  ustcp_tun_close(e->tun);
}

static void set_keepalive(struct env *e, const struct common *c, int fd)
{
  if (!c->keepalive[0])
    return;
  int one = 1;
  if (ustcp_setsockopt(e->s, fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one)) ||
      ustcp_setsockopt(e->s, fd, IPPROTO_TCP, TCP_KEEPIDLE, &c->keepalive[0], sizeof(int)) ||
      ustcp_setsockopt(e->s, fd, IPPROTO_TCP, TCP_KEEPINTVL, &c->keepalive[1], sizeof(int)) ||
      ustcp_setsockopt(e->s, fd, IPPROTO_TCP, TCP_KEEPCNT, &c->keepalive[2], sizeof(int)))
    fprintf(stderr, "ustcp %s: keepalive options: %s\n", c->cmd, strerror(errno));
}

static int set_nonblock(struct env *e, int fd)
{
  int fl = ustcp_fcntl(e->s, fd, F_GETFL);
  return fl < 0 ? -1 : ustcp_fcntl(e->s, fd, F_SETFL, fl | O_NONBLOCK);
}

/* Wait until fd has one of `events` (or an error/hang-up). 1 ready, 0 timed
 * out or stopped by a signal, -1 error. deadline: absolute now_s(), 0 = none.
 */
static int wait_fd(struct env *e, int fd, short events, double deadline)
{
  for (;;) {
    if (stop_flag)
      return 0;
    int ms = 200;
    if (deadline > 0) {
      double left = deadline - now_s();
      if (left <= 0)
        return 0;
      if (left * 1000 < ms)
        ms = (int)(left * 1000) + 1;
    }
    struct pollfd p = {.fd = fd, .events = events};
    int n = ustcp_poll(e->s, &p, 1, ms);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return -1;
    }
    if (n > 0)
      return 1;
  }
}

static const char *fmt_peer(struct env *e, int fd, char *buf, size_t cap)
{
  struct sockaddr_in sa;
  socklen_t sl = sizeof(sa);
  if (ustcp_getpeername(e->s, fd, (struct sockaddr *)&sa, &sl))
    snprintf(buf, cap, "?");
  else
    snprintf(buf, cap, "%s:%u", inet_ntoa(sa.sin_addr), ntohs(sa.sin_port));
  return buf;
}

/* ----------------------------------------------------------------- serve */

enum serve_mode { M_NONE, M_ECHO, M_DISCARD, M_CHARGEN, M_HTTP };

#define CONN_BUF 65536

struct conn {
  int fd;
  char peer[32];
  char *in; /* request bytes (http) */
  size_t in_len;
  char *out; /* bytes to send: out[out_off, out_len) */
  size_t out_off, out_len;
  int file_fd; /* http body still to send */
  int64_t file_off, file_left;
  bool keep_alive, close_after, linger0_after, dead;
  uint64_t chargen_pos, bytes_in, bytes_out;
};

struct server {
  struct env *e;
  const struct common *c;
  enum serve_mode mode;
  int dirfd;
  bool never_accept, close_unread, linger_zero;
  struct conn *conns;
  size_t n, cap;
  uint64_t accepted, requests, errors;
};

static void conn_close(struct server *sv, struct conn *cn, const char *why)
{
  if (cn->dead)
    return;
  if (cn->linger0_after || (sv->linger_zero && !strcmp(why, "linger-zero"))) {
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    ustcp_setsockopt(sv->e->s, cn->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
  }
  if (sv->c->verbose)
    fprintf(stderr, "ustcp serve: %s closed (%s), %llu bytes in, %llu out\n", cn->peer, why,
            (unsigned long long)cn->bytes_in, (unsigned long long)cn->bytes_out);
  ustcp_close(sv->e->s, cn->fd);
  if (cn->file_fd >= 0)
    close(cn->file_fd);
  free(cn->in);
  free(cn->out);
  cn->in = cn->out = NULL;
  cn->file_fd = -1;
  cn->dead = true;
}

/* Queue bytes for sending (out buffer has room: callers check). */
static void out_put(struct conn *cn, const void *p, size_t n)
{
  if (cn->out_off == cn->out_len)
    cn->out_off = cn->out_len = 0;
  memcpy(cn->out + cn->out_len, p, n);
  cn->out_len += n;
}

/* Send what is queued; refill from the file (http) or the pattern
 * (chargen). Returns -1 if the connection died. */
static int conn_flush(struct server *sv, struct conn *cn)
{
  for (;;) {
    if (cn->out_off == cn->out_len) {
      cn->out_off = cn->out_len = 0;
      if (cn->file_fd >= 0 && cn->file_left > 0) {
        size_t want = cn->file_left < CONN_BUF ? (size_t)cn->file_left : CONN_BUF;
        ssize_t r = pread(cn->file_fd, cn->out, want, cn->file_off);
        if (r <= 0) {
          conn_close(sv, cn, "file read error");
          return -1;
        }
        cn->out_len = (size_t)r;
        cn->file_off += r;
        cn->file_left -= r;
      } else if (sv->mode == M_CHARGEN) {
        /* RFC 864: 72-character lines of the 95 printable characters, each
         * line starting one character further on. */
        while (cn->out_len + 74 <= CONN_BUF) {
          uint64_t line = cn->chargen_pos++;
          for (int k = 0; k < 72; k++)
            cn->out[cn->out_len++] = (char)(' ' + (line + (uint64_t)k) % 95);
          cn->out[cn->out_len++] = '\r';
          cn->out[cn->out_len++] = '\n';
        }
      } else {
        if (cn->file_fd >= 0) {
          close(cn->file_fd);
          cn->file_fd = -1;
        }
        return 0;
      }
    }
    ssize_t n = ustcp_send(sv->e->s, cn->fd, cn->out + cn->out_off, cn->out_len - cn->out_off,
                           MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EAGAIN)
        return 0;
      if (sv->c->verbose || errno != EPIPE)
        fprintf(stderr, "ustcp serve: %s: send: %s\n", cn->peer, strerror(errno));
      sv->errors++;
      conn_close(sv, cn, "send error");
      return -1;
    }
    cn->out_off += (size_t)n;
    cn->bytes_out += (uint64_t)n;
  }
}

static bool conn_sending(const struct conn *cn)
{
  return cn->out_off < cn->out_len || (cn->file_fd >= 0 && cn->file_left > 0);
}

static void http_respond_error(struct conn *cn, int status)
{
  char body[128], head[512];
  int bl = snprintf(body, sizeof(body), "%d %s\n", status, http_reason(status));
  size_t hl = http_response_head(head, sizeof(head), status, "text/plain", bl, false);
  out_put(cn, head, hl);
  out_put(cn, body, (size_t)bl);
  cn->close_after = true;
}

/* Handle every complete request in cn->in (one at a time: the next is
 * parsed only once this response is fully queued). */
static void http_step(struct server *sv, struct conn *cn)
{
  while (!cn->dead && !conn_sending(cn) && !cn->close_after && cn->in_len) {
    struct http_request rq;
    int r = http_parse_request(cn->in, cn->in_len, &rq);
    if (r == 0)
      return;
    sv->requests++;
    if (r < 0) {
      http_respond_error(cn, 400);
      cn->in_len = 0;
      break;
    }
    size_t consumed = rq.header_len;
    if (rq.content_length > 0) {
      /* A body is not used; it must have arrived before we answer. */
      if ((int64_t)(cn->in_len - rq.header_len) < rq.content_length) {
        if (rq.content_length > HTTP_MAX_HEADER) {
          http_respond_error(cn, 400);
          cn->in_len = 0;
          break;
        }
        sv->requests--;
        return;
      }
      consumed += (size_t)rq.content_length;
    }
    memmove(cn->in, cn->in + consumed, cn->in_len - consumed);
    cn->in_len -= consumed;
    bool head = !strcmp(rq.method, "HEAD");
    if (!head && strcmp(rq.method, "GET")) {
      http_respond_error(cn, 501);
      break;
    }
    int64_t size = 0;
    int fd = http_open_target(sv->dirfd, rq.target, &size);
    if (fd < 0) {
      int st = fd == -ENOENT || fd == -ENOTDIR ? 404 : fd == -EINVAL ? 400 : 403;
      if (sv->c->verbose)
        fprintf(stderr, "ustcp serve: %s %s %s -> %d\n", cn->peer, rq.method, rq.target, st);
      char body[64], hd[512];
      int bl = snprintf(body, sizeof(body), "%d %s\n", st, http_reason(st));
      size_t hl = http_response_head(hd, sizeof(hd), st, "text/plain", bl, rq.keep_alive);
      out_put(cn, hd, hl);
      if (!head)
        out_put(cn, body, (size_t)bl);
      cn->close_after = !rq.keep_alive;
      if (cn->close_after)
        break;
      conn_flush(sv, cn);
      continue;
    }
    if (sv->c->verbose)
      fprintf(stderr, "ustcp serve: %s %s %s -> 200 (%lld bytes)\n", cn->peer, rq.method, rq.target,
              (long long)size);
    char hd[512];
    size_t hl =
        http_response_head(hd, sizeof(hd), 200, http_content_type(rq.target), size, rq.keep_alive);
    out_put(cn, hd, hl);
    if (head) {
      close(fd);
    } else {
      cn->file_fd = fd;
      cn->file_off = 0;
      cn->file_left = size;
    }
    cn->close_after = !rq.keep_alive;
    if (conn_flush(sv, cn) < 0)
      return;
  }
}

/* The connection is readable (data, EOF or error). */
static void conn_readable(struct server *sv, struct conn *cn)
{
  struct ustcp_stack *s = sv->e->s;
  if (sv->close_unread) {
    /* Seed: closing with received data unread sends RST, not FIN. */
    conn_close(sv, cn, "close-unread");
    return;
  }
  char buf[CONN_BUF];
  for (;;) {
    char *dst = buf;
    size_t room = sizeof(buf);
    if (sv->mode == M_ECHO) {
      if (conn_sending(cn))
        return; /* backpressure: read again once the echo went out */
      dst = cn->out;
      room = CONN_BUF;
    } else if (sv->mode == M_HTTP) {
      if (conn_sending(cn) || cn->close_after)
        return;
      if (cn->in_len >= HTTP_MAX_HEADER * 2) {
        http_step(sv, cn);
        return;
      }
      dst = cn->in + cn->in_len;
      room = HTTP_MAX_HEADER * 2 - cn->in_len;
    }
    ssize_t n = ustcp_recv(s, cn->fd, dst, room, MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EAGAIN)
        return;
      fprintf(stderr, "ustcp serve: %s: recv: %s\n", cn->peer, strerror(errno));
      sv->errors++;
      conn_close(sv, cn, strerror(errno));
      return;
    }
    if (n == 0) {
      if (conn_sending(cn))
        cn->close_after = true; /* finish the response, then close */
      else
        conn_close(sv, cn, "peer closed");
      return;
    }
    cn->bytes_in += (uint64_t)n;
    if (sv->mode == M_ECHO) {
      cn->out_off = 0;
      cn->out_len = (size_t)n;
      if (sv->linger_zero)
        cn->close_after = cn->linger0_after = true;
      if (conn_flush(sv, cn) < 0)
        return;
    } else if (sv->mode == M_HTTP) {
      cn->in_len += (size_t)n;
      http_step(sv, cn);
      if (cn->dead)
        return;
    } else if (sv->linger_zero) {
      cn->close_after = cn->linger0_after = true;
    }
    if (cn->close_after && !conn_sending(cn)) {
      conn_close(sv, cn, cn->linger0_after ? "linger-zero" : "done");
      return;
    }
  }
}

static int add_conn(struct server *sv, int fd)
{
  if (sv->n == sv->cap) {
    size_t nc = sv->cap ? sv->cap * 2 : 64;
    struct conn *p = realloc(sv->conns, nc * sizeof(*p));
    if (!p)
      return -1;
    sv->conns = p;
    sv->cap = nc;
  }
  struct conn *cn = &sv->conns[sv->n];
  memset(cn, 0, sizeof(*cn));
  cn->fd = fd;
  cn->file_fd = -1;
  cn->out = malloc(CONN_BUF);
  if (sv->mode == M_HTTP)
    cn->in = malloc(HTTP_MAX_HEADER * 2);
  if (!cn->out || (sv->mode == M_HTTP && !cn->in)) {
    free(cn->out);
    free(cn->in);
    return -1;
  }
  fmt_peer(sv->e, fd, cn->peer, sizeof(cn->peer));
  sv->n++;
  return 0;
}

static void serve_usage(void)
{
  fprintf(stderr,
          "usage: ustcp serve --tun NAME --addr A.B.C.D [--peer-addr "
          "A.B.C.D/NN] [--port P]\n"
          "                   (--echo | --discard | --chargen | --http DIR) "
          "[--pcap F]\n"
          "  --port P            listening port (echo 7, discard 9, chargen "
          "19, http 80)\n"
          "  --backlog N         listen() backlog (default 128)\n"
          "  --never-accept      never accept(): the accept queue fills (seed "
          "1.1)\n"
          "  --close-unread      close each connection once data arrived, "
          "unread -> RST\n"
          "  --linger-zero       SO_LINGER {1, 0}: close after the first data "
          "-> RST\n"
          "%s",
          common_usage);
}

int cmd_serve(int argc, char **argv)
{
  struct common c = {.cmd = "serve"};
  struct server sv = {.c = &c, .dirfd = -1};
  int port = -1, backlog = 128;
  const char *dir = NULL;
  for (int i = 1; i < argc; i++) {
    int r = common_opt(&c, argc, argv, &i);
    if (r < 0)
      return 2;
    if (r > 0)
      continue;
    const char *a = argv[i];
    if (!strcmp(a, "--echo"))
      sv.mode = M_ECHO;
    else if (!strcmp(a, "--discard"))
      sv.mode = M_DISCARD;
    else if (!strcmp(a, "--chargen"))
      sv.mode = M_CHARGEN;
    else if (!strcmp(a, "--http") && i + 1 < argc) {
      sv.mode = M_HTTP;
      dir = argv[++i];
    } else if (!strcmp(a, "--port") && i + 1 < argc)
      port = atoi(argv[++i]);
    else if (!strcmp(a, "--backlog") && i + 1 < argc)
      backlog = atoi(argv[++i]);
    else if (!strcmp(a, "--never-accept"))
      sv.never_accept = true;
    else if (!strcmp(a, "--close-unread"))
      sv.close_unread = true;
    else if (!strcmp(a, "--linger-zero"))
      sv.linger_zero = true;
    else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      serve_usage();
      return 0;
    } else {
      fprintf(stderr, "ustcp serve: unknown or incomplete option '%s'\n", a);
      serve_usage();
      return 2;
    }
  }
  if (sv.mode == M_NONE) {
    fprintf(stderr, "ustcp serve: choose --echo, --discard, --chargen or --http DIR\n");
    serve_usage();
    return 2;
  }
  if (port < 0)
    port = sv.mode == M_ECHO ? 7 : sv.mode == M_DISCARD ? 9 : sv.mode == M_CHARGEN ? 19 : 80;
  if (port < 1 || port > 65535) {
    fprintf(stderr, "ustcp serve: bad --port\n");
    return 2;
  }
  if (dir) {
    sv.dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (sv.dirfd < 0) {
      fprintf(stderr, "ustcp serve: --http %s: %s\n", dir, strerror(errno));
      return 2;
    }
  }
  struct env e;
  int rc = env_open(&e, &c);
  if (rc) {
    if (sv.dirfd >= 0)
      close(sv.dirfd);
    return rc;
  }
  sv.e = &e;
  install_signals();
  struct ustcp_stack *s = e.s;
  int lfd = ustcp_socket(s, AF_INET, SOCK_STREAM, 0);
  int one = 1;
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  sa.sin_addr.s_addr = htonl(INADDR_ANY); /* the stack has one address: e.addr */
  if (lfd < 0 || ustcp_setsockopt(s, lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
      ustcp_bind(s, lfd, (struct sockaddr *)&sa, sizeof(sa)) || ustcp_listen(s, lfd, backlog) ||
      set_nonblock(&e, lfd)) {
    fprintf(stderr, "ustcp serve: listen on %s:%d: %s\n", c.addr, port, strerror(errno));
    env_close(&e, &c, 0);
    if (sv.dirfd >= 0)
      close(sv.dirfd);
    return 1;
  }
  fprintf(stderr, "ustcp serve: listening on %s:%d (tun %s, backlog %d)%s\n", c.addr, port,
          ustcp_tun_name(e.tun), backlog, sv.never_accept ? ", never accepting" : "");
  struct pollfd *pf = NULL;
  size_t pfcap = 0;
  double last_info = now_s();
  while (!stop_flag) {
    /* Compact the connection table. */
    size_t k = 0;
    for (size_t i = 0; i < sv.n; i++)
      if (!sv.conns[i].dead)
        sv.conns[k++] = sv.conns[i];
    sv.n = k;
    if (pfcap < sv.n + 1) {
      pfcap = (sv.n + 1) * 2;
      pf = realloc(pf, pfcap * sizeof(*pf));
      if (!pf) {
        fprintf(stderr, "ustcp serve: out of memory\n");
        break;
      }
    }
    pf[0] = (struct pollfd){.fd = lfd, .events = sv.never_accept ? 0 : POLLIN};
    for (size_t i = 0; i < sv.n; i++) {
      struct conn *cn = &sv.conns[i];
      short ev = POLLIN;
      if (conn_sending(cn) || sv.mode == M_CHARGEN)
        ev |= POLLOUT;
      if (conn_sending(cn) && sv.mode != M_DISCARD && sv.mode != M_CHARGEN)
        ev = POLLOUT; /* backpressure: do not read more */
      pf[i + 1] = (struct pollfd){.fd = cn->fd, .events = ev};
    }
    int n = ustcp_poll(s, pf, sv.n + 1, 500);
    if (n < 0 && errno != EINTR) {
      fprintf(stderr, "ustcp serve: poll: %s\n", strerror(errno));
      break;
    }
    if (c.verbose > 1 && now_s() - last_info > 1.0) {
      struct ustcp_listen_info li;
      if (!ustcp_listen_info(s, lfd, &li))
        fprintf(stderr, "ustcp serve: accept queue %u, SYN queue %u, backlog %u\n", li.accept_qlen,
                li.syn_qlen, li.backlog);
      last_info = now_s();
    }
    if (n <= 0)
      continue;
    size_t nconn = sv.n;
    for (size_t i = 0; i < nconn; i++) {
      struct conn *cn = &sv.conns[i];
      short re = pf[i + 1].revents;
      if (!re || cn->dead)
        continue;
      if (re & (POLLIN | POLLERR | POLLHUP))
        conn_readable(&sv, cn);
      if (!cn->dead && (re & POLLOUT) && conn_flush(&sv, cn) == 0) {
        if (sv.mode == M_HTTP && !conn_sending(cn) && !cn->close_after)
          http_step(&sv, cn);
        if (!cn->dead && cn->close_after && !conn_sending(cn))
          conn_close(&sv, cn, cn->linger0_after ? "linger-zero" : "done");
      }
    }
    if (pf[0].revents & POLLIN) {
      for (;;) {
        struct sockaddr_in ca;
        socklen_t cl = sizeof(ca);
        int fd = ustcp_accept4(s, lfd, (struct sockaddr *)&ca, &cl, SOCK_NONBLOCK);
        if (fd < 0) {
          if (errno != EAGAIN && errno != ECONNABORTED)
            fprintf(stderr, "ustcp serve: accept: %s\n", strerror(errno));
          break;
        }
        set_keepalive(&e, &c, fd);
        if (add_conn(&sv, fd)) {
          fprintf(stderr, "ustcp serve: out of memory for a connection\n");
          ustcp_close(s, fd);
          continue;
        }
        sv.accepted++;
        if (c.verbose)
          fprintf(stderr, "ustcp serve: accepted %s\n", sv.conns[sv.n - 1].peer);
      }
    }
  }
  fprintf(stderr,
          "ustcp serve: stopping: %llu connections accepted, %llu requests, "
          "%llu errors, %zu "
          "open\n",
          (unsigned long long)sv.accepted, (unsigned long long)sv.requests,
          (unsigned long long)sv.errors, sv.n);
  for (size_t i = 0; i < sv.n; i++)
    conn_close(&sv, &sv.conns[i], "shutdown");
  ustcp_close(s, lfd);
  free(sv.conns);
  free(pf);
  env_close(&e, &c, 1.0);
  if (sv.dirfd >= 0)
    close(sv.dirfd);
  return 0;
}

/* ------------------------------------------------------- get / send / recv */

static int connect_to(struct env *e, const struct common *c, const char *host, uint16_t port,
                      double deadline)
{
  struct ustcp_stack *s = e->s;
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
  if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
    fprintf(stderr, "ustcp %s: '%s' is not an IPv4 address\n", c->cmd, host);
    return -1;
  }
  int fd = ustcp_socket(s, AF_INET, SOCK_STREAM, 0);
  if (fd < 0 || set_nonblock(e, fd)) {
    fprintf(stderr, "ustcp %s: socket: %s\n", c->cmd, strerror(errno));
    return -1;
  }
  set_keepalive(e, c, fd);
  if (ustcp_connect(s, fd, (struct sockaddr *)&sa, sizeof(sa)) && errno != EINPROGRESS) {
    fprintf(stderr, "ustcp %s: connect %s:%u: %s\n", c->cmd, host, port, strerror(errno));
    ustcp_close(s, fd);
    return -1;
  }
  int r = wait_fd(e, fd, POLLOUT, deadline);
  int err = 0;
  socklen_t el = sizeof(err);
  if (r > 0)
    ustcp_getsockopt(s, fd, SOL_SOCKET, SO_ERROR, &err, &el);
  if (r <= 0 || err) {
    fprintf(stderr, "ustcp %s: connect %s:%u: %s\n", c->cmd, host, port,
            r < 0       ? strerror(errno)
            : err       ? strerror(err)
            : stop_flag ? "interrupted"
                        : "timed out");
    ustcp_close(s, fd);
    return -1;
  }
  return fd;
}

/* Read into buf; returns bytes (>0), 0 at EOF, -1 error (errno), -2 timed
 * out or interrupted. */
static ssize_t read_some(struct env *e, int fd, void *buf, size_t len, double deadline)
{
  for (;;) {
    ssize_t n = ustcp_recv(e->s, fd, buf, len, 0);
    if (n >= 0)
      return n;
    if (errno != EAGAIN)
      return -1;
    int r = wait_fd(e, fd, POLLIN, deadline);
    if (r < 0)
      return -1;
    if (r == 0)
      return -2;
  }
}

static int write_all(struct env *e, int fd, const void *buf, size_t len, double deadline)
{
  const char *p = buf;
  while (len) {
    ssize_t n = ustcp_send(e->s, fd, p, len, 0);
    if (n > 0) {
      p += n;
      len -= (size_t)n;
      continue;
    }
    if (n < 0 && errno != EAGAIN)
      return -1;
    int r = wait_fd(e, fd, POLLOUT, deadline);
    if (r < 0)
      return -1;
    if (r == 0) {
      errno = stop_flag ? EINTR : ETIMEDOUT;
      return -1;
    }
  }
  return 0;
}

static double deadline_of(const struct common *c)
{
  return c->timeout > 0 ? now_s() + c->timeout : 0;
}

/* Where `get` puts a response body: the output file and the digest, with
 * Content-Length or chunked framing. */
struct body_sink {
  FILE *out;
  struct sha256 *h;
  int64_t len; /* Content-Length, -1 if none */
  bool chunked, done;
  struct http_chunked ck;
  uint64_t got;
};

static void body_emit(struct body_sink *b, const char *p, size_t n)
{
  fwrite(p, 1, n, b->out);
  sha256_update(b->h, p, n);
  b->got += n;
}

/* Consume received bytes (p is modified in place). 0, or -1 if the framing
 * is broken. */
static int body_feed(struct body_sink *b, char *p, size_t n)
{
  if (b->done || !n)
    return 0;
  if (b->chunked) {
    size_t used;
    long m = http_dechunk(&b->ck, p, n, p, &b->done, &used);
    if (m < 0) {
      fprintf(stderr, "ustcp get: malformed chunked body\n");
      return -1;
    }
    body_emit(b, p, (size_t)m);
    return 0;
  }
  if (b->len >= 0 && (uint64_t)b->len - b->got < n) {
    fprintf(stderr, "ustcp get: %zu bytes beyond Content-Length ignored\n",
            n - (size_t)((uint64_t)b->len - b->got));
    n = (size_t)((uint64_t)b->len - b->got);
  }
  body_emit(b, p, n);
  if (b->len >= 0 && b->got == (uint64_t)b->len)
    b->done = true;
  return 0;
}

int cmd_get(int argc, char **argv)
{
  struct common c = {.cmd = "get", .timeout = 60};
  const char *url = NULL, *outpath = NULL;
  for (int i = 1; i < argc; i++) {
    int r = common_opt(&c, argc, argv, &i);
    if (r < 0)
      return 2;
    if (r > 0)
      continue;
    if ((!strcmp(argv[i], "-o") || !strcmp(argv[i], "--output")) && i + 1 < argc)
      outpath = argv[++i];
    else if (argv[i][0] != '-' && !url)
      url = argv[i];
    else {
      fprintf(stderr,
              "usage: ustcp get http://A.B.C.D[:P]/PATH --tun NAME --addr A.B.C.D "
              "[--peer-addr A.B.C.D/NN] [-o FILE] [--timeout S]\n%s",
              common_usage);
      return 2;
    }
  }
  char host[64], path[2048];
  uint16_t port;
  if (!url || http_parse_url(url, host, sizeof(host), &port, path, sizeof(path))) {
    fprintf(stderr, "ustcp get: need a URL http://A.B.C.D[:PORT]/PATH\n");
    return 2;
  }
  FILE *out = stdout;
  if (outpath && !(out = fopen(outpath, "wb"))) {
    fprintf(stderr, "ustcp get: %s: %s\n", outpath, strerror(errno));
    return 2;
  }
  struct env e;
  int rc = env_open(&e, &c);
  if (rc) {
    if (out != stdout)
      fclose(out);
    return rc;
  }
  install_signals();
  double dl = deadline_of(&c);
  rc = 1;
  int fd = connect_to(&e, &c, host, port, dl);
  if (fd < 0)
    goto done;
  char req[4096];
  int rl = snprintf(req, sizeof(req),
                    "GET %s HTTP/1.1\r\nHost: %s:%u\r\nUser-Agent: ustcp\r\nAccept: */*\r\n"
                    "Connection: close\r\n\r\n",
                    path, host, port);
  if (write_all(&e, fd, req, (size_t)rl, dl)) {
    fprintf(stderr, "ustcp get: send: %s\n", strerror(errno));
    goto close_fd;
  }
  static char buf[1 << 16];
  char head[65536 + 1];
  size_t hl = 0;
  struct http_response rs;
  int pr = 0;
  while (!pr) {
    ssize_t n = read_some(&e, fd, head + hl, sizeof(head) - 1 - hl, dl);
    if (n <= 0) {
      fprintf(stderr, "ustcp get: reading the response head: %s\n",
              n == 0    ? "connection closed"
              : n == -2 ? "timed out"
                        : strerror(errno));
      goto close_fd;
    }
    hl += (size_t)n;
    pr = http_parse_response(head, hl, &rs);
    if (pr < 0) {
      fprintf(stderr, "ustcp get: malformed response head\n");
      goto close_fd;
    }
  }
  struct sha256 h;
  sha256_init(&h);
  struct body_sink bs = {.out = out, .h = &h, .len = rs.content_length, .chunked = rs.chunked};
  /* RFC 9112 6.3: no body for 1xx, 204 and 304; else chunked, else
   * Content-Length, else until the server closes. */
  bs.done = (rs.status >= 100 && rs.status < 200) || rs.status == 204 || rs.status == 304 ||
            (!rs.chunked && rs.content_length == 0);
  bool ok = body_feed(&bs, head + rs.header_len, hl - rs.header_len) == 0;
  while (ok && !bs.done) {
    ssize_t n = read_some(&e, fd, buf, sizeof(buf), dl);
    if (n == 0 && !rs.chunked && rs.content_length < 0)
      break;
    if (n <= 0) {
      fprintf(stderr, "ustcp get: body: %s after %llu bytes\n",
              n == 0    ? "connection closed early"
              : n == -2 ? "timed out"
                        : strerror(errno),
              (unsigned long long)bs.got);
      ok = false;
      break;
    }
    ok = body_feed(&bs, buf, (size_t)n) == 0;
  }
  uint64_t got = bs.got;
  uint8_t d[32];
  char hex[65];
  sha256_final(&h, d);
  sha256_hex(d, hex);
  fprintf(stderr, "ustcp get: %s -> HTTP %d, %llu bytes, sha256 %s\n", url, rs.status,
          (unsigned long long)got, hex);
  if (ok && rs.status >= 200 && rs.status < 300)
    rc = 0;
close_fd:
  ustcp_close(e.s, fd);
done:
  if (out != stdout && fclose(out))
    rc = 1;
  else if (out == stdout)
    fflush(stdout);
  env_close(&e, &c, 1.0);
  return rc;
}

/* Deterministic pattern for --bytes N (xorshift64*, seed 1). */
static void pattern_fill(uint64_t *state, uint8_t *p, size_t n)
{
  for (size_t i = 0; i < n; i += 8) {
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    uint64_t v = x * 0x2545F4914F6CDD1Dull;
    memcpy(p + i, &v, n - i < 8 ? n - i : 8);
  }
}

int cmd_send(int argc, char **argv)
{
  struct common c = {.cmd = "send", .timeout = 120};
  const char *to = NULL, *file = NULL;
  long long bytes = -1;
  for (int i = 1; i < argc; i++) {
    int r = common_opt(&c, argc, argv, &i);
    if (r < 0)
      return 2;
    if (r > 0)
      continue;
    if (!strcmp(argv[i], "--to") && i + 1 < argc)
      to = argv[++i];
    else if (!strcmp(argv[i], "--bytes") && i + 1 < argc)
      bytes = strtoll(argv[++i], NULL, 0);
    else if (!strcmp(argv[i], "--file") && i + 1 < argc)
      file = argv[++i];
    else {
      fprintf(stderr,
              "usage: ustcp send --to A.B.C.D:PORT (--bytes N | --file F | < "
              "stdin) --tun NAME "
              "--addr A.B.C.D [--peer-addr A.B.C.D/NN] [--timeout S]\n%s",
              common_usage);
      return 2;
    }
  }
  char host[64];
  const char *colon = to ? strrchr(to, ':') : NULL;
  if (!colon || (size_t)(colon - to) >= sizeof(host) || atoi(colon + 1) <= 0 ||
      atoi(colon + 1) > 65535) {
    fprintf(stderr, "ustcp send: --to A.B.C.D:PORT is required\n");
    return 2;
  }
  memcpy(host, to, (size_t)(colon - to));
  host[colon - to] = 0;
  int in = -1;
  if (bytes < 0) {
    in = file ? open(file, O_RDONLY | O_CLOEXEC) : 0;
    if (in < 0) {
      fprintf(stderr, "ustcp send: %s: %s\n", file, strerror(errno));
      return 2;
    }
  }
  struct env e;
  int rc = env_open(&e, &c);
  if (rc)
    return rc;
  install_signals();
  double dl = deadline_of(&c), t0 = now_s();
  rc = 1;
  int fd = connect_to(&e, &c, host, (uint16_t)atoi(colon + 1), dl);
  if (fd < 0)
    goto done;
  static uint8_t buf[1 << 16];
  struct sha256 h;
  sha256_init(&h);
  uint64_t sent = 0, pat = 1;
  for (;;) {
    size_t n;
    if (bytes >= 0) {
      n = (uint64_t)bytes - sent < sizeof(buf) ? (size_t)((uint64_t)bytes - sent) : sizeof(buf);
      pattern_fill(&pat, buf, n);
    } else {
      ssize_t r = read(in, buf, sizeof(buf));
      if (r < 0 && errno == EINTR && !stop_flag)
        continue;
      if (r < 0) {
        fprintf(stderr, "ustcp send: reading input: %s\n", strerror(errno));
        goto close_fd;
      }
      n = (size_t)r;
    }
    if (!n)
      break;
    if (write_all(&e, fd, buf, n, dl)) {
      fprintf(stderr, "ustcp send: send after %llu bytes: %s\n", (unsigned long long)sent,
              strerror(errno));
      goto close_fd;
    }
    sha256_update(&h, buf, n);
    sent += n;
  }
  /* Half-close, then wait for the peer's FIN: everything we sent was read. */
  if (ustcp_shutdown(e.s, fd, SHUT_WR)) {
    fprintf(stderr, "ustcp send: shutdown: %s\n", strerror(errno));
    goto close_fd;
  }
  for (;;) {
    ssize_t n = read_some(&e, fd, buf, sizeof(buf), dl);
    if (n > 0)
      continue;
    if (n < 0) {
      fprintf(stderr, "ustcp send: waiting for the peer to close: %s\n",
              n == -2 ? "timed out" : strerror(errno));
      goto close_fd;
    }
    break;
  }
  uint8_t d[32];
  char hex[65];
  sha256_final(&h, d);
  sha256_hex(d, hex);
  double el = now_s() - t0;
  printf("sent %llu bytes in %.2f s (%.1f Mbit/s) sha256 %s\n", (unsigned long long)sent, el,
         (double)sent * 8 / 1e6 / (el > 0 ? el : 1), hex);
  fflush(stdout);
  rc = 0;
close_fd:
  ustcp_close(e.s, fd);
done:
  if (in > 0)
    close(in);
  env_close(&e, &c, 1.0);
  return rc;
}

int cmd_recv(int argc, char **argv)
{
  struct common c = {.cmd = "recv", .timeout = 120};
  const char *outpath = NULL;
  int port = 5001;
  for (int i = 1; i < argc; i++) {
    int r = common_opt(&c, argc, argv, &i);
    if (r < 0)
      return 2;
    if (r > 0)
      continue;
    if (!strcmp(argv[i], "--port") && i + 1 < argc)
      port = atoi(argv[++i]);
    else if ((!strcmp(argv[i], "-o") || !strcmp(argv[i], "--output")) && i + 1 < argc)
      outpath = argv[++i];
    else {
      fprintf(stderr,
              "usage: ustcp recv [--port P] [-o FILE] --tun NAME --addr A.B.C.D "
              "[--peer-addr A.B.C.D/NN] [--timeout S]\n%s",
              common_usage);
      return 2;
    }
  }
  if (port < 1 || port > 65535) {
    fprintf(stderr, "ustcp recv: bad --port\n");
    return 2;
  }
  FILE *out = NULL;
  if (outpath && !(out = fopen(outpath, "wb"))) {
    fprintf(stderr, "ustcp recv: %s: %s\n", outpath, strerror(errno));
    return 2;
  }
  struct env e;
  int rc = env_open(&e, &c);
  if (rc) {
    if (out)
      fclose(out);
    return rc;
  }
  install_signals();
  struct ustcp_stack *s = e.s;
  rc = 1;
  int fd = -1, lfd = ustcp_socket(s, AF_INET, SOCK_STREAM, 0);
  int one = 1;
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  sa.sin_addr.s_addr = htonl(INADDR_ANY); /* the stack has one address: e.addr */
  if (lfd < 0 || ustcp_setsockopt(s, lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
      ustcp_bind(s, lfd, (struct sockaddr *)&sa, sizeof(sa)) || ustcp_listen(s, lfd, 1) ||
      set_nonblock(&e, lfd)) {
    fprintf(stderr, "ustcp recv: listen on %s:%d: %s\n", c.addr, port, strerror(errno));
    goto done;
  }
  fprintf(stderr, "ustcp recv: listening on %s:%d (tun %s)\n", c.addr, port, ustcp_tun_name(e.tun));
  double dl = deadline_of(&c);
  int r = wait_fd(&e, lfd, POLLIN, dl);
  if (r > 0)
    fd = ustcp_accept4(s, lfd, NULL, NULL, SOCK_NONBLOCK);
  if (fd < 0) {
    fprintf(stderr, "ustcp recv: accept: %s\n",
            r < 0 || (r > 0 && fd < 0) ? strerror(errno)
            : stop_flag                ? "interrupted"
                                       : "timed out");
    goto done;
  }
  ustcp_close(s, lfd);
  lfd = -1;
  set_keepalive(&e, &c, fd);
  char peer[32];
  fmt_peer(&e, fd, peer, sizeof(peer));
  double t0 = now_s();
  static uint8_t buf[1 << 16];
  struct sha256 h;
  sha256_init(&h);
  uint64_t got = 0;
  for (;;) {
    ssize_t n = read_some(&e, fd, buf, sizeof(buf), dl);
    if (n == 0)
      break;
    if (n < 0) {
      /* keepalive's verdict on a vanished peer is ETIMEDOUT (seed 1.3) */
      fprintf(stderr, "ustcp recv: recv from %s after %llu bytes: %s\n", peer,
              (unsigned long long)got, n == -2 ? "timed out (--timeout)" : strerror(errno));
      goto done;
    }
    if (out && fwrite(buf, 1, (size_t)n, out) != (size_t)n) {
      fprintf(stderr, "ustcp recv: writing %s: %s\n", outpath, strerror(errno));
      goto done;
    }
    sha256_update(&h, buf, (size_t)n);
    got += (uint64_t)n;
  }
  uint8_t d[32];
  char hex[65];
  sha256_final(&h, d);
  sha256_hex(d, hex);
  double el = now_s() - t0;
  printf("received %llu bytes from %s in %.2f s (%.1f Mbit/s) sha256 %s\n", (unsigned long long)got,
         peer, el, (double)got * 8 / 1e6 / (el > 0 ? el : 1), hex);
  fflush(stdout);
  rc = 0;
done:
  if (fd >= 0)
    ustcp_close(s, fd);
  if (lfd >= 0)
    ustcp_close(s, lfd);
  if (out && fclose(out))
    rc = 1;
  env_close(&e, &c, 1.0);
  return rc;
}
