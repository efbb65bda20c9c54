/* The sending side of a transfer: scan what to send, find the peer, offer,
 * and once accepted write the data stream as fast as it takes bytes (the
 * scheduler gives each transfer its turn), hashing each file as it is
 * read; hashes go out in Complete messages between rounds. After an
 * interruption the same transfer offers again (hashing ahead the files the
 * receiver may resume), until it ends or the user cancels.
 *
 * A sender record on disk (txrec.h) lets a restarted daemon resume its
 * unfinished sends; it is deleted when the transfer ends. */
#include "transfers-internal.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "atomicfile.h"
#include "devices/devices.h"
#include "hex.h"
#include "log.h"
#include "net/host.h"
#include "net/stream.h"
#include "txsrc.h"
#include "txworker.h"

#define SD_BODY(x) DEVMSG_PB__DEVICE_MESSAGE__BODY_SPACEDROP_##x
/* A receiver whose disk was full is asked again this often. */
#define TX_PAUSE_RETRY_MS 3000
/* Unpaired Spacedrop targets: dial failures before giving up. */
#define TX_MAX_DIAL_FAILURES 3

/* ---- the sender record ------------------------------------------------------------ */

static char *record_path(const struct tx *t)
{
	char *p = NULL;
	return asprintf(&p, "%s/transfers/out-%s.json", t->svc->data_dir, t->idhex) < 0 ? NULL : p;
}

static void save_record(struct tx *t)
{
	struct txrec r = {0};
	memcpy(r.transfer_id, t->idhex, sizeof(r.transfer_id));
	r.peer_id = strdup(t->peer_text);
	r.device_id = strdup(t->device_id);
	r.spacedrop = t->spacedrop;
	r.message = t->message ? strdup(t->message) : NULL;
	r.answered = t->sd_answered;
	r.created_ms = (int64_t)t->created_wall_ms;
	r.total_bytes = txsrc_total_bytes(t->src);
	r.addrs = calloc(t->n_addrs + 1, sizeof(*r.addrs));
	for (size_t i = 0; r.addrs && i < t->n_addrs; i++) {
		char text[MULTIADDR_TEXT_MAX];
		if (multiaddr_to_string(&t->addrs[i], text, sizeof(text)) >= 0)
			r.addrs[r.n_addrs++] = strdup(text);
	}
	struct buf b = BUF_INIT;
	char *path = record_path(t);
	struct errmsg e = {{0}};
	int rc = path && r.peer_id && r.device_id ? txsrc_to_record(t->src, &r) : -ENOMEM;
	if (rc == 0)
		rc = txrec_encode_out(&r, &b);
	if (rc == 0)
		rc = atomicfile_write(path, b.data, b.len, 0600, &e);
	if (rc < 0)
		log_warning("transfer %.8s: cannot store its record (%s); it will not resume after "
		            "a restart",
		            t->idhex, e.text[0] ? e.text : strerror(-rc));
	free(path);
	buf_free(&b);
	txrec_clear(&r);
}

static void delete_record(struct tx *t)
{
	char *path = record_path(t);
	if (path)
		unlink(path);
	free(path);
}

void txsend_cancelled(struct tx *t)
{
	delete_record(t);
}

void txsend_free(struct tx *t)
{
	txsrc_free(t->src);
	for (size_t i = 0; i < t->n_addrs; i++)
		multiaddr_free(&t->addrs[i]);
	free(t->addrs);
}

/* The transfer ended: no resume any more. */
static void finished(struct tx *t, enum tx_state s, const char *why)
{
	delete_record(t);
	txwire_flush_ctl(t);
	txwire_drop_all(t, true);
	tx_set_state(t, s, why);
}

/* ---- starting ---------------------------------------------------------------------- */

static void keep_names(struct tx *t)
{
	t->names = calloc(TX_REQUEST_NAMES, sizeof(*t->names));
	for (size_t i = 0; t->names && i < t->src->n && t->n_names < TX_REQUEST_NAMES; i++)
		if (!strchr(t->src->files[i].rel, '/'))
			t->names[t->n_names++] = tx_clean_text(t->src->files[i].rel, 255);
}

