/* The receiver's durable inbox (messages-internal.h, "the receiver's
 * durable inbox"): what makes a durable message handled exactly once.
 *
 * A new durable message is staged while its batch is read; at the end of
 * the batch the staged messages are written as one inbox record (inboxrec.h)
 * and only then added to the dedup window and acknowledged (msg-stream.c).
 * From the inbox they are handed to their handlers, in order per handler
 * key. A handler that finishes at once (built-ins) drops the entry; one
 * that finishes later (an app over RPC: MESSAGES_LATER) keeps it until
 * messages_complete(). Dropping rewrites the record without the finished
 * entries, or deletes it when none is left, before anything the handlers
 * sent leaves the process (their answers are flushed after the sync): a
 * crash in between hands the message over again instead of losing it, and
 * nothing outside saw the first handling.
 *
 * After a restart every record is loaded back; its entries are marked
 * redelivered and handed to the next handler of their key. */
#include "messages-internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inboxrec.h"
#include "log.h"

/* ---- records in memory ------------------------------------------------------- */

void msg_inbox_init(struct msg_inbox *ib)
{
	memset(ib, 0, sizeof(*ib));
	TAILQ_INIT(&ib->recs);
	TAILQ_INIT(&ib->batch);
}

static void rec_free(struct msg_inrec *rec)
{
	for (size_t i = 0; i < rec->n; i++) {
		explicit_bzero(rec->e[i].bytes, rec->e[i].len);
		free(rec->e[i].bytes);
	}
	free(rec->e);
	free(rec);
}

static void list_free(struct msg_inrec_list *l)
{
	struct msg_inrec *rec;
	while ((rec = TAILQ_FIRST(l))) {
		TAILQ_REMOVE(l, rec, link);
		rec_free(rec);
	}
}

void msg_inbox_free(struct msg_inbox *ib)
{
	list_free(&ib->recs);
	list_free(&ib->batch);
	ib->count = ib->bytes = ib->staged = 0;
}

static struct msg_inrec *rec_new(size_t cap)
{
	struct msg_inrec *rec = calloc(1, sizeof(*rec));
	if (rec && !(rec->e = calloc(cap, sizeof(*rec->e)))) {
		free(rec);
		return NULL;
	}
	if (rec)
		rec->bytes = MSGREC_INBOX_HEADER;
	return rec;
}

/* The entry is finished: it leaves the record at the next sync. */
static void entry_done(struct msg_inbox *ib, struct msg_inrec *rec, struct msg_inentry *e)
{
	e->state = MSG_IN_DONE;
	rec->ndone++;
	ib->count--;
	ib->bytes -= e->len;
}

/* Drop the finished entries from memory (the record on disk matches). */
static void rec_compact(struct msg_inrec *rec)
{
	size_t k = 0;
	for (size_t i = 0; i < rec->n; i++) {
		struct msg_inentry *e = &rec->e[i];
		if (e->state == MSG_IN_DONE) {
			explicit_bzero(e->bytes, e->len);
			free(e->bytes);
			rec->bytes -= msgrec_inbox_entry_size(e->len);
			continue;
		}
		if (k != i)
			rec->e[k] = *e;
		k++;
	}
	rec->n = k;
	rec->ndone = 0;
}

/* ---- disk -------------------------------------------------------------------------- */

/* Write the record's unfinished entries, or delete it when there are none. */
static int rec_write(struct messages *m, struct msg_device *d, struct msg_inrec *rec,
                     struct errmsg *err)
{
	struct msgrec_inbox_entry ents[MSGREC_INBOX_ENTRIES];
	size_t k = 0;
	for (size_t i = 0; i < rec->n; i++)
		if (rec->e[i].state != MSG_IN_DONE)
			ents[k++] = (struct msgrec_inbox_entry){.msg = rec->e[i].bytes,
			                                        .len = rec->e[i].len};
	if (k == 0)
		return rec->on_disk ? msgstore_inbox_delete(m->cfg.store, d->id, rec->seq, err) : 0;
	struct buf out = BUF_INIT;
	int r = msgrec_inbox_encode(ents, k, &out);
	if (r < 0)
		r = errmsg_set(err, r, "cannot encode an inbox record: %s", strerror(-r));
	else
		r = msgstore_inbox_put(m->cfg.store, d->id, rec->seq, out.data, out.len, err);
	buf_wipe_free(&out);
	if (r == 0)
		rec->on_disk = true;
	return r;
}

