/* The file-transfer service (see transfers.h): the registry of transfers,
 * their states as RPC shows them, progress and state events, the 1-second
 * tick (checkpoints, request expiry, aging out finished transfers), and
 * start-up and shutdown. The two roles live in txsend.c and txrecv.c, the
 * streams in txwire.c. */
#include "transfers-internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "atomicfile.h"
#include "hex.h"
#include "log.h"
#include "net/host.h"
#include "net/protocols.h"
#include "txdone.h"
#include "txsink.h"
#include "txsrc.h"
#include "txworker.h"

static const struct protocol_handler handlers[] = {
        {XFER_PROTOCOL_ID, txwire_on_stream, .max_inbound_per_peer = TX_MAX_INBOUND_PER_PEER},
        {0},
};

uint64_t tx_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t tx_wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void tx_rand(uint8_t *out, size_t len, void *ctx)
{
	if (crypto_random(out, len) < 0)
		abort(); /* no randomness: nothing we send can be trusted */
}

char *tx_clean_text(const char *s, size_t max)
{
	if (!s)
		return NULL;
	size_t n = strnlen(s, max);
	/* Cut at a UTF-8 boundary. */
	while (n > 0 && n < strlen(s) && ((uint8_t)s[n] & 0xC0) == 0x80)
		n--;
	char *out = strndup(s, n);
	for (size_t i = 0; out && i < n; i++) {
		uint8_t c = (uint8_t)out[i];
		if (c < 0x20 || c == 0x7f)
			out[i] = ' ';
		/* C1 controls, U+0080..U+009F, are 0xC2 0x80..0x9F in UTF-8. */
		if (c == 0xC2 && i + 1 < n && (uint8_t)out[i + 1] >= 0x80 &&
		    (uint8_t)out[i + 1] <= 0x9F) {
			out[i] = ' ';
			out[i + 1] = ' ';
		}
	}
	return out;
}

/* ---- states ------------------------------------------------------------------ */

static const char *const state_names[] = {
        [TX_CONNECTING] = "connecting",     [TX_PREPARING] = "preparing",
        [TX_WAITING] = "waiting",           [TX_PENDING] = "pending",
        [TX_TRANSFERRING] = "transferring", [TX_VERIFYING] = "verifying",
        [TX_INTERRUPTED] = "interrupted",   [TX_PAUSED] = "paused",
        [TX_COMPLETED] = "completed",       [TX_FAILED] = "failed",
        [TX_REJECTED] = "rejected",         [TX_EXPIRED] = "expired",
        [TX_CANCELLED] = "cancelled",
};

const char *tx_state_name(enum tx_state s)
{
	return (unsigned)s < sizeof(state_names) / sizeof(state_names[0]) ? state_names[s] : "?";
}

bool tx_state_final(enum tx_state s)
{
	return s >= TX_COMPLETED;
}

void tx_emit(struct transfers *svc, const char *kind, json_t *data)
{
	if (svc->cfg.emit && data)
		svc->cfg.emit(svc->cfg.ctx, kind, data);
}

void tx_error(struct tx *t, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(t->error, sizeof(t->error), fmt, ap);
	va_end(ap);
	log_info("transfer %.8s: %s", t->idhex, t->error);
}

static json_t *progress_json(struct tx *t)
{
	struct xfer_progress p;
	xfer_progress(t->x, tx_now_ms(), &p);
	json_t *eta =
	        p.eta_ms == UINT64_MAX ? json_null() : json_integer((json_int_t)(p.eta_ms / 1000));
	return json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:o, s:I, s:I}", "id", t->idhex,
	                 "direction", t->sender ? "send" : "receive", "state",
	                 tx_state_name(t->state), "bytes", (json_int_t)p.bytes_done, "total",
	                 (json_int_t)p.bytes_total, "rate", (json_int_t)p.rate_bps, "eta", eta,
	                 "files_done", (json_int_t)p.files_done, "files_total",
	                 (json_int_t)p.files_total);
}

