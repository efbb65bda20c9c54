/* The host (host.h): identity, listeners, limits, observers and the public
 * calls that reach into connections and streams. The work is elsewhere:
 * tcp.c / tcp-listen.c (sockets), conn.c / conn-upgrade.c (one connection),
 * connmgr.c (limits and duplicates), dial.c, stream*.c, protocols.c. */
#include "net-internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "protocols.h"

#define HOST_DEFAULT_AGENT "sdnetd"

static void apply_defaults(struct host_limits *l)
{
#define DEF(field, value)                                                                          \
	if (!l->field)                                                                             \
	l->field = value
	DEF(max_conns, HOST_DEFAULT_MAX_CONNS);
	DEF(max_conns_per_peer, HOST_DEFAULT_MAX_CONNS_PER_PEER);
	DEF(max_conns_per_ip, HOST_DEFAULT_MAX_CONNS_PER_IP);
	DEF(max_handshaking, HOST_DEFAULT_MAX_HANDSHAKING);
	DEF(max_streams_per_conn, HOST_DEFAULT_MAX_STREAMS_PER_CONN);
	DEF(max_buffered_per_conn, HOST_DEFAULT_MAX_BUFFERED_PER_CONN);
	DEF(handshake_timeout_ms, HOST_DEFAULT_HANDSHAKE_TIMEOUT_MS);
	DEF(idle_timeout_ms, HOST_DEFAULT_IDLE_TIMEOUT_MS);
	DEF(ping_interval_ms, HOST_DEFAULT_PING_INTERVAL_MS);
	DEF(write_stall_timeout_ms, HOST_DEFAULT_WRITE_STALL_TIMEOUT_MS);
	DEF(negotiation_timeout_ms, HOST_DEFAULT_NEGOTIATION_TIMEOUT_MS);
#undef DEF
	if (l->max_conns_per_peer > CONNMGR_PER_PEER_CEILING)
		l->max_conns_per_peer = CONNMGR_PER_PEER_CEILING;
}

static void accept_cb(int fd, const struct sockaddr_storage *remote, void *ctx)
{
	struct host *h = ctx;
	conn_accept(h, fd, remote);
}

static int derive_id(struct host *h)
{
	struct buf pub = BUF_INIT;
	int r = privkey_encode_public(&h->key, &pub);
	if (r == 0)
		r = peerid_from_pubkey_proto(pub.data, pub.len, &h->id);
	buf_free(&pub);
	return r;
}

static int start_listeners(struct host *h, const struct host_config *cfg, struct errmsg *err)
{
	h->listeners = calloc(cfg->n_listen ? cfg->n_listen : 1, sizeof(*h->listeners));
	h->addrs = calloc(cfg->n_listen ? cfg->n_listen : 1, sizeof(*h->addrs));
	if (!h->listeners || !h->addrs)
		return errmsg_set(err, -ENOMEM, "out of memory");
	for (size_t i = 0; i < cfg->n_listen; i++) {
		struct tcp_listener *l;
		int r = tcp_listen(h->base, &cfg->listen[i], accept_cb, h, &l, err);
		if (r < 0)
			return r;
		h->listeners[h->n_listeners] = l;
		r = multiaddr_copy(tcp_listener_addr(l), &h->addrs[h->n_listeners]);
		h->n_listeners++;
		if (r < 0)
			return errmsg_set(err, r, "out of memory");
	}
	return 0;
}

int host_new(struct event_base *base, const struct host_config *cfg, struct host **ret,
             struct errmsg *err)
{
	if (!base || !cfg || !cfg->key || (cfg->n_listen && !cfg->listen))
		return errmsg_set(err, -EINVAL,
		                  "host: missing event base, key or listen addresses");
	struct host *h = calloc(1, sizeof(*h));
	if (!h)
		return errmsg_set(err, -ENOMEM, "host: out of memory");
	h->base = base;
	h->key = *cfg->key;
	h->lim = cfg->limits;
	apply_defaults(&h->lim);
	h->agent = strdup(cfg->agent_version ? cfg->agent_version : HOST_DEFAULT_AGENT);
	h->protos = protocols_new();
	h->tcp = tcp_set_new(base);
	int r = -ENOMEM;
	if (!h->agent || !h->protos || !h->tcp) {
		errmsg_set(err, r, "host: out of memory");
		goto fail;
	}
	r = derive_id(h);
	if (r < 0) {
		errmsg_set(err, r, "host: cannot derive our peer ID from the key");
		goto fail;
	}
	r = start_listeners(h, cfg, err);
	if (r < 0)
		goto fail;
	*ret = h;
	return 0;
fail:
	host_free(h);
	return r;
}

