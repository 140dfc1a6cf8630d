/*
 * drill.h - the `ustcp drill` runner: packetdrill-syntax scripts parsed into
 * a list of events (parser.c), run against a target (runner.c) that is
 * either an in-process ustcp stack on virtual time (target_ustcp.c) or the
 * running Linux kernel in a private network namespace behind a TUN device
 * (target_linux.c). Packets are built and checked by pkt.c.
 *
 * Tool-internal names use the dr_ prefix; nothing here is library code.
 */
#ifndef USTCP_DRILL_H
#define USTCP_DRILL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------ addresses */

/* packetdrill's defaults: the kernel under test is 192.168.0.1 (in
 * 192.168.0.0/16), the scripted remote peer is 192.0.2.1. */
#define DR_LOCAL_IP 0xc0a80001u   /* 192.168.0.1 */
#define DR_REMOTE_IP 0xc0000201u  /* 192.0.2.1 */
#define DR_LOCAL_PORT 8080        /* bind(..., ...) */
#define DR_REMOTE_PORT 8080       /* connect(..., ...) */
#define DR_REMOTE_PORT_BASE 40000 /* the remote's port for flow N is base + N */
#define DR_MAX_FLOWS 32
#define DR_DEFAULT_TOLERANCE_US 4000 /* packetdrill's default */

/* ------------------------------------------------------------ the script */

enum dr_time_kind { DR_T_ABS, DR_T_REL, DR_T_ANY };

struct dr_time {
  enum dr_time_kind kind;
  int64_t us;     /* absolute or relative start */
  bool range;     /* "a~b": any time in [us, end_us] */
  int64_t end_us; /* range end, same kind as us */
};

enum dr_opt_kind {
  DR_OPT_MSS,
  DR_OPT_SACKOK,
  DR_OPT_TS,
  DR_OPT_NOP,
  DR_OPT_WS,
  DR_OPT_SACK,
  DR_OPT_EOL
};

#define DR_MAX_OPTS 16
struct dr_opt {
  enum dr_opt_kind kind;
  uint32_t a, b;       /* mss / ws / TS val, ecr */
  uint8_t nsack;       /* SACK blocks */
  uint32_t sack[4][2]; /* left, right */
};

struct dr_pkt {
  int flow;      /* "@N" extension: which remote connection (default 0) */
  uint8_t flags; /* DR_TCP_* */
  uint32_t seq, end, len;
  bool has_ack;
  uint32_t ack;
  bool has_win;
  uint32_t win;
  bool opts_any; /* "<...>": options not checked */
  int nopt;
  struct dr_opt opt[DR_MAX_OPTS];
  /* "< icmp unreachable frag_needed mtu 1000 [1:1461(1460)]" (inbound
   * only): an ICMP error quoting our segment seq:end(len) of the flow */
  bool icmp;
  uint8_t icmp_type, icmp_code;
  uint16_t icmp_mtu;
};

#define DR_TCP_FIN 0x01
#define DR_TCP_SYN 0x02
#define DR_TCP_RST 0x04
#define DR_TCP_PSH 0x08
#define DR_TCP_ACK 0x10
#define DR_TCP_URG 0x20
#define DR_TCP_ECE 0x40
#define DR_TCP_CWR 0x80

/* A system call argument or expected value. */
enum dr_val_kind { DR_V_INT, DR_V_ELLIPSIS, DR_V_LIST, DR_V_STRUCT, DR_V_STR };

struct dr_val {
  enum dr_val_kind kind;
  int64_t i;      /* DR_V_INT */
  char *name;     /* struct field name ("onoff", "msg_iov"), or NULL */
  bool has_count; /* "msg_iov(1)=..." */
  int64_t count;
  char *str;        /* DR_V_STR */
  struct dr_val *v; /* DR_V_LIST / DR_V_STRUCT items */
  int n;
};

struct dr_call {
  char *name;
  struct dr_val *args;
  int nargs;
  bool ret_any; /* "= ..." */
  int64_t ret;
  int err;    /* expected errno when ret == -1, 0 = none given */
  char *note; /* "(text)" after the result */
};

enum dr_ev_kind { DR_EV_IN, DR_EV_OUT, DR_EV_CALL, DR_EV_SHELL, DR_EV_PYTHON };

struct dr_event {
  enum dr_ev_kind kind;
  int line, col;
  struct dr_time t;
  bool untimed;       /* a shell/python event written without a time */
  bool blocking;      /* "t1...t2 call": call starts at t1, returns at t2 */
  struct dr_time end; /* return time of a blocking call */
  struct dr_pkt pkt;
  struct dr_call call;
  char *text; /* shell command / python code */
};

