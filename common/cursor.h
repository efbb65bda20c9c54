/* Bounded read cursor over untrusted bytes.
 *
 * Every read checks the remaining length first; on failure the cursor does not
 * move and the call returns -ENODATA (input ended early). Parsers map that to
 * "truncated" or "need more bytes" as fits. The cursor never owns memory. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cursor {
	const uint8_t *data;
	size_t len;
	size_t off;
};

static inline void cur_init(struct cursor *c, const void *data, size_t len)
{
	c->data = data;
	c->len = len;
	c->off = 0;
}

static inline size_t cur_remaining(const struct cursor *c)
{
	return c->len - c->off;
}

static inline bool cur_eof(const struct cursor *c)
{
	return c->off >= c->len;
}

static inline const uint8_t *cur_ptr(const struct cursor *c)
{
	return c->data + c->off;
}

int cur_get_u8(struct cursor *c, uint8_t *ret);
int cur_get_u16be(struct cursor *c, uint16_t *ret);
int cur_get_u32be(struct cursor *c, uint32_t *ret);
int cur_get_u64be(struct cursor *c, uint64_t *ret);
int cur_get_u64le(struct cursor *c, uint64_t *ret);
/* Point *ret at the next n bytes (inside the cursor's data) and skip them. */
int cur_get_bytes(struct cursor *c, size_t n, const uint8_t **ret);
/* Copy the next n bytes into out. */
int cur_copy(struct cursor *c, void *out, size_t n);
int cur_skip(struct cursor *c, size_t n);
/* A sub-cursor over the next n bytes; the parent skips them. */
int cur_sub(struct cursor *c, size_t n, struct cursor *ret);
