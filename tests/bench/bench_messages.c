/* DeviceMessages per second on one device connection, next to a raw yamux
 * stream echo in the same run, and the memory a message hub needs per
 * connected device.
 *
 * Two processes on loopback, each with its own loop and host (a forked
 * child is the hub), each with a message service (daemon/messages) whose
 * link provider is a stub: every connection counts as an authenticated
 * paired device. Rows, --seconds each unless said:
 *   raw yamux echo       64-byte messages echoed on one stream, up to
 *                        --depth in flight: the transport's ceiling
 *   request/reply        Custom requests with a 16-byte payload, answered by
 *                        the hub's handler at once, up to --depth waiting
 *   one-way              the same messages without replies, as fast as the
 *                        sender's queue takes them; counted by the hub
 *   durable              --durable messages stored (encrypted, fsync) and
 *                        sent, until every Ack is in: one-way, exactly once
 *   hub RSS              the hub's VmRSS with 1 device, then with
 *                        --devices more connected, each with its message
 *                        stream open and one request answered
 * Figures only: no timing is asserted.
 *
 * Usage: bench_messages [--seconds N] [--depth N] [--durable N] [--devices N] */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "benchhost.h"
#include "buf.h"
#include "messages/messages.h"
#include "securestore.h"

#define ECHO "/sdnetd-bench/echo/1.0.0"
#define RAW_MSG 64
#define PAYLOAD "0123456789abcdef"
#define SRV_OUT_MAX ((size_t)64 * 1024)
#define MAX_DEVICES 200

static void flush_out(struct stream *s, struct buf *out)
{
	if (out->len == 0)
		return;
	long w = stream_write(s, out->data, out->len);
	if (w < 0)
		bench_die("stream_write: %s", strerror((int)-w));
	buf_consume(out, (size_t)w);
}

/* ---- a message service with a stub link provider ------------------------ */

/* Peers seen on a host, each named "dev-N" as a paired device would be. */
struct side {
	struct host *h;
	struct securestore *store;
	char dir[64];
	struct messages *m;
	struct host_observer obs;
	struct peerid peers[MAX_DEVICES + 1];
	size_t npeers;
};

static const char *side_device_of(void *ctx, const struct conn *c)
{
	static char id[MAX_DEVICES + 1][32];
	struct side *s = ctx;
	for (size_t i = 0; i < s->npeers; i++) {
		if (peerid_equal(&s->peers[i], conn_peer(c))) {
			snprintf(id[i], sizeof(id[i]), "dev-%zu", i);
			return id[i];
		}
	}
	if (s->npeers > MAX_DEVICES)
		return NULL;
	s->peers[s->npeers++] = *conn_peer(c);
	return side_device_of(ctx, c);
}

static struct conn *side_conn_of(void *ctx, const char *device_id)
{
	struct side *s = ctx;
	size_t i = strtoul(device_id + 4, NULL, 10);
	return i < s->npeers ? host_find_conn(s->h, &s->peers[i]) : NULL;
}

static void side_connected(struct host *h, struct conn *c, void *ctx)
{
	side_device_of(ctx, c);
}

