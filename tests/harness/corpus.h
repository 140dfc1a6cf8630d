/*
 * corpus.h - replays a committed fuzz corpus (fuzz/corpus/<name>/: seeds
 * and crash regressions) through a fuzz target's entry point in an
 * ordinary test build, so a regression shows up in `make test` without
 * clang or libFuzzer. Each input is passed as an exact-size heap copy, so
 * ASan sees any read past its end.
 */
#ifndef USTCP_TEST_CORPUS_H
#define USTCP_TEST_CORPUS_H

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/test.h"

/* Runs every file of fuzz/corpus/<name> through `one` (which must return
 * 0), calling `after` (may be NULL) after each; returns the file count. */
static inline int t_replay_corpus(const char *name, int (*one)(const uint8_t *, size_t),
                                  void (*after)(void))
{
  /* This header is tests/harness/corpus.h in the source tree. */
  char dir[1024];
  snprintf(dir, sizeof dir, "%s", __FILE__);
  char *cut = strstr(dir, "tests/harness/");
  T_CHECK(cut != NULL);
  if (!cut)
    return 0;
  snprintf(cut, sizeof dir - (size_t)(cut - dir), "fuzz/corpus/%s", name);
  DIR *d = opendir(dir);
  T_CHECK(d != NULL);
  if (!d) {
    fprintf(stderr, "cannot open %s\n", dir);
    return 0;
  }
  int files = 0;
  struct dirent *e;
  static uint8_t buf[1 << 16];
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.')
      continue;
    char path[2048];
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    FILE *f = fopen(path, "rb");
    T_CHECK(f != NULL);
    if (!f)
      continue;
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    uint8_t *copy = malloc(n ? n : 1);
    T_CHECK(copy != NULL);
    if (!copy)
      continue;
    memcpy(copy, buf, n);
    T_EQ(one(copy, n), 0);
    free(copy);
    if (after)
      after();
    files++;
  }
  closedir(d);
  printf("replayed %d inputs from fuzz/corpus/%s\n", files, name);
  return files;
}

#endif
