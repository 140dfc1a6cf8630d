/*
 * tcp.h - internal interface of the TCP engine (src/tcp): the connection
 * block (TCB), the light SYN-queue request and TIME_WAIT entries, the
 * connection tables, and the requests the socket layer makes (tcp_usrreq.c).
 *
 * Call order for a received segment (tcp_input.c):
 *   us_tcp_input -> parse/validate -> demux (4-tuple hash: TCB, request or
 *   TIME_WAIT entry; then listener by port) -> listen/SYN (tcp_listen.c) ->
 *   per-state processing in RFC 9293 3.10.7 order -> output (tcp_output.c).
 * Timers (tcp_timer.c): per-TCB deadlines indexed by enum us_tt and one heap
 * entry for the earliest; requests own one timer each; TIME_WAIT entries
 * wait in one FIFO whose head has the stack's TIME_WAIT timer.
 */
#ifndef US_TCP_H
#define US_TCP_H

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "core/core.h"
#include "tcp/cc.h"
#include "tcp/seq.h"
#include "wire/wire.h"

/* ------------------------------------------------------------- constants */

#define US_TCP_RTO_INIT USTCP_SEC(1)  /* RFC 6298 (2.1); Linux TCP_TIMEOUT_INIT */
#define US_TCP_RTO_MIN USTCP_MS(200)  /* Linux TCP_RTO_MIN */
#define US_TCP_RTO_MAX USTCP_SEC(120) /* Linux TCP_RTO_MAX */
#define US_TCP_TIMEWAIT_LEN USTCP_SEC(60)
#define US_TCP_DELACK_MIN USTCP_MS(40) /* Linux TCP_DELACK_MIN */
#define US_TCP_DELACK_MAX USTCP_MS(200)
#define US_TCP_ATO_MIN USTCP_MS(40)
#define US_TCP_DEFAULT_MSS 536 /* RFC 9293 3.7.1: no MSS option */
#define US_TCP_MIN_MSS 88      /* Linux TCP_MIN_MSS */
#define US_TCP_MAX_WSCALE 14   /* RFC 7323 2.3 */
#define US_TCP_INIT_CWND 10    /* RFC 6928 */
#define US_TCP_OFO_MAX_RANGES 64
#define US_TCP_SACK_MAX_RANGES 32
#define US_TCP_OOW_RATELIMIT_MS 500      /* Linux tcp_invalid_ratelimit */
#define US_TCP_DEFAULT_SCALING_RATIO 128 /* Linux 6.18 TCP_DEFAULT_SCALING_RATIO: 50% */

/* ----------------------------------------------------------- hash entries */

enum us_ent_kind { US_ENT_TCB = 1, US_ENT_REQ, US_ENT_TW };

/* Common head of everything found by 4-tuple (Linux: sock_common). Addresses
 * and ports in host byte order. */
struct us_ent {
  struct us_ent *hnext; /* 4-tuple hash chain */
  struct us_ent *bnext; /* port (bind) chain: TCBs and TIME_WAIT entries */
  uint32_t laddr, raddr;
  uint16_t lport, rport;
  uint8_t kind;
  uint8_t hashed; /* in the 4-tuple hash */
  uint8_t bound;  /* in the port table */
  uint8_t pad_;
  uint32_t conn_id; /* stable id for traces */
};

/* ------------------------------------------------------------------ timers */

enum us_tt {
  US_TT_RTO,       /* retransmission (SYN, data, FIN) */
  US_TT_DELACK,    /* delayed ACK */
  US_TT_PERSIST,   /* zero-window probe */
  US_TT_KEEPALIVE, /* keepalive */
  US_TT_FIN_WAIT2, /* orphaned FIN_WAIT2 (fin_timeout / TCP_LINGER2) */
  US_TT_COUNT
};

/* ---------------------------------------------------------------- the TCB */

