/* A blocking JSON-RPC connection to the daemon's control socket.
 *
 * The CLI makes a handful of calls and exits, so it uses plain blocking
 * sockets with poll() deadlines instead of an event loop. Framing and
 * response validation come from common/jsonrpc.h, the same code the daemon
 * uses, so both ends agree on what a line is. */
#pragma once

#include <jansson.h>
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

/* Wait until the daemon closes the connection (EOF). Returns 0, -ETIMEDOUT,
 * or another negative errno. Lines received meanwhile are discarded. */
int conn_wait_eof(struct conn *c, int timeout_ms);
