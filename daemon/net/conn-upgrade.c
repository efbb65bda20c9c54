/* The byte pipeline of one connection, input and output, through the
 * upgrade layers:
 *
 *   socket -> mss "/noise" -> Noise XX -> [mss "/yamux/1.0.0"] -> yamux
 *
 * The dialer is the mss initiator, the Noise initiator and the yamux client.
 * Noise checks the remote peer ID against the dialed /p2p/ and may agree on
 * the muxer inside the handshake (both offer "/yamux/1.0.0"); otherwise
 * multistream-select picks it inside the encrypted channel.
 *
 * Optimistic security (dialer): "/noise" is the only protocol we ever
 * propose, so the dialer does not wait for the echo: the mss header, the
 * "/noise" proposal and Noise message 1 leave in one write (mss "lazy"
 * mode). The listener's header and echo are still read and checked (an
 * "na" fails the dial) and whatever follows them is message 2. That saves
 * one round trip per dial; go and rust dialers do the same, so listeners
 * (ours included) take message 1 right behind the proposal.
 *
 * Leftover bytes: every layer hands what follows its last message to the
 * next one without a copy. mss is fed what the buffer shows and only the part
 * up to its final message is consumed; noise_feed() stops at the end of the
 * handshake by itself.
 *
 * Backpressure: ciphertext is decrypted only while fewer than
 * CONN_PT_LOW_WATER decrypted bytes wait for the muxer. yamux_feed() takes
 * less than offered when its output or event queue is full; then nothing
 * more is decrypted, the socket is paused, and reading resumes only after the
 * socket drained (on_drained -> conn_flush -> conn_process). Output moves
 * from yamux to the socket only while the socket queue is under
 * max_buffered_per_conn; past that, yamux itself stops accepting writes. */
#include "net-internal.h"

#include <errno.h>
#include <string.h>

#include "log.h"

/* Steps per conn_process() call before yielding to other connections. */
#define CONN_PROCESS_STEPS 64

static const char *const noise_ids[] = {NOISE_PROTOCOL_ID};
static const char *const yamux_ids[] = {YAMUX_PROTOCOL_ID};

/* ---- output ---- */

static int send_raw(struct conn *c, const uint8_t *p, size_t len)
{
	return len ? tcp_sock_write(c->sock, p, len) : 0;
}

struct seal {
	struct noise *noise;
	const uint8_t *p;
	size_t len;
};

static int seal_into(struct buf *out, void *arg)
{
	struct seal *a = arg;
	return noise_encrypt(a->noise, a->p, a->len, out);
}

/* Noise seals straight into the socket's send queue: no copy of the
 * ciphertext (a whole copy of every byte sent, before). */
int conn_send_encrypted(struct conn *c, const uint8_t *p, size_t len)
{
	if (len == 0)
		return 0;
	struct seal a = {c->noise, p, len};
	return tcp_sock_write_fill(c->sock, seal_into, &a);
}

/* mss output: raw while negotiating security, encrypted after Noise. */
static int send_mss(struct conn *c)
{
	const uint8_t *p;
	size_t len;
	mss_pending_output(c->mss, &p, &len);
	int r = c->state == CONN_SECURITY ? send_raw(c, p, len) : conn_send_encrypted(c, p, len);
	if (r == 0)
		mss_output_consumed(c->mss, len);
	return r;
}

static int send_noise_handshake(struct conn *c)
{
	const uint8_t *p;
	size_t len;
	noise_pending_output(c->noise, &p, &len);
	int r = send_raw(c, p, len);
	if (r == 0)
		noise_output_consumed(c->noise, len);
	return r;
}

static int flush_yamux(struct conn *c)
{
	size_t cap = c->h->lim.max_buffered_per_conn;
	while (tcp_sock_tx_pending(c->sock) < cap) {
		const uint8_t *p;
		size_t len;
		yamux_pending_output(c->ymx, &p, &len);
		if (len == 0)
			break;
		size_t room = cap - tcp_sock_tx_pending(c->sock);
		size_t take = len < CONN_ENCRYPT_CHUNK ? len : CONN_ENCRYPT_CHUNK;
		take = take < room ? take : room;
		int r = conn_send_encrypted(c, p, take);
		if (r < 0)
			return r;
		yamux_output_consumed(c->ymx, take);
	}
	/* Output moved: blocked writers may have been woken. */
	conn_drain_events(c);
	return 0;
}

void conn_flush(struct conn *c)
{
	if (c->state == CONN_DEAD || c->state == CONN_CONNECTING || !c->sock)
		return;
	int r = 0;
	/* The raw proposal goes first: an optimistic dialer's Noise message 1
	 * follows it in the same write. */
	if (c->mss && c->state == CONN_SECURITY)
		r = send_mss(c);
	if (r == 0 && c->noise)
		r = send_noise_handshake(c);
	if (r == 0 && c->mss && c->state == CONN_MUXER)
		r = send_mss(c);
	if (r == 0 && c->state == CONN_OPEN)
		r = flush_yamux(c);
	if (r < 0)
		conn_fail(c, r, "sending: %s", strerror(-r));
}

