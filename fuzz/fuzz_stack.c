/*
 * fuzz_stack.c - libFuzzer target: "packets plus time steps" into a live
 * stack built through the public API (a listener on port 80 and an active
 * connection to the peer).
 *
 * The input is a list of records, each starting with one op byte:
 *   op % 8 == 0  advance time (ms, seconds or minutes; see step_time)
 *   op % 8 == 1  raw datagram: u16 length + bytes; dst patched to the stack,
 *                optionally IP, TCP and ICMP checksums fixed (bits 4/5/6)
 *   op % 8 == 2  well-formed TCP segment on a known flow, sequence and ack
 *                numbers relative to what the stack last sent, so the fuzzer
 *                can complete handshakes and move data
 *   op % 8 == 3  a socket API call (accept, send, recv, shutdown, close,
 *                setsockopt, connect, poll) on a known descriptor
 *   op % 8 == 4  an ICMP error quoting the stack's last TCP segment
 *   op % 8 == 5  a well-formed SYN from a new peer port to port 80
 *   op % 8 == 6  a burst of data segments on a known flow (see op_bulk)
 *   otherwise    a short time step
 * op 1 with bit 7 set hands the datagram over in pieces (ustcp_input_v, cut
 * at points taken from its own bytes, headers included); every second
 * segment of ops 2, 5 and 6 goes in three pieces too: both entry points
 * must behave the same.
 * The stack's output is parsed to learn flows (ports, the sequence numbers
 * it expects). Harness state is file-static: this file is not the library.
 *
 * FUZZ_STACK_VERBOSE=1 prints each record and segment sent. FUZZ_STACK_STRICT=1
 * also traps when a socket, request or TIME_WAIT entry survives ten minutes
 * after every descriptor was closed (TCP_USER_TIMEOUT is then not set, as it
 * legitimately keeps an orphan alive that long).
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/time.h>

#include "ustcp/socket.h"
#include "ustcp/ustcp.h"
#include "wire/wire.h"

/* The socket API is referenced weakly: while the socket layer is not in
 * the library the calls are skipped (cmake/fuzz.cmake links the whole
 * library archive, so every symbol it has is found). */
#define WEAK(fn) extern __typeof__(fn) fn __attribute__((weak))
WEAK(ustcp_socket);
WEAK(ustcp_bind);
WEAK(ustcp_listen);
WEAK(ustcp_accept);
WEAK(ustcp_connect);
WEAK(ustcp_send);
WEAK(ustcp_recv);
WEAK(ustcp_shutdown);
WEAK(ustcp_close);
WEAK(ustcp_setsockopt);
WEAK(ustcp_getsockopt);
WEAK(ustcp_dup);
WEAK(ustcp_fcntl);
WEAK(ustcp_ioctl);
WEAK(ustcp_getsockname);
WEAK(ustcp_getpeername);
WEAK(ustcp_readv);
WEAK(ustcp_writev);
WEAK(ustcp_recvmsg);
WEAK(ustcp_sendmsg);
WEAK(ustcp_accept4);
WEAK(ustcp_poll);
WEAK(ustcp_listen_info);
WEAK(ustcp_sock_state);
/* Call fn if the library has it, else evaluate to -1. */
#define API(fn, ...) (fn ? fn(__VA_ARGS__) : -1)

#define US_ADDR 0x0a000001u /* 10.0.0.1, host order */
#define PEER 0x0a000002u
#define MAX_FLOWS 32
#define MAX_FDS 32

struct flow {
  uint16_t sport, dport; /* stack's port, peer's port */
  uint32_t peer;
  uint32_t stack_nxt; /* next sequence number the stack will send */
  uint32_t stack_ack; /* what the stack acknowledged (our next seq) */
  uint32_t peer_isn;
};

struct fz {
  struct ustcp_stack *s;
  ustcp_time_t now;
  struct flow flows[MAX_FLOWS];
  int nflows, next_flow;
  uint8_t last_out[1500];
  size_t last_out_len;
  int fds[MAX_FDS];
  int nfds;
  int listener;
  int outputs;
  unsigned injected;
  bool verbose; /* FUZZ_STACK_VERBOSE=1: print what the stack sends */
  bool strict;  /* FUZZ_STACK_STRICT=1: nothing may outlive close by 10 min */
};
static struct fz F;