enum {
  TF_NODELAY = 1u << 0,
  TF_CORK = 1u << 1,
  TF_KEEPALIVE = 1u << 2,
  TF_LINGER = 1u << 3,
  TF_REUSEADDR = 1u << 4,
  TF_NONBLOCK = 1u << 5,
  TF_SACK_OK = 1u << 6,    /* both sides agreed on SACK */
  TF_TS_OK = 1u << 7,      /* both sides agreed on timestamps */
  TF_WS_OK = 1u << 8,      /* both sides agreed on window scaling */
  TF_FIN_QUEUED = 1u << 9, /* send FIN after the send queue (close/SHUT_WR) */
  TF_SHUT_RD = 1u << 10,
  TF_SHUT_WR = 1u << 11,
  TF_ACK_NOW = 1u << 12,       /* send an ACK at the end of input processing */
  TF_PINGPONG = 1u << 13,      /* interactive: delay ACKs (Linux pingpong) */
  TF_RESET = 1u << 14,         /* connection was reset/aborted: reads 0, writes EPIPE */
  TF_SS_CONNECTING = 1u << 15, /* Linux sock->state SS_CONNECTING */
  TF_SS_CONNECTED = 1u << 16,  /* Linux sock->state SS_CONNECTED */
  TF_AUTOBIND = 1u << 17,      /* port chosen by the stack */
  TF_BOUND_ADDR = 1u << 18,
  TF_IN_ACCEPTQ = 1u << 19,
  TF_ORPHAN = 1u << 20,      /* no descriptor left */
  TF_IN_RECOVERY = 1u << 21, /* fast recovery (RFC 6582 / 6675) */
  TF_IN_LOSS = 1u << 22,     /* after an RTO: retransmitting the window */
  TF_WAS_LISTEN = 1u << 23,
  TF_QUICKACK = 1u << 24,
  TF_RCVBUF_LOCK = 1u << 25,
  TF_SNDBUF_LOCK = 1u << 26,
  TF_FIN_RCVD = 1u << 27,
  TF_RTT_TIMING = 1u << 28,
  TF_EVER_CONN = 1u << 29, /* reached ESTABLISHED once (shutdown ENOTCONN rules) */
  TF_ERR_EPIPE = 1u << 30,
};
#define TF_FIN_ACKED (1u << 31) /* our FIN was ACKed */

struct us_listen;
struct us_ofo;
struct us_sackb;
struct us_sndskb;
struct us_cc_ops;

struct us_tcb {
  struct us_ent e; /* kind US_ENT_TCB */
  struct us_timer timer;
  ustcp_time_t deadline[US_TT_COUNT];

  struct us_bq sndq;      /* bytes [snd_una, snd_una + len): unacked, then unsent */
  struct us_bq rcvq;      /* in-order received data not yet read */
  struct us_ofo *ofo;     /* out-of-order data (NULL until needed) */
  struct us_sackb *sack;  /* what the peer SACKed (NULL until needed) */
  struct us_cubic *cubic; /* CUBIC state (NULL until the first loss) */
  struct us_listen *lq;   /* LISTEN: the two queues */
  struct us_tcb *aq_next;

  uint32_t flags;
  uint32_t fd_refs;                       /* descriptors referring to this socket (src/socket) */
  uint8_t state;                          /* enum ustcp_tcp_state */
  uint8_t snd_wscale : 4, rcv_wscale : 4; /* <= 14 (RFC 7323 2.3) */
  uint8_t backoff;                        /* RTO doublings */
  uint8_t retrans;                        /* retransmissions of the current head (SYN count) */
  uint8_t dupacks;
  uint8_t quick;         /* quick ACKs left (Linux icsk_ack.quick) */
  uint8_t probes;        /* keepalive / zero-window probes unanswered */
  uint8_t scaling_ratio; /* Linux tp->scaling_ratio: window per 256 bytes of buffer */
  uint16_t mss;          /* send MSS (payload bytes) */
  uint16_t rcv_mss;      /* estimate of the peer's segment size */
  uint16_t peer_mss;
  uint16_t user_mss;   /* TCP_MAXSEG, 0 = none */
  uint8_t so_error;    /* pending error (positive errno), reported once */
  uint8_t soft_err;    /* ICMP soft error, reported on timeout (Linux sk_err_soft) */
  uint8_t syn_retries; /* TCP_SYNCNT, 0 = config */
  uint8_t keepcnt;
  uint8_t tlp : 2;        /* RFC 8985: 1 = the RTO slot holds a probe timeout,
                             2 = a probe is out (until tlp_high is ACKed) */
  uint8_t clamp_full : 1; /* window clamp = the full space (Linux, once the ratio is learned) */
  int8_t linger2;         /* TCP_LINGER2 s (<= 120): 0 = fin_timeout, <0 = none */
  uint16_t last_seg_size; /* Linux icsk_ack.last_seg_size */
  uint32_t tlp_high;
  uint32_t snd_sml;          /* end of the last small segment sent (Minshall-Nagle) */
  uint32_t dsack_l, dsack_r; /* RFC 2883 D-SACK to report (empty if equal) */

