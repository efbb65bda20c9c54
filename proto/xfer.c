/* File transfer state machine: lifecycle, control-message dispatch,
 * cancel and interruption, accessors and progress (see xfer.h). The offer
 * and answer live in xfer-offer.c, data, hashes and verification in
 * xfer-data.c, naming in xfer-name.c. */
#include "xfer-internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const state_names[] = {
        [XFER_ST_NEW] = "new",
        [XFER_ST_OFFERED] = "offered",
        [XFER_ST_TRANSFERRING] = "transferring",
        [XFER_ST_VERIFYING] = "verifying",
        [XFER_ST_INTERRUPTED] = "interrupted",
        [XFER_ST_DONE] = "done",
        [XFER_ST_FAILED] = "failed",
        [XFER_ST_REJECTED] = "rejected",
        [XFER_ST_CANCELLED] = "cancelled",
};

const char *xfer_state_name(enum xfer_state s)
{
	if ((unsigned)s >= sizeof(state_names) / sizeof(state_names[0]))
		return "unknown";
	return state_names[s];
}

bool xfer_terminal(enum xfer_state s)
{
	return s == XFER_ST_DONE || s == XFER_ST_FAILED || s == XFER_ST_REJECTED ||
	       s == XFER_ST_CANCELLED;
}

int xfer_new(struct xfer **ret, enum xfer_role role, const uint8_t id[XFER_ID_LEN],
             const struct xfer_config *cfg)
{
	if (!cfg || !cfg->rand || (role != XFER_SENDER && role != XFER_RECEIVER))
		return -EINVAL;
	struct xfer *x = calloc(1, sizeof(*x));
	if (!x)
		return -ENOMEM;
	x->role = role;
	x->state = XFER_ST_NEW;
	memcpy(x->id, id, XFER_ID_LEN);
	x->cfg = *cfg;
	*ret = x;
	return 0;
}

void xfer_files_free(struct xfer_file *files, size_t n)
{
	for (size_t i = 0; files && i < n; i++) {
		free(files[i].path);
		free(files[i].parts);
		free(files[i].part_len);
	}
	free(files);
}

struct xfer *xfer_free(struct xfer *x)
{
	if (!x)
		return NULL;
	xfer_files_free(x->files, x->n_files);
	xfer_files_free(x->prev, x->n_prev);
	free(x->ready);
	free(x->peer_text);
	free(x);
	return NULL;
}

ProtobufCBinaryData xfer_pb_id(struct xfer *x)
{
	return (ProtobufCBinaryData){XFER_ID_LEN, x->id};
}

int xfer_emit(struct xfer *x, DevmsgPb__DeviceMessage__BodyCase body, void *msg, uint64_t now_ms,
              struct buf *out)
{
	uint8_t mid[DEVMSG_ID_LEN];
	x->cfg.rand(mid, sizeof(mid), x->cfg.ctx);
	devmsg_pb m = DEVMSG_PB__DEVICE_MESSAGE__INIT;
	bool urgent = body == XFER_BODY(CANCEL);
	devmsg_header(&m, mid, now_ms,
	              urgent ? DEVMSG_PB__PRIORITY__PRIORITY_HIGH
	                     : DEVMSG_PB__PRIORITY__PRIORITY_NORMAL);
	m.body_case = body;
	m.keepalive = msg; /* the body union holds one message pointer */
	return devmsg_encode(&m, out, NULL);
}

static int send_cancel(struct xfer *x, DevmsgPb__FileTransferCancel__Reason reason,
                       const char *text, bool resumable, uint64_t now_ms, struct buf *out)
{
	DevmsgPb__FileTransferCancel c = DEVMSG_PB__FILE_TRANSFER_CANCEL__INIT;
	c.has_transfer_id = 1;
	c.transfer_id = xfer_pb_id(x);
	c.has_reason = 1;
	c.reason = reason;
	c.message = (char *)text;
	c.has_resumable = resumable;
	c.resumable = resumable;
	return xfer_emit(x, XFER_BODY(CANCEL), &c, now_ms, out);
}

int xfer_fail(struct xfer *x, uint64_t now_ms, struct buf *out, struct errmsg *e, const char *fmt,
              ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(x->err.text, sizeof(x->err.text), fmt, ap);
	va_end(ap);
	if (e)
		*e = x->err;
	if (out)
		(void)send_cancel(x, DEVMSG_PB__FILE_TRANSFER_CANCEL__REASON__CANCEL_PROTOCOL_ERROR,
		                  x->err.text, false, now_ms, out);
	x->state = XFER_ST_FAILED;
	x->in_seg = false;
	return -EPROTO;
}

