/* The paired-device registry: every device this node paired with, loaded
 * from the secure store at start and written through on every change.
 *
 * Storage: one encrypted record per device, securestore "devices/<device
 * id>" (device.h has the format), written atomically by the store. The
 * in-memory list changes only after the write succeeded, so what the RPC
 * shows is always what a restart will load.
 *
 * Lookup (for `network device ... DEVICE` and RPC): a device is named by
 * its name, its device id, a unique prefix of its device id (at least
 * DEVICES_MIN_PREFIX characters), or its peer ID text.
 *
 * Pointers returned by the lookups stay valid until the next devices_put()
 * or devices_remove() (or devices_free()). */
#pragma once

#include <stddef.h>

#include "device.h"
#include "errmsg.h"
#include "peerid.h"

struct securestore;
struct devices;

/* Paired devices one node keeps: the seed's max_connections default is 50
 * connected devices; we keep records for a few times that. */
#define DEVICES_MAX 256
/* Shortest device-id prefix accepted as a name for a device. */
#define DEVICES_MIN_PREFIX 4

/* Load every record in devices/. A record that cannot be read (corrupt,
 * newer version) is skipped with a warning naming the file and left on
 * disk; *ret_skipped counts them (may be NULL). Errors: -ENOMEM, or the
 * store's error listing the namespace. The store is borrowed. */
int devices_open(struct securestore *store, struct devices **ret, size_t *ret_skipped,
                 struct errmsg *err);
/* Wipes every key; NULL-safe. */
void devices_free(struct devices *d);
/* Hook for the persist service (issue 6): called after every successful
 * devices_put() or devices_remove() with the device id (a dropped same-peer
 * record is reported too). It must not call back into the registry; it
 * schedules its own work. NULL removes it. */
void devices_set_listener(struct devices *d, void (*changed)(void *ctx, const char *device_id),
                          void *ctx);

size_t devices_count(const struct devices *d);
/* i < devices_count(); the list is in pairing order (oldest first). */
const struct device *devices_at(const struct devices *d, size_t i);

/* Store dev (copied) as devices/<device_id>, replacing a record with the
 * same device id, and dropping another record for the same peer ID (a
 * device that was reset and paired again under a new device id). Errors:
 * -EINVAL (dev fails the record's rules), -ENOSPC (DEVICES_MAX), and the
 * store's write errors (then nothing changed). */
int devices_put(struct devices *d, const struct device *dev, struct errmsg *err);
/* Forget a device: its record is deleted. -ENOENT if unknown. */
int devices_remove(struct devices *d, const char *device_id, struct errmsg *err);

const struct device *devices_find_id(const struct devices *d, const char *device_id);
const struct device *devices_find_peer(const struct devices *d, const struct peerid *peer);
/* By name, device id, unique id prefix or peer ID text. -ENOENT (no such
 * device; err says what was tried), -ENOTUNIQ (several match: err lists
 * them and asks for the device id). */
int devices_lookup(const struct devices *d, const char *query, const struct device **ret,
                   struct errmsg *err);