static void side_start(struct side *s, struct host *h)
{
	s->h = h;
	snprintf(s->dir, sizeof(s->dir), "/tmp/sdnetd-bench-msg-XXXXXX");
	if (!mkdtemp(s->dir))
		bench_die("mkdtemp: %s", strerror(errno));
	struct errmsg err;
	static const struct securestore_opts opts = {0};
	if (securestore_open(s->dir, &opts, &s->store, &err) < 0)
		bench_die("securestore: %s", err.text);
	s->obs = (struct host_observer){side_connected, NULL, s};
	host_add_observer(h, &s->obs);
	struct messages_config cfg = {
	        .base = host_base(h),
	        .host = h,
	        .store = s->store,
	        .links = {side_conn_of, side_device_of, NULL, NULL, s},
	};
	if (messages_new(&cfg, &s->m, &err) < 0)
		bench_die("messages_new: %s", err.text);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void side_free(struct side *s)
{
	host_remove_observer(s->h, &s->obs);
	messages_free(s->m);
	securestore_close(s->store);
	nftw(s->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static int respond_text(struct messages *m, const struct messages_incoming *in, const char *text)
{
	DevmsgPb__Custom c = DEVMSG_PB__CUSTOM__INIT;
	c.protocol = in->msg->custom->protocol;
	c.has_payload = 1;
	c.payload = (ProtobufCBinaryData){strlen(text), (uint8_t *)text};
	devmsg_pb r = DEVMSG_PB__DEVICE_MESSAGE__INIT;
	r.body_case = DEVMSG_PB__DEVICE_MESSAGE__BODY_CUSTOM;
	r.custom = &c;
	return messages_respond(m, in, &r);
}

/* ---- the hub (child) ----------------------------------------------------- */

static struct side hub;
static uint64_t hub_sunk;

static int on_sink(void *ctx, struct messages *m, const struct messages_incoming *in)
{
	hub_sunk++;
	return 0;
}

static int on_echo(void *ctx, struct messages *m, const struct messages_incoming *in)
{
	DevmsgPb__Custom c = *in->msg->custom;
	c.has_expects_reply = 0;
	devmsg_pb r = DEVMSG_PB__DEVICE_MESSAGE__INIT;
	r.body_case = DEVMSG_PB__DEVICE_MESSAGE__BODY_CUSTOM;
	r.custom = &c;
	return messages_respond(m, in, &r);
}

/* How many one-way messages arrived since the last ask. */
static int on_count(void *ctx, struct messages *m, const struct messages_incoming *in)
{
	char text[32];
	snprintf(text, sizeof(text), "%llu", (unsigned long long)hub_sunk);
	hub_sunk = 0;
	return respond_text(m, in, text);
}

static long rss_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;
	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, "VmRSS:", 6) == 0)
			kb = strtol(line + 6, NULL, 10);
	if (f)
		fclose(f);
	return kb;
}

static int on_rss(void *ctx, struct messages *m, const struct messages_incoming *in)
{
	char text[32];
	snprintf(text, sizeof(text), "%ld", rss_kb());
	return respond_text(m, in, text);
}

static void hub_on_host(struct host *h)
{
	side_start(&hub, h);
	if (messages_register(hub.m, "bench/sink", on_sink, NULL) < 0 ||
	    messages_register(hub.m, "bench/echo", on_echo, NULL) < 0 ||
	    messages_register(hub.m, "bench/count", on_count, NULL) < 0 ||
	    messages_register(hub.m, "bench/rss", on_rss, NULL) < 0)
		bench_die("cannot register the hub's handlers");
}

/* The raw echo: every byte back, holding at most SRV_OUT_MAX unsent. */
struct echo {
	struct buf out;
};

static void echo_pump(struct stream *s, void *ctx)
{
	struct echo *e = ctx;
	flush_out(s, &e->out);
	const uint8_t *p;
	size_t len;
	stream_peek(s, &p, &len);
	size_t n = len < SRV_OUT_MAX - e->out.len ? len : SRV_OUT_MAX - e->out.len;
	if (n && buf_append(&e->out, p, n) == 0) {
		stream_consume(s, n);
		flush_out(s, &e->out);
	}
}

static void echo_closed(struct stream *s, int err, void *ctx)
{
	struct echo *e = ctx;
	buf_free(&e->out);
	free(e);
}

static void echo_eof(struct stream *s, void *ctx)
{
	echo_pump(s, ctx);
	stream_close_write(s);
}

static const struct stream_callbacks echo_cbs = {
        .on_data = echo_pump,
        .on_writable = echo_pump,
        .on_eof = echo_eof,
        .on_closed = echo_closed,
};

