/*
 * sim.c - the simulated network (include/ustcp/sim.h): hosts (ustcp stacks)
 * and routers joined by point-to-point links, one event queue, a virtual
 * nanosecond clock and a seeded RNG.
 *
 * Time: a binary min-heap of events keyed by (time, seq); seq is a global
 * counter, so events at the same instant run in the order they were made and
 * the same seed gives the same run, bit for bit. Stack timers are not events:
 * before each step the earliest ustcp_next_deadline() over the hosts is
 * compared with the heap top, and a timer due at the same instant as a packet
 * fires first (as ustcp_input() itself does). Packets in flight wait in
 * per-link-direction FIFOs with only each head in the heap. Per event
 * O(log events) plus O(hosts) for the deadline scan; nothing scans links.
 *
 * Links: per direction, packets are serialized at the bandwidth behind a
 * bounded FIFO (tail drop), then travel `latency`; faults (partition, MTU,
 * loss, corruption, duplication, reordering) are drawn from the world's RNG
 * only when their knob is non-zero. Packets in flight live in buffers from
 * size-class free lists owned by the world: no malloc per packet once warm.
 *
 * Routers are plain C here, not stacks: longest-prefix match over their
 * routes, TTL decrement with an incremental checksum update (RFC 1624), and
 * ICMP time exceeded / unreachable / fragmentation needed (RFC 792, RFC 1812
 * 4.3.2: quote as much of the datagram as fits in 576 bytes).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "link/pcap.h"
#include "ustcp/sim.h"
#include "wire/wire.h"

/* ------------------------------------------------------------- buffers */

#define PKT_MIN_SHIFT 11 /* 2 KiB: one Ethernet-sized datagram */
#define PKT_CLASSES 6    /* 2 KiB .. 64 KiB */

struct sim_pkt {
  struct sim_pkt *next; /* free list */
  uint32_t cls;
  uint32_t len;
  uint8_t data[];
};

/* ------------------------------------------------------------- events */

/* EV_FIFO stands for the head of a link direction's FIFO (below);
 * EV_DELIVER carries a packet that left its FIFO order (reordered, or sent
 * after a latency cut). */
enum { EV_FIFO, EV_DELIVER, EV_LOCAL, EV_CALL };

struct sim_event {
  ustcp_time_t t;
  uint64_t seq;
  int kind;
  int link, dir; /* EV_FIFO/EV_DELIVER: link and direction (0 = a->b) */
  int node;      /* EV_LOCAL: the host that sent to itself */
  struct sim_pkt *pkt;
  void (*fn)(void *user);
  void *user;
};

/* Packets in flight on one link direction, in arrival order. With a fixed
 * latency and no reordering, arrival times only grow, so only the head needs
 * a place in the event heap: the heap holds one entry per busy link
 * direction instead of one per packet. Each packet keeps the (time, seq) key
 * it would have had in the heap, so the order of events is the same. */
struct sim_flight {
  ustcp_time_t t;
  uint64_t seq;
  struct sim_pkt *pkt;
};
struct sim_fifo {
  struct sim_flight *v;
  uint32_t cap, head, n; /* cap is a power of two */
};

/* ------------------------------------------------------------- nodes */

struct sim_route {
  uint32_t prefix, mask; /* host byte order */
  int plen;
  int link;
};

struct ustcp_sim;

struct sim_node {
  struct ustcp_sim *sim;
  int id;
  char name[32];
  bool router;
  uint32_t addr; /* host byte order; for a router, the ICMP source */
  bool addr_set;
  struct ustcp_stack *stack; /* hosts */
  int link;                  /* hosts: the one link, or -1 */
  uint64_t activity;         /* packets delivered + timer runs (wait()) */
  struct us_pcap *pcap;
  struct sim_route *routes; /* routers */
  int nroutes, cap_routes;
};

struct sim_dir {
  struct ustcp_link_params p;
  ustcp_time_t busy_until; /* the wire is busy serializing until then */
  ustcp_time_t *ring;      /* departure times of packets not yet fully sent
                              (ring_cap is a power of two) */
  uint32_t ring_cap, ring_head, ring_n;
  struct sim_fifo fifo;
};

struct sim_link {
  int node[2];
  struct sim_dir d[2];
  struct us_pcap *pcap;
};

struct ustcp_sim {
  ustcp_time_t now;
  uint64_t seed;
  struct us_rng rng;
  uint64_t next_seq;
  uint64_t calls; /* EV_CALL events run (they may touch any stack) */

  struct sim_event *heap;
  uint32_t heap_n, heap_cap;

  struct sim_node **nodes;
  int nnodes, cap_nodes;
  struct sim_node **hosts; /* the subset with a stack, for the deadline scan */
  int nhosts, cap_hosts;
  struct sim_link **links;
  int nlinks, cap_links;

  struct sim_pkt *free_pkts[PKT_CLASSES];
  uint8_t icmp_buf[576];   /* a router's ICMP error being built */
  uint8_t echo_buf[65536]; /* a router's echo reply being built */
  uint8_t frag_buf[65536]; /* a fragment a router is cutting */

  ustcp_trace_fn trace_fn;
  void *trace_user;
  struct ustcp_sim_stats st;
};

/* ------------------------------------------------------------- helpers */

static int grow(void **v, int *cap, int need, size_t elem)
{
  if (need <= *cap)
    return 0;
  int ncap = *cap ? *cap * 2 : 8;
  while (ncap < need)
    ncap *= 2;
  void *nv = realloc(*v, (size_t)ncap * elem);
  if (!nv)
    return -ENOMEM;
  *v = nv;
  *cap = ncap;
  return 0;
}

