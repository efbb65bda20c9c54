/* Durable queue records and dedup windows in the secure store (msgstore.h).
 * Record names are "<device_id>.<16 hex digits>", so the store's sorted
 * listing is already in sequence (or chunk) order per device. */
#include "msgstore.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "msgrec.h"
#include "securestore.h"

#define NS_QUEUE "queue"
#define NS_DEDUP "dedup"
#define NS_INBOX "inbox"
#define NUM_DIGITS 16

bool msgstore_device_id_ok(const char *id)
{
	size_t n = id ? strlen(id) : 0;
	if (n == 0 || n > MSGSTORE_DEVICE_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = id[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-'))
			return false;
	}
	return true;
}

static void record_name(char *out, size_t size, const char *device_id, uint64_t num)
{
	snprintf(out, size, "%s.%016" PRIx64, device_id, num);
}

/* Split "<device_id>.<16 hex>"; false for a name that is not ours. */
static bool parse_name(const char *name, char dev[MSGSTORE_DEVICE_ID_MAX + 1], uint64_t *num)
{
	const char *dot = strrchr(name, '.');
	if (!dot || (size_t)(dot - name) > MSGSTORE_DEVICE_ID_MAX || strlen(dot + 1) != NUM_DIGITS)
		return false;
	memcpy(dev, name, (size_t)(dot - name));
	dev[dot - name] = '\0';
	uint64_t v = 0;
	for (const char *p = dot + 1; *p; p++) {
		int d = (*p >= '0' && *p <= '9')   ? *p - '0'
		        : (*p >= 'a' && *p <= 'f') ? *p - 'a' + 10
		                                   : -1;
		if (d < 0)
			return false;
		v = v << 4 | (uint64_t)d;
	}
	*num = v;
	return msgstore_device_id_ok(dev);
}

int msgstore_put(struct securestore *s, const char *device_id, uint64_t seq, unsigned prio,
                 const uint8_t *msg, size_t msg_len, struct errmsg *err)
{
	if (!msgstore_device_id_ok(device_id))
		return errmsg_set(err, -EINVAL, "bad device id for the message queue");
	char name[MSGSTORE_DEVICE_ID_MAX + NUM_DIGITS + 2];
	record_name(name, sizeof(name), device_id, seq);
	struct buf rec = BUF_INIT;
	int r = msgrec_queue_encode(prio, seq, msg, msg_len, &rec);
	if (r < 0)
		r = errmsg_set(err, r, "cannot encode the queue record: %s", strerror(-r));
	else
		r = securestore_put(s, NS_QUEUE, name, rec.data, rec.len, err);
	buf_wipe_free(&rec);
	return r;
}

int msgstore_delete(struct securestore *s, const char *device_id, uint64_t seq, struct errmsg *err)
{
	char name[MSGSTORE_DEVICE_ID_MAX + NUM_DIGITS + 2];
	record_name(name, sizeof(name), device_id, seq);
	int r = securestore_delete(s, NS_QUEUE, name, err);
	return r == -ENOENT ? 0 : r;
}

int msgstore_unlink(struct securestore *s, const char *device_id, uint64_t seq, struct errmsg *err)
{
	char name[MSGSTORE_DEVICE_ID_MAX + NUM_DIGITS + 2];
	record_name(name, sizeof(name), device_id, seq);
	int r = securestore_unlink(s, NS_QUEUE, name, err);
	return r == -ENOENT ? 0 : r;
}

int msgstore_sync(struct securestore *s, struct errmsg *err)
{
	return securestore_sync(s, NS_QUEUE, err);
}

static int load_one(struct securestore *s, const char *name, msgstore_visit_fn visit, void *ctx,
                    size_t *skipped, struct errmsg *err)
{
	char dev[MSGSTORE_DEVICE_ID_MAX + 1];
	uint64_t seq;
	if (!parse_name(name, dev, &seq)) {
		log_warning("queue/%s: not a message queue record name; left in place", name);
		(*skipped)++;
		return 0;
	}
	_cleanup_secret_buf_ struct buf data = BUF_INIT;
	struct errmsg e;
	struct msgrec_queue q;
	int r = securestore_get(s, NS_QUEUE, name, &data, &e);
	if (r == 0)
		r = msgrec_queue_decode(data.data, data.len, &q, &e);
	if (r == 0 && q.seq != seq)
		r = errmsg_set(&e, -EBADMSG, "sequence %" PRIu64 " does not match the name", q.seq);
	if (r < 0) {
		log_warning("queue/%s: %s; skipped and left in place", name, e.text);
		(*skipped)++;
		return 0;
	}
	r = visit(ctx, dev, seq, q.prio, q.id, q.msg, q.msg_len);
	if (r < 0)
		return errmsg_set(err, r, "cannot queue stored message %s: %s", name, strerror(-r));
	return 0;
}

int msgstore_load(struct securestore *s, msgstore_visit_fn visit, void *ctx, size_t *ret_skipped,
                  struct errmsg *err)
{
	char **names = NULL;
	size_t skipped = 0;
	int r = securestore_list(s, NS_QUEUE, &names, err);
	for (size_t i = 0; r == 0 && names[i]; i++)
		r = load_one(s, names[i], visit, ctx, &skipped, err);
	securestore_names_free(names);
	if (ret_skipped)
		*ret_skipped = skipped;
	return r;
}

/* ---- dedup window ------------------------------------------------------- */

static int load_chunk(struct msgdedup *d, struct securestore *s, const char *name, uint64_t chunk,
                      bool *first)
{
	_cleanup_buf_ struct buf data = BUF_INIT;
	struct errmsg e;
	const uint8_t *ids;
	size_t n;
	int r = securestore_get(s, NS_DEDUP, name, &data, &e);
	if (r == 0)
		r = msgrec_dedup_decode(data.data, data.len, &ids, &n, &e);
	if (r < 0) {
		log_warning("dedup/%s: %s; skipped and left in place", name, e.text);
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		r = devmsg_dedup_add(&d->win, ids + i * DEVMSG_ID_LEN);
		if (r < 0 && r != -EEXIST)
			return r;
	}
	if (*first)
		d->first_chunk = chunk;
	*first = false;
	d->total = chunk * MSGREC_CHUNK_IDS + n;
	return 0;
}

int msgdedup_open(struct msgdedup *d, struct securestore *s, const char *device_id, size_t window,
                  uint64_t seed, struct errmsg *err)
{
	memset(d, 0, sizeof(*d));
	if (!msgstore_device_id_ok(device_id) || window < 2 * MSGREC_CHUNK_IDS)
		return errmsg_set(err, -EINVAL, "bad device id or dedup window");
	snprintf(d->device_id, sizeof(d->device_id), "%s", device_id);
	int r = devmsg_dedup_init(&d->win, window, seed);
	if (r < 0)
		return errmsg_set(err, r, "cannot allocate the dedup window: %s", strerror(-r));
	char **names = NULL;
	r = securestore_list(s, NS_DEDUP, &names, err);
	bool first = true;
	for (size_t i = 0; r == 0 && names[i]; i++) {
		char dev[MSGSTORE_DEVICE_ID_MAX + 1];
		uint64_t chunk;
		if (parse_name(names[i], dev, &chunk) && strcmp(dev, device_id) == 0 &&
		    chunk < UINT64_MAX / MSGREC_CHUNK_IDS)
			r = load_chunk(d, s, names[i], chunk, &first);
	}
	securestore_names_free(names);
	if (r < 0) {
		msgdedup_free(d);
		return r;
	}
	d->dirty_from = d->total;
	return 0;
}

void msgdedup_free(struct msgdedup *d)
{
	devmsg_dedup_free(&d->win);
}

bool msgdedup_contains(const struct msgdedup *d, const uint8_t id[DEVMSG_ID_LEN])
{
	return devmsg_dedup_contains(&d->win, id);
}

int msgdedup_add(struct msgdedup *d, const uint8_t id[DEVMSG_ID_LEN])
{
	int r = devmsg_dedup_add(&d->win, id);
	if (r == 0)
		d->total++;
	return r;
}

bool msgdedup_dirty(const struct msgdedup *d)
{
	return d->dirty_from < d->total;
}

/* Rewrite chunk k with the ids of it still in the window. */
static int write_chunk(struct msgdedup *d, struct securestore *s, uint64_t k, struct errmsg *err)
{
	size_t n = devmsg_dedup_count(&d->win);
	uint64_t oldest = d->total - n; /* number of the oldest id in the window */
	uint64_t from = k * MSGREC_CHUNK_IDS, to = from + MSGREC_CHUNK_IDS;
	if (from < oldest)
		from = oldest;
	if (to > d->total)
		to = d->total;
	if (from >= to)
		return 0;
	uint8_t ids[MSGREC_CHUNK_IDS][DEVMSG_ID_LEN];
	for (uint64_t g = from; g < to; g++)
		devmsg_dedup_get(&d->win, (size_t)(g - oldest), ids[g - from]);
	struct buf rec = BUF_INIT;
	int r = msgrec_dedup_encode(&ids[0][0], (size_t)(to - from), &rec);
	char name[MSGSTORE_DEVICE_ID_MAX + NUM_DIGITS + 2];
	record_name(name, sizeof(name), d->device_id, k);
	if (r == 0)
		r = securestore_put(s, NS_DEDUP, name, rec.data, rec.len, err);
	else
		r = errmsg_set(err, r, "cannot encode a dedup chunk");
	buf_free(&rec);
	return r;
}

/* Delete chunks whose every id left the window (best effort: a leftover
 * chunk only adds old ids when loaded). */
static void drop_old_chunks(struct msgdedup *d, struct securestore *s)
{
	uint64_t window = d->win.tab.max;
	if (d->total < window)
		return;
	uint64_t out = d->total - window; /* ids numbered below this are gone */
	for (; (d->first_chunk + 1) * MSGREC_CHUNK_IDS <= out; d->first_chunk++) {
		char name[MSGSTORE_DEVICE_ID_MAX + NUM_DIGITS + 2];
		record_name(name, sizeof(name), d->device_id, d->first_chunk);
		struct errmsg e;
		int r = securestore_delete(s, NS_DEDUP, name, &e);
		if (r < 0 && r != -ENOENT)
			log_warning("%s", e.text);
	}
}

int msgdedup_flush(struct msgdedup *d, struct securestore *s, struct errmsg *err)
{
	if (!msgdedup_dirty(d))
		return 0;
	uint64_t last = (d->total - 1) / MSGREC_CHUNK_IDS;
	for (uint64_t k = d->dirty_from / MSGREC_CHUNK_IDS; k <= last; k++) {
		int r = write_chunk(d, s, k, err);
		if (r < 0)
			return r;
		/* Chunks before k are complete on disk now. */
		d->dirty_from = k * MSGREC_CHUNK_IDS;
	}
	d->dirty_from = d->total;
	drop_old_chunks(d, s);
	return 0;
}

/* ---- inbox records ----------------------------------------------------------- */

int msgstore_inbox_put(struct securestore *s, const char *device_id, uint64_t seq,
                       const uint8_t *data, size_t len, struct errmsg *err)
{
	if (!msgstore_device_id_ok(device_id))
		return errmsg_set(err, -EINVAL, "bad device id for the message inbox");
	char name[MSGSTORE_DEVICE_ID_MAX + NUM_DIGITS + 2];
	record_name(name, sizeof(name), device_id, seq);
	return securestore_put(s, NS_INBOX, name, data, len, err);
}

int msgstore_inbox_delete(struct securestore *s, const char *device_id, uint64_t seq,
                          struct errmsg *err)
{
	char name[MSGSTORE_DEVICE_ID_MAX + NUM_DIGITS + 2];
	record_name(name, sizeof(name), device_id, seq);
	int r = securestore_delete(s, NS_INBOX, name, err);
	return r == -ENOENT ? 0 : r;
}

int msgstore_inbox_load(struct securestore *s, msgstore_inbox_fn visit, void *ctx,
                        struct errmsg *err)
{
	char **names = NULL;
	int r = securestore_list(s, NS_INBOX, &names, err);
	for (size_t i = 0; r == 0 && names[i]; i++) {
		char dev[MSGSTORE_DEVICE_ID_MAX + 1];
		uint64_t seq;
		if (!parse_name(names[i], dev, &seq)) {
			log_warning("inbox/%s: not a message inbox record name; left in place",
			            names[i]);
			continue;
		}
		_cleanup_secret_buf_ struct buf data = BUF_INIT;
		struct errmsg e;
		int g = securestore_get(s, NS_INBOX, names[i], &data, &e);
		r = visit(ctx, dev, seq, g == 0 ? data.data : NULL, g == 0 ? data.len : 0,
		          g == 0 ? NULL : e.text);
		if (r < 0)
			errmsg_set(err, r, "cannot load inbox record %s: %s", names[i],
			           strerror(-r));
	}
	securestore_names_free(names);
	return r;
}

/* ---- purging a device ---------------------------------------------------------- */

int msgstore_purge_device(struct securestore *s, const char *device_id, struct errmsg *err)
{
	if (!msgstore_device_id_ok(device_id))
		return errmsg_set(err, -EINVAL, "bad device id");
	static const char *const spaces[] = {NS_QUEUE, NS_DEDUP, NS_INBOX};
	int first = 0;
	for (size_t k = 0; k < sizeof(spaces) / sizeof(spaces[0]); k++) {
		char **names = NULL;
		struct errmsg e;
		int r = securestore_list(s, spaces[k], &names, &e);
		for (size_t i = 0; r == 0 && names[i]; i++) {
			char dev[MSGSTORE_DEVICE_ID_MAX + 1];
			uint64_t num;
			if (!parse_name(names[i], dev, &num) || strcmp(dev, device_id) != 0)
				continue;
			int d = securestore_delete(s, spaces[k], names[i], &e);
			if (d < 0 && d != -ENOENT && first == 0)
				first = errmsg_set(err, d, "%s", e.text);
		}
		securestore_names_free(names);
		if (r < 0 && first == 0)
			first = errmsg_set(err, r, "%s", e.text);
	}
	return first;
}
