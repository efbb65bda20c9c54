/* JSON-RPC 2.0 control server on a Unix stream socket (newline-delimited).
 *
 * Methods are rows in a table: {name, params spec, run}. The server parses
 * and validates requests (common/jsonrpc.h), checks params against the spec
 * (-32602 with a message naming the parameter), and calls run(). run() answers
 * with rpc_call_reply()/rpc_call_error() either before returning or later
 * (asynchronous methods such as ping keep the call and answer from a
 * callback). If the client goes away first, the call is marked dead and the
 * late reply is dropped; rpc_call_alive() tells. Each accepted call must be
 * answered exactly once; the server frees it after the answer.
 *
 * Notifications: a client that called events.subscribe receives
 * {"jsonrpc":"2.0","method":"event","params":{"kind":..., "data":...}} for
 * every rpc_server_emit() whose kind matches its filter.
 *
 * Adding a method: one row in an area's table (daemon/control/rpc-<area>.c),
 * its run function, and its entry in proto/openrpc.json (a unit test checks
 * that the two agree). See docs/rpc.md. */
#pragma once

#include <event2/event.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "errmsg.h"
#include "jsonrpc.h"

struct rpc_server;
struct rpc_call;
struct rpc_client;

enum rpc_param_type {
	RPC_PARAM_STRING,
	RPC_PARAM_INT,
	RPC_PARAM_BOOL,
	RPC_PARAM_ARRAY,
	RPC_PARAM_OBJECT,
	RPC_PARAM_ANY,
};

struct rpc_param {
	const char *name;
	enum rpc_param_type type;
	bool required;
};

/* ctx is the pointer given to rpc_server_new; params is always an object
 * (possibly empty) already checked against the spec: required names present,
 * no unknown names, every value of its declared type (JSON null is not a
 * value of any type but RPC_PARAM_ANY). params is borrowed for the duration
 * of run(); json_incref() it to keep it. Return 0 when the call was or will
 * be answered, or a negative errno to have the server answer -32603 with
 * strerror (ignored if run() already answered). */
typedef int (*rpc_run_fn)(void *ctx, struct rpc_call *call, json_t *params);

/* A table is an array of rows ending with {0} (a row whose name is NULL;
 * write {0}, not {NULL}, which clang flags as a missing initializer). */
struct rpc_method {
	const char *name;
	const struct rpc_param *params; /* terminated by {0}; NULL: no params */
	rpc_run_fn run;
};

/* Default caps (see docs/rpc.md for why these numbers). */
#define RPC_DEFAULT_MAX_CLIENTS_PER_UID 32
#define RPC_DEFAULT_MAX_CLIENTS 256
#define RPC_DEFAULT_MAX_PENDING_OUT ((size_t)4 << 20)
#define RPC_DEFAULT_MAX_CALLS_PER_CLIENT 64

struct rpc_server_config {
	uid_t owner_uid;    /* uid allowed besides root */
	gid_t allowed_gid;  /* (gid_t)-1: no group access */
	size_t max_request; /* bytes per request line */
	size_t max_clients_per_uid;
	size_t max_pending_out;      /* bytes queued to one client before it is dropped */
	size_t max_clients;          /* connections in total */
	size_t max_calls_per_client; /* calls accepted and not yet answered, per connection */
};

/* Owner = the calling process's uid, no group, JSONRPC_MAX_REQUEST and the
 * RPC_DEFAULT_* caps. */
void rpc_server_config_default(struct rpc_server_config *cfg);

/* Serve on an already-listening socket fd (ours or from socket activation).
 * On success the server owns fd (rpc_server_free closes it); on failure the
 * caller still does. listen_fd may be -1 for a server without a listener
 * (tests attach clients directly). tables: a NULL-terminated list of method
 * tables, so each area (node, net, pairing...) keeps its own table in its
 * own file; the list is copied, the tables themselves must outlive the
 * server. Also sets SIGPIPE to ignored if it was at its default, since a
 * client hanging up must never kill the daemon.
 * Errors: -EEXIST (a method name appears twice), -EINVAL (a row without run
 * or a bad cfg), -ENOMEM. */
int rpc_server_new(struct event_base *base, int listen_fd, const struct rpc_server_config *cfg,
                   const struct rpc_method *const *tables, void *ctx, struct rpc_server **ret);
