/*
 * lexer.h - character-level scanner for drill scripts: a cursor over the
 * script text that tracks line and column, skips blanks and comments, and
 * reads numbers, times, identifiers and raw blocks for the parser.
 */
#ifndef USTCP_DRILL_LEXER_H
#define USTCP_DRILL_LEXER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct dr_lex {
  const char *s;
  size_t pos;
  int line, col;
  char err[256];
  bool failed;
};

void dr_lex_init(struct dr_lex *lx, const char *text);
/* Skip blanks and comments; with `newlines` also line ends. Returns false
 * (and sets the error) on an unterminated comment. */
bool dr_lex_skip(struct dr_lex *lx, bool newlines);
/* Current character, or 0 at the end. */
char dr_lex_peek(const struct dr_lex *lx);
char dr_lex_peek_at(const struct dr_lex *lx, size_t off);
void dr_lex_advance(struct dr_lex *lx, size_t n);
/* Consume `lit` if the text continues with it. */
bool dr_lex_accept(struct dr_lex *lx, const char *lit);
/* True at a line end, end of text or a comment that runs to the end. */
bool dr_lex_at_eol(struct dr_lex *lx);
/* An identifier [A-Za-z_][A-Za-z0-9_]*; false if none. */
bool dr_lex_ident(struct dr_lex *lx, char *out, size_t cap);
/* An integer: decimal, 0x hex, optional leading '-'. */
bool dr_lex_int(struct dr_lex *lx, int64_t *out);
/* Seconds with an optional fraction ("0", "1.5", ".100") as microseconds. */
bool dr_lex_seconds(struct dr_lex *lx, int64_t *us);
/* Record an error at the current position ("LINE:COL: msg"); returns false. */
bool dr_lex_error(struct dr_lex *lx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
