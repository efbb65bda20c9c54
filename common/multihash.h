/* Multihash (multiformats/multihash): varint(code) || varint(length) ||
 * digest. Peer IDs are multihashes; libp2p uses only identity (the key
 * inline) and sha2-256, so those are the codes accepted here.
 *
 * Parsing checks that the declared length is the real one: sha2-256 digests
 * must be 32 bytes, identity digests at most MULTIHASH_MAX_DIGEST, and
 * multihash_parse() refuses bytes after the digest. Errors:
 *   -EBADMSG         truncated, non-minimal varint, wrong digest length,
 *                    trailing bytes
 *   -EPROTONOSUPPORT a hash code other than identity or sha2-256
 *   -EMSGSIZE        identity digest over MULTIHASH_MAX_DIGEST
 *   -EINVAL          (encode) digest length wrong for the code
 *   -ENOMEM, -EIO    (OpenSSL failure in multihash_sha256) */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "cursor.h"
#include "errmsg.h"

enum multihash_code {
	MULTIHASH_IDENTITY = 0x00,
	MULTIHASH_SHA2_256 = 0x12,
};

#define MULTIHASH_SHA2_256_LEN 32
/* Longest identity digest we accept: far above any inline key (peer IDs
 * inline keys of at most 42 bytes), low enough that a peer cannot make us
 * hold much. */
#define MULTIHASH_MAX_DIGEST 128

/* A parsed multihash: a view into the caller's bytes. */
struct multihash {
	enum multihash_code code;
	const uint8_t *digest;
	size_t digest_len;
};

/* Parse one multihash at the cursor (which advances past it; unchanged on
 * error). Bytes after it are the caller's business. */
int cur_get_multihash(struct cursor *c, struct multihash *ret, struct errmsg *err);
/* Parse exactly data[0..len) as one multihash. */
int multihash_parse(const uint8_t *data, size_t len, struct multihash *ret, struct errmsg *err);
/* Append code || length || digest. */
int multihash_encode(enum multihash_code code, const uint8_t *digest, size_t len, struct buf *out);
/* Append the sha2-256 multihash of data (12 20 || SHA-256(data)). */
int multihash_sha256(const void *data, size_t len, struct buf *out);
/* "identity", "sha2-256", or NULL for other codes. */
const char *multihash_name(uint64_t code);
