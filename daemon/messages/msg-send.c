/* Sending (messages.h): envelopes, the per-device queue and the durable
 * store, requests waiting for replies (the correlation table and one timer
 * for all deadlines), Acks and replies coming back, and the pump that
 * moves queued messages onto the device's outbound stream. */
#include "messages-internal.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto.h"
#include "log.h"
#include "lpmsg.h"
#include "net/clock.h"

/* Deadlines collected per timer run (then again while it fills up). */
#define EXPIRE_BATCH 64
/* A message waits for a device that is not connected: ask the link
 * provider for a connection at most this often. */
#define KICK_INTERVAL_MS 5000
/* The device deferred a durable message (no handler yet): resend after
 * this, doubling up to the cap while it keeps deferring. */
#define REDELIVER_FIRST_MS 1000
#define REDELIVER_MAX_MS 60000

/* Message ids come from a pool of random bytes refilled 256 ids at a
 * time: one RNG call per id was a tenth of the cost of a small message.
 * A forked child starts with an empty pool, so it never repeats ours. */
static uint8_t id_pool[256 * DEVMSG_ID_LEN];
static size_t id_pool_off = sizeof(id_pool);
static bool id_pool_hooked;

static void id_pool_forget(void)
{
	id_pool_off = sizeof(id_pool);
}

int msg_new_id(uint8_t id[DEVMSG_ID_LEN])
{
	if (!id_pool_hooked)
		id_pool_hooked = pthread_atfork(NULL, NULL, id_pool_forget) == 0;
	if (id_pool_off >= sizeof(id_pool)) {
		if (crypto_random(id_pool, sizeof(id_pool)) < 0)
			return -EIO;
		id_pool_off = 0;
	}
	memcpy(id, id_pool + id_pool_off, DEVMSG_ID_LEN);
	id_pool_off += DEVMSG_ID_LEN;
	return 0;
}

uint64_t msg_wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static DevmsgPb__Priority wire_prio(enum msgq_prio p)
{
	switch (p) {
	case MSGQ_HIGH:
		return DEVMSG_PB__PRIORITY__PRIORITY_HIGH;
	case MSGQ_LOW:
		return DEVMSG_PB__PRIORITY__PRIORITY_LOW;
	default:
		return DEVMSG_PB__PRIORITY__PRIORITY_NORMAL;
	}
}

/* ---- timer ------------------------------------------------------------------ */

void msg_timer_arm(struct messages *m, uint64_t deadline)
{
	if (deadline == UINT64_MAX || (m->timer_at && m->timer_at <= deadline))
		return;
	uint64_t now = mono_ms();
	uint64_t ms = deadline > now ? deadline - now : 0;
	struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
	evtimer_add(m->timer, &tv);
	m->timer_at = deadline ? deadline : 1;
}

static void waiter_unlink(struct msg_waiter *w)
{
	TAILQ_REMOVE(w->item ? &w->dev->waiters : &w->dev->answering, w, link);
	if (w->item) {
		msgq_remove(&w->dev->q, w->item);
		free(w->item);
		w->item = NULL;
	}
}

void msg_waiter_finish(struct messages *m, struct msg_waiter *w, int err, const devmsg_pb *reply,
                       const char *text)
{
	waiter_unlink(w);
	w->cb(w->ctx, err, reply, text);
	free(w);
}

static void expire_requests(struct messages *m, uint64_t now)
{
	struct devmsg_expired ex[EXPIRE_BATCH];
	size_t n;
	do {
		n = devmsg_corr_expire(&m->corr, now, ex, EXPIRE_BATCH);
		for (size_t i = 0; i < n; i++) {
			struct msg_waiter *w = (struct msg_waiter *)(uintptr_t)ex[i].cookie;
			char text[160];
			snprintf(
			        text, sizeof(text), "no reply from device %s in time%s", w->dev->id,
			        w->item ? " (it was not connected; the message was not sent)" : "");
			msg_waiter_finish(m, w, -ETIMEDOUT, NULL, text);
		}
	} while (n == EXPIRE_BATCH);
}