static bool chance(struct ustcp_sim *sim, double p)
{
  if (!(p > 0))
    return false;
  if (p >= 1)
    return true;
  return (double)(us_rng_next(&sim->rng) >> 11) * (1.0 / 9007199254740992.0) < p;
}

static int parse_addr(const char *text, uint32_t *out)
{
  struct in_addr a;
  if (!text || inet_pton(AF_INET, text, &a) != 1)
    return -EINVAL;
  *out = ntohl(a.s_addr);
  return 0;
}

static struct sim_pkt *pkt_alloc(struct ustcp_sim *sim, const uint8_t *data, size_t len)
{
  uint32_t cls = 0;
  while (cls < PKT_CLASSES - 1 && len > ((size_t)1 << (PKT_MIN_SHIFT + cls)))
    cls++;
  if (len > ((size_t)1 << (PKT_MIN_SHIFT + cls)))
    return NULL;
  struct sim_pkt *p = sim->free_pkts[cls];
  if (p) {
    sim->free_pkts[cls] = p->next;
  } else {
    p = malloc(sizeof(*p) + ((size_t)1 << (PKT_MIN_SHIFT + cls)));
    if (!p)
      return NULL;
    p->cls = cls;
  }
  p->next = NULL;
  p->len = (uint32_t)len;
  memcpy(p->data, data, len);
  return p;
}

static void pkt_free(struct ustcp_sim *sim, struct sim_pkt *p)
{
  if (!p)
    return;
  p->next = sim->free_pkts[p->cls];
  sim->free_pkts[p->cls] = p;
}

/* ------------------------------------------------------------- event heap */

static bool ev_less(const struct sim_event *a, const struct sim_event *b)
{
  return a->t < b->t || (a->t == b->t && a->seq < b->seq);
}

/* Insert ev with its own ev->seq (already drawn from sim->next_seq). */
static int heap_insert(struct ustcp_sim *sim, const struct sim_event *ev)
{
  if (sim->heap_n == sim->heap_cap) {
    uint32_t ncap = sim->heap_cap ? sim->heap_cap * 2 : 256;
    struct sim_event *nv = realloc(sim->heap, (size_t)ncap * sizeof(*nv));
    if (!nv)
      return -ENOMEM;
    sim->heap = nv;
    sim->heap_cap = ncap;
  }
  uint32_t i = sim->heap_n++;
  while (i > 0) {
    uint32_t parent = (i - 1) / 2;
    if (!ev_less(ev, &sim->heap[parent]))
      break;
    sim->heap[i] = sim->heap[parent];
    i = parent;
  }
  sim->heap[i] = *ev;
  return 0;
}

static int heap_push(struct ustcp_sim *sim, struct sim_event *ev)
{
  if (ev->t < sim->now)
    ev->t = sim->now;
  ev->seq = sim->next_seq++;
  return heap_insert(sim, ev);
}

static void heap_pop(struct ustcp_sim *sim, struct sim_event *out)
{
  *out = sim->heap[0];
  struct sim_event last = sim->heap[--sim->heap_n];
  uint32_t n = sim->heap_n, i = 0;
  for (;;) {
    uint32_t c = 2 * i + 1;
    if (c >= n)
      break;
    if (c + 1 < n && ev_less(&sim->heap[c + 1], &sim->heap[c]))
      c++;
    if (!ev_less(&sim->heap[c], &last))
      break;
    sim->heap[i] = sim->heap[c];
    i = c;
  }
  if (n)
    sim->heap[i] = last;
}

/* ------------------------------------------------------------- tracing */

static void trace_link(struct ustcp_sim *sim, struct ustcp_stack *from, enum ustcp_trace_kind kind,
                       int reason, const char *detail, const uint8_t *pkt, size_t len)
{
  if (!sim->trace_fn)
    return;
  struct ustcp_trace_event ev = {.kind = kind,
                                 .time_ns = sim->now,
                                 .pkt = pkt,
                                 .len = len,
                                 .stat = reason,
                                 .fd = -1,
                                 .detail = detail};
  sim->trace_fn(sim->trace_user, from, &ev);
}

/* ------------------------------------------------------------- links */

static bool params_ok(const struct ustcp_link_params *p)
{
  if (!p)
    return true;
  double pr[4] = {p->loss, p->reorder, p->duplicate, p->corrupt};
  for (int i = 0; i < 4; i++)
    if (!(pr[i] >= 0 && pr[i] <= 1))
      return false;
  return p->mtu == 0 || p->mtu >= 68;
}

/* How many packets sit on the wire or behind it at `now`; forget those
 * already sent. Departure times are non-decreasing, so the FIFO's head is
 * the earliest. */
static uint32_t queue_len(struct sim_dir *d, ustcp_time_t now)
{
  while (d->ring_n && d->ring[d->ring_head] <= now) {
    d->ring_head = (d->ring_head + 1) & (d->ring_cap - 1);
    d->ring_n--;
  }
  return d->ring_n;
}

static int queue_push(struct sim_dir *d, ustcp_time_t depart)
{
  if (d->ring_n == d->ring_cap) {
    uint32_t ncap = d->ring_cap ? d->ring_cap * 2 : 64;
    ustcp_time_t *nv = malloc((size_t)ncap * sizeof(*nv));
    if (!nv)
      return -ENOMEM;
    for (uint32_t i = 0; i < d->ring_n; i++)
      nv[i] = d->ring[(d->ring_head + i) & (d->ring_cap - 1)];
    free(d->ring);
    d->ring = nv;
    d->ring_cap = ncap;
    d->ring_head = 0;
  }
  d->ring[(d->ring_head + d->ring_n) & (d->ring_cap - 1)] = depart;
  d->ring_n++;
  return 0;
}

