/*
 * http.c - HTTP/1.1 request/response head parsing and safe file mapping for
 * `ustcp serve --http` and `ustcp get` (see http.h). RFC 9112 message
 * syntax, kept to what a static file server and a simple client need.
 */
#define _GNU_SOURCE
#include "http.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Find the blank line that ends a head: returns its end offset or 0. */
static size_t head_end(const char *buf, size_t len)
{
  for (size_t i = 0; i + 3 < len; i++)
    if (buf[i] == '\r' && buf[i + 1] == '\n' && buf[i + 2] == '\r' && buf[i + 3] == '\n')
      return i + 4;
  return 0;
}

/* RFC 9110 5.6.2: tchar. */
static bool is_tchar(int c) { return isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c) != NULL); }

/* Does a comma-separated header value contain `token` (case-insensitive)? */
static bool has_token(const char *v, size_t n, const char *token)
{
  size_t tl = strlen(token);
  size_t i = 0;
  while (i < n) {
    while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
      i++;
    size_t s = i;
    while (i < n && v[i] != ',')
      i++;
    size_t e = i;
    while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
      e--;
    if (e - s == tl && !strncasecmp(v + s, token, tl))
      return true;
  }
  return false;
}

static int parse_len(const char *v, size_t n, int64_t *out)
{
  int64_t x = 0;
  size_t i = 0;
  while (i < n && (v[i] == ' ' || v[i] == '\t'))
    i++;
  size_t digits = 0;
  for (; i < n && isdigit((unsigned char)v[i]); i++, digits++) {
    if (x > (INT64_MAX - 9) / 10)
      return -1;
    x = x * 10 + (v[i] - '0');
  }
  while (i < n && (v[i] == ' ' || v[i] == '\t'))
    i++;
  if (!digits || i != n)
    return -1;
  *out = x;
  return 0;
}

/* Walk header lines between `p` and `end` (each ending in CRLF); call fn on
 * each name/value. Returns -1 on a malformed line. */
typedef int (*hdr_fn)(void *u, const char *name, size_t nl, const char *val, size_t vl);
static int walk_headers(const char *p, const char *end, hdr_fn fn, void *u)
{
  while (p < end) {
    const char *eol = memmem(p, (size_t)(end - p), "\r\n", 2);
    if (!eol)
      return -1;
    if (eol == p)
      return 0; /* the blank line */
    const char *colon = memchr(p, ':', (size_t)(eol - p));
    if (!colon || colon == p)
      return -1;
    for (const char *c = p; c < colon; c++)
      if (!is_tchar((unsigned char)*c))
        return -1; /* includes whitespace before the colon (RFC 9112 5.1) */
    const char *v = colon + 1;
    while (v < eol && (*v == ' ' || *v == '\t'))
      v++;
    const char *ve = eol;
    while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
      ve--;
    for (const char *c = v; c < ve; c++)
      if ((unsigned char)*c < 0x20 && *c != '\t')
        return -1;
    if (fn(u, p, (size_t)(colon - p), v, (size_t)(ve - v)))
      return -1;
    p = eol + 2;
  }
  return -1;
}

static bool name_is(const char *n, size_t nl, const char *want)
{
  return nl == strlen(want) && !strncasecmp(n, want, nl);
}

struct req_hdrs {
  struct http_request *r;
  bool conn_close, conn_keep, te;
  int nlen;
};

static int req_hdr(void *u, const char *n, size_t nl, const char *v, size_t vl)
{
  struct req_hdrs *h = u;
  if (name_is(n, nl, "connection")) {
    h->conn_close |= has_token(v, vl, "close");
    h->conn_keep |= has_token(v, vl, "keep-alive");
  } else if (name_is(n, nl, "content-length")) {
    int64_t x;
    if (parse_len(v, vl, &x))
      return -1;
    if (h->nlen++ && x != h->r->content_length)
      return -1; /* RFC 9112 6.3: differing lengths are an error */
    h->r->content_length = x;
  } else if (name_is(n, nl, "transfer-encoding")) {
    h->te = true;
  }
  return 0;
}

