/* Optimistic negotiation in the libp2p host (daemon/net): the dialer's
 * security proposal carries Noise message 1, host_open_stream_lazy() lets
 * the opener write before the echo, and the round trips from dial to the
 * first ping reply.
 *
 * Round trips are counted, not timed: the dialer reaches the server through
 * a relay in this process that holds every byte until the flight is over
 * (both hosts and the relay quiet), then delivers all held bytes in both
 * directions at once. One such tick is half a round trip; the TCP handshake
 * to the relay, which takes no tick here, is one more. */
#include "nettest.h"
#include "nettest-raw.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mss.h"
#include "net/clock.h"
#include "net/ping.h"
#include "noise.h"

#define ECHO "/test/echo/1.0.0"
#define REPLY "/test/reply/1.0.0"
/* mss header and "/noise" (checklist §5.6). */
#define HDR_NOISE_HEX "132f6d756c746973747265616d2f312e302e300a072f6e6f6973650a"
#define HDR_NOISE_LEN 28
/* Noise message 1 on the wire: u16 length 32, then e. */
#define MSG1_LEN (2 + 32)

static struct host *ha, *hb;

static int setup(void **state)
{
	nt_base = event_base_new();
	ha = hb = NULL;
	return 0;
}

static int teardown(void **state)
{
	host_free(ha);
	host_free(hb);
	ha = hb = NULL;
	event_base_free(nt_base);
	return 0;
}

/* ---- raw sockets ---- */

static struct multiaddr tcp_addr(uint16_t port, const struct peerid *p2p)
{
	char text[64];
	snprintf(text, sizeof(text), "/ip4/127.0.0.1/tcp/%u", port);
	struct multiaddr ma;
	assert_int_equal(multiaddr_parse(text, &ma, NULL), 0);
	if (p2p)
		assert_int_equal(multiaddr_append_p2p(&ma, p2p), 0);
	return ma;
}

/* ---- a fake listener: what does the dialer send first? ---- */

struct fake {
	int l, fd;
	struct buf in;
	size_t want;
};

