/* Rendezvous fan-out (see rendezvous.h): the pairing service asks this
 * object, never a backend, so a new backend (mDNS now, the DHT later) is one
 * rendezvous_add_backend() call and no change to pairing.
 *
 * Lookups are remembered (id, callback) so that a backend added while a
 * joiner is already looking starts looking too: mDNS may come up after the
 * join began. Advertisements are remembered the same way. */
#include "rendezvous.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

/* Backends one node runs: mDNS and the DHT, with room to spare. */
#define RENDEZVOUS_MAX_BACKENDS 8
/* Ids advertised or looked up at once: one per running pairing session, and
 * the pairing service caps those well below this. */
#define RENDEZVOUS_MAX_IDS 32

struct rv_lookup {
	uint8_t id[RENDEZVOUS_ID_LEN];
	rendezvous_found_cb cb;
	void *ctx;
};

struct rendezvous {
	const struct rendezvous_backend *backends[RENDEZVOUS_MAX_BACKENDS];
	size_t n_backends;
	uint8_t adverts[RENDEZVOUS_MAX_IDS][RENDEZVOUS_ID_LEN];
	size_t n_adverts;
	struct rv_lookup lookups[RENDEZVOUS_MAX_IDS];
	size_t n_lookups;
};

struct rendezvous *rendezvous_new(void)
{
	return calloc(1, sizeof(struct rendezvous));
}

void rendezvous_free(struct rendezvous *r)
{
	free(r);
}

size_t rendezvous_backend_count(const struct rendezvous *r)
{
	return r ? r->n_backends : 0;
}

static int start_lookup(const struct rendezvous_backend *b, const struct rv_lookup *l)
{
	return b->lookup ? b->lookup(b->impl, l->id, l->cb, l->ctx) : -EOPNOTSUPP;
}

static int start_advert(const struct rendezvous_backend *b, const uint8_t *id)
{
	return b->advertise ? b->advertise(b->impl, id) : -EOPNOTSUPP;
}

int rendezvous_add_backend(struct rendezvous *r, const struct rendezvous_backend *b)
{
	if (!r || !b)
		return -EINVAL;
	for (size_t i = 0; i < r->n_backends; i++)
		if (r->backends[i] == b)
			return -EEXIST;
	if (r->n_backends == RENDEZVOUS_MAX_BACKENDS)
		return -ENOSPC;
	r->backends[r->n_backends++] = b;
	/* Catch up on what is already running; a backend that cannot take
	 * one is simply not part of it (the others still are). */
	for (size_t i = 0; i < r->n_adverts; i++)
		(void)start_advert(b, r->adverts[i]);
	for (size_t i = 0; i < r->n_lookups; i++)
		(void)start_lookup(b, &r->lookups[i]);
	return 0;
}

void rendezvous_remove_backend(struct rendezvous *r, const struct rendezvous_backend *b)
{
	if (!r || !b)
		return;
	for (size_t i = 0; i < r->n_backends; i++) {
		if (r->backends[i] != b)
			continue;
		memmove(&r->backends[i], &r->backends[i + 1],
		        (r->n_backends - i - 1) * sizeof(r->backends[0]));
		r->n_backends--;
		return;
	}
}

static ssize_t find_advert(const struct rendezvous *r, const uint8_t *id)
{
	for (size_t i = 0; i < r->n_adverts; i++)
		if (memcmp(r->adverts[i], id, RENDEZVOUS_ID_LEN) == 0)
			return (ssize_t)i;
	return -1;
}

static ssize_t find_lookup(const struct rendezvous *r, const uint8_t *id)
{
	for (size_t i = 0; i < r->n_lookups; i++)
		if (memcmp(r->lookups[i].id, id, RENDEZVOUS_ID_LEN) == 0)
			return (ssize_t)i;
	return -1;
}

/* 0 when some backend took it or there are none; else the first error. */
int rendezvous_advertise(struct rendezvous *r, const uint8_t id[RENDEZVOUS_ID_LEN])
{
	if (!r || !id)
		return -EINVAL;
	if (find_advert(r, id) >= 0)
		return -EEXIST;
	if (r->n_adverts == RENDEZVOUS_MAX_IDS)
		return -ENOSPC;
	int first_err = 0;
	bool taken = r->n_backends == 0;
	for (size_t i = 0; i < r->n_backends; i++) {
		int e = start_advert(r->backends[i], id);
		if (e == 0)
			taken = true;
		else if (!first_err)
			first_err = e;
	}
	if (!taken)
		return first_err;
	memcpy(r->adverts[r->n_adverts++], id, RENDEZVOUS_ID_LEN);
	return 0;
}

void rendezvous_withdraw(struct rendezvous *r, const uint8_t id[RENDEZVOUS_ID_LEN])
{
	ssize_t k = r && id ? find_advert(r, id) : -1;
	if (k < 0)
		return;
	for (size_t i = 0; i < r->n_backends; i++)
		if (r->backends[i]->withdraw)
			r->backends[i]->withdraw(r->backends[i]->impl, id);
	memmove(r->adverts[k], r->adverts[k + 1],
	        (r->n_adverts - (size_t)k - 1) * RENDEZVOUS_ID_LEN);
	r->n_adverts--;
}

int rendezvous_lookup(struct rendezvous *r, const uint8_t id[RENDEZVOUS_ID_LEN],
                      rendezvous_found_cb cb, void *ctx)
{
	if (!r || !id || !cb)
		return -EINVAL;
	if (find_lookup(r, id) >= 0)
		return -EEXIST;
	if (r->n_lookups == RENDEZVOUS_MAX_IDS)
		return -ENOSPC;
	struct rv_lookup *l = &r->lookups[r->n_lookups];
	memcpy(l->id, id, RENDEZVOUS_ID_LEN);
	l->cb = cb;
	l->ctx = ctx;
	int first_err = 0;
	bool taken = r->n_backends == 0;
	for (size_t i = 0; i < r->n_backends; i++) {
		int e = start_lookup(r->backends[i], l);
		if (e == 0)
			taken = true;
		else if (!first_err)
			first_err = e;
	}
	if (!taken)
		return first_err;
	r->n_lookups++;
	return 0;
}

void rendezvous_lookup_stop(struct rendezvous *r, const uint8_t id[RENDEZVOUS_ID_LEN])
{
	ssize_t k = r && id ? find_lookup(r, id) : -1;
	if (k < 0)
		return;
	for (size_t i = 0; i < r->n_backends; i++)
		if (r->backends[i]->lookup_stop)
			r->backends[i]->lookup_stop(r->backends[i]->impl, id);
	memmove(&r->lookups[k], &r->lookups[k + 1],
	        (r->n_lookups - (size_t)k - 1) * sizeof(r->lookups[0]));
	r->n_lookups--;
}
