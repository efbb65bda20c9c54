/* DNS message codec: real js-libp2p mDNS packets (captured from
 * @libp2p/mdns 11 + multicast-dns 7 + dns-packet 5 with
 * tests/interop/mdns-capture.mjs), compression and its abuse, truncation,
 * caps, and build -> parse round trips. */
#include "testutil.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "dns.h"

#define JS_PEER_NAME "wk3grhtzk07u1hkott3qplr7rl7s0i7ygyglh9hrx1wwxhce1e8mlgu05nzx1l5"
#define JS_PEER_ID "12D3KooWHjxnw69AHLK2MRcbDfvkYZbHnwXFNhiniWZTK2eJM9bz"

static struct buf js_packet(const char *name)
{
	char rel[128];
	snprintf(rel, sizeof(rel), "tests/data/mdns/%s", name);
	return th_read_file(th_source_path(rel));
}

static struct dns_name name_of(const char *text)
{
	struct dns_name n;
	assert_int_equal(dns_name_from_text(text, &n), 0);
	return n;
}

static void assert_name(const struct dns_name *n, const char *text)
{
	char out[DNS_NAME_TEXT_MAX];
	assert_true(dns_name_to_text(n, out, sizeof(out)) >= 0);
	assert_string_equal(out, text);
}

/* Parse and expect failure with errno and a message mentioning what. */
static void expect_bad(const struct buf *b, int err_code, const char *what)
{
	struct dns_msg m;
	struct errmsg e = {{0}};
	assert_int_equal(dns_parse(b->data, b->len, &m, &e), err_code);
	if (!strstr(e.text, what))
		fail_msg("errmsg '%s' does not mention '%s'", e.text, what);
}

static void test_js_query(void **state)
{
	struct buf b = js_packet("js-query.bin");
	struct dns_msg m;
	assert_int_equal(dns_parse(b.data, b.len, &m, NULL), 0);
	assert_int_equal(m.id, 0);
	assert_int_equal(m.flags, 0);
	assert_int_equal(m.n_qd, 1);
	assert_int_equal(m.n_an + m.n_ns + m.n_ar, 0);
	assert_name(&m.qd[0].name, "_p2p._udp.local");
	assert_int_equal(m.qd[0].type, DNS_TYPE_PTR);
	assert_int_equal(m.qd[0].qclass, DNS_CLASS_IN);
	assert_false(m.qd[0].unicast);
	dns_msg_free(&m);
	buf_free(&b);
}

static void test_js_response(void **state)
{
	struct buf b = js_packet("js-response.bin");
	struct dns_msg m;
	assert_int_equal(dns_parse(b.data, b.len, &m, NULL), 0);
	assert_int_equal(m.flags, DNS_FLAG_QR | DNS_FLAG_AA);
	assert_int_equal(m.n_qd, 0);
	/* js puts everything in the answer section. */
	assert_int_equal(m.n_an, 5);
	assert_int_equal(m.n_ar, 0);
	assert_int_equal(m.rr[0].type, DNS_TYPE_PTR);
	assert_int_equal(m.rr[0].ttl, 120);
	assert_name(&m.rr[0].name, "_p2p._udp.local");
	assert_name(&m.rr[0].ptr, JS_PEER_NAME "._p2p._udp.local");
	static const char *const want[] = {
	        "dnsaddr=/ip4/192.168.1.5/tcp/4001/p2p/" JS_PEER_ID,
	        "dnsaddr=/ip4/192.168.1.5/udp/4001/quic-v1/p2p/" JS_PEER_ID,
	        "dnsaddr=/ip6/fd00::5/tcp/4001/p2p/" JS_PEER_ID,
	        "dnsaddr=/ip4/192.168.1.5/tcp/4002/ws/p2p/" JS_PEER_ID,
	};
	for (size_t i = 1; i < 5; i++) {
		const struct dns_rr *rr = &m.rr[i];
		assert_int_equal(rr->type, DNS_TYPE_TXT);
		assert_int_equal(rr->rclass, DNS_CLASS_IN);
		assert_false(rr->cache_flush);
		assert_name(&rr->name, JS_PEER_NAME "._p2p._udp.local");
		size_t off = 0, n;
		const uint8_t *s;
		assert_int_equal(dns_txt_next(rr, &off, &s, &n), 1);
		assert_int_equal(n, strlen(want[i - 1]));
		assert_memory_equal(s, want[i - 1], n);
		assert_int_equal(dns_txt_next(rr, &off, &s, &n), 0);
	}
	dns_msg_free(&m);
	buf_free(&b);
}

