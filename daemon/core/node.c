/* The node's lifecycle (see node.h): start-up in the order that keeps a
 * failed start harmless (lock before store, store before listeners and
 * socket, socket before READY), the loop, and shutdown in reverse. */
#include "node.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h" /* the build's: SDNETD_VERSION */
#include "lock.h"
#include "node-mdns.h"
#include "node-messages.h"
#include "node-transfers.h"
#include "node-pairing.h"
#include "node-persist.h"
#include "log.h"
#include "notify.h"
#include "privdir.h"
#include "rpc-net.h"
#include "rpc-node.h"
#include "rpc-devices.h"
#include "rpc-messages.h"
#include "rpc-transfers.h"
#include "rpc-pairing.h"
#include "rpc.h"
#include "securestore.h"

const char *node_state_name(enum node_state s)
{
	switch (s) {
	case NODE_STARTING:
		return "starting";
	case NODE_RUNNING:
		return "running";
	default:
		return "stopping";
	}
}

uint64_t node_uptime(const struct node *n)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)(now.tv_sec - n->started.tv_sec);
}

static int take_lock(struct node *n, struct errmsg *err)
{
	int r = n->cfg.data_dir
	                ? 0
	                : paths_data_dir(&n->env, config_instance(&n->cfg), &n->data_dir, err);
	if (r == 0 && !n->data_dir && !(n->data_dir = strdup(n->cfg.data_dir)))
		r = -ENOMEM;
	if (r == 0)
		r = privdir_ensure(n->data_dir, err);
	char *path = NULL;
	if (r == 0 && asprintf(&path, "%s/%s", n->data_dir, LOCK_FILE_NAME) < 0)
		r = -ENOMEM;
	if (r == 0)
		r = lock_acquire(path, config_instance(&n->cfg), &n->lock, NULL, err);
	free(path);
	return r;
}

/* The method tables served; test.* only with --enable-test-protocols
 * (proto/openrpc.json marks that prefix optional). */
static void rpc_tables(const struct node *n, const struct rpc_method *tables[16])
{
	size_t k = 0;
	tables[k++] = rpc_node_methods;
	tables[k++] = rpc_net_methods;
	tables[k++] = rpc_pairing_methods;
	tables[k++] = rpc_devices_methods;
	tables[k++] = rpc_messages_methods;
	tables[k++] = rpc_transfers_methods;
	tables[k++] = rpc_events_methods;
	tables[k++] = rpc_discover_methods;
	if (n->cfg.enable_test_protocols)
		tables[k++] = rpc_test_methods;
	tables[k] = NULL;
}

static int open_control(struct node *n, struct errmsg *err)
{
	char *path = NULL;
	int r = n->cfg.socket_path ? 0
	                           : paths_socket(&n->env, config_instance(&n->cfg), &path, err);
	if (r == 0)
		r = ctlsock_open(n->cfg.socket_path ? n->cfg.socket_path : path, &n->sock, err);
	free(path);
	if (r < 0)
		return r;
	struct rpc_server_config rc;
	rpc_server_config_default(&rc);
	if (n->cfg.socket_group) {
		r = ctlsock_group_lookup(n->cfg.socket_group, &rc.allowed_gid, err);
		if (r == 0)
			r = ctlsock_share(&n->sock, rc.allowed_gid, err);
		if (r < 0) {
			close(n->sock.fd);
			return r;
		}
	}
	const struct rpc_method *tables[16];
	rpc_tables(n, tables);
	r = rpc_server_new(n->base, n->sock.fd, &rc, tables, n, &n->rpc);
	if (r < 0) {
		close(n->sock.fd);
		return errmsg_set(err, r, "cannot start the control server: %s", strerror(-r));
	}
	return 0;
}

static void ready(struct node *n)
{
	n->state = NODE_RUNNING;
	/* Protocols registered after the listeners opened (pairing): a peer
	 * that connected meanwhile hears of them. */
	node_net_changed(n);
	char status[256];
	snprintf(status, sizeof(status), "Running; instance %s, peer %s, control socket %s",
	         config_instance(&n->cfg), n->id.peer_id, n->sock.path);
	notify_ready(status);
	/* In the foreground the banner says the same on stdout. */
	log_emit(n->cfg.foreground ? LOG_DEBUG : LOG_INFO, __FILE__, __LINE__, __func__,
	         "ready: instance '%s', peer id %s, device '%s', control socket %s%s",
	         config_instance(&n->cfg), n->id.peer_id, n->id.device_name, n->sock.path,
	         n->sock.activated ? " (socket activation)" : "");
}

int node_start(struct node *n, struct config *cfg, int argc, char *const *argv,
               const struct paths_env *env, struct errmsg *err)
{
	*n = (struct node){.argc = argc, .argv = argv, .env = *env, .sock = {.fd = -1}};
	config_init(&n->cfg);
	config_merge(&n->cfg, cfg);
	clock_gettime(CLOCK_MONOTONIC, &n->started);
	n->base = event_base_new();
	if (!n->base)
		return errmsg_set(err, -ENOMEM, "cannot create the event loop");
	n->notifier = notify_new(n->base);
	if (!n->notifier)
		return -ENOMEM;
	notify_status("Starting");
	int r = take_lock(n, err);
	if (r == 0)
		r = node_open_identity(n, err);
	if (r == 0)
		r = node_signals_add(n);
	if (r == 0)
		r = node_net_start(n, err);
	if (r == 0)
		r = node_pairing_start(n, err);
	if (r == 0)
		r = node_mdns_start(n, err);
	if (r == 0)
		r = node_persist_start(n, err);
	if (r == 0)
		r = node_messages_start(n, err);
	if (r == 0)
		r = node_transfers_start(n, err);
	if (r == 0)
		r = open_control(n, err);
	if (r == 0)
		ready(n);
	return r;
}

int node_run(struct node *n)
{
	return event_base_dispatch(n->base) < 0 ? -EIO : 0;
}

void node_request_stop(struct node *n, const char *why)
{
	if (n->state == NODE_STOPPING)
		return;
	log_debug("stop requested: %s", why);
	log_info("shutting down");
	n->state = NODE_STOPPING;
	notify_stopping();
	event_base_loopexit(n->base, NULL);
}

void node_free(struct node *n)
{
	if (n->state != NODE_STOPPING && n->rpc)
		notify_stopping();
	n->state = NODE_STOPPING;
	/* Before the RPC server: pending calls get their answer flushed. */
	node_transfers_free(n);
	node_messages_free(n);
	node_persist_free(n);
	node_mdns_free(n);
	node_pairing_free(n);
	node_net_free(n);
	rpc_server_free(n->rpc);
	n->rpc = NULL;
	ctlsock_release(&n->sock);
	securestore_close(n->store);
	n->store = NULL;
	identity_wipe(&n->id);
	lock_release(n->lock);
	n->lock = NULL;
	node_signals_free(n);
	notify_free(n->notifier);
	n->notifier = NULL;
	if (n->base)
		event_base_free(n->base);
	n->base = NULL;
	free(n->data_dir);
	n->data_dir = NULL;
	config_free(&n->cfg);
}

void node_print_banner(const struct node *n, FILE *f)
{
	fprintf(f, "sdnetd %s instance '%s'\npeer id: %s\ndevice: %s (%s)\ncontrol socket: %s\n",
	        SDNETD_VERSION, config_instance(&n->cfg), n->id.peer_id, n->id.device_name,
	        n->id.device_id, n->sock.path);
	fflush(f);
}