  /* RFC 9293 3.3.1 */
  uint32_t iss, snd_una, snd_nxt, snd_wnd, snd_wl1, snd_wl2, max_sndwnd;
  uint32_t irs, rcv_nxt, rcv_adv, rcv_wup;
  uint32_t rcv_ssthresh; /* Linux: window grows toward the space */
  uint32_t rcv_space;    /* bytes we may advertise (rcvbuf / 2) */

  /* loss recovery */
  uint32_t rtx_nxt, rtx_high; /* retransmit [rtx_nxt, rtx_high) minus SACKed */
  uint32_t recover;           /* RFC 6582 */
  uint32_t cwnd, ssthresh, cwnd_cnt;

  /* RFC 7323 */
  uint32_t ts_recent, ts_offset;

  /* RFC 6298, microseconds */
  uint32_t srtt_us, rttvar_us, rto_us;
  uint32_t rtt_seq;
  uint32_t drs_copied;        /* receive-buffer autotuning (Linux DRS) */
  struct us_sndskb *sndskb;   /* Linux's skbs of the unsent data (NULL until needed) */
  ustcp_time_t retrans_stamp; /* first retransmission episode start */
  ustcp_time_t last_rcv;      /* keepalive idle, delayed ACK ato */
  ustcp_time_t last_snd_data;
  ustcp_time_t lrcvtime; /* last data received (Linux icsk_ack.lrcvtime) */

  /* options (seconds unless said) */
  uint16_t keepidle, keepintvl; /* <= 32767 (Linux MAX_TCP_KEEPIDLE/INTVL) */
  uint32_t linger;              /* SO_LINGER l_linger */
  uint32_t user_timeout_ms;
  uint32_t rcvtimeo_ms, sndtimeo_ms;
  int32_t rcvbuf, sndbuf; /* as getsockopt reports (doubled) */
  uint32_t last_oow_ms;   /* last out-of-window/challenge ACK (Linux last_oow_ack_time) */
  uint32_t ato_us;        /* delayed-ACK timeout (Linux icsk_ack.ato) */
  uint32_t snd_cur_off;   /* send cursor: queue offset of snd_cur's first byte */
  struct us_chunk *snd_cur;
  uint32_t rtt_time_us; /* when rtt_seq was sent (us, wraps; differences only) */
  uint32_t drs_time_us; /* start of the DRS measurement (us, wraps) */

  /* TCP_INFO counters (Linux tcp_sock, RFC 4898 names) */
  uint32_t segs_in, segs_out, data_segs_in, data_segs_out;
  uint32_t total_retrans, bytes_retrans; /* data segments/bytes sent again */
  uint32_t rcv_ooopack;                  /* segments queued out of order */
  uint32_t delivered;                    /* segments ACKed or SACKed (approx.: by MSS) */
  uint32_t min_rtt_us;                   /* smallest RTT sample, 0 = none */
  uint32_t dsack_dups;                   /* segments the peer reported as duplicates */
};

/* --------------------------------------------------- SYN-queue requests */

/* A light SYN_RECV entry (Linux request_sock, FreeBSD syncache). */
struct us_req {
  struct us_ent e; /* kind US_ENT_REQ */
  struct us_timer timer;
  struct us_tcb *listener;
  struct us_req *lprev, *lnext; /* the listener's list of requests */
  uint32_t iss, irs, ts_recent, ts_offset;
  uint16_t peer_mss;
  uint8_t snd_wscale, rcv_wscale;
  uint8_t opts; /* TF_SACK_OK / TS / WS >> 6 */
  uint8_t retrans;
  uint8_t acked; /* final ACK arrived while the accept queue was full */
  uint32_t rcv_wnd;
  ustcp_time_t sent; /* first SYN-ACK (Linux snt_synack: the RTT sample) */
};

struct us_listen {
  struct us_listen *lnext; /* listener table chain (by port) */
  struct us_tcb *owner;    /* the listening TCB */
  int backlog;
  unsigned aq_len, syn_qlen;
  struct us_tcb *aq_head, *aq_tail;
  struct us_req *reqs;
};

