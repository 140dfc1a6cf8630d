/*
 * pcap.c - the pcap file writer (see pcap.h). File format: a 24-byte global
 * header (magic, version 2.4, snaplen, link type) then per packet a 16-byte
 * record header (seconds, nanoseconds, captured length, original length) and
 * the bytes, all in host byte order as the format allows (readers detect the
 * order from the magic).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "link/pcap.h"

#define PCAP_MAGIC_NSEC 0xa1b23c4du

struct us_pcap {
  FILE *f;
  uint64_t count;
  int err;
};

struct us_pcap *us_pcap_open(const char *path)
{
  struct us_pcap *p = calloc(1, sizeof(*p));
  if (!p)
    return NULL;
  p->f = fopen(path, "wb");
  if (!p->f) {
    int e = errno;
    free(p);
    errno = e;
    return NULL;
  }
  /* magic, version 2.4 (two u16), thiszone, sigfigs, snaplen, link type */
  uint32_t magic = PCAP_MAGIC_NSEC;
  uint16_t ver[2] = {2, 4};
  uint32_t rest[4] = {0, 0, US_PCAP_SNAPLEN, US_PCAP_LINKTYPE_RAW};
  if (fwrite(&magic, 4, 1, p->f) != 1 || fwrite(ver, 2, 2, p->f) != 2 ||
      fwrite(rest, 4, 4, p->f) != 4) {
    fclose(p->f);
    free(p);
    errno = EIO;
    return NULL;
  }
  return p;
}

int us_pcap_write(struct us_pcap *p, uint64_t time_ns, const uint8_t *pkt, size_t len)
{
  if (!p)
    return 0;
  uint32_t caplen = len > US_PCAP_SNAPLEN ? US_PCAP_SNAPLEN : (uint32_t)len;
  uint32_t rec[4] = {(uint32_t)(time_ns / 1000000000ull), (uint32_t)(time_ns % 1000000000ull),
                     caplen, (uint32_t)len};
  if (fwrite(rec, sizeof(rec), 1, p->f) != 1 || (caplen && fwrite(pkt, caplen, 1, p->f) != 1)) {
    p->err = EIO;
    return -EIO;
  }
  p->count++;
  return 0;
}

int us_pcap_flush(struct us_pcap *p)
{
  if (p && fflush(p->f) != 0) {
    p->err = EIO;
    return -EIO;
  }
  return 0;
}

int us_pcap_close(struct us_pcap *p)
{
  if (!p)
    return 0;
  int bad = fclose(p->f) != 0;
  bad |= p->err != 0;
  free(p);
  return bad ? -EIO : 0;
}

uint64_t us_pcap_count(const struct us_pcap *p) { return p ? p->count : 0; }
