/* devices.show, devices.trust, devices.verify, devices.revoke,
 * devices.forget and devices.metrics: the glue between the control API and
 * the paired-device registry (devices.h) and connections (persist.h).
 * devices.forget also drops the device's durable messages both ways (the
 * message service's queue/, dedup/ and inbox/ records).
 * devices.list stays with the pairing service's table; its state field
 * comes from persist_link_json() through the pairing service's hook.
 *
 * A device is named as in devices_lookup(): name, device id, unique id
 * prefix, or peer ID. Errors carry data {reason, detail} like pairing's:
 * "not_found", "ambiguous", "not_connected", "failed". */
#include "rpc-devices.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/node-messages.h"
#include "core/node-pairing.h"
#include "core/node.h"
#include "devices/devices.h"
#include "messages/messages.h"
#include "messages/msgstore.h"
#include "pairing/pairing-service.h"
#include "persist/persist.h"

static bool ready(struct node *n, struct rpc_call *call)
{
	if (n->state == NODE_RUNNING && n->pairing && n->pairing->devices && n->persist)
		return true;
	rpc_call_errorf(call, JSONRPC_NOT_READY, "%s: the daemon is %s; retry in a moment",
	                jsonrpc_code_message(JSONRPC_NOT_READY), node_state_name(n->state));
	return false;
}

static void answer_error(struct rpc_call *call, int code, const char *reason, const char *detail)
{
	char msg[512];
	snprintf(msg, sizeof(msg), "%s: %s", jsonrpc_code_message(code), detail);
	rpc_call_error(call, code, msg,
	               json_pack("{s:s, s:s}", "reason", reason, "detail", detail));
}

/* The device named by params.device, or NULL after answering the call. */
static const struct device *lookup(struct node *n, struct rpc_call *call, json_t *params)
{
	const char *q = json_string_value(json_object_get(params, "device"));
	const struct device *d = NULL;
	struct errmsg e = {{0}};
	int r = devices_lookup(n->pairing->devices, q ? q : "", &d, &e);
	if (r == 0)
		return d;
	if (r == -ENOTUNIQ)
		answer_error(call, JSONRPC_INVALID_PARAMS, "ambiguous", e.text);
	else
		answer_error(call, JSONRPC_NOT_FOUND, "not_found", e.text);
	return NULL;
}

/* The device as devices.list shows it (the link state comes through the
 * pairing service's hook). */
static json_t *device_json(struct node *n, const struct device *d)
{
	json_t *o = n->pairing->service ? pairing_service_device_json(n->pairing->service, d)
	                                : json_object();
	persist_link_json(n->persist, d->info.device_id, o);
	return o;
}

/* ---- devices.show ------------------------------------------------------- */

static int run_show(void *ctx, struct rpc_call *call, json_t *params)
{
	struct node *n = ctx;
	if (!ready(n, call))
		return 0;
	const struct device *d = lookup(n, call, params);
	if (!d)
		return 0;
	json_t *link = persist_show_json(n->persist, d->info.device_id);
	json_t *r = json_pack("{s:o, s:o}", "device", device_json(n, d), "link",
	                      link ? link : json_object());
	if (!r)
		return -ENOMEM;
	rpc_call_reply(call, r);
	return 0;
}

/* ---- devices.trust / devices.revoke ------------------------------------------ */

static int set_trust(struct node *n, struct rpc_call *call, const struct device *d,
                     enum device_trust t)
{
	char id[PAIRING_DEVICE_ID_LEN + 1];
	snprintf(id, sizeof(id), "%s", d->info.device_id);
	struct device copy = *d;
	copy.trust = t;
	struct errmsg e = {{0}};
	int r = devices_put(n->pairing->devices, &copy, &e);
	device_wipe(&copy);
	if (r < 0) {
		answer_error(call, JSONRPC_INTERNAL_ERROR, "failed", e.text);
		return 0;
	}
	/* d moved (the registry replaced the record): look it up again. */
	persist_trust_changed(n->persist, id);
	const struct device *now = devices_find_id(n->pairing->devices, id);
	json_t *res = now ? json_pack("{s:o}", "device", device_json(n, now)) : NULL;
	if (!res)
		return -ENOMEM;
	rpc_call_reply(call, res);
	return 0;
}

static int run_trust(void *ctx, struct rpc_call *call, json_t *params)
{
	struct node *n = ctx;
	if (!ready(n, call))
		return 0;
	const char *level = json_string_value(json_object_get(params, "level"));
	enum device_trust t;
	if (device_trust_parse(level, &t) < 0) {
		answer_error(call, JSONRPC_INVALID_PARAMS, "invalid_level",
		             "level must be trusted, verified, expired or revoked");
		return 0;
	}
	const struct device *d = lookup(n, call, params);
	return d ? set_trust(n, call, d, t) : 0;
}

static int run_revoke(void *ctx, struct rpc_call *call, json_t *params)
{
	struct node *n = ctx;
	if (!ready(n, call))
		return 0;
	const struct device *d = lookup(n, call, params);
	return d ? set_trust(n, call, d, DEVICE_REVOKED) : 0;
}

/* ---- devices.forget --------------------------------------------------------- */