static void echo_on_stream(struct stream *s, void *ctx)
{
	struct echo *e = calloc(1, sizeof(*e));
	if (!e)
		bench_die("out of memory");
	stream_set_callbacks(s, &echo_cbs, e);
}

static const struct protocol_handler hub_protocols[] = {
        {ECHO, echo_on_stream, 0},
        {0},
};

/* The hub's process: benchhost's server, but with room for every device
 * from one loopback address (the default per-IP cap is 16). */
static void hub_stop(evutil_socket_t fd, short what, void *arg)
{
	char junk[64];
	if (read(fd, junk, sizeof(junk)) <= 0)
		event_base_loopbreak(arg);
}

static void __attribute__((noreturn)) hub_main(int up, int down)
{
	signal(SIGPIPE, SIG_IGN);
	struct event_base *base = event_base_new();
	struct privkey key;
	struct multiaddr ma;
	struct errmsg err;
	if (!base || privkey_generate(&key) < 0 ||
	    multiaddr_parse("/ip4/127.0.0.1/tcp/0", &ma, NULL) < 0)
		bench_die("hub setup failed");
	struct host_config cfg = {
	        .key = &key,
	        .agent_version = "sdnetd-bench/1",
	        .listen = &ma,
	        .n_listen = 1,
	        .limits = {.max_conns = 4 * MAX_DEVICES, .max_conns_per_ip = 2 * MAX_DEVICES},
	};
	struct bench_node n = {.base = base};
	if (host_new(base, &cfg, &n.h, &err) < 0)
		bench_die("host_new: %s", err.text);
	privkey_wipe(&key);
	multiaddr_free(&ma);
	if (protocols_register(host_protocols(n.h), hub_protocols, NULL) < 0)
		bench_die("protocols_register failed");
	hub_on_host(n.h);
	char addr[MULTIADDR_TEXT_MAX];
	bench_node_addr(&n, addr, sizeof(addr));
	bench_write_line(up, "%s", addr);
	struct event *stop = event_new(base, down, EV_READ | EV_PERSIST, hub_stop, base);
	event_add(stop, NULL);
	event_base_dispatch(base);
	event_free(stop);
	side_free(&hub);
	bench_node_free(&n);
	_exit(0);
}

struct hub_proc {
	pid_t pid;
	int up, down;
	char addr[MULTIADDR_TEXT_MAX];
};

static void hub_start(struct hub_proc *p)
{
	int up[2], down[2];
	if (pipe2(up, O_CLOEXEC) < 0 || pipe2(down, O_CLOEXEC) < 0)
		bench_die("pipe: %s", strerror(errno));
	fflush(NULL);
	p->pid = fork();
	if (p->pid < 0)
		bench_die("fork: %s", strerror(errno));
	if (p->pid == 0) {
		close(up[0]);
		close(down[1]);
		hub_main(up[1], down[0]);
	}
	close(up[1]);
	close(down[0]);
	p->up = up[0];
	p->down = down[1];
	bench_read_line(p->up, p->addr, sizeof(p->addr), 30000);
}

static void hub_stop_proc(struct hub_proc *p)
{
	close(p->down);
	int status;
	while (waitpid(p->pid, &status, 0) < 0)
		if (errno != EINTR)
			bench_die("waitpid: %s", strerror(errno));
	close(p->up);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		bench_die("the hub process failed (status %d)", status);
}

/* ---- raw yamux echo (parent) --------------------------------------------- */

struct raw {
	struct buf out;
	uint64_t sent, echoed_bytes;
	unsigned depth;
	bool stop, closed;
};

static void raw_issue(struct stream *s, struct raw *r)
{
	uint64_t inflight = r->sent - r->echoed_bytes / RAW_MSG;
	while (!r->stop && inflight < r->depth) {
		uint8_t *a = buf_extend(&r->out, RAW_MSG);
		if (!a)
			bench_die("out of memory");
		memset(a, 0x5a, RAW_MSG);
		r->sent++;
		inflight++;
	}
	flush_out(s, &r->out);
}

