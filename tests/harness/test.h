/*
 * test.h - the minimal assertion harness every C test uses. A test program
 * runs its cases with T_RUN and exits non-zero if any check failed.
 */
#ifndef USTCP_TEST_H
#define USTCP_TEST_H

#include <stdio.h>
#include <string.h>

static int t_failures;
static int t_checks;

#define T_CHECK(cond)                                                                              \
  do {                                                                                             \
    t_checks++;                                                                                    \
    if (!(cond)) {                                                                                 \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);                     \
      t_failures++;                                                                                \
    }                                                                                              \
  } while (0)

#define T_EQ(a, b)                                                                                 \
  do {                                                                                             \
    long long t_a_ = (long long)(a), t_b_ = (long long)(b);                                        \
    t_checks++;                                                                                    \
    if (t_a_ != t_b_) {                                                                            \
      fprintf(stderr, "%s:%d: %s == %s failed: %lld != %lld\n", __FILE__, __LINE__, #a, #b, t_a_,  \
              t_b_);                                                                               \
      t_failures++;                                                                                \
    }                                                                                              \
  } while (0)

#define T_STREQ(a, b)                                                                              \
  do {                                                                                             \
    const char *t_a_ = (a), *t_b_ = (b);                                                           \
    t_checks++;                                                                                    \
    if (strcmp(t_a_, t_b_) != 0) {                                                                 \
      fprintf(stderr, "%s:%d: %s == %s failed: \"%s\" != \"%s\"\n", __FILE__, __LINE__, #a, #b,    \
              t_a_, t_b_);                                                                         \
      t_failures++;                                                                                \
    }                                                                                              \
  } while (0)

#define T_RUN(fn)                                                                                  \
  do {                                                                                             \
    int t_before_ = t_failures;                                                                    \
    fn();                                                                                          \
    printf("%s %s\n", t_failures == t_before_ ? "ok  " : "FAIL", #fn);                             \
  } while (0)

#define T_DONE() (printf("%d checks, %d failed\n", t_checks, t_failures), t_failures ? 1 : 0)

#endif
