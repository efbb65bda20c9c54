/* The per-device outbound message queue (daemon/messages/msgq.h): strict
 * priority order with FIFO inside a priority, the count and byte bounds
 * (a full queue refuses, it never drops), durable items kept until their
 * Ack and put back in their original place when the stream goes, stale
 * Acks ignored, and unsent fire-and-forget items expiring at their
 * deadline. */
#include "testutil.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "messages/msgq.h"

static void mkid(uint8_t id[DEVMSG_ID_LEN], unsigned n)
{
	memset(id, 0, DEVMSG_ID_LEN);
	id[0] = (uint8_t)(n >> 8);
	id[1] = (uint8_t)n;
}

/* An item whose frame is the single byte n and whose id encodes n. */
static struct msgq_item *item(unsigned n, enum msgq_prio p, bool durable)
{
	uint8_t id[DEVMSG_ID_LEN];
	mkid(id, n);
	uint8_t frame[8] = {(uint8_t)n};
	struct msgq_item *it = msgq_item_new(id, frame, sizeof(frame), p, durable);
	assert_non_null(it);
	return it;
}

static unsigned num(const struct msgq_item *it)
{
	return (unsigned)it->id[0] << 8 | it->id[1];
}

static void push(struct msgq *q, unsigned n, enum msgq_prio p, bool durable)
{
	assert_int_equal(msgq_push(q, item(n, p, durable)), 0);
}

/* Take the next item and check its number; frees non-durable ones. */
static void take_is(struct msgq *q, unsigned n)
{
	struct msgq_item *it = msgq_take(q);
	assert_non_null(it);
	if (num(it) != n)
		fail_msg("took %u, expected %u", num(it), n);
	if (!it->durable)
		free(it);
}

static void test_priority_order(void **state)
{
	struct msgq q;
	msgq_init(&q, 100, 1 << 20);
	push(&q, 1, MSGQ_LOW, false);
	push(&q, 2, MSGQ_NORMAL, false);
	push(&q, 3, MSGQ_HIGH, false);
	push(&q, 4, MSGQ_NORMAL, false);
	push(&q, 5, MSGQ_LOW, false);
	push(&q, 6, MSGQ_HIGH, false);
	assert_int_equal(q.count, 6);
	assert_int_equal(q.unsent, 6);
	assert_int_equal(q.bytes, 6 * 8);
	take_is(&q, 3);
	take_is(&q, 6);
	take_is(&q, 2);
	/* A High that arrives late still goes before the rest. */
	push(&q, 7, MSGQ_HIGH, false);
	take_is(&q, 7);
	take_is(&q, 4);
	take_is(&q, 1);
	take_is(&q, 5);
	assert_null(msgq_take(&q));
	assert_null(msgq_peek(&q));
	assert_int_equal(q.count, 0);
	assert_int_equal(q.bytes, 0);
	msgq_free(&q);
}

static void test_bounds(void **state)
{
	struct msgq q;
	msgq_init(&q, 3, 1 << 20);
	for (unsigned i = 0; i < 3; i++)
		push(&q, i, MSGQ_NORMAL, true);
	struct msgq_item *extra = item(9, MSGQ_HIGH, false);
	assert_int_equal(msgq_room(&q, extra->len), -ENOBUFS);
	assert_int_equal(msgq_push(&q, extra), -ENOBUFS);
	assert_int_equal(q.count, 3); /* refused, nothing dropped */
	/* Taking a durable item does not make room: it waits for its Ack. */
	take_is(&q, 0);
	assert_int_equal(msgq_push(&q, extra), -ENOBUFS);
	free(msgq_ack(&q, (uint8_t[DEVMSG_ID_LEN]){0}));
	assert_int_equal(msgq_push(&q, extra), 0);
	msgq_free(&q);

	/* The byte bound: 3 frames of 8 bytes fit in 24, a fourth does not. */
	msgq_init(&q, 100, 24);
	for (unsigned i = 0; i < 3; i++)
		push(&q, i, MSGQ_LOW, false);
	extra = item(9, MSGQ_LOW, false);
	assert_int_equal(msgq_push(&q, extra), -ENOBUFS);
	take_is(&q, 0); /* a non-durable item leaves when taken */
	assert_int_equal(msgq_push(&q, extra), 0);
	assert_int_equal(q.bytes, 24);
	/* An item larger than the whole bound never fits. */
	assert_int_equal(msgq_room(&q, 25), -ENOBUFS);
	msgq_free(&q);
	msgq_init(&q, 100, 24);
	assert_int_equal(msgq_room(&q, 25), -ENOBUFS);
	assert_int_equal(msgq_room(&q, 24), 0);
	msgq_free(&q);
}

