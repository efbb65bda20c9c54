/* The file-transfer streams (see transfers.h): inbound streams are
 * classified by their first frame (an Offer or a SpacedropRequest opens a
 * control stream, a segment header a data stream), control frames are
 * decoded and handed to the transfer's role, and our own streams are
 * opened (and unpaired Spacedrop targets dialed) through small "open"
 * records that outlive a transfer or the service, since the host may
 * answer after either is gone.
 *
 * A control stream we let go of gracefully lingers until what we queued
 * for it (a Verify, a Cancel, a Reject) is written, then half-closes. */
#include "transfers-internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/devices.h"
#include "log.h"
#include "lpmsg.h"
#include "net/host.h"
#include "net/stream.h"

#define SD_BODY(x) DEVMSG_PB__DEVICE_MESSAGE__BODY_SPACEDROP_##x
#define FT_BODY(x) DEVMSG_PB__DEVICE_MESSAGE__BODY_FILE_TRANSFER_##x

/* Streams waiting for their first frame, all peers together (each peer is
 * also held to TX_MAX_INBOUND_PER_PEER by the registry). */
#define TX_MAX_LOOSE 256

struct txs_ext {
	struct txs ts;
	struct buf out; /* lingering: bytes still to write before FIN */
	unsigned in_cb;
	bool dead;
	bool linger;
};

struct txopen {
	LIST_ENTRY(txopen) link;
	struct transfers *svc; /* NULL once orphaned (service gone) */
	uint8_t id[XFER_ID_LEN];
	uint64_t attempt;
	int kind; /* 0 control, 1 data, 2 dial */
};

static struct txs_ext *ext(struct txs *ts)
{
	return (struct txs_ext *)ts;
}

static void noop_data(struct stream *s, void *ctx)
{
}

static void noop_closed(struct stream *s, int err, void *ctx)
{
}

static const struct stream_callbacks detached = {noop_data, noop_data, noop_data, noop_closed};

static void free_txs(struct txs *ts)
{
	struct txs_ext *x = ext(ts);
	if (ts->loose)
		LIST_REMOVE(ts, link);
	buf_free(&x->out);
	free(x);
}

/* No more callbacks for ts; freed now or when its callback returns. */
static void kill_txs(struct txs *ts)
{
	struct txs_ext *x = ext(ts);
	if (ts->s)
		stream_set_callbacks(ts->s, &detached, NULL);
	ts->s = NULL;
	x->dead = true;
	if (!x->in_cb)
		free_txs(ts);
}

static void unlink_tx(struct txs *ts)
{
	struct tx *t = ts->t;
	if (!t)
		return;
	if (t->ctl == ts)
		t->ctl = NULL;
	if (t->data == ts)
		t->data = NULL;
	ts->t = NULL;
}

static void linger_flush(struct txs *ts)
{
	struct txs_ext *x = ext(ts);
	while (x->out.len && ts->s) {
		long n = stream_write(ts->s, x->out.data, x->out.len);
		if (n <= 0)
			break;
		buf_consume(&x->out, (size_t)n);
	}
	if (!x->out.len && ts->s && !ts->closing) {
		ts->closing = true;
		stream_close_write(ts->s);
	}
}

void txwire_drop(struct txs *ts, bool graceful)
{
	if (!ts || ext(ts)->dead)
		return;
	struct tx *t = ts->t;
	bool was_ctl = t && t->ctl == ts;
	unlink_tx(ts);
	if (!graceful || !ts->s) {
		if (ts->s)
			stream_reset(ts->s);
		kill_txs(ts);
		return;
	}
	/* Keep the stream until what t queued for it is written. */
	struct txs_ext *x = ext(ts);
	if (was_ctl && t->ctl_out.len) {
		if (buf_append(&x->out, t->ctl_out.data, t->ctl_out.len) < 0) {
			stream_reset(ts->s);
			kill_txs(ts);
			return;
		}
		buf_reset(&t->ctl_out);
	}
	x->linger = true;
	if (!ts->loose) {
		LIST_INSERT_HEAD(&ts->svc->loose, ts, link);
		ts->loose = true;
	}
	linger_flush(ts);
}

