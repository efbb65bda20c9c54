/* The outbound queue of one paired device: framed DeviceMessages waiting to
 * be written to its stream, in priority order (High, then Normal, then Low;
 * first in, first out within a priority), bounded in count and bytes.
 *
 * Durable items stay queued after they are written, until the receiver
 * acknowledges them (msgq_ack); when the stream or connection goes they are
 * put back in line (msgq_requeue), ahead of anything queued later at the
 * same priority, so a reconnect resends them in the original order. Other
 * items leave the queue when they are taken for writing.
 *
 * Pure bookkeeping: no I/O and no clock reads (deadlines come in as
 * arguments). Items are allocated by msgq_item_new() and owned by the queue
 * while queued; an item that leaves it (taken non-durable, acked, removed,
 * expired) belongs to the caller, who frees it with free(). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "devmsg.h"

enum msgq_prio {
	MSGQ_HIGH,
	MSGQ_NORMAL,
	MSGQ_LOW,
	MSGQ_NPRIO,
};

struct msgq_item {
	TAILQ_ENTRY(msgq_item) link;
	uint8_t id[DEVMSG_ID_LEN];
	uint64_t seq;         /* durable: the record's sequence number in the store */
	uint64_t deadline_ms; /* not durable: dropped unsent at this time; 0: never */
	void *owner;          /* the sender's waiter, or NULL */
	enum msgq_prio prio;
	bool durable;
	bool sent; /* written and (durable) awaiting its Ack */
	size_t len;
	uint8_t frame[]; /* uvarint(len) || DeviceMessage, as it goes on the wire */
};

TAILQ_HEAD(msgq_list, msgq_item);

struct msgq {
	struct msgq_list lists[MSGQ_NPRIO];
	/* First unsent item of each list (everything before it was sent). */
	struct msgq_item *cursor[MSGQ_NPRIO];
	size_t count, bytes; /* every queued item, sent-and-unacked included */
	size_t unsent;
	size_t max_count, max_bytes;
};

void msgq_init(struct msgq *q, size_t max_count, size_t max_bytes);
/* Free every queued item. */
void msgq_free(struct msgq *q);

/* A new item holding a copy of frame (id copied too); NULL on ENOMEM. */
struct msgq_item *msgq_item_new(const uint8_t id[DEVMSG_ID_LEN], const uint8_t *frame, size_t len,
                                enum msgq_prio prio, bool durable);

/* Would an item of len bytes fit? 0, or -ENOBUFS (count or bytes bound). */
int msgq_room(const struct msgq *q, size_t len);
/* Append it (owned by the queue from now on). -ENOBUFS when it does not fit
 * (the caller still owns it). */
int msgq_push(struct msgq *q, struct msgq_item *it);
/* The next item to write, in priority order, or NULL. It stays queued. */
struct msgq_item *msgq_peek(const struct msgq *q);
/* Take msgq_peek()'s item for writing: a durable one is marked sent and
 * stays queued (return value still owned by the queue); any other is
 * removed and returned to the caller. */
struct msgq_item *msgq_take(struct msgq *q);
/* The sent durable item with this id, removed and handed to the caller,
 * or NULL (unknown, or not yet sent: a stale Ack). */
struct msgq_item *msgq_ack(struct msgq *q, const uint8_t id[DEVMSG_ID_LEN]);
/* Any queued item with this id, or NULL. */
struct msgq_item *msgq_find(const struct msgq *q, const uint8_t id[DEVMSG_ID_LEN]);
/* Unlink it (caller owns it afterwards). */
void msgq_remove(struct msgq *q, struct msgq_item *it);
/* The stream is gone: every sent (durable) item becomes unsent again, in
 * its original place. Returns how many. */
size_t msgq_requeue(struct msgq *q);
/* Remove up to max unsent non-durable items whose deadline has passed
 * (now_ms >= deadline) into out[]; returns how many. */
size_t msgq_expire(struct msgq *q, uint64_t now_ms, struct msgq_item **out, size_t max);
/* Earliest deadline of an unsent item, UINT64_MAX when none. O(items). */
uint64_t msgq_next_deadline(const struct msgq *q);
