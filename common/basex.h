/* Big-number radix codecs (base58btc, base36).
 *
 * The input bytes are read as one big-endian number and written in the
 * target radix; each leading 0x00 byte becomes one alphabet[0] character, so
 * leading zeros survive the round trip and every byte string has exactly one
 * encoding. The work is quadratic in the length, which is why both directions
 * are capped (peer IDs and CIDs are far below the caps).
 *
 * Errors: -EINVAL bad character (errmsg names it and its position),
 * -EMSGSIZE input over the caps, -ENOBUFS output buffer too small, -ENOMEM. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "errmsg.h"

/* Longest byte string we encode or produce by decoding. */
#define BASEX_MAX_BYTES 1024
/* Longest text we decode (base36 of BASEX_MAX_BYTES is about 1585 chars). */
#define BASEX_MAX_CHARS 2048

struct basex_alphabet {
	const char *name;   /* for error messages: "base58btc" */
	const char *digits; /* radix characters, digit value order */
	unsigned radix;
	/* Output characters per input byte, times 100, rounded up
	 * (100 * log(256) / log(radix)); sizes the work buffers. */
	unsigned chars_per_byte_x100;
	/* Decode letters in either case (multibase base36 does). */
	bool anycase;
};

/* Upper bound on the encoded length of len bytes, excluding the NUL. */
size_t basex_encoded_max(const struct basex_alphabet *a, size_t len);
/* NUL-terminated text into out; returns its length (without the NUL). */
int basex_encode(const struct basex_alphabet *a, const uint8_t *data, size_t len, char *out,
                 size_t out_len);
/* Appends the decoded bytes to out (unchanged on error). pos0 is the index of
 * s[0] in the string the user gave, for error positions. */
int basex_decode(const struct basex_alphabet *a, const char *s, size_t slen, size_t pos0,
                 struct buf *out, struct errmsg *err);
