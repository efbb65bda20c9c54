/* From one framed line to method calls: decode (common/jsonrpc.c), split a
 * batch into elements, validate each, look the method up in the tables,
 * check its params, enforce the per-client call cap, and run it. Protocol
 * errors are answered here; notifications never get an answer, not even an
 * error, as the spec requires. */
#include "rpc-internal.h"

#include <errno.h>

/* reply is stolen; NULL (no answer, or ENOMEM) is fine. */
static void answer_now(struct rpc_client *c, struct rpc_batch *b, json_t *reply)
{
	c->server->stats.invalid++;
	if (b) {
		rpc_batch_add(b, reply);
		return;
	}
	if (reply)
		rpc_client_send(c, reply);
	json_decref(reply);
}

static json_t *method_not_found(const struct jsonrpc_request *req)
{
	return jsonrpc_error_newf(req->id, JSONRPC_METHOD_NOT_FOUND,
	                          "Method not found: no method \"%.100s\"; rpc.discover lists "
	                          "them all",
	                          req->method);
}

static json_t *too_many_calls(const struct rpc_client *c, const struct jsonrpc_request *req)
{
	return jsonrpc_error_newf(req->id, JSONRPC_BUSY,
	                          "Busy: %zu calls are already in progress on this connection "
	                          "(limit %zu); wait for their answers",
	                          c->ncalls, c->server->cfg.max_calls_per_client);
}

/* Answer a request that will not run; a notification is dropped quietly. */
static void refuse(struct rpc_client *c, struct rpc_batch *b, const struct jsonrpc_request *req,
                   json_t *reply)
{
	if (!req->id) {
		json_decref(reply);
		c->server->stats.invalid++;
		return;
	}
	answer_now(c, b, reply);
}

static void dispatch_one(struct rpc_client *c, struct rpc_batch *b, json_t *msg)
{
	struct jsonrpc_request req;
	json_t *reply = NULL, *params = NULL;
	if (jsonrpc_request_check(msg, &req, &reply) < 0) {
		answer_now(c, b, reply);
		return;
	}
	const struct rpc_method *m = rpc_server_find(c->server, req.method);
	struct errmsg why;
	if (!m) {
		refuse(c, b, &req, method_not_found(&req));
	} else if (rpc_params_check(m, req.params, &params, &why) < 0) {
		refuse(c, b, &req,
		       jsonrpc_error_newf(req.id, JSONRPC_INVALID_PARAMS, "Invalid params: %s",
		                          why.text));
	} else if (c->ncalls >= c->server->cfg.max_calls_per_client) {
		refuse(c, b, &req, too_many_calls(c, &req));
	} else {
		struct rpc_call *call = rpc_call_new(c, b, req.id, m);
		if (call)
			rpc_call_run(call, params);
		else
			refuse(c, b, &req,
			       jsonrpc_error_new(req.id, JSONRPC_INTERNAL_ERROR,
			                         "Internal error: out of memory", NULL));
	}
	json_decref(params);
}

static void dispatch_batch(struct rpc_client *c, json_t *msg)
{
	struct rpc_batch *b = rpc_batch_new(c);
	if (!b) {
		rpc_client_close(c);
		return;
	}
	size_t i;
	json_t *elem;
	json_array_foreach(msg, i, elem)
	{
		if (c->closed || c->draining)
			break;
		dispatch_one(c, b, elem);
	}
	rpc_batch_release(b);
}

void rpc_dispatch_line(struct rpc_client *c, const char *line, size_t len)
{
	json_t *msg = NULL, *reply = NULL;
	if (jsonrpc_parse(line, len, &msg, &reply) < 0) {
		answer_now(c, NULL, reply);
		return;
	}
	if (json_is_array(msg))
		dispatch_batch(c, msg);
	else
		dispatch_one(c, NULL, msg);
	json_decref(msg);
}