void txwire_drop_all(struct tx *t, bool graceful)
{
	txwire_drop(t->data, graceful);
	txwire_drop(t->ctl, graceful);
	t->data = t->ctl = NULL;
}

void txwire_free_loose(struct transfers *svc)
{
	struct txs *ts;
	while ((ts = LIST_FIRST(&svc->loose))) {
		if (ts->s)
			stream_reset(ts->s);
		ext(ts)->in_cb = 0;
		kill_txs(ts);
	}
}

struct txs *txwire_attach(struct transfers *svc, struct tx *t, struct stream *s, bool data)
{
	struct txs_ext *x = calloc(1, sizeof(*x));
	if (!x) {
		stream_reset(s);
		return NULL;
	}
	struct txs *ts = &x->ts;
	ts->svc = svc;
	ts->s = s;
	ts->data = data;
	ts->t = t;
	if (t) {
		if (data)
			t->data = ts;
		else
			t->ctl = ts;
	}
	stream_set_callbacks(s, &txwire_callbacks, ts);
	return ts;
}

/* A classified inbound stream joins t. */
static void adopt(struct txs *ts, struct tx *t, bool data)
{
	if (ts->loose)
		LIST_REMOVE(ts, link);
	ts->loose = false;
	ts->t = t;
	ts->data = data;
	if (data)
		t->data = ts;
	else
		t->ctl = ts;
}

/* ---- writing ------------------------------------------------------------------- */

int txwire_flush_ctl(struct tx *t)
{
	if (!t->ctl || !t->ctl->s || t->ctl_hold)
		return 0;
	while (t->ctl_out.len) {
		long n = stream_write(t->ctl->s, t->ctl_out.data, t->ctl_out.len);
		if (n < 0)
			return -EPIPE;
		if (n == 0)
			break;
		buf_consume(&t->ctl_out, (size_t)n);
	}
	if (t->ctl_out.len > TX_CTL_OUT_MAX)
		return -ENOBUFS;
	return 0;
}

int txwire_queue_msg(struct tx *t, devmsg_pb *m)
{
	uint8_t id[DEVMSG_ID_LEN];
	tx_rand(id, sizeof(id), NULL);
	devmsg_header(m, id, tx_wall_ms(), DEVMSG_PB__PRIORITY__PRIORITY_NORMAL);
	return devmsg_encode(m, &t->ctl_out, NULL);
}

/* ---- control frames ----------------------------------------------------------------- */

static void protocol_failure(struct tx *t, const char *text)
{
	tx_error(t, "%s broke the protocol: %s", t->sender ? "the receiver" : "the sender", text);
	txwire_flush_ctl(t);
	if (!t->sender)
		txrecv_cleanup(t);
	else
		txsend_cancelled(t);
	txwire_drop_all(t, true);
	tx_set_state(t, TX_FAILED, "protocol error");
}

void txwire_control_frame(struct tx *t, const devmsg_pb *m)
{
	switch (m->body_case) {
	case SD_BODY(REQUEST):
		if (t->sender || t->spacedrop || xfer_state(t->x) != XFER_ST_NEW)
			return protocol_failure(t, "an unexpected SpacedropRequest");
		return txrecv_spacedrop_request(t, m);
	case SD_BODY(RESPONSE):
		if (!t->sender || !t->spacedrop)
			return protocol_failure(t, "an unexpected SpacedropResponse");
		return txsend_spacedrop_answer(
		        t, m->spacedrop_response->has_accepted && m->spacedrop_response->accepted,
		        m->spacedrop_response->message);
	default:
		break;
	}
	/* We paused or lost this attempt: what the peer sent before it heard
	 * (a Complete crossing our Cancel) is a straggler, not a lie. Only a
	 * Cancel or a new Offer still counts. */
	if (xfer_state(t->x) == XFER_ST_INTERRUPTED && m->body_case != FT_BODY(CANCEL) &&
	    m->body_case != FT_BODY(REQUEST)) {
		log_debug("transfer %.8s: ignored %s after the attempt ended", t->idhex,
		          devmsg_body_name(m->body_case));
		return;
	}
	struct errmsg e = {{0}};
	int ev = xfer_handle(t->x, m, tx_now_ms(), &t->ctl_out, &e);
	if (ev < 0) {
		if (xfer_state(t->x) == XFER_ST_REJECTED && !t->sender) {
			/* An offer we cannot take: the Reject says why. */
			tx_error(t, "refused the offer: %s", e.text);
			txwire_flush_ctl(t);
			txwire_drop_all(t, true);
			tx_set_state(t, TX_REJECTED, "invalid offer");
			return;
		}
		return protocol_failure(t, e.text[0] ? e.text : strerror(-ev));
	}
	if (t->sender)
		txsend_on_event(t, ev);
	else
		txrecv_on_event(t, ev);
	if (txwire_flush_ctl(t) == -ENOBUFS && !tx_state_final(t->state))
		protocol_failure(t, "it does not read its control stream");
}

