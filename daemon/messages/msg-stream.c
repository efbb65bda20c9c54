/* The wire side of the message service: /spacedrive/message/1.0.0 streams.
 *
 * Reading: frames are decoded one by one (lpmsg + devmsg_decode, caps
 * checked before anything is allocated) and dispatched; anything invalid
 * is answered with an Error on the same stream, never silence. Durable
 * messages are checked against the device's dedup window and staged in
 * its inbox (msg-inbox.c); at the end of each batch the staged ones are
 * written as one inbox record, added to the window (written too), handed
 * to their handlers from the inbox, and acknowledged in one Ack.
 *
 * Writing: answers and queued messages are appended to the stream's own
 * buffer and handed to the stream in large writes; past
 * MESSAGES_STREAM_HIGH_WATER we stop reading requests (their answers would
 * pile up) and stop taking from the queue until the peer reads. */
#include "messages-internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "lpmsg.h"
#include "net/host.h"
#include "net/stream.h"

/* Durable messages read per batch: one inbox record, one dedup write and
 * one Ack each. */
#define ACK_BATCH 256
/* Reopen delays for the outbound stream after a failure. */
#define RETRY_FIRST_MS 100
#define RETRY_MAX_MS 10000
#define RETRY_UNSUPPORTED_MS 60000

static void on_data(struct stream *s, void *ctx);
static void on_writable(struct stream *s, void *ctx);
static void on_eof(struct stream *s, void *ctx);
static void on_closed(struct stream *s, int err, void *ctx);

static const struct stream_callbacks callbacks = {
        .on_data = on_data,
        .on_writable = on_writable,
        .on_eof = on_eof,
        .on_closed = on_closed,
};

static void noop_data(struct stream *s, void *ctx)
{
}

static void noop_closed(struct stream *s, int err, void *ctx)
{
}

static const struct stream_callbacks detached = {
        .on_data = noop_data,
        .on_writable = noop_data,
        .on_eof = noop_data,
        .on_closed = noop_closed,
};

/* ---- stream objects -------------------------------------------------------- */

static void flush_cb(evutil_socket_t fd, short what, void *arg);

static struct msg_stream *ms_new(struct messages *m, struct msg_device *d, struct stream *s,
                                 bool outbound)
{
	struct msg_stream *ms = calloc(1, sizeof(*ms));
	if (!ms)
		return NULL;
	ms->flush_ev = event_new(m->cfg.base, -1, 0, flush_cb, ms);
	if (!ms->flush_ev) {
		free(ms);
		return NULL;
	}
	ms->m = m;
	ms->dev = d;
	ms->s = s;
	ms->outbound = outbound;
	LIST_INSERT_HEAD(&d->streams, ms, link);
	stream_set_callbacks(s, &callbacks, ms);
	return ms;
}

static void ms_free(struct msg_stream *ms)
{
	LIST_REMOVE(ms, link);
	if (ms->dev->out == ms)
		ms->dev->out = NULL;
	buf_free(&ms->out);
	buf_free(&ms->acks);
	event_free(ms->flush_ev);
	free(ms);
}

/* Let go of the stream: reset it and never hear from it again. */
static void ms_drop(struct msg_stream *ms)
{
	if (ms->s) {
		stream_set_callbacks(ms->s, &detached, NULL);
		stream_reset(ms->s);
	}
	ms_free(ms);
}

void msg_stream_drop_out(struct msg_device *d)
{
	if (d->out)
		ms_drop(d->out);
}

void msg_streams_drop(struct messages *m, struct msg_device *d)
{
	struct msg_stream *ms;
	while ((ms = LIST_FIRST(&d->streams)))
		ms_drop(ms);
}

int msg_stream_queue(struct msg_stream *ms, const uint8_t *frame, size_t len)
{
	const struct messages_links *l = &ms->m->cfg.links;
	if (l->count)
		l->count(l->ctx, ms->dev->id, true, len);
	return buf_append(&ms->out, frame, len);
}

size_t msg_stream_buffered(const struct msg_stream *ms)
{
	return ms->out.len - ms->out_off;
}

