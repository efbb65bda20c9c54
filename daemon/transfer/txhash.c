/* SHA-256 on a helper thread (see txhash.h): one FIFO of blocks for the
 * whole process, a free list of blocks reused across files, and one mutex
 * with three condition variables (work queued, a block freed, a hash idle).
 * The order of a hash's bytes is the FIFO order: one thread takes blocks
 * one at a time. Copying into a block is done under the lock so the tail
 * block of a hash can still grow while the helper works on older ones.
 * An idle helper is woken once TXHASH_WAKE_BLOCKS wait (or someone waits for
 * a result), not per block: one wake-up per 256 KiB cost a context switch
 * on each side every ~200 us. */
#include "txhash.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crypto.h"

/* Queued blocks that wake an idle helper. */
#define TXHASH_WAKE_BLOCKS 2

struct block {
	struct block *next;
	struct txhash *h;
	size_t len;
	uint8_t data[];
};

struct txhash {
	struct sha256_ctx *ctx;
	unsigned queued;  /* blocks queued or being hashed */
	int err;          /* the loop's view */
	int helper_err;   /* set by the helper, under the lock */
	bool inline_only; /* a small file */
};

static struct {
	pthread_mutex_t mu;
	pthread_cond_t work, room, idle;
	pthread_t thread;
	unsigned holds;
	bool running, stop, single_cpu_known, single_cpu;
	bool helper_idle; /* waiting for work */
	struct block *head, *tail;
	unsigned n_queued; /* blocks in the queue (not yet taken) */
	struct block *free_list;
	unsigned n_blocks; /* allocated: queued + being hashed + free */
	size_t queued_bytes;
} P = {
        .mu = PTHREAD_MUTEX_INITIALIZER,
        .work = PTHREAD_COND_INITIALIZER,
        .room = PTHREAD_COND_INITIALIZER,
        .idle = PTHREAD_COND_INITIALIZER,
};

static struct block *pop_head(void)
{
	struct block *b = P.head;
	if (b) {
		P.n_queued--;
		P.head = b->next;
		if (!P.head)
			P.tail = NULL;
	}
	return b;
}

/* Called with the lock held. */
static void block_done(struct block *b)
{
	struct txhash *h = b->h;
	P.queued_bytes -= b->len;
	b->len = 0;
	b->h = NULL;
	b->next = P.free_list;
	P.free_list = b;
	pthread_cond_signal(&P.room);
	if (--h->queued == 0)
		pthread_cond_broadcast(&P.idle);
}

static void *helper_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&P.mu);
	for (;;) {
		struct block *b = pop_head();
		if (!b) {
			if (P.stop)
				break;
			P.helper_idle = true;
			pthread_cond_wait(&P.work, &P.mu);
			P.helper_idle = false;
			continue;
		}
		pthread_mutex_unlock(&P.mu);
		int r = sha256_update(b->h->ctx, b->data, b->len);
		pthread_mutex_lock(&P.mu);
		if (r < 0 && !b->h->helper_err)
			b->h->helper_err = r;
		block_done(b);
	}
	pthread_mutex_unlock(&P.mu);
	return NULL;
}

int txhash_hold(void)
{
	pthread_mutex_lock(&P.mu);
	P.holds++;
	if (!P.single_cpu_known) {
		P.single_cpu = sysconf(_SC_NPROCESSORS_ONLN) < 2;
		P.single_cpu_known = true;
	}
	pthread_mutex_unlock(&P.mu);
	return 0;
}

void txhash_release(void)
{
	pthread_mutex_lock(&P.mu);
	bool join = --P.holds == 0 && P.running;
	if (join) {
		P.stop = true;
		pthread_cond_signal(&P.work);
	}
	pthread_mutex_unlock(&P.mu);
	if (!join)
		return;
	pthread_join(P.thread, NULL);
	pthread_mutex_lock(&P.mu);
	P.running = P.stop = false;
	/* Nothing is queued: every hash was freed before the last release. */
	while (P.free_list) {
		struct block *b = P.free_list;
		P.free_list = b->next;
		free(b);
		P.n_blocks--;
	}
	pthread_mutex_unlock(&P.mu);
}

/* With the lock held: whether updates may go to the helper (starting it). */
static bool helper_ready(void)
{
	if (P.running)
		return true;
	if (P.holds == 0 || P.single_cpu)
		return false;
	P.running = pthread_create(&P.thread, NULL, helper_main, NULL) == 0;
	return P.running;
}

/* With the lock held: a free block, waiting for one when all are queued.
 * NULL when out of memory. */
