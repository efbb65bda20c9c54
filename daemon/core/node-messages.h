/* The node's DeviceMessage service (daemon/messages/messages.h), started
 * after the libp2p host and the paired devices, freed before them. Its link
 * provider tells it which paired devices are connected. */
#pragma once

#include "errmsg.h"

struct node;
struct messages;
struct msgrpc;
struct node_msglinks;

struct node_messages {
	struct messages *svc;
	struct msgrpc *rpc;          /* handlers.* / messages.* state (rpc-messages.h) */
	struct node_msglinks *links; /* which paired devices are connected */
};

/* -ENOMEM, or the service's errors (store, protocol registration). */
int node_messages_start(struct node *n, struct errmsg *err);
/* Answer waiting messages.send calls, drop registrations, stop the
 * service (durable messages stay on disk). NULL-safe parts. */
void node_messages_free(struct node *n);
