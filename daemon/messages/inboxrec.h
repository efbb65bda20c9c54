/* Byte format of the receiver's durable inbox records (docs/protocols/
 * device-messages.md, "Durable delivery"): durable messages a device sent us
 * that we acknowledged and whose handler has not finished with them yet.
 * One record holds the new durable messages of one batch read from a
 * stream (so one write covers up to MSGREC_INBOX_ENTRIES messages); it is
 * rewritten without the entries that are done, and deleted when all are.
 * The secure store encrypts and authenticates every record; the parser
 * still treats the plaintext as untrusted (a newer version, a bug) and is
 * fuzzed (tests/fuzz/fuzz_inboxrec.c). Pure: no I/O.
 *
 * inbox/<device_id>.<record number as 16 hex>, integers big-endian:
 *   0  4  magic "SDMI"
 *   4  1  version, 1
 *   5  3  zero
 *   8  4  n, the number of entries (1..MSGREC_INBOX_ENTRIES)
 *  12     n entries, each:
 *           0  4  m, the DeviceMessage's length (1..DEVMSG_MAX_SIZE)
 *           4  m  the DeviceMessage protobuf, without a length prefix; it
 *                 must decode, be marked durable, and its id must not
 *                 repeat an earlier entry's
 * Nothing may follow the last entry; the whole record is at most
 * MSGREC_INBOX_MAX_BYTES. Anything else is -EBADMSG with a message naming
 * the field; a newer version is -EPROTONOSUPPORT. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "devmsg.h"
#include "errmsg.h"

#define MSGREC_INBOX_VERSION 1
#define MSGREC_INBOX_HEADER 12
/* Entries per record: one batch of messages read together. */
#define MSGREC_INBOX_ENTRIES 256
/* Largest record: room for a few messages at the 1 MiB cap, well under the
 * secure store's largest record. A batch that would not fit is split. */
#define MSGREC_INBOX_MAX_BYTES ((size_t)8 << 20)

struct msgrec_inbox_entry {
	uint8_t id[DEVMSG_ID_LEN]; /* filled by the decoder */
	const uint8_t *msg;        /* the packed DeviceMessage */
	size_t len;
};

/* Bytes one entry of len adds to a record. */
static inline size_t msgrec_inbox_entry_size(size_t len)
{
	return 4 + len;
}

/* Append a record of n entries (only msg and len are read). -EINVAL for n
 * 0 or over MSGREC_INBOX_ENTRIES, an empty or oversized message, or a
 * record over MSGREC_INBOX_MAX_BYTES; -ENOMEM. On error out is unchanged. */
int msgrec_inbox_encode(const struct msgrec_inbox_entry *e, size_t n, struct buf *out);
/* Parse and check; ret has MSGREC_INBOX_ENTRIES slots, its msg pointers
 * point into data. */
int msgrec_inbox_decode(const uint8_t *data, size_t len, struct msgrec_inbox_entry *ret,
                        size_t *ret_n, struct errmsg *err);
