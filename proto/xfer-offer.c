/* File transfer: the offer and its answer. The sender describes its files
 * in batches; the receiver collects them, sanitises every name, checks the
 * announced totals, and answers with per-file resume offsets or a reason to
 * refuse. */
#include "xfer-internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Longest component the sender will offer: a 255-character name in
 * 4-byte UTF-8. */
#define XFER_PART_MAX (XFER_NAME_MAX * 4)

static int grow_files(struct xfer *x)
{
	if (x->n_files < x->cap_files)
		return 0;
	size_t cap = x->cap_files ? x->cap_files * 2 : 16;
	struct xfer_file *f = realloc(x->files, cap * sizeof(*f));
	if (!f)
		return -ENOMEM;
	x->files = f;
	x->cap_files = cap;
	return 0;
}

/* ---- sender ---------------------------------------------------------------- */

static int check_parts(const struct xfer_part *path, size_t n_parts, size_t *ret_total)
{
	if (n_parts == 0 || n_parts > DEVMSG_MAX_LIST)
		return -EINVAL;
	size_t total = 0;
	for (size_t i = 0; i < n_parts; i++) {
		if (path[i].len == 0 || path[i].len > XFER_PART_MAX)
			return -EINVAL;
		total += path[i].len;
	}
	*ret_total = total;
	return 0;
}

int xfer_add_file(struct xfer *x, const struct xfer_part *path, size_t n_parts,
                  const struct xfer_file_info *info)
{
	size_t total;
	if (x->role != XFER_SENDER || x->state != XFER_ST_NEW || check_parts(path, n_parts, &total))
		return -EINVAL;
	if (x->n_files >= XFER_MAX_FILES)
		return -EMSGSIZE;
	uint64_t size = info->is_dir ? 0 : info->size;
	if (size > XFER_MAX_FILE_SIZE || x->bytes_total + size > XFER_MAX_TOTAL_BYTES)
		return -EMSGSIZE;
	if (info->mtime_nsec >= 1000000000u)
		return -EINVAL;
	if (grow_files(x) < 0)
		return -ENOMEM;
	struct xfer_file *f = &x->files[x->n_files];
	memset(f, 0, sizeof(*f));
	f->parts = malloc(total);
	f->part_len = malloc(n_parts * sizeof(*f->part_len));
	if (!f->parts || !f->part_len) {
		free(f->parts);
		free(f->part_len);
		return -ENOMEM;
	}
	for (size_t i = 0, off = 0; i < n_parts; off += path[i].len, i++) {
		memcpy(f->parts + off, path[i].data, path[i].len);
		f->part_len[i] = (uint32_t)path[i].len;
	}
	f->n_parts = n_parts;
	f->is_dir = info->is_dir;
	f->size = size;
	f->mtime_sec = info->mtime_sec;
	f->mtime_nsec = info->mtime_nsec;
	f->mode = info->mode;
	if (info->sha256 && !info->is_dir) {
		f->has_offer_sha = f->has_sha = true;
		memcpy(f->offer_sha, info->sha256, XFER_SHA256_LEN);
		memcpy(f->sha, info->sha256, XFER_SHA256_LEN);
	}
	x->bytes_total += size;
	x->n_files++;
	return 0;
}

/* Fill a FileEntry view of f (no copies; parts must hold n_parts items). */
static void fill_entry(struct xfer_file *f, DevmsgPb__FileEntry *fe, ProtobufCBinaryData *parts)
{
	for (size_t i = 0, off = 0; i < f->n_parts; off += f->part_len[i], i++)
		parts[i] = (ProtobufCBinaryData){f->part_len[i], f->parts + off};
	fe->n_path = f->n_parts;
	fe->path = parts;
	fe->has_size = 1;
	fe->size = f->size;
	fe->has_mtime_sec = 1;
	fe->mtime_sec = f->mtime_sec;
	fe->has_mtime_nsec = f->mtime_nsec != 0;
	fe->mtime_nsec = f->mtime_nsec;
	fe->has_mode = 1;
	fe->mode = f->mode;
	/* On a re-offer the hash computed so far is known: send it. */
	fe->has_sha256 = f->has_sha;
	fe->sha256 = (ProtobufCBinaryData){XFER_SHA256_LEN, f->sha};
	fe->has_kind = f->is_dir;
	fe->kind = DEVMSG_PB__FILE_ENTRY__KIND__KIND_DIRECTORY;
}

