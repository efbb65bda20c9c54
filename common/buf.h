/* Growable byte buffer.
 *
 * Owns its storage; buf_free() releases it, buf_wipe_free() first clears it
 * (use for anything that held secrets). All appenders return 0 or -ENOMEM and
 * leave the buffer unchanged on failure. A zero-initialised struct buf is a
 * valid empty buffer. */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct buf {
	uint8_t *data;
	size_t len;
	size_t cap;
};

#define BUF_INIT ((struct buf){NULL, 0, 0})

/* Hard ceiling on any single buffer: a bug or a hostile length never makes us
 * ask the allocator for more than this. */
#define BUF_MAX_SIZE ((size_t)1 << 31)

int buf_reserve(struct buf *b, size_t extra);
int buf_append(struct buf *b, const void *data, size_t len);
int buf_append_u8(struct buf *b, uint8_t v);
int buf_append_u16be(struct buf *b, uint16_t v);
int buf_append_u32be(struct buf *b, uint32_t v);
int buf_append_u64be(struct buf *b, uint64_t v);
int buf_append_str(struct buf *b, const char *s);
/* Append len bytes and return a pointer to them (uninitialised), or NULL. */
uint8_t *buf_extend(struct buf *b, size_t len);
/* Drop the first n bytes (n <= len). */
void buf_consume(struct buf *b, size_t n);
void buf_reset(struct buf *b);
void buf_free(struct buf *b);
void buf_wipe_free(struct buf *b);
/* Hand the storage to the caller (who frees it) and reset the buffer. */
uint8_t *buf_steal(struct buf *b, size_t *ret_len);

static inline void buf_freep(struct buf *b)
{
	buf_free(b);
}
static inline void buf_wipe_freep(struct buf *b)
{
	buf_wipe_free(b);
}
#define _cleanup_buf_ __attribute__((cleanup(buf_freep)))
#define _cleanup_secret_buf_ __attribute__((cleanup(buf_wipe_freep)))
