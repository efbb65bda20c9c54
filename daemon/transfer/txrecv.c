/* The receiving side of a transfer: decide on an offer (accept a Trusted
 * device's at once, or wait for the user; resume a transfer known from its
 * state record), write the data stream into .part files, make progress
 * durable at checkpoints on the worker thread, verify every file's SHA-256
 * and rename it into place, and answer with Verify once everything is on
 * disk. A full disk pauses the transfer (Cancel, resumable) and keeps what
 * was received. */
#include "transfers-internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "atomicfile.h"
#include "devices/devices.h"
#include "hex.h"
#include "log.h"
#include "net/stream.h"
#include "txdone.h"
#include "txsink.h"
#include "txsrc.h"
#include "txworker.h"

#define SD_BODY(x) DEVMSG_PB__DEVICE_MESSAGE__BODY_SPACEDROP_##x

static void verify_file(struct tx *t, size_t i, const uint8_t sha[32]);
static void finish(struct tx *t);
static void checkpoint(struct tx *t);

/* ---- the index of unfinished incoming transfers ---------------------------------- */

static char *index_path(const struct tx *t)
{
	char *p = NULL;
	return asprintf(&p, "%s/transfers/in-%s.json", t->svc->data_dir, t->idhex) < 0 ? NULL : p;
}

static void write_index(struct tx *t)
{
	struct buf b = BUF_INIT;
	char *path = index_path(t);
	struct errmsg e = {{0}};
	if (path && txrec_encode_index(t->dest, &b) == 0 &&
	    atomicfile_write(path, b.data, b.len, 0600, &e) < 0)
		log_warning("transfer %.8s: %s; it may not resume after a restart", t->idhex,
		            e.text);
	free(path);
	buf_free(&b);
}

/* The destination recorded for this transfer, or NULL. */
static char *read_index(struct tx *t)
{
	char *path = index_path(t), *dest = NULL;
	void *data = NULL;
	size_t len = 0;
	if (path && atomicfile_read(path, 4096, &data, &len, NULL) == 0)
		txrec_decode_index(data, len, &dest, NULL);
	free(data);
	free(path);
	return dest;
}

void txrecv_cleanup(struct tx *t)
{
	if (t->sink)
		txsink_remove(t->sink);
	char *path = index_path(t);
	if (path)
		unlink(path);
	free(path);
}

void txrecv_free(struct tx *t)
{
	txsink_free(t->sink);
	t->sink = NULL;
}

/* ---- ending ----------------------------------------------------------------------- */

static void end(struct tx *t, enum tx_state s, const char *why, bool cleanup)
{
	if (cleanup)
		txrecv_cleanup(t);
	txwire_flush_ctl(t);
	txwire_drop_all(t, true);
	tx_set_state(t, s, why);
}

/* Our own failure (disk, names): tell the sender and clean up. */
static void io_failure(struct tx *t, const char *text)
{
	tx_error(t, "%s", text);
	if (xfer_cancel(t->x, DEVMSG_PB__FILE_TRANSFER_CANCEL__REASON__CANCEL_IO_ERROR, text, false,
	                tx_now_ms(), &t->ctl_out) == 0)
		txwire_flush_ctl(t);
	end(t, TX_FAILED, "I/O error", true);
}

static uint64_t free_bytes(const char *dir)
{
	struct statvfs sv;
	if (statvfs(dir, &sv) < 0)
		return UINT64_MAX;
	return (uint64_t)sv.f_bavail * sv.f_frsize;
}

static uint64_t remaining_bytes(const struct tx *t)
{
	uint64_t left = 0;
	for (size_t i = 0; i < xfer_file_count(t->x); i++) {
		const struct xfer_file *f = xfer_file(t->x, i);
		if (!f->is_dir && !f->verified)
			left += f->size - (f->start < f->size ? f->start : f->size);
	}
	return left;
}

/* Disk full: pause (resumable Cancel), keep the parts, sync what we have. */
static void pause_full(struct tx *t)
{
	char text[ERRMSG_MAX];
	snprintf(text, sizeof(text),
	         "the disk holding %s is full (%llu bytes free, %llu more needed); the "
	         "transfer resumes when there is room",
	         t->dest, (unsigned long long)free_bytes(t->dest),
	         (unsigned long long)remaining_bytes(t));
	tx_error(t, "%s", text);
	if (xfer_cancel(t->x, DEVMSG_PB__FILE_TRANSFER_CANCEL__REASON__CANCEL_DISK_FULL, text, true,
	                tx_now_ms(), &t->ctl_out) == 0)
		txwire_flush_ctl(t);
	txwire_drop(t->data, false);
	tx_set_state(t, TX_PAUSED, "disk full");
	checkpoint(t);
}