struct dr_script {
  char *path;
  char *src;
  struct dr_event *ev;
  int nev, cap;
  bool ustcp_only; /* first line "// ustcp-only: reason" */
  char *ustcp_only_reason;
  bool linux_only; /* first line "// linux-only: reason" (a seed difference:
                      Linux's behaviour where ustcp follows the seed) */
  char *linux_only_reason;
  int64_t tolerance_us; /* from a "--tolerance_usecs=N" line, or -1 */
};

/* Parse text (NUL-terminated) into sc. Returns 0, or -1 with a message
 * "LINE:COL: what" in err. */
int dr_parse(const char *path, const char *text, struct dr_script *sc, char *err, size_t errlen);
int dr_parse_file(const char *path, struct dr_script *sc, char *err, size_t errlen);
void dr_script_free(struct dr_script *sc);

/* Symbolic constants scripts may use (SOL_SOCKET, EAGAIN, POLLIN ...). */
bool dr_symbol(const char *name, int64_t *out);
const char *dr_errno_name(int err);

/* ------------------------------------------------------------- packets */

/* One decoded IPv4/TCP packet. */
struct dr_seg {
  uint32_t src, dst;
  uint16_t sport, dport;
  uint32_t seq, ack;
  uint8_t flags;
  uint16_t win;
  uint32_t len; /* payload bytes */
  int nopt;
  struct dr_opt opt[DR_MAX_OPTS];
  uint8_t opt_len; /* bytes of options */
};

/* Parse a datagram; returns 0, or -1 if it is not a well-formed IPv4 TCP
 * segment (err says why). */
int dr_seg_parse(const uint8_t *buf, size_t len, struct dr_seg *out, char *err, size_t errlen);
/* Build an IPv4+TCP datagram with payload of zero bytes (and correct
 * checksums). Returns its length, or -1 if buf is too small. */
int dr_seg_build(const struct dr_seg *sg, uint8_t *buf, size_t cap);
/* Build an ICMP error from src to dst quoting `quoted` (its IPv4 header and
 * TCP header, no payload), with the next-hop MTU for fragmentation needed.
 * Returns its length, or -1 if buf is too small. */
int dr_icmp_build(uint32_t src, uint32_t dst, uint8_t type, uint8_t code, uint16_t mtu,
                  const struct dr_seg *quoted, uint8_t *buf, size_t cap);
/* "S. 0:0(0) ack 1 win 65535 <mss 1460,...>" for messages. */
void dr_seg_format(const struct dr_seg *sg, char *out, size_t cap);
void dr_flags_format(uint8_t flags, char *out);
void dr_opts_format(const struct dr_opt *o, int n, char *out, size_t cap);

/* ------------------------------------------------------------- targets */

struct dr_run;

/* Script descriptors are mapped to the target's own (packetdrill does the
 * same): a new descriptor gets the lowest free script number from 3 up. */
#define DR_MAX_FDS 1024
struct dr_fdmap {
  int live[DR_MAX_FDS]; /* script fd -> live fd + 1 (0: unused) */
};
int dr_fd_live(const struct dr_fdmap *m, int script_fd);

/* The outcome of one system call. */
struct dr_callres {
  long long ret;
  int err;
  char mismatch[256]; /* output-parameter mismatch, "" if none */
};

/* A target runs system calls and exchanges packets. Times are microseconds
 * since the script's start on the target's clock. */
struct dr_target_ops {
  const char *name;
  bool virtual_time; /* exact timing: script tolerance lines are ignored */
  /* Called at the start of a script (after leading shell events have been
   * recorded by shell()): create the stack / namespace. */
  int (*start)(struct dr_run *r);
  void (*stop)(struct dr_run *r);
  int64_t (*now)(struct dr_run *r);
  /* Let time pass until t (virtual: run timers; real: sleep). */
  void (*wait_until)(struct dr_run *r, int64_t t);
  int (*inject)(struct dr_run *r, const uint8_t *pkt, size_t len);
  /* The next packet the target sent, waiting until `deadline` at most.
   * Returns 1 with a packet (and its send time), 0 if none came. */
  int (*next_pkt)(struct dr_run *r, int64_t deadline, uint8_t *buf, size_t *len, int64_t *t);
  /* Start a system call; if the target can complete it without time
   * passing, it finishes before returning. */
  void (*call_start)(struct dr_run *r, struct dr_event *ev);
  /* Wait until the started call has returned or `deadline` passed (time
   * moves on meanwhile). Returns 1 if it returned, with its result. */
  int (*call_wait)(struct dr_run *r, int64_t deadline, struct dr_callres *res, int64_t *t);
  /* Run a shell command (backtick event). Returns its exit status. */
  int (*shell)(struct dr_run *r, const char *cmd);
  /* Make "now" script time 0 again (after untimed leading commands, which
   * may take real time); NULL if time cannot have moved. */
  void (*zero)(struct dr_run *r);
  /* struct tcp_info of fd as "tcpi_name = value" lines; 0 or -errno. */
  int (*tcp_info)(struct dr_run *r, int fd, char *out, size_t cap);
};

