/* JSON-RPC 2.0 framing and messages without I/O: the daemon's control server
 * and the CLI both speak through these functions, so the two ends agree on
 * what a valid line, request and response are. */
#include "jsonrpc.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *jsonrpc_code_message(int code)
{
	switch (code) {
	case JSONRPC_PARSE_ERROR:
		return "Parse error";
	case JSONRPC_INVALID_REQUEST:
		return "Invalid Request";
	case JSONRPC_METHOD_NOT_FOUND:
		return "Method not found";
	case JSONRPC_INVALID_PARAMS:
		return "Invalid params";
	case JSONRPC_INTERNAL_ERROR:
		return "Internal error";
	case JSONRPC_NOT_FOUND:
		return "Not found";
	case JSONRPC_BUSY:
		return "Busy";
	case JSONRPC_PERMISSION_DENIED:
		return "Permission denied";
	case JSONRPC_NOT_READY:
		return "Not ready";
	case JSONRPC_TIMEOUT:
		return "Timeout";
	case JSONRPC_PEER_ERROR:
		return "Peer error";
	case JSONRPC_CONFLICT:
		return "Conflict";
	default:
		return "Server error";
	}
}

/* ---- Line framer ---- */

void jsonrpc_framer_init(struct jsonrpc_framer *f, size_t max_line)
{
	*f = (struct jsonrpc_framer){.max_line = max_line};
}

void jsonrpc_framer_free(struct jsonrpc_framer *f)
{
	buf_free(&f->buf);
	f->start = f->scanned = 0;
}

static size_t framer_max(const struct jsonrpc_framer *f)
{
	return f->max_line ? f->max_line : JSONRPC_MAX_REQUEST;
}

/* Move the unconsumed tail to the front once the consumed head is at least
 * as large, so a stream of small lines costs amortised O(1) per byte. */
static void framer_compact(struct jsonrpc_framer *f)
{
	size_t rest = f->buf.len - f->start;
	if (f->start == 0 || f->start < rest)
		return;
	if (rest)
		memmove(f->buf.data, f->buf.data + f->start, rest);
	f->buf.len = rest;
	f->start = 0;
}

int jsonrpc_framer_feed(struct jsonrpc_framer *f, const void *data, size_t len)
{
	if (f->failed)
		return -EMSGSIZE;
	framer_compact(f);
	return buf_append(&f->buf, data, len);
}

size_t jsonrpc_framer_buffered(const struct jsonrpc_framer *f)
{
	return f->buf.len - f->start;
}

static bool is_blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return false;
	return true;
}

/* Keep only the offending line's bytes, so buffered() reports its size. */
static int framer_fail(struct jsonrpc_framer *f, size_t line_len)
{
	f->failed = true;
	f->buf.len = f->start + line_len;
	return -EMSGSIZE;
}

int jsonrpc_framer_pop(struct jsonrpc_framer *f, const char **ret_line, size_t *ret_len)
{
	if (f->failed)
		return -EMSGSIZE;
	for (;;) {
		size_t avail = f->buf.len - f->start;
		if (!avail) {
			f->scanned = 0;
			return 0;
		}
		const char *head = (const char *)f->buf.data + f->start;
		const char *nl = memchr(head + f->scanned, '\n', avail - f->scanned);
		if (!nl) {
			f->scanned = avail;
			return avail > framer_max(f) ? framer_fail(f, avail) : 0;
		}
		size_t len = (size_t)(nl - head);
		if (len > framer_max(f))
			return framer_fail(f, len);
		f->start += len + 1;
		f->scanned = 0;
		if (len && head[len - 1] == '\r')
			len--;
		if (is_blank(head, len))
			continue;
		*ret_line = head;
		*ret_len = len;
		return 1;
	}
}

/* ---- Builders ---- */

