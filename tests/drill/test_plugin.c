/*
 * test_plugin.c - drives build/libustcp_packetdrill.so the way packetdrill's
 * --so_filename mode does: dlopen, packetdrill_interface_init, then a
 * passive handshake, data both ways, a close, a timer-driven retransmission
 * on the virtual clock, a keepalive probe after deadlines that send nothing,
 * a blocking accept() on a second thread, and the
 * unsupported calls.
 */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "drill.h"
#include "harness/test.h"
#include "packetdrill_so.h"

static struct packetdrill_interface ifc;
static void *ud;

static void sin_of(struct sockaddr_in *sa, uint32_t ip, uint16_t port)
{
  memset(sa, 0, sizeof(*sa));
  sa->sin_family = AF_INET;
  sa->sin_addr.s_addr = htonl(ip);
  sa->sin_port = htons(port);
}

/* Inject a segment from 192.0.2.1:40000 to 192.168.0.1:8080. */
static void inject(uint8_t flags, uint32_t seq, uint32_t ack, uint32_t len, int mss)
{
  struct dr_seg sg;
  memset(&sg, 0, sizeof(sg));
  sg.src = DR_REMOTE_IP;
  sg.dst = DR_LOCAL_IP;
  sg.sport = 40000;
  sg.dport = 8080;
  sg.seq = seq;
  sg.ack = ack;
  sg.flags = flags;
  sg.win = 65535;
  sg.len = len;
  if (mss) {
    sg.nopt = 1;
    sg.opt[0].kind = DR_OPT_MSS;
    sg.opt[0].a = (uint32_t)mss;
  }
  uint8_t buf[2048];
  int n = dr_seg_build(&sg, buf, sizeof(buf));
  T_CHECK(n > 0);
  T_EQ(ifc.netdev_send(ud, buf, (size_t)n), 0);
}

/* The next packet the stack sent (1) or none (0), called as packetdrill's
 * so_netdev_receive() does: once per expected packet, retrying only on -1;
 * an empty answer is a failed test there. */
static int receive(struct dr_seg *sg, long long *t)
{
  uint8_t buf[4096];
  size_t n = sizeof(buf);
  T_EQ(ifc.netdev_receive(ud, buf, &n, t), 0);
  if (!n)
    return 0;
  char err[128];
  T_EQ(dr_seg_parse(buf, n, sg, err, sizeof(err)), 0);
  return 1;
}

static long long now_us(void)
{
  struct timeval tv;
  T_EQ(ifc.gettimeofday(ud, &tv, NULL), 0);
  return (long long)tv.tv_sec * 1000000 + tv.tv_usec;
}

struct acc {
  int fd, ret, err;
};
static void *accept_thread(void *arg)
{
  struct acc *a = arg;
  struct sockaddr_in sa;
  socklen_t l = sizeof(sa);
  a->ret = ifc.accept(ud, a->fd, (struct sockaddr *)&sa, &l);
  a->err = errno;
  return NULL;
}

