/*
 * lab_scenarios.c - the seed's behaviours (SPEC §1) as lab scenarios: for
 * each, the sentence from SPEC it shows, a script for the applications on
 * the hosts "client" 192.0.2.10 and "server" 192.0.2.20, and a verdict that
 * judges only what was recorded (packets on the wire, call results, state
 * changes, queue lengths, counters).
 *
 * Where Linux shows the behaviour, the expectation was checked against the
 * kernel with tests/lab/linux_checks.c (loopback inside `unshare -n`; run by
 * tests/lab/linux.test.sh) and the scenario says "Linux 6.18 (checked)".
 */
#include <errno.h>
#include <string.h>

#include "lab.h"

#define MS(x) USTCP_MS(x)
#define SEC(x) USTCP_SEC(x)
#define C LAB_CLIENT
#define SV LAB_SERVER
#define NEVER UINT64_MAX

#define PASS(...)                                                                                  \
  do {                                                                                             \
    snprintf(why, n, __VA_ARGS__);                                                                 \
    return true;                                                                                   \
  } while (0)
#define FAIL(...)                                                                                  \
  do {                                                                                             \
    snprintf(why, n, __VA_ARGS__);                                                                 \
    return false;                                                                                  \
  } while (0)

/* ------------------------------------------------------------- helpers */

/* A connection client -> server:8080 made with blocking connect() and
 * accept(); r->val[0] = the client's port. Returns 0 or -1. */
static int establish(struct lab_run *r, int *lfd, int *cfd, int *afd)
{
  *lfd = lab_listener(r, SV, LAB_PORT, 8);
  *cfd = lab_socket(r, C);
  if (*lfd < 0 || *cfd < 0 || lab_connect(r, C, *cfd, SV, LAB_PORT) != 0)
    return -1;
  r->val[0] = lab_port(r, C, *cfd, false);
  *afd = lab_accept(r, SV, *lfd);
  return *afd < 0 ? -1 : 0;
}

/* A non-blocking connect; returns the fd and stores its port in *port. */
static int nb_connect(struct lab_run *r, uint16_t *port)
{
  int fd = lab_socket(r, C);
  if (fd < 0)
    return -1;
  lab_nonblock(r, C, fd);
  lab_connect(r, C, fd, SV, LAB_PORT);
  *port = lab_port(r, C, fd, false);
  return fd;
}

/* Seconds with millisecond precision, for verdict sentences. */
static const char *tstr(uint64_t t, char *buf)
{
  snprintf(buf, 32, "%llu.%03llu", (unsigned long long)(t / 1000000000ull),
           (unsigned long long)(t % 1000000000ull / 1000000ull));
  return buf;
}

static bool failed_with(const struct lab_ev *e, int err)
{
  return e && e->ret < 0 && e->err == err;
}

/* Does some packet from host h on conn arrive (at the peer) carrying an ACK
 * of at least rel_ack (relative), at or before time t? */
static const struct lab_ev *acked_by(const struct lab_run *r, int h, int conn, uint32_t rel_ack,
                                     uint64_t t0)
{
  for (size_t i = 0; i < r->nev; i++) {
    const struct lab_ev *e = &r->ev[i];
    if (e->kind == LAB_PKT && e->host == h && e->seg.tcp && e->seg.conn == conn &&
        (e->seg.flags & US_TCP_ACK) && e->seg.rack >= rel_ack && e->fate == LAB_ARRIVED &&
        e->t >= t0)
      return e;
  }
  return NULL;
}

/* ============================================ 1. accept() and the queues */

/*
 * accept-queue-overflow. Linux 6.18 (checked): backlog 1 admits 2
 * established connections; with the accept queue full the completing ACK is
 * dropped (ListenOverflows), the request stays in SYN_RECV and the SYN-ACK is
 * retransmitted; a new SYN is dropped (no SYN-ACK); after accept() the
 * client's next ACK completes the handshake.
 */
static void accept_overflow_run(struct lab_run *r)
{
  uint16_t p1, p2, p3, p4;
  int lfd = lab_listener(r, SV, LAB_PORT, 1);
  lab_nonblock(r, SV, lfd);
  lab_watch(r, SV, lfd);
  lab_note(r, SV, "backlog 1: the accept queue is full at 2; no accept() until 4 s");
  nb_connect(r, &p1);
  lab_run_to(r, MS(100));
  nb_connect(r, &p2);
  int c3 = nb_connect(r, &p3);
  lab_run_to(r, MS(200));
  lab_note(r, C, "c3's connect completed on the client side:");
  r->val[5] = lab_sock_state(r, C, c3);
  nb_connect(r, &p4);
  lab_run_to(r, MS(300));
  r->val[6] = lab_send(r, C, c3, "hello", 5);
  lab_run_to(r, SEC(4));
  r->mark[0] = lab_now(r);
  lab_note(r, SV, "accept() twice: room in the accept queue");
  lab_accept(r, SV, lfd);
  lab_accept(r, SV, lfd);
  lab_run_to(r, SEC(12));
  r->mark[1] = lab_now(r);
  int got3 = -1;
  for (int i = 0; i < 2; i++) {
    int a = lab_accept(r, SV, lfd);
    if (a >= 0 && lab_port(r, SV, a, true) == p3)
      got3 = a;
  }
  if (got3 >= 0)
    r->val[7] = lab_recv(r, SV, got3, 100, 0);
  lab_run_to(r, SEC(20));
  r->val[1] = p1;
  r->val[2] = p2;
  r->val[3] = p3;
  r->val[4] = p4;
}

static bool accept_overflow_verdict(struct lab_run *r, char *why, size_t n)
{
  int c3 = lab_conn_of_port(r, (uint16_t)r->val[3]), c4 = lab_conn_of_port(r, (uint16_t)r->val[4]);
  char tb[32];
  if (!c3 || !c4)
    FAIL("connections c3/c4 never appeared on the wire");
  if (lab_max_acc(r) != 2)
    FAIL("accept queue peaked at %u, expected backlog+1 = 2", lab_max_acc(r));
  /* The completing ACK of c3 dropped by the server. */
  const struct lab_ev *dropped = NULL;
  for (size_t i = 0; i < r->nev && !dropped; i++) {
    const struct lab_ev *e = &r->ev[i];
    if (e->kind == LAB_PKT && e->host == C && e->seg.conn == c3 && e->fate == LAB_DROPPED &&
        !(e->seg.flags & US_TCP_SYN) && e->t < r->mark[0])
      dropped = e;
  }
  if (!dropped)
    FAIL("no ACK of c3 was dropped by the server while its accept queue was full");
  lab_key(dropped);
  lab_key(lab_first(r, SV, c3, US_TCP_SYN | US_TCP_ACK, 0, dropped->t, r->mark[0]));
  lab_key(lab_first(r, C, c4, US_TCP_SYN, US_TCP_ACK, 0, r->mark[0]));
  if (r->val[5] != USTCP_TCP_ESTABLISHED)
    FAIL("the client of c3 was not ESTABLISHED (state %ld)", r->val[5]);
  int synacks = lab_count(r, SV, c3, US_TCP_SYN | US_TCP_ACK, 0, 0, r->mark[0]);
  if (synacks < 3)
    FAIL("server sent %d SYN-ACK(s) for c3 before accept(); expected retransmissions", synacks);
  /* Linux: SYN-ACK retransmissions 1 s and 3 s after the first (backoff). */
  const struct lab_ev *sa0 = lab_first(r, SV, c3, US_TCP_SYN | US_TCP_ACK, 0, 0, NEVER);
  const struct lab_ev *sa1 = lab_first(r, SV, c3, US_TCP_SYN | US_TCP_ACK, 0, sa0->t + 1, NEVER);
  const struct lab_ev *sa2 = lab_first(r, SV, c3, US_TCP_SYN | US_TCP_ACK, 0, sa1->t + 1, NEVER);
  if (sa1->t - sa0->t != SEC(1) || sa2->t - sa0->t != SEC(3))
    FAIL("the SYN-ACK was not retransmitted 1 s and 3 s after the first");
  /* Each retransmission drew an ACK from the client, dropped too. */
  int drops = 0;
  for (size_t i = 0; i < r->nev; i++) {
    const struct lab_ev *e = &r->ev[i];
    drops += e->kind == LAB_PKT && e->host == C && e->seg.conn == c3 && e->fate == LAB_DROPPED &&
             e->t > sa1->t && e->t < r->mark[0];
  }
  if (drops < 2)
    FAIL("the client's answers to the SYN-ACK retransmissions were not dropped (%d)", drops);
  lab_key(sa1);
  lab_key(sa2);
  if (lab_count(r, SV, c4, US_TCP_SYN | US_TCP_ACK, 0, 0, r->mark[0]) != 0)
    FAIL("server answered c4's SYN while its accept queue was full");
  if (lab_stat(r, SV, USTCP_STAT_LISTEN_OVERFLOWS) < 2)
    FAIL("ListenOverflows = %llu, expected >= 2",
         (unsigned long long)lab_stat(r, SV, USTCP_STAT_LISTEN_OVERFLOWS));
  if (lab_stat(r, SV, USTCP_STAT_LISTEN_DROPS) < lab_stat(r, SV, USTCP_STAT_LISTEN_OVERFLOWS))
    FAIL("ListenDrops (%llu) does not count every ListenOverflows drop (%llu)",
         (unsigned long long)lab_stat(r, SV, USTCP_STAT_LISTEN_DROPS),
         (unsigned long long)lab_stat(r, SV, USTCP_STAT_LISTEN_OVERFLOWS));
  if (r->val[7] != 5)
    FAIL("after accept() made room c3 was not accepted with its 5 bytes (recv = %ld)", r->val[7]);
  PASS("accept queue held 2 (backlog 1); c3's ACK was dropped (%s) while the client was "
       "ESTABLISHED, %d SYN-ACKs were sent for it, c4's SYN got no answer, and after accept() at "
       "%s s c3 completed and its data arrived",
       ustcp_stat_name((enum ustcp_stat)dropped->stat), synacks, tstr(r->mark[0], tb));
}

