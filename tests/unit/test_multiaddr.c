/* Multiaddr: every checklist §4.4 vector in both directions, alternative
 * text forms that must map to the same bytes, malformed text and binary each
 * with its specific error, and the helpers transports and identify use. */
#include "testutil.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "multiaddr.h"

#define ID_D3EC "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA"
#define ID_D3EC_HEX "0024080112202ffa35a99d3a3cfbb17bb7c1dc5561b18a8dcca4df38dc613ea859c37eb1336b"
#define RELAY_ID "QmdPU7PfRyKehdrP5A3WqmjyD6bhVpU1mLGKppa2FjGDjZ"
#define TARGET_ID "QmVT6GYwjeeAF5TR485Yc58S3xRF5EFsZ5YAF4VcP3URHt"

static struct multiaddr parse_ok(const char *text)
{
	struct multiaddr ma;
	struct errmsg e = {{0}};
	int r = multiaddr_parse(text, &ma, &e);
	if (r != 0)
		fail_msg("%s: %d %s", text, r, e.text);
	return ma;
}

/* text -> bytes == hex, and bytes -> text == text. */
static void both_ways(const char *text, const char *hex)
{
	struct multiaddr ma = parse_ok(text);
	th_assert_hex(ma.bytes, ma.len, hex);
	struct buf b = th_hex(hex);
	struct multiaddr mb;
	assert_int_equal(multiaddr_from_bytes(b.data, b.len, &mb, NULL), 0);
	assert_true(multiaddr_equal(&ma, &mb));
	char out[MULTIADDR_TEXT_MAX];
	assert_int_equal(multiaddr_to_string(&mb, out, sizeof(out)), (int)strlen(text));
	assert_string_equal(out, text);
	multiaddr_free(&ma);
	multiaddr_free(&mb);
	buf_free(&b);
}

static void test_checklist_vectors(void **state)
{
	both_ways("/ip4/127.0.0.1/udp/1234", "047f000001910204d2");
	both_ways("/ip4/192.0.2.42/tcp/443", "04c000022a0601bb");
	both_ways("/ip4/127.0.0.1/udp/4001/quic-v1", "047f00000191020fa1cd03");
	both_ways("/ip6/::1/tcp/4001", "2900000000000000000000000000000001060fa1");
	both_ways("/dns4/example.com/tcp/443", "360b6578616d706c652e636f6d0601bb");
	both_ways("/dnsaddr/bootstrap.libp2p.io", "3813626f6f7473747261702e6c69627032702e696f");
	both_ways("/p2p/" ID_D3EC, "a50326" ID_D3EC_HEX);
	both_ways("/p2p-circuit", "a202");
	both_ways("/ip4/192.0.2.0/tcp/5002/p2p/" RELAY_ID "/p2p-circuit/p2p/" TARGET_ID,
	          "04c000020006138aa503221220df98100149311096b2d532b1dfa065a9835993b1e0accbb75c646a"
	          "a70c31c8cca202a50322122069a831853dfca2f1bcc129355b213b4889439dbe7b2734d7b3ab6b2f"
	          "4abd630b");
}

static void test_more_protocols(void **state)
{
	both_ways("/dns/example.com", "350b6578616d706c652e636f6d");
	both_ways("/dns6/example.com/udp/0/quic-v1", "370b6578616d706c652e636f6d91020000cd03");
	both_ways("/ip6/2001:db8::1/udp/65535/quic-v1",
	          "2920010db80000000000000000000000019102ffffcd03");
	both_ways("/ip6/::ffff:192.0.2.1/tcp/1", "2900000000000000000000ffffc0000201060001");
	/* UTF-8 names pass through unchanged. */
	both_ways("/dns4/b\xc3\xbc\x63her.example", "360f62c3bc636865722e6578616d706c65");
}

static void same_bytes(const char *a, const char *b)
{
	struct multiaddr ma = parse_ok(a), mb = parse_ok(b);
	assert_true(multiaddr_equal(&ma, &mb));
	multiaddr_free(&ma);
	multiaddr_free(&mb);
}