/* ---- decrypted bytes waiting for mss / yamux ---- */

static size_t pt_len(const struct conn *c)
{
	return c->pt.len - c->pt_off;
}

static const uint8_t *pt_data(const struct conn *c)
{
	return c->pt.data ? c->pt.data + c->pt_off : NULL;
}

static void pt_consume(struct conn *c, size_t n)
{
	c->pt_off += n;
	if (c->pt_off == c->pt.len) {
		buf_reset(&c->pt);
		c->pt_off = 0;
	}
}

/* ---- layer transitions ---- */

static int new_noise(struct conn *c)
{
	struct noise_config cfg = {
	        .role = c->dir == CONN_OUTBOUND ? NOISE_INITIATOR : NOISE_RESPONDER,
	        .identity = &c->h->key,
	        .expected_peer = c->has_expected ? &c->expected : NULL,
	        .muxers = yamux_ids,
	        .n_muxers = 1,
	};
	return noise_new(&cfg, &c->noise);
}

/* The dialer proposes "/noise" lazily and starts Noise at once (message 1
 * queued behind the proposal); the listener waits for the proposal. */
int conn_upgrade_start(struct conn *c)
{
	bool out = c->dir == CONN_OUTBOUND;
	int r = out ? mss_initiator_new(noise_ids, 1, true, &c->mss)
	            : mss_listener_new(noise_ids, 1, &c->mss);
	if (r == 0 && out)
		r = new_noise(c);
	if (r < 0)
		return r;
	conn_enter_state(c, CONN_SECURITY, "connected");
	conn_flush(c);
	return 0;
}

static int start_noise(struct conn *c)
{
	int r = new_noise(c);
	if (r < 0) {
		conn_fail(c, r, "noise: cannot start the handshake");
		return r;
	}
	conn_enter_state(c, CONN_HANDSHAKE, "/noise selected");
	return 0;
}

static int start_yamux(struct conn *c)
{
	struct yamux_config cfg;
	yamux_config_default(&cfg);
	/* The stream layer enforces max_streams_per_conn (both directions
	 * together, counted in refused_limit); yamux's own caps are only a
	 * backstop above it, or it would refuse first without counting. */
	cfg.max_inbound_streams = 2 * c->h->lim.max_streams_per_conn;
	cfg.max_outbound_streams = 2 * c->h->lim.max_streams_per_conn;
	enum yamux_role role = c->dir == CONN_OUTBOUND ? YAMUX_CLIENT : YAMUX_SERVER;
	int r = yamux_session_new(role, &cfg, &c->ymx);
	if (r < 0) {
		conn_fail(c, r, "yamux: cannot start the session");
		return r;
	}
	conn_established(c);
	return 0;
}

static int start_muxer(struct conn *c)
{
	c->peer = *noise_remote_peer(c->noise);
	if (peerid_equal(&c->peer, &c->h->id)) {
		conn_fail(c, -EINVAL, "the remote peer is ourselves");
		return -EINVAL;
	}
	const char *agreed = noise_muxer(c->noise);
	if (agreed && strcmp(agreed, YAMUX_PROTOCOL_ID) == 0) {
		conn_enter_state(c, CONN_MUXER, "yamux agreed inside Noise");
		return start_yamux(c);
	}
	int r = c->dir == CONN_OUTBOUND ? mss_initiator_new(yamux_ids, 1, false, &c->mss)
	                                : mss_listener_new(yamux_ids, 1, &c->mss);
	if (r < 0) {
		conn_fail(c, r, "out of memory");
		return r;
	}
	conn_enter_state(c, CONN_MUXER, "noise done");
	return 0;
}

/* ---- input steps, one per state ---- */

/* Feed mss; consume only up to its final message. Returns bytes used. */
static long feed_mss(struct conn *c, const uint8_t *p, size_t len)
{
	int r = mss_feed(c->mss, p, len);
	if (r < 0)
		return r;
	if (mss_state(c->mss) != MSS_DONE)
		return (long)len;
	const uint8_t *rest;
	size_t rest_len;
	mss_leftover(c->mss, &rest, &rest_len);
	return (long)(len - rest_len);
}

static int step_security(struct conn *c, bool *progress)
{
	const uint8_t *p;
	size_t len;
	tcp_sock_peek(c->sock, &p, &len);
	if (len == 0)
		return 0;
	long used = feed_mss(c, p, len);
	if (used < 0) {
		if (used == -ENOPROTOOPT)
			conn_fail(c, -ENOPROTOOPT,
			          "security negotiation: the peer refused " NOISE_PROTOCOL_ID
			          ", the only security protocol we speak");
		else
			conn_fail(c, (int)used, "security negotiation: %s", mss_error(c->mss));
		return (int)used;
	}
	tcp_sock_consume(c->sock, (size_t)used);
	*progress = true;
	if (mss_state(c->mss) != MSS_DONE)
		return 0;
	if (c->noise) {
		/* Optimistic dialer: message 1 is out already; what follows
		 * the echo (still in the socket buffer) is message 2. */
		c->mss = mss_free(c->mss);
		conn_enter_state(c, CONN_HANDSHAKE, "/noise confirmed");
		return 0;
	}
	/* The listener's echo goes out before Noise's first message. */
	int r = send_mss(c);
	c->mss = mss_free(c->mss);
	return r < 0 ? r : start_noise(c);
}

