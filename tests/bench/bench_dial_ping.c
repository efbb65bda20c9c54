/* Dial -> first ping reply: milliseconds and round trips.
 *
 * Each sample is a fresh client host (a new peer ID, so nothing is reused)
 * dialing a server host in another process and pinging it twice over
 * /ipfs/ping/1.0.0: the figure is the wall time from host_dial() to the
 * first echo (TCP handshake, mss, Noise XX, yamux, the ping stream's mss
 * and the echo), and the second round's RTT is the unit it is divided by.
 * The goal is 3 round trips.
 *
 * Two links:
 *   loopback   both hosts on 127.0.0.1 (the RTT is microseconds, so the
 *              figure is CPU time: key exchange and signatures)
 *   20 ms RTT  the two hosts in two network namespaces this program creates
 *              (unshare(CLONE_NEWNET): they vanish with the processes, even
 *              on a crash, as do the links inside them), joined by a veth
 *              pair with `tc qdisc add dev X root netem delay 10ms` on both
 *              ends. A kernel without sch_netem gets a delay line instead:
 *              tests/netns/delayline, a TUN device in each namespace and a
 *              process forwarding every packet between them 10 ms late in
 *              each direction. Needs root; skipped with a message otherwise.
 * Figures only: no timing is asserted.
 *
 * Usage: bench_dial_ping [--samples N] [--delay-ms N] [--no-netns] [--tun]
 *   --tun  use the TUN delay line even where netem exists (to compare) */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "benchhost.h"
#include "net/ping.h"

#define NET_CLIENT "10.213.0.1"
#define NET_SERVER "10.213.0.2"
#define VETH_CLIENT "sdbench0"
#define VETH_SERVER "sdbench1"
#define TUN_NAME "sdbtun0"

static unsigned delay_ms = 10;
static bool force_tun;

/* ---- shell commands (ip, tc) ---- */

