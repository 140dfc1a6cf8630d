/*
 * test_http.c - the HTTP/1.1 pieces of `ustcp serve --http` / `ustcp get`
 * (tools/ustcp/http.c, compiled in here): request heads (complete, partial,
 * malformed), keep-alive rules, path mapping that never leaves the served
 * directory (.., %2e%2e, symlinks out), response heads, URLs.
 */
#include "../../tools/ustcp/http.c"

#include <stdlib.h>

#include "harness/test.h"

static int parse(const char *s, struct http_request *r)
{
  return http_parse_request(s, strlen(s), r);
}

static void test_requests(void)
{
  struct http_request r;
  T_EQ(parse("GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n", &r), 1);
  T_STREQ(r.method, "GET");
  T_STREQ(r.target, "/a.txt");
  T_EQ(r.minor, 1);
  T_CHECK(r.keep_alive);
  T_EQ(r.header_len, strlen("GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n"));
  T_EQ(parse("GET / HTTP/1.1\r\nConnection: close\r\n\r\n", &r), 1);
  T_CHECK(!r.keep_alive);
  T_EQ(parse("GET / HTTP/1.0\r\n\r\n", &r), 1);
  T_CHECK(!r.keep_alive);
  T_EQ(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", &r), 1);
  T_CHECK(r.keep_alive);
  T_EQ(parse("GET / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello", &r), 1);
  T_EQ(r.content_length, 5);
  /* partial heads need more bytes */
  T_EQ(parse("GET / HTTP/1.1\r\nHost: x\r\n", &r), 0);
  T_EQ(parse("GE", &r), 0);
  /* malformed */
  T_EQ(parse("GARBAGE\r\n\r\n", &r), -1);
  T_EQ(parse("GET /\r\n\r\n", &r), -1);
  T_EQ(parse("GET / HTTP/2.0\r\n\r\n", &r), -1);
  T_EQ(parse("GET x HTTP/1.1\r\n\r\n", &r), -1);
  T_EQ(parse("GET / HTTP/1.1\r\nNoColon\r\n\r\n", &r), -1);
  T_EQ(parse("GET / HTTP/1.1\r\nBad Name: v\r\n\r\n", &r), -1);
  T_EQ(parse("GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n", &r), -1);
  T_EQ(parse("GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", &r), -1);
  T_EQ(parse("GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", &r), -1);
  T_EQ(parse("G(T / HTTP/1.1\r\n\r\n", &r), -1);
  /* an endless head is malformed once it passes the limit */
  size_t big = HTTP_MAX_HEADER + 100;
  char *b = malloc(big);
  memset(b, 'a', big);
  memcpy(b, "GET /", 5);
  T_EQ(http_parse_request(b, big, &r), -1);
  free(b);
}

static void test_paths(void)
{
  char dir[] = "/tmp/ustcp-http-test.XXXXXX";
  T_CHECK(mkdtemp(dir) != NULL);
  char p[512];
  snprintf(p, sizeof(p), "%s/www", dir);
  mkdir(p, 0755);
  snprintf(p, sizeof(p), "%s/www/sub", dir);
  mkdir(p, 0755);
  snprintf(p, sizeof(p), "%s/www/a b.txt", dir);
  FILE *f = fopen(p, "w");
  fputs("hello", f);
  fclose(f);
  snprintf(p, sizeof(p), "%s/www/index.html", dir);
  f = fopen(p, "w");
  fputs("<p>", f);
  fclose(f);
  snprintf(p, sizeof(p), "%s/secret", dir);
  f = fopen(p, "w");
  fputs("s", f);
  fclose(f);
  char link[512];
  snprintf(link, sizeof(link), "%s/www/out", dir);
  T_EQ(symlink("../secret", link), 0);
  snprintf(p, sizeof(p), "%s/www", dir);
  int d = open(p, O_RDONLY | O_DIRECTORY);
  T_CHECK(d >= 0);
  int64_t sz = -1;
  int fd = http_open_target(d, "/a%20b.txt?x=1", &sz);
  T_CHECK(fd >= 0);
  T_EQ(sz, 5);
  close(fd);
  fd = http_open_target(d, "/", &sz);
  T_CHECK(fd >= 0);
  T_EQ(sz, 3);
  close(fd);
  T_EQ(http_open_target(d, "/nope", &sz), -ENOENT);
  T_EQ(http_open_target(d, "/sub", &sz), -ENOENT); /* no index.html there */
  T_CHECK(http_open_target(d, "/../secret", &sz) < 0);
  T_CHECK(http_open_target(d, "/sub/../../secret", &sz) < 0);
  T_CHECK(http_open_target(d, "/%2e%2e/secret", &sz) < 0);
  T_CHECK(http_open_target(d, "/%2E%2E%2Fsecret", &sz) < 0);
  T_CHECK(http_open_target(d, "/a%00b", &sz) < 0);
  T_CHECK(http_open_target(d, "/%zz", &sz) < 0);
  T_CHECK(http_open_target(d, "//etc/passwd", &sz) < 0);
  T_CHECK(http_open_target(d, "/out", &sz) < 0); /* symlink leading out */
  close(d);
  char cmd[600];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  T_EQ(system(cmd), 0);
}

static void test_responses(void)
{
  char h[256];
  size_t n = http_response_head(h, sizeof(h), 404, "text/plain", 10, true);
  T_CHECK(n > 0);
  h[n] = 0;
  T_CHECK(!strncmp(h, "HTTP/1.1 404 Not Found\r\n", 24));
  T_CHECK(strstr(h, "Content-Length: 10\r\n") != NULL);
  T_CHECK(strstr(h, "Connection: keep-alive\r\n\r\n") != NULL);
  T_EQ(http_response_head(h, 20, 200, NULL, 1, false), 0);

  struct http_response r;
  const char *ok = "HTTP/1.0 200 OK\r\nContent-Length: 12\r\n\r\nbody";
  T_EQ(http_parse_response(ok, strlen(ok), &r), 1);
  T_EQ(r.status, 200);
  T_EQ(r.content_length, 12);
  T_CHECK(r.close);
  T_EQ(r.header_len, strlen(ok) - 4);
  const char *ch = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  T_EQ(http_parse_response(ch, strlen(ch), &r), 1);
  T_CHECK(r.chunked);
  T_CHECK(!r.close);
  T_EQ(r.content_length, -1);
  T_EQ(http_parse_response("HTTP/1.1 200 OK\r\n", 17, &r), 0);
  T_EQ(http_parse_response("HTTX/1.1 200 OK\r\n\r\n", 19, &r), -1);

  char host[64], path[128];
  uint16_t port;
  T_EQ(http_parse_url("http://192.0.2.1:8000/a/b?c", host, sizeof(host), &port, path, sizeof(path)),
       0);
  T_STREQ(host, "192.0.2.1");
  T_EQ(port, 8000);
  T_STREQ(path, "/a/b?c");
  T_EQ(http_parse_url("http://192.0.2.1", host, sizeof(host), &port, path, sizeof(path)), 0);
  T_EQ(port, 80);
  T_STREQ(path, "/");
  T_EQ(http_parse_url("https://x/", host, sizeof(host), &port, path, sizeof(path)), -1);
  T_EQ(http_parse_url("http://x:0/", host, sizeof(host), &port, path, sizeof(path)), -1);
  T_STREQ(http_content_type("/x.html"), "text/html");
  T_STREQ(http_content_type("/x.bin"), "application/octet-stream");
}

/* Decode `in` fed in pieces of `step` bytes; returns the body or NULL. */
static char *dechunk_all(const char *in, size_t step, bool *done, long *total)
{
  static char out[4096];
  char buf[4096];
  struct http_chunked c;
  memset(&c, 0, sizeof(c));
  size_t len = strlen(in), o = 0;
  *done = false;
  for (size_t i = 0; i < len && !*done;) {
    size_t n = len - i < step ? len - i : step, used;
    memcpy(buf, in + i, n);
    long m = http_dechunk(&c, buf, n, buf, done, &used);
    if (m < 0)
      return NULL;
    memcpy(out + o, buf, (size_t)m);
    o += (size_t)m;
    i += used;
  }
  out[o] = 0;
  *total = (long)o;
  return out;
}

static void test_chunked(void)
{
  const char *body = "5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nX-T: 1\r\n\r\n";
  for (size_t step = 1; step <= 64; step *= 2) {
    bool done;
    long n;
    char *out = dechunk_all(body, step, &done, &n);
    T_CHECK(out != NULL);
    if (out) {
      T_STREQ(out, "hello, world");
      T_EQ(n, 12);
    }
    T_CHECK(done);
  }
  bool done;
  long n;
  T_CHECK(dechunk_all("a\r\n0123456789\r\n0\r\n\r\n", 3, &done, &n) != NULL && done);
  T_CHECK(dechunk_all("zz\r\n", 8, &done, &n) == NULL);
  T_CHECK(dechunk_all("3\r\nabcX\r\n", 8, &done, &n) == NULL); /* no CRLF after data */
  T_CHECK(dechunk_all("\r\n", 8, &done, &n) == NULL);          /* no size */
  dechunk_all("3\r\nab", 8, &done, &n);
  T_CHECK(!done);                                                        /* incomplete */
  T_CHECK(dechunk_all("ffffffffffffffffff\r\n", 64, &done, &n) == NULL); /* overflow */
}

int main(void)
{
  T_RUN(test_requests);
  T_RUN(test_paths);
  T_RUN(test_responses);
  T_RUN(test_chunked);
  return T_DONE();
}
