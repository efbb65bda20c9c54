/* multistream-select on every new stream, over any muxer's stream_ops.
 *
 * Inbound: a listener offering the registry's IDs; the chosen row's
 * on_stream() gets the stream, unless that peer already holds the row's
 * max_inbound_per_peer streams of it (then the stream is reset and counted
 * in refused_limit). Outbound: an initiator proposing one protocol; the
 * opener's callback gets the stream, or -ENOPROTOOPT on "na".
 *
 * Optimistic outbound (host_open_stream_lazy()): the opener gets the stream
 * as soon as the header and proposal are written to the muxer, so its first
 * bytes follow them without waiting a round trip. The peer's header and
 * echo are taken out of the stream as they arrive (stream_lazy_input(), from
 * the muxer's event), before the owner can see any byte; "na", garbage, EOF
 * first or no answer within negotiation_timeout_ms reset the stream and its
 * on_closed gets -ENOPROTOOPT, -EPROTO, -ECONNRESET or -ETIMEDOUT.
 *
 * Bytes that follow the final negotiation message (a peer's pipelined
 * request) are never copied: we feed mss what the stream shows, and when it
 * finishes we consume only up to its end, so the rest stays in the muxer's
 * buffer for the handler. The stream is handed over only once our own
 * negotiation output (a listener's echo) is fully written, so the handler's
 * first bytes can never overtake it. */
#include "net-internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "protocols.h"

/* Write what mss has queued; false while some is still waiting. */
static bool flush_output(struct stream *s)
{
	const uint8_t *p;
	size_t len;
	mss_pending_output(s->mss, &p, &len);
	if (len == 0)
		return true;
	long n = s->ops->write(s->impl, p, len);
	if (n > 0)
		mss_output_consumed(s->mss, (size_t)n);
	return n >= 0 && (size_t)n == len;
}

static void fail(struct stream *s, int err, const char *why);
static void lazy_fail(struct stream *s, int err, const char *why);

/* A peer that never finishes negotiating must not hold a stream slot. */
static void neg_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct stream *s = arg;
	if (s->state == STREAM_NEGOTIATING)
		fail(s, -ETIMEDOUT, "no answer in time");
	else if (stream_lazy_pending(s))
		lazy_fail(s, -ETIMEDOUT, "no answer in time");
}

static int arm_timer(struct stream *s)
{
	uint32_t ms = s->conn->h->lim.negotiation_timeout_ms;
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	s->neg_timer = evtimer_new(s->conn->h->base, neg_timeout_cb, s);
	if (!s->neg_timer)
		return -ENOMEM;
	evtimer_add(s->neg_timer, &tv);
	return 0;
}

static void stop_timer(struct stream *s)
{
	if (s->neg_timer)
		event_free(s->neg_timer);
	s->neg_timer = NULL;
}

int stream_negotiate_start(struct stream *s, const char *protocol, bool lazy)
{
	int r;
	if (s->outbound) {
		r = mss_initiator_new(&protocol, 1, lazy, &s->mss);
		if (r == 0 && lazy) {
			s->lazy = true;
			s->protocol = strdup(protocol);
			if (!s->protocol)
				r = -ENOMEM;
		}
	} else {
		const char *const *ids;
		size_t n = protocols_ids(s->conn->h->protos, &ids);
		r = mss_listener_new(ids, n, &s->mss);
	}
	if (r < 0)
		return r;
	r = arm_timer(s);
	if (r < 0)
		return r;
	s->state = STREAM_NEGOTIATING;
	flush_output(s);
	/* A lazy opener hears back from the loop, without waiting for input. */
	if (lazy)
		stream_schedule(s);
	return 0;
}

unsigned stream_count_inbound(struct host *h, const struct peerid *peer, const char *protocol)
{
	unsigned n = 0;
	for (struct conn *c = h->conns; c; c = c->next) {
		if (c->state != CONN_OPEN || !peerid_equal(&c->peer, peer))
			continue;
		for (struct stream *s = c->streams; s; s = s->next)
			if (s->counted_inbound && strcmp(s->protocol, protocol) == 0)
				n++;
	}
	return n;
}

/* Nobody will own the stream: reset it (unless the muxer already let go) and
 * let the muxer's final event free it. */
static void abandon(struct stream *s)
{
	s->state = STREAM_ABANDONED;
	if (!s->mux_gone) {
		s->reset_local = true;
		s->ops->reset(s->impl);
	}
	if (s->pending & STREAM_PEND_CLOSED)
		stream_schedule(s);
}

static void fail(struct stream *s, int err, const char *why)
{
	char peer[PEERID_TEXT_MAX] = "";
	peerid_to_string(&s->conn->peer, peer, sizeof(peer));
	log_debug("stream to %s: negotiation failed: %s", peer, why);
	stop_timer(s);
	host_stream_cb cb = s->open_cb;
	s->open_cb = NULL;
	abandon(s);
	if (cb)
		cb(NULL, err, s->open_ctx);
}

