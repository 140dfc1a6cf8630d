/*
 * stack.c - the stack object: configuration (Linux defaults, range checks),
 * create/destroy, the driver entry points (input, process, next deadline),
 * statistics, tracing and memory accounting.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "ip/ip.h"

void ustcp_config_init(struct ustcp_config *c)
{
  memset(c, 0, sizeof(*c));
  c->prefix_len = 24;
  c->mtu = 1500;
  c->seed = 1;
  c->somaxconn = 4096;
  c->max_syn_backlog = 2048;
  c->syncookies = 0; /* seed: SYN queue full drops the SYN (Linux default 1) */
  c->abort_on_overflow = 0;
  c->synack_retries = 5;
  c->syn_retries = 6;
  c->syn_linear_timeouts = 4;
  c->retries1 = 3;
  c->retries2 = 15;
  c->orphan_retries = 0;
  c->fin_timeout = 60;
  c->keepalive_time = 7200;
  c->keepalive_intvl = 75;
  c->keepalive_probes = 9;
  c->timestamps = 1;
  c->sack = 1;
  c->window_scaling = 1;
  c->tw_reuse = 2;
  c->max_tw_buckets = 131072; /* Linux: ehash entries / 2 */
  c->rmem[0] = 4096;
  c->rmem[1] = 131072;
  c->rmem[2] = 33554432; /* Linux 6.18: window scale 10 */
  c->wmem[0] = 4096;
  c->wmem[1] = 16384;
  c->wmem[2] = 4194304;
  c->rmem_max = 4194304;
  c->wmem_max = 4194304;
  c->ip_local_port_range[0] = 32768;
  c->ip_local_port_range[1] = 60999;
  c->ip_default_ttl = 64;
  c->max_sockets = 1 << 20;
  c->max_memory = 0;
}

static int cfg_error(char *err, size_t errlen, const char *fmt, ...)
{
  if (err && errlen) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
  }
  return -EINVAL;
}

#define CHECK_RANGE(field, lo, hi)                                                                 \
  do {                                                                                             \
    if ((long long)c->field < (long long)(lo) || (long long)c->field > (long long)(hi))            \
      return cfg_error(err, errlen, "config: %s = %lld is out of range [%lld, %lld]", #field,      \
                       (long long)c->field, (long long)(lo), (long long)(hi));                     \
  } while (0)

/* Ranges follow the kernel's sysctl limits where it has them. */
static int config_check(const struct ustcp_config *c, char *err, size_t errlen)
{
  if (c->addr == 0)
    return cfg_error(err, errlen, "config: addr is required (an IPv4 address)");
  CHECK_RANGE(prefix_len, 0, 32);
  CHECK_RANGE(mtu, 68, 65535);
  CHECK_RANGE(somaxconn, 0, 65535);
  CHECK_RANGE(max_syn_backlog, 1, 1 << 24);
  CHECK_RANGE(syncookies, 0, 2);
  CHECK_RANGE(abort_on_overflow, 0, 1);
  CHECK_RANGE(synack_retries, 0, 255);
  CHECK_RANGE(syn_retries, 1, 127);
  CHECK_RANGE(syn_linear_timeouts, 0, 255);
  CHECK_RANGE(retries1, 0, 255);
  CHECK_RANGE(retries2, 0, 255);
  CHECK_RANGE(orphan_retries, 0, 255);
  CHECK_RANGE(fin_timeout, 1, 86400);
  CHECK_RANGE(keepalive_time, 1, 32767);
  CHECK_RANGE(keepalive_intvl, 1, 32767);
  CHECK_RANGE(keepalive_probes, 1, 127);
  CHECK_RANGE(timestamps, 0, 2);
  CHECK_RANGE(sack, 0, 1);
  CHECK_RANGE(window_scaling, 0, 1);
  CHECK_RANGE(tw_reuse, 0, 2);
  CHECK_RANGE(max_tw_buckets, 0, 1 << 30);
  for (int i = 0; i < 3; i++) {
    CHECK_RANGE(rmem[i], 1024, 1 << 30);
    CHECK_RANGE(wmem[i], 1024, 1 << 30);
  }
  if (c->rmem[0] > c->rmem[1] || c->rmem[1] > c->rmem[2])
    return cfg_error(err, errlen, "config: rmem must be min <= default <= max");
  if (c->wmem[0] > c->wmem[1] || c->wmem[1] > c->wmem[2])
    return cfg_error(err, errlen, "config: wmem must be min <= default <= max");
  CHECK_RANGE(rmem_max, 2048, 1 << 30);
  CHECK_RANGE(wmem_max, 2048, 1 << 30);
  CHECK_RANGE(ip_local_port_range[0], 1, 65535);
  CHECK_RANGE(ip_local_port_range[1], 1, 65535);
  if (c->ip_local_port_range[0] > c->ip_local_port_range[1])
    return cfg_error(err, errlen, "config: ip_local_port_range must be low <= high");
  CHECK_RANGE(ip_default_ttl, 1, 255);
  CHECK_RANGE(max_sockets, 1, 1 << 24);
  CHECK_RANGE(csum_offload, 0, 1);
  CHECK_RANGE(tx_csum_offload, 0, 1);
  if (!c->link || !c->link->output)
    return cfg_error(err, errlen, "config: link with an output callback is required");
  return 0;
}

