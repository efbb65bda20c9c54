/* pairing.* and devices.list methods (proto/openrpc.json): the glue
 * between the control API and the pairing service. The server's ctx must
 * be the struct node (daemon/core/node.h). */
#pragma once

#include "rpc.h"

/* pairing.generate, pairing.join, pairing.status, pairing.cancel,
 * devices.list. */
extern const struct rpc_method rpc_pairing_methods[];
