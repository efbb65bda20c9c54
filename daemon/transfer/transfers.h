/* File transfer and Spacedrop in the daemon (issue 7): the
 * /spacedrive/file-transfer/1.0.0 service around the sans-I/O state machine
 * of proto/xfer.h. docs/transfers.md describes the design; the wire format
 * is docs/protocols/file-transfer.md.
 *
 * One struct transfers per node. It sends files and directory trees to a
 * paired device (transfers_send) or, as Spacedrop, to any peer that is
 * reachable (transfers_spacedrop: a paired device, a peer found over mDNS,
 * or a multiaddr), and receives them into the receive directory:
 *
 *   - Each transfer attempt uses two streams opened by the sender: control
 *     (offer, answer, hashes, verify, cancel) and data (segment headers
 *     followed by raw bytes). The sender reads a file only as fast as the
 *     data stream takes it; several transfers share the link in turns
 *     (txsched.c).
 *   - The receiver writes <dest>/.sdnetd-partial/<id>/<index>.part plus a
 *     state record (state.json) next to them, fsyncs the parts and the
 *     record on a worker thread at checkpoints, and reports those durable
 *     offsets. After any interruption the sender offers again and data
 *     resumes from the last durable offset. Each file's SHA-256 is checked
 *     before it is renamed into place (renameat2 RENAME_NOREPLACE); a
 *     mismatch never produces a final file.
 *   - Trusted devices are accepted automatically (unless auto_accept is
 *     off); Verified devices and every Spacedrop wait for the user, at most
 *     request_timeout_ms, then expire.
 *
 * Everything runs on the daemon's loop, except fsync and hashing of whole
 * files, which a worker thread does (txworker.c). emit may run from inside
 * a transfers_* call (a cancel announces the new state at once). */
#pragma once

#include <event2/event.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errmsg.h"
#include "multiaddr.h"
#include "peerid.h"

struct transfers;
struct host;
struct conn;
struct devices;

/* Which paired devices are reachable: the persist service in the daemon,
 * the host's connections as a fallback (node-transfers.c). */
struct transfers_links {
	/* The connection to use for a paired device, or NULL. */
	struct conn *(*conn_of)(void *ctx, const char *device_id);
	/* A transfer waits for this device: connect soon. May be NULL. */
	void (*kick)(void *ctx, const char *device_id);
	void *ctx;
};

struct transfers_config {
	struct event_base *base;
	struct host *host;
	struct devices *devices;     /* the paired-device registry (borrowed) */
	const char *data_dir;        /* for transfers/ (sender records, index) */
	const char *receive_dir;     /* where received files land (created 0700 if missing) */
	const char *device_name;     /* ours, sent as a Spacedrop's sender name */
	bool auto_accept;            /* Trusted devices' sends need no acceptance */
	uint32_t request_timeout_ms; /* 0: TRANSFERS_DEFAULT_REQUEST_TIMEOUT_MS */
	/* Tests only (--enable-test-protocols), NULL/0 otherwise: cap every
	 * send at this many bytes per second; offer these names instead of
	 * the real ones (JSON: an array, per file an array of path
	 * components); lie to the receiver: "hash" (a wrong SHA-256 for the
	 * first file) or "size" (27 bytes more than the offer says, in the
	 * middle of the first file). */
	uint64_t test_rate_bps;
	const char *test_names;
	const char *test_lie;
	struct transfers_links links;
	/* transfer.progress, transfer.state and spacedrop.request events; data
	 * is borrowed. May be NULL. */
	void (*emit)(void *ctx, const char *kind, json_t *data);
	void *ctx;
};

/* Unanswered incoming requests (Spacedrop, Verified devices) expire. */
#define TRANSFERS_DEFAULT_REQUEST_TIMEOUT_MS 60000
/* Longest Spacedrop message (bytes of UTF-8). */
#define TRANSFERS_MESSAGE_MAX 1024
/* Paths one send may name (each may be a directory tree). */
#define TRANSFERS_MAX_PATHS 256

