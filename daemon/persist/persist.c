/* The persist service (see persist.h): one link per paired device, kept in
 * step with the registry, fed by the host (connections coming and going),
 * mDNS (devices found on the LAN) and the registry (pairings, trust
 * changes), and driven by one timer. Every change of state happens in
 * persist_settle(), so the order of events never matters: callbacks only
 * record what happened and ask for a settle. */
#include "persist-internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "net/clock.h"
#include "securestore.h"

uint64_t persist_now_ms(void)
{
	return mono_ms();
}

uint64_t persist_now_us(void)
{
	return mono_us();
}

void persist_emit(struct persist *p, const char *kind, json_t *data)
{
	if (p->cfg.emit && data && !p->freeing)
		p->cfg.emit(p->cfg.ctx, kind, data);
	json_decref(data);
}

void persist_save(struct plink *l)
{
	struct errmsg e = {{0}};
	if (precord_save(l->p->cfg.store, l->device_id, &l->rec, &e) < 0)
		log_warning("cannot save the connection record of '%s': %s", l->name, e.text);
}

void persist_history(struct plink *l, enum phist_kind kind, const char *addr, const char *reason)
{
	phist_add(&l->hist, (int64_t)time(NULL), kind, addr, reason);
	struct errmsg e = {{0}};
	if (phist_save(l->p->cfg.store, l->device_id, &l->hist, &e) < 0)
		log_warning("cannot save the connection history of '%s': %s", l->name, e.text);
}

void persist_refused(struct plink *l, const char *why)
{
	/* At most one entry a second: a revoked peer that keeps connecting
	 * must not turn into a disk write per attempt. */
	const struct phist_entry *last = l->hist.n ? phist_at(&l->hist, l->hist.n - 1) : NULL;
	if (last && last->kind == PHIST_REFUSED && last->t >= (int64_t)time(NULL) - 1)
		return;
	persist_history(l, PHIST_REFUSED, "", why);
}

/* ---- lookups ------------------------------------------------------------- */

struct plink *persist_link(struct persist *p, const char *device_id)
{
	for (size_t i = 0; device_id && i < p->n_links; i++)
		if (strcmp(p->links[i]->device_id, device_id) == 0)
			return p->links[i];
	return NULL;
}

struct plink *persist_link_by_peer(struct persist *p, const struct peerid *peer)
{
	for (size_t i = 0; i < p->n_links; i++)
		if (peerid_equal(&p->links[i]->peer, peer))
			return p->links[i];
	return NULL;
}

struct conn *persist_conn(struct persist *p, const char *device_id)
{
	struct plink *l = persist_link(p, device_id);
	return l && l->sess && l->state == PERSIST_CONNECTED ? l->sess->c : NULL;
}

const char *persist_device_of(struct persist *p, const struct conn *c)
{
	for (size_t i = 0; c && i < p->n_links; i++) {
		struct plink *l = p->links[i];
		if (l->sess && l->state == PERSIST_CONNECTED && l->sess->c == c)
			return l->device_id;
	}
	return NULL;
}

enum persist_link_state persist_state(struct persist *p, const char *device_id)
{
	struct plink *l = persist_link(p, device_id);
	return l ? l->state : PERSIST_DISCONNECTED;
}

void persist_kick(struct persist *p, const char *device_id)
{
	struct plink *l = persist_link(p, device_id);
	if (!l)
		return;
	if (l->state == PERSIST_BACKOFF)
		l->retry_ms = persist_now_ms();
	persist_poke(p);
}

int persist_add_observer(struct persist *p, const struct persist_observer *o)
{
	if (p->n_obs == sizeof(p->obs) / sizeof(p->obs[0]))
		return -ENOSPC;
	p->obs[p->n_obs++] = (struct persist_observer *)o;
	return 0;
}

void persist_remove_observer(struct persist *p, const struct persist_observer *o)
{
	for (size_t i = 0; i < p->n_obs; i++) {
		if (p->obs[i] == o) {
			memmove(&p->obs[i], &p->obs[i + 1], (p->n_obs - i - 1) * sizeof(p->obs[0]));
			p->n_obs--;
			return;
		}
	}
}

void persist_count_message(struct persist *p, const char *device_id, bool outbound, size_t bytes)
{
	struct plink *l = persist_link(p, device_id);
	if (!l)
		return;
	if (outbound) {
		l->msgs_out++;
		l->msg_bytes_out += bytes;
	} else {
		l->msgs_in++;
		l->msg_bytes_in += bytes;
	}
}

/* ---- the registry ----------------------------------------------------------- */

