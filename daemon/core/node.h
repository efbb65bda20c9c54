/* The running node: configuration, instance lock, secure store and
 * identity, control socket and RPC server, signals and service-manager
 * notifications, all on one libevent loop.
 *
 * Lifecycle: node_start() does everything up to READY=1 (a failure there is
 * fatal: the caller prints err and exits 1, having changed nothing it found
 * on disk); node_run() runs the loop until a stop is requested (SIGTERM,
 * SIGINT, node.shutdown); node_free() shuts down in order: STOPPING=1,
 * pending network calls answered, libp2p connections closed (GoAway, FIN),
 * RPC clients answered and closed, socket file removed, store closed, lock
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

struct host;
struct host_limits;
struct identify_service;
struct lock;
struct net_pending;
struct node_mdns;
struct persist;
struct node_messages;
struct node_transfers;
struct node_pairing;
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
	struct host *host;                 /* libp2p: listeners, connections, protocols */
	struct identify_service *identify; /* identify and identify push */
	struct net_pending *net_calls;     /* asynchronous net.* / test.* calls (rpc-net.h) */
	struct node_pairing *pairing;      /* devices, rendezvous, pairing (node-pairing.h) */
	struct node_mdns *mdns;            /* mDNS discovery (node-mdns.h); NULL when off */
	struct persist *persist;           /* paired-device connections (node-persist.h) */
	struct node_messages *messages;    /* DeviceMessage service (node-messages.h) */
	struct node_transfers *transfers;  /* file transfer and Spacedrop (node-transfers.h) */
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

/* The libp2p host on the configured listen addresses, with ping,
 * identify, the RPC events and (--enable-test-protocols) the echo test
 * protocol. Errors name the address that could not be used. */
int node_net_start(struct node *n, struct errmsg *err);
/* Answer pending net calls, stop identify, then close every connection
 * (GoAway, then FIN) and listener. NULL-safe parts; idempotent. */
void node_net_free(struct node *n);
/* Our listen addresses or protocols changed: identify push to every
 * connected peer. */
void node_net_changed(struct node *n);
/* The connection limits the host runs with (net.stats). */
const struct host_limits *node_net_limits(void);

/* Open the store (password from --password-file or the credential) and
 * load or make the identity; applies --device-name. */
int node_open_identity(struct node *n, struct errmsg *err);
/* SIGHUP: read the configuration again and apply what can change live. */
void node_reload(struct node *n);
int node_signals_add(struct node *n);
void node_signals_free(struct node *n);
