/* Nearby devices for Spacedrop: the peers mDNS found on the LAN right now
 * (daemon/discovery/mdns-service.h keeps them, each until its records' TTL
 * runs out), merged over interfaces, with the device name each advertises
 * ("sd-name=", docs/protocols/mdns.md) and whether it is paired. A name
 * from the LAN is only shown and matched, never trusted for anything else. */
#pragma once

#include <jansson.h>

#include "errmsg.h"
#include "peerid.h"

struct node;

/* Nearby peers listed: at most this many (the rest are left out). */
#define NODE_NEARBY_MAX 256

/* [{peer_id, name (null: none), addresses, interfaces, last_seen_ms (age),
 *   expires_in_ms, paired, device_id (null unless paired)}], sorted by
 * name (unnamed last), then peer ID. An empty array when mDNS is off.
 * NULL only without memory. */
json_t *node_nearby_json(struct node *n);

/* A nearby device by its advertised name: an exact match, else the unique
 * peer whose name starts with name, ignoring ASCII case. ret_peer gets its
 * peer ID text. -ENOENT (nothing matches), -ENOTUNIQ (several peers match:
 * err lists their peer IDs), -ENOMEM. */
int node_nearby_resolve(struct node *n, const char *name, char ret_peer[PEERID_TEXT_MAX],
                        struct errmsg *err);
