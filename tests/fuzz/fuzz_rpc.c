/* Fuzz the control plane's input side without sockets: arbitrary bytes go
 * through the line framer and the request/response parsers directly, then
 * through a real rpc_server with a dummy method table over an in-memory
 * bufferevent pair. Checks: no crash or leak, every line the server sends is
 * JSON, and what the server keeps per client stays under its caps. */
#include <assert.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"
#include "rpc-internal.h"

#define FUZZ_MAX_LINE 4096
#define FUZZ_MAX_OUT 16384
#define FUZZ_TURNS 32

static struct event_base *base;
static struct rpc_server *srv;
static struct rpc_call *held[4];
static size_t nheld;

static int run_echo(void *ctx, struct rpc_call *call, json_t *params)
{
	rpc_call_reply(call, json_incref(params));
	return 0;
}

static int run_hold(void *ctx, struct rpc_call *call, json_t *params)
{
	if (nheld < 4)
		held[nheld++] = call;
	else
		rpc_call_error(call, JSONRPC_BUSY, "Busy: test", json_true());
	return 0;
}

static int run_emit(void *ctx, struct rpc_call *call, json_t *params)
{
	rpc_server_emit(srv, json_string_value(json_object_get(params, "kind")), params);
	rpc_call_reply(call, NULL);
	return 0;
}

static int run_fail(void *ctx, struct rpc_call *call, json_t *params)
{
	return -EINVAL;
}

static const struct rpc_param echo_params[] = {
        {"value", RPC_PARAM_ANY, true}, {"n", RPC_PARAM_INT, false},
        {"s", RPC_PARAM_STRING, false}, {"o", RPC_PARAM_OBJECT, false},
        {"b", RPC_PARAM_BOOL, false},   {0},
};
static const struct rpc_param emit_params[] = {{"kind", RPC_PARAM_STRING, true}, {0}};

static const struct rpc_method dummy[] = {
        {"t.echo", echo_params, run_echo},
        {"t.hold", NULL, run_hold},
        {"t.emit", emit_params, run_emit},
        {"t.fail", NULL, run_fail},
        {0},
};

static void parse_line(const char *line, size_t len)
{
	json_t *msg = NULL, *err = NULL;
	if (jsonrpc_parse(line, len, &msg, &err) < 0) {
		json_decref(err);
		return;
	}
	size_t n = json_is_array(msg) ? json_array_size(msg) : 1;
	for (size_t i = 0; i < n; i++) {
		json_t *m = json_is_array(msg) ? json_array_get(msg, i) : msg;
		struct jsonrpc_request req;
		struct jsonrpc_response resp;
		err = NULL;
		if (jsonrpc_request_check(m, &req, &err) == 0)
			assert(req.method && (!req.params || json_is_object(req.params) ||
			                      json_is_array(req.params)));
		json_decref(err);
		if (jsonrpc_response_parse(m, &resp, NULL) == 0)
			assert(!resp.result != !resp.message);
		(void)jsonrpc_kind_of(m);
	}
	json_decref(msg);
}

/* The sans-I/O layer alone, split at a place the input chooses. */
static void fuzz_framer(const uint8_t *data, size_t size)
{
	struct jsonrpc_framer f;
	jsonrpc_framer_init(&f, 256);
	size_t cut = size ? data[0] % (size + 1) : 0;
	const char *line;
	size_t len;
	int r = 0;
	if (jsonrpc_framer_feed(&f, data, cut) == 0)
		while ((r = jsonrpc_framer_pop(&f, &line, &len)) == 1)
			parse_line(line, len);
	if (r == 0 && jsonrpc_framer_feed(&f, data + cut, size - cut) == 0)
		while ((r = jsonrpc_framer_pop(&f, &line, &len)) == 1)
			parse_line(line, len);
	assert(r == 0 || r == -EMSGSIZE);
	assert(jsonrpc_framer_buffered(&f) <= 256 + size);
	jsonrpc_framer_free(&f);
}

/* Everything the server wrote must be complete JSON lines. */
static void check_output(struct bufferevent *peer)
{
	struct evbuffer *in = bufferevent_get_input(peer);
	size_t len;
	char *line;
	while ((line = evbuffer_readln(in, &len, EVBUFFER_EOL_LF))) {
		json_t *m = json_loadb(line, len, 0, NULL);
		assert(m);
		assert(json_is_object(m) || json_is_array(m));
		json_decref(m);
		free(line);
	}
}

static void answer_held(void)
{
	for (size_t i = 0; i < nheld; i++)
		rpc_call_reply(held[i], json_string("late"));
	nheld = 0;
}

static void fuzz_server(const uint8_t *data, size_t size)
{
	static const struct rpc_method *const tables[] = {dummy, rpc_events_methods,
	                                                  rpc_discover_methods, NULL};
	struct rpc_server_config cfg;
	rpc_server_config_default(&cfg);
	cfg.max_request = FUZZ_MAX_LINE;
	cfg.max_pending_out = FUZZ_MAX_OUT;
	cfg.max_calls_per_client = 3;
	if (rpc_server_new(base, -1, &cfg, tables, NULL, &srv) < 0)
		abort();
	struct bufferevent *pair[2];
	if (bufferevent_pair_new(base, 0, pair) < 0)
		abort();
	struct rpc_peer peer = {.pid = getpid(), .uid = getuid(), .gid = getgid()};
	struct rpc_client *c;
	if (rpc_client_new(srv, pair[0], &peer, &c) < 0)
		abort();
	bufferevent_enable(pair[1], EV_READ | EV_WRITE);
	bufferevent_write(pair[1], data, size);
	for (int i = 0; i < FUZZ_TURNS; i++) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		if (i == FUZZ_TURNS / 2)
			answer_held();
		check_output(pair[1]);
	}
	struct rpc_server_stats st;
	rpc_server_get_stats(srv, &st);
	assert(st.clients <= 1 && st.calls_pending <= 3);
	rpc_server_free(srv);
	srv = NULL;
	answer_held();
	bufferevent_free(pair[1]);
	event_base_loop(base, EVLOOP_NONBLOCK);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!base && !(base = event_base_new()))
		abort();
	fuzz_framer(data, size);
	fuzz_server(data, size);
	return 0;
}
