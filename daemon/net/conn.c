/* One connection's lifecycle: creation (accepted or dialed), its timers
 * (handshake deadline, yamux keepalive ping, idle), the move to OPEN, and
 * its end (orderly: GoAway then FIN; or failed) followed by the reap once
 * nothing refers to it. The byte pipeline itself is in conn-upgrade.c.
 *
 * States: CONNECTING -> SECURITY -> HANDSHAKE -> MUXER -> OPEN -> DEAD; any
 * state may go to DEAD. conn_enter_state() logs every move at debug level. */
#include "net-internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

static void on_connected(void *ctx);
static void on_readable(void *ctx);
static void on_drained(void *ctx);
static void on_sock_error(void *ctx, int err, const char *what);

static const struct tcp_sock_ops sock_ops = {
        .on_connected = on_connected,
        .on_readable = on_readable,
        .on_drained = on_drained,
        .on_error = on_sock_error,
};

const char *conn_state_name(enum conn_state s)
{
	static const char *const names[] = {
	        [CONN_CONNECTING] = "connecting",
	        [CONN_SECURITY] = "security negotiation",
	        [CONN_HANDSHAKE] = "noise handshake",
	        [CONN_MUXER] = "muxer negotiation",
	        [CONN_OPEN] = "open",
	        [CONN_DEAD] = "closed",
	};
	return names[s];
}

static const char *peer_text(const struct conn *c, char *buf, size_t len)
{
	if (c->state >= CONN_MUXER && peerid_to_string(&c->peer, buf, len) >= 0)
		return buf;
	if (multiaddr_to_string(&c->remote_ma, buf, len) >= 0)
		return buf;
	return "?";
}

void conn_enter_state(struct conn *c, enum conn_state s, const char *why)
{
	char who[MULTIADDR_TEXT_MAX];
	log_debug("conn %s (%s): %s -> %s (%s)", peer_text(c, who, sizeof(who)),
	          c->dir == CONN_OUTBOUND ? "out" : "in", conn_state_name(c->state),
	          conn_state_name(s), why);
	c->state = s;
}

/* ---- deferred work and reaping ---- */

static void conn_free(struct conn *c)
{
	struct host *h = c->h;
	if (c->prev)
		c->prev->next = c->next;
	else
		h->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	for (unsigned i = 0; i < CONN_SLOT_MAX; i++)
		if (c->slots[i].data && c->slots[i].free_fn)
			c->slots[i].free_fn(c->slots[i].data);
	yamux_session_free(c->ymx);
	mss_free(c->mss);
	noise_free(c->noise);
	buf_free(&c->pt);
	multiaddr_free(&c->local_ma);
	multiaddr_free(&c->remote_ma);
	event_free(c->defer);
	event_free(c->hs_timer);
	event_free(c->ping_timer);
	event_free(c->idle_timer);
	h->st.conns_closed++;
	free(c);
}

static bool reapable(const struct conn *c)
{
	return c->state == CONN_DEAD && c->n_streams == 0 && c->refs == 0 &&
	       !(c->defer_flags & (CONN_DEFER_UP | CONN_DEFER_DOWN));
}

void conn_schedule(struct conn *c, unsigned flags)
{
	c->defer_flags |= flags;
	event_active(c->defer, EV_TIMEOUT, 0);
}

static void notify_up(struct conn *c)
{
	struct host *h = c->h;
	c->notified_up = true;
	for (size_t i = 0; i < h->n_obs && c->state == CONN_OPEN; i++)
		if (h->obs[i].on_connected)
			h->obs[i].on_connected(h, c, h->obs[i].ctx);
}

static void notify_down(struct conn *c)
{
	struct host *h = c->h;
	c->notified_up = false;
	for (size_t i = 0; i < h->n_obs; i++)
		if (h->obs[i].on_disconnected)
			h->obs[i].on_disconnected(h, &c->final_info, c->close_err, h->obs[i].ctx);
}