int xfer_unexpected(struct xfer *x, const devmsg_pb *m, uint64_t now_ms, struct buf *out,
                    struct errmsg *e)
{
	return xfer_fail(x, now_ms, out, e, "%s is not expected by the %s in state %s",
	                 devmsg_body_name(m->body_case),
	                 x->role == XFER_SENDER ? "sender" : "receiver", xfer_state_name(x->state));
}

void xfer_store_peer_reason(struct xfer *x, int reason, const char *text)
{
	free(x->peer_text);
	x->peer_text = strdup(text ? text : "");
	x->has_peer_reason = true;
	x->peer_reason = reason;
}

static int on_cancel(struct xfer *x, const devmsg_pb *m)
{
	const DevmsgPb__FileTransferCancel *c = m->file_transfer_cancel;
	xfer_store_peer_reason(x, c->has_reason ? (int)c->reason : 0, c->message);
	x->in_seg = false;
	if (c->has_resumable && c->resumable) {
		x->state = XFER_ST_INTERRUPTED;
		return XFER_EV_PAUSED;
	}
	x->state = XFER_ST_CANCELLED;
	return XFER_EV_CANCELLED;
}

static int dispatch(struct xfer *x, const devmsg_pb *m, uint64_t now_ms, struct buf *out,
                    struct errmsg *e)
{
	bool sender = x->role == XFER_SENDER;
	switch (m->body_case) {
	case XFER_BODY(REQUEST):
		return sender ? xfer_unexpected(x, m, now_ms, out, e)
		              : xfer_on_offer(x, m, now_ms, out, e);
	case XFER_BODY(RESPONSE):
		return sender ? xfer_on_response(x, m, now_ms, out, e)
		              : xfer_unexpected(x, m, now_ms, out, e);
	case XFER_BODY(PROGRESS):
		return sender ? xfer_on_progress(x, m, now_ms, out, e)
		              : xfer_unexpected(x, m, now_ms, out, e);
	case XFER_BODY(COMPLETE):
		return sender ? xfer_unexpected(x, m, now_ms, out, e)
		              : xfer_on_complete(x, m, now_ms, out, e);
	case XFER_BODY(VERIFY):
		return sender ? xfer_on_verify(x, m, now_ms, out, e)
		              : xfer_unexpected(x, m, now_ms, out, e);
	case XFER_BODY(CANCEL):
		return on_cancel(x, m);
	default:
		/* Data headers belong on the data stream. */
		return xfer_unexpected(x, m, now_ms, out, e);
	}
}

int xfer_handle(struct xfer *x, const devmsg_pb *m, uint64_t now_ms, struct buf *out,
                struct errmsg *e)
{
	/* After the end, stragglers (a late Progress, a Cancel crossing our
	 * Verify) change nothing. */
	if (xfer_terminal(x->state))
		return XFER_EV_NONE;
	uint8_t tid[XFER_ID_LEN];
	int r = xfer_msg_transfer_id(m, tid);
	if (r == -ENOENT)
		return xfer_fail(x, now_ms, out, e, "%s is not a file-transfer message",
		                 devmsg_body_name(m->body_case));
	if (r < 0)
		return xfer_fail(x, now_ms, out, e, "%s without a valid transfer id",
		                 devmsg_body_name(m->body_case));
	if (memcmp(tid, x->id, XFER_ID_LEN) != 0)
		return xfer_fail(x, now_ms, out, e, "%s for another transfer",
		                 devmsg_body_name(m->body_case));
	return dispatch(x, m, now_ms, out, e);
}

int xfer_cancel(struct xfer *x, DevmsgPb__FileTransferCancel__Reason reason, const char *text,
                bool resumable, uint64_t now_ms, struct buf *out)
{
	if (xfer_terminal(x->state))
		return -EALREADY;
	int r = send_cancel(x, reason, text, resumable, now_ms, out);
	if (r < 0)
		return r;
	snprintf(x->err.text, sizeof(x->err.text), "%s", text ? text : "cancelled");
	x->state = resumable ? XFER_ST_INTERRUPTED : XFER_ST_CANCELLED;
	x->in_seg = false;
	return 0;
}

void xfer_interrupt(struct xfer *x)
{
	if (xfer_terminal(x->state))
		return;
	x->state = XFER_ST_INTERRUPTED;
	x->in_seg = false;
	x->seg_left = 0;
}

