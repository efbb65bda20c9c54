/* Yamux: checklist §8.3 header vectors, two sessions wired back to back with
 * injected time (bulk transfer, flow control, auto-tuning, half-close, reset,
 * GoAway), and the protocol errors and caps. */
#include "testutil.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "yamux.h"

/* Events a side has produced, in order. */
struct evlog {
	struct yamux_event *ev;
	size_t n;
	size_t cap;
};

struct side {
	struct yamux_session *s;
	struct evlog log;
};

struct pair {
	struct side c;
	struct side v; /* server */
	uint64_t now;
};

static void log_events(struct side *x)
{
	struct yamux_event e;
	while (yamux_next_event(x->s, &e) == 0) {
		if (x->log.n == x->log.cap) {
			x->log.cap = x->log.cap ? x->log.cap * 2 : 64;
			x->log.ev = realloc(x->log.ev, x->log.cap * sizeof(e));
			assert_non_null(x->log.ev);
		}
		x->log.ev[x->log.n++] = e;
	}
}

static void log_clear(struct side *x)
{
	x->log.n = 0;
}

static size_t count_events(const struct side *x, enum yamux_event_type t, uint32_t id)
{
	size_t n = 0;
	for (size_t i = 0; i < x->log.n; i++)
		if (x->log.ev[i].type == t && (id == 0 || x->log.ev[i].stream_id == id))
			n++;
	return n;
}

static void side_init(struct side *x, enum yamux_role role, const struct yamux_config *cfg)
{
	memset(x, 0, sizeof(*x));
	assert_int_equal(yamux_session_new(role, cfg, &x->s), 0);
}

static void side_free(struct side *x)
{
	yamux_session_free(x->s);
	free(x->log.ev);
}

static void pair_init(struct pair *p, const struct yamux_config *cfg)
{
	side_init(&p->c, YAMUX_CLIENT, cfg);
	side_init(&p->v, YAMUX_SERVER, cfg);
	p->now = 1000;
}

static void pair_free(struct pair *p)
{
	side_free(&p->c);
	side_free(&p->v);
}

/* Feed everything into a side, logging its events whenever it pushes back. */
static long feed_side(struct side *to, const uint8_t *data, size_t len, uint64_t now)
{
	size_t off = 0;
	while (off < len) {
		long n = yamux_feed(to->s, data + off, len - off, now);
		if (n < 0) {
			log_events(to);
			return n;
		}
		off += (size_t)n;
		log_events(to);
	}
	log_events(to);
	return (long)off;
}

static long feed_hex(struct side *to, const char *hex, uint64_t now)
{
	struct buf b = th_hex(hex);
	long r = feed_side(to, b.data, b.len, now);
	buf_free(&b);
	return r;
}

/* Move one side's pending output to the other. */
static size_t xfer(struct side *from, struct side *to, uint64_t now)
{
	const uint8_t *p;
	size_t len;
	yamux_pending_output(from->s, &p, &len);
	if (len == 0)
		return 0;
	/* Copy: feeding may queue output on `to`, never on `from`, but keep
	 * the test independent of that. */
	uint8_t *copy = malloc(len);
	assert_non_null(copy);
	memcpy(copy, p, len);
	yamux_output_consumed(from->s, len);
	assert_int_equal(feed_side(to, copy, len, now), (long)len);
	free(copy);
	log_events(from);
	return len;
}

static void pump(struct pair *p)
{
	while (xfer(&p->c, &p->v, p->now) + xfer(&p->v, &p->c, p->now) > 0)
		;
}

static void take_output(struct side *x, const char *hex)
{
	const uint8_t *p;
	size_t len;
	yamux_pending_output(x->s, &p, &len);
	th_assert_hex(p, len, hex);
	yamux_output_consumed(x->s, len);
}

static void drop_output(struct side *x)
{
	const uint8_t *p;
	size_t len;
	yamux_pending_output(x->s, &p, &len);
	yamux_output_consumed(x->s, len);
}

static bool output_ends_with_hex(struct side *x, const char *hex)
{
	struct buf want = th_hex(hex);
	const uint8_t *p;
	size_t len;
	yamux_pending_output(x->s, &p, &len);
	bool ok = len >= want.len && memcmp(p + len - want.len, want.data, want.len) == 0;
	buf_free(&want);
	return ok;
}

/* ---- vectors ---- */

static void test_header_codec(void **state)
{
	struct yamux_header h = {0, YAMUX_TYPE_DATA, 0, 1, 5};
	uint8_t out[YAMUX_HEADER_SIZE];
	yamux_header_encode(&h, out);
	th_assert_hex(out, sizeof(out), "000000000000000100000005");
	struct yamux_header back;
	assert_int_equal(yamux_header_decode(out, sizeof(out), &back), 0);
	assert_int_equal(back.stream_id, 1);
	assert_int_equal(back.length, 5);
	assert_int_equal(yamux_header_decode(out, 11, &back), -ENODATA);
	h = (struct yamux_header){0, YAMUX_TYPE_WINDOW_UPDATE, 0xa1b2, 0xdeadbeef, 0x01020304};
	yamux_header_encode(&h, out);
	th_assert_hex(out, sizeof(out), "0001a1b2deadbeef01020304");
}

