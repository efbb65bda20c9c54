/* The file-transfer records (daemon/transfer/txrec.h): the receiver's state
 * record, the sender's record and the index entry round-trip; a record
 * written by hand decodes to known values; and every kind of damage (not
 * JSON, another version, a bad id, a final name that climbs out or is
 * absolute, a durable offset past the size, totals that do not add up,
 * duplicate keys, a directory with a size, bad base64) is refused with
 * -EBADMSG (or -EPROTONOSUPPORT / -EMSGSIZE) and a message naming it. */
#include "testutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "transfer/txrec.h"

#define ID "00112233445566778899aabbccddeeff"
#define PEER "12D3KooWGzh2Xd3ZkR3e6bT7dDqG1tC2vYkMxWvT5Yd9uQvQpSx1"

static const char good_in[] =
        "{\"version\":1,\"transfer_id\":\"" ID "\",\"peer_id\":\"" PEER "\","
        "\"device_id\":\"\",\"spacedrop\":true,\"dest\":\"/home/u/Downloads\","
        "\"created_ms\":1700000000000,\"total_bytes\":12,"
        "\"files\":[{\"path\":\"photos\",\"final\":\"photos (1)\",\"size\":0,\"mtime_sec\":5,"
        "\"mtime_nsec\":6,\"mode\":493,\"dir\":true,\"durable\":0,\"verified\":false},"
        "{\"path\":\"photos/a.jpg\",\"final\":\"photos (1)/a.jpg\",\"size\":12,"
        "\"mtime_sec\":-1,\"mtime_nsec\":999999999,\"mode\":420,\"dir\":false,"
        "\"durable\":8,\"verified\":false}]}";

static struct txrec decode_in_ok(const char *text)
{
	struct txrec r = {0};
	struct errmsg e = {{0}};
	int rc = txrec_decode_in((const uint8_t *)text, strlen(text), &r, &e);
	if (rc < 0)
		fail_msg("decode: %s", e.text);
	return r;
}

static void expect_bad_in(const char *text, int err, const char *needle)
{
	struct txrec r = {0};
	struct errmsg e = {{0}};
	assert_int_equal(txrec_decode_in((const uint8_t *)text, strlen(text), &r, &e), err);
	if (!strstr(e.text, needle))
		fail_msg("'%s' does not mention '%s'", e.text, needle);
	assert_null(r.files);
}

/* good_in with one substring replaced. */
static char *variant(const char *from, const char *to)
{
	const char *p = strstr(good_in, from);
	assert_non_null(p);
	char *out = NULL;
	assert_true(asprintf(&out, "%.*s%s%s", (int)(p - good_in), good_in, to, p + strlen(from)) >
	            0);
	return out;
}

static void test_known_record(void **state)
{
	struct txrec r = decode_in_ok(good_in);
	assert_string_equal(r.transfer_id, ID);
	assert_string_equal(r.peer_id, PEER);
	assert_string_equal(r.device_id, "");
	assert_true(r.spacedrop);
	assert_string_equal(r.dest, "/home/u/Downloads");
	assert_int_equal(r.created_ms, 1700000000000LL);
	assert_int_equal(r.n_files, 2);
	assert_true(r.files[0].dir);
	assert_string_equal(r.files[0].final, "photos (1)");
	assert_int_equal(r.files[0].mode, 0755);
	assert_string_equal(r.files[1].path, "photos/a.jpg");
	assert_int_equal(r.files[1].size, 12);
	assert_int_equal(r.files[1].durable, 8);
	assert_int_equal(r.files[1].mtime_sec, -1);
	assert_int_equal(r.files[1].mtime_nsec, 999999999);
	assert_false(r.files[1].verified);
	txrec_clear(&r);
}

static void test_round_trip_in(void **state)
{
	struct txrec r = decode_in_ok(good_in);
	struct buf b = BUF_INIT;
	assert_int_equal(txrec_encode_in(&r, &b), 0);
	assert_non_null(memchr(b.data, '{', b.len));
	struct txrec back = {0};
	assert_int_equal(txrec_decode_in(b.data, b.len, &back, NULL), 0);
	assert_int_equal(back.n_files, 2);
	assert_string_equal(back.files[1].final, "photos (1)/a.jpg");
	assert_int_equal(back.files[1].durable, 8);
	assert_int_equal(back.total_bytes, 12);
	/* A record the decoder would refuse is never written. */
	free(r.files[1].final);
	r.files[1].final = strdup("../escape");
	buf_reset(&b);
	assert_int_equal(txrec_encode_in(&r, &b), -EINVAL);
	buf_free(&b);
	txrec_clear(&r);
	txrec_clear(&back);
}

