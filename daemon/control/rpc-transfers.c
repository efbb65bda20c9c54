/* The glue between the control API and the file-transfer service
 * (daemon/transfer/transfers.h). Errors carry data {reason, detail}:
 * reason not_found, ambiguous, invalid, denied, busy, finished or failed.
 *
 * Paths (the files to send, a directory to receive into) are read and
 * written by the daemon with its own rights, so only a client running as
 * the daemon's user (or root) may name them; a member of --socket-group
 * may list, accept into the receive directory, reject and cancel. */
#include "rpc-transfers.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/node-mdns.h"
#include "core/node-nearby.h"
#include "core/node-pairing.h"
#include "core/node-transfers.h"
#include "core/node.h"
#include "devices/devices.h"
#include "transfer/transfers.h"

static struct transfers *ready(struct node *n, struct rpc_call *call)
{
	if (n->state == NODE_RUNNING && n->transfers && n->transfers->svc)
		return n->transfers->svc;
	rpc_call_errorf(call, JSONRPC_NOT_READY, "%s: the daemon is %s; retry in a moment",
	                jsonrpc_code_message(JSONRPC_NOT_READY), node_state_name(n->state));
	return NULL;
}

static void answer_error(struct rpc_call *call, int r, const char *detail)
{
	int code = JSONRPC_INTERNAL_ERROR;
	const char *reason = "failed";
	switch (r) {
	case -ENOENT:
		code = JSONRPC_NOT_FOUND;
		reason = "not_found";
		break;
	case -ENOTUNIQ:
		code = JSONRPC_INVALID_PARAMS;
		reason = "ambiguous";
		break;
	case -EINVAL:
	case -EMSGSIZE:
	case -ENAMETOOLONG:
		code = JSONRPC_INVALID_PARAMS;
		reason = "invalid";
		break;
	case -EACCES:
	case -EPERM:
		code = JSONRPC_PERMISSION_DENIED;
		reason = "denied";
		break;
	case -EBUSY:
		code = JSONRPC_BUSY;
		reason = "busy";
		break;
	case -EALREADY:
		code = JSONRPC_CONFLICT;
		reason = "finished";
		break;
	default:
		break;
	}
	char msg[512];
	snprintf(msg, sizeof(msg), "%s: %s", jsonrpc_code_message(code),
	         detail && *detail ? detail : strerror(-r));
	rpc_call_error(call, code, msg,
	               json_pack("{s:s, s:s}", "reason", reason, "detail",
	                         detail && *detail ? detail : strerror(-r)));
}

/* Whether the caller may name paths for the daemon to read or write. */
static bool owner(struct rpc_call *call)
{
	struct rpc_client *c = rpc_call_client(call);
	uid_t uid = c ? rpc_client_uid(c) : (uid_t)-1;
	if (uid == 0 || uid == getuid())
		return true;
	answer_error(call, -EACCES,
	             "only the daemon's own user may name files and directories; ask it to "
	             "send them");
	return false;
}

/* params.paths as a C array (borrowed strings), or NULL after answering. */
static const char **paths_of(struct rpc_call *call, json_t *params, size_t *ret_n)
{
	json_t *a = json_object_get(params, "paths");
	size_t n = json_array_size(a);
	if (n == 0 || n > TRANSFERS_MAX_PATHS) {
		answer_error(call, -EINVAL, "paths must list 1 to 256 absolute paths");
		return NULL;
	}
	const char **v = calloc(n, sizeof(*v));
	for (size_t i = 0; v && i < n; i++) {
		v[i] = json_string_value(json_array_get(a, i));
		if (!v[i] || v[i][0] != '/') {
			free(v);
			answer_error(call, -EINVAL,
			             "every path must be an absolute path (a string)");
			return NULL;
		}
	}
	if (!v)
		answer_error(call, -ENOMEM, "out of memory");
	*ret_n = n;
	return v;
}

static void answer_started(struct transfers *svc, struct rpc_call *call, const char *id)
{
	json_t *t = transfers_get_json(svc, id);
	rpc_call_reply(call, t ? t : json_pack("{s:s}", "id", id));
}

static int run_send(void *ctx, struct rpc_call *call, json_t *params)
{
	struct transfers *svc = ready(ctx, call);
	size_t n = 0;
	const char **paths = svc && owner(call) ? paths_of(call, params, &n) : NULL;
	if (!paths)
		return 0;
	char id[33];
	struct errmsg e = {{0}};
	int r = transfers_send(svc, json_string_value(json_object_get(params, "device")), paths, n,
	                       id, &e);
	free(paths);
	if (r < 0)
		answer_error(call, r, e.text);
	else
		answer_started(svc, call, id);
	return 0;
}

/* The target transfers_spacedrop() gets. Paired devices (name, id,
 * prefix), peer IDs and multiaddrs come first and pass as given; anything
 * else may be the name a nearby device advertises over mDNS, which becomes
 * its peer ID (written to peer). NULL with err set when it is none. */
