/* The control server end to end: a real event_base serving a Unix socket in
 * a temporary directory, real client sockets, and a table of test methods.
 * The loop is driven in bounded non-blocking turns (Unix sockets deliver
 * synchronously, so a bounded number of turns is enough); nothing sleeps. */
#include "testutil.h"

#include <errno.h>
#include <time.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rpc.h"

#define TURNS 2000

struct fixture {
	struct event_base *base;
	struct rpc_server *srv;
	char dir[64];
	char path[96];
};

struct tclient {
	int fd;
	struct jsonrpc_framer fr;
	bool eof;
};

static struct fixture *fx;
static int ctx_marker;
static struct rpc_call *held[8];
static size_t nheld;
static int hook_calls;

/* ---- Test methods ---- */

static int run_add(void *ctx, struct rpc_call *call, json_t *params)
{
	json_int_t a = json_integer_value(json_object_get(params, "a"));
	json_int_t b = json_integer_value(json_object_get(params, "b"));
	rpc_call_reply(call, json_integer(a + b));
	return 0;
}

static int run_ctx(void *ctx, struct rpc_call *call, json_t *params)
{
	rpc_call_reply(call, json_boolean(ctx == &ctx_marker));
	return 0;
}

static int run_big(void *ctx, struct rpc_call *call, json_t *params)
{
	size_t n = (size_t)json_integer_value(json_object_get(params, "size"));
	char *s = malloc(n + 1);
	memset(s, 'x', n);
	s[n] = '\0';
	rpc_call_reply(call, json_string(s));
	free(s);
	return 0;
}

static int run_hold(void *ctx, struct rpc_call *call, json_t *params)
{
	assert_true(nheld < 8);
	held[nheld++] = call;
	return 0;
}

static void later_cb(evutil_socket_t fd, short what, void *arg)
{
	rpc_call_reply(arg, json_string("later"));
}

static int run_later(void *ctx, struct rpc_call *call, json_t *params)
{
	struct timeval now = {0, 0};
	return event_base_once(fx->base, -1, EV_TIMEOUT, later_cb, call, &now) < 0 ? -ENOMEM : 0;
}

static int run_fail(void *ctx, struct rpc_call *call, json_t *params)
{
	return -EIO;
}

static void hook(void *userdata, struct rpc_client *c)
{
	(*(int *)userdata)++;
}

static int run_hook(void *ctx, struct rpc_call *call, json_t *params)
{
	struct rpc_client *c = rpc_call_client(call);
	int r = rpc_client_on_close(c, hook, &hook_calls);
	if (r == 0 && json_is_true(json_object_get(params, "off")))
		rpc_client_off_close(c, hook, &hook_calls);
	rpc_call_reply(call, json_integer(r));
	return 0;
}

static const struct rpc_param add_params[] = {
        {"a", RPC_PARAM_INT, true},
        {"b", RPC_PARAM_INT, true},
        {0},
};
static const struct rpc_param big_params[] = {{"size", RPC_PARAM_INT, true}, {0}};
static const struct rpc_param hook_params[] = {{"off", RPC_PARAM_BOOL, false}, {0}};

static const struct rpc_method test_methods[] = {
        {"test.add", add_params, run_add},    {"test.ctx", NULL, run_ctx},
        {"test.big", big_params, run_big},    {"test.hold", NULL, run_hold},
        {"test.later", NULL, run_later},      {"test.fail", NULL, run_fail},
        {"test.hook", hook_params, run_hook}, {0},
};

/* ---- Fixture ---- */

static int setup(void **state)
{
	fx = calloc(1, sizeof(*fx));
	fx->base = event_base_new();
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/sdnetd-rpc-test.XXXXXX");
	if (!fx->base || !mkdtemp(fx->dir))
		return -1;
	snprintf(fx->path, sizeof(fx->path), "%s/control.sock", fx->dir);
	nheld = 0;
	hook_calls = 0;
	return 0;
}

static int teardown(void **state)
{
	rpc_server_free(fx->srv);
	for (size_t i = 0; i < nheld; i++)
		rpc_call_reply(held[i], NULL);
	event_base_free(fx->base);
	unlink(fx->path);
	rmdir(fx->dir);
	free(fx);
	return 0;
}

static int listen_socket(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", fx->path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 64), 0);
	return fd;
}