static void test_open_and_data_vectors(void **state)
{
	struct side c;
	side_init(&c, YAMUX_CLIENT, NULL);
	uint32_t id;
	assert_int_equal(yamux_open_stream(c.s, &id), 0);
	assert_int_equal(id, 1);
	take_output(&c, "000100010000000100000000");
	assert_int_equal(yamux_write(c.s, 1, (const uint8_t *)"hello", 5), 5);
	take_output(&c, "000000000000000100000005"
	                "68656c6c6f");
	assert_int_equal(yamux_open_stream(c.s, &id), 0);
	assert_int_equal(id, 3);
	side_free(&c);
}

static void test_fin_rst_vectors(void **state)
{
	struct side v;
	side_init(&v, YAMUX_SERVER, NULL);
	uint32_t id;
	assert_int_equal(yamux_open_stream(v.s, &id), 0);
	assert_int_equal(id, 2);
	assert_int_equal(yamux_close_write(v.s, 2), 0);
	take_output(&v, "000100010000000200000000"
	                "000100040000000200000000");
	assert_int_equal(yamux_close_write(v.s, 2), -EPIPE);
	assert_int_equal(yamux_write(v.s, 2, (const uint8_t *)"x", 1), -EPIPE);
	assert_int_equal(yamux_reset(v.s, 2), 0);
	take_output(&v, "000100080000000200000000");
	log_events(&v);
	assert_int_equal(count_events(&v, YAMUX_EV_STREAM_CLOSED, 2), 1);
	assert_int_equal(yamux_reset(v.s, 2), -ENOENT);
	side_free(&v);
}

static void test_ping_vectors(void **state)
{
	struct side v;
	side_init(&v, YAMUX_SERVER, NULL);
	/* A ping SYN is answered at once, before anything else is asked. */
	assert_int_equal(feed_hex(&v, "000200010000000000000007", 5), 12);
	take_output(&v, "000200020000000000000007");
	assert_int_equal(v.log.n, 0);
	side_free(&v);
}

static void test_goaway_vector(void **state)
{
	struct side c;
	side_init(&c, YAMUX_CLIENT, NULL);
	assert_int_equal(yamux_goaway(c.s, YAMUX_GOAWAY_NORMAL), 0);
	take_output(&c, "000300000000000000000000");
	assert_int_equal(yamux_goaway(c.s, 0), -EALREADY);
	uint32_t id;
	assert_int_equal(yamux_open_stream(c.s, &id), -ESHUTDOWN);
	side_free(&c);
}

/* ---- ping ---- */

static void test_ping_rtt(void **state)
{
	struct pair p;
	pair_init(&p, NULL);
	assert_int_equal(yamux_ping(p.c.s, 1000), 0);
	assert_int_equal(yamux_ping(p.c.s, 1000), -EALREADY);
	take_output(&p.c, "000200010000000000000000");
	/* Re-send the same bytes through the server by hand. */
	assert_int_equal(feed_hex(&p.v, "000200010000000000000000", 1010), 12);
	assert_int_equal(xfer(&p.v, &p.c, 1042), 12);
	assert_int_equal(p.c.log.n, 1);
	assert_int_equal(p.c.log.ev[0].type, YAMUX_EV_PING_RTT);
	assert_int_equal(p.c.log.ev[0].rtt_ms, 42);
	struct yamux_stats st;
	yamux_get_stats(p.c.s, &st);
	assert_false(st.ping_outstanding);
	assert_int_equal(st.rtt_ms, 42);
	/* The next ping carries the next value. */
	assert_int_equal(yamux_ping(p.c.s, 2000), 0);
	take_output(&p.c, "000200010000000000000001");
	pair_free(&p);
}

static void expect_fatal(struct side *x, const char *hex, const char *why)
{
	assert_int_equal(feed_hex(x, hex, 1), -EPROTO);
	assert_true(output_ends_with_hex(x, "000300000000000000000001"));
	assert_int_equal(count_events(x, YAMUX_EV_SESSION_ERROR, 0), 1);
	if (!strstr(yamux_error(x->s), why))
		fail_msg("error '%s' lacks '%s'", yamux_error(x->s), why);
	/* Failure is sticky and the API refuses further work. */
	assert_int_equal(yamux_feed(x->s, (const uint8_t *)"", 0, 2), -EPROTO);
	uint32_t id;
	assert_int_equal(yamux_open_stream(x->s, &id), -ENOTCONN);
	assert_int_equal(yamux_ping(x->s, 3), -ENOTCONN);
}

static void fatal_case(enum yamux_role role, const char *hex, const char *why)
{
	struct side x;
	side_init(&x, role, NULL);
	expect_fatal(&x, hex, why);
	side_free(&x);
}

