/* Shared plumbing of the C host benchmarks (see benchhost.h). */
#include "benchhost.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "keys.h"
#include "multiaddr.h"

int bench_report_fd = -1;

void bench_die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "bench: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

uint64_t bench_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void bench_node_new(struct bench_node *n, const char *listen, const struct protocol_handler *table)
{
	struct privkey key;
	if (privkey_generate(&key) < 0)
		bench_die("privkey_generate failed");
	struct multiaddr ma;
	struct errmsg err;
	if (multiaddr_parse(listen, &ma, &err) < 0)
		bench_die("listen address %s: %s", listen, err.text);
	n->base = event_base_new();
	if (!n->base)
		bench_die("event_base_new failed");
	struct host_config cfg = {
	        .key = &key, .agent_version = "sdnetd-bench/1", .listen = &ma, .n_listen = 1};
	int r = host_new(n->base, &cfg, &n->h, &err);
	multiaddr_free(&ma);
	privkey_wipe(&key);
	if (r < 0)
		bench_die("host_new(%s): %s", listen, err.text);
	if (table && (r = protocols_register(host_protocols(n->h), table, NULL)) < 0)
		bench_die("protocols_register: %s", strerror(-r));
}

void bench_node_free(struct bench_node *n)
{
	host_free(n->h);
	event_base_free(n->base);
	n->h = NULL;
	n->base = NULL;
}

void bench_node_addr(const struct bench_node *n, char *out, size_t len)
{
	const struct multiaddr *v;
	if (host_listen_addrs(n->h, &v) < 1)
		bench_die("host has no listen address");
	struct multiaddr ma;
	if (multiaddr_copy(&v[0], &ma) < 0 || multiaddr_append_p2p(&ma, host_peer_id(n->h)) < 0 ||
	    multiaddr_to_string(&ma, out, len) < 0)
		bench_die("cannot format the listen address");
	multiaddr_free(&ma);
}

/* ---- running the loop ---- */

static void expire_cb(evutil_socket_t fd, short what, void *arg)
{
	*(bool *)arg = true;
}

bool bench_run_until(struct bench_node *n, bench_cond cond, void *arg, uint32_t ms)
{
	bool expired = false;
	struct event *t = evtimer_new(n->base, expire_cb, &expired);
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	evtimer_add(t, &tv);
	while (!cond(arg) && !expired)
		event_base_loop(n->base, EVLOOP_ONCE);
	event_free(t);
	return cond(arg);
}

struct pending {
	bool done;
	int err;
	char msg[512];
	struct conn *c;
	struct stream *s;
};

static bool pending_done(void *arg)
{
	return ((struct pending *)arg)->done;
}

static void dial_cb(struct host *h, struct conn *c, int err, const char *msg, void *ctx)
{
	struct pending *p = ctx;
	p->done = true;
	p->c = c;
	p->err = err;
	snprintf(p->msg, sizeof(p->msg), "%s", msg ? msg : "");
}

struct conn *bench_dial(struct bench_node *n, const char *addr)
{
	struct multiaddr ma;
	struct errmsg err;
	if (multiaddr_parse(addr, &ma, &err) < 0)
		bench_die("address %s: %s", addr, err.text);
	struct pending p = {0};
	int r = host_dial(n->h, &ma, 0, dial_cb, &p);
	multiaddr_free(&ma);
	if (r < 0)
		bench_die("host_dial(%s): %s", addr, strerror(-r));
	if (!bench_run_until(n, pending_done, &p, 30000))
		bench_die("dial %s: no result in 30 s", addr);
	if (p.err < 0)
		bench_die("dial %s: %s", addr, p.msg);
	return p.c;
}

static void open_cb(struct stream *s, int err, void *ctx)
{
	struct pending *p = ctx;
	p->done = true;
	p->s = s;
	p->err = err;
}

struct stream *bench_open(struct bench_node *n, struct conn *c, const char *protocol)
{
	struct pending p = {0};
	int r = host_open_stream(n->h, c, protocol, open_cb, &p);
	if (r < 0)
		bench_die("host_open_stream(%s): %s", protocol, strerror(-r));
	if (!bench_run_until(n, pending_done, &p, 30000))
		bench_die("open %s: no result in 30 s", protocol);
	if (p.err < 0)
		bench_die("open %s: %s", protocol, strerror(-p.err));
	return p.s;
}

