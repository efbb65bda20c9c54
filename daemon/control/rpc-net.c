/* net.* methods: connect, disconnect, peers, stats (net.ping lives in
 * rpc-net-ping.c). Results and errors follow proto/openrpc.json. Dial
 * failures keep the host's own message, which names what failed (refused,
 * timed out, the two peer IDs of a mismatch, the limit), and add a
 * machine-readable reason in the error's data. */
#include "rpc-net-internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "net/clock.h"
#include "rpc-net.h"

bool net_not_ready(struct node *n, struct rpc_call *call)
{
	if (n->state == NODE_RUNNING && n->host)
		return false;
	rpc_call_errorf(call, JSONRPC_NOT_READY, "%s: the daemon is %s; retry in a moment",
	                jsonrpc_code_message(JSONRPC_NOT_READY), node_state_name(n->state));
	return true;
}

int net_error_code(int err, const char **ret_reason)
{
	static const struct {
		int err, code;
		const char *reason;
	} map[] = {
	        {-ECONNREFUSED, JSONRPC_PEER_ERROR, "refused"},
	        {-ETIMEDOUT, JSONRPC_TIMEOUT, "timeout"},
	        {-EPERM, JSONRPC_PEER_ERROR, "peer_id_mismatch"},
	        {-EBUSY, JSONRPC_BUSY, "limit"},
	        {-EMFILE, JSONRPC_BUSY, "limit"},
	        {-EAGAIN, JSONRPC_BUSY, "limit"},
	        {-EAFNOSUPPORT, JSONRPC_INVALID_PARAMS, "unsupported_address"},
	        {-EINVAL, JSONRPC_INVALID_PARAMS, "invalid"},
	        {-ENETUNREACH, JSONRPC_PEER_ERROR, "unreachable"},
	        {-EHOSTUNREACH, JSONRPC_PEER_ERROR, "unreachable"},
	        {-EADDRNOTAVAIL, JSONRPC_PEER_ERROR, "unreachable"},
	        {-ECONNRESET, JSONRPC_PEER_ERROR, "protocol"},
	        {-EPROTO, JSONRPC_PEER_ERROR, "protocol"},
	        {-EBADMSG, JSONRPC_PEER_ERROR, "protocol"},
	        {-EPIPE, JSONRPC_PEER_ERROR, "protocol"},
	        {-ENOPROTOOPT, JSONRPC_PEER_ERROR, "not_supported"},
	        {-ECONNABORTED, JSONRPC_PEER_ERROR, "disconnected"},
	        {-ENOTCONN, JSONRPC_PEER_ERROR, "disconnected"},
	        {-ECANCELED, JSONRPC_NOT_READY, "stopping"},
	        {-ESHUTDOWN, JSONRPC_NOT_READY, "stopping"},
	};
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		if (map[i].err == err) {
			*ret_reason = map[i].reason;
			return map[i].code;
		}
	}
	*ret_reason = "error";
	return JSONRPC_INTERNAL_ERROR;
}

bool net_param_peer(struct rpc_call *call, json_t *params, const char *name, struct peerid *ret)
{
	const char *text = json_string_value(json_object_get(params, name));
	struct errmsg e = {{0}};
	if (peerid_parse(text, ret, &e) == 0)
		return true;
	rpc_call_errorf(call, JSONRPC_INVALID_PARAMS, "%s: %s: '%s' is not a peer ID: %s",
	                jsonrpc_code_message(JSONRPC_INVALID_PARAMS), name, text,
	                e.text[0] ? e.text : "malformed");
	return false;
}

bool net_param_addr(struct rpc_call *call, const char *name, const char *text,
                    struct multiaddr *ret)
{
	struct errmsg e = {{0}};
	if (multiaddr_parse(text, ret, &e) == 0)
		return true;
	rpc_call_errorf(call, JSONRPC_INVALID_PARAMS, "%s: %s: '%s' is not a multiaddr: %s",
	                jsonrpc_code_message(JSONRPC_INVALID_PARAMS), name, text,
	                e.text[0] ? e.text : "malformed");
	return false;
}

const char *net_dial_message(const char *msg, int err)
{
	if (!msg || !msg[0])
		return strerror(-err);
	const char *rest = strstr(msg, ": ");
	if (strncmp(msg, "dial ", 5) == 0 && rest && rest[2])
		return rest + 2; /* multiaddr text holds no ": " */
	return msg;
}

uint64_t net_ping_rtt_us(const struct conn *c)
{
	const uint64_t *v = conn_get_slot(c, CONN_SLOT_PING);
	return v ? *v : 0;
}

