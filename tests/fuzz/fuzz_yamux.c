/* Fuzz the Yamux session. Byte 0 picks the mode:
 *   even: raw bytes (from byte 2 on, in chunks of byte 1) into one session of
 *         the role in bit 1, draining events and output like a transport;
 *   odd:  the rest is a program of API calls on a client/server pair wired
 *         back to back, with ops that also inject raw bytes into either side.
 * After every step the caps must hold: streams within the configured limits,
 * buffered data within the granted windows, windows within the ceiling, and
 * yamux_feed() growing neither events nor output past its soft limits. */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "yamux.h"

#define MAX_INBOUND 8
#define MAX_IDS 64
/* Events one frame can add past the soft cap (SYN|RST: OPENED, RESET,
 * CLOSED; or a session error). */
#define EVENT_SLACK 4
/* Output one frame can add past the feed limit (ACK or RST, GoAway). */
#define OUTPUT_SLACK (3 * YAMUX_HEADER_SIZE)

struct side {
	struct yamux_session *s;
	uint32_t ids[MAX_IDS];
	size_t nids;
	bool dead;
};

struct input {
	const uint8_t *p;
	size_t len;
	size_t off;
};

static uint8_t next_byte(struct input *in)
{
	return in->off < in->len ? in->p[in->off++] : 0;
}

static void side_init(struct side *x, enum yamux_role role)
{
	struct yamux_config cfg;
	yamux_config_default(&cfg);
	cfg.max_inbound_streams = MAX_INBOUND;
	cfg.max_outbound_streams = MAX_IDS / 2;
	cfg.max_stream_window = 1u << 20;
	cfg.session_window_budget = 2u << 20;
	memset(x, 0, sizeof(*x));
	int r = yamux_session_new(role, &cfg, &x->s);
	assert(r == 0);
}

static void add_id(struct side *x, uint32_t id)
{
	if (x->nids < MAX_IDS)
		x->ids[x->nids++] = id;
}

static void drop_id(struct side *x, uint32_t id)
{
	for (size_t i = 0; i < x->nids; i++) {
		if (x->ids[i] == id) {
			x->ids[i] = x->ids[--x->nids];
			return;
		}
	}
}

static void check_caps(struct side *x)
{
	struct yamux_stats st;
	yamux_get_stats(x->s, &st);
	assert(st.streams_inbound <= MAX_INBOUND);
	assert(st.streams_outbound <= MAX_IDS / 2);
	assert(st.outbound_unacked <= YAMUX_MAX_UNACKED_OUTBOUND);
	assert(st.recv_buffered <= st.recv_window_total);
	assert(st.max_stream_window_seen <= (1u << 20));
	assert(st.recv_window_total <= (2u << 20) + (uint64_t)MAX_INBOUND * YAMUX_INITIAL_WINDOW +
	                                       (MAX_IDS / 2) * (uint64_t)YAMUX_INITIAL_WINDOW);
	for (size_t i = 0; i < x->nids; i++) {
		const uint8_t *p;
		size_t len;
		if (yamux_stream_peek(x->s, x->ids[i], &p, &len) == 0)
			assert(len <= yamux_stream_recv_window(x->s, x->ids[i]));
	}
}

/* Feed through the session checking that feeding respects its soft caps. */
static long feed(struct side *x, const uint8_t *p, size_t len, uint64_t now)
{
	struct yamux_stats before, after;
	yamux_get_stats(x->s, &before);
	long n = yamux_feed(x->s, p, len, now);
	yamux_get_stats(x->s, &after);
	size_t ev_lim = before.events_pending > YAMUX_MAX_PENDING_EVENTS ? before.events_pending
	                                                                 : YAMUX_MAX_PENDING_EVENTS;
	size_t out_lim = before.output_pending > YAMUX_OUTPUT_FEED_LIMIT ? before.output_pending
	                                                                 : YAMUX_OUTPUT_FEED_LIMIT;
	assert(after.events_pending <= ev_lim + EVENT_SLACK);
	assert(after.output_pending <= out_lim + OUTPUT_SLACK);
	if (n < 0)
		x->dead = true;
	else
		assert((size_t)n <= len);
	return n;
}

