/* sim_ping.c - `ustcp sim ping` (being built; see the project issues). */
#include <stdio.h>

#include "cli.h"

int sim_ping(int argc, char **argv)
{
  (void)argc;
  (void)argv;
  fprintf(stderr, "ustcp sim ping: not built yet\n");
  return 2;
}