static void defer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	unsigned flags = c->defer_flags;
	c->defer_flags = 0;
	if ((flags & CONN_DEFER_FLUSH) && c->state != CONN_DEAD) {
		conn_flush(c);
		conn_process(c);
	}
	if ((flags & CONN_DEFER_UP) && c->state == CONN_OPEN && !c->draining && !c->notified_up)
		notify_up(c);
	if ((flags & CONN_DEFER_DOWN) && c->notified_up)
		notify_down(c);
	if (reapable(c))
		conn_free(c);
}

void conn_unref(struct conn *c)
{
	c->refs--;
	if (c->state == CONN_DEAD)
		conn_schedule(c, CONN_DEFER_REAP);
}

/* ---- streams come and go ---- */

void conn_stream_added(struct conn *c)
{
	evtimer_del(c->idle_timer);
}

static void arm_idle(struct conn *c)
{
	uint32_t ms = c->h->lim.idle_timeout_ms;
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	evtimer_add(c->idle_timer, &tv);
}

void conn_stream_removed(struct conn *c)
{
	if (c->h->freeing)
		return;
	if (c->state == CONN_DEAD) {
		conn_schedule(c, CONN_DEFER_REAP);
		return;
	}
	if (c->n_streams > 0 || c->state != CONN_OPEN)
		return;
	if (c->draining)
		conn_close(c, "drained: no streams left");
	else
		arm_idle(c);
}

/* ---- the end ---- */

/* Push what the muxer still has (a GoAway) through Noise to the socket,
 * ignoring the output cap: the socket lingers to send it. */
static void flush_final(struct conn *c)
{
	if (!c->ymx || !c->noise || !c->sock)
		return;
	const uint8_t *p;
	size_t len;
	yamux_pending_output(c->ymx, &p, &len);
	conn_send_encrypted(c, p, len);
	yamux_output_consumed(c->ymx, len);
}

static void count_end(struct conn *c, bool was_open, int err)
{
	struct host *h = c->h;
	if (was_open) {
		h->st.conns--;
		return;
	}
	h->st.handshaking--;
	if (c->hs_timed_out)
		h->st.handshake_timeouts++;
	else if (err != -EBUSY)
		h->st.handshake_failures++;
}

static void log_end(struct conn *c, bool was_open, int err)
{
	char who[MULTIADDR_TEXT_MAX];
	peer_text(c, who, sizeof(who));
	if (err == 0)
		log_debug("connection to %s closed: %s", who, c->close_reason);
	else if (was_open)
		log_info("connection to %s dropped: %s", who, c->close_reason);
	else
		log_debug("connection %s %s failed during %s: %s",
		          c->dir == CONN_OUTBOUND ? "to" : "from", who, conn_state_name(c->state),
		          c->close_reason);
}

static void conn_die(struct conn *c, int err, const char *reason)
{
	if (c->state == CONN_DEAD)
		return;
	bool was_open = c->state == CONN_OPEN;
	if (was_open)
		conn_get_info(c, &c->final_info);
	c->close_err = err;
	snprintf(c->close_reason, sizeof(c->close_reason), "%s", reason);
	log_end(c, was_open, err);
	count_end(c, was_open, err);
	evtimer_del(c->hs_timer);
	evtimer_del(c->ping_timer);
	evtimer_del(c->idle_timer);
	flush_final(c);
	if (was_open)
		connmgr_detach(c->h, c);
	conn_enter_state(c, CONN_DEAD, reason);
	tcp_sock_close(c->sock);
	c->sock = NULL;
	for (struct stream *s = c->streams; s; s = s->next)
		stream_notify_closed(s, s->write_closed && s->peer_eof ? 0 : -ECONNABORTED);
	/* Dials still waiting learn the outcome (an orderly end before they
	 * ran counts as success: they get the peer's surviving connection). */
	if (c->waiters)
		dial_conn_done(c, was_open && err == 0 ? 0 : (err ? err : -ECONNABORTED), reason);
	conn_schedule(c, (c->notified_up ? CONN_DEFER_DOWN : 0) | CONN_DEFER_REAP);
}

