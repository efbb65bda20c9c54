/* Byte formats of what the message service keeps in the secure store
 * (docs/protocols/device-messages.md, "Durable delivery"). The store
 * encrypts and authenticates every record; these parsers still treat the
 * plaintext as untrusted (a record from a newer version, a bug) and are
 * fuzzed (tests/fuzz/fuzz_msgrec.c). Pure: no I/O.
 *
 * Queue record, queue/<device_id>.<seq as 16 hex>: one durable outbound
 * message. All integers big-endian.
 *   0  4  magic "SDMQ"
 *   4  1  version, 1
 *   5  1  priority: 0 high, 1 normal, 2 low (enum msgq_prio)
 *   6  2  flags, 0
 *   8  8  sequence number (the record name's, repeated)
 *  16  4  n, the DeviceMessage's length (1..DEVMSG_MAX_SIZE)
 *  20  n  the DeviceMessage protobuf, without a length prefix; it must
 *         decode, and be marked durable
 *
 * Dedup chunk, dedup/<device_id>.<chunk as 16 hex>: ids of durable
 * messages from that device we have handled, oldest first; chunk k holds
 * the ids numbered k*MSGREC_CHUNK_IDS onwards.
 *   0  4  magic "SDMD"
 *   4  1  version, 1
 *   5  3  zero
 *   8  4  n, the number of ids (1..MSGREC_CHUNK_IDS)
 *  12  16*n ids
 * Anything else (short, long, other magic, version or flags) is -EBADMSG
 * with a message naming the field; a newer version is -EPROTONOSUPPORT. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "devmsg.h"
#include "errmsg.h"

#define MSGREC_VERSION 1
#define MSGREC_QUEUE_HEADER 20
#define MSGREC_DEDUP_HEADER 12
/* Ids per dedup chunk: one chunk is rewritten per batch of received durable
 * messages, so this bounds the bytes written per batch (4 KiB). */
#define MSGREC_CHUNK_IDS 256

struct msgrec_queue {
	unsigned prio; /* enum msgq_prio */
	uint64_t seq;
	uint8_t id[DEVMSG_ID_LEN];
	const uint8_t *msg; /* points into the decoded bytes */
	size_t msg_len;
};

/* Append a queue record for msg (a packed DeviceMessage). -EINVAL for a
 * priority out of range or an empty or oversized msg, -ENOMEM. */
int msgrec_queue_encode(unsigned prio, uint64_t seq, const uint8_t *msg, size_t msg_len,
                        struct buf *out);
/* Parse and check (the message is decoded and must be durable). */
int msgrec_queue_decode(const uint8_t *data, size_t len, struct msgrec_queue *ret,
                        struct errmsg *err);

/* Append a chunk of n ids (16 bytes each, back to back). -EINVAL for n 0 or
 * over MSGREC_CHUNK_IDS. */
int msgrec_dedup_encode(const uint8_t *ids, size_t n, struct buf *out);
/* *ret_ids points into data; *ret_n ids. */
int msgrec_dedup_decode(const uint8_t *data, size_t len, const uint8_t **ret_ids, size_t *ret_n,
                        struct errmsg *err);
