/* File transfer: the data stream, hashes and verification. The sender is
 * told how much it may send (its window decides), the receiver where each
 * byte belongs; neither touches a file. Segment headers let the receiver
 * check every byte's place against the offer before it is written. */
#include "xfer-internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lpmsg.h"

static bool needs_data(const struct xfer_file *f)
{
	return !f->is_dir && !f->verified && f->pos < f->size;
}

/* ---- sender ---------------------------------------------------------------- */

static int send_header(struct xfer *x, size_t i, struct buf *hdr_out)
{
	const struct xfer_file *f = &x->files[i];
	DevmsgPb__FileTransferData d = DEVMSG_PB__FILE_TRANSFER_DATA__INIT;
	d.has_transfer_id = d.has_file_index = d.has_offset = d.has_length = 1;
	d.transfer_id = xfer_pb_id(x);
	d.file_index = (uint32_t)i;
	d.offset = f->pos;
	d.length = f->size - f->pos;
	/* Header ids are never answered; created_ms is not needed either. */
	return xfer_emit(x, XFER_BODY(DATA), &d, 0, hdr_out);
}

int xfer_send_span(struct xfer *x, uint64_t window, struct buf *hdr_out, struct xfer_span *ret)
{
	if (x->role != XFER_SENDER || x->state != XFER_ST_TRANSFERRING)
		return -EINVAL;
	memset(ret, 0, sizeof(*ret));
	if (!x->in_seg) {
		while (x->cur < x->n_files && !needs_data(&x->files[x->cur]))
			x->cur++;
		if (x->cur == x->n_files) {
			ret->done = true;
			return 0;
		}
		if (window == 0)
			return 0;
		int r = send_header(x, x->cur, hdr_out);
		if (r < 0)
			return r;
		x->in_seg = true;
		x->seg_left = x->files[x->cur].size - x->files[x->cur].pos;
	}
	ret->file = x->cur;
	ret->offset = x->files[x->cur].pos;
	ret->len = window < x->seg_left ? window : x->seg_left;
	return 0;
}

int xfer_sent(struct xfer *x, uint64_t n, uint64_t now_ms)
{
	if (x->role != XFER_SENDER || x->state != XFER_ST_TRANSFERRING || !x->in_seg ||
	    n > x->seg_left)
		return -EINVAL;
	x->files[x->cur].pos += n;
	x->seg_left -= n;
	x->bytes_done += n;
	if (x->seg_left == 0)
		x->in_seg = false;
	xfer_sample(x, now_ms);
	return 0;
}

int xfer_set_sha256(struct xfer *x, size_t i, const uint8_t sha[XFER_SHA256_LEN], struct errmsg *e)
{
	if (x->role != XFER_SENDER || xfer_terminal(x->state))
		return -EINVAL;
	if (i >= x->n_files)
		return -ERANGE;
	struct xfer_file *f = &x->files[i];
	if (f->is_dir)
		return -EINVAL;
	if (f->has_offer_sha && memcmp(f->offer_sha, sha, XFER_SHA256_LEN) != 0)
		return errmsg_set(e, -ESTALE,
		                  "file %zu changed since it was offered: its SHA-256 differs", i);
	f->has_sha = true;
	memcpy(f->sha, sha, XFER_SHA256_LEN);
	return 0;
}

void xfer_check_all_sent(struct xfer *x)
{
	for (size_t i = 0; i < x->n_files; i++) {
		const struct xfer_file *f = &x->files[i];
		if (!f->is_dir && !f->verified && (f->pos < f->size || !f->hash_sent))
			return;
	}
	x->state = XFER_ST_VERIFYING;
}

static bool hash_due(const struct xfer_file *f)
{
	return !f->is_dir && !f->verified && !f->hash_sent && f->pos == f->size && f->has_sha;
}