static void test_truncated_everywhere(void **state)
{
	const char *files[] = {"js-query.bin", "js-response.bin"};
	for (size_t f = 0; f < 2; f++) {
		struct buf b = js_packet(files[f]);
		for (size_t i = 0; i < b.len; i++) {
			struct dns_msg m;
			struct errmsg e = {{0}};
			assert_int_equal(dns_parse(b.data, i, &m, &e), -EBADMSG);
			assert_non_null(strstr(e.text, "dns: "));
		}
		buf_free(&b);
	}
}

/* Build the js response again, byte for byte, from records. */
static void test_build_matches_js(void **state)
{
	struct buf js = js_packet("js-response.bin");
	struct dns_msg m;
	assert_int_equal(dns_parse(js.data, js.len, &m, NULL), 0);
	struct buf out = BUF_INIT;
	struct dns_builder b;
	assert_int_equal(
	        dns_builder_init(&b, &out, DNS_MAX_MESSAGE, false, 0, DNS_FLAG_QR | DNS_FLAG_AA),
	        0);
	for (size_t i = 0; i < m.n_an; i++)
		assert_int_equal(dns_builder_add_rr(&b, DNS_SECTION_ANSWER, &m.rr[i]), 0);
	dns_builder_finish(&b);
	assert_int_equal(out.len, js.len);
	assert_memory_equal(out.data, js.data, js.len);

	/* Compressed: much shorter, and the same records. */
	struct buf small = BUF_INIT;
	assert_int_equal(
	        dns_builder_init(&b, &small, DNS_MAX_MESSAGE, true, 0, DNS_FLAG_QR | DNS_FLAG_AA),
	        0);
	for (size_t i = 0; i < m.n_an; i++)
		assert_int_equal(dns_builder_add_rr(&b, DNS_SECTION_ANSWER, &m.rr[i]), 0);
	dns_builder_finish(&b);
	assert_true(small.len + 4 * 80 < js.len);
	struct dns_msg m2;
	assert_int_equal(dns_parse(small.data, small.len, &m2, NULL), 0);
	assert_int_equal(m2.n_an, m.n_an);
	for (size_t i = 0; i < m.n_an; i++) {
		assert_true(dns_name_equal(&m2.rr[i].name, &m.rr[i].name));
		assert_int_equal(m2.rr[i].type, m.rr[i].type);
	}
	assert_true(dns_name_equal(&m2.rr[0].ptr, &m.rr[0].ptr));
	assert_int_equal(m2.rr[4].raw.len, m.rr[4].raw.len);
	assert_memory_equal(m2.rr[4].raw.data, m.rr[4].raw.data, m.rr[4].raw.len);
	dns_msg_free(&m2);
	dns_msg_free(&m);
	buf_free(&small);
	buf_free(&out);
	buf_free(&js);
}

static void test_build_query_matches_js(void **state)
{
	struct buf js = js_packet("js-query.bin");
	struct buf out = BUF_INIT;
	struct dns_builder b;
	struct dns_question q = {
	        .name = name_of("_p2p._udp.local"), .type = DNS_TYPE_PTR, .qclass = DNS_CLASS_IN};
	assert_int_equal(dns_builder_init(&b, &out, 512, true, 0, 0), 0);
	assert_int_equal(dns_builder_add_question(&b, &q), 0);
	dns_builder_finish(&b);
	assert_int_equal(out.len, js.len);
	assert_memory_equal(out.data, js.data, js.len);
	buf_free(&out);
	buf_free(&js);
}

/* Header: id 0, response flags, counts qd an ns ar. */
#define HDR(qd, an) "00008400" qd an "00000000"
#define P2P_NAME "045f703270045f756470056c6f63616c00" /* _p2p._udp.local, 17 bytes */

