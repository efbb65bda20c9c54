/* JSON-RPC 2.0 over newline-delimited JSON, sans-I/O.
 *
 * Shared by the daemon's control server and the `spacedrive` CLI: a line
 * framer (bytes in, complete lines out, with a named cap on line length),
 * request parsing and validation per https://www.jsonrpc.org/specification,
 * builders for requests, notifications, results and errors, and a response
 * parser for clients. Nothing here touches a socket or a clock.
 *
 * Error messages start with the spec's standard phrase ("Invalid Request: ...")
 * and go on to say what was wrong and what to do, so a person reading a
 * client's output can act on them. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "errmsg.h"

/* Longest request line (without its '\n') a server accepts. A longer line
 * is an error and the server drops the connection: it cannot resync inside a
 * JSON value it refused to buffer. */
#define JSONRPC_MAX_REQUEST ((size_t)1 << 20)
/* Most requests in one batch; each one may allocate a response. */
#define JSONRPC_MAX_BATCH 1000

/* Error codes. The first five are the spec's; the rest are ours, in the
 * -32000..-32099 range the spec reserves for implementation-defined server
 * errors. proto/openrpc.json lists them too (components.errors). */
enum jsonrpc_code {
	JSONRPC_PARSE_ERROR = -32700,      /* not JSON */
	JSONRPC_INVALID_REQUEST = -32600,  /* JSON, but not a request object */
	JSONRPC_METHOD_NOT_FOUND = -32601, /* no such method */
	JSONRPC_INVALID_PARAMS = -32602,   /* params missing, unknown or of the wrong type */
	JSONRPC_INTERNAL_ERROR = -32603,   /* the daemon failed; the message says how */
	JSONRPC_NOT_FOUND = -32001, /* the named object (peer, device, transfer) does not exist */
	JSONRPC_BUSY = -32002,      /* a limit is reached; retry after something finishes */
	JSONRPC_PERMISSION_DENIED = -32003, /* the caller may not do this (socket credentials) */
	JSONRPC_NOT_READY = -32004,         /* the daemon is starting or stopping */
	JSONRPC_TIMEOUT = -32005,           /* a peer or operation did not answer in time */
	JSONRPC_PEER_ERROR = -32006,        /* the remote peer refused or broke the protocol */
	JSONRPC_CONFLICT = -32007, /* the object's state does not allow this (already exists...) */
};

/* The short standard phrase for a code ("Parse error", "Not found"), or
 * "Server error" for an unknown code. Never NULL; static storage. */
const char *jsonrpc_code_message(int code);

/* ---- Line framer ---------------------------------------------------------
 *
 * Feed bytes as they arrive, pop complete lines. A line ends at '\n'; a
 * trailing '\r' is dropped and blank (whitespace-only) lines are skipped, so
 * people can type at it with socat. Zero-initialise or call _init. */
struct jsonrpc_framer {
	struct buf buf; /* unconsumed bytes are buf.data[start..buf.len) */
	size_t start;
	size_t scanned; /* bytes after start known not to hold '\n' */
	size_t max_line;
	bool failed;
};

/* max_line 0 means JSONRPC_MAX_REQUEST. */
void jsonrpc_framer_init(struct jsonrpc_framer *f, size_t max_line);
void jsonrpc_framer_free(struct jsonrpc_framer *f);
/* Append bytes. Returns 0, -ENOMEM, or -EMSGSIZE after a pop has failed with
 * -EMSGSIZE (the framer stays failed). */
int jsonrpc_framer_feed(struct jsonrpc_framer *f, const void *data, size_t len);
/* Take the next complete line. Returns 1 and points *ret_line (inside the
 * framer, valid until the next feed, pop or free; not NUL-terminated) and
 * *ret_len at it; 0 when no complete line is buffered yet; -EMSGSIZE when
 * the line is longer than max_line (jsonrpc_framer_buffered() then tells how
 * many bytes of it arrived). After -EMSGSIZE every call fails the same way:
 * the caller reports it and drops the connection. */
int jsonrpc_framer_pop(struct jsonrpc_framer *f, const char **ret_line, size_t *ret_len);
/* Bytes buffered and not yet returned as lines. */
size_t jsonrpc_framer_buffered(const struct jsonrpc_framer *f);

/* ---- Server side: parsing and validation ------------------------------ */

/* Decode one line. On success *ret_msg is the JSON value (an array for a
 * batch, anything else for a single request; the caller json_decref()s it)
 * and 0 comes back. On failure returns -EBADMSG (not JSON: -32700) or
 * -EINVAL (empty batch, or more than JSONRPC_MAX_BATCH elements: -32600),
 * and *err_reply is set to the error response to send (caller decrefs), or
 * NULL if even that could not be allocated. */
int jsonrpc_parse(const char *line, size_t len, json_t **ret_msg, json_t **err_reply);

/* A validated request; every pointer is borrowed from the message. */
struct jsonrpc_request {
	const char *method;
	json_t *params; /* object or array, or NULL when absent */
	json_t *id;     /* NULL for a notification (no "id" member); may be JSON null */
};

/* Validate one request (a single message or one batch element). Returns 0
 * and fills *ret, or -EINVAL with *err_reply set to the -32600 response to
 * send (NULL on ENOMEM). A request with a usable id gets that id echoed;
 * otherwise the response id is null, as the spec requires. */
int jsonrpc_request_check(json_t *msg, struct jsonrpc_request *ret, json_t **err_reply);

/* ---- Builders -----------------------------------------------------------
 * All return a new reference, or NULL on ENOMEM. id is borrowed (NULL means
 * JSON null); result, params and data are stolen (NULL: result null, params
 * and data omitted). method and message are copied. */
json_t *jsonrpc_result_new(json_t *id, json_t *result);
json_t *jsonrpc_error_new(json_t *id, int code, const char *message, json_t *data);
json_t *jsonrpc_error_newf(json_t *id, int code, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
json_t *jsonrpc_request_new(json_t *id, const char *method, json_t *params);
json_t *jsonrpc_notification_new(const char *method, json_t *params);

/* Append msg as one compact line ending in '\n' to out. Returns 0, -ENOMEM,
 * or -EINVAL if msg cannot be encoded. */
int jsonrpc_encode(const json_t *msg, struct buf *out);

/* ---- Client side --------------------------------------------------------- */

enum jsonrpc_kind {
	JSONRPC_KIND_INVALID,
	JSONRPC_KIND_REQUEST,      /* has "method" and "id" */
	JSONRPC_KIND_NOTIFICATION, /* has "method", no "id" (e.g. daemon events) */
	JSONRPC_KIND_RESPONSE,     /* has "result" or "error" */
	JSONRPC_KIND_BATCH,        /* a non-empty array */
};

/* What a received message looks like (shape only; validate with
 * jsonrpc_request_check() or jsonrpc_response_parse()). */
enum jsonrpc_kind jsonrpc_kind_of(const json_t *msg);

/* A response; every pointer is borrowed from the message. */
struct jsonrpc_response {
	json_t *id;          /* JSON null when the server could not read our id */
	json_t *result;      /* NULL on error */
	int code;            /* 0 on success, else the error code */
	const char *message; /* NULL on success */
	json_t *data;        /* error data, NULL when absent */
};

/* Validate a response. Returns 0 and fills *ret, or -EBADMSG with err (may
 * be NULL) saying what is wrong with it. */
int jsonrpc_response_parse(json_t *msg, struct jsonrpc_response *ret, struct errmsg *err);
