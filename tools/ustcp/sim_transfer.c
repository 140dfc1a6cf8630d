/* sim_transfer.c - `ustcp sim transfer` (being built; see the project issues). */
#include <stdio.h>

#include "cli.h"

int sim_transfer(int argc, char **argv)
{
  (void)argc;
  (void)argv;
  fprintf(stderr, "ustcp sim transfer: not built yet\n");
  return 2;
}