int txsend_start(struct transfers *svc, struct tx *t, const char *const *paths, size_t n,
                 struct errmsg *err)
{
	int r = txsrc_scan(paths, n, &t->src, err);
	json_t *names = svc->cfg.test_names ? json_loads(svc->cfg.test_names, 0, NULL) : NULL;
	if (r == 0)
		r = txsrc_add_to(t->src, t->x, names, err);
	json_decref(names);
	if (r < 0)
		return r;
	if (t->src->skipped)
		log_info("transfer %.8s: %zu symbolic links or special files inside the folders "
		         "are not sent",
		         t->idhex, t->src->skipped);
	keep_names(t);
	save_record(t);
	txsend_connect(t);
	return 0;
}

/* ---- connecting ---------------------------------------------------------------------- */

static struct conn *conn_for(struct tx *t)
{
	const struct transfers_links *l = &t->svc->cfg.links;
	struct conn *c = t->device_id[0] && l->conn_of ? l->conn_of(l->ctx, t->device_id) : NULL;
	return c ? c : host_find_conn(t->svc->cfg.host, &t->peer);
}

static void retry_later(struct tx *t, uint32_t ms)
{
	tx_arm_timer(t, ms);
	if (t->retry_ms < TX_RETRY_MAX_MS)
		t->retry_ms = t->retry_ms * 2 > TX_RETRY_MAX_MS ? TX_RETRY_MAX_MS : t->retry_ms * 2;
}

/* Files that need their hash before the offer: those the receiver may
 * resume (some bytes went out before), or all after a restart. */
static bool needs_hash(const struct tx *t, size_t i)
{
	const struct xfer_file *f = xfer_file(t->x, i);
	return !f->is_dir && !f->has_sha && f->size > 0 && (t->restarted || f->pos > 0);
}

struct hash_job {
	struct transfers *svc;
	uint8_t id[XFER_ID_LEN];
	size_t n;
	size_t *idx;
	char **paths;
	bool *follow;
	uint64_t *sizes;
	uint8_t (*sha)[32];
	int result;
	struct errmsg err;
};

static void hash_job_free(struct hash_job *j)
{
	for (size_t i = 0; i < j->n; i++)
		free(j->paths[i]);
	free(j->paths);
	free(j->idx);
	free(j->follow);
	free(j->sizes);
	free(j->sha);
	free(j);
}

static void hash_run(void *arg)
{
	struct hash_job *j = arg;
	for (size_t k = 0; k < j->n && j->result == 0; k++)
		j->result =
		        txsrc_hash_file(j->paths[k], j->follow[k], j->sizes[k], j->sha[k], &j->err);
}

static void hash_done(void *arg, void *ctx)
{
	struct hash_job *j = arg;
	struct tx *t = j->svc->freeing ? NULL : tx_find(j->svc, j->id);
	if (t && t->hashing) {
		t->hashing = false;
		struct errmsg e = {{0}};
		int r = j->result;
		for (size_t k = 0; r == 0 && k < j->n; k++)
			r = xfer_set_sha256(t->x, j->idx[k], j->sha[k], &e);
		if (r < 0) {
			tx_error(t, "%s; send it again",
			         j->result < 0 ? j->err.text
			                       : "a file changed since the transfer began");
			finished(t, TX_FAILED, "source changed");
		} else {
			t->restarted = false;
			txsend_connect(t);
		}
	}
	hash_job_free(j);
}

static int hash_ahead(struct tx *t)
{
	struct hash_job *j = calloc(1, sizeof(*j));
	size_t n = xfer_file_count(t->x);
	if (!j)
		return -ENOMEM;
	j->svc = t->svc;
	memcpy(j->id, t->id, XFER_ID_LEN);
	j->idx = calloc(n, sizeof(*j->idx));
	j->paths = calloc(n, sizeof(*j->paths));
	j->follow = calloc(n, sizeof(*j->follow));
	j->sizes = calloc(n, sizeof(*j->sizes));
	j->sha = calloc(n, sizeof(*j->sha));
	if (!j->idx || !j->paths || !j->follow || !j->sizes || !j->sha) {
		hash_job_free(j);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		if (!needs_hash(t, i))
			continue;
		j->idx[j->n] = i;
		j->follow[j->n] = t->src->files[i].follow;
		j->sizes[j->n] = t->src->files[i].size;
		if (!(j->paths[j->n++] = strdup(t->src->files[i].src))) {
			hash_job_free(j);
			return -ENOMEM;
		}
	}
	int r = txworker_submit(t->svc->worker, hash_run, hash_done, j, NULL);
	if (r < 0) {
		hash_job_free(j);
		return r;
	}
	t->hashing = true;
	return 0;
}