/*
 * syn-queue-overflow. Linux 6.18 (checked, tcp_syncookies=0): backlog 2
 * admits 3 half-open requests; the 4th SYN is dropped silently
 * (TCPReqQFullDrop; not ListenOverflows). Here the SYN-ACKs are made to get
 * lost (server -> client partitioned) so the requests stay half-open.
 */
static void synq_config(int host, struct ustcp_config *cfg)
{
  (void)host;
  cfg->syncookies = 0;
}

static void synq_run(struct lab_run *r)
{
  uint16_t p[4];
  int lfd = lab_listener(r, SV, LAB_PORT, 2);
  lab_nonblock(r, SV, lfd);
  lab_watch(r, SV, lfd);
  lab_partition(r, SV, true);
  lab_note(r, SV, "SYN-ACKs get lost: the requests stay half-open (SYN_RECV)");
  for (int i = 0; i < 4; i++) {
    lab_run_to(r, MS(10 * i));
    nb_connect(r, &p[i]);
    r->val[1 + i] = p[i];
  }
  lab_run_to(r, MS(500));
  r->val[5] = (long)lab_stat(r, SV, USTCP_STAT_TCP_REQQ_FULL_DROP);
  r->val[6] = (long)lab_stat(r, SV, USTCP_STAT_LISTEN_DROPS);
  r->val[7] = (long)lab_stat(r, SV, USTCP_STAT_LISTEN_OVERFLOWS);
  r->mark[0] = lab_now(r);
  lab_partition(r, SV, false);
  lab_run_to(r, SEC(2));
  for (int i = 0; i < 3; i++)
    lab_accept(r, SV, lfd);
  lab_run_to(r, SEC(5));
  int a = lab_accept(r, SV, lfd);
  r->val[8] = a >= 0 ? lab_port(r, SV, a, true) : 0;
  lab_run_to(r, SEC(6));
}

static bool synq_verdict(struct lab_run *r, char *why, size_t n)
{
  int c4 = lab_conn_of_port(r, (uint16_t)r->val[4]);
  if (lab_max_syn(r) != 3)
    FAIL("SYN queue peaked at %u, expected backlog+1 = 3", lab_max_syn(r));
  for (int i = 1; i <= 3; i++) {
    int c = lab_conn_of_port(r, (uint16_t)r->val[i]);
    if (!lab_first(r, SV, c, US_TCP_SYN | US_TCP_ACK, 0, 0, r->mark[0]))
      FAIL("server sent no SYN-ACK for request %d", i);
  }
  const struct lab_ev *syn4 = lab_first(r, C, c4, US_TCP_SYN, US_TCP_ACK, 0, NEVER);
  if (!syn4 || syn4->fate != LAB_DROPPED)
    FAIL("the 4th SYN was not dropped by the server");
  lab_key(syn4);
  lab_key(lab_call(r, SV, "accept", 3));
  if (lab_count(r, SV, c4, 0, 0, 0, r->mark[0]) != 0)
    FAIL("the server answered the 4th SYN (no SYN-ACK or RST may be sent)");
  if (r->val[5] < 1 || r->val[6] < 1 || r->val[7] != 0)
    FAIL("counters: TCPReqQFullDrop=%ld ListenDrops=%ld ListenOverflows=%ld, expected >=1, >=1, 0",
         r->val[5], r->val[6], r->val[7]);
  if (r->val[8] != r->val[4])
    FAIL("the 4th client did not get in with a later SYN retransmission");
  PASS("backlog 2 held 3 half-open requests; the 4th SYN was dropped silently "
       "(TCPReqQFullDrop %ld, ListenDrops %ld, ListenOverflows 0) and got in later by a SYN "
       "retransmission",
       r->val[5], r->val[6]);
}

/*
 * syn-cookies (seed: off by default; on here): with the SYN queue full a
 * new SYN is answered with a cookie SYN-ACK and the connection is made
 * without a SYN-queue entry. Linux 6.18 (checked, tcp_syncookies=1, its
 * default): backlog 1 with 2 requests in SYN_RECV, a new client connects
 * and is accepted (SyncookiesSent +1, SyncookiesRecv +1).
 */
static void cookies_config(int host, struct ustcp_config *cfg)
{
  if (host == SV)
    cfg->syncookies = 1;
}

static void cookies_run(struct lab_run *r)
{
  uint16_t p1, p2, p3;
  int lfd = lab_listener(r, SV, LAB_PORT, 1);
  lab_nonblock(r, SV, lfd);
  lab_watch(r, SV, lfd);
  lab_partition(r, SV, true);
  nb_connect(r, &p1);
  lab_run_to(r, MS(10));
  nb_connect(r, &p2);
  lab_run_to(r, MS(50));
  lab_partition(r, SV, false);
  lab_run_to(r, MS(100));
  r->mark[0] = lab_now(r);
  int c3 = nb_connect(r, &p3);
  lab_run_to(r, MS(300));
  r->mark[1] = lab_now(r);
  int a = lab_accept(r, SV, lfd);
  r->val[1] = a >= 0 ? lab_port(r, SV, a, true) : 0;
  lab_send(r, C, c3, "hi", 2);
  lab_run_to(r, MS(400));
  if (a >= 0)
    r->val[2] = lab_recv(r, SV, a, 100, MSG_DONTWAIT);
  r->val[3] = p3;
  r->val[4] = (long)lab_stat(r, SV, USTCP_STAT_SYNCOOKIES_SENT);
  r->val[5] = (long)lab_stat(r, SV, USTCP_STAT_SYNCOOKIES_RECV);
  lab_run_to(r, MS(500));
}

static bool cookies_verdict(struct lab_run *r, char *why, size_t n)
{
  int c3 = lab_conn_of_port(r, (uint16_t)r->val[3]);
  if (lab_max_syn(r) != 2)
    FAIL("SYN queue peaked at %u, expected 2 (backlog 1 full, the cookie adds none)",
         lab_max_syn(r));
  const struct lab_ev *sa = lab_first(r, SV, c3, US_TCP_SYN | US_TCP_ACK, 0, r->mark[0], NEVER);
  if (!sa)
    FAIL("the SYN that found the SYN queue full got no SYN-ACK (cookie)");
  lab_key(sa);
  if (r->val[4] < 1 || r->val[5] < 1)
    FAIL("SyncookiesSent=%ld SyncookiesRecv=%ld, expected >= 1 each", r->val[4], r->val[5]);
  if (r->val[1] != r->val[3])
    FAIL("accept() did not return the cookie connection");
  if (r->val[2] != 2)
    FAIL("data on the cookie connection did not arrive (recv = %ld)", r->val[2]);
  PASS("with the SYN queue full (2 requests, backlog 1) the 3rd SYN got a cookie SYN-ACK "
       "(SyncookiesSent %ld, SyncookiesRecv %ld) and became an accepted, working connection",
       r->val[4], r->val[5]);
}