static void test_compression_backwards_ok(void **state)
{
	/* Answer 1 at 12: _p2p._udp.local PTR "abc" + pointer to 12.
	 * Answer 2: name is a pointer to the PTR target (at 39). */
	struct buf b = th_hex(HDR("0000", "0002") P2P_NAME "000c0001000000780006"
	                                                   "03616263c00c"
	                                                   "c027000c000100000078000100");
	struct dns_msg m;
	assert_int_equal(dns_parse(b.data, b.len, &m, NULL), 0);
	assert_name(&m.rr[0].ptr, "abc._p2p._udp.local");
	assert_name(&m.rr[1].name, "abc._p2p._udp.local");
	assert_name(&m.rr[1].ptr, ".");
	dns_msg_free(&m);
	buf_free(&b);
}

static void test_compression_abuse_rejected(void **state)
{
	struct buf b;
	/* Pointer to itself. */
	b = th_hex(HDR("0001", "0000") "c00c000c0001");
	expect_bad(&b, -EBADMSG, "compression pointer to 12 does not point backwards at offset 12");
	buf_free(&b);
	/* Forward pointer. */
	b = th_hex(HDR("0001", "0000") "c00e000c0001" P2P_NAME);
	expect_bad(&b, -EBADMSG, "does not point backwards");
	buf_free(&b);
	/* Classic loop: a label, then a pointer back to the label. */
	b = th_hex(HDR("0001", "0000") "0161c00c000c0001");
	expect_bad(&b, -EBADMSG, "does not point backwards at offset 14");
	buf_free(&b);
	/* Pointer into the header. */
	b = th_hex(HDR("0001", "0000") "c004000c0001");
	expect_bad(&b, -EBADMSG, "compression pointer to 4");
	buf_free(&b);
	/* Pointer whose second byte is missing. */
	b = th_hex(HDR("0001", "0000") "c0");
	expect_bad(&b, -EBADMSG, "");
	buf_free(&b);
	/* Extended label types 0x40 and 0x80. */
	b = th_hex(HDR("0001", "0000") "4100000c0001");
	expect_bad(&b, -EBADMSG, "unsupported label type at offset 12");
	buf_free(&b);
	b = th_hex(HDR("0001", "0000") "8100000c0001");
	expect_bad(&b, -EBADMSG, "unsupported label type");
	buf_free(&b);
}

/* n questions: the first has the root name, each next one's name is a
 * pointer to the previous one's, so question k needs k jumps. */
static struct buf pointer_chain(size_t n)
{
	struct buf b = BUF_INIT;
	uint8_t hdr[12] = {0, 0, 0, 0, 0, (uint8_t)n};
	assert_int_equal(buf_append(&b, hdr, 12), 0);
	assert_int_equal(buf_append(&b, "\x00\x00\x0c\x00\x01", 5), 0);
	size_t prev = 12;
	for (size_t i = 1; i < n; i++) {
		size_t here = b.len;
		assert_int_equal(buf_append_u16be(&b, (uint16_t)(0xc000 | prev)), 0);
		assert_int_equal(buf_append(&b, "\x00\x0c\x00\x01", 4), 0);
		prev = here;
	}
	return b;
}

static void test_jump_cap(void **state)
{
	struct buf ok = pointer_chain(DNS_MAX_JUMPS + 1);
	struct dns_msg m;
	assert_int_equal(dns_parse(ok.data, ok.len, &m, NULL), 0);
	assert_int_equal(m.n_qd, DNS_MAX_JUMPS + 1);
	assert_int_equal(m.qd[DNS_MAX_JUMPS].name.len, 1);
	dns_msg_free(&m);
	buf_free(&ok);
	struct buf bad = pointer_chain(DNS_MAX_JUMPS + 2);
	expect_bad(&bad, -EBADMSG, "too many compression pointers");
	buf_free(&bad);
}

/* A question whose name has the given label lengths. */
static struct buf question_with_labels(const size_t *lens, size_t n)
{
	struct buf b = th_hex(HDR("0001", "0000"));
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(buf_append_u8(&b, (uint8_t)lens[i]), 0);
		memset(buf_extend(&b, lens[i]), 'x', lens[i]);
	}
	assert_int_equal(buf_append(&b, "\x00\x00\x0c\x00\x01", 5), 0);
	return b;
}