/* ---- checkpoints (worker thread) ----------------------------------------------------- */

struct ckpt_item {
	size_t idx;
	int fd;
	uint64_t off;
};

struct ckpt_job {
	struct transfers *svc;
	bool synced; /* the data is on disk (even if the record could not be written) */
	uint8_t id[XFER_ID_LEN];
	uint64_t attempt;
	struct ckpt_item *items;
	size_t n;
	int sync_fd; /* syncfs() on it, or -1 */
	char *record_path;
	struct buf record;
	bool final;
	int result;
	struct errmsg err;
};

static void ckpt_free(struct ckpt_job *j)
{
	for (size_t k = 0; k < j->n; k++)
		close(j->items[k].fd);
	if (j->sync_fd >= 0)
		close(j->sync_fd);
	free(j->items);
	free(j->record_path);
	buf_free(&j->record);
	free(j);
}

static void ckpt_run(void *arg)
{
	struct ckpt_job *j = arg;
	for (size_t k = 0; k < j->n && j->result == 0; k++)
		if (fdatasync(j->items[k].fd) < 0)
			j->result = errmsg_set(&j->err, -errno, "cannot flush a received file: %s",
			                       strerror(errno));
	if (j->result == 0 && j->sync_fd >= 0 && syncfs(j->sync_fd) < 0)
		j->result = errmsg_set(&j->err, -errno, "cannot flush received files: %s",
		                       strerror(errno));
	j->synced = j->result == 0;
	if (j->result == 0 && j->record_path)
		j->result = atomicfile_write(j->record_path, j->record.data, j->record.len, 0600,
		                             &j->err);
}

static void ckpt_apply(struct tx *t, struct ckpt_job *j)
{
	for (size_t k = 0; k < j->n; k++)
		(void)xfer_durable(t->x, j->items[k].idx, j->items[k].off);
	t->svc->stats.checkpoints++;
	if (xfer_state(t->x) == XFER_ST_TRANSFERRING &&
	    xfer_send_progress(t->x, tx_now_ms(), &t->ctl_out) == 0)
		txwire_flush_ctl(t);
}

static void ckpt_done(void *arg, void *ctx)
{
	struct ckpt_job *j = arg;
	struct tx *t = tx_find(j->svc, j->id);
	if (t && !j->final) {
		t->ckpt_running = false;
		/* Synced data counts for a resume in this process even when the
		 * record could not be written (a full disk): a restart falls back
		 * to the older record, which is still true. */
		if (j->synced && j->attempt == t->attempt)
			ckpt_apply(t, j);
		if (j->result == -ENOSPC && t->state == TX_TRANSFERRING)
			pause_full(t);
		else if (j->result < 0 && j->result != -ENOSPC)
			log_warning("transfer %.8s: checkpoint failed: %s", t->idhex, j->err.text);
		if (t->ckpt_again && !j->svc->freeing) {
			t->ckpt_again = false;
			checkpoint(t);
		}
	} else if (t && j->final) {
		finish(t); /* the second half, now that everything is on disk */
	}
	ckpt_free(j);
}

/* The record as of this checkpoint: the offsets being synced now. */
static int build_record(struct tx *t, const struct ckpt_job *j, struct buf *out)
{
	struct txrec r = {0};
	memcpy(r.transfer_id, t->idhex, sizeof(r.transfer_id));
	r.peer_id = t->peer_text;
	r.device_id = t->device_id;
	r.spacedrop = t->spacedrop;
	r.dest = t->dest;
	r.created_ms = (int64_t)t->created_wall_ms;
	r.n_files = xfer_file_count(t->x);
	r.files = calloc(r.n_files, sizeof(*r.files));
	if (!r.files)
		return -ENOMEM;
	for (size_t i = 0; i < r.n_files; i++) {
		const struct xfer_file *f = xfer_file(t->x, i);
		struct txrec_file *rf = &r.files[i];
		*rf = (struct txrec_file){.path = f->path,
		                          .final = t->sink->f[i].final,
		                          .size = f->size,
		                          .mtime_sec = f->mtime_sec,
		                          .mtime_nsec = f->mtime_nsec,
		                          .mode = f->mode,
		                          .dir = f->is_dir,
		                          .durable = f->failed ? 0 : f->durable,
		                          .verified = f->verified && !f->is_dir};
		r.total_bytes += f->size;
	}
	for (size_t k = 0; k < j->n; k++)
		r.files[j->items[k].idx].durable = j->items[k].off;
	int rc = txrec_encode_in(&r, out);
	free(r.files);
	return rc;
}

