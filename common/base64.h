/* base64, RFC 4648 §4 (standard alphabet) and §5 (URL- and filename-safe,
 * '-' and '_'). Multibase 'm' is standard without padding, 'M' standard with
 * padding, 'u' URL-safe without padding (used by /certhash), 'U' URL-safe
 * with padding.
 *
 * Decoding is strict (see rfc4648.h): the selected alphabet only, '='
 * padding only with BASE64_PAD and then exactly right, zero unused bits.
 * Errors: -EINVAL (errmsg names the bad character and its 1-based position,
 * or the bad length), -ENOBUFS, -ENOMEM. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "errmsg.h"

enum base64_flags {
	BASE64_URL = 1 << 0, /* URL-safe alphabet */
	BASE64_PAD = 1 << 1, /* '=' padding to a multiple of 4 characters */
};

/* Text length of len bytes, excluding the NUL. */
size_t base64_encoded_len(size_t len, int flags);
/* NUL-terminated text into out; returns its length. */
int base64_encode(const uint8_t *data, size_t len, int flags, char *out, size_t out_len);
/* Appends decoded bytes to out (unchanged on error). */
int base64_decode(const char *s, size_t slen, int flags, struct buf *out, struct errmsg *err);
/* Same, for a substring that starts at index pos0 of the user's text. */
int base64_decode_at(const char *s, size_t slen, size_t pos0, int flags, struct buf *out,
                     struct errmsg *err);