void conn_fail(struct conn *c, int err, const char *fmt, ...)
{
	char reason[ERRMSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	conn_die(c, err, reason);
}

void conn_close(struct conn *c, const char *reason)
{
	if (c->state == CONN_DEAD)
		return;
	if (c->state != CONN_OPEN) {
		conn_die(c, -ECONNABORTED, reason);
		return;
	}
	yamux_goaway(c->ymx, YAMUX_GOAWAY_NORMAL);
	conn_die(c, 0, reason);
}

void conn_drain(struct conn *c, const char *why)
{
	if (c->state != CONN_OPEN || c->draining)
		return;
	c->draining = true;
	char who[MULTIADDR_TEXT_MAX];
	log_debug("connection to %s draining: %s", peer_text(c, who, sizeof(who)), why);
	yamux_goaway(c->ymx, YAMUX_GOAWAY_NORMAL);
	conn_after_mux(c);
	if (c->n_streams == 0)
		conn_close(c, why);
}

void conn_destroy_now(struct conn *c)
{
	conn_close(c, "host shutting down");
	while (c->streams)
		stream_destroy_now(c->streams, -ECONNABORTED);
	if (c->notified_up)
		notify_down(c);
	conn_free(c);
}

/* ---- the session's events ---- */

static void session_event(struct conn *c, const struct yamux_event *ev)
{
	switch (ev->type) {
	case YAMUX_EV_PING_RTT:
		c->rtt_ms = ev->rtt_ms;
		break;
	case YAMUX_EV_GOAWAY:
		if (ev->code != YAMUX_GOAWAY_NORMAL) {
			conn_fail(c, -ECONNRESET, "peer ended the session (GoAway code %u)",
			          ev->code);
			break;
		}
		/* The peer drains this connection: so do we. */
		c->remote_goaway = true;
		conn_drain(c, "peer sent GoAway");
		break;
	case YAMUX_EV_SESSION_ERROR:
		conn_fail(c, -EPROTO, "%s", ev->reason ? ev->reason : yamux_error(c->ymx));
		break;
	default:
		stream_yamux_event(c, ev);
		break;
	}
}

void conn_drain_events(struct conn *c)
{
	if (c->in_events)
		return;
	c->in_events = true;
	struct yamux_event ev;
	while (c->state == CONN_OPEN && yamux_next_event(c->ymx, &ev) == 0)
		session_event(c, &ev);
	c->in_events = false;
}

void conn_after_mux(struct conn *c)
{
	if (c->state != CONN_OPEN)
		return;
	conn_drain_events(c);
	conn_schedule(c, CONN_DEFER_FLUSH);
}

/* ---- timers ---- */

static void hs_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	c->hs_timed_out = true;
	conn_fail(c, -ETIMEDOUT, "timed out after %u ms during %s", c->hs_timeout_ms,
	          conn_state_name(c->state));
}

/* A ping still unanswered when the next is due means the peer (or the path)
 * is gone: drop the connection instead of waiting for TCP to notice. */
static void ping_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	struct yamux_stats st;
	yamux_get_stats(c->ymx, &st);
	if (st.ping_outstanding) {
		conn_fail(c, -ETIMEDOUT, "no answer to a yamux ping within %u ms",
		          c->h->lim.ping_interval_ms);
		return;
	}
	yamux_ping(c->ymx, mono_ms());
	conn_after_mux(c);
}

static void idle_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	if (c->state == CONN_OPEN && c->n_streams == 0)
		conn_close(c, "idle");
}

/* ---- creation ---- */

