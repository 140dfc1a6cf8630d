/*
 * test_tcp_gather.c - the gather data path and transmit checksum offload:
 * two stacks joined by a link of this test's own (virtual time, FIFO, one
 * datagram at a time) that can take gather output (output_v), hand the
 * pieces to the receiver's ustcp_input_v (as they came, or cut again at odd
 * places, headers included), drop one data segment, and complete partial
 * checksums with ustcp_tx_csum_complete. Every datagram's TCP checksum is
 * checked against a checksum computed here (RFC 1071) and every transfer
 * against the bytes written.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "harness/test.h"
#include "ustcp/socket.h"
#include "ustcp/ustcp.h"

#define MAXCUT 96

struct pkt {
  uint8_t *buf;
  size_t len;
  size_t cut[MAXCUT]; /* piece boundaries as the sender gave them */
  int ncut;
  struct pkt *next;
};

struct mode {
  int gather_out; /* the link has output_v */
  int input_v;    /* deliver with ustcp_input_v (else ustcp_input) */
  int resplit;    /* cut every datagram again: headers at 7 and 33, payload every 333 */
  int tx_off, rx_off;
  int complete; /* the link completes partial checksums before delivery */
  int drop_nth; /* drop this data segment once (1-based; 0 = none) */
  uint16_t mtu;
};

struct world;
struct end {
  struct world *w;
  struct ustcp_stack *s;
  uint32_t addr;
};

struct world {
  struct mode m;
  struct end e[2];
  ustcp_time_t now;
  struct pkt *head, *tail;
  long outv_calls, out_calls, inputv_multi, data_segs, dropped;
  long csum_checked, csum_bad, partial_seen;
  int err;
};

/* RFC 1071, bytewise: the reference the stack is checked against. */
static uint32_t ref_sum(uint32_t sum, const uint8_t *p, size_t len)
{
  for (size_t i = 0; i + 1 < len; i += 2)
    sum += (uint32_t)p[i] << 8 | p[i + 1];
  if (len & 1)
    sum += (uint32_t)p[len - 1] << 8;
  return sum;
}
static uint16_t ref_fold(uint32_t sum)
{
  while (sum >> 16)
    sum = (sum & 0xffff) + (sum >> 16);
  return (uint16_t)~sum;
}
/* The full TCP checksum of a datagram, computed with its field zeroed. */
static uint16_t ref_tcp_csum(const uint8_t *d, size_t len)
{
  size_t ihl = (size_t)(d[0] & 15) * 4, tl = len - ihl;
  uint8_t *seg = malloc(tl);
  memcpy(seg, d + ihl, tl);
  seg[16] = seg[17] = 0;
  uint32_t sum = ref_sum(0, d + 12, 8) + 6 + (uint32_t)tl;
  uint16_t c = ref_fold(ref_sum(sum, seg, tl));
  free(seg);
  return c;
}

static ustcp_time_t on_now(void *user) { return ((struct end *)user)->w->now; }

static void enqueue(struct world *w, struct pkt *p)
{
  if (w->tail)
    w->tail->next = p;
  else
    w->head = p;
  w->tail = p;
}

static int on_output(void *user, const uint8_t *d, size_t len)
{
  struct end *e = user;
  struct pkt *p = calloc(1, sizeof(*p));
  p->buf = malloc(len);
  memcpy(p->buf, d, len);
  p->len = len;
  e->w->out_calls++;
  enqueue(e->w, p);
  return 0;
}

static int on_output_v(void *user, const struct iovec *iov, int iovcnt, size_t len)
{
  struct end *e = user;
  struct world *w = e->w;
  w->outv_calls++;
  size_t tot = 0;
  for (int i = 0; i < iovcnt; i++)
    tot += iov[i].iov_len;
  if (tot != len || iovcnt < 2 || iovcnt > MAXCUT || iov[0].iov_len < 40)
    w->err++; /* the contract: len is the sum; whole headers in iov[0] */
  struct pkt *p = calloc(1, sizeof(*p));
  p->buf = malloc(tot);
  for (int i = 0; i < iovcnt && i < MAXCUT; i++) {
    memcpy(p->buf + p->len, iov[i].iov_base, iov[i].iov_len);
    p->len += iov[i].iov_len;
    p->cut[p->ncut++] = p->len;
  }
  enqueue(w, p);
  return 0;
}

