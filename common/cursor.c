/* Bounded read cursor: the only way parsers touch untrusted bytes. */
#include "cursor.h"

#include <errno.h>
#include <string.h>

int cur_get_bytes(struct cursor *c, size_t n, const uint8_t **ret)
{
	if (n > cur_remaining(c))
		return -ENODATA;
	*ret = c->data + c->off;
	c->off += n;
	return 0;
}

int cur_copy(struct cursor *c, void *out, size_t n)
{
	const uint8_t *p;
	int r = cur_get_bytes(c, n, &p);
	if (r < 0)
		return r;
	if (n)
		memcpy(out, p, n);
	return 0;
}

int cur_skip(struct cursor *c, size_t n)
{
	const uint8_t *p;
	return cur_get_bytes(c, n, &p);
}

int cur_sub(struct cursor *c, size_t n, struct cursor *ret)
{
	const uint8_t *p;
	int r = cur_get_bytes(c, n, &p);
	if (r < 0)
		return r;
	cur_init(ret, p, n);
	return 0;
}

int cur_get_u8(struct cursor *c, uint8_t *ret)
{
	return cur_copy(c, ret, 1);
}

static int get_be(struct cursor *c, size_t n, uint64_t *ret)
{
	const uint8_t *p;
	int r = cur_get_bytes(c, n, &p);
	if (r < 0)
		return r;
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++)
		v = (v << 8) | p[i];
	*ret = v;
	return 0;
}

int cur_get_u16be(struct cursor *c, uint16_t *ret)
{
	uint64_t v;
	int r = get_be(c, 2, &v);
	if (r == 0)
		*ret = (uint16_t)v;
	return r;
}

int cur_get_u32be(struct cursor *c, uint32_t *ret)
{
	uint64_t v;
	int r = get_be(c, 4, &v);
	if (r == 0)
		*ret = (uint32_t)v;
	return r;
}

int cur_get_u64be(struct cursor *c, uint64_t *ret)
{
	return get_be(c, 8, ret);
}

int cur_get_u64le(struct cursor *c, uint64_t *ret)
{
	const uint8_t *p;
	int r = cur_get_bytes(c, 8, &p);
	if (r < 0)
		return r;
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	*ret = v;
	return 0;
}
