/* The node's DeviceMessage service (node-messages.h) and its link
 * provider: which paired devices are connected right now.
 *
 * With the persist service (the normal case) the provider is persist
 * itself: persist_conn() and persist_device_of() name only connections
 * that passed device authentication, its observers say when a device comes
 * and goes, persist_kick() asks for a connection when a message waits, and
 * every frame is counted in its per-device metrics.
 *
 * Without it (a node started with no paired-device registry) the service
 * falls back to following the host's connections to the peer IDs of
 * paired devices that are not revoked or expired (Noise authenticates the
 * peer ID; the device record maps it to a device). */
#include "node-messages.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/devices.h"
#include "messages/messages.h"
#include "net/host.h"
#include "node-pairing.h"
#include "node.h"
#include "persist/persist.h"
#include "rpc-messages.h"

struct node_msglinks {
	struct node *n;
	struct persist_observer pobs;
	struct host_observer hobs;
	bool observing;
};

static struct messages *svc_of(const struct node_msglinks *l)
{
	return l->n->messages ? l->n->messages->svc : NULL;
}

/* ---- persist ------------------------------------------------------------------ */

static struct conn *p_conn_of(void *ctx, const char *device_id)
{
	struct node_msglinks *l = ctx;
	return persist_conn(l->n->persist, device_id);
}

static const char *p_device_of(void *ctx, const struct conn *c)
{
	struct node_msglinks *l = ctx;
	return persist_device_of(l->n->persist, c);
}

static void p_kick(void *ctx, const char *device_id)
{
	struct node_msglinks *l = ctx;
	persist_kick(l->n->persist, device_id);
}

static void p_count(void *ctx, const char *device_id, bool outbound, size_t bytes)
{
	struct node_msglinks *l = ctx;
	persist_count_message(l->n->persist, device_id, outbound, bytes);
}

static void p_up(struct persist *p, const char *device_id, struct conn *c, void *ctx)
{
	struct messages *m = svc_of(ctx);
	if (m)
		messages_device_up(m, device_id, c);
}

static void p_down(struct persist *p, const char *device_id, int err, void *ctx)
{
	struct messages *m = svc_of(ctx);
	if (m)
		messages_device_down(m, device_id, err);
}

/* ---- fallback: the host's connections ---------------------------------------------- */

static const struct device *usable(const struct device *d)
{
	return d && d->trust != DEVICE_REVOKED && d->trust != DEVICE_EXPIRED ? d : NULL;
}

static struct conn *h_conn_of(void *ctx, const char *device_id)
{
	struct node_msglinks *l = ctx;
	const struct device *d = usable(devices_find_id(l->n->pairing->devices, device_id));
	return d ? host_find_conn(l->n->host, &d->info.peer_id) : NULL;
}

static const char *h_device_of(void *ctx, const struct conn *c)
{
	struct node_msglinks *l = ctx;
	const struct device *d = usable(devices_find_peer(l->n->pairing->devices, conn_peer(c)));
	return d ? d->info.device_id : NULL;
}

static void h_connected(struct host *h, struct conn *c, void *ctx)
{
	const char *id = h_device_of(ctx, c);
	struct messages *m = svc_of(ctx);
	if (id && m)
		messages_device_up(m, id, c);
}

static void h_disconnected(struct host *h, const struct conn_info *ci, int err, void *ctx)
{
	struct node_msglinks *l = ctx;
	const struct device *d = devices_find_peer(l->n->pairing->devices, &ci->peer);
	struct messages *m = svc_of(l);
	if (!d || !m)
		return;
	struct conn *other = host_find_conn(h, &ci->peer);
	if (other && usable(d))
		messages_device_up(m, d->info.device_id, other);
	else
		messages_device_down(m, d->info.device_id, err);
}

/* ---- the node's side ------------------------------------------------------------------ */

static void on_outcome(void *ctx, const char *device_id, const uint8_t id[DEVMSG_ID_LEN], int err,
                       const char *text)
{
	msgrpc_outcome(ctx, device_id, id, err, text);
}

static int observe(struct node *n, struct node_msglinks *l, struct errmsg *err)
{
	int r;
	if (n->persist) {
		l->pobs = (struct persist_observer){p_up, p_down, l};
		r = persist_add_observer(n->persist, &l->pobs);
	} else {
		l->hobs = (struct host_observer){h_connected, h_disconnected, l};
		r = host_add_observer(n->host, &l->hobs);
	}
	if (r < 0)
		return errmsg_set(err, r, "cannot observe device connections: %s", strerror(-r));
	l->observing = true;
	return 0;
}

int node_messages_start(struct node *n, struct errmsg *err)
{
	if (!n->pairing || !n->pairing->devices)
		return 0; /* no paired devices, no messages */
	struct node_messages *nm = calloc(1, sizeof(*nm));
	if (!nm)
		return errmsg_set(err, -ENOMEM, "out of memory");
	n->messages = nm;
	nm->links = calloc(1, sizeof(*nm->links));
	nm->rpc = msgrpc_new();
	if (!nm->links || !nm->rpc)
		return errmsg_set(err, -ENOMEM, "out of memory");
	struct node_msglinks *l = nm->links;
	l->n = n;
	struct messages_config cfg = {
	        .base = n->base,
	        .host = n->host,
	        .store = n->store,
	        .links = n->persist
	                         ? (struct messages_links){p_conn_of, p_device_of, p_kick, p_count,
	                                                   l}
	                         : (struct messages_links){h_conn_of, h_device_of, NULL, NULL, l},
	        .on_outcome = on_outcome,
	        .ctx = n,
	};
	int r = messages_new(&cfg, &nm->svc, err);
	return r < 0 ? r : observe(n, l, err);
}

void node_messages_free(struct node *n)
{
	struct node_messages *nm = n->messages;
	if (!nm)
		return;
	if (nm->links && nm->links->observing) {
		if (n->persist)
			persist_remove_observer(n->persist, &nm->links->pobs);
		else
			host_remove_observer(n->host, &nm->links->hobs);
	}
	msgrpc_free(nm->rpc, n);
	messages_free(nm->svc);
	free(nm->links);
	free(nm);
	n->messages = NULL;
}
