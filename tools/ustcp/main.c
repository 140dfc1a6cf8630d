/*
 * main.c - `ustcp <command> …`: dispatch to the command's entry point.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const struct {
  const char *name;
  int (*fn)(int argc, char **argv);
  const char *help;
} commands[] = {
    {"lab", cmd_lab, "run the seed's socket behaviours as scenarios (list | run NAME|all)"},
    {"sim", cmd_sim, "simulated network: ping, transfer, soak"},
    {"drill", cmd_drill, "run packetdrill scripts against ustcp or the Linux kernel"},
    {"serve", cmd_serve, "serve echo/discard/chargen/http on a TUN device"},
    {"get", cmd_get, "HTTP/1.1 GET over a TUN device"},
    {"send", cmd_send, "send a byte stream over a TUN device"},
    {"recv", cmd_recv, "receive a byte stream over a TUN device"},
    {"bench", cmd_bench, "benchmarks beside the Linux kernel"},
};

static void usage(FILE *f)
{
  fprintf(f, "usage: ustcp <command> [args]\n\ncommands:\n");
  for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
    fprintf(f, "  %-6s %s\n", commands[i].name, commands[i].help);
}

int main(int argc, char **argv)
{
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
    usage(stdout);
    return 0;
  }
  for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
    if (!strcmp(argv[1], commands[i].name))
      return commands[i].fn(argc - 1, argv + 1);
  fprintf(stderr, "ustcp: unknown command '%s'\n", argv[1]);
  usage(stderr);
  return 2;
}