int msg_stream_flush(struct msg_stream *ms)
{
	while (ms->out_off < ms->out.len) {
		long n = stream_write(ms->s, ms->out.data + ms->out_off, ms->out.len - ms->out_off);
		if (n < 0) {
			log_debug("device %s: message stream write failed: %s", ms->dev->id,
			          strerror((int)-n));
			stream_reset(ms->s);
			return -1;
		}
		if (n == 0)
			break; /* on_writable resumes */
		ms->out_off += (size_t)n;
	}
	/* Consumed from the front by an offset; compact only when that pays. */
	if (ms->out_off == ms->out.len) {
		buf_reset(&ms->out);
		ms->out_off = 0;
	} else if (ms->out_off > ms->out.len / 2) {
		buf_consume(&ms->out, ms->out_off);
		ms->out_off = 0;
	}
	return 0;
}

void msg_stream_kick(struct msg_stream *ms)
{
	if (!event_pending(ms->flush_ev, EV_TIMEOUT, NULL))
		event_active(ms->flush_ev, EV_TIMEOUT, 0);
}

/* ---- answers ------------------------------------------------------------------ */

static void reply_fault(struct msg_stream *ms, const struct devmsg_fault *f, const char *text)
{
	uint8_t id[DEVMSG_ID_LEN];
	if (msg_new_id(id) < 0)
		return;
	struct buf out = BUF_INIT;
	if (devmsg_error_reply(f, text, id, msg_wall_ms(), &out) == 0)
		msg_stream_queue(ms, out.data, out.len);
	buf_free(&out);
}

static void reply_error(struct msg_stream *ms, const devmsg_pb *req, DevmsgPb__Error__Code code,
                        const char *text)
{
	uint8_t id[DEVMSG_ID_LEN];
	if (msg_new_id(id) < 0)
		return;
	struct buf out = BUF_INIT;
	if (devmsg_error_to(req, code, text, id, msg_wall_ms(), &out) == 0)
		msg_stream_queue(ms, out.data, out.len);
	buf_free(&out);
}

/* A staged message the inbox could not store: the sender keeps it and
 * sends it again (a passing Error). */
static void refuse_staged(void *ctx, const uint8_t *bytes, size_t len)
{
	struct msg_stream *ms = ctx;
	devmsg_pb *msg = NULL;
	if (devmsg_decode(bytes, len, &msg, NULL, NULL) < 0)
		return;
	reply_error(ms, msg, DEVMSG_PB__ERROR__CODE__ERROR_INTERNAL,
	            "deferred: the receiver cannot store the message now; send it again later");
	devmsg_free(msg);
}

/* The end of a batch: the new durable messages go into the inbox (on
 * disk), their ids into the window (on disk), then to their handlers from
 * the inbox; finished ones leave the inbox; one Ack covers the batch. Any
 * answer a handler wrote waits in ms->out until after all of it. */
static void commit_batch(struct msg_stream *ms)
{
	struct messages *m = ms->m;
	struct msg_device *d = ms->dev;
	struct errmsg e;
	struct msg_inrec *first = NULL, *rec;
	if (d->inbox.staged && msg_inbox_commit(m, d, &first, refuse_staged, ms, &e) < 0) {
		log_error("device %s: cannot store received durable messages: %s", d->id, e.text);
		ms->block_all = true; /* later ones would overtake the refused ones */
	}
	struct msgdedup *w = d->dedup;
	for (rec = first; w && rec; rec = TAILQ_NEXT(rec, link))
		for (size_t i = 0; i < rec->n; i++)
			msgdedup_add(w, rec->e[i].id);
	bool stored = true;
	if (w && msgdedup_flush(w, m->cfg.store, &e) < 0) {
		/* No Ack without the window on disk: the sender resends later,
		 * and the window in memory knows the ids then. */
		log_error("device %s: cannot store the message dedup window: %s", d->id, e.text);
		stored = false;
	}
	if (first)
		msg_inbox_deliver(m, d, ms);
	for (rec = first; rec; rec = TAILQ_NEXT(rec, link))
		for (size_t i = 0; i < rec->n; i++) {
			struct msg_inentry *en = &rec->e[i];
			if (en->fresh && !en->refused && stored)
				buf_append(&ms->acks, en->id, DEVMSG_ID_LEN);
			en->fresh = false;
		}
	if (first)
		msg_inbox_sync(m, d, NULL);
	if (!stored)
		buf_reset(&ms->acks);
}

