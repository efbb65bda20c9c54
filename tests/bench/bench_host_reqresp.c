/* Small request/response messages per second on one connection.
 *
 * Two processes, each with its own event loop and host (a forked child is
 * the server), one connection over loopback, one stream per phase of a
 * request/response protocol: the client writes 64-byte requests, the server
 * answers each with 64 bytes carrying the request's sequence number (the
 * client checks them, in order). Phases, --seconds each:
 *   pipelined      up to --depth requests in flight, written back to back;
 *                  the issue's goal is 100,000 round trips/s
 *   non-pipelined  one request in flight: each waits for the previous answer
 * The figure is round trips completed from the first request until the
 * phase's timer fires, per second. Figures only: no timing is asserted.
 *
 * Usage: bench_host_reqresp [--seconds N] [--depth N] */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "benchhost.h"
#include "buf.h"

#define RR "/sdnetd-bench/reqresp/1.0.0"
#define MSG 64
/* Answers the server holds before it stops reading requests. */
#define SRV_OUT_MAX ((size_t)64 * 1024)

/* Write what out holds; drop what the stream took. */
static void flush_out(struct stream *s, struct buf *out)
{
	if (out->len == 0)
		return;
	long w = stream_write(s, out->data, out->len);
	if (w < 0)
		bench_die("stream_write: %s", strerror((int)-w));
	buf_consume(out, (size_t)w);
}

/* ---- server (child) ---- */

struct srv {
	struct buf out;
	bool eof, fin;
};

static void srv_pump(struct stream *s, void *ctx)
{
	struct srv *r = ctx;
	flush_out(s, &r->out);
	const uint8_t *p;
	size_t len;
	stream_peek(s, &p, &len);
	size_t n = 0;
	while (len - n >= MSG && r->out.len < SRV_OUT_MAX) {
		uint8_t *a = buf_extend(&r->out, MSG);
		if (!a)
			bench_die("out of memory");
		memcpy(a, p + n, 8);
		memset(a + 8, 0x5a, MSG - 8);
		n += MSG;
	}
	if (n) {
		stream_consume(s, n);
		flush_out(s, &r->out);
	}
	stream_peek(s, &p, &len);
	if (r->eof && len < MSG && r->out.len == 0 && !r->fin) {
		r->fin = true;
		stream_close_write(s);
	}
}

static void srv_eof(struct stream *s, void *ctx)
{
	((struct srv *)ctx)->eof = true;
	srv_pump(s, ctx);
}

static void srv_closed(struct stream *s, int err, void *ctx)
{
	struct srv *r = ctx;
	buf_free(&r->out);
	free(r);
}

static const struct stream_callbacks srv_cbs = {
        .on_data = srv_pump,
        .on_writable = srv_pump,
        .on_eof = srv_eof,
        .on_closed = srv_closed,
};

static void srv_on_stream(struct stream *s, void *ctx)
{
	struct srv *r = calloc(1, sizeof(*r));
	if (!r)
		bench_die("out of memory");
	stream_set_callbacks(s, &srv_cbs, r);
}

static const struct protocol_handler rr_handlers[] = {
        {RR, srv_on_stream, 0},
        {0},
};

/* ---- client (parent) ---- */

struct cli {
	struct stream *s;
	struct buf out;
	unsigned depth, inflight;
	uint64_t next_seq, expect_seq, done, done_at_stop;
	uint64_t t0, t_stop;
	bool stop, fin_sent, closed;
	int err;
};

static void cli_issue(struct cli *c)
{
	while (!c->stop && c->inflight < c->depth) {
		uint8_t *a = buf_extend(&c->out, MSG);
		if (!a)
			bench_die("out of memory");
		uint64_t seq = c->next_seq++;
		memcpy(a, &seq, 8);
		memset(a + 8, 0xc3, MSG - 8);
		c->inflight++;
	}
	flush_out(c->s, &c->out);
	if (c->stop && c->inflight == 0 && c->out.len == 0 && !c->fin_sent) {
		c->fin_sent = true;
		stream_close_write(c->s);
	}
}