static const struct ustcp_link_ops ops_v = {
    .output = on_output, .now = on_now, .output_v = on_output_v};
static const struct ustcp_link_ops ops_lin = {.output = on_output, .now = on_now};

static struct end *route(struct world *w, const uint8_t *d)
{
  uint32_t dst = (uint32_t)d[16] << 24 | (uint32_t)d[17] << 16 | (uint32_t)d[18] << 8 | d[19];
  for (int i = 0; i < 2; i++)
    if (w->e[i].addr == dst)
      return &w->e[i];
  return NULL;
}

static void deliver(struct world *w, struct pkt *p)
{
  struct end *to = route(w, p->buf);
  size_t ihl = (size_t)(p->buf[0] & 15) * 4;
  size_t doff = (size_t)(p->buf[ihl + 12] >> 4) * 4;
  int data = p->buf[9] == 6 && p->len > ihl + doff;
  if (data && ++w->data_segs == w->m.drop_nth) {
    w->dropped++;
    return;
  }
  if (p->buf[9] == 6) {
    uint16_t full = ref_tcp_csum(p->buf, p->len);
    uint16_t field = (uint16_t)(p->buf[ihl + 16] << 8 | p->buf[ihl + 17]);
    if (w->m.tx_off && field != full) {
      w->partial_seen++;
      if (w->m.complete) {
        T_EQ(ustcp_tx_csum_complete(p->buf, p->len), 0);
        field = (uint16_t)(p->buf[ihl + 16] << 8 | p->buf[ihl + 17]);
      }
    }
    if (!w->m.tx_off || w->m.complete) {
      w->csum_checked++;
      if (field != full)
        w->csum_bad++;
    }
  }
  if (!to)
    return;
  if (!w->m.input_v) {
    ustcp_input(to->s, p->buf, p->len);
    return;
  }
  struct iovec iov[MAXCUT * 2 + 300];
  int n = 0;
  size_t at = 0;
  if (w->m.resplit) {
    /* Cut at 7 and 33 (inside the IPv4 and the TCP header), then every
     * 333 bytes: the headers and the payload both arrive in pieces. */
    size_t cuts[] = {7, 33};
    for (size_t k = 0; k < 2 && cuts[k] < p->len; k++) {
      iov[n++] = (struct iovec){p->buf + at, cuts[k] - at};
      at = cuts[k];
    }
    while (at < p->len) {
      size_t l = p->len - at < 333 ? p->len - at : 333;
      iov[n++] = (struct iovec){p->buf + at, l};
      at += l;
    }
  } else if (p->ncut) {
    for (int i = 0; i < p->ncut; i++) {
      iov[n++] = (struct iovec){p->buf + at, p->cut[i] - at};
      at = p->cut[i];
    }
  } else {
    iov[n++] = (struct iovec){p->buf, p->len};
  }
  if (n > 1)
    w->inputv_multi++;
  ustcp_input_v(to->s, iov, n);
}

/* Deliver one queued datagram, or move time to the next timer. */
static int step(struct world *w)
{
  struct pkt *p = w->head;
  if (p) {
    w->head = p->next;
    if (!w->head)
      w->tail = NULL;
    deliver(w, p);
    free(p->buf);
    free(p);
    return 1;
  }
  ustcp_time_t d = ustcp_next_deadline(w->e[0].s);
  ustcp_time_t d1 = ustcp_next_deadline(w->e[1].s);
  if (d1 < d)
    d = d1;
  if (d == USTCP_TIME_NEVER)
    return 0;
  if (d > w->now)
    w->now = d;
  ustcp_process(w->e[0].s);
  ustcp_process(w->e[1].s);
  return 1;
}