struct ustcp_stack *ustcp_stack_create(const struct ustcp_config *cfg, char *err, size_t errlen)
{
  if (!cfg) {
    cfg_error(err, errlen, "config: NULL");
    return NULL;
  }
  if (config_check(cfg, err, errlen))
    return NULL;
  struct ustcp_stack *s = calloc(1, sizeof(*s));
  if (!s) {
    cfg_error(err, errlen, "out of memory");
    return NULL;
  }
  s->cfg = *cfg;
  s->mem_limit = cfg->max_memory ? cfg->max_memory : (1ull << 30);
  us_rng_seed(&s->rng, cfg->seed);
  for (int i = 0; i < 16; i += 4) {
    uint32_t r = us_rng_u32(&s->rng);
    memcpy(s->secret + i, &r, 4);
  }
  s->ip_id = (uint16_t)us_rng_u32(&s->rng);
  us_pool_init(&s->chunk_pool, sizeof(struct us_chunk), 32);
  s->scratch = malloc(65536);
  if (!s->scratch)
    goto oom;
  us_clock_refresh(s);
  if (us_ip_init(s) || us_tcp_init(s) || us_socks_init(s))
    goto oom;
  return s;
oom:
  cfg_error(err, errlen, "out of memory");
  ustcp_stack_destroy(s);
  return NULL;
}

void ustcp_stack_destroy(struct ustcp_stack *s)
{
  if (!s)
    return;
  if (s->socks)
    us_socks_fini(s);
  if (s->tcp)
    us_tcp_fini(s);
  if (s->ip)
    us_ip_fini(s);
  us_pool_fini(&s->chunk_pool);
  us_timers_fini(s);
  free(s->scratch);
  free(s->rxlin);
  free(s);
}

const struct ustcp_config *ustcp_stack_config(const struct ustcp_stack *s) { return &s->cfg; }

void us_clock_refresh(struct ustcp_stack *s)
{
  if (s->cfg.link && s->cfg.link->now) {
    ustcp_time_t t = s->cfg.link->now(s->cfg.link_user);
    if (t > s->now)
      s->now = t;
  }
}

ustcp_time_t ustcp_now(struct ustcp_stack *s)
{
  us_clock_refresh(s);
  return s->now;
}

void ustcp_input(struct ustcp_stack *s, const uint8_t *pkt, size_t len)
{
  us_clock_refresh(s);
  /* Timers due before this packet fire first, so the order of events is the
   * order of time. */
  us_timers_run(s);
  us_ip_input(s, pkt, len);
}

/* The fast path of ustcp_input_v: a TCP datagram whose headers (IPv4 +
 * TCP, at most 120 bytes) are read from one contiguous place - iov[0] when
 * they fit in it, else a copy - while the payload stays in the pieces and
 * goes from them into the receive queue (its checksum, unless csum_offload,
 * summed over the pieces). Only when nobody traces (the trace shows whole
 * datagrams) and not for a fragment (reassembly copies it whole).
 * Everything else is made linear and takes the ustcp_input
 * path, so both behave the same. */