int xfer_send_hashes(struct xfer *x, uint64_t now_ms, struct buf *out)
{
	if (x->role != XFER_SENDER || x->state != XFER_ST_TRANSFERRING)
		return -EINVAL;
	DevmsgPb__FileHash *h = calloc(DEVMSG_MAX_LIST, sizeof(*h));
	DevmsgPb__FileHash **ptrs = calloc(DEVMSG_MAX_LIST, sizeof(*ptrs));
	int r = h && ptrs ? 0 : -ENOMEM;
	for (size_t i = 0; r == 0 && i < x->n_files;) {
		size_t n = 0, first = i;
		for (; i < x->n_files && n < DEVMSG_MAX_LIST; i++) {
			if (!hash_due(&x->files[i]))
				continue;
			h[n] = (DevmsgPb__FileHash)DEVMSG_PB__FILE_HASH__INIT;
			h[n].has_index = h[n].has_sha256 = 1;
			h[n].index = (uint32_t)i;
			h[n].sha256 = (ProtobufCBinaryData){XFER_SHA256_LEN, x->files[i].sha};
			ptrs[n] = &h[n];
			n++;
		}
		if (n == 0)
			break;
		DevmsgPb__FileTransferComplete c = DEVMSG_PB__FILE_TRANSFER_COMPLETE__INIT;
		c.has_transfer_id = 1;
		c.transfer_id = xfer_pb_id(x);
		c.n_hashes = n;
		c.hashes = ptrs;
		r = xfer_emit(x, XFER_BODY(COMPLETE), &c, now_ms, out);
		for (size_t k = first; r == 0 && k < i; k++)
			if (hash_due(&x->files[k]))
				x->files[k].hash_sent = true;
	}
	free(h);
	free(ptrs);
	if (r == 0)
		xfer_check_all_sent(x);
	return r;
}

int xfer_on_verify(struct xfer *x, const devmsg_pb *m, uint64_t now_ms, struct buf *out,
                   struct errmsg *e)
{
	const DevmsgPb__FileTransferVerify *v = m->file_transfer_verify;
	if (x->state != XFER_ST_VERIFYING)
		return xfer_unexpected(x, m, now_ms, out, e);
	bool ok = v->has_ok && v->ok;
	if (ok && (v->failed_count > 0 || v->n_failed > 0))
		return xfer_fail(x, now_ms, out, e, "Verify says ok and lists failed files");
	if (ok) {
		for (size_t i = 0; i < x->n_files; i++)
			x->files[i].verified = true;
		x->n_verified = x->n_files;
		x->state = XFER_ST_DONE;
		return XFER_EV_DONE;
	}
	for (size_t k = 0; k < v->n_failed; k++)
		if (v->failed[k] < x->n_files && !x->files[v->failed[k]].failed) {
			x->files[v->failed[k]].failed = true;
			x->n_failed++;
		}
	snprintf(x->err.text, sizeof(x->err.text),
	         "the receiver reports %u file(s) failed verification",
	         v->failed_count > v->n_failed ? v->failed_count : (unsigned)v->n_failed);
	x->state = XFER_ST_FAILED;
	return XFER_EV_FAILED;
}

int xfer_on_progress(struct xfer *x, const devmsg_pb *m, uint64_t now_ms, struct buf *out,
                     struct errmsg *e)
{
	const DevmsgPb__FileTransferProgress *p = m->file_transfer_progress;
	if (x->state != XFER_ST_TRANSFERRING && x->state != XFER_ST_VERIFYING)
		return xfer_unexpected(x, m, now_ms, out, e);
	if (p->bytes_done > x->bytes_total)
		return xfer_fail(x, now_ms, out, e, "Progress reports %llu bytes of %llu",
		                 (unsigned long long)p->bytes_done,
		                 (unsigned long long)x->bytes_total);
	x->bytes_durable = p->bytes_done;
	return XFER_EV_PROGRESS;
}

/* ---- receiver: data ---------------------------------------------------------- */

void xfer_enqueue_ready(struct xfer *x, size_t i)
{
	struct xfer_file *f = &x->files[i];
	if (f->queued || f->verified || f->failed)
		return;
	f->queued = true;
	/* Each file enters at most once per attempt: the ring cannot overflow. */
	x->ready[(x->ready_head + x->ready_n) % x->n_files] = (uint32_t)i;
	x->ready_n++;
}