static struct conn *conn_alloc(struct host *h, enum conn_direction dir, uint32_t timeout_ms)
{
	struct conn *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	h->st.conns_opened++; /* conn_free() counts it closed, on every path */
	c->h = h;
	c->dir = dir;
	c->state = CONN_CONNECTING;
	c->hs_timeout_ms = timeout_ms;
	c->defer = event_new(h->base, -1, 0, defer_cb, c);
	c->hs_timer = evtimer_new(h->base, hs_timer_cb, c);
	c->ping_timer = event_new(h->base, -1, EV_PERSIST, ping_timer_cb, c);
	c->idle_timer = evtimer_new(h->base, idle_timer_cb, c);
	if (!c->defer || !c->hs_timer || !c->ping_timer || !c->idle_timer) {
		c->state = CONN_DEAD;
		c->next = h->conns; /* conn_free unlinks: link first */
		if (h->conns)
			h->conns->prev = c;
		h->conns = c;
		conn_free(c);
		return NULL;
	}
	c->next = h->conns;
	if (h->conns)
		h->conns->prev = c;
	h->conns = c;
	h->st.handshaking++;
	struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
	evtimer_add(c->hs_timer, &tv);
	return c;
}

static void take_addrs(struct conn *c)
{
	multiaddr_free(&c->local_ma);
	multiaddr_free(&c->remote_ma);
	tcp_sock_local_addr(c->sock, &c->local_ma);
	tcp_sock_remote_addr(c->sock, &c->remote_ma);
	c->remote_sa = *tcp_sock_remote_sockaddr(c->sock);
}

int conn_accept(struct host *h, int fd, const struct sockaddr_storage *remote)
{
	struct errmsg err;
	if (connmgr_admit_inbound(h, remote, &err) < 0) {
		log_debug("inbound connection refused: %s", err.text);
		close(fd);
		return -EBUSY;
	}
	struct conn *c = conn_alloc(h, CONN_INBOUND, h->lim.handshake_timeout_ms);
	if (!c) {
		close(fd);
		return -ENOMEM;
	}
	c->remote_sa = *remote;
	h->st.inbound_accepted++;
	int r = tcp_adopt(h->tcp, fd, &sock_ops, c, &c->sock);
	if (r < 0) {
		conn_fail(c, r, "cannot take the socket");
		return r;
	}
	tcp_sock_set_stall_timeout(c->sock, h->lim.write_stall_timeout_ms);
	take_addrs(c);
	r = conn_upgrade_start(c);
	if (r < 0)
		conn_fail(c, r, "cannot start the upgrade");
	return r;
}

int conn_dial(struct host *h, const struct multiaddr *ma, const struct peerid *expected,
              uint32_t timeout_ms, struct conn **ret, struct errmsg *err)
{
	int family;
	const uint8_t *addr;
	uint16_t port;
	if (multiaddr_as_tcp(ma, &family, &addr, &port) < 0)
		return errmsg_set(err, -EAFNOSUPPORT,
		                  "only /ip4|ip6/<addr>/tcp/<port>[/p2p/<id>] can be dialed");
	int r = connmgr_admit_dial(h, err);
	if (r < 0)
		return r;
	struct conn *c = conn_alloc(h, CONN_OUTBOUND, timeout_ms);
	if (!c)
		return errmsg_set(err, -ENOMEM, "out of memory");
	if (expected) {
		c->has_expected = true;
		c->expected = *expected;
	}
	if (multiaddr_copy(ma, &c->remote_ma) == 0)
		multiaddr_strip_p2p(&c->remote_ma);
	tcp_sockaddr_fill(family, addr, port, &c->remote_sa, &(socklen_t){0});
	r = tcp_connect(h->tcp, family, addr, port, &sock_ops, c, &c->sock, err);
	if (r < 0) {
		conn_die(c, r, err->text);
		return r;
	}
	tcp_sock_set_stall_timeout(c->sock, h->lim.write_stall_timeout_ms);
	*ret = c;
	return 0;
}

