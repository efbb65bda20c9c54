/* Growable byte buffer: the one place that grows memory for byte strings, so
 * size caps and overflow checks live here and nowhere else. */
#include "buf.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

int buf_reserve(struct buf *b, size_t extra)
{
	if (extra > BUF_MAX_SIZE || b->len > BUF_MAX_SIZE - extra)
		return -ENOMEM;
	size_t need = b->len + extra;
	if (need <= b->cap)
		return 0;
	size_t ncap = b->cap ? b->cap : 64;
	while (ncap < need)
		ncap *= 2;
	uint8_t *n = realloc(b->data, ncap);
	if (!n)
		return -ENOMEM;
	b->data = n;
	b->cap = ncap;
	return 0;
}

uint8_t *buf_extend(struct buf *b, size_t len)
{
	/* Zero bytes always succeed; an empty buffer has no storage to point
	 * into (and NULL + 0 is undefined), so hand out a harmless address. */
	static uint8_t nothing;
	if (len == 0)
		return b->data ? b->data + b->len : &nothing;
	if (buf_reserve(b, len) < 0)
		return NULL;
	uint8_t *p = b->data + b->len;
	b->len += len;
	return p;
}

int buf_append(struct buf *b, const void *data, size_t len)
{
	if (len == 0)
		return 0;
	uint8_t *p = buf_extend(b, len);
	if (!p)
		return -ENOMEM;
	memcpy(p, data, len);
	return 0;
}

int buf_append_u8(struct buf *b, uint8_t v)
{
	return buf_append(b, &v, 1);
}

int buf_append_u16be(struct buf *b, uint16_t v)
{
	uint8_t t[2] = {(uint8_t)(v >> 8), (uint8_t)v};
	return buf_append(b, t, sizeof(t));
}

int buf_append_u32be(struct buf *b, uint32_t v)
{
	uint8_t t[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
	return buf_append(b, t, sizeof(t));
}

int buf_append_u64be(struct buf *b, uint64_t v)
{
	uint8_t t[8];
	for (int i = 7; i >= 0; i--, v >>= 8)
		t[i] = (uint8_t)v;
	return buf_append(b, t, sizeof(t));
}

int buf_append_str(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

void buf_consume(struct buf *b, size_t n)
{
	if (n >= b->len) {
		b->len = 0;
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
}

void buf_reset(struct buf *b)
{
	b->len = 0;
}

void buf_free(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

void buf_wipe_free(struct buf *b)
{
	if (b->data)
		OPENSSL_cleanse(b->data, b->cap);
	buf_free(b);
}

uint8_t *buf_steal(struct buf *b, size_t *ret_len)
{
	uint8_t *d = b->data;
	if (ret_len)
		*ret_len = b->len;
	b->data = NULL;
	b->len = b->cap = 0;
	return d;
}