static int check_segment(struct xfer *x, const DevmsgPb__FileTransferData *d, uint64_t now_ms,
                         struct buf *ctl_out, struct errmsg *e)
{
	if (!d->has_transfer_id || d->transfer_id.len != XFER_ID_LEN ||
	    memcmp(d->transfer_id.data, x->id, XFER_ID_LEN) != 0)
		return xfer_fail(x, now_ms, ctl_out, e,
		                 "data stream: segment for another transfer");
	uint32_t i = d->file_index;
	if (i >= x->n_files)
		return xfer_fail(x, now_ms, ctl_out, e,
		                 "data stream: data for unknown file %u (the offer has %zu)", i,
		                 x->n_files);
	const struct xfer_file *f = &x->files[i];
	if (f->is_dir || f->verified)
		return xfer_fail(x, now_ms, ctl_out, e, "data stream: data for file %u, which %s",
		                 i, f->is_dir ? "is a directory" : "is already verified");
	if (d->offset > f->size)
		return xfer_fail(x, now_ms, ctl_out, e,
		                 "data stream: offset %llu is beyond file %u's size %llu",
		                 (unsigned long long)d->offset, i, (unsigned long long)f->size);
	if (d->offset != f->pos)
		return xfer_fail(x, now_ms, ctl_out, e,
		                 "data stream: file %u data at offset %llu, expected %llu", i,
		                 (unsigned long long)d->offset, (unsigned long long)f->pos);
	if (d->length == 0 || d->length > f->size - d->offset)
		return xfer_fail(x, now_ms, ctl_out, e,
		                 "data stream: %llu bytes at %llu exceed file %u's size %llu",
		                 (unsigned long long)d->length, (unsigned long long)d->offset, i,
		                 (unsigned long long)f->size);
	x->cur = i;
	x->seg_left = d->length;
	x->in_seg = true;
	return 0;
}

static long read_header(struct xfer *x, const uint8_t *data, size_t len, uint64_t now_ms,
                        struct buf *ctl_out, struct errmsg *e)
{
	const uint8_t *frame;
	size_t flen;
	long n = lpmsg_next(data, len, XFER_DATA_HEADER_MAX, &frame, &flen);
	if (n == 0)
		return 0;
	if (n < 0)
		return xfer_fail(x, now_ms, ctl_out, e,
		                 "data stream: expected a segment header of at most %d bytes",
		                 XFER_DATA_HEADER_MAX);
	devmsg_pb *m = NULL;
	struct errmsg de = {{0}};
	if (devmsg_decode(frame, flen, &m, NULL, &de) < 0)
		return xfer_fail(x, now_ms, ctl_out, e, "data stream: bad segment header: %s",
		                 de.text);
	int r;
	if (m->body_case != XFER_BODY(DATA))
		r = xfer_fail(x, now_ms, ctl_out, e, "data stream: %s instead of a segment header",
		              devmsg_body_name(m->body_case));
	else
		r = check_segment(x, m->file_transfer_data, now_ms, ctl_out, e);
	devmsg_free(m);
	return r < 0 ? r : n;
}

long xfer_data_feed(struct xfer *x, const uint8_t *data, size_t len, uint64_t now_ms,
                    struct xfer_span *ret, struct buf *ctl_out, struct errmsg *e)
{
	if (x->role != XFER_RECEIVER || x->state != XFER_ST_TRANSFERRING)
		return -EINVAL;
	memset(ret, 0, sizeof(*ret));
	if (len == 0)
		return 0;
	if (!x->in_seg)
		return read_header(x, data, len, now_ms, ctl_out, e);
	struct xfer_file *f = &x->files[x->cur];
	uint64_t take = len < x->seg_left ? len : x->seg_left;
	ret->file = x->cur;
	ret->offset = f->pos;
	ret->data = data;
	ret->len = take;
	f->pos += take;
	x->seg_left -= take;
	x->bytes_done += take;
	if (x->seg_left == 0)
		x->in_seg = false;
	if (f->pos == f->size && f->has_sha)
		xfer_enqueue_ready(x, x->cur);
	xfer_sample(x, now_ms);
	return (long)take;
}

int xfer_durable(struct xfer *x, size_t i, uint64_t offset)
{
	if (x->role != XFER_RECEIVER)
		return -EINVAL;
	if (i >= x->n_files || offset > x->files[i].pos)
		return -ERANGE;
	struct xfer_file *f = &x->files[i];
	if (offset < f->durable)
		return -EINVAL;
	x->bytes_durable += offset - f->durable;
	f->durable = offset;
	return 0;
}

int xfer_next_ready(struct xfer *x, size_t *ret_index)
{
	if (x->ready_n == 0)
		return -ENOENT;
	*ret_index = x->ready[x->ready_head];
	x->ready_head = (x->ready_head + 1) % x->n_files;
	x->ready_n--;
	return 0;
}

/* ---- receiver: hashes and verification ----------------------------------------- */