int msg_inbox_sync(struct messages *m, struct msg_device *d, struct errmsg *err)
{
	struct msg_inbox *ib = &d->inbox;
	if (ib->busy)
		return 0; /* the handing over in progress syncs when it is over */
	/* An entry leaves the disk only once its id is in the window there:
	 * else a resend after a crash would look new. */
	struct msgdedup *w = d->dedup;
	struct errmsg we;
	if (w && msgdedup_dirty(w) && msgdedup_flush(w, m->cfg.store, &we) < 0) {
		log_error("device %s: cannot store the message dedup window: %s", d->id, we.text);
		return errmsg_set(err, -EIO, "%s", we.text);
	}
	int first = 0;
	struct msg_inrec *rec = TAILQ_FIRST(&ib->recs), *next;
	for (; rec; rec = next) {
		next = TAILQ_NEXT(rec, link);
		if (!rec->ndone)
			continue;
		struct errmsg e;
		int r = rec_write(m, d, rec, &e);
		if (r < 0) {
			/* Kept in memory as finished; written at the next sync. */
			log_error("device %s: cannot update the message inbox: %s", d->id, e.text);
			if (!first)
				first = errmsg_set(err, r, "%s", e.text);
			continue;
		}
		rec_compact(rec);
		if (rec->n == 0) {
			TAILQ_REMOVE(&ib->recs, rec, link);
			rec_free(rec);
		}
	}
	return first;
}

/* ---- staging a batch ---------------------------------------------------------------- */

int msg_inbox_room(const struct messages *m, const struct msg_device *d, size_t len)
{
	const struct msg_inbox *ib = &d->inbox;
	if (ib->count >= m->cfg.inbox_max || ib->bytes + len > m->cfg.inbox_max_bytes)
		return -ENOBUFS;
	return 0;
}

bool msg_inbox_staged(const struct msg_device *d, const uint8_t id[DEVMSG_ID_LEN])
{
	const struct msg_inrec *rec;
	TAILQ_FOREACH(rec, &d->inbox.batch, link)
	for (size_t i = 0; i < rec->n; i++)
		if (memcmp(rec->e[i].id, id, DEVMSG_ID_LEN) == 0)
			return true;
	return false;
}

int msg_inbox_stage(struct messages *m, struct msg_device *d, const devmsg_pb *msg,
                    const uint8_t *bytes, size_t len)
{
	struct msg_inbox *ib = &d->inbox;
	size_t add = msgrec_inbox_entry_size(len);
	struct msg_inrec *rec = TAILQ_LAST(&ib->batch, msg_inrec_list);
	if (!rec || rec->n >= MSGREC_INBOX_ENTRIES || rec->bytes + add > MSGREC_INBOX_MAX_BYTES) {
		rec = rec_new(MSGREC_INBOX_ENTRIES);
		if (!rec)
			return -ENOMEM;
		TAILQ_INSERT_TAIL(&ib->batch, rec, link);
	}
	struct msg_inentry *e = &rec->e[rec->n];
	memset(e, 0, sizeof(*e));
	if (!(e->bytes = malloc(len)))
		return -ENOMEM; /* an empty record is written as nothing */
	memcpy(e->bytes, bytes, len);
	e->len = len;
	memcpy(e->id, msg->id.data, DEVMSG_ID_LEN);
	msg_handler_key(msg, e->key);
	e->state = MSG_IN_NEW;
	e->fresh = true;
	rec->n++;
	rec->bytes += add;
	ib->count++;
	ib->bytes += len;
	ib->staged++;
	return 0;
}

