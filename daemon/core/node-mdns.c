/* The node's mDNS side (see node-mdns.h): the service on the configured
 * interfaces, its peers logged and turned into discovery.* events, and its
 * rendezvous backend registered for pairing. */
#include "node-mdns.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "discovery/rendezvous.h"
#include "log.h"
#include "node-pairing.h"
#include "node.h"
#include "rpc.h"

static const char *event_kind(enum mdns_event_type t)
{
	switch (t) {
	case MDNS_EV_PEER_FOUND:
		return "discovery.peer_found";
	case MDNS_EV_PEER_UPDATED:
		return "discovery.peer_updated";
	default:
		return "discovery.peer_expired";
	}
}

static json_t *addr_array(const struct multiaddr *v, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < n; i++) {
		char text[MULTIADDR_TEXT_MAX];
		if (multiaddr_to_string(&v[i], text, sizeof(text)) >= 0)
			json_array_append_new(a, json_string(text));
	}
	return a;
}

/* "/ip4/10.0.0.2/tcp/4001, /ip6/..." for the log. */
static void addr_list(const struct multiaddr *v, size_t n, char *out, size_t cap)
{
	size_t len = 0;
	out[0] = '\0';
	for (size_t i = 0; i < n && len < cap; i++) {
		char text[MULTIADDR_TEXT_MAX];
		if (multiaddr_to_string(&v[i], text, sizeof(text)) < 0)
			continue;
		int k = snprintf(out + len, cap - len, "%s%s", i ? ", " : "", text);
		if (k < 0)
			break;
		len += (size_t)k;
	}
}

static void on_peer(const struct mdns_peer_event *ev, void *ctx)
{
	struct node *n = ctx;
	char id[PEERID_TEXT_MAX] = "?";
	peerid_to_string(ev->id, id, sizeof(id));
	char addrs[1024];
	addr_list(ev->addrs, ev->n_addrs, addrs, sizeof(addrs));
	if (ev->type == MDNS_EV_PEER_FOUND)
		log_info("mDNS: found peer %s on %s at %s", id, ev->ifname, addrs);
	else if (ev->type == MDNS_EV_PEER_UPDATED)
		log_debug("mDNS: peer %s on %s now at %s", id, ev->ifname, addrs);
	else
		log_debug("mDNS: peer %s on %s expired", id, ev->ifname);
	if (!n->rpc)
		return; /* still starting: nobody can be subscribed */
	json_t *data = json_pack("{s:s, s:o, s:s}", "peer_id", id, "addrs",
	                         addr_array(ev->addrs, ev->n_addrs), "interface", ev->ifname);
	if (data && ev->type != MDNS_EV_PEER_EXPIRED)
		json_object_set_new(data, "name",
		                    ev->device_name ? json_string(ev->device_name) : json_null());
	if (data)
		rpc_server_emit(n->rpc, event_kind(ev->type), data);
	json_decref(data);
}

int node_mdns_start(struct node *n, struct errmsg *err)
{
	if (n->cfg.no_mdns) {
		if (n->cfg.mdns_interfaces.n)
			log_warning("--no-mdns given: ignoring --mdns-interface");
		log_debug("mDNS discovery off (--no-mdns)");
		return 0;
	}
	struct node_mdns *m = calloc(1, sizeof(*m));
	if (!m)
		return errmsg_set(err, -ENOMEM, "out of memory");
	n->mdns = m;
	struct mdns_service_config c = {
	        .base = n->base,
	        .host = n->host,
	        .interfaces = n->cfg.mdns_interfaces.v,
	        .n_interfaces = n->cfg.mdns_interfaces.n,
	        .device_name = config_spacedrop_discoverable(&n->cfg) ? n->id.device_name : NULL,
	};
	struct errmsg e = {{0}};
	int r = mdns_service_new(&c, &m->svc, &e);
	if (r == -ENOMEM)
		return errmsg_set(err, r, "cannot start mDNS: out of memory");
	if (r < 0) {
		log_warning("mDNS discovery is off: %s; peers on the LAN will not be found, and "
		            "pairing needs `pair join --peer ADDRESS`",
		            e.text);
		return 0;
	}
	m->observer = (struct mdns_observer){.on_peer = on_peer, .ctx = n};
	r = mdns_service_add_observer(m->svc, &m->observer);
	struct rendezvous *rv = n->pairing ? n->pairing->rendezvous : NULL;
	if (r == 0 && rv) {
		r = rendezvous_add_backend(rv, mdns_service_backend(m->svc));
		if (r == 0)
			m->rendezvous = rv;
	}
	if (r < 0)
		return errmsg_set(err, r, "cannot start mDNS: %s", strerror(-r));
	node_mdns_name_changed(n);
	if (mdns_service_iface_count(m->svc) == 0 && n->cfg.mdns_interfaces.n == 0)
		log_info("mDNS: no interface is up with multicast yet; starting on each as it "
		         "comes up");
	return 0;
}

void node_mdns_name_changed(struct node *n)
{
	if (!n->mdns || !n->mdns->svc)
		return;
	const char *name = config_spacedrop_discoverable(&n->cfg) ? n->id.device_name : NULL;
	if (mdns_service_set_device_name(n->mdns->svc, name) < 0 &&
	    mdns_service_set_device_name(n->mdns->svc, NULL) == 0)
		log_warning("mDNS: the device name '%s' cannot be advertised (control or "
		            "direction characters); nearby devices see this one without a name",
		            name);
}

int node_mdns_reload(struct node *n, const struct config *next)
{
	bool was = config_spacedrop_discoverable(&n->cfg);
	bool now = config_spacedrop_discoverable(next);
	if (was == now)
		return 0;
	log_info("reload: spacedrop-discoverable %s -> %s", was ? "true" : "false",
	         now ? "true" : "false");
	n->cfg.spacedrop_discoverable = now;
	n->cfg.set |= 1u << CONFIG_SPACEDROP_DISCOVERABLE;
	node_mdns_name_changed(n);
	return 1;
}

void node_mdns_free(struct node *n)
{
	struct node_mdns *m = n->mdns;
	if (!m)
		return;
	if (m->rendezvous)
		rendezvous_remove_backend(m->rendezvous, mdns_service_backend(m->svc));
	mdns_service_free(m->svc);
	free(m);
	n->mdns = NULL;
}