void ustcp_input_v(struct ustcp_stack *s, const struct iovec *iov, int iovcnt)
{
  us_clock_refresh(s);
  us_timers_run(s);
  if (iovcnt < 0)
    iovcnt = 0;
  size_t total = 0;
  for (int i = 0; i < iovcnt; i++)
    total += iov[i].iov_len;
  if (iovcnt == 1 || total == 0) {
    static const uint8_t none[1];
    if (total == 0)
      us_ip_input(s, none, 0); /* counted as too short, as ustcp_input(s, p, 0) */
    else
      us_ip_input(s, iov[0].iov_base, total);
    return;
  }
  struct us_gather g = {.iov = iov, .iovcnt = iovcnt, .off = 0};
  uint8_t hbuf[120];
  const uint8_t *hdr = iov[0].iov_base;
  size_t have = iov[0].iov_len;
  if (have < 40) {
    have = us_gather_copy(&g, 0, hbuf, US_MIN(total, sizeof(hbuf)));
    hdr = hbuf;
  }
  size_t ihl = have >= 40 ? (size_t)(hdr[0] & 0x0f) * 4 : 0;
  size_t need = ihl + 20 <= have ? ihl + (size_t)(hdr[ihl + 12] >> 4) * 4 : SIZE_MAX;
  if (!us_tracing(s) && total <= 65535 && (hdr[0] >> 4) == 4 && ihl >= 20 &&
      hdr[9] == US_IPPROTO_TCP && (us_get16(hdr + 6) & 0x3fff) == 0 && need <= sizeof(hbuf) &&
      need <= total) {
    if (need > have) {
      us_gather_copy(&g, 0, hbuf, need);
      hdr = hbuf;
    }
    g.off = need;
    us_ip_input_g(s, hdr, total, &g);
    return;
  }
  if (total > 65535)
    total = 65535; /* no IPv4 datagram is longer: the rest is link padding */
  if (!s->rxlin && !(s->rxlin = malloc(65536))) {
    us_drop(s, USTCP_STAT_DROP_LINK_NO_BUF, NULL, 0);
    return;
  }
  us_gather_copy(&g, 0, s->rxlin, total);
  us_ip_input(s, s->rxlin, total);
}

void ustcp_process(struct ustcp_stack *s)
{
  us_clock_refresh(s);
  us_timers_run(s);
}

ustcp_time_t ustcp_next_deadline(const struct ustcp_stack *s) { return us_timers_next(s); }

uint64_t ustcp_stat(const struct ustcp_stack *s, enum ustcp_stat id)
{
  if ((unsigned)id >= USTCP_STAT_COUNT)
    return 0;
  return s->stats[id];
}

const char *ustcp_stat_name(enum ustcp_stat id)
{
  static const char *const names[] = {
#define STAT_NAME_(id, name, desc) name,
      USTCP_STATS_LIST(STAT_NAME_)
#undef STAT_NAME_
  };
  if ((unsigned)id >= USTCP_STAT_COUNT)
    return "?";
  return names[id];
}

void ustcp_set_trace(struct ustcp_stack *s, ustcp_trace_fn fn, void *user)
{
  s->trace_fn = fn;
  s->trace_user = user;
}

void ustcp_mem_info(const struct ustcp_stack *s, struct ustcp_mem_info *out)
{
  memset(out, 0, sizeof(*out));
  out->timers = s->timers.n;
  out->buf_bytes = s->chunk_pool.live * sizeof(struct us_chunk);
  out->bytes_total =
      s->mem_bytes + us_timers_bytes(s) + sizeof(*s) + 65536 + (s->rxlin ? 65536 : 0);
  us_tcp_mem_info(s, out);
  out->reasm_bytes = us_ip_reasm_bytes(s);
}

void us_link_output(struct ustcp_stack *s, const uint8_t *pkt, size_t len)
{
  us_trace_pkt(s, USTCP_TR_PKT_OUT, pkt, len);
  s->cfg.link->output(s->cfg.link_user, pkt, len);
}