static void test_name_length_limits(void **state)
{
	/* 3 * (1 + 63) + (1 + 61) + 1 = 255 octets: the longest name. */
	size_t max[] = {63, 63, 63, 61};
	struct buf b = question_with_labels(max, 4);
	struct dns_msg m;
	assert_int_equal(dns_parse(b.data, b.len, &m, NULL), 0);
	assert_int_equal(m.qd[0].name.len, 255);
	dns_msg_free(&m);
	buf_free(&b);
	size_t over[] = {63, 63, 63, 62};
	b = question_with_labels(over, 4);
	expect_bad(&b, -EBADMSG, "name longer than 255 octets at offset 204");
	buf_free(&b);
	/* Too long only once a pointer is followed. */
	b = question_with_labels(max, 4);
	b.data[5] = 2;
	assert_int_equal(buf_append(&b, "\x01\x61\xc0\x0c\x00\x0c\x00\x01", 8), 0);
	expect_bad(&b, -EBADMSG, "name longer than 255 octets");
	buf_free(&b);
}

static void test_counts_lying(void **state)
{
	/* 100 answers announced, 17 bytes follow. */
	struct buf b = th_hex(HDR("0000", "0064") P2P_NAME);
	expect_bad(&b, -EBADMSG, "header announces 0 questions and 100 records but only 17 bytes");
	buf_free(&b);
	/* Over the caps, whatever follows. */
	b = th_hex(HDR("0021", "0000"));
	expect_bad(&b, -EMSGSIZE, "33 questions exceed the cap of 32");
	buf_free(&b);
	b = th_hex("00008400"
	           "0000"
	           "0040"
	           "0040"
	           "0001");
	expect_bad(&b, -EMSGSIZE, "129 records exceed the cap of 128");
	buf_free(&b);
	/* Fewer records than announced, with room for the count. */
	b = th_hex(HDR("0000", "0002") P2P_NAME "000c0001000000780002c00c"
	                                        "00000000000000");
	expect_bad(&b, -EBADMSG, "");
	buf_free(&b);
	/* Short header. */
	b = th_hex("0000840000");
	expect_bad(&b, -EBADMSG, "header cut short");
	buf_free(&b);
}

static void test_message_cap(void **state)
{
	struct buf b = BUF_INIT;
	memset(buf_extend(&b, DNS_MAX_MESSAGE + 1), 0, DNS_MAX_MESSAGE + 1);
	expect_bad(&b, -EMSGSIZE, "9001 bytes exceeds 9000");
	/* The same bytes at the cap are a valid empty message. */
	struct dns_msg m;
	assert_int_equal(dns_parse(b.data, DNS_MAX_MESSAGE, &m, NULL), 0);
	dns_msg_free(&m);
	buf_free(&b);
}

static void test_rdata_checks(void **state)
{
	struct buf b;
	/* A with 5 bytes. */
	b = th_hex(HDR("0000", "0001") "00"
	                               "00010001"
	                               "00000078"
	                               "0005"
	                               "0102030405");
	expect_bad(&b, -EBADMSG, "A record rdata is not 4 bytes");
	buf_free(&b);
	b = th_hex(HDR("0000", "0001") "00"
	                               "001c0001"
	                               "00000078"
	                               "0004"
	                               "01020304");
	expect_bad(&b, -EBADMSG, "AAAA record rdata is not 16 bytes");
	buf_free(&b);
	/* TXT string of 9 bytes in 5 bytes of rdata. */
	b = th_hex(HDR("0000", "0001") "00"
	                               "00100001"
	                               "00000078"
	                               "0005"
	                               "0961626364");
	expect_bad(&b, -EBADMSG, "TXT string runs past its rdata at offset 23");
	buf_free(&b);
	/* PTR target shorter than its rdata, and one longer. */
	b = th_hex(HDR("0000", "0001") "00"
	                               "000c0001"
	                               "00000078"
	                               "0003"
	                               "0000"
	                               "00");
	expect_bad(&b, -EBADMSG, "name does not fill its rdata");
	buf_free(&b);
	b = th_hex(HDR("0000", "0001") "00"
	                               "000c0001"
	                               "00000078"
	                               "0002"
	                               "0361626300");
	expect_bad(&b, -EBADMSG, "label runs past the end");
	buf_free(&b);
	/* rdata past the end. */
	b = th_hex(HDR("0000", "0001") "00"
	                               "00100001"
	                               "00000078"
	                               "0010"
	                               "00");
	expect_bad(&b, -EBADMSG, "rdata runs past the end of the message at offset 23");
	buf_free(&b);
	/* SRV too short for its fixed fields. */
	b = th_hex(HDR("0000", "0001") "00"
	                               "00210001"
	                               "00000078"
	                               "0004"
	                               "00000000");
	expect_bad(&b, -EBADMSG, "SRV rdata too short");
	buf_free(&b);
}

