/* Always-on connections to paired devices (issue 6): the seed's persistent
 * networking layer.
 *
 * For every paired device whose trust allows it, the persist service keeps
 * exactly one authenticated connection: it dials on start and whenever the
 * device is discovered (mDNS, identify, later the DHT), backs off
 * exponentially with jitter, runs the device authentication protocol
 * (/spacedrive/device/1.0.0) on every new connection, rotates session keys,
 * sends keepalives and keeps per-device metrics and connection history.
 *
 * Other services (device messages, file transfer, Spacedrop) build on it:
 * they ask whether a device is up and authenticated, get its connection,
 * and observe devices coming and going. Revoked devices are refused on
 * inbound connections and never dialed. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "host.h"

struct persist;
struct device;

enum persist_link_state {
	PERSIST_DISCONNECTED, /* no connection; a dial may be scheduled */
	PERSIST_CONNECTING,   /* dialing or authenticating */
	PERSIST_CONNECTED,    /* authenticated: usable */
	PERSIST_BACKOFF,      /* waiting before the next attempt */
	PERSIST_DISABLED,     /* revoked/expired, or auto_reconnect off */
};

struct persist_observer {
	/* A device's connection finished authentication (c is usable). */
	void (*on_device_up)(struct persist *p, const char *device_id, struct conn *c, void *ctx);
	/* It went away (err: why; 0 for an orderly close). */
	void (*on_device_down)(struct persist *p, const char *device_id, int err, void *ctx);
	void *ctx;
};

int persist_add_observer(struct persist *p, const struct persist_observer *o);
void persist_remove_observer(struct persist *p, const struct persist_observer *o);

/* The authenticated connection to a device, or NULL when it is not up. */
struct conn *persist_conn(struct persist *p, const char *device_id);
/* The device an authenticated connection belongs to (device_id), or NULL
 * when c is not an authenticated device connection: inbound services for
 * paired devices only (messages, file transfer) refuse streams on those. */
const char *persist_device_of(struct persist *p, const struct conn *c);
enum persist_link_state persist_state(struct persist *p, const char *device_id);
/* Ask for a connection now (a send is waiting): skips the backoff once. */
void persist_kick(struct persist *p, const char *device_id);
