/* The libp2p connection core end to end: two hosts in one process on one
 * event_base, real TCP over loopback, the real upgrade (multistream-select,
 * Noise XX, Yamux), the registry, the stream layer and the connection
 * manager. Waiting is event-driven: the loop runs until a condition holds or
 * a deadline timer fires; nothing sleeps. */
#include "testutil.h"
#include "nettest.h"
#include "nettest-raw.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mss.h"
#include "net/host.h"
#include "net/tcp.h"
#include "noise.h"
#include "yamux.h"

#define ECHO "/test/echo/1.0.0"
#define HOLD "/test/hold/1.0.0"
#define HALF "/test/half/1.0.0"
#define CAPPED "/test/capped/1.0.0"

static struct host *ha, *hb;

/* ---- server-side handlers ---- */

static int handlers_open, handlers_closed, handler_last_err;

struct srv {
	bool eof, fin_sent;
	struct buf got;
};

static void srv_closed(struct stream *s, int err, void *ctx)
{
	struct srv *e = ctx;
	buf_free(&e->got);
	free(e);
	handlers_closed++;
	handler_last_err = err;
}

static struct srv *srv_attach(struct stream *s, const struct stream_callbacks *cb)
{
	struct srv *e = calloc(1, sizeof(*e));
	assert_non_null(e);
	handlers_open++;
	stream_set_callbacks(s, cb, e);
	return e;
}

/* Echo: write back what arrives as fast as the window allows; FIN after the
 * peer's FIN once everything went back. */
static void echo_pump(struct stream *s, struct srv *e)
{
	const uint8_t *p;
	size_t len;
	stream_peek(s, &p, &len);
	if (len > 0) {
		long n = stream_write(s, p, len);
		if (n > 0)
			stream_consume(s, (size_t)n);
	}
	stream_peek(s, &p, &len);
	if (len == 0 && e->eof && !e->fin_sent) {
		e->fin_sent = true;
		stream_close_write(s);
	}
}

static void echo_data(struct stream *s, void *ctx)
{
	echo_pump(s, ctx);
}

static void echo_eof(struct stream *s, void *ctx)
{
	struct srv *e = ctx;
	e->eof = true;
	echo_pump(s, e);
}

static const struct stream_callbacks echo_cbs = {
        .on_data = echo_data,
        .on_writable = echo_data,
        .on_eof = echo_eof,
        .on_closed = srv_closed,
};

static void echo_on_stream(struct stream *s, void *ctx)
{
	srv_attach(s, &echo_cbs);
}

/* Hold: keep the stream open and discard input; "R" asks for a reset. */
static void hold_data(struct stream *s, void *ctx)
{
	const uint8_t *p;
	size_t len;
	stream_peek(s, &p, &len);
	bool reset = len > 0 && p[0] == 'R';
	stream_consume(s, len);
	if (reset)
		stream_reset(s);
}

static const struct stream_callbacks hold_cbs = {
        .on_data = hold_data,
        .on_closed = srv_closed,
};

static void hold_on_stream(struct stream *s, void *ctx)
{
	srv_attach(s, &hold_cbs);
}

/* Half: collect the request until the peer's FIN, then answer "pong:" and
 * the request, then FIN. */
static void half_data(struct stream *s, void *ctx)
{
	struct srv *e = ctx;
	const uint8_t *p;
	size_t len;
	stream_peek(s, &p, &len);
	buf_append(&e->got, p, len);
	stream_consume(s, len);
}

static void half_eof(struct stream *s, void *ctx)
{
	struct srv *e = ctx;
	half_data(s, ctx);
	assert_true(stream_peer_closed(s));
	struct buf out = BUF_INIT;
	buf_append_str(&out, "pong:");
	buf_append(&out, e->got.data, e->got.len);
	assert_int_equal(stream_write(s, out.data, out.len), (long)out.len);
	buf_free(&out);
	assert_int_equal(stream_close_write(s), 0);
	assert_int_equal(stream_write(s, "x", 1), -EPIPE);
}

static const struct stream_callbacks half_cbs = {
        .on_data = half_data,
        .on_eof = half_eof,
        .on_closed = srv_closed,
};

static void half_on_stream(struct stream *s, void *ctx)
{
	srv_attach(s, &half_cbs);
}

static const struct protocol_handler test_handlers[] = {
        {ECHO, echo_on_stream, .max_inbound_per_peer = 256},
        {HOLD, hold_on_stream, 0},
        {HALF, half_on_stream, 0},
        {CAPPED, hold_on_stream, .max_inbound_per_peer = 2},
        {0},
};

/* ---- hosts and dials ---- */

static struct host *node_new(const struct host_limits *lim)
{
	struct privkey key;
	assert_int_equal(privkey_generate(&key), 0);
	struct multiaddr ma;
	assert_int_equal(multiaddr_parse("/ip4/127.0.0.1/tcp/0", &ma, NULL), 0);
	struct host_config cfg = {
	        .key = &key, .agent_version = "test/1", .listen = &ma, .n_listen = 1};
	if (lim)
		cfg.limits = *lim;
	struct host *h;
	struct errmsg err;
	if (host_new(nt_base, &cfg, &h, &err) < 0)
		fail_msg("host_new: %s", err.text);
	multiaddr_free(&ma);
	privkey_wipe(&key);
	assert_int_equal(protocols_register(host_protocols(h), test_handlers, NULL), 0);
	return h;
}

static struct multiaddr addr_of(struct host *h, bool with_p2p)
{
	const struct multiaddr *v;
	assert_int_equal(host_listen_addrs(h, &v), 1);
	struct multiaddr ma;
	assert_int_equal(multiaddr_copy(&v[0], &ma), 0);
	if (with_p2p)
		assert_int_equal(multiaddr_append_p2p(&ma, host_peer_id(h)), 0);
	return ma;
}

struct dial_result {
	bool done;
	struct conn *c;
	int err;
	char msg[1024];
};

static void dial_cb(struct host *h, struct conn *c, int err, const char *msg, void *ctx)
{
	struct dial_result *r = ctx;
	assert_false(r->done);
	r->done = true;
	r->c = c;
	r->err = err;
	snprintf(r->msg, sizeof(r->msg), "%s", msg ? msg : "");
}

static bool dial_done(void *arg)
{
	return ((struct dial_result *)arg)->done;
}

static void dial_addr(struct host *from, const struct multiaddr *ma, uint32_t timeout,
                      struct dial_result *r)
{
	memset(r, 0, sizeof(*r));
	assert_int_equal(host_dial(from, ma, timeout, dial_cb, r), 0);
	assert_false(r->done); /* never synchronous */
	assert_true(nt_run_until(dial_done, r));
}

static struct conn *dial_ok(struct host *from, struct host *to, bool p2p)
{
	struct multiaddr ma = addr_of(to, p2p);
	struct dial_result r;
	dial_addr(from, &ma, 0, &r);
	multiaddr_free(&ma);
	if (r.err)
		fail_msg("dial failed: %d %s", r.err, r.msg);
	assert_non_null(r.c);
	return r.c;
}

struct both {
	struct host *a, *b;
};

