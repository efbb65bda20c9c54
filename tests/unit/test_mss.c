/* multistream-select: checklist §5.6 vectors, na fallback, pipelined and
 * optimistic negotiation with leftover bytes, and every rejection path. */
#include "testutil.h"

#include <errno.h>
#include <string.h>

#include "mss.h"

#define HEADER_HEX "132f6d756c746973747265616d2f312e302e300a"

static void assert_output_hex(struct mss *m, const char *hex)
{
	const uint8_t *p;
	size_t len;
	mss_pending_output(m, &p, &len);
	th_assert_hex(p, len, hex);
	mss_output_consumed(m, len);
}

static int feed_hex(struct mss *m, const char *hex)
{
	struct buf b = th_hex(hex);
	int r = mss_feed(m, b.data, b.len);
	buf_free(&b);
	return r;
}

/* Move everything one side wants to send into the other. */
static int pump(struct mss *from, struct mss *to)
{
	const uint8_t *p;
	size_t len;
	mss_pending_output(from, &p, &len);
	int r = mss_feed(to, p, len);
	mss_output_consumed(from, len);
	return r;
}

static struct mss *listener(const char *const *protos, size_t n)
{
	struct mss *m = NULL;
	assert_int_equal(mss_listener_new(protos, n, &m), 0);
	return m;
}

static struct mss *initiator(const char *const *protos, size_t n, bool lazy)
{
	struct mss *m = NULL;
	assert_int_equal(mss_initiator_new(protos, n, lazy, &m), 0);
	return m;
}

static void test_vector_header_noise(void **state)
{
	const char *p[] = {"/noise"};
	struct mss *m = initiator(p, 1, false);
	assert_output_hex(m, HEADER_HEX "072f6e6f6973650a");
	mss_free(m);
}

static void test_vector_yamux_line(void **state)
{
	const char *p[] = {"/yamux/1.0.0"};
	struct mss *m = initiator(p, 1, false);
	assert_output_hex(m, HEADER_HEX "0d2f79616d75782f312e302e300a");
	mss_free(m);
}

static void test_vector_ls_reply(void **state)
{
	const char *p[] = {"/ipfs/ping/1.0.0", "/ipfs/id/1.0.0"};
	struct mss *m = listener(p, 2);
	assert_int_equal(feed_hex(m, HEADER_HEX "036c730a"), 0);
	assert_output_hex(m, HEADER_HEX "23112f697066732f70696e672f312e302e300a"
	                                "0f2f697066732f69642f312e302e300a0a");
	assert_int_equal(mss_state(m), MSS_NEGOTIATING);
	mss_free(m);
}

static void test_listener_rejects_unknown(void **state)
{
	const char *p[] = {"/yamux/1.0.0"};
	struct mss *m = listener(p, 1);
	assert_int_equal(feed_hex(m, HEADER_HEX "072f6e6f6973650a"), 0);
	/* na is 03 6e 61 0a. */
	assert_output_hex(m, HEADER_HEX "036e610a");
	assert_int_equal(mss_state(m), MSS_NEGOTIATING);
	assert_null(mss_selected(m));
	assert_int_equal(feed_hex(m, "0d2f79616d75782f312e302e300a"), 0);
	assert_output_hex(m, "0d2f79616d75782f312e302e300a");
	assert_int_equal(mss_state(m), MSS_DONE);
	assert_string_equal(mss_selected(m), "/yamux/1.0.0");
	mss_free(m);
}

static void test_na_fallback(void **state)
{
	const char *mine[] = {"/tls/1.0.0", "/noise"};
	const char *theirs[] = {"/noise"};
	struct mss *i = initiator(mine, 2, false);
	struct mss *l = listener(theirs, 1);
	for (int round = 0; round < 4 && mss_state(i) == MSS_NEGOTIATING; round++) {
		assert_int_equal(pump(i, l), 0);
		assert_int_equal(pump(l, i), 0);
	}
	assert_int_equal(mss_state(i), MSS_DONE);
	assert_int_equal(mss_state(l), MSS_DONE);
	assert_string_equal(mss_selected(i), "/noise");
	assert_string_equal(mss_selected(l), "/noise");
	const uint8_t *p;
	size_t len;
	mss_leftover(i, &p, &len);
	assert_int_equal(len, 0);
	mss_free(i);
	mss_free(l);
}

static void test_all_refused(void **state)
{
	const char *mine[] = {"/a", "/b"};
	const char *theirs[] = {"/c"};
	struct mss *i = initiator(mine, 2, false);
	struct mss *l = listener(theirs, 1);
	assert_int_equal(pump(i, l), 0);
	assert_int_equal(pump(l, i), 0);
	assert_int_equal(pump(i, l), 0);
	assert_int_equal(pump(l, i), -ENOPROTOOPT);
	assert_int_equal(mss_state(i), MSS_FAILED);
	assert_non_null(strstr(mss_error(i), "refused"));
	/* Failure is sticky. */
	assert_int_equal(mss_feed(i, (const uint8_t *)"x", 1), -ENOPROTOOPT);
	mss_free(i);
	mss_free(l);
}

/* Header, proposal and application data in one read, as go and rust send
 * with optimistic select: the listener must hand the data over. */
