/*
 * test_wire_fuzz_replay.c - replays the committed fuzz_wire corpus
 * (fuzz/corpus/fuzz_wire/, seeds and crash regressions) through the fuzz
 * target's checks in every ordinary build, so a regression shows up in
 * `make test` without clang or libFuzzer. The target's own checks trap on
 * failure; this program also checks that the corpus is there and non-empty.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../fuzz/fuzz_wire.c"
#include "harness/test.h"

static char corpus[1024];

static void locate_corpus(void)
{
  /* This file is tests/unit/<name>.c in the source tree. */
  snprintf(corpus, sizeof corpus, "%s", __FILE__);
  char *cut = strstr(corpus, "tests/unit/");
  T_CHECK(cut != NULL);
  if (cut)
    snprintf(cut, sizeof corpus - (size_t)(cut - corpus), "fuzz/corpus/fuzz_wire");
}

static void replay(void)
{
  DIR *d = opendir(corpus);
  T_CHECK(d != NULL);
  if (!d) {
    fprintf(stderr, "cannot open %s\n", corpus);
    return;
  }
  int files = 0;
  struct dirent *e;
  static uint8_t buf[1 << 16];
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.')
      continue;
    char path[2048];
    snprintf(path, sizeof path, "%s/%s", corpus, e->d_name);
    FILE *f = fopen(path, "rb");
    T_CHECK(f != NULL);
    if (!f)
      continue;
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    /* An exact-size heap copy, so ASan sees any read past the input. */
    uint8_t *copy = malloc(n ? n : 1);
    T_CHECK(copy != NULL);
    if (!copy)
      continue;
    memcpy(copy, buf, n);
    T_EQ(LLVMFuzzerTestOneInput(copy, n), 0);
    free(copy);
    files++;
  }
  closedir(d);
  printf("replayed %d inputs from %s\n", files, corpus);
  T_CHECK(files >= 5);
}

int main(void)
{
  locate_corpus();
  T_RUN(replay);
  return T_DONE();
}