static int fifo_push(struct sim_fifo *f, const struct sim_flight *x)
{
  if (f->n == f->cap) {
    uint32_t ncap = f->cap ? f->cap * 2 : 64;
    struct sim_flight *nv = malloc((size_t)ncap * sizeof(*nv));
    if (!nv)
      return -ENOMEM;
    for (uint32_t i = 0; i < f->n; i++)
      nv[i] = f->v[(f->head + i) & (f->cap - 1)];
    free(f->v);
    f->v = nv;
    f->cap = ncap;
    f->head = 0;
  }
  f->v[(f->head + f->n) & (f->cap - 1)] = *x;
  f->n++;
  return 0;
}

/* Schedule packet sp to arrive over (li, dir) at t. */
static int schedule_arrival(struct ustcp_sim *sim, int li, int dir, ustcp_time_t t,
                            struct sim_pkt *sp)
{
  struct sim_fifo *f = &sim->links[li]->d[dir].fifo;
  struct sim_flight x = {.t = t, .seq = sim->next_seq++, .pkt = sp};
  if (!f->n || f->v[(f->head + f->n - 1) & (f->cap - 1)].t <= t) {
    if (fifo_push(f, &x))
      return -ENOMEM;
    if (f->n == 1) { /* a new head: it needs its heap entry */
      struct sim_event ev = {.t = t, .seq = x.seq, .kind = EV_FIFO, .link = li, .dir = dir};
      if (heap_insert(sim, &ev)) {
        f->n = 0;
        return -ENOMEM;
      }
    }
    return 0;
  }
  struct sim_event ev = {
      .t = t, .seq = x.seq, .kind = EV_DELIVER, .link = li, .dir = dir, .pkt = sp};
  return heap_insert(sim, &ev);
}

/* The FIFO head's event fired: take its packet, and put the next head in
 * the heap. The insert cannot fail: popping the head's event freed a slot. */
static struct sim_pkt *fifo_take(struct ustcp_sim *sim, int li, int dir)
{
  struct sim_fifo *f = &sim->links[li]->d[dir].fifo;
  struct sim_pkt *sp = f->v[f->head].pkt;
  f->head = (f->head + 1) & (f->cap - 1);
  f->n--;
  if (f->n) {
    const struct sim_flight *h = &f->v[f->head];
    struct sim_event ev = {.t = h->t, .seq = h->seq, .kind = EV_FIFO, .link = li, .dir = dir};
    (void)heap_insert(sim, &ev);
  }
  return sp;
}

static void router_icmp_error(struct ustcp_sim *sim, struct sim_node *r, uint8_t type, uint8_t code,
                              uint16_t mtu, const uint8_t *dgram, size_t len);

/* Put one datagram on link `li` in direction `dir` at sim->now. `from` is the
 * sending host's stack (NULL for a router) and `router` the sending router. */
static void link_send(struct ustcp_sim *sim, int li, int dir, const uint8_t *pkt, size_t len,
                      struct ustcp_stack *from, struct sim_node *router);

/* RFC 791 3.2 / Linux ip_fragment() on forwarding: a router cuts a datagram
 * without DF that is longer than the next link's MTU into fragments of a
 * multiple of 8 payload bytes (a fragment of a fragment keeps its offset
 * and MF). The header is copied without its options. */
static bool router_fragment(struct ustcp_sim *sim, int li, int dir, const uint8_t *pkt, size_t len,
                            uint32_t mtu, struct sim_node *router)
{
  struct us_ipv4_hdr h;
  if (us_ipv4_parse(pkt, len, &h) != 0 || h.df || mtu < US_IPV4_HDR_LEN + 8)
    return false;
  size_t plen = h.total_len - h.hdr_len;
  size_t step = (mtu - US_IPV4_HDR_LEN) & ~(size_t)7;
  sim->st.fragmented++;
  for (size_t off = 0; off < plen; off += step) {
    size_t n = plen - off < step ? plen - off : step;
    struct us_ipv4_hdr f = h;
    f.total_len = (uint16_t)(US_IPV4_HDR_LEN + n);
    f.frag_off = (uint16_t)(h.frag_off + off);
    f.mf = h.mf || off + n < plen;
    us_ipv4_emit(&f, sim->frag_buf);
    memcpy(sim->frag_buf + US_IPV4_HDR_LEN, pkt + h.hdr_len + off, n);
    link_send(sim, li, dir, sim->frag_buf, US_IPV4_HDR_LEN + n, NULL, router);
  }
  return true;
}

static void link_send(struct ustcp_sim *sim, int li, int dir, const uint8_t *pkt, size_t len,
                      struct ustcp_stack *from, struct sim_node *router)
{
  struct sim_link *l = sim->links[li];
  struct sim_dir *d = &l->d[dir];
  const struct ustcp_link_params *p = &d->p;
  uint32_t mtu = p->mtu ? p->mtu : 1500;
  if (len > mtu && router && router_fragment(sim, li, dir, pkt, len, mtu, router))
    return;
  sim->st.sent++;
  if (l->pcap)
    us_pcap_write(l->pcap, sim->now, pkt, len);

  if (p->partitioned) {
    sim->st.partition_dropped++;
    trace_link(sim, from, USTCP_TR_DROP, USTCP_STAT_DROP_LINK_PARTITION, "link partitioned", pkt,
               len);
    return;
  }
  if (len > mtu) {
    sim->st.mtu_dropped++;
    trace_link(sim, from, USTCP_TR_DROP, USTCP_STAT_DROP_LINK_MTU, "link: over the MTU", pkt, len);
    /* RFC 1191: a router that cannot forward a DF datagram says so (one
     * without DF was fragmented above). */
    if (router && len >= US_IPV4_HDR_LEN && (pkt[6] & 0x40))
      router_icmp_error(sim, router, US_ICMP_DEST_UNREACH, US_ICMP_FRAG_NEEDED, (uint16_t)mtu, pkt,
                        len);
    return;
  }

