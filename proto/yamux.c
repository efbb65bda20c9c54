/* Yamux session: frames in, frames out, events for the stream layer above.
 *
 * The parser is a streaming one: a frame header collects in a 12-byte array,
 * and Data payload is copied straight from the fed bytes into the target
 * stream's receive buffer (or skipped for unknown streams), so no frame is
 * ever buffered whole. A stream's receive buffer can never exceed the window
 * we granted: every Data frame is checked against the remaining window before
 * a payload byte is taken, and the window reopens only when the application
 * reports bytes consumed (yamux_stream_consumed). That is where backpressure
 * comes from.
 *
 * Streams live in an array sorted by ID: lookups are a binary search and no
 * hash function can be attacked; inserts are appends in the usual case since
 * IDs grow. Output is one byte buffer with a read offset; events are a ring.
 *
 * Strictness follows js-libp2p-yamux (docs/protocols/yamux.md): fatal for a
 * bad version or type, Data/WindowUpdate on stream 0, Ping/GoAway elsewhere,
 * ping flags other than exactly SYN or ACK, unsolicited or mismatched ping
 * ACKs, a SYN with our own ID parity, and overrunning a receive window.
 * Frames for unknown or closed streams are ignored. */
#include "yamux.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cursor.h"
#include "errmsg.h"

/* Receive buffers larger than this are freed when drained, so idle streams
 * do not pin memory from an earlier burst. */
#define RX_KEEP_CAPACITY (64u * 1024)
/* Output buffer capacity kept across drains. */
#define OUT_KEEP_CAPACITY (1024u * 1024)

/* A position inside a buffer; NULL (not NULL + 0) for an empty one. */
static const uint8_t *buf_at(const struct buf *b, size_t off)
{
	return b->data ? b->data + off : NULL;
}

struct ystream {
	uint32_t id;
	bool outbound;
	bool acked; /* outbound: the peer ACKed our SYN */
	bool fin_sent;
	bool fin_recv;
	bool want_writable;
	bool data_ev_queued;
	uint32_t send_window;
	uint32_t recv_window; /* current window size (auto-tuned) */
	uint32_t recv_avail;  /* bytes the peer may still send */
	uint32_t credit;      /* consumed but not yet given back */
	uint64_t epoch_start; /* when the last window update went out */
	struct buf rx;
	size_t rx_off;
};

enum sess_state {
	SESS_OPEN,
	SESS_FAILED,
	SESS_ENDED,
};

struct yamux_session {
	enum yamux_role role;
	struct yamux_config cfg;
	enum sess_state state;
	int err_code;
	struct errmsg err;
	uint64_t now;
	uint64_t next_id;
	bool local_goaway;
	bool remote_goaway;
	bool output_blocked; /* a write was refused for a full output */

	struct ystream **streams;
	size_t nstreams;
	size_t streams_cap;
	uint32_t n_inbound;
	uint32_t n_outbound;
	uint32_t n_unacked;

	uint8_t hdr[YAMUX_HEADER_SIZE];
	size_t hdr_len;
	uint32_t payload_left;
	uint32_t payload_stream; /* 0: discard */
	bool payload_fin;

	struct buf out;
	size_t out_off;

	struct yamux_event *ev;
	size_t ev_cap;
	size_t ev_head;
	size_t ev_count;

	bool ping_out;
	uint32_t ping_value;
	uint32_t next_ping;
	uint64_t ping_sent;
	bool rtt_known;
	uint64_t rtt;

	uint64_t inbound_refused;
	uint64_t frames_ignored;
	uint64_t recv_buffered;
	uint64_t recv_window_total;
	uint32_t max_window_seen;
};

/* ---- header codec ---- */

void yamux_header_encode(const struct yamux_header *h, uint8_t out[static YAMUX_HEADER_SIZE])
{
	out[0] = h->version;
	out[1] = h->type;
	out[2] = (uint8_t)(h->flags >> 8);
	out[3] = (uint8_t)h->flags;
	for (int i = 0; i < 4; i++) {
		out[4 + i] = (uint8_t)(h->stream_id >> (24 - 8 * i));
		out[8 + i] = (uint8_t)(h->length >> (24 - 8 * i));
	}
}

int yamux_header_decode(const uint8_t *data, size_t len, struct yamux_header *ret)
{
	struct cursor c;
	struct yamux_header h;
	cur_init(&c, data, len);
	if (cur_remaining(&c) < YAMUX_HEADER_SIZE)
		return -ENODATA;
	cur_get_u8(&c, &h.version);
	cur_get_u8(&c, &h.type);
	cur_get_u16be(&c, &h.flags);
	cur_get_u32be(&c, &h.stream_id);
	cur_get_u32be(&c, &h.length);
	*ret = h;
	return 0;
}