static void test_unsolicited_ping_ack_fatal(void **state)
{
	fatal_case(YAMUX_SERVER, "000200020000000000000007", "unsolicited");
	struct side c;
	side_init(&c, YAMUX_CLIENT, NULL);
	assert_int_equal(yamux_ping(c.s, 0), 0);
	drop_output(&c);
	expect_fatal(&c, "000200020000000000000007", "does not match");
	side_free(&c);
	fatal_case(YAMUX_SERVER, "000200030000000000000007", "flags");
}

static void test_protocol_errors(void **state)
{
	fatal_case(YAMUX_SERVER, "010100010000000100000000", "version");
	fatal_case(YAMUX_SERVER, "000400000000000000000000", "unknown frame type");
	fatal_case(YAMUX_SERVER, "000000000000000000000001", "stream 0");
	fatal_case(YAMUX_SERVER, "000100000000000000000001", "stream 0");
	fatal_case(YAMUX_SERVER, "000200010000000100000000", "on stream 1");
	fatal_case(YAMUX_SERVER, "000300000000000300000000", "on stream 3");
	/* A server's peer opens odd IDs; a client's peer even ones. */
	fatal_case(YAMUX_SERVER, "000100010000000200000000", "parity");
	fatal_case(YAMUX_CLIENT, "000100010000000100000000", "parity");
	/* No window we grant is that large, known stream or not. */
	fatal_case(YAMUX_SERVER, "000000000000000901000001", "exceeds any window");
}

/* ---- flow control ---- */

static void test_window_overrun_fatal(void **state)
{
	struct side v;
	side_init(&v, YAMUX_SERVER, NULL);
	assert_int_equal(feed_hex(&v, "000100010000000100000000", 1), 12);
	assert_int_equal(count_events(&v, YAMUX_EV_STREAM_OPENED, 1), 1);
	take_output(&v, "000100020000000100000000");
	/* 200000 bytes fit in 262144; another 100000 do not. */
	struct buf b = BUF_INIT;
	assert_int_equal(
	        buf_append(&b, (const uint8_t[]){0, 0, 0, 0, 0, 0, 0, 1, 0, 3, 0x0d, 0x40}, 12), 0);
	assert_non_null(buf_extend(&b, 200000));
	memset(b.data + 12, 'a', 200000);
	assert_int_equal(feed_side(&v, b.data, b.len, 2), (long)b.len);
	buf_free(&b);
	assert_int_equal(yamux_stream_send_window(v.s, 1), YAMUX_INITIAL_WINDOW);
	expect_fatal(&v, "0000000000000001000186a0", "window");
	side_free(&v);
}

static size_t write_until_blocked(struct side *x, uint32_t id, size_t max)
{
	static uint8_t chunk[65536];
	size_t total = 0;
	while (total < max) {
		size_t want = max - total < sizeof(chunk) ? max - total : sizeof(chunk);
		long n = yamux_write(x->s, id, chunk, want);
		if (n == -EAGAIN)
			break;
		assert_true(n > 0);
		total += (size_t)n;
	}
	return total;
}

static void test_sender_stops_at_zero_window(void **state)
{
	struct pair p;
	pair_init(&p, NULL);
	uint32_t id;
	assert_int_equal(yamux_open_stream(p.c.s, &id), 0);
	size_t sent = 0;
	/* Push through the wire until the window is spent; the receiver does
	 * not consume, so it must stop at exactly one initial window. */
	for (int i = 0; i < 10; i++) {
		sent += write_until_blocked(&p.c, id, 1 << 20);
		pump(&p);
	}
	assert_int_equal(sent, YAMUX_INITIAL_WINDOW);
	assert_int_equal(yamux_stream_send_window(p.c.s, id), 0);
	assert_int_equal(yamux_write(p.c.s, id, (const uint8_t *)"x", 1), -EAGAIN);
	const uint8_t *data;
	size_t len;
	assert_int_equal(yamux_stream_peek(p.v.s, id, &data, &len), 0);
	assert_int_equal(len, YAMUX_INITIAL_WINDOW);
	struct yamux_stats st;
	yamux_get_stats(p.v.s, &st);
	assert_int_equal(st.recv_buffered, YAMUX_INITIAL_WINDOW);

	/* A slow consumer: less than half a window consumed keeps it shut. */
	log_clear(&p.c);
	assert_int_equal(yamux_stream_consumed(p.v.s, id, 100000, p.now), 0);
	pump(&p);
	assert_int_equal(yamux_stream_send_window(p.c.s, id), 0);
	assert_int_equal(count_events(&p.c, YAMUX_EV_STREAM_WRITABLE, id), 0);
	assert_int_equal(yamux_write(p.c.s, id, (const uint8_t *)"x", 1), -EAGAIN);

	/* Crossing half a window gives everything consumed back. */
	assert_int_equal(yamux_stream_consumed(p.v.s, id, 50000, p.now), 0);
	pump(&p);
	assert_int_equal(count_events(&p.c, YAMUX_EV_STREAM_WRITABLE, id), 1);
	assert_int_equal(yamux_stream_send_window(p.c.s, id), 150000);
	assert_int_equal(write_until_blocked(&p.c, id, 1 << 20), 150000);
	assert_int_equal(yamux_stream_consumed(p.v.s, id, 1 << 20, p.now), -EINVAL);
	pair_free(&p);
}