static void control_in(struct txs *ts)
{
	struct txs_ext *x = ext(ts);
	while (!x->dead && ts->t && ts->s) {
		const uint8_t *p, *frame;
		size_t len, flen;
		stream_peek(ts->s, &p, &len);
		long n = lpmsg_next(p, len, DEVMSG_MAX_SIZE, &frame, &flen);
		if (n == 0)
			return;
		if (n < 0)
			return protocol_failure(ts->t, "a control frame over the size cap");
		devmsg_pb *m = NULL;
		struct errmsg e = {{0}};
		int r = devmsg_decode(frame, flen, &m, NULL, &e);
		stream_consume(ts->s, (size_t)n);
		if (r < 0)
			return protocol_failure(ts->t, e.text);
		txwire_control_frame(ts->t, m);
		devmsg_free(m);
	}
}

static void data_in(struct txs *ts)
{
	const uint8_t *p;
	size_t len;
	stream_peek(ts->s, &p, &len);
	if (!len)
		return;
	if (ts->t->sender) {
		stream_consume(ts->s, len); /* nothing is expected the other way */
		return;
	}
	long n = txrecv_data(ts->t, p, len);
	if (n > 0 && !ext(ts)->dead && ts->s)
		stream_consume(ts->s, (size_t)n);
}

/* ---- classifying inbound streams ------------------------------------------------------ */

/* The paired device behind peer, "" when unpaired; -EACCES when revoked or
 * expired (refused outright). */
static int device_of(struct transfers *svc, const struct peerid *peer, char *out, size_t size)
{
	out[0] = '\0';
	const struct device *d =
	        svc->cfg.devices ? devices_find_peer(svc->cfg.devices, peer) : NULL;
	if (!d)
		return 0;
	if (d->trust == DEVICE_REVOKED || d->trust == DEVICE_EXPIRED)
		return -EACCES;
	snprintf(out, size, "%s", d->info.device_id);
	return 0;
}

static void classify_data(struct txs *ts, const devmsg_pb *m)
{
	uint8_t id[XFER_ID_LEN];
	struct tx *t = xfer_msg_transfer_id(m, id) == 0 ? tx_find(ts->svc, id) : NULL;
	if (!t || t->sender || t->data || !peerid_equal(&t->peer, stream_peer(ts->s)) ||
	    xfer_state(t->x) != XFER_ST_TRANSFERRING) {
		log_debug("file transfer: a data stream for no transfer we are receiving; reset");
		txwire_drop(ts, false);
		return;
	}
	adopt(ts, t, true);
}

static void classify(struct txs *ts)
{
	const uint8_t *p, *frame;
	size_t len, flen;
	stream_peek(ts->s, &p, &len);
	long n = lpmsg_next(p, len, DEVMSG_MAX_SIZE, &frame, &flen);
	if (n == 0)
		return;
	devmsg_pb *m = NULL;
	if (n < 0 || devmsg_decode(frame, flen, &m, NULL, NULL) < 0) {
		txwire_drop(ts, false);
		return;
	}
	char device_id[PAIRING_DEVICE_ID_LEN + 1];
	if (device_of(ts->svc, stream_peer(ts->s), device_id, sizeof(device_id)) < 0) {
		log_info("file transfer: refused a stream from a revoked or expired device");
		txwire_drop(ts, false);
	} else if (m->body_case == FT_BODY(DATA)) {
		classify_data(ts, m);
	} else if (m->body_case == FT_BODY(REQUEST) || m->body_case == SD_BODY(REQUEST)) {
		stream_consume(ts->s, (size_t)n);
		txrecv_first_frame(ts->svc, ts, m, device_id);
	} else {
		txwire_drop(ts, false);
	}
	devmsg_free(m);
}

