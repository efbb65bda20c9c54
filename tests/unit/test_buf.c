/* Byte buffer and bounded cursor. */
#include "testutil.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cursor.h"

static void test_append_and_consume(void **state)
{
	_cleanup_buf_ struct buf b = BUF_INIT;
	assert_int_equal(buf_append_u8(&b, 0x01), 0);
	assert_int_equal(buf_append_u16be(&b, 0x0203), 0);
	assert_int_equal(buf_append_u32be(&b, 0x04050607), 0);
	assert_int_equal(buf_append_u64be(&b, 0x08090a0b0c0d0e0fULL), 0);
	th_assert_hex(b.data, b.len, "0102030405060708090a0b0c0d0e0f");
	buf_consume(&b, 3);
	th_assert_hex(b.data, b.len, "0405060708090a0b0c0d0e0f");
	buf_consume(&b, 100);
	assert_int_equal(b.len, 0);
}

static void test_growth_keeps_content(void **state)
{
	_cleanup_buf_ struct buf b = BUF_INIT;
	for (int i = 0; i < 10000; i++)
		assert_int_equal(buf_append_u8(&b, (uint8_t)i), 0);
	assert_int_equal(b.len, 10000);
	for (int i = 0; i < 10000; i++)
		assert_int_equal(b.data[i], (uint8_t)i);
}

static void test_reserve_cap(void **state)
{
	struct buf b = BUF_INIT;
	assert_int_equal(buf_reserve(&b, BUF_MAX_SIZE + 1), -ENOMEM);
	assert_null(b.data);
}

static void test_steal(void **state)
{
	struct buf b = BUF_INIT;
	assert_int_equal(buf_append_str(&b, "abc"), 0);
	size_t len;
	uint8_t *p = buf_steal(&b, &len);
	assert_int_equal(len, 3);
	assert_memory_equal(p, "abc", 3);
	assert_null(b.data);
	free(p);
}

static void test_cursor_bounds(void **state)
{
	const uint8_t d[] = {0x00, 0x10, 0x20, 0x30, 0x40};
	struct cursor c;
	cur_init(&c, d, sizeof(d));
	uint16_t v16;
	uint32_t v32;
	assert_int_equal(cur_get_u16be(&c, &v16), 0);
	assert_int_equal(v16, 0x0010);
	/* Only three bytes left: a u32 read fails and does not move. */
	assert_int_equal(cur_get_u32be(&c, &v32), -ENODATA);
	assert_int_equal(cur_remaining(&c), 3);
	struct cursor sub;
	assert_int_equal(cur_sub(&c, 2, &sub), 0);
	assert_int_equal(cur_remaining(&sub), 2);
	assert_int_equal(cur_remaining(&c), 1);
	assert_int_equal(cur_skip(&c, 2), -ENODATA);
	uint8_t last;
	assert_int_equal(cur_get_u8(&c, &last), 0);
	assert_int_equal(last, 0x40);
	assert_true(cur_eof(&c));
}

static void test_cursor_le(void **state)
{
	const uint8_t d[] = {1, 0, 0, 0, 0, 0, 0, 0x80};
	struct cursor c;
	cur_init(&c, d, sizeof(d));
	uint64_t v;
	assert_int_equal(cur_get_u64le(&c, &v), 0);
	assert_true(v == 0x8000000000000001ULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_append_and_consume),
	        cmocka_unit_test(test_growth_keeps_content),
	        cmocka_unit_test(test_reserve_cap),
	        cmocka_unit_test(test_steal),
	        cmocka_unit_test(test_cursor_bounds),
	        cmocka_unit_test(test_cursor_le),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