static const char *spacedrop_target(struct node *n, const char *target, char peer[PEERID_TEXT_MAX],
                                    int *ret_r, struct errmsg *err)
{
	const struct device *d = NULL;
	struct peerid id;
	struct devices *devs = n->pairing ? n->pairing->devices : NULL;
	if (!target || target[0] == '/' || peerid_parse(target, &id, NULL) == 0 ||
	    (devs && devices_lookup(devs, target, &d, NULL) != -ENOENT))
		return target;
	*ret_r = node_nearby_resolve(n, target, peer, err);
	if (*ret_r == -ENOENT)
		errmsg_set(
		        err, -ENOENT,
		        "no paired or nearby device named '%s'; run `spacedrive network spacedrop "
		        "nearby`",
		        target);
	return *ret_r == 0 ? peer : NULL;
}

static int run_spacedrop(void *ctx, struct rpc_call *call, json_t *params)
{
	struct transfers *svc = ready(ctx, call);
	size_t n = 0;
	const char **paths = svc && owner(call) ? paths_of(call, params, &n) : NULL;
	if (!paths)
		return 0;
	char id[33], peer[PEERID_TEXT_MAX];
	struct errmsg e = {{0}};
	int r = 0;
	const char *target = spacedrop_target(
	        ctx, json_string_value(json_object_get(params, "target")), peer, &r, &e);
	if (target)
		r = transfers_spacedrop(svc, target, paths, n,
		                        json_string_value(json_object_get(params, "message")), id,
		                        &e);
	free(paths);
	if (r < 0)
		answer_error(call, r, e.text);
	else
		answer_started(svc, call, id);
	return 0;
}

static int run_list(void *ctx, struct rpc_call *call, json_t *params)
{
	struct transfers *svc = ready(ctx, call);
	if (!svc)
		return 0;
	json_t *a = transfers_list_json(svc);
	json_t *r = a ? json_pack("{s:o}", "transfers", a) : NULL;
	if (!r)
		return -ENOMEM;
	rpc_call_reply(call, r);
	return 0;
}

static int run_requests(void *ctx, struct rpc_call *call, json_t *params)
{
	struct transfers *svc = ready(ctx, call);
	if (!svc)
		return 0;
	json_t *a = transfers_requests_json(svc);
	json_t *r = a ? json_pack("{s:o}", "requests", a) : NULL;
	if (!r)
		return -ENOMEM;
	rpc_call_reply(call, r);
	return 0;
}

/* Peers found over mDNS now, with the names they advertise. */
static int run_nearby(void *ctx, struct rpc_call *call, json_t *params)
{
	struct node *n = ctx;
	json_t *a = node_nearby_json(n);
	json_t *r = a ? json_pack("{s:o, s:b}", "peers", a, "mdns", n->mdns && n->mdns->svc) : NULL;
	if (!r)
		return -ENOMEM;
	rpc_call_reply(call, r);
	return 0;
}

typedef int (*id_fn)(struct transfers *svc, const char *id, struct errmsg *err);

static int by_id(void *ctx, struct rpc_call *call, json_t *params, id_fn fn)
{
	struct transfers *svc = ready(ctx, call);
	if (!svc)
		return 0;
	const char *id = json_string_value(json_object_get(params, "id"));
	struct errmsg e = {{0}};
	int r = fn(svc, id, &e);
	if (r < 0)
		answer_error(call, r, e.text);
	else
		answer_started(svc, call, id);
	return 0;
}

static int run_cancel(void *ctx, struct rpc_call *call, json_t *params)
{
	return by_id(ctx, call, params, transfers_cancel);
}

static int run_reject(void *ctx, struct rpc_call *call, json_t *params)
{
	return by_id(ctx, call, params, transfers_reject);
}

static int run_accept(void *ctx, struct rpc_call *call, json_t *params)
{
	struct transfers *svc = ready(ctx, call);
	const char *dir = json_string_value(json_object_get(params, "dir"));
	if (!svc || (dir && !owner(call)))
		return 0;
	const char *id = json_string_value(json_object_get(params, "id"));
	struct errmsg e = {{0}};
	int r = transfers_accept(svc, id, dir, &e);
	if (r < 0)
		answer_error(call, r, e.text);
	else
		answer_started(svc, call, id);
	return 0;
}

static const struct rpc_param send_params[] = {
        {"device", RPC_PARAM_STRING, true},
        {"paths", RPC_PARAM_ARRAY, true},
        {0},
};

static const struct rpc_param spacedrop_params[] = {
        {"target", RPC_PARAM_STRING, true},
        {"paths", RPC_PARAM_ARRAY, true},
        {"message", RPC_PARAM_STRING, false},
        {0},
};

static const struct rpc_param id_param[] = {
        {"id", RPC_PARAM_STRING, true},
        {0},
};

static const struct rpc_param accept_params[] = {
        {"id", RPC_PARAM_STRING, true},
        {"dir", RPC_PARAM_STRING, false},
        {0},
};

const struct rpc_method rpc_transfers_methods[] = {
        {"transfers.send", send_params, run_send},
        {"transfers.list", NULL, run_list},
        {"transfers.cancel", id_param, run_cancel},
        {"spacedrop.send", spacedrop_params, run_spacedrop},
        {"spacedrop.list", NULL, run_requests},
        {"spacedrop.accept", accept_params, run_accept},
        {"spacedrop.reject", id_param, run_reject},
        {"spacedrop.nearby", NULL, run_nearby},
        {0},
};
