/* events.subscribe / events.unsubscribe: which event notifications a client
 * gets. The filter is a list of kinds; "pairing.*" matches every kind that
 * starts with "pairing.". No filter means every kind. The filter lives on
 * the client and dies with it; rpc_server_emit() asks rpc_events_match(). */
#include "rpc-internal.h"

#include <errno.h>
#include <string.h>

static bool kind_matches(const char *pattern, const char *kind)
{
	size_t n = strlen(pattern);
	if (n >= 2 && strcmp(pattern + n - 2, ".*") == 0)
		return strncmp(pattern, kind, n - 1) == 0;
	return strcmp(pattern, kind) == 0;
}

bool rpc_events_match(const struct rpc_client *c, const char *kind)
{
	if (!c->subscribed || c->draining || c->closed)
		return false;
	if (!c->event_kinds)
		return true;
	size_t i;
	json_t *k;
	json_array_foreach(c->event_kinds, i, k)
	{
		if (kind_matches(json_string_value(k), kind))
			return true;
	}
	return false;
}

/* Name the first bad entry, so the caller can fix it. */
static int kinds_check(json_t *kinds, struct errmsg *why)
{
	if (json_array_size(kinds) > RPC_MAX_EVENT_KINDS)
		return errmsg_set(why, -EINVAL, "kinds has %zu entries (limit %d)",
		                  json_array_size(kinds), RPC_MAX_EVENT_KINDS);
	size_t i;
	json_t *k;
	json_array_foreach(kinds, i, k)
	{
		if (!json_is_string(k))
			return errmsg_set(why, -EINVAL, "kinds[%zu] must be a string", i);
		size_t n = json_string_length(k);
		if (n == 0 || n > RPC_MAX_EVENT_KIND_LEN)
			return errmsg_set(why, -EINVAL,
			                  "kinds[%zu] must be 1 to %d characters, like "
			                  "\"pairing.*\"",
			                  i, RPC_MAX_EVENT_KIND_LEN);
	}
	return 0;
}

static int run_subscribe(void *ctx, struct rpc_call *call, json_t *params)
{
	struct rpc_client *c = rpc_call_client(call);
	json_t *kinds = json_object_get(params, "kinds");
	struct errmsg why;
	if (kinds && kinds_check(kinds, &why) < 0) {
		rpc_call_errorf(call, JSONRPC_INVALID_PARAMS, "Invalid params: %s", why.text);
		return 0;
	}
	json_decref(c->event_kinds);
	c->event_kinds = json_incref(kinds);
	c->subscribed = true;
	rpc_call_reply(call, json_pack("{s:b, s:O?}", "subscribed", 1, "kinds", kinds));
	return 0;
}

static int run_unsubscribe(void *ctx, struct rpc_call *call, json_t *params)
{
	struct rpc_client *c = rpc_call_client(call);
	json_decref(c->event_kinds);
	c->event_kinds = NULL;
	c->subscribed = false;
	rpc_call_reply(call, json_pack("{s:b}", "subscribed", 0));
	return 0;
}

static const struct rpc_param subscribe_params[] = {
        {"kinds", RPC_PARAM_ARRAY, false},
        {0},
};

const struct rpc_method rpc_events_methods[] = {
        {"events.subscribe", subscribe_params, run_subscribe},
        {"events.unsubscribe", NULL, run_unsubscribe},
        {0},
};
