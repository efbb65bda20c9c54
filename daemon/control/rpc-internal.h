/* Internals shared by the control server's files (rpc.c, rpc-client.c,
 * rpc-call.c, rpc-dispatch.c, rpc-params.c, rpc-events.c, rpc-peer.c) and
 * by its tests and fuzz target. Method code includes rpc.h only. */
#pragma once

#include <event2/bufferevent.h>
#include <sys/queue.h>

#include "rpc.h"

/* Seconds a closing client gets to read its last error line. */
#define RPC_LINGER_SECONDS 5
/* Seconds the listener pauses after accept() fails (EMFILE and friends),
 * so a full fd table does not turn into a busy loop. */
#define RPC_ACCEPT_PAUSE_SECONDS 1

struct rpc_peer {
	pid_t pid;
	uid_t uid;
	gid_t gid;
};

struct rpc_close_hook {
	rpc_client_gone_fn fn;
	void *userdata;
};

LIST_HEAD(rpc_call_list, rpc_call);
LIST_HEAD(rpc_client_list, rpc_client);

struct rpc_client {
	struct rpc_server *server;
	struct bufferevent *bev;
	struct jsonrpc_framer framer;
	struct rpc_peer peer;
	LIST_ENTRY(rpc_client) link; /* server's live list, then its reap list */
	struct rpc_call_list calls;  /* accepted and not yet answered */
	size_t ncalls;
	struct rpc_close_hook hooks[RPC_MAX_CLOSE_HOOKS];
	size_t nhooks;
	bool subscribed;
	json_t *event_kinds; /* NULL: every kind */
	bool draining;       /* last words queued; closes when output drains */
	bool closed;         /* waiting for the reaper */
};

struct rpc_batch {
	struct rpc_client *client; /* NULL once the client is gone */
	json_t *replies;
	size_t holds; /* calls not yet answered, plus the dispatcher's own */
};

struct rpc_call {
	struct rpc_client *client; /* NULL once the client is gone */
	struct rpc_batch *batch;   /* NULL for a single request */
	json_t *id;                /* NULL for a notification */
	const struct rpc_method *method;
	LIST_ENTRY(rpc_call) link;
	bool in_run;
	bool answered;
};

struct rpc_server {
	struct event_base *base;
	struct evconnlistener *listener;
	struct event *reap_ev;
	struct event *resume_ev;
	struct rpc_server_config cfg;
	const struct rpc_method **tables;
	void *ctx;
	struct rpc_client_list clients; /* live */
	struct rpc_client_list reap;    /* closed, freed from reap_ev */
	struct rpc_server_stats stats;  /* clients and calls_pending computed on read */
};

/* rpc.c */
const struct rpc_method *rpc_server_find(const struct rpc_server *s, const char *name);
/* 0, or -EPERM/-EBUSY with *err_reply (may come back NULL on ENOMEM). */
int rpc_server_admit(struct rpc_server *s, const struct rpc_peer *p, json_t **err_reply);
void rpc_server_retire(struct rpc_server *s, struct rpc_client *c);

/* rpc-client.c. rpc_client_new takes bev (frees it on failure too) and
 * counts the client in; the caller has admitted the peer. */
int rpc_client_new(struct rpc_server *s, struct bufferevent *bev, const struct rpc_peer *peer,
                   struct rpc_client **ret);
void rpc_client_free(struct rpc_client *c);
/* Queue msg (borrowed) as one line. -EPIPE if closing, -ENOBUFS if that put
 * the client over max_pending_out (it is then closed), -ENOMEM. */
int rpc_client_send(struct rpc_client *c, const json_t *msg);
int rpc_client_send_line(struct rpc_client *c, const void *line, size_t len);
/* Flush what is queued, then close; no more reads or answers. */
void rpc_client_drain_close(struct rpc_client *c);
/* One non-blocking write of queued output (shutdown: node.shutdown's
 * answer should reach its caller even though the loop stops). */
void rpc_client_flush(struct rpc_client *c);
/* Close now: calls go dead, the reaper frees c on a later loop turn. */
void rpc_client_close(struct rpc_client *c);

/* rpc-call.c */
struct rpc_batch *rpc_batch_new(struct rpc_client *c);
/* Add a ready reply (stolen; NULL ignored) to a batch. */
void rpc_batch_add(struct rpc_batch *b, json_t *reply);
/* Drop one hold; the last one sends the replies (if any) and frees b. */
void rpc_batch_release(struct rpc_batch *b);
struct rpc_call *rpc_call_new(struct rpc_client *c, struct rpc_batch *b, json_t *id,
                              const struct rpc_method *m);
void rpc_call_run(struct rpc_call *call, json_t *params);
/* Called by the client on close: its calls and their batches go dead. */
void rpc_call_detach_all(struct rpc_client *c);

/* rpc-dispatch.c: one framed line from c. */
void rpc_dispatch_line(struct rpc_client *c, const char *line, size_t len);

/* rpc-params.c: normalise params (missing or [] -> {}) and check them
 * against m's spec. 0 with *ret_params a new reference to an object, or
 * -EINVAL with why. */
int rpc_params_check(const struct rpc_method *m, json_t *params, json_t **ret_params,
                     struct errmsg *why);

/* rpc-events.c */
bool rpc_events_match(const struct rpc_client *c, const char *kind);

/* rpc-peer.c: SO_PEERCRED of a connected Unix socket, and the check with
 * its supplementary groups (SO_PEERGROUPS, else the user's group list). */
int rpc_peer_read(int fd, struct rpc_peer *ret);
int rpc_peer_check_fd(const struct rpc_server_config *cfg, int fd, const struct rpc_peer *p,
                      struct errmsg *why);