static void test_types_and_flags(void **state)
{
	/* SRV, A, AAAA, an unknown type (NSEC, 47), QU and cache-flush bits. */
	struct buf b = th_hex("0000840000010004"
	                      "00000000"
	                      "0568656c6c6f056c6f63616c00"
	                      "00ff8001" /* hello.local ANY, QU */
	                      "c00c"
	                      "00218001"
	                      "00000078"
	                      "0008"
	                      "000100020fa0"
	                      "c00c"
	                      "c00c"
	                      "00018001"
	                      "00000078"
	                      "0004"
	                      "c0a80105"
	                      "c00c"
	                      "001c0001"
	                      "00000078"
	                      "0010"
	                      "fe800000000000000000000000000001"
	                      "c00c"
	                      "002f8001"
	                      "00000078"
	                      "0003"
	                      "c00c00"
	                      "ffff");
	struct dns_msg m;
	assert_int_equal(dns_parse(b.data, b.len, &m, NULL), 0);
	assert_true(m.qd[0].unicast);
	assert_int_equal(m.qd[0].qclass, DNS_CLASS_IN);
	assert_int_equal(m.qd[0].type, DNS_TYPE_ANY);
	size_t n;
	const struct dns_rr *an = dns_msg_section(&m, DNS_SECTION_ANSWER, &n);
	assert_int_equal(n, 4);
	assert_int_equal(an[0].type, DNS_TYPE_SRV);
	assert_true(an[0].cache_flush);
	assert_int_equal(an[0].rclass, DNS_CLASS_IN);
	assert_int_equal(an[0].srv.priority, 1);
	assert_int_equal(an[0].srv.weight, 2);
	assert_int_equal(an[0].srv.port, 4000);
	assert_name(&an[0].srv.target, "hello.local");
	assert_memory_equal(an[1].a, "\xc0\xa8\x01\x05", 4);
	assert_int_equal(an[2].aaaa[0], 0xfe);
	assert_int_equal(an[2].aaaa[15], 1);
	/* Unknown type: kept as an uninterpreted view. */
	assert_int_equal(an[3].type, 47);
	assert_int_equal(an[3].raw.len, 3);
	assert_ptr_equal(an[3].raw.data, b.data + b.len - 5);
	dns_msg_section(&m, DNS_SECTION_ADDITIONAL, &n);
	assert_int_equal(n, 0);
	dns_msg_free(&m);
	dns_msg_free(&m); /* idempotent */
	buf_free(&b);
}

static void test_txt_strings(void **state)
{
	struct buf rd = BUF_INIT;
	char big[256];
	memset(big, 'a', sizeof(big));
	assert_int_equal(dns_txt_append(&rd, big, 255), 0);
	assert_int_equal(dns_txt_append(&rd, big, 256), -EMSGSIZE);
	assert_int_equal(dns_txt_append(&rd, "", 0), 0);
	assert_int_equal(rd.len, 257);
	struct dns_rr rr = {.type = DNS_TYPE_TXT, .raw = {rd.data, (uint16_t)rd.len}};
	size_t off = 0, n;
	const uint8_t *s;
	assert_int_equal(dns_txt_next(&rr, &off, &s, &n), 1);
	assert_int_equal(n, 255);
	assert_int_equal(dns_txt_next(&rr, &off, &s, &n), 1);
	assert_int_equal(n, 0);
	assert_int_equal(dns_txt_next(&rr, &off, &s, &n), 0);
	/* A hand-made view that lies is refused by the builder. */
	rr.raw.len = 100;
	rr.name = name_of("x.local");
	rr.rclass = DNS_CLASS_IN;
	struct buf out = BUF_INIT;
	struct dns_builder b;
	assert_int_equal(dns_builder_init(&b, &out, 512, false, 0, 0), 0);
	assert_int_equal(dns_builder_add_rr(&b, DNS_SECTION_ANSWER, &rr), -EINVAL);
	assert_int_equal(dns_builder_len(&b), DNS_HEADER_LEN);
	buf_free(&out);
	buf_free(&rd);
}

