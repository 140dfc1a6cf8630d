/*
 * http.h - the small HTTP/1.1 pieces `ustcp serve --http` and `ustcp get`
 * use: request parsing and safe path mapping for the server, response header
 * parsing for the client. Pure functions over byte buffers; no I/O except
 * opening files beneath the served directory.
 */
#ifndef USTCP_TOOLS_HTTP_H
#define USTCP_TOOLS_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_MAX_HEADER 8192

struct http_request {
  char method[16];
  char target[1024]; /* as sent (still percent-encoded) */
  int minor;         /* HTTP/1.<minor> */
  bool keep_alive;   /* after the version default and Connection: */
  int64_t content_length;
  size_t header_len; /* bytes of request line + headers + blank line */
};

/* Parse one request head from buf[0..len). Returns 1 with *req filled when a
 * whole head is present, 0 if more bytes are needed, -1 if it is malformed
 * (or longer than HTTP_MAX_HEADER): the caller answers 400 and closes. */
int http_parse_request(const char *buf, size_t len, struct http_request *req);

/* Open the file a request target names beneath the directory `dirfd` (never
 * outside it: no "..", no absolute escapes, no symlinks leading out). "/"
 * and directories map to index.html. Returns an fd, or -errno
 * (-ENOENT -> 404, -EACCES/-EINVAL -> 403/400). *size gets the file size. */
int http_open_target(int dirfd, const char *target, int64_t *size);

/* A Content-Type for a file name. */
const char *http_content_type(const char *target);

/* Build a response head into out (returns its length, or 0 if out is too
 * small). content_length < 0 means none. */
size_t http_response_head(char *out, size_t cap, int status, const char *ctype,
                          int64_t content_length, bool keep_alive);
const char *http_reason(int status);

struct http_response {
  int status;
  int minor;
  int64_t content_length; /* -1 when absent */
  bool chunked;
  bool close; /* Connection: close, or HTTP/1.0 without keep-alive */
  size_t header_len;
};
/* Parse a response head: 1 complete, 0 need more, -1 malformed. */
int http_parse_response(const char *buf, size_t len, struct http_response *resp);

/* Incremental decoder of a chunked body (RFC 9112 7.1). Zero-initialise. */
struct http_chunked {
  int state;
  uint64_t left; /* data bytes left in this chunk */
  int digits;    /* hex digits of the size line so far */
};
/* Decode in[0..len) into out (out may equal in: output never runs ahead of
 * input). Returns body bytes written, or -1 if malformed. *done is set once
 * the last chunk and the trailer section ended; bytes after that are not
 * consumed (*used tells how many were). */
long http_dechunk(struct http_chunked *c, const char *in, size_t len, char *out, bool *done,
                  size_t *used);

/* Parse "http://A.B.C.D[:port][/path]". 0 or -1. */
int http_parse_url(const char *url, char *host, size_t hostcap, uint16_t *port, char *path,
                   size_t pathcap);

#endif
