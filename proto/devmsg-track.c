/* Request/response correlation and the dedup window of DeviceMessage ids
 * (devmsg.h). Both are bounded hash tables of 16-byte ids: open addressing
 * with linear probing, at most half full, and backward-shift deletion so no
 * tombstones pile up under churn. Ids from a peer are hashed with a seed the
 * peer does not know, so it cannot line them up in one probe chain. */
#include "devmsg.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static uint64_t mix64(uint64_t x)
{
	/* splitmix64 finalizer: every input bit affects every output bit. */
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x;
}

static size_t id_hash(const struct devmsg_idtab *t, const uint8_t id[DEVMSG_ID_LEN])
{
	uint64_t a, b;
	memcpy(&a, id, 8);
	memcpy(&b, id + 8, 8);
	return (size_t)(mix64(a ^ t->seed) ^ mix64(b + 0x9e3779b97f4a7c15ull * (t->seed | 1)));
}

static int idtab_init(struct devmsg_idtab *t, size_t max, uint64_t seed)
{
	memset(t, 0, sizeof(*t));
	if (max == 0 || max > DEVMSG_TRACK_MAX)
		return -EINVAL;
	size_t size = 2;
	while (size < 2 * max)
		size <<= 1;
	t->slots = calloc(size, sizeof(*t->slots));
	if (!t->slots)
		return -ENOMEM;
	t->mask = size - 1;
	t->max = max;
	t->seed = seed;
	return 0;
}

static void idtab_free(struct devmsg_idtab *t)
{
	free(t->slots);
	memset(t, 0, sizeof(*t));
}

static struct devmsg_idtab_slot *idtab_find(const struct devmsg_idtab *t,
                                            const uint8_t id[DEVMSG_ID_LEN])
{
	if (!t->slots)
		return NULL;
	for (size_t i = id_hash(t, id) & t->mask;; i = (i + 1) & t->mask) {
		struct devmsg_idtab_slot *s = &t->slots[i];
		if (!s->used)
			return NULL;
		if (memcmp(s->id, id, DEVMSG_ID_LEN) == 0)
			return s;
	}
}

static int idtab_insert(struct devmsg_idtab *t, const uint8_t id[DEVMSG_ID_LEN],
                        struct devmsg_idtab_slot **ret)
{
	if (!t->slots)
		return -EINVAL;
	size_t i = id_hash(t, id) & t->mask;
	for (; t->slots[i].used; i = (i + 1) & t->mask)
		if (memcmp(t->slots[i].id, id, DEVMSG_ID_LEN) == 0)
			return -EEXIST;
	if (t->n >= t->max)
		return -ENOSPC;
	struct devmsg_idtab_slot *s = &t->slots[i];
	memcpy(s->id, id, DEVMSG_ID_LEN);
	s->used = 1;
	s->a = s->b = 0;
	t->n++;
	*ret = s;
	return 0;
}

/* Whether home position k lies cyclically in (hole, j]: then the entry at j
 * may not move into the hole. */
static bool stays(size_t k, size_t hole, size_t j)
{
	if (hole <= j)
		return hole < k && k <= j;
	return hole < k || k <= j;
}

static void idtab_remove(struct devmsg_idtab *t, struct devmsg_idtab_slot *s)
{
	size_t hole = (size_t)(s - t->slots);
	t->slots[hole].used = 0;
	t->n--;
	for (size_t j = (hole + 1) & t->mask; t->slots[j].used; j = (j + 1) & t->mask) {
		size_t k = id_hash(t, t->slots[j].id) & t->mask;
		if (stays(k, hole, j))
			continue;
		t->slots[hole] = t->slots[j];
		t->slots[j].used = 0;
		hole = j;
	}
}

/* ---- correlation ----------------------------------------------------------- */

int devmsg_corr_init(struct devmsg_corr *t, size_t max_outstanding)
{
	/* Our own request ids are random; no seed needed. */
	return idtab_init(&t->tab, max_outstanding, 0);
}

void devmsg_corr_free(struct devmsg_corr *t)
{
	idtab_free(&t->tab);
}

int devmsg_corr_add(struct devmsg_corr *t, const uint8_t id[DEVMSG_ID_LEN], uint64_t deadline_ms,
                    uint64_t cookie)
{
	struct devmsg_idtab_slot *s;
	int r = idtab_insert(&t->tab, id, &s);
	if (r < 0)
		return r;
	s->a = deadline_ms;
	s->b = cookie;
	return 0;
}