/* ------------------------------------------------------ TIME_WAIT entries */

/* Every entry runs for the same 60 s, so arming order is deadline order:
 * the entries wait in one FIFO (tcp_timewait.c) and only its head has a
 * timer in the heap - a crr client holds tens of thousands of them, which
 * would otherwise deepen every sift of the busy connections' timers. */
struct us_tw {
  struct us_ent e;                 /* kind US_ENT_TW */
  ustcp_time_t when;               /* end of TIME_WAIT */
  struct us_tw *tw_next, *tw_prev; /* the stack's FIFO, by `when` */
  uint32_t snd_nxt, rcv_nxt, ts_recent, ts_offset;
  uint32_t rcv_wnd;
  uint8_t rcv_wscale;
  uint8_t ts_ok;
  uint8_t reuseaddr;
};

/* ------------------------------------------------------- out-of-order data */

struct us_ofo_range {
  uint32_t seq;
  struct us_bq data; /* [seq, seq + data.len) */
};
struct us_ofo {
  uint32_t n;
  uint32_t last;    /* sequence of the most recent arrival (SACK order) */
  uint32_t fin_seq; /* sequence of a FIN that came out of order */
  bool fin;         /* fin_seq is valid */
  size_t bytes;
  struct us_ofo_range r[US_TCP_OFO_MAX_RANGES];
};

/* The unsent data as Linux's write queue holds it: skbs built by
 * tcp_sendmsg_locked() (size goal, forced pushes) and reshaped by
 * tcp_write_xmit() (tcp_grow_skb, tso_fragment). Runs of equal-sized skbs,
 * PSH only possible on the last skb of a run. Allocated while there is
 * unsent data or a push is pending (pushed_seq short of the write end). */
#define US_TCP_SKB_RUNS 32
struct us_skb_run {
  uint32_t end; /* sequence after the run's last skb */
  uint16_t n;   /* skbs of equal size in the run */
  uint8_t psh;  /* the last skb carries PSH */
  uint8_t pad_;
};
struct us_sndskb {
  uint32_t pushed_seq; /* Linux tp->pushed_seq */
  uint32_t start;      /* sequence of runs[0]'s first byte */
  uint32_t nrun;
  struct us_skb_run r[US_TCP_SKB_RUNS];
};

/* What the peer reported SACKed (RFC 2018 / 6675 scoreboard). */
struct us_sackb {
  uint32_t n;
  struct us_tcp_sack_block b[US_TCP_SACK_MAX_RANGES]; /* sorted, disjoint */
};

/* ----------------------------------------------------------- the tables */

struct us_tcp {
  struct us_ent **ehash; /* 4-tuple */
  uint32_t ehash_mask, ehash_count;
  struct us_ent **bhash; /* port -> TCBs and TIME_WAIT entries bound to it */
  uint32_t bhash_mask, bhash_count;
  struct us_listen *lhash[256]; /* listeners only, by port (Linux lhash2) */
  struct us_pool tcb_pool, req_pool, tw_pool, ofo_pool, sack_pool, listen_pool, cc_pool;
  struct us_pool skb_pool; /* struct us_sndskb */
  uint64_t n_tcb, n_req, n_tw;
  struct us_tw *tw_first, *tw_last; /* TIME_WAIT entries by deadline (FIFO) */
  struct us_timer tw_timer;         /* at tw_first->when */
  uint32_t next_conn_id;
  uint64_t hash_seed;
  const struct us_cc_ops *cc;
  uint32_t port_hint;
};

/* Start loading every line of a connection block about to be worked on.
 * At a million connections each line is a cache miss; issued together the
 * misses overlap, where the code would otherwise meet them one after the
 * other (docs/bench.md, conns). */
static inline void us_tcb_prefetch(const struct us_tcb *t)
{
  const char *p = (const char *)t;
#pragma GCC unroll 8
  for (size_t off = 0; off < sizeof(*t); off += 64)
    __builtin_prefetch(p + off, 1, 3);
  __builtin_prefetch(p + sizeof(*t) - 1, 1, 3); /* blocks need not start a line */
}