static void world_init(struct world *w, const struct mode *m)
{
  memset(w, 0, sizeof(*w));
  w->m = *m;
  w->now = USTCP_SEC(1);
  for (int i = 0; i < 2; i++) {
    struct ustcp_config c;
    ustcp_config_init(&c);
    w->e[i].w = w;
    w->e[i].addr = 0x0a000001u + (uint32_t)i;
    c.addr = htonl(w->e[i].addr);
    c.mtu = m->mtu ? m->mtu : 1500;
    c.csum_offload = m->rx_off;
    c.tx_csum_offload = m->tx_off;
    c.link = m->gather_out ? &ops_v : &ops_lin;
    c.link_user = &w->e[i];
    c.seed = 11 + (uint64_t)i;
    w->e[i].s = ustcp_stack_create(&c, NULL, 0);
    T_CHECK(w->e[i].s != NULL);
  }
}

static void world_fini(struct world *w)
{
  while (w->head) {
    struct pkt *p = w->head;
    w->head = p->next;
    free(p->buf);
    free(p);
  }
  for (int i = 0; i < 2; i++)
    ustcp_stack_destroy(w->e[i].s);
}

static uint8_t pattern(size_t i) { return (uint8_t)(i * 131 + (i >> 9) * 7 + 3); }

/* One connection, `total` bytes from end 1 to end 0 in writes of varied
 * size, read back and compared; returns bytes received intact. */
