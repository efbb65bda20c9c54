/* The net.* events (components.x-event-kinds in proto/openrpc.json) and the
 * JSON shape of a peer shared with net.peers: what the host's observers
 * and identify report, turned into notifications for subscribers. */
#include "rpc-net-internal.h"

#include <errno.h>
#include <string.h>

#include "log.h"
#include "net/clock.h"
#include "rpc-net.h"

void net_peer_text(const struct peerid *id, char out[PEERID_TEXT_MAX])
{
	if (peerid_to_string(id, out, PEERID_TEXT_MAX) < 0)
		strcpy(out, "?");
}

static const char *direction_name(enum conn_direction d)
{
	return d == CONN_INBOUND ? "inbound" : "outbound";
}

static json_t *string_array(char *const *v, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

static json_t *addr_array(const struct multiaddr *v, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < n; i++) {
		char text[MULTIADDR_TEXT_MAX];
		if (multiaddr_to_string(&v[i], text, sizeof(text)) >= 0)
			json_array_append_new(a, json_string(text));
	}
	return a;
}

static json_t *addr_or_null(const struct multiaddr *ma)
{
	char text[MULTIADDR_TEXT_MAX];
	if (ma->len == 0 || multiaddr_to_string(ma, text, sizeof(text)) < 0)
		return json_null();
	return json_string(text);
}

static json_t *string_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

/* What identify told us, as fields merged into a peer or event object. */
static void add_identify(json_t *o, const struct identify_result *r)
{
	json_object_set_new(o, "agent_version", string_or_null(r ? r->agent_version : NULL));
	json_object_set_new(o, "protocol_version", string_or_null(r ? r->protocol_version : NULL));
	json_object_set_new(o, "protocols",
	                    r ? string_array(r->protocols, r->n_protocols) : json_array());
	json_object_set_new(o, "listen_addrs",
	                    r ? addr_array(r->listen_addrs, r->n_listen_addrs) : json_array());
	json_object_set_new(o, "observed_addr", r ? addr_or_null(&r->observed_addr) : json_null());
	json_object_set_new(o, "has_signed_record", json_boolean(r && r->has_record));
}

json_t *net_peer_json(const struct conn_info *ci, struct conn *c)
{
	char id[PEERID_TEXT_MAX];
	net_peer_text(&ci->peer, id);
	uint64_t now = mono_ms();
	/* Our own ping's microseconds when we have them; else yamux's
	 * keepalive, whose millisecond figure is 0 on a fast link. */
	uint64_t ping_us = c ? net_ping_rtt_us(c) : 0;
	json_t *o =
	        json_pack("{s:s, s:s, s:s, s:s, s:s, s:f, s:I, s:I, s:I, s:I}", "peer_id", id,
	                  "direction", direction_name(ci->direction), "transport", ci->transport,
	                  "local_addr", ci->local_addr, "remote_addr", ci->remote_addr, "rtt_ms",
	                  ping_us ? (double)ping_us / 1000.0 : (double)ci->rtt_ms, "streams",
	                  (json_int_t)ci->streams, "bytes_in", (json_int_t)ci->bytes_in,
	                  "bytes_out", (json_int_t)ci->bytes_out, "connected_ms",
	                  (json_int_t)(now > ci->opened_ms ? now - ci->opened_ms : 0));
	if (o)
		add_identify(o, c ? identify_get(c) : NULL);
	return o;
}

/* ---- events ---- */

static void emit(struct node *n, const char *kind, json_t *data)
{
	if (n->rpc && data)
		rpc_server_emit(n->rpc, kind, data);
	json_decref(data);
}

static void on_connected(struct host *h, struct conn *c, void *ctx)
{
	struct conn_info ci;
	conn_get_info(c, &ci);
	char id[PEERID_TEXT_MAX];
	net_peer_text(&ci.peer, id);
	log_info("peer %s connected (%s, %s)", id, direction_name(ci.direction), ci.remote_addr);
	emit(ctx, "net.peer_connected",
	     json_pack("{s:s, s:s, s:s, s:s, s:s}", "peer_id", id, "direction",
	               direction_name(ci.direction), "remote_addr", ci.remote_addr, "local_addr",
	               ci.local_addr, "transport", ci.transport));
}

static const char *disconnect_reason(int err)
{
	switch (err) {
	case 0:
		return "closed";
	case -ESHUTDOWN:
		return "closed by the peer";
	case -ECONNRESET:
		return "connection reset by the peer";
	case -ETIMEDOUT:
		return "timed out: no answer to keepalive, or the peer stopped reading";
	case -EPROTO:
		return "protocol violation";
	case -ECONNABORTED:
		return "aborted";
	default:
		return strerror(-err);
	}
}

static void on_disconnected(struct host *h, const struct conn_info *ci, int err, void *ctx)
{
	char id[PEERID_TEXT_MAX];
	net_peer_text(&ci->peer, id);
	bool still = host_find_conn(h, &ci->peer) != NULL;
	log_info("peer %s disconnected: %s%s", id, disconnect_reason(err),
	         still ? " (another connection remains)" : "");
	emit(ctx, "net.peer_disconnected",
	     json_pack("{s:s, s:s, s:s, s:s, s:b}", "peer_id", id, "reason", disconnect_reason(err),
	               "direction", direction_name(ci->direction), "remote_addr", ci->remote_addr,
	               "still_connected", still));
}

static void on_identified(struct conn *c, const struct identify_result *r, void *ctx)
{
	char id[PEERID_TEXT_MAX];
	net_peer_text(conn_peer(c), id);
	log_debug("peer %s identified: %s, %zu protocols%s", id,
	          r->agent_version ? r->agent_version : "(no agent)", r->n_protocols,
	          r->from_push ? " (push)" : "");
	json_t *o = json_pack("{s:s, s:b}", "peer_id", id, "push", r->from_push);
	if (o)
		add_identify(o, r);
	emit(ctx, "net.peer_identified", o);
}

static struct host_observer observer(struct node *n)
{
	return (struct host_observer){
	        .on_connected = on_connected, .on_disconnected = on_disconnected, .ctx = n};
}

int rpc_net_events_attach(struct node *n)
{
	struct host_observer o = observer(n);
	int r = host_add_observer(n->host, &o);
	if (r == 0)
		identify_service_set_callback(n->identify, on_identified, n);
	return r;
}

void rpc_net_events_detach(struct node *n)
{
	struct host_observer o = observer(n);
	host_remove_observer(n->host, &o);
	if (n->identify)
		identify_service_set_callback(n->identify, NULL, NULL);
}