void host_shutdown(struct host *h, uint32_t linger_ms)
{
	if (h->shut_down)
		return;
	h->shut_down = true;
	h->freeing = true;
	for (size_t i = 0; i < h->n_listeners; i++) {
		tcp_listener_free(h->listeners[i]);
		multiaddr_free(&h->addrs[i]);
	}
	h->n_listeners = 0;
	dial_cancel_all(h);
	while (h->conns)
		conn_destroy_now(h->conns);
	if (h->tcp)
		tcp_set_shutdown(h->tcp, linger_ms);
}

void host_free(struct host *h)
{
	if (!h)
		return;
	host_shutdown(h, 0);
	free(h->listeners);
	free(h->addrs);
	tcp_set_free(h->tcp);
	while (h->peers) {
		struct peer_rec *r = h->peers;
		h->peers = r->next;
		free(r);
	}
	protocols_free(h->protos);
	free(h->obs);
	free(h->agent);
	privkey_wipe(&h->key);
	free(h);
}

const struct peerid *host_peer_id(const struct host *h)
{
	return &h->id;
}

const struct privkey *host_key(const struct host *h)
{
	return &h->key;
}

struct protocols *host_protocols(struct host *h)
{
	return h->protos;
}

const char *host_agent_version(const struct host *h)
{
	return h->agent;
}

struct event_base *host_base(const struct host *h)
{
	return h->base;
}

size_t host_listen_addrs(const struct host *h, const struct multiaddr **ret)
{
	*ret = h->addrs;
	return h->n_listeners;
}

int host_add_observer(struct host *h, const struct host_observer *o)
{
	struct host_observer *n = realloc(h->obs, (h->n_obs + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	h->obs = n;
	h->obs[h->n_obs++] = *o;
	return 0;
}

void host_remove_observer(struct host *h, const struct host_observer *o)
{
	for (size_t i = 0; i < h->n_obs; i++) {
		struct host_observer *x = &h->obs[i];
		if (x->on_connected == o->on_connected &&
		    x->on_disconnected == o->on_disconnected && x->ctx == o->ctx) {
			memmove(x, x + 1, (h->n_obs - i - 1) * sizeof(*x));
			h->n_obs--;
			return;
		}
	}
}

static int open_stream(struct conn *c, const char *protocol, bool lazy, host_stream_cb cb,
                       void *ctx)
{
	if (!c || !protocol || !cb)
		return -EINVAL;
	struct stream *s;
	int r = stream_yamux_open(c, &s);
	if (r < 0)
		return r;
	s->open_cb = cb;
	s->open_ctx = ctx;
	r = stream_negotiate_start(s, protocol, lazy);
	if (r < 0) {
		/* Nobody owns it: reset, and the muxer's final event frees it. */
		s->open_cb = NULL;
		s->state = STREAM_ABANDONED;
		s->reset_local = true;
		yamux_reset(c->ymx, s->mux_id);
		conn_after_mux(c);
	}
	return r;
}

int host_open_stream(struct host *h, struct conn *c, const char *protocol, host_stream_cb cb,
                     void *ctx)
{
	return open_stream(c, protocol, false, cb, ctx);
}

int host_open_stream_lazy(struct host *h, struct conn *c, const char *protocol, host_stream_cb cb,
                          void *ctx)
{
	return open_stream(c, protocol, true, cb, ctx);
}

struct conn *host_find_conn(struct host *h, const struct peerid *peer)
{
	return connmgr_best(h, peer);
}

int host_list_conns(struct host *h, struct conn_info **ret, size_t *ret_n)
{
	size_t n = 0;
	for (struct conn *c = h->conns; c; c = c->next)
		n += c->state == CONN_OPEN;
	struct conn_info *v = calloc(n ? n : 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	size_t i = 0;
	for (struct conn *c = h->conns; c; c = c->next)
		if (c->state == CONN_OPEN)
			conn_get_info(c, &v[i++]);
	*ret = v;
	*ret_n = n;
	return 0;
}

int host_disconnect(struct host *h, const struct peerid *peer)
{
	int n = 0;
	for (struct conn *c = h->conns; c; c = c->next) {
		bool match = c->state >= CONN_MUXER
		                     ? peerid_equal(&c->peer, peer)
		                     : c->has_expected && peerid_equal(&c->expected, peer);
		if (c->state != CONN_DEAD && match) {
			conn_close(c, "disconnect requested");
			n++;
		}
	}
	return n > 0 ? 0 : -ENOTCONN;
}

void host_get_stats(const struct host *h, struct host_stats *ret)
{
	*ret = h->st;
}

const struct host_limits *host_get_limits(const struct host *h)
{
	return &h->lim;
}

size_t host_socket_count(const struct host *h)
{
	return tcp_set_count(h->tcp);
}
