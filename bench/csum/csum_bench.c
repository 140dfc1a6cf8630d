/*
 * csum_bench.c - throughput of the word-at-a-time Internet checksum
 * (us_csum_add) against a byte-at-a-time RFC 1071 reference and a plain
 * 16-bit-word loop, at packet sizes and alignments the stack sees.
 * Not a test: prints a table. Build target `csum_bench` (cmake/csum-bench.cmake).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wire/wire.h"

static uint16_t csum_bytes(const uint8_t *p, size_t n)
{
  uint32_t s = 0;
  for (size_t i = 0; i < n; i++) {
    s += (i % 2 == 0) ? (uint32_t)p[i] << 8 : p[i];
    s = (s & 0xffff) + (s >> 16);
  }
  return (uint16_t)~s;
}

static uint16_t csum_words(const uint8_t *p, size_t n)
{
  uint64_t s = 0;
  size_t i = 0;
  for (; i + 1 < n; i += 2)
    s += (uint32_t)(p[i] << 8 | p[i + 1]);
  if (i < n)
    s += (uint32_t)p[i] << 8;
  while (s >> 16)
    s = (s & 0xffff) + (s >> 16);
  return (uint16_t)~s;
}

static uint16_t csum_wire(const uint8_t *p, size_t n) { return us_csum_fold(us_csum_add(0, p, n)); }

static double now_s(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Bytes per second over at least `budget` seconds of repeated sums. */
static double rate(uint16_t (*fn)(const uint8_t *, size_t), const uint8_t *p, size_t n,
                   double budget, uint16_t *sink)
{
  size_t iters = 1;
  for (;;) {
    double t0 = now_s();
    uint16_t acc = 0;
    for (size_t i = 0; i < iters; i++)
      acc ^= fn(p, n);
    double dt = now_s() - t0;
    *sink ^= acc;
    if (dt >= budget)
      return (double)n * (double)iters / dt;
    iters *= 2;
  }
}

int main(int argc, char **argv)
{
  double budget = argc > 1 ? atof(argv[1]) : 0.1;
  static const size_t sizes[] = {20, 40, 64, 576, 1500, 9000, 65535};
  uint8_t *buf = malloc(65536 + 8);
  if (!buf)
    return 1;
  for (size_t i = 0; i < 65536 + 8; i++)
    buf[i] = (uint8_t)(i * 131 + 7);
  uint16_t sink = 0;
  printf("%-7s %-5s %12s %12s %12s %9s\n", "bytes", "align", "bytes MB/s", "words MB/s",
         "wire MB/s", "wire/byte");
  for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
    for (size_t off = 0; off < 2; off++) {
      const uint8_t *p = buf + off * 3; /* aligned and misaligned by 3 */
      size_t n = sizes[k];
      if (csum_wire(p, n) != csum_bytes(p, n) || csum_words(p, n) != csum_bytes(p, n)) {
        fprintf(stderr, "checksum mismatch at %zu bytes\n", n);
        return 1;
      }
      double rb = rate(csum_bytes, p, n, budget, &sink);
      double rw = rate(csum_words, p, n, budget, &sink);
      double rx = rate(csum_wire, p, n, budget, &sink);
      printf("%-7zu %-5zu %12.0f %12.0f %12.0f %8.1fx\n", n, off * 3, rb / 1e6, rw / 1e6, rx / 1e6,
             rx / rb);
    }
  }
  free(buf);
  printf("(sink %04x)\n", sink); /* keeps the sums live */
  return 0;
}
