/*
 * test_tcp_states.c - the RFC 9293 state machine as traced: every state a
 * connection passes through on the common paths (passive open through a
 * SYN_RECV request, active close, passive close, simultaneous close through
 * CLOSING), and what an in-window RST does in each synchronized state.
 */
#include "tcp/fixture.h"

#include <stdio.h>

static char paths[2][512];
static void rec_trace(void *user, struct ustcp_stack *s, const struct ustcp_trace_event *ev)
{
  struct fx *f = user;
  if (ev->kind != USTCP_TR_STATE || ev->new_state == USTCP_TCP_LISTEN ||
      (ev->old_state == USTCP_TCP_LISTEN && ev->new_state == USTCP_TCP_CLOSE))
    return;
  int h = s == f->S ? 0 : 1;
  char step[32];
  snprintf(step, sizeof(step), "%s ", ustcp_tcp_state_name(ev->new_state));
  strncat(paths[h], step, sizeof(paths[h]) - strlen(paths[h]) - 1);
}

static void reset_paths(void) { paths[0][0] = paths[1][0] = 0; }

static void active_and_passive_close(void)
{
  struct fx f;
  fx_init(&f, 5);
  ustcp_set_trace(f.S, rec_trace, &f);
  ustcp_set_trace(f.C, rec_trace, &f);
  reset_paths();
  int l, s;
  int c = fx_pair(&f, 80, &l, &s);
  T_EQ(ustcp_close(f.C, c), 0);
  fx_run(&f, 0.1);
  T_EQ(ustcp_close(f.S, s), 0);
  fx_run(&f, 61);
  T_STREQ(paths[1], "SYN_SENT ESTABLISHED FIN_WAIT1 FIN_WAIT2 TIME_WAIT CLOSED ");
  T_STREQ(paths[0], "SYN_RECV ESTABLISHED CLOSE_WAIT LAST_ACK CLOSED ");
  fx_fini(&f);
}

static void simultaneous_close(void)
{
  struct fx f;
  fx_init(&f, 5);
  int l, s;
  int c = fx_pair(&f, 80, &l, &s);
  ustcp_set_trace(f.S, rec_trace, &f);
  ustcp_set_trace(f.C, rec_trace, &f);
  reset_paths();
  T_EQ(ustcp_close(f.C, c), 0); /* both FINs cross on the wire */
  T_EQ(ustcp_close(f.S, s), 0);
  fx_run(&f, 1);
  T_STREQ(paths[1], "FIN_WAIT1 CLOSING TIME_WAIT ");
  T_STREQ(paths[0], "FIN_WAIT1 CLOSING TIME_WAIT ");
  struct ustcp_mem_info mi;
  ustcp_mem_info(f.C, &mi);
  T_EQ(mi.timewait, 1);
  ustcp_mem_info(f.S, &mi);
  T_EQ(mi.timewait, 1);
  fx_fini(&f);
}

/* Put the client side in `state`, then let the server abort (RST). */
static int rst_in(int state)
{
  struct fx f;
  fx_init(&f, 5);
  int l, s;
  int c = fx_pair(&f, 80, &l, &s);
  char b[4];
  if (state == USTCP_TCP_CLOSE_WAIT) {
    ustcp_shutdown(f.S, s, SHUT_WR);
    fx_run(&f, 0.1);
  } else if (state == USTCP_TCP_FIN_WAIT1) {
    fx_partition(&f, 1, true); /* our FIN is never ACKed */
    ustcp_shutdown(f.C, c, SHUT_WR);
    fx_run(&f, 0.1);
    fx_partition(&f, 1, false);
  } else if (state == USTCP_TCP_FIN_WAIT2) {
    ustcp_shutdown(f.C, c, SHUT_WR);
    fx_run(&f, 0.1);
  } else if (state == USTCP_TCP_LAST_ACK) {
    ustcp_shutdown(f.S, s, SHUT_WR);
    fx_run(&f, 0.1);
    fx_partition(&f, 1, true);
    ustcp_shutdown(f.C, c, SHUT_WR);
    fx_run(&f, 0.1);
    fx_partition(&f, 1, false);
  }
  T_EQ(ustcp_sock_state(f.C, c), state);
  struct linger lg = {.l_onoff = 1, .l_linger = 0};
  ustcp_setsockopt(f.S, s, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
  ustcp_close(f.S, s);
  fx_run(&f, 0.1);
  T_EQ(ustcp_sock_state(f.C, c), USTCP_TCP_CLOSE);
  fx_set_nonblock(f.C, c);
  int r = (int)ustcp_read(f.C, c, b, sizeof(b));
  int e = r < 0 ? errno : 0;
  fx_fini(&f);
  return e;
}

static void rst_per_state(void)
{
  /* Linux tcp_reset(): ECONNRESET, but EPIPE in CLOSE_WAIT; in LAST_ACK the
   * peer's FIN was read already, so end of stream comes first. */
  T_EQ(rst_in(USTCP_TCP_ESTABLISHED), ECONNRESET);
  T_EQ(rst_in(USTCP_TCP_FIN_WAIT1), ECONNRESET);
  T_EQ(rst_in(USTCP_TCP_FIN_WAIT2), ECONNRESET);
  T_EQ(rst_in(USTCP_TCP_CLOSE_WAIT), 0); /* FIN first: read 0; EPIPE on write */
  T_EQ(rst_in(USTCP_TCP_LAST_ACK), 0);
}

static void fin_behind_a_hole(void)
{
  /* The FIN rides on a segment that arrives beyond a hole: it is kept
   * with the out-of-order data (Linux), and the connection moves to
   * CLOSE_WAIT once the hole is filled. */
  struct fx f;
  fx_init(&f, 5);
  int l, s;
  int c = fx_pair(&f, 80, &l, &s);
  fx_partition(&f, 1, true);
  T_EQ(ustcp_write(f.C, c, "A", 1), 1); /* lost */
  fx_run(&f, 0.001);
  fx_partition(&f, 1, false);
  T_EQ(ustcp_write(f.C, c, "B", 1), 1);     /* Nagle holds it... */
  T_EQ(ustcp_shutdown(f.C, c, SHUT_WR), 0); /* ...until the FIN: "B"+FIN */
  fx_run(&f, 0.05);
  T_EQ(ustcp_sock_state(f.S, s), USTCP_TCP_ESTABLISHED); /* hole before B */
  fx_run(&f, 2);                                         /* the retransmission of "A" fills it */
  T_EQ(ustcp_sock_state(f.S, s), USTCP_TCP_CLOSE_WAIT);
  T_CHECK(ustcp_stat(f.S, USTCP_STAT_TCP_OFO_QUEUE) >= 1);
  char b[4];
  T_EQ(ustcp_read(f.S, s, b, sizeof(b)), 2);
  T_CHECK(memcmp(b, "AB", 2) == 0);
  T_EQ(ustcp_read(f.S, s, b, sizeof(b)), 0);
  fx_fini(&f);
}

int main(void)
{
  T_RUN(active_and_passive_close);
  T_RUN(simultaneous_close);
  T_RUN(rst_per_state);
  T_RUN(fin_behind_a_hole);
  return T_DONE();
}
