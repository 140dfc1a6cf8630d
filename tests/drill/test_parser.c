/*
 * test_parser.c - the drill script language: times, packets, options,
 * system calls and their values, shell and Python blocks, comments, and
 * parse errors with line and column; plus packet build/parse round trips.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "drill.h"
#include "harness/test.h"

static int parse(const char *text, struct dr_script *sc, char *err)
{
  err[0] = 0;
  return dr_parse("t.pkt", text, sc, err, 256);
}

static void test_times(void)
{
  struct dr_script sc;
  char err[256];
  T_EQ(parse("0 close(3) = 0\n+0.1 close(3) = 0\n+.25 close(3) = 0\n* close(3) = 0\n"
             "1.5~2 close(3) = 0\n+0...0.300 close(3) = 0\n+1...+2 close(3) = 0\n",
             &sc, err),
       0);
  T_EQ(sc.nev, 7);
  T_EQ(sc.ev[0].t.kind, DR_T_ABS);
  T_EQ(sc.ev[0].t.us, 0);
  T_EQ(sc.ev[1].t.kind, DR_T_REL);
  T_EQ(sc.ev[1].t.us, 100000);
  T_EQ(sc.ev[2].t.us, 250000);
  T_EQ(sc.ev[3].t.kind, DR_T_ANY);
  T_CHECK(sc.ev[4].t.range);
  T_EQ(sc.ev[4].t.us, 1500000);
  T_EQ(sc.ev[4].t.end_us, 2000000);
  T_CHECK(sc.ev[5].blocking);
  T_EQ(sc.ev[5].end.kind, DR_T_ABS);
  T_EQ(sc.ev[5].end.us, 300000);
  T_CHECK(sc.ev[6].blocking);
  T_EQ(sc.ev[6].end.kind, DR_T_REL);
  T_EQ(sc.ev[6].end.us, 2000000);
  T_EQ(sc.ev[6].line, 7);
  dr_script_free(&sc);
}

static void test_packets(void)
{
  struct dr_script sc;
  char err[256];
  T_EQ(parse("// comment\n0 < S 0:0(0) win 32792 <mss 1000,sackOK,TS val 100 ecr 0,nop,"
             "wscale 7>\n"
             "/* multi\n line */ +0 > S. 0:0(0) ack 1 <...>\n"
             "+0 <@3 P. 1:1001(1000) ack 1 win 257 <nop,nop,sack 5:10 20:30>\n"
             "+0 > R 7:7(0)\n+0 > F. 1:1(0) ack 2 <eol>\n",
             &sc, err),
       0);
  T_EQ(sc.nev, 5);
  struct dr_pkt *p = &sc.ev[0].pkt;
  T_EQ(sc.ev[0].kind, DR_EV_IN);
  T_EQ(p->flags, DR_TCP_SYN);
  T_CHECK(p->has_win && p->win == 32792);
  T_EQ(p->nopt, 5);
  T_EQ(p->opt[0].kind, DR_OPT_MSS);
  T_EQ(p->opt[0].a, 1000);
  T_EQ(p->opt[2].kind, DR_OPT_TS);
  T_EQ(p->opt[2].a, 100);
  T_EQ(p->opt[4].kind, DR_OPT_WS);
  T_EQ(p->opt[4].a, 7);
  T_EQ(sc.ev[1].kind, DR_EV_OUT);
  T_EQ(sc.ev[1].line, 4);
  T_EQ(sc.ev[1].pkt.flags, DR_TCP_SYN | DR_TCP_ACK);
  T_CHECK(sc.ev[1].pkt.opts_any);
  p = &sc.ev[2].pkt;
  T_EQ(p->flow, 3);
  T_EQ(p->flags, DR_TCP_PSH | DR_TCP_ACK);
  T_EQ(p->seq, 1);
  T_EQ(p->end, 1001);
  T_EQ(p->len, 1000);
  T_EQ(p->opt[2].kind, DR_OPT_SACK);
  T_EQ(p->opt[2].nsack, 2);
  T_EQ(p->opt[2].sack[1][0], 20);
  T_EQ(sc.ev[3].pkt.flags, DR_TCP_RST);
  T_CHECK(!sc.ev[3].pkt.has_ack);
  T_EQ(sc.ev[4].pkt.opt[0].kind, DR_OPT_EOL);
  dr_script_free(&sc);
}