static bool any_needs_hash(const struct tx *t)
{
	for (size_t i = 0; i < xfer_file_count(t->x); i++)
		if (needs_hash(t, i))
			return true;
	return false;
}

static void dial_next(struct tx *t)
{
	const struct multiaddr *ma = &t->addrs[t->dial_next++ % t->n_addrs];
	int r = txwire_dial(t, ma);
	if (r < 0) {
		tx_error(t, "cannot dial %s: %s", t->peer_text, strerror(-r));
		retry_later(t, t->retry_ms);
	}
}

void txsend_connect(struct tx *t)
{
	if (tx_state_final(t->state) || t->ctl || t->ctl_opening || t->hashing || t->dialing)
		return;
	tx_disarm_timer(t);
	if (any_needs_hash(t)) {
		if (hash_ahead(t) < 0)
			return retry_later(t, t->retry_ms);
		tx_set_state(t, TX_PREPARING, "hashing ahead of a resume");
		return;
	}
	struct conn *c = conn_for(t);
	if (!c && !t->device_id[0] && t->n_addrs) {
		dial_next(t);
		return;
	}
	if (!c) {
		const struct transfers_links *l = &t->svc->cfg.links;
		if (t->device_id[0] && l->kick)
			l->kick(l->ctx, t->device_id);
		snprintf(t->error, sizeof(t->error), "waiting for %s to be reachable",
		         t->peer_name ? t->peer_name : t->peer_text);
		if (t->state != TX_CONNECTING && t->state != TX_PAUSED)
			tx_set_state(t, TX_INTERRUPTED, "peer not connected");
		return retry_later(t, t->retry_ms);
	}
	t->attempt++;
	t->attempts++;
	t->data_done = false;
	int r = txwire_open(t, c, false);
	if (r < 0) {
		tx_error(t, "cannot open a stream to %s: %s", t->peer_text, strerror(-r));
		return retry_later(t, t->retry_ms);
	}
}

void txsend_dialed(struct tx *t, int err, const char *msg)
{
	if (err == 0) {
		t->dial_failures = 0;
		return txsend_connect(t);
	}
	tx_error(t, "cannot reach %s: %s", t->peer_text, msg ? msg : strerror(-err));
	if (++t->dial_failures >= TX_MAX_DIAL_FAILURES * (t->n_addrs ? t->n_addrs : 1))
		return finished(t, TX_FAILED, "unreachable");
	retry_later(t, t->retry_ms);
}

void txsend_open_failed(struct tx *t, bool data, int err, const char *msg)
{
	if (err == -ENOPROTOOPT) {
		tx_error(t, "%s does not speak %s", t->peer_text, XFER_PROTOCOL_ID);
		return finished(t, TX_FAILED, "protocol not supported");
	}
	txsend_interrupted(t, msg);
}

/* ---- offering ------------------------------------------------------------------------ */

static int queue_spacedrop_request(struct tx *t)
{
	DevmsgPb__SpacedropRequest q = DEVMSG_PB__SPACEDROP_REQUEST__INIT;
	q.has_transfer_id = 1;
	q.transfer_id = (ProtobufCBinaryData){XFER_ID_LEN, t->id};
	q.sender_name = t->svc->device_name;
	q.message = t->message;
	q.has_file_count = q.has_total_bytes = 1;
	q.file_count = (uint32_t)xfer_file_count(t->x);
	q.total_bytes = txsrc_total_bytes(t->src);
	q.n_names = t->n_names;
	q.names = t->names;
	devmsg_pb m = DEVMSG_PB__DEVICE_MESSAGE__INIT;
	m.body_case = SD_BODY(REQUEST);
	m.spacedrop_request = &q;
	return txwire_queue_msg(t, &m);
}