/* Move data from client streams to the server with the server consuming
 * everything at once, `rounds` times; returns the bytes moved. */
static size_t stream_bulk(struct pair *p, uint32_t id, size_t total, uint64_t step_ms)
{
	size_t moved = 0;
	while (moved < total) {
		moved += write_until_blocked(&p->c, id, total - moved);
		pump(p);
		const uint8_t *data;
		size_t len;
		assert_int_equal(yamux_stream_peek(p->v.s, id, &data, &len), 0);
		assert_true(len <= yamux_stream_recv_window(p->v.s, id));
		p->now += step_ms;
		assert_int_equal(yamux_stream_consumed(p->v.s, id, len, p->now), 0);
		pump(p);
	}
	return moved;
}

/* The receiver (the server here) auto-tunes, so it needs its own RTT. */
static void establish_rtt(struct pair *p, uint64_t rtt)
{
	assert_int_equal(yamux_ping(p->v.s, p->now), 0);
	xfer(&p->v, &p->c, p->now);
	p->now += rtt;
	xfer(&p->c, &p->v, p->now);
	assert_int_equal(count_events(&p->v, YAMUX_EV_PING_RTT, 0), 1);
}

static void test_autotune_grows_to_cap(void **state)
{
	struct pair p;
	pair_init(&p, NULL);
	establish_rtt(&p, 10);
	uint32_t id;
	assert_int_equal(yamux_open_stream(p.c.s, &id), 0);
	/* Consumption keeps up (no time passes): the window doubles up to
	 * 16 MiB and no further. */
	stream_bulk(&p, id, 48u << 20, 0);
	assert_int_equal(yamux_stream_recv_window(p.v.s, id), YAMUX_DEFAULT_MAX_WINDOW);
	struct yamux_stats st;
	yamux_get_stats(p.v.s, &st);
	assert_int_equal(st.max_stream_window_seen, YAMUX_DEFAULT_MAX_WINDOW);
	assert_true(yamux_stream_send_window(p.c.s, id) <= YAMUX_DEFAULT_MAX_WINDOW);
	pair_free(&p);
}

static void test_autotune_slow_consumer_stays(void **state)
{
	struct pair p;
	pair_init(&p, NULL);
	establish_rtt(&p, 10);
	uint32_t id;
	assert_int_equal(yamux_open_stream(p.c.s, &id), 0);
	/* Each window takes 100 ms to drain, far over 4 RTTs: no growth. */
	stream_bulk(&p, id, 4u << 20, 100);
	assert_int_equal(yamux_stream_recv_window(p.v.s, id), YAMUX_INITIAL_WINDOW);
	pair_free(&p);
}

static void test_autotune_needs_rtt(void **state)
{
	struct pair p;
	pair_init(&p, NULL);
	uint32_t id;
	assert_int_equal(yamux_open_stream(p.c.s, &id), 0);
	stream_bulk(&p, id, 2u << 20, 0);
	assert_int_equal(yamux_stream_recv_window(p.v.s, id), YAMUX_INITIAL_WINDOW);
	pair_free(&p);
}

/* ---- bulk transfer ---- */

#define BULK_STREAMS 50
#define BULK_TOTAL (10u * 1024 * 1024)

static uint8_t pattern(size_t stream, size_t off)
{
	return (uint8_t)(stream * 31 + off * 7 + (off >> 9));
}

struct bulk_stream {
	uint32_t id;
	size_t sent;
	size_t recvd;
	bool closed_c;
	bool closed_v;
	bool eof_v;
};

static size_t bulk_index(struct bulk_stream *bs, uint32_t id)
{
	for (size_t i = 0; i < BULK_STREAMS; i++)
		if (bs[i].id == id)
			return i;
	fail_msg("unknown stream %u", id);
	return 0;
}

static void bulk_server_events(struct pair *p, struct bulk_stream *bs, unsigned *rng)
{
	struct yamux_event e;
	while (yamux_next_event(p->v.s, &e) == 0) {
		if (e.type == YAMUX_EV_STREAM_CLOSED) {
			bs[bulk_index(bs, e.stream_id)].closed_v = true;
			continue;
		}
		if (e.type == YAMUX_EV_STREAM_EOF) {
			size_t i = bulk_index(bs, e.stream_id);
			bs[i].eof_v = true;
			assert_int_equal(yamux_close_write(p->v.s, e.stream_id), 0);
			continue;
		}
		if (e.type != YAMUX_EV_STREAM_DATA)
			continue;
		size_t i = bulk_index(bs, e.stream_id);
		const uint8_t *data;
		size_t len;
		assert_int_equal(yamux_stream_peek(p->v.s, e.stream_id, &data, &len), 0);
		/* Consume a pseudo-random part: partial reads must work too. */
		*rng = *rng * 1103515245 + 12345;
		size_t take = len - (len > 1 ? (*rng >> 8) % (len / 2) : 0);
		for (size_t k = 0; k < take; k++)
			if (data[k] != pattern(i, bs[i].recvd + k))
				fail_msg("stream %u byte %zu differs", e.stream_id,
				         bs[i].recvd + k);
		bs[i].recvd += take;
		assert_int_equal(yamux_stream_consumed(p->v.s, e.stream_id, take, p->now), 0);
	}
}