static void test_alternative_text(void **state)
{
	/* Legacy "ipfs" and the CID form of the peer ID. */
	same_bytes("/ipfs/" ID_D3EC, "/p2p/" ID_D3EC);
	same_bytes("/p2p/bafzaajaiaejcahwr5d5ofrfbis4l5d6uwr57hu5tjodrypfm6yaq6dsc2r2pzyt6",
	           "/p2p/12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq");
	/* Any valid IPv6 form; printing gives the RFC 5952 one. */
	same_bytes("/ip6/0:0:0:0:0:0:0:1/tcp/4001", "/ip6/::1/tcp/4001");
	same_bytes("/ip6/2001:DB8:0::1/tcp/1", "/ip6/2001:db8::1/tcp/1");
	/* Leading zeros in a port, one trailing '/'. */
	same_bytes("/ip4/1.2.3.4/tcp/00080", "/ip4/1.2.3.4/tcp/80");
	same_bytes("/ip4/1.2.3.4/tcp/80/", "/ip4/1.2.3.4/tcp/80");
	same_bytes("/p2p-circuit/", "/p2p-circuit");
}

static void text_err(const char *text, int code, const char *msg)
{
	struct multiaddr ma = {NULL, 0};
	struct errmsg e = {{0}};
	assert_int_equal(multiaddr_parse(text, &ma, &e), code);
	if (strcmp(e.text, msg) != 0)
		fail_msg("%s:\n got  '%s'\n want '%s'", text ? text : "(null)", e.text, msg);
	assert_null(ma.bytes);
}

static void test_malformed_text(void **state)
{
	text_err("", -EINVAL, "multiaddr: must start with '/'");
	text_err(NULL, -EINVAL, "multiaddr: must start with '/'");
	text_err("ip4/1.2.3.4", -EINVAL, "multiaddr: must start with '/'");
	text_err("/", -EINVAL, "multiaddr: empty address");
	text_err("/ip4", -EINVAL, "multiaddr: missing value for ip4 at component 1");
	text_err("/ip4/1.2.3.4/tcp", -EINVAL, "multiaddr: missing value for tcp at component 2");
	text_err("/ip4/1.2.3.4/tcp/", -EINVAL, "multiaddr: missing value for tcp at component 2");
	text_err("/ip4/1.2.3.4/tcp//p2p-circuit", -EINVAL,
	         "multiaddr: missing value for tcp at component 2");
	text_err("/ip4/1.2.3.4/tcp/70000", -EINVAL,
	         "multiaddr: bad port '70000' for tcp at component 2");
	text_err("/ip4/1.2.3.4/udp/-1", -EINVAL, "multiaddr: bad port '-1' for udp at component 2");
	text_err("/ip4/1.2.3.4/tcp/8o", -EINVAL, "multiaddr: bad port '8o' for tcp at component 2");
	text_err("/ip4/1.2.3.4/tcp/000080", -EINVAL,
	         "multiaddr: bad port '000080' for tcp at component 2");
	text_err("/ip4/1.2.3.256", -EINVAL,
	         "multiaddr: bad IPv4 address '1.2.3.256' for ip4 at component 1");
	text_err("/ip4/::1", -EINVAL, "multiaddr: bad IPv4 address '::1' for ip4 at component 1");
	text_err("/ip6/1.2.3.4", -EINVAL,
	         "multiaddr: bad IPv6 address '1.2.3.4' for ip6 at component 1");
	text_err("/ip6/fe80::1%eth0", -EINVAL,
	         "multiaddr: bad IPv6 address 'fe80::1%eth0' for ip6 at component 1");
	text_err("/ip4/1.2.3.4/tpc/80", -EPROTONOSUPPORT,
	         "multiaddr: unknown protocol 'tpc' at component 2");
	text_err("/ip4/1.2.3.4/tcp/80/ws", -EPROTONOSUPPORT,
	         "multiaddr: protocol 'ws' at component 3 is not supported");
	text_err("/ip4/1.2.3.4/udp/80/quic", -EPROTONOSUPPORT,
	         "multiaddr: protocol 'quic' at component 3 is not supported");
	text_err("/ip4/1.2.3.4/tcp/80/garbage", -EPROTONOSUPPORT,
	         "multiaddr: unknown protocol 'garbage' at component 3");
	text_err("/p2p-circuit/1.2.3.4", -EPROTONOSUPPORT,
	         "multiaddr: unknown protocol '1.2.3.4' at component 2");
	text_err("/ip4/1.2.3.4//tcp/80", -EINVAL, "multiaddr: empty protocol name at component 2");
	text_err("/ip4/1.2.3.4/tcp/80//", -EINVAL, "multiaddr: empty protocol name at component 3");
	text_err("/dns4/", -EINVAL, "multiaddr: missing value for dns4 at component 1");
	text_err("/dns4/a\tb", -EINVAL,
	         "multiaddr: bad name for dns4 at component 1 (control character or invalid UTF-8 "
	         "at byte 2)");
	text_err("/dns/a\xc0\xafz", -EINVAL,
	         "multiaddr: bad name for dns at component 1 (control character or invalid UTF-8 "
	         "at byte 2)");
	text_err("/ip4/1.2.3.4/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU50A", -EINVAL,
	         "multiaddr: bad peer ID for p2p at component 2: peer ID: base58btc: invalid "
	         "character '0' at position 51");
	text_err("/ipfs/bafybeie5745rpv2m6tjyuugywy4d5ewrqgqqhfnf445he3omzpjbx5xqxe",
	         -EPROTONOSUPPORT,
	         "multiaddr: bad peer ID for p2p at component 1: peer ID: CID codec 0x70 is not "
	         "libp2p-key (0x72), so not a peer ID");
}