static inline struct us_tcp *us_tcp_of(struct ustcp_stack *s) { return s->tcp; }
/* Our address in host byte order (the config holds network order). */
static inline uint32_t us_tcp_my_addr(const struct ustcp_stack *s) { return ntohl(s->cfg.addr); }

/* A decoded received segment, borrowed from the datagram. */
struct us_seg {
  const struct us_ipv4_hdr *ip;
  struct us_tcp_hdr h;
  const uint8_t *data;        /* the payload, or NULL when gathered: */
  const struct us_gather *pl; /* payload in pieces (ustcp_input_v), else NULL */
  uint32_t len;               /* payload bytes */
  uint32_t seq;               /* h.seq */
  uint32_t end;               /* seq + len + SYN + FIN */
  const uint8_t *dgram;
  size_t dglen;
  uint32_t tw_isn; /* nonzero: a SYN that reuses a TIME_WAIT entry */
};

/* ---- tcp.c: tables, TCB life cycle, state changes */
static inline uint64_t us_tcp_mix64(uint64_t x)
{
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ull;
  x ^= x >> 33;
  return x;
}
/* Seeded, so a peer cannot aim many tuples at one bucket without knowing
 * the seed; one multiply-xorshift round per lookup. */
static inline uint32_t us_tcp_hash4(const struct us_tcp *tc, uint32_t la, uint16_t lp, uint32_t ra,
                                    uint16_t rp)
{
  uint64_t k = ((uint64_t)ra << 32 | ((uint32_t)lp << 16 | rp)) ^ tc->hash_seed;
  k ^= (uint64_t)la * 0x9e3779b97f4a7c15ull;
  return (uint32_t)us_tcp_mix64(k);
}
struct us_ent *us_tcp_lookup(struct ustcp_stack *s, uint32_t la, uint16_t lp, uint32_t ra,
                             uint16_t rp);
/* The same with the hash already computed (us_tcp_hash4): the input path
 * starts loading the bucket before it parses the header. */
struct us_ent *us_tcp_lookup_h(struct ustcp_stack *s, uint32_t h, uint32_t la, uint16_t lp,
                               uint32_t ra, uint16_t rp);
struct us_tcb *us_tcp_lookup_listener(struct ustcp_stack *s, uint32_t la, uint16_t lp);
void us_tcp_listener_insert(struct ustcp_stack *s, struct us_listen *lq);
void us_tcp_listener_remove(struct ustcp_stack *s, struct us_listen *lq);
int us_tcp_hash_insert(struct ustcp_stack *s, struct us_ent *e);
void us_tcp_hash_remove(struct ustcp_stack *s, struct us_ent *e);
void us_tcp_bind_insert(struct ustcp_stack *s, struct us_ent *e);
void us_tcp_bind_remove(struct ustcp_stack *s, struct us_ent *e);
struct us_ent *us_tcp_bind_chain(struct ustcp_stack *s, uint16_t port);
struct us_tcb *us_tcb_alloc(struct ustcp_stack *s);
/* Free if closed and nobody refers to it; returns NULL if freed. */
struct us_tcb *us_tcb_maybe_free(struct ustcp_stack *s, struct us_tcb *t);
void us_tcb_set_state(struct ustcp_stack *s, struct us_tcb *t, int state);
/* Move to CLOSE: drop buffers, timers, hash; keeps the object while a
 * descriptor or the accept queue holds it. Returns NULL if freed. */
struct us_tcb *us_tcp_done(struct ustcp_stack *s, struct us_tcb *t);
/* Report `err` to the application and close. Returns NULL if freed. */
struct us_tcb *us_tcp_reset(struct ustcp_stack *s, struct us_tcb *t, int err);
uint32_t us_tcp_new_conn_id(struct ustcp_stack *s);
void us_tcp_trace_state(struct ustcp_stack *s, const struct us_ent *e, int old_state,
                        int new_state);
/* Buffer sizing */
void us_tcp_init_buffers(struct ustcp_stack *s, struct us_tcb *t);
uint32_t us_tcp_rcv_space(const struct us_tcb *t);
/* Linux tcp_win_from_space() / tcp_space_from_win(): buffer bytes (skb
 * truesize) <-> window bytes at the connection's scaling_ratio. */
uint32_t us_tcp_win_from_space(const struct us_tcb *t, uint64_t space);
uint64_t us_tcp_space_from_win(const struct us_tcb *t, uint32_t win);
/* Estimated truesize of a received segment of `len` payload bytes behind
 * `hdr` header bytes (a linear skb as the TUN driver builds it). */