/* Fire-and-forget messages that could not be sent in time are dropped. */
static uint64_t expire_queues(struct messages *m, uint64_t now)
{
	uint64_t next = UINT64_MAX;
	struct msg_device *d;
	TAILQ_FOREACH(d, &m->devices, link)
	{
		struct msgq_item *gone[EXPIRE_BATCH];
		size_t n;
		while ((n = msgq_expire(&d->q, now, gone, EXPIRE_BATCH)) > 0) {
			log_debug("device %s: %zu queued messages expired unsent", d->id, n);
			for (size_t i = 0; i < n; i++)
				free(gone[i]);
		}
		uint64_t t = msgq_next_deadline(&d->q);
		if (t < next)
			next = t;
	}
	return next;
}

void msg_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct messages *m = arg;
	m->timer_at = 0;
	uint64_t now = mono_ms();
	expire_requests(m, now);
	uint64_t next = expire_queues(m, now);
	uint64_t c = devmsg_corr_next_deadline(&m->corr);
	msg_timer_arm(m, c < next ? c : next);
}

/* ---- failing waiters ---------------------------------------------------------- */

void msg_fail_sent(struct messages *m, struct msg_device *d, int err, const char *text)
{
	/* Those still queued wait for the device to return. A callback may
	 * cancel others: take the first one afresh each time. */
	struct msg_waiter *w;
	while ((w = TAILQ_FIRST(&d->answering))) {
		devmsg_corr_cancel(&m->corr, w->id, NULL);
		msg_waiter_finish(m, w, err, NULL, text);
	}
}

void msg_device_drop_queue(struct messages *m, struct msg_device *d)
{
	struct msg_waiter *w;
	while ((w = TAILQ_FIRST(&d->waiters)) || (w = TAILQ_FIRST(&d->answering))) {
		devmsg_corr_cancel(&m->corr, w->id, NULL);
		msg_waiter_finish(m, w, -ECANCELED, NULL, "the daemon is stopping");
	}
	msgq_free(&d->q);
	d->durable = 0;
}

/* ---- the pump ----------------------------------------------------------------- */

/* Move one taken item onto the stream's buffer. */
static int write_item(struct msg_device *d, struct msgq_item *it)
{
	int r = msg_stream_queue(d->out, it->frame, it->len);
	if (!it->durable) {
		struct msg_waiter *w = it->owner;
		if (w) {
			TAILQ_REMOVE(&d->waiters, w, link);
			TAILQ_INSERT_TAIL(&d->answering, w, link);
			w->item = NULL;
		}
		free(it);
	}
	if (r == 0)
		d->sent++;
	return r;
}

void msg_pump(struct messages *m, struct msg_device *d)
{
	if (!d->conn)
		d->conn = m->cfg.links.conn_of(m->cfg.links.ctx, d->id);
	if (!d->conn) {
		uint64_t now = mono_ms();
		if (d->q.unsent && m->cfg.links.kick &&
		    (!d->last_kick_ms || now - d->last_kick_ms >= KICK_INTERVAL_MS)) {
			d->last_kick_ms = now;
			m->cfg.links.kick(m->cfg.links.ctx, d->id);
		}
		return;
	}
	if (!d->out) {
		if (!d->opener && !evtimer_pending(d->retry, NULL))
			msg_stream_open(m, d);
		return;
	}
	if (d->out->peer_eof)
		return; /* closing: on_closed opens a new one */
	bool wrote = false;
	while (msg_stream_buffered(d->out) < MESSAGES_STREAM_HIGH_WATER && msgq_peek(&d->q)) {
		if (write_item(d, msgq_take(&d->q)) < 0)
			break;
		wrote = true;
	}
	/* Written once this loop turn is over: sends in a row share writes. */
	if (wrote)
		msg_stream_kick(d->out);
}

/* ---- sending ------------------------------------------------------------------ */

