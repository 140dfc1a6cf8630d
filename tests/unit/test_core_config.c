/*
 * test_core_config.c - stack configuration: the defaults are Linux's
 * (values read from a fresh network namespace on a 6.18 kernel) and are
 * accepted; every field out of range is rejected by ustcp_stack_create()
 * with a message naming the field; boundary values are accepted.
 */
#include <stddef.h>
#include <stdlib.h>

#include "core/core.h"
#include "harness/test.h"

static int noop_output(void *user, const uint8_t *pkt, size_t len)
{
  (void)user;
  (void)pkt;
  (void)len;
  return 0;
}
static const struct ustcp_link_ops ops = {.output = noop_output};

static void base(struct ustcp_config *c)
{
  ustcp_config_init(c);
  c->addr = 0x0a000001;
  c->link = &ops;
}

static void defaults_are_linux(void)
{
  struct ustcp_config c;
  ustcp_config_init(&c);
  /* sysctl values of a fresh netns, Linux 6.18. */
  T_EQ(c.somaxconn, 4096);
  T_EQ(c.max_syn_backlog, 2048);
  T_EQ(c.syncookies, 0); /* seed difference: Linux 1 (docs/linux-differences.md) */
  T_EQ(c.abort_on_overflow, 0);
  T_EQ(c.synack_retries, 5);
  T_EQ(c.syn_retries, 6);
  T_EQ(c.syn_linear_timeouts, 4);
  T_EQ(c.retries1, 3);
  T_EQ(c.retries2, 15);
  T_EQ(c.orphan_retries, 0);
  T_EQ(c.fin_timeout, 60);
  T_EQ(c.keepalive_time, 7200);
  T_EQ(c.keepalive_intvl, 75);
  T_EQ(c.keepalive_probes, 9);
  T_EQ(c.timestamps, 1);
  T_EQ(c.sack, 1);
  T_EQ(c.window_scaling, 1);
  T_EQ(c.tw_reuse, 2);
  T_EQ(c.rmem[0], 4096);
  T_EQ(c.rmem[1], 131072);
  T_EQ(c.wmem[0], 4096);
  T_EQ(c.wmem[1], 16384);
  T_EQ(c.wmem[2], 4194304);
  T_EQ(c.ip_local_port_range[0], 32768);
  T_EQ(c.ip_local_port_range[1], 60999);
  T_EQ(c.ip_default_ttl, 64);
  T_EQ(c.mtu, 1500);
  T_EQ(c.csum_offload, 0);
  T_EQ(c.tx_csum_offload, 0);
  /* Linux 6.18 defaults, read in a fresh network namespace:
   * tcp_rmem[2] = 33554432 (window scale 10), rmem_max = wmem_max = 4194304. */
  T_EQ(c.rmem[2], 33554432);
  T_EQ(c.rmem_max, 4194304);
  T_EQ(c.wmem_max, 4194304);

  /* The defaults (plus the required address and link) are accepted, and
   * the stack keeps them. */
  base(&c);
  char err[160] = "";
  struct ustcp_stack *s = ustcp_stack_create(&c, err, sizeof err);
  T_CHECK(s != NULL);
  if (!s) {
    fprintf(stderr, "defaults rejected: %s\n", err);
    return;
  }
  const struct ustcp_config *k = ustcp_stack_config(s);
  T_EQ(k->somaxconn, c.somaxconn);
  T_EQ(k->addr, c.addr);
  T_CHECK(memcmp(k->rmem, c.rmem, sizeof c.rmem) == 0);
  ustcp_stack_destroy(s);
}

enum kind { K_INT, K_U8, K_U16, K_U64 };
struct field {
  const char *name;
  size_t off;
  enum kind kind;
  long long lo, hi; /* accepted range; lo - 1 and hi + 1 are rejected */
  bool test_lo, test_hi;
};
#define F(member, k, l, h, tl, th)                                                                 \
  {                                                                                                \
#member, offsetof(struct ustcp_config, member), k, l, h, tl, th                                \
  }

/* Ranges: the kernel's sysctl limits where it has them. */
static const struct field fields[] = {
    F(prefix_len, K_U8, 0, 32, false, true),
    F(mtu, K_U16, 68, 65535, true, false),
    F(somaxconn, K_INT, 0, 65535, true, true),
    F(max_syn_backlog, K_INT, 1, 1 << 24, true, true),
    F(syncookies, K_INT, 0, 2, true, true),
    F(abort_on_overflow, K_INT, 0, 1, true, true),
    F(synack_retries, K_INT, 0, 255, true, true),
    F(syn_retries, K_INT, 1, 127, true, true),
    F(syn_linear_timeouts, K_INT, 0, 255, true, true),
    F(retries1, K_INT, 0, 255, true, true),
    F(retries2, K_INT, 0, 255, true, true),
    F(orphan_retries, K_INT, 0, 255, true, true),
    F(fin_timeout, K_INT, 1, 86400, true, true),
    F(keepalive_time, K_INT, 1, 32767, true, true),
    F(keepalive_intvl, K_INT, 1, 32767, true, true),
    F(keepalive_probes, K_INT, 1, 127, true, true),
    F(timestamps, K_INT, 0, 2, true, true),
    F(sack, K_INT, 0, 1, true, true),
    F(window_scaling, K_INT, 0, 1, true, true),
    F(tw_reuse, K_INT, 0, 2, true, true),
    F(rmem_max, K_INT, 2048, 1 << 30, true, true),
    F(wmem_max, K_INT, 2048, 1 << 30, true, true),
    F(ip_default_ttl, K_INT, 1, 255, true, true),
    F(max_sockets, K_INT, 1, 1 << 24, true, true),
    F(csum_offload, K_INT, 0, 1, true, true),
    F(tx_csum_offload, K_INT, 0, 1, true, true),
    /* Array elements: the low bound only (high values break the ordering
     * rules, checked separately). */
    F(rmem[0], K_INT, 1024, 1 << 30, true, false),
    F(wmem[0], K_INT, 1024, 1 << 30, true, false),
    F(ip_local_port_range[0], K_INT, 1, 65535, true, false),
    F(rmem[2], K_INT, 1024, 1 << 30, false, true),
    F(wmem[2], K_INT, 1024, 1 << 30, false, true),
    F(ip_local_port_range[1], K_INT, 1, 65535, false, true),
};