void txsend_ctl_opened(struct tx *t)
{
	int r = 0;
	if (t->spacedrop && !t->sd_answered)
		r = queue_spacedrop_request(t);
	if (r == 0)
		r = xfer_offer(t->x, tx_now_ms(), &t->ctl_out);
	if (r < 0) {
		tx_error(t, "cannot make the offer: %s", strerror(-r));
		return finished(t, TX_FAILED, "offer failed");
	}
	txwire_flush_ctl(t);
	t->error[0] = '\0';
	tx_set_state(t, TX_WAITING, "offered");
	uint32_t wait = t->svc->cfg.request_timeout_ms;
	if (wait < TRANSFERS_DEFAULT_REQUEST_TIMEOUT_MS)
		wait = TRANSFERS_DEFAULT_REQUEST_TIMEOUT_MS;
	tx_arm_timer(t, wait + TX_ANSWER_MARGIN_MS);
}

void txsend_spacedrop_answer(struct tx *t, bool accepted, const char *text)
{
	if (accepted && !t->sd_answered) {
		t->sd_answered = true;
		save_record(t);
	}
}

/* ---- the answer and what follows ------------------------------------------------------ */

static void rejected(struct tx *t)
{
	const char *text = "";
	int why = xfer_reject_reason(t->x, &text);
	const char *who = t->peer_name ? t->peer_name : t->peer_text;
	if (why == DEVMSG_PB__FILE_TRANSFER_RESPONSE__REJECT_REASON__REJECT_EXPIRED) {
		tx_error(t, "%s did not answer in time; the request expired", who);
		return finished(t, TX_EXPIRED, "expired");
	}
	if (why == DEVMSG_PB__FILE_TRANSFER_RESPONSE__REJECT_REASON__REJECT_DECLINED)
		tx_error(t, "%s declined the transfer", who);
	else
		tx_error(t, "%s refused the transfer: %s", who, text && *text ? text : "no reason");
	finished(t, TX_REJECTED, "rejected");
}

static void accepted(struct tx *t)
{
	tx_disarm_timer(t);
	t->retry_ms = TX_RETRY_FIRST_MS;
	t->bytes_attempt = 0;
	if (t->spacedrop && !t->sd_answered)
		txsend_spacedrop_answer(t, true, NULL);
	/* Files complete already (empty ones, or sent whole before): their
	 * hashes now. */
	xfer_send_hashes(t->x, tx_now_ms(), &t->ctl_out);
	if (xfer_state(t->x) == XFER_ST_VERIFYING) {
		tx_set_state(t, TX_VERIFYING, "nothing left to send");
		return;
	}
	tx_set_state(t, TX_TRANSFERRING, "accepted");
	int r = t->ctl && t->ctl->s ? txwire_open(t, stream_conn(t->ctl->s), true) : -ENOTCONN;
	if (r < 0)
		txsend_interrupted(t, "cannot open the data stream");
}

void txsend_on_event(struct tx *t, int ev)
{
	const char *text = "";
	switch (ev) {
	case XFER_EV_ACCEPTED:
		return accepted(t);
	case XFER_EV_PROGRESS:
		return tx_progress_event(t, false);
	case XFER_EV_DONE:
		return finished(t, TX_COMPLETED, "verified");
	case XFER_EV_FAILED:
		tx_error(t, "%s", xfer_error(t->x));
		return finished(t, TX_FAILED, "verification failed");
	case XFER_EV_REJECTED:
		return rejected(t);
	case XFER_EV_CANCELLED:
		xfer_reject_reason(t->x, &text);
		tx_error(t, "cancelled by %s%s%s", t->peer_name ? t->peer_name : t->peer_text,
		         text && *text ? ": " : "", text ? text : "");
		return finished(t, TX_CANCELLED, "cancelled by the peer");
	case XFER_EV_PAUSED:
		xfer_reject_reason(t->x, &text);
		tx_error(t, "paused by the receiver: %s", text && *text ? text : "no reason given");
		txsched_remove(t);
		txsrc_reset(t->src);
		buf_reset(&t->dpend);
		txwire_drop_all(t, true);
		tx_set_state(t, TX_PAUSED, "paused by the receiver");
		return tx_arm_timer(t, TX_PAUSE_RETRY_MS);
	default:
		return;
	}
}