  ustcp_time_t depart = sim->now;
  if (p->bandwidth_bps) {
    /* Unsent packets are the one on the wire plus those queued behind it;
     * queue_limit bounds the queued ones (a FIFO with tail drop). */
    uint32_t limit = p->queue_limit ? p->queue_limit : 1000;
    if (queue_len(d, sim->now) > limit) {
      sim->st.tail_dropped++;
      trace_link(sim, from, USTCP_TR_DROP, USTCP_STAT_DROP_LINK_QUEUE_FULL, "link: queue full", pkt,
                 len);
      return;
    }
    /* Serialization: len*8 bits at bandwidth_bps, rounded up to a ns. */
    uint64_t bits_ns = (uint64_t)len * 8u * 1000000000ull;
    ustcp_time_t tx = (bits_ns + p->bandwidth_bps - 1) / p->bandwidth_bps;
    ustcp_time_t start = d->busy_until > sim->now ? d->busy_until : sim->now;
    depart = start + tx;
    d->busy_until = depart;
    if (queue_push(d, depart)) {
      sim->st.tail_dropped++;
      trace_link(sim, from, USTCP_TR_DROP, USTCP_STAT_DROP_LINK_QUEUE_FULL, "link: no memory", pkt,
                 len);
      return;
    }
  }
  if (chance(sim, p->loss)) {
    sim->st.lost++;
    trace_link(sim, from, USTCP_TR_DROP, USTCP_STAT_DROP_LINK_LOSS, "link: lost", pkt, len);
    return;
  }
  int copies = 1;
  if (chance(sim, p->duplicate)) {
    copies = 2;
    sim->st.duplicated++;
    trace_link(sim, from, USTCP_TR_NOTE, 0, "link: duplicated", pkt, len);
  }
  for (int c = 0; c < copies; c++) {
    struct sim_pkt *sp = pkt_alloc(sim, pkt, len);
    if (!sp) {
      sim->st.lost++;
      trace_link(sim, from, USTCP_TR_DROP, USTCP_STAT_DROP_LINK_NO_BUF, "link: no buffer", pkt,
                 len);
      continue;
    }
    ustcp_time_t arrive = depart + p->latency;
    if (len && chance(sim, p->corrupt)) {
      uint64_t bit = us_rng_next(&sim->rng) % ((uint64_t)len * 8u);
      sp->data[bit / 8] ^= (uint8_t)(1u << (bit % 8));
      sim->st.corrupted++;
      trace_link(sim, from, USTCP_TR_NOTE, 0, "link: corrupted (one bit flipped)", sp->data, len);
    }
    if (chance(sim, p->reorder)) {
      /* Extra delay of up to 2*latency + 1 ms lets later packets overtake. */
      ustcp_time_t span = 2 * p->latency + USTCP_MS(1);
      arrive += 1 + us_rng_next(&sim->rng) % span;
      sim->st.reordered++;
      trace_link(sim, from, USTCP_TR_NOTE, 0, "link: delayed (reordered)", sp->data, len);
    }
    if (schedule_arrival(sim, li, dir, arrive, sp)) {
      pkt_free(sim, sp);
      sim->st.lost++;
    }
  }
}

/* ------------------------------------------------------------- routers */

static int router_lookup(const struct sim_node *r, uint32_t dst)
{
  int best = -1, best_plen = -1;
  for (int i = 0; i < r->nroutes; i++) {
    const struct sim_route *rt = &r->routes[i];
    if ((dst & rt->mask) == rt->prefix && rt->plen > best_plen) {
      best = rt->link;
      best_plen = rt->plen;
    }
  }
  return best;
}

static void router_send(struct ustcp_sim *sim, struct sim_node *r, int li, const uint8_t *pkt,
                        size_t len)
{
  struct sim_link *l = sim->links[li];
  int dir = l->node[0] == r->id ? 0 : 1;
  link_send(sim, li, dir, pkt, len, NULL, r);
}

static bool addr_is_special(uint32_t a)
{
  /* 0/8, multicast 224/4, limited broadcast: never the subject of an ICMP
   * error (RFC 1812 4.3.2.7). */
  return (a >> 24) == 0 || (a >> 28) == 0xe || a == 0xffffffffu;
}

/* RFC 1812 4.3.2.7: no ICMP error about an ICMP error, a non-first
 * fragment, or a datagram from/to a broadcast or multicast address. */
static void router_icmp_error(struct ustcp_sim *sim, struct sim_node *r, uint8_t type, uint8_t code,
                              uint16_t mtu, const uint8_t *dgram, size_t len)
{
  struct us_ipv4_hdr ih;
  if (us_ipv4_parse(dgram, len, &ih) != 0)
    return;
  if (ih.frag_off || addr_is_special(ih.src) || addr_is_special(ih.dst))
    return;
  if (ih.proto == US_IPPROTO_ICMP) {
    if (ih.total_len < ih.hdr_len + 1)
      return;
    uint8_t itype = dgram[ih.hdr_len];
    if (itype == US_ICMP_DEST_UNREACH || itype == 4 || itype == 5 ||
        itype == US_ICMP_TIME_EXCEEDED || itype == 12)
      return; /* an error (unreachable, quench, redirect, time, parameter) */
  }
  size_t quote = ih.total_len;
  /* RFC 1812 4.3.2.3: as much of the datagram as fits in 576 bytes. */
  size_t room = sizeof(sim->icmp_buf) - US_IPV4_HDR_LEN - US_ICMP_HDR_LEN;
  if (quote > room)
    quote = room;
  uint8_t *buf = sim->icmp_buf;
  struct us_icmp_hdr ic = {
      .type = type, .code = code, .mtu = mtu, .body = dgram, .body_len = quote};
  us_icmp_emit(&ic, buf + US_IPV4_HDR_LEN);
  uint32_t src = r->addr;
  struct us_ipv4_hdr oh = {.tos = (uint8_t)((ih.tos & 0x1e) | 0xc0),
                           .total_len = (uint16_t)(US_IPV4_HDR_LEN + US_ICMP_HDR_LEN + quote),
                           .id = (uint16_t)us_rng_u32(&sim->rng),
                           .ttl = 64,
                           .proto = US_IPPROTO_ICMP,
                           .src = src,
                           .dst = ih.src};
  us_ipv4_emit(&oh, buf);
  int li = router_lookup(r, ih.src);
  if (li >= 0)
    router_send(sim, r, li, buf, oh.total_len);
}

