/* The test echo protocol, both roles; see echotest.h.
 *
 * Client bookkeeping: every stream the op starts has a struct echo_stream
 * (its ctx for the open completion and the stream callbacks) on the op's
 * list. A stream's end (echo complete, failure, open refused) frees it and
 * starts the next one; when none is left the op reports and is freed.
 * Cancelling detaches and resets the open streams at once; streams still
 * being opened keep the op alive until their completion arrives. */
#include "echotest.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "identify-service.h"

/* Bytes generated ahead per stream while its window is shut. */
#define ECHOTEST_WRITE_CHUNK ((size_t)16 * 1024)
/* Bytes compared per step on receipt. */
#define ECHOTEST_VERIFY_CHUNK ((size_t)4096)

/* ---- responder ---------------------------------------------------------- */

struct echo_srv {
	bool fin_sent;
};

static void srv_pump(struct stream *s, void *ctx)
{
	struct echo_srv *e = ctx;
	const uint8_t *p;
	size_t len;
	stream_peek(s, &p, &len);
	while (len > 0) {
		long n = stream_write(s, p, len);
		if (n < 0) {
			stream_reset(s);
			return;
		}
		if (n == 0)
			return; /* on_writable resumes; the rest stays unconsumed */
		stream_consume(s, (size_t)n);
		stream_peek(s, &p, &len);
	}
	if (stream_peer_closed(s) && !e->fin_sent) {
		e->fin_sent = true;
		stream_close_write(s);
	}
}

static void srv_closed(struct stream *s, int err, void *ctx)
{
	free(ctx);
}

static const struct stream_callbacks srv_callbacks = {
        .on_data = srv_pump,
        .on_writable = srv_pump,
        .on_eof = srv_pump,
        .on_closed = srv_closed,
};

static void srv_on_stream(struct stream *s, void *ctx)
{
	struct echo_srv *e = calloc(1, sizeof(*e));
	if (!e) {
		stream_reset(s);
		return;
	}
	stream_set_callbacks(s, &srv_callbacks, e);
}

int echotest_register(struct host *h, const char *protocol)
{
	const struct protocol_handler rows[] = {
	        {protocol ? protocol : ECHOTEST_PROTOCOL_ID, srv_on_stream,
	         .max_inbound_per_peer = ECHOTEST_MAX_INBOUND_PER_PEER},
	        {0},
	};
	return protocols_register(host_protocols(h), rows, NULL);
}

/* ---- client ------------------------------------------------------------- */

struct echo_stream {
	struct echotest_op *op;
	struct echo_stream *prev, *next;
	struct stream *s; /* NULL while opening */
	uint32_t index;
	struct echotest_gen tx, rx;
	uint64_t sent, recvd;
	uint8_t *out; /* generated, not yet accepted by the stream */
	size_t out_off, out_len;
	bool fin_sent;
};

struct echotest_op {
	struct host *h;
	struct peerid peer;
	char *protocol;
	unsigned streams, started, ok;
	uint64_t bytes;
	uint64_t t0_ms;
	echotest_cb cb;
	void *ctx;
	struct echo_stream *list;
	unsigned n_live; /* echo_streams allocated */
	bool failed, cancelled;
	int err;
	char error[256];
};

static void es_noop(struct stream *s, void *ctx)
{
}

static void es_noop_closed(struct stream *s, int err, void *ctx)
{
}

static const struct stream_callbacks detached = {
        .on_data = es_noop,
        .on_writable = es_noop,
        .on_eof = es_noop,
        .on_closed = es_noop_closed,
};

static void op_free(struct echotest_op *op)
{
	free(op->protocol);
	free(op);
}

static void op_finish(struct echotest_op *op)
{
	struct echotest_result r = {
	        .ok = !op->failed && op->ok == op->streams,
	        .streams = op->streams,
	        .streams_ok = op->ok,
	        .bytes = op->bytes,
	        .ms = mono_ms() - op->t0_ms,
	        .err = op->err,
	};
	snprintf(r.error, sizeof(r.error), "%s", op->error);
	op->cb(&r, op->ctx);
	op_free(op);
}

static void es_unlink_free(struct echo_stream *es)
{
	struct echotest_op *op = es->op;
	if (es->prev)
		es->prev->next = es->next;
	else
		op->list = es->next;
	if (es->next)
		es->next->prev = es->prev;
	op->n_live--;
	free(es->out);
	free(es);
}

