/* The node's paired devices, rendezvous and pairing service, started after
 * the libp2p host and freed before it.
 *
 * Discovery backends (mDNS now, the DHT later) register on
 * n->pairing->rendezvous with rendezvous_add_backend() once
 * node_pairing_start() has run, and remove themselves with
 * rendezvous_remove_backend() before node_pairing_free() (or before they
 * free their own state, whichever comes first). */
#pragma once

#include "errmsg.h"

struct node;
struct devices;
struct rendezvous;
struct pairing_service;

struct node_pairing {
	struct devices *devices;         /* paired devices, loaded from devices/ */
	struct rendezvous *rendezvous;   /* where pairing codes are advertised and found */
	struct pairing_service *service; /* /spacedrive/pairing/1.0.0 and pairing.* */
};

/* Load the paired devices (unreadable records are skipped with a warning)
 * and register the pairing protocol on n->host. Errors name what failed. */
int node_pairing_start(struct node *n, struct errmsg *err);
/* Cancel running pairings (their RPC calls are answered), reset pairing
 * streams, free everything. Before the host is freed; NULL-safe parts. */
void node_pairing_free(struct node *n);
