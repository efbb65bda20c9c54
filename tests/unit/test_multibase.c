/* Multibase: the spec's tests/basic.csv, leading_zero.csv and
 * case_insensitivity.csv vectors for every supported base, prefix errors,
 * error positions counted in the whole text. */
#include "testutil.h"

#include <errno.h>
#include <string.h>

#include "multibase.h"

struct vec {
	enum multibase base;
	const char *text;
};

static void check_vectors(const char *plain, size_t len, const struct vec *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char out[128];
		int r = multibase_encode(v[i].base, (const uint8_t *)plain, len, out, sizeof(out));
		assert_int_equal(r, (int)strlen(v[i].text));
		assert_string_equal(out, v[i].text);
		assert_true((size_t)r <= multibase_encoded_max(v[i].base, len));
		struct buf back = BUF_INIT;
		enum multibase got = 0;
		assert_int_equal(multibase_decode(out, (size_t)r, &back, &got, NULL), 0);
		assert_int_equal(got, v[i].base);
		assert_int_equal(back.len, len);
		assert_memory_equal(back.data, plain, len);
		buf_free(&back);
	}
}

static void test_basic_csv(void **state)
{
	static const struct vec v[] = {
	        {MULTIBASE_BASE16, "f796573206d616e692021"},
	        {MULTIBASE_BASE16_UPPER, "F796573206D616E692021"},
	        {MULTIBASE_BASE32, "bpfsxgidnmfxgsibb"},
	        {MULTIBASE_BASE32_UPPER, "BPFSXGIDNMFXGSIBB"},
	        {MULTIBASE_BASE32_PAD, "cpfsxgidnmfxgsibb"},
	        {MULTIBASE_BASE32_PAD_UPPER, "CPFSXGIDNMFXGSIBB"},
	        {MULTIBASE_BASE36, "k2lcpzo5yikidynfl"},
	        {MULTIBASE_BASE36_UPPER, "K2LCPZO5YIKIDYNFL"},
	        {MULTIBASE_BASE58BTC, "z7paNL19xttacUY"},
	        {MULTIBASE_BASE64, "meWVzIG1hbmkgIQ"},
	        {MULTIBASE_BASE64_PAD, "MeWVzIG1hbmkgIQ=="},
	        {MULTIBASE_BASE64URL, "ueWVzIG1hbmkgIQ"},
	        {MULTIBASE_BASE64URL_PAD, "UeWVzIG1hbmkgIQ=="},
	};
	check_vectors("yes mani !", 10, v, sizeof(v) / sizeof(v[0]));
}

static void test_leading_zero_csv(void **state)
{
	static const struct vec v[] = {
	        {MULTIBASE_BASE16, "f00796573206d616e692021"},
	        {MULTIBASE_BASE32, "bab4wk4zanvqw42jaee"},
	        {MULTIBASE_BASE36, "k02lcpzo5yikidynfl"},
	        {MULTIBASE_BASE58BTC, "z17paNL19xttacUY"},
	        {MULTIBASE_BASE64, "mAHllcyBtYW5pICE"},
	};
	check_vectors("\0yes mani !", 11, v, sizeof(v) / sizeof(v[0]));
	static const struct vec v2[] = {
	        {MULTIBASE_BASE36, "k002lcpzo5yikidynfl"},
	        {MULTIBASE_BASE58BTC, "z117paNL19xttacUY"},
	};
	check_vectors("\0\0yes mani !", 12, v2, sizeof(v2) / sizeof(v2[0]));
}

static void test_case_insensitivity_csv(void **state)
{
	static const char *texts[] = {
	        "f68656c6c6f20776F726C64", "F68656c6c6f20776F726C64",   "bnbswy3dpeB3W64TMMQ",
	        "Bnbswy3dpeB3W64TMMQ",     "cnbswy3dpeB3W64TMMQ======", "Cnbswy3dpeB3W64TMMQ======",
	        "kfUvrsIvVnfRbjWaJo",      "KfUVrSIVVnFRbJWAJo",
	};
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		struct buf b = BUF_INIT;
		struct errmsg e = {{0}};
		int r = multibase_decode(texts[i], strlen(texts[i]), &b, NULL, &e);
		if (r != 0)
			fail_msg("%s: %s", texts[i], e.text);
		assert_int_equal(b.len, 11);
		assert_memory_equal(b.data, "hello world", 11);
		buf_free(&b);
	}
	/* base58 and base64 are case-sensitive: different data, not an error. */
	struct buf b = BUF_INIT;
	assert_int_equal(multibase_decode("z7PANL19xttacUY", 15, &b, NULL, NULL), 0);
	assert_false(b.len == 10 && memcmp(b.data, "yes mani !", 10) == 0);
	buf_free(&b);
}

