/* A blocking JSON-RPC connection to the daemon's control socket.
 *
 * The CLI makes a handful of calls and exits, so it uses plain blocking
 * sockets with poll() deadlines instead of an event loop. Framing and
 * response validation come from common/jsonrpc.h, the same code the daemon
 * uses, so both ends agree on what a line is. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

#include "errmsg.h"

struct conn;

/* A daemon's answer to one call. msg owns everything; result (on success) or
 * code and message (on a JSON-RPC error) are borrowed from it. */
struct conn_reply {
	json_t *msg;
	json_t *result;      /* NULL when code != 0 */
	int code;            /* 0, or the JSON-RPC error code */
	const char *message; /* NULL when code == 0 */
};

void conn_reply_clear(struct conn_reply *r);

/* Connect to the Unix socket at path. Returns 0 and *ret (free with
 * conn_close), or a negative errno with err saying what failed:
 * -ENOENT or -ECONNREFUSED when nothing listens there (daemon not running),
 * -EACCES when the socket's permissions refuse us, -ENAMETOOLONG when the
 * path does not fit a sockaddr_un, others for real failures. */
int conn_open(const char *path, int timeout_ms, struct conn **ret, struct errmsg *err);
/* NULL-safe. */
void conn_close(struct conn *c);

/* The pid of the process that created the listening socket (SO_PEERCRED),
 * or 0 when unknown. Under socket activation this is systemd, not sdnetd. */
pid_t conn_peer_pid(const struct conn *c);

/* Call method with params (stolen; NULL for none) and wait at most timeout_ms
 * for its answer, skipping notifications (events) that arrive meanwhile.
 * Returns 0 with *ret filled (a JSON-RPC error is still a 0 return: look at
 * ret->code), or a negative errno with err set: -ETIMEDOUT, -ECONNRESET when
 * the daemon closed the connection, -EBADMSG for a malformed answer. */
int conn_call(struct conn *c, const char *method, json_t *params, int timeout_ms,
              struct conn_reply *ret, struct errmsg *err);

/* Called for every notification that arrives while a call waits (msg is
 * the whole JSON-RPC notification, borrowed). */
typedef void (*conn_note_fn)(json_t *msg, void *ctx);

/* conn_call() that hands notifications to note (NULL: drop them, as
 * conn_call does) instead of skipping them silently. */
int conn_call_notes(struct conn *c, const char *method, json_t *params, int timeout_ms,
                    conn_note_fn note, void *ctx, struct conn_reply *ret, struct errmsg *err);

/* For calls that take long and show progress meanwhile (pair join, pair
 * generate --wait): send a request without waiting (*ret_id its id), then
 * read messages one by one with conn_next() (0 and *ret, a response or an
 * event notification, which the caller decrefs; -ETIMEDOUT when nothing
 * complete arrived within timeout_ms, which is not fatal; other errors as
 * conn_call's). conn_is_response() tells whether msg answers request id;
 * conn_reply_take() turns it into a reply (msg is stolen either way). */
int conn_send(struct conn *c, const char *method, json_t *params, int timeout_ms,
              json_int_t *ret_id, struct errmsg *err);
int conn_next(struct conn *c, int timeout_ms, json_t **ret, struct errmsg *err);
bool conn_is_response(json_t *msg, json_int_t id);
int conn_reply_take(json_t *msg, struct conn_reply *ret, struct errmsg *err);

/* Wait until the daemon closes the connection (EOF). Returns 0, -ETIMEDOUT,
 * or another negative errno. Lines received meanwhile are discarded. */
int conn_wait_eof(struct conn *c, int timeout_ms);
