/*
 * cli.h - the ustcp command line: one binary, one entry point per command.
 * Each command lives in its own file (cmd_<name>.c) and returns the process
 * exit status: 0 success, 1 the check/transfer failed, 2 usage error.
 */
#ifndef USTCP_CLI_H
#define USTCP_CLI_H

int cmd_sim(int argc, char **argv);   /* cmd_sim.c: ping, transfer, soak */
int cmd_lab(int argc, char **argv);   /* cmd_lab.c */
int cmd_drill(int argc, char **argv); /* cmd_drill.c */
int cmd_serve(int argc, char **argv); /* cmd_tun.c */
int cmd_get(int argc, char **argv);   /* cmd_tun.c */
int cmd_send(int argc, char **argv);  /* cmd_tun.c */
int cmd_recv(int argc, char **argv);  /* cmd_tun.c */
int cmd_bench(int argc, char **argv); /* cmd_bench.c */
int bench_tun(int argc, char **argv); /* bench_tun.c: `ustcp bench tun` (TUN vs veth) */

int sim_ping(int argc, char **argv);     /* sim_ping.c */
int sim_transfer(int argc, char **argv); /* sim_transfer.c */
int sim_soak(int argc, char **argv);     /* sim_soak.c */

#endif
