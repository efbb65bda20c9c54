/* The peers mDNS told us about, bounded: at most max entries of at most
 * MDNS_MAX_ADDRS_PER_PEER addresses, each address with its own expiry (each
 * TXT record is its own DNS record with its own TTL, and a peer may split
 * its addresses over several packets). Time comes from the caller.
 *
 * When full, the entry closest to expiry makes room: honest peers refresh
 * their entries at every announcement, so a flood of fake peers can only
 * push real ones out until their next answer, never lock them out. */
#include "mdns.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* RFC 6762 section 10.1: a goodbye record is dropped one second later. */
#define MDNS_GOODBYE_DELAY_MS 1000

int mdns_cache_init(struct mdns_cache *c, size_t max)
{
	memset(c, 0, sizeof(*c));
	c->max = max ? max : MDNS_CACHE_MAX_PEERS;
	c->entries = calloc(c->max, sizeof(*c->entries));
	return c->entries ? 0 : -ENOMEM;
}

static void entry_clear(struct mdns_cache_entry *e)
{
	for (size_t i = 0; i < e->n_addrs; i++)
		multiaddr_free(&e->addrs[i].ma);
	e->n_addrs = 0;
}

void mdns_cache_free(struct mdns_cache *c)
{
	if (!c->entries)
		return;
	for (size_t i = 0; i < c->n; i++)
		entry_clear(&c->entries[i]);
	free(c->entries);
	memset(c, 0, sizeof(*c));
}

static uint64_t entry_expiry(const struct mdns_cache_entry *e)
{
	uint64_t last = 0;
	for (size_t i = 0; i < e->n_addrs; i++)
		if (e->addrs[i].expires_ms > last)
			last = e->addrs[i].expires_ms;
	return last;
}

static void entry_remove(struct mdns_cache *c, size_t i)
{
	entry_clear(&c->entries[i]);
	c->entries[i] = c->entries[--c->n];
}

static struct mdns_cache_entry *entry_new(struct mdns_cache *c, const struct peerid *id,
                                          uint64_t now_ms)
{
	if (c->n == c->max) {
		size_t victim = 0;
		for (size_t i = 1; i < c->n; i++)
			if (entry_expiry(&c->entries[i]) < entry_expiry(&c->entries[victim]))
				victim = i;
		entry_remove(c, victim);
		c->evicted++;
	}
	struct mdns_cache_entry *e = &c->entries[c->n++];
	memset(e, 0, sizeof(*e));
	e->id = *id;
	e->first_seen_ms = now_ms;
	return e;
}

static uint64_t expiry_for(uint32_t ttl_s, uint64_t now_ms)
{
	return ttl_s ? now_ms + (uint64_t)ttl_s * 1000 : now_ms + MDNS_GOODBYE_DELAY_MS;
}

/* Returns 1 if the address is new to the entry, 0 if refreshed or not
 * kept (entry full), -ENOMEM. */
static int entry_put(struct mdns_cache_entry *e, const struct mdns_found_addr *a, uint64_t now_ms)
{
	uint64_t exp = expiry_for(a->ttl_s, now_ms);
	for (size_t i = 0; i < e->n_addrs; i++) {
		if (multiaddr_equal(&e->addrs[i].ma, &a->ma)) {
			e->addrs[i].expires_ms = exp;
			return 0;
		}
	}
	if (a->ttl_s == 0 || e->n_addrs == MDNS_MAX_ADDRS_PER_PEER)
		return 0;
	int r = multiaddr_copy(&a->ma, &e->addrs[e->n_addrs].ma);
	if (r < 0)
		return r;
	e->addrs[e->n_addrs++].expires_ms = exp;
	return 1;
}

static struct mdns_cache_entry *find(const struct mdns_cache *c, const struct peerid *id)
{
	for (size_t i = 0; i < c->n; i++)
		if (peerid_equal(&c->entries[i].id, id))
			return &c->entries[i];
	return NULL;
}

int mdns_cache_update(struct mdns_cache *c, const struct mdns_found *f, uint64_t now_ms)
{
	struct mdns_cache_entry *e = find(c, &f->id);
	int change = MDNS_CACHE_REFRESHED;
	if (!e) {
		bool any_live = false;
		for (size_t i = 0; i < f->n_addrs; i++)
			any_live |= f->addrs[i].ttl_s > 0;
		/* A goodbye from a peer we never knew changes nothing. */
		if (!any_live || f->ptr_ttl_s == 0)
			return MDNS_CACHE_REFRESHED;
		e = entry_new(c, &f->id, now_ms);
		change = MDNS_CACHE_NEW;
	}
	e->last_seen_ms = now_ms;
	/* Every packet of a response repeats the name, so the latest one
	 * says whether the peer still shows it. */
	if (strcmp(e->device_name, f->device_name) != 0) {
		memcpy(e->device_name, f->device_name, sizeof(e->device_name));
		if (change == MDNS_CACHE_REFRESHED)
			change = MDNS_CACHE_CHANGED;
	}
	for (size_t i = 0; i < f->n_addrs; i++) {
		int r = entry_put(e, &f->addrs[i], now_ms);
		if (r < 0) {
			if (e->n_addrs == 0)
				entry_remove(c, (size_t)(e - c->entries));
			return r;
		}
		if (r > 0 && change == MDNS_CACHE_REFRESHED)
			change = MDNS_CACHE_CHANGED;
	}
	/* The PTR's goodbye withdraws the whole peer. */
	if (f->ptr_ttl_s == 0)
		for (size_t i = 0; i < e->n_addrs; i++)
			if (e->addrs[i].expires_ms > now_ms + MDNS_GOODBYE_DELAY_MS)
				e->addrs[i].expires_ms = now_ms + MDNS_GOODBYE_DELAY_MS;
	if (e->n_addrs == 0) {
		entry_remove(c, (size_t)(e - c->entries));
		return MDNS_CACHE_REFRESHED;
	}
	return change;
}

/* Drop the expired addresses of entry i; returns how many went. */
static size_t entry_expire(struct mdns_cache_entry *e, uint64_t now_ms)
{
	size_t kept = 0, n = e->n_addrs;
	for (size_t i = 0; i < n; i++) {
		if (e->addrs[i].expires_ms <= now_ms)
			multiaddr_free(&e->addrs[i].ma);
		else
			e->addrs[kept++] = e->addrs[i];
	}
	e->n_addrs = kept;
	return n - kept;
}

int mdns_cache_expire_one(struct mdns_cache *c, uint64_t now_ms, struct peerid *ret_id,
                          bool *ret_gone)
{
	for (size_t i = 0; i < c->n; i++) {
		struct mdns_cache_entry *e = &c->entries[i];
		if (entry_expire(e, now_ms) == 0)
			continue;
		*ret_id = e->id;
		*ret_gone = e->n_addrs == 0;
		if (*ret_gone)
			entry_remove(c, i);
		return 1;
	}
	return 0;
}

uint64_t mdns_cache_next_expiry(const struct mdns_cache *c)
{
	uint64_t next = UINT64_MAX;
	for (size_t i = 0; i < c->n; i++)
		for (size_t j = 0; j < c->entries[i].n_addrs; j++)
			if (c->entries[i].addrs[j].expires_ms < next)
				next = c->entries[i].addrs[j].expires_ms;
	return next;
}

const struct mdns_cache_entry *mdns_cache_find(const struct mdns_cache *c, const struct peerid *id)
{
	for (size_t i = 0; i < c->n; i++)
		if (peerid_equal(&c->entries[i].id, id))
			return &c->entries[i];
	return NULL;
}
