/*
 * lab.h - `ustcp lab`: the seed's socket behaviours as runnable scenarios.
 *
 * A scenario builds a small sim world (named hosts on one link), drives the
 * applications through the socket API, and records everything that happens:
 * every host's trace events (packets, drops, state changes, timers), every
 * system call the scenario makes (with return value, errno and how long it
 * blocked), link losses, and the listen-queue lengths whenever they change.
 * lab_core.c records and "cooks" the events (decodes packets with src/wire,
 * pairs each sent packet with its arrival, drop or loss, numbers
 * connections, computes relative sequence numbers); lab_render.c prints the
 * timeline, the JSON and the SVG ladder; lab_scenarios.c holds the table of
 * scenarios, each with the sentence from SPEC it shows and a verdict that
 * judges the recorded events.
 */
#ifndef USTCP_LAB_H
#define USTCP_LAB_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "ustcp/sim.h"
#include "ustcp/socket.h"
#include "ustcp/ustcp.h"
#include "wire/wire.h"

#define LAB_MAX_HOSTS 4
#define LAB_PORT 8080

enum lab_ev_kind {
  LAB_PKT,   /* a datagram a host sent: t = sent, t_end = arrived */
  LAB_RECV,  /* a datagram that arrived but matches no recorded send */
  LAB_DROP,  /* the stack dropped something it did not send (no PKT_IN seen) */
  LAB_STATE, /* a connection changed state */
  LAB_CALL,  /* a system call the scenario made: t = called, t_end = returned */
  LAB_TIMER, /* a timer fired */
  LAB_NOTE,  /* a remark: from the stack, the sim, or the scenario */
  LAB_QUEUE, /* listen queue lengths changed */
};

enum lab_fate {
  LAB_ARRIVED, /* handed to the receiver's stack */
  LAB_DROPPED, /* the receiver's stack dropped it (stat = reason) */
  LAB_LOST,    /* the link lost it (loss, partition, ...) */
  LAB_UNKNOWN, /* no arrival recorded (still in flight at the end) */
};

/* A decoded datagram. seq/ack are absolute; rseq/rack relative to the ISN of
 * their direction (as Wireshark shows them). */
struct lab_seg {
  bool ip_ok, tcp, icmp, csum_ok;
  uint32_t src, dst; /* host byte order */
  uint16_t sport, dport;
  uint32_t seq, ack, rseq, rack;
  bool rel_ok;   /* rseq is relative (an ISN was seen) */
  bool rack_ok;  /* rack is relative */
  uint8_t flags; /* US_TCP_* */
  uint16_t win;  /* raw window field */
  uint32_t plen; /* payload bytes */
  struct us_tcp_opts opt;
  uint8_t icmp_type, icmp_code;
  int conn; /* connection number, 1.. (0 = not TCP) */
};

struct lab_ev {
  enum lab_ev_kind kind;
  uint64_t t, t_end;
  int host; /* where it happened; packets: the sender */
  int peer; /* packets: the receiver, -1 unknown */
  enum lab_fate fate;
  int stat; /* DROP: enum ustcp_stat */
  uint8_t *pkt;
  size_t len;
  struct lab_seg seg;
  /* STATE */
  int old_state, new_state;
  uint32_t conn_id;
  uint16_t lport, rport;
  uint32_t raddr;
  /* CALL */
  const char *name; /* "close", "recv", ... */
  long ret;
  int err;
  int fd;
  char *text; /* CALL: "close(4)"; TIMER/NOTE: the text */
  /* QUEUE */
  unsigned q_acc, q_syn, q_backlog;
  bool key;       /* the verdict rests on this event (highlighted) */
  bool matched;   /* internal: a PKT_IN/DROP already paired with a send */
  size_t ret_pos; /* CALL: events recorded before it returned (raw, then cooked index) */
};

struct lab_host {
  int id; /* sim host id */
  char name[16];
  char addr_str[16];
  uint32_t addr; /* host byte order */
  struct ustcp_stack *s;
};

struct lab_run {
  const struct lab_scenario *sc;
  struct ustcp_sim *sim;
  struct lab_host host[LAB_MAX_HOSTS];
  int nhosts;
  int link;     /* the link between host 0 and host 1 */
  bool link_up; /* what the scenario last set */
  int dut;      /* index into host[] of the host under test */
  uint64_t latency;
  const char *pcap_path;
  /* listener whose queues are watched */
  int watch_host, watch_fd;
  unsigned last_acc, last_syn, last_backlog;
  bool have_q;
  /* raw (as traced) then cooked (display order) events */
  struct lab_ev *raw;
  size_t nraw, capraw;
  struct lab_ev *ev;
  size_t nev, capev;
  int nconns;
  /* what a scenario remembers for its verdict (times, ports, values) */
  uint64_t mark[16];
  long val[16];
  /* the verdict */
  bool ok;
  char why[1024];
  int setup_err;
};

/* Host indexes every scenario uses. */
#define LAB_CLIENT 0
#define LAB_SERVER 1

