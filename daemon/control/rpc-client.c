/* One local client connection: reads bytes into the line framer, hands each
 * line to the dispatcher, queues answers, and enforces the per-client caps.
 * A client that sends an over-long line gets one error and is closed; a
 * client whose queued output passes max_pending_out is closed at once, so a
 * client that stops reading costs the daemon a bounded amount of memory and
 * never stalls anyone else.
 *
 * Closing is two-step: rpc_client_close() stops all I/O and kills the calls
 * at once, and the server's reaper frees the struct on a later loop turn. */
#include "rpc-internal.h"

#include <errno.h>
#include <event2/buffer.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/uio.h>

/* Bytes moved from libevent's input buffer into the framer per step. */
#define RPC_READ_CHUNK 16384
/* Buffer segments written by the last-gasp flush at shutdown. */
#define RPC_FLUSH_IOV 16

static void client_oversize(struct rpc_client *c)
{
	struct rpc_server *s = c->server;
	s->stats.dropped_oversize++;
	json_t *e = jsonrpc_error_newf(NULL, JSONRPC_INVALID_REQUEST,
	                               "Invalid Request: request too large (%zu bytes, limit %zu); "
	                               "closing the connection",
	                               jsonrpc_framer_buffered(&c->framer), s->cfg.max_request);
	if (e)
		rpc_client_send(c, e);
	json_decref(e);
	rpc_client_drain_close(c);
}

static bool client_reading(const struct rpc_client *c)
{
	return !c->closed && !c->draining;
}

static void client_pop_lines(struct rpc_client *c)
{
	const char *line;
	size_t len;
	int r = 0;
	while (client_reading(c) && (r = jsonrpc_framer_pop(&c->framer, &line, &len)) > 0)
		rpc_dispatch_line(c, line, len);
	if (r == -EMSGSIZE && client_reading(c))
		client_oversize(c);
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct rpc_client *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	char chunk[RPC_READ_CHUNK];
	while (client_reading(c)) {
		int n = evbuffer_remove(in, chunk, sizeof(chunk));
		if (n <= 0)
			break;
		if (jsonrpc_framer_feed(&c->framer, chunk, (size_t)n) < 0) {
			rpc_client_close(c);
			break;
		}
		client_pop_lines(c);
	}
}

static void on_write(struct bufferevent *bev, void *arg)
{
	struct rpc_client *c = arg;
	if (c->draining)
		rpc_client_close(c);
}

/* A client that closed may still have requests in the socket: libevent
 * reports a failed write (EPIPE, or ECONNRESET when the client left answers
 * unread) before reading what came ahead of the close. Those requests were
 * sent (a messages.ack, say): run them before closing; their answers go
 * nowhere. */
static void read_what_is_left(struct rpc_client *c)
{
	evutil_socket_t fd = bufferevent_getfd(c->bev);
	char chunk[RPC_READ_CHUNK];
	on_read(c->bev, c); /* what libevent already holds */
	while (fd >= 0 && client_reading(c)) {
		ssize_t n = recv(fd, chunk, sizeof(chunk), MSG_DONTWAIT);
		if (n <= 0)
			break;
		if (jsonrpc_framer_feed(&c->framer, chunk, (size_t)n) < 0)
			break;
		client_pop_lines(c);
	}
}

/* EOF: the client will send nothing more. Answers already queued are
 * flushed; calls still running are dropped (a client that wants them keeps
 * the connection open). */
static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct rpc_client *c = arg;
	if ((what & BEV_EVENT_EOF) && !(what & (BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT))) {
		rpc_client_drain_close(c);
		return;
	}
	if (what & BEV_EVENT_ERROR)
		read_what_is_left(c);
	rpc_client_close(c);
}

int rpc_client_new(struct rpc_server *s, struct bufferevent *bev, const struct rpc_peer *peer,
                   struct rpc_client **ret)
{
	struct rpc_client *c = calloc(1, sizeof(*c));
	if (!c) {
		bufferevent_free(bev);
		return -ENOMEM;
	}
	c->server = s;
	c->bev = bev;
	c->peer = *peer;
	jsonrpc_framer_init(&c->framer, s->cfg.max_request);
	LIST_INIT(&c->calls);
	LIST_INSERT_HEAD(&s->clients, c, link);
	s->stats.clients++;
	s->stats.accepted++;
	bufferevent_setcb(bev, on_read, on_write, on_event, c);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	*ret = c;
	return 0;
}