enum xfer_state xfer_state(const struct xfer *x)
{
	return x->state;
}

enum xfer_role xfer_role(const struct xfer *x)
{
	return x->role;
}

const uint8_t *xfer_id(const struct xfer *x)
{
	return x->id;
}

size_t xfer_file_count(const struct xfer *x)
{
	return x->n_files;
}

const struct xfer_file *xfer_file(const struct xfer *x, size_t i)
{
	return i < x->n_files ? &x->files[i] : NULL;
}

const char *xfer_error(const struct xfer *x)
{
	return x->err.text;
}

int xfer_reject_reason(const struct xfer *x, const char **ret_text)
{
	if (!x->has_peer_reason)
		return -ENOENT;
	if (ret_text)
		*ret_text = x->peer_text ? x->peer_text : "";
	return x->peer_reason;
}

int xfer_msg_transfer_id(const devmsg_pb *m, uint8_t ret_id[XFER_ID_LEN])
{
	const ProtobufCBinaryData *id;
	protobuf_c_boolean has;
#define CASE(body, field)                                                                          \
	case XFER_BODY(body):                                                                      \
		has = m->field->has_transfer_id;                                                   \
		id = &m->field->transfer_id;                                                       \
		break
	switch (m->body_case) {
		CASE(REQUEST, file_transfer_request);
		CASE(RESPONSE, file_transfer_response);
		CASE(PROGRESS, file_transfer_progress);
		CASE(COMPLETE, file_transfer_complete);
		CASE(VERIFY, file_transfer_verify);
		CASE(CANCEL, file_transfer_cancel);
		CASE(DATA, file_transfer_data);
	default:
		return -ENOENT;
	}
#undef CASE
	if (!has || id->len != XFER_ID_LEN)
		return -EINVAL;
	memcpy(ret_id, id->data, XFER_ID_LEN);
	return 0;
}

/* ---- progress ------------------------------------------------------------- */

void xfer_samples_reset(struct xfer *x, uint64_t now_ms)
{
	x->n_samples = 0;
	x->sample_head = 0;
	xfer_sample(x, now_ms);
}

void xfer_sample(struct xfer *x, uint64_t now_ms)
{
	if (x->n_samples > 0) {
		size_t last = (x->sample_head + x->n_samples - 1) % XFER_RATE_SAMPLES;
		if (now_ms < x->samples[last].t + XFER_RATE_INTERVAL_MS)
			return;
	}
	size_t slot = (x->sample_head + x->n_samples) % XFER_RATE_SAMPLES;
	if (x->n_samples == XFER_RATE_SAMPLES)
		x->sample_head = (x->sample_head + 1) % XFER_RATE_SAMPLES;
	else
		x->n_samples++;
	x->samples[slot] = (struct xfer_sample){now_ms, x->bytes_done};
}

/* Bytes per second from the oldest sample inside the window to now. A
 * stall ages every sample out of the window and the rate drops to 0. */
static uint64_t rate(const struct xfer *x, uint64_t now_ms)
{
	for (size_t k = 0; k < x->n_samples; k++) {
		const struct xfer_sample *s = &x->samples[(x->sample_head + k) % XFER_RATE_SAMPLES];
		if (s->t > now_ms || now_ms - s->t > XFER_RATE_WINDOW_MS)
			continue;
		if (now_ms == s->t)
			return 0;
		return (x->bytes_done - s->bytes) * 1000 / (now_ms - s->t);
	}
	return 0;
}

void xfer_progress(const struct xfer *x, uint64_t now_ms, struct xfer_progress *ret)
{
	memset(ret, 0, sizeof(*ret));
	ret->state = x->state;
	ret->bytes_total = x->bytes_total;
	ret->bytes_done = x->bytes_done;
	ret->bytes_resumed = x->bytes_resumed;
	ret->bytes_durable = x->bytes_durable;
	ret->files_total = x->n_files;
	ret->files_done = x->n_verified;
	ret->files_failed = x->n_failed;
	ret->rate_bps = x->state == XFER_ST_TRANSFERRING ? rate(x, now_ms) : 0;
	if (x->bytes_done >= x->bytes_total)
		ret->eta_ms = 0;
	else if (ret->rate_bps)
		ret->eta_ms = (x->bytes_total - x->bytes_done) * 1000 / ret->rate_bps;
	else
		ret->eta_ms = UINT64_MAX;
}