/* Its durable messages both ways: queue/, dedup/ and inbox/ records, and
 * what the message service holds in memory. */
static int forget_messages(struct node *n, const char *device_id, struct errmsg *err)
{
	if (n->messages && n->messages->svc)
		return messages_forget_device(n->messages->svc, device_id, err);
	return n->store ? msgstore_purge_device(n->store, device_id, err) : 0;
}

static int run_forget(void *ctx, struct rpc_call *call, json_t *params)
{
	struct node *n = ctx;
	if (!ready(n, call))
		return 0;
	const struct device *d = lookup(n, call, params);
	if (!d)
		return 0;
	char id[PAIRING_DEVICE_ID_LEN + 1], name[PAIRING_NAME_MAX + 1];
	snprintf(id, sizeof(id), "%s", d->info.device_id);
	snprintf(name, sizeof(name), "%s", d->info.name);
	struct errmsg e = {{0}};
	int r = persist_forget(n->persist, id, &e);
	if (r == 0)
		r = forget_messages(n, id, &e);
	if (r == 0)
		r = devices_remove(n->pairing->devices, id, &e);
	if (r < 0) {
		answer_error(call, JSONRPC_INTERNAL_ERROR, "failed", e.text);
		return 0;
	}
	json_t *res = json_pack("{s:s, s:s}", "device_id", id, "name", name);
	if (!res)
		return -ENOMEM;
	rpc_call_reply(call, res);
	return 0;
}

/* ---- devices.metrics ------------------------------------------------------------ */

static int run_metrics(void *ctx, struct rpc_call *call, json_t *params)
{
	struct node *n = ctx;
	if (!ready(n, call))
		return 0;
	json_t *a;
	if (json_object_get(params, "device")) {
		const struct device *d = lookup(n, call, params);
		if (!d)
			return 0;
		json_t *m = persist_metrics_json(n->persist, d->info.device_id);
		a = json_array();
		if (a && m)
			json_array_append_new(a, m);
	} else {
		a = persist_metrics_json(n->persist, NULL);
	}
	json_t *res = a ? json_pack("{s:o}", "devices", a) : NULL;
	if (!res)
		return -ENOMEM;
	rpc_call_reply(call, res);
	return 0;
}

/* ---- devices.verify ------------------------------------------------------------- */

struct verify_call {
	struct node *n;
	struct rpc_call *call;
	struct rpc_client *client;
	char device_id[PAIRING_DEVICE_ID_LEN + 1];
};

static void verify_gone(void *userdata, struct rpc_client *c)
{
	struct verify_call *v = userdata;
	persist_verify_cancel(v->n->persist, v);
	rpc_call_error(v->call, JSONRPC_INTERNAL_ERROR, "client gone", NULL);
	free(v);
}

static void verify_done(void *ctx, int err, const char *reason, uint64_t epoch, uint64_t elapsed_ms)
{
	struct verify_call *v = ctx;
	if (v->client)
		rpc_client_off_close(v->client, verify_gone, v);
	if (err == 0)
		rpc_call_reply(v->call, json_pack("{s:s, s:b, s:I, s:I}", "device_id", v->device_id,
		                                  "verified", 1, "key_epoch", (json_int_t)epoch,
		                                  "elapsed_ms", (json_int_t)elapsed_ms));
	else
		answer_error(v->call, err == -ETIMEDOUT ? JSONRPC_TIMEOUT : JSONRPC_PEER_ERROR,
		             "failed", reason && *reason ? reason : "verification failed");
	free(v);
}

static int run_verify(void *ctx, struct rpc_call *call, json_t *params)
{
	struct node *n = ctx;
	if (!ready(n, call))
		return 0;
	const struct device *d = lookup(n, call, params);
	if (!d)
		return 0;
	struct verify_call *v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	*v = (struct verify_call){.n = n, .call = call, .client = rpc_call_client(call)};
	snprintf(v->device_id, sizeof(v->device_id), "%s", d->info.device_id);
	int r = persist_verify(n->persist, v->device_id, verify_done, v);
	if (r < 0) {
		char msg[256];
		snprintf(msg, sizeof(msg),
		         "'%s' is not connected; it is verified on every connection (see 'network "
		         "device show')",
		         d->info.name);
		answer_error(call, JSONRPC_CONFLICT, "not_connected", msg);
		free(v);
		return 0;
	}
	if (v->client && rpc_client_on_close(v->client, verify_gone, v) < 0)
		v->client = NULL;
	return 0;
}

static const struct rpc_param device_param[] = {
        {"device", RPC_PARAM_STRING, true},
        {0},
};
static const struct rpc_param trust_params[] = {
        {"device", RPC_PARAM_STRING, true},
        {"level", RPC_PARAM_STRING, true},
        {0},
};
static const struct rpc_param metrics_params[] = {
        {"device", RPC_PARAM_STRING, false},
        {0},
};

const struct rpc_method rpc_devices_methods[] = {
        {"devices.show", device_param, run_show},
        {"devices.trust", trust_params, run_trust},
        {"devices.verify", device_param, run_verify},
        {"devices.revoke", device_param, run_revoke},
        {"devices.forget", device_param, run_forget},
        {"devices.metrics", metrics_params, run_metrics},
        {0},
};