int http_parse_request(const char *buf, size_t len, struct http_request *req)
{
  size_t he = head_end(buf, len);
  if (!he)
    return len > HTTP_MAX_HEADER ? -1 : 0;
  if (he > HTTP_MAX_HEADER)
    return -1;
  memset(req, 0, sizeof(*req));
  req->header_len = he;
  const char *end = buf + he;
  const char *eol = memmem(buf, he, "\r\n", 2);
  /* request-line = method SP request-target SP HTTP-version (RFC 9112 3) */
  const char *sp1 = memchr(buf, ' ', (size_t)(eol - buf));
  if (!sp1 || sp1 == buf || (size_t)(sp1 - buf) >= sizeof(req->method))
    return -1;
  for (const char *c = buf; c < sp1; c++)
    if (!is_tchar((unsigned char)*c))
      return -1;
  const char *tg = sp1 + 1;
  const char *sp2 = memchr(tg, ' ', (size_t)(eol - tg));
  if (!sp2 || sp2 == tg || (size_t)(sp2 - tg) >= sizeof(req->target))
    return -1;
  for (const char *c = tg; c < sp2; c++)
    if ((unsigned char)*c <= 0x20 || (unsigned char)*c >= 0x7f)
      return -1;
  const char *ver = sp2 + 1;
  if (eol - ver != 8 || strncmp(ver, "HTTP/1.", 7) || !isdigit((unsigned char)ver[7]))
    return -1;
  memcpy(req->method, buf, (size_t)(sp1 - buf));
  memcpy(req->target, tg, (size_t)(sp2 - tg));
  req->minor = ver[7] - '0';
  struct req_hdrs h = {.r = req};
  if (walk_headers(eol + 2, end, req_hdr, &h))
    return -1;
  if (h.te)
    return -1; /* no request bodies with transfer codings here */
  if (req->target[0] != '/')
    return -1; /* origin-form only */
  req->keep_alive = req->minor >= 1 ? !h.conn_close : (h.conn_keep && !h.conn_close);
  return 1;
}

static int hexval(int c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  c = tolower(c);
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1;
}

/* Decode the path part of a target (query dropped) into out, relative to
 * the served directory, refusing any ".." segment and NUL. */
static int target_to_rel(const char *target, char *out, size_t cap)
{
  size_t o = 0;
  const char *p = target;
  while (*p == '/')
    p++;
  for (; *p && *p != '?' && *p != '#'; p++) {
    int c = (unsigned char)*p;
    if (c == '%') {
      int a = hexval(p[1]), b = a >= 0 ? hexval(p[2]) : -1;
      if (a < 0 || b < 0)
        return -EINVAL;
      c = a * 16 + b;
      p += 2;
      if (c == 0)
        return -EINVAL;
    }
    if (o + 1 >= cap)
      return -ENAMETOOLONG;
    out[o++] = (char)c;
  }
  out[o] = 0;
  /* Reject "." and ".." segments (also after decoding): no escapes. */
  for (char *seg = out; *seg;) {
    char *slash = strchr(seg, '/');
    size_t n = slash ? (size_t)(slash - seg) : strlen(seg);
    if ((n == 2 && seg[0] == '.' && seg[1] == '.') || (n == 1 && seg[0] == '.'))
      return -EACCES;
    if (!slash)
      break;
    seg = slash + 1;
  }
  if (out[0] == '/')
    return -EACCES;
  return 0;
}

/* openat2(RESOLVE_BENEATH): the kernel refuses any path, symlink included,
 * that leaves dirfd. Falls back to O_NOFOLLOW on old kernels. */