void txwire_refuse(struct txs *ts, const uint8_t id[XFER_ID_LEN], const char *text, bool resumable)
{
	DevmsgPb__FileTransferCancel c = DEVMSG_PB__FILE_TRANSFER_CANCEL__INIT;
	c.has_transfer_id = c.has_reason = 1;
	c.transfer_id = (ProtobufCBinaryData){XFER_ID_LEN, (uint8_t *)id};
	c.reason = DEVMSG_PB__FILE_TRANSFER_CANCEL__REASON__CANCEL_USER;
	c.message = (char *)text;
	c.has_resumable = resumable;
	c.resumable = resumable;
	devmsg_pb m = DEVMSG_PB__DEVICE_MESSAGE__INIT;
	uint8_t mid[DEVMSG_ID_LEN];
	tx_rand(mid, sizeof(mid), NULL);
	devmsg_header(&m, mid, tx_wall_ms(), DEVMSG_PB__PRIORITY__PRIORITY_HIGH);
	m.body_case = FT_BODY(CANCEL);
	m.file_transfer_cancel = &c;
	struct txs_ext *x = ext(ts);
	unlink_tx(ts);
	if (!ts->s || devmsg_encode(&m, &x->out, NULL) < 0) {
		txwire_drop(ts, false);
		return;
	}
	x->linger = true;
	if (!ts->loose) {
		LIST_INSERT_HEAD(&ts->svc->loose, ts, link);
		ts->loose = true;
	}
	linger_flush(ts);
}

void txwire_adopt(struct txs *ts, struct tx *t)
{
	adopt(ts, t, false);
}

/* ---- callbacks ------------------------------------------------------------------------ */

static void enter(struct txs *ts)
{
	ext(ts)->in_cb++;
}

static void leave(struct txs *ts)
{
	struct txs_ext *x = ext(ts);
	if (--x->in_cb == 0 && x->dead)
		free_txs(ts);
}

static void on_data(struct stream *s, void *ctx)
{
	struct txs *ts = ctx;
	struct txs_ext *x = ext(ts);
	enter(ts);
	if (x->linger) {
		const uint8_t *p;
		size_t len;
		stream_peek(s, &p, &len);
		stream_consume(s, len);
	} else {
		if (!ts->t)
			classify(ts);
		if (!x->dead && ts->t && ts->s)
			ts->data ? data_in(ts) : control_in(ts);
	}
	leave(ts);
}

static void on_writable(struct stream *s, void *ctx)
{
	struct txs *ts = ctx;
	enter(ts);
	if (ext(ts)->linger)
		linger_flush(ts);
	else if (ts->t && ts->data && ts->t->sender)
		txsched_ready(ts->t);
	else if (ts->t && !ts->data && txwire_flush_ctl(ts->t) < 0)
		txwire_drop(ts, false);
	leave(ts);
}

static void on_eof(struct stream *s, void *ctx)
{
	struct txs *ts = ctx;
	enter(ts);
	struct tx *t = ts->t;
	if (ext(ts)->linger || !t) {
		if (!ts->t && !ext(ts)->linger)
			txwire_drop(ts, false); /* closed before saying anything */
	} else if (ts->data) {
		/* The sender finished its data: close our side too. */
		ts->closing = true;
		stream_close_write(s);
	} else if (tx_state_final(t->state)) {
		txwire_drop(ts, true);
	} else if (!t->finishing) {
		t->sender ? txsend_interrupted(t, "the receiver closed the control stream")
		          : txrecv_interrupted(t, "the sender closed the control stream");
	}
	leave(ts);
}