/* A datagram for the router itself (RFC 1812 4.3.3.6: a router answers
 * echo requests); anything else is unreachable, as from a host with no
 * services: port unreachable for UDP, protocol unreachable otherwise. */
static void router_local(struct ustcp_sim *sim, struct sim_node *r, const uint8_t *pkt,
                         const struct us_ipv4_hdr *ih)
{
  const uint8_t *body = pkt + ih->hdr_len;
  size_t blen = ih->total_len - ih->hdr_len;
  if (ih->proto == US_IPPROTO_ICMP) {
    struct us_icmp_hdr ic;
    if (us_icmp_parse(body, blen, &ic) != 0 || ic.type != US_ICMP_ECHO_REQUEST || ih->frag_off ||
        ih->mf)
      return;
    struct us_icmp_hdr rep = ic;
    rep.type = US_ICMP_ECHO_REPLY;
    rep.code = 0;
    us_icmp_emit(&rep, sim->echo_buf + US_IPV4_HDR_LEN);
    struct us_ipv4_hdr oh = {.tos = ih->tos,
                             .total_len = (uint16_t)(US_IPV4_HDR_LEN + blen),
                             .id = (uint16_t)us_rng_u32(&sim->rng),
                             .ttl = 64,
                             .proto = US_IPPROTO_ICMP,
                             .src = r->addr,
                             .dst = ih->src};
    us_ipv4_emit(&oh, sim->echo_buf);
    int li = router_lookup(r, ih->src);
    if (li >= 0)
      router_send(sim, r, li, sim->echo_buf, oh.total_len);
    return;
  }
  router_icmp_error(sim, r, US_ICMP_DEST_UNREACH,
                    ih->proto == US_IPPROTO_UDP ? US_ICMP_PORT_UNREACH : US_ICMP_PROT_UNREACH, 0,
                    pkt, ih->total_len);
}

static void router_forward(struct ustcp_sim *sim, struct sim_node *r, struct sim_pkt *sp)
{
  struct us_ipv4_hdr ih;
  uint8_t *pkt = sp->data;
  size_t len = sp->len;
  if (us_ipv4_parse(pkt, len, &ih) != 0) {
    trace_link(sim, NULL, USTCP_TR_DROP, USTCP_STAT_DROP_ROUTER_BAD_HDR, r->name, pkt, len);
    return;
  }
  len = ih.total_len;
  if (r->addr_set && ih.dst == r->addr) {
    router_local(sim, r, pkt, &ih);
    return;
  }
  int li = router_lookup(r, ih.dst);
  if (li < 0) {
    sim->st.no_route++;
    trace_link(sim, NULL, USTCP_TR_DROP, USTCP_STAT_DROP_ROUTER_NO_ROUTE, r->name, pkt, len);
    router_icmp_error(sim, r, US_ICMP_DEST_UNREACH, US_ICMP_NET_UNREACH, 0, pkt, len);
    return;
  }
  if (ih.ttl <= 1) {
    sim->st.ttl_expired++;
    trace_link(sim, NULL, USTCP_TR_DROP, USTCP_STAT_DROP_ROUTER_TTL, r->name, pkt, len);
    router_icmp_error(sim, r, US_ICMP_TIME_EXCEEDED, 0, 0, pkt, len);
    return;
  }
  /* TTL lives in the high byte of the 16-bit word at offset 8 (with the
   * protocol); RFC 1624 updates the checksum incrementally. */
  uint16_t old_w = us_get16(pkt + 8);
  pkt[8]--;
  uint16_t new_w = us_get16(pkt + 8);
  us_put16(pkt + 10, us_csum_update16(us_get16(pkt + 10), old_w, new_w));
  sim->st.forwarded++;
  router_send(sim, r, li, pkt, len);
}

/* ------------------------------------------------------------- hosts */

static int host_output(void *user, const uint8_t *pkt, size_t len)
{
  struct sim_node *n = user;
  struct ustcp_sim *sim = n->sim;
  if (n->pcap)
    us_pcap_write(n->pcap, sim->now, pkt, len);
  /* A datagram to our own address never reaches the link (Linux routes it
   * through lo); it arrives at once, after what is already due now. */
  if (len >= US_IPV4_HDR_LEN && us_get32(pkt + 16) == n->addr) {
    struct sim_pkt *sp = pkt_alloc(sim, pkt, len);
    struct sim_event ev = {.t = sim->now, .kind = EV_LOCAL, .node = n->id, .pkt = sp};
    if (sp && heap_push(sim, &ev))
      pkt_free(sim, sp);
    return 0;
  }
  if (n->link < 0) {
    sim->st.sent++;
    sim->st.lost++;
    trace_link(sim, n->stack, USTCP_TR_DROP, USTCP_STAT_DROP_LINK_PARTITION, "host has no link",
               pkt, len);
    return 0;
  }
  struct sim_link *l = sim->links[n->link];
  link_send(sim, n->link, l->node[0] == n->id ? 0 : 1, pkt, len, n->stack, NULL);
  return 0;
}

