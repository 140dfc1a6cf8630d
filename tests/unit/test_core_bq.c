/*
 * test_core_bq.c - object pools and the chunked byte queue: append, peek and
 * consume across chunk boundaries agree with a flat reference buffer; an
 * empty queue owns no chunks; the stack's memory cap bounds what a queue can
 * hold, and freed memory is reused.
 */
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

static struct ustcp_stack *new_stack(uint64_t max_memory)
{
  struct ustcp_config cfg;
  ustcp_config_init(&cfg);
  cfg.addr = 0x0a000001;
  cfg.link = &ops;
  cfg.max_memory = max_memory;
  char err[128];
  struct ustcp_stack *s = ustcp_stack_create(&cfg, err, sizeof err);
  if (!s)
    fprintf(stderr, "stack_create: %s\n", err);
  return s;
}

static uint64_t xs = 0xfeedfacecafebeefull;
static uint32_t rnd(uint32_t n)
{
  xs ^= xs << 13;
  xs ^= xs >> 7;
  xs ^= xs << 17;
  return (uint32_t)((xs >> 16) % n);
}

static size_t chunks_of(const struct us_bq *q)
{
  size_t n = 0;
  for (const struct us_chunk *c = q->head; c; c = c->next)
    n++;
  return n;
}

static void pool_basics(void)
{
  struct ustcp_stack *s = new_stack(0);
  T_CHECK(s != NULL);
  if (!s)
    return;
  struct us_pool p;
  us_pool_init(&p, 24, 8);
  void *objs[20];
  for (int i = 0; i < 20; i++) {
    objs[i] = us_pool_alloc(s, &p);
    T_CHECK(objs[i] != NULL);
    if (!objs[i])
      return;
    /* Zeroed, aligned and distinct. */
    static const uint8_t zero[24];
    T_CHECK(memcmp(objs[i], zero, 24) == 0);
    T_EQ((uintptr_t)objs[i] % _Alignof(max_align_t), 0);
    memset(objs[i], 0xa5, 24);
  }
  T_EQ(p.live, 20);
  T_EQ(p.total, 24); /* three slabs of 8 */
  for (int i = 0; i < 20; i++)
    for (int j = i + 1; j < 20; j++)
      T_CHECK(objs[i] != objs[j]);
  uint64_t mem = s->mem_bytes;
  for (int i = 0; i < 20; i += 2)
    us_pool_free(&p, objs[i]);
  T_EQ(p.live, 10);
  /* Freed objects are reused before any new slab is made. */
  for (int i = 0; i < 14; i++)
    T_CHECK(us_pool_alloc(s, &p) != NULL);
  T_EQ(p.total, 24);
  T_EQ(s->mem_bytes, mem);
  us_pool_free(&p, NULL); /* freeing NULL is a no-op */
  T_EQ(p.live, 24);
  us_pool_fini(&p);
  ustcp_stack_destroy(s);
}

static void bq_vs_reference(void)
{
  struct ustcp_stack *s = new_stack(0);
  T_CHECK(s != NULL);
  if (!s)
    return;
  enum { CAP = 1 << 20 };
  uint8_t *ref = malloc(CAP), *tmp = malloc(CAP), *src = malloc(8192);
  T_CHECK(ref && tmp && src);
  if (!ref || !tmp || !src)
    return;
  size_t rlen = 0;
  struct us_bq q = {0};
  int bad_peek = 0, bad_len = 0, bad_chunks = 0, crossings = 0;
  for (int step = 0; step < 20000; step++) {
    uint32_t op = rnd(10);
    if (op < 4 && rlen + 8192 < CAP) {
      /* Sizes around the chunk size hit every boundary case. */
      size_t n = rnd(4) == 0 ? US_CHUNK_DATA - rnd(3) + rnd(3) : rnd(6000);
      for (size_t i = 0; i < n; i++)
        src[i] = (uint8_t)rnd(256);
      size_t got = us_bq_append(s, &q, src, n);
      T_EQ(got, n);
      memcpy(ref + rlen, src, n);
      rlen += n;
    } else if (op < 7) {
      size_t off = rlen ? rnd((uint32_t)rlen + 10) : rnd(10);
      size_t n = rnd(9000);
      size_t want = off >= rlen ? 0 : US_MIN(n, rlen - off);
      size_t got = us_bq_peek(&q, off, tmp, n);
      if (got != want || memcmp(tmp, ref + off, want) != 0)
        bad_peek++;
      if (off % US_CHUNK_DATA + want > US_CHUNK_DATA)
        crossings++;
    } else {
      size_t n = rnd(3) == 0 ? rlen : rnd((uint32_t)rlen + 1);
      us_bq_consume(s, &q, n);
      memmove(ref, ref + n, rlen - n);
      rlen -= n;
    }
    if (q.len != rlen)
      bad_len++;
    /* The queue holds exactly the chunks it needs; an empty queue none. */
    size_t nc = chunks_of(&q);
    if (nc != s->chunk_pool.live || (rlen == 0 && nc != 0) ||
        (rlen && nc > 1 + (rlen + 2 * US_CHUNK_DATA - 1) / US_CHUNK_DATA))
      bad_chunks++;
    if (rlen == 0 && (q.head || q.tail))
      bad_chunks++;
  }
  T_EQ(bad_peek, 0);
  T_EQ(bad_len, 0);
  T_EQ(bad_chunks, 0);
  T_CHECK(crossings > 100);
  /* Whole-queue peek equals the reference; clear frees every chunk. */
  T_EQ(us_bq_peek(&q, 0, tmp, rlen), rlen);
  T_CHECK(memcmp(tmp, ref, rlen) == 0);
  us_bq_clear(s, &q);
  T_EQ(q.len, 0);
  T_CHECK(q.head == NULL && q.tail == NULL);
  T_EQ(s->chunk_pool.live, 0);
  /* Consuming exactly to a chunk boundary leaves no empty chunk behind. */
  us_bq_append(s, &q, src, US_CHUNK_DATA);
  us_bq_consume(s, &q, US_CHUNK_DATA);
  T_EQ(s->chunk_pool.live, 0);
  T_CHECK(q.head == NULL);
  /* Consuming more than held is clamped. */
  us_bq_append(s, &q, src, 10);
  us_bq_consume(s, &q, 100);
  T_EQ(q.len, 0);
  T_EQ(s->chunk_pool.live, 0);
  free(ref);
  free(tmp);
  free(src);
  ustcp_stack_destroy(s);
}

