/* The node's paired-device connections (daemon/persist/persist.h): started
 * after the host, the pairing registry and mDNS; freed before them. Its
 * events go to RPC subscribers; its settings come from the configuration
 * (max-connections, connection-timeout, retry-interval, auto-reconnect,
 * keepalive-interval, key-rotation-interval). */
#pragma once

#include "errmsg.h"

struct node;

/* Errors name what failed (out of memory, the protocol registered twice). */
int node_persist_start(struct node *n, struct errmsg *err);
/* Close the device streams (observers hear every device go). NULL-safe
 * parts; idempotent. */
void node_persist_free(struct node *n);
