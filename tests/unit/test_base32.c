/* base32 and base64: RFC 4648 §10 vectors in every variant multibase uses,
 * strict padding, impossible lengths, non-zero unused bits, case rules. */
#include "testutil.h"

#include <errno.h>
#include <string.h>

#include "base32.h"
#include "base64.h"

static void b32_is(const char *plain, int flags, const char *text)
{
	char out[128];
	size_t len = strlen(plain);
	int n = base32_encode((const uint8_t *)plain, len, flags, out, sizeof(out));
	assert_int_equal(n, (int)strlen(text));
	assert_int_equal(base32_encoded_len(len, flags), strlen(text));
	assert_string_equal(out, text);
	struct buf back = BUF_INIT;
	assert_int_equal(base32_decode(text, strlen(text), flags, &back, NULL), 0);
	assert_int_equal(back.len, len);
	if (len)
		assert_memory_equal(back.data, plain, len);
	buf_free(&back);
}

static void test_base32_rfc4648(void **state)
{
	const int up_pad = BASE32_UPPER | BASE32_PAD;
	b32_is("", up_pad, "");
	b32_is("f", up_pad, "MY======");
	b32_is("fo", up_pad, "MZXQ====");
	b32_is("foo", up_pad, "MZXW6===");
	b32_is("foob", up_pad, "MZXW6YQ=");
	b32_is("fooba", up_pad, "MZXW6YTB");
	b32_is("foobar", up_pad, "MZXW6YTBOI======");
	/* Multibase 'b': the same, lower case, no padding. */
	b32_is("f", 0, "my");
	b32_is("fo", 0, "mzxq");
	b32_is("foo", 0, "mzxw6");
	b32_is("foob", 0, "mzxw6yq");
	b32_is("fooba", 0, "mzxw6ytb");
	b32_is("foobar", 0, "mzxw6ytboi");
	b32_is("yes mani !", 0, "pfsxgidnmfxgsibb");
	b32_is("foobar", BASE32_UPPER, "MZXW6YTBOI");
	b32_is("foobar", BASE32_PAD, "mzxw6ytboi======");
}

static int b32_err(const char *text, int flags, struct errmsg *e)
{
	struct buf out = BUF_INIT;
	int r = base32_decode(text, strlen(text), flags, &out, e);
	assert_int_equal(out.len, 0);
	buf_free(&out);
	return r;
}

static void test_base32_rejects(void **state)
{
	struct errmsg e = {{0}};
	/* Characters outside the alphabet, named with their position. */
	assert_int_equal(b32_err("mzxw1", 0, &e), -EINVAL);
	assert_string_equal(e.text, "base32: invalid character '1' at position 5");
	assert_int_equal(b32_err("mz8w", 0, &e), -EINVAL);
	assert_string_equal(e.text, "base32: invalid character '8' at position 3");
	/* Case: lower by default, upper with BASE32_UPPER, mixed only with
	 * BASE32_ANYCASE. */
	assert_int_equal(b32_err("mZxw6", 0, &e), -EINVAL);
	assert_string_equal(e.text, "base32: invalid character 'Z' at position 2");
	assert_int_equal(b32_err("MZxW6", BASE32_UPPER, &e), -EINVAL);
	assert_string_equal(e.text, "base32upper: invalid character 'x' at position 3");
	struct buf ok = BUF_INIT;
	assert_int_equal(base32_decode("mZxW6", 5, BASE32_ANYCASE, &ok, NULL), 0);
	assert_memory_equal(ok.data, "foo", 3);
	buf_free(&ok);
	/* Padding where none is expected, and missing padding. */
	assert_int_equal(b32_err("my======", 0, &e), -EINVAL);
	assert_string_equal(e.text, "base32: invalid character '=' at position 3");
	assert_int_equal(b32_err("MY", BASE32_UPPER | BASE32_PAD, &e), -EINVAL);
	assert_non_null(strstr(e.text, "multiple of 8"));
	/* Too much padding, and padding in the middle. */
	assert_int_equal(b32_err("M=======", BASE32_UPPER | BASE32_PAD, &e), -EINVAL);
	assert_int_equal(b32_err("MZXW6Y==", BASE32_UPPER | BASE32_PAD, &e), -EINVAL);
	assert_int_equal(b32_err("MZ=W6===", BASE32_UPPER | BASE32_PAD, &e), -EINVAL);
	assert_string_equal(e.text, "base32upper: invalid character '=' at position 3");
	/* Final groups of 1, 3 or 6 characters cannot come from any bytes. */
	assert_int_equal(b32_err("m", 0, &e), -EINVAL);
	assert_non_null(strstr(e.text, "impossible length 1"));
	assert_int_equal(b32_err("mzx", 0, &e), -EINVAL);
	assert_int_equal(b32_err("mzxw6y", 0, &e), -EINVAL);
	/* "mz": the last 2 of 10 bits must be zero ("my" is 'f'). */
	assert_int_equal(b32_err("mz", 0, &e), -EINVAL);
	assert_string_equal(e.text,
	                    "base32: non-zero unused bits in the last character at position 2");
}