/* ============================================= 2. close() and shutdown() */

/*
 * close-unread-rst. Linux 6.18 (checked): close() with unread received data
 * sends RST (RST+ACK, seq = SND.NXT), never FIN; the peer's recv() fails
 * with ECONNRESET; TCPAbortOnClose counts it.
 */
static void unread_run(struct lab_run *r)
{
  int lfd, cfd, afd;
  if (establish(r, &lfd, &cfd, &afd) < 0)
    return;
  lab_run_to(r, MS(100));
  lab_send(r, C, cfd, "hello", 5);
  lab_run_to(r, MS(200));
  r->mark[0] = lab_now(r);
  lab_note(r, SV, "5 bytes received and ACKed, never read");
  lab_close(r, SV, afd);
  lab_run_to(r, MS(300));
  lab_recv(r, C, cfd, 100, 0);
  lab_run_to(r, MS(400));
}

static bool unread_verdict(struct lab_run *r, char *why, size_t n)
{
  int c = lab_conn_of_port(r, (uint16_t)r->val[0]);
  const struct lab_ev *cl = lab_call(r, SV, "close", 0);
  if (!c || !cl || cl->ret != 0)
    FAIL("the connection was not made or close() failed");
  const struct lab_ev *p = lab_first(r, SV, c, 0, 0, cl->t, NEVER);
  if (!p || !(p->seg.flags & US_TCP_RST))
    FAIL("the server's first segment after close() was not a RST");
  if (lab_count(r, SV, c, US_TCP_FIN, 0, 0, NEVER))
    FAIL("the server sent a FIN");
  if (!(p->seg.flags & US_TCP_ACK) || p->seg.rseq != 1)
    FAIL("the RST is not RST+ACK with seq = SND.NXT (got seq %u)", p->seg.rseq);
  lab_key(p);
  lab_key(cl);
  lab_key(lab_call(r, C, "recv", 0));
  if (!failed_with(lab_call(r, C, "recv", 0), ECONNRESET))
    FAIL("the client's recv() did not fail with ECONNRESET");
  if (lab_stat(r, SV, USTCP_STAT_TCP_ABORT_ON_CLOSE) < 1)
    FAIL("TCPAbortOnClose was not counted");
  PASS("close() with 5 unread bytes sent RST+ACK (no FIN), the client's recv() failed with "
       "ECONNRESET, TCPAbortOnClose = %llu",
       (unsigned long long)lab_stat(r, SV, USTCP_STAT_TCP_ABORT_ON_CLOSE));
}

/*
 * close-fin-piggyback. Linux 6.18 (checked): the second small write is held
 * by Nagle (the first is unacknowledged); close() puts the FIN on that queued
 * segment and pushes it with Nagle off: one segment "FP." with the data.
 */
static void piggy_run(struct lab_run *r)
{
  int lfd, cfd, afd;
  if (establish(r, &lfd, &cfd, &afd) < 0)
    return;
  lab_run_to(r, MS(100));
  r->mark[0] = lab_now(r);
  lab_send_n(r, SV, afd, 100, 'a');
  lab_send_n(r, SV, afd, 100, 'b');
  lab_note(r, SV, "the 2nd 100 bytes wait (Nagle: the 1st is not ACKed yet)");
  lab_close(r, SV, afd);
  lab_run_to(r, MS(300));
  r->val[1] = lab_recv(r, C, cfd, 1000, 0);
  r->val[2] = r->val[1] < 200 ? lab_recv(r, C, cfd, 1000, 0) : 0;
  r->val[3] = lab_recv(r, C, cfd, 1000, 0);
  lab_close(r, C, cfd);
  lab_run_to(r, MS(500));
}

static bool piggy_verdict(struct lab_run *r, char *why, size_t n)
{
  int c = lab_conn_of_port(r, (uint16_t)r->val[0]);
  const struct lab_ev *fin = lab_first(r, SV, c, US_TCP_FIN, 0, r->mark[0], NEVER);
  if (!fin)
    FAIL("the server sent no FIN");
  if (fin->seg.plen == 0)
    FAIL("the FIN went out as a bare segment although data was queued");
  lab_key(fin);
  lab_key(lab_call(r, SV, "close", 0));
  if (fin->seg.rseq + fin->seg.plen != 201)
    FAIL("the FIN did not ride on the last data (it ends at %u, expected 201)",
         fin->seg.rseq + fin->seg.plen);
  if (fin->t != r->mark[0])
    FAIL("the queued data and FIN did not go out at once at close() (Nagle not turned off)");
  if (lab_count(r, SV, c, US_TCP_RST, 0, 0, NEVER))
    FAIL("the server sent a RST");
  if (r->val[1] + r->val[2] != 200 || r->val[3] != 0)
    FAIL("the client did not read 200 bytes and then EOF");
  PASS("the FIN rode on the last data segment (%u bytes, seq %u) with no separate FIN; the "
       "client read 200 bytes and EOF",
       fin->seg.plen, fin->seg.rseq);
}

/*
 * close-bare-fin. Linux 6.18 (checked): with nothing unread and nothing
 * queued, close() sends a FIN segment without data, and the connection goes
 * FIN_WAIT1 -> FIN_WAIT2 -> TIME_WAIT on the closing side.
 */
static void barefin_run(struct lab_run *r)
{
  int lfd, cfd, afd;
  if (establish(r, &lfd, &cfd, &afd) < 0)
    return;
  lab_send(r, C, cfd, "hello", 5);
  lab_run_to(r, MS(100));
  lab_recv(r, SV, afd, 100, 0);
  lab_send(r, SV, afd, "bye", 3);
  lab_run_to(r, MS(300));
  lab_recv(r, C, cfd, 100, 0);
  lab_run_to(r, MS(500));
  r->mark[0] = lab_now(r);
  lab_close(r, SV, afd);
  lab_run_to(r, MS(600));
  r->val[1] = lab_recv(r, C, cfd, 100, 0);
  lab_close(r, C, cfd);
  lab_run_to(r, MS(800));
}

static bool barefin_verdict(struct lab_run *r, char *why, size_t n)
{
  int c = lab_conn_of_port(r, (uint16_t)r->val[0]);
  const struct lab_ev *fin = lab_first(r, SV, c, US_TCP_FIN, 0, r->mark[0], NEVER);
  if (!fin)
    FAIL("the server sent no FIN after close()");
  if (fin->t != r->mark[0])
    FAIL("the FIN did not go out at close()");
  if (fin->seg.plen != 0)
    FAIL("the FIN carried %u bytes although nothing was queued", fin->seg.plen);
  lab_key(fin);
  lab_key(lab_call(r, SV, "close", 0));
  lab_key(lab_state_at(r, SV, USTCP_TCP_TIME_WAIT, r->mark[0]));
  if (lab_count(r, SV, c, US_TCP_RST, 0, 0, NEVER) || lab_count(r, C, c, US_TCP_RST, 0, 0, NEVER))
    FAIL("a RST was sent");
  if (r->val[1] != 0)
    FAIL("the client did not read EOF");
  if (!lab_state_at(r, SV, USTCP_TCP_FIN_WAIT2, r->mark[0]) ||
      !lab_state_at(r, SV, USTCP_TCP_TIME_WAIT, r->mark[0]))
    FAIL("the server did not go FIN_WAIT2 -> TIME_WAIT");
  PASS("close() with nothing unread or queued sent a bare FIN (len 0), the client read EOF, "
       "and the four-way close left the server in TIME_WAIT");
}

/*
 * shutdown-half-close. Linux 6.18 (checked): shutdown(SHUT_WR) sends FIN
 * after the queued data; the socket still reads what the peer sends; a
 * send() after it fails with EPIPE.
 */
static void half_run(struct lab_run *r)
{
  int lfd, cfd, afd;
  if (establish(r, &lfd, &cfd, &afd) < 0)
    return;
  lab_run_to(r, MS(100));
  lab_send(r, C, cfd, "request", 7);
  r->mark[0] = lab_now(r);
  lab_shutdown(r, C, cfd, SHUT_WR);
  lab_run_to(r, MS(200));
  lab_recv(r, SV, afd, 100, 0);
  r->val[1] = lab_recv(r, SV, afd, 100, 0);
  lab_send(r, SV, afd, "response", 8);
  lab_run_to(r, MS(300));
  r->val[2] = lab_recv(r, C, cfd, 100, 0);
  lab_send(r, C, cfd, "more", 4);
  lab_close(r, SV, afd);
  lab_run_to(r, MS(400));
  r->val[3] = lab_recv(r, C, cfd, 100, 0);
  lab_close(r, C, cfd);
  lab_run_to(r, MS(500));
}

