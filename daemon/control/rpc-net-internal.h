/* Shared by rpc-net*.c and rpc-test.c: asynchronous calls that outlive
 * run() and the JSON shapes of peers and identify results. */
#pragma once

#include <jansson.h>

#include "core/node.h"
#include "net/host.h"
#include "net/identify-service.h"
#include "rpc.h"

/* An asynchronous call in flight, embedded in the method's own state. It
 * is on n->net_calls from net_pending_add() until answered. When the
 * client goes away or the daemon stops, the call is answered (dead, or
 * "stopping"), taken off the list, and then stop() must end the work and
 * free the state (at once, or when a callback it cannot cancel arrives). */
struct net_pending {
	struct node *n;
	struct net_pending *prev, *next;
	struct rpc_call *call;     /* NULL once answered */
	struct rpc_client *client; /* where our close hook sits; NULL when none */
	void (*stop)(struct net_pending *p);
};

/* Track call under p. 0, or an error of rpc_client_on_close() (then p is
 * not tracked and run() should answer the call itself). */
int net_pending_add(struct node *n, struct net_pending *p, struct rpc_call *call,
                    void (*stop)(struct net_pending *p));
/* Answer and untrack (result stolen). */
void net_pending_reply(struct net_pending *p, json_t *result);
void net_pending_error(struct net_pending *p, int code, json_t *data, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

/* An error of the host (a negative errno from a dial or stream) as a
 * JSON-RPC code and a short machine-readable reason for error data:
 * refused, timeout, peer_id_mismatch, limit, unsupported_address,
 * own_peer_id, unreachable, protocol, not_supported, stopping, error. */
int net_error_code(int err, const char **ret_reason);

/* The host's dial message without its leading "dial <addr>: " (we name
 * the address ourselves); msg may be NULL: strerror(-err). */
const char *net_dial_message(const char *msg, int err);

/* One peer for net.peers (c: its connection in use; may be NULL). New
 * reference, NULL on ENOMEM. */
json_t *net_peer_json(const struct conn_info *ci, struct conn *c);
/* Text of a peer ID (never fails for a valid one). */
void net_peer_text(const struct peerid *id, char out[PEERID_TEXT_MAX]);

/* "Not ready" unless the node is running with a host; then answers call
 * and returns true. */
bool net_not_ready(struct node *n, struct rpc_call *call);

/* The last /ipfs/ping RTT measured on c (microseconds), 0 if none. */
uint64_t net_ping_rtt_us(const struct conn *c);

/* Parameter helpers: parse or answer -32602 naming the parameter (false). */
bool net_param_peer(struct rpc_call *call, json_t *params, const char *name, struct peerid *ret);
bool net_param_addr(struct rpc_call *call, const char *name, const char *text,
                    struct multiaddr *ret);

/* net.ping (rpc-net-ping.c). */
int net_run_ping(void *ctx, struct rpc_call *call, json_t *params);
extern const struct rpc_param net_ping_params[];