struct rd {
  const uint8_t *p;
  size_t n;
};
static uint8_t u8(struct rd *r)
{
  if (!r->n)
    return 0;
  r->n--;
  return *r->p++;
}
static uint16_t u16(struct rd *r) { return (uint16_t)(u8(r) << 8 | u8(r)); }
static uint32_t u32(struct rd *r) { return (uint32_t)u16(r) << 16 | u16(r); }

static struct flow *flow_find(uint16_t sport, uint32_t peer, uint16_t dport, bool add)
{
  for (int i = 0; i < F.nflows; i++)
    if (F.flows[i].sport == sport && F.flows[i].dport == dport && F.flows[i].peer == peer)
      return &F.flows[i];
  if (!add)
    return NULL;
  struct flow *f;
  if (F.nflows < MAX_FLOWS) {
    f = &F.flows[F.nflows++];
  } else {
    f = &F.flows[F.next_flow];
    F.next_flow = (F.next_flow + 1) % MAX_FLOWS;
  }
  memset(f, 0, sizeof *f);
  f->sport = sport;
  f->dport = dport;
  f->peer = peer;
  return f;
}

static int on_output(void *user, const uint8_t *pkt, size_t len)
{
  (void)user;
  F.outputs++;
  struct us_ipv4_hdr ip;
  struct us_tcp_hdr th;
  /* Whatever the stack sends must be a valid datagram. */
  if (us_ipv4_parse(pkt, len, &ip) != 0)
    __builtin_trap();
  if (ip.src != US_ADDR)
    __builtin_trap();
  if (ip.proto != US_IPPROTO_TCP)
    return 0;
  const uint8_t *seg = pkt + ip.hdr_len;
  size_t slen = (size_t)ip.total_len - ip.hdr_len;
  if (us_tcp_parse(seg, slen, ip.src, ip.dst, true, &th) != 0)
    __builtin_trap(); /* the stack sent a malformed or mis-summed segment */
  /* Segment-level invariants of what Linux sends: RST never carries SYN or
   * FIN; every segment but a SYN or a RST carries ACK (RFC 9293 3.10.7.4:
   * once synchronized, ACK is always set); a SYN carries MSS and a window
   * scale of at most 14 (RFC 7323 2.3). */
  uint8_t fl = th.flags;
  if ((fl & US_TCP_RST) && (fl & (US_TCP_SYN | US_TCP_FIN)))
    __builtin_trap();
  if (!(fl & (US_TCP_SYN | US_TCP_RST)) && !(fl & US_TCP_ACK))
    __builtin_trap();
  if ((fl & US_TCP_SYN) && (!th.opt.mss_ok || (th.opt.ws_ok && th.opt.ws > 14)))
    __builtin_trap();
  if (F.verbose)
    fprintf(stderr, "  out %u -> %u flags %02x seq %u ack %u win %u len %zu\n", th.sport, th.dport,
            th.flags, th.seq, th.ack, th.win, slen - th.hdr_len);
  memcpy(F.last_out, pkt, len < sizeof F.last_out ? len : sizeof F.last_out);
  F.last_out_len = len < sizeof F.last_out ? len : sizeof F.last_out;
  if (th.flags & US_TCP_RST)
    return 0;
  struct flow *f = flow_find(th.sport, ip.dst, th.dport, true);
  uint32_t dlen = (uint32_t)(slen - th.hdr_len);
  f->stack_nxt = th.seq + dlen + !!(th.flags & US_TCP_SYN) + !!(th.flags & US_TCP_FIN);
  if (th.flags & US_TCP_ACK)
    f->stack_ack = th.ack;
  return 0;
}

static ustcp_time_t on_now(void *user)
{
  (void)user;
  return F.now;
}

static const struct ustcp_link_ops ops = {.output = on_output, .now = on_now};

/* Feed a datagram: whole (cut 0) or in three pieces, [0, cut), [cut, mid)
 * and [mid, len), through ustcp_input_v. */
static void input_pieces(const uint8_t *pkt, size_t len, size_t cut)
{
  if (!cut || cut >= len) {
    ustcp_input(F.s, pkt, len);
    return;
  }
  size_t mid = cut + (len - cut) / 2;
  struct iovec iov[3] = {
      {(void *)pkt, cut}, {(void *)(pkt + cut), mid - cut}, {(void *)(pkt + mid), len - mid}};
  ustcp_input_v(F.s, iov, 3);
}