static void test_over_long_text(void **state)
{
	static char text[MULTIADDR_TEXT_MAX + 64];
	struct errmsg e = {{0}};
	struct multiaddr ma;
	/* One name over the DNS cap. */
	strcpy(text, "/dns/");
	memset(text + 5, 'a', MULTIADDR_DNS_MAX + 1);
	text[5 + MULTIADDR_DNS_MAX + 1] = '\0';
	assert_int_equal(multiaddr_parse(text, &ma, &e), -EMSGSIZE);
	assert_string_equal(
	        e.text, "multiaddr: 256-byte name for dns at component 1 is over the 255 limit");
	/* Five 250-byte names: 1265 bytes binary. */
	text[0] = '\0';
	for (int i = 0; i < 5; i++) {
		size_t n = strlen(text);
		strcpy(text + n, "/dns/");
		memset(text + n + 5, 'a', 250);
		text[n + 5 + 250] = '\0';
	}
	assert_int_equal(multiaddr_parse(text, &ma, &e), -EMSGSIZE);
	assert_string_equal(e.text, "multiaddr: over 1024 bytes at component 5 (dns)");
	/* Text at the cap. */
	memset(text, 'a', sizeof(text) - 1);
	text[0] = '/';
	text[sizeof(text) - 1] = '\0';
	assert_int_equal(multiaddr_parse(text, &ma, &e), -EMSGSIZE);
	assert_string_equal(e.text, "multiaddr: text is over 2047 characters");
}

static void bin_err(const char *hex, int code, const char *msg)
{
	struct buf b = *hex ? th_hex(hex) : BUF_INIT;
	struct multiaddr ma = {NULL, 0};
	struct errmsg e = {{0}};
	assert_int_equal(multiaddr_from_bytes(b.data, b.len, &ma, &e), code);
	if (strcmp(e.text, msg) != 0)
		fail_msg("%s:\n got  '%s'\n want '%s'", hex, e.text, msg);
	assert_null(ma.bytes);
	buf_free(&b);
}

static void test_malformed_binary(void **state)
{
	bin_err("", -EINVAL, "multiaddr: empty address");
	bin_err("047f00", -EBADMSG,
	        "multiaddr: truncated value for ip4 at component 1 (4 bytes needed, 2 left)");
	/* Trailing garbage after a complete address. */
	bin_err("047f00000106", -EBADMSG,
	        "multiaddr: truncated value for tcp at component 2 (2 bytes needed, 0 left)");
	bin_err("047f00000191", -EBADMSG, "multiaddr: truncated protocol code at component 2");
	bin_err("8400", -EBADMSG, "multiaddr: malformed protocol code at component 1");
	bin_err("047f000001e807", -EPROTONOSUPPORT,
	        "multiaddr: unknown protocol code 1000 at component 2");
	bin_err("047f0000010601bbdd03", -EPROTONOSUPPORT,
	        "multiaddr: protocol ws (code 477) at component 3 is not supported");
	/* 0x01cc is draft-29 quic, not quic-v1. */
	bin_err("047f00000191020fa1cc03", -EPROTONOSUPPORT,
	        "multiaddr: protocol quic (code 460) at component 3 is not supported");
	bin_err("3600", -EBADMSG, "multiaddr: empty value for dns4 at component 1");
	bin_err("36", -EBADMSG, "multiaddr: truncated value length for dns4 at component 1");
	bin_err("368000", -EBADMSG, "multiaddr: malformed value length for dns4 at component 1");
	bin_err("3605616263", -EBADMSG,
	        "multiaddr: truncated value for dns4 at component 1 (5 bytes needed, 3 left)");
	bin_err("3603612f62", -EBADMSG,
	        "multiaddr: bad name for dns4 at component 1 ('/', control character or invalid "
	        "UTF-8 at byte 2)");
	bin_err("a50303110100", -EBADMSG, "multiaddr: bad peer ID bytes for p2p at component 1");
	bin_err("a503411220", -EMSGSIZE,
	        "multiaddr: 65-byte value for p2p at component 1 is over the 64 limit");
	bin_err("a202388002", -EMSGSIZE,
	        "multiaddr: 256-byte value for dnsaddr at component 2 is over the 255 limit");
}