/* How many files from `first` go into one batch. */
static size_t batch_size(const struct xfer *x, size_t first)
{
	size_t n = 0, bytes = 0;
	while (first + n < x->n_files && n < XFER_OFFER_BATCH_FILES) {
		const struct xfer_file *f = &x->files[first + n];
		size_t cost = 64 + f->n_parts * 4;
		for (size_t i = 0; i < f->n_parts; i++)
			cost += f->part_len[i];
		if (n > 0 && bytes + cost > XFER_OFFER_BATCH_BYTES)
			break;
		bytes += cost;
		n++;
	}
	return n;
}

static int send_batch(struct xfer *x, size_t first, size_t n, uint64_t now_ms, struct buf *out)
{
	DevmsgPb__FileEntry *entries = calloc(n, sizeof(*entries));
	DevmsgPb__FileEntry **ptrs = calloc(n, sizeof(*ptrs));
	size_t n_parts = 0;
	for (size_t i = 0; i < n; i++)
		n_parts += x->files[first + i].n_parts;
	ProtobufCBinaryData *parts = calloc(n_parts, sizeof(*parts));
	int r = -ENOMEM;
	if (entries && ptrs && parts) {
		for (size_t i = 0, p = 0; i < n; p += x->files[first + i].n_parts, i++) {
			entries[i] = (DevmsgPb__FileEntry)DEVMSG_PB__FILE_ENTRY__INIT;
			fill_entry(&x->files[first + i], &entries[i], parts + p);
			ptrs[i] = &entries[i];
		}
		DevmsgPb__FileTransferRequest o = DEVMSG_PB__FILE_TRANSFER_REQUEST__INIT;
		o.has_transfer_id = o.has_first_index = o.has_total_files = o.has_total_bytes = 1;
		o.transfer_id = xfer_pb_id(x);
		o.first_index = (uint32_t)first;
		o.n_files = n;
		o.files = ptrs;
		o.total_files = (uint32_t)x->n_files;
		o.total_bytes = x->bytes_total;
		r = xfer_emit(x, XFER_BODY(REQUEST), &o, now_ms, out);
	}
	free(parts);
	free(ptrs);
	free(entries);
	return r;
}

int xfer_offer(struct xfer *x, uint64_t now_ms, struct buf *out)
{
	if (x->role != XFER_SENDER || x->n_files == 0 ||
	    (x->state != XFER_ST_NEW && x->state != XFER_ST_INTERRUPTED))
		return -EINVAL;
	/* A hash known now is part of the offer: if the file's hash differs
	 * later, the file changed and xfer_set_sha256() says so. */
	for (size_t i = 0; i < x->n_files; i++) {
		struct xfer_file *f = &x->files[i];
		if (f->has_sha && !f->has_offer_sha) {
			f->has_offer_sha = true;
			memcpy(f->offer_sha, f->sha, XFER_SHA256_LEN);
		}
	}
	size_t before = out->len;
	for (size_t first = 0; first < x->n_files;) {
		size_t n = batch_size(x, first);
		int r = send_batch(x, first, n, now_ms, out);
		if (r < 0) {
			out->len = before;
			return r;
		}
		first += n;
	}
	x->state = XFER_ST_OFFERED;
	x->in_seg = false;
	return 0;
}

/* ---- receiver: the offer --------------------------------------------------- */

static int reject_offer(struct xfer *x, int err, DevmsgPb__FileTransferResponse__RejectReason why,
                        uint64_t now_ms, struct buf *out, struct errmsg *e, const char *fmt, ...)
        __attribute__((format(printf, 7, 8)));

static int send_reject(struct xfer *x, DevmsgPb__FileTransferResponse__RejectReason why,
                       const char *text, uint64_t now_ms, struct buf *out)
{
	DevmsgPb__FileTransferResponse resp = DEVMSG_PB__FILE_TRANSFER_RESPONSE__INIT;
	resp.has_transfer_id = resp.has_accepted = resp.has_reason = 1;
	resp.transfer_id = xfer_pb_id(x);
	resp.accepted = 0;
	resp.reason = why;
	resp.message = (char *)text;
	return xfer_emit(x, XFER_BODY(RESPONSE), &resp, now_ms, out);
}

