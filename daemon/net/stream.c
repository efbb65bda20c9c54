/* The transport-independent half of struct stream (stream.h): the public
 * calls, which forward to the muxer's stream_ops, and deferred delivery of
 * the handler's callbacks.
 *
 * The muxer side only sets pending flags (stream_notify*); one libevent event
 * per stream then delivers them from the loop, in the order data, writable,
 * EOF, closed. So no callback ever runs inside a stream_* call or while a
 * connection is in the middle of parsing input, and a handler may call
 * anything (write, reset, open streams, disconnect) from any callback.
 *
 * States: NEGOTIATING (multistream-select runs, stream-negotiate.c), OPEN
 * (owned by a handler or the opener), ABANDONED (owned by nobody: refused or
 * failed negotiation; freed as soon as the muxer lets go of it). */
#include "net-internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void defer_cb(evutil_socket_t fd, short what, void *arg);

struct stream *stream_new(struct conn *c, const struct stream_ops *ops, void *impl, bool outbound)
{
	struct stream *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->defer = event_new(c->h->base, -1, 0, defer_cb, s);
	if (!s->defer) {
		free(s);
		return NULL;
	}
	s->conn = c;
	s->ops = ops;
	s->impl = impl;
	s->outbound = outbound;
	s->next = c->streams;
	if (c->streams)
		c->streams->prev = s;
	c->streams = s;
	c->n_streams++;
	c->h->st.streams++;
	c->h->st.streams_opened++;
	conn_stream_added(c);
	return s;
}

static void stream_free(struct stream *s)
{
	struct conn *c = s->conn;
	if (s->prev)
		s->prev->next = s->next;
	else
		c->streams = s->next;
	if (s->next)
		s->next->prev = s->prev;
	c->n_streams--;
	c->h->st.streams--;
	c->h->st.streams_closed++;
	mss_free(s->mss);
	free(s->protocol);
	event_free(s->defer);
	if (s->neg_timer)
		event_free(s->neg_timer);
	free(s);
	conn_stream_removed(c);
}

void stream_schedule(struct stream *s)
{
	/* Activating an already active event only merges flags. */
	event_active(s->defer, EV_TIMEOUT, 0);
}

void stream_notify(struct stream *s, unsigned what)
{
	if (s->pending & STREAM_PEND_CLOSED)
		return;
	if (what & STREAM_PEND_EOF)
		s->peer_eof = true;
	s->pending |= what;
	stream_schedule(s);
}

void stream_notify_closed(struct stream *s, int err)
{
	if (s->pending & STREAM_PEND_CLOSED)
		return;
	s->mux_gone = true;
	/* A reset we asked for is not the peer's doing; say so. A failed
	 * optimistic negotiation says why it failed (-ENOPROTOOPT ...). */
	s->close_err = s->neg_err ? s->neg_err : s->reset_local ? -ECANCELED : err;
	s->pending |= STREAM_PEND_CLOSED;
	stream_schedule(s);
}

static size_t buffered(struct stream *s)
{
	const uint8_t *p;
	size_t len;
	s->ops->peek(s->impl, &p, &len);
	return len;
}

/* Hand everything pending to the handler, then free if it closed. */
static void deliver(struct stream *s)
{
	unsigned p = s->pending;
	s->pending &= STREAM_PEND_CLOSED;
	if ((p & STREAM_PEND_DATA) && s->cb.on_data && buffered(s) > 0)
		s->cb.on_data(s, s->cb_ctx);
	if ((p & STREAM_PEND_WRITABLE) && s->cb.on_writable && !s->mux_gone && !s->write_closed &&
	    !(s->pending & STREAM_PEND_CLOSED))
		s->cb.on_writable(s, s->cb_ctx);
	if ((p & STREAM_PEND_EOF) && !s->eof_delivered) {
		s->eof_delivered = true;
		if (s->cb.on_eof)
			s->cb.on_eof(s, s->cb_ctx);
	}
	if (s->pending & STREAM_PEND_CLOSED) {
		s->state = STREAM_ABANDONED;
		if (s->cb.on_closed)
			s->cb.on_closed(s, s->close_err, s->cb_ctx);
		stream_free(s);
	}
}

static void defer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct stream *s = arg;
	switch (s->state) {
	case STREAM_NEGOTIATING:
		stream_negotiate_step(s);
		break;
	case STREAM_OPEN:
		/* Without callbacks flags wait for stream_set_callbacks(); a
		 * stream that closes before its owner set any is freed. */
		if (s->has_cb)
			deliver(s);
		else if (s->pending & STREAM_PEND_CLOSED)
			stream_free(s);
		break;
	case STREAM_ABANDONED:
		if (s->pending & STREAM_PEND_CLOSED)
			stream_free(s);
		break;
	}
}

void stream_destroy_now(struct stream *s, int err)
{
	if (s->state == STREAM_NEGOTIATING && s->open_cb) {
		host_stream_cb cb = s->open_cb;
		s->open_cb = NULL;
		cb(NULL, -ECANCELED, s->open_ctx);
	} else if (s->state == STREAM_OPEN && s->has_cb && s->cb.on_closed) {
		s->mux_gone = true;
		s->state = STREAM_ABANDONED;
		s->cb.on_closed(s, err, s->cb_ctx);
	}
	stream_free(s);
}

/* ---- the handler's API (stream.h) ---- */

void stream_set_callbacks(struct stream *s, const struct stream_callbacks *cb, void *ctx)
{
	s->cb = *cb;
	s->cb_ctx = ctx;
	s->has_cb = true;
	/* What arrived before the handler was ready is delivered now. */
	if (!s->mux_gone && buffered(s) > 0)
		s->pending |= STREAM_PEND_DATA;
	if (s->peer_eof && !s->eof_delivered)
		s->pending |= STREAM_PEND_EOF;
	if (s->pending)
		stream_schedule(s);
}

void stream_peek(struct stream *s, const uint8_t **ret_ptr, size_t *ret_len)
{
	/* The peer's negotiation messages are never the owner's data. */
	if (stream_lazy_pending(s)) {
		*ret_ptr = NULL;
		*ret_len = 0;
		return;
	}
	s->ops->peek(s->impl, ret_ptr, ret_len);
}

void stream_consume(struct stream *s, size_t n)
{
	if (n > 0 && !stream_lazy_pending(s))
		s->ops->consume(s->impl, n);
}

long stream_write(struct stream *s, const void *data, size_t len)
{
	if (s->write_closed)
		return -EPIPE;
	if (s->mux_gone || s->state != STREAM_OPEN)
		return -ENOTCONN;
	return s->ops->write(s->impl, data, len);
}

int stream_close_write(struct stream *s)
{
	if (s->write_closed)
		return -EPIPE;
	if (s->mux_gone || s->state != STREAM_OPEN)
		return -ENOTCONN;
	s->write_closed = true;
	return s->ops->close_write(s->impl);
}

void stream_reset(struct stream *s)
{
	if (s->mux_gone || s->reset_local)
		return;
	s->reset_local = true;
	s->ops->reset(s->impl);
}

bool stream_peer_closed(const struct stream *s)
{
	return s->peer_eof;
}

const char *stream_protocol(const struct stream *s)
{
	return s->protocol;
}

const struct peerid *stream_peer(const struct stream *s)
{
	return &s->conn->peer;
}

struct conn *stream_conn(const struct stream *s)
{
	return s->conn;
}

bool stream_outbound(const struct stream *s)
{
	return s->outbound;
}