/* The server re-reads streams left with partial data. */
static void bulk_server_rescan(struct pair *p, struct bulk_stream *bs, unsigned *rng)
{
	for (size_t i = 0; i < BULK_STREAMS; i++) {
		const uint8_t *data;
		size_t len;
		if (bs[i].closed_v || yamux_stream_peek(p->v.s, bs[i].id, &data, &len) < 0 ||
		    len == 0)
			continue;
		for (size_t k = 0; k < len; k++)
			assert_int_equal(data[k], pattern(i, bs[i].recvd + k));
		bs[i].recvd += len;
		assert_int_equal(yamux_stream_consumed(p->v.s, bs[i].id, len, p->now), 0);
	}
	bulk_server_events(p, bs, rng);
}

static void bulk_client_step(struct pair *p, struct bulk_stream *bs, size_t per_stream)
{
	uint8_t chunk[20000];
	struct yamux_event e;
	while (yamux_next_event(p->c.s, &e) == 0) {
		if (e.type == YAMUX_EV_STREAM_CLOSED)
			bs[bulk_index(bs, e.stream_id)].closed_c = true;
		assert_true(e.type != YAMUX_EV_STREAM_RESET && e.type != YAMUX_EV_SESSION_ERROR);
	}
	for (size_t i = 0; i < BULK_STREAMS; i++) {
		if (bs[i].sent == per_stream || bs[i].closed_c)
			continue;
		size_t n = per_stream - bs[i].sent < sizeof(chunk) ? per_stream - bs[i].sent
		                                                   : sizeof(chunk);
		for (size_t k = 0; k < n; k++)
			chunk[k] = pattern(i, bs[i].sent + k);
		long w = yamux_write(p->c.s, bs[i].id, chunk, n);
		if (w == -EAGAIN)
			continue;
		assert_true(w > 0);
		bs[i].sent += (size_t)w;
		if (bs[i].sent == per_stream)
			assert_int_equal(yamux_close_write(p->c.s, bs[i].id), 0);
	}
}

static bool bulk_done(const struct bulk_stream *bs)
{
	for (size_t i = 0; i < BULK_STREAMS; i++)
		if (!bs[i].closed_c || !bs[i].closed_v)
			return false;
	return true;
}

/* Move bytes with a socket-sized budget, as a transport would. */
static void wire(struct side *from, struct side *to, uint64_t now, size_t budget)
{
	const uint8_t *out;
	size_t len;
	yamux_pending_output(from->s, &out, &len);
	size_t n = len < budget ? len : budget;
	long took = yamux_feed(to->s, out, n, now);
	assert_true(took >= 0);
	yamux_output_consumed(from->s, (size_t)took);
}

static void test_bulk_50_streams(void **state)
{
	struct pair p;
	pair_init(&p, NULL);
	struct bulk_stream bs[BULK_STREAMS];
	memset(bs, 0, sizeof(bs));
	size_t per_stream = BULK_TOTAL / BULK_STREAMS;
	for (size_t i = 0; i < BULK_STREAMS; i++)
		assert_int_equal(yamux_open_stream(p.c.s, &bs[i].id), 0);
	unsigned rng = 1;
	for (int iter = 0; !bulk_done(bs); iter++) {
		assert_true(iter < 100000);
		bulk_client_step(&p, bs, per_stream);
		wire(&p.c, &p.v, p.now, 100000);
		bulk_server_events(&p, bs, &rng);
		if (iter % 8 == 0)
			bulk_server_rescan(&p, bs, &rng);
		wire(&p.v, &p.c, p.now, 100000);
		struct yamux_stats st;
		yamux_get_stats(p.v.s, &st);
		assert_true(st.recv_buffered <= (uint64_t)BULK_STREAMS * YAMUX_INITIAL_WINDOW);
		p.now++;
	}
	size_t total = 0;
	for (size_t i = 0; i < BULK_STREAMS; i++) {
		assert_int_equal(bs[i].recvd, per_stream);
		assert_true(bs[i].eof_v);
		total += bs[i].recvd;
	}
	assert_true(total >= BULK_TOTAL - BULK_STREAMS);
	struct yamux_stats st;
	yamux_get_stats(p.c.s, &st);
	assert_int_equal(st.streams_outbound, 0);
	yamux_get_stats(p.v.s, &st);
	assert_int_equal(st.streams_inbound, 0);
	assert_int_equal(st.recv_buffered, 0);
	pair_free(&p);
}

/* ---- stream lifecycle ---- */

static void write_str(struct side *x, uint32_t id, const char *s)
{
	assert_int_equal(yamux_write(x->s, id, (const uint8_t *)s, strlen(s)), (long)strlen(s));
}