static void cli_data(struct stream *s, void *ctx)
{
	struct cli *c = ctx;
	const uint8_t *p;
	size_t len;
	stream_peek(s, &p, &len);
	size_t n = 0;
	for (; len - n >= MSG; n += MSG) {
		uint64_t seq;
		memcpy(&seq, p + n, 8);
		if (seq != c->expect_seq || c->inflight == 0)
			bench_die("answer %llu where %llu was due", (unsigned long long)seq,
			          (unsigned long long)c->expect_seq);
		c->expect_seq++;
		c->inflight--;
		c->done++;
	}
	stream_consume(s, n);
	cli_issue(c);
}

static void cli_writable(struct stream *s, void *ctx)
{
	cli_issue(ctx);
}

static void cli_closed(struct stream *s, int err, void *ctx)
{
	struct cli *c = ctx;
	c->closed = true;
	c->err = err;
}

static const struct stream_callbacks cli_cbs = {
        .on_data = cli_data,
        .on_writable = cli_writable,
        .on_closed = cli_closed,
};

static void stop_cb(evutil_socket_t fd, short what, void *arg)
{
	struct cli *c = arg;
	c->stop = true;
	c->t_stop = bench_now_ns();
	c->done_at_stop = c->done;
	cli_issue(c);
}

static bool cli_closed_cond(void *arg)
{
	return ((struct cli *)arg)->closed;
}

/* One phase on a new stream; returns round trips per second. */
static double phase(struct bench_node *n, struct conn *conn, unsigned depth, unsigned seconds)
{
	struct cli c = {.depth = depth};
	c.s = bench_open(n, conn, RR);
	stream_set_callbacks(c.s, &cli_cbs, &c);
	struct event *t = evtimer_new(n->base, stop_cb, &c);
	struct timeval tv = {seconds, 0};
	c.t0 = bench_now_ns();
	evtimer_add(t, &tv);
	cli_issue(&c);
	if (!bench_run_until(n, cli_closed_cond, &c, (seconds + 30) * 1000))
		bench_die("the stream did not finish");
	event_free(t);
	buf_free(&c.out);
	if (c.err < 0)
		bench_die("the stream ended with %s", strerror(-c.err));
	if (c.expect_seq != c.next_seq)
		bench_die("%llu requests, %llu answers", (unsigned long long)c.next_seq,
		          (unsigned long long)c.expect_seq);
	return (double)c.done_at_stop / ((double)(c.t_stop - c.t0) / 1e9);
}

int main(int argc, char **argv)
{
	unsigned seconds = 5, depth = 256;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
			seconds = (unsigned)strtoul(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--depth") == 0 && i + 1 < argc)
			depth = (unsigned)strtoul(argv[++i], NULL, 10);
		else
			bench_die("usage: %s [--seconds N] [--depth N]", argv[0]);
	}
	if (seconds == 0 || depth == 0)
		bench_die("--seconds and --depth take a positive number");
	signal(SIGPIPE, SIG_IGN);
	char cmd[1024];
	bench_command_line(argc, argv, cmd, sizeof(cmd));

	struct bench_server srv;
	struct bench_server_cfg scfg = {.listen = "/ip4/127.0.0.1/tcp/0", .table = rr_handlers};
	bench_server_start(&srv, &scfg);
	struct bench_node n;
	bench_node_new(&n, "/ip4/127.0.0.1/tcp/0", NULL);
	struct conn *conn = bench_dial(&n, srv.addr);

	double piped = phase(&n, conn, depth, seconds);
	printf("=== sdnetd request/response, %d-byte messages, one stream over loopback, "
	       "pipelined (%u in flight): %s ===\n",
	       MSG, depth, cmd);
	printf("pipelined      %.0f round trips/s  (goal >= 100000)\n", piped);
	fflush(stdout);
	double single = phase(&n, host_find_conn(n.h, conn_peer(conn)), 1, seconds);
	printf("=== sdnetd request/response, %d-byte messages, one stream over loopback, "
	       "non-pipelined (1 in flight): %s ===\n",
	       MSG, cmd);
	printf("non-pipelined  %.0f round trips/s  (%.1f us per round trip)\n", single,
	       1e6 / single);
	fflush(stdout);

	bench_node_free(&n);
	bench_server_stop(&srv);
	return 0;
}