/* The offer is unacceptable (not a lie about data: the answer is a Reject
 * saying why). */
static int reject_offer(struct xfer *x, int err, DevmsgPb__FileTransferResponse__RejectReason why,
                        uint64_t now_ms, struct buf *out, struct errmsg *e, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(x->err.text, sizeof(x->err.text), fmt, ap);
	va_end(ap);
	if (e)
		*e = x->err;
	(void)send_reject(x, why, x->err.text, now_ms, out);
	x->state = XFER_ST_REJECTED;
	return err;
}

#define INVALID_OFFER DEVMSG_PB__FILE_TRANSFER_RESPONSE__REJECT_REASON__REJECT_INVALID_OFFER
#define TOO_LARGE DEVMSG_PB__FILE_TRANSFER_RESPONSE__REJECT_REASON__REJECT_TOO_LARGE

/* Everything about one entry except its name. */
static const char *entry_problem(const DevmsgPb__FileEntry *fe, bool *ret_too_large)
{
	bool dir = fe->has_kind && fe->kind == DEVMSG_PB__FILE_ENTRY__KIND__KIND_DIRECTORY;
	*ret_too_large = false;
	if (fe->n_path == 0)
		return "has no name";
	if (fe->has_size && fe->size > XFER_MAX_FILE_SIZE) {
		*ret_too_large = true;
		return "is larger than the 1 PiB limit";
	}
	if (dir && fe->size != 0)
		return "is a directory with a size";
	if (fe->has_sha256 && (dir || fe->sha256.len != XFER_SHA256_LEN))
		return "has a SHA-256 that is not 32 bytes of a file";
	if (fe->mtime_nsec >= 1000000000u)
		return "has mtime nanoseconds over 999999999";
	return NULL;
}

static int add_entry(struct xfer *x, size_t idx, const DevmsgPb__FileEntry *fe, uint64_t now_ms,
                     struct buf *out, struct errmsg *e)
{
	bool too_large;
	const char *problem = entry_problem(fe, &too_large);
	if (problem)
		return reject_offer(x, too_large ? -EMSGSIZE : -EPROTO,
		                    too_large ? TOO_LARGE : INVALID_OFFER, now_ms, out, e,
		                    "offer: file %zu %s", idx, problem);
	struct xfer_part *parts = calloc(fe->n_path, sizeof(*parts));
	if (!parts || grow_files(x) < 0) {
		free(parts);
		return -ENOMEM;
	}
	for (size_t i = 0; i < fe->n_path; i++)
		parts[i] = (struct xfer_part){fe->path[i].data, fe->path[i].len};
	char *path = NULL;
	struct errmsg ne = {{0}};
	int r = xfer_sanitize_name(parts, fe->n_path, &path, &ne);
	free(parts);
	if (r == -ENAMETOOLONG)
		return reject_offer(x, -EPROTO, INVALID_OFFER, now_ms, out, e,
		                    "offer: file %zu: %s", idx, ne.text);
	if (r < 0)
		return r;
	x->name_bytes += strlen(path) + 1;
	if (x->name_bytes > XFER_MAX_NAME_BYTES) {
		free(path);
		return reject_offer(x, -EMSGSIZE, TOO_LARGE, now_ms, out, e,
		                    "offer: file names add up to more than %u bytes",
		                    XFER_MAX_NAME_BYTES);
	}
	struct xfer_file *f = &x->files[x->n_files++];
	memset(f, 0, sizeof(*f));
	f->path = path;
	f->is_dir = fe->has_kind && fe->kind == DEVMSG_PB__FILE_ENTRY__KIND__KIND_DIRECTORY;
	f->size = fe->size;
	f->mtime_sec = fe->mtime_sec;
	f->mtime_nsec = fe->mtime_nsec;
	f->mode = fe->mode & 0777; /* never setuid, setgid or sticky from a peer */
	if (fe->has_sha256) {
		f->has_offer_sha = true;
		memcpy(f->offer_sha, fe->sha256.data, XFER_SHA256_LEN);
	}
	return 0;
}

