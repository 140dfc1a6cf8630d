/*
 * cmd_lab.c - `ustcp lab`: list the seed scenarios, run one (timeline on
 * stdout, optional pcap/SVG/JSON) or all of them (one summary line each,
 * files under --out DIR). Exit 0 iff every scenario run showed its
 * behaviour.
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "lab.h"

static void usage(FILE *f)
{
  fprintf(f, "usage: ustcp lab list\n"
             "       ustcp lab run NAME [--pcap FILE] [--svg FILE] [--json]\n"
             "       ustcp lab run all [--out DIR] [--json]\n"
             "Each scenario prints its timeline and ends with what SPEC says must happen and\n"
             "whether it did; the exit status is 0 only if it did.\n");
}

static const struct lab_scenario *find(const char *name)
{
  for (size_t i = 0; i < lab_nscenarios; i++)
    if (!strcmp(lab_scenarios[i].name, name))
      return &lab_scenarios[i];
  return NULL;
}

/* Run one scenario; returns 1 if it passed, 0 if not, -1 on a setup error. */
static int run_one(const struct lab_scenario *sc, const char *pcap, const char *svg,
                   const char *txt, bool json, bool summary, char *line, size_t linelen)
{
  struct lab_run r;
  if (lab_execute(&r, sc, pcap) != 0) {
    fprintf(stderr, "ustcp lab: %s: could not build the world\n", sc->name);
    lab_free(&r);
    return -1;
  }
  if (txt) {
    FILE *f = fopen(txt, "w");
    if (!f) {
      perror(txt);
      lab_free(&r);
      return -1;
    }
    lab_print_text(&r, f);
    fclose(f);
  }
  if (json)
    lab_print_json(&r, stdout);
  else if (!summary)
    lab_print_text(&r, stdout);
  if (svg && lab_write_svg(&r, svg) != 0) {
    perror(svg);
    lab_free(&r);
    return -1;
  }
  if (summary && !json)
    lab_print_summary(&r, stdout);
  if (line)
    snprintf(line, linelen, "%-4s %-24s %s", r.ok ? "PASS" : "FAIL", sc->name, r.why);
  int ok = r.ok;
  lab_free(&r);
  /* Flush now: under LeakSanitizer the process may end with _exit(). */
  fflush(stdout);
  return ok;
}

static int cmd_run(int argc, char **argv)
{
  const char *name = NULL, *pcap = NULL, *svg = NULL, *out = NULL;
  bool json = false;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--pcap") && i + 1 < argc)
      pcap = argv[++i];
    else if (!strcmp(argv[i], "--svg") && i + 1 < argc)
      svg = argv[++i];
    else if (!strcmp(argv[i], "--out") && i + 1 < argc)
      out = argv[++i];
    else if (!strcmp(argv[i], "--json"))
      json = true;
    else if (argv[i][0] != '-' && !name)
      name = argv[i];
    else {
      usage(stderr);
      return 2;
    }
  }
  if (!name) {
    usage(stderr);
    return 2;
  }
  if (strcmp(name, "all") != 0) {
    const struct lab_scenario *sc = find(name);
    if (!sc || out) {
      if (!sc)
        fprintf(stderr, "ustcp lab: no scenario '%s' (see `ustcp lab list`)\n", name);
      else
        usage(stderr);
      return 2;
    }
    int rc = run_one(sc, pcap, svg, NULL, json, false, NULL, 0);
    return rc == 1 ? 0 : 1;
  }
  if (pcap || svg) {
    fprintf(stderr, "ustcp lab: with 'all' use --out DIR for pcaps and SVGs\n");
    return 2;
  }
  if (out && mkdir(out, 0777) != 0) {
    struct stat st;
    if (stat(out, &st) != 0 || !S_ISDIR(st.st_mode)) {
      perror(out);
      return 2;
    }
  }
  int passed = 0, failed = 0;
  char lines[64][1200];
  if (json)
    printf("[\n");
  for (size_t i = 0; i < lab_nscenarios && i < 64; i++) {
    const struct lab_scenario *sc = &lab_scenarios[i];
    char p[4096], s[4096], t[4096];
    if (out) {
      snprintf(p, sizeof(p), "%s/%s.pcap", out, sc->name);
      snprintf(s, sizeof(s), "%s/%s.svg", out, sc->name);
      snprintf(t, sizeof(t), "%s/%s.txt", out, sc->name);
    }
    if (json && i)
      printf(",\n");
    snprintf(lines[i], sizeof(lines[i]), "FAIL %-24s could not run", sc->name);
    int rc = run_one(sc, out ? p : NULL, out ? s : NULL, out ? t : NULL, json, out != NULL,
                     lines[i], sizeof(lines[i]));
    if (!out && !json)
      printf("\n");
    if (rc == 1)
      passed++;
    else
      failed++;
  }
  if (json)
    printf("]\n");
  /* Without --out the timelines came first: the summary follows them. */
  for (size_t i = 0; !out && !json && i < lab_nscenarios && i < 64; i++)
    printf("%s\n", lines[i]);
  if (!json)
    printf("%d passed, %d failed%s%s\n", passed, failed, out ? "; files in " : "", out ? out : "");
  fflush(stdout);
  return failed ? 1 : 0;
}

int cmd_lab(int argc, char **argv)
{
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  if (!strcmp(argv[1], "list")) {
    for (size_t i = 0; i < lab_nscenarios; i++)
      printf("%-24s %s\n", lab_scenarios[i].name, lab_scenarios[i].title);
    return 0;
  }
  if (!strcmp(argv[1], "run"))
    return cmd_run(argc - 1, argv + 1);
  if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
    usage(stdout);
    return 0;
  }
  usage(stderr);
  return 2;
}