static bool half_verdict(struct lab_run *r, char *why, size_t n)
{
  int c = lab_conn_of_port(r, (uint16_t)r->val[0]);
  const struct lab_ev *fin = lab_first(r, C, c, US_TCP_FIN, 0, r->mark[0], NEVER);
  if (!fin || fin->t != r->mark[0])
    FAIL("shutdown(SHUT_WR) did not send a FIN at once");
  if (fin->seg.rseq + fin->seg.plen != 8)
    FAIL("the FIN did not come after the 7 queued bytes");
  lab_key(fin);
  lab_key(lab_call(r, C, "recv", 0));
  lab_key(lab_call(r, C, "send", 1));
  if (r->val[1] != 0)
    FAIL("the server did not read EOF after the client's FIN");
  if (r->val[2] != 8)
    FAIL("the client could not read after shutdown(SHUT_WR) (recv = %ld)", r->val[2]);
  if (!failed_with(lab_call(r, C, "send", 1), EPIPE))
    FAIL("send() after shutdown(SHUT_WR) did not fail with EPIPE");
  if (r->val[3] != 0)
    FAIL("the client did not read EOF at the end");
  PASS("shutdown(SHUT_WR) sent FIN after the data, the server read EOF and still answered, "
       "the client read the 8-byte response, and its send() failed with EPIPE");
}

/*
 * dup-refcount. Linux 6.18 (checked): close() of one of two descriptors of
 * a socket sends nothing; shutdown() acts on the socket whatever its
 * reference count (FIN at once while another descriptor is open).
 */
static void dup_run(struct lab_run *r)
{
  int lfd, cfd, afd;
  if (establish(r, &lfd, &cfd, &afd) < 0)
    return;
  int b = lab_dup(r, SV, afd);
  lab_run_to(r, MS(100));
  r->mark[0] = lab_now(r);
  lab_note(r, SV, "fd %d and fd %d share one socket (reference count 2)", afd, b);
  lab_close(r, SV, afd);
  lab_run_to(r, SEC(1));
  lab_send(r, C, cfd, "ping", 4);
  lab_run_to(r, MS(1100));
  r->val[1] = lab_recv(r, SV, b, 100, 0);
  lab_send(r, SV, b, "pong", 4);
  int d = lab_dup(r, SV, b);
  r->mark[1] = lab_now(r);
  lab_shutdown(r, SV, d, SHUT_WR);
  lab_run_to(r, MS(1200));
  r->val[2] = lab_recv(r, C, cfd, 100, 0);
  r->val[3] = lab_recv(r, C, cfd, 100, 0);
  lab_close(r, SV, b);
  lab_close(r, SV, d);
  lab_close(r, C, cfd);
  lab_run_to(r, MS(1400));
}

static bool dup_verdict(struct lab_run *r, char *why, size_t n)
{
  int c = lab_conn_of_port(r, (uint16_t)r->val[0]);
  if (lab_count(r, SV, c, US_TCP_FIN, 0, r->mark[0], r->mark[1]) ||
      lab_count(r, SV, c, US_TCP_RST, 0, r->mark[0], r->mark[1]))
    FAIL("close() of one descriptor of two sent FIN or RST");
  if (r->val[1] != 4)
    FAIL("the duplicate descriptor could not read after the other was closed");
  const struct lab_ev *fin = lab_first(r, SV, c, US_TCP_FIN, 0, r->mark[1], NEVER);
  if (!fin || fin->t != r->mark[1])
    FAIL("shutdown(SHUT_WR) with another descriptor open did not send FIN at once");
  lab_key(fin);
  lab_key(lab_call(r, SV, "close", 0));
  lab_key(lab_call(r, SV, "shutdown", 0));
  lab_key(lab_call(r, SV, "recv", 0));
  if (r->val[2] != 4 || r->val[3] != 0)
    FAIL("the client did not read \"pong\" and EOF");
  PASS("close() of one of two descriptors sent nothing and the other kept working; "
       "shutdown(SHUT_WR) sent FIN at once although another descriptor was still open");
}

/*
 * close-listener-rst. SPEC 1.2: unaccepted connections get RST+ACK (seq =
 * SND.NXT) at close() - Linux 6.18 (checked) does the same; SYN-queue
 * requests get RST at close() (seed; Linux sends nothing then, see
 * docs/linux-differences.md §2).
 */
static void listener_run(struct lab_run *r)
{
  uint16_t p1, p2, p3;
  int lfd = lab_listener(r, SV, LAB_PORT, 8);
  lab_watch(r, SV, lfd);
  int c1 = nb_connect(r, &p1);
  lab_run_to(r, MS(10));
  int c2 = nb_connect(r, &p2);
  lab_run_to(r, MS(100));
  int c3 = nb_connect(r, &p3);
  lab_run_to(r, MS(107));
  lab_partition(r, C, true); /* c3's final ACK is lost: a half-open request */
  lab_run_to(r, MS(300));
  lab_partition(r, C, false);
  lab_run_to(r, MS(400));
  r->mark[0] = lab_now(r);
  lab_note(r, SV, "2 connections never accepted + 1 half-open request (its ACK was lost)");
  lab_close(r, SV, lfd);
  r->watch_fd = -1;
  lab_run_to(r, MS(500));
  r->val[4] = lab_recv(r, C, c1, 100, MSG_DONTWAIT);
  r->val[5] = lab_recv(r, C, c2, 100, MSG_DONTWAIT);
  r->val[6] = lab_recv(r, C, c3, 100, MSG_DONTWAIT);
  r->val[1] = p1;
  r->val[2] = p2;
  r->val[3] = p3;
  lab_run_to(r, SEC(3));
}

static bool listener_verdict(struct lab_run *r, char *why, size_t n)
{
  if (lab_max_acc(r) != 2 || lab_max_syn(r) < 1)
    FAIL("before close() the queues were not: 2 unaccepted + 1 half-open (saw accept %u, SYN %u)",
         lab_max_acc(r), lab_max_syn(r));
  for (int i = 1; i <= 3; i++) {
    int c = lab_conn_of_port(r, (uint16_t)r->val[i]);
    const struct lab_ev *p = lab_first(r, SV, c, 0, 0, r->mark[0], NEVER);
    if (!p || !(p->seg.flags & US_TCP_RST))
      FAIL("c%d: the server's first segment after close() was not a RST", i);
    if (p->t != r->mark[0])
      FAIL("c%d: the RST was not sent at close()", i);
    lab_key(p);
    if (lab_count(r, SV, c, US_TCP_FIN, 0, 0, NEVER))
      FAIL("c%d: the server sent a FIN", i);
    if (i < 3 && (!(p->seg.flags & US_TCP_ACK) || p->seg.rseq != 1))
      FAIL("c%d: the RST was not RST+ACK with seq = SND.NXT", i);
    if (lab_count(r, SV, c, US_TCP_SYN, 0, r->mark[0] + 1, NEVER))
      FAIL("c%d: the server retransmitted a SYN-ACK after close()", i);
    if (r->val[3 + i] != -1)
      FAIL("c%d: the client's recv() did not fail", i);
  }
  if (!failed_with(lab_call(r, C, "recv", 0), ECONNRESET) ||
      !failed_with(lab_call(r, C, "recv", 1), ECONNRESET) ||
      !failed_with(lab_call(r, C, "recv", 2), ECONNRESET))
    FAIL("the clients' recv() did not all fail with ECONNRESET");
  PASS("close() of the listener reset both unaccepted connections and the half-open request "
       "at once (RST, no FIN); all three clients saw ECONNRESET");
}

/* ============================================================ SO_LINGER */

/*
 * linger-wait-ack. Linux 6.18 (checked): with SO_LINGER {1, 5} close()
 * blocks until the data and the FIN are acknowledged, then returns 0.
 */
static void wait_ack_run(struct lab_run *r)
{
  int lfd, cfd, afd;
  if (establish(r, &lfd, &cfd, &afd) < 0)
    return;
  lab_linger(r, C, cfd, 1, 5);
  lab_run_to(r, MS(500));
  lab_send_n(r, C, cfd, 2000, 'x');
  r->mark[0] = lab_now(r);
  lab_close(r, C, cfd);
  lab_run_to(r, SEC(1));
  lab_recv(r, SV, afd, 4000, 0);
  lab_recv(r, SV, afd, 4000, 0);
  lab_close(r, SV, afd);
  lab_run_to(r, MS(1500));
}