static struct ckpt_job *ckpt_new(struct tx *t, bool final)
{
	struct ckpt_job *j = calloc(1, sizeof(*j));
	if (!j)
		return NULL;
	j->svc = t->svc;
	memcpy(j->id, t->id, XFER_ID_LEN);
	j->attempt = t->attempt;
	j->final = final;
	j->sync_fd = -1;
	return j;
}

static int ckpt_snapshot(struct tx *t, struct ckpt_job *j)
{
	struct txsink *s = t->sink;
	j->items = calloc(s->n ? s->n : 1, sizeof(*j->items));
	if (!j->items)
		return -ENOMEM;
	for (size_t i = 0; i < s->n; i++) {
		const struct xfer_file *f = xfer_file(t->x, i);
		if (s->f[i].fd < 0 || f->verified || s->f[i].end <= f->durable ||
		    s->f[i].end > f->pos)
			continue;
		int fd = dup(s->f[i].fd);
		if (fd < 0)
			return -errno;
		j->items[j->n++] = (struct ckpt_item){i, fd, s->f[i].end};
	}
	if (s->closed_dirty) {
		j->sync_fd = dup(s->stage_fd);
		s->closed_dirty = false;
	}
	if (asprintf(&j->record_path, "%s/%s", s->stage, TXSINK_RECORD) < 0) {
		j->record_path = NULL;
		return -ENOMEM;
	}
	return build_record(t, j, &j->record);
}

static void checkpoint(struct tx *t)
{
	if (!t->sink || t->finishing || t->svc->freeing)
		return;
	if (t->ckpt_running) {
		t->ckpt_again = true;
		return;
	}
	struct ckpt_job *j = ckpt_new(t, false);
	int r = j ? ckpt_snapshot(t, j) : -ENOMEM;
	if (r == 0)
		r = txworker_submit(t->svc->worker, ckpt_run, ckpt_done, j, NULL);
	if (r < 0) {
		if (j)
			ckpt_free(j);
		return;
	}
	t->ckpt_running = true;
	t->unsynced = 0;
	t->ckpt_first_ms = 0;
}

/* ---- verifying ------------------------------------------------------------------------- */

struct hash_part_job {
	struct transfers *svc;
	uint8_t id[XFER_ID_LEN];
	uint64_t attempt;
	size_t idx;
	char *path;
	uint64_t size;
	uint8_t sha[32];
	int result;
	struct errmsg err;
};

static void hash_part_run(void *arg)
{
	struct hash_part_job *j = arg;
	j->result = txsrc_hash_file(j->path, false, j->size, j->sha, &j->err);
}

static void hash_part_done(void *arg, void *ctx)
{
	struct hash_part_job *j = arg;
	struct tx *t = tx_find(j->svc, j->id);
	if (t && t->attempt == j->attempt && xfer_state(t->x) == XFER_ST_TRANSFERRING &&
	    !j->svc->freeing) {
		if (j->result < 0)
			io_failure(t, j->err.text);
		else
			verify_file(t, j->idx, j->sha);
		txwire_flush_ctl(t);
	}
	free(j->path);
	free(j);
}

/* A resumed file: its hash must come from the whole .part, on the worker. */
static void hash_part(struct tx *t, size_t i)
{
	struct hash_part_job *j = calloc(1, sizeof(*j));
	if (!j || txsink_part_path(t->sink, i, &j->path) < 0) {
		free(j);
		return io_failure(t, "out of memory");
	}
	j->svc = t->svc;
	memcpy(j->id, t->id, XFER_ID_LEN);
	j->attempt = t->attempt;
	j->idx = i;
	j->size = xfer_file(t->x, i)->size;
	if (txworker_submit(t->svc->worker, hash_part_run, hash_part_done, j, NULL) < 0) {
		free(j->path);
		free(j);
		io_failure(t, "out of memory");
	}
}

static void drain_ready(struct tx *t)
{
	size_t i;
	while (!tx_state_final(t->state) && xfer_state(t->x) == XFER_ST_TRANSFERRING &&
	       xfer_next_ready(t->x, &i) == 0) {
		uint8_t sha[32];
		int r = txsink_digest(t->sink, i, xfer_file(t->x, i)->size, sha);
		if (r == -EAGAIN)
			hash_part(t, i);
		else if (r < 0)
			io_failure(t, "cannot hash a received file");
		else
			verify_file(t, i, sha);
	}
}