static bool fake_got(void *arg)
{
	struct fake *f = arg;
	if (f->fd < 0)
		f->fd = accept4(f->l, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (f->fd >= 0)
		nt_pull(f->fd, &f->in);
	return f->in.len >= f->want;
}

/* The dialer does not wait for the listener's echo: its first flight is the
 * header, the "/noise" proposal and Noise message 1, in one write. */
static void test_dialer_first_flight(void **state)
{
	ha = nt_host_new("a/1");
	uint16_t port;
	struct fake f = {.l = nt_raw_listener(&port), .fd = -1, .want = HDR_NOISE_LEN + MSG1_LEN};
	struct multiaddr ma = tcp_addr(port, NULL);
	struct nt_dial d = {0};
	assert_int_equal(host_dial(ha, &ma, 0, nt_dial_cb, &d), 0);
	multiaddr_free(&ma);
	/* The fake never answers: everything below was sent unprompted. */
	assert_true(nt_run_until_ms(fake_got, &f, 5000));
	assert_int_equal(f.in.len, HDR_NOISE_LEN + MSG1_LEN);
	th_assert_hex(f.in.data, HDR_NOISE_LEN, HDR_NOISE_HEX);
	assert_int_equal(f.in.data[HDR_NOISE_LEN], 0x00);
	assert_int_equal(f.in.data[HDR_NOISE_LEN + 1], 0x20);
	assert_false(d.done);
	buf_free(&f.in);
	close(f.fd);
	close(f.l);
	host_free(ha);
	ha = NULL;
	assert_true(d.done);
	assert_int_equal(d.err, -ECANCELED);
}

/* A listener that refuses "/noise" fails the dial with -ENOPROTOOPT, even
 * though message 1 already went out. */
static void test_dialer_noise_refused(void **state)
{
	ha = nt_host_new("a/1");
	uint16_t port;
	struct fake f = {.l = nt_raw_listener(&port), .fd = -1, .want = HDR_NOISE_LEN + MSG1_LEN};
	struct multiaddr ma = tcp_addr(port, NULL);
	struct nt_dial d = {0};
	assert_int_equal(host_dial(ha, &ma, 0, nt_dial_cb, &d), 0);
	multiaddr_free(&ma);
	assert_true(nt_run_until(fake_got, &f));
	struct buf na = th_hex("132f6d756c746973747265616d2f312e302e300a036e610a");
	nt_send_all(f.fd, na.data, na.len);
	buf_free(&na);
	assert_true(nt_run_until(nt_flag, &d.done));
	assert_int_equal(d.err, -ENOPROTOOPT);
	assert_non_null(strstr(d.msg, "/noise"));
	struct host_stats st;
	host_get_stats(ha, &st);
	assert_int_equal(st.handshaking, 0);
	assert_int_equal(st.handshake_failures, 1);
	buf_free(&f.in);
	close(f.fd);
	close(f.l);
}

/* ---- a raw dialer: does our listener take message 1 behind the
 * proposal? ---- */

struct raw_dialer {
	int fd;
	struct buf in;
	struct mss *mss;
	struct noise *noise;
	bool failed;
};

static bool raw_dialer_step(void *arg)
{
	struct raw_dialer *r = arg;
	if (!nt_pull(r->fd, &r->in))
		r->failed = true;
	if (mss_state(r->mss) == MSS_NEGOTIATING && r->in.len > 0) {
		assert_int_equal(mss_feed(r->mss, r->in.data, r->in.len), 0);
		buf_reset(&r->in);
		if (mss_state(r->mss) == MSS_DONE) {
			const uint8_t *p;
			size_t len;
			mss_leftover(r->mss, &p, &len);
			assert_int_equal(buf_append(&r->in, p, len), 0);
		}
	}
	if (mss_state(r->mss) == MSS_DONE && r->in.len > 0) {
		long n = noise_feed(r->noise, r->in.data, r->in.len);
		assert_true(n >= 0);
		buf_consume(&r->in, (size_t)n);
	}
	return r->failed || noise_state(r->noise) == NOISE_DONE;
}

static void test_listener_takes_pipelined_message1(void **state)
{
	hb = nt_host_new("b/1");
	struct privkey key;
	assert_int_equal(privkey_generate(&key), 0);
	struct raw_dialer r = {.fd = nt_raw_connect(nt_port_of(hb))};
	const char *noise_id = NOISE_PROTOCOL_ID;
	assert_int_equal(mss_initiator_new(&noise_id, 1, true, &r.mss), 0);
	struct noise_config cfg = {
	        .role = NOISE_INITIATOR, .identity = &key, .expected_peer = host_peer_id(hb)};
	assert_int_equal(noise_new(&cfg, &r.noise), 0);
	/* Header, proposal and message 1 in a single write. */
	struct buf first = BUF_INIT;
	const uint8_t *p;
	size_t len;
	mss_pending_output(r.mss, &p, &len);
	assert_int_equal(buf_append(&first, p, len), 0);
	mss_output_consumed(r.mss, len);
	noise_pending_output(r.noise, &p, &len);
	assert_int_equal(buf_append(&first, p, len), 0);
	noise_output_consumed(r.noise, len);
	assert_int_equal(first.len, HDR_NOISE_LEN + MSG1_LEN);
	nt_send_all(r.fd, first.data, first.len);
	buf_free(&first);
	/* The host echoes "/noise" and answers message 1 with message 2: our
	 * initiator authenticates it and is done (message 3 queued). */
	assert_true(nt_run_until(raw_dialer_step, &r));
	assert_false(r.failed);
	assert_int_equal(noise_state(r.noise), NOISE_DONE);
	assert_true(peerid_equal(noise_remote_peer(r.noise), host_peer_id(hb)));
	buf_free(&r.in);
	mss_free(r.mss);
	noise_free(r.noise);
	privkey_wipe(&key);
	close(r.fd);
}

/* ---- handlers on the server ---- */

/* Answer "hello" and FIN at once, before reading anything. */
static void reply_on_stream(struct stream *s, void *ctx)
{
	stream_set_callbacks(s, &nt_echo_cbs, NULL);
	assert_int_equal(stream_write(s, "hello", 5), 5);
	assert_int_equal(stream_close_write(s), 0);
}

static const struct protocol_handler server_handlers[] = {
        {ECHO, nt_echo_on_stream, 0},
        {REPLY, reply_on_stream, 0},
        {0},
};

/* ---- optimistic streams ---- */

struct lazy {
	struct stream *s;
	const char *send;
	bool opened, open_failed, eof, closed;
	int open_err, close_err;
	long wrote;
	struct buf got;
};

static void lazy_data(struct stream *s, void *ctx)
{
	struct lazy *x = ctx;
	const uint8_t *p;
	size_t len;
	stream_peek(s, &p, &len);
	assert_int_equal(buf_append(&x->got, p, len), 0);
	stream_consume(s, len);
}

static void lazy_eof(struct stream *s, void *ctx)
{
	((struct lazy *)ctx)->eof = true;
}

static void lazy_closed(struct stream *s, int err, void *ctx)
{
	struct lazy *x = ctx;
	x->closed = true;
	x->close_err = err;
	x->s = NULL;
}

static const struct stream_callbacks lazy_cbs = {
        .on_data = lazy_data,
        .on_eof = lazy_eof,
        .on_closed = lazy_closed,
};

/* The stream comes before any answer from the peer: write at once. */
static void lazy_opened(struct stream *s, int err, void *ctx)
{
	struct lazy *x = ctx;
	if (!s) {
		x->open_failed = true;
		x->open_err = err;
		return;
	}
	x->opened = true;
	x->s = s;
	assert_true(stream_outbound(s));
	stream_set_callbacks(s, &lazy_cbs, x);
	const uint8_t *p;
	size_t len;
	stream_peek(s, &p, &len);
	assert_int_equal(len, 0);
	if (x->send)
		x->wrote = stream_write(s, x->send, strlen(x->send));
	assert_int_equal(stream_close_write(s), 0);
}

static bool lazy_ended(void *arg)
{
	struct lazy *x = arg;
	return x->closed || x->open_failed;
}

static struct conn *connect_pair(void)
{
	ha = nt_host_new("a/1");
	hb = nt_host_new("b/1");
	assert_int_equal(protocols_register(host_protocols(hb), server_handlers, NULL), 0);
	return nt_connect(ha, hb);
}

static void lazy_open(struct conn *c, const char *proto, const char *send, struct lazy *x)
{
	memset(x, 0, sizeof(*x));
	x->send = send;
	assert_int_equal(host_open_stream_lazy(ha, c, proto, lazy_opened, x), 0);
	assert_false(x->opened); /* never synchronous */
	assert_true(nt_run_until(lazy_ended, x));
}

static bool streams_gone(void *arg)
{
	struct host_stats sa, sb;
	host_get_stats(ha, &sa);
	host_get_stats(hb, &sb);
	return sa.streams == 0 && sb.streams == 0;
}

/* The opener's bytes ride behind the proposal; the echo and the peer's
 * negotiation messages never show up as data. */
static void test_lazy_echo(void **state)
{
	struct conn *c = connect_pair();
	struct lazy x;
	lazy_open(c, ECHO, "optimistic bytes", &x);
	assert_true(x.opened);
	assert_int_equal(x.wrote, 16);
	assert_int_equal(x.close_err, 0);
	assert_true(x.eof);
	assert_int_equal(x.got.len, 16);
	assert_memory_equal(x.got.data, "optimistic bytes", 16);
	buf_free(&x.got);
	assert_true(nt_run_until(streams_gone, NULL));
}

/* Data and FIN right behind the echo (one read): both delivered, in order. */
static void test_lazy_reply_with_fin(void **state)
{
	struct conn *c = connect_pair();
	struct lazy x;
	lazy_open(c, REPLY, NULL, &x);
	assert_true(x.opened);
	assert_int_equal(x.close_err, 0);
	assert_true(x.eof);
	assert_int_equal(x.got.len, 5);
	assert_memory_equal(x.got.data, "hello", 5);
	buf_free(&x.got);
}

/* Refused: the listener says "na", cannot parse our data as another
 * proposal and resets at once; the "na" must not be lost behind the reset,
 * so the owner's on_closed says -ENOPROTOOPT. The first byte 0x05 is a
 * length prefix of a message that does not end in a newline. */
static void test_lazy_refused(void **state)
{
	struct conn *c = connect_pair();
	struct lazy x;
	lazy_open(c, "/test/unknown/1.0.0", "\x05hello world", &x);
	assert_true(x.opened);
	assert_true(x.closed);
	assert_int_equal(x.close_err, -ENOPROTOOPT);
	assert_int_equal(x.got.len, 0);
	assert_false(x.eof);
	buf_free(&x.got);
	assert_true(nt_run_until(streams_gone, NULL));
	/* The connection is unharmed. */
	lazy_open(c, ECHO, "again", &x);
	assert_int_equal(x.close_err, 0);
	assert_int_equal(x.got.len, 5);
	buf_free(&x.got);
}

/* The same refusal, when the listener waits for more after its "na" (our
 * data looks like the start of a longer message). */
static void test_lazy_refused_listener_waits(void **state)
{
	struct conn *c = connect_pair();
	struct lazy x;
	lazy_open(c, "/test/unknown/1.0.0", "\x7fpartial", &x);
	assert_int_equal(x.close_err, -ENOPROTOOPT);
	assert_int_equal(x.got.len, 0);
	buf_free(&x.got);
}

/* Ping is optimistic: a peer without ping gives the same error and text as
 * before, after the first write. */
struct ping_result {
	bool done;
	int err;
	unsigned rounds;
	char msg[256];
};

static void ping_result_cb(uint64_t rtt_us, int err, const char *msg, bool done, void *ctx)
{
	struct ping_result *r = ctx;
	r->done = done;
	r->err = err;
	r->rounds += err == 0;
	snprintf(r->msg, sizeof(r->msg), "%s", msg ? msg : "");
}

static void test_ping_unsupported(void **state)
{
	struct conn *c = connect_pair();
	struct ping_params p = {.count = 1};
	struct ping_result r = {0};
	assert_int_equal(ping_start(ha, c, &p, ping_result_cb, &r, NULL), 0);
	assert_true(nt_run_until(nt_flag, &r.done));
	assert_int_equal(r.err, -ENOPROTOOPT);
	assert_non_null(strstr(r.msg, "does not support ping"));
}

/* A peer over its inbound ping cap echoes the proposal, then resets: the
 * same error and text as when the reset came during negotiation. */
static void test_ping_over_peer_cap(void **state)
{
	struct conn *c = connect_pair();
	assert_int_equal(ping_register(hb), 0);
	struct nt_stream held[PING_MAX_INBOUND_PER_PEER];
	for (int i = 0; i < PING_MAX_INBOUND_PER_PEER; i++) {
		nt_stream_open(ha, c, PING_PROTOCOL_ID, &held[i]);
		assert_true(held[i].opened);
	}
	struct ping_params p = {.count = 1};
	struct ping_result r = {0};
	assert_int_equal(ping_start(ha, c, &p, ping_result_cb, &r, NULL), 0);
	assert_true(nt_run_until(nt_flag, &r.done));
	assert_int_equal(r.err, -ECONNRESET);
	assert_non_null(strstr(r.msg, "refused the ping stream"));
	for (int i = 0; i < PING_MAX_INBOUND_PER_PEER; i++)
		buf_free(&held[i].got);
}

/* ---- round trips through a holding relay ---- */

struct relay {
	int l;
	int a, b;      /* the dialer's side (accepted), the server's side */
	uint16_t dest; /* the server's port */
	struct buf ab, ba;
};

static void relay_open(struct relay *r, uint16_t dest)
{
	memset(r, 0, sizeof(*r));
	uint16_t port;
	r->l = nt_raw_listener(&port);
	r->a = r->b = -1;
	r->dest = dest;
	assert_int_equal(fcntl(r->l, F_SETFL, O_NONBLOCK), 0);
}

/* Collect what either side sent; true when something moved. */
static bool relay_collect(struct relay *r)
{
	bool moved = false;
	if (r->a < 0) {
		r->a = accept4(r->l, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (r->a >= 0) {
			r->b = nt_raw_connect(r->dest);
			assert_int_equal(fcntl(r->b, F_SETFL, O_NONBLOCK), 0);
			moved = true;
		}
	}
	if (r->a < 0)
		return moved;
	size_t before = r->ab.len + r->ba.len;
	nt_pull(r->a, &r->ab);
	nt_pull(r->b, &r->ba);
	return moved || r->ab.len + r->ba.len != before;
}

static uint16_t relay_port(const struct relay *r)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	assert_int_equal(getsockname(r->l, (struct sockaddr *)&sa, &len), 0);
	return ntohs(sa.sin_port);
}

static void quiet_cb(evutil_socket_t fd, short what, void *arg)
{
}

/* How long nothing may reach the relay before a flight counts as complete.
 * Ready input is always handled before the clock is looked at, so a slow
 * (or descheduled) process cannot end a flight early; only bytes the
 * kernel has not delivered yet could, and loopback delivers at send(). */
#define RELAY_QUIET_MS 100

/* Turn the loop until neither host nor the relay has done anything that
 * reached the relay for a while: the flight is complete. */
static void relay_settle(struct relay *r)
{
	struct event *t = evtimer_new(nt_base, quiet_cb, NULL);
	uint64_t quiet_since = mono_ms();
	while (mono_ms() - quiet_since < RELAY_QUIET_MS) {
		struct timeval tv = {0, 5000};
		evtimer_add(t, &tv);
		event_base_loop(nt_base, EVLOOP_ONCE);
		if (relay_collect(r))
			quiet_since = mono_ms();
	}
	event_free(t);
}

/* Deliver every held byte, both ways at once: half a round trip. */
static void relay_tick(struct relay *r)
{
	if (r->ab.len)
		nt_send_all(r->b, r->ab.data, r->ab.len);
	if (r->ba.len)
		nt_send_all(r->a, r->ba.data, r->ba.len);
	buf_reset(&r->ab);
	buf_reset(&r->ba);
}

static void relay_close(struct relay *r)
{
	close(r->l);
	if (r->a >= 0)
		close(r->a);
	if (r->b >= 0)
		close(r->b);
	buf_free(&r->ab);
	buf_free(&r->ba);
}

struct rtt_run {
	struct host *h;
	unsigned tick, dial_tick, reply_tick;
	struct ping_result ping;
};

static void rtt_ping_cb(uint64_t rtt_us, int err, const char *msg, bool done, void *ctx)
{
	struct rtt_run *x = ctx;
	if (err == 0 && x->ping.rounds == 0)
		x->reply_tick = x->tick;
	ping_result_cb(rtt_us, err, msg, done, &x->ping);
}

static void rtt_dial_cb(struct host *h, struct conn *c, int err, const char *msg, void *ctx)
{
	struct rtt_run *x = ctx;
	assert_int_equal(err, 0);
	x->dial_tick = x->tick;
	struct ping_params p = {.count = 1};
	assert_int_equal(ping_start(h, c, &p, rtt_ping_cb, x, NULL), 0);
}

/* The goal: dial -> first ping reply in 3 round trips (TCP, then
 * "/noise" + message 1 against echo + message 2, then message 3 + yamux
 * SYN + ping proposal + ping against the echoes). */
static void test_round_trips_dial_to_ping(void **state)
{
	ha = nt_host_new("a/1");
	hb = nt_host_new("b/1");
	assert_int_equal(ping_register(hb), 0);
	struct relay r;
	relay_open(&r, nt_port_of(hb));
	struct multiaddr ma = tcp_addr(relay_port(&r), host_peer_id(hb));
	struct rtt_run x = {.h = ha};
	assert_int_equal(host_dial(ha, &ma, 0, rtt_dial_cb, &x), 0);
	multiaddr_free(&ma);
	relay_settle(&r);
	while (!x.ping.done && x.tick < 16) {
		x.tick++;
		relay_tick(&r);
		relay_settle(&r);
	}
	assert_true(x.ping.done);
	assert_int_equal(x.ping.err, 0);
	/* Ticks are half round trips; the TCP handshake adds one. */
	print_message("dial done after %u ticks, first ping reply after %u ticks = %u round "
	              "trips with TCP's\n",
	              x.dial_tick, x.reply_tick, x.reply_tick / 2 + 1);
	assert_int_equal(x.dial_tick, 2);
	assert_int_equal(x.reply_tick, 4);
	relay_close(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_dialer_first_flight, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_dialer_noise_refused, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_listener_takes_pipelined_message1, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_lazy_echo, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_lazy_reply_with_fin, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_lazy_refused, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_lazy_refused_listener_waits, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_ping_unsupported, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_ping_over_peer_cap, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_round_trips_dial_to_ping, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
