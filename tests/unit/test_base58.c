/* base58btc: Bitcoin Core's encode/decode vectors, leading zeros, bad
 * characters with their positions, caps. */
#include "testutil.h"

#include <errno.h>
#include <string.h>

#include "base58.h"

static void roundtrip(const char *hex, const char *text)
{
	struct buf in = *hex ? th_hex(hex) : BUF_INIT;
	char out[256];
	int n = base58_encode(in.data, in.len, out, sizeof(out));
	assert_int_equal(n, (int)strlen(text));
	assert_string_equal(out, text);
	assert_true(strlen(text) <= base58_encoded_max(in.len));
	struct buf back = BUF_INIT;
	assert_int_equal(base58_decode(text, strlen(text), &back, NULL), 0);
	th_assert_hex(back.data, back.len, hex);
	buf_free(&back);
	buf_free(&in);
}

/* From Bitcoin Core src/test/data/base58_encode_decode.json. */
static void test_bitcoin_vectors(void **state)
{
	roundtrip("", "");
	roundtrip("61", "2g");
	roundtrip("626262", "a3gV");
	roundtrip("636363", "aPEr");
	roundtrip("73696d706c792061206c6f6e6720737472696e67", "2cFupjhnEsSn59qHXstmK2ffpLv2");
	roundtrip("00eb15231dfceb60925886b67d065299925915aeb172c06647",
	          "1NS17iag9jJgTHD1VXjvLCEnZuQ3rJDE9L");
	roundtrip("516b6fcd0f", "ABnLTmg");
	roundtrip("bf4f89001e670274dd", "3SEo3LWLoPntC");
	roundtrip("572e4794", "3EFU7m");
	roundtrip("ecac89cad93923c02321", "EJDM8drfXA6uyA");
	roundtrip("10c8511e", "Rt5zm");
	roundtrip("00000000000000000000", "1111111111");
	/* "Hello World!" from the IETF base58 draft. */
	roundtrip("48656c6c6f20576f726c6421", "2NEpo7TZRRrLZSi2U");
}

static void test_peer_id_vector(void **state)
{
	/* peer-ids.md: an Ed25519 identity peer ID. */
	roundtrip("0024080112202ffa35a99d3a3cfbb17bb7c1dc5561b18a8dcca4df38dc613ea859c37eb1336b",
	          "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA");
}

static void test_leading_zeros(void **state)
{
	roundtrip("00", "1");
	roundtrip("0000", "11");
	roundtrip("000001", "112");
	/* multibase tests/basic.csv: "\0yes mani !" is z17paNL19xttacUY. */
	roundtrip("00796573206d616e692021", "17paNL19xttacUY");
}

static void expect_bad_len(const char *text, size_t len, const char *msg)
{
	struct errmsg e = {{0}};
	struct buf out = BUF_INIT;
	assert_int_equal(base58_decode(text, len, &out, &e), -EINVAL);
	assert_string_equal(e.text, msg);
	assert_int_equal(out.len, 0);
	buf_free(&out);
}

/* Literal strings only: the length includes embedded NULs. */
#define expect_bad(lit, msg) expect_bad_len(lit, sizeof(lit) - 1, msg)

static void test_bad_characters(void **state)
{
	/* 0, O, I and l are not in the alphabet. */
	expect_bad("12D3K0oW", "base58btc: invalid character '0' at position 6");
	expect_bad("O", "base58btc: invalid character 'O' at position 1");
	expect_bad("abcI", "base58btc: invalid character 'I' at position 4");
	expect_bad("2l", "base58btc: invalid character 'l' at position 2");
	expect_bad("2g ", "base58btc: invalid character ' ' at position 3");
	expect_bad("1+", "base58btc: invalid character '+' at position 2");
	expect_bad("2\x80", "base58btc: invalid byte 0x80 at position 2");
	/* An embedded NUL is a bad byte, not the end of the text. */
	expect_bad("2g\0"
	           "2",
	           "base58btc: invalid byte 0x00 at position 3");
}

static void test_decode_appends_and_keeps_on_error(void **state)
{
	struct buf out = th_hex("ff");
	assert_int_equal(base58_decode("2g", 2, &out, NULL), 0);
	th_assert_hex(out.data, out.len, "ff61");
	assert_int_equal(base58_decode("2g0", 3, &out, NULL), -EINVAL);
	th_assert_hex(out.data, out.len, "ff61");
	buf_free(&out);
}

static void test_buffer_too_small(void **state)
{
	char out[4];
	/* "a3gV" needs 5 bytes with the NUL. */
	assert_int_equal(base58_encode((const uint8_t *)"bbb", 3, out, sizeof(out)), -ENOBUFS);
	assert_int_equal(base58_encode((const uint8_t *)"bbb", 3, out, 5 - 1), -ENOBUFS);
	char ok[5];
	assert_int_equal(base58_encode((const uint8_t *)"bbb", 3, ok, sizeof(ok)), 4);
	assert_string_equal(ok, "a3gV");
}

static void test_caps(void **state)
{
	static uint8_t big[BASEX_MAX_BYTES + 1];
	static char text[BASEX_MAX_CHARS + 2];
	memset(big, 0xff, sizeof(big));
	assert_int_equal(base58_encode(big, sizeof(big), text, sizeof(text)), -EMSGSIZE);
	int n = base58_encode(big, BASEX_MAX_BYTES, text, sizeof(text));
	assert_true(n > 0);
	assert_true((size_t)n <= base58_encoded_max(BASEX_MAX_BYTES));
	struct buf back = BUF_INIT;
	assert_int_equal(base58_decode(text, (size_t)n, &back, NULL), 0);
	assert_int_equal(back.len, BASEX_MAX_BYTES);
	assert_memory_equal(back.data, big, BASEX_MAX_BYTES);
	buf_free(&back);

	/* Too many characters, and too many decoded bytes ('1' = one zero). */
	struct errmsg e = {{0}};
	memset(text, '1', sizeof(text));
	assert_int_equal(base58_decode(text, BASEX_MAX_CHARS + 1, &back, &e), -EMSGSIZE);
	assert_int_equal(base58_decode(text, BASEX_MAX_BYTES + 1, &back, &e), -EMSGSIZE);
	assert_non_null(strstr(e.text, "base58btc"));
	assert_int_equal(back.len, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_bitcoin_vectors),
	        cmocka_unit_test(test_peer_id_vector),
	        cmocka_unit_test(test_leading_zeros),
	        cmocka_unit_test(test_bad_characters),
	        cmocka_unit_test(test_decode_appends_and_keeps_on_error),
	        cmocka_unit_test(test_buffer_too_small),
	        cmocka_unit_test(test_caps),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
