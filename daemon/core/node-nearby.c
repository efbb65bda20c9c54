/* Nearby devices (see node-nearby.h): a snapshot of every mDNS engine's
 * peers, one entry per peer however many interfaces heard it, for
 * spacedrop.nearby and for Spacedrop targets given by name. */
#include "node-nearby.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "devices/devices.h"
#include "discovery/mdns-service.h"
#include "net/clock.h"
#include "node-mdns.h"
#include "node-pairing.h"
#include "node.h"

struct nearby {
	struct peerid id;
	char name[MDNS_DEVICE_NAME_MAX + 1]; /* "": none */
	json_t *addrs, *ifaces;
	uint64_t last_seen_ms, expires_ms;
};

struct snapshot {
	struct nearby *v;
	size_t n;
	bool nomem;
};

static void snapshot_free(struct snapshot *s)
{
	for (size_t i = 0; i < s->n; i++) {
		json_decref(s->v[i].addrs);
		json_decref(s->v[i].ifaces);
	}
	free(s->v);
}

static struct nearby *entry_for(struct snapshot *s, const struct peerid *id)
{
	for (size_t i = 0; i < s->n; i++)
		if (peerid_equal(&s->v[i].id, id))
			return &s->v[i];
	if (s->n == NODE_NEARBY_MAX)
		return NULL;
	struct nearby *e = &s->v[s->n];
	memset(e, 0, sizeof(*e));
	e->id = *id;
	e->addrs = json_array();
	e->ifaces = json_array();
	if (!e->addrs || !e->ifaces) {
		json_decref(e->addrs);
		json_decref(e->ifaces);
		s->nomem = true;
		return NULL;
	}
	s->n++;
	return e;
}

/* Append text to a JSON array of strings unless it is there already. */
static void add_unique(json_t *a, const char *text)
{
	size_t i;
	json_t *v;
	json_array_foreach(a, i, v)
	{
		if (strcmp(json_string_value(v), text) == 0)
			return;
	}
	json_array_append_new(a, json_string(text));
}

static void take_peer(const struct mdns_nearby_peer *p, void *ctx)
{
	struct snapshot *s = ctx;
	struct nearby *e = entry_for(s, p->id);
	if (!e)
		return;
	if (p->device_name && (!e->name[0] || p->last_seen_ms > e->last_seen_ms))
		snprintf(e->name, sizeof(e->name), "%s", p->device_name);
	if (p->last_seen_ms > e->last_seen_ms)
		e->last_seen_ms = p->last_seen_ms;
	if (p->expires_ms > e->expires_ms)
		e->expires_ms = p->expires_ms;
	add_unique(e->ifaces, p->ifname);
	for (size_t i = 0; i < p->n_addrs; i++) {
		char text[MULTIADDR_TEXT_MAX];
		if (multiaddr_to_string(p->addrs[i], text, sizeof(text)) >= 0)
			add_unique(e->addrs, text);
	}
}

static int take_snapshot(struct node *n, struct snapshot *s)
{
	memset(s, 0, sizeof(*s));
	if (!n->mdns || !n->mdns->svc)
		return 0;
	if (!(s->v = calloc(NODE_NEARBY_MAX, sizeof(*s->v))))
		return -ENOMEM;
	mdns_service_foreach_peer(n->mdns->svc, take_peer, s, mono_ms());
	return s->nomem ? -ENOMEM : 0;
}

static int by_name(const void *a, const void *b)
{
	const struct nearby *x = a, *y = b;
	if (!x->name[0] != !y->name[0])
		return x->name[0] ? -1 : 1;
	int c = strcmp(x->name, y->name);
	if (c)
		return c;
	char px[PEERID_TEXT_MAX] = "", py[PEERID_TEXT_MAX] = "";
	peerid_to_string(&x->id, px, sizeof(px));
	peerid_to_string(&y->id, py, sizeof(py));
	return strcmp(px, py);
}

