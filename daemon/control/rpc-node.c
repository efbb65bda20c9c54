/* node.* methods: the glue between the control API and struct node.
 * Results follow proto/openrpc.json; test_rpc_openrpc holds the table to
 * it. */
#include "rpc-node.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "core/node.h"
#include "log.h"
#include "net/host.h"

static bool not_ready(struct node *n, struct rpc_call *call)
{
	if (n->state == NODE_RUNNING)
		return false;
	rpc_call_errorf(call, JSONRPC_NOT_READY, "%s: the daemon is %s; retry in a moment",
	                jsonrpc_code_message(JSONRPC_NOT_READY), node_state_name(n->state));
	return true;
}

/* Where peers can reach us: the bound addresses (port 0 resolved) with
 * /p2p/<our peer ID>, ready to give to `network connect`. */
static json_t *listen_addrs(struct node *n)
{
	json_t *a = json_array();
	const struct multiaddr *v = NULL;
	size_t k = n->host ? host_listen_addrs(n->host, &v) : 0;
	for (size_t i = 0; a && i < k; i++) {
		char text[MULTIADDR_TEXT_MAX];
		if (multiaddr_to_string(&v[i], text, sizeof(text)) < 0)
			continue;
		char *full = NULL;
		if (asprintf(&full, "%s/p2p/%s", text, n->id.peer_id) < 0)
			continue;
		json_array_append_new(a, json_string(full));
		free(full);
	}
	return a;
}

static int run_info(void *ctx, struct rpc_call *call, json_t *params)
{
	struct node *n = ctx;
	if (not_ready(n, call))
		return 0;
	json_t *r = json_pack("{s:s, s:s, s:s, s:s, s:o, s:I}", "peer_id", n->id.peer_id,
	                      "device_id", n->id.device_id, "device_name", n->id.device_name,
	                      "version", SDNETD_VERSION, "listen_addrs", listen_addrs(n), "uptime",
	                      (json_int_t)node_uptime(n));
	if (!r)
		return -ENOMEM;
	rpc_call_reply(call, r);
	return 0;
}

static int run_status(void *ctx, struct rpc_call *call, json_t *params)
{
	struct node *n = ctx;
	json_t *r =
	        json_pack("{s:s, s:I, s:o, s:s, s:I, s:s, s:s, s:s}", "state",
	                  node_state_name(n->state), "uptime", (json_int_t)node_uptime(n), "rpc",
	                  rpc_server_stats_json(n->rpc), "instance", config_instance(&n->cfg),
	                  "pid", (json_int_t)getpid(), "log_level", log_level_name(log_get_level()),
	                  "data_dir", n->data_dir, "control_socket", n->sock.path);
	if (!r)
		return -ENOMEM;
	rpc_call_reply(call, r);
	return 0;
}

/* Group members may use the socket but not stop the daemon. */
static bool may_stop(struct rpc_call *call)
{
	struct rpc_client *c = rpc_call_client(call);
	if (!c)
		return true; /* a notification from a client already gone */
	uid_t uid = rpc_client_uid(c);
	return uid == 0 || uid == getuid();
}

static int run_shutdown(void *ctx, struct rpc_call *call, json_t *params)
{
	struct node *n = ctx;
	if (!may_stop(call)) {
		rpc_call_errorf(call, JSONRPC_PERMISSION_DENIED,
		                "%s: only uid %lu (the daemon's user) and root may stop it",
		                jsonrpc_code_message(JSONRPC_PERMISSION_DENIED),
		                (unsigned long)getuid());
		return 0;
	}
	/* Answer first: the server writes queued answers before it closes. */
	rpc_call_reply(call, json_pack("{s:b}", "stopping", 1));
	node_request_stop(n, "node.shutdown");
	return 0;
}

static int run_set_device_name(void *ctx, struct rpc_call *call, json_t *params)
{
	struct node *n = ctx;
	if (not_ready(n, call))
		return 0;
	json_t *v = json_object_get(params, "name");
	const char *name = json_string_value(v);
	struct errmsg e = {{0}};
	int r = strlen(name) != json_string_length(v)
	                ? errmsg_set(&e, -EINVAL, "device name contains a NUL character")
	                : devname_check(name, &e);
	if (r < 0) {
		rpc_call_errorf(call, JSONRPC_INVALID_PARAMS, "%s: %s",
		                jsonrpc_code_message(JSONRPC_INVALID_PARAMS), e.text);
		return 0;
	}
	r = node_set_device_name(n, name, &e);
	if (r < 0) {
		rpc_call_errorf(call, JSONRPC_INTERNAL_ERROR, "%s: cannot store the new name: %s",
		                jsonrpc_code_message(JSONRPC_INTERNAL_ERROR), e.text);
		return 0;
	}
	rpc_call_reply(call, json_pack("{s:s}", "device_name", n->id.device_name));
	return 0;
}

static const struct rpc_param set_device_name_params[] = {
        {"name", RPC_PARAM_STRING, true},
        {0},
};

const struct rpc_method rpc_node_methods[] = {
        {"node.info", NULL, run_info},
        {"node.status", NULL, run_status},
        {"node.shutdown", NULL, run_shutdown},
        {"node.set_device_name", set_device_name_params, run_set_device_name},
        {0},
};