int msg_inbox_commit(struct messages *m, struct msg_device *d, struct msg_inrec **first,
                     void (*refuse)(void *ctx, const uint8_t *bytes, size_t len), void *ctx,
                     struct errmsg *err)
{
	struct msg_inbox *ib = &d->inbox;
	struct msg_inrec *rec;
	int r = 0;
	*first = NULL;
	while ((rec = TAILQ_FIRST(&ib->batch))) {
		TAILQ_REMOVE(&ib->batch, rec, link);
		if (rec->n == 0) {
			rec_free(rec);
			continue;
		}
		rec->seq = ib->next_seq++;
		if (r == 0)
			r = rec_write(m, d, rec, err);
		if (r == 0) {
			TAILQ_INSERT_TAIL(&ib->recs, rec, link);
			if (!*first)
				*first = rec;
			continue;
		}
		/* Not in the inbox: the sender must send these again. */
		for (size_t i = 0; i < rec->n; i++) {
			refuse(ctx, rec->e[i].bytes, rec->e[i].len);
			ib->count--;
			ib->bytes -= rec->e[i].len;
		}
		rec_free(rec);
	}
	ib->staged = 0;
	return r;
}

/* ---- handing over ---------------------------------------------------------------------- */

static bool key_in(char (*keys)[MSG_KEY_MAX], size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(keys[i], key) == 0)
			return true;
	return false;
}

/* Hand one waiting entry to its handler: 0 it was handed over (or finished
 * for good), <0 it waits (no handler, or a passing failure). */
static int hand_over(struct messages *m, struct msg_device *d, struct msg_inrec *rec,
                     struct msg_inentry *e, void *origin)
{
	devmsg_pb *msg = NULL;
	struct errmsg err;
	if (devmsg_decode(e->bytes, e->len, &msg, NULL, &err) < 0) {
		/* Checked before it was stored; nothing can handle it now. */
		log_error("device %s: dropped an unreadable inbox entry: %s", d->id, err.text);
		entry_done(&d->inbox, rec, e);
		return 0;
	}
	const struct msg_handler *h = msg_handler_find(m, msg);
	if (!h) {
		devmsg_free(msg);
		return -ENOENT;
	}
	bool fresh = e->fresh && origin;
	struct messages_incoming in = {
	        .device_id = d->id,
	        .msg = msg,
	        .needs_reply = devmsg_expects_reply(msg),
	        .durable = true,
	        .redelivered = e->redelivered,
	        .origin = fresh ? origin : NULL,
	};
	/* The handler may finish it from inside (messages_complete()). */
	e->state = MSG_IN_SHOWN;
	e->redelivered = true;
	int r = h->fn(h->ctx, m, &in);
	if (e->state != MSG_IN_SHOWN) {
		devmsg_free(msg);
		return 0;
	}
	if (r == 0) {
		entry_done(&d->inbox, rec, e);
	} else if (r == -EACCES || r == -EPERM) {
		/* Refused for good: the sender hears it if it still can. */
		entry_done(&d->inbox, rec, e);
		if (fresh) {
			e->refused = true;
			msg_stream_refuse(origin, msg, r);
		} else {
			log_warning("device %s: the handler for '%s' refused a durable message it "
			            "was handed again (%s); dropped",
			            d->id, e->key, strerror(-r));
		}
	} else if (r < 0) {
		e->state = MSG_IN_NEW;
		log_debug("device %s: the handler for '%s' could not take a durable message "
		          "(%s); it waits",
		          d->id, e->key, strerror(-r));
	}
	devmsg_free(msg);
	return r < 0 && r != -EACCES && r != -EPERM ? r : 0;
}

void msg_inbox_deliver(struct messages *m, struct msg_device *d, void *origin)
{
	struct msg_inbox *ib = &d->inbox;
	/* Keys whose oldest waiting entry could not be handed over: their
	 * later entries wait too, so each handler sees its messages in order. */
	char waiting[MSG_BLOCKED_MAX][MSG_KEY_MAX];
	size_t nwaiting = 0;
	bool all = false;
	ib->busy++;
	struct msg_inrec *rec;
	TAILQ_FOREACH(rec, &ib->recs, link)
	{
		for (size_t i = 0; i < rec->n && !all; i++) {
			struct msg_inentry *e = &rec->e[i];
			if (e->state != MSG_IN_NEW || key_in(waiting, nwaiting, e->key))
				continue;
			if (hand_over(m, d, rec, e, origin) == 0)
				continue;
			if (nwaiting < MSG_BLOCKED_MAX)
				snprintf(waiting[nwaiting++], MSG_KEY_MAX, "%s", e->key);
			else
				all = true;
		}
	}
	ib->busy--;
}