/* Send one datagram built in buf (IPv4 header + payload of plen bytes). */
static void inject_tcp(uint32_t peer, const struct us_tcp_hdr *th, const uint8_t *payload,
                       size_t plen)
{
  uint8_t pkt[20 + 60 + 1460];
  size_t hl = us_tcp_hdr_len(th);
  if (plen > 1460)
    plen = 1460;
  us_tcp_emit(th, pkt + 20);
  if (plen)
    memcpy(pkt + 20 + hl, payload, plen);
  us_tcp_csum_fill(pkt + 20, hl + plen, peer, US_ADDR);
  struct us_ipv4_hdr ip = {.total_len = (uint16_t)(20 + hl + plen),
                           .id = 1,
                           .df = true,
                           .ttl = 64,
                           .proto = US_IPPROTO_TCP,
                           .src = peer,
                           .dst = US_ADDR};
  us_ipv4_emit(&ip, pkt);
  input_pieces(pkt, 20 + hl + plen, (F.injected++ & 1) ? 0 : 25 + (F.injected % 31));
}

/* Options from the fuzz bytes. With a flow, SACK edges are mostly relative
 * to the stack's snd_nxt (so they land on data in flight); a block whose
 * first word has the top bit set is taken as absolute. */
static void read_opts(struct rd *r, struct us_tcp_opts *o, const struct flow *rel)
{
  uint8_t m = u8(r);
  o->mss_ok = m & 1;
  o->sack_ok = (m >> 1) & 1;
  o->ts_ok = (m >> 2) & 1;
  o->ws_ok = (m >> 3) & 1;
  o->nsack = (uint8_t)((m >> 4) % 5);
  if (o->mss_ok)
    o->mss = u16(r);
  if (o->ws_ok)
    o->ws = u8(r);
  if (o->ts_ok) {
    o->ts_val = u32(r);
    o->ts_ecr = u32(r);
  }
  for (int i = 0; i < o->nsack; i++) {
    uint32_t a = u32(r), b = u32(r);
    if (rel && !(a & 0x80000000u)) {
      a = rel->stack_nxt - (a & 0xffff);
      b = a + (b & 0xffff);
    }
    o->sack[i].left = a;
    o->sack[i].right = b;
  }
}

static void op_segment(struct rd *r)
{
  if (!F.nflows)
    return;
  struct flow *f = &F.flows[u8(r) % F.nflows];
  struct us_tcp_hdr th = {0};
  th.sport = f->dport;
  th.dport = f->sport;
  th.flags = u8(r);
  /* Mostly valid numbers: small signed deltas around what the stack
   * expects, sometimes anything. */
  int16_t ds = (int16_t)u16(r), da = (int16_t)u16(r);
  th.seq = f->stack_ack + (uint32_t)(int32_t)ds;
  th.ack = f->stack_nxt + (uint32_t)(int32_t)da;
  th.win = u16(r);
  th.urg = 0;
  read_opts(r, &th.opt, f);
  size_t plen = u8(r);
  if (plen > r->n)
    plen = r->n;
  uint8_t payload[256];
  memcpy(payload, r->p, plen);
  r->p += plen;
  r->n -= plen;
  inject_tcp(f->peer, &th, payload, plen);
}

/* A burst of in-sequence data segments on a flow (to fill receive buffers
 * and the out-of-order queue): count, size, and a mode byte - bit 0 leaves
 * a hole first, bit 1 sets PSH, bit 2 adds timestamps, bit 3 drops every
 * other segment. */
static void op_bulk(struct rd *r)
{
  if (!F.nflows)
    return;
  struct flow *f = &F.flows[u8(r) % F.nflows];
  unsigned cnt = u8(r);
  size_t sz = 1 + u16(r) % 1460;
  uint8_t mode = u8(r);
  uint16_t win = u16(r);
  static const uint8_t payload[1460];
  uint32_t seq = f->stack_ack + ((mode & 1) ? (uint32_t)sz : 0);
  for (unsigned i = 0; i < cnt; i++, seq += (uint32_t)sz) {
    if ((mode & 8) && (i & 1))
      continue;
    struct us_tcp_hdr th = {.sport = f->dport,
                            .dport = f->sport,
                            .seq = seq,
                            .ack = f->stack_nxt,
                            .flags = (uint8_t)(US_TCP_ACK | ((mode & 2) ? US_TCP_PSH : 0)),
                            .win = win};
    if (mode & 4) {
      th.opt.ts_ok = true;
      th.opt.ts_val = 1000 + i;
    }
    inject_tcp(f->peer, &th, payload, sz);
  }
}

