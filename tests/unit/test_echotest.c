/* The test echo protocol (daemon/net/echotest*.c): the byte generator
 * against vectors printed by tests/interop/peer.mjs's chunkOf() under
 * Node 22, and the client and responder between two hosts over loopback:
 * many streams, more than run at once, a window-filling stream, empty
 * streams, a corrupting echo, a peer without the protocol, cancelling. */
#include "nettest.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdlib.h>

#include "net/echotest.h"

/* ---- generator ---- */

static void gen_bytes(uint32_t s, size_t skip, uint8_t *out, size_t n)
{
	struct echotest_gen g;
	echotest_gen_init(&g, s);
	uint8_t tmp[4096];
	while (skip > 0) {
		size_t k = skip < sizeof(tmp) ? skip : sizeof(tmp);
		echotest_gen_fill(&g, tmp, k);
		skip -= k;
	}
	echotest_gen_fill(&g, out, n);
}

static void test_gen_vectors(void **state)
{
	uint8_t b[32];
	gen_bytes(0, 0, b, 32);
	th_assert_hex(b, 32, "4196935ae7bf3f9ed15eabf1094ce0d6ba5274b88659c34e72f45e22b0258b70");
	/* Across the first chunk boundary (65536) of stream 3. */
	gen_bytes(3, 65530, b, 16);
	th_assert_hex(b, 16, "a61fc8801578c5ed3dab46af6734de31");
	gen_bytes(999, 0, b, 16);
	th_assert_hex(b, 16, "610b3d66ef7af55819cac3701052bace");
}

/* The plain 32-bit LCG would give 419627c4...: the first two bytes agree,
 * then the double rounding JS does makes them differ. */
static void test_gen_is_not_integer_lcg(void **state)
{
	uint8_t b[4];
	gen_bytes(0, 0, b, 4);
	assert_int_equal(b[0], 0x41);
	assert_int_equal(b[1], 0x96);
	assert_int_not_equal(b[2], 0x27);
}

static void sha256_of_stream(uint32_t s, size_t total, size_t piece, uint8_t md[32])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	assert_non_null(ctx);
	assert_int_equal(EVP_DigestInit_ex(ctx, EVP_sha256(), NULL), 1);
	struct echotest_gen g;
	echotest_gen_init(&g, s);
	uint8_t *buf = malloc(piece);
	assert_non_null(buf);
	for (size_t off = 0; off < total; off += piece) {
		size_t n = total - off < piece ? total - off : piece;
		echotest_gen_fill(&g, buf, n);
		assert_int_equal(EVP_DigestUpdate(ctx, buf, n), 1);
	}
	unsigned len = 0;
	assert_int_equal(EVP_DigestFinal_ex(ctx, md, &len), 1);
	assert_int_equal(len, 32);
	free(buf);
	EVP_MD_CTX_free(ctx);
}

static void test_gen_long_streams(void **state)
{
	uint8_t md[32];
	/* 200000 bytes: three whole chunks and a partial one; pieces that do
	 * not align with chunks. */
	sha256_of_stream(5, 200000, 7777, md);
	th_assert_hex(md, 32, "0f93812496a5ae3315a790f511a634ca9f423eb78319030538ca4aee5c6d7a45");
	sha256_of_stream(1000, 1 << 20, 65536, md);
	th_assert_hex(md, 32, "017d230b217e8b215a4bb429ace73b2090307bca13ab8aa43e20a0926ab3edae");
}

/* ---- client and responder ---- */

static struct host *ha, *hb;

static int setup(void **state)
{
	nt_base = event_base_new();
	ha = nt_host_new("test-a/1");
	hb = nt_host_new("test-b/1");
	return 0;
}

static int teardown(void **state)
{
	host_free(ha);
	host_free(hb);
	event_base_free(nt_base);
	return 0;
}

struct outcome {
	bool done;
	struct echotest_result r;
};