static void test_calls(void)
{
  struct dr_script sc;
  char err[256];
  T_EQ(parse("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n"
             "+0 setsockopt(3, SOL_SOCKET, SO_LINGER, {onoff=1, linger=0}, 8) = 0\n"
             "+0 fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK) = 0\n"
             "+0 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)\n"
             "+0 poll([{fd=3, events=POLLIN|POLLOUT, revents=POLLOUT}], 1, 0) = 1\n"
             "+0 writev(3, [{..., 10}, {..., 20}], 2) = 30\n"
             "+0 sendmsg(3, {msg_name(...)=..., msg_iov(1)=[{..., 5}], msg_flags=0}, 0) = 5\n"
             "+0 getsockopt(3, SOL_SOCKET, SO_ERROR, [0], [4]) = 0\n"
             "+0 fcntl(3, F_GETFL) = 0x802 (flags O_RDWR|O_NONBLOCK)\n",
             &sc, err),
       0);
  T_EQ(sc.nev, 9);
  struct dr_call *c = &sc.ev[0].call;
  T_STREQ(c->name, "socket");
  T_EQ(c->nargs, 3);
  T_EQ(c->args[0].kind, DR_V_ELLIPSIS);
  T_EQ(c->args[1].i, SOCK_STREAM);
  T_EQ(c->ret, 3);
  c = &sc.ev[1].call;
  T_EQ(c->args[3].kind, DR_V_STRUCT);
  T_STREQ(c->args[3].v[0].name, "onoff");
  T_EQ(c->args[3].v[1].i, 0);
  T_EQ(sc.ev[2].call.args[2].i, 02 | 04000);
  c = &sc.ev[3].call;
  T_EQ(c->ret, -1);
  T_EQ(c->err, EINPROGRESS);
  T_STREQ(c->note, "Operation now in progress");
  c = &sc.ev[4].call;
  T_EQ(c->args[0].kind, DR_V_LIST);
  T_STREQ(c->args[0].v[0].v[2].name, "revents");
  T_EQ(sc.ev[5].call.args[1].n, 2);
  T_EQ(sc.ev[5].call.args[1].v[1].v[1].i, 20);
  c = &sc.ev[6].call;
  T_CHECK(c->args[1].v[1].has_count);
  T_EQ(c->args[1].v[1].count, 1);
  T_EQ(sc.ev[8].call.ret, 0x802);
  dr_script_free(&sc);
}

static void test_blocks(void)
{
  struct dr_script sc;
  char err[256];
  T_EQ(parse("// ustcp-only: because\n`sysctl -q net.ipv4.tcp_sack=0\necho x`\n"
             "--tolerance_usecs=7000\n0 %{ assert 1 }%\n+0 %{\nx = 1\n}%\n",
             &sc, err),
       0);
  T_CHECK(sc.ustcp_only);
  T_STREQ(sc.ustcp_only_reason, "because");
  T_EQ(sc.tolerance_us, 7000);
  T_EQ(sc.nev, 3);
  T_EQ(sc.ev[0].kind, DR_EV_SHELL);
  T_STREQ(sc.ev[0].text, "sysctl -q net.ipv4.tcp_sack=0\necho x");
  T_EQ(sc.ev[1].kind, DR_EV_PYTHON);
  T_STREQ(sc.ev[1].text, " assert 1 ");
  T_EQ(sc.ev[2].line, 6);
  T_CHECK(!sc.linux_only);
  dr_script_free(&sc);
  T_EQ(parse("// linux-only: the seed differs\n0 close(3) = 0\n", &sc, err), 0);
  T_CHECK(sc.linux_only && !sc.ustcp_only);
  T_STREQ(sc.linux_only_reason, "the seed differs");
  dr_script_free(&sc);
}

/* Every malformed line is an error at its line and column. */
static void test_icmp(void)
{
  struct dr_script sc;
  char err[256];
  T_EQ(parse("0 < icmp unreachable frag_needed mtu 1000 [1:1461(1460)]\n"
             "+0 <@1 icmp unreachable port_unreachable [5:5(0)]\n"
             "+0 < icmp time_exceeded ttl_exceeded [7:8(1)]\n",
             &sc, err),
       0);
  T_EQ(sc.nev, 3);
  struct dr_pkt *p = &sc.ev[0].pkt;
  T_CHECK(p->icmp);
  T_EQ(p->icmp_type, 3);
  T_EQ(p->icmp_code, 4);
  T_EQ(p->icmp_mtu, 1000);
  T_EQ(p->seq, 1);
  T_EQ(p->end, 1461);
  T_EQ(p->len, 1460);
  p = &sc.ev[1].pkt;
  T_EQ(p->flow, 1);
  T_EQ(p->icmp_code, 3);
  T_EQ(p->icmp_mtu, 0);
  T_EQ(sc.ev[2].pkt.icmp_type, 11);
  dr_script_free(&sc);

  /* the built message: ICMP quoting our segment, with the next-hop MTU */
  struct dr_seg q = {.src = DR_LOCAL_IP,
                     .dst = DR_REMOTE_IP,
                     .sport = 8080,
                     .dport = 40000,
                     .seq = 12345,
                     .flags = DR_TCP_ACK,
                     .len = 1460};
  uint8_t buf[128];
  int n = dr_icmp_build(DR_REMOTE_IP, DR_LOCAL_IP, 3, 4, 1000, &q, buf, sizeof(buf));
  T_EQ(n, 68);
  T_EQ(buf[9], 1);
  T_EQ(buf[20], 3);
  T_EQ(buf[21], 4);
  T_EQ((buf[26] << 8) | buf[27], 1000);
  T_EQ((buf[30] << 8) | buf[31], 1500); /* the quoted datagram's length */
  T_EQ(((uint32_t)buf[52] << 24) | ((uint32_t)buf[53] << 16) | (buf[54] << 8) | buf[55], 12345);
  T_EQ(dr_icmp_build(DR_REMOTE_IP, DR_LOCAL_IP, 3, 4, 1000, &q, buf, 40), -1);
}