void msg_inbox_unshow(struct messages *m, const char *key)
{
	struct msg_device *d;
	TAILQ_FOREACH(d, &m->devices, link)
	{
		struct msg_inrec *rec;
		TAILQ_FOREACH(rec, &d->inbox.recs, link)
		for (size_t i = 0; i < rec->n; i++)
			if (rec->e[i].state == MSG_IN_SHOWN && strcmp(rec->e[i].key, key) == 0)
				rec->e[i].state = MSG_IN_NEW;
	}
}

void msg_inbox_kick(struct messages *m)
{
	if (m->inbox_ev && !event_pending(m->inbox_ev, EV_TIMEOUT, NULL))
		event_active(m->inbox_ev, EV_TIMEOUT, 0);
}

void msg_inbox_kick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct messages *m = arg;
	struct msg_device *d;
	TAILQ_FOREACH(d, &m->devices, link)
	{
		if (!d->inbox.count || d->inbox.busy)
			continue;
		msg_inbox_deliver(m, d, NULL);
		msg_inbox_sync(m, d, NULL);
	}
}

/* ---- finishing later --------------------------------------------------------------------- */

static struct msg_inentry *find(const struct messages *m, const char *device_id,
                                const uint8_t id[DEVMSG_ID_LEN], struct msg_device **ret_d,
                                struct msg_inrec **ret_rec)
{
	struct msg_device *d;
	TAILQ_FOREACH(d, &m->devices, link)
	{
		if (device_id && strcmp(d->id, device_id) != 0)
			continue;
		struct msg_inrec *rec;
		TAILQ_FOREACH(rec, &d->inbox.recs, link)
		for (size_t i = 0; i < rec->n; i++) {
			struct msg_inentry *e = &rec->e[i];
			if (e->state != MSG_IN_DONE && memcmp(e->id, id, DEVMSG_ID_LEN) == 0) {
				*ret_d = d;
				*ret_rec = rec;
				return e;
			}
		}
	}
	return NULL;
}

int messages_inbox_find(const struct messages *m, const uint8_t id[DEVMSG_ID_LEN],
                        const char **ret_device_id, const char **ret_key)
{
	struct msg_device *d;
	struct msg_inrec *rec;
	struct msg_inentry *e = find(m, NULL, id, &d, &rec);
	if (!e)
		return -ENOENT;
	*ret_device_id = d->id;
	*ret_key = e->key;
	return 0;
}

int messages_complete_later(struct messages *m, const char *device_id,
                            const uint8_t id[DEVMSG_ID_LEN], struct errmsg *err)
{
	struct msg_device *d;
	struct msg_inrec *rec;
	struct msg_inentry *e = find(m, device_id, id, &d, &rec);
	if (!e)
		return errmsg_set(err, -ENOENT,
		                  "no durable message with that id waits in the inbox (already "
		                  "finished, or not durable)");
	entry_done(&d->inbox, rec, e);
	return 0;
}

int messages_inbox_flush(struct messages *m, struct errmsg *err)
{
	int first = 0;
	struct msg_device *d;
	TAILQ_FOREACH(d, &m->devices, link)
	{
		int r = msg_inbox_sync(m, d, first ? NULL : err);
		if (r < 0 && !first)
			first = r;
	}
	return first;
}

