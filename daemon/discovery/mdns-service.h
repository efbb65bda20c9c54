/* Live mDNS discovery: the sans-I/O engine of proto/mdns.h on real
 * sockets, one engine per interface.
 *
 * Interfaces: those named in cfg.interfaces (--mdns-interface), or, when
 * none are named, every interface that is up, has a carrier and does
 * multicast, loopback excepted. Interfaces come and go: rtnetlink says when
 * (netwatch.h) and the set is read again, so an engine starts when its link
 * comes up and goes (with a goodbye) when it goes down.
 *
 * Addresses: each engine announces the host's listen addresses usable on
 * its link (mdns-addrs.h). When they change (an address added to an
 * interface while we listen on 0.0.0.0, or mdns_service_refresh() after the
 * host's listeners changed) the engine says goodbye to the old ones and
 * announces the new ones.
 *
 * Results: observers hear each peer found, updated or expired, with the
 * interface it was heard on (the node logs them and emits RPC events; the
 * persistent-connection logic can dial paired devices from here). With
 * cfg.dial_found the service dials every new peer itself (off in the
 * node: discovery alone must not open connections to every LAN peer).
 *
 * Pairing: mdns_service_backend() is a rendezvous backend
 * (discovery/rendezvous.h) mapping advertise/lookup to the engines'
 * _sdpair._udp.local advertisement and query. An engine carries one
 * advertisement and one lookup at a time: the newest of each is on the
 * air; when it ends, the previous one still running comes back.
 *
 * Nothing here is sent anywhere but the mDNS group on the chosen
 * interfaces (and unicast answers to legacy queriers on them). */
#pragma once

#include <event2/event.h>
#include <stdbool.h>
#include <stddef.h>

#include "discovery/rendezvous.h"
#include "errmsg.h"
#include "mdns.h"
#include "multiaddr.h"
#include "peerid.h"

struct host;
struct mdns_svc;

/* Engines at once (one per interface). */
#define MDNS_SVC_MAX_IFACES 32
/* Datagrams handled per socket wake-up before yielding to the loop. */
#define MDNS_SVC_READ_BATCH 32
/* Observers (the node's events, persistent connections, spares). */
#define MDNS_SVC_MAX_OBSERVERS 4
/* Pairing ids remembered per side (the pairing service runs at most 8
 * sessions). */
#define MDNS_SVC_MAX_RV 16

struct mdns_service_config {
	struct event_base *base;
	/* Our peer ID and listen addresses; borrowed, must outlive the service. */
	struct host *host;
	/* --mdns-interface names (borrowed for the call); none: every
	 * suitable interface. */
	char *const *interfaces;
	size_t n_interfaces;
	bool dial_found;     /* dial each newly found peer */
	bool allow_loopback; /* tests only: announce and accept 127/8, ::1 */
	bool no_ipv6;        /* IPv4 only (224.0.0.251) */
	/* Advertised from the first announcement (see
	 * mdns_service_set_device_name); NULL: none. Copied. */
	const char *device_name;
};

/* One peer change as observers see it; everything is borrowed for the
 * call. type is MDNS_EV_PEER_FOUND, _UPDATED or _EXPIRED. */
struct mdns_peer_event {
	enum mdns_event_type type;
	const char *ifname;
	const struct peerid *id;
	const struct multiaddr *addrs; /* without /p2p; none when expired */
	size_t n_addrs;
	const char *device_name; /* advertised ("sd-name="); NULL: none, or expired */
};

struct mdns_observer {
	void (*on_peer)(const struct mdns_peer_event *ev, void *ctx);
	void *ctx;
};

/* Open the sockets, watch the interfaces and start an engine on each one
 * wanted now. A named interface that does not exist yet is not an error
 * (it is picked up when it appears; the node warns). Errors: -EINVAL (no
 * base or host), socket errors (err says which step; e.g. port 5353 taken
 * without SO_REUSEADDR), -ENOMEM. */
int mdns_service_new(const struct mdns_service_config *cfg, struct mdns_svc **ret,
                     struct errmsg *err);
/* Goodbyes on every interface (best effort), then close everything.
 * Remove the backend from any rendezvous first. NULL-safe. Never call it
 * from an observer or a rendezvous callback. */
void mdns_service_free(struct mdns_svc *svc);

/* Observers are borrowed; -ENOSPC when MDNS_SVC_MAX_OBSERVERS are in. */
int mdns_service_add_observer(struct mdns_svc *svc, const struct mdns_observer *o);
void mdns_service_remove_observer(struct mdns_svc *svc, const struct mdns_observer *o);

/* Read the interfaces and the host's listen addresses again now, and
 * re-announce where they changed. */
void mdns_service_refresh(struct mdns_svc *svc);

/* The rendezvous backend ("mdns"), owned by the service. */
const struct rendezvous_backend *mdns_service_backend(struct mdns_svc *svc);

/* Interfaces with a running engine: count, and the name of the i-th. */
size_t mdns_service_iface_count(const struct mdns_svc *svc);
const char *mdns_service_iface_name(const struct mdns_svc *svc, size_t i);
/* Whether any running engine has an address to announce. */
bool mdns_service_has_addrs(const struct mdns_svc *svc);

/* Spacedrop discovery: advertise this device name ("sd-name=" in our _p2p
 * answer, docs/protocols/mdns.md) on every engine, now (re-announcing) and
 * on engines started later. NULL or "": stop advertising it. -EINVAL (and
 * nothing changes) for a name mdns_device_name_valid() refuses. */
int mdns_service_set_device_name(struct mdns_svc *svc, const char *name);

/* The nearby peers the engines hold now, for `spacedrop nearby`: cb runs
 * once per peer per interface, with only the addresses whose records have
 * not expired at now_ms (mono_ms()); a peer with none left is skipped, so
 * entries go with their mDNS TTL. Everything is borrowed for the call. */
struct mdns_nearby_peer {
	const char *ifname;
	const struct peerid *id;
	const char *device_name; /* NULL: the peer sent none (or a bad one) */
	const struct multiaddr *addrs[MDNS_MAX_ADDRS_PER_PEER];
	size_t n_addrs;
	uint64_t last_seen_ms, expires_ms; /* mono_ms() clock */
};
void mdns_service_foreach_peer(const struct mdns_svc *svc,
                               void (*cb)(const struct mdns_nearby_peer *p, void *ctx), void *ctx,
                               uint64_t now_ms);
