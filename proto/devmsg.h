/* DeviceMessage: the envelope of every message between paired devices
 * (issue 6; schema proto/schema/device_message.proto, notes in
 * docs/protocols/device-messages.md). Sans-I/O: bytes, ids and time come in
 * as arguments.
 *
 * On the wire a device-message stream is a sequence of length-prefixed
 * frames: uvarint(len) || DeviceMessage protobuf, len <= DEVMSG_MAX_SIZE.
 *
 * Reading (daemon side):
 *
 *     long n = lpmsg_next(in, len, DEVMSG_MAX_SIZE, &frame, &flen);
 *     if (n == 0)          read more
 *     if (n == -EMSGSIZE)  devmsg_fault_too_large(&f); reply (below); reset the stream
 *     if (n < 0)           reset the stream
 *     r = devmsg_decode(frame, flen, &m, &f, &e);  consume n bytes either way
 *     if (r < 0 && f.reply)  devmsg_error_reply(&f, e.text, new_id, now_ms, out)
 *     if (r == 0)          dispatch on m->body_case; devmsg_free(m)
 *
 * Every frame that is not a valid DeviceMessage gets an Error reply, never
 * silence, with one exception that prevents two peers from bouncing errors
 * forever: a broken Error is not answered (fault.reply is false).
 *
 * Writing: fill a DevmsgPb__DeviceMessage (devmsg_header() sets the
 * envelope), then devmsg_encode() validates it with the same rules and caps
 * as the reader and appends the framed bytes. A message we would refuse to
 * read is never sent.
 *
 * Validation (both directions): id is exactly DEVMSG_ID_LEN bytes;
 * in_reply_to, when present, too; exactly one body, and its field number is
 * known; every enum value is known; every string <= DEVMSG_MAX_STRING,
 * every bytes field <= DEVMSG_MAX_BYTES, every list <= DEVMSG_MAX_LIST
 * items, nesting <= DEVMSG_MAX_DEPTH, unknown fields <= DEVMSG_MAX_UNKNOWN per
 * message; Ack carries 1..DEVMSG_MAX_LIST ids of DEVMSG_ID_LEN bytes. The
 * reader checks lengths and counts on the raw bytes before protobuf-c
 * allocates anything.
 *
 * Errors: -EMSGSIZE a cap is exceeded (code ERROR_TOO_LARGE); -EBADMSG not a
 * protobuf or not a DeviceMessage (ERROR_MALFORMED); -EPROTONOSUPPORT the
 * body field number is unknown (ERROR_UNKNOWN_BODY); -EINVAL a known body
 * with invalid contents (ERROR_INVALID); -ENOMEM. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "device_message.pb-c.h"
#include "errmsg.h"

#define DEVMSG_ID_LEN 16
/* Whole encoded message (without the length prefix). File data never goes
 * through DeviceMessage, so 1 MiB leaves room for large search results and
 * offers while bounding what one frame can make us allocate. */
#define DEVMSG_MAX_SIZE (1024u * 1024)
/* Any string field: names, messages, paths, queries. */
#define DEVMSG_MAX_STRING 4096
/* Any bytes field: Custom payloads, collaboration payloads, path components. */
#define DEVMSG_MAX_BYTES (512u * 1024)
/* Items in any repeated field (Ack ids, offer files, search results...). */
#define DEVMSG_MAX_LIST 1024
/* Nesting of messages; the schema needs 3. */
#define DEVMSG_MAX_DEPTH 8
/* Unknown fields kept per message (newer peers may add some). */
#define DEVMSG_MAX_UNKNOWN 64
/* DeviceMessage field numbers from here up are bodies; 6-7 are ignorable
 * envelope extensions. */
#define DEVMSG_FIRST_BODY_FIELD 8

/* Default caps for the tracking structures below. */
#define DEVMSG_MAX_OUTSTANDING 1024
#define DEVMSG_DEDUP_WINDOW 16384
/* Largest table either structure accepts. */
#define DEVMSG_TRACK_MAX (1u << 20)

typedef DevmsgPb__DeviceMessage devmsg_pb;