/* A re-offer after an interruption: same files (path, size, time, kind)
 * resume where the previous attempt's durable bytes ended. */
static void carry_over(struct xfer *x)
{
	for (size_t i = 0; i < x->n_files && i < x->n_prev; i++) {
		struct xfer_file *f = &x->files[i];
		const struct xfer_file *p = &x->prev[i];
		if (strcmp(f->path, p->path) != 0 || f->size != p->size || f->is_dir != p->is_dir ||
		    f->mtime_sec != p->mtime_sec || f->mtime_nsec != p->mtime_nsec)
			continue;
		f->verified = p->verified;
		f->start = p->verified ? p->size : p->durable;
	}
	xfer_files_free(x->prev, x->n_prev);
	x->prev = NULL;
	x->n_prev = 0;
}

/* Start collecting again after an interruption. */
static void restart_collection(struct xfer *x)
{
	xfer_files_free(x->prev, x->n_prev);
	x->prev = x->files;
	x->n_prev = x->n_files;
	x->files = NULL;
	x->n_files = x->cap_files = 0;
	x->offered = x->name_bytes = 0;
	x->bytes_total = x->bytes_done = x->bytes_resumed = x->bytes_durable = 0;
	x->n_verified = x->n_failed = 0;
	free(x->ready);
	x->ready = NULL;
	x->ready_head = x->ready_n = 0;
	x->state = XFER_ST_NEW;
}

static int check_batch_header(struct xfer *x, const DevmsgPb__FileTransferRequest *o,
                              uint64_t now_ms, struct buf *out, struct errmsg *e)
{
	uint32_t first = o->has_first_index ? o->first_index : 0;
	if (x->offered == 0) {
		if (!o->has_total_files || o->total_files == 0)
			return reject_offer(x, -EPROTO, INVALID_OFFER, now_ms, out, e,
			                    "offer: no files announced");
		if (o->total_files > XFER_MAX_FILES)
			return reject_offer(x, -EMSGSIZE, TOO_LARGE, now_ms, out, e,
			                    "offer: %u files, the limit is %d", o->total_files,
			                    XFER_MAX_FILES);
		x->total_files = o->total_files;
		x->total_bytes = o->total_bytes;
	} else if (o->total_files != x->total_files || o->total_bytes != x->total_bytes) {
		return reject_offer(x, -EPROTO, INVALID_OFFER, now_ms, out, e,
		                    "offer: batch totals differ from the first batch");
	}
	if (first != x->offered)
		return reject_offer(x, -EPROTO, INVALID_OFFER, now_ms, out, e,
		                    "offer: batch starts at file %u, expected %zu", first,
		                    x->offered);
	if (o->n_files == 0 || o->n_files > x->total_files - x->offered)
		return reject_offer(x, -EPROTO, INVALID_OFFER, now_ms, out, e,
		                    "offer: batch of %zu files does not fit %u announced",
		                    o->n_files, x->total_files);
	return 0;
}

static int offer_complete(struct xfer *x, uint64_t now_ms, struct buf *out, struct errmsg *e)
{
	uint64_t sum = 0;
	for (size_t i = 0; i < x->n_files; i++) {
		sum += x->files[i].size;
		if (sum > XFER_MAX_TOTAL_BYTES)
			return reject_offer(x, -EMSGSIZE, TOO_LARGE, now_ms, out, e,
			                    "offer: more than 4 PiB in total");
	}
	if (sum != x->total_bytes)
		return reject_offer(x, -EPROTO, INVALID_OFFER, now_ms, out, e,
		                    "offer: total_bytes says %llu, the files add up to %llu",
		                    (unsigned long long)x->total_bytes, (unsigned long long)sum);
	x->bytes_total = sum;
	carry_over(x);
	x->state = XFER_ST_OFFERED;
	return XFER_EV_OFFER;
}