static bool wait_ack_verdict(struct lab_run *r, char *why, size_t n)
{
  int c = lab_conn_of_port(r, (uint16_t)r->val[0]);
  const struct lab_ev *cl = lab_call(r, C, "close", 0);
  char a[32], b[32];
  if (!cl || cl->ret != 0)
    FAIL("close() did not return 0");
  const struct lab_ev *fin = lab_first(r, C, c, US_TCP_FIN, 0, cl->t, NEVER);
  if (!fin)
    FAIL("no FIN was sent");
  const struct lab_ev *ack = acked_by(r, SV, c, fin->seg.rseq + fin->seg.plen + 1, cl->t);
  if (!ack)
    FAIL("the FIN was never acknowledged");
  if (cl->t_end < ack->t_end)
    FAIL("close() returned at %s s, before the ACK of the FIN arrived (%s s)", tstr(cl->t_end, a),
         tstr(ack->t_end, b));
  if (cl->t_end > ack->t_end + MS(1))
    FAIL("close() returned at %s s, well after the ACK of the FIN (%s s)", tstr(cl->t_end, a),
         tstr(ack->t_end, b));
  if (cl->t_end - cl->t < 2 * r->latency)
    FAIL("close() did not block for a round trip");
  lab_key(cl);
  lab_key(ack);
  lab_key(fin);
  PASS("close() with SO_LINGER {1, 5 s} blocked %s s until the ACK of the data and FIN "
       "arrived, then returned 0",
       tstr(cl->t_end - cl->t, a));
}

/*
 * linger-timeout. SPEC 1.2: when l_linger passes first, close() returns 0
 * (Linux 6.18 (checked): 0 after l_linger seconds, peer not acknowledging)
 * and the connection goes on in the background.
 */
static void linger_to_run(struct lab_run *r)
{
  int lfd, cfd, afd;
  if (establish(r, &lfd, &cfd, &afd) < 0)
    return;
  lab_linger(r, C, cfd, 1, 2);
  lab_run_to(r, MS(100));
  lab_partition(r, C, true);
  lab_send_n(r, C, cfd, 100, 'x');
  r->mark[0] = lab_now(r);
  lab_close(r, C, cfd);
  lab_run_to(r, SEC(5));
  lab_partition(r, C, false);
  lab_run_to(r, SEC(12));
  r->val[1] = lab_recv(r, SV, afd, 1000, MSG_DONTWAIT);
  r->val[2] = lab_recv(r, SV, afd, 1000, MSG_DONTWAIT);
  lab_close(r, SV, afd);
  lab_run_to(r, SEC(13));
}

static bool linger_to_verdict(struct lab_run *r, char *why, size_t n)
{
  int c = lab_conn_of_port(r, (uint16_t)r->val[0]);
  const struct lab_ev *cl = lab_call(r, C, "close", 0);
  char a[32];
  if (!cl || cl->ret != 0)
    FAIL("close() did not return 0 at the linger timeout");
  uint64_t d = cl->t_end - cl->t;
  if (d < SEC(2) || d > SEC(2) + MS(50))
    FAIL("close() blocked %s s, expected l_linger = 2 s", tstr(d, a));
  if (acked_by(r, SV, c, 102, 0) && acked_by(r, SV, c, 102, 0)->t_end <= cl->t_end)
    FAIL("the FIN was acknowledged before close() returned");
  if (lab_count(r, C, c, 0, 0, cl->t_end, NEVER) < 1)
    FAIL("nothing was retransmitted after close() returned");
  lab_key(cl);
  lab_key(lab_first(r, C, c, 0, 0, cl->t_end, NEVER));
  if (r->val[1] != 100 || r->val[2] != 0)
    FAIL("the data and FIN did not arrive once the link healed");
  PASS("close() with SO_LINGER {1, 2 s} and an unanswering peer returned 0 after %s s; the "
       "connection went on retransmitting and delivered data and FIN once the link healed",
       tstr(d, a));
}

/*
 * linger-close-wait-peer. Linux 6.18 (checked): close() with SO_LINGER
 * {1, 10} returns as soon as the FIN is ACKed (FIN_WAIT2), although the peer
 * stays in CLOSE_WAIT and never sends its FIN.
 */
static void cw_run(struct lab_run *r)
{
  int lfd, cfd, afd;
  if (establish(r, &lfd, &cfd, &afd) < 0)
    return;
  lab_linger(r, C, cfd, 1, 10);
  lab_run_to(r, MS(100));
  lab_note(r, SV, "the server application never calls close()");
  lab_close(r, C, cfd);
  lab_run_to(r, SEC(5));
  r->val[1] = lab_sock_state(r, SV, afd);
  lab_run_to(r, SEC(6));
}

static bool cw_verdict(struct lab_run *r, char *why, size_t n)
{
  int c = lab_conn_of_port(r, (uint16_t)r->val[0]);
  const struct lab_ev *cl = lab_call(r, C, "close", 0);
  char a[32];
  if (!cl || cl->ret != 0)
    FAIL("close() did not return 0");
  if (cl->t_end - cl->t > SEC(1))
    FAIL("close() blocked %s s: it waited for more than the ACK of its FIN",
         tstr(cl->t_end - cl->t, a));
  const struct lab_ev *fw2 = lab_state_at(r, C, USTCP_TCP_FIN_WAIT2, cl->t);
  if (!fw2 || fw2->t > cl->t_end)
    FAIL("the client was not in FIN_WAIT2 when close() returned");
  if (lab_count(r, SV, c, US_TCP_FIN, 0, 0, NEVER))
    FAIL("the server sent a FIN (it must stay in CLOSE_WAIT)");
  if (r->val[1] != USTCP_TCP_CLOSE_WAIT)
    FAIL("the server was not in CLOSE_WAIT at 5 s");
  lab_key(cl);
  lab_key(fw2);
  PASS("close() with SO_LINGER {1, 10 s} returned 0 after %s s, when its FIN was ACKed "
       "(FIN_WAIT2), while the peer stayed in CLOSE_WAIT",
       tstr(cl->t_end - cl->t, a));
}

/*
 * linger-zero-rst. Linux 6.18 (checked): SO_LINGER {1, 0}: close() sends
 * RST at once, queued data is discarded, no FIN, no TIME_WAIT; the peer's
 * recv() fails with ECONNRESET.
 */
static void zero_run(struct lab_run *r)
{
  int lfd, cfd, afd;
  if (establish(r, &lfd, &cfd, &afd) < 0)
    return;
  lab_linger(r, C, cfd, 1, 0);
  lab_nonblock(r, C, cfd);
  lab_run_to(r, MS(100));
  r->val[1] = lab_send_n(r, C, cfd, 50000, 'z');
  r->mark[0] = lab_now(r);
  lab_close(r, C, cfd);
  lab_run_to(r, MS(300));
  for (int i = 0; i < 6; i++)
    if (lab_recv(r, SV, afd, 65536, MSG_DONTWAIT) < 0)
      break;
  lab_run_to(r, SEC(2));
}

static bool zero_verdict(struct lab_run *r, char *why, size_t n)
{
  int c = lab_conn_of_port(r, (uint16_t)r->val[0]);
  const struct lab_ev *cl = lab_call(r, C, "close", 0);
  if (!cl || cl->ret != 0 || cl->t_end != cl->t)
    FAIL("close() did not return 0 at once");
  const struct lab_ev *rst = lab_first(r, C, c, US_TCP_RST, 0, cl->t, NEVER);
  if (!rst || rst->t != cl->t)
    FAIL("no RST at close()");
  if (lab_count(r, C, c, US_TCP_FIN, 0, 0, NEVER))
    FAIL("the client sent a FIN");
  uint32_t sent = 0;
  for (size_t i = 0; i < r->nev; i++) {
    const struct lab_ev *e = &r->ev[i];
    if (e->kind == LAB_PKT && e->host == C && e->seg.conn == c && e->seg.plen &&
        e->seg.rseq + e->seg.plen - 1 > sent)
      sent = e->seg.rseq + e->seg.plen - 1;
  }
  if (r->val[1] <= 0)
    FAIL("send() queued nothing");
  if (sent >= (uint32_t)r->val[1])
    FAIL("all %ld bytes send() took went out: nothing queued was discarded", r->val[1]);
  /* Only RSTs may follow: the peer's ACKs still in flight find no socket. */
  if (lab_count(r, C, c, 0, US_TCP_RST, cl->t + 1, NEVER))
    FAIL("the client sent something other than RST after its RST");
  if (lab_state_at(r, C, USTCP_TCP_TIME_WAIT, 0))
    FAIL("the client entered TIME_WAIT");
  lab_key(rst);
  lab_key(cl);
  bool reset = false;
  for (int i = 0; i < 6; i++)
    reset |= failed_with(lab_call(r, SV, "recv", i), ECONNRESET);
  if (!reset)
    FAIL("the server's recv() never failed with ECONNRESET");
  PASS("SO_LINGER {1, 0}: close() sent RST at once with %u of the %ld bytes send() took on the "
       "wire (the rest discarded), no FIN, no TIME_WAIT; the server got ECONNRESET",
       sent, r->val[1]);
}

