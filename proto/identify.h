/* libp2p identify (/ipfs/id/1.0.0) and identify push (/ipfs/id/push/1.0.0)
 * messages, sans-I/O (identify/README.md, checklist section 11).
 *
 * Writing: identify_encode() frames our Identify as length-prefixed messages
 * of at most IDENTIFY_WRITE_MAX bytes each (rust rejects more). When the
 * signed peer record would push a message past IDENTIFY_RECORD_SPLIT, the
 * record goes alone in a second message, as go does; listen addresses that
 * still do not fit are trimmed from the end and counted.
 *
 * Reading: feed every byte of the stream into an identify_reader, then call
 * identify_reader_finish() at EOF. It accepts up to IDENTIFY_READ_MAX_MSGS
 * messages of up to IDENTIFY_READ_MAX bytes and merges them (repeated fields
 * append, scalars are overwritten), as js and go do. Lists are capped; extras
 * are dropped and counted, so a hostile peer cannot make us hold more than
 * the caps. Contents are not interpreted here: the caller checks the public
 * key against the connection's peer ID, parses the multiaddrs and opens the
 * signed peer record.
 *
 * Errors: -EMSGSIZE a message over the read cap or too many messages;
 * -EBADMSG a message that is not a valid Identify protobuf, or bytes left
 * over at EOF; -ENOMEM. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define IDENTIFY_PROTOCOL_ID "/ipfs/id/1.0.0"
#define IDENTIFY_PUSH_PROTOCOL_ID "/ipfs/id/push/1.0.0"
#define IDENTIFY_PROTOCOL_VERSION "ipfs/0.1.0"

#define IDENTIFY_WRITE_MAX 4096
#define IDENTIFY_RECORD_SPLIT 2048
#define IDENTIFY_READ_MAX 8192
#define IDENTIFY_READ_MAX_MSGS 10
/* Caps on what one peer's identify may make us keep. */
#define IDENTIFY_MAX_ADDRS 64
#define IDENTIFY_MAX_PROTOCOLS 256
#define IDENTIFY_MAX_STRING 1024

struct identify_info {
	char *protocol_version; /* NULL when absent */
	char *agent_version;
	struct buf public_key; /* PublicKey protobuf; len 0 when absent */
	struct buf *listen_addrs;
	size_t n_listen_addrs;
	char **protocols;
	size_t n_protocols;
	struct buf observed_addr;
	struct buf signed_record; /* Envelope bytes */
	/* Reader only: what the caps made us drop. */
	size_t dropped;
};

void identify_info_free(struct identify_info *info);
/* Builders for the writer side (copying). */
int identify_info_add_addr(struct identify_info *info, const uint8_t *ma, size_t len);
int identify_info_add_protocol(struct identify_info *info, const char *id);

/* Append the framed message(s) to out. *ret_trimmed (may be NULL) gets the
 * number of listen addresses left out to respect the size cap. */
int identify_encode(const struct identify_info *info, struct buf *out, size_t *ret_trimmed);

struct identify_reader {
	struct buf pending;
	unsigned messages;
	struct identify_info info;
};

void identify_reader_init(struct identify_reader *r);
/* Consume all bytes; complete messages are merged at once. */
int identify_reader_feed(struct identify_reader *r, const uint8_t *data, size_t len);
/* At EOF: moves the merged result into *ret (caller frees with
 * identify_info_free) and resets the reader. -EBADMSG if a partial message
 * remains or nothing was received. */
int identify_reader_finish(struct identify_reader *r, struct identify_info *ret);
void identify_reader_free(struct identify_reader *r);
