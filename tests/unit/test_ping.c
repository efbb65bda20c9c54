/* libp2p ping (daemon/net/ping.c) between two hosts in one process over
 * loopback: RTTs measured, rounds counted, the per-round timeout against a
 * peer that never echoes, a wrong echo, a peer without ping, the inbound
 * stream cap, cancelling, and host shutdown mid-ping. */
#include "nettest.h"

#include <errno.h>
#include <stdlib.h>

#include "net/clock.h"
#include "net/ping.h"

static struct host *ha, *hb;
static struct conn *conn_ab;

static int setup(void **state)
{
	nt_base = event_base_new();
	ha = nt_host_new("test-a/1");
	hb = nt_host_new("test-b/1");
	assert_int_equal(ping_register(ha), 0);
	return 0;
}

static int teardown(void **state)
{
	host_free(ha);
	host_free(hb);
	event_base_free(nt_base);
	ha = hb = NULL;
	conn_ab = NULL;
	return 0;
}

/* ---- what the pinger reports ---- */

#define MAX_ROUNDS 8

struct result {
	unsigned calls;
	uint64_t rtt[MAX_ROUNDS];
	int err;
	char msg[256];
	bool done;
	bool cancel_in_cb; /* call ping_cancel() from the first callback */
	struct ping_op *op;
};

static void ping_done(uint64_t rtt_us, int err, const char *msg, bool done, void *ctx)
{
	struct result *r = ctx;
	assert_false(r->done); /* nothing after the last call */
	assert_true(r->calls < MAX_ROUNDS);
	r->rtt[r->calls++] = rtt_us;
	r->err = err;
	snprintf(r->msg, sizeof(r->msg), "%s", msg ? msg : "");
	r->done = done;
	if (err)
		assert_true(done); /* an error ends the op */
	if (r->cancel_in_cb && !done) {
		ping_cancel(r->op);
		r->done = true; /* no more calls may follow */
	}
}

static bool result_done(void *arg)
{
	return ((struct result *)arg)->done;
}

static void start(unsigned count, uint32_t interval_ms, uint32_t timeout_ms, struct result *r)
{
	struct ping_params p = {
	        .count = count, .interval_ms = interval_ms, .timeout_ms = timeout_ms};
	assert_int_equal(ping_start(ha, conn_ab, &p, ping_done, r, &r->op), 0);
	assert_int_equal(r->calls, 0); /* never synchronous */
}

static void connect_ab(void)
{
	conn_ab = nt_connect(ha, hb);
}

/* ---- tests ---- */

static void test_rtt_measured(void **state)
{
	assert_int_equal(ping_register(hb), 0);
	connect_ab();
	struct result r = {0};
	uint64_t t0 = mono_us();
	start(1, 0, 0, &r);
	assert_true(nt_run_until(result_done, &r));
	uint64_t elapsed = mono_us() - t0;
	assert_int_equal(r.err, 0);
	assert_int_equal(r.calls, 1);
	/* A real round trip: more than nothing, less than the whole wait
	 * (which also covers the stream negotiation). */
	assert_true(r.rtt[0] > 0);
	assert_true(r.rtt[0] <= elapsed);
}

static void test_count_rounds(void **state)
{
	assert_int_equal(ping_register(hb), 0);
	connect_ab();
	struct result r = {0};
	uint64_t t0 = mono_us();
	start(4, 20, 0, &r);
	assert_true(nt_run_until(result_done, &r));
	assert_int_equal(r.err, 0);
	assert_int_equal(r.calls, 4);
	for (unsigned i = 0; i < 4; i++)
		assert_true(r.rtt[i] > 0);
	/* Three intervals separate four rounds. */
	assert_true(mono_us() - t0 >= 3 * 20 * 1000);
	/* One stream for all rounds, closed by both sides afterwards. */
	struct conn_info ci;
	conn_get_info(conn_ab, &ci);
	assert_true(ci.streams <= 1);
}

/* A responder that negotiates ping and then never echoes. */
static void silent_on_stream(struct stream *s, void *ctx)
{
}

static const struct protocol_handler silent_handlers[] = {
        {PING_PROTOCOL_ID, silent_on_stream, 0},
        {0},
};

