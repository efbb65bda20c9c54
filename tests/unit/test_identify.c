/* identify framing: round trip, record splitting, address trimming, merging
 * several messages, caps and malformed input. */
#include "testutil.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "identify.h"
#include "lpmsg.h"

static void fill(struct identify_info *info, size_t n_addrs, size_t record_len)
{
	memset(info, 0, sizeof(*info));
	info->protocol_version = strdup(IDENTIFY_PROTOCOL_VERSION);
	info->agent_version = strdup("sdnetd/0.1.0");
	struct buf pk =
	        th_hex("080112201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e");
	info->public_key = pk;
	for (size_t i = 0; i < n_addrs; i++) {
		/* /ip4/10.0.<i>/tcp/4001 */
		uint8_t ma[] = {0x04, 10, 0, (uint8_t)(i >> 8), (uint8_t)i, 0x06, 0x0f, 0xa1};
		assert_int_equal(identify_info_add_addr(info, ma, sizeof(ma)), 0);
	}
	assert_int_equal(identify_info_add_protocol(info, "/ipfs/id/1.0.0"), 0);
	assert_int_equal(identify_info_add_protocol(info, "/ipfs/ping/1.0.0"), 0);
	for (size_t i = 0; i < record_len; i++)
		assert_int_equal(buf_append_u8(&info->signed_record, (uint8_t)i), 0);
}

static unsigned count_messages(const struct buf *b)
{
	unsigned n = 0;
	size_t off = 0;
	while (off < b->len) {
		const uint8_t *m;
		size_t len;
		long r = lpmsg_next(b->data + off, b->len - off, IDENTIFY_WRITE_MAX, &m, &len);
		assert_true(r > 0);
		off += (size_t)r;
		n++;
	}
	return n;
}

static void decode_all(const struct buf *wire, size_t chunk, struct identify_info *ret)
{
	struct identify_reader r;
	identify_reader_init(&r);
	for (size_t off = 0; off < wire->len; off += chunk) {
		size_t n = wire->len - off < chunk ? wire->len - off : chunk;
		assert_int_equal(identify_reader_feed(&r, wire->data + off, n), 0);
	}
	assert_int_equal(identify_reader_finish(&r, ret), 0);
	identify_reader_free(&r);
}

static void assert_same(const struct identify_info *a, const struct identify_info *b,
                        size_t n_addrs)
{
	assert_string_equal(a->agent_version, b->agent_version);
	assert_string_equal(a->protocol_version, b->protocol_version);
	assert_int_equal(a->public_key.len, b->public_key.len);
	assert_memory_equal(a->public_key.data, b->public_key.data, a->public_key.len);
	assert_int_equal(b->n_listen_addrs, n_addrs);
	for (size_t i = 0; i < n_addrs; i++)
		assert_memory_equal(a->listen_addrs[i].data, b->listen_addrs[i].data,
		                    a->listen_addrs[i].len);
	assert_int_equal(a->n_protocols, b->n_protocols);
	for (size_t i = 0; i < a->n_protocols; i++)
		assert_string_equal(a->protocols[i], b->protocols[i]);
	assert_int_equal(a->signed_record.len, b->signed_record.len);
	if (a->signed_record.len)
		assert_memory_equal(a->signed_record.data, b->signed_record.data,
		                    a->signed_record.len);
}

static void test_small_is_one_message(void **state)
{
	struct identify_info in, out;
	fill(&in, 3, 200);
	struct buf wire = BUF_INIT;
	size_t trimmed = 99;
	assert_int_equal(identify_encode(&in, &wire, &trimmed), 0);
	assert_int_equal(trimmed, 0);
	assert_int_equal(count_messages(&wire), 1);
	decode_all(&wire, 1, &out); /* one byte at a time */
	assert_same(&in, &out, 3);
	identify_info_free(&in);
	identify_info_free(&out);
	buf_free(&wire);
}

static void test_big_record_goes_alone(void **state)
{
	struct identify_info in, out;
	fill(&in, 3, 2100);
	struct buf wire = BUF_INIT;
	assert_int_equal(identify_encode(&in, &wire, NULL), 0);
	assert_int_equal(count_messages(&wire), 2);
	decode_all(&wire, 7, &out);
	assert_same(&in, &out, 3);
	identify_info_free(&in);
	identify_info_free(&out);
	buf_free(&wire);
}

