/*
 * lexer.c - the drill script scanner (see lexer.h) and the table of
 * symbolic constants scripts may name (Linux's values, taken from the
 * system headers at build time).
 */
#define _GNU_SOURCE
#include "lexer.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "drill.h"

void dr_lex_init(struct dr_lex *lx, const char *text)
{
  memset(lx, 0, sizeof(*lx));
  lx->s = text;
  lx->line = 1;
  lx->col = 1;
}

char dr_lex_peek(const struct dr_lex *lx) { return lx->s[lx->pos]; }

char dr_lex_peek_at(const struct dr_lex *lx, size_t off)
{
  for (size_t i = 0; i < off; i++)
    if (!lx->s[lx->pos + i])
      return 0;
  return lx->s[lx->pos + off];
}

void dr_lex_advance(struct dr_lex *lx, size_t n)
{
  while (n-- && lx->s[lx->pos]) {
    if (lx->s[lx->pos] == '\n') {
      lx->line++;
      lx->col = 1;
    } else {
      lx->col++;
    }
    lx->pos++;
  }
}

bool dr_lex_error(struct dr_lex *lx, const char *fmt, ...)
{
  if (lx->failed)
    return false;
  char msg[200];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  snprintf(lx->err, sizeof(lx->err), "%d:%d: %s", lx->line, lx->col, msg);
  lx->failed = true;
  return false;
}

bool dr_lex_skip(struct dr_lex *lx, bool newlines)
{
  for (;;) {
    char c = dr_lex_peek(lx);
    if (c == ' ' || c == '\t' || c == '\r' || (newlines && c == '\n')) {
      dr_lex_advance(lx, 1);
    } else if (c == '/' && dr_lex_peek_at(lx, 1) == '/') {
      while (dr_lex_peek(lx) && dr_lex_peek(lx) != '\n')
        dr_lex_advance(lx, 1);
    } else if (c == '/' && dr_lex_peek_at(lx, 1) == '*') {
      int line = lx->line, col = lx->col;
      dr_lex_advance(lx, 2);
      while (dr_lex_peek(lx) && !(dr_lex_peek(lx) == '*' && dr_lex_peek_at(lx, 1) == '/'))
        dr_lex_advance(lx, 1);
      if (!dr_lex_peek(lx)) {
        lx->line = line;
        lx->col = col;
        return dr_lex_error(lx, "unterminated /* comment");
      }
      dr_lex_advance(lx, 2);
    } else {
      return true;
    }
  }
}

bool dr_lex_accept(struct dr_lex *lx, const char *lit)
{
  size_t n = strlen(lit);
  if (strncmp(lx->s + lx->pos, lit, n) != 0)
    return false;
  dr_lex_advance(lx, n);
  return true;
}

bool dr_lex_at_eol(struct dr_lex *lx)
{
  if (!dr_lex_skip(lx, false))
    return false;
  char c = dr_lex_peek(lx);
  return c == 0 || c == '\n';
}

bool dr_lex_ident(struct dr_lex *lx, char *out, size_t cap)
{
  char c = dr_lex_peek(lx);
  if (!(isalpha((unsigned char)c) || c == '_'))
    return false;
  size_t n = 0;
  while ((c = dr_lex_peek(lx)) && (isalnum((unsigned char)c) || c == '_')) {
    if (n + 1 < cap)
      out[n++] = c;
    dr_lex_advance(lx, 1);
  }
  out[n] = 0;
  return true;
}

