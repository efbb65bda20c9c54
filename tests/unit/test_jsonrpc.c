/* JSON-RPC 2.0 framing and messages: every example of section 7 of
 * https://www.jsonrpc.org/specification run through a small sans-I/O server
 * built on common/jsonrpc.h, plus the framer's caps and the client-side
 * response parser. Error messages are ours (they say what to do), so
 * replies are compared with json_equal after checking that each message
 * starts with the spec's standard phrase. */
#include "testutil.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "jsonrpc.h"

/* ---- A spec-example server on top of the library ---- */

static json_int_t arg(json_t *params, size_t pos, const char *name)
{
	json_t *v =
	        json_is_array(params) ? json_array_get(params, pos) : json_object_get(params, name);
	return json_integer_value(v);
}

static json_t *sum(json_t *params)
{
	json_int_t s = 0;
	size_t i;
	json_t *v;
	json_array_foreach(params, i, v) s += json_integer_value(v);
	return json_integer(s);
}

static json_t *handle(json_t *msg)
{
	struct jsonrpc_request req;
	json_t *err = NULL, *result;
	if (jsonrpc_request_check(msg, &req, &err) < 0)
		return err;
	if (strcmp(req.method, "subtract") == 0)
		result = json_integer(arg(req.params, 0, "minuend") -
		                      arg(req.params, 1, "subtrahend"));
	else if (strcmp(req.method, "sum") == 0)
		result = sum(req.params);
	else if (strcmp(req.method, "get_data") == 0)
		result = json_pack("[si]", "hello", 5);
	else if (strcmp(req.method, "update") == 0 || strncmp(req.method, "notify_", 7) == 0)
		result = json_null();
	else
		return req.id ? jsonrpc_error_newf(req.id, JSONRPC_METHOD_NOT_FOUND,
		                                   "Method not found: %s", req.method)
		              : NULL;
	if (!req.id) {
		json_decref(result);
		return NULL;
	}
	return jsonrpc_result_new(req.id, result);
}

static json_t *process(const char *line)
{
	json_t *msg = NULL, *err = NULL;
	if (jsonrpc_parse(line, strlen(line), &msg, &err) < 0) {
		assert_non_null(err);
		return err;
	}
	if (!json_is_array(msg)) {
		json_t *r = handle(msg);
		json_decref(msg);
		return r;
	}
	json_t *out = json_array(), *elem;
	size_t i;
	json_array_foreach(msg, i, elem)
	{
		json_t *r = handle(elem);
		if (r)
			json_array_append_new(out, r);
	}
	json_decref(msg);
	if (json_array_size(out) == 0) {
		json_decref(out);
		return NULL;
	}
	return out;
}

/* Check one reply against the spec's text; our message must begin with the
 * spec's, then the rest of the object must be equal. */
static void reply_matches(json_t *got, json_t *want)
{
	json_t *we = json_object_get(want, "error");
	json_t *ge = json_object_get(got, "error");
	if (we) {
		assert_non_null(ge);
		const char *wm = json_string_value(json_object_get(we, "message"));
		const char *gm = json_string_value(json_object_get(ge, "message"));
		assert_non_null(gm);
		assert_true(strncmp(gm, wm, strlen(wm)) == 0);
		assert_true(strlen(gm) > strlen(wm)); /* says more than the bare phrase */
		json_object_set_new(ge, "message", json_string(wm));
	}
	if (!json_equal(got, want)) {
		char *g = json_dumps(got, JSON_COMPACT), *w = json_dumps(want, JSON_COMPACT);
		print_error("expected %s\n     got %s\n", w, g);
		free(g);
		free(w);
		fail();
	}
}

static void expect(const char *request, const char *response)
{
	json_t *got = process(request);
	if (!response) {
		assert_null(got);
		return;
	}
	assert_non_null(got);
	json_t *want = json_loads(response, 0, NULL);
	assert_non_null(want);
	if (json_is_array(want)) {
		assert_true(json_is_array(got));
		assert_int_equal(json_array_size(got), json_array_size(want));
		for (size_t i = 0; i < json_array_size(want); i++)
			reply_matches(json_array_get(got, i), json_array_get(want, i));
	} else {
		reply_matches(got, want);
	}
	json_decref(want);
	json_decref(got);
}