static void raw_data(struct stream *s, void *ctx)
{
	struct raw *r = ctx;
	const uint8_t *p;
	size_t len;
	stream_peek(s, &p, &len);
	r->echoed_bytes += len;
	stream_consume(s, len);
	raw_issue(s, r);
}

static void raw_writable(struct stream *s, void *ctx)
{
	raw_issue(s, ctx);
}

static void raw_closed(struct stream *s, int err, void *ctx)
{
	((struct raw *)ctx)->closed = true;
}

static const struct stream_callbacks raw_cbs = {
        .on_data = raw_data,
        .on_writable = raw_writable,
        .on_closed = raw_closed,
};

static bool flag_cond(void *arg)
{
	return *(bool *)arg;
}

static void set_flag(evutil_socket_t fd, short what, void *arg)
{
	*(bool *)arg = true;
}

static double raw_phase(struct bench_node *n, struct conn *c, unsigned depth, unsigned secs)
{
	struct raw r = {.depth = depth};
	struct stream *s = bench_open(n, c, ECHO);
	stream_set_callbacks(s, &raw_cbs, &r);
	struct event *t = evtimer_new(n->base, set_flag, &r.stop);
	struct timeval tv = {secs, 0};
	uint64_t t0 = bench_now_ns();
	evtimer_add(t, &tv);
	raw_issue(s, &r);
	bench_run_until(n, flag_cond, &r.stop, (secs + 30) * 1000);
	uint64_t done = r.echoed_bytes / RAW_MSG, t1 = bench_now_ns();
	stream_close_write(s);
	bench_run_until(n, flag_cond, &r.closed, 30000);
	event_free(t);
	buf_free(&r.out);
	return (double)done / ((double)(t1 - t0) / 1e9);
}

/* ---- messages (parent) ------------------------------------------------------ */

static struct side me;

static void custom(devmsg_pb *m, DevmsgPb__Custom *c, const char *proto, const char *payload)
{
	*c = (DevmsgPb__Custom)DEVMSG_PB__CUSTOM__INIT;
	c->protocol = (char *)proto;
	c->has_payload = 1;
	c->payload = (ProtobufCBinaryData){strlen(payload), (uint8_t *)payload};
	*m = (devmsg_pb)DEVMSG_PB__DEVICE_MESSAGE__INIT;
	m->body_case = DEVMSG_PB__DEVICE_MESSAGE__BODY_CUSTOM;
	m->custom = c;
}

struct rr {
	struct side *s;
	const char *dev;
	unsigned depth, inflight;
	uint64_t done;
	bool stop;
	char last[64];
	int err;
};

static void rr_issue(struct rr *r);

static void rr_answer(void *ctx, int err, const devmsg_pb *reply, const char *text)
{
	struct rr *r = ctx;
	r->inflight--;
	if (err) {
		r->err = err;
		snprintf(r->last, sizeof(r->last), "%s", text);
		return;
	}
	const ProtobufCBinaryData *p = &reply->custom->payload;
	snprintf(r->last, sizeof(r->last), "%.*s", (int)p->len, (const char *)p->data);
	r->done++;
	rr_issue(r);
}

static void rr_issue(struct rr *r)
{
	while (!r->stop && !r->err && r->inflight < r->depth) {
		devmsg_pb m;
		DevmsgPb__Custom c;
		custom(&m, &c, "bench/echo", PAYLOAD);
		struct messages_send_opts o = {.prio = MSGQ_NORMAL, .expect_reply = true};
		struct errmsg err;
		if (messages_send(r->s->m, r->dev, &m, &o, rr_answer, r, NULL, &err) < 0)
			bench_die("messages_send: %s", err.text);
		r->inflight++;
	}
}

static bool rr_drained(void *arg)
{
	struct rr *r = arg;
	return r->inflight == 0;
}