void txsend_data_opened(struct tx *t)
{
	txsched_join(t);
}

void txsend_interrupted(struct tx *t, const char *why)
{
	if (tx_state_final(t->state))
		return;
	xfer_interrupt(t->x);
	txsched_remove(t);
	txwire_drop_all(t, false);
	txsrc_reset(t->src);
	buf_reset(&t->dpend);
	t->data_done = false;
	snprintf(t->error, sizeof(t->error), "interrupted: %s", why);
	if (t->state != TX_PAUSED)
		tx_set_state(t, TX_INTERRUPTED, why);
	retry_later(t, t->state == TX_PAUSED ? TX_PAUSE_RETRY_MS : t->retry_ms);
}

void txsend_timer(struct tx *t)
{
	switch (t->state) {
	case TX_TRANSFERRING:
	case TX_VERIFYING:
		if (!t->data_done)
			txsched_ready(t); /* the test rate cap let time pass */
		return;
	case TX_WAITING:
		tx_error(t, "no answer from %s", t->peer_name ? t->peer_name : t->peer_text);
		if (xfer_cancel(t->x, DEVMSG_PB__FILE_TRANSFER_CANCEL__REASON__CANCEL_TIMEOUT,
		                "no answer in time", false, tx_now_ms(), &t->ctl_out) == 0)
			txwire_flush_ctl(t);
		return finished(t, TX_EXPIRED, "no answer");
	case TX_CONNECTING:
	case TX_INTERRUPTED:
	case TX_PAUSED:
		return txsend_connect(t);
	default:
		return;
	}
}

/* ---- writing data ------------------------------------------------------------------------ */

/* The test rate cap: bytes allowed now (at most want). */
static size_t allowance(struct tx *t, size_t want)
{
	uint64_t cap = t->svc->cfg.test_rate_bps;
	if (!cap)
		return want;
	uint64_t now = tx_now_ms();
	if (!t->rate_tokens_ts)
		t->rate_tokens_ts = now;
	t->rate_tokens += (double)(now - t->rate_tokens_ts) * (double)cap / 1000.0;
	t->rate_tokens_ts = now;
	if (t->rate_tokens > (double)cap / 10)
		t->rate_tokens = (double)cap / 10; /* bursts of 100 ms at most */
	if (t->rate_tokens < (double)TX_CHUNK) {
		tx_arm_timer(t, 10);
		return 0;
	}
	return want;
}

static void read_failed(struct tx *t, const struct errmsg *e)
{
	tx_error(t, "%s", e->text);
	if (xfer_cancel(t->x, DEVMSG_PB__FILE_TRANSFER_CANCEL__REASON__CANCEL_IO_ERROR, e->text,
	                false, tx_now_ms(), &t->ctl_out) == 0)
		txwire_flush_ctl(t);
	finished(t, TX_FAILED, "read error");
}

/* Tests only: lie to the receiver this way. */
static bool lie(const struct tx *t, const char *how)
{
	return t->svc->cfg.test_lie && strcmp(t->svc->cfg.test_lie, how) == 0;
}

/* Read the next span into dpend. 1: bytes queued; 0: nothing to send now;
 * -1: the transfer ended (data done or failed). */