static void test_too_many_addrs_are_trimmed_under_cap(void **state)
{
	struct identify_info in, out;
	fill(&in, 600, 0); /* 600 x 10 bytes: over 4096 */
	struct buf wire = BUF_INIT;
	size_t trimmed = 0;
	assert_int_equal(identify_encode(&in, &wire, &trimmed), 0);
	assert_true(trimmed > 0 && trimmed < 600);
	const uint8_t *m;
	size_t len;
	assert_true(lpmsg_next(wire.data, wire.len, IDENTIFY_WRITE_MAX, &m, &len) > 0);
	assert_true(len <= IDENTIFY_WRITE_MAX);
	decode_all(&wire, 4096, &out);
	/* The reader keeps at most its cap of what was sent. */
	size_t kept = 600 - trimmed < IDENTIFY_MAX_ADDRS ? 600 - trimmed : IDENTIFY_MAX_ADDRS;
	assert_int_equal(out.n_listen_addrs, kept);
	assert_int_equal(out.dropped, 600 - trimmed - kept);
	identify_info_free(&in);
	identify_info_free(&out);
	buf_free(&wire);
}

static void test_merge_appends_and_overwrites(void **state)
{
	struct identify_info a, b, out;
	fill(&a, 2, 0);
	fill(&b, 1, 0);
	free(b.agent_version);
	b.agent_version = strdup("second/1.0");
	struct buf wire = BUF_INIT;
	assert_int_equal(identify_encode(&a, &wire, NULL), 0);
	assert_int_equal(identify_encode(&b, &wire, NULL), 0);
	decode_all(&wire, 13, &out);
	assert_string_equal(out.agent_version, "second/1.0");
	assert_int_equal(out.n_listen_addrs, 3);
	assert_int_equal(out.n_protocols, 4);
	identify_info_free(&a);
	identify_info_free(&b);
	identify_info_free(&out);
	buf_free(&wire);
}

static void test_message_count_cap(void **state)
{
	struct buf wire = BUF_INIT;
	for (int i = 0; i < IDENTIFY_READ_MAX_MSGS + 1; i++)
		assert_int_equal(lpmsg_append(&wire, "\x32\x01x", 3, 0), 0); /* agent "x" */
	struct identify_reader r;
	identify_reader_init(&r);
	assert_int_equal(identify_reader_feed(&r, wire.data, wire.len), -EMSGSIZE);
	identify_reader_free(&r);
	buf_free(&wire);
}

static void test_oversized_and_malformed(void **state)
{
	struct identify_reader r;
	identify_reader_init(&r);
	struct buf big = th_hex("8140"); /* announces 8193 bytes */
	assert_int_equal(identify_reader_feed(&r, big.data, big.len), -EMSGSIZE);
	identify_reader_free(&r);
	buf_free(&big);

	identify_reader_init(&r);
	struct buf bad = th_hex("020aff"); /* field 1, length 255, 0 bytes follow */
	assert_int_equal(identify_reader_feed(&r, bad.data, bad.len), -EBADMSG);
	identify_reader_free(&r);
	buf_free(&bad);

	/* Partial message at EOF, and an empty stream, are errors. */
	identify_reader_init(&r);
	struct buf part = th_hex("05320378");
	assert_int_equal(identify_reader_feed(&r, part.data, part.len), 0);
	struct identify_info out;
	assert_int_equal(identify_reader_finish(&r, &out), -EBADMSG);
	identify_reader_free(&r);
	buf_free(&part);
	identify_reader_init(&r);
	assert_int_equal(identify_reader_finish(&r, &out), -EBADMSG);
	identify_reader_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_small_is_one_message),
	        cmocka_unit_test(test_big_record_goes_alone),
	        cmocka_unit_test(test_too_many_addrs_are_trimmed_under_cap),
	        cmocka_unit_test(test_merge_appends_and_overwrites),
	        cmocka_unit_test(test_message_count_cap),
	        cmocka_unit_test(test_oversized_and_malformed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
