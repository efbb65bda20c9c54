/* Blocking JSON-RPC client over a Unix stream socket: connect, send one
 * request line, read lines until the matching response, all bounded by
 * deadlines so a stuck daemon never hangs the CLI. */
#include "conn.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "jsonrpc.h"

/* The CLI reads answers like node.info and rpc.discover; a response larger
 * than this is not something it asked for. */
#define CONN_MAX_RESPONSE ((size_t)16 << 20)

struct conn {
	int fd;
	pid_t peer_pid;
	json_int_t next_id;
	struct jsonrpc_framer framer;
	bool eof;
};

void conn_reply_clear(struct conn_reply *r)
{
	json_decref(r->msg);
	*r = (struct conn_reply){0};
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int remaining_ms(long long deadline)
{
	long long left = deadline - now_ms();
	return left < 0 ? 0 : (int)left;
}

static void set_timeouts(int fd, int timeout_ms)
{
	struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
	/* On AF_UNIX the send timeout also bounds connect() against a full backlog. */
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

int conn_open(const char *path, int timeout_ms, struct conn **ret, struct errmsg *err)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sa.sun_path))
		return errmsg_set(err, -ENAMETOOLONG,
		                  "socket path %s is longer than %zu bytes; use a shorter --socket",
		                  path, sizeof(sa.sun_path) - 1);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return errmsg_set(err, -errno, "socket: %s", strerror(errno));
	set_timeouts(fd, timeout_ms);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		close(fd);
		if (e == EAGAIN || e == EINPROGRESS)
			e = ETIMEDOUT;
		return errmsg_set(err, -e, "cannot connect to %s: %s", path, strerror(e));
	}
	struct conn *c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return errmsg_set(err, -ENOMEM, "out of memory");
	}
	c->fd = fd;
	c->next_id = 1;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 && cred.pid > 0)
		c->peer_pid = cred.pid;
	jsonrpc_framer_init(&c->framer, CONN_MAX_RESPONSE);
	*ret = c;
	return 0;
}

void conn_close(struct conn *c)
{
	if (!c)
		return;
	close(c->fd);
	jsonrpc_framer_free(&c->framer);
	free(c);
}

pid_t conn_peer_pid(const struct conn *c)
{
	return c->peer_pid;
}

static int wait_fd(int fd, short events, long long deadline, struct errmsg *err)
{
	for (;;) {
		struct pollfd p = {.fd = fd, .events = events};
		int n = poll(&p, 1, remaining_ms(deadline));
		if (n > 0)
			return 0;
		if (n == 0)
			return errmsg_set(err, -ETIMEDOUT, "the daemon did not answer in time");
		if (errno != EINTR)
			return errmsg_set(err, -errno, "poll: %s", strerror(errno));
	}
}

