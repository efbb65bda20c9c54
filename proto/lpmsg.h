/* Length-prefixed messages: uvarint(len) || payload, as every libp2p
 * request/response protocol frames its protobufs (identify, kad, relay,
 * DCUtR, AutoNAT; checklist 1.3). Sans-I/O.
 *
 * lpmsg_next() looks for one complete message at the front of a byte range:
 *   > 0   a message: *ret_msg and *ret_len point at the payload inside data, and
 *         the return value is the number of bytes it occupied (prefix+payload)
 *         so the caller can consume them;
 *   0     not enough bytes yet (read more);
 *   -EMSGSIZE  the announced length exceeds max (the peer is hostile or
 *              broken: reset the stream);
 *   -EBADMSG   the length prefix is not a minimal varint.
 * A zero-length message is valid (returns the prefix size, *ret_len = 0).
 * Callers consume messages one by one, so bytes after a message (pipelined
 * data, or the next layer's bytes) are never lost. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* Prefixes longer than this cannot describe a length we would accept. */
#define LPMSG_MAX_PREFIX 5

long lpmsg_next(const uint8_t *data, size_t len, size_t max, const uint8_t **ret_msg,
                size_t *ret_len);
/* Append uvarint(len) || msg to out. -EMSGSIZE if len > max (max 0: no cap). */
int lpmsg_append(struct buf *out, const void *msg, size_t len, size_t max);