uint32_t us_tcp_truesize(uint32_t len, uint32_t hdr);
/* Linux tcp_under_memory_pressure(): the stack's memory is past two thirds
 * of its cap (Linux: tcp_mem[1] is two thirds of tcp_mem[2]). */
static inline bool us_tcp_mem_pressure(const struct ustcp_stack *s)
{
  return us_mem_used(s) > s->mem_limit / 3 * 2;
}
/* Linux tcp_space(): window for the free part of the receive buffer. */
uint32_t us_tcp_free_space(const struct us_tcb *t);
/* Linux window_clamp: the space less one segment kept in reserve
 * (tcp_init_buffer_space "force reservation of one segment"). */
uint32_t us_tcp_window_clamp(const struct ustcp_stack *s, const struct us_tcb *t);
uint32_t us_tcp_snd_space(const struct ustcp_stack *s, const struct us_tcb *t);

/* ---- tcp_isn.c: RFC 6528 ISN, RFC 6056 ports, timestamp offsets */
uint32_t us_tcp_isn(struct ustcp_stack *s, uint32_t la, uint16_t lp, uint32_t ra, uint16_t rp);
uint32_t us_tcp_ts_offset(struct ustcp_stack *s, uint32_t la, uint32_t ra);
int us_tcp_pick_port(struct ustcp_stack *s, uint32_t la, uint32_t ra, uint16_t rp, uint16_t *out);
int us_tcp_pick_listen_port(struct ustcp_stack *s, uint16_t *out);
/* A 32-bit microsecond clock for stamps only compared by difference. */
static inline uint32_t us_tcp_now_us(const struct ustcp_stack *s)
{
  return (uint32_t)(s->now / 1000u);
}
static inline uint32_t us_tcp_ts_now(const struct ustcp_stack *s)
{
  return (uint32_t)(s->now / 1000000u); /* Linux: 1 ms timestamp clock */
}

/* ---- tcp_output.c */
/* Send what the windows allow (data, FIN); ACK if TF_ACK_NOW. */
void us_tcp_output(struct ustcp_stack *s, struct us_tcb *t);
void us_tcp_send_ack(struct ustcp_stack *s, struct us_tcb *t);
void us_tcp_send_syn(struct ustcp_stack *s, struct us_tcb *t);
/* Our SYN/SYN-ACK window scale for socket t (a listener for a SYN-ACK). */
uint8_t us_tcp_syn_wscale(const struct ustcp_stack *s, const struct us_tcb *t);
/* RST+ACK seq = SND.NXT ack = RCV.NXT (abort of a synchronized connection) */
void us_tcp_send_rst_abort(struct ustcp_stack *s, struct us_tcb *t);
/* Send what the (small, non-zero) send window allows now (persist). */
void us_tcp_send_window_fill(struct ustcp_stack *s, struct us_tcb *t);
/* Keepalive / zero-window probe: seq = SND.UNA - 1, no data. */
void us_tcp_send_probe(struct ustcp_stack *s, struct us_tcb *t);
/* Reply to a segment no connection wants (RFC 9293 3.10.7.1). */
void us_tcp_send_rst_reply(struct ustcp_stack *s, const struct us_seg *sg);
/* Send a bare segment for a tuple with no TCB (requests, TIME_WAIT). */
void us_tcp_send_raw(struct ustcp_stack *s, uint32_t la, uint16_t lp, uint32_t ra, uint16_t rp,
                     uint32_t seq, uint32_t ack, uint8_t flags, uint32_t win,
                     const struct us_tcp_opts *o);
void us_tcp_send_synack(struct ustcp_stack *s, struct us_req *r);
uint32_t us_tcp_select_window(struct ustcp_stack *s, struct us_tcb *t);
/* Linux tcp_xmit_size_goal(): bytes per skb tcp_sendmsg builds. */
uint32_t us_tcp_size_goal(const struct us_tcb *t);
/* Linux tcp_sendmsg_locked() after the checks: queue `want` bytes of the
 * iovecs (after `skip`) skb by skb with Linux's pushes and PSH marks, and
 * send; `cut` = the call queues less than asked (buffer full). Returns
 * bytes queued. */