/* One Ack per batch, once everything it covers is on disk. */
static void send_acks(struct msg_stream *ms)
{
	commit_batch(ms);
	size_t n = ms->acks.len / DEVMSG_ID_LEN;
	if (!n)
		return;
	ProtobufCBinaryData ids[ACK_BATCH];
	for (size_t i = 0; i < n; i++)
		ids[i] = (ProtobufCBinaryData){DEVMSG_ID_LEN, ms->acks.data + i * DEVMSG_ID_LEN};
	DevmsgPb__Ack ack = DEVMSG_PB__ACK__INIT;
	ack.n_ids = n;
	ack.ids = ids;
	devmsg_pb m = DEVMSG_PB__DEVICE_MESSAGE__INIT;
	uint8_t id[DEVMSG_ID_LEN];
	if (msg_new_id(id) == 0) {
		devmsg_header(&m, id, msg_wall_ms(), DEVMSG_PB__PRIORITY__PRIORITY_HIGH);
		m.body_case = DEVMSG_PB__DEVICE_MESSAGE__BODY_ACK;
		m.ack = &ack;
		struct buf out = BUF_INIT;
		if (devmsg_encode(&m, &out, NULL) == 0)
			msg_stream_queue(ms, out.data, out.len);
		buf_free(&out);
	}
	buf_reset(&ms->acks);
}

/* ---- dispatch ------------------------------------------------------------------ */

static DevmsgPb__Error__Code error_code(int r)
{
	switch (r) {
	case -ENOENT:
		return DEVMSG_PB__ERROR__CODE__ERROR_NO_HANDLER;
	case -EACCES:
	case -EPERM:
		return DEVMSG_PB__ERROR__CODE__ERROR_DENIED;
	case -ENOBUFS:
		return DEVMSG_PB__ERROR__CODE__ERROR_QUEUE_FULL;
	default:
		return DEVMSG_PB__ERROR__CODE__ERROR_INTERNAL;
	}
}

/* Run the handler; 0 handled, else the Error was sent. */
static int handle(struct msg_stream *ms, const devmsg_pb *msg, bool durable)
{
	struct messages *m = ms->m;
	const struct msg_handler *h = msg_handler_find(m, msg);
	char text[256];
	if (!h) {
		if (msg->body_case == DEVMSG_PB__DEVICE_MESSAGE__BODY_CUSTOM)
			snprintf(text, sizeof(text),
			         "no handler for protocol '%.128s' on this device",
			         msg->custom->protocol ? msg->custom->protocol : "");
		else
			snprintf(text, sizeof(text), "no handler for %s messages on this device",
			         devmsg_body_name(msg->body_case));
		reply_error(ms, msg, DEVMSG_PB__ERROR__CODE__ERROR_NO_HANDLER, text);
		return -ENOENT;
	}
	struct messages_incoming in = {
	        .device_id = ms->dev->id,
	        .msg = msg,
	        .needs_reply = devmsg_expects_reply(msg),
	        .durable = durable,
	        .origin = ms,
	};
	int r = h->fn(h->ctx, m, &in);
	if (r < 0) {
		snprintf(text, sizeof(text), "the handler failed: %s", strerror(-r));
		reply_error(ms, msg, error_code(r), r == -ENOENT ? "the handler went away" : text);
	}
	return r;
}

static bool blocked(const struct msg_stream *ms, const char *key)
{
	if (ms->block_all)
		return true;
	for (size_t i = 0; i < ms->nblocked; i++)
		if (strcmp(ms->blocked[i], key) == 0)
			return true;
	return false;
}

static void block(struct msg_stream *ms, const char *key)
{
	if (ms->nblocked < MSG_BLOCKED_MAX)
		snprintf(ms->blocked[ms->nblocked++], sizeof(ms->blocked[0]), "%s", key);
	else
		ms->block_all = true;
}

void msg_stream_refuse(void *origin, const devmsg_pb *req, int err)
{
	char text[256];
	snprintf(text, sizeof(text), "the handler failed: %s", strerror(-err));
	reply_error(origin, req, error_code(err), text);
}

