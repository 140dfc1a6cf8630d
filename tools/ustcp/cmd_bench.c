/* cmd_bench.c - `ustcp bench` (being built; see the project issues). */
#include <stdio.h>

#include "cli.h"

int cmd_bench(int argc, char **argv)
{
  (void)argc;
  (void)argv;
  fprintf(stderr, "ustcp bench: not built yet\n");
  return 2;
}