static void test_empty_payload(void **state)
{
	static const struct vec v[] = {
	        {MULTIBASE_BASE32, "b"},
	        {MULTIBASE_BASE58BTC, "z"},
	        {MULTIBASE_BASE36, "k"},
	        {MULTIBASE_BASE64_PAD, "M"},
	};
	check_vectors("", 0, v, sizeof(v) / sizeof(v[0]));
}

static int decode_err(const char *text, struct errmsg *e)
{
	struct buf b = BUF_INIT;
	enum multibase base = 0;
	int r = multibase_decode(text, strlen(text), &b, &base, e);
	assert_int_equal(b.len, 0);
	assert_int_equal(base, 0);
	buf_free(&b);
	return r;
}

static void test_prefix_errors(void **state)
{
	struct errmsg e = {{0}};
	assert_int_equal(decode_err("", &e), -EINVAL);
	assert_string_equal(e.text, "multibase: empty text (no prefix)");
	assert_int_equal(decode_err("xabc", &e), -EPROTONOSUPPORT);
	assert_string_equal(e.text, "multibase: unknown or unsupported prefix 'x' (supported: f "
	                            "F b B c C k K z m M u U)");
	/* Real multibase codes we do not implement are refused the same way. */
	assert_int_equal(decode_err("9573277761329450583662625", &e), -EPROTONOSUPPORT);
	assert_int_equal(decode_err("vf5in683dc5n6i811", &e), -EPROTONOSUPPORT);
	assert_int_equal(decode_err("Z7Pznk19XTTzBtx", &e), -EPROTONOSUPPORT);
	/* Reserved prefixes get their own explanation. */
	assert_int_equal(decode_err("QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N", &e),
	                 -EPROTONOSUPPORT);
	assert_non_null(strstr(e.text, "prefix 'Q' is reserved"));
	assert_int_equal(decode_err("/ip4/1.2.3.4", &e), -EPROTONOSUPPORT);
	assert_non_null(strstr(e.text, "prefix '/' is reserved"));
	assert_int_equal(decode_err("\x01"
	                            "abc",
	                            &e),
	                 -EPROTONOSUPPORT);
	assert_non_null(strstr(e.text, "prefix byte 0x01"));
	char out[8];
	assert_int_equal(multibase_encode((enum multibase)'x', (const uint8_t *)"a", 1, out, 8),
	                 -EPROTONOSUPPORT);
	assert_null(multibase_name((enum multibase)'x'));
	assert_string_equal(multibase_name(MULTIBASE_BASE32), "base32");
	assert_int_equal(multibase_encoded_max((enum multibase)'x', 10), 0);
}

static void test_bad_character_positions(void **state)
{
	struct errmsg e = {{0}};
	/* Positions count the prefix as character 1. */
	assert_int_equal(decode_err("bpfsx1", &e), -EINVAL);
	assert_string_equal(e.text, "base32: invalid character '1' at position 6");
	assert_int_equal(decode_err("z7paNL0", &e), -EINVAL);
	assert_string_equal(e.text, "base58btc: invalid character '0' at position 7");
	assert_int_equal(decode_err("f79zz", &e), -EINVAL);
	assert_string_equal(e.text, "base16: invalid character 'z' at position 4");
	assert_int_equal(decode_err("f796", &e), -EINVAL);
	assert_non_null(strstr(e.text, "impossible length 3"));
	assert_int_equal(decode_err("k2lc-", &e), -EINVAL);
	assert_string_equal(e.text, "base36: invalid character '-' at position 5");
	assert_int_equal(decode_err("meWVz+G1h_mkgIQ", &e), -EINVAL);
	assert_string_equal(e.text, "base64: invalid character '_' at position 10");
	assert_int_equal(decode_err("ueWVz+G1", &e), -EINVAL);
	assert_string_equal(e.text, "base64url: invalid character '+' at position 6");
	assert_int_equal(decode_err("meWVzIG1hbmkgIQ==", &e), -EINVAL);
	assert_string_equal(e.text, "base64: invalid character '=' at position 16");
	assert_int_equal(decode_err("MeWVzIG1hbmkgIQ", &e), -EINVAL);
}

static void test_small_buffer(void **state)
{
	char out[4];
	assert_int_equal(multibase_encode(MULTIBASE_BASE32, (const uint8_t *)"foo", 3, out, 1),
	                 -ENOBUFS);
	assert_int_equal(multibase_encode(MULTIBASE_BASE32, (const uint8_t *)"foo", 3, out, 4),
	                 -ENOBUFS);
	char ok[7];
	assert_int_equal(multibase_encode(MULTIBASE_BASE32, (const uint8_t *)"foo", 3, ok, 7), 6);
	assert_string_equal(ok, "bmzxw6");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_basic_csv),
	        cmocka_unit_test(test_leading_zero_csv),
	        cmocka_unit_test(test_case_insensitivity_csv),
	        cmocka_unit_test(test_empty_payload),
	        cmocka_unit_test(test_prefix_errors),
	        cmocka_unit_test(test_bad_character_positions),
	        cmocka_unit_test(test_small_buffer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