static void test_binary_caps(void **state)
{
	struct buf b = BUF_INIT;
	struct errmsg e = {{0}};
	struct multiaddr ma;
	/* 512 x /p2p-circuit fits 1024 bytes but its text would not fit. */
	for (int i = 0; i < 512; i++)
		assert_int_equal(buf_append(&b, "\xa2\x02", 2), 0);
	assert_int_equal(multiaddr_from_bytes(b.data, b.len, &ma, &e), -EMSGSIZE);
	assert_string_equal(e.text, "multiaddr: text form is over 2047 characters");
	assert_int_equal(buf_append(&b, "\xa2\x02", 2), 0);
	assert_int_equal(multiaddr_from_bytes(b.data, b.len, &ma, &e), -EMSGSIZE);
	assert_string_equal(e.text, "multiaddr: 1026 bytes is over the 1024-byte limit");
	buf_free(&b);
}

static void test_iterate(void **state)
{
	struct multiaddr ma =
	        parse_ok("/ip4/192.0.2.0/tcp/5002/p2p/" RELAY_ID "/p2p-circuit/p2p/" TARGET_ID);
	assert_int_equal(multiaddr_count(&ma), 5);
	static const enum ma_proto want[] = {MA_IP4, MA_TCP, MA_P2P, MA_P2P_CIRCUIT, MA_P2P};
	size_t off = 0;
	struct ma_component c;
	for (size_t i = 0; i < 5; i++) {
		assert_int_equal(multiaddr_next(&ma, &off, &c), 1);
		assert_int_equal(c.proto, want[i]);
	}
	assert_int_equal(c.value_len, 34);
	assert_int_equal(multiaddr_next(&ma, &off, &c), 0);
	assert_int_equal(off, ma.len);
	/* Corrupt bytes behind the struct's back: next reports it. */
	ma.bytes[0] = 0xff;
	off = 0;
	assert_true(multiaddr_next(&ma, &off, &c) < 0);
	assert_true(multiaddr_count(&ma) < 0);
	multiaddr_free(&ma);
	multiaddr_free(&ma);
}

static void test_p2p_helpers(void **state)
{
	struct multiaddr ma = parse_ok("/ip4/1.2.3.4/tcp/4001");
	struct peerid id, got;
	assert_int_equal(multiaddr_get_p2p(&ma, &got), 0);
	assert_int_equal(peerid_parse(ID_D3EC, &id, NULL), 0);
	assert_int_equal(multiaddr_append_p2p(&ma, &id), 0);
	char out[MULTIADDR_TEXT_MAX];
	assert_true(multiaddr_to_string(&ma, out, sizeof(out)) > 0);
	assert_string_equal(out, "/ip4/1.2.3.4/tcp/4001/p2p/" ID_D3EC);
	assert_int_equal(multiaddr_get_p2p(&ma, &got), 1);
	assert_true(peerid_equal(&id, &got));
	multiaddr_strip_p2p(&ma);
	assert_true(multiaddr_to_string(&ma, out, sizeof(out)) > 0);
	assert_string_equal(out, "/ip4/1.2.3.4/tcp/4001");
	multiaddr_strip_p2p(&ma); /* no-op without /p2p */
	assert_int_equal(multiaddr_count(&ma), 2);
	multiaddr_free(&ma);

	/* A relay address: the trailing /p2p is the target, not the relay. */
	ma = parse_ok("/ip4/192.0.2.0/tcp/5002/p2p/" RELAY_ID "/p2p-circuit/p2p/" TARGET_ID);
	assert_int_equal(multiaddr_get_p2p(&ma, &got), 1);
	assert_true(multiaddr_to_string(&ma, out, sizeof(out)) > 0);
	char b58[PEERID_TEXT_MAX];
	assert_true(peerid_to_string(&got, b58, sizeof(b58)) > 0);
	assert_string_equal(b58, TARGET_ID);
	multiaddr_strip_p2p(&ma);
	assert_true(multiaddr_to_string(&ma, out, sizeof(out)) > 0);
	assert_string_equal(out, "/ip4/192.0.2.0/tcp/5002/p2p/" RELAY_ID "/p2p-circuit");
	multiaddr_free(&ma);

	/* Stripping the only component leaves the empty address "/". */
	ma = parse_ok("/p2p/" ID_D3EC);
	multiaddr_strip_p2p(&ma);
	assert_int_equal(ma.len, 0);
	assert_int_equal(multiaddr_to_string(&ma, out, sizeof(out)), 1);
	assert_string_equal(out, "/");
	multiaddr_free(&ma);

	struct peerid empty = {0};
	ma = parse_ok("/p2p-circuit");
	assert_int_equal(multiaddr_append_p2p(&ma, &empty), -EINVAL);
	multiaddr_free(&ma);
}