bool dr_lex_int(struct dr_lex *lx, int64_t *out)
{
  bool neg = false;
  size_t save = lx->pos;
  int sl = lx->line, sc = lx->col;
  if (dr_lex_peek(lx) == '-') {
    neg = true;
    dr_lex_advance(lx, 1);
  }
  if (!isdigit((unsigned char)dr_lex_peek(lx))) {
    lx->pos = save;
    lx->line = sl;
    lx->col = sc;
    return false;
  }
  uint64_t v = 0;
  if (dr_lex_peek(lx) == '0' && (dr_lex_peek_at(lx, 1) == 'x' || dr_lex_peek_at(lx, 1) == 'X')) {
    dr_lex_advance(lx, 2);
    if (!isxdigit((unsigned char)dr_lex_peek(lx)))
      return dr_lex_error(lx, "bad hex number");
    while (isxdigit((unsigned char)dr_lex_peek(lx))) {
      char c = dr_lex_peek(lx);
      v = v * 16 + (uint64_t)(isdigit((unsigned char)c) ? c - '0' : (tolower(c) - 'a' + 10));
      dr_lex_advance(lx, 1);
    }
  } else {
    while (isdigit((unsigned char)dr_lex_peek(lx))) {
      v = v * 10 + (uint64_t)(dr_lex_peek(lx) - '0');
      if (v > (1ull << 62))
        return dr_lex_error(lx, "number too large");
      dr_lex_advance(lx, 1);
    }
  }
  *out = neg ? -(int64_t)v : (int64_t)v;
  return true;
}

bool dr_lex_seconds(struct dr_lex *lx, int64_t *us)
{
  char c = dr_lex_peek(lx);
  if (!isdigit((unsigned char)c) && !(c == '.' && isdigit((unsigned char)dr_lex_peek_at(lx, 1))))
    return false;
  int64_t whole = 0, frac = 0, scale = 1000000;
  while (isdigit((unsigned char)dr_lex_peek(lx))) {
    whole = whole * 10 + (dr_lex_peek(lx) - '0');
    if (whole > 100000000)
      return dr_lex_error(lx, "time too large");
    dr_lex_advance(lx, 1);
  }
  /* "..." after a time is the blocking marker, not a fraction */
  if (dr_lex_peek(lx) == '.' && dr_lex_peek_at(lx, 1) != '.') {
    dr_lex_advance(lx, 1);
    while (isdigit((unsigned char)dr_lex_peek(lx))) {
      scale /= 10;
      frac += (dr_lex_peek(lx) - '0') * scale;
      if (scale == 0)
        return dr_lex_error(lx, "time has more than 6 decimals");
      dr_lex_advance(lx, 1);
    }
  }
  *us = whole * 1000000 + frac;
  return true;
}

/* ------------------------------------------------------------- symbols */

#ifndef TCP_USER_TIMEOUT
#define TCP_USER_TIMEOUT 18
#endif
#ifndef SIOCOUTQ
#define SIOCOUTQ TIOCOUTQ
#endif
#ifndef SIOCINQ
#define SIOCINQ FIONREAD
#endif

#define S(x)                                                                                       \
  {                                                                                                \
#x, (int64_t)(x)                                                                               \
  }
