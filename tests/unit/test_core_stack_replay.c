/*
 * test_core_stack_replay.c - replays the committed fuzz_stack corpus
 * (fuzz/corpus/fuzz_stack/: seeds and crash regressions, packets plus time
 * steps into a live stack) in every ordinary build, under ASan in
 * `make test-asan`. The target traps on a malformed segment from the stack
 * and ASan reports leaks at exit. cmake/fuzz.cmake links this test with the
 * whole library archive so the socket API the target references weakly is
 * present; the test checks that it is.
 */
#include "../../fuzz/fuzz_stack.c"
#include "harness/corpus.h"
#include "harness/test.h"

static int total_outputs;

static void count_outputs(void) { total_outputs += F.outputs; }

static void replay(void)
{
  /* The socket layer is in the library: the replay must exercise it. */
  T_CHECK(ustcp_socket != NULL && ustcp_accept != NULL && ustcp_setsockopt != NULL);
  int files = t_replay_corpus("fuzz_stack", LLVMFuzzerTestOneInput, count_outputs);
  printf("the stack sent %d datagrams\n", total_outputs);
  T_CHECK(files >= 5);
  T_CHECK(total_outputs > 0); /* the seeds reach the stack and draw answers */
}

int main(void)
{
  T_RUN(replay);
  return T_DONE();
}