static double rr_phase(struct bench_node *n, unsigned depth, unsigned secs)
{
	struct rr r = {.s = &me, .dev = "dev-0", .depth = depth};
	struct event *t = evtimer_new(n->base, set_flag, &r.stop);
	struct timeval tv = {secs, 0};
	uint64_t t0 = bench_now_ns();
	evtimer_add(t, &tv);
	rr_issue(&r);
	bench_run_until(n, flag_cond, &r.stop, (secs + 30) * 1000);
	uint64_t done = r.done, t1 = bench_now_ns();
	bench_run_until(n, rr_drained, &r, 30000);
	event_free(t);
	if (r.err)
		bench_die("request failed: %s", r.last);
	return (double)done / ((double)(t1 - t0) / 1e9);
}

/* One request to the hub, answered with text. */
static void ask(struct bench_node *n, struct side *s, const char *dev, const char *proto, char *out,
                size_t len)
{
	struct rr r = {.s = s, .dev = dev, .depth = 1, .stop = true};
	devmsg_pb m;
	DevmsgPb__Custom c;
	custom(&m, &c, proto, "?");
	struct messages_send_opts o = {
	        .prio = MSGQ_NORMAL, .expect_reply = true, .timeout_ms = 60000};
	struct errmsg err;
	if (messages_send(s->m, dev, &m, &o, rr_answer, &r, NULL, &err) < 0)
		bench_die("messages_send: %s", err.text);
	r.inflight = 1;
	if (!bench_run_until(n, rr_drained, &r, 65000) || r.err)
		bench_die("%s: no answer (%s)", proto, r.last);
	snprintf(out, len, "%s", r.last);
}

static bool queue_empty(void *arg)
{
	struct messages_device_stats st;
	return messages_device_stats(me.m, "dev-0", &st) == 0 && st.queued == 0;
}

/* One-way (durable or not) messages: rate of arrival at the hub. */
static double oneway_phase(struct bench_node *n, bool durable, uint64_t max, unsigned secs)
{
	bool stop = false;
	struct event *t = evtimer_new(n->base, set_flag, &stop);
	struct timeval tv = {secs, 0};
	uint64_t t0 = bench_now_ns(), sent = 0;
	evtimer_add(t, &tv);
	while (!stop && sent < max) {
		devmsg_pb m;
		DevmsgPb__Custom c;
		custom(&m, &c, "bench/sink", PAYLOAD);
		struct messages_send_opts o = {.prio = MSGQ_NORMAL, .durable = durable};
		struct errmsg err;
		int r = messages_send(me.m, "dev-0", &m, &o, NULL, NULL, NULL, &err);
		if (r == -ENOBUFS) {
			event_base_loop(n->base, EVLOOP_ONCE);
			continue;
		}
		if (r < 0)
			bench_die("messages_send: %s", err.text);
		sent++;
		if (sent % 64 == 0)
			event_base_loop(n->base, EVLOOP_NONBLOCK);
	}
	event_free(t);
	if (!bench_run_until(n, queue_empty, NULL, 120000))
		bench_die("the queue did not drain");
	char got[64];
	ask(n, &me, "dev-0", "bench/count", got, sizeof(got));
	uint64_t t1 = bench_now_ns();
	if (strtoull(got, NULL, 10) != sent)
		bench_die("sent %llu one-way messages, the hub counted %s",
		          (unsigned long long)sent, got);
	return (double)sent / ((double)(t1 - t0) / 1e9);
}

/* ---- many devices ---------------------------------------------------------- */