static const struct {
  const char *name;
  int64_t v;
} symbols[] = {
    S(AF_INET),
    S(AF_INET6),
    S(AF_UNSPEC),
    S(PF_INET),
    S(SOCK_STREAM),
    S(SOCK_DGRAM),
    S(SOCK_NONBLOCK),
    S(SOCK_CLOEXEC),
    S(IPPROTO_TCP),
    S(IPPROTO_UDP),
    S(IPPROTO_IP),
    S(SOL_SOCKET),
    S(SOL_TCP),
    S(SOL_IP),
    S(SO_REUSEADDR),
    S(SO_REUSEPORT),
    S(SO_KEEPALIVE),
    S(SO_LINGER),
    S(SO_ERROR),
    S(SO_RCVBUF),
    S(SO_SNDBUF),
    S(SO_RCVTIMEO),
    S(SO_SNDTIMEO),
    S(SO_TYPE),
    S(SO_ACCEPTCONN),
    S(SO_RCVLOWAT),
    S(SO_SNDLOWAT),
    S(TCP_NODELAY),
    S(TCP_MAXSEG),
    S(TCP_CORK),
    S(TCP_KEEPIDLE),
    S(TCP_KEEPINTVL),
    S(TCP_KEEPCNT),
    S(TCP_SYNCNT),
    S(TCP_LINGER2),
    S(TCP_DEFER_ACCEPT),
    S(TCP_WINDOW_CLAMP),
    S(TCP_INFO),
    S(TCP_QUICKACK),
    S(TCP_USER_TIMEOUT),
    S(TCP_CONGESTION),
    S(SHUT_RD),
    S(SHUT_WR),
    S(SHUT_RDWR),
    S(F_GETFL),
    S(F_SETFL),
    S(F_GETFD),
    S(F_SETFD),
    S(O_RDWR),
    S(O_RDONLY),
    S(O_WRONLY),
    S(O_NONBLOCK),
    S(FD_CLOEXEC),
    S(FIONREAD),
    S(FIONBIO),
    S(SIOCINQ),
    S(SIOCOUTQ),
    S(POLLIN),
    S(POLLOUT),
    S(POLLPRI),
    S(POLLERR),
    S(POLLHUP),
    S(POLLNVAL),
    S(POLLRDNORM),
    S(POLLWRNORM),
    S(POLLRDHUP),
    S(MSG_PEEK),
    S(MSG_DONTWAIT),
    S(MSG_WAITALL),
    S(MSG_NOSIGNAL),
    S(MSG_MORE),
    S(MSG_OOB),
    S(MSG_TRUNC),
    S(MSG_EOR),
    S(INADDR_ANY),
    /* errno values */
    S(EPERM),
    S(ENOENT),
    S(EINTR),
    S(EIO),
    S(EBADF),
    S(EAGAIN),
    S(EWOULDBLOCK),
    S(ENOMEM),
    S(EACCES),
    S(EFAULT),
    S(EBUSY),
    S(EEXIST),
    S(EINVAL),
    S(ENFILE),
    S(EMFILE),
    S(ENOSPC),
    S(EPIPE),
    S(ERANGE),
    S(EDEADLK),
    S(ENOSYS),
    S(ENOTSOCK),
    S(EDESTADDRREQ),
    S(EMSGSIZE),
    S(EPROTOTYPE),
    S(ENOPROTOOPT),
    S(EPROTONOSUPPORT),
    S(EOPNOTSUPP),
    S(EAFNOSUPPORT),
    S(EADDRINUSE),
    S(EADDRNOTAVAIL),
    S(ENETDOWN),
    S(ENETUNREACH),
    S(ECONNABORTED),
    S(ECONNRESET),
    S(ENOBUFS),
    S(EISCONN),
    S(ENOTCONN),
    S(ETIMEDOUT),
    S(ECONNREFUSED),
    S(EHOSTUNREACH),
    S(EALREADY),
    S(EINPROGRESS),
    S(ENOTSUP),
};
#undef S

bool dr_symbol(const char *name, int64_t *out)
{
  for (size_t i = 0; i < sizeof(symbols) / sizeof(symbols[0]); i++)
    if (!strcmp(symbols[i].name, name)) {
      *out = symbols[i].v;
      return true;
    }
  return false;
}

const char *dr_errno_name(int err)
{
  /* errno names start after the socket constants; prefer the canonical
   * spelling (EAGAIN over EWOULDBLOCK, EOPNOTSUPP over ENOTSUP). */
  static const char *const prefer[] = {"EAGAIN", "EOPNOTSUPP"};
  for (size_t i = 0; i < sizeof(prefer) / sizeof(prefer[0]); i++) {
    int64_t v;
    if (dr_symbol(prefer[i], &v) && v == err)
      return prefer[i];
  }
  bool in_errno = false;
  for (size_t i = 0; i < sizeof(symbols) / sizeof(symbols[0]); i++) {
    if (!strcmp(symbols[i].name, "EPERM"))
      in_errno = true;
    if (in_errno && symbols[i].v == err)
      return symbols[i].name;
  }
  return "E?";
}
