/* base58btc (Bitcoin alphabet), the bare text form of peer IDs and multibase
 * prefix 'z'. Each leading 0x00 byte is written as '1'. Limits and errors as
 * in basex.h: -EINVAL bad character (errmsg names it and its 1-based
 * position), -EMSGSIZE over BASEX_MAX_BYTES / BASEX_MAX_CHARS, -ENOBUFS. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "basex.h"
#include "buf.h"
#include "errmsg.h"

extern const struct basex_alphabet base58btc_alphabet;

/* Upper bound on the text length of len bytes, excluding the NUL. */
size_t base58_encoded_max(size_t len);
/* NUL-terminated text into out; returns its length. */
int base58_encode(const uint8_t *data, size_t len, char *out, size_t out_len);
/* Appends the decoded bytes to out (unchanged on error). */
int base58_decode(const char *s, size_t slen, struct buf *out, struct errmsg *err);