static void op_syn(struct rd *r)
{
  struct us_tcp_hdr th = {0};
  uint16_t pport = (uint16_t)(1024 + u16(r) % 60000);
  uint32_t peer = PEER + (u8(r) & 3);
  th.sport = pport;
  th.dport = (u8(r) & 7) ? 80 : u16(r);
  th.flags = US_TCP_SYN;
  th.seq = u32(r);
  th.win = 65535;
  read_opts(r, &th.opt, NULL);
  struct flow *f = flow_find(th.dport, peer, pport, true);
  f->peer_isn = th.seq;
  f->stack_ack = th.seq + 1;
  inject_tcp(peer, &th, NULL, 0);
}

static void op_raw(struct rd *r, uint8_t op)
{
  size_t len = u16(r) % 1501;
  if (len > r->n)
    len = r->n;
  uint8_t pkt[1500];
  memcpy(pkt, r->p, len);
  r->p += len;
  r->n -= len;
  if (len >= 20) {
    us_put32(pkt + 16, US_ADDR);
    size_t ihl = (size_t)(pkt[0] & 15) * 4;
    if ((op & 0x10) && ihl >= 20 && ihl <= len) {
      us_put16(pkt + 10, 0);
      us_put16(pkt + 10, us_csum_fold(us_csum_add(0, pkt, ihl)));
    }
    uint16_t tot = us_get16(pkt + 2);
    if ((op & 0x20) && pkt[9] == US_IPPROTO_TCP && ihl >= 20 && tot <= len && tot >= ihl + 20)
      us_tcp_csum_fill(pkt + ihl, tot - ihl, us_get32(pkt + 12), US_ADDR);
    if ((op & 0x40) && pkt[9] == US_IPPROTO_ICMP && ihl >= 20 && tot <= len && tot >= ihl + 8) {
      us_put16(pkt + ihl + 2, 0);
      us_put16(pkt + ihl + 2, us_csum_fold(us_csum_add(0, pkt + ihl, tot - ihl)));
    }
  }
  input_pieces(pkt, len, (op & 0x80) && len ? 1 + (size_t)pkt[len - 1] % len : 0);
}

static void op_icmp(struct rd *r)
{
  if (F.last_out_len < 28)
    return;
  uint8_t pkt[20 + 8 + 576];
  size_t quote = F.last_out_len < 576 ? F.last_out_len : 576;
  if (u8(r) & 1)
    quote = 28; /* the minimum Linux accepts */
  uint8_t tc = u8(r);
  static const uint8_t types[] = {US_ICMP_DEST_UNREACH, US_ICMP_TIME_EXCEEDED, 4, 12, 0, 8};
  struct us_icmp_hdr ic = {.type = types[tc % sizeof types],
                           .code = (uint8_t)(tc >> 3) % 16,
                           .mtu = u16(r),
                           .body = F.last_out,
                           .body_len = quote};
  us_icmp_emit(&ic, pkt + 20);
  struct us_ipv4_hdr ip = {.total_len = (uint16_t)(20 + 8 + quote),
                           .ttl = 64,
                           .proto = US_IPPROTO_ICMP,
                           .src = us_get32(F.last_out + 16),
                           .dst = US_ADDR};
  us_ipv4_emit(&ip, pkt);
  ustcp_input(F.s, pkt, 20 + 8 + quote);
}

static void add_fd(int fd)
{
  if (fd < 0)
    return;
  if (F.nfds < MAX_FDS)
    F.fds[F.nfds++] = fd;
  else
    (void)API(ustcp_close, F.s, fd);
}

static int pick_fd(struct rd *r)
{
  if (!F.nfds)
    return -1;
  return F.fds[u8(r) % F.nfds];
}

