/* The paired-device registry (see devices.h): a small array in memory,
 * written through to the secure store one record per device. Write first,
 * then change memory, so a failed write leaves both as they were. */
#include "devices.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "securestore.h"

#define DEVICES_NS "devices"

struct devices {
	struct securestore *store;
	struct device *v[DEVICES_MAX];
	size_t n;
	void (*changed)(void *ctx, const char *device_id);
	void *changed_ctx;
};

void devices_set_listener(struct devices *d, void (*changed)(void *ctx, const char *device_id),
                          void *ctx)
{
	d->changed = changed;
	d->changed_ctx = ctx;
}

static void notify(struct devices *d, const char *device_id)
{
	if (d->changed)
		d->changed(d->changed_ctx, device_id);
}

size_t devices_count(const struct devices *d)
{
	return d->n;
}

const struct device *devices_at(const struct devices *d, size_t i)
{
	return i < d->n ? d->v[i] : NULL;
}

static void free_one(struct device *dev)
{
	if (!dev)
		return;
	device_wipe(dev);
	free(dev);
}

void devices_free(struct devices *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->n; i++)
		free_one(d->v[i]);
	free(d);
}

static int load_one(struct devices *d, const char *name, struct errmsg *err)
{
	_cleanup_secret_buf_ struct buf b = BUF_INIT;
	int r = securestore_get(d->store, DEVICES_NS, name, &b, err);
	if (r < 0)
		return r;
	struct device *dev = calloc(1, sizeof(*dev));
	if (!dev)
		return -ENOMEM;
	r = device_record_decode(b.data, b.len, dev, err);
	if (r == 0 && strcmp(dev->info.device_id, name) != 0)
		r = errmsg_set(err, -EBADMSG, "the record names device %s", dev->info.device_id);
	if (r == 0 && devices_find_id(d, dev->info.device_id))
		r = errmsg_set(err, -EEXIST, "device %s is already loaded", dev->info.device_id);
	if (r == 0 && d->n == DEVICES_MAX)
		r = errmsg_set(err, -ENOSPC, "more than %d paired devices", DEVICES_MAX);
	if (r < 0) {
		free_one(dev);
		return r;
	}
	d->v[d->n++] = dev;
	return 0;
}

static int by_paired_at(const void *a, const void *b)
{
	const struct device *x = *(struct device *const *)a, *y = *(struct device *const *)b;
	return (x->paired_at > y->paired_at) - (x->paired_at < y->paired_at);
}

int devices_open(struct securestore *store, struct devices **ret, size_t *ret_skipped,
                 struct errmsg *err)
{
	struct devices *d = calloc(1, sizeof(*d));
	if (!d)
		return errmsg_set(err, -ENOMEM, "out of memory");
	d->store = store;
	char **names = NULL;
	int r = securestore_list(store, DEVICES_NS, &names, err);
	if (r < 0) {
		free(d);
		return r;
	}
	size_t skipped = 0;
	for (size_t i = 0; names[i]; i++) {
		struct errmsg e = {{0}};
		r = load_one(d, names[i], &e);
		if (r == -ENOMEM)
			break;
		if (r < 0) {
			skipped++;
			log_warning("paired device record %s/%s skipped (left on disk): %s",
			            DEVICES_NS, names[i], e.text);
		}
	}
	securestore_names_free(names);
	if (r == -ENOMEM) {
		devices_free(d);
		return errmsg_set(err, -ENOMEM, "out of memory");
	}
	qsort(d->v, d->n, sizeof(d->v[0]), by_paired_at);
	if (ret_skipped)
		*ret_skipped = skipped;
	*ret = d;
	return 0;
}

static ssize_t index_of_id(const struct devices *d, const char *device_id)
{
	for (size_t i = 0; i < d->n; i++)
		if (strcmp(d->v[i]->info.device_id, device_id) == 0)
			return (ssize_t)i;
	return -1;
}

const struct device *devices_find_id(const struct devices *d, const char *device_id)
{
	ssize_t k = index_of_id(d, device_id);
	return k < 0 ? NULL : d->v[k];
}

const struct device *devices_find_peer(const struct devices *d, const struct peerid *peer)
{
	for (size_t i = 0; i < d->n; i++)
		if (peerid_equal(&d->v[i]->info.peer_id, peer))
			return d->v[i];
	return NULL;
}

static void drop_at(struct devices *d, size_t k)
{
	free_one(d->v[k]);
	memmove(&d->v[k], &d->v[k + 1], (d->n - k - 1) * sizeof(d->v[0]));
	d->n--;
}

/* Another record (other device id) for the same peer: a device reset and
 * paired again. Its record goes; a failure to delete it is only logged,
 * since the new record is already safe. */