static ustcp_time_t host_now(void *user)
{
  struct sim_node *n = user;
  return n->sim->now;
}

static int host_wait(void *user, struct ustcp_stack *s, ustcp_time_t deadline);

static const struct ustcp_link_ops sim_host_ops = {
    .output = host_output,
    .now = host_now,
    .wait = host_wait,
};

static void host_deliver(struct ustcp_sim *sim, struct sim_node *n, struct sim_pkt *sp)
{
  if (n->pcap)
    us_pcap_write(n->pcap, sim->now, sp->data, sp->len);
  n->activity++;
  sim->st.delivered++;
  ustcp_input(n->stack, sp->data, sp->len);
}

/* ------------------------------------------------------------- the loop */

/* The earliest host timer, and its host (or NULL). */
static ustcp_time_t next_timer(struct ustcp_sim *sim, struct sim_node **who)
{
  ustcp_time_t best = USTCP_TIME_NEVER;
  *who = NULL;
  for (int i = 0; i < sim->nhosts; i++) {
    ustcp_time_t t = ustcp_next_deadline(sim->hosts[i]->stack);
    if (t < best) {
      best = t;
      *who = sim->hosts[i];
    }
  }
  return best;
}

static ustcp_time_t next_time(struct ustcp_sim *sim)
{
  struct sim_node *who;
  ustcp_time_t t = next_timer(sim, &who);
  if (sim->heap_n && sim->heap[0].t < t)
    t = sim->heap[0].t;
  return t;
}

/* Run the earliest event or timer if it is due at or before `limit`.
 * Returns false when nothing is due by then. */
static bool step(struct ustcp_sim *sim, ustcp_time_t limit)
{
  struct sim_node *who;
  ustcp_time_t tt = next_timer(sim, &who);
  ustcp_time_t te = sim->heap_n ? sim->heap[0].t : USTCP_TIME_NEVER;
  if (tt == USTCP_TIME_NEVER && te == USTCP_TIME_NEVER)
    return false;
  if (tt <= te) {
    if (tt > limit)
      return false;
    if (tt > sim->now)
      sim->now = tt;
    sim->st.events++;
    who->activity++;
    ustcp_process(who->stack);
    return true;
  }
  if (te > limit)
    return false;
  struct sim_event ev;
  heap_pop(sim, &ev);
  if (ev.t > sim->now)
    sim->now = ev.t;
  sim->st.events++;
  switch (ev.kind) {
  case EV_FIFO:
    ev.pkt = fifo_take(sim, ev.link, ev.dir);
    /* fall through */
  case EV_DELIVER: {
    sim->st.arrived++;
    struct sim_link *l = sim->links[ev.link];
    struct sim_node *dst = sim->nodes[l->node[1 - ev.dir]];
    if (dst->router)
      router_forward(sim, dst, ev.pkt);
    else
      host_deliver(sim, dst, ev.pkt);
    break;
  }
  case EV_LOCAL:
    sim->st.local++;
    host_deliver(sim, sim->nodes[ev.node], ev.pkt);
    break;
  case EV_CALL:
    sim->calls++;
    ev.fn(ev.user);
    break;
  }
  pkt_free(sim, ev.pkt);
  return true;
}

/* Blocking calls: run the world until this host saw something (a packet,
 * a timer), an application callback ran, or the deadline. */
static int host_wait(void *user, struct ustcp_stack *s, ustcp_time_t deadline)
{
  struct sim_node *n = user;
  struct ustcp_sim *sim = n->sim;
  (void)s;
  uint64_t act = n->activity, calls = sim->calls;
  for (;;) {
    if (n->activity != act || sim->calls != calls)
      return 0;
    ustcp_time_t t = next_time(sim);
    if (t == USTCP_TIME_NEVER && deadline == USTCP_TIME_NEVER)
      return -EDEADLK; /* nothing pending could ever wake the caller */
    if (t > deadline) {
      if (deadline > sim->now)
        sim->now = deadline;
      return -ETIMEDOUT;
    }
    step(sim, deadline);
  }
}

/* ------------------------------------------------------------- public API */

struct ustcp_sim *ustcp_sim_create(uint64_t seed)
{
  struct ustcp_sim *sim = calloc(1, sizeof(*sim));
  if (!sim)
    return NULL;
  sim->seed = seed;
  us_rng_seed(&sim->rng, seed);
  return sim;
}

void ustcp_sim_destroy(struct ustcp_sim *sim)
{
  if (!sim)
    return;
  for (int i = 0; i < sim->nnodes; i++) {
    struct sim_node *n = sim->nodes[i];
    if (n->stack)
      ustcp_stack_destroy(n->stack);
    us_pcap_close(n->pcap);
    free(n->routes);
    free(n);
  }
  for (int i = 0; i < sim->nlinks; i++) {
    struct sim_link *l = sim->links[i];
    us_pcap_close(l->pcap);
    for (int d = 0; d < 2; d++) {
      struct sim_fifo *f = &l->d[d].fifo;
      for (uint32_t k = 0; k < f->n; k++)
        free(f->v[(f->head + k) & (f->cap - 1)].pkt);
      free(f->v);
      free(l->d[d].ring);
    }
    free(l);
  }
  for (uint32_t i = 0; i < sim->heap_n; i++)
    free(sim->heap[i].pkt);
  for (int c = 0; c < PKT_CLASSES; c++) {
    while (sim->free_pkts[c]) {
      struct sim_pkt *p = sim->free_pkts[c];
      sim->free_pkts[c] = p->next;
      free(p);
    }
  }
  free(sim->heap);
  free(sim->nodes);
  free(sim->hosts);
  free(sim->links);
  free(sim);
}

