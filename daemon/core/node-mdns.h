/* The node's mDNS discovery (daemon/discovery/mdns-service.h): started
 * after the host and the pairing service, freed before them.
 *
 * Off with --no-mdns; with --mdns-interface only on the named interfaces;
 * otherwise on every interface that is up, has a carrier and does
 * multicast (loopback excepted). Peers found are logged and sent to RPC
 * subscribers as discovery.peer_found / discovery.peer_updated /
 * discovery.peer_expired {peer_id, addrs, interface}; nothing is dialled
 * (the persistent-connection logic adds its own observer on
 * n->mdns->svc with mdns_service_add_observer() to dial paired devices).
 * The service is a rendezvous backend on n->pairing->rendezvous, so
 * `pair generate` is advertised and `pair join` without --peer finds the
 * initiator on the LAN.
 *
 * mDNS failing to start (port 5353 unusable, no netlink) is not fatal: the
 * daemon runs without it and says so. */
#pragma once

#include "discovery/mdns-service.h"
#include "errmsg.h"

struct node;
struct rendezvous;

struct node_mdns {
	struct mdns_svc *svc;
	struct mdns_observer observer;
	struct rendezvous *rendezvous; /* the backend is registered here */
};

/* -ENOMEM only; other failures leave mDNS off with a warning. */
int node_mdns_start(struct node *n, struct errmsg *err);
/* Unregister the backend, say goodbye, close. NULL-safe parts; idempotent. */
void node_mdns_free(struct node *n);