static json_t *conn_json(struct conn *c)
{
	struct conn_info ci;
	conn_get_info(c, &ci);
	char id[PEERID_TEXT_MAX];
	net_peer_text(&ci.peer, id);
	return json_pack("{s:s, s:s, s:s, s:s, s:s}", "peer_id", id, "direction",
	                 ci.direction == CONN_INBOUND ? "inbound" : "outbound", "transport",
	                 ci.transport, "remote_addr", ci.remote_addr, "local_addr", ci.local_addr);
}

/* ---- net.connect ---- */

struct connect_call {
	struct net_pending p; /* first: stop() gets it */
	bool stopped;         /* answered already; the dial callback frees */
	char addr[MULTIADDR_TEXT_MAX];
};

static void connect_stop(struct net_pending *p)
{
	/* A dial cannot be cancelled; the connection it makes stays useful. */
	((struct connect_call *)p)->stopped = true;
}

static void connect_done(struct host *h, struct conn *c, int err, const char *msg, void *ctx)
{
	struct connect_call *cc = ctx;
	if (cc->stopped) {
		free(cc);
		return;
	}
	if (c) {
		json_t *r = conn_json(c);
		if (r)
			net_pending_reply(&cc->p, r);
		else
			net_pending_error(&cc->p, JSONRPC_INTERNAL_ERROR, NULL,
			                  "Internal error: out of memory");
	} else {
		const char *reason;
		int code = net_error_code(err, &reason);
		net_pending_error(&cc->p, code,
		                  json_pack("{s:s, s:s}", "reason", reason, "addr", cc->addr),
		                  "%s: cannot connect to %s: %s", jsonrpc_code_message(code),
		                  cc->addr, net_dial_message(msg, err));
	}
	free(cc);
}

static int run_connect(void *ctx, struct rpc_call *call, json_t *params)
{
	struct node *n = ctx;
	if (net_not_ready(n, call))
		return 0;
	const char *text = json_string_value(json_object_get(params, "addr"));
	struct multiaddr ma;
	if (!net_param_addr(call, "addr", text, &ma))
		return 0;
	struct connect_call *cc = calloc(1, sizeof(*cc));
	if (!cc) {
		multiaddr_free(&ma);
		return -ENOMEM;
	}
	if (multiaddr_to_string(&ma, cc->addr, sizeof(cc->addr)) < 0)
		snprintf(cc->addr, sizeof(cc->addr), "%s", text);
	int r = net_pending_add(n, &cc->p, call, connect_stop);
	if (r < 0) {
		free(cc);
		multiaddr_free(&ma);
		return r;
	}
	r = host_dial(n->host, &ma, 0, connect_done, cc);
	multiaddr_free(&ma);
	if (r < 0) {
		const char *reason;
		int code = net_error_code(r, &reason);
		net_pending_error(&cc->p, code, json_pack("{s:s}", "reason", reason),
		                  "%s: cannot connect to %s: %s", jsonrpc_code_message(code),
		                  cc->addr, strerror(-r));
		free(cc);
	}
	return 0;
}

/* ---- net.disconnect ---- */

static unsigned conns_to(struct host *h, const struct peerid *peer)
{
	struct conn_info *v;
	size_t n;
	if (host_list_conns(h, &v, &n) < 0)
		return 0;
	unsigned k = 0;
	for (size_t i = 0; i < n; i++)
		k += peerid_equal(&v[i].peer, peer);
	free(v);
	return k;
}

static int run_disconnect(void *ctx, struct rpc_call *call, json_t *params)
{
	struct node *n = ctx;
	if (net_not_ready(n, call))
		return 0;
	struct peerid peer;
	if (!net_param_peer(call, params, "peer_id", &peer))
		return 0;
	unsigned k = conns_to(n->host, &peer);
	/* Dials still upgrading towards the peer are closed too, uncounted. */
	host_disconnect(n->host, &peer);
	rpc_call_reply(call, json_pack("{s:I}", "disconnected", (json_int_t)k));
	return 0;
}

/* ---- net.peers ---- */

