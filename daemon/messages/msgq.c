/* Per-device priority queue of outbound DeviceMessages (msgq.h). Three
 * FIFO lists, one per priority, each with a cursor at its first unsent
 * item: items before the cursor were written and wait for their Ack, so
 * taking, acknowledging and requeueing are O(1) in the common case (Acks
 * arrive in the order messages were sent). */
#include "msgq.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void msgq_init(struct msgq *q, size_t max_count, size_t max_bytes)
{
	memset(q, 0, sizeof(*q));
	for (int p = 0; p < MSGQ_NPRIO; p++)
		TAILQ_INIT(&q->lists[p]);
	q->max_count = max_count;
	q->max_bytes = max_bytes;
}

void msgq_free(struct msgq *q)
{
	for (int p = 0; p < MSGQ_NPRIO; p++) {
		struct msgq_item *it;
		while ((it = TAILQ_FIRST(&q->lists[p]))) {
			TAILQ_REMOVE(&q->lists[p], it, link);
			free(it);
		}
		q->cursor[p] = NULL;
	}
	q->count = q->bytes = q->unsent = 0;
}

struct msgq_item *msgq_item_new(const uint8_t id[DEVMSG_ID_LEN], const uint8_t *frame, size_t len,
                                enum msgq_prio prio, bool durable)
{
	struct msgq_item *it = malloc(sizeof(*it) + len);
	if (!it)
		return NULL;
	memset(it, 0, sizeof(*it));
	memcpy(it->id, id, DEVMSG_ID_LEN);
	memcpy(it->frame, frame, len);
	it->len = len;
	it->prio = prio < MSGQ_NPRIO ? prio : MSGQ_NORMAL;
	it->durable = durable;
	return it;
}

int msgq_room(const struct msgq *q, size_t len)
{
	if (q->count >= q->max_count || len > q->max_bytes || q->bytes > q->max_bytes - len)
		return -ENOBUFS;
	return 0;
}

int msgq_push(struct msgq *q, struct msgq_item *it)
{
	if (msgq_room(q, it->len) < 0)
		return -ENOBUFS;
	it->sent = false;
	TAILQ_INSERT_TAIL(&q->lists[it->prio], it, link);
	if (!q->cursor[it->prio])
		q->cursor[it->prio] = it;
	q->count++;
	q->bytes += it->len;
	q->unsent++;
	return 0;
}

struct msgq_item *msgq_peek(const struct msgq *q)
{
	for (int p = 0; p < MSGQ_NPRIO; p++)
		if (q->cursor[p])
			return q->cursor[p];
	return NULL;
}

void msgq_remove(struct msgq *q, struct msgq_item *it)
{
	if (q->cursor[it->prio] == it)
		q->cursor[it->prio] = TAILQ_NEXT(it, link);
	TAILQ_REMOVE(&q->lists[it->prio], it, link);
	q->count--;
	q->bytes -= it->len;
	if (!it->sent)
		q->unsent--;
}

struct msgq_item *msgq_take(struct msgq *q)
{
	struct msgq_item *it = msgq_peek(q);
	if (!it)
		return NULL;
	if (!it->durable) {
		msgq_remove(q, it);
		return it;
	}
	q->cursor[it->prio] = TAILQ_NEXT(it, link);
	it->sent = true;
	q->unsent--;
	return it;
}

struct msgq_item *msgq_find(const struct msgq *q, const uint8_t id[DEVMSG_ID_LEN])
{
	for (int p = 0; p < MSGQ_NPRIO; p++) {
		struct msgq_item *it;
		TAILQ_FOREACH(it, &q->lists[p], link)
		if (memcmp(it->id, id, DEVMSG_ID_LEN) == 0)
			return it;
	}
	return NULL;
}

struct msgq_item *msgq_ack(struct msgq *q, const uint8_t id[DEVMSG_ID_LEN])
{
	/* Only the sent prefix of each list can be acknowledged. */
	for (int p = 0; p < MSGQ_NPRIO; p++) {
		struct msgq_item *it;
		for (it = TAILQ_FIRST(&q->lists[p]); it && it != q->cursor[p];
		     it = TAILQ_NEXT(it, link)) {
			if (memcmp(it->id, id, DEVMSG_ID_LEN) == 0) {
				msgq_remove(q, it);
				return it;
			}
		}
	}
	return NULL;
}

size_t msgq_requeue(struct msgq *q)
{
	size_t n = 0;
	for (int p = 0; p < MSGQ_NPRIO; p++) {
		struct msgq_item *it;
		for (it = TAILQ_FIRST(&q->lists[p]); it && it != q->cursor[p];
		     it = TAILQ_NEXT(it, link)) {
			it->sent = false;
			n++;
		}
		q->cursor[p] = TAILQ_FIRST(&q->lists[p]);
	}
	q->unsent += n;
	return n;
}

size_t msgq_expire(struct msgq *q, uint64_t now_ms, struct msgq_item **out, size_t max)
{
	size_t n = 0;
	for (int p = 0; p < MSGQ_NPRIO && n < max; p++) {
		struct msgq_item *it = q->cursor[p], *next;
		for (; it && n < max; it = next) {
			next = TAILQ_NEXT(it, link);
			if (!it->durable && it->deadline_ms && now_ms >= it->deadline_ms) {
				msgq_remove(q, it);
				out[n++] = it;
			}
		}
	}
	return n;
}

uint64_t msgq_next_deadline(const struct msgq *q)
{
	uint64_t min = UINT64_MAX;
	for (int p = 0; p < MSGQ_NPRIO; p++)
		for (struct msgq_item *it = q->cursor[p]; it; it = TAILQ_NEXT(it, link))
			if (!it->durable && it->deadline_ms && it->deadline_ms < min)
				min = it->deadline_ms;
	return min;
}
