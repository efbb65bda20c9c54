/* struct stream over a yamux stream: the stream_ops that forward to the
 * connection's session, and the routing of the session's stream events to
 * the streams (which only set flags; stream.c delivers them later).
 *
 * Inbound streams beyond max_streams_per_conn, or arriving on a connection
 * that is draining, are reset at once and counted in refused_limit. */
#include "net-internal.h"

#include <errno.h>
#include <stdlib.h>

#include "log.h"

static struct stream *find(struct conn *c, uint32_t id)
{
	for (struct stream *s = c->streams; s; s = s->next)
		if (s->mux_id == id && !s->mux_gone)
			return s;
	return NULL;
}

static void y_peek(void *impl, const uint8_t **ret_ptr, size_t *ret_len)
{
	struct stream *s = impl;
	if (s->mux_gone || yamux_stream_peek(s->conn->ymx, s->mux_id, ret_ptr, ret_len) < 0) {
		*ret_ptr = NULL;
		*ret_len = 0;
	}
}

static void y_consume(void *impl, size_t n)
{
	struct stream *s = impl;
	struct conn *c = s->conn;
	if (s->mux_gone)
		return;
	yamux_stream_consumed(c->ymx, s->mux_id, n, mono_ms());
	conn_after_mux(c);
}

static long y_write(void *impl, const void *data, size_t len)
{
	struct stream *s = impl;
	struct conn *c = s->conn;
	if (c->state != CONN_OPEN)
		return -ENOTCONN;
	long r = yamux_write(c->ymx, s->mux_id, data, len);
	conn_after_mux(c);
	/* -EAGAIN: the window or the output is full; STREAM_WRITABLE follows. */
	if (r == -EAGAIN)
		return 0;
	if (r == -ENOENT)
		return -ENOTCONN;
	return r;
}

static int y_close_write(void *impl)
{
	struct stream *s = impl;
	struct conn *c = s->conn;
	if (c->state != CONN_OPEN)
		return -ENOTCONN;
	int r = yamux_close_write(c->ymx, s->mux_id);
	conn_after_mux(c);
	return r == -ENOENT ? -ENOTCONN : r;
}

static void y_reset(void *impl)
{
	struct stream *s = impl;
	struct conn *c = s->conn;
	if (c->state != CONN_OPEN) {
		stream_notify_closed(s, -ECONNABORTED);
		return;
	}
	yamux_reset(c->ymx, s->mux_id);
	conn_after_mux(c);
}

const struct stream_ops stream_yamux_ops = {
        .peek = y_peek,
        .consume = y_consume,
        .write = y_write,
        .close_write = y_close_write,
        .reset = y_reset,
};

static void inbound(struct conn *c, uint32_t id)
{
	struct host *h = c->h;
	if (c->draining || c->n_streams >= h->lim.max_streams_per_conn) {
		h->st.refused_limit++;
		log_debug("inbound stream %u refused: %s", id,
		          c->draining ? "connection draining" : "max_streams_per_conn reached");
		yamux_reset(c->ymx, id);
		return;
	}
	struct stream *s = stream_new(c, &stream_yamux_ops, NULL, false);
	if (!s) {
		yamux_reset(c->ymx, id);
		return;
	}
	s->impl = s;
	s->mux_id = id;
	if (stream_negotiate_start(s, NULL, false) < 0) {
		s->state = STREAM_ABANDONED;
		s->reset_local = true;
		yamux_reset(c->ymx, id);
	}
}

void stream_yamux_event(struct conn *c, const struct yamux_event *ev)
{
	if (ev->type == YAMUX_EV_STREAM_OPENED) {
		inbound(c, ev->stream_id);
		return;
	}
	struct stream *s = find(c, ev->stream_id);
	if (!s)
		return;
	/* An optimistic stream's echo (or "na") is taken out as it arrives:
	 * a reset right behind an "na" would drop it from the buffer. */
	if ((ev->type == YAMUX_EV_STREAM_DATA || ev->type == YAMUX_EV_STREAM_EOF) &&
	    stream_lazy_pending(s)) {
		if (ev->type == YAMUX_EV_STREAM_EOF)
			s->peer_eof = true;
		stream_lazy_input(s);
		if (s->neg_err)
			return; /* reset: on_closed says why */
	}
	switch (ev->type) {
	case YAMUX_EV_STREAM_DATA:
		stream_notify(s, STREAM_PEND_DATA);
		break;
	case YAMUX_EV_STREAM_WRITABLE:
		stream_notify(s, STREAM_PEND_WRITABLE);
		break;
	case YAMUX_EV_STREAM_EOF:
		stream_notify(s, STREAM_PEND_EOF);
		break;
	case YAMUX_EV_STREAM_RESET:
		s->close_err = -ECONNRESET;
		break;
	case YAMUX_EV_STREAM_CLOSED:
		stream_notify_closed(s, s->close_err);
		break;
	default:
		break;
	}
}

int stream_yamux_open(struct conn *c, struct stream **ret)
{
	struct host *h = c->h;
	if (c->state != CONN_OPEN)
		return -ENOTCONN;
	if (c->draining)
		return -ESHUTDOWN;
	if (c->n_streams >= h->lim.max_streams_per_conn) {
		h->st.refused_limit++;
		return -EMFILE;
	}
	uint32_t id;
	int r = yamux_open_stream(c->ymx, &id);
	if (r < 0)
		return r;
	struct stream *s = stream_new(c, &stream_yamux_ops, NULL, true);
	if (!s) {
		yamux_reset(c->ymx, id);
		conn_after_mux(c);
		return -ENOMEM;
	}
	s->impl = s;
	s->mux_id = id;
	*ret = s;
	return 0;
}
