/*
 * test_wire_fuzz_replay.c - replays the committed fuzz_wire corpus
 * (fuzz/corpus/fuzz_wire/, seeds and crash regressions) through the fuzz
 * target's checks in every ordinary build, so a regression shows up in
 * `make test` without clang or libFuzzer. The target's own checks trap on
 * failure; this program also checks that the corpus is there and non-empty
 * (tests/harness/corpus.h walks it).
 */
#include "../../fuzz/fuzz_wire.c"
#include "harness/corpus.h"
#include "harness/test.h"

static void replay(void)
{
  T_CHECK(t_replay_corpus("fuzz_wire", LLVMFuzzerTestOneInput, NULL) >= 5);
}

int main(void)
{
  T_RUN(replay);
  return T_DONE();
}