static int open_beneath(int dirfd, const char *rel)
{
  struct open_how how = {.flags = O_RDONLY | O_CLOEXEC,
                         .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS};
  int fd = (int)syscall(SYS_openat2, dirfd, rel, &how, sizeof(how));
  if (fd >= 0)
    return fd;
  if (errno != ENOSYS)
    return errno == EXDEV ? -EACCES : -errno;
  fd = openat(dirfd, rel, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  return fd >= 0 ? fd : -errno;
}

int http_open_target(int dirfd, const char *target, int64_t *size)
{
  char rel[1024];
  int r = target_to_rel(target, rel, sizeof(rel) - 16);
  if (r)
    return r;
  if (!rel[0])
    strcpy(rel, ".");
  int fd = open_beneath(dirfd, rel);
  if (fd < 0)
    return fd;
  struct stat st;
  if (fstat(fd, &st)) {
    r = -errno;
    close(fd);
    return r;
  }
  if (S_ISDIR(st.st_mode)) {
    int idx = open_beneath(fd, "index.html");
    close(fd);
    if (idx < 0)
      return idx == -EACCES ? idx : -ENOENT;
    fd = idx;
    if (fstat(fd, &st)) {
      r = -errno;
      close(fd);
      return r;
    }
  }
  if (!S_ISREG(st.st_mode)) {
    close(fd);
    return -EACCES;
  }
  *size = st.st_size;
  return fd;
}

const char *http_content_type(const char *target)
{
  static const struct {
    const char *ext, *type;
  } types[] = {{".html", "text/html"},     {".htm", "text/html"},
               {".txt", "text/plain"},     {".css", "text/css"},
               {".js", "text/javascript"}, {".json", "application/json"},
               {".png", "image/png"},      {".jpg", "image/jpeg"},
               {".svg", "image/svg+xml"},  {".pcap", "application/vnd.tcpdump.pcap"}};
  const char *q = strchr(target, '?');
  size_t n = q ? (size_t)(q - target) : strlen(target);
  if (n && target[n - 1] == '/')
    return "text/html";
  for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
    size_t el = strlen(types[i].ext);
    if (n >= el && !strncasecmp(target + n - el, types[i].ext, el))
      return types[i].type;
  }
  return "application/octet-stream";
}

const char *http_reason(int status)
{
  switch (status) {
  case 200:
    return "OK";
  case 400:
    return "Bad Request";
  case 403:
    return "Forbidden";
  case 404:
    return "Not Found";
  case 405:
    return "Method Not Allowed";
  case 500:
    return "Internal Server Error";
  case 501:
    return "Not Implemented";
  case 505:
    return "HTTP Version Not Supported";
  }
  return "Unknown";
}

size_t http_response_head(char *out, size_t cap, int status, const char *ctype,
                          int64_t content_length, bool keep_alive)
{
  int n = snprintf(out, cap, "HTTP/1.1 %d %s\r\nServer: ustcp\r\n", status, http_reason(status));
  if (n < 0 || (size_t)n >= cap)
    return 0;
  size_t o = (size_t)n;
  if (ctype) {
    n = snprintf(out + o, cap - o, "Content-Type: %s\r\n", ctype);
    if (n < 0 || (size_t)n >= cap - o)
      return 0;
    o += (size_t)n;
  }
  if (content_length >= 0) {
    n = snprintf(out + o, cap - o, "Content-Length: %lld\r\n", (long long)content_length);
    if (n < 0 || (size_t)n >= cap - o)
      return 0;
    o += (size_t)n;
  }
  n = snprintf(out + o, cap - o, "Connection: %s\r\n\r\n", keep_alive ? "keep-alive" : "close");
  if (n < 0 || (size_t)n >= cap - o)
    return 0;
  return o + (size_t)n;
}

struct resp_hdrs {
  struct http_response *r;
  bool conn_close, conn_keep;
};

static int resp_hdr(void *u, const char *n, size_t nl, const char *v, size_t vl)
{
  struct resp_hdrs *h = u;
  if (name_is(n, nl, "connection")) {
    h->conn_close |= has_token(v, vl, "close");
    h->conn_keep |= has_token(v, vl, "keep-alive");
  } else if (name_is(n, nl, "content-length")) {
    if (parse_len(v, vl, &h->r->content_length))
      return -1;
  } else if (name_is(n, nl, "transfer-encoding")) {
    h->r->chunked = has_token(v, vl, "chunked");
  }
  return 0;
}

int http_parse_response(const char *buf, size_t len, struct http_response *resp)
{
  size_t he = head_end(buf, len);
  if (!he)
    return len > 65536 ? -1 : 0;
  memset(resp, 0, sizeof(*resp));
  resp->content_length = -1;
  resp->header_len = he;
  /* status-line = HTTP-version SP status-code SP [ reason-phrase ] */
  if (he < 14 || strncmp(buf, "HTTP/1.", 7) || !isdigit((unsigned char)buf[7]) || buf[8] != ' ' ||
      !isdigit((unsigned char)buf[9]) || !isdigit((unsigned char)buf[10]) ||
      !isdigit((unsigned char)buf[11]))
    return -1;
  resp->minor = buf[7] - '0';
  resp->status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
  const char *eol = memmem(buf, he, "\r\n", 2);
  struct resp_hdrs h = {.r = resp};
  if (walk_headers(eol + 2, buf + he, resp_hdr, &h))
    return -1;
  resp->close = resp->minor >= 1 ? h.conn_close : !h.conn_keep || h.conn_close;
  return 1;
}

