/* test.* methods, served only when sdnetd runs with --enable-test-protocols
 * (proto/openrpc.json marks the prefix optional): test.echo drives the echo
 * test protocol (daemon/net/echotest.h) against a connected peer, for the
 * interop and integration suites. */
#include "rpc-net-internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "net/echotest.h"
#include "rpc-net.h"

/* Bytes one test.echo may move each way: a few GiB is far beyond what a
 * test needs and still bounded. */
#define TEST_ECHO_MAX_TOTAL ((uint64_t)8 << 30)

struct echo_call {
	struct net_pending p; /* first: stop() gets it */
	struct echotest_op *op;
};

static void echo_stop(struct net_pending *p)
{
	struct echo_call *ec = (struct echo_call *)p;
	echotest_cancel(ec->op);
	free(ec);
}

static void echo_done(const struct echotest_result *r, void *ctx)
{
	struct echo_call *ec = ctx;
	json_t *res = json_pack("{s:I, s:I, s:I, s:I, s:b, s:o}", "streams", (json_int_t)r->streams,
	                        "streams_ok", (json_int_t)r->streams_ok, "bytes",
	                        (json_int_t)r->bytes, "ms", (json_int_t)r->ms, "ok", r->ok, "error",
	                        r->ok ? json_null() : json_string(r->error));
	if (res)
		net_pending_reply(&ec->p, res);
	else
		net_pending_error(&ec->p, JSONRPC_INTERNAL_ERROR, NULL,
		                  "Internal error: out of memory");
	free(ec);
}

static bool check_sizes(struct rpc_call *call, json_int_t streams, json_int_t bytes)
{
	const char *bad = NULL;
	if (streams < 1 || streams > ECHOTEST_MAX_STREAMS)
		bad = "streams must be 1 to 1000";
	else if (bytes < 0 || (uint64_t)bytes > TEST_ECHO_MAX_TOTAL / (uint64_t)streams)
		bad = "bytes must be 0 or more, and streams * bytes at most 8 GiB";
	if (!bad)
		return true;
	rpc_call_errorf(call, JSONRPC_INVALID_PARAMS, "%s: %s",
	                jsonrpc_code_message(JSONRPC_INVALID_PARAMS), bad);
	return false;
}

static int run_echo(void *ctx, struct rpc_call *call, json_t *params)
{
	struct node *n = ctx;
	if (net_not_ready(n, call))
		return 0;
	struct peerid peer;
	if (!net_param_peer(call, params, "peer_id", &peer))
		return 0;
	json_int_t streams = json_integer_value(json_object_get(params, "streams"));
	json_int_t bytes = json_integer_value(json_object_get(params, "bytes"));
	if (!check_sizes(call, streams, bytes))
		return 0;
	const char *proto = json_string_value(json_object_get(params, "protocol"));
	struct echo_call *ec = calloc(1, sizeof(*ec));
	if (!ec)
		return -ENOMEM;
	int r = net_pending_add(n, &ec->p, call, echo_stop);
	if (r < 0) {
		free(ec);
		return r;
	}
	r = echotest_start(n->host, &peer, proto, (unsigned)streams, (uint64_t)bytes, echo_done, ec,
	                   &ec->op);
	if (r < 0) {
		char id[PEERID_TEXT_MAX];
		net_peer_text(&peer, id);
		if (r == -ENOTCONN)
			net_pending_error(&ec->p, JSONRPC_NOT_FOUND, NULL,
			                  "%s: not connected to %s; connect first (net.connect)",
			                  jsonrpc_code_message(JSONRPC_NOT_FOUND), id);
		else
			net_pending_error(&ec->p, JSONRPC_INVALID_PARAMS, NULL,
			                  "%s: cannot start the echo: %s",
			                  jsonrpc_code_message(JSONRPC_INVALID_PARAMS),
			                  strerror(-r));
		free(ec);
	}
	return 0;
}

static const struct rpc_param echo_params[] = {
        {"peer_id", RPC_PARAM_STRING, true},
        {"streams", RPC_PARAM_INT, true},
        {"bytes", RPC_PARAM_INT, true},
        {"protocol", RPC_PARAM_STRING, false},
        {0},
};

const struct rpc_method rpc_test_methods[] = {
        {"test.echo", echo_params, run_echo},
        {0},
};