/* ---- config and lifetime ---- */

void yamux_config_default(struct yamux_config *ret)
{
	*ret = (struct yamux_config){
	        .max_inbound_streams = YAMUX_DEFAULT_MAX_INBOUND,
	        .max_outbound_streams = YAMUX_DEFAULT_MAX_OUTBOUND,
	        .max_stream_window = YAMUX_DEFAULT_MAX_WINDOW,
	        .session_window_budget = YAMUX_DEFAULT_SESSION_WINDOW_BUDGET,
	        .auto_tune = true,
	};
}

static bool config_valid(const struct yamux_config *c)
{
	return c->max_stream_window >= YAMUX_INITIAL_WINDOW &&
	       c->session_window_budget >= YAMUX_INITIAL_WINDOW;
}

int yamux_session_new(enum yamux_role role, const struct yamux_config *config,
                      struct yamux_session **ret)
{
	struct yamux_config cfg;
	if (config)
		cfg = *config;
	else
		yamux_config_default(&cfg);
	if ((role != YAMUX_CLIENT && role != YAMUX_SERVER) || !config_valid(&cfg))
		return -EINVAL;
	struct yamux_session *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->ev_cap = YAMUX_MAX_PENDING_EVENTS + 16;
	s->ev = calloc(s->ev_cap, sizeof(*s->ev));
	if (!s->ev)
		return free(s), -ENOMEM;
	s->role = role;
	s->cfg = cfg;
	s->next_id = role == YAMUX_CLIENT ? 1 : 2;
	*ret = s;
	return 0;
}

static void stream_free(struct ystream *st)
{
	buf_free(&st->rx);
	free(st);
}

struct yamux_session *yamux_session_free(struct yamux_session *s)
{
	if (!s)
		return NULL;
	for (size_t i = 0; i < s->nstreams; i++)
		stream_free(s->streams[i]);
	free(s->streams);
	free(s->ev);
	buf_free(&s->out);
	free(s);
	return NULL;
}

/* ---- events ---- */

static int ev_grow(struct yamux_session *s)
{
	size_t ncap = s->ev_cap * 2;
	struct yamux_event *n = calloc(ncap, sizeof(*n));
	if (!n)
		return -ENOMEM;
	for (size_t i = 0; i < s->ev_count; i++)
		n[i] = s->ev[(s->ev_head + i) % s->ev_cap];
	free(s->ev);
	s->ev = n;
	s->ev_cap = ncap;
	s->ev_head = 0;
	return 0;
}

static int push_event(struct yamux_session *s, const struct yamux_event *e)
{
	if (s->ev_count == s->ev_cap && ev_grow(s) < 0)
		return -ENOMEM;
	s->ev[(s->ev_head + s->ev_count) % s->ev_cap] = *e;
	s->ev_count++;
	return 0;
}

static int push_stream_event(struct yamux_session *s, enum yamux_event_type type, uint32_t id)
{
	return push_event(s, &(struct yamux_event){.type = type, .stream_id = id});
}

/* ---- stream table ---- */