int xfer_on_offer(struct xfer *x, const devmsg_pb *m, uint64_t now_ms, struct buf *out,
                  struct errmsg *e)
{
	const DevmsgPb__FileTransferRequest *o = m->file_transfer_request;
	if (x->state == XFER_ST_INTERRUPTED)
		restart_collection(x);
	if (x->state != XFER_ST_NEW)
		return xfer_unexpected(x, m, now_ms, out, e);
	int r = check_batch_header(x, o, now_ms, out, e);
	for (size_t i = 0; r == 0 && i < o->n_files; i++)
		r = add_entry(x, x->offered + i, o->files[i], now_ms, out, e);
	if (r < 0)
		return r;
	x->offered += o->n_files;
	if (x->offered < x->total_files)
		return XFER_EV_NONE;
	return offer_complete(x, now_ms, out, e);
}

int xfer_set_resume(struct xfer *x, size_t i, uint64_t offset, bool verified)
{
	if (x->role != XFER_RECEIVER || x->state != XFER_ST_OFFERED)
		return -EINVAL;
	if (i >= x->n_files || offset > x->files[i].size)
		return -ERANGE;
	if (verified && offset != x->files[i].size)
		return -EINVAL;
	x->files[i].start = offset;
	x->files[i].verified = verified;
	return 0;
}

int xfer_reject(struct xfer *x, DevmsgPb__FileTransferResponse__RejectReason reason,
                const char *text, uint64_t now_ms, struct buf *out)
{
	if (x->role != XFER_RECEIVER || x->state != XFER_ST_OFFERED)
		return -EINVAL;
	int r = send_reject(x, reason, text, now_ms, out);
	if (r == 0)
		x->state = XFER_ST_REJECTED;
	return r;
}

/* ---- receiver: accepting --------------------------------------------------- */

/* Where each file starts in this attempt; fills the resume list, dropping
 * entries beyond the list cap (those files restart at 0). */
static size_t plan_resume(struct xfer *x, uint32_t *ret_done, DevmsgPb__FileOffset *offs)
{
	size_t done = 0, n = 0;
	while (done < x->n_files && (x->files[done].verified || x->files[done].is_dir))
		done++;
	for (size_t i = 0; i < x->n_files; i++) {
		struct xfer_file *f = &x->files[i];
		if (f->is_dir) {
			f->verified = true;
			f->start = 0;
		}
		if (i < done || f->is_dir || (f->start == 0 && !f->verified))
			continue;
		if (n == DEVMSG_MAX_LIST) {
			f->start = 0;
			f->verified = false;
			continue;
		}
		offs[n] = (DevmsgPb__FileOffset)DEVMSG_PB__FILE_OFFSET__INIT;
		offs[n].has_index = offs[n].has_offset = 1;
		offs[n].index = (uint32_t)i;
		offs[n].offset = f->start;
		offs[n].has_verified = f->verified;
		offs[n].verified = f->verified;
		n++;
	}
	*ret_done = (uint32_t)done;
	return n;
}

/* Per-file counters for the attempt that starts now. */
static void begin_attempt(struct xfer *x, uint64_t now_ms)
{
	x->bytes_done = x->bytes_durable = 0;
	x->n_verified = x->n_failed = 0;
	x->ready_head = x->ready_n = 0;
	for (size_t i = 0; i < x->n_files; i++) {
		struct xfer_file *f = &x->files[i];
		if (f->verified)
			f->start = f->size;
		f->pos = f->durable = f->start;
		f->failed = f->queued = f->hash_sent = false;
		if (x->role == XFER_RECEIVER) {
			f->has_sha = f->has_offer_sha;
			memcpy(f->sha, f->offer_sha, XFER_SHA256_LEN);
		}
		x->bytes_done += f->pos;
		x->bytes_durable += f->durable;
		x->n_verified += f->verified;
	}
	x->bytes_resumed = x->bytes_done;
	x->cur = 0;
	x->in_seg = false;
	x->seg_left = 0;
	x->state = XFER_ST_TRANSFERRING;
	xfer_samples_reset(x, now_ms);
}

