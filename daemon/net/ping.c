/* libp2p ping, both roles; see ping.h.
 *
 * Responder: echo every whole 32-byte ping, holding at most two unsent
 * echoes (then we stop consuming, which keeps the peer's window shut), and
 * FIN once the pinger has closed and everything was echoed.
 *
 * Pinger: one stream for all rounds; a timer is the per-round deadline
 * while an echo is awaited and the interval between rounds otherwise. The
 * owner's callback may cancel the op; the op is freed only by whoever
 * notices last (the callback wrapper, the open completion, or
 * ping_cancel()), never under a callback's feet. */
#include "ping.h"

#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "clock.h"
#include "crypto.h"

/* ---- responder ---------------------------------------------------------- */

/* Unsent echo bytes we hold before we stop reading (backpressure): two
 * rounds' worth is plenty for a well-behaved pinger. */
#define PING_ECHO_BACKLOG (2 * PING_SIZE)

struct ping_echo {
	struct stream *s;
	struct buf out;
	bool fin_sent;
};

/* 0, or -1 when the stream was reset. */
static int echo_flush(struct ping_echo *e)
{
	while (e->out.len) {
		long n = stream_write(e->s, e->out.data, e->out.len);
		if (n < 0) {
			stream_reset(e->s);
			return -1;
		}
		if (n == 0)
			return 0; /* on_writable resumes */
		buf_consume(&e->out, (size_t)n);
	}
	return 0;
}

static void echo_pump(struct ping_echo *e)
{
	if (e->fin_sent)
		return;
	const uint8_t *p;
	size_t len;
	stream_peek(e->s, &p, &len);
	while (len >= PING_SIZE && e->out.len < PING_ECHO_BACKLOG) {
		if (buf_append(&e->out, p, PING_SIZE) < 0) {
			stream_reset(e->s);
			return;
		}
		stream_consume(e->s, PING_SIZE);
		stream_peek(e->s, &p, &len);
	}
	if (echo_flush(e) < 0)
		return;
	/* The pinger closed and every whole ping was echoed: finish. A partial
	 * trailing ping is dropped, as js does. */
	if (stream_peer_closed(e->s) && e->out.len == 0 && len < PING_SIZE) {
		stream_consume(e->s, len);
		e->fin_sent = true;
		stream_close_write(e->s);
	}
}

static void echo_on_data(struct stream *s, void *ctx)
{
	echo_pump(ctx);
}

static void echo_on_closed(struct stream *s, int err, void *ctx)
{
	struct ping_echo *e = ctx;
	buf_free(&e->out);
	free(e);
}

static const struct stream_callbacks echo_callbacks = {
        .on_data = echo_on_data,
        .on_writable = echo_on_data,
        .on_eof = echo_on_data,
        .on_closed = echo_on_closed,
};

static void ping_on_stream(struct stream *s, void *ctx)
{
	struct ping_echo *e = calloc(1, sizeof(*e));
	if (!e) {
		stream_reset(s);
		return;
	}
	e->s = s;
	stream_set_callbacks(s, &echo_callbacks, e);
}

static const struct protocol_handler ping_handlers[] = {
        {PING_PROTOCOL_ID, ping_on_stream, .max_inbound_per_peer = PING_MAX_INBOUND_PER_PEER},
        {0},
};

int ping_register(struct host *h)
{
	return protocols_register(host_protocols(h), ping_handlers, NULL);
}

/* ---- pinger ------------------------------------------------------------- */

struct ping_op {
	struct stream *s; /* NULL until negotiated, and after we let go */
	struct event *timer;
	ping_cb cb;
	void *ctx;
	unsigned count, done;
	uint32_t interval_ms, timeout_ms;
	uint8_t payload[PING_SIZE];
	size_t written;
	uint64_t t0_us;
	bool waiting_echo;
	bool opening;   /* host_open_stream has not called back yet */
	bool cancelled; /* the owner gave up while opening or inside cb */
	bool in_cb;
};

static void noop_data(struct stream *s, void *ctx)
{
}

static void noop_closed(struct stream *s, int err, void *ctx)
{
}

/* Callbacks for a stream we no longer care about. */
static const struct stream_callbacks detached_callbacks = {
        .on_data = noop_data,
        .on_writable = noop_data,
        .on_eof = noop_data,
        .on_closed = noop_closed,
};

/* Let go of the stream: a clean FIN after the last round, or a reset on
 * error, and never hear from it again. */
static void detach(struct ping_op *op, bool reset)
{
	if (!op->s)
		return;
	struct stream *s = op->s;
	op->s = NULL;
	stream_set_callbacks(s, &detached_callbacks, NULL);
	if (reset)
		stream_reset(s);
	else
		stream_close_write(s);
}

static void op_free(struct ping_op *op)
{
	detach(op, true);
	if (op->timer)
		event_free(op->timer);
	free(op);
}

/* Call the owner; returns true when the op is gone afterwards (last call,
 * or cancelled from inside cb). */
static bool deliver(struct ping_op *op, uint64_t rtt_us, int err, const char *msg, bool last)
{
	op->in_cb = true;
	op->cb(rtt_us, err, msg, last, op->ctx);
	op->in_cb = false;
	if (last || op->cancelled) {
		op_free(op);
		return true;
	}
	return false;
}

static void fail(struct ping_op *op, int err, const char *msg)
{
	detach(op, true);
	event_del(op->timer);
	deliver(op, 0, err, msg, true);
}

static void arm(struct ping_op *op, uint32_t ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	event_add(op->timer, &tv);
}