static void test_spec_positional(void **state)
{
	expect("{\"jsonrpc\": \"2.0\", \"method\": \"subtract\", \"params\": [42, 23], \"id\": 1}",
	       "{\"jsonrpc\": \"2.0\", \"result\": 19, \"id\": 1}");
	expect("{\"jsonrpc\": \"2.0\", \"method\": \"subtract\", \"params\": [23, 42], \"id\": 2}",
	       "{\"jsonrpc\": \"2.0\", \"result\": -19, \"id\": 2}");
}

static void test_spec_named(void **state)
{
	expect("{\"jsonrpc\": \"2.0\", \"method\": \"subtract\", \"params\": {\"subtrahend\": 23, "
	       "\"minuend\": 42}, \"id\": 3}",
	       "{\"jsonrpc\": \"2.0\", \"result\": 19, \"id\": 3}");
	expect("{\"jsonrpc\": \"2.0\", \"method\": \"subtract\", \"params\": {\"minuend\": 42, "
	       "\"subtrahend\": 23}, \"id\": 4}",
	       "{\"jsonrpc\": \"2.0\", \"result\": 19, \"id\": 4}");
}

static void test_spec_notification(void **state)
{
	expect("{\"jsonrpc\": \"2.0\", \"method\": \"update\", \"params\": [1,2,3,4,5]}", NULL);
	expect("{\"jsonrpc\": \"2.0\", \"method\": \"foobar\"}", NULL);
}

static void test_spec_errors(void **state)
{
	expect("{\"jsonrpc\": \"2.0\", \"method\": \"foobar\", \"id\": \"1\"}",
	       "{\"jsonrpc\": \"2.0\", \"error\": {\"code\": -32601, \"message\": \"Method not "
	       "found\"}, \"id\": \"1\"}");
	expect("{\"jsonrpc\": \"2.0\", \"method\": \"foobar, \"params\": \"bar\", \"baz]",
	       "{\"jsonrpc\": \"2.0\", \"error\": {\"code\": -32700, \"message\": \"Parse "
	       "error\"}, \"id\": null}");
	expect("{\"jsonrpc\": \"2.0\", \"method\": 1, \"params\": \"bar\"}",
	       "{\"jsonrpc\": \"2.0\", \"error\": {\"code\": -32600, \"message\": \"Invalid "
	       "Request\"}, \"id\": null}");
}

static void test_spec_batch_errors(void **state)
{
	expect("[\n  {\"jsonrpc\": \"2.0\", \"method\": \"sum\", \"params\": [1,2,4], \"id\": "
	       "\"1\"},\n  {\"jsonrpc\": \"2.0\", \"method\"\n]",
	       "{\"jsonrpc\": \"2.0\", \"error\": {\"code\": -32700, \"message\": \"Parse "
	       "error\"}, \"id\": null}");
	expect("[]", "{\"jsonrpc\": \"2.0\", \"error\": {\"code\": -32600, \"message\": "
	             "\"Invalid Request\"}, \"id\": null}");
	expect("[1]", "[{\"jsonrpc\": \"2.0\", \"error\": {\"code\": -32600, \"message\": "
	              "\"Invalid Request\"}, \"id\": null}]");
	const char *e = "{\"jsonrpc\": \"2.0\", \"error\": {\"code\": -32600, \"message\": "
	                "\"Invalid Request\"}, \"id\": null}";
	char want[1024];
	snprintf(want, sizeof(want), "[%s,%s,%s]", e, e, e);
	expect("[1,2,3]", want);
}