static void test_durable_ack_and_requeue(void **state)
{
	struct msgq q;
	msgq_init(&q, 100, 1 << 20);
	push(&q, 1, MSGQ_NORMAL, true);
	push(&q, 2, MSGQ_NORMAL, true);
	push(&q, 3, MSGQ_HIGH, true);
	push(&q, 4, MSGQ_LOW, false);
	take_is(&q, 3);
	take_is(&q, 1);
	assert_int_equal(q.count, 4);
	assert_int_equal(q.unsent, 2);
	uint8_t id[DEVMSG_ID_LEN];
	/* An Ack for an item not yet sent is stale: ignored. */
	mkid(id, 2);
	assert_null(msgq_ack(&q, id));
	mkid(id, 77);
	assert_null(msgq_ack(&q, id));
	mkid(id, 3);
	struct msgq_item *acked = msgq_ack(&q, id);
	assert_non_null(acked);
	assert_int_equal(num(acked), 3);
	free(acked);
	assert_null(msgq_ack(&q, id)); /* a repeated Ack */
	/* The connection drops: 1 was sent, not acked; it comes back first. */
	push(&q, 5, MSGQ_NORMAL, true);
	assert_int_equal(msgq_requeue(&q), 1);
	assert_int_equal(q.unsent, 4);
	take_is(&q, 1);
	take_is(&q, 2);
	take_is(&q, 5);
	take_is(&q, 4);
	assert_null(msgq_take(&q));
	/* Three durable items remain until acknowledged. */
	assert_int_equal(q.count, 3);
	assert_int_equal(q.unsent, 0);
	mkid(id, 2);
	assert_non_null(msgq_find(&q, id));
	free(msgq_ack(&q, id));
	assert_null(msgq_find(&q, id));
	assert_int_equal(q.count, 2);
	msgq_free(&q);
}

static void test_expire(void **state)
{
	struct msgq q;
	msgq_init(&q, 100, 1 << 20);
	struct msgq_item *a = item(1, MSGQ_NORMAL, false);
	a->deadline_ms = 100;
	struct msgq_item *b = item(2, MSGQ_NORMAL, false);
	b->deadline_ms = 300;
	struct msgq_item *c = item(3, MSGQ_HIGH, true); /* durable: waits forever */
	c->deadline_ms = 50;
	struct msgq_item *d = item(4, MSGQ_LOW, false); /* no deadline */
	assert_int_equal(msgq_push(&q, a), 0);
	assert_int_equal(msgq_push(&q, b), 0);
	assert_int_equal(msgq_push(&q, c), 0);
	assert_int_equal(msgq_push(&q, d), 0);
	assert_int_equal(msgq_next_deadline(&q), 100);
	struct msgq_item *out[4];
	assert_int_equal(msgq_expire(&q, 99, out, 4), 0);
	assert_int_equal(msgq_expire(&q, 100, out, 4), 1);
	assert_ptr_equal(out[0], a);
	free(a);
	assert_int_equal(msgq_next_deadline(&q), 300);
	/* A taken item (the cursor moved past it) never expires. */
	take_is(&q, 3);
	assert_int_equal(msgq_expire(&q, 1000, out, 4), 1);
	assert_ptr_equal(out[0], b);
	free(b);
	assert_int_equal(msgq_next_deadline(&q), UINT64_MAX);
	take_is(&q, 4);
	assert_int_equal(q.count, 1);
	msgq_free(&q);
}

static void test_remove_at_cursor(void **state)
{
	struct msgq q;
	msgq_init(&q, 100, 1 << 20);
	struct msgq_item *a = item(1, MSGQ_NORMAL, true);
	struct msgq_item *b = item(2, MSGQ_NORMAL, false);
	struct msgq_item *c = item(3, MSGQ_NORMAL, false);
	assert_int_equal(msgq_push(&q, a), 0);
	assert_int_equal(msgq_push(&q, b), 0);
	assert_int_equal(msgq_push(&q, c), 0);
	take_is(&q, 1);
	/* b is the cursor; removing it moves the cursor to c. */
	msgq_remove(&q, b);
	free(b);
	assert_ptr_equal(msgq_peek(&q), c);
	assert_int_equal(q.unsent, 1);
	msgq_remove(&q, a); /* a sent item */
	free(a);
	assert_int_equal(q.unsent, 1);
	assert_int_equal(q.count, 1);
	take_is(&q, 3);
	assert_int_equal(q.count, 0);
	msgq_free(&q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_priority_order),          cmocka_unit_test(test_bounds),
	        cmocka_unit_test(test_durable_ack_and_requeue), cmocka_unit_test(test_expire),
	        cmocka_unit_test(test_remove_at_cursor),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