static void read_str(struct side *x, uint32_t id, const char *want)
{
	uint8_t got[64];
	long n = yamux_stream_read(x->s, id, got, sizeof(got), 0);
	assert_int_equal(n, (long)strlen(want));
	assert_memory_equal(got, want, strlen(want));
}

static void test_half_close_both_directions(void **state)
{
	struct pair p;
	pair_init(&p, NULL);
	uint32_t id;
	assert_int_equal(yamux_open_stream(p.c.s, &id), 0);
	write_str(&p.c, id, "abc");
	assert_int_equal(yamux_close_write(p.c.s, id), 0);
	pump(&p);
	assert_int_equal(count_events(&p.v, YAMUX_EV_STREAM_OPENED, id), 1);
	assert_int_equal(count_events(&p.v, YAMUX_EV_STREAM_DATA, id), 1);
	assert_int_equal(count_events(&p.v, YAMUX_EV_STREAM_EOF, id), 1);
	/* The server still writes after the client's FIN. */
	write_str(&p.v, id, "xyz");
	pump(&p);
	read_str(&p.c, id, "xyz");
	read_str(&p.v, id, "abc");
	assert_int_equal(count_events(&p.v, YAMUX_EV_STREAM_CLOSED, id), 0);
	assert_int_equal(yamux_close_write(p.v.s, id), 0);
	pump(&p);
	log_events(&p.v);
	assert_int_equal(count_events(&p.c, YAMUX_EV_STREAM_EOF, id), 1);
	assert_int_equal(count_events(&p.c, YAMUX_EV_STREAM_CLOSED, id), 1);
	assert_int_equal(count_events(&p.v, YAMUX_EV_STREAM_CLOSED, id), 1);
	assert_int_equal(yamux_write(p.c.s, id, (const uint8_t *)"x", 1), -ENOENT);
	pair_free(&p);
}

static void test_closed_waits_for_reader(void **state)
{
	struct pair p;
	pair_init(&p, NULL);
	uint32_t id;
	assert_int_equal(yamux_open_stream(p.c.s, &id), 0);
	write_str(&p.c, id, "tail");
	assert_int_equal(yamux_close_write(p.c.s, id), 0);
	pump(&p);
	assert_int_equal(yamux_close_write(p.v.s, id), 0);
	pump(&p);
	log_events(&p.v);
	/* Both FINs are out, but the data is still unread. */
	assert_int_equal(count_events(&p.v, YAMUX_EV_STREAM_CLOSED, id), 0);
	read_str(&p.v, id, "tail");
	log_events(&p.v);
	assert_int_equal(count_events(&p.v, YAMUX_EV_STREAM_CLOSED, id), 1);
	pair_free(&p);
}

static void test_reset(void **state)
{
	struct pair p;
	pair_init(&p, NULL);
	uint32_t id;
	assert_int_equal(yamux_open_stream(p.c.s, &id), 0);
	write_str(&p.c, id, "doomed");
	pump(&p);
	assert_int_equal(yamux_reset(p.v.s, id), 0);
	pump(&p);
	log_events(&p.v);
	assert_int_equal(count_events(&p.v, YAMUX_EV_STREAM_CLOSED, id), 1);
	assert_int_equal(count_events(&p.c, YAMUX_EV_STREAM_RESET, id), 1);
	assert_int_equal(count_events(&p.c, YAMUX_EV_STREAM_CLOSED, id), 1);
	assert_int_equal(yamux_write(p.c.s, id, (const uint8_t *)"x", 1), -ENOENT);
	/* Late frames for the dead stream are ignored, not fatal. */
	assert_int_equal(feed_hex(&p.v,
	                          "000000000000000100000002"
	                          "6869",
	                          p.now),
	                 14);
	struct yamux_stats st;
	yamux_get_stats(p.v.s, &st);
	assert_int_equal(st.frames_ignored, 1);
	assert_int_equal(st.streams_inbound, 0);
	pair_free(&p);
}

/* A peer's RST right behind its data (an "na" answer, then a reset) in one
 * feed: feeding stops in front of the RST until the data's event was taken,
 * so the data can still be read; then the RST goes through. */
static void test_reset_waits_for_data_event(void **state)
{
	struct side v;
	side_init(&v, YAMUX_SERVER, NULL);
	struct buf b = th_hex("000100010000000100000000" /* SYN, stream 1 */
	                      "000000000000000100000002" /* data "na" */
	                      "6e61"
	                      "000000080000000100000000"); /* RST */
	long n = yamux_feed(v.s, b.data, b.len, 1);
	assert_int_equal(n, 12 + 14);
	struct yamux_event e;
	assert_int_equal(yamux_next_event(v.s, &e), 0);
	assert_int_equal(e.type, YAMUX_EV_STREAM_OPENED);
	assert_int_equal(yamux_next_event(v.s, &e), 0);
	assert_int_equal(e.type, YAMUX_EV_STREAM_DATA);
	assert_int_equal(e.len, 2);
	const uint8_t *p;
	size_t len;
	assert_int_equal(yamux_stream_peek(v.s, 1, &p, &len), 0);
	assert_int_equal(len, 2);
	assert_memory_equal(p, "na", 2);
	/* Event taken: the rest feeds, and the reset drops the stream. */
	assert_int_equal(yamux_feed(v.s, b.data + n, b.len - (size_t)n, 1), 12);
	log_events(&v);
	assert_int_equal(count_events(&v, YAMUX_EV_STREAM_RESET, 1), 1);
	assert_int_equal(count_events(&v, YAMUX_EV_STREAM_CLOSED, 1), 1);
	assert_int_equal(yamux_stream_peek(v.s, 1, &p, &len), -ENOENT);
	buf_free(&b);
	side_free(&v);
}

