/* devices.show, devices.trust, devices.verify, devices.revoke,
 * devices.forget, devices.metrics (proto/openrpc.json): paired devices and
 * their connections. The server's ctx must be the struct node. */
#pragma once

#include "rpc.h"

extern const struct rpc_method rpc_devices_methods[];