static int check_opts(const struct messages_send_opts *o, const devmsg_pb *msg, struct errmsg *err)
{
	if (o->prio >= MSGQ_NPRIO)
		return errmsg_set(err, -EINVAL, "unknown priority %d", (int)o->prio);
	if (o->durable && o->expect_reply)
		return errmsg_set(err, -EINVAL,
		                  "a durable message cannot wait for a reply (it may be "
		                  "delivered much later); send it durable without waiting");
	if (o->timeout_ms > MESSAGES_MAX_TIMEOUT_MS)
		return errmsg_set(err, -EINVAL, "timeout %" PRIu32 " ms is over the limit of %u ms",
		                  o->timeout_ms, MESSAGES_MAX_TIMEOUT_MS);
	if (msg->has_in_reply_to && o->expect_reply)
		return errmsg_set(err, -EINVAL, "a reply cannot wait for a reply");
	return 0;
}

static int queue_full(struct msg_device *d, struct errmsg *err)
{
	return errmsg_set(err, -ENOBUFS,
	                  "the message queue for device %s is full (%zu messages, %zu bytes; "
	                  "the bounds are %zu messages and %zu bytes): retry once the device "
	                  "has caught up",
	                  d->id, d->q.count, d->q.bytes, d->q.max_count, d->q.max_bytes);
}

/* Store a durable message before it is queued. */
static int store_durable(struct messages *m, struct msg_device *d, struct msgq_item *it,
                         struct errmsg *err)
{
	/* The frame is uvarint(len) || msg: the store keeps the bare msg. */
	const uint8_t *msg;
	size_t len;
	long n = lpmsg_next(it->frame, it->len, DEVMSG_MAX_SIZE, &msg, &len);
	if (n <= 0)
		return errmsg_set(err, -EINVAL, "internal: bad frame");
	it->seq = d->next_seq;
	int r = msgstore_put(m->cfg.store, d->id, it->seq, it->prio, msg, len, err);
	if (r < 0) {
		errmsg_prefix(err, "cannot store the durable message");
		return r;
	}
	d->next_seq++;
	return 0;
}

static int add_waiter(struct messages *m, struct msg_device *d, struct msgq_item *it,
                      uint64_t deadline, messages_reply_cb cb, void *ctx, struct errmsg *err)
{
	struct msg_waiter *w = calloc(1, sizeof(*w));
	if (!w)
		return errmsg_set(err, -ENOMEM, "out of memory");
	int r = devmsg_corr_add(&m->corr, it->id, deadline, (uint64_t)(uintptr_t)w);
	if (r < 0) {
		free(w);
		if (r == -ENOSPC)
			return errmsg_set(
			        err, -EBUSY,
			        "%zu requests are already waiting for replies (the limit); "
			        "retry when some are answered",
			        devmsg_corr_count(&m->corr));
		return errmsg_set(err, r, "cannot track the request: %s", strerror(-r));
	}
	w->dev = d;
	w->item = it;
	memcpy(w->id, it->id, DEVMSG_ID_LEN);
	w->cb = cb;
	w->ctx = ctx;
	it->owner = w;
	TAILQ_INSERT_TAIL(&d->waiters, w, link);
	msg_timer_arm(m, deadline);
	return 0;
}

static struct msgq_item *build(const uint8_t id[DEVMSG_ID_LEN], devmsg_pb *msg,
                               const struct messages_send_opts *o, struct errmsg *err, int *r)
{
	devmsg_header(msg, id, msg_wall_ms(), wire_prio(o->prio));
	msg->has_durable = o->durable;
	msg->durable = o->durable;
	if (msg->body_case == DEVMSG_PB__DEVICE_MESSAGE__BODY_CUSTOM && msg->custom) {
		msg->custom->has_expects_reply = o->expect_reply;
		msg->custom->expects_reply = o->expect_reply;
	}
	struct buf frame = BUF_INIT;
	*r = devmsg_encode(msg, &frame, err);
	struct msgq_item *it =
	        *r == 0 ? msgq_item_new(id, frame.data, frame.len, o->prio, o->durable) : NULL;
	if (*r == 0 && !it)
		*r = errmsg_set(err, -ENOMEM, "out of memory");
	buf_free(&frame);
	return it;
}