static void test_spec_batch(void **state)
{
	expect("[\n"
	       "{\"jsonrpc\": \"2.0\", \"method\": \"sum\", \"params\": [1,2,4], \"id\": \"1\"},\n"
	       "{\"jsonrpc\": \"2.0\", \"method\": \"notify_hello\", \"params\": [7]},\n"
	       "{\"jsonrpc\": \"2.0\", \"method\": \"subtract\", \"params\": [42,23], \"id\": "
	       "\"2\"},\n"
	       "{\"foo\": \"boo\"},\n"
	       "{\"jsonrpc\": \"2.0\", \"method\": \"foo.get\", \"params\": {\"name\": "
	       "\"myself\"}, \"id\": \"5\"},\n"
	       "{\"jsonrpc\": \"2.0\", \"method\": \"get_data\", \"id\": \"9\"}\n"
	       "]",
	       "[\n"
	       "{\"jsonrpc\": \"2.0\", \"result\": 7, \"id\": \"1\"},\n"
	       "{\"jsonrpc\": \"2.0\", \"result\": 19, \"id\": \"2\"},\n"
	       "{\"jsonrpc\": \"2.0\", \"error\": {\"code\": -32600, \"message\": \"Invalid "
	       "Request\"}, \"id\": null},\n"
	       "{\"jsonrpc\": \"2.0\", \"error\": {\"code\": -32601, \"message\": \"Method not "
	       "found\"}, \"id\": \"5\"},\n"
	       "{\"jsonrpc\": \"2.0\", \"result\": [\"hello\", 5], \"id\": \"9\"}\n"
	       "]");
	expect("[\n"
	       "{\"jsonrpc\": \"2.0\", \"method\": \"notify_sum\", \"params\": [1,2,4]},\n"
	       "{\"jsonrpc\": \"2.0\", \"method\": \"notify_hello\", \"params\": [7]}\n"
	       "]",
	       NULL);
}

/* ---- Validation details ---- */

static int check(const char *text, struct jsonrpc_request *req, json_t **err)
{
	json_t *msg = json_loads(text, JSON_DECODE_ANY, NULL);
	assert_non_null(msg);
	*err = NULL;
	int r = jsonrpc_request_check(msg, req, err);
	json_decref(msg); /* req points into msg: only look at r and err */
	return r;
}

static void invalid(const char *text, const char *needle, const char *want_id)
{
	struct jsonrpc_request req;
	json_t *err;
	assert_int_equal(check(text, &req, &err), -EINVAL);
	assert_non_null(err);
	json_t *e = json_object_get(err, "error");
	assert_int_equal(json_integer_value(json_object_get(e, "code")), JSONRPC_INVALID_REQUEST);
	const char *m = json_string_value(json_object_get(e, "message"));
	if (!strstr(m, needle))
		fail_msg("message \"%s\" lacks \"%s\"", m, needle);
	json_t *id = json_object_get(err, "id");
	json_t *want = json_loads(want_id, JSON_DECODE_ANY, NULL);
	assert_true(json_equal(id, want));
	json_decref(want);
	json_decref(err);
}

static void test_invalid_requests(void **state)
{
	invalid("\"x\"", "expected an object", "null");
	invalid("{\"method\":\"a\",\"id\":1}", "\"jsonrpc\" must be", "1");
	invalid("{\"jsonrpc\":\"1.0\",\"method\":\"a\",\"id\":1}", "\"jsonrpc\" must be", "1");
	invalid("{\"jsonrpc\":2.0,\"method\":\"a\",\"id\":1}", "\"jsonrpc\" must be", "1");
	invalid("{\"jsonrpc\":\"2.0\",\"method\":7,\"id\":\"q\"}", "\"method\" must be", "\"q\"");
	invalid("{\"jsonrpc\":\"2.0\",\"id\":1}", "\"method\" must be", "1");
	invalid("{\"jsonrpc\":\"2.0\",\"method\":\"a\",\"params\":\"x\",\"id\":1}",
	        "\"params\" must be", "1");
	invalid("{\"jsonrpc\":\"2.0\",\"method\":\"a\",\"params\":3}", "\"params\" must be",
	        "null");
	invalid("{\"jsonrpc\":\"2.0\",\"method\":\"a\",\"id\":{}}", "\"id\" must be", "null");
	invalid("{\"jsonrpc\":\"2.0\",\"method\":\"a\",\"id\":[1]}", "\"id\" must be", "null");
	invalid("{\"jsonrpc\":\"2.0\",\"method\":\"a\",\"id\":true}", "\"id\" must be", "null");
}

static void test_valid_requests(void **state)
{
	json_t *msg = json_loads("{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"id\":null}", 0, NULL);
	struct jsonrpc_request req;
	json_t *err = NULL;
	assert_int_equal(jsonrpc_request_check(msg, &req, &err), 0);
	assert_string_equal(req.method, "m");
	assert_true(json_is_null(req.id)); /* null id: a request, not a notification */
	assert_null(req.params);
	json_decref(msg);
	msg = json_loads("{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"params\":[]}", 0, NULL);
	assert_int_equal(jsonrpc_request_check(msg, &req, &err), 0);
	assert_null(req.id);
	assert_true(json_is_array(req.params));
	json_decref(msg);
}