static struct sim_node *node_new(struct ustcp_sim *sim, const char *name)
{
  if (grow((void **)&sim->nodes, &sim->cap_nodes, sim->nnodes + 1, sizeof(*sim->nodes)))
    return NULL;
  struct sim_node *n = calloc(1, sizeof(*n));
  if (!n)
    return NULL;
  n->sim = sim;
  n->id = sim->nnodes;
  n->link = -1;
  snprintf(n->name, sizeof(n->name), "%s", name ? name : "");
  sim->nodes[sim->nnodes++] = n;
  return n;
}

static struct sim_node *get_node(const struct ustcp_sim *sim, int id)
{
  if (!sim || id < 0 || id >= sim->nnodes)
    return NULL;
  return sim->nodes[id];
}

/* Whether a node (host or router) already uses address a. */
static bool addr_used(const struct ustcp_sim *sim, uint32_t a)
{
  for (int i = 0; i < sim->nnodes; i++)
    if (sim->nodes[i]->addr_set && sim->nodes[i]->addr == a)
      return true;
  return false;
}

/* A router's default address in the /24 `net`: .1 (the usual gateway) if
 * no node has it, else the highest free one from .254 down. */
static uint32_t free_router_addr(const struct ustcp_sim *sim, uint32_t net)
{
  if (!addr_used(sim, net | 1u))
    return net | 1u;
  for (uint32_t h = 254; h > 1; h--)
    if (!addr_used(sim, net | h))
      return net | h;
  return net | 1u;
}

int ustcp_sim_add_host(struct ustcp_sim *sim, const char *name, const char *addr,
                       const struct ustcp_config *cfg)
{
  uint32_t a;
  if (!sim || parse_addr(addr, &a) || a == 0)
    return -1;
  if (addr_used(sim, a))
    return -1; /* one address, one node: routes are by address */
  if (grow((void **)&sim->hosts, &sim->cap_hosts, sim->nhosts + 1, sizeof(*sim->hosts)))
    return -1;
  struct ustcp_config c;
  if (cfg)
    c = *cfg;
  else
    ustcp_config_init(&c);
  c.addr = htonl(a);
  c.link = &sim_host_ops;
  /* Each host's randomness is a pure function of the world's seed and its
   * position, so the same script gives the same run. */
  c.seed = sim->seed * 0x9e3779b97f4a7c15ull + (uint64_t)sim->nnodes + 1;
  struct sim_node *n = node_new(sim, name);
  if (!n)
    return -1;
  n->addr = a;
  n->addr_set = true;
  c.link_user = n;
  n->stack = ustcp_stack_create(&c, NULL, 0);
  if (!n->stack) {
    sim->nodes[--sim->nnodes] = NULL;
    free(n);
    return -1;
  }
  if (sim->trace_fn)
    ustcp_set_trace(n->stack, sim->trace_fn, sim->trace_user);
  sim->hosts[sim->nhosts++] = n;
  return n->id;
}

int ustcp_sim_add_router(struct ustcp_sim *sim, const char *name)
{
  if (!sim)
    return -1;
  struct sim_node *n = node_new(sim, name);
  if (!n)
    return -1;
  n->router = true;
  return n->id;
}

struct ustcp_stack *ustcp_sim_stack(struct ustcp_sim *sim, int host)
{
  struct sim_node *n = get_node(sim, host);
  return n ? n->stack : NULL;
}

const char *ustcp_sim_host_name(struct ustcp_sim *sim, int host)
{
  struct sim_node *n = get_node(sim, host);
  return n ? n->name : NULL;
}

int ustcp_sim_host_by_stack(struct ustcp_sim *sim, const struct ustcp_stack *s)
{
  for (int i = 0; sim && s && i < sim->nhosts; i++)
    if (sim->hosts[i]->stack == s)
      return sim->hosts[i]->id;
  return -1;
}

uint32_t ustcp_sim_host_addr(const struct ustcp_sim *sim, int host)
{
  struct sim_node *n = get_node(sim, host);
  return n && !n->router ? htonl(n->addr) : 0;
}

static int add_route(struct sim_node *r, uint32_t prefix, int plen, int link)
{
  if (grow((void **)&r->routes, &r->cap_routes, r->nroutes + 1, sizeof(*r->routes)))
    return -1;
  uint32_t mask = plen ? 0xffffffffu << (32 - plen) : 0;
  r->routes[r->nroutes++] = (struct sim_route){prefix & mask, mask, plen, link};
  return 0;
}

int ustcp_sim_link(struct ustcp_sim *sim, int a, int b, const struct ustcp_link_params *ab,
                   const struct ustcp_link_params *ba)
{
  struct sim_node *na = get_node(sim, a), *nb = get_node(sim, b);
  if (!na || !nb || a == b || !params_ok(ab) || !params_ok(ba))
    return -1;
  if ((!na->router && na->link >= 0) || (!nb->router && nb->link >= 0))
    return -1; /* a host has one interface */
  if (grow((void **)&sim->links, &sim->cap_links, sim->nlinks + 1, sizeof(*sim->links)))
    return -1;
  struct sim_link *l = calloc(1, sizeof(*l));
  if (!l)
    return -1;
  int id = sim->nlinks;
  l->node[0] = a;
  l->node[1] = b;
  if (ab)
    l->d[0].p = *ab;
  if (ba)
    l->d[1].p = *ba;
  sim->links[sim->nlinks++] = l;
  struct sim_node *ends[2] = {na, nb};
  for (int i = 0; i < 2; i++) {
    struct sim_node *n = ends[i], *peer = ends[1 - i];
    if (!n->router) {
      /* The link is the host's interface: its MTU bounds what the stack
       * sends (a later ustcp_sim_link_set() acts as a path change). */
      uint16_t mtu = l->d[i].p.mtu ? l->d[i].p.mtu : 1500;
      if (n->stack->cfg.mtu > mtu)
        n->stack->cfg.mtu = mtu;
      n->link = id;
      continue;
    }
    /* A router reaches a directly linked host through this link; its own
     * address defaults to .1 of that host's /24. */
    if (!peer->router) {
      if (add_route(n, peer->addr, 32, id))
        return -1;
      if (!n->addr_set) {
        n->addr = free_router_addr(sim, peer->addr & 0xffffff00u);
        n->addr_set = true;
      }
    }
  }
  return id;
}