static void test_pipelined_leftover(void **state)
{
	const char *p[] = {"/noise"};
	struct mss *i = initiator(p, 1, true);
	struct mss *l = listener(p, 1);
	const uint8_t *out;
	size_t len;
	mss_pending_output(i, &out, &len);
	struct buf wire = BUF_INIT;
	assert_int_equal(buf_append(&wire, out, len), 0);
	mss_output_consumed(i, len);
	assert_int_equal(buf_append_str(&wire, "hello"), 0);
	assert_int_equal(mss_feed(l, wire.data, wire.len), 0);
	assert_int_equal(mss_state(l), MSS_DONE);
	mss_leftover(l, &out, &len);
	assert_int_equal(len, 5);
	assert_memory_equal(out, "hello", 5);
	assert_int_equal(mss_feed(l, out, 1), -EALREADY);

	/* The listener's answer plus its own data, fed one byte at a time. */
	buf_reset(&wire);
	mss_pending_output(l, &out, &len);
	assert_int_equal(buf_append(&wire, out, len), 0);
	assert_int_equal(buf_append_str(&wire, "world"), 0);
	size_t k = 0;
	while (mss_state(i) == MSS_NEGOTIATING)
		assert_int_equal(mss_feed(i, wire.data + k++, 1), 0);
	assert_int_equal(k, wire.len - 5);
	assert_string_equal(mss_selected(i), "/noise");
	mss_leftover(i, &out, &len);
	assert_int_equal(len, 0);
	buf_free(&wire);
	mss_free(i);
	mss_free(l);
}

static void test_lazy_refused(void **state)
{
	const char *mine[] = {"/noise"};
	const char *theirs[] = {"/tls/1.0.0"};
	struct mss *i = initiator(mine, 1, true);
	struct mss *l = listener(theirs, 1);
	assert_int_equal(pump(i, l), 0);
	assert_int_equal(pump(l, i), -ENOPROTOOPT);
	assert_non_null(strstr(mss_error(i), "optimistic"));
	mss_free(i);
	mss_free(l);
}

static void expect_listener_error(const char *hex, const char *why)
{
	const char *p[] = {"/noise"};
	struct mss *m = listener(p, 1);
	assert_int_equal(feed_hex(m, hex), -EPROTO);
	assert_int_equal(mss_state(m), MSS_FAILED);
	if (!strstr(mss_error(m), why))
		fail_msg("error '%s' lacks '%s'", mss_error(m), why);
	mss_free(m);
}

static void test_errors(void **state)
{
	/* First message is not the header. */
	expect_listener_error("072f6e6f6973650a", "expected header");
	/* 1025 bytes announced: refused before the body arrives. */
	expect_listener_error("8108", "exceeds");
	/* Trailing newline missing. */
	expect_listener_error(HEADER_HEX "03616263", "newline");
	/* Non-minimal and over-long length prefixes. */
	expect_listener_error("8100", "non-minimal");
	expect_listener_error("808001", "over 2 bytes");
	expect_listener_error("00", "empty");
	expect_listener_error(HEADER_HEX "032f000a", "NUL");
}

static void test_initiator_errors(void **state)
{
	const char *p[] = {"/noise"};
	struct mss *m = initiator(p, 1, false);
	assert_int_equal(feed_hex(m, "072f6e6f6973650a"), -EPROTO);
	assert_non_null(strstr(mss_error(m), "expected header"));
	mss_free(m);
	m = initiator(p, 1, false);
	assert_int_equal(feed_hex(m, HEADER_HEX "032f780a"), -EPROTO);
	assert_non_null(strstr(mss_error(m), "unexpected answer"));
	mss_free(m);
}

static void test_too_many_rounds(void **state)
{
	const char *p[] = {"/noise"};
	struct mss *m = listener(p, 1);
	assert_int_equal(feed_hex(m, HEADER_HEX), 0);
	for (int i = 0; i < MSS_MAX_ROUNDS; i++)
		assert_int_equal(feed_hex(m, "032f780a"), 0);
	assert_int_equal(feed_hex(m, "032f780a"), -EPROTO);
	assert_non_null(strstr(mss_error(m), "proposals"));
	mss_free(m);
}

static void test_bad_arguments(void **state)
{
	struct mss *m = NULL;
	const char *two[] = {"/a", "/b"};
	const char *nl[] = {"/a\n"};
	const char *na[] = {"na"};
	const char *empty[] = {""};
	assert_int_equal(mss_initiator_new(two, 2, true, &m), -EINVAL);
	assert_int_equal(mss_initiator_new(two, 0, false, &m), -EINVAL);
	assert_int_equal(mss_initiator_new(nl, 1, false, &m), -EINVAL);
	assert_int_equal(mss_listener_new(na, 1, &m), -EINVAL);
	assert_int_equal(mss_listener_new(empty, 1, &m), -EINVAL);
	assert_null(m);
	assert_null(mss_free(NULL));
}

static void test_empty_listener_answers_na(void **state)
{
	struct mss *m = listener(NULL, 0);
	assert_int_equal(feed_hex(m, HEADER_HEX "072f6e6f6973650a036c730a"), 0);
	/* na, then an empty list: one message holding only the final newline. */
	assert_output_hex(m, HEADER_HEX "036e610a"
	                                "010a");
	mss_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_vector_header_noise),
	        cmocka_unit_test(test_vector_yamux_line),
	        cmocka_unit_test(test_vector_ls_reply),
	        cmocka_unit_test(test_listener_rejects_unknown),
	        cmocka_unit_test(test_na_fallback),
	        cmocka_unit_test(test_all_refused),
	        cmocka_unit_test(test_pipelined_leftover),
	        cmocka_unit_test(test_lazy_refused),
	        cmocka_unit_test(test_errors),
	        cmocka_unit_test(test_initiator_errors),
	        cmocka_unit_test(test_too_many_rounds),
	        cmocka_unit_test(test_bad_arguments),
	        cmocka_unit_test(test_empty_listener_answers_na),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