int messages_send(struct messages *m, const char *device_id, devmsg_pb *msg,
                  const struct messages_send_opts *o, messages_reply_cb cb, void *ctx,
                  uint8_t ret_id[DEVMSG_ID_LEN], struct errmsg *err)
{
	int r = check_opts(o, msg, err);
	if (r < 0)
		return r;
	if (o->expect_reply && !cb)
		return errmsg_set(err, -EINVAL, "a request needs a reply callback");
	struct msg_device *d;
	r = msg_device_get(m, device_id, &d);
	if (r < 0)
		return errmsg_set(err, r,
		                  r == -EINVAL ? "bad device id" : "cannot track device: %s",
		                  strerror(-r));
	uint8_t id[DEVMSG_ID_LEN];
	if (msg_new_id(id) < 0)
		return errmsg_set(err, -EIO, "no random bytes for the message id");
	struct msgq_item *it = build(id, msg, o, err, &r);
	if (!it)
		return r;
	uint64_t timeout = o->timeout_ms ? o->timeout_ms : MESSAGES_DEFAULT_TIMEOUT_MS;
	uint64_t deadline = mono_ms() + timeout;
	if (msgq_room(&d->q, it->len) < 0)
		r = queue_full(d, err);
	else if (o->durable)
		r = store_durable(m, d, it, err);
	else if (o->expect_reply)
		r = add_waiter(m, d, it, deadline, cb, ctx, err);
	if (r < 0) {
		free(it);
		return r;
	}
	if (!o->durable && !o->expect_reply) {
		it->deadline_ms = deadline;
		msg_timer_arm(m, deadline);
	}
	msgq_push(&d->q, it); /* room was checked above */
	if (o->durable)
		d->durable++;
	if (ret_id)
		memcpy(ret_id, id, DEVMSG_ID_LEN);
	msg_pump(m, d);
	return 0;
}

int messages_cancel(struct messages *m, const uint8_t id[DEVMSG_ID_LEN])
{
	uint64_t cookie;
	if (devmsg_corr_cancel(&m->corr, id, &cookie) < 0)
		return -ENOENT;
	struct msg_waiter *w = (struct msg_waiter *)(uintptr_t)cookie;
	waiter_unlink(w);
	free(w);
	return 0;
}

int messages_reply(struct messages *m, const char *device_id,
                   const uint8_t request_id[DEVMSG_ID_LEN], devmsg_pb *reply, struct errmsg *err)
{
	devmsg_set_reply_to(reply, request_id);
	struct messages_send_opts o = {.prio = MSGQ_HIGH};
	return messages_send(m, device_id, reply, &o, NULL, NULL, NULL, err);
}

int messages_respond(struct messages *m, const struct messages_incoming *in, devmsg_pb *reply)
{
	struct msg_stream *ms = in->origin;
	if (!ms) {
		/* Handed over from the inbox later: its stream may be gone. */
		struct errmsg e;
		int r = messages_reply(m, in->device_id, in->msg->id.data, reply, &e);
		return r == -EINVAL || r == -ENOMEM ? r : r < 0 ? -ENOBUFS : 0;
	}
	uint8_t id[DEVMSG_ID_LEN];
	if (msg_new_id(id) < 0)
		return -EIO;
	devmsg_header(reply, id, msg_wall_ms(), DEVMSG_PB__PRIORITY__PRIORITY_HIGH);
	devmsg_set_reply_to(reply, in->msg->id.data);
	struct buf frame = BUF_INIT;
	int r = devmsg_encode(reply, &frame, NULL);
	if (r == 0)
		r = msg_stream_queue(ms, frame.data, frame.len);
	buf_free(&frame);
	return r;
}

/* ---- what comes back ------------------------------------------------------------ */

/* Refusals that may pass: no handler yet (the app is not running), the
 * handler's queue is full, a failure on the receiver's side. */
static bool passing(DevmsgPb__Error__Code code)
{
	switch (code) {
	case DEVMSG_PB__ERROR__CODE__ERROR_NO_HANDLER:
	case DEVMSG_PB__ERROR__CODE__ERROR_QUEUE_FULL:
	case DEVMSG_PB__ERROR__CODE__ERROR_INTERNAL:
	case DEVMSG_PB__ERROR__CODE__ERROR_TIMEOUT:
		return true;
	default:
		return false;
	}
}