static void start(const struct rpc_server_config *cfg)
{
	static const struct rpc_method *const tables[] = {test_methods, rpc_events_methods,
	                                                  rpc_discover_methods, NULL};
	struct rpc_server_config def;
	if (!cfg) {
		rpc_server_config_default(&def);
		cfg = &def;
	}
	int lfd = listen_socket();
	assert_int_equal(rpc_server_new(fx->base, lfd, cfg, tables, &ctx_marker, &fx->srv), 0);
}

static void pump(int turns)
{
	for (int i = 0; i < turns; i++)
		event_base_loop(fx->base, EVLOOP_NONBLOCK);
}

static struct rpc_server_stats stats(void)
{
	struct rpc_server_stats st;
	rpc_server_get_stats(fx->srv, &st);
	return st;
}

/* ---- Clients ---- */

static struct tclient *cli_open(void)
{
	struct tclient *c = calloc(1, sizeof(*c));
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", fx->path);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	assert_int_equal(connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	jsonrpc_framer_init(&c->fr, (size_t)64 << 20);
	return c;
}

static void cli_close(struct tclient *c)
{
	if (c->fd >= 0)
		close(c->fd);
	jsonrpc_framer_free(&c->fr);
	free(c);
}

static void cli_send_raw(struct tclient *c, const void *data, size_t len)
{
	const char *p = data;
	for (int i = 0; len > 0 && i < TURNS; i++) {
		ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
		} else {
			pump(1);
		}
	}
	assert_int_equal(len, 0);
}

static void cli_send(struct tclient *c, const char *line)
{
	cli_send_raw(c, line, strlen(line));
	cli_send_raw(c, "\n", 1);
}

/* Read what the socket has; false when nothing came. */
static bool cli_read(struct tclient *c)
{
	char tmp[65536];
	ssize_t n = recv(c->fd, tmp, sizeof(tmp), MSG_DONTWAIT);
	if (n > 0) {
		assert_int_equal(jsonrpc_framer_feed(&c->fr, tmp, (size_t)n), 0);
		return true;
	}
	if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
		c->eof = true;
	return false;
}

/* The next line from the server, parsed; NULL if none came in TURNS turns. */
static json_t *cli_next(struct tclient *c)
{
	for (int i = 0; i < TURNS; i++) {
		const char *line;
		size_t len;
		if (jsonrpc_framer_pop(&c->fr, &line, &len) == 1) {
			json_t *m = json_loadb(line, len, 0, NULL);
			assert_non_null(m);
			return m;
		}
		if (!cli_read(c))
			pump(1);
	}
	return NULL;
}

static bool cli_wait_eof(struct tclient *c)
{
	for (int i = 0; i < TURNS && !c->eof; i++)
		if (!cli_read(c))
			pump(1);
	return c->eof;
}

static json_t *cli_call(struct tclient *c, const char *req)
{
	cli_send(c, req);
	json_t *r = cli_next(c);
	assert_non_null(r);
	return r;
}

static int error_code(json_t *reply)
{
	return (int)json_integer_value(json_object_get(json_object_get(reply, "error"), "code"));
}

static const char *error_message(json_t *reply)
{
	return json_string_value(json_object_get(json_object_get(reply, "error"), "message"));
}

static void assert_error(json_t *reply, int code, const char *needle)
{
	assert_int_equal(error_code(reply), code);
	const char *m = error_message(reply);
	if (!m || !strstr(m, needle))
		fail_msg("error message \"%s\" lacks \"%s\"", m ? m : "(none)", needle);
	json_decref(reply);
}

static void assert_result(json_t *reply, const char *want_result, const char *want_id)
{
	json_t *want = json_loads(want_result, JSON_DECODE_ANY, NULL);
	json_t *id = json_loads(want_id, JSON_DECODE_ANY, NULL);
	if (!json_equal(json_object_get(reply, "result"), want) ||
	    !json_equal(json_object_get(reply, "id"), id)) {
		char *g = json_dumps(reply, JSON_COMPACT);
		print_error("unexpected reply %s\n", g);
		free(g);
		fail();
	}
	json_decref(want);
	json_decref(id);
	json_decref(reply);
}

#define ADD(id)                                                                                    \
	"{\"jsonrpc\":\"2.0\",\"method\":\"test.add\",\"params\":{\"a\":2,\"b\":3},\"id\":" id "}"

/* ---- Tests ---- */