static bool b_sees_a(void *arg)
{
	struct both *x = arg;
	return host_find_conn(x->b, host_peer_id(x->a)) != NULL;
}

/* ---- client streams ---- */

struct xfer {
	struct stream *s;
	const char *proto;
	size_t total, sent, recvd;
	uint32_t seed;
	bool opened, open_failed, eof, closed, mismatch, fin_sent;
	int open_err, close_err;
	struct buf got; /* when collecting instead of checking a pattern */
	bool collect;
};

static uint8_t pattern(uint32_t seed, size_t i)
{
	return (uint8_t)((i * 131u) ^ (seed * 2654435761u) ^ (i >> 9));
}

static void xfer_pump(struct stream *s, struct xfer *x)
{
	uint8_t chunk[16384];
	while (x->sent < x->total) {
		size_t n = x->total - x->sent < sizeof(chunk) ? x->total - x->sent : sizeof(chunk);
		for (size_t i = 0; i < n; i++)
			chunk[i] = pattern(x->seed, x->sent + i);
		long w = stream_write(s, chunk, n);
		if (w <= 0)
			return;
		x->sent += (size_t)w;
	}
	if (!x->fin_sent && x->total > 0) {
		x->fin_sent = true;
		assert_int_equal(stream_close_write(s), 0);
	}
}

static void xfer_data(struct stream *s, void *ctx)
{
	struct xfer *x = ctx;
	const uint8_t *p;
	size_t len;
	stream_peek(s, &p, &len);
	if (x->collect) {
		buf_append(&x->got, p, len);
	} else {
		for (size_t i = 0; i < len; i++)
			if (p[i] != pattern(x->seed, x->recvd + i))
				x->mismatch = true;
	}
	x->recvd += len;
	stream_consume(s, len);
}

static void xfer_writable(struct stream *s, void *ctx)
{
	xfer_pump(s, ctx);
}

static void xfer_eof(struct stream *s, void *ctx)
{
	((struct xfer *)ctx)->eof = true;
}

static void xfer_closed(struct stream *s, int err, void *ctx)
{
	struct xfer *x = ctx;
	x->closed = true;
	x->close_err = err;
	x->s = NULL;
}

static const struct stream_callbacks xfer_cbs = {
        .on_data = xfer_data,
        .on_writable = xfer_writable,
        .on_eof = xfer_eof,
        .on_closed = xfer_closed,
};

static void xfer_opened(struct stream *s, int err, void *ctx)
{
	struct xfer *x = ctx;
	if (!s) {
		x->open_failed = true;
		x->open_err = err;
		return;
	}
	assert_string_equal(stream_protocol(s), x->proto);
	assert_true(stream_outbound(s));
	x->opened = true;
	x->s = s;
	stream_set_callbacks(s, &xfer_cbs, x);
	xfer_pump(s, x);
}

static void xfer_open(struct host *h, struct conn *c, const char *proto, struct xfer *x,
                      size_t total, uint32_t seed)
{
	memset(x, 0, sizeof(*x));
	x->proto = proto;
	x->total = total;
	x->seed = seed;
	assert_int_equal(host_open_stream(h, c, proto, xfer_opened, x), 0);
}

static bool xfer_finished(void *arg)
{
	struct xfer *x = arg;
	return x->closed || x->open_failed;
}

static bool xfer_settled(void *arg)
{
	struct xfer *x = arg;
	return x->opened || x->open_failed;
}

static bool xfer_got_bytes(void *arg)
{
	return ((struct xfer *)arg)->recvd > 0;
}

static void wait_opened(struct xfer *x)
{
	assert_true(nt_run_until(xfer_settled, x));
	assert_true(x->opened);
}

static bool handlers_reached(void *arg)
{
	return handlers_open >= *(int *)arg;
}

struct xfers {
	struct xfer *v;
	size_t n;
};

static bool all_finished(void *arg)
{
	struct xfers *xs = arg;
	for (size_t i = 0; i < xs->n; i++)
		if (!xfer_finished(&xs->v[i]))
			return false;
	return true;
}

/* ---- fixtures ---- */

static int setup(void **state)
{
	nt_base = event_base_new();
	assert_non_null(nt_base);
	handlers_open = handlers_closed = 0;
	handler_last_err = 1;
	ha = hb = NULL;
	return 0;
}

static int teardown(void **state)
{
	host_free(ha);
	host_free(hb);
	ha = hb = NULL;
	assert_int_equal(handlers_open, handlers_closed);
	event_base_free(nt_base);
	return 0;
}

/* ---- tests ---- */

static void test_dial_without_p2p(void **state)
{
	ha = node_new(NULL);
	hb = node_new(NULL);
	struct conn *c = dial_ok(ha, hb, false);
	assert_true(peerid_equal(conn_peer(c), host_peer_id(hb)));
	struct both x = {ha, hb};
	assert_true(nt_run_until(b_sees_a, &x));
	struct conn_info info;
	conn_get_info(c, &info);
	assert_int_equal(info.direction, CONN_OUTBOUND);
	assert_string_equal(info.transport, "tcp");
	char want[MULTIADDR_TEXT_MAX];
	struct multiaddr ma = addr_of(hb, false);
	multiaddr_to_string(&ma, want, sizeof(want));
	multiaddr_free(&ma);
	assert_string_equal(info.remote_addr, want);
	conn_get_info(host_find_conn(hb, host_peer_id(ha)), &info);
	assert_int_equal(info.direction, CONN_INBOUND);
	assert_string_equal(info.local_addr, want);
	assert_int_equal(nt_stats(ha).conns, 1);
	assert_int_equal(nt_stats(ha).handshaking, 0);
	assert_int_equal(nt_stats(hb).conns, 1);
	assert_int_equal(nt_stats(hb).inbound_accepted, 1);
	assert_int_equal(nt_stats(ha).dials, 1);
	assert_int_equal(nt_stats(ha).dial_failures, 0);
}

static void test_dial_with_p2p_reuses(void **state)
{
	ha = node_new(NULL);
	hb = node_new(NULL);
	struct conn *c = dial_ok(ha, hb, true);
	assert_true(peerid_equal(conn_peer(c), host_peer_id(hb)));
	/* A second dial to the same peer reuses the connection. */
	assert_ptr_equal(dial_ok(ha, hb, true), c);
	assert_ptr_equal(host_find_conn(ha, host_peer_id(hb)), c);
	assert_int_equal(nt_stats(ha).conns, 1);
	assert_int_equal(nt_stats(ha).dials, 2);
}

static void test_wrong_peer_id_refused(void **state)
{
	ha = node_new(NULL);
	hb = node_new(NULL);
	struct host *hc = node_new(NULL);
	/* B's address with C's peer ID. */
	struct multiaddr ma = addr_of(hb, false);
	assert_int_equal(multiaddr_append_p2p(&ma, host_peer_id(hc)), 0);
	struct dial_result r;
	dial_addr(ha, &ma, 0, &r);
	multiaddr_free(&ma);
	assert_int_equal(r.err, -EPERM);
	assert_null(r.c);
	char b_id[PEERID_TEXT_MAX], c_id[PEERID_TEXT_MAX];
	peerid_to_string(host_peer_id(hb), b_id, sizeof(b_id));
	peerid_to_string(host_peer_id(hc), c_id, sizeof(c_id));
	/* The message names what was expected and what answered. */
	if (!strstr(r.msg, b_id) || !strstr(r.msg, c_id) || !strstr(r.msg, "dial /ip4/127.0.0.1"))
		fail_msg("unclear message: %s", r.msg);
	assert_null(host_find_conn(ha, host_peer_id(hb)));
	assert_int_equal(nt_stats(ha).handshake_failures, 1);
	assert_int_equal(nt_stats(ha).dial_failures, 1);
	assert_int_equal(nt_stats(ha).conns, 0);
	host_free(hc);
}