/*
 * linger-unread-rst. Linux 6.18 (checked): unread data wins over SO_LINGER
 * {1, 5}: close() sends RST and returns at once, without waiting.
 */
static void lunread_run(struct lab_run *r)
{
  int lfd, cfd, afd;
  if (establish(r, &lfd, &cfd, &afd) < 0)
    return;
  lab_linger(r, SV, afd, 1, 5);
  lab_run_to(r, MS(100));
  lab_send(r, C, cfd, "unread", 6);
  lab_run_to(r, MS(200));
  lab_close(r, SV, afd);
  lab_run_to(r, MS(300));
  lab_recv(r, C, cfd, 100, 0);
  lab_run_to(r, MS(400));
}

static bool lunread_verdict(struct lab_run *r, char *why, size_t n)
{
  int c = lab_conn_of_port(r, (uint16_t)r->val[0]);
  const struct lab_ev *cl = lab_call(r, SV, "close", 0);
  if (!cl || cl->ret != 0)
    FAIL("close() failed");
  if (cl->t_end != cl->t)
    FAIL("close() blocked although the data was unread");
  const struct lab_ev *p = lab_first(r, SV, c, 0, 0, cl->t, NEVER);
  if (!p || !(p->seg.flags & US_TCP_RST) || p->t != cl->t)
    FAIL("close() did not send RST at once");
  lab_key(p);
  lab_key(cl);
  if (lab_count(r, SV, c, US_TCP_FIN, 0, 0, NEVER))
    FAIL("the server sent a FIN");
  if (!failed_with(lab_call(r, C, "recv", 0), ECONNRESET))
    FAIL("the client's recv() did not fail with ECONNRESET");
  PASS("with SO_LINGER {1, 5 s} and 6 unread bytes close() sent RST and returned at once; "
       "the client got ECONNRESET");
}

/* =============================================================== orphans */

/*
 * orphan-data-rst. Linux 6.18 (checked): data arriving for an orphaned
 * socket in FIN_WAIT2 is answered with RST without ACK, seq = the segment's
 * ACK number, and the connection is dropped. (Linux answers from its
 * FIN_WAIT2 mini-socket there and does not count TCPAbortOnData, so the
 * verdict does not ask for that counter.)
 */
static void orphan_run(struct lab_run *r)
{
  int lfd, cfd, afd;
  if (establish(r, &lfd, &cfd, &afd) < 0)
    return;
  lab_run_to(r, MS(100));
  lab_close(r, SV, afd);
  lab_run_to(r, MS(300));
  r->mark[0] = lab_now(r);
  lab_note(r, SV, "the server's socket is closed: an orphan in FIN_WAIT2");
  lab_send(r, C, cfd, "late data", 9);
  lab_run_to(r, MS(400));
  lab_recv(r, C, cfd, 100, 0);
  lab_send(r, C, cfd, "more", 4);
  lab_run_to(r, MS(500));
}

static bool orphan_verdict(struct lab_run *r, char *why, size_t n)
{
  int c = lab_conn_of_port(r, (uint16_t)r->val[0]);
  const struct lab_ev *fw2 = lab_state_at(r, SV, USTCP_TCP_FIN_WAIT2, 0);
  if (!fw2 || fw2->t > r->mark[0])
    FAIL("the server was not in FIN_WAIT2 when the data arrived");
  const struct lab_ev *data = lab_first(r, C, c, 0, 0, r->mark[0], NEVER);
  if (!data || !data->seg.plen)
    FAIL("the client's data was not sent");
  const struct lab_ev *rst = lab_first(r, SV, c, US_TCP_RST, 0, r->mark[0], NEVER);
  if (!rst)
    FAIL("the server did not answer the data with RST");
  if (rst->seg.flags & US_TCP_ACK)
    FAIL("the RST carries ACK (expected RST without ACK)");
  if (rst->seg.seq != data->seg.ack)
    FAIL("the RST's seq is not the data segment's ACK number");
  lab_key(rst);
  lab_key(data);
  lab_key(fw2);
  const struct lab_ev *snd = lab_call(r, C, "send", 1);
  if (!snd || snd->ret >= 0)
    FAIL("the client's next send() did not fail");
  PASS("data for the orphan in FIN_WAIT2 was answered with RST (no ACK, seq = the data's ACK "
       "number); the client's next send() failed with %s",
       lab_errno_name(snd->err));
}

/*
 * fin-wait2-timeout. Linux 6.18 (checked, with tcp_fin_timeout shortened):
 * the orphan in FIN_WAIT2 is dropped after fin_timeout without sending
 * anything; the peer's later FIN is answered with RST from "no socket".
 */
static void fw2_run(struct lab_run *r)
{
  int lfd, cfd, afd;
  if (establish(r, &lfd, &cfd, &afd) < 0)
    return;
  lab_close(r, SV, lfd); /* no listener either: the late FIN finds no socket */
  lab_run_to(r, MS(100));
  lab_close(r, SV, afd);
  lab_run_to(r, SEC(70));
  r->mark[0] = lab_now(r);
  lab_close(r, C, cfd);
  lab_run_to(r, SEC(71));
}

static bool fw2_verdict(struct lab_run *r, char *why, size_t n)
{
  int c = lab_conn_of_port(r, (uint16_t)r->val[0]);
  char a[32];
  const struct lab_ev *fw2 = lab_state_at(r, SV, USTCP_TCP_FIN_WAIT2, 0);
  if (!fw2)
    FAIL("the server never reached FIN_WAIT2");
  const struct lab_ev *gone = NULL;
  for (size_t i = 0; i < r->nev; i++) {
    const struct lab_ev *e = &r->ev[i];
    if (e->kind == LAB_STATE && e->host == SV && e->old_state == USTCP_TCP_FIN_WAIT2 &&
        e->t > fw2->t) {
      gone = e;
      break;
    }
  }
  if (!gone || gone->new_state != USTCP_TCP_CLOSE)
    FAIL("no FIN_WAIT2 -> CLOSED state change was traced");
  uint64_t d = gone->t - fw2->t;
  if (d < SEC(60) || d > SEC(61))
    FAIL("the orphan lived %s s in FIN_WAIT2, expected fin_timeout = 60 s", tstr(d, a));
  if (lab_count(r, SV, c, 0, 0, fw2->t + 1, r->mark[0]))
    FAIL("the server sent something while in FIN_WAIT2 or when it dropped the orphan");
  const struct lab_ev *rst = lab_first(r, SV, c, US_TCP_RST, 0, r->mark[0], NEVER);
  if (!rst)
    FAIL("the client's late FIN was not answered with RST");
  const struct lab_ev *late = lab_first(r, C, c, US_TCP_FIN, 0, r->mark[0], NEVER);
  if (!late || late->fate != LAB_DROPPED || late->stat != USTCP_STAT_DROP_TCP_NO_SOCKET)
    FAIL("the client's late FIN did not find \"no socket\" at the server");
  lab_key(rst);
  lab_key(late);
  lab_key(fw2);
  lab_key(gone);
  PASS("the orphan stayed %s s in FIN_WAIT2, was dropped silently, and the client's FIN at "
       "70 s got a RST from no socket",
       tstr(d, a));
}

/*
 * time-wait. Linux 6.18 (checked, /proc/net/tcp timers): the active closer
 * stays in TIME_WAIT 60 s; the peer's retransmitted FIN (its last ACK lost)
 * is answered with an ACK and the timer goes back to 60 s.
 */
