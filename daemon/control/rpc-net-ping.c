/* net.ping: libp2p ping to a peer we are connected to (target: peer ID) or
 * at an address (target: multiaddr, dialled first or the existing
 * connection reused). Answered when the last round is in; every round is
 * also an event net.ping_rtt {peer_id, seq, rtt_us, tag} so a client can
 * print RTTs as they come, like ping(8). */
#include "rpc-net-internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "net/ping.h"

/* Caps on what one call may ask for. */
#define NET_PING_MAX_COUNT 100
#define NET_PING_MAX_INTERVAL_MS 60000
#define NET_PING_DEFAULT_INTERVAL_MS 1000
#define NET_PING_TAG_MAX 64

struct ping_call {
	struct net_pending p; /* first: stop() gets it */
	struct peerid peer;
	char peer_text[PEERID_TEXT_MAX];
	char target[MULTIADDR_TEXT_MAX];
	struct ping_params params;
	char *tag; /* NULL when none */
	json_t *rtts;
	uint64_t min_us, max_us, sum_us;
	struct ping_op *op;
	bool dialing; /* host_dial() has not called back */
	bool stopped; /* answered already; the dial callback frees */
};

static void call_free(struct ping_call *pc)
{
	json_decref(pc->rtts);
	free(pc->tag);
	free(pc);
}

static void ping_stop(struct net_pending *p)
{
	struct ping_call *pc = (struct ping_call *)p;
	if (pc->dialing) {
		pc->stopped = true;
		return;
	}
	ping_cancel(pc->op);
	call_free(pc);
}

/* Remember the RTT on the connection for net.peers. */
static void keep_rtt(struct ping_call *pc, uint64_t rtt_us)
{
	struct conn *c = host_find_conn(pc->p.n->host, &pc->peer);
	uint64_t *v = c ? malloc(sizeof(*v)) : NULL;
	if (!v)
		return;
	*v = rtt_us;
	conn_set_slot(c, CONN_SLOT_PING, v, free);
}

static void round_done(struct ping_call *pc, uint64_t rtt_us)
{
	size_t seq = json_array_size(pc->rtts) + 1;
	json_array_append_new(pc->rtts, json_integer((json_int_t)rtt_us));
	pc->sum_us += rtt_us;
	if (seq == 1 || rtt_us < pc->min_us)
		pc->min_us = rtt_us;
	if (rtt_us > pc->max_us)
		pc->max_us = rtt_us;
	keep_rtt(pc, rtt_us);
	json_t *ev = json_pack("{s:s, s:I, s:I, s:o}", "peer_id", pc->peer_text, "seq",
	                       (json_int_t)seq, "rtt_us", (json_int_t)rtt_us, "tag",
	                       pc->tag ? json_string(pc->tag) : json_null());
	if (ev && pc->p.n->rpc)
		rpc_server_emit(pc->p.n->rpc, "net.ping_rtt", ev);
	json_decref(ev);
}

static json_t *summary(struct ping_call *pc)
{
	size_t k = json_array_size(pc->rtts);
	double avg = k ? (double)pc->sum_us / (double)k / 1000.0 : 0.0;
	return json_pack("{s:s, s:O, s:f, s:f, s:f, s:I}", "peer_id", pc->peer_text, "rtts_us",
	                 pc->rtts, "rtt_ms_avg", avg, "rtt_ms_min", (double)pc->min_us / 1000.0,
	                 "rtt_ms_max", (double)pc->max_us / 1000.0, "count", (json_int_t)k);
}

static void on_round(uint64_t rtt_us, int err, const char *msg, bool done, void *ctx)
{
	struct ping_call *pc = ctx;
	if (err == 0)
		round_done(pc, rtt_us);
	if (!done)
		return;
	pc->op = NULL; /* ping.c frees it after we return */
	if (err == 0) {
		json_t *r = summary(pc);
		if (r)
			net_pending_reply(&pc->p, r);
		else
			net_pending_error(&pc->p, JSONRPC_INTERNAL_ERROR, NULL,
			                  "Internal error: out of memory");
	} else {
		const char *reason;
		int code = net_error_code(err, &reason);
		net_pending_error(&pc->p, code,
		                  json_pack("{s:s, s:s, s:O}", "reason", reason, "peer_id",
		                            pc->peer_text, "rtts_us", pc->rtts),
		                  "%s: ping %s: %s (after %zu of %u rounds)",
		                  jsonrpc_code_message(code), pc->peer_text,
		                  msg ? msg : strerror(-err), json_array_size(pc->rtts),
		                  pc->params.count);
	}
	call_free(pc);
}

/* Start pinging over c; false when it failed (answered and freed). */
static bool start_ping(struct ping_call *pc, struct conn *c)
{
	pc->peer = *conn_peer(c);
	net_peer_text(&pc->peer, pc->peer_text);
	int r = ping_start(pc->p.n->host, c, &pc->params, on_round, pc, &pc->op);
	if (r == 0)
		return true;
	const char *reason;
	int code = net_error_code(r, &reason);
	net_pending_error(&pc->p, code, json_pack("{s:s}", "reason", reason),
	                  "%s: cannot ping %s: %s", jsonrpc_code_message(code), pc->peer_text,
	                  strerror(-r));
	call_free(pc);
	return false;
}

