/*
 * core.h - internal core services shared by every layer: the stack object,
 * the timer heap, object pools, the chunked byte queue, seeded randomness,
 * statistics/drop reasons and trace events.
 *
 * Rules (DESIGN.md §2): no mutable global state; the core never reads a
 * clock (s->now is refreshed from the driver at every entry point); errors
 * are negative errno values; only src/socket/api.c sets errno.
 */
#ifndef US_CORE_H
#define US_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "ustcp/ustcp.h"

#define US_INTERNAL __attribute__((visibility("hidden")))
#define US_UNUSED(x) ((void)(x))
#define US_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define US_MIN(a, b) ((a) < (b) ? (a) : (b))
#define US_MAX(a, b) ((a) > (b) ? (a) : (b))
#define US_CONTAINER_OF(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

/* ------------------------------------------------------------------ timers */

struct ustcp_stack;
struct us_timer;
typedef void (*us_timer_fn)(struct ustcp_stack *s, struct us_timer *t);

/* A timer of the stack-wide queue (a 4-ary min-heap). Ties on `when` are
 * broken by arming order, so equal deadlines fire deterministically
 * (libuv-style). The order is a 32-bit counter compared wrap-safe (24 bytes
 * per timer, not 32: it is in every connection, request and TIME_WAIT
 * entry); two timers with the same deadline armed more than 2^31 arms apart
 * fire in reverse - still the same order on every run. */
struct us_timer {
  ustcp_time_t when;
  uint32_t order;
  uint32_t idx; /* position in the heap, US_TIMER_IDLE when not armed */
  us_timer_fn fn;
};
#define US_TIMER_IDLE UINT32_MAX

/* A heap slot holds a copy of the deadline beside the timer, so that a
 * sift compares slots without touching the timers (at a million
 * connections every timer is a cache miss; only a tie reads `order`). The
 * four children of a slot share one 64-byte line. */
struct us_timer_slot {
  ustcp_time_t when;
  struct us_timer *t;
};

struct us_timer_heap {
  struct us_timer_slot *v; /* v[0] is the root; v[-3..-1] align the child groups */
  void *mem;               /* the allocation v points into */
  uint32_t n, cap;
  uint32_t next_order;
};

void us_timer_init(struct us_timer *t, us_timer_fn fn);
/* Arm (or re-arm) t at absolute time `when`. O(log n). Returns -ENOMEM only
 * if the heap could not grow. */
int us_timer_arm(struct ustcp_stack *s, struct us_timer *t, ustcp_time_t when);
void us_timer_cancel(struct ustcp_stack *s, struct us_timer *t);
static inline bool us_timer_armed(const struct us_timer *t) { return t->idx != US_TIMER_IDLE; }
/* Fire every timer due at s->now, earliest first. */
void us_timers_run(struct ustcp_stack *s);
ustcp_time_t us_timers_next(const struct ustcp_stack *s);
void us_timers_fini(struct ustcp_stack *s);
/* Bytes held by the heap array (counted in ustcp_mem_info). */
size_t us_timers_bytes(const struct ustcp_stack *s);

/* ------------------------------------------------------------------- pools */

/* Fixed-size object pool: slabs of objects, a free list, a live count.
 * Nothing is malloc'ed per object once a slab exists. */
struct us_pool {
  size_t obj_size;
  uint32_t per_slab;
  uint64_t live, total;
  void *free_list;
  void *slabs; /* singly linked list of slabs */
};
void us_pool_init(struct us_pool *p, size_t obj_size, uint32_t per_slab);
void us_pool_fini(struct us_pool *p);
void *us_pool_alloc(struct ustcp_stack *s, struct us_pool *p); /* zeroed, or NULL */
void us_pool_free(struct us_pool *p, void *obj);

/* -------------------------------------------------------------- byte queue */

/* A byte stream held in fixed 2 KiB chunks from the stack's chunk pool. An
 * empty queue owns no memory (idle connections cost nothing). Used for send
 * and receive buffers. */
#define US_CHUNK_DATA 2016
struct us_chunk {
  struct us_chunk *next;
  uint16_t start, end; /* valid bytes are data[start, end) */
  uint8_t data[US_CHUNK_DATA];
};
struct us_bq {
  struct us_chunk *head, *tail;
  size_t len;
};
/* Append up to len bytes; returns bytes appended (less only if the stack's
 * memory cap is reached). */
size_t us_bq_append(struct ustcp_stack *s, struct us_bq *q, const void *data, size_t len);
/* Bytes held in pieces (a datagram received by ustcp_input_v): the data
 * starts `off` bytes into iov[0] and runs on through the following pieces. */
struct us_gather {
  const struct iovec *iov;
  int iovcnt;
  size_t off;
};
/* us_bq_append from a gather list, skipping `skip` bytes of it first. */
size_t us_bq_append_gather(struct ustcp_stack *s, struct us_bq *q, const struct us_gather *g,
                           size_t skip, size_t len);