static void hand_inbound(struct stream *s)
{
	struct host *h = s->conn->h;
	void *ctx;
	const struct protocol_handler *row = protocols_find(h->protos, s->protocol, &ctx);
	if (!row) {
		fail(s, -ENOPROTOOPT, "protocol no longer registered");
		return;
	}
	if (stream_count_inbound(h, &s->conn->peer, s->protocol) >= protocols_max_inbound(row)) {
		h->st.refused_limit++;
		log_debug("inbound %s stream refused: the peer holds %u already", s->protocol,
		          protocols_max_inbound(row));
		abandon(s);
		return;
	}
	s->counted_inbound = true;
	s->state = STREAM_OPEN;
	row->on_stream(s, ctx);
}

static void finish(struct stream *s)
{
	stop_timer(s);
	if (!s->protocol)
		s->protocol = strdup(mss_selected(s->mss));
	s->mss = mss_free(s->mss);
	if (!s->protocol) {
		fail(s, -ENOMEM, "out of memory");
		return;
	}
	if (!s->outbound) {
		hand_inbound(s);
		return;
	}
	host_stream_cb cb = s->open_cb;
	s->open_cb = NULL;
	s->state = STREAM_OPEN;
	cb(s, 0, s->open_ctx);
}

/* Optimistic: the proposal is written, the echo not yet read; the opener
 * may write now. The timer keeps running until the echo. */
static void hand_lazy(struct stream *s)
{
	host_stream_cb cb = s->open_cb;
	s->open_cb = NULL;
	s->state = STREAM_OPEN;
	cb(s, 0, s->open_ctx);
}

/* Feed what the stream shows; consume only what belongs to negotiation. */
static int feed(struct stream *s)
{
	const uint8_t *p;
	size_t len;
	s->ops->peek(s->impl, &p, &len);
	if (len == 0 || mss_state(s->mss) != MSS_NEGOTIATING)
		return 0;
	int r = mss_feed(s->mss, p, len);
	size_t used = len;
	if (r == 0 && mss_state(s->mss) == MSS_DONE) {
		const uint8_t *rest;
		size_t rest_len;
		mss_leftover(s->mss, &rest, &rest_len);
		used = len - rest_len;
	}
	if (r == 0 && used > 0)
		s->ops->consume(s->impl, used);
	return r;
}

void stream_negotiate_step(struct stream *s)
{
	unsigned pending = s->pending;
	s->pending &= STREAM_PEND_CLOSED;
	int r = s->mux_gone ? 0 : feed(s);
	if (r < 0) {
		/* What mss answered before it failed still goes out: an
		 * optimistic initiator whose data we could not parse after
		 * our "na" learns from it why the stream is reset. */
		if (!s->mux_gone)
			flush_output(s);
		fail(s, r, mss_error(s->mss));
		return;
	}
	bool flushed = s->mux_gone || flush_output(s);
	if (mss_state(s->mss) == MSS_DONE && flushed && !s->mux_gone) {
		finish(s);
		return;
	}
	if (s->lazy && flushed && !s->mux_gone && !s->peer_eof) {
		hand_lazy(s);
		return;
	}
	if (pending & STREAM_PEND_CLOSED || s->mux_gone) {
		fail(s, s->close_err ? s->close_err : -ECONNRESET,
		     "stream closed during negotiation");
		return;
	}
	if (s->peer_eof && mss_state(s->mss) == MSS_NEGOTIATING)
		fail(s, -ECONNRESET, "peer closed the stream during negotiation");
}

bool stream_lazy_pending(const struct stream *s)
{
	return s->state == STREAM_OPEN && s->mss;
}

/* The stream is the owner's already: reset it and let on_closed carry err
 * (stream_notify_closed() takes neg_err). */
static void lazy_fail(struct stream *s, int err, const char *why)
{
	char peer[PEERID_TEXT_MAX] = "";
	peerid_to_string(&s->conn->peer, peer, sizeof(peer));
	log_debug("stream to %s: optimistic %s failed: %s", peer, s->protocol, why);
	stop_timer(s);
	s->mss = mss_free(s->mss);
	s->neg_err = err;
	if (s->mux_gone)
		s->close_err = err;
	else
		stream_reset(s);
}

void stream_lazy_input(struct stream *s)
{
	int r = feed(s);
	if (r < 0) {
		lazy_fail(s, r, mss_error(s->mss));
		return;
	}
	if (mss_state(s->mss) == MSS_DONE) {
		stop_timer(s);
		s->mss = mss_free(s->mss);
		return;
	}
	if (s->peer_eof)
		lazy_fail(s, -ECONNRESET, "peer closed the stream during negotiation");
}