static json_t *entry_json(struct node *n, const struct nearby *e, uint64_t now)
{
	char id[PEERID_TEXT_MAX] = "";
	peerid_to_string(&e->id, id, sizeof(id));
	const struct device *d = n->pairing && n->pairing->devices
	                                 ? devices_find_peer(n->pairing->devices, &e->id)
	                                 : NULL;
	return json_pack("{s:s, s:o, s:O, s:O, s:I, s:I, s:b, s:o}", "peer_id", id, "name",
	                 e->name[0] ? json_string(e->name) : json_null(), "addresses", e->addrs,
	                 "interfaces", e->ifaces, "last_seen_ms",
	                 (json_int_t)(now > e->last_seen_ms ? now - e->last_seen_ms : 0),
	                 "expires_in_ms",
	                 (json_int_t)(e->expires_ms > now ? e->expires_ms - now : 0), "paired",
	                 d != NULL, "device_id", d ? json_string(d->info.device_id) : json_null());
}

json_t *node_nearby_json(struct node *n)
{
	struct snapshot s;
	if (take_snapshot(n, &s) < 0) {
		snapshot_free(&s);
		return NULL;
	}
	uint64_t now = mono_ms();
	if (s.n)
		qsort(s.v, s.n, sizeof(s.v[0]), by_name);
	json_t *a = json_array();
	for (size_t i = 0; a && i < s.n; i++) {
		json_t *o = entry_json(n, &s.v[i], now);
		if (!o || json_array_append_new(a, o) < 0) {
			json_decref(a);
			a = NULL;
		}
	}
	snapshot_free(&s);
	return a;
}

/* Whether name starts with prefix, ASCII letters compared without case
 * (other bytes exactly, so UTF-8 stays intact). */
static bool prefix_nocase(const char *name, const char *prefix)
{
	size_t k = strlen(prefix);
	return strlen(name) >= k && strncasecmp(name, prefix, k) == 0;
}

/* "12D3KooA... ('laptop'), 12D3KooB... ('Laptop 2')" into out. */
static void list_matches(const struct snapshot *s, const bool *hit, char *out, size_t cap)
{
	size_t len = 0;
	out[0] = '\0';
	for (size_t i = 0; i < s->n && len < cap; i++) {
		if (!hit[i])
			continue;
		char id[PEERID_TEXT_MAX] = "";
		peerid_to_string(&s->v[i].id, id, sizeof(id));
		int k = snprintf(out + len, cap - len, "%s%s ('%s')", len ? ", " : "", id,
		                 s->v[i].name);
		if (k < 0)
			break;
		len += (size_t)k;
	}
}

/* Mark the matches of one rule; returns how many. */
static size_t mark(const struct snapshot *s, const char *name, bool exact, bool *hit)
{
	size_t k = 0;
	for (size_t i = 0; i < s->n; i++) {
		hit[i] = s->v[i].name[0] && (exact ? strcmp(s->v[i].name, name) == 0
		                                   : prefix_nocase(s->v[i].name, name));
		k += hit[i];
	}
	return k;
}

static int pick(const struct snapshot *s, const char *name, char ret_peer[PEERID_TEXT_MAX],
                struct errmsg *err)
{
	bool hit[NODE_NEARBY_MAX];
	size_t k = mark(s, name, true, hit);
	if (k == 0)
		k = mark(s, name, false, hit);
	if (k == 0)
		return -ENOENT;
	if (k > 1) {
		char list[1024];
		list_matches(s, hit, list, sizeof(list));
		return errmsg_set(err, -ENOTUNIQ,
		                  "%zu nearby devices are named '%s': %s; give the peer ID instead",
		                  k, name, list);
	}
	for (size_t i = 0; i < s->n; i++)
		if (hit[i])
			peerid_to_string(&s->v[i].id, ret_peer, PEERID_TEXT_MAX);
	return 0;
}

int node_nearby_resolve(struct node *n, const char *name, char ret_peer[PEERID_TEXT_MAX],
                        struct errmsg *err)
{
	struct snapshot s;
	int r = name && *name ? take_snapshot(n, &s) : (memset(&s, 0, sizeof(s)), 0);
	if (r == 0)
		r = name && *name ? pick(&s, name, ret_peer, err) : -ENOENT;
	snapshot_free(&s);
	if (r == -ENOMEM)
		errmsg_set(err, r, "out of memory");
	return r;
}
