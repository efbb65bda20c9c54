/* pairing.* and devices.list: the glue between the control API and the
 * pairing service (daemon/pairing/pairing-service.h). Results and errors
 * follow proto/openrpc.json; test_rpc_openrpc holds the table to it.
 *
 * Errors carry data {reason, detail}: reason is a stable word for scripts
 * ("wrong_code", "expired", "code_used", "rate_limited", "invalid_code",
 * "unreachable", "timeout", "cancelled", "peer_required", "failed"),
 * detail the sentence alone (the message has the code's phrase in front),
 * which the CLI prints as is. */
#include "rpc-pairing.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/node-pairing.h"
#include "core/node.h"
#include "crypto.h"
#include "pairing/pairing-service.h"

static struct pairing_service *service(struct node *n, struct rpc_call *call)
{
	if (n->state == NODE_RUNNING && n->pairing && n->pairing->service)
		return n->pairing->service;
	rpc_call_errorf(call, JSONRPC_NOT_READY, "%s: the daemon is %s; retry in a moment",
	                jsonrpc_code_message(JSONRPC_NOT_READY), node_state_name(n->state));
	return NULL;
}

static void answer_error(struct rpc_call *call, int code, const char *reason, const char *detail)
{
	char msg[512];
	snprintf(msg, sizeof(msg), "%s: %s", jsonrpc_code_message(code), detail);
	rpc_call_error(call, code, msg,
	               json_pack("{s:s, s:s}", "reason", reason, "detail", detail));
}

/* ---- pairing.generate --------------------------------------------------- */

static int run_generate(void *ctx, struct rpc_call *call, json_t *params)
{
	struct pairing_service *svc = service(ctx, call);
	if (!svc)
		return 0;
	json_t *v = json_object_get(params, "expires_s");
	json_int_t exp = v ? json_integer_value(v) : PAIRING_SVC_DEFAULT_LIFETIME_S;
	struct errmsg e = {{0}};
	struct pairing_generated g;
	int r = exp < PAIRING_SVC_MIN_LIFETIME_S || exp > PAIRING_SVC_MAX_LIFETIME_S
	                ? errmsg_set(&e, -EINVAL, "expires_s must be between %d and %d seconds",
	                             PAIRING_SVC_MIN_LIFETIME_S, PAIRING_SVC_MAX_LIFETIME_S)
	                : pairing_service_generate(svc, (uint32_t)exp, &g, &e);
	if (r < 0) {
		answer_error(call,
		             r == -EINVAL  ? JSONRPC_INVALID_PARAMS
		             : r == -EBUSY ? JSONRPC_BUSY
		                           : JSONRPC_INTERNAL_ERROR,
		             r == -EBUSY ? "busy" : "failed", e.text);
		return 0;
	}
	json_t *res = json_pack("{s:s, s:I, s:s, s:b}", "code", g.words, "expires_in",
	                        (json_int_t)g.expires_in_s, "session_id", g.session_id,
	                        "advertised", g.advertised);
	crypto_wipe(g.words, sizeof(g.words));
	if (!res)
		return -ENOMEM;
	rpc_call_reply(call, res);
	return 0;
}

/* ---- pairing.join ------------------------------------------------------- */

struct join_call {
	struct node *n;
	struct rpc_call *call;
	struct rpc_client *client;
	char session_id[PAIRING_SESSION_ID_LEN + 1];
};

static void client_gone(void *userdata, struct rpc_client *c);

static void join_call_free(struct join_call *j)
{
	if (j->client)
		rpc_client_off_close(j->client, client_gone, j);
	free(j);
}

static const char *join_reason(int err)
{
	switch (err) {
	case -ENOKEY:
	case -EACCES:
		return "wrong_code";
	case -ETIME:
		return "expired";
	case -EALREADY:
		return "code_used";
	case -EAGAIN:
		return "rate_limited";
	case -ETIMEDOUT:
		return "timeout";
	case -ECANCELED:
		return "cancelled";
	case -ECONNREFUSED:
	case -EHOSTUNREACH:
	case -ENETUNREACH:
	case -ENOPROTOOPT:
	case -EPERM:
		return "unreachable";
	default:
		return "failed";
	}
}

static int join_code(int err)
{
	switch (err) {
	case -EAGAIN:
		return JSONRPC_BUSY;
	case -ETIMEDOUT:
		return JSONRPC_TIMEOUT;
	case -EALREADY:
		return JSONRPC_CONFLICT;
	default:
		return JSONRPC_PEER_ERROR;
	}
}