static void test_dial_refused_port(void **state)
{
	ha = node_new(NULL);
	/* A port nobody listens on: bind one, learn it, close it. */
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	getsockname(fd, (struct sockaddr *)&sa, &len);
	close(fd);
	char text[64];
	snprintf(text, sizeof(text), "/ip4/127.0.0.1/tcp/%u", ntohs(sa.sin_port));
	struct multiaddr ma;
	assert_int_equal(multiaddr_parse(text, &ma, NULL), 0);
	struct dial_result r;
	dial_addr(ha, &ma, 0, &r);
	multiaddr_free(&ma);
	assert_int_equal(r.err, -ECONNREFUSED);
	assert_non_null(strstr(r.msg, "refused"));
}

static void test_echo_stream(void **state)
{
	ha = node_new(NULL);
	hb = node_new(NULL);
	struct conn *c = dial_ok(ha, hb, true);
	struct xfer x;
	xfer_open(ha, c, ECHO, &x, 5000, 7);
	assert_false(x.opened); /* the callback is deferred */
	assert_true(nt_run_until(xfer_finished, &x));
	assert_true(x.opened);
	assert_int_equal(x.recvd, 5000);
	assert_false(x.mismatch);
	assert_true(x.eof);
	assert_int_equal(x.close_err, 0);
	assert_int_equal(handlers_open, 1);
}

static void test_unknown_protocol(void **state)
{
	ha = node_new(NULL);
	hb = node_new(NULL);
	struct conn *c = dial_ok(ha, hb, true);
	struct xfer x;
	xfer_open(ha, c, "/test/nobody-speaks-this/1.0.0", &x, 10, 1);
	assert_true(nt_run_until(xfer_finished, &x));
	assert_true(x.open_failed);
	assert_int_equal(x.open_err, -ENOPROTOOPT);
	assert_int_equal(handlers_open, 0);
	/* The connection is still fine. */
	xfer_open(ha, c, ECHO, &x, 10, 1);
	assert_true(nt_run_until(xfer_finished, &x));
	assert_int_equal(x.recvd, 10);
	assert_int_equal(host_open_stream(ha, c, "", xfer_opened, &x), -EINVAL);
}

#define N_CONCURRENT 64
#define MIB (1024 * 1024)

static void test_concurrent_streams(void **state)
{
	ha = node_new(NULL);
	hb = node_new(NULL);
	struct conn *c = dial_ok(ha, hb, true);
	struct xfer *v = calloc(N_CONCURRENT, sizeof(*v));
	assert_non_null(v);
	for (size_t i = 0; i < N_CONCURRENT; i++)
		xfer_open(ha, c, ECHO, &v[i], MIB, (uint32_t)i + 1);
	struct xfers xs = {v, N_CONCURRENT};
	assert_true(nt_run_until(all_finished, &xs));
	for (size_t i = 0; i < N_CONCURRENT; i++) {
		assert_true(v[i].opened);
		assert_int_equal(v[i].sent, MIB);
		assert_int_equal(v[i].recvd, MIB);
		assert_false(v[i].mismatch);
		assert_int_equal(v[i].close_err, 0);
	}
	assert_int_equal(handlers_open, N_CONCURRENT);
	assert_int_equal(handlers_closed, N_CONCURRENT);
	assert_int_equal(nt_stats(ha).streams, 0);
	free(v);
}

static void test_half_close(void **state)
{
	ha = node_new(NULL);
	hb = node_new(NULL);
	struct conn *c = dial_ok(ha, hb, true);
	struct xfer x;
	memset(&x, 0, sizeof(x));
	x.proto = HALF;
	x.collect = true;
	assert_int_equal(host_open_stream(ha, c, HALF, xfer_opened, &x), 0);
	wait_opened(&x);
	assert_int_equal(stream_write(x.s, "ping", 4), 4);
	assert_int_equal(stream_close_write(x.s), 0);
	/* Our direction is closed; the peer's is still open. */
	assert_int_equal(stream_write(x.s, "more", 4), -EPIPE);
	assert_int_equal(stream_close_write(x.s), -EPIPE);
	assert_true(nt_run_until(xfer_finished, &x));
	assert_true(x.eof);
	assert_int_equal(x.close_err, 0);
	assert_int_equal(x.got.len, 9);
	assert_memory_equal(x.got.data, "pong:ping", 9);
	assert_int_equal(handler_last_err, 0);
	buf_free(&x.got);
}

static bool handler_closed_once(void *arg)
{
	return handlers_closed == 1;
}

static void test_reset(void **state)
{
	ha = node_new(NULL);
	hb = node_new(NULL);
	struct conn *c = dial_ok(ha, hb, true);
	/* We reset: our on_closed says so, the handler sees a reset. */
	struct xfer x;
	xfer_open(ha, c, HOLD, &x, 0, 0);
	wait_opened(&x);
	assert_int_equal(stream_write(x.s, "data", 4), 4);
	int one = 1;
	assert_true(nt_run_until(handlers_reached, &one));
	stream_reset(x.s);
	assert_false(x.closed); /* deferred, never inside the call */
	assert_true(nt_run_until(xfer_finished, &x));
	assert_int_equal(x.close_err, -ECANCELED);
	assert_true(nt_run_until(handler_closed_once, NULL));
	assert_int_equal(handler_last_err, -ECONNRESET);
	/* The peer resets: we get -ECONNRESET. */
	xfer_open(ha, c, HOLD, &x, 0, 0);
	wait_opened(&x);
	assert_int_equal(stream_write(x.s, "R", 1), 1);
	assert_true(nt_run_until(xfer_finished, &x));
	assert_int_equal(x.close_err, -ECONNRESET);
}

/* ---- limits ---- */

struct stat_wait {
	struct host *h;
	uint64_t inbound_accepted, refused_handshake, refused_limit, handshake_timeouts;
};

static bool stats_reached(void *arg)
{
	struct stat_wait *w = arg;
	struct host_stats st = nt_stats(w->h);
	return st.inbound_accepted >= w->inbound_accepted &&
	       st.refused_handshake >= w->refused_handshake &&
	       st.refused_limit >= w->refused_limit &&
	       st.handshake_timeouts >= w->handshake_timeouts;
}

