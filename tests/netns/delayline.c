/* delayline: a network link with a fixed one-way delay and random loss,
 * for tests on kernels without sch_netem (`tc qdisc ... netem` is what the
 * netns suite would use otherwise).
 *
 * It creates two TUN devices, each in its own network namespace, and
 * forwards every IP packet read from one to the other after --delay-ms,
 * dropping each one with probability --loss percent (independently in each
 * direction). The caller gives the devices addresses and brings them up:
 * the two namespaces then talk as if joined by a cable with that delay.
 *
 *   delayline --dev-a NAME [--ns-a NS] --dev-b NAME [--ns-b NS]
 *             [--delay-ms N] [--loss PERCENT] [--seed N] [--queue N]
 *
 * NS is a name made by `ip netns add` (/run/netns/NS) or a path such as
 * /proc/PID/ns/net; without it the device is made in our own namespace.
 * Once both devices exist, one line goes to stdout:
 *   ready dev-a=NAME dev-b=NAME delay-ms=N loss=P queue=N
 * Commands on stdin, one a line, each answered by one line on stdout, let a
 * test change the link while it runs:
 *   loss PERCENT   -> ok loss=P        (e.g. pair first, then add loss)
 *   delay MS       -> ok delay-ms=N    (packets already queued keep theirs)
 *   stats          -> stats ...
 * SIGUSR1 prints a stats line too; SIGTERM, SIGINT or SIGHUP (and the
 * parent's death) print a final one and exit 0, which deletes both devices:
 *   stats ab-forwarded=N ab-lost=N ab-overflow=N ab-failed=N ba-... (same)
 * "lost" counts the random drops, "overflow" packets refused because
 * --queue packets were already waiting in that direction (a bounded queue,
 * as a router's), "failed" writes the kernel refused (a device not up yet).
 *
 * Every packet waits the same delay, so each direction is a FIFO: order is
 * kept, as on a real link. Standalone on purpose (libc only): it is a test
 * helper, not part of the daemon. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

/* Larger than any MTU the tests set; a bigger packet is refused as
 * overflow rather than truncated. */
#define PKT_MAX 2048
/* Packets read from one device before looking at the other again, so one
 * busy direction cannot starve the other. */
#define READ_BATCH 64

struct slot {
	uint64_t due_ns;
	uint16_t len;
	uint8_t data[PKT_MAX];
};

/* One direction: packets read from `from`, written to `to` when due. */
struct dir {
	int from, to;
	struct slot *slot;
	unsigned cap, head, count;
	uint64_t forwarded, lost, overflow, failed;
};

static uint64_t delay_ns;
/* Loss threshold on a 64-bit random value: drop when rand < threshold. */
static uint64_t loss_threshold;
static double loss_pct;
static uint64_t rng_state;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("delayline: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(2);
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* splitmix64: small, fast, good enough to decide which packets drop. */
static uint64_t rng_next(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15u);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

static void set_loss(double pct)
{
	loss_pct = pct;
	/* pct/100 of the 2^64 range; 100 % must drop everything. */
	double t = pct / 100.0 * 18446744073709551616.0; /* 2^64 */
	loss_threshold = t >= 18446744073709551616.0 ? UINT64_MAX : (uint64_t)t;
}

/* A percentage 0..100; false if s is not one. */
static bool parse_pct(const char *s, double *ret)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= 0 && v <= 100))
		return false;
	*ret = v;
	return true;
}

static unsigned long parse_ulong(const char *opt, const char *s, unsigned long max)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v > max)
		die("%s takes a whole number 0..%lu, not '%s'", opt, max, s);
	return v;
}

/* Enter a network namespace given by name (`ip netns add`) or path. */
static void enter_ns(const char *ns)
{
	char path[256];
	if (strchr(ns, '/'))
		snprintf(path, sizeof(path), "%s", ns);
	else
		snprintf(path, sizeof(path), "/run/netns/%s", ns);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die("network namespace %s: %s (does it exist? `ip netns list`)", path,
		    strerror(errno));
	if (setns(fd, CLONE_NEWNET) < 0)
		die("entering network namespace %s: %s (needs root)", path, strerror(errno));
	close(fd);
}

static int tun_create(const char *name)
{
	if (strlen(name) >= IFNAMSIZ)
		die("device name '%s' is longer than %d characters", name, IFNAMSIZ - 1);
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		die("open /dev/net/tun: %s (is the tun module loaded? needs root)",
		    strerror(errno));
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
	memcpy(ifr.ifr_name, name, strlen(name));
	if (ioctl(fd, TUNSETIFF, &ifr) < 0)
		die("creating TUN device %s: %s (a device of that name may exist already)", name,
		    strerror(errno));
	return fd;
}

/* A device in namespace ns (NULL: ours), made from there and then left:
 * the device stays in the namespace it was made in, and we go back home so
 * this process never keeps a deleted namespace alive. */
static int tun_in(const char *ns, const char *name, int home)
{
	if (ns)
		enter_ns(ns);
	int fd = tun_create(name);
	if (ns && setns(home, CLONE_NEWNET) < 0)
		die("returning to our network namespace: %s", strerror(errno));
	return fd;
}