int http_parse_url(const char *url, char *host, size_t hostcap, uint16_t *port, char *path,
                   size_t pathcap)
{
  if (strncmp(url, "http://", 7))
    return -1;
  const char *h = url + 7;
  size_t hl = strcspn(h, ":/");
  if (!hl || hl >= hostcap)
    return -1;
  memcpy(host, h, hl);
  host[hl] = 0;
  const char *p = h + hl;
  *port = 80;
  if (*p == ':') {
    char *e;
    long v = strtol(p + 1, &e, 10);
    if (e == p + 1 || v <= 0 || v > 65535)
      return -1;
    *port = (uint16_t)v;
    p = e;
  }
  if (!*p)
    p = "/";
  if (*p != '/' || strlen(p) >= pathcap)
    return -1;
  strcpy(path, p);
  return 0;
}

enum {
  CH_SIZE,
  CH_EXT,
  CH_SIZE_LF,
  CH_DATA,
  CH_DATA_CR,
  CH_DATA_LF,
  CH_TRAILER,
  CH_TRAILER_LINE,
  CH_TRAILER_LF,
  CH_END_LF,
  CH_DONE
};

long http_dechunk(struct http_chunked *c, const char *in, size_t len, char *out, bool *done,
                  size_t *used)
{
  size_t i = 0, o = 0;
  *done = c->state == CH_DONE;
  while (i < len && c->state != CH_DONE) {
    int ch = (unsigned char)in[i];
    switch (c->state) {
    case CH_SIZE: /* chunk-size = 1*HEXDIG */
      if (hexval(ch) >= 0) {
        if (c->left >> 60)
          return -1;
        c->left = c->left * 16 + (uint64_t)hexval(ch);
        c->digits++;
      } else if (c->digits && (ch == ';' || ch == ' ' || ch == '\t')) {
        c->state = CH_EXT;
      } else if (c->digits && ch == '\r') {
        c->state = CH_SIZE_LF;
      } else {
        return -1;
      }
      i++;
      break;
    case CH_EXT: /* chunk extensions are ignored */
      if (ch == '\r')
        c->state = CH_SIZE_LF;
      else if (ch == '\n')
        return -1;
      i++;
      break;
    case CH_SIZE_LF:
      if (ch != '\n')
        return -1;
      i++;
      c->state = c->left ? CH_DATA : CH_TRAILER;
      break;
    case CH_DATA: {
      size_t n = len - i;
      if (n > c->left)
        n = (size_t)c->left;
      memmove(out + o, in + i, n);
      o += n;
      i += n;
      c->left -= n;
      if (!c->left)
        c->state = CH_DATA_CR;
      break;
    }
    case CH_DATA_CR:
    case CH_DATA_LF:
      if (ch != (c->state == CH_DATA_CR ? '\r' : '\n'))
        return -1;
      i++;
      if (c->state == CH_DATA_CR) {
        c->state = CH_DATA_LF;
      } else {
        c->state = CH_SIZE;
        c->digits = 0;
      }
      break;
    case CH_TRAILER: /* start of a trailer line, or the final CRLF */
      if (ch == '\r')
        c->state = CH_END_LF;
      else
        c->state = CH_TRAILER_LINE;
      i++;
      break;
    case CH_TRAILER_LINE:
      if (ch == '\r')
        c->state = CH_TRAILER_LF;
      i++;
      break;
    case CH_TRAILER_LF:
    case CH_END_LF:
      if (ch != '\n')
        return -1;
      i++;
      c->state = c->state == CH_END_LF ? CH_DONE : CH_TRAILER;
      break;
    }
  }
  *done = c->state == CH_DONE;
  *used = i;
  return (long)o;
}
