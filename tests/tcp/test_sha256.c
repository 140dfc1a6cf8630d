/*
 * test_sha256.c - the CLI's SHA-256 (tools/ustcp/sha256.c): FIPS 180-4
 * test vectors, and the x86 SHA-extension path equal to the portable one
 * for every split of the input.
 */
#include "../../tools/ustcp/sha256.c"
#include "harness/test.h"

static void hex_of(struct sha256 *c, char out[65])
{
  uint8_t d[32];
  sha256_final(c, d);
  sha256_hex(d, out);
}

static void vectors(void)
{
  struct sha256 c;
  char h[65];
  sha256_init(&c);
  hex_of(&c, h);
  T_STREQ(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  sha256_init(&c);
  sha256_update(&c, "abc", 3);
  hex_of(&c, h);
  T_STREQ(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  sha256_init(&c);
  const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  sha256_update(&c, m, strlen(m));
  hex_of(&c, h);
  T_STREQ(h, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  sha256_init(&c);
  static char a[1000];
  memset(a, 'a', sizeof(a));
  for (int i = 0; i < 1000; i++)
    sha256_update(&c, a, sizeof(a));
  hex_of(&c, h);
  T_STREQ(h, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

static void paths_agree(void)
{
  static uint8_t buf[100000];
  for (size_t i = 0; i < sizeof(buf); i++)
    buf[i] = (uint8_t)(i * 7 + (i >> 8));
  char ref[65] = "", h[65];
  for (int mode = 0; mode < 2; mode++) {
    for (size_t step = 1; step < 300; step += 37) {
      struct sha256 c;
      sha256_init(&c);
      if (mode == 0)
        c.shani = 0;
      for (size_t off = 0; off < sizeof(buf); off += step)
        sha256_update(&c, buf + off, off + step <= sizeof(buf) ? step : sizeof(buf) - off);
      hex_of(&c, h);
      if (!ref[0])
        memcpy(ref, h, sizeof(h));
      T_STREQ(h, ref);
    }
  }
}

int main(void)
{
  T_RUN(vectors);
  T_RUN(paths_agree);
  return T_DONE();
}