static void test_builder_size_and_order(void **state)
{
	struct buf out = BUF_INIT;
	assert_int_equal(buf_append(&out, "prefix", 6), 0);
	struct dns_builder b;
	assert_int_equal(dns_builder_init(&b, &out, 60, true, 7, DNS_FLAG_QR), 0);
	struct dns_rr rr = {.name = name_of("_p2p._udp.local"),
	                    .type = DNS_TYPE_PTR,
	                    .rclass = DNS_CLASS_IN,
	                    .ttl = 120,
	                    .ptr = name_of("abc._p2p._udp.local")};
	/* 12 + 17 + 10 + 6 = 45 bytes, then the second does not fit in 60. */
	assert_int_equal(dns_builder_add_rr(&b, DNS_SECTION_ANSWER, &rr), 0);
	assert_int_equal(dns_builder_len(&b), 45);
	rr.ptr = name_of("defghijklmnop._p2p._udp.local");
	assert_int_equal(dns_builder_add_rr(&b, DNS_SECTION_ANSWER, &rr), -EMSGSIZE);
	assert_int_equal(dns_builder_len(&b), 45);
	/* Questions after answers are out of order. */
	struct dns_question q = {.name = rr.name, .type = DNS_TYPE_PTR, .qclass = DNS_CLASS_IN};
	assert_int_equal(dns_builder_add_question(&b, &q), -EINVAL);
	dns_builder_finish(&b);
	assert_memory_equal(out.data, "prefix", 6);
	struct dns_msg m;
	assert_int_equal(dns_parse(out.data + 6, out.len - 6, &m, NULL), 0);
	assert_int_equal(m.id, 7);
	assert_int_equal(m.n_an, 1);
	assert_name(&m.rr[0].ptr, "abc._p2p._udp.local");
	dns_msg_free(&m);
	dns_builder_abort(&b);
	assert_int_equal(out.len, 6);
	assert_int_equal(dns_builder_init(&b, &out, DNS_MAX_MESSAGE + 1, true, 0, 0), -EINVAL);
	buf_free(&out);
}

static void test_builder_round_trip_all_types(void **state)
{
	struct buf out = BUF_INIT, txt = BUF_INIT;
	assert_int_equal(dns_txt_append(&txt, "k=v", 3), 0);
	struct dns_builder b;
	assert_int_equal(dns_builder_init(&b, &out, 1452, true, 0, DNS_FLAG_QR | DNS_FLAG_AA), 0);
	struct dns_question q = {.name = name_of("Host.Local"),
	                         .type = DNS_TYPE_A,
	                         .qclass = DNS_CLASS_IN,
	                         .unicast = true};
	assert_int_equal(dns_builder_add_question(&b, &q), 0);
	struct dns_rr a = {.name = name_of("host.local"),
	                   .type = DNS_TYPE_A,
	                   .rclass = DNS_CLASS_IN,
	                   .cache_flush = true,
	                   .ttl = 120,
	                   .a = {10, 0, 0, 1}};
	struct dns_rr srv = {.name = name_of("x._p2p._udp.local"),
	                     .type = DNS_TYPE_SRV,
	                     .rclass = DNS_CLASS_IN,
	                     .ttl = 120,
	                     .srv = {0, 0, 4001, name_of("host.local")}};
	struct dns_rr t = {.name = name_of("x._p2p._udp.local"),
	                   .type = DNS_TYPE_TXT,
	                   .rclass = DNS_CLASS_IN,
	                   .ttl = 120,
	                   .raw = {txt.data, (uint16_t)txt.len}};
	assert_int_equal(dns_builder_add_rr(&b, DNS_SECTION_ANSWER, &a), 0);
	assert_int_equal(dns_builder_add_rr(&b, DNS_SECTION_AUTHORITY, &srv), 0);
	assert_int_equal(dns_builder_add_rr(&b, DNS_SECTION_ADDITIONAL, &t), 0);
	dns_builder_finish(&b);
	struct dns_msg m;
	assert_int_equal(dns_parse(out.data, out.len, &m, NULL), 0);
	assert_int_equal(m.n_qd, 1);
	assert_true(m.qd[0].unicast);
	/* Compression across case: "host.local" reuses "Host.Local". */
	assert_name(&m.rr[0].name, "Host.Local");
	assert_true(dns_name_equal(&m.rr[0].name, &a.name));
	assert_true(m.rr[0].cache_flush);
	assert_memory_equal(m.rr[0].a, a.a, 4);
	assert_int_equal(m.n_ns, 1);
	assert_int_equal(m.rr[1].srv.port, 4001);
	assert_true(dns_name_equal(&m.rr[1].srv.target, &srv.srv.target));
	assert_int_equal(m.n_ar, 1);
	assert_int_equal(m.rr[2].raw.len, 4);
	assert_memory_equal(m.rr[2].raw.data, "\x03k=v", 4);
	dns_msg_free(&m);
	buf_free(&out);
	buf_free(&txt);
}

