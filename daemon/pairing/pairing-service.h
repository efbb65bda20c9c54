/* The pairing service: /spacedrive/pairing/1.0.0 on the libp2p host, the
 * sessions behind `pair generate` and `pair join`, and the paired devices
 * they produce.
 *
 * It drives the sans-I/O machine of proto/pairing.h over host streams,
 * publishes only the rendezvous id through daemon/discovery/rendezvous.h
 * (mDNS, later the DHT), dials `--peer` or the candidates a lookup finds,
 * emits an event for every state change, and stores each paired device in
 * the registry (daemon/devices/devices.h) by the rule of docs/pairing.md
 * that leaves no half-paired record: the joiner stores once it has seen
 * Result{ok}, then closes its side; the initiator stores only when its
 * Result{ok} is written and the joiner's end of stream has arrived. A
 * stream reset before that discards the pairing (the code stays used).
 *
 * The code is shown once, to the caller of pairing_service_generate(); it
 * is never logged, never put in an event.
 *
 * Events (data objects; kinds as in proto/openrpc.json):
 *   pairing.state      {session_id, role, state, reason}  every change of
 *                      state or reason ("" when there is none)
 *   pairing.completed  {session_id, role, device, elapsed_ms}  after the
 *                      device was stored; elapsed_ms runs from the join
 *                      call (joiner) or from the joiner's stream arriving
 *                      (initiator) */
#pragma once

#include <event2/event.h>
#include <jansson.h>
#include <stdint.h>

#include "bip39.h"
#include "errmsg.h"
#include "pairing-msg.h"

struct host;
struct devices;
struct device;
struct rendezvous;
struct pairing_service;

/* Sessions kept at once, running or ended (ended ones answer late joiners
 * "code already used" or "expired", and show in pairing.status). At the
 * cap the oldest ended one goes; with all running, new ones get -EBUSY. */
#define PAIRING_SVC_MAX_SESSIONS 16
/* Running sessions at once (generate and join together). */
#define PAIRING_SVC_MAX_RUNNING 8
/* Ended sessions are forgotten this long after they ended. */
#define PAIRING_SVC_KEEP_ENDED_MS (10 * 60 * 1000)
/* Inbound pairing streams, all peers together, waiting for their first
 * message (before it names a session) ... */
#define PAIRING_SVC_MAX_UNROUTED 16
/* ... and how long one may wait for it. */
#define PAIRING_SVC_ROUTE_TIMEOUT_MS 10000
/* Inbound pairing streams one peer may hold open. */
#define PAIRING_SVC_MAX_INBOUND_PER_PEER 2
/* Initiator: how long after Result{ok} the joiner has to confirm (end of
 * stream) before the pairing is discarded. */
#define PAIRING_SVC_CONFIRM_TIMEOUT_MS 10000
/* A joiner session's lifetime: dialing, discovery and the exchanges. */
#define PAIRING_SVC_JOIN_LIFETIME_MS (120 * 1000)
/* Candidates from discovery that one joiner dials. */
#define PAIRING_SVC_MAX_CANDIDATES 8
/* generate's lifetime bounds, seconds. */
#define PAIRING_SVC_MIN_LIFETIME_S 1
#define PAIRING_SVC_MAX_LIFETIME_S 3600
#define PAIRING_SVC_DEFAULT_LIFETIME_S 300

#define PAIRING_SESSION_ID_LEN 16 /* hex characters */

struct pairing_service_config {
	struct event_base *base;
	struct host *host;
	struct devices *devices;
	struct rendezvous *rendezvous;
	/* Our DeviceInfo as of now (the name can change at run time). */
	void (*self)(void *ctx, struct pairing_device_info *ret);
	/* An event for local subscribers; data is borrowed. */
	void (*emit)(void *ctx, const char *kind, json_t *data);
	void *ctx;
	/* Tests only (--enable-test-protocols with SDNETD_TEST_PAIRING_HOLD_MS):
	 * a joiner waits this long between Result{ok} and storing, so a test
	 * can kill it inside the window the storage rule protects. */
	uint32_t test_hold_ms;
};

/* Registers the protocol on the host. -EEXIST (registered twice), -ENOMEM. */
int pairing_service_new(const struct pairing_service_config *cfg, struct pairing_service **ret,
                        struct errmsg *err);
/* Ends every session (joins in progress get -ECANCELED), resets the
 * streams, stops advertising. Call before the host is freed. NULL-safe. */
void pairing_service_free(struct pairing_service *svc);

struct pairing_generated {
	char session_id[PAIRING_SESSION_ID_LEN + 1];
	char words[BIP39_MNEMONIC_MAX]; /* secret: wipe after sending */
	uint32_t expires_in_s;
	bool advertised; /* some discovery backend publishes it */
};

/* A new initiator session. lifetime_s 0 takes the default. -EINVAL
 * (lifetime out of range), -EBUSY (PAIRING_SVC_MAX_RUNNING), -ENOMEM, -EIO;
 * err says what to do. */
int pairing_service_generate(struct pairing_service *svc, uint32_t lifetime_s,
                             struct pairing_generated *ret, struct errmsg *err);

/* The end of a join: dev on success (borrowed for the call), else err (a
 * negative errno as in proto/pairing.h, or a dial error) and msg, a
 * sentence that says what to do. */
typedef void (*pairing_join_cb)(void *ctx, const char *session_id, int err, const char *msg,
                                const struct device *dev);

/* Start a joiner session with the typed words. peer: a multiaddr to dial
 * (ideally with /p2p/<id>), or NULL to look the initiator up through the
 * rendezvous backends. cb runs exactly once, later, unless the session is
 * cancelled first with pairing_service_cancel_join(). Errors (cb never
 * runs): -ENOENT/-EINVAL/-EBADMSG from the words (err names the word and
 * suggests one), -EINVAL a bad peer address, -ENOTSUP no peer and no
 * discovery backend, -EBUSY, -ENOMEM. */
int pairing_service_join(struct pairing_service *svc, const char *words, const char *peer,
                         pairing_join_cb cb, void *ctx, char ret_id[PAIRING_SESSION_ID_LEN + 1],
                         struct errmsg *err);

/* Cancel a session by id. -ENOENT (unknown id), -EALREADY (it had ended). */
int pairing_service_cancel(struct pairing_service *svc, const char *session_id, struct errmsg *err);
/* The join's caller went away: forget its callback and cancel it. */
void pairing_service_cancel_join(struct pairing_service *svc, const char *session_id);

/* [{session_id, role, state, reason, expires_in, created_ago, stats}],
 * newest first. New reference, NULL on ENOMEM. */
json_t *pairing_service_status_json(struct pairing_service *svc);
/* [{device_id, name, os, peer_id, state, trust, paired_at, last_seen,
 * addresses, protocol_version}] with state "connected" when the host has a
 * connection to the device's peer, else "disconnected". */
json_t *pairing_service_devices_json(struct pairing_service *svc);
/* One device in that shape (new reference, NULL on ENOMEM). */
json_t *pairing_service_device_json(struct pairing_service *svc, const struct device *d);

/* Hook for the persist service (issue 6): amends every device object the
 * service shows (devices.list, pairing.join, pairing.completed), e.g. with
 * the link state; obj may be NULL (out of memory). NULL fn removes it. */
typedef void (*pairing_device_hook)(void *ctx, const struct device *d, json_t *obj);
void pairing_service_set_device_hook(struct pairing_service *svc, pairing_device_hook fn,
                                     void *ctx);