/* ---- lines over pipes ---- */

void bench_read_line(int fd, char *out, size_t len, uint32_t ms)
{
	size_t n = 0;
	uint64_t deadline = bench_now_ns() + (uint64_t)ms * 1000000u;
	for (;;) {
		uint64_t now = bench_now_ns();
		if (now >= deadline)
			bench_die("no line from the other process within %u ms", ms);
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int r = poll(&pfd, 1, (int)((deadline - now) / 1000000u) + 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			bench_die("poll: %s", strerror(errno));
		if (r == 0)
			continue;
		char ch;
		ssize_t got = read(fd, &ch, 1);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			bench_die("read: %s", strerror(errno));
		if (got == 0)
			bench_die("the other process ended early");
		if (ch == '\n')
			break;
		if (n + 1 < len)
			out[n++] = ch;
	}
	out[n] = '\0';
}

void bench_write_line(int fd, const char *fmt, ...)
{
	char line[4096];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line) - 1)
		bench_die("line too long");
	line[n++] = '\n';
	for (int off = 0; off < n;) {
		ssize_t w = write(fd, line + off, (size_t)(n - off));
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			bench_die("write: %s", strerror(errno));
		off += (int)w;
	}
}

void bench_command_line(int argc, char **argv, char *out, size_t len)
{
	size_t off = 0;
	out[0] = '\0';
	for (int i = 0; i < argc && off < len; i++) {
		int n = snprintf(out + off, len - off, "%s%s", i ? " " : "", argv[i]);
		if (n < 0)
			break;
		off += (size_t)n;
	}
}

/* ---- the server child ---- */

/* Lines the parent sends after setup are ignored; EOF stops the server. */
static void stop_cb(evutil_socket_t fd, short what, void *arg)
{
	char junk[64];
	ssize_t n = read(fd, junk, sizeof(junk));
	if (n <= 0 || what & EV_TIMEOUT)
		event_base_loopbreak(arg);
}

static void __attribute__((noreturn))
child_main(int up, int down, const struct bench_server_cfg *cfg)
{
	/* A parent killed by a signal must not leave a server running. */
	signal(SIGPIPE, SIG_IGN);
	if (cfg->setup)
		cfg->setup(up, down, cfg->arg);
	bench_report_fd = up;
	struct bench_node n;
	bench_node_new(&n, cfg->listen, cfg->table);
	if (cfg->on_host)
		cfg->on_host(n.h);
	char addr[MULTIADDR_TEXT_MAX];
	bench_node_addr(&n, addr, sizeof(addr));
	bench_write_line(up, "%s", addr);
	struct event *stop = event_new(n.base, down, EV_READ | EV_PERSIST, stop_cb, n.base);
	event_add(stop, NULL);
	event_base_dispatch(n.base);
	event_free(stop);
	bench_node_free(&n);
	_exit(0);
}

void bench_server_start(struct bench_server *s, const struct bench_server_cfg *cfg)
{
	int up[2], down[2];
	if (pipe2(up, O_CLOEXEC) < 0 || pipe2(down, O_CLOEXEC) < 0)
		bench_die("pipe: %s", strerror(errno));
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		bench_die("fork: %s", strerror(errno));
	if (pid == 0) {
		close(up[0]);
		close(down[1]);
		child_main(up[1], down[0], cfg);
	}
	close(up[1]);
	close(down[0]);
	s->pid = pid;
	s->up = up[0];
	s->down = down[1];
	s->addr[0] = '\0';
	if (!cfg->no_wait)
		bench_read_line(s->up, s->addr, sizeof(s->addr), 30000);
}

void bench_server_stop(struct bench_server *s)
{
	if (s->pid <= 0)
		return;
	close(s->down);
	int status;
	while (waitpid(s->pid, &status, 0) < 0) {
		if (errno != EINTR)
			bench_die("waitpid: %s", strerror(errno));
	}
	close(s->up);
	s->pid = 0;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		bench_die("the server process failed (status %d)", status);
}