static void test_name_helpers(void **state)
{
	struct dns_name n, p, c;
	assert_int_equal(dns_name_from_text("_p2p._udp.local.", &n), 0);
	assert_int_equal(n.len, 17);
	assert_int_equal(dns_name_from_text("", &p), 0);
	assert_int_equal(p.len, 1);
	assert_name(&p, ".");
	assert_int_equal(dns_name_from_text("a..b", &p), -EINVAL);
	assert_int_equal(dns_name_from_text("a.b..", &p), -EINVAL);
	assert_int_equal(dns_name_from_text("a\\.b", &p), -EINVAL);
	char label[70];
	memset(label, 'l', sizeof(label));
	label[64] = '\0';
	assert_int_equal(dns_name_from_text(label, &p), -EINVAL);
	label[63] = '\0';
	assert_int_equal(dns_name_from_text(label, &p), 0);
	assert_int_equal(dns_name_prepend(&n, "Peer", 4, &c), 0);
	assert_name(&c, "Peer._p2p._udp.local");
	assert_int_equal(dns_name_prepend(&n, "a.b", 3, &c), -EINVAL);
	assert_int_equal(dns_name_prepend(&n, "", 0, &c), -EINVAL);
	const uint8_t *l;
	size_t ll;
	struct dns_name upper = name_of("PEER._P2P._UDP.LOCAL");
	assert_true(dns_name_is_child(&upper, &n, &l, &ll));
	assert_int_equal(ll, 4);
	assert_memory_equal(l, "PEER", 4);
	assert_false(dns_name_is_child(&n, &n, &l, &ll));
	struct dns_name deep = name_of("a.peer._p2p._udp.local");
	assert_false(dns_name_is_child(&deep, &n, &l, &ll));
	assert_true(dns_name_equal(&upper, &c));
	/* Odd bytes are escaped when printed. */
	struct dns_name odd = {.len = 5, .wire = {3, 'a', '.', 0x07, 0}};
	assert_name(&odd, "a\\046\\007");
	char tiny[4];
	assert_int_equal(dns_name_to_text(&n, tiny, sizeof(tiny)), -ENOBUFS);
	/* Names over 255 octets. */
	struct dns_name big = {0};
	assert_int_equal(dns_name_from_text("x", &big), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(dns_name_prepend(&big, label, 63, &big), 0);
	assert_int_equal(big.len, 3 + 3 * 64);
	assert_int_equal(dns_name_prepend(&big, label, 59, &c), 0);
	assert_int_equal(c.len, 255);
	assert_int_equal(dns_name_prepend(&big, label, 60, &c), -EMSGSIZE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_js_query),
	        cmocka_unit_test(test_js_response),
	        cmocka_unit_test(test_truncated_everywhere),
	        cmocka_unit_test(test_build_matches_js),
	        cmocka_unit_test(test_build_query_matches_js),
	        cmocka_unit_test(test_compression_backwards_ok),
	        cmocka_unit_test(test_compression_abuse_rejected),
	        cmocka_unit_test(test_jump_cap),
	        cmocka_unit_test(test_name_length_limits),
	        cmocka_unit_test(test_counts_lying),
	        cmocka_unit_test(test_message_cap),
	        cmocka_unit_test(test_rdata_checks),
	        cmocka_unit_test(test_types_and_flags),
	        cmocka_unit_test(test_txt_strings),
	        cmocka_unit_test(test_builder_size_and_order),
	        cmocka_unit_test(test_builder_round_trip_all_types),
	        cmocka_unit_test(test_name_helpers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
