/*
 * test_core_stack_replay.c - replays the committed fuzz_stack corpus
 * (fuzz/corpus/fuzz_stack/: seeds and crash regressions, packets plus time
 * steps into a live stack) in every ordinary build, under ASan in
 * `make test-asan`. The target traps on a malformed segment from the stack
 * and ASan reports leaks at exit. cmake/fuzz.cmake links this test with the
 * whole library archive so the socket API the target references weakly is
 * present; the test checks that it is.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../fuzz/fuzz_stack.c"
#include "harness/test.h"

static char corpus[1024];

static void replay(void)
{
  snprintf(corpus, sizeof corpus, "%s", __FILE__);
  char *cut = strstr(corpus, "tests/unit/");
  T_CHECK(cut != NULL);
  if (!cut)
    return;
  snprintf(cut, sizeof corpus - (size_t)(cut - corpus), "fuzz/corpus/fuzz_stack");
  /* The socket layer is in the library: the replay must exercise it. */
  T_CHECK(ustcp_socket != NULL && ustcp_accept != NULL && ustcp_setsockopt != NULL);
  DIR *d = opendir(corpus);
  T_CHECK(d != NULL);
  if (!d)
    return;
  int files = 0, total_outputs = 0;
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
    uint8_t *copy = malloc(n ? n : 1);
    T_CHECK(copy != NULL);
    if (!copy)
      continue;
    memcpy(copy, buf, n);
    T_EQ(LLVMFuzzerTestOneInput(copy, n), 0);
    total_outputs += F.outputs;
    free(copy);
    files++;
  }
  closedir(d);
  printf("replayed %d inputs, the stack sent %d datagrams\n", files, total_outputs);
  T_CHECK(files >= 5);
  T_CHECK(total_outputs > 0); /* the seeds reach the stack and draw answers */
}

int main(void)
{
  T_RUN(replay);
  return T_DONE();
}