size_t us_tcp_write(struct ustcp_stack *s, struct us_tcb *t, const struct iovec *iov, int iovcnt,
                    size_t skip, size_t want, int flags, bool cut);
void us_tcp_sndskb_free(struct ustcp_stack *s, struct us_tcb *t);
/* Linux tcp_oow_rate_limited(): one out-of-window ACK (challenge ACKs
 * included) per 500 ms per connection. */
bool us_tcp_challenge_ok(struct ustcp_stack *s, struct us_tcb *t);
bool us_tcp_oow_ok(struct ustcp_stack *s, struct us_tcb *t);
void us_tcp_retransmit_head(struct ustcp_stack *s, struct us_tcb *t);

/* ---- tcp_input.c */
void us_tcp_parse_syn_opts(struct ustcp_stack *s, struct us_tcb *t, const struct us_tcp_opts *o);
/* Process a segment for a TCB; consumes nothing (segment borrowed). */
void us_tcp_rcv(struct ustcp_stack *s, struct us_tcb *t, struct us_seg *sg);

/* ---- tcp_listen.c */
int us_tcp_listen_start(struct ustcp_stack *s, struct us_tcb *t, int backlog);
void us_tcp_listen_stop(struct ustcp_stack *s, struct us_tcb *t);
void us_tcp_listen_rcv(struct ustcp_stack *s, struct us_tcb *l, struct us_seg *sg);
void us_tcp_req_rcv(struct ustcp_stack *s, struct us_req *r, struct us_seg *sg);
void us_tcp_req_free(struct ustcp_stack *s, struct us_req *r);
struct us_tcb *us_tcp_accept_pop(struct ustcp_stack *s, struct us_tcb *l);

/* ---- tcp_timewait.c */
void us_tcp_tw_enter(struct ustcp_stack *s, struct us_tcb *t);
void us_tcp_tw_rcv(struct ustcp_stack *s, struct us_tw *tw, struct us_seg *sg);
void us_tcp_tw_free(struct ustcp_stack *s, struct us_tw *tw);
void us_tcp_tw_init(struct ustcp_stack *s);

/* ---- tcp_timer.c */
void us_tcb_timer_init(struct us_tcb *t);
void us_tcb_timer_set(struct ustcp_stack *s, struct us_tcb *t, enum us_tt k, ustcp_time_t when);
void us_tcb_timer_clear(struct ustcp_stack *s, struct us_tcb *t, enum us_tt k);
void us_tcb_timers_stop(struct ustcp_stack *s, struct us_tcb *t);
void us_tcp_rearm_rto(struct ustcp_stack *s, struct us_tcb *t);
/* After new data went out: (re)arm the RTO or the tail loss probe. */
void us_tcp_set_xmit_timer(struct ustcp_stack *s, struct us_tcb *t);
/* RFC 8985 7.3: send a loss probe (new data or the last segment). */
void us_tcp_send_loss_probe(struct ustcp_stack *s, struct us_tcb *t);
void us_tcp_arm_keepalive(struct ustcp_stack *s, struct us_tcb *t);
ustcp_time_t us_tcp_rto(const struct us_tcb *t);

/* ---- tcp_rtt.c */
void us_tcp_rtt_sample(struct us_tcb *t, uint32_t rtt_us);

/* ---- tcp_reass.c */
/* Queue out-of-order data [seq, seq+len); returns bytes newly held or -1 if
 * it could not be held (memory / range cap). */
int us_tcp_ofo_insert(struct ustcp_stack *s, struct us_tcb *t, uint32_t seq, const uint8_t *d,
                      uint32_t len);
/* Move data now in order into rcvq; returns bytes moved. *fin is set when
 * a FIN held out of order is now in order (at the new RCV.NXT). */
uint32_t us_tcp_ofo_pull(struct ustcp_stack *s, struct us_tcb *t, bool *fin);
/* Remember a FIN at `seq` beyond a hole, with or without data (Linux keeps
 * it in the ofo queue and SACKs its sequence number); -1 without memory. */
int us_tcp_ofo_fin(struct ustcp_stack *s, struct us_tcb *t, uint32_t seq);
void us_tcp_ofo_free(struct ustcp_stack *s, struct us_tcb *t);
/* Linux tcp_prune_ofo_queue(): drop the highest out-of-order range (and a
 * FIN held beyond it) to make memory for in-order data; bytes dropped. */
