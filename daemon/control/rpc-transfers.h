/* transfers.send, transfers.list, transfers.cancel, spacedrop.send,
 * spacedrop.list, spacedrop.accept, spacedrop.reject (proto/openrpc.json):
 * the control API of the file-transfer service. The server's ctx must be
 * the struct node. */
#pragma once

#include "rpc.h"

extern const struct rpc_method rpc_transfers_methods[];
