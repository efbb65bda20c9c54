/* Durable delivery on disk, through the secure store (encrypted and
 * authenticated, atomic writes; formats in msgrec.h).
 *
 * Outbound: queue/<device_id>.<seq> holds one durable message from the
 * moment messages_send() accepts it until the receiver acknowledges it.
 * At start every record is loaded back, in sequence order per device.
 *
 * Inbound: struct msgdedup is one device's dedup window (the ids of the
 * durable messages we handled from it) together with its copy on disk, a
 * few chunks of MSGREC_CHUNK_IDS ids under dedup/<device_id>.<chunk>. Ids
 * are added in memory, then msgdedup_flush() rewrites the one or two chunks
 * that changed (and deletes chunks that fell out of the window) before the
 * Acks for them go out: an id that was acknowledged is always on disk. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devmsg.h"
#include "errmsg.h"

struct securestore;

/* Longest device id we keep (pairing's canonical UUID is 36). */
#define MSGSTORE_DEVICE_ID_MAX 64

/* A device id we can put in a record name: 1..MSGSTORE_DEVICE_ID_MAX
 * characters from [A-Za-z0-9-]. */
bool msgstore_device_id_ok(const char *device_id);

/* Store one durable message (msg: the packed DeviceMessage). Errors of the
 * store (-ENOSPC, -EIO...) with err naming the file, -EINVAL. */
int msgstore_put(struct securestore *s, const char *device_id, uint64_t seq, unsigned prio,
                 const uint8_t *msg, size_t msg_len, struct errmsg *err);
/* Delete it (acknowledged or refused). -ENOENT is not an error here. */
int msgstore_delete(struct securestore *s, const char *device_id, uint64_t seq, struct errmsg *err);
/* The same for a batch (one Ack of many ids): unlink each, then one
 * msgstore_sync() makes all the removals durable. A removal a crash undoes
 * only means a resend, which the receiver's dedup window answers. */
int msgstore_unlink(struct securestore *s, const char *device_id, uint64_t seq, struct errmsg *err);
int msgstore_sync(struct securestore *s, struct errmsg *err);

/* One stored message, as msgstore_load() hands it over (msg: packed). */
typedef int (*msgstore_visit_fn)(void *ctx, const char *device_id, uint64_t seq, unsigned prio,
                                 const uint8_t id[DEVMSG_ID_LEN], const uint8_t *msg,
                                 size_t msg_len);
/* Visit every stored message, ordered by device id then sequence. A record
 * that cannot be read is skipped with a warning naming it and left on disk
 * (*ret_skipped counts them; may be NULL). A visit error stops the load and
 * is returned. */
int msgstore_load(struct securestore *s, msgstore_visit_fn visit, void *ctx, size_t *ret_skipped,
                  struct errmsg *err);

struct msgdedup {
	struct devmsg_dedup win;
	uint64_t total;       /* ids ever added: the next id's number */
	uint64_t dirty_from;  /* first id number not yet on disk */
	uint64_t first_chunk; /* oldest chunk that may still be on disk */
	char device_id[MSGSTORE_DEVICE_ID_MAX + 1];
};

/* The window for device_id (window: 1..DEVMSG_TRACK_MAX ids, at least
 * 2 * MSGREC_CHUNK_IDS), loaded from its chunks. Unreadable chunks are
 * skipped with a warning. */
int msgdedup_open(struct msgdedup *d, struct securestore *s, const char *device_id, size_t window,
                  uint64_t seed, struct errmsg *err);
void msgdedup_free(struct msgdedup *d);
bool msgdedup_contains(const struct msgdedup *d, const uint8_t id[DEVMSG_ID_LEN]);
/* Add in memory (0, -EEXIST, -ENOMEM). */
int msgdedup_add(struct msgdedup *d, const uint8_t id[DEVMSG_ID_LEN]);
/* Write what was added since the last flush; delete chunks that left the
 * window. The store's write errors (then the ids stay dirty). */
int msgdedup_flush(struct msgdedup *d, struct securestore *s, struct errmsg *err);
bool msgdedup_dirty(const struct msgdedup *d);

/* ---- inbox records (inboxrec.h) and purging ---- */

/* inbox/<device_id>.<seq>: write (data: an encoded inbox record), delete
 * (-ENOENT is not an error here). */
int msgstore_inbox_put(struct securestore *s, const char *device_id, uint64_t seq,
                       const uint8_t *data, size_t len, struct errmsg *err);
int msgstore_inbox_delete(struct securestore *s, const char *device_id, uint64_t seq,
                          struct errmsg *err);
/* One inbox record as msgstore_inbox_load() hands it over: data is the
 * record's bytes (not yet decoded), or NULL with the error in text when it
 * could not be read. */
typedef int (*msgstore_inbox_fn)(void *ctx, const char *device_id, uint64_t seq,
                                 const uint8_t *data, size_t len, const char *text);
/* Visit every inbox record, ordered by device id then number. A visit
 * error stops the load and is returned. */
int msgstore_inbox_load(struct securestore *s, msgstore_inbox_fn visit, void *ctx,
                        struct errmsg *err);

/* Delete every queue/, dedup/ and inbox/ record of device_id (the device
 * was forgotten). Goes on past errors; returns the first, err naming it. */
int msgstore_purge_device(struct securestore *s, const char *device_id, struct errmsg *err);