static void test_round_trip(void **state)
{
	start(NULL);
	struct tclient *c = cli_open();
	assert_result(cli_call(c, ADD("1")), "5", "1");
	assert_result(cli_call(c, ADD("\"abc\"")), "5", "\"abc\"");
	assert_result(cli_call(c, "{\"jsonrpc\":\"2.0\",\"method\":\"test.ctx\",\"params\":[],"
	                          "\"id\":null}"),
	              "true", "null");
	assert_int_equal(stats().clients, 1);
	assert_int_equal(stats().requests, 3);
	cli_close(c);
}

static void test_malformed_json(void **state)
{
	start(NULL);
	struct tclient *c = cli_open();
	assert_error(cli_call(c, "{\"jsonrpc\":\"2.0\",\"method\":"), JSONRPC_PARSE_ERROR,
	             "Parse error");
	assert_error(cli_call(c, "[]"), JSONRPC_INVALID_REQUEST, "empty batch");
	assert_error(cli_call(c, "{\"jsonrpc\":\"2.0\",\"method\":5,\"id\":1}"),
	             JSONRPC_INVALID_REQUEST, "\"method\" must be");
	/* The connection is still good. */
	assert_result(cli_call(c, ADD("2")), "5", "2");
	cli_close(c);
}

static void test_wrong_params(void **state)
{
	start(NULL);
	struct tclient *c = cli_open();
	assert_error(cli_call(c, "{\"jsonrpc\":\"2.0\",\"method\":\"test.add\",\"params\":"
	                         "{\"a\":\"x\",\"b\":1},\"id\":1}"),
	             JSONRPC_INVALID_PARAMS, "\"a\" of test.add must be an integer");
	assert_error(cli_call(c, "{\"jsonrpc\":\"2.0\",\"method\":\"test.add\",\"params\":"
	                         "{\"a\":1},\"id\":1}"),
	             JSONRPC_INVALID_PARAMS, "needs parameter \"b\"");
	assert_error(cli_call(c, "{\"jsonrpc\":\"2.0\",\"method\":\"test.add\",\"params\":"
	                         "{\"a\":1,\"b\":2,\"c\":3},\"id\":1}"),
	             JSONRPC_INVALID_PARAMS, "unknown parameter \"c\"");
	assert_error(cli_call(c, "{\"jsonrpc\":\"2.0\",\"method\":\"test.add\",\"params\":"
	                         "[1,2],\"id\":1}"),
	             JSONRPC_INVALID_PARAMS, "by name");
	assert_error(cli_call(c, "{\"jsonrpc\":\"2.0\",\"method\":\"test.ctx\",\"params\":"
	                         "{\"x\":1},\"id\":1}"),
	             JSONRPC_INVALID_PARAMS, "takes no parameters");
	assert_error(cli_call(c, "{\"jsonrpc\":\"2.0\",\"method\":\"events.subscribe\",\"params\":"
	                         "{\"kinds\":[\"ok\",3]},\"id\":1}"),
	             JSONRPC_INVALID_PARAMS, "kinds[1] must be a string");
	assert_int_equal(stats().requests, 1); /* only the subscribe ran */
	cli_close(c);
}

static void test_unknown_method_and_failure(void **state)
{
	start(NULL);
	struct tclient *c = cli_open();
	assert_error(cli_call(c, "{\"jsonrpc\":\"2.0\",\"method\":\"node.nope\",\"id\":9}"),
	             JSONRPC_METHOD_NOT_FOUND, "no method \"node.nope\"");
	assert_error(cli_call(c, "{\"jsonrpc\":\"2.0\",\"method\":\"test.fail\",\"id\":9}"),
	             JSONRPC_INTERNAL_ERROR, "test.fail failed: Input/output error");
	json_t *r = cli_call(c, "{\"jsonrpc\":\"2.0\",\"method\":\"rpc.discover\",\"id\":1}");
	assert_string_equal(
	        json_string_value(json_object_get(json_object_get(r, "result"), "openrpc")),
	        "1.2.6");
	json_decref(r);
	cli_close(c);
}

/* Notifications get nothing back, not even errors: the next line a client
 * reads is the answer to its next request. */