static void on_done(const struct echotest_result *r, void *ctx)
{
	struct outcome *o = ctx;
	assert_false(o->done);
	o->done = true;
	o->r = *r;
}

static struct outcome run_echo(const char *proto, unsigned streams, uint64_t bytes)
{
	struct outcome o = {0};
	assert_int_equal(
	        echotest_start(ha, host_peer_id(hb), proto, streams, bytes, on_done, &o, NULL), 0);
	assert_false(o.done);
	assert_true(nt_run_until(nt_flag, &o.done));
	return o;
}

static void assert_all_closed(void)
{
	struct conn *c = host_find_conn(ha, host_peer_id(hb));
	assert_non_null(c);
	struct conn_info ci;
	conn_get_info(c, &ci);
	assert_int_equal(ci.streams, 0);
}

static void test_many_streams(void **state)
{
	assert_int_equal(echotest_register(hb, NULL), 0);
	nt_connect(ha, hb);
	struct outcome o = run_echo(NULL, 20, 150000);
	if (!o.r.ok)
		fail_msg("%s", o.r.error);
	assert_int_equal(o.r.streams, 20);
	assert_int_equal(o.r.streams_ok, 20);
	assert_int_equal(o.r.bytes, 150000);
	assert_int_equal(o.r.err, 0);
	assert_string_equal(o.r.error, "");
	assert_all_closed();
}

static void test_more_streams_than_inflight(void **state)
{
	assert_int_equal(echotest_register(hb, NULL), 0);
	nt_connect(ha, hb);
	struct outcome o = run_echo(NULL, ECHOTEST_MAX_INFLIGHT + 50, 1000);
	if (!o.r.ok)
		fail_msg("%s", o.r.error);
	assert_int_equal(o.r.streams_ok, ECHOTEST_MAX_INFLIGHT + 50);
	assert_all_closed();
}

static void test_window_filling_stream(void **state)
{
	assert_int_equal(echotest_register(hb, NULL), 0);
	nt_connect(ha, hb);
	/* Far beyond the 256 KiB initial window, both ways. */
	struct outcome o = run_echo(NULL, 1, (uint64_t)6 << 20);
	if (!o.r.ok)
		fail_msg("%s", o.r.error);
	assert_int_equal(o.r.streams_ok, 1);
}

static void test_empty_streams(void **state)
{
	assert_int_equal(echotest_register(hb, "/custom/echo/2.0.0"), 0);
	nt_connect(ha, hb);
	struct outcome o = run_echo("/custom/echo/2.0.0", 3, 0);
	assert_true(o.r.ok);
	assert_int_equal(o.r.streams_ok, 3);
}

/* An echo that flips one byte at offset 100000 of each stream. */
struct bad_echo {
	uint64_t seen;
	bool fin;
};

static void bad_pump(struct stream *s, void *ctx)
{
	struct bad_echo *e = ctx;
	const uint8_t *p;
	size_t len;
	stream_peek(s, &p, &len);
	if (len > 0) {
		uint8_t *copy = malloc(len);
		assert_non_null(copy);
		memcpy(copy, p, len);
		if (e->seen <= 100000 && 100000 < e->seen + len)
			copy[100000 - e->seen] ^= 0x80;
		long n = stream_write(s, copy, len);
		free(copy);
		if (n > 0) {
			stream_consume(s, (size_t)n);
			e->seen += (uint64_t)n;
		}
	}
	stream_peek(s, &p, &len);
	if (len == 0 && stream_peer_closed(s) && !e->fin) {
		e->fin = true;
		stream_close_write(s);
	}
}

static void bad_closed(struct stream *s, int err, void *ctx)
{
	free(ctx);
}

static const struct stream_callbacks bad_cbs = {
        .on_data = bad_pump,
        .on_writable = bad_pump,
        .on_eof = bad_pump,
        .on_closed = bad_closed,
};