static void send_more(struct ping_op *op)
{
	while (op->written < PING_SIZE) {
		long n = stream_write(op->s, op->payload + op->written, PING_SIZE - op->written);
		if (n < 0) {
			fail(op, (int)n, "could not write the ping");
			return;
		}
		if (n == 0)
			return; /* on_writable resumes */
		op->written += (size_t)n;
	}
}

static void start_round(struct ping_op *op)
{
	if (crypto_random(op->payload, sizeof(op->payload)) < 0) {
		fail(op, -EIO, "no random bytes for the ping");
		return;
	}
	op->written = 0;
	op->waiting_echo = true;
	op->t0_us = mono_us();
	arm(op, op->timeout_ms);
	send_more(op);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct ping_op *op = arg;
	if (!op->waiting_echo) {
		start_round(op);
		return;
	}
	char msg[64];
	snprintf(msg, sizeof(msg), "no echo within %u ms", (unsigned)op->timeout_ms);
	fail(op, -ETIMEDOUT, msg);
}

static void op_on_data(struct stream *s, void *ctx)
{
	struct ping_op *op = ctx;
	const uint8_t *p;
	size_t len;
	stream_peek(s, &p, &len);
	if (len == 0)
		return;
	if (!op->waiting_echo) {
		fail(op, -EBADMSG, "the peer sent bytes we did not ask for");
		return;
	}
	if (len < PING_SIZE)
		return;
	if (op->written < PING_SIZE || !crypto_equal(p, op->payload, PING_SIZE)) {
		fail(op, -EBADMSG, "the peer echoed different bytes");
		return;
	}
	stream_consume(s, PING_SIZE);
	uint64_t rtt = mono_us() - op->t0_us;
	op->waiting_echo = false;
	event_del(op->timer);
	op->done++;
	bool last = op->done >= op->count;
	if (last)
		detach(op, false);
	if (deliver(op, rtt, 0, NULL, last))
		return;
	arm(op, op->interval_ms);
}

static void op_on_writable(struct stream *s, void *ctx)
{
	struct ping_op *op = ctx;
	if (op->waiting_echo)
		send_more(op);
}

static void op_on_eof(struct stream *s, void *ctx)
{
	fail(ctx, -ECONNRESET, "the peer closed the ping stream");
}

static const char *open_error(int err);

static void op_on_closed(struct stream *s, int err, void *ctx)
{
	struct ping_op *op = ctx;
	op->s = NULL; /* gone: nothing to reset */
	const char *msg = "the peer reset the ping stream";
	/* The stream is optimistic: a refusal of the protocol (or a reset
	 * before any echo: over the peer's stream cap) shows up here, and says
	 * the same as when it came before the first write. */
	if (err == -ENOPROTOOPT || err == -ETIMEDOUT || err == -EPROTO || err == -ECONNABORTED ||
	    (err == -ECONNRESET && op->done == 0))
		msg = open_error(err);
	fail(op, err ? err : -ECONNRESET, msg);
}

static const struct stream_callbacks op_callbacks = {
        .on_data = op_on_data,
        .on_writable = op_on_writable,
        .on_eof = op_on_eof,
        .on_closed = op_on_closed,
};

static const char *open_error(int err)
{
	switch (err) {
	case -ENOPROTOOPT:
		return "the peer does not support ping (" PING_PROTOCOL_ID ")";
	case -ETIMEDOUT:
		return "the peer did not answer the protocol negotiation";
	case -EPROTO:
		return "the peer broke the protocol negotiation";
	case -ECONNRESET:
		return "the peer refused the ping stream (over its stream limit?)";
	case -ECONNABORTED:
		return "the connection closed";
	case -ECANCELED:
		return "cancelled: shutting down";
	default:
		return "could not open a ping stream";
	}
}

static void on_opened(struct stream *s, int err, void *ctx)
{
	struct ping_op *op = ctx;
	op->opening = false;
	if (op->cancelled) {
		if (s)
			stream_reset(s);
		op_free(op);
		return;
	}
	if (!s) {
		deliver(op, 0, err, open_error(err), true);
		return;
	}
	op->s = s;
	stream_set_callbacks(s, &op_callbacks, op);
	start_round(op);
}

int ping_start(struct host *h, struct conn *c, const struct ping_params *p, ping_cb cb, void *ctx,
               struct ping_op **ret)
{
	if (!p || p->count == 0 || !cb)
		return -EINVAL;
	struct ping_op *op = calloc(1, sizeof(*op));
	if (!op)
		return -ENOMEM;
	op->cb = cb;
	op->ctx = ctx;
	op->count = p->count;
	op->interval_ms = p->interval_ms;
	op->timeout_ms = p->timeout_ms ? p->timeout_ms : PING_TIMEOUT_MS;
	op->timer = evtimer_new(host_base(h), on_timer, op);
	if (!op->timer) {
		free(op);
		return -ENOMEM;
	}
	op->opening = true;
	/* Optimistic: the first ping goes out with the proposal, one round trip
	 * sooner; a peer without ping fails the op with the same -ENOPROTOOPT. */
	int r = host_open_stream_lazy(h, c, PING_PROTOCOL_ID, on_opened, op);
	if (r < 0) {
		op_free(op);
		return r;
	}
	if (ret)
		*ret = op;
	return 0;
}

void ping_cancel(struct ping_op *op)
{
	if (!op)
		return;
	event_del(op->timer);
	if (op->opening || op->in_cb) {
		op->cancelled = true; /* on_opened or deliver() frees it */
		return;
	}
	op_free(op);
}