static void tw_run(struct lab_run *r)
{
  int lfd, cfd, afd;
  if (establish(r, &lfd, &cfd, &afd) < 0)
    return;
  lab_run_to(r, MS(100));
  lab_close(r, C, cfd);
  lab_run_to(r, MS(150));
  lab_recv(r, SV, afd, 100, 0);
  lab_run_to(r, MS(200));
  lab_partition(r, C, true); /* the client's last ACK is lost */
  lab_close(r, SV, afd);
  lab_run_to(r, MS(300));
  lab_partition(r, C, false);
  lab_run_to(r, SEC(65));
}

static bool tw_verdict(struct lab_run *r, char *why, size_t n)
{
  int c = lab_conn_of_port(r, (uint16_t)r->val[0]);
  char a[32], b[32];
  const struct lab_ev *tw = lab_state_at(r, C, USTCP_TCP_TIME_WAIT, 0);
  if (!tw)
    FAIL("the client never entered TIME_WAIT");
  /* The server's FINs and the last one the client answered. */
  const struct lab_ev *last_fin = NULL;
  int fins = 0;
  for (size_t i = 0; i < r->nev; i++) {
    const struct lab_ev *e = &r->ev[i];
    /* TIME_WAIT may count the segment it absorbs as a drop. */
    if (e->kind == LAB_PKT && e->host == SV && e->seg.conn == c && (e->seg.flags & US_TCP_FIN) &&
        (e->fate == LAB_ARRIVED || e->fate == LAB_DROPPED)) {
      fins++;
      last_fin = e;
    }
  }
  if (fins < 2)
    FAIL("the server did not retransmit its FIN (%d FIN(s))", fins);
  const struct lab_ev *ack = lab_first(r, C, c, US_TCP_ACK, US_TCP_RST, last_fin->t_end, NEVER);
  if (!ack || ack->t != last_fin->t_end ||
      ack->seg.rack != last_fin->seg.rseq + last_fin->seg.plen + 1 || ack->fate != LAB_ARRIVED)
    FAIL("the retransmitted FIN in TIME_WAIT was not answered with an ACK");
  const struct lab_ev *end = NULL;
  for (size_t i = 0; i < r->nev; i++) {
    const struct lab_ev *e = &r->ev[i];
    if (e->kind == LAB_STATE && e->host == C && e->old_state == USTCP_TCP_TIME_WAIT) {
      end = e;
      break;
    }
  }
  if (!end)
    FAIL("the client never left TIME_WAIT");
  uint64_t d = end->t - last_fin->t_end;
  if (d < SEC(60) || d > SEC(60) + MS(500))
    FAIL("TIME_WAIT ended %s s after the last FIN, expected 60 s (restarted)", tstr(d, a));
  lab_key(tw);
  lab_key(last_fin);
  lab_key(ack);
  lab_key(end);
  PASS("the client held TIME_WAIT from %s s; the retransmitted FIN got an ACK and restarted "
       "the timer; TIME_WAIT ended %s s after it",
       tstr(tw->t, b), tstr(d, a));
}

/* ============================================================ keepalive */

/*
 * keepalive-dead-peer. Linux 6.18 (checked, idle 2 s, interval 1 s, count
 * 3, peer silenced): an answered probe carries seq = SND.UNA - 1 and no data;
 * with the peer silent 3 probes go out, then RST+ACK one interval later, and
 * recv() fails with ETIMEDOUT, a later send() with EPIPE.
 */
static void ka_run(struct lab_run *r)
{
  int lfd, cfd, afd;
  if (establish(r, &lfd, &cfd, &afd) < 0)
    return;
  lab_setint(r, SV, afd, SOL_SOCKET, SO_KEEPALIVE, "SO_KEEPALIVE", 1);
  lab_setint(r, SV, afd, IPPROTO_TCP, TCP_KEEPIDLE, "TCP_KEEPIDLE", 10);
  lab_setint(r, SV, afd, IPPROTO_TCP, TCP_KEEPINTVL, "TCP_KEEPINTVL", 5);
  lab_setint(r, SV, afd, IPPROTO_TCP, TCP_KEEPCNT, "TCP_KEEPCNT", 3);
  lab_run_to(r, SEC(15));
  r->mark[0] = lab_now(r);
  lab_note(r, C, "the client host dies (both directions cut)");
  lab_partition(r, C, true);
  lab_partition(r, SV, true);
  lab_run_to(r, SEC(45));
  lab_recv(r, SV, afd, 100, MSG_DONTWAIT);
  lab_send(r, SV, afd, "anyone?", 7);
  lab_run_to(r, SEC(46));
}

static bool ka_verdict(struct lab_run *r, char *why, size_t n)
{
  int c = lab_conn_of_port(r, (uint16_t)r->val[0]);
  const struct lab_ev *probe[8];
  int np = 0;
  for (size_t i = 0; i < r->nev && np < 8; i++) {
    const struct lab_ev *e = &r->ev[i];
    if (e->kind == LAB_PKT && e->host == SV && e->seg.conn == c && e->t > SEC(1) &&
        !(e->seg.flags & (US_TCP_SYN | US_TCP_FIN | US_TCP_RST)) && e->seg.plen <= 1)
      probe[np++] = e;
  }
  if (np != 4)
    FAIL("expected 1 answered + 3 unanswered probes, saw %d", np);
  for (int i = 0; i < np; i++)
    if (probe[i]->seg.rseq != 0 || probe[i]->seg.plen != 0)
      FAIL("probe %d has seq %u len %u, expected seq = SND.UNA-1 (0) and no data", i + 1,
           probe[i]->seg.rseq, probe[i]->seg.plen);
  if (probe[0]->t < SEC(10) || probe[0]->t > SEC(10) + MS(50))
    FAIL("the first probe was not sent after TCP_KEEPIDLE = 10 s of idleness");
  if (!lab_first(r, C, c, US_TCP_ACK, 0, probe[0]->t_end, probe[0]->t_end + 1))
    FAIL("the live peer did not answer the first probe");
  for (int i = 2; i < np; i++) {
    uint64_t d = probe[i]->t - probe[i - 1]->t;
    if (d != SEC(5))
      FAIL("unanswered probes are not TCP_KEEPINTVL = 5 s apart");
  }
  const struct lab_ev *rst = lab_first(r, SV, c, US_TCP_RST | US_TCP_ACK, 0, probe[3]->t, NEVER);
  if (!rst || rst->t != probe[3]->t + SEC(5))
    FAIL("no RST+ACK 5 s after the 3rd unanswered probe");
  if (rst->seg.rseq != 1)
    FAIL("the RST's seq is not SND.NXT (relative %u)", rst->seg.rseq);
  for (int i = 0; i < np; i++)
    lab_key(probe[i]);
  lab_key(rst);
  lab_key(lab_call(r, SV, "recv", 0));
  if (!failed_with(lab_call(r, SV, "recv", 0), ETIMEDOUT))
    FAIL("recv() after the keepalive timeout did not fail with ETIMEDOUT");
  if (!failed_with(lab_call(r, SV, "send", 0), EPIPE))
    FAIL("send() after that did not fail with EPIPE");
  char a[32];
  PASS("a probe (seq = SND.UNA-1) at 10 s was answered; after the peer died 3 probes went "
       "unanswered 5 s apart and the RST at %s s dropped the connection: recv() ETIMEDOUT, "
       "send() EPIPE",
       tstr(rst->t, a));
}

/* ================================================================ table */

