/* The node's file-transfer service (daemon/transfer/transfers.h), started
 * after the host, the paired devices, mDNS and the persist service, and
 * freed before them. Its link provider is persist (the authenticated
 * connection of a paired device), falling back to the host's connection to
 * the device's peer ID; it hears when devices come up (interrupted sends
 * offer again at once) and which peers mDNS found (Spacedrop targets). */
#pragma once

#include "errmsg.h"

struct node;
struct config;
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
/* SIGHUP: apply the transfer settings of the configuration just read
 * (receive-dir, auto-accept, request-timeout) and the current device name;
 * logs each change and moves the new values into n->cfg. Returns how many
 * settings changed (0 when none did or they could not be applied: that is
 * logged and the running ones stay). */
int node_transfers_reload(struct node *n, struct config *next);
/* The device was renamed (node.set_device_name or SIGHUP): Spacedrop
 * requests from now on carry the new sender name. */
void node_transfers_renamed(struct node *n);
/* Interrupts running transfers (they resume after the next start). */
void node_transfers_free(struct node *n);