static void test_limit_max_handshaking(void **state)
{
	hb = node_new(&(struct host_limits){.max_handshaking = 1});
	int s1 = nt_raw_connect(nt_port_of(hb));
	int s2 = nt_raw_connect(nt_port_of(hb));
	struct stat_wait w = {.h = hb, .inbound_accepted = 1, .refused_handshake = 1};
	assert_true(nt_run_until(stats_reached, &w));
	struct host_stats st = nt_stats(hb);
	assert_int_equal(st.inbound_accepted, 1);
	assert_int_equal(st.refused_handshake, 1);
	assert_int_equal(st.handshaking, 1);
	/* Dials count against the same cap. */
	ha = node_new(&(struct host_limits){.max_handshaking = 1});
	int hold = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	bind(hold, (struct sockaddr *)&sa, sizeof(sa));
	listen(hold, 4);
	getsockname(hold, (struct sockaddr *)&sa, &len);
	char text[64];
	snprintf(text, sizeof(text), "/ip4/127.0.0.1/tcp/%u", ntohs(sa.sin_port));
	struct multiaddr ma;
	multiaddr_parse(text, &ma, NULL);
	struct dial_result r1, r2;
	memset(&r1, 0, sizeof(r1));
	assert_int_equal(host_dial(ha, &ma, 0, dial_cb, &r1), 0);
	dial_addr(ha, &ma, 0, &r2);
	assert_false(r1.done);
	assert_int_equal(r2.err, -EBUSY);
	assert_non_null(strstr(r2.msg, "max_handshaking"));
	assert_int_equal(nt_stats(ha).refused_handshake, 1);
	multiaddr_free(&ma);
	host_free(ha); /* r1 is cancelled */
	ha = NULL;
	assert_true(r1.done);
	assert_int_equal(r1.err, -ECANCELED);
	close(hold);
	close(s1);
	close(s2);
}

static void test_limit_per_ip(void **state)
{
	hb = node_new(&(struct host_limits){.max_conns_per_ip = 1});
	ha = node_new(NULL);
	int s1 = nt_raw_connect(nt_port_of(hb));
	struct stat_wait w = {.h = hb, .inbound_accepted = 1};
	assert_true(nt_run_until(stats_reached, &w));
	/* A real peer from the same IP is now refused. */
	struct multiaddr ma = addr_of(hb, true);
	struct dial_result r;
	dial_addr(ha, &ma, 0, &r);
	multiaddr_free(&ma);
	assert_true(r.err < 0);
	assert_null(r.c);
	assert_int_equal(nt_stats(hb).refused_limit, 1);
	assert_int_equal(nt_stats(hb).inbound_accepted, 1);
	close(s1);
}

static void test_limit_streams_per_conn(void **state)
{
	ha = node_new(&(struct host_limits){.max_streams_per_conn = 3});
	hb = node_new(&(struct host_limits){.max_streams_per_conn = 2});
	struct conn *c = dial_ok(ha, hb, true);
	struct xfer x[4];
	for (int i = 0; i < 3; i++)
		xfer_open(ha, c, HOLD, &x[i], 0, 0);
	/* Our own cap: the fourth is refused at once. */
	assert_int_equal(host_open_stream(ha, c, HOLD, xfer_opened, &x[3]), -EMFILE);
	assert_int_equal(nt_stats(ha).refused_limit, 1);
	/* The peer's cap: one of the three is reset before negotiation ends. */
	struct stat_wait w = {.h = hb, .refused_limit = 1};
	assert_true(nt_run_until(stats_reached, &w));
	int opened = 0, failed = 0;
	for (int i = 0; i < 3; i++) {
		assert_true(nt_run_until(xfer_settled, &x[i]));
		opened += x[i].opened;
		failed += x[i].open_failed;
	}
	assert_int_equal(opened, 2);
	assert_int_equal(failed, 1);
	assert_int_equal(nt_stats(hb).refused_limit, 1);
	assert_int_equal(handlers_open, 2);
}