static void verify_file(struct tx *t, size_t i, const uint8_t sha[32])
{
	struct errmsg e = {{0}};
	int r = xfer_verified(t->x, i, sha, tx_now_ms(), &t->ctl_out, &e);
	if (r == 0) {
		r = txsink_place(t->sink, i, xfer_file(t->x, i), &e);
		if (r < 0)
			return io_failure(t, e.text);
	} else if (r == -EBADMSG) {
		txsink_discard(t->sink, i);
		tx_error(t, "%s; the file was deleted", e.text);
	} else if (r < 0) {
		return io_failure(t, "cannot verify a received file");
	}
	if (xfer_state(t->x) == XFER_ST_DONE || xfer_state(t->x) == XFER_ST_FAILED)
		finish(t);
}

/* Before the index goes: a sender that misses our Verify offers this id
 * again, maybe after a restart of either side; it must not land twice. */
static void remember_done(struct tx *t)
{
	struct errmsg e = {{0}};
	if (t->svc->done && txdone_add(t->svc->done, t->idhex, t->peer_text, &e) < 0)
		log_warning("transfer %.8s: %s; if it is offered again it would be received twice",
		            t->idhex, e.text);
}

static bool is_done(struct transfers *svc, const char *idhex, const char *peer_text)
{
	return svc->done && txdone_has(svc->done, idhex, peer_text);
}

/* A re-offer of a transfer that completed here: every file is verified,
 * so the Accept says all are done and the Verify follows at once. The
 * sender finishes; nothing is written. */
static void already_complete(struct tx *t)
{
	for (size_t i = 0; i < xfer_file_count(t->x); i++)
		if (!xfer_file(t->x, i)->is_dir)
			(void)xfer_set_resume(t->x, i, xfer_file(t->x, i)->size, true);
	log_info("transfer %.8s from %s: offered again after it completed here; answered "
	         "already complete",
	         t->idhex, t->peer_name ? t->peer_name : t->peer_text);
	t->pending = false;
	t->attempts++;
	if (xfer_accept(t->x, tx_now_ms(), &t->ctl_out) < 0 || xfer_state(t->x) != XFER_ST_DONE) {
		tx_error(t, "cannot answer a re-offer of a completed transfer");
		return end(t, TX_FAILED, "re-offer", false);
	}
	snprintf(t->error, sizeof(t->error), "already complete");
	end(t, TX_COMPLETED, "already complete", false);
}

/* Every file is decided and Verify is queued: first make everything
 * durable (final sync on the worker), then send it and clean up. */
static void finish(struct tx *t)
{
	if (!t->finishing) {
		t->finishing = true;
		t->ctl_hold = true;
		txsink_finish_dirs(t->sink, t->x);
		tx_set_state(t, TX_VERIFYING, "final sync");
		struct ckpt_job *j = ckpt_new(t, true);
		if (j) {
			j->items = NULL;
			j->sync_fd = dup(t->sink->stage_fd);
			if (txworker_submit(t->svc->worker, ckpt_run, ckpt_done, j, NULL) == 0)
				return;
			ckpt_free(j);
		}
	}
	t->finishing = false;
	t->ctl_hold = false;
	bool ok = xfer_state(t->x) == XFER_ST_DONE;
	if (!ok && !t->error[0])
		tx_error(t, "%s", xfer_error(t->x));
	if (ok)
		remember_done(t);
	end(t, ok ? TX_COMPLETED : TX_FAILED, ok ? "verified" : "verification failed", true);
}

/* ---- data ---------------------------------------------------------------------------- */

long txrecv_data(struct tx *t, const uint8_t *p, size_t len)
{
	size_t used = 0;
	uint64_t now = tx_now_ms();
	while (used < len && xfer_state(t->x) == XFER_ST_TRANSFERRING && !t->finishing) {
		struct xfer_span sp;
		struct errmsg e = {{0}};
		long n = xfer_data_feed(t->x, p + used, len - used, now, &sp, &t->ctl_out, &e);
		if (n == 0)
			break;
		if (n < 0) {
			tx_error(t, "the sender broke the protocol: %s", e.text);
			end(t, TX_FAILED, "protocol error", true);
			return -1;
		}
		if (sp.len) {
			int r = txsink_write(t->sink, sp.file, sp.offset, sp.data, (size_t)sp.len,
			                     &e);
			if (r == -ENOSPC) {
				pause_full(t);
				return -1;
			}
			if (r < 0) {
				io_failure(t, e.text);
				return -1;
			}
			t->bytes_attempt += sp.len;
			t->bytes_moved += sp.len;
			t->svc->stats.bytes_received += sp.len;
			t->unsynced += sp.len;
			if (!t->ckpt_first_ms)
				t->ckpt_first_ms = now;
			const struct xfer_file *f = xfer_file(t->x, sp.file);
			if (f->pos == f->size)
				drain_ready(t);
		}
		used += (size_t)n;
	}
	if (t->unsynced >= TX_CKPT_BYTES)
		checkpoint(t);
	txwire_flush_ctl(t);
	tx_progress_event(t, false);
	return (long)used;
}