/* Register the protocol, start the worker thread, create the receive
 * directory, and load the records of unfinished outgoing transfers (they
 * resume when their device is reachable). Errors name what failed. */
int transfers_new(const struct transfers_config *cfg, struct transfers **ret, struct errmsg *err);
/* Interrupt every transfer (partial files and records stay for a later
 * resume), unregister, stop the worker. Before the host. NULL-safe. */
void transfers_free(struct transfers *t);

/* SIGHUP (node-reload.c): settings for what comes next. Transfers under
 * way keep their destination and their deadline; new offers use these.
 * receive_dir is created (0700) if missing; device_name NULL keeps ours.
 * On error (err names the directory) nothing changes. */
struct transfers_settings {
	const char *receive_dir;
	const char *device_name;
	bool auto_accept;
	uint32_t request_timeout_ms; /* 0: TRANSFERS_DEFAULT_REQUEST_TIMEOUT_MS */
};
int transfers_reconfigure(struct transfers *t, const struct transfers_settings *s,
                          struct errmsg *err);

/* The link provider's news: a paired device became reachable (transfers
 * waiting for it offer again at once). */
void transfers_device_up(struct transfers *t, const char *device_id);
/* The link provider's news: a paired device stopped answering (its
 * keepalive timed out; the connection may linger until TCP gives up).
 * Transfers moving data with it are interrupted now, keeping what is
 * durable; they resume when it is back. */
void transfers_device_gone(struct transfers *t, const char *device_id, const char *why);
/* A peer found over mDNS (Spacedrop targets by peer ID); addrs without /p2p. */
void transfers_peer_seen(struct transfers *t, const struct peerid *id,
                         const struct multiaddr *addrs, size_t n_addrs);
void transfers_peer_gone(struct transfers *t, const struct peerid *id);

/* ---- control API (daemon/control/rpc-transfers.c) -------------------------
 * Transfer ids are 32 hex digits; every call also takes a unique prefix of
 * at least 4. Errors: -ENOENT (no such transfer/device; err says what was
 * tried), -ENOTUNIQ (prefix or name matches several), -EINVAL (bad
 * argument, err says which), -EACCES (revoked device, unreadable path),
 * -EBUSY (too many transfers), -EALREADY (already finished), -ENOMEM. */

/* Send paths (absolute; files or directories) to a paired device (name,
 * device id, unique prefix or peer ID). ret_id gets the transfer id. */
int transfers_send(struct transfers *t, const char *device, const char *const *paths,
                   size_t n_paths, char ret_id[33], struct errmsg *err);
/* Spacedrop: target is a paired device's name or id, a peer ID (paired,
 * connected, or found over mDNS), or a multiaddr ending in /p2p/<id>.
 * message may be NULL. */
int transfers_spacedrop(struct transfers *t, const char *target, const char *const *paths,
                        size_t n_paths, const char *message, char ret_id[33], struct errmsg *err);
/* Cancel (either direction): partial files and records are removed, the
 * peer is told. */
int transfers_cancel(struct transfers *t, const char *id, struct errmsg *err);
/* Answer a waiting incoming request; dir (may be NULL: the receive
 * directory) is an absolute directory to receive into. */
int transfers_accept(struct transfers *t, const char *id, const char *dir, struct errmsg *err);
int transfers_reject(struct transfers *t, const char *id, struct errmsg *err);

/* transfers.list: every transfer, running and recently finished (new
 * reference). */
json_t *transfers_list_json(struct transfers *t);
/* One transfer by id or prefix (new reference) or NULL. */
json_t *transfers_get_json(struct transfers *t, const char *id);
/* spacedrop.list: incoming requests waiting for an answer. */
json_t *transfers_requests_json(struct transfers *t);

/* Counters for tests and node.status. */
struct transfers_stats {
	size_t active;           /* not finished */
	size_t pending;          /* incoming requests waiting for the user */
	uint64_t created, freed; /* transfer objects, for leak checks */
	uint64_t bytes_sent, bytes_received;
	uint64_t checkpoints;
};
void transfers_get_stats(const struct transfers *t, struct transfers_stats *ret);