/* What to put in the Error reply to a frame that failed to decode. */
struct devmsg_fault {
	DevmsgPb__Error__Code code;
	uint32_t body_field; /* ERROR_UNKNOWN_BODY: the unknown field number */
	bool has_id;         /* the offending message's id could be read */
	uint8_t id[DEVMSG_ID_LEN];
	bool reply; /* false only when the offending message is an Error */
};

/* ---- codec ---------------------------------------------------------------- */

/* Decode one unframed message. On success *ret is a validated message the
 * caller frees with devmsg_free(). On failure *fault (may be NULL) says what
 * to reply and e (may be NULL) why, e.g. "DeviceMessage: Custom.payload is
 * 600000 bytes, the cap is 524288". */
int devmsg_decode(const uint8_t *data, size_t len, devmsg_pb **ret, struct devmsg_fault *fault,
                  struct errmsg *e);
/* NULL-safe; returns NULL. */
devmsg_pb *devmsg_free(devmsg_pb *m);

/* Check a message built in memory against the rules above. */
int devmsg_validate(const devmsg_pb *m, struct devmsg_fault *fault, struct errmsg *e);

/* Validate and append the bare protobuf (no length prefix), e.g. for the
 * durable queue. out is unchanged on failure. */
int devmsg_pack(const devmsg_pb *m, struct buf *out, struct errmsg *e);
/* Validate and append uvarint(len) || protobuf, ready for the stream. */
int devmsg_encode(const devmsg_pb *m, struct buf *out, struct errmsg *e);

/* Set the envelope: id (copied pointer: keep id alive until encoded),
 * created_ms, and priority (omitted on the wire when NORMAL). */
void devmsg_header(devmsg_pb *m, const uint8_t id[DEVMSG_ID_LEN], uint64_t now_ms,
                   DevmsgPb__Priority priority);
/* Mark m as the answer to request_id (pointer kept, as above). */
void devmsg_set_reply_to(devmsg_pb *m, const uint8_t request_id[DEVMSG_ID_LEN]);
/* The priority, NORMAL when absent. */
DevmsgPb__Priority devmsg_priority(const devmsg_pb *m);

/* Fill *f for a frame whose length prefix is over DEVMSG_MAX_SIZE. */
void devmsg_fault_too_large(struct devmsg_fault *f);
/* Append (framed) the Error reply for *f with `text` (NULL: the code's
 * name; longer than DEVMSG_MAX_STRING: cut). The reply's own id is id.
 * Appends nothing and returns 0 when f->reply is false, so callers may call
 * it for every fault. */
int devmsg_error_reply(const struct devmsg_fault *f, const char *text,
                       const uint8_t id[DEVMSG_ID_LEN], uint64_t now_ms, struct buf *out);
/* Same for errors found after decoding (no handler, denied, timeout...):
 * request may be NULL when the message had no usable id; an Error request
 * gets nothing (returns 0). */
int devmsg_error_to(const devmsg_pb *request, DevmsgPb__Error__Code code, const char *text,
                    const uint8_t id[DEVMSG_ID_LEN], uint64_t now_ms, struct buf *out);

/* "custom", "file_transfer_request"... ("none" for no body, "unknown"). */
const char *devmsg_body_name(DevmsgPb__DeviceMessage__BodyCase body);
/* Bodies that ask the peer for an answer (Ping, Spacedrop, LibraryAccess
 * and Search requests, SessionRefresh PROPOSE/ACCEPT, Notification with
 * actions, Custom with expects_reply set by its sender, messages.send):
 * the sender registers their ids in a devmsg_corr. File-transfer bodies
 * belong to the xfer state machine. */
bool devmsg_expects_reply(const devmsg_pb *m);

/* ---- request/response correlation ------------------------------------------
 *
 * A bounded table of our outstanding request ids with deadlines and an
 * opaque cookie (the daemon's handle for whoever waits). Time is passed in;
 * nothing here reads a clock. A deadline has passed when now_ms >= deadline.
 * The daemon arms one timer at devmsg_corr_next_deadline() and, when it
 * fires, collects devmsg_corr_expire() results as timeouts. */

struct devmsg_idtab_slot {
	uint8_t id[DEVMSG_ID_LEN];
	uint8_t used;
	uint64_t a; /* corr: deadline; dedup: sequence number */
	uint64_t b; /* corr: cookie */
};

