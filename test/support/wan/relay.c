/*
 * ferry-wan-relay: one emulated WAN link between two TUN devices, each created in a network namespace of
 * its own. Every IP packet read from one side is held for the link's one-way delay, dropped at random
 * (Bernoulli, seeded RNG) or when the bottleneck queue is full, paced at the link rate, and written to the
 * other side. The kernel has no netem here, so this is what gives TCP a real RTT and real losses.
 *
 * Why C and not Python: a 1 Gbit/s link at 64 KB packets is ~2,000 packets a second each way plus the
 * ACKs; C keeps each packet's cost to two syscalls and a memcpy, with no interpreter or GC pauses to blur
 * the delay, on a shared 2-core machine where every CPU-ms the relay takes is one the tools don't get.
 * Deadlines are CLOCK_MONOTONIC nanoseconds and the wait is ppoll() with a timespec (timer slack set to
 * 1 us), so a packet leaves within tens of microseconds of its deadline. Built at setup with `cc -O2`.
 *
 * Model, per direction: a packet arriving at t is lost with probability p; else it is serialised at the
 * link rate behind the packets already queued (done = max(t, busy) + bytes / rate) and tail-dropped if
 * that backlog exceeds the queue limit; it is delivered at done + delay. Delivery times only grow, so each
 * direction is a FIFO. The relay stops by itself after --max-seconds, when its parent dies, or on SIGTERM;
 * it then prints its counters as one JSON line on stdout. Closing the TUN fds removes both devices.
 *
 * usage: ferry-wan-relay --ns-a PATH --dev-a NAME --ns-b PATH --dev-b NAME [--mtu 65000]
 *          [--delay-ms D (one way, both directions)] [--loss P] [--rate-bps R (0: unlimited)]
 *          [--queue-bytes Q] [--seed S] [--max-seconds T]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#define MAX_PKT 65536

typedef struct pkt { struct pkt *next; int64_t due; int len; unsigned char data[]; } pkt;

typedef struct {
  int in, out;              /* read from in, write to out */
  pkt *head, *tail;
  int64_t busy;             /* when the link is free again (ns) */
  uint64_t rx, tx, lost, qdrop, bytes, maxq;
} dir_t;

static volatile sig_atomic_t stop = 0;
static void on_signal (int s) { (void)s; stop = 1; }

