/* cmd_tun.c - `ustcp serve|get|send|recv` on a TUN device (being built). */
#include <stdio.h>

#include "cli.h"

static int not_yet(const char *what)
{
  fprintf(stderr, "ustcp %s: not built yet\n", what);
  return 2;
}
int cmd_serve(int argc, char **argv)
{
  (void)argc;
  (void)argv;
  return not_yet("serve");
}
int cmd_get(int argc, char **argv)
{
  (void)argc;
  (void)argv;
  return not_yet("get");
}
int cmd_send(int argc, char **argv)
{
  (void)argc;
  (void)argv;
  return not_yet("send");
}
int cmd_recv(int argc, char **argv)
{
  (void)argc;
  (void)argv;
  return not_yet("recv");
}