/* The file being moved (for the CLI's label). */
static const char *current_name(struct tx *t)
{
	size_t n = xfer_file_count(t->x);
	for (size_t i = 0; i < n; i++) {
		const struct xfer_file *f = xfer_file(t->x, i);
		if (f->is_dir || f->verified || f->pos >= f->size)
			continue;
		if (t->sender && t->src && i < t->src->n)
			return t->src->files[i].rel;
		return f->path ? f->path : "";
	}
	return "";
}

void tx_progress_event(struct tx *t, bool force)
{
	uint64_t now = tx_now_ms();
	if (!force && now - t->last_progress_ms < TX_PROGRESS_EVENT_MS)
		return;
	if (!t->svc->cfg.emit)
		return;
	t->last_progress_ms = now;
	json_t *d = progress_json(t);
	if (d)
		json_object_set_new(d, "file", json_string(current_name(t)));
	tx_emit(t->svc, "transfer.progress", d);
	json_decref(d);
}

void tx_set_state(struct tx *t, enum tx_state s, const char *why)
{
	if (t->state == s)
		return;
	enum tx_state old = t->state;
	log_debug("transfer %.8s: %s -> %s (%s)", t->idhex, tx_state_name(old), tx_state_name(s),
	          why ? why : "");
	t->state = s;
	if (tx_state_final(s)) {
		t->ended_wall_ms = tx_wall_ms();
		t->ended_mono_ms = tx_now_ms();
		t->pending = false;
		tx_disarm_timer(t);
		txsched_remove(t);
		if (t->src)
			txsrc_reset(t->src);
		buf_free(&t->dpend);
		log_info("transfer %.8s %s %s: %s%s%s", t->idhex, t->sender ? "to" : "from",
		         t->peer_name ? t->peer_name : t->peer_text, tx_state_name(s),
		         t->error[0] ? ": " : "", t->error);
	}
	json_t *d = tx_json(t);
	if (d) {
		json_object_set_new(d, "previous", json_string(tx_state_name(old)));
		tx_emit(t->svc, "transfer.state", d);
		json_decref(d);
	}
	if (tx_state_final(s))
		tx_progress_event(t, true);
}

json_t *tx_json(struct tx *t)
{
	struct xfer_progress p;
	xfer_progress(t->x, tx_now_ms(), &p);
	json_t *o = progress_json(t);
	json_t *names = json_array();
	for (size_t i = 0; names && i < t->n_names; i++)
		json_array_append_new(names, json_string(t->names[i]));
	if (!o || !names) {
		json_decref(o);
		json_decref(names);
		return NULL;
	}
	json_object_set_new(o, "spacedrop", json_boolean(t->spacedrop));
	json_object_set_new(o, "peer_id", json_string(t->peer_text));
	json_object_set_new(o, "device_id",
	                    t->device_id[0] ? json_string(t->device_id) : json_null());
	json_object_set_new(o, "peer_name", t->peer_name ? json_string(t->peer_name) : json_null());
	json_object_set_new(o, "message", t->message ? json_string(t->message) : json_null());
	json_object_set_new(o, "names", names);
	json_object_set_new(o, "files_failed", json_integer((json_int_t)p.files_failed));
	json_object_set_new(o, "bytes_resumed", json_integer((json_int_t)p.bytes_resumed));
	json_object_set_new(o, "bytes_durable", json_integer((json_int_t)p.bytes_durable));
	json_object_set_new(o, "bytes_moved", json_integer((json_int_t)t->bytes_moved));
	json_object_set_new(o, "bytes_attempt", json_integer((json_int_t)t->bytes_attempt));
	json_object_set_new(o, "attempts", json_integer(t->attempts));
	json_object_set_new(o, "error", t->error[0] ? json_string(t->error) : json_null());
	json_object_set_new(o, "dest", t->dest ? json_string(t->dest) : json_null());
	json_object_set_new(o, "created_at", json_integer((json_int_t)(t->created_wall_ms / 1000)));
	json_object_set_new(o, "ended_at",
	                    t->ended_wall_ms ? json_integer((json_int_t)(t->ended_wall_ms / 1000))
	                                     : json_null());
	if (t->pending) {
		uint64_t now = tx_now_ms();
		json_object_set_new(
		        o, "expires_in",
		        json_integer(t->expires_mono_ms > now
		                             ? (json_int_t)((t->expires_mono_ms - now + 999) / 1000)
		                             : 0));
	}
	return o;
}