static int send_all(struct conn *c, const uint8_t *p, size_t len, long long deadline,
                    struct errmsg *err)
{
	while (len > 0) {
		int r = wait_fd(c->fd, POLLOUT, deadline, err);
		if (r < 0)
			return r;
		ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return errmsg_set(err, -errno, "sending to the daemon: %s",
			                  strerror(errno));
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Read more bytes into the framer. Returns 0, or -ECONNRESET on EOF. */
static int fill(struct conn *c, long long deadline, struct errmsg *err)
{
	int r = wait_fd(c->fd, POLLIN, deadline, err);
	if (r < 0)
		return r;
	uint8_t tmp[16384];
	ssize_t n = recv(c->fd, tmp, sizeof(tmp), MSG_DONTWAIT);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (n < 0)
		return errmsg_set(err, -errno, "reading from the daemon: %s", strerror(errno));
	if (n == 0) {
		c->eof = true;
		return errmsg_set(err, -ECONNRESET, "the daemon closed the connection");
	}
	r = jsonrpc_framer_feed(&c->framer, tmp, (size_t)n);
	return r < 0 ? errmsg_set(err, r, "buffering the daemon's answer failed") : 0;
}

/* Next complete line as a JSON value (caller decrefs). */
static int next_msg(struct conn *c, long long deadline, json_t **ret, struct errmsg *err)
{
	for (;;) {
		const char *line;
		size_t len;
		/* Popping an empty framer does pointer arithmetic on its NULL
		 * buffer (UBSan); nothing to pop anyway. */
		int r = jsonrpc_framer_buffered(&c->framer)
		                ? jsonrpc_framer_pop(&c->framer, &line, &len)
		                : 0;
		if (r < 0)
			return errmsg_set(err, -EBADMSG,
			                  "the daemon's answer is larger than %zu bytes",
			                  CONN_MAX_RESPONSE);
		if (r > 0) {
			json_error_t je;
			*ret = json_loadb(line, len, JSON_DECODE_ANY, &je);
			if (!*ret)
				return errmsg_set(err, -EBADMSG, "the daemon sent invalid JSON: %s",
				                  je.text);
			return 0;
		}
		r = fill(c, deadline, err);
		if (r < 0)
			return r;
	}
}

static int send_request(struct conn *c, json_int_t id, const char *method, json_t *params,
                        long long deadline, struct errmsg *err)
{
	json_t *idv = json_integer(id);
	json_t *req = idv ? jsonrpc_request_new(idv, method, params) : (json_decref(params), NULL);
	json_decref(idv);
	if (!req)
		return errmsg_set(err, -ENOMEM, "out of memory");
	_cleanup_buf_ struct buf out = BUF_INIT;
	int r = jsonrpc_encode(req, &out);
	json_decref(req);
	if (r < 0)
		return errmsg_set(err, r, "cannot encode the request for %s", method);
	return send_all(c, out.data, out.len, deadline, err);
}

/* Is msg the response to our request id? */
static bool is_our_response(json_t *msg, json_int_t id)
{
	if (jsonrpc_kind_of(msg) != JSONRPC_KIND_RESPONSE)
		return false;
	json_t *v = json_object_get(msg, "id");
	/* A null id is the server saying it could not read ours: it is for us too. */
	return json_is_null(v) || (json_is_integer(v) && json_integer_value(v) == id);
}

int conn_call(struct conn *c, const char *method, json_t *params, int timeout_ms,
              struct conn_reply *ret, struct errmsg *err)
{
	return conn_call_notes(c, method, params, timeout_ms, NULL, NULL, ret, err);
}

int conn_call_notes(struct conn *c, const char *method, json_t *params, int timeout_ms,
                    conn_note_fn note, void *ctx, struct conn_reply *ret, struct errmsg *err)
{
	long long deadline = now_ms() + timeout_ms;
	json_int_t id = c->next_id++;
	int r = send_request(c, id, method, params, deadline, err);
	if (r < 0)
		return r;
	for (;;) {
		json_t *msg = NULL;
		r = next_msg(c, deadline, &msg, err);
		if (r < 0)
			return r;
		if (!is_our_response(msg, id)) {
			if (note && jsonrpc_kind_of(msg) == JSONRPC_KIND_NOTIFICATION)
				note(msg, ctx);
			json_decref(msg); /* an event notification or a stray answer */
			continue;
		}
		struct jsonrpc_response resp;
		r = jsonrpc_response_parse(msg, &resp, err);
		if (r < 0) {
			json_decref(msg);
			errmsg_prefix(err, "the daemon sent a malformed answer");
			return r;
		}
		*ret = (struct conn_reply){.msg = msg,
		                           .result = resp.code ? NULL : resp.result,
		                           .code = resp.code,
		                           .message = resp.message};
		return 0;
	}
}

int conn_send(struct conn *c, const char *method, json_t *params, int timeout_ms,
              json_int_t *ret_id, struct errmsg *err)
{
	json_int_t id = c->next_id++;
	int r = send_request(c, id, method, params, now_ms() + timeout_ms, err);
	if (r == 0)
		*ret_id = id;
	return r;
}

int conn_next(struct conn *c, int timeout_ms, json_t **ret, struct errmsg *err)
{
	return next_msg(c, now_ms() + timeout_ms, ret, err);
}

int conn_reply_take(json_t *msg, struct conn_reply *ret, struct errmsg *err)
{
	struct jsonrpc_response resp;
	int r = jsonrpc_response_parse(msg, &resp, err);
	if (r < 0) {
		json_decref(msg);
		errmsg_prefix(err, "the daemon sent a malformed answer");
		return r;
	}
	*ret = (struct conn_reply){.msg = msg,
	                           .result = resp.code ? NULL : resp.result,
	                           .code = resp.code,
	                           .message = resp.message};
	return 0;
}

bool conn_is_response(json_t *msg, json_int_t id)
{
	return is_our_response(msg, id);
}

int conn_wait_eof(struct conn *c, int timeout_ms)
{
	long long deadline = now_ms() + timeout_ms;
	while (!c->eof) {
		int r = fill(c, deadline, NULL);
		if (r == -ECONNRESET)
			return 0;
		if (r < 0)
			return r;
		/* Drop whatever arrived; only the close matters here. */
		const char *line;
		size_t len;
		while (jsonrpc_framer_pop(&c->framer, &line, &len) > 0)
			;
	}
	return 0;
}
