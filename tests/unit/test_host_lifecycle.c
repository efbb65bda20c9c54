/* The ends of connections and streams in the libp2p host (daemon/net):
 * lifetime counters that must balance once everything is closed, the
 * reason a peer's close is reported with (clean FIN without GoAway, GoAway,
 * reset), and host_shutdown()'s lingering close, which lets a peer that is
 * still sending see an orderly end instead of a reset.
 *
 * The lingering tests need a peer that runs while host_shutdown() blocks,
 * so that peer is a thread with a plain socket. */
#include "nettest.h"
#include "nettest-raw.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mss.h"
#include "net/clock.h"
#include "noise.h"
#include "yamux.h"

#define ECHO "/test/echo/1.0.0"
#define HOLD "/test/hold/1.0.0"

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

/* ---- server handlers ---- */

static void hold_data(struct stream *s, void *ctx)
{
	const uint8_t *p;
	size_t len;
	stream_peek(s, &p, &len);
	stream_consume(s, len);
}

static const struct stream_callbacks hold_cbs = {
        .on_data = hold_data,
        .on_closed = nt_quiet_closed,
};

static void hold_on_stream(struct stream *s, void *ctx)
{
	stream_set_callbacks(s, &hold_cbs, NULL);
}

static const struct protocol_handler handlers[] = {
        {ECHO, nt_echo_on_stream, .max_inbound_per_peer = 64},
        {HOLD, hold_on_stream, .max_inbound_per_peer = 64},
        {0},
};

static struct host *node(void)
{
	struct host *h = nt_host_new("test/1");
	assert_int_equal(protocols_register(host_protocols(h), handlers, NULL), 0);
	return h;
}

/* ---- the lifetime counters ---- */

static bool balanced(void *arg)
{
	struct host_stats st = nt_stats(arg);
	return st.conns_opened == st.conns_closed && st.streams_opened == st.streams_closed;
}

static bool both_balanced(void *arg)
{
	return balanced(ha) && balanced(hb);
}

static bool streams_balanced(void *arg)
{
	struct host_stats sa = nt_stats(ha), sb = nt_stats(hb);
	return sa.streams_opened == sa.streams_closed && sb.streams_opened == sb.streams_closed;
}

static void echo_round(struct conn *c, const char *proto, struct nt_stream *x)
{
	nt_stream_open(ha, c, proto, x);
	assert_true(x->opened);
	assert_int_equal(stream_write(x->s, "ping", 4), 4);
	assert_int_equal(stream_close_write(x->s), 0);
	assert_true(nt_run_until(nt_stream_ended, x));
	assert_int_equal(x->close_err, 0);
	assert_int_equal(x->got.len, 4);
	buf_free(&x->got);
}

/* Connections and streams are counted as they are created and freed; a
 * disconnect that ran to the end leaves both hosts balanced. */
static void test_counts_balance_after_disconnect(void **state)
{
	ha = node();
	hb = node();
	struct conn *c = nt_connect(ha, hb);
	struct nt_stream x[3];
	for (int i = 0; i < 3; i++)
		echo_round(c, ECHO, &x[i]);
	/* One refused: a stream is created, negotiated to "na" and freed. */
	struct nt_stream na;
	nt_stream_open(ha, c, "/test/unknown/1.0.0", &na);
	assert_true(na.open_failed);
	assert_int_equal(na.open_err, -ENOPROTOOPT);
	assert_true(nt_run_until(streams_balanced, NULL));
	struct host_stats sa = nt_stats(ha), sb = nt_stats(hb);
	assert_int_equal(sa.conns_opened, 1);
	assert_int_equal(sb.conns_opened, 1);
	assert_int_equal(sa.conns_closed, 0);
	assert_int_equal(sa.streams_opened, 4);
	assert_int_equal(sb.streams_opened, 4);
	assert_int_equal(sa.streams_closed, 4);
	assert_int_equal(sb.streams_closed, 4);
	assert_int_equal(host_disconnect(ha, host_peer_id(hb)), 0);
	assert_true(nt_run_until(both_balanced, NULL));
	sa = nt_stats(ha);
	sb = nt_stats(hb);
	assert_int_equal(sa.conns_closed, 1);
	assert_int_equal(sb.conns_closed, 1);
	assert_int_equal(sa.conns, 0);
	assert_int_equal(sb.streams, 0);
}

static bool failed_and_balanced(void *arg)
{
	return nt_stats(arg).handshake_failures > 0 && balanced(arg);
}

