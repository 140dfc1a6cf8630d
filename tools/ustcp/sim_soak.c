/* sim_soak.c - `ustcp sim soak` (being built; see the project issues). */
#include <stdio.h>

#include "cli.h"

int sim_soak(int argc, char **argv)
{
  (void)argc;
  (void)argv;
  fprintf(stderr, "ustcp sim soak: not built yet\n");
  return 2;
}