static void start_next(struct echotest_op *op);

/* es is done (well or not): free it, start another, or finish the op. */
static void es_end(struct echo_stream *es)
{
	struct echotest_op *op = es->op;
	es_unlink_free(es);
	if (op->cancelled) {
		if (op->n_live == 0)
			op_free(op);
		return;
	}
	if (!op->failed)
		start_next(op);
	if (op->n_live == 0)
		op_finish(op);
}

/* The first failure is the one reported; every other stream is reset and
 * ends through its on_closed. */
static void op_fail(struct echotest_op *op, int err, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static void op_fail(struct echotest_op *op, int err, const char *fmt, ...)
{
	if (op->failed)
		return;
	op->failed = true;
	op->err = err;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(op->error, sizeof(op->error), fmt, ap);
	va_end(ap);
	for (struct echo_stream *x = op->list; x; x = x->next)
		if (x->s)
			stream_reset(x->s);
}

static void es_pump(struct echo_stream *es)
{
	while (es->sent < es->op->bytes || es->out_off < es->out_len) {
		if (es->out_off == es->out_len) {
			uint64_t left = es->op->bytes - es->sent;
			size_t n =
			        left < ECHOTEST_WRITE_CHUNK ? (size_t)left : ECHOTEST_WRITE_CHUNK;
			echotest_gen_fill(&es->tx, es->out, n);
			es->out_off = 0;
			es->out_len = n;
			es->sent += n;
		}
		long w = stream_write(es->s, es->out + es->out_off, es->out_len - es->out_off);
		if (w < 0) {
			op_fail(es->op, (int)w,
			        "stream %" PRIu32 ": write failed after %" PRIu64 " bytes",
			        es->index, es->sent - (es->out_len - es->out_off));
			return;
		}
		if (w == 0)
			return; /* on_writable resumes */
		es->out_off += (size_t)w;
	}
	if (!es->fin_sent) {
		es->fin_sent = true;
		stream_close_write(es->s);
	}
}

static void es_on_writable(struct stream *s, void *ctx)
{
	es_pump(ctx);
}

/* Compare what arrived with what the generator says was sent. */
static void es_on_data(struct stream *s, void *ctx)
{
	struct echo_stream *es = ctx;
	struct echotest_op *op = es->op;
	const uint8_t *p;
	size_t len;
	stream_peek(s, &p, &len);
	if (es->recvd + len > op->bytes) {
		op_fail(op, -EBADMSG, "stream %" PRIu32 ": more bytes came back than were sent",
		        es->index);
		return;
	}
	uint8_t want[ECHOTEST_VERIFY_CHUNK];
	for (size_t off = 0; off < len;) {
		size_t n = len - off < sizeof(want) ? len - off : sizeof(want);
		echotest_gen_fill(&es->rx, want, n);
		if (memcmp(p + off, want, n) != 0) {
			size_t k = 0;
			while (p[off + k] == want[k])
				k++;
			op_fail(op, -EBADMSG, "stream %" PRIu32 ": byte %" PRIu64 " differs",
			        es->index, es->recvd + off + k);
			return;
		}
		off += n;
	}
	es->recvd += len;
	stream_consume(s, len);
}

static void es_on_eof(struct stream *s, void *ctx)
{
	struct echo_stream *es = ctx;
	if (es->recvd != es->op->bytes)
		op_fail(es->op, -EPIPE,
		        "stream %" PRIu32 ": the peer closed after echoing %" PRIu64 " of %" PRIu64
		        " bytes",
		        es->index, es->recvd, es->op->bytes);
}

static const char *close_reason(int err)
{
	switch (err) {
	case -ENOPROTOOPT: /* an optimistic open refused after all */
		return "the peer does not speak it";
	case -ECONNRESET:
		return "reset by the peer";
	case -ECONNABORTED:
		return "the connection closed";
	case -ETIMEDOUT:
		return "timed out";
	default:
		return strerror(-err);
	}
}

static void es_on_closed(struct stream *s, int err, void *ctx)
{
	struct echo_stream *es = ctx;
	struct echotest_op *op = es->op;
	es->s = NULL;
	if (err == 0 && es->recvd == op->bytes && es->fin_sent)
		op->ok++;
	else if (err)
		op_fail(op, err,
		        "stream %" PRIu32 ": %s after %" PRIu64 " of %" PRIu64 " bytes came back",
		        es->index, close_reason(err), es->recvd, op->bytes);
	else
		op_fail(op, -EPIPE,
		        "stream %" PRIu32 ": ended after %" PRIu64 " of %" PRIu64 " bytes",
		        es->index, es->recvd, op->bytes);
	es_end(es);
}

static const struct stream_callbacks es_callbacks = {
        .on_data = es_on_data,
        .on_writable = es_on_writable,
        .on_eof = es_on_eof,
        .on_closed = es_on_closed,
};

static const char *open_reason(int err)
{
	switch (err) {
	case -ENOPROTOOPT:
		return "the peer does not speak it";
	case -ECONNRESET:
		return "the peer reset the stream (over its stream limit?)";
	case -ETIMEDOUT:
		return "the peer did not answer the negotiation";
	default:
		return close_reason(err);
	}
}

static void es_opened(struct stream *s, int err, void *ctx)
{
	struct echo_stream *es = ctx;
	struct echotest_op *op = es->op;
	if (!s || op->cancelled || op->failed) {
		if (s)
			stream_reset(s);
		else if (!op->cancelled)
			op_fail(op, err, "stream %" PRIu32 ": cannot open %s: %s", es->index,
			        op->protocol, open_reason(err));
		es_end(es);
		return;
	}
	es->s = s;
	stream_set_callbacks(s, &es_callbacks, es);
	es_pump(es);
}

/* Open one more stream; false when none could be started now. */
static bool start_one(struct echotest_op *op)
{
	struct conn *c = host_find_conn(op->h, &op->peer);
	if (!c) {
		op_fail(op, -ENOTCONN, "stream %u: the connection to the peer is gone",
		        op->started);
		return false;
	}
	struct echo_stream *es = calloc(1, sizeof(*es));
	uint8_t *out = malloc(ECHOTEST_WRITE_CHUNK);
	if (!es || !out) {
		free(es);
		free(out);
		op_fail(op, -ENOMEM, "out of memory");
		return false;
	}
	es->op = op;
	es->out = out;
	es->index = op->started;
	echotest_gen_init(&es->tx, es->index);
	echotest_gen_init(&es->rx, es->index);
	int r = identify_open_stream(op->h, c, op->protocol, es_opened, es);
	if (r < 0) {
		free(out);
		free(es);
		op_fail(op, r, "stream %u: cannot open a stream: %s", op->started, strerror(-r));
		return false;
	}
	es->next = op->list;
	if (es->next)
		es->next->prev = es;
	op->list = es;
	op->n_live++;
	op->started++;
	return true;
}

static void start_next(struct echotest_op *op)
{
	while (!op->failed && op->started < op->streams && op->n_live < ECHOTEST_MAX_INFLIGHT)
		if (!start_one(op))
			return;
}

int echotest_start(struct host *h, const struct peerid *peer, const char *protocol,
                   unsigned streams, uint64_t bytes, echotest_cb cb, void *ctx,
                   struct echotest_op **ret)
{
	if (!h || !peer || !cb || streams == 0 || streams > ECHOTEST_MAX_STREAMS)
		return -EINVAL;
	if (!host_find_conn(h, peer))
		return -ENOTCONN;
	struct echotest_op *op = calloc(1, sizeof(*op));
	if (!op)
		return -ENOMEM;
	op->protocol = strdup(protocol ? protocol : ECHOTEST_PROTOCOL_ID);
	if (!op->protocol) {
		free(op);
		return -ENOMEM;
	}
	op->h = h;
	op->peer = *peer;
	op->streams = streams;
	op->bytes = bytes;
	op->cb = cb;
	op->ctx = ctx;
	op->t0_ms = mono_ms();
	start_next(op);
	if (op->n_live == 0) {
		/* Not even the first stream could be opened. */
		int r = op->err ? op->err : -ENOMEM;
		op_free(op);
		return r;
	}
	if (ret)
		*ret = op;
	return 0;
}

void echotest_cancel(struct echotest_op *op)
{
	if (!op)
		return;
	op->cancelled = true;
	struct echo_stream *x = op->list;
	while (x) {
		struct echo_stream *next = x->next;
		if (x->s) {
			stream_set_callbacks(x->s, &detached, NULL);
			stream_reset(x->s);
			es_unlink_free(x);
		}
		x = next;
	}
	if (op->n_live == 0)
		op_free(op);
}
