/* Multihash: identity and sha2-256 encode/parse, the peer-ids.md vectors,
 * and every length check. */
#include "testutil.h"

#include <errno.h>
#include <string.h>

#include "multihash.h"

static int parse_hex(const char *hex, struct multihash *mh, struct errmsg *e)
{
	static struct buf b; /* kept alive so mh can point into it */
	buf_free(&b);
	b = *hex ? th_hex(hex) : BUF_INIT;
	return multihash_parse(b.data, b.len, mh, e);
}

static void test_sha256_of_spec_key(void **state)
{
	/* peer-ids.md: the ECDSA key's peer ID is this sha2-256 multihash
	 * (QmVMT29id3TUASyfZZ6k9hmNyc2nYabCo4uMSpDw4zrgDk). */
	struct buf key =
	        th_hex("0803125b3059301306072a8648ce3d020106082a8648ce3d03010703420004de3d300f"
	               "a36ae0e8f5d530899d83abab44abf3161f162a4bc901d8e6ecda020e8b6d5f8da30525"
	               "e71d6851510c098e5c47c646a597fb4dcec034e9f77c409e62");
	struct buf mh = BUF_INIT;
	assert_int_equal(multihash_sha256(key.data, key.len, &mh), 0);
	th_assert_hex(mh.data, mh.len,
	              "122068362c312e155f4f7290b67f5cd094a22a0a4fbf20efd8c287934419350d36f7");
	buf_free(&mh);
	buf_free(&key);
}

static void test_sha256_empty(void **state)
{
	struct buf mh = BUF_INIT;
	assert_int_equal(multihash_sha256("", 0, &mh), 0);
	th_assert_hex(mh.data, mh.len,
	              "1220e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	buf_free(&mh);
}

static void test_parse_spec_vectors(void **state)
{
	struct multihash mh;
	assert_int_equal(
	        parse_hex("12209dff3b17d74cf4d38a50d8b6383e92d181a10395a5e73a726dcccbd21bf6f0b9",
	                  &mh, NULL),
	        0);
	assert_int_equal(mh.code, MULTIHASH_SHA2_256);
	assert_int_equal(mh.digest_len, 32);
	th_assert_hex(mh.digest, 2, "9dff");
	assert_int_equal(parse_hex("0024080112201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0"
	                           "e42d474fce27e",
	                           &mh, NULL),
	                 0);
	assert_int_equal(mh.code, MULTIHASH_IDENTITY);
	th_assert_hex(mh.digest, mh.digest_len,
	              "080112201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e");
	/* An empty identity multihash is structurally valid. */
	assert_int_equal(parse_hex("0000", &mh, NULL), 0);
	assert_int_equal(mh.digest_len, 0);
}

static void test_encode(void **state)
{
	struct buf b = BUF_INIT;
	assert_int_equal(multihash_encode(MULTIHASH_IDENTITY, (const uint8_t *)"abc", 3, &b), 0);
	th_assert_hex(b.data, b.len, "0003616263");
	/* Length varint of two bytes. */
	uint8_t big[MULTIHASH_MAX_DIGEST] = {0};
	buf_reset(&b);
	assert_int_equal(multihash_encode(MULTIHASH_IDENTITY, big, sizeof(big), &b), 0);
	th_assert_hex(b.data, 3, "008001");
	assert_int_equal(b.len, 3 + MULTIHASH_MAX_DIGEST);
	/* Wrong sizes for the code, unknown codes: nothing appended. */
	buf_reset(&b);
	assert_int_equal(multihash_encode(MULTIHASH_SHA2_256, big, 31, &b), -EINVAL);
	assert_int_equal(multihash_encode(MULTIHASH_IDENTITY, big, MULTIHASH_MAX_DIGEST + 1, &b),
	                 -EINVAL);
	assert_int_equal(multihash_encode((enum multihash_code)0x13, big, 64, &b), -EINVAL);
	assert_int_equal(b.len, 0);
	buf_free(&b);
}

static void expect_err(const char *hex, int code, const char *msg)
{
	struct multihash mh;
	struct errmsg e = {{0}};
	assert_int_equal(parse_hex(hex, &mh, &e), code);
	assert_string_equal(e.text, msg);
}

static void test_parse_errors(void **state)
{
	expect_err("", -EBADMSG, "multihash: truncated hash code");
	expect_err("12", -EBADMSG, "multihash: truncated digest length");
	expect_err("8000", -EBADMSG, "multihash: malformed varint in hash code");
	expect_err("00a000", -EBADMSG, "multihash: malformed varint in digest length");
	expect_err("1320aa", -EPROTONOSUPPORT,
	           "multihash: hash code 0x13 is not supported (only identity 0x00 and sha2-256 "
	           "0x12)");
	expect_err("a0e40220aa", -EPROTONOSUPPORT,
	           "multihash: hash code 0xb220 is not supported (only identity 0x00 and sha2-256 "
	           "0x12)");
	expect_err("1214aabb", -EBADMSG, "multihash: sha2-256 digest length is 20, must be 32");
	expect_err("1220aabb", -EBADMSG,
	           "multihash: truncated sha2-256 digest (32 bytes declared, 2 present)");
	expect_err("0003aabb", -EBADMSG,
	           "multihash: truncated identity digest (3 bytes declared, 2 present)");
	expect_err("0081018899", -EMSGSIZE,
	           "multihash: identity digest of 129 bytes is over the 128 limit");
	expect_err("0002aabbcc", -EBADMSG, "multihash: 1 unexpected bytes after the digest");
}

static void test_cursor_leaves_rest(void **state)
{
	struct buf b = th_hex("0002aabb13");
	struct cursor c;
	cur_init(&c, b.data, b.len);
	struct multihash mh;
	assert_int_equal(cur_get_multihash(&c, &mh, NULL), 0);
	assert_int_equal(c.off, 4);
	/* A failed parse leaves the cursor where it was. */
	assert_int_equal(cur_get_multihash(&c, &mh, NULL), -EPROTONOSUPPORT);
	assert_int_equal(c.off, 4);
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_sha256_of_spec_key),
	        cmocka_unit_test(test_sha256_empty),
	        cmocka_unit_test(test_parse_spec_vectors),
	        cmocka_unit_test(test_encode),
	        cmocka_unit_test(test_parse_errors),
	        cmocka_unit_test(test_cursor_leaves_rest),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