/* ---- registry ------------------------------------------------------------------ */

struct tx *tx_new(struct transfers *svc, bool sender, const uint8_t id[XFER_ID_LEN],
                  const struct peerid *peer)
{
	struct tx *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	struct xfer_config xc = {.rand = tx_rand, .ctx = NULL};
	if (xfer_new(&t->x, sender ? XFER_SENDER : XFER_RECEIVER, id, &xc) < 0) {
		free(t);
		return NULL;
	}
	t->svc = svc;
	t->sender = sender;
	memcpy(t->id, id, XFER_ID_LEN);
	hex_encode(id, XFER_ID_LEN, t->idhex);
	t->peer = *peer;
	peerid_to_string(peer, t->peer_text, sizeof(t->peer_text));
	/* A receiver is "waiting" while the offer comes in. */
	t->state = sender ? TX_CONNECTING : TX_WAITING;
	t->created_wall_ms = tx_wall_ms();
	t->retry_ms = TX_RETRY_FIRST_MS;
	TAILQ_INSERT_TAIL(&svc->txs, t, link);
	svc->stats.created++;
	return t;
}

void tx_free(struct tx *t)
{
	if (!t)
		return;
	TAILQ_REMOVE(&t->svc->txs, t, link);
	txsched_remove(t);
	txwire_drop_all(t, false);
	tx_disarm_timer(t);
	if (t->timer)
		event_free(t->timer);
	if (t->sender)
		txsend_free(t);
	else
		txrecv_free(t);
	xfer_free(t->x);
	buf_free(&t->ctl_out);
	buf_free(&t->dpend);
	for (size_t i = 0; i < t->n_names; i++)
		free(t->names[i]);
	free(t->names);
	free(t->peer_name);
	free(t->message);
	free(t->dest);
	t->svc->stats.freed++;
	free(t);
}

struct tx *tx_find(struct transfers *svc, const uint8_t id[XFER_ID_LEN])
{
	struct tx *t;
	TAILQ_FOREACH(t, &svc->txs, link)
	if (memcmp(t->id, id, XFER_ID_LEN) == 0)
		return t;
	return NULL;
}

int tx_lookup(struct transfers *svc, const char *id, struct tx **ret, struct errmsg *err)
{
	size_t len = id ? strlen(id) : 0;
	if (len < 4 || len > 2 * XFER_ID_LEN)
		return errmsg_set(err, -ENOENT,
		                  "'%s' is not a transfer id (4 to 32 hex digits; see 'network "
		                  "transfers')",
		                  id ? id : "");
	char low[2 * XFER_ID_LEN + 1];
	for (size_t i = 0; i <= len; i++)
		low[i] = (char)((id[i] >= 'A' && id[i] <= 'F') ? id[i] - 'A' + 'a' : id[i]);
	struct tx *t, *found = NULL;
	size_t n = 0;
	TAILQ_FOREACH(t, &svc->txs, link)
	{
		if (strncmp(t->idhex, low, len) == 0) {
			found = t;
			n++;
		}
	}
	if (n == 0)
		return errmsg_set(err, -ENOENT, "no transfer %s (see 'network transfers')", id);
	if (n > 1)
		return errmsg_set(err, -ENOTUNIQ, "%s matches %zu transfers; give more digits", id,
		                  n);
	*ret = found;
	return 0;
}

size_t tx_count_active(const struct transfers *svc)
{
	size_t n = 0;
	const struct tx *t;
	TAILQ_FOREACH(t, &svc->txs, link)
	n += !tx_state_final(t->state);
	return n;
}

/* ---- timers ------------------------------------------------------------------- */

static void on_timer(evutil_socket_t fd, short what, void *ctx)
{
	struct tx *t = ctx;
	if (t->sender)
		txsend_timer(t);
	else
		txrecv_tick(t, tx_now_ms());
}