/* Run a command line; its exit status (-1 when it could not run). */
static int sh(bool quiet, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int sh(bool quiet, const char *fmt, ...)
{
	char cmd[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	char full[600];
	snprintf(full, sizeof(full), "%s%s", cmd, quiet ? " >/dev/null 2>&1" : "");
	fflush(NULL);
	int st = system(full);
	if (st == -1 || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

static void sh_ok(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh_ok(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (sh(false, "%s", cmd) != 0)
		bench_die("command failed: %s", cmd);
}

/* ---- one sample ---- */

struct sample {
	bool dialed, replied, done;
	int err;
	char msg[512];
	uint64_t t0, t_conn, t_first, rtt2_us;
	unsigned rounds;
	struct host *h;
};

static void on_ping(uint64_t rtt_us, int err, const char *msg, bool done, void *ctx)
{
	struct sample *x = ctx;
	if (err < 0) {
		x->err = err;
		snprintf(x->msg, sizeof(x->msg), "ping: %s", msg ? msg : "");
	} else if (x->rounds++ == 0) {
		x->t_first = bench_now_ns();
	} else {
		x->rtt2_us = rtt_us;
	}
	x->done = done;
}

static void dial_cb(struct host *h, struct conn *c, int err, const char *msg, void *ctx)
{
	struct sample *x = ctx;
	x->t_conn = bench_now_ns();
	x->dialed = true;
	if (err < 0) {
		x->err = err;
		snprintf(x->msg, sizeof(x->msg), "dial: %s", msg ? msg : "");
		x->done = true;
		return;
	}
	struct ping_params p = {.count = 2, .interval_ms = 0, .timeout_ms = 10000};
	int r = ping_start(h, c, &p, on_ping, x, NULL);
	if (r < 0) {
		x->err = r;
		snprintf(x->msg, sizeof(x->msg), "ping_start: %s", strerror(-r));
		x->done = true;
	}
}

static bool sample_done(void *arg)
{
	return ((struct sample *)arg)->done;
}

static void one_sample(const char *listen, const char *addr, struct sample *x)
{
	struct bench_node n;
	bench_node_new(&n, listen, NULL);
	memset(x, 0, sizeof(*x));
	struct multiaddr ma;
	struct errmsg err;
	if (multiaddr_parse(addr, &ma, &err) < 0)
		bench_die("address %s: %s", addr, err.text);
	x->t0 = bench_now_ns();
	int r = host_dial(n.h, &ma, 0, dial_cb, x);
	multiaddr_free(&ma);
	if (r < 0)
		bench_die("host_dial: %s", strerror(-r));
	if (!bench_run_until(&n, sample_done, x, 60000))
		bench_die("no ping reply within 60 s");
	if (x->err < 0)
		bench_die("%s", x->msg);
	bench_node_free(&n);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static uint64_t median(uint64_t *v, unsigned n)
{
	qsort(v, n, sizeof(*v), cmp_u64);
	return v[n / 2];
}

static void measure(const char *title, const char *cmd, const char *listen, const char *addr,
                    unsigned samples, bool rtt_bound)
{
	uint64_t first[64] = {0}, conn[64] = {0}, rtt[64] = {0};
	for (unsigned i = 0; i < samples; i++) {
		struct sample x;
		one_sample(listen, addr, &x);
		first[i] = x.t_first - x.t0;
		conn[i] = x.t_conn - x.t0;
		rtt[i] = x.rtt2_us;
	}
	uint64_t min_first = first[0];
	for (unsigned i = 1; i < samples; i++)
		min_first = first[i] < min_first ? first[i] : min_first;
	double f = (double)median(first, samples) / 1e6;
	double c = (double)median(conn, samples) / 1e6;
	double r = (double)median(rtt, samples) / 1e3;
	printf("=== dial -> first ping reply, %s, median of %u fresh dials: %s ===\n", title,
	       samples, cmd);
	printf("dial->reply  %.3f ms (min %.3f) = %.2f round trips of %.3f ms (the second "
	       "ping's RTT)%s\n",
	       f, (double)min_first / 1e6, f / r, r, rtt_bound ? "  (goal: 3)" : "");
	printf("dial done    %.3f ms = %.2f round trips (host_dial callback: upgrade finished)\n",
	       c, c / r);
	if (!rtt_bound)
		printf("             (loopback: the RTT is tiny, so this is CPU time, not round "
		       "trips)\n");
	fflush(stdout);
}

static void on_host_ping(struct host *h)
{
	int r = ping_register(h);
	if (r < 0)
		bench_die("ping_register: %s", strerror(-r));
}

/* ---- the delayed link ---- */

enum link_kind { LINK_NETEM, LINK_TUN };

/* Can we make a namespace, a veth pair and netem in it? Probed in a child
 * that unshares its own namespace, so nothing is left behind. */
static int probe(void)
{
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		bench_die("fork: %s", strerror(errno));
	if (pid == 0) {
		if (unshare(CLONE_NEWNET) < 0)
			_exit(2);
		if (sh(true, "ip link add " VETH_CLIENT " type veth peer name " VETH_SERVER) != 0)
			_exit(3);
		if (sh(true, "tc qdisc add dev " VETH_CLIENT " root netem delay %ums", delay_ms) !=
		    0)
			_exit(4);
		_exit(0);
	}
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			bench_die("waitpid: %s", strerror(errno));
	return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}

/* The delay line is tests/netns/delayline (the netns suite's too): it makes
 * the TUN device in our namespace and the server's, forwards between them
 * delay_ms late each way, and exits on SIGTERM. $SDNETD_DELAYLINE, else
 * next to this program in the build tree. */
static void delayline_path(char *out, size_t len)
{
	const char *env = getenv("SDNETD_DELAYLINE");
	if (env && env[0]) {
		snprintf(out, len, "%s", env);
		return;
	}
	char self[512];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n < 0)
		bench_die("readlink /proc/self/exe: %s", strerror(errno));
	self[n] = '\0';
	char *slash = strrchr(self, '/');
	if (slash)
		*slash = '\0';
	snprintf(out, len, "%s/../netns/delayline", self);
}

/* Start it; returns its pid once both devices exist (its "ready" line).
 * The child closes its copies of the server's pipes before exec, or the
 * server would never see its stop pipe close. */
static pid_t start_delay_line(const struct bench_server *srv)
{
	char path[600], ns[64], delay[16];
	delayline_path(path, sizeof(path));
	if (access(path, X_OK) < 0)
		bench_die("%s: %s (build tests/netns/delayline, or set SDNETD_DELAYLINE)", path,
		          strerror(errno));
	snprintf(ns, sizeof(ns), "/proc/%d/ns/net", (int)srv->pid);
	snprintf(delay, sizeof(delay), "%u", delay_ms);
	int out[2];
	if (pipe2(out, O_CLOEXEC) < 0)
		bench_die("pipe: %s", strerror(errno));
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		bench_die("fork: %s", strerror(errno));
	if (pid == 0) {
		close(srv->up);
		close(srv->down);
		if (dup2(out[1], STDOUT_FILENO) < 0)
			_exit(127);
		execl(path, path, "--dev-a", TUN_NAME, "--dev-b", TUN_NAME, "--ns-b", ns,
		      "--delay-ms", delay, (char *)NULL);
		_exit(127);
	}
	close(out[1]);
	char line[256];
	bench_read_line(out[0], line, sizeof(line), 10000);
	close(out[0]);
	if (strncmp(line, "ready ", 6) != 0)
		bench_die("delayline: %s", line);
	return pid;
}

static void stop_delay_line(pid_t pid)
{
	kill(pid, SIGTERM);
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			bench_die("waitpid: %s", strerror(errno));
}

struct ns_setup {
	enum link_kind kind;
};

/* In the server child: our own namespace, then our end of the link once
 * the parent made it. */
static void server_netns_setup(int up, int down, void *arg)
{
	struct ns_setup *ns = arg;
	if (unshare(CLONE_NEWNET) < 0)
		bench_die("unshare(CLONE_NEWNET): %s", strerror(errno));
	bench_write_line(up, "ns");
	char line[16];
	bench_read_line(down, line, sizeof(line), 30000);
	const char *dev = ns->kind == LINK_NETEM ? VETH_SERVER : TUN_NAME;
	sh_ok("ip link set lo up");
	sh_ok("ip addr add " NET_SERVER "/24 dev %s", dev);
	sh_ok("ip link set %s up", dev);
	if (ns->kind == LINK_NETEM)
		sh_ok("tc qdisc add dev %s root netem delay %ums", dev, delay_ms);
}

static void run_netns(const char *cmd, unsigned samples)
{
	int pr = probe();
	if (pr == 2 || pr == 3) {
		printf("=== dial -> first ping reply, %u ms RTT: SKIPPED (%s; needs root) ===\n",
		       2 * delay_ms,
		       pr == 2 ? "cannot create a network namespace" : "cannot create a veth pair");
		return;
	}
	struct ns_setup nss = {.kind = pr == 0 && !force_tun ? LINK_NETEM : LINK_TUN};
	struct bench_server srv;
	char listen[64];
	snprintf(listen, sizeof(listen), "/ip4/%s/tcp/0", NET_SERVER);
	struct bench_server_cfg cfg = {.listen = listen,
	                               .on_host = on_host_ping,
	                               .setup = server_netns_setup,
	                               .arg = &nss,
	                               .no_wait = true};
	bench_server_start(&srv, &cfg);
	char line[MULTIADDR_TEXT_MAX];
	bench_read_line(srv.up, line, sizeof(line), 30000);

	/* This process moves to its own namespace too: from here on nothing
	 * we do can touch the machine's interfaces. */
	if (unshare(CLONE_NEWNET) < 0)
		bench_die("unshare(CLONE_NEWNET): %s", strerror(errno));
	pid_t line_pid = 0;
	const char *dev;
	if (nss.kind == LINK_NETEM) {
		sh_ok("ip link add " VETH_CLIENT " type veth peer name " VETH_SERVER " netns %d",
		      (int)srv.pid);
		dev = VETH_CLIENT;
	} else {
		line_pid = start_delay_line(&srv);
		dev = TUN_NAME;
	}
	sh_ok("ip link set lo up");
	sh_ok("ip addr add " NET_CLIENT "/24 dev %s", dev);
	sh_ok("ip link set %s up", dev);
	if (nss.kind == LINK_NETEM)
		sh_ok("tc qdisc add dev %s root netem delay %ums", dev, delay_ms);
	bench_write_line(srv.down, "go");
	bench_read_line(srv.up, srv.addr, sizeof(srv.addr), 30000);

	char title[160];
	if (nss.kind == LINK_NETEM)
		snprintf(title, sizeof(title),
		         "%u ms RTT (two network namespaces, veth, netem delay %ums on both ends)",
		         2 * delay_ms, delay_ms);
	else
		snprintf(title, sizeof(title),
		         "%u ms RTT (two network namespaces, %s: TUN delay line, %u ms each way)",
		         2 * delay_ms, force_tun ? "--tun" : "no sch_netem in this kernel",
		         delay_ms);
	char mylisten[64];
	snprintf(mylisten, sizeof(mylisten), "/ip4/%s/tcp/0", NET_CLIENT);
	measure(title, cmd, mylisten, srv.addr, samples, true);

	bench_server_stop(&srv);
	if (line_pid)
		stop_delay_line(line_pid);
}

int main(int argc, char **argv)
{
	unsigned samples = 5;
	bool netns = true;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--samples") == 0 && i + 1 < argc)
			samples = (unsigned)strtoul(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--delay-ms") == 0 && i + 1 < argc)
			delay_ms = (unsigned)strtoul(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--no-netns") == 0)
			netns = false;
		else if (strcmp(argv[i], "--tun") == 0)
			force_tun = true;
		else
			bench_die("usage: %s [--samples N] [--delay-ms N] [--no-netns] [--tun]",
			          argv[0]);
	}
	if (samples == 0 || samples > 64 || delay_ms == 0 || delay_ms > 1000)
		bench_die("--samples takes 1..64, --delay-ms 1..1000");
	signal(SIGPIPE, SIG_IGN);
	char cmd[1024];
	bench_command_line(argc, argv, cmd, sizeof(cmd));

	struct bench_server srv;
	struct bench_server_cfg cfg = {.listen = "/ip4/127.0.0.1/tcp/0", .on_host = on_host_ping};
	bench_server_start(&srv, &cfg);
	measure("loopback", cmd, "/ip4/127.0.0.1/tcp/0", srv.addr, samples, false);
	bench_server_stop(&srv);

	if (!netns)
		return 0;
	if (geteuid() != 0) {
		printf("=== dial -> first ping reply, %u ms RTT: SKIPPED (not root: network "
		       "namespaces, veth and netem need it) ===\n",
		       2 * delay_ms);
		return 0;
	}
	run_netns(cmd, samples);
	return 0;
}