static json_t *envelope(json_t *id, const char *key, json_t *value)
{
	json_t *m = json_object();
	if (!m || json_object_set_new(m, "jsonrpc", json_string("2.0")) < 0 ||
	    json_object_set_new(m, key, value) < 0 ||
	    json_object_set_new(m, "id", id ? json_incref(id) : json_null()) < 0) {
		json_decref(m);
		return NULL;
	}
	return m;
}

json_t *jsonrpc_result_new(json_t *id, json_t *result)
{
	return envelope(id, "result", result ? result : json_null());
}

json_t *jsonrpc_error_new(json_t *id, int code, const char *message, json_t *data)
{
	json_t *e = json_object();
	if (!e || json_object_set_new(e, "code", json_integer(code)) < 0 ||
	    json_object_set_new(e, "message", json_string(message)) < 0 ||
	    (data && json_object_set(e, "data", data) < 0)) {
		json_decref(data);
		json_decref(e);
		return NULL;
	}
	json_decref(data);
	return envelope(id, "error", e);
}

json_t *jsonrpc_error_newf(json_t *id, int code, const char *fmt, ...)
{
	char text[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	return jsonrpc_error_new(id, code, text, NULL);
}

static json_t *call_new(json_t *id, const char *method, json_t *params)
{
	json_t *m = json_object();
	if (!m || json_object_set_new(m, "jsonrpc", json_string("2.0")) < 0 ||
	    json_object_set_new(m, "method", json_string(method)) < 0 ||
	    (params && json_object_set(m, "params", params) < 0) ||
	    (id && json_object_set(m, "id", id) < 0)) {
		json_decref(params);
		json_decref(m);
		return NULL;
	}
	json_decref(params);
	return m;
}

json_t *jsonrpc_request_new(json_t *id, const char *method, json_t *params)
{
	json_t *null_id = NULL;
	if (!id)
		id = null_id = json_null();
	json_t *m = call_new(id, method, params);
	json_decref(null_id);
	return m;
}

json_t *jsonrpc_notification_new(const char *method, json_t *params)
{
	return call_new(NULL, method, params);
}

static int append_cb(const char *s, size_t n, void *ud)
{
	return buf_append(ud, s, n) < 0 ? -1 : 0;
}

int jsonrpc_encode(const json_t *msg, struct buf *out)
{
	if (!json_is_object(msg) && !json_is_array(msg))
		return -EINVAL;
	size_t old = out->len;
	if (json_dump_callback(msg, append_cb, out, JSON_COMPACT) < 0 ||
	    buf_append_u8(out, '\n') < 0) {
		out->len = old;
		return -ENOMEM;
	}
	return 0;
}

/* ---- Server side ---- */

int jsonrpc_parse(const char *line, size_t len, json_t **ret_msg, json_t **err_reply)
{
	json_error_t e;
	json_t *msg = json_loadb(line, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &e);
	if (!msg) {
		*err_reply = jsonrpc_error_newf(NULL, JSONRPC_PARSE_ERROR,
		                                "Parse error: %s at byte %d; send one complete "
		                                "JSON value per line",
		                                e.text, e.position);
		return -EBADMSG;
	}
	size_t n = json_is_array(msg) ? json_array_size(msg) : 1;
	if (n == 0 || n > JSONRPC_MAX_BATCH) {
		json_decref(msg);
		*err_reply = n == 0 ? jsonrpc_error_new(NULL, JSONRPC_INVALID_REQUEST,
		                                        "Invalid Request: empty batch; a batch "
		                                        "needs at least one request",
		                                        NULL)
		                    : jsonrpc_error_newf(NULL, JSONRPC_INVALID_REQUEST,
		                                         "Invalid Request: batch of %zu requests "
		                                         "is too large (limit %d); split it",
		                                         n, JSONRPC_MAX_BATCH);
		return -EINVAL;
	}
	*ret_msg = msg;
	return 0;
}

static bool id_valid(const json_t *id)
{
	return json_is_string(id) || json_is_number(id) || json_is_null(id);
}

/* Why msg is not a valid request, or NULL if it is. */
static const char *request_problem(const json_t *msg)
{
	if (!json_is_object(msg))
		return "expected an object like {\"jsonrpc\":\"2.0\",\"method\":\"node.info\","
		       "\"id\":1}";
	const json_t *v = json_object_get(msg, "jsonrpc");
	if (!json_is_string(v) || strcmp(json_string_value(v), "2.0") != 0)
		return "\"jsonrpc\" must be the string \"2.0\"";
	v = json_object_get(msg, "id");
	if (v && !id_valid(v))
		return "\"id\" must be a string, a number or null";
	if (!json_is_string(json_object_get(msg, "method")))
		return "\"method\" must be a string naming the method (see rpc.discover)";
	v = json_object_get(msg, "params");
	if (v && !json_is_object(v) && !json_is_array(v))
		return "\"params\" must be an object of named parameters";
	return NULL;
}

int jsonrpc_request_check(json_t *msg, struct jsonrpc_request *ret, json_t **err_reply)
{
	const char *why = request_problem(msg);
	if (why) {
		json_t *id = json_is_object(msg) ? json_object_get(msg, "id") : NULL;
		*err_reply =
		        jsonrpc_error_newf(id && id_valid(id) ? id : NULL, JSONRPC_INVALID_REQUEST,
		                           "Invalid Request: %s", why);
		return -EINVAL;
	}
	ret->method = json_string_value(json_object_get(msg, "method"));
	ret->params = json_object_get(msg, "params");
	ret->id = json_object_get(msg, "id");
	return 0;
}

/* ---- Client side ---- */

enum jsonrpc_kind jsonrpc_kind_of(const json_t *msg)
{
	if (json_is_array(msg))
		return json_array_size(msg) ? JSONRPC_KIND_BATCH : JSONRPC_KIND_INVALID;
	if (!json_is_object(msg))
		return JSONRPC_KIND_INVALID;
	if (json_object_get(msg, "method"))
		return json_object_get(msg, "id") ? JSONRPC_KIND_REQUEST
		                                  : JSONRPC_KIND_NOTIFICATION;
	if (json_object_get(msg, "result") || json_object_get(msg, "error"))
		return JSONRPC_KIND_RESPONSE;
	return JSONRPC_KIND_INVALID;
}

static int error_parse(json_t *e, struct jsonrpc_response *r, struct errmsg *err)
{
	json_t *code = json_object_get(e, "code");
	json_t *message = json_object_get(e, "message");
	if (!json_is_object(e) || !json_is_integer(code) || !json_is_string(message))
		return errmsg_set(err, -EBADMSG,
		                  "response error must be an object with integer \"code\" and "
		                  "string \"message\"");
	json_int_t c = json_integer_value(code);
	if (c == 0 || c < -2147483647 || c > 2147483647)
		return errmsg_set(err, -EBADMSG, "response error code %lld is out of range",
		                  (long long)c);
	r->code = (int)c;
	r->message = json_string_value(message);
	r->data = json_object_get(e, "data");
	return 0;
}

int jsonrpc_response_parse(json_t *msg, struct jsonrpc_response *ret, struct errmsg *err)
{
	if (!json_is_object(msg))
		return errmsg_set(err, -EBADMSG, "response is not a JSON object");
	json_t *v = json_object_get(msg, "jsonrpc");
	if (!json_is_string(v) || strcmp(json_string_value(v), "2.0") != 0)
		return errmsg_set(err, -EBADMSG, "response lacks \"jsonrpc\": \"2.0\"");
	struct jsonrpc_response r = {.id = json_object_get(msg, "id")};
	if (!r.id || !id_valid(r.id))
		return errmsg_set(err, -EBADMSG, "response has no valid \"id\"");
	r.result = json_object_get(msg, "result");
	json_t *e = json_object_get(msg, "error");
	if (!r.result == !e)
		return errmsg_set(err, -EBADMSG,
		                  "response must have exactly one of \"result\" and \"error\"");
	if (e && error_parse(e, &r, err) < 0)
		return -EBADMSG;
	*ret = r;
	return 0;
}
