/* Unsigned varint codec with the strictness the multiformats spec asks for:
 * peers that send non-minimal or over-long varints are rejected, so lengths
 * and codes have exactly one encoding. */
#include "varint.h"

#include <errno.h>

int varint_encode(uint64_t v, uint8_t out[static VARINT_MAX_BYTES])
{
	if (v > VARINT_MAX_VALUE)
		return -ERANGE;
	int n = 0;
	do {
		uint8_t b = v & 0x7f;
		v >>= 7;
		out[n++] = b | (v ? 0x80 : 0);
	} while (v);
	return n;
}

size_t varint_size(uint64_t v)
{
	size_t n = 1;
	while (v >>= 7)
		n++;
	return n;
}

int buf_append_varint(struct buf *b, uint64_t v)
{
	uint8_t t[VARINT_MAX_BYTES];
	int n = varint_encode(v, t);
	if (n < 0)
		return n;
	return buf_append(b, t, (size_t)n);
}

int varint_decode(const uint8_t *data, size_t len, size_t max_bytes, uint64_t *ret)
{
	if (max_bytes == 0 || max_bytes > VARINT_MAX_BYTES)
		max_bytes = VARINT_MAX_BYTES;
	uint64_t v = 0;
	for (size_t i = 0; i < max_bytes; i++) {
		if (i >= len)
			return -ENODATA;
		uint8_t b = data[i];
		v |= (uint64_t)(b & 0x7f) << (7 * i);
		if (!(b & 0x80)) {
			/* A final 0x00 after other groups adds nothing: not minimal. */
			if (b == 0 && i > 0)
				return -EBADMSG;
			*ret = v;
			return (int)(i + 1);
		}
	}
	return -EOVERFLOW;
}

int cur_get_varint(struct cursor *c, size_t max_bytes, uint64_t *ret)
{
	uint64_t v;
	int n = varint_decode(cur_ptr(c), cur_remaining(c), max_bytes, &v);
	if (n < 0)
		return n;
	c->off += (size_t)n;
	*ret = v;
	return 0;
}