static void many_devices(struct bench_node *n, const char *hub_addr, unsigned count)
{
	char before[32], after[32];
	ask(n, &me, "dev-0", "bench/rss", before, sizeof(before));
	static struct side sides[MAX_DEVICES];
	struct multiaddr lma;
	if (multiaddr_parse("/ip4/127.0.0.1/tcp/0", &lma, NULL) < 0)
		bench_die("multiaddr");
	for (unsigned i = 0; i < count; i++) {
		struct privkey key;
		if (privkey_generate(&key) < 0)
			bench_die("key");
		struct host_config hc = {
		        .key = &key, .agent_version = "bench", .listen = &lma, .n_listen = 1};
		struct host *h;
		struct errmsg err;
		if (host_new(n->base, &hc, &h, &err) < 0)
			bench_die("host_new: %s", err.text);
		privkey_wipe(&key);
		side_start(&sides[i], h);
		struct bench_node tmp = {.base = n->base, .h = h};
		bench_dial(&tmp, hub_addr);
		char got[64];
		ask(n, &sides[i], "dev-0", "bench/echo", got, sizeof(got));
	}
	ask(n, &me, "dev-0", "bench/rss", after, sizeof(after));
	long b = strtol(before, NULL, 10), a = strtol(after, NULL, 10);
	printf("hub RSS        %.1f MiB with 1 device, %.1f MiB with %u more connected "
	       "(message stream open, one request answered each): %.0f KiB per device\n",
	       b / 1024.0, a / 1024.0, count, (double)(a - b) / count);
	for (unsigned i = 0; i < count; i++) {
		side_free(&sides[i]);
		host_free(sides[i].h);
	}
	multiaddr_free(&lma);
}

int main(int argc, char **argv)
{
	unsigned seconds = 3, depth = 1000, devices = 50;
	uint64_t durable = 2000;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
			seconds = (unsigned)strtoul(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--depth") == 0 && i + 1 < argc)
			depth = (unsigned)strtoul(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--durable") == 0 && i + 1 < argc)
			durable = strtoull(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--devices") == 0 && i + 1 < argc)
			devices = (unsigned)strtoul(argv[++i], NULL, 10);
		else
			bench_die("usage: %s [--seconds N] [--depth N] [--durable N] [--devices N]",
			          argv[0]);
	}
	if (!seconds || !depth || depth > MESSAGES_MAX_OUTSTANDING || devices > MAX_DEVICES)
		bench_die("--seconds, --depth (<= %d) and --devices (<= %d) are out of range",
		          MESSAGES_MAX_OUTSTANDING, MAX_DEVICES);
	signal(SIGPIPE, SIG_IGN);
	char cmd[1024];
	bench_command_line(argc, argv, cmd, sizeof(cmd));

	struct hub_proc srv;
	hub_start(&srv);
	struct bench_node n;
	bench_node_new(&n, "/ip4/127.0.0.1/tcp/0", NULL);
	side_start(&me, n.h);
	struct conn *conn = bench_dial(&n, srv.addr);

	printf("=== sdnetd DeviceMessages, one device connection over loopback, %u s per row, "
	       "%u in flight: %s ===\n",
	       seconds, depth, cmd);
	double raw = raw_phase(&n, conn, depth, seconds);
	printf("raw yamux echo %9.0f messages/s  (%d-byte messages echoed on one stream)\n", raw,
	       RAW_MSG);
	fflush(stdout);
	double rr = rr_phase(&n, depth, seconds);
	printf("request/reply  %9.0f messages/s  (Custom, %zu-byte payload; %.2f x raw; goal "
	       ">= 100000)\n",
	       rr, strlen(PAYLOAD), rr / raw);
	fflush(stdout);
	double ow = oneway_phase(&n, false, UINT64_MAX, seconds);
	printf("one-way        %9.0f messages/s  (%.2f x raw)\n", ow, ow / raw);
	fflush(stdout);
	double du = oneway_phase(&n, true, durable, 3600);
	printf("durable        %9.0f messages/s  (%llu messages stored, sent, acknowledged, "
	       "deleted)\n",
	       du, (unsigned long long)durable);
	fflush(stdout);
	if (devices)
		many_devices(&n, srv.addr, devices);
	side_free(&me);
	bench_node_free(&n);
	hub_stop_proc(&srv);
	return 0;
}