static void dir_init(struct dir *d, int from, int to, unsigned cap)
{
	memset(d, 0, sizeof(*d));
	d->from = from;
	d->to = to;
	d->cap = cap;
	d->slot = calloc(cap, sizeof(*d->slot));
	if (!d->slot)
		die("out of memory for a queue of %u packets", cap);
}

/* Read what is waiting on d->from (at most READ_BATCH packets). */
static void dir_read(struct dir *d, uint64_t now)
{
	for (int i = 0; i < READ_BATCH; i++) {
		uint8_t pkt[PKT_MAX + 1];
		ssize_t n = read(d->from, pkt, sizeof(pkt));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			die("reading a TUN device: %s", strerror(errno));
		}
		if (n == 0)
			return;
		if (loss_threshold && rng_next() < loss_threshold) {
			d->lost++;
			continue;
		}
		if (d->count == d->cap || n > PKT_MAX) {
			d->overflow++;
			continue;
		}
		/* Never before the packet ahead (the delay may have been
		 * lowered): the queue stays a FIFO. */
		uint64_t due = now + delay_ns;
		if (d->count) {
			uint64_t prev = d->slot[(d->head + d->count - 1) % d->cap].due_ns;
			due = prev > due ? prev : due;
		}
		struct slot *s = &d->slot[(d->head + d->count++) % d->cap];
		s->due_ns = due;
		s->len = (uint16_t)n;
		memcpy(s->data, pkt, (size_t)n);
	}
}

/* Write every packet that is due. A refused write is a lost packet, as on a
 * real link (EIO while the far device is still down, e.g. an early IPv6
 * solicitation). */
static void dir_write(struct dir *d, uint64_t now)
{
	while (d->count && d->slot[d->head].due_ns <= now) {
		struct slot *s = &d->slot[d->head];
		if (write(d->to, s->data, s->len) < 0)
			d->failed++;
		else
			d->forwarded++;
		d->head = (d->head + 1) % d->cap;
		d->count--;
	}
}

static void print_stats(const struct dir *ab, const struct dir *ba)
{
	printf("stats ab-forwarded=%" PRIu64 " ab-lost=%" PRIu64 " ab-overflow=%" PRIu64
	       " ab-failed=%" PRIu64 " ba-forwarded=%" PRIu64 " ba-lost=%" PRIu64
	       " ba-overflow=%" PRIu64 " ba-failed=%" PRIu64 "\n",
	       ab->forwarded, ab->lost, ab->overflow, ab->failed, ba->forwarded, ba->lost,
	       ba->overflow, ba->failed);
	fflush(stdout);
}

/* Commands read from stdin so far (a partial line waits for its end). */
static char cmd_buf[256];
static size_t cmd_len;

static void run_command(char *line, const struct dir *ab, const struct dir *ba)
{
	char *arg = strchr(line, ' ');
	if (arg)
		*arg++ = '\0';
	double pct;
	if (strcmp(line, "stats") == 0 && !arg) {
		print_stats(ab, ba);
		return;
	} else if (strcmp(line, "loss") == 0 && arg && parse_pct(arg, &pct)) {
		set_loss(pct);
		printf("ok loss=%g\n", loss_pct);
	} else if (strcmp(line, "delay") == 0 && arg) {
		char *end;
		errno = 0;
		unsigned long ms = strtoul(arg, &end, 10);
		if (errno || end == arg || *end || arg[0] == '-' || ms > 60000) {
			printf("error delay takes 0..60000 ms, not '%s'\n", arg);
		} else {
			delay_ns = (uint64_t)ms * 1000000u;
			printf("ok delay-ms=%lu\n", ms);
		}
	} else {
		printf("error unknown command '%s' (loss PERCENT, delay MS, stats)\n", line);
	}
	fflush(stdout);
}

/* Read stdin; false at its end (the caller stops watching it). */
static bool read_commands(const struct dir *ab, const struct dir *ba)
{
	ssize_t n = read(STDIN_FILENO, cmd_buf + cmd_len, sizeof(cmd_buf) - 1 - cmd_len);
	if (n < 0)
		return errno == EINTR || errno == EAGAIN;
	if (n == 0)
		return false;
	cmd_len += (size_t)n;
	cmd_buf[cmd_len] = '\0';
	char *nl;
	while ((nl = strchr(cmd_buf, '\n'))) {
		*nl = '\0';
		run_command(cmd_buf, ab, ba);
		cmd_len -= (size_t)(nl + 1 - cmd_buf);
		memmove(cmd_buf, nl + 1, cmd_len + 1);
	}
	if (cmd_len == sizeof(cmd_buf) - 1) {
		printf("error command line longer than %zu bytes\n", sizeof(cmd_buf) - 2);
		fflush(stdout);
		cmd_len = 0;
	}
	return true;
}

static void usage(const char *argv0)
{
	fprintf(stderr,
	        "usage: %s --dev-a NAME [--ns-a NS] --dev-b NAME [--ns-b NS]\n"
	        "       [--delay-ms N] [--loss PERCENT] [--seed N] [--queue N]\n",
	        argv0);
	exit(2);
}