static void drop_same_peer(struct devices *d, const struct device *dev)
{
	for (size_t i = 0; i < d->n; i++) {
		if (!peerid_equal(&d->v[i]->info.peer_id, &dev->info.peer_id) ||
		    strcmp(d->v[i]->info.device_id, dev->info.device_id) == 0)
			continue;
		struct errmsg e = {{0}};
		if (securestore_delete(d->store, DEVICES_NS, d->v[i]->info.device_id, &e) < 0)
			log_warning("cannot delete the old record of a re-paired device: %s",
			            e.text);
		drop_at(d, i);
		return;
	}
}

int devices_put(struct devices *d, const struct device *dev, struct errmsg *err)
{
	ssize_t k = index_of_id(d, dev->info.device_id);
	if (k < 0 && d->n == DEVICES_MAX)
		return errmsg_set(
		        err, -ENOSPC,
		        "%d devices are paired already; forget one before pairing another",
		        DEVICES_MAX);
	struct device *copy = malloc(sizeof(*copy));
	if (!copy)
		return errmsg_set(err, -ENOMEM, "out of memory");
	*copy = *dev;
	_cleanup_secret_buf_ struct buf rec = BUF_INIT;
	int r = device_record_encode(copy, &rec);
	if (r < 0) {
		free_one(copy);
		return errmsg_set(err, r, "device %s: not a valid record", dev->info.device_id);
	}
	r = securestore_put(d->store, DEVICES_NS, copy->info.device_id, rec.data, rec.len, err);
	if (r < 0) {
		free_one(copy);
		return r;
	}
	if (k >= 0) {
		free_one(d->v[k]);
		d->v[k] = copy;
	} else {
		d->v[d->n++] = copy;
	}
	drop_same_peer(d, copy);
	notify(d, copy->info.device_id);
	return 0;
}

int devices_remove(struct devices *d, const char *device_id, struct errmsg *err)
{
	ssize_t k = index_of_id(d, device_id);
	if (k < 0)
		return errmsg_set(err, -ENOENT, "no paired device has the id %s", device_id);
	int r = securestore_delete(d->store, DEVICES_NS, device_id, err);
	if (r < 0 && r != -ENOENT)
		return r;
	/* device_id may point into the record being dropped. */
	char id[PAIRING_DEVICE_ID_LEN + 1];
	snprintf(id, sizeof(id), "%s", device_id);
	drop_at(d, (size_t)k);
	notify(d, id);
	return 0;
}

/* Does dev answer to q? 2: exactly (name, id, peer ID); 1: id prefix. */
static int match(const struct device *dev, const char *q, const struct peerid *qpeer)
{
	if (strcmp(dev->info.name, q) == 0 || strcmp(dev->info.device_id, q) == 0)
		return 2;
	if (qpeer && peerid_equal(&dev->info.peer_id, qpeer))
		return 2;
	size_t len = strlen(q);
	if (len >= DEVICES_MIN_PREFIX && strncmp(dev->info.device_id, q, len) == 0)
		return 1;
	return 0;
}

/* "'a' (1234abcd-...), 'b' (...)" for an ambiguity message. */
static void list_matches(const struct devices *d, const char *q, const struct peerid *qpeer,
                         int level, char *out, size_t size)
{
	size_t used = 0;
	out[0] = '\0';
	for (size_t i = 0; i < d->n && used < size; i++) {
		if (match(d->v[i], q, qpeer) != level)
			continue;
		int w = snprintf(out + used, size - used, "%s'%s' (%s)", used ? ", " : "",
		                 d->v[i]->info.name, d->v[i]->info.device_id);
		if (w < 0)
			break;
		used += (size_t)w;
	}
}

int devices_lookup(const struct devices *d, const char *query, const struct device **ret,
                   struct errmsg *err)
{
	struct peerid qp;
	const struct peerid *qpeer = peerid_parse(query, &qp, NULL) == 0 ? &qp : NULL;
	/* Exact matches win over prefixes: a name that happens to start
	 * another device's id still names its own device. */
	for (int level = 2; level >= 1; level--) {
		const struct device *found = NULL;
		size_t count = 0;
		for (size_t i = 0; i < d->n; i++) {
			if (match(d->v[i], query, qpeer) == level) {
				found = d->v[i];
				count++;
			}
		}
		if (count == 1) {
			*ret = found;
			return 0;
		}
		if (count > 1) {
			char list[160];
			list_matches(d, query, qpeer, level, list, sizeof(list));
			return errmsg_set(err, -ENOTUNIQ,
			                  "'%s' matches %zu paired devices (%s); name one by its "
			                  "device id",
			                  query, count, list);
		}
	}
	return errmsg_set(err, -ENOENT,
	                  "no paired device is called '%s' (a name, a device id or at least %d "
	                  "of its first characters, or a peer ID); 'spacedrive network devices' "
	                  "lists them",
	                  query, DEVICES_MIN_PREFIX);
}