static void parse_fails(const char *text, int want_r, int want_code)
{
	json_t *msg = NULL, *err = NULL;
	assert_int_equal(jsonrpc_parse(text, strlen(text), &msg, &err), want_r);
	assert_null(msg);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(err, "error"), "code")),
	                 want_code);
	json_decref(err);
}

static void test_parse_limits(void **state)
{
	parse_fails("{\"jsonrpc\":\"2.0\",\"jsonrpc\":\"2.0\",\"method\":\"a\"}", -EBADMSG,
	            JSONRPC_PARSE_ERROR);
	parse_fails("{} {}", -EBADMSG, JSONRPC_PARSE_ERROR);
	parse_fails("", -EBADMSG, JSONRPC_PARSE_ERROR);
	parse_fails("\"a\\u0000b\"", -EBADMSG, JSONRPC_PARSE_ERROR);
	struct buf b = BUF_INIT;
	buf_append_str(&b, "[");
	for (int i = 0; i <= JSONRPC_MAX_BATCH; i++)
		buf_append_str(&b, i ? ",1" : "1");
	buf_append_str(&b, "]");
	buf_append_u8(&b, 0);
	parse_fails((const char *)b.data, -EINVAL, JSONRPC_INVALID_REQUEST);
	/* Exactly the cap is fine. */
	json_t *msg = NULL, *err = NULL;
	assert_int_equal(jsonrpc_parse((const char *)b.data, b.len - 4, &msg, &err), -EBADMSG);
	json_decref(err);
	b.data[b.len - 4] = ']';
	assert_int_equal(jsonrpc_parse((const char *)b.data, b.len - 3, &msg, &err), 0);
	assert_int_equal(json_array_size(msg), JSONRPC_MAX_BATCH);
	json_decref(msg);
	buf_free(&b);
}

/* ---- Framer ---- */

static void pop_is(struct jsonrpc_framer *f, const char *want)
{
	const char *line;
	size_t len;
	assert_int_equal(jsonrpc_framer_pop(f, &line, &len), 1);
	assert_int_equal(len, strlen(want));
	assert_memory_equal(line, want, len);
}

static void test_framer_lines(void **state)
{
	struct jsonrpc_framer f;
	jsonrpc_framer_init(&f, 0);
	const char *in = "{\"a\":1}\n\n  \r\n{\"b\":2}\r\n{\"c\"";
	assert_int_equal(jsonrpc_framer_feed(&f, in, strlen(in)), 0);
	pop_is(&f, "{\"a\":1}");
	pop_is(&f, "{\"b\":2}");
	const char *line;
	size_t len;
	assert_int_equal(jsonrpc_framer_pop(&f, &line, &len), 0);
	assert_int_equal(jsonrpc_framer_buffered(&f), 4);
	assert_int_equal(jsonrpc_framer_feed(&f, ":3}\n", 4), 0);
	pop_is(&f, "{\"c\":3}");
	assert_int_equal(jsonrpc_framer_pop(&f, &line, &len), 0);
	assert_int_equal(jsonrpc_framer_buffered(&f), 0);
	jsonrpc_framer_free(&f);
}

static void test_framer_byte_at_a_time(void **state)
{
	struct jsonrpc_framer f = {0};
	const char *in = "[1,2]\n{\"x\":\"y\"}\n";
	const char *line;
	size_t len;
	int lines = 0;
	for (size_t i = 0; in[i]; i++) {
		assert_int_equal(jsonrpc_framer_feed(&f, in + i, 1), 0);
		while (jsonrpc_framer_pop(&f, &line, &len) == 1)
			lines++;
	}
	assert_int_equal(lines, 2);
	jsonrpc_framer_free(&f);
}

static void test_framer_cap(void **state)
{
	struct jsonrpc_framer f;
	jsonrpc_framer_init(&f, 8);
	assert_int_equal(jsonrpc_framer_feed(&f, "12345678\n123456789\nok\n", 22), 0);
	pop_is(&f, "12345678"); /* exactly the cap */
	const char *line;
	size_t len;
	assert_int_equal(jsonrpc_framer_pop(&f, &line, &len), -EMSGSIZE);
	assert_int_equal(jsonrpc_framer_buffered(&f), 9);
	/* The stream cannot be trusted past an over-long line. */
	assert_int_equal(jsonrpc_framer_pop(&f, &line, &len), -EMSGSIZE);
	assert_int_equal(jsonrpc_framer_feed(&f, "x\n", 2), -EMSGSIZE);
	jsonrpc_framer_free(&f);
}

