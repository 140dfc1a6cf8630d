/*
 * cmd_sim.c - `ustcp sim <ping|transfer|soak>`.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

int cmd_sim(int argc, char **argv)
{
  if (argc < 2) {
    fprintf(stderr, "usage: ustcp sim <ping|transfer|soak> [options]\n");
    return 2;
  }
  if (!strcmp(argv[1], "ping"))
    return sim_ping(argc - 1, argv + 1);
  if (!strcmp(argv[1], "transfer"))
    return sim_transfer(argc - 1, argv + 1);
  if (!strcmp(argv[1], "soak"))
    return sim_soak(argc - 1, argv + 1);
  fprintf(stderr, "ustcp sim: unknown subcommand '%s'\n", argv[1]);
  return 2;
}