static int next_span(struct tx *t)
{
	struct xfer_span sp = {0};
	/* VERIFYING: every byte was read and every hash announced. */
	bool all_sent = xfer_state(t->x) == XFER_ST_VERIFYING;
	int r = all_sent ? 0 : xfer_send_span(t->x, TX_CHUNK, &t->dpend, &sp);
	if (r < 0)
		return -1;
	if (sp.done || all_sent) {
		t->data_done = true;
		if (t->data && t->data->s) {
			t->data->closing = true;
			stream_close_write(t->data->s);
		}
		return 0;
	}
	if (sp.len == 0)
		return 0;
	uint8_t sha[32];
	bool hashed = false;
	struct errmsg e = {{0}};
	r = txsrc_read(t->src, sp.file, sp.offset, (size_t)sp.len, &t->dpend, sha, &hashed, &e);
	if (r < 0) {
		read_failed(t, &e);
		return -1;
	}
	if (sp.offset == 0 && lie(t, "size"))
		buf_append(&t->dpend, "27 bytes the offer never had", 27);
	uint64_t now = tx_now_ms();
	xfer_sent(t->x, sp.len, now);
	t->bytes_attempt += sp.len;
	t->bytes_moved += sp.len;
	t->svc->stats.bytes_sent += sp.len;
	if (t->svc->cfg.test_rate_bps)
		t->rate_tokens -= (double)sp.len;
	const struct xfer_file *f = xfer_file(t->x, sp.file);
	if (hashed && sp.file == 0 && lie(t, "hash"))
		sha[0] ^= 1;
	if (hashed && xfer_set_sha256(t->x, sp.file, sha, &e) < 0) {
		read_failed(t, &e);
		return -1;
	}
	if (sp.offset + sp.len == f->size) {
		if (!f->has_sha) {
			errmsg_set(&e, -EIO, "%s: its hash is unknown", t->src->files[sp.file].src);
			read_failed(t, &e);
			return -1;
		}
		t->hashes_due = true;
	}
	return 1;
}

size_t txsend_pump(struct tx *t, size_t quantum, bool *more)
{
	*more = false;
	bool moving = t->state == TX_TRANSFERRING || t->state == TX_VERIFYING;
	if (!moving || !t->data || !t->data->s || t->data_done)
		return 0;
	size_t budget = allowance(t, quantum), written = 0;
	bool blocked = false;
	while (written < budget) {
		if (t->dpend.len) {
			long n = stream_write(t->data->s, t->dpend.data, t->dpend.len);
			if (n < 0) {
				txsend_interrupted(t, "the data stream is gone");
				return written;
			}
			buf_consume(&t->dpend, (size_t)n);
			written += (size_t)n;
			if (t->dpend.len) {
				blocked = true; /* on_writable brings us back */
				break;
			}
			continue;
		}
		int r = next_span(t);
		if (r < 0)
			return written;
		if (r == 0)
			break;
	}
	if (t->hashes_due && xfer_state(t->x) == XFER_ST_TRANSFERRING) {
		t->hashes_due = false;
		xfer_send_hashes(t->x, tx_now_ms(), &t->ctl_out);
		txwire_flush_ctl(t);
	}
	if (xfer_state(t->x) == XFER_ST_VERIFYING && t->state == TX_TRANSFERRING)
		tx_set_state(t, TX_VERIFYING, "everything sent");
	if (written)
		tx_progress_event(t, false);
	*more = !blocked && !t->data_done && written >= budget && budget > 0;
	return written;
}

/* ---- the control API: sends and Spacedrops --------------------------------------------- */

static int new_sender(struct transfers *svc, const struct peerid *peer, struct tx **ret,
                      struct errmsg *err)
{
	if (tx_count_active(svc) >= TX_MAX_ACTIVE)
		return errmsg_set(err, -EBUSY, "%d transfers are running; wait for one to end",
		                  TX_MAX_ACTIVE);
	uint8_t id[XFER_ID_LEN];
	tx_rand(id, sizeof(id), NULL);
	struct tx *t = tx_new(svc, true, id, peer);
	if (!t)
		return errmsg_set(err, -ENOMEM, "out of memory");
	*ret = t;
	return 0;
}

static int usable_device(const struct device *d, struct errmsg *err)
{
	if (d->trust == DEVICE_REVOKED || d->trust == DEVICE_EXPIRED)
		return errmsg_set(err, -EACCES, "%s is %s; pair with it again", d->info.name,
		                  device_trust_name(d->trust));
	return 0;
}

static void set_device(struct tx *t, const struct device *d)
{
	snprintf(t->device_id, sizeof(t->device_id), "%s", d->info.device_id);
	free(t->peer_name);
	t->peer_name = strdup(d->info.name);
}