/* ---- the offer ---------------------------------------------------------------------------- */

static void keep_names(struct tx *t)
{
	if (t->n_names)
		return;
	t->names = calloc(TX_REQUEST_NAMES, sizeof(*t->names));
	for (size_t i = 0; t->names && i < xfer_file_count(t->x) && t->n_names < TX_REQUEST_NAMES;
	     i++) {
		const char *p = xfer_file(t->x, i)->path;
		if (!strchr(p, '/'))
			t->names[t->n_names++] = strdup(p);
	}
}

static void wait_for_user(struct tx *t)
{
	t->pending = true;
	t->expires_mono_ms = tx_now_ms() + t->svc->cfg.request_timeout_ms;
	tx_arm_timer(t, t->svc->cfg.request_timeout_ms);
	tx_set_state(t, TX_PENDING, "waiting for the user");
	json_t *d = tx_json(t);
	tx_emit(t->svc, "spacedrop.request", d);
	json_decref(d);
	log_info("transfer %.8s: %s wants to send %zu file(s); 'network spacedrop accept %.8s' "
	         "or 'reject'",
	         t->idhex, t->peer_name ? t->peer_name : t->peer_text, xfer_file_count(t->x),
	         t->idhex);
}

/* Resume from the state record: durable offsets of files that still match. */
static void resume_from(struct tx *t, const struct txrec *rec)
{
	for (size_t i = 0; i < xfer_file_count(t->x) && i < rec->n_files; i++) {
		const struct xfer_file *f = xfer_file(t->x, i);
		const struct txrec_file *rf = &rec->files[i];
		if (f->is_dir || strcmp(rf->path, f->path) != 0 || rf->size != f->size ||
		    rf->mtime_sec != f->mtime_sec || rf->mtime_nsec != f->mtime_nsec)
			continue;
		uint64_t part = txsink_part_size(t->sink, i);
		if (rf->verified || (part == 0 && txsink_final_matches(t->sink, i, f)))
			(void)xfer_set_resume(t->x, i, f->size, true);
		else
			(void)xfer_set_resume(t->x, i, rf->durable < part ? rf->durable : part,
			                      false);
	}
}

/* A transfer we accepted before this process started: its record. */
static int reopen(struct tx *t, const char *dest)
{
	struct errmsg e = {{0}};
	struct txrec rec = {0};
	int r = txsink_open(dest, t->idhex, &t->sink, &e);
	if (r == 0)
		r = txsink_load_record(t->sink, &rec, &e);
	if (r == 0 && strcmp(rec.peer_id, t->peer_text) != 0)
		r = -EPERM;
	if (r == 0)
		r = txsink_plan(t->sink, t->x, &rec, &e);
	if (r == 0) {
		resume_from(t, &rec);
		t->resumed_from_record = true;
		t->spacedrop = rec.spacedrop;
	}
	txrec_clear(&rec);
	if (r < 0) {
		log_info("transfer %.8s: its state record in %s cannot be used (%s); starting over",
		         t->idhex, dest, e.text[0] ? e.text : strerror(-r));
		txsink_free(t->sink);
		t->sink = NULL;
	}
	return r;
}

static bool needs_consent(struct tx *t)
{
	if (t->spacedrop || !t->device_id[0] || !t->svc->cfg.auto_accept)
		return true;
	const struct device *d =
	        t->svc->cfg.devices ? devices_find_id(t->svc->cfg.devices, t->device_id) : NULL;
	return !d || d->trust != DEVICE_TRUSTED;
}

