/* node.* methods: node.info, node.status, node.shutdown,
 * node.set_device_name (proto/openrpc.json). The server's ctx must be the
 * struct node (daemon/core/node.h). */
#pragma once

#include "rpc.h"

extern const struct rpc_method rpc_node_methods[];
