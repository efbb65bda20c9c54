/* Unsigned varint (multiformats unsigned-varint, LEB128).
 *
 * Decoding enforces the spec: minimal encoding only (no trailing 0x00 group
 * except for the value 0) and at most VARINT_MAX_BYTES bytes; callers may set
 * a smaller cap (multistream-select uses 2). Errors:
 *   -ENODATA   input ended inside the varint (streaming callers: need more)
 *   -EBADMSG   non-minimal encoding
 *   -EOVERFLOW more bytes than the cap allows */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "cursor.h"

#define VARINT_MAX_BYTES 9
/* Largest value that fits in 9 bytes (63 bits). */
#define VARINT_MAX_VALUE ((uint64_t)INT64_MAX)

/* Writes at most VARINT_MAX_BYTES to out; returns the count, or -ERANGE if v
 * exceeds VARINT_MAX_VALUE. */
int varint_encode(uint64_t v, uint8_t out[static VARINT_MAX_BYTES]);
size_t varint_size(uint64_t v);
int buf_append_varint(struct buf *b, uint64_t v);
/* Decode from data; on success returns the number of bytes consumed. */
int varint_decode(const uint8_t *data, size_t len, size_t max_bytes, uint64_t *ret);
int cur_get_varint(struct cursor *c, size_t max_bytes, uint64_t *ret);