static void test_notifications_silent(void **state)
{
	start(NULL);
	struct tclient *c = cli_open();
	cli_send(c, "{\"jsonrpc\":\"2.0\",\"method\":\"test.add\",\"params\":{\"a\":1,\"b\":1}}");
	cli_send(c, "{\"jsonrpc\":\"2.0\",\"method\":\"no.such\"}");
	cli_send(c, "{\"jsonrpc\":\"2.0\",\"method\":\"test.add\",\"params\":{\"a\":1}}");
	cli_send(c, "[{\"jsonrpc\":\"2.0\",\"method\":\"test.ctx\"},"
	            "{\"jsonrpc\":\"2.0\",\"method\":\"test.ctx\"}]");
	assert_result(cli_call(c, ADD("7")), "5", "7");
	assert_int_equal(stats().requests, 4);
	cli_close(c);
}

static void test_batch(void **state)
{
	start(NULL);
	struct tclient *c = cli_open();
	json_t *r = cli_call(
	        c, "[" ADD("1") ",{\"jsonrpc\":\"2.0\",\"method\":\"test.ctx\"},"
	                        "{\"foo\":1},{\"jsonrpc\":\"2.0\",\"method\":\"x.y\",\"id\":4}]");
	assert_true(json_is_array(r));
	assert_int_equal(json_array_size(r), 3);
	assert_result(json_incref(json_array_get(r, 0)), "5", "1");
	assert_int_equal(error_code(json_array_get(r, 1)), JSONRPC_INVALID_REQUEST);
	assert_int_equal(error_code(json_array_get(r, 2)), JSONRPC_METHOD_NOT_FOUND);
	json_decref(r);
	cli_close(c);
}

/* A batch answers once, when its slowest call does. */
static void test_batch_async(void **state)
{
	start(NULL);
	struct tclient *c = cli_open();
	cli_send(c, "[{\"jsonrpc\":\"2.0\",\"method\":\"test.hold\",\"id\":1}," ADD("2") "]");
	for (int i = 0; i < TURNS && nheld == 0; i++)
		pump(1);
	assert_int_equal(nheld, 1);
	assert_result(cli_call(c, ADD("3")), "5", "3");
	rpc_call_reply(held[0], json_string("held"));
	nheld = 0;
	json_t *r = cli_next(c);
	assert_int_equal(json_array_size(r), 2);
	assert_result(json_incref(json_array_get(r, 0)), "5", "2");
	assert_result(json_incref(json_array_get(r, 1)), "\"held\"", "1");
	json_decref(r);
	cli_close(c);
}

static void test_async_reply(void **state)
{
	start(NULL);
	struct tclient *c = cli_open();
	assert_result(cli_call(c, "{\"jsonrpc\":\"2.0\",\"method\":\"test.later\",\"id\":5}"),
	              "\"later\"", "5");
	/* Answers may overtake: a held call does not block the next one. */
	cli_send(c, "{\"jsonrpc\":\"2.0\",\"method\":\"test.hold\",\"id\":6}");
	assert_result(cli_call(c, ADD("7")), "5", "7");
	assert_int_equal(nheld, 1);
	assert_int_equal(stats().calls_pending, 1);
	assert_true(rpc_call_alive(held[0]));
	rpc_call_reply(held[0], json_integer(6));
	nheld = 0;
	assert_result(cli_next(c), "6", "6");
	assert_int_equal(stats().calls_pending, 0);
	cli_close(c);
}

static void test_disconnect_before_reply(void **state)
{
	start(NULL);
	struct tclient *c = cli_open();
	assert_result(cli_call(c, "{\"jsonrpc\":\"2.0\",\"method\":\"test.hook\",\"id\":1}"), "0",
	              "1");
	assert_result(cli_call(c, "{\"jsonrpc\":\"2.0\",\"method\":\"test.hook\",\"params\":"
	                          "{\"off\":true},\"id\":2}"),
	              "0", "2");
	cli_send(c, "{\"jsonrpc\":\"2.0\",\"method\":\"test.hold\",\"id\":1}");
	for (int i = 0; i < TURNS && nheld == 0; i++)
		pump(1);
	assert_int_equal(nheld, 1);
	close(c->fd);
	c->fd = -1;
	for (int i = 0; i < TURNS && stats().clients > 0; i++)
		pump(1);
	pump(2); /* let the reaper run */
	assert_int_equal(stats().clients, 0);
	assert_int_equal(hook_calls, 1);
	assert_false(rpc_call_alive(held[0]));
	assert_null(rpc_call_client(held[0]));
	rpc_call_reply(held[0], json_string("too late"));
	nheld = 0;
	cli_close(c);
}