static void test_timeout(void **state)
{
	assert_int_equal(protocols_register(host_protocols(hb), silent_handlers, NULL), 0);
	connect_ab();
	struct result r = {0};
	uint64_t t0 = mono_us();
	start(3, 0, 300, &r);
	assert_true(nt_run_until(result_done, &r));
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.err, -ETIMEDOUT);
	assert_non_null(strstr(r.msg, "no echo within 300 ms"));
	/* libevent times with CLOCK_MONOTONIC_COARSE (ticks of a few ms), and
	 * the optimistic ping arms its timer on the first loop turn: allow
	 * the coarse clock's lag. */
	assert_true(mono_us() - t0 >= 290 * 1000);
}

/* A responder that echoes 32 bytes, but not the ones it got. */
static void liar_on_data(struct stream *s, void *ctx)
{
	const uint8_t *p;
	size_t len;
	stream_peek(s, &p, &len);
	if (len < PING_SIZE)
		return;
	uint8_t wrong[PING_SIZE];
	memcpy(wrong, p, PING_SIZE);
	wrong[7] ^= 0x01;
	stream_consume(s, PING_SIZE);
	assert_int_equal(stream_write(s, wrong, PING_SIZE), PING_SIZE);
}

static void liar_on_closed(struct stream *s, int err, void *ctx)
{
}

static const struct stream_callbacks liar_cbs = {
        .on_data = liar_on_data,
        .on_closed = liar_on_closed,
};

static void liar_on_stream(struct stream *s, void *ctx)
{
	stream_set_callbacks(s, &liar_cbs, NULL);
}

static const struct protocol_handler liar_handlers[] = {
        {PING_PROTOCOL_ID, liar_on_stream, 0},
        {0},
};

static void test_wrong_echo(void **state)
{
	assert_int_equal(protocols_register(host_protocols(hb), liar_handlers, NULL), 0);
	connect_ab();
	struct result r = {0};
	start(2, 0, 0, &r);
	assert_true(nt_run_until(result_done, &r));
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.err, -EBADMSG);
	assert_non_null(strstr(r.msg, "echoed different bytes"));
}

static void test_peer_without_ping(void **state)
{
	connect_ab(); /* hb registered nothing */
	struct result r = {0};
	start(1, 0, 0, &r);
	assert_true(nt_run_until(result_done, &r));
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.err, -ENOPROTOOPT);
	assert_non_null(strstr(r.msg, "does not support ping"));
	assert_non_null(strstr(r.msg, PING_PROTOCOL_ID));
}

static bool closed_or_reset(void *arg)
{
	return ((struct nt_stream *)arg)->closed;
}

struct echo_wait {
	struct nt_stream *x;
	size_t want;
};

static bool got_echo(void *arg)
{
	struct echo_wait *w = arg;
	return w->x->got.len >= w->want || w->x->closed;
}

/* Write one ping on a raw stream and wait for its echo. */
static void raw_round(struct nt_stream *x, uint8_t fill)
{
	uint8_t ping[PING_SIZE];
	memset(ping, fill, sizeof(ping));
	size_t before = x->got.len;
	assert_int_equal(stream_write(x->s, ping, sizeof(ping)), PING_SIZE);
	struct echo_wait w = {x, before + PING_SIZE};
	assert_true(nt_run_until(got_echo, &w));
	assert_int_equal(x->got.len, before + PING_SIZE);
	assert_memory_equal(x->got.data + before, ping, PING_SIZE);
}

static void test_inbound_stream_cap(void **state)
{
	assert_int_equal(ping_register(hb), 0);
	connect_ab();
	struct nt_stream s1, s2, s3;
	nt_stream_open(ha, conn_ab, PING_PROTOCOL_ID, &s1);
	nt_stream_open(ha, conn_ab, PING_PROTOCOL_ID, &s2);
	assert_true(s1.opened && s2.opened);
	raw_round(&s1, 0x11);
	raw_round(&s2, 0x22);
	/* A third at once is over js's cap of two: reset by the responder
	 * (during or right after negotiation) and counted. */
	nt_stream_open(ha, conn_ab, PING_PROTOCOL_ID, &s3);
	if (s3.opened)
		assert_true(nt_run_until(closed_or_reset, &s3));
	assert_true(s3.open_failed ? s3.open_err == -ECONNRESET : s3.close_err == -ECONNRESET);
	struct host_stats st;
	host_get_stats(hb, &st);
	assert_int_equal(st.refused_limit, 1);
	/* The two held streams still work. */
	raw_round(&s1, 0x33);
	raw_round(&s2, 0x44);
	/* Closing one frees a slot: the responder FINs after our FIN. */
	assert_int_equal(stream_close_write(s1.s), 0);
	assert_true(nt_run_until(closed_or_reset, &s1));
	assert_int_equal(s1.close_err, 0);
	struct nt_stream s4;
	nt_stream_open(ha, conn_ab, PING_PROTOCOL_ID, &s4);
	assert_true(s4.opened);
	raw_round(&s4, 0x55);
	stream_reset(s2.s);
	stream_reset(s4.s);
	assert_true(nt_run_until(closed_or_reset, &s4));
	buf_free(&s1.got);
	buf_free(&s2.got);
	buf_free(&s3.got);
	buf_free(&s4.got);
}

