/* Length-prefixed message framing: partial input, caps, pipelined bytes. */
#include "testutil.h"

#include <errno.h>

#include "lpmsg.h"

static void test_one_message_and_leftover(void **state)
{
	struct buf b = th_hex("03616263"
	                      "ff"); /* "abc" then a stray byte */
	const uint8_t *m;
	size_t n;
	assert_int_equal(lpmsg_next(b.data, b.len, 4096, &m, &n), 4);
	assert_int_equal(n, 3);
	assert_memory_equal(m, "abc", 3);
	/* The byte after the message is still the caller's. */
	assert_int_equal(lpmsg_next(b.data + 4, 1, 4096, &m, &n), 0);
	buf_free(&b);
}

static void test_partial_input_needs_more(void **state)
{
	struct buf b = th_hex("8001"); /* length 128, no payload yet */
	const uint8_t *m;
	size_t n;
	for (size_t i = 0; i <= b.len; i++)
		assert_int_equal(lpmsg_next(b.data, i, 4096, &m, &n), 0);
	buf_free(&b);
}

static void test_split_at_every_byte(void **state)
{
	struct buf out = BUF_INIT;
	uint8_t payload[300];
	for (size_t i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)i;
	assert_int_equal(lpmsg_append(&out, payload, sizeof(payload), 4096), 0);
	assert_int_equal(out.len, 302);
	const uint8_t *m;
	size_t n;
	for (size_t i = 0; i < out.len; i++)
		assert_int_equal(lpmsg_next(out.data, i, 4096, &m, &n), 0);
	assert_int_equal(lpmsg_next(out.data, out.len, 4096, &m, &n), 302);
	assert_int_equal(n, 300);
	assert_memory_equal(m, payload, 300);
	buf_free(&out);
}

static void test_oversized_rejected_before_payload(void **state)
{
	/* 8193 announced against an 8192 cap: refused on the prefix alone. */
	struct buf b = th_hex("8140");
	const uint8_t *m;
	size_t n;
	assert_int_equal(lpmsg_next(b.data, b.len, 8192, &m, &n), -EMSGSIZE);
	buf_free(&b);
	/* A prefix longer than any acceptable length. */
	struct buf big = th_hex("ffffffffff01");
	assert_int_equal(lpmsg_next(big.data, big.len, 8192, &m, &n), -EMSGSIZE);
	buf_free(&big);
	struct buf out = BUF_INIT;
	assert_int_equal(lpmsg_append(&out, "abcde", 5, 4), -EMSGSIZE);
	assert_int_equal(out.len, 0);
}

static void test_non_minimal_prefix_rejected(void **state)
{
	struct buf b = th_hex("8300616263");
	const uint8_t *m;
	size_t n;
	assert_int_equal(lpmsg_next(b.data, b.len, 4096, &m, &n), -EBADMSG);
	buf_free(&b);
}

static void test_empty_message(void **state)
{
	struct buf b = th_hex("00");
	const uint8_t *m;
	size_t n = 99;
	assert_int_equal(lpmsg_next(b.data, b.len, 4096, &m, &n), 1);
	assert_int_equal(n, 0);
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_one_message_and_leftover),
	        cmocka_unit_test(test_partial_input_needs_more),
	        cmocka_unit_test(test_split_at_every_byte),
	        cmocka_unit_test(test_oversized_rejected_before_payload),
	        cmocka_unit_test(test_non_minimal_prefix_rejected),
	        cmocka_unit_test(test_empty_message),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