/* A client that half-closes after its request still gets the answer. */
static void test_eof_flushes(void **state)
{
	start(NULL);
	struct tclient *c = cli_open();
	cli_send(c, ADD("1"));
	shutdown(c->fd, SHUT_WR);
	assert_result(cli_next(c), "5", "1");
	assert_true(cli_wait_eof(c));
	cli_close(c);
}

/* Shutdown: an answer queued in the turn the server is freed still goes
 * out (node.shutdown answers, then the daemon stops its loop). */
static void test_free_flushes(void **state)
{
	start(NULL);
	struct tclient *c = cli_open();
	cli_send(c, ADD("1"));
	for (int i = 0; i < TURNS && stats().requests == 0; i++)
		event_base_loop(fx->base, EVLOOP_NONBLOCK | EVLOOP_ONCE);
	assert_int_equal(stats().requests, 1);
	rpc_server_free(fx->srv);
	fx->srv = NULL;
	assert_true(cli_read(c));
	assert_result(cli_next(c), "5", "1");
	assert_true(cli_wait_eof(c));
	cli_close(c);
}

static void test_oversized_request(void **state)
{
	struct rpc_server_config cfg;
	rpc_server_config_default(&cfg);
	cfg.max_request = 4096;
	start(&cfg);
	struct tclient *bad = cli_open(), *good = cli_open();
	char junk[5000];
	memset(junk, ' ', sizeof(junk));
	junk[0] = '[';
	cli_send_raw(bad, junk, sizeof(junk));
	json_t *r = cli_next(bad);
	assert_non_null(r);
	assert_true(json_is_null(json_object_get(r, "id")));
	assert_error(r, JSONRPC_INVALID_REQUEST, "request too large (");
	assert_true(cli_wait_eof(bad));
	assert_int_equal(stats().dropped_oversize, 1);
	assert_result(cli_call(good, ADD("1")), "5", "1");
	cli_close(bad);
	cli_close(good);
}

static void test_oversized_message_text(void **state)
{
	start(NULL);
	struct tclient *c = cli_open();
	size_t n = JSONRPC_MAX_REQUEST + 10;
	char *junk = malloc(n);
	memset(junk, ' ', n);
	cli_send_raw(c, junk, n);
	free(junk);
	json_t *r = cli_next(c);
	assert_non_null(r);
	char want[96];
	snprintf(want, sizeof(want), "bytes, limit %zu)", JSONRPC_MAX_REQUEST);
	assert_error(r, JSONRPC_INVALID_REQUEST, want);
	assert_true(cli_wait_eof(c));
	cli_close(c);
}

/* A client that never reads is dropped once its queue passes the cap;
 * meanwhile another client is served on every turn. */
static void test_slow_client_dropped(void **state)
{
	struct rpc_server_config cfg;
	rpc_server_config_default(&cfg);
	cfg.max_pending_out = 64 * 1024;
	start(&cfg);
	struct tclient *slow = cli_open(), *good = cli_open();
	const char *big =
	        "{\"jsonrpc\":\"2.0\",\"method\":\"test.big\",\"params\":{\"size\":16384},"
	        "\"id\":1}\n";
	int i;
	for (i = 0; i < 500 && stats().dropped_slow == 0; i++) {
		(void)!send(slow->fd, big, strlen(big), MSG_NOSIGNAL | MSG_DONTWAIT);
		pump(3);
		assert_result(cli_call(good, ADD("2")), "5", "2");
	}
	assert_int_equal(stats().dropped_slow, 1);
	assert_true(i > 4); /* the kernel buffer and the cap were filled first */
	pump(2);
	assert_int_equal(stats().clients, 1);
	assert_result(cli_call(good, ADD("3")), "5", "3");
	/* The slow client reads what reached its socket, then EOF. */
	assert_true(cli_wait_eof(slow));
	cli_close(slow);
	cli_close(good);
}

static void test_calls_per_client_cap(void **state)
{
	struct rpc_server_config cfg;
	rpc_server_config_default(&cfg);
	cfg.max_calls_per_client = 2;
	start(&cfg);
	struct tclient *c = cli_open();
	cli_send(c, "{\"jsonrpc\":\"2.0\",\"method\":\"test.hold\",\"id\":1}");
	cli_send(c, "{\"jsonrpc\":\"2.0\",\"method\":\"test.hold\",\"id\":2}");
	assert_error(cli_call(c, "{\"jsonrpc\":\"2.0\",\"method\":\"test.hold\",\"id\":3}"),
	             JSONRPC_BUSY, "(limit 2)");
	assert_int_equal(nheld, 2);
	cli_close(c);
}

