/* A running SHA-256 whose work may run on a helper thread, so the event
 * loop of a transfer only reads or writes and seals or opens Noise frames
 * while a second core hashes (SHA-256 costs about as much CPU per byte as
 * everything else on the data path together).
 *
 * Bytes given to txhash_update() are copied into blocks queued for one
 * process-wide helper thread, which applies them in order; txhash_final()
 * waits for the queue of that hash to drain. A file under TXHASH_ASYNC_MIN
 * is hashed on the spot (waiting for the helper at its end would cost more
 * than hashing it), as are small updates with nothing queued, and
 * everything on a one-CPU machine or while nobody holds the helper.
 *
 * The helper thread runs while at least one txhash_hold() is outstanding
 * (a file source or sink holds it for its lifetime) and is joined by the
 * last txhash_release(). At most TXHASH_MAX_QUEUED bytes wait for it; an
 * update beyond that waits for a block to free up: backpressure when hashing
 * is the slower stage, a wait of at most a few milliseconds.
 *
 * A txhash is used from one thread (the loop); the helper only ever touches
 * the hash state while bytes of it are queued. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Bytes per queued block, and blocks in the whole process. */
#define TXHASH_BLOCK ((size_t)256 * 1024)
#define TXHASH_MAX_BLOCKS 16
#define TXHASH_MAX_QUEUED (TXHASH_BLOCK * TXHASH_MAX_BLOCKS)
/* An update this small with nothing queued is hashed inline: handing it
 * over costs more than hashing it. */
#define TXHASH_INLINE_MAX ((size_t)32 * 1024)
/* Smaller files are hashed inline altogether. */
#define TXHASH_ASYNC_MIN ((uint64_t)1 << 20)

struct txhash;

/* Keep the helper available (reference counted). 0, or -ENOMEM. Without a
 * hold every update is hashed inline. */
int txhash_hold(void);
void txhash_release(void);

/* A hash of size bytes in all (a hint: below TXHASH_ASYNC_MIN it stays on
 * the caller's thread). NULL when out of memory. */
struct txhash *txhash_new(uint64_t size);
/* 0 or -ENOMEM (then the hash is unusable: final fails too). */
int txhash_update(struct txhash *h, const void *p, size_t len);
/* Waits for queued bytes, then writes the digest. 0, -ENOMEM, -EIO. The
 * hash must not be updated afterwards. */
int txhash_final(struct txhash *h, uint8_t out[32]);
/* Drops queued bytes not yet hashed (waits for a block being hashed right
 * now). NULL-safe; returns NULL. */
struct txhash *txhash_free(struct txhash *h);
/* Bytes queued for the helper in the whole process (tests, stats). */
size_t txhash_queued_bytes(void);
