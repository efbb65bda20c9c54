/* net.* and test.* methods and the net.* events: the glue between the
 * control API and the libp2p host (daemon/net/host.h). The server's ctx must
 * be the struct node (daemon/core/node.h). Results, errors and event data
 * follow proto/openrpc.json; test_rpc_openrpc holds the tables to it. */
#pragma once

#include "rpc.h"

struct node;

/* net.connect, net.disconnect, net.ping, net.peers, net.stats. */
extern const struct rpc_method rpc_net_methods[];
/* test.echo: served only with --enable-test-protocols. */
extern const struct rpc_method rpc_test_methods[];

/* Emit net.peer_connected / net.peer_disconnected / net.peer_identified
 * from the host's observers and identify's callback. 0 or -ENOMEM. */
int rpc_net_events_attach(struct node *n);
void rpc_net_events_detach(struct node *n);

/* Shutdown: answer every asynchronous call still running (net.connect,
 * net.ping, test.echo) with "Not ready: the daemon is stopping" and stop
 * its work. Before host_free() and rpc_server_free(). */
void rpc_net_cancel_all(struct node *n);