static void memory_cap(void)
{
  /* Room for one slab of chunks only. */
  uint64_t cap = 100 * 1024;
  struct ustcp_stack *s = new_stack(cap);
  T_CHECK(s != NULL);
  if (!s)
    return;
  static uint8_t big[256 * 1024];
  memset(big, 0x5a, sizeof big);
  struct us_bq q = {0}, q2 = {0};
  size_t got = us_bq_append(s, &q, big, sizeof big);
  T_CHECK(got > 0);
  T_CHECK(got < sizeof big);
  T_EQ(got % US_CHUNK_DATA, 0); /* stops at a whole chunk */
  T_EQ(q.len, got);
  T_CHECK(s->mem_bytes <= cap);
  /* Another queue on the same stack gets nothing more. */
  T_EQ(us_bq_append(s, &q2, big, 100), 0);
  T_CHECK(q2.head == NULL);
  T_EQ(q2.len, 0);
  /* Freed chunks are reused: after consuming, appends succeed again
   * without growing memory. */
  uint64_t mem = s->mem_bytes;
  us_bq_consume(s, &q, 3 * US_CHUNK_DATA);
  T_EQ(us_bq_append(s, &q2, big, 3 * US_CHUNK_DATA), 3 * US_CHUNK_DATA);
  T_EQ(s->mem_bytes, mem);
  uint8_t tmp[US_CHUNK_DATA];
  T_EQ(us_bq_peek(&q2, US_CHUNK_DATA, tmp, sizeof tmp), sizeof tmp);
  T_EQ(tmp[0], 0x5a);
  us_bq_clear(s, &q);
  us_bq_clear(s, &q2);
  T_EQ(s->chunk_pool.live, 0);
  ustcp_stack_destroy(s);
}

/* us_bq_append_gather / us_gather_copy: a random buffer cut into random
 * pieces (empty ones too), a random start offset and skip, agree with the
 * flat buffer. */
static void gather_vs_reference(void)
{
  struct ustcp_stack *s = new_stack(0);
  T_CHECK(s != NULL);
  if (!s)
    return;
  static uint8_t flat[20000], out[20000];
  for (size_t i = 0; i < sizeof(flat); i++)
    flat[i] = (uint8_t)rnd(256);
  for (int round = 0; round < 300; round++) {
    struct iovec iov[40];
    int n = 0;
    size_t at = 0, total = 1 + rnd(sizeof(flat) - 1);
    while (at < total && n < 39) {
      size_t l = rnd(4) == 0 ? 0 : 1 + rnd(2500);
      if (l > total - at)
        l = total - at;
      iov[n++] = (struct iovec){flat + at, l};
      at += l;
    }
    iov[n++] = (struct iovec){flat + at, total - at};
    size_t off = rnd((uint32_t)total);
    struct us_gather g = {.iov = iov, .iovcnt = n, .off = off};
    size_t skip = rnd((uint32_t)(total - off) + 1);
    size_t len = rnd((uint32_t)(total - off - skip) + 1);
    struct us_bq q = {0};
    T_EQ(us_bq_append_gather(s, &q, &g, skip, len), len);
    T_EQ(q.len, len);
    T_EQ(us_bq_peek(&q, 0, out, len), len);
    T_CHECK(memcmp(out, flat + off + skip, len) == 0);
    memset(out, 0, len);
    T_EQ(us_gather_copy(&g, skip, out, len), len);
    T_CHECK(memcmp(out, flat + off + skip, len) == 0);
    /* Asking for more than there is copies what there is. */
    T_EQ(us_gather_copy(&g, skip, out, total - off - skip + 50), total - off - skip);
    us_bq_clear(s, &q);
  }
  ustcp_stack_destroy(s);
}

int main(void)
{
  T_RUN(pool_basics);
  T_RUN(bq_vs_reference);
  T_RUN(memory_cap);
  T_RUN(gather_vs_reference);
  return T_DONE();
}