static void join_done(void *ctx, const char *session_id, int err, const char *msg,
                      const struct device *dev)
{
	struct join_call *j = ctx;
	if (err == 0 && dev) {
		json_t *d = pairing_service_device_json(j->n->pairing->service, dev);
		rpc_call_reply(j->call,
		               json_pack("{s:s, s:o}", "session_id", session_id, "device", d));
	} else {
		answer_error(j->call, join_code(err), join_reason(err),
		             msg && *msg ? msg : "pairing failed");
	}
	join_call_free(j);
}

static void client_gone(void *userdata, struct rpc_client *c)
{
	struct join_call *j = userdata;
	j->client = NULL;
	/* Answering a dead call frees it. */
	rpc_call_error(j->call, JSONRPC_INTERNAL_ERROR, "client gone", NULL);
	pairing_service_cancel_join(j->n->pairing->service, j->session_id);
	join_call_free(j);
}

static int join_param_error(struct rpc_call *call, int r, const char *text)
{
	const char *reason = r == -ENOTSUP ? "peer_required"
	                     : r == -EBUSY ? "busy"
	                                   : "invalid_code";
	if (r == -EINVAL && strncmp(text, "peer:", 5) == 0)
		reason = "invalid_peer";
	answer_error(call,
	             r == -EBUSY                 ? JSONRPC_BUSY
	             : r == -ENOMEM || r == -EIO ? JSONRPC_INTERNAL_ERROR
	                                         : JSONRPC_INVALID_PARAMS,
	             reason, text);
	return 0;
}

static int run_join(void *ctx, struct rpc_call *call, json_t *params)
{
	struct node *n = ctx;
	struct pairing_service *svc = service(n, call);
	if (!svc)
		return 0;
	const char *code = json_string_value(json_object_get(params, "code"));
	const char *peer = json_string_value(json_object_get(params, "peer"));
	struct join_call *j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	j->n = n;
	j->call = call;
	j->client = rpc_call_client(call);
	struct errmsg e = {{0}};
	int r = pairing_service_join(svc, code, peer, join_done, j, j->session_id, &e);
	if (r < 0) {
		free(j);
		return join_param_error(call, r, e.text);
	}
	if (j->client && rpc_client_on_close(j->client, client_gone, j) < 0)
		j->client = NULL; /* the join still answers; only Ctrl-C is not noticed */
	return 0;
}

/* ---- pairing.status, pairing.cancel, devices.list ----------------------- */

static int run_status(void *ctx, struct rpc_call *call, json_t *params)
{
	struct pairing_service *svc = service(ctx, call);
	if (!svc)
		return 0;
	json_t *a = pairing_service_status_json(svc);
	json_t *r = a ? json_pack("{s:o}", "sessions", a) : NULL;
	if (!r)
		return -ENOMEM;
	rpc_call_reply(call, r);
	return 0;
}

static int run_cancel(void *ctx, struct rpc_call *call, json_t *params)
{
	struct pairing_service *svc = service(ctx, call);
	if (!svc)
		return 0;
	const char *id = json_string_value(json_object_get(params, "session_id"));
	struct errmsg e = {{0}};
	int r = pairing_service_cancel(svc, id, &e);
	if (r < 0) {
		answer_error(call, r == -ENOENT ? JSONRPC_NOT_FOUND : JSONRPC_CONFLICT,
		             r == -ENOENT ? "unknown_session" : "ended", e.text);
		return 0;
	}
	rpc_call_reply(call, json_pack("{s:s, s:s}", "session_id", id, "state", "cancelled"));
	return 0;
}

static int run_devices_list(void *ctx, struct rpc_call *call, json_t *params)
{
	struct pairing_service *svc = service(ctx, call);
	if (!svc)
		return 0;
	json_t *a = pairing_service_devices_json(svc);
	json_t *r = a ? json_pack("{s:o}", "devices", a) : NULL;
	if (!r)
		return -ENOMEM;
	rpc_call_reply(call, r);
	return 0;
}

static const struct rpc_param generate_params[] = {
        {"expires_s", RPC_PARAM_INT, false},
        {0},
};

static const struct rpc_param join_params[] = {
        {"code", RPC_PARAM_STRING, true},
        {"peer", RPC_PARAM_STRING, false},
        {0},
};

static const struct rpc_param cancel_params[] = {
        {"session_id", RPC_PARAM_STRING, true},
        {0},
};

const struct rpc_method rpc_pairing_methods[] = {
        {"pairing.generate", generate_params, run_generate},
        {"pairing.join", join_params, run_join},
        {"pairing.status", NULL, run_status},
        {"pairing.cancel", cancel_params, run_cancel},
        {"devices.list", NULL, run_devices_list},
        {0},
};