int messages_complete(struct messages *m, const char *device_id, const uint8_t id[DEVMSG_ID_LEN],
                      struct errmsg *err)
{
	struct msg_device *d;
	struct msg_inrec *rec;
	struct msg_inentry *e = find(m, device_id, id, &d, &rec);
	if (!e)
		return errmsg_set(err, -ENOENT,
		                  "no durable message with that id waits in the inbox (already "
		                  "finished, or not durable)");
	struct msg_inbox *ib = &d->inbox;
	enum msg_in_state was = e->state;
	entry_done(ib, rec, e);
	if (ib->busy)
		return 0; /* from inside a handler: synced when the handing over ends */
	int r = rec_write(m, d, rec, err);
	if (r < 0) {
		/* Still in the record on disk: not finished yet. */
		e->state = was;
		rec->ndone--;
		ib->count++;
		ib->bytes += e->len;
		return r;
	}
	rec_compact(rec);
	if (rec->n == 0) {
		TAILQ_REMOVE(&ib->recs, rec, link);
		rec_free(rec);
	}
	return 0;
}

/* ---- loading ------------------------------------------------------------------------------- */

struct load_ctx {
	struct messages *m;
	struct msgrec_inbox_entry ents[MSGREC_INBOX_ENTRIES];
	size_t entries, skipped;
};

static int load_visit(void *arg, const char *device_id, uint64_t seq, const uint8_t *data,
                      size_t len, const char *text)
{
	struct load_ctx *c = arg;
	struct messages *m = c->m;
	struct msg_device *d;
	int r = msg_device_get(m, device_id, &d);
	if (r < 0) {
		log_warning("inbox/%s.%016" PRIx64 ": cannot track the device (%s); left in place",
		            device_id, seq, strerror(-r));
		c->skipped++;
		return 0;
	}
	/* Never reuse a number, even an unreadable record's. */
	if (seq >= d->inbox.next_seq)
		d->inbox.next_seq = seq + 1;
	struct errmsg e;
	size_t n = 0;
	if (!data || msgrec_inbox_decode(data, len, c->ents, &n, &e) < 0) {
		log_warning("inbox/%s.%016" PRIx64 ": %s; skipped and left in place", device_id,
		            seq, data ? e.text : text);
		c->skipped++;
		return 0;
	}
	struct msg_inrec *rec = rec_new(n);
	if (!rec)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct msg_inentry *en = &rec->e[i];
		devmsg_pb *msg = NULL;
		en->bytes = malloc(c->ents[i].len);
		if (!en->bytes ||
		    devmsg_decode(c->ents[i].msg, c->ents[i].len, &msg, NULL, &e) < 0) {
			rec->n = i + (en->bytes != NULL);
			rec_free(rec);
			return -ENOMEM; /* decoded once already: only memory fails */
		}
		memcpy(en->bytes, c->ents[i].msg, c->ents[i].len);
		en->len = c->ents[i].len;
		memcpy(en->id, c->ents[i].id, DEVMSG_ID_LEN);
		msg_handler_key(msg, en->key);
		devmsg_free(msg);
		/* It may have been handed to a handler before the restart. */
		en->redelivered = true;
		en->state = MSG_IN_NEW;
		rec->bytes += msgrec_inbox_entry_size(en->len);
		d->inbox.bytes += en->len;
		rec->n++;
	}
	rec->seq = seq;
	rec->on_disk = true;
	d->inbox.count += n;
	TAILQ_INSERT_TAIL(&d->inbox.recs, rec, link);
	c->entries += n;
	return 0;
}

int msg_inbox_load(struct messages *m, struct errmsg *err)
{
	struct load_ctx *c = calloc(1, sizeof(*c));
	if (!c)
		return errmsg_set(err, -ENOMEM, "out of memory");
	c->m = m;
	int r = msgstore_inbox_load(m->cfg.store, load_visit, c, err);
	if (r == 0 && (c->entries || c->skipped))
		log_info("%zu received durable messages wait for their handlers (%zu unreadable "
		         "inbox records skipped)",
		         c->entries, c->skipped);
	free(c);
	if (r < 0)
		return r;
	/* Their ids count as received before anything is read. */
	struct msg_device *d;
	TAILQ_FOREACH(d, &m->devices, link)
	if (!TAILQ_EMPTY(&d->inbox.recs) && !msg_device_dedup(m, d))
		return errmsg_set(err, -EIO, "cannot load the dedup window of device %s", d->id);
	msg_inbox_kick(m);
	return 0;
}