const struct lab_scenario lab_scenarios[] = {
    {"accept-queue-overflow", "accept queue full: the final ACK is dropped, the SYN queue grows",
     "SPEC 1.1: when the accept queue is full (more than backlog connections) a new SYN and a "
     "handshake-completing ACK are dropped (ListenOverflows); the connection stays in the SYN "
     "queue while the server retransmits its SYN-ACK and the client believes it is ESTABLISHED; "
     "once accept() makes room the next ACK completes it.",
     "c3's final ACK dropped at the server (X, DropTcpAcceptqFull) while the client is "
     "ESTABLISHED; the SYN-ACK retransmissions for c3; c4's SYNs dropped; the accept "
     "queue stuck at 2 until accept() at 4 s.",
     SV, 1, 5, NULL, accept_overflow_run, accept_overflow_verdict},
    {"syn-queue-overflow", "SYN queue full: new SYNs are dropped silently",
     "SPEC 1.1: the SYN queue admits backlog+1 half-open requests; with it full a new SYN is "
     "dropped silently (no SYN-ACK, no RST; TCPReqQFullDrop and ListenDrops), and the client's "
     "SYN retransmission may succeed later.",
     "the SYN queue growing to 3 while the SYN-ACKs are lost; the 4th SYN dropped with "
     "no answer at all (DropTcpSynqFull); the 4th client getting in later by "
     "retransmitting its SYN.",
     SV, 2, 5, synq_config, synq_run, synq_verdict},
    {"syn-cookies", "syncookies=1: a full SYN queue answers with a SYN cookie",
     "SPEC 1.1 (seed: off by default): with SYN cookies on, a SYN that finds the SYN queue full "
     "is answered with a cookie SYN-ACK, and the connection is made without a SYN-queue entry.",
     "the 3rd SYN, arriving with the SYN queue full, answered with a SYN-ACK anyway "
     "(the cookie) while the SYN queue does not grow; the connection accepted.",
     SV, 3, 5, cookies_config, cookies_run, cookies_verdict},
    {"close-unread-rst", "close() with unread data sends RST, not FIN",
     "SPEC 1.2: closing an ESTABLISHED socket with received data still unread discards it and "
     "resets the connection with RST (RST+ACK, seq = SND.NXT), never FIN.",
     "close() with 5 unread bytes; the server's red RST and no blue FIN; the client's "
     "recv() failing with ECONNRESET.",
     SV, 4, 5, NULL, unread_run, unread_verdict},
    {"close-fin-piggyback", "close() with data queued: the FIN rides on the last data segment",
     "SPEC 1.2: if data is still queued when close() sends FIN, the FIN rides on the last data "
     "segment (no separate FIN) and Nagle is turned off so everything queued goes out at once.",
     "the last data segment carrying the FIN ('FP.', len=100) at close(); no separate "
     "FIN segment.",
     SV, 5, 5, NULL, piggy_run, piggy_verdict},
    {"close-bare-fin", "close() with nothing queued sends a bare FIN",
     "SPEC 1.2: closing with nothing unread and nothing queued sends a bare FIN segment and the "
     "connection finishes with the four-way close (FIN_WAIT1, FIN_WAIT2, TIME_WAIT).",
     "the blue FIN with len=0 at close(); the four-way close; the server going "
     "FIN_WAIT1, FIN_WAIT2, TIME_WAIT.",
     SV, 6, 5, NULL, barefin_run, barefin_verdict},
    {"shutdown-half-close", "shutdown(SHUT_WR): half-close, the socket still reads",
     "SPEC 1.2: shutdown(SHUT_WR) sends FIN after queued data and the socket can still read; "
     "sending after it fails with EPIPE.",
     "the client's FIN right after shutdown(SHUT_WR); the server still answering and "
     "the client still reading; send() after shutdown failing with EPIPE.",
     C, 7, 5, NULL, half_run, half_verdict},
    {"dup-refcount", "close() only releases a descriptor; shutdown() ignores the refcount",
     "SPEC 1.2: close() closes the socket only when its reference count drops to 0 (dup() "
     "shares it); shutdown() acts on the socket whatever its reference count.",
     "close() of one of two descriptors: nothing on the wire, the other keeps working; "
     "shutdown() on a third descriptor sends FIN at once while another is still open.",
     SV, 8, 5, NULL, dup_run, dup_verdict},
    {"close-listener-rst", "close() of a listener resets unaccepted and half-open connections",
     "SPEC 1.2: closing a listening socket aborts every connection accept() never took with "
     "RST (RST+ACK, seq = SND.NXT) and every SYN-queue request with RST (seed), never FIN; no "
     "half-open connection is left dangling.",
     "close() of the listener: three red RSTs at once (two connections never accepted, "
     "one half-open request), no FIN; every client's recv() fails with ECONNRESET.",
     SV, 9, 5, NULL, listener_run, listener_verdict},
    {"linger-wait-ack", "SO_LINGER > 0: close() blocks until data and FIN are ACKed",
     "SPEC 1.2: with SO_LINGER on and l_linger > 0, close() sends FIN after the data and blocks "
     "until data and FIN are acknowledged (or l_linger passes).",
     "the orange bar: close() blocked from sending the FIN until the ACK of the FIN "
     "arrived one round trip (100 ms) later.",
     C, 10, 50, NULL, wait_ack_run, wait_ack_verdict},
    {"linger-timeout", "SO_LINGER > 0, peer silent: close() returns 0 after l_linger",
     "SPEC 1.2: if l_linger seconds pass before the ACK, close() returns 0 (Linux) and the "
     "connection goes on in the background.",
     "the client's segments lost on the partitioned link; close() blocked exactly "
     "l_linger = 2 s and returned 0; the retransmissions going on after it.",
     C, 11, 5, NULL, linger_to_run, linger_to_verdict},
    {"linger-close-wait-peer", "SO_LINGER > 0: close() does not wait for the peer's FIN",
     "SPEC 1.2: SO_LINGER does not wait for the peer's FIN: a peer stuck in CLOSE_WAIT that ACKs "
     "our FIN lets close() return (we are in FIN_WAIT2).",
     "close() returning as soon as its FIN is ACKed (FIN_WAIT2) while the server stays "
     "in CLOSE_WAIT and never sends a FIN.",
     C, 12, 5, NULL, cw_run, cw_verdict},
    {"linger-zero-rst", "SO_LINGER {1, 0}: abortive close with RST",
     "SPEC 1.2: with SO_LINGER on and l_linger = 0, close() is abortive: RST at once, queued "
     "data discarded, no FIN, no TIME_WAIT.",
     "close() sending a red RST at once instead of FIN; the queued data never leaves; "
     "no TIME_WAIT; the server's recv() failing with ECONNRESET.",
     C, 13, 5, NULL, zero_run, zero_verdict},
    {"linger-unread-rst", "SO_LINGER > 0 with unread data: RST, no waiting",
     "SPEC 1.2: with SO_LINGER > 0 the unread-data check comes first: unread data means RST and "
     "close() does not wait.",
     "close() with SO_LINGER and 6 unread bytes: a red RST and close() returning at "
     "once (no orange bar).",
     SV, 14, 5, NULL, lunread_run, lunread_verdict},
    {"keepalive-dead-peer", "keepalive probes find a dead peer and drop the connection",
     "SPEC 1.3: keepalive probes (seq = SND.UNA-1) go out after KEEPIDLE, repeat every KEEPINTVL "
     "while unanswered, and KEEPINTVL after the KEEPCNT-th a RST is sent and the connection "
     "dropped: recv() fails with ETIMEDOUT, later send() with EPIPE.",
     "the probe at 10 s answered; after the client dies three probes lost 5 s apart, "
     "then a red RST; recv() failing with ETIMEDOUT, send() with EPIPE.",
     SV, 15, 5, NULL, ka_run, ka_verdict},
    {"orphan-data-rst", "data for an orphan in FIN_WAIT2 is answered with RST",
     "SPEC 1.2: new data arriving for an orphaned socket in FIN_WAIT1/FIN_WAIT2 is answered with "
     "RST (no ACK flag, seq = the segment's ACK number) and the connection is dropped.",
     "the server's socket closed (an orphan in FIN_WAIT2); the client's 'late data' "
     "answered with a red RST without ACK ('R').",
     SV, 16, 5, NULL, orphan_run, orphan_verdict},
    {"fin-wait2-timeout", "an orphan in FIN_WAIT2 is dropped after fin_timeout (60 s)",
     "SPEC 1.2: an orphan in FIN_WAIT2 is bounded by fin_timeout (60 s), then dropped silently "
     "with no RST; a later segment from the peer gets a RST from no socket.",
     "the server in FIN_WAIT2 after close(); nothing sent for 60 s; the connection "
     "silently gone at 60 s; the client's FIN at 70 s answered with RST.",
     SV, 17, 5, NULL, fw2_run, fw2_verdict},
    {"time-wait", "TIME_WAIT lasts 60 s and re-ACKs a retransmitted FIN",
     "SPEC 1.2/2: the active closer ends in TIME_WAIT for 60 s; a segment arriving there (a "
     "retransmitted FIN) is answered with an ACK and restarts the 60 s timer.",
     "the client's last ACK lost; the server's retransmitted FIN answered from "
     "TIME_WAIT; TIME_WAIT ending 60 s after that FIN, not after the first.",
     C, 18, 5, NULL, tw_run, tw_verdict},
};
const size_t lab_nscenarios = sizeof(lab_scenarios) / sizeof(lab_scenarios[0]);
