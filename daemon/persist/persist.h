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

#include <event2/event.h>
#include <jansson.h>

#include "errmsg.h"
#include "net/host.h"

struct persist;
struct device;
struct devices;
struct securestore;
struct mdns_svc;

enum persist_link_state {
	PERSIST_DISCONNECTED, /* no connection; a dial may be scheduled */
	PERSIST_CONNECTING,   /* dialing or authenticating */
	PERSIST_CONNECTED,    /* authenticated: usable */
	PERSIST_BACKOFF,      /* waiting before the next attempt */
	PERSIST_DISABLED,     /* revoked/expired, or auto_reconnect off */
};

/* Observers hear every authenticated connection come and go, in order: up,
 * down, up, ... per device. When the host replaces a device's connection
 * (a simultaneous dial resolved late), they hear down (-ECONNRESET) then up
 * with the new c; a re-authentication on the same connection (devices.verify)
 * is silent. Called from the loop, or synchronously inside
 * persist_trust_changed(), persist_forget() and persist_free(); device_id
 * is borrowed for the call. Up to 8 observers; -ENOSPC beyond. */
struct persist_observer {
	/* A device's connection finished authentication (c is usable, and is
	 * what persist_conn() returns until the matching down). */
	void (*on_device_up)(struct persist *p, const char *device_id, struct conn *c, void *ctx);
	/* It went away (err: why, a negative errno: -ECONNABORTED connection
	 * lost, -ETIMEDOUT keepalive, -EPERM revoked, -ECANCELED forgotten or
	 * shutting down; 0 for an orderly close). */
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

/* ---- service ----------------------------------------------------------------
 * Defaults and bounds (docs/operations.md, "Paired-device connections"). */
#define PERSIST_DEFAULT_MAX_CONNECTIONS 50 /* the seed's */
#define PERSIST_DEFAULT_CONNECTION_TIMEOUT_MS 10000
/* retry_interval: the backoff base; each failed attempt doubles it, with
 * +-20% jitter, up to PERSIST_BACKOFF_CAP_MS; rediscovery resets it. */
#define PERSIST_DEFAULT_RETRY_INTERVAL_MS 1000
#define PERSIST_BACKOFF_CAP_MS (5 * 60 * 1000)
#define PERSIST_DEFAULT_KEEPALIVE_MS 30000
#define PERSIST_DEFAULT_ROTATION_S (24 * 3600)

struct persist_config {
	struct event_base *base;
	struct host *host;
	struct devices *devices;        /* the paired-device registry (borrowed) */
	struct securestore *store;      /* connections/ and history/ */
	struct mdns_svc *mdns;          /* may be NULL (mDNS off) */
	unsigned max_connections;       /* devices connected or connecting at once */
	uint32_t connection_timeout_ms; /* one dial, connect and upgrade */
	uint32_t retry_interval_ms;     /* backoff base */
	bool auto_reconnect;            /* false: never dial; inbound still authenticates */
	uint32_t keepalive_ms;          /* Ping every so often on the device stream */
	uint64_t rotation_ms;           /* key rotation interval */
	/* An event for RPC subscribers (device.connected, .disconnected,
	 * .reconnecting); data is borrowed. May be NULL. */
	void (*emit)(void *ctx, const char *kind, json_t *data);
	void *ctx;
	/* Tests only (--enable-test-protocols with SDNETD_TEST_REKEY_KILL): die
	 * with SIGKILL at this point of a key rotation: "accepter_stored",
	 * "proposer_before_store" or "proposer_stored". NULL otherwise. */
	const char *test_rekey_kill;
};

/* Registers /spacedrive/device/1.0.0, observes the host, mDNS and the
 * registry, and starts connecting to every paired device its trust and
 * auto_reconnect allow. Zero config fields take the defaults. -ENOMEM,
 * -EEXIST (registered twice), -EINVAL (no base/host/devices/store). */
int persist_new(const struct persist_config *cfg, struct persist **ret, struct errmsg *err);
/* Closes every device stream (observers hear on_device_down with
 * -ECANCELED), stops observing. Before the host, mDNS and the registry are
 * freed. NULL-safe. */
void persist_free(struct persist *p);

/* Count a device message carried for device_id on another stream (the
 * messages service), for devices.metrics. */
void persist_count_message(struct persist *p, const char *device_id, bool outbound, size_t bytes);

/* ---- control API (daemon/control/rpc-devices.c) -------------------------- */

/* "connected", "connecting", "backoff", "disconnected", "disabled". */
const char *persist_state_name(enum persist_link_state s);
/* devices.list's link fields for one device: {state, state_detail,
 * auto_reconnected, next_retry_s} merged into obj. */
void persist_link_json(struct persist *p, const char *device_id, json_t *obj);
/* devices.show: the link, keys epoch, counters, addresses that worked and
 * the recent history (new reference, NULL on ENOMEM). */
json_t *persist_show_json(struct persist *p, const char *device_id);
/* devices.metrics: RTT, bytes and messages each way, uptime, reconnects. */
json_t *persist_metrics_json(struct persist *p, const char *device_id);
/* The device's trust changed (devices.trust / revoke): stored by the
 * caller; this drops the connection of a revoked device and stops or
 * starts dialing. */
void persist_trust_changed(struct persist *p, const char *device_id);
/* Forget everything kept for the device (connections/, history/) and drop
 * its connection; the caller removes the registry record. */
int persist_forget(struct persist *p, const char *device_id, struct errmsg *err);
/* devices.verify: run the authentication again on the live connection now;
 * cb gets 0 (proved, at epoch) or a negative errno and a reason. Returns
 * -ENOTCONN when the device is not connected (cb never runs). */
typedef void (*persist_verify_cb)(void *ctx, int err, const char *reason, uint64_t epoch,
                                  uint64_t elapsed_ms);
int persist_verify(struct persist *p, const char *device_id, persist_verify_cb cb, void *ctx);
/* Cancel a verify whose caller went away (ctx as given). */
void persist_verify_cancel(struct persist *p, void *ctx);