void tx_arm_timer(struct tx *t, uint64_t ms)
{
	if (!t->timer)
		t->timer = evtimer_new(t->svc->cfg.base, on_timer, t);
	if (!t->timer)
		return;
	struct timeval tv = {.tv_sec = (time_t)(ms / 1000),
	                     .tv_usec = (suseconds_t)(ms % 1000) * 1000};
	evtimer_add(t->timer, &tv);
}

void tx_disarm_timer(struct tx *t)
{
	if (t->timer)
		evtimer_del(t->timer);
}

/* Drop finished transfers past the cap or their time in the list. */
static void age_out(struct transfers *svc, uint64_t now)
{
	size_t finished = 0;
	struct tx *t, *next;
	TAILQ_FOREACH(t, &svc->txs, link)
	finished += tx_state_final(t->state);
	for (t = TAILQ_FIRST(&svc->txs); t; t = next) {
		next = TAILQ_NEXT(t, link);
		if (!tx_state_final(t->state) || t->finishing || t->ckpt_running || t->hashing)
			continue;
		/* now was read before this tick's expiries: a transfer that
		 * ended during the tick may have ended "after" it. */
		uint64_t age = now > t->ended_mono_ms ? now - t->ended_mono_ms : 0;
		if (finished > TX_KEEP_FINISHED || age > TX_FINISHED_TTL_MS) {
			finished--;
			tx_free(t);
		}
	}
}

static void on_tick(evutil_socket_t fd, short what, void *ctx)
{
	struct transfers *svc = ctx;
	uint64_t now = tx_now_ms();
	struct tx *t, *next;
	for (t = TAILQ_FIRST(&svc->txs); t; t = next) {
		next = TAILQ_NEXT(t, link);
		if (!t->sender)
			txrecv_tick(t, now);
		if (t->state == TX_TRANSFERRING)
			tx_progress_event(t, false);
	}
	age_out(svc, now);
}

/* ---- lifecycle -------------------------------------------------------------------- */

static int dup_cfg(struct transfers *svc, const struct transfers_config *cfg)
{
	svc->cfg = *cfg;
	svc->data_dir = strdup(cfg->data_dir);
	svc->receive_dir = strdup(cfg->receive_dir);
	svc->device_name = strdup(cfg->device_name ? cfg->device_name : "sdnetd");
	if (!svc->data_dir || !svc->receive_dir || !svc->device_name)
		return -ENOMEM;
	svc->cfg.data_dir = svc->data_dir;
	svc->cfg.receive_dir = svc->receive_dir;
	svc->cfg.device_name = svc->device_name;
	if (!svc->cfg.request_timeout_ms)
		svc->cfg.request_timeout_ms = TRANSFERS_DEFAULT_REQUEST_TIMEOUT_MS;
	return 0;
}

static int make_dirs(struct transfers *svc, struct errmsg *err)
{
	char *dir = NULL;
	if (asprintf(&dir, "%s/transfers", svc->data_dir) < 0)
		return -ENOMEM;
	int r = mkdir_p(dir, 0700);
	if (r < 0)
		errmsg_set(err, r, "cannot create %s: %s", dir, strerror(-r));
	free(dir);
	if (r == 0 && (r = mkdir_p(svc->receive_dir, 0700)) < 0)
		errmsg_set(err, r, "cannot create the receive directory %s: %s (set receive-dir)",
		           svc->receive_dir, strerror(-r));
	return r;
}

/* The ids of completed incoming transfers: a late re-offer of one is
 * answered "already complete" (txdone.h). An unreadable file only costs
 * duplicates, so it is logged and we go on. */
static int open_done(struct transfers *svc, struct errmsg *err)
{
	char *path = NULL;
	if (asprintf(&path, "%s/%s", svc->data_dir, TXDONE_FILE) < 0)
		return -ENOMEM;
	struct errmsg e = {{0}};
	int r = txdone_open(path, 0, &svc->done, &e);
	if (r == 0 && e.text[0])
		log_warning("%s; a completed transfer offered again may be received twice", e.text);
	free(path);
	return r < 0 ? errmsg_set(err, r, "out of memory") : 0;
}