/* Index of id, or where it would be inserted (with *found false). */
static size_t stream_index(const struct yamux_session *s, uint32_t id, bool *found)
{
	size_t lo = 0, hi = s->nstreams;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (s->streams[mid]->id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = lo < s->nstreams && s->streams[lo]->id == id;
	return lo;
}

static struct ystream *stream_find(const struct yamux_session *s, uint32_t id)
{
	bool found;
	size_t i = stream_index(s, id, &found);
	return found ? s->streams[i] : NULL;
}

static int stream_insert(struct yamux_session *s, struct ystream *st)
{
	if (s->nstreams == s->streams_cap) {
		size_t ncap = s->streams_cap ? s->streams_cap * 2 : 16;
		struct ystream **n = realloc(s->streams, ncap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		s->streams = n;
		s->streams_cap = ncap;
	}
	bool found;
	size_t i = stream_index(s, st->id, &found);
	memmove(&s->streams[i + 1], &s->streams[i], (s->nstreams - i) * sizeof(*s->streams));
	s->streams[i] = st;
	s->nstreams++;
	return 0;
}

static struct ystream *stream_create(struct yamux_session *s, uint32_t id, bool outbound)
{
	struct ystream *st = calloc(1, sizeof(*st));
	if (!st)
		return NULL;
	st->id = id;
	st->outbound = outbound;
	st->send_window = YAMUX_INITIAL_WINDOW;
	st->recv_window = YAMUX_INITIAL_WINDOW;
	st->recv_avail = YAMUX_INITIAL_WINDOW;
	st->epoch_start = s->now;
	if (stream_insert(s, st) < 0)
		return free(st), NULL;
	s->recv_window_total += st->recv_window;
	if (outbound)
		s->n_outbound++;
	else
		s->n_inbound++;
	if (s->max_window_seen < st->recv_window)
		s->max_window_seen = st->recv_window;
	return st;
}

static size_t rx_buffered(const struct ystream *st)
{
	return st->rx.len - st->rx_off;
}

/* Forget a stream and queue its STREAM_CLOSED. */
static int stream_release(struct yamux_session *s, struct ystream *st)
{
	bool found;
	size_t i = stream_index(s, st->id, &found);
	memmove(&s->streams[i], &s->streams[i + 1], (s->nstreams - i - 1) * sizeof(*s->streams));
	s->nstreams--;
	if (st->outbound) {
		s->n_outbound--;
		if (!st->acked)
			s->n_unacked--;
	} else {
		s->n_inbound--;
	}
	s->recv_buffered -= rx_buffered(st);
	s->recv_window_total -= st->recv_window;
	uint32_t id = st->id;
	stream_free(st);
	return push_stream_event(s, YAMUX_EV_STREAM_CLOSED, id);
}

static int stream_maybe_release(struct yamux_session *s, struct ystream *st)
{
	if (st->fin_sent && st->fin_recv && rx_buffered(st) == 0)
		return stream_release(s, st);
	return 0;
}

/* ---- output ---- */

static size_t output_pending(const struct yamux_session *s)
{
	return s->out.len - s->out_off;
}

static int queue_frame(struct yamux_session *s, uint8_t type, uint16_t flags, uint32_t id,
                       uint32_t length)
{
	struct yamux_header h = {YAMUX_VERSION, type, flags, id, length};
	uint8_t *p = buf_extend(&s->out, YAMUX_HEADER_SIZE);
	if (!p)
		return -ENOMEM;
	yamux_header_encode(&h, p);
	return 0;
}

static int queue_window_update(struct yamux_session *s, uint16_t flags, uint32_t id, uint32_t delta)
{
	return queue_frame(s, YAMUX_TYPE_WINDOW_UPDATE, flags, id, delta);
}

static bool can_write(const struct yamux_session *s, const struct ystream *st)
{
	return st->send_window > 0 && output_pending(s) < YAMUX_OUTPUT_HIGH_WATER;
}

static int notify_writable(struct yamux_session *s, struct ystream *st)
{
	if (!st->want_writable || st->fin_sent || !can_write(s, st))
		return 0;
	st->want_writable = false;
	return push_stream_event(s, YAMUX_EV_STREAM_WRITABLE, st->id);
}

/* ---- session failure ---- */

static int session_fail(struct yamux_session *s, int code, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static int session_fail(struct yamux_session *s, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s->err.text, sizeof(s->err.text), fmt, ap);
	va_end(ap);
	s->state = SESS_FAILED;
	s->err_code = code;
	uint32_t reason =
	        code == -EPROTO ? YAMUX_GOAWAY_PROTOCOL_ERROR : YAMUX_GOAWAY_INTERNAL_ERROR;
	/* Best effort: if memory is gone, the connection just closes. */
	queue_frame(s, YAMUX_TYPE_GO_AWAY, 0, 0, reason);
	push_event(s, &(struct yamux_event){.type = YAMUX_EV_SESSION_ERROR, .reason = s->err.text});
	return code;
}

static int fail_nomem(struct yamux_session *s)
{
	return session_fail(s, -ENOMEM, "yamux: out of memory");
}

/* ---- receiving: stream frames ---- */

static bool is_peer_id(const struct yamux_session *s, uint32_t id)
{
	/* The client opens odd IDs, so its peer's are even. */
	return (id % 2 == 0) == (s->role == YAMUX_CLIENT);
}

static int refuse_inbound(struct yamux_session *s, uint32_t id)
{
	s->inbound_refused++;
	return queue_window_update(s, YAMUX_FLAG_RST, id, 0);
}

/* A SYN for an ID we do not know: accept (ACK now, so go's backlog of
 * un-ACKed streams drains promptly) or refuse with RST. *ret stays NULL when
 * refused. */
static int open_inbound(struct yamux_session *s, uint32_t id, struct ystream **ret)
{
	if (s->local_goaway || s->remote_goaway || s->n_inbound >= s->cfg.max_inbound_streams)
		return refuse_inbound(s, id);
	struct ystream *st = stream_create(s, id, false);
	if (!st)
		return -ENOMEM;
	if (queue_window_update(s, YAMUX_FLAG_ACK, id, 0) < 0)
		return -ENOMEM;
	*ret = st;
	return push_stream_event(s, YAMUX_EV_STREAM_OPENED, id);
}

static int on_fin(struct yamux_session *s, struct ystream *st)
{
	if (st->fin_recv)
		return 0;
	st->fin_recv = true;
	if (push_stream_event(s, YAMUX_EV_STREAM_EOF, st->id) < 0)
		return -ENOMEM;
	return stream_maybe_release(s, st);
}

static int on_peer_reset(struct yamux_session *s, struct ystream *st)
{
	if (push_stream_event(s, YAMUX_EV_STREAM_RESET, st->id) < 0)
		return -ENOMEM;
	return stream_release(s, st);
}

static int on_window_update(struct yamux_session *s, struct ystream *st,
                            const struct yamux_header *h)
{
	uint64_t w = (uint64_t)st->send_window + h->length;
	/* A window past 4 GiB means nothing; saturate rather than wrap. */
	st->send_window = w > UINT32_MAX ? UINT32_MAX : (uint32_t)w;
	if (notify_writable(s, st) < 0)
		return -ENOMEM;
	if (h->flags & YAMUX_FLAG_FIN)
		return on_fin(s, st);
	return 0;
}

static void skip_payload(struct yamux_session *s, const struct yamux_header *h)
{
	s->payload_left = h->type == YAMUX_TYPE_DATA ? h->length : 0;
	s->payload_stream = 0;
	s->payload_fin = false;
}

static int on_data(struct yamux_session *s, struct ystream *st, const struct yamux_header *h)
{
	if (st->fin_recv) {
		/* Data after the peer's FIN: nothing may read it; drop it. */
		s->frames_ignored++;
		skip_payload(s, h);
		return 0;
	}
	if (h->length > st->recv_avail)
		return session_fail(s, -EPROTO,
		                    "yamux: stream %u sent %u bytes into a window of %u", st->id,
		                    h->length, st->recv_avail);
	st->recv_avail -= h->length;
	s->payload_left = h->length;
	s->payload_stream = st->id;
	s->payload_fin = (h->flags & YAMUX_FLAG_FIN) != 0;
	if (h->length == 0 && s->payload_fin)
		return on_fin(s, st);
	return 0;
}

static int stream_frame(struct yamux_session *s, const struct yamux_header *h)
{
	if (h->type == YAMUX_TYPE_DATA && h->length > s->cfg.max_stream_window)
		return session_fail(s, -EPROTO, "yamux: data frame of %u bytes exceeds any window",
		                    h->length);
	struct ystream *st = stream_find(s, h->stream_id);
	if (h->flags & YAMUX_FLAG_SYN) {
		if (!is_peer_id(s, h->stream_id))
			return session_fail(s, -EPROTO,
			                    "yamux: peer opened stream %u with our ID parity",
			                    h->stream_id);
		if (!st && open_inbound(s, h->stream_id, &st) < 0)
			return -ENOMEM;
	}
	if (!st) {
		s->frames_ignored++;
		skip_payload(s, h);
		return 0;
	}
	if (h->flags & YAMUX_FLAG_RST) {
		skip_payload(s, h);
		return on_peer_reset(s, st);
	}
	if ((h->flags & YAMUX_FLAG_ACK) && st->outbound && !st->acked) {
		st->acked = true;
		s->n_unacked--;
	}
	if (h->type == YAMUX_TYPE_WINDOW_UPDATE)
		return on_window_update(s, st, h);
	return on_data(s, st, h);
}

/* ---- receiving: session frames ---- */

static int on_ping(struct yamux_session *s, const struct yamux_header *h)
{
	if (h->flags == YAMUX_FLAG_SYN)
		return queue_frame(s, YAMUX_TYPE_PING, YAMUX_FLAG_ACK, 0, h->length);
	if (h->flags != YAMUX_FLAG_ACK)
		return session_fail(s, -EPROTO, "yamux: ping with flags 0x%x", h->flags);
	if (!s->ping_out)
		return session_fail(s, -EPROTO, "yamux: unsolicited ping ACK %u", h->length);
	if (h->length != s->ping_value)
		return session_fail(s, -EPROTO, "yamux: ping ACK %u does not match %u", h->length,
		                    s->ping_value);
	s->ping_out = false;
	s->rtt = s->now >= s->ping_sent ? s->now - s->ping_sent : 0;
	s->rtt_known = true;
	return push_event(s, &(struct yamux_event){.type = YAMUX_EV_PING_RTT, .rtt_ms = s->rtt});
}

static int on_goaway(struct yamux_session *s, const struct yamux_header *h)
{
	s->remote_goaway = true;
	/* A non-zero code means the peer is tearing down (js aborts every
	 * stream): the session ends here. */
	if (h->length != YAMUX_GOAWAY_NORMAL)
		s->state = SESS_ENDED;
	return push_event(s, &(struct yamux_event){.type = YAMUX_EV_GOAWAY, .code = h->length});
}

static int handle_frame(struct yamux_session *s, const struct yamux_header *h)
{
	if (h->version != YAMUX_VERSION)
		return session_fail(s, -EPROTO, "yamux: unsupported version %u", h->version);
	switch (h->type) {
	case YAMUX_TYPE_DATA:
	case YAMUX_TYPE_WINDOW_UPDATE:
		if (h->stream_id == 0)
			return session_fail(s, -EPROTO, "yamux: frame type %u on stream 0",
			                    h->type);
		return stream_frame(s, h);
	case YAMUX_TYPE_PING:
	case YAMUX_TYPE_GO_AWAY:
		if (h->stream_id != 0)
			return session_fail(s, -EPROTO, "yamux: frame type %u on stream %u",
			                    h->type, h->stream_id);
		return h->type == YAMUX_TYPE_PING ? on_ping(s, h) : on_goaway(s, h);
	default:
		return session_fail(s, -EPROTO, "yamux: unknown frame type %u", h->type);
	}
}

/* ---- feeding ---- */

static bool feed_backlogged(const struct yamux_session *s)
{
	return s->ev_count >= YAMUX_MAX_PENDING_EVENTS ||
	       output_pending(s) >= YAMUX_OUTPUT_FEED_LIMIT;
}

static int feed_header(struct yamux_session *s, struct cursor *c)
{
	size_t want = YAMUX_HEADER_SIZE - s->hdr_len;
	size_t n = cur_remaining(c) < want ? cur_remaining(c) : want;
	cur_copy(c, s->hdr + s->hdr_len, n);
	s->hdr_len += n;
	if (s->hdr_len < YAMUX_HEADER_SIZE)
		return 0;
	s->hdr_len = 0;
	struct yamux_header h;
	yamux_header_decode(s->hdr, YAMUX_HEADER_SIZE, &h);
	return handle_frame(s, &h);
}

static int rx_append(struct yamux_session *s, struct ystream *st, const uint8_t *p, size_t n)
{
	if (st->rx_off > 0 && st->rx_off >= st->rx.len / 2) {
		buf_consume(&st->rx, st->rx_off);
		st->rx_off = 0;
	}
	if (buf_append(&st->rx, p, n) < 0)
		return -ENOMEM;
	s->recv_buffered += n;
	if (st->data_ev_queued)
		return 0;
	st->data_ev_queued = true;
	return push_stream_event(s, YAMUX_EV_STREAM_DATA, st->id);
}

static int feed_payload(struct yamux_session *s, struct cursor *c)
{
	size_t n = cur_remaining(c) < s->payload_left ? cur_remaining(c) : s->payload_left;
	const uint8_t *p;
	cur_get_bytes(c, n, &p);
	s->payload_left -= (uint32_t)n;
	/* Looked up per chunk: the application may reset the stream between
	 * two feeds, and then the rest of the payload is dropped. */
	struct ystream *st = s->payload_stream ? stream_find(s, s->payload_stream) : NULL;
	if (!st)
		return 0;
	if (rx_append(s, st, p, n) < 0)
		return -ENOMEM;
	if (s->payload_left == 0 && s->payload_fin)
		return on_fin(s, st);
	return 0;
}

/* A peer's RST must not overtake the data it sent just before (an "na" in
 * answer to an optimistic multistream-select proposal, say, which is why
 * the peer resets): while that data's STREAM_DATA event has not been taken,
 * feeding stops in front of the RST, and the caller, who takes the events
 * before feeding the rest, sees the data first. Only a header that is whole
 * in this input is looked at; one split across two feeds is not held. */
static bool rst_waits(const struct yamux_session *s, const struct cursor *c)
{
	if (s->hdr_len != 0 || cur_remaining(c) < YAMUX_HEADER_SIZE)
		return false;
	struct yamux_header h;
	yamux_header_decode(c->data + c->off, YAMUX_HEADER_SIZE, &h);
	if (!(h.flags & YAMUX_FLAG_RST) || h.stream_id == 0)
		return false;
	const struct ystream *st = stream_find(s, h.stream_id);
	return st && st->data_ev_queued;
}

long yamux_feed(struct yamux_session *s, const uint8_t *data, size_t len, uint64_t now_ms)
{
	if (s->state == SESS_FAILED)
		return s->err_code;
	if (s->state == SESS_ENDED)
		return -ENOTCONN;
	s->now = now_ms;
	struct cursor c;
	cur_init(&c, data, len);
	while (!cur_eof(&c) && s->state == SESS_OPEN) {
		int r;
		if (s->payload_left)
			r = feed_payload(s, &c);
		else if (s->hdr_len == 0 && (feed_backlogged(s) || rst_waits(s, &c)))
			break;
		else
			r = feed_header(s, &c);
		if (r == -ENOMEM && s->state == SESS_OPEN)
			r = fail_nomem(s);
		if (r < 0)
			return r;
	}
	return (long)c.off;
}

/* ---- events out ---- */

/* Fill in a DATA or WRITABLE event at the time it is taken; false when its
 * stream is gone (or has nothing to report) and the event should be dropped. */
static bool event_still_valid(struct yamux_session *s, struct yamux_event *e)
{
	if (e->type != YAMUX_EV_STREAM_DATA && e->type != YAMUX_EV_STREAM_WRITABLE)
		return true;
	struct ystream *st = stream_find(s, e->stream_id);
	if (!st)
		return false;
	if (e->type == YAMUX_EV_STREAM_WRITABLE)
		return true;
	st->data_ev_queued = false;
	e->len = rx_buffered(st);
	return e->len > 0;
}

int yamux_next_event(struct yamux_session *s, struct yamux_event *ret)
{
	while (s->ev_count > 0) {
		struct yamux_event e = s->ev[s->ev_head];
		s->ev_head = (s->ev_head + 1) % s->ev_cap;
		s->ev_count--;
		if (event_still_valid(s, &e)) {
			*ret = e;
			return 0;
		}
	}
	return -EAGAIN;
}

/* ---- output out ---- */

void yamux_pending_output(const struct yamux_session *s, const uint8_t **ret_ptr, size_t *ret_len)
{
	*ret_ptr = buf_at(&s->out, s->out_off);
	*ret_len = output_pending(s);
}

static void wake_writers(struct yamux_session *s)
{
	if (!s->output_blocked || output_pending(s) >= YAMUX_OUTPUT_HIGH_WATER)
		return;
	s->output_blocked = false;
	for (size_t i = 0; i < s->nstreams; i++)
		notify_writable(s, s->streams[i]);
}

void yamux_output_consumed(struct yamux_session *s, size_t n)
{
	size_t pending = output_pending(s);
	s->out_off += n < pending ? n : pending;
	if (s->out_off == s->out.len) {
		if (s->out.cap > OUT_KEEP_CAPACITY)
			buf_free(&s->out);
		buf_reset(&s->out);
		s->out_off = 0;
	} else if (s->out_off >= 64 * 1024 && s->out_off >= s->out.len / 2) {
		buf_consume(&s->out, s->out_off);
		s->out_off = 0;
	}
	wake_writers(s);
}

/* ---- application API ---- */

static int check_open(const struct yamux_session *s)
{
	return s->state == SESS_OPEN ? 0 : -ENOTCONN;
}

int yamux_open_stream(struct yamux_session *s, uint32_t *ret_id)
{
	if (check_open(s) < 0)
		return -ENOTCONN;
	if (s->local_goaway || s->remote_goaway)
		return -ESHUTDOWN;
	if (s->n_outbound >= s->cfg.max_outbound_streams)
		return -EMFILE;
	if (s->n_unacked >= YAMUX_MAX_UNACKED_OUTBOUND)
		return -EAGAIN;
	if (s->next_id > UINT32_MAX)
		return -ERANGE;
	uint32_t id = (uint32_t)s->next_id;
	if (queue_window_update(s, YAMUX_FLAG_SYN, id, 0) < 0)
		return -ENOMEM;
	struct ystream *st = stream_create(s, id, true);
	if (!st) {
		s->out.len -= YAMUX_HEADER_SIZE;
		return -ENOMEM;
	}
	s->n_unacked++;
	s->next_id += 2;
	*ret_id = id;
	return 0;
}

static int find_open(struct yamux_session *s, uint32_t id, struct ystream **ret)
{
	if (check_open(s) < 0)
		return -ENOTCONN;
	struct ystream *st = stream_find(s, id);
	if (!st)
		return -ENOENT;
	*ret = st;
	return 0;
}

/* How much of len one write may take: the peer's window, and the output
 * high-water mark (rounded up to one full frame to avoid tiny frames). */
static size_t write_allowance(const struct yamux_session *s, const struct ystream *st, size_t len)
{
	size_t room = YAMUX_OUTPUT_HIGH_WATER - output_pending(s);
	if (room < YAMUX_MAX_DATA_PAYLOAD)
		room = YAMUX_MAX_DATA_PAYLOAD;
	size_t n = len < st->send_window ? len : st->send_window;
	return n < room ? n : room;
}

static void queue_data(struct yamux_session *s, uint32_t id, const uint8_t *data, size_t n)
{
	while (n > 0) {
		size_t chunk = n < YAMUX_MAX_DATA_PAYLOAD ? n : YAMUX_MAX_DATA_PAYLOAD;
		queue_frame(s, YAMUX_TYPE_DATA, 0, id, (uint32_t)chunk);
		buf_append(&s->out, data, chunk);
		data += chunk;
		n -= chunk;
	}
}

long yamux_write(struct yamux_session *s, uint32_t id, const uint8_t *data, size_t len)
{
	struct ystream *st;
	int r = find_open(s, id, &st);
	if (r < 0)
		return r;
	if (st->fin_sent)
		return -EPIPE;
	if (len == 0)
		return 0;
	if (!can_write(s, st)) {
		st->want_writable = true;
		s->output_blocked = true;
		return -EAGAIN;
	}
	size_t n = write_allowance(s, st, len);
	size_t frames = (n + YAMUX_MAX_DATA_PAYLOAD - 1) / YAMUX_MAX_DATA_PAYLOAD;
	/* Reserve first so the frames below cannot fail half-way. */
	if (buf_reserve(&s->out, n + frames * YAMUX_HEADER_SIZE) < 0)
		return -ENOMEM;
	queue_data(s, id, data, n);
	st->send_window -= (uint32_t)n;
	if (n < len) {
		st->want_writable = true;
		s->output_blocked = true;
	}
	return (long)n;
}

int yamux_close_write(struct yamux_session *s, uint32_t id)
{
	struct ystream *st;
	int r = find_open(s, id, &st);
	if (r < 0)
		return r;
	if (st->fin_sent)
		return -EPIPE;
	if (queue_window_update(s, YAMUX_FLAG_FIN, id, 0) < 0)
		return -ENOMEM;
	st->fin_sent = true;
	return stream_maybe_release(s, st);
}

int yamux_reset(struct yamux_session *s, uint32_t id)
{
	struct ystream *st;
	int r = find_open(s, id, &st);
	if (r < 0)
		return r;
	/* After both FINs the peer has forgotten the stream already. */
	if (!(st->fin_sent && st->fin_recv) && queue_window_update(s, YAMUX_FLAG_RST, id, 0) < 0)
		return -ENOMEM;
	return stream_release(s, st);
}

int yamux_stream_peek(const struct yamux_session *s, uint32_t id, const uint8_t **ret_ptr,
                      size_t *ret_len)
{
	const struct ystream *st = stream_find(s, id);
	if (!st)
		return -ENOENT;
	*ret_ptr = buf_at(&st->rx, st->rx_off);
	*ret_len = rx_buffered(st);
	return 0;
}

/* Auto-tuning, go-yamux's rule (js uses the same test per frame): if the
 * last half window was consumed within 4 RTTs, the window and not the
 * application limits throughput, so double it, up to the stream ceiling and
 * within the session budget. Without an RTT sample, no growth. */
static uint32_t window_growth(const struct yamux_session *s, const struct ystream *st, uint64_t now)
{
	if (!s->cfg.auto_tune || !s->rtt_known)
		return 0;
	uint64_t rtt = s->rtt ? s->rtt : 1;
	if (now < st->epoch_start || now - st->epoch_start >= 4 * rtt)
		return 0;
	uint64_t target = (uint64_t)st->recv_window * 2;
	if (target > s->cfg.max_stream_window)
		target = s->cfg.max_stream_window;
	uint64_t grow = target > st->recv_window ? target - st->recv_window : 0;
	uint64_t budget_left = s->cfg.session_window_budget > s->recv_window_total
	                               ? s->cfg.session_window_budget - s->recv_window_total
	                               : 0;
	return (uint32_t)(grow < budget_left ? grow : budget_left);
}

/* Give consumed bytes back to the peer once half the window is consumed:
 * fewer frames than one update per read, and the sender never stalls since
 * a full window consumed always crosses the threshold. */
static int maybe_window_update(struct yamux_session *s, struct ystream *st, uint64_t now)
{
	if (st->fin_recv || st->credit < st->recv_window / 2)
		return 0;
	uint32_t grow = window_growth(s, st, now);
	uint32_t delta = st->credit + grow;
	if (queue_window_update(s, 0, st->id, delta) < 0)
		return -ENOMEM;
	st->recv_avail += delta;
	st->credit = 0;
	st->recv_window += grow;
	s->recv_window_total += grow;
	st->epoch_start = now;
	if (s->max_window_seen < st->recv_window)
		s->max_window_seen = st->recv_window;
	return 0;
}

static void rx_drop(struct ystream *st, size_t n)
{
	st->rx_off += n;
	if (st->rx_off < st->rx.len)
		return;
	if (st->rx.cap > RX_KEEP_CAPACITY)
		buf_free(&st->rx);
	buf_reset(&st->rx);
	st->rx_off = 0;
}

int yamux_stream_consumed(struct yamux_session *s, uint32_t id, size_t n, uint64_t now_ms)
{
	struct ystream *st;
	int r = find_open(s, id, &st);
	if (r < 0)
		return r;
	if (n > rx_buffered(st))
		return -EINVAL;
	rx_drop(st, n);
	s->recv_buffered -= n;
	st->credit += (uint32_t)n;
	if (maybe_window_update(s, st, now_ms) < 0)
		return -ENOMEM;
	return stream_maybe_release(s, st);
}

long yamux_stream_read(struct yamux_session *s, uint32_t id, uint8_t *out, size_t cap,
                       uint64_t now_ms)
{
	const uint8_t *p;
	size_t len;
	int r = yamux_stream_peek(s, id, &p, &len);
	if (r < 0)
		return r;
	size_t n = len < cap ? len : cap;
	if (n == 0)
		return 0;
	memcpy(out, p, n);
	r = yamux_stream_consumed(s, id, n, now_ms);
	return r < 0 ? r : (long)n;
}

int yamux_ping(struct yamux_session *s, uint64_t now_ms)
{
	if (check_open(s) < 0)
		return -ENOTCONN;
	if (s->ping_out)
		return -EALREADY;
	if (queue_frame(s, YAMUX_TYPE_PING, YAMUX_FLAG_SYN, 0, s->next_ping) < 0)
		return -ENOMEM;
	s->ping_value = s->next_ping++;
	s->ping_out = true;
	s->ping_sent = now_ms;
	return 0;
}

int yamux_goaway(struct yamux_session *s, uint32_t code)
{
	if (check_open(s) < 0)
		return -ENOTCONN;
	if (s->local_goaway)
		return -EALREADY;
	if (queue_frame(s, YAMUX_TYPE_GO_AWAY, 0, 0, code) < 0)
		return -ENOMEM;
	s->local_goaway = true;
	return 0;
}

/* ---- introspection ---- */

void yamux_get_stats(const struct yamux_session *s, struct yamux_stats *ret)
{
	*ret = (struct yamux_stats){
	        .streams_inbound = s->n_inbound,
	        .streams_outbound = s->n_outbound,
	        .outbound_unacked = s->n_unacked,
	        .inbound_refused = s->inbound_refused,
	        .frames_ignored = s->frames_ignored,
	        .recv_buffered = s->recv_buffered,
	        .recv_window_total = s->recv_window_total,
	        .max_stream_window_seen = s->max_window_seen,
	        .output_pending = output_pending(s),
	        .events_pending = s->ev_count,
	        .ping_outstanding = s->ping_out,
	        .rtt_ms = s->rtt_known ? s->rtt : 0,
	};
}

uint32_t yamux_stream_recv_window(const struct yamux_session *s, uint32_t id)
{
	const struct ystream *st = stream_find(s, id);
	return st ? st->recv_window : 0;
}

uint32_t yamux_stream_send_window(const struct yamux_session *s, uint32_t id)
{
	const struct ystream *st = stream_find(s, id);
	return st ? st->send_window : 0;
}

const char *yamux_error(const struct yamux_session *s)
{
	return s->err.text;
}