static void drain_events(struct side *x, uint64_t now, uint8_t how)
{
	struct yamux_event e;
	while (yamux_next_event(x->s, &e) == 0) {
		if (e.type == YAMUX_EV_STREAM_OPENED)
			add_id(x, e.stream_id);
		else if (e.type == YAMUX_EV_STREAM_CLOSED)
			drop_id(x, e.stream_id);
		else if (e.type == YAMUX_EV_STREAM_DATA && (how & 1))
			yamux_stream_consumed(x->s, e.stream_id, e.len / ((how >> 1) % 3 + 1), now);
		else if (e.type == YAMUX_EV_SESSION_ERROR || e.type == YAMUX_EV_GOAWAY)
			assert(e.type != YAMUX_EV_SESSION_ERROR || e.reason[0] != '\0');
	}
}

static void raw_mode(const uint8_t *data, size_t size)
{
	struct side x;
	side_init(&x, (data[0] & 2) ? YAMUX_SERVER : YAMUX_CLIENT);
	size_t chunk = data[1] ? data[1] : size;
	size_t off = 2;
	uint64_t now = 0;
	while (off < size && !x.dead) {
		size_t n = size - off < chunk ? size - off : chunk;
		long took = feed(&x, data + off, n, now++);
		if (took < 0)
			break;
		off += (size_t)took;
		drain_events(&x, now, data[0] >> 2);
		const uint8_t *p;
		size_t len;
		yamux_pending_output(x.s, &p, &len);
		yamux_output_consumed(x.s, len);
		check_caps(&x);
	}
	yamux_session_free(x.s);
}

static uint32_t pick_id(struct side *x, struct input *in)
{
	uint8_t b = next_byte(in);
	return x->nids ? x->ids[b % x->nids] : b;
}

static void wire(struct side *from, struct side *to, size_t budget, uint64_t now)
{
	const uint8_t *p;
	size_t len;
	yamux_pending_output(from->s, &p, &len);
	if (to->dead) {
		yamux_output_consumed(from->s, len);
		return;
	}
	long n = feed(to, p, len < budget ? len : budget, now);
	yamux_output_consumed(from->s, n > 0 ? (size_t)n : len);
}

static void api_write(struct side *x, struct input *in)
{
	static uint8_t junk[65536];
	uint32_t id = pick_id(x, in);
	size_t n = (size_t)next_byte(in) * 257;
	long r = yamux_write(x->s, id, junk, n);
	assert(r == -EAGAIN || r == -ENOENT || r == -EPIPE || r == -ENOTCONN ||
	       (r >= 0 && (size_t)r <= n));
}

static void api_open(struct side *x)
{
	uint32_t id;
	if (yamux_open_stream(x->s, &id) == 0)
		add_id(x, id);
}

static void api_inject(struct side *x, struct input *in, uint64_t now)
{
	size_t n = next_byte(in);
	if (n > in->len - in->off)
		n = in->len - in->off;
	if (!x->dead)
		feed(x, in->p + in->off, n, now);
	in->off += n;
}

static void run_op(struct side *sides, struct input *in, uint64_t *now)
{
	uint8_t op = next_byte(in);
	struct side *x = &sides[(op >> 4) & 1];
	switch (op & 0xf) {
	case 0:
		api_open(x);
		break;
	case 1:
		api_write(x, in);
		break;
	case 2:
		yamux_stream_consumed(x->s, pick_id(x, in), next_byte(in) * 1031u, *now);
		break;
	case 3:
		yamux_close_write(x->s, pick_id(x, in));
		break;
	case 4:
		yamux_reset(x->s, pick_id(x, in));
		break;
	case 5:
		yamux_ping(x->s, *now);
		break;
	case 6:
		yamux_goaway(x->s, next_byte(in) % 3);
		break;
	case 7:
		wire(&sides[0], &sides[1], (size_t)next_byte(in) * 1024 + 1, *now);
		break;
	case 8:
		wire(&sides[1], &sides[0], (size_t)next_byte(in) * 1024 + 1, *now);
		break;
	case 9:
		*now += next_byte(in);
		break;
	case 10:
		api_inject(x, in, *now);
		break;
	default:
		drain_events(x, *now, op >> 5);
		break;
	}
	check_caps(&sides[0]);
	check_caps(&sides[1]);
}

static void api_mode(const uint8_t *data, size_t size)
{
	struct side sides[2];
	side_init(&sides[0], YAMUX_CLIENT);
	side_init(&sides[1], YAMUX_SERVER);
	struct input in = {data + 1, size - 1, 0};
	uint64_t now = 0;
	while (in.off < in.len)
		run_op(sides, &in, &now);
	yamux_session_free(sides[0].s);
	yamux_session_free(sides[1].s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	if (data[0] & 1)
		api_mode(data, size);
	else
		raw_mode(data, size);
	return 0;
}
