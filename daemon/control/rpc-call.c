/* Calls and batches: the life of one accepted request from run() to its
 * answer, which may come on a later loop turn. A call is owned by whoever
 * must answer it; the answer frees it. The client keeps a list of its calls
 * only to mark them dead when it goes away, so a late answer is dropped
 * instead of written to freed memory. A batch collects its answers and
 * sends them as one array when the last one arrives. */
#include "rpc-internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct rpc_batch *rpc_batch_new(struct rpc_client *c)
{
	struct rpc_batch *b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	b->replies = json_array();
	if (!b->replies) {
		free(b);
		return NULL;
	}
	b->client = c;
	b->holds = 1;
	return b;
}

void rpc_batch_add(struct rpc_batch *b, json_t *reply)
{
	if (reply)
		json_array_append_new(b->replies, reply);
}

void rpc_batch_release(struct rpc_batch *b)
{
	if (--b->holds > 0)
		return;
	/* A batch of only notifications gets no response at all. */
	if (b->client && json_array_size(b->replies) > 0)
		rpc_client_send(b->client, b->replies);
	json_decref(b->replies);
	free(b);
}

struct rpc_call *rpc_call_new(struct rpc_client *c, struct rpc_batch *b, json_t *id,
                              const struct rpc_method *m)
{
	struct rpc_call *call = calloc(1, sizeof(*call));
	if (!call)
		return NULL;
	call->client = c;
	call->batch = b;
	call->id = id ? json_incref(id) : NULL;
	call->method = m;
	if (b)
		b->holds++;
	LIST_INSERT_HEAD(&c->calls, call, link);
	c->ncalls++;
	return call;
}

static void call_free(struct rpc_call *call)
{
	json_decref(call->id);
	free(call);
}

/* Deliver reply (stolen; NULL for none) and free the call unless run() is
 * still on the stack, in which case rpc_call_run() frees it. */
static void call_finish(struct rpc_call *call, json_t *reply)
{
	if (call->answered) {
		json_decref(reply);
		return;
	}
	call->answered = true;
	struct rpc_client *c = call->client;
	if (c) {
		LIST_REMOVE(call, link);
		c->ncalls--;
	}
	if (call->batch) {
		rpc_batch_add(call->batch, reply);
		rpc_batch_release(call->batch);
	} else {
		if (c && reply)
			rpc_client_send(c, reply);
		json_decref(reply);
	}
	if (!call->in_run)
		call_free(call);
}

/* Only a live request (not a notification) has anyone to read the answer. */
static bool call_wants_reply(const struct rpc_call *call)
{
	return call->id && call->client;
}

void rpc_call_reply(struct rpc_call *call, json_t *result)
{
	json_t *reply = NULL;
	if (call_wants_reply(call)) {
		reply = jsonrpc_result_new(call->id, result);
		if (!reply)
			reply = jsonrpc_error_new(call->id, JSONRPC_INTERNAL_ERROR,
			                          "Internal error: out of memory", NULL);
	} else {
		json_decref(result);
	}
	call_finish(call, reply);
}

void rpc_call_error(struct rpc_call *call, int code, const char *message, json_t *data)
{
	json_t *reply = NULL;
	if (call_wants_reply(call))
		reply = jsonrpc_error_new(call->id, code, message, data);
	else
		json_decref(data);
	call_finish(call, reply);
}

void rpc_call_errorf(struct rpc_call *call, int code, const char *fmt, ...)
{
	char text[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	rpc_call_error(call, code, text, NULL);
}

bool rpc_call_alive(const struct rpc_call *call)
{
	return call->client != NULL;
}

struct rpc_client *rpc_call_client(struct rpc_call *call)
{
	return call->client;
}

void rpc_call_run(struct rpc_call *call, json_t *params)
{
	struct rpc_client *c = call->client;
	c->server->stats.requests++;
	call->in_run = true;
	int r = call->method->run(c->server->ctx, call, params);
	call->in_run = false;
	if (call->answered)
		call_free(call);
	else if (r < 0)
		rpc_call_errorf(call, JSONRPC_INTERNAL_ERROR, "Internal error: %s failed: %s",
		                call->method->name, strerror(-r));
}

void rpc_call_detach_all(struct rpc_client *c)
{
	struct rpc_call *call;
	while ((call = LIST_FIRST(&c->calls))) {
		LIST_REMOVE(call, link);
		call->client = NULL;
		if (call->batch)
			call->batch->client = NULL;
	}
	c->ncalls = 0;
}