static void test_base32_small_buffer(void **state)
{
	char out[6];
	assert_int_equal(base32_encode((const uint8_t *)"foo", 3, 0, out, 5), -ENOBUFS);
	assert_int_equal(base32_encode((const uint8_t *)"foo", 3, 0, out, 6), 5);
}

static void b64_is(const char *plain, int flags, const char *text)
{
	char out[128];
	size_t len = strlen(plain);
	int n = base64_encode((const uint8_t *)plain, len, flags, out, sizeof(out));
	assert_int_equal(n, (int)strlen(text));
	assert_int_equal(base64_encoded_len(len, flags), strlen(text));
	assert_string_equal(out, text);
	struct buf back = BUF_INIT;
	assert_int_equal(base64_decode(text, strlen(text), flags, &back, NULL), 0);
	assert_int_equal(back.len, len);
	if (len)
		assert_memory_equal(back.data, plain, len);
	buf_free(&back);
}

static void test_base64_rfc4648(void **state)
{
	b64_is("", BASE64_PAD, "");
	b64_is("f", BASE64_PAD, "Zg==");
	b64_is("fo", BASE64_PAD, "Zm8=");
	b64_is("foo", BASE64_PAD, "Zm9v");
	b64_is("foob", BASE64_PAD, "Zm9vYg==");
	b64_is("fooba", BASE64_PAD, "Zm9vYmE=");
	b64_is("foobar", BASE64_PAD, "Zm9vYmFy");
	b64_is("f", 0, "Zg");
	b64_is("fo", 0, "Zm8");
	b64_is("fooba", 0, "Zm9vYmE");
	b64_is("yes mani !", 0, "eWVzIG1hbmkgIQ");
	b64_is("yes mani !", BASE64_PAD, "eWVzIG1hbmkgIQ==");
}

static void test_base64_url_alphabet(void **state)
{
	/* 0xfb 0xff encodes to the two characters that differ. */
	char out[16];
	const uint8_t v[] = {0xfb, 0xff, 0xbf};
	assert_int_equal(base64_encode(v, 3, 0, out, sizeof(out)), 4);
	assert_string_equal(out, "+/+/");
	assert_int_equal(base64_encode(v, 3, BASE64_URL, out, sizeof(out)), 4);
	assert_string_equal(out, "-_-_");
	assert_int_equal(base64_encode(v, 2, BASE64_URL | BASE64_PAD, out, sizeof(out)), 4);
	assert_string_equal(out, "-_8=");
	struct buf b = BUF_INIT;
	struct errmsg e = {{0}};
	assert_int_equal(base64_decode("-_-_", 4, 0, &b, &e), -EINVAL);
	assert_string_equal(e.text, "base64: invalid character '-' at position 1");
	assert_int_equal(base64_decode("+/+/", 4, BASE64_URL, &b, &e), -EINVAL);
	assert_string_equal(e.text, "base64url: invalid character '+' at position 1");
	assert_int_equal(base64_decode("-_-_", 4, BASE64_URL, &b, NULL), 0);
	th_assert_hex(b.data, b.len, "fbffbf");
	buf_free(&b);
}

static void test_base64_rejects(void **state)
{
	struct buf b = BUF_INIT;
	struct errmsg e = {{0}};
	assert_int_equal(base64_decode("Zg==", 4, 0, &b, &e), -EINVAL);
	assert_string_equal(e.text, "base64: invalid character '=' at position 3");
	assert_int_equal(base64_decode("Zg", 2, BASE64_PAD, &b, &e), -EINVAL);
	assert_int_equal(base64_decode("Zg=", 3, BASE64_PAD, &b, &e), -EINVAL);
	assert_int_equal(base64_decode("Z===", 4, BASE64_PAD, &b, &e), -EINVAL);
	assert_int_equal(base64_decode("Z", 1, 0, &b, &e), -EINVAL);
	assert_non_null(strstr(e.text, "impossible length 1"));
	/* "Zh": the low 4 bits of 'h' must be zero ("Zg" is 'f'). */
	assert_int_equal(base64_decode("Zh", 2, 0, &b, &e), -EINVAL);
	assert_string_equal(e.text,
	                    "base64: non-zero unused bits in the last character at position 2");
	assert_int_equal(base64_decode("Zm 9v", 5, 0, &b, &e), -EINVAL);
	assert_string_equal(e.text, "base64: invalid character ' ' at position 3");
	assert_int_equal(b.len, 0);
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_base32_rfc4648),      cmocka_unit_test(test_base32_rejects),
	        cmocka_unit_test(test_base32_small_buffer), cmocka_unit_test(test_base64_rfc4648),
	        cmocka_unit_test(test_base64_url_alphabet), cmocka_unit_test(test_base64_rejects),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