static void bad_on_stream(struct stream *s, void *ctx)
{
	struct bad_echo *e = calloc(1, sizeof(*e));
	assert_non_null(e);
	stream_set_callbacks(s, &bad_cbs, e);
}

static const struct protocol_handler bad_handlers[] = {
        {ECHOTEST_PROTOCOL_ID, bad_on_stream, 0},
        {0},
};

static void test_corrupted_echo_detected(void **state)
{
	assert_int_equal(protocols_register(host_protocols(hb), bad_handlers, NULL), 0);
	nt_connect(ha, hb);
	struct outcome o = run_echo(NULL, 4, 200000);
	assert_false(o.r.ok);
	assert_int_equal(o.r.err, -EBADMSG);
	assert_non_null(strstr(o.r.error, ": byte 100000 differs"));
	assert_true(o.r.streams_ok < 4);
	/* The other streams were reset, not left running. */
	nt_run_for(50);
	assert_all_closed();
}

static void test_peer_without_protocol(void **state)
{
	nt_connect(ha, hb);
	struct outcome o = run_echo(NULL, 2, 10);
	assert_false(o.r.ok);
	assert_int_equal(o.r.err, -ENOPROTOOPT);
	assert_non_null(strstr(o.r.error, "cannot open " ECHOTEST_PROTOCOL_ID));
	assert_non_null(strstr(o.r.error, "does not speak it"));
	assert_int_equal(o.r.streams_ok, 0);
}

static void test_bad_arguments(void **state)
{
	struct outcome o = {0};
	/* Not connected. */
	assert_int_equal(echotest_start(ha, host_peer_id(hb), NULL, 1, 1, on_done, &o, NULL),
	                 -ENOTCONN);
	nt_connect(ha, hb);
	assert_int_equal(echotest_start(ha, host_peer_id(hb), NULL, 0, 1, on_done, &o, NULL),
	                 -EINVAL);
	assert_int_equal(echotest_start(ha, host_peer_id(hb), NULL, ECHOTEST_MAX_STREAMS + 1, 1,
	                                on_done, &o, NULL),
	                 -EINVAL);
	assert_int_equal(echotest_start(ha, host_peer_id(hb), NULL, 1, 1, NULL, &o, NULL), -EINVAL);
	assert_false(o.done);
}

static bool some_bytes_moved(void *arg)
{
	struct conn *c = host_find_conn(ha, host_peer_id(hb));
	struct conn_info ci;
	conn_get_info(c, &ci);
	return ci.bytes_in > (1 << 20);
}

static void test_cancel_mid_transfer(void **state)
{
	assert_int_equal(echotest_register(hb, NULL), 0);
	nt_connect(ha, hb);
	struct outcome o = {0};
	struct echotest_op *op;
	assert_int_equal(
	        echotest_start(ha, host_peer_id(hb), NULL, 8, (uint64_t)64 << 20, on_done, &o, &op),
	        0);
	assert_true(nt_run_until(some_bytes_moved, NULL));
	echotest_cancel(op);
	nt_run_for(100);
	assert_false(o.done);
	assert_all_closed();
}

static void test_cancel_while_opening(void **state)
{
	assert_int_equal(echotest_register(hb, NULL), 0);
	nt_connect(ha, hb);
	struct outcome o = {0};
	struct echotest_op *op;
	assert_int_equal(echotest_start(ha, host_peer_id(hb), NULL, 5, 1000, on_done, &o, &op), 0);
	echotest_cancel(op); /* every stream still negotiating */
	nt_run_for(100);
	assert_false(o.done);
	assert_all_closed();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_gen_vectors),
	        cmocka_unit_test(test_gen_is_not_integer_lcg),
	        cmocka_unit_test(test_gen_long_streams),
	        cmocka_unit_test_setup_teardown(test_many_streams, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_more_streams_than_inflight, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_window_filling_stream, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_empty_streams, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_corrupted_echo_detected, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_peer_without_protocol, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_bad_arguments, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_cancel_mid_transfer, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_cancel_while_opening, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
