/* The RFC 4648 bit-group codecs (base16, base32, base64) as one engine: each
 * character carries `bits` bits, big-endian, and a final partial group is
 * either padded with '=' to a whole group or left short ("no padding").
 *
 * Decoding is strict so every accepted text has one meaning: no padding
 * unless asked for (and then exactly the right amount, only at the end), no
 * final group of an impossible length (e.g. 1, 3 or 6 base32 characters), and
 * the unused low bits of the last character must be zero (RFC 4648 §3.5).
 *
 * Errors: -EINVAL bad character, length or trailing bits (errmsg names the
 * character and its 1-based position), -ENOBUFS output buffer too small,
 * -ENOMEM. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "errmsg.h"

struct rfc4648_alphabet {
	const char *name;   /* for error messages: "base32" */
	const char *digits; /* 1 << bits characters */
	unsigned bits;      /* 4, 5 or 6 */
};

/* Encoded length of len bytes, excluding the NUL. */
size_t rfc4648_encoded_len(const struct rfc4648_alphabet *a, size_t len, bool pad);
/* NUL-terminated text into out; returns its length. */
int rfc4648_encode(const struct rfc4648_alphabet *a, bool pad, const uint8_t *data, size_t len,
                   char *out, size_t out_len);
/* Appends decoded bytes to out (unchanged on error). pad: the text must be
 * padded; otherwise '=' is rejected. anycase: letters of either case are
 * accepted (multibase asks this of base16/base32). pos0 is the index of s[0]
 * in the user's string, for error positions. */
int rfc4648_decode(const struct rfc4648_alphabet *a, bool pad, bool anycase, const char *s,
                   size_t slen, size_t pos0, struct buf *out, struct errmsg *err);