static void test_session(void)
{
  void *so = dlopen("./libustcp_packetdrill.so", RTLD_NOW | RTLD_LOCAL);
  if (!so)
    fprintf(stderr, "dlopen: %s\n", dlerror());
  T_CHECK(so != NULL);
  if (!so)
    return;
  packetdrill_interface_init_t init =
      (packetdrill_interface_init_t)(uintptr_t)dlsym(so, "packetdrill_interface_init");
  T_CHECK(init != NULL);
  /* only the init function is exported */
  T_CHECK(dlsym(so, "ustcp_socket") == NULL);
  if (!init)
    return;
  init("local_ip=192.168.0.1", &ifc);
  ud = ifc.userdata;
  T_CHECK(ud != NULL && ifc.free && ifc.splice && ifc.netdev_receive);

  int lfd = ifc.socket(ud, AF_INET, SOCK_STREAM, IPPROTO_TCP);
  T_CHECK(lfd >= 0);
  struct sockaddr_in sa;
  sin_of(&sa, DR_LOCAL_IP, 8080);
  T_EQ(ifc.bind(ud, lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
  T_EQ(ifc.listen(ud, lfd, 1), 0);

  /* a blocking accept() on a second thread, as packetdrill runs it */
  struct acc a = {lfd, -2, 0};
  pthread_t th;
  T_EQ(pthread_create(&th, NULL, accept_thread, &a), 0);
  T_EQ(ifc.usleep(ud, 10000), 0); /* let the call block; time is virtual */

  long long t0 = now_us(), t;
  inject(DR_TCP_SYN, 0, 0, 0, 1000);
  struct dr_seg sg;
  T_EQ(receive(&sg, &t), 1);
  T_EQ(sg.flags, DR_TCP_SYN | DR_TCP_ACK);
  T_EQ(sg.ack, 1);
  T_EQ(sg.src, DR_LOCAL_IP);
  T_EQ(sg.dport, 40000);
  T_EQ(t, t0); /* sent at once, on the virtual clock */
  uint32_t iss = sg.seq;

  T_EQ(ifc.usleep(ud, 100000), 0);
  T_EQ(now_us() - t0, 100000);
  inject(DR_TCP_ACK, 1, iss + 1, 0, 0);
  T_EQ(pthread_join(th, NULL), 0);
  T_CHECK(a.ret >= 0);
  int fd = a.ret;

  /* data from us, retransmitted by the timer when not ACKed */
  T_EQ(ifc.write(ud, fd, "hello", 5), 5);
  T_EQ(receive(&sg, &t), 1);
  T_EQ(sg.seq, iss + 1);
  T_EQ(sg.len, 5);
  long long t_first = t;
  /* nothing pending: netdev_receive jumps to the retransmission timer */
  T_EQ(receive(&sg, &t), 1);
  T_EQ(sg.seq, iss + 1);
  T_EQ(sg.len, 5);
  T_CHECK(t > t_first);
  T_EQ(now_us(), t);
  inject(DR_TCP_ACK, 1, iss + 6, 0, 0);

  /* data to us, read back; FIONREAD through the variadic ioctl */
  inject(DR_TCP_ACK | DR_TCP_PSH, 1, iss + 6, 10, 0);
  int avail = -1;
  T_EQ(ifc.ioctl(ud, fd, FIONREAD, &avail), 0);
  T_EQ(avail, 10);
  char buf[64];
  T_EQ(ifc.read(ud, fd, buf, sizeof(buf)), 10);
  T_EQ(ifc.fcntl(ud, fd, F_SETFL, O_RDWR | O_NONBLOCK), 0);
  T_EQ(ifc.read(ud, fd, buf, sizeof(buf)), -1);
  T_EQ(errno, EAGAIN);

  /* The 10 bytes are owed a delayed ACK (Linux: 40 ms here). Then, with
   * keepalive after 1 s idle, one receive call must return the probe even
   * though deadlines that send nothing (the cancelled retransmission timer)
   * may fire on the way. */
  T_EQ(receive(&sg, &t), 1);
  T_EQ(sg.flags, DR_TCP_ACK);
  T_EQ(sg.ack, 11);
  int one = 1;
  T_EQ(ifc.setsockopt(ud, fd, IPPROTO_TCP, TCP_KEEPIDLE, &one, sizeof(one)), 0);
  T_EQ(ifc.setsockopt(ud, fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one)), 0);
  long long t_ka = now_us();
  T_EQ(receive(&sg, &t), 1);
  T_EQ(sg.flags, DR_TCP_ACK);
  T_EQ(sg.len, 0);
  T_EQ(sg.seq, iss + 5); /* SND.NXT - 1: Linux's keepalive probe */
  T_EQ(t - t_ka, 1000000);
  inject(DR_TCP_ACK, 11, iss + 6, 0, 0);

  /* close: everything read, nothing queued -> a FIN */
  T_EQ(ifc.close(ud, fd), 0);
  T_EQ(receive(&sg, &t), 1);
  T_CHECK(sg.flags & DR_TCP_FIN);
  T_EQ(sg.seq, iss + 6);
  T_EQ(sg.ack, 11);

  /* unsupported calls */
  errno = 0;
  T_EQ(ifc.epoll_create(ud, 1), -1);
  T_EQ(errno, ENOSYS);
  int pfd[2];
  T_EQ(ifc.pipe(ud, pfd), -1);
  T_EQ(errno, ENOSYS);
  T_EQ(ifc.close(ud, lfd), 0);
  ifc.free(ud);
  dlclose(so);
}

int main(void)
{
  T_RUN(test_session);
  return T_DONE();
}