static bool accepted(void *arg)
{
	return nt_stats(arg).inbound_accepted > 0;
}

/* A connection that never finished its upgrade is counted too. */
static void test_counts_failed_handshake(void **state)
{
	hb = node();
	int fd = nt_raw_connect(nt_port_of(hb));
	nt_send_all(fd, "\x13garbage, not mss at all", 24);
	assert_true(nt_run_until(failed_and_balanced, hb));
	struct host_stats st = nt_stats(hb);
	assert_int_equal(st.conns_opened, 1);
	assert_int_equal(st.conns_closed, 1);
	assert_int_equal(st.handshake_failures, 1);
	close(fd);
}

/* Streams still open at shutdown: current > 0 before, balanced after. */
static void test_counts_balance_after_shutdown(void **state)
{
	ha = node();
	hb = node();
	struct conn *c = nt_connect(ha, hb);
	struct nt_stream x[2];
	for (int i = 0; i < 2; i++) {
		nt_stream_open(ha, c, HOLD, &x[i]);
		assert_true(x[i].opened);
	}
	struct host_stats st = nt_stats(ha);
	assert_int_equal(st.streams_opened - st.streams_closed, 2);
	assert_int_equal(st.conns_opened - st.conns_closed, 1);
	host_shutdown(ha, 0);
	assert_true(x[0].closed && x[1].closed);
	assert_int_equal(x[0].close_err, -ECONNABORTED);
	st = nt_stats(ha);
	assert_int_equal(st.conns_opened, st.conns_closed);
	assert_int_equal(st.streams_opened, st.streams_closed);
	assert_int_equal(st.streams_opened, 2);
	/* Idempotent; host_free() after it is all that is left. */
	host_shutdown(ha, 0);
	assert_int_equal(host_socket_count(ha), 0);
	buf_free(&x[0].got);
	buf_free(&x[1].got);
	assert_true(nt_run_until(balanced, hb));
}

/* ---- a raw peer that completes the upgrade by hand ---- */

struct raw {
	int fd;
	struct buf in;
	struct mss *mss;
	struct noise *noise;
	struct privkey key;
	bool eof;
};

static void raw_pull(struct raw *r)
{
	uint8_t tmp[65536];
	ssize_t n;
	while ((n = recv(r->fd, tmp, sizeof(tmp), MSG_DONTWAIT)) > 0)
		assert_int_equal(buf_append(&r->in, tmp, (size_t)n), 0);
	if (n == 0 || (n < 0 && errno != EAGAIN))
		r->eof = true;
}

static void raw_send_output(struct raw *r)
{
	const uint8_t *p;
	size_t len;
	if (r->mss) {
		mss_pending_output(r->mss, &p, &len);
		nt_send_all(r->fd, p, len);
		mss_output_consumed(r->mss, len);
	}
	noise_pending_output(r->noise, &p, &len);
	nt_send_all(r->fd, p, len);
	noise_output_consumed(r->noise, len);
}

static bool raw_step(void *arg)
{
	struct raw *r = arg;
	raw_pull(r);
	if (r->mss && r->in.len) {
		assert_int_equal(mss_feed(r->mss, r->in.data, r->in.len), 0);
		buf_reset(&r->in);
		if (mss_state(r->mss) == MSS_DONE) {
			const uint8_t *p;
			size_t len;
			mss_leftover(r->mss, &p, &len);
			assert_int_equal(buf_append(&r->in, p, len), 0);
			r->mss = mss_free(r->mss);
		}
	}
	if (!r->mss && r->in.len && noise_state(r->noise) == NOISE_HANDSHAKING) {
		long n = noise_feed(r->noise, r->in.data, r->in.len);
		assert_true(n >= 0);
		buf_consume(&r->in, (size_t)n);
	}
	return r->eof || noise_state(r->noise) == NOISE_DONE;
}

struct obs {
	unsigned up, down;
	int last_err;
};

static void obs_up(struct host *h, struct conn *c, void *ctx)
{
	((struct obs *)ctx)->up++;
}

static void obs_down(struct host *h, const struct conn_info *ci, int err, void *ctx)
{
	struct obs *o = ctx;
	o->down++;
	o->last_err = err;
}

static bool obs_is_up(void *arg)
{
	return ((struct obs *)arg)->up > 0;
}

static bool obs_is_down(void *arg)
{
	return ((struct obs *)arg)->down > 0;
}