/* The default cap is JSONRPC_MAX_REQUEST, and it is detected before the
 * newline arrives, so a client cannot make us buffer without end. */
static void test_framer_default_cap(void **state)
{
	struct jsonrpc_framer f = {0};
	size_t n = JSONRPC_MAX_REQUEST;
	char *big = malloc(n + 2);
	memset(big, ' ', n);
	big[0] = '1';
	big[n] = '\n';
	const char *line;
	size_t len;
	assert_int_equal(jsonrpc_framer_feed(&f, big, n + 1), 0);
	assert_int_equal(jsonrpc_framer_pop(&f, &line, &len), 1);
	assert_int_equal(len, n);
	assert_int_equal(jsonrpc_framer_feed(&f, big, n + 1 - 1), 0);
	assert_int_equal(jsonrpc_framer_pop(&f, &line, &len), 0);
	assert_int_equal(jsonrpc_framer_feed(&f, "2", 1), 0);
	assert_int_equal(jsonrpc_framer_pop(&f, &line, &len), -EMSGSIZE);
	assert_int_equal(jsonrpc_framer_buffered(&f), n + 1);
	free(big);
	jsonrpc_framer_free(&f);
}

/* ---- Builders and the client side ---- */

static void assert_json(json_t *got, const char *want_text)
{
	json_t *want = json_loads(want_text, 0, NULL);
	assert_non_null(want);
	assert_non_null(got);
	if (!json_equal(got, want)) {
		char *g = json_dumps(got, JSON_COMPACT);
		print_error("expected %s\n     got %s\n", want_text, g);
		free(g);
		fail();
	}
	json_decref(want);
	json_decref(got);
}

static void test_builders(void **state)
{
	json_t *id = json_integer(7);
	assert_json(jsonrpc_request_new(id, "node.info", NULL),
	            "{\"jsonrpc\":\"2.0\",\"method\":\"node.info\",\"id\":7}");
	assert_json(jsonrpc_request_new(id, "node.set_device_name", json_pack("{ss}", "name", "x")),
	            "{\"jsonrpc\":\"2.0\",\"method\":\"node.set_device_name\","
	            "\"params\":{\"name\":\"x\"},\"id\":7}");
	assert_json(jsonrpc_notification_new("event", json_pack("{ss}", "kind", "k")),
	            "{\"jsonrpc\":\"2.0\",\"method\":\"event\",\"params\":{\"kind\":\"k\"}}");
	assert_json(jsonrpc_result_new(id, NULL), "{\"jsonrpc\":\"2.0\",\"result\":null,\"id\":7}");
	assert_json(jsonrpc_error_new(NULL, JSONRPC_NOT_FOUND, "Not found: peer", json_true()),
	            "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32001,\"message\":\"Not found: "
	            "peer\",\"data\":true},\"id\":null}");
	assert_int_equal(json_integer_value(id), 7);
	assert_int_equal(id->refcount, 1);
	json_decref(id);
}

static void test_encode(void **state)
{
	struct buf b = BUF_INIT;
	json_t *m = jsonrpc_result_new(NULL, json_string("two\nlines"));
	assert_int_equal(jsonrpc_encode(m, &b), 0);
	const char *want = "{\"jsonrpc\":\"2.0\",\"result\":\"two\\nlines\",\"id\":null}\n";
	assert_int_equal(b.len, strlen(want));
	assert_memory_equal(b.data, want, b.len);
	json_decref(m);
	json_t *scalar = json_integer(1);
	assert_int_equal(jsonrpc_encode(scalar, &b), -EINVAL);
	assert_int_equal(b.len, strlen(want));
	json_decref(scalar);
	buf_free(&b);
}

static int response(const char *text, struct jsonrpc_response *r, json_t **msg)
{
	*msg = json_loads(text, 0, NULL);
	assert_non_null(*msg);
	struct errmsg e;
	return jsonrpc_response_parse(*msg, r, &e);
}