static void test_transport_shapes(void **state)
{
	int family;
	const uint8_t *addr;
	uint16_t port;
	struct multiaddr ma = parse_ok("/ip4/192.0.2.42/tcp/443/p2p/" ID_D3EC);
	assert_int_equal(multiaddr_as_tcp(&ma, &family, &addr, &port), 0);
	assert_int_equal(family, AF_INET);
	th_assert_hex(addr, 4, "c000022a");
	assert_int_equal(port, 443);
	assert_int_equal(multiaddr_as_quic(&ma, &family, &addr, &port), -EAFNOSUPPORT);
	multiaddr_free(&ma);

	ma = parse_ok("/ip6/::1/udp/4001/quic-v1");
	assert_int_equal(multiaddr_as_quic(&ma, &family, &addr, &port), 0);
	assert_int_equal(family, AF_INET6);
	assert_int_equal(addr[15], 1);
	assert_int_equal(port, 4001);
	assert_int_equal(multiaddr_as_tcp(&ma, &family, &addr, &port), -EAFNOSUPPORT);
	multiaddr_free(&ma);

	static const char *not_tcp[] = {
	        "/dns4/example.com/tcp/443",
	        "/ip4/1.2.3.4/udp/1",
	        "/ip4/1.2.3.4",
	        "/ip4/1.2.3.4/tcp/1/p2p-circuit",
	        "/ip4/192.0.2.0/tcp/5002/p2p/" RELAY_ID "/p2p-circuit/p2p/" TARGET_ID,
	        "/ip4/1.2.3.4/udp/1/quic-v1/p2p/" ID_D3EC "/p2p/" ID_D3EC,
	};
	for (size_t i = 0; i < sizeof(not_tcp) / sizeof(not_tcp[0]); i++) {
		ma = parse_ok(not_tcp[i]);
		assert_int_equal(multiaddr_as_tcp(&ma, &family, &addr, &port), -EAFNOSUPPORT);
		assert_int_equal(multiaddr_as_quic(&ma, &family, &addr, &port), -EAFNOSUPPORT);
		multiaddr_free(&ma);
	}
}

static void test_from_ip(void **state)
{
	const uint8_t v4[4] = {127, 0, 0, 1};
	struct multiaddr ma;
	assert_int_equal(multiaddr_from_ip(AF_INET, v4, 4001, true, &ma), 0);
	th_assert_hex(ma.bytes, ma.len, "047f00000191020fa1cd03");
	struct multiaddr copy;
	assert_int_equal(multiaddr_copy(&ma, &copy), 0);
	assert_true(multiaddr_equal(&ma, &copy));
	multiaddr_free(&ma);
	multiaddr_free(&copy);
	const uint8_t v6[16] = {[15] = 1};
	assert_int_equal(multiaddr_from_ip(AF_INET6, v6, 4001, false, &ma), 0);
	th_assert_hex(ma.bytes, ma.len, "2900000000000000000000000000000001060fa1");
	multiaddr_free(&ma);
	assert_int_equal(multiaddr_from_ip(AF_UNIX, v4, 1, false, &ma), -EAFNOSUPPORT);
}

static void test_small_buffer(void **state)
{
	struct multiaddr ma = parse_ok("/ip4/1.2.3.4/tcp/80");
	char out[32];
	assert_int_equal(multiaddr_to_string(&ma, out, 19), -ENOBUFS);
	assert_int_equal(multiaddr_to_string(&ma, out, 20), 19);
	assert_string_equal(out, "/ip4/1.2.3.4/tcp/80");
	multiaddr_free(&ma);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_checklist_vectors), cmocka_unit_test(test_more_protocols),
	        cmocka_unit_test(test_alternative_text),  cmocka_unit_test(test_malformed_text),
	        cmocka_unit_test(test_over_long_text),    cmocka_unit_test(test_malformed_binary),
	        cmocka_unit_test(test_binary_caps),       cmocka_unit_test(test_iterate),
	        cmocka_unit_test(test_p2p_helpers),       cmocka_unit_test(test_transport_shapes),
	        cmocka_unit_test(test_from_ip),           cmocka_unit_test(test_small_buffer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