/* Dial h by hand: mss, Noise XX with yamux agreed inside it, then OPEN. */
static void raw_upgrade(struct raw *r, struct host *h, struct obs *o)
{
	memset(r, 0, sizeof(*r));
	assert_int_equal(privkey_generate(&r->key), 0);
	r->fd = nt_raw_connect(nt_port_of(h));
	const char *noise_id = NOISE_PROTOCOL_ID;
	const char *yamux_id = YAMUX_PROTOCOL_ID;
	assert_int_equal(mss_initiator_new(&noise_id, 1, true, &r->mss), 0);
	struct noise_config cfg = {.role = NOISE_INITIATOR,
	                           .identity = &r->key,
	                           .expected_peer = host_peer_id(h),
	                           .muxers = &yamux_id,
	                           .n_muxers = 1};
	assert_int_equal(noise_new(&cfg, &r->noise), 0);
	raw_send_output(r);
	assert_true(nt_run_until(raw_step, r));
	assert_false(r->eof);
	assert_string_equal(noise_muxer(r->noise), YAMUX_PROTOCOL_ID);
	raw_send_output(r); /* message 3 */
	assert_true(nt_run_until(obs_is_up, o));
}

static void raw_free(struct raw *r)
{
	if (r->fd >= 0)
		close(r->fd);
	buf_free(&r->in);
	mss_free(r->mss);
	noise_free(r->noise);
	privkey_wipe(&r->key);
}

static void send_yamux(struct raw *r, const struct yamux_header *h)
{
	uint8_t hdr[YAMUX_HEADER_SIZE];
	yamux_header_encode(h, hdr);
	struct buf ct = BUF_INIT;
	assert_int_equal(noise_encrypt(r->noise, hdr, sizeof(hdr), &ct), 0);
	nt_send_all(r->fd, ct.data, ct.len);
	buf_free(&ct);
}

static struct obs *observe(struct host *h, struct obs *o, struct host_observer *ob)
{
	memset(o, 0, sizeof(*o));
	*ob = (struct host_observer){obs_up, obs_down, o};
	assert_int_equal(host_add_observer(h, ob), 0);
	return o;
}

/* ---- how a peer's close is reported ---- */

/* A clean FIN without GoAway (as js-libp2p closes): "closed by the peer",
 * told apart from a reset. */
static void test_peer_fin_without_goaway(void **state)
{
	hb = node();
	struct obs o;
	struct host_observer ob;
	observe(hb, &o, &ob);
	struct raw r;
	raw_upgrade(&r, hb, &o);
	assert_int_equal(shutdown(r.fd, SHUT_WR), 0);
	assert_true(nt_run_until(obs_is_down, &o));
	assert_int_equal(o.last_err, -ESHUTDOWN);
	raw_free(&r);
	host_remove_observer(hb, &ob);
}

/* GoAway(0) first, then FIN: an orderly close. */
static void test_peer_goaway_then_fin(void **state)
{
	hb = node();
	struct obs o;
	struct host_observer ob;
	observe(hb, &o, &ob);
	struct raw r;
	raw_upgrade(&r, hb, &o);
	send_yamux(&r, &(struct yamux_header){.type = YAMUX_TYPE_GO_AWAY,
	                                      .length = YAMUX_GOAWAY_NORMAL});
	assert_int_equal(shutdown(r.fd, SHUT_WR), 0);
	assert_true(nt_run_until(obs_is_down, &o));
	assert_int_equal(o.last_err, 0);
	raw_free(&r);
	host_remove_observer(hb, &ob);
}

