/* The running node: configuration, instance lock, secure store and
 * identity, control socket and RPC server, signals and service-manager
 * notifications, all on one libevent loop.
 *
 * Lifecycle: node_start() does everything up to READY=1 (a failure there is
 * fatal: the caller prints err and exits 1, having changed nothing it found
 * on disk); node_run() runs the loop until a stop is requested (SIGTERM,
 * SIGINT, node.shutdown); node_free() shuts down in order: STOPPING=1, RPC
 * clients answered and closed, socket file removed, store closed, lock
 * released. Every change to stored state is written when it is made, so a
 * graceful stop has nothing left to flush. */
#pragma once

#include <event2/event.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "daemon-config.h"
#include "ctlsock.h"
#include "errmsg.h"
#include "identity.h"
#include "paths.h"

enum node_state {
	NODE_STARTING,
	NODE_RUNNING,
	NODE_STOPPING,
};

struct lock;
struct notifier;
struct rpc_server;
struct securestore;

struct node {
	struct event_base *base;
	struct config cfg; /* the configuration in effect */
	int argc;          /* the command line, parsed again on SIGHUP */
	char *const *argv;
	struct paths_env env;
	char *data_dir;
	struct lock *lock;
	struct securestore *store;
	struct identity id;
	struct ctlsock sock;
	struct rpc_server *rpc;
	struct notifier *notifier;
	struct event *signals[3];
	enum node_state state;
	struct timespec started; /* CLOCK_MONOTONIC */
};

/* cfg is moved into the node (left empty). */
int node_start(struct node *n, struct config *cfg, int argc, char *const *argv,
               const struct paths_env *env, struct errmsg *err);
/* Run the loop until a stop is requested; 0, or -EIO if the loop failed. */
int node_run(struct node *n);
/* Ask the loop to stop after the current callbacks (safe from methods and
 * signal handlers); why goes to the debug log. */
void node_request_stop(struct node *n, const char *why);
void node_free(struct node *n);

uint64_t node_uptime(const struct node *n);
const char *node_state_name(enum node_state s);
/* "sdnetd 0.1.0 instance 'a'\npeer id: ...\n..." for --foreground. */
void node_print_banner(const struct node *n, FILE *f);

/* Rename the device: checked, stored, then the event
 * node.device_name_changed {device_id, device_name} is emitted.
 * -EINVAL (err says why), or a store error. */
int node_set_device_name(struct node *n, const char *name, struct errmsg *err);

/* Open the store (password from --password-file or the credential) and
 * load or make the identity; applies --device-name. */
int node_open_identity(struct node *n, struct errmsg *err);
/* SIGHUP: read the configuration again and apply what can change live. */
void node_reload(struct node *n);
int node_signals_add(struct node *n);
void node_signals_free(struct node *n);