static size_t transfer(struct world *w, size_t total)
{
  struct ustcp_stack *S = w->e[0].s, *C = w->e[1].s;
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(80)};
  a.sin_addr.s_addr = htonl(w->e[0].addr);
  int l = ustcp_socket(S, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  T_EQ(ustcp_bind(S, l, (struct sockaddr *)&a, sizeof(a)), 0);
  T_EQ(ustcp_listen(S, l, 4), 0);
  int c = ustcp_socket(C, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  int r = ustcp_connect(C, c, (struct sockaddr *)&a, sizeof(a));
  T_CHECK(r == 0 || errno == EINPROGRESS);
  int sfd = -1;
  for (int i = 0; i < 100 && sfd < 0; i++) {
    step(w);
    sfd = ustcp_accept4(S, l, NULL, NULL, SOCK_NONBLOCK);
  }
  T_CHECK(sfd >= 0);
  if (sfd < 0)
    return 0;
  uint8_t *src = malloc(total), *dst = malloc(total);
  for (size_t i = 0; i < total; i++)
    src[i] = pattern(i);
  size_t sent = 0, got = 0, wsz = 1;
  int shut = 0;
  for (long iter = 0; got < total && iter < 2000000; iter++) {
    if (sent < total) {
      size_t n = total - sent < wsz ? total - sent : wsz;
      ssize_t k = ustcp_write(C, c, src + sent, n);
      if (k > 0)
        sent += (size_t)k;
      wsz = wsz * 3 + 1; /* 1, 4, 13, ... up to 64 KiB, then again */
      if (wsz > 65536)
        wsz = 7;
    } else if (!shut) {
      ustcp_shutdown(C, c, SHUT_WR);
      shut = 1;
    }
    ssize_t k = ustcp_read(S, sfd, dst + got, total - got);
    if (k > 0)
      got += (size_t)k;
    if (k <= 0 && !step(w))
      break;
  }
  size_t ok = got == total && memcmp(src, dst, total) == 0 ? got : 0;
  free(src);
  free(dst);
  ustcp_close(C, c);
  ustcp_close(S, sfd);
  ustcp_close(S, l);
  for (int i = 0; i < 10000 && step(w); i++)
    ;
  return ok;
}

#define TOTAL (3u << 20)

/* Gather output into gather input, pieces as the sender made them: the
 * bytes arrive intact, and the gather paths were really taken. */
static void gather_both_ways(void)
{
  struct mode m = {.gather_out = 1, .input_v = 1, .tx_off = 1, .rx_off = 1, .mtu = 65535};
  struct world w;
  world_init(&w, &m);
  T_EQ(transfer(&w, TOTAL), TOTAL);
  T_CHECK(w.outv_calls > 10);
  T_CHECK(w.inputv_multi > 10);
  T_EQ(w.err, 0);
  T_EQ(ustcp_stat(w.e[0].s, USTCP_STAT_DROP_TCP_RCVBUF_FULL), 0);
  world_fini(&w);
}

/* The headers themselves split (at 7 and 33 bytes) and the payload in
 * 333-byte pieces, MTU 1500. */
static void gather_split_headers(void)
{
  struct mode m = {.gather_out = 1, .input_v = 1, .resplit = 1, .tx_off = 1, .rx_off = 1};
  struct world w;
  world_init(&w, &m);
  T_EQ(transfer(&w, TOTAL), TOTAL);
  T_CHECK(w.inputv_multi > 100);
  T_EQ(w.err, 0);
  world_fini(&w);
}

/* Out-of-order data through the gather input (one data segment lost, so
 * the next ones wait in the reassembly queue), then retransmitted. */
static void gather_out_of_order(void)
{
  struct mode m = {
      .gather_out = 1, .input_v = 1, .resplit = 1, .tx_off = 1, .rx_off = 1, .drop_nth = 5};
  struct world w;
  world_init(&w, &m);
  T_EQ(transfer(&w, TOTAL), TOTAL);
  T_EQ(w.dropped, 1);
  T_CHECK(ustcp_stat(w.e[0].s, USTCP_STAT_TCP_OFO_QUEUE) > 0);
  world_fini(&w);
}

/* No tx offload with gather output: the stack sums the send-queue slices,
 * pieces at odd offsets too (MSS 1449 is odd); every checksum must equal
 * the reference, and a receiver that verifies accepts every segment. */
static void gather_full_checksums(void)
{
  struct mode m = {.gather_out = 1, .input_v = 1, .resplit = 1, .mtu = 1501};
  struct world w;
  world_init(&w, &m);
  T_EQ(transfer(&w, TOTAL), TOTAL);
  T_CHECK(w.outv_calls > 100);
  T_CHECK(w.csum_checked > 1000);
  T_EQ(w.csum_bad, 0);
  T_EQ(w.partial_seen, 0);
  T_EQ(ustcp_stat(w.e[0].s, USTCP_STAT_TCP_IN_CSUM_ERRORS), 0);
  T_EQ(ustcp_stat(w.e[1].s, USTCP_STAT_TCP_IN_CSUM_ERRORS), 0);
  world_fini(&w);
}

/* tx offload with a receiver that verifies: the link completes every
 * checksum with ustcp_tx_csum_complete, and the result equals the full
 * checksum computed from scratch (checked on every datagram). */
static void tx_offload_completed(void)
{
  struct mode m = {.gather_out = 0, .tx_off = 1, .complete = 1, .mtu = 1501};
  struct world w;
  world_init(&w, &m);
  T_EQ(transfer(&w, TOTAL / 4), TOTAL / 4);
  T_CHECK(w.partial_seen > 100); /* the stack did leave them partial */
  T_CHECK(w.csum_checked > 100);
  T_EQ(w.csum_bad, 0);
  T_EQ(ustcp_stat(w.e[0].s, USTCP_STAT_TCP_IN_CSUM_ERRORS), 0);
  world_fini(&w);
}

/* tx offload off (the default) on the linear path: full checksums. */
static void tx_offload_off_linear(void)
{
  struct mode m = {.mtu = 1500};
  struct world w;
  world_init(&w, &m);
  T_EQ(transfer(&w, TOTAL / 4), TOTAL / 4);
  T_CHECK(w.csum_checked > 100);
  T_EQ(w.csum_bad, 0);
  T_EQ(w.partial_seen, 0);
  T_EQ(w.outv_calls, 0);
  world_fini(&w);
}

/* A receiver that verifies checksums takes ustcp_input_v's linear path:
 * still correct, and a corrupted gathered payload is dropped as a checksum
 * error. */
static void input_v_verifying_receiver(void)
{
  struct mode m = {.gather_out = 1, .input_v = 1, .mtu = 9000};
  struct world w;
  world_init(&w, &m);
  T_EQ(transfer(&w, TOTAL / 4), TOTAL / 4);
  T_CHECK(w.inputv_multi > 10);
  T_EQ(ustcp_stat(w.e[0].s, USTCP_STAT_TCP_IN_CSUM_ERRORS), 0);
  /* A datagram in pieces with one payload byte flipped. */
  uint8_t d[100];
  memset(d, 0, sizeof(d));
  d[0] = 0x45;
  d[3] = sizeof(d);
  d[8] = 64;
  d[9] = 6;
  memcpy(d + 12, (uint8_t[]){10, 0, 0, 2, 10, 0, 0, 1}, 8);
  d[20 + 1] = 9;       /* sport */
  d[20 + 3] = 80;      /* dport */
  d[20 + 12] = 5 << 4; /* doff */
  d[20 + 13] = 0x10;   /* ACK */
  uint32_t is = ref_sum(0, d, 20);
  uint16_t ic = ref_fold(is);
  d[10] = (uint8_t)(ic >> 8);
  d[11] = (uint8_t)ic;
  uint16_t tc = ref_tcp_csum(d, sizeof(d));
  d[36] = (uint8_t)(tc >> 8);
  d[37] = (uint8_t)tc;
  d[70] ^= 1;
  struct iovec iov[3] = {{d, 30}, {d + 30, 31}, {d + 61, 39}};
  uint64_t before = ustcp_stat(w.e[0].s, USTCP_STAT_TCP_IN_CSUM_ERRORS);
  ustcp_input_v(w.e[0].s, iov, 3);
  T_EQ(ustcp_stat(w.e[0].s, USTCP_STAT_TCP_IN_CSUM_ERRORS), before + 1);
  world_fini(&w);
}

/* The helper on its own: non-TCP left alone, malformed input refused. */
static void csum_complete_helper(void)
{
  uint8_t d[60];
  memset(d, 0, sizeof(d));
  d[0] = 0x45;
  d[3] = 60;
  d[9] = 17; /* UDP: untouched */
  uint8_t copy[60];
  memcpy(copy, d, sizeof(d));
  T_EQ(ustcp_tx_csum_complete(d, sizeof(d)), 0);
  T_EQ(memcmp(d, copy, sizeof(d)), 0);
  d[9] = 6;
  T_EQ(ustcp_tx_csum_complete(d, 30), -EINVAL); /* total length beyond the buffer */
  d[3] = 30;
  T_EQ(ustcp_tx_csum_complete(d, 30), -EINVAL); /* TCP header cut short */
  d[0] = 0x65;
  T_EQ(ustcp_tx_csum_complete(d, sizeof(d)), -EINVAL); /* not IPv4 */
  T_EQ(ustcp_tx_csum_complete(d, 10), -EINVAL);
}

/* Degenerate gather lists are counted drops, as ustcp_input of the same
 * bytes would be. */
static void input_v_degenerate(void)
{
  struct mode m = {.rx_off = 1};
  struct world w;
  world_init(&w, &m);
  struct ustcp_stack *s = w.e[0].s;
  uint64_t short0 = ustcp_stat(s, USTCP_STAT_DROP_IP_TOO_SHORT);
  ustcp_input_v(s, NULL, 0);
  struct iovec e[2] = {{NULL, 0}, {NULL, 0}};
  ustcp_input_v(s, e, 2);
  uint8_t b[10] = {0x45};
  struct iovec two[2] = {{b, 5}, {b + 5, 5}};
  ustcp_input_v(s, two, 2);
  T_EQ(ustcp_stat(s, USTCP_STAT_DROP_IP_TOO_SHORT), short0 + 3);
  world_fini(&w);
}

int main(void)
{
  T_RUN(gather_both_ways);
  T_RUN(gather_split_headers);
  T_RUN(gather_out_of_order);
  T_RUN(gather_full_checksums);
  T_RUN(tx_offload_completed);
  T_RUN(tx_offload_off_linear);
  T_RUN(input_v_verifying_receiver);
  T_RUN(csum_complete_helper);
  T_RUN(input_v_degenerate);
  return T_DONE();
}
