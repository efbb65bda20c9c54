/* rpc.discover: the OpenRPC document of this API. proto/openrpc.json is the
 * single source of truth for method names, params and errors; the build
 * embeds it (embed-json.py), so the daemon always describes exactly the API
 * it was built with, and a unit test keeps the method tables in step. */
#include "rpc-internal.h"

#include <errno.h>

#include "openrpc-json.h"

json_t *rpc_discover_document(void)
{
	return json_loadb(rpc_openrpc_json, sizeof(rpc_openrpc_json), 0, NULL);
}

static int run_discover(void *ctx, struct rpc_call *call, json_t *params)
{
	json_t *doc = rpc_discover_document();
	if (!doc)
		return -ENOMEM;
	rpc_call_reply(call, doc);
	return 0;
}

const struct rpc_method rpc_discover_methods[] = {
        {"rpc.discover", NULL, run_discover},
        {0},
};