int transfers_new(const struct transfers_config *cfg, struct transfers **ret, struct errmsg *err)
{
	if (!cfg->base || !cfg->host || !cfg->data_dir || !cfg->receive_dir)
		return errmsg_set(err, -EINVAL, "file transfer: missing configuration");
	struct transfers *svc = calloc(1, sizeof(*svc));
	if (!svc)
		return errmsg_set(err, -ENOMEM, "out of memory");
	TAILQ_INIT(&svc->txs);
	TAILQ_INIT(&svc->ready);
	LIST_INIT(&svc->loose);
	LIST_INIT(&svc->opens);
	int r = dup_cfg(svc, cfg);
	if (r == 0)
		r = make_dirs(svc, err);
	if (r == 0 && (r = txworker_new(cfg->base, &svc->worker)) < 0)
		errmsg_set(err, r, "cannot start the file-transfer worker thread: %s",
		           strerror(-r));
	if (r == 0) {
		svc->sched_ev = event_new(cfg->base, -1, 0, txsched_run, svc);
		svc->tick_ev = event_new(cfg->base, -1, EV_PERSIST, on_tick, svc);
		struct timeval sec = {1, 0};
		if (!svc->sched_ev || !svc->tick_ev || event_add(svc->tick_ev, &sec) < 0)
			r = -ENOMEM;
	}
	if (r == 0 && (r = protocols_register(host_protocols(cfg->host), handlers, svc)) < 0)
		errmsg_set(err, r, "cannot register %s: %s", XFER_PROTOCOL_ID, strerror(-r));
	if (r == 0)
		svc->registered = true;
	if (r == 0)
		r = open_done(svc, err);
	if (r == 0) {
		txsend_load_all(svc);
		txrecv_forget_stale(svc);
	}
	if (r < 0) {
		if (r == -ENOMEM && !err->text[0])
			errmsg_set(err, r, "out of memory");
		transfers_free(svc);
		return r;
	}
	*ret = svc;
	return 0;
}

int transfers_reconfigure(struct transfers *svc, const struct transfers_settings *set,
                          struct errmsg *err)
{
	char *dir = strdup(set->receive_dir ? set->receive_dir : svc->receive_dir);
	char *name = strdup(set->device_name ? set->device_name : svc->device_name);
	if (!dir || !name) {
		free(dir);
		free(name);
		return errmsg_set(err, -ENOMEM, "out of memory");
	}
	int r = mkdir_p(dir, 0700);
	if (r < 0) {
		errmsg_set(err, r, "cannot create the receive directory %s: %s", dir, strerror(-r));
		free(dir);
		free(name);
		return r;
	}
	/* Accepted transfers hold their own copy of the destination (t->dest). */
	free(svc->receive_dir);
	free(svc->device_name);
	svc->receive_dir = dir;
	svc->device_name = name;
	svc->cfg.receive_dir = dir;
	svc->cfg.device_name = name;
	svc->cfg.auto_accept = set->auto_accept;
	svc->cfg.request_timeout_ms = set->request_timeout_ms
	                                      ? set->request_timeout_ms
	                                      : TRANSFERS_DEFAULT_REQUEST_TIMEOUT_MS;
	return 0;
}

void transfers_free(struct transfers *svc)
{
	if (!svc)
		return;
	svc->freeing = true;
	if (svc->registered)
		protocols_unregister(host_protocols(svc->cfg.host), handlers);
	/* Interrupt: records and partial files stay for the next start. */
	struct tx *t;
	TAILQ_FOREACH(t, &svc->txs, link)
	{
		txwire_drop_all(t, false);
		if (!tx_state_final(t->state) && t->state != TX_PENDING)
			xfer_interrupt(t->x);
	}
	/* Finished jobs (checkpoints) still land on their transfers. */
	txworker_free(svc->worker);
	svc->worker = NULL;
	while ((t = TAILQ_FIRST(&svc->txs)))
		tx_free(t);
	txwire_free_loose(svc);
	txwire_orphan_opens(svc);
	txpeers_free(svc);
	txdone_free(svc->done);
	if (svc->sched_ev)
		event_free(svc->sched_ev);
	if (svc->tick_ev)
		event_free(svc->tick_ev);
	if (svc->recheck_ev)
		event_free(svc->recheck_ev);
	free(svc->data_dir);
	free(svc->receive_dir);
	free(svc->device_name);
	free(svc);
}