static void drop_fd(int fd)
{
  for (int i = 0; i < F.nfds; i++)
    if (F.fds[i] == fd) {
      F.fds[i] = F.fds[--F.nfds];
      return;
    }
}

static void connect_to(uint16_t port)
{
  int fd = API(ustcp_socket, F.s, AF_INET, SOCK_STREAM, 0);
  if (fd < 0)
    return;
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
  sa.sin_addr.s_addr = htonl(PEER);
  (void)API(ustcp_connect, F.s, fd, (struct sockaddr *)&sa, sizeof sa);
  add_fd(fd);
}

static void op_api(struct rd *r)
{
  uint8_t what = u8(r);
  uint8_t buf[4096];
  switch (what % 16) {
  case 0: {
    struct sockaddr_in sa;
    socklen_t sl = sizeof sa;
    int fd = API(ustcp_accept, F.s, F.listener, (struct sockaddr *)&sa, &sl);
    if (F.verbose)
      fprintf(stderr, "  accept -> %d\n", fd);
    add_fd(fd);
    break;
  }
  case 1: {
    int fd = pick_fd(r);
    size_t n = (size_t)u8(r) * 16;
    memset(buf, 'a' + (what >> 4), n);
    (void)API(ustcp_send, F.s, fd, buf, n, MSG_DONTWAIT);
    break;
  }
  case 2: {
    int fd = pick_fd(r);
    size_t n = (size_t)u8(r) * 16;
    (void)API(ustcp_recv, F.s, fd, buf, n, (what & 0x10) ? MSG_PEEK : MSG_DONTWAIT);
    break;
  }
  case 3: {
    int fd = pick_fd(r);
    (void)API(ustcp_shutdown, F.s, fd, u8(r) % 3);
    break;
  }
  case 4: {
    int fd = pick_fd(r);
    if (fd >= 0 && fd != F.listener) {
      (void)API(ustcp_close, F.s, fd);
      drop_fd(fd);
    }
    break;
  }
  case 5: {
    int fd = pick_fd(r);
    struct linger lg = {.l_onoff = u8(r) & 1, .l_linger = u8(r) % 3};
    (void)API(ustcp_setsockopt, F.s, fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    break;
  }
  case 6: {
    /* Any option from the list, with a fuzzed int value (negative and
     * huge included) or a fuzzed option length; getsockopt with a short
     * buffer too. */
    static const int opts[][2] = {
        {SOL_SOCKET, SO_KEEPALIVE},      {SOL_SOCKET, SO_RCVBUF},
        {SOL_SOCKET, SO_SNDBUF},         {SOL_SOCKET, SO_LINGER},
        {SOL_SOCKET, SO_REUSEADDR},      {SOL_SOCKET, SO_RCVLOWAT},
        {SOL_SOCKET, SO_RCVTIMEO},       {SOL_SOCKET, SO_SNDTIMEO},
        {SOL_SOCKET, SO_ERROR},          {SOL_SOCKET, SO_TYPE},
        {SOL_SOCKET, SO_ACCEPTCONN},     {IPPROTO_TCP, TCP_NODELAY},
        {IPPROTO_TCP, TCP_MAXSEG},       {IPPROTO_TCP, TCP_KEEPIDLE},
        {IPPROTO_TCP, TCP_KEEPINTVL},    {IPPROTO_TCP, TCP_KEEPCNT},
        {IPPROTO_TCP, TCP_USER_TIMEOUT}, {IPPROTO_TCP, TCP_LINGER2},
        {IPPROTO_TCP, TCP_DEFER_ACCEPT}, {IPPROTO_TCP, TCP_QUICKACK},
        {IPPROTO_TCP, TCP_CORK},         {IPPROTO_TCP, TCP_INFO},
        {IPPROTO_TCP, TCP_SYNCNT},       {IPPROTO_TCP, TCP_WINDOW_CLAMP},
    };
    int fd = pick_fd(r);
    const int *o = opts[u8(r) % (sizeof opts / sizeof opts[0])];
    union {
      int i;
      struct linger lg;
      struct timeval tv;
      uint8_t raw[256];
    } v;
    memset(&v, 0, sizeof v);
    v.i = (int)u32(r);
    socklen_t len = (what & 0x40) ? (socklen_t)(u8(r) % (sizeof v + 1)) : (socklen_t)sizeof(int);
    if (o[1] == SO_LINGER && !(what & 0x40))
      len = sizeof(struct linger);
    if (F.strict && o[0] == IPPROTO_TCP && o[1] == TCP_USER_TIMEOUT)
      break; /* a user timeout legitimately keeps an orphan for that long */
    if (what & 0x80)
      (void)API(ustcp_getsockopt, F.s, fd, o[0], o[1], &v, &len);
    else
      (void)API(ustcp_setsockopt, F.s, fd, o[0], o[1], &v, len);
    break;
  }
  case 7:
    if (F.nfds < MAX_FDS / 2)
      connect_to(u16(r));
    break;
  case 8: {
    struct pollfd pfd[MAX_FDS];
    for (int i = 0; i < F.nfds; i++)
      pfd[i] = (struct pollfd){.fd = F.fds[i], .events = POLLIN | POLLOUT};
    (void)API(ustcp_poll, F.s, pfd, (nfds_t)F.nfds, 0);
    break;
  }
  case 10: {
    int fd = API(ustcp_dup, F.s, pick_fd(r));
    add_fd(fd);
    break;
  }
  case 11: {
    int fd = pick_fd(r), v = 0;
    uint8_t k = u8(r);
    if (k & 1)
      (void)API(ustcp_fcntl, F.s, fd, F_SETFL, (k & 2) ? O_NONBLOCK : 0);
    else
      (void)API(ustcp_fcntl, F.s, fd, F_GETFL);
    static const unsigned long reqs[] = {FIONREAD, TIOCOUTQ, SIOCINQ, SIOCOUTQNSD, FIONBIO};
    v = k >> 7;
    (void)API(ustcp_ioctl, F.s, fd, reqs[(k >> 2) % 5], &v);
    break;
  }
  case 12: {
    int fd = pick_fd(r);
    struct sockaddr_in sa;
    socklen_t sl = u8(r) % (sizeof sa + 1); /* short buffers truncate */
    if (what & 0x10)
      (void)API(ustcp_getsockname, F.s, fd, (struct sockaddr *)&sa, &sl);
    else
      (void)API(ustcp_getpeername, F.s, fd, (struct sockaddr *)&sa, &sl);
    break;
  }
  case 13: {
    int fd = pick_fd(r);
    struct iovec iov[3];
    int n = 1 + u8(r) % 3;
    for (int i = 0; i < n; i++)
      iov[i] = (struct iovec){.iov_base = buf + i * 1024, .iov_len = (size_t)u8(r) * 4};
    static const int flags[] = {0,
                                MSG_DONTWAIT,
                                MSG_PEEK,
                                MSG_TRUNC | MSG_DONTWAIT,
                                MSG_WAITALL,
                                MSG_NOSIGNAL,
                                MSG_MORE,
                                MSG_OOB,
                                MSG_PEEK | MSG_TRUNC};
    int fl = flags[u8(r) % (sizeof flags / sizeof flags[0])];
    struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)n};
    switch ((what >> 4) % 4) {
    case 0:
      (void)API(ustcp_readv, F.s, fd, iov, n);
      break;
    case 1:
      (void)API(ustcp_writev, F.s, fd, iov, n);
      break;
    case 2:
      (void)API(ustcp_recvmsg, F.s, fd, &mh, fl);
      break;
    default:
      (void)API(ustcp_sendmsg, F.s, fd, &mh, fl);
      break;
    }
    break;
  }
  case 14: {
    /* Another listener (or a failing bind/listen on any descriptor). */
    int fd = (what & 0x10) ? pick_fd(r) : API(ustcp_socket, F.s, AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(u16(r))};
    sa.sin_addr.s_addr = (what & 0x20) ? htonl(US_ADDR) : htonl(INADDR_ANY);
    (void)API(ustcp_bind, F.s, fd, (struct sockaddr *)&sa, sizeof sa);
    (void)API(ustcp_listen, F.s, fd, (int)(int8_t)u8(r));
    if (!(what & 0x10))
      add_fd(fd);
    break;
  }
  case 15: {
    struct sockaddr_in sa;
    socklen_t sl = sizeof sa;
    int fd = API(ustcp_accept4, F.s, pick_fd(r), (struct sockaddr *)&sa, &sl,
                 (what & 0x10) ? SOCK_NONBLOCK : SOCK_CLOEXEC);
    add_fd(fd);
    break;
  }
  default: {
    struct ustcp_listen_info li;
    (void)API(ustcp_listen_info, F.s, F.listener, &li);
    (void)API(ustcp_sock_state, F.s, pick_fd(r));
    break;
  }
  }
}