/* Refused before it is staged, so the sender sends it again later:
 * refusals keep order, every later one for the same handler is refused on
 * this stream too. */
static void no_handler(struct msg_stream *ms, const devmsg_pb *msg, const char *key)
{
	char text[256];
	if (msg->body_case == DEVMSG_PB__DEVICE_MESSAGE__BODY_CUSTOM)
		snprintf(text, sizeof(text), "no handler for protocol '%.128s' on this device",
		         msg->custom->protocol ? msg->custom->protocol : "");
	else
		snprintf(text, sizeof(text), "no handler for %s messages on this device",
		         devmsg_body_name(msg->body_case));
	reply_error(ms, msg, DEVMSG_PB__ERROR__CODE__ERROR_NO_HANDLER, text);
	block(ms, key);
}

/* A durable message: acknowledged again when seen before, else staged in
 * the inbox (bytes: the packed message) for the end of the batch. */
static void dispatch_durable(struct msg_stream *ms, const devmsg_pb *msg, const uint8_t *bytes,
                             size_t len)
{
	struct msg_device *d = ms->dev;
	struct msgdedup *w = msg_device_dedup(ms->m, d);
	if (!w) {
		reply_error(ms, msg, DEVMSG_PB__ERROR__CODE__ERROR_INTERNAL,
		            "the receiver cannot read its dedup window");
		return;
	}
	if (msgdedup_contains(w, msg->id.data)) {
		d->duplicates++; /* received before: acknowledge again */
		buf_append(&ms->acks, msg->id.data, DEVMSG_ID_LEN);
		return;
	}
	if (msg_inbox_staged(d, msg->id.data)) {
		d->duplicates++; /* its Ack (or refusal) comes with the batch */
		return;
	}
	char key[MSG_KEY_MAX];
	msg_handler_key(msg, key);
	if (blocked(ms, key)) {
		reply_error(ms, msg, DEVMSG_PB__ERROR__CODE__ERROR_NO_HANDLER,
		            "deferred: an earlier message for the same handler was refused on "
		            "this stream; send them again");
		return;
	}
	if (!msg_handler_find(ms->m, msg))
		return no_handler(ms, msg, key);
	if (msg_inbox_room(ms->m, d, len) < 0) {
		char text[256];
		snprintf(text, sizeof(text),
		         "deferred: the receiver's inbox for this device is full (%zu messages, "
		         "%zu bytes; the bounds are %zu and %zu); send it again later",
		         d->inbox.count, d->inbox.bytes, ms->m->cfg.inbox_max,
		         ms->m->cfg.inbox_max_bytes);
		reply_error(ms, msg, DEVMSG_PB__ERROR__CODE__ERROR_QUEUE_FULL, text);
		ms->block_all = true;
		return;
	}
	if (!bytes || msg_inbox_stage(ms->m, d, msg, bytes, len) < 0) {
		reply_error(ms, msg, DEVMSG_PB__ERROR__CODE__ERROR_INTERNAL,
		            "deferred: the receiver is out of memory; send it again later");
		block(ms, key);
	}
}

static void dispatch(struct msg_stream *ms, const devmsg_pb *msg, const uint8_t *bytes, size_t len)
{
	struct messages *m = ms->m;
	struct msg_device *d = ms->dev;
	d->received++;
	if (msg->body_case == DEVMSG_PB__DEVICE_MESSAGE__BODY_ACK)
		return msg_on_ack(m, d, msg);
	if (msg->has_in_reply_to) {
		/* We never send durable answers; a peer that does still gets
		 * its Ack, or it would resend forever. */
		if (msg->has_durable && msg->durable)
			buf_append(&ms->acks, msg->id.data, DEVMSG_ID_LEN);
		return msg_on_reply(m, d, msg);
	}
	if (msg->body_case == DEVMSG_PB__DEVICE_MESSAGE__BODY_ERROR) {
		log_debug("device %s: Error without in_reply_to: %s", d->id,
		          msg->error->message ? msg->error->message : "");
		return; /* never answered */
	}
	if (msg->has_durable && msg->durable)
		return dispatch_durable(ms, msg, bytes, len);
	handle(ms, msg, false);
}