extern const struct dr_target_ops dr_target_ustcp;
extern const struct dr_target_ops dr_target_linux;

struct dr_flow {
  bool used, known;
  uint16_t lport, rport;
  bool have_isn;
  uint32_t isn_live, isn_script;
  uint32_t peer_mss;
  int nts;
  uint32_t ts_script[64], ts_live[64]; /* outbound TS val map */
  uint32_t last_ts_live;
  bool have_ts;
};

struct dr_run {
  const struct dr_target_ops *ops;
  struct dr_script *sc;
  int64_t tolerance_us;
  int verbose;
  void *tgt; /* target-private state */
  struct dr_flow flow[DR_MAX_FLOWS];
  uint16_t bind_port;
  int info_fd; /* socket whose TCP_INFO %{ }% blocks see (script fd) */
  struct dr_fdmap fds;
  /* the failure, if any */
  bool failed;
  char msg[1024];
  /* the current blocking call */
  struct dr_event *pending;
  int64_t pending_start;
  /* sysctls recorded by the ustcp target's shim */
  char sysctls[4096];
};

/* Run one script through target `ops`; fills r->failed/r->msg. Returns 0
 * on PASS, 1 on FAIL. */
int dr_run_script(struct dr_script *sc, const struct dr_target_ops *ops, int64_t tolerance_us,
                  int verbose, char *msg, size_t msglen);

/* Shared system call executor: performs ev->call with the function table
 * below (each target provides one), returning the result and errno.
 * Values that are output parameters ([N] for getsockopt, revents for poll,
 * FIONREAD) are compared here; a mismatch is reported through *mismatch. */
struct dr_sysops {
  void *u;
  long long (*socket)(void *u, int domain, int type, int proto);
  long long (*bind)(void *u, int fd, const void *addr, unsigned len);
  long long (*listen)(void *u, int fd, int backlog);
  long long (*accept)(void *u, int fd, void *addr, unsigned *len);
  long long (*connect)(void *u, int fd, const void *addr, unsigned len);
  long long (*read)(void *u, int fd, void *buf, size_t n);
  long long (*write)(void *u, int fd, const void *buf, size_t n);
  long long (*send)(void *u, int fd, const void *buf, size_t n, int flags);
  long long (*recv)(void *u, int fd, void *buf, size_t n, int flags);
  long long (*readv)(void *u, int fd, const void *iov, int cnt);
  long long (*writev)(void *u, int fd, const void *iov, int cnt);
  long long (*sendmsg)(void *u, int fd, const void *msg, int flags);
  long long (*recvmsg)(void *u, int fd, void *msg, int flags);
  long long (*close)(void *u, int fd);
  long long (*shutdown)(void *u, int fd, int how);
  long long (*dup)(void *u, int fd);
  long long (*setsockopt)(void *u, int fd, int level, int name, const void *v, unsigned len);
  long long (*getsockopt)(void *u, int fd, int level, int name, void *v, unsigned *len);
  long long (*fcntl)(void *u, int fd, int cmd, long arg);
  long long (*ioctl)(void *u, int fd, unsigned long req, int *arg);
  long long (*poll)(void *u, void *fds, unsigned n, int timeout);
  int (*get_errno)(void *u);
};

void dr_exec_call(const struct dr_sysops *so, struct dr_fdmap *fm, const struct dr_call *c,
                  struct dr_callres *res);
/* A struct tcp_info (netinet/tcp.h) as Python "tcpi_name = value" lines
 * for %{ }% blocks; returns 0. */
int dr_tcp_info_format(const void *tcp_info, char *out, size_t cap);
/* Validate a call's shape at parse time; NULL or a message. */
const char *dr_check_call(const struct dr_call *c);

#endif
