/* The node's side of the persist service (see node-persist.h). */
#include "node-persist.h"

#include <stdlib.h>

#include "devices/device.h"
#include "log.h"
#include "node-mdns.h"
#include "node-pairing.h"
#include "node.h"
#include "pairing/pairing-service.h"
#include "persist/persist.h"
#include "rpc.h"

/* Tests only, and only with --enable-test-protocols: see
 * persist_config.test_rekey_kill. */
#define TEST_REKEY_KILL_ENV "SDNETD_TEST_REKEY_KILL"

static void emit(void *ctx, const char *kind, json_t *data)
{
	struct node *n = ctx;
	if (n->rpc)
		rpc_server_emit(n->rpc, kind, data);
}

static const char *test_kill(const struct node *n)
{
	const char *v = getenv(TEST_REKEY_KILL_ENV);
	if (!n->cfg.enable_test_protocols || !v || !*v)
		return NULL;
	log_warning("%s=%s: the daemon kills itself during a key rotation (tests only)",
	            TEST_REKEY_KILL_ENV, v);
	return v;
}

/* devices.list and pairing events show the link state. */
static void device_hook(void *ctx, const struct device *d, json_t *obj)
{
	persist_link_json(ctx, d->info.device_id, obj);
}

int node_persist_start(struct node *n, struct errmsg *err)
{
	if (!n->pairing || !n->pairing->devices)
		return 0;
	const struct config *c = &n->cfg;
	struct persist_config pc = {
	        .base = n->base,
	        .host = n->host,
	        .devices = n->pairing->devices,
	        .store = n->store,
	        .mdns = n->mdns ? n->mdns->svc : NULL,
	        .max_connections = c->max_connections,
	        .connection_timeout_ms = (uint32_t)c->connection_timeout_ms,
	        .retry_interval_ms = (uint32_t)c->retry_interval_ms,
	        .auto_reconnect = config_has(c, CONFIG_AUTO_RECONNECT) ? c->auto_reconnect : true,
	        .keepalive_ms = (uint32_t)c->keepalive_ms,
	        .rotation_ms = c->key_rotation_ms,
	        .emit = emit,
	        .ctx = n,
	        .test_rekey_kill = test_kill(n),
	};
	int r = persist_new(&pc, &n->persist, err);
	if (r == 0 && n->pairing->service)
		pairing_service_set_device_hook(n->pairing->service, device_hook, n->persist);
	return r;
}

void node_persist_free(struct node *n)
{
	if (n->persist && n->pairing && n->pairing->service)
		pairing_service_set_device_hook(n->pairing->service, NULL, NULL);
	persist_free(n->persist);
	n->persist = NULL;
}