static void on_offer(struct tx *t)
{
	keep_names(t);
	struct errmsg e = {{0}};
	if (t->sink) {
		/* The same transfer again in this process (link cut, disk full). */
		if (t->sink->n != xfer_file_count(t->x)) {
			xfer_reject(
			        t->x,
			        DEVMSG_PB__FILE_TRANSFER_RESPONSE__REJECT_REASON__REJECT_INVALID_OFFER,
			        "the re-offer names other files", tx_now_ms(), &t->ctl_out);
			tx_error(t, "the sender offered other files under the same transfer id");
			return end(t, TX_REJECTED, "changed offer", true);
		}
		if (free_bytes(t->dest) < remaining_bytes(t))
			return pause_full(t);
		if (txrecv_accept(t, NULL, &e) < 0 && !tx_state_final(t->state))
			io_failure(t, e.text);
		return;
	}
	char *dest = read_index(t);
	if (!dest && is_done(t->svc, t->idhex, t->peer_text))
		return already_complete(t);
	if (dest && reopen(t, dest) == 0) {
		free(t->dest);
		t->dest = dest;
		if (txrecv_accept(t, NULL, &e) < 0 && !tx_state_final(t->state))
			io_failure(t, e.text);
		return;
	}
	free(dest);
	if (needs_consent(t))
		return wait_for_user(t);
	if (txrecv_accept(t, NULL, &e) < 0 && !tx_state_final(t->state))
		io_failure(t, e.text);
}

void txrecv_on_event(struct tx *t, int ev)
{
	const char *text = "";
	switch (ev) {
	case XFER_EV_OFFER:
		return on_offer(t);
	case XFER_EV_HASHES:
		return drain_ready(t);
	case XFER_EV_CANCELLED:
		xfer_reject_reason(t->x, &text);
		tx_error(t, "cancelled by %s%s%s", t->peer_name ? t->peer_name : t->peer_text,
		         text && *text ? ": " : "", text ? text : "");
		return end(t, TX_CANCELLED, "cancelled by the sender", true);
	case XFER_EV_PAUSED:
		return txrecv_interrupted(t, "paused by the sender");
	default:
		return;
	}
}

/* ---- answering ------------------------------------------------------------------------------ */

static void queue_sd_response(struct tx *t, bool ok, const char *text)
{
	DevmsgPb__SpacedropResponse a = DEVMSG_PB__SPACEDROP_RESPONSE__INIT;
	a.has_transfer_id = a.has_accepted = 1;
	a.transfer_id = (ProtobufCBinaryData){XFER_ID_LEN, t->id};
	a.accepted = ok;
	a.message = (char *)text;
	devmsg_pb m = DEVMSG_PB__DEVICE_MESSAGE__INIT;
	m.body_case = SD_BODY(RESPONSE);
	m.spacedrop_response = &a;
	txwire_queue_msg(t, &m);
}

static int check_dir(const char *dir, struct errmsg *err)
{
	if (dir[0] != '/')
		return errmsg_set(err, -EINVAL, "%s is not an absolute path", dir);
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return errmsg_set(err, -errno, "cannot use %s: %s", dir, strerror(errno));
	int r = faccessat(fd, ".", W_OK, AT_EACCESS) < 0 ? -errno : 0;
	close(fd);
	return r < 0 ? errmsg_set(err, r, "cannot write to %s: %s", dir, strerror(-r)) : 0;
}

/* Open the sink and choose names for a transfer accepted for the first
 * time in this process. */
static int prepare(struct tx *t, const char *dir, struct errmsg *err)
{
	if (t->sink)
		return 0;
	const char *dest = dir ? dir : t->svc->receive_dir;
	int r = check_dir(dest, err);
	if (r == 0)
		r = txsink_open(dest, t->idhex, &t->sink, err);
	if (r == 0)
		r = txsink_plan(t->sink, t->x, NULL, err);
	if (r == 0 && !(t->dest = strdup(dest)))
		r = -ENOMEM;
	return r;
}

int txrecv_accept(struct tx *t, const char *dir, struct errmsg *err)
{
	int r = prepare(t, dir, err);
	if (r < 0)
		return r; /* still pending: the user may name another directory */
	if (t->spacedrop && t->pending)
		queue_sd_response(t, true, NULL);
	r = xfer_accept(t->x, tx_now_ms(), &t->ctl_out);
	if (r == 0)
		r = txsink_begin(t->sink, t->x, err);
	if (r < 0) {
		if (!err->text[0])
			errmsg_set(err, r, "cannot accept: %s", strerror(-r));
		io_failure(t, err->text);
		return r;
	}
	/* Written (again) at every accept: its age says when the sender was
	 * last here (txrecv_forget_stale). */
	write_index(t);
	t->pending = false;
	tx_disarm_timer(t);
	t->bytes_attempt = 0;
	t->attempts++;
	t->error[0] = '\0';
	if (!t->attempt)
		t->attempt = 1;
	tx_set_state(t, TX_TRANSFERRING, "accepted");
	checkpoint(t); /* the record exists from the start */
	drain_ready(t);
	if (xfer_state(t->x) == XFER_ST_DONE || xfer_state(t->x) == XFER_ST_FAILED)
		finish(t);
	txwire_flush_ctl(t);
	return 0;
}