int main(int argc, char **argv)
{
	const char *ns_a = NULL, *ns_b = NULL, *dev_a = NULL, *dev_b = NULL;
	unsigned long delay_ms = 0, queue = 1024;
	double loss = 0;
	uint64_t seed = 0;
	bool have_seed = false;
	for (int i = 1; i < argc; i++) {
		const char *o = argv[i];
		if (i + 1 >= argc)
			usage(argv[0]);
		const char *v = argv[++i];
		if (strcmp(o, "--ns-a") == 0) {
			ns_a = v;
		} else if (strcmp(o, "--ns-b") == 0) {
			ns_b = v;
		} else if (strcmp(o, "--dev-a") == 0) {
			dev_a = v;
		} else if (strcmp(o, "--dev-b") == 0) {
			dev_b = v;
		} else if (strcmp(o, "--delay-ms") == 0) {
			delay_ms = parse_ulong(o, v, 60000);
		} else if (strcmp(o, "--queue") == 0) {
			queue = parse_ulong(o, v, 65536);
			if (queue == 0)
				die("--queue takes 1..65536 packets");
		} else if (strcmp(o, "--seed") == 0) {
			seed = parse_ulong(o, v, UINT32_MAX);
			have_seed = true;
		} else if (strcmp(o, "--loss") == 0) {
			if (!parse_pct(v, &loss))
				die("--loss takes a percentage 0..100, not '%s'", v);
		} else {
			usage(argv[0]);
		}
	}
	if (!dev_a || !dev_b)
		usage(argv[0]);
	bool same_ns = ns_a && ns_b ? strcmp(ns_a, ns_b) == 0 : ns_a == ns_b;
	if (strcmp(dev_a, dev_b) == 0 && same_ns)
		die("--dev-a and --dev-b would be the same device");
	delay_ns = (uint64_t)delay_ms * 1000000u;
	set_loss(loss);
	rng_state = have_seed ? seed : now_ns() ^ ((uint64_t)getpid() << 32);

	/* Signals arrive through a descriptor, read in the same poll as the
	 * packets: no handler races with the queues. */
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGUSR1);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		die("sigprocmask: %s", strerror(errno));
	int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0)
		die("signalfd: %s", strerror(errno));
	/* A test that dies without stopping us must not leave the devices. */
	pid_t parent = getppid();
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0)
		die("prctl(PR_SET_PDEATHSIG): %s", strerror(errno));
	if (getppid() != parent)
		return 0;

	int home = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (home < 0)
		die("open /proc/self/ns/net: %s", strerror(errno));
	int a = tun_in(ns_a, dev_a, home);
	int b = tun_in(ns_b, dev_b, home);
	close(home);

	struct dir ab, ba;
	dir_init(&ab, a, b, (unsigned)queue);
	dir_init(&ba, b, a, (unsigned)queue);
	printf("ready dev-a=%s dev-b=%s delay-ms=%lu loss=%g queue=%lu\n", dev_a, dev_b, delay_ms,
	       loss_pct, queue);
	fflush(stdout);

	bool stdin_open = true;
	for (;;) {
		uint64_t now = now_ns();
		dir_write(&ab, now);
		dir_write(&ba, now);
		uint64_t next = UINT64_MAX;
		if (ab.count)
			next = ab.slot[ab.head].due_ns;
		if (ba.count && ba.slot[ba.head].due_ns < next)
			next = ba.slot[ba.head].due_ns;
		/* ppoll's nanosecond timeout keeps the delay exact (poll's would
		 * round to milliseconds). */
		struct timespec ts, *tsp = NULL;
		if (next != UINT64_MAX) {
			uint64_t left = next > now ? next - now : 0;
			ts.tv_sec = (time_t)(left / 1000000000u);
			ts.tv_nsec = (long)(left % 1000000000u);
			tsp = &ts;
		}
		struct pollfd pfd[4] = {{.fd = a, .events = POLLIN},
		                        {.fd = b, .events = POLLIN},
		                        {.fd = sfd, .events = POLLIN},
		                        {.fd = stdin_open ? STDIN_FILENO : -1, .events = POLLIN}};
		if (ppoll(pfd, 4, tsp, NULL) < 0) {
			if (errno == EINTR)
				continue;
			die("ppoll: %s", strerror(errno));
		}
		now = now_ns();
		if (pfd[0].revents & (POLLERR | POLLHUP) || pfd[1].revents & (POLLERR | POLLHUP))
			die("a TUN device went away");
		if (pfd[0].revents & POLLIN)
			dir_read(&ab, now);
		if (pfd[1].revents & POLLIN)
			dir_read(&ba, now);
		if (pfd[3].revents & (POLLIN | POLLHUP | POLLERR))
			stdin_open = read_commands(&ab, &ba);
		if (pfd[2].revents & POLLIN) {
			struct signalfd_siginfo si;
			while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
				print_stats(&ab, &ba);
				if (si.ssi_signo != SIGUSR1) {
					free(ab.slot);
					free(ba.slot);
					close(a);
					close(b);
					return 0;
				}
			}
		}
	}
}