uint32_t us_tcp_ofo_prune(struct ustcp_stack *s, struct us_tcb *t);
/* Fill our SACK blocks (RFC 2018 4: most recent first). */
uint8_t us_tcp_sack_blocks(const struct us_tcb *t, struct us_tcp_sack_block *b, uint8_t max);

/* ---- tcp_sack.c: the peer's SACK information */
void us_tcp_sack_update(struct ustcp_stack *s, struct us_tcb *t, const struct us_tcp_opts *o);
void us_tcp_sack_ack(struct ustcp_stack *s, struct us_tcb *t); /* after snd_una moved */
uint32_t us_tcp_sacked_bytes(const struct us_tcb *t, uint32_t from, uint32_t to);
uint32_t us_tcp_sack_highest(const struct us_tcb *t);
/* First byte >= seq that is not SACKed, and the length of that hole (capped). */
uint32_t us_tcp_sack_next_hole(const struct us_tcb *t, uint32_t seq, uint32_t limit, uint32_t *len);
void us_tcp_sack_free(struct ustcp_stack *s, struct us_tcb *t);

/* ---- tcp_usrreq.c: the socket layer's requests (negative errno) */
struct us_tcb *us_tcp_socket(struct ustcp_stack *s);
int us_tcp_bind(struct ustcp_stack *s, struct us_tcb *t, uint32_t addr, uint16_t port);
int us_tcp_listen(struct ustcp_stack *s, struct us_tcb *t, int backlog);
int us_tcp_connect(struct ustcp_stack *s, struct us_tcb *t, uint32_t addr, uint16_t port);
ssize_t us_tcp_send(struct ustcp_stack *s, struct us_tcb *t, const struct iovec *iov, int iovcnt,
                    size_t skip, int flags);
ssize_t us_tcp_recv(struct ustcp_stack *s, struct us_tcb *t, const struct iovec *iov, int iovcnt,
                    size_t skip, int flags);
int us_tcp_shutdown(struct ustcp_stack *s, struct us_tcb *t, int how);
/* The last descriptor went away: the protocol close (RST or FIN). The TCB
 * stays valid until us_tcp_orphan(); SO_LINGER waits in between. */
void us_tcp_close(struct ustcp_stack *s, struct us_tcb *t);
/* Shut the sending side now (FIN after queued data), Linux tcp_shutdown. */
void us_tcp_send_fin_now(struct ustcp_stack *s, struct us_tcb *t);
/* Hand the TCB to the stack (no descriptor left). */
void us_tcp_orphan(struct ustcp_stack *s, struct us_tcb *t);
/* Finish a connect() (Linux __inet_stream_connect after the wait). */
int us_tcp_connect_finish(struct ustcp_stack *s, struct us_tcb *t, int err);
bool us_tcp_connecting(const struct us_tcb *t);
void us_tcp_set_mss(struct ustcp_stack *s, struct us_tcb *t);
uint32_t us_tcp_pmtu(const struct ustcp_stack *s, const struct us_tcb *t);
void us_tcp_fin_wait2_arm(struct ustcp_stack *s, struct us_tcb *t);
/* SO_LINGER>0: is close() done waiting? */
bool us_tcp_linger_done(const struct us_tcb *t);
int us_tcp_take_error(struct us_tcb *t);
short us_tcp_poll(struct ustcp_stack *s, struct us_tcb *t);
size_t us_tcp_outq(const struct us_tcb *t);
void us_tcp_rcv_consumed(struct ustcp_stack *s, struct us_tcb *t, size_t n);
bool us_tcp_is_sync(int state);

/* The checksum of an outgoing segment: full, or only the pseudo-header sum
 * when the link completes it (tx_csum_offload; Linux CHECKSUM_PARTIAL). */
static inline void us_tcp_csum_out(struct ustcp_stack *s, uint8_t *seg, size_t len, uint32_t src,
                                   uint32_t dst)
{
  if (s->cfg.tx_csum_offload)
    us_tcp_csum_partial(seg, len, src, dst);
  else
    us_tcp_csum_fill(seg, len, src, dst);
}

/* Slices of one gathered segment: headers + up to 64 KiB of 2016-byte
 * chunks (34 slices at most when the queue's middle chunks are full). */
#define US_TCP_XMIT_IOV 40

#endif