int txrecv_reject(struct tx *t, bool expired, struct errmsg *err)
{
	const char *text = expired ? "the request expired" : "declined";
	if (t->spacedrop)
		queue_sd_response(t, false, text);
	int r = xfer_reject(
	        t->x,
	        expired ? DEVMSG_PB__FILE_TRANSFER_RESPONSE__REJECT_REASON__REJECT_EXPIRED
	                : DEVMSG_PB__FILE_TRANSFER_RESPONSE__REJECT_REASON__REJECT_DECLINED,
	        text, tx_now_ms(), &t->ctl_out);
	if (r < 0 && err)
		errmsg_set(err, r, "cannot answer transfer %s now", t->idhex);
	tx_error(t, "%s", expired ? "nobody answered; the request expired" : "declined here");
	t->pending = false;
	end(t, expired ? TX_EXPIRED : TX_REJECTED, text, false);
	return 0;
}

/* ---- streams and time -------------------------------------------------------------------- */

void txrecv_spacedrop_request(struct tx *t, const devmsg_pb *m)
{
	const DevmsgPb__SpacedropRequest *q = m->spacedrop_request;
	t->spacedrop = true;
	char *name = tx_clean_text(q->sender_name, PAIRING_NAME_MAX);
	if (name && *name && !t->device_id[0]) {
		free(t->peer_name);
		t->peer_name = name;
	} else {
		free(name);
	}
	free(t->message);
	t->message =
	        q->message && *q->message ? tx_clean_text(q->message, TRANSFERS_MESSAGE_MAX) : NULL;
}

void txrecv_interrupted(struct tx *t, const char *why)
{
	if (tx_state_final(t->state))
		return;
	if (t->pending) {
		tx_error(t, "the sender went away before an answer");
		t->pending = false;
		return end(t, TX_CANCELLED, why, false);
	}
	xfer_interrupt(t->x);
	txwire_drop_all(t, false);
	if (t->state != TX_PAUSED) {
		snprintf(t->error, sizeof(t->error), "interrupted: %s", why);
		tx_set_state(t, TX_INTERRUPTED, why);
	}
	checkpoint(t);
}

void txrecv_tick(struct tx *t, uint64_t now)
{
	if (t->pending && now >= t->expires_mono_ms) {
		txrecv_reject(t, true, NULL);
		return;
	}
	if (t->state == TX_TRANSFERRING && t->unsynced && now - t->ckpt_first_ms >= TX_CKPT_MS)
		checkpoint(t);
}

/* ---- start-up: partial transfers nobody came back for -------------------------------- */

static void forget_stale(struct transfers *svc, const char *dir, const char *name, uint64_t now_s)
{
	char *path = NULL;
	if (asprintf(&path, "%s/%s", dir, name) < 0)
		return;
	struct stat st;
	void *data = NULL;
	size_t len = 0;
	char *dest = NULL;
	if (stat(path, &st) == 0 && now_s - (uint64_t)st.st_mtime > TX_STALE_S &&
	    atomicfile_read(path, 4096, &data, &len, NULL) == 0 &&
	    txrec_decode_index(data, len, &dest, NULL) == 0) {
		char idhex[2 * XFER_ID_LEN + 1];
		snprintf(idhex, sizeof(idhex), "%.*s", 2 * XFER_ID_LEN, name + 3);
		struct txsink *sink = NULL;
		if (txsink_open(dest, idhex, &sink, NULL) == 0) {
			txsink_remove(sink);
			txsink_free(sink);
		}
		log_info(
		        "removed the partial files of transfer %.8s in %s: its sender did not come "
		        "back for %d days",
		        idhex, dest, TX_STALE_S / 86400);
		unlink(path);
	}
	free(dest);
	free(data);
	free(path);
}

