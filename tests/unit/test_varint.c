/* Unsigned varint: spec vectors, minimality, caps, truncation. */
#include "testutil.h"

#include <errno.h>

#include "varint.h"

static void encode_is(uint64_t v, const char *hex)
{
	uint8_t out[VARINT_MAX_BYTES];
	int n = varint_encode(v, out);
	assert_true(n > 0);
	assert_int_equal((size_t)n, varint_size(v));
	th_assert_hex(out, (size_t)n, hex);
	uint64_t back;
	assert_int_equal(varint_decode(out, (size_t)n, 0, &back), n);
	assert_true(back == v);
}

static void test_spec_vectors(void **state)
{
	encode_is(0, "00");
	encode_is(1, "01");
	encode_is(127, "7f");
	encode_is(128, "8001");
	encode_is(255, "ff01");
	encode_is(300, "ac02");
	encode_is(16384, "808001");
	encode_is(273, "9102");
	encode_is(421, "a503");
	encode_is(461, "cd03");
	encode_is(VARINT_MAX_VALUE, "ffffffffffffffff7f");
}

static void test_too_large_to_encode(void **state)
{
	uint8_t out[VARINT_MAX_BYTES];
	assert_int_equal(varint_encode(VARINT_MAX_VALUE + 1, out), -ERANGE);
}

static int decode_hex(const char *hex, size_t cap, uint64_t *v)
{
	struct buf b = th_hex(hex);
	int r = varint_decode(b.data, b.len, cap, v);
	buf_free(&b);
	return r;
}

static void test_non_minimal_rejected(void **state)
{
	uint64_t v;
	assert_int_equal(decode_hex("8100", 0, &v), -EBADMSG);
	assert_int_equal(decode_hex("8000", 0, &v), -EBADMSG);
	assert_int_equal(decode_hex("ff8000", 0, &v), -EBADMSG);
}

static void test_truncated(void **state)
{
	uint64_t v;
	assert_int_equal(decode_hex("80", 0, &v), -ENODATA);
	assert_int_equal(decode_hex("ffff", 0, &v), -ENODATA);
	assert_int_equal(varint_decode(NULL, 0, 0, &v), -ENODATA);
}

static void test_oversized(void **state)
{
	uint64_t v;
	/* Ten bytes is over the 9-byte limit. */
	assert_int_equal(decode_hex("ffffffffffffffffff01", 0, &v), -EOVERFLOW);
	/* A caller cap of 2 bytes (multistream-select) rejects 16384. */
	assert_int_equal(decode_hex("808001", 2, &v), -EOVERFLOW);
	assert_int_equal(decode_hex("ff7f", 2, &v), 2);
	assert_true(v == 16383);
}

static void test_cursor_decode_advances(void **state)
{
	struct buf b = th_hex("ac0205");
	struct cursor c;
	cur_init(&c, b.data, b.len);
	uint64_t v;
	assert_int_equal(cur_get_varint(&c, 0, &v), 0);
	assert_true(v == 300);
	assert_int_equal(cur_get_varint(&c, 0, &v), 0);
	assert_true(v == 5);
	assert_int_equal(cur_get_varint(&c, 0, &v), -ENODATA);
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_spec_vectors),
	        cmocka_unit_test(test_too_large_to_encode),
	        cmocka_unit_test(test_non_minimal_rejected),
	        cmocka_unit_test(test_truncated),
	        cmocka_unit_test(test_oversized),
	        cmocka_unit_test(test_cursor_decode_advances),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