static int step_handshake(struct conn *c, bool *progress)
{
	const uint8_t *p;
	size_t len;
	tcp_sock_peek(c->sock, &p, &len);
	if (len == 0)
		return 0;
	long n = noise_feed(c->noise, p, len);
	if (n < 0) {
		conn_fail(c, (int)n, "%s", noise_error(c->noise));
		return (int)n;
	}
	tcp_sock_consume(c->sock, (size_t)n);
	*progress = n > 0;
	if (noise_state(c->noise) != NOISE_DONE)
		return 0;
	/* Message 3 (initiator) precedes anything encrypted. */
	int r = send_noise_handshake(c);
	return r < 0 ? r : start_muxer(c);
}

static int decrypt_more(struct conn *c, bool *progress)
{
	if (pt_len(c) >= CONN_PT_LOW_WATER)
		return 0;
	const uint8_t *p;
	size_t len;
	tcp_sock_peek(c->sock, &p, &len);
	if (len == 0)
		return 0;
	size_t take = len < CONN_DECRYPT_CHUNK ? len : CONN_DECRYPT_CHUNK;
	int r = noise_decrypt(c->noise, p, take, &c->pt);
	if (r < 0) {
		conn_fail(c, r, "%s", noise_error(c->noise));
		return r;
	}
	tcp_sock_consume(c->sock, take);
	*progress = true;
	return 0;
}

static int step_muxer(struct conn *c, bool *progress)
{
	int r = decrypt_more(c, progress);
	if (r < 0 || pt_len(c) == 0)
		return r;
	long used = feed_mss(c, pt_data(c), pt_len(c));
	if (used < 0) {
		conn_fail(c, (int)used, "muxer negotiation: %s", mss_error(c->mss));
		return (int)used;
	}
	pt_consume(c, (size_t)used);
	*progress = true;
	if (mss_state(c->mss) != MSS_DONE)
		return 0;
	r = send_mss(c);
	c->mss = mss_free(c->mss);
	return r < 0 ? r : start_yamux(c);
}

static int step_open(struct conn *c, bool *progress)
{
	int r = decrypt_more(c, progress);
	if (r < 0 || pt_len(c) == 0)
		return r;
	long n = yamux_feed(c->ymx, pt_data(c), pt_len(c), mono_ms());
	if (n > 0) {
		pt_consume(c, (size_t)n);
		*progress = true;
	}
	/* A failed session queued its GoAway and SESSION_ERROR: the event
	 * ends the connection with the reason. */
	conn_drain_events(c);
	if (n < 0 && c->state != CONN_DEAD)
		conn_fail(c, (int)n, "%s", yamux_error(c->ymx));
	return n < 0 ? (int)n : 0;
}

static int step(struct conn *c, bool *progress)
{
	switch (c->state) {
	case CONN_SECURITY:
		return step_security(c, progress);
	case CONN_HANDSHAKE:
		return step_handshake(c, progress);
	case CONN_MUXER:
		return step_muxer(c, progress);
	case CONN_OPEN:
		return step_open(c, progress);
	default:
		return 0;
	}
}

/* Unfed bytes anywhere below the muxer: stop reading until they move. */
static void apply_backpressure(struct conn *c)
{
	const uint8_t *p;
	size_t len;
	tcp_sock_peek(c->sock, &p, &len);
	if (len > 0 || pt_len(c) > 0)
		tcp_sock_pause(c->sock);
	else
		tcp_sock_resume(c->sock);
}

static void process_round(struct conn *c)
{
	for (int i = 0; i < CONN_PROCESS_STEPS; i++) {
		bool progress = false;
		step(c, &progress);
		if (c->state == CONN_DEAD)
			return;
		conn_flush(c);
		if (c->state == CONN_DEAD || !progress)
			return;
	}
	/* Still busy: let other connections run, continue from the loop. */
	conn_schedule(c, CONN_DEFER_FLUSH);
}

void conn_process(struct conn *c)
{
	if (c->state == CONN_DEAD || c->state == CONN_CONNECTING)
		return;
	if (c->processing) {
		c->reprocess = true;
		return;
	}
	c->processing = true;
	do {
		c->reprocess = false;
		process_round(c);
	} while (c->reprocess && c->state != CONN_DEAD);
	c->processing = false;
	if (c->state != CONN_DEAD)
		apply_backpressure(c);
}
