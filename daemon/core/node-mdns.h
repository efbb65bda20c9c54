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
 * With spacedrop-discoverable (the default) the device name goes into our
 * _p2p answer as "sd-name=<name>" so nearby devices can Spacedrop to it by
 * name (docs/protocols/mdns.md); the names others advertise are listed by
 * spacedrop.nearby (node-nearby.h).
 *
 * mDNS failing to start (port 5353 unusable, no netlink) is not fatal: the
 * daemon runs without it and says so. */
#pragma once

#include "discovery/mdns-service.h"
#include "errmsg.h"

struct config;
struct node;
struct rendezvous;

struct node_mdns {
	struct mdns_svc *svc;
	struct mdns_observer observer;
	struct rendezvous *rendezvous; /* the backend is registered here */
};

/* -ENOMEM only; other failures leave mDNS off with a warning. */
int node_mdns_start(struct node *n, struct errmsg *err);
/* The device name or spacedrop-discoverable changed: advertise the name
 * in effect now, or stop. */
void node_mdns_name_changed(struct node *n);
/* SIGHUP: apply next's spacedrop-discoverable. Returns 1 if it changed,
 * else 0. */
int node_mdns_reload(struct node *n, const struct config *next);
/* Unregister the backend, say goodbye, close. NULL-safe parts; idempotent. */
void node_mdns_free(struct node *n);