struct lab_scenario {
  const char *name;
  const char *title; /* one line for `lab list` */
  const char *spec;  /* the SPEC sentence this shows */
  const char *look;  /* what to look at in the ladder */
  int dut;           /* LAB_CLIENT or LAB_SERVER */
  uint64_t seed;
  unsigned latency_ms;
  void (*config)(int host, struct ustcp_config *cfg); /* may be NULL */
  void (*run)(struct lab_run *r);
  /* Judge the recorded events; write a one-sentence account to why. */
  bool (*verdict)(struct lab_run *r, char *why, size_t n);
};

extern const struct lab_scenario lab_scenarios[];
extern const size_t lab_nscenarios;

/* ---- lab_core.c: world, calls, recording ---- */

/* Build the two-host world for r->sc and run the scenario; then cook the
 * events and judge. Returns 0 if the scenario ran (ok says if it passed). */
int lab_execute(struct lab_run *r, const struct lab_scenario *sc, const char *pcap_path);
void lab_free(struct lab_run *r);

ustcp_time_t lab_now(struct lab_run *r);
/* Run the world up to absolute virtual time t (watching the listen queues). */
void lab_run_to(struct lab_run *r, ustcp_time_t t);
/* Partition (or heal) one direction of the link: from host `from`. */
void lab_partition(struct lab_run *r, int from, bool on);
void lab_note(struct lab_run *r, int host, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Watch the accept/SYN queue lengths of listener fd on host h. */
void lab_watch(struct lab_run *r, int h, int fd);

/* System calls: each records a CALL event (args, return value, errno, and
 * the virtual time it took) and returns what the API returned. */
int lab_socket(struct lab_run *r, int h);
int lab_listener(struct lab_run *r, int h, uint16_t port, int backlog);
int lab_connect(struct lab_run *r, int h, int fd, int to, uint16_t port);
int lab_nonblock(struct lab_run *r, int h, int fd);
int lab_accept(struct lab_run *r, int h, int fd);
ssize_t lab_send(struct lab_run *r, int h, int fd, const void *buf, size_t len);
ssize_t lab_send_n(struct lab_run *r, int h, int fd, size_t len, char fill);
ssize_t lab_recv(struct lab_run *r, int h, int fd, size_t max, int flags);
int lab_close(struct lab_run *r, int h, int fd);
int lab_shutdown(struct lab_run *r, int h, int fd, int how);
int lab_dup(struct lab_run *r, int h, int fd);
int lab_linger(struct lab_run *r, int h, int fd, int on, int secs);
int lab_setint(struct lab_run *r, int h, int fd, int level, int name, const char *optname, int val);
/* The local (peer = false) or remote port of fd, 0 if unknown. */
uint16_t lab_port(struct lab_run *r, int h, int fd, bool peer);
/* The TCP state of fd (recorded as a note). */
int lab_sock_state(struct lab_run *r, int h, int fd);

/* ---- queries for verdicts (over the cooked events) ---- */

/* The n-th (0-based) call named `name` on host h, or NULL. */
const struct lab_ev *lab_call(const struct lab_run *r, int h, const char *name, int nth);
/* Number of packets sent by host h at or after time t0 and before t1 with all
 * of `set` and none of `clear` flags (TCP only); conn 0 = any. */
int lab_count(const struct lab_run *r, int h, int conn, uint8_t set, uint8_t clear, uint64_t t0,
              uint64_t t1);
/* First such packet, or NULL. */
const struct lab_ev *lab_first(const struct lab_run *r, int h, int conn, uint8_t set, uint8_t clear,
                               uint64_t t0, uint64_t t1);
/* First state change on host h into `state` at or after t0, or NULL. */
const struct lab_ev *lab_state_at(const struct lab_run *r, int h, int state, uint64_t t0);
/* The connection (first seen) whose client-side port is `port`, or 0. */
int lab_conn_of_port(const struct lab_run *r, uint16_t port);
/* Largest SYN-queue / accept-queue lengths seen. */
unsigned lab_max_syn(const struct lab_run *r);
unsigned lab_max_acc(const struct lab_run *r);
uint64_t lab_stat(const struct lab_run *r, int h, enum ustcp_stat id);
/* Mark an event the verdict rests on (highlighted in text and SVG); returns e. */
const struct lab_ev *lab_key(const struct lab_ev *e);
/* "c1 client:42764 -> server:8080, c2 ..." for the connections seen. */
void lab_conn_legend(const struct lab_run *r, char *buf, size_t n);

/* ---- lab_render.c ---- */

/* "S", "SA", "FA", "R", "RA", "PA" ... in tcpdump's order of bits. */
const char *lab_flags_str(uint8_t flags, char *buf, size_t n);
/* One packet as "SA seq=0 ack=1 win=65535 len=0". */
void lab_seg_label(const struct lab_ev *e, bool with_conn, bool with_opts, char *buf, size_t n);
void lab_print_text(const struct lab_run *r, FILE *f);
void lab_print_json(const struct lab_run *r, FILE *f);
int lab_write_svg(const struct lab_run *r, const char *path);
/* A one-line summary for `lab run all`. */
void lab_print_summary(const struct lab_run *r, FILE *f);
const char *lab_errno_name(int err);
void lab_fmt_time(uint64_t t, char *buf, size_t n);

#endif