/* One frame at the front of the input: 1 go on, 0 wait, -1 stop. */
static int read_one(struct msg_stream *ms)
{
	const uint8_t *p, *frame;
	size_t len, flen;
	stream_peek(ms->s, &p, &len);
	long n = lpmsg_next(p, len, DEVMSG_MAX_SIZE, &frame, &flen);
	if (n == 0)
		return 0;
	if (n < 0) {
		struct devmsg_fault f;
		devmsg_fault_too_large(&f);
		if (n == -EMSGSIZE)
			reply_fault(ms, &f, "frame over the 1 MiB DeviceMessage cap");
		log_debug("device %s: bad message frame (%s); stream closed", ms->dev->id,
		          strerror((int)-n));
		/* Nothing after this frame can be trusted: answer, then finish
		 * our side once the answer is out and ignore the rest. */
		ms->broken = true;
		ms->peer_eof = true;
		stream_consume(ms->s, len);
		return -1;
	}
	const struct messages_links *l = &ms->m->cfg.links;
	if (l->count)
		l->count(l->ctx, ms->dev->id, false, (size_t)n);
	devmsg_pb *msg = NULL;
	struct devmsg_fault f;
	struct errmsg e;
	int r = devmsg_decode(frame, flen, &msg, &f, &e);
	if (r < 0) {
		stream_consume(ms->s, (size_t)n);
		log_debug("device %s: %s", ms->dev->id, e.text);
		reply_fault(ms, &f, e.text);
		return 1;
	}
	/* A durable message is staged as its bytes: keep them past the
	 * consume (the decoded copy is all the rest needs). */
	uint8_t small[512], *bytes = NULL;
	if (msg->has_durable && msg->durable)
		bytes = flen <= sizeof(small) ? small : malloc(flen);
	if (bytes)
		memcpy(bytes, frame, flen);
	stream_consume(ms->s, (size_t)n);
	dispatch(ms, msg, bytes, bytes ? flen : 0);
	if (bytes != small)
		free(bytes);
	devmsg_free(msg);
	return 1;
}

/* The peer finished writing and every answer is out: finish ours. */
static void maybe_fin(struct msg_stream *ms)
{
	if (ms->peer_eof && !ms->fin_sent && msg_stream_buffered(ms) == 0) {
		ms->fin_sent = true;
		stream_close_write(ms->s);
	}
}

static void pump_input(struct msg_stream *ms)
{
	if (ms->broken) {
		const uint8_t *p;
		size_t len;
		stream_peek(ms->s, &p, &len);
		stream_consume(ms->s, len);
		if (msg_stream_flush(ms) == 0)
			maybe_fin(ms);
		return;
	}
	struct msg_device *d = ms->dev;
	int r = 1;
	while (r > 0 && msg_stream_buffered(ms) < MESSAGES_STREAM_HIGH_WATER) {
		for (unsigned i = 0; i < ACK_BATCH && r > 0 &&
		                     msg_stream_buffered(ms) < MESSAGES_STREAM_HIGH_WATER &&
		                     ms->acks.len / DEVMSG_ID_LEN + d->inbox.staged < ACK_BATCH;
		     i++)
			r = read_one(ms);
		send_acks(ms);
	}
	if (msg_stream_flush(ms) < 0)
		return;
	maybe_fin(ms);
	/* Acks may have freed queue room. */
	msg_pump(ms->m, d);
}

/* ---- callbacks ------------------------------------------------------------------- */

static void on_data(struct stream *s, void *ctx)
{
	pump_input(ctx);
}

static void flush_cb(evutil_socket_t fd, short what, void *arg)
{
	struct msg_stream *ms = arg;
	if (msg_stream_flush(ms) < 0)
		return;
	maybe_fin(ms);
	/* Room again: take more from the queue (else on_writable will). */
	if (ms->dev->out == ms && ms->dev->q.unsent &&
	    msg_stream_buffered(ms) < MESSAGES_STREAM_HIGH_WATER)
		msg_pump(ms->m, ms->dev);
}

