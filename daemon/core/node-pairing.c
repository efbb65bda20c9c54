/* The node's pairing side (see node-pairing.h): the device registry on the
 * secure store, the rendezvous fan-out for discovery backends, and the
 * pairing service on the host, with our DeviceInfo taken from the identity
 * at each use (the device name can change while the daemon runs) and its
 * events sent to RPC subscribers. */
#include "node-pairing.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "devices/devices.h"
#include "discovery/rendezvous.h"
#include "log.h"
#include "node.h"
#include "pairing/pairing-service.h"
#include "rpc.h"

/* Tests only, and only with --enable-test-protocols: see
 * pairing_service_config.test_hold_ms. */
#define TEST_HOLD_ENV "SDNETD_TEST_PAIRING_HOLD_MS"

static void self_info(void *ctx, struct pairing_device_info *ret)
{
	struct node *n = ctx;
	*ret = (struct pairing_device_info){.peer_id = n->id.peer,
	                                    .protocol_version = PAIRING_VERSION};
	snprintf(ret->device_id, sizeof(ret->device_id), "%s", n->id.device_id);
	snprintf(ret->name, sizeof(ret->name), "%s", n->id.device_name);
	struct utsname u;
	snprintf(ret->os, sizeof(ret->os), "%s", uname(&u) == 0 ? u.sysname : "unknown");
	for (char *p = ret->os; *p; p++)
		*p = (char)tolower((unsigned char)*p);
}

static void emit(void *ctx, const char *kind, json_t *data)
{
	struct node *n = ctx;
	if (n->rpc)
		rpc_server_emit(n->rpc, kind, data);
}

static uint32_t test_hold_ms(const struct node *n)
{
	const char *v = getenv(TEST_HOLD_ENV);
	if (!n->cfg.enable_test_protocols || !v || !*v)
		return 0;
	unsigned long ms = strtoul(v, NULL, 10);
	log_warning("%s=%lu: joiners wait before saving a pairing (tests only)", TEST_HOLD_ENV, ms);
	return ms > 60000 ? 60000 : (uint32_t)ms;
}

int node_pairing_start(struct node *n, struct errmsg *err)
{
	struct node_pairing *p = calloc(1, sizeof(*p));
	if (!p)
		return errmsg_set(err, -ENOMEM, "out of memory");
	n->pairing = p;
	p->rendezvous = rendezvous_new();
	if (!p->rendezvous)
		return errmsg_set(err, -ENOMEM, "out of memory");
	size_t skipped = 0;
	int r = devices_open(n->store, &p->devices, &skipped, err);
	if (r < 0) {
		errmsg_prefix(err, "cannot load the paired devices");
		return r;
	}
	log_debug("%zu paired devices loaded (%zu unreadable)", devices_count(p->devices), skipped);
	struct pairing_service_config c = {
	        .base = n->base,
	        .host = n->host,
	        .devices = p->devices,
	        .rendezvous = p->rendezvous,
	        .self = self_info,
	        .emit = emit,
	        .ctx = n,
	        .test_hold_ms = test_hold_ms(n),
	};
	return pairing_service_new(&c, &p->service, err);
}

void node_pairing_free(struct node *n)
{
	struct node_pairing *p = n->pairing;
	if (!p)
		return;
	pairing_service_free(p->service);
	devices_free(p->devices);
	rendezvous_free(p->rendezvous);
	free(p);
	n->pairing = NULL;
}
