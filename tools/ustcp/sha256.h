/*
 * sha256.h - SHA-256 (FIPS 180-4) for the CLI: digests of transferred
 * streams. Incremental: init, update any number of times, final.
 */
#ifndef USTCP_SHA256_H
#define USTCP_SHA256_H

#include <stddef.h>
#include <stdint.h>

struct sha256 {
  uint32_t h[8];
  uint64_t bytes;
  uint8_t buf[64];
  size_t fill;
  int shani; /* 1: use the x86 SHA extensions (set by sha256_init) */
};

void sha256_init(struct sha256 *c);
void sha256_update(struct sha256 *c, const void *data, size_t len);
void sha256_final(struct sha256 *c, uint8_t out[32]);
/* Hex of a digest into out (65 bytes). */
void sha256_hex(const uint8_t d[32], char out[65]);

#endif