static void test_damage_refused(void **state)
{
	expect_bad_in("not json", -EBADMSG, "not a JSON object");
	expect_bad_in("[1]", -EBADMSG, "not a JSON object");
	static const struct {
		const char *from, *to;
		int err;
		const char *needle;
	} cases[] = {
	        {"\"version\":1", "\"version\":2", -EPROTONOSUPPORT, "version 2"},
	        {"\"version\":1,", "", -EBADMSG, "no version"},
	        {ID, "00112233", -EBADMSG, "transfer_id"},
	        {ID, "00112233445566778899AABBCCDDEEFF", -EBADMSG, "transfer_id"},
	        {"\"final\":\"photos (1)/a.jpg\"", "\"final\":\"../a.jpg\"", -EBADMSG, "file 1"},
	        {"\"final\":\"photos (1)/a.jpg\"", "\"final\":\"/etc/passwd\"", -EBADMSG, "file 1"},
	        {"\"final\":\"photos (1)/a.jpg\"", "\"final\":\"a//b\"", -EBADMSG, "file 1"},
	        {"\"durable\":8", "\"durable\":13", -EBADMSG, "file 1"},
	        {"\"total_bytes\":12", "\"total_bytes\":13", -EBADMSG, "total_bytes"},
	        {"\"size\":0", "\"size\":4", -EBADMSG, "file 0"},
	        {"\"mtime_nsec\":6", "\"mtime_nsec\":1000000000", -EBADMSG, "file 0"},
	        {"\"dest\":\"/home/u/Downloads\"", "\"dest\":\"Downloads\"", -EBADMSG, "dest"},
	        {"\"spacedrop\":true,", "\"spacedrop\":true,\"spacedrop\":false,", -EBADMSG,
	         "not a JSON object"},
	        {"\"files\":[", "\"files\":[],\"x\":[", -EBADMSG, "files"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *text = variant(cases[i].from, cases[i].to);
		expect_bad_in(text, cases[i].err, cases[i].needle);
		free(text);
	}
	struct txrec r = {0};
	struct errmsg e = {{0}};
	assert_int_equal(txrec_decode_in((const uint8_t *)"{}", TXREC_MAX_SIZE + 1, &r, &e),
	                 -EMSGSIZE);
}

static void test_round_trip_out(void **state)
{
	/* Local names need not be UTF-8: they travel as base64. */
	char src[] = "/home/u/\xff\xfe odd";
	char rel[] = "\xff\xfe odd";
	struct txrec_file f = {.src = src, .rel = rel, .size = 3, .mtime_sec = 7, .mode = 0600};
	char *addrs[] = {"/ip4/10.0.0.2/tcp/4001/p2p/" PEER};
	struct txrec r = {.peer_id = PEER,
	                  .device_id = "",
	                  .spacedrop = true,
	                  .message = "hi",
	                  .answered = true,
	                  .addrs = addrs,
	                  .n_addrs = 1,
	                  .files = &f,
	                  .n_files = 1,
	                  .total_bytes = 3};
	memcpy(r.transfer_id, ID, sizeof(r.transfer_id));
	struct buf b = BUF_INIT;
	assert_int_equal(txrec_encode_out(&r, &b), 0);
	struct txrec back = {0};
	struct errmsg e = {{0}};
	assert_int_equal(txrec_decode_out(b.data, b.len, &back, &e), 0);
	assert_string_equal(back.files[0].src, src);
	assert_string_equal(back.files[0].rel, rel);
	assert_string_equal(back.message, "hi");
	assert_true(back.answered);
	assert_int_equal(back.n_addrs, 1);
	assert_string_equal(back.addrs[0], addrs[0]);
	txrec_clear(&back);
	/* A relative source is refused. */
	char *text = strndup((const char *)b.data, b.len);
	char *p = strstr(text, "\"src\":\"");
	assert_non_null(p);
	p[7] = 'Y'; /* base64 of something that no longer starts with '/' */
	assert_int_equal(txrec_decode_out((const uint8_t *)text, strlen(text), &back, &e),
	                 -EBADMSG);
	assert_non_null(strstr(e.text, "file 0"));
	free(text);
	buf_free(&b);
}

static void test_index(void **state)
{
	struct buf b = BUF_INIT;
	assert_int_equal(txrec_encode_index("/srv/in", &b), 0);
	char *dest = NULL;
	assert_int_equal(txrec_decode_index(b.data, b.len, &dest, NULL), 0);
	assert_string_equal(dest, "/srv/in");
	free(dest);
	static const char rel[] = "{\"version\":1,\"dest\":\"srv\"}";
	assert_int_equal(txrec_decode_index((const uint8_t *)rel, strlen(rel), &dest, NULL),
	                 -EBADMSG);
	buf_free(&b);
}

static void test_safe_relpath(void **state)
{
	static const struct {
		const char *p;
		bool ok;
	} cases[] = {
	        {"a", true},   {"a/b c/d.txt", true}, {"..a/b..", true}, {".hidden", true},
	        {"", false},   {"/a", false},         {"a/", false},     {"a//b", false},
	        {"..", false}, {"a/../b", false},     {".", false},      {"a/./b", false},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (txrec_safe_relpath(cases[i].p) != cases[i].ok)
			fail_msg("'%s' should be %s", cases[i].p, cases[i].ok ? "safe" : "refused");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_known_record),   cmocka_unit_test(test_round_trip_in),
	        cmocka_unit_test(test_damage_refused), cmocka_unit_test(test_round_trip_out),
	        cmocka_unit_test(test_index),          cmocka_unit_test(test_safe_relpath),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