static void test_clients_per_uid_cap(void **state)
{
	struct rpc_server_config cfg;
	rpc_server_config_default(&cfg);
	cfg.max_clients_per_uid = 2;
	start(&cfg);
	struct tclient *a = cli_open(), *b = cli_open(), *c = cli_open();
	assert_result(cli_call(a, ADD("1")), "5", "1");
	assert_result(cli_call(b, ADD("1")), "5", "1");
	assert_error(cli_next(c), JSONRPC_BUSY, "connections (limit 2)");
	assert_true(cli_wait_eof(c));
	assert_int_equal(stats().refused_limit, 1);
	assert_int_equal(stats().clients, 2);
	cli_close(a);
	cli_close(b);
	cli_close(c);
}

/* Child side of the cross-uid test: become nobody, connect, and report
 * through the exit status whether the server refused us with -32003. */
static void child_as_nobody(void)
{
	if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0)
		_exit(10);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", fx->path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		_exit(11);
	char buf[1024];
	size_t len = 0;
	ssize_t n;
	while (len < sizeof(buf) - 1 && (n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)n;
	json_t *m = json_loadb(buf, len, 0, NULL);
	_exit(m && error_code(m) == JSONRPC_PERMISSION_DENIED ? 0 : 12);
}

/* As root: a real second uid. Otherwise: pretend the daemon runs as
 * someone else. Either way the peer is refused with one error line. */
static void test_socket_refuses_other_uid(void **state)
{
	struct rpc_server_config cfg;
	rpc_server_config_default(&cfg);
	if (getuid() != 0)
		cfg.owner_uid = getuid() + 1;
	start(&cfg);
	if (getuid() == 0) {
		assert_int_equal(chmod(fx->dir, 0755), 0);
		assert_int_equal(chmod(fx->path, 0777), 0);
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0)
			child_as_nobody();
		/* Bounded by time, not by loop turns: on a loaded machine the
		 * child may not even run before thousands of idle turns pass. */
		int status = -1;
		struct timespec t0, t;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		do {
			pump(1);
			if (waitpid(pid, &status, WNOHANG) != 0)
				break;
			clock_gettime(CLOCK_MONOTONIC, &t);
		} while (t.tv_sec - t0.tv_sec < 20);
		if (status == -1) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
		}
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	} else {
		struct tclient *c = cli_open();
		assert_error(cli_next(c), JSONRPC_PERMISSION_DENIED, "may not use this socket");
		assert_true(cli_wait_eof(c));
		cli_close(c);
	}
	assert_int_equal(stats().refused_permission, 1);
	assert_int_equal(stats().clients, 0);
}

static void test_peer_check(void **state)
{
	struct rpc_server_config cfg;
	rpc_server_config_default(&cfg);
	cfg.owner_uid = 1000;
	struct errmsg why;
	assert_int_equal(rpc_peer_check(&cfg, 1000, 1000, NULL, 0, &why), 0);
	assert_int_equal(rpc_peer_check(&cfg, 0, 0, NULL, 0, &why), 0);
	gid_t groups[] = {7, 500};
	assert_int_equal(rpc_peer_check(&cfg, 1001, 500, groups, 2, &why), -EPERM);
	assert_non_null(strstr(why.text, "uid 1001 may not use this socket"));
	assert_non_null(strstr(why.text, "only uid 1000"));
	cfg.allowed_gid = 500;
	assert_int_equal(rpc_peer_check(&cfg, 1001, 500, NULL, 0, &why), 0);
	assert_int_equal(rpc_peer_check(&cfg, 1001, 100, groups, 2, &why), 0);
	assert_int_equal(rpc_peer_check(&cfg, 1001, 100, groups, 1, &why), -EPERM);
	assert_non_null(strstr(why.text, "members of group"));
	assert_int_equal(rpc_peer_check(&cfg, 65534, 65534, NULL, 0, NULL), -EPERM);
}

static void kinds_are(struct tclient *c, const char *want)
{
	/* Collect notifications until the answer to a marker request. */
	cli_send(c, ADD("\"marker\""));
	json_t *got = json_array(), *m;
	while ((m = cli_next(c)) && json_object_get(m, "method")) {
		json_t *p = json_object_get(m, "params");
		json_array_append(got, json_object_get(p, "kind"));
		json_decref(m);
	}
	assert_non_null(m);
	assert_result(m, "5", "\"marker\"");
	json_t *w = json_loads(want, 0, NULL);
	if (!json_equal(got, w)) {
		char *g = json_dumps(got, JSON_COMPACT);
		print_error("events: expected %s, got %s\n", want, g);
		free(g);
		fail();
	}
	json_decref(w);
	json_decref(got);
}

