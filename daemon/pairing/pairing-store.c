/* From a completed pairing to a stored device, and the device as JSON.
 *
 * The record holds the DeviceInfo the other side proved, trust Trusted,
 * the session keys and pairing id, and the addresses we know for it: the
 * one we dialed (joiner) and whatever identify reported as its listen
 * addresses. A host observer keeps last_seen (and addresses that worked)
 * current while the daemon runs; the connection manager of the next issue
 * builds on the same record. */
#include "pairing-internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "net/identify-service.h"

static void add_conn_addrs(struct device *d, struct conn *c)
{
	if (!c)
		return;
	const struct identify_result *id = identify_get(c);
	for (size_t i = 0; id && i < id->n_listen_addrs; i++) {
		char text[MULTIADDR_TEXT_MAX];
		if (multiaddr_to_string(&id->listen_addrs[i], text, sizeof(text)) >= 0)
			device_add_addr(d, text);
	}
	struct conn_info ci;
	conn_get_info(c, &ci);
	/* An inbound connection's remote port is ephemeral: useless to dial. */
	if (ci.direction == CONN_OUTBOUND)
		device_add_addr(d, ci.remote_addr);
}

int pstore_result(struct psession *ps, struct pstream *st, struct errmsg *err)
{
	const struct pairing_result *res = pairing_exchange_result(st->x);
	if (!res)
		return errmsg_set(err, -EINVAL, "the exchange has no result");
	struct device d = {0};
	d.info = res->peer;
	d.trust = DEVICE_TRUSTED;
	d.paired_at = (int64_t)time(NULL);
	d.last_seen = d.paired_at;
	d.keys = res->keys;
	memcpy(d.pairing_id, res->pairing_id, sizeof(d.pairing_id));
	/* A device paired again keeps the addresses we knew. */
	const struct device *old = devices_find_id(ps->svc->cfg.devices, d.info.device_id);
	for (size_t i = old ? old->n_addrs : 0; i > 0; i--)
		device_add_addr(&d, old->addrs[i - 1]);
	add_conn_addrs(&d, st->s ? stream_conn(st->s) : NULL);
	int r = devices_put(ps->svc->cfg.devices, &d, err);
	if (r == 0)
		memcpy(ps->device_id, d.info.device_id, sizeof(ps->device_id));
	device_wipe(&d);
	return r;
}

json_t *pstore_device_json(struct pairing_service *svc, const struct device *d)
{
	char peer[PEERID_TEXT_MAX] = "";
	peerid_to_string(&d->info.peer_id, peer, sizeof(peer));
	bool connected = host_find_conn(svc->cfg.host, &d->info.peer_id) != NULL;
	json_t *addrs = json_array();
	for (size_t i = 0; addrs && i < d->n_addrs; i++)
		json_array_append_new(addrs, json_string(d->addrs[i]));
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:o, s:I}", "device_id",
	                      d->info.device_id, "name", d->info.name, "os", d->info.os, "peer_id",
	                      peer, "state", connected ? "connected" : "disconnected", "trust",
	                      device_trust_name(d->trust), "paired_at", (json_int_t)d->paired_at,
	                      "last_seen", (json_int_t)d->last_seen, "addresses", addrs,
	                      "protocol_version", (json_int_t)d->info.protocol_version);
	if (svc->device_hook)
		svc->device_hook(svc->device_hook_ctx, d, o);
	return o;
}

/* A paired device connected or went: remember when, and how we reached it. */
static void touch(struct pairing_service *svc, const struct peerid *peer, struct conn *c)
{
	const struct device *known = devices_find_peer(svc->cfg.devices, peer);
	if (!known)
		return;
	struct device d = *known;
	d.last_seen = (int64_t)time(NULL);
	add_conn_addrs(&d, c);
	struct errmsg e = {{0}};
	if (devices_put(svc->cfg.devices, &d, &e) < 0)
		log_warning("cannot update paired device '%s': %s", d.info.name, e.text);
	device_wipe(&d);
}

static void on_connected(struct host *h, struct conn *c, void *ctx)
{
	touch(ctx, conn_peer(c), c);
}

static void on_disconnected(struct host *h, const struct conn_info *info, int err, void *ctx)
{
	struct pairing_service *svc = ctx;
	if (!svc->freeing)
		touch(svc, &info->peer, NULL);
}

void pstore_observe(struct pairing_service *svc)
{
	svc->observer = (struct host_observer){on_connected, on_disconnected, svc};
	if (host_add_observer(svc->cfg.host, &svc->observer) < 0)
		log_warning("paired devices: last_seen will not be updated (no host observer)");
}