static int64_t now_ns (void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

/* splitmix64: small, seeded, good enough for Bernoulli draws */
static uint64_t rng_state;
static double rng_unit (void) {
  uint64_t z = (rng_state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  z ^= z >> 31;
  return (double)(z >> 11) / 9007199254740992.0;
}

static void die (const char *what) { fprintf(stderr, "ferry-wan-relay: %s: %s\n", what, strerror(errno)); exit(1); }

/* Creates TUN device `name` (L3, no packet info) in the network namespace at `ns_path`. */
static int open_tun (const char *ns_path, const char *name, int home_ns) {
  int ns = open(ns_path, O_RDONLY | O_CLOEXEC);
  if (ns < 0) die(ns_path);
  if (setns(ns, CLONE_NEWNET) != 0) die("setns");
  close(ns);
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) die("/dev/net/tun");
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
  strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
  if (ioctl(fd, TUNSETIFF, &ifr) != 0) die("TUNSETIFF");
  if (setns(home_ns, CLONE_NEWNET) != 0) die("setns back");
  return fd;
}

/* Reads every waiting packet of one direction and queues (or drops) it. */
static void take (dir_t *d, double loss, double rate_bps, double queue_bytes, int64_t delay) {
  static unsigned char buf[MAX_PKT];
  for (;;) {
    ssize_t n = read(d->in, buf, sizeof buf);
    if (n < 0) { if (errno == EAGAIN || errno == EINTR) return; die("read"); }
    if (n == 0) return;
    int64_t t = now_ns();
    d->rx++;
    if (loss > 0 && rng_unit() < loss) { d->lost++; continue; }
    int64_t start = d->busy > t ? d->busy : t;
    if (rate_bps > 0) {
      double backlog = (double)(start - t) * rate_bps / 8e9; /* bytes still ahead of this one */
      if (backlog > queue_bytes) { d->qdrop++; continue; }
      if ((uint64_t)backlog > d->maxq) d->maxq = (uint64_t)backlog;
      d->busy = start + (int64_t)((double)n * 8e9 / rate_bps);
    } else d->busy = t;
    pkt *p = malloc(sizeof(pkt) + (size_t)n);
    if (p == NULL) { d->qdrop++; continue; }
    p->next = NULL; p->due = d->busy + delay; p->len = (int)n;
    memcpy(p->data, buf, (size_t)n);
    if (d->tail) d->tail->next = p; else d->head = p;
    d->tail = p;
  }
}

/* Writes every packet whose time has come. */
static void give (dir_t *d, int64_t t) {
  while (d->head && d->head->due <= t) {
    pkt *p = d->head;
    if (write(d->out, p->data, (size_t)p->len) == p->len) { d->tx++; d->bytes += (uint64_t)p->len; }
    d->head = p->next;
    if (!d->head) d->tail = NULL;
    free(p);
  }
}

static const char *arg (int argc, char **argv, const char *name, const char *dflt) {
  for (int i = 1; i + 1 < argc; i++) if (strcmp(argv[i], name) == 0) return argv[i + 1];
  return dflt;
}

static void report (dir_t *d, const char *name, int last) {
  printf("\"%s\":{\"rx\":%llu,\"tx\":%llu,\"lost\":%llu,\"queueDrops\":%llu,\"bytes\":%llu,\"maxQueueBytes\":%llu}%s", name,
    (unsigned long long)d->rx, (unsigned long long)d->tx, (unsigned long long)d->lost,
    (unsigned long long)d->qdrop, (unsigned long long)d->bytes, (unsigned long long)d->maxq, last ? "" : ",");
}

int main (int argc, char **argv) {
  const char *ns_a = arg(argc, argv, "--ns-a", NULL), *ns_b = arg(argc, argv, "--ns-b", NULL);
  const char *dev_a = arg(argc, argv, "--dev-a", NULL), *dev_b = arg(argc, argv, "--dev-b", NULL);
  if (!ns_a || !ns_b || !dev_a || !dev_b) { fprintf(stderr, "usage: see the comment at the top of relay.c\n"); return 2; }
  int64_t delay = (int64_t)(atof(arg(argc, argv, "--delay-ms", "0")) * 1e6);
  double loss = atof(arg(argc, argv, "--loss", "0"));
  double rate = atof(arg(argc, argv, "--rate-bps", "0"));
  double queue = atof(arg(argc, argv, "--queue-bytes", "4194304"));
  double max_s = atof(arg(argc, argv, "--max-seconds", "600"));
  rng_state = strtoull(arg(argc, argv, "--seed", "1"), NULL, 10);

  prctl(PR_SET_PDEATHSIG, SIGTERM);
  prctl(PR_SET_TIMERSLACK, 1000UL);
  signal(SIGTERM, on_signal);
  signal(SIGINT, on_signal);
  signal(SIGHUP, on_signal);
  signal(SIGPIPE, SIG_IGN);
  int home = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  if (home < 0) die("/proc/self/ns/net");
  int fa = open_tun(ns_a, dev_a, home), fb = open_tun(ns_b, dev_b, home);
  dir_t ab = { .in = fa, .out = fb }, ba = { .in = fb, .out = fa };
  printf("ready\n");
  fflush(stdout);

  int64_t end = now_ns() + (int64_t)(max_s * 1e9);
  struct pollfd pf[2] = { { .fd = fa, .events = POLLIN }, { .fd = fb, .events = POLLIN } };
  while (!stop) {
    int64_t t = now_ns();
    if (t >= end) break;
    give(&ab, t);
    give(&ba, t);
    int64_t next = end;
    if (ab.head && ab.head->due < next) next = ab.head->due;
    if (ba.head && ba.head->due < next) next = ba.head->due;
    int64_t wait = next - t;
    if (wait < 0) wait = 0;
    struct timespec ts = { .tv_sec = wait / 1000000000LL, .tv_nsec = wait % 1000000000LL };
    int r = ppoll(pf, 2, &ts, NULL);
    if (r < 0) { if (errno == EINTR) continue; die("ppoll"); }
    if (pf[0].revents & POLLIN) take(&ab, loss, rate, queue, delay);
    if (pf[1].revents & POLLIN) take(&ba, loss, rate, queue, delay);
  }
  printf("{");
  report(&ab, "aToB", 0);
  report(&ba, "bToA", 1);
  printf("}\n");
  fflush(stdout);
  return 0;
}