static struct block *get_block(void)
{
	while (!P.free_list && P.n_blocks >= TXHASH_MAX_BLOCKS) {
		if (P.helper_idle)
			pthread_cond_signal(&P.work);
		pthread_cond_wait(&P.room, &P.mu);
	}
	struct block *b = P.free_list;
	if (b) {
		P.free_list = b->next;
		return b;
	}
	b = malloc(sizeof(*b) + TXHASH_BLOCK);
	if (b)
		P.n_blocks++;
	return b;
}

static void push_tail(struct block *b)
{
	b->next = NULL;
	if (P.tail)
		P.tail->next = b;
	else
		P.head = b;
	P.tail = b;
	if (++P.n_queued >= TXHASH_WAKE_BLOCKS && P.helper_idle)
		pthread_cond_signal(&P.work);
}

/* With the lock held: h's bytes are needed now. */
static void kick(const struct txhash *h)
{
	if (h->queued && P.helper_idle)
		pthread_cond_signal(&P.work);
}

struct txhash *txhash_new(uint64_t size)
{
	struct txhash *h = calloc(1, sizeof(*h));
	if (h && !(h->ctx = sha256_new())) {
		free(h);
		return NULL;
	}
	if (h)
		h->inline_only = size < TXHASH_ASYNC_MIN;
	return h;
}

/* With the lock held and the helper running: queue len bytes of p. */
static int enqueue(struct txhash *h, const uint8_t *p, size_t len)
{
	while (len > 0) {
		struct block *b =
		        P.tail && P.tail->h == h && P.tail->len < TXHASH_BLOCK ? P.tail : NULL;
		if (!b) {
			b = get_block();
			if (!b)
				return -ENOMEM;
			b->h = h;
			b->len = 0;
			push_tail(b);
			h->queued++;
		}
		size_t n = TXHASH_BLOCK - b->len < len ? TXHASH_BLOCK - b->len : len;
		memcpy(b->data + b->len, p, n);
		b->len += n;
		P.queued_bytes += n;
		p += n;
		len -= n;
	}
	return 0;
}

/* Queue p for the helper: 0; or 1 when the caller should hash it itself
 * (nothing of h is with the helper, so it will not touch h->ctx); or
 * -ENOMEM. */
static int try_enqueue(struct txhash *h, const void *p, size_t len)
{
	if (h->inline_only)
		return 1; /* never queued: no lock needed */
	pthread_mutex_lock(&P.mu);
	int r = h->queued == 0 && (len <= TXHASH_INLINE_MAX || !helper_ready())
	                ? 1
	                : enqueue(h, p, len);
	pthread_mutex_unlock(&P.mu);
	return r;
}

int txhash_update(struct txhash *h, const void *p, size_t len)
{
	if (h->err)
		return h->err;
	if (len == 0)
		return 0;
	int r = try_enqueue(h, p, len);
	if (r == 1)
		r = sha256_update(h->ctx, p, len);
	if (r < 0)
		h->err = r;
	return r;
}

static void wait_idle(struct txhash *h)
{
	pthread_mutex_lock(&P.mu);
	kick(h);
	while (h->queued)
		pthread_cond_wait(&P.idle, &P.mu);
	if (h->helper_err && !h->err)
		h->err = h->helper_err;
	pthread_mutex_unlock(&P.mu);
}

int txhash_final(struct txhash *h, uint8_t out[32])
{
	wait_idle(h);
	if (h->err)
		return h->err;
	int r = sha256_final(h->ctx, out);
	if (r < 0)
		h->err = r;
	return r;
}

/* With the lock held: take h's blocks the helper has not started on. */
static void unqueue(struct txhash *h)
{
	struct block **pp = &P.head, *last = NULL;
	while (*pp) {
		struct block *b = *pp;
		if (b->h != h) {
			last = b;
			pp = &b->next;
			continue;
		}
		*pp = b->next;
		P.n_queued--;
		block_done(b);
	}
	P.tail = last;
}

struct txhash *txhash_free(struct txhash *h)
{
	if (!h)
		return NULL;
	pthread_mutex_lock(&P.mu);
	unqueue(h);
	kick(h);
	while (h->queued)
		pthread_cond_wait(&P.idle, &P.mu);
	pthread_mutex_unlock(&P.mu);
	sha256_free(h->ctx);
	free(h);
	return NULL;
}

size_t txhash_queued_bytes(void)
{
	pthread_mutex_lock(&P.mu);
	size_t n = P.queued_bytes;
	pthread_mutex_unlock(&P.mu);
	return n;
}
