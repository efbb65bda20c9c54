/* Multibase (multiformats/multibase): one prefix character naming the
 * encoding, then the encoded data. Used for CID peer IDs ("bafz...") and
 * /certhash values.
 *
 * Supported bases are the ones libp2p text forms use; the rest of
 * multibase.csv (base2, base8, base10, base32hex, base32z, base58flickr,
 * proquint, base256emoji, identity) is refused with -EPROTONOSUPPORT. As the
 * multibase spec's case_insensitivity tests require, base16, base32 and base36
 * decode letters of either case whatever the prefix's case; encoding always
 * uses the prefix's case. The '1', 'Q' and '/' prefixes are reserved (bare
 * base58 peer IDs and multiaddrs start with them) and refused.
 *
 * Errors: -EINVAL bad character / length / padding (errmsg names the base,
 * the character and its 1-based position in the whole text, prefix
 * included), -EPROTONOSUPPORT unknown or unsupported prefix, -EMSGSIZE over
 * the radix codecs' caps, -ENOBUFS, -ENOMEM. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "errmsg.h"

enum multibase {
	MULTIBASE_BASE16 = 'f',
	MULTIBASE_BASE16_UPPER = 'F',
	MULTIBASE_BASE32 = 'b',
	MULTIBASE_BASE32_UPPER = 'B',
	MULTIBASE_BASE32_PAD = 'c',
	MULTIBASE_BASE32_PAD_UPPER = 'C',
	MULTIBASE_BASE36 = 'k',
	MULTIBASE_BASE36_UPPER = 'K',
	MULTIBASE_BASE58BTC = 'z',
	MULTIBASE_BASE64 = 'm',
	MULTIBASE_BASE64_PAD = 'M',
	MULTIBASE_BASE64URL = 'u',
	MULTIBASE_BASE64URL_PAD = 'U',
};

/* The multibase.csv name ("base32"), or NULL for an unsupported base. */
const char *multibase_name(enum multibase base);
/* Upper bound on the text length (prefix included, NUL excluded), or 0 for
 * an unsupported base. */
size_t multibase_encoded_max(enum multibase base, size_t len);
/* NUL-terminated prefix + text into out; returns its length. */
int multibase_encode(enum multibase base, const uint8_t *data, size_t len, char *out,
                     size_t out_len);
/* Appends decoded bytes to out (unchanged on error); *ret_base (may be NULL)
 * is set to the base that was used. */
int multibase_decode(const char *text, size_t len, struct buf *out, enum multibase *ret_base,
                     struct errmsg *err);
