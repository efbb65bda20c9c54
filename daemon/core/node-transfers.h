/* The node's file-transfer service (daemon/transfer/transfers.h), started
 * after the host, the paired devices, mDNS and the persist service, and
 * freed before them. Its link provider is persist (the authenticated
 * connection of a paired device), falling back to the host's connection to
 * the device's peer ID; it hears when devices come up (interrupted sends
 * offer again at once) and which peers mDNS found (Spacedrop targets). */
#pragma once

#include "errmsg.h"

struct node;
struct transfers;
struct node_xfer_links;

struct node_transfers {
	struct transfers *svc;
	struct node_xfer_links *links;
};

/* Settings: receive-dir (default <data dir>/received), auto-accept,
 * request-timeout. -ENOMEM, or the service's errors (directories, worker
 * thread, protocol registration). */
int node_transfers_start(struct node *n, struct errmsg *err);
/* Interrupts running transfers (they resume after the next start). */
void node_transfers_free(struct node *n);
