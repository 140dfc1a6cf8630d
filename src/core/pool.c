/*
 * pool.c - fixed-size object pools and the chunked byte queue built on them.
 * Slabs are allocated as needed and kept until the stack is destroyed; an
 * object is a free-list pop, never a malloc. The stack's memory cap
 * (config max_memory) bounds what peers can make it hold.
 */
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

struct slab {
  struct slab *next;
  /* objects follow, max-aligned */
  _Alignas(max_align_t) unsigned char objs[];
};

void us_pool_init(struct us_pool *p, size_t obj_size, uint32_t per_slab)
{
  memset(p, 0, sizeof(*p));
  if (obj_size < sizeof(void *))
    obj_size = sizeof(void *);
  p->obj_size = (obj_size + _Alignof(max_align_t) - 1) & ~(_Alignof(max_align_t) - 1);
  p->per_slab = per_slab ? per_slab : 1;
}

void us_pool_fini(struct us_pool *p)
{
  struct slab *sl = p->slabs;
  while (sl) {
    struct slab *n = sl->next;
    free(sl);
    sl = n;
  }
  p->slabs = NULL;
  p->free_list = NULL;
  p->live = p->total = 0;
}

/* Pop an object without clearing it (callers that initialise every field). */
static void *pool_take(struct ustcp_stack *s, struct us_pool *p)
{
  if (!p->free_list) {
    size_t bytes = sizeof(struct slab) + p->obj_size * p->per_slab;
    if (s->mem_bytes + bytes > s->mem_limit)
      return NULL;
    struct slab *sl = malloc(bytes);
    if (!sl)
      return NULL;
    s->mem_bytes += bytes;
    sl->next = p->slabs;
    p->slabs = sl;
    for (uint32_t i = p->per_slab; i-- > 0;) {
      void *o = sl->objs + (size_t)i * p->obj_size;
      *(void **)o = p->free_list;
      p->free_list = o;
    }
    p->total += p->per_slab;
  }
  void *o = p->free_list;
  p->free_list = *(void **)o;
  p->live++;
  return o;
}

void *us_pool_alloc(struct ustcp_stack *s, struct us_pool *p)
{
  void *o = pool_take(s, p);
  if (o)
    memset(o, 0, p->obj_size);
  return o;
}

void us_pool_free(struct us_pool *p, void *obj)
{
  if (!obj)
    return;
  *(void **)obj = p->free_list;
  p->free_list = obj;
  p->live--;
}

/* ------------------------------------------------------------ byte queue */

size_t us_bq_append(struct ustcp_stack *s, struct us_bq *q, const void *data, size_t len)
{
  const uint8_t *src = data;
  size_t done = 0;
  while (done < len) {
    struct us_chunk *c = q->tail;
    if (!c || c->end == US_CHUNK_DATA) {
      /* Not zeroed: the header is set here and data is written before it
       * is read (clearing 2 KiB per chunk doubled the bulk path's writes). */
      c = pool_take(s, &s->chunk_pool);
      if (!c)
        break;
      c->next = NULL;
      c->start = c->end = 0;
      if (q->tail)
        q->tail->next = c;
      else
        q->head = c;
      q->tail = c;
    }
    size_t n = US_MIN(len - done, (size_t)(US_CHUNK_DATA - c->end));
    memcpy(c->data + c->end, src + done, n);
    c->end = (uint16_t)(c->end + n);
    done += n;
  }
  q->len += done;
  return done;
}

/* Walk to the piece and offset `skip` bytes into the gather list. */
static int gather_seek(const struct us_gather *g, size_t skip, size_t *off)
{
  int i = 0;
  size_t o = g->off + skip;
  while (i < g->iovcnt && o >= g->iov[i].iov_len) {
    o -= g->iov[i].iov_len;
    i++;
  }
  *off = o;
  return i;
}

size_t us_bq_append_gather(struct ustcp_stack *s, struct us_bq *q, const struct us_gather *g,
                           size_t skip, size_t len)
{
  size_t off, done = 0;
  for (int i = gather_seek(g, skip, &off); i < g->iovcnt && done < len; i++, off = 0) {
    size_t n = US_MIN(g->iov[i].iov_len - off, len - done);
    size_t got = us_bq_append(s, q, (const uint8_t *)g->iov[i].iov_base + off, n);
    done += got;
    if (got < n)
      break;
  }
  return done;
}

size_t us_gather_copy(const struct us_gather *g, size_t skip, void *out, size_t len)
{
  size_t off, done = 0;
  for (int i = gather_seek(g, skip, &off); i < g->iovcnt && done < len; i++, off = 0) {
    size_t n = US_MIN(g->iov[i].iov_len - off, len - done);
    memcpy((uint8_t *)out + done, (const uint8_t *)g->iov[i].iov_base + off, n);
    done += n;
  }
  return done;
}

size_t us_bq_peek(const struct us_bq *q, size_t off, void *out, size_t len)
{
  uint8_t *dst = out;
  size_t done = 0;
  if (off >= q->len)
    return 0;
  if (len > q->len - off)
    len = q->len - off;
  const struct us_chunk *c = q->head;
  while (c && off >= (size_t)(c->end - c->start)) {
    off -= (size_t)(c->end - c->start);
    c = c->next;
  }
  while (c && done < len) {
    size_t avail = (size_t)(c->end - c->start) - off;
    size_t n = US_MIN(avail, len - done);
    memcpy(dst + done, c->data + c->start + off, n);
    done += n;
    off = 0;
    c = c->next;
  }
  return done;
}

void us_bq_consume(struct ustcp_stack *s, struct us_bq *q, size_t len)
{
  if (len > q->len)
    len = q->len;
  q->len -= len;
  while (len && q->head) {
    struct us_chunk *c = q->head;
    size_t avail = (size_t)(c->end - c->start);
    if (len < avail) {
      c->start = (uint16_t)(c->start + len);
      return;
    }
    len -= avail;
    q->head = c->next;
    if (!q->head)
      q->tail = NULL;
    us_pool_free(&s->chunk_pool, c);
  }
  /* Keep a lone, emptied tail chunk? No: an empty queue owns nothing. */
  if (q->head && q->head == q->tail && q->head->start == q->head->end) {
    us_pool_free(&s->chunk_pool, q->head);
    q->head = q->tail = NULL;
  }
}

void us_bq_clear(struct ustcp_stack *s, struct us_bq *q) { us_bq_consume(s, q, q->len); }