void transfers_get_stats(const struct transfers *svc, struct transfers_stats *ret)
{
	*ret = svc->stats;
	ret->active = tx_count_active(svc);
	ret->pending = 0;
	const struct tx *t;
	TAILQ_FOREACH(t, &svc->txs, link)
	ret->pending += t->pending;
}

/* ---- control API ---------------------------------------------------------------- */

json_t *transfers_list_json(struct transfers *svc)
{
	json_t *a = json_array();
	struct tx *t;
	TAILQ_FOREACH(t, &svc->txs, link)
	if (a)
		json_array_append_new(a, tx_json(t));
	return a;
}

json_t *transfers_get_json(struct transfers *svc, const char *id)
{
	struct tx *t;
	return tx_lookup(svc, id, &t, NULL) == 0 ? tx_json(t) : NULL;
}

json_t *transfers_requests_json(struct transfers *svc)
{
	json_t *a = json_array();
	struct tx *t;
	TAILQ_FOREACH(t, &svc->txs, link)
	if (a && t->pending)
		json_array_append_new(a, tx_json(t));
	return a;
}

int transfers_cancel(struct transfers *svc, const char *id, struct errmsg *err)
{
	struct tx *t;
	int r = tx_lookup(svc, id, &t, err);
	if (r < 0)
		return r;
	if (tx_state_final(t->state))
		return errmsg_set(err, -EALREADY, "transfer %s is already %s", t->idhex,
		                  tx_state_name(t->state));
	if (t->pending)
		return txrecv_reject(t, false, err);
	if (xfer_cancel(t->x, DEVMSG_PB__FILE_TRANSFER_CANCEL__REASON__CANCEL_USER,
	                "cancelled by the user", false, tx_now_ms(), &t->ctl_out) == 0)
		txwire_flush_ctl(t);
	snprintf(t->error, sizeof(t->error), "cancelled here");
	if (t->sender)
		txsend_cancelled(t);
	else
		txrecv_cleanup(t);
	txwire_drop_all(t, true);
	tx_set_state(t, TX_CANCELLED, "cancelled by the user");
	return 0;
}

int transfers_accept(struct transfers *svc, const char *id, const char *dir, struct errmsg *err)
{
	struct tx *t;
	int r = tx_lookup(svc, id, &t, err);
	if (r < 0)
		return r;
	if (!t->pending)
		return errmsg_set(err, -EALREADY, "transfer %s is not waiting for an answer (%s)",
		                  t->idhex, tx_state_name(t->state));
	return txrecv_accept(t, dir, err);
}

int transfers_reject(struct transfers *svc, const char *id, struct errmsg *err)
{
	struct tx *t;
	int r = tx_lookup(svc, id, &t, err);
	if (r < 0)
		return r;
	if (!t->pending)
		return errmsg_set(err, -EALREADY, "transfer %s is not waiting for an answer (%s)",
		                  t->idhex, tx_state_name(t->state));
	return txrecv_reject(t, false, err);
}

void transfers_device_gone(struct transfers *svc, const char *device_id, const char *why)
{
	struct tx *t, *next;
	for (t = TAILQ_FIRST(&svc->txs); t; t = next) {
		next = TAILQ_NEXT(t, link);
		/* Only data in flight: an offer waiting for the user stays. */
		if (strcmp(t->device_id, device_id) != 0 ||
		    (t->state != TX_TRANSFERRING && t->state != TX_VERIFYING))
			continue;
		if (t->sender)
			txsend_interrupted(t, why);
		else
			txrecv_interrupted(t, why);
	}
}

void transfers_device_up(struct transfers *svc, const char *device_id)
{
	struct tx *t;
	TAILQ_FOREACH(t, &svc->txs, link)
	{
		if (t->sender && strcmp(t->device_id, device_id) == 0 &&
		    (t->state == TX_INTERRUPTED || t->state == TX_CONNECTING))
			txsend_connect(t);
	}
}