void rpc_client_free(struct rpc_client *c)
{
	for (size_t i = 0; i < c->nhooks; i++)
		c->hooks[i].fn(c->hooks[i].userdata, c);
	bufferevent_free(c->bev);
	jsonrpc_framer_free(&c->framer);
	json_decref(c->event_kinds);
	free(c);
}

static int dump_to_evbuffer(const char *s, size_t n, void *out)
{
	return evbuffer_add(out, s, n);
}

/* The cap is checked after queueing: the line that crosses it is what
 * condemns the client, and the whole buffer goes with it. */
static int client_check_cap(struct rpc_client *c, struct evbuffer *out)
{
	if (evbuffer_get_length(out) <= c->server->cfg.max_pending_out)
		return 0;
	c->server->stats.dropped_slow++;
	rpc_client_close(c);
	return -ENOBUFS;
}

int rpc_client_send(struct rpc_client *c, const json_t *msg)
{
	if (!client_reading(c))
		return -EPIPE;
	struct evbuffer *out = bufferevent_get_output(c->bev);
	if (json_dump_callback(msg, dump_to_evbuffer, out, JSON_COMPACT) < 0 ||
	    evbuffer_add(out, "\n", 1) < 0) {
		rpc_client_close(c);
		return -ENOMEM;
	}
	return client_check_cap(c, out);
}

int rpc_client_send_line(struct rpc_client *c, const void *line, size_t len)
{
	if (!client_reading(c))
		return -EPIPE;
	struct evbuffer *out = bufferevent_get_output(c->bev);
	if (evbuffer_add(out, line, len) < 0) {
		rpc_client_close(c);
		return -ENOMEM;
	}
	return client_check_cap(c, out);
}

void rpc_client_drain_close(struct rpc_client *c)
{
	if (!client_reading(c))
		return;
	bufferevent_disable(c->bev, EV_READ);
	rpc_call_detach_all(c);
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0) {
		rpc_client_close(c);
		return;
	}
	c->draining = true;
	struct timeval linger = {RPC_LINGER_SECONDS, 0};
	bufferevent_set_timeouts(c->bev, NULL, &linger);
}

/* The bufferevent keeps its output's start frozen, so send a copy of what
 * is queued (up to RPC_FLUSH_IOV segments) instead of draining it; the
 * client is closed right after anyway. */
void rpc_client_flush(struct rpc_client *c)
{
	evutil_socket_t fd = bufferevent_getfd(c->bev);
	if (fd < 0)
		return;
	struct evbuffer_iovec vec[RPC_FLUSH_IOV];
	int n = evbuffer_peek(bufferevent_get_output(c->bev), -1, NULL, vec, RPC_FLUSH_IOV);
	/* libevent documents evbuffer_iovec as laid out like struct iovec. */
	struct msghdr mh = {.msg_iov = (struct iovec *)vec,
	                    .msg_iovlen = (size_t)(n < RPC_FLUSH_IOV ? n : RPC_FLUSH_IOV)};
	if (n > 0)
		(void)!sendmsg(fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
}

void rpc_client_close(struct rpc_client *c)
{
	if (c->closed)
		return;
	c->closed = true;
	rpc_call_detach_all(c);
	bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	rpc_server_retire(c->server, c);
}

uid_t rpc_client_uid(const struct rpc_client *c)
{
	return c->peer.uid;
}

int rpc_client_on_close(struct rpc_client *c, rpc_client_gone_fn fn, void *userdata)
{
	if (!client_reading(c))
		return -EPIPE;
	if (c->nhooks >= RPC_MAX_CLOSE_HOOKS)
		return -ENOBUFS;
	c->hooks[c->nhooks++] = (struct rpc_close_hook){fn, userdata};
	return 0;
}

void rpc_client_off_close(struct rpc_client *c, rpc_client_gone_fn fn, void *userdata)
{
	for (size_t i = 0; i < c->nhooks; i++) {
		if (c->hooks[i].fn == fn && c->hooks[i].userdata == userdata) {
			c->hooks[i] = c->hooks[--c->nhooks];
			return;
		}
	}
}