int xfer_accept(struct xfer *x, uint64_t now_ms, struct buf *out)
{
	if (x->role != XFER_RECEIVER || x->state != XFER_ST_OFFERED)
		return -EINVAL;
	uint32_t *ready = calloc(x->n_files, sizeof(*ready));
	DevmsgPb__FileOffset *offs = calloc(DEVMSG_MAX_LIST, sizeof(*offs));
	DevmsgPb__FileOffset **ptrs = calloc(DEVMSG_MAX_LIST, sizeof(*ptrs));
	int r = -ENOMEM;
	if (ready && offs && ptrs) {
		DevmsgPb__FileTransferResponse resp = DEVMSG_PB__FILE_TRANSFER_RESPONSE__INIT;
		resp.has_transfer_id = resp.has_accepted = resp.has_files_done = 1;
		resp.transfer_id = xfer_pb_id(x);
		resp.accepted = 1;
		resp.n_resume = plan_resume(x, &resp.files_done, offs);
		for (size_t i = 0; i < resp.n_resume; i++)
			ptrs[i] = &offs[i];
		resp.resume = ptrs;
		r = xfer_emit(x, XFER_BODY(RESPONSE), &resp, now_ms, out);
	}
	free(offs);
	free(ptrs);
	if (r < 0) {
		free(ready);
		return r;
	}
	free(x->ready);
	x->ready = ready;
	begin_attempt(x, now_ms);
	/* Files already complete whose hash came with the offer. */
	for (size_t i = 0; i < x->n_files; i++)
		if (!x->files[i].verified && x->files[i].pos == x->files[i].size &&
		    x->files[i].has_sha)
			xfer_enqueue_ready(x, i);
	return xfer_maybe_finish(x, now_ms, out);
}

/* ---- sender: the answer ---------------------------------------------------- */

static int apply_resume(struct xfer *x, const DevmsgPb__FileOffset *o, uint32_t done,
                        uint64_t now_ms, struct buf *out, struct errmsg *e)
{
	uint32_t i = o->index;
	if (i >= x->n_files)
		return xfer_fail(x, now_ms, out, e, "Accept resumes file %u, the offer has %zu", i,
		                 x->n_files);
	struct xfer_file *f = &x->files[i];
	if (i < done || f->queued)
		return xfer_fail(x, now_ms, out, e, "Accept names file %u twice", i);
	if (o->offset > f->size)
		return xfer_fail(x, now_ms, out, e,
		                 "Accept resumes file %u at %llu, beyond its size %llu", i,
		                 (unsigned long long)o->offset, (unsigned long long)f->size);
	if (o->verified && o->offset != f->size)
		return xfer_fail(x, now_ms, out, e,
		                 "Accept says file %u is verified at %llu of %llu", i,
		                 (unsigned long long)o->offset, (unsigned long long)f->size);
	f->queued = true; /* seen; cleared by begin_attempt */
	f->start = o->offset;
	f->verified = o->verified;
	return 0;
}

int xfer_on_response(struct xfer *x, const devmsg_pb *m, uint64_t now_ms, struct buf *out,
                     struct errmsg *e)
{
	const DevmsgPb__FileTransferResponse *r = m->file_transfer_response;
	if (x->state != XFER_ST_OFFERED)
		return xfer_unexpected(x, m, now_ms, out, e);
	if (!r->has_accepted || !r->accepted) {
		xfer_store_peer_reason(x, r->has_reason ? (int)r->reason : 0, r->message);
		snprintf(x->err.text, sizeof(x->err.text), "rejected: %s",
		         r->message ? r->message : "no reason given");
		x->state = XFER_ST_REJECTED;
		return XFER_EV_REJECTED;
	}
	uint32_t done = r->files_done;
	if (done > x->n_files)
		return xfer_fail(x, now_ms, out, e,
		                 "Accept says %u files are done, the offer has %zu", done,
		                 x->n_files);
	for (size_t i = 0; i < x->n_files; i++) {
		struct xfer_file *f = &x->files[i];
		f->verified = i < done || f->is_dir;
		f->start = i < done ? f->size : 0;
		f->queued = false;
	}
	for (size_t k = 0; k < r->n_resume; k++) {
		int rr = apply_resume(x, r->resume[k], done, now_ms, out, e);
		if (rr < 0)
			return rr;
	}
	begin_attempt(x, now_ms);
	xfer_check_all_sent(x);
	return XFER_EV_ACCEPTED;
}
