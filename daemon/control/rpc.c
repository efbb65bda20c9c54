/* The control server: accepts local clients on the Unix socket, admits them
 * by peer credentials and named caps, keeps the method tables, fans events
 * out to subscribers, and frees closed clients from a clean stack (the
 * reaper), so no callback ever runs on a client that was freed under it.
 *
 * Caps (defaults in rpc.h, reasons in docs/rpc.md): clients in total and per
 * uid, request line size, output queued per client, calls in progress per
 * client. Each one has a counter in struct rpc_server_stats. */
#include "rpc-internal.h"

#include <errno.h>
#include <event2/listener.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

void rpc_server_config_default(struct rpc_server_config *cfg)
{
	*cfg = (struct rpc_server_config){
	        .owner_uid = getuid(),
	        .allowed_gid = (gid_t)-1,
	        .max_request = JSONRPC_MAX_REQUEST,
	        .max_clients_per_uid = RPC_DEFAULT_MAX_CLIENTS_PER_UID,
	        .max_pending_out = RPC_DEFAULT_MAX_PENDING_OUT,
	        .max_clients = RPC_DEFAULT_MAX_CLIENTS,
	        .max_calls_per_client = RPC_DEFAULT_MAX_CALLS_PER_CLIENT,
	};
}

const struct rpc_method *rpc_server_find(const struct rpc_server *s, const char *name)
{
	for (size_t t = 0; s->tables[t]; t++)
		for (const struct rpc_method *m = s->tables[t]; m->name; m++)
			if (strcmp(m->name, name) == 0)
				return m;
	return NULL;
}

/* Copy the table list and refuse rows that would make dispatch ambiguous:
 * rpc_server_find() sees the tables copied so far, plus earlier rows of
 * the table being added. */
static bool name_taken(const struct rpc_server *s, const struct rpc_method *table,
                       const struct rpc_method *row)
{
	for (const struct rpc_method *m = table; m != row; m++)
		if (strcmp(m->name, row->name) == 0)
			return true;
	return rpc_server_find(s, row->name) != NULL;
}

static int server_set_tables(struct rpc_server *s, const struct rpc_method *const *tables)
{
	size_t n = 0;
	while (tables && tables[n])
		n++;
	s->tables = calloc(n + 1, sizeof(*s->tables));
	if (!s->tables)
		return -ENOMEM;
	for (size_t t = 0; t < n; t++) {
		for (const struct rpc_method *m = tables[t]; m->name; m++) {
			if (!m->run)
				return -EINVAL;
			if (name_taken(s, tables[t], m))
				return -EEXIST;
		}
		s->tables[t] = tables[t];
	}
	return 0;
}

static size_t clients_of_uid(const struct rpc_server *s, uid_t uid)
{
	size_t n = 0;
	struct rpc_client *c;
	LIST_FOREACH(c, &s->clients, link)
	if (c->peer.uid == uid)
		n++;
	return n;
}

int rpc_server_admit(struct rpc_server *s, const struct rpc_peer *p, json_t **err_reply)
{
	size_t total = s->stats.clients, mine = clients_of_uid(s, p->uid);
	if (total < s->cfg.max_clients && mine < s->cfg.max_clients_per_uid)
		return 0;
	s->stats.refused_limit++;
	if (total >= s->cfg.max_clients)
		*err_reply = jsonrpc_error_newf(NULL, JSONRPC_BUSY,
		                                "Busy: the daemon already serves %zu clients "
		                                "(limit %zu); close some and retry",
		                                total, s->cfg.max_clients);
	else
		*err_reply = jsonrpc_error_newf(NULL, JSONRPC_BUSY,
		                                "Busy: uid %u already has %zu connections (limit "
		                                "%zu); close idle clients and retry",
		                                (unsigned)p->uid, mine, s->cfg.max_clients_per_uid);
	return -EBUSY;
}

/* Say why in one line, then hang up; the socket buffer of a fresh
 * connection always has room for it, so this never blocks. */
static void refuse(int fd, json_t *reply)
{
	struct buf line = BUF_INIT;
	if (reply && jsonrpc_encode(reply, &line) == 0)
		(void)!send(fd, line.data, line.len, MSG_NOSIGNAL | MSG_DONTWAIT);
	buf_free(&line);
	json_decref(reply);
	close(fd);
}

/* Credentials first: a refused peer learns nothing about the load. */
static int accept_check(struct rpc_server *s, int fd, struct rpc_peer *p, json_t **err_reply)
{
	struct errmsg why;
	if (rpc_peer_read(fd, p) < 0) {
		*err_reply = jsonrpc_error_new(NULL, JSONRPC_INTERNAL_ERROR,
		                               "Internal error: cannot read the peer's "
		                               "credentials (SO_PEERCRED)",
		                               NULL);
		return -EPERM;
	}
	if (rpc_peer_check_fd(&s->cfg, fd, p, &why) < 0) {
		s->stats.refused_permission++;
		*err_reply = jsonrpc_error_new(NULL, JSONRPC_PERMISSION_DENIED, why.text, NULL);
		return -EPERM;
	}
	return rpc_server_admit(s, p, err_reply);
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                      int socklen, void *arg)
{
	struct rpc_server *s = arg;
	struct rpc_peer peer;
	json_t *err_reply = NULL;
	if (accept_check(s, fd, &peer, &err_reply) < 0) {
		refuse(fd, err_reply);
		return;
	}
	struct bufferevent *bev = bufferevent_socket_new(s->base, fd, BEV_OPT_CLOSE_ON_FREE);
	struct rpc_client *c;
	if (!bev) {
		close(fd);
		return;
	}
	(void)rpc_client_new(s, bev, &peer, &c);
}