static int add_link(struct persist *p, const struct device *d)
{
	struct plink **v = realloc(p->links, (p->n_links + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	p->links = v;
	struct plink *l = plink_new(p, d);
	if (!l)
		return -ENOMEM;
	p->links[p->n_links++] = l;
	return 0;
}

static void drop_link(struct persist *p, size_t i)
{
	struct plink *l = p->links[i];
	for (struct psess *s = p->sessions; s; s = s->next)
		if (strcmp(s->device_id, l->device_id) == 0)
			psess_close(s, -ECANCELED, "the device was forgotten");
	if (l->sess)
		plink_down(l, -ECANCELED, "the device was forgotten");
	plink_free(l);
	memmove(&p->links[i], &p->links[i + 1], (p->n_links - i - 1) * sizeof(p->links[0]));
	p->n_links--;
}

/* Links follow the registry: new pairings get one, forgotten devices lose
 * theirs, trust and name changes are picked up. */
static void sync_registry(struct persist *p)
{
	p->registry_dirty = false;
	for (size_t i = 0; i < p->n_links; i++)
		p->links[i]->seen = false;
	for (size_t i = 0; i < devices_count(p->cfg.devices); i++) {
		const struct device *d = devices_at(p->cfg.devices, i);
		struct plink *l = persist_link(p, d->info.device_id);
		if (!l) {
			if (add_link(p, d) < 0)
				log_warning("out of memory: device '%s' will not be kept connected",
				            d->info.name);
			else
				p->links[p->n_links - 1]->seen = true;
			continue;
		}
		l->seen = true;
		snprintf(l->name, sizeof(l->name), "%s", d->info.name);
		if (!crypto_equal(l->rec.pairing_id, d->pairing_id, sizeof(d->pairing_id)))
			precord_load(p->cfg.store, d, &l->rec); /* paired again */
		if (l->trust != d->trust) {
			l->trust = d->trust;
			persist_trust_changed(p, l->device_id);
		}
	}
	for (size_t i = p->n_links; i > 0; i--)
		if (!p->links[i - 1]->seen)
			drop_link(p, i - 1);
}

static void on_registry(void *ctx, const char *device_id)
{
	struct persist *p = ctx;
	p->registry_dirty = true;
	persist_poke(p);
}

/* ---- host and mDNS ------------------------------------------------------------ */

static void on_connected(struct host *h, struct conn *c, void *ctx)
{
	struct persist *p = ctx;
	struct plink *l = persist_link_by_peer(p, conn_peer(c));
	if (!l)
		return;
	if (l->trust == DEVICE_REVOKED) {
		persist_refused(l, "the device is revoked: connection refused");
		host_disconnect(p->cfg.host, &l->peer);
		return;
	}
	/* Not ours to start: wait a moment for the dialer to authenticate. */
	if (!l->wait_auth_ms)
		l->wait_auth_ms = persist_now_ms() + PERSIST_AUTH_WAIT_MS;
	persist_poke(p);
}

static void on_disconnected(struct host *h, const struct conn_info *info, int err, void *ctx)
{
	struct persist *p = ctx;
	if (p->freeing)
		return;
	for (struct psess *s = p->sessions; s; s = s->next) {
		if (!s->c || !peerid_equal(&s->peer, &info->peer))
			continue;
		struct conn_info ci;
		conn_get_info(s->c, &ci);
		if (ci.opened_ms != info->opened_ms || ci.direction != info->direction ||
		    strcmp(ci.remote_addr, info->remote_addr) != 0)
			continue;
		s->c = NULL; /* freed after this callback */
		/* A drained duplicate going while another connection stays is
		 * not a failure: the next settle authenticates the other. */
		bool replaced = s->st != PSESS_UP && host_find_conn(h, &info->peer);
		psess_close(s,
		            replaced ? -ECANCELED
		            : err    ? err
		                     : -ECONNABORTED,
		            replaced ? "the connection was replaced"
		            : err    ? "the connection was lost"
		                     : "the connection was closed");
	}
	persist_poke(p);
}

static void on_mdns(const struct mdns_peer_event *ev, void *ctx)
{
	struct persist *p = ctx;
	if (ev->type != MDNS_EV_PEER_FOUND && ev->type != MDNS_EV_PEER_UPDATED)
		return;
	struct plink *l = persist_link_by_peer(p, ev->id);
	if (!l)
		return;
	for (size_t i = ev->n_addrs; i > 0; i--) {
		char text[MULTIADDR_TEXT_MAX];
		if (multiaddr_to_string(&ev->addrs[i - 1], text, sizeof(text)) >= 0)
			plink_discovered(l, text);
	}
	if (ev->n_addrs == 0)
		plink_discovered(l, NULL);
	persist_poke(p);
}

/* ---- settling -------------------------------------------------------------- */

static void free_dead_sessions(struct persist *p)
{
	struct psess **pp = &p->sessions;
	while (*pp) {
		struct psess *s = *pp;
		if (s->st == PSESS_DEAD && s->reported && !s->open_tok) {
			*pp = s->next;
			psess_free(s);
		} else {
			pp = &s->next;
		}
	}
}

static void arm(struct persist *p, uint64_t now)
{
	uint64_t next = UINT64_MAX;
	for (struct psess *s = p->sessions; s; s = s->next) {
		uint64_t d = psess_deadline(s);
		next = d < next ? d : next;
	}
	for (size_t i = 0; i < p->n_links; i++) {
		uint64_t d = plink_deadline(p->links[i]);
		next = d < next ? d : next;
	}
	evtimer_del(p->timer);
	if (next == UINT64_MAX)
		return;
	uint64_t ms = next > now ? next - now : 0;
	struct timeval tv = {.tv_sec = (time_t)(ms / 1000),
	                     .tv_usec = (suseconds_t)(ms % 1000) * 1000};
	evtimer_add(p->timer, &tv);
}

void persist_settle(struct persist *p)
{
	if (p->settling) {
		p->resettle = true;
		return;
	}
	p->settling = true;
	uint64_t now;
	do {
		p->resettle = false;
		if (p->registry_dirty)
			sync_registry(p);
		now = persist_now_ms();
		for (struct psess *s = p->sessions; s; s = s->next)
			psess_settle(s, now);
		free_dead_sessions(p);
		for (size_t i = 0; i < p->n_links; i++)
			plink_settle(p->links[i], now);
	} while (p->resettle);
	p->settling = false;
	if (!p->freeing)
		arm(p, persist_now_ms());
}

static void on_timer(evutil_socket_t fd, short what, void *ctx)
{
	persist_settle(ctx);
}

void persist_poke(struct persist *p)
{
	if (p->settling) {
		p->resettle = true;
		return;
	}
	if (!p->freeing)
		event_active(p->timer, EV_TIMEOUT, 0);
}

/* ---- the service ------------------------------------------------------------- */

static const struct protocol_handler persist_handlers[] = {
        {DEVAUTH_PROTOCOL_ID, psess_on_inbound,
         .max_inbound_per_peer = PERSIST_MAX_INBOUND_PER_PEER},
        {0},
};

static void defaults(struct persist_config *c)
{
	if (!c->max_connections)
		c->max_connections = PERSIST_DEFAULT_MAX_CONNECTIONS;
	if (!c->connection_timeout_ms)
		c->connection_timeout_ms = PERSIST_DEFAULT_CONNECTION_TIMEOUT_MS;
	if (!c->retry_interval_ms)
		c->retry_interval_ms = PERSIST_DEFAULT_RETRY_INTERVAL_MS;
	if (!c->keepalive_ms)
		c->keepalive_ms = PERSIST_DEFAULT_KEEPALIVE_MS;
	if (!c->rotation_ms)
		c->rotation_ms = (uint64_t)PERSIST_DEFAULT_ROTATION_S * 1000;
}

int persist_new(const struct persist_config *cfg, struct persist **ret, struct errmsg *err)
{
	if (!cfg->base || !cfg->host || !cfg->devices || !cfg->store)
		return errmsg_set(err, -EINVAL, "persist: missing loop, host, registry or store");
	struct persist *p = calloc(1, sizeof(*p));
	if (!p)
		return errmsg_set(err, -ENOMEM, "out of memory");
	p->cfg = *cfg;
	defaults(&p->cfg);
	p->timer = evtimer_new(cfg->base, on_timer, p);
	int r = p->timer ? 0 : -ENOMEM;
	if (r == 0)
		r = protocols_register(host_protocols(cfg->host), persist_handlers, p);
	p->hobs = (struct host_observer){on_connected, on_disconnected, p};
	if (r == 0)
		r = host_add_observer(cfg->host, &p->hobs);
	if (r < 0) {
		if (p->timer)
			event_free(p->timer);
		free(p);
		return errmsg_set(err, r, "cannot start the paired-device connections: %s",
		                  strerror(-r));
	}
	if (cfg->mdns) {
		p->mobs = (struct mdns_observer){.on_peer = on_mdns, .ctx = p};
		p->mdns_observing = mdns_service_add_observer(cfg->mdns, &p->mobs) == 0;
		if (!p->mdns_observing)
			log_warning(
			        "paired devices: mDNS discoveries will not trigger connections");
	}
	devices_set_listener(cfg->devices, on_registry, p);
	p->registry_dirty = true;
	persist_settle(p);
	*ret = p;
	return 0;
}

void persist_free(struct persist *p)
{
	if (!p)
		return;
	devices_set_listener(p->cfg.devices, NULL, NULL);
	if (p->mdns_observing)
		mdns_service_remove_observer(p->cfg.mdns, &p->mobs);
	for (struct psess *s = p->sessions; s; s = s->next)
		psess_close(s, -ECANCELED, "the daemon is shutting down");
	for (size_t i = 0; i < p->n_links; i++)
		if (p->links[i]->sess)
			plink_down(p->links[i], -ECANCELED, "the daemon is shutting down");
	p->freeing = true;
	host_remove_observer(p->cfg.host, &p->hobs);
	plink_orphan_dials(p);
	while (p->sessions) {
		struct psess *s = p->sessions;
		p->sessions = s->next;
		psess_free(s);
	}
	for (size_t i = 0; i < p->n_links; i++)
		plink_free(p->links[i]);
	free(p->links);
	event_free(p->timer);
	free(p);
}
