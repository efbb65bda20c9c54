/* base32, RFC 4648 §6 alphabet. Multibase uses it lower-case without
 * padding (prefix 'b', the default text form of CIDs and so of CID peer IDs);
 * upper-case and padded variants are multibase 'B', 'c' and 'C'.
 *
 * Decoding is strict (see rfc4648.h): the case selected by BASE32_UPPER only,
 * unless BASE32_ANYCASE; '=' padding only with BASE32_PAD, and then exactly
 * right. Errors: -EINVAL (errmsg names the bad character and its 1-based
 * position, or the bad length), -ENOBUFS, -ENOMEM. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "errmsg.h"

enum base32_flags {
	BASE32_UPPER = 1 << 0,   /* encode (and by default decode) upper case */
	BASE32_PAD = 1 << 1,     /* '=' padding to a multiple of 8 characters */
	BASE32_ANYCASE = 1 << 2, /* decode: accept either case */
};

/* Text length of len bytes, excluding the NUL. */
size_t base32_encoded_len(size_t len, int flags);
/* NUL-terminated text into out; returns its length. */
int base32_encode(const uint8_t *data, size_t len, int flags, char *out, size_t out_len);
/* Appends decoded bytes to out (unchanged on error). */
int base32_decode(const char *s, size_t slen, int flags, struct buf *out, struct errmsg *err);
/* Same, for a substring that starts at index pos0 of the user's text (error
 * positions count from the start of that text). */
int base32_decode_at(const char *s, size_t slen, size_t pos0, int flags, struct buf *out,
                     struct errmsg *err);