/* Writes what is queued to each client once (without blocking), closes
 * every client (their calls become dead; methods still answer them, which
 * frees them) and the listening socket. NULL is fine. Never call it from a
 * method or a close hook: answer, leave the loop, then free. */
void rpc_server_free(struct rpc_server *s);
/* Push an event to subscribed clients. data is borrowed (not stolen); NULL
 * sends null. A subscriber whose output is over its cap is dropped. */
void rpc_server_emit(struct rpc_server *s, const char *kind, json_t *data);

/* Push one event notification to c alone, subscribed or not, for events
 * that belong to one client (messages for a handler it registered). data
 * is borrowed. 0, -EPIPE (c is closing), -ENOBUFS (that put c over
 * max_pending_out: it is dropped), -ENOMEM. */
int rpc_client_notify(struct rpc_client *c, const char *kind, json_t *data);

/* Counters for node.status and tests. */
struct rpc_server_stats {
	size_t clients;              /* connected now */
	size_t calls_pending;        /* accepted, not yet answered, client still connected */
	uint64_t accepted;           /* connections admitted since start */
	uint64_t refused_permission; /* peer credentials not allowed */
	uint64_t refused_limit;      /* max_clients or max_clients_per_uid reached */
	uint64_t dropped_slow;       /* output over max_pending_out */
	uint64_t dropped_oversize;   /* request line over max_request */
	uint64_t requests;           /* requests and notifications dispatched to methods */
	uint64_t invalid; /* lines or elements answered with -32700/-32600/-32601/-32602 */
	uint64_t events;  /* event notifications queued to clients */
};
void rpc_server_get_stats(const struct rpc_server *s, struct rpc_server_stats *ret);
/* The same as a JSON object (new reference, NULL on ENOMEM). */
json_t *rpc_server_stats_json(const struct rpc_server *s);

/* Answer a call; result/data are stolen (may be NULL -> null result, no
 * data). Answering a dead call just frees it. A notification's answer is
 * dropped. */
void rpc_call_reply(struct rpc_call *call, json_t *result);
void rpc_call_error(struct rpc_call *call, int code, const char *message, json_t *data);
void rpc_call_errorf(struct rpc_call *call, int code, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
bool rpc_call_alive(const struct rpc_call *call);
/* NULL once the client is gone. */
struct rpc_client *rpc_call_client(struct rpc_call *call);
/* The peer's uid, read with SO_PEERCRED when it connected. */
uid_t rpc_client_uid(const struct rpc_client *c);
/* Lets a method keep per-client state alive (e.g. handler registrations):
 * called when the client disconnects (from the event loop, after its calls
 * went dead; do not send to c). At most RPC_MAX_CLOSE_HOOKS per client:
 * -ENOBUFS beyond that, -ENOMEM, -EPIPE if c is already closing. */
typedef void (*rpc_client_gone_fn)(void *userdata, struct rpc_client *c);
#define RPC_MAX_CLOSE_HOOKS 64
int rpc_client_on_close(struct rpc_client *c, rpc_client_gone_fn fn, void *userdata);
/* Remove a hook registered with the same fn and userdata (no-op if none),
 * for state that dies before the client does. */
void rpc_client_off_close(struct rpc_client *c, rpc_client_gone_fn fn, void *userdata);

/* Peer credential policy, separate from the socket so it can be tested with
 * made-up ids: allowed are owner_uid, root, and, when allowed_gid is set,
 * anyone whose primary or supplementary groups include it. Returns 0 or
 * -EPERM with why (may be NULL) saying who may connect and what to do. */
int rpc_peer_check(const struct rpc_server_config *cfg, uid_t uid, gid_t gid, const gid_t *groups,
                   size_t ngroups, struct errmsg *why);

/* Tables provided by the control plane itself. */
extern const struct rpc_method rpc_events_methods[];   /* events.subscribe, events.unsubscribe */
extern const struct rpc_method rpc_discover_methods[]; /* rpc.discover */
/* Caps on an events.subscribe filter. */
#define RPC_MAX_EVENT_KINDS 64
#define RPC_MAX_EVENT_KIND_LEN 64
/* The OpenRPC document built into the daemon from proto/openrpc.json (new
 * reference, NULL on ENOMEM). */
json_t *rpc_discover_document(void);
