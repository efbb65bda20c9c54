/* host_dial(): one request per call, its callback run exactly once from the
 * loop. A dial to a /p2p/ peer we are already connected to reuses that
 * connection; a second dial to a peer whose connection is still being
 * upgraded waits on the same one. A request whose connection lost the
 * simultaneous-dial rule gets the connection that was kept.
 *
 * A request holds a reference on the connection it waits for (conn->refs)
 * so the connection is not reaped before the callback has looked at it. */
#include "net-internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct dial_req {
	struct host *h;
	struct dial_req *prev, *next; /* h->dials */
	struct dial_req *wnext;       /* conn->waiters */
	struct conn *conn;            /* waited for, or the result; referenced */
	bool waiting;
	host_dial_cb cb;
	void *ctx;
	struct event *ev;
	int err;
	char addr[MULTIADDR_TEXT_MAX];
	char msg[ERRMSG_MAX];
};

static void req_free(struct dial_req *req)
{
	struct host *h = req->h;
	if (req->prev)
		req->prev->next = req->next;
	else
		h->dials = req->next;
	if (req->next)
		req->next->prev = req->prev;
	event_free(req->ev);
	free(req);
}

/* The outcome, judged when the callback runs (the connection may have
 * lost the duplicate rule or died since it was recorded). */
static struct conn *outcome(struct dial_req *req)
{
	struct conn *c = req->conn;
	if (req->err < 0 || !c)
		return NULL;
	if (c->state == CONN_OPEN && !c->draining)
		return c;
	struct conn *best = connmgr_best(req->h, &c->peer);
	if (!best) {
		req->err = -ECONNABORTED;
		snprintf(req->msg, sizeof(req->msg),
		         "the connection closed before the dial completed");
	}
	return best;
}

static void req_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dial_req *req = arg;
	struct host *h = req->h;
	struct conn *result = outcome(req);
	if (req->conn)
		conn_unref(req->conn);
	char msg[ERRMSG_MAX + MULTIADDR_TEXT_MAX + 8];
	if (req->err < 0) {
		h->st.dial_failures++;
		snprintf(msg, sizeof(msg), "dial %s: %s", req->addr, req->msg);
	}
	host_dial_cb cb = req->cb;
	void *ctx = req->ctx;
	int err = req->err;
	req_free(req);
	cb(h, result, err, err < 0 ? msg : NULL, ctx);
}

static void resolve(struct dial_req *req, struct conn *c, int err, const char *msg)
{
	if (c && !req->conn) {
		req->conn = c;
		c->refs++;
	}
	req->err = err;
	snprintf(req->msg, sizeof(req->msg), "%s", msg ? msg : "");
	event_active(req->ev, EV_TIMEOUT, 0);
}

static void wait_on(struct dial_req *req, struct conn *c)
{
	req->conn = c;
	c->refs++;
	req->waiting = true;
	req->wnext = c->waiters;
	c->waiters = req;
}

void dial_conn_done(struct conn *c, int err, const char *msg)
{
	while (c->waiters) {
		struct dial_req *req = c->waiters;
		c->waiters = req->wnext;
		req->waiting = false;
		resolve(req, c, err, msg);
	}
}

void dial_cancel_all(struct host *h)
{
	while (h->dials) {
		struct dial_req *req = h->dials;
		host_dial_cb cb = req->cb;
		void *ctx = req->ctx;
		req_free(req);
		cb(h, NULL, -ECANCELED, "the host is shutting down", ctx);
	}
	/* The requests were freed above: no connection waits on them. */
	for (struct conn *c = h->conns; c; c = c->next) {
		c->waiters = NULL;
		c->refs = 0;
	}
}

/* An outbound connection still upgrading towards the same peer. */
static struct conn *pending_to(struct host *h, const struct peerid *peer)
{
	for (struct conn *c = h->conns; c; c = c->next)
		if (c->dir == CONN_OUTBOUND && c->state < CONN_OPEN && c->has_expected &&
		    peerid_equal(&c->expected, peer))
			return c;
	return NULL;
}

static struct dial_req *req_new(struct host *h, const struct multiaddr *ma, host_dial_cb cb,
                                void *ctx)
{
	struct dial_req *req = calloc(1, sizeof(*req));
	if (!req)
		return NULL;
	req->ev = event_new(h->base, -1, 0, req_cb, req);
	if (!req->ev) {
		free(req);
		return NULL;
	}
	req->h = h;
	req->cb = cb;
	req->ctx = ctx;
	if (multiaddr_to_string(ma, req->addr, sizeof(req->addr)) < 0)
		snprintf(req->addr, sizeof(req->addr), "(malformed address)");
	req->next = h->dials;
	if (h->dials)
		h->dials->prev = req;
	h->dials = req;
	return req;
}

int host_dial(struct host *h, const struct multiaddr *ma, uint32_t timeout_ms, host_dial_cb cb,
              void *ctx)
{
	if (!ma || !cb)
		return -EINVAL;
	/* A callback run by host_free() must not start new work. */
	if (h->freeing)
		return -ESHUTDOWN;
	struct dial_req *req = req_new(h, ma, cb, ctx);
	if (!req)
		return -ENOMEM;
	h->st.dials++;
	struct peerid expected;
	bool has_expected = multiaddr_get_p2p(ma, &expected) == 1;
	if (has_expected && peerid_equal(&expected, &h->id)) {
		resolve(req, NULL, -EINVAL, "that is our own peer ID");
		return 0;
	}
	struct conn *c = has_expected ? connmgr_best(h, &expected) : NULL;
	if (c) {
		resolve(req, c, 0, NULL);
		return 0;
	}
	c = has_expected ? pending_to(h, &expected) : NULL;
	if (c) {
		wait_on(req, c);
		return 0;
	}
	struct errmsg err;
	uint32_t t = timeout_ms ? timeout_ms : h->lim.handshake_timeout_ms;
	int r = conn_dial(h, ma, has_expected ? &expected : NULL, t, &c, &err);
	if (r < 0)
		resolve(req, NULL, r, err.text);
	else
		wait_on(req, c);
	return 0;
}