static void on_writable(struct stream *s, void *ctx)
{
	struct msg_stream *ms = ctx;
	if (msg_stream_flush(ms) < 0)
		return;
	if (msg_stream_buffered(ms) < MESSAGES_STREAM_HIGH_WATER)
		pump_input(ms); /* may have been waiting for room */
}

/* The peer is done sending on this stream; once our answers are out we
 * close our side too. For our outbound stream that ends it: on_closed puts
 * what was not acknowledged back in line and opens a new one. */
static void on_eof(struct stream *s, void *ctx)
{
	struct msg_stream *ms = ctx;
	ms->peer_eof = true;
	pump_input(ms);
}

static void schedule_retry(struct msg_device *d, uint32_t ms_delay)
{
	struct timeval tv = {ms_delay / 1000, (ms_delay % 1000) * 1000};
	evtimer_add(d->retry, &tv);
}

static uint32_t retry_delay(struct msg_device *d)
{
	uint32_t ms = RETRY_FIRST_MS;
	for (unsigned i = 0; i < d->open_failures && ms < RETRY_MAX_MS; i++)
		ms *= 2;
	d->open_failures++;
	return ms < RETRY_MAX_MS ? ms : RETRY_MAX_MS;
}

static void on_closed(struct stream *s, int err, void *ctx)
{
	struct msg_stream *ms = ctx;
	struct msg_device *d = ms->dev;
	bool was_out = d->out == ms;
	ms->s = NULL;
	ms_free(ms);
	if (!was_out)
		return;
	log_debug("device %s: outbound message stream closed (%s)", d->id,
	          err ? strerror(-err) : "by the peer");
	msgq_requeue(&d->q);
	/* Still connected? Try again shortly on the current connection. */
	d->conn = NULL;
	if (d->m->cfg.links.conn_of(d->m->cfg.links.ctx, d->id))
		schedule_retry(d, retry_delay(d));
}

/* ---- inbound ---------------------------------------------------------------------- */

void msg_on_stream(struct stream *s, void *ctx)
{
	struct messages *m = ctx;
	const char *id = m->cfg.links.device_of(m->cfg.links.ctx, stream_conn(s));
	struct msg_device *d = NULL;
	if (!id || msg_device_get(m, id, &d) < 0) {
		log_debug("message stream refused: %s",
		          id ? "no room for the device" : "not an authenticated paired device");
		stream_reset(s);
		return;
	}
	if (!ms_new(m, d, s, false))
		stream_reset(s);
}

const struct protocol_handler msg_protocol_handlers[] = {
        {MESSAGES_PROTOCOL_ID, msg_on_stream,
         .max_inbound_per_peer = MESSAGES_MAX_INBOUND_PER_PEER},
        {0},
};

/* ---- outbound --------------------------------------------------------------------- */

static void opened(struct stream *s, int err, void *ctx)
{
	struct msg_opener *op = ctx;
	struct msg_device *d = op->dev;
	free(op);
	if (!d) {
		if (s) {
			stream_set_callbacks(s, &detached, NULL);
			stream_reset(s);
		}
		return;
	}
	d->opener = NULL;
	if (!s) {
		log_debug("device %s: cannot open a message stream: %s", d->id, strerror(-err));
		d->conn = NULL;
		if (d->m->cfg.links.conn_of(d->m->cfg.links.ctx, d->id))
			schedule_retry(d,
			               err == -ENOPROTOOPT ? RETRY_UNSUPPORTED_MS : retry_delay(d));
		return;
	}
	d->out = ms_new(d->m, d, s, true);
	if (!d->out) {
		stream_reset(s);
		schedule_retry(d, retry_delay(d));
		return;
	}
	d->open_failures = 0;
	msg_pump(d->m, d);
}

void msg_stream_open(struct messages *m, struct msg_device *d)
{
	struct msg_opener *op = calloc(1, sizeof(*op));
	if (!op)
		return;
	op->m = m;
	op->dev = d;
	int r = host_open_stream(m->cfg.host, d->conn, MESSAGES_PROTOCOL_ID, opened, op);
	if (r < 0) {
		free(op);
		log_debug("device %s: cannot open a message stream: %s", d->id, strerror(-r));
		d->conn = NULL;
		schedule_retry(d, retry_delay(d));
		return;
	}
	d->opener = op;
}