static int start(struct tx *t, const char *const *paths, size_t n, char ret_id[33],
                 struct errmsg *err)
{
	if (n == 0 || n > TRANSFERS_MAX_PATHS) {
		tx_free(t);
		return errmsg_set(err, -EINVAL, "give 1 to %d paths", TRANSFERS_MAX_PATHS);
	}
	int r = txsend_start(t->svc, t, paths, n, err);
	if (r < 0) {
		tx_free(t);
		return r;
	}
	memcpy(ret_id, t->idhex, 33);
	return 0;
}

int transfers_send(struct transfers *svc, const char *device, const char *const *paths,
                   size_t n_paths, char ret_id[33], struct errmsg *err)
{
	const struct device *d = NULL;
	int r = svc->cfg.devices ? devices_lookup(svc->cfg.devices, device, &d, err)
	                         : errmsg_set(err, -ENOENT, "no paired devices");
	if (r == 0)
		r = usable_device(d, err);
	struct tx *t = NULL;
	if (r == 0)
		r = new_sender(svc, &d->info.peer_id, &t, err);
	if (r < 0)
		return r;
	set_device(t, d);
	return start(t, paths, n_paths, ret_id, err);
}

/* An unpaired target: its addresses (mDNS, or the multiaddr given). */
static int target_addrs(struct tx *t, const struct multiaddr *given)
{
	const struct multiaddr *found = NULL;
	size_t n = given ? 1 : txpeers_get(t->svc, &t->peer, &found);
	if (n == 0)
		return 0;
	t->addrs = calloc(n, sizeof(*t->addrs));
	if (!t->addrs)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		int r = multiaddr_copy(given ? given : &found[i], &t->addrs[i]);
		if (r < 0)
			return r;
		t->n_addrs = i + 1;
		if (!given)
			multiaddr_append_p2p(&t->addrs[i], &t->peer);
	}
	return 0;
}

/* target → peer, and the paired device when there is one. */
static int resolve(struct transfers *svc, const char *target, struct peerid *peer,
                   const struct device **dev, struct multiaddr *ma, bool *has_ma,
                   struct errmsg *err)
{
	*dev = NULL;
	*has_ma = false;
	struct errmsg le = {{0}};
	if (svc->cfg.devices) {
		int r = devices_lookup(svc->cfg.devices, target, dev, &le);
		if (r == -ENOTUNIQ)
			return errmsg_set(err, r, "%s", le.text);
		if (r == 0) {
			*peer = (*dev)->info.peer_id;
			return usable_device(*dev, err);
		}
	}
	if (peerid_parse(target, peer, NULL) == 0)
		return 0;
	if (multiaddr_parse(target, ma, NULL) == 0) {
		*has_ma = true;
		if (multiaddr_get_p2p(ma, peer) == 1)
			return 0;
		return errmsg_set(err, -EINVAL, "%s does not end with /p2p/<peer id>", target);
	}
	return errmsg_set(err, -ENOENT,
	                  "no paired device, peer ID or multiaddr matches '%s' (see 'network "
	                  "devices')",
	                  target);
}

int transfers_spacedrop(struct transfers *svc, const char *target, const char *const *paths,
                        size_t n_paths, const char *message, char ret_id[33], struct errmsg *err)
{
	if (message && strlen(message) > TRANSFERS_MESSAGE_MAX)
		return errmsg_set(err, -EINVAL, "the message is over %d bytes",
		                  TRANSFERS_MESSAGE_MAX);
	struct peerid peer;
	const struct device *d = NULL;
	struct multiaddr ma = {0};
	bool has_ma = false;
	int r = resolve(svc, target, &peer, &d, &ma, &has_ma, err);
	if (r == 0 && !d && svc->cfg.devices)
		d = devices_find_peer(svc->cfg.devices, &peer);
	if (r == 0 && d)
		r = usable_device(d, err);
	if (r == 0 && peerid_equal(&peer, host_peer_id(svc->cfg.host)))
		r = errmsg_set(err, -EINVAL, "that is this device");
	struct tx *t = NULL;
	if (r == 0)
		r = new_sender(svc, &peer, &t, err);
	if (r == 0) {
		t->spacedrop = true;
		t->message =
		        message && *message ? tx_clean_text(message, TRANSFERS_MESSAGE_MAX) : NULL;
		if (d)
			set_device(t, d);
		else if ((r = target_addrs(t, has_ma ? &ma : NULL)) == 0 && !t->n_addrs &&
		         !host_find_conn(svc->cfg.host, &peer))
			r = errmsg_set(
			        err, -ENOENT,
			        "peer %s is not connected and was not found nearby; give its "
			        "multiaddr",
			        target);
		if (r < 0)
			tx_free(t);
	}
	if (has_ma)
		multiaddr_free(&ma);
	return r < 0 ? r : start(t, paths, n_paths, ret_id, err);
}