static void dialled(struct host *h, struct conn *c, int err, const char *msg, void *ctx)
{
	struct ping_call *pc = ctx;
	pc->dialing = false;
	if (pc->stopped) {
		call_free(pc);
		return;
	}
	if (c) {
		start_ping(pc, c);
		return;
	}
	const char *reason;
	int code = net_error_code(err, &reason);
	net_pending_error(&pc->p, code,
	                  json_pack("{s:s, s:s}", "reason", reason, "addr", pc->target),
	                  "%s: cannot connect to %s: %s", jsonrpc_code_message(code), pc->target,
	                  net_dial_message(msg, err));
	call_free(pc);
}

/* count and interval_ms within their caps, tag short: 0; 1 when answered
 * (-32602); -ENOMEM. */
static int check_params(struct rpc_call *call, json_t *params, struct ping_call *pc)
{
	json_t *count = json_object_get(params, "count");
	json_t *interval = json_object_get(params, "interval_ms");
	json_t *tag = json_object_get(params, "tag");
	json_int_t c = count ? json_integer_value(count) : 1;
	json_int_t i = interval ? json_integer_value(interval) : NET_PING_DEFAULT_INTERVAL_MS;
	const char *bad = NULL;
	if (c < 1 || c > NET_PING_MAX_COUNT)
		bad = "count must be 1 to 100";
	else if (i < 0 || i > NET_PING_MAX_INTERVAL_MS)
		bad = "interval_ms must be 0 to 60000";
	else if (tag && json_string_length(tag) > NET_PING_TAG_MAX)
		bad = "tag is longer than 64 bytes";
	if (bad) {
		rpc_call_errorf(call, JSONRPC_INVALID_PARAMS, "%s: %s",
		                jsonrpc_code_message(JSONRPC_INVALID_PARAMS), bad);
		return 1;
	}
	pc->params = (struct ping_params){.count = (unsigned)c, .interval_ms = (uint32_t)i};
	if (tag && !(pc->tag = strdup(json_string_value(tag))))
		return -ENOMEM;
	return 0;
}

/* A peer ID target must be connected already: nothing here can find its
 * addresses. */
static int ping_peer(struct ping_call *pc, struct rpc_call *call, json_t *params)
{
	struct peerid peer;
	if (!net_param_peer(call, params, "target", &peer))
		return 1;
	struct conn *c = host_find_conn(pc->p.n->host, &peer);
	if (!c) {
		char id[PEERID_TEXT_MAX];
		net_peer_text(&peer, id);
		rpc_call_errorf(call, JSONRPC_NOT_FOUND,
		                "%s: not connected to %s; connect first (net.connect) or give its "
		                "multiaddr as the target",
		                jsonrpc_code_message(JSONRPC_NOT_FOUND), id);
		return 1;
	}
	int r = net_pending_add(pc->p.n, &pc->p, call, ping_stop);
	if (r < 0)
		return r;
	start_ping(pc, c);
	return 0;
}

static int ping_addr(struct ping_call *pc, struct rpc_call *call, const char *text)
{
	struct multiaddr ma;
	if (!net_param_addr(call, "target", text, &ma))
		return 1;
	if (multiaddr_to_string(&ma, pc->target, sizeof(pc->target)) < 0)
		snprintf(pc->target, sizeof(pc->target), "%s", text);
	int r = net_pending_add(pc->p.n, &pc->p, call, ping_stop);
	if (r == 0) {
		pc->dialing = true;
		r = host_dial(pc->p.n->host, &ma, 0, dialled, pc);
		if (r < 0) {
			pc->dialing = false;
			const char *reason;
			int code = net_error_code(r, &reason);
			net_pending_error(&pc->p, code, json_pack("{s:s}", "reason", reason),
			                  "%s: cannot connect to %s: %s",
			                  jsonrpc_code_message(code), pc->target, strerror(-r));
			r = 1; /* answered */
		}
	}
	multiaddr_free(&ma);
	return r;
}

int net_run_ping(void *ctx, struct rpc_call *call, json_t *params)
{
	struct node *n = ctx;
	if (net_not_ready(n, call))
		return 0;
	struct ping_call *pc = calloc(1, sizeof(*pc));
	if (!pc || !(pc->rtts = json_array())) {
		free(pc);
		return -ENOMEM;
	}
	pc->p.n = n;
	const char *target = json_string_value(json_object_get(params, "target"));
	int r = check_params(call, params, pc);
	if (r == 0)
		r = target[0] == '/' ? ping_addr(pc, call, target) : ping_peer(pc, call, params);
	if (r != 0)
		call_free(pc); /* answered (1) or not tracked (< 0) */
	return r < 0 ? r : 0;
}

const struct rpc_param net_ping_params[] = {
        {"target", RPC_PARAM_STRING, true},
        {"count", RPC_PARAM_INT, false},
        {"interval_ms", RPC_PARAM_INT, false},
        {"tag", RPC_PARAM_STRING, false},
        {0},
};