/* The upgrade finished: the connection joins its peer's record. */
void conn_established(struct conn *c)
{
	struct host *h = c->h;
	evtimer_del(c->hs_timer);
	h->st.handshaking--;
	h->st.conns++;
	c->opened_ms = mono_ms();
	conn_enter_state(c, CONN_OPEN, "upgraded");
	struct errmsg err;
	if (connmgr_attach(h, c, &err) < 0) {
		conn_fail(c, -EBUSY, "%s", err.text);
		return;
	}
	if (c->state != CONN_OPEN)
		return; /* lost to an existing connection and already closed */
	yamux_ping(c->ymx, c->opened_ms);
	uint32_t ms = h->lim.ping_interval_ms;
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	event_add(c->ping_timer, &tv);
	if (c->n_streams == 0 && !c->draining)
		arm_idle(c);
	char who[PEERID_TEXT_MAX];
	peerid_to_string(&c->peer, who, sizeof(who));
	log_debug("connected to %s (%s)", who, c->dir == CONN_OUTBOUND ? "outbound" : "inbound");
	dial_conn_done(c, 0, NULL);
	conn_schedule(c, CONN_DEFER_UP | CONN_DEFER_FLUSH);
}

/* ---- socket callbacks ---- */

static void on_connected(void *ctx)
{
	struct conn *c = ctx;
	take_addrs(c);
	int r = conn_upgrade_start(c);
	if (r < 0)
		conn_fail(c, r, "cannot start the upgrade");
}

static void on_readable(void *ctx)
{
	conn_process(ctx);
}

static void on_drained(void *ctx)
{
	struct conn *c = ctx;
	conn_flush(c);
	conn_process(c);
}

static void on_sock_error(void *ctx, int err, const char *what)
{
	struct conn *c = ctx;
	if (c->state == CONN_CONNECTING) {
		conn_fail(c, err, "tcp connect: %s", strerror(-err));
		return;
	}
	if (err == 0 && c->state == CONN_OPEN) {
		/* EOF: orderly if the peer said GoAway first. A clean FIN
		 * without it (js-libp2p closes that way) is the peer closing,
		 * not a reset (a real RST arrives as -ECONNRESET from recv). */
		conn_fail(c, c->remote_goaway ? 0 : -ESHUTDOWN, "%s", what);
		return;
	}
	conn_fail(c, err ? err : -ECONNRESET, "%s%s%s", what, err ? ": " : "",
	          err ? strerror(-err) : "");
}

/* ---- public accessors (host.h) ---- */

void conn_get_info(const struct conn *c, struct conn_info *ret)
{
	if (c->state == CONN_DEAD) {
		*ret = c->final_info;
		return;
	}
	memset(ret, 0, sizeof(*ret));
	ret->peer = c->peer;
	ret->direction = c->dir;
	ret->transport = "tcp";
	if (multiaddr_to_string(&c->local_ma, ret->local_addr, sizeof(ret->local_addr)) < 0)
		ret->local_addr[0] = '\0';
	if (multiaddr_to_string(&c->remote_ma, ret->remote_addr, sizeof(ret->remote_addr)) < 0)
		ret->remote_addr[0] = '\0';
	ret->opened_ms = c->opened_ms;
	ret->streams = c->n_streams;
	ret->rtt_ms = c->rtt_ms;
	if (c->sock) {
		ret->bytes_in = tcp_sock_bytes_in(c->sock);
		ret->bytes_out = tcp_sock_bytes_out(c->sock);
	}
}

const struct peerid *conn_peer(const struct conn *c)
{
	return &c->peer;
}

void conn_set_slot(struct conn *c, unsigned slot, void *data, void (*free_fn)(void *))
{
	if (slot >= CONN_SLOT_MAX)
		return;
	struct conn_slot *s = &c->slots[slot];
	if (s->data && s->free_fn && s->data != data)
		s->free_fn(s->data);
	s->data = data;
	s->free_fn = free_fn;
}

void *conn_get_slot(const struct conn *c, unsigned slot)
{
	return slot < CONN_SLOT_MAX ? c->slots[slot].data : NULL;
}