void txrecv_forget_stale(struct transfers *svc)
{
	char *dir = NULL;
	if (asprintf(&dir, "%s/transfers", svc->data_dir) < 0)
		return;
	DIR *d = opendir(dir);
	struct dirent *de;
	uint64_t now_s = tx_wall_ms() / 1000;
	while (d && (de = readdir(d))) {
		size_t len = strlen(de->d_name);
		if (len == 3 + 2 * XFER_ID_LEN + 5 && strncmp(de->d_name, "in-", 3) == 0 &&
		    strcmp(de->d_name + len - 5, ".json") == 0)
			forget_stale(svc, dir, de->d_name, now_s);
	}
	if (d)
		closedir(d);
	free(dir);
}

/* ---- new control streams ------------------------------------------------------------------- */

static size_t pending_from(struct transfers *svc, const struct peerid *peer, size_t *all)
{
	size_t n = 0;
	*all = 0;
	struct tx *t;
	TAILQ_FOREACH(t, &svc->txs, link)
	{
		if (!t->pending)
			continue;
		(*all)++;
		n += peerid_equal(&t->peer, peer);
	}
	return n;
}

static bool has_index(struct tx *probe)
{
	char *dest = read_index(probe);
	free(dest);
	return dest != NULL;
}

static struct tx *new_receiver(struct transfers *svc, struct txs *ts, const uint8_t id[XFER_ID_LEN],
                               const char *device_id)
{
	const struct peerid *peer = stream_peer(ts->s);
	size_t all, mine = pending_from(svc, peer, &all);
	if (tx_count_active(svc) >= TX_MAX_ACTIVE || all >= TX_MAX_PENDING ||
	    mine >= TX_MAX_PENDING_PER_PEER) {
		txwire_refuse(ts, id, "the receiver is busy; try again later", true);
		return NULL;
	}
	struct tx *t = tx_new(svc, false, id, peer);
	if (!t) {
		txwire_drop(ts, false);
		return NULL;
	}
	snprintf(t->device_id, sizeof(t->device_id), "%s", device_id);
	const struct device *d = device_id[0] && svc->cfg.devices
	                                 ? devices_find_id(svc->cfg.devices, device_id)
	                                 : NULL;
	t->peer_name = d ? strdup(d->info.name) : NULL;
	txwire_adopt(ts, t);
	return t;
}

void txrecv_first_frame(struct transfers *svc, struct txs *ts, const devmsg_pb *m,
                        const char *device_id)
{
	uint8_t id[XFER_ID_LEN];
	if (m->body_case == SD_BODY(REQUEST)) {
		const DevmsgPb__SpacedropRequest *q = m->spacedrop_request;
		if (!q->has_transfer_id || q->transfer_id.len != XFER_ID_LEN ||
		    tx_find(svc, q->transfer_id.data)) {
			txwire_drop(ts, false);
			return;
		}
		struct tx *t = new_receiver(svc, ts, q->transfer_id.data, device_id);
		if (t)
			txwire_control_frame(t, m);
		return;
	}
	if (xfer_msg_transfer_id(m, id) < 0) {
		txwire_drop(ts, false);
		return;
	}
	struct tx *t = tx_find(svc, id);
	if (t) {
		if (t->sender || !peerid_equal(&t->peer, stream_peer(ts->s)) || t->pending) {
			txwire_drop(ts, false);
			return;
		}
		if (t->state == TX_COMPLETED && is_done(svc, t->idhex, t->peer_text)) {
			/* The sender missed our Verify: answer it again, with a new
			 * object for the new offer (the old one only shows history). */
			tx_free(t);
			t = new_receiver(svc, ts, id, device_id);
			if (t)
				txwire_control_frame(t, m);
			return;
		}
		if (tx_state_final(t->state)) {
			char text[128];
			snprintf(text, sizeof(text), "this transfer is already %s here",
			         tx_state_name(t->state));
			txwire_refuse(ts, id, text, false);
			return;
		}
		/* The sender offers again: this stream replaces the old one. */
		txwire_drop_all(t, false);
		t->attempt++;
		txwire_adopt(ts, t);
		txwire_control_frame(t, m);
		return;
	}
	if (!device_id[0]) {
		/* An unpaired peer may only resume a Spacedrop we accepted. */
		struct tx probe = {.svc = svc};
		hex_encode(id, XFER_ID_LEN, probe.idhex);
		char ptext[PEERID_TEXT_MAX] = "";
		peerid_to_string(stream_peer(ts->s), ptext, sizeof(ptext));
		if (!has_index(&probe) && !is_done(svc, probe.idhex, ptext)) {
			log_info("file transfer: an offer from unpaired peer without a Spacedrop "
			         "request; refused");
			txwire_drop(ts, false);
			return;
		}
	}
	t = new_receiver(svc, ts, id, device_id);
	if (t)
		txwire_control_frame(t, m);
}