static int run_peers(void *ctx, struct rpc_call *call, json_t *params)
{
	struct node *n = ctx;
	if (net_not_ready(n, call))
		return 0;
	struct conn_info *v;
	size_t nc;
	int r = host_list_conns(n->host, &v, &nc);
	if (r < 0)
		return r;
	json_t *peers = json_array();
	/* One entry per peer: the connection in use, and how many it has. */
	for (size_t i = 0; peers && i < nc; i++) {
		bool seen = false;
		unsigned count = 1;
		for (size_t j = 0; j < nc; j++)
			if (j != i && peerid_equal(&v[j].peer, &v[i].peer)) {
				seen |= j < i;
				count++;
			}
		if (seen)
			continue;
		struct conn *c = host_find_conn(n->host, &v[i].peer);
		struct conn_info ci = v[i];
		if (c)
			conn_get_info(c, &ci);
		json_t *p = net_peer_json(&ci, c);
		if (p)
			json_object_set_new(p, "connections", json_integer(count));
		if (!p || json_array_append_new(peers, p) < 0) {
			json_decref(peers);
			peers = NULL;
		}
	}
	free(v);
	json_t *res = peers ? json_pack("{s:o}", "peers", peers) : NULL;
	if (!res)
		return -ENOMEM;
	rpc_call_reply(call, res);
	return 0;
}

/* ---- net.stats ---- */

static json_t *limits_json(const struct host_limits *l)
{
	return json_pack(
	        "{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "max_conns",
	        (json_int_t)l->max_conns, "max_conns_per_peer", (json_int_t)l->max_conns_per_peer,
	        "max_conns_per_ip", (json_int_t)l->max_conns_per_ip, "max_handshaking",
	        (json_int_t)l->max_handshaking, "max_streams_per_conn",
	        (json_int_t)l->max_streams_per_conn, "max_buffered_per_conn",
	        (json_int_t)l->max_buffered_per_conn, "handshake_timeout_ms",
	        (json_int_t)l->handshake_timeout_ms, "idle_timeout_ms",
	        (json_int_t)l->idle_timeout_ms, "ping_interval_ms", (json_int_t)l->ping_interval_ms,
	        "write_stall_timeout_ms", (json_int_t)l->write_stall_timeout_ms,
	        "negotiation_timeout_ms", (json_int_t)l->negotiation_timeout_ms);
}

static int run_stats(void *ctx, struct rpc_call *call, json_t *params)
{
	struct node *n = ctx;
	if (net_not_ready(n, call))
		return 0;
	struct host_stats st;
	host_get_stats(n->host, &st);
	json_t *r = json_pack(
	        "{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o}", "conns",
	        (json_int_t)st.conns, "handshaking", (json_int_t)st.handshaking, "streams",
	        (json_int_t)st.streams, "refused_limit", (json_int_t)st.refused_limit,
	        "refused_per_ip", (json_int_t)st.refused_per_ip, "refused_handshake",
	        (json_int_t)st.refused_handshake, "handshake_failures",
	        (json_int_t)st.handshake_failures, "handshake_timeouts",
	        (json_int_t)st.handshake_timeouts, "dials", (json_int_t)st.dials, "dial_failures",
	        (json_int_t)st.dial_failures, "inbound_accepted", (json_int_t)st.inbound_accepted,
	        "sockets", (json_int_t)host_socket_count(n->host), "limits",
	        limits_json(host_get_limits(n->host)));
	if (!r)
		return -ENOMEM;
	/* Lifetime totals for leak checks: opened == closed once all is shut. */
	json_t *life = json_pack(
	        "{s:I, s:I, s:I, s:I, s:I, s:I}", "conns_opened", (json_int_t)st.conns_opened,
	        "conns_closed", (json_int_t)st.conns_closed, "conns_current",
	        (json_int_t)(st.conns_opened - st.conns_closed), "streams_opened",
	        (json_int_t)st.streams_opened, "streams_closed", (json_int_t)st.streams_closed,
	        "streams_current", (json_int_t)(st.streams_opened - st.streams_closed));
	if (!life || json_object_update(r, life) < 0) {
		json_decref(life);
		json_decref(r);
		return -ENOMEM;
	}
	json_decref(life);
	rpc_call_reply(call, r);
	return 0;
}

/* ---- the table ---- */

static const struct rpc_param connect_params[] = {
        {"addr", RPC_PARAM_STRING, true},
        {0},
};

static const struct rpc_param disconnect_params[] = {
        {"peer_id", RPC_PARAM_STRING, true},
        {0},
};

const struct rpc_method rpc_net_methods[] = {
        {"net.connect", connect_params, run_connect},
        {"net.disconnect", disconnect_params, run_disconnect},
        {"net.ping", net_ping_params, net_run_ping},
        {"net.peers", NULL, run_peers},
        {"net.stats", NULL, run_stats},
        {0},
};