struct devmsg_idtab {
	struct devmsg_idtab_slot *slots;
	size_t mask; /* table size - 1 (a power of two, >= 2 * max) */
	size_t n;
	size_t max;
	uint64_t seed;
};

struct devmsg_corr {
	struct devmsg_idtab tab;
};

struct devmsg_expired {
	uint8_t id[DEVMSG_ID_LEN];
	uint64_t cookie;
};

/* max_outstanding: 1..DEVMSG_TRACK_MAX (-EINVAL otherwise), or -ENOMEM. */
int devmsg_corr_init(struct devmsg_corr *t, size_t max_outstanding);
void devmsg_corr_free(struct devmsg_corr *t);
/* -EEXIST the id is already outstanding; -ENOSPC the table is full (tell
 * the sender: too many requests in flight). */
int devmsg_corr_add(struct devmsg_corr *t, const uint8_t id[DEVMSG_ID_LEN], uint64_t deadline_ms,
                    uint64_t cookie);
/* An answer arrived with in_reply_to = id. The entry is removed and
 * *ret_cookie set on 0 (in time) and on -ETIMEDOUT (deadline passed but not
 * yet collected: report the timeout, drop the answer). -ENOENT: not ours or
 * already expired: drop the answer silently (replies are never answered). */
int devmsg_corr_match(struct devmsg_corr *t, const uint8_t id[DEVMSG_ID_LEN], uint64_t now_ms,
                      uint64_t *ret_cookie);
/* Forget a request (the waiter went away). -ENOENT when unknown. */
int devmsg_corr_cancel(struct devmsg_corr *t, const uint8_t id[DEVMSG_ID_LEN],
                       uint64_t *ret_cookie);
/* Remove up to max entries whose deadline has passed and copy them to out;
 * returns how many. Call again while it returns max. O(table size). */
size_t devmsg_corr_expire(struct devmsg_corr *t, uint64_t now_ms, struct devmsg_expired *out,
                          size_t max);
/* Earliest deadline, UINT64_MAX when nothing is outstanding. */
uint64_t devmsg_corr_next_deadline(const struct devmsg_corr *t);
size_t devmsg_corr_count(const struct devmsg_corr *t);

/* ---- dedup window -----------------------------------------------------------
 *
 * The ids of the last `window` messages handled, oldest evicted first, for
 * exactly-once handling of durable messages that the sender resends after a
 * reconnect or restart. On a durable message:
 *     if devmsg_dedup_contains(id): Ack it again, do not handle it;
 *     else handle it, devmsg_dedup_add(id), persist the window, then Ack.
 * The window must be at least as large as the number of unacknowledged
 * messages a sender may hold for us (its queue bound), or an id could leave
 * the window before its last resend. Persisting is the daemon's job: write
 * devmsg_dedup_get(0..count-1) (oldest first) and, after a restart, add
 * them back in that order.
 *
 * seed keys the hash so a peer choosing ids cannot aim them at one bucket;
 * the daemon passes a random value. */
struct devmsg_dedup {
	struct devmsg_idtab tab;
	uint8_t (*ring)[DEVMSG_ID_LEN];
	size_t head; /* oldest */
	size_t n;
	uint64_t seq;     /* insertions so far */
	uint64_t evicted; /* ids pushed out by newer ones */
};

/* window: 1..DEVMSG_TRACK_MAX (-EINVAL otherwise), or -ENOMEM. */
int devmsg_dedup_init(struct devmsg_dedup *d, size_t window, uint64_t seed);
void devmsg_dedup_free(struct devmsg_dedup *d);
bool devmsg_dedup_contains(const struct devmsg_dedup *d, const uint8_t id[DEVMSG_ID_LEN]);
/* 0 added (evicting the oldest when full); -EEXIST already in the window. */
int devmsg_dedup_add(struct devmsg_dedup *d, const uint8_t id[DEVMSG_ID_LEN]);
size_t devmsg_dedup_count(const struct devmsg_dedup *d);
/* The i-th oldest id (0 = oldest). -ERANGE when i >= count. */
int devmsg_dedup_get(const struct devmsg_dedup *d, size_t i, uint8_t ret_id[DEVMSG_ID_LEN]);