/* A real reset (RST on the wire) stays "reset". */
static void test_peer_reset(void **state)
{
	hb = node();
	struct obs o;
	struct host_observer ob;
	observe(hb, &o, &ob);
	struct raw r;
	raw_upgrade(&r, hb, &o);
	struct linger lg = {.l_onoff = 1, .l_linger = 0};
	assert_int_equal(setsockopt(r.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
	close(r.fd);
	r.fd = -1;
	assert_true(nt_run_until(obs_is_down, &o));
	assert_int_equal(o.last_err, -ECONNRESET);
	raw_free(&r);
	host_remove_observer(hb, &ob);
}

/* ---- lingering close at shutdown ---- */

/* A peer that keeps sending until it sees our FIN, then closes its side and
 * reads until the end; it notes any reset or failed write. */
struct sender {
	int fd;
	int ready[2]; /* the thread writes a byte once it has sent enough */
	bool got_fin, reset;
	size_t sent;
	pthread_t thread;
};

/* Enough unread bytes at the host that a close without draining resets. */
#define SENDER_READY_BYTES (128 * 1024)

static void *sender_run(void *arg)
{
	struct sender *s = arg;
	static const uint8_t chunk[16384];
	uint64_t give_up = mono_ms() + 10000;
	while (!s->got_fin && !s->reset && mono_ms() < give_up) {
		struct pollfd p = {.fd = s->fd, .events = POLLIN | POLLOUT};
		if (poll(&p, 1, 100) <= 0)
			continue;
		if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
			uint8_t tmp[4096];
			ssize_t n = recv(s->fd, tmp, sizeof(tmp), MSG_DONTWAIT);
			if (n == 0)
				s->got_fin = true;
			else if (n < 0 && errno != EAGAIN && errno != EINTR)
				s->reset = true;
			continue;
		}
		ssize_t n = send(s->fd, chunk, sizeof(chunk), MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			bool was_ready = s->sent >= SENDER_READY_BYTES;
			s->sent += (size_t)n;
			if (!was_ready && s->sent >= SENDER_READY_BYTES)
				assert_int_equal(write(s->ready[1], "r", 1), 1);
		} else if (n < 0 && errno != EAGAIN && errno != EINTR) {
			s->reset = true;
		}
	}
	/* Our FIN; the host closes after it. */
	shutdown(s->fd, SHUT_WR);
	return NULL;
}

/* After the host closed: did a reset reach the sender at any point? Once
 * the FIN was read, a later RST shows only as the socket's error (EPIPE in
 * CLOSE_WAIT, ECONNRESET otherwise). */
static bool sender_was_reset(struct sender *s, bool expect)
{
	if (s->reset)
		return true;
	struct pollfd p = {.fd = s->fd, .events = 0};
	if (expect)
		poll(&p, 1, 2000); /* POLLERR once the RST is in */
	int err = 0;
	socklen_t len = sizeof(err);
	assert_int_equal(getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len), 0);
	return err != 0;
}

/* Connect a sender to hb and let hb accept it (and start its upgrade). */
static void sender_start(struct sender *s)
{
	memset(s, 0, sizeof(*s));
	assert_int_equal(pipe(s->ready), 0);
	s->fd = nt_raw_connect(nt_port_of(hb));
	assert_true(nt_run_until(accepted, hb));
	/* hb's loop does not run again: what the thread sends stays unread. */
	assert_int_equal(pthread_create(&s->thread, NULL, sender_run, s), 0);
	struct pollfd p = {.fd = s->ready[0], .events = POLLIN};
	assert_int_equal(poll(&p, 1, 10000), 1);
}

static void sender_free(struct sender *s)
{
	close(s->fd);
	close(s->ready[0]);
	close(s->ready[1]);
}

/* The peer is still sending when we stop: it gets our FIN, finishes, and
 * never sees a reset. */
static void test_shutdown_lingers_for_sender(void **state)
{
	hb = node();
	struct sender s;
	sender_start(&s);
	uint64_t t0 = mono_ms();
	host_shutdown(hb, 2000);
	uint64_t took = mono_ms() - t0;
	assert_int_equal(pthread_join(s.thread, NULL), 0);
	assert_true(s.got_fin);
	assert_false(sender_was_reset(&s, false));
	assert_true(took < 2000); /* the peer's FIN ended the wait */
	assert_int_equal(host_socket_count(hb), 0);
	sender_free(&s);
}

/* The contrast: closing at once while the peer sends resets it. */
static void test_shutdown_without_linger_resets(void **state)
{
	hb = node();
	struct sender s;
	sender_start(&s);
	host_shutdown(hb, 0);
	assert_int_equal(pthread_join(s.thread, NULL), 0);
	assert_true(sender_was_reset(&s, true));
	sender_free(&s);
}

/* A peer that never closes cannot hold the shutdown past its bound. */
static void test_shutdown_linger_is_bounded(void **state)
{
	hb = node();
	int fd = nt_raw_connect(nt_port_of(hb));
	assert_true(nt_run_until(accepted, hb));
	uint64_t t0 = mono_ms();
	host_shutdown(hb, 300);
	uint64_t took = mono_ms() - t0;
	assert_true(took >= 250);
	assert_true(took < 1500);
	assert_int_equal(host_socket_count(hb), 0);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_counts_balance_after_disconnect, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_counts_failed_handshake, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_counts_balance_after_shutdown, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_peer_fin_without_goaway, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_peer_goaway_then_fin, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_peer_reset, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_shutdown_lingers_for_sender, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_shutdown_without_linger_resets, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_shutdown_linger_is_bounded, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