/* ---- restart ------------------------------------------------------------------------------ */

static void load_one(struct transfers *svc, const char *path)
{
	void *data = NULL;
	size_t len = 0;
	struct errmsg e = {{0}};
	struct txrec rec = {0};
	int r = atomicfile_read(path, TXREC_MAX_SIZE, &data, &len, &e);
	if (r == 0)
		r = txrec_decode_out(data, len, &rec, &e);
	free(data);
	struct peerid peer;
	struct buf id = BUF_INIT;
	if (r == 0 && (peerid_parse(rec.peer_id, &peer, &e) < 0 ||
	               hex_decode(rec.transfer_id, TXREC_ID_HEX, &id) < 0 || id.len != XFER_ID_LEN))
		r = -EBADMSG;
	struct tx *t = r == 0 && !tx_find(svc, id.data) ? tx_new(svc, true, id.data, &peer) : NULL;
	buf_free(&id);
	if (r < 0 || !t) {
		if (r < 0)
			log_warning("cannot resume the transfer in %s: %s", path,
			            e.text[0] ? e.text : strerror(-r));
		txrec_clear(&rec);
		return;
	}
	snprintf(t->device_id, sizeof(t->device_id), "%s", rec.device_id);
	const struct device *d = rec.device_id[0] && svc->cfg.devices
	                                 ? devices_find_id(svc->cfg.devices, rec.device_id)
	                                 : NULL;
	t->peer_name = d ? strdup(d->info.name) : NULL;
	t->spacedrop = rec.spacedrop;
	t->sd_answered = rec.answered;
	t->message = rec.message ? strdup(rec.message) : NULL;
	t->created_wall_ms = (uint64_t)rec.created_ms;
	t->addrs = calloc(rec.n_addrs + 1, sizeof(*t->addrs));
	for (size_t i = 0; t->addrs && i < rec.n_addrs; i++)
		if (multiaddr_parse(rec.addrs[i], &t->addrs[t->n_addrs], NULL) == 0)
			t->n_addrs++;
	r = txsrc_from_record(&rec, &t->src);
	if (r == 0)
		r = txsrc_add_to(t->src, t->x, NULL, &e);
	txrec_clear(&rec);
	if (r < 0) {
		log_warning("cannot resume the transfer in %s: %s", path, e.text);
		tx_free(t);
		return;
	}
	keep_names(t);
	t->restarted = true;
	tx_set_state(t, TX_INTERRUPTED, "resuming after a restart");
	log_info("transfer %.8s to %s: resuming after a restart", t->idhex,
	         t->peer_name ? t->peer_name : t->peer_text);
	/* Give the paired-device connection a moment to come up first. */
	tx_arm_timer(t, 200);
}

void txsend_load_all(struct transfers *svc)
{
	char *dir = NULL;
	if (asprintf(&dir, "%s/transfers", svc->data_dir) < 0)
		return;
	DIR *d = opendir(dir);
	struct dirent *de;
	while (d && (de = readdir(d))) {
		size_t len = strlen(de->d_name);
		if (strncmp(de->d_name, "out-", 4) != 0 || len < 5 ||
		    strcmp(de->d_name + len - 5, ".json") != 0)
			continue;
		char *path = NULL;
		if (asprintf(&path, "%s/%s", dir, de->d_name) >= 0)
			load_one(svc, path);
		free(path);
	}
	if (d)
		closedir(d);
	free(dir);
}