static void set_field(struct ustcp_config *c, const struct field *f, long long v)
{
  char *p = (char *)c + f->off;
  switch (f->kind) {
  case K_INT: {
    int x = (int)v;
    memcpy(p, &x, sizeof x);
    break;
  }
  case K_U8: {
    uint8_t x = (uint8_t)v;
    memcpy(p, &x, sizeof x);
    break;
  }
  case K_U16: {
    uint16_t x = (uint16_t)v;
    memcpy(p, &x, sizeof x);
    break;
  }
  case K_U64: {
    uint64_t x = (uint64_t)v;
    memcpy(p, &x, sizeof x);
    break;
  }
  }
}

/* Create with one field set to v; returns whether it was accepted and
 * leaves the error message in err. */
static bool try_value(const struct field *f, long long v, char *err, size_t errlen)
{
  struct ustcp_config c;
  base(&c);
  /* Boundary values of the buffer limits must keep min <= def <= max. */
  if (strncmp(f->name, "rmem[2]", 7) == 0 || strncmp(f->name, "wmem[2]", 7) == 0) {
    c.rmem[0] = c.rmem[1] = c.wmem[0] = c.wmem[1] = 1024;
  }
  set_field(&c, f, v);
  err[0] = 0;
  struct ustcp_stack *s = ustcp_stack_create(&c, err, errlen);
  ustcp_stack_destroy(s);
  return s != NULL;
}

static void out_of_range_rejected(void)
{
  char err[200];
  for (size_t i = 0; i < US_ARRAY_LEN(fields); i++) {
    const struct field *f = &fields[i];
    long long bad[2] = {f->lo - 1, f->hi + 1};
    bool test[2] = {f->test_lo, f->test_hi};
    for (int j = 0; j < 2; j++) {
      if (!test[j])
        continue;
      bool ok = try_value(f, bad[j], err, sizeof err);
      /* Array elements: the message names the array (the index is not
       * required: stack.c reports "rmem[i]"). */
      char name[40];
      snprintf(name, sizeof name, "%s", f->name);
      name[strcspn(name, "[")] = 0;
      if (ok || !strstr(err, name)) {
        fprintf(stderr, "field %s = %lld: accepted=%d err=\"%s\"\n", f->name, bad[j], ok, err);
        T_CHECK(false);
      } else {
        T_CHECK(true);
      }
    }
    /* The bounds themselves are accepted. */
    long long good[2] = {f->lo, f->hi};
    for (int j = 0; j < 2; j++) {
      if (!test[j])
        continue;
      bool ok = try_value(f, good[j], err, sizeof err);
      if (!ok)
        fprintf(stderr, "field %s = %lld rejected: %s\n", f->name, good[j], err);
      T_CHECK(ok);
    }
  }
}

static void cross_field_and_required(void)
{
  char err[200];
  struct ustcp_config c;

  base(&c);
  c.addr = 0;
  T_CHECK(ustcp_stack_create(&c, err, sizeof err) == NULL);
  T_CHECK(strstr(err, "addr") != NULL);

  base(&c);
  c.link = NULL;
  T_CHECK(ustcp_stack_create(&c, err, sizeof err) == NULL);
  T_CHECK(strstr(err, "link") != NULL);

  static const struct ustcp_link_ops no_output = {0};
  base(&c);
  c.link = &no_output;
  T_CHECK(ustcp_stack_create(&c, err, sizeof err) == NULL);
  T_CHECK(strstr(err, "output") != NULL);

  base(&c);
  c.rmem[0] = c.rmem[1] + 1;
  T_CHECK(ustcp_stack_create(&c, err, sizeof err) == NULL);
  T_CHECK(strstr(err, "rmem") != NULL);

  base(&c);
  c.wmem[1] = c.wmem[2] + 1;
  T_CHECK(ustcp_stack_create(&c, err, sizeof err) == NULL);
  T_CHECK(strstr(err, "wmem") != NULL);

  base(&c);
  c.ip_local_port_range[0] = 50000;
  c.ip_local_port_range[1] = 40000;
  T_CHECK(ustcp_stack_create(&c, err, sizeof err) == NULL);
  T_CHECK(strstr(err, "ip_local_port_range") != NULL);

  /* NULL config and a NULL error buffer are both handled. */
  T_CHECK(ustcp_stack_create(NULL, err, sizeof err) == NULL);
  base(&c);
  c.sack = 7;
  T_CHECK(ustcp_stack_create(&c, NULL, 0) == NULL);
  /* A too-small error buffer is truncated, not overrun (ASan watches). */
  char tiny[4] = "xyz";
  T_CHECK(ustcp_stack_create(&c, tiny, 1) == NULL);
  T_EQ(tiny[0], 0);
}

int main(void)
{
  T_RUN(defaults_are_linux);
  T_RUN(out_of_range_rejected);
  T_RUN(cross_field_and_required);
  return T_DONE();
}