int devmsg_corr_match(struct devmsg_corr *t, const uint8_t id[DEVMSG_ID_LEN], uint64_t now_ms,
                      uint64_t *ret_cookie)
{
	struct devmsg_idtab_slot *s = idtab_find(&t->tab, id);
	if (!s)
		return -ENOENT;
	bool late = now_ms >= s->a;
	*ret_cookie = s->b;
	idtab_remove(&t->tab, s);
	return late ? -ETIMEDOUT : 0;
}

int devmsg_corr_cancel(struct devmsg_corr *t, const uint8_t id[DEVMSG_ID_LEN], uint64_t *ret_cookie)
{
	struct devmsg_idtab_slot *s = idtab_find(&t->tab, id);
	if (!s)
		return -ENOENT;
	if (ret_cookie)
		*ret_cookie = s->b;
	idtab_remove(&t->tab, s);
	return 0;
}

size_t devmsg_corr_expire(struct devmsg_corr *t, uint64_t now_ms, struct devmsg_expired *out,
                          size_t max)
{
	/* Collect first, remove after: removal shifts entries around. */
	size_t n = 0;
	for (size_t i = 0; t->tab.slots && i <= t->tab.mask && n < max; i++) {
		const struct devmsg_idtab_slot *s = &t->tab.slots[i];
		if (s->used && now_ms >= s->a) {
			memcpy(out[n].id, s->id, DEVMSG_ID_LEN);
			out[n].cookie = s->b;
			n++;
		}
	}
	for (size_t i = 0; i < n; i++)
		idtab_remove(&t->tab, idtab_find(&t->tab, out[i].id));
	return n;
}

uint64_t devmsg_corr_next_deadline(const struct devmsg_corr *t)
{
	uint64_t min = UINT64_MAX;
	for (size_t i = 0; t->tab.slots && i <= t->tab.mask; i++)
		if (t->tab.slots[i].used && t->tab.slots[i].a < min)
			min = t->tab.slots[i].a;
	return min;
}

size_t devmsg_corr_count(const struct devmsg_corr *t)
{
	return t->tab.n;
}

/* ---- dedup window ---------------------------------------------------------- */

int devmsg_dedup_init(struct devmsg_dedup *d, size_t window, uint64_t seed)
{
	memset(d, 0, sizeof(*d));
	int r = idtab_init(&d->tab, window, seed);
	if (r < 0)
		return r;
	d->ring = calloc(window, sizeof(*d->ring));
	if (!d->ring) {
		idtab_free(&d->tab);
		return -ENOMEM;
	}
	return 0;
}

void devmsg_dedup_free(struct devmsg_dedup *d)
{
	idtab_free(&d->tab);
	free(d->ring);
	memset(d, 0, sizeof(*d));
}

bool devmsg_dedup_contains(const struct devmsg_dedup *d, const uint8_t id[DEVMSG_ID_LEN])
{
	return idtab_find(&d->tab, id) != NULL;
}

static void evict_oldest(struct devmsg_dedup *d)
{
	idtab_remove(&d->tab, idtab_find(&d->tab, d->ring[d->head]));
	d->head = (d->head + 1) % d->tab.max;
	d->n--;
	d->evicted++;
}

int devmsg_dedup_add(struct devmsg_dedup *d, const uint8_t id[DEVMSG_ID_LEN])
{
	if (!d->ring)
		return -EINVAL;
	if (devmsg_dedup_contains(d, id))
		return -EEXIST;
	if (d->n == d->tab.max)
		evict_oldest(d);
	struct devmsg_idtab_slot *s;
	int r = idtab_insert(&d->tab, id, &s);
	if (r < 0)
		return r;
	s->a = d->seq++;
	memcpy(d->ring[(d->head + d->n) % d->tab.max], id, DEVMSG_ID_LEN);
	d->n++;
	return 0;
}

size_t devmsg_dedup_count(const struct devmsg_dedup *d)
{
	return d->n;
}

int devmsg_dedup_get(const struct devmsg_dedup *d, size_t i, uint8_t ret_id[DEVMSG_ID_LEN])
{
	if (i >= d->n)
		return -ERANGE;
	memcpy(ret_id, d->ring[(d->head + i) % d->tab.max], DEVMSG_ID_LEN);
	return 0;
}