static void emit_all(void)
{
	json_t *data = json_pack("{si}", "n", 1);
	rpc_server_emit(fx->srv, "c.z", data);
	rpc_server_emit(fx->srv, "a.x", data);
	rpc_server_emit(fx->srv, "b.q", NULL);
	rpc_server_emit(fx->srv, "a.y", data);
	assert_int_equal(data->refcount, 1);
	json_decref(data);
}

static void test_events_filter(void **state)
{
	start(NULL);
	struct tclient *some = cli_open(), *all = cli_open(), *none = cli_open();
	assert_result(cli_call(some, "{\"jsonrpc\":\"2.0\",\"method\":\"events.subscribe\","
	                             "\"params\":{\"kinds\":[\"a.x\",\"b.*\"]},\"id\":1}"),
	              "{\"subscribed\":true,\"kinds\":[\"a.x\",\"b.*\"]}", "1");
	assert_result(cli_call(all, "{\"jsonrpc\":\"2.0\",\"method\":\"events.subscribe\","
	                            "\"id\":1}"),
	              "{\"subscribed\":true,\"kinds\":null}", "1");
	assert_result(cli_call(none, ADD("0")), "5", "0");
	emit_all();
	kinds_are(some, "[\"a.x\",\"b.q\"]");
	kinds_are(all, "[\"c.z\",\"a.x\",\"b.q\",\"a.y\"]");
	kinds_are(none, "[]");
	assert_int_equal(stats().events, 6);
	assert_result(cli_call(all, "{\"jsonrpc\":\"2.0\",\"method\":\"events.unsubscribe\","
	                            "\"id\":2}"),
	              "{\"subscribed\":false}", "2");
	emit_all();
	kinds_are(all, "[]");
	kinds_are(some, "[\"a.x\",\"b.q\"]");
	cli_close(some);
	cli_close(all);
	cli_close(none);
}

static void test_server_new_errors(void **state)
{
	static const struct rpc_method dup[] = {
	        {"x.a", NULL, run_ctx},
	        {"x.a", NULL, run_ctx},
	        {0},
	};
	static const struct rpc_method norun[] = {{"x.b", NULL, NULL}, {0}};
	const struct rpc_method *const t1[] = {dup, NULL};
	const struct rpc_method *const t2[] = {norun, NULL};
	const struct rpc_method *const t3[] = {rpc_events_methods, rpc_events_methods, NULL};
	struct rpc_server_config cfg;
	rpc_server_config_default(&cfg);
	struct rpc_server *s = NULL;
	assert_int_equal(rpc_server_new(fx->base, -1, &cfg, t1, NULL, &s), -EEXIST);
	assert_int_equal(rpc_server_new(fx->base, -1, &cfg, t2, NULL, &s), -EINVAL);
	assert_int_equal(rpc_server_new(fx->base, -1, &cfg, t3, NULL, &s), -EEXIST);
	cfg.max_request = 0;
	assert_int_equal(rpc_server_new(fx->base, -1, &cfg, t2, NULL, &s), -EINVAL);
	assert_null(s);
}

static void test_stats_json(void **state)
{
	start(NULL);
	json_t *j = rpc_server_stats_json(fx->srv);
	assert_non_null(j);
	assert_int_equal(json_integer_value(json_object_get(j, "clients")), 0);
	assert_non_null(json_object_get(j, "dropped_slow"));
	json_decref(j);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	        T(test_round_trip),
	        T(test_malformed_json),
	        T(test_wrong_params),
	        T(test_unknown_method_and_failure),
	        T(test_notifications_silent),
	        T(test_batch),
	        T(test_batch_async),
	        T(test_async_reply),
	        T(test_disconnect_before_reply),
	        T(test_eof_flushes),
	        T(test_free_flushes),
	        T(test_oversized_request),
	        T(test_oversized_message_text),
	        T(test_slow_client_dropped),
	        T(test_calls_per_client_cap),
	        T(test_clients_per_uid_cap),
	        T(test_socket_refuses_other_uid),
	        T(test_peer_check),
	        T(test_events_filter),
	        T(test_server_new_errors),
	        T(test_stats_json),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
