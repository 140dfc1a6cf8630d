/* cmd_drill.c - `ustcp drill` (being built; see the project issues). */
#include <stdio.h>

#include "cli.h"

int cmd_drill(int argc, char **argv)
{
  (void)argc;
  (void)argv;
  fprintf(stderr, "ustcp drill: not built yet\n");
  return 2;
}
