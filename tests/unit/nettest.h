/* Helpers for unit tests of protocols over the libp2p host: hosts in one
 * process on one event_base, real TCP over loopback, and an event-driven
 * wait (the loop runs until a condition holds or a deadline timer fires;
 * nothing sleeps). Header-only (static inline) so each test program stays
 * one source file plus testutil.c. */
#pragma once

#include "testutil.h"

#include <event2/event.h>
#include <stdio.h>
#include <string.h>

#include "net/host.h"

#define NT_DEADLINE_MS 30000

static struct event_base *nt_base;

static inline void nt_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	*(bool *)arg = true;
}

typedef bool (*nt_cond_fn)(void *arg);

/* Run the loop until cond holds or ms pass; returns cond's final value. */
static inline bool nt_run_until_ms(nt_cond_fn cond, void *arg, uint32_t ms)
{
	bool expired = false;
	struct event *t = evtimer_new(nt_base, nt_deadline_cb, &expired);
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	evtimer_add(t, &tv);
	while (!cond(arg) && !expired)
		event_base_loop(nt_base, EVLOOP_ONCE);
	event_free(t);
	return cond(arg);
}

static inline bool nt_run_until(nt_cond_fn cond, void *arg)
{
	return nt_run_until_ms(cond, arg, NT_DEADLINE_MS);
}

static inline bool nt_flag(void *arg)
{
	return *(bool *)arg;
}

static inline bool nt_never(void *arg)
{
	return false;
}

/* Turn the loop for ms (deferred callbacks, in-flight bytes) without a
 * condition: used only to show that something does NOT happen. */
static inline void nt_run_for(uint32_t ms)
{
	nt_run_until_ms(nt_never, NULL, ms);
}

/* A host listening on 127.0.0.1 with a fresh key. */
static inline struct host *nt_host_new(const char *agent)
{
	struct privkey key;
	assert_int_equal(privkey_generate(&key), 0);
	struct multiaddr ma;
	assert_int_equal(multiaddr_parse("/ip4/127.0.0.1/tcp/0", &ma, NULL), 0);
	struct host_config cfg = {
	        .key = &key, .agent_version = agent, .listen = &ma, .n_listen = 1};
	struct host *h;
	struct errmsg err;
	if (host_new(nt_base, &cfg, &h, &err) < 0)
		fail_msg("host_new: %s", err.text);
	multiaddr_free(&ma);
	privkey_wipe(&key);
	return h;
}

/* h's listen address with /p2p/<id>. */
static inline struct multiaddr nt_addr_of(struct host *h)
{
	const struct multiaddr *v;
	assert_int_equal(host_listen_addrs(h, &v), 1);
	struct multiaddr ma;
	assert_int_equal(multiaddr_copy(&v[0], &ma), 0);
	assert_int_equal(multiaddr_append_p2p(&ma, host_peer_id(h)), 0);
	return ma;
}

struct nt_dial {
	bool done;
	struct conn *c;
	int err;
	char msg[1024];
};

static inline void nt_dial_cb(struct host *h, struct conn *c, int err, const char *msg, void *ctx)
{
	struct nt_dial *r = ctx;
	r->done = true;
	r->c = c;
	r->err = err;
	snprintf(r->msg, sizeof(r->msg), "%s", msg ? msg : "");
}

/* Dial to from from and wait for the connection (failing the test if the
 * dial fails). */
static inline struct conn *nt_connect(struct host *from, struct host *to)
{
	struct multiaddr ma = nt_addr_of(to);
	struct nt_dial r = {0};
	assert_int_equal(host_dial(from, &ma, 0, nt_dial_cb, &r), 0);
	multiaddr_free(&ma);
	assert_true(nt_run_until(nt_flag, &r.done));
	if (r.err)
		fail_msg("dial failed: %d %s", r.err, r.msg);
	assert_non_null(r.c);
	return r.c;
}

/* An outbound stream opened and held by the test. */
struct nt_stream {
	struct stream *s;
	bool opened, open_failed, eof, closed;
	int open_err, close_err;
	struct buf got;
};

static inline void nt_stream_data(struct stream *s, void *ctx)
{
	struct nt_stream *x = ctx;
	const uint8_t *p;
	size_t len;
	stream_peek(s, &p, &len);
	assert_int_equal(buf_append(&x->got, p, len), 0);
	stream_consume(s, len);
}

static inline void nt_stream_eof(struct stream *s, void *ctx)
{
	((struct nt_stream *)ctx)->eof = true;
}

static inline void nt_stream_closed(struct stream *s, int err, void *ctx)
{
	struct nt_stream *x = ctx;
	x->closed = true;
	x->close_err = err;
	x->s = NULL;
}

static const struct stream_callbacks nt_stream_cbs = {
        .on_data = nt_stream_data,
        .on_eof = nt_stream_eof,
        .on_closed = nt_stream_closed,
};

static inline void nt_stream_opened(struct stream *s, int err, void *ctx)
{
	struct nt_stream *x = ctx;
	if (!s) {
		x->open_failed = true;
		x->open_err = err;
		return;
	}
	x->opened = true;
	x->s = s;
	stream_set_callbacks(s, &nt_stream_cbs, x);
}

static inline bool nt_stream_settled(void *arg)
{
	struct nt_stream *x = arg;
	return x->opened || x->open_failed;
}

static inline bool nt_stream_ended(void *arg)
{
	struct nt_stream *x = arg;
	return x->closed || x->open_failed;
}

/* Open proto on c and wait until negotiated (or refused). */
static inline void nt_stream_open(struct host *h, struct conn *c, const char *proto,
                                  struct nt_stream *x)
{
	memset(x, 0, sizeof(*x));
	assert_int_equal(host_open_stream(h, c, proto, nt_stream_opened, x), 0);
	assert_true(nt_run_until(nt_stream_settled, x));
}

/* ---- an echo server for protocol handlers ---- */

/* Echo every byte back; FIN after the peer's FIN. */
static inline void nt_echo_data(struct stream *s, void *ctx)
{
	const uint8_t *p;
	size_t len;
	stream_peek(s, &p, &len);
	long n = len ? stream_write(s, p, len) : 0;
	if (n > 0)
		stream_consume(s, (size_t)n);
	stream_peek(s, &p, &len);
	if (len == 0 && stream_peer_closed(s))
		stream_close_write(s);
}

static inline void nt_quiet_closed(struct stream *s, int err, void *ctx)
{
}

static const struct stream_callbacks nt_echo_cbs = {
        .on_data = nt_echo_data,
        .on_writable = nt_echo_data,
        .on_eof = nt_echo_data,
        .on_closed = nt_quiet_closed,
};

/* A protocol_handler's on_stream: echo on the new inbound stream. */
static inline void nt_echo_on_stream(struct stream *s, void *ctx)
{
	stream_set_callbacks(s, &nt_echo_cbs, NULL);
}