int ustcp_sim_route(struct ustcp_sim *sim, int router, const char *prefix, int link)
{
  struct sim_node *r = get_node(sim, router);
  if (!r || !r->router || !prefix || link < 0 || link >= sim->nlinks)
    return -1;
  struct sim_link *l = sim->links[link];
  if (l->node[0] != router && l->node[1] != router)
    return -1;
  char buf[32];
  snprintf(buf, sizeof(buf), "%s", prefix);
  int plen = 32;
  char *slash = strchr(buf, '/');
  if (slash) {
    char *end;
    long v = strtol(slash + 1, &end, 10);
    if (end == slash + 1 || *end || v < 0 || v > 32)
      return -1;
    plen = (int)v;
    *slash = 0;
  }
  uint32_t a;
  if (parse_addr(buf, &a))
    return -1;
  return add_route(r, a, plen, link);
}

int ustcp_sim_router_addr(struct ustcp_sim *sim, int router, const char *addr)
{
  struct sim_node *r = get_node(sim, router);
  uint32_t a;
  if (!r || !r->router || parse_addr(addr, &a) || a == 0)
    return -1;
  if (!(r->addr_set && r->addr == a) && addr_used(sim, a))
    return -1;
  r->addr = a;
  r->addr_set = true;
  return 0;
}

int ustcp_sim_link_set(struct ustcp_sim *sim, int link, int dir, const struct ustcp_link_params *p)
{
  if (!sim || link < 0 || link >= sim->nlinks || (dir != 0 && dir != 1) || !p || !params_ok(p))
    return -1;
  sim->links[link]->d[dir].p = *p;
  return 0;
}

ustcp_time_t ustcp_sim_now(const struct ustcp_sim *sim) { return sim->now; }

void ustcp_sim_run_until(struct ustcp_sim *sim, ustcp_time_t t)
{
  while (step(sim, t))
    ;
  if (t != USTCP_TIME_NEVER && t > sim->now)
    sim->now = t;
}

static ustcp_time_t limit_end(const struct ustcp_sim *sim, ustcp_time_t limit)
{
  if (limit == USTCP_TIME_NEVER || sim->now + limit < sim->now)
    return USTCP_TIME_NEVER;
  return sim->now + limit;
}

bool ustcp_sim_run_until_idle(struct ustcp_sim *sim, ustcp_time_t limit)
{
  ustcp_time_t end = limit_end(sim, limit);
  while (step(sim, end))
    ;
  if (next_time(sim) == USTCP_TIME_NEVER)
    return true;
  if (end != USTCP_TIME_NEVER && end > sim->now)
    sim->now = end;
  return false;
}

bool ustcp_sim_run_while(struct ustcp_sim *sim, bool (*pred)(void *user), void *user,
                         ustcp_time_t limit)
{
  ustcp_time_t end = limit_end(sim, limit);
  for (;;) {
    if (pred(user))
      return true;
    if (!step(sim, end))
      break;
  }
  if (next_time(sim) != USTCP_TIME_NEVER && end != USTCP_TIME_NEVER && end > sim->now)
    sim->now = end;
  return pred(user);
}

int ustcp_sim_at(struct ustcp_sim *sim, ustcp_time_t t, void (*fn)(void *user), void *user)
{
  if (!sim || !fn)
    return -1;
  struct sim_event ev = {.t = t, .kind = EV_CALL, .fn = fn, .user = user};
  return heap_push(sim, &ev) ? -1 : 0;
}

int ustcp_sim_pcap_host(struct ustcp_sim *sim, int host, const char *path)
{
  struct sim_node *n = get_node(sim, host);
  if (!n || n->router)
    return -1;
  if (!path) {
    int r = us_pcap_close(n->pcap);
    n->pcap = NULL;
    return r ? -1 : 0;
  }
  struct us_pcap *p = us_pcap_open(path);
  if (!p)
    return -1;
  us_pcap_close(n->pcap);
  n->pcap = p;
  return 0;
}

int ustcp_sim_pcap_link(struct ustcp_sim *sim, int link, const char *path)
{
  if (!sim || link < 0 || link >= sim->nlinks)
    return -1;
  if (!path) {
    int r = us_pcap_close(sim->links[link]->pcap);
    sim->links[link]->pcap = NULL;
    return r ? -1 : 0;
  }
  struct us_pcap *p = us_pcap_open(path);
  if (!p)
    return -1;
  us_pcap_close(sim->links[link]->pcap);
  sim->links[link]->pcap = p;
  return 0;
}

void ustcp_sim_pcap_flush(struct ustcp_sim *sim)
{
  for (int i = 0; sim && i < sim->nnodes; i++)
    us_pcap_flush(sim->nodes[i]->pcap);
  for (int i = 0; sim && i < sim->nlinks; i++)
    us_pcap_flush(sim->links[i]->pcap);
}

void ustcp_sim_set_trace(struct ustcp_sim *sim, ustcp_trace_fn fn, void *user)
{
  sim->trace_fn = fn;
  sim->trace_user = user;
  for (int i = 0; i < sim->nhosts; i++)
    ustcp_set_trace(sim->hosts[i]->stack, fn, user);
}

void ustcp_sim_stats(const struct ustcp_sim *sim, struct ustcp_sim_stats *out) { *out = sim->st; }