static void test_handshake_timeout_outbound(void **state)
{
	ha = node_new(NULL);
	/* A listener that accepts at the TCP level and never speaks. */
	int l = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	assert_int_equal(bind(l, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(l, 4), 0);
	getsockname(l, (struct sockaddr *)&sa, &len);
	char text[64];
	snprintf(text, sizeof(text), "/ip4/127.0.0.1/tcp/%u", ntohs(sa.sin_port));
	struct multiaddr ma;
	assert_int_equal(multiaddr_parse(text, &ma, NULL), 0);
	struct dial_result r;
	dial_addr(ha, &ma, 300, &r);
	multiaddr_free(&ma);
	assert_int_equal(r.err, -ETIMEDOUT);
	assert_non_null(strstr(r.msg, "timed out"));
	assert_int_equal(nt_stats(ha).handshake_timeouts, 1);
	assert_int_equal(nt_stats(ha).handshaking, 0);
	close(l);
}

static void test_handshake_timeout_inbound(void **state)
{
	hb = node_new(&(struct host_limits){.handshake_timeout_ms = 300});
	int s = nt_raw_connect(nt_port_of(hb));
	struct stat_wait w = {.h = hb, .handshake_timeouts = 1};
	assert_true(nt_run_until(stats_reached, &w));
	assert_int_equal(nt_stats(hb).handshaking, 0);
	/* B closed the socket: EOF, and (a listener speaking only after the
	 * dialer, as js does) it never sent a byte. */
	char tmp[256];
	ssize_t n;
	size_t total = 0;
	while ((n = recv(s, tmp, sizeof(tmp), MSG_DONTWAIT)) > 0)
		total += (size_t)n;
	assert_int_equal(n, 0);
	assert_int_equal(total, 0);
	close(s);
}

static bool one_conn_each(void *arg)
{
	struct both *x = arg;
	struct host_stats a = nt_stats(x->a), b = nt_stats(x->b);
	return a.conns == 1 && b.conns == 1 && a.handshaking == 0 && b.handshaking == 0 &&
	       host_socket_count(x->a) == 1 && host_socket_count(x->b) == 1;
}

static void test_simultaneous_dial(void **state)
{
	ha = node_new(NULL);
	hb = node_new(NULL);
	struct multiaddr to_b = addr_of(hb, true), to_a = addr_of(ha, true);
	struct dial_result ra, rb;
	memset(&ra, 0, sizeof(ra));
	memset(&rb, 0, sizeof(rb));
	assert_int_equal(host_dial(ha, &to_b, 0, dial_cb, &ra), 0);
	assert_int_equal(host_dial(hb, &to_a, 0, dial_cb, &rb), 0);
	multiaddr_free(&to_b);
	multiaddr_free(&to_a);
	assert_true(nt_run_until(dial_done, &ra));
	assert_true(nt_run_until(dial_done, &rb));
	assert_int_equal(ra.err, 0);
	assert_int_equal(rb.err, 0);
	struct both x = {ha, hb};
	assert_true(nt_run_until(one_conn_each, &x));
	/* Both ends kept the same TCP connection... */
	struct conn_info ia, ib;
	conn_get_info(host_find_conn(ha, host_peer_id(hb)), &ia);
	conn_get_info(host_find_conn(hb, host_peer_id(ha)), &ib);
	assert_string_equal(ia.local_addr, ib.remote_addr);
	assert_string_equal(ia.remote_addr, ib.local_addr);
	/* ... the one initiated by the peer whose ID sorts first. */
	const struct peerid *a = host_peer_id(ha), *b = host_peer_id(hb);
	size_t n = a->len < b->len ? a->len : b->len;
	int cmp = memcmp(a->bytes, b->bytes, n);
	bool a_first = cmp < 0 || (cmp == 0 && a->len < b->len);
	assert_int_equal(ia.direction, a_first ? CONN_OUTBOUND : CONN_INBOUND);
	/* Both sides actually had two: the loser was closed. */
	assert_int_equal(nt_stats(ha).dials, 1);
	assert_int_equal(nt_stats(ha).inbound_accepted, 1);
	/* And it works. */
	struct xfer xf;
	xfer_open(ha, host_find_conn(ha, b), ECHO, &xf, 1000, 3);
	assert_true(nt_run_until(xfer_finished, &xf));
	assert_int_equal(xf.recvd, 1000);
}

/* ---- observers and idle ---- */

struct obs_log {
	int up, down, last_err;
	struct conn_info last;
};

static void obs_up(struct host *h, struct conn *c, void *ctx)
{
	struct obs_log *o = ctx;
	o->up++;
	assert_non_null(host_find_conn(h, conn_peer(c)));
}

static void obs_down(struct host *h, const struct conn_info *info, int err, void *ctx)
{
	struct obs_log *o = ctx;
	o->down++;
	o->last_err = err;
	o->last = *info;
}

static bool obs_down_both(void *arg)
{
	struct obs_log *o = arg;
	return o[0].down == 1 && o[1].down == 1;
}

static void test_idle_timeout_and_observers(void **state)
{
	ha = node_new(&(struct host_limits){.idle_timeout_ms = 300});
	hb = node_new(NULL);
	struct obs_log o[2];
	memset(o, 0, sizeof(o));
	struct host_observer oa = {obs_up, obs_down, &o[0]}, ob = {obs_up, obs_down, &o[1]};
	assert_int_equal(host_add_observer(ha, &oa), 0);
	assert_int_equal(host_add_observer(hb, &ob), 0);
	struct conn *c = dial_ok(ha, hb, true);
	/* A stream keeps the connection; after it, the idle timer closes it. */
	struct xfer x;
	xfer_open(ha, c, ECHO, &x, 100, 1);
	assert_true(nt_run_until(xfer_finished, &x));
	assert_true(nt_run_until(obs_down_both, o));
	assert_int_equal(o[0].up, 1);
	assert_int_equal(o[1].up, 1);
	/* An orderly close on both ends (GoAway first). */
	assert_int_equal(o[0].last_err, 0);
	assert_int_equal(o[1].last_err, 0);
	assert_true(peerid_equal(&o[0].last.peer, host_peer_id(hb)));
	assert_int_equal(o[0].last.direction, CONN_OUTBOUND);
	assert_null(host_find_conn(ha, host_peer_id(hb)));
	assert_int_equal(nt_stats(ha).conns, 0);
	host_remove_observer(ha, &oa);
	host_remove_observer(hb, &ob);
}

static void test_disconnect(void **state)
{
	ha = node_new(NULL);
	hb = node_new(NULL);
	struct conn *c = dial_ok(ha, hb, true);
	struct xfer x;
	xfer_open(ha, c, HOLD, &x, 0, 0);
	wait_opened(&x);
	int one = 1;
	assert_true(nt_run_until(handlers_reached, &one));
	assert_int_equal(host_disconnect(ha, host_peer_id(hb)), 0);
	assert_true(nt_run_until(xfer_finished, &x));
	assert_int_equal(x.close_err, -ECONNABORTED);
	assert_true(nt_run_until(handler_closed_once, NULL));
	assert_int_equal(host_disconnect(ha, host_peer_id(hb)), -ENOTCONN);
}

/* host_free with streams in full flight: every handler hears on_closed
 * and nothing leaks (the ASan run checks the second part). */
static void test_free_with_active_streams(void **state)
{
	ha = node_new(NULL);
	hb = node_new(NULL);
	struct conn *c = dial_ok(ha, hb, true);
	struct xfer v[8];
	for (size_t i = 0; i < 8; i++)
		xfer_open(ha, c, ECHO, &v[i], 4 * MIB, (uint32_t)i);
	assert_true(nt_run_until(xfer_got_bytes, &v[0]));
	host_free(ha);
	ha = NULL;
	for (size_t i = 0; i < 8; i++) {
		assert_true(v[i].closed || v[i].open_failed);
		if (v[i].closed)
			assert_int_equal(v[i].close_err, -ECONNABORTED);
	}
	host_free(hb);
	hb = NULL;
	assert_int_equal(handlers_open, handlers_closed);
}

static bool handlers_closed_reached(void *arg)
{
	return handlers_closed >= *(int *)arg;
}

/* A row's max_inbound_per_peer: the third stream of CAPPED is reset by the
 * peer after negotiation and counted. */
static void test_limit_inbound_per_protocol(void **state)
{
	ha = node_new(NULL);
	hb = node_new(NULL);
	struct conn *c = dial_ok(ha, hb, true);
	/* Static: streams still open at the end are closed by the teardown's
	 * host_free, whose callbacks must find their context alive. */
	static struct xfer x[3];
	memset(x, 0, sizeof(x));
	for (int i = 0; i < 2; i++) {
		xfer_open(ha, c, CAPPED, &x[i], 0, 0);
		wait_opened(&x[i]);
	}
	int two = 2;
	assert_true(nt_run_until(handlers_reached, &two));
	xfer_open(ha, c, CAPPED, &x[2], 0, 0);
	assert_true(nt_run_until(xfer_finished, &x[2]));
	assert_true(x[2].open_failed ? x[2].open_err == -ECONNRESET
	                             : x[2].close_err == -ECONNRESET);
	assert_int_equal(nt_stats(hb).refused_limit, 1);
	assert_int_equal(handlers_open, 2);
	/* A slot frees when a stream ends. */
	stream_reset(x[0].s);
	int one = 1;
	assert_true(nt_run_until(handlers_closed_reached, &one));
	xfer_open(ha, c, CAPPED, &x[2], 0, 0);
	wait_opened(&x[2]);
	int three = 3;
	assert_true(nt_run_until(handlers_reached, &three));
	assert_int_equal(nt_stats(hb).refused_limit, 1);
}

/* ---- a peer driven by hand: the proto/ machines over a raw socket ---- */

struct raw {
	int fd;
	struct buf in; /* received, not yet consumed */
	struct mss *mss;
	struct noise *noise;
	struct privkey key;
	bool eof;
	bool send_noise_output;
};

static void raw_pull(struct raw *r)
{
	uint8_t tmp[65536];
	ssize_t n;
	while ((n = recv(r->fd, tmp, sizeof(tmp), MSG_DONTWAIT)) > 0)
		assert_int_equal(buf_append(&r->in, tmp, (size_t)n), 0);
	if (n == 0 || (n < 0 && errno != EAGAIN))
		r->eof = true;
}

static void raw_send(struct raw *r, const void *data, size_t len)
{
	const uint8_t *p = data;
	while (len > 0) {
		ssize_t n = send(r->fd, p, len, MSG_NOSIGNAL);
		assert_true(n > 0);
		p += n;
		len -= (size_t)n;
	}
}

static bool raw_mss_step(void *arg)
{
	struct raw *r = arg;
	raw_pull(r);
	if (r->in.len > 0) {
		assert_int_equal(mss_feed(r->mss, r->in.data, r->in.len), 0);
		buf_reset(&r->in);
	}
	return mss_state(r->mss) != MSS_NEGOTIATING || r->eof;
}

static void raw_send_noise_output(struct raw *r)
{
	const uint8_t *p;
	size_t len;
	noise_pending_output(r->noise, &p, &len);
	raw_send(r, p, len);
	noise_output_consumed(r->noise, len);
}

static bool raw_noise_step(void *arg)
{
	struct raw *r = arg;
	raw_pull(r);
	if (r->in.len > 0 && noise_state(r->noise) == NOISE_HANDSHAKING) {
		long n = noise_feed(r->noise, r->in.data, r->in.len);
		assert_true(n >= 0);
		buf_consume(&r->in, (size_t)n);
	}
	if (r->send_noise_output)
		raw_send_noise_output(r);
	return noise_state(r->noise) != NOISE_HANDSHAKING || r->eof;
}

static bool raw_eof(void *arg)
{
	struct raw *r = arg;
	raw_pull(r);
	return r->eof;
}

/* Connect to h and agree on /noise. */
static void raw_select_noise(struct raw *r, struct host *h)
{
	memset(r, 0, sizeof(*r));
	r->fd = nt_raw_connect(nt_port_of(h));
	const char *ids[] = {NOISE_PROTOCOL_ID};
	assert_int_equal(mss_initiator_new(ids, 1, false, &r->mss), 0);
	const uint8_t *p;
	size_t len;
	mss_pending_output(r->mss, &p, &len);
	raw_send(r, p, len);
	mss_output_consumed(r->mss, len);
	assert_true(nt_run_until(raw_mss_step, r));
	assert_int_equal(mss_state(r->mss), MSS_DONE);
	mss_leftover(r->mss, &p, &len);
	buf_append(&r->in, p, len);
	r->mss = mss_free(r->mss);
	assert_int_equal(privkey_generate(&r->key), 0);
	const char *mux[] = {YAMUX_PROTOCOL_ID};
	struct noise_config cfg = {.role = NOISE_INITIATOR,
	                           .identity = &r->key,
	                           .expected_peer = host_peer_id(h),
	                           .muxers = mux,
	                           .n_muxers = 1};
	assert_int_equal(noise_new(&cfg, &r->noise), 0);
	raw_send_noise_output(r);
}

/* The whole upgrade; afterwards h holds an open connection to us. */
static void raw_upgrade(struct raw *r, struct host *h)
{
	raw_select_noise(r, h);
	r->send_noise_output = true;
	assert_true(nt_run_until(raw_noise_step, r));
	assert_int_equal(noise_state(r->noise), NOISE_DONE);
	assert_string_equal(noise_muxer(r->noise), YAMUX_PROTOCOL_ID);
}

static void raw_free(struct raw *r)
{
	close(r->fd);
	buf_free(&r->in);
	mss_free(r->mss);
	noise_free(r->noise);
	privkey_wipe(&r->key);
}

static bool conns_reached(void *arg)
{
	struct stat_wait *w = arg;
	return nt_stats(w->h).conns >= w->inbound_accepted;
}

/* After abuse, the host still serves a well-behaved peer. */
static void still_serves(struct host *victim)
{
	ha = node_new(NULL);
	struct conn *c = dial_ok(ha, victim, true);
	struct xfer x;
	xfer_open(ha, c, ECHO, &x, 1000, 9);
	assert_true(nt_run_until(xfer_finished, &x));
	assert_int_equal(x.recvd, 1000);
	assert_false(x.mismatch);
}

static void test_garbage_before_handshake(void **state)
{
	hb = node_new(NULL);
	struct raw r;
	memset(&r, 0, sizeof(r));
	r.fd = nt_raw_connect(nt_port_of(hb));
	/* What a TLS client would send first: a ClientHello record. */
	uint8_t hello[64] = {0x16, 0x03, 0x01, 0x00, 0x3b, 0x01};
	for (size_t i = 6; i < sizeof(hello); i++)
		hello[i] = (uint8_t)(i * 7);
	raw_send(&r, hello, sizeof(hello));
	assert_true(nt_run_until(raw_eof, &r));
	assert_int_equal(nt_stats(hb).handshake_failures, 1);
	assert_int_equal(nt_stats(hb).handshaking, 0);
	raw_free(&r);
	still_serves(hb);
}

static void test_garbage_during_handshake(void **state)
{
	hb = node_new(NULL);
	struct raw r;
	raw_select_noise(&r, hb);
	/* Read message 2 but answer with a forged message 3 of the right size. */
	assert_true(nt_run_until(raw_noise_step, &r));
	const uint8_t *p;
	size_t len;
	noise_pending_output(r.noise, &p, &len);
	assert_true(len > 2);
	uint8_t *forged = malloc(len);
	memcpy(forged, p, len);
	for (size_t i = 2; i < len; i++)
		forged[i] ^= 0x5a;
	raw_send(&r, forged, len);
	free(forged);
	assert_true(nt_run_until(raw_eof, &r));
	assert_int_equal(nt_stats(hb).handshake_failures, 1);
	assert_int_equal(nt_stats(hb).conns, 0);
	raw_free(&r);
	still_serves(hb);
}

static void test_garbage_after_handshake(void **state)
{
	hb = node_new(NULL);
	struct obs_log o;
	memset(&o, 0, sizeof(o));
	struct host_observer ob = {obs_up, obs_down, &o};
	host_add_observer(hb, &ob);
	struct raw r;
	raw_upgrade(&r, hb);
	struct stat_wait w = {.h = hb, .inbound_accepted = 1};
	assert_true(nt_run_until(conns_reached, &w));
	/* A frame that does not authenticate. */
	uint8_t junk[50] = {0x00, 0x30};
	for (size_t i = 2; i < sizeof(junk); i++)
		junk[i] = (uint8_t)(i * 37);
	raw_send(&r, junk, sizeof(junk));
	assert_true(nt_run_until(raw_eof, &r));
	assert_int_equal(o.down, 1);
	assert_int_equal(o.last_err, -EBADMSG);
	assert_int_equal(nt_stats(hb).conns, 0);
	raw_free(&r);
	host_remove_observer(hb, &ob);
	still_serves(hb);
}

/* A yamux protocol error: the host answers GoAway(protocol error) and
 * drops the connection. */
static void test_yamux_violation(void **state)
{
	hb = node_new(NULL);
	struct raw r;
	raw_upgrade(&r, hb);
	struct yamux_header bad = {.version = 1, .type = YAMUX_TYPE_PING, .flags = YAMUX_FLAG_SYN};
	uint8_t hdr[YAMUX_HEADER_SIZE];
	yamux_header_encode(&bad, hdr);
	struct buf ct = BUF_INIT;
	assert_int_equal(noise_encrypt(r.noise, hdr, sizeof(hdr), &ct), 0);
	raw_send(&r, ct.data, ct.len);
	buf_free(&ct);
	assert_true(nt_run_until(raw_eof, &r));
	/* What the host sent, decrypted, through our own session. */
	struct buf pt = BUF_INIT;
	assert_int_equal(noise_decrypt(r.noise, r.in.data, r.in.len, &pt), 0);
	struct yamux_session *ys;
	assert_int_equal(yamux_session_new(YAMUX_CLIENT, NULL, &ys), 0);
	yamux_feed(ys, pt.data, pt.len, 0);
	struct yamux_event ev;
	bool goaway = false;
	while (yamux_next_event(ys, &ev) == 0)
		if (ev.type == YAMUX_EV_GOAWAY && ev.code == YAMUX_GOAWAY_PROTOCOL_ERROR)
			goaway = true;
	assert_true(goaway);
	yamux_session_free(ys);
	buf_free(&pt);
	assert_int_equal(nt_stats(hb).conns, 0);
	raw_free(&r);
	still_serves(hb);
}

/* A peer that completes the upgrade and then never answers pings. */
static void test_ping_deadline(void **state)
{
	hb = node_new(&(struct host_limits){.ping_interval_ms = 300});
	struct obs_log o;
	memset(&o, 0, sizeof(o));
	struct host_observer ob = {obs_up, obs_down, &o};
	host_add_observer(hb, &ob);
	struct raw r;
	raw_upgrade(&r, hb);
	assert_true(nt_run_until(raw_eof, &r));
	assert_int_equal(o.up, 1);
	assert_int_equal(o.down, 1);
	assert_int_equal(o.last_err, -ETIMEDOUT);
	/* It did ping us first: a Ping SYN is in what we received. */
	struct buf pt = BUF_INIT;
	assert_int_equal(noise_decrypt(r.noise, r.in.data, r.in.len, &pt), 0);
	struct yamux_header h0;
	bool pinged = false;
	for (size_t off = 0; off + YAMUX_HEADER_SIZE <= pt.len;) {
		yamux_header_decode(pt.data + off, pt.len - off, &h0);
		if (h0.type == YAMUX_TYPE_PING && h0.flags == YAMUX_FLAG_SYN)
			pinged = true;
		off += YAMUX_HEADER_SIZE + (h0.type == YAMUX_TYPE_DATA ? h0.length : 0);
	}
	assert_true(pinged);
	buf_free(&pt);
	raw_free(&r);
	host_remove_observer(hb, &ob);
}

static bool streams_at(void *arg)
{
	struct stat_wait *w = arg;
	return nt_stats(w->h).streams == w->inbound_accepted;
}

struct rst_wait {
	struct raw *r;
	struct buf pt; /* everything decrypted so far */
	uint32_t id;
};

/* Decrypt what arrived; true once a frame with RST for id is among it. */
static bool rst_seen(void *arg)
{
	struct rst_wait *w = arg;
	raw_pull(w->r);
	assert_int_equal(noise_decrypt(w->r->noise, w->r->in.data, w->r->in.len, &w->pt), 0);
	buf_reset(&w->r->in);
	struct yamux_header h0;
	for (size_t off = 0; off + YAMUX_HEADER_SIZE <= w->pt.len;) {
		yamux_header_decode(w->pt.data + off, w->pt.len - off, &h0);
		if (h0.stream_id == w->id && (h0.flags & YAMUX_FLAG_RST))
			return true;
		off += YAMUX_HEADER_SIZE + (h0.type == YAMUX_TYPE_DATA ? h0.length : 0);
	}
	return false;
}

/* A peer that opens a stream and never proposes a protocol: the stream is
 * reset after negotiation_timeout_ms and its slot is free again. */
static void test_negotiation_timeout(void **state)
{
	hb = node_new(&(struct host_limits){.negotiation_timeout_ms = 200});
	struct raw r;
	raw_upgrade(&r, hb);
	struct yamux_session *ys;
	assert_int_equal(yamux_session_new(YAMUX_CLIENT, NULL, &ys), 0);
	uint32_t id;
	assert_int_equal(yamux_open_stream(ys, &id), 0);
	const uint8_t *p;
	size_t len;
	yamux_pending_output(ys, &p, &len);
	struct buf ct = BUF_INIT;
	assert_int_equal(noise_encrypt(r.noise, p, len, &ct), 0);
	raw_send(&r, ct.data, ct.len);
	buf_free(&ct);
	struct stat_wait w = {.h = hb, .inbound_accepted = 1};
	assert_true(nt_run_until(streams_at, &w));
	w.inbound_accepted = 0;
	assert_true(nt_run_until(streams_at, &w));
	/* What comes back includes a RST for our stream. */
	struct rst_wait rw = {&r, BUF_INIT, id};
	assert_true(nt_run_until(rst_seen, &rw));
	struct buf pt = rw.pt;
	assert_int_equal(nt_stats(hb).conns, 1);
	buf_free(&pt);
	yamux_session_free(ys);
	raw_free(&r);
}

/* ---- the TCP layer on its own ---- */

struct tcp_probe {
	int errors, last_err, readable, drained;
};

static void tp_connected(void *ctx)
{
}

static void tp_readable(void *ctx)
{
	((struct tcp_probe *)ctx)->readable++;
}

static void tp_drained(void *ctx)
{
	((struct tcp_probe *)ctx)->drained++;
}

static void tp_error(void *ctx, int err, const char *what)
{
	struct tcp_probe *p = ctx;
	p->errors++;
	p->last_err = err;
}

static const struct tcp_sock_ops tp_ops = {tp_connected, tp_readable, tp_drained, tp_error};

static bool tp_failed(void *arg)
{
	return ((struct tcp_probe *)arg)->errors > 0;
}

/* The peer never reads: queued output makes no progress and the socket
 * fails with -ETIMEDOUT after the stall timeout. */
static void test_tcp_write_stall(void **state)
{
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	struct tcp_set *set = tcp_set_new(nt_base);
	struct tcp_sock *s;
	struct tcp_probe p = {0};
	assert_int_equal(tcp_adopt(set, sv[0], &tp_ops, &p, &s), 0);
	tcp_sock_set_stall_timeout(s, 200);
	static uint8_t chunk[1 << 20];
	for (int i = 0; i < 8; i++)
		assert_int_equal(tcp_sock_write(s, chunk, sizeof(chunk)), 0);
	assert_true(nt_run_until(tp_failed, &p));
	assert_int_equal(p.last_err, -ETIMEDOUT);
	assert_true(tcp_sock_tx_pending(s) > 0);
	tcp_sock_close(s);
	tcp_set_free(set);
	close(sv[1]);
}

struct rx_wait {
	struct tcp_sock *s;
	struct tcp_probe *p;
	int sender;
	size_t sent;
};

/* Keep the sender busy; done once the receiver stopped taking bytes. */
static bool rx_full(void *arg)
{
	struct rx_wait *w = arg;
	static uint8_t chunk[65536];
	ssize_t n;
	while ((n = send(w->sender, chunk, sizeof(chunk), MSG_DONTWAIT)) > 0)
		w->sent += (size_t)n;
	const uint8_t *p;
	size_t len;
	tcp_sock_peek(w->s, &p, &len);
	return len >= TCP_RX_MAX;
}

/* An owner that does not consume stops the reading at TCP_RX_MAX; pausing
 * stops it at once; consuming resumes it. */
static void test_tcp_read_backpressure(void **state)
{
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	struct tcp_set *set = tcp_set_new(nt_base);
	struct tcp_sock *s;
	struct tcp_probe p = {0};
	assert_int_equal(tcp_adopt(set, sv[0], &tp_ops, &p, &s), 0);
	struct rx_wait w = {s, &p, sv[1], 0};
	assert_true(nt_run_until(rx_full, &w));
	const uint8_t *data;
	size_t len;
	tcp_sock_peek(s, &data, &len);
	assert_int_equal(len, TCP_RX_MAX);
	/* Nothing more is read while it is full, however long the loop runs. */
	int readable = p.readable;
	nt_run_until_ms(tp_failed, &p, 100);
	tcp_sock_peek(s, &data, &len);
	assert_int_equal(len, TCP_RX_MAX);
	assert_int_equal(p.readable, readable);
	/* Paused, consuming does not restart reading either. */
	tcp_sock_pause(s);
	tcp_sock_consume(s, len);
	nt_run_until_ms(tp_failed, &p, 100);
	tcp_sock_peek(s, &data, &len);
	assert_int_equal(len, 0);
	tcp_sock_resume(s);
	assert_true(nt_run_until(rx_full, &w));
	assert_int_equal(tcp_set_count(set), 1);
	tcp_sock_close(s);
	tcp_set_free(set);
	close(sv[1]);
}

static bool ipv6_available(void)
{
	int fd = socket(AF_INET6, SOCK_STREAM, 0);
	if (fd < 0)
		return false;
	struct sockaddr_in6 sa = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	bool ok = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return ok;
}

/* Every configured address is listened on, port 0 resolved, IPv4 and IPv6
 * sharing one explicit port (the IPv6 socket is IPv6-only). */
static void test_listen_ipv4_and_ipv6(void **state)
{
	if (!ipv6_available())
		skip();
	ha = node_new(NULL);
	struct privkey key;
	assert_int_equal(privkey_generate(&key), 0);
	struct multiaddr la[2];
	assert_int_equal(multiaddr_parse("/ip4/127.0.0.1/tcp/0", &la[0], NULL), 0);
	assert_int_equal(multiaddr_parse("/ip6/::1/tcp/0", &la[1], NULL), 0);
	struct host_config cfg = {.key = &key, .listen = la, .n_listen = 2};
	struct errmsg err;
	assert_int_equal(host_new(nt_base, &cfg, &hb, &err), 0);
	assert_int_equal(protocols_register(host_protocols(hb), test_handlers, NULL), 0);
	const struct multiaddr *got;
	assert_int_equal(host_listen_addrs(hb, &got), 2);
	char text[MULTIADDR_TEXT_MAX];
	multiaddr_to_string(&got[1], text, sizeof(text));
	assert_non_null(strstr(text, "/ip6/::1/tcp/"));
	assert_null(strstr(text, "/tcp/0"));
	/* Dial the IPv6 one. */
	struct multiaddr ma;
	assert_int_equal(multiaddr_copy(&got[1], &ma), 0);
	assert_int_equal(multiaddr_append_p2p(&ma, host_peer_id(hb)), 0);
	struct dial_result r;
	dial_addr(ha, &ma, 0, &r);
	multiaddr_free(&ma);
	assert_int_equal(r.err, 0);
	struct conn_info info;
	conn_get_info(r.c, &info);
	assert_non_null(strstr(info.remote_addr, "/ip6/::1/tcp/"));
	/* Both families on one explicit port. */
	int family;
	const uint8_t *addr;
	uint16_t port;
	multiaddr_as_tcp(&got[0], &family, &addr, &port);
	multiaddr_free(&la[0]);
	multiaddr_free(&la[1]);
	char t4[64], t6[64];
	snprintf(t4, sizeof(t4), "/ip4/0.0.0.0/tcp/%u", port + 1);
	snprintf(t6, sizeof(t6), "/ip6/::/tcp/%u", port + 1);
	assert_int_equal(multiaddr_parse(t4, &la[0], NULL), 0);
	assert_int_equal(multiaddr_parse(t6, &la[1], NULL), 0);
	struct host *hc = NULL;
	int rc = host_new(nt_base, &cfg, &hc, &err);
	if (rc == -EADDRINUSE) {
		/* Someone else holds that port: only the error text is checked. */
		assert_non_null(strstr(err.text, "listen /ip"));
	} else {
		assert_int_equal(rc, 0);
		assert_int_equal(host_listen_addrs(hc, &got), 2);
	}
	host_free(hc);
	/* A listen address that is not TCP is refused by name. */
	multiaddr_free(&la[1]);
	assert_int_equal(multiaddr_parse("/ip4/127.0.0.1/udp/0/quic-v1", &la[1], NULL), 0);
	cfg.listen = &la[1];
	cfg.n_listen = 1;
	assert_int_equal(host_new(nt_base, &cfg, &hc, &err), -EAFNOSUPPORT);
	assert_non_null(strstr(err.text, "quic-v1"));
	multiaddr_free(&la[0]);
	multiaddr_free(&la[1]);
	privkey_wipe(&key);
}

static void test_registry(void **state)
{
	struct protocols *r = protocols_new();
	assert_non_null(r);
	assert_int_equal(protocols_register(r, test_handlers, &r), 0);
	assert_int_equal(protocols_register(r, test_handlers, NULL), -EEXIST);
	const struct protocol_handler bad[] = {{"na", echo_on_stream, 0}, {0}};
	assert_int_equal(protocols_register(r, bad, NULL), -EINVAL);
	const struct protocol_handler dup[] = {
	        {"/x/1", echo_on_stream, 0}, {"/x/1", echo_on_stream, 0}, {0}};
	assert_int_equal(protocols_register(r, dup, NULL), -EEXIST);
	const char *const *ids;
	assert_int_equal(protocols_ids(r, &ids), 4);
	assert_string_equal(ids[0], ECHO);
	assert_string_equal(ids[2], HALF);
	void *ctx = NULL;
	const struct protocol_handler *row = protocols_find(r, HOLD, &ctx);
	assert_non_null(row);
	assert_ptr_equal(ctx, &r);
	assert_int_equal(protocols_max_inbound(row), PROTOCOLS_DEFAULT_MAX_INBOUND_PER_PEER);
	assert_null(protocols_find(r, "/nope", NULL));
	protocols_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_registry),
	        cmocka_unit_test_setup_teardown(test_dial_without_p2p, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_dial_with_p2p_reuses, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_wrong_peer_id_refused, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_dial_refused_port, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_echo_stream, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_unknown_protocol, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_concurrent_streams, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_half_close, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_reset, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_limit_max_handshaking, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_limit_per_ip, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_limit_streams_per_conn, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_handshake_timeout_outbound, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_handshake_timeout_inbound, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_simultaneous_dial, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_idle_timeout_and_observers, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_disconnect, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_free_with_active_streams, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_limit_inbound_per_protocol, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_garbage_before_handshake, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_garbage_during_handshake, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_garbage_after_handshake, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_yamux_violation, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_ping_deadline, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_negotiation_timeout, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_tcp_write_stall, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_tcp_read_backpressure, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_listen_ipv4_and_ipv6, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