static void test_unknown_stream_ignored(void **state)
{
	struct side v;
	side_init(&v, YAMUX_SERVER, NULL);
	/* Data (5 bytes, split across feeds) and a window update for streams
	 * that were never opened, then a ping to show the parser kept sync. */
	assert_int_equal(feed_hex(&v, "0000000000000009000000056865", 1), 14);
	assert_int_equal(feed_hex(&v,
	                          "6c6c6f"
	                          "000100000000000b00001000",
	                          1),
	                 15);
	assert_int_equal(feed_hex(&v, "000200010000000000000009", 1), 12);
	take_output(&v, "000200020000000000000009");
	assert_int_equal(v.log.n, 0);
	struct yamux_stats st;
	yamux_get_stats(v.s, &st);
	assert_int_equal(st.frames_ignored, 2);
	side_free(&v);
}

static void test_inbound_stream_cap(void **state)
{
	struct yamux_config cfg;
	yamux_config_default(&cfg);
	cfg.max_inbound_streams = 2;
	struct side v;
	side_init(&v, YAMUX_SERVER, &cfg);
	assert_int_equal(feed_hex(&v,
	                          "000100010000000100000000"
	                          "000100010000000300000000"
	                          "000100010000000500000000",
	                          1),
	                 36);
	take_output(&v, "000100020000000100000000"
	                "000100020000000300000000"
	                "000100080000000500000000");
	assert_int_equal(count_events(&v, YAMUX_EV_STREAM_OPENED, 0), 2);
	struct yamux_stats st;
	yamux_get_stats(v.s, &st);
	assert_int_equal(st.streams_inbound, 2);
	assert_int_equal(st.inbound_refused, 1);
	/* Data on the refused stream is dropped. */
	assert_int_equal(feed_hex(&v, "00000000000000050000000161", 1), 13);
	/* Once one closes (peer RST), a new one fits. */
	assert_int_equal(feed_hex(&v,
	                          "000100080000000100000000"
	                          "000100010000000700000000",
	                          1),
	                 24);
	take_output(&v, "000100020000000700000000");
	side_free(&v);
}

static void test_default_inbound_cap_1000(void **state)
{
	struct side v;
	side_init(&v, YAMUX_SERVER, NULL);
	struct buf b = BUF_INIT;
	for (uint32_t i = 0; i < 1001; i++) {
		struct yamux_header h = {0, YAMUX_TYPE_WINDOW_UPDATE, YAMUX_FLAG_SYN, 2 * i + 1, 0};
		uint8_t *p = buf_extend(&b, YAMUX_HEADER_SIZE);
		assert_non_null(p);
		yamux_header_encode(&h, p);
	}
	/* Fed in one go: the session pushes back until its events are taken. */
	long first = yamux_feed(v.s, b.data, b.len, 1);
	assert_true(first > 0 && (size_t)first < b.len);
	assert_int_equal(feed_side(&v, b.data + first, b.len - (size_t)first, 1),
	                 (long)(b.len - (size_t)first));
	buf_free(&b);
	struct yamux_stats st;
	yamux_get_stats(v.s, &st);
	assert_int_equal(st.streams_inbound, YAMUX_DEFAULT_MAX_INBOUND);
	assert_int_equal(st.inbound_refused, 1);
	assert_true(output_ends_with_hex(&v, "00010008000007d100000000"));
	side_free(&v);
}

static void test_unacked_backlog(void **state)
{
	struct pair p;
	pair_init(&p, NULL);
	uint32_t id;
	for (int i = 0; i < YAMUX_MAX_UNACKED_OUTBOUND; i++)
		assert_int_equal(yamux_open_stream(p.c.s, &id), 0);
	assert_int_equal(yamux_open_stream(p.c.s, &id), -EAGAIN);
	pump(&p);
	struct yamux_stats st;
	yamux_get_stats(p.c.s, &st);
	assert_int_equal(st.outbound_unacked, 0);
	assert_int_equal(yamux_open_stream(p.c.s, &id), 0);
	pair_free(&p);
}