static void test_response_parse(void **state)
{
	struct jsonrpc_response r;
	json_t *msg;
	assert_int_equal(response("{\"jsonrpc\":\"2.0\",\"result\":19,\"id\":1}", &r, &msg), 0);
	assert_int_equal(r.code, 0);
	assert_int_equal(json_integer_value(r.result), 19);
	assert_int_equal(json_integer_value(r.id), 1);
	json_decref(msg);
	assert_int_equal(response("{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32004,\"message\":"
	                          "\"Not ready\",\"data\":{\"x\":1}},\"id\":null}",
	                          &r, &msg),
	                 0);
	assert_int_equal(r.code, JSONRPC_NOT_READY);
	assert_string_equal(r.message, "Not ready");
	assert_null(r.result);
	assert_true(json_is_object(r.data));
	json_decref(msg);
#define V "{\"jsonrpc\":\"2.0\","
	const char *bad[] = {
	        V "\"result\":1,\"error\":{\"code\":1,\"message\":\"\"},\"id\":1}",
	        V "\"id\":1}",
	        V "\"result\":1}",
	        "{\"jsonrpc\":\"1.0\",\"result\":1,\"id\":1}",
	        V "\"error\":{\"code\":\"x\",\"message\":\"m\"},\"id\":1}",
	        V "\"error\":{\"code\":-1},\"id\":1}",
	        V "\"error\":{\"code\":0,\"message\":\"m\"},\"id\":1}",
	        V "\"result\":1,\"id\":[]}",
	};
#undef V
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		r.code = 12345;
		assert_int_equal(response(bad[i], &r, &msg), -EBADMSG);
		assert_int_equal(r.code, 12345); /* untouched on failure */
		json_decref(msg);
	}
}

static void kind_is(const char *text, enum jsonrpc_kind want)
{
	json_t *m = json_loads(text, JSON_DECODE_ANY, NULL);
	assert_int_equal(jsonrpc_kind_of(m), want);
	json_decref(m);
}

static void test_kind_of(void **state)
{
	kind_is("{\"jsonrpc\":\"2.0\",\"method\":\"event\",\"params\":{}}",
	        JSONRPC_KIND_NOTIFICATION);
	kind_is("{\"jsonrpc\":\"2.0\",\"method\":\"a\",\"id\":1}", JSONRPC_KIND_REQUEST);
	kind_is("{\"jsonrpc\":\"2.0\",\"result\":null,\"id\":1}", JSONRPC_KIND_RESPONSE);
	kind_is("[{}]", JSONRPC_KIND_BATCH);
	kind_is("[]", JSONRPC_KIND_INVALID);
	kind_is("{}", JSONRPC_KIND_INVALID);
	kind_is("3", JSONRPC_KIND_INVALID);
}

static void test_code_messages(void **state)
{
	assert_string_equal(jsonrpc_code_message(JSONRPC_PARSE_ERROR), "Parse error");
	assert_string_equal(jsonrpc_code_message(JSONRPC_INVALID_REQUEST), "Invalid Request");
	assert_string_equal(jsonrpc_code_message(JSONRPC_METHOD_NOT_FOUND), "Method not found");
	assert_string_equal(jsonrpc_code_message(JSONRPC_INVALID_PARAMS), "Invalid params");
	assert_string_equal(jsonrpc_code_message(JSONRPC_INTERNAL_ERROR), "Internal error");
	for (int c = JSONRPC_CONFLICT; c <= JSONRPC_NOT_FOUND; c++) {
		assert_true(c <= -32000 && c >= -32099);
		assert_string_not_equal(jsonrpc_code_message(c), "Server error");
	}
	assert_string_equal(jsonrpc_code_message(-32050), "Server error");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_spec_positional),
	        cmocka_unit_test(test_spec_named),
	        cmocka_unit_test(test_spec_notification),
	        cmocka_unit_test(test_spec_errors),
	        cmocka_unit_test(test_spec_batch_errors),
	        cmocka_unit_test(test_spec_batch),
	        cmocka_unit_test(test_invalid_requests),
	        cmocka_unit_test(test_valid_requests),
	        cmocka_unit_test(test_parse_limits),
	        cmocka_unit_test(test_framer_lines),
	        cmocka_unit_test(test_framer_byte_at_a_time),
	        cmocka_unit_test(test_framer_cap),
	        cmocka_unit_test(test_framer_default_cap),
	        cmocka_unit_test(test_builders),
	        cmocka_unit_test(test_encode),
	        cmocka_unit_test(test_response_parse),
	        cmocka_unit_test(test_kind_of),
	        cmocka_unit_test(test_code_messages),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
