/* Hex codec. */
#include "hex.h"

#include <errno.h>

void hex_encode(const uint8_t *data, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[data[i] >> 4];
		out[2 * i + 1] = digits[data[i] & 15];
	}
	out[2 * len] = '\0';
}

static int nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int hex_decode(const char *s, size_t slen, struct buf *out)
{
	if (slen % 2)
		return -EINVAL;
	uint8_t *p = buf_extend(out, slen / 2);
	if (!p && slen)
		return -ENOMEM;
	for (size_t i = 0; i < slen; i += 2) {
		int hi = nibble(s[i]), lo = nibble(s[i + 1]);
		if (hi < 0 || lo < 0) {
			out->len -= slen / 2;
			return -EINVAL;
		}
		p[i / 2] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}