/* Copy len bytes of a gather list, after skipping `skip`; returns bytes copied. */
size_t us_gather_copy(const struct us_gather *g, size_t skip, void *out, size_t len);
/* Copy len bytes starting `off` bytes into the queue; returns bytes copied. */
size_t us_bq_peek(const struct us_bq *q, size_t off, void *out, size_t len);
/* Drop len bytes from the front (len <= q->len). */
void us_bq_consume(struct ustcp_stack *s, struct us_bq *q, size_t len);
void us_bq_clear(struct ustcp_stack *s, struct us_bq *q);

/* -------------------------------------------------------------- randomness */

struct us_rng {
  uint64_t s[4];
};
void us_rng_seed(struct us_rng *r, uint64_t seed);
uint64_t us_rng_next(struct us_rng *r);
uint32_t us_rng_u32(struct us_rng *r);
/* SipHash-2-4 keyed hash (ISNs, ports, SYN cookies, demux hashing). */
uint64_t us_siphash(const uint8_t key[16], const void *data, size_t len);

/* ------------------------------------------------------------ stack object */

struct us_tcp;   /* src/tcp: connection tables, listeners, TIME_WAIT */
struct us_socks; /* src/socket: descriptor table */
struct us_ip;    /* src/ip: ICMP rate limits, the echo-reply hook */

struct ustcp_stack {
  struct ustcp_config cfg;
  ustcp_time_t now;
  struct us_rng rng;
  uint8_t secret[16]; /* keyed hashes: ISN (RFC 6528), ports (RFC 6056) */
  uint64_t stats[USTCP_STAT_COUNT];

  ustcp_trace_fn trace_fn;
  void *trace_user;

  struct us_timer_heap timers;
  struct us_pool chunk_pool; /* struct us_chunk */
  uint64_t mem_bytes;        /* bytes held in chunks and other buffers */
  uint64_t mem_limit;

  uint16_t ip_id;
  uint8_t *scratch; /* one datagram being built for output (65535 bytes) */
  uint8_t *rxlin;   /* ustcp_input_v: a gathered datagram made linear when the
                       fast path does not apply (allocated on first use) */

  struct us_tcp *tcp;
  struct us_socks *socks;
  struct us_ip *ip;
};

/* Memory in use against max_memory: what the pools took from the system
 * less the buffer chunks sitting free in the chunk pool (slabs are kept,
 * so mem_bytes alone never comes down after a burst). */
static inline uint64_t us_mem_used(const struct ustcp_stack *s)
{
  uint64_t idle = (s->chunk_pool.total - s->chunk_pool.live) * s->chunk_pool.obj_size;
  return s->mem_bytes > idle ? s->mem_bytes - idle : 0;
}

/* Refresh s->now from the driver's clock (never backwards). Every public
 * entry point calls this first. */
void us_clock_refresh(struct ustcp_stack *s);

static inline void us_stat_inc(struct ustcp_stack *s, enum ustcp_stat id) { s->stats[id]++; }
static inline void us_stat_add(struct ustcp_stack *s, enum ustcp_stat id, uint64_t n)
{
  s->stats[id] += n;
}

/* Count a dropped datagram under `reason` and report it to the trace. */
void us_drop(struct ustcp_stack *s, enum ustcp_stat reason, const uint8_t *pkt, size_t len);

/* Trace helpers; each is a no-op when no trace hook is set. */
void us_trace_pkt(struct ustcp_stack *s, enum ustcp_trace_kind kind, const uint8_t *pkt,
                  size_t len);
void us_trace_api(struct ustcp_stack *s, const char *api, int fd, long ret, int err,
                  const char *detail);
void us_trace_note(struct ustcp_stack *s, enum ustcp_trace_kind kind, const char *text);
void us_trace_state(struct ustcp_stack *s, uint32_t conn_id, uint32_t laddr, uint16_t lport,
                    uint32_t raddr, uint16_t rport, int old_state, int new_state);
static inline bool us_tracing(const struct ustcp_stack *s) { return s->trace_fn != NULL; }

/* Hand a finished IPv4 datagram to the link (borrowed). */
void us_link_output(struct ustcp_stack *s, const uint8_t *pkt, size_t len);

/* Layer hooks the stack calls at create/destroy/input (defined by each layer). */
int us_ip_init(struct ustcp_stack *s);
void us_ip_fini(struct ustcp_stack *s);
int us_tcp_init(struct ustcp_stack *s);
void us_tcp_fini(struct ustcp_stack *s);
int us_socks_init(struct ustcp_stack *s);
void us_socks_fini(struct ustcp_stack *s);
void us_tcp_mem_info(const struct ustcp_stack *s, struct ustcp_mem_info *out);
uint64_t us_ip_reasm_bytes(const struct ustcp_stack *s); /* src/ip/ipfrag.c */

#endif