static void on_accept_error(struct evconnlistener *l, void *arg)
{
	struct rpc_server *s = arg;
	struct timeval pause = {RPC_ACCEPT_PAUSE_SECONDS, 0};
	evconnlistener_disable(l);
	event_add(s->resume_ev, &pause);
}

static void on_resume(evutil_socket_t fd, short what, void *arg)
{
	struct rpc_server *s = arg;
	evconnlistener_enable(s->listener);
}

static void on_reap(evutil_socket_t fd, short what, void *arg)
{
	struct rpc_server *s = arg;
	struct rpc_client *c;
	while ((c = LIST_FIRST(&s->reap))) {
		LIST_REMOVE(c, link);
		rpc_client_free(c);
	}
}

void rpc_server_retire(struct rpc_server *s, struct rpc_client *c)
{
	LIST_REMOVE(c, link);
	s->stats.clients--;
	LIST_INSERT_HEAD(&s->reap, c, link);
	event_active(s->reap_ev, EV_TIMEOUT, 0);
}

static void ignore_sigpipe(void)
{
	struct sigaction sa;
	if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL)
		signal(SIGPIPE, SIG_IGN);
}

static int server_listen(struct rpc_server *s, int listen_fd)
{
	s->resume_ev = evtimer_new(s->base, on_resume, s);
	if (!s->resume_ev)
		return -ENOMEM;
	if (evutil_make_socket_nonblocking(listen_fd) < 0)
		return -errno;
	/* Backlog 0: the socket is already listening (ours or systemd's). */
	s->listener = evconnlistener_new(
	        s->base, on_accept, s, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, listen_fd);
	if (!s->listener)
		return -ENOMEM;
	evconnlistener_set_error_cb(s->listener, on_accept_error);
	return 0;
}

static bool config_valid(const struct rpc_server_config *cfg)
{
	return cfg->max_request > 0 && cfg->max_clients > 0 && cfg->max_clients_per_uid > 0 &&
	       cfg->max_pending_out > 0 && cfg->max_calls_per_client > 0;
}

int rpc_server_new(struct event_base *base, int listen_fd, const struct rpc_server_config *cfg,
                   const struct rpc_method *const *tables, void *ctx, struct rpc_server **ret)
{
	if (!config_valid(cfg))
		return -EINVAL;
	struct rpc_server *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	*s = (struct rpc_server){.base = base, .cfg = *cfg, .ctx = ctx};
	LIST_INIT(&s->clients);
	LIST_INIT(&s->reap);
	int r = server_set_tables(s, tables);
	if (r == 0 && !(s->reap_ev = event_new(base, -1, 0, on_reap, s)))
		r = -ENOMEM;
	if (r == 0 && listen_fd >= 0)
		r = server_listen(s, listen_fd);
	if (r < 0) {
		rpc_server_free(s);
		return r;
	}
	ignore_sigpipe();
	*ret = s;
	return 0;
}

void rpc_server_free(struct rpc_server *s)
{
	if (!s)
		return;
	struct rpc_client *c;
	while ((c = LIST_FIRST(&s->clients))) {
		rpc_client_flush(c);
		rpc_client_close(c);
	}
	if (s->reap_ev)
		on_reap(-1, 0, s);
	if (s->listener)
		evconnlistener_free(s->listener);
	if (s->resume_ev)
		event_free(s->resume_ev);
	if (s->reap_ev)
		event_free(s->reap_ev);
	free(s->tables);
	free(s);
}

void rpc_server_emit(struct rpc_server *s, const char *kind, json_t *data)
{
	json_t *params = json_pack("{s:s, s:O?}", "kind", kind, "data", data);
	json_t *note = params ? jsonrpc_notification_new("event", params) : NULL;
	struct buf line = BUF_INIT;
	if (note && jsonrpc_encode(note, &line) == 0) {
		struct rpc_client *c, *next;
		for (c = LIST_FIRST(&s->clients); c; c = next) {
			next = LIST_NEXT(c, link);
			if (rpc_events_match(c, kind) &&
			    rpc_client_send_line(c, line.data, line.len) == 0)
				s->stats.events++;
		}
	}
	buf_free(&line);
	json_decref(note);
}

int rpc_client_notify(struct rpc_client *c, const char *kind, json_t *data)
{
	json_t *params = json_pack("{s:s, s:O?}", "kind", kind, "data", data);
	json_t *note = params ? jsonrpc_notification_new("event", params) : NULL;
	if (!note)
		return -ENOMEM;
	struct rpc_server *s = c->server;
	int r = rpc_client_send(c, note);
	json_decref(note);
	if (r == 0)
		s->stats.events++;
	return r;
}

void rpc_server_get_stats(const struct rpc_server *s, struct rpc_server_stats *ret)
{
	*ret = s->stats;
	ret->calls_pending = 0;
	struct rpc_client *c;
	LIST_FOREACH(c, &s->clients, link)
	ret->calls_pending += c->ncalls;
}

json_t *rpc_server_stats_json(const struct rpc_server *s)
{
	struct rpc_server_stats st;
	rpc_server_get_stats(s, &st);
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "clients",
	                 (json_int_t)st.clients, "calls_pending", (json_int_t)st.calls_pending,
	                 "accepted", (json_int_t)st.accepted, "refused_permission",
	                 (json_int_t)st.refused_permission, "refused_limit",
	                 (json_int_t)st.refused_limit, "dropped_slow", (json_int_t)st.dropped_slow,
	                 "dropped_oversize", (json_int_t)st.dropped_oversize, "requests",
	                 (json_int_t)st.requests, "invalid", (json_int_t)st.invalid, "events",
	                 (json_int_t)st.events);
}