static void test_responder_partial_then_fin(void **state)
{
	assert_int_equal(ping_register(hb), 0);
	connect_ab();
	struct nt_stream x;
	nt_stream_open(ha, conn_ab, PING_PROTOCOL_ID, &x);
	/* One whole ping and half of another, then FIN: the whole one is
	 * echoed, the half dropped, and the responder finishes. */
	uint8_t bytes[PING_SIZE + PING_SIZE / 2];
	for (size_t i = 0; i < sizeof(bytes); i++)
		bytes[i] = (uint8_t)i;
	assert_int_equal(stream_write(x.s, bytes, sizeof(bytes)), (long)sizeof(bytes));
	assert_int_equal(stream_close_write(x.s), 0);
	assert_true(nt_run_until(closed_or_reset, &x));
	assert_int_equal(x.close_err, 0);
	assert_true(x.eof);
	assert_int_equal(x.got.len, PING_SIZE);
	assert_memory_equal(x.got.data, bytes, PING_SIZE);
	buf_free(&x.got);
}

static void test_cancel_while_opening(void **state)
{
	assert_int_equal(ping_register(hb), 0);
	connect_ab();
	struct result r = {0};
	start(3, 0, 0, &r);
	ping_cancel(r.op);
	nt_run_for(100);
	assert_int_equal(r.calls, 0);
	/* The stream it opened was reset, not leaked. */
	struct conn_info ci;
	conn_get_info(conn_ab, &ci);
	assert_int_equal(ci.streams, 0);
}

static void test_cancel_in_callback(void **state)
{
	assert_int_equal(ping_register(hb), 0);
	connect_ab();
	struct result r = {.cancel_in_cb = true};
	start(5, 10, 0, &r);
	assert_true(nt_run_until(result_done, &r));
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.err, 0);
	nt_run_for(100); /* no further rounds */
	assert_int_equal(r.calls, 1);
}

static bool first(void *arg)
{
	return ((struct result *)arg)->calls >= 1;
}

static void test_connection_lost(void **state)
{
	assert_int_equal(ping_register(hb), 0);
	connect_ab();
	struct result r = {0};
	start(100, 1000, 0, &r);
	/* Wait for the first round, then the peer goes away mid-op. */
	assert_true(nt_run_until(first, &r));
	host_free(hb);
	hb = NULL;
	assert_true(nt_run_until(result_done, &r));
	assert_true(r.err == -ECONNRESET || r.err == -ECONNABORTED);
}

static void test_host_free_mid_ping(void **state)
{
	assert_int_equal(ping_register(hb), 0);
	connect_ab();
	struct result r = {0};
	start(100, 1000, 0, &r);
	assert_true(nt_run_until(first, &r));
	/* Our own host goes: the op ends with a final error call, synchronously. */
	host_free(ha);
	ha = NULL;
	assert_true(r.done);
	assert_int_equal(r.err, -ECONNABORTED);
}

static void test_bad_params(void **state)
{
	connect_ab();
	struct ping_params p = {.count = 0};
	assert_int_equal(ping_start(ha, conn_ab, &p, ping_done, NULL, NULL), -EINVAL);
	p.count = 1;
	assert_int_equal(ping_start(ha, conn_ab, &p, NULL, NULL, NULL), -EINVAL);
	assert_int_equal(ping_start(ha, conn_ab, NULL, ping_done, NULL, NULL), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_rtt_measured, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_count_rounds, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_wrong_echo, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_peer_without_ping, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_inbound_stream_cap, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_responder_partial_then_fin, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_cancel_while_opening, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_cancel_in_callback, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_connection_lost, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_host_free_mid_ping, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_bad_params, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