static int take_hash(struct xfer *x, const DevmsgPb__FileHash *h, uint64_t now_ms, struct buf *out,
                     struct errmsg *e)
{
	uint32_t i = h->index;
	if (i >= x->n_files)
		return xfer_fail(x, now_ms, out, e, "Complete names file %u, the offer has %zu", i,
		                 x->n_files);
	struct xfer_file *f = &x->files[i];
	if (!h->has_sha256 || h->sha256.len != XFER_SHA256_LEN || f->is_dir)
		return xfer_fail(x, now_ms, out, e, "Complete has no valid SHA-256 for file %u", i);
	if (f->verified)
		return 0; /* done in an earlier attempt */
	if (f->has_sha && memcmp(f->sha, h->sha256.data, XFER_SHA256_LEN) != 0)
		return xfer_fail(x, now_ms, out, e,
		                 "Complete's SHA-256 for file %u differs from the one %s", i,
		                 f->has_offer_sha ? "offered" : "sent before");
	f->has_sha = true;
	memcpy(f->sha, h->sha256.data, XFER_SHA256_LEN);
	if (f->pos == f->size)
		xfer_enqueue_ready(x, i);
	return 0;
}

int xfer_on_complete(struct xfer *x, const devmsg_pb *m, uint64_t now_ms, struct buf *out,
                     struct errmsg *e)
{
	const DevmsgPb__FileTransferComplete *c = m->file_transfer_complete;
	if (x->state != XFER_ST_TRANSFERRING)
		return xfer_unexpected(x, m, now_ms, out, e);
	size_t before = x->ready_n;
	for (size_t k = 0; k < c->n_hashes; k++) {
		int r = take_hash(x, c->hashes[k], now_ms, out, e);
		if (r < 0)
			return r;
	}
	return x->ready_n > before ? XFER_EV_HASHES : XFER_EV_NONE;
}

int xfer_verified(struct xfer *x, size_t i, const uint8_t sha[XFER_SHA256_LEN], uint64_t now_ms,
                  struct buf *out, struct errmsg *e)
{
	if (x->role != XFER_RECEIVER || x->state != XFER_ST_TRANSFERRING)
		return -EINVAL;
	if (i >= x->n_files)
		return -ERANGE;
	struct xfer_file *f = &x->files[i];
	if (!f->queued || f->verified || f->failed)
		return -EINVAL;
	int r = 0;
	if (memcmp(f->sha, sha, XFER_SHA256_LEN) == 0) {
		f->verified = true;
		x->bytes_durable += f->size - f->durable;
		f->durable = f->size;
		x->n_verified++;
	} else {
		f->failed = true;
		x->n_failed++;
		r = errmsg_set(e, -EBADMSG,
		               "file %zu (%s): the received data does not match the sender's "
		               "SHA-256",
		               i, f->path);
	}
	int fr = xfer_maybe_finish(x, now_ms, out);
	return fr < 0 ? fr : r;
}

int xfer_maybe_finish(struct xfer *x, uint64_t now_ms, struct buf *out)
{
	if (x->n_verified + x->n_failed < x->n_files)
		return 0;
	uint32_t failed[DEVMSG_MAX_LIST];
	size_t n = 0;
	for (size_t i = 0; i < x->n_files && n < DEVMSG_MAX_LIST; i++)
		if (x->files[i].failed)
			failed[n++] = (uint32_t)i;
	DevmsgPb__FileTransferVerify v = DEVMSG_PB__FILE_TRANSFER_VERIFY__INIT;
	v.has_transfer_id = v.has_ok = 1;
	v.transfer_id = xfer_pb_id(x);
	v.ok = x->n_failed == 0;
	v.n_failed = n;
	v.failed = failed;
	v.has_failed_count = x->n_failed > 0;
	v.failed_count = (uint32_t)x->n_failed;
	int r = xfer_emit(x, XFER_BODY(VERIFY), &v, now_ms, out);
	if (r < 0)
		return r;
	if (x->n_failed)
		snprintf(x->err.text, sizeof(x->err.text), "%zu of %zu file(s) failed verification",
		         x->n_failed, x->n_files);
	x->state = x->n_failed ? XFER_ST_FAILED : XFER_ST_DONE;
	return 0;
}

int xfer_send_progress(struct xfer *x, uint64_t now_ms, struct buf *out)
{
	if (x->role != XFER_RECEIVER || x->state != XFER_ST_TRANSFERRING)
		return -EINVAL;
	DevmsgPb__FileTransferProgress p = DEVMSG_PB__FILE_TRANSFER_PROGRESS__INIT;
	p.has_transfer_id = p.has_bytes_done = p.has_files_done = 1;
	p.transfer_id = xfer_pb_id(x);
	p.bytes_done = x->bytes_durable;
	p.files_done = (uint32_t)x->n_verified;
	return xfer_emit(x, XFER_BODY(PROGRESS), &p, now_ms, out);
}