static void step_time(struct rd *r, uint8_t op)
{
  uint8_t b = u8(r);
  if (op & 0x80)
    F.now += USTCP_SEC(b); /* seconds: SYN-ACK retries, FIN_WAIT2, TIME_WAIT */
  else if (op & 0x40)
    F.now += USTCP_SEC(60) * b; /* minutes: keepalive */
  else
    F.now += USTCP_MS(b) * 4; /* RTOs, delayed ACKs */
  ustcp_process(F.s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  memset(&F, 0, sizeof F);
  F.verbose = getenv("FUZZ_STACK_VERBOSE") != NULL;
  F.strict = getenv("FUZZ_STACK_STRICT") != NULL;
  F.now = USTCP_SEC(1000);
  struct ustcp_config cfg;
  ustcp_config_init(&cfg);
  cfg.addr = htonl(US_ADDR);
  cfg.seed = 7;
  cfg.link = &ops;
  cfg.max_memory = 16u << 20;
  struct rd r = {data, size};
  uint8_t first = u8(&r);
  cfg.syncookies = first & 1;
  cfg.abort_on_overflow = (first >> 1) & 1;
  cfg.timestamps = (first >> 2) & 1;
  cfg.sack = (first >> 3) & 1;
  char err[128];
  F.s = ustcp_stack_create(&cfg, err, sizeof err);
  if (!F.s)
    __builtin_trap();

  /* A listener on port 80 and one active connection to the peer. */
  F.listener = API(ustcp_socket, F.s, AF_INET, SOCK_STREAM, 0);
  if (F.listener >= 0) {
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(80)};
    sa.sin_addr.s_addr = htonl(US_ADDR);
    (void)API(ustcp_bind, F.s, F.listener, (struct sockaddr *)&sa, sizeof sa);
    (void)API(ustcp_listen, F.s, F.listener, first >> 4);
    add_fd(F.listener);
  }
  connect_to(8080);

  for (int rec = 0; rec < 512 && r.n; rec++) {
    uint8_t op = u8(&r);
    if (F.verbose)
      fprintf(stderr, "record %d: op %02x (kind %d) t=%llu ms\n", rec, op, op % 8,
              (unsigned long long)(F.now / 1000000));
    switch (op % 8) {
    case 0:
      step_time(&r, op);
      break;
    case 1:
      op_raw(&r, op);
      break;
    case 2:
      op_segment(&r);
      break;
    case 3:
      op_api(&r);
      break;
    case 4:
      op_icmp(&r);
      break;
    case 5:
      op_syn(&r);
      break;
    case 6:
      op_bulk(&r);
      break;
    default:
      F.now += USTCP_MS(1);
      ustcp_process(F.s);
      break;
    }
    /* The clock the stack reports never runs backwards or ahead. */
    if (ustcp_now(F.s) != F.now)
      __builtin_trap();
  }

  /* Close everything and let every timer run out, then destroy: ASan
   * reports anything the stack leaked. */
  for (int i = 0; i < F.nfds; i++)
    (void)API(ustcp_close, F.s, F.fds[i]);
  F.nfds = 0;
  for (int i = 0; i < 20; i++) {
    F.now += USTCP_SEC(30);
    ustcp_process(F.s);
  }
  if (F.verbose || F.strict) {
    struct ustcp_mem_info mi;
    ustcp_mem_info(F.s, &mi);
    if (F.verbose)
      fprintf(stderr,
              "after close + 10 min: sockets %llu requests %llu timewait %llu timers %llu\n",
              (unsigned long long)mi.sockets, (unsigned long long)mi.requests,
              (unsigned long long)mi.timewait, (unsigned long long)mi.timers);
    /* FUZZ_STACK_STRICT=1: everything closed ten minutes ago is gone. */
    if (F.strict && (mi.sockets || mi.requests || mi.timewait))
      __builtin_trap();
  }
  ustcp_stack_destroy(F.s);
  return 0;
}