static void on_closed(struct stream *s, int err, void *ctx)
{
	struct txs *ts = ctx;
	enter(ts);
	ts->s = NULL;
	struct tx *t = ts->t;
	bool normal_end = ts->data && err == 0 && ts->closing;
	unlink_tx(ts);
	if (t && !normal_end && !tx_state_final(t->state) && !t->pending) {
		char why[128];
		snprintf(why, sizeof(why), "the %s stream %s", ts->data ? "data" : "control",
		         err ? strerror(-err) : "ended");
		t->sender ? txsend_interrupted(t, why) : txrecv_interrupted(t, why);
	} else if (t && t->pending && !ts->data) {
		txrecv_interrupted(t, "the sender went away");
	}
	kill_txs(ts);
	leave(ts);
}

const struct stream_callbacks txwire_callbacks = {on_data, on_writable, on_eof, on_closed};

void txwire_on_stream(struct stream *s, void *ctx)
{
	struct transfers *svc = ctx;
	size_t n = 0;
	struct txs *it;
	LIST_FOREACH(it, &svc->loose, link)
	n++;
	if (n >= TX_MAX_LOOSE || svc->freeing) {
		stream_reset(s);
		return;
	}
	struct txs *ts = txwire_attach(svc, NULL, s, false);
	if (!ts)
		return;
	LIST_INSERT_HEAD(&svc->loose, ts, link);
	ts->loose = true;
}

/* ---- opening our streams ---------------------------------------------------------------- */

static struct txopen *open_rec(struct tx *t, int kind)
{
	struct txopen *o = calloc(1, sizeof(*o));
	if (!o)
		return NULL;
	o->svc = t->svc;
	memcpy(o->id, t->id, XFER_ID_LEN);
	o->attempt = t->attempt;
	o->kind = kind;
	LIST_INSERT_HEAD(&t->svc->opens, o, link);
	return o;
}

/* The transfer an open record is for, or NULL (then it is dropped). */
static struct tx *open_done(struct txopen *o)
{
	struct transfers *svc = o->svc;
	if (!svc)
		return NULL;
	LIST_REMOVE(o, link);
	struct tx *t = tx_find(svc, o->id);
	if (t && o->kind == 0)
		t->ctl_opening = false;
	if (t && o->kind == 1)
		t->data_opening = false;
	if (t && o->kind == 2)
		t->dialing = false;
	if (!t || t->attempt != o->attempt || tx_state_final(t->state))
		return NULL;
	return t;
}

static void opened(struct stream *s, int err, void *ctx)
{
	struct txopen *o = ctx;
	struct tx *t = open_done(o);
	bool data = o->kind == 1;
	struct transfers *svc = o->svc;
	free(o);
	if (!t) {
		if (s)
			stream_reset(s);
		return;
	}
	if (!s)
		return txsend_open_failed(t, data, err, strerror(-err));
	if (!txwire_attach(svc, t, s, data))
		return txsend_open_failed(t, data, -ENOMEM, "out of memory");
	data ? txsend_data_opened(t) : txsend_ctl_opened(t);
}

int txwire_open(struct tx *t, struct conn *c, bool data)
{
	struct txopen *o = open_rec(t, data ? 1 : 0);
	if (!o)
		return -ENOMEM;
	int r = host_open_stream(t->svc->cfg.host, c, XFER_PROTOCOL_ID, opened, o);
	if (r < 0) {
		LIST_REMOVE(o, link);
		free(o);
		return r;
	}
	if (data)
		t->data_opening = true;
	else
		t->ctl_opening = true;
	return 0;
}

static void dialed(struct host *h, struct conn *c, int err, const char *msg, void *ctx)
{
	struct txopen *o = ctx;
	struct tx *t = open_done(o);
	free(o);
	if (t)
		txsend_dialed(t, c ? 0 : err, msg);
}

int txwire_dial(struct tx *t, const struct multiaddr *ma)
{
	struct txopen *o = open_rec(t, 2);
	if (!o)
		return -ENOMEM;
	int r = host_dial(t->svc->cfg.host, ma, 0, dialed, o);
	if (r < 0) {
		LIST_REMOVE(o, link);
		free(o);
		return r;
	}
	t->dialing = true;
	return 0;
}

void txwire_orphan_opens(struct transfers *svc)
{
	struct txopen *o;
	while ((o = LIST_FIRST(&svc->opens))) {
		LIST_REMOVE(o, link);
		o->svc = NULL; /* the host frees it through the callback */
	}
}