void msg_redeliver_cb(evutil_socket_t fd, short what, void *arg)
{
	struct msg_device *d = arg;
	/* A new stream: the receiver refuses everything after a deferred
	 * message on the old one, so all unacknowledged go again, in order. */
	msg_stream_drop_out(d);
	msgq_requeue(&d->q);
	msg_pump(d->m, d);
}

/* Keep it and resend later (with everything after it). */
static void defer(struct msg_device *d, const struct msgq_item *it, const char *text)
{
	if (evtimer_pending(d->redeliver, NULL))
		return;
	uint32_t ms = d->redeliver_ms ? d->redeliver_ms : REDELIVER_FIRST_MS;
	d->redeliver_ms = ms < REDELIVER_MAX_MS / 2 ? 2 * ms : REDELIVER_MAX_MS;
	log_debug("device %s deferred durable message %" PRIu64 " (%s); resending in %u ms", d->id,
	          it->seq, text, (unsigned)ms);
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	evtimer_add(d->redeliver, &tv);
}

/* The receiver refused a durable message with an Error: for good, or for
 * now (then it is resent later). */
static bool durable_refused(struct messages *m, struct msg_device *d, const devmsg_pb *msg)
{
	if (msg->body_case != DEVMSG_PB__DEVICE_MESSAGE__BODY_ERROR)
		return false;
	const char *text = msg->error->message ? msg->error->message : "refused";
	struct msgq_item *it = msgq_find(&d->q, msg->in_reply_to.data);
	if (!it || !it->durable || !it->sent)
		return false;
	if (passing(msg->error->code)) {
		defer(d, it, text);
		return true;
	}
	msgq_remove(&d->q, it);
	log_info("device %s refused durable message %" PRIu64 ": %s", d->id, it->seq, text);
	struct errmsg e;
	if (msgstore_delete(m->cfg.store, d->id, it->seq, &e) < 0)
		log_warning("%s", e.text);
	d->durable--;
	d->refused++;
	if (m->cfg.on_outcome)
		m->cfg.on_outcome(m->cfg.ctx, d->id, it->id, -EREMOTEIO, text);
	free(it);
	return true;
}

void msg_on_reply(struct messages *m, struct msg_device *d, const devmsg_pb *msg)
{
	if (durable_refused(m, d, msg))
		return;
	uint64_t cookie;
	int r = devmsg_corr_match(&m->corr, msg->in_reply_to.data, mono_ms(), &cookie);
	if (r == -ENOENT)
		return; /* not ours, or too late: replies are never answered */
	struct msg_waiter *w = (struct msg_waiter *)(uintptr_t)cookie;
	if (r == -ETIMEDOUT) {
		msg_waiter_finish(m, w, -ETIMEDOUT, NULL, "the reply came too late");
		return;
	}
	bool error = msg->body_case == DEVMSG_PB__DEVICE_MESSAGE__BODY_ERROR;
	msg_waiter_finish(m, w, error ? -EREMOTEIO : 0, msg,
	                  error && msg->error->message ? msg->error->message : "");
}

void msg_on_ack(struct messages *m, struct msg_device *d, const devmsg_pb *msg)
{
	/* One directory fsync for the whole Ack (up to 1024 ids), not one per
	 * record: that kept the loop busy for seconds under disk load. */
	size_t unlinked = 0;
	for (size_t i = 0; i < msg->ack->n_ids; i++) {
		struct msgq_item *it = msgq_ack(&d->q, msg->ack->ids[i].data);
		if (!it)
			continue; /* a repeated Ack, or for a message we did not send */
		struct errmsg e;
		if (msgstore_unlink(m->cfg.store, d->id, it->seq, &e) < 0)
			log_warning("%s", e.text);
		else
			unlinked++;
		d->durable--;
		d->acked++;
		d->redeliver_ms = 0;
		if (m->cfg.on_outcome)
			m->cfg.on_outcome(m->cfg.ctx, d->id, it->id, 0, NULL);
		free(it);
	}
	struct errmsg e;
	if (unlinked && msgstore_sync(m->cfg.store, &e) < 0)
		log_warning("%s", e.text);
}
