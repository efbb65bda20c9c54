/* One wording for "bad character" errors across the text codecs (base58,
 * base36, base32, base64, multibase), so a user who mistyped a peer ID or a
 * multiaddr sees the same message shape everywhere.
 *
 * Positions are 1-based character positions in the string the user gave
 * (codecs that decode a substring, such as multibase after its prefix, pass
 * the offset of that substring). */
#pragma once

#include <errno.h>
#include <stddef.h>

#include "errmsg.h"

/* Fills e with "<codec>: invalid character 'c' at position N" (non-printable
 * bytes are shown in hex) and returns -EINVAL. */
static inline int badchar_error(struct errmsg *e, const char *codec, char c, size_t index)
{
	unsigned char u = (unsigned char)c;
	if (u >= 0x20 && u < 0x7f)
		return errmsg_set(e, -EINVAL, "%s: invalid character '%c' at position %zu", codec,
		                  c, index + 1);
	return errmsg_set(e, -EINVAL, "%s: invalid byte 0x%02x at position %zu", codec, u,
	                  index + 1);
}
