/* cmd_lab.c - `ustcp lab` (being built; see the project issues). */
#include <stdio.h>

#include "cli.h"

int cmd_lab(int argc, char **argv)
{
  (void)argc;
  (void)argv;
  fprintf(stderr, "ustcp lab: not built yet\n");
  return 2;
}