static void test_goaway_lets_streams_finish(void **state)
{
	struct pair p;
	pair_init(&p, NULL);
	uint32_t id, other;
	assert_int_equal(yamux_open_stream(p.c.s, &id), 0);
	pump(&p);
	assert_int_equal(yamux_goaway(p.v.s, YAMUX_GOAWAY_NORMAL), 0);
	pump(&p);
	assert_int_equal(count_events(&p.c, YAMUX_EV_GOAWAY, 0), 1);
	assert_int_equal(yamux_open_stream(p.c.s, &other), -ESHUTDOWN);
	assert_int_equal(yamux_open_stream(p.v.s, &other), -ESHUTDOWN);
	/* The open stream still carries data both ways and closes cleanly. */
	write_str(&p.c, id, "still");
	write_str(&p.v, id, "here");
	assert_int_equal(yamux_close_write(p.c.s, id), 0);
	assert_int_equal(yamux_close_write(p.v.s, id), 0);
	pump(&p);
	read_str(&p.v, id, "still");
	read_str(&p.c, id, "here");
	log_events(&p.c);
	log_events(&p.v);
	assert_int_equal(count_events(&p.c, YAMUX_EV_STREAM_CLOSED, id), 1);
	assert_int_equal(count_events(&p.v, YAMUX_EV_STREAM_CLOSED, id), 1);
	/* A SYN that crosses our GoAway is refused. */
	assert_int_equal(feed_hex(&p.v, "000100010000000300000000", p.now), 12);
	assert_true(output_ends_with_hex(&p.v, "000100080000000300000000"));
	pair_free(&p);
}

static void test_goaway_error_ends_session(void **state)
{
	struct side c;
	side_init(&c, YAMUX_CLIENT, NULL);
	assert_int_equal(feed_hex(&c, "000300000000000000000002", 1), 12);
	assert_int_equal(count_events(&c, YAMUX_EV_GOAWAY, 0), 1);
	assert_int_equal(c.log.ev[0].code, 2);
	assert_int_equal(yamux_feed(c.s, (const uint8_t *)"x", 1, 2), -ENOTCONN);
	uint32_t id;
	assert_int_equal(yamux_open_stream(c.s, &id), -ENOTCONN);
	side_free(&c);
}

static void test_output_backpressure(void **state)
{
	struct pair p;
	pair_init(&p, NULL);
	uint32_t ids[4];
	for (int i = 0; i < 4; i++)
		assert_int_equal(yamux_open_stream(p.c.s, &ids[i]), 0);
	/* Nothing is drained: writes stop near the high-water mark. */
	size_t total = 0;
	for (int i = 0; i < 4; i++)
		total += write_until_blocked(&p.c, ids[i], 1 << 20);
	struct yamux_stats st;
	yamux_get_stats(p.c.s, &st);
	assert_true(total >= YAMUX_OUTPUT_HIGH_WATER - YAMUX_MAX_DATA_PAYLOAD);
	assert_true(st.output_pending <= YAMUX_OUTPUT_HIGH_WATER + YAMUX_MAX_DATA_PAYLOAD + 1024);
	/* Draining wakes the blocked writers. */
	xfer(&p.c, &p.v, p.now);
	assert_true(count_events(&p.c, YAMUX_EV_STREAM_WRITABLE, 0) >= 1);
	pair_free(&p);
}

static void test_bad_config(void **state)
{
	struct yamux_config cfg;
	yamux_config_default(&cfg);
	cfg.max_stream_window = 1000;
	struct yamux_session *s = NULL;
	assert_int_equal(yamux_session_new(YAMUX_CLIENT, &cfg, &s), -EINVAL);
	assert_int_equal(yamux_session_new((enum yamux_role)7, NULL, &s), -EINVAL);
	assert_null(s);
	assert_null(yamux_session_free(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_header_codec),
	        cmocka_unit_test(test_open_and_data_vectors),
	        cmocka_unit_test(test_fin_rst_vectors),
	        cmocka_unit_test(test_ping_vectors),
	        cmocka_unit_test(test_goaway_vector),
	        cmocka_unit_test(test_ping_rtt),
	        cmocka_unit_test(test_unsolicited_ping_ack_fatal),
	        cmocka_unit_test(test_protocol_errors),
	        cmocka_unit_test(test_window_overrun_fatal),
	        cmocka_unit_test(test_sender_stops_at_zero_window),
	        cmocka_unit_test(test_autotune_grows_to_cap),
	        cmocka_unit_test(test_autotune_slow_consumer_stays),
	        cmocka_unit_test(test_autotune_needs_rtt),
	        cmocka_unit_test(test_bulk_50_streams),
	        cmocka_unit_test(test_half_close_both_directions),
	        cmocka_unit_test(test_closed_waits_for_reader),
	        cmocka_unit_test(test_reset),
	        cmocka_unit_test(test_reset_waits_for_data_event),
	        cmocka_unit_test(test_unknown_stream_ignored),
	        cmocka_unit_test(test_inbound_stream_cap),
	        cmocka_unit_test(test_default_inbound_cap_1000),
	        cmocka_unit_test(test_unacked_backlog),
	        cmocka_unit_test(test_goaway_lets_streams_finish),
	        cmocka_unit_test(test_goaway_error_ends_session),
	        cmocka_unit_test(test_output_backpressure),
	        cmocka_unit_test(test_bad_config),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