static void test_errors(void)
{
  static const struct {
    const char *text, *where;
  } cases[] = {
      {"0 close(3) = 0\n0 frobnicate(3) = 0\n", "2:3:"},
      {"0 < S 0:0(0) win 100 <mss 1460,bogus 3>\n", "1:32:"},
      {"0 < S 0:5(0) win 100\n", "1:13:"},
      {"0 < X 0:0(0)\n", "1:5:"},
      {"0 < S. 0:0(0) win 1\n", "1:20:"},
      {"0 close(3) = -1\n", "1:16:"},
      {"0 close(3) = -1 EFOO\n", "1:17:"},
      {"0 close(3) = 0 junk\n", "1:16:"},
      {"0 close(3)\n", "1:11:"},
      {"0 listen(3) = 0\n", "1:3:"},
      {"0 close(3) = 0 /* open\n", "1:16:"},
      {"`echo\n", "2:1:"},
      {"--bogus=1\n", "1:3:"},
      {"0 < S 0:0(0) win 100 wat 3\n", "1:22:"},
      {"x\n", "1:1:"},
      {"0 setsockopt(3, SOL_SOCKET, NO_SUCH, [1], 4) = 0\n", "1:29:"},
      {"0 > icmp unreachable port_unreachable [1:2(1)]\n", "1:9:"},
      {"0 < icmp unreachable frag_wanted [1:2(1)]\n", "1:22:"},
      {"0 < icmp unreachable frag_needed mtu 1000\n", "1:42:"},
      {"0 < icmp unreachable frag_needed mtu 1000 [1:5(1)]\n", "1:51:"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    struct dr_script sc;
    char err[256];
    int rc = parse(cases[i].text, &sc, err);
    T_EQ(rc, -1);
    if (strncmp(err, cases[i].where, strlen(cases[i].where)) != 0)
      fprintf(stderr, "case %zu: got \"%s\", want prefix \"%s\"\n", i, err, cases[i].where);
    T_CHECK(strncmp(err, cases[i].where, strlen(cases[i].where)) == 0);
    dr_script_free(&sc);
  }
}

static void test_packet_roundtrip(void)
{
  struct dr_seg a, b;
  memset(&a, 0, sizeof(a));
  a.src = DR_REMOTE_IP;
  a.dst = DR_LOCAL_IP;
  a.sport = 40001;
  a.dport = 8080;
  a.seq = 0xfffffff0u;
  a.ack = 12345;
  a.flags = DR_TCP_ACK | DR_TCP_PSH;
  a.win = 257;
  a.len = 100;
  a.nopt = 3;
  a.opt[0].kind = DR_OPT_NOP;
  a.opt[1].kind = DR_OPT_NOP;
  a.opt[2].kind = DR_OPT_TS;
  a.opt[2].a = 7;
  a.opt[2].b = 9;
  uint8_t buf[512];
  int n = dr_seg_build(&a, buf, sizeof(buf));
  T_EQ(n, 20 + 32 + 100);
  char err[128];
  T_EQ(dr_seg_parse(buf, (size_t)n, &b, err, sizeof(err)), 0);
  T_EQ(b.seq, a.seq);
  T_EQ(b.ack, a.ack);
  T_EQ(b.len, 100);
  T_EQ(b.win, 257);
  T_EQ(b.nopt, 3);
  T_EQ(b.opt[2].b, 9);
  /* checksums: summing the IP header, and the TCP segment with its
   * pseudo-header, gives 0xffff */
  uint32_t s = 0;
  for (int i = 0; i < 20; i += 2)
    s += (uint32_t)(buf[i] << 8 | buf[i + 1]);
  while (s >> 16)
    s = (s & 0xffff) + (s >> 16);
  T_EQ(s, 0xffff);
  s = (DR_REMOTE_IP >> 16) + (DR_REMOTE_IP & 0xffff) + (DR_LOCAL_IP >> 16) +
      (DR_LOCAL_IP & 0xffff) + 6 + (uint32_t)(n - 20);
  for (int i = 20; i < n; i += 2)
    s += (uint32_t)(buf[i] << 8 | (i + 1 < n ? buf[i + 1] : 0));
  while (s >> 16)
    s = (s & 0xffff) + (s >> 16);
  T_EQ(s, 0xffff);
  T_EQ(dr_seg_parse(buf, 30, &b, err, sizeof(err)), -1); /* truncated */
  char txt[256];
  dr_seg_format(&a, txt, sizeof(txt));
  T_STREQ(txt, "P. 4294967280:84(100) ack 12345 win 257 <nop,nop,TS val 7 ecr 9>");
}

int main(void)
{
  T_RUN(test_times);
  T_RUN(test_packets);
  T_RUN(test_calls);
  T_RUN(test_blocks);
  T_RUN(test_icmp);
  T_RUN(test_errors);
  T_RUN(test_packet_roundtrip);
  return T_DONE();
}
